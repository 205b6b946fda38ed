/* Test vectors of PROTOCOL.md section 10.
 *   vectors gen         print tests/vectors/proto-v2.json (fails if any case
 *                       does not come out as it was meant to)
 *   vectors check FILE  run every case of FILE through proto_receive() and
 *                       compare, and recompute every Merkle case (root, proofs,
 *                       verification); ends with "N passed, N failed" */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <msgpack.h>
#include <sodium.h>

#include "proto/proto.h"
#include "proto/replay.h"

#define NOW 1795400000000ull /* 2026-11-23T..., fixed so vectors are stable */

static json_t *cases;
static int gen_failures;

/* Deterministic identities: seed = 32 bytes of i. */
struct ident {
	uint8_t pk[32];
	uint8_t sk[64];
};
static struct ident operator_id, coordinator_id, agent_id, stranger_id, agent2_id;

static void
ident_make(struct ident *id, uint8_t i)
{
	uint8_t seed[32];

	memset(seed, i, sizeof(seed));
	crypto_sign_seed_keypair(id->pk, id->sk, seed);
}

static char *
hex(const uint8_t *p, size_t n)
{
	char *s = malloc(2 * n + 1);

	sodium_bin2hex(s, 2 * n + 1, p, n);
	return s;
}

static json_t *
hexj(const uint8_t *p, size_t n)
{
	char *s = hex(p, n);
	json_t *j = json_string(s);

	free(s);
	return j;
}

/* ---- frames ---- */

struct frames {
	size_t n;
	uint8_t *data[4];
	size_t len[4];
};

static void
fr_add(struct frames *f, const void *p, size_t n)
{
	f->data[f->n] = malloc(n ? n : 1);
	if (n)
		memcpy(f->data[f->n], p, n);
	f->len[f->n] = n;
	f->n++;
}

static void
fr_free(struct frames *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->data[i]);
	f->n = 0;
}

static void
fr_header(struct frames *f, int type)
{
	uint8_t h[4] = {PROTO_MAGIC0, PROTO_MAGIC1, PROTO_VERSION, (uint8_t)type};

	fr_add(f, h, 4);
}

/* ---- a small msgpack writer for hand-made (often invalid) bodies ----
 * fmt: A<n> array, M<n> map (n = decimal count in the format string),
 * s str, S (ptr,len) str, u uint64, i int64, t true, f false, n nil,
 * x (ptr,len) bin, d double, r (ptr,len) raw bytes. */
static void
mpk(msgpack_sbuffer *sb, const char *fmt, ...)
{
	msgpack_packer pk;
	va_list ap;

	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	va_start(ap, fmt);
	for (const char *p = fmt; *p; p++) {
		switch (*p) {
		case 'A':
		case 'M': {
			char *end;
			unsigned long n = strtoul(p + 1, &end, 10);
			if (*p == 'A')
				msgpack_pack_array(&pk, n);
			else
				msgpack_pack_map(&pk, n);
			p = end - 1;
			break;
		}
		case 's': {
			const char *s = va_arg(ap, const char *);
			msgpack_pack_str_with_body(&pk, s, strlen(s));
			break;
		}
		case 'S': {
			const char *s = va_arg(ap, const char *);
			size_t n = va_arg(ap, size_t);
			msgpack_pack_str_with_body(&pk, s, n);
			break;
		}
		case 'u':
			msgpack_pack_uint64(&pk, va_arg(ap, uint64_t));
			break;
		case 'i':
			msgpack_pack_int64(&pk, va_arg(ap, int64_t));
			break;
		case 't':
			msgpack_pack_true(&pk);
			break;
		case 'f':
			msgpack_pack_false(&pk);
			break;
		case 'n':
			msgpack_pack_nil(&pk);
			break;
		case 'd':
			msgpack_pack_double(&pk, va_arg(ap, double));
			break;
		case 'x': {
			const uint8_t *b = va_arg(ap, const uint8_t *);
			size_t n = va_arg(ap, size_t);
			msgpack_pack_bin_with_body(&pk, b, n);
			break;
		}
		case 'r': {
			const uint8_t *b = va_arg(ap, const uint8_t *);
			size_t n = va_arg(ap, size_t);
			msgpack_sbuffer_write(sb, (const char *)b, n);
			break;
		}
		case ' ':
			break;
		default:
			fprintf(stderr, "mpk: bad format '%c'\n", *p);
			exit(2);
		}
	}
	va_end(ap);
}

/* ---- contexts ---- */

static json_t *
trusted_default(void)
{
	return json_pack("{s:[o], s:[o], s:[o]}", "JOB", hexj(operator_id.pk, 32), "DISPATCH",
	                 hexj(coordinator_id.pk, 32), "RESULT", hexj(agent_id.pk, 32));
}

static json_t *
ctx_make(const char *receiver, const char *host)
{
	return json_pack("{s:s, s:s?, s:I, s:I, s:o, s:[], s:n}", "receiver", receiver, "host_id",
	                 host, "now_ms", (json_int_t)NOW, "skew_ms", (json_int_t)PROTO_SKEW_MS,
	                 "trusted", trusted_default(), "seen_nonces", "busy_job");
}

/* Trust callback over the context's "trusted" object. */
static bool
trust_fn(void *c, int type, const uint8_t pk[PROTO_PK_LEN])
{
	json_t *list = json_object_get(json_object_get(c, "trusted"), proto_type_name(type));
	char *h = hex(pk, PROTO_PK_LEN);
	size_t i;
	json_t *v;
	bool ok = false;

	json_array_foreach(list, i, v)
	{
		if (json_is_string(v) && strcmp(json_string_value(v), h) == 0)
			ok = true;
	}
	free(h);
	return ok;
}

static int
ctx_from_json(json_t *c, struct proto_ctx *ctx, struct replay_guard *g)
{
	const char *r = json_string_value(json_object_get(c, "receiver"));
	size_t i;
	json_t *v;

	memset(ctx, 0, sizeof(*ctx));
	if (r == NULL)
		return -1;
	if (strcmp(r, "agent") == 0)
		ctx->receiver = PROTO_RCV_AGENT;
	else if (strcmp(r, "coordinator") == 0)
		ctx->receiver = PROTO_RCV_COORDINATOR;
	else if (strcmp(r, "control") == 0)
		ctx->receiver = PROTO_RCV_CONTROL;
	else if (strcmp(r, "cli") == 0)
		ctx->receiver = PROTO_RCV_CLI;
	else
		return -1;
	ctx->trusted = trust_fn;
	ctx->trust_ctx = c;
	ctx->host_id = json_string_value(json_object_get(c, "host_id"));
	ctx->now_ms = (uint64_t)json_integer_value(json_object_get(c, "now_ms"));
	ctx->skew_ms = (uint64_t)json_integer_value(json_object_get(c, "skew_ms"));
	ctx->busy_job = json_string_value(json_object_get(c, "busy_job"));
	if (replay_memory_open(g, 1024) != 0)
		return -1;
	json_array_foreach(json_object_get(c, "seen_nonces"), i, v)
	{
		uint8_t nonce[PROTO_NONCE_LEN];
		size_t n;
		if (sodium_hex2bin(nonce, sizeof(nonce), json_string_value(v),
		                   strlen(json_string_value(v)), NULL, &n, NULL) != 0 ||
		    n != PROTO_NONCE_LEN)
			return -1;
		replay_check(g, nonce, ctx->now_ms + 86400000u, ctx->now_ms);
	}
	ctx->replay = g;
	return 0;
}

/* Run one case through the receive procedure. Returns the error code and,
 * when valid, the decoded JSON in *decoded. */
static enum proto_err
run_case(json_t *frames_hex, json_t *c, json_t **decoded, struct proto_error *err)
{
	struct proto_frame fr[8];
	uint8_t *bufs[8] = {0};
	size_t n = json_array_size(frames_hex);
	struct proto_ctx ctx;
	struct replay_guard g = {0};
	struct proto_msg *m = NULL;
	enum proto_err e = PROTO_E_INTERNAL;

	*decoded = NULL;
	if (n > 8 || ctx_from_json(c, &ctx, &g) != 0) {
		snprintf(err->msg, sizeof(err->msg), "bad case: frames or context");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const char *h = json_string_value(json_array_get(frames_hex, i));
		size_t hl = h ? strlen(h) : 0, bl;
		bufs[i] = malloc(hl / 2 + 1);
		if (h == NULL || sodium_hex2bin(bufs[i], hl / 2 + 1, h, hl, NULL, &bl, NULL) != 0) {
			snprintf(err->msg, sizeof(err->msg), "bad case: frame %zu is not hex", i);
			goto out;
		}
		fr[i].data = bufs[i];
		fr[i].len = bl;
	}
	e = proto_receive(fr, n, &ctx, &m, err);
	if (e == PROTO_OK)
		*decoded = proto_msg_to_json(m);
out:
	proto_msg_free(m);
	replay_close(&g);
	for (size_t i = 0; i < 8; i++)
		free(bufs[i]);
	return e;
}

/* ---- generation ---- */

