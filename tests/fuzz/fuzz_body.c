/* libFuzzer harness for proto_decode_body() and proto_decode_job(): the first
 * byte picks one of the eleven message types, the rest is its body; for a JOB
 * the rest is a 2-byte little-endian body length, the body (cut to what is
 * left), then the target list frame. A decoded message must convert to JSON
 * and encode again (signed with a fixed test key), and the re-encoded frames
 * must decode to the same JSON: what a peer accepts, this side can send. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "proto/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int type_codes[] = {
    PROTO_HELLO, PROTO_WELCOME, PROTO_HEARTBEAT, PROTO_PROGRESS, PROTO_RESULT, PROTO_ACK,
    PROTO_NACK,  PROTO_JOB,     PROTO_DISPATCH,  PROTO_REQUEST,  PROTO_REPLY,
};
#define N_TYPES (sizeof(type_codes) / sizeof(type_codes[0]))

/* Test key only: derived from a constant seed, never used outside fuzzing. */
static uint8_t test_sk[PROTO_SK_LEN];
static bool keys_ready;

static void
keys_init(void)
{
	uint8_t seed[32], pk[PROTO_PK_LEN];

	if (keys_ready)
		return;
	if (sodium_init() < 0)
		abort();
	memset(seed, 0x01, sizeof(seed));
	crypto_sign_seed_keypair(pk, test_sk, seed);
	keys_ready = true;
}

/* A type byte that is a type code picks that type (so corpus files read as
 * what they are); any other byte picks one by its remainder. */
static int
pick_type(uint8_t b)
{
	for (size_t i = 0; i < N_TYPES; i++)
		if (type_codes[i] == b)
			return b;
	return type_codes[b % N_TYPES];
}

/* Decoding refusals are the codes of steps 4-6 and always say why; a decode
 * of at most a few MB never legitimately reports INTERNAL (out of memory). */
static bool
decode_refusal_ok(enum proto_err e, const struct proto_error *err)
{
	if (err->code != e || err->msg[0] == '\0')
		return false;
	switch (e) {
	case PROTO_E_TOO_BIG:
	case PROTO_E_MALFORMED:
	case PROTO_E_TRAILING:
	case PROTO_E_DEPTH:
	case PROTO_E_LIMIT:
	case PROTO_E_SCHEMA:
	case PROTO_E_VALUE:
		return true;
	default:
		return false;
	}
}

static void
fail(const char *what, int type, const struct proto_error *err)
{
	fprintf(stderr, "fuzz_body: %s: %s: %s (%s)\n", proto_type_name(type), what,
	        proto_err_name((int)err->code) ? proto_err_name((int)err->code) : "?", err->msg);
	abort();
}

/* Decoded JOB -> JSON -> encoded again -> decoded again: the same JSON. */
static void
job_round_trip(const struct proto_msg *m)
{
	struct proto_msg *again = NULL;
	struct proto_frames f;
	struct proto_error err;
	json_t *j, *j2;

	memset(&err, 0, sizeof(err));
	if (m->u.job.targets == NULL || m->u.job.n_targets != m->u.job.target_count)
		fail("decoded JOB without its matching list", PROTO_JOB, &err);
	j = proto_msg_to_json(m);
	if (j == NULL || !json_is_array(json_object_get(j, "target_list")))
		fail("proto_msg_to_json without target_list", PROTO_JOB, &err);
	memset(&f, 0, sizeof(f));
	if (proto_encode(m, test_sk, &f, &err) != PROTO_OK)
		fail("re-encoding a decoded JOB failed", PROTO_JOB, &err);
	if (f.header[3] != PROTO_JOB || f.nframes != 4 || f.targets == NULL)
		fail("re-encoded JOB frames have the wrong header or count", PROTO_JOB, &err);
	if (proto_verify_body(PROTO_JOB, f.body, f.body_len, f.sig) != 0)
		fail("re-encoded signature does not verify", PROTO_JOB, &err);
	if (proto_decode_job(f.body, f.body_len, f.targets, f.targets_len, &again, &err) !=
	    PROTO_OK)
		fail("re-encoded JOB does not decode", PROTO_JOB, &err);
	j2 = proto_msg_to_json(again);
	if (j2 == NULL || !json_equal(j, j2))
		fail("re-encoded JOB decodes to different fields", PROTO_JOB, &err);
	json_decref(j2);
	proto_msg_free(again);
	proto_frames_free(&f);
	json_decref(j);
}

