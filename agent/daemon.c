/* odc-agent's daemon mode: one DEALER to the coordinator over CURVE, HELLO
 * and heartbeats, DISPATCH checked by the protocol's receive procedure,
 * plans run by a worker thread (daemon_worker.c), every RESULT signed and
 * kept in the journal's outbox until the coordinator acknowledges it. One event loop;
 * each worker pushes to it over inproc PUSH/PULL (ZeroMQ sockets are not
 * shared between threads, and a PAIR would take only one worker's life). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>
#include <zmq.h>

#include "common/clock.h"
#include "agent/daemon.h"
#include "agent/daemon_int.h"
#include "agent/docker.h"
#include "agent/fencewatch.h"
#include "agent/journal.h"
#include "agent/spec.h"
#include "agent/plan.h"
#include "common/keys.h"
#include "common/log.h"
#include "common/multipart.h"
#include "common/replay_sqlite.h"
#include "common/sdnotify.h"
#include "proto/replay.h"

#define HELLO_RETRY_MS   5000
#define DEFAULT_BEAT_MS  5000
#define MAX_FRAMES       4
#define MONITOR_ENDPOINT "inproc://odc-agent-monitor"
/* A step's "running" PROGRESS waits this long: a step that ends sooner is
 * told by its RESULT alone (a fleet-wide ping sends half the messages). */
#define PROGRESS_HOLD_MS 200
/* A lost connection that libzmq does not retry within this long (it gives
 * up after a protocol error, e.g. a frame over ZMQ_MAXMSGSIZE) is connected
 * again by the agent itself. */
#define LOST_GRACE_MS 1000
/* How often a new start of ODC's container is looked for (fencewatch.h):
 * ODC takes tens of seconds to reach its migrations. */
#define FENCE_WATCH_MS 3000

static volatile sig_atomic_t stopping;

static void
on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

/* ---- the event loop ---- */

struct daemon {
	const struct agent_conf *c;
	struct keys_pair *kp;
	void *zctx, *dealer, *mon, *pair;
	struct journal *j;
	struct replay_guard replay;
	struct docker *d;
	struct shared sh;
	uint8_t incarnation[PROTO_INCARN_LEN];
	bool welcomed;
	uint64_t beat_ms, next_beat, next_hello, seq;
	pthread_t worker;
	bool worker_alive;
	struct worker_arg *warg;
	/* The next phase of the running job, dispatched while it runs. */
	struct worker_arg *pending;
	/* The running job was dispatched again: once it ends, its results go
	 * again (the asker may have missed them). */
	char resend_job[PROTO_ID_MAX + 1];
	/* libzmq gives up on a connection the coordinator refused (ZAP: key
	 * not accepted yet); the agent then connects again itself, backing
	 * off up to reconnect_max, so an accepted key is admitted soon. */
	uint64_t reconnect_at, reconnect_backoff;
	/* reconnect_at was set for a lost connection, in case libzmq does not
	 * retry it; its retry (ZMQ_EVENT_CONNECT_RETRIED) cancels it. */
	bool reconnect_lost;
	/* The held "running" PROGRESS of the step in progress (PROGRESS_HOLD_MS). */
	zmq_msg_t held[MAX_FRAMES];
	size_t n_held;
	char held_job[PROTO_ID_MAX + 1], held_step[33];
	uint64_t held_until;
	struct sdnotify sn;
	struct fence_watch fence;
	uint64_t next_watch;
};

/* systemd's status line: what `systemctl status odc-agent` shows. */
static void
systemd_status(struct daemon *dm, bool ready)
{
	const char *link = dm->welcomed ? "welcomed by" : "waiting for";
	const char *job = dm->worker_alive && dm->warg != NULL ? dm->warg->job : "";

	if (ready)
		sdnotify_ready(&dm->sn, "%s the coordinator at %s%s%s", link,
		               dm->c->coordinator_endpoint, *job ? "; running job " : "", job);
	else
		sdnotify_status(&dm->sn, "%s the coordinator at %s%s%s", link,
		                dm->c->coordinator_endpoint, *job ? "; running job " : "", job);
}

static bool
trust(void *ctx, int type, const uint8_t pk[PROTO_PK_LEN])
{
	const struct agent_conf *c = ctx;

	if (type == PROTO_JOB) {
		for (size_t i = 0; i < c->n_operators; i++)
			if (sodium_memcmp(c->operators[i], pk, PROTO_PK_LEN) == 0)
				return true;
	} else if (type == PROTO_DISPATCH) {
		for (size_t i = 0; i < c->n_coordinators; i++)
			if (sodium_memcmp(c->coordinators[i], pk, PROTO_PK_LEN) == 0)
				return true;
	}
	return false;
}

static void
send_hello(struct daemon *dm)
{
	const char *caps[PROTO_ACTIONS_MAX];
	size_t n_caps = plan_actions(caps, PROTO_ACTIONS_MAX);
	struct proto_kv labels[AGENT_MAX_LABELS];
	struct proto_msg m = {.type = PROTO_HELLO};

	for (size_t i = 0; i < dm->c->n_labels; i++)
		labels[i] = (struct proto_kv){dm->c->labels[i].key, dm->c->labels[i].value};
	m.u.hello = (struct proto_hello){dm->c->host_id,  AGENT_VERSION, {0},    labels,
	                                 dm->c->n_labels, caps,          n_caps, proto_now_ms()};
	memcpy(m.u.hello.incarnation, dm->incarnation, PROTO_INCARN_LEN);
	daemon_send_msg(dm->dealer, &m, NULL);
	dm->next_hello = clock_mono_ms() + HELLO_RETRY_MS;
}

