/* odc-fleet wire protocol v1: message types, encoding, bounded decoding and
 * the receive procedures of PROTOCOL.md. Nothing here exits or aborts. */
#ifndef ODC_PROTO_H
#define ODC_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define PROTO_VERSION           2
#define PROTO_MAGIC0            0x4F /* 'O' */
#define PROTO_MAGIC1            0x44 /* 'D' */
#define PROTO_HEADER_LEN        4
#define PROTO_PK_LEN            32
#define PROTO_SIG_LEN           64
#define PROTO_SIGFRAME_LEN      96 /* public key || signature */
#define PROTO_SK_LEN            64 /* libsodium's Ed25519 secret key: seed || public key */
#define PROTO_NONCE_LEN         16
#define PROTO_INCARN_LEN        16
#define PROTO_ID_MAX            64
#define PROTO_MAX_DEPTH         6
#define PROTO_MAX_TARGETS       10000
#define PROTO_HASH_LEN          32      /* SHA-256: the target list's Merkle tree */
#define PROTO_PROOF_MAX         32      /* bound of a DISPATCH's inclusion proof */
#define PROTO_TARGETS_MAX_BYTES 1048576 /* a JOB's frame 3 */
#define PROTO_SKEW_MS           30000   /* default allowed clock skew */
/* Every uint on the wire is at most 2^63-1: it survives JSON (int64) and
 * instant + skew cannot overflow. */
#define PROTO_UINT_MAX ((uint64_t)INT64_MAX)

/* Message type codes: the fourth header byte. */
enum proto_type {
	PROTO_HELLO = 0x01,
	PROTO_WELCOME = 0x02,
	PROTO_HEARTBEAT = 0x03,
	PROTO_PROGRESS = 0x04,
	PROTO_RESULT = 0x05,
	PROTO_ACK = 0x06,
	PROTO_NACK = 0x07,
	PROTO_JOB = 0x10,
	PROTO_DISPATCH = 0x11,
	PROTO_REQUEST = 0x20,
	PROTO_REPLY = 0x21,
};

/* Error codes; the numbers travel in NACK and REPLY, never renumber. */
enum proto_err {
	PROTO_OK = 0,
	PROTO_E_FRAMES = 1,
	PROTO_E_HEADER = 2,
	PROTO_E_VERSION = 3,
	PROTO_E_TYPE = 4,
	PROTO_E_TOO_BIG = 5,
	PROTO_E_MALFORMED = 6,
	PROTO_E_TRAILING = 7,
	PROTO_E_DEPTH = 8,
	PROTO_E_LIMIT = 9,
	PROTO_E_SCHEMA = 10,
	PROTO_E_VALUE = 11,
	PROTO_E_UNKNOWN_KEY = 12,
	PROTO_E_BAD_SIGNATURE = 13,
	PROTO_E_EXPIRED = 14,
	PROTO_E_REPLAYED = 15,
	PROTO_E_NOT_TARGET = 16,
	PROTO_E_UNKNOWN_ACTION = 17,
	PROTO_E_INVALID_PARAM = 18,
	PROTO_E_BUSY = 19,
	PROTO_E_DENIED = 20,
	PROTO_E_INTERNAL = 21,
	PROTO_E_NOT_FOUND = 22,
	PROTO_E_CONFLICT = 23,
};
#define PROTO_E_MAX PROTO_E_CONFLICT

/* An error: its code and a message that names the field and the problem. */
struct proto_error {
	enum proto_err code;
	char msg[256];
};

/* Names: "HEARTBEAT", "BAD_SIGNATURE"; NULL for an unknown value. */
const char *proto_type_name(int type);
const char *proto_err_name(int code);
/* Parse a name back; returns -1 when unknown. */
int proto_type_from_name(const char *name);
int proto_err_from_name(const char *name);
/* Largest body the type allows, 0 for an unknown type. */
size_t proto_type_max_body(int type);
/* True for JOB, DISPATCH and RESULT, which carry a signature frame. */
bool proto_type_signed(int type);

struct proto_kv {
	const char *key;
	const char *value;
};

struct proto_hello {
	const char *host_id;
	const char *agent_version;
	uint8_t incarnation[PROTO_INCARN_LEN];
	struct proto_kv *labels;
	size_t n_labels;
	const char **capabilities;
	size_t n_capabilities;
	uint64_t sent_ms;
};

struct proto_welcome {
	const char *coordinator_id;
	uint64_t heartbeat_ms;
	uint64_t lost_after;
	uint64_t now_ms;
};

