/* A load generator: N simulated agents in one process, each with its own
 * Ed25519 identity, its own CURVE DEALER set up as agent/daemon.c sets it up,
 * and the real protocol code (proto_encode, proto_receive, the signatures).
 *
 * One thread runs everything: an epoll set over every socket's ZMQ_FD (two
 * descriptors per agent: its TCP connection, owned by libzmq's io threads,
 * and its socket's mailbox) and a binary heap holding each agent's one timer
 * (connect, HELLO retry or heartbeat), so a tick costs O(log N), never a scan.
 * An agent costs about 250 bytes here, 64 for its secret key (all keys in
 * one guarded region), a replay guard from its first DISPATCH on, and about
 * 30 KB inside libzmq. See usage() for the commands. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <zmq.h>

#include "agent/agent.h"
#include "common/clock.h"
#include "common/keys.h"
#include "common/multipart.h"
#include "proto/proto.h"
#include "proto/replay.h"

#define EXIT_OK    0
#define EXIT_FAIL  1
#define EXIT_USAGE 2

#define HELLO_RETRY_MS  5000 /* as agent/daemon.c */
#define DEFAULT_BEAT_MS 5000 /* until a WELCOME says otherwise */
/* No handshake this long: connect again (a refused handshake is final for
 * libzmq). Long enough that a coordinator slow to handshake under load is
 * not answered with more handshakes; doubled each time up to the maximum. */
#define RECONNECT_FIRST_MS 30000
#define RECONNECT_MAX_MS   300000
#define MAX_FRAMES         4
/* Live DISPATCH nonces each agent remembers (10.5 minutes each). A guard of
 * max nonces has a power of two of at least 2 x max slots of 32 bytes, so the
 * fleet's guards share 2^21 slots (64 MiB) and each gets a max between the
 * two bounds; a full guard refuses a DISPATCH with INTERNAL. */
#define REPLAY_SLOTS    (1ul << 21)
#define REPLAY_MIN      64
#define REPLAY_MAX      8192
#define EPOLL_BATCH     256
#define TIMERS_PER_TURN 4096 /* then look at the sockets again */
#define FD_RESERVE      32   /* stdio, epoll, libzmq's own mailboxes and pollers */
#define WARN_MAX        50   /* warnings printed before they are only counted */
#define SEED_DOMAIN     "odc-loadgen"
#define NO_POS          UINT32_MAX

#define DISK_PATH  "/var/backups/odc"
#define DISK_TOTAL (1024ull << 30)
#define DISK_FREE  (600ull << 30)
#define ODC_NAME   "obodc"
#define ODC_IMAGE  "oceanbase/odc-server:4.3.0"
#define ODC_VER    "4.3.0"

static volatile sig_atomic_t stopping, metadb_on;

static void
on_signal(int sig)
{
	if (sig == SIGUSR1)
		metadb_on = 1;
	else
		stopping = 1;
}

/* A signed RESULT kept until the coordinator ACKs (job_id, step). */
struct outbox {
	struct outbox *next;
	char job[PROTO_ID_MAX + 1];
	char step[33];
	uint8_t sig[PROTO_SIGFRAME_LEN];
	size_t body_len;
	uint8_t body[]; /* body_len bytes */
};

/* One simulated agent. Its secret key is in lg.sks; its socket's ZMQ_FD is
 * registered in the epoll set with the agent's index as data. */
struct agent {
	void *sock;                 /* NULL until its connect time */
	struct outbox *outbox;      /* oldest first */
	struct replay_guard replay; /* opened at the first DISPATCH */
	uint64_t due;               /* monotonic ms of its one timer */
	uint64_t conn_ms;           /* when the current connection attempt began */
	uint64_t seq;
	uint32_t heap_pos;
	uint32_t beat_ms;
	uint32_t reconnect_after_ms;
	uint32_t n_outbox;
	bool connected;  /* ZMQ_POLLOUT was set when last looked at: handshake done */
	bool hello_sent; /* a HELLO went out on the current connection */
	bool welcomed;
	uint8_t pk[PROTO_PK_LEN];
	uint8_t incarnation[PROTO_INCARN_LEN];
	char host[PROTO_ID_MAX + 1];
	char last_job[PROTO_ID_MAX + 1];
};

/* Counters; the gauges (connected_hello, welcomed, outbox) are kept exact. */
struct counts {
	uint64_t connects, reconnects, disconnects, hellos, hello_eagain, welcomes, beats;
	uint64_t msgs_in, dispatches, redispatches, acks_sent, nacks_sent;
	uint64_t results_sent, results_resent, results_acked, acks_unmatched, nacks_recv;
	uint64_t refused_in, send_eagain, errors;
	uint64_t nack_codes[PROTO_E_MAX + 1];
	size_t connected_hello, welcomed, outbox;
};

struct opts {
	unsigned long n, first;
	const char *prefix;
	uint8_t seed[32];
	bool has_seed;
	const char *endpoint;
	uint8_t coord_pk[PROTO_PK_LEN], oper_pk[PROTO_PK_LEN];
	bool has_coord, has_oper;
	int io_threads;
	unsigned long connect_rate, stats_ms;
	unsigned long targets, iters;
	unsigned long deployment_nodes; /* 0: beats name no metadb */
};

struct lg {
	const struct opts *o;
	struct agent *agents;
	uint8_t *sks; /* n x 64 bytes, one sodium_malloc'd region */
	uint8_t server_curve[32];
	void *zctx;
	int ep;
	uint32_t *heap; /* agent indexes, a binary min-heap on due */
	size_t heap_n;
	uint64_t t0;
	size_t replay_max; /* nonces per agent's guard */
	bool ready;
	unsigned warned;
	struct counts c;
};

