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
#include "common/version.h"
#include "proto/proto.h"

#define SESSIONS_MAX  10000
#define SESSION_ADDRS 8

/* The holder is the table's comment, "host=H job=J action=A since_ms=N":
 * the table has no row, so a dump taken under the guard (the snapshot)
 * holds an empty table that loads nothing, and backup.c leaves it out. */
static int
holder_row(void *ctx, char **cols, const unsigned long *lens, unsigned ncols)
{
	struct guard_holder *who = ctx;
	char host[65], job[65], action[33], version[65] = "";
	unsigned long long since;
	int n;

	(void)lens;
	who->unreadable = true;
	if (ncols >= 1 && cols[0] != NULL &&
	    (n = sscanf(cols[0], "host=%64s job=%64s action=%32s since_ms=%llu version=%64s", host,
	                job, action, &since, version)) >= 4) {
		snprintf(who->host, sizeof(who->host), "%s", host);
		snprintf(who->job, sizeof(who->job), "%s", job);
		snprintf(who->action, sizeof(who->action), "%s", action);
		snprintf(who->version, sizeof(who->version), "%s", n == 5 ? version : "");
		who->since_ms = since;
		who->unreadable = false;
	}
	return 1;
}

/* Reads the comment of table (GUARD_TABLE, FENCE_TABLE): 0 no such table,
 * 1 present (*who), -1 error. */
static int
marker_read(struct metadb *m, const char *table, struct guard_holder *who, char *err, size_t errlen)
{
	char q[512], ldb[140];
	int rc;

	memset(who, 0, sizeof(*who));
	if (metadb_literal(m, metadb_database(m), ldb, sizeof(ldb)) != 0) {
		snprintf(err, errlen, "%s: database name too long", table);
		return -1;
	}
	snprintf(q, sizeof(q),
	         "SELECT TABLE_COMMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND "
	         "TABLE_NAME = '%s'",
	         ldb, table);
	rc = metadb_query(m, q,
	                  strcmp(table, GUARD_TABLE) == 0 ? "reading the restore guard"
	                                                  : "reading the fence",
	                  1, holder_row, who, err, errlen);
	return rc < 0 ? -1 : rc; /* 0: no such table; 1: present */
}

