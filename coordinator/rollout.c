/* The rollout of a job across its targets: quorum gate, preflight on every
 * target before any host is touched, canaries alone, then batches, with a
 * failure budget that halts it, deadlines per step and per job, and
 * pause / resume / abort. rollout_step() is run after every event that
 * touches a job and on every tick; it is idempotent and restart-safe: all
 * it decides from is the job's stored state plus the registry. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "coordinator/coord.h"

static bool
host_failed(const struct job_host *jh)
{
	return proto_host_state_failed((int)jh->state);
}

/* Units with a failed or unreachable target (a deployment fails as one). */
static size_t
failures(const struct job *j)
{
	size_t f = 0;

	if (j->n_units == j->n)
		return j->counts[JH_FAILED] + j->counts[JH_UNREACHABLE];
	for (size_t i = 0; i < j->n; i++) {
		if (j->hosts[i].unit != i)
			continue;
		for (size_t k = i; k != SIZE_MAX; k = j->hosts[k].unit_next)
			if (host_failed(&j->hosts[k])) {
				f++;
				break;
			}
	}
	return f;
}

/* "targets" when every unit is one host, else "deployments". */
static const char *
units_word(const struct job *j)
{
	return j->n_units == j->n ? "targets" : "deployments";
}

static size_t
in_flight(const struct job *j)
{
	return j->counts[JH_PREFLIGHT] + j->counts[JH_RUNNING];
}

static size_t
budget_of(const struct job *j)
{
	const struct proto_policy *p = &j->jm->u.job.policy;

	return p->budget_pct ? (size_t)(p->budget * j->n_units / 100) : (size_t)p->budget;
}

static size_t
batch_size(const struct job *j)
{
	const struct proto_policy *p = &j->jm->u.job.policy;
	size_t b = p->batch_pct ? (size_t)((p->batch * j->n_units + 99) / 100) : (size_t)p->batch;

	return b > 0 ? b : 1;
}

static json_t *
target_list(const struct job *j)
{
	json_t *a = json_array();

	for (size_t i = 0; i < j->n; i++)
		json_array_append_new(a, json_string(j->hosts[i].host));
	return a;
}

/* ---- the automatic revert (actions with a revert phase: upgrade) ---- */

/* Whether a failed unit of j is reverted: an action with a revert phase
 * that changes its hosts (not a dry run). */
static bool
reverting(const struct job *j)
{
	return j->changes && proto_action_has_revert(j->jm->u.job.action);
}

static bool
revert_open(const struct job_host *jh)
{
	return jh->revert == PROTO_REVERT_DUE || jh->revert == PROTO_REVERT_RUNNING;
}

static size_t
reverts_open(const struct job *j)
{
	size_t n = 0;

	for (size_t i = 0; i < j->n; i++)
		n += revert_open(&j->hosts[i]);
	return n;
}

/* Whether the unit of first target i still has work: a phase in flight, or
 * a revert due or running. */
static bool
unit_busy(const struct job *j, size_t i)
{
	for (size_t k = i; k != SIZE_MAX; k = j->hosts[k].unit_next) {
		const struct job_host *jh = &j->hosts[k];
		if (jh->state == JH_PREFLIGHT || jh->state == JH_RUNNING || revert_open(jh))
			return true;
	}
	return false;
}

/* The unit of first target i failed after its run phase was sent, and
 * every node's run phase is over: each node that was sent its run phase
 * is sent the revert phase (the nodes of a deployment go back together:
 * one restores the metadb, the others wait for it, PROTOCOL.md 5). A node
 * that never answered its run dispatch is not sent one: it may have run
 * nothing, and an agent refuses the revert of a job it did not run. */
