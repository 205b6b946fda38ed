/* odc-coordinator internals shared by its modules: the registry of hosts,
 * jobs and their rollout state, and the event loop's context. One header
 * for the daemon, as relayd does. Everything runs on one thread.
 *
 * The files call each other in layers, each only into the layers below it
 * (never around a circle; make lint checks it, and
 * tests/tools/structure.py --graph prints them), lowest first:
 *   1. conf, map, store (store-*.c: hosts, jobs, results, audit), jobstate,
 *      registry-status, metrics-count, control-socket: leaves
 *   2. turn: the loop turn's sends, ACKs, audit rows and transaction;
 *      notify-format (the bodies per webhook format); notify (the delivery
 *      thread)
 *   3. deploy: deployments, fed by the registry; view (the store's rows as
 *      the control socket's JSON)
 *   4. registry; metrics-text (reads hosts and deployments)
 *   5. jobs-view (a job's JSON, the releases it started from); metrics (the
 *      HTTP server)
 *   6. jobs: admission, dispatch; jobs-intake (what agents answer), above it
 *   7. rollout, transport (the agents' ROUTER)
 *   8. control (the control requests)
 *   9. main: start-up, the loop, shut-down
 * A lower layer never calls up, not even through a function pointer: what
 * it needs from above is passed down as arguments. */
#ifndef ODC_COORDINATOR_COORD_H
#define ODC_COORDINATOR_COORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/keys.h"
#include "coordinator/conf.h"
#include "coordinator/map.h"
#include "coordinator/store.h"
#include "proto/proto.h"

#define COORD_VERSION         "0.1.0"
#define COORD_ZAP_ENDPOINT    "inproc://zeromq.zap.01"
#define COORD_ZAP_AGENTS      "odc-fleet"
#define COORD_ZAP_CONTROL     "odc-control"
#define COORD_RID_MAX         256
#define COORD_TICK_MS         250
#define COORD_DISPATCH_TRIES  3
#define COORD_NOTIFY_GRACE_MS 2000 /* webhook deliveries' time at shutdown */

enum host_status { HOST_NEVER, HOST_ONLINE, HOST_LOST };

/* A deployment: the hosts whose ODC containers use one metadb (deploy.c).
 * Exists while it has a node; the nodes are sorted by host id. */
struct deployment {
	char id[15]; /* "d-" and 12 hex digits of the identity's hash */
	char *host, *tenant, *cluster, *database;
	uint64_t port;
	struct host **nodes;
	size_t n, cap;
};

/* One enrolled host (accepted or revoked); never freed while running. */
struct host {
	char id[PROTO_ID_MAX + 1];
	uint8_t pk[PROTO_PK_LEN];
	uint8_t curve[32];
	char fingerprint[KEYS_FINGERPRINT_SIZE];
	bool revoked;
	uint64_t accepted_ms, revoked_ms;

	/* What the agent said last. */
	enum host_status status;
	bool seen_before;           /* seen by an earlier coordinator life (store) */
	uint8_t rid[COORD_RID_MAX]; /* routing id of its latest connection */
	size_t rid_len;
	bool welcomed;
	uint64_t last_beat_ms;   /* wall clock, for display */
	uint64_t last_beat_mono; /* for the lost window */
	bool has_incarnation;
	uint8_t incarnation[PROTO_INCARN_LEN];
	uint64_t restarts;
	char agent_version[33];
	char address[64];
	json_t *labels; /* object, never NULL */
	/* The latest HEARTBEAT body as received (checked when it arrived),
	 * decoded only when a `hosts` reply shows it: a beat costs a copy. */
	uint8_t *beat;
	size_t beat_len, beat_cap;

	/* The deployment its container's metadb puts it in; NULL until a beat
	 * (or the store) said which metadb that is. */
	struct deployment *dep;
	/* What its latest rollback check found at that job's backup path:
	 * {path, here, version, job, at_ms} (deploy.c); NULL when none said. */
	json_t *backup;

	/* The one active job this host belongs to (jobs never overlap). */
	struct job *active;
	size_t active_idx;
};

/* A job's state, its stage and its targets' states are the control
 * socket's (proto/proto.h, PROTOCOL.md 9.1: their words and which are
 * final live there); these are the coordinator's names for the same values. */
