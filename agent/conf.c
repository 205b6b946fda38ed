/* odc-agent's configuration file: every key known, typed and checked at
 * start, every problem reported as file:line: section.key: what. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "agent/agent.h"
#include "agent/metadb.h"
#include "common/file.h"
#include "common/keys.h"

static const char *const known_keys[] = {
    "agent.host_id",
    "agent.labels",
    "agent.state_dir",
    "agent.log_level",
    "keys.secret_key",
    "trust.operators",
    "trust.coordinators",
    "trust.backups",
    "coordinator.endpoint",
    "coordinator.public_key",
    "coordinator.reconnect_max",
    "coordinator.ping",
    "docker.socket",
    "docker.container",
    "docker.repository",
    "docker.stop_timeout",
    "docker.api_timeout",
    "metadb.host",
    "metadb.port",
    "metadb.user",
    "metadb.tenant",
    "metadb.cluster",
    "metadb.password_file",
    "metadb.database",
    "metadb.timeout",
    "loader.obloader",
    "loader.obdumper",
    "loader.threads",
    "paths.backup_roots",
    "paths.snapshot_root",
    "deadlines.preflight",
    "deadlines.stop",
    "deadlines.snapshot",
    "deadlines.restore",
    "deadlines.start",
    "deadlines.health",
    "deadlines.job",
    "health.url",
    "health.interval",
    "defaults.memory",
    "defaults.cpu_period",
    "defaults.cpu_quota",
    "defaults.network",
    "defaults.profile_mode",
    "defaults.binds",
    "retention.keep",
    "retention.max_age",
    NULL,
};

static int agent_conf_result(const struct agent_conf *c, char *err, size_t errlen);

/* c->store holds the list-valued keys' items, in these slices. */
#define STORE_LABELS 0
#define STORE_TRUST  (sizeof(((struct agent_conf *)0)->store) / 4) /* 3 of 2048 */
#define STORE_ROOTS  (STORE_TRUST + 3 * 2048)                      /* 1024 */
#define STORE_BINDS  (STORE_ROOTS + 1024)                          /* the rest */

/* Trusted keys from a comma-separated list; every bad item is a problem. */
static void
keys_from_list(const struct config *f, const char *section, const char *key,
               uint8_t out[][PROTO_PK_LEN], size_t *n, char *store, size_t storelen)
{
	const char *items[AGENT_MAX_TRUSTED];
	size_t count = 0, good = 0;
	char kerr[160];

	if (config_get_list(f, section, key, "", items, AGENT_MAX_TRUSTED, &count, store, storelen,
	                    NULL, 0) < 0)
		return;
	for (size_t i = 0; i < count; i++) {
		if (keys_parse_public(items[i], out[good], kerr, sizeof(kerr)) != 0)
			config_problem(f, section, key, "item %zu: %s", i + 1, kerr);
		else
			good++;
	}
	*n = good;
}

/* The checks of config_field rows (config.h): each records its own problems
 * about section.key; obj is the struct agent_conf being loaded. */

static void
check_host_id(const struct config *f, const char *s, const char *k, const char *v, void *obj)
{
	(void)obj;
	if (!proto_valid_id(v))
		config_problem(
		    f, s, k, "not a valid host id (1-64 of [A-Za-z0-9._-], starting alphanumeric)");
}

static void
load_labels(const struct config *f, const char *s, const char *k, const char *v, void *obj)
{
	struct agent_conf *c = obj;

	(void)v;
	config_get_labels(f, s, k, "", c->labels, AGENT_MAX_LABELS, &c->n_labels,
	                  c->store + STORE_LABELS, STORE_TRUST - STORE_LABELS, NULL, 0);
}

static void
load_operators(const struct config *f, const char *s, const char *k, const char *v, void *obj)
{
	struct agent_conf *c = obj;

	(void)v;
	keys_from_list(f, s, k, c->operators, &c->n_operators, c->store + STORE_TRUST, 2048);
}

static void
load_coordinators(const struct config *f, const char *s, const char *k, const char *v, void *obj)
{
	struct agent_conf *c = obj;

	(void)v;
	keys_from_list(f, s, k, c->coordinators, &c->n_coordinators, c->store + STORE_TRUST + 2048,
	               2048);
}