/* A JOB: the body alone (as a DISPATCH carries it) and with its list (as the
 * control socket reads it) must agree on the body, since it is read first. */
static void
fuzz_job(const uint8_t *data, size_t size)
{
	struct proto_msg *m = NULL, *b = NULL;
	struct proto_error err, berr;
	enum proto_err e, be;
	size_t blen;
	uint8_t *body, *list;

	if (size < 2)
		return;
	blen = (size_t)data[0] | (size_t)data[1] << 8;
	data += 2;
	size -= 2;
	if (blen > size)
		blen = size;
	/* Exact-size copies, so that reading past either is caught by ASan. */
	body = malloc(blen ? blen : 1);
	list = malloc(size - blen ? size - blen : 1);
	if (body == NULL || list == NULL)
		abort();
	memcpy(body, data, blen);
	memcpy(list, data + blen, size - blen);

	memset(&berr, 0, sizeof(berr));
	be = proto_decode_body(PROTO_JOB, body, blen, &b, &berr);
	if (be != PROTO_OK && (b != NULL || !decode_refusal_ok(be, &berr)))
		fail("body refusal without a proper code or message", PROTO_JOB, &berr);
	if (be == PROTO_OK && (b == NULL || b->u.job.targets != NULL))
		fail("a JOB body alone decoded with a list", PROTO_JOB, &berr);
	memset(&err, 0, sizeof(err));
	e = proto_decode_job(body, blen, list, size - blen, &m, &err);
	if (e != PROTO_OK) {
		if (m != NULL || !decode_refusal_ok(e, &err))
			fail("refusal without a proper code or message", PROTO_JOB, &err);
		if (be != PROTO_OK && (e != be || strcmp(err.msg, berr.msg) != 0))
			fail("the body's refusal changed with a list", PROTO_JOB, &err);
	} else {
		if (be != PROTO_OK)
			fail("a refused body was accepted with a list", PROTO_JOB, &berr);
		job_round_trip(m);
	}
	proto_msg_free(m);
	proto_msg_free(b);
	free(body);
	free(list);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_msg *m = NULL, *again = NULL;
	struct proto_frames f;
	struct proto_error err;
	json_t *j = NULL, *j2 = NULL;
	enum proto_err e;
	int type;

	if (size < 1)
		return 0;
	keys_init();
	type = pick_type(data[0]);
	if (type == PROTO_JOB) {
		fuzz_job(data + 1, size - 1);
		return 0;
	}
	memset(&err, 0, sizeof(err));
	e = proto_decode_body(type, data + 1, size - 1, &m, &err);
	if (e != PROTO_OK) {
		if (m != NULL || !decode_refusal_ok(e, &err))
			fail("refusal without a proper code or message", type, &err);
		return 0;
	}
	if (m == NULL || (int)m->type != type)
		fail("PROTO_OK without the message", type, &err);
	j = proto_msg_to_json(m);
	if (j == NULL)
		fail("proto_msg_to_json returned NULL", type, &err);

	memset(&f, 0, sizeof(f));
	e = proto_encode(m, test_sk, &f, &err);
	if (e != PROTO_OK)
		fail("re-encoding a decoded message failed", type, &err);
	if (f.header[3] != (uint8_t)type || f.nframes != (proto_type_signed(type) ? 3 : 2))
		fail("re-encoded frames have the wrong header or count", type, &err);
	if (f.nframes == 3 && proto_verify_body(type, f.body, f.body_len, f.sig) != 0)
		fail("re-encoded signature does not verify", type, &err);
	e = proto_decode_body(type, f.body, f.body_len, &again, &err);
	if (e != PROTO_OK)
		fail("re-encoded body does not decode", type, &err);
	j2 = proto_msg_to_json(again);
	if (j2 == NULL || !json_equal(j, j2))
		fail("re-encoded body decodes to different fields", type, &err);

	json_decref(j2);
	proto_msg_free(again);
	proto_frames_free(&f);
	json_decref(j);
	proto_msg_free(m);
	return 0;
}
