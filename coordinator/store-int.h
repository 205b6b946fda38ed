/* The store's internals, shared by its files only (store.c: schema,
 * statements, checks, open/close and transactions; store-hosts.c,
 * store-jobs.c, store-results.c, store-audit.c: one table family each).
 * Nothing outside coordinator/store*.c includes this header.
 *
 * Error conventions are store.h's: -1 with a message naming the database
 * file in err. A statement from store_stmt_get is the caller's until it
 * gives it back with store_stmt_put. */
#ifndef ODC_COORDINATOR_STORE_INT_H
#define ODC_COORDINATOR_STORE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <sqlite3.h>

#include "coordinator/store.h"

/* Every statement the store runs, prepared once at open (store.c). */
enum stmt {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_SAVEPOINT,
	ST_RELEASE,
	ST_ROLLBACK_TO,
	ST_HOSTS_EACH,
	ST_HOST_GET,
	ST_KEY_OWNER,
	ST_HOST_INSERT,
	ST_HOST_REACCEPT,
	ST_KEY_BIND,
	ST_HOST_REVOKE,
	ST_HOST_SEEN,
	ST_HOST_METADB,
	ST_HOST_BACKUP,
	ST_PENDING_DEL,
	ST_PENDING_UPSERT,
	ST_PENDING_TRIM,
	ST_PENDING_LIST,
	ST_JOB_INSERT,
	ST_JOB_HOST_INSERT,
	ST_JOB_UPDATE,
	ST_JOBS_ALL,
	ST_JOBS_STATES,
	ST_JOB_GET,
	ST_JOB_EXISTS,
	ST_JOB_HOST_UPDATE,
	ST_JOB_HOSTS_EACH,
	ST_RESULT_INSERT,
	ST_RESULTS_PAGE,
	ST_JOB_TARGET,
	ST_RESULTS_COUNT,
	ST_AUDIT_INSERT,
	ST_AUDIT_ALL,
	ST_AUDIT_JOB,
	ST_COUNT
};

/* One open database, its path (for messages) and its cached statements. */
struct store {
	sqlite3 *db;
	char *path;
	sqlite3_stmt *st[ST_COUNT];
	bool busy[ST_COUNT]; /* the cached statement is handed out */
};

/* Errors: each writes a message naming the database file and what failed
 * (the SQLite error, out of memory, a malformed row of table) into err and
 * returns -1. */
int store_db_err(const struct store *s, char *err, size_t errlen, const char *what);
int store_nomem(const struct store *s, char *err, size_t errlen, const char *what);
int store_corrupt(const struct store *s, char *err, size_t errlen, const char *table);
/* Refuses a text the store could not hand back intact: NULL when required,
 * longer than 1 MiB, or not UTF-8. */
int store_check_text(const struct store *s, const char *field, const char *v, bool required,
                     char *err, size_t errlen);
/* SQLite integers are signed; the protocol keeps every uint at most 2^63-1. */
int store_check_u64(const struct store *s, const char *field, uint64_t v, char *err, size_t errlen);
/* A blob of at most 1 MiB, present unless empty. */
int store_check_blob(const struct store *s, const char *field, const uint8_t *p, size_t n,
                     char *err, size_t errlen);
/* A JSON text of the given type (JSON_OBJECT or JSON_ARRAY); NULL passes
 * when not required. */
int store_check_json(const struct store *s, const char *field, const char *v, json_type type,
                     bool required, char *err, size_t errlen);
/* The cached statement, or a fresh one while the cached one is in use: an
 * iteration's callback may call back into the store. */
sqlite3_stmt *store_stmt_get(struct store *s, enum stmt id, char *err, size_t errlen);
/* Gives a statement from store_stmt_get back (reset, bindings cleared);
 * NULL is fine. */
void store_stmt_put(struct store *s, enum stmt id, sqlite3_stmt *st);
/* Binders: a NULL text binds SQL NULL; the values must outlive the step. */
int store_bind_text(sqlite3_stmt *st, int i, const char *v);
int store_bind_u64(sqlite3_stmt *st, int i, uint64_t v);
int store_bind_blob(sqlite3_stmt *st, int i, const uint8_t *p, size_t n);
/* Readers of the current row: a NULL text reads as "", a negative integer
 * as 0. */
const char *store_col_text(sqlite3_stmt *st, int i);
uint64_t store_col_u64(sqlite3_stmt *st, int i);
/* Copies a blob column that must be exactly n bytes; -1 when it is not. */
int store_col_fixed(sqlite3_stmt *st, int i, uint8_t *out, size_t n);
/* Opens an atomic unit for a write of several statements: a transaction of
 * its own in autocommit mode, else a savepoint inside the caller's. */
int store_unit_begin(struct store *s, bool *own, char *err, size_t errlen);
/* Ends a unit: kept when ret is 0, undone otherwise. Returns ret, or -1 when
 * keeping it failed. */
int store_unit_end(struct store *s, bool own, int ret, char *err, size_t errlen);
/* Steps a write statement with its arguments bound; -1 with err on failure. */
int store_step_write(struct store *s, sqlite3_stmt *st, char *err, size_t errlen, const char *what);

#endif
