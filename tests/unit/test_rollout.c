/* The rollout alone (coordinator/rollout.c), driven with fake hosts: no
 * sockets, no store. The functions rollout.c calls in the registry, jobs.c
 * and the turn are defined here, doing what the real ones do to the job's
 * memory (states, counts, the dispatch in flight), so that every decision is
 * rollout.c's own: quorum, preflight everywhere, canaries alone, batches in
 * order, the failure budget, pause/resume/abort, offline hosts, a
 * coordinator restart in every stage (the job rebuilt from what the store
 * keeps of it, as jobs_load does), and an upgrade's automatic revert of a
 * failed deployment. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "coordinator/coord.h"

#define MAX_HOSTS 16

/* ---- the fakes ---- */

static struct host fake_hosts[MAX_HOSTS];
static size_t n_fake_hosts;
/* Every dispatch, in order: "h2:preflight". */
static char sent[256][48];
static size_t n_sent;
static size_t n_audits, n_notices;

struct host *
registry_host(struct coord *co, const char *id)
{
	(void)co;
	for (size_t i = 0; i < n_fake_hosts; i++)
		if (strcmp(fake_hosts[i].id, id) == 0)
			return &fake_hosts[i];
	return NULL;
}

bool
registry_online(const struct host *h)
{
	return h->status == HOST_ONLINE;
}

uint64_t
registry_lost_window_ms(const struct coord *co)
{
	return co->conf->heartbeat_ms * co->conf->lost_after;
}

bool
jobs_dispatch(struct coord *co, struct job *j, size_t i, const char *phase)
{
	struct job_host *jh = &j->hosts[i];
	struct host *h = registry_host(co, jh->host);

	if ((j->state != JOB_RUNNING && strcmp(phase, "revert") != 0) || h == NULL ||
	    !registry_online(h))
		return false;
	assert_true(n_sent < sizeof(sent) / sizeof(sent[0]));
	snprintf(sent[n_sent++], sizeof(sent[0]), "%s:%s", jh->host, phase);
	snprintf(jh->phase, sizeof(jh->phase), "%s", phase);
	/* The agent acknowledges at once: what is left is its results. */
	jh->awaiting_ack = false;
	jh->activity_mono = clock_mono_ms();
	return true;
}

bool
jobs_dispatch_dead(const struct job_host *jh, uint64_t now_ms)
{
	return jh->dispatch_expires_ms == 0 || now_ms > jh->dispatch_expires_ms;
}

void
jobs_host_set(struct coord *co, struct job *j, size_t i, enum jh_state st, const char *failed_step,
              const char *fmt, ...)
{
	struct job_host *jh = &j->hosts[i];
	va_list ap;

	(void)co;
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(jh->message, sizeof(jh->message), fmt, ap);
		va_end(ap);
	}
	if (failed_step != NULL)
		snprintf(jh->failed_step, sizeof(jh->failed_step), "%s", failed_step);
	j->counts[jh->state]--;
	j->counts[st]++;
	jh->state = st;
	jh->dirty = true;
}

void
jobs_host_revert(struct coord *co, struct job *j, size_t i, enum proto_revert r, const char *fmt,
                 ...)
{
	struct job_host *jh = &j->hosts[i];
	va_list ap;

	(void)co;
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(jh->revert_message, sizeof(jh->revert_message), fmt, ap);
		va_end(ap);
	}
	jh->revert = r;
	if (r == PROTO_REVERT_OK || r == PROTO_REVERT_FAILED)
		jh->awaiting_ack = false;
	jh->dirty = true;
}

void
jobs_persist(struct coord *co, struct job *j)
{
	(void)co;
	j->dirty = false;
}

void
coord_audit(struct coord *co, const char *who, const char *what, const char *job_id, json_t *hosts,
            const char *outcome, const char *fmt, ...)
{
	(void)co, (void)who, (void)what, (void)job_id, (void)hosts, (void)outcome, (void)fmt;
	n_audits++;
}

void
notify_job(struct coord *co, const struct job *j, enum coord_event ev)
{
	(void)co, (void)j, (void)ev;
	n_notices++;
}

void
metrics_job_ended(struct coord *co, const struct job *j)
{
	(void)co, (void)j;
}

void
job_free(struct job *j)
{
	if (j == NULL)
		return;
	free(j->jm);
	free(j->hosts);
	free(j);
}

/* What each fake host's check said of the backup: 1 there, 0 not, -1
 * nothing (deploy_backup_said). */
static int holds_backup[MAX_HOSTS];

int
deploy_backup_said(const struct host *h, const char *job_id)
{
	(void)job_id;
	return h != NULL ? holds_backup[h - fake_hosts] : -1;
}

