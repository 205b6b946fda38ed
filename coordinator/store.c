/* The coordinator's durable store: one SQLite database (WAL, synchronous=FULL)
 * with cached prepared statements, so the event loop's hot writes (results,
 * per-host job state) cost one bind and one step each. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/buf.h"
#include "common/keys.h"
#include "coordinator/store.h"
#include "proto/proto.h"

/* 2: jobs.targets (the target list frame of the Merkle-committed JOB).
 * 3: job_hosts.dispatch_expires_ms (an ended job's unanswered dispatch),
 *    index results_job (results paged in receipt order).
 * 4: hosts.metadb (the metadb its ODC uses: its deployment), job_hosts.unit
 *    (the order of the first target of its rollout unit: its deployment).
 * 5: hosts.backup (what its latest rollback check found at the backup path). */
#define SCHEMA_VERSION 5
#define STR_(x)        #x
#define STR(x)         STR_(x)
#define BUSY_MS        5000
/* Bounds on what is handed to SQLite. The protocol bounds every field far
 * below these (a JOB body is at most 1 MiB); they catch a caller's bug, not
 * an attacker, but SQLite's int lengths must never be reached. */
#define TEXT_MAX   (1u << 20)
#define BODY_MAX   (1u << 20)
#define STATES_MAX 16

static const char schema_sql[] =
    "CREATE TABLE hosts ("
    " host_id TEXT PRIMARY KEY NOT NULL,"
    " pk BLOB NOT NULL UNIQUE CHECK (length(pk) = 32),"
    " state TEXT NOT NULL CHECK (state IN ('accepted', 'revoked')),"
    " accepted_ms INTEGER NOT NULL,"
    " revoked_ms INTEGER NOT NULL DEFAULT 0,"
    " labels TEXT NOT NULL DEFAULT '{}',"
    " last_seen_ms INTEGER NOT NULL DEFAULT 0,"
    " agent_version TEXT NOT NULL DEFAULT '',"
    " address TEXT NOT NULL DEFAULT '',"
    " metadb TEXT NOT NULL DEFAULT '',"
    " backup TEXT NOT NULL DEFAULT '');"
    /* Every key ever bound to a host, so that a key a host gave up (revoked,
     * then replaced) can never be accepted for another host id. */
    "CREATE TABLE host_keys ("
    " pk BLOB PRIMARY KEY NOT NULL CHECK (length(pk) = 32),"
    " host_id TEXT NOT NULL REFERENCES hosts(host_id),"
    " bound_ms INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE pending ("
    " pk BLOB PRIMARY KEY NOT NULL CHECK (length(pk) = 32),"
    " address TEXT NOT NULL,"
    " first_ms INTEGER NOT NULL,"
    " last_ms INTEGER NOT NULL,"
    " attempts INTEGER NOT NULL,"
    " seq INTEGER NOT NULL);"
    "CREATE INDEX pending_seen ON pending(last_ms, seq);"
    "CREATE TABLE jobs ("
    " job_id TEXT PRIMARY KEY NOT NULL,"
    " action TEXT NOT NULL,"
    " operator TEXT NOT NULL,"
    " reason TEXT NOT NULL,"
    " body BLOB NOT NULL,"
    " sig BLOB NOT NULL CHECK (length(sig) = 96),"
    " created_ms INTEGER NOT NULL,"
    " expires_ms INTEGER NOT NULL,"
    " submitted_ms INTEGER NOT NULL,"
    " deadline_ms INTEGER NOT NULL,"
    " ended_ms INTEGER NOT NULL DEFAULT 0,"
    " state TEXT NOT NULL,"
    " stage TEXT NOT NULL,"
    " batch INTEGER NOT NULL DEFAULT 0,"
    " message TEXT NOT NULL DEFAULT '',"
    " targets BLOB NOT NULL);" /* the JOB's frame 3, bound to body by its Merkle root */
    "CREATE INDEX jobs_state ON jobs(state, submitted_ms);"
    "CREATE INDEX jobs_submitted ON jobs(submitted_ms);"
    "CREATE TABLE job_hosts ("
    " job_id TEXT NOT NULL REFERENCES jobs(job_id),"
    " host_id TEXT NOT NULL,"
    " ord INTEGER NOT NULL,"
    " role TEXT NOT NULL DEFAULT '',"
    " batch INTEGER NOT NULL DEFAULT 0,"
    " state TEXT NOT NULL DEFAULT 'pending',"
    " phase TEXT NOT NULL DEFAULT '',"
    " step TEXT NOT NULL DEFAULT '',"
    " failed_step TEXT NOT NULL DEFAULT '',"
    " message TEXT NOT NULL DEFAULT '',"
    " updated_ms INTEGER NOT NULL,"
    " dispatch_expires_ms INTEGER NOT NULL DEFAULT 0,"
    " unit INTEGER NOT NULL DEFAULT -1,"
    " PRIMARY KEY (job_id, host_id),"
    " UNIQUE (job_id, ord)) WITHOUT ROWID;"
    /* The rowid is the receipt order (rows are never deleted). */
    "CREATE TABLE results ("
    " job_id TEXT NOT NULL,"
    " host_id TEXT NOT NULL,"
    " step TEXT NOT NULL,"
    " status TEXT NOT NULL,"
    " exit_code INTEGER NOT NULL,"
    " started_ms INTEGER NOT NULL,"
    " duration_ms INTEGER NOT NULL,"
    " message TEXT NOT NULL,"
    " output_tail TEXT NOT NULL,"
    " data TEXT NOT NULL,"
    " final INTEGER NOT NULL CHECK (final IN (0, 1)),"
    " incarnation BLOB NOT NULL CHECK (length(incarnation) = 16),"
    " body BLOB NOT NULL,"
    " sig BLOB NOT NULL CHECK (length(sig) = 96),"
    " received_ms INTEGER NOT NULL,"
    " PRIMARY KEY (job_id, host_id, step),"
    " FOREIGN KEY (job_id, host_id) REFERENCES job_hosts(job_id, host_id));"
    /* A job's results in receipt order (an index entry ends with the rowid). */
    "CREATE INDEX results_job ON results(job_id);"
    "CREATE TABLE audit ("
    " id INTEGER PRIMARY KEY,"
    " at_ms INTEGER NOT NULL,"
    " who TEXT NOT NULL,"
    " what TEXT NOT NULL,"
    " job_id TEXT,"
    " hosts TEXT,"
    " outcome TEXT NOT NULL,"
    " detail TEXT NOT NULL);"
    "CREATE INDEX audit_job ON audit(job_id, id);"
    /* Append-only. The insert trigger stops INSERT OR REPLACE, which would
     * otherwise delete a row without firing the delete trigger. */
    "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
    " BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;"
    "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
    " BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;"
    "CREATE TRIGGER audit_no_replace BEFORE INSERT ON audit"
    " WHEN EXISTS (SELECT 1 FROM audit WHERE id = NEW.id)"
    " BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;";

#define HOST_COLS                                                                                  \
	"host_id, pk, state, accepted_ms, revoked_ms, labels, last_seen_ms, agent_version, "       \
	"address, metadb, backup"
#define JOB_COLS                                                                                   \
	"job_id, action, operator, reason, body, sig, created_ms, expires_ms, submitted_ms,"       \
	" deadline_ms, ended_ms, state, stage, batch, message, targets"
#define JOB_HOST_COLS                                                                              \
	"job_id, host_id, ord, role, batch, state, phase, step, failed_step, message, updated_ms," \
	" dispatch_expires_ms, unit"
#define RESULT_COLS                                                                                \
	"step, status, exit_code, started_ms, duration_ms, message, output_tail, data, final,"     \
	" incarnation, received_ms, body, sig"
#define AUDIT_COLS "id, at_ms, who, what, job_id, hosts, outcome, detail"

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