static int
resend_one(void *ctx, const uint8_t *body, size_t blen, const uint8_t *sig, size_t slen)
{
	struct daemon *dm = ctx;
	const uint8_t hdr[PROTO_HEADER_LEN] = {PROTO_MAGIC0, PROTO_MAGIC1, PROTO_VERSION,
	                                       PROTO_RESULT};

	if (slen != PROTO_SIGFRAME_LEN)
		return 0;
	return daemon_send_frames(dm->dealer, hdr, body, blen, sig) == 0 ? 0 : 1;
}

static const char *
state_enum(const char *docker_state)
{
	static const char *const ok[] = {"created", "restarting", "running", "removing",
	                                 "paused",  "exited",     "dead"};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (strcmp(ok[i], docker_state) == 0)
			return ok[i];
	return "unknown";
}

/* Seconds since an RFC 3339 instant from Docker, or -1. */
static long
age_s(const char *rfc3339)
{
	struct tm tm = {0};

	if (strptime(rfc3339, "%Y-%m-%dT%H:%M:%S", &tm) == NULL)
		return -1;
	return (long)(time(NULL) - timegm(&tm));
}

/* A plan runs: this daemon's worker, or a local-mode run holding the
 * state lock. */
static bool
daemon_busy(struct daemon *dm)
{
	char why[256];
	bool busy;

	pthread_mutex_lock(&dm->sh.mu);
	busy = dm->sh.busy;
	pthread_mutex_unlock(&dm->sh.mu);
	return busy || plan_busy(dm->c, why, sizeof(why));
}

/* The daemon's Docker client, made at its first use and again after an
 * engine that could not be reached dropped it (send_heartbeat): NULL when
 * it cannot be made. The daemon owns it: only daemon_docker_drop() frees
 * it; callees (fence_watch_check) only use it. */
static struct docker *
daemon_docker(struct daemon *dm)
{
	char err[256];

	if (dm->d == NULL)
		dm->d = docker_new(dm->c->docker_socket, 2000, err, sizeof(err));
	return dm->d;
}

/* Frees the daemon's Docker client (NULL is fine); daemon_docker() makes
 * a new one at the next use. */
static void
daemon_docker_drop(struct daemon *dm)
{
	docker_free(dm->d);
	dm->d = NULL;
}

/* Every FENCE_WATCH_MS, welcomed or not (a returning node may not reach
 * its coordinator): a new start of ODC's container is checked against the
 * metadb's fence (fencewatch.h). */
static void
watch_container(struct daemon *dm)
{
	struct docker_container ct;
	json_t *raw = NULL;
	char err[256];

	if (daemon_docker(dm) != NULL &&
	    docker_container_inspect(dm->d, dm->c->container, &ct, &raw, err, sizeof(err)) == 0 &&
	    strcmp(ct.state, "running") == 0 && fence_watch_due(&dm->fence, &ct) &&
	    !daemon_busy(dm))
		(void)fence_watch_check(&dm->fence, dm->c, dm->d, &ct, raw);
	json_decref(raw);
	dm->next_watch = clock_mono_ms() + FENCE_WATCH_MS;
}

static void
send_heartbeat(struct daemon *dm)
{
	const struct agent_conf *c = dm->c;
	struct proto_msg m = {.type = PROTO_HEARTBEAT};
	struct proto_heartbeat *hb = &m.u.heartbeat;
	struct docker_container ct = {0};
	struct health_state st;
	struct proto_disk disks[AGENT_MAX_ROOTS + 1];
	struct spec_metadb id;
	json_t *raw = NULL;
	char job[PROTO_ID_MAX + 1] = "", step[33] = "", err[256];
	size_t nd = 0;
	int rc = -1;

	hb->host_id = c->host_id;
	memcpy(hb->incarnation, dm->incarnation, PROTO_INCARN_LEN);
	hb->seq = dm->seq++;
	hb->sent_ms = proto_now_ms();
	if (daemon_docker(dm) != NULL)
		rc = docker_container_inspect(dm->d, c->container, &ct, &raw, err, sizeof(err));
	if (rc >= 0) {
		hb->has_odc = true;
		hb->odc = (struct proto_container){rc == 0 ? ct.id : "",
		                                   c->container,
		                                   rc == 0 ? ct.image : "",
		                                   rc == 0 ? state_enum(ct.state) : "absent",
		                                   "unknown",
		                                   ""};
		if (rc == 0 && strcmp(ct.state, "running") == 0) {
			health_probe(c->health_url, 1000, &st);
			if (st.healthy) {
				hb->odc.health = "healthy";
				hb->odc.version = st.version;
			} else if (st.reachable) {
				hb->odc.health = "unhealthy";
			} else {
				/* Not answering yet: ODC needs a couple of minutes. */
				long age = age_s(ct.started_at);
				hb->odc.health = age >= 0 && age < 300 ? "starting" : "unhealthy";
			}
		}
	} else {
		/* Engine unreachable: say nothing rather than guess. */
		daemon_docker_drop(dm);
	}
	/* Which metadb the container uses: its deployment. A container without
	 * DATABASE_* says nothing (the coordinator keeps what it knew). */
	if (rc == 0 && spec_metadb_identity(raw, &id, err, sizeof(err)) == 0) {
		hb->has_metadb = true;
		hb->metadb =
		    (struct proto_metadb){id.host, id.port, id.tenant, id.cluster, id.database};
	}
	pthread_mutex_lock(&dm->sh.mu);
	if (dm->sh.busy && dm->sh.job[0]) {
		snprintf(job, sizeof(job), "%s", dm->sh.job);
		snprintf(step, sizeof(step), "%s", dm->sh.step[0] ? dm->sh.step : "preflight");
	}
	pthread_mutex_unlock(&dm->sh.mu);
	if (job[0]) {
		hb->has_job = true;
		hb->job_id = job;
		hb->job_step = step;
	}
	for (size_t i = 0; i <= c->n_backup_roots && nd < AGENT_MAX_ROOTS + 1; i++) {
		const char *p = i < c->n_backup_roots ? c->backup_roots[i] : c->snapshot_root;
		struct statvfs v;
		if (statvfs(p, &v) == 0)
			disks[nd++] = (struct proto_disk){p, (uint64_t)v.f_bavail * v.f_frsize,
			                                  (uint64_t)v.f_blocks * v.f_frsize};
	}
	hb->disks = disks;
	hb->n_disks = nd;
	daemon_send_msg(dm->dealer, &m, NULL);
	json_decref(raw);
}

