/* odc-agent internals shared by its modules: the configuration, the loader
 * runner and the health gate. One header for the daemon, as relayd does. */
#ifndef ODC_AGENT_AGENT_H
#define ODC_AGENT_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "common/spawn.h"
#include "proto/proto.h"

#define AGENT_VERSION     "0.1.0"
#define AGENT_MAX_ROOTS   8
#define AGENT_MAX_LABELS  32
#define AGENT_MAX_TRUSTED 16
#define AGENT_MAX_BINDS   16

/* Steps of the rollback plan, in order. */
enum agent_step {
	STEP_PREFLIGHT,
	STEP_STOP,
	STEP_SNAPSHOT,
	STEP_RESTORE,
	STEP_START,
	STEP_HEALTH,
	STEP_COUNT
};

struct agent_conf {
	struct config *cfg; /* owns every string below */
	const char *path;

	/* [agent] */
	const char *host_id;
	struct config_label labels[AGENT_MAX_LABELS];
	size_t n_labels;
	const char *state_dir;
	const char *log_level;

	/* [keys], [trust], [coordinator]: only the daemon needs them. */
	const char *secret_key;
	uint8_t operators[AGENT_MAX_TRUSTED][PROTO_PK_LEN];
	size_t n_operators;
	uint8_t coordinators[AGENT_MAX_TRUSTED][PROTO_PK_LEN];
	size_t n_coordinators;
	/* [trust] backups: other agents whose signed backup manifests this one
	 * accepts as its own (manifest.h); any mode may use it. */
	uint8_t backup_signers[AGENT_MAX_TRUSTED][PROTO_PK_LEN];
	size_t n_backup_signers;
	const char *coordinator_endpoint;
	uint8_t coordinator_key[PROTO_PK_LEN];
	bool has_coordinator;
	uint64_t reconnect_max_ms; /* the DEALER's reconnect backoff ceiling */
	uint64_t ping_ms;          /* ZMTP ping interval; silent after 3 of them */

	/* [docker] */
	const char *docker_socket;
	const char *container;
	const char *repository;
	uint64_t stop_timeout_ms;
	uint64_t api_timeout_ms;

	/* [metadb] */
	const char *db_host;
	uint64_t db_port;
	const char *db_user;
	const char *db_tenant;
	const char *db_cluster;
	const char *db_password_file;
	const char *db_name;
	uint64_t db_timeout_ms;

	/* [loader] */
	const char *obloader;
	const char *obdumper;
	uint64_t loader_threads;

	/* [paths] */
	const char *backup_roots[AGENT_MAX_ROOTS];
	size_t n_backup_roots;
	const char *snapshot_root;

	/* [retention]: what prune (prune.h) leaves of the rollbacks' kept
	 * containers and safety snapshots, per container name */
	uint64_t retention_keep;       /* the newest rollbacks whose leftovers stay */
	uint64_t retention_max_age_ms; /* older ones go even within keep; 0: no limit */

	/* [deadlines], per step */
	uint64_t deadline_ms[STEP_COUNT];
	uint64_t job_deadline_ms;

	/* [health] */
	const char *health_url;
	uint64_t health_interval_ms;

	/* [defaults]: the container spec when no container exists */
	uint64_t def_memory;
	uint64_t def_cpu_period;
	uint64_t def_cpu_quota;
	const char *def_network;
	const char *def_profile_mode;
	const char *def_binds[AGENT_MAX_BINDS + 1];
	size_t n_def_binds;

	/* storage for list and label values */
	char store[12288];
};

/* Loads path and checks its values, recording every problem in c->cfg as
 * "file:line: section.key: what is wrong" (config.h, "Problems"). Returns 0,
 * or -1 with the first problem in err; either way c is the caller's to free
 * with agent_conf_free(), and after a -1 config_report(stderr, c->cfg, path,
 * err) shows them all (c->cfg is NULL when the file could not be parsed). */
int agent_conf_load(const char *path, struct agent_conf *c, char *err, size_t errlen);

/* After a load, checks what the values name, as the user running it: the
 * secret key file (present, a valid key, mode 0600 or stricter), the
 * coordinator endpoint's host (resolves), the metadb password file
 * (agent_read_password's checks, and not empty), the loaders (executable),
 * state_dir, snapshot_root and each backup root (directories this user can
 * write, or can make). Daemon mode's keys ([keys] secret_key, [trust]
 * operators and coordinators, [coordinator] endpoint and public_key) are
 * required with AGENT_CHECK_DAEMON or when any of them is set. Problems are
 * recorded as agent_conf_load's are; returns 0, or -1 with the first
 * problem of the whole configuration in err. */