static const char *const stmt_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_SAVEPOINT] = "SAVEPOINT store_write",
    [ST_RELEASE] = "RELEASE store_write",
    [ST_ROLLBACK_TO] = "ROLLBACK TO store_write",
    [ST_HOSTS_EACH] = "SELECT " HOST_COLS " FROM hosts ORDER BY host_id",
    [ST_HOST_GET] = "SELECT pk, state FROM hosts WHERE host_id = ?1",
    [ST_KEY_OWNER] = "SELECT host_id FROM host_keys WHERE pk = ?1",
    [ST_HOST_INSERT] = "INSERT INTO hosts(host_id, pk, state, accepted_ms)"
                       " VALUES (?1, ?2, 'accepted', ?3)",
    [ST_HOST_REACCEPT] = "UPDATE hosts SET pk = ?2, state = 'accepted', accepted_ms = ?3,"
                         " revoked_ms = 0 WHERE host_id = ?1",
    [ST_KEY_BIND] = "INSERT INTO host_keys(pk, host_id, bound_ms) VALUES (?1, ?2, ?3)"
                    " ON CONFLICT(pk) DO NOTHING",
    [ST_HOST_REVOKE] = "UPDATE hosts SET state = 'revoked', revoked_ms = ?2"
                       " WHERE host_id = ?1 AND state = 'accepted'",
    [ST_HOST_SEEN] = "UPDATE hosts SET last_seen_ms = ?2, labels = coalesce(?3, labels),"
                     " agent_version = coalesce(?4, agent_version),"
                     " address = coalesce(?5, address) WHERE host_id = ?1",
    [ST_HOST_METADB] = "UPDATE hosts SET metadb = ?2 WHERE host_id = ?1",
    [ST_HOST_BACKUP] = "UPDATE hosts SET backup = ?2 WHERE host_id = ?1",
    [ST_PENDING_DEL] = "DELETE FROM pending WHERE pk = ?1",
    [ST_PENDING_UPSERT] =
        "INSERT INTO pending(pk, address, first_ms, last_ms, attempts, seq)"
        " VALUES (?1, ?2, ?3, ?3, 1, (SELECT ifnull(max(seq), 0) + 1 FROM pending))"
        " ON CONFLICT(pk) DO UPDATE SET address = excluded.address,"
        " last_ms = excluded.last_ms, attempts = attempts + 1, seq = excluded.seq",
    [ST_PENDING_TRIM] = "DELETE FROM pending WHERE pk IN (SELECT pk FROM pending"
                        " ORDER BY last_ms DESC, seq DESC LIMIT -1 OFFSET ?1)",
    [ST_PENDING_LIST] = "SELECT pk, address, first_ms, last_ms, attempts FROM pending"
                        " ORDER BY last_ms DESC, seq DESC",
    [ST_JOB_INSERT] =
        "INSERT INTO jobs(" JOB_COLS ")"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
    [ST_JOB_HOST_INSERT] = "INSERT INTO job_hosts(job_id, host_id, ord, updated_ms)"
                           " VALUES (?1, ?2, ?3, ?4)",
    [ST_JOB_UPDATE] = "UPDATE jobs SET state = ?2, stage = ?3, batch = ?4, message = ?5,"
                      " ended_ms = ?6 WHERE job_id = ?1",
    [ST_JOBS_ALL] = "SELECT " JOB_COLS " FROM jobs ORDER BY submitted_ms, rowid",
    [ST_JOBS_STATES] = "SELECT " JOB_COLS " FROM jobs"
                       " WHERE state IN (SELECT value FROM json_each(?1))"
                       " ORDER BY submitted_ms, rowid",
    [ST_JOB_GET] = "SELECT " JOB_COLS " FROM jobs WHERE job_id = ?1",
    [ST_JOB_EXISTS] = "SELECT 1 FROM jobs WHERE job_id = ?1",
    [ST_JOB_HOST_UPDATE] =
        "UPDATE job_hosts SET role = ?3, batch = ?4, state = ?5, phase = ?6,"
        " step = ?7, failed_step = ?8, message = ?9, updated_ms = ?10,"
        " dispatch_expires_ms = ?11, unit = ?12 WHERE job_id = ?1 AND host_id = ?2",
    [ST_JOB_HOSTS_EACH] = "SELECT " JOB_HOST_COLS " FROM job_hosts WHERE job_id = ?1"
                          " ORDER BY ord",
    [ST_RESULT_INSERT] =
        "INSERT INTO results(job_id, host_id, " RESULT_COLS ")"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
        " ON CONFLICT(job_id, host_id, step) DO NOTHING",
    [ST_RESULTS_PAGE] = "SELECT " RESULT_COLS ", host_id, rowid FROM results"
                        " WHERE job_id = ?1 AND (?2 IS NULL OR host_id = ?2)"
                        " AND (?3 IS NULL OR step = ?3) AND rowid > ?4 ORDER BY rowid",
    [ST_JOB_TARGET] = "SELECT j.action, h.phase FROM jobs j LEFT JOIN job_hosts h"
                      " ON h.job_id = j.job_id AND h.host_id = ?2 WHERE j.job_id = ?1",
    [ST_RESULTS_COUNT] = "SELECT count(*) FROM results WHERE job_id = ?1",
    [ST_AUDIT_INSERT] = "INSERT INTO audit(at_ms, who, what, job_id, hosts, outcome, detail)"
                        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [ST_AUDIT_ALL] = "SELECT " AUDIT_COLS " FROM audit ORDER BY id DESC LIMIT ?1",
    [ST_AUDIT_JOB] = "SELECT " AUDIT_COLS " FROM audit WHERE job_id = ?1"
                     " ORDER BY id DESC LIMIT ?2",
};

struct store {
	sqlite3 *db;
	char *path;
	sqlite3_stmt *st[ST_COUNT];
	bool busy[ST_COUNT]; /* the cached statement is handed out */
};

/* ---- errors and checks ---- */

static int
db_err(const struct store *s, char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
	return -1;
}

static int
nomem(const struct store *s, char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "%s: %s: out of memory", s->path, what);
	return -1;
}

static int
corrupt(const struct store *s, char *err, size_t errlen, const char *table)
{
	snprintf(err, errlen, "%s: a row of %s is malformed (database damaged?)", s->path, table);
	return -1;
}

/* RFC 3629 UTF-8 (no overlongs, surrogates or code points past U+10FFFF), so
 * that whatever is stored can be handed back as a JSON string. */
static bool
utf8_ok(const unsigned char *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned c = p[i];
		size_t len;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xE0) == 0xC0) {
			len = 2;
			cp = c & 0x1F;
		} else if ((c & 0xF0) == 0xE0) {
			len = 3;
			cp = c & 0x0F;
		} else if ((c & 0xF8) == 0xF0) {
			len = 4;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (n - i < len)
			return false;
		for (size_t k = 1; k < len; k++) {
			if ((p[i + k] & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i + k] & 0x3F);
		}
		if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
		    (len == 4 && cp < 0x10000) || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += len;
	}
	return true;
}

/* Refuses a text the store could not hand back intact: NULL when required,
 * longer than TEXT_MAX, or not UTF-8. */
static int
check_text(const struct store *s, const char *field, const char *v, bool required, char *err,
           size_t errlen)
{
	size_t n;

	if (v == NULL) {
		if (!required)
			return 0;
		snprintf(err, errlen, "%s: %s is missing", s->path, field);
		return -1;
	}
	n = strnlen(v, TEXT_MAX + 1);
	if (n > TEXT_MAX) {
		snprintf(err, errlen, "%s: %s is longer than %u bytes", s->path, field, TEXT_MAX);
		return -1;
	}
	if (!utf8_ok((const unsigned char *)v, n)) {
		snprintf(err, errlen, "%s: %s is not valid UTF-8", s->path, field);
		return -1;
	}
	return 0;
}