static void
emit(const char *name, const char *type, struct frames *f, json_t *c, const char *expect)
{
	json_t *fh = json_array(), *decoded = NULL;
	struct proto_error err = {0};
	int t = proto_type_from_name(type);

	const uint8_t *signer = NULL;

	/* Section 10: the key in frame 2 where there is one. */
	if (t >= 0 && proto_type_signed(t) && f->n >= 3 && f->len[2] >= 32)
		signer = f->data[2];

	for (size_t i = 0; i < f->n; i++)
		json_array_append_new(fh, hexj(f->data[i], f->len[i]));
	enum proto_err e = run_case(fh, c, &decoded, &err);
	const char *got = proto_err_name(e);
	if ((expect == NULL && e != PROTO_OK) || (expect != NULL && strcmp(expect, got) != 0)) {
		fprintf(stderr, "gen: case %s: meant %s, got %s (%s)\n", name,
		        expect ? expect : "valid", got, err.msg);
		gen_failures++;
	}
	json_array_append_new(
	    cases, json_pack("{s:s, s:s, s:o, s:o, s:o, s:b, s:o, s:o}", "name", name, "type", type,
	                     "frames_hex", fh, "signer_public_key_hex",
	                     signer ? hexj(signer, 32) : json_null(), "context", c, "valid",
	                     e == PROTO_OK, "error", e == PROTO_OK ? json_null() : json_string(got),
	                     "decoded", decoded ? decoded : json_null()));
	fr_free(f);
}

/* Frames of an encoded message. */
static void
from_msg(struct frames *f, const struct proto_msg *m, const uint8_t *sk)
{
	struct proto_frames pf;
	struct proto_error err;

	if (proto_encode(m, sk, &pf, &err) != PROTO_OK) {
		fprintf(stderr, "gen: cannot encode %s: %s\n", proto_type_name(m->type), err.msg);
		exit(1);
	}
	fr_add(f, pf.header, 4);
	fr_add(f, pf.body, pf.body_len);
	if (pf.nframes >= 3)
		fr_add(f, pf.sig, PROTO_SIGFRAME_LEN);
	if (pf.nframes == 4)
		fr_add(f, pf.targets, pf.targets_len);
	proto_frames_free(&pf);
}

/* Frames from a hand-made body, signed as `type` by id when id != NULL. */
static void
from_body(struct frames *f, int type, msgpack_sbuffer *sb, const struct ident *id)
{
	fr_header(f, type);
	fr_add(f, sb->data, sb->size);
	if (id != NULL) {
		uint8_t sig[PROTO_SIGFRAME_LEN];
		proto_sign_body(type, (const uint8_t *)sb->data, sb->size, id->sk, sig);
		fr_add(f, sig, sizeof(sig));
	}
	msgpack_sbuffer_clear(sb);
}

static const uint8_t incarn[16] = {0x1c, 0xa7, 0x10, 0x11, 0x22, 0x33, 0x44, 0x55,
                                   0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd};
static const uint8_t nonce1[16] = {0x9e, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
                                   0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f};

static struct proto_kv rb_params[] = {{"to", "4.2.0"}, {"backup", "/var/backups/odc/pre-4.3.0"}};
static const char *targets3[] = {"h1", "h2", "h3"};
static const char *ids13[] = {"h1", "h2", "h3",  "h4",  "h5",  "h6", "h7",
                              "h8", "h9", "h10", "h11", "h12", "h13"};

static struct proto_msg
job_msg(const char *job_id, const char *action, struct proto_kv *params, size_t np,
        const char **targets, size_t nt)
{
	struct proto_msg m = {.type = PROTO_JOB};
	struct proto_job *j = &m.u.job;

	j->job_id = job_id;
	j->action = action;
	j->params = params;
	j->n_params = np;
	j->targets = targets;
	j->n_targets = nt;
	j->policy = (struct proto_policy){.canary = 1,
	                                  .batch = 50,
	                                  .batch_pct = true,
	                                  .budget = 1,
	                                  .budget_pct = false,
	                                  .quorum_pct = 100,
	                                  .step_deadline_s = 600,
	                                  .job_deadline_s = 3600};
	j->created_ms = NOW - 60000;
	j->expires_ms = NOW + 3600000;
	j->operator_name = "alice";
	j->reason = "4.3.0 breaks SQL console; back to 4.2.0";
	return m;
}

/* The signed JOB body and its signature frame. */
static void
job_signed(const struct proto_msg *jm, const struct ident *op, struct proto_frames *pf)
{
	struct proto_error err;

	if (proto_encode(jm, op->sk, pf, &err) != PROTO_OK) {
		fprintf(stderr, "gen: job: %s\n", err.msg);
		exit(1);
	}
}

static struct proto_msg
dispatch_msg(const struct proto_frames *job, const char *host, const char *phase,
             const uint8_t *nonce)
{
	struct proto_msg m = {.type = PROTO_DISPATCH};
	struct proto_dispatch *d = &m.u.dispatch;

	d->job_bytes = job->body;
	d->job_len = job->body_len;
	memcpy(d->job_sig, job->sig, PROTO_SIGFRAME_LEN);
	d->host_id = host;
	d->phase = phase;
	d->not_before_ms = NOW - 1000;
	d->expires_ms = NOW + 600000;
	memcpy(d->nonce, nonce, PROTO_NONCE_LEN);
	return m;
}

/* A proof: where a host stands in a job's target list, and its path. */
struct proof {
	uint64_t index;
	uint8_t path[PROTO_PROOF_MAX][PROTO_HASH_LEN];
	size_t len;
};

/* The coordinator's proof for host in jm's target list: PATH of its
 * position, or of position 0 when the host is not listed (what a
 * coordinator dispatching to a stranger would have to send). */
static void
proof_for(const struct proto_msg *jm, const char *host, struct proof *p)
{
	const struct proto_job *j = &jm->u.job;
	struct proto_merkle *t = proto_merkle_new(j->targets, j->n_targets);

	if (t == NULL) {
		fprintf(stderr, "gen: cannot build a Merkle tree\n");
		exit(1);
	}
	p->index = 0;
	for (size_t i = 0; i < j->n_targets; i++)
		if (strcmp(j->targets[i], host) == 0)
			p->index = i;
	p->len = proto_merkle_proof(t, (size_t)p->index, p->path);
	proto_merkle_free(t);
}

/* A whole DISPATCH from a job message, for host with proof p (or the
 * coordinator's own proof when p is NULL), signed by coord. */
static void
dispatch_frames_proof(struct frames *f, const struct proto_msg *jm, const struct ident *op,
                      const char *host, const char *phase, const struct ident *coord,
                      const struct proof *p)
{
	struct proto_frames job;
	struct proto_msg d;
	struct proof own;

	if (p == NULL) {
		proof_for(jm, host, &own);
		p = &own;
	}
	job_signed(jm, op, &job);
	d = dispatch_msg(&job, host, phase, nonce1);
	d.u.dispatch.proof_index = p->index;
	memcpy(d.u.dispatch.proof, p->path, sizeof(p->path));
	d.u.dispatch.proof_len = p->len;
	from_msg(f, &d, coord->sk);
	proto_frames_free(&job);
}

static void
dispatch_frames(struct frames *f, const struct proto_msg *jm, const struct ident *op,
                const char *host, const char *phase, const struct ident *coord)
{
	dispatch_frames_proof(f, jm, op, host, phase, coord, NULL);
}

/* ---- hand-made JOB messages: any count, root and list ---- */

static void
root_of(const char *const *ids, size_t n, uint8_t root[PROTO_HASH_LEN])
{
	if (proto_merkle_root(ids, n, root) != 0) {
		fprintf(stderr, "gen: cannot compute a Merkle root\n");
		exit(1);
	}
}

/* jm's body with the given count and root, unchecked. */
static void
mpk_job(msgpack_sbuffer *sb, const struct proto_msg *jm, uint64_t count,
        const uint8_t root[PROTO_HASH_LEN])
{
	const struct proto_job *j = &jm->u.job;
	const struct proto_policy *p = &j->policy;
	msgpack_packer pk;

	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 9);
	mpk(sb, "s s", j->job_id, j->action);
	msgpack_pack_map(&pk, j->n_params);
	for (size_t i = 0; i < j->n_params; i++)
		mpk(sb, "s s", j->params[i].key, j->params[i].value);
	mpk(sb, "A2 u x", count, root, (size_t)PROTO_HASH_LEN);
	mpk(sb, "A8 u u", p->canary, p->batch);
	mpk(sb, p->batch_pct ? "t" : "f");
	mpk(sb, "u", p->budget);
	mpk(sb, p->budget_pct ? "t" : "f");
	mpk(sb, "u u u u u s s", p->quorum_pct, p->step_deadline_s, p->job_deadline_s,
	    j->created_ms, j->expires_ms, j->operator_name, j->reason);
}

/* A msgpack array of ids: a target list frame. */
static void
mpk_ids(msgpack_sbuffer *sb, const char *const *ids, size_t n)
{
	msgpack_packer pk;

	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, n);
	for (size_t i = 0; i < n; i++)
		mpk(sb, "s", ids[i]);
}

/* A JOB message: body (signed by id) and the given list frame. */
static void
from_job_body(struct frames *f, msgpack_sbuffer *body, msgpack_sbuffer *list,
              const struct ident *id)
{
	from_body(f, PROTO_JOB, body, id);
	fr_add(f, list->data, list->size);
	msgpack_sbuffer_clear(list);
}

static json_t *
with(json_t *c, const char *key, json_t *v)
{
	json_object_set_new(c, key, v);
	return c;
}

