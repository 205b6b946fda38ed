/* Jobs: admission of operator-signed JOBs, loading them from the store, the
 * changes of their targets' states, and the coordinator-signed DISPATCH of
 * each phase to each target. What agents answer is jobs-intake.c's; the
 * rollout decisions are rollout.c's. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "coordinator/coord.h"

void
job_free(struct job *j)
{
	if (j == NULL)
		return;
	proto_msg_free(j->jm);
	proto_merkle_free(j->tree);
	free(j->body);
	free(j->targets);
	free(j->hosts);
	free(j);
}

/* For a rollback or undo: every target's deployment must be targeted whole
 * (PROTOCOL.md 9.2, "Deployments"); then the targets of one deployment
 * become one unit. Returns 0, or PROTO_E_VALUE naming the deployment and
 * the nodes missing. */
static int
deployment_units(struct coord *co, struct job *j, char *err, size_t errlen)
{
	struct map *at = map_new();
	int rc = 0;

	if (at == NULL) {
		snprintf(err, errlen, "out of memory");
		return PROTO_E_INTERNAL;
	}
	for (size_t i = 0; i < j->n; i++)
		if (map_put_str(at, j->hosts[i].host, &j->hosts[i]) != 0) {
			snprintf(err, errlen, "out of memory");
			rc = PROTO_E_INTERNAL;
			goto out;
		}
	for (size_t i = 0; i < j->n; i++) {
		const struct host *h = registry_host(co, j->hosts[i].host);
		const struct deployment *d = h != NULL ? h->dep : NULL;
		size_t leader = i, off = 0;
		char missing[512] = "", name[1024];

		if (d == NULL || d->n < 2)
			continue;
		for (size_t k = 0; k < d->n; k++) {
			struct job_host *other = map_get_str(at, d->nodes[k]->id);
			/* A revoked node is one an operator declared gone. */
			if (other == NULL && d->nodes[k]->revoked)
				continue;
			if (other == NULL) {
				int w = snprintf(missing + off, sizeof(missing) - off, "%s%s",
				                 off ? ", " : "", d->nodes[k]->id);
				if (w > 0 && (size_t)w < sizeof(missing) - off)
					off += (size_t)w;
			} else if (other->order < leader) {
				leader = other->order;
			}
		}
		if (off > 0) {
			snprintf(
			    err, errlen,
			    "%s names only part of deployment %s (%s): %s %s not a target; its "
			    "nodes share one metadb, which is restored once for all of them: "
			    "name every node, or let odcctl add them (--whole-deployments)",
			    j->jm->u.job.action, d->id, deploy_name(d, name, sizeof(name)), missing,
			    strchr(missing, ',') ? "are" : "is");
			rc = PROTO_E_VALUE;
			goto out;
		}
		if (j->hosts[i].unit != leader) {
			j->hosts[i].unit = leader;
			j->hosts[i].dirty = true; /* stored with the job's first write */
		}
	}
	jobstate_link_units(j);
out:
	map_free(at);
	return rc;
}

/* A job from its signed body and its target list frame; hosts in target
 * order, all pending. */
static struct job *
job_new(const uint8_t *body, size_t len, const uint8_t sig[PROTO_SIGFRAME_LEN],
        const uint8_t *targets, size_t targets_len, char *err, size_t errlen)
{
	struct job *j = calloc(1, sizeof(*j));
	struct proto_error e;

	if (j == NULL)
		goto oom;
	j->body = malloc(len);
	j->targets = malloc(targets_len ? targets_len : 1);
	if (j->body == NULL || j->targets == NULL)
		goto oom;
	memcpy(j->body, body, len);
	j->body_len = len;
	if (targets_len > 0)
		memcpy(j->targets, targets, targets_len);
	j->targets_len = targets_len;
	memcpy(j->sig, sig, PROTO_SIGFRAME_LEN);
	keys_fingerprint(sig, j->signer, sizeof(j->signer));
	if (proto_decode_job(j->body, j->body_len, j->targets, j->targets_len, &j->jm, &e) !=
	    PROTO_OK) {
		snprintf(err, errlen, "stored job does not decode: %s", e.msg);
		job_free(j);
		return NULL;
	}
	const struct proto_job *jb = &j->jm->u.job;
	struct proto_error pe;
	snprintf(j->id, sizeof(j->id), "%s", jb->job_id);
	j->action_idx = proto_action_index(jb->action);
	j->dry_run = proto_dry_run(jb->params, jb->n_params);
	j->changes = proto_action_changes(jb->action, jb->params, jb->n_params);
	j->has_preflight =
	    proto_action_check(jb->action, "preflight", jb->params, jb->n_params, &pe) == PROTO_OK;
	j->n = jb->n_targets;
	j->hosts = calloc(j->n, sizeof(*j->hosts));
	if (j->hosts == NULL)
		goto oom;
	for (size_t i = 0; i < j->n; i++) {
		snprintf(j->hosts[i].host, sizeof(j->hosts[i].host), "%s", jb->targets[i]);
		j->hosts[i].order = i;
		j->hosts[i].state = JH_PENDING;
		j->hosts[i].unit = i;
	}
	jobstate_link_units(j);
	j->counts[JH_PENDING] = j->n;
	return j;
oom:
	snprintf(err, errlen, "out of memory");
	job_free(j);
	return NULL;
}

