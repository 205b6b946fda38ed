/* The event loop's turn: messages sent to the agents and the control
 * clients, RESULT ACKs held until the turn's store commit, and audit rows.
 * Everything runs on the loop's thread. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "common/log.h"
#include "coordinator/coord.h"

/* A queued RESULT ACK: sent after the commit that makes it true. */
struct pending_send {
	uint8_t rid[COORD_RID_MAX];
	size_t rid_len;
	struct proto_frames f;
};

int
coord_send(void *sock, const uint8_t *rid, size_t rid_len, const struct proto_frames *f)
{
	int more = f->nframes >= 3 ? ZMQ_SNDMORE : 0;

	if (zmq_send(sock, rid, rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
		return -1;
	if (zmq_send(sock, f->header, PROTO_HEADER_LEN, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
		return -1;
	if (zmq_send(sock, f->body, f->body_len, more | ZMQ_DONTWAIT) < 0)
		return -1;
	if (more && zmq_send(sock, f->sig, PROTO_SIGFRAME_LEN,
	                     (f->nframes == 4 ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT) < 0)
		return -1;
	if (f->nframes == 4 && zmq_send(sock, f->targets, f->targets_len, ZMQ_DONTWAIT) < 0)
		return -1;
	return 0;
}

int
coord_send_msg(struct coord *co, void *sock, const uint8_t *rid, size_t rid_len,
               const struct proto_msg *m)
{
	struct proto_frames f;
	struct proto_error e;
	int rc;

	if (proto_encode(m, proto_type_signed(m->type) ? co->kp->sk : NULL, &f, &e) != PROTO_OK) {
		log_err("cannot encode %s: %s", proto_type_name(m->type), e.msg);
		return -1;
	}
	rc = coord_send(sock, rid, rid_len, &f);
	metrics_count_sent(co, m->type, rc == 0);
	proto_frames_free(&f);
	return rc;
}

int
coord_queue_ack(struct coord *co, const uint8_t *rid, size_t rid_len, const struct proto_msg *m)
{
	struct proto_error e;
	struct pending_send *p;

	if (rid_len > COORD_RID_MAX)
		return -1;
	if (co->n_acks == co->cap_acks) {
		size_t cap = co->cap_acks ? co->cap_acks * 2 : 64;
		p = realloc(co->acks, cap * sizeof(*p));
		if (p == NULL)
			return -1;
		co->acks = p;
		co->cap_acks = cap;
	}
	p = &co->acks[co->n_acks];
	if (proto_encode(m, NULL, &p->f, &e) != PROTO_OK) {
		log_err("cannot encode an ACK: %s", e.msg);
		return -1;
	}
	memcpy(p->rid, rid, rid_len);
	p->rid_len = rid_len;
	co->n_acks++;
	return 0;
}

void
coord_tx(struct coord *co)
{
	char err[256];

	if (!store_in_tx(co->store) && store_begin(co->store, err, sizeof(err)) != 0)
		log_err("%s", err);
}

/* Ends the loop turn: commit, then keep the promises the commit made. When
 * the commit fails nothing is acknowledged: the agents send again. */
void
coord_flush_turn(struct coord *co)
{
	char err[256];
	bool ok = true;

	if (store_in_tx(co->store) && store_commit(co->store, err, sizeof(err)) != 0) {
		log_err("store commit failed, results not acknowledged: %s", err);
		ok = false;
	}
	for (size_t i = 0; i < co->n_acks; i++) {
		if (ok) {
			int rc = coord_send(co->router, co->acks[i].rid, co->acks[i].rid_len,
			                    &co->acks[i].f);
			metrics_count_sent(co, PROTO_ACK, rc == 0);
		}
		proto_frames_free(&co->acks[i].f);
	}
	co->n_acks = 0;
}

void
coord_audit(struct coord *co, const char *who, const char *what, const char *job_id, json_t *hosts,
            const char *outcome, const char *fmt, ...)
{
	char detail[2048], err[256];
	char *hj = hosts != NULL ? json_dumps(hosts, JSON_COMPACT) : NULL;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	coord_tx(co);
	if (store_audit(co->store, proto_now_ms(), who, what, job_id, hj, outcome, detail, err,
	                sizeof(err)) != 0)
		log_err("audit: %s", err);
	log_info("audit: %s %s%s%s: %s%s%s", who, what, job_id ? " " : "", job_id ? job_id : "",
	         outcome, *detail ? ": " : "", detail);
	free(hj);
}

void
coord_turn_free(struct coord *co)
{
	for (size_t i = 0; i < co->n_acks; i++)
		proto_frames_free(&co->acks[i].f);
	free(co->acks);
	co->acks = NULL;
	co->n_acks = co->cap_acks = 0;
}
