/* The receive procedures of PROTOCOL.md section 7: header, frames, size,
 * signature on the exact bytes, then decoding (a JOB's target list with it),
 * then the checks that need the receiver's knowledge (targets, clock,
 * nonces, busy). */
#include <string.h>

#include "proto/internal.h"
#include "proto/replay.h"

static bool
accepts(enum proto_receiver r, int type)
{
	switch (r) {
	case PROTO_RCV_AGENT:
		return type == PROTO_WELCOME || type == PROTO_ACK || type == PROTO_NACK ||
		       type == PROTO_DISPATCH;
	case PROTO_RCV_COORDINATOR:
		return type == PROTO_HELLO || type == PROTO_HEARTBEAT || type == PROTO_PROGRESS ||
		       type == PROTO_RESULT || type == PROTO_ACK || type == PROTO_NACK;
	case PROTO_RCV_CONTROL:
		return type == PROTO_JOB || type == PROTO_REQUEST;
	case PROTO_RCV_CLI:
		return type == PROTO_REPLY;
	case PROTO_RCV_ANY:
		return true;
	}
	return false;
}

static bool
trusted(const struct proto_ctx *ctx, int type, const uint8_t *pk)
{
	/* Tools reading stored evidence may pass no trust function: then only
	 * the signature itself is checked. Every daemon passes one. */
	if (ctx->trusted == NULL)
		return ctx->receiver == PROTO_RCV_ANY;
	return ctx->trusted(ctx->trust_ctx, type, pk);
}

size_t
proto_frame_limit(enum proto_receiver r)
{
	size_t most = 0;

	for (int t = 0; t < 256; t++)
		if (proto_type_name(t) != NULL && accepts(r, t) && proto_type_max_body(t) > most)
			most = proto_type_max_body(t);
	return most + PROTO_FRAME_SLACK;
}

/* Step 10's job half, shared by the agent (DISPATCH) and the control socket (JOB). */
static enum proto_err
job_time_check(const struct proto_job *j, const struct proto_ctx *ctx, struct proto_error *err)
{
	if (ctx->now_ms > j->expires_ms + ctx->skew_ms)
		return proto_fail(err, PROTO_E_EXPIRED, "job %s expired %llu ms ago", j->job_id,
		                  (unsigned long long)(ctx->now_ms - j->expires_ms));
	if (j->created_ms > ctx->now_ms + ctx->skew_ms)
		return proto_fail(err, PROTO_E_EXPIRED, "job %s was created %llu ms in the future",
		                  j->job_id, (unsigned long long)(j->created_ms - ctx->now_ms));
	return PROTO_OK;
}

/* Steps 7-13 for a DISPATCH whose own signature and body are good. What
 * its answer may name grows as its parts are verified (proto_refs). */
