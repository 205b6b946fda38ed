/* Stand-in for the ODC web server (oceanbase/odc-server) in the test world: it migrates its
 * metadb and refuses a degrade the way ODC does, then answers ODC's health endpoints.
 *
 * Environment (as the real image): DATABASE_HOST, DATABASE_PORT, DATABASE_USERNAME,
 * DATABASE_PASSWORD (may be empty), DATABASE_NAME, ODC_PROFILE_MODE (default alipay),
 * ODC_SERVER_PORT (default 8989), ODC_HOME (default /opt/odc; log/odc.log is appended when
 * that directory exists). Stand-in knobs: ODC_STANDIN_START_DELAY_MS (default 3000; the
 * real server needs about two minutes), ODC_STANDIN_CONNECT_TIMEOUT_S (default 30),
 * ODC_STANDIN_VERSION_FILE (default /odc/VERSION, this build's own release).
 *
 * Exit status: 0 never (it serves until killed), 1 on any startup failure. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <mysql.h>
#include <mysqld_error.h>
#include <errmsg.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define VERSION_MAX    32
#define VERSION_PARTS  8
#define REQUEST_MAX    8192
#define RESPONSE_MAX   4096
#define SQL_MAX        4096
#define HISTORY_TABLE  "migrate_schema_history"
#define SERVER_LOGGER  "c.o.odc.server.OdcServer"
#define MIGRATE_LOGGER "c.o.o.core.migrate.BootstrapMigrates"
#define WEB_LOGGER     "o.s.b.w.embedded.tomcat.TomcatWebServer"

/* ------------------------------------------------------------------ logging */

static FILE *log_file; /* $ODC_HOME/log/odc.log when the directory exists */

