/* Stand-in for the ODC web server (oceanbase/odc-server) in the test world: it creates and
 * migrates its metadb with ODC's own DDL (a subset of ODC's real migration scripts, shipped as
 * files) the way ODC's Migrates does, refuses a degrade like ODC, then answers ODC's health
 * endpoints.
 *
 * Environment (as the real image): DATABASE_HOST, DATABASE_PORT, DATABASE_USERNAME,
 * DATABASE_PASSWORD (may be empty), DATABASE_NAME, ODC_PROFILE_MODE (default alipay),
 * ODC_SERVER_PORT (default 8989), ODC_HOME (default /opt/odc; log/odc.log is appended when
 * that directory exists). Stand-in knobs: ODC_STANDIN_START_DELAY_MS (default 3000; the
 * real server needs about two minutes), ODC_STANDIN_MIGRATE_DELAY_MS (default 0),
 * ODC_STANDIN_MIGRATION_MS (default 0: how long a migration lasts at least, the lock held),
 * ODC_STANDIN_CONNECT_TIMEOUT_S (default 30), ODC_STANDIN_DIR (default /odc: VERSION, FAULT,
 * migrate/, init/, seed/ and the history table template), ODC_STANDIN_VERSION_FILE (default
 * $ODC_STANDIN_DIR/VERSION, this build's own release). The optional file FAULT of an image
 * holds "after-migrate": that release migrates, then fails to start (build-images.sh).
 * Concurrent nodes on one metadb take ODC's migration lock (lock.c).
 *
 * Exit status: 0 never (it serves until killed), 1 on any startup failure. */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
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

#include "standin.h"

#define VERSION_PARTS  8
#define REQUEST_MAX    8192
#define RESPONSE_MAX   4096
#define SQL_MAX        4096
#define SCRIPT_MAX     (4 * 1024 * 1024) /* bytes of one SQL file */
#define MIGRATORS_MAX  512
#define HISTORY_MAX    100000 /* successful rows of migrate_schema_history read */
#define HISTORY_TABLE  "migrate_schema_history"
#define JDBC_CHECKSUM  "no checksum for JDBC" /* JdbcMigrator.java:55-78 */
#define SERVER_LOGGER  "c.o.odc.server.OdcServer"
#define MIGRATE_LOGGER "c.o.odc.core.migrate.Migrates"
#define SCRIPT_LOGGER  "o.s.jdbc.datasource.init.ScriptUtils"
#define SAMPLE_LOGGER  "c.o.odc.standin.SampleData"
#define WEB_LOGGER     "o.s.b.w.embedded.tomcat.TomcatWebServer"

/* ------------------------------------------------------------------ logging */

static FILE *log_file; /* $ODC_HOME/log/odc.log when the directory exists */

/* One line per event, shaped like Spring Boot's console pattern, on stdout (docker logs)
 * and in the log file; flushed at once so that a crash loses nothing. */
void
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
		printf("%s.%03ld %5s %d --- [main] %-40s : %s\n", stamp, ts.tv_nsec / 1000000L,
		       level, (int)getpid(), logger, msg);
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

/* ------------------------------------------------------------------ files and scripts */

/* Reads a whole regular file of at most max bytes into a NUL-terminated buffer the caller
 * frees. Returns 0, or -1 with errno set (EFBIG when the file is larger than max). */
static int
file_read(const char *path, size_t max, char **out, size_t *outlen)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int rc = -1;

	*out = NULL;
	*outlen = 0;
	if (f == NULL)
		return -1;
	for (;;) {
		size_t got;

		if (len == cap) {
			char *nb;

			if (cap > max) {
				errno = EFBIG;
				goto out;
			}
			cap = cap ? cap * 2 : 16384;
			nb = realloc(buf, cap + 1);
			if (nb == NULL)
				goto out;
			buf = nb;
		}
		got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (got == 0)
			break;
	}
	if (ferror(f))
		goto out;
	if (len > max) {
		errno = EFBIG;
		goto out;
	}
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	buf = NULL;
	rc = 0;
out:
	free(buf);
	fclose(f);
	return rc;
}

