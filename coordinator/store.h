/* The coordinator's durable store: one SQLite database in WAL mode holding
 * enrolled hosts and their keys, pending keys, jobs, per-host job state,
 * agent-signed results (with their signatures) and an append-only audit
 * trail. Single-threaded: the coordinator's event loop is its only user.
 *
 * Every function returns 0 on success, STORE_CONFLICT / STORE_NOT_FOUND /
 * STORE_DUPLICATE where documented, or -1 with a message in err (which names
 * the database file). Strings passed in are copied; the caller keeps
 * ownership of its arguments. Reads hand rows to a callback (valid during
 * the call only); the JSON documents built from them are view.c's. Texts must be UTF-8 of at most 1
 * MiB and integers at most 2^63-1 (the protocol's bounds are far lower); anything else is -1. */
#ifndef ODC_COORDINATOR_STORE_H
#define ODC_COORDINATOR_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/keys.h"

#define STORE_CONFLICT  1
#define STORE_NOT_FOUND 2
#define STORE_DUPLICATE 3

#define STORE_PENDING_MAX 1000 /* pending keys kept, least recently seen dropped */

struct store;

/* Opens (creating it 0600 with O_EXCL when absent; a symlink is refused) the
 * database at path, sets WAL + synchronous=FULL + foreign keys, creates or
 * checks the schema (a user_version other than the one this code writes is
 * refused with a message naming it). Returns NULL with err on failure. */
struct store *store_open(const char *path, char *err, size_t errlen);
/* Closes; NULL is fine. An open transaction is rolled back. */
void store_close(struct store *s);

/* Group commit: the event loop opens one transaction per loop turn when it
 * has something to write, commits it, and only then sends the ACKs that
 * promise durability. store_begin inside a transaction is a no-op returning
 * 0; store_commit without one is a no-op returning 0. Every write function
 * below works inside or outside a transaction (outside: autocommit). */
int store_begin(struct store *s, char *err, size_t errlen);
int store_commit(struct store *s, char *err, size_t errlen);
bool store_in_tx(const struct store *s);
/* The database file's path, as the store's messages name it (owned by s). */
const char *store_path(const struct store *s);
/* The fingerprint of an Ed25519 (or, for a pending key, X25519) key as
 * keys_fingerprint computes it, "?" when it cannot be computed. */
void store_fingerprint(const uint8_t pk[32], char out[KEYS_FINGERPRINT_SIZE]);

/* ---- hosts and keys ---- */

/* One enrolled host as stored: state "accepted" or "revoked". */
struct store_host {
	const char *host_id;
	uint8_t pk[32];
	const char *state;
	uint64_t accepted_ms;
	uint64_t revoked_ms;       /* 0 when never revoked */
	const char *labels_json;   /* JSON object text, "{}" when unknown */
	uint64_t last_seen_ms;     /* 0 when never */
	const char *agent_version; /* "" when unknown */
	const char *address;       /* "" when unknown */
	const char *metadb_json;   /* JSON object, "" when unknown (coord.h, deploy.c) */
	const char *backup_json;   /* JSON object, "" when unknown (coord.h, deploy.c) */
};

/* Calls fn for every host (any state), ordered by host_id. The strings are
 * valid only during the call. fn returning non-zero stops the walk and that
 * value is returned. */
int store_hosts_each(struct store *s, int (*fn)(void *ctx, const struct store_host *h), void *ctx,
                     char *err, size_t errlen);

/* Accept host_id with pk. STORE_CONFLICT (message in err) when host_id is
 * accepted with another key, or pk belongs to another host id (in any state).
 * Re-accepting the same key for the same host: 0, *changed = false. A revoked
 * host accepted again (same or new key): state back to accepted, revoked_ms 0.
 * Removes pk's X25519 form from the pending keys (nothing when pk has none). */
int store_host_accept(struct store *s, const char *host_id, const uint8_t pk[32], uint64_t now_ms,
                      bool *changed, char *err, size_t errlen);
/* Revoke: STORE_NOT_FOUND when the host is unknown; revoking a revoked host is
 * 0 with *changed = false. The key stays recorded (it may not be reused by
 * another host). */
int store_host_revoke(struct store *s, const char *host_id, uint64_t now_ms, bool *changed,
                      char *err, size_t errlen);
/* Records what was last seen of a host (HELLO, lost/online transitions).
 * labels_json, agent_version or address NULL: that value is left as it is.
 * STORE_NOT_FOUND when unknown. */
