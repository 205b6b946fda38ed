/* Unit tests of proto/: round trips, the order of the receive checks, the
 * bounds, the target list's Merkle tree against a direct transcription of
 * RFC 9162, the action table, and the replay guard across a restart. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <msgpack.h>
#include <sodium.h>

#include "common/replay_sqlite.h"
#include "proto/internal.h"
#include "proto/proto.h"
#include "proto/replay.h"

/* Whole C strings through the internal validator. */
#define proto_utf8_valid_for_test(s) proto_utf8_valid((s), strlen(s))

#define NOW 1795400000000ull

static uint8_t op_pk[32], op_sk[64], co_pk[32], co_sk[64], ag_pk[32], ag_sk[64];

static bool
trust(void *ctx, int type, const uint8_t pk[32])
{
	(void)ctx;
	if (type == PROTO_JOB)
		return memcmp(pk, op_pk, 32) == 0;
	if (type == PROTO_DISPATCH)
		return memcmp(pk, co_pk, 32) == 0;
	if (type == PROTO_RESULT)
		return memcmp(pk, ag_pk, 32) == 0;
	return false;
}

static int
setup_keys(void **state)
{
	uint8_t seed[32];

	(void)state;
	assert_true(sodium_init() >= 0);
	memset(seed, 1, 32);
	crypto_sign_seed_keypair(op_pk, op_sk, seed);
	memset(seed, 2, 32);
	crypto_sign_seed_keypair(co_pk, co_sk, seed);
	memset(seed, 3, 32);
	crypto_sign_seed_keypair(ag_pk, ag_sk, seed);
	return 0;
}

static void
to_frames(const struct proto_frames *pf, struct proto_frame fr[4])
{
	fr[0] = (struct proto_frame){pf->header, 4};
	fr[1] = (struct proto_frame){pf->body, pf->body_len};
	fr[2] = (struct proto_frame){pf->sig, PROTO_SIGFRAME_LEN};
	fr[3] = (struct proto_frame){pf->targets, pf->targets_len};
}

static struct proto_ctx
agent_ctx(struct replay_guard *g)
{
	struct proto_ctx c = {.receiver = PROTO_RCV_AGENT,
	                      .trusted = trust,
	                      .host_id = "h1",
	                      .now_ms = NOW,
	                      .skew_ms = PROTO_SKEW_MS,
	                      .replay = g};
	return c;
}

static const char *targets[] = {"h1", "h2"};
static struct proto_kv rb_params[] = {{"to", "4.2.0"}, {"backup", "/var/backups/odc/pre"}};

static struct proto_msg
job(const char *action, struct proto_kv *params, size_t np)
{
	struct proto_msg m = {.type = PROTO_JOB};

	m.u.job = (struct proto_job){
	    .job_id = "job-1",
	    .action = action,
	    .params = params,
	    .n_params = np,
	    .targets = targets,
	    .n_targets = 2,
	    .policy = {0, 1, false, 0, false, 100, 600, 3600},
	    .created_ms = NOW - 1000,
	    .expires_ms = NOW + 3600000,
	    .operator_name = "alice",
	    .reason = "test",
	};
	return m;
}

/* A DISPATCH of the given job for host, with the coordinator's proof of
 * the host's position (position 0 when it is not a target), and the given
 * nonce byte; with bad_job_sig, the operator's signature has a bit flipped. */
static void
make_dispatch_ex(const struct proto_msg *jm, const char *host, uint8_t nonce_byte, bool bad_job_sig,
                 struct proto_frames *out)
{
	struct proto_frames jf;
	struct proto_error err;
	struct proto_msg d = {.type = PROTO_DISPATCH};
	struct proto_merkle *t = proto_merkle_new(jm->u.job.targets, jm->u.job.n_targets);
	size_t index = 0;

	assert_non_null(t);
	for (size_t i = 0; i < jm->u.job.n_targets; i++)
		if (strcmp(jm->u.job.targets[i], host) == 0)
			index = i;
	assert_int_equal(proto_encode(jm, op_sk, &jf, &err), PROTO_OK);
	if (bad_job_sig)
		jf.sig[PROTO_PK_LEN + 5] ^= 0x01;
	d.u.dispatch.job_bytes = jf.body;
	d.u.dispatch.job_len = jf.body_len;
	memcpy(d.u.dispatch.job_sig, jf.sig, PROTO_SIGFRAME_LEN);
	d.u.dispatch.host_id = host;
	d.u.dispatch.phase = "run";
	d.u.dispatch.not_before_ms = NOW - 1000;
	d.u.dispatch.expires_ms = NOW + 60000;
	memset(d.u.dispatch.nonce, nonce_byte, PROTO_NONCE_LEN);
	d.u.dispatch.proof_index = index;
	d.u.dispatch.proof_len = proto_merkle_proof(t, index, d.u.dispatch.proof);
	assert_int_equal(proto_encode(&d, co_sk, out, &err), PROTO_OK);
	assert_int_equal(out->nframes, 3);
	proto_frames_free(&jf);
	proto_merkle_free(t);
}

static void
make_dispatch_for(const struct proto_msg *jm, const char *host, uint8_t nonce_byte,
                  struct proto_frames *out)
{
	make_dispatch_ex(jm, host, nonce_byte, false, out);
}

/* A DISPATCH of the given job for h1 with the given nonce byte. */
static void
make_dispatch(const struct proto_msg *jm, uint8_t nonce_byte, struct proto_frames *out)
{
	make_dispatch_for(jm, "h1", nonce_byte, out);
}

static enum proto_err
receive(const struct proto_frames *pf, const struct proto_ctx *c, struct proto_msg **m,
        struct proto_error *err)
{
	struct proto_frame fr[4];

	to_frames(pf, fr);
	return proto_receive(fr, (size_t)pf->nframes, c, m, err);
}

static void
test_heartbeat_round_trip(void **state)
{
	struct proto_msg m = {.type = PROTO_HEARTBEAT}, *got = NULL;
	struct proto_disk disks[] = {{"/var/backups/odc", 10, 20}};
	struct proto_frames pf;
	struct proto_error err;
	struct proto_ctx c = {.receiver = PROTO_RCV_COORDINATOR, .host_id = "h1"};

	(void)state;
	m.u.heartbeat.host_id = "h1";
	m.u.heartbeat.seq = 99;
	m.u.heartbeat.sent_ms = NOW;
	m.u.heartbeat.has_odc = true;
	m.u.heartbeat.odc = (struct proto_container){"abc",     "obodc",    "odc-server:4.3.0",
	                                             "running", "starting", "4.3.0"};
	m.u.heartbeat.disks = disks;
	m.u.heartbeat.n_disks = 1;
	assert_int_equal(proto_encode(&m, NULL, &pf, &err), PROTO_OK);
	assert_int_equal(pf.nframes, 2);
	assert_int_equal(receive(&pf, &c, &got, &err), PROTO_OK);
	assert_string_equal(got->u.heartbeat.host_id, "h1");
	assert_int_equal(got->u.heartbeat.seq, 99);
	assert_true(got->u.heartbeat.has_odc);
	assert_string_equal(got->u.heartbeat.odc.health, "starting");
	assert_false(got->u.heartbeat.has_job);
	assert_int_equal(got->u.heartbeat.n_disks, 1);
	assert_int_equal(got->u.heartbeat.disks[0].total_bytes, 20);
	proto_msg_free(got);
	proto_frames_free(&pf);
}