/* The ACK or NACK of a DISPATCH. It names only what the receive procedure
 * verified of the DISPATCH (refs, PROTOCOL.md section 7, "Answers"). */
static void
answer_dispatch(struct daemon *dm, int type, const struct proto_refs *r, enum proto_err code,
                const char *msg)
{
	struct proto_msg m = {.type = (enum proto_type)type};

	m.u.ack = (struct proto_ack){PROTO_DISPATCH, r->job_id,      r->host_id,    r->step, {0},
	                             r->nonce_len,   (uint64_t)code, msg ? msg : ""};
	memcpy(m.u.ack.nonce, r->nonce, PROTO_NONCE_LEN);
	daemon_send_msg(dm->dealer, &m, NULL);
}

/* Every refused DISPATCH ends here, whichever check refused it (the receive
 * procedure, or the agent's own state after it): one warning, then one NACK. */
static void
refuse_dispatch(struct daemon *dm, const struct proto_refs *r, enum proto_err code, const char *why)
{
	char msg[257];

	/* NACK.message is str(256); a cut inside a character would not encode,
	 * so a cut message loses its trailing non-ASCII bytes too. */
	snprintf(msg, sizeof(msg), "%s", why);
	if (strlen(why) >= sizeof(msg))
		for (size_t n = strlen(msg); n > 0 && (unsigned char)msg[n - 1] >= 0x80; n--)
			msg[n - 1] = '\0';
	log_warn("refused a dispatch%s%s: %s: %s", *r->job_id ? " of job " : "", r->job_id,
	         proto_err_name(code), why);
	answer_dispatch(dm, PROTO_NACK, r, code, msg);
}

/* The agent's own parameter rule (PROTOCOL.md section 5): a backup path
 * lies inside the backup roots. The receive procedure runs it at step 11,
 * with the action table's checks, before the nonce is spent. */
static bool
params_ok(void *ctx, const struct proto_job *job, char *why, size_t whylen)
{
	const char *bk = proto_param(job->params, job->n_params, "backup");

	return bk == NULL || agent_path_allowed(ctx, bk, why, whylen);
}

static int start_worker(struct daemon *dm, struct worker_arg *w);

/* A DISPATCH the receive procedure admitted (its nonce is spent): run it,
 * queue it, acknowledge it again, or refuse it for the agent's own state. */
