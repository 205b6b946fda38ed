/* The JSON documents the control socket sends about what the store holds
 * (PROTOCOL.md 9.2): keys, pending keys, a job's results and the audit
 * trail. The store hands rows to a callback; this module alone decides how
 * they look on the wire.
 *
 * Every function returns a new JSON array the caller owns (json_decref), or
 * NULL with a message in err (naming the database file) on failure. */
#ifndef ODC_COORDINATOR_VIEW_H
#define ODC_COORDINATOR_VIEW_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "coordinator/store.h"

/* A result object's body_hex is an array of hex strings of at most this
 * many digits each, whose concatenation is the RESULT body in hex. */
#define VIEW_HEX_CHUNK 65536

/* {curve_fingerprint ("SHA256:" and the first 16 bytes of SHA-256 of the
 * X25519 key in lowercase hex, as keys_fingerprint computes), curve_key (64
 * lowercase hex digits), address, first_ms, last_ms, attempts}, most
 * recently seen first. */
json_t *view_pending_json(struct store *s, char *err, size_t errlen);
/* {host, state, fingerprint, public_key, accepted_ms, revoked_ms (null when
 * never)}, ordered by host. */
json_t *view_keys_json(struct store *s, char *err, size_t errlen);
/* Result objects (PROTOCOL.md 9.1) with `host` and `seq` (the receipt
 * order, a cursor for the next page), in receipt order: at most q->limit,
 * and about q->max_bytes (at least one). *next is the `after` of the next
 * page when the page stopped at a bound, else 0. */
json_t *view_results_page(struct store *s, const struct store_results_query *q, uint64_t *next,
                          char *err, size_t errlen);
/* {id, at_ms, who, what, job_id, hosts (array or null), outcome, detail},
 * newest first, at most limit rows, only job_id's when job_id is not NULL. */
json_t *view_audit_json(struct store *s, const char *job_id, size_t limit, char *err,
                        size_t errlen);

#endif
