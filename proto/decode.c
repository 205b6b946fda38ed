/* Field decoding of PROTOCOL.md sections 3-4: after proto_scan() has bounded
 * the body, msgpack-c unpacks it and each message's fields are checked in
 * order (field.c's readers) and copied into the message's arena. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/field.h"

static enum proto_err
dec_hello(struct field_ctx *c, const msgpack_object *f, struct proto_hello *m)
{
	const msgpack_object *caps;
	size_t n = 0;

	FIELD_TRY(field_id(c, &f[0], "host_id", -1, &m->host_id));
	FIELD_TRY(field_str(c, &f[1], "agent_version", -1, 1, 32, NULL, &m->agent_version));
	FIELD_TRY(field_bin_exact(c, &f[2], "incarnation", PROTO_INCARN_LEN, m->incarnation));
	FIELD_TRY(field_kv(c, &f[3], "labels", 32, 1, 64, field_cs_label_key, 128, &m->labels,
	                   &m->n_labels));
	FIELD_TRY(field_list(c, &f[4], "capabilities", 0, 32, &caps, &n));
	m->capabilities = arena_alloc(c->a, (n ? n : 1) * sizeof(char *));
	if (m->capabilities == NULL)
		return field_oom(c);
	for (size_t i = 0; i < n; i++)
		FIELD_TRY(field_str(c, &caps[i], "capabilities", (long)i, 1, 32, NULL,
		                    &m->capabilities[i]));
	m->n_capabilities = n;
	FIELD_TRY(field_uint(c, &f[5], "sent_ms", -1, 0, PROTO_UINT_MAX, &m->sent_ms));
	return PROTO_OK;
}

static enum proto_err
dec_welcome(struct field_ctx *c, const msgpack_object *f, struct proto_welcome *m)
{
	FIELD_TRY(field_id(c, &f[0], "coordinator_id", -1, &m->coordinator_id));
	FIELD_TRY(field_uint(c, &f[1], "heartbeat_ms", -1, 1000, 600000, &m->heartbeat_ms));
	FIELD_TRY(field_uint(c, &f[2], "lost_after", -1, 1, 100, &m->lost_after));
	FIELD_TRY(field_uint(c, &f[3], "now_ms", -1, 0, PROTO_UINT_MAX, &m->now_ms));
	return PROTO_OK;
}

static const char *const container_states[] = {"created", "restarting", "running", "removing",
                                               "paused",  "exited",     "dead",    "absent",
                                               "unknown", NULL};
static const char *const health_states[] = {"healthy", "unhealthy", "starting", "unknown", NULL};
static const char *const progress_states[] = {"running", "ok", "failed", "skipped", NULL};
static const char *const result_states[] = {"ok", "failed", "skipped", "interrupted", NULL};

static enum proto_err
dec_heartbeat(struct field_ctx *c, const msgpack_object *f, struct proto_heartbeat *m)
{
	const msgpack_object *row, *list;
	size_t n = 0;

	FIELD_TRY(field_id(c, &f[0], "host_id", -1, &m->host_id));
	FIELD_TRY(field_bin_exact(c, &f[1], "incarnation", PROTO_INCARN_LEN, m->incarnation));
	FIELD_TRY(field_uint(c, &f[2], "seq", -1, 0, PROTO_UINT_MAX, &m->seq));
	FIELD_TRY(field_uint(c, &f[3], "sent_ms", -1, 0, PROTO_UINT_MAX, &m->sent_ms));
	if (f[4].type != MSGPACK_OBJECT_NIL) {
		struct proto_container *o = &m->odc;
		FIELD_TRY(field_row(c, &f[4], "odc", -1, 6, &row));
		FIELD_TRY(
		    field_str(c, &row[0], "odc.container_id", -1, 0, 64, NULL, &o->container_id));
		FIELD_TRY(field_str(c, &row[1], "odc.name", -1, 0, 128, NULL, &o->name));
		FIELD_TRY(field_str(c, &row[2], "odc.image", -1, 0, 256, NULL, &o->image));
		FIELD_TRY(field_enum(c, &row[3], "odc.state", container_states, &o->state));
		FIELD_TRY(field_enum(c, &row[4], "odc.health", health_states, &o->health));
		FIELD_TRY(field_str(c, &row[5], "odc.version", -1, 0, 32, NULL, &o->version));
		m->has_odc = true;
	}
	if (f[5].type != MSGPACK_OBJECT_NIL) {
		FIELD_TRY(field_row(c, &f[5], "job", -1, 2, &row));
		FIELD_TRY(field_id(c, &row[0], "job.job_id", -1, &m->job_id));
		FIELD_TRY(
		    field_str(c, &row[1], "job.step", -1, 1, 32, field_cs_lower_us, &m->job_step));
		m->has_job = true;
	}
	FIELD_TRY(field_list(c, &f[6], "disks", 0, 16, &list, &n));
	m->disks = arena_alloc(c->a, (n ? n : 1) * sizeof(*m->disks));
	if (m->disks == NULL)
		return field_oom(c);
	for (size_t i = 0; i < n; i++) {
		FIELD_TRY(field_row(c, &list[i], "disks", (long)i, 3, &row));
		FIELD_TRY(
		    field_str(c, &row[0], "disks.path", (long)i, 1, 4096, NULL, &m->disks[i].path));
		FIELD_TRY(field_uint(c, &row[1], "disks.free_bytes", (long)i, 0, PROTO_UINT_MAX,
		                     &m->disks[i].free_bytes));
		FIELD_TRY(field_uint(c, &row[2], "disks.total_bytes", (long)i, 0, PROTO_UINT_MAX,
		                     &m->disks[i].total_bytes));
	}
	m->n_disks = n;
	if (f[7].type != MSGPACK_OBJECT_NIL) {
		struct proto_metadb *d = &m->metadb;
		FIELD_TRY(field_row(c, &f[7], "metadb", -1, 5, &row));
		FIELD_TRY(field_str(c, &row[0], "metadb.host", -1, 1, 255, NULL, &d->host));
		FIELD_TRY(field_uint(c, &row[1], "metadb.port", -1, 1, 65535, &d->port));
		FIELD_TRY(field_str(c, &row[2], "metadb.tenant", -1, 0, 128, NULL, &d->tenant));
		FIELD_TRY(field_str(c, &row[3], "metadb.cluster", -1, 0, 128, NULL, &d->cluster));
		FIELD_TRY(field_str(c, &row[4], "metadb.database", -1, 1, 128, NULL, &d->database));
		m->has_metadb = true;
	}
	return PROTO_OK;
}

static enum proto_err
dec_progress(struct field_ctx *c, const msgpack_object *f, struct proto_progress *m)
{
	FIELD_TRY(field_id(c, &f[0], "job_id", -1, &m->job_id));
	FIELD_TRY(field_id(c, &f[1], "host_id", -1, &m->host_id));
	FIELD_TRY(field_str(c, &f[2], "step", -1, 1, 32, field_cs_lower_us, &m->step));
	FIELD_TRY(field_enum(c, &f[3], "status", progress_states, &m->status));
	FIELD_TRY(field_uint(c, &f[4], "at_ms", -1, 0, PROTO_UINT_MAX, &m->at_ms));
	FIELD_TRY(field_uint(c, &f[5], "percent", -1, 0, 100, &m->percent));
	FIELD_TRY(field_str(c, &f[6], "message", -1, 0, 512, NULL, &m->message));
	return PROTO_OK;
}

static enum proto_err
dec_result(struct field_ctx *c, const msgpack_object *f, struct proto_result *m)
{
	FIELD_TRY(field_id(c, &f[0], "job_id", -1, &m->job_id));
	FIELD_TRY(field_id(c, &f[1], "host_id", -1, &m->host_id));
	FIELD_TRY(field_str(c, &f[2], "step", -1, 1, 32, field_cs_lower_us, &m->step));
	FIELD_TRY(field_enum(c, &f[3], "status", result_states, &m->status));
	FIELD_TRY(field_int(c, &f[4], "exit_code", &m->exit_code));
	FIELD_TRY(field_uint(c, &f[5], "started_ms", -1, 0, PROTO_UINT_MAX, &m->started_ms));
	FIELD_TRY(field_uint(c, &f[6], "duration_ms", -1, 0, PROTO_UINT_MAX, &m->duration_ms));
	FIELD_TRY(field_str(c, &f[7], "message", -1, 0, 1024, NULL, &m->message));
	FIELD_TRY(field_str(c, &f[8], "output_tail", -1, 0, 16384, NULL, &m->output_tail));
	FIELD_TRY(
	    field_kv(c, &f[9], "data", 32, 1, 64, field_cs_data_key, 1024, &m->data, &m->n_data));
	FIELD_TRY(field_bool(c, &f[10], "final", &m->final));
	FIELD_TRY(field_bin_exact(c, &f[11], "incarnation", PROTO_INCARN_LEN, m->incarnation));
	return PROTO_OK;
}

static enum proto_err
dec_ack(struct field_ctx *c, const msgpack_object *f, struct proto_ack *m, bool nack)
{
	const uint8_t *p = NULL;
	size_t n = 0;

	FIELD_TRY(field_uint(c, &f[0], "ref_type", -1, 0, PROTO_UINT_MAX, &m->ref_type));
	if (proto_type_name((int)(m->ref_type & 0xff)) == NULL || m->ref_type > 0xff)
		return field_bad(c, PROTO_E_VALUE, "ref_type", -1, "%llu is not a message type",
		                 (unsigned long long)m->ref_type);
	FIELD_TRY(field_str(c, &f[1], "job_id", -1, 0, PROTO_ID_MAX, field_cs_id, &m->job_id));
	FIELD_TRY(field_str(c, &f[2], "host_id", -1, 0, PROTO_ID_MAX, field_cs_id, &m->host_id));
	FIELD_TRY(field_str(c, &f[3], "step", -1, 0, 32, field_cs_lower_us, &m->step));
	FIELD_TRY(field_bin(c, &f[4], "nonce", 0, PROTO_NONCE_LEN, &p, &n));
	if (n != 0 && n != PROTO_NONCE_LEN)
		return field_bad(c, PROTO_E_VALUE, "nonce", -1, "%zu bytes, must be 0 or %d", n,
		                 PROTO_NONCE_LEN);
	if (n > 0)
		memcpy(m->nonce, p, n);
	m->nonce_len = n;
	if (nack) {
		FIELD_TRY(field_uint(c, &f[5], "code", -1, 1, PROTO_E_MAX, &m->code));
		FIELD_TRY(field_str(c, &f[6], "message", -1, 0, 256, NULL, &m->message));
	} else {
		m->message = "";
	}
	return PROTO_OK;
}

static enum proto_err
dec_job(struct field_ctx *c, const msgpack_object *f, struct proto_job *m)
{
	const msgpack_object *row, *pol;
	struct proto_policy *p = &m->policy;

	FIELD_TRY(field_id(c, &f[0], "job_id", -1, &m->job_id));
	FIELD_TRY(field_str(c, &f[1], "action", -1, 1, 32, field_cs_lower_us, &m->action));
	FIELD_TRY(field_kv(c, &f[2], "params", 32, 1, 32, field_cs_param_key, 4096, &m->params,
	                   &m->n_params));
	/* The targets are committed to, not listed (section 2): the list comes
	 * with the JOB message only, see proto_decode_job(). */
	FIELD_TRY(field_row(c, &f[3], "targets", -1, 2, &row));
	FIELD_TRY(
	    field_uint(c, &row[0], "targets.count", -1, 1, PROTO_MAX_TARGETS, &m->target_count));
	FIELD_TRY(field_bin_exact(c, &row[1], "targets.root", PROTO_HASH_LEN, m->target_root));
	m->targets = NULL;
	m->n_targets = 0;

	FIELD_TRY(field_row(c, &f[4], "policy", -1, 8, &pol));
	FIELD_TRY(field_uint(c, &pol[0], "policy.canary", -1, 0, m->target_count, &p->canary));
	FIELD_TRY(field_uint(c, &pol[1], "policy.batch", -1, 1, PROTO_UINT_MAX, &p->batch));
	FIELD_TRY(field_bool(c, &pol[2], "policy.batch_pct", &p->batch_pct));
	if (p->batch_pct && p->batch > 100)
		return field_bad(c, PROTO_E_VALUE, "policy.batch", -1, "%llu%% is more than 100%%",
		                 (unsigned long long)p->batch);
	FIELD_TRY(field_uint(c, &pol[3], "policy.budget", -1, 0, PROTO_UINT_MAX, &p->budget));
	FIELD_TRY(field_bool(c, &pol[4], "policy.budget_pct", &p->budget_pct));
	if (p->budget_pct && p->budget > 100)
		return field_bad(c, PROTO_E_VALUE, "policy.budget", -1, "%llu%% is more than 100%%",
		                 (unsigned long long)p->budget);
	FIELD_TRY(field_uint(c, &pol[5], "policy.quorum_pct", -1, 0, 100, &p->quorum_pct));
	FIELD_TRY(
	    field_uint(c, &pol[6], "policy.step_deadline_s", -1, 1, 86400, &p->step_deadline_s));
	FIELD_TRY(
	    field_uint(c, &pol[7], "policy.job_deadline_s", -1, 1, 604800, &p->job_deadline_s));

	FIELD_TRY(field_uint(c, &f[5], "created_ms", -1, 0, PROTO_UINT_MAX, &m->created_ms));
	FIELD_TRY(field_uint(c, &f[6], "expires_ms", -1, 0, PROTO_UINT_MAX, &m->expires_ms));
	if (m->expires_ms <= m->created_ms || m->expires_ms - m->created_ms > 604800000u)
		return field_bad(c, PROTO_E_VALUE, "expires_ms", -1,
		                 "must be after created_ms and at most 7 days later");
	FIELD_TRY(field_str(c, &f[7], "operator", -1, 1, 64, NULL, &m->operator_name));
	FIELD_TRY(field_str(c, &f[8], "reason", -1, 0, 256, NULL, &m->reason));
	return PROTO_OK;
}

