/* The store's hosts, their keys (every key ever bound, so that none is
 * reused by another host) and the pending keys ZAP refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/keys.h"
#include "coordinator/store-int.h"

int
store_hosts_each(struct store *s, int (*fn)(void *ctx, const struct store_host *h), void *ctx,
                 char *err, size_t errlen)
{
	struct store_host h;
	sqlite3_stmt *st;
	int rc, ret = 0;

	if ((st = store_stmt_get(s, ST_HOSTS_EACH, err, errlen)) == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&h, 0, sizeof(h));
		h.host_id = store_col_text(st, 0);
		if (store_col_fixed(st, 1, h.pk, sizeof(h.pk)) != 0) {
			ret = store_corrupt(s, err, errlen, "hosts");
			goto out;
		}
		h.state = store_col_text(st, 2);
		h.accepted_ms = store_col_u64(st, 3);
		h.revoked_ms = store_col_u64(st, 4);
		h.labels_json = store_col_text(st, 5);
		h.last_seen_ms = store_col_u64(st, 6);
		h.agent_version = store_col_text(st, 7);
		h.address = store_col_text(st, 8);
		h.metadb_json = store_col_text(st, 9);
		h.backup_json = store_col_text(st, 10);
		if ((ret = fn(ctx, &h)) != 0)
			goto out;
	}
	if (rc != SQLITE_DONE)
		ret = store_db_err(s, err, errlen, "read hosts");
out:
	store_stmt_put(s, ST_HOSTS_EACH, st);
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
	if ((st = store_stmt_get(s, ST_HOST_GET, err, errlen)) == NULL)
		return -1;
	store_bind_text(st, 1, host_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		if (store_col_fixed(st, 0, pk, 32) != 0) {
			ret = store_corrupt(s, err, errlen, "hosts");
			goto out;
		}
		*accepted = strcmp(store_col_text(st, 1), "accepted") == 0;
		*found = true;
	} else if (rc != SQLITE_DONE) {
		ret = store_db_err(s, err, errlen, "read host");
	}
out:
	store_stmt_put(s, ST_HOST_GET, st);
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

	if ((st = store_stmt_get(s, ST_KEY_OWNER, err, errlen)) == NULL)
		return -1;
	store_bind_blob(st, 1, pk, 32);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		if (strcmp(store_col_text(st, 0), host_id) != 0) {
			store_fingerprint(pk, fp);
			snprintf(err, errlen, "key %s belongs to host %s", fp,
			         store_col_text(st, 0));
			ret = STORE_CONFLICT;
		}
	} else if (rc != SQLITE_DONE) {
		ret = store_db_err(s, err, errlen, "read keys");
	}
	store_stmt_put(s, ST_KEY_OWNER, st);
	return ret;
}

static int
host_write(struct store *s, enum stmt id, const char *host_id, const uint8_t pk[32],
           uint64_t now_ms, char *err, size_t errlen, const char *what)
{
	sqlite3_stmt *st;
	int ret;

	if ((st = store_stmt_get(s, id, err, errlen)) == NULL)
		return -1;
	/* Statements agree on ?1 host id, ?2 key, ?3 time, except the key
	 * binding, whose ?1 is the key. */
	if (id == ST_KEY_BIND) {
		store_bind_blob(st, 1, pk, 32);
		store_bind_text(st, 2, host_id);
	} else {
		store_bind_text(st, 1, host_id);
		store_bind_blob(st, 2, pk, 32);
	}
	store_bind_u64(st, 3, now_ms);
	ret = store_step_write(s, st, err, errlen, what);
	store_stmt_put(s, id, st);
	return ret;
}