static void
load_backup_signers(const struct config *f, const char *s, const char *k, const char *v, void *obj)
{
	struct agent_conf *c = obj;

	(void)v;
	keys_from_list(f, s, k, c->backup_signers, &c->n_backup_signers,
	               c->store + STORE_TRUST + 4096, 2048);
}

static void
load_coordinator_key(const struct config *f, const char *s, const char *k, const char *v, void *obj)
{
	struct agent_conf *c = obj;
	char kerr[160];

	if (*v == '\0')
		return;
	if (keys_parse_public(v, c->coordinator_key, kerr, sizeof(kerr)) != 0)
		config_problem(f, s, k, "%s", kerr);
	else
		c->has_coordinator = true;
}

static void
check_container(const struct config *f, const char *s, const char *k, const char *v, void *obj)
{
	(void)obj;
	if (!proto_valid_id(v))
		config_problem(f, s, k, "not a valid container name");
}

static void
check_repository(const struct config *f, const char *s, const char *k, const char *v, void *obj)
{
	(void)obj;
	if (strchr(v, ':') != NULL && strchr(v, '/') == NULL)
		config_problem(f, s, k, "a repository without a tag (the tag comes from --to)");
}

/* After metadb.user, tenant and cluster: together they make a login name. */
static void
check_login(const struct config *f, const char *s, const char *k, const char *v, void *obj)
{
	const struct agent_conf *c = obj;
	char login[256];

	(void)k;
	(void)v;
	if (c->db_user != NULL &&
	    metadb_login_name(c->db_user, c->db_tenant, c->db_cluster, login, sizeof(login)) != 0)
		config_problem(f, s, *c->db_cluster ? "cluster" : "user",
		               "user, tenant and cluster make no OceanBase login name "
		               "(user@tenant#cluster: "
		               "no '@' or '#' inside them, and a cluster needs a tenant)");
}

static void
check_database(const struct config *f, const char *s, const char *k, const char *v, void *obj)
{
	(void)obj;
	for (; *v; v++) {
		if (!((*v >= 'a' && *v <= 'z') || (*v >= 'A' && *v <= 'Z') ||
		      (*v >= '0' && *v <= '9') || *v == '_' || *v == '$')) {
			config_problem(f, s, k, "only [A-Za-z0-9_$] is allowed in a database name");
			break;
		}
	}
}

static void
load_backup_roots(const struct config *f, const char *s, const char *k, const char *v, void *obj)
{
	struct agent_conf *c = obj;
	size_t n = 0;

	(void)v;
	if (config_get_list(f, s, k, NULL, c->backup_roots, AGENT_MAX_ROOTS, &n,
	                    c->store + STORE_ROOTS, 1024, NULL, 0) != 0)
		return;
	c->n_backup_roots = n;
	for (size_t i = 0; i < n; i++) {
		if (!proto_valid_path(c->backup_roots[i]) || strcmp(c->backup_roots[i], "/") == 0) {
			config_problem(
			    f, s, k,
			    "%s: each root must be an absolute, normalised path other than /",
			    c->backup_roots[i]);
			c->n_backup_roots = 0;
		}
	}
	if (n == 0)
		config_problem(f, s, k, "at least one root is required");
}

static void
check_health_url(const struct config *f, const char *s, const char *k, const char *v, void *obj)
{
	(void)obj;
	if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0)
		config_problem(f, s, k, "expected an http:// or https:// URL");
}

static void
load_binds(const struct config *f, const char *s, const char *k, const char *v, void *obj)
{
	struct agent_conf *c = obj;

	(void)v;
	config_get_list(f, s, k, "/var/log/odc:/opt/odc/log, /var/data/odc:/opt/odc/data",
	                c->def_binds, AGENT_MAX_BINDS, &c->n_def_binds, c->store + STORE_BINDS,
	                sizeof(c->store) - STORE_BINDS, NULL, 0);
	c->def_binds[c->n_def_binds] = NULL;
}

static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};

#define AC(member)        offsetof(struct agent_conf, member)
#define AC_DEADLINE(step) (AC(deadline_ms) + (step) * sizeof(uint64_t))

/* Every key of known_keys, in the order they are checked (problems are
 * found in this order). */