/* A job entering this process's memory: every host as of now. */
static void
job_stamp(struct coord *co, struct job *j)
{
	j->base = j->version = ++co->version_clock;
	for (size_t i = 0; i < j->n; i++)
		j->hosts[i].version = j->base;
}

static void
job_activate(struct coord *co, struct job *j)
{
	j->next = co->jobs;
	co->jobs = j;
	map_put_str(co->job_map, j->id, j);
	for (size_t i = 0; i < j->n; i++) {
		struct host *h = registry_host(co, j->hosts[i].host);
		if (h != NULL && jobstate_host_busy(&j->hosts[i])) {
			h->active = j;
			h->active_idx = i;
		}
	}
}

struct job *
jobs_find(struct coord *co, const char *id)
{
	return map_get_str(co->job_map, id);
}

/* ---- admission ---- */

/* Why host h cannot take a new job, in err: busy with an unfinished job.
 * Returns PROTO_E_CONFLICT when it is busy, else 0. */
static int
submit_host_busy(const struct host *h, char *err, size_t errlen)
{
	const struct job_host *ah;

	if (h->active == NULL || !jobstate_host_busy(&h->active->hosts[h->active_idx]))
		return 0;
	ah = &h->active->hosts[h->active_idx];
	/* A failed unit's automatic revert holds its hosts until it ends,
	 * whatever its job's state (rollout.c). */
	if (ah->revert == PROTO_REVERT_DUE || ah->revert == PROTO_REVERT_RUNNING)
		snprintf(err, errlen,
		         "host %s is busy with the automatic revert of job %s (%s): revert %s%s%s; "
		         "the host is free once it ends (odcctl job %s)",
		         h->id, h->active->id, jobstate_name(h->active->state),
		         jobstate_revert_name(ah->revert), *ah->revert_message ? ": " : "",
		         ah->revert_message, h->active->id);
	/* An ended job whose dispatch is unanswered holds its host until that
	 * dispatch can no longer be accepted. */
	else if (jobstate_final(h->active->state) && ah->awaiting_ack)
		snprintf(err, errlen,
		         "host %s is busy with job %s (%s): its %s dispatch was "
		         "never acknowledged "
		         "and the host is free once it has expired, within %llu s",
		         h->id, h->active->id, jobstate_name(h->active->state), ah->phase,
		         (unsigned long long)((ah->dispatch_expires_ms +
		                               2 * (uint64_t)PROTO_SKEW_MS - proto_now_ms()) /
		                                  1000 +
		                              2));
	else
		snprintf(err, errlen, "host %s is busy with job %s (%s)", h->id, h->active->id,
		         jobstate_name(h->active->state));
	return PROTO_E_CONFLICT;
}

/* Admission checks before anything is built: the signer is the operator the
 * JOB names, the job id is new, every target is an accepted host free of
 * other jobs. Returns 0, or a PROTO_E_* code with the reason in err. */
static int
submit_admit(struct coord *co, const struct proto_msg *m, char *err, size_t errlen)
{
	const struct proto_job *jb = &m->u.job;
	const struct coord_operator *op = coord_conf_operator(co->conf, m->signer);
	int code;

	if (op == NULL || strcmp(op->name, jb->operator_name) != 0) {
		snprintf(err, errlen, "the job says operator '%s' but is signed by %s",
		         jb->operator_name, op ? op->name : "an unknown key");
		return PROTO_E_DENIED;
	}
	if (jobs_find(co, jb->job_id) != NULL) {
		snprintf(err, errlen, "job %s exists", jb->job_id);
		return PROTO_E_CONFLICT;
	}
	for (size_t i = 0; i < jb->n_targets; i++) {
		struct host *h = registry_host(co, jb->targets[i]);
		if (h == NULL || h->revoked) {
			snprintf(err, errlen, "target %s is not %s", jb->targets[i],
			         h == NULL ? "an enrolled host" : "accepted (its key is revoked)");
			return PROTO_E_NOT_FOUND;
		}
		if ((code = submit_host_busy(h, err, errlen)) != 0)
			return code;
	}
	return 0;
}