void *
map_del_str(struct map *m, const char *s)
{
	(void)m, (void)s;
	return NULL;
}

/* ---- the world of one test ---- */

static struct coord_conf conf = {.heartbeat_ms = 5000, .lost_after = 3, .ack_timeout_ms = 600000};
static struct coord co;

static void
world(size_t hosts, size_t offline)
{
	memset(fake_hosts, 0, sizeof(fake_hosts));
	n_fake_hosts = hosts;
	for (size_t i = 0; i < hosts; i++) {
		snprintf(fake_hosts[i].id, sizeof(fake_hosts[i].id), "h%zu", i);
		fake_hosts[i].status = i >= hosts - offline ? HOST_LOST : HOST_ONLINE;
	}
	n_sent = n_audits = n_notices = 0;
	for (size_t i = 0; i < MAX_HOSTS; i++)
		holds_backup[i] = 1;
	memset(&co, 0, sizeof(co));
	co.conf = &conf;
	/* Long after the start: nobody is still reconnecting. */
	co.started_mono = clock_mono_ms() - 10 * registry_lost_window_ms(&co);
}

static struct proto_kv job_params[] = {
    {"to", "4.2.0"}, {"backup", "/backups/odc 4.2.0"}, {"backup_on_peer", "true"}};

/* A running job over every fake host with this policy (rollback-like: a
 * preflight phase when preflight is set). */
static struct job *
job_new(struct proto_policy p, bool preflight)
{
	struct job *j = calloc(1, sizeof(*j));
	struct proto_msg *jm = calloc(1, sizeof(*jm));

	assert_non_null(j);
	assert_non_null(jm);
	if (p.step_deadline_s == 0)
		p.step_deadline_s = 3600;
	jm->type = PROTO_JOB;
	jm->u.job.action = "rollback";
	jm->u.job.params = job_params;
	jm->u.job.n_params = sizeof(job_params) / sizeof(job_params[0]);
	jm->u.job.policy = p;
	jm->u.job.expires_ms = proto_now_ms() + 3600000;
	j->jm = jm;
	snprintf(j->id, sizeof(j->id), "job-1");
	j->n = n_fake_hosts;
	j->hosts = calloc(j->n, sizeof(*j->hosts));
	assert_non_null(j->hosts);
	for (size_t i = 0; i < j->n; i++) {
		snprintf(j->hosts[i].host, sizeof(j->hosts[i].host), "%s", fake_hosts[i].id);
		j->hosts[i].order = i;
		j->hosts[i].unit = i;
		j->hosts[i].activity_mono = clock_mono_ms();
	}
	jobstate_link_units(j);
	j->counts[JH_PENDING] = j->n;
	j->has_preflight = preflight;
	j->state = JOB_RUNNING;
	j->stage = STAGE_QUORUM;
	j->deadline_ms = proto_now_ms() + 3600000;
	co.jobs = j;
	return j;
}

/* A coordinator restart: a new job from what the store keeps (state,
 * stage, batch; per host state, role, batch, phase, messages), nothing of
 * what lives in memory only (dispatches in flight are asked again at
 * HELLO: here the agents simply answer later). */
static struct job *
restart(struct job *old)
{
	struct job *j = job_new(old->jm->u.job.policy, old->has_preflight);

	j->jm->u.job.action = old->jm->u.job.action;
	j->changes = old->changes;

	j->state = old->state;
	j->stage = old->stage;
	j->batch = old->batch;
	memset(j->counts, 0, sizeof(j->counts));
	for (size_t i = 0; i < j->n; i++) {
		struct job_host *a = &old->hosts[i], *b = &j->hosts[i];
		b->state = a->state;
		b->batch = a->batch;
		b->unit = a->unit;
		snprintf(b->role, sizeof(b->role), "%s", a->role);
		snprintf(b->phase, sizeof(b->phase), "%s", a->phase);
		snprintf(b->failed_step, sizeof(b->failed_step), "%s", a->failed_step);
		b->revert = a->revert;
		snprintf(b->revert_message, sizeof(b->revert_message), "%s", a->revert_message);
		j->counts[b->state]++;
	}
	jobstate_link_units(j);
	job_free(old);
	return j;
}

/* What an agent's final RESULT does to its host (jobs_on_result), then
 * the step the turn would run. */
static void
answer(struct job *j, size_t i, bool ok)
{
	struct job_host *jh = &j->hosts[i];

	if (!ok)
		jobs_host_set(&co, j, i, JH_FAILED, "restore", "the restore failed");
	else if (jh->state == JH_PREFLIGHT)
		jobs_host_set(&co, j, i, JH_READY, NULL, "ready");
	else if (jh->state == JH_RUNNING)
		jobs_host_set(&co, j, i, JH_SUCCEEDED, NULL, "done");
	rollout_step(&co, j);
}