static void
test_result_signed_round_trip(void **state)
{
	struct proto_msg m = {.type = PROTO_RESULT}, *got = NULL;
	struct proto_kv data[] = {{"renamed_container", "obodc-rolledback-x"}};
	struct proto_frames pf;
	struct proto_error err;
	struct proto_ctx c = {.receiver = PROTO_RCV_COORDINATOR, .trusted = trust, .host_id = "h1"};

	(void)state;
	m.u.result = (struct proto_result){"job-1",   "h1", "stop", "ok", 0,     NOW, 12,
	                                   "stopped", "",   data,   1,    false, {0}};
	/* Signed types refuse to leave unsigned. */
	assert_int_equal(proto_encode(&m, NULL, &pf, &err), PROTO_E_INTERNAL);
	assert_int_equal(proto_encode(&m, ag_sk, &pf, &err), PROTO_OK);
	assert_int_equal(pf.nframes, 3);
	assert_memory_equal(pf.sig, ag_pk, 32);
	assert_int_equal(receive(&pf, &c, &got, &err), PROTO_OK);
	assert_true(got->is_signed);
	assert_memory_equal(got->signer, ag_pk, 32);
	assert_string_equal(got->u.result.data[0].value, "obodc-rolledback-x");
	proto_msg_free(got);
	proto_frames_free(&pf);
}

/* The signature is checked on the received bytes before decoding: a body
 * that is garbage but correctly signed fails decoding; the same garbage
 * with a wrong signature fails on the signature, never on the decoder. */
static void
test_signature_before_decode(void **state)
{
	uint8_t hdr[4] = {PROTO_MAGIC0, PROTO_MAGIC1, PROTO_VERSION, PROTO_JOB};
	uint8_t body[] = {0xc1, 0xc1, 0xc1};
	uint8_t sig[PROTO_SIGFRAME_LEN];
	uint8_t list[] = {0x91, 0xa2, 'h', '1'};
	struct proto_frame fr[4] = {
	    {hdr, 4}, {body, sizeof(body)}, {sig, sizeof(sig)}, {list, sizeof(list)}};
	struct proto_ctx c = {
	    .receiver = PROTO_RCV_CONTROL, .trusted = trust, .now_ms = NOW, .skew_ms = 30000};
	struct proto_msg *m = NULL;
	struct proto_error err;

	(void)state;
	assert_int_equal(proto_sign_body(PROTO_JOB, body, sizeof(body), op_sk, sig), 0);
	assert_int_equal(proto_receive(fr, 4, &c, &m, &err), PROTO_E_MALFORMED);
	sig[40] ^= 1;
	assert_int_equal(proto_receive(fr, 4, &c, &m, &err), PROTO_E_BAD_SIGNATURE);
	assert_null(m);
	/* Signed by a key that is not an operator's: refused before the signature math. */
	assert_int_equal(proto_sign_body(PROTO_JOB, body, sizeof(body), co_sk, sig), 0);
	assert_int_equal(proto_receive(fr, 4, &c, &m, &err), PROTO_E_UNKNOWN_KEY);
	assert_non_null(strstr(err.msg, "not trusted"));
}

static void
test_encoder_refuses_invalid(void **state)
{
	struct proto_msg m = {.type = PROTO_PROGRESS};
	struct proto_frames pf = {.body = NULL};
	struct proto_error err;

	(void)state;
	m.u.progress = (struct proto_progress){"job-1", "bad host", "stop", "running", NOW, 5, ""};
	assert_int_equal(proto_encode(&m, NULL, &pf, &err), PROTO_E_VALUE);
	assert_null(pf.body);
	assert_non_null(strstr(err.msg, "host_id"));
	m.u.progress.host_id = "h1";
	m.u.progress.percent = 101;
	assert_int_equal(proto_encode(&m, NULL, &pf, &err), PROTO_E_VALUE);
	assert_non_null(strstr(err.msg, "percent"));
}

static void
test_dispatch_accept_then_replay(void **state)
{
	struct proto_msg jm = job("rollback", rb_params, 2), *got = NULL;
	struct proto_frames pf;
	struct proto_error err;
	struct replay_guard g = {0};

	(void)state;
	assert_int_equal(replay_memory_open(&g, 16), 0);
	struct proto_ctx c = agent_ctx(&g);
	make_dispatch(&jm, 7, &pf);
	assert_int_equal(receive(&pf, &c, &got, &err), PROTO_OK);
	assert_string_equal(got->u.dispatch.job.action, "rollback");
	assert_string_equal(
	    proto_param(got->u.dispatch.job.params, got->u.dispatch.job.n_params, "to"), "4.2.0");
	assert_memory_equal(got->signer, co_pk, 32);
	proto_msg_free(got);
	assert_int_equal(receive(&pf, &c, &got, &err), PROTO_E_REPLAYED);
	assert_null(got);
	proto_frames_free(&pf);
	replay_close(&g);
}

/* The nonce is spent by a dispatch refused as BUSY: the coordinator must
 * send a new dispatch, and a captured copy cannot be replayed later. */
static void
test_busy_spends_nonce(void **state)
{
	struct proto_msg jm = job("ping", NULL, 0), *got = NULL;
	struct proto_frames pf;
	struct proto_error err;
	struct replay_guard g = {0};

	(void)state;
	assert_int_equal(replay_memory_open(&g, 16), 0);
	struct proto_ctx c = agent_ctx(&g);
	c.busy_job = "job-other";
	make_dispatch(&jm, 8, &pf);
	assert_int_equal(receive(&pf, &c, &got, &err), PROTO_E_BUSY);
	c.busy_job = NULL;
	assert_int_equal(receive(&pf, &c, &got, &err), PROTO_E_REPLAYED);
	proto_frames_free(&pf);
	replay_close(&g);
}

/* A restarted agent (a new process: the store is closed and reopened from
 * disk) still refuses a dispatch it accepted before. */
static void
test_replay_refused_after_restart(void **state)
{
	char dir[] = "/tmp/odc-proto-test-XXXXXX";
	char path[256], err_s[256];
	struct proto_msg jm = job("rollback", rb_params, 2), *got = NULL;
	struct proto_frames pf;
	struct proto_error err;
	struct replay_guard g = {0};

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/nonces.db", dir);
	make_dispatch(&jm, 9, &pf);

	assert_int_equal(replay_sqlite_open(&g, path, err_s, sizeof(err_s)), 0);
	struct proto_ctx c = agent_ctx(&g);
	assert_int_equal(receive(&pf, &c, &got, &err), PROTO_OK);
	proto_msg_free(got);
	replay_close(&g); /* the agent stops */

	assert_int_equal(replay_sqlite_open(&g, path, err_s, sizeof(err_s)), 0);
	c = agent_ctx(&g);
	assert_int_equal(receive(&pf, &c, &got, &err), PROTO_E_REPLAYED);
	assert_null(got);
	/* Another nonce for the same job is fine. */
	proto_frames_free(&pf);
	make_dispatch(&jm, 10, &pf);
	assert_int_equal(receive(&pf, &c, &got, &err), PROTO_OK);
	proto_msg_free(got);
	/* Once the first nonce's dispatch has long expired its row may go. */
	assert_int_equal(g.ops->purge(g.ctx, NOW + 86400000ull * 2), 0);
	replay_close(&g);
	proto_frames_free(&pf);

	char wal[300], shm[300];
	snprintf(wal, sizeof(wal), "%s-wal", path);
	snprintf(shm, sizeof(shm), "%s-shm", path);
	unlink(path);
	unlink(wal);
	unlink(shm);
	rmdir(dir);
}

static void
test_replay_memory_full_fails_closed(void **state)
{
	struct replay_guard g = {0};
	uint8_t n[16] = {0};

	(void)state;
	assert_int_equal(replay_memory_open(&g, 2), 0);
	n[0] = 1;
	assert_int_equal(replay_check(&g, n, NOW + 1000, NOW), PROTO_OK);
	n[0] = 2;
	assert_int_equal(replay_check(&g, n, NOW + 1000, NOW), PROTO_OK);
	n[0] = 3;
	assert_int_equal(replay_check(&g, n, NOW + 1000, NOW), PROTO_E_INTERNAL);
	/* After the first two expire there is room again. */
	assert_int_equal(replay_check(&g, n, NOW + 5000, NOW + 2000), PROTO_OK);
	n[0] = 1;
	assert_int_equal(replay_check(&g, n, NOW + 9000, NOW + 2000), PROTO_OK);
	n[0] = 3;
	assert_int_equal(replay_check(&g, n, NOW + 9000, NOW + 2000), PROTO_E_REPLAYED);
	replay_close(&g);
}

