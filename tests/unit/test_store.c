/* Unit tests for coordinator/store: a real SQLite file in a mkdtemp
 * directory per test, reopened to stand for a coordinator restart and read
 * with a second raw SQLite connection where the store's own API cannot show
 * what a test needs (durability, WAL isolation, the audit triggers). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>
#include <sqlite3.h>

#include "common/buf.h"
#include "common/keys.h"
#include "coordinator/store.h"
#include "coordinator/view.h"

struct fx {
	char dir[64];
	char path[128];
	struct store *s;
	char err[1024];
};

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/odc-test-store-XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/store.db", f->dir);
	f->s = store_open(f->path, f->err, sizeof(f->err));
	if (f->s == NULL) {
		fprintf(stderr, "store_open: %s\n", f->err);
		nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	store_close(f->s);
	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* Closes and opens again: what a coordinator restart sees. */
static void
reopen(struct fx *f)
{
	store_close(f->s);
	f->s = store_open(f->path, f->err, sizeof(f->err));
	if (f->s == NULL)
		fail_msg("reopen: %s", f->err);
}

static void
make_pk(uint8_t pk[32], unsigned n)
{
	for (unsigned i = 0; i < 32; i++)
		pk[i] = (uint8_t)(0xA5 ^ (i * 7));
	pk[0] = (uint8_t)n;
	pk[1] = (uint8_t)(n >> 8);
	pk[2] = (uint8_t)(n >> 16);
}

static const char *
fp_of(const uint8_t pk[32], char out[KEYS_FINGERPRINT_SIZE])
{
	assert_int_equal(keys_fingerprint(pk, out, KEYS_FINGERPRINT_SIZE), 0);
	return out;
}

/* A second connection, as another process would have. */
static sqlite3 *
raw_open(const char *path)
{
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 2000);
	return db;
}

static long long
raw_count(const char *path, const char *sql)
{
	sqlite3 *db = raw_open(path);
	sqlite3_stmt *st = NULL;
	long long n;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

/* ---- captures of what the iterators hand out ---- */

struct host_copy {
	char host_id[64], state[16], labels[256], agent_version[64], address[64], metadb[256],
	    backup[256];
	uint8_t pk[32];
	uint64_t accepted_ms, revoked_ms, last_seen_ms;
};

struct hosts_seen {
	struct host_copy h[8];
	size_t n;
	int stop_with;
};

static int
host_cb(void *ctx, const struct store_host *h)
{
	struct hosts_seen *c = ctx;
	struct host_copy *o;

	if (c->n == 8)
		return -1;
	o = &c->h[c->n++];
	snprintf(o->host_id, sizeof(o->host_id), "%s", h->host_id);
	snprintf(o->state, sizeof(o->state), "%s", h->state);
	snprintf(o->labels, sizeof(o->labels), "%s", h->labels_json);
	snprintf(o->agent_version, sizeof(o->agent_version), "%s", h->agent_version);
	snprintf(o->address, sizeof(o->address), "%s", h->address);
	snprintf(o->metadb, sizeof(o->metadb), "%s", h->metadb_json);
	snprintf(o->backup, sizeof(o->backup), "%s", h->backup_json);
	memcpy(o->pk, h->pk, 32);
	o->accepted_ms = h->accepted_ms;
	o->revoked_ms = h->revoked_ms;
	o->last_seen_ms = h->last_seen_ms;
	return c->stop_with;
}

static const struct host_copy *
host_find(struct fx *f, struct hosts_seen *c, const char *id)
{
	memset(c, 0, sizeof(*c));
	assert_int_equal(store_hosts_each(f->s, host_cb, c, f->err, sizeof(f->err)), 0);
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->h[i].host_id, id) == 0)
			return &c->h[i];
	return NULL;
}

struct job_copy {
	char job_id[32], action[32], operator_name[32], reason[64], state[16], stage[16];
	char message[128];
	uint8_t body[64], sig[96], targets[64];
	size_t body_len, targets_len;
	uint64_t created_ms, expires_ms, submitted_ms, deadline_ms, ended_ms, batch;
};

struct jobs_seen {
	struct job_copy j[8];
	size_t n;
};

static int
job_cb(void *ctx, const struct store_job *j)
{
	struct jobs_seen *c = ctx;
	struct job_copy *o;

	if (c->n == 8 || j->body_len > sizeof(o->body) || j->targets_len > sizeof(o->targets))
		return -1;
	o = &c->j[c->n++];
	snprintf(o->job_id, sizeof(o->job_id), "%s", j->job_id);
	snprintf(o->action, sizeof(o->action), "%s", j->action);
	snprintf(o->operator_name, sizeof(o->operator_name), "%s", j->operator_name);
	snprintf(o->reason, sizeof(o->reason), "%s", j->reason);
	snprintf(o->state, sizeof(o->state), "%s", j->state);
	snprintf(o->stage, sizeof(o->stage), "%s", j->stage);
	snprintf(o->message, sizeof(o->message), "%s", j->message);
	if (j->body_len > 0)
		memcpy(o->body, j->body, j->body_len);
	o->body_len = j->body_len;
	if (j->targets_len > 0)
		memcpy(o->targets, j->targets, j->targets_len);
	o->targets_len = j->targets_len;
	memcpy(o->sig, j->sig, 96);
	o->created_ms = j->created_ms;
	o->expires_ms = j->expires_ms;
	o->submitted_ms = j->submitted_ms;
	o->deadline_ms = j->deadline_ms;
	o->ended_ms = j->ended_ms;
	o->batch = j->batch;
	return 0;
}

struct jh_copy {
	char host_id[64], role[16], state[16], phase[16], step[32], failed_step[32], message[64];
	char revert[16], revert_message[64];
	uint64_t order, batch, updated_ms, dispatch_expires_ms;
	int64_t unit;
};

struct jhs_seen {
	struct jh_copy h[8];
	size_t n;
};

static int
jh_cb(void *ctx, const struct store_job_host *h)
{
	struct jhs_seen *c = ctx;
	struct jh_copy *o;

	if (c->n == 8)
		return -1;
	o = &c->h[c->n++];
	snprintf(o->host_id, sizeof(o->host_id), "%s", h->host_id);
	snprintf(o->role, sizeof(o->role), "%s", h->role);
	snprintf(o->state, sizeof(o->state), "%s", h->state);
	snprintf(o->phase, sizeof(o->phase), "%s", h->phase);
	snprintf(o->step, sizeof(o->step), "%s", h->step);
	snprintf(o->failed_step, sizeof(o->failed_step), "%s", h->failed_step);
	snprintf(o->message, sizeof(o->message), "%s", h->message);
	snprintf(o->revert, sizeof(o->revert), "%s", h->revert);
	snprintf(o->revert_message, sizeof(o->revert_message), "%s", h->revert_message);
	o->order = h->order;
	o->unit = h->unit;
	o->batch = h->batch;
	o->updated_ms = h->updated_ms;
	o->dispatch_expires_ms = h->dispatch_expires_ms;
	return 0;
}

static const uint8_t job_body[] = {0x9f, 0xa3, 'j', '-', '1', 0x00, 0xff, 0xc4};
static const uint8_t job_targets[] = {0x93, 0xa2, 'h', '1', 0xa2, 'h', '2', 0xa2, 'h', '3'};

static void
job_fill(struct store_job *j, const char *id, const char *state, uint64_t submitted_ms)
{
	memset(j, 0, sizeof(*j));
	j->job_id = id;
	j->action = "upgrade";
	j->operator_name = "alice";
	j->reason = "CVE fix";
	j->body = job_body;
	j->body_len = sizeof(job_body);
	j->targets = job_targets;
	j->targets_len = sizeof(job_targets);
	for (size_t i = 0; i < sizeof(j->sig); i++)
		j->sig[i] = (uint8_t)(i + 1);
	j->created_ms = submitted_ms > 10 ? submitted_ms - 10 : 0;
	j->expires_ms = submitted_ms + 3600000;
	j->submitted_ms = submitted_ms;
	j->deadline_ms = submitted_ms + 7200000;
	j->state = state;
	j->stage = "quorum";
	j->message = "";
}

static void
insert_job(struct fx *f, const char *id, const char *state, uint64_t submitted_ms)
{
	static const char *const targets[] = {"h1", "h2", "h3"};
	struct store_job j;

	job_fill(&j, id, state, submitted_ms);
	if (store_job_insert(f->s, &j, targets, 3, f->err, sizeof(f->err)) != 0)
		fail_msg("store_job_insert %s: %s", id, f->err);
}

static void
result_fill(struct store_result *r, const char *job, const char *host, const char *step,
            const uint8_t *body, size_t body_len)
{
	memset(r, 0, sizeof(*r));
	r->job_id = job;
	r->host_id = host;
	r->step = step;
	r->status = "failed";
	r->exit_code = -9;
	r->started_ms = 1000;
	r->duration_ms = 250;
	r->message = "killed";
	r->output_tail = "line 1\nline 2";
	r->data_json = "{\"odc_version\":\"4.2.1\"}";
	r->final = true;
	for (size_t i = 0; i < sizeof(r->incarnation); i++)
		r->incarnation[i] = (uint8_t)(0xf0 + i);
	r->body = body;
	r->body_len = body_len;
	make_pk(r->sig, 77); /* the signer's key, then the signature */
	for (size_t i = 32; i < sizeof(r->sig); i++)
		r->sig[i] = (uint8_t)i;
	r->received_ms = 5000;
}

