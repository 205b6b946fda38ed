/* The agents' side of the coordinator: a CURVE ROUTER whose peers are
 * admitted by a ZAP handler only when their key is enrolled, each message
 * read through PROTOCOL.md section 7's coordinator procedure and bound to
 * the host id ZAP gave the key. A peer is never named by an id it chose. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>
#include <zmq.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/multipart.h"
#include "coordinator/coord.h"

#define MAX_PARTS 5 /* routing id + the 4 frames of the longest message; more is FRAMES */

int
transport_open(struct coord *co, char *err, size_t errlen)
{
	uint8_t csk[32];
	int one = 1, zero = 0, hwm = 100000, ka_idle = 30, ka_intvl = 10, ka_cnt = 3,
	    backlog = 4096;
	/* A 64 KiB RESULT body and a margin, as it travels under CURVE. */
	int64_t maxmsg = (int64_t)(proto_frame_limit(PROTO_RCV_COORDINATOR) + PROTO_CURVE_OVERHEAD);

	co->zap = zmq_socket(co->zctx, ZMQ_REP);
	if (co->zap == NULL || zmq_setsockopt(co->zap, ZMQ_LINGER, &zero, sizeof(zero)) != 0 ||
	    zmq_bind(co->zap, COORD_ZAP_ENDPOINT) != 0) {
		snprintf(err, errlen, "ZAP handler: %s", zmq_strerror(errno));
		return -1;
	}
	co->router = zmq_socket(co->zctx, ZMQ_ROUTER);
	if (co->router == NULL) {
		snprintf(err, errlen, "zmq: %s", zmq_strerror(errno));
		return -1;
	}
	if (crypto_sign_ed25519_sk_to_curve25519(csk, co->kp->sk) != 0) {
		snprintf(err, errlen, "cannot derive the CURVE secret key");
		return -1;
	}
	zmq_setsockopt(co->router, ZMQ_CURVE_SERVER, &one, sizeof(one));
	zmq_setsockopt(co->router, ZMQ_CURVE_SECRETKEY, csk, sizeof(csk));
	sodium_memzero(csk, sizeof(csk));
	zmq_setsockopt(co->router, ZMQ_ZAP_DOMAIN, COORD_ZAP_AGENTS, strlen(COORD_ZAP_AGENTS));
	/* A send to a peer that is not connected fails instead of vanishing. */
	zmq_setsockopt(co->router, ZMQ_ROUTER_MANDATORY, &one, sizeof(one));
	zmq_setsockopt(co->router, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(co->router, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(co->router, ZMQ_RCVHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(co->router, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
	/* No ZMTP heartbeats on this side: libzmq 4.3 cancels a heartbeat timer
	 * by scanning every timer of its I/O thread, once per PONG (and per
	 * message when a TTL is set), which costs O(connections) each time and
	 * a whole core at 10,000 agents (BENCHMARKS.md). A silent agent is found
	 * by its missing HEARTBEATs (lost); the kernel's TCP keepalive closes a
	 * connection whose host died, at no cost here. Agents ping us (ZMTP
	 * PING, answered by libzmq with no timer) to notice a silent
	 * coordinator. */
	/* Thousands of agents reconnect at once after a restart: a listen
	 * queue of libzmq's default 100 overflows (the kernel caps it at
	 * net.core.somaxconn). */
	zmq_setsockopt(co->router, ZMQ_BACKLOG, &backlog, sizeof(backlog));
	zmq_setsockopt(co->router, ZMQ_TCP_KEEPALIVE, &one, sizeof(one));
	zmq_setsockopt(co->router, ZMQ_TCP_KEEPALIVE_IDLE, &ka_idle, sizeof(ka_idle));
	zmq_setsockopt(co->router, ZMQ_TCP_KEEPALIVE_INTVL, &ka_intvl, sizeof(ka_intvl));
	zmq_setsockopt(co->router, ZMQ_TCP_KEEPALIVE_CNT, &ka_cnt, sizeof(ka_cnt));
	/* Connection events, so that a peer that went silent (its ZMTP
	 * heartbeats stopped: a dead host, a cut link) is logged when it is
	 * dropped, not only when its beats are missed. */
	if (zmq_socket_monitor(co->router, "inproc://odc-coordinator-monitor",
	                       ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED |
	                           ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0 ||
	    (co->mon = zmq_socket(co->zctx, ZMQ_PAIR)) == NULL ||
	    zmq_connect(co->mon, "inproc://odc-coordinator-monitor") != 0) {
		snprintf(err, errlen, "zmq monitor: %s", zmq_strerror(errno));
		return -1;
	}
	zmq_setsockopt(co->mon, ZMQ_LINGER, &zero, sizeof(zero));
	if (zmq_bind(co->router, co->conf->agents_bind) != 0) {
		snprintf(err, errlen, "%s: agents.bind %s: %s", co->conf->path,
		         co->conf->agents_bind, zmq_strerror(errno));
		return -1;
	}
	return 0;
}

static void
zap_reply(void *zap, zmq_msg_t *version, zmq_msg_t *reqid, const char *code, const char *text,
          const char *user)
{
	zmq_send(zap, zmq_msg_data(version), zmq_msg_size(version), ZMQ_SNDMORE);
	zmq_send(zap, zmq_msg_data(reqid), zmq_msg_size(reqid), ZMQ_SNDMORE);
	zmq_send(zap, code, strlen(code), ZMQ_SNDMORE);
	zmq_send(zap, text, strlen(text), ZMQ_SNDMORE);
	zmq_send(zap, user, strlen(user), ZMQ_SNDMORE);
	zmq_send(zap, "", 0, 0);
}

static bool
frame_is(zmq_msg_t *m, const char *s)
{
	return zmq_msg_size(m) == strlen(s) && memcmp(zmq_msg_data(m), s, strlen(s)) == 0;
}

/* ZAP 1.0 (RFC 27): version, request id, domain, address, identity,
 * mechanism, credentials. Agents: an enrolled, not revoked CURVE key; the
 * User-Id is its host id. Control over tcp: a trusted operator's key; the
 * User-Id is "operator:NAME". Everything else is refused. */
void
transport_on_zap(struct coord *co)
{
	static const struct multipart_limits lim = {.parts = 8};
	zmq_msg_t p[8];
	enum multipart_over over;
	int n = multipart_recv(co->zap, ZMQ_DONTWAIT, p, &lim, &over);
	char addr[64] = "", user[80] = "", err[256]; /* user: the key in hex, or "operator:NAME" */
	const char *code = "400", *text = "not enrolled";

	if (over != MULTIPART_WHOLE) {
		multipart_close(p, n);
		return; /* a REP socket cannot answer a broken request; libzmq then denies */
	}
	if (n < 6) {
		if (n >= 2)
			zap_reply(co->zap, &p[0], &p[1], "500", "malformed ZAP request", "");
		multipart_close(p, n);
		return;
	}
	snprintf(addr, sizeof(addr), "%.*s",
	         (int)(zmq_msg_size(&p[3]) < 63 ? zmq_msg_size(&p[3]) : 63),
	         (const char *)zmq_msg_data(&p[3]));
	bool curve = frame_is(&p[5], "CURVE") && n == 7 && zmq_msg_size(&p[6]) == 32;
	if (!frame_is(&p[0], "1.0")) {
		code = "500";
		text = "unsupported ZAP version";
	} else if (frame_is(&p[2], COORD_ZAP_AGENTS)) {
		struct host *h = curve ? map_get(co->curves, zmq_msg_data(&p[6]), 32) : NULL;
		if (h != NULL && !h->revoked) {
			/* The connection is bound to the key, and the key to the host:
			 * a host re-keyed after a revoke cannot be spoken for by a
			 * connection its old key still holds open. */
			code = "200";
			text = "OK";
			hex_encode(zmq_msg_data(&p[6]), 32, user, sizeof(user));
		} else if (h != NULL) {
			text = "revoked";
			metrics_count_refused(co, COORD_SOCK_AGENTS, COORD_REFUSED_REVOKED);
			log_warn("refused revoked host %s from %s", h->id, addr);
		} else if (curve) {
			char hex[65];
			hex_encode(zmq_msg_data(&p[6]), 32, hex, sizeof(hex));
			log_warn("refused an unknown agent key (curve %.16s...) from %s", hex,
			         addr);
			metrics_count_refused(co, COORD_SOCK_AGENTS, COORD_REFUSED_UNKNOWN_KEY);
			coord_tx(co);
			if (store_pending_note(co->store, zmq_msg_data(&p[6]), addr, proto_now_ms(),
			                       err, sizeof(err)) != 0)
				log_err("%s", err);
		} else {
			text = "CURVE required";
			log_warn("refused a peer without CURVE from %s", addr);
			metrics_count_refused(co, COORD_SOCK_AGENTS, COORD_REFUSED_NO_CURVE);
		}
	} else if (frame_is(&p[2], COORD_ZAP_CONTROL) && curve) {
		for (size_t i = 0; i < co->conf->n_operators; i++) {
			uint8_t c[32];
			if (crypto_sign_ed25519_pk_to_curve25519(c, co->conf->operators[i].pk) ==
			        0 &&
			    sodium_memcmp(c, zmq_msg_data(&p[6]), 32) == 0) {
				code = "200";
				text = "OK";
				snprintf(user, sizeof(user), "operator:%s",
				         co->conf->operators[i].name);
				break;
			}
		}
		if (*user == '\0') {
			text = "not an operator key";
			log_warn("refused a control client with an unknown key from %s", addr);
			metrics_count_refused(co, COORD_SOCK_CONTROL, COORD_REFUSED_UNKNOWN_KEY);
		}
	} else {
		text = "refused";
	}
	zap_reply(co->zap, &p[0], &p[1], code, text, user);
	multipart_close(p, n);
}

void
transport_on_monitor(struct coord *co)
{
	static const struct multipart_limits lim = {.parts = 2};
	zmq_msg_t p[2];
	enum multipart_over over;
	int n = multipart_recv(co->mon, ZMQ_DONTWAIT, p, &lim, &over);
	uint16_t event;

	if (n == 2 && over == MULTIPART_WHOLE && zmq_msg_size(&p[0]) >= 6) {
		memcpy(&event, zmq_msg_data(&p[0]), sizeof(event));
		int len = (int)(zmq_msg_size(&p[1]) < 128 ? zmq_msg_size(&p[1]) : 128);
		const char *a = zmq_msg_data(&p[1]);
		if (event == ZMQ_EVENT_DISCONNECTED)
			log_info("agent connection %.*s closed (the peer left, or its ZMTP "
			         "heartbeats stopped)",
			         len, a);
		else if (event == ZMQ_EVENT_ACCEPTED)
			log_debug("agent connection %.*s accepted", len, a);
	}
	multipart_close(p, n);
}

static void
nack(struct coord *co, const uint8_t *rid, size_t rid_len, int ref_type,
     const struct proto_error *e)
{
	struct proto_msg m = {.type = PROTO_NACK};

	m.u.ack =
	    (struct proto_ack){(uint64_t)ref_type, "", "", "", {0}, 0, (uint64_t)e->code, e->msg};
	coord_send_msg(co, co->router, rid, rid_len, &m);
}

static bool
trust_result(void *ctx, int type, const uint8_t pk[PROTO_PK_LEN])
{
	const struct host *h = ctx;

	return type == PROTO_RESULT && sodium_memcmp(pk, h->pk, PROTO_PK_LEN) == 0;
}

/* The type a header names when it can be read ('OD', any version, a known
 * type code), else -1: what a NACK may answer (PROTOCOL.md section 7). */
static int
header_type(const struct proto_frame *f)
{
	if (f->len != PROTO_HEADER_LEN || f->data[0] != PROTO_MAGIC0 ||
	    f->data[1] != PROTO_MAGIC1 || proto_type_name(f->data[3]) == NULL)
		return -1;
	return f->data[3];
}

/* The host whose enrolled key the connection of message part p1 was admitted
 * with (ZAP's User-Id), or NULL when there is none any more or it has been
 * revoked: then the message is counted and logged, and the caller drops
 * it. */
static struct host *
router_peer(struct coord *co, zmq_msg_t *p1)
{
	const char *user = zmq_msg_gets(p1, "User-Id"), *addr = zmq_msg_gets(p1, "Peer-Address");
	uint8_t curve[32];
	size_t clen = 0;
	struct host *h =
	    user != NULL && hex_decode(user, curve, sizeof(curve), &clen) == 0 && clen == 32
	        ? map_get(co->curves, curve, 32)
	        : NULL;

	if (h == NULL || h->revoked) {
		/* Admitted before a revoke (or with a key since replaced):
		 * everything it sends is dropped. */
		log_debug("dropped a message from %s (%s)", addr ? addr : "?",
		          h ? "revoked" : "key no longer enrolled");
		metrics_count_rejected(co, COORD_SOCK_AGENTS, COORD_REJECT_NOT_ENROLLED);
		return NULL;
	}
	return h;
}

/* A message of h that failed the receive procedure with e (fr: its frames,
 * whole false when it had more than MAX_PARTS parts): counted, logged, and
 * answered with a NACK to rid when its header names a type that may be
 * answered. */
static void
router_refuse(struct coord *co, const struct host *h, const char *addr,
              const struct proto_frame *fr, bool whole, const uint8_t *rid, size_t rid_len,
              struct proto_error *e)
{
	if (!whole && e->code == PROTO_E_FRAMES)
		snprintf(e->msg, sizeof(e->msg), "more than %d frames", MAX_PARTS - 1);
	int type = header_type(&fr[0]);
	const char *what = type >= 0 ? proto_type_name(type) : "message";
	metrics_count_rejected(co, COORD_SOCK_AGENTS, (int)e->code);
	if (e->code == PROTO_E_DENIED) {
		/* Speaking for another host: it gets nothing at all. */
		log_warn("host %s (%s) sent a %s for another host: %s; dropped", h->id,
		         addr ? addr : "?", what, e->msg);
		return;
	}
	/* Answered from the header alone, never an answer (no loops), and
	 * never what cannot be named (PROTOCOL.md section 7, "Answers"). */
	bool answer = type >= 0 && type != PROTO_ACK && type != PROTO_NACK;
	log_warn("host %s: refused a %s: %s: %s%s", h->id, what, proto_err_name(e->code), e->msg,
	         answer ? "" : "; dropped");
	if (answer)
		nack(co, rid, rid_len, type, e);
}

/* Hands m, received from h and through the receive procedure, to the module
 * it is for; fr are its frames (fr[1] the body). */
static void
router_dispatch(struct coord *co, struct host *h, const struct proto_msg *m,
                const struct proto_frame *fr, const char *addr)
{
	switch (m->type) {
	case PROTO_HELLO: {
		struct proto_msg w = {.type = PROTO_WELCOME};
		registry_on_hello(co, h, m, addr ? addr : "");
		w.u.welcome = (struct proto_welcome){co->conf->id, co->conf->heartbeat_ms,
		                                     co->conf->lost_after, proto_now_ms()};
		coord_send_msg(co, co->router, h->rid, h->rid_len, &w);
		jobs_on_hello(co, h);
		break;
	}
	case PROTO_HEARTBEAT:
		registry_on_heartbeat(co, h, m, fr[1].data, fr[1].len);
		break;
	case PROTO_PROGRESS:
		jobs_on_progress(co, h, m);
		break;
	case PROTO_RESULT:
		jobs_on_result(co, h, m, fr, h->rid, h->rid_len);
		break;
	case PROTO_ACK:
	case PROTO_NACK:
		jobs_on_ack(co, h, m);
		break;
	default:
		break;
	}
}

/* One message from the ROUTER: its sender, the receive procedure, then its
 * handler. */
void
transport_on_router(struct coord *co)
{
	static const struct multipart_limits lim = {.parts = MAX_PARTS};
	zmq_msg_t p[MAX_PARTS];
	struct proto_frame fr[MAX_PARTS];
	struct proto_msg *m = NULL;
	struct proto_error e;
	enum multipart_over over;
	int n = multipart_recv(co->router, ZMQ_DONTWAIT, p, &lim, &over);
	const char *addr = NULL;
	struct host *h;

	if (n < 2) {
		/* No frame after the routing id: nothing names a peer or a type. */
		if (n == 1)
			metrics_count_rejected(co, COORD_SOCK_AGENTS, PROTO_E_FRAMES);
		multipart_close(p, n);
		return;
	}
	addr = zmq_msg_gets(&p[1], "Peer-Address");
	if ((h = router_peer(co, &p[1])) == NULL)
		goto out;
	for (int i = 1; i < n; i++)
		fr[i - 1] = (struct proto_frame){zmq_msg_data(&p[i]), zmq_msg_size(&p[i])};
	struct proto_ctx ctx = {.receiver = PROTO_RCV_COORDINATOR,
	                        .trusted = trust_result,
	                        .trust_ctx = h,
	                        .host_id = h->id,
	                        .now_ms = proto_now_ms(),
	                        .skew_ms = co->conf->skew_ms};
	/* More frames than any message has: the header's steps still come
	 * first (PROTOCOL.md 7), then FRAMES, as no type has one frame. */
	if (proto_receive(fr, over != MULTIPART_WHOLE ? 1 : (size_t)(n - 1), &ctx, &m, &e) !=
	    PROTO_OK) {
		router_refuse(co, h, addr, fr, over == MULTIPART_WHOLE, zmq_msg_data(&p[0]),
		              zmq_msg_size(&p[0]), &e);
		goto out;
	}
	metrics_count_received(co, m->type);
	/* The latest connection of a host is where replies go. */
	if (zmq_msg_size(&p[0]) <= COORD_RID_MAX) {
		memcpy(h->rid, zmq_msg_data(&p[0]), zmq_msg_size(&p[0]));
		h->rid_len = zmq_msg_size(&p[0]);
	}
	router_dispatch(co, h, m, fr, addr);
out:
	proto_msg_free(m);
	multipart_close(p, n);
}

/* Closes what transport_open opened (each socket that exists); the context
 * stays the caller's. */
void
transport_close(struct coord *co)
{
	if (co->router)
		zmq_close(co->router);
	if (co->zap)
		zmq_close(co->zap);
	if (co->mon)
		zmq_close(co->mon);
	co->router = co->zap = co->mon = NULL;
}
