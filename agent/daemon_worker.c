/* odc-agent daemon's worker thread (daemon_int.h): runs one plan, or
 * resumes the unfinished one, and pushes its PROGRESS and signed RESULT
 * messages to the event loop over an inproc PUSH (ZeroMQ sockets are not
 * shared between threads); every RESULT goes to the journal's outbox
 * first. Also the sending of one message on a ZeroMQ socket, which the
 * event loop uses too. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "agent/daemon_int.h"
#include "agent/plan.h"
#include "common/log.h"

/* See daemon_int.h. */
int
daemon_send_frames(void *s, const uint8_t *hdr, const uint8_t *body, size_t blen,
                   const uint8_t *sig)
{
	int more = sig != NULL ? ZMQ_SNDMORE : 0;

	if (zmq_send(s, hdr, PROTO_HEADER_LEN, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
		return -1;
	if (zmq_send(s, body, blen, more | ZMQ_DONTWAIT) < 0)
		return -1;
	if (sig != NULL && zmq_send(s, sig, PROTO_SIGFRAME_LEN, ZMQ_DONTWAIT) < 0)
		return -1;
	return 0;
}

/* See daemon_int.h. */
int
daemon_send_msg(void *s, const struct proto_msg *m, const uint8_t *sk)
{
	struct proto_frames f;
	struct proto_error e;
	int rc;

	if (proto_encode(m, sk, &f, &e) != PROTO_OK) {
		log_err("cannot encode %s: %s", proto_type_name(m->type), e.msg);
		return -1;
	}
	rc = daemon_send_frames(s, f.header, f.body, f.body_len, f.nframes == 3 ? f.sig : NULL);
	proto_frames_free(&f);
	return rc;
}

static void
w_started(void *ctx, const char *job, const char *step)
{
	struct worker_arg *w = ctx;
	struct proto_msg m = {.type = PROTO_PROGRESS};

	m.u.progress =
	    (struct proto_progress){job, w->c->host_id, step, "running", proto_now_ms(), 0, ""};
	daemon_send_msg(w->pair, &m, NULL);
}

static void
w_note(void *ctx, const char *job, const char *step, const char *message)
{
	struct worker_arg *w = ctx;
	struct proto_msg m = {.type = PROTO_PROGRESS};
	char msg[513];

	/* The timing line comes after the final result: a live view must not
	 * see the job busy again, so it is logged only. */
	if (strcmp(step, "timing") == 0) {
		log_info("job %s: %s", job, message);
		return;
	}
	snprintf(msg, sizeof(msg), "%s", message);
	m.u.progress =
	    (struct proto_progress){job, w->c->host_id, step, "running", proto_now_ms(), 0, msg};
	daemon_send_msg(w->pair, &m, NULL);
}

static void
w_result(void *ctx, const struct proto_result *r)
{
	struct worker_arg *w = ctx;
	struct proto_msg m = {.type = PROTO_RESULT};
	struct proto_frames f;
	struct proto_error e;
	char err[256];

	m.u.result = *r;
	memcpy(m.u.result.incarnation, w->incarnation, PROTO_INCARN_LEN);
	if (r->final) {
		/* From the coordinator's view the job is over once this is out. */
		pthread_mutex_lock(&w->sh->mu);
		w->sh->final_sent = true;
		pthread_mutex_unlock(&w->sh->mu);
	}
	if (proto_encode(&m, w->kp->sk, &f, &e) != PROTO_OK) {
		log_err("job %s step %s: cannot encode the result: %s", r->job_id, r->step, e.msg);
		return;
	}
	/* Durable first: a result sent but not recorded could be lost. */
	if (journal_outbox_put(w->j, r->job_id, r->step, f.body, f.body_len, f.sig,
	                       PROTO_SIGFRAME_LEN, proto_now_ms(), err, sizeof(err)) != 0)
		log_err("job %s step %s: %s", r->job_id, r->step, err);
	daemon_send_frames(w->pair, f.header, f.body, f.body_len, f.sig);
	proto_frames_free(&f);
	/* The RESULT is the step's end: no PROGRESS repeats it (PROTOCOL.md 4). */
	log_info("job %s: %s %s: %s", r->job_id, r->step, r->status, r->message);
}

/* See daemon_int.h. */
void *
daemon_worker_main(void *arg)
{
	struct worker_arg *w = arg;
	struct plan_out out = {w_started, w_note, w_result, w};
	char err[1024] = "", path[4200];
	int rc = -1;

	int linger = 5000;
	w->pair = zmq_socket(w->zctx, ZMQ_PUSH);
	if (w->pair != NULL)
		zmq_setsockopt(w->pair, ZMQ_LINGER, &linger, sizeof(linger));
	if (w->pair == NULL || zmq_connect(w->pair, WORKER_ENDPOINT) != 0) {
		log_err("worker: cannot reach the event loop: %s", zmq_strerror(errno));
		goto out;
	}
	snprintf(path, sizeof(path), "%s/journal.db", w->c->state_dir);
	w->j = journal_open(path, err, sizeof(err));
	if (w->j == NULL) {
		log_err("worker: %s", err);
		goto out;
	}
	if (w->resume) {
		char job[65];
		rc = plan_resume(w->c, w->j, &out, job, err, sizeof(err));
		if (rc != 2)
			log_info("resumed job %s: %s", job,
			         rc == 0  ? "succeeded"
			         : err[0] ? err
			                  : "failed");
	} else {
		struct plan_request rq = {w->job,      w->action, w->params,
		                          w->n_params, w->phase,  w->deadline_ms};
		rc = plan_execute(w->c, w->j, &rq, &out, err, sizeof(err));
		if (rc != 0 && err[0] != '\0')
			log_warn("job %s: %s", w->job, err);
	}
out:
	journal_close(w->j);
	if (w->pair != NULL) {
		zmq_send(w->pair, "done", 4, 0);
		zmq_close(w->pair);
	}
	return NULL;
}

/* See daemon_int.h. */
struct worker_arg *
daemon_worker_arg_dispatch(const struct proto_dispatch *d, enum proto_err *code, const char **why)
{
	const struct proto_job *jb = &d->job;
	struct worker_arg *w = calloc(1, sizeof(*w));
	size_t used = 0;

	if (w == NULL) {
		*code = PROTO_E_INTERNAL;
		*why = "out of memory";
		return NULL;
	}
	snprintf(w->job, sizeof(w->job), "%s", jb->job_id);
	snprintf(w->action, sizeof(w->action), "%s", jb->action);
	snprintf(w->phase, sizeof(w->phase), "%s", d->phase);
	for (size_t i = 0; i < jb->n_params && i < 32; i++) {
		size_t kl = strlen(jb->params[i].key) + 1, vl = strlen(jb->params[i].value) + 1;
		if (used + kl + vl > sizeof(w->store))
			break;
		memcpy(w->store + used, jb->params[i].key, kl);
		memcpy(w->store + used + kl, jb->params[i].value, vl);
		w->params[w->n_params++] = (struct proto_kv){w->store + used, w->store + used + kl};
		used += kl + vl;
	}
	if (w->n_params != jb->n_params) {
		free(w);
		*code = PROTO_E_INVALID_PARAM;
		*why = "parameters too large";
		return NULL;
	}
	w->deadline_ms = proto_now_ms() + jb->policy.job_deadline_s * 1000u;
	return w;
}

/* See daemon_int.h. */
struct worker_arg *
daemon_worker_arg_resume(const char *job, const char *phase)
{
	struct worker_arg *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return NULL;
	w->resume = true;
	snprintf(w->job, sizeof(w->job), "%s", job);
	snprintf(w->phase, sizeof(w->phase), "%s", phase);
	return w;
}