enum job_state {
	JOB_RUNNING = PROTO_JOB_RUNNING,
	JOB_PAUSED = PROTO_JOB_PAUSED,
	JOB_SUCCEEDED = PROTO_JOB_SUCCEEDED,
	JOB_FAILED = PROTO_JOB_FAILED,
	JOB_HALTED = PROTO_JOB_HALTED,
	JOB_ABORTED = PROTO_JOB_ABORTED
};
enum job_stage {
	STAGE_QUORUM = PROTO_STAGE_QUORUM,
	STAGE_PREFLIGHT = PROTO_STAGE_PREFLIGHT,
	STAGE_CANARY = PROTO_STAGE_CANARY,
	STAGE_BATCHES = PROTO_STAGE_BATCHES,
	STAGE_DONE = PROTO_STAGE_DONE
};
enum jh_state {
	JH_PENDING = PROTO_HOST_PENDING,
	JH_PREFLIGHT = PROTO_HOST_PREFLIGHT,
	JH_READY = PROTO_HOST_READY,
	JH_RUNNING = PROTO_HOST_RUNNING,
	JH_SUCCEEDED = PROTO_HOST_SUCCEEDED,
	JH_FAILED = PROTO_HOST_FAILED,
	JH_SKIPPED = PROTO_HOST_SKIPPED,
	JH_UNREACHABLE = PROTO_HOST_UNREACHABLE,
	JH_COUNT = PROTO_HOST_STATES
};

/* One target of a job. */
struct job_host {
	char host[PROTO_ID_MAX + 1];
	uint64_t order;
	/* Its rollout unit (rollback, undo): the hosts of one deployment are
	 * one unit, dispatched together and counted once by the canary, the
	 * batches, the budget. unit is the order of the unit's first target;
	 * unit_next the next target of the unit, or SIZE_MAX. */
	size_t unit, unit_next;
	char role[8]; /* "", canary, batch */
	uint64_t batch;
	enum jh_state state;
	char phase[10]; /* "", preflight, run, revert */
	char step[33];
	char failed_step[33];
	char message[1025];
	uint64_t updated_ms;
	/* The expires_ms of the latest DISPATCH while the agent has not
	 * acknowledged it (no ACK, PROGRESS or RESULT yet), else 0. Stored: a
	 * job that ended while a dispatch was unanswered sends nothing more and
	 * waits until that dispatch is dead (jobs_dispatch_dead) to call the host
	 * unreachable, across coordinator restarts too. */
	uint64_t dispatch_expires_ms;
	/* Its automatic revert (an action with a revert phase, rollout.c): sent
	 * to every node of a unit that failed once the unit's run phase is over,
	 * whatever the job's state; what it did, or why it was not done. */
	enum proto_revert revert;
	char revert_message[1025];

	/* Not stored: the dispatch in flight and the step deadline. */
	bool awaiting_ack;
	uint8_t nonce[PROTO_NONCE_LEN];
	int tries;
	uint64_t sent_mono;
	uint64_t activity_mono;
	uint64_t revert_due_mono; /* when its revert fell due while it was offline */
	bool dirty;               /* changed since last written to the store */
	bool shown;               /* changed only in what is shown (PROGRESS), not stored */
	uint64_t version;         /* the job's version when this host last changed */
};

/* A release the targets' containers were on when a job was admitted. */
#define JOB_FROM_MAX 4
struct job_from {
	char tag[130];
	size_t hosts;
};

struct job {
	char id[PROTO_ID_MAX + 1];
	struct proto_msg *jm; /* the decoded JOB; owns its strings */
	int action_idx;       /* its row in the action table */
	bool dry_run;         /* dry_run=true */
	bool changes;         /* may change its hosts: not read-only, not a dry run */
	/* The releases of the targets' containers at admission (their latest
	 * heartbeats), most hosts first; from_more: hosts on other releases,
	 * from_unknown: hosts whose release no beat said. Not stored: a job
	 * resumed from the store knows none (n_from 0, from_unknown 0). */
	struct job_from from[JOB_FROM_MAX];
	size_t n_from, from_more, from_unknown;
	uint8_t *body;
	size_t body_len;
	uint8_t sig[PROTO_SIGFRAME_LEN];
	uint8_t *targets; /* the JOB's target list frame, as received */
	size_t targets_len;
	struct proto_merkle *tree; /* of the targets, for DISPATCH proofs; built at first use */
	char signer[KEYS_FINGERPRINT_SIZE];
	uint64_t submitted_ms, deadline_ms, ended_ms;
	enum job_state state;
	enum job_stage stage;
	uint64_t batch;
	char message[1025];
	bool has_preflight;
	struct job_host *hosts;
	size_t n;
	size_t n_units;
	size_t counts[JH_COUNT];
	bool dirty;
	bool loaded; /* a read-only copy loaded from the store for a reply */
	bool done;   /* final state and nothing in flight: leaves memory */
	bool poked;  /* an agent message changed it: step it at the end of the turn */
	/* Change versions (co->version_clock) for `job` requests that wait:
	 * base when it came into this process's memory, version at its latest
	 * change. */
	uint64_t base, version;
	struct job *next;
};