struct proto_container {
	const char *container_id;
	const char *name;
	const char *image;
	const char *state;
	const char *health;
	const char *version;
};

struct proto_disk {
	const char *path;
	uint64_t free_bytes;
	uint64_t total_bytes;
};

/* The metadb an ODC container uses, from its DATABASE_* env as the agent
 * normalized it (PROTOCOL.md 4, HEARTBEAT): nodes with equal ones share one
 * metadb and form one deployment. Never the user or the password. */
struct proto_metadb {
	const char *host;
	uint64_t port;
	const char *tenant;
	const char *cluster;
	const char *database;
};

struct proto_heartbeat {
	const char *host_id;
	uint8_t incarnation[PROTO_INCARN_LEN];
	uint64_t seq;
	uint64_t sent_ms;
	bool has_odc;
	struct proto_container odc;
	bool has_job;
	const char *job_id;
	const char *job_step;
	struct proto_disk *disks;
	size_t n_disks;
	bool has_metadb;
	struct proto_metadb metadb;
};

struct proto_progress {
	const char *job_id;
	const char *host_id;
	const char *step;
	const char *status;
	uint64_t at_ms;
	uint64_t percent;
	const char *message;
};

struct proto_result {
	const char *job_id;
	const char *host_id;
	const char *step;
	const char *status;
	int64_t exit_code;
	uint64_t started_ms;
	uint64_t duration_ms;
	const char *message;
	const char *output_tail;
	struct proto_kv *data;
	size_t n_data;
	bool final;
	uint8_t incarnation[PROTO_INCARN_LEN];
};

/* ACK and NACK share a layout; code and message are NACK's only. */
struct proto_ack {
	uint64_t ref_type;
	const char *job_id;
	const char *host_id;
	const char *step;
	uint8_t nonce[PROTO_NONCE_LEN];
	size_t nonce_len; /* 0 or 16 */
	uint64_t code;
	const char *message;
};

struct proto_policy {
	uint64_t canary;
	uint64_t batch;
	bool batch_pct;
	uint64_t budget;
	bool budget_pct;
	uint64_t quorum_pct;
	uint64_t step_deadline_s;
	uint64_t job_deadline_s;
};

struct proto_job {
	const char *job_id;
	const char *action;
	struct proto_kv *params;
	size_t n_params;
	/* Signed (field 3): the target list's length and Merkle root
	 * (PROTOCOL.md section 2). Encoding computes both from the list. */
	uint64_t target_count;
	uint8_t target_root[PROTO_HASH_LEN];
	/* The target list itself (the JOB message's frame 3), in order. Needed
	 * to encode; filled when a JOB message (4 frames) or a stored JOB
	 * (proto_decode_job) is decoded; NULL/0 in a DISPATCH's job. */
	const char **targets;
	size_t n_targets;
	struct proto_policy policy;
	uint64_t created_ms;
	uint64_t expires_ms;
	const char *operator_name;
	const char *reason;
};

struct proto_dispatch {
	const uint8_t *job_bytes; /* the operator-signed JOB body */
	size_t job_len;
	uint8_t job_sig[PROTO_SIGFRAME_LEN];
	const char *host_id;
	const char *phase;
	uint64_t not_before_ms;
	uint64_t expires_ms;
	uint8_t nonce[PROTO_NONCE_LEN];
	/* Where host_id stands in the job's target list, and its inclusion
	 * proof (bottom first). The coordinator fills them from
	 * proto_merkle_proof(); the agent's receive procedure checks them. */
	uint64_t proof_index;
	uint8_t proof[PROTO_PROOF_MAX][PROTO_HASH_LEN];
	size_t proof_len;
	struct proto_job job; /* filled by decoding; ignored when encoding */
};

/* REQUEST args and REPLY body are JSON-shaped (no floats, no bins); the
 * message holds one reference. */
struct proto_request {
	uint64_t request_id;
	const char *command;
	json_t *args; /* an object */
};

struct proto_reply {
	uint64_t request_id;
	uint64_t code;
	const char *message;
	json_t *body; /* may be NULL for nil */
};

struct proto_arena;

/* One message. For encoding, the caller fills type and the union member and
 * keeps the pointed-to data alive. A decoded message owns everything it
 * points to; free it with proto_msg_free(). */