static void
test_dispatch_time_window(void **state)
{
	struct proto_msg jm = job("ping", NULL, 0), *got = NULL;
	struct proto_frames pf;
	struct proto_error err;
	struct replay_guard g = {0};

	(void)state;
	assert_int_equal(replay_memory_open(&g, 16), 0);
	struct proto_ctx c = agent_ctx(&g);
	make_dispatch(&jm, 11, &pf);
	c.now_ms = NOW + 60000 + PROTO_SKEW_MS + 1; /* past expiry + skew */
	assert_int_equal(receive(&pf, &c, &got, &err), PROTO_E_EXPIRED);
	c.now_ms = NOW - 1000 - PROTO_SKEW_MS - 1; /* before not_before - skew */
	assert_int_equal(receive(&pf, &c, &got, &err), PROTO_E_EXPIRED);
	c.now_ms = NOW + 60000 + PROTO_SKEW_MS; /* the last accepted instant */
	assert_int_equal(receive(&pf, &c, &got, &err), PROTO_OK);
	proto_msg_free(got);
	proto_frames_free(&pf);
	replay_close(&g);
}

static void
test_not_target(void **state)
{
	struct proto_msg jm = job("ping", NULL, 0), *got = NULL;
	struct proto_frames pf;
	struct proto_error err;
	struct replay_guard g = {0};

	(void)state;
	assert_int_equal(replay_memory_open(&g, 16), 0);
	struct proto_ctx c = agent_ctx(&g);
	c.host_id = "h3"; /* not the dispatch's host, not among the targets */
	make_dispatch(&jm, 12, &pf);
	assert_int_equal(receive(&pf, &c, &got, &err), PROTO_E_NOT_TARGET);
	assert_non_null(strstr(err.msg, "h3"));
	proto_frames_free(&pf);
	replay_close(&g);
}

/* Nesting 6 deep is allowed, 7 is not; a header claiming 4 GiB is refused
 * before anything is allocated. */
static void
test_scan_bounds(void **state)
{
	uint8_t six[] = {0x91, 0x91, 0x91, 0x91, 0x91, 0x90};
	uint8_t seven[] = {0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x90};
	uint8_t huge_str[] = {0xdb, 0xff, 0xff, 0xff, 0xff, 'x'};
	uint8_t huge_map[] = {0xdf, 0x00, 0x00, 0x27, 0x11}; /* 10001 pairs */
	uint8_t short_arr[] = {0x93, 0x01, 0x02};
	uint8_t trailing[] = {0x90, 0x90};
	uint8_t float64[] = {0xcb, 0, 0, 0, 0, 0, 0, 0, 0};
	struct proto_error err;

	(void)state;
	assert_int_equal(proto_scan(six, sizeof(six), &err), PROTO_OK);
	assert_int_equal(proto_scan(seven, sizeof(seven), &err), PROTO_E_DEPTH);
	assert_int_equal(proto_scan(huge_str, sizeof(huge_str), &err), PROTO_E_LIMIT);
	assert_int_equal(proto_scan(huge_map, sizeof(huge_map), &err), PROTO_E_LIMIT);
	assert_int_equal(proto_scan(short_arr, sizeof(short_arr), &err), PROTO_E_MALFORMED);
	assert_int_equal(proto_scan(trailing, sizeof(trailing), &err), PROTO_E_TRAILING);
	assert_int_equal(proto_scan(float64, sizeof(float64), &err), PROTO_E_SCHEMA);
	assert_int_equal(proto_scan(NULL, 0, &err), PROTO_E_MALFORMED);
}

/* A fleet-sized job: 10,000 targets fit; 10,001 do not, and the list
 * travels beside the body, which stays small. */
static void
test_job_target_bounds(void **state)
{
	const char **t = calloc(10001, sizeof(char *));
	char(*names)[16] = calloc(10001, 16);
	struct proto_msg m = job("ping", NULL, 0), *got = NULL;
	struct proto_frames pf;
	struct proto_error err;
	uint8_t root[PROTO_HASH_LEN];

	(void)state;
	for (int i = 0; i < 10001; i++) {
		snprintf(names[i], 16, "odc-%05d", i);
		t[i] = names[i];
	}
	m.u.job.targets = t;
	m.u.job.n_targets = 10000;
	assert_int_equal(proto_encode(&m, op_sk, &pf, &err), PROTO_OK);
	assert_int_equal(pf.nframes, 4);
	assert_true(pf.body_len < 512);
	assert_true(pf.targets_len > 100000 && pf.targets_len <= PROTO_TARGETS_MAX_BYTES);
	assert_int_equal(
	    proto_decode_job(pf.body, pf.body_len, pf.targets, pf.targets_len, &got, &err),
	    PROTO_OK);
	assert_int_equal(got->u.job.target_count, 10000);
	assert_int_equal(got->u.job.n_targets, 10000);
	assert_string_equal(got->u.job.targets[9999], "odc-09999");
	assert_int_equal(proto_merkle_root(t, 10000, root), 0);
	assert_memory_equal(got->u.job.target_root, root, PROTO_HASH_LEN);
	proto_msg_free(got);
	/* The body alone (a DISPATCH's job): count and root, no list. */
	assert_int_equal(proto_decode_body(PROTO_JOB, pf.body, pf.body_len, &got, &err), PROTO_OK);
	assert_int_equal(got->u.job.target_count, 10000);
	assert_null(got->u.job.targets);
	assert_int_equal(got->u.job.n_targets, 0);
	proto_msg_free(got);
	proto_frames_free(&pf);
	m.u.job.n_targets = 10001;
	assert_int_equal(proto_encode(&m, op_sk, &pf, &err), PROTO_E_LIMIT);
	assert_non_null(strstr(err.msg, "target_list"));
	m.u.job.n_targets = 0;
	assert_int_equal(proto_encode(&m, op_sk, &pf, &err), PROTO_E_VALUE);
	free(t);
	free(names);
}

static void
test_action_table(void **state)
{
	struct proto_error err;
	struct proto_kv ok[] = {
	    {"to", "4.2.0"}, {"backup", "/var/backups/odc/pre-4.3.0"}, {"dry_run", "true"}};
	struct proto_kv lines[] = {{"lines", "10000"}};
	struct proto_kv lines_bad[] = {{"lines", "10001"}};

	(void)state;
	assert_int_equal(proto_action_check("rollback", "run", ok, 3, &err), PROTO_OK);
	assert_int_equal(proto_action_check("rollback", "preflight", ok, 2, &err), PROTO_OK);
	assert_int_equal(proto_action_check("rollback", "run", ok, 1, &err), PROTO_E_INVALID_PARAM);
	assert_non_null(strstr(err.msg, "backup"));
	assert_int_equal(proto_action_check("rollback", "undo", ok, 2, &err),
	                 PROTO_E_INVALID_PARAM);
	assert_int_equal(proto_action_check("exec", "run", NULL, 0, &err), PROTO_E_UNKNOWN_ACTION);
	assert_int_equal(proto_action_check("logs", "run", lines, 1, &err), PROTO_OK);
	assert_int_equal(proto_action_check("logs", "run", lines_bad, 1, &err),
	                 PROTO_E_INVALID_PARAM);
	assert_int_equal(proto_action_check("ping", "run", lines, 1, &err), PROTO_E_INVALID_PARAM);
	/* prune: run only, dry_run its one parameter. */
	assert_int_equal(proto_action_check("prune", "run", NULL, 0, &err), PROTO_OK);
	assert_int_equal(proto_action_check("prune", "run", &ok[2], 1, &err), PROTO_OK);
	assert_int_equal(proto_action_check("prune", "run", ok, 1, &err), PROTO_E_INVALID_PARAM);
	assert_int_equal(proto_action_check("prune", "preflight", NULL, 0, &err),
	                 PROTO_E_INVALID_PARAM);
	assert_true(proto_action_step("prune", "run", "prune"));
	assert_false(proto_action_step("prune", "run", "stop"));
	/* It removes what rollbacks kept: a change, but for a dry run. */
	assert_true(proto_action_changes("prune", NULL, 0));
	assert_false(proto_action_changes("prune", &ok[2], 1));
}

