/* The restore guard, held in the metadb itself while its contents are
 * replaced, and the check that no ODC session is still connected to it. */
#ifndef ODC_AGENT_GUARD_H
#define ODC_AGENT_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/metadb.h"

/* The table that is the guard: it exists only while a restore runs (or
 * after one was cut off by a crash). Never part of what is compared,
 * dropped or restored (metadb.c leaves it out of every listing). */
#define GUARD_TABLE "odc_fleet_guard"

struct guard_holder {
	char host[65];
	char job[65];
	char action[33];
	uint64_t since_ms;
	char version[65]; /* the fence's: the version the metadb was restored to */
	bool unreadable;  /* the table exists without a row we can read */
};

/* Who holds the guard: 0 nobody, 1 held (*who filled), -1 error. */
int guard_read(struct metadb *m, struct guard_holder *who, char *err, size_t errlen);

/* Takes the guard for job of host (action: "rollback", "undo"). Creating
 * the table with its one row is one statement, atomic on the server, so of
 * two agents only one can succeed. 0: taken, or already held by this host
 * for this job (a resumed step); 1: held by someone else (*who); -1 error. */
int guard_take(struct metadb *m, const char *host, const char *job, const char *action,
               struct guard_holder *who, char *err, size_t errlen);

/* Releases the guard when host holds it for job (host NULL: whoever holds
 * it for job, the operator's release; job NULL too: whoever holds it, even
 * a table that says nothing). 0: released, or nobody held it; 1: held by
 * someone else, left alone (*who); -1 error. */
int guard_release(struct metadb *m, const char *host, const char *job, struct guard_holder *who,
                  char *err, size_t errlen);

/* "host H for job J (rollback) since 2026-12-07T02:00:00Z", for messages. */
void guard_describe(const struct guard_holder *who, char *out, size_t outlen);

/* The sessions of ODC's user connected to m's database other than m's
 * own, as the server lists them (information_schema.PROCESSLIST: a user
 * without the PROCESS privilege sees its own user's sessions, which are
 * ODC's). OceanBase shows the user name alone (user), a MySQL-protocol
 * server that took the whole login as a name shows that (login). *n and a
 * description of their client addresses ("2 sessions from 10.0.0.6,
 * 10.0.0.7"); through an OceanBase proxy the address is the proxy's.
 * 0, or -1 with err. */
int guard_sessions(struct metadb *m, const char *user, const char *login, size_t *n, char *desc,
                   size_t desclen, char *err, size_t errlen);

/* The fence: a table a rollback leaves in the metadb it restored, saying
 * which job restored it to which version, and when. A node of the
 * deployment that was away (down, unreachable, excluded) and comes back with
 * the container of the newer release it ran before would migrate the
 * restored metadb forward again; its agent reads the fence when it sees
 * that container start and stops it (daemon.c). A container created after
 * the fence is the operator's own decision and is left alone. The undo of
 * that rollback lifts it. Like the guard it holds no row and is left out of
 * every listing, compare, dump and restore. */
#define FENCE_TABLE "odc_fleet_fence"

/* 0 no fence, 1 fence (*f: host, job, since_ms, version), -1 error. */
int fence_read(struct metadb *m, struct guard_holder *f, char *err, size_t errlen);

/* Sets the fence of job, run on host, that restored the metadb to version
 * (replacing one before it). 0 or -1. */
int fence_set(struct metadb *m, const char *host, const char *job, const char *version, char *err,
              size_t errlen);

/* Lifts the fence set by job (NULL: whichever). 0 lifted or none; 1 set by
 * another job, left alone (*f); -1 error. */
int fence_lift(struct metadb *m, const char *job, struct guard_holder *f, char *err, size_t errlen);

/* "rollback J restored it to version V at T (on host H)". */
void fence_describe(const struct guard_holder *f, char *out, size_t outlen);

#endif