struct proto_msg {
	enum proto_type type;
	bool is_signed;
	uint8_t signer[PROTO_PK_LEN]; /* decoded signed messages: who signed */
	union {
		struct proto_hello hello;
		struct proto_welcome welcome;
		struct proto_heartbeat heartbeat;
		struct proto_progress progress;
		struct proto_result result;
		struct proto_ack ack; /* ACK and NACK */
		struct proto_job job;
		struct proto_dispatch dispatch;
		struct proto_request request;
		struct proto_reply reply;
	} u;
	struct proto_arena *arena; /* private */
	struct proto_msg *inner;   /* private: a DISPATCH's decoded JOB */
};

void proto_msg_free(struct proto_msg *m);

/* Encoded frames: header, body, for signed types the signature frame, and
 * for a JOB the target list. body and targets are malloc'd; free with
 * proto_frames_free(). */
struct proto_frames {
	uint8_t header[PROTO_HEADER_LEN];
	uint8_t *body;
	size_t body_len;
	uint8_t sig[PROTO_SIGFRAME_LEN];
	uint8_t *targets; /* JOB only: frame 3 */
	size_t targets_len;
	int nframes; /* 2, 3 or 4 */
};

void proto_frames_free(struct proto_frames *f);

/* Encode m. Signed types need the signer's 64-byte secret key (sk), which
 * is only read. The result is checked against the same rules a receiver
 * applies, so nothing invalid leaves; on error *out is untouched. */
enum proto_err proto_encode(const struct proto_msg *m, const uint8_t *sk, struct proto_frames *out,
                            struct proto_error *err);

/* Sign a body of the given type exactly as section 2 of PROTOCOL.md says,
 * writing public key || signature into sigframe. Returns 0, -1 on failure. */
int proto_sign_body(int type, const uint8_t *body, size_t len, const uint8_t *sk,
                    uint8_t sigframe[PROTO_SIGFRAME_LEN]);
/* Verify sigframe over body for type; returns 0 when it verifies. */
int proto_verify_body(int type, const uint8_t *body, size_t len,
                      const uint8_t sigframe[PROTO_SIGFRAME_LEN]);

/* Frames a receiver reads (PROTOCOL.md section 1, "Frame limits"): at
 * most the largest body it accepts plus PROTO_FRAME_SLACK bytes, so that a
 * body just over its bound still arrives and is answered TOO_BIG. A peer's
 * longer frame makes libzmq close the connection unread (ZMQ_MAXMSGSIZE),
 * which counts a frame as it travels: under CURVE, its content plus
 * PROTO_CURVE_OVERHEAD bytes (ZMTP-CURVE's MESSAGE command: its name 8,
 * nonce 8, MAC 16 and flags 1). */
#define PROTO_FRAME_SLACK    4096
#define PROTO_CURVE_OVERHEAD 33

/* Who receives: decides which types are accepted and which checks follow. */
enum proto_receiver {
	PROTO_RCV_AGENT,       /* WELCOME ACK NACK DISPATCH */
	PROTO_RCV_COORDINATOR, /* HELLO HEARTBEAT PROGRESS RESULT ACK NACK */
	PROTO_RCV_CONTROL,     /* JOB REQUEST (the coordinator's control socket) */
	PROTO_RCV_CLI,         /* REPLY */
	PROTO_RCV_ANY,         /* every type, steps 1-6 only (tools, stored evidence) */
};

/* The longest frame the receiver reads: the largest body of a type it
 * accepts plus PROTO_FRAME_SLACK (PROTOCOL.md section 1). */
size_t proto_frame_limit(enum proto_receiver r);

/* Answers whether pk is trusted to sign messages of this type (JOB:
 * operators, DISPATCH: coordinators, RESULT: the sending agent). */
typedef bool (*proto_trust_fn)(void *ctx, int type, const uint8_t pk[PROTO_PK_LEN]);

struct replay_guard;

/* What an agent's ACK or NACK of a DISPATCH names (PROTOCOL.md section 7,
 * "Answers"): only fields verified before the answer was decided, "" and no
 * nonce for the others. From step 7 on (the DISPATCH's own signature
 * verified, its body decoded): host_id, step (the phase) and nonce; from
 * step 9 on (its job's signature verified too, the job decoded): job_id. */
struct proto_refs {
	char job_id[PROTO_ID_MAX + 1];
	char host_id[PROTO_ID_MAX + 1];
	char step[33];
	uint8_t nonce[PROTO_NONCE_LEN];
	size_t nonce_len; /* 0 or PROTO_NONCE_LEN */
};

/* A receiver's own parameter rules (PROTOCOL.md section 5: an agent's
 * backup roots), run at step 11 after the action table. Returns true when
 * the job's params pass; otherwise writes why (for a human). */
