/* The control socket(s) odcctl talks to (PROTOCOL.md section 9): a local
 * ipc ROUTER guarded by file permissions and, optionally, a CURVE tcp
 * ROUTER that only trusted operator keys may use. A signed JOB submits a
 * job; every other exchange is a REQUEST answered by one REPLY. The
 * sockets are opened and closed in control-socket.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/multipart.h"
#include "coordinator/coord.h"
#include "coordinator/view.h"

#define MAX_PARTS 5

/* ---- replies ---- */

static void
reply(struct coord *co, void *sock, const uint8_t *rid, size_t rid_len, uint64_t request_id,
      int code, const char *message, json_t *body)
{
	struct proto_msg m = {.type = PROTO_REPLY};
	struct proto_frames f;
	struct proto_error e;

	m.u.reply = (struct proto_reply){request_id, (uint64_t)code, message ? message : "",
	                                 code == 0 ? body : NULL};
	if (proto_encode(&m, NULL, &f, &e) != PROTO_OK) {
		char msg[400];
		snprintf(msg, sizeof(msg), "the reply cannot be sent (%s); narrow the request",
		         e.msg);
		m.u.reply = (struct proto_reply){request_id, PROTO_E_INTERNAL, msg, NULL};
		if (proto_encode(&m, NULL, &f, &e) != PROTO_OK)
			return;
	}
	int rc = coord_send(sock, rid, rid_len, &f);
	metrics_count_sent(co, PROTO_REPLY, rc == 0);
	if (rc != 0)
		log_debug("control: a client left before its reply");
	proto_frames_free(&f);
}

/* ---- argument checks ---- */

struct argspec {
	const char *name;
	int type; /* JSON_STRING, JSON_INTEGER, JSON_TRUE (bool), JSON_ARRAY */
};

static bool
type_ok(json_t *v, int type)
{
	if (type == JSON_TRUE)
		return json_is_boolean(v);
	return json_typeof(v) == (json_type)type;
}

/* Every arg known and of its type: VALUE for a stranger, SCHEMA for a type. */
static int
check_args(json_t *args, const struct argspec *spec, char *err, size_t errlen)
{
	const char *k;
	json_t *v;

	json_object_foreach(args, k, v)
	{
		const struct argspec *s = spec;
		while (s->name != NULL && strcmp(s->name, k) != 0)
			s++;
		if (s->name == NULL) {
			snprintf(err, errlen, "unknown argument %s", k);
			return PROTO_E_VALUE;
		}
		if (!type_ok(v, s->type)) {
			snprintf(err, errlen, "argument %s has the wrong type", k);
			return PROTO_E_SCHEMA;
		}
	}
	return 0;
}

static const char *
arg_str(json_t *args, const char *k)
{
	return json_string_value(json_object_get(args, k));
}

/* Who asks, for the audit trail: the ZAP User-Id on tcp, else the actor
 * odcctl names, marked local. */
static int
who_of(json_t *args, const char *zap_user, char *who, size_t wlen, char *err, size_t errlen)
{
	const char *actor = arg_str(args, "actor");

	if (actor != NULL && (strlen(actor) == 0 || strlen(actor) > 64)) {
		snprintf(err, errlen, "actor: 1..64 bytes");
		return PROTO_E_VALUE;
	}
	if (zap_user != NULL) {
		const char *name = strncmp(zap_user, "operator:", 9) == 0 ? zap_user + 9 : zap_user;
		if (actor != NULL && strcmp(actor, name) != 0) {
			snprintf(err, errlen, "actor %s is not the connected operator %s", actor,
			         name);
			return PROTO_E_DENIED;
		}
		snprintf(who, wlen, "operator %s", name);
	} else {
		snprintf(who, wlen, actor ? "local:%s" : "local", actor);
	}
	return 0;
}

/* ---- commands ---- */

struct req {
	struct coord *co;
	json_t *args;
	const char *zap_user;
	json_t *body; /* out */
	char *err;
	size_t errlen;
	/* Where the reply goes, for a request that waits (job with wait_ms). */
	void *sock;
	const uint8_t *rid;
	size_t rid_len;
	uint64_t request_id;
	bool parked; /* out: answered later by control_waiters() */
};

