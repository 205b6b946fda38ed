/* The metadb over the MySQL protocol with MariaDB Connector/C: a TCP
 * connection with bounded timeouts, the migration history read and compared
 * in C, base tables, row counts and DROP TABLE with checked names. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mysql.h>
#include <mysqld_error.h>

#include "agent/metadb.h"
#include "agent/version.h"

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

int
metadb_tables(struct metadb *m, char ***names, size_t *n, char *err, size_t errlen)
{
	char q[512], esc[2 * DB_NAME_MAX + 1];
	char **v = NULL, **nv;
	size_t cnt = 0, cap = 0;
	MYSQL_RES *res = NULL;
	MYSQL_ROW row;
	unsigned long *len;
	int rc = -1;

	*names = NULL;
	*n = 0;
	mysql_real_escape_string(m->my, esc, m->database, strlen(m->database));
	snprintf(q, sizeof(q),
	         "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = '%s' AND "
	         "TABLE_TYPE = 'BASE TABLE' LIMIT %d",
	         esc, METADB_MAX_TABLES + 1);
	if (mysql_real_query(m->my, q, strlen(q)) != 0 || (res = mysql_use_result(m->my)) == NULL) {
		query_error(m, "listing tables", err, errlen);
		return -1;
	}
	while ((row = mysql_fetch_row(res)) != NULL) {
		len = mysql_fetch_lengths(res);
		if (row[0] == NULL || len == NULL)
			continue;
		if (cnt >= METADB_MAX_TABLES) {
			snprintf(err, errlen, "metadb %s: more than %d tables", m->where,
			         METADB_MAX_TABLES);
			goto out;
		}
		if (len[0] == 0 || len[0] > TABLE_NAME_BYTES ||
		    memchr(row[0], '\0', len[0]) != NULL) {
			snprintf(err, errlen, "metadb %s: a table name of %lu bytes", m->where,
			         len[0]);
			goto out;
		}
		if (cnt == cap) {
			cap = cap != 0 ? cap * 2 : 64;
			nv = realloc(v, cap * sizeof(*v));
			if (nv == NULL)
				goto oom;
			v = nv;
		}
		v[cnt] = strndup(row[0], len[0]);
		if (v[cnt] == NULL)
			goto oom;
		cnt++;
	}
	if (mysql_errno(m->my) != 0) {
		query_error(m, "listing tables", err, errlen);
		goto out;
	}
	/* Sorted here, bytewise, rather than by the server's collation. */
	if (cnt > 0)
		qsort(v, cnt, sizeof(*v), name_cmp);
	*names = v;
	*n = cnt;
	v = NULL;
	cnt = 0;
	rc = 0;
	goto out;
oom:
	snprintf(err, errlen, "metadb %s: out of memory", m->where);
out:
	mysql_free_result(res);
	metadb_names_free(v, cnt);
	return rc;
}

void
metadb_names_free(char **names, size_t n)
{
	size_t i;

	if (names == NULL)
		return;
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
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
metadb_drop_table(struct metadb *m, const char *table, char *err, size_t errlen)
{
	char q[128], what[160];

	if (!table_name_ok(table)) {
		snprintf(err, errlen,
		         "metadb: refusing table name \"%.80s\": not [A-Za-z0-9_$]{1,64}",
		         table != NULL ? table : "(null)");
		return -1;
	}
	snprintf(q, sizeof(q), "DROP TABLE IF EXISTS `%s`", table);
	snprintf(what, sizeof(what), "dropping table %s", table);
	if (mysql_real_query(m->my, q, strlen(q)) != 0) {
		query_error(m, what, err, errlen);
		return -1;
	}
	return 0;
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