/* ---- open ---- */

static void
test_open_create_reopen(void **state)
{
	struct fx *f = *state;
	static const uint8_t rbody[] = {1, 2, 3};
	struct store_result r;
	struct hosts_seen hs;
	struct jobs_seen js = {0};
	const struct host_copy *h;
	char wal[160];
	struct stat sb;
	uint8_t pk[32];
	bool changed;
	json_t *a;

	assert_int_equal(stat(f->path, &sb), 0);
	assert_true(S_ISREG(sb.st_mode));
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(raw_count(f->path, "PRAGMA user_version"), 6);

	make_pk(pk, 1);
	assert_int_equal(store_host_accept(f->s, "h1", pk, 100, &changed, f->err, sizeof(f->err)),
	                 0);
	insert_job(f, "j1", "running", 200);
	result_fill(&r, "j1", "h1", "run", rbody, sizeof(rbody));
	assert_int_equal(store_result_insert(f->s, &r, f->err, sizeof(f->err)), 0);
	assert_int_equal(store_audit(f->s, 300, "local:alice", "job-submit", "j1", "[\"h1\"]", "ok",
	                             "", f->err, sizeof(f->err)),
	                 0);
	snprintf(wal, sizeof(wal), "%s-wal", f->path);
	assert_int_equal(stat(wal, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);

	reopen(f);
	h = host_find(f, &hs, "h1");
	assert_non_null(h);
	assert_memory_equal(h->pk, pk, 32);
	assert_string_equal(h->state, "accepted");
	assert_int_equal(store_jobs_each(f->s, NULL, job_cb, &js, f->err, sizeof(f->err)), 0);
	assert_int_equal(js.n, 1);
	assert_string_equal(js.j[0].job_id, "j1");
	assert_int_equal(store_results_count(f->s, "j1", f->err, sizeof(f->err)), 1);
	a = view_audit_json(f->s, NULL, 10, f->err, sizeof(f->err));
	assert_non_null(a);
	assert_int_equal(json_array_size(a), 1);
	json_decref(a);
}

static void
test_open_wal_mode(void **state)
{
	struct fx *f = *state;
	sqlite3 *db = raw_open(f->path);
	sqlite3_stmt *st = NULL;

	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	sqlite3_close(db);
}

static void
test_open_refuses_symlink(void **state)
{
	struct fx *f = *state;
	char link[160], target[160];

	/* A dangling link: following it would create a file elsewhere. */
	snprintf(target, sizeof(target), "%s/elsewhere.db", f->dir);
	snprintf(link, sizeof(link), "%s/link.db", f->dir);
	assert_int_equal(symlink(target, link), 0);
	assert_null(store_open(link, f->err, sizeof(f->err)));
	assert_non_null(strstr(f->err, link));
	assert_non_null(strstr(f->err, "symbolic link"));
	assert_int_not_equal(access(target, F_OK), 0);

	/* A link to a good store. */
	assert_int_equal(unlink(link), 0);
	assert_int_equal(symlink(f->path, link), 0);
	assert_null(store_open(link, f->err, sizeof(f->err)));
	assert_non_null(strstr(f->err, "symbolic link"));
}

static void
test_open_version_mismatch(void **state)
{
	struct fx *f = *state;
	sqlite3 *db;

	store_close(f->s);
	f->s = NULL;
	db = raw_open(f->path);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version=7", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_null(store_open(f->path, f->err, sizeof(f->err)));
	assert_non_null(strstr(f->err, f->path));
	assert_non_null(strstr(f->err, "version 7"));
	assert_non_null(strstr(f->err, "version 6"));
}

static void
test_open_foreign_files(void **state)
{
	struct fx *f = *state;
	char other[160], junk[160];
	sqlite3 *db = NULL;
	FILE *fp;

	/* Some other SQLite database: tables but no schema version. */
	snprintf(other, sizeof(other), "%s/other.db", f->dir);
	assert_int_equal(sqlite3_open(other, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_null(store_open(other, f->err, sizeof(f->err)));
	assert_non_null(strstr(f->err, other));
	assert_int_equal(raw_count(other, "SELECT count(*) FROM sqlite_master"), 1);

	/* Not a database at all. */
	snprintf(junk, sizeof(junk), "%s/junk.db", f->dir);
	fp = fopen(junk, "w");
	assert_non_null(fp);
	for (int i = 0; i < 200; i++)
		fputs("this is not sqlite ", fp);
	fclose(fp);
	assert_null(store_open(junk, f->err, sizeof(f->err)));
	assert_non_null(strstr(f->err, junk));
}

/* ---- hosts and keys ---- */

static void
test_host_accept_revoke(void **state)
{
	struct fx *f = *state;
	char fpa[KEYS_FINGERPRINT_SIZE], fpb[KEYS_FINGERPRINT_SIZE], want[256];
	const struct host_copy *h;
	struct hosts_seen hs;
	uint8_t a[32], b[32];
	bool changed = false;

	make_pk(a, 1);
	make_pk(b, 2);
	fp_of(a, fpa);
	fp_of(b, fpb);
	assert_int_equal(store_host_accept(f->s, "h1", a, 100, &changed, f->err, sizeof(f->err)),
	                 0);
	assert_true(changed);
	assert_int_equal(store_host_accept(f->s, "h1", a, 150, &changed, f->err, sizeof(f->err)),
	                 0);
	assert_false(changed);
	h = host_find(f, &hs, "h1");
	assert_non_null(h);
	assert_int_equal(h->accepted_ms, 100); /* the no-op changed nothing */
	assert_int_equal(h->revoked_ms, 0);
	assert_string_equal(h->labels, "{}");

	/* The host has another key: refused, naming it. */
	assert_int_equal(store_host_accept(f->s, "h1", b, 200, &changed, f->err, sizeof(f->err)),
	                 STORE_CONFLICT);
	assert_false(changed);
	snprintf(want, sizeof(want), "host h1 is enrolled with key %s; revoke it first", fpa);
	assert_string_equal(f->err, want);
	/* The key is another host's. */
	assert_int_equal(store_host_accept(f->s, "h2", a, 200, &changed, f->err, sizeof(f->err)),
	                 STORE_CONFLICT);
	snprintf(want, sizeof(want), "key %s belongs to host h1", fpa);
	assert_string_equal(f->err, want);
	assert_null(host_find(f, &hs, "h2"));

	/* Revoke, twice, and an unknown host. */
	assert_int_equal(store_host_revoke(f->s, "h1", 300, &changed, f->err, sizeof(f->err)), 0);
	assert_true(changed);
	assert_int_equal(store_host_revoke(f->s, "h1", 400, &changed, f->err, sizeof(f->err)), 0);
	assert_false(changed);
	h = host_find(f, &hs, "h1");
	assert_string_equal(h->state, "revoked");
	assert_int_equal(h->revoked_ms, 300);
	assert_int_equal(store_host_revoke(f->s, "nope", 400, &changed, f->err, sizeof(f->err)),
	                 STORE_NOT_FOUND);
	assert_non_null(strstr(f->err, "nope"));

	/* A revoked host's key still belongs to it. */
	assert_int_equal(store_host_accept(f->s, "h2", a, 500, &changed, f->err, sizeof(f->err)),
	                 STORE_CONFLICT);
	assert_non_null(strstr(f->err, "belongs to host h1"));

	/* Re-accepted with a new key; the old one stays bound to h1. */
	assert_int_equal(store_host_accept(f->s, "h1", b, 600, &changed, f->err, sizeof(f->err)),
	                 0);
	assert_true(changed);
	h = host_find(f, &hs, "h1");
	assert_string_equal(h->state, "accepted");
	assert_memory_equal(h->pk, b, 32);
	assert_int_equal(h->accepted_ms, 600);
	assert_int_equal(h->revoked_ms, 0);
	assert_int_equal(store_host_accept(f->s, "h2", a, 700, &changed, f->err, sizeof(f->err)),
	                 STORE_CONFLICT);

	/* Revoke again and take the first key back: same host, fine. */
	assert_int_equal(store_host_revoke(f->s, "h1", 800, &changed, f->err, sizeof(f->err)), 0);
	assert_int_equal(store_host_accept(f->s, "h1", a, 900, &changed, f->err, sizeof(f->err)),
	                 0);
	assert_true(changed);
	h = host_find(f, &hs, "h1");
	assert_memory_equal(h->pk, a, 32);

	reopen(f);
	h = host_find(f, &hs, "h1");
	assert_non_null(h);
	assert_string_equal(h->state, "accepted");
	assert_int_equal(hs.n, 1);
}

static void
test_keys_json(void **state)
{
	struct fx *f = *state;
	char fp[KEYS_FINGERPRINT_SIZE], text[KEYS_PUBLIC_TEXT_SIZE];
	uint8_t a[32], b[32];
	json_t *k, *o;

	make_pk(a, 1);
	make_pk(b, 2);
	assert_int_equal(store_host_accept(f->s, "zz", a, 100, NULL, f->err, sizeof(f->err)), 0);
	assert_int_equal(store_host_accept(f->s, "aa", b, 200, NULL, f->err, sizeof(f->err)), 0);
	assert_int_equal(store_host_revoke(f->s, "aa", 300, NULL, f->err, sizeof(f->err)), 0);
	k = view_keys_json(f->s, f->err, sizeof(f->err));
	assert_non_null(k);
	assert_int_equal(json_array_size(k), 2);
	o = json_array_get(k, 0);
	assert_int_equal(json_object_size(o), 6);
	assert_string_equal(json_string_value(json_object_get(o, "host")), "aa");
	assert_string_equal(json_string_value(json_object_get(o, "state")), "revoked");
	assert_string_equal(json_string_value(json_object_get(o, "fingerprint")), fp_of(b, fp));
	keys_format_public(b, text, sizeof(text));
	assert_string_equal(json_string_value(json_object_get(o, "public_key")), text);
	assert_int_equal(json_integer_value(json_object_get(o, "accepted_ms")), 200);
	assert_int_equal(json_integer_value(json_object_get(o, "revoked_ms")), 300);
	o = json_array_get(k, 1);
	assert_string_equal(json_string_value(json_object_get(o, "host")), "zz");
	assert_string_equal(json_string_value(json_object_get(o, "state")), "accepted");
	assert_true(json_is_null(json_object_get(o, "revoked_ms")));
	json_decref(k);
}

static void
test_host_seen(void **state)
{
	struct fx *f = *state;
	const struct host_copy *h;
	struct hosts_seen hs;
	uint8_t a[32];

	make_pk(a, 1);
	assert_int_equal(
	    store_host_seen(f->s, "h1", 10, "{}", "1.0", "10.0.0.1", f->err, sizeof(f->err)),
	    STORE_NOT_FOUND);
	assert_non_null(strstr(f->err, "h1"));
	assert_int_equal(store_host_accept(f->s, "h1", a, 100, NULL, f->err, sizeof(f->err)), 0);
	h = host_find(f, &hs, "h1");
	assert_int_equal(h->last_seen_ms, 0);
	assert_string_equal(h->agent_version, "");
	assert_string_equal(h->address, "");
	assert_int_equal(store_host_seen(f->s, "h1", 150, "{\"zone\":\"a\"}", "1.2.3", "10.0.0.1",
	                                 f->err, sizeof(f->err)),
	                 0);
	h = host_find(f, &hs, "h1");
	assert_int_equal(h->last_seen_ms, 150);
	assert_string_equal(h->labels, "{\"zone\":\"a\"}");
	assert_string_equal(h->agent_version, "1.2.3");
	assert_string_equal(h->address, "10.0.0.1");
	/* NULL leaves a value as it is. */
	assert_int_equal(
	    store_host_seen(f->s, "h1", 160, NULL, NULL, "10.0.0.2", f->err, sizeof(f->err)), 0);
	h = host_find(f, &hs, "h1");
	assert_int_equal(h->last_seen_ms, 160);
	assert_string_equal(h->labels, "{\"zone\":\"a\"}");
	assert_string_equal(h->agent_version, "1.2.3");
	assert_string_equal(h->address, "10.0.0.2");
	/* Labels must be a JSON object. */
	assert_int_equal(
	    store_host_seen(f->s, "h1", 170, "[1]", NULL, NULL, f->err, sizeof(f->err)), -1);
	assert_int_equal(store_host_seen(f->s, "h1", 170, "{", NULL, NULL, f->err, sizeof(f->err)),
	                 -1);
	h = host_find(f, &hs, "h1");
	assert_int_equal(h->last_seen_ms, 160);
}

static void
test_hosts_each_order_and_stop(void **state)
{
	struct fx *f = *state;
	struct hosts_seen hs = {0};
	static const char *const ids[] = {"h3", "h1", "h2"};
	uint8_t pk[32];

	for (unsigned i = 0; i < 3; i++) {
		make_pk(pk, i + 1);
		assert_int_equal(
		    store_host_accept(f->s, ids[i], pk, 100 + i, NULL, f->err, sizeof(f->err)), 0);
	}
	assert_int_equal(store_hosts_each(f->s, host_cb, &hs, f->err, sizeof(f->err)), 0);
	assert_int_equal(hs.n, 3);
	assert_string_equal(hs.h[0].host_id, "h1");
	assert_string_equal(hs.h[1].host_id, "h2");
	assert_string_equal(hs.h[2].host_id, "h3");

	memset(&hs, 0, sizeof(hs));
	hs.stop_with = 7;
	assert_int_equal(store_hosts_each(f->s, host_cb, &hs, f->err, sizeof(f->err)), 7);
	assert_int_equal(hs.n, 1);
	/* The walk was stopped cleanly: the next one starts from the top. */
	memset(&hs, 0, sizeof(hs));
	assert_int_equal(store_hosts_each(f->s, host_cb, &hs, f->err, sizeof(f->err)), 0);
	assert_int_equal(hs.n, 3);
}

struct nested {
	struct fx *f;
	size_t outer, inner_total;
};

static int
nested_inner(void *ctx, const struct store_host *h)
{
	struct nested *n = ctx;

	(void)h;
	n->inner_total++;
	return 0;
}

/* Calls back into the store from inside a walk, as the coordinator may. */
static int
nested_outer(void *ctx, const struct store_host *h)
{
	struct nested *n = ctx;
	uint8_t pk[32];
	char err[256];

	n->outer++;
	if (store_hosts_each(n->f->s, nested_inner, n, err, sizeof(err)) != 0)
		return -1;
	make_pk(pk, 100 + (unsigned)n->outer); /* a write of several statements */
	if (store_pending_note(n->f->s, pk, h->host_id, 5, err, sizeof(err)) != 0)
		return -1;
	return store_host_seen(n->f->s, h->host_id, 999, NULL, NULL, "seen", err, sizeof(err));
}

static void
test_reentrant_walk(void **state)
{
	struct fx *f = *state;
	struct nested n = {f, 0, 0};
	struct hosts_seen hs;
	uint8_t pk[32];

	make_pk(pk, 1);
	assert_int_equal(store_host_accept(f->s, "h1", pk, 1, NULL, f->err, sizeof(f->err)), 0);
	make_pk(pk, 2);
	assert_int_equal(store_host_accept(f->s, "h2", pk, 1, NULL, f->err, sizeof(f->err)), 0);
	assert_int_equal(store_hosts_each(f->s, nested_outer, &n, f->err, sizeof(f->err)), 0);
	assert_int_equal(n.outer, 2);
	assert_int_equal(n.inner_total, 4);
	assert_int_equal(host_find(f, &hs, "h1")->last_seen_ms, 999);
	assert_string_equal(host_find(f, &hs, "h2")->address, "seen");
	assert_false(store_in_tx(f->s));
	assert_int_equal(raw_count(f->path, "SELECT count(*) FROM pending"), 2);
}

/* ---- pending keys ---- */

/* The curve_fingerprint of pending entry i of p. */
static const char *
pending_fp(json_t *p, size_t i)
{
	return json_string_value(json_object_get(json_array_get(p, i), "curve_fingerprint"));
}

static void
test_pending_note(void **state)
{
	struct fx *f = *state;
	char fp[KEYS_FINGERPRINT_SIZE], hex[2 * KEYS_CURVE_LEN + 1];
	uint8_t a[32], b[32];
	const char *s;
	json_t *p, *o;

	/* Pending keys are X25519 keys as ZAP hands them over: any 32 bytes. */
	make_pk(a, 1);
	make_pk(b, 2);
	assert_int_equal(store_pending_note(f->s, a, "10.0.0.1:1", 100, f->err, sizeof(f->err)), 0);
	assert_int_equal(store_pending_note(f->s, b, "10.0.0.2:1", 200, f->err, sizeof(f->err)), 0);
	assert_int_equal(store_pending_note(f->s, a, "10.0.0.9:2", 300, f->err, sizeof(f->err)), 0);
	p = view_pending_json(f->s, f->err, sizeof(f->err));
	assert_non_null(p);
	assert_int_equal(json_array_size(p), 2);
	o = json_array_get(p, 0); /* most recently seen first */
	assert_int_equal(json_object_size(o), 6);
	assert_null(json_object_get(o, "fingerprint"));
	assert_null(json_object_get(o, "public_key"));
	/* keys_fingerprint's computation, applied to the X25519 key. */
	s = json_string_value(json_object_get(o, "curve_fingerprint"));
	assert_non_null(s);
	assert_string_equal(s, fp_of(a, fp));
	assert_int_equal(strlen(s), 7 + 32);
	assert_int_equal(strncmp(s, "SHA256:", 7), 0);
	assert_int_equal(strspn(s + 7, "0123456789abcdef"), 32);
	assert_int_equal(hex_encode(a, 32, hex, sizeof(hex)), 0);
	assert_string_equal(json_string_value(json_object_get(o, "curve_key")), hex);
	assert_int_equal(strspn(hex, "0123456789abcdef"), 64);
	assert_string_equal(json_string_value(json_object_get(o, "address")), "10.0.0.9:2");
	assert_int_equal(json_integer_value(json_object_get(o, "first_ms")), 100);
	assert_int_equal(json_integer_value(json_object_get(o, "last_ms")), 300);
	assert_int_equal(json_integer_value(json_object_get(o, "attempts")), 2);
	o = json_array_get(p, 1);
	assert_int_equal(json_object_size(o), 6);
	assert_string_equal(json_string_value(json_object_get(o, "curve_fingerprint")),
	                    fp_of(b, fp));
	assert_int_equal(hex_encode(b, 32, hex, sizeof(hex)), 0);
	assert_string_equal(json_string_value(json_object_get(o, "curve_key")), hex);
	assert_string_equal(json_string_value(json_object_get(o, "address")), "10.0.0.2:1");
	assert_int_equal(json_integer_value(json_object_get(o, "first_ms")), 200);
	assert_int_equal(json_integer_value(json_object_get(o, "attempts")), 1);
	json_decref(p);

	/* Kept across a restart. */
	reopen(f);
	p = view_pending_json(f->s, f->err, sizeof(f->err));
	assert_int_equal(json_array_size(p), 2);
	assert_string_equal(pending_fp(p, 0), fp_of(a, fp));
	json_decref(p);
}

static void
test_pending_accept(void **state)
{
	struct fx *f = *state;
	uint8_t ed_pk[crypto_sign_PUBLICKEYBYTES], ed_sk[crypto_sign_SECRETKEYBYTES];
	uint8_t curve[32], other[32], raw[32], low[32] = {1}; /* Ed25519's identity point */
	char fp[KEYS_FINGERPRINT_SIZE];
	bool changed = false;
	json_t *p;

	/* A host's real key pair; ZAP shows its X25519 form. */
	assert_int_equal(keys_init(), 0);
	assert_int_equal(crypto_sign_keypair(ed_pk, ed_sk), 0);
	sodium_memzero(ed_sk, sizeof(ed_sk));
	assert_int_equal(crypto_sign_ed25519_pk_to_curve25519(curve, ed_pk), 0);
	assert_memory_not_equal(curve, ed_pk, 32);
	make_pk(other, 2);
	memcpy(raw, ed_pk, 32); /* the Ed25519 bytes noted as if they were X25519 */
	assert_int_equal(store_pending_note(f->s, other, "10.0.0.2:1", 100, f->err, sizeof(f->err)),
	                 0);
	assert_int_equal(store_pending_note(f->s, curve, "10.0.0.1:1", 200, f->err, sizeof(f->err)),
	                 0);
	assert_int_equal(store_pending_note(f->s, raw, "10.0.0.3:1", 300, f->err, sizeof(f->err)),
	                 0);
	p = view_pending_json(f->s, f->err, sizeof(f->err));
	assert_int_equal(json_array_size(p), 3);
	assert_string_equal(pending_fp(p, 1), fp_of(curve, fp));
	json_decref(p);

	/* Accepting the Ed25519 key removes its X25519 form, nothing else. */
	assert_int_equal(
	    store_host_accept(f->s, "h1", ed_pk, 400, &changed, f->err, sizeof(f->err)), 0);
	assert_true(changed);
	p = view_pending_json(f->s, f->err, sizeof(f->err));
	assert_int_equal(json_array_size(p), 2);
	assert_string_equal(pending_fp(p, 0), fp_of(raw, fp));
	assert_string_equal(pending_fp(p, 1), fp_of(other, fp));
	json_decref(p);
	assert_int_equal(raw_count(f->path, "SELECT count(*) FROM pending"), 2);

	/* A key with no X25519 form is accepted; pending stays as it was. */
	assert_int_not_equal(crypto_sign_ed25519_pk_to_curve25519(curve, low), 0);
	assert_int_equal(store_host_accept(f->s, "h2", low, 500, &changed, f->err, sizeof(f->err)),
	                 0);
	assert_true(changed);
	p = view_pending_json(f->s, f->err, sizeof(f->err));
	assert_int_equal(json_array_size(p), 2);
	json_decref(p);

	/* A refused accept leaves pending alone too. */
	assert_int_equal(crypto_sign_ed25519_pk_to_curve25519(curve, ed_pk), 0);
	assert_int_equal(store_pending_note(f->s, curve, "10.0.0.1:2", 600, f->err, sizeof(f->err)),
	                 0);
	assert_int_equal(
	    store_host_accept(f->s, "h3", ed_pk, 700, &changed, f->err, sizeof(f->err)),
	    STORE_CONFLICT);
	assert_false(changed);
	p = view_pending_json(f->s, f->err, sizeof(f->err));
	assert_int_equal(json_array_size(p), 3);
	assert_string_equal(pending_fp(p, 0), fp_of(curve, fp));
	json_decref(p);
	/* Re-accepting the same key for the same host changes nothing. */
	assert_int_equal(
	    store_host_accept(f->s, "h1", ed_pk, 800, &changed, f->err, sizeof(f->err)), 0);
	assert_false(changed);
	assert_int_equal(raw_count(f->path, "SELECT count(*) FROM pending"), 3);
}

static void
test_pending_trim(void **state)
{
	struct fx *f = *state;
	char fp[KEYS_FINGERPRINT_SIZE];
	const unsigned total = STORE_PENDING_MAX + 5;
	uint8_t pk[32];
	json_t *p;

	assert_int_equal(store_begin(f->s, f->err, sizeof(f->err)), 0);
	for (unsigned i = 0; i < total; i++) {
		make_pk(pk, 1000 + i);
		assert_int_equal(
		    store_pending_note(f->s, pk, "10.1.1.1", 10000 + i, f->err, sizeof(f->err)), 0);
	}
	assert_int_equal(store_commit(f->s, f->err, sizeof(f->err)), 0);
	p = view_pending_json(f->s, f->err, sizeof(f->err));
	assert_int_equal(json_array_size(p), STORE_PENDING_MAX);
	make_pk(pk, 1000 + total - 1);
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(p, 0), "curve_fingerprint")),
	    fp_of(pk, fp));
	make_pk(pk, 1000 + 5); /* the five least recently seen are gone */
	assert_string_equal(json_string_value(json_object_get(
	                        json_array_get(p, STORE_PENDING_MAX - 1), "curve_fingerprint")),
	                    fp_of(pk, fp));
	json_decref(p);

	/* Seeing the oldest again saves it; the next oldest goes instead. */
	assert_int_equal(store_pending_note(f->s, pk, "10.1.1.1", 20000, f->err, sizeof(f->err)),
	                 0);
	make_pk(pk, 99999);
	assert_int_equal(store_pending_note(f->s, pk, "10.1.1.2", 20001, f->err, sizeof(f->err)),
	                 0);
	p = view_pending_json(f->s, f->err, sizeof(f->err));
	assert_int_equal(json_array_size(p), STORE_PENDING_MAX);
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(p, 0), "curve_fingerprint")),
	    fp_of(pk, fp));
	make_pk(pk, 1000 + 5);
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(p, 1), "curve_fingerprint")),
	    fp_of(pk, fp));
	make_pk(pk, 1000 + 7);
	assert_string_equal(json_string_value(json_object_get(
	                        json_array_get(p, STORE_PENDING_MAX - 1), "curve_fingerprint")),
	                    fp_of(pk, fp));
	json_decref(p);
	assert_int_equal(raw_count(f->path, "SELECT count(*) FROM pending"), STORE_PENDING_MAX);
}

