/* The control socket's JSON views of the store: each walks rows with a
 * store_*_each callback and builds the array the REPLY carries. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/keys.h"
#include "coordinator/view.h"
#include "proto/proto.h"

static int
set_new(json_t *o, const char *key, json_t *v)
{
	return json_object_set_new(o, key, v); /* v is released on failure too */
}

static json_t *
nomem(struct store *s, char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "%s: %s: out of memory", store_path(s), what);
	return NULL;
}

/* The end of a walk whose callback returns 1 when out of memory: arr when
 * the walk (its result ret) went through, else NULL with err set (arr is
 * released). */
static json_t *
walked(struct store *s, json_t *arr, int ret, const char *what, char *err, size_t errlen)
{
	if (ret == 0)
		return arr;
	if (ret > 0)
		nomem(s, err, errlen, what);
	json_decref(arr);
	return NULL;
}

/* ---- keys ---- */

static json_t *
key_object(const uint8_t pk[32])
{
	char fp[KEYS_FINGERPRINT_SIZE], text[KEYS_PUBLIC_TEXT_SIZE];
	json_t *o = json_object();

	store_fingerprint(pk, fp);
	keys_format_public(pk, text, sizeof(text));
	if (o == NULL || set_new(o, "fingerprint", json_string(fp)) != 0 ||
	    set_new(o, "public_key", json_string(text)) != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* A pending key's names: its fingerprint (computed as for an Ed25519 key)
 * and its 64 hex digits. */
static json_t *
curve_object(const uint8_t curve[32])
{
	char fp[KEYS_FINGERPRINT_SIZE], hex[2 * KEYS_CURVE_LEN + 1];
	json_t *o = json_object();

	store_fingerprint(curve, fp);
	hex_encode(curve, KEYS_CURVE_LEN, hex, sizeof(hex));
	if (o == NULL || set_new(o, "curve_fingerprint", json_string(fp)) != 0 ||
	    set_new(o, "curve_key", json_string(hex)) != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* Appends one pending key to the array ctx; 1 when out of memory. */
static int
pending_one(void *ctx, const struct store_pending *p)
{
	json_t *arr = ctx, *o = curve_object(p->curve);

	if (o == NULL || set_new(o, "address", json_string(p->address)) != 0 ||
	    set_new(o, "first_ms", json_integer((json_int_t)p->first_ms)) != 0 ||
	    set_new(o, "last_ms", json_integer((json_int_t)p->last_ms)) != 0 ||
	    set_new(o, "attempts", json_integer((json_int_t)p->attempts)) != 0) {
		json_decref(o);
		return 1;
	}
	return json_array_append_new(arr, o) != 0 ? 1 : 0; /* releases o on failure */
}

json_t *
view_pending_json(struct store *s, char *err, size_t errlen)
{
	json_t *arr = json_array();
	int ret;

	if (arr == NULL)
		return nomem(s, err, errlen, "pending keys");
	ret = store_pending_each(s, pending_one, arr, err, errlen);
	return walked(s, arr, ret, "pending keys", err, errlen);
}

/* Appends one host's key to the array ctx; 1 when out of memory. */
static int
keys_one(void *ctx, const struct store_host *h)
{
	json_t *arr = ctx, *o = key_object(h->pk);

	if (o == NULL || set_new(o, "host", json_string(h->host_id)) != 0 ||
	    set_new(o, "state", json_string(h->state)) != 0 ||
	    set_new(o, "accepted_ms", json_integer((json_int_t)h->accepted_ms)) != 0 ||
	    set_new(o, "revoked_ms",
	            h->revoked_ms != 0 ? json_integer((json_int_t)h->revoked_ms) : json_null()) !=
	        0) {
		json_decref(o);
		return 1;
	}
	return json_array_append_new(arr, o) != 0 ? 1 : 0; /* releases o on failure */
}

json_t *
view_keys_json(struct store *s, char *err, size_t errlen)
{
	json_t *arr = json_array();
	int ret;

	if (arr == NULL)
		return nomem(s, err, errlen, "keys");
	ret = store_hosts_each(s, keys_one, arr, err, errlen);
	return walked(s, arr, ret, "keys", err, errlen);
}

/* ---- results ---- */

/* Hex of a body as a new JSON array of strings of at most VIEW_HEX_CHUNK
 * digits each: REPLY strings are at most 64 KiB (PROTOCOL.md section 3) and
 * a RESULT body is up to 64 KiB, twice that in hex. */
static json_t *
hex_chunks(const uint8_t *p, size_t n)
{
	size_t per = VIEW_HEX_CHUNK / 2;
	char *text = malloc(VIEW_HEX_CHUNK + 1);
	json_t *a = json_array();

	if (text == NULL || a == NULL)
		goto fail;
	for (size_t off = 0; off < n || (n == 0 && off == 0); off += per) {
		size_t k = n - off < per ? n - off : per;
		if (k == 0)
			text[0] = '\0';
		else
			(void)hex_encode(p + off, k, text, VIEW_HEX_CHUNK + 1);
		if (json_array_append_new(a, json_string(text)) != 0)
			goto fail;
		if (n == 0)
			break;
	}
	free(text);
	return a;
fail:
	free(text);
	json_decref(a);
	return NULL;
}

static json_t *
result_object(const struct store_result *r)
{
	char fp[KEYS_FINGERPRINT_SIZE], inc_hex[2 * PROTO_INCARN_LEN + 1];
	char sig_hex[2 * PROTO_SIGFRAME_LEN + 1];
	json_t *o, *data;

	hex_encode(r->incarnation, PROTO_INCARN_LEN, inc_hex, sizeof(inc_hex));
	hex_encode(r->sig, PROTO_SIGFRAME_LEN, sig_hex, sizeof(sig_hex));
	store_fingerprint(r->sig, fp); /* the frame starts with the signer's key */
	if ((o = json_object()) == NULL)
		return NULL;
	data = json_loads(r->data_json, 0, NULL);
	if (data != NULL && !json_is_object(data)) {
		json_decref(data);
		data = NULL;
	}
	if (set_new(o, "step", json_string(r->step)) != 0 ||
	    set_new(o, "status", json_string(r->status)) != 0 ||
	    set_new(o, "exit_code", json_integer((json_int_t)r->exit_code)) != 0 ||
	    set_new(o, "started_ms", json_integer((json_int_t)r->started_ms)) != 0 ||
	    set_new(o, "duration_ms", json_integer((json_int_t)r->duration_ms)) != 0 ||
	    set_new(o, "message", json_string(r->message)) != 0 ||
	    set_new(o, "output_tail", json_string(r->output_tail)) != 0) {
		json_decref(data);
		goto fail;
	}
	/* From here on set_new owns (and on failure releases) each value. */
	if (set_new(o, "data", data) != 0 || set_new(o, "final", json_boolean(r->final)) != 0 ||
	    set_new(o, "incarnation", json_string(inc_hex)) != 0 ||
	    set_new(o, "received_ms", json_integer((json_int_t)r->received_ms)) != 0 ||
	    set_new(o, "signer", json_string(fp)) != 0 ||
	    set_new(o, "body_hex", hex_chunks(r->body, r->body_len)) != 0 ||
	    set_new(o, "sig_hex", json_string(sig_hex)) != 0)
		goto fail;
	return o;
fail:
	json_decref(o);
	return NULL;
}

/* What one result object costs in a REPLY, roughly: its strings, the body
 * in hex, and the fixed fields. */
static size_t
result_cost(const struct store_result *r)
{
	return strlen(r->message) + strlen(r->output_tail) + strlen(r->data_json) +
	       2 * r->body_len + 512;
}

/* A page being filled: the array, its bounds and where it stands. */
struct page {
	struct store *s;
	const struct store_results_query *q;
	json_t *arr;
	size_t n, bytes;
	uint64_t last; /* the seq of the last result taken */
	uint64_t next; /* out: where the next page starts, 0 when none */
	char *err;
	size_t errlen;
};

/* Takes one result into the page, or stops the walk (1) when the page is
 * full; -1 with the message in p->err on failure. */
static int
page_one(void *ctx, const struct store_result *r, uint64_t seq)
{
	struct page *p = ctx;
	size_t cost = result_cost(r);
	json_t *o;

	/* A full page: the next one starts after the last row taken. */
	if (p->n >= p->q->limit || (p->n > 0 && p->bytes + cost > p->q->max_bytes)) {
		p->next = p->last;
		return 1;
	}
	if ((o = result_object(r)) == NULL) {
		snprintf(p->err, p->errlen, "%s: result %s/%s/%s: malformed row or out of memory",
		         store_path(p->s), p->q->job_id, r->host_id, r->step);
		return -1;
	}
	if (set_new(o, "host", json_string(r->host_id)) != 0 ||
	    set_new(o, "seq", json_integer((json_int_t)seq)) != 0 ||
	    json_array_append_new(p->arr, o) != 0) {
		nomem(p->s, p->err, p->errlen, "results");
		return -1;
	}
	p->n++;
	p->bytes += cost;
	p->last = seq;
	return 0;
}

json_t *
view_results_page(struct store *s, const struct store_results_query *q, uint64_t *next, char *err,
                  size_t errlen)
{
	struct page p = {s, q, json_array(), 0, 0, q->after, 0, err, errlen};
	int ret;

	*next = 0;
	if (p.arr == NULL)
		return nomem(s, err, errlen, "results");
	ret = store_results_each(s, q, page_one, &p, err, errlen);
	if (ret < 0) {
		json_decref(p.arr);
		return NULL;
	}
	*next = p.next;
	return p.arr;
}

/* ---- audit ---- */

static json_t *
audit_object(const struct store_audit_row *a)
{
	json_t *o = json_object(), *hosts = json_null();

	if (o == NULL)
		return NULL;
	if (a->hosts_json != NULL) {
		hosts = json_loads(a->hosts_json, 0, NULL);
		if (hosts == NULL || !json_is_array(hosts)) {
			json_decref(hosts);
			json_decref(o);
			return NULL;
		}
	}
	if (set_new(o, "id", json_integer((json_int_t)a->id)) != 0 ||
	    set_new(o, "at_ms", json_integer((json_int_t)a->at_ms)) != 0 ||
	    set_new(o, "who", json_string(a->who)) != 0 ||
	    set_new(o, "what", json_string(a->what)) != 0 ||
	    set_new(o, "job_id", a->job_id == NULL ? json_null() : json_string(a->job_id)) != 0 ||
	    set_new(o, "hosts", hosts) != 0 ||
	    set_new(o, "outcome", json_string(a->outcome)) != 0 ||
	    set_new(o, "detail", json_string(a->detail)) != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* Where audit_one puts what it reads and says what failed. */
struct audit_page {
	struct store *s;
	json_t *arr;
	char *err;
	size_t errlen;
};

static int
audit_one(void *ctx, const struct store_audit_row *a)
{
	struct audit_page *p = ctx;
	json_t *o = audit_object(a);

	if (o == NULL || json_array_append_new(p->arr, o) != 0) {
		snprintf(p->err, p->errlen, "%s: audit row %lld: malformed or out of memory",
		         store_path(p->s), (long long)a->id);
		return -1;
	}
	return 0;
}

json_t *
view_audit_json(struct store *s, const char *job_id, size_t limit, char *err, size_t errlen)
{
	struct audit_page p = {s, json_array(), err, errlen};

	if (p.arr == NULL)
		return nomem(s, err, errlen, "audit");
	if (store_audit_each(s, job_id, limit, audit_one, &p, err, errlen) != 0) {
		json_decref(p.arr);
		return NULL;
	}
	return p.arr;
}