/* Counters since this process started, for the metrics endpoint
 * (metrics.c): plain integers bumped where the event happens. */
#define COORD_TYPE_SLOTS 64 /* message type codes are below 0x40 */
enum coord_sock { COORD_SOCK_AGENTS, COORD_SOCK_CONTROL, COORD_SOCK_COUNT };
/* Why a message was dropped before its handler: a PROTO_E_* code, or this
 * (its connection's key has since been revoked or replaced). */
#define COORD_REJECT_NOT_ENROLLED (PROTO_E_MAX + 1)
#define COORD_REJECT_SLOTS        (PROTO_E_MAX + 2)
/* Why the ZAP handler refused a connection. */
enum coord_refusal {
	COORD_REFUSED_UNKNOWN_KEY, /* not an enrolled agent / operator key */
	COORD_REFUSED_REVOKED,
	COORD_REFUSED_NO_CURVE,
	COORD_REFUSED_COUNT
};
/* A Prometheus histogram of durations: counts per bucket (not cumulative;
 * the last is +Inf) and the sum in milliseconds. The bounds are
 * metrics_hist_bounds_ms (metrics-count.c). */
#define COORD_HIST_BUCKETS 14
struct coord_hist {
	uint64_t bucket[COORD_HIST_BUCKETS + 1];
	uint64_t sum_ms, count;
};
struct coord_stats {
	uint64_t started_ms;                 /* wall clock */
	uint64_t received[COORD_TYPE_SLOTS]; /* through the receive procedure, by type code */
	uint64_t sent[COORD_TYPE_SLOTS];     /* by type code */
	uint64_t unsent[COORD_TYPE_SLOTS];   /* the peer was gone or its queue full */
	uint64_t rejected[COORD_SOCK_COUNT][COORD_REJECT_SLOTS];
	uint64_t refused[COORD_SOCK_COUNT][COORD_REFUSED_COUNT];
	uint64_t jobs_submitted;            /* admitted */
	uint64_t job_hosts_ended[JH_COUNT]; /* by final host state */
	/* Ended jobs by action row, dry run or not, final state: a count, and
	 * their durations (submitted to ended) in a histogram. */
	uint64_t jobs_ended[PROTO_ACTIONS_MAX][2][JOB_ABORTED + 1];
	struct coord_hist job_duration[PROTO_ACTIONS_MAX][2][JOB_ABORTED + 1];
	/* Steps' durations (RESULT.duration_ms) by action row and step, in the
	 * order of proto_action_steps(). */
	struct coord_hist step_duration[PROTO_ACTIONS_MAX][PROTO_ACTION_STEPS_MAX];
	/* Targets' automatic reverts by the state they entered: due (called
	 * for), ok, failed (jobs_host_revert). */
	uint64_t reverts[PROTO_REVERTS];
};

