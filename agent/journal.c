/* SQLite journal of plans, steps and facts. Every write is its own
 * transaction, committed with synchronous=FULL before the call returns, so
 * "recorded before it runs" survives kill -9 and power loss alike. */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "agent/journal.h"

struct journal {
	sqlite3 *db;
};

static const char schema[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=FULL;"
    "CREATE TABLE IF NOT EXISTS plan ("
    " job_id TEXT NOT NULL, phase TEXT NOT NULL, action TEXT NOT NULL, params TEXT NOT NULL,"
    " state TEXT NOT NULL, created_ms INTEGER NOT NULL, deadline_ms INTEGER NOT NULL,"
    " updated_ms INTEGER NOT NULL, PRIMARY KEY (job_id, phase));"
    "CREATE TABLE IF NOT EXISTS step ("
    " job_id TEXT NOT NULL, phase TEXT NOT NULL, step TEXT NOT NULL, status TEXT NOT NULL,"
    " exit_code INTEGER NOT NULL DEFAULT 0, started_ms INTEGER NOT NULL,"
    " duration_ms INTEGER NOT NULL DEFAULT 0, message TEXT NOT NULL DEFAULT '',"
    " output_tail TEXT NOT NULL DEFAULT '', data TEXT NOT NULL DEFAULT '{}',"
    " PRIMARY KEY (job_id, phase, step));"
    "CREATE TABLE IF NOT EXISTS fact ("
    " job_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (job_id, key));"
    "CREATE TABLE IF NOT EXISTS outbox ("
    " job_id TEXT NOT NULL, step TEXT NOT NULL, body BLOB NOT NULL, sig BLOB NOT NULL,"
    " acked INTEGER NOT NULL DEFAULT 0, created_ms INTEGER NOT NULL, PRIMARY KEY (job_id, step));";

static int
fail(struct journal *j, char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "journal: %s: %s", what, sqlite3_errmsg(j->db));
	return -1;
}

struct journal *
journal_open(const char *path, char *err, size_t errlen)
{
	struct journal *j = calloc(1, sizeof(*j));
	char *msg = NULL;
	int fd;

	if (j == NULL) {
		snprintf(err, errlen, "journal: out of memory");
		return NULL;
	}
	/* Create it 0600 ourselves (SQLite would use the umask), but only when
	 * it does not exist: close() on any descriptor of a file drops every
	 * POSIX lock this process holds on it, including those of SQLite
	 * connections already open in another thread, and another process
	 * could then delete the WAL under them. */
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd >= 0)
		close(fd);
	if (sqlite3_open_v2(path, &j->db,
	                    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOFOLLOW,
	                    NULL) != SQLITE_OK) {
		snprintf(err, errlen, "journal %s: %s", path,
		         j->db ? sqlite3_errmsg(j->db) : "out of memory");
		journal_close(j);
		return NULL;
	}
	sqlite3_busy_timeout(j->db, 5000);
	if (sqlite3_exec(j->db, schema, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "journal %s: %s", path, msg ? msg : "cannot create schema");
		sqlite3_free(msg);
		journal_close(j);
		return NULL;
	}
	return j;
}

void
journal_close(struct journal *j)
{
	if (j == NULL)
		return;
	sqlite3_close(j->db);
	free(j);
}

/* Prepare, bind text/int64 args by a tiny format ("s" text, "i" int64),
 * step once. Returns the statement for row reading (caller finalizes) when
 * out is not NULL, else finalizes itself. SQLITE_ROW/DONE -> 0, else -1. */