static void
test_formats(void **state)
{
	(void)state;
	assert_true(proto_valid_path("/"));
	assert_true(proto_valid_path("/var/backups/odc/pre-4.3.0"));
	assert_false(proto_valid_path("var/backups"));
	assert_false(proto_valid_path("/var//backups"));
	assert_false(proto_valid_path("/var/backups/"));
	assert_false(proto_valid_path("/var/./backups"));
	assert_false(proto_valid_path("/var/../etc"));
	/* Spaces and UTF-8 names are real directories' names (issue 14). */
	assert_true(proto_valid_path("/var/back ups"));
	assert_true(proto_valid_path("/data/odc backups/pr\xc3\xa9-4.3 \xe5\xa4\x87\xe4\xbb\xbd"));
	assert_false(proto_valid_path("/var/back\tups"));
	assert_false(proto_valid_path("/var/back\x7fups"));
	assert_true(proto_valid_path("/var/..hidden"));
	/* A refusal names the rule broken. */
	assert_string_equal(proto_path_problem("var/backups"),
	                    "a path is absolute: it starts with /");
	assert_string_equal(proto_path_problem("/var//backups"), "a path has no //");
	assert_string_equal(proto_path_problem("/var/backups/"), "a path has no trailing /");
	assert_string_equal(proto_path_problem("/var/../etc"), "a path has no . or .. component");
	assert_string_equal(proto_path_problem("/a\nb"), "a path has no control character");
	assert_string_equal(proto_path_problem(""), "a path is 1..4096 bytes");
	assert_null(proto_path_problem("/"));
	assert_true(proto_valid_tag("4.2.0"));
	assert_true(proto_valid_tag("_latest"));
	assert_false(proto_valid_tag(".4"));
	assert_false(proto_valid_tag("4.2.0:x"));
	assert_true(proto_valid_id("odc-hz-01.example"));
	assert_false(proto_valid_id("-odc"));
	assert_false(proto_valid_id(""));
}

static void
test_utf8(void **state)
{
	(void)state;
	assert_true(proto_utf8_valid_for_test("caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80"));
	assert_false(proto_utf8_valid_for_test("\xc0\xaf"));         /* overlong '/' */
	assert_false(proto_utf8_valid_for_test("\xed\xa0\x80"));     /* surrogate */
	assert_false(proto_utf8_valid_for_test("\xf4\x90\x80\x80")); /* above U+10FFFF */
	assert_false(proto_utf8_valid_for_test("\xe2\x9c"));         /* cut short */
}

static void
test_names(void **state)
{
	(void)state;
	for (int c = 0; c <= PROTO_E_MAX; c++)
		assert_int_equal(proto_err_from_name(proto_err_name(c)), c);
	assert_null(proto_err_name(PROTO_E_MAX + 1));
	assert_string_equal(proto_type_name(PROTO_DISPATCH), "DISPATCH");
	assert_int_equal(proto_type_from_name("REPLY"), PROTO_REPLY);
	assert_true(proto_type_signed(PROTO_RESULT));
	assert_false(proto_type_signed(PROTO_HEARTBEAT));
}

/* The job, stage and host state words of PROTOCOL.md 9.1 map both ways,
 * and exactly the ended ones are final. */
static void
test_states(void **state)
{
	(void)state;
	for (int s = 0; s < PROTO_JOB_STATES; s++)
		assert_int_equal(proto_job_state_from_name(proto_job_state_name(s)), s);
	for (int s = 0; s < PROTO_JOB_STAGES; s++)
		assert_int_equal(proto_job_stage_from_name(proto_job_stage_name(s)), s);
	for (int s = 0; s < PROTO_HOST_STATES; s++)
		assert_int_equal(proto_host_state_from_name(proto_host_state_name(s)), s);
	assert_null(proto_job_state_name(PROTO_JOB_STATES));
	assert_null(proto_host_state_name(-1));
	assert_int_equal(proto_job_state_from_name("done"), -1);
	assert_int_equal(proto_host_state_from_name(NULL), -1);
	assert_string_equal(proto_job_state_name(PROTO_JOB_HALTED), "halted");
	assert_string_equal(proto_job_stage_name(PROTO_STAGE_BATCHES), "batches");
	assert_string_equal(proto_host_state_name(PROTO_HOST_UNREACHABLE), "unreachable");
	assert_false(proto_job_state_final(PROTO_JOB_RUNNING));
	assert_false(proto_job_state_final(PROTO_JOB_PAUSED));
	assert_true(proto_job_state_final(PROTO_JOB_ABORTED));
	assert_false(proto_job_state_final(-1));
	assert_false(proto_host_state_final(PROTO_HOST_READY));
	assert_true(proto_host_state_final(PROTO_HOST_SKIPPED));
	assert_true(proto_host_state_failed(PROTO_HOST_UNREACHABLE));
	assert_false(proto_host_state_failed(PROTO_HOST_SKIPPED));
}

/* REQUEST args and REPLY bodies are JSON-shaped and survive a round trip. */
static void
test_request_reply_json(void **state)
{
	struct proto_msg m = {.type = PROTO_REPLY}, *got = NULL;
	struct proto_frames pf;
	struct proto_error err;
	struct proto_ctx c = {.receiver = PROTO_RCV_CLI};

	(void)state;
	m.u.reply.request_id = 3;
	m.u.reply.message = "";
	m.u.reply.body =
	    json_pack("{s:[{s:s,s:i}], s:b}", "hosts", "host_id", "h1", "age_ms", 1500, "more", 0);
	assert_int_equal(proto_encode(&m, NULL, &pf, &err), PROTO_OK);
	assert_int_equal(receive(&pf, &c, &got, &err), PROTO_OK);
	assert_true(json_equal(got->u.reply.body, m.u.reply.body));
	proto_msg_free(got);
	proto_frames_free(&pf);
	json_decref(m.u.reply.body);
	/* An empty string right after an empty message: msgpack-c hands out a
	 * NULL pointer for it (found by fuzz_body). */
	m.u.reply.body = json_pack("[s]", "");
	assert_int_equal(proto_encode(&m, NULL, &pf, &err), PROTO_OK);
	assert_int_equal(receive(&pf, &c, &got, &err), PROTO_OK);
	assert_string_equal(json_string_value(json_array_get(got->u.reply.body, 0)), "");
	proto_msg_free(got);
	proto_frames_free(&pf);
	json_decref(m.u.reply.body);
	/* Reals have no place on the wire. */
	m.u.reply.body = json_pack("{s:f}", "x", 1.5);
	assert_int_equal(proto_encode(&m, NULL, &pf, &err), PROTO_E_SCHEMA);
	json_decref(m.u.reply.body);
	/* A REPLY arriving at the control socket is the wrong direction. */
	m.u.reply.body = NULL;
	assert_int_equal(proto_encode(&m, NULL, &pf, &err), PROTO_OK);
	c.receiver = PROTO_RCV_CONTROL;
	assert_int_equal(receive(&pf, &c, &got, &err), PROTO_E_TYPE);
	proto_frames_free(&pf);
}