/* The daemon: sockets, keys, registry, active jobs. */
struct coord {
	struct coord_conf *conf;
	struct keys_pair *kp;
	uint8_t curve_pk[32];
	struct store *store;
	void *zctx;
	void *router; /* agents */
	void *zap;
	void *mon; /* the ROUTER's connection events */
	void *ctl_ipc;
	void *ctl_tcp;           /* NULL when not configured */
	struct map *hosts;       /* id -> struct host */
	struct map *curves;      /* X25519 key -> struct host */
	struct map *deployments; /* metadb identity -> struct deployment */
	struct job *jobs;        /* active jobs (running, paused, or with hosts in flight) */
	struct map *job_map;     /* id -> struct job (active ones) */
	/* RESULT ACKs wait for the loop turn's commit. */
	struct pending_send *acks;
	size_t n_acks, cap_acks;
	bool stopping;
	uint64_t started_mono; /* agents reconnect within one lost window of a (re)start */
	/* Job change versions: starts at the start time in µs, so a version of
	 * an earlier life of the coordinator is always older. */
	uint64_t version_clock;
	struct waiter *waiters; /* `job` requests waiting for a change */
	size_t n_waiters;
	struct coord_stats stats;
	struct metrics *metrics; /* NULL when [metrics] listen is empty */
	struct notify *notify;   /* webhooks; NULL when none is configured */
};

/* turn.c: the loop turn's sends, held ACKs and audit rows. */
/* Sends frames (header, body[, sig]) to the peer with routing id rid on
 * sock. Returns 0, or -1 (the peer is gone, or the queue is full). */
int coord_send(void *sock, const uint8_t *rid, size_t rid_len, const struct proto_frames *f);
/* Encodes m (signing with the coordinator's key when it is a signed type)
 * and sends it. */
int coord_send_msg(struct coord *co, void *sock, const uint8_t *rid, size_t rid_len,
                   const struct proto_msg *m);
/* Queues a RESULT ACK until the store commit of this loop turn. */
int coord_queue_ack(struct coord *co, const uint8_t *rid, size_t rid_len,
                    const struct proto_msg *m);
