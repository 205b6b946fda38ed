/* Encoding with msgpack-c's packer, signing (PROTOCOL.md section 2) and a
 * final check of every encoded body against the receiver's rules, so that
 * this side never sends what a peer must refuse. */
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>
#include <sodium.h>

#include "proto/internal.h"

#define DOMAIN_PREFIX "odc-fleet/1/"

/* The signed string is prefix || NAME || 0x00 || body; libsodium's
 * multi-part API would be Ed25519ph, so it is assembled in one buffer. */
static uint8_t *
signed_string(int type, const uint8_t *body, size_t len, size_t *outlen)
{
	const char *name = proto_type_name(type);
	size_t plen = strlen(DOMAIN_PREFIX), nlen;
	uint8_t *m;

	if (name == NULL)
		return NULL;
	nlen = strlen(name);
	m = malloc(plen + nlen + 1 + len);
	if (m == NULL)
		return NULL;
	memcpy(m, DOMAIN_PREFIX, plen);
	memcpy(m + plen, name, nlen);
	m[plen + nlen] = 0;
	if (len > 0)
		memcpy(m + plen + nlen + 1, body, len);
	*outlen = plen + nlen + 1 + len;
	return m;
}

int
proto_sign_body(int type, const uint8_t *body, size_t len, const uint8_t *sk,
                uint8_t sigframe[PROTO_SIGFRAME_LEN])
{
	size_t mlen;
	uint8_t *m = signed_string(type, body, len, &mlen);
	int rc = -1;

	if (m == NULL)
		return -1;
	/* libsodium's secret key is seed || public key. */
	memcpy(sigframe, sk + 32, PROTO_PK_LEN);
	if (crypto_sign_detached(sigframe + PROTO_PK_LEN, NULL, m, mlen, sk) == 0)
		rc = 0;
	free(m);
	return rc;
}

int
proto_verify_body(int type, const uint8_t *body, size_t len,
                  const uint8_t sigframe[PROTO_SIGFRAME_LEN])
{
	size_t mlen;
	uint8_t *m = signed_string(type, body, len, &mlen);
	int rc;

	if (m == NULL)
		return -1;
	rc = crypto_sign_verify_detached(sigframe + PROTO_PK_LEN, m, mlen, sigframe) == 0 ? 0 : -1;
	free(m);
	return rc;
}

static void
pk_str(msgpack_packer *pk, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s ? s : "", n);
}

static void
pk_bin(msgpack_packer *pk, const uint8_t *p, size_t n)
{
	msgpack_pack_bin(pk, n);
	msgpack_pack_bin_body(pk, p, n);
}

static void
pk_kv(msgpack_packer *pk, const struct proto_kv *kv, size_t n)
{
	msgpack_pack_map(pk, n);
	for (size_t i = 0; i < n; i++) {
		pk_str(pk, kv[i].key);
		pk_str(pk, kv[i].value);
	}
}

static void
pk_bool(msgpack_packer *pk, bool b)
{
	if (b)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
}

/* JSON -> msgpack; reals are refused (returns -1). */
static int
pk_json(msgpack_packer *pk, const json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_NULL:
		return msgpack_pack_nil(pk);
	case JSON_TRUE:
		return msgpack_pack_true(pk);
	case JSON_FALSE:
		return msgpack_pack_false(pk);
	case JSON_INTEGER:
		return msgpack_pack_int64(pk, json_integer_value(j));
	case JSON_STRING:
		msgpack_pack_str(pk, json_string_length(j));
		return msgpack_pack_str_body(pk, json_string_value(j), json_string_length(j));
	case JSON_ARRAY: {
		size_t i;
		json_t *v;
		msgpack_pack_array(pk, json_array_size(j));
		json_array_foreach(j, i, v)
		{
			if (pk_json(pk, v) != 0)
				return -1;
		}
		return 0;
	}
	case JSON_OBJECT: {
		const char *k;
		json_t *v;
		msgpack_pack_map(pk, json_object_size(j));
		/* The cast only satisfies jansson's non-const iterator macro. */
		json_object_foreach((json_t *)(uintptr_t)j, k, v)
		{
			pk_str(pk, k);
			if (pk_json(pk, v) != 0)
				return -1;
		}
		return 0;
	}
	default:
		return -1;
	}
}

/* The per-type encoders: each packs its message's fields, in the order of
 * PROTOCOL.md section 4, after pack_body() has packed the array header
 * (proto_type_fields()). They mirror decode.c's dec_* functions. Return 0,
 * or -1 for a value that cannot be encoded. */