static enum proto_err
dec_dispatch(struct field_ctx *c, const msgpack_object *f, struct proto_dispatch *m)
{
	const msgpack_object *row, *path;
	const uint8_t *p = NULL;
	size_t n = 0;

	FIELD_TRY(field_bin(c, &f[0], "job", 1, 1048576, &p, &n));
	uint8_t *copy = arena_alloc(c->a, n);
	if (copy == NULL)
		return field_oom(c);
	memcpy(copy, p, n);
	m->job_bytes = copy;
	m->job_len = n;
	FIELD_TRY(field_bin_exact(c, &f[1], "job_sig", PROTO_SIGFRAME_LEN, m->job_sig));
	FIELD_TRY(field_id(c, &f[2], "host_id", -1, &m->host_id));
	FIELD_TRY(field_str(c, &f[3], "phase", -1, 1, 32, field_cs_lower_us, &m->phase));
	FIELD_TRY(field_uint(c, &f[4], "not_before_ms", -1, 0, PROTO_UINT_MAX, &m->not_before_ms));
	FIELD_TRY(field_uint(c, &f[5], "expires_ms", -1, 0, PROTO_UINT_MAX, &m->expires_ms));
	if (m->expires_ms <= m->not_before_ms || m->expires_ms - m->not_before_ms > 86400000u)
		return field_bad(c, PROTO_E_VALUE, "expires_ms", -1,
		                 "must be after not_before_ms and at most 24 hours later");
	FIELD_TRY(field_bin_exact(c, &f[6], "nonce", PROTO_NONCE_LEN, m->nonce));
	/* Only the proof's types and bounds: whether it holds is the agent's
	 * step 9 (NOT_TARGET), which knows its own id. */
	FIELD_TRY(field_row(c, &f[7], "target_proof", -1, 2, &row));
	FIELD_TRY(
	    field_uint(c, &row[0], "target_proof.index", -1, 0, PROTO_UINT_MAX, &m->proof_index));
	FIELD_TRY(field_list(c, &row[1], "target_proof.path", 0, PROTO_PROOF_MAX, &path, &n));
	for (size_t i = 0; i < n; i++) {
		const uint8_t *h = NULL;
		size_t hl = 0;
		FIELD_TRY(field_bin_at(c, &path[i], "target_proof.path", (long)i, PROTO_HASH_LEN,
		                       PROTO_HASH_LEN, &h, &hl));
		memcpy(m->proof[i], h, PROTO_HASH_LEN);
	}
	m->proof_len = n;
	return PROTO_OK;
}