static void
gen_valid(void)
{
	struct frames f = {0};
	struct proto_kv labels[] = {{"region", "hz"}, {"role", "odc"}};
	const char *caps[] = {"ping", "status", "rollback", "undo"};
	struct proto_disk disks[] = {
	    {"/var/backups/odc", 53687091200ull, 107374182400ull},
	    {"/var/lib/odc-fleet/snapshots", 1073741824ull, 10737418240ull}};
	struct proto_kv data[] = {{"renamed_container", "obodc-rolledback-20261123T194500Z"},
	                          {"odc_version", "4.2.0"}};
	struct proto_msg m;

	m = (struct proto_msg){.type = PROTO_HELLO};
	m.u.hello = (struct proto_hello){"h1", "0.1.0", {0}, labels, 2, caps, 4, NOW};
	memcpy(m.u.hello.incarnation, incarn, 16);
	from_msg(&f, &m, NULL);
	emit("hello_valid", "HELLO", &f, ctx_make("coordinator", "h1"), NULL);

	m = (struct proto_msg){.type = PROTO_WELCOME};
	m.u.welcome = (struct proto_welcome){"coord-1", 5000, 3, NOW};
	from_msg(&f, &m, NULL);
	emit("welcome_valid", "WELCOME", &f, ctx_make("agent", "h1"), NULL);

	m = (struct proto_msg){.type = PROTO_HEARTBEAT};
	struct proto_heartbeat *hb = &m.u.heartbeat;
	hb->host_id = "h1";
	memcpy(hb->incarnation, incarn, 16);
	hb->seq = 42;
	hb->sent_ms = NOW;
	hb->has_odc = true;
	hb->odc = (struct proto_container){"8bfecbc1cd03", "obodc",   "oceanbase/odc-server:4.3.0",
	                                   "running",      "healthy", "4.3.0"};
	hb->has_job = true;
	hb->job_id = "job-20261123-01";
	hb->job_step = "restore";
	hb->disks = disks;
	hb->n_disks = 2;
	hb->has_metadb = true;
	hb->metadb = (struct proto_metadb){"10.0.0.7", 2881, "odc_meta", "obcluster", "odc_metadb"};
	from_msg(&f, &m, NULL);
	emit("heartbeat_valid_busy", "HEARTBEAT", &f, ctx_make("coordinator", "h1"), NULL);

	m = (struct proto_msg){.type = PROTO_HEARTBEAT};
	m.u.heartbeat.host_id = "h1";
	memcpy(m.u.heartbeat.incarnation, incarn, 16);
	from_msg(&f, &m, NULL);
	emit("heartbeat_valid_idle_engine_down", "HEARTBEAT", &f, ctx_make("coordinator", "h1"),
	     NULL);

	m = (struct proto_msg){.type = PROTO_PROGRESS};
	m.u.progress = (struct proto_progress){
	    "job-20261123-01", "h1", "restore", "running", NOW, 55, "obloader: 14 of 37 tables"};
	from_msg(&f, &m, NULL);
	emit("progress_valid", "PROGRESS", &f, ctx_make("coordinator", "h1"), NULL);

	m = (struct proto_msg){.type = PROTO_RESULT};
	m.u.result = (struct proto_result){"job-20261123-01",
	                                   "h1",
	                                   "stop",
	                                   "ok",
	                                   0,
	                                   NOW - 5000,
	                                   4200,
	                                   "stopped obodc and renamed it",
	                                   "",
	                                   data,
	                                   2,
	                                   false,
	                                   {0}};
	memcpy(m.u.result.incarnation, incarn, 16);
	from_msg(&f, &m, agent_id.sk);
	emit("result_valid", "RESULT", &f, ctx_make("coordinator", "h1"), NULL);

	m = (struct proto_msg){.type = PROTO_RESULT};
	m.u.result = (struct proto_result){
	    "job-20261123-01",
	    "h1",
	    "health",
	    "failed",
	    -9,
	    NOW - 300000,
	    300000,
	    "ODC did not become healthy within 300 s",
	    "Software degrade is not allowed, please check your version\nline two \xe2\x9c\x93",
	    NULL,
	    0,
	    true,
	    {0}};
	memcpy(m.u.result.incarnation, incarn, 16);
	from_msg(&f, &m, agent_id.sk);
	emit("result_valid_final_failed_utf8", "RESULT", &f, ctx_make("coordinator", "h1"), NULL);

	m = (struct proto_msg){.type = PROTO_ACK};
	m.u.ack = (struct proto_ack){PROTO_DISPATCH, "job-20261123-01", "h1", "", {0}, 16, 0, NULL};
	memcpy(m.u.ack.nonce, nonce1, 16);
	from_msg(&f, &m, NULL);
	emit("ack_dispatch_valid", "ACK", &f, ctx_make("coordinator", "h1"), NULL);

	m = (struct proto_msg){.type = PROTO_ACK};
	m.u.ack =
	    (struct proto_ack){PROTO_RESULT, "job-20261123-01", "h1", "stop", {0}, 0, 0, NULL};
	from_msg(&f, &m, NULL);
	emit("ack_result_valid", "ACK", &f, ctx_make("agent", "h1"), NULL);

	m = (struct proto_msg){.type = PROTO_NACK};
	m.u.ack = (struct proto_ack){PROTO_DISPATCH,
	                             "job-20261123-02",
	                             "h1",
	                             "",
	                             {0},
	                             16,
	                             PROTO_E_BUSY,
	                             "busy with job job-20261123-01"};
	memcpy(m.u.ack.nonce, nonce1, 16);
	from_msg(&f, &m, NULL);
	emit("nack_busy_valid", "NACK", &f, ctx_make("coordinator", "h1"), NULL);

	m = (struct proto_msg){.type = PROTO_NACK};
	m.u.ack = (struct proto_ack){PROTO_RESULT,       "", "", "", {0}, 0, PROTO_E_INTERNAL,
	                             "store unavailable"};
	from_msg(&f, &m, NULL);
	emit("nack_internal_valid", "NACK", &f, ctx_make("agent", "h1"), NULL);

	struct proto_msg jm = job_msg("job-20261123-01", "rollback", rb_params, 2, targets3, 3);
	from_msg(&f, &jm, operator_id.sk);
	emit("job_valid", "JOB", &f, ctx_make("control", NULL), NULL);

	dispatch_frames(&f, &jm, &operator_id, "h1", "run", &coordinator_id);
	emit("dispatch_valid_run", "DISPATCH", &f, ctx_make("agent", "h1"), NULL);

	dispatch_frames(&f, &jm, &operator_id, "h1", "preflight", &coordinator_id);
	emit("dispatch_valid_preflight", "DISPATCH", &f, ctx_make("agent", "h1"), NULL);

	dispatch_frames(&f, &jm, &operator_id, "h1", "run", &coordinator_id);
	emit("dispatch_valid_same_job_while_busy", "DISPATCH", &f,
	     with(ctx_make("agent", "h1"), "busy_job", json_string("job-20261123-01")), NULL);

	struct proto_msg pm = job_msg("job-ping-1", "ping", NULL, 0, targets3, 3);
	dispatch_frames(&f, &pm, &operator_id, "h2", "run", &coordinator_id);
	emit("dispatch_valid_ping_within_skew", "DISPATCH", &f,
	     with(ctx_make("agent", "h2"), "now_ms",
	          json_integer((json_int_t)(NOW + 600000 + 29000))),
	     NULL);

	/* One target: the root is its leaf and every proof is empty. */
	struct proto_msg one = job_msg("job-one", "ping", NULL, 0, ids13, 1);
	from_msg(&f, &one, operator_id.sk);
	emit("job_valid_one_target", "JOB", &f, ctx_make("control", NULL), NULL);
	dispatch_frames(&f, &one, &operator_id, "h1", "run", &coordinator_id);
	emit("dispatch_valid_one_target_empty_proof", "DISPATCH", &f, ctx_make("agent", "h1"),
	     NULL);
	/* The last of 7 (a node promoted twice) and position 10 of 13. */
	struct proto_msg seven = job_msg("job-seven", "ping", NULL, 0, ids13, 7);
	dispatch_frames(&f, &seven, &operator_id, "h7", "run", &coordinator_id);
	emit("dispatch_valid_last_of_7_targets", "DISPATCH", &f, ctx_make("agent", "h7"), NULL);
	struct proto_msg thirteen = job_msg("job-thirteen", "ping", NULL, 0, ids13, 13);
	from_msg(&f, &thirteen, operator_id.sk);
	emit("job_valid_13_targets", "JOB", &f, ctx_make("control", NULL), NULL);
	dispatch_frames(&f, &thirteen, &operator_id, "h11", "run", &coordinator_id);
	emit("dispatch_valid_position_10_of_13_targets", "DISPATCH", &f, ctx_make("agent", "h11"),
	     NULL);

	m = (struct proto_msg){.type = PROTO_REQUEST};
	m.u.request.request_id = 7;
	m.u.request.command = "hosts";
	m.u.request.args = json_pack("{s:[s,s], s:s, s:b, s:i, s:n}", "host", "h1", "h2", "label",
	                             "region=hz", "all", 0, "limit", -1, "cursor");
	from_msg(&f, &m, NULL);
	json_decref(m.u.request.args);
	emit("request_valid", "REQUEST", &f, ctx_make("control", NULL), NULL);

	m = (struct proto_msg){.type = PROTO_REPLY};
	m.u.reply.request_id = 7;
	m.u.reply.message = "";
	m.u.reply.body =
	    json_pack("{s:[{s:s, s:s, s:{s:s}, s:i, s:b}]}", "hosts", "host_id", "h1", "state",
	              "online", "labels", "region", "hz", "last_beat_age_ms", 1200, "healthy", 1);
	from_msg(&f, &m, NULL);
	json_decref(m.u.reply.body);
	emit("reply_valid", "REPLY", &f, ctx_make("cli", NULL), NULL);

	m = (struct proto_msg){.type = PROTO_REPLY};
	m.u.reply.request_id = 1;
	m.u.reply.message = "";
	m.u.reply.body = json_pack("[s]", "");
	from_msg(&f, &m, NULL);
	json_decref(m.u.reply.body);
	emit("reply_valid_empty_string_body", "REPLY", &f, ctx_make("cli", NULL), NULL);

	static const int reply_codes[] = {PROTO_E_NOT_FOUND, PROTO_E_CONFLICT, PROTO_E_INTERNAL,
	                                  PROTO_E_DENIED};
	for (size_t i = 0; i < sizeof(reply_codes) / sizeof(reply_codes[0]); i++) {
		char name[64];
		m = (struct proto_msg){.type = PROTO_REPLY};
		m.u.reply.request_id = 8 + i;
		m.u.reply.code = (uint64_t)reply_codes[i];
		m.u.reply.message = "see code";
		from_msg(&f, &m, NULL);
		snprintf(name, sizeof(name), "reply_error_%s_valid",
		         proto_err_name(reply_codes[i]));
		for (char *p = name; *p; p++)
			*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
		emit(name, "REPLY", &f, ctx_make("cli", NULL), NULL);
	}
}