/* ---- the target list's Merkle tree ---- */

/* RFC 9162, 2.1.1 and 2.1.3.1, transcribed directly (recursive, with the
 * split at the largest power of two below n), to check the level-by-level
 * tree of proto/merkle.c against. */
static void
ref_leaf(const char *id, uint8_t out[32])
{
	uint8_t buf[1 + 64];
	size_t n = strlen(id);

	buf[0] = 0x00;
	memcpy(buf + 1, id, n);
	crypto_hash_sha256(out, buf, 1 + n);
}

static void
ref_node(const uint8_t l[32], const uint8_t r[32], uint8_t out[32])
{
	uint8_t buf[65];

	buf[0] = 0x01;
	memcpy(buf + 1, l, 32);
	memcpy(buf + 33, r, 32);
	crypto_hash_sha256(out, buf, sizeof(buf));
}

static size_t
ref_split(size_t n)
{
	size_t k = 1;

	while (k * 2 < n)
		k *= 2;
	return k;
}

static void
ref_mth(const char *const *ids, size_t n, uint8_t out[32])
{
	uint8_t l[32], r[32];
	size_t k;

	if (n == 1) {
		ref_leaf(ids[0], out);
		return;
	}
	k = ref_split(n);
	ref_mth(ids, k, l);
	ref_mth(ids + k, n - k, r);
	ref_node(l, r, out);
}

/* PATH(m, D[n]), bottom first; returns its length. */
static size_t
ref_path(size_t m, const char *const *ids, size_t n, uint8_t path[][32])
{
	size_t k, len;

	if (n == 1)
		return 0;
	k = ref_split(n);
	if (m < k) {
		len = ref_path(m, ids, k, path);
		ref_mth(ids + k, n - k, path[len]);
	} else {
		len = ref_path(m - k, ids + k, n - k, path);
		ref_mth(ids, k, path[len]);
	}
	return len + 1;
}

/* Ids "odc-00000", "odc-00001", ... for n up to 10,000. */
static const char **
make_ids(size_t n, char (**names)[16])
{
	const char **t = calloc(n, sizeof(char *));

	*names = calloc(n, 16);
	assert_non_null(t);
	assert_non_null(*names);
	for (size_t i = 0; i < n; i++) {
		snprintf((*names)[i], 16, "odc-%05zu", i);
		t[i] = (*names)[i];
	}
	return t;
}

/* One n: the root three ways, and the proof of each checked index against
 * the reference, and verified. */
static void
check_tree(const char *const *ids, size_t n, size_t step)
{
	struct proto_merkle *t = proto_merkle_new(ids, n);
	uint8_t want[32], got[32], path[PROTO_PROOF_MAX][32], ref[64][32];

	assert_non_null(t);
	ref_mth(ids, n, want);
	assert_int_equal(proto_merkle_root(ids, n, got), 0);
	assert_memory_equal(got, want, 32);
	proto_merkle_root_of(t, got);
	assert_memory_equal(got, want, 32);
	/* Every step-th position, and the last one. */
	for (size_t i = 0; i < n; i = i + 1 == n ? n : i + step < n - 1 ? i + step : n - 1) {
		size_t len = proto_merkle_proof(t, i, path);
		size_t rlen = ref_path(i, ids, n, ref);
		assert_int_equal(len, rlen);
		for (size_t k = 0; k < len; k++)
			assert_memory_equal(path[k], ref[k], 32);
		assert_true(
		    proto_merkle_verify(ids[i], i, n, (const uint8_t(*)[32])path, len, want));
	}
	proto_merkle_free(t);
}

static void
test_merkle_matches_rfc9162(void **state)
{
	char(*names)[16];
	const char **ids = make_ids(10000, &names);
	static const size_t big[] = {127, 128, 129, 1000, 1023, 1024, 1025, 4097, 10000};

	(void)state;
	for (size_t n = 1; n <= 70; n++)
		check_tree(ids, n, 1);
	/* Large trees: a spread of positions, always the first and the last. */
	for (size_t k = 0; k < sizeof(big) / sizeof(big[0]); k++)
		check_tree(ids, big[k], big[k] / 37 + 1);
	free(ids);
	free(names);
}

/* PROTOCOL.md section 2's worked example, hash by hash. */
static void
test_merkle_protocol_example(void **state)
{
	const char *ids[] = {"h1", "h2", "h3"};
	uint8_t l1[32], l2[32], l3[32], n12[32], root[32], got[32], path[PROTO_PROOF_MAX][32];
	struct proto_merkle *t = proto_merkle_new(ids, 3);

	(void)state;
	assert_non_null(t);
	proto_merkle_leaf("h1", l1);
	proto_merkle_leaf("h2", l2);
	proto_merkle_leaf("h3", l3);
	ref_leaf("h1", got);
	assert_memory_equal(got, l1, 32);
	ref_node(l1, l2, n12);
	ref_node(n12, l3, root);
	proto_merkle_root_of(t, got);
	assert_memory_equal(got, root, 32);
	assert_int_equal(proto_merkle_proof(t, 2, path), 1);
	assert_memory_equal(path[0], n12, 32);
	assert_int_equal(proto_merkle_proof(t, 0, path), 2);
	assert_memory_equal(path[0], l2, 32);
	assert_memory_equal(path[1], l3, 32);
	proto_merkle_free(t);
	/* One id: the root is its leaf, the proof empty. */
	t = proto_merkle_new(ids, 1);
	assert_non_null(t);
	proto_merkle_root_of(t, got);
	assert_memory_equal(got, l1, 32);
	assert_int_equal(proto_merkle_proof(t, 0, path), 0);
	assert_true(proto_merkle_verify("h1", 0, 1, NULL, 0, l1));
	assert_false(proto_merkle_verify("h2", 0, 1, NULL, 0, l1));
	proto_merkle_free(t);
	assert_null(proto_merkle_new(ids, 0));
	assert_int_equal(proto_merkle_root(ids, 0, got), -1);
}

/* Everything but the exact id, position, count, path and root fails. */
static void
test_merkle_verify_refuses(void **state)
{
	const char *ids[] = {"h1", "h2", "h3", "h4", "h5"};
	uint8_t root[32], path[PROTO_PROOF_MAX][32], p5[PROTO_PROOF_MAX][32];
	struct proto_merkle *t = proto_merkle_new(ids, 5);
	size_t len;
	const uint8_t(*cp)[32] = (const uint8_t(*)[32])path;

	(void)state;
	assert_non_null(t);
	proto_merkle_root_of(t, root);
	len = proto_merkle_proof(t, 1, path);
	assert_int_equal(len, 3);
	assert_true(proto_merkle_verify("h2", 1, 5, cp, len, root));
	assert_false(proto_merkle_verify("h3", 1, 5, cp, len, root)); /* another id */
	assert_false(proto_merkle_verify("h2", 0, 5, cp, len, root)); /* another position */
	assert_false(proto_merkle_verify("h2", 3, 5, cp, len, root));
	/* Another count fails when it changes the path's shape; the count is
	 * signed in the JOB body, so the proof need not bind it further. */
	assert_false(proto_merkle_verify("h2", 1, 4, cp, len, root));
	assert_false(proto_merkle_verify("h2", 1, 3, cp, len, root));
	assert_false(proto_merkle_verify("h2", 5, 5, cp, len, root));     /* index = count */
	assert_false(proto_merkle_verify("h2", 1, 0, cp, len, root));     /* no targets */
	assert_false(proto_merkle_verify("h2", 1, 5, cp, len - 1, root)); /* too short */
	memcpy(path[len], path[0], 32);
	assert_false(proto_merkle_verify("h2", 1, 5, cp, len + 1, root)); /* too long */
	assert_false(proto_merkle_verify("h2", 1, 5, cp, 0, root));
	path[1][31] ^= 0x80;
	assert_false(proto_merkle_verify("h2", 1, 5, cp, len, root));
	path[1][31] ^= 0x80;
	root[0] ^= 1;
	assert_false(proto_merkle_verify("h2", 1, 5, cp, len, root));
	root[0] ^= 1;
	/* The last of 5 is promoted twice: its path is one hash. */
	assert_int_equal(proto_merkle_proof(t, 4, p5), 1);
	assert_true(proto_merkle_verify("h5", 4, 5, (const uint8_t(*)[32])p5, 1, root));
	assert_false(proto_merkle_verify("h5", 4, 6, (const uint8_t(*)[32])p5, 1, root));
	/* A position past the end has no proof. */
	assert_int_equal(proto_merkle_proof(t, 5, path), 0);
	proto_merkle_free(t);
}