static enum proto_err
dec_request(struct field_ctx *c, const msgpack_object *f, struct proto_request *m)
{
	json_t *args;

	FIELD_TRY(field_uint(c, &f[0], "request_id", -1, 0, PROTO_UINT_MAX, &m->request_id));
	FIELD_TRY(field_str(c, &f[1], "command", -1, 1, 32, field_cs_command, &m->command));
	if (f[2].type != MSGPACK_OBJECT_MAP)
		return field_bad(c, PROTO_E_SCHEMA, "args", -1, "expected a map, got %s",
		                 field_type_name(&f[2]));
	if (f[2].via.map.size > 64)
		return field_bad(c, PROTO_E_LIMIT, "args", -1, "%u entries, at most 64 allowed",
		                 f[2].via.map.size);
	for (uint32_t i = 0; i < f[2].via.map.size; i++) {
		const msgpack_object_kv *kv = &f[2].via.map.ptr[i];
		const char *key;
		FIELD_TRY(field_str(c, &kv->key, "args", (long)i, 1, 64, NULL, &key));
		for (uint32_t k = 0; k < i; k++) {
			const msgpack_object *pk = &f[2].via.map.ptr[k].key;
			if (pk->via.str.size == kv->key.via.str.size &&
			    memcmp(pk->via.str.ptr, key, pk->via.str.size) == 0)
				return field_bad(c, PROTO_E_VALUE, "args", (long)i,
				                 "duplicate key '%s'", key);
		}
		switch (kv->val.type) {
		case MSGPACK_OBJECT_NIL:
		case MSGPACK_OBJECT_BOOLEAN:
		case MSGPACK_OBJECT_NEGATIVE_INTEGER:
			break;
		case MSGPACK_OBJECT_POSITIVE_INTEGER: {
			int64_t v;
			FIELD_TRY(field_int(c, &kv->val, "args", &v));
			break;
		}
		case MSGPACK_OBJECT_STR: {
			const char *s;
			FIELD_TRY(field_str(c, &kv->val, "args", (long)i, 0, 65536, NULL, &s));
			break;
		}
		case MSGPACK_OBJECT_ARRAY: {
			const msgpack_object *items;
			size_t n;
			const char *s;
			FIELD_TRY(field_list(c, &kv->val, "args", 0, 10000, &items, &n));
			for (size_t k = 0; k < n; k++)
				FIELD_TRY(
				    field_str(c, &items[k], "args", (long)i, 0, 256, NULL, &s));
			break;
		}
		default:
			return field_bad(c, PROTO_E_SCHEMA, "args", (long)i,
			                 "%s is not allowed as an argument",
			                 field_type_name(&kv->val));
		}
	}
	/* Every entry is valid now; only memory can fail the conversion. */
	FIELD_TRY(field_json(c, &f[2], "args", &args));
	FIELD_TRY(field_hold_json(c, args));
	m->args = args;
	return PROTO_OK;
}