/* A `job` request waiting for its job to change (PROTOCOL.md 9.2). */
struct waiter {
	void *sock;
	uint8_t rid[256];
	size_t rid_len;
	uint64_t request_id;
	char job[PROTO_ID_MAX + 1];
	uint64_t since;
	uint64_t deadline_mono;
	struct waiter *next;
};
#define MAX_WAITERS 1024
/* A `results` page stops near this many bytes: REPLY bodies are at most
 * 16 MiB, and one result object is at most about 200 KB. */
#define CONTROL_RESULTS_BYTES (8u << 20)
#define MAX_WAIT_MS           60000

static int
cmd_info(struct req *r)
{
	static const struct argspec spec[] = {{NULL, 0}};
	struct coord *co = r->co;
	char text[KEYS_PUBLIC_TEXT_SIZE];
	size_t counts[4] = {0};
	int rc = check_args(r->args, spec, r->err, r->errlen);

	if (rc != 0)
		return rc;
	size_t n = 0;
	int code;
	json_t *none = json_object();
	struct host **all = registry_select(co, none, false, false, &n, &code, r->err, r->errlen);
	json_decref(none);
	for (size_t i = 0; all != NULL && i < n; i++) {
		const char *s = registry_status_name(all[i]);
		counts[strcmp(s, "online") == 0  ? 0
		       : strcmp(s, "lost") == 0  ? 1
		       : strcmp(s, "never") == 0 ? 2
		                                 : 3]++;
	}
	free(all);
	keys_format_public(co->kp->pk, text, sizeof(text));
	r->body = json_pack(
	    "{s:s, s:s, s:s, s:I, s:I, s:I, s:{s:I, s:I, s:I, s:I}, s:I}", "coordinator_id",
	    co->conf->id, "version", COORD_VERSION, "public_key", text, "now_ms",
	    (json_int_t)proto_now_ms(), "heartbeat_ms", (json_int_t)co->conf->heartbeat_ms,
	    "lost_after", (json_int_t)co->conf->lost_after, "hosts", "online",
	    (json_int_t)counts[0], "lost", (json_int_t)counts[1], "never", (json_int_t)counts[2],
	    "revoked", (json_int_t)counts[3], "jobs_active", (json_int_t)map_count(co->job_map));
	return 0;
}

static int
cmd_hosts(struct req *r, bool resolve)
{
	size_t n = 0;
	int code;
	struct host **hs =
	    registry_select(r->co, r->args, resolve, resolve, &n, &code, r->err, r->errlen);
	uint64_t now = proto_now_ms();
	json_t *list = json_array();

	if (hs == NULL) {
		json_decref(list);
		return code;
	}
	for (size_t i = 0; i < n; i++)
		json_array_append_new(list, resolve ? json_string(hs[i]->id)
		                                    : registry_host_json(r->co, hs[i], now));
	free(hs);
	r->body = resolve ? json_pack("{s:o}", "hosts", list)
	                  : json_pack("{s:I, s:o}", "now_ms", (json_int_t)now, "hosts", list);
	return 0;
}

/* Every deployment, or the one named by `deployment`; and the accepted
 * hosts whose metadb is not known yet. */
static int
cmd_deployments(struct req *r)
{
	static const struct argspec spec[] = {{"deployment", JSON_STRING}, {NULL, 0}};
	const char *want = json_string_value(json_object_get(r->args, "deployment"));
	struct coord *co = r->co;
	uint64_t now = proto_now_ms();
	size_t n = 0, nh = 0;
	int code, rc = check_args(r->args, spec, r->err, r->errlen);
	struct deployment **all;
	struct host **hs;
	json_t *list, *unplaced, *none;

	if (rc != 0)
		return rc;
	if ((all = deploy_all(co, &n)) == NULL)
		return PROTO_E_INTERNAL;
	list = json_array();
	for (size_t i = 0; list != NULL && i < n; i++)
		if (want == NULL || strcmp(want, all[i]->id) == 0)
			json_array_append_new(list, deploy_json(all[i]));
	free(all);
	if (want != NULL && json_array_size(list) == 0) {
		json_decref(list);
		snprintf(r->err, r->errlen, "no deployment %s", want);
		return PROTO_E_NOT_FOUND;
	}
	none = json_object();
	hs = registry_select(co, none, false, true, &nh, &code, r->err, r->errlen);
	json_decref(none);
	unplaced = json_array();
	for (size_t i = 0; hs != NULL && unplaced != NULL && i < nh; i++)
		if (hs[i]->dep == NULL && want == NULL)
			json_array_append_new(unplaced, json_string(hs[i]->id));
	free(hs);
	r->body = json_pack("{s:I, s:o, s:o}", "now_ms", (json_int_t)now, "deployments", list,
	                    "unplaced", unplaced);
	return r->body != NULL ? 0 : PROTO_E_INTERNAL;
}

