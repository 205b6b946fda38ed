/* The intake of what agents answer a job's DISPATCHes (ACK, NACK,
 * PROGRESS, RESULT) and of their HELLO: each RESULT is stored once per
 * (job, host, step) with its exact bytes and signature, acknowledged only
 * after the loop turn's commit, and moves its target's state (or its
 * revert's). Above jobs.c, which it calls; the rollout is rollout.c's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/clock.h"
#include "common/log.h"
#include "coordinator/coord.h"

/* The agent answered the phase in flight (ACK, PROGRESS or RESULT). */
static void
acknowledged(struct job_host *jh)
{
	jh->awaiting_ack = false;
	if (jh->dispatch_expires_ms != 0) {
		jh->dispatch_expires_ms = 0;
		jh->dirty = true;
	}
}

/* The target row of host_id in j, or -1. */
static long
target_index(const struct job *j, const char *host_id)
{
	for (size_t i = 0; i < j->n; i++)
		if (strcmp(j->hosts[i].host, host_id) == 0)
			return (long)i;
	return -1;
}

/* The target row of job_id for host h in an active job, or -1. */
static long
target_of(struct coord *co, struct host *h, const char *job_id, struct job **jp)
{
	struct job *j = h->active != NULL && strcmp(h->active->id, job_id) == 0
	                    ? h->active
	                    : jobs_find(co, job_id);

	*jp = j;
	if (j == NULL)
		return -1;
	if (h->active == j)
		return (long)h->active_idx;
	return target_index(j, h->id);
}

void
jobs_on_hello(struct coord *co, struct host *h)
{
	struct job *j = h->active;
	struct job_host *jh;

	if (j == NULL)
		return;
	jh = &j->hosts[h->active_idx];
	if (jh->revert == PROTO_REVERT_RUNNING) {
		/* A revert goes on whatever the job's state: ask again. */
		jh->tries = 0;
		log_info("job %s: %s is back; asking again for its revert", j->id, h->id);
		if (!jobs_dispatch(co, j, h->active_idx, "revert"))
			log_warn("job %s: could not dispatch the revert again to %s", j->id, h->id);
		return;
	}
	if (jh->state != JH_PREFLIGHT && jh->state != JH_RUNNING)
		return;
	jh->tries = 0;
	if (j->state == JOB_PAUSED && jh->dispatch_expires_ms != 0 && !jh->awaiting_ack) {
		/* Unanswered when the coordinator restarted: sent again at resume. */
		jh->awaiting_ack = true;
		jh->sent_mono = 0;
	}
	if (j->state != JOB_RUNNING) {
		/* Paused: the phase goes again at resume if still unanswered.
		 * Ended: never again; a step the agent had started goes on from
		 * its journal and its results are recorded. */
		log_info("job %s: %s is back; the job is %s, so nothing is sent%s", j->id, h->id,
		         jobstate_name(j->state),
		         jh->awaiting_ack ? " (its dispatch was never acknowledged)" : "");
		return;
	}
	/* The agent resumes what its journal holds, or reports it again. */
	log_info("job %s: %s is back; asking again for its %s phase", j->id, h->id, jh->phase);
	if (!jobs_dispatch(co, j, h->active_idx, jh->phase))
		log_warn("job %s: could not dispatch again to %s", j->id, h->id);
}