/* Answers every host that is in state `in` (preflight or running) now, ok
 * unless listed; hosts the answers set running are not answered yet. */
static void
answer_all(struct job *j, enum jh_state in, const size_t *fail, size_t n_fail)
{
	bool now[MAX_HOSTS];

	for (size_t i = 0; i < j->n; i++)
		now[i] = j->hosts[i].state == in;
	for (size_t i = 0; i < j->n; i++) {
		if (!now[i])
			continue;
		bool ok = true;
		for (size_t k = 0; k < n_fail; k++)
			ok &= fail[k] != i;
		answer(j, i, ok);
	}
}

static const char *
joined(void)
{
	static char buf[4096];
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n_sent && off < sizeof(buf); i++)
		off +=
		    (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%s", i ? " " : "", sent[i]);
	return buf;
}

/* ---- the tests ---- */

static void
test_preflight_everywhere_then_canary_then_batches(void **state)
{
	(void)state;
	world(5, 0);
	struct job *j =
	    job_new((struct proto_policy){.canary = 1, .batch = 2, .quorum_pct = 100}, true);

	rollout_step(&co, j);
	assert_int_equal(j->stage, STAGE_PREFLIGHT);
	assert_string_equal(joined(),
	                    "h0:preflight h1:preflight h2:preflight h3:preflight h4:preflight");
	answer_all(j, JH_PREFLIGHT, NULL, 0);
	/* Nothing runs before every preflight is in; then one canary alone. */
	assert_int_equal(j->stage, STAGE_CANARY);
	assert_string_equal(sent[n_sent - 1], "h0:run");
	assert_int_equal(j->counts[JH_RUNNING], 1);
	answer(j, 0, true);
	assert_int_equal(j->stage, STAGE_BATCHES);
	assert_int_equal(j->batch, 1);
	assert_int_equal(j->counts[JH_RUNNING], 2);
	answer(j, 1, true);
	assert_int_equal(j->batch, 1); /* the batch is not over */
	answer(j, 2, true);
	assert_int_equal(j->batch, 2);
	answer_all(j, JH_RUNNING, NULL, 0);
	assert_int_equal(j->state, JOB_SUCCEEDED);
	assert_int_equal(j->stage, STAGE_DONE);
	assert_string_equal(joined(),
	                    "h0:preflight h1:preflight h2:preflight h3:preflight h4:preflight "
	                    "h0:run h1:run h2:run h3:run h4:run");
	assert_string_equal(j->hosts[3].role, "batch");
	assert_int_equal(j->hosts[3].batch, 2);
	assert_int_equal(n_notices, 1); /* finish */
	job_free(j);
}

static void
test_quorum_missed_sends_nothing(void **state)
{
	(void)state;
	world(5, 3);
	struct job *j = job_new((struct proto_policy){.batch = 5, .quorum_pct = 50}, true);

	rollout_step(&co, j);
	assert_int_equal(j->state, JOB_HALTED);
	assert_int_equal(n_sent, 0);
	assert_non_null(
	    strstr(j->message, "quorum not met: 2 of 5 targets online, 50% (3) needed"));
	assert_int_equal(j->counts[JH_UNREACHABLE], 3);
	assert_int_equal(j->counts[JH_SKIPPED], 2);
	job_free(j);
}

static void
test_a_failing_canary_halts_and_skips_the_rest(void **state)
{
	(void)state;
	world(4, 0);
	struct job *j = job_new((struct proto_policy){.canary = 1, .batch = 1, .budget = 3}, true);

	rollout_step(&co, j);
	answer_all(j, JH_PREFLIGHT, NULL, 0);
	answer(j, 0, false);
	assert_int_equal(j->state, JOB_HALTED);
	assert_non_null(strstr(j->message, "canary h0 failed at restore: the restore failed"));
	assert_int_equal(j->counts[JH_SKIPPED], 3);
	assert_string_equal(sent[n_sent - 1], "h0:run"); /* nothing after it */
	job_free(j);
}

static void
test_the_failure_budget_halts_between_batches(void **state)
{
	(void)state;
	world(6, 0);
	struct job *j = job_new((struct proto_policy){.batch = 2, .budget = 1}, true);
	const size_t fail[] = {0, 1};

	rollout_step(&co, j);
	answer_all(j, JH_PREFLIGHT, NULL, 0);
	answer_all(j, JH_RUNNING, fail, 2);
	assert_int_equal(j->state, JOB_HALTED);
	assert_non_null(
	    strstr(j->message,
	           "failure budget exceeded during the batches: 2 failed, budget 1; first: h0"));
	assert_int_equal(j->counts[JH_SKIPPED], 4);
	job_free(j);
}

