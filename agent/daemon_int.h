/* odc-agent daemon's internals, shared by daemon.c (the event loop and
 * the link to the coordinator) and daemon_worker.c (the thread that runs a
 * plan) and by nobody else. */
#ifndef ODC_AGENT_DAEMON_INT_H
#define ODC_AGENT_DAEMON_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/agent.h"
#include "agent/journal.h"
#include "common/keys.h"
#include "proto/proto.h"

/* The event loop binds a PULL here; each worker connects a PUSH. */
#define WORKER_ENDPOINT "inproc://odc-agent-worker"

/* What the worker and the event loop share, under the mutex. */
struct shared {
	pthread_mutex_t mu;
	bool busy;
	bool final_sent; /* the job's final RESULT is out; only its teardown is left */
	char job[PROTO_ID_MAX + 1];
	char phase[33];
	char step[33];
};

struct worker_arg {
	const struct agent_conf *c;
	struct keys_pair *kp;
	void *zctx;
	struct shared *sh;
	uint8_t incarnation[PROTO_INCARN_LEN];
	bool resume; /* run plan_resume instead of rq */
	char job[PROTO_ID_MAX + 1];
	char action[33];
	char phase[33];
	struct proto_kv params[32];
	size_t n_params;
	char store[8192]; /* params' strings */
	uint64_t deadline_ms;
	/* worker-owned */
	void *pair;
	struct journal *j;
};

/* Sends frames (header, body[, sig]) on the ZeroMQ socket s without
 * blocking: sig NULL sends two frames. 0, or -1 when a frame could not be
 * queued (errno from zmq_send). */
int daemon_send_frames(void *s, const uint8_t *hdr, const uint8_t *body, size_t blen,
                       const uint8_t *sig);

/* Encodes m (signed with sk when not NULL) and sends it on s as
 * daemon_send_frames() does. 0, or -1 (logged when it cannot be encoded). */
int daemon_send_msg(void *s, const struct proto_msg *m, const uint8_t *sk);

/* A new worker_arg for the admitted DISPATCH d: its job, action and phase,
 * its parameters copied into the arg's store, its deadline from the job's
 * policy. The caller owns it (free()). NULL when it cannot be made, with
 * the NACK's code and message in *code and *why: PROTO_E_INTERNAL (out of
 * memory) or PROTO_E_INVALID_PARAM (parameters too large). */
struct worker_arg *daemon_worker_arg_dispatch(const struct proto_dispatch *d, enum proto_err *code,
                                              const char **why);

/* A new worker_arg that resumes phase of job, the plan a previous life of
 * the agent left unfinished. The caller owns it (free()); NULL when out of
 * memory. */
struct worker_arg *daemon_worker_arg_resume(const char *job, const char *phase);

/* The worker thread (pthread_create's start routine): arg is a struct
 * worker_arg the event loop owns and frees after the worker's "done".
 * Runs arg's plan (or resumes the unfinished one), each message pushed to
 * the loop over WORKER_ENDPOINT, then "done". The PUSH socket and the
 * journal connection it opens are its own, closed before it returns. */
void *daemon_worker_main(void *arg);

#endif