void
jobs_on_ack(struct coord *co, struct host *h, const struct proto_msg *m)
{
	const struct proto_ack *a = &m->u.ack;
	struct job *j;
	long i;

	if (a->ref_type != PROTO_DISPATCH)
		return; /* agents answer nothing else of ours */
	/* An agent names only what it verified (PROTOCOL.md 7): refusing a
	 * DISPATCH whose signature failed, it names no job and no nonce; one
	 * whose JOB signature failed, the nonce only. Such a NACK answers the one
	 * dispatch in flight to that host (a host has one active job). */
	bool anonymous = m->type == PROTO_NACK && *a->job_id == '\0';
	if (anonymous && h->active != NULL) {
		j = h->active;
		i = (long)h->active_idx;
	} else {
		i = target_of(co, h, a->job_id, &j);
	}
	if (i < 0 || j->loaded) {
		log_debug("host %s answered a dispatch of unknown job '%s'", h->id, a->job_id);
		return;
	}
	struct job_host *jh = &j->hosts[i];
	bool nonce_ok = a->nonce_len == PROTO_NONCE_LEN
	                    ? sodium_memcmp(a->nonce, jh->nonce, PROTO_NONCE_LEN) == 0
	                    : anonymous && a->nonce_len == 0;
	if (!nonce_ok || !jh->awaiting_ack) {
		log_debug("job %s: %s answered an earlier dispatch", j->id, h->id);
		return;
	}
	acknowledged(jh);
	jh->activity_mono = clock_mono_ms();
	if (m->type == PROTO_NACK && jh->revert == PROTO_REVERT_RUNNING) {
		const char *code = proto_err_name((int)a->code);
		jobs_host_revert(co, j, (size_t)i, PROTO_REVERT_FAILED,
		                 "the agent refused the revert dispatch: %s: %s", code ? code : "?",
		                 a->message);
		j->poked = true;
	} else if (m->type == PROTO_NACK) {
		const char *code = proto_err_name((int)a->code);
		jobs_host_set(co, j, (size_t)i, JH_FAILED, "dispatch",
		              "the agent refused the %s dispatch: %s: %s", jh->phase,
		              code ? code : "?", a->message);
		j->poked = true;
	}
}

void
jobs_on_progress(struct coord *co, struct host *h, const struct proto_msg *m)
{
	const struct proto_progress *p = &m->u.progress;
	struct job *j;
	long i = target_of(co, h, p->job_id, &j);

	if (i < 0)
		return;
	struct job_host *jh = &j->hosts[i];
	if (jobstate_host_final(jh->state) && jh->revert != PROTO_REVERT_RUNNING)
		return;
	/* The step deadline runs from the start of each step; notes within a
	 * step do not reset it. */
	if (strcmp(jh->step, p->step) != 0 || strcmp(p->status, "running") != 0)
		jh->activity_mono = clock_mono_ms();
	snprintf(jh->step, sizeof(jh->step), "%s", p->step);
	/* During its revert the run's outcome stays its message; the revert's
	 * progress is the revert's. */
	char *msg = jh->revert == PROTO_REVERT_RUNNING ? jh->revert_message : jh->message;
	size_t len =
	    jh->revert == PROTO_REVERT_RUNNING ? sizeof(jh->revert_message) : sizeof(jh->message);
	if (*p->message != '\0')
		snprintf(msg, len, "%s", p->message);
	else
		snprintf(msg, len, "%s %s", p->step, p->status);
	jh->updated_ms = proto_now_ms();
	acknowledged(jh); /* it is working on it: the ACK may have been lost */
	jh->shown = true;
	j->poked = true;
}

static char *
data_json(const struct proto_result *r)
{
	json_t *o = json_object();
	char *s;

	for (size_t i = 0; i < r->n_data; i++)
		json_object_set_new(o, r->data[i].key, json_string(r->data[i].value));
	s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	return s;
}

/* Whether the coordinator takes a RESULT for step from a target of job_id
 * whose action is action (PROTOCOL.md 4, RESULT): a phase of the job was
 * dispatched to it (phase, NULL when host is not a target), and the step is
 * one the action reports in a phase it was sent. This bounds what one host,
 * even a compromised one, can store per job to the action's steps. Returns
 * 0, or the code of the NACK with a message in err. */