static const struct config_field agent_fields[] = {
    {"agent", "host_id", CONFIG_STR, CONFIG_REQUIRED, AC(host_id), NULL, 0, 0, 0, NULL,
     check_host_id},
    {"agent", "labels", CONFIG_CUSTOM, 0, CONFIG_UNSTORED, NULL, 0, 0, 0, NULL, load_labels},
    {"agent", "state_dir", CONFIG_PATH, 0, AC(state_dir), "/var/lib/odc-agent", 0, 0, 0, NULL,
     NULL},
    {"agent", "log_level", CONFIG_STR, 0, AC(log_level), "info", 0, 0, 0, log_levels, NULL},
    {"keys", "secret_key", CONFIG_PATH, 0, AC(secret_key), "", 0, 0, 0, NULL, NULL},
    {"trust", "operators", CONFIG_CUSTOM, 0, CONFIG_UNSTORED, NULL, 0, 0, 0, NULL, load_operators},
    {"trust", "coordinators", CONFIG_CUSTOM, 0, CONFIG_UNSTORED, NULL, 0, 0, 0, NULL,
     load_coordinators},
    {"trust", "backups", CONFIG_CUSTOM, 0, CONFIG_UNSTORED, NULL, 0, 0, 0, NULL,
     load_backup_signers},
    {"coordinator", "endpoint", CONFIG_ENDPOINT, 0, AC(coordinator_endpoint), "", 0, 0, 0, NULL,
     NULL},
    {"coordinator", "reconnect_max", CONFIG_DURATION, 0, AC(reconnect_max_ms), NULL, 10000, 500,
     600000, NULL, NULL},
    {"coordinator", "ping", CONFIG_DURATION, 0, AC(ping_ms), NULL, 10000, 1000, 300000, NULL, NULL},
    {"coordinator", "public_key", CONFIG_STR, 0, CONFIG_UNSTORED, "", 0, 0, 0, NULL,
     load_coordinator_key},
    {"docker", "socket", CONFIG_PATH, 0, AC(docker_socket), "/var/run/docker.sock", 0, 0, 0, NULL,
     NULL},
    {"docker", "container", CONFIG_STR, 0, AC(container), "obodc", 0, 0, 0, NULL, check_container},
    {"docker", "repository", CONFIG_STR, CONFIG_REQUIRED, AC(repository), NULL, 0, 0, 0, NULL,
     check_repository},
    {"docker", "stop_timeout", CONFIG_DURATION, 0, AC(stop_timeout_ms), NULL, 60000, 1000, 3600000,
     NULL, NULL},
    {"docker", "api_timeout", CONFIG_DURATION, 0, AC(api_timeout_ms), NULL, 30000, 1000, 600000,
     NULL, NULL},
    {"metadb", "host", CONFIG_STR, CONFIG_REQUIRED, AC(db_host), NULL, 0, 0, 0, NULL, NULL},
    {"metadb", "port", CONFIG_UINT, 0, AC(db_port), NULL, 2881, 1, 65535, NULL, NULL},
    {"metadb", "user", CONFIG_STR, CONFIG_REQUIRED, AC(db_user), NULL, 0, 0, 0, NULL, NULL},
    {"metadb", "tenant", CONFIG_STR, 0, AC(db_tenant), "", 0, 0, 0, NULL, NULL},
    {"metadb", "cluster", CONFIG_STR, 0, AC(db_cluster), "", 0, 0, 0, NULL, NULL},
    {"metadb", "user", CONFIG_CUSTOM, 0, CONFIG_UNSTORED, NULL, 0, 0, 0, NULL, check_login},
    {"metadb", "password_file", CONFIG_PATH, CONFIG_REQUIRED, AC(db_password_file), NULL, 0, 0, 0,
     NULL, NULL},
    {"metadb", "database", CONFIG_STR, 0, AC(db_name), "odc_metadb", 0, 0, 0, NULL, check_database},
    {"metadb", "timeout", CONFIG_DURATION, 0, AC(db_timeout_ms), NULL, 10000, 1000, 600000, NULL,
     NULL},
    {"loader", "obloader", CONFIG_PATH, CONFIG_REQUIRED, AC(obloader), NULL, 0, 0, 0, NULL, NULL},
    {"loader", "obdumper", CONFIG_PATH, CONFIG_REQUIRED, AC(obdumper), NULL, 0, 0, 0, NULL, NULL},
    {"loader", "threads", CONFIG_UINT, 0, AC(loader_threads), NULL, 1, 1, 64, NULL, NULL},
    {"paths", "backup_roots", CONFIG_CUSTOM, CONFIG_REQUIRED, CONFIG_UNSTORED, NULL, 0, 0, 0, NULL,
     load_backup_roots},
    {"paths", "snapshot_root", CONFIG_PATH, CONFIG_REQUIRED, AC(snapshot_root), NULL, 0, 0, 0, NULL,
     NULL},
    /* keep counts the latest rollback, which prune never removes: 0 would
     * promise what is not done. */
    {"retention", "keep", CONFIG_UINT, 0, AC(retention_keep), NULL, 3, 1, 1000, NULL, NULL},
    {"retention", "max_age", CONFIG_DURATION, 0, AC(retention_max_age_ms), NULL, 0, 0,
     3650 * 86400000ull, NULL, NULL},
    {"deadlines", "preflight", CONFIG_DURATION, 0, AC_DEADLINE(STEP_PREFLIGHT), NULL, 120000, 1000,
     86400000, NULL, NULL},
    {"deadlines", "stop", CONFIG_DURATION, 0, AC_DEADLINE(STEP_STOP), NULL, 300000, 1000, 86400000,
     NULL, NULL},
    {"deadlines", "snapshot", CONFIG_DURATION, 0, AC_DEADLINE(STEP_SNAPSHOT), NULL, 3600000, 1000,
     86400000, NULL, NULL},
    {"deadlines", "restore", CONFIG_DURATION, 0, AC_DEADLINE(STEP_RESTORE), NULL, 7200000, 1000,
     86400000, NULL, NULL},
    {"deadlines", "start", CONFIG_DURATION, 0, AC_DEADLINE(STEP_START), NULL, 300000, 1000,
     86400000, NULL, NULL},
    {"deadlines", "health", CONFIG_DURATION, 0, AC_DEADLINE(STEP_HEALTH), NULL, 300000, 1000,
     86400000, NULL, NULL},
    {"deadlines", "job", CONFIG_DURATION, 0, AC(job_deadline_ms), NULL, 4 * 3600000, 10000,
     7 * 86400000ull, NULL, NULL},
    {"health", "url", CONFIG_STR, 0, AC(health_url), "http://127.0.0.1:8989", 0, 0, 0, NULL,
     check_health_url},
    {"health", "interval", CONFIG_DURATION, 0, AC(health_interval_ms), NULL, 2000, 100, 60000, NULL,
     NULL},
    {"defaults", "memory", CONFIG_SIZE, 0, AC(def_memory), NULL, 8ull << 30, 64ull << 20,
     1ull << 40, NULL, NULL},
    {"defaults", "cpu_period", CONFIG_UINT, 0, AC(def_cpu_period), NULL, 100000, 1000, 1000000,
     NULL, NULL},
    {"defaults", "cpu_quota", CONFIG_UINT, 0, AC(def_cpu_quota), NULL, 400000, 1000, 100000000,
     NULL, NULL},
    {"defaults", "network", CONFIG_STR, 0, AC(def_network), "host", 0, 0, 0, NULL, NULL},
    {"defaults", "profile_mode", CONFIG_STR, 0, AC(def_profile_mode), "alipay", 0, 0, 0, NULL,
     NULL},
    {"defaults", "binds", CONFIG_CUSTOM, 0, CONFIG_UNSTORED, NULL, 0, 0, 0, NULL, load_binds},
};