/* ---- JOB messages: body, signature and target list ---- */

static struct proto_ctx
control_ctx(void)
{
	struct proto_ctx c = {.receiver = PROTO_RCV_CONTROL,
	                      .trusted = trust,
	                      .now_ms = NOW,
	                      .skew_ms = PROTO_SKEW_MS};
	return c;
}

static void
test_job_round_trip(void **state)
{
	struct proto_msg m = job("rollback", rb_params, 2), *got = NULL;
	struct proto_frames pf;
	struct proto_error err;
	struct proto_ctx c = control_ctx();
	uint8_t root[32];
	json_t *j;

	(void)state;
	/* Whatever the caller leaves in count and root is replaced. */
	m.u.job.target_count = 99;
	memset(m.u.job.target_root, 0xee, 32);
	assert_int_equal(proto_encode(&m, op_sk, &pf, &err), PROTO_OK);
	assert_int_equal(pf.nframes, 4);
	assert_non_null(pf.targets);
	assert_int_equal(receive(&pf, &c, &got, &err), PROTO_OK);
	assert_true(got->is_signed);
	assert_int_equal(got->u.job.target_count, 2);
	assert_int_equal(proto_merkle_root(targets, 2, root), 0);
	assert_memory_equal(got->u.job.target_root, root, 32);
	assert_int_equal(got->u.job.n_targets, 2);
	assert_string_equal(got->u.job.targets[0], "h1");
	assert_string_equal(got->u.job.targets[1], "h2");
	/* Section 10's decoded form: {count, root}, and the list last. */
	j = proto_msg_to_json(got);
	assert_non_null(j);
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(j, "targets"), "count")), 2);
	assert_int_equal(
	    strlen(json_string_value(json_object_get(json_object_get(j, "targets"), "root"))), 64);
	assert_int_equal(json_array_size(json_object_get(j, "target_list")), 2);
	const char *last = NULL;
	const char *key;
	json_t *v;
	json_object_foreach(j, key, v)
	{
		last = key;
	}
	assert_string_equal(last, "target_list");
	json_decref(j);
	proto_msg_free(got);
	/* A tool (any receiver) reads it the same way. */
	c = (struct proto_ctx){.receiver = PROTO_RCV_ANY};
	assert_int_equal(receive(&pf, &c, &got, &err), PROTO_OK);
	assert_int_equal(got->u.job.n_targets, 2);
	proto_msg_free(got);
	proto_frames_free(&pf);
	assert_null(pf.targets);
}

/* The list is not signed: a list other than the committed one is refused
 * at the control socket, after the signature and the body, before the
 * clock and the action table. */
static void
test_job_list_refusals(void **state)
{
	struct proto_msg m = job("rollback", rb_params, 2), *got = NULL;
	struct proto_frames pf;
	struct proto_error err;
	struct proto_ctx c = control_ctx();
	struct proto_frame fr[4];
	uint8_t swapped[] = {0x92, 0xa2, 'h', '2', 0xa2, 'h', '1'};
	uint8_t shorter[] = {0x91, 0xa2, 'h', '1'};
	uint8_t dup[] = {0x92, 0xa2, 'h', '1', 0xa2, 'h', '1'};
	uint8_t notlist[] = {0xa2, 'h', '1'};
	uint8_t *big = calloc(1, PROTO_TARGETS_MAX_BYTES + 1);

	(void)state;
	assert_non_null(big);
	assert_int_equal(proto_encode(&m, op_sk, &pf, &err), PROTO_OK);
	to_frames(&pf, fr);
	assert_int_equal(proto_receive(fr, 3, &c, &got, &err), PROTO_E_FRAMES);
	assert_int_equal(proto_receive(fr, 4, &c, &got, &err), PROTO_OK);
	proto_msg_free(got);

	fr[3] = (struct proto_frame){swapped, sizeof(swapped)};
	assert_int_equal(proto_receive(fr, 4, &c, &got, &err), PROTO_E_VALUE);
	assert_non_null(strstr(err.msg, "root"));
	assert_null(got);
	fr[3] = (struct proto_frame){shorter, sizeof(shorter)};
	assert_int_equal(proto_receive(fr, 4, &c, &got, &err), PROTO_E_VALUE);
	assert_non_null(strstr(err.msg, "count"));
	fr[3] = (struct proto_frame){dup, sizeof(dup)};
	assert_int_equal(proto_receive(fr, 4, &c, &got, &err), PROTO_E_VALUE);
	assert_non_null(strstr(err.msg, "target_list[1]"));
	fr[3] = (struct proto_frame){notlist, sizeof(notlist)};
	assert_int_equal(proto_receive(fr, 4, &c, &got, &err), PROTO_E_SCHEMA);
	fr[3] = (struct proto_frame){notlist, 2};
	assert_int_equal(proto_receive(fr, 4, &c, &got, &err), PROTO_E_MALFORMED);
	/* Step 4 bounds the list before the signature is checked. */
	fr[3] = (struct proto_frame){big, PROTO_TARGETS_MAX_BYTES + 1};
	pf.sig[40] ^= 1;
	assert_int_equal(proto_receive(fr, 4, &c, &got, &err), PROTO_E_TOO_BIG);
	fr[3] = (struct proto_frame){pf.targets, pf.targets_len};
	assert_int_equal(proto_receive(fr, 4, &c, &got, &err), PROTO_E_BAD_SIGNATURE);
	pf.sig[40] ^= 1;
	/* A wrong list outranks an expired job: the list belongs to step 6. */
	c.now_ms = NOW + 7200000;
	assert_int_equal(proto_receive(fr, 4, &c, &got, &err), PROTO_E_EXPIRED);
	fr[3] = (struct proto_frame){swapped, sizeof(swapped)};
	assert_int_equal(proto_receive(fr, 4, &c, &got, &err), PROTO_E_VALUE);
	/* A stored JOB is checked the same way. */
	assert_int_equal(
	    proto_decode_job(pf.body, pf.body_len, swapped, sizeof(swapped), &got, &err),
	    PROTO_E_VALUE);
	assert_null(got);
	assert_int_equal(
	    proto_decode_job(pf.body, pf.body_len, big, PROTO_TARGETS_MAX_BYTES + 1, &got, &err),
	    PROTO_E_TOO_BIG);
	assert_int_equal(
	    proto_decode_job(pf.body, pf.body_len, pf.targets, pf.targets_len, &got, &err),
	    PROTO_OK);
	assert_string_equal(got->u.job.targets[1], "h2");
	proto_msg_free(got);
	proto_frames_free(&pf);
	free(big);
}