/* Writes the admitted job j (running, quorum) and its targets to the store,
 * inside the turn's transaction. Returns 0, or a PROTO_E_* code with the
 * reason in err. */
static int
submit_store(struct coord *co, const struct job *j, const struct proto_job *jb, char *err,
             size_t errlen)
{
	struct store_job sj = {.job_id = j->id,
	                       .action = jb->action,
	                       .operator_name = jb->operator_name,
	                       .reason = jb->reason,
	                       .body = j->body,
	                       .body_len = j->body_len,
	                       .targets = j->targets,
	                       .targets_len = j->targets_len,
	                       .created_ms = jb->created_ms,
	                       .expires_ms = jb->expires_ms,
	                       .submitted_ms = j->submitted_ms,
	                       .deadline_ms = j->deadline_ms,
	                       .state = "running",
	                       .stage = "quorum",
	                       .message = ""};
	int rc;

	memcpy(sj.sig, j->sig, PROTO_SIGFRAME_LEN);
	coord_tx(co);
	rc = store_job_insert(co->store, &sj, jb->targets, jb->n_targets, err, errlen);
	if (rc != 0)
		return rc == STORE_CONFLICT ? PROTO_E_CONFLICT : PROTO_E_INTERNAL;
	return 0;
}

int
jobs_submit(struct coord *co, const struct proto_msg *m, const struct proto_frame *fr,
            const char *who, json_t **body, char *err, size_t errlen)
{
	const struct proto_job *jb = &m->u.job;
	struct job *j = NULL;
	json_t *targets = json_array();
	int code = PROTO_E_INTERNAL;

	*body = NULL;
	for (size_t i = 0; i < jb->n_targets; i++)
		json_array_append_new(targets, json_string(jb->targets[i]));
	if ((code = submit_admit(co, m, err, errlen)) != 0)
		goto refused;
	code = PROTO_E_INTERNAL;
	j = job_new(fr[1].data, fr[1].len, fr[2].data, fr[3].data, fr[3].len, err, errlen);
	if (j == NULL)
		goto refused;
	if (proto_action_by_deployment(jb->action) &&
	    (code = deployment_units(co, j, err, errlen)) != 0)
		goto refused;
	j->submitted_ms = proto_now_ms();
	j->deadline_ms = j->submitted_ms + jb->policy.job_deadline_s * 1000;
	if (jb->expires_ms < j->deadline_ms)
		j->deadline_ms = jb->expires_ms; /* agents refuse the job after that */
	j->state = JOB_RUNNING;
	j->stage = STAGE_QUORUM;
	job_stamp(co, j);
	jobs_note_from(co, j);
	if ((code = submit_store(co, j, jb, err, errlen)) != 0)
		goto refused;
	coord_audit(co, who, "job-submit", j->id, targets, "accepted",
	            "%s by %s (%s), %zu target%s%s%s", jb->action, jb->operator_name, j->signer,
	            jb->n_targets, jb->n_targets == 1 ? "" : "s", *jb->reason ? ": " : "",
	            jb->reason);
	job_activate(co, j);
	co->stats.jobs_submitted++;
	log_info("job %s: %s on %zu hosts, submitted by %s", j->id, jb->action, j->n,
	         jb->operator_name);
	notify_job(co, j, COORD_EVENT_START);
	/* The job as accepted (every host pending, version base): a follower
	 * asks for what changed since. */
	*body = jobs_summary_json(j);
	json_decref(targets);
	return 0;
refused:
	coord_audit(co, who, "job-submit", jb->job_id, targets, "refused", "%s: %s",
	            proto_err_name(code), err);
	json_decref(targets);
	job_free(j);
	return code;
}

/* ---- loading from the store ---- */

struct load_ctx {
	struct coord *co;
	struct job *j;
	struct job **list;
	char *err;
	size_t errlen;
};