static int
result_admissible(const char *job_id, const char *action, const char *phase, const char *host,
                  const char *step, char *err, size_t errlen)
{
	if (phase == NULL) {
		snprintf(err, errlen, "job %s does not target %s", job_id, host);
		return PROTO_E_NOT_TARGET;
	}
	if (*phase == '\0') {
		snprintf(err, errlen, "nothing of job %s was dispatched to %s", job_id, host);
		return PROTO_E_DENIED;
	}
	/* The run phase may follow a preflight phase (both phases' steps), and
	 * a revert the run phase (all three). */
	bool run = strcmp(phase, "run") == 0, revert = strcmp(phase, "revert") == 0;
	if (proto_action_step(action, "preflight", step) ||
	    ((run || revert) && proto_action_step(action, "run", step)) ||
	    (revert && proto_action_step(action, "revert", step)))
		return 0;
	snprintf(err, errlen, "'%s' is not a step of %s in the phase%s dispatched to %s", step,
	         action, run || revert ? "s" : "", host);
	return PROTO_E_VALUE;
}

static void
nack_result(struct coord *co, const uint8_t *rid, size_t rid_len, const struct proto_result *r,
            int code, const char *why)
{
	struct proto_msg nack = {.type = PROTO_NACK};

	nack.u.ack = (struct proto_ack){PROTO_RESULT, r->job_id, r->host_id,     r->step,
	                                {0},          0,         (uint64_t)code, why};
	log_warn("refused the %s result of job %s from %s: %s: %s", r->step, r->job_id, r->host_id,
	         proto_err_name(code), why);
	coord_send_msg(co, co->router, rid, rid_len, &nack);
}

/* A rollback's check says whether the backup is on its host (data
 * backup_here): which node of a deployment holds it (deploy.c). */
static void
note_backup(struct coord *co, struct host *h, const struct job *j, const struct proto_result *r)
{
	const struct proto_job *jb = &j->jm->u.job;
	const char *here = NULL, *version = "";

	if (strcmp(jb->action, "rollback") != 0 ||
	    (strcmp(r->step, "preflight") != 0 && strcmp(r->step, "recheck") != 0))
		return;
	for (size_t i = 0; i < r->n_data; i++) {
		if (strcmp(r->data[i].key, "backup_here") == 0)
			here = r->data[i].value;
		else if (strcmp(r->data[i].key, "backup_version") == 0)
			version = r->data[i].value;
	}
	if (here != NULL)
		deploy_note_backup(co, h, j->id, proto_param(jb->params, jb->n_params, "backup"),
		                   strcmp(here, "true") == 0, version);
}

/* Whether the RESULT r of host h is one the coordinator takes (the job's
 * target i in memory, or the job judged from the store when it has left
 * memory). Returns 0, -1 on a store error (not acknowledged: the agent
 * sends it again), or the code of the NACK with a message in err. */
static int
judge_result(struct coord *co, struct host *h, const struct proto_result *r, struct job *j, long i,
             char action[33], char *err, size_t errlen)
{
	char phase[10];
	bool is_target;
	int rc;

	if (j != NULL)
		return result_admissible(j->id, j->jm->u.job.action,
		                         i < 0 ? NULL : j->hosts[i].phase, h->id, r->step, err,
		                         errlen);
	rc = store_job_target(co->store, r->job_id, h->id, action, phase, &is_target, err, errlen);
	if (rc < 0) {
		log_err("%s", err);
		return -1;
	}
	if (rc == STORE_NOT_FOUND) {
		snprintf(err, errlen, "no job %s", r->job_id);
		return PROTO_E_NOT_FOUND;
	}
	return result_admissible(r->job_id, action, is_target ? phase : NULL, h->id, r->step, err,
	                         errlen);
}

/* A RESULT of target i's revert ends (or notes) its revert. */
static void
take_revert_result(struct coord *co, struct job *j, size_t i, const struct proto_result *r)
{
	struct job_host *jh = &j->hosts[i];

	snprintf(jh->step, sizeof(jh->step), "%s", r->step);
	if (strcmp(r->status, "failed") == 0 || strcmp(r->status, "interrupted") == 0)
		jobs_host_revert(co, j, i, PROTO_REVERT_FAILED, "%s %s: %s", r->step, r->status,
		                 r->message);
	else
		jobs_host_revert(co, j, i, r->final ? PROTO_REVERT_OK : PROTO_REVERT_RUNNING, "%s",
		                 r->message);
	j->poked = true;
}