/* SQLite integers are signed; the protocol keeps every uint at most 2^63-1. */
static int
check_u64(const struct store *s, const char *field, uint64_t v, char *err, size_t errlen)
{
	if (v <= (uint64_t)INT64_MAX)
		return 0;
	snprintf(err, errlen, "%s: %s is out of range", s->path, field);
	return -1;
}

static int
check_blob(const struct store *s, const char *field, const uint8_t *p, size_t n, char *err,
           size_t errlen)
{
	if (n > BODY_MAX) {
		snprintf(err, errlen, "%s: %s is longer than %u bytes", s->path, field, BODY_MAX);
		return -1;
	}
	if (p == NULL && n > 0) {
		snprintf(err, errlen, "%s: %s is missing", s->path, field);
		return -1;
	}
	return 0;
}

/* A JSON text of the given type (JSON_OBJECT or JSON_ARRAY); NULL passes
 * when not required. */
static int
check_json(const struct store *s, const char *field, const char *v, json_type type, bool required,
           char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *j;
	bool ok;

	if (check_text(s, field, v, required, err, errlen) != 0)
		return -1;
	if (v == NULL)
		return 0;
	j = json_loads(v, JSON_REJECT_DUPLICATES, &jerr);
	ok = j != NULL && json_typeof(j) == type;
	json_decref(j);
	if (!ok) {
		snprintf(err, errlen, "%s: %s is not a JSON %s", s->path, field,
		         type == JSON_OBJECT ? "object" : "array");
		return -1;
	}
	return 0;
}

static int
check_job_texts(const struct store *s, const struct store_job *j, char *err, size_t errlen)
{
	if (check_text(s, "job_id", j->job_id, true, err, errlen) != 0 ||
	    check_text(s, "action", j->action, true, err, errlen) != 0 ||
	    check_text(s, "operator", j->operator_name, true, err, errlen) != 0 ||
	    check_text(s, "reason", j->reason, true, err, errlen) != 0 ||
	    check_text(s, "state", j->state, true, err, errlen) != 0 ||
	    check_text(s, "stage", j->stage, true, err, errlen) != 0 ||
	    check_text(s, "message", j->message, false, err, errlen) != 0 ||
	    check_blob(s, "body", j->body, j->body_len, err, errlen) != 0 ||
	    check_blob(s, "targets", j->targets, j->targets_len, err, errlen) != 0 ||
	    check_u64(s, "created_ms", j->created_ms, err, errlen) != 0 ||
	    check_u64(s, "expires_ms", j->expires_ms, err, errlen) != 0 ||
	    check_u64(s, "submitted_ms", j->submitted_ms, err, errlen) != 0 ||
	    check_u64(s, "deadline_ms", j->deadline_ms, err, errlen) != 0 ||
	    check_u64(s, "ended_ms", j->ended_ms, err, errlen) != 0 ||
	    check_u64(s, "batch", j->batch, err, errlen) != 0)
		return -1;
	return 0;
}

/* ---- statements ---- */

/* The cached statement, or a fresh one while the cached one is in use: an
 * iteration's callback may call back into the store. */
static sqlite3_stmt *
stmt_get(struct store *s, enum stmt id, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;

	if (!s->busy[id]) {
		s->busy[id] = true;
		return s->st[id];
	}
	if (sqlite3_prepare_v3(s->db, stmt_sql[id], -1, 0, &st, NULL) != SQLITE_OK) {
		db_err(s, err, errlen, "prepare");
		sqlite3_finalize(st);
		return NULL;
	}
	return st;
}

static void
stmt_put(struct store *s, enum stmt id, sqlite3_stmt *st)
{
	if (st == NULL)
		return;
	if (st != s->st[id]) {
		sqlite3_finalize(st);
		return;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	s->busy[id] = false;
}

static int
bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v == NULL)
		return sqlite3_bind_null(st, i);
	return sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

static int
bind_u64(sqlite3_stmt *st, int i, uint64_t v)
{
	return sqlite3_bind_int64(st, i, (sqlite3_int64)v);
}

static int
bind_blob(sqlite3_stmt *st, int i, const uint8_t *p, size_t n)
{
	/* A NULL pointer would bind SQL NULL; an empty body is a zero blob. */
	if (n == 0)
		return sqlite3_bind_zeroblob(st, i, 0);
	return sqlite3_bind_blob(st, i, p, (int)n, SQLITE_STATIC);
}

static const char *
col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t != NULL ? (const char *)t : "";
}

static uint64_t
col_u64(sqlite3_stmt *st, int i)
{
	sqlite3_int64 v = sqlite3_column_int64(st, i);

	return v < 0 ? 0 : (uint64_t)v;
}

/* Copies a blob column that must be exactly n bytes. */
static int
col_fixed(sqlite3_stmt *st, int i, uint8_t *out, size_t n)
{
	const void *p = sqlite3_column_blob(st, i);
	int len = sqlite3_column_bytes(st, i);

	if (p == NULL || len < 0 || (size_t)len != n)
		return -1;
	memcpy(out, p, n);
	return 0;
}

/* Runs a statement that returns no rows (or whose rows do not matter). */
static int
exec_st(struct store *s, enum stmt id, char *err, size_t errlen, const char *what)
{
	sqlite3_stmt *st = stmt_get(s, id, err, errlen);
	int rc, ret = 0;

	if (st == NULL)
		return -1;
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		ret = db_err(s, err, errlen, what);
	stmt_put(s, id, st);
	return ret;
}

/* ---- atomic units ---- */

/* Opens an atomic unit for a write of several statements: a transaction of
 * its own in autocommit mode, else a savepoint inside the caller's. */
static int
unit_begin(struct store *s, bool *own, char *err, size_t errlen)
{
	*own = sqlite3_get_autocommit(s->db) != 0;
	return exec_st(s, *own ? ST_BEGIN : ST_SAVEPOINT, err, errlen, "begin");
}

/* Ends a unit: kept when ret is 0, undone otherwise. Returns ret, or -1 when
 * keeping it failed. */
static int
unit_end(struct store *s, bool own, int ret, char *err, size_t errlen)
{
	char scratch[256];

	if (ret == 0) {
		if (exec_st(s, own ? ST_COMMIT : ST_RELEASE, err, errlen, "commit") == 0)
			return 0;
		ret = -1;
	}
	/* A failed statement may have ended the transaction already (SQLite
	 * rolls back by itself on a full disk or an I/O error). */
	if (own) {
		if (!sqlite3_get_autocommit(s->db))
			(void)exec_st(s, ST_ROLLBACK, scratch, sizeof(scratch), "rollback");
	} else if (!sqlite3_get_autocommit(s->db)) {
		if (exec_st(s, ST_ROLLBACK_TO, scratch, sizeof(scratch), "rollback") == 0)
			(void)exec_st(s, ST_RELEASE, scratch, sizeof(scratch), "release");
	}
	return ret;
}

/* ---- open and close ---- */

static int
pragma_int(struct store *s, const char *sql, int *out, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int ret = -1;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		db_err(s, err, errlen, sql);
		goto out;
	}
	if (sqlite3_step(st) != SQLITE_ROW) {
		db_err(s, err, errlen, sql);
		goto out;
	}
	*out = sqlite3_column_int(st, 0);
	ret = 0;
out:
	sqlite3_finalize(st);
	return ret;
}

static int
exec_sql(struct store *s, const char *sql, char *err, size_t errlen, const char *what)
{
	char *msg = NULL;

	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) == SQLITE_OK)
		return 0;
	snprintf(err, errlen, "%s: %s: %s", s->path, what,
	         msg != NULL ? msg : sqlite3_errmsg(s->db));
	sqlite3_free(msg);
	return -1;
}