typedef bool (*proto_params_fn)(void *ctx, const struct proto_job *job, char *why, size_t whylen);

struct proto_ctx {
	enum proto_receiver receiver;
	proto_trust_fn trusted;
	void *trust_ctx;
	const char *host_id; /* agent: its own id; coordinator: the peer's bound id */
	uint64_t now_ms;
	uint64_t skew_ms;
	struct replay_guard *replay; /* agent: required for DISPATCH */
	const char *busy_job;        /* agent: job in progress, or NULL */
	proto_params_fn params_ok;   /* agent: its own rules, or NULL */
	void *params_ctx;
	/* When not NULL, filled on every return of proto_receive() for a
	 * DISPATCH (and cleared for anything else): what its answer names. */
	struct proto_refs *refs;
};

/* A received frame (not owned). */
struct proto_frame {
	const uint8_t *data;
	size_t len;
};

/* The receive procedure of PROTOCOL.md section 7. On PROTO_OK, *out is a
 * new message the caller frees; otherwise *out is NULL and err says why.
 * The frames must stay valid only during the call. */
enum proto_err proto_receive(const struct proto_frame *frames, size_t nframes,
                             const struct proto_ctx *ctx, struct proto_msg **out,
                             struct proto_error *err);

/* Steps 1-6 only for one body of a known type, without signature checks:
 * for bodies whose signature was already verified (a DISPATCH's job, stored
 * evidence). */
enum proto_err proto_decode_body(int type, const uint8_t *body, size_t len, struct proto_msg **out,
                                 struct proto_error *err);

/* A stored JOB: its body (signature already checked) and its target list
 * frame, decoded and matched (count and Merkle root) as the control
 * socket does. On PROTO_OK *out->u.job.targets is filled. */
enum proto_err proto_decode_job(const uint8_t *body, size_t blen, const uint8_t *list, size_t llen,
                                struct proto_msg **out, struct proto_error *err);

/* ---- the target list's Merkle tree (PROTOCOL.md section 2, RFC 9162) ---- */

/* LEAF(id) = SHA-256(0x00 || id). */
void proto_merkle_leaf(const char *id, uint8_t out[PROTO_HASH_LEN]);
/* MTH of the n ids (n >= 1). Returns 0, -1 when n is 0 or memory ran out. */
int proto_merkle_root(const char *const *ids, size_t n, uint8_t root[PROTO_HASH_LEN]);
/* A whole tree, for proofs of every position (the coordinator builds one
 * per job). NULL when n is 0 or memory ran out. */
struct proto_merkle;
struct proto_merkle *proto_merkle_new(const char *const *ids, size_t n);
void proto_merkle_free(struct proto_merkle *t);
void proto_merkle_root_of(const struct proto_merkle *t, uint8_t root[PROTO_HASH_LEN]);
/* PATH(index): writes the proof into path, returns its length (0 for a
 * one-id list); index must be < n. */
size_t proto_merkle_proof(const struct proto_merkle *t, size_t index,
                          uint8_t path[PROTO_PROOF_MAX][PROTO_HASH_LEN]);
/* Section 2's verification: id at index of a list of count ids with root. */
bool proto_merkle_verify(const char *id, uint64_t index, uint64_t count,
                         const uint8_t (*path)[PROTO_HASH_LEN], size_t len,
                         const uint8_t root[PROTO_HASH_LEN]);

/* The decoded form of PROTOCOL.md section 10 (a new reference), or NULL. */
json_t *proto_msg_to_json(const struct proto_msg *m);

/* The bounded structural scan of section 3 (exposed for fuzzing and tests). */
enum proto_err proto_scan(const uint8_t *p, size_t n, struct proto_error *err);

/* Action table (section 5). */
enum proto_err proto_action_check(const char *action, const char *phase,
                                  const struct proto_kv *params, size_t n_params,
                                  struct proto_error *err);
/* Whether step is one an agent may report (RESULT.step) for action in phase
 * ("preflight", "run" or "revert"): section 5's step column. */
bool proto_action_step(const char *action, const char *phase, const char *step);
/* The action table's rows, for fixed label sets (metrics): how many, the
 * name of row i (NULL past the end), the row of action (-1 when unknown). */
#define PROTO_ACTIONS_MAX      16
#define PROTO_ACTION_STEPS_MAX 7 /* steps of one phase, and distinct steps of an action */
size_t proto_action_count(void);
const char *proto_action_name(size_t i);
int proto_action_index(const char *action);
/* Whether action takes parameter param at all. */
bool proto_action_takes(const char *action, const char *param);
/* Whether action has a preflight phase (run everywhere before any host
 * changes: backup, rollback, undo); false for an unknown action. */