static int
file_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Calls each(ctx, statement, length) for every statement of a script, split the way ODC runs
 * its .sql files (Spring's ScriptUtils.splitSqlScript behind ResourceDatabasePopulator): ';'
 * ends a statement unless inside '...' or "..."; a backslash escapes the next character;
 * outside quotes "--" drops the rest of the line and a block comment is dropped (so an
 * optimizer hint is never sent, as in ODC); blank statements are skipped; the last statement
 * needs no ';'. Whitespace is kept as written. Returns the first non-zero result of each(),
 * -1 when out of memory, else 0. */
static int
sql_split(const char *text, size_t len, int (*each)(void *ctx, const char *stmt, size_t n),
          void *ctx)
{
	char *sb = malloc(len + 1);
	size_t n = 0, i;
	int in_single = 0, in_double = 0, escape = 0, rc = 0;

	if (sb == NULL)
		return -1;
	for (i = 0; i < len && rc == 0; i++) {
		char c = text[i];

		if (escape) {
			escape = 0;
			sb[n++] = c;
			continue;
		}
		if (c == '\\') {
			escape = 1;
			sb[n++] = c;
			continue;
		}
		if (!in_double && c == '\'')
			in_single = !in_single;
		else if (!in_single && c == '"')
			in_double = !in_double;
		if (!in_single && !in_double) {
			if (c == ';') {
				size_t a = 0;

				while (a < n && isspace((unsigned char)sb[a]))
					a++;
				if (a < n)
					rc = each(ctx, sb + a, n - a);
				n = 0;
				continue;
			}
			if (c == '-' && i + 1 < len && text[i + 1] == '-') {
				while (i < len && text[i] != '\n')
					i++;
				if (n > 0 && sb[n - 1] != '\n')
					sb[n++] = '\n';
				continue;
			}
			if (c == '/' && i + 1 < len && text[i + 1] == '*') {
				const char *end = memmem(text + i + 2, len - i - 2, "*/", 2);

				i = end ? (size_t)(end - text) + 1 : len;
				continue;
			}
		}
		sb[n++] = c;
	}
	if (rc == 0) {
		size_t a = 0;

		while (a < n && isspace((unsigned char)sb[a]))
			a++;
		if (a < n)
			rc = each(ctx, sb + a, n - a);
	}
	free(sb);
	return rc;
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------ migrators */

enum mig_type { MIG_SQL, MIG_JDBC };

/* One of ODC's migrators (core/migrate/Migrator.java): a V_/R_ .sql file, or a JDBC one, which
 * in ODC is a Java class and here a function. */
struct migrator {
	char version[VERSION_MAX * 2];
	char description[128];
	char script[256];  /* file name, or the fully-qualified Java class name */
	char checksum[64]; /* sha1 of the file bytes, or JDBC_CHECKSUM */
	enum mig_type type;
	int repeatable;      /* R_ file or @Migratable(repeatable = true) */
	int ignore_checksum; /* repeatable JDBC run on every start */
	char *content;       /* SQL: the whole file; owned */
	size_t len;
	int (*run)(MYSQL *db); /* JDBC */
};

struct migrators {
	struct migrator *v;
	size_t n;
};

static void
migrators_free(struct migrators *ms)
{
	size_t i;

	for (i = 0; i < ms->n; i++)
		free(ms->v[i].content);
	free(ms->v);
	ms->v = NULL;
	ms->n = 0;
}

/* V3234SystemConfigurationMigrate (migrate/jdbc/common): copies every value that
 * V_3_2_3_3 moved to value_deprecated back into the new TEXT column. */
static int
jdbc_v3234(MYSQL *db)
{
	static const char sql[] =
	    "UPDATE `config_system_configuration` SET `value`=`value_deprecated` "
	    "WHERE `value_deprecated` IS NOT NULL AND `value` IS NULL";

	return db_exec(db, sql, sizeof(sql) - 1, "V3234SystemConfigurationMigrate", 1);
}

/* The real ones write metadata into tables outside the stand-in's subset: here they only
 * leave their history row, which is what makes a real metadb grow on every start. */
static int
jdbc_noop(MYSQL *db)
{
	(void)db;
	return 0;
}

/* ODC's JDBC migrators that the stand-in has, with the stand-in releases that ship them.
 * Sources: server/odc-migrate/src/main/java/com/oceanbase/odc/migrate/jdbc/common/<class>.java
 * (@Migratable). R4201 is gone from ODC 4.2.3 on, so the stand-in's 4.3.0 leaves its rows as
 * orphans; the four ignoreChecksum repeatables of ODC 4.2.3+ run on every start. */
static const struct jdbc_def {
	const char *version, *description, *class_name, *since, *until;
	int repeatable, ignore_checksum;
	int (*run)(MYSQL *db);
} jdbc_defs[] = {
    {"3.2.3.4", "migrate config_system_configuration value",
     "com.oceanbase.odc.migrate.jdbc.common.V3234SystemConfigurationMigrate", "4.2.0", NULL, 0, 0,
     jdbc_v3234},
    {"4.2.0.1", "Built-in audit event meta migrate",
     "com.oceanbase.odc.migrate.jdbc.common.R4201AuditEventMetaMigrate", "4.2.0", "4.2.0", 1, 1,
     jdbc_noop},
    {"4.2.0.17", "init regulation rule metadata",
     "com.oceanbase.odc.migrate.jdbc.common.R42017RuleMetadataMigrate", "4.2.0", NULL, 1, 1,
     jdbc_noop},
    {"4.2.3.7", "init default regulation rule applying",
     "com.oceanbase.odc.migrate.jdbc.common.R4237DefaultRuleApplyingMigrate", "4.3.0", NULL, 1, 1,
     jdbc_noop},
    {"4.2.3.9", "Built-in audit event meta migrate",
     "com.oceanbase.odc.migrate.jdbc.common.R4239AuditEventMetaMigrate", "4.3.0", NULL, 1, 1,
     jdbc_noop},
    {"4.2.4.3", "Built-in notification policy metadata migrate",
     "com.oceanbase.odc.migrate.jdbc.common.R4243NotificationPolicyMetaMigrate", "4.3.0", NULL, 1,
     1, jdbc_noop},
};

static struct migrator *
migrators_add(struct migrators *ms)
{
	struct migrator *m;

	if (ms->n == MIGRATORS_MAX) {
		log_event("ERROR", MIGRATE_LOGGER, "more than %d migrators", MIGRATORS_MAX);
		return NULL;
	}
	if (ms->n == 0) {
		ms->v = calloc(MIGRATORS_MAX, sizeof(*ms->v));
		if (ms->v == NULL)
			return NULL;
	}
	m = &ms->v[ms->n++];
	memset(m, 0, sizeof(*m));
	return m;
}

/* Parses a migration file name as SqlMigrator.initialize() does (SqlMigrator.java:64-81):
 * "V_4_2_0_9__alter_iam_organization.sql" is VERSIONED, version "4.2.0.9", description
 * "alter iam organization"; R_ is REPEATABLE and has a version too. Returns 0, -1 when the
 * name is not a migration's. */
static int
migrator_parse_name(struct migrator *m, const char *name)
{
	size_t len = strlen(name), stem;
	const char *sep, *p;
	size_t vlen, dlen, i;

	if (len < 5 || strcasecmp(name + len - 4, ".sql") != 0)
		return -1;
	stem = len - 4;
	if (strncmp(name, "V_", 2) == 0)
		m->repeatable = 0;
	else if (strncmp(name, "R_", 2) == 0)
		m->repeatable = 1;
	else
		return -1;
	sep = strstr(name, "__");
	/* Java's split("__") must give exactly two non-empty parts. */
	if (sep == NULL || (size_t)(sep - name) >= stem || (size_t)(sep - name) <= 2)
		return -1;
	p = sep + 2;
	if ((size_t)(p - name) >= stem)
		return -1;
	for (i = (size_t)(p - name); i + 1 < stem; i++)
		if (name[i] == '_' && name[i + 1] == '_')
			return -1;
	vlen = (size_t)(sep - name) - 2;
	dlen = stem - (size_t)(p - name);
	if (vlen >= sizeof(m->version) || dlen >= sizeof(m->description) ||
	    len >= sizeof(m->script))
		return -1;
	for (i = 0; i < vlen; i++)
		m->version[i] = name[2 + i] == '_' ? '.' : name[2 + i];
	m->version[vlen] = '\0';
	for (i = 0; i < dlen; i++)
		m->description[i] = p[i] == '_' ? ' ' : p[i];
	m->description[dlen] = '\0';
	memcpy(m->script, name, len + 1);
	return 0;
}

static int
migrator_cmp(const void *a, const void *b)
{
	const struct migrator *x = a, *y = b;
	int c = version_cmp(x->version, y->version);

	if (c != 0)
		return c;
	if (x->repeatable != y->repeatable)
		return x->repeatable - y->repeatable; /* VERSIONED first (Migrates.java:91-121) */
	if (x->type != y->type)
		return (int)x->type - (int)y->type; /* SQL scanned before JDBC */
	return strcmp(x->script, y->script);
}

/* Every migrator of this release: the V_/R_ .sql files of dir (checksummed over their bytes,
 * HashUtils.sha1) and the JDBC ones the release ships, sorted in ODC's execution order:
 * numeric version, VERSIONED before REPEATABLE. Rejects what Migrates.validate() rejects. */
static int
migrators_load(struct migrators *ms, const char *dir, const char *release)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t i, j;
	int rc = -1;

	memset(ms, 0, sizeof(*ms));
	if (d == NULL) {
		log_event("ERROR", MIGRATE_LOGGER, "cannot open %s: %s", dir, strerror(errno));
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		char path[PATH_MAX];
		struct migrator tmp, *m;
		struct sha1 s;

		memset(&tmp, 0, sizeof(tmp));
		if (e->d_name[0] == '.' || migrator_parse_name(&tmp, e->d_name) != 0)
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= (int)sizeof(path))
			continue;
		if ((m = migrators_add(ms)) == NULL)
			goto out;
		*m = tmp;
		m->type = MIG_SQL;
		if (file_read(path, SCRIPT_MAX, &m->content, &m->len) != 0) {
			log_event("ERROR", MIGRATE_LOGGER, "cannot read %s: %s", path,
			          strerror(errno));
			goto out;
		}
		sha1_init(&s);
		sha1_update(&s, m->content, m->len);
		sha1_final_hex(&s, m->checksum);
	}
	for (i = 0; i < sizeof(jdbc_defs) / sizeof(jdbc_defs[0]); i++) {
		const struct jdbc_def *jd = &jdbc_defs[i];
		struct migrator *m;

		if (version_cmp(release, jd->since) < 0 ||
		    (jd->until != NULL && version_cmp(release, jd->until) > 0))
			continue;
		if ((m = migrators_add(ms)) == NULL)
			goto out;
		snprintf(m->version, sizeof(m->version), "%s", jd->version);
		snprintf(m->description, sizeof(m->description), "%s", jd->description);
		snprintf(m->script, sizeof(m->script), "%s", jd->class_name);
		snprintf(m->checksum, sizeof(m->checksum), "%s", JDBC_CHECKSUM);
		m->type = MIG_JDBC;
		m->repeatable = jd->repeatable;
		m->ignore_checksum = jd->ignore_checksum;
		m->run = jd->run;
	}
	if (ms->n == 0) {
		log_event("ERROR", MIGRATE_LOGGER, "no migrator in %s", dir);
		goto out;
	}
	qsort(ms->v, ms->n, sizeof(*ms->v), migrator_cmp);
	for (i = 0; i < ms->n; i++) {
		for (j = i + 1; j < ms->n && strcmp(ms->v[i].version, ms->v[j].version) == 0; j++) {
			if (strcmp(ms->v[i].script, ms->v[j].script) == 0) {
				log_event("ERROR", MIGRATE_LOGGER,
				          "duplicated migrator exists, migrator=%s%s, count=2",
				          ms->v[i].version, ms->v[i].script);
				goto out;
			}
			if (!ms->v[i].repeatable && !ms->v[j].repeatable) {
				log_event("ERROR", MIGRATE_LOGGER,
				          "duplicated versioned script exists, migrator=%s, "
				          "scripts=%s,%s",
				          ms->v[i].version, ms->v[i].script, ms->v[j].script);
				goto out;
			}
		}
	}
	log_event("INFO", MIGRATE_LOGGER, "validate success");
	rc = 0;
out:
	closedir(d);
	if (rc != 0)
		migrators_free(ms);
	return rc;
}

