/* Protocol micro-benchmarks: encoding and the full receive procedure for a
 * HEARTBEAT and for DISPATCHes of a rollback job (3 and 10,000 targets),
 * the JOB's target list at the control socket, and the target list's Merkle
 * tree (build, proofs, verification), against the bare Ed25519 sign and
 * verify rates measured in the same run.
 * Each figure is about one second of CLOCK_MONOTONIC time after a warm-up;
 * whatever must be prepared per iteration (fresh nonces) is done untimed. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "proto/proto.h"
#include "proto/replay.h"

#define MEASURE_S    1.0
#define WARMUP_S     0.1
#define CHUNK_MAX    (1u << 20)
#define REPLAY_SLOTS (1u << 18) /* nonces one store holds before it is renewed */
#define BIG_TARGETS  10000
#define BIG_ID_LEN   24

/* One benchmarked operation. prepare (untimed, may be NULL) readies n calls
 * of run, which is the timed part; run returns 0, or -1 when the operation
 * failed, which stops the benchmark. max_chunk bounds n (0: no bound). */
struct op {
	int (*prepare)(void *arg, size_t n);
	int (*run)(void *arg, size_t i);
	void *arg;
	size_t max_chunk;
};

struct result {
	uint64_t n;
	double seconds;
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Prepare and run n operations; the time of the runs only, or -1. */
static double
run_chunk(const struct op *op, size_t n)
{
	double t0;

	if (op->prepare != NULL && op->prepare(op->arg, n) != 0)
		return -1;
	t0 = now_s();
	for (size_t i = 0; i < n; i++)
		if (op->run(op->arg, i) != 0)
			return -1;
	return now_s() - t0;
}

/* Warm up for WARMUP_S, then run chunks sized from the rate seen so far until
 * MEASURE_S of timed work is done. Returns 0, or -1 when an operation failed. */
static int
measure(const struct op *op, struct result *r)
{
	size_t cap = op->max_chunk ? op->max_chunk : CHUNK_MAX;
	size_t chunk = 1;
	double warm = 0, t, per_op;
	uint64_t warm_n = 0;

	while (warm < WARMUP_S) {
		if ((t = run_chunk(op, chunk)) < 0)
			return -1;
		warm += t;
		warm_n += chunk;
		if (t < WARMUP_S / 8 && chunk < cap)
			chunk = chunk * 2 < cap ? chunk * 2 : cap;
	}
	per_op = warm / (double)warm_n;
	r->n = 0;
	r->seconds = 0;
	while (r->seconds < MEASURE_S) {
		double want = (MEASURE_S - r->seconds) / per_op * 1.02 + 1;
		size_t n = want < (double)cap ? (size_t)want : cap;
		if ((t = run_chunk(op, n)) < 0)
			return -1;
		r->seconds += t;
		r->n += n;
		per_op = r->seconds / (double)r->n;
	}
	return 0;
}

/* ---- identities and the trust function ---- */

struct ident {
	uint8_t pk[PROTO_PK_LEN];
	uint8_t sk[PROTO_SK_LEN];
};

static struct ident operator_id, coordinator_id;

static void
ident_make(struct ident *id, uint8_t i)
{
	uint8_t seed[32];

	memset(seed, i, sizeof(seed));
	crypto_sign_seed_keypair(id->pk, id->sk, seed);
}

static bool
trust(void *ctx, int type, const uint8_t pk[PROTO_PK_LEN])
{
	(void)ctx;
	if (type == PROTO_JOB)
		return memcmp(pk, operator_id.pk, PROTO_PK_LEN) == 0;
	if (type == PROTO_DISPATCH)
		return memcmp(pk, coordinator_id.pk, PROTO_PK_LEN) == 0;
	return false;
}

static void
die_proto(const char *what, const struct proto_error *err)
{
	fprintf(stderr, "bench_proto: %s: %s: %s\n", what, proto_err_name((int)err->code),
	        err->msg);
	exit(1);
}

/* ---- HEARTBEAT ---- */

struct hb_bench {
	struct proto_msg msg;
	struct proto_frames frames;
	struct proto_ctx ctx;
};

static struct proto_disk hb_disks[2] = {
    {"/srv/odc-backup", 412316860416ull, 1099511627776ull},
    {"/var/lib/docker", 80530636800ull, 274877906944ull},
};

static void
hb_init(struct hb_bench *b, uint64_t now)
{
	struct proto_heartbeat *h = &b->msg.u.heartbeat;
	struct proto_error err;

	memset(b, 0, sizeof(*b));
	b->msg.type = PROTO_HEARTBEAT;
	h->host_id = "odc-hz-web-017";
	memcpy(h->incarnation, "\x1c\xa7\x10\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc\xdd",
	       PROTO_INCARN_LEN);
	h->seq = 81234;
	h->sent_ms = now;
	h->has_odc = true;
	h->odc.container_id = "3f9a1c7e5b2d4a6f8e0c1b3d5f7a9c2e4b6d8f0a1c3e5b7d9f2a4c6e8b0d1f3a";
	h->odc.name = "odc-server";
	h->odc.image = "registry.example.com/odc/odc-server:4.12.3";
	h->odc.state = "running";
	h->odc.health = "healthy";
	h->odc.version = "4.12.3";
	h->has_job = true;
	h->job_id = "rb-20261123-0142";
	h->job_step = "load_image";
	h->disks = hb_disks;
	h->n_disks = 2;
	if (proto_encode(&b->msg, NULL, &b->frames, &err) != PROTO_OK)
		die_proto("HEARTBEAT", &err);
	b->ctx.receiver = PROTO_RCV_COORDINATOR;
	b->ctx.trusted = trust;
	b->ctx.host_id = h->host_id;
	b->ctx.now_ms = now;
	b->ctx.skew_ms = PROTO_SKEW_MS;
}

static int
hb_encode(void *arg, size_t i)
{
	struct hb_bench *b = arg;
	struct proto_frames f;
	struct proto_error err;

	(void)i;
	if (proto_encode(&b->msg, NULL, &f, &err) != PROTO_OK)
		return -1;
	proto_frames_free(&f);
	return 0;
}

static int
hb_receive(void *arg, size_t i)
{
	struct hb_bench *b = arg;
	struct proto_frame fr[2] = {{b->frames.header, PROTO_HEADER_LEN},
	                            {b->frames.body, b->frames.body_len}};
	struct proto_msg *m;
	struct proto_error err;

	(void)i;
	if (proto_receive(fr, 2, &b->ctx, &m, &err) != PROTO_OK)
		return -1;
	proto_msg_free(m);
	return 0;
}

/* ---- DISPATCH ---- */

struct dispatch_bench {
	struct proto_msg msg;     /* the DISPATCH; its nonce changes per prepared copy */
	struct proto_msg job_msg; /* the JOB, for re-encoding */
	struct proto_frames job;
	const char **targets;
	char *target_ids;          /* storage of the generated ids */
	struct proto_frames *pool; /* prepared dispatches, distinct nonces */
	size_t pool_cap, pool_n;
	struct replay_guard guard;
	size_t guard_used;
	struct proto_ctx ctx;
	struct proto_error err;
};

static struct proto_kv rollback_params[] = {
    {"to", "4.12.2"},
    {"backup", "/srv/odc-backup/pre-4.12.3"},
};

static const char *three_targets[] = {"odc-hz-web-017", "odc-hz-web-018", "odc-fsn-web-003"};

/* Ids of the 10,000-target job: "odc-hz-web-00000", "odc-fsn-web-00001", ... */
static void
big_ids(size_t n, const char ***ids, char **storage)
{
	*ids = calloc(n, sizeof(**ids));
	*storage = malloc(n * BIG_ID_LEN);
	if (*ids == NULL || *storage == NULL) {
		fprintf(stderr, "bench_proto: out of memory\n");
		exit(1);
	}
	for (size_t i = 0; i < n; i++) {
		char *id = *storage + i * BIG_ID_LEN;
		snprintf(id, BIG_ID_LEN, "odc-%s-web-%05zu", i % 2 ? "fsn" : "hz", i);
		(*ids)[i] = id;
	}
}

/* A rollback job for n_targets hosts, signed by the operator; the agent
 * under test is the first target, whose inclusion proof is the longest
 * (14 hashes for 10,000 targets). */
static void
dispatch_init(struct dispatch_bench *b, size_t n_targets, uint64_t now, size_t pool_cap)
{
	struct proto_msg *job = &b->job_msg;
	struct proto_job *j = &job->u.job;
	struct proto_dispatch *d = &b->msg.u.dispatch;
	struct proto_merkle *t;
	struct proto_error err;

	memset(b, 0, sizeof(*b));
	job->type = PROTO_JOB;
	j->job_id = "rb-20261123-0142";
	j->action = "rollback";
	j->params = rollback_params;
	j->n_params = 2;
	if (n_targets == 3) {
		j->targets = three_targets;
		j->policy = (struct proto_policy){1, 1, false, 0, false, 100, 1800, 14400};
	} else {
		big_ids(n_targets, &b->targets, &b->target_ids);
		j->targets = b->targets;
		j->policy = (struct proto_policy){10, 5, true, 2, true, 95, 1800, 86400};
	}
	j->n_targets = n_targets;
	j->created_ms = now - 60000;
	j->expires_ms = now + 4 * 3600000ull;
	j->operator_name = "alice@ops";
	j->reason = "INC-4711: 4.12.3 breaks SSO login; roll back to 4.12.2";
	if (proto_encode(job, operator_id.sk, &b->job, &err) != PROTO_OK)
		die_proto("JOB", &err);

	b->msg.type = PROTO_DISPATCH;
	d->job_bytes = b->job.body;
	d->job_len = b->job.body_len;
	memcpy(d->job_sig, b->job.sig, PROTO_SIGFRAME_LEN);
	d->host_id = j->targets[0];
	d->phase = "run";
	d->not_before_ms = now - 1000;
	d->expires_ms = now + 600000;
	randombytes_buf(d->nonce, PROTO_NONCE_LEN);
	t = proto_merkle_new(j->targets, n_targets);
	if (t == NULL) {
		fprintf(stderr, "bench_proto: out of memory\n");
		exit(1);
	}
	d->proof_index = 0;
	d->proof_len = proto_merkle_proof(t, 0, d->proof);
	proto_merkle_free(t);

	b->pool_cap = pool_cap;
	b->pool = calloc(pool_cap, sizeof(*b->pool));
	if (b->pool == NULL || replay_memory_open(&b->guard, REPLAY_SLOTS) != 0) {
		fprintf(stderr, "bench_proto: out of memory\n");
		exit(1);
	}
	b->ctx.receiver = PROTO_RCV_AGENT;
	b->ctx.trusted = trust;
	b->ctx.host_id = d->host_id;
	b->ctx.now_ms = now;
	b->ctx.skew_ms = PROTO_SKEW_MS;
	b->ctx.replay = &b->guard;
}

static void
dispatch_pool_clear(struct dispatch_bench *b)
{
	for (size_t i = 0; i < b->pool_n; i++)
		proto_frames_free(&b->pool[i]);
	b->pool_n = 0;
}

static void
dispatch_free(struct dispatch_bench *b)
{
	dispatch_pool_clear(b);
	free(b->pool);
	replay_close(&b->guard);
	proto_frames_free(&b->job);
	free(b->targets);
	free(b->target_ids);
}

/* Timed: encode and sign one DISPATCH (the JOB is signed already). */
static int
dispatch_encode(void *arg, size_t i)
{
	struct dispatch_bench *b = arg;
	struct proto_frames f;

	(void)i;
	if (proto_encode(&b->msg, coordinator_id.sk, &f, &b->err) != PROTO_OK)
		return -1;
	proto_frames_free(&f);
	return 0;
}

/* Timed: decoding the signed JOB body alone (an agent's step 8, without
 * crypto): the targets are a count and a root. */
static int
job_decode(void *arg, size_t i)
{
	struct dispatch_bench *b = arg;
	struct proto_msg *m;

	(void)i;
	if (proto_decode_body(PROTO_JOB, b->job.body, b->job.body_len, &m, &b->err) != PROTO_OK)
		return -1;
	proto_msg_free(m);
	return 0;
}

/* Timed: the body and its target list as the control socket reads them
 * (list rules, duplicates, the Merkle root matched), without crypto. */
static int
job_decode_with_list(void *arg, size_t i)
{
	struct dispatch_bench *b = arg;
	struct proto_msg *m;

	(void)i;
	if (proto_decode_job(b->job.body, b->job.body_len, b->job.targets, b->job.targets_len, &m,
	                     &b->err) != PROTO_OK)
		return -1;
	proto_msg_free(m);
	return 0;
}

/* Timed: what odcctl does to submit: the list checked, the root computed,
 * the body encoded, checked and signed. */
static int
job_encode(void *arg, size_t i)
{
	struct dispatch_bench *b = arg;
	struct proto_frames f;

	(void)i;
	if (proto_encode(&b->job_msg, operator_id.sk, &f, &b->err) != PROTO_OK)
		return -1;
	proto_frames_free(&f);
	return 0;
}

/* ---- the target list's Merkle tree ---- */

struct merkle_bench {
	const char **ids;
	char *storage;
	size_t n;
	struct proto_merkle *tree; /* for the proof and verify rows */
	uint8_t root[PROTO_HASH_LEN];
	uint8_t path[PROTO_PROOF_MAX][PROTO_HASH_LEN];
	size_t path_len;
};

/* Timed: the coordinator's work per job: the tree, every target's proof,
 * and (as a check) one verification. */
static int
merkle_all(void *arg, size_t i)
{
	struct merkle_bench *mb = arg;
	struct proto_merkle *t = proto_merkle_new(mb->ids, mb->n);
	uint8_t root[PROTO_HASH_LEN], path[PROTO_PROOF_MAX][PROTO_HASH_LEN];
	uint8_t kpath[PROTO_PROOF_MAX][PROTO_HASH_LEN];
	size_t len = 0, k = i % mb->n;
	int rc = 0;

	if (t == NULL)
		return -1;
	proto_merkle_root_of(t, root);
	for (size_t p = 0; p < mb->n; p++) {
		if (p == k)
			len = proto_merkle_proof(t, p, kpath);
		else
			proto_merkle_proof(t, p, path);
	}
	if (!proto_merkle_verify(mb->ids[k], k, mb->n, (const uint8_t(*)[PROTO_HASH_LEN])kpath, len,
	                         root))
		rc = -1;
	proto_merkle_free(t);
	return rc;
}

static int
merkle_build(void *arg, size_t i)
{
	struct merkle_bench *mb = arg;
	struct proto_merkle *t = proto_merkle_new(mb->ids, mb->n);

	(void)i;
	if (t == NULL)
		return -1;
	proto_merkle_free(t);
	return 0;
}

static int
merkle_proof(void *arg, size_t i)
{
	struct merkle_bench *mb = arg;

	return proto_merkle_proof(mb->tree, i % mb->n, mb->path) > 0 ? 0 : -1;
}

/* Timed: the agent's step 9 for the deepest position (14 hashes). */
static int
merkle_verify(void *arg, size_t i)
{
	struct merkle_bench *mb = arg;

	(void)i;
	return proto_merkle_verify(mb->ids[0], 0, mb->n, (const uint8_t(*)[PROTO_HASH_LEN])mb->path,
	                           mb->path_len, mb->root)
	           ? 0
	           : -1;
}

static void
merkle_init(struct merkle_bench *mb, size_t n)
{
	memset(mb, 0, sizeof(*mb));
	mb->n = n;
	big_ids(n, &mb->ids, &mb->storage);
	mb->tree = proto_merkle_new(mb->ids, n);
	if (mb->tree == NULL) {
		fprintf(stderr, "bench_proto: out of memory\n");
		exit(1);
	}
	proto_merkle_root_of(mb->tree, mb->root);
}

static void
merkle_free(struct merkle_bench *mb)
{
	proto_merkle_free(mb->tree);
	free(mb->ids);
	free(mb->storage);
}

/* Untimed: n dispatches, each with a fresh random nonce, and room for their
 * nonces in the replay store. */
static int
dispatch_prepare(void *arg, size_t n)
{
	struct dispatch_bench *b = arg;

	if (n > b->pool_cap)
		return -1;
	dispatch_pool_clear(b);
	for (size_t i = 0; i < n; i++) {
		randombytes_buf(b->msg.u.dispatch.nonce, PROTO_NONCE_LEN);
		if (proto_encode(&b->msg, coordinator_id.sk, &b->pool[i], &b->err) != PROTO_OK)
			return -1;
		b->pool_n++;
	}
	if (b->guard_used + n > REPLAY_SLOTS) {
		replay_close(&b->guard);
		if (replay_memory_open(&b->guard, REPLAY_SLOTS) != 0)
			return -1;
		b->guard_used = 0;
	}
	b->guard_used += n;
	return 0;
}

/* Timed: the agent's whole procedure (steps 1-13) for prepared dispatch i. */
static int
dispatch_receive(void *arg, size_t i)
{
	struct dispatch_bench *b = arg;
	const struct proto_frames *f = &b->pool[i];
	struct proto_frame fr[3] = {
	    {f->header, PROTO_HEADER_LEN}, {f->body, f->body_len}, {f->sig, PROTO_SIGFRAME_LEN}};
	struct proto_msg *m;

	if (proto_receive(fr, 3, &b->ctx, &m, &b->err) != PROTO_OK)
		return -1;
	proto_msg_free(m);
	return 0;
}

/* ---- bare Ed25519 ---- */

/* Verification time depends on the signature (variable-time scalar
 * multiplication), so the floor cycles over many signed messages, as the
 * receive rows do with their fresh nonces. */
#define CRYPTO_SET 256

struct crypto_bench {
	uint8_t *msgs; /* CRYPTO_SET messages of len bytes */
	size_t len, count;
	uint8_t sigs[CRYPTO_SET][crypto_sign_BYTES];
};

static int
bare_verify(void *arg, size_t i)
{
	struct crypto_bench *c = arg;
	size_t k = i % c->count;

	return crypto_sign_verify_detached(c->sigs[k], c->msgs + k * c->len, c->len,
	                                   coordinator_id.pk) == 0
	           ? 0
	           : -1;
}

static int
bare_sign(void *arg, size_t i)
{
	struct crypto_bench *c = arg;
	size_t k = i % c->count;

	return crypto_sign_detached(c->sigs[k], NULL, c->msgs + k * c->len, c->len,
	                            coordinator_id.sk);
}

static void
crypto_bench_init(struct crypto_bench *c, size_t len, size_t count)
{
	c->len = len;
	c->count = count;
	c->msgs = malloc(len * count);
	if (c->msgs == NULL) {
		fprintf(stderr, "bench_proto: out of memory\n");
		exit(1);
	}
	randombytes_buf(c->msgs, len * count);
	for (size_t k = 0; k < count; k++)
		crypto_sign_detached(c->sigs[k], NULL, c->msgs + k * len, len, coordinator_id.sk);
}

/* ---- report ---- */

static void
machine(void)
{
	char line[512], model[256] = "unknown";
	FILE *f = fopen("/proc/cpuinfo", "r");

	if (f != NULL) {
		while (fgets(line, sizeof(line), f) != NULL) {
			char *colon = strchr(line, ':');
			if (strncmp(line, "model name", 10) == 0 && colon != NULL) {
				snprintf(model, sizeof(model), "%s", colon + 2);
				model[strcspn(model, "\n")] = '\0';
				break;
			}
		}
		fclose(f);
	}
	printf("machine: %ld CPUs online, %s\n", sysconf(_SC_NPROCESSORS_ONLN), model);
	printf("libsodium %s; each figure: %.1f s measured after a %.1f s warm-up, "
	       "CLOCK_MONOTONIC\n\n",
	       sodium_version_string(), MEASURE_S, WARMUP_S);
}

static void
row(const char *name, const struct result *r, double floor_us)
{
	double us = r->seconds * 1e6 / (double)r->n;

	if (floor_us > 0)
		printf("%-52s %12.0f %11.2f %9.2fx\n", name, (double)r->n / r->seconds, us,
		       us / floor_us);
	else
		printf("%-52s %12.0f %11.2f %10s\n", name, (double)r->n / r->seconds, us, "-");
	fflush(stdout);
}

static void
must(int rc, const char *what, const struct proto_error *err)
{
	if (rc == 0)
		return;
	if (err != NULL && err->msg[0] != '\0')
		die_proto(what, err);
	fprintf(stderr, "bench_proto: %s failed\n", what);
	exit(1);
}

int
main(void)
{
	struct hb_bench hb;
	struct dispatch_bench d3, dbig;
	struct merkle_bench mk;
	struct crypto_bench c200, cbig;
	struct result r_verify, r_sign, r_vbig, r;
	char name[96];
	uint64_t now;
	double t_start = now_s(), floor_us;

	if (sodium_init() < 0) {
		fprintf(stderr, "bench_proto: sodium_init failed\n");
		return 1;
	}
	ident_make(&operator_id, 1);
	ident_make(&coordinator_id, 2);
	now = proto_now_ms();
	machine();

	hb_init(&hb, now);
	dispatch_init(&d3, 3, now, 4096);
	dispatch_init(&dbig, BIG_TARGETS, now, 64);
	crypto_bench_init(&c200, 200, CRYPTO_SET);
	crypto_bench_init(&cbig, dbig.job.body_len, 16);

	/* The crypto floor first: the receive rows are compared with it. */
	must(measure(&(struct op){NULL, bare_verify, &c200, 0}, &r_verify), "verify", NULL);
	must(measure(&(struct op){NULL, bare_sign, &c200, 0}, &r_sign), "sign", NULL);
	must(measure(&(struct op){NULL, bare_verify, &cbig, 0}, &r_vbig), "verify (big)", NULL);
	floor_us = 2 * r_verify.seconds * 1e6 / (double)r_verify.n;

	printf("%-52s %12s %12s %10s\n", "operation", "ops/s", "µs/op",
	       "x floor"); /* µ is 2 bytes */
	printf("%-52s %12s %11s %10s\n", "", "", "", "(2 verify)");
	row("Ed25519 verify, 200 B (crypto_sign_verify_detached)", &r_verify, 0);
	row("Ed25519 sign, 200 B (crypto_sign_detached)", &r_sign, 0);
	snprintf(name, sizeof(name), "Ed25519 verify, %zu B (the 10,000-target JOB body)",
	         cbig.len);
	row(name, &r_vbig, 0);

	snprintf(name, sizeof(name), "HEARTBEAT encode (%zu B body)", hb.frames.body_len);
	must(measure(&(struct op){NULL, hb_encode, &hb, 0}, &r), "HEARTBEAT encode", NULL);
	row(name, &r, 0);
	must(measure(&(struct op){NULL, hb_receive, &hb, 0}, &r), "HEARTBEAT receive", NULL);
	row("HEARTBEAT decode (full receive at the coordinator)", &r, 0);

	must(measure(&(struct op){NULL, dispatch_encode, &d3, 0}, &r), "DISPATCH encode", &d3.err);
	snprintf(name, sizeof(name), "DISPATCH 3 targets: encode + sign (%zu B job)",
	         d3.job.body_len);
	row(name, &r, 0);
	must(measure(&(struct op){dispatch_prepare, dispatch_receive, &d3, d3.pool_cap}, &r),
	     "DISPATCH receive", &d3.err);
	row("DISPATCH 3 targets: receive at the agent", &r, floor_us);

	must(measure(&(struct op){NULL, dispatch_encode, &dbig, 0}, &r), "DISPATCH (big) encode",
	     &dbig.err);
	snprintf(name, sizeof(name), "DISPATCH 10,000 targets: encode + sign (%zu B job)",
	         dbig.job.body_len);
	row(name, &r, 0);
	must(measure(&(struct op){dispatch_prepare, dispatch_receive, &dbig, dbig.pool_cap}, &r),
	     "DISPATCH (big) receive", &dbig.err);
	row("DISPATCH 10,000 targets: receive at the agent", &r, floor_us);
	must(measure(&(struct op){NULL, job_decode, &dbig, 0}, &r), "JOB (big) decode", &dbig.err);
	row("  of which: JOB 10,000 targets, body decode only", &r, 0);

	snprintf(name, sizeof(name), "JOB 10,000 targets: encode + sign (%zu B list)",
	         dbig.job.targets_len);
	must(measure(&(struct op){NULL, job_encode, &dbig, 0}, &r), "JOB (big) encode", &dbig.err);
	row(name, &r, 0);
	must(measure(&(struct op){NULL, job_decode_with_list, &dbig, 0}, &r),
	     "JOB (big) decode with list", &dbig.err);
	row("JOB 10,000 targets: body + list decode, root match", &r, 0);

	merkle_init(&mk, BIG_TARGETS);
	mk.path_len = proto_merkle_proof(mk.tree, 0, mk.path);
	must(measure(&(struct op){NULL, merkle_build, &mk, 0}, &r), "Merkle build", NULL);
	row("Merkle 10,000 ids: build the tree", &r, 0);
	must(measure(&(struct op){NULL, merkle_proof, &mk, 0}, &r), "Merkle proof", NULL);
	row("Merkle 10,000 ids: one proof from the tree", &r, 0);
	mk.path_len = proto_merkle_proof(mk.tree, 0, mk.path);
	must(measure(&(struct op){NULL, merkle_verify, &mk, 0}, &r), "Merkle verify", NULL);
	snprintf(name, sizeof(name), "Merkle 10,000 ids: verify one proof (%zu hashes)",
	         mk.path_len);
	row(name, &r, 0);
	must(measure(&(struct op){NULL, merkle_all, &mk, 0}, &r), "Merkle all", NULL);
	row("Merkle 10,000 ids: tree + all 10,000 proofs + 1 verify", &r, 0);
	merkle_free(&mk);

	printf(
	    "\nreceive = proto_receive(): 2 Ed25519 verifies (DISPATCH, then its JOB), decoding "
	    "both,\n"
	    "the target proof (step 9), clock and action checks, and a replay-store insert\n"
	    "(fresh nonce each time).\n"
	    "x floor = receive time / (2 x the 200 B verify); larger messages verify slower (row "
	    "3).\n"
	    "total %.1f s\n",
	    now_s() - t_start);

	free(c200.msgs);
	free(cbig.msgs);
	proto_frames_free(&hb.frames);
	dispatch_free(&d3);
	dispatch_free(&dbig);
	return 0;
}