#define AGENT_CHECK_DAEMON 1u
int agent_conf_check(struct agent_conf *c, unsigned flags, char *err, size_t errlen);
void agent_conf_free(struct agent_conf *c);

/* The metadb password from password_file: the file's first line, without
 * its newline; the file must not be group/world readable. Returns a
 * sodium_malloc'd string the caller frees with agent_secret_free(), or NULL
 * with a message. An empty password is allowed. */
char *agent_read_password(const struct agent_conf *c, char *err, size_t errlen);
void agent_secret_free(char *s);

/* Connects to the metadb [metadb] names with password (the login made of
 * user, tenant and cluster). NULL with a message ("metadb unreachable: ..."
 * style, naming host:port) in err. */
struct metadb;
struct metadb *agent_metadb_open(const struct agent_conf *c, const char *password, char *err,
                                 size_t errlen);

/* Makes the directory path and any missing parent (each created 0700, as
 * `mkdir -p` would), so that a fresh host configured as the example says
 * needs nothing made by hand. Returns 0 when path is a directory, else -1
 * with a message naming the path. */
int agent_dir_ensure(const char *path, char *err, size_t errlen);

/* True when path (already normalised by the protocol's rules) lies inside
 * one of the backup roots, also after resolving symlinks. */
bool agent_path_in_roots(const struct agent_conf *c, const char *path, char *err, size_t errlen);

/* For a DISPATCH: path is under a backup root as written, and, when it
 * exists, also after resolving symlinks. A missing path passes (preflight
 * reports it). */
bool agent_path_allowed(const struct agent_conf *c, const char *path, char *err, size_t errlen);

/* ---- loader.c: obloader/obdumper through the spawn helper ---- */

struct loader_run {
	struct spawn_result sr;
	char cmdline[1024];    /* redacted: the password is never in it */
	char error_tail[4096]; /* tail of logs/ob-loader-dumper.error */
	char out_tail[2048];   /* tail of stdout+stderr */
	char workdir[4096];    /* where it ran and wrote its logs */
};

/* Dump the metadb into dir (must not exist or be empty) with --ddl --csv
 * --all --no-sys --thread N / load the data of the backup in dir into the
 * metadb's existing tables with --csv --all --no-sys --thread N
 * --max-errors 0 --max-discards 0 (and --skip-header when the backup's data
 * files start with one: said explicitly, since without its MANIFEST.bin the
 * tool would load the header as a row). Each run gets a fresh working
 * directory under state_dir/runs/<job>/<what>, and the tool's logs go to
 * its logs/ (--log-path): never into the backup. Returns 0 when the tool
 * exited 0 (which for a load proves nothing: the caller verifies), 1 when
 * it failed (see run), -1 when it could not be run at all (message in
 * err). */
int loader_dump(const struct agent_conf *c, const char *password, const char *job, const char *what,
                const char *dir, uint64_t deadline_ms, struct loader_run *run, char *err,
                size_t errlen);
int loader_load(const struct agent_conf *c, const char *password, const char *job, const char *what,
                const char *dir, bool skip_header, uint64_t deadline_ms, struct loader_run *run,
                char *err, size_t errlen);
void loader_run_free(struct loader_run *run);

/* ---- health.c: ODC's HTTP health endpoints through libcurl ---- */

struct health_state {
	bool reachable;   /* something answered HTTP */
	bool healthy;     /* /api/v1/heartbeat/isHealthy said data: true */
	char version[33]; /* /api/v1/info data.version, "" when unknown */
	char detail[256]; /* why not healthy, for people */
};

/* One probe of base_url (e.g. http://127.0.0.1:8989), each request bounded
 * by timeout_ms and its body by 64 KiB. Never fails: the state says what
 * was seen. */
void health_probe(const char *base_url, uint64_t timeout_ms, struct health_state *st);

/* Probe every interval_ms until healthy and, when want_version is not
 * NULL/empty, reporting a version that belongs to it (version.h), or until
 * deadline_ms (from now). progress, when not NULL, is called after each
 * probe. Returns 0 when the gate passed, 1 at the deadline. */
int health_wait(const char *base_url, const char *want_version, uint64_t deadline_ms,
                uint64_t interval_ms, struct health_state *st,
                void (*progress)(void *ctx, const struct health_state *st), void *ctx);

#endif