static void
test_an_offline_host_is_unreachable_when_its_turn_comes(void **state)
{
	(void)state;
	world(3, 0);
	struct job *j = job_new((struct proto_policy){.batch = 1, .budget = 1}, false);

	rollout_step(&co, j);
	assert_string_equal(joined(), "h0:run");
	fake_hosts[1].status = HOST_LOST;
	answer(j, 0, true);
	/* h1 is unreachable (within the budget); h2 runs. */
	assert_int_equal(j->hosts[1].state, JH_UNREACHABLE);
	assert_string_equal(j->hosts[1].failed_step, "dispatch");
	assert_string_equal(sent[n_sent - 1], "h2:run");
	answer(j, 2, true);
	assert_int_equal(j->state, JOB_FAILED);
	assert_non_null(strstr(j->message, "1 of 3 targets failed (budget 1)"));
	job_free(j);
}

static void
test_pause_resume_abort(void **state)
{
	char err[256];

	(void)state;
	world(4, 0);
	struct job *j = job_new((struct proto_policy){.batch = 1, .budget = 4}, false);

	rollout_step(&co, j);
	assert_int_equal(rollout_pause(&co, j, "alice", err, sizeof(err)), 0);
	assert_int_equal(rollout_pause(&co, j, "alice", err, sizeof(err)), PROTO_E_CONFLICT);
	answer(j, 0, true); /* a step already running ends and is recorded */
	rollout_step(&co, j);
	assert_int_equal(n_sent, 1); /* nothing new while paused */
	assert_int_equal(j->hosts[0].state, JH_SUCCEEDED);
	assert_int_equal(rollout_resume(&co, j, "alice", err, sizeof(err)), 0);
	assert_string_equal(sent[n_sent - 1], "h1:run");
	assert_int_equal(rollout_abort(&co, j, "bob", err, sizeof(err)), 0);
	assert_int_equal(j->state, JOB_ABORTED);
	assert_non_null(
	    strstr(j->message, "aborted by bob at stage batches; steps already running go on"));
	assert_int_equal(j->counts[JH_SKIPPED], 2);
	answer(j, 1, true); /* its result still ends it */
	assert_int_equal(j->hosts[1].state, JH_SUCCEEDED);
	assert_int_equal(n_sent, 2);
	assert_true(j->done);
	assert_int_equal(rollout_resume(&co, j, "alice", err, sizeof(err)), PROTO_E_CONFLICT);
	job_free(j);
}

/* A restart at every point of a rollout changes nothing of its outcome or
 * its order: the job is rebuilt from its stored state after each event. */
static void
test_a_restart_in_every_stage_changes_nothing(void **state)
{
	(void)state;
	world(5, 0);
	struct job *j = job_new((struct proto_policy){.canary = 1, .batch = 2, .budget = 1}, true);
	const size_t fail[] = {3};
	enum job_stage seen[8];
	size_t n_seen = 0;

	rollout_step(&co, j);
	for (int turn = 0; turn < 40 && j->state == JOB_RUNNING; turn++) {
		if (n_seen == 0 || seen[n_seen - 1] != j->stage)
			seen[n_seen++] = j->stage;
		j = restart(j);
		rollout_step(&co, j); /* nothing new is sent for what is in flight */
		j = restart(j);
		if (j->counts[JH_PREFLIGHT] > 0)
			answer_all(j, JH_PREFLIGHT, NULL, 0);
		else
			answer_all(j, JH_RUNNING, fail, 1);
	}
	assert_int_equal(j->state, JOB_FAILED);
	assert_int_equal(j->counts[JH_SUCCEEDED], 4);
	assert_int_equal(j->counts[JH_FAILED], 1);
	assert_string_equal(joined(),
	                    "h0:preflight h1:preflight h2:preflight h3:preflight h4:preflight "
	                    "h0:run h1:run h2:run h3:run h4:run");
	assert_int_equal(n_seen, 3);
	assert_int_equal(seen[0], STAGE_PREFLIGHT);
	assert_int_equal(seen[1], STAGE_CANARY);
	assert_int_equal(seen[2], STAGE_BATCHES);
	job_free(j);
}

/* Right after a restart, a target seen before that has not reconnected
 * holds every decision for one lost window. */