#undef AC_DEADLINE
#undef AC

int
agent_conf_load(const char *path, struct agent_conf *c, char *err, size_t errlen)
{
	struct config *f;

	memset(c, 0, sizeof(*c));
	c->cfg = f = config_load(path, err, errlen);
	if (f == NULL)
		return -1;
	c->path = config_path(f);
	/* Each getter records its own problem (file:line: section.key: what)
	 * and leaves its output untouched on one, so a check that needs the
	 * value runs only when the getter returned 0 or 1. */
	config_check_known(f, known_keys, NULL, 0);
	config_load_fields(f, NULL, agent_fields, sizeof(agent_fields) / sizeof(agent_fields[0]),
	                   c);
	return agent_conf_result(c, err, errlen);
}

/* 0 when nothing is wrong, else -1 with the first problem found in err. */
static int
agent_conf_result(const struct agent_conf *c, char *err, size_t errlen)
{
	if (config_problem_count(c->cfg) == 0)
		return 0;
	snprintf(err, errlen, "%s",
	         config_problem_text(c->cfg, 0) != NULL ? config_problem_text(c->cfg, 0)
	                                                : "out of memory");
	return -1;
}

/* Is daemon mode configured at all? Any of its keys says so. */
static bool
daemon_configured(const struct agent_conf *c)
{
	static const char *const keys[][2] = {
	    {"keys", "secret_key"},
	    {"trust", "coordinators"},
	    {"coordinator", "endpoint"},
	    {"coordinator", "public_key"},
	};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (config_line(c->cfg, keys[i][0], keys[i][1]) != 0)
			return true;
	return false;
}