/* ---- jobs ---- */

static void
test_job_insert_get(void **state)
{
	struct fx *f = *state;
	static const char *const targets[] = {"h2", "h9", "h1"};
	static const char *const twice[] = {"h1", "h2", "h1"};
	struct jobs_seen js = {0};
	struct jhs_seen hs = {0};
	struct store_job j;

	job_fill(&j, "j1", "running", 1000);
	j.batch = 2;
	j.message = "hello";
	assert_int_equal(store_job_insert(f->s, &j, targets, 3, f->err, sizeof(f->err)), 0);
	assert_int_equal(store_job_get(f->s, "j1", job_cb, &js, f->err, sizeof(f->err)), 0);
	assert_int_equal(js.n, 1);
	assert_string_equal(js.j[0].job_id, "j1");
	assert_string_equal(js.j[0].action, "upgrade");
	assert_string_equal(js.j[0].operator_name, "alice");
	assert_string_equal(js.j[0].reason, "CVE fix");
	assert_int_equal(js.j[0].body_len, sizeof(job_body));
	assert_memory_equal(js.j[0].body, job_body, sizeof(job_body));
	assert_memory_equal(js.j[0].sig, j.sig, 96);
	assert_int_equal(js.j[0].targets_len, sizeof(job_targets));
	assert_memory_equal(js.j[0].targets, job_targets, sizeof(job_targets));
	assert_int_equal(js.j[0].created_ms, 990);
	assert_int_equal(js.j[0].expires_ms, 1000 + 3600000);
	assert_int_equal(js.j[0].submitted_ms, 1000);
	assert_int_equal(js.j[0].deadline_ms, 1000 + 7200000);
	assert_int_equal(js.j[0].ended_ms, 0);
	assert_string_equal(js.j[0].state, "running");
	assert_string_equal(js.j[0].stage, "quorum");
	assert_int_equal(js.j[0].batch, 2);
	assert_string_equal(js.j[0].message, "hello");

	/* Targets: in the JOB's order, with their defaults. */
	assert_int_equal(store_job_hosts_each(f->s, "j1", jh_cb, &hs, f->err, sizeof(f->err)), 0);
	assert_int_equal(hs.n, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_string_equal(hs.h[i].host_id, targets[i]);
		assert_int_equal(hs.h[i].order, i);
		assert_string_equal(hs.h[i].role, "");
		assert_int_equal(hs.h[i].batch, 0);
		assert_string_equal(hs.h[i].state, "pending");
		assert_string_equal(hs.h[i].phase, "");
		assert_string_equal(hs.h[i].step, "");
		assert_string_equal(hs.h[i].failed_step, "");
		assert_string_equal(hs.h[i].message, "");
	}

	/* A second JOB with the same id changes nothing. */
	job_fill(&j, "j1", "paused", 5000);
	j.reason = "other";
	assert_int_equal(store_job_insert(f->s, &j, targets, 1, f->err, sizeof(f->err)),
	                 STORE_CONFLICT);
	assert_string_equal(f->err, "job j1 exists");
	memset(&js, 0, sizeof(js));
	assert_int_equal(store_job_get(f->s, "j1", job_cb, &js, f->err, sizeof(f->err)), 0);
	assert_string_equal(js.j[0].reason, "CVE fix");
	assert_int_equal(js.j[0].submitted_ms, 1000);
	memset(&hs, 0, sizeof(hs));
	assert_int_equal(store_job_hosts_each(f->s, "j1", jh_cb, &hs, f->err, sizeof(f->err)), 0);
	assert_int_equal(hs.n, 3);

	/* A target listed twice: refused as a whole. */
	job_fill(&j, "j2", "running", 6000);
	assert_int_equal(store_job_insert(f->s, &j, twice, 3, f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "h1"));
	assert_int_equal(store_job_get(f->s, "j2", job_cb, &js, f->err, sizeof(f->err)),
	                 STORE_NOT_FOUND);
	assert_int_equal(raw_count(f->path, "SELECT count(*) FROM job_hosts WHERE job_id = 'j2'"),
	                 0);

	/* An empty body is kept as empty. */
	job_fill(&j, "j3", "running", 7000);
	j.body = NULL;
	j.body_len = 0;
	assert_int_equal(store_job_insert(f->s, &j, NULL, 0, f->err, sizeof(f->err)), 0);
	memset(&js, 0, sizeof(js));
	assert_int_equal(store_job_get(f->s, "j3", job_cb, &js, f->err, sizeof(f->err)), 0);
	assert_int_equal(js.j[0].body_len, 0);

	assert_int_equal(store_job_get(f->s, "nope", job_cb, &js, f->err, sizeof(f->err)),
	                 STORE_NOT_FOUND);
	assert_non_null(strstr(f->err, "nope"));
}