static void
gen_invalid(void)
{
	struct frames f = {0};
	msgpack_sbuffer sb;
	struct proto_msg jm = job_msg("job-20261123-01", "rollback", rb_params, 2, targets3, 3);
	static const uint8_t zero16[16];

	msgpack_sbuffer_init(&sb);

	/* A valid idle heartbeat body, reused below. */
#define HB_IDLE(sb)                                                                                \
	mpk(sb, "A8 s x u u n n A0 n", "h1", incarn, (size_t)16, (uint64_t)1, (uint64_t)NOW)

	/* FRAMES */
	fr_header(&f, PROTO_HEARTBEAT);
	emit("frames_heartbeat_header_only", "HEARTBEAT", &f, ctx_make("coordinator", "h1"),
	     "FRAMES");
	HB_IDLE(&sb);
	from_body(&f, PROTO_HEARTBEAT, &sb, &agent_id);
	emit("frames_heartbeat_with_signature_frame", "HEARTBEAT", &f,
	     ctx_make("coordinator", "h1"), "FRAMES");
	{
		struct frames g = {0};
		from_msg(&g, &jm, operator_id.sk);
		fr_add(&f, g.data[0], g.len[0]);
		fr_add(&f, g.data[1], g.len[1]);
		fr_add(&f, g.data[2], 95);
		fr_add(&f, g.data[3], g.len[3]);
		emit("frames_job_short_signature", "JOB", &f, ctx_make("control", NULL), "FRAMES");
		/* The JOB of before the target commitment: no list frame. */
		for (size_t i = 0; i < 3; i++)
			fr_add(&f, g.data[i], g.len[i]);
		emit("frames_job_without_target_list", "JOB", &f, ctx_make("control", NULL),
		     "FRAMES");
		/* Only JOB has a fourth frame. */
		struct frames d = {0};
		dispatch_frames(&d, &jm, &operator_id, "h1", "run", &coordinator_id);
		for (size_t i = 0; i < 3; i++)
			fr_add(&f, d.data[i], d.len[i]);
		fr_add(&f, g.data[3], g.len[3]);
		emit("frames_dispatch_with_target_list", "DISPATCH", &f, ctx_make("agent", "h1"),
		     "FRAMES");
		fr_free(&d);
		fr_free(&g);
	}
	emit("frames_empty_message", "HEARTBEAT", &f, ctx_make("coordinator", "h1"), "FRAMES");

	/* HEADER, VERSION, TYPE */
	{
		uint8_t h3[3] = {PROTO_MAGIC0, PROTO_MAGIC1, PROTO_VERSION};
		uint8_t hx[4] = {'O', 'X', PROTO_VERSION, PROTO_HEARTBEAT};
		uint8_t hv[4] = {PROTO_MAGIC0, PROTO_MAGIC1, PROTO_VERSION + 1, PROTO_HEARTBEAT};
		uint8_t h1[4] = {PROTO_MAGIC0, PROTO_MAGIC1, 1, PROTO_HEARTBEAT};
		uint8_t ht[4] = {PROTO_MAGIC0, PROTO_MAGIC1, PROTO_VERSION, 0x7f};
		fr_add(&f, h3, 3);
		HB_IDLE(&sb);
		fr_add(&f, sb.data, sb.size);
		emit("header_three_bytes", "HEARTBEAT", &f, ctx_make("coordinator", "h1"),
		     "HEADER");
		fr_add(&f, hx, 4);
		fr_add(&f, sb.data, sb.size);
		emit("header_bad_magic", "HEARTBEAT", &f, ctx_make("coordinator", "h1"), "HEADER");
		fr_add(&f, hv, 4);
		fr_add(&f, sb.data, sb.size);
		emit("version_3", "HEARTBEAT", &f, ctx_make("coordinator", "h1"), "VERSION");
		fr_add(&f, h1, 4);
		fr_add(&f, sb.data, sb.size);
		emit("version_1_the_previous", "HEARTBEAT", &f, ctx_make("coordinator", "h1"),
		     "VERSION");
		fr_add(&f, ht, 4);
		fr_add(&f, sb.data, sb.size);
		emit("type_unknown_0x7f", "HEARTBEAT", &f, ctx_make("coordinator", "h1"), "TYPE");
		msgpack_sbuffer_clear(&sb);
	}
	dispatch_frames(&f, &jm, &operator_id, "h1", "run", &coordinator_id);
	emit("type_dispatch_sent_to_coordinator", "DISPATCH", &f, ctx_make("coordinator", "h1"),
	     "TYPE");
	from_msg(&f, &jm, operator_id.sk);
	emit("type_job_sent_to_agent", "JOB", &f, ctx_make("agent", "h1"), "TYPE");

	/* TOO_BIG: one byte over HEARTBEAT's 8192, checked before decoding. */
	{
		uint8_t *big = calloc(1, 8193);
		fr_header(&f, PROTO_HEARTBEAT);
		fr_add(&f, big, 8193);
		free(big);
		emit("too_big_heartbeat_8193", "HEARTBEAT", &f, ctx_make("coordinator", "h1"),
		     "TOO_BIG");
		/* A target list over its 1048576 bytes is a case of the Python
		 * generator (gen_cases.py), checked by `vectors check`: a 1 MiB
		 * frame does not belong in the checked-in file. */
	}

	/* MALFORMED */
	{
		uint8_t c1[] = {0xc1};
		fr_header(&f, PROTO_HEARTBEAT);
		fr_add(&f, c1, 1);
		emit("malformed_reserved_byte_c1", "HEARTBEAT", &f, ctx_make("coordinator", "h1"),
		     "MALFORMED");
		HB_IDLE(&sb);
		fr_header(&f, PROTO_HEARTBEAT);
		fr_add(&f, sb.data, sb.size - 3);
		msgpack_sbuffer_clear(&sb);
		emit("malformed_truncated", "HEARTBEAT", &f, ctx_make("coordinator", "h1"),
		     "MALFORMED");
		fr_header(&f, PROTO_HEARTBEAT);
		fr_add(&f, NULL, 0);
		emit("malformed_empty_body", "HEARTBEAT", &f, ctx_make("coordinator", "h1"),
		     "MALFORMED");
	}

	/* TRAILING */
	HB_IDLE(&sb);
	mpk(&sb, "n");
	from_body(&f, PROTO_HEARTBEAT, &sb, NULL);
	emit("trailing_byte_after_heartbeat", "HEARTBEAT", &f, ctx_make("coordinator", "h1"),
	     "TRAILING");

	/* DEPTH: a REPLY body nested 7 deep (the REPLY array is depth 1). */
	mpk(&sb, "A4 u u s A1 A1 A1 A1 A1 A1 n", (uint64_t)1, (uint64_t)0, "");
	from_body(&f, PROTO_REPLY, &sb, NULL);
	emit("depth_reply_body_7_deep", "REPLY", &f, ctx_make("cli", NULL), "DEPTH");

	/* LIMIT */
	{
		uint8_t str32[] = {0xdb, 0xff, 0xff, 0xff, 0xff};
		mpk(&sb, "A1 r", str32, sizeof(str32));
		from_body(&f, PROTO_HEARTBEAT, &sb, NULL);
		emit("limit_str32_claims_4gib", "HEARTBEAT", &f, ctx_make("coordinator", "h1"),
		     "LIMIT");
		uint8_t arr32[] = {0xdd, 0x7f, 0xff, 0xff, 0xff};
		mpk(&sb, "r", arr32, sizeof(arr32));
		from_body(&f, PROTO_HEARTBEAT, &sb, NULL);
		emit("limit_array32_claims_2g_elements", "HEARTBEAT", &f,
		     ctx_make("coordinator", "h1"), "LIMIT");
		char id65[66];
		memset(id65, 'a', 65);
		id65[65] = '\0';
		mpk(&sb, "A8 s x u u n n A0 n", id65, incarn, (size_t)16, (uint64_t)1,
		    (uint64_t)NOW);
		from_body(&f, PROTO_HEARTBEAT, &sb, NULL);
		emit("limit_host_id_65_bytes", "HEARTBEAT", &f, ctx_make("coordinator", "h1"),
		     "LIMIT");
		mpk(&sb, "A8 s x u u n n A17", "h1", incarn, (size_t)16, (uint64_t)1,
		    (uint64_t)NOW);
		for (int i = 0; i < 17; i++)
			mpk(&sb, "A3 s u u", "/d", (uint64_t)1, (uint64_t)2);
		mpk(&sb, "n");
		from_body(&f, PROTO_HEARTBEAT, &sb, NULL);
		emit("limit_17_disks", "HEARTBEAT", &f, ctx_make("coordinator", "h1"), "LIMIT");
	}

	/* SCHEMA */
	/* A version 1 heartbeat: no metadb field. */
	mpk(&sb, "A7 s x u u n n A0", "h1", incarn, (size_t)16, (uint64_t)1, (uint64_t)NOW);
	from_body(&f, PROTO_HEARTBEAT, &sb, NULL);
	emit("schema_heartbeat_7_fields", "HEARTBEAT", &f, ctx_make("coordinator", "h1"), "SCHEMA");
	mpk(&sb, "A8 s x s u n n A0 n", "h1", incarn, (size_t)16, "1", (uint64_t)NOW);
	from_body(&f, PROTO_HEARTBEAT, &sb, NULL);
	emit("schema_seq_is_str", "HEARTBEAT", &f, ctx_make("coordinator", "h1"), "SCHEMA");
	mpk(&sb, "A8 s x d u n n A0 n", "h1", incarn, (size_t)16, 1.0, (uint64_t)NOW);
	from_body(&f, PROTO_HEARTBEAT, &sb, NULL);
	emit("schema_float_seq", "HEARTBEAT", &f, ctx_make("coordinator", "h1"), "SCHEMA");
	mpk(&sb, "A8 s x i u n n A0 n", "h1", incarn, (size_t)16, (int64_t)-1, (uint64_t)NOW);
	from_body(&f, PROTO_HEARTBEAT, &sb, NULL);
	emit("schema_negative_seq", "HEARTBEAT", &f, ctx_make("coordinator", "h1"), "SCHEMA");
	{
		uint8_t fixext1[] = {0xd4, 0x01, 0x00};
		mpk(&sb, "A4 u u s r", (uint64_t)1, (uint64_t)0, "", fixext1, sizeof(fixext1));
		from_body(&f, PROTO_REPLY, &sb, NULL);
		emit("schema_ext_in_reply", "REPLY", &f, ctx_make("cli", NULL), "SCHEMA");
	}
	mpk(&sb, "M1 s s", "host_id", "h1");
	from_body(&f, PROTO_HEARTBEAT, &sb, NULL);
	emit("schema_body_is_map", "HEARTBEAT", &f, ctx_make("coordinator", "h1"), "SCHEMA");

	/* VALUE */
	mpk(&sb, "A8 s x u u A6 ssssss n A0 n", "h1", incarn, (size_t)16, (uint64_t)1,
	    (uint64_t)NOW, "", "obodc", "i", "zombie", "healthy", "");
	from_body(&f, PROTO_HEARTBEAT, &sb, NULL);
	emit("value_container_state_not_in_enum", "HEARTBEAT", &f, ctx_make("coordinator", "h1"),
	     "VALUE");
	mpk(&sb, "A8 s x u u n n A0 n", "h 1", incarn, (size_t)16, (uint64_t)1, (uint64_t)NOW);
	from_body(&f, PROTO_HEARTBEAT, &sb, NULL);
	emit("value_host_id_with_space", "HEARTBEAT", &f, ctx_make("coordinator", "h1"), "VALUE");
	mpk(&sb, "A7 s s s s u u S", "j1", "h1", "stop", "running", (uint64_t)NOW, (uint64_t)5,
	    "bad \xc3\x28 utf8", (size_t)12);
	from_body(&f, PROTO_PROGRESS, &sb, NULL);
	emit("value_invalid_utf8", "PROGRESS", &f, ctx_make("coordinator", "h1"), "VALUE");
	mpk(&sb, "A7 s s s s u u S", "j1", "h1", "stop", "running", (uint64_t)NOW, (uint64_t)5,
	    "nul\0inside", (size_t)10);
	from_body(&f, PROTO_PROGRESS, &sb, NULL);
	emit("value_nul_in_str", "PROGRESS", &f, ctx_make("coordinator", "h1"), "VALUE");
	mpk(&sb, "A8 s x u u n n A0 n", "h1", zero16, (size_t)15, (uint64_t)1, (uint64_t)NOW);
	from_body(&f, PROTO_HEARTBEAT, &sb, NULL);
	emit("value_incarnation_15_bytes", "HEARTBEAT", &f, ctx_make("coordinator", "h1"), "VALUE");
	mpk(&sb, "A7 u s s s x u s", (uint64_t)PROTO_DISPATCH, "j1", "h1", "", nonce1, (size_t)16,
	    (uint64_t)0, "");
	from_body(&f, PROTO_NACK, &sb, NULL);
	emit("value_nack_code_zero", "NACK", &f, ctx_make("agent", "h1"), "VALUE");
	{
		/* Hand-made JOB messages: the encoder refuses all of these. */
		msgpack_sbuffer lb;
		uint8_t root[PROTO_HASH_LEN];
		const char *dup[] = {"h1", "h2", "h1"};
		const char *swapped[] = {"h2", "h1", "h3"};
		const char *spaced[] = {"h1", "h 2", "h3"};
		struct proto_msg bad = jm;

		msgpack_sbuffer_init(&lb);
		/* The operator signed a list with a duplicate: the body is fine,
		 * the list is not. */
		root_of(dup, 3, root);
		mpk_job(&sb, &jm, 3, root);
		mpk_ids(&lb, dup, 3);
		from_job_body(&f, &sb, &lb, &operator_id);
		emit("value_target_list_duplicate", "JOB", &f, ctx_make("control", NULL), "VALUE");
		root_of(spaced, 3, root);
		mpk_job(&sb, &jm, 3, root);
		mpk_ids(&lb, spaced, 3);
		from_job_body(&f, &sb, &lb, &operator_id);
		emit("value_target_list_id_with_space", "JOB", &f, ctx_make("control", NULL),
		     "VALUE");
		/* A good body with a list that is not the one signed: shorter,
		 * or the same ids in another order. */
		root_of(targets3, 3, root);
		mpk_job(&sb, &jm, 3, root);
		mpk_ids(&lb, targets3, 2);
		from_job_body(&f, &sb, &lb, &operator_id);
		emit("value_target_list_count_mismatch", "JOB", &f, ctx_make("control", NULL),
		     "VALUE");
		mpk_job(&sb, &jm, 3, root);
		mpk_ids(&lb, swapped, 3);
		from_job_body(&f, &sb, &lb, &operator_id);
		emit("value_target_list_root_mismatch", "JOB", &f, ctx_make("control", NULL),
		     "VALUE");
		mpk_job(&sb, &jm, 3, root);
		mpk(&lb, "A0");
		from_job_body(&f, &sb, &lb, &operator_id);
		emit("value_target_list_empty", "JOB", &f, ctx_make("control", NULL), "VALUE");
		/* The body's own rules for field 3. */
		mpk_job(&sb, &jm, 0, root);
		mpk_ids(&lb, targets3, 3);
		from_job_body(&f, &sb, &lb, &operator_id);
		emit("value_targets_count_zero", "JOB", &f, ctx_make("control", NULL), "VALUE");
		mpk_job(&sb, &jm, 10001, root);
		mpk_ids(&lb, targets3, 3);
		from_job_body(&f, &sb, &lb, &operator_id);
		emit("value_targets_count_10001", "JOB", &f, ctx_make("control", NULL), "VALUE");
		mpk(&sb, "A9 s s M0 A2 u x", "job-r31", "ping", (uint64_t)3, root, (size_t)31);
		mpk(&sb, "A8 uutufuuu u u s s", (uint64_t)1, (uint64_t)50, (uint64_t)1,
		    (uint64_t)100, (uint64_t)600, (uint64_t)3600, (uint64_t)NOW,
		    (uint64_t)NOW + 1000, "alice", "");
		mpk_ids(&lb, targets3, 3);
		from_job_body(&f, &sb, &lb, &operator_id);
		emit("value_targets_root_31_bytes", "JOB", &f, ctx_make("control", NULL), "VALUE");

		root_of(targets3, 1, root);
		bad.u.job.created_ms = NOW;
		bad.u.job.expires_ms = NOW - 1;
		mpk_job(&sb, &bad, 1, root);
		mpk_ids(&lb, targets3, 1);
		from_job_body(&f, &sb, &lb, &operator_id);
		emit("value_job_expires_before_created", "JOB", &f, ctx_make("control", NULL),
		     "VALUE");
		bad = jm;
		bad.u.job.policy.canary = 2;
		mpk_job(&sb, &bad, 1, root);
		mpk_ids(&lb, targets3, 1);
		from_job_body(&f, &sb, &lb, &operator_id);
		emit("value_canary_exceeds_targets", "JOB", &f, ctx_make("control", NULL), "VALUE");

		/* SCHEMA: the body of before the target commitment (a list at
		 * field 3), and a list frame that is no array. */
		mpk(&sb, "A9 s s M0 A3 sss", "job-old", "ping", "h1", "h2", "h3");
		mpk(&sb, "A8 uutufuuu u u s s", (uint64_t)1, (uint64_t)50, (uint64_t)1,
		    (uint64_t)100, (uint64_t)600, (uint64_t)3600, (uint64_t)NOW,
		    (uint64_t)NOW + 1000, "alice", "");
		mpk_ids(&lb, targets3, 3);
		from_job_body(&f, &sb, &lb, &operator_id);
		emit("schema_targets_as_id_list", "JOB", &f, ctx_make("control", NULL), "SCHEMA");
		root_of(targets3, 3, root);
		mpk_job(&sb, &jm, 3, root);
		mpk(&lb, "M1 s s", "h1", "h2");
		from_job_body(&f, &sb, &lb, &operator_id);
		emit("schema_target_list_is_map", "JOB", &f, ctx_make("control", NULL), "SCHEMA");
		mpk_job(&sb, &jm, 3, root);
		mpk(&lb, "A3 s u s", "h1", (uint64_t)2, "h3");
		from_job_body(&f, &sb, &lb, &operator_id);
		emit("schema_target_list_uint_element", "JOB", &f, ctx_make("control", NULL),
		     "SCHEMA");

		/* The list is read like a body: the scan's codes. */
		mpk_job(&sb, &jm, 3, root);
		mpk_ids(&lb, targets3, 3);
		mpk(&lb, "n");
		from_job_body(&f, &sb, &lb, &operator_id);
		emit("trailing_byte_after_target_list", "JOB", &f, ctx_make("control", NULL),
		     "TRAILING");
		mpk_job(&sb, &jm, 3, root);
		mpk_ids(&lb, targets3, 3);
		lb.size -= 1;
		from_job_body(&f, &sb, &lb, &operator_id);
		emit("malformed_target_list_truncated", "JOB", &f, ctx_make("control", NULL),
		     "MALFORMED");
		/* 10,001 elements: over the list's bound before any is read. */
		mpk_job(&sb, &jm, 3, root);
		mpk(&lb, "A10001");
		for (int i = 0; i < 10001; i++)
			mpk(&lb, "n");
		from_job_body(&f, &sb, &lb, &operator_id);
		emit("limit_target_list_10001_elements", "JOB", &f, ctx_make("control", NULL),
		     "LIMIT");
		msgpack_sbuffer_destroy(&lb);
	}
	{
		/* DISPATCH bodies by hand: a path over its bound of 32 hashes, and
		 * the DISPATCH of before the target commitment (7 fields). */
		struct proto_frames job;
		uint8_t h[PROTO_HASH_LEN] = {0};
		job_signed(&jm, &operator_id, &job);
		mpk(&sb, "A8 x x s s u u x A2 u A33", job.body, job.body_len, job.sig,
		    (size_t)PROTO_SIGFRAME_LEN, "h1", "run", (uint64_t)NOW - 1000,
		    (uint64_t)NOW + 600000, nonce1, (size_t)16, (uint64_t)0);
		for (int i = 0; i < 33; i++)
			mpk(&sb, "x", h, sizeof(h));
		from_body(&f, PROTO_DISPATCH, &sb, &coordinator_id);
		emit("limit_target_proof_33_hashes", "DISPATCH", &f, ctx_make("agent", "h1"),
		     "LIMIT");
		mpk(&sb, "A7 x x s s u u x", job.body, job.body_len, job.sig,
		    (size_t)PROTO_SIGFRAME_LEN, "h1", "run", (uint64_t)NOW - 1000,
		    (uint64_t)NOW + 600000, nonce1, (size_t)16);
		from_body(&f, PROTO_DISPATCH, &sb, &coordinator_id);
		emit("schema_dispatch_without_target_proof", "DISPATCH", &f,
		     ctx_make("agent", "h1"), "SCHEMA");
		mpk(&sb, "A8 x x s s u u x A2 u A1 x", job.body, job.body_len, job.sig,
		    (size_t)PROTO_SIGFRAME_LEN, "h1", "run", (uint64_t)NOW - 1000,
		    (uint64_t)NOW + 600000, nonce1, (size_t)16, (uint64_t)0, h, (size_t)31);
		from_body(&f, PROTO_DISPATCH, &sb, &coordinator_id);
		emit("value_target_proof_hash_31_bytes", "DISPATCH", &f, ctx_make("agent", "h1"),
		     "VALUE");
		proto_frames_free(&job);
	}

	/* UNKNOWN_KEY */
	dispatch_frames(&f, &jm, &operator_id, "h1", "run", &stranger_id);
	emit("unknown_key_dispatch_by_stranger", "DISPATCH", &f, ctx_make("agent", "h1"),
	     "UNKNOWN_KEY");
	dispatch_frames(&f, &jm, &stranger_id, "h1", "run", &coordinator_id);
	emit("unknown_key_job_by_untrusted_operator", "DISPATCH", &f, ctx_make("agent", "h1"),
	     "UNKNOWN_KEY");
	dispatch_frames(&f, &jm, &coordinator_id, "h1", "run", &coordinator_id);
	emit("unknown_key_coordinator_signed_its_own_job", "DISPATCH", &f, ctx_make("agent", "h1"),
	     "UNKNOWN_KEY");
	{
		struct proto_msg r = {.type = PROTO_RESULT};
		r.u.result = (struct proto_result){
		    "job-20261123-01", "h1", "stop", "ok", 0, NOW, 1, "", "", NULL, 0, false, {0}};
		from_msg(&f, &r, agent2_id.sk);
		emit("unknown_key_result_signed_by_other_agent", "RESULT", &f,
		     ctx_make("coordinator", "h1"), "UNKNOWN_KEY");

		/* BAD_SIGNATURE: a RESULT body signed under JOB's domain. */
		struct frames g = {0};
		from_msg(&g, &r, agent_id.sk);
		uint8_t sig[PROTO_SIGFRAME_LEN];
		proto_sign_body(PROTO_JOB, g.data[1], g.len[1], agent_id.sk, sig);
		fr_add(&f, g.data[0], g.len[0]);
		fr_add(&f, g.data[1], g.len[1]);
		fr_add(&f, sig, sizeof(sig));
		emit("bad_signature_domain_separation", "RESULT", &f, ctx_make("coordinator", "h1"),
		     "BAD_SIGNATURE");
		/* One flipped bit of the body after signing. */
		g.data[1][g.len[1] - 1] ^= 0x01;
		for (size_t i = 0; i < g.n; i++)
			fr_add(&f, g.data[i], g.len[i]);
		emit("bad_signature_body_bit_flipped", "RESULT", &f, ctx_make("coordinator", "h1"),
		     "BAD_SIGNATURE");
		fr_free(&g);
	}
	{
		/* The coordinator alters the job (another target) and re-signs the
		 * dispatch: the operator's signature no longer matches. */
		struct proto_frames job;
		job_signed(&jm, &operator_id, &job);
		const char *t4[] = {"h1", "h2", "h3", "h4"};
		struct proto_msg other =
		    job_msg("job-20261123-01", "rollback", rb_params, 2, t4, 4);
		struct proto_frames job2;
		job_signed(&other, &operator_id, &job2);
		memcpy(job2.sig, job.sig, PROTO_SIGFRAME_LEN);
		struct proto_msg d = dispatch_msg(&job2, "h1", "run", nonce1);
		from_msg(&f, &d, coordinator_id.sk);
		emit("bad_signature_job_altered_by_coordinator", "DISPATCH", &f,
		     ctx_make("agent", "h1"), "BAD_SIGNATURE");
		proto_frames_free(&job);
		proto_frames_free(&job2);
	}

	/* EXPIRED */
	dispatch_frames(&f, &jm, &operator_id, "h1", "run", &coordinator_id);
	emit("expired_dispatch", "DISPATCH", &f,
	     with(ctx_make("agent", "h1"), "now_ms",
	          json_integer((json_int_t)(NOW + 600000 + 30001))),
	     "EXPIRED");
	dispatch_frames(&f, &jm, &operator_id, "h1", "run", &coordinator_id);
	emit(
	    "expired_dispatch_not_yet_valid", "DISPATCH", &f,
	    with(ctx_make("agent", "h1"), "now_ms", json_integer((json_int_t)(NOW - 1000 - 30001))),
	    "EXPIRED");
	{
		struct proto_msg old = job_msg("job-old", "ping", NULL, 0, targets3, 3);
		old.u.job.created_ms = NOW - 7200000;
		old.u.job.expires_ms = NOW - 3600000;
		dispatch_frames(&f, &old, &operator_id, "h1", "run", &coordinator_id);
		emit("expired_job_inside_fresh_dispatch", "DISPATCH", &f, ctx_make("agent", "h1"),
		     "EXPIRED");
		from_msg(&f, &old, operator_id.sk);
		emit("expired_job_at_control", "JOB", &f, ctx_make("control", NULL), "EXPIRED");
		struct proto_msg future = job_msg("job-future", "ping", NULL, 0, targets3, 3);
		future.u.job.created_ms = NOW + 3600000;
		future.u.job.expires_ms = NOW + 7200000;
		from_msg(&f, &future, operator_id.sk);
		emit("expired_job_created_in_future", "JOB", &f, ctx_make("control", NULL),
		     "EXPIRED");
	}

	/* REPLAYED */
	dispatch_frames(&f, &jm, &operator_id, "h1", "run", &coordinator_id);
	emit("replayed_nonce", "DISPATCH", &f,
	     with(ctx_make("agent", "h1"), "seen_nonces", json_pack("[o]", hexj(nonce1, 16))),
	     "REPLAYED");

	/* NOT_TARGET */
	dispatch_frames(&f, &jm, &operator_id, "h2", "run", &coordinator_id);
	emit("not_target_dispatch_for_other_host", "DISPATCH", &f, ctx_make("agent", "h1"),
	     "NOT_TARGET");
	{
		const char *t23[] = {"h2", "h3"};
		struct proto_msg j23 = job_msg("job-20261123-03", "rollback", rb_params, 2, t23, 2);
		dispatch_frames(&f, &j23, &operator_id, "h1", "run", &coordinator_id);
		emit("not_target_host_not_in_job_targets", "DISPATCH", &f, ctx_make("agent", "h1"),
		     "NOT_TARGET");
	}
	{
		/* Proofs that do not prove h1 at the claimed position of targets3. */
		struct proof good, p;
		proof_for(&jm, "h1", &good);
		p = good;
		p.path[0][0] ^= 0x01;
		dispatch_frames_proof(&f, &jm, &operator_id, "h1", "run", &coordinator_id, &p);
		emit("not_target_proof_bit_flipped", "DISPATCH", &f, ctx_make("agent", "h1"),
		     "NOT_TARGET");
		proof_for(&jm, "h2", &p);
		dispatch_frames_proof(&f, &jm, &operator_id, "h1", "run", &coordinator_id, &p);
		emit("not_target_proof_of_another_position", "DISPATCH", &f,
		     ctx_make("agent", "h1"), "NOT_TARGET");
		p = good;
		p.index = 1;
		dispatch_frames_proof(&f, &jm, &operator_id, "h1", "run", &coordinator_id, &p);
		emit("not_target_index_does_not_match_path", "DISPATCH", &f,
		     ctx_make("agent", "h1"), "NOT_TARGET");
		p = good;
		p.index = 3;
		dispatch_frames_proof(&f, &jm, &operator_id, "h1", "run", &coordinator_id, &p);
		emit("not_target_index_equals_count", "DISPATCH", &f, ctx_make("agent", "h1"),
		     "NOT_TARGET");
		p = good;
		p.len = 1;
		dispatch_frames_proof(&f, &jm, &operator_id, "h1", "run", &coordinator_id, &p);
		emit("not_target_proof_too_short", "DISPATCH", &f, ctx_make("agent", "h1"),
		     "NOT_TARGET");
		p = good;
		memcpy(p.path[2], p.path[1], PROTO_HASH_LEN);
		p.len = 3;
		dispatch_frames_proof(&f, &jm, &operator_id, "h1", "run", &coordinator_id, &p);
		emit("not_target_proof_extra_hash", "DISPATCH", &f, ctx_make("agent", "h1"),
		     "NOT_TARGET");
		/* A one-target job of h2: the empty proof proves h2 only. */
		const char *t2[] = {"h2"};
		struct proto_msg j2 = job_msg("job-h2", "ping", NULL, 0, t2, 1);
		proof_for(&j2, "h2", &p);
		dispatch_frames_proof(&f, &j2, &operator_id, "h1", "run", &coordinator_id, &p);
		emit("not_target_empty_proof_for_other_host", "DISPATCH", &f,
		     ctx_make("agent", "h1"), "NOT_TARGET");
	}

	/* UNKNOWN_ACTION, INVALID_PARAM */
	{
		struct proto_kv cmd[] = {{"cmd", "rm -rf /"}};
		struct proto_msg sh = job_msg("job-shell", "shell", cmd, 1, targets3, 3);
		dispatch_frames(&f, &sh, &operator_id, "h1", "run", &coordinator_id);
		emit("unknown_action_shell", "DISPATCH", &f, ctx_make("agent", "h1"),
		     "UNKNOWN_ACTION");
		from_msg(&f, &sh, operator_id.sk);
		emit("unknown_action_at_control", "JOB", &f, ctx_make("control", NULL),
		     "UNKNOWN_ACTION");

		struct proto_kv missing[] = {{"to", "4.2.0"}};
		struct proto_msg j1 = job_msg("job-p1", "rollback", missing, 1, targets3, 3);
		dispatch_frames(&f, &j1, &operator_id, "h1", "run", &coordinator_id);
		emit("invalid_param_missing_backup", "DISPATCH", &f, ctx_make("agent", "h1"),
		     "INVALID_PARAM");
		struct proto_kv dots[] = {{"to", "4.2.0"}, {"backup", "/var/backups/../../etc"}};
		struct proto_msg j2 = job_msg("job-p2", "rollback", dots, 2, targets3, 3);
		dispatch_frames(&f, &j2, &operator_id, "h1", "run", &coordinator_id);
		emit("invalid_param_dotdot_path", "DISPATCH", &f, ctx_make("agent", "h1"),
		     "INVALID_PARAM");
		struct proto_kv extra[] = {
		    {"to", "4.2.0"}, {"backup", "/b"}, {"image", "evil/odc:latest"}};
		struct proto_msg j3 = job_msg("job-p3", "rollback", extra, 3, targets3, 3);
		dispatch_frames(&f, &j3, &operator_id, "h1", "run", &coordinator_id);
		emit("invalid_param_unknown_parameter", "DISPATCH", &f, ctx_make("agent", "h1"),
		     "INVALID_PARAM");
		struct proto_msg j4 = job_msg("job-p4", "ping", NULL, 0, targets3, 3);
		dispatch_frames(&f, &j4, &operator_id, "h1", "preflight", &coordinator_id);
		emit("invalid_param_phase_not_allowed", "DISPATCH", &f, ctx_make("agent", "h1"),
		     "INVALID_PARAM");
		struct proto_kv lines[] = {{"lines", "010"}};
		struct proto_msg j5 = job_msg("job-p5", "logs", lines, 1, targets3, 3);
		from_msg(&f, &j5, operator_id.sk);
		emit("invalid_param_leading_zero_at_control", "JOB", &f, ctx_make("control", NULL),
		     "INVALID_PARAM");
	}

	/* BUSY */
	{
		struct proto_msg other =
		    job_msg("job-20261123-02", "rollback", rb_params, 2, targets3, 3);
		dispatch_frames(&f, &other, &operator_id, "h1", "run", &coordinator_id);
		emit("busy_other_job_running", "DISPATCH", &f,
		     with(ctx_make("agent", "h1"), "busy_job", json_string("job-20261123-01")),
		     "BUSY");
	}

	/* Which step wins when several are wrong (PROTOCOL.md section 7): the
	 * earliest. Step 6 reads every field of the DISPATCH before step 7
	 * looks inside job and job_sig. */
	{
		struct proto_frames job;
		struct proof p;
		uint8_t bad[1] = {0xc1};

		job_signed(&jm, &operator_id, &job);
		/* 5 before 6: a body that is not msgpack, with the coordinator's
		 * key and a signature made for other bytes; then signed for real. */
		fr_header(&f, PROTO_DISPATCH);
		fr_add(&f, bad, sizeof(bad));
		uint8_t sig[PROTO_SIGFRAME_LEN];
		proto_sign_body(PROTO_DISPATCH, job.body, job.body_len, coordinator_id.sk, sig);
		fr_add(&f, sig, sizeof(sig));
		emit("order_bad_signature_before_malformed", "DISPATCH", &f,
		     ctx_make("agent", "h1"), "BAD_SIGNATURE");
		mpk(&sb, "r", bad, sizeof(bad));
		from_body(&f, PROTO_DISPATCH, &sb, &coordinator_id);
		emit("order_malformed_once_the_signature_holds", "DISPATCH", &f,
		     ctx_make("agent", "h1"), "MALFORMED");

		/* 6 before 7: host_id is not an id, and job_sig does not verify. */
		proof_for(&jm, "h1", &p);
		job.sig[PROTO_PK_LEN] ^= 0x5a; /* the operator's signature, broken */
		mpk(&sb, "A8 x x s s u u x A2 u A2 x x", job.body, job.body_len, job.sig,
		    (size_t)PROTO_SIGFRAME_LEN, "-h1", "run", (uint64_t)NOW - 1000,
		    (uint64_t)NOW + 600000, nonce1, (size_t)16, p.index, p.path[0], (size_t)32,
		    p.path[1], (size_t)32);
		from_body(&f, PROTO_DISPATCH, &sb, &coordinator_id);
		emit("order_value_host_id_before_bad_job_sig", "DISPATCH", &f,
		     ctx_make("agent", "h1"), "VALUE");

		/* 7 before 9: another host's (valid) id, and job_sig does not
		 * verify; then 9 before 10: another host's, and expired. */
		struct proto_msg d = dispatch_msg(&job, "h2", "run", nonce1);
		proof_for(&jm, "h2", &p);
		d.u.dispatch.proof_index = p.index;
		memcpy(d.u.dispatch.proof, p.path, sizeof(p.path));
		d.u.dispatch.proof_len = p.len;
		from_msg(&f, &d, coordinator_id.sk);
		emit("order_bad_job_sig_before_not_target", "DISPATCH", &f, ctx_make("agent", "h1"),
		     "BAD_SIGNATURE");
		dispatch_frames(&f, &jm, &operator_id, "h2", "run", &coordinator_id);
		emit("order_not_target_before_expired", "DISPATCH", &f,
		     with(ctx_make("agent", "h1"), "now_ms",
		          json_integer((json_int_t)(NOW + 7200000))),
		     "NOT_TARGET");

		/* 11 before 12 and 13: a parameter the action does not take, a
		 * nonce seen before, another job running. */
		struct proto_kv extra[] = {{"to", "4.2.0"}, {"lines", "5"}};
		struct proto_msg bad_params =
		    job_msg("job-p-order", "start", extra, 2, targets3, 3);
		dispatch_frames(&f, &bad_params, &operator_id, "h1", "run", &coordinator_id);
		emit("order_invalid_param_before_replayed_and_busy", "DISPATCH", &f,
		     with(with(ctx_make("agent", "h1"), "seen_nonces",
		               json_pack("[o]", hexj(nonce1, 16))),
		          "busy_job", json_string("job-20261123-01")),
		     "INVALID_PARAM");
		proto_frames_free(&job);
	}

	/* DENIED: a peer enrolled as h1 speaking for h2. */
	mpk(&sb, "A8 s x u u n n A0 n", "h2", incarn, (size_t)16, (uint64_t)1, (uint64_t)NOW);
	from_body(&f, PROTO_HEARTBEAT, &sb, NULL);
	emit("denied_heartbeat_for_another_host", "HEARTBEAT", &f, ctx_make("coordinator", "h1"),
	     "DENIED");
	{
		struct proto_msg r = {.type = PROTO_RESULT};
		r.u.result = (struct proto_result){
		    "job-20261123-01", "h2", "stop", "ok", 0, NOW, 1, "", "", NULL, 0, false, {0}};
		from_msg(&f, &r, agent_id.sk);
		emit("denied_result_for_another_host", "RESULT", &f, ctx_make("coordinator", "h1"),
		     "DENIED");
	}
	msgpack_sbuffer_destroy(&sb);
#undef HB_IDLE
}