static int
load_host_row(void *ctx, const struct store_job_host *sh)
{
	struct load_ctx *lc = ctx;
	struct job *j = lc->j;
	int st = jobstate_host_from_name(sh->state);

	if (sh->order >= j->n || strcmp(j->hosts[sh->order].host, sh->host_id) != 0 || st < 0) {
		snprintf(lc->err, lc->errlen, "job %s: stored row for %s does not match the job",
		         j->id, sh->host_id);
		return -1;
	}
	struct job_host *jh = &j->hosts[sh->order];
	j->counts[jh->state]--;
	jh->state = (enum jh_state)st;
	j->counts[jh->state]++;
	snprintf(jh->role, sizeof(jh->role), "%s", sh->role);
	jh->batch = sh->batch;
	snprintf(jh->phase, sizeof(jh->phase), "%s", sh->phase);
	snprintf(jh->step, sizeof(jh->step), "%s", sh->step);
	snprintf(jh->failed_step, sizeof(jh->failed_step), "%s", sh->failed_step);
	snprintf(jh->message, sizeof(jh->message), "%s", sh->message);
	jh->updated_ms = sh->updated_ms;
	jh->dispatch_expires_ms = sh->dispatch_expires_ms;
	jh->unit = sh->unit >= 0 && (uint64_t)sh->unit <= sh->order ? (size_t)sh->unit : sh->order;
	int rv = proto_revert_from_name(sh->revert);
	jh->revert = rv < 0 ? PROTO_REVERT_NONE : (enum proto_revert)rv;
	snprintf(jh->revert_message, sizeof(jh->revert_message), "%s", sh->revert_message);
	/* An unanswered dispatch of an earlier life. An ended job waits until
	 * it is dead. A running or paused one asks again when the host says
	 * HELLO (agents reconnect to a restarted coordinator), and not before:
	 * an ack timeout from now would call a host that is still reconnecting
	 * unreachable. */
	jh->awaiting_ack = sh->dispatch_expires_ms != 0 &&
	                   (jobstate_final(j->state) || jh->revert == PROTO_REVERT_RUNNING);
	jh->activity_mono = clock_mono_ms();
	jh->sent_mono = jh->activity_mono;
	return 0;
}

static int
load_job_row(void *ctx, const struct store_job *sj)
{
	struct load_ctx *lc = ctx;
	struct job *j = job_new(sj->body, sj->body_len, sj->sig, sj->targets, sj->targets_len,
	                        lc->err, lc->errlen);
	int st = jobstate_from_name(sj->state), sg = jobstate_stage_from_name(sj->stage);

	if (j == NULL)
		return -1;
	if (st < 0 || sg < 0) {
		snprintf(lc->err, lc->errlen, "job %s: unknown stored state %s/%s", sj->job_id,
		         sj->state, sj->stage);
		job_free(j);
		return -1;
	}
	j->submitted_ms = sj->submitted_ms;
	j->deadline_ms = sj->deadline_ms;
	j->ended_ms = sj->ended_ms;
	j->state = (enum job_state)st;
	j->stage = (enum job_stage)sg;
	j->batch = sj->batch;
	snprintf(j->message, sizeof(j->message), "%s", sj->message);
	lc->j = j;
	if (store_job_hosts_each(lc->co->store, j->id, load_host_row, lc, lc->err, lc->errlen) !=
	    0) {
		job_free(j);
		return -1;
	}
	jobstate_link_units(j);
	j->next = *lc->list;
	*lc->list = j;
	return 0;
}

int
jobs_load(struct coord *co, char *err, size_t errlen)
{
	const char *states[PROTO_JOB_STATES];
	size_t n = 0;
	struct job *list = NULL, *next;
	struct load_ctx lc = {co, NULL, &list, err, errlen};

	/* Jobs in every state but succeeded are read back; those that ended
	 * stay only while a dispatch is in flight (below). The store's order
	 * does not depend on this list's. */
	for (int s = 0; s < PROTO_JOB_STATES; s++)
		if (s != PROTO_JOB_SUCCEEDED)
			states[n++] = proto_job_state_name(s);
	states[n] = NULL;
	if (store_jobs_each(co->store, states, load_job_row, &lc, err, errlen) != 0) {
		for (; list != NULL; list = next) {
			next = list->next;
			job_free(list);
		}
		return -1;
	}
	for (; list != NULL; list = next) {
		bool in_flight = false;
		for (size_t i = 0; i < list->n && !in_flight; i++)
			in_flight = jobstate_host_busy(&list->hosts[i]) &&
			            list->hosts[i].state != JH_PENDING &&
			            list->hosts[i].state != JH_READY;
		next = list->next;
		if (jobstate_final(list->state) && !in_flight) {
			job_free(list);
			continue;
		}
		log_info("job %s: %s, stage %s, resumed from the store", list->id,
		         jobstate_name(list->state), jobstate_stage_name(list->stage));
		job_stamp(co, list);
		job_activate(co, list);
	}
	return 0;
}