static enum proto_err
dispatch_admit(struct proto_msg *m, const struct proto_ctx *ctx, struct proto_error *err)
{
	struct proto_dispatch *d = &m->u.dispatch;
	struct proto_refs *refs = ctx->refs;
	struct proto_msg *job = NULL;
	enum proto_err e;
	char kh[17], why[sizeof(err->msg)];

	/* The coordinator's signature holds: its fields may name the answer. */
	if (refs != NULL) {
		snprintf(refs->host_id, sizeof(refs->host_id), "%s", d->host_id);
		snprintf(refs->step, sizeof(refs->step), "%s", d->phase);
		memcpy(refs->nonce, d->nonce, PROTO_NONCE_LEN);
		refs->nonce_len = PROTO_NONCE_LEN;
	}
	/* 7: the operator's signature over the embedded job, before decoding it. */
	if (!trusted(ctx, PROTO_JOB, d->job_sig))
		return proto_fail(err, PROTO_E_UNKNOWN_KEY,
		                  "DISPATCH.job_sig: key %s... is not a trusted operator key",
		                  proto_hex(d->job_sig, 8, kh));
	if (proto_verify_body(PROTO_JOB, d->job_bytes, d->job_len, d->job_sig) != 0)
		return proto_fail(err, PROTO_E_BAD_SIGNATURE,
		                  "DISPATCH.job_sig: the operator's signature does not verify");
	/* 8 */
	e = proto_decode_body(PROTO_JOB, d->job_bytes, d->job_len, &job, err);
	if (e != PROTO_OK)
		return e;
	m->inner = job;
	d->job = job->u.job;
	if (refs != NULL)
		snprintf(refs->job_id, sizeof(refs->job_id), "%s", d->job.job_id);
	if (ctx->receiver == PROTO_RCV_ANY)
		return PROTO_OK;
	/* 9: the dispatch names this agent, and the operator's signed root
	 * commits to it at the claimed position (section 2). */
	if (ctx->host_id == NULL || strcmp(d->host_id, ctx->host_id) != 0)
		return proto_fail(err, PROTO_E_NOT_TARGET, "dispatch is for host %s, this is %s",
		                  d->host_id, ctx->host_id ? ctx->host_id : "(unknown)");
	if (d->proof_index >= d->job.target_count)
		return proto_fail(
		    err, PROTO_E_NOT_TARGET,
		    "target_proof: position %llu is outside the %llu targets of job %s",
		    (unsigned long long)d->proof_index, (unsigned long long)d->job.target_count,
		    d->job.job_id);
	if (!proto_merkle_verify(ctx->host_id, d->proof_index, d->job.target_count,
	                         (const uint8_t(*)[PROTO_HASH_LEN])d->proof, d->proof_len,
	                         d->job.target_root))
		return proto_fail(
		    err, PROTO_E_NOT_TARGET,
		    "target_proof does not prove host %s at position %llu of the %llu "
		    "targets of job %s",
		    ctx->host_id, (unsigned long long)d->proof_index,
		    (unsigned long long)d->job.target_count, d->job.job_id);
	/* 10 */
	if (ctx->now_ms + ctx->skew_ms < d->not_before_ms)
		return proto_fail(err, PROTO_E_EXPIRED, "dispatch not valid before %llu (now %llu)",
		                  (unsigned long long)d->not_before_ms,
		                  (unsigned long long)ctx->now_ms);
	if (ctx->now_ms > d->expires_ms + ctx->skew_ms)
		return proto_fail(err, PROTO_E_EXPIRED, "dispatch expired %llu ms ago",
		                  (unsigned long long)(ctx->now_ms - d->expires_ms));
	e = job_time_check(&d->job, ctx, err);
	if (e != PROTO_OK)
		return e;
	/* 11: the action table, then the agent's own rules (backup roots), so
	 * that every parameter refusal comes before the nonce is spent. */
	e = proto_action_check(d->job.action, d->phase, d->job.params, d->job.n_params, err);
	if (e != PROTO_OK)
		return e;
	if (ctx->params_ok != NULL && !ctx->params_ok(ctx->params_ctx, &d->job, why, sizeof(why)))
		return proto_fail(err, PROTO_E_INVALID_PARAM, "%s", why);
	/* 12: the nonce is spent from here on. */
	e = replay_check(ctx->replay, d->nonce, d->expires_ms + ctx->skew_ms, ctx->now_ms);
	if (e == PROTO_E_REPLAYED)
		return proto_fail(err, e, "dispatch nonce of job %s was seen before",
		                  d->job.job_id);
	if (e != PROTO_OK)
		return proto_fail(err, PROTO_E_INTERNAL, "cannot record the dispatch nonce");
	/* 13 */
	if (ctx->busy_job != NULL && strcmp(ctx->busy_job, d->job.job_id) != 0)
		return proto_fail(err, PROTO_E_BUSY, "busy with job %s", ctx->busy_job);
	return PROTO_OK;
}

static const char *
sender_host(const struct proto_msg *m)
{
	switch (m->type) {
	case PROTO_HELLO:
		return m->u.hello.host_id;
	case PROTO_HEARTBEAT:
		return m->u.heartbeat.host_id;
	case PROTO_PROGRESS:
		return m->u.progress.host_id;
	case PROTO_RESULT:
		return m->u.result.host_id;
	default:
		return NULL;
	}
}

enum proto_err
proto_receive(const struct proto_frame *frames, size_t nframes, const struct proto_ctx *ctx,
              struct proto_msg **out, struct proto_error *err)
{
	struct proto_msg *m = NULL;
	enum proto_err e;
	const uint8_t *h;
	int type;
	char kh[17];