/* WAL, durability and foreign keys, then the schema: created in one
 * transaction when the file is new, else its version checked. */
static int
store_setup(struct store *s, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int version, fk, objects, ret = -1;
	bool in_tx = false;

	if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		db_err(s, err, errlen, "not a usable SQLite database");
		goto out;
	}
	if (strcmp(col_text(st, 0), "wal") != 0) {
		snprintf(err, errlen, "%s: cannot use WAL mode (journal_mode is %s)", s->path,
		         col_text(st, 0));
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (exec_sql(s, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;", err, errlen,
	             "set up") != 0 ||
	    pragma_int(s, "PRAGMA foreign_keys", &fk, err, errlen) != 0)
		goto out;
	if (fk != 1) {
		snprintf(err, errlen, "%s: this SQLite cannot enforce foreign keys", s->path);
		goto out;
	}
	/* Decided inside a write transaction, so that two processes opening a
	 * new file cannot both create the schema. */
	if (exec_sql(s, "BEGIN IMMEDIATE", err, errlen, "lock") != 0)
		goto out;
	in_tx = true;
	if (pragma_int(s, "PRAGMA user_version", &version, err, errlen) != 0 ||
	    pragma_int(s, "SELECT count(*) FROM sqlite_master", &objects, err, errlen) != 0)
		goto out;
	if (version == 0 && objects > 0) {
		snprintf(err, errlen,
		         "%s: holds tables but no schema version: not a coordinator store",
		         s->path);
		goto out;
	}
	if (version == 2 &&
	    (exec_sql(
	         s,
	         "ALTER TABLE job_hosts ADD COLUMN dispatch_expires_ms INTEGER NOT NULL DEFAULT 0;"
	         "CREATE INDEX results_job ON results(job_id);"
	         "PRAGMA user_version=3;",
	         err, errlen, "upgrade schema 2 to 3") != 0 ||
	     pragma_int(s, "PRAGMA user_version", &version, err, errlen) != 0))
		goto out;
	if (version == 3 &&
	    (exec_sql(s,
	              "ALTER TABLE hosts ADD COLUMN metadb TEXT NOT NULL DEFAULT '';"
	              "ALTER TABLE job_hosts ADD COLUMN unit INTEGER NOT NULL DEFAULT -1;"
	              "PRAGMA user_version=4;",
	              err, errlen, "upgrade schema 3 to 4") != 0 ||
	     pragma_int(s, "PRAGMA user_version", &version, err, errlen) != 0))
		goto out;
	if (version == 4 &&
	    (exec_sql(s,
	              "ALTER TABLE hosts ADD COLUMN backup TEXT NOT NULL DEFAULT '';"
	              "PRAGMA user_version=5;",
	              err, errlen, "upgrade schema 4 to 5") != 0 ||
	     pragma_int(s, "PRAGMA user_version", &version, err, errlen) != 0))
		goto out;
	if (version != 0 && version != SCHEMA_VERSION) {
		snprintf(err, errlen, "%s: schema version %d, but this coordinator uses version %d",
		         s->path, version, SCHEMA_VERSION);
		goto out;
	}
	if (version == 0 && (exec_sql(s, schema_sql, err, errlen, "create schema") != 0 ||
	                     exec_sql(s, "PRAGMA user_version=" STR(SCHEMA_VERSION), err, errlen,
	                              "create schema") != 0))
		goto out;
	if (exec_sql(s, "COMMIT", err, errlen, "create schema") != 0)
		goto out;
	in_tx = false;
	ret = 0;
out:
	sqlite3_finalize(st);
	if (in_tx && !sqlite3_get_autocommit(s->db))
		(void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return ret;
}

struct store *
store_open(const char *path, char *err, size_t errlen)
{
	struct store *s = NULL;
	struct stat sb;
	int fd;

	if (path == NULL || path[0] == '\0' || strnlen(path, PATH_MAX) >= PATH_MAX) {
		snprintf(err, errlen, "store: no usable database path");
		return NULL;
	}
	/* Created 0600 ourselves (SQLite would follow the umask), and only when
	 * absent: close() on any descriptor of a file drops every POSIX lock this
	 * process holds on it, SQLite's included. The WAL and shm files SQLite
	 * makes take this file's mode. */
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd >= 0) {
		close(fd);
	} else if (errno != EEXIST) {
		snprintf(err, errlen, "%s: cannot create: %s", path, strerror(errno));
		return NULL;
	}
	if (lstat(path, &sb) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (S_ISLNK(sb.st_mode)) {
		snprintf(err, errlen, "%s: is a symbolic link; refusing it", path);
		return NULL;
	}
	if (!S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL || (s->path = strdup(path)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, NULL) !=
	    SQLITE_OK) {
		snprintf(err, errlen, "%s: cannot open: %s", path,
		         s->db != NULL ? sqlite3_errmsg(s->db) : "out of memory");
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, BUSY_MS);
	if (store_setup(s, err, errlen) != 0)
		goto fail;
	for (int i = 0; i < ST_COUNT; i++) {
		if (sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i],
		                       NULL) != SQLITE_OK) {
			db_err(s, err, errlen, "prepare");
			goto fail;
		}
	}
	return s;
fail:
	store_close(s);
	return NULL;
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	if (s->db != NULL && !sqlite3_get_autocommit(s->db))
		(void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(s->st[i]);
	sqlite3_close(s->db);
	free(s->path);
	free(s);
}

/* ---- transactions ---- */

int
store_begin(struct store *s, char *err, size_t errlen)
{
	if (!sqlite3_get_autocommit(s->db))
		return 0;
	return exec_st(s, ST_BEGIN, err, errlen, "begin transaction");
}

int
store_commit(struct store *s, char *err, size_t errlen)
{
	char scratch[256];

	if (sqlite3_get_autocommit(s->db))
		return 0;
	if (exec_st(s, ST_COMMIT, err, errlen, "commit") == 0)
		return 0;
	/* Leave no transaction half open: what it held is not durable, and the
	 * caller must not promise otherwise. */
	if (!sqlite3_get_autocommit(s->db))
		(void)exec_st(s, ST_ROLLBACK, scratch, sizeof(scratch), "rollback");
	return -1;
}

bool
store_in_tx(const struct store *s)
{
	return sqlite3_get_autocommit(s->db) == 0;
}

const char *
store_path(const struct store *s)
{
	return s->path;
}

/* ---- hosts and keys ---- */

int
store_hosts_each(struct store *s, int (*fn)(void *ctx, const struct store_host *h), void *ctx,
                 char *err, size_t errlen)
{
	struct store_host h;
	sqlite3_stmt *st;
	int rc, ret = 0;

	if ((st = stmt_get(s, ST_HOSTS_EACH, err, errlen)) == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&h, 0, sizeof(h));
		h.host_id = col_text(st, 0);
		if (col_fixed(st, 1, h.pk, sizeof(h.pk)) != 0) {
			ret = corrupt(s, err, errlen, "hosts");
			goto out;
		}
		h.state = col_text(st, 2);
		h.accepted_ms = col_u64(st, 3);
		h.revoked_ms = col_u64(st, 4);
		h.labels_json = col_text(st, 5);
		h.last_seen_ms = col_u64(st, 6);
		h.agent_version = col_text(st, 7);
		h.address = col_text(st, 8);
		h.metadb_json = col_text(st, 9);
		h.backup_json = col_text(st, 10);
		if ((ret = fn(ctx, &h)) != 0)
			goto out;
	}
	if (rc != SQLITE_DONE)
		ret = db_err(s, err, errlen, "read hosts");
out:
	stmt_put(s, ST_HOSTS_EACH, st);
	return ret;
}