struct job *
jobs_load_one(struct coord *co, const char *id, char *err, size_t errlen)
{
	struct job *list = NULL;
	struct load_ctx lc = {co, NULL, &list, err, errlen};
	int rc = store_job_get(co->store, id, load_job_row, &lc, err, errlen);

	if (rc != 0) {
		if (rc == STORE_NOT_FOUND)
			snprintf(err, errlen, "no job %s", id);
		job_free(list);
		return NULL;
	}
	if (list != NULL)
		list->loaded = true;
	return list;
}

void
jobs_free(struct coord *co)
{
	struct job *j = co->jobs, *next;

	for (; j != NULL; j = next) {
		next = j->next;
		job_free(j);
	}
	co->jobs = NULL;
}

/* ---- state changes ---- */

/* Target jh has nothing more in flight for j: its host is free of j. */
static void
host_released(struct coord *co, struct job *j, struct job_host *jh)
{
	struct host *h = registry_host(co, jh->host);

	jh->awaiting_ack = false;
	jh->dispatch_expires_ms = 0;
	if (h != NULL && h->active == j)
		h->active = NULL;
}

void
jobs_host_set(struct coord *co, struct job *j, size_t i, enum jh_state st, const char *failed_step,
              const char *fmt, ...)
{
	struct job_host *jh = &j->hosts[i];
	va_list ap;

	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(jh->message, sizeof(jh->message), fmt, ap);
		va_end(ap);
	}
	if (failed_step != NULL)
		snprintf(jh->failed_step, sizeof(jh->failed_step), "%s", failed_step);
	if (jh->state != st) {
		j->counts[jh->state]--;
		j->counts[st]++;
		if (jobstate_host_final(st) && !jobstate_host_final(jh->state))
			co->stats.job_hosts_ended[st]++;
		/* Failures are news; at 10,000 hosts the rest would be noise. */
		if (proto_host_state_failed((int)st))
			log_info("job %s: host %s %s -> %s%s%s", j->id, jh->host,
			         jobstate_host_name(jh->state), jobstate_host_name(st),
			         *jh->message ? ": " : "", jh->message);
		else
			log_debug("job %s: host %s %s -> %s%s%s", j->id, jh->host,
			          jobstate_host_name(jh->state), jobstate_host_name(st),
			          *jh->message ? ": " : "", jh->message);
		jh->state = st;
	}
	if (jobstate_host_final(st))
		host_released(co, j, jh);
	jh->updated_ms = proto_now_ms();
	jh->dirty = true;
}

void
jobs_host_revert(struct coord *co, struct job *j, size_t i, enum proto_revert r, const char *fmt,
                 ...)
{
	struct job_host *jh = &j->hosts[i];
	va_list ap;

	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(jh->revert_message, sizeof(jh->revert_message), fmt, ap);
		va_end(ap);
	}
	if (jh->revert != r) {
		if (r != PROTO_REVERT_RUNNING && (unsigned)r < PROTO_REVERTS)
			co->stats.reverts[r]++;
		log_info("job %s: host %s revert %s%s%s", j->id, jh->host,
		         *proto_revert_name((int)r) ? proto_revert_name((int)r) : "none",
		         *jh->revert_message ? ": " : "", jh->revert_message);
	}
	jh->revert = r;
	if (r == PROTO_REVERT_OK || r == PROTO_REVERT_FAILED)
		host_released(co, j, jh);
	jh->updated_ms = proto_now_ms();
	jh->dirty = true;
}