static void
test_a_restarted_coordinator_waits_for_reconnects(void **state)
{
	(void)state;
	world(2, 1);
	fake_hosts[1].seen_before = true;
	co.started_mono = clock_mono_ms();
	struct job *j = job_new((struct proto_policy){.batch = 2, .quorum_pct = 100}, false);

	rollout_step(&co, j);
	assert_int_equal(j->state, JOB_RUNNING);
	assert_int_equal(n_sent, 0);
	fake_hosts[1].status = HOST_ONLINE;
	rollout_step(&co, j);
	assert_string_equal(joined(), "h0:run h1:run");
	job_free(j);
}

/* Units: the targets of one deployment; h0+h1 and h3+h4 here. */
static void
deployments(struct job *j)
{
	j->hosts[1].unit = 0;
	j->hosts[4].unit = 3;
	jobstate_link_units(j);
	assert_int_equal(j->n_units, 3);
}

/* A deployment runs as one: all its nodes dispatched together, counted once
 * by the canary, the batch size and the budget. */
static void
test_a_deployment_is_one_unit(void **state)
{
	(void)state;
	world(5, 0);
	struct job *j = job_new((struct proto_policy){.canary = 1, .batch = 1, .budget = 1}, true);
	const size_t fail[] = {3, 4};

	deployments(j);
	rollout_step(&co, j);
	answer_all(j, JH_PREFLIGHT, NULL, 0);
	assert_string_equal(sent[n_sent - 2], "h0:run");
	assert_string_equal(sent[n_sent - 1], "h1:run");
	assert_string_equal(j->hosts[1].role, "canary");
	answer(j, 0, true);
	assert_int_equal(j->stage, STAGE_CANARY); /* h1 still runs */
	answer(j, 1, true);
	assert_string_equal(sent[n_sent - 1], "h2:run");
	answer(j, 2, true);
	assert_string_equal(sent[n_sent - 2], "h3:run");
	assert_string_equal(sent[n_sent - 1], "h4:run");
	assert_int_equal(j->hosts[4].batch, 2);
	answer_all(j, JH_RUNNING, fail, 2); /* two nodes of one deployment: one failure */
	assert_int_equal(j->state, JOB_FAILED);
	assert_non_null(strstr(j->message, "1 of 3 deployments failed (budget 1)"));
	job_free(j);
}

/* A deployment with a node not online is not touched at all, and counts as
 * one failure; the others go on. */
static void
test_a_deployment_with_a_node_down_is_not_touched(void **state)
{
	(void)state;
	world(5, 1); /* h4 is lost */
	struct job *j = job_new((struct proto_policy){.batch = 3, .budget = 1}, true);

	deployments(j);
	rollout_step(&co, j);
	assert_int_equal(j->hosts[3].state, JH_UNREACHABLE);
	assert_non_null(
	    strstr(j->hosts[3].message, "not touched: node h4 of its deployment is not online"));
	assert_string_equal(joined(), "h0:preflight h1:preflight h2:preflight");
	answer_all(j, JH_PREFLIGHT, NULL, 0);
	answer_all(j, JH_RUNNING, NULL, 0);
	assert_int_equal(j->state, JOB_FAILED);
	assert_non_null(strstr(j->message, "1 of 3 deployments failed (budget 1)"));
	assert_int_equal(j->counts[JH_SUCCEEDED], 3);
	job_free(j);
}

/* The quorum counts deployments: one with a node down is not online. */
static void
test_the_quorum_counts_deployments(void **state)
{
	(void)state;
	world(5, 1); /* h4 is lost: the deployment h3+h4 is not online */
	struct job *j = job_new((struct proto_policy){.batch = 3, .quorum_pct = 100}, true);

	deployments(j);
	rollout_step(&co, j);
	assert_int_equal(j->state, JOB_HALTED);
	assert_int_equal(n_sent, 0);
	assert_non_null(
	    strstr(j->message, "quorum not met: 2 of 3 deployments online, 100% (3) needed"));
	job_free(j);

	world(5, 1);
	j = job_new((struct proto_policy){.batch = 3, .budget = 1, .quorum_pct = 60},
	            true); /* 2 of 3 needed */
	deployments(j);
	rollout_step(&co, j);
	assert_int_equal(j->state, JOB_RUNNING);
	assert_string_equal(joined(), "h0:preflight h1:preflight h2:preflight");
	job_free(j);
}

/* A node of a deployment failing its preflight holds the whole deployment
 * back: its other node never runs. */
static void
test_a_failed_preflight_holds_its_deployment_back(void **state)
{
	(void)state;
	world(3, 0);
	struct job *j = job_new((struct proto_policy){.batch = 3, .budget = 1}, true);
	const size_t fail[] = {1};

	j->hosts[1].unit = 0;
	jobstate_link_units(j);
	rollout_step(&co, j);
	answer_all(j, JH_PREFLIGHT, fail, 1);
	assert_string_equal(sent[n_sent - 1], "h2:run");
	answer(j, 2, true);
	assert_int_equal(j->state, JOB_FAILED);
	assert_int_equal(j->hosts[0].state, JH_SKIPPED);
	assert_int_equal(j->hosts[1].state, JH_FAILED);
	job_free(j);
}