static void
test_job_update_each(void **state)
{
	struct fx *f = *state;
	static const char *const active[] = {"running", "paused", NULL};
	static const char *const none[] = {NULL};
	struct jobs_seen js = {0};

	insert_job(f, "j-late", "succeeded", 300);
	insert_job(f, "j-mid", "running", 200);
	insert_job(f, "j-early", "paused", 100);

	assert_int_equal(store_jobs_each(f->s, NULL, job_cb, &js, f->err, sizeof(f->err)), 0);
	assert_int_equal(js.n, 3);
	assert_string_equal(js.j[0].job_id, "j-early");
	assert_string_equal(js.j[1].job_id, "j-mid");
	assert_string_equal(js.j[2].job_id, "j-late");

	memset(&js, 0, sizeof(js));
	assert_int_equal(store_jobs_each(f->s, active, job_cb, &js, f->err, sizeof(f->err)), 0);
	assert_int_equal(js.n, 2);
	assert_string_equal(js.j[0].job_id, "j-early");
	assert_string_equal(js.j[1].job_id, "j-mid");

	memset(&js, 0, sizeof(js));
	assert_int_equal(store_jobs_each(f->s, none, job_cb, &js, f->err, sizeof(f->err)), 0);
	assert_int_equal(js.n, 0);

	assert_int_equal(store_job_update(f->s, "j-mid", "halted", "canary", 1, "canary h1 failed",
	                                  250, f->err, sizeof(f->err)),
	                 0);
	memset(&js, 0, sizeof(js));
	assert_int_equal(store_jobs_each(f->s, active, job_cb, &js, f->err, sizeof(f->err)), 0);
	assert_int_equal(js.n, 1);
	assert_string_equal(js.j[0].job_id, "j-early");

	reopen(f);
	memset(&js, 0, sizeof(js));
	assert_int_equal(store_job_get(f->s, "j-mid", job_cb, &js, f->err, sizeof(f->err)), 0);
	assert_string_equal(js.j[0].state, "halted");
	assert_string_equal(js.j[0].stage, "canary");
	assert_int_equal(js.j[0].batch, 1);
	assert_string_equal(js.j[0].message, "canary h1 failed");
	assert_int_equal(js.j[0].ended_ms, 250);
	assert_memory_equal(js.j[0].body, job_body, sizeof(job_body));

	assert_int_equal(
	    store_job_update(f->s, "nope", "failed", "done", 0, "", 1, f->err, sizeof(f->err)),
	    STORE_NOT_FOUND);
	assert_non_null(strstr(f->err, "nope"));
}

