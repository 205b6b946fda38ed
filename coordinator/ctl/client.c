/* odcctl's side of the control socket (PROTOCOL.md section 9): a DEALER,
 * plain on ipc, CURVE on tcp; REQUEST/REPLY matched by request_id, a JOB
 * answered with request_id 0, every wait bounded by the configured timeout. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>
#include <zmq.h>

#include "common/clock.h"
#include "common/multipart.h"
#include "coordinator/ctl/ctl.h"

#define CLIENT_MONITOR   "inproc://odcctl-monitor"
#define CLIENT_MAXFRAMES 4

struct ctl_client {
	void *zctx;
	void *sock;
	void *mon;        /* handshake events of sock (tcp only), or NULL */
	uint64_t next_id; /* request ids from 1; 0 is the JOB's reply */
	char why[256];    /* what the monitor saw, for the timeout message */
	bool refused;     /* the coordinator refused our CURVE key */
};

/* Closes what client_open opened, in the reverse order; NULL is fine. */
static void
client_close(struct ctl_client *cl)
{
	int zero = 0;

	if (cl == NULL)
		return;
	if (cl->sock != NULL)
		zmq_close(cl->sock);
	if (cl->mon != NULL) {
		zmq_setsockopt(cl->mon, ZMQ_LINGER, &zero, sizeof(zero));
		zmq_close(cl->mon);
	}
	if (cl->zctx != NULL)
		zmq_ctx_term(cl->zctx);
	free(cl);
}

void
ctl_disconnect(struct ctl *c)
{
	client_close(c->client);
	c->client = NULL;
}

/* CURVE client: our X25519 form of the operator key, the coordinator's X25519
 * form as the server key. The secret form is wiped once zmq has copied it. */
static int
client_curve(struct ctl *c, struct ctl_client *cl)
{
	uint8_t cpk[KEYS_CURVE_LEN], csk[KEYS_CURVE_LEN], spk[KEYS_CURVE_LEN];
	int ret;

	if ((ret = ctl_operator_key(c)) != 0)
		return ret;
	if (keys_curve(c->key, cpk, csk) != 0 || keys_curve_public(c->coordinator_key, spk) != 0) {
		sodium_memzero(csk, sizeof(csk));
		ctl_error(c, "cannot convert the keys to CURVE keys (%s, coordinator_key)",
		          c->key_path);
		return CTL_EXIT_USAGE;
	}
	ret = 0;
	if (zmq_setsockopt(cl->sock, ZMQ_CURVE_SERVERKEY, spk, sizeof(spk)) != 0 ||
	    zmq_setsockopt(cl->sock, ZMQ_CURVE_PUBLICKEY, cpk, sizeof(cpk)) != 0 ||
	    zmq_setsockopt(cl->sock, ZMQ_CURVE_SECRETKEY, csk, sizeof(csk)) != 0) {
		ctl_error(c, "CURVE: %s", zmq_strerror(errno));
		ret = CTL_EXIT_FAILED;
	}
	sodium_memzero(csk, sizeof(csk));
	return ret;
}

/* Why an ipc socket cannot be reached at all (out empty when it may be):
 * missing, not a socket, not writable by this user. */
static void
client_ipc_hint(const struct ctl *c, char *out, size_t outlen)
{
	const char *path = c->endpoint + 6;
	struct stat st;

	out[0] = '\0';
	if (stat(path, &st) != 0)
		snprintf(out, outlen, "%s: %s%s", path, strerror(errno),
		         errno == ENOENT
		             ? " (is odc-coordinator running, with this control socket?)"
		             : "");
	else if (!S_ISSOCK(st.st_mode))
		snprintf(out, outlen, "%s: not a socket", path);
	else if (access(path, R_OK | W_OK) != 0)
		snprintf(out, outlen, "%s: %s (is this user in the socket's group?)", path,
		         strerror(errno));
}

/* The sockets of cl (zeroed but for next_id): created, set up and
 * connected. Returns 0 or an exit status after printing why; what was opened
 * stays in cl for the caller to close. */
