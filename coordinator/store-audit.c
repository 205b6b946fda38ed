/* The store's audit trail: append-only rows (the schema's triggers
 * refuse UPDATE and DELETE), read newest first. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/store-int.h"

int
store_audit(struct store *s, uint64_t at_ms, const char *who, const char *what, const char *job_id,
            const char *hosts_json, const char *outcome, const char *detail, char *err,
            size_t errlen)
{
	sqlite3_stmt *st;
	int ret;

	if (store_check_u64(s, "at_ms", at_ms, err, errlen) != 0 ||
	    store_check_text(s, "who", who, true, err, errlen) != 0 ||
	    store_check_text(s, "what", what, true, err, errlen) != 0 ||
	    store_check_text(s, "job_id", job_id, false, err, errlen) != 0 ||
	    store_check_json(s, "hosts", hosts_json, JSON_ARRAY, false, err, errlen) != 0 ||
	    store_check_text(s, "outcome", outcome, true, err, errlen) != 0 ||
	    store_check_text(s, "detail", detail, false, err, errlen) != 0)
		return -1;
	if ((st = store_stmt_get(s, ST_AUDIT_INSERT, err, errlen)) == NULL)
		return -1;
	store_bind_u64(st, 1, at_ms);
	store_bind_text(st, 2, who);
	store_bind_text(st, 3, what);
	store_bind_text(st, 4, job_id);
	store_bind_text(st, 5, hosts_json);
	store_bind_text(st, 6, outcome);
	store_bind_text(st, 7, detail != NULL ? detail : "");
	ret = store_step_write(s, st, err, errlen, "append audit");
	store_stmt_put(s, ST_AUDIT_INSERT, st);
	return ret;
}

int
store_audit_each(struct store *s, const char *job_id, size_t limit,
                 int (*fn)(void *ctx, const struct store_audit_row *a), void *ctx, char *err,
                 size_t errlen)
{
	enum stmt id = job_id != NULL ? ST_AUDIT_JOB : ST_AUDIT_ALL;
	sqlite3_int64 lim = limit > (size_t)INT64_MAX ? INT64_MAX : (sqlite3_int64)limit;
	struct store_audit_row a;
	sqlite3_stmt *st;
	int rc, ret = 0;

	if (store_check_text(s, "job_id", job_id, false, err, errlen) != 0)
		return -1;
	if ((st = store_stmt_get(s, id, err, errlen)) == NULL)
		return -1;
	if (job_id != NULL) {
		store_bind_text(st, 1, job_id);
		sqlite3_bind_int64(st, 2, lim);
	} else {
		sqlite3_bind_int64(st, 1, lim);
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		a.id = sqlite3_column_int64(st, 0);
		a.at_ms = sqlite3_column_int64(st, 1);
		a.who = store_col_text(st, 2);
		a.what = store_col_text(st, 3);
		a.job_id = sqlite3_column_type(st, 4) == SQLITE_NULL ? NULL : store_col_text(st, 4);
		a.hosts_json =
		    sqlite3_column_type(st, 5) == SQLITE_NULL ? NULL : store_col_text(st, 5);
		a.outcome = store_col_text(st, 6);
		a.detail = store_col_text(st, 7);
		if ((ret = fn(ctx, &a)) != 0)
			goto out;
	}
	if (rc != SQLITE_DONE)
		ret = store_db_err(s, err, errlen, "read audit");
out:
	store_stmt_put(s, id, st);
	return ret;
}