static void
test_job_host_update(void **state)
{
	struct fx *f = *state;
	struct store_job_host h = {0};
	struct jhs_seen hs = {0};

	insert_job(f, "j1", "running", 100);
	h.job_id = "j1";
	h.host_id = "h2";
	h.order = 42; /* ignored: the JOB fixed it */
	h.role = "canary";
	h.batch = 0;
	h.state = "failed";
	h.phase = "run";
	h.step = "load";
	h.failed_step = "load";
	h.message = "exit 3";
	h.updated_ms = 777;
	h.dispatch_expires_ms = 123456;
	h.unit = 1; /* h2 and h3: one deployment */
	h.revert = "ok";
	h.revert_message = "back on 4.2.0";
	assert_int_equal(store_job_host_update(f->s, &h, f->err, sizeof(f->err)), 0);
	h.revert = NULL; /* none: stored as "" */
	h.revert_message = NULL;
	h.dispatch_expires_ms = 0;
	h.role = "batch";
	h.batch = 2;
	h.host_id = "h3";
	h.state = "running";
	h.failed_step = "";
	h.message = "loading";
	assert_int_equal(store_job_host_update(f->s, &h, f->err, sizeof(f->err)), 0);

	reopen(f);
	assert_int_equal(store_job_hosts_each(f->s, "j1", jh_cb, &hs, f->err, sizeof(f->err)), 0);
	assert_int_equal(hs.n, 3);
	assert_string_equal(hs.h[0].host_id, "h1");
	assert_string_equal(hs.h[0].state, "pending");
	assert_int_equal(hs.h[0].unit, -1); /* never written: its own */
	assert_int_equal(hs.h[1].unit, 1);
	assert_int_equal(hs.h[2].unit, 1);
	assert_string_equal(hs.h[1].host_id, "h2");
	assert_int_equal(hs.h[1].order, 1);
	assert_string_equal(hs.h[1].role, "canary");
	assert_string_equal(hs.h[1].state, "failed");
	assert_string_equal(hs.h[1].phase, "run");
	assert_string_equal(hs.h[1].step, "load");
	assert_string_equal(hs.h[1].failed_step, "load");
	assert_string_equal(hs.h[1].message, "exit 3");
	assert_int_equal(hs.h[1].updated_ms, 777);
	assert_int_equal(hs.h[1].dispatch_expires_ms, 123456);
	assert_int_equal(hs.h[2].dispatch_expires_ms, 0);
	assert_string_equal(hs.h[1].revert, "ok");
	assert_string_equal(hs.h[1].revert_message, "back on 4.2.0");
	assert_string_equal(hs.h[2].revert, "");
	assert_string_equal(hs.h[2].revert_message, "");
	assert_string_equal(hs.h[2].host_id, "h3");
	assert_string_equal(hs.h[2].role, "batch");
	assert_int_equal(hs.h[2].batch, 2);
	assert_string_equal(hs.h[2].state, "running");
	assert_string_equal(hs.h[2].message, "loading");

	h.host_id = "h4";
	assert_int_equal(store_job_host_update(f->s, &h, f->err, sizeof(f->err)), STORE_NOT_FOUND);
	assert_non_null(strstr(f->err, "h4"));
	h.job_id = "j9";
	h.host_id = "h1";
	assert_int_equal(store_job_host_update(f->s, &h, f->err, sizeof(f->err)), STORE_NOT_FOUND);

	memset(&hs, 0, sizeof(hs));
	assert_int_equal(store_job_hosts_each(f->s, "j9", jh_cb, &hs, f->err, sizeof(f->err)), 0);
	assert_int_equal(hs.n, 0);
}

/* ---- results ---- */

static char *
hex_of(const uint8_t *p, size_t n)
{
	char *out = malloc(2 * n + 1);

	assert_non_null(out);
	assert_int_equal(hex_encode(p, n, out, 2 * n + 1), 0);
	return out;
}