void
jobs_persist(struct coord *co, struct job *j)
{
	char err[256];
	uint64_t v = co->version_clock + 1;
	bool changed = j->dirty;

	if (j->loaded)
		return;
	for (size_t i = 0; i < j->n; i++) {
		struct job_host *jh = &j->hosts[i];
		if (!jh->dirty && !jh->shown)
			continue;
		jh->version = v; /* shown or stored, a follower hears of it */
		jh->shown = false;
		changed = true;
		if (!jh->dirty)
			continue;
		struct store_job_host sh = {j->id,
		                            jh->host,
		                            jh->order,
		                            jh->role,
		                            jh->batch,
		                            jobstate_host_name(jh->state),
		                            jh->phase,
		                            jh->step,
		                            jh->failed_step,
		                            jh->message,
		                            jh->updated_ms,
		                            jh->dispatch_expires_ms,
		                            (int64_t)jh->unit,
		                            jobstate_revert_name(jh->revert),
		                            jh->revert_message};
		coord_tx(co);
		if (store_job_host_update(co->store, &sh, err, sizeof(err)) != 0)
			log_err("%s", err);
		jh->dirty = false;
	}
	if (j->dirty) {
		coord_tx(co);
		if (store_job_update(co->store, j->id, jobstate_name(j->state),
		                     jobstate_stage_name(j->stage), j->batch, j->message,
		                     j->ended_ms, err, sizeof(err)) != 0)
			log_err("%s", err);
		j->dirty = false;
	}
	if (changed) {
		co->version_clock = v;
		j->version = v;
	}
}

/* ---- dispatch ---- */

bool
jobs_dispatch(struct coord *co, struct job *j, size_t i, const char *phase_arg)
{
	struct job_host *jh = &j->hosts[i];
	char phase[sizeof(jh->phase)];
	struct host *h = registry_host(co, jh->host);
	struct proto_msg m = {.type = PROTO_DISPATCH};
	/* A DISPATCH is good for one ack timeout: the coordinator sends it
	 * again after that anyway, with a new nonce, and a short life bounds
	 * how late a copy held in a queue (a frozen agent, a cut link) can still
	 * be accepted once the job has ended. */
	uint64_t now = proto_now_ms(), exp = now + co->conf->ack_timeout_ms;

	/* A copy: callers that send the same phase again pass jh->phase itself. */
	snprintf(phase, sizeof(phase), "%s", phase_arg);
	if (j->state != JOB_RUNNING && strcmp(phase, "revert") != 0) {
		log_warn("job %s is %s: nothing more is sent to %s", j->id, jobstate_name(j->state),
		         jh->host);
		return false;
	}
	if (h == NULL || !registry_online(h))
		return false;
	if (exp > j->jm->u.job.expires_ms)
		exp = j->jm->u.job.expires_ms;
	if (exp <= now)
		return false;
	/* The proof that h is a target: the tree is built at the first dispatch
	 * (jobs loaded only to be shown never need one). */
	if (j->tree == NULL) {
		j->tree = proto_merkle_new((const char *const *)j->jm->u.job.targets,
		                           j->jm->u.job.n_targets);
		if (j->tree == NULL) {
			log_err("job %s: out of memory for its target tree", j->id);
			return false;
		}
	}
	m.u.dispatch.proof_index = jh->order;
	m.u.dispatch.proof_len = proto_merkle_proof(j->tree, jh->order, m.u.dispatch.proof);
	m.u.dispatch.job_bytes = j->body;
	m.u.dispatch.job_len = j->body_len;
	memcpy(m.u.dispatch.job_sig, j->sig, PROTO_SIGFRAME_LEN);
	m.u.dispatch.host_id = h->id;
	m.u.dispatch.phase = phase;
	m.u.dispatch.not_before_ms = now;
	m.u.dispatch.expires_ms = exp;
	randombytes_buf(m.u.dispatch.nonce, PROTO_NONCE_LEN);
	if (coord_send_msg(co, co->router, h->rid, h->rid_len, &m) != 0) {
		log_warn("job %s: cannot send the %s dispatch to %s", j->id, phase, h->id);
		return false;
	}
	if (strcmp(jh->phase, phase) != 0)
		jh->tries = 0;
	memcpy(jh->nonce, m.u.dispatch.nonce, PROTO_NONCE_LEN);
	jh->awaiting_ack = true;
	jh->dispatch_expires_ms = exp;
	jh->tries++;
	jh->sent_mono = clock_mono_ms();
	jh->activity_mono = jh->sent_mono;
	snprintf(jh->phase, sizeof(jh->phase), "%s", phase);
	jh->dirty = true;
	if (h->active != j) {
		h->active = j;
		h->active_idx = i;
	}
	log_debug("job %s: %s dispatched to %s (try %d)", j->id, phase, h->id, jh->tries);
	return true;
}

bool
jobs_dispatch_dead(const struct job_host *jh, uint64_t now_ms)
{
	/* An agent refuses a DISPATCH when its clock is past expires_ms +
	 * skew; its clock may lag ours by up to skew as well. */
	return jh->dispatch_expires_ms == 0 ||
	       now_ms > jh->dispatch_expires_ms + 2 * (uint64_t)PROTO_SKEW_MS;
}