/* backup_on_peer: a deployment where one node has the backup runs (that
 * node restores for all); one where none has it fails its preflight before
 * anything is stopped, counted once; a single host without it likewise. */
static void
test_a_deployment_without_the_backup_fails_its_preflight(void **state)
{
	(void)state;
	world(5, 0);
	struct job *j = job_new((struct proto_policy){.batch = 3, .budget = 2}, true);

	deployments(j);      /* h0+h1, h2, h3+h4 */
	holds_backup[0] = 0; /* h1 holds it for h0+h1 */
	holds_backup[2] = 0; /* h2 alone: nobody */
	holds_backup[3] = holds_backup[4] = 0;
	rollout_step(&co, j);
	answer_all(j, JH_PREFLIGHT, NULL, 0);
	assert_int_equal(j->hosts[2].state, JH_FAILED);
	assert_string_equal(j->hosts[2].failed_step, "preflight");
	assert_string_equal(j->hosts[2].message,
	                    "no backup at /backups/odc 4.2.0 on this host; nothing was touched");
	assert_int_equal(j->hosts[3].state, JH_FAILED);
	assert_int_equal(j->hosts[4].state, JH_FAILED);
	assert_non_null(strstr(j->hosts[4].message,
	                       "no node of its deployment has a backup at /backups/odc 4.2.0"));
	assert_string_equal(
	    joined(),
	    "h0:preflight h1:preflight h2:preflight h3:preflight h4:preflight h0:run h1:run");
	answer_all(j, JH_RUNNING, NULL, 0);
	assert_int_equal(j->state, JOB_FAILED);
	assert_non_null(strstr(j->message, "2 of 3 deployments failed (budget 2)"));
	job_free(j);

	/* Over the budget: halted at the preflight, nothing run. */
	world(5, 0);
	j = job_new((struct proto_policy){.batch = 3, .budget = 0}, true);
	deployments(j);
	holds_backup[3] = holds_backup[4] = 0;
	holds_backup[2] = -1; /* said nothing (nothing to do, an older agent): no evidence */
	holds_backup[0] = -1, holds_backup[1] = 0;
	rollout_step(&co, j);
	answer_all(j, JH_PREFLIGHT, NULL, 0);
	assert_int_equal(j->state, JOB_HALTED);
	assert_int_equal(j->hosts[0].state, JH_SKIPPED);
	assert_int_equal(j->hosts[2].state, JH_SKIPPED);
	assert_non_null(strstr(j->message, "failure budget exceeded in preflight"));
	assert_string_equal(joined(),
	                    "h0:preflight h1:preflight h2:preflight h3:preflight h4:preflight");
	job_free(j);
}

/* ---- an upgrade's automatic revert ---- */

/* An upgrade job (a revert phase; it changes its hosts unless dry). */
static struct job *
upgrade_new(struct proto_policy p, bool dry_run)
{
	struct job *j = job_new(p, true);

	j->jm->u.job.action = "upgrade";
	j->changes = !dry_run;
	j->dry_run = dry_run;
	return j;
}

/* What a revert's final RESULT does (jobs_on_result), then the turn. */
static void
revert_answer(struct job *j, size_t i, bool ok)
{
	assert_int_equal(j->hosts[i].revert, PROTO_REVERT_RUNNING);
	if (ok)
		jobs_host_revert(&co, j, i, PROTO_REVERT_OK, "ODC is healthy at 4.2.0");
	else
		jobs_host_revert(&co, j, i, PROTO_REVERT_FAILED,
		                 "revert_restore failed: obloader exit 1");
	rollout_step(&co, j);
}

/* A canary that fails is sent its revert once its run is over; the job
 * halts only when it is back, and says so; nothing else ran. */