static int
cmd_keys(struct req *r)
{
	static const struct argspec spec[] = {{NULL, 0}};
	int rc = check_args(r->args, spec, r->err, r->errlen);
	json_t *keys, *pending;

	if (rc != 0)
		return rc;
	keys = view_keys_json(r->co->store, r->err, r->errlen);
	pending = view_pending_json(r->co->store, r->err, r->errlen);
	if (keys == NULL || pending == NULL) {
		json_decref(keys);
		json_decref(pending);
		return PROTO_E_INTERNAL;
	}
	r->body = json_pack("{s:o, s:o}", "keys", keys, "pending", pending);
	return 0;
}

static int
cmd_key(struct req *r, bool accept)
{
	static const struct argspec spec[] = {
	    {"host", JSON_STRING}, {"key", JSON_STRING}, {"actor", JSON_STRING}, {NULL, 0}};
	const char *host = arg_str(r->args, "host"), *key = arg_str(r->args, "key");
	uint8_t pk[PROTO_PK_LEN];
	char who[96], fp[KEYS_FINGERPRINT_SIZE], kerr[160];
	bool changed = false;
	int rc = check_args(r->args, spec, r->err, r->errlen);

	if (rc == 0 && (rc = who_of(r->args, r->zap_user, who, sizeof(who), r->err, r->errlen)) ==
	                   PROTO_E_DENIED)
		coord_audit(r->co, r->zap_user, accept ? "key-accept" : "key-revoke", NULL, NULL,
		            "refused", "%s", r->err);
	if (rc != 0)
		return rc;
	if (host == NULL || !proto_valid_id(host)) {
		snprintf(r->err, r->errlen, "host: %s", host ? "not a valid host id" : "required");
		return PROTO_E_VALUE;
	}
	if (accept) {
		if (key == NULL) {
			snprintf(r->err, r->errlen, "key: required");
			return PROTO_E_VALUE;
		}
		if (keys_parse_public(key, pk, kerr, sizeof(kerr)) != 0) {
			snprintf(r->err, r->errlen, "key: %s", kerr);
			return PROTO_E_VALUE;
		}
		rc = registry_accept(r->co, host, pk, &changed, r->err, r->errlen);
	} else {
		if (key != NULL) {
			snprintf(r->err, r->errlen, "unknown argument key");
			return PROTO_E_VALUE;
		}
		rc = registry_revoke(r->co, host, &changed, r->err, r->errlen);
	}
	json_t *hosts = json_pack("[s]", host);
	if (rc != 0) {
		coord_audit(r->co, who, accept ? "key-accept" : "key-revoke", NULL, hosts,
		            "refused", "%s: %s", proto_err_name(rc), r->err);
		json_decref(hosts);
		return rc;
	}
	struct host *h = registry_host(r->co, host);
	snprintf(fp, sizeof(fp), "%s", h ? h->fingerprint : "");
	coord_audit(r->co, who, accept ? "key-accept" : "key-revoke", NULL, hosts,
	            changed ? "ok" : "unchanged", "key %s", fp);
	json_decref(hosts);
	r->body = json_pack("{s:s, s:s}", "host", host, "fingerprint", fp);
	return 0;
}

/* Collects job ids (oldest first); the newest are loaded afterwards, so a
 * long history costs a walk of the jobs table, not a load of every job. */
