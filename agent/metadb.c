/* The metadb over the MySQL protocol with MariaDB Connector/C: a TCP
 * connection with bounded timeouts, the migration history read and compared
 * in C, the objects of the database by kind, row counts, DROP with checked
 * names, and the statements of a clean restore. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mysql.h>
#include <mysqld_error.h>

#include "agent/guard.h"
#include "agent/metadb.h"
#include "common/buf.h"
#include "common/version.h"

#define HISTORY_MAX_ROWS 100000 /* rows of migrate_schema_history we read */
#define TABLE_NAME_BYTES 256    /* a table name from information_schema (64 chars of utf8mb4) */
#define DB_NAME_MAX      64

struct metadb {
	MYSQL *my;
	char where[300]; /* "host:port/database", for messages */
	char database[DB_NAME_MAX + 1];
};

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;
static int lib_status;

/* mysql_library_init is not thread-safe, and mysql_init would call it on
 * first use from whichever thread comes first. */
static void
lib_init(void)
{
	lib_status = mysql_library_init(0, NULL, NULL);
}

/* [A-Za-z0-9_$], 1..64 bytes: the only table names we ever put in a
 * statement, so backquoting them cannot be escaped from. */
static bool
table_name_ok(const char *t)
{
	size_t i;

	if (t == NULL)
		return false;
	for (i = 0; t[i] != '\0'; i++) {
		char c = t[i];

		if (i >= 64)
			return false;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '$'))
			return false;
	}
	return i > 0;
}

/* Replaces every occurrence of secret in s with "***", in place, so that a
 * server message that echoes what it was sent cannot leak the password. */
static void
scrub(char *s, const char *secret)
{
	size_t slen, tail;
	char *p;

	if (secret == NULL || *secret == '\0')
		return;
	slen = strlen(secret);
	while ((p = strstr(s, secret)) != NULL) {
		tail = strlen(p + slen) + 1;
		if (slen >= 3) {
			memcpy(p, "***", 3);
			memmove(p + 3, p + slen, tail);
		} else {
			/* Growing the string could overflow cap: blank it instead. */
			memset(p, '*', slen);
		}
	}
}

static void
query_error(const struct metadb *m, const char *what, char *err, size_t errlen)
{
	snprintf(err, errlen, "metadb %s: %s: %s [%u]", m->where, what, mysql_error(m->my),
	         mysql_errno(m->my));
}

