/* libFuzzer harness for proto_scan(): arbitrary bytes as a body. Whatever the
 * scan accepts is handed to msgpack-c next by the decoder, so msgpack-c must
 * agree that it is exactly one complete object. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <msgpack.h>

#include "proto/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_error err;
	msgpack_unpacked up;
	msgpack_unpack_return rc;
	enum proto_err e;
	size_t off = 0;

	err.code = PROTO_OK;
	err.msg[0] = '\0';
	e = proto_scan(data, size, &err);
	if (e != PROTO_OK) {
		/* A refusal must say why, with the code it returned. */
		if (err.code != e || err.msg[0] == '\0' || proto_err_name((int)e) == NULL) {
			fprintf(stderr, "fuzz_scan: refusal %d without a matching message\n",
			        (int)e);
			abort();
		}
		return 0;
	}
	msgpack_unpacked_init(&up);
	rc = msgpack_unpack_next(&up, (const char *)data, size, &off);
	if (rc != MSGPACK_UNPACK_SUCCESS) {
		fprintf(
		    stderr,
		    "fuzz_scan: proto_scan accepted %zu bytes, msgpack_unpack_next returned %d\n",
		    size, (int)rc);
		abort();
	}
	/* The scan refuses trailing bytes, so the object must end at the end. */
	if (off != size) {
		fprintf(stderr,
		        "fuzz_scan: proto_scan accepted %zu bytes, msgpack-c used only %zu\n", size,
		        off);
		abort();
	}
	msgpack_unpacked_destroy(&up);
	return 0;
}