static int
jobs_id(void *ctx, const struct store_job *sj)
{
	return json_array_append_new(ctx, json_string(sj->job_id)) == 0 ? 0 : -1;
}

static int
cmd_jobs(struct req *r)
{
	static const struct argspec spec[] = {
	    {"state", JSON_STRING}, {"limit", JSON_INTEGER}, {NULL, 0}};
	json_t *lim = json_object_get(r->args, "limit"), *ids, *out;
	const char *state = arg_str(r->args, "state");
	const char *states[2] = {state, NULL};
	json_int_t limit = lim ? json_integer_value(lim) : 50;
	int rc = check_args(r->args, spec, r->err, r->errlen);

	if (rc != 0)
		return rc;
	if (state != NULL && proto_job_state_from_name(state) < 0) {
		snprintf(r->err, r->errlen, "state: '%s' is not a job state", state);
		return PROTO_E_VALUE;
	}
	if (limit < 1 || limit > 1000) {
		snprintf(r->err, r->errlen, "limit: 1..1000");
		return PROTO_E_VALUE;
	}
	ids = json_array();
	if (store_jobs_each(r->co->store, state ? states : NULL, jobs_id, ids, r->err, r->errlen) !=
	    0) {
		json_decref(ids);
		return PROTO_E_INTERNAL;
	}
	/* Newest first, limited, for people. */
	out = json_array();
	for (size_t k = json_array_size(ids); k > 0 && (json_int_t)json_array_size(out) < limit;
	     k--) {
		const char *id = json_string_value(json_array_get(ids, k - 1));
		struct job *live = jobs_find(r->co, id), *j = live;
		char err[256];
		if (j == NULL)
			j = jobs_load_one(r->co, id, err, sizeof(err));
		if (j == NULL) {
			log_err("jobs: %s", err);
			continue;
		}
		json_array_append_new(out, jobs_summary_json(j));
		if (j != live)
			job_free(j);
	}
	json_decref(ids);
	r->body = json_pack("{s:o}", "jobs", out);
	return 0;
}

static struct job *
job_arg(struct req *r, bool *owned, int *code)
{
	const char *id = arg_str(r->args, "job");
	struct job *j;

	*owned = false;
	if (id == NULL || !proto_valid_id(id)) {
		snprintf(r->err, r->errlen, "job: %s", id ? "not a valid job id" : "required");
		*code = PROTO_E_VALUE;
		return NULL;
	}
	j = jobs_find(r->co, id);
	if (j != NULL)
		return j;
	j = jobs_load_one(r->co, id, r->err, r->errlen);
	*code = PROTO_E_NOT_FOUND;
	*owned = j != NULL;
	return j;
}

static int
cmd_job(struct req *r)
{
	static const struct argspec spec[] = {
	    {"job", JSON_STRING}, {"since", JSON_INTEGER}, {"wait_ms", JSON_INTEGER}, {NULL, 0}};
	json_t *since_v = json_object_get(r->args, "since"),
	       *wait_v = json_object_get(r->args, "wait_ms");
	bool owned;
	int code = check_args(r->args, spec, r->err, r->errlen);
	json_int_t since = since_v ? json_integer_value(since_v) : 0,
	           wait = wait_v ? json_integer_value(wait_v) : 0;
	struct job *j;

	if (code != 0)
		return code;
	if (since < 0 || wait < 0 || wait > MAX_WAIT_MS) {
		snprintf(r->err, r->errlen, "%s",
		         since < 0 ? "since: a version, >= 0" : "wait_ms: 0..60000");
		return PROTO_E_VALUE;
	}
	j = job_arg(r, &owned, &code);
	if (j == NULL)
		return code;
	/* Nothing new yet: the answer waits until the job changes. */
	if (!owned && since_v != NULL && wait > 0 && (uint64_t)since == j->version &&
	    !jobstate_final(j->state) && r->co->n_waiters < MAX_WAITERS &&
	    r->rid_len <= sizeof(((struct waiter *)0)->rid)) {
		struct waiter *w = calloc(1, sizeof(*w));
		if (w != NULL) {
			w->sock = r->sock;
			memcpy(w->rid, r->rid, r->rid_len);
			w->rid_len = r->rid_len;
			w->request_id = r->request_id;
			snprintf(w->job, sizeof(w->job), "%s", j->id);
			w->since = (uint64_t)since;
			w->deadline_mono = clock_mono_ms() + (uint64_t)wait;
			w->next = r->co->waiters;
			r->co->waiters = w;
			r->co->n_waiters++;
			r->parked = true;
			return 0;
		}
	}
	r->body = jobs_detail_json(j, since_v ? (uint64_t)since : 0);
	if (owned)
		job_free(j);
	return r->body != NULL ? 0 : PROTO_E_INTERNAL;
}

