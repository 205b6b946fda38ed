/* odc-agent's configuration file: every key known, typed and checked at
 * start, every problem reported as file:line: section.key: what. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "agent/agent.h"
#include "agent/metadb.h"
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

/* Trusted keys from a comma-separated list; every bad item is a problem. */
static void
keys_from_list(struct agent_conf *c, const char *section, const char *key,
               uint8_t out[][PROTO_PK_LEN], size_t *n, char *store, size_t storelen)
{
	const char *items[AGENT_MAX_TRUSTED];
	size_t count = 0, good = 0;
	char kerr[160];

	if (config_get_list(c->cfg, section, key, "", items, AGENT_MAX_TRUSTED, &count, store,
	                    storelen, NULL, 0) < 0)
		return;
	for (size_t i = 0; i < count; i++) {
		if (keys_parse_public(items[i], out[good], kerr, sizeof(kerr)) != 0)
			config_problem(c->cfg, section, key, "item %zu: %s", i + 1, kerr);
		else
			good++;
	}
	*n = good;
}

/* One of the words in words (NULL-terminated), else a problem. */
static void
one_of(struct agent_conf *c, const char *section, const char *key, const char *value,
       const char *const *words, const char *what)
{
	for (size_t i = 0; words[i] != NULL; i++)
		if (strcmp(value, words[i]) == 0)
			return;
	config_problem(c->cfg, section, key, "%s", what);
}

