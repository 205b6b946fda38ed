/* libFuzzer harness for proto_receive(): the input is up to four frames, each
 * a 2-byte little-endian length then that many bytes (cut to what is left),
 * run through every receiver's procedure. Each frame gets its own exact-size
 * allocation so that reading past a frame is caught by ASan. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "proto/proto.h"
#include "proto/replay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_FRAMES 4 /* a JOB: header, body, signature, target list */
/* The clock of tests/vectors/proto-v2.json, so its seeds pass the time checks. */
#define FUZZ_NOW_MS 1795400000000ull

/* The identities of tests/tools/vectors.c (seed = 32 bytes of i): operator 1,
 * coordinator 2, agent 3. Constant, set up once. */
static uint8_t operator_pk[PROTO_PK_LEN], coordinator_pk[PROTO_PK_LEN], agent_pk[PROTO_PK_LEN];
static bool keys_ready;

static void
pk_from_seed(uint8_t pk[PROTO_PK_LEN], uint8_t i)
{
	uint8_t seed[32], sk[PROTO_SK_LEN];

	memset(seed, i, sizeof(seed));
	crypto_sign_seed_keypair(pk, sk, seed);
	sodium_memzero(sk, sizeof(sk));
}

static void
keys_init(void)
{
	if (keys_ready)
		return;
	if (sodium_init() < 0)
		abort();
	pk_from_seed(operator_pk, 1);
	pk_from_seed(coordinator_pk, 2);
	pk_from_seed(agent_pk, 3);
	keys_ready = true;
}

static bool
trust(void *ctx, int type, const uint8_t pk[PROTO_PK_LEN])
{
	(void)ctx;
	switch (type) {
	case PROTO_JOB:
		return memcmp(pk, operator_pk, PROTO_PK_LEN) == 0;
	case PROTO_DISPATCH:
		return memcmp(pk, coordinator_pk, PROTO_PK_LEN) == 0;
	case PROTO_RESULT:
		return memcmp(pk, agent_pk, PROTO_PK_LEN) == 0;
	default:
		return false;
	}
}

/* Codes 1-20 come from the receive procedure; INTERNAL only from a failing
 * replay store, which a fresh 64-slot memory store never is. */
static void
run(const struct proto_frame *frames, size_t n, const struct proto_ctx *ctx, const char *who)
{
	struct proto_msg sentinel; /* proto_receive must replace the pointer to it */
	struct proto_msg *m = &sentinel;
	struct proto_error err;
	enum proto_err e;
	json_t *j;

	memset(&err, 0, sizeof(err));
	e = proto_receive(frames, n, ctx, &m, &err);
	if (e != PROTO_OK) {
		if (m != NULL || err.code != e || err.msg[0] == '\0' || (int)e < 1 || (int)e > 20) {
			fprintf(
			    stderr,
			    "fuzz_receive: %s: refusal %d without a proper code or message: %s\n",
			    who, (int)e, err.msg);
			abort();
		}
		return;
	}
	if (m == NULL) {
		fprintf(stderr, "fuzz_receive: %s: PROTO_OK without a message\n", who);
		abort();
	}
	j = proto_msg_to_json(m);
	if (j == NULL) {
		fprintf(stderr, "fuzz_receive: %s: %s: proto_msg_to_json returned NULL\n", who,
		        proto_type_name((int)m->type));
		abort();
	}
	json_decref(j);
	proto_msg_free(m);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_frame frames[MAX_FRAMES];
	uint8_t *copies[MAX_FRAMES] = {NULL, NULL, NULL, NULL};
	struct replay_guard guard = {NULL, NULL};
	struct proto_ctx ctx;
	size_t n = 0, pos = 0;

	keys_init();
	while (n < MAX_FRAMES && size - pos >= 2) {
		size_t len = (size_t)data[pos] | (size_t)data[pos + 1] << 8;
		pos += 2;
		if (len > size - pos)
			len = size - pos;
		/* malloc(0) may return NULL; a frame's data is never NULL. */
		copies[n] = malloc(len > 0 ? len : 1);
		if (copies[n] == NULL)
			goto out;
		if (len > 0)
			memcpy(copies[n], data + pos, len);
		frames[n].data = copies[n];
		frames[n].len = len;
		pos += len;
		n++;
	}

	memset(&ctx, 0, sizeof(ctx));
	ctx.trusted = trust;
	ctx.host_id = "h1";
	ctx.now_ms = FUZZ_NOW_MS;
	ctx.skew_ms = PROTO_SKEW_MS;

	if (replay_memory_open(&guard, 64) != 0)
		goto out;
	ctx.receiver = PROTO_RCV_AGENT;
	ctx.replay = &guard;
	run(frames, n, &ctx, "agent");
	ctx.replay = NULL;

	ctx.receiver = PROTO_RCV_COORDINATOR;
	run(frames, n, &ctx, "coordinator");
	ctx.receiver = PROTO_RCV_CONTROL;
	run(frames, n, &ctx, "control");
	ctx.receiver = PROTO_RCV_CLI;
	run(frames, n, &ctx, "cli");

	ctx.receiver = PROTO_RCV_ANY;
	ctx.trusted = NULL;
	ctx.host_id = NULL;
	run(frames, n, &ctx, "any");
out:
	replay_close(&guard);
	for (size_t i = 0; i < MAX_FRAMES; i++)
		free(copies[i]);
	return 0;
}