/* Nothing the control socket must refuse leaves the encoder. */
static void
test_job_encoder_refuses_bad_lists(void **state)
{
	struct proto_msg m = job("ping", NULL, 0);
	struct proto_frames pf = {.body = NULL};
	struct proto_error err;
	const char *dup[] = {"h1", "h2", "h1"};
	const char *bad[] = {"h1", "-h2"};
	const char *none[] = {"h1", NULL};

	(void)state;
	m.u.job.targets = dup;
	m.u.job.n_targets = 3;
	assert_int_equal(proto_encode(&m, op_sk, &pf, &err), PROTO_E_VALUE);
	assert_non_null(strstr(err.msg, "duplicate"));
	m.u.job.targets = bad;
	m.u.job.n_targets = 2;
	assert_int_equal(proto_encode(&m, op_sk, &pf, &err), PROTO_E_VALUE);
	assert_non_null(strstr(err.msg, "target_list[1]"));
	m.u.job.targets = none;
	assert_int_equal(proto_encode(&m, op_sk, &pf, &err), PROTO_E_VALUE);
	m.u.job.targets = NULL;
	assert_int_equal(proto_encode(&m, op_sk, &pf, &err), PROTO_E_INTERNAL);
	/* canary counts against the list's length. */
	m.u.job.targets = dup;
	m.u.job.n_targets = 2;
	m.u.job.policy.canary = 3;
	assert_int_equal(proto_encode(&m, op_sk, &pf, &err), PROTO_E_VALUE);
	assert_non_null(strstr(err.msg, "canary"));
	assert_null(pf.body);
	assert_null(pf.targets);
}

/* ---- DISPATCH: the inclusion proof ---- */

static void
test_dispatch_proof_round_trip(void **state)
{
	char(*names)[16];
	const char **ids = make_ids(10000, &names);
	struct proto_msg jm = job("ping", NULL, 0), *got = NULL;
	struct proto_frames pf;
	struct proto_error err;
	struct replay_guard g = {0};
	json_t *j;

	(void)state;
	assert_int_equal(replay_memory_open(&g, 16), 0);
	struct proto_ctx c = agent_ctx(&g);
	jm.u.job.targets = ids;
	jm.u.job.n_targets = 10000;
	c.host_id = "odc-09999";
	make_dispatch_for(&jm, "odc-09999", 20, &pf);
	/* A 10,000-target dispatch stays small: the job's body plus at most 14
	 * hashes (the last id sits at depth 8: 10000 = 8192 + 1024 + 512 +
	 * 256 + 16). */
	assert_true(pf.body_len < 1200);
	assert_int_equal(receive(&pf, &c, &got, &err), PROTO_OK);
	assert_int_equal(got->u.dispatch.proof_index, 9999);
	assert_int_equal(got->u.dispatch.proof_len, 8);
	assert_int_equal(got->u.dispatch.job.target_count, 10000);
	assert_null(got->u.dispatch.job.targets);
	j = proto_msg_to_json(got);
	assert_non_null(j);
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(j, "target_proof"), "index")), 9999);
	assert_int_equal(
	    json_array_size(json_object_get(json_object_get(j, "target_proof"), "path")), 8);
	assert_null(json_object_get(json_object_get(j, "job"), "target_list"));
	json_decref(j);
	proto_msg_free(got);
	proto_frames_free(&pf);
	/* Position 0: the full depth of 14; position 8192, the first of the
	 * right subtree of 1808: the left subtree's root, then 11 hashes. */
	c.host_id = "odc-00000";
	make_dispatch_for(&jm, "odc-00000", 21, &pf);
	assert_int_equal(receive(&pf, &c, &got, &err), PROTO_OK);
	assert_int_equal(got->u.dispatch.proof_len, 14);
	proto_msg_free(got);
	proto_frames_free(&pf);
	c.host_id = "odc-08192";
	make_dispatch_for(&jm, "odc-08192", 22, &pf);
	assert_int_equal(receive(&pf, &c, &got, &err), PROTO_OK);
	assert_int_equal(got->u.dispatch.proof_index, 8192);
	assert_int_equal(got->u.dispatch.proof_len, 12);
	proto_msg_free(got);
	proto_frames_free(&pf);
	replay_close(&g);
	free(ids);
	free(names);
}

/* Step 9 refuses a proof for another host or position; it comes before the
 * clock (10) and the nonce (12), so a refused dispatch spends no nonce. */
static void
test_dispatch_proof_refusals(void **state)
{
	struct proto_msg jm = job("ping", NULL, 0), *got = NULL;
	struct proto_frames jf, pf;
	struct proto_error err;
	struct replay_guard g = {0};
	struct proto_msg d = {.type = PROTO_DISPATCH};
	struct proto_merkle *t = proto_merkle_new(targets, 2);

	(void)state;
	assert_non_null(t);
	assert_int_equal(replay_memory_open(&g, 16), 0);
	struct proto_ctx c = agent_ctx(&g);
	assert_int_equal(proto_encode(&jm, op_sk, &jf, &err), PROTO_OK);
	d.u.dispatch.job_bytes = jf.body;
	d.u.dispatch.job_len = jf.body_len;
	memcpy(d.u.dispatch.job_sig, jf.sig, PROTO_SIGFRAME_LEN);
	d.u.dispatch.host_id = "h1";
	d.u.dispatch.phase = "run";
	d.u.dispatch.not_before_ms = NOW - 1000;
	d.u.dispatch.expires_ms = NOW + 60000;
	memset(d.u.dispatch.nonce, 30, PROTO_NONCE_LEN);

	/* h2's proof (position 1) presented for h1. */
	d.u.dispatch.proof_index = 1;
	d.u.dispatch.proof_len = proto_merkle_proof(t, 1, d.u.dispatch.proof);
	assert_int_equal(proto_encode(&d, co_sk, &pf, &err), PROTO_OK);
	assert_int_equal(receive(&pf, &c, &got, &err), PROTO_E_NOT_TARGET);
	assert_non_null(strstr(err.msg, "target_proof"));
	proto_frames_free(&pf);
	/* h1's path at position 1. */
	d.u.dispatch.proof_len = proto_merkle_proof(t, 0, d.u.dispatch.proof);
	assert_int_equal(proto_encode(&d, co_sk, &pf, &err), PROTO_OK);
	assert_int_equal(receive(&pf, &c, &got, &err), PROTO_E_NOT_TARGET);
	proto_frames_free(&pf);
	/* Past the end, even when expired: step 9 first. */
	d.u.dispatch.proof_index = 2;
	assert_int_equal(proto_encode(&d, co_sk, &pf, &err), PROTO_OK);
	c.now_ms = NOW + 3600000;
	assert_int_equal(receive(&pf, &c, &got, &err), PROTO_E_NOT_TARGET);
	assert_non_null(strstr(err.msg, "outside"));
	c.now_ms = NOW;
	proto_frames_free(&pf);
	/* No proof at all. */
	d.u.dispatch.proof_index = 0;
	d.u.dispatch.proof_len = 0;
	assert_int_equal(proto_encode(&d, co_sk, &pf, &err), PROTO_OK);
	assert_int_equal(receive(&pf, &c, &got, &err), PROTO_E_NOT_TARGET);
	proto_frames_free(&pf);
	/* The right one is accepted: the nonce was not spent by the refusals. */
	d.u.dispatch.proof_len = proto_merkle_proof(t, 0, d.u.dispatch.proof);
	assert_int_equal(proto_encode(&d, co_sk, &pf, &err), PROTO_OK);
	assert_int_equal(receive(&pf, &c, &got, &err), PROTO_OK);
	proto_msg_free(got);
	proto_frames_free(&pf);
	/* A path over its bound cannot be encoded. */
	d.u.dispatch.proof_len = PROTO_PROOF_MAX + 1;
	assert_int_equal(proto_encode(&d, co_sk, &pf, &err), PROTO_E_LIMIT);
	proto_frames_free(&jf);
	proto_merkle_free(t);
	replay_close(&g);
}

/* What an answer to a DISPATCH may name (PROTOCOL.md section 7, "Answers"):
 * nothing of a body whose signature did not verify; the DISPATCH's own
 * fields once its signature verified; the job id once the job's did. */