static int
enc_hello(msgpack_packer *pk, const struct proto_hello *h)
{
	pk_str(pk, h->host_id);
	pk_str(pk, h->agent_version);
	pk_bin(pk, h->incarnation, PROTO_INCARN_LEN);
	pk_kv(pk, h->labels, h->n_labels);
	msgpack_pack_array(pk, h->n_capabilities);
	for (size_t i = 0; i < h->n_capabilities; i++)
		pk_str(pk, h->capabilities[i]);
	msgpack_pack_uint64(pk, h->sent_ms);
	return 0;
}

static int
enc_welcome(msgpack_packer *pk, const struct proto_welcome *w)
{
	pk_str(pk, w->coordinator_id);
	msgpack_pack_uint64(pk, w->heartbeat_ms);
	msgpack_pack_uint64(pk, w->lost_after);
	msgpack_pack_uint64(pk, w->now_ms);
	return 0;
}

/* HEARTBEAT's optional rows (odc, job, metadb) are nil when absent. */
static int
enc_heartbeat(msgpack_packer *pk, const struct proto_heartbeat *h)
{
	pk_str(pk, h->host_id);
	pk_bin(pk, h->incarnation, PROTO_INCARN_LEN);
	msgpack_pack_uint64(pk, h->seq);
	msgpack_pack_uint64(pk, h->sent_ms);
	if (h->has_odc) {
		msgpack_pack_array(pk, 6);
		pk_str(pk, h->odc.container_id);
		pk_str(pk, h->odc.name);
		pk_str(pk, h->odc.image);
		pk_str(pk, h->odc.state);
		pk_str(pk, h->odc.health);
		pk_str(pk, h->odc.version);
	} else {
		msgpack_pack_nil(pk);
	}
	if (h->has_job) {
		msgpack_pack_array(pk, 2);
		pk_str(pk, h->job_id);
		pk_str(pk, h->job_step);
	} else {
		msgpack_pack_nil(pk);
	}
	msgpack_pack_array(pk, h->n_disks);
	for (size_t i = 0; i < h->n_disks; i++) {
		msgpack_pack_array(pk, 3);
		pk_str(pk, h->disks[i].path);
		msgpack_pack_uint64(pk, h->disks[i].free_bytes);
		msgpack_pack_uint64(pk, h->disks[i].total_bytes);
	}
	if (h->has_metadb) {
		msgpack_pack_array(pk, 5);
		pk_str(pk, h->metadb.host);
		msgpack_pack_uint64(pk, h->metadb.port);
		pk_str(pk, h->metadb.tenant);
		pk_str(pk, h->metadb.cluster);
		pk_str(pk, h->metadb.database);
	} else {
		msgpack_pack_nil(pk);
	}
	return 0;
}

static int
enc_progress(msgpack_packer *pk, const struct proto_progress *p)
{
	pk_str(pk, p->job_id);
	pk_str(pk, p->host_id);
	pk_str(pk, p->step);
	pk_str(pk, p->status);
	msgpack_pack_uint64(pk, p->at_ms);
	msgpack_pack_uint64(pk, p->percent);
	pk_str(pk, p->message);
	return 0;
}

static int
enc_result(msgpack_packer *pk, const struct proto_result *r)
{
	pk_str(pk, r->job_id);
	pk_str(pk, r->host_id);
	pk_str(pk, r->step);
	pk_str(pk, r->status);
	msgpack_pack_int64(pk, r->exit_code);
	msgpack_pack_uint64(pk, r->started_ms);
	msgpack_pack_uint64(pk, r->duration_ms);
	pk_str(pk, r->message);
	pk_str(pk, r->output_tail);
	pk_kv(pk, r->data, r->n_data);
	pk_bool(pk, r->final);
	pk_bin(pk, r->incarnation, PROTO_INCARN_LEN);
	return 0;
}

/* ACK and NACK share their first five fields; code and message are NACK's. */
static int
enc_ack(msgpack_packer *pk, const struct proto_ack *a, bool nack)
{
	msgpack_pack_uint64(pk, a->ref_type);
	pk_str(pk, a->job_id);
	pk_str(pk, a->host_id);
	pk_str(pk, a->step);
	pk_bin(pk, a->nonce, a->nonce_len);
	if (nack) {
		msgpack_pack_uint64(pk, a->code);
		pk_str(pk, a->message);
	}
	return 0;
}

/* A JOB body: its targets as the signed count and root (the list itself is
 * frame 3, pack_targets()). */