/* A RESULT of its phase's steps moves target i's state. */
static void
take_result(struct coord *co, struct host *h, struct job *j, size_t i, const struct proto_result *r)
{
	struct job_host *jh = &j->hosts[i];

	snprintf(jh->step, sizeof(jh->step), "%s", r->step);
	snprintf(jh->message, sizeof(jh->message), "%s", r->message);
	jh->updated_ms = proto_now_ms();
	jh->dirty = true;
	note_backup(co, h, j, r);
	if (strcmp(r->status, "failed") == 0 || strcmp(r->status, "interrupted") == 0) {
		jobs_host_set(co, j, i, JH_FAILED, r->step, "%s", r->message);
	} else if (r->final) {
		if (jh->state == JH_PREFLIGHT)
			jobs_host_set(co, j, i, JH_READY, NULL, "%s", r->message);
		else if (jh->state == JH_RUNNING)
			jobs_host_set(co, j, i, JH_SUCCEEDED, NULL, "%s", r->message);
	}
	j->poked = true;
}

void
jobs_on_result(struct coord *co, struct host *h, const struct proto_msg *m,
               const struct proto_frame *fr, const uint8_t *rid, size_t rid_len)
{
	const struct proto_result *r = &m->u.result;
	struct proto_msg ack = {.type = PROTO_ACK};
	char err[512], *dj = NULL, action[33] = "";
	struct job *j;
	int rc;
	long i = target_of(co, h, r->job_id, &j);

	if ((rc = judge_result(co, h, r, j, i, action, err, sizeof(err))) != 0) {
		if (rc > 0)
			nack_result(co, rid, rid_len, r, rc, err);
		return;
	}
	if ((dj = data_json(r)) == NULL)
		goto out; /* not acknowledged: the agent sends it again */
	struct store_result sr = {r->job_id,
	                          r->host_id,
	                          r->step,
	                          r->status,
	                          r->exit_code,
	                          r->started_ms,
	                          r->duration_ms,
	                          r->message,
	                          r->output_tail,
	                          dj,
	                          r->final,
	                          {0},
	                          fr[1].data,
	                          fr[1].len,
	                          {0},
	                          proto_now_ms()};
	memcpy(sr.incarnation, r->incarnation, PROTO_INCARN_LEN);
	memcpy(sr.sig, fr[2].data, PROTO_SIGFRAME_LEN);
	coord_tx(co);
	rc = store_result_insert(co->store, &sr, err, sizeof(err));
	if (rc < 0 || rc == STORE_NOT_FOUND) {
		log_err("job %s: cannot store the %s result of %s: %s", r->job_id, r->step, h->id,
		        err);
		goto out;
	}
	ack.u.ack = (struct proto_ack){PROTO_RESULT, r->job_id, r->host_id, r->step, {0}, 0, 0, ""};
	coord_queue_ack(co, rid, rid_len, &ack);
	if (rc == STORE_DUPLICATE) {
		log_debug("job %s: %s %s result again; acknowledged again", r->job_id, h->id,
		          r->step);
		goto out;
	}
	metrics_step_result(co, j != NULL ? j->jm->u.job.action : action, r->step, r->duration_ms);
	if (j == NULL || i < 0) {
		log_info("job %s: late %s result from %s (%s) after the job ended", r->job_id,
		         r->step, h->id, r->status);
		goto out;
	}
	struct job_host *jh = &j->hosts[i];
	acknowledged(jh);
	jh->activity_mono = clock_mono_ms();
	if (jh->revert == PROTO_REVERT_RUNNING && strncmp(r->step, "revert_", 7) == 0)
		take_revert_result(co, j, (size_t)i, r);
	else if (jobstate_host_final(jh->state))
		log_info("job %s: late %s result from %s (%s) after it was %s", j->id, r->step,
		         h->id, r->status, jobstate_host_name(jh->state));
	else
		take_result(co, h, j, (size_t)i, r);
out:
	free(dj);
}