static void
assert_refs(const struct proto_refs *r, const char *job_id, const char *host_id, const char *step,
            uint8_t nonce_byte)
{
	uint8_t nonce[PROTO_NONCE_LEN];

	assert_string_equal(r->job_id, job_id);
	assert_string_equal(r->host_id, host_id);
	assert_string_equal(r->step, step);
	if (nonce_byte == 0) {
		assert_int_equal(r->nonce_len, 0);
		return;
	}
	memset(nonce, nonce_byte, sizeof(nonce));
	assert_int_equal(r->nonce_len, PROTO_NONCE_LEN);
	assert_memory_equal(r->nonce, nonce, PROTO_NONCE_LEN);
}

static void
test_refs_name_only_what_verified(void **state)
{
	struct proto_msg jm = job("ping", NULL, 0), *got = NULL;
	struct proto_frames pf;
	struct proto_error err;
	struct proto_refs refs;
	struct replay_guard g = {0};

	(void)state;
	assert_int_equal(replay_memory_open(&g, 16), 0);
	struct proto_ctx c = agent_ctx(&g);
	c.refs = &refs;

	/* The coordinator's signature does not verify: nothing, though the
	 * body decodes and names a job, a host, a phase and a nonce. */
	make_dispatch(&jm, 21, &pf);
	pf.sig[PROTO_PK_LEN + 9] ^= 0x01;
	memset(&refs, 'x', sizeof(refs));
	assert_int_equal(receive(&pf, &c, &got, &err), PROTO_E_BAD_SIGNATURE);
	assert_refs(&refs, "", "", "", 0);
	/* Signed by nobody it trusts: nothing either. */
	pf.sig[PROTO_PK_LEN + 9] ^= 0x01;
	pf.sig[0] ^= 0x01;
	assert_int_equal(receive(&pf, &c, &got, &err), PROTO_E_UNKNOWN_KEY);
	assert_refs(&refs, "", "", "", 0);
	proto_frames_free(&pf);

	/* Step 7: the DISPATCH verified, its job's signature did not: the
	 * DISPATCH's fields, not the job's. */
	make_dispatch_ex(&jm, "h1", 22, true, &pf);
	assert_int_equal(receive(&pf, &c, &got, &err), PROTO_E_BAD_SIGNATURE);
	assert_non_null(strstr(err.msg, "job_sig"));
	assert_refs(&refs, "", "h1", "run", 22);
	proto_frames_free(&pf);

	/* Step 9 on: everything, the DISPATCH's host_id as it stands. */
	make_dispatch_for(&jm, "h2", 23, &pf);
	assert_int_equal(receive(&pf, &c, &got, &err), PROTO_E_NOT_TARGET);
	assert_refs(&refs, "job-1", "h2", "run", 23);
	proto_frames_free(&pf);

	/* Accepted: everything. A refusal of it then (REPLAYED) too. */
	make_dispatch(&jm, 24, &pf);
	assert_int_equal(receive(&pf, &c, &got, &err), PROTO_OK);
	assert_refs(&refs, "job-1", "h1", "run", 24);
	proto_msg_free(got);
	memset(&refs, 0, sizeof(refs));
	assert_int_equal(receive(&pf, &c, &got, &err), PROTO_E_REPLAYED);
	assert_refs(&refs, "job-1", "h1", "run", 24);

	/* A header that is not a DISPATCH's leaves nothing behind. */
	pf.header[0] = 'X';
	assert_int_equal(receive(&pf, &c, &got, &err), PROTO_E_HEADER);
	assert_refs(&refs, "", "", "", 0);
	proto_frames_free(&pf);
	replay_close(&g);
}

static bool
roots_refuse(void *ctx, const struct proto_job *j, char *why, size_t whylen)
{
	const char *bk = proto_param(j->params, j->n_params, "backup");

	(void)ctx;
	if (bk == NULL)
		return true;
	snprintf(why, whylen, "%s is outside the backup roots (/srv)", bk);
	return false;
}

/* The agent's own parameter rule is step 11: INVALID_PARAM before the
 * nonce is spent and before BUSY, named like the action table's refusals. */
static void
test_own_params_at_step_11(void **state)
{
	struct proto_msg jm = job("rollback", rb_params, 2), *got = NULL;
	struct proto_frames pf;
	struct proto_error err;
	struct proto_refs refs;
	struct replay_guard g = {0};

	(void)state;
	assert_int_equal(replay_memory_open(&g, 16), 0);
	struct proto_ctx c = agent_ctx(&g);
	c.refs = &refs;
	c.params_ok = roots_refuse;
	c.busy_job = "job-other";
	make_dispatch(&jm, 31, &pf);
	assert_int_equal(receive(&pf, &c, &got, &err), PROTO_E_INVALID_PARAM);
	assert_non_null(strstr(err.msg, "/var/backups/odc/pre is outside the backup roots (/srv)"));
	assert_refs(&refs, "job-1", "h1", "run", 31);
	/* Not spent: the same dispatch, once allowed, is accepted. */
	c.params_ok = NULL;
	c.busy_job = NULL;
	assert_int_equal(receive(&pf, &c, &got, &err), PROTO_OK);
	proto_msg_free(got);
	proto_frames_free(&pf);
	/* A job without a backup parameter passes the rule. */
	c.params_ok = roots_refuse;
	struct proto_msg pm = job("ping", NULL, 0);
	make_dispatch(&pm, 32, &pf);
	assert_int_equal(receive(&pf, &c, &got, &err), PROTO_OK);
	proto_msg_free(got);
	proto_frames_free(&pf);
	replay_close(&g);
}

/* Section 1's frame limits: the largest body a receiver accepts + 4096. */
static void
test_frame_limits(void **state)
{
	(void)state;
	assert_int_equal(proto_frame_limit(PROTO_RCV_AGENT), 1052672 + 4096);
	assert_int_equal(proto_frame_limit(PROTO_RCV_COORDINATOR), 65536 + 4096);
	assert_int_equal(proto_frame_limit(PROTO_RCV_CONTROL), 1052672 + 4096);
	assert_int_equal(proto_frame_limit(PROTO_RCV_CLI), 16777216 + 4096);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_heartbeat_round_trip),
	    cmocka_unit_test(test_result_signed_round_trip),
	    cmocka_unit_test(test_signature_before_decode),
	    cmocka_unit_test(test_encoder_refuses_invalid),
	    cmocka_unit_test(test_dispatch_accept_then_replay),
	    cmocka_unit_test(test_busy_spends_nonce),
	    cmocka_unit_test(test_replay_refused_after_restart),
	    cmocka_unit_test(test_replay_memory_full_fails_closed),
	    cmocka_unit_test(test_dispatch_time_window),
	    cmocka_unit_test(test_not_target),
	    cmocka_unit_test(test_scan_bounds),
	    cmocka_unit_test(test_job_target_bounds),
	    cmocka_unit_test(test_action_table),
	    cmocka_unit_test(test_formats),
	    cmocka_unit_test(test_utf8),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_states),
	    cmocka_unit_test(test_request_reply_json),
	    cmocka_unit_test(test_merkle_matches_rfc9162),
	    cmocka_unit_test(test_merkle_protocol_example),
	    cmocka_unit_test(test_merkle_verify_refuses),
	    cmocka_unit_test(test_job_round_trip),
	    cmocka_unit_test(test_job_list_refusals),
	    cmocka_unit_test(test_job_encoder_refuses_bad_lists),
	    cmocka_unit_test(test_dispatch_proof_round_trip),
	    cmocka_unit_test(test_dispatch_proof_refusals),
	    cmocka_unit_test(test_refs_name_only_what_verified),
	    cmocka_unit_test(test_own_params_at_step_11),
	    cmocka_unit_test(test_frame_limits),
	};
	return cmocka_run_group_tests(tests, setup_keys, NULL);
}
