/* The coordinator's durable store: one SQLite database (WAL, synchronous=FULL)
 * with cached prepared statements, so the event loop's hot writes (results,
 * per-host job state) cost one bind and one step each. This file holds the
 * schema and its upgrades, the statements, the checks every write makes,
 * open/close and transactions; the tables' reads and writes are in
 * store-hosts.c, store-jobs.c, store-results.c and store-audit.c. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "coordinator/store-int.h"

/* 2: jobs.targets (the target list frame of the Merkle-committed JOB).
 * 3: job_hosts.dispatch_expires_ms (an ended job's unanswered dispatch),
 *    index results_job (results paged in receipt order).
 * 4: hosts.metadb (the metadb its ODC uses: its deployment), job_hosts.unit
 *    (the order of the first target of its rollout unit: its deployment).
 * 5: hosts.backup (what its latest rollback check found at the backup path). */
#define SCHEMA_VERSION 6
#define STR_(x)        #x
#define STR(x)         STR_(x)
#define BUSY_MS        5000
/* Bounds on what is handed to SQLite. The protocol bounds every field far
 * below these (a JOB body is at most 1 MiB); they catch a caller's bug, not
 * an attacker, but SQLite's int lengths must never be reached. */
#define TEXT_MAX (1u << 20)
#define BODY_MAX (1u << 20)

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
    " revert TEXT NOT NULL DEFAULT '',"
    " revert_message TEXT NOT NULL DEFAULT '',"
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
	" dispatch_expires_ms, unit, revert, revert_message"
#define RESULT_COLS                                                                                \
	"step, status, exit_code, started_ms, duration_ms, message, output_tail, data, final,"     \
	" incarnation, received_ms, body, sig"
#define AUDIT_COLS "id, at_ms, who, what, job_id, hosts, outcome, detail"

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
        " dispatch_expires_ms = ?11, unit = ?12, revert = ?13, revert_message = ?14"
        " WHERE job_id = ?1 AND host_id = ?2",
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

/* ---- errors and checks ---- */

int
store_db_err(const struct store *s, char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
	return -1;
}

int
store_nomem(const struct store *s, char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "%s: %s: out of memory", s->path, what);
	return -1;
}

int
store_corrupt(const struct store *s, char *err, size_t errlen, const char *table)
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
int
store_check_text(const struct store *s, const char *field, const char *v, bool required, char *err,
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
int
store_check_u64(const struct store *s, const char *field, uint64_t v, char *err, size_t errlen)
{
	if (v <= (uint64_t)INT64_MAX)
		return 0;
	snprintf(err, errlen, "%s: %s is out of range", s->path, field);
	return -1;
}

int
store_check_blob(const struct store *s, const char *field, const uint8_t *p, size_t n, char *err,
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
int
store_check_json(const struct store *s, const char *field, const char *v, json_type type,
                 bool required, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *j;
	bool ok;

	if (store_check_text(s, field, v, required, err, errlen) != 0)
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

/* ---- statements ---- */

/* The cached statement, or a fresh one while the cached one is in use: an
 * iteration's callback may call back into the store. */
sqlite3_stmt *
store_stmt_get(struct store *s, enum stmt id, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;

	if (!s->busy[id]) {
		s->busy[id] = true;
		return s->st[id];
	}
	if (sqlite3_prepare_v3(s->db, stmt_sql[id], -1, 0, &st, NULL) != SQLITE_OK) {
		store_db_err(s, err, errlen, "prepare");
		sqlite3_finalize(st);
		return NULL;
	}
	return st;
}

void
store_stmt_put(struct store *s, enum stmt id, sqlite3_stmt *st)
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

int
store_bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v == NULL)
		return sqlite3_bind_null(st, i);
	return sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

int
store_bind_u64(sqlite3_stmt *st, int i, uint64_t v)
{
	return sqlite3_bind_int64(st, i, (sqlite3_int64)v);
}

int
store_bind_blob(sqlite3_stmt *st, int i, const uint8_t *p, size_t n)
{
	/* A NULL pointer would bind SQL NULL; an empty body is a zero blob. */
	if (n == 0)
		return sqlite3_bind_zeroblob(st, i, 0);
	return sqlite3_bind_blob(st, i, p, (int)n, SQLITE_STATIC);
}

const char *
store_col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t != NULL ? (const char *)t : "";
}

uint64_t
store_col_u64(sqlite3_stmt *st, int i)
{
	sqlite3_int64 v = sqlite3_column_int64(st, i);

	return v < 0 ? 0 : (uint64_t)v;
}

/* Copies a blob column that must be exactly n bytes. */
int
store_col_fixed(sqlite3_stmt *st, int i, uint8_t *out, size_t n)
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
	sqlite3_stmt *st = store_stmt_get(s, id, err, errlen);
	int rc, ret = 0;

	if (st == NULL)
		return -1;
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		ret = store_db_err(s, err, errlen, what);
	store_stmt_put(s, id, st);
	return ret;
}

/* Steps a write statement with its arguments bound; -1 with err on failure. */
int
store_step_write(struct store *s, sqlite3_stmt *st, char *err, size_t errlen, const char *what)
{
	if (sqlite3_step(st) == SQLITE_DONE)
		return 0;
	return store_db_err(s, err, errlen, what);
}

/* ---- atomic units ---- */

/* Opens an atomic unit for a write of several statements: a transaction of
 * its own in autocommit mode, else a savepoint inside the caller's. */
int
store_unit_begin(struct store *s, bool *own, char *err, size_t errlen)
{
	*own = sqlite3_get_autocommit(s->db) != 0;
	return exec_st(s, *own ? ST_BEGIN : ST_SAVEPOINT, err, errlen, "begin");
}

/* Ends a unit: kept when ret is 0, undone otherwise. Returns ret, or -1 when
 * keeping it failed. */
int
store_unit_end(struct store *s, bool own, int ret, char *err, size_t errlen)
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
		store_db_err(s, err, errlen, sql);
		goto out;
	}
	if (sqlite3_step(st) != SQLITE_ROW) {
		store_db_err(s, err, errlen, sql);
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
		store_db_err(s, err, errlen, "not a usable SQLite database");
		goto out;
	}
	if (strcmp(store_col_text(st, 0), "wal") != 0) {
		snprintf(err, errlen, "%s: cannot use WAL mode (journal_mode is %s)", s->path,
		         store_col_text(st, 0));
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
	if (version == 5 &&
	    (exec_sql(s,
	              "ALTER TABLE job_hosts ADD COLUMN revert TEXT NOT NULL DEFAULT '';"
	              "ALTER TABLE job_hosts ADD COLUMN revert_message TEXT NOT NULL DEFAULT '';"
	              "PRAGMA user_version=6;",
	              err, errlen, "upgrade schema 5 to 6") != 0 ||
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
			store_db_err(s, err, errlen, "prepare");
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