static void
test_a_failed_upgrade_canary_reverts_then_halts(void **state)
{
	(void)state;
	world(3, 0);
	struct job *j = upgrade_new((struct proto_policy){.canary = 1, .batch = 1}, false);

	rollout_step(&co, j);
	answer_all(j, JH_PREFLIGHT, NULL, 0);
	assert_string_equal(sent[n_sent - 1], "h0:run");
	answer(j, 0, false);
	assert_string_equal(sent[n_sent - 1], "h0:revert");
	assert_int_equal(j->hosts[0].revert, PROTO_REVERT_RUNNING);
	assert_int_equal(j->state, JOB_RUNNING); /* halts once it is back */
	assert_false(j->done);
	rollout_step(&co, j);
	assert_string_equal(sent[n_sent - 1], "h0:revert"); /* sent once */
	revert_answer(j, 0, true);
	assert_int_equal(j->state, JOB_HALTED);
	assert_non_null(strstr(j->message, "canary h0 failed at restore: the restore failed; "
	                                   "reverted by itself: ODC is healthy at 4.2.0"));
	assert_int_equal(j->counts[JH_SKIPPED], 2);
	assert_string_equal(joined(), "h0:preflight h1:preflight h2:preflight h0:run h0:revert");
	assert_true(j->done);
	job_free(j);
}

/* A deployment fails as one and goes back as one: every node that ran is
 * reverted, also the one whose own run succeeded, once all have ended. */
static void
test_every_node_of_a_failed_deployment_is_reverted(void **state)
{
	(void)state;
	world(5, 0);
	struct job *j = upgrade_new((struct proto_policy){.canary = 1, .batch = 1}, false);

	deployments(j); /* h0+h1, h2, h3+h4 */
	rollout_step(&co, j);
	answer_all(j, JH_PREFLIGHT, NULL, 0);
	answer(j, 1, false);
	assert_int_equal(j->hosts[0].revert, PROTO_REVERT_NONE); /* h0 still runs */
	assert_string_equal(sent[n_sent - 1], "h1:run");
	answer(j, 0, true);
	assert_string_equal(sent[n_sent - 2], "h0:revert");
	assert_string_equal(sent[n_sent - 1], "h1:revert");
	revert_answer(j, 1, true);
	assert_int_equal(j->state, JOB_RUNNING);
	revert_answer(j, 0, true);
	assert_int_equal(j->state, JOB_HALTED);
	assert_non_null(strstr(j->message, "reverted by itself: its 2 nodes are back"));
	assert_int_equal(j->hosts[0].state, JH_SUCCEEDED); /* its own run did succeed */
	assert_int_equal(j->hosts[2].state, JH_SKIPPED);
	job_free(j);
}

/* A revert that fails is said in the job's message with the way back. */
static void
test_a_failed_revert_is_said_with_the_way_back(void **state)
{
	(void)state;
	world(2, 0);
	struct job *j = upgrade_new((struct proto_policy){.canary = 1, .batch = 1}, false);

	rollout_step(&co, j);
	answer_all(j, JH_PREFLIGHT, NULL, 0);
	answer(j, 0, false);
	revert_answer(j, 0, false);
	assert_int_equal(j->state, JOB_HALTED);
	assert_non_null(strstr(j->message, "its revert FAILED on h0: revert_restore failed: "
	                                   "obloader exit 1 (that deployment is not back"));
	job_free(j);
}

/* Within the budget, the next batch waits for the failed one's revert; the
 * job fails at the end, counting what went back. A node offline when its
 * revert is due is waited for one lost window, then said not reverted. */
static void
test_within_the_budget_the_batches_wait_for_the_revert(void **state)
{
	(void)state;
	world(3, 0);
	struct job *j = upgrade_new((struct proto_policy){.batch = 1, .budget = 1}, false);

	rollout_step(&co, j);
	answer_all(j, JH_PREFLIGHT, NULL, 0);
	assert_string_equal(sent[n_sent - 1], "h0:run");
	answer(j, 0, false);
	assert_string_equal(sent[n_sent - 1], "h0:revert");
	rollout_step(&co, j);
	assert_string_equal(sent[n_sent - 1], "h0:revert"); /* h1 waits */
	revert_answer(j, 0, true);
	assert_string_equal(sent[n_sent - 1], "h1:run");
	fake_hosts[1].status = HOST_LOST;
	answer(j, 1, false);
	assert_int_equal(j->hosts[1].revert, PROTO_REVERT_DUE); /* waits for it */
	assert_int_equal(j->state, JOB_RUNNING);
	j->hosts[1].revert_due_mono = clock_mono_ms() - registry_lost_window_ms(&co) - 1;
	rollout_step(&co, j);
	assert_int_equal(j->hosts[1].revert, PROTO_REVERT_FAILED);
	assert_non_null(strstr(j->hosts[1].revert_message, "not online when its revert was due"));
	assert_non_null(strstr(j->hosts[1].revert_message,
	                       "`odc-agent run undo --of job-1` on it puts it back"));
	assert_int_equal(j->state, JOB_HALTED); /* two failures, budget 1 */
	assert_non_null(strstr(j->message, "2 failed, budget 1; not back: h1 failed at restore"));
	assert_non_null(strstr(j->message, "its revert FAILED on h1"));
	job_free(j);

	world(3, 0);
	j = upgrade_new((struct proto_policy){.batch = 1, .budget = 1}, false);
	rollout_step(&co, j);
	answer_all(j, JH_PREFLIGHT, NULL, 0);
	answer(j, 0, false);
	revert_answer(j, 0, true);
	answer(j, 1, true);
	answer(j, 2, true);
	assert_int_equal(j->state, JOB_FAILED);
	assert_non_null(strstr(
	    j->message, "1 of 3 targets failed (budget 1): 1 reverted by themselves, 0 not"));
	job_free(j);
}