int
agent_conf_load(const char *path, struct agent_conf *c, char *err, size_t errlen)
{
	static const uint64_t def_deadline_ms[STEP_COUNT] = {
	    120000, 300000, 3600000, 7200000, 300000, 300000,
	};
	/* [deadlines] keys, in enum agent_step order. */
	static const char *const deadline_keys[STEP_COUNT] = {"preflight", "stop",  "snapshot",
	                                                      "restore",   "start", "health"};
	static const char *const levels[] = {"debug", "info", "warn", "error", NULL};
	struct config *f;
	const char *s;
	size_t used = 0, n = 0;

	memset(c, 0, sizeof(*c));
	c->cfg = f = config_load(path, err, errlen);
	if (f == NULL)
		return -1;
	c->path = config_path(f);
	/* Each getter records its own problem (file:line: section.key: what)
	 * and leaves its output untouched on one, so a check that needs the
	 * value runs only when the getter returned 0 or 1. */
	config_check_known(f, known_keys, NULL, 0);

	if (config_require(f, "agent", "host_id", NULL, 0) == 0 &&
	    config_get_str(f, "agent", "host_id", NULL, &c->host_id, NULL, 0) == 0 &&
	    !proto_valid_id(c->host_id))
		config_problem(
		    f, "agent", "host_id",
		    "not a valid host id (1-64 of [A-Za-z0-9._-], starting alphanumeric)");
	config_get_labels(f, "agent", "labels", "", c->labels, AGENT_MAX_LABELS, &c->n_labels,
	                  c->store, sizeof(c->store) / 4, NULL, 0);
	used = sizeof(c->store) / 4;
	config_get_path(f, "agent", "state_dir", "/var/lib/odc-agent", &c->state_dir, NULL, 0);
	if (config_get_str(f, "agent", "log_level", "info", &c->log_level, NULL, 0) == 0)
		one_of(c, "agent", "log_level", c->log_level, levels,
		       "expected debug, info, warn or error");

	config_get_path(f, "keys", "secret_key", "", &c->secret_key, NULL, 0);
	keys_from_list(c, "trust", "operators", c->operators, &c->n_operators, c->store + used,
	               2048);
	used += 2048;
	keys_from_list(c, "trust", "coordinators", c->coordinators, &c->n_coordinators,
	               c->store + used, 2048);
	used += 2048;
	keys_from_list(c, "trust", "backups", c->backup_signers, &c->n_backup_signers,
	               c->store + used, 2048);
	used += 2048;
	config_get_endpoint(f, "coordinator", "endpoint", "", 0, &c->coordinator_endpoint, NULL, 0);
	config_get_duration_ms(f, "coordinator", "reconnect_max", 10000, 500, 600000,
	                       &c->reconnect_max_ms, NULL, 0);
	config_get_duration_ms(f, "coordinator", "ping", 10000, 1000, 300000, &c->ping_ms, NULL, 0);
	if (config_get_str(f, "coordinator", "public_key", "", &s, NULL, 0) == 0 && *s != '\0') {
		char kerr[160];
		if (keys_parse_public(s, c->coordinator_key, kerr, sizeof(kerr)) != 0)
			config_problem(f, "coordinator", "public_key", "%s", kerr);
		else
			c->has_coordinator = true;
	}

	config_get_path(f, "docker", "socket", "/var/run/docker.sock", &c->docker_socket, NULL, 0);
	if (config_get_str(f, "docker", "container", "obodc", &c->container, NULL, 0) == 0 &&
	    !proto_valid_id(c->container))
		config_problem(f, "docker", "container", "not a valid container name");
	if (config_require(f, "docker", "repository", NULL, 0) == 0 &&
	    config_get_str(f, "docker", "repository", NULL, &c->repository, NULL, 0) == 0 &&
	    strchr(c->repository, ':') != NULL && strchr(c->repository, '/') == NULL)
		config_problem(f, "docker", "repository",
		               "a repository without a tag (the tag comes from --to)");
	config_get_duration_ms(f, "docker", "stop_timeout", 60000, 1000, 3600000,
	                       &c->stop_timeout_ms, NULL, 0);
	config_get_duration_ms(f, "docker", "api_timeout", 30000, 1000, 600000, &c->api_timeout_ms,
	                       NULL, 0);

	config_require(f, "metadb", "host", NULL, 0);
	config_get_str(f, "metadb", "host", NULL, &c->db_host, NULL, 0);
	config_get_uint(f, "metadb", "port", 2881, 1, 65535, &c->db_port, NULL, 0);
	config_require(f, "metadb", "user", NULL, 0);
	config_get_str(f, "metadb", "user", NULL, &c->db_user, NULL, 0);
	config_get_str(f, "metadb", "tenant", "", &c->db_tenant, NULL, 0);
	config_get_str(f, "metadb", "cluster", "", &c->db_cluster, NULL, 0);
	if (c->db_user != NULL) {
		char login[256];
		if (metadb_login_name(c->db_user, c->db_tenant, c->db_cluster, login,
		                      sizeof(login)) != 0)
			config_problem(f, "metadb", *c->db_cluster ? "cluster" : "user",
			               "user, tenant and cluster make no OceanBase login name "
			               "(user@tenant#cluster: "
			               "no '@' or '#' inside them, and a cluster needs a tenant)");
	}
	config_require(f, "metadb", "password_file", NULL, 0);
	config_get_path(f, "metadb", "password_file", NULL, &c->db_password_file, NULL, 0);
	if (config_get_str(f, "metadb", "database", "odc_metadb", &c->db_name, NULL, 0) == 0) {
		for (s = c->db_name; *s; s++) {
			if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
			      (*s >= '0' && *s <= '9') || *s == '_' || *s == '$')) {
				config_problem(f, "metadb", "database",
				               "only [A-Za-z0-9_$] is allowed in a database name");
				break;
			}
		}
	}
	config_get_duration_ms(f, "metadb", "timeout", 10000, 1000, 600000, &c->db_timeout_ms, NULL,
	                       0);

	config_require(f, "loader", "obloader", NULL, 0);
	config_get_path(f, "loader", "obloader", NULL, &c->obloader, NULL, 0);
	config_require(f, "loader", "obdumper", NULL, 0);
	config_get_path(f, "loader", "obdumper", NULL, &c->obdumper, NULL, 0);
	config_get_uint(f, "loader", "threads", 1, 1, 64, &c->loader_threads, NULL, 0);

	if (config_require(f, "paths", "backup_roots", NULL, 0) == 0 &&
	    config_get_list(f, "paths", "backup_roots", NULL, c->backup_roots, AGENT_MAX_ROOTS, &n,
	                    c->store + used, 1024, NULL, 0) == 0) {
		c->n_backup_roots = n;
		for (size_t i = 0; i < n; i++) {
			if (!proto_valid_path(c->backup_roots[i]) ||
			    strcmp(c->backup_roots[i], "/") == 0) {
				config_problem(f, "paths", "backup_roots",
				               "%s: each root must be an absolute, normalised path "
				               "other than /",
				               c->backup_roots[i]);
				c->n_backup_roots = 0;
			}
		}
		if (n == 0)
			config_problem(f, "paths", "backup_roots", "at least one root is required");
	}
	used += 1024;
	config_require(f, "paths", "snapshot_root", NULL, 0);
	config_get_path(f, "paths", "snapshot_root", NULL, &c->snapshot_root, NULL, 0);

	/* keep counts the latest rollback, which prune never removes: 0 would
	 * promise what is not done. */
	config_get_uint(f, "retention", "keep", 3, 1, 1000, &c->retention_keep, NULL, 0);
	config_get_duration_ms(f, "retention", "max_age", 0, 0, 3650 * 86400000ull,
	                       &c->retention_max_age_ms, NULL, 0);

	for (int i = 0; i < STEP_COUNT; i++)
		config_get_duration_ms(f, "deadlines", deadline_keys[i], def_deadline_ms[i], 1000,
		                       86400000, &c->deadline_ms[i], NULL, 0);
	config_get_duration_ms(f, "deadlines", "job", 4 * 3600000, 10000, 7 * 86400000ull,
	                       &c->job_deadline_ms, NULL, 0);

	if (config_get_str(f, "health", "url", "http://127.0.0.1:8989", &c->health_url, NULL, 0) ==
	        0 &&
	    strncmp(c->health_url, "http://", 7) != 0 && strncmp(c->health_url, "https://", 8) != 0)
		config_problem(f, "health", "url", "expected an http:// or https:// URL");
	config_get_duration_ms(f, "health", "interval", 2000, 100, 60000, &c->health_interval_ms,
	                       NULL, 0);

	config_get_size(f, "defaults", "memory", 8ull << 30, 64ull << 20, 1ull << 40,
	                &c->def_memory, NULL, 0);
	config_get_uint(f, "defaults", "cpu_period", 100000, 1000, 1000000, &c->def_cpu_period,
	                NULL, 0);
	config_get_uint(f, "defaults", "cpu_quota", 400000, 1000, 100000000, &c->def_cpu_quota,
	                NULL, 0);
	config_get_str(f, "defaults", "network", "host", &c->def_network, NULL, 0);
	config_get_str(f, "defaults", "profile_mode", "alipay", &c->def_profile_mode, NULL, 0);
	config_get_list(f, "defaults", "binds",
	                "/var/log/odc:/opt/odc/log, /var/data/odc:/opt/odc/data", c->def_binds,
	                AGENT_MAX_BINDS, &c->n_def_binds, c->store + used, sizeof(c->store) - used,
	                NULL, 0);
	c->def_binds[c->n_def_binds] = NULL;
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
	char *pw = NULL;
	struct stat st;
	ssize_t n;
	int fd = open(c->db_password_file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot open the metadb password file: %s",
		         c->db_password_file, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", c->db_password_file);
		goto out;
	}
	if ((st.st_mode & 077) != 0) {
		snprintf(err, errlen,
		         "%s: password file is group/world accessible (mode %04o); chmod 600 it",
		         c->db_password_file, (unsigned)(st.st_mode & 07777));
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
	n = read(fd, pw, 1023);
	if (n < 0) {
		snprintf(err, errlen, "%s: %s", c->db_password_file, strerror(errno));
		agent_secret_free(pw);
		pw = NULL;
		goto out;
	}
	pw[n] = '\0';
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