static enum proto_err
dec_reply(struct field_ctx *c, const msgpack_object *f, struct proto_reply *m)
{
	json_t *body;

	FIELD_TRY(field_uint(c, &f[0], "request_id", -1, 0, PROTO_UINT_MAX, &m->request_id));
	FIELD_TRY(field_uint(c, &f[1], "code", -1, 0, PROTO_E_MAX, &m->code));
	FIELD_TRY(field_str(c, &f[2], "message", -1, 0, 1024, NULL, &m->message));
	FIELD_TRY(field_json(c, &f[3], "body", &body));
	FIELD_TRY(field_hold_json(c, body));
	m->body = json_is_null(body) ? NULL : body;
	return PROTO_OK;
}

/* m's fields from its body's array f (its type's field count already
 * checked), by the type's decoder: the mirror of encode.c's pack_body(). */
static enum proto_err
unpack_body(struct field_ctx *c, const msgpack_object *f, struct proto_msg *m)
{
	switch (m->type) {
	case PROTO_HELLO:
		return dec_hello(c, f, &m->u.hello);
	case PROTO_WELCOME:
		return dec_welcome(c, f, &m->u.welcome);
	case PROTO_HEARTBEAT:
		return dec_heartbeat(c, f, &m->u.heartbeat);
	case PROTO_PROGRESS:
		return dec_progress(c, f, &m->u.progress);
	case PROTO_RESULT:
		return dec_result(c, f, &m->u.result);
	case PROTO_ACK:
		return dec_ack(c, f, &m->u.ack, false);
	case PROTO_NACK:
		return dec_ack(c, f, &m->u.ack, true);
	case PROTO_JOB:
		return dec_job(c, f, &m->u.job);
	case PROTO_DISPATCH:
		return dec_dispatch(c, f, &m->u.dispatch);
	case PROTO_REQUEST:
		return dec_request(c, f, &m->u.request);
	case PROTO_REPLY:
		return dec_reply(c, f, &m->u.reply);
	}
	return proto_fail(c->err, PROTO_E_TYPE, "unknown message type");
}