static void warn_limited(struct lg *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A warning on stderr, until WARN_MAX of them: 10,000 agents failing alike
 * would otherwise bury everything else. */
static void
warn_limited(struct lg *g, const char *fmt, ...)
{
	va_list ap;

	if (g->warned >= WARN_MAX)
		return;
	if (++g->warned == WARN_MAX)
		fprintf(stderr, "loadgen: (further warnings are only counted)\n");
	fputs("loadgen: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void
usage(FILE *f)
{
	fputs("usage:\n"
	      "  loadgen keys --n N [--first I] [--prefix P] --seed HEX64\n"
	      "  loadgen run --n N [--first I] [--prefix P] --seed HEX64\n"
	      "              --endpoint tcp://HOST:PORT --coordinator-key odc-ed25519-pub:HEX\n"
	      "              --operator-key odc-ed25519-pub:HEX\n"
	      "              [--io-threads K] [--connect-rate R] [--stats-ms MS]\n"
	      "              [--deployment-nodes K]\n"
	      "  loadgen crypto [--targets N] [--iters K]\n"
	      "Agent i is host P-%05d (default prefix sim); its Ed25519 seed is\n"
	      "SHA-256(seed || \"odc-loadgen\" || i as 8 bytes big-endian).\n"
	      "With --deployment-nodes K, after SIGUSR1 every heartbeat names a metadb shared by\n"
	      "K consecutive agents (HA deployments of K nodes); before it, none.\n",
	      f);
}

/* ---- keys ---- */

static void
agent_host(const struct opts *o, unsigned long i, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s-%05lu", o->prefix, i);
}

/* Derives agent i's key pair into pk and sk (64 bytes, the caller's guarded memory). */
static int
agent_keypair(const struct opts *o, unsigned long i, uint8_t pk[PROTO_PK_LEN], uint8_t *sk)
{
	crypto_hash_sha256_state st;
	uint8_t seed[crypto_hash_sha256_BYTES], be[8];
	int rc;

	for (int k = 0; k < 8; k++)
		be[k] = (uint8_t)((uint64_t)i >> (56 - 8 * k));
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, o->seed, sizeof(o->seed));
	crypto_hash_sha256_update(&st, (const uint8_t *)SEED_DOMAIN, strlen(SEED_DOMAIN));
	crypto_hash_sha256_update(&st, be, sizeof(be));
	crypto_hash_sha256_final(&st, seed);
	rc = crypto_sign_seed_keypair(pk, sk, seed);
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(&st, sizeof(st));
	return rc == 0 ? 0 : -1;
}

static int
cmd_keys(const struct opts *o)
{
	uint8_t *sk = sodium_malloc(PROTO_SK_LEN);
	uint8_t pk[PROTO_PK_LEN];
	char host[PROTO_ID_MAX + 1], text[KEYS_PUBLIC_TEXT_SIZE];
	int ret = EXIT_FAIL;

	if (sk == NULL) {
		fprintf(stderr, "loadgen: cannot allocate guarded memory\n");
		return EXIT_FAIL;
	}
	for (unsigned long i = o->first; i < o->first + o->n; i++) {
		if (agent_keypair(o, i, pk, sk) != 0) {
			fprintf(stderr, "loadgen: key derivation failed for agent %lu\n", i);
			goto out;
		}
		agent_host(o, i, host, sizeof(host));
		keys_format_public(pk, text, sizeof(text));
		printf("%s %s\n", host, text);
	}
	ret = fflush(stdout) == 0 ? EXIT_OK : EXIT_FAIL;
out:
	sodium_free(sk);
	return ret;
}

/* ---- the timer heap: one entry per agent, keyed on agent.due ---- */

static bool
heap_less(const struct lg *g, uint32_t a, uint32_t b)
{
	return g->agents[a].due < g->agents[b].due;
}

static void
heap_swap(struct lg *g, size_t i, size_t j)
{
	uint32_t t = g->heap[i];

	g->heap[i] = g->heap[j];
	g->heap[j] = t;
	g->agents[g->heap[i]].heap_pos = (uint32_t)i;
	g->agents[g->heap[j]].heap_pos = (uint32_t)j;
}

static void
heap_up(struct lg *g, size_t i)
{
	while (i > 0 && heap_less(g, g->heap[i], g->heap[(i - 1) / 2])) {
		heap_swap(g, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void
heap_down(struct lg *g, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < g->heap_n && heap_less(g, g->heap[l], g->heap[m]))
			m = l;
		if (r < g->heap_n && heap_less(g, g->heap[r], g->heap[m]))
			m = r;
		if (m == i)
			return;
		heap_swap(g, i, m);
		i = m;
	}
}

/* Sets agent a's timer to due: O(log N). */
static void
schedule(struct lg *g, struct agent *a, uint64_t due)
{
	uint32_t idx = (uint32_t)(a - g->agents);

	if (a->heap_pos == NO_POS) {
		a->due = due;
		a->heap_pos = (uint32_t)g->heap_n;
		g->heap[g->heap_n++] = idx;
		heap_up(g, a->heap_pos);
		return;
	}
	bool earlier = due < a->due;
	a->due = due;
	if (earlier)
		heap_up(g, a->heap_pos);
	else
		heap_down(g, a->heap_pos);
}

/* ---- sending ---- */

/* Sends frames without blocking. Returns 0, 1 when ZeroMQ would block (no
 * connection yet, or a full queue: the message is dropped), -1 on error. */
static int
send_frames(void *s, const uint8_t *hdr, const uint8_t *body, size_t blen, const uint8_t *sig)
{
	int more = sig != NULL ? ZMQ_SNDMORE : 0;

	if (zmq_send(s, hdr, PROTO_HEADER_LEN, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
		return errno == EAGAIN ? 1 : -1;
	/* The first frame decides: once it is queued the rest follow it. */
	if (zmq_send(s, body, blen, more | ZMQ_DONTWAIT) < 0)
		return -1;
	if (sig != NULL && zmq_send(s, sig, PROTO_SIGFRAME_LEN, ZMQ_DONTWAIT) < 0)
		return -1;
	return 0;
}

/* Encodes and sends an unsigned message for agent a; counts a failure. */
static int
send_msg(struct lg *g, struct agent *a, const struct proto_msg *m)
{
	struct proto_frames f;
	struct proto_error e;
	int rc;

	if (proto_encode(m, NULL, &f, &e) != PROTO_OK) {
		g->c.errors++;
		warn_limited(g, "%s: cannot encode %s: %s", a->host, proto_type_name(m->type),
		             e.msg);
		return -1;
	}
	rc = send_frames(a->sock, f.header, f.body, f.body_len, NULL);
	proto_frames_free(&f);
	if (rc < 0) {
		g->c.errors++;
		warn_limited(g, "%s: cannot send %s: %s", a->host, proto_type_name(m->type),
		             zmq_strerror(errno));
	}
	return rc;
}

/* send_msg for messages whose loss is a drop worth counting. */
static int
send_counted(struct lg *g, struct agent *a, const struct proto_msg *m)
{
	int rc = send_msg(g, a, m);

	if (rc == 1)
		g->c.send_eagain++;
	return rc;
}

static void
send_hello(struct lg *g, struct agent *a)
{
	static const char *const caps[] = {"ping", "status", "preflight", "stop", "start",
	                                   "logs", "backup", "rollback",  "undo"};
	struct proto_kv labels[] = {{"sim", "1"}};
	struct proto_msg m = {.type = PROTO_HELLO};
	int rc;

	m.u.hello = (struct proto_hello){.host_id = a->host,
	                                 .agent_version = AGENT_VERSION,
	                                 .labels = labels,
	                                 .n_labels = 1,
	                                 .capabilities = (const char **)(uintptr_t)caps,
	                                 .n_capabilities = sizeof(caps) / sizeof(caps[0]),
	                                 .sent_ms = proto_now_ms()};
	memcpy(m.u.hello.incarnation, a->incarnation, PROTO_INCARN_LEN);
	rc = send_msg(g, a, &m);
	if (rc == 1) {
		g->c.hello_eagain++; /* no handshake yet: expected, tried again later */
		return;
	}
	if (rc == 0) {
		g->c.hellos++;
		if (!a->hello_sent) {
			a->hello_sent = true;
			g->c.connected_hello++;
		}
	}
}

static void
send_heartbeat(struct lg *g, struct agent *a)
{
	struct proto_msg m = {.type = PROTO_HEARTBEAT};
	struct proto_heartbeat *hb = &m.u.heartbeat;
	struct proto_disk disk = {DISK_PATH, DISK_FREE, DISK_TOTAL};
	uint8_t h[crypto_hash_sha256_BYTES];
	char cid[2 * sizeof(h) + 1];

	/* A stable 64-hex container id per host. */
	crypto_hash_sha256(h, (const uint8_t *)a->host, strlen(a->host));
	sodium_bin2hex(cid, sizeof(cid), h, sizeof(h));
	hb->host_id = a->host;
	memcpy(hb->incarnation, a->incarnation, PROTO_INCARN_LEN);
	hb->seq = a->seq++; /* as the daemon: a beat lost to EAGAIN leaves a gap */
	hb->sent_ms = proto_now_ms();
	hb->has_odc = true;
	hb->odc = (struct proto_container){cid, ODC_NAME, ODC_IMAGE, "running", "healthy", ODC_VER};
	hb->has_job = false; /* simulated jobs end within the DISPATCH's handling */
	hb->disks = &disk;
	hb->n_disks = 1;
	/* After SIGUSR1, with --deployment-nodes K: agents i..i+K-1 share one
	 * metadb, as the nodes of an HA deployment report it. */
	char dbname[32];
	if (metadb_on && g->o->deployment_nodes > 0) {
		unsigned long idx = (unsigned long)(a - g->agents) + g->o->first;
		snprintf(dbname, sizeof(dbname), "odc_dep_%lu", idx / g->o->deployment_nodes);
		hb->has_metadb = true;
		hb->metadb =
		    (struct proto_metadb){"obproxy.bench", 2883, "odc_meta", "obcluster", dbname};
	}
	if (send_counted(g, a, &m) == 0)
		g->c.beats++;
}

static void
send_ack(struct lg *g, struct agent *a, int type, const char *job, const char *phase,
         const uint8_t *nonce, enum proto_err code, const char *msg)
{
	struct proto_msg m = {.type = (enum proto_type)type};

	m.u.ack = (struct proto_ack){PROTO_DISPATCH,
	                             job ? job : "",
	                             a->host,
	                             phase ? phase : "",
	                             {0},
	                             nonce ? PROTO_NONCE_LEN : 0,
	                             (uint64_t)code,
	                             msg ? msg : ""};
	if (nonce != NULL)
		memcpy(m.u.ack.nonce, nonce, PROTO_NONCE_LEN);
	if (send_counted(g, a, &m) != 0)
		return;
	if (type == PROTO_ACK) {
		g->c.acks_sent++;
	} else {
		g->c.nacks_sent++;
		g->c.nack_codes[code <= PROTO_E_MAX ? code : 0]++;
	}
}

static int
send_outbox_item(struct agent *a, const struct outbox *ob)
{
	static const uint8_t hdr[PROTO_HEADER_LEN] = {PROTO_MAGIC0, PROTO_MAGIC1, PROTO_VERSION,
	                                              PROTO_RESULT};

	return send_frames(a->sock, hdr, ob->body, ob->body_len, ob->sig);
}

/* After a WELCOME: every unacknowledged RESULT again, oldest first. */
static void
resend_outbox(struct lg *g, struct agent *a)
{
	for (struct outbox *ob = a->outbox; ob != NULL; ob = ob->next) {
		int rc = send_outbox_item(a, ob);
		if (rc == 0) {
			g->c.results_resent++;
			continue;
		}
		if (rc == 1)
			g->c.send_eagain++;
		else
			g->c.errors++;
		return; /* the rest waits for the next WELCOME */
	}
}

static void
outbox_free(struct outbox *ob)
{
	while (ob != NULL) {
		struct outbox *next = ob->next;
		free(ob);
		ob = next;
	}
}

/* ---- simulated jobs ---- */

/* The step a real agent's plan would report first (agent/plan.c steps_of). */
static const char *
first_step(const char *action, const char *phase)
{
	if (strcmp(action, "rollback") == 0 || strcmp(action, "undo") == 0 ||
	    strcmp(action, "preflight") == 0)
		return "preflight";
	if (strcmp(action, "backup") == 0)
		return strcmp(phase, "preflight") == 0 ? "preflight" : "backup";
	return action;
}

/* Runs the simulated action the way agent/daemon.c's worker reports a step:
 * PROGRESS running, the signed RESULT (kept in the outbox until ACKed), then
 * PROGRESS with the step's end. */
static void
run_job(struct lg *g, struct agent *a, const struct proto_job *jb, const char *phase)
{
	const char *step = first_step(jb->action, phase);
	struct proto_msg m = {.type = PROTO_RESULT};
	struct proto_result *r = &m.u.result;
	struct proto_kv data[5];
	struct proto_frames f;
	struct proto_error e;
	struct outbox *ob, **tail;
	uint64_t started = proto_now_ms(), t0 = clock_mono_ms();
	char msg[256];
	size_t nd = 0;
	const char *status = "ok";

	/* The agent holds a step's "running" PROGRESS for 200 ms and sends none
	 * after its RESULT: a step as quick as this one is told by its RESULT
	 * alone (agent/daemon.c). */
	if (strcmp(jb->action, "ping") == 0) {
		data[nd++] = (struct proto_kv){"agent_version", AGENT_VERSION};
		snprintf(msg, sizeof(msg), "pong from %s (odc-agent %s)", a->host, AGENT_VERSION);
	} else if (strcmp(jb->action, "status") == 0) {
		data[nd++] = (struct proto_kv){"container_state", "running"};
		data[nd++] = (struct proto_kv){"health", "healthy"};
		data[nd++] = (struct proto_kv){"image", ODC_IMAGE};
		data[nd++] = (struct proto_kv){"metadb_version", ODC_VER};
		data[nd++] = (struct proto_kv){"odc_version", ODC_VER};
		snprintf(msg, sizeof(msg),
		         "container %s: running, %s; ODC healthy at %s; metadb %s", ODC_NAME,
		         ODC_IMAGE, ODC_VER, ODC_VER);
	} else {
		status = "failed";
		snprintf(msg, sizeof(msg), "simulated agent: action %s not simulated", jb->action);
	}
	*r = (struct proto_result){.job_id = jb->job_id,
	                           .host_id = a->host,
	                           .step = step,
	                           .status = status,
	                           .started_ms = started,
	                           .duration_ms = clock_mono_ms() - t0,
	                           .message = msg,
	                           .output_tail = "",
	                           .data = data,
	                           .n_data = nd,
	                           .final = true};
	memcpy(r->incarnation, a->incarnation, PROTO_INCARN_LEN);
	if (proto_encode(&m, g->sks + (size_t)(a - g->agents) * PROTO_SK_LEN, &f, &e) != PROTO_OK) {
		g->c.errors++;
		warn_limited(g, "%s: job %s: cannot encode the result: %s", a->host, jb->job_id,
		             e.msg);
		return;
	}
	ob = malloc(sizeof(*ob) + f.body_len);
	if (ob == NULL) {
		g->c.errors++;
		proto_frames_free(&f);
		return;
	}
	ob->next = NULL;
	snprintf(ob->job, sizeof(ob->job), "%s", jb->job_id);
	snprintf(ob->step, sizeof(ob->step), "%s", step);
	memcpy(ob->sig, f.sig, PROTO_SIGFRAME_LEN);
	memcpy(ob->body, f.body, f.body_len);
	ob->body_len = f.body_len;
	proto_frames_free(&f);
	for (tail = &a->outbox; *tail != NULL; tail = &(*tail)->next)
		;
	*tail = ob;
	a->n_outbox++;
	g->c.outbox++;
	int rc = send_outbox_item(a, ob);
	if (rc == 0)
		g->c.results_sent++;
	else if (rc == 1)
		g->c.send_eagain++;
	else
		g->c.errors++;
}

/* A refused DISPATCH is answered with what can be read of it, as
 * agent/daemon.c's nack_refused: the labels only name the NACK. */
static void
nack_refused(struct lg *g, struct agent *a, const struct proto_frame *fr, size_t n,
             enum proto_err code, const char *why)
{
	struct proto_msg *d = NULL, *j = NULL;
	struct proto_error e;
	const char *job = "", *phase = "";
	const uint8_t *nonce = NULL;
	char msg[257];

	if (n >= 2 && fr[0].len == PROTO_HEADER_LEN && fr[0].data[3] == PROTO_DISPATCH &&
	    proto_decode_body(PROTO_DISPATCH, fr[1].data, fr[1].len, &d, &e) == PROTO_OK) {
		phase = d->u.dispatch.phase;
		nonce = d->u.dispatch.nonce;
		if (proto_decode_body(PROTO_JOB, d->u.dispatch.job_bytes, d->u.dispatch.job_len, &j,
		                      &e) == PROTO_OK)
			job = j->u.job.job_id;
	}
	snprintf(msg, sizeof(msg), "%s", why);
	send_ack(g, a, PROTO_NACK, job, phase, nonce, code, msg);
	warn_limited(g, "%s: refused a dispatch%s%s: %s: %s", a->host, *job ? " of job " : "", job,
	             proto_err_name(code), why);
	proto_msg_free(j);
	proto_msg_free(d);
}

/* An accepted DISPATCH: only the verdict and the job's id, action and phase
 * are used, never its target list. */
static void
on_dispatch(struct lg *g, struct agent *a, const struct proto_msg *m)
{
	const struct proto_dispatch *d = &m->u.dispatch;
	const struct proto_job *jb = &d->job;

	if (strcmp(a->last_job, jb->job_id) == 0)
		g->c.redispatches++; /* the coordinator asked again: run it again, it dedups */
	snprintf(a->last_job, sizeof(a->last_job), "%s", jb->job_id);
	send_ack(g, a, PROTO_ACK, jb->job_id, d->phase, d->nonce, PROTO_OK, NULL);
	run_job(g, a, jb, d->phase);
}

static void
on_result_ack(struct lg *g, struct agent *a, const struct proto_ack *ack)
{
	for (struct outbox **p = &a->outbox; *p != NULL; p = &(*p)->next) {
		struct outbox *ob = *p;
		if (strcmp(ob->job, ack->job_id) == 0 && strcmp(ob->step, ack->step) == 0) {
			*p = ob->next;
			free(ob);
			a->n_outbox--;
			g->c.outbox--;
			g->c.results_acked++;
			return;
		}
	}
	g->c.acks_unmatched++; /* an ACK of a result sent twice */
}

static bool
trust(void *ctx, int type, const uint8_t pk[PROTO_PK_LEN])
{
	const struct opts *o = ctx;

	if (type == PROTO_JOB)
		return sodium_memcmp(o->oper_pk, pk, PROTO_PK_LEN) == 0;
	if (type == PROTO_DISPATCH)
		return sodium_memcmp(o->coord_pk, pk, PROTO_PK_LEN) == 0;
	return false;
}

static void
on_welcome(struct lg *g, struct agent *a, const struct proto_welcome *w)
{
	uint64_t hb = w->heartbeat_ms;

	a->beat_ms = (uint32_t)(hb > UINT32_MAX ? UINT32_MAX : hb);
	g->c.welcomes++;
	if (a->welcomed)
		return; /* the answer to a second HELLO */
	a->welcomed = true;
	a->reconnect_after_ms = RECONNECT_FIRST_MS;
	g->c.welcomed++;
	schedule(g, a, clock_mono_ms()); /* beat at once, as the daemon does */
	resend_outbox(g, a);
	if (!g->ready && g->c.welcomed == g->o->n) {
		g->ready = true;
		printf("ready %lu\n", g->o->n);
		fflush(stdout);
		fprintf(stderr, "loadgen: all %lu agents welcomed %.1f s after start\n", g->o->n,
		        (double)(clock_mono_ms() - g->t0) / 1000.0);
	}
}

/* One received message through the agent's receive procedure, as
 * agent/daemon.c's on_coordinator. */
static void
on_message(struct lg *g, struct agent *a, zmq_msg_t *parts, size_t n, bool overflow)
{
	struct proto_frame fr[MAX_FRAMES];
	struct proto_msg *m = NULL;
	struct proto_error e = {0};
	enum proto_err rc;

	g->c.msgs_in++;
	for (size_t i = 0; i < n; i++)
		fr[i] = (struct proto_frame){zmq_msg_data(&parts[i]), zmq_msg_size(&parts[i])};
	bool is_dispatch =
	    n >= 1 && fr[0].len == PROTO_HEADER_LEN && fr[0].data[3] == PROTO_DISPATCH;
	if (is_dispatch) {
		g->c.dispatches++;
		/* Most agents never see a DISPATCH; those that do get a guard. */
		if (a->replay.ops == NULL && replay_memory_open(&a->replay, g->replay_max) != 0)
			g->c.errors++; /* the zeroed guard makes proto_receive say INTERNAL */
	}
	/* Never busy: a simulated job ends before its DISPATCH is handled. */
	struct proto_ctx ctx = {.receiver = PROTO_RCV_AGENT,
	                        .trusted = trust,
	                        .trust_ctx = (void *)(uintptr_t)g->o,
	                        .host_id = a->host,
	                        .now_ms = proto_now_ms(),
	                        .skew_ms = PROTO_SKEW_MS,
	                        .replay = &a->replay,
	                        .busy_job = NULL};
	if (overflow) {
		rc = PROTO_E_FRAMES;
		e.code = rc;
		snprintf(e.msg, sizeof(e.msg), "more than %d frames", MAX_FRAMES);
	} else {
		rc = proto_receive(fr, n, &ctx, &m, &e);
	}
	if (rc != PROTO_OK) {
		if (is_dispatch) {
			nack_refused(g, a, fr, n, rc, e.msg);
		} else {
			g->c.refused_in++;
			warn_limited(g, "%s: dropped a message from the coordinator: %s: %s",
			             a->host, proto_err_name(rc), e.msg);
		}
		goto out;
	}
	switch (m->type) {
	case PROTO_WELCOME:
		on_welcome(g, a, &m->u.welcome);
		break;
	case PROTO_ACK:
		if (m->u.ack.ref_type == PROTO_RESULT)
			on_result_ack(g, a, &m->u.ack);
		break;
	case PROTO_NACK:
		g->c.nacks_recv++;
		warn_limited(g, "%s: the coordinator refused our %s for job %s: %s: %s", a->host,
		             proto_type_name((int)m->u.ack.ref_type), m->u.ack.job_id,
		             proto_err_name((int)m->u.ack.code), m->u.ack.message);
		break;
	case PROTO_DISPATCH:
		on_dispatch(g, a, m);
		break;
	default:
		break;
	}
out:
	proto_msg_free(m);
}

/* The connection came up (ZMQ_POLLOUT appeared: with ZMQ_IMMEDIATE there is a
 * pipe only once the CURVE handshake succeeded) or went away. This stands in
 * for the daemon's monitor events, which are too heavy for 10,000 sockets. */
static void
on_link(struct lg *g, struct agent *a, bool up)
{
	if (up) {
		a->reconnect_after_ms = RECONNECT_FIRST_MS;
		if (a->welcomed) { /* a drop we did not see: start over */
			a->welcomed = false;
			g->c.welcomed--;
		}
		send_hello(g, a);
		schedule(g, a, clock_mono_ms() + HELLO_RETRY_MS);
		return;
	}
	g->c.disconnects++;
	if (a->hello_sent) {
		a->hello_sent = false;
		g->c.connected_hello--;
	}
	if (a->welcomed) {
		a->welcomed = false;
		g->c.welcomed--;
		schedule(g, a, clock_mono_ms() + HELLO_RETRY_MS);
	}
	a->conn_ms = clock_mono_ms(); /* libzmq reconnects by itself */
}

/* Everything the socket has: the documented ZMQ_FD pattern. The descriptor
 * only says that something changed, so ZMQ_EVENTS is read until no message
 * is left; sends made meanwhile may have consumed a wake-up, which the loop
 * covers as it asks again after each message. */
static void
agent_io(struct lg *g, struct agent *a)
{
	for (;;) {
		int ev = 0;
		size_t sz = sizeof(ev);
		if (zmq_getsockopt(a->sock, ZMQ_EVENTS, &ev, &sz) != 0) {
			g->c.errors++;
			return;
		}
		bool up = (ev & ZMQ_POLLOUT) != 0;
		if (up != a->connected) {
			a->connected = up;
			on_link(g, a, up);
			continue; /* the HELLO may have changed the events */
		}
		if (!(ev & ZMQ_POLLIN))
			return;

		static const struct multipart_limits lim = {.parts = MAX_FRAMES};
		zmq_msg_t parts[MAX_FRAMES];
		enum multipart_over over;
		int n = multipart_recv(a->sock, ZMQ_DONTWAIT, parts, &lim, &over);
		if (n < 1)
			return;
		on_message(g, a, parts, (size_t)n, over != MULTIPART_WHOLE);
		multipart_close(parts, n);
	}
}

/* ---- connections ---- */

/* Opens agent a's DEALER with exactly agent/daemon.c's options and connects. */
static int
agent_open(struct lg *g, struct agent *a)
{
	struct keys_pair kp = {.sk = g->sks + (size_t)(a - g->agents) * PROTO_SK_LEN};
	uint8_t cpk[32], csk[32];
	/* ZMTP pings as the agent's default coordinator.ping (10 s, 3 missed). */
	int one = 1, zero = 0, ivl = 500, ivl_max = 10000, hb = 10000, hb_to = 30000, fd = -1;
	size_t fdlen = sizeof(fd);
	struct epoll_event ev = {.events = EPOLLIN};
	int ret = -1;

	memcpy(kp.pk, a->pk, PROTO_PK_LEN);
	if (keys_curve(&kp, cpk, csk) != 0) {
		warn_limited(g, "%s: cannot derive the CURVE keys", a->host);
		goto out;
	}
	a->sock = zmq_socket(g->zctx, ZMQ_DEALER);
	if (a->sock == NULL) {
		warn_limited(g, "%s: zmq_socket: %s", a->host, zmq_strerror(errno));
		goto out;
	}
	if (zmq_setsockopt(a->sock, ZMQ_CURVE_SERVERKEY, g->server_curve, 32) != 0 ||
	    zmq_setsockopt(a->sock, ZMQ_CURVE_PUBLICKEY, cpk, 32) != 0 ||
	    zmq_setsockopt(a->sock, ZMQ_CURVE_SECRETKEY, csk, 32) != 0 ||
	    zmq_setsockopt(a->sock, ZMQ_LINGER, &zero, sizeof(zero)) != 0 ||
	    zmq_setsockopt(a->sock, ZMQ_IMMEDIATE, &one, sizeof(one)) != 0 ||
	    zmq_setsockopt(a->sock, ZMQ_RECONNECT_IVL, &ivl, sizeof(ivl)) != 0 ||
	    zmq_setsockopt(a->sock, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof(ivl_max)) != 0 ||
	    zmq_setsockopt(a->sock, ZMQ_HEARTBEAT_IVL, &hb, sizeof(hb)) != 0 ||
	    zmq_setsockopt(a->sock, ZMQ_HEARTBEAT_TIMEOUT, &hb_to, sizeof(hb_to)) != 0 ||
	    zmq_getsockopt(a->sock, ZMQ_FD, &fd, &fdlen) != 0) {
		warn_limited(g, "%s: socket options: %s", a->host, zmq_strerror(errno));
		goto out;
	}
	ev.data.u32 = (uint32_t)(a - g->agents);
	if (epoll_ctl(g->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
		warn_limited(g, "%s: epoll_ctl: %s", a->host, strerror(errno));
		goto out;
	}
	if (zmq_connect(a->sock, g->o->endpoint) != 0) {
		warn_limited(g, "%s: %s: %s", a->host, g->o->endpoint, zmq_strerror(errno));
		goto out;
	}
	a->conn_ms = clock_mono_ms();
	g->c.connects++;
	ret = 0;
out:
	sodium_memzero(csk, sizeof(csk));
	sodium_memzero(&kp, sizeof(kp));
	if (ret != 0) {
		g->c.errors++;
		if (a->sock != NULL)
			zmq_close(a->sock); /* also leaves the epoll set: its fd is closed */
		a->sock = NULL;
	}
	return ret;
}

/* No handshake for a while: a refused handshake is final for libzmq (a key
 * accepted since then would never be tried), so connect again, backing off. */
static void
agent_reconnect(struct lg *g, struct agent *a)
{
	uint64_t next = (uint64_t)a->reconnect_after_ms * 2;

	zmq_disconnect(a->sock, g->o->endpoint); /* may be gone already */
	if (zmq_connect(a->sock, g->o->endpoint) != 0) {
		g->c.errors++;
		warn_limited(g, "%s: %s: %s", a->host, g->o->endpoint, zmq_strerror(errno));
	}
	a->conn_ms = clock_mono_ms();
	a->reconnect_after_ms = (uint32_t)(next < RECONNECT_MAX_MS ? next : RECONNECT_MAX_MS);
	g->c.reconnects++;
}

/* Agent a's timer: its connect time, a HELLO retry, or a heartbeat. Every
 * branch sets the next one. */
static void
on_timer(struct lg *g, struct agent *a)
{
	uint64_t now = clock_mono_ms();

	if (a->sock == NULL) {
		if (agent_open(g, a) != 0) {
			schedule(g, a, now + 1000);
			return;
		}
		schedule(g, a, now + HELLO_RETRY_MS);
	} else if (!a->welcomed) {
		if (!a->connected && now - a->conn_ms >= a->reconnect_after_ms)
			agent_reconnect(g, a);
		send_hello(g, a);
		schedule(g, a, now + HELLO_RETRY_MS);
	} else {
		send_heartbeat(g, a);
		/* ±10% jitter, as the daemon, so the fleet does not beat in step. */
		uint32_t span = a->beat_ms / 5;
		schedule(g, a,
		         now + a->beat_ms - a->beat_ms / 10 +
		             (span ? randombytes_uniform(span) : 0));
	}
	agent_io(g, a);
}

/* ---- run ---- */

static long
rss_kb(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f == NULL)
		return -1;
	if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
		rss = -1;
	fclose(f);
	return rss < 0 ? -1 : rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static double
cpu_s(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return -1;
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void
print_stats(struct lg *g, bool final)
{
	const struct counts *c = &g->c;

	printf("stats t=%.1f connected_hello=%zu, welcomed=%zu, beats=%llu, dispatches=%llu, "
	       "acks_sent=%llu, nacks_sent=%llu, results_sent=%llu, results_acked=%llu, "
	       "outbox=%zu, send_eagain=%llu, errors=%llu, connects=%llu, reconnects=%llu, "
	       "disconnects=%llu, hellos=%llu, hello_eagain=%llu, welcomes=%llu, "
	       "redispatches=%llu, results_resent=%llu, acks_unmatched=%llu, "
	       "msgs_in=%llu, refused_in=%llu, nacks_recv=%llu, rss_kb=%ld, cpu_s=%.2f%s\n",
	       (double)(clock_mono_ms() - g->t0) / 1000.0, c->connected_hello, c->welcomed,
	       (unsigned long long)c->beats, (unsigned long long)c->dispatches,
	       (unsigned long long)c->acks_sent, (unsigned long long)c->nacks_sent,
	       (unsigned long long)c->results_sent, (unsigned long long)c->results_acked, c->outbox,
	       (unsigned long long)c->send_eagain, (unsigned long long)c->errors,
	       (unsigned long long)c->connects, (unsigned long long)c->reconnects,
	       (unsigned long long)c->disconnects, (unsigned long long)c->hellos,
	       (unsigned long long)c->hello_eagain, (unsigned long long)c->welcomes,
	       (unsigned long long)c->redispatches, (unsigned long long)c->results_resent,
	       (unsigned long long)c->acks_unmatched, (unsigned long long)c->msgs_in,
	       (unsigned long long)c->refused_in, (unsigned long long)c->nacks_recv, rss_kb(),
	       cpu_s(), final ? ", final=1" : "");
	fflush(stdout);
}

/* Raises the soft descriptor limit to the hard one; fails when N agents
 * cannot fit: each needs its TCP connection and its socket's mailbox. */
static int
raise_nofile(unsigned long n, int io_threads)
{
	struct rlimit rl;
	unsigned long need = 2 * n + 2 * (unsigned long)io_threads + FD_RESERVE;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
		fprintf(stderr, "loadgen: getrlimit: %s\n", strerror(errno));
		return -1;
	}
	if (rl.rlim_max != RLIM_INFINITY && need > rl.rlim_max) {
		fprintf(
		    stderr,
		    "loadgen: %lu agents need about %lu file descriptors (2 per agent: its TCP "
		    "connection and its ZeroMQ socket's mailbox, plus %lu), but RLIMIT_NOFILE's "
		    "hard limit is %llu: run at most %llu agents per process (split the fleet "
		    "with --first/--n) or raise the hard limit\n",
		    n, need, need - 2 * n, (unsigned long long)rl.rlim_max,
		    (unsigned long long)(rl.rlim_max - (need - 2 * n)) / 2);
		return -1;
	}
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
		fprintf(stderr, "loadgen: setrlimit: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

static int
cmd_run(const struct opts *o)
{
	struct lg g = {.o = o, .ep = -1};
	struct epoll_event evs[EPOLL_BATCH];
	struct sigaction sa;
	sigset_t block, orig;
	uint64_t next_stats;
	int ret = EXIT_FAIL;

	if (raise_nofile(o->n, o->io_threads) != 0)
		return EXIT_FAIL;
	if (keys_curve_public(o->coord_pk, g.server_curve) != 0) {
		fprintf(stderr, "loadgen: --coordinator-key has no X25519 form\n");
		return EXIT_USAGE;
	}
	g.agents = calloc(o->n, sizeof(*g.agents));
	g.heap = calloc(o->n, sizeof(*g.heap));
	g.sks = sodium_malloc(o->n * PROTO_SK_LEN);
	if (g.agents == NULL || g.heap == NULL || g.sks == NULL) {
		fprintf(stderr, "loadgen: out of memory for %lu agents\n", o->n);
		goto out;
	}
	/* Signals are taken only inside epoll_pwait, so none is lost between
	 * the check of stopping and the wait; libzmq's threads inherit the mask. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, &orig);
	sigdelset(&orig, SIGTERM);
	sigdelset(&orig, SIGINT);
	sigdelset(&orig, SIGUSR1);

	g.t0 = clock_mono_ms();
	g.replay_max = REPLAY_MIN;
	while (g.replay_max < REPLAY_MAX && 4 * g.replay_max <= REPLAY_SLOTS / o->n)
		g.replay_max *= 2;
	for (unsigned long k = 0; k < o->n; k++) {
		struct agent *a = &g.agents[k];
		agent_host(o, o->first + k, a->host, sizeof(a->host));
		if (agent_keypair(o, o->first + k, a->pk, g.sks + k * PROTO_SK_LEN) != 0) {
			fprintf(stderr, "loadgen: key derivation failed for %s\n", a->host);
			goto out;
		}
		randombytes_buf(a->incarnation, sizeof(a->incarnation));
		a->beat_ms = DEFAULT_BEAT_MS;
		a->reconnect_after_ms = RECONNECT_FIRST_MS;
		a->heap_pos = NO_POS;
	}
	g.zctx = zmq_ctx_new();
	g.ep = epoll_create1(EPOLL_CLOEXEC);
	if (g.zctx == NULL || g.ep < 0) {
		fprintf(stderr, "loadgen: cannot create the ZeroMQ context or epoll: %s\n",
		        strerror(errno));
		goto out;
	}
	if (zmq_ctx_set(g.zctx, ZMQ_IO_THREADS, o->io_threads) != 0 ||
	    zmq_ctx_set(g.zctx, ZMQ_MAX_SOCKETS, (int)o->n + 64) != 0) {
		fprintf(stderr, "loadgen: zmq_ctx_set: %s\n", zmq_strerror(errno));
		goto out;
	}
	/* Connects are spread at connect_rate per second: in order, so the
	 * heap built by pushing them is already in shape. */
	uint64_t start = clock_mono_ms();
	for (unsigned long k = 0; k < o->n; k++)
		schedule(&g, &g.agents[k], start + k * 1000 / o->connect_rate);
	fprintf(stderr,
	        "loadgen: %lu agents %s-%05lu..%s-%05lu to %s, %d io thread(s), %lu connects/s, "
	        "%zu live nonces per agent; keys derived in %llu ms\n",
	        o->n, o->prefix, o->first, o->prefix, o->first + o->n - 1, o->endpoint,
	        o->io_threads, o->connect_rate, g.replay_max, (unsigned long long)(start - g.t0));
	if (o->n / (unsigned long)o->io_threads > 1500)
		fprintf(stderr,
		        "loadgen: note: %lu connections per io thread; libzmq cancels a timer in "
		        "time linear in its io thread's timers, and ZMTP heartbeats cancel one per "
		        "connection every second or so: --io-threads %lu keeps that cost small\n",
		        o->n / (unsigned long)o->io_threads, (o->n + 599) / 600);
	next_stats = start + o->stats_ms;

	while (!stopping) {
		uint64_t now = clock_mono_ms();
		for (int k = 0; k < TIMERS_PER_TURN && g.heap_n > 0; k++) {
			struct agent *a = &g.agents[g.heap[0]];
			if (a->due > now)
				break;
			on_timer(&g, a);
		}
		now = clock_mono_ms();
		if (now >= next_stats) {
			print_stats(&g, false);
			next_stats += o->stats_ms;
			if (next_stats <= now)
				next_stats = now + o->stats_ms;
		}
		uint64_t wake = next_stats;
		if (g.heap_n > 0 && g.agents[g.heap[0]].due < wake)
			wake = g.agents[g.heap[0]].due;
		int timeout = wake > now ? (int)(wake - now) : 0;
		int n = epoll_pwait(g.ep, evs, EPOLL_BATCH, timeout, &orig);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "loadgen: epoll_wait: %s\n", strerror(errno));
			goto out;
		}
		for (int i = 0; i < n; i++) {
			struct agent *a = &g.agents[evs[i].data.u32];
			if (a->sock != NULL)
				agent_io(&g, a);
		}
	}
	ret = EXIT_OK;
out:
	for (unsigned long k = 0; g.agents != NULL && k < o->n; k++) {
		struct agent *a = &g.agents[k];
		if (a->sock != NULL)
			zmq_close(a->sock);
		outbox_free(a->outbox);
		replay_close(&a->replay);
	}
	if (g.zctx != NULL)
		zmq_ctx_term(g.zctx);
	if (g.ep >= 0)
		close(g.ep);
	if (g.agents != NULL)
		print_stats(&g, true);
	if (g.c.nacks_sent > 0) {
		fputs("loadgen: NACKs sent by code:", stderr);
		for (int k = 0; k <= PROTO_E_MAX; k++)
			if (g.c.nack_codes[k] > 0)
				fprintf(stderr, " %s=%llu",
				        proto_err_name(k) ? proto_err_name(k) : "?",
				        (unsigned long long)g.c.nack_codes[k]);
		fputc('\n', stderr);
	}
	sodium_free(g.sks);
	free(g.heap);
	free(g.agents);
	return ret;
}

/* ---- crypto ---- */

static double
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* Microseconds per call of sign (sk != NULL) or verify over body. */
static double
time_op(int type, const uint8_t *body, size_t len, const uint8_t *sk, const uint8_t *sigframe,
        unsigned long iters, int *failed)
{
	uint8_t out[PROTO_SIGFRAME_LEN];
	double t0 = mono_us();

	for (unsigned long i = 0; i < iters; i++) {
		int rc = sk != NULL ? proto_sign_body(type, body, len, sk, out)
		                    : proto_verify_body(type, body, len, sigframe);
		if (rc != 0)
			*failed = 1;
	}
	return (mono_us() - t0) / (double)iters;
}

static int
cmd_crypto(const struct opts *o)
{
	uint8_t opk[32], cpk[32], apk[32];
	uint8_t *sk = sodium_malloc(3 * PROTO_SK_LEN);
	struct proto_frames job = {0}, disp = {0}, res = {0};
	struct proto_msg m;
	struct proto_error e;
	const char **targets = NULL;
	char *names = NULL;
	int ret = EXIT_FAIL, failed = 0;
	uint64_t now = proto_now_ms();

	if (sk == NULL)
		goto out;
	uint8_t *osk = sk, *csk = sk + PROTO_SK_LEN, *ask = sk + 2 * PROTO_SK_LEN;
	crypto_sign_keypair(opk, osk);
	crypto_sign_keypair(cpk, csk);
	crypto_sign_keypair(apk, ask);
	targets = calloc(o->targets, sizeof(*targets));
	names = calloc(o->targets, 16);
	if (targets == NULL || names == NULL)
		goto out;
	for (unsigned long i = 0; i < o->targets; i++) {
		snprintf(names + 16 * i, 16, "sim-%05lu", i);
		targets[i] = names + 16 * i;
	}
	/* What `odcctl exec ping --all` signs (its policy defaults for exec). */
	memset(&m, 0, sizeof(m));
	m.type = PROTO_JOB;
	m.u.job = (struct proto_job){.job_id = "ping-20250101T000000Z-0a1b2c",
	                             .action = "ping",
	                             .targets = targets,
	                             .n_targets = o->targets,
	                             .policy = {0, 100, true, 100, true, 0, 300, 1800},
	                             .created_ms = now,
	                             .expires_ms = now + 1800000,
	                             .operator_name = "alice",
	                             .reason = "loadgen crypto"};
	if (proto_encode(&m, osk, &job, &e) != PROTO_OK)
		goto enc;
	memset(&m, 0, sizeof(m));
	m.type = PROTO_DISPATCH;
	m.u.dispatch.job_bytes = job.body;
	m.u.dispatch.job_len = job.body_len;
	memcpy(m.u.dispatch.job_sig, job.sig, PROTO_SIGFRAME_LEN);
	m.u.dispatch.host_id = "sim-00000";
	m.u.dispatch.phase = "run";
	m.u.dispatch.not_before_ms = now;
	m.u.dispatch.expires_ms = now + 600000;
	randombytes_buf(m.u.dispatch.nonce, PROTO_NONCE_LEN);
	/* The proof that sim-00000 is a target, as the coordinator sends it. */
	{
		struct proto_merkle *t = proto_merkle_new((const char *const *)targets, o->targets);
		if (t == NULL)
			goto out;
		m.u.dispatch.proof_index = 0;
		m.u.dispatch.proof_len = proto_merkle_proof(t, 0, m.u.dispatch.proof);
		proto_merkle_free(t);
	}
	if (proto_encode(&m, csk, &disp, &e) != PROTO_OK)
		goto enc;
	struct proto_kv data[] = {{"agent_version", AGENT_VERSION}};
	memset(&m, 0, sizeof(m));
	m.type = PROTO_RESULT;
	m.u.result = (struct proto_result){"ping-20250101T000000Z-0a1b2c",
	                                   "sim-00000",
	                                   "ping",
	                                   "ok",
	                                   0,
	                                   now,
	                                   0,
	                                   "pong from sim-00000 (odc-agent " AGENT_VERSION ")",
	                                   "",
	                                   data,
	                                   1,
	                                   true,
	                                   {0}};
	randombytes_buf(m.u.result.incarnation, PROTO_INCARN_LEN);
	if (proto_encode(&m, ask, &res, &e) != PROTO_OK)
		goto enc;

	double sd = time_op(PROTO_DISPATCH, disp.body, disp.body_len, csk, NULL, o->iters, &failed);
	double vd =
	    time_op(PROTO_DISPATCH, disp.body, disp.body_len, NULL, disp.sig, o->iters, &failed);
	double vj = time_op(PROTO_JOB, job.body, job.body_len, NULL, job.sig, o->iters, &failed);
	double sr = time_op(PROTO_RESULT, res.body, res.body_len, ask, NULL, o->iters, &failed);
	double vr = time_op(PROTO_RESULT, res.body, res.body_len, NULL, res.sig, o->iters, &failed);
	if (failed) {
		fprintf(stderr, "loadgen: a signature failed to verify\n");
		goto out;
	}
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	printf("{\"sign_dispatch_us\":%.2f,\"verify_dispatch_us\":%.2f,\"verify_job_us\":%.2f,"
	       "\"sign_result_us\":%.2f,\"verify_result_us\":%.2f,\"per_agent_us\":%.2f,"
	       "\"cores\":%ld,\"targets\":%lu,\"iters\":%lu,\"job_bytes\":%zu,"
	       "\"dispatch_bytes\":%zu,\"result_bytes\":%zu}\n",
	       sd, vd, vj, sr, vr, sd + vd + vj + sr + vr, cores, o->targets, o->iters,
	       job.body_len, disp.body_len, res.body_len);
	ret = fflush(stdout) == 0 ? EXIT_OK : EXIT_FAIL;
	goto out;
enc:
	fprintf(stderr, "loadgen: cannot encode a %s: %s\n", proto_type_name(m.type), e.msg);
out:
	proto_frames_free(&job);
	proto_frames_free(&disp);
	proto_frames_free(&res);
	free(targets);
	free(names);
	sodium_free(sk);
	return ret;
}

/* ---- command line ---- */

static int
parse_ulong(const char *name, const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (*s < '0' || *s > '9' || *end != '\0' || errno != 0 || v < lo || v > hi) {
		fprintf(stderr, "loadgen: %s: '%s' is not a number in %lu..%lu\n", name, s, lo, hi);
		return -1;
	}
	*out = v;
	return 0;
}

static int
parse_key(const char *name, const char *s, uint8_t pk[PROTO_PK_LEN])
{
	char err[256];

	if (keys_parse_public(s, pk, err, sizeof(err)) != 0) {
		fprintf(stderr, "loadgen: %s: %s\n", name, err);
		return -1;
	}
	return 0;
}

enum {
	OPT_N = 1,
	OPT_FIRST,
	OPT_PREFIX,
	OPT_SEED,
	OPT_ENDPOINT,
	OPT_COORD,
	OPT_OPER,
	OPT_IO,
	OPT_RATE,
	OPT_STATS,
	OPT_TARGETS,
	OPT_ITERS,
	OPT_DEPLOY,
};

/* Options and the commands that take them (bit 0 keys, 1 run, 2 crypto). */
static const struct {
	struct option opt;
	unsigned cmds;
} options[] = {
    {{"n", required_argument, NULL, OPT_N}, 3},
    {{"first", required_argument, NULL, OPT_FIRST}, 3},
    {{"prefix", required_argument, NULL, OPT_PREFIX}, 3},
    {{"seed", required_argument, NULL, OPT_SEED}, 3},
    {{"endpoint", required_argument, NULL, OPT_ENDPOINT}, 2},
    {{"coordinator-key", required_argument, NULL, OPT_COORD}, 2},
    {{"operator-key", required_argument, NULL, OPT_OPER}, 2},
    {{"io-threads", required_argument, NULL, OPT_IO}, 2},
    {{"connect-rate", required_argument, NULL, OPT_RATE}, 2},
    {{"stats-ms", required_argument, NULL, OPT_STATS}, 2},
    {{"targets", required_argument, NULL, OPT_TARGETS}, 4},
    {{"iters", required_argument, NULL, OPT_ITERS}, 4},
    {{"deployment-nodes", required_argument, NULL, OPT_DEPLOY}, 2},
};
#define N_OPTIONS (sizeof(options) / sizeof(options[0]))

static int
parse_args(int argc, char **argv, unsigned cmd, struct opts *o)
{
	struct option longopts[N_OPTIONS + 1];
	unsigned long v;
	bool has_n = false;
	int ch;

	memset(longopts, 0, sizeof(longopts));
	for (size_t i = 0; i < N_OPTIONS; i++)
		longopts[i] = options[i].opt;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		size_t i;
		for (i = 0; i < N_OPTIONS && options[i].opt.val != ch; i++)
			;
		if (i == N_OPTIONS || !(options[i].cmds & cmd)) {
			if (i < N_OPTIONS)
				fprintf(stderr, "loadgen: --%s does not apply to %s\n",
				        options[i].opt.name, argv[0]);
			return -1;
		}
		switch (ch) {
		case OPT_N:
			if (parse_ulong("--n", optarg, 1, 1000000, &o->n) != 0)
				return -1;
			has_n = true;
			break;
		case OPT_FIRST:
			if (parse_ulong("--first", optarg, 0, 99999999, &o->first) != 0)
				return -1;
			break;
		case OPT_PREFIX:
			o->prefix = optarg;
			break;
		case OPT_SEED:
			if (strlen(optarg) != 64 || sodium_hex2bin(o->seed, sizeof(o->seed), optarg,
			                                           64, NULL, NULL, NULL) != 0) {
				fprintf(stderr, "loadgen: --seed: 64 hex digits expected\n");
				return -1;
			}
			o->has_seed = true;
			break;
		case OPT_ENDPOINT:
			o->endpoint = optarg;
			break;
		case OPT_COORD:
			if (parse_key("--coordinator-key", optarg, o->coord_pk) != 0)
				return -1;
			o->has_coord = true;
			break;
		case OPT_OPER:
			if (parse_key("--operator-key", optarg, o->oper_pk) != 0)
				return -1;
			o->has_oper = true;
			break;
		case OPT_IO:
			if (parse_ulong("--io-threads", optarg, 1, 64, &v) != 0)
				return -1;
			o->io_threads = (int)v;
			break;
		case OPT_RATE:
			if (parse_ulong("--connect-rate", optarg, 1, 1000000, &o->connect_rate) !=
			    0)
				return -1;
			break;
		case OPT_STATS:
			if (parse_ulong("--stats-ms", optarg, 10, 3600000, &o->stats_ms) != 0)
				return -1;
			break;
		case OPT_TARGETS:
			if (parse_ulong("--targets", optarg, 1, PROTO_MAX_TARGETS, &o->targets) !=
			    0)
				return -1;
			break;
		case OPT_ITERS:
			if (parse_ulong("--iters", optarg, 1, 100000000, &o->iters) != 0)
				return -1;
			break;
		case OPT_DEPLOY:
			if (parse_ulong("--deployment-nodes", optarg, 1, 1000,
			                &o->deployment_nodes) != 0)
				return -1;
			break;
		default:
			return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "loadgen: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (cmd == 4)
		return 0;
	if (!has_n || !o->has_seed) {
		fprintf(stderr, "loadgen: %s needs --n and --seed\n", argv[0]);
		return -1;
	}
	if (cmd == 2 && (o->endpoint == NULL || !o->has_coord || !o->has_oper)) {
		fprintf(stderr,
		        "loadgen: run needs --endpoint, --coordinator-key and --operator-key\n");
		return -1;
	}
	char first[PROTO_ID_MAX + 8], last[PROTO_ID_MAX + 8];
	agent_host(o, o->first, first, sizeof(first));
	agent_host(o, o->first + o->n - 1, last, sizeof(last));
	if (strlen(last) > PROTO_ID_MAX || !proto_valid_id(first) || !proto_valid_id(last)) {
		fprintf(stderr, "loadgen: --prefix: '%s' is not a valid host id\n", last);
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct opts o = {.prefix = "sim",
	                 .io_threads = 1,
	                 .connect_rate = 2000,
	                 .stats_ms = 1000,
	                 .targets = 1,
	                 .iters = 2000};
	unsigned cmd;

	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "keys") == 0)
		cmd = 1;
	else if (strcmp(argv[1], "run") == 0)
		cmd = 2;
	else if (strcmp(argv[1], "crypto") == 0)
		cmd = 4;
	else if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage(stdout);
		return EXIT_OK;
	} else {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (parse_args(argc - 1, argv + 1, cmd, &o) != 0) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (keys_init() != 0) {
		fprintf(stderr, "loadgen: cannot initialise libsodium\n");
		return EXIT_FAIL;
	}
	switch (cmd) {
	case 1:
		return cmd_keys(&o);
	case 2:
		return cmd_run(&o);
	default:
		return cmd_crypto(&o);
	}
}