static int
enc_job(msgpack_packer *pk, const struct proto_job *j)
{
	const struct proto_policy *p = &j->policy;

	pk_str(pk, j->job_id);
	pk_str(pk, j->action);
	pk_kv(pk, j->params, j->n_params);
	msgpack_pack_array(pk, 2);
	msgpack_pack_uint64(pk, j->target_count);
	pk_bin(pk, j->target_root, PROTO_HASH_LEN);
	msgpack_pack_array(pk, 8);
	msgpack_pack_uint64(pk, p->canary);
	msgpack_pack_uint64(pk, p->batch);
	pk_bool(pk, p->batch_pct);
	msgpack_pack_uint64(pk, p->budget);
	pk_bool(pk, p->budget_pct);
	msgpack_pack_uint64(pk, p->quorum_pct);
	msgpack_pack_uint64(pk, p->step_deadline_s);
	msgpack_pack_uint64(pk, p->job_deadline_s);
	msgpack_pack_uint64(pk, j->created_ms);
	msgpack_pack_uint64(pk, j->expires_ms);
	pk_str(pk, j->operator_name);
	pk_str(pk, j->reason);
	return 0;
}

static int
enc_dispatch(msgpack_packer *pk, const struct proto_dispatch *d)
{
	pk_bin(pk, d->job_bytes, d->job_len);
	pk_bin(pk, d->job_sig, PROTO_SIGFRAME_LEN);
	pk_str(pk, d->host_id);
	pk_str(pk, d->phase);
	msgpack_pack_uint64(pk, d->not_before_ms);
	msgpack_pack_uint64(pk, d->expires_ms);
	pk_bin(pk, d->nonce, PROTO_NONCE_LEN);
	msgpack_pack_array(pk, 2);
	msgpack_pack_uint64(pk, d->proof_index);
	msgpack_pack_array(pk, d->proof_len);
	for (size_t i = 0; i < d->proof_len; i++)
		pk_bin(pk, d->proof[i], PROTO_HASH_LEN);
	return 0;
}

/* REQUEST: no args is an empty map; args that are not an object are refused. */
static int
enc_request(msgpack_packer *pk, const struct proto_request *r)
{
	msgpack_pack_uint64(pk, r->request_id);
	pk_str(pk, r->command);
	if (r->args == NULL)
		return msgpack_pack_map(pk, 0);
	if (!json_is_object(r->args))
		return -1;
	return pk_json(pk, r->args);
}

/* REPLY: no body is nil. */
static int
enc_reply(msgpack_packer *pk, const struct proto_reply *r)
{
	msgpack_pack_uint64(pk, r->request_id);
	msgpack_pack_uint64(pk, r->code);
	pk_str(pk, r->message);
	if (r->body == NULL)
		return msgpack_pack_nil(pk);
	return pk_json(pk, r->body);
}

/* m's body: the array of its type's fields (proto_type_fields()), then the
 * fields by the type's encoder. Returns 0, -1 when a value cannot be
 * encoded or the type is unknown. */
static int
pack_body(msgpack_packer *pk, const struct proto_msg *m)
{
	msgpack_pack_array(pk, proto_type_fields(m->type));
	switch (m->type) {
	case PROTO_HELLO:
		return enc_hello(pk, &m->u.hello);
	case PROTO_WELCOME:
		return enc_welcome(pk, &m->u.welcome);
	case PROTO_HEARTBEAT:
		return enc_heartbeat(pk, &m->u.heartbeat);
	case PROTO_PROGRESS:
		return enc_progress(pk, &m->u.progress);
	case PROTO_RESULT:
		return enc_result(pk, &m->u.result);
	case PROTO_ACK:
		return enc_ack(pk, &m->u.ack, false);
	case PROTO_NACK:
		return enc_ack(pk, &m->u.ack, true);
	case PROTO_JOB:
		return enc_job(pk, &m->u.job);
	case PROTO_DISPATCH:
		return enc_dispatch(pk, &m->u.dispatch);
	case PROTO_REQUEST:
		return enc_request(pk, &m->u.request);
	case PROTO_REPLY:
		return enc_reply(pk, &m->u.reply);
	}
	return -1;
}

/* A JOB's target list: frame 3 into lb, and the signed count and root of
 * field 3 into j. Only what cannot even be packed is refused here (the list
 * of ids itself is checked with the receiver's rules afterwards). */
static enum proto_err
pack_targets(const struct proto_job *src, struct proto_job *j, msgpack_sbuffer *lb,
             struct proto_error *err)
{
	msgpack_packer pk;