void
control_waiters(struct coord *co)
{
	uint64_t now = clock_mono_ms();
	struct waiter **pp = &co->waiters;

	while (*pp != NULL) {
		struct waiter *w = *pp;
		struct job *j = jobs_find(co, w->job);
		char err[512] = "";
		json_t *body = NULL;
		int code = 0;

		if (j != NULL && j->version == w->since && !jobstate_final(j->state) &&
		    now < w->deadline_mono) {
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		co->n_waiters--;
		if (j != NULL) {
			body = jobs_detail_json(j, w->since);
		} else {
			/* Ended and left memory meanwhile: the stored copy. */
			struct job *l = jobs_load_one(co, w->job, err, sizeof(err));
			if (l != NULL)
				body = jobs_detail_json(l, w->since);
			else
				code = PROTO_E_NOT_FOUND;
			job_free(l);
		}
		if (code == 0 && body == NULL)
			code = PROTO_E_INTERNAL;
		reply(co, w->sock, w->rid, w->rid_len, w->request_id, code, err, body);
		json_decref(body);
		free(w);
	}
}

void
control_free(struct coord *co)
{
	while (co->waiters != NULL) {
		struct waiter *w = co->waiters;
		co->waiters = w->next;
		free(w);
	}
	co->n_waiters = 0;
}

static int
cmd_job_control(struct req *r, int which)
{
	static const struct argspec spec[] = {
	    {"job", JSON_STRING}, {"actor", JSON_STRING}, {NULL, 0}};
	static const char *const verbs[] = {"pause", "resume", "abort"};
	static const char *const audits[] = {"job-pause", "job-resume", "job-abort"};
	char who[96];
	bool owned;
	int code = check_args(r->args, spec, r->err, r->errlen);
	struct job *j;

	if (code == 0 && (code = who_of(r->args, r->zap_user, who, sizeof(who), r->err,
	                                r->errlen)) == PROTO_E_DENIED)
		coord_audit(r->co, r->zap_user, audits[which], arg_str(r->args, "job"), NULL,
		            "refused", "%s", r->err);
	if (code != 0)
		return code;
	j = job_arg(r, &owned, &code);
	if (j == NULL)
		return code;
	if (owned) {
		/* Not in memory: it ended and nothing of it is in flight. */
		snprintf(r->err, r->errlen, "job %s is %s; cannot %s it", j->id,
		         jobstate_name(j->state), verbs[which]);
		coord_audit(r->co, who, audits[which], j->id, NULL, "refused", "%s", r->err);
		job_free(j);
		return PROTO_E_CONFLICT;
	}
	code = which == 0   ? rollout_pause(r->co, j, who, r->err, r->errlen)
	       : which == 1 ? rollout_resume(r->co, j, who, r->err, r->errlen)
	                    : rollout_abort(r->co, j, who, r->err, r->errlen);
	if (code != 0) {
		coord_audit(r->co, who, audits[which], j->id, NULL, "refused", "%s", r->err);
		return code;
	}
	r->body = jobs_summary_json(j);
	return 0;
}

/* A job's stored results, a page at a time (PROTOCOL.md 9.2, `results`):
 * thousands of hosts' evidence never has to fit one REPLY. */
static int
cmd_results(struct req *r)
{
	static const struct argspec spec[] = {{"job", JSON_STRING},    {"host", JSON_STRING},
	                                      {"step", JSON_STRING},   {"after", JSON_INTEGER},
	                                      {"limit", JSON_INTEGER}, {NULL, 0}};
	json_t *after_v = json_object_get(r->args, "after"),
	       *lim_v = json_object_get(r->args, "limit"), *rows;
	json_int_t after = after_v ? json_integer_value(after_v) : 0,
	           limit = lim_v ? json_integer_value(lim_v) : 1000;
	struct store_results_query q = {
	    arg_str(r->args, "job"), arg_str(r->args, "host"), arg_str(r->args, "step"), 0, 0,
	    CONTROL_RESULTS_BYTES};
	uint64_t next;
	int rc = check_args(r->args, spec, r->err, r->errlen);

	if (rc != 0)
		return rc;
	if (q.job_id == NULL || !proto_valid_id(q.job_id)) {
		snprintf(r->err, r->errlen, "job: %s",
		         q.job_id ? "not a valid job id" : "required");
		return PROTO_E_VALUE;
	}
	if (q.host_id != NULL && !proto_valid_id(q.host_id)) {
		snprintf(r->err, r->errlen, "host: not a valid host id");
		return PROTO_E_VALUE;
	}
	if (q.step != NULL && !proto_valid_step(q.step)) {
		snprintf(r->err, r->errlen, "step: not a step name (1..32 of [a-z_])");
		return PROTO_E_VALUE;
	}
	if (after < 0 || limit < 1 || limit > 1000) {
		snprintf(r->err, r->errlen, "%s",
		         after < 0 ? "after: a seq, >= 0" : "limit: 1..1000");
		return PROTO_E_VALUE;
	}
	if (jobs_find(r->co, q.job_id) == NULL && !store_job_exists(r->co->store, q.job_id)) {
		snprintf(r->err, r->errlen, "no job %s", q.job_id);
		return PROTO_E_NOT_FOUND;
	}
	q.after = (uint64_t)after;
	q.limit = (size_t)limit;
	if ((rows = view_results_page(r->co->store, &q, &next, r->err, r->errlen)) == NULL)
		return PROTO_E_INTERNAL;
	r->body = json_pack("{s:s, s:o, s:o}", "job_id", q.job_id, "results", rows, "next",
	                    next ? json_integer((json_int_t)next) : json_null());
	return r->body != NULL ? 0 : PROTO_E_INTERNAL;
}

static int
cmd_audit(struct req *r)
{
	static const struct argspec spec[] = {
	    {"job", JSON_STRING}, {"limit", JSON_INTEGER}, {NULL, 0}};
	json_t *lim = json_object_get(r->args, "limit"), *rows;
	json_int_t limit = lim ? json_integer_value(lim) : 100;
	const char *job = arg_str(r->args, "job");
	int rc = check_args(r->args, spec, r->err, r->errlen);

	if (rc != 0)
		return rc;
	if (limit < 1 || limit > 10000) {
		snprintf(r->err, r->errlen, "limit: 1..10000");
		return PROTO_E_VALUE;
	}
	if (job != NULL && !proto_valid_id(job)) {
		snprintf(r->err, r->errlen, "job: not a valid job id");
		return PROTO_E_VALUE;
	}
	rows = view_audit_json(r->co->store, job, (size_t)limit, r->err, r->errlen);
	if (rows == NULL)
		return PROTO_E_INTERNAL;
	r->body = json_pack("{s:o}", "audit", rows);
	return 0;
}

static int
run_request(struct req *r, const char *cmd)
{
	if (strcmp(cmd, "info") == 0)
		return cmd_info(r);
	if (strcmp(cmd, "hosts") == 0)
		return cmd_hosts(r, false);
	if (strcmp(cmd, "resolve") == 0)
		return cmd_hosts(r, true);
	if (strcmp(cmd, "deployments") == 0)
		return cmd_deployments(r);
	if (strcmp(cmd, "keys") == 0)
		return cmd_keys(r);
	if (strcmp(cmd, "key-accept") == 0)
		return cmd_key(r, true);
	if (strcmp(cmd, "key-revoke") == 0)
		return cmd_key(r, false);
	if (strcmp(cmd, "jobs") == 0)
		return cmd_jobs(r);
	if (strcmp(cmd, "job") == 0)
		return cmd_job(r);
	if (strcmp(cmd, "results") == 0)
		return cmd_results(r);
	if (strcmp(cmd, "pause") == 0)
		return cmd_job_control(r, 0);
	if (strcmp(cmd, "resume") == 0)
		return cmd_job_control(r, 1);
	if (strcmp(cmd, "abort") == 0)
		return cmd_job_control(r, 2);
	if (strcmp(cmd, "audit") == 0)
		return cmd_audit(r);
	snprintf(r->err, r->errlen, "unknown command %s", cmd);
	return PROTO_E_TYPE;
}

static bool
trust_operator(void *ctx, int type, const uint8_t pk[PROTO_PK_LEN])
{
	const struct coord *co = ctx;

	return type == PROTO_JOB && coord_conf_operator(co->conf, pk) != NULL;
}

/* Where a message came from and its answer goes: the socket, the ROUTER's
 * routing id and, on tcp, the ZAP User-Id (NULL on ipc). */
struct peer {
	void *sock;
	const uint8_t *rid;
	size_t rid_len;
	const char *zap_user;
};

/* A message proto_receive refused (e): counted, logged, audited when it was
 * a JOB, and answered, naming the request when its body can be read at
 * all. fr holds the n - 1 frames after the routing id. */
static void
on_refused(struct coord *co, const struct peer *pe, const struct proto_frame *fr, int n,
           const struct proto_error *e)
{
	uint64_t rqid = 0;
	struct proto_msg *rq = NULL;
	struct proto_error e2;

	if (fr[0].len == PROTO_HEADER_LEN && fr[0].data[0] == PROTO_MAGIC0 &&
	    fr[0].data[1] == PROTO_MAGIC1 && fr[0].data[2] == PROTO_VERSION &&
	    fr[0].data[3] == PROTO_REQUEST && n == 3 &&
	    proto_decode_body(PROTO_REQUEST, fr[1].data, fr[1].len, &rq, &e2) == PROTO_OK)
		rqid = rq->u.request.request_id;
	proto_msg_free(rq);
	metrics_count_rejected(co, COORD_SOCK_CONTROL, (int)e->code);
	log_warn("control: refused a message: %s: %s", proto_err_name(e->code), e->msg);
	if (fr[0].len == PROTO_HEADER_LEN && fr[0].data[3] == PROTO_JOB) {
		char who[96];
		snprintf(who, sizeof(who), "%s", pe->zap_user ? pe->zap_user : "local");
		coord_audit(co, who, "job-submit", NULL, NULL, "refused", "%s: %s",
		            proto_err_name(e->code), e->msg);
	}
	reply(co, pe->sock, pe->rid, pe->rid_len, rqid, e->code, e->msg, NULL);
}

/* A signed JOB (m, its frames fr): admitted unless, on tcp, the connected
 * operator is not its signer; committed before the submitter hears of it. */
static void
on_job(struct coord *co, const struct peer *pe, const struct proto_msg *m,
       const struct proto_frame *fr)
{
	const char *zap_user = pe->zap_user;
	const char *conn_op = zap_user == NULL                         ? NULL
	                      : strncmp(zap_user, "operator:", 9) == 0 ? zap_user + 9
	                                                               : zap_user;
	const struct coord_operator *signer = coord_conf_operator(co->conf, m->signer);
	json_t *body = NULL;
	char who[96], err[1024] = "", cerr[256];
	int code;

	if (conn_op != NULL)
		snprintf(who, sizeof(who), "operator %s", conn_op);
	else
		snprintf(who, sizeof(who), "local:%s", m->u.job.operator_name);
	/* On tcp the connection proves who submits: it must be who signed
	 * (PROTOCOL.md 9), so that one operator cannot relay another's signed
	 * JOB under their own name. */
	if (conn_op != NULL && (signer == NULL || strcmp(signer->name, conn_op) != 0)) {
		code = PROTO_E_DENIED;
		snprintf(err, sizeof(err),
		         "operator %s may not submit a job signed by %s: over tcp the "
		         "JOB's signer "
		         "must be the connected operator",
		         conn_op, signer != NULL ? signer->name : "an unknown key");
		coord_audit(co, who, "job-submit", m->u.job.job_id, NULL, "refused", "%s: %s",
		            proto_err_name(code), err);
	} else {
		code = jobs_submit(co, m, fr, who, &body, err, sizeof(err));
		/* Its first steps (the quorum, the first dispatches) go out now, in
		 * the turn that admitted it. */
		struct job *j = code == 0 ? jobs_find(co, m->u.job.job_id) : NULL;
		if (j != NULL)
			rollout_step(co, j);
	}
	/* The job is durable before its submitter hears it is. */
	coord_tx(co);
	if (store_commit(co->store, cerr, sizeof(cerr)) != 0 && code == 0) {
		log_err("control: %s", cerr);
		code = PROTO_E_INTERNAL;
		snprintf(err, sizeof(err), "the store failed: %s", cerr);
	}
	reply(co, pe->sock, pe->rid, pe->rid_len, 0, code, err, body);
	json_decref(body);
}

/* A REQUEST (m): run, its writes committed, answered, unless parked to be
 * answered later by control_waiters. */
static void
on_request(struct coord *co, const struct peer *pe, const struct proto_msg *m)
{
	char err[1024] = "";
	struct req r = {
	    co,          m->u.request.args, pe->zap_user, NULL,        err,
	    sizeof(err), pe->sock,          pe->rid,      pe->rid_len, m->u.request.request_id,
	    false};
	int code = run_request(&r, m->u.request.command);

	if (r.parked)
		return;
	if (store_in_tx(co->store)) {
		char cerr[256];
		if (store_commit(co->store, cerr, sizeof(cerr)) != 0 && code == 0) {
			code = PROTO_E_INTERNAL;
			snprintf(err, sizeof(err), "the store failed: %s", cerr);
		}
	}
	if (code != 0)
		log_info("control: %s refused: %s: %s", m->u.request.command, proto_err_name(code),
		         err);
	reply(co, pe->sock, pe->rid, pe->rid_len, m->u.request.request_id, code, code ? err : "",
	      r.body);
	json_decref(r.body);
}

void
control_on_socket(struct coord *co, void *sock, bool tcp)
{
	static const struct multipart_limits lim = {.parts = MAX_PARTS};
	zmq_msg_t p[MAX_PARTS];
	struct proto_frame fr[MAX_PARTS];
	struct proto_msg *m = NULL;
	struct proto_error e;
	enum multipart_over over;
	int n = multipart_recv(sock, ZMQ_DONTWAIT, p, &lim, &over);

	if (n < 1)
		return;
	struct peer pe = {sock, zmq_msg_data(&p[0]), zmq_msg_size(&p[0]),
	                  tcp && n > 1 ? zmq_msg_gets(&p[1], "User-Id") : NULL};
	for (int i = 1; i < n; i++)
		fr[i - 1] = (struct proto_frame){zmq_msg_data(&p[i]), zmq_msg_size(&p[i])};
	if (over != MULTIPART_WHOLE || n < 2) {
		metrics_count_rejected(co, COORD_SOCK_CONTROL, PROTO_E_FRAMES);
		reply(co, sock, pe.rid, pe.rid_len, 0, PROTO_E_FRAMES, "wrong number of frames",
		      NULL);
		goto out;
	}
	struct proto_ctx ctx = {.receiver = PROTO_RCV_CONTROL,
	                        .trusted = trust_operator,
	                        .trust_ctx = co,
	                        .now_ms = proto_now_ms(),
	                        .skew_ms = co->conf->skew_ms};
	if (proto_receive(fr, (size_t)(n - 1), &ctx, &m, &e) != PROTO_OK) {
		on_refused(co, &pe, fr, n, &e);
		goto out;
	}
	metrics_count_received(co, m->type);
	if (m->type == PROTO_JOB)
		on_job(co, &pe, m, fr);
	else
		on_request(co, &pe, m);
out:
	proto_msg_free(m);
	multipart_close(p, n);
}