/* Writes an audit row, logging (not failing) on error. */
void coord_audit(struct coord *co, const char *who, const char *what, const char *job_id,
                 json_t *hosts, const char *outcome, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
/* Opens the loop turn's transaction when none is open; logs on failure. */
void coord_tx(struct coord *co);
/* Ends the loop turn: commits the store, then sends the ACKs the commit made
 * true (none when it failed: the agents send their results again). */
void coord_flush_turn(struct coord *co);
/* Frees the ACKs still held (at exit). */
void coord_turn_free(struct coord *co);

/* transport.c: the agents' ROUTER and the ZAP handler. */
/* Opens the ZAP handler, the ROUTER (bound to agents.bind) and its monitor
 * in co->zctx, which the caller owns. Returns 0, or -1 with a message in
 * err; transport_close closes what was opened either way. */
int transport_open(struct coord *co, char *err, size_t errlen);
/* Closes the sockets transport_open opened and sets them to NULL; safe
 * when none was. Before the caller terminates the context. */
void transport_close(struct coord *co);
void transport_on_zap(struct coord *co);
void transport_on_router(struct coord *co);
void transport_on_monitor(struct coord *co);

/* registry-status.c: a host's status, from its fields alone. */
/* Whether h can be sent to: accepted, online, with a connection. */
bool registry_online(const struct host *h);
/* "revoked", "online", "lost" or "never" (the `hosts` and metrics word). */
const char *registry_status_name(const struct host *h);

/* registry.c: the enrolled hosts, their keys, hellos, beats and sweeps. */
int registry_load(struct coord *co, char *err, size_t errlen);
void registry_free(struct coord *co);
struct host *registry_host(struct coord *co, const char *id);
/* Accept / revoke, store first, then memory. Return 0, or a PROTO_E_*
 * code with a message in err. */
int registry_accept(struct coord *co, const char *id, const uint8_t pk[PROTO_PK_LEN], bool *changed,
                    char *err, size_t errlen);
int registry_revoke(struct coord *co, const char *id, bool *changed, char *err, size_t errlen);
/* How long a host may stay silent before it is lost: lost_after beat
 * intervals. A live agent beats at most 1.1 intervals apart (its jitter), so
 * only lost_after - 1 beats in a row lost on the way can make a false
 * alarm; the sweep runs every COORD_TICK_MS. */
uint64_t registry_lost_window_ms(const struct coord *co);
void registry_on_hello(struct coord *co, struct host *h, const struct proto_msg *m,
                       const char *address);
void registry_on_heartbeat(struct coord *co, struct host *h, const struct proto_msg *m,
                           const uint8_t *body, size_t len);
void registry_sweep(struct coord *co);
json_t *registry_host_json(const struct coord *co, const struct host *h, uint64_t now_ms);
/* Hosts matching the selector args of a REQUEST (PROTOCOL.md 9.1), sorted by
 * id, accepted only; *n_out set. Returns a malloc'd array (caller frees) or
 * NULL with code/err (VALUE for a bad selector). With no selector and
 * require_selector false, every host (revoked included) is returned. */
struct host **registry_select(struct coord *co, json_t *args, bool require_selector,
                              bool accepted_only, size_t *n_out, int *code, char *err,
                              size_t errlen);

/* deploy.c: deployments, from the metadb each host's heartbeats name. */
/* A beat named md: moves h to md's deployment when it is not there (and
 * stores that); costs field compares when nothing changed. */
void deploy_note(struct coord *co, struct host *h, const struct proto_metadb *md);
/* At load: h joins the deployment of its stored metadb (JSON text, "" for
 * none) and gets its stored backup finding (likewise). 0, or -1 out of
 * memory. */
int deploy_load_host(struct coord *co, struct host *h, const char *metadb_json,
                     const char *backup_json);
/* A rollback check of job_id on h said whether the backup at path is there
 * (PROTOCOL.md 5, backup_on_peer): remembered and stored. */
void deploy_note_backup(struct coord *co, struct host *h, const char *job_id, const char *path,
                        bool here, const char *version);
/* What h's latest rollback check of job_id said of the backup: 1 there, 0
 * not there, -1 nothing (no such check, or it did not say: an agent with
 * nothing to do, an older agent). */
int deploy_backup_said(const struct host *h, const char *job_id);
void deploy_free(struct coord *co);
/* "host:port/database tenant T cluster C", in out. */
const char *deploy_name(const struct deployment *d, char *out, size_t outlen);
/* A release the nodes' containers are of (their latest beats): the first
 * node's image tag, and how many nodes have one of that release. */
struct deploy_release {
	char tag[130];
	const char *first; /* host id */
	size_t nodes;
};
/* The distinct releases of d's containers, at most max in out, in node
 * order: more than one is a mismatch. Returns how many. */
size_t deploy_releases(const struct deployment *d, struct deploy_release *out, size_t max);
/* The same for any hosts (a job's targets); *unknown (when not NULL): the
 * hosts whose release no beat says. Releases past max are not counted. */
size_t deploy_releases_of(struct host *const *hosts, size_t n_hosts, struct deploy_release *out,
                          size_t max, size_t *unknown);
/* The `deployments` view of d (PROTOCOL.md 9.2); NULL out of memory. */
json_t *deploy_json(const struct deployment *d);
/* Every deployment, ordered by its first node's id: a malloc'd array the
 * caller frees (NULL out of memory), *n set. */
struct deployment **deploy_all(const struct coord *co, size_t *n);

/* jobs.c: admission, loading, target states, dispatch. */
/* Admits a JOB already through the control receive procedure (m), whose
 * body and signature frame are fr[1] and fr[2]. Returns 0 with the job
 * summary in *body, or a PROTO_E_* code with a message in err. */
int jobs_submit(struct coord *co, const struct proto_msg *m, const struct proto_frame *fr,
                const char *who, json_t **body, char *err, size_t errlen);
int jobs_load(struct coord *co, char *err, size_t errlen);
void jobs_free(struct coord *co);
struct job *jobs_find(struct coord *co, const char *id);
/* A job from the store (read-only copy, job->loaded), or NULL. */
struct job *jobs_load_one(struct coord *co, const char *id, char *err, size_t errlen);
void job_free(struct job *j);

/* jobs-intake.c: what agents answer. */
void jobs_on_result(struct coord *co, struct host *h, const struct proto_msg *m,
                    const struct proto_frame *fr, const uint8_t *rid, size_t rid_len);
void jobs_on_progress(struct coord *co, struct host *h, const struct proto_msg *m);
void jobs_on_ack(struct coord *co, struct host *h, const struct proto_msg *m);
/* The host said HELLO: dispatch again what it was running for us. */
void jobs_on_hello(struct coord *co, struct host *h);
/* Sends phase of j to target i; false when it could not be sent. Nothing is
 * ever sent for a job that is not running (paused, or ended: PROTOCOL.md
 * 9.2, "What a job sends"), except a revert, which ends a failed unit. */
bool jobs_dispatch(struct coord *co, struct job *j, size_t i, const char *phase);
/* Whether the unacknowledged dispatch of target jh can no longer be accepted
 * by any agent whose clock is within the protocol's skew of ours. */
bool jobs_dispatch_dead(const struct job_host *jh, uint64_t now_ms);
void jobs_host_set(struct coord *co, struct job *j, size_t i, enum jh_state st,
                   const char *failed_step, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* Sets target i's revert to r with its message (NULL: unchanged); a final
 * one (ok, failed) ends what the host was doing for j. */
void jobs_host_revert(struct coord *co, struct job *j, size_t i, enum proto_revert r,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void jobs_persist(struct coord *co, struct job *j);
json_t *jobs_summary_json(const struct job *j);
/* Sets j's from[] (the releases its targets are on now, most hosts first, as
 * their latest beats say), from_unknown and from_more: what a notification
 * calls the versions the job started from (jobs-view.c). */
void jobs_note_from(struct coord *co, struct job *j);
/* The summary and its hosts: every host, or, when since is a version of
 * this job in this process's life, only the hosts changed after it. */
json_t *jobs_detail_json(const struct job *j, uint64_t since);

/* jobstate.c: proto's state words and finality (proto_job_state_name() and
 * the rest) for the coordinator's enums; a name is "?" for a value out of
 * range. *_from_name: the value, or -1 for a name that is none. */
const char *jobstate_name(enum job_state s);
const char *jobstate_stage_name(enum job_stage s);
const char *jobstate_host_name(enum jh_state s);
int jobstate_from_name(const char *s);
int jobstate_stage_from_name(const char *s);
int jobstate_host_from_name(const char *s);
bool jobstate_final(enum job_state s);
bool jobstate_host_final(enum jh_state s);
/* Whether target jh still has work of its job: a phase in flight (not
 * final), or a revert due or running. */
bool jobstate_host_busy(const struct job_host *jh);
/* Its revert's word ("" for none; "?" out of range). */
const char *jobstate_revert_name(enum proto_revert r);
/* Links the targets of each rollout unit (job_host.unit, unit_next) and
 * counts the units (n_units); a unit that does not name a first target of
 * its own stands alone. */
void jobstate_link_units(struct job *j);

/* rollout.c: the state machine, run after every event touching a job and
 * on every tick. */
void rollout_step(struct coord *co, struct job *j);
void rollout_tick(struct coord *co);
/* Steps the jobs agent messages touched during this loop turn: one pass
 * over a job per turn, not per message. */
void rollout_poked(struct coord *co);
int rollout_pause(struct coord *co, struct job *j, const char *who, char *err, size_t errlen);
int rollout_resume(struct coord *co, struct job *j, const char *who, char *err, size_t errlen);
int rollout_abort(struct coord *co, struct job *j, const char *who, char *err, size_t errlen);

/* control-socket.c: control_open binds co->ctl_ipc (and co->ctl_tcp when
 * configured); control_close closes whichever is open and removes the ipc
 * socket file (called once, before the ZeroMQ context ends; safe when
 * control_open failed half way). */
int control_open(struct coord *co, char *err, size_t errlen);
void control_close(struct coord *co);
/* control.c */
void control_on_socket(struct coord *co, void *sock, bool tcp);
/* Answers the `job` requests whose job changed, ended or whose wait is over. */
void control_waiters(struct coord *co);
void control_free(struct coord *co);

/* metrics.c: the Prometheus endpoint ([metrics] listen). libmicrohttpd runs
 * without a thread or a listening socket of its own: metrics.c accepts
 * (bounding connections in all and per client address, evicting the oldest
 * one without a whole request), and one epoll of its own, holding the
 * listening socket and libmicrohttpd's epoll, is one of the loop's poll
 * items; every request is answered on the loop's thread. metrics_open opens
 * the listening socket and the daemon, metrics_close closes both. */
struct buf;
/* Listens when [metrics] listen is set, else does nothing. Returns 0, or
 * -1 with a message in err. */
int metrics_open(struct coord *co, char *err, size_t errlen);
/* Stops listening and frees the server; safe when metrics are off. */
void metrics_close(struct coord *co);
/* The descriptor for the loop to poll for input, or -1 when metrics are
 * off. Lowers *timeout_ms to the server's next deadline. */
int metrics_poll_fd(struct coord *co, long *timeout_ms);
/* Accepts, reads, answers and times out what is ready; never blocks. Called
 * after every poll of the loop. */
void metrics_run(struct coord *co);

/* metrics-text.c: the exposition. */
/* Appends the text exposition format 0.0.4 of co's state to out, which
 * bounds it; now_ms is the wall clock, now_mono the monotonic one. Reads
 * only. Returns 0, or -1 when out's limit or memory ran out. */
int metrics_render(const struct coord *co, uint64_t now_ms, uint64_t now_mono, struct buf *out);
/* Appends s as a label value: backslash, double quote and newline escaped. */
int metrics_label_value(struct buf *out, const char *s);

/* metrics-count.c: the counters in co->stats, for the paths that see the
 * events. Values out of range are not counted. */
/* The upper bounds of the histograms' buckets, in milliseconds. */
extern const uint64_t metrics_hist_bounds_ms[COORD_HIST_BUCKETS];
void metrics_count_received(struct coord *co, int type);
void metrics_count_sent(struct coord *co, int type, bool sent);
void metrics_count_rejected(struct coord *co, enum coord_sock sock, int reason);
void metrics_count_refused(struct coord *co, enum coord_sock sock, enum coord_refusal why);
/* Counts j, which just ended, with its duration (rollout.c's finish). */
void metrics_job_ended(struct coord *co, const struct job *j);
/* Counts a step of action that an agent reported (a RESULT stored for the
 * first time) with its duration; a step not of the action is not counted. */
void metrics_step_result(struct coord *co, const char *action, const char *step,
                         uint64_t duration_ms);

/* notify.c: webhooks on job start, halt and finish (coordinator/README.md,
 * "Notifications"). One delivery thread does the HTTP; everything else
 * here runs on the loop's thread. */
struct notify;
/* Starts the delivery thread when webhooks are configured (co->notify
 * stays NULL when none is). Returns 0, or -1 with a message in err. */
int notify_start(struct coord *co, char *err, size_t errlen);
/* Renders ev of j for each webhook taking it and queues the bodies; never
 * blocks. A halt goes to a webhook without halt as a finish. */
void notify_job(struct coord *co, const struct job *j, enum coord_event ev);
/* Gives what is queued up to grace_ms, then drops the rest (each one
 * logged), ends the thread and frees; sets *n to NULL; NULL is fine. */
void notify_stop(struct notify **n, uint64_t grace_ms);

/* notify-format.c: the pure parts, tested on their own; safe on either
 * thread. */
enum notify_verdict { NOTIFY_OK, NOTIFY_RETRY, NOTIFY_FAIL };
const char *notify_event_name(enum coord_event ev);
/* Whether event ev of j is sent at all: a job that changes nothing (a
 * read-only action or a dry run, proto_action_changes) sends its start and
 * an end that is not a failure, never a halt or a failed or halted finish. */
bool notify_wanted(const struct job *j, enum coord_event ev);
/* The event a webhook taking events (COORD_EVENT_BIT()s) is sent for ev, or
 * -1 for none. */
int notify_event_for(unsigned events, enum coord_event ev);
/* The generic body of ev for j; the caller owns it (NULL: out of memory). */
json_t *notify_event_json(enum coord_event ev, uint64_t now_ms, const char *coord_id,
                          const struct job *j);
/* The body a webhook of format is sent for a generic body; malloc'd. */
char *notify_render(enum coord_webhook_format format, const json_t *ev);
/* DingTalk's sign= value: URL-encoded Base64 of HMAC-SHA256(secret,
 * "ts_ms\nsecret"); and url with timestamp= and sign= added. 0 or -1 (no room). */
int notify_dingtalk_sign(const char *secret, uint64_t ts_ms, char *out, size_t outlen);
int notify_dingtalk_url(const char *url, const char *secret, uint64_t ts_ms, char *out,
                        size_t outlen);
/* What an HTTP answer means for a delivery, with why set ("HTTP 500: ..."). */
enum notify_verdict notify_judge(enum coord_webhook_format format, long status, const char *body,
                                 char *why, size_t whylen);
/* The delay before retry number retry (1, 2...): first_ms doubling up to
 * max_ms, less up to a quarter of it chosen by rnd. */
uint64_t notify_backoff_ms(uint64_t first_ms, uint64_t max_ms, unsigned retry, uint32_t rnd);

#endif