void
store_fingerprint(const uint8_t pk[32], char out[KEYS_FINGERPRINT_SIZE])
{
	if (keys_fingerprint(pk, out, KEYS_FINGERPRINT_SIZE) != 0)
		snprintf(out, KEYS_FINGERPRINT_SIZE, "?");
}

/* The host's current key and state; *found false when the host is unknown. */
static int
host_get(struct store *s, const char *host_id, uint8_t pk[32], bool *accepted, bool *found,
         char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc, ret = 0;

	*found = false;
	if ((st = stmt_get(s, ST_HOST_GET, err, errlen)) == NULL)
		return -1;
	bind_text(st, 1, host_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		if (col_fixed(st, 0, pk, 32) != 0) {
			ret = corrupt(s, err, errlen, "hosts");
			goto out;
		}
		*accepted = strcmp(col_text(st, 1), "accepted") == 0;
		*found = true;
	} else if (rc != SQLITE_DONE) {
		ret = db_err(s, err, errlen, "read host");
	}
out:
	stmt_put(s, ST_HOST_GET, st);
	return ret;
}

/* STORE_CONFLICT (message in err) when pk was ever bound to a host other than
 * host_id. */
static int
key_owner_check(struct store *s, const uint8_t pk[32], const char *host_id, char *err,
                size_t errlen)
{
	char fp[KEYS_FINGERPRINT_SIZE];
	sqlite3_stmt *st;
	int rc, ret = 0;

	if ((st = stmt_get(s, ST_KEY_OWNER, err, errlen)) == NULL)
		return -1;
	bind_blob(st, 1, pk, 32);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		if (strcmp(col_text(st, 0), host_id) != 0) {
			store_fingerprint(pk, fp);
			snprintf(err, errlen, "key %s belongs to host %s", fp, col_text(st, 0));
			ret = STORE_CONFLICT;
		}
	} else if (rc != SQLITE_DONE) {
		ret = db_err(s, err, errlen, "read keys");
	}
	stmt_put(s, ST_KEY_OWNER, st);
	return ret;
}

/* Steps a write statement with its arguments bound; -1 with err on failure. */
static int
step_write(struct store *s, sqlite3_stmt *st, char *err, size_t errlen, const char *what)
{
	if (sqlite3_step(st) == SQLITE_DONE)
		return 0;
	return db_err(s, err, errlen, what);
}

static int
host_write(struct store *s, enum stmt id, const char *host_id, const uint8_t pk[32],
           uint64_t now_ms, char *err, size_t errlen, const char *what)
{
	sqlite3_stmt *st;
	int ret;

	if ((st = stmt_get(s, id, err, errlen)) == NULL)
		return -1;
	/* Statements agree on ?1 host id, ?2 key, ?3 time, except the key
	 * binding, whose ?1 is the key. */
	if (id == ST_KEY_BIND) {
		bind_blob(st, 1, pk, 32);
		bind_text(st, 2, host_id);
	} else {
		bind_text(st, 1, host_id);
		bind_blob(st, 2, pk, 32);
	}
	bind_u64(st, 3, now_ms);
	ret = step_write(s, st, err, errlen, what);
	stmt_put(s, id, st);
	return ret;
}

static int
pending_delete(struct store *s, const uint8_t pk[32], char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int ret;

	if ((st = stmt_get(s, ST_PENDING_DEL, err, errlen)) == NULL)
		return -1;
	bind_blob(st, 1, pk, 32);
	ret = step_write(s, st, err, errlen, "remove pending key");
	stmt_put(s, ST_PENDING_DEL, st);
	return ret;
}

int
store_host_accept(struct store *s, const char *host_id, const uint8_t pk[32], uint64_t now_ms,
                  bool *changed, char *err, size_t errlen)
{
	char fp[KEYS_FINGERPRINT_SIZE];
	uint8_t cur[32], curve[KEYS_CURVE_LEN];
	bool own, found, accepted = false;
	int ret;

	if (changed != NULL)
		*changed = false;
	if (check_text(s, "host_id", host_id, true, err, errlen) != 0 ||
	    check_u64(s, "accepted_ms", now_ms, err, errlen) != 0)
		return -1;
	if (unit_begin(s, &own, err, errlen) != 0)
		return -1;
	if ((ret = host_get(s, host_id, cur, &accepted, &found, err, errlen)) != 0)
		goto out;
	if (found && accepted) {
		if (memcmp(cur, pk, 32) == 0)
			goto out; /* nothing to change */
		store_fingerprint(cur, fp);
		snprintf(err, errlen, "host %s is enrolled with key %s; revoke it first", host_id,
		         fp);
		ret = STORE_CONFLICT;
		goto out;
	}
	if ((ret = key_owner_check(s, pk, host_id, err, errlen)) != 0)
		goto out;
	if ((ret = host_write(s, found ? ST_HOST_REACCEPT : ST_HOST_INSERT, host_id, pk, now_ms,
	                      err, errlen, "accept host")) != 0 ||
	    (ret = host_write(s, ST_KEY_BIND, host_id, pk, now_ms, err, errlen, "bind key")) != 0)
		goto out;
	/* Pending keys are X25519 (what ZAP sees); a key with no X25519 form
	 * cannot have been pending. */
	if (keys_curve_public(pk, curve) == 0 && (ret = pending_delete(s, curve, err, errlen)) != 0)
		goto out;
	if (changed != NULL)
		*changed = true;
out:
	ret = unit_end(s, own, ret, err, errlen);
	if (ret != 0 && changed != NULL)
		*changed = false;
	return ret;
}

int
store_host_revoke(struct store *s, const char *host_id, uint64_t now_ms, bool *changed, char *err,
                  size_t errlen)
{
	sqlite3_stmt *st;
	uint8_t cur[32];
	bool own, found, accepted = false;
	int ret;

	if (changed != NULL)
		*changed = false;
	if (check_text(s, "host_id", host_id, true, err, errlen) != 0 ||
	    check_u64(s, "revoked_ms", now_ms, err, errlen) != 0)
		return -1;
	if (unit_begin(s, &own, err, errlen) != 0)
		return -1;
	if ((ret = host_get(s, host_id, cur, &accepted, &found, err, errlen)) != 0)
		goto out;
	if (!found) {
		snprintf(err, errlen, "host %s is not enrolled", host_id);
		ret = STORE_NOT_FOUND;
		goto out;
	}
	if (!accepted)
		goto out;
	if ((st = stmt_get(s, ST_HOST_REVOKE, err, errlen)) == NULL) {
		ret = -1;
		goto out;
	}
	bind_text(st, 1, host_id);
	bind_u64(st, 2, now_ms);
	ret = step_write(s, st, err, errlen, "revoke host");
	stmt_put(s, ST_HOST_REVOKE, st);
	if (ret == 0 && changed != NULL)
		*changed = true;
out:
	ret = unit_end(s, own, ret, err, errlen);
	if (ret != 0 && changed != NULL)
		*changed = false;
	return ret;
}

int
store_host_seen(struct store *s, const char *host_id, uint64_t last_seen_ms,
                const char *labels_json, const char *agent_version, const char *address, char *err,
                size_t errlen)
{
	sqlite3_stmt *st;
	int ret;

	if (check_text(s, "host_id", host_id, true, err, errlen) != 0 ||
	    check_u64(s, "last_seen_ms", last_seen_ms, err, errlen) != 0 ||
	    check_json(s, "labels", labels_json, JSON_OBJECT, false, err, errlen) != 0 ||
	    check_text(s, "agent_version", agent_version, false, err, errlen) != 0 ||
	    check_text(s, "address", address, false, err, errlen) != 0)
		return -1;
	if ((st = stmt_get(s, ST_HOST_SEEN, err, errlen)) == NULL)
		return -1;
	bind_text(st, 1, host_id);
	bind_u64(st, 2, last_seen_ms);
	bind_text(st, 3, labels_json);
	bind_text(st, 4, agent_version);
	bind_text(st, 5, address);
	ret = step_write(s, st, err, errlen, "record host");
	if (ret == 0 && sqlite3_changes(s->db) == 0) {
		snprintf(err, errlen, "host %s is not enrolled", host_id);
		ret = STORE_NOT_FOUND;
	}
	stmt_put(s, ST_HOST_SEEN, st);
	return ret;
}