static void log_event(const char *level, const char *logger, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* One line per event, shaped like Spring Boot's console pattern, on stdout (docker logs)
 * and in the log file; flushed at once so that a crash loses nothing. */
static void
log_event(const char *level, const char *logger, const char *fmt, ...)
{
	char msg[2048], stamp[64];
	struct timespec ts;
	struct tm tm;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
	/* Like ODC's log4j2 file appender: to /opt/odc/log/odc.log only; under
	 * supervisord nothing of it reaches `docker logs`. Stdout only when the
	 * log directory is missing. */
	if (log_file == NULL) {
		printf("%s.%03ld %5s %d --- [main] %-40s : %s\n", stamp, ts.tv_nsec / 1000000L, level,
		       (int)getpid(), logger, msg);
		fflush(stdout);
	} else {
		fprintf(log_file, "%s.%03ld %5s %d --- [main] %-40s : %s\n", stamp,
		        ts.tv_nsec / 1000000L, level, (int)getpid(), logger, msg);
		fflush(log_file);
	}
}

static void
log_open_file(void)
{
	const char *home = getenv("ODC_HOME");
	char dir[PATH_MAX], path[PATH_MAX];
	struct stat st;

	if (home == NULL || home[0] == '\0')
		home = "/opt/odc";
	if (snprintf(dir, sizeof(dir), "%s/log", home) >= (int)sizeof(dir))
		return;
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		return;
	if (snprintf(path, sizeof(path), "%s/odc.log", dir) >= (int)sizeof(path))
		return;
	log_file = fopen(path, "a");
}

/* ------------------------------------------------------------------ SHA-1 (checksums) */

struct sha1 {
	uint32_t h[5];
	uint64_t len;
	unsigned char block[64];
	size_t used;
};

static uint32_t
rol32(uint32_t x, int n)
{
	return (x << n) | (x >> (32 - n));
}

static void
sha1_block(struct sha1 *s, const unsigned char *p)
{
	uint32_t w[80], a, b, c, d, e, f, k, t;
	int i;

	for (i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
	for (i = 16; i < 80; i++)
		w[i] = rol32(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
	a = s->h[0];
	b = s->h[1];
	c = s->h[2];
	d = s->h[3];
	e = s->h[4];
	for (i = 0; i < 80; i++) {
		if (i < 20) {
			f = (b & c) | (~b & d);
			k = 0x5A827999u;
		} else if (i < 40) {
			f = b ^ c ^ d;
			k = 0x6ED9EBA1u;
		} else if (i < 60) {
			f = (b & c) | (b & d) | (c & d);
			k = 0x8F1BBCDCu;
		} else {
			f = b ^ c ^ d;
			k = 0xCA62C1D6u;
		}
		t = rol32(a, 5) + f + e + k + w[i];
		e = d;
		d = c;
		c = rol32(b, 30);
		b = a;
		a = t;
	}
	s->h[0] += a;
	s->h[1] += b;
	s->h[2] += c;
	s->h[3] += d;
	s->h[4] += e;
}

static void
sha1_init(struct sha1 *s)
{
	static const uint32_t iv[5] = {0x67452301u, 0xEFCDAB89u, 0x98BADCFEu, 0x10325476u,
	                               0xC3D2E1F0u};

	memcpy(s->h, iv, sizeof(iv));
	s->len = 0;
	s->used = 0;
}

static void
sha1_update(struct sha1 *s, const void *data, size_t n)
{
	const unsigned char *p = data;

	s->len += n;
	while (n > 0) {
		size_t take = 64 - s->used;

		if (take > n)
			take = n;
		memcpy(s->block + s->used, p, take);
		s->used += take;
		p += take;
		n -= take;
		if (s->used == 64) {
			sha1_block(s, s->block);
			s->used = 0;
		}
	}
}

/* Writes 40 lowercase hex digits and a NUL to out. */
static void
sha1_final_hex(struct sha1 *s, char out[41])
{
	unsigned char pad[72] = {0x80};
	uint64_t bits = s->len * 8;
	size_t padlen = (s->used < 56) ? 56 - s->used : 120 - s->used;
	unsigned char lenbuf[8];
	int i;

	for (i = 0; i < 8; i++)
		lenbuf[i] = (unsigned char)(bits >> (56 - 8 * i));
	sha1_update(s, pad, padlen);
	sha1_update(s, lenbuf, 8);
	for (i = 0; i < 5; i++)
		snprintf(out + 8 * i, 9, "%08x", s->h[i]);
}

/* ------------------------------------------------------------------ versions */

/* Parses "4.2.0.1" into at most VERSION_PARTS numbers; returns the count, or -1 when the
 * text is not dotted decimal. */
static int
version_parse(const char *v, long parts[VERSION_PARTS])
{
	int n = 0;

	while (*v != '\0') {
		char *end;

		if (n == VERSION_PARTS || *v < '0' || *v > '9')
			return -1;
		errno = 0;
		parts[n++] = strtol(v, &end, 10);
		if (errno != 0)
			return -1;
		v = end;
		if (*v == '.') {
			v++;
			if (*v == '\0')
				return -1;
		} else if (*v != '\0') {
			return -1;
		}
	}
	return n;
}

/* Numeric, component by component; a missing component counts as 0 ("4.2" == "4.2.0").
 * Unparsable text sorts first. */
static int
version_cmp(const char *a, const char *b)
{
	long pa[VERSION_PARTS], pb[VERSION_PARTS];
	int na = version_parse(a, pa), nb = version_parse(b, pb), i;

	if (na < 0 && nb < 0)
		return strcmp(a, b);
	if (na < 0 || nb < 0)
		return na < 0 ? -1 : 1;
	for (i = 0; i < VERSION_PARTS && (i < na || i < nb); i++) {
		long x = i < na ? pa[i] : 0, y = i < nb ? pb[i] : 0;

		if (x != y)
			return x < y ? -1 : 1;
	}
	return 0;
}

/* The release a migration belongs to: its first three components ("4.3.0" for "4.3.0.2"). */
static int
version_release_cmp(const char *migration, const char *release)
{
	long pm[VERSION_PARTS], pr[VERSION_PARTS];
	int nm = version_parse(migration, pm), nr = version_parse(release, pr), i;

	if (nm < 0 || nr < 0)
		return 1;
	for (i = 0; i < 3; i++) {
		long x = i < nm ? pm[i] : 0, y = i < nr ? pr[i] : 0;

		if (x != y)
			return x < y ? -1 : 1;
	}
	return 0;
}

/* ------------------------------------------------------------------ migrations */

struct migration {
	const char *version;
	const char *description;
	const char *script;
	const char *const *stmts; /* NULL-terminated */
};

static const char *const m_4_2_0_1[] = {
    "CREATE TABLE odc_user (id BIGINT NOT NULL PRIMARY KEY, name VARCHAR(64), "
    "email VARCHAR(128)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    "CREATE TABLE odc_connection (id BIGINT NOT NULL PRIMARY KEY, name VARCHAR(64), "
    "host VARCHAR(128), port INT) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    "CREATE TABLE config_system_configuration (`key` VARCHAR(128) NOT NULL PRIMARY KEY, "
    "value VARCHAR(1024)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    NULL,
};

/* Values with commas, quotes, a newline, a backslash, a literal \N and NULLs: whatever a
 * dump and load must carry through unchanged. */
static const char *const m_4_2_0_2[] = {
    "INSERT INTO odc_user (id, name, email) VALUES (1, 'admin', 'admin@example.com'), "
    "(2, 'O''Brien, Pat', 'pat\"the quote\"@example.com'), (3, 'no mail', NULL)",
    "INSERT INTO odc_connection (id, name, host, port) VALUES "
    "(1, 'prod-oceanbase', '10.0.0.1', 2881), "
    "(2, 'dev, \"test\" cluster', 'ob-dev.example.com', 2883), "
    "(3, 'line one\\nline two', '127.0.0.1', NULL)",
    "INSERT INTO config_system_configuration (`key`, value) VALUES "
    "('odc.site.name', 'ODC'), "
    "('odc.notify.template', 'Hello, \"user\"\\nwelcome'), "
    "('odc.data.path', 'C:\\\\odc\\\\data'), "
    "('odc.literal.null', '\\\\N'), "
    "('odc.unset', NULL)",
    NULL,
};

static const char *const m_4_3_0_1[] = {
    "CREATE TABLE odc_schedule (id BIGINT NOT NULL PRIMARY KEY, name VARCHAR(64), "
    "cron VARCHAR(64)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    "INSERT INTO odc_schedule (id, name, cron) VALUES (1, 'nightly-backup', '0 0 2 * * ?'), "
    "(2, 'weekly, report', '0 0 8 ? * MON')",
    NULL,
};

static const char *const m_4_3_0_2[] = {
    "ALTER TABLE odc_connection ADD COLUMN env VARCHAR(32) NOT NULL DEFAULT 'prod'",
    "INSERT INTO config_system_configuration (`key`, value) VALUES "
    "('odc.schedule.enabled', 'true')",
    NULL,
};

static const struct migration migrations[] = {
    {"4.2.0.1", "init", "V_4_2_0_1__init.sql", m_4_2_0_1},
    {"4.2.0.2", "init data", "V_4_2_0_2__init_data.sql", m_4_2_0_2},
    {"4.3.0.1", "add schedule", "V_4_3_0_1__add_schedule.sql", m_4_3_0_1},
    {"4.3.0.2", "add connection env", "V_4_3_0_2__add_connection_env.sql", m_4_3_0_2},
};
#define N_MIGRATIONS (sizeof(migrations) / sizeof(migrations[0]))

static void
migration_checksum(const struct migration *m, char out[41])
{
	struct sha1 s;
	size_t i;

	sha1_init(&s);
	for (i = 0; m->stmts[i] != NULL; i++) {
		sha1_update(&s, m->stmts[i], strlen(m->stmts[i]));
		sha1_update(&s, ";\n", 2);
	}
	sha1_final_hex(&s, out);
}

/* ------------------------------------------------------------------ configuration */

struct config {
	const char *db_host, *db_user, *db_password, *db_name, *profile;
	unsigned db_port, server_port;
	long start_delay_ms, connect_timeout_s;
	char version[VERSION_MAX]; /* the release, "4.2.0": what migrations compare with */
	char build[VERSION_MAX];   /* what /api/v1/info reports, "4.2.0-20230916" */
};

/* Parses a decimal in [lo, hi]; returns 0 on success. */
static int
parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	if (s == NULL || *s == '\0')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static int
config_required(const char *name, const char **out)
{
	const char *v = getenv(name);

	if (v == NULL || v[0] == '\0') {
		log_event("ERROR", SERVER_LOGGER,
		          "Required environment variable %s is not set, ODC server cannot start",
		          name);
		return -1;
	}
	*out = v;
	return 0;
}

static int
config_load(struct config *c)
{
	const char *vfile = getenv("ODC_STANDIN_VERSION_FILE");
	const char *s;
	char buf[VERSION_MAX + 2];
	long parts[VERSION_PARTS], v;
	int bad = 0;
	size_t n;
	FILE *f;

	memset(c, 0, sizeof(*c));
	bad |= config_required("DATABASE_HOST", &c->db_host);
	bad |= config_required("DATABASE_PORT", &s);
	if (s != NULL) {
		if (parse_long(s, 1, 65535, &v) != 0) {
			log_event("ERROR", SERVER_LOGGER, "DATABASE_PORT '%s' is not a port", s);
			bad = -1;
		} else {
			c->db_port = (unsigned)v;
		}
	}
	bad |= config_required("DATABASE_USERNAME", &c->db_user);
	bad |= config_required("DATABASE_NAME", &c->db_name);
	c->db_password = getenv("DATABASE_PASSWORD");
	if (c->db_password == NULL)
		c->db_password = "";
	c->profile = getenv("ODC_PROFILE_MODE");
	if (c->profile == NULL || c->profile[0] == '\0')
		c->profile = "alipay";
	s = getenv("ODC_SERVER_PORT");
	c->server_port = 8989;
	if (s != NULL && s[0] != '\0') {
		if (parse_long(s, 1, 65535, &v) != 0) {
			log_event("ERROR", SERVER_LOGGER, "ODC_SERVER_PORT '%s' is not a port", s);
			bad = -1;
		} else {
			c->server_port = (unsigned)v;
		}
	}
	c->start_delay_ms = 3000;
	s = getenv("ODC_STANDIN_START_DELAY_MS");
	if (s != NULL && s[0] != '\0' && parse_long(s, 0, 600000, &c->start_delay_ms) != 0) {
		log_event("ERROR", SERVER_LOGGER, "ODC_STANDIN_START_DELAY_MS '%s' is invalid", s);
		bad = -1;
	}
	c->connect_timeout_s = 30;
	s = getenv("ODC_STANDIN_CONNECT_TIMEOUT_S");
	if (s != NULL && s[0] != '\0' && parse_long(s, 0, 3600, &c->connect_timeout_s) != 0) {
		log_event("ERROR", SERVER_LOGGER, "ODC_STANDIN_CONNECT_TIMEOUT_S '%s' is invalid",
		          s);
		bad = -1;
	}

	if (vfile == NULL || vfile[0] == '\0')
		vfile = "/odc/VERSION";
	f = fopen(vfile, "r");
	if (f == NULL) {
		log_event("ERROR", SERVER_LOGGER, "cannot read %s: %s", vfile, strerror(errno));
		return -1;
	}
	if (fgets(buf, sizeof(buf), f) == NULL)
		buf[0] = '\0';
	fclose(f);
	n = strcspn(buf, " \t\r\n");
	buf[n] = '\0';
	/* A release build's version is <main>-<release id> (ODC's
	 * script/change_version.sh set-release: the date by default). */
	size_t main_len = strcspn(buf, "-");
	if (n == 0 || n >= VERSION_MAX) {
		log_event("ERROR", SERVER_LOGGER, "%s does not hold a version", vfile);
		return -1;
	}
	memcpy(c->build, buf, n + 1);
	buf[main_len] = '\0';
	if (version_parse(buf, parts) < 1) {
		log_event("ERROR", SERVER_LOGGER, "%s does not hold a version", vfile);
		return -1;
	}
	memcpy(c->version, buf, main_len + 1);
	return bad;
}

/* ------------------------------------------------------------------ metadb */

/* Client errors that mean "the server is not there (yet)"; anything the server itself
 * answered (access denied, unknown database) is final. */
static int
db_error_transient(unsigned err)
{
	return err == CR_CONNECTION_ERROR || err == CR_CONN_HOST_ERROR ||
	       err == CR_SERVER_GONE_ERROR || err == CR_SERVER_LOST || err == CR_UNKNOWN_HOST ||
	       err == ER_CON_COUNT_ERROR;
}

static MYSQL *
db_connect(const struct config *c)
{
	time_t deadline = time(NULL) + c->connect_timeout_s;
	unsigned timeout = 5;
	int attempt = 0;

	for (;;) {
		MYSQL *db = mysql_init(NULL);
		unsigned err;

		if (db == NULL) {
			log_event("ERROR", SERVER_LOGGER, "mysql_init: out of memory");
			return NULL;
		}
		mysql_options(db, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
		mysql_options(db, MYSQL_SET_CHARSET_NAME, "utf8mb4");
		attempt++;
		if (mysql_real_connect(db, c->db_host, c->db_user, c->db_password, c->db_name,
		                       c->db_port, NULL, 0) != NULL) {
			log_event("INFO", "com.zaxxer.hikari.HikariDataSource",
			          "HikariPool-1 - Start completed. metadb %s:%u/%s as %s",
			          c->db_host, c->db_port, c->db_name, c->db_user);
			return db;
		}
		err = mysql_errno(db);
		log_event("ERROR", "com.zaxxer.hikari.pool.HikariPool",
		          "HikariPool-1 - Exception during pool initialization (attempt %d): "
		          "(%u) %s",
		          attempt, err, mysql_error(db));
		mysql_close(db);
		if (!db_error_transient(err) || time(NULL) >= deadline) {
			log_event("ERROR", SERVER_LOGGER,
			          "Failed to connect to metadb %s:%u/%s, ODC server cannot start",
			          c->db_host, c->db_port, c->db_name);
			return NULL;
		}
		sleep(2);
	}
}

static int
db_exec(MYSQL *db, const char *sql)
{
	if (mysql_query(db, sql) != 0) {
		log_event("ERROR", MIGRATE_LOGGER, "SQL failed: (%u) %s; sql=%.200s",
		          mysql_errno(db), mysql_error(db), sql);
		return -1;
	}
	/* Discard any result so that the connection stays usable. */
	do {
		MYSQL_RES *r = mysql_store_result(db);

		if (r != NULL)
			mysql_free_result(r);
	} while (mysql_next_result(db) == 0);
	return 0;
}

/* ODC's own DDL for the table (columns nullable, as in ODC's template). */
static int
history_ensure(MYSQL *db)
{
	return db_exec(
	    db, "CREATE TABLE IF NOT EXISTS " HISTORY_TABLE " ("
	        "`install_rank` BIGINT NOT NULL AUTO_INCREMENT COMMENT 'install rank', "
	        "`version` VARCHAR(64) DEFAULT NULL COMMENT 'version', "
	        "`description` VARCHAR(64) DEFAULT NULL COMMENT 'description', "
	        "`type` VARCHAR(64) DEFAULT NULL COMMENT 'type, optional values: SQL/JDBC', "
	        "`script` VARCHAR(128) DEFAULT NULL COMMENT 'script name', "
	        "`checksum` VARCHAR(64) DEFAULT NULL COMMENT 'sha1 checksum', "
	        "`installed_by` VARCHAR(64) NULL DEFAULT NULL COMMENT 'installed by user', "
	        "`installed_on` DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP "
	        "COMMENT 'installed timestamp', "
	        "`execution_millis` BIGINT NOT NULL DEFAULT 0 "
	        "COMMENT 'execution duration milliseconds', "
	        "`success` BOOLEAN NOT NULL DEFAULT 0 COMMENT 'is success: 1 success, 0 failed', "
	        "PRIMARY KEY (`install_rank`)"
	        ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4");
}

struct history {
	char (*versions)[256]; /* "version\tscript" of successful rows */
	size_t n;
	char max[VERSION_MAX * 2];
};

static void
history_free(struct history *h)
{
	free(h->versions);
	h->versions = NULL;
	h->n = 0;
}

/* Reads the successful rows; max is the highest version among them ("" when none). */
static int
history_load(MYSQL *db, struct history *h)
{
	MYSQL_RES *res;
	MYSQL_ROW row;
	size_t cap;

	memset(h, 0, sizeof(*h));
	if (mysql_query(db, "SELECT version, script FROM " HISTORY_TABLE " WHERE success = 1") !=
	    0) {
		log_event("ERROR", MIGRATE_LOGGER, "cannot read %s: (%u) %s", HISTORY_TABLE,
		          mysql_errno(db), mysql_error(db));
		return -1;
	}
	res = mysql_store_result(db);
	if (res == NULL)
		return -1;
	cap = mysql_num_rows(res) + 1;
	h->versions = calloc(cap, sizeof(*h->versions));
	if (h->versions == NULL) {
		mysql_free_result(res);
		return -1;
	}
	while ((row = mysql_fetch_row(res)) != NULL) {
		const char *v = row[0] ? row[0] : "", *s = row[1] ? row[1] : "";

		snprintf(h->versions[h->n++], sizeof(h->versions[0]), "%s\t%s", v, s);
		if (h->max[0] == '\0' || version_cmp(v, h->max) > 0)
			snprintf(h->max, sizeof(h->max), "%s", v);
	}
	mysql_free_result(res);
	return 0;
}

static int
history_has(const struct history *h, const struct migration *m)
{
	char key[256];
	size_t i;

	snprintf(key, sizeof(key), "%s\t%s", m->version, m->script);
	for (i = 0; i < h->n; i++)
		if (strcasecmp(h->versions[i], key) == 0)
			return 1;
	return 0;
}

static int
history_record(MYSQL *db, const struct config *c, const struct migration *m, int success,
               long long millis)
{
	char sql[SQL_MAX], user[2 * 64 + 1], sum[41];
	size_t ulen = strlen(c->db_user);

	if (ulen > 64)
		ulen = 64;
	mysql_real_escape_string(db, user, c->db_user, (unsigned long)ulen);
	migration_checksum(m, sum);
	snprintf(sql, sizeof(sql),
	         "INSERT INTO " HISTORY_TABLE " (version, description, type, script, checksum, "
	         "installed_by, execution_millis, success) VALUES ('%s', '%s', 'SQL', '%s', "
	         "'%s', '%s', %lld, %d)",
	         m->version, m->description, m->script, sum, user, millis, success);
	return db_exec(db, sql);
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ODC's BootstrapMigrates: refuse a degrade, then run each versioned migration of this
 * release that has no successful history row, recording the outcome either way. */
static int
migrate(MYSQL *db, const struct config *c)
{
	const char *current = NULL;
	struct history h;
	int rc = -1, applied = 0;
	size_t i;

	if (history_ensure(db) != 0 || history_load(db, &h) != 0)
		return -1;
	for (i = 0; i < N_MIGRATIONS; i++)
		if (version_release_cmp(migrations[i].version, c->version) <= 0)
			current = migrations[i].version;
	if (current == NULL) {
		log_event("ERROR", MIGRATE_LOGGER, "no migration belongs to release %s",
		          c->version);
		goto out;
	}
	log_event("INFO", MIGRATE_LOGGER, "Version check, current version=%s, metadb version=%s",
	          current, h.max[0] ? h.max : "(empty)");
	if (h.max[0] != '\0' && version_cmp(h.max, current) > 0) {
		log_event("ERROR", MIGRATE_LOGGER,
		          "Software degrade is not allowed, please check your ODC version which "
		          "should be greater than or equal to %s (running ODC %s, migrations up "
		          "to %s)",
		          h.max, c->version, current);
		goto out;
	}
	for (i = 0; i < N_MIGRATIONS; i++) {
		const struct migration *m = &migrations[i];
		long long t0;
		size_t j;
		int ok = 1;

		if (version_release_cmp(m->version, c->version) > 0)
			break;
		if (history_has(&h, m)) {
			log_event("INFO", MIGRATE_LOGGER,
			          "skip migrated versioned migrator, version=%s, script=%s",
			          m->version, m->script);
			continue;
		}
		log_event("INFO", MIGRATE_LOGGER, "migrate start, version=%s, script=%s",
		          m->version, m->script);
		t0 = now_ms();
		for (j = 0; ok && m->stmts[j] != NULL; j++)
			ok = db_exec(db, m->stmts[j]) == 0;
		if (history_record(db, c, m, ok, now_ms() - t0) != 0 || !ok) {
			log_event("ERROR", MIGRATE_LOGGER, "migrate failed, version=%s, script=%s",
			          m->version, m->script);
			goto out;
		}
		applied++;
		log_event("INFO", MIGRATE_LOGGER, "migrate done, version=%s, script=%s", m->version,
		          m->script);
	}
	log_event("INFO", MIGRATE_LOGGER, "metadb migrate completed, %d migration(s) applied",
	          applied);
	rc = 0;
out:
	history_free(&h);
	return rc;
}

/* ------------------------------------------------------------------ HTTP */

static char start_stamp[32];
static char hostname[64];

static void
request_id(char out[33])
{
	static unsigned long long counter;
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	counter++;
	snprintf(out, 33, "%016llx%08lx%08llx", (unsigned long long)ts.tv_sec,
	         (unsigned long)ts.tv_nsec, counter & 0xffffffffULL);
}

/* Wraps data in ODC's SuccessResponse envelope. */
static void
envelope(char *out, size_t cap, const char *data, int ok, const char *status)
{
	char rid[33];
	struct timespec ts;

	request_id(rid);
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(out, cap,
	         "{\"data\":%s,\"durationMillis\":0,\"httpStatus\":\"%s\",\"requestId\":\"%s\","
	         "\"server\":\"%s\",\"successful\":%s,\"timestamp\":%lld.%03ld,"
	         "\"traceId\":\"%.16s\"}",
	         data, status, rid, hostname, ok ? "true" : "false", (long long)ts.tv_sec,
	         ts.tv_nsec / 1000000L, rid + 16);
}

static void
http_send(int fd, int code, const char *reason, const char *type, const char *body)
{
	char head[512];
	size_t blen = strlen(body);
	int n = snprintf(head, sizeof(head),
	                 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	                 "Connection: close\r\n\r\n",
	                 code, reason, type, blen);
	const char *parts[2] = {head, body};
	size_t lens[2] = {(size_t)n, blen};
	int i;

	for (i = 0; i < 2; i++) {
		const char *p = parts[i];
		size_t left = lens[i];

		while (left > 0) {
			ssize_t w = send(fd, p, left, MSG_NOSIGNAL);

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				return;
			p += w;
			left -= (size_t)w;
		}
	}
}

/* Reads one request head, at most REQUEST_MAX bytes, and answers it. */
static void
http_serve_one(int fd, const struct config *c)
{
	char req[REQUEST_MAX + 1], body[RESPONSE_MAX], data[512];
	char method[16], path[1024];
	size_t used = 0;
	struct timeval tv = {5, 0};

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	for (;;) {
		ssize_t r;

		if (used == REQUEST_MAX) {
			envelope(body, sizeof(body), "null", 0, "REQUEST_HEADER_FIELDS_TOO_LARGE");
			http_send(fd, 431, "Request Header Fields Too Large", "application/json",
			          body);
			return;
		}
		r = recv(fd, req + used, REQUEST_MAX - used, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return;
		used += (size_t)r;
		req[used] = '\0';
		if (strstr(req, "\r\n\r\n") != NULL || strstr(req, "\n\n") != NULL)
			break;
	}
	if (sscanf(req, "%15s %1023s", method, path) != 2) {
		envelope(body, sizeof(body), "null", 0, "BAD_REQUEST");
		http_send(fd, 400, "Bad Request", "application/json", body);
		return;
	}
	path[strcspn(path, "?#")] = '\0';
	if (strcmp(method, "GET") != 0) {
		envelope(body, sizeof(body), "null", 0, "METHOD_NOT_ALLOWED");
		http_send(fd, 405, "Method Not Allowed", "application/json", body);
		return;
	}
	if (strcmp(path, "/api/v1/heartbeat/isHealthy") == 0) {
		envelope(body, sizeof(body), "true", 1, "OK");
		http_send(fd, 200, "OK", "application/json", body);
	} else if (strcmp(path, "/api/v1/info") == 0) {
		snprintf(data, sizeof(data),
		         "{\"version\":\"%s\",\"buildTime\":\"%s\",\"startTime\":\"%s\","
		         "\"profile\":\"%s\",\"supportEmail\":\"odcsupport@oceanbase.com\","
		         "\"supportUrl\":\"https://www.oceanbase.com/docs/odc\"}",
		         c->build, "2024-01-01T00:00:00Z", start_stamp, c->profile);
		envelope(body, sizeof(body), data, 1, "OK");
		http_send(fd, 200, "OK", "application/json", body);
	} else if (strcmp(path, "/api/v1/status") == 0) {
		http_send(fd, 200, "OK", "text/plain;charset=UTF-8", "okay");
	} else {
		envelope(body, sizeof(body), "null", 0, "NOT_FOUND");
		http_send(fd, 404, "Not Found", "application/json", body);
	}
}

static int
http_run(const struct config *c)
{
	struct sockaddr_in addr;
	int one = 1, fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_event("ERROR", WEB_LOGGER, "socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_ANY);
	addr.sin_port = htons((uint16_t)c->server_port);
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(fd, 64) != 0) {
		log_event("ERROR", WEB_LOGGER,
		          "Web server failed to start. Port %u was already in use (%s).",
		          c->server_port, strerror(errno));
		close(fd);
		return -1;
	}
	log_event("INFO", WEB_LOGGER, "Tomcat started on port(s): %u (http) with context path ''",
	          c->server_port);
	log_event("INFO", SERVER_LOGGER, "Started OdcServer %s, ODC is ready", c->build);
	for (;;) {
		int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

		if (cfd < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE ||
			    errno == ENFILE)
				continue;
			log_event("ERROR", WEB_LOGGER, "accept: %s", strerror(errno));
			close(fd);
			return -1;
		}
		http_serve_one(cfd, c);
		close(cfd);
	}
}

/* ------------------------------------------------------------------ main */

static void
sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

int
main(void)
{
	struct config c;
	struct tm tm;
	time_t now = time(NULL);
	const char *jopts = getenv("JAVA_OPTS");
	MYSQL *db;

	signal(SIGPIPE, SIG_IGN);
	log_open_file();
	gmtime_r(&now, &tm);
	strftime(start_stamp, sizeof(start_stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (gethostname(hostname, sizeof(hostname)) != 0)
		snprintf(hostname, sizeof(hostname), "odc");
	hostname[sizeof(hostname) - 1] = '\0';
	hostname[strcspn(hostname, "\"\\")] = '\0';

	if (config_load(&c) != 0) {
		log_event("ERROR", SERVER_LOGGER, "Application run failed: invalid configuration");
		return 1;
	}
	log_event("INFO", SERVER_LOGGER,
	          "Starting ODC server %s with PID %d (profile %s, JAVA_OPTS=%s)", c.build,
	          (int)getpid(), c.profile, jopts ? jopts : "");
	log_event("INFO", SERVER_LOGGER, "metadb %s:%u database %s user %s", c.db_host, c.db_port,
	          c.db_name, c.db_user);
	if (mysql_library_init(0, NULL, NULL) != 0) {
		log_event("ERROR", SERVER_LOGGER, "cannot initialise the MySQL client library");
		return 1;
	}
	db = db_connect(&c);
	if (db == NULL)
		return 1;
	if (migrate(db, &c) != 0) {
		mysql_close(db);
		log_event("ERROR", SERVER_LOGGER,
		          "Application run failed: metadb migration did not complete");
		return 1;
	}
	mysql_close(db);
	log_event("INFO", SERVER_LOGGER, "Initializing web services, this takes a while (%ld ms)",
	          c.start_delay_ms);
	sleep_ms(c.start_delay_ms);
	return http_run(&c) == 0 ? 0 : 1;
}
