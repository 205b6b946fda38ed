/* The store's results: each agent-signed RESULT once per (job, host,
 * step), with its exact bytes and signature, read back in receipt order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/store-int.h"

int
store_result_insert(struct store *s, const struct store_result *r, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int ret;

	if (store_check_text(s, "job_id", r->job_id, true, err, errlen) != 0 ||
	    store_check_text(s, "host_id", r->host_id, true, err, errlen) != 0 ||
	    store_check_text(s, "step", r->step, true, err, errlen) != 0 ||
	    store_check_text(s, "status", r->status, true, err, errlen) != 0 ||
	    store_check_text(s, "message", r->message, false, err, errlen) != 0 ||
	    store_check_text(s, "output_tail", r->output_tail, false, err, errlen) != 0 ||
	    store_check_json(s, "data", r->data_json, JSON_OBJECT, true, err, errlen) != 0 ||
	    store_check_blob(s, "body", r->body, r->body_len, err, errlen) != 0 ||
	    store_check_u64(s, "started_ms", r->started_ms, err, errlen) != 0 ||
	    store_check_u64(s, "duration_ms", r->duration_ms, err, errlen) != 0 ||
	    store_check_u64(s, "received_ms", r->received_ms, err, errlen) != 0)
		return -1;
	if ((st = store_stmt_get(s, ST_RESULT_INSERT, err, errlen)) == NULL)
		return -1;
	store_bind_text(st, 1, r->job_id);
	store_bind_text(st, 2, r->host_id);
	store_bind_text(st, 3, r->step);
	store_bind_text(st, 4, r->status);
	sqlite3_bind_int64(st, 5, r->exit_code);
	store_bind_u64(st, 6, r->started_ms);
	store_bind_u64(st, 7, r->duration_ms);
	store_bind_text(st, 8, r->message != NULL ? r->message : "");
	store_bind_text(st, 9, r->output_tail != NULL ? r->output_tail : "");
	store_bind_text(st, 10, r->data_json);
	sqlite3_bind_int(st, 11, r->final ? 1 : 0);
	store_bind_blob(st, 12, r->incarnation, sizeof(r->incarnation));
	store_bind_u64(st, 13, r->received_ms);
	store_bind_blob(st, 14, r->body, r->body_len);
	store_bind_blob(st, 15, r->sig, sizeof(r->sig));
	ret = store_step_write(s, st, err, errlen, "insert result");
	if (ret == 0 && sqlite3_changes(s->db) == 0) {
		snprintf(err, errlen, "result %s/%s/%s is stored already", r->job_id, r->host_id,
		         r->step);
		ret = STORE_DUPLICATE;
	} else if (ret != 0 && sqlite3_extended_errcode(s->db) == SQLITE_CONSTRAINT_FOREIGNKEY) {
		ret = STORE_NOT_FOUND;
	}
	store_stmt_put(s, ST_RESULT_INSERT, st);
	if (ret == STORE_NOT_FOUND) {
		if (store_job_exists(s, r->job_id))
			snprintf(err, errlen, "job %s has no target %s", r->job_id, r->host_id);
		else
			snprintf(err, errlen, "job %s is unknown", r->job_id);
	}
	return ret;
}

int
store_results_each(struct store *s, const struct store_results_query *q,
                   int (*fn)(void *ctx, const struct store_result *r, uint64_t seq), void *ctx,
                   char *err, size_t errlen)
{
	struct store_result r;
	sqlite3_stmt *st;
	int rc, ret = 0, len;

	if (store_check_text(s, "job_id", q->job_id, true, err, errlen) != 0 ||
	    (q->host_id != NULL &&
	     store_check_text(s, "host_id", q->host_id, true, err, errlen) != 0) ||
	    (q->step != NULL && store_check_text(s, "step", q->step, true, err, errlen) != 0) ||
	    store_check_u64(s, "after", q->after, err, errlen) != 0)
		return -1;
	if ((st = store_stmt_get(s, ST_RESULTS_PAGE, err, errlen)) == NULL)
		return -1;
	store_bind_text(st, 1, q->job_id);
	if (q->host_id != NULL)
		store_bind_text(st, 2, q->host_id);
	if (q->step != NULL)
		store_bind_text(st, 3, q->step);
	store_bind_u64(st, 4, q->after);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&r, 0, sizeof(r));
		r.job_id = q->job_id;
		r.host_id = store_col_text(st, 13);
		r.step = store_col_text(st, 0);
		r.status = store_col_text(st, 1);
		r.exit_code = sqlite3_column_int64(st, 2);
		r.started_ms = store_col_u64(st, 3);
		r.duration_ms = store_col_u64(st, 4);
		r.message = store_col_text(st, 5);
		r.output_tail = store_col_text(st, 6);
		r.data_json = store_col_text(st, 7);
		r.final = sqlite3_column_int(st, 8) != 0;
		r.received_ms = store_col_u64(st, 10);
		r.body = sqlite3_column_blob(st, 11);
		len = sqlite3_column_bytes(st, 11);
		r.body_len = len > 0 ? (size_t)len : 0;
		if (store_col_fixed(st, 9, r.incarnation, sizeof(r.incarnation)) != 0 ||
		    store_col_fixed(st, 12, r.sig, sizeof(r.sig)) != 0) {
			snprintf(err, errlen, "%s: result %s/%s/%s: malformed row or out of memory",
			         s->path, q->job_id, r.host_id, r.step);
			ret = -1;
			goto out;
		}
		if ((ret = fn(ctx, &r, store_col_u64(st, 14))) != 0)
			goto out;
	}
	if (rc != SQLITE_DONE)
		ret = store_db_err(s, err, errlen, "read results");
out:
	store_stmt_put(s, ST_RESULTS_PAGE, st);
	return ret;
}

int64_t
store_results_count(struct store *s, const char *job_id, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int64_t n = -1;

	if (store_check_text(s, "job_id", job_id, true, err, errlen) != 0)
		return -1;
	if ((st = store_stmt_get(s, ST_RESULTS_COUNT, err, errlen)) == NULL)
		return -1;
	store_bind_text(st, 1, job_id);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	else
		store_db_err(s, err, errlen, "count results");
	store_stmt_put(s, ST_RESULTS_COUNT, st);
	return n;
}
