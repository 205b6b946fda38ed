/* The store's jobs: the signed JOB as submitted, its state, and the
 * per-host state of each target. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/store-int.h"
#include "proto/proto.h"

#define STATES_MAX 16 /* job states store_jobs_each takes in one list */

/* Refuses a job the store could not keep or hand back intact. */
static int
check_job_texts(const struct store *s, const struct store_job *j, char *err, size_t errlen)
{
	if (store_check_text(s, "job_id", j->job_id, true, err, errlen) != 0 ||
	    store_check_text(s, "action", j->action, true, err, errlen) != 0 ||
	    store_check_text(s, "operator", j->operator_name, true, err, errlen) != 0 ||
	    store_check_text(s, "reason", j->reason, true, err, errlen) != 0 ||
	    store_check_text(s, "state", j->state, true, err, errlen) != 0 ||
	    store_check_text(s, "stage", j->stage, true, err, errlen) != 0 ||
	    store_check_text(s, "message", j->message, false, err, errlen) != 0 ||
	    store_check_blob(s, "body", j->body, j->body_len, err, errlen) != 0 ||
	    store_check_blob(s, "targets", j->targets, j->targets_len, err, errlen) != 0 ||
	    store_check_u64(s, "created_ms", j->created_ms, err, errlen) != 0 ||
	    store_check_u64(s, "expires_ms", j->expires_ms, err, errlen) != 0 ||
	    store_check_u64(s, "submitted_ms", j->submitted_ms, err, errlen) != 0 ||
	    store_check_u64(s, "deadline_ms", j->deadline_ms, err, errlen) != 0 ||
	    store_check_u64(s, "ended_ms", j->ended_ms, err, errlen) != 0 ||
	    store_check_u64(s, "batch", j->batch, err, errlen) != 0)
		return -1;
	return 0;
}

int
store_job_insert(struct store *s, const struct store_job *j, const char *const *targets,
                 size_t n_targets, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	bool own;
	int ret;

	if (check_job_texts(s, j, err, errlen) != 0)
		return -1;
	if (n_targets > PROTO_MAX_TARGETS || (targets == NULL && n_targets > 0)) {
		snprintf(err, errlen, "%s: job %s: bad target list", s->path, j->job_id);
		return -1;
	}
	for (size_t i = 0; i < n_targets; i++)
		if (store_check_text(s, "target", targets[i], true, err, errlen) != 0)
			return -1;
	if (store_unit_begin(s, &own, err, errlen) != 0)
		return -1;
	if ((st = store_stmt_get(s, ST_JOB_INSERT, err, errlen)) == NULL) {
		ret = -1;
		goto out;
	}
	store_bind_text(st, 1, j->job_id);
	store_bind_text(st, 2, j->action);
	store_bind_text(st, 3, j->operator_name);
	store_bind_text(st, 4, j->reason);
	store_bind_blob(st, 5, j->body, j->body_len);
	store_bind_blob(st, 6, j->sig, sizeof(j->sig));
	store_bind_u64(st, 7, j->created_ms);
	store_bind_u64(st, 8, j->expires_ms);
	store_bind_u64(st, 9, j->submitted_ms);
	store_bind_u64(st, 10, j->deadline_ms);
	store_bind_u64(st, 11, j->ended_ms);
	store_bind_text(st, 12, j->state);
	store_bind_text(st, 13, j->stage);
	store_bind_u64(st, 14, j->batch);
	store_bind_text(st, 15, j->message != NULL ? j->message : "");
	store_bind_blob(st, 16, j->targets, j->targets_len);
	ret = store_step_write(s, st, err, errlen, "insert job");
	if (ret != 0 && sqlite3_extended_errcode(s->db) == SQLITE_CONSTRAINT_PRIMARYKEY) {
		snprintf(err, errlen, "job %s exists", j->job_id);
		ret = STORE_CONFLICT;
	}
	store_stmt_put(s, ST_JOB_INSERT, st);
	if (ret != 0)
		goto out;
	if ((st = store_stmt_get(s, ST_JOB_HOST_INSERT, err, errlen)) == NULL) {
		ret = -1;
		goto out;
	}
	for (size_t i = 0; i < n_targets && ret == 0; i++) {
		store_bind_text(st, 1, j->job_id);
		store_bind_text(st, 2, targets[i]);
		store_bind_u64(st, 3, i);
		store_bind_u64(st, 4, j->submitted_ms);
		ret = store_step_write(s, st, err, errlen, "insert job target");
		if (ret != 0 && sqlite3_extended_errcode(s->db) == SQLITE_CONSTRAINT_PRIMARYKEY)
			snprintf(err, errlen, "%s: job %s: target %s is listed twice", s->path,
			         j->job_id, targets[i]);
		sqlite3_reset(st);
	}
	store_stmt_put(s, ST_JOB_HOST_INSERT, st);
out:
	return store_unit_end(s, own, ret, err, errlen);
}