static void
test_result_insert_json(void **state)
{
	struct fx *f = *state;
	static const uint8_t body1[] = {0x9c, 0xa2, 'j', '1', 0x00, 0xff};
	static const uint8_t body2[] = {0x9c, 0xa2, 'j', '1', 0x01};
	static const char *const keys[] = {
	    "step",        "status",  "exit_code", "started_ms",  "duration_ms", "message",
	    "output_tail", "data",    "final",     "incarnation", "received_ms", "signer",
	    "body_hex",    "sig_hex", "host",      "seq"};
	char fp[KEYS_FINGERPRINT_SIZE], *hex;
	struct store_result r;
	json_t *arr, *o;

	insert_job(f, "j1", "running", 100);
	result_fill(&r, "j1", "h1", "preflight", body1, sizeof(body1));
	assert_int_equal(store_result_insert(f->s, &r, f->err, sizeof(f->err)), 0);
	result_fill(&r, "j1", "h1", "load", body2, sizeof(body2));
	r.final = false;
	r.status = "ok";
	r.exit_code = 0;
	r.data_json = "{}";
	assert_int_equal(store_result_insert(f->s, &r, f->err, sizeof(f->err)), 0);
	result_fill(&r, "j1", "h2", "preflight", body2, sizeof(body2));
	assert_int_equal(store_result_insert(f->s, &r, f->err, sizeof(f->err)), 0);

	/* The same triple again, with other bytes: nothing changes. */
	result_fill(&r, "j1", "h1", "preflight", body2, sizeof(body2));
	r.status = "ok";
	r.sig[40] ^= 0xff;
	assert_int_equal(store_result_insert(f->s, &r, f->err, sizeof(f->err)), STORE_DUPLICATE);

	/* Unknown job, and a host that is not a target. */
	result_fill(&r, "j9", "h1", "preflight", body1, sizeof(body1));
	assert_int_equal(store_result_insert(f->s, &r, f->err, sizeof(f->err)), STORE_NOT_FOUND);
	assert_string_equal(f->err, "job j9 is unknown");
	result_fill(&r, "j1", "h7", "preflight", body1, sizeof(body1));
	assert_int_equal(store_result_insert(f->s, &r, f->err, sizeof(f->err)), STORE_NOT_FOUND);
	assert_string_equal(f->err, "job j1 has no target h7");

	assert_int_equal(store_results_count(f->s, "j1", f->err, sizeof(f->err)), 3);
	assert_int_equal(store_results_count(f->s, "j9", f->err, sizeof(f->err)), 0);

	reopen(f);
	struct store_results_query q = {"j1", "h1", NULL, 0, 1000, 1u << 20};
	uint64_t next = 99;
	arr = view_results_page(f->s, &q, &next, f->err, sizeof(f->err));
	assert_non_null(arr);
	assert_int_equal(next, 0);
	assert_int_equal(json_array_size(arr), 2);
	o = json_array_get(arr, 0); /* receipt order */
	assert_int_equal(json_object_size(o), sizeof(keys) / sizeof(keys[0]));
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		assert_non_null(json_object_get(o, keys[i]));
	assert_string_equal(json_string_value(json_object_get(o, "step")), "preflight");
	assert_string_equal(json_string_value(json_object_get(o, "status")), "failed");
	assert_int_equal(json_integer_value(json_object_get(o, "exit_code")), -9);
	assert_int_equal(json_integer_value(json_object_get(o, "started_ms")), 1000);
	assert_int_equal(json_integer_value(json_object_get(o, "duration_ms")), 250);
	assert_string_equal(json_string_value(json_object_get(o, "message")), "killed");
	assert_string_equal(json_string_value(json_object_get(o, "output_tail")), "line 1\nline 2");
	assert_true(json_is_object(json_object_get(o, "data")));
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(o, "data"), "odc_version")), "4.2.1");
	assert_true(json_is_true(json_object_get(o, "final")));
	assert_string_equal(json_string_value(json_object_get(o, "incarnation")),
	                    "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
	assert_int_equal(json_integer_value(json_object_get(o, "received_ms")), 5000);
	result_fill(&r, "j1", "h1", "preflight", body1, sizeof(body1));
	assert_string_equal(json_string_value(json_object_get(o, "signer")), fp_of(r.sig, fp));
	hex = hex_of(body1, sizeof(body1));
	assert_int_equal(json_array_size(json_object_get(o, "body_hex")), 1);
	assert_string_equal(json_string_value(json_array_get(json_object_get(o, "body_hex"), 0)),
	                    hex);
	free(hex);
	hex = hex_of(r.sig, sizeof(r.sig)); /* the first signature, not the duplicate's */
	assert_string_equal(json_string_value(json_object_get(o, "sig_hex")), hex);
	free(hex);

	o = json_array_get(arr, 1);
	assert_string_equal(json_string_value(json_object_get(o, "step")), "load");
	assert_true(json_is_false(json_object_get(o, "final")));
	assert_int_equal(json_object_size(json_object_get(o, "data")), 0);
	json_decref(arr);

	q.host_id = "h3";
	arr = view_results_page(f->s, &q, &next, f->err, sizeof(f->err));
	assert_non_null(arr);
	assert_int_equal(json_array_size(arr), 0);
	json_decref(arr);
}

static const char *
page_steps(json_t *arr, char *out, size_t n)
{
	size_t i, used = 0;
	json_t *o;

	out[0] = '\0';
	json_array_foreach(arr, i, o)
	{
		used += (size_t)snprintf(out + used, n - used, "%s%s/%s", i ? " " : "",
		                         json_string_value(json_object_get(o, "host")),
		                         json_string_value(json_object_get(o, "step")));
		if (used >= n)
			break;
	}
	return out;
}

/* Pages: a count limit, a byte budget (always at least one result), the
 * cursor of the next page, and the host and step filters. */
static void
test_results_page(void **state)
{
	struct fx *f = *state;
	static const char *const order[][2] = {{"h1", "preflight"}, {"h2", "preflight"},
	                                       {"h1", "stop"},      {"h3", "preflight"},
	                                       {"h2", "stop"},      {"h1", "health"}};
	static uint8_t big[4096];
	struct store_result r;
	char text[256];
	uint64_t next;
	json_t *arr;

	memset(big, 0x90, sizeof(big));
	insert_job(f, "j1", "running", 100);
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		result_fill(&r, "j1", order[i][0], order[i][1], big, sizeof(big));
		assert_int_equal(store_result_insert(f->s, &r, f->err, sizeof(f->err)), 0);
	}
	struct store_results_query q = {"j1", NULL, NULL, 0, 4, 1u << 20};
	arr = view_results_page(f->s, &q, &next, f->err, sizeof(f->err));
	assert_string_equal(page_steps(arr, text, sizeof(text)),
	                    "h1/preflight h2/preflight h1/stop h3/preflight");
	assert_int_not_equal(next, 0);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(arr, 3), "seq")),
	                 (json_int_t)next);
	assert_int_equal(json_string_length(json_array_get(
	                     json_object_get(json_array_get(arr, 0), "body_hex"), 0)),
	                 8192);
	json_decref(arr);
	q.after = next;
	arr = view_results_page(f->s, &q, &next, f->err, sizeof(f->err));
	assert_string_equal(page_steps(arr, text, sizeof(text)), "h2/stop h1/health");
	assert_int_equal(next, 0);
	json_decref(arr);

	/* Each result costs more than 8 KB (its body in hex): a 20 KB budget
	 * takes two; a budget below one result still takes one. */
	q.after = 0;
	q.limit = 1000;
	q.max_bytes = 20000;
	arr = view_results_page(f->s, &q, &next, f->err, sizeof(f->err));
	assert_int_equal(json_array_size(arr), 2);
	assert_int_not_equal(next, 0);
	json_decref(arr);
	q.max_bytes = 1;
	arr = view_results_page(f->s, &q, &next, f->err, sizeof(f->err));
	assert_int_equal(json_array_size(arr), 1);
	json_decref(arr);

	q.max_bytes = 1u << 20;
	q.host_id = "h1";
	arr = view_results_page(f->s, &q, &next, f->err, sizeof(f->err));
	assert_string_equal(page_steps(arr, text, sizeof(text)), "h1/preflight h1/stop h1/health");
	json_decref(arr);
	q.host_id = NULL;
	q.step = "preflight";
	arr = view_results_page(f->s, &q, &next, f->err, sizeof(f->err));
	assert_string_equal(page_steps(arr, text, sizeof(text)),
	                    "h1/preflight h2/preflight h3/preflight");
	assert_int_equal(next, 0);
	json_decref(arr);
}

/* What the coordinator needs to judge a late RESULT: the job's action, and
 * whether the host is a target with the phase last dispatched to it. */
static void
test_job_target(void **state)
{
	struct fx *f = *state;
	struct store_job_host h = {"j1", "h2", 1, "batch", 1,  "running", "run", "",
	                           "",   "",   5, 0,       -1, "",        ""};
	char action[33], phase[10];
	bool is_target;

	insert_job(f, "j1", "running", 100);
	assert_int_equal(store_job_host_update(f->s, &h, f->err, sizeof(f->err)), 0);
	assert_int_equal(
	    store_job_target(f->s, "j1", "h2", action, phase, &is_target, f->err, sizeof(f->err)),
	    0);
	assert_string_equal(action, "upgrade");
	assert_true(is_target);
	assert_string_equal(phase, "run");
	assert_int_equal(
	    store_job_target(f->s, "j1", "h1", action, phase, &is_target, f->err, sizeof(f->err)),
	    0);
	assert_true(is_target);
	assert_string_equal(phase, "");
	assert_int_equal(
	    store_job_target(f->s, "j1", "h7", action, phase, &is_target, f->err, sizeof(f->err)),
	    0);
	assert_false(is_target);
	assert_int_equal(
	    store_job_target(f->s, "j9", "h1", action, phase, &is_target, f->err, sizeof(f->err)),
	    STORE_NOT_FOUND);
	assert_true(store_job_exists(f->s, "j1"));
	assert_false(store_job_exists(f->s, "j9"));
}

