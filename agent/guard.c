/* The restore guard: a table the agent creates in the metadb for the time
 * its contents are replaced. Creating a table is atomic on the server (a
 * second CREATE fails with "table exists"), so two restores of one metadb,
 * whoever starts them (two agents, a local run and a fleet job, two
 * coordinators), cannot run at once, whatever each believes. A lock of the
 * session (GET_LOCK) would vanish with a killed agent while its obloader
 * may still be writing, and OceanBase has it only since 4.2.5/4.3.1: the
 * table outlives a crash and says who held it (in its comment). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mysqld_error.h>

#include "agent/guard.h"
#include "proto/proto.h"

#define SESSIONS_MAX	 10000
#define SESSION_ADDRS	 8

/* The holder is the table's comment, "host=H job=J action=A since_ms=N":
 * the table has no row, so a dump taken under the guard (the snapshot)
 * holds an empty table that loads nothing, and backup.c leaves it out. */
static int
holder_row(void *ctx, char **cols, const unsigned long *lens, unsigned ncols)
{
	struct guard_holder *who = ctx;
	char host[65], job[65], action[33];
	unsigned long long since;

	(void)lens;
	who->unreadable = true;
	if (ncols >= 1 && cols[0] != NULL &&
	    sscanf(cols[0], "host=%64s job=%64s action=%32s since_ms=%llu", host, job, action, &since) == 4) {
		snprintf(who->host, sizeof(who->host), "%s", host);
		snprintf(who->job, sizeof(who->job), "%s", job);
		snprintf(who->action, sizeof(who->action), "%s", action);
		who->since_ms = since;
		who->unreadable = false;
	}
	return 1;
}

int
guard_read(struct metadb *m, struct guard_holder *who, char *err, size_t errlen)
{
	char q[512], ldb[140];
	int rc;

	memset(who, 0, sizeof(*who));
	if (metadb_literal(m, metadb_database(m), ldb, sizeof(ldb)) != 0) {
		snprintf(err, errlen, "restore guard: database name too long");
		return -1;
	}
	snprintf(q, sizeof(q),
	         "SELECT TABLE_COMMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_NAME = '"
	         GUARD_TABLE "'",
	         ldb);
	rc = metadb_query(m, q, "reading the restore guard", 1, holder_row, who, err, errlen);
	return rc < 0 ? -1 : rc; /* 0: no such table; 1: held */
}

/* An id or action as the comment holds it: nothing but [A-Za-z0-9._-]. */
static bool
word_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '.' && *s != '_' && *s != '-')
			return false;
	return true;
}

int
guard_take(struct metadb *m, const char *host, const char *job, const char *action, struct guard_holder *who,
           char *err, size_t errlen)
{
	char q[512];
	int rc;

	if (!word_ok(host, 64) || !word_ok(job, 64) || !word_ok(action, 32)) {
		snprintf(err, errlen, "restore guard: host, job or action is not an id");
		return -1;
	}
	/* One statement: the table and its comment, created at once or not. */
	snprintf(q, sizeof(q),
	         "CREATE TABLE `" GUARD_TABLE "` (`held` TINYINT) COMMENT = 'host=%s job=%s action=%s since_ms=%llu'",
	         host, job, action, (unsigned long long)proto_now_ms());
	for (int attempt = 0; attempt < 2; attempt++) {
		if (metadb_exec(m, q, "taking the restore guard", err, errlen) == 0)
			return 0;
		if (metadb_errno(m) != ER_TABLE_EXISTS_ERROR)
			return -1;
		rc = guard_read(m, who, err, errlen);
		if (rc < 0)
			return -1;
		if (rc == 1)
			break;
		/* rc == 0: released between our CREATE and our look: once more */
	}
	if (!who->unreadable && strcmp(who->host, host) == 0 && strcmp(who->job, job) == 0)
		return 0;
	return 1;
}

int
guard_release(struct metadb *m, const char *host, const char *job, struct guard_holder *who, char *err,
              size_t errlen)
{
	int rc = guard_read(m, who, err, errlen);

	if (rc <= 0)
		return rc;
	if (job != NULL &&
	    (who->unreadable || strcmp(who->job, job) != 0 || (host != NULL && strcmp(who->host, host) != 0)))
		return 1;
	if (metadb_exec(m, "DROP TABLE IF EXISTS `" GUARD_TABLE "`", "releasing the restore guard", err, errlen) != 0)
		return -1;
	return 0;
}

void
guard_describe(const struct guard_holder *who, char *out, size_t outlen)
{
	char when[32] = "an unknown time";
	time_t t = (time_t)(who->since_ms / 1000);
	struct tm tm;

	if (who->unreadable) {
		snprintf(out, outlen, "a table %s that does not say who holds it", GUARD_TABLE);
		return;
	}
	if (who->since_ms != 0 && gmtime_r(&t, &tm) != NULL)
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(out, outlen, "host %s for job %s (%s) since %s", who->host, who->job, who->action, when);
}

struct sessions {
	size_t n;
	char addrs[SESSION_ADDRS][64];
	size_t n_addrs;
};

static int
session_row(void *ctx, char **cols, const unsigned long *lens, unsigned ncols)
{
	struct sessions *ss = ctx;
	char addr[64];

	(void)lens;
	ss->n++;
	if (ncols < 1 || cols[0] == NULL)
		return 0;
	/* HOST is "address:port": the address is the client (or its proxy). */
	snprintf(addr, sizeof(addr), "%s", cols[0]);
	char *colon = strrchr(addr, ':');
	if (colon != NULL && strchr(addr, ':') == colon)
		*colon = '\0';
	for (size_t i = 0; i < ss->n_addrs; i++)
		if (strcmp(ss->addrs[i], addr) == 0)
			return 0;
	if (ss->n_addrs < SESSION_ADDRS)
		snprintf(ss->addrs[ss->n_addrs++], sizeof(ss->addrs[0]), "%s", addr);
	return 0;
}

int
guard_sessions(struct metadb *m, const char *user, const char *login, size_t *n, char *desc, size_t desclen,
               char *err, size_t errlen)
{
	char q[1024], ldb[140], lu[300], ll[600];
	struct sessions ss = {0};
	size_t off;

	*n = 0;
	*desc = '\0';
	if (metadb_literal(m, metadb_database(m), ldb, sizeof(ldb)) != 0 ||
	    metadb_literal(m, user, lu, sizeof(lu)) != 0 || metadb_literal(m, login, ll, sizeof(ll)) != 0) {
		snprintf(err, errlen, "sessions: database or user name too long");
		return -1;
	}
	snprintf(q, sizeof(q),
	         "SELECT HOST FROM information_schema.PROCESSLIST WHERE DB = %s AND USER IN (%s, %s) AND ID <> %lu",
	         ldb, lu, ll, metadb_connection_id(m));
	if (metadb_query(m, q, "listing the sessions on the metadb", SESSIONS_MAX, session_row, &ss, err,
	                 errlen) != 0)
		return -1;
	*n = ss.n;
	off = (size_t)snprintf(desc, desclen, "%zu session%s from", ss.n, ss.n == 1 ? "" : "s");
	for (size_t i = 0; i < ss.n_addrs && off < desclen; i++)
		off += (size_t)snprintf(desc + off, desclen - off, "%s %s", i ? "," : "", ss.addrs[i]);
	if (ss.n_addrs == SESSION_ADDRS && off < desclen)
		snprintf(desc + off, desclen - off, ", ...");
	return 0;
}