int
store_job_update(struct store *s, const char *job_id, const char *state, const char *stage,
                 uint64_t batch, const char *message, uint64_t ended_ms, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int ret;

	if (store_check_text(s, "job_id", job_id, true, err, errlen) != 0 ||
	    store_check_text(s, "state", state, true, err, errlen) != 0 ||
	    store_check_text(s, "stage", stage, true, err, errlen) != 0 ||
	    store_check_text(s, "message", message, false, err, errlen) != 0 ||
	    store_check_u64(s, "batch", batch, err, errlen) != 0 ||
	    store_check_u64(s, "ended_ms", ended_ms, err, errlen) != 0)
		return -1;
	if ((st = store_stmt_get(s, ST_JOB_UPDATE, err, errlen)) == NULL)
		return -1;
	store_bind_text(st, 1, job_id);
	store_bind_text(st, 2, state);
	store_bind_text(st, 3, stage);
	store_bind_u64(st, 4, batch);
	store_bind_text(st, 5, message != NULL ? message : "");
	store_bind_u64(st, 6, ended_ms);
	ret = store_step_write(s, st, err, errlen, "update job");
	if (ret == 0 && sqlite3_changes(s->db) == 0) {
		snprintf(err, errlen, "job %s is unknown", job_id);
		ret = STORE_NOT_FOUND;
	}
	store_stmt_put(s, ST_JOB_UPDATE, st);
	return ret;
}

/* A blob column of the current row: its bytes (valid until the next step)
 * and length; -1 when SQLite reports no length. */
static int
col_blob(sqlite3_stmt *st, int i, const uint8_t **p, size_t *n)
{
	int len;

	*p = sqlite3_column_blob(st, i);
	len = sqlite3_column_bytes(st, i);
	if (len < 0)
		return -1;
	*n = (size_t)len;
	return 0;
}

/* A jobs row (JOB_COLS) as a store_job whose strings and blobs are the
 * row's; -1 when a blob is malformed. */
static int
job_row(sqlite3_stmt *st, struct store_job *j)
{
	memset(j, 0, sizeof(*j));
	j->job_id = store_col_text(st, 0);
	j->action = store_col_text(st, 1);
	j->operator_name = store_col_text(st, 2);
	j->reason = store_col_text(st, 3);
	if (col_blob(st, 4, &j->body, &j->body_len) != 0 ||
	    store_col_fixed(st, 5, j->sig, sizeof(j->sig)) != 0)
		return -1;
	j->created_ms = store_col_u64(st, 6);
	j->expires_ms = store_col_u64(st, 7);
	j->submitted_ms = store_col_u64(st, 8);
	j->deadline_ms = store_col_u64(st, 9);
	j->ended_ms = store_col_u64(st, 10);
	j->state = store_col_text(st, 11);
	j->stage = store_col_text(st, 12);
	j->batch = store_col_u64(st, 13);
	j->message = store_col_text(st, 14);
	return col_blob(st, 15, &j->targets, &j->targets_len);
}

/* Steps st and calls fn for each job row. */
static int
jobs_walk(struct store *s, sqlite3_stmt *st, int (*fn)(void *ctx, const struct store_job *j),
          void *ctx, size_t *rows, char *err, size_t errlen)
{
	struct store_job j;
	int rc, ret;

	*rows = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (job_row(st, &j) != 0)
			return store_corrupt(s, err, errlen, "jobs");
		++*rows;
		if ((ret = fn(ctx, &j)) != 0)
			return ret;
	}
	return rc == SQLITE_DONE ? 0 : store_db_err(s, err, errlen, "read jobs");
}

