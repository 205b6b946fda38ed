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
	"agent.host_id",	  "agent.labels",	   "agent.state_dir",	     "agent.log_level",
	"keys.secret_key",	  "trust.operators",	   "trust.coordinators",     "trust.backups",
	"coordinator.endpoint",
	"coordinator.public_key", "coordinator.reconnect_max", "coordinator.ping", "docker.socket",	   "docker.container",	     "docker.repository",
	"docker.stop_timeout",	  "docker.api_timeout",	   "metadb.host",	     "metadb.port",
	"metadb.user",		  "metadb.tenant",	   "metadb.cluster",	     "metadb.password_file",
	"metadb.database",	  "metadb.timeout",	   "loader.obloader",	     "loader.obdumper",
	"loader.threads",	  "paths.backup_roots",	   "paths.snapshot_root",    "deadlines.preflight",
	"deadlines.stop",	  "deadlines.snapshot",	   "deadlines.restore",	     "deadlines.start",
	"deadlines.health",	  "deadlines.job",	   "health.url",	     "health.interval",
	"defaults.memory",	  "defaults.cpu_period",   "defaults.cpu_quota",     "defaults.network",
	"defaults.profile_mode",  "defaults.binds",	   "retention.keep",	     "retention.max_age",
	NULL,
};

/* Wrappers: each getter reports its own file:line error; r < 0 stops. */
#define GET(call)                                                                                  \
	do {                                                                                       \
		if ((call) < 0)                                                                    \
			goto fail;                                                                 \
	} while (0)

#define REQUIRE(section, key)                                                                      \
	do {                                                                                       \
		if (config_require(c->cfg, section, key, err, errlen) != 0)                       \
			goto fail;                                                                 \
	} while (0)