/* A key daemon mode needs (have: it holds a usable value). A value that is
 * set but bad has a problem of its own already. */
static void
daemon_require(struct agent_conf *c, const char *section, const char *key, bool have)
{
	const char *v = "";

	if (have)
		return;
	config_get_str(c->cfg, section, key, "", &v, NULL, 0);
	if (config_line(c->cfg, section, key) == 0)
		config_problem(c->cfg, section, key, "required key missing (daemon mode needs it)");
	else if (*v == '\0')
		config_problem(c->cfg, section, key, "empty (daemon mode needs it)");
}

/* A directory-valued key: a usable directory the agent may make (with its
 * parents, agent_dir_ensure). */
static void
check_dir(struct agent_conf *c, const char *section, const char *key, const char *path)
{
	if (path != NULL && *path != '\0')
		config_check_dir(c->cfg, section, key, path, CONFIG_DIR_PARENTS);
}

int
agent_conf_check(struct agent_conf *c, unsigned flags, char *err, size_t errlen)
{
	struct config *f = c->cfg;
	char why[512];

	if ((flags & AGENT_CHECK_DAEMON) || daemon_configured(c)) {
		daemon_require(c, "keys", "secret_key",
		               c->secret_key != NULL && *c->secret_key != '\0');
		daemon_require(c, "trust", "operators", c->n_operators > 0);
		daemon_require(c, "trust", "coordinators", c->n_coordinators > 0);
		daemon_require(c, "coordinator", "endpoint",
		               c->coordinator_endpoint != NULL && *c->coordinator_endpoint != '\0');
		daemon_require(c, "coordinator", "public_key", c->has_coordinator);
	}
	if (c->secret_key != NULL && *c->secret_key != '\0') {
		struct keys_pair *kp = keys_load_secret(c->secret_key, why, sizeof(why));
		if (kp == NULL)
			config_problem(f, "keys", "secret_key", "%s", why);
		keys_pair_free(kp);
	}
	if (c->coordinator_endpoint != NULL && *c->coordinator_endpoint != '\0')
		config_check_endpoint(f, "coordinator", "endpoint", c->coordinator_endpoint, 0);

	if (c->db_password_file != NULL) {
		struct stat st;
		char *pw = agent_read_password(c, why, sizeof(why));
		if (pw == NULL)
			config_problem(f, "metadb", "password_file", "%s", why);
		else if (stat(c->db_password_file, &st) == 0 && st.st_size == 0)
			/* An empty password is one empty line; an empty file is one
			 * nobody wrote. */
			config_problem(f, "metadb", "password_file",
			               "%s: empty (the password goes on its first line; a file of "
			               "one newline means an empty password)",
			               c->db_password_file);
		agent_secret_free(pw);
	}
	if (c->obloader != NULL)
		config_check_exec(f, "loader", "obloader", c->obloader);
	if (c->obdumper != NULL)
		config_check_exec(f, "loader", "obdumper", c->obdumper);

	check_dir(c, "agent", "state_dir", c->state_dir);
	check_dir(c, "paths", "snapshot_root", c->snapshot_root);
	for (size_t i = 0; i < c->n_backup_roots; i++)
		check_dir(c, "paths", "backup_roots", c->backup_roots[i]);
	return agent_conf_result(c, err, errlen);
}

void
agent_conf_free(struct agent_conf *c)
{
	if (c == NULL)
		return;
	config_free(c->cfg);
	memset(c, 0, sizeof(*c));
}

struct metadb *
agent_metadb_open(const struct agent_conf *c, const char *password, char *err, size_t errlen)
{
	char login[256];

	if (metadb_login_name(c->db_user, c->db_tenant, c->db_cluster, login, sizeof(login)) != 0) {
		snprintf(err, errlen, "user '%s', tenant '%s', cluster '%s' make no login name",
		         c->db_user, c->db_tenant, c->db_cluster);
		return NULL;
	}
	struct metadb_conf mc = {c->db_host, (unsigned)c->db_port,
	                         login,      password,
	                         c->db_name, (unsigned)(c->db_timeout_ms / 1000)};
	return metadb_connect(&mc, err, errlen);
}