/* One JSON object column of a host's row (statement id sets it). */
static int
host_set_json(struct store *s, enum stmt id, const char *host_id, const char *what,
              const char *json, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	char doing[64];
	int ret;

	if (check_text(s, "host_id", host_id, true, err, errlen) != 0 ||
	    check_json(s, what, json, JSON_OBJECT, true, err, errlen) != 0)
		return -1;
	if ((st = stmt_get(s, id, err, errlen)) == NULL)
		return -1;
	bind_text(st, 1, host_id);
	bind_text(st, 2, json);
	snprintf(doing, sizeof(doing), "record the host's %s", what);
	ret = step_write(s, st, err, errlen, doing);
	if (ret == 0 && sqlite3_changes(s->db) == 0) {
		snprintf(err, errlen, "host %s is not enrolled", host_id);
		ret = STORE_NOT_FOUND;
	}
	stmt_put(s, id, st);
	return ret;
}

int
store_host_metadb(struct store *s, const char *host_id, const char *metadb_json, char *err,
                  size_t errlen)
{
	return host_set_json(s, ST_HOST_METADB, host_id, "metadb", metadb_json, err, errlen);
}

int
store_host_backup(struct store *s, const char *host_id, const char *backup_json, char *err,
                  size_t errlen)
{
	return host_set_json(s, ST_HOST_BACKUP, host_id, "backup", backup_json, err, errlen);
}

int
store_pending_note(struct store *s, const uint8_t curve[32], const char *address, uint64_t now_ms,
                   char *err, size_t errlen)
{
	sqlite3_stmt *st;
	bool own;
	int ret;

	if (check_text(s, "address", address, false, err, errlen) != 0 ||
	    check_u64(s, "now_ms", now_ms, err, errlen) != 0)
		return -1;
	if (unit_begin(s, &own, err, errlen) != 0)
		return -1;
	if ((st = stmt_get(s, ST_PENDING_UPSERT, err, errlen)) == NULL) {
		ret = -1;
		goto out;
	}
	bind_blob(st, 1, curve, 32);
	bind_text(st, 2, address != NULL ? address : "");
	bind_u64(st, 3, now_ms);
	ret = step_write(s, st, err, errlen, "note pending key");
	stmt_put(s, ST_PENDING_UPSERT, st);
	if (ret != 0)
		goto out;
	if ((st = stmt_get(s, ST_PENDING_TRIM, err, errlen)) == NULL) {
		ret = -1;
		goto out;
	}
	sqlite3_bind_int(st, 1, STORE_PENDING_MAX);
	ret = step_write(s, st, err, errlen, "trim pending keys");
	stmt_put(s, ST_PENDING_TRIM, st);
out:
	return unit_end(s, own, ret, err, errlen);
}

int
store_pending_each(struct store *s, int (*fn)(void *ctx, const struct store_pending *p), void *ctx,
                   char *err, size_t errlen)
{
	struct store_pending p;
	sqlite3_stmt *st;
	int rc, ret = 0;

	if ((st = stmt_get(s, ST_PENDING_LIST, err, errlen)) == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&p, 0, sizeof(p));
		if (col_fixed(st, 0, p.curve, sizeof(p.curve)) != 0) {
			ret = corrupt(s, err, errlen, "pending");
			goto out;
		}
		p.address = col_text(st, 1);
		p.first_ms = col_u64(st, 2);
		p.last_ms = col_u64(st, 3);
		p.attempts = col_u64(st, 4);
		if ((ret = fn(ctx, &p)) != 0)
			goto out;
	}
	if (rc != SQLITE_DONE)
		ret = db_err(s, err, errlen, "read pending keys");
out:
	stmt_put(s, ST_PENDING_LIST, st);
	return ret;
}

/* ---- jobs ---- */

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
		if (check_text(s, "target", targets[i], true, err, errlen) != 0)
			return -1;
	if (unit_begin(s, &own, err, errlen) != 0)
		return -1;
	if ((st = stmt_get(s, ST_JOB_INSERT, err, errlen)) == NULL) {
		ret = -1;
		goto out;
	}
	bind_text(st, 1, j->job_id);
	bind_text(st, 2, j->action);
	bind_text(st, 3, j->operator_name);
	bind_text(st, 4, j->reason);
	bind_blob(st, 5, j->body, j->body_len);
	bind_blob(st, 6, j->sig, sizeof(j->sig));
	bind_u64(st, 7, j->created_ms);
	bind_u64(st, 8, j->expires_ms);
	bind_u64(st, 9, j->submitted_ms);
	bind_u64(st, 10, j->deadline_ms);
	bind_u64(st, 11, j->ended_ms);
	bind_text(st, 12, j->state);
	bind_text(st, 13, j->stage);
	bind_u64(st, 14, j->batch);
	bind_text(st, 15, j->message != NULL ? j->message : "");
	bind_blob(st, 16, j->targets, j->targets_len);
	ret = step_write(s, st, err, errlen, "insert job");
	if (ret != 0 && sqlite3_extended_errcode(s->db) == SQLITE_CONSTRAINT_PRIMARYKEY) {
		snprintf(err, errlen, "job %s exists", j->job_id);
		ret = STORE_CONFLICT;
	}
	stmt_put(s, ST_JOB_INSERT, st);
	if (ret != 0)
		goto out;
	if ((st = stmt_get(s, ST_JOB_HOST_INSERT, err, errlen)) == NULL) {
		ret = -1;
		goto out;
	}
	for (size_t i = 0; i < n_targets && ret == 0; i++) {
		bind_text(st, 1, j->job_id);
		bind_text(st, 2, targets[i]);
		bind_u64(st, 3, i);
		bind_u64(st, 4, j->submitted_ms);
		ret = step_write(s, st, err, errlen, "insert job target");
		if (ret != 0 && sqlite3_extended_errcode(s->db) == SQLITE_CONSTRAINT_PRIMARYKEY)
			snprintf(err, errlen, "%s: job %s: target %s is listed twice", s->path,
			         j->job_id, targets[i]);
		sqlite3_reset(st);
	}
	stmt_put(s, ST_JOB_HOST_INSERT, st);
out:
	return unit_end(s, own, ret, err, errlen);
}

int
store_job_update(struct store *s, const char *job_id, const char *state, const char *stage,
                 uint64_t batch, const char *message, uint64_t ended_ms, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int ret;

	if (check_text(s, "job_id", job_id, true, err, errlen) != 0 ||
	    check_text(s, "state", state, true, err, errlen) != 0 ||
	    check_text(s, "stage", stage, true, err, errlen) != 0 ||
	    check_text(s, "message", message, false, err, errlen) != 0 ||
	    check_u64(s, "batch", batch, err, errlen) != 0 ||
	    check_u64(s, "ended_ms", ended_ms, err, errlen) != 0)
		return -1;
	if ((st = stmt_get(s, ST_JOB_UPDATE, err, errlen)) == NULL)
		return -1;
	bind_text(st, 1, job_id);
	bind_text(st, 2, state);
	bind_text(st, 3, stage);
	bind_u64(st, 4, batch);
	bind_text(st, 5, message != NULL ? message : "");
	bind_u64(st, 6, ended_ms);
	ret = step_write(s, st, err, errlen, "update job");
	if (ret == 0 && sqlite3_changes(s->db) == 0) {
		snprintf(err, errlen, "job %s is unknown", job_id);
		ret = STORE_NOT_FOUND;
	}
	stmt_put(s, ST_JOB_UPDATE, st);
	return ret;
}

