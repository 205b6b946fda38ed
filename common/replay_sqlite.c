/* SQLite nonce store: one row per accepted nonce, kept until its dispatch's
 * expiry plus skew; an upsert decides "new or seen" atomically. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/replay_sqlite.h"

#define PURGE_EVERY 256

struct rs {
	sqlite3 *db;
	sqlite3_stmt *ins;
	sqlite3_stmt *del;
	unsigned inserts;
};

static int
rs_purge(void *ctx, uint64_t now_ms)
{
	struct rs *r = ctx;
	int rc;

	sqlite3_reset(r->del);
	sqlite3_bind_int64(r->del, 1, (sqlite3_int64)now_ms);
	rc = sqlite3_step(r->del);
	sqlite3_reset(r->del);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int
rs_insert(void *ctx, const uint8_t nonce[PROTO_NONCE_LEN], uint64_t keep_until_ms, uint64_t now_ms)
{
	struct rs *r = ctx;
	int rc;

	if (++r->inserts % PURGE_EVERY == 0)
		(void)rs_purge(r, now_ms); /* best effort: a failure only keeps rows longer */
	sqlite3_reset(r->ins);
	sqlite3_bind_blob(r->ins, 1, nonce, PROTO_NONCE_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(r->ins, 2, (sqlite3_int64)keep_until_ms);
	sqlite3_bind_int64(r->ins, 3, (sqlite3_int64)now_ms);
	rc = sqlite3_step(r->ins);
	sqlite3_reset(r->ins);
	sqlite3_clear_bindings(r->ins);
	if (rc != SQLITE_DONE)
		return -1;
	/* No row changed: the nonce is present and still live. */
	return sqlite3_changes(r->db) == 0 ? 1 : 0;
}

static void
rs_close(void *ctx)
{
	struct rs *r = ctx;

	if (r == NULL)
		return;
	sqlite3_finalize(r->ins);
	sqlite3_finalize(r->del);
	sqlite3_close(r->db);
	free(r);
}

static const struct replay_store_ops rs_ops = {rs_insert, rs_purge, rs_close};

int
replay_sqlite_open(struct replay_guard *g, const char *path, char *err, size_t errlen)
{
	static const char schema[] =
	    "PRAGMA journal_mode=WAL;"
	    "PRAGMA synchronous=FULL;"
	    "CREATE TABLE IF NOT EXISTS replay_nonce ("
	    " nonce BLOB PRIMARY KEY, keep_until_ms INTEGER NOT NULL) WITHOUT ROWID;";
	/* An expired row may be reused; a live one is left alone (0 changes). */
	static const char ins[] =
	    "INSERT INTO replay_nonce(nonce, keep_until_ms) VALUES (?1, ?2) "
	    "ON CONFLICT(nonce) DO UPDATE SET keep_until_ms = excluded.keep_until_ms "
	    "WHERE replay_nonce.keep_until_ms < ?3";
	static const char del[] = "DELETE FROM replay_nonce WHERE keep_until_ms < ?1";
	struct rs *r = calloc(1, sizeof(*r));
	char *msg = NULL;

	if (r == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	/* Created 0600, and only when absent: close() on an open database's
	 * file would drop this process's SQLite locks on it. */
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd >= 0)
		close(fd);
	if (sqlite3_open_v2(path, &r->db,
	                    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOFOLLOW,
	                    NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: cannot open nonce store: %s", path,
		         r->db ? sqlite3_errmsg(r->db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(r->db, 5000);
	if (sqlite3_exec(r->db, schema, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "%s: cannot set up nonce store: %s", path, msg ? msg : "?");
		sqlite3_free(msg);
		goto fail;
	}
	if (sqlite3_prepare_v2(r->db, ins, -1, &r->ins, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(r->db, del, -1, &r->del, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(r->db));
		goto fail;
	}
	g->ops = &rs_ops;
	g->ctx = r;
	return 0;
fail:
	rs_close(r);
	return -1;
}