char *
agent_read_password(const struct agent_conf *c, char *err, size_t errlen)
{
	const char *path = c->db_password_file;
	char *pw = NULL;
	struct stat st;
	size_t n = 0;
	int fd, rc;

	fd = file_open_regular(AT_FDCWD, path, NULL, FILE_NOFOLLOW, &st, err, errlen);
	if (fd == FILE_E_OPEN)
		snprintf(err, errlen, "%s: cannot open the metadb password file: %s", path,
		         strerror(errno));
	else if (fd < 0)
		snprintf(err, errlen, "%s: not a regular file", path);
	if (fd < 0)
		return NULL;
	if ((st.st_mode & 077) != 0) {
		snprintf(err, errlen,
		         "%s: password file is group/world accessible (mode %04o); chmod 600 it",
		         path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	/* sodium_malloc aborts before sodium_init; it is idempotent. */
	if (sodium_init() < 0) {
		snprintf(err, errlen, "libsodium cannot be initialised");
		goto out;
	}
	pw = sodium_malloc(1024);
	if (pw == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	/* Only the first line counts: what lies past 1023 bytes is ignored. */
	rc = file_read_fd(fd, path, pw, 1022, &n, err, errlen);
	if (rc == FILE_E_READ) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		agent_secret_free(pw);
		pw = NULL;
		goto out;
	}
	pw[strcspn(pw, "\r\n")] = '\0';
out:
	close(fd);
	return pw;
}

void
agent_secret_free(char *s)
{
	if (s != NULL)
		sodium_free(s); /* wipes before freeing */
}

bool
agent_path_in_roots(const struct agent_conf *c, const char *path, char *err, size_t errlen)
{
	char real[PATH_MAX], rroot[PATH_MAX];

	if (!proto_valid_path(path)) {
		snprintf(err, errlen, "%s: not an absolute, normalised path", path);
		return false;
	}
	if (realpath(path, real) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return false;
	}
	for (size_t i = 0; i < c->n_backup_roots; i++) {
		size_t n;
		if (realpath(c->backup_roots[i], rroot) == NULL)
			continue;
		n = strlen(rroot);
		if (strncmp(real, rroot, n) == 0 && real[n] == '/')
			return true;
	}
	snprintf(err, errlen, "%s is outside the backup roots (%s%s)", path, c->backup_roots[0],
	         c->n_backup_roots > 1 ? ", ..." : "");
	return false;
}

bool
agent_path_allowed(const struct agent_conf *c, const char *path, char *err, size_t errlen)
{
	struct stat st;
	bool lexical = false;

	for (size_t i = 0; i < c->n_backup_roots && !lexical; i++) {
		size_t n = strlen(c->backup_roots[i]);
		lexical = strncmp(path, c->backup_roots[i], n) == 0 && path[n] == '/';
	}
	if (!lexical) {
		snprintf(err, errlen, "%s is outside the backup roots (%s%s)", path,
		         c->backup_roots[0], c->n_backup_roots > 1 ? ", ..." : "");
		return false;
	}
	/* An existing path must also stay inside once symlinks are resolved;
	 * a missing one is preflight's to report. */
	if (lstat(path, &st) != 0)
		return true;
	return agent_path_in_roots(c, path, err, errlen);
}

int
agent_dir_ensure(const char *path, char *err, size_t errlen)
{
	char p[PATH_MAX];
	struct stat st;
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(p)) {
		snprintf(err, errlen, "%s: not a usable directory path", path);
		return -1;
	}
	memcpy(p, path, n + 1);
	/* Each parent, then the path itself; an existing one is left as it is. */
	for (char *q = p + 1;; q++) {
		if (*q != '/' && *q != '\0')
			continue;
		char c = *q;
		*q = '\0';
		if (mkdir(p, 0700) != 0 && errno != EEXIST) {
			snprintf(err, errlen, "%s: cannot create it: %s", p, strerror(errno));
			return -1;
		}
		*q = c;
		if (c == '\0')
			break;
	}
	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: not a directory", path);
		return -1;
	}
	return 0;
}