static void
on_dispatch(struct daemon *dm, const struct proto_msg *m, const struct proto_refs *refs)
{
	const struct proto_dispatch *d = &m->u.dispatch;
	const struct proto_job *jb = &d->job;
	struct journal_plan p = {0};
	struct worker_arg *w;
	enum proto_err code;
	const char *refusal;
	char why[512];

	pthread_mutex_lock(&dm->sh.mu);
	bool busy = dm->sh.busy;
	bool ending = busy && dm->sh.final_sent;
	bool same_job = busy && strcmp(dm->sh.job, jb->job_id) == 0;
	bool same_phase = same_job && strcmp(dm->sh.phase, d->phase) == 0;
	pthread_mutex_unlock(&dm->sh.mu);
	if (same_phase) {
		/* Already running (a coordinator that restarted asks again), or
		 * just ending: its results are sent again when it has ended. */
		snprintf(dm->resend_job, sizeof(dm->resend_job), "%s", jb->job_id);
		answer_dispatch(dm, PROTO_ACK, refs, PROTO_OK, NULL);
		return;
	}
	if (!busy && journal_plan_get(dm->j, jb->job_id, d->phase, &p, why, sizeof(why)) == 0 &&
	    strcmp(p.state, "running") != 0) {
		/* Asked again for a job that ended: its signed results go again. */
		journal_plan_clear(&p);
		answer_dispatch(dm, PROTO_ACK, refs, PROTO_OK, NULL);
		if (journal_outbox_unack_job(dm->j, jb->job_id, why, sizeof(why)) < 0 ||
		    journal_outbox_pending(dm->j, resend_one, dm, why, sizeof(why)) < 0)
			log_err("%s", why);
		return;
	}
	journal_plan_clear(&p);
	if (!busy && plan_busy(dm->c, why, sizeof(why))) {
		/* A local plan (odc-agent run) holds the agent: say so now, and
		 * which job it runs, rather than accept and never report. */
		char what[700];
		plan_busy_describe(dm->j, why, what, sizeof(what));
		refuse_dispatch(dm, refs, PROTO_E_BUSY, what);
		return;
	}
	w = daemon_worker_arg_dispatch(d, &code, &refusal);
	if (w == NULL) {
		refuse_dispatch(dm, refs, code, refusal);
		return;
	}
	if (busy) {
		/* Another phase of the running job, or any job once the running
		 * one has sent its final result: it starts when the worker ends. */
		if (!(same_job || ending) || dm->pending != NULL) {
			free(w);
			refuse_dispatch(dm, refs, PROTO_E_BUSY, "busy with another job or phase");
			return;
		}
		dm->pending = w;
		answer_dispatch(dm, PROTO_ACK, refs, PROTO_OK, NULL);
		log_info("queued job %s (%s) after its running phase", jb->job_id, d->phase);
		return;
	}
	if (start_worker(dm, w) != 0) {
		refuse_dispatch(dm, refs, PROTO_E_INTERNAL, "cannot start the job");
		return;
	}
	answer_dispatch(dm, PROTO_ACK, refs, PROTO_OK, NULL);
	log_info("accepted job %s: %s (%s) from operator %s", jb->job_id, jb->action, d->phase,
	         jb->operator_name);
}

static int
start_worker(struct daemon *dm, struct worker_arg *w)
{
	w->c = dm->c;
	w->kp = dm->kp;
	w->zctx = dm->zctx;
	w->sh = &dm->sh;
	memcpy(w->incarnation, dm->incarnation, PROTO_INCARN_LEN);
	pthread_mutex_lock(&dm->sh.mu);
	dm->sh.busy = true;
	dm->sh.final_sent = false;
	snprintf(dm->sh.job, sizeof(dm->sh.job), "%s", w->job);
	snprintf(dm->sh.phase, sizeof(dm->sh.phase), "%s", w->phase);
	dm->sh.step[0] = '\0';
	pthread_mutex_unlock(&dm->sh.mu);
	if (pthread_create(&dm->worker, NULL, daemon_worker_main, w) != 0) {
		pthread_mutex_lock(&dm->sh.mu);
		dm->sh.busy = false;
		pthread_mutex_unlock(&dm->sh.mu);
		free(w);
		return -1;
	}
	dm->worker_alive = true;
	dm->warg = w;
	return 0;
}

static void
on_coordinator(struct daemon *dm)
{
	static const struct multipart_limits lim = {.parts = MAX_FRAMES};
	zmq_msg_t parts[MAX_FRAMES];
	struct proto_frame fr[MAX_FRAMES];
	enum multipart_over over;
	int n = multipart_recv(dm->dealer, ZMQ_DONTWAIT, parts, &lim, &over);

	if (n < 1)
		return;
	for (int i = 0; i < n; i++)
		fr[i] = (struct proto_frame){zmq_msg_data(&parts[i]), zmq_msg_size(&parts[i])};
	char busy[PROTO_ID_MAX + 1] = "";
	pthread_mutex_lock(&dm->sh.mu);
	if (dm->sh.busy && !dm->sh.final_sent)
		snprintf(busy, sizeof(busy), "%s", dm->sh.job[0] ? dm->sh.job : "(resuming)");
	pthread_mutex_unlock(&dm->sh.mu);
	struct proto_refs refs = {0};
	struct proto_ctx ctx = {.receiver = PROTO_RCV_AGENT,
	                        .trusted = trust,
	                        .trust_ctx = (void *)(uintptr_t)dm->c,
	                        .host_id = dm->c->host_id,
	                        .now_ms = proto_now_ms(),
	                        .skew_ms = PROTO_SKEW_MS,
	                        .replay = &dm->replay,
	                        .busy_job = busy[0] ? busy : NULL,
	                        .params_ok = params_ok,
	                        .params_ctx = (void *)(uintptr_t)dm->c,
	                        .refs = &refs};
	struct proto_msg *m = NULL;
	struct proto_error e = {0};
	enum proto_err rc;
	/* More frames than any message has: the header's steps still come
	 * first (PROTOCOL.md 7), then FRAMES, as no type has one frame. */
	rc = proto_receive(fr, over != MULTIPART_WHOLE ? 1 : (size_t)n, &ctx, &m, &e);
	if (over != MULTIPART_WHOLE && rc == PROTO_E_FRAMES)
		snprintf(e.msg, sizeof(e.msg), "more than %d frames", MAX_FRAMES);
	if (rc != PROTO_OK) {
		/* A DISPATCH is answered whatever failed, from what was verified
		 * of it (refs) and its header; nothing else is (PROTOCOL.md 7). */
		if (fr[0].len == PROTO_HEADER_LEN && fr[0].data[0] == PROTO_MAGIC0 &&
		    fr[0].data[1] == PROTO_MAGIC1 && fr[0].data[3] == PROTO_DISPATCH)
			refuse_dispatch(dm, &refs, rc, e.msg);
		else
			log_warn("dropped a message from the coordinator: %s: %s",
			         proto_err_name(rc), e.msg);
		goto out;
	}
	switch (m->type) {
	case PROTO_WELCOME: {
		char err[256];
		dm->beat_ms = m->u.welcome.heartbeat_ms;
		if (!dm->welcomed)
			log_info("welcomed by coordinator %s (heartbeat %llu ms)",
			         m->u.welcome.coordinator_id, (unsigned long long)dm->beat_ms);
		dm->welcomed = true;
		dm->next_beat = clock_mono_ms();
		if (journal_outbox_pending(dm->j, resend_one, dm, err, sizeof(err)) < 0)
			log_err("%s", err);
		break;
	}
	case PROTO_ACK:
		if (m->u.ack.ref_type == PROTO_RESULT) {
			char err[256];
			if (journal_outbox_ack(dm->j, m->u.ack.job_id, m->u.ack.step, err,
			                       sizeof(err)) != 0)
				log_err("%s", err);
		}
		break;
	case PROTO_NACK: {
		const struct proto_ack *a = &m->u.ack;
		char err[256];
		/* A RESULT the coordinator refused for what it is (PROTOCOL.md 4:
		 * a job or step it cannot attribute) is not sent again; it stays in
		 * the journal. INTERNAL is the coordinator's trouble: retry. */
		bool final = a->ref_type == PROTO_RESULT && a->code != PROTO_E_INTERNAL &&
		             *a->job_id != '\0';
		log_warn("coordinator refused our %s for job %s%s%s: %s: %s%s",
		         proto_type_name((int)a->ref_type), a->job_id, *a->step ? ", step " : "",
		         a->step, proto_err_name((int)a->code), a->message,
		         final ? "; it is kept in the journal and not sent again" : "");
		if (final && journal_outbox_ack(dm->j, a->job_id, a->step, err, sizeof(err)) != 0)
			log_err("%s", err);
		break;
	}
	case PROTO_DISPATCH:
		on_dispatch(dm, m, &refs);
		break;
	default:
		break;
	}
out:
	proto_msg_free(m);
	multipart_close(parts, n);
}