/* Aborted while its canary runs: the canary that then fails is still put
 * back, and the job leaves memory only after. A restart mid-revert sends
 * nothing twice: the agent is asked again at its HELLO. A dry run, a node
 * never sent its run, and a node that never answered it get no revert. */
static void
test_an_aborted_or_restarted_upgrade_still_reverts(void **state)
{
	char err[256];

	(void)state;
	world(3, 0);
	struct job *j = upgrade_new((struct proto_policy){.canary = 1, .batch = 1}, false);

	rollout_step(&co, j);
	answer_all(j, JH_PREFLIGHT, NULL, 0);
	assert_int_equal(rollout_abort(&co, j, "bob", err, sizeof(err)), 0);
	assert_non_null(strstr(j->message, "a deployment that fails is still reverted"));
	answer(j, 0, false);
	assert_string_equal(sent[n_sent - 1], "h0:revert");
	assert_false(j->done);
	j = restart(j);
	rollout_step(&co, j);
	assert_string_equal(sent[n_sent - 1], "h0:revert"); /* not sent again here */
	assert_int_equal(j->hosts[0].revert, PROTO_REVERT_RUNNING);
	revert_answer(j, 0, true);
	assert_int_equal(j->state, JOB_ABORTED);
	assert_true(j->done);
	job_free(j);

	world(2, 0);
	j = upgrade_new((struct proto_policy){.canary = 1, .batch = 1, .budget = 2}, true);
	rollout_step(&co, j);
	answer_all(j, JH_PREFLIGHT, NULL, 0);
	answer(j, 0, false);
	assert_int_equal(j->state, JOB_HALTED);
	assert_int_equal(j->hosts[0].revert, PROTO_REVERT_NONE);
	assert_string_equal(joined(), "h0:preflight h1:preflight h0:run");
	job_free(j);

	world(2, 0);
	j = upgrade_new((struct proto_policy){.batch = 2}, false);
	j->hosts[1].unit = 0;
	jobstate_link_units(j);
	rollout_step(&co, j);
	answer_all(j, JH_PREFLIGHT, NULL, 0);
	jobs_host_set(&co, j, 1, JH_UNREACHABLE, "dispatch", "no answer to the run dispatch");
	answer(j, 0, false);
	assert_string_equal(sent[n_sent - 1], "h0:revert");
	assert_int_equal(j->hosts[1].revert, PROTO_REVERT_FAILED);
	assert_non_null(strstr(j->hosts[1].revert_message, "never answered its run dispatch"));
	job_free(j);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_preflight_everywhere_then_canary_then_batches),
	    cmocka_unit_test(test_quorum_missed_sends_nothing),
	    cmocka_unit_test(test_a_failing_canary_halts_and_skips_the_rest),
	    cmocka_unit_test(test_the_failure_budget_halts_between_batches),
	    cmocka_unit_test(test_an_offline_host_is_unreachable_when_its_turn_comes),
	    cmocka_unit_test(test_pause_resume_abort),
	    cmocka_unit_test(test_a_restart_in_every_stage_changes_nothing),
	    cmocka_unit_test(test_a_restarted_coordinator_waits_for_reconnects),
	    cmocka_unit_test(test_a_deployment_is_one_unit),
	    cmocka_unit_test(test_a_deployment_with_a_node_down_is_not_touched),
	    cmocka_unit_test(test_a_failed_preflight_holds_its_deployment_back),
	    cmocka_unit_test(test_the_quorum_counts_deployments),
	    cmocka_unit_test(test_a_deployment_without_the_backup_fails_its_preflight),
	    cmocka_unit_test(test_a_failed_upgrade_canary_reverts_then_halts),
	    cmocka_unit_test(test_every_node_of_a_failed_deployment_is_reverted),
	    cmocka_unit_test(test_a_failed_revert_is_said_with_the_way_back),
	    cmocka_unit_test(test_within_the_budget_the_batches_wait_for_the_revert),
	    cmocka_unit_test(test_an_aborted_or_restarted_upgrade_still_reverts),
	};

	log_init("test_rollout", LOG_LVL_ERR, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