int
guard_read(struct metadb *m, struct guard_holder *who, char *err, size_t errlen)
{
	return marker_read(m, GUARD_TABLE, who, err, errlen);
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
guard_take(struct metadb *m, const char *host, const char *job, const char *action,
           struct guard_holder *who, char *err, size_t errlen)
{
	char q[512];
	int rc;

	if (!word_ok(host, 64) || !word_ok(job, 64) || !word_ok(action, 32)) {
		snprintf(err, errlen, "restore guard: host, job or action is not an id");
		return -1;
	}
	/* One statement: the table and its comment, created at once or not. */
	snprintf(q, sizeof(q),
	         "CREATE TABLE `" GUARD_TABLE
	         "` (`held` TINYINT) COMMENT = 'host=%s job=%s action=%s since_ms=%llu'",
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
guard_release(struct metadb *m, const char *host, const char *job, struct guard_holder *who,
              char *err, size_t errlen)
{
	int rc = guard_read(m, who, err, errlen);

	if (rc <= 0)
		return rc;
	if (job != NULL && (who->unreadable || strcmp(who->job, job) != 0 ||
	                    (host != NULL && strcmp(who->host, host) != 0)))
		return 1;
	if (metadb_exec(m, "DROP TABLE IF EXISTS `" GUARD_TABLE "`", "releasing the restore guard",
	                err, errlen) != 0)
		return -1;
	return 0;
}

/* "2026-12-07T02:00:00Z", or "an unknown time". */
static void
instant_text(uint64_t ms, char *out, size_t outlen)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	snprintf(out, outlen, "an unknown time");
	if (ms != 0 && gmtime_r(&t, &tm) != NULL)
		strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void
guard_describe(const struct guard_holder *who, char *out, size_t outlen)
{
	char when[32];

	if (who->unreadable) {
		snprintf(out, outlen, "a table %s that does not say who holds it", GUARD_TABLE);
		return;
	}
	instant_text(who->since_ms, when, sizeof(when));
	snprintf(out, outlen, "host %s for job %s (%s) since %s", who->host, who->job, who->action,
	         when);
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
guard_sessions(struct metadb *m, const char *user, const char *login, size_t *n, char *desc,
               size_t desclen, char *err, size_t errlen)
{
	char q[1024], ldb[140], lu[300], ll[600];
	struct sessions ss = {0};
	size_t off;

	*n = 0;
	*desc = '\0';
	if (metadb_literal(m, metadb_database(m), ldb, sizeof(ldb)) != 0 ||
	    metadb_literal(m, user, lu, sizeof(lu)) != 0 ||
	    metadb_literal(m, login, ll, sizeof(ll)) != 0) {
		snprintf(err, errlen, "sessions: database or user name too long");
		return -1;
	}
	snprintf(q, sizeof(q),
	         "SELECT HOST FROM information_schema.PROCESSLIST WHERE DB = %s AND USER IN (%s, "
	         "%s) AND ID <> %lu",
	         ldb, lu, ll, metadb_connection_id(m));
	if (metadb_query(m, q, "listing the sessions on the metadb", SESSIONS_MAX, session_row, &ss,
	                 err, errlen) != 0)
		return -1;
	*n = ss.n;
	off = (size_t)snprintf(desc, desclen, "%zu session%s from", ss.n, ss.n == 1 ? "" : "s");
	for (size_t i = 0; i < ss.n_addrs && off < desclen; i++)
		off +=
		    (size_t)snprintf(desc + off, desclen - off, "%s %s", i ? "," : "", ss.addrs[i]);
	if (ss.n_addrs == SESSION_ADDRS && off < desclen)
		snprintf(desc + off, desclen - off, ", ...");
	return 0;
}

int
fence_read(struct metadb *m, struct guard_holder *f, char *err, size_t errlen)
{
	return marker_read(m, FENCE_TABLE, f, err, errlen);
}

int
fence_set(struct metadb *m, const char *host, const char *job, const char *version, char *err,
          size_t errlen)
{
	char comment[300], q[512];

	if (!word_ok(host, 64) || !word_ok(job, 64) || !version_valid(version)) {
		snprintf(err, errlen, "fence: host, job or version is not an id");
		return -1;
	}
	snprintf(comment, sizeof(comment),
	         "host=%s job=%s action=rollback since_ms=%llu version=%s", host, job,
	         (unsigned long long)proto_now_ms(), version);
	/* Never a moment without a fence once there was one: the table stays,
	 * its comment is replaced. */
	if (metadb_exec(m, "CREATE TABLE IF NOT EXISTS `" FENCE_TABLE "` (`held` TINYINT)",
	                "setting the fence", err, errlen) != 0)
		return -1;
	snprintf(q, sizeof(q), "ALTER TABLE `" FENCE_TABLE "` COMMENT = '%s'", comment);
	return metadb_exec(m, q, "setting the fence", err, errlen);
}

int
fence_lift(struct metadb *m, const char *job, struct guard_holder *f, char *err, size_t errlen)
{
	int rc = fence_read(m, f, err, errlen);

	if (rc <= 0)
		return rc;
	if (job != NULL && (f->unreadable || strcmp(f->job, job) != 0))
		return 1;
	return metadb_exec(m, "DROP TABLE IF EXISTS `" FENCE_TABLE "`", "lifting the fence", err,
	                   errlen) == 0
	           ? 0
	           : -1;
}

void
fence_describe(const struct guard_holder *f, char *out, size_t outlen)
{
	char when[32];

	if (f->unreadable) {
		snprintf(out, outlen, "a table %s that does not say who set it", FENCE_TABLE);
		return;
	}
	instant_text(f->since_ms, when, sizeof(when));
	snprintf(out, outlen, "rollback %s restored it to version %s at %s (on host %s)", f->job,
	         *f->version ? f->version : "(unknown)", when, f->host);
}