	if (src->n_targets == 0)
		return proto_fail(err, PROTO_E_VALUE,
		                  "JOB.target_list: 0 elements, at least 1 required");
	if (src->n_targets > PROTO_MAX_TARGETS)
		return proto_fail(err, PROTO_E_LIMIT,
		                  "JOB.target_list: %zu elements, at most %d allowed",
		                  src->n_targets, PROTO_MAX_TARGETS);
	if (src->targets == NULL)
		return proto_fail(err, PROTO_E_INTERNAL, "JOB: %zu targets but no list",
		                  src->n_targets);
	msgpack_packer_init(&pk, lb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, src->n_targets);
	for (size_t i = 0; i < src->n_targets; i++) {
		if (src->targets[i] == NULL)
			return proto_fail(err, PROTO_E_VALUE, "JOB.target_list[%zu]: no id", i);
		pk_str(&pk, src->targets[i]);
	}
	/* Computed here: the caller's target_count and target_root are ignored. */
	j->target_count = src->n_targets;
	if (proto_merkle_root(src->targets, src->n_targets, j->target_root) != 0)
		return proto_fail(err, PROTO_E_INTERNAL, "JOB: out of memory");
	return PROTO_OK;
}

enum proto_err
proto_encode(const struct proto_msg *m, const uint8_t *sk, struct proto_frames *out,
             struct proto_error *err)
{
	msgpack_sbuffer sb, lb;
	msgpack_packer pk;
	struct proto_msg *check = NULL;
	struct proto_msg job; /* m with the JOB's count and root computed */
	struct proto_error cerr;
	enum proto_err e = PROTO_OK;
	const char *tname = proto_type_name(m->type);

	msgpack_sbuffer_init(&sb);
	msgpack_sbuffer_init(&lb);
	if (tname == NULL) {
		e = proto_fail(err, PROTO_E_TYPE, "cannot encode unknown type 0x%02x",
		               (unsigned)m->type & 0xff);
		goto out;
	}
	if (proto_type_signed(m->type) && sk == NULL) {
		e = proto_fail(err, PROTO_E_INTERNAL, "%s must be signed and no key was given",
		               tname);
		goto out;
	}
	if (m->type == PROTO_DISPATCH && m->u.dispatch.proof_len > PROTO_PROOF_MAX) {
		e = proto_fail(err, PROTO_E_LIMIT,
		               "DISPATCH.target_proof.path: %zu hashes, at most %d allowed",
		               m->u.dispatch.proof_len, PROTO_PROOF_MAX);
		goto out;
	}
	if (m->type == PROTO_JOB) {
		job = *m;
		e = pack_targets(&m->u.job, &job.u.job, &lb, err);
		if (e != PROTO_OK)
			goto out;
		m = &job;
	}
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	if (pack_body(&pk, m) != 0) {
		e = proto_fail(err, PROTO_E_SCHEMA,
		               "%s: a value cannot be encoded (JSON real or non-object args)",
		               tname);
		goto out;
	}
	/* The receiver's rules, applied before anything leaves: for a JOB the
	 * body, then its list as the control socket reads it. */
	if (m->type == PROTO_JOB)
		e = proto_decode_job((const uint8_t *)sb.data, sb.size, (const uint8_t *)lb.data,
		                     lb.size, &check, &cerr);
	else
		e = proto_decode_body(m->type, (const uint8_t *)sb.data, sb.size, &check, &cerr);
	if (e != PROTO_OK) {
		proto_fail(err, e, "refusing to send an invalid message: %s", cerr.msg);
		goto out;
	}
	struct proto_frames f;
	memset(&f, 0, sizeof(f));
	f.header[0] = PROTO_MAGIC0;
	f.header[1] = PROTO_MAGIC1;
	f.header[2] = PROTO_VERSION;
	f.header[3] = (uint8_t)m->type;
	f.nframes = 2;
	if (proto_type_signed(m->type)) {
		if (proto_sign_body(m->type, (const uint8_t *)sb.data, sb.size, sk, f.sig) != 0) {
			e = proto_fail(err, PROTO_E_INTERNAL, "%s: signing failed", tname);
			goto out;
		}
		f.nframes = 3;
	}
	if (m->type == PROTO_JOB) {
		f.targets_len = lb.size;
		f.targets = (uint8_t *)msgpack_sbuffer_release(&lb);
		f.nframes = 4;
	}
	f.body_len = sb.size;
	f.body = (uint8_t *)msgpack_sbuffer_release(&sb);
	*out = f;
out:
	proto_msg_free(check);
	msgpack_sbuffer_destroy(&sb);
	msgpack_sbuffer_destroy(&lb);
	return e;
}