static void
revert_unit(struct coord *co, struct job *j, size_t i)
{
	bool ran = false, failed = false;

	for (size_t k = i; k != SIZE_MAX; k = j->hosts[k].unit_next) {
		const struct job_host *jh = &j->hosts[k];
		if (jh->state == JH_PREFLIGHT || jh->state == JH_RUNNING)
			return;
		ran |= strcmp(jh->phase, "run") == 0 || strcmp(jh->phase, "revert") == 0;
		failed |= host_failed(jh);
	}
	if (!ran || !failed)
		return;
	for (size_t k = i; k != SIZE_MAX; k = j->hosts[k].unit_next) {
		struct job_host *jh = &j->hosts[k];
		if (jh->revert != PROTO_REVERT_NONE || strcmp(jh->phase, "run") != 0)
			continue;
		if (jh->state == JH_UNREACHABLE && strcmp(jh->failed_step, "dispatch") == 0) {
			jobs_host_revert(
			    co, j, k, PROTO_REVERT_FAILED,
			    "not sent: it never answered its run dispatch; if it ran it "
			    "after all, `odc-agent run undo --of %s` on it puts it back",
			    j->id);
			continue;
		}
		jh->revert_due_mono = 0;
		jobs_host_revert(co, j, k, PROTO_REVERT_DUE, "its deployment failed; revert due");
	}
}

/* Sends target k its revert, or, while it is offline, waits for it one
 * lost window (an agent restarting reconnects within it). */
static void
revert_send(struct coord *co, struct job *j, size_t k)
{
	struct job_host *jh = &j->hosts[k];
	struct host *h = registry_host(co, jh->host);
	uint64_t mono = clock_mono_ms();

	if (h != NULL && registry_online(h)) {
		if (jobs_dispatch(co, j, k, "revert"))
			jobs_host_revert(co, j, k, PROTO_REVERT_RUNNING, "revert dispatched");
		else
			jobs_host_revert(
			    co, j, k, PROTO_REVERT_FAILED,
			    "the revert could not be sent (the job's signed lifetime "
			    "is over, or the link failed); `odc-agent run undo --of %s` "
			    "on it puts it back",
			    j->id);
		return;
	}
	if (jh->revert_due_mono == 0)
		jh->revert_due_mono = mono;
	if (mono - jh->revert_due_mono < registry_lost_window_ms(co))
		return;
	jobs_host_revert(co, j, k, PROTO_REVERT_FAILED,
	                 "not reverted: not online when its revert was due (it may run the new "
	                 "release or be stopped); when it is back, `odc-agent run undo --of %s` "
	                 "on it puts it back",
	                 j->id);
}

/* A revert in flight: sent again when unanswered (up to the tries), failed
 * after the step deadline without news. */
static void
revert_watch(struct coord *co, struct job *j, size_t k)
{
	struct job_host *jh = &j->hosts[k];
	uint64_t mono = clock_mono_ms(), step_ms = j->jm->u.job.policy.step_deadline_s * 1000;

	if (jh->awaiting_ack) {
		if (mono - jh->sent_mono <= co->conf->ack_timeout_ms)
			return;
		if (jh->tries < COORD_DISPATCH_TRIES) {
			revert_send(co, j, k);
			return;
		}
		jobs_host_revert(co, j, k, PROTO_REVERT_FAILED,
		                 "no answer to the revert dispatch after %d tries; `odc-agent run "
		                 "undo --of %s` on it puts it back",
		                 jh->tries, j->id);
	} else if (mono - jh->activity_mono > step_ms) {
		jobs_host_revert(
		    co, j, k, PROTO_REVERT_FAILED,
		    "no news from the agent for %llu s%s%s during the revert (step "
		    "deadline %llu s); `odc-agent journal` on it says where it stopped",
		    (unsigned long long)((mono - jh->activity_mono) / 1000),
		    *jh->step ? " in step " : "", jh->step,
		    (unsigned long long)j->jm->u.job.policy.step_deadline_s);
	}
}

/* Every turn, whatever the job's state (a paused, halted or aborted job
 * still puts a failed deployment back). */
static void
check_reverts(struct coord *co, struct job *j)
{
	if (!reverting(j))
		return;
	for (size_t i = 0; i < j->n; i++)
		if (j->hosts[i].unit == i)
			revert_unit(co, j, i);
	for (size_t k = 0; k < j->n; k++) {
		if (j->hosts[k].revert == PROTO_REVERT_DUE)
			revert_send(co, j, k);
		else if (j->hosts[k].revert == PROTO_REVERT_RUNNING)
			revert_watch(co, j, k);
	}
}

/* What the revert of the unit of target i did, for the job's message ("" for
 * none): back on its earlier release, or where it is not and what puts it
 * back. */