struct metadb *
metadb_connect(const struct metadb_conf *c, char *err, size_t errlen)
{
	struct metadb *m = NULL;
	unsigned int timeout, protocol = MYSQL_PROTOCOL_TCP, no_infile = 0;
	const char *password;

	if (c == NULL || c->host == NULL || *c->host == '\0' || c->user == NULL ||
	    *c->user == '\0' || c->database == NULL || *c->database == '\0' || c->port == 0 ||
	    c->port > 65535) {
		snprintf(err, errlen,
		         "metadb: host, port (1-65535), user and database are required");
		return NULL;
	}
	if (strlen(c->database) > DB_NAME_MAX) {
		snprintf(err, errlen, "metadb %s:%u: database name longer than %d bytes", c->host,
		         c->port, DB_NAME_MAX);
		return NULL;
	}
	pthread_once(&lib_once, lib_init);
	if (lib_status != 0) {
		snprintf(err, errlen, "metadb: MariaDB Connector/C failed to initialise");
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (m == NULL) {
		snprintf(err, errlen, "metadb: out of memory");
		return NULL;
	}
	snprintf(m->where, sizeof(m->where), "%s:%u/%s", c->host, c->port, c->database);
	memcpy(m->database, c->database, strlen(c->database) + 1);
	m->my = mysql_init(NULL);
	if (m->my == NULL) {
		snprintf(err, errlen, "metadb %s:%u: out of memory", c->host, c->port);
		goto fail;
	}
	timeout = c->timeout_s != 0 ? c->timeout_s : METADB_TIMEOUT_DEFAULT;
	password = c->password != NULL ? c->password : "";
	/* TCP even for "localhost" (which would otherwise mean the unix socket),
	 * never LOAD DATA LOCAL (a hostile server could read our files), and
	 * every wait bounded. */
	if (mysql_options(m->my, MYSQL_OPT_PROTOCOL, &protocol) != 0 ||
	    mysql_options(m->my, MYSQL_OPT_LOCAL_INFILE, &no_infile) != 0 ||
	    mysql_options(m->my, MYSQL_OPT_CONNECT_TIMEOUT, &timeout) != 0 ||
	    mysql_options(m->my, MYSQL_OPT_READ_TIMEOUT, &timeout) != 0 ||
	    mysql_options(m->my, MYSQL_OPT_WRITE_TIMEOUT, &timeout) != 0 ||
	    mysql_options(m->my, MYSQL_SET_CHARSET_NAME, "utf8mb4") != 0) {
		snprintf(err, errlen, "metadb %s:%u: setting connection options: %s", c->host,
		         c->port, mysql_error(m->my));
		goto fail;
	}
	if (mysql_real_connect(m->my, c->host, c->user, password, c->database, c->port, NULL, 0) ==
	    NULL) {
		snprintf(err, errlen, "metadb %s:%u: cannot connect as %s to database %s: %s [%u]",
		         c->host, c->port, c->user, c->database, mysql_error(m->my),
		         mysql_errno(m->my));
		scrub(err, password);
		goto fail;
	}
	return m;
fail:
	metadb_close(m);
	return NULL;
}

void
metadb_close(struct metadb *m)
{
	if (m == NULL)
		return;
	if (m->my != NULL)
		mysql_close(m->my);
	free(m);
}

int
metadb_history_version(struct metadb *m, char *out, size_t outlen, char *err, size_t errlen)
{
	static const char q[] =
	    "SELECT `version` FROM `migrate_schema_history` WHERE `success` = 1 "
	    "LIMIT 100001";
	char best[VERSION_MAX + 1] = "";
	MYSQL_RES *res = NULL;
	MYSQL_ROW row;
	unsigned long *len;
	unsigned long rows = 0;
	int rc = -1;

	if (outlen == 0) {
		snprintf(err, errlen, "metadb %s: no room for the version", m->where);
		return -1;
	}
	out[0] = '\0';
	if (mysql_real_query(m->my, q, sizeof(q) - 1) != 0) {
		if (mysql_errno(m->my) == ER_NO_SUCH_TABLE)
			return 1;
		query_error(m, "reading migrate_schema_history", err, errlen);
		return -1;
	}
	/* Streamed, not stored: LIMIT bounds the rows and each one is checked
	 * against VERSION_MAX before it is kept. SQL orders versions as strings
	 * ("4.2.0.9" > "4.2.0.10"), so the highest is found here. */
	res = mysql_use_result(m->my);
	if (res == NULL) {
		query_error(m, "reading migrate_schema_history", err, errlen);
		return -1;
	}
	if (mysql_num_fields(res) != 1) {
		snprintf(err, errlen, "metadb %s: migrate_schema_history: unexpected result shape",
		         m->where);
		goto out;
	}
	while ((row = mysql_fetch_row(res)) != NULL) {
		if (++rows > HISTORY_MAX_ROWS) {
			snprintf(err, errlen,
			         "metadb %s: migrate_schema_history has more than %d successful "
			         "rows; refusing to read it",
			         m->where, HISTORY_MAX_ROWS);
			goto out;
		}
		len = mysql_fetch_lengths(res);
		if (row[0] == NULL || len == NULL || len[0] == 0)
			continue;
		if (len[0] > VERSION_MAX || memchr(row[0], '\0', len[0]) != NULL) {
			snprintf(err, errlen,
			         "metadb %s: migrate_schema_history: a version of %lu bytes "
			         "(at most %d expected)",
			         m->where, len[0], VERSION_MAX);
			goto out;
		}
		if (best[0] == '\0' || version_cmp(row[0], best) > 0)
			memcpy(best, row[0], len[0] + 1);
	}
	if (mysql_errno(m->my) != 0) {
		query_error(m, "reading migrate_schema_history", err, errlen);
		goto out;
	}
	if (best[0] == '\0') {
		rc = 1;
		goto out;
	}
	if (strlen(best) >= outlen) {
		snprintf(err, errlen, "metadb %s: version %s does not fit in %zu bytes", m->where,
		         best, outlen);
		goto out;
	}
	memcpy(out, best, strlen(best) + 1);
	rc = 0;
out:
	mysql_free_result(res);
	return rc;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct names {
	const struct metadb *m;
	const char *what;
	char **v;
	size_t cnt, cap;
	char *err;
	size_t errlen;
};

static int
name_row(void *ctx, char **cols, const unsigned long *lens, unsigned ncols)
{
	struct names *nc = ctx;
	char **nv;

	if (ncols < 1 || cols[0] == NULL || lens == NULL)
		return 0;
	if (nc->cnt >= METADB_MAX_TABLES) {
		snprintf(nc->err, nc->errlen, "metadb %s: %s: more than %d names", nc->m->where,
		         nc->what, METADB_MAX_TABLES);
		return -1;
	}
	if (lens[0] == 0 || lens[0] > TABLE_NAME_BYTES || memchr(cols[0], '\0', lens[0]) != NULL) {
		snprintf(nc->err, nc->errlen, "metadb %s: %s: a name of %lu bytes", nc->m->where,
		         nc->what, lens[0]);
		return -1;
	}
	if (nc->cnt == nc->cap) {
		size_t cap = nc->cap != 0 ? nc->cap * 2 : 64;
		nv = realloc(nc->v, cap * sizeof(*nv));
		if (nv == NULL)
			goto oom;
		nc->v = nv;
		nc->cap = cap;
	}
	nc->v[nc->cnt] = strndup(cols[0], lens[0]);
	if (nc->v[nc->cnt] == NULL)
		goto oom;
	nc->cnt++;
	return 0;
oom:
	snprintf(nc->err, nc->errlen, "metadb %s: out of memory", nc->m->where);
	return -1;
}

/* The names one query returns (one column), sorted bytewise. */
static int
list_names(struct metadb *m, const char *q, const char *what, char ***names, size_t *n, char *err,
           size_t errlen)
{
	struct names nc = {m, what, NULL, 0, 0, err, errlen};

	*names = NULL;
	*n = 0;
	/* name_row bounds the count itself, with its own message. */
	if (metadb_query(m, q, what, (size_t)METADB_MAX_TABLES + 1, name_row, &nc, err, errlen) !=
	    0) {
		metadb_names_free(nc.v, nc.cnt);
		return -1;
	}
	/* Sorted here, bytewise, rather than by the server's collation. */
	if (nc.cnt > 0)
		qsort(nc.v, nc.cnt, sizeof(*nc.v), name_cmp);
	*names = nc.v;
	*n = nc.cnt;
	return 0;
}

/* What each kind is listed from and dropped with. */
static const struct {
	const char *kind, *head, *tail, *drop; /* query: head '<db>' tail */
} kinds[] = {
    /* The restore guard and the fence (guard.h) are ours, not ODC's: never
     * listed, so never compared, counted or dropped by a restore. */
    {"TABLE", "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ",
     "AND "
     "TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED') AND TABLE_NAME NOT IN ('" GUARD_TABLE
     "', '" FENCE_TABLE "')",
     "DROP TABLE IF EXISTS"},
    {"VIEW", "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ",
     "AND "
     "TABLE_TYPE = 'VIEW'",
     "DROP VIEW IF EXISTS"},
    {"SEQUENCE", "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ",
     "AND "
     "TABLE_TYPE = 'SEQUENCE'",
     "DROP SEQUENCE IF EXISTS"},
    {"TRIGGER", "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ", "",
     "DROP TRIGGER IF EXISTS"},
    {"PROCEDURE", "SELECT ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ",
     "AND "
     "ROUTINE_TYPE = 'PROCEDURE'",
     "DROP PROCEDURE IF EXISTS"},
    {"FUNCTION", "SELECT ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ",
     "AND "
     "ROUTINE_TYPE = 'FUNCTION'",
     "DROP FUNCTION IF EXISTS"},
    {"FOREIGN KEY",
     "SELECT TABLE_NAME FROM information_schema.TABLE_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ",
     "AND CONSTRAINT_TYPE = 'FOREIGN KEY'", NULL},
};

static int
kind_index(const char *kind)
{
	for (size_t i = 0; kind != NULL && i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(kinds[i].kind, kind) == 0)
			return (int)i;
	return -1;
}

int
metadb_list(struct metadb *m, const char *kind, char ***names, size_t *n, char *err, size_t errlen)
{
	char q[512], esc[2 * DB_NAME_MAX + 1], what[64];
	int k = kind_index(kind);

	*names = NULL;
	*n = 0;
	if (k < 0) {
		snprintf(err, errlen, "metadb: unknown object kind \"%.40s\"",
		         kind != NULL ? kind : "(null)");
		return -1;
	}
	mysql_real_escape_string(m->my, esc, m->database, strlen(m->database));
	snprintf(q, sizeof(q), "%s'%s' %s", kinds[k].head, esc, kinds[k].tail);
	snprintf(q + strlen(q), sizeof(q) - strlen(q), " LIMIT %d", METADB_MAX_TABLES + 1);
	snprintf(what, sizeof(what), "listing %s objects", kind);
	return list_names(m, q, what, names, n, err, errlen);
}

int
metadb_tables(struct metadb *m, char ***names, size_t *n, char *err, size_t errlen)
{
	return metadb_list(m, "TABLE", names, n, err, errlen);
}

void
metadb_names_free(char **names, size_t n)
{
	str_array_free(names, n);
}

int
metadb_count(struct metadb *m, const char *table, uint64_t *rows, char *err, size_t errlen)
{
	char q[128], what[160];
	MYSQL_RES *res = NULL;
	MYSQL_ROW row;
	unsigned long *len;
	uint64_t v = 0;
	unsigned long i;
	int rc = -1;

	*rows = 0;
	if (!table_name_ok(table)) {
		snprintf(err, errlen,
		         "metadb: refusing table name \"%.80s\": not [A-Za-z0-9_$]{1,64}",
		         table != NULL ? table : "(null)");
		return -1;
	}
	snprintf(q, sizeof(q), "SELECT COUNT(*) FROM `%s`", table);
	snprintf(what, sizeof(what), "counting rows of %s", table);
	if (mysql_real_query(m->my, q, strlen(q)) != 0 ||
	    (res = mysql_store_result(m->my)) == NULL) {
		query_error(m, what, err, errlen);
		return -1;
	}
	row = mysql_fetch_row(res);
	len = row != NULL ? mysql_fetch_lengths(res) : NULL;
	if (row == NULL || len == NULL || row[0] == NULL || len[0] == 0 || len[0] > 20) {
		snprintf(err, errlen, "metadb %s: %s: unexpected answer", m->where, what);
		goto out;
	}
	for (i = 0; i < len[0]; i++) {
		unsigned d = (unsigned)(row[0][i] - '0');

		if (d > 9 || v > (UINT64_MAX - d) / 10) {
			snprintf(err, errlen, "metadb %s: %s: unexpected answer", m->where, what);
			goto out;
		}
		v = v * 10 + d;
	}
	*rows = v;
	rc = 0;
out:
	mysql_free_result(res);
	return rc;
}

int
metadb_drop(struct metadb *m, const char *kind, const char *name, char *err, size_t errlen)
{
	char q[160], what[160];
	int k = kind_index(kind);

	if (k < 0 || kinds[k].drop == NULL) {
		snprintf(err, errlen, "metadb: cannot drop objects of kind \"%.40s\"",
		         kind != NULL ? kind : "(null)");
		return -1;
	}
	if (!table_name_ok(name)) {
		char lower[16];
		size_t i;
		for (i = 0; kind[i] != '\0' && i + 1 < sizeof(lower); i++)
			lower[i] = (char)(kind[i] >= 'A' && kind[i] <= 'Z' ? kind[i] - 'A' + 'a'
			                                                   : kind[i]);
		lower[i] = '\0';
		snprintf(err, errlen, "metadb: refusing %s name \"%.80s\": not [A-Za-z0-9_$]{1,64}",
		         lower, name != NULL ? name : "(null)");
		return -1;
	}
	snprintf(q, sizeof(q), "%s `%s`", kinds[k].drop, name);
	snprintf(what, sizeof(what), "dropping %s %s", kind, name);
	if (mysql_real_query(m->my, q, strlen(q)) != 0) {
		query_error(m, what, err, errlen);
		return -1;
	}
	return 0;
}

int
metadb_drop_table(struct metadb *m, const char *table, char *err, size_t errlen)
{
	return metadb_drop(m, "TABLE", table, err, errlen);
}

int
metadb_exec(struct metadb *m, const char *sql, const char *what, char *err, size_t errlen)
{
	MYSQL_RES *res;

	if (mysql_real_query(m->my, sql, strlen(sql)) != 0) {
		query_error(m, what, err, errlen);
		return -1;
	}
	/* A statement that returns rows (none of ours should): drop them. */
	res = mysql_store_result(m->my);
	mysql_free_result(res);
	if (mysql_errno(m->my) != 0) {
		query_error(m, what, err, errlen);
		return -1;
	}
	return 0;
}

int
metadb_foreign_key_checks(struct metadb *m, bool on, char *err, size_t errlen)
{
	return metadb_exec(
	    m, on ? "SET SESSION foreign_key_checks = 1" : "SET SESSION foreign_key_checks = 0",
	    on ? "turning foreign key checks on" : "turning foreign key checks off", err, errlen);
}

/* '@' and '#' separate the parts of an OceanBase login name. */
static bool
login_part_ok(const char *s)
{
	return strchr(s, '@') == NULL && strchr(s, '#') == NULL;
}

int
metadb_login_name(const char *user, const char *tenant, const char *cluster, char *out,
                  size_t outlen)
{
	int n;

	if (tenant == NULL)
		tenant = "";
	if (cluster == NULL)
		cluster = "";
	if (outlen == 0)
		return -1;
	out[0] = '\0';
	if (user == NULL || *user == '\0')
		return -1;
	if (*tenant == '\0' && *cluster == '\0')
		n = snprintf(out, outlen, "%s", user);
	else if (*tenant == '\0' || !login_part_ok(user) || !login_part_ok(tenant) ||
	         !login_part_ok(cluster))
		return -1;
	else if (*cluster == '\0')
		n = snprintf(out, outlen, "%s@%s", user, tenant);
	else
		n = snprintf(out, outlen, "%s@%s#%s", user, tenant, cluster);
	if (n < 0 || (size_t)n >= outlen) {
		out[0] = '\0';
		return -1;
	}
	return 0;
}

int
metadb_query(struct metadb *m, const char *q, const char *what, size_t max_rows,
             int (*fn)(void *ctx, char **cols, const unsigned long *lens, unsigned ncols),
             void *ctx, char *err, size_t errlen)
{
	MYSQL_RES *res;
	MYSQL_ROW row;
	size_t n = 0;
	int rc = 0;

	if (mysql_real_query(m->my, q, strlen(q)) != 0 || (res = mysql_use_result(m->my)) == NULL) {
		query_error(m, what, err, errlen);
		return -1;
	}
	while ((row = mysql_fetch_row(res)) != NULL) {
		if (rc != 0)
			continue; /* drain: the connection stays usable */
		if (++n > max_rows) {
			snprintf(err, errlen, "metadb %s: %s: more than %zu rows", m->where, what,
			         max_rows);
			rc = -1;
			continue;
		}
		rc = fn(ctx, row, mysql_fetch_lengths(res), mysql_num_fields(res));
	}
	if (rc == 0 && mysql_errno(m->my) != 0) {
		query_error(m, what, err, errlen);
		rc = -1;
	}
	mysql_free_result(res);
	return rc;
}

int
metadb_literal(struct metadb *m, const char *s, char *out, size_t outlen)
{
	size_t n = strlen(s);

	if (outlen < 2 * n + 3)
		return -1;
	out[0] = '\'';
	n = mysql_real_escape_string(m->my, out + 1, s, n);
	out[n + 1] = '\'';
	out[n + 2] = '\0';
	return 0;
}

unsigned long
metadb_connection_id(struct metadb *m)
{
	return mysql_thread_id(m->my);
}

const char *
metadb_database(const struct metadb *m)
{
	return m->database;
}

unsigned
metadb_errno(struct metadb *m)
{
	return mysql_errno(m->my);
}