/* ---- Merkle cases (section 2's target commitment) ---- */

/* The root and every proof of ids, as section 10's hex forms; NULL when
 * the tree cannot be built. */
static json_t *
merkle_json(const char *const *ids, size_t n, json_t **proofs)
{
	struct proto_merkle *t = proto_merkle_new(ids, n);
	uint8_t root[PROTO_HASH_LEN], path[PROTO_PROOF_MAX][PROTO_HASH_LEN];

	if (t == NULL)
		return NULL;
	proto_merkle_root_of(t, root);
	*proofs = json_array();
	for (size_t i = 0; i < n; i++) {
		size_t len = proto_merkle_proof(t, i, path);
		json_t *p = json_array();
		for (size_t k = 0; k < len; k++)
			json_array_append_new(p, hexj(path[k], PROTO_HASH_LEN));
		json_array_append_new(*proofs, p);
	}
	proto_merkle_free(t);
	return hexj(root, PROTO_HASH_LEN);
}

static void
gen_merkle(void)
{
	static const size_t sizes[] = {1, 2, 3, 5, 7, 8, 13};

	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		size_t n = sizes[k];
		json_t *ids = json_array(), *proofs = NULL, *root;
		char name[32];

		for (size_t i = 0; i < n; i++)
			json_array_append_new(ids, json_string(ids13[i]));
		root = merkle_json(ids13, n, &proofs);
		if (root == NULL) {
			fprintf(stderr, "gen: cannot build a Merkle tree of %zu ids\n", n);
			exit(1);
		}
		snprintf(name, sizeof(name), "merkle_%zu_ids", n);
		json_array_append_new(cases,
		                      json_pack("{s:s, s:b, s:o, s:o, s:o}", "name", name, "merkle",
		                                1, "ids", ids, "root_hex", root, "proofs", proofs));
	}
}