int store_host_seen(struct store *s, const char *host_id, uint64_t last_seen_ms,
                    const char *labels_json, const char *agent_version, const char *address,
                    char *err, size_t errlen);

/* Records the metadb identity (JSON object text) a host's ODC uses.
 * STORE_NOT_FOUND when unknown. */
int store_host_metadb(struct store *s, const char *host_id, const char *metadb_json, char *err,
                      size_t errlen);

/* Records what a host's latest rollback check found at its backup path
 * (JSON object text: deploy.c). STORE_NOT_FOUND when unknown. */
int store_host_backup(struct store *s, const char *host_id, const char *backup_json, char *err,
                      size_t errlen);

/* Pending keys: X25519 keys refused by ZAP (a CURVE handshake shows only
 * that form; the Ed25519 key cannot be recovered from it, so a pending key
 * is listed, never accepted by pointing at it). store_pending_note inserts or
 * bumps (last_ms, attempts + 1, address) one X25519 key, then trims the table
 * to STORE_PENDING_MAX rows by dropping the least recently seen. It does not
 * look at the hosts: the coordinator notes only keys that belong to no host
 * (in any state). */
int store_pending_note(struct store *s, const uint8_t curve[32], const char *address,
                       uint64_t now_ms, char *err, size_t errlen);
/* One pending key as stored. */
struct store_pending {
	uint8_t curve[32]; /* the X25519 key */
	const char *address;
	uint64_t first_ms;
	uint64_t last_ms;
	uint64_t attempts;
};
/* Calls fn for every pending key, most recently seen first. The strings are
 * valid only during the call; fn returning non-zero stops the walk and that
 * value is returned. */
int store_pending_each(struct store *s, int (*fn)(void *ctx, const struct store_pending *p),
                       void *ctx, char *err, size_t errlen);

/* ---- jobs ---- */

/* A job as stored. The JOB body and signature frame are kept verbatim: the
 * coordinator rebuilds DISPATCHes from them after a restart. */
struct store_job {
	const char *job_id;
	const char *action;
	const char *operator_name;
	const char *reason;
	const uint8_t *body; /* the JOB body as signed */
	size_t body_len;
	uint8_t sig[96];        /* the JOB's signature frame */
	const uint8_t *targets; /* the JOB's target list frame (frame 3) */
	size_t targets_len;
	uint64_t created_ms;
	uint64_t expires_ms;
	uint64_t submitted_ms;
	uint64_t deadline_ms;
	uint64_t ended_ms; /* 0 while not ended */
	const char *state; /* running paused succeeded failed halted aborted */
	const char *stage; /* quorum preflight canary batches done */
	uint64_t batch;    /* batches started */
	const char *message;
};

/* Inserts a new job and its target rows (state "pending", order 0..n-1,
 * role "", batch 0). STORE_CONFLICT when job_id exists. */
int store_job_insert(struct store *s, const struct store_job *j, const char *const *targets,
                     size_t n_targets, char *err, size_t errlen);
/* Updates state, stage, batch, message, ended_ms of a job. STORE_NOT_FOUND
 * when unknown. */
int store_job_update(struct store *s, const char *job_id, const char *state, const char *stage,
                     uint64_t batch, const char *message, uint64_t ended_ms, char *err,
                     size_t errlen);
/* Calls fn for every job whose state is in states (NULL-terminated list;
 * NULL = every job), oldest submitted first. Strings and body valid during
 * the call only. */
int store_jobs_each(struct store *s, const char *const *states,
                    int (*fn)(void *ctx, const struct store_job *j), void *ctx, char *err,
                    size_t errlen);
/* One job; STORE_NOT_FOUND when unknown. fn is called once. */
int store_job_get(struct store *s, const char *job_id,
                  int (*fn)(void *ctx, const struct store_job *j), void *ctx, char *err,
                  size_t errlen);

/* Per-host state of a job. */
struct store_job_host {
	const char *job_id;
	const char *host_id;
	uint64_t order;
	const char *role; /* "", canary, batch */
	uint64_t batch;
	const char
	    *state; /* pending preflight ready running succeeded failed skipped unreachable */
	const char *phase; /* "", preflight, run, revert */
	const char *step;
	const char *failed_step;
	const char *message;
	uint64_t updated_ms;
	uint64_t dispatch_expires_ms; /* 0: no dispatch awaits its answer */
	int64_t unit;       /* the order of the first target of its rollout unit; -1: its own */
	const char *revert; /* "", due, running, ok, failed (proto_revert_name) */
	const char *revert_message; /* what its revert did, or why it was not done */
};