enum proto_err
proto_decode_body(int type, const uint8_t *body, size_t len, struct proto_msg **out,
                  struct proto_error *err)
{
	struct proto_msg *m = NULL;
	msgpack_unpacked up;
	size_t off = 0;
	enum proto_err e;
	const char *tname = proto_type_name(type);
	struct field_ctx c;

	*out = NULL;
	msgpack_unpacked_init(&up);
	if (tname == NULL) {
		e = proto_fail(err, PROTO_E_TYPE, "unknown message type 0x%02x", type & 0xff);
		goto out;
	}
	if (len > proto_type_max_body(type)) {
		e = proto_fail(err, PROTO_E_TOO_BIG, "%s body of %zu bytes exceeds %zu", tname, len,
		               proto_type_max_body(type));
		goto out;
	}
	e = proto_scan(body, len, err);
	if (e != PROTO_OK)
		goto out;
	if (msgpack_unpack_next(&up, (const char *)body, len, &off) != MSGPACK_UNPACK_SUCCESS) {
		e = proto_fail(err, PROTO_E_MALFORMED, "%s body: msgpack-c refused it", tname);
		goto out;
	}
	m = calloc(1, sizeof(*m));
	if (m == NULL || (m->arena = arena_new()) == NULL) {
		e = proto_fail(err, PROTO_E_INTERNAL, "out of memory");
		goto out;
	}
	m->type = (enum proto_type)type;
	c.a = m->arena;
	c.err = err;
	c.type = tname;
	const msgpack_object *root = &up.data;
	if (root->type != MSGPACK_OBJECT_ARRAY) {
		e = proto_fail(err, PROTO_E_SCHEMA, "%s body is %s, not an array", tname,
		               field_type_name(root));
		goto out;
	}
	if (root->via.array.size != proto_type_fields(type)) {
		e = proto_fail(err, PROTO_E_SCHEMA, "%s body has %u fields, not %u", tname,
		               root->via.array.size, proto_type_fields(type));
		goto out;
	}
	e = unpack_body(&c, root->via.array.ptr, m);
out:
	msgpack_unpacked_destroy(&up);
	if (e != PROTO_OK) {
		proto_msg_free(m);
		return e;
	}
	*out = m;
	return PROTO_OK;
}