/* Check a Merkle case: the root and every proof as this side computes them,
 * and every given proof verifying. Returns NULL, or why it failed. */
static const char *
check_merkle(json_t *c, char *why, size_t whylen)
{
	json_t *ids = json_object_get(c, "ids"), *proofs = json_object_get(c, "proofs");
	json_t *want_root = json_object_get(c, "root_hex"), *root = NULL, *got_proofs = NULL;
	size_t n = json_array_size(ids);
	const char **v = NULL;
	uint8_t r[PROTO_HASH_LEN], path[PROTO_PROOF_MAX][PROTO_HASH_LEN];
	const char *fail = NULL;

	if (!json_is_array(ids) || n == 0 || !json_is_string(want_root) || !json_is_array(proofs) ||
	    json_array_size(proofs) != n) {
		fail = "not a Merkle case: ids, root_hex or proofs missing or of the wrong shape";
		goto out;
	}
	v = calloc(n, sizeof(*v));
	if (v == NULL) {
		fail = "out of memory";
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		v[i] = json_string_value(json_array_get(ids, i));
		if (v[i] == NULL) {
			fail = "an id is not a string";
			goto out;
		}
	}
	root = merkle_json(v, n, &got_proofs);
	if (root == NULL) {
		fail = "cannot build the tree";
		goto out;
	}
	if (!json_equal(root, want_root)) {
		snprintf(why, whylen, "root %s, expected %s", json_string_value(root),
		         json_string_value(want_root));
		fail = why;
		goto out;
	}
	if (sodium_hex2bin(r, sizeof(r), json_string_value(want_root),
	                   strlen(json_string_value(want_root)), NULL, NULL, NULL) != 0)
		goto bad_hex;
	for (size_t i = 0; i < n; i++) {
		json_t *p = json_array_get(proofs, i), *h;
		size_t k;
		if (!json_equal(p, json_array_get(got_proofs, i))) {
			snprintf(why, whylen, "the proof of position %zu differs", i);
			fail = why;
			goto out;
		}
		if (json_array_size(p) > PROTO_PROOF_MAX)
			goto bad_hex;
		json_array_foreach(p, k, h)
		{
			size_t bl = 0;
			const char *hs = json_string_value(h);
			if (hs == NULL ||
			    sodium_hex2bin(path[k], PROTO_HASH_LEN, hs, strlen(hs), NULL, &bl,
			                   NULL) != 0 ||
			    bl != PROTO_HASH_LEN)
				goto bad_hex;
		}
		if (!proto_merkle_verify(v[i], i, n, (const uint8_t(*)[PROTO_HASH_LEN])path,
		                         json_array_size(p), r)) {
			snprintf(why, whylen, "the proof of position %zu does not verify", i);
			fail = why;
			goto out;
		}
	}
	goto out;
bad_hex:
	fail = "a hash is not 32 bytes of hex";
out:
	json_decref(root);
	json_decref(got_proofs);
	free(v);
	return fail;
}