/* A store written by schema 2 is upgraded in place: its jobs, targets and
 * results stay, and the new column reads 0 (no dispatch awaits an answer). */
static void
test_open_upgrades_v2(void **state)
{
	struct fx *f = *state;
	struct jhs_seen hs = {0};
	struct store_result r;
	sqlite3 *db;

	insert_job(f, "j1", "running", 100);
	result_fill(&r, "j1", "h1", "preflight", job_body, sizeof(job_body));
	assert_int_equal(store_result_insert(f->s, &r, f->err, sizeof(f->err)), 0);
	store_close(f->s);
	f->s = NULL;
	/* Back to schema 2 as an older coordinator left it. */
	db = raw_open(f->path);
	assert_int_equal(sqlite3_exec(db,
	                              "DROP INDEX results_job;"
	                              "ALTER TABLE job_hosts DROP COLUMN dispatch_expires_ms;"
	                              "ALTER TABLE hosts DROP COLUMN metadb;"
	                              "ALTER TABLE job_hosts DROP COLUMN unit;"
	                              "ALTER TABLE hosts DROP COLUMN backup;"
	                              "ALTER TABLE job_hosts DROP COLUMN revert;"
	                              "ALTER TABLE job_hosts DROP COLUMN revert_message;"
	                              "PRAGMA user_version=2;",
	                              NULL, NULL, NULL),
	                 SQLITE_OK);
	sqlite3_close(db);
	reopen(f);
	assert_int_equal(raw_count(f->path, "PRAGMA user_version"), 6);
	assert_int_equal(store_job_hosts_each(f->s, "j1", jh_cb, &hs, f->err, sizeof(f->err)), 0);
	assert_int_equal(hs.n, 3);
	assert_int_equal(hs.h[0].dispatch_expires_ms, 0);
	assert_string_equal(hs.h[0].revert, "");
	assert_int_equal(store_results_count(f->s, "j1", f->err, sizeof(f->err)), 1);
}

/* A host's metadb (its deployment) is kept, as JSON, across a reopen. */
static void
test_host_metadb(void **state)
{
	struct fx *f = *state;
	struct hosts_seen hs;
	const struct host_copy *h;
	uint8_t pk[32];
	bool changed;

	make_pk(pk, 1);
	assert_int_equal(store_host_accept(f->s, "h1", pk, 100, &changed, f->err, sizeof(f->err)),
	                 0);
	h = host_find(f, &hs, "h1");
	assert_string_equal(h->metadb, "");
	assert_int_equal(
	    store_host_metadb(f->s, "h1", "{\"database\":\"odc\"}", f->err, sizeof(f->err)), 0);
	assert_int_equal(store_host_metadb(f->s, "h1", "[1]", f->err, sizeof(f->err)), -1);
	assert_int_equal(store_host_metadb(f->s, "nobody", "{}", f->err, sizeof(f->err)),
	                 STORE_NOT_FOUND);
	reopen(f);
	h = host_find(f, &hs, "h1");
	assert_string_equal(h->metadb, "{\"database\":\"odc\"}");
}

/* What a host's rollback check found at the backup path is kept likewise. */
static void
test_host_backup(void **state)
{
	struct fx *f = *state;
	struct hosts_seen hs;
	const struct host_copy *h;
	const char *found = "{\"here\":true,\"job\":\"j1\",\"path\":\"/b\"}";
	uint8_t pk[32];
	bool changed;

	make_pk(pk, 1);
	assert_int_equal(store_host_accept(f->s, "h1", pk, 100, &changed, f->err, sizeof(f->err)),
	                 0);
	h = host_find(f, &hs, "h1");
	assert_string_equal(h->backup, "");
	assert_int_equal(store_host_backup(f->s, "h1", found, f->err, sizeof(f->err)), 0);
	assert_int_equal(store_host_backup(f->s, "h1", "\"here\"", f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "backup"));
	assert_int_equal(store_host_backup(f->s, "nobody", "{}", f->err, sizeof(f->err)),
	                 STORE_NOT_FOUND);
	reopen(f);
	h = host_find(f, &hs, "h1");
	assert_string_equal(h->backup, found);
	assert_string_equal(h->metadb, ""); /* the other column untouched */
}

/* ---- audit ---- */

static void
test_audit(void **state)
{
	struct fx *f = *state;
	json_t *a, *o;

	assert_int_equal(store_audit(f->s, 10, "coordinator", "start", NULL, NULL, "ok", "v1",
	                             f->err, sizeof(f->err)),
	                 0);
	assert_int_equal(store_audit(f->s, 20, "local:alice", "job-submit", "j1", "[\"h1\",\"h2\"]",
	                             "ok", "", f->err, sizeof(f->err)),
	                 0);
	assert_int_equal(store_audit(f->s, 30, "operator bob", "key-accept", NULL, "[\"h3\"]",
	                             "refused", "key belongs to host h1", f->err, sizeof(f->err)),
	                 0);
	assert_int_equal(store_audit(f->s, 40, "coordinator", "job-halt", "j1", NULL, "halted",
	                             "canary failed", f->err, sizeof(f->err)),
	                 0);

	a = view_audit_json(f->s, NULL, 100, f->err, sizeof(f->err));
	assert_non_null(a);
	assert_int_equal(json_array_size(a), 4);
	o = json_array_get(a, 0);
	assert_int_equal(json_object_size(o), 8);
	assert_int_equal(json_integer_value(json_object_get(o, "id")), 4);
	assert_int_equal(json_integer_value(json_object_get(o, "at_ms")), 40);
	assert_string_equal(json_string_value(json_object_get(o, "who")), "coordinator");
	assert_string_equal(json_string_value(json_object_get(o, "what")), "job-halt");
	assert_string_equal(json_string_value(json_object_get(o, "job_id")), "j1");
	assert_true(json_is_null(json_object_get(o, "hosts")));
	assert_string_equal(json_string_value(json_object_get(o, "outcome")), "halted");
	assert_string_equal(json_string_value(json_object_get(o, "detail")), "canary failed");
	o = json_array_get(a, 3);
	assert_string_equal(json_string_value(json_object_get(o, "what")), "start");
	assert_true(json_is_null(json_object_get(o, "job_id")));
	json_decref(a);

	a = view_audit_json(f->s, NULL, 2, f->err, sizeof(f->err));
	assert_int_equal(json_array_size(a), 2);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(a, 1), "id")), 3);
	json_decref(a);

	a = view_audit_json(f->s, "j1", 100, f->err, sizeof(f->err));
	assert_int_equal(json_array_size(a), 2);
	o = json_array_get(a, 1);
	assert_string_equal(json_string_value(json_object_get(o, "what")), "job-submit");
	assert_int_equal(json_array_size(json_object_get(o, "hosts")), 2);
	assert_string_equal(json_string_value(json_array_get(json_object_get(o, "hosts"), 1)),
	                    "h2");
	json_decref(a);

	a = view_audit_json(f->s, "j1", 0, f->err, sizeof(f->err));
	assert_int_equal(json_array_size(a), 0);
	json_decref(a);

	/* hosts must be a JSON array. */
	assert_int_equal(
	    store_audit(f->s, 50, "coordinator", "x", NULL, "{}", "ok", "", f->err, sizeof(f->err)),
	    -1);
	assert_int_equal(raw_count(f->path, "SELECT count(*) FROM audit"), 4);
}

static void
expect_refused(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);

	if (rc == SQLITE_OK)
		fail_msg("accepted: %s", sql);
	assert_non_null(msg);
	assert_non_null(strstr(msg, "append-only"));
	sqlite3_free(msg);
}

static void
test_audit_append_only(void **state)
{
	struct fx *f = *state;
	sqlite3 *db;
	json_t *a;

	assert_int_equal(store_audit(f->s, 10, "coordinator", "start", NULL, NULL, "ok", "first",
	                             f->err, sizeof(f->err)),
	                 0);
	db = raw_open(f->path);
	expect_refused(db, "UPDATE audit SET detail = 'rewritten'");
	expect_refused(db, "DELETE FROM audit");
	expect_refused(db, "INSERT OR REPLACE INTO audit(id, at_ms, who, what, outcome, detail)"
	                   " VALUES (1, 0, 'x', 'x', 'x', 'x')");
	expect_refused(db, "INSERT INTO audit(id, at_ms, who, what, outcome, detail)"
	                   " VALUES (1, 0, 'x', 'x', 'x', 'x')"
	                   " ON CONFLICT(id) DO UPDATE SET detail = 'x'");
	sqlite3_close(db);
	a = view_audit_json(f->s, NULL, 10, f->err, sizeof(f->err));
	assert_int_equal(json_array_size(a), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(a, 0), "detail")),
	                    "first");
	json_decref(a);
}