static int
pending_delete(struct store *s, const uint8_t pk[32], char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int ret;

	if ((st = store_stmt_get(s, ST_PENDING_DEL, err, errlen)) == NULL)
		return -1;
	store_bind_blob(st, 1, pk, 32);
	ret = store_step_write(s, st, err, errlen, "remove pending key");
	store_stmt_put(s, ST_PENDING_DEL, st);
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
	if (store_check_text(s, "host_id", host_id, true, err, errlen) != 0 ||
	    store_check_u64(s, "accepted_ms", now_ms, err, errlen) != 0)
		return -1;
	if (store_unit_begin(s, &own, err, errlen) != 0)
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
	ret = store_unit_end(s, own, ret, err, errlen);
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
	if (store_check_text(s, "host_id", host_id, true, err, errlen) != 0 ||
	    store_check_u64(s, "revoked_ms", now_ms, err, errlen) != 0)
		return -1;
	if (store_unit_begin(s, &own, err, errlen) != 0)
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
	if ((st = store_stmt_get(s, ST_HOST_REVOKE, err, errlen)) == NULL) {
		ret = -1;
		goto out;
	}
	store_bind_text(st, 1, host_id);
	store_bind_u64(st, 2, now_ms);
	ret = store_step_write(s, st, err, errlen, "revoke host");
	store_stmt_put(s, ST_HOST_REVOKE, st);
	if (ret == 0 && changed != NULL)
		*changed = true;
out:
	ret = store_unit_end(s, own, ret, err, errlen);
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

	if (store_check_text(s, "host_id", host_id, true, err, errlen) != 0 ||
	    store_check_u64(s, "last_seen_ms", last_seen_ms, err, errlen) != 0 ||
	    store_check_json(s, "labels", labels_json, JSON_OBJECT, false, err, errlen) != 0 ||
	    store_check_text(s, "agent_version", agent_version, false, err, errlen) != 0 ||
	    store_check_text(s, "address", address, false, err, errlen) != 0)
		return -1;
	if ((st = store_stmt_get(s, ST_HOST_SEEN, err, errlen)) == NULL)
		return -1;
	store_bind_text(st, 1, host_id);
	store_bind_u64(st, 2, last_seen_ms);
	store_bind_text(st, 3, labels_json);
	store_bind_text(st, 4, agent_version);
	store_bind_text(st, 5, address);
	ret = store_step_write(s, st, err, errlen, "record host");
	if (ret == 0 && sqlite3_changes(s->db) == 0) {
		snprintf(err, errlen, "host %s is not enrolled", host_id);
		ret = STORE_NOT_FOUND;
	}
	store_stmt_put(s, ST_HOST_SEEN, st);
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

	if (store_check_text(s, "host_id", host_id, true, err, errlen) != 0 ||
	    store_check_json(s, what, json, JSON_OBJECT, true, err, errlen) != 0)
		return -1;
	if ((st = store_stmt_get(s, id, err, errlen)) == NULL)
		return -1;
	store_bind_text(st, 1, host_id);
	store_bind_text(st, 2, json);
	snprintf(doing, sizeof(doing), "record the host's %s", what);
	ret = store_step_write(s, st, err, errlen, doing);
	if (ret == 0 && sqlite3_changes(s->db) == 0) {
		snprintf(err, errlen, "host %s is not enrolled", host_id);
		ret = STORE_NOT_FOUND;
	}
	store_stmt_put(s, id, st);
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

	if (store_check_text(s, "address", address, false, err, errlen) != 0 ||
	    store_check_u64(s, "now_ms", now_ms, err, errlen) != 0)
		return -1;
	if (store_unit_begin(s, &own, err, errlen) != 0)
		return -1;
	if ((st = store_stmt_get(s, ST_PENDING_UPSERT, err, errlen)) == NULL) {
		ret = -1;
		goto out;
	}
	store_bind_blob(st, 1, curve, 32);
	store_bind_text(st, 2, address != NULL ? address : "");
	store_bind_u64(st, 3, now_ms);
	ret = store_step_write(s, st, err, errlen, "note pending key");
	store_stmt_put(s, ST_PENDING_UPSERT, st);
	if (ret != 0)
		goto out;
	if ((st = store_stmt_get(s, ST_PENDING_TRIM, err, errlen)) == NULL) {
		ret = -1;
		goto out;
	}
	sqlite3_bind_int(st, 1, STORE_PENDING_MAX);
	ret = store_step_write(s, st, err, errlen, "trim pending keys");
	store_stmt_put(s, ST_PENDING_TRIM, st);
out:
	return store_unit_end(s, own, ret, err, errlen);
}

int
store_pending_each(struct store *s, int (*fn)(void *ctx, const struct store_pending *p), void *ctx,
                   char *err, size_t errlen)
{
	struct store_pending p;
	sqlite3_stmt *st;
	int rc, ret = 0;

	if ((st = store_stmt_get(s, ST_PENDING_LIST, err, errlen)) == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&p, 0, sizeof(p));
		if (store_col_fixed(st, 0, p.curve, sizeof(p.curve)) != 0) {
			ret = store_corrupt(s, err, errlen, "pending");
			goto out;
		}
		p.address = store_col_text(st, 1);
		p.first_ms = store_col_u64(st, 2);
		p.last_ms = store_col_u64(st, 3);
		p.attempts = store_col_u64(st, 4);
		if ((ret = fn(ctx, &p)) != 0)
			goto out;
	}
	if (rc != SQLITE_DONE)
		ret = store_db_err(s, err, errlen, "read pending keys");
out:
	store_stmt_put(s, ST_PENDING_LIST, st);
	return ret;
}