	*out = NULL;
	if (ctx->refs != NULL)
		memset(ctx->refs, 0, sizeof(*ctx->refs));
	/* 1-3 */
	if (nframes == 0)
		return proto_fail(err, PROTO_E_FRAMES, "empty message");
	h = frames[0].data;
	if (frames[0].len != PROTO_HEADER_LEN || h[0] != PROTO_MAGIC0 || h[1] != PROTO_MAGIC1)
		return proto_fail(err, PROTO_E_HEADER,
		                  "header frame of %zu bytes is not 'OD' + version + type",
		                  frames[0].len);
	if (h[2] != PROTO_VERSION)
		return proto_fail(err, PROTO_E_VERSION, "protocol version %u, this peer speaks %d",
		                  h[2], PROTO_VERSION);
	type = h[3];
	if (proto_type_name(type) == NULL)
		return proto_fail(err, PROTO_E_TYPE, "unknown message type 0x%02x", type);
	if (!accepts(ctx->receiver, type))
		return proto_fail(err, PROTO_E_TYPE, "%s is not accepted here",
		                  proto_type_name(type));
	bool is_signed = proto_type_signed(type);
	/* A JOB also carries its target list (frame 3); only JOB does. */
	size_t want = type == PROTO_JOB ? 4u : is_signed ? 3u : 2u;
	if (nframes != want)
		return proto_fail(err, PROTO_E_FRAMES, "%s has %zu frames, got %zu",
		                  proto_type_name(type), want, nframes);
	if (is_signed && frames[2].len != PROTO_SIGFRAME_LEN)
		return proto_fail(err, PROTO_E_FRAMES, "signature frame of %zu bytes, not %d",
		                  frames[2].len, PROTO_SIGFRAME_LEN);
	/* 4 */
	if (frames[1].len > proto_type_max_body(type))
		return proto_fail(err, PROTO_E_TOO_BIG, "%s body of %zu bytes exceeds %zu",
		                  proto_type_name(type), frames[1].len, proto_type_max_body(type));
	if (type == PROTO_JOB && frames[3].len > PROTO_TARGETS_MAX_BYTES)
		return proto_fail(err, PROTO_E_TOO_BIG, "JOB target list of %zu bytes exceeds %d",
		                  frames[3].len, PROTO_TARGETS_MAX_BYTES);
	/* 5: on the exact received bytes, before decoding. */
	if (is_signed) {
		if (!trusted(ctx, type, frames[2].data))
			return proto_fail(err, PROTO_E_UNKNOWN_KEY,
			                  "%s signed by key %s..., which is not trusted for it",
			                  proto_type_name(type), proto_hex(frames[2].data, 8, kh));
		if (proto_verify_body(type, frames[1].data, frames[1].len, frames[2].data) != 0)
			return proto_fail(err, PROTO_E_BAD_SIGNATURE,
			                  "%s signature does not verify", proto_type_name(type));
	}
	/* 6, and for a JOB its target list, matched against the signed body. */
	if (type == PROTO_JOB)
		e = proto_decode_job(frames[1].data, frames[1].len, frames[3].data, frames[3].len,
		                     &m, err);
	else
		e = proto_decode_body(type, frames[1].data, frames[1].len, &m, err);
	if (e != PROTO_OK)
		return e;
	if (is_signed) {
		m->is_signed = true;
		memcpy(m->signer, frames[2].data, PROTO_PK_LEN);
	}
	/* The receiver's own checks. */
	if (type == PROTO_DISPATCH) {
		e = dispatch_admit(m, ctx, err);
	} else if (type == PROTO_JOB && ctx->receiver == PROTO_RCV_CONTROL) {
		e = job_time_check(&m->u.job, ctx, err);
		if (e == PROTO_OK)
			e = proto_action_check(m->u.job.action, "run", m->u.job.params,
			                       m->u.job.n_params, err);
	} else if (ctx->receiver == PROTO_RCV_COORDINATOR && sender_host(m) != NULL) {
		if (ctx->host_id == NULL || strcmp(ctx->host_id, sender_host(m)) != 0)
			e = proto_fail(err, PROTO_E_DENIED,
			               "%s claims host %s but the peer is enrolled as %s",
			               proto_type_name(type), sender_host(m),
			               ctx->host_id ? ctx->host_id : "(none)");
	}
	if (e != PROTO_OK) {
		proto_msg_free(m);
		return e;
	}
	*out = m;
	return PROTO_OK;
}