static void
send_parts(struct daemon *dm, zmq_msg_t *parts, size_t n)
{
	for (size_t i = 0; i < n; i++)
		zmq_msg_send(&parts[i], dm->dealer, (i + 1 < n ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT);
}

/* Sends the held PROGRESS (send) or forgets it (its step already ended). */
static void
release_held(struct daemon *dm, bool send)
{
	if (send)
		send_parts(dm, dm->held, dm->n_held);
	for (size_t i = 0; i < dm->n_held; i++)
		zmq_msg_close(&dm->held[i]);
	dm->n_held = 0;
	dm->held_until = 0;
}

/* A step's start is held; a RESULT of that step ends the wait unsent, anything
 * else sends it first. Returns true when parts were taken into the hold. */
static bool
hold_or_release(struct daemon *dm, zmq_msg_t *parts, size_t n)
{
	struct proto_msg *m = NULL;
	struct proto_error e;
	int type = n >= 2 && zmq_msg_size(&parts[0]) == PROTO_HEADER_LEN
	               ? ((uint8_t *)zmq_msg_data(&parts[0]))[3]
	               : 0;
	bool held = false;

	if ((type != PROTO_PROGRESS && type != PROTO_RESULT) ||
	    proto_decode_body(type, zmq_msg_data(&parts[1]), zmq_msg_size(&parts[1]), &m, &e) !=
	        PROTO_OK) {
		if (dm->n_held > 0)
			release_held(dm, true);
		return false;
	}
	const char *job = type == PROTO_RESULT ? m->u.result.job_id : m->u.progress.job_id;
	const char *step = type == PROTO_RESULT ? m->u.result.step : m->u.progress.step;
	bool same =
	    dm->n_held > 0 && strcmp(dm->held_job, job) == 0 && strcmp(dm->held_step, step) == 0;
	/* The heartbeat names the step this stream has reached: set here, in the
	 * order the messages go out, never ahead of a RESULT still queued. */
	pthread_mutex_lock(&dm->sh.mu);
	if (strcmp(dm->sh.job, job) == 0)
		snprintf(dm->sh.step, sizeof(dm->sh.step), "%s", step);
	pthread_mutex_unlock(&dm->sh.mu);
	if (dm->n_held > 0)
		release_held(dm, !(same && type == PROTO_RESULT));
	if (type == PROTO_PROGRESS && strcmp(m->u.progress.status, "running") == 0 &&
	    *m->u.progress.message == '\0') {
		for (size_t i = 0; i < n; i++) {
			zmq_msg_init(&dm->held[i]);
			zmq_msg_move(&dm->held[i], &parts[i]);
		}
		dm->n_held = n;
		snprintf(dm->held_job, sizeof(dm->held_job), "%s", job);
		snprintf(dm->held_step, sizeof(dm->held_step), "%s", step);
		dm->held_until = clock_mono_ms() + PROGRESS_HOLD_MS;
		held = true;
	}
	proto_msg_free(m);
	return held;
}

/* The worker's messages go out as they are (a step's start after
 * PROGRESS_HOLD_MS, unless its RESULT came first); "done" ends the job. */
static void
on_worker(struct daemon *dm)
{
	static const struct multipart_limits lim = {.parts = MAX_FRAMES};
	zmq_msg_t parts[MAX_FRAMES];
	enum multipart_over over;
	int n = multipart_recv(dm->pair, 0, parts, &lim, &over);

	if (over != MULTIPART_WHOLE) {
		/* The worker sends what the protocol has (at most MAX_FRAMES);
		 * a longer one is a bug, not to go out cut short. */
		log_err("the worker sent a message of more than %d frames; dropped it", MAX_FRAMES);
	} else if (n == 1 && zmq_msg_size(&parts[0]) == 4 &&
	           memcmp(zmq_msg_data(&parts[0]), "done", 4) == 0) {
		if (dm->n_held > 0)
			release_held(dm, true);
		pthread_join(dm->worker, NULL);
		dm->worker_alive = false;
		free(dm->warg);
		dm->warg = NULL;
		pthread_mutex_lock(&dm->sh.mu);
		dm->sh.busy = false;
		dm->sh.job[0] = dm->sh.phase[0] = dm->sh.step[0] = '\0';
		pthread_mutex_unlock(&dm->sh.mu);
		dm->next_beat = clock_mono_ms(); /* say at once that the job is over */
		if (dm->resend_job[0] != '\0') {
			char err[256];
			if (journal_outbox_unack_job(dm->j, dm->resend_job, err, sizeof(err)) < 0 ||
			    journal_outbox_pending(dm->j, resend_one, dm, err, sizeof(err)) < 0)
				log_err("%s", err);
			dm->resend_job[0] = '\0';
		}
		if (dm->pending != NULL) {
			struct worker_arg *next = dm->pending;
			dm->pending = NULL;
			if (start_worker(dm, next) != 0)
				log_err("cannot start the queued phase %s of job %s", next->phase,
				        next->job);
		}
	} else if (n >= 2 && !hold_or_release(dm, parts, (size_t)n)) {
		send_parts(dm, parts, (size_t)n);
	}
	multipart_close(parts, n);
}

static void
on_monitor(struct daemon *dm)
{
	/* An event is two frames: its number and value, then the address. */
	static const struct multipart_limits lim = {.parts = 2};
	zmq_msg_t p[2];
	enum multipart_over over;
	int n = multipart_recv(dm->mon, 0, p, &lim, &over);

	if (n == 2 && zmq_msg_size(&p[0]) >= 2) {
		uint16_t event;
		memcpy(&event, zmq_msg_data(&p[0]), sizeof(event));
		if ((event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED ||
		     event == ZMQ_EVENT_CONNECT_RETRIED) &&
		    dm->reconnect_lost) {
			dm->reconnect_lost = false;
			dm->reconnect_at = 0;
		}
		if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
			log_info("connected to the coordinator at %s", dm->c->coordinator_endpoint);
			dm->welcomed = false;
			dm->reconnect_backoff = 0;
			send_hello(dm);
		} else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH ||
		           event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ||
		           event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) {
			uint64_t b = dm->reconnect_backoff ? dm->reconnect_backoff * 2 : 500;
			dm->reconnect_backoff =
			    b < dm->c->reconnect_max_ms ? b : dm->c->reconnect_max_ms;
			dm->reconnect_at = clock_mono_ms() + dm->reconnect_backoff;
			dm->reconnect_lost = false;
			log_warn(
			    "the coordinator at %s refused this agent%s; trying again in %llu ms",
			    dm->c->coordinator_endpoint,
			    event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH
			        ? " (is its key accepted? odcctl keys)"
			        : "",
			    (unsigned long long)dm->reconnect_backoff);
		} else if (event == ZMQ_EVENT_DISCONNECTED) {
			log_warn("lost the coordinator at %s; reconnecting",
			         dm->c->coordinator_endpoint);
			dm->welcomed = false;
			if (dm->reconnect_at == 0) {
				dm->reconnect_at = clock_mono_ms() + LOST_GRACE_MS;
				dm->reconnect_lost = true;
			}
		}
	}
	multipart_close(p, n);
}