int
store_jobs_each(struct store *s, const char *const *states,
                int (*fn)(void *ctx, const struct store_job *j), void *ctx, char *err,
                size_t errlen)
{
	enum stmt id = states == NULL ? ST_JOBS_ALL : ST_JOBS_STATES;
	sqlite3_stmt *st = NULL;
	json_t *list = NULL;
	char *text = NULL;
	size_t rows;
	int ret = -1;

	if (states != NULL) {
		/* The state list goes in as one JSON array (json_each), so one
		 * cached statement serves any list. */
		if ((list = json_array()) == NULL) {
			store_nomem(s, err, errlen, "jobs");
			goto out;
		}
		for (size_t i = 0; states[i] != NULL; i++) {
			if (i >= STATES_MAX) {
				snprintf(err, errlen, "%s: more than %d job states", s->path,
				         STATES_MAX);
				goto out;
			}
			if (store_check_text(s, "state", states[i], true, err, errlen) != 0)
				goto out;
			if (json_array_append_new(list, json_string(states[i])) != 0) {
				store_nomem(s, err, errlen, "jobs");
				goto out;
			}
		}
		if ((text = json_dumps(list, JSON_COMPACT)) == NULL) {
			store_nomem(s, err, errlen, "jobs");
			goto out;
		}
	}
	if ((st = store_stmt_get(s, id, err, errlen)) == NULL)
		goto out;
	if (text != NULL)
		store_bind_text(st, 1, text);
	ret = jobs_walk(s, st, fn, ctx, &rows, err, errlen);
out:
	store_stmt_put(s, id, st);
	free(text);
	json_decref(list);
	return ret;
}

int
store_job_get(struct store *s, const char *job_id, int (*fn)(void *ctx, const struct store_job *j),
              void *ctx, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	size_t rows;
	int ret;

	if (store_check_text(s, "job_id", job_id, true, err, errlen) != 0)
		return -1;
	if ((st = store_stmt_get(s, ST_JOB_GET, err, errlen)) == NULL)
		return -1;
	store_bind_text(st, 1, job_id);
	ret = jobs_walk(s, st, fn, ctx, &rows, err, errlen);
	if (ret == 0 && rows == 0) {
		snprintf(err, errlen, "job %s is unknown", job_id);
		ret = STORE_NOT_FOUND;
	}
	store_stmt_put(s, ST_JOB_GET, st);
	return ret;
}

int
store_job_host_update(struct store *s, const struct store_job_host *h, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int ret;

	if (store_check_text(s, "job_id", h->job_id, true, err, errlen) != 0 ||
	    store_check_text(s, "host_id", h->host_id, true, err, errlen) != 0 ||
	    store_check_text(s, "role", h->role, true, err, errlen) != 0 ||
	    store_check_text(s, "state", h->state, true, err, errlen) != 0 ||
	    store_check_text(s, "phase", h->phase, true, err, errlen) != 0 ||
	    store_check_text(s, "step", h->step, false, err, errlen) != 0 ||
	    store_check_text(s, "failed_step", h->failed_step, false, err, errlen) != 0 ||
	    store_check_text(s, "message", h->message, false, err, errlen) != 0 ||
	    store_check_u64(s, "batch", h->batch, err, errlen) != 0 ||
	    store_check_u64(s, "updated_ms", h->updated_ms, err, errlen) != 0 ||
	    store_check_u64(s, "dispatch_expires_ms", h->dispatch_expires_ms, err, errlen) != 0 ||
	    store_check_text(s, "revert", h->revert, false, err, errlen) != 0 ||
	    store_check_text(s, "revert_message", h->revert_message, false, err, errlen) != 0)
		return -1;
	if ((st = store_stmt_get(s, ST_JOB_HOST_UPDATE, err, errlen)) == NULL)
		return -1;
	store_bind_text(st, 1, h->job_id);
	store_bind_text(st, 2, h->host_id);
	store_bind_text(st, 3, h->role);
	store_bind_u64(st, 4, h->batch);
	store_bind_text(st, 5, h->state);
	store_bind_text(st, 6, h->phase);
	store_bind_text(st, 7, h->step != NULL ? h->step : "");
	store_bind_text(st, 8, h->failed_step != NULL ? h->failed_step : "");
	store_bind_text(st, 9, h->message != NULL ? h->message : "");
	store_bind_u64(st, 10, h->updated_ms);
	store_bind_u64(st, 11, h->dispatch_expires_ms);
	sqlite3_bind_int64(st, 12, h->unit);
	store_bind_text(st, 13, h->revert != NULL ? h->revert : "");
	store_bind_text(st, 14, h->revert_message != NULL ? h->revert_message : "");
	ret = store_step_write(s, st, err, errlen, "update job target");
	if (ret == 0 && sqlite3_changes(s->db) == 0) {
		snprintf(err, errlen, "job %s has no target %s", h->job_id, h->host_id);
		ret = STORE_NOT_FOUND;
	}
	store_stmt_put(s, ST_JOB_HOST_UPDATE, st);
	return ret;
}