/* Updates the row (job_id, host_id) with every field of h but order, which
 * the JOB's targets fixed at insert. STORE_NOT_FOUND when there is no such
 * row. */
int store_job_host_update(struct store *s, const struct store_job_host *h, char *err,
                          size_t errlen);
/* Calls fn for each target row of the job in order. */
int store_job_hosts_each(struct store *s, const char *job_id,
                         int (*fn)(void *ctx, const struct store_job_host *h), void *ctx, char *err,
                         size_t errlen);

/* ---- results ---- */

/* One agent-signed RESULT as received. */
struct store_result {
	const char *job_id;
	const char *host_id;
	const char *step;
	const char *status;
	int64_t exit_code;
	uint64_t started_ms;
	uint64_t duration_ms;
	const char *message;
	const char *output_tail;
	const char *data_json; /* JSON object text */
	bool final;
	uint8_t incarnation[16];
	const uint8_t *body; /* the RESULT body exactly as received */
	size_t body_len;
	uint8_t sig[96]; /* its signature frame */
	uint64_t received_ms;
};

/* Stores a result once per (job_id, host_id, step): STORE_DUPLICATE when
 * that triple is stored already (nothing changes). STORE_NOT_FOUND when the
 * job is unknown or host_id is not one of its targets. */
int store_result_insert(struct store *s, const struct store_result *r, char *err, size_t errlen);
/* Whether job_id is stored (false on a read error too). */
bool store_job_exists(struct store *s, const char *job_id);
/* Which results of a job to read, and how many at most. */
struct store_results_query {
	const char *job_id;
	const char *host_id; /* NULL: every host */
	const char *step;    /* NULL: every step */
	uint64_t after;      /* only results whose seq is above this (0: from the first) */
	size_t limit;        /* at most this many results */
	size_t max_bytes;    /* and about this many bytes (at least one result) */
};
/* Calls fn for each result of q->job_id (only host_id's, step's when they
 * are not NULL) whose seq is above q->after, in receipt order, with its seq
 * (the receipt order). q->limit and q->max_bytes are the page's bounds,
 * which the caller applies (view_results_page): fn returning non-zero stops
 * the walk and that value is returned. r and its strings are valid during
 * the call only. */
int store_results_each(struct store *s, const struct store_results_query *q,
                       int (*fn)(void *ctx, const struct store_result *r, uint64_t seq), void *ctx,
                       char *err, size_t errlen);
/* Whether a RESULT of job_id from host_id may be taken: the job's action in
 * action, and in *is_target whether host_id is one of its targets, with the
 * phase last dispatched to it ("" when none) in phase. STORE_NOT_FOUND when
 * the job is unknown. */
int store_job_target(struct store *s, const char *job_id, const char *host_id, char action[33],
                     char phase[10], bool *is_target, char *err, size_t errlen);
/* Number of stored results of a job (all hosts); -1 on error. */
int64_t store_results_count(struct store *s, const char *job_id, char *err, size_t errlen);

/* ---- audit ---- */

/* Appends one audit row. who: "operator NAME", "local:NAME", "coordinator";
 * what: e.g. "job-submit", "key-accept", "job-halt"; job_id and hosts_json
 * (a JSON array text) may be NULL; outcome: "ok", "refused", "halted", ...;
 * detail: free text. The table refuses UPDATE and DELETE (triggers). */
int store_audit(struct store *s, uint64_t at_ms, const char *who, const char *what,
                const char *job_id, const char *hosts_json, const char *outcome, const char *detail,
                char *err, size_t errlen);
/* One audit row as stored. */
struct store_audit_row {
	int64_t id;
	int64_t at_ms;
	const char *who;
	const char *what;
	const char *job_id;     /* NULL when the row names no job */
	const char *hosts_json; /* JSON array text; NULL when the row names no hosts */
	const char *outcome;
	const char *detail;
};
/* Calls fn for each audit row, newest first, at most limit rows, only
 * job_id's when job_id is not NULL. The strings are valid only during the
 * call; fn returning non-zero stops the walk and that value is returned. */
int store_audit_each(struct store *s, const char *job_id, size_t limit,
                     int (*fn)(void *ctx, const struct store_audit_row *a), void *ctx, char *err,
                     size_t errlen);

#endif