/* ---- transactions ---- */

static void
test_group_commit(void **state)
{
	struct fx *f = *state;
	uint8_t pk[32];

	assert_false(store_in_tx(f->s));
	assert_int_equal(store_commit(f->s, f->err, sizeof(f->err)), 0); /* no-op */
	assert_int_equal(store_begin(f->s, f->err, sizeof(f->err)), 0);
	assert_true(store_in_tx(f->s));
	assert_int_equal(store_begin(f->s, f->err, sizeof(f->err)), 0); /* no-op */
	assert_true(store_in_tx(f->s));
	make_pk(pk, 1);
	assert_int_equal(store_host_accept(f->s, "h1", pk, 1, NULL, f->err, sizeof(f->err)), 0);
	insert_job(f, "j1", "running", 2);
	assert_int_equal(
	    store_audit(f->s, 3, "coordinator", "x", "j1", NULL, "ok", "", f->err, sizeof(f->err)),
	    0);
	assert_true(store_in_tx(f->s));
	/* Another connection sees none of it before the commit. */
	assert_int_equal(raw_count(f->path, "SELECT count(*) FROM audit"), 0);
	assert_int_equal(raw_count(f->path, "SELECT count(*) FROM jobs"), 0);
	assert_int_equal(store_commit(f->s, f->err, sizeof(f->err)), 0);
	assert_false(store_in_tx(f->s));
	assert_int_equal(raw_count(f->path, "SELECT count(*) FROM audit"), 1);
	assert_int_equal(raw_count(f->path, "SELECT count(*) FROM jobs"), 1);
	assert_int_equal(raw_count(f->path, "SELECT count(*) FROM hosts"), 1);
	assert_int_equal(raw_count(f->path, "SELECT count(*) FROM job_hosts"), 3);
}

static void
test_refused_write_keeps_tx(void **state)
{
	struct fx *f = *state;
	static const char *const twice[] = {"h1", "h1"};
	struct store_job j;
	uint8_t a[32], b[32];

	make_pk(a, 1);
	make_pk(b, 2);
	assert_int_equal(store_begin(f->s, f->err, sizeof(f->err)), 0);
	insert_job(f, "j1", "running", 1);
	assert_int_equal(store_host_accept(f->s, "h1", a, 1, NULL, f->err, sizeof(f->err)), 0);
	job_fill(&j, "j1", "running", 1);
	assert_int_equal(store_job_insert(f->s, &j, NULL, 0, f->err, sizeof(f->err)),
	                 STORE_CONFLICT);
	job_fill(&j, "j2", "running", 1);
	assert_int_equal(store_job_insert(f->s, &j, twice, 2, f->err, sizeof(f->err)), -1);
	assert_int_equal(store_host_accept(f->s, "h1", b, 1, NULL, f->err, sizeof(f->err)),
	                 STORE_CONFLICT);
	assert_true(store_in_tx(f->s));
	assert_int_equal(
	    store_audit(f->s, 2, "coordinator", "x", NULL, NULL, "ok", "", f->err, sizeof(f->err)),
	    0);
	assert_int_equal(store_commit(f->s, f->err, sizeof(f->err)), 0);
	assert_int_equal(raw_count(f->path, "SELECT count(*) FROM jobs"), 1);
	assert_int_equal(raw_count(f->path, "SELECT count(*) FROM job_hosts"), 3);
	assert_int_equal(raw_count(f->path, "SELECT count(*) FROM audit"), 1);
	assert_int_equal(raw_count(f->path, "SELECT count(*) FROM hosts"), 1);
}

static void
test_close_rolls_back(void **state)
{
	struct fx *f = *state;
	struct jobs_seen js = {0};
	json_t *a;

	assert_int_equal(store_audit(f->s, 1, "coordinator", "kept", NULL, NULL, "ok", "", f->err,
	                             sizeof(f->err)),
	                 0);
	assert_int_equal(store_begin(f->s, f->err, sizeof(f->err)), 0);
	insert_job(f, "j1", "running", 2);
	assert_int_equal(store_audit(f->s, 3, "coordinator", "lost", NULL, NULL, "ok", "", f->err,
	                             sizeof(f->err)),
	                 0);
	reopen(f); /* closed inside the transaction */
	assert_false(store_in_tx(f->s));
	assert_int_equal(store_jobs_each(f->s, NULL, job_cb, &js, f->err, sizeof(f->err)), 0);
	assert_int_equal(js.n, 0);
	a = view_audit_json(f->s, NULL, 10, f->err, sizeof(f->err));
	assert_int_equal(json_array_size(a), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(a, 0), "what")),
	                    "kept");
	json_decref(a);
}

/* A process killed inside a transaction: the committed part survives, the
 * rest is gone, and the file opens cleanly. */
static void
test_crash_in_tx(void **state)
{
	struct fx *f = *state;
	char path[160], err[512];
	struct store *s;
	int status;
	pid_t pid;
	json_t *a;

	snprintf(path, sizeof(path), "%s/crash.db", f->dir);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		s = store_open(path, err, sizeof(err));
		if (s == NULL ||
		    store_audit(s, 1, "coordinator", "kept", NULL, NULL, "ok", "", err,
		                sizeof(err)) != 0 ||
		    store_begin(s, err, sizeof(err)) != 0 ||
		    store_audit(s, 2, "coordinator", "lost", NULL, NULL, "ok", "", err,
		                sizeof(err)) != 0)
			_exit(1);
		_exit(0); /* no close, no commit */
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	s = store_open(path, err, sizeof(err));
	assert_non_null(s);
	a = view_audit_json(s, NULL, 10, err, sizeof(err));
	assert_int_equal(json_array_size(a), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(a, 0), "what")),
	                    "kept");
	json_decref(a);
	store_close(s);
}

/* ---- bounds ---- */

static void
test_bounds(void **state)
{
	struct fx *f = *state;
	static const uint8_t body[] = {1};
	struct store_result r;
	struct store_job j;
	uint8_t pk[32];
	char *big;

	make_pk(pk, 1);
	assert_int_equal(store_host_accept(f->s, "h\xff", pk, 1, NULL, f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "UTF-8"));
	assert_int_equal(
	    store_host_accept(f->s, "h\xed\xa0\x80", pk, 1, NULL, f->err, sizeof(f->err)), -1);
	assert_int_equal(store_host_accept(f->s, "h1", pk, (uint64_t)INT64_MAX + 1, NULL, f->err,
	                                   sizeof(f->err)),
	                 -1);
	assert_int_equal(raw_count(f->path, "SELECT count(*) FROM hosts"), 0);
	/* Multibyte UTF-8 is fine. */
	assert_int_equal(store_host_accept(f->s, "h-\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", pk, 1,
	                                   NULL, f->err, sizeof(f->err)),
	                 0);

	big = malloc((1u << 20) + 2);
	assert_non_null(big);
	memset(big, 'a', (1u << 20) + 1);
	big[(1u << 20) + 1] = '\0';
	assert_int_equal(
	    store_audit(f->s, 1, "coordinator", "x", NULL, NULL, "ok", big, f->err, sizeof(f->err)),
	    -1);
	assert_non_null(strstr(f->err, "detail"));
	assert_int_equal(raw_count(f->path, "SELECT count(*) FROM audit"), 0);

	job_fill(&j, "j1", "running", 1);
	j.body = (const uint8_t *)big;
	j.body_len = (1u << 20) + 1;
	assert_int_equal(store_job_insert(f->s, &j, NULL, 0, f->err, sizeof(f->err)), -1);
	free(big);
	job_fill(&j, "j1", "running", 1);
	j.action = NULL;
	assert_int_equal(store_job_insert(f->s, &j, NULL, 0, f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "action"));
	assert_int_equal(raw_count(f->path, "SELECT count(*) FROM jobs"), 0);

	insert_job(f, "j1", "running", 1);
	result_fill(&r, "j1", "h1", "s", body, sizeof(body));
	r.data_json = "[]";
	assert_int_equal(store_result_insert(f->s, &r, f->err, sizeof(f->err)), -1);
	r.data_json = "{\"a\":\"1\",\"a\":\"2\"}";
	assert_int_equal(store_result_insert(f->s, &r, f->err, sizeof(f->err)), -1);
	r.data_json = "{\"a\":\"1\"} x";
	assert_int_equal(store_result_insert(f->s, &r, f->err, sizeof(f->err)), -1);
	assert_int_equal(store_results_count(f->s, "j1", f->err, sizeof(f->err)), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_open_create_reopen, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_open_wal_mode, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_open_refuses_symlink, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_open_version_mismatch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_open_foreign_files, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_host_accept_revoke, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_keys_json, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_host_seen, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hosts_each_order_and_stop, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reentrant_walk, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pending_note, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pending_accept, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pending_trim, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_job_insert_get, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_job_update_each, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_job_host_update, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_result_insert_json, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_results_page, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_job_target, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_open_upgrades_v2, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_host_metadb, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_host_backup, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_audit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_audit_append_only, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_group_commit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refused_write_keeps_tx, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_close_rolls_back, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_crash_in_tx, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bounds, setup, teardown),
	};

	if (keys_init() != 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