int
store_job_hosts_each(struct store *s, const char *job_id,
                     int (*fn)(void *ctx, const struct store_job_host *h), void *ctx, char *err,
                     size_t errlen)
{
	struct store_job_host h;
	sqlite3_stmt *st;
	int rc, ret = 0;

	if (store_check_text(s, "job_id", job_id, true, err, errlen) != 0)
		return -1;
	if ((st = store_stmt_get(s, ST_JOB_HOSTS_EACH, err, errlen)) == NULL)
		return -1;
	store_bind_text(st, 1, job_id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		h.job_id = store_col_text(st, 0);
		h.host_id = store_col_text(st, 1);
		h.order = store_col_u64(st, 2);
		h.role = store_col_text(st, 3);
		h.batch = store_col_u64(st, 4);
		h.state = store_col_text(st, 5);
		h.phase = store_col_text(st, 6);
		h.step = store_col_text(st, 7);
		h.failed_step = store_col_text(st, 8);
		h.message = store_col_text(st, 9);
		h.updated_ms = store_col_u64(st, 10);
		h.dispatch_expires_ms = store_col_u64(st, 11);
		h.unit = sqlite3_column_int64(st, 12);
		h.revert = store_col_text(st, 13);
		h.revert_message = store_col_text(st, 14);
		if ((ret = fn(ctx, &h)) != 0)
			goto out;
	}
	if (rc != SQLITE_DONE)
		ret = store_db_err(s, err, errlen, "read job targets");
out:
	store_stmt_put(s, ST_JOB_HOSTS_EACH, st);
	return ret;
}

bool
store_job_exists(struct store *s, const char *job_id)
{
	char scratch[256];
	sqlite3_stmt *st = store_stmt_get(s, ST_JOB_EXISTS, scratch, sizeof(scratch));
	bool found;

	if (st == NULL)
		return false;
	store_bind_text(st, 1, job_id);
	found = sqlite3_step(st) == SQLITE_ROW;
	store_stmt_put(s, ST_JOB_EXISTS, st);
	return found;
}

int
store_job_target(struct store *s, const char *job_id, const char *host_id, char action[33],
                 char phase[10], bool *is_target, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc, ret = 0;

	*is_target = false;
	if (store_check_text(s, "job_id", job_id, true, err, errlen) != 0 ||
	    store_check_text(s, "host_id", host_id, true, err, errlen) != 0)
		return -1;
	if ((st = store_stmt_get(s, ST_JOB_TARGET, err, errlen)) == NULL)
		return -1;
	store_bind_text(st, 1, job_id);
	store_bind_text(st, 2, host_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		snprintf(action, 33, "%s", store_col_text(st, 0));
		*is_target = sqlite3_column_type(st, 1) != SQLITE_NULL;
		snprintf(phase, 10, "%s", *is_target ? store_col_text(st, 1) : "");
	} else if (rc == SQLITE_DONE) {
		snprintf(err, errlen, "job %s is unknown", job_id);
		ret = STORE_NOT_FOUND;
	} else {
		ret = store_db_err(s, err, errlen, "read a job target");
	}
	store_stmt_put(s, ST_JOB_TARGET, st);
	return ret;
}