/* ------------------------------------------------------------------ configuration */

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

/* A stand-in knob: the decimal in [lo, hi] the environment variable name holds, or def when it
 * is unset or empty. Returns 0, or -1 after logging an invalid value. */
static int
config_knob(const char *name, long lo, long hi, long def, long *out)
{
	const char *s = getenv(name);

	*out = def;
	if (s == NULL || s[0] == '\0')
		return 0;
	if (parse_long(s, lo, hi, out) != 0) {
		log_event("ERROR", SERVER_LOGGER, "%s '%s' is invalid", name, s);
		return -1;
	}
	return 0;
}

/* The first word of the file at path into out (cap bytes): "" when the file is missing or
 * empty (missing is an error only when required). Returns its length, or -1 after logging. */
static int
config_word(const char *path, char *out, size_t cap, int required)
{
	char buf[256];
	size_t n;
	FILE *f = fopen(path, "r");

	out[0] = '\0';
	if (f == NULL) {
		if (!required)
			return 0;
		log_event("ERROR", SERVER_LOGGER, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	if (fgets(buf, sizeof(buf), f) == NULL)
		buf[0] = '\0';
	fclose(f);
	n = strcspn(buf, " \t\r\n");
	buf[n] = '\0';
	if (n >= cap) {
		log_event("ERROR", SERVER_LOGGER, "%s: '%s' is too long", path, buf);
		return -1;
	}
	memcpy(out, buf, n + 1);
	return (int)n;
}

/* This build's release and version (ODC_STANDIN_VERSION_FILE, else DIR/VERSION) and the
 * image's fault (DIR/FAULT, optional). A release build's version is <main>-<release id>
 * (ODC's script/change_version.sh set-release: the date by default). Returns 0 or -1. */
static int
config_image(struct config *c)
{
	const char *vfile = getenv("ODC_STANDIN_VERSION_FILE");
	char vpath[PATH_MAX], fpath[PATH_MAX];
	long parts[VERSION_PARTS];
	size_t main_len;

	if (vfile == NULL || vfile[0] == '\0') {
		snprintf(vpath, sizeof(vpath), "%s/VERSION", c->dir);
		vfile = vpath;
	}
	if (config_word(vfile, c->build, sizeof(c->build), 1) <= 0) {
		log_event("ERROR", SERVER_LOGGER, "%s does not hold a version", vfile);
		return -1;
	}
	main_len = strcspn(c->build, "-");
	memcpy(c->version, c->build, main_len);
	c->version[main_len] = '\0';
	if (version_parse(c->version, parts) < 1) {
		log_event("ERROR", SERVER_LOGGER, "%s does not hold a version", vfile);
		return -1;
	}
	snprintf(fpath, sizeof(fpath), "%s/FAULT", c->dir);
	if (config_word(fpath, c->fault, sizeof(c->fault), 0) < 0)
		return -1;
	if (c->fault[0] != '\0' && strcmp(c->fault, "after-migrate") != 0) {
		log_event("ERROR", SERVER_LOGGER, "%s: unknown fault '%s'", fpath, c->fault);
		return -1;
	}
	return 0;
}

/* Reads the environment and the image's files into c. Returns 0, or -1 after logging every
 * problem found. */
static int
config_load(struct config *c)
{
	const char *s;
	long v;
	int bad = 0;

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
	if (config_knob("ODC_SERVER_PORT", 1, 65535, 8989, &v) != 0)
		bad = -1;
	c->server_port = (unsigned)v;
	bad |= config_knob("ODC_STANDIN_START_DELAY_MS", 0, 600000, 3000, &c->start_delay_ms);
	/* Real ODC migrates its metadb while Spring builds its context: the
	 * metadbMigrate bean, which the MyBatis session factory depends on
	 * (oceanbase/odc server/odc-service/src/main/java/com/oceanbase/odc/
	 * config/MetaDBConfiguration.java:124-125), after the JVM and the data
	 * source are up, some seconds after the container starts. The
	 * stand-in migrates at once unless told to wait: the harder case for
	 * whoever must stop a node before it migrates. */
	bad |= config_knob("ODC_STANDIN_MIGRATE_DELAY_MS", 0, 600000, 0, &c->migrate_delay_ms);
	/* How long the migration itself lasts at least, the lock held and the port
	 * closed throughout (a real one takes minutes on a large metadb). */
	bad |= config_knob("ODC_STANDIN_MIGRATION_MS", 0, 600000, 0, &c->migration_ms);
	bad |= config_knob("ODC_STANDIN_CONNECT_TIMEOUT_S", 0, 3600, 30, &c->connect_timeout_s);
	c->dir = getenv("ODC_STANDIN_DIR");
	if (c->dir == NULL || c->dir[0] == '\0')
		c->dir = "/odc";
	if (config_image(c) != 0)
		return -1;
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

/* Runs one statement and discards any result, so that the connection stays usable. what and
 * stmt_no name the statement in the error line (Spring's "statement #N of <script>"). */
int
db_exec(MYSQL *db, const char *sql, size_t len, const char *what, int stmt_no)
{
	if (mysql_real_query(db, sql, (unsigned long)len) != 0) {
		log_event("ERROR", SCRIPT_LOGGER,
		          "Failed to execute SQL script statement #%d of %s: %.*s; (%u) %s",
		          stmt_no, what, (int)(len > 300 ? 300 : len), sql, mysql_errno(db),
		          mysql_error(db));
		return -1;
	}
	do {
		MYSQL_RES *r = mysql_store_result(db);

		if (r != NULL)
			mysql_free_result(r);
	} while (mysql_next_result(db) == 0);
	return 0;
}

struct script_ctx {
	MYSQL *db;
	const char *name;
	int n;
};

static int
script_stmt(void *ctx, const char *stmt, size_t n)
{
	struct script_ctx *sc = ctx;

	return db_exec(sc->db, stmt, n, sc->name, ++sc->n);
}

/* Runs a script statement by statement, stopping at the first failure (what Spring's
 * ResourceDatabasePopulator does for ODC: no transaction, so what ran before stays). */
static int
script_run(MYSQL *db, const char *text, size_t len, const char *name)
{
	struct script_ctx sc = {db, name, 0};
	int rc = sql_split(text, len, script_stmt, &sc);

	if (rc < 0 && sc.n == 0)
		log_event("ERROR", SCRIPT_LOGGER, "cannot split %s: out of memory", name);
	return rc == 0 ? 0 : -1;
}

/* Runs the script file at path. */
static int
script_run_file(MYSQL *db, const char *path)
{
	char *text;
	size_t len;
	int rc;

	if (file_read(path, SCRIPT_MAX, &text, &len) != 0) {
		log_event("ERROR", SCRIPT_LOGGER, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	rc = script_run(db, text, len, path);
	free(text);
	return rc;
}

/* Spring sql-init of ODC's bootstrap context (config/bootstrap.yml:26-30, mode: always): on
 * every start, before the migrations, schema.sql then data.sql. */
static int
sql_init(MYSQL *db, const struct config *c)
{
	static const char *const files[] = {"schema.sql", "data.sql"};
	size_t i;

	for (i = 0; i < 2; i++) {
		char path[PATH_MAX];
		long long t0 = now_ms();

		snprintf(path, sizeof(path), "%s/init/%s", c->dir, files[i]);
		log_event("INFO", SCRIPT_LOGGER,
		          "Executing SQL script from class path resource [%s]", files[i]);
		if (script_run_file(db, path) != 0)
			return -1;
		log_event("INFO", SCRIPT_LOGGER,
		          "Executed SQL script from class path resource [%s] in %lld ms.", files[i],
		          now_ms() - t0);
	}
	return 0;
}

/* DefaultSchemaHistoryRepository.initialize(): ODC's template with ${schema_history}
 * replaced, run on every start (so its ALTER and UPDATEs run every time too). */
static int
history_ensure(MYSQL *db, const struct config *c)
{
	static const char var[] = "${schema_history}";
	char path[PATH_MAX], *text = NULL, *out = NULL;
	size_t len, n = 0, i;
	int rc = -1;

	snprintf(path, sizeof(path), "%s/migrate_schema_history_table_template.sql", c->dir);
	if (file_read(path, SCRIPT_MAX, &text, &len) != 0) {
		log_event("ERROR", MIGRATE_LOGGER, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	for (i = 0; i + sizeof(var) - 1 <= len; i++)
		if (memcmp(text + i, var, sizeof(var) - 1) == 0)
			n++;
	out = malloc(len + n * sizeof(HISTORY_TABLE) + 1);
	if (out == NULL)
		goto out;
	n = 0;
	for (i = 0; i < len;) {
		if (len - i >= sizeof(var) - 1 && memcmp(text + i, var, sizeof(var) - 1) == 0) {
			memcpy(out + n, HISTORY_TABLE, sizeof(HISTORY_TABLE) - 1);
			n += sizeof(HISTORY_TABLE) - 1;
			i += sizeof(var) - 1;
		} else {
			out[n++] = text[i++];
		}
	}
	rc = script_run(db, out, n, "migrate_schema_history_table_template.sql");
	if (rc == 0)
		log_event("INFO", "c.o.o.c.m.DefaultSchemaHistoryRepository",
		          "Schema history repository initialized.");
out:
	free(text);
	free(out);
	return rc;
}

/* The latest successful row of each (version, script), as listSuccess() reads them
 * (DefaultSchemaHistoryRepository.java:98-123). */
struct history_row {
	long long rank;
	char version[VERSION_MAX * 2 + 1];
	char script[257];
	char checksum[65];
};

struct history {
	struct history_row *rows;
	size_t n;
	char max[VERSION_MAX * 2 + 1]; /* numerically highest version, "" when none */
};

static void
history_free(struct history *h)
{
	free(h->rows);
	h->rows = NULL;
	h->n = 0;
}

static int
history_load(MYSQL *db, struct history *h)
{
	MYSQL_RES *res;
	MYSQL_ROW row;
	size_t i;

	memset(h, 0, sizeof(*h));
	if (mysql_query(db, "SELECT install_rank, version, script, checksum FROM " HISTORY_TABLE
	                    " WHERE success = 1 ORDER BY install_rank") != 0) {
		log_event("ERROR", MIGRATE_LOGGER, "cannot read %s: (%u) %s", HISTORY_TABLE,
		          mysql_errno(db), mysql_error(db));
		return -1;
	}
	res = mysql_store_result(db);
	if (res == NULL)
		return -1;
	if (mysql_num_rows(res) > HISTORY_MAX) {
		log_event("ERROR", MIGRATE_LOGGER, "%s has more than %d successful rows",
		          HISTORY_TABLE, HISTORY_MAX);
		mysql_free_result(res);
		return -1;
	}
	h->rows = calloc(mysql_num_rows(res) + 1, sizeof(*h->rows));
	if (h->rows == NULL) {
		mysql_free_result(res);
		return -1;
	}
	while ((row = mysql_fetch_row(res)) != NULL) {
		const char *v = row[1] ? row[1] : "", *s = row[2] ? row[2] : "";
		struct history_row *r = NULL;

		/* A later row of the same (version, script) replaces the earlier one. */
		for (i = 0; i < h->n && r == NULL; i++)
			if (strcmp(h->rows[i].version, v) == 0 && strcmp(h->rows[i].script, s) == 0)
				r = &h->rows[i];
		if (r == NULL)
			r = &h->rows[h->n++];
		r->rank = row[0] ? strtoll(row[0], NULL, 10) : 0;
		snprintf(r->version, sizeof(r->version), "%s", v);
		snprintf(r->script, sizeof(r->script), "%s", s);
		snprintf(r->checksum, sizeof(r->checksum), "%s", row[3] ? row[3] : "");
		if (h->max[0] == '\0' || version_cmp(v, h->max) > 0)
			snprintf(h->max, sizeof(h->max), "%s", v);
	}
	mysql_free_result(res);
	return 0;
}

/* Migrates.getHistory(): same version, script equal ignoring case. */
static const struct history_row *
history_find(const struct history *h, const struct migrator *m)
{
	size_t i;

	for (i = 0; i < h->n; i++)
		if (strcmp(h->rows[i].version, m->version) == 0 &&
		    strcasecmp(h->rows[i].script, m->script) == 0)
			return &h->rows[i];
	return NULL;
}

/* One row per executed migrator, written like Migrates.migrate()'s finally block and
 * SimpleJdbcInsert: installed_on is the end of the run (the container's clock, UTC),
 * installed_by CURRENT_USER(). */
static int
history_record(MYSQL *db, const struct migrator *m, const char *user, int success, long long millis)
{
	char sql[SQL_MAX], ev[sizeof(m->version) * 2 + 1], ed[sizeof(m->description) * 2 + 1];
	char es[sizeof(m->script) * 2 + 1], ec[sizeof(m->checksum) * 2 + 1], eu[2 * 128 + 1];
	char stamp[32];
	struct tm tm;
	time_t now = time(NULL);
	size_t ulen = strnlen(user, 128);
	int n;

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
	mysql_real_escape_string(db, ev, m->version, (unsigned long)strlen(m->version));
	mysql_real_escape_string(db, ed, m->description, (unsigned long)strlen(m->description));
	mysql_real_escape_string(db, es, m->script, (unsigned long)strlen(m->script));
	mysql_real_escape_string(db, ec, m->checksum, (unsigned long)strlen(m->checksum));
	mysql_real_escape_string(db, eu, user, (unsigned long)ulen);
	n = snprintf(sql, sizeof(sql),
	             "INSERT INTO " HISTORY_TABLE " (version, description, type, script, checksum, "
	             "installed_by, installed_on, execution_millis, success) VALUES ('%s', '%s', "
	             "'%s', '%s', '%s', '%s', '%s', %lld, %d)",
	             ev, ed, m->type == MIG_SQL ? "SQL" : "JDBC", es, ec, eu, stamp, millis,
	             success);
	if (n < 0 || n >= (int)sizeof(sql))
		return -1;
	if (db_exec(db, sql, (size_t)n, HISTORY_TABLE, 1) != 0)
		return -1;
	log_event("INFO", "c.o.o.c.m.DefaultSchemaHistoryRepository",
	          "schema history created, history=SchemaHistory(installRank=%llu, version=%s, "
	          "description=%s, type=%s, script=%s, checksum=%s, installedBy=%s, "
	          "executionMillis=%lld, success=%s)",
	          (unsigned long long)mysql_insert_id(db), m->version, m->description,
	          m->type == MIG_SQL ? "SQL" : "JDBC", m->script, m->checksum, user, millis,
	          success ? "true" : "false");
	return 0;
}

/* select CURRENT_USER() (DefaultSchemaHistoryRepository.currentUser()), e.g. "odc@%". */
static int
current_user(MYSQL *db, char *out, size_t cap)
{
	MYSQL_RES *res;
	MYSQL_ROW row;
	int rc = -1;

	if (mysql_query(db, "select CURRENT_USER() as user_name FROM DUAL") != 0 ||
	    (res = mysql_store_result(db)) == NULL) {
		log_event("ERROR", MIGRATE_LOGGER, "select CURRENT_USER(): (%u) %s",
		          mysql_errno(db), mysql_error(db));
		return -1;
	}
	if ((row = mysql_fetch_row(res)) != NULL && row[0] != NULL) {
		snprintf(out, cap, "%s", row[0]);
		rc = 0;
	}
	mysql_free_result(res);
	return rc;
}

/* The stand-in's sample data (seed/after-<version>.sql): what users of that release wrote,
 * run once, right after the migration of that version was applied in this start. */
static int
seed_after(MYSQL *db, const struct config *c, const struct migrator *m)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/seed/after-%s.sql", c->dir, m->version);
	if (!file_exists(path))
		return 0;
	log_event("INFO", SAMPLE_LOGGER, "writing the sample data of %s", path);
	return script_run_file(db, path);
}

static const char *
migrator_identify(const struct migrator *m, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s %s %s %s", m->repeatable ? "REPEATABLE" : "VERSIONED",
	         m->type == MIG_SQL ? "SQL" : "JDBC", m->version, m->description);
	return buf;
}

/* Runs one migrator and records it, success or not (Migrates.migrate(Migrator)). */
static int
migrator_run(MYSQL *db, const struct config *c, const struct migrator *m, const char *user)
{
	char ident[512];
	long long t0 = now_ms();
	int ok;

	migrator_identify(m, ident, sizeof(ident));
	log_event("INFO", MIGRATE_LOGGER, "migrate %s start...", ident);
	if (m->type == MIG_SQL)
		ok = script_run(db, m->content, m->len, m->script) == 0;
	else
		ok = m->run(db) == 0;
	log_event("INFO", MIGRATE_LOGGER, "migrate %s done, result=%s", ident,
	          ok ? "true" : "false");
	if (history_record(db, m, user, ok, now_ms() - t0) != 0 || !ok)
		return -1;
	if (!m->repeatable && seed_after(db, c, m) != 0)
		return -1;
	return 0;
}

/* ODC's Migrates.migrate(): refuse a degrade, then per version in numeric order run the
 * VERSIONED migrators that have no successful history row, then the REPEATABLE ones whose
 * checksum differs from their latest successful row, or all of them that ignore checksums. */
static int
migrate(MYSQL *db, const struct config *c)
{
	struct migrators ms = {0};
	struct history h = {0};
	char dir[PATH_MAX], user[256];
	const char *current;
	int rc = -1, applied = 0;
	size_t i;

	snprintf(dir, sizeof(dir), "%s/migrate", c->dir);
	if (history_ensure(db, c) != 0 || current_user(db, user, sizeof(user)) != 0 ||
	    history_load(db, &h) != 0 || migrators_load(&ms, dir, c->version) != 0)
		goto out;
	current = ms.v[ms.n - 1].version; /* sorted: the highest this release knows */
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
	for (i = 0; i < ms.n; i++) {
		const struct migrator *m = &ms.v[i];
		const struct history_row *r = history_find(&h, m);

		if (!m->repeatable && r != NULL) {
			log_event("INFO", MIGRATE_LOGGER,
			          "skip migrated versioned migrator, version=%s, script=%s",
			          m->version, m->script);
			continue;
		}
		if (m->repeatable && m->ignore_checksum) {
			log_event("INFO", MIGRATE_LOGGER,
			          "ignore checksum and start to migrate directly, version=%s, "
			          "script=%s",
			          m->version, m->script);
		} else if (m->repeatable && r != NULL &&
		           strcasecmp(r->checksum, m->checksum) == 0) {
			log_event(
			    "INFO", MIGRATE_LOGGER,
			    "skip checksum matched repeatable migrator, version=%s, script=%s",
			    m->version, m->script);
			continue;
		}
		if (migrator_run(db, c, m, user) != 0) {
			log_event("ERROR", MIGRATE_LOGGER, "migrate failed, version=%s, script=%s",
			          m->version, m->script);
			goto out;
		}
		applied++;
	}
	log_event("INFO", MIGRATE_LOGGER, "metadb migrate completed, %d migration(s) applied",
	          applied);
	rc = 0;
out:
	migrators_free(&ms);
	history_free(&h);
	return rc;
}

/* AbstractMetaDBMigrate.migrate() between the bootstrap context and Tomcat: the lock table,
 * tryLock of ODC_METADB_MIGRATE, Migrates.migrate() (lasting at least migration_ms), and the
 * unlock in a finally block, so a failed migration lets the next node have the lock. The
 * HTTP port stays closed throughout. Returns 0, or -1 after logging why. */
static int
migrate_locked(MYSQL *db, const struct config *c)
{
	struct lock l;
	long long t0, left;
	int rc;

	if (lock_init(db, c, &l) != 0 || lock_acquire(db, &l) != 0)
		return -1;
	t0 = now_ms();
	rc = migrate(db, c);
	left = c->migration_ms - (now_ms() - t0);
	if (rc == 0 && left > 0) {
		log_event("INFO", MIGRATE_LOGGER, "migrating (%lld ms more)", left);
		sleep_ms((long)left);
	}
	lock_release(db, &l);
	if (rc == 0)
		log_event("INFO", MIGRATE_LOGGER, "migrate success");
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

void
sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* A failed run of ODC is never shorter than its JVM's boot: Spring Boot
 * takes seconds before it can fail (the metadb connection, the migration,
 * a broken bean), so supervisord always sees it outlive startsecs (1 s),
 * count it RUNNING, and restart it at once, forever (ODC-UPGRADE-FACTS.md
 * section 3). The stand-in's failures last at least this long, as a JVM's
 * would (the real one: tens of seconds). */
#define JVM_BOOT_MS 1500

static int server_main(void);

int
main(void)
{
	long long t0 = now_ms();
	int rc = server_main();

	if (rc != 0 && now_ms() - t0 < JVM_BOOT_MS)
		sleep_ms((long)(JVM_BOOT_MS - (now_ms() - t0)));
	return rc;
}

static int
server_main(void)
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
	if (c.migrate_delay_ms > 0) {
		log_event("INFO", SERVER_LOGGER,
		          "Initializing Spring context (%ld ms before the metadb migration)",
		          c.migrate_delay_ms);
		sleep_ms(c.migrate_delay_ms);
	}
	if (sql_init(db, &c) != 0 || migrate_locked(db, &c) != 0) {
		mysql_close(db);
		log_event("ERROR", SERVER_LOGGER,
		          "Application run failed: metadb migration did not complete");
		return 1;
	}
	/* ODC keeps its connection pool for as long as it runs: Druid with
	 * initial-size 100, min-idle 50, keep-alive (oceanbase/odc
	 * server/odc-server/src/main/resources/config/application.yml:31-38),
	 * so a running node is visible in the metadb's process list. Two idle
	 * sessions stand for it here; they close only when the process ends. */
	MYSQL *pool2 = db_connect(&c);
	if (pool2 == NULL) {
		mysql_close(db);
		return 1;
	}
	log_event("INFO", SERVER_LOGGER, "Initializing web services, this takes a while (%ld ms)",
	          c.start_delay_ms);
	sleep_ms(c.start_delay_ms);
	if (strcmp(c.fault, "after-migrate") == 0) {
		/* The image's fault: a release that migrates and then cannot start, failing
		 * where a broken bean would, after the migration and before Tomcat. */
		log_event("ERROR", SERVER_LOGGER,
		          "Application run failed: org.springframework.beans.factory."
		          "BeanCreationException: Error creating bean with name 'odcServer': "
		          "Invocation of init method failed (stand-in fault after-migrate)");
		mysql_close(pool2);
		mysql_close(db);
		return 1;
	}
	int rc = http_run(&c) == 0 ? 0 : 1;
	mysql_close(pool2);
	mysql_close(db);
	return rc;
}