/* Opens the loop's ZeroMQ sockets in dm->zctx: the DEALER to the
 * coordinator (CURVE, bounded frames) and connects it, the PAIR that hears
 * its monitor's events, the PULL the workers push to. 0, or -1 with err;
 * daemon_sockets_close() closes what was opened either way. */
static int
daemon_sockets_open(struct daemon *dm, char *err, size_t errlen)
{
	uint8_t cpk[32], csk[32], spk[32];
	int one = 1, zero = 0, ivl = 500, ivl_max = (int)dm->c->reconnect_max_ms,
	    hb = (int)dm->c->ping_ms, hb_to = 3 * (int)dm->c->ping_ms;
	int64_t maxmsg = (int64_t)(proto_frame_limit(PROTO_RCV_AGENT) + PROTO_CURVE_OVERHEAD);

	if (keys_curve(dm->kp, cpk, csk) != 0 ||
	    keys_curve_public(dm->c->coordinator_key, spk) != 0) {
		snprintf(err, errlen, "cannot derive the CURVE keys");
		return -1;
	}
	dm->dealer = zmq_socket(dm->zctx, ZMQ_DEALER);
	if (dm->dealer == NULL) {
		snprintf(err, errlen, "zmq: %s", zmq_strerror(errno));
		return -1;
	}
	zmq_setsockopt(dm->dealer, ZMQ_CURVE_SERVERKEY, spk, 32);
	zmq_setsockopt(dm->dealer, ZMQ_CURVE_PUBLICKEY, cpk, 32);
	zmq_setsockopt(dm->dealer, ZMQ_CURVE_SECRETKEY, csk, 32);
	sodium_memzero(csk, sizeof(csk));
	/* No ZMQ_ROUTING_ID: the coordinator names peers by the host id ZAP bound
	 * to their key, never by an id a peer chooses for itself. */
	zmq_setsockopt(dm->dealer, ZMQ_LINGER, &zero, sizeof(zero));
	/* Queue nothing for a peer that is not there: results wait in the
	 * outbox, heartbeats are worthless late. */
	zmq_setsockopt(dm->dealer, ZMQ_IMMEDIATE, &one, sizeof(one));
	zmq_setsockopt(dm->dealer, ZMQ_RECONNECT_IVL, &ivl, sizeof(ivl));
	zmq_setsockopt(dm->dealer, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof(ivl_max));
	/* ZMTP heartbeats notice a silent coordinator (a frozen or cut-off
	 * host). No TTL is asked of the coordinator: a TTL timer there would be
	 * cancelled, at O(connections), on every message (PROTOCOL.md 1). */
	zmq_setsockopt(dm->dealer, ZMQ_HEARTBEAT_IVL, &hb, sizeof(hb));
	zmq_setsockopt(dm->dealer, ZMQ_HEARTBEAT_TIMEOUT, &hb_to, sizeof(hb_to));
	/* Every frame has a bound: the largest DISPATCH and a margin, so that a
	 * body just over its bound is still answered TOO_BIG; libzmq closes a
	 * connection that brings a longer frame (PROTOCOL.md section 1). */
	zmq_setsockopt(dm->dealer, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
	if (zmq_socket_monitor(dm->dealer, MONITOR_ENDPOINT,
	                       ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED |
	                           ZMQ_EVENT_CONNECT_RETRIED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
	                           ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
	                           ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) != 0) {
		snprintf(err, errlen, "zmq monitor: %s", zmq_strerror(errno));
		return -1;
	}
	dm->mon = zmq_socket(dm->zctx, ZMQ_PAIR);
	zmq_connect(dm->mon, MONITOR_ENDPOINT);
	dm->pair = zmq_socket(dm->zctx, ZMQ_PULL);
	if (dm->pair == NULL || zmq_bind(dm->pair, WORKER_ENDPOINT) != 0) {
		snprintf(err, errlen, "zmq inproc: %s", zmq_strerror(errno));
		return -1;
	}
	if (zmq_connect(dm->dealer, dm->c->coordinator_endpoint) != 0) {
		snprintf(err, errlen, "%s: %s", dm->c->coordinator_endpoint, zmq_strerror(errno));
		return -1;
	}
	return 0;
}

/* Closes what daemon_sockets_open() opened, but the PULL while a worker
 * runs: the worker may still push to it, and the context stays too (see
 * daemon_close). */
static void
daemon_sockets_close(struct daemon *dm)
{
	if (dm->dealer)
		zmq_close(dm->dealer);
	if (dm->mon)
		zmq_close(dm->mon);
	if (!dm->worker_alive && dm->pair)
		zmq_close(dm->pair);
}

/* Opens what the daemon holds (its key, state directories, journal, nonce
 * store, ZeroMQ context and sockets) into dm (c set, the rest zeroed). 0,
 * or -1 with err; daemon_close() closes what was opened either way. */
static int
daemon_open(struct daemon *dm, char *err, size_t errlen)
{
	const struct agent_conf *c = dm->c;
	char path[4200];

	dm->kp = keys_load_secret(c->secret_key, err, errlen);
	if (dm->kp == NULL)
		return -1;
	if (agent_dir_ensure(c->state_dir, err, errlen) != 0 ||
	    agent_dir_ensure(c->snapshot_root, err, errlen) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/journal.db", c->state_dir);
	if ((dm->j = journal_open(path, err, errlen)) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/nonces.db", c->state_dir);
	if (replay_sqlite_open(&dm->replay, path, err, errlen) != 0)
		return -1;
	pthread_mutex_init(&dm->sh.mu, NULL);
	randombytes_buf(dm->incarnation, sizeof(dm->incarnation));
	dm->zctx = zmq_ctx_new();
	if (dm->zctx == NULL || daemon_sockets_open(dm, err, errlen) != 0)
		return -1;
	return 0;
}

/* Closes what daemon_open() opened, and what the loop made on the way (the
 * Docker client, a held PROGRESS, a queued phase). A running worker is not
 * joined: the process ends, the journal keeps its place, and the next
 * start resumes it; its PULL, the context and the key (it signs with it)
 * stay while it runs. */
static void
daemon_close(struct daemon *dm)
{
	for (size_t i = 0; i < dm->n_held; i++)
		zmq_msg_close(&dm->held[i]);
	daemon_sockets_close(dm);
	/* The loop's own journal connection and nonce store close either way
	 * (a worker has its own connection). */
	replay_close(&dm->replay);
	journal_close(dm->j);
	if (!dm->worker_alive) {
		if (dm->zctx)
			zmq_ctx_term(dm->zctx);
		keys_pair_free(dm->kp);
	}
	daemon_docker_drop(dm);
	free(dm->pending);
}

/* A plan a previous life of this agent left running goes on first. */
static void
daemon_resume(struct daemon *dm, char *err, size_t errlen)
{
	struct journal_plan up;

	if (journal_plan_unfinished(dm->j, &up, err, errlen) != 0)
		return;
	struct worker_arg *w = daemon_worker_arg_resume(up.job_id, up.phase);
	log_info("job %s was interrupted; resuming", up.job_id);
	if (w != NULL)
		start_worker(dm, w);
	journal_plan_clear(&up);
}

/* How long the loop may wait: until the next heartbeat (or HELLO),
 * watchdog ping, reconnection, held PROGRESS or container watch, whichever
 * comes first. Pings the watchdog when that is due. */
static long
daemon_timeout(struct daemon *dm)
{
	uint64_t ping = sdnotify_watchdog(&dm->sn);
	uint64_t now = clock_mono_ms(), due = dm->welcomed ? dm->next_beat : dm->next_hello;

	if (ping != UINT64_MAX && now + ping < due)
		due = now + ping;
	if (dm->reconnect_at != 0 && dm->reconnect_at < due)
		due = dm->reconnect_at;
	if (dm->n_held > 0 && dm->held_until < due)
		due = dm->held_until;
	if (dm->next_watch < due)
		due = dm->next_watch;
	return due > now ? (long)(due - now) : 0;
}

/* The agent's own reconnection (see reconnect_at in struct daemon). */
static void
daemon_reconnect(struct daemon *dm)
{
	const struct agent_conf *c = dm->c;

	if (dm->reconnect_lost)
		log_warn("libzmq gave the connection to %s up (a protocol error, "
		         "such as a frame over "
		         "%zu bytes); connecting again",
		         c->coordinator_endpoint, proto_frame_limit(PROTO_RCV_AGENT));
	dm->reconnect_at = 0;
	dm->reconnect_lost = false;
	zmq_disconnect(dm->dealer, c->coordinator_endpoint); /* may be gone already */
	if (zmq_connect(dm->dealer, c->coordinator_endpoint) != 0)
		log_err("%s: %s", c->coordinator_endpoint, zmq_strerror(errno));
}

/* What is due after a poll: the held PROGRESS, a reconnection, the
 * container watch, HELLO or the heartbeat, systemd's status line. */
static void
daemon_timers(struct daemon *dm)
{
	uint64_t now = clock_mono_ms();

	if (dm->n_held > 0 && now >= dm->held_until)
		release_held(dm, true);
	if (dm->reconnect_at != 0 && now >= dm->reconnect_at)
		daemon_reconnect(dm);
	if (now >= dm->next_watch)
		watch_container(dm);
	if (!dm->welcomed && now >= dm->next_hello) {
		send_hello(dm);
	} else if (dm->welcomed && now >= dm->next_beat) {
		send_heartbeat(dm);
		/* ±10% jitter, so a restarted fleet does not beat in step. */
		uint64_t span = dm->beat_ms / 5;
		dm->next_beat = clock_mono_ms() + dm->beat_ms - dm->beat_ms / 10 +
		                (span ? randombytes_uniform((uint32_t)span) : 0);
	}
	systemd_status(dm, false);
}

/* The event loop, until SIGTERM or SIGINT: the monitor's events, the
 * coordinator's messages, the worker's, then what is due. 0 when asked to
 * stop, -1 with err when it cannot poll. */
static int
daemon_loop(struct daemon *dm, char *err, size_t errlen)
{
	while (!stopping) {
		long timeout = daemon_timeout(dm);
		zmq_pollitem_t items[] = {
		    {dm->dealer, 0, ZMQ_POLLIN, 0},
		    {dm->mon, 0, ZMQ_POLLIN, 0},
		    {dm->pair, 0, ZMQ_POLLIN, 0},
		};
		if (zmq_poll(items, 3, timeout) < 0) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "zmq_poll: %s", zmq_strerror(errno));
			return -1;
		}
		if (items[1].revents & ZMQ_POLLIN)
			on_monitor(dm);
		if (items[0].revents & ZMQ_POLLIN)
			on_coordinator(dm);
		if (items[2].revents & ZMQ_POLLIN)
			on_worker(dm);
		daemon_timers(dm);
	}
	return 0;
}

int
daemon_run(const struct agent_conf *c, char *err, size_t errlen)
{
	struct daemon dm = {.c = c, .beat_ms = DEFAULT_BEAT_MS};
	struct sigaction sa;
	int ret = -1;

	sdnotify_init(&dm.sn);
	if (daemon_open(&dm, err, errlen) != 0)
		goto out;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	daemon_resume(&dm, err, errlen);
	log_info("odc-agent %s on %s: coordinator %s", AGENT_VERSION, c->host_id,
	         c->coordinator_endpoint);
	dm.next_hello = clock_mono_ms() + HELLO_RETRY_MS;
	/* Ready once the journal, the nonce store and the socket are set up; the
	 * coordinator may come later (the status line says whether it has). */
	systemd_status(&dm, true);
	if (daemon_loop(&dm, err, errlen) != 0)
		goto out;
	log_info("stopping%s",
	         dm.worker_alive ? "; the running job resumes at the next start" : "");
	sdnotify_stopping(&dm.sn, "stopping%s",
	                  dm.worker_alive ? "; the running job resumes at the next start" : "");
	ret = 0;
out:
	daemon_close(&dm);
	return ret;
}
