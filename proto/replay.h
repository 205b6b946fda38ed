/* Replay guard: a DISPATCH nonce is accepted once, and remembered until its
 * expiry plus the allowed skew, in a store that may outlive the process. */
#ifndef ODC_PROTO_REPLAY_H
#define ODC_PROTO_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "proto/proto.h"

/* A store implements one atomic operation: insert the nonce unless it is
 * present. insert returns 0 when the nonce was new and is now stored (durably,
 * for a persistent store), 1 when it was present already, -1 on failure (the
 * caller then refuses the message: fail closed). purge forgets nonces whose
 * keep_until_ms is before now_ms and may be NULL. close releases the store and
 * may be NULL. */
struct replay_store_ops {
	int (*insert)(void *ctx, const uint8_t nonce[PROTO_NONCE_LEN], uint64_t keep_until_ms,
	              uint64_t now_ms);
	int (*purge)(void *ctx, uint64_t now_ms);
	void (*close)(void *ctx);
};

struct replay_guard {
	const struct replay_store_ops *ops;
	void *ctx;
};

/* Check and spend a nonce: PROTO_OK when new (now stored), PROTO_E_REPLAYED
 * when seen, PROTO_E_INTERNAL when the store failed. */
enum proto_err replay_check(struct replay_guard *g, const uint8_t nonce[PROTO_NONCE_LEN],
                            uint64_t keep_until_ms, uint64_t now_ms);

/* An in-memory store of at most max nonces (for tests, tools and the
 * coordinator's duplicate detection). When full of unexpired nonces it
 * refuses new ones (insert returns -1) rather than forget any.
 * Returns 0 or -1 on allocation failure. */
int replay_memory_open(struct replay_guard *g, size_t max);

/* Release the guard's store (NULL-safe on a zeroed guard). */
void replay_close(struct replay_guard *g);

#endif