static int
keys_from_list(const struct agent_conf *c, const char *section, const char *key,
	       uint8_t out[][PROTO_PK_LEN], size_t *n, char *store, size_t storelen, char *err,
	       size_t errlen)
{
	const char *items[AGENT_MAX_TRUSTED];
	size_t count = 0;
	char kerr[160];

	if (config_get_list(c->cfg, section, key, "", items, AGENT_MAX_TRUSTED, &count, store, storelen,
			    err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < count; i++) {
		if (keys_parse_public(items[i], out[i], kerr, sizeof(kerr)) != 0) {
			snprintf(err, errlen, "%s:%d: %s.%s: item %zu: %s", c->path,
				 config_line(c->cfg, section, key), section, key, i + 1, kerr);
			return -1;
		}
	}
	*n = count;
	return 0;
}

static int
bad_value(const struct agent_conf *c, const char *section, const char *key, const char *what,
	  char *err, size_t errlen)
{
	snprintf(err, errlen, "%s:%d: %s.%s: %s", c->path, config_line(c->cfg, section, key), section,
		 key, what);
	return -1;
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
	const char *s;
	size_t used = 0, n = 0;

	memset(c, 0, sizeof(*c));
	c->cfg = config_load(path, err, errlen);
	if (c->cfg == NULL)
		return -1;
	c->path = config_path(c->cfg);
	if (config_check_known(c->cfg, known_keys, err, errlen) != 0)
		goto fail;

	REQUIRE("agent", "host_id");
	GET(config_get_str(c->cfg, "agent", "host_id", NULL, &c->host_id, err, errlen));
	if (!proto_valid_id(c->host_id)) {
		bad_value(c, "agent", "host_id", "not a valid host id (1-64 of [A-Za-z0-9._-], starting alphanumeric)",
			  err, errlen);
		goto fail;
	}
	GET(config_get_labels(c->cfg, "agent", "labels", "", c->labels, AGENT_MAX_LABELS, &c->n_labels,
			      c->store, sizeof(c->store) / 4, err, errlen));
	used = sizeof(c->store) / 4;
	GET(config_get_path(c->cfg, "agent", "state_dir", "/var/lib/odc-agent", &c->state_dir, err, errlen));
	GET(config_get_str(c->cfg, "agent", "log_level", "info", &c->log_level, err, errlen));
	if (strcmp(c->log_level, "debug") && strcmp(c->log_level, "info") && strcmp(c->log_level, "warn") &&
	    strcmp(c->log_level, "error")) {
		bad_value(c, "agent", "log_level", "expected debug, info, warn or error", err, errlen);
		goto fail;
	}

	GET(config_get_path(c->cfg, "keys", "secret_key", "", &c->secret_key, err, errlen));
	if (keys_from_list(c, "trust", "operators", c->operators, &c->n_operators, c->store + used, 2048, err,
			   errlen) != 0)
		goto fail;
	used += 2048;
	if (keys_from_list(c, "trust", "coordinators", c->coordinators, &c->n_coordinators, c->store + used,
			   2048, err, errlen) != 0)
		goto fail;
	used += 2048;
	if (keys_from_list(c, "trust", "backups", c->backup_signers, &c->n_backup_signers, c->store + used, 2048,
			   err, errlen) != 0)
		goto fail;
	used += 2048;
	GET(config_get_str(c->cfg, "coordinator", "endpoint", "", &c->coordinator_endpoint, err, errlen));
	GET(config_get_duration_ms(c->cfg, "coordinator", "reconnect_max", 10000, 500, 600000, &c->reconnect_max_ms, err,
				   errlen));
	GET(config_get_duration_ms(c->cfg, "coordinator", "ping", 10000, 1000, 300000, &c->ping_ms, err, errlen));
	GET(config_get_str(c->cfg, "coordinator", "public_key", "", &s, err, errlen));
	if (*s != '\0') {
		char kerr[160];
		if (keys_parse_public(s, c->coordinator_key, kerr, sizeof(kerr)) != 0) {
			bad_value(c, "coordinator", "public_key", kerr, err, errlen);
			goto fail;
		}
		c->has_coordinator = true;
	}

	GET(config_get_path(c->cfg, "docker", "socket", "/var/run/docker.sock", &c->docker_socket, err, errlen));
	GET(config_get_str(c->cfg, "docker", "container", "obodc", &c->container, err, errlen));
	if (!proto_valid_id(c->container)) {
		bad_value(c, "docker", "container", "not a valid container name", err, errlen);
		goto fail;
	}
	REQUIRE("docker", "repository");
	GET(config_get_str(c->cfg, "docker", "repository", NULL, &c->repository, err, errlen));
	if (strchr(c->repository, ':') != NULL && strchr(c->repository, '/') == NULL) {
		bad_value(c, "docker", "repository", "a repository without a tag (the tag comes from --to)", err,
			  errlen);
		goto fail;
	}
	GET(config_get_duration_ms(c->cfg, "docker", "stop_timeout", 60000, 1000, 3600000, &c->stop_timeout_ms,
				   err, errlen));
	GET(config_get_duration_ms(c->cfg, "docker", "api_timeout", 30000, 1000, 600000, &c->api_timeout_ms,
				   err, errlen));

	REQUIRE("metadb", "host");
	GET(config_get_str(c->cfg, "metadb", "host", NULL, &c->db_host, err, errlen));
	GET(config_get_uint(c->cfg, "metadb", "port", 2881, 1, 65535, &c->db_port, err, errlen));
	REQUIRE("metadb", "user");
	GET(config_get_str(c->cfg, "metadb", "user", NULL, &c->db_user, err, errlen));
	GET(config_get_str(c->cfg, "metadb", "tenant", "", &c->db_tenant, err, errlen));
	GET(config_get_str(c->cfg, "metadb", "cluster", "", &c->db_cluster, err, errlen));
	{
		char login[256];
		if (metadb_login_name(c->db_user, c->db_tenant, c->db_cluster, login, sizeof(login)) != 0) {
			bad_value(c, "metadb", *c->db_cluster ? "cluster" : "user",
				  "user, tenant and cluster make no OceanBase login name (user@tenant#cluster: "
				  "no '@' or '#' inside them, and a cluster needs a tenant)",
				  err, errlen);
			goto fail;
		}
	}
	REQUIRE("metadb", "password_file");
	GET(config_get_path(c->cfg, "metadb", "password_file", NULL, &c->db_password_file, err, errlen));
	GET(config_get_str(c->cfg, "metadb", "database", "odc_metadb", &c->db_name, err, errlen));
	for (s = c->db_name; *s; s++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' ||
		      *s == '$')) {
			bad_value(c, "metadb", "database", "only [A-Za-z0-9_$] is allowed in a database name", err,
				  errlen);
			goto fail;
		}
	}
	GET(config_get_duration_ms(c->cfg, "metadb", "timeout", 10000, 1000, 600000, &c->db_timeout_ms, err,
				   errlen));

	REQUIRE("loader", "obloader");
	GET(config_get_path(c->cfg, "loader", "obloader", NULL, &c->obloader, err, errlen));
	REQUIRE("loader", "obdumper");
	GET(config_get_path(c->cfg, "loader", "obdumper", NULL, &c->obdumper, err, errlen));
	GET(config_get_uint(c->cfg, "loader", "threads", 1, 1, 64, &c->loader_threads, err, errlen));

	REQUIRE("paths", "backup_roots");
	GET(config_get_list(c->cfg, "paths", "backup_roots", NULL, c->backup_roots, AGENT_MAX_ROOTS, &n,
			    c->store + used, 1024, err, errlen));
	used += 1024;
	c->n_backup_roots = n;
	for (size_t i = 0; i < n; i++) {
		if (!proto_valid_path(c->backup_roots[i]) || strcmp(c->backup_roots[i], "/") == 0) {
			bad_value(c, "paths", "backup_roots",
				  "each root must be an absolute, normalised path other than /", err, errlen);
			goto fail;
		}
	}
	if (n == 0) {
		bad_value(c, "paths", "backup_roots", "at least one root is required", err, errlen);
		goto fail;
	}
	REQUIRE("paths", "snapshot_root");
	GET(config_get_path(c->cfg, "paths", "snapshot_root", NULL, &c->snapshot_root, err, errlen));

	/* keep counts the latest rollback, which prune never removes: 0 would
	 * promise what is not done. */
	GET(config_get_uint(c->cfg, "retention", "keep", 3, 1, 1000, &c->retention_keep, err, errlen));
	GET(config_get_duration_ms(c->cfg, "retention", "max_age", 0, 0, 3650 * 86400000ull, &c->retention_max_age_ms,
				   err, errlen));

	for (int i = 0; i < STEP_COUNT; i++)
		GET(config_get_duration_ms(c->cfg, "deadlines", deadline_keys[i], def_deadline_ms[i], 1000,
					   86400000, &c->deadline_ms[i], err, errlen));
	GET(config_get_duration_ms(c->cfg, "deadlines", "job", 4 * 3600000, 10000, 7 * 86400000ull,
				   &c->job_deadline_ms, err, errlen));

	GET(config_get_str(c->cfg, "health", "url", "http://127.0.0.1:8989", &c->health_url, err, errlen));
	if (strncmp(c->health_url, "http://", 7) != 0 && strncmp(c->health_url, "https://", 8) != 0) {
		bad_value(c, "health", "url", "expected an http:// or https:// URL", err, errlen);
		goto fail;
	}
	GET(config_get_duration_ms(c->cfg, "health", "interval", 2000, 100, 60000, &c->health_interval_ms, err,
				   errlen));

	GET(config_get_size(c->cfg, "defaults", "memory", 8ull << 30, 64ull << 20, 1ull << 40, &c->def_memory, err,
			    errlen));
	GET(config_get_uint(c->cfg, "defaults", "cpu_period", 100000, 1000, 1000000, &c->def_cpu_period, err,
			    errlen));
	GET(config_get_uint(c->cfg, "defaults", "cpu_quota", 400000, 1000, 100000000, &c->def_cpu_quota, err,
			    errlen));
	GET(config_get_str(c->cfg, "defaults", "network", "host", &c->def_network, err, errlen));
	GET(config_get_str(c->cfg, "defaults", "profile_mode", "alipay", &c->def_profile_mode, err, errlen));
	GET(config_get_list(c->cfg, "defaults", "binds", "/var/log/odc:/opt/odc/log, /var/data/odc:/opt/odc/data",
			    c->def_binds, AGENT_MAX_BINDS, &c->n_def_binds, c->store + used, sizeof(c->store) - used,
			    err, errlen));
	c->def_binds[c->n_def_binds] = NULL;
	return 0;
fail:
	agent_conf_free(c);
	return -1;
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
		snprintf(err, errlen, "user '%s', tenant '%s', cluster '%s' make no login name", c->db_user,
			 c->db_tenant, c->db_cluster);
		return NULL;
	}
	struct metadb_conf mc = {c->db_host, (unsigned)c->db_port, login, password, c->db_name,
				 (unsigned)(c->db_timeout_ms / 1000)};
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
		snprintf(err, errlen, "%s: cannot open the metadb password file: %s", c->db_password_file,
			 strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", c->db_password_file);
		goto out;
	}
	if ((st.st_mode & 077) != 0) {
		snprintf(err, errlen, "%s: password file is group/world accessible (mode %04o); chmod 600 it",
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
		snprintf(err, errlen, "%s is outside the backup roots (%s%s)", path, c->backup_roots[0],
			 c->n_backup_roots > 1 ? ", ..." : "");
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