static int
job_row(sqlite3_stmt *st, struct store_job *j)
{
	int len;

	memset(j, 0, sizeof(*j));
	j->job_id = col_text(st, 0);
	j->action = col_text(st, 1);
	j->operator_name = col_text(st, 2);
	j->reason = col_text(st, 3);
	j->body = sqlite3_column_blob(st, 4);
	len = sqlite3_column_bytes(st, 4);
	if (len < 0)
		return -1;
	j->body_len = (size_t)len;
	if (col_fixed(st, 5, j->sig, sizeof(j->sig)) != 0)
		return -1;
	j->created_ms = col_u64(st, 6);
	j->expires_ms = col_u64(st, 7);
	j->submitted_ms = col_u64(st, 8);
	j->deadline_ms = col_u64(st, 9);
	j->ended_ms = col_u64(st, 10);
	j->state = col_text(st, 11);
	j->stage = col_text(st, 12);
	j->batch = col_u64(st, 13);
	j->message = col_text(st, 14);
	j->targets = sqlite3_column_blob(st, 15);
	len = sqlite3_column_bytes(st, 15);
	if (len < 0)
		return -1;
	j->targets_len = (size_t)len;
	return 0;
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
			return corrupt(s, err, errlen, "jobs");
		++*rows;
		if ((ret = fn(ctx, &j)) != 0)
			return ret;
	}
	return rc == SQLITE_DONE ? 0 : db_err(s, err, errlen, "read jobs");
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
			nomem(s, err, errlen, "jobs");
			goto out;
		}
		for (size_t i = 0; states[i] != NULL; i++) {
			if (i >= STATES_MAX) {
				snprintf(err, errlen, "%s: more than %d job states", s->path,
				         STATES_MAX);
				goto out;
			}
			if (check_text(s, "state", states[i], true, err, errlen) != 0)
				goto out;
			if (json_array_append_new(list, json_string(states[i])) != 0) {
				nomem(s, err, errlen, "jobs");
				goto out;
			}
		}
		if ((text = json_dumps(list, JSON_COMPACT)) == NULL) {
			nomem(s, err, errlen, "jobs");
			goto out;
		}
	}
	if ((st = stmt_get(s, id, err, errlen)) == NULL)
		goto out;
	if (text != NULL)
		bind_text(st, 1, text);
	ret = jobs_walk(s, st, fn, ctx, &rows, err, errlen);
out:
	stmt_put(s, id, st);
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

	if (check_text(s, "job_id", job_id, true, err, errlen) != 0)
		return -1;
	if ((st = stmt_get(s, ST_JOB_GET, err, errlen)) == NULL)
		return -1;
	bind_text(st, 1, job_id);
	ret = jobs_walk(s, st, fn, ctx, &rows, err, errlen);
	if (ret == 0 && rows == 0) {
		snprintf(err, errlen, "job %s is unknown", job_id);
		ret = STORE_NOT_FOUND;
	}
	stmt_put(s, ST_JOB_GET, st);
	return ret;
}

int
store_job_host_update(struct store *s, const struct store_job_host *h, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int ret;

	if (check_text(s, "job_id", h->job_id, true, err, errlen) != 0 ||
	    check_text(s, "host_id", h->host_id, true, err, errlen) != 0 ||
	    check_text(s, "role", h->role, true, err, errlen) != 0 ||
	    check_text(s, "state", h->state, true, err, errlen) != 0 ||
	    check_text(s, "phase", h->phase, true, err, errlen) != 0 ||
	    check_text(s, "step", h->step, false, err, errlen) != 0 ||
	    check_text(s, "failed_step", h->failed_step, false, err, errlen) != 0 ||
	    check_text(s, "message", h->message, false, err, errlen) != 0 ||
	    check_u64(s, "batch", h->batch, err, errlen) != 0 ||
	    check_u64(s, "updated_ms", h->updated_ms, err, errlen) != 0 ||
	    check_u64(s, "dispatch_expires_ms", h->dispatch_expires_ms, err, errlen) != 0)
		return -1;
	if ((st = stmt_get(s, ST_JOB_HOST_UPDATE, err, errlen)) == NULL)
		return -1;
	bind_text(st, 1, h->job_id);
	bind_text(st, 2, h->host_id);
	bind_text(st, 3, h->role);
	bind_u64(st, 4, h->batch);
	bind_text(st, 5, h->state);
	bind_text(st, 6, h->phase);
	bind_text(st, 7, h->step != NULL ? h->step : "");
	bind_text(st, 8, h->failed_step != NULL ? h->failed_step : "");
	bind_text(st, 9, h->message != NULL ? h->message : "");
	bind_u64(st, 10, h->updated_ms);
	bind_u64(st, 11, h->dispatch_expires_ms);
	sqlite3_bind_int64(st, 12, h->unit);
	ret = step_write(s, st, err, errlen, "update job target");
	if (ret == 0 && sqlite3_changes(s->db) == 0) {
		snprintf(err, errlen, "job %s has no target %s", h->job_id, h->host_id);
		ret = STORE_NOT_FOUND;
	}
	stmt_put(s, ST_JOB_HOST_UPDATE, st);
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

	if (check_text(s, "job_id", job_id, true, err, errlen) != 0)
		return -1;
	if ((st = stmt_get(s, ST_JOB_HOSTS_EACH, err, errlen)) == NULL)
		return -1;
	bind_text(st, 1, job_id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		h.job_id = col_text(st, 0);
		h.host_id = col_text(st, 1);
		h.order = col_u64(st, 2);
		h.role = col_text(st, 3);
		h.batch = col_u64(st, 4);
		h.state = col_text(st, 5);
		h.phase = col_text(st, 6);
		h.step = col_text(st, 7);
		h.failed_step = col_text(st, 8);
		h.message = col_text(st, 9);
		h.updated_ms = col_u64(st, 10);
		h.dispatch_expires_ms = col_u64(st, 11);
		h.unit = sqlite3_column_int64(st, 12);
		if ((ret = fn(ctx, &h)) != 0)
			goto out;
	}
	if (rc != SQLITE_DONE)
		ret = db_err(s, err, errlen, "read job targets");
out:
	stmt_put(s, ST_JOB_HOSTS_EACH, st);
	return ret;
}

/* ---- results ---- */

bool
store_job_exists(struct store *s, const char *job_id)
{
	char scratch[256];
	sqlite3_stmt *st = stmt_get(s, ST_JOB_EXISTS, scratch, sizeof(scratch));
	bool found;

	if (st == NULL)
		return false;
	bind_text(st, 1, job_id);
	found = sqlite3_step(st) == SQLITE_ROW;
	stmt_put(s, ST_JOB_EXISTS, st);
	return found;
}