static int
cmd_gen(void)
{
	cases = json_array();
	gen_valid();
	gen_invalid();
	gen_merkle();
	if (gen_failures > 0) {
		fprintf(stderr, "gen: %d cases did not come out as meant\n", gen_failures);
		return 1;
	}
	char *s = json_dumps(cases, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	fputs(s, stdout);
	fputc('\n', stdout);
	free(s);
	json_decref(cases);
	return 0;
}

static int
cmd_check(const char *path)
{
	json_error_t je;
	json_t *all = json_load_file(path, 0, &je);
	size_t i;
	json_t *c;
	int passed = 0, failed = 0;
	bool valid_type[256] = {false}, invalid_code[PROTO_E_MAX + 1] = {false};

	if (all == NULL || !json_is_array(all)) {
		fprintf(stderr, "%s:%d: %s\n", path, je.line, all ? "not a JSON array" : je.text);
		printf("0 passed, 1 failed\n");
		return 1;
	}
	json_array_foreach(all, i, c)
	{
		const char *name = json_string_value(json_object_get(c, "name"));
		if (json_is_true(json_object_get(c, "merkle"))) {
			char why[256];
			const char *fail = check_merkle(c, why, sizeof(why));
			if (fail == NULL) {
				passed++;
			} else {
				failed++;
				printf("FAIL %s: %s\n", name ? name : "?", fail);
			}
			continue;
		}
		const char *type = json_string_value(json_object_get(c, "type"));
		bool valid = json_is_true(json_object_get(c, "valid"));
		const char *want = json_string_value(json_object_get(c, "error"));
		json_t *decoded = NULL;
		struct proto_error err = {0};
		enum proto_err e = run_case(json_object_get(c, "frames_hex"),
		                            json_object_get(c, "context"), &decoded, &err);
		bool ok;

		if (valid)
			ok = e == PROTO_OK && json_equal(decoded, json_object_get(c, "decoded"));
		else
			ok = e != PROTO_OK && want != NULL && strcmp(want, proto_err_name(e)) == 0;
		if (ok) {
			passed++;
			if (valid && type && proto_type_from_name(type) >= 0)
				valid_type[proto_type_from_name(type)] = true;
			if (!valid)
				invalid_code[e] = true;
		} else {
			failed++;
			if (e == PROTO_OK) {
				char *got = json_dumps(decoded, JSON_COMPACT | JSON_SORT_KEYS);
				char *exp = json_dumps(json_object_get(c, "decoded"),
				                       JSON_COMPACT | JSON_SORT_KEYS);
				printf("FAIL %s: expected %s, got valid\n  decoded:  %s\n  "
				       "expected: %s\n",
				       name ? name : "?", valid ? "this decoded form" : want,
				       got ? got : "null", exp ? exp : "null");
				free(got);
				free(exp);
			} else {
				printf("FAIL %s: expected %s, got %s (%s)\n", name ? name : "?",
				       valid ? "valid" : want, proto_err_name(e), err.msg);
			}
		}
		json_decref(decoded);
	}
	/* Coverage: one valid case per type, one invalid per receive-time code. */
	static const int types[] = {PROTO_HELLO,    PROTO_WELCOME, PROTO_HEARTBEAT, PROTO_PROGRESS,
	                            PROTO_RESULT,   PROTO_ACK,     PROTO_NACK,      PROTO_JOB,
	                            PROTO_DISPATCH, PROTO_REQUEST, PROTO_REPLY};
	for (size_t k = 0; k < sizeof(types) / sizeof(types[0]); k++) {
		if (!valid_type[types[k]]) {
			printf("FAIL coverage: no passing valid %s case\n",
			       proto_type_name(types[k]));
			failed++;
		}
	}
	for (int code = PROTO_E_FRAMES; code <= PROTO_E_DENIED; code++) {
		if (!invalid_code[code]) {
			printf("FAIL coverage: no passing invalid case for %s\n",
			       proto_err_name(code));
			failed++;
		}
	}
	printf("vectors %s: %d passed, %d failed\n", path, passed, failed);
	json_decref(all);
	return failed == 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
	if (sodium_init() < 0)
		return 2;
	ident_make(&operator_id, 1);
	ident_make(&coordinator_id, 2);
	ident_make(&agent_id, 3);
	ident_make(&stranger_id, 4);
	ident_make(&agent2_id, 5);
	if (argc == 2 && strcmp(argv[1], "gen") == 0)
		return cmd_gen();
	if (argc == 3 && strcmp(argv[1], "check") == 0)
		return cmd_check(argv[2]);
	fprintf(stderr, "usage: vectors gen | vectors check FILE\n");
	return 2;
}