bool proto_action_has_preflight(const char *action);
/* Whether action has a revert phase (the undo of its run phase under the
 * job's own id: upgrade); false for an unknown action. */
bool proto_action_has_revert(const char *action);
/* Whether action restores a deployment's one metadb, so that its targets are
 * rolled out a deployment at a time with every node targeted (rollback,
 * undo, upgrade; PROTOCOL.md 9.2); false for an unknown action. */
bool proto_action_by_deployment(const char *action);
/* Whether a job's parameters ask for a dry run (dry_run=true). */
bool proto_dry_run(const struct proto_kv *params, size_t n);
/* Whether a job of action with these parameters may change its hosts: false
 * for the read-only actions (ping, status, logs, preflight) and dry runs. */
bool proto_action_changes(const char *action, const struct proto_kv *params, size_t n);
/* The distinct steps action reports, preflight phase first, at most max in
 * out (static strings). Returns how many. */
size_t proto_action_steps(const char *action, const char **out, size_t max);
/* Parameter value of a decoded job, or NULL. */
const char *proto_param(const struct proto_kv *params, size_t n, const char *key);
/* Format checkers of sections 3 and 5, usable by the CLI before signing. */
bool proto_valid_id(const char *s);
bool proto_valid_step(const char *s);
bool proto_valid_tag(const char *s);
bool proto_valid_path(const char *s);
/* Which of section 5's path rules s breaks, for a message ("a path has no
 * //"), or NULL when it is a valid path. */
const char *proto_path_problem(const char *s);

/* ---- job, stage and target states (PROTOCOL.md 9.1) ---- */

/* A job's state, its rollout stage and each target's state: the values the
 * coordinator keeps and the words ("halted") it stores and the control
 * socket sends. Never renumber: the coordinator sizes arrays by them. */
enum proto_job_state {
	PROTO_JOB_RUNNING,
	PROTO_JOB_PAUSED,
	PROTO_JOB_SUCCEEDED,
	PROTO_JOB_FAILED,
	PROTO_JOB_HALTED,
	PROTO_JOB_ABORTED,
};
#define PROTO_JOB_STATES (PROTO_JOB_ABORTED + 1)
enum proto_job_stage {
	PROTO_STAGE_QUORUM,
	PROTO_STAGE_PREFLIGHT,
	PROTO_STAGE_CANARY,
	PROTO_STAGE_BATCHES,
	PROTO_STAGE_DONE,
};
#define PROTO_JOB_STAGES (PROTO_STAGE_DONE + 1)
enum proto_host_state {
	PROTO_HOST_PENDING,
	PROTO_HOST_PREFLIGHT,
	PROTO_HOST_READY,
	PROTO_HOST_RUNNING,
	PROTO_HOST_SUCCEEDED,
	PROTO_HOST_FAILED,
	PROTO_HOST_SKIPPED,
	PROTO_HOST_UNREACHABLE,
};
#define PROTO_HOST_STATES (PROTO_HOST_UNREACHABLE + 1)
/* A target's automatic revert (an action with a revert phase, PROTOCOL.md
 * 9.1): none, due (its deployment failed; not sent yet), running, ok,
 * failed. */
enum proto_revert {
	PROTO_REVERT_NONE,
	PROTO_REVERT_DUE,
	PROTO_REVERT_RUNNING,
	PROTO_REVERT_OK,
	PROTO_REVERT_FAILED,
};
#define PROTO_REVERTS (PROTO_REVERT_FAILED + 1)

/* The word for a value (static); NULL for a value out of range. */
const char *proto_job_state_name(int s);
const char *proto_job_stage_name(int s);
const char *proto_host_state_name(int s);
const char *proto_revert_name(int s);
/* The value of a word; -1 for NULL or a word that is none. */
int proto_job_state_from_name(const char *name);
int proto_job_stage_from_name(const char *name);
int proto_host_state_from_name(const char *name);
int proto_revert_from_name(const char *name);
/* Final states never change again: a job that ended (succeeded, failed,
 * halted, aborted); a target that succeeded, failed, was skipped or is
 * unreachable. False for -1 and other values out of range. */
bool proto_job_state_final(int s);
bool proto_host_state_final(int s);
/* Whether a target's state counts against the failure budget (failed,
 * unreachable). */
bool proto_host_state_failed(int s);

/* Milliseconds since the epoch, from CLOCK_REALTIME. */
uint64_t proto_now_ms(void);

#endif