int
store_result_insert(struct store *s, const struct store_result *r, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int ret;

	if (check_text(s, "job_id", r->job_id, true, err, errlen) != 0 ||
	    check_text(s, "host_id", r->host_id, true, err, errlen) != 0 ||
	    check_text(s, "step", r->step, true, err, errlen) != 0 ||
	    check_text(s, "status", r->status, true, err, errlen) != 0 ||
	    check_text(s, "message", r->message, false, err, errlen) != 0 ||
	    check_text(s, "output_tail", r->output_tail, false, err, errlen) != 0 ||
	    check_json(s, "data", r->data_json, JSON_OBJECT, true, err, errlen) != 0 ||
	    check_blob(s, "body", r->body, r->body_len, err, errlen) != 0 ||
	    check_u64(s, "started_ms", r->started_ms, err, errlen) != 0 ||
	    check_u64(s, "duration_ms", r->duration_ms, err, errlen) != 0 ||
	    check_u64(s, "received_ms", r->received_ms, err, errlen) != 0)
		return -1;
	if ((st = stmt_get(s, ST_RESULT_INSERT, err, errlen)) == NULL)
		return -1;
	bind_text(st, 1, r->job_id);
	bind_text(st, 2, r->host_id);
	bind_text(st, 3, r->step);
	bind_text(st, 4, r->status);
	sqlite3_bind_int64(st, 5, r->exit_code);
	bind_u64(st, 6, r->started_ms);
	bind_u64(st, 7, r->duration_ms);
	bind_text(st, 8, r->message != NULL ? r->message : "");
	bind_text(st, 9, r->output_tail != NULL ? r->output_tail : "");
	bind_text(st, 10, r->data_json);
	sqlite3_bind_int(st, 11, r->final ? 1 : 0);
	bind_blob(st, 12, r->incarnation, sizeof(r->incarnation));
	bind_u64(st, 13, r->received_ms);
	bind_blob(st, 14, r->body, r->body_len);
	bind_blob(st, 15, r->sig, sizeof(r->sig));
	ret = step_write(s, st, err, errlen, "insert result");
	if (ret == 0 && sqlite3_changes(s->db) == 0) {
		snprintf(err, errlen, "result %s/%s/%s is stored already", r->job_id, r->host_id,
		         r->step);
		ret = STORE_DUPLICATE;
	} else if (ret != 0 && sqlite3_extended_errcode(s->db) == SQLITE_CONSTRAINT_FOREIGNKEY) {
		ret = STORE_NOT_FOUND;
	}
	stmt_put(s, ST_RESULT_INSERT, st);
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

	if (check_text(s, "job_id", q->job_id, true, err, errlen) != 0 ||
	    (q->host_id != NULL && check_text(s, "host_id", q->host_id, true, err, errlen) != 0) ||
	    (q->step != NULL && check_text(s, "step", q->step, true, err, errlen) != 0) ||
	    check_u64(s, "after", q->after, err, errlen) != 0)
		return -1;
	if ((st = stmt_get(s, ST_RESULTS_PAGE, err, errlen)) == NULL)
		return -1;
	bind_text(st, 1, q->job_id);
	if (q->host_id != NULL)
		bind_text(st, 2, q->host_id);
	if (q->step != NULL)
		bind_text(st, 3, q->step);
	bind_u64(st, 4, q->after);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&r, 0, sizeof(r));
		r.job_id = q->job_id;
		r.host_id = col_text(st, 13);
		r.step = col_text(st, 0);
		r.status = col_text(st, 1);
		r.exit_code = sqlite3_column_int64(st, 2);
		r.started_ms = col_u64(st, 3);
		r.duration_ms = col_u64(st, 4);
		r.message = col_text(st, 5);
		r.output_tail = col_text(st, 6);
		r.data_json = col_text(st, 7);
		r.final = sqlite3_column_int(st, 8) != 0;
		r.received_ms = col_u64(st, 10);
		r.body = sqlite3_column_blob(st, 11);
		len = sqlite3_column_bytes(st, 11);
		r.body_len = len > 0 ? (size_t)len : 0;
		if (col_fixed(st, 9, r.incarnation, sizeof(r.incarnation)) != 0 ||
		    col_fixed(st, 12, r.sig, sizeof(r.sig)) != 0) {
			snprintf(err, errlen, "%s: result %s/%s/%s: malformed row or out of memory",
			         s->path, q->job_id, r.host_id, r.step);
			ret = -1;
			goto out;
		}
		if ((ret = fn(ctx, &r, col_u64(st, 14))) != 0)
			goto out;
	}
	if (rc != SQLITE_DONE)
		ret = db_err(s, err, errlen, "read results");
out:
	stmt_put(s, ST_RESULTS_PAGE, st);
	return ret;
}

int
store_job_target(struct store *s, const char *job_id, const char *host_id, char action[33],
                 char phase[10], bool *is_target, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc, ret = 0;

	*is_target = false;
	if (check_text(s, "job_id", job_id, true, err, errlen) != 0 ||
	    check_text(s, "host_id", host_id, true, err, errlen) != 0)
		return -1;
	if ((st = stmt_get(s, ST_JOB_TARGET, err, errlen)) == NULL)
		return -1;
	bind_text(st, 1, job_id);
	bind_text(st, 2, host_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		snprintf(action, 33, "%s", col_text(st, 0));
		*is_target = sqlite3_column_type(st, 1) != SQLITE_NULL;
		snprintf(phase, 10, "%s", *is_target ? col_text(st, 1) : "");
	} else if (rc == SQLITE_DONE) {
		snprintf(err, errlen, "job %s is unknown", job_id);
		ret = STORE_NOT_FOUND;
	} else {
		ret = db_err(s, err, errlen, "read a job target");
	}
	stmt_put(s, ST_JOB_TARGET, st);
	return ret;
}

int64_t
store_results_count(struct store *s, const char *job_id, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int64_t n = -1;

	if (check_text(s, "job_id", job_id, true, err, errlen) != 0)
		return -1;
	if ((st = stmt_get(s, ST_RESULTS_COUNT, err, errlen)) == NULL)
		return -1;
	bind_text(st, 1, job_id);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	else
		db_err(s, err, errlen, "count results");
	stmt_put(s, ST_RESULTS_COUNT, st);
	return n;
}

/* ---- audit ---- */

int
store_audit(struct store *s, uint64_t at_ms, const char *who, const char *what, const char *job_id,
            const char *hosts_json, const char *outcome, const char *detail, char *err,
            size_t errlen)
{
	sqlite3_stmt *st;
	int ret;

	if (check_u64(s, "at_ms", at_ms, err, errlen) != 0 ||
	    check_text(s, "who", who, true, err, errlen) != 0 ||
	    check_text(s, "what", what, true, err, errlen) != 0 ||
	    check_text(s, "job_id", job_id, false, err, errlen) != 0 ||
	    check_json(s, "hosts", hosts_json, JSON_ARRAY, false, err, errlen) != 0 ||
	    check_text(s, "outcome", outcome, true, err, errlen) != 0 ||
	    check_text(s, "detail", detail, false, err, errlen) != 0)
		return -1;
	if ((st = stmt_get(s, ST_AUDIT_INSERT, err, errlen)) == NULL)
		return -1;
	bind_u64(st, 1, at_ms);
	bind_text(st, 2, who);
	bind_text(st, 3, what);
	bind_text(st, 4, job_id);
	bind_text(st, 5, hosts_json);
	bind_text(st, 6, outcome);
	bind_text(st, 7, detail != NULL ? detail : "");
	ret = step_write(s, st, err, errlen, "append audit");
	stmt_put(s, ST_AUDIT_INSERT, st);
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

	if (check_text(s, "job_id", job_id, false, err, errlen) != 0)
		return -1;
	if ((st = stmt_get(s, id, err, errlen)) == NULL)
		return -1;
	if (job_id != NULL) {
		bind_text(st, 1, job_id);
		sqlite3_bind_int64(st, 2, lim);
	} else {
		sqlite3_bind_int64(st, 1, lim);
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		a.id = sqlite3_column_int64(st, 0);
		a.at_ms = sqlite3_column_int64(st, 1);
		a.who = col_text(st, 2);
		a.what = col_text(st, 3);
		a.job_id = sqlite3_column_type(st, 4) == SQLITE_NULL ? NULL : col_text(st, 4);
		a.hosts_json = sqlite3_column_type(st, 5) == SQLITE_NULL ? NULL : col_text(st, 5);
		a.outcome = col_text(st, 6);
		a.detail = col_text(st, 7);
		if ((ret = fn(ctx, &a)) != 0)
			goto out;
	}
	if (rc != SQLITE_DONE)
		ret = db_err(s, err, errlen, "read audit");
out:
	stmt_put(s, id, st);
	return ret;
}