static int
run(struct journal *j, const char *sql, const char *fmt, sqlite3_stmt **out, int *step_rc, ...)
{
	sqlite3_stmt *st = NULL;
	va_list ap;
	int rc;

	if (sqlite3_prepare_v2(j->db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	va_start(ap, step_rc);
	for (int i = 0; fmt[i]; i++) {
		if (fmt[i] == 's') {
			const char *s = va_arg(ap, const char *);
			sqlite3_bind_text(st, i + 1, s ? s : "", -1, SQLITE_TRANSIENT);
		} else {
			sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
		}
	}
	va_end(ap);
	rc = sqlite3_step(st);
	if (step_rc != NULL)
		*step_rc = rc;
	if (out != NULL && (rc == SQLITE_ROW || rc == SQLITE_DONE)) {
		*out = st;
		return 0;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

static char *
col_dup(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return strdup(t ? (const char *)t : "");
}

static void
col_copy(sqlite3_stmt *st, int i, char *out, size_t outlen)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	snprintf(out, outlen, "%s", t ? (const char *)t : "");
}

void
journal_plan_clear(struct journal_plan *p)
{
	if (p == NULL)
		return;
	free(p->params);
	memset(p, 0, sizeof(*p));
}

int
journal_plan_begin(struct journal *j, const char *job, const char *action, const char *phase,
                   const char *params_json, uint64_t now_ms, uint64_t deadline_ms, char *err,
                   size_t errlen)
{
	if (run(j,
	        "INSERT OR IGNORE INTO plan(job_id, phase, action, params, state, created_ms, "
	        "deadline_ms, updated_ms)"
	        " VALUES (?1, ?2, ?3, ?4, 'running', ?5, ?6, ?5)",
	        "ssssii", NULL, NULL, job, phase, action, params_json, (int64_t)now_ms,
	        (int64_t)deadline_ms) != 0)
		return fail(j, err, errlen, "record plan");
	return sqlite3_changes(j->db) == 0 ? 1 : 0;
}

/* Every row of st from the current one (rc: run()'s step), each read by
 * row() into the next size-byte item of a malloc'd array (*out, *n items
 * read whole, the caller's to free even on failure). Finalizes st. Returns
 * SQLITE_DONE when every row was read, SQLITE_ROW when memory ran out, else
 * the failed step's code. */
static int
rows_read(sqlite3_stmt *st, int rc, size_t size, int (*row)(sqlite3_stmt *, void *), void **out,
          size_t *n)
{
	char *v = NULL;
	size_t cap = 0;

	*n = 0;
	for (; rc == SQLITE_ROW; rc = sqlite3_step(st)) {
		if (*n == cap) {
			char *g = realloc(v, (cap ? cap * 2 : 16) * size);
			if (g == NULL)
				break;
			v = g;
			cap = cap ? cap * 2 : 16;
		}
		if (row(st, v + *n * size) != 0)
			break;
		(*n)++;
	}
	sqlite3_finalize(st);
	*out = v;
	return rc;
}

/* Reads the current row of st into *item (a struct journal_plan): 0, or
 * -1 out of memory. */
static int
plan_row(sqlite3_stmt *st, void *item)
{
	struct journal_plan *p = item;

	memset(p, 0, sizeof(*p));
	col_copy(st, 0, p->job_id, sizeof(p->job_id));
	col_copy(st, 1, p->phase, sizeof(p->phase));
	col_copy(st, 2, p->action, sizeof(p->action));
	p->params = col_dup(st, 3);
	col_copy(st, 4, p->state, sizeof(p->state));
	p->created_ms = (uint64_t)sqlite3_column_int64(st, 5);
	p->deadline_ms = (uint64_t)sqlite3_column_int64(st, 6);
	p->updated_ms = (uint64_t)sqlite3_column_int64(st, 7);
	return p->params ? 0 : -1;
}

#define PLAN_COLS "job_id, phase, action, params, state, created_ms, deadline_ms, updated_ms"

int
journal_plan_get(struct journal *j, const char *job, const char *phase, struct journal_plan *p,
                 char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc, ret;

	if (phase != NULL)
		ret = run(j, "SELECT " PLAN_COLS " FROM plan WHERE job_id = ?1 AND phase = ?2",
		          "ss", &st, &rc, job, phase);
	else
		ret = run(j,
		          "SELECT " PLAN_COLS
		          " FROM plan WHERE job_id = ?1 ORDER BY created_ms DESC, rowid DESC",
		          "s", &st, &rc, job);
	if (ret != 0)
		return fail(j, err, errlen, "read plan");
	ret = rc == SQLITE_ROW ? plan_row(st, p) : 1;
	sqlite3_finalize(st);
	return ret;
}

int
journal_plan_finish(struct journal *j, const char *job, const char *phase, const char *state,
                    uint64_t now_ms, char *err, size_t errlen)
{
	/* The caller's clock, the one its start was recorded with (SQLite's
	 * 'now' has whole seconds: an end before the start). */
	if (run(j, "UPDATE plan SET state = ?3, updated_ms = ?4 WHERE job_id = ?1 AND phase = ?2",
	        "sssi", NULL, NULL, job, phase, state, (int64_t)now_ms) != 0)
		return fail(j, err, errlen, "finish plan");
	return 0;
}

int
journal_plan_list(struct journal *j, const char *action, const char *phase,
                  struct journal_plan **out, size_t *n, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	void *v = NULL;
	int rc;

	*out = NULL;
	*n = 0;
	if (run(j,
	        "SELECT " PLAN_COLS
	        " FROM plan WHERE action = ?1 AND phase = ?2 ORDER BY created_ms DESC, rowid DESC",
	        "ss", &st, &rc, action, phase) != 0)
		return fail(j, err, errlen, "read plans");
	rc = rows_read(st, rc, sizeof(**out), plan_row, &v, n);
	if (rc != SQLITE_DONE) {
		journal_plans_free(v, *n);
		*n = 0;
		snprintf(err, errlen, "journal: read plans: %s",
		         rc == SQLITE_ROW ? "out of memory" : sqlite3_errmsg(j->db));
		return -1;
	}
	*out = v;
	return 0;
}

void
journal_plans_free(struct journal_plan *p, size_t n)
{
	for (size_t i = 0; p != NULL && i < n; i++)
		journal_plan_clear(&p[i]);
	free(p);
}

int
journal_plan_unfinished(struct journal *j, struct journal_plan *p, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc, ret;

	if (run(j,
	        "SELECT " PLAN_COLS
	        " FROM plan WHERE state = 'running' ORDER BY created_ms, rowid LIMIT 1",
	        "", &st, &rc) != 0)
		return fail(j, err, errlen, "read plans");
	ret = rc == SQLITE_ROW ? plan_row(st, p) : 1;
	sqlite3_finalize(st);
	return ret;
}

#define STEP_COLS "step, status, exit_code, started_ms, duration_ms, message, output_tail, data"

/* As plan_row, for a struct journal_step; cleared when it fails. */
static int
step_row(sqlite3_stmt *st, void *item)
{
	struct journal_step *s = item;

	memset(s, 0, sizeof(*s));
	col_copy(st, 0, s->step, sizeof(s->step));
	col_copy(st, 1, s->status, sizeof(s->status));
	s->exit_code = sqlite3_column_int64(st, 2);
	s->started_ms = (uint64_t)sqlite3_column_int64(st, 3);
	s->duration_ms = (uint64_t)sqlite3_column_int64(st, 4);
	s->message = col_dup(st, 5);
	s->output_tail = col_dup(st, 6);
	s->data = col_dup(st, 7);
	if (s->message && s->output_tail && s->data)
		return 0;
	journal_step_clear(s);
	return -1;
}

void
journal_step_clear(struct journal_step *s)
{
	if (s == NULL)
		return;
	free(s->message);
	free(s->output_tail);
	free(s->data);
	memset(s, 0, sizeof(*s));
}

int
journal_step_begin(struct journal *j, const char *job, const char *phase, const char *step,
                   uint64_t now_ms, char *err, size_t errlen)
{
	if (run(j,
	        "INSERT INTO step(job_id, phase, step, status, started_ms) VALUES (?1, ?2, ?3, "
	        "'running', ?4)"
	        " ON CONFLICT(job_id, phase, step) DO UPDATE SET status = 'running', started_ms = "
	        "?4,"
	        " duration_ms = 0, message = '', output_tail = '', exit_code = 0",
	        "sssi", NULL, NULL, job, phase, step, (int64_t)now_ms) != 0)
		return fail(j, err, errlen, "record step start");
	return 0;
}

int
journal_step_end(struct journal *j, const char *job, const char *phase, const char *step,
                 const char *status, int64_t exit_code, uint64_t duration_ms, const char *message,
                 const char *output_tail, const char *data_json, char *err, size_t errlen)
{
	if (run(j,
	        "UPDATE step SET status = ?4, exit_code = ?5, duration_ms = ?6, message = ?7, "
	        "output_tail = ?8,"
	        " data = ?9 WHERE job_id = ?1 AND phase = ?2 AND step = ?3",
	        "ssssiisss", NULL, NULL, job, phase, step, status, exit_code, (int64_t)duration_ms,
	        message, output_tail, data_json ? data_json : "{}") != 0)
		return fail(j, err, errlen, "record step end");
	return 0;
}

int
journal_step_get(struct journal *j, const char *job, const char *phase, const char *step,
                 struct journal_step *s, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc, ret = 1;

	if (run(j, "SELECT " STEP_COLS " FROM step WHERE job_id = ?1 AND phase = ?2 AND step = ?3",
	        "sss", &st, &rc, job, phase, step) != 0)
		return fail(j, err, errlen, "read step");
	if (rc == SQLITE_ROW && (ret = step_row(st, s)) != 0)
		snprintf(err, errlen, "journal: read step: out of memory");
	sqlite3_finalize(st);
	return ret;
}

int
journal_step_list(struct journal *j, const char *job, const char *phase, struct journal_step **out,
                  size_t *n, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	void *v = NULL;
	int rc;

	*out = NULL;
	*n = 0;
	/* A step's row is made when it first starts, and a resumed step
	 * updates it in place: rowid order is the order the plan ran them. */
	if (run(j, "SELECT " STEP_COLS " FROM step WHERE job_id = ?1 AND phase = ?2 ORDER BY rowid",
	        "ss", &st, &rc, job, phase) != 0)
		return fail(j, err, errlen, "read steps");
	rc = rows_read(st, rc, sizeof(**out), step_row, &v, n);
	if (rc != SQLITE_DONE) {
		journal_steps_free(v, *n);
		*n = 0;
		snprintf(err, errlen, "journal: read steps: %s",
		         rc == SQLITE_ROW ? "out of memory" : sqlite3_errmsg(j->db));
		return -1;
	}
	*out = v;
	return 0;
}

void
journal_steps_free(struct journal_step *s, size_t n)
{
	for (size_t i = 0; s != NULL && i < n; i++)
		journal_step_clear(&s[i]);
	free(s);
}

int
journal_fact_set(struct journal *j, const char *job, const char *key, const char *value, char *err,
                 size_t errlen)
{
	if (run(j,
	        "INSERT INTO fact(job_id, key, value) VALUES (?1, ?2, ?3)"
	        " ON CONFLICT(job_id, key) DO UPDATE SET value = ?3",
	        "sss", NULL, NULL, job, key, value) != 0)
		return fail(j, err, errlen, "record fact");
	return 0;
}

char *
journal_fact_get(struct journal *j, const char *job, const char *key, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	char *v = NULL;
	int rc;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (run(j, "SELECT value FROM fact WHERE job_id = ?1 AND key = ?2", "ss", &st, &rc, job,
	        key) != 0) {
		fail(j, err, errlen, "read fact");
		return NULL;
	}
	if (rc == SQLITE_ROW)
		v = col_dup(st, 0);
	sqlite3_finalize(st);
	return v;
}

int
journal_fact_each(struct journal *j, const char *job,
                  int (*fn)(void *ctx, const char *key, const char *value), void *ctx, char *err,
                  size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (run(j, "SELECT key, value FROM fact WHERE job_id = ?1 ORDER BY key", "s", &st, &rc,
	        job) != 0)
		return fail(j, err, errlen, "read facts");
	for (; rc == SQLITE_ROW; rc = sqlite3_step(st)) {
		const unsigned char *k = sqlite3_column_text(st, 0),
		                    *v = sqlite3_column_text(st, 1);
		if (fn(ctx, k ? (const char *)k : "", v ? (const char *)v : "") != 0)
			break;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : fail(j, err, errlen, "read facts");
}

int
journal_outbox_put(struct journal *j, const char *job, const char *step, const uint8_t *body,
                   size_t blen, const uint8_t *sig, size_t slen, uint64_t now_ms, char *err,
                   size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc;

	/* A step's result replaces an older one of the same step (a resumed
	 * step reports again) and is due again until acknowledged. */
	if (sqlite3_prepare_v2(j->db,
	                       "INSERT INTO outbox(job_id, step, body, sig, acked, created_ms) "
	                       "VALUES (?1, ?2, ?3, ?4, 0, ?5)"
	                       " ON CONFLICT(job_id, step) DO UPDATE SET body = ?3, sig = ?4, "
	                       "acked = 0, created_ms = ?5",
	                       -1, &st, NULL) != SQLITE_OK)
		return fail(j, err, errlen, "outbox");
	sqlite3_bind_text(st, 1, job, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, step, -1, SQLITE_TRANSIENT);
	sqlite3_bind_blob(st, 3, body, (int)blen, SQLITE_TRANSIENT);
	sqlite3_bind_blob(st, 4, sig, (int)slen, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)now_ms);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : fail(j, err, errlen, "outbox");
}

int
journal_outbox_ack(struct journal *j, const char *job, const char *step, char *err, size_t errlen)
{
	if (run(j, "UPDATE outbox SET acked = 1 WHERE job_id = ?1 AND step = ?2", "ss", NULL, NULL,
	        job, step) != 0)
		return fail(j, err, errlen, "outbox ack");
	return 0;
}

int
journal_outbox_pending(struct journal *j,
                       int (*fn)(void *ctx, const uint8_t *body, size_t blen, const uint8_t *sig,
                                 size_t slen),
                       void *ctx, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc, n = 0;

	if (sqlite3_prepare_v2(
	        j->db, "SELECT body, sig FROM outbox WHERE acked = 0 ORDER BY created_ms, rowid",
	        -1, &st, NULL) != SQLITE_OK)
		return fail(j, err, errlen, "outbox");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (fn(ctx, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0),
		       sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1)) != 0)
			break;
		n++;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? n : fail(j, err, errlen, "outbox");
}

int
journal_outbox_unack_job(struct journal *j, const char *job, char *err, size_t errlen)
{
	if (run(j, "UPDATE outbox SET acked = 0 WHERE job_id = ?1", "s", NULL, NULL, job) != 0)
		return fail(j, err, errlen, "outbox");
	return sqlite3_changes(j->db);
}