static void
revert_summary(const struct job *j, size_t i, char *out, size_t outlen)
{
	const struct job_host *bad = NULL, *one = NULL;
	size_t n = 0;

	*out = '\0';
	for (size_t k = j->hosts[i].unit; k != SIZE_MAX; k = j->hosts[k].unit_next) {
		const struct job_host *jh = &j->hosts[k];
		if (jh->revert == PROTO_REVERT_NONE)
			continue;
		n++;
		one = jh;
		if (jh->revert != PROTO_REVERT_OK && bad == NULL)
			bad = jh;
	}
	if (bad != NULL)
		snprintf(out, outlen,
		         "; its revert FAILED on %s: %s (that deployment is not back on its "
		         "earlier release)",
		         bad->host, bad->revert_message);
	else if (n == 1)
		snprintf(out, outlen, "; reverted by itself: %s", one->revert_message);
	else if (n > 1)
		snprintf(out, outlen,
		         "; reverted by itself: its %zu nodes are back on their earlier release",
		         n);
}

/* Ends the job: the state is final; hosts never touched are skipped. */
static void finish(struct coord *co, struct job *j, enum job_state st, const char *who,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void
finish(struct coord *co, struct job *j, enum job_state st, const char *who, const char *fmt, ...)
{
	va_list ap;
	json_t *targets;

	va_start(ap, fmt);
	vsnprintf(j->message, sizeof(j->message), fmt, ap);
	va_end(ap);
	for (size_t i = 0; i < j->n; i++) {
		enum jh_state hs = j->hosts[i].state;
		if (hs == JH_PENDING || hs == JH_READY)
			jobs_host_set(co, j, i, JH_SKIPPED, NULL, "skipped: the job %s: %s",
			              st == JOB_ABORTED ? "was aborted" : jobstate_name(st),
			              j->message);
	}
	j->state = st;
	if (st == JOB_SUCCEEDED || st == JOB_FAILED)
		j->stage = STAGE_DONE;
	j->ended_ms = proto_now_ms();
	metrics_job_ended(co, j);
	j->dirty = true;
	targets = target_list(j);
	coord_audit(co, who, "job-end", j->id, targets, jobstate_name(st), "%s", j->message);
	json_decref(targets);
	notify_job(co, j, st == JOB_HALTED ? COORD_EVENT_HALT : COORD_EVENT_FINISH);
	if (st == JOB_SUCCEEDED)
		log_info("job %s succeeded on %zu hosts", j->id, j->n);
	else
		log_warn("job %s %s: %s", j->id, jobstate_name(st), j->message);
}

/* Timeouts of what is in flight. An unanswered dispatch of a running job is
 * sent again, then the host is unreachable. A paused job sends nothing: the
 * dispatch goes again at resume. An ended job never sends again: its host
 * becomes unreachable once the unanswered dispatch is dead, so that a copy
 * still queued somewhere can no longer be accepted (PROTOCOL.md 9.2). A
 * step with no news for step_deadline fails, whatever the job's state. */
static void
check_in_flight(struct coord *co, struct job *j)
{
	const struct proto_policy *p = &j->jm->u.job.policy;
	uint64_t mono = clock_mono_ms(), step_ms = p->step_deadline_s * 1000;

	for (size_t i = 0; i < j->n; i++) {
		struct job_host *jh = &j->hosts[i];
		if (jh->state != JH_PREFLIGHT && jh->state != JH_RUNNING)
			continue;
		if (jh->awaiting_ack && jobstate_final(j->state)) {
			if (jobs_dispatch_dead(jh, proto_now_ms()))
				jobs_host_set(co, j, i, JH_UNREACHABLE, "dispatch",
				              "its %s dispatch was never acknowledged and has "
				              "expired; the job is %s, "
				              "so nothing more was sent",
				              jh->phase, jobstate_name(j->state));
		} else if (jh->awaiting_ack) {
			if (j->state != JOB_RUNNING ||
			    mono - jh->sent_mono <= co->conf->ack_timeout_ms)
				continue;
			if (jh->tries < COORD_DISPATCH_TRIES && jobs_dispatch(co, j, i, jh->phase))
				continue;
			jobs_host_set(co, j, i, JH_UNREACHABLE, "dispatch",
			              "no answer to the %s dispatch after %d %s", jh->phase,
			              jh->tries, jh->tries == 1 ? "try" : "tries");
		} else if (mono - jh->activity_mono > step_ms) {
			jobs_host_set(
			    co, j, i, JH_FAILED, *jh->step ? jh->step : "deadline",
			    "no news from the agent for %llu s%s%s (step deadline %llu s)",
			    (unsigned long long)((mono - jh->activity_mono) / 1000),
			    *jh->step ? " in step " : "", jh->step,
			    (unsigned long long)p->step_deadline_s);
		}
	}
}

static void
check_job_deadline(struct coord *co, struct job *j)
{
	if (proto_now_ms() <= j->deadline_ms)
		return;
	for (size_t i = 0; i < j->n; i++) {
		struct job_host *jh = &j->hosts[i];
		if (jh->state == JH_PREFLIGHT || jh->state == JH_RUNNING)
			jobs_host_set(co, j, i, JH_FAILED, *jh->step ? jh->step : "deadline",
			              "the job's deadline passed during %s%s",
			              *jh->step ? "step " : "the ",
			              *jh->step ? jh->step : jh->phase);
	}
	if (!jobstate_final(j->state))
		finish(co, j, JOB_FAILED, "coordinator", "the job deadline passed (%llu s)",
		       (unsigned long long)j->jm->u.job.policy.job_deadline_s);
}

/* Sends phase to target i, or marks it unreachable. */
static void
start_host(struct coord *co, struct job *j, size_t i, const char *phase)
{
	enum jh_state next = strcmp(phase, "preflight") == 0 ? JH_PREFLIGHT : JH_RUNNING;

	if (jobs_dispatch(co, j, i, phase)) {
		jobs_host_set(co, j, i, next, NULL, "%s dispatched", phase);
		return;
	}
	jobs_host_set(co, j, i, JH_UNREACHABLE, "dispatch", "not online when its %s was due",
	              phase);
}

/* A unit that may run now (i its first target): every target of it ready
 * after preflight, or pending when the action has no preflight phase. */
static bool
eligible(const struct job *j, size_t i)
{
	if (j->hosts[i].unit != i)
		return false;
	for (size_t k = i; k != SIZE_MAX; k = j->hosts[k].unit_next) {
		const struct job_host *jh = &j->hosts[k];
		if (*jh->role != '\0' || jh->state != (j->has_preflight ? JH_READY : JH_PENDING))
			return false;
	}
	return true;
}

/* Sends the run phase to every target of unit i at once: the nodes of one
 * deployment run together (their agents elect the one that restores). */
static void
start_unit(struct coord *co, struct job *j, size_t i, const char *role, uint64_t batch)
{
	for (size_t k = i; k != SIZE_MAX; k = j->hosts[k].unit_next) {
		snprintf(j->hosts[k].role, sizeof(j->hosts[k].role), "%s", role);
		j->hosts[k].batch = batch;
		start_host(co, j, k, "run");
	}
}

static bool
over_budget(struct coord *co, struct job *j, const char *where)
{
	size_t f = failures(j), b = budget_of(j);

	if (f <= b)
		return false;
	/* The job ends once its failed deployments are back (or known not to be). */
	for (size_t i = 0; reverting(j) && i < j->n; i++)
		if (host_failed(&j->hosts[i]) && unit_busy(j, j->hosts[i].unit))
			return true;
	/* Named: the first failure, or the first whose deployment is not back. */
	const struct job_host *first = NULL;
	char rv[1200] = "";
	for (size_t i = 0; i < j->n; i++) {
		const struct job_host *jh = &j->hosts[i];
		char s[sizeof(rv)];
		if (!host_failed(jh))
			continue;
		revert_summary(j, i, s, sizeof(s));
		if (first == NULL ||
		    (strstr(rv, "FAILED") == NULL && strstr(s, "FAILED") != NULL)) {
			first = jh;
			memcpy(rv, s, sizeof(rv));
		}
	}
	if (first == NULL)
		return false;
	finish(co, j, JOB_HALTED, "coordinator",
	       "failure budget exceeded %s: %zu failed, budget %zu; %s: %s %s%s%s: %s%s", where, f,
	       b, strstr(rv, "FAILED") != NULL ? "not back" : "first", first->host,
	       jobstate_host_name(first->state), *first->failed_step ? " at " : "",
	       first->failed_step, first->message, rv);
	return true;
}

/* Right after a (re)start, agents that were connected to the previous life
 * are still reconnecting: judging who is online now would call live hosts
 * unreachable. While a target seen before is not back and one lost window
 * has not passed, results are taken but nothing new is decided or sent. */
static bool
awaiting_reconnect(struct coord *co, const struct job *j)
{
	if (clock_mono_ms() - co->started_mono >= registry_lost_window_ms(co))
		return false;
	for (size_t i = 0; i < j->n; i++) {
		const struct host *h = registry_host(co, j->hosts[i].host);
		if (h != NULL && !h->revoked && h->seen_before && !registry_online(h) &&
		    !jobstate_host_final(j->hosts[i].state))
			return true;
	}
	return false;
}

/* Each stage decides from the job's stored state and the registry, sends
 * what is due, and says whether the job moved to another stage (evaluate
 * again now) or waits for news (an agent's answer, a tick). */
enum turn { WAIT, NEXT };

static void
move_to(struct job *j, enum job_stage st)
{
	j->stage = st;
	j->dirty = true;
}

/* Enough units online (deployments for a rollback or undo: a unit is
 * online when every node of it is), or the job halts before anything is
 * sent; targets offline at the start are unreachable. */
static enum turn
stage_quorum(struct coord *co, struct job *j)
{
	const struct proto_policy *p = &j->jm->u.job.policy;
	size_t online = 0, units = 0;

	for (size_t i = 0; i < j->n; i++) {
		struct host *h = registry_host(co, j->hosts[i].host);
		if (h == NULL || !registry_online(h))
			jobs_host_set(co, j, i, JH_UNREACHABLE, "",
			              "not online when the job started");
	}
	/* A deployment with a node not online is not touched: that node may
	 * still run the newer ODC against the metadb, or come back later and
	 * migrate the restored metadb forward again (README, "Deployments"). */
	for (size_t i = 0; i < j->n; i++) {
		const struct job_host *jh = &j->hosts[i];
		if (jh->unit != i || jh->unit_next == SIZE_MAX)
			continue;
		const char *down = NULL;
		for (size_t k = i; k != SIZE_MAX && down == NULL; k = j->hosts[k].unit_next)
			if (j->hosts[k].state == JH_UNREACHABLE)
				down = j->hosts[k].host;
		for (size_t k = i; down != NULL && k != SIZE_MAX; k = j->hosts[k].unit_next)
			if (j->hosts[k].state != JH_UNREACHABLE)
				jobs_host_set(co, j, k, JH_UNREACHABLE, "",
				              "not touched: node %s of its deployment is not "
				              "online (it may still run ODC "
				              "on the metadb, or come back and migrate it)",
				              down);
	}
	for (size_t i = 0; i < j->n; i++) {
		if (j->hosts[i].unit != i)
			continue;
		units++;
		online += j->hosts[i].state != JH_UNREACHABLE;
	}
	uint64_t need = (p->quorum_pct * units + 99) / 100;
	if (online < need) {
		const char *what = units != j->n ? "deployments" : "targets";
		finish(co, j, JOB_HALTED, "coordinator",
		       "quorum not met: %zu of %zu %s online, %llu%% (%llu) needed", online, units,
		       what, (unsigned long long)p->quorum_pct, (unsigned long long)need);
		return WAIT;
	}
	move_to(j, j->has_preflight ? STAGE_PREFLIGHT : STAGE_CANARY);
	return over_budget(co, j, "at the start (offline targets)") ? WAIT : NEXT;
}

/* backup_on_peer (PROTOCOL.md 5): a node without the backup waits for the
 * node of its deployment that has it to restore. A deployment every node of
 * which said it has none would only wait: its nodes fail their preflight
 * here, before anything is stopped. (A node that said nothing, one with
 * nothing to do, is no evidence either way.) */
static void
check_backup_holders(struct coord *co, struct job *j)
{
	const struct proto_job *jb = &j->jm->u.job;
	const char *peer = proto_param(jb->params, jb->n_params, "backup_on_peer");

	if (strcmp(jb->action, "rollback") != 0 || peer == NULL || strcmp(peer, "true") != 0)
		return;
	for (size_t i = 0; i < j->n; i++) {
		bool ready = true, none = true;
		if (j->hosts[i].unit != i)
			continue;
		for (size_t k = i; k != SIZE_MAX; k = j->hosts[k].unit_next) {
			ready &= j->hosts[k].state == JH_READY;
			none &= deploy_backup_said(registry_host(co, j->hosts[k].host), j->id) == 0;
		}
		if (!ready || !none)
			continue;
		const char *backup = proto_param(jb->params, jb->n_params, "backup");
		for (size_t k = i; k != SIZE_MAX; k = j->hosts[k].unit_next)
			jobs_host_set(
			    co, j, k, JH_FAILED, "preflight",
			    j->hosts[i].unit_next == SIZE_MAX
			        ? "no backup at %s on this host; nothing was touched"
			        : "no node of its deployment has a backup at %s (the node that has "
			          "it restores "
			          "the metadb for all; the others need none); nothing was touched",
			    backup);
	}
}

/* Every target checks itself before any is touched. */
static enum turn
stage_preflight(struct coord *co, struct job *j)
{
	for (size_t i = 0; i < j->n; i++)
		if (j->hosts[i].state == JH_PENDING)
			start_host(co, j, i, "preflight");
	if (in_flight(j) > 0)
		return WAIT;
	check_backup_holders(co, j);
	if (over_budget(co, j, "in preflight"))
		return WAIT;
	move_to(j, STAGE_CANARY);
	return NEXT;
}

/* The canaries run alone; any canary failure halts the job. */
static enum turn
stage_canary(struct coord *co, struct job *j)
{
	const struct proto_policy *p = &j->jm->u.job.policy;
	size_t scheduled = 0, left = 0;

	for (size_t i = 0; i < j->n; i++)
		scheduled += strcmp(j->hosts[i].role, "canary") == 0;
	/* --canary counts units: a canary deployment runs all its nodes. */
	for (size_t i = 0; scheduled == 0 && p->canary > 0 && i < j->n && left < p->canary; i++) {
		if (!eligible(j, i))
			continue;
		start_unit(co, j, i, "canary", 0);
		left++;
	}
	left = 0;
	for (size_t i = 0; i < j->n; i++) {
		const struct job_host *jh = &j->hosts[i];
		if (strcmp(jh->role, "canary") != 0)
			continue;
		if (host_failed(jh)) {
			char rv[1200];
			/* A reverted canary halts the job once it is back. */
			if (reverting(j) && unit_busy(j, jh->unit))
				return WAIT;
			revert_summary(j, i, rv, sizeof(rv));
			finish(co, j, JOB_HALTED, "coordinator", "canary %s %s%s%s: %s%s", jh->host,
			       jobstate_host_name(jh->state), *jh->failed_step ? " at " : "",
			       jh->failed_step, jh->message, rv);
			return WAIT;
		}
		left += !jobstate_host_final(jh->state);
	}
	if (left > 0)
		return WAIT;
	move_to(j, STAGE_BATCHES);
	return NEXT;
}

/* A batch at a time, each once the previous has ended, within the budget. */
static enum turn
stage_batches(struct coord *co, struct job *j)
{
	size_t want = batch_size(j), started = 0;

	if (over_budget(co, j, j->batch ? "during the batches" : "before the first batch") ||
	    j->counts[JH_RUNNING] > 0 || reverts_open(j) > 0)
		return WAIT;
	for (size_t i = 0; i < j->n && started < want; i++) {
		if (!eligible(j, i))
			continue;
		if (started == 0) {
			j->batch++;
			j->dirty = true;
		}
		start_unit(co, j, i, "batch", j->batch);
		started++;
	}
	if (started > 0)
		return j->counts[JH_RUNNING] > 0 ? WAIT
		                                 : NEXT; /* a batch all unreachable: judge it now */
	move_to(j, STAGE_DONE);
	return NEXT;
}

static enum turn
stage_done(struct coord *co, struct job *j)
{
	size_t f = failures(j), back = 0, not_back = 0;

	for (size_t i = 0; i < j->n; i++) {
		char rv[1200];
		if (j->hosts[i].unit != i)
			continue;
		revert_summary(j, i, rv, sizeof(rv));
		back += strncmp(rv, "; reverted", 10) == 0;
		not_back += strncmp(rv, "; its revert FAILED", 19) == 0;
	}
	if (f == 0)
		finish(co, j, JOB_SUCCEEDED, "coordinator", "every target succeeded");
	else if (reverting(j))
		finish(co, j, JOB_FAILED, "coordinator",
		       "%zu of %zu %s failed (budget %zu): %zu reverted by themselves, %zu not "
		       "back (their hosts say why)",
		       f, j->n_units, units_word(j), budget_of(j), back, not_back);
	else
		finish(co, j, JOB_FAILED, "coordinator", "%zu of %zu %s failed (budget %zu)", f,
		       j->n_units, units_word(j), budget_of(j));
	return WAIT;
}

static enum turn (*const stages[])(struct coord *, struct job *) = {
    [STAGE_QUORUM] = stage_quorum, [STAGE_PREFLIGHT] = stage_preflight,
    [STAGE_CANARY] = stage_canary, [STAGE_BATCHES] = stage_batches,
    [STAGE_DONE] = stage_done,
};

static void
advance(struct coord *co, struct job *j)
{
	if (awaiting_reconnect(co, j))
		return;
	/* Every stage moves forward only, so a few turns reach a waiting one. */
	for (int guard = 0; guard < 8 && j->state == JOB_RUNNING; guard++)
		if (stages[j->stage](co, j) == WAIT)
			return;
}

void
rollout_step(struct coord *co, struct job *j)
{
	if (j->loaded || j->done)
		return;
	check_in_flight(co, j);
	check_job_deadline(co, j);
	check_reverts(co, j);
	if (j->state == JOB_RUNNING)
		advance(co, j);
	jobs_persist(co, j);
	if (jobstate_final(j->state) && in_flight(j) == 0 && reverts_open(j) == 0)
		j->done = true;
}

void
rollout_poked(struct coord *co)
{
	for (struct job *j = co->jobs; j != NULL; j = j->next) {
		if (j->poked) {
			j->poked = false;
			rollout_step(co, j);
		}
	}
}

void
rollout_tick(struct coord *co)
{
	struct job **pp = &co->jobs;

	for (struct job *j = co->jobs; j != NULL; j = j->next)
		rollout_step(co, j);
	/* Jobs that ended with nothing in flight leave memory; the store has them. */
	while (*pp != NULL) {
		struct job *j = *pp;
		if (j->done) {
			*pp = j->next;
			map_del_str(co->job_map, j->id);
			for (size_t i = 0; i < j->n; i++) {
				struct host *h = registry_host(co, j->hosts[i].host);
				if (h != NULL && h->active == j)
					h->active = NULL;
			}
			job_free(j);
			continue;
		}
		pp = &j->next;
	}
}

static int
not_in(struct job *j, const char *what, char *err, size_t errlen)
{
	snprintf(err, errlen, "job %s is %s; cannot %s it", j->id, jobstate_name(j->state), what);
	return PROTO_E_CONFLICT;
}

int
rollout_pause(struct coord *co, struct job *j, const char *who, char *err, size_t errlen)
{
	if (j->state != JOB_RUNNING)
		return not_in(j, "pause", err, errlen);
	j->state = JOB_PAUSED;
	j->dirty = true;
	coord_audit(co, who, "job-pause", j->id, NULL, "ok", "paused at stage %s",
	            jobstate_stage_name(j->stage));
	jobs_persist(co, j);
	return 0;
}

int
rollout_resume(struct coord *co, struct job *j, const char *who, char *err, size_t errlen)
{
	if (j->state != JOB_PAUSED)
		return not_in(j, "resume", err, errlen);
	j->state = JOB_RUNNING;
	j->dirty = true;
	coord_audit(co, who, "job-resume", j->id, NULL, "ok", "resumed at stage %s",
	            jobstate_stage_name(j->stage));
	rollout_step(co, j);
	return 0;
}

int
rollout_abort(struct coord *co, struct job *j, const char *who, char *err, size_t errlen)
{
	if (j->state != JOB_RUNNING && j->state != JOB_PAUSED)
		return not_in(j, "abort", err, errlen);
	coord_audit(co, who, "job-abort", j->id, NULL, "ok", "aborted at stage %s",
	            jobstate_stage_name(j->stage));
	finish(co, j, JOB_ABORTED, who, "aborted by %s at stage %s%s%s", who,
	       jobstate_stage_name(j->stage),
	       in_flight(j) || reverts_open(j) ? "; steps already running go on to their end" : "",
	       reverting(j) ? " (a deployment that fails is still reverted)" : "");
	rollout_step(co, j);
	return 0;
}