static int
client_connect(struct ctl *c, struct ctl_client *cl)
{
	int zero = 0, one = 1, ret;
	int64_t maxmsg = (int64_t)(proto_frame_limit(PROTO_RCV_CLI) + PROTO_CURVE_OVERHEAD);
	bool tcp = strncmp(c->endpoint, "tcp://", 6) == 0;

	cl->zctx = zmq_ctx_new();
	if (cl->zctx == NULL || (cl->sock = zmq_socket(cl->zctx, ZMQ_DEALER)) == NULL) {
		ctl_error(c, "zmq: %s", zmq_strerror(errno));
		return CTL_EXIT_FAILED;
	}
	/* Nothing lingers at exit; messages wait for a finished handshake; no
	 * frame can be larger than the largest REPLY. */
	zmq_setsockopt(cl->sock, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(cl->sock, ZMQ_IMMEDIATE, &one, sizeof(one));
	zmq_setsockopt(cl->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
	if (tcp) {
		if ((ret = client_curve(c, cl)) != 0)
			return ret;
		/* The monitor tells a refused key from a silent coordinator. */
		if (zmq_socket_monitor(cl->sock, CLIENT_MONITOR,
		                       ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
		                           ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
		                           ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) == 0 &&
		    (cl->mon = zmq_socket(cl->zctx, ZMQ_PAIR)) != NULL &&
		    zmq_connect(cl->mon, CLIENT_MONITOR) != 0) {
			zmq_close(cl->mon);
			cl->mon = NULL;
		}
	}
	if (zmq_connect(cl->sock, c->endpoint) != 0) {
		ctl_error(c, "endpoint %s: %s", c->endpoint, zmq_strerror(errno));
		return CTL_EXIT_USAGE;
	}
	return 0;
}

/* Connects the DEALER (and, on tcp, its handshake monitor) to the configured
 * endpoint. Opened on the first request and kept in c->client until
 * ctl_disconnect; a socket that fails to open is closed here. Returns 0 or an
 * exit status after printing why. */
static int
client_open(struct ctl *c)
{
	struct ctl_client *cl;
	int ret;

	if (c->client != NULL)
		return 0;
	if ((ret = ctl_setup(c)) != 0)
		return ret;
	/* A control socket that is not there, or not ours to use: said at
	 * once, not after the whole timeout. */
	if (strncmp(c->endpoint, "ipc://", 6) == 0) {
		char hint[512];
		client_ipc_hint(c, hint, sizeof(hint));
		if (hint[0] != '\0') {
			fprintf(stderr, "odcctl: coordinator unreachable at %s: %s\n", c->endpoint,
			        hint);
			return CTL_EXIT_UNREACHABLE;
		}
	}
	cl = calloc(1, sizeof(*cl));
	if (cl == NULL) {
		ctl_error(c, "out of memory");
		return CTL_EXIT_FAILED;
	}
	cl->next_id = 1;
	if ((ret = client_connect(c, cl)) != 0) {
		client_close(cl);
		return ret;
	}
	c->client = cl;
	return 0;
}

/* Reads one monitor event and remembers what it says. */
static void
client_monitor_event(struct ctl_client *cl)
{
	/* An event is two frames: its number and value, then the address. */
	static const struct multipart_limits lim = {.parts = 2};
	zmq_msg_t p[2];
	enum multipart_over over;
	int n = multipart_recv(cl->mon, ZMQ_DONTWAIT, p, &lim, &over);
	uint16_t event = 0;
	uint32_t value = 0;

	if (n >= 1 && zmq_msg_size(&p[0]) >= 6) {
		memcpy(&event, zmq_msg_data(&p[0]), sizeof(event));
		memcpy(&value, (const uint8_t *)zmq_msg_data(&p[0]) + 2, sizeof(value));
	}
	if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
		cl->refused = true;
		snprintf(cl->why, sizeof(cl->why),
		         "the coordinator refused this operator key (CURVE/ZAP status %u)",
		         (unsigned)value);
	} else if (event != 0) {
		snprintf(cl->why, sizeof(cl->why),
		         "the CURVE handshake failed: is coordinator_key the coordinator's key?");
	}
	multipart_close(p, n);
}

static int
client_unreachable(const struct ctl *c, const struct ctl_client *cl)
{
	char hint[512] = "", t[32];

	if (cl->why[0] != '\0')
		snprintf(hint, sizeof(hint), "%s", cl->why);
	else if (strncmp(c->endpoint, "ipc://", 6) == 0)
		client_ipc_hint(c, hint, sizeof(hint));
	if (c->timeout_ms % 1000 == 0)
		snprintf(t, sizeof(t), "%llus", (unsigned long long)(c->timeout_ms / 1000));
	else
		snprintf(t, sizeof(t), "%llums", (unsigned long long)c->timeout_ms);
	if (cl->refused)
		fprintf(stderr, "odcctl: coordinator at %s: %s\n", c->endpoint, hint);
	else
		fprintf(stderr, "odcctl: coordinator unreachable at %s (no reply in %s)%s%s\n",
		        c->endpoint, t, hint[0] ? ": " : "", hint);
	return CTL_EXIT_UNREACHABLE;
}

/* Waits until now reaches deadline for sock to be ready for events; also
 * reads monitor events. Returns 1 ready, 0 timed out (or refused), -1
 * interrupted. */
static int
client_wait(struct ctl_client *cl, short events, uint64_t deadline)
{
	for (;;) {
		uint64_t now = clock_mono_ms();
		zmq_pollitem_t items[2] = {{cl->sock, 0, events, 0}, {cl->mon, 0, ZMQ_POLLIN, 0}};
		int n = cl->mon != NULL ? 2 : 1;

		if (cl->refused || now >= deadline)
			return 0;
		if (zmq_poll(items, n, (long)(deadline - now)) < 0) {
			if (errno == EINTR && !ctl_interrupted)
				continue;
			return -1;
		}
		if (n == 2 && (items[1].revents & ZMQ_POLLIN))
			client_monitor_event(cl);
		if (items[0].revents & events)
			return 1;
	}
}

static int
client_send(struct ctl_client *cl, const struct proto_frames *f)
{
	if (zmq_send(cl->sock, f->header, PROTO_HEADER_LEN, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
		return -1;
	/* The first frame went out, so the rest of the message goes too. */
	if (zmq_send(cl->sock, f->body, f->body_len, f->nframes >= 3 ? ZMQ_SNDMORE : 0) < 0)
		return -1;
	if (f->nframes >= 3 &&
	    zmq_send(cl->sock, f->sig, PROTO_SIGFRAME_LEN, f->nframes == 4 ? ZMQ_SNDMORE : 0) < 0)
		return -1;
	/* A JOB's target list (frame 3). */
	if (f->nframes == 4 && zmq_send(cl->sock, f->targets, f->targets_len, 0) < 0)
		return -1;
	return 0;
}

/* Receives one message and decodes it as a REPLY. Returns 1 with *out, 0 for a
 * message to drop (*out NULL, err says why), -1 when nothing was there. */
static int
client_recv(struct ctl_client *cl, struct proto_msg **out, struct proto_error *err)
{
	static const struct multipart_limits lim = {.parts = CLIENT_MAXFRAMES};
	zmq_msg_t parts[CLIENT_MAXFRAMES];
	struct proto_frame fr[CLIENT_MAXFRAMES];
	struct proto_ctx ctx = {.receiver = PROTO_RCV_CLI, .skew_ms = PROTO_SKEW_MS};
	enum multipart_over over;
	int n, ret = 0;

	*out = NULL;
	/* Frames beyond the most any message has are dropped: the count
	 * alone makes it FRAMES. */
	if ((n = multipart_recv(cl->sock, ZMQ_DONTWAIT, parts, &lim, &over)) < 0)
		return -1;
	for (int i = 0; i < n; i++)
		fr[i] = (struct proto_frame){zmq_msg_data(&parts[i]), zmq_msg_size(&parts[i])};
	ctx.now_ms = proto_now_ms();
	if (over != MULTIPART_WHOLE) {
		err->code = PROTO_E_FRAMES;
		snprintf(err->msg, sizeof(err->msg), "more than %d frames", CLIENT_MAXFRAMES);
	} else if (proto_receive(fr, (size_t)n, &ctx, out, err) == PROTO_OK) {
		ret = 1;
	}
	multipart_close(parts, n);
	return ret;
}

static int
client_error_exit(int code)
{
	switch (code) {
	case PROTO_E_NOT_FOUND:
	case PROTO_E_CONFLICT:
	case PROTO_E_DENIED:
	case PROTO_E_VALUE:
	case PROTO_E_SCHEMA:
	case PROTO_E_TYPE:
	case PROTO_E_INVALID_PARAM:
	case PROTO_E_UNKNOWN_ACTION:
	case PROTO_E_UNKNOWN_KEY:
	case PROTO_E_BAD_SIGNATURE:
	case PROTO_E_EXPIRED:
		return CTL_EXIT_USAGE;
	default:
		return CTL_EXIT_FAILED;
	}
}

/* Sends f and waits for the REPLY whose request_id is want; replies to
 * earlier requests that timed out are dropped. */
static int
client_exchange(struct ctl *c, const struct proto_frames *f, uint64_t want, json_t **body)
{
	struct ctl_client *cl;
	uint64_t deadline;
	int ret, w;

	*body = NULL;
	if ((ret = client_open(c)) != 0)
		return ret;
	cl = c->client;
	deadline = clock_mono_ms() + c->timeout_ms;
	/* With ZMQ_IMMEDIATE the socket is writable once a connection is up. */
	for (;;) {
		w = client_wait(cl, ZMQ_POLLOUT, deadline);
		if (w <= 0)
			return w < 0 ? CTL_EXIT_INTERRUPTED : client_unreachable(c, cl);
		if (client_send(cl, f) == 0)
			break;
		if (errno != EAGAIN) {
			ctl_error(c, "sending to %s: %s", c->endpoint, zmq_strerror(errno));
			return CTL_EXIT_FAILED;
		}
	}
	for (;;) {
		struct proto_msg *m;
		struct proto_error perr = {0};
		int r;

		w = client_wait(cl, ZMQ_POLLIN, deadline);
		if (w <= 0)
			return w < 0 ? CTL_EXIT_INTERRUPTED : client_unreachable(c, cl);
		while ((r = client_recv(cl, &m, &perr)) >= 0) {
			const struct proto_reply *rp;

			if (r == 0) {
				ctl_error(c, "a bad reply from %s: %s (%s)", c->endpoint, perr.msg,
				          proto_err_name(perr.code));
				return CTL_EXIT_FAILED;
			}
			rp = &m->u.reply;
			if (rp->request_id != want) {
				proto_msg_free(m);
				continue;
			}
			if (rp->code != PROTO_OK) {
				const char *name = proto_err_name((int)rp->code);
				ctl_error(c, "%s (%s)", rp->message[0] ? rp->message : "refused",
				          name != NULL ? name : "unknown error");
				ret = client_error_exit((int)rp->code);
			} else {
				*body = rp->body != NULL ? json_incref(rp->body) : json_null();
				ret = *body != NULL ? CTL_EXIT_OK : CTL_EXIT_FAILED;
			}
			proto_msg_free(m);
			return ret;
		}
	}
}

int
ctl_request(struct ctl *c, const char *command, json_t *args, bool actor, json_t **body)
{
	struct proto_msg m = {.type = PROTO_REQUEST};
	struct proto_frames f = {0};
	struct proto_error err;
	int ret;

	*body = NULL;
	if (args == NULL)
		args = json_object();
	if (args == NULL) {
		ctl_error(c, "out of memory");
		return CTL_EXIT_FAILED;
	}
	if ((ret = client_open(c)) != 0)
		goto out;
	if (actor && c->operator_name != NULL &&
	    json_object_set_new(args, "actor", json_string(c->operator_name)) != 0) {
		ctl_error(c, "out of memory");
		ret = CTL_EXIT_FAILED;
		goto out;
	}
	m.u.request = (struct proto_request){c->client->next_id++, command, args};
	if (proto_encode(&m, NULL, &f, &err) != PROTO_OK) {
		/* Arguments were checked before; this names what slipped through. */
		ctl_error(c, "cannot send %s: %s", command, err.msg);
		ret = err.code == PROTO_E_LIMIT || err.code == PROTO_E_VALUE ? CTL_EXIT_USAGE
		                                                             : CTL_EXIT_FAILED;
		goto out;
	}
	ret = client_exchange(c, &f, m.u.request.request_id, body);
out:
	proto_frames_free(&f);
	json_decref(args);
	return ret;
}

int
ctl_submit(struct ctl *c, const struct proto_frames *job, json_t **body)
{
	return client_exchange(c, job, 0, body);
}
