/* The plan engine: an action's steps, from its plan's table, run in order,
 * each journaled before and after it runs; a plan stops at its first failed
 * step, resumes after a restart from its interrupted step, and reports every
 * step as a RESULT. The plans themselves are plan-rollback.c (with
 * plan-snapshot.c), plan-undo.c and plan-actions.c; the helpers their steps
 * share are plan-run.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "agent/plan-int.h"
#include "common/clock.h"
#include "common/log.h"

/* Every plan, by the file that holds it. */
static const struct plan_def *const plan_tables[] = {plan_rollback_plans, plan_upgrade_plans,
                                                     plan_undo_plans, plan_action_plans};

/* The steps of an action in a phase, copied into out (room for 8): their
 * names may change (name_steps). Returns how many; 0 for no such action. */
static size_t
steps_of(const char *action, const char *phase, bool dry_run, struct plan_step *out)
{
	bool pre = strcmp(phase, "preflight") == 0, revert = strcmp(phase, "revert") == 0;

	for (size_t t = 0; t < sizeof(plan_tables) / sizeof(plan_tables[0]); t++)
		for (const struct plan_def *p = plan_tables[t]; p->action != NULL; p++) {
			if (strcmp(p->action, action) != 0)
				continue;
			const struct plan_step *steps = pre      ? p->check
			                                : revert ? p->revert
			                                         : p->steps;
			size_t n = pre                       ? p->n_check
			           : revert                  ? p->n_revert
			           : dry_run && p->dry_first ? 1
			                                     : p->n_steps;
			for (size_t i = 0; i < n; i++)
				out[i] = steps[i];
			return n;
		}
	return 0;
}

size_t
plan_actions(const char **out, size_t max)
{
	struct plan_step steps[8];
	size_t n = 0;

	for (size_t i = 0; i < proto_action_count() && n < max; i++)
		if (steps_of(proto_action_name(i), "run", false, steps) > 0)
			out[n++] = proto_action_name(i);
	return n;
}

/* Results are keyed by (job, host, step): when a job's preflight phase ran
 * first, the run phase's own check is reported as "recheck", not as a second
 * "preflight"; a revert phase's steps (the undo's) are "revert_stop" and so
 * on, not the run phase's "stop" again. */
static void
name_steps(struct plan_run *r, struct plan_step *steps, size_t n)
{
	struct journal_plan p = {0};
	char err[128];

	for (size_t i = 0; i < n; i++)
		steps[i].name = plan_step_name(r, steps[i].name);
	if (n > 0 && strcmp(r->phase, "run") == 0 && strcmp(steps[0].name, "preflight") == 0 &&
	    journal_plan_get(r->j, r->job, "preflight", &p, err, sizeof(err)) == 0)
		steps[0].name = "recheck";
	journal_plan_clear(&p);
}

/* The string members of the JSON object o (NULL: none) as key-value pairs
 * into kv, the first 32 of them; they point into o. Returns how many. */
static size_t
kv_of_json(json_t *o, struct proto_kv kv[32])
{
	size_t n = 0;
	const char *k;
	json_t *v;

	json_object_foreach(o, k, v)
	{
		if (n < 32 && json_is_string(v))
			kv[n++] = (struct proto_kv){k, json_string_value(v)};
	}
	return n;
}

/* One RESULT to plan_out's result, when it is set. */
static void
emit(struct plan_run *r, const char *step, const char *status, int64_t exit_code,
     uint64_t started_ms, uint64_t duration_ms, const char *message, const char *tail, json_t *data,
     bool final)
{
	struct proto_kv kv[32];
	size_t n;

	if (r->out == NULL || r->out->result == NULL)
		return;
	n = kv_of_json(data, kv);
	struct proto_result res = {r->job,     r->c->host_id, step,    status, exit_code,
	                           started_ms, duration_ms,   message, tail,   kv,
	                           n,          final,         {0}};
	r->out->result(r->out->ctx, &res);
}

/* Testing knob: ODC_AGENT_TEST_STEP_DELAY_MS pauses after a step's start is
 * journaled, so tests can kill the agent inside any step deterministically
 * (README, "Testing"); ODC_AGENT_TEST_STEP_DELAY_STEPS, a comma-separated
 * list of step names, limits the pause to those steps. Unset in
 * production; it changes nothing else. */
static void
test_pause(const char *step)
{
	const char *v = getenv("ODC_AGENT_TEST_STEP_DELAY_MS"),
	           *only = getenv("ODC_AGENT_TEST_STEP_DELAY_STEPS");
	char *end;
	unsigned long ms;

	if (v == NULL || *v == '\0')
		return;
	if (only != NULL && *only != '\0') {
		size_t n = strlen(step);
		const char *p = only;
		bool listed = false;
		while (!listed && p != NULL) {
			listed = strncmp(p, step, n) == 0 && (p[n] == ',' || p[n] == '\0');
			p = strchr(p, ',');
			p = p != NULL ? p + 1 : NULL;
		}
		if (!listed)
			return;
	}
	ms = strtoul(v, &end, 10);
	if (*end != '\0' || ms == 0 || ms > 600000)
		return;
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Run or skip one step; returns 0 when the plan may go on. */
static int
do_step(struct plan_run *r, const struct plan_step *sd, bool last, char *err, size_t errlen)
{
	struct journal_step prev = {0};
	struct plan_res s = {.data = json_object()};
	uint64_t started = proto_now_ms(), t0 = clock_mono_ms();
	int ret = -1;

	if (journal_step_get(r->j, r->job, r->phase, sd->name, &prev, err, errlen) == 0 &&
	    (strcmp(prev.status, "ok") == 0 || strcmp(prev.status, "skipped") == 0)) {
		plan_note(r, sd->name, "done before (%s): %s", prev.status, prev.message);
		ret = 0;
		goto out;
	}
	if (proto_now_ms() > r->deadline_ms) {
		plan_say(&s, "failed", "the job's deadline passed before this step");
	} else {
		if (journal_step_begin(r->j, r->job, r->phase, sd->name, started, err, errlen) != 0)
			goto out;
		if (r->out && r->out->started)
			r->out->started(r->out->ctx, r->job, sd->name);
		test_pause(sd->name);
		sd->run(r, &s);
		if (s.status == NULL)
			plan_say(&s, "failed",
			         "step ended without a verdict"); /* a bug, said plainly */
		if (sd->failed != NULL && strcmp(s.status, "failed") == 0)
			sd->failed(r, &s);
	}
	uint64_t dur = clock_mono_ms() - t0;
	char *data = json_dumps(s.data, JSON_COMPACT | JSON_SORT_KEYS);
	if (journal_step_end(r->j, r->job, r->phase, sd->name, s.status, s.exit_code, dur,
	                     s.message, s.tail, data, err, errlen) != 0) {
		free(data);
		goto out;
	}
	free(data);
	bool ok = strcmp(s.status, "failed") != 0;
	emit(r, sd->name, s.status, s.exit_code, started, dur, s.message, s.tail, s.data,
	     last || !ok || r->done);
	ret = ok ? 0 : 1;
out:
	journal_step_clear(&prev);
	json_decref(s.data);
	return ret;
}

/* The agent runs one plan at a time: an exclusive lock on state_dir/agent.lock. */
static int
lock_state(const struct agent_conf *c, char *err, size_t errlen)
{
	char path[4200];
	int fd;

	snprintf(path, sizeof(path), "%s/agent.lock", c->state_dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		snprintf(err, errlen, "another odc-agent plan holds %s", path);
		close(fd);
		return -2;
	}
	return fd;
}

int
plan_busy(const struct agent_conf *c, char *why, size_t whylen)
{
	char err[512];
	int fd = lock_state(c, err, sizeof(err));

	if (fd >= 0) {
		close(fd);
		return 0;
	}
	if (fd == -2)
		snprintf(why, whylen, "%s", err);
	return fd == -2;
}

/* Refused before its first step: whoever asked still gets a final result
 * that says why (a coordinator would otherwise wait for one until its step
 * deadline). */
void
plan_busy_describe(struct journal *j, const char *why, char *out, size_t outlen)
{
	struct journal_plan up = {0};
	char jerr[128];

	if (journal_plan_unfinished(j, &up, jerr, sizeof(jerr)) == 0)
		snprintf(out, outlen, "busy: job %s (%s, phase %s) runs on this host; %s",
		         up.job_id, up.action, up.phase, why);
	else
		snprintf(out, outlen, "busy: %s", why);
	journal_plan_clear(&up);
}

static void
refuse_plan(struct plan_run *r, const struct plan_step *first, const char *why)
{
	json_t *data = json_object();

	emit(r, first->name, "failed", 0, proto_now_ms(), 0, why, "", data, true);
	json_decref(data);
}

static char *
params_json(const struct proto_kv *p, size_t n)
{
	json_t *o = json_object();
	char *s;

	for (size_t i = 0; i < n; i++)
		json_object_set_new(o, p[i].key, json_string(p[i].value));
	s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	return s;
}

/* Where the time went: the agent's own work is what is left once Docker,
 * the loaders, the metadb and the health gate are taken out. */
static void
note_timing(struct plan_run *r, uint64_t t_start)
{
	uint64_t total = clock_mono_ms() - t_start, dk = docker_waited_ms(r->d);
	uint64_t ext = dk + r->wait_loader_ms + r->wait_metadb_ms + r->wait_health_ms;
	plan_note(r, "timing",
	          "total %llu ms: Docker %llu, loaders %llu, metadb %llu, health gate %llu; the "
	          "agent's own work %llu ms",
	          (unsigned long long)total, (unsigned long long)dk,
	          (unsigned long long)r->wait_loader_ms, (unsigned long long)r->wait_metadb_ms,
	          (unsigned long long)r->wait_health_ms,
	          (unsigned long long)(total > ext ? total - ext : 0));
}

int
plan_execute(const struct agent_conf *c, struct journal *j, const struct plan_request *rq,
             const struct plan_out *out, char *err, size_t errlen)
{
	struct plan_step steps[8];
	struct journal_plan p = {0};
	struct proto_error perr;
	const char *dry = proto_param(rq->params, rq->n_params, "dry_run");
	bool dry_run = dry != NULL && strcmp(dry, "true") == 0;
	char *pj = NULL;
	size_t n;
	int lockfd = -1, ret = -1, rc;
	char facts[96];
	struct plan_run r = {.c = c,
	                     .j = j,
	                     .out = out,
	                     .job = rq->job_id,
	                     .facts = facts,
	                     .phase = rq->phase,
	                     .action = rq->action,
	                     .params = rq->params,
	                     .n_params = rq->n_params};

	if (proto_action_check(rq->action, rq->phase, rq->params, rq->n_params, &perr) !=
	    PROTO_OK) {
		snprintf(err, errlen, "%s", perr.msg);
		return 1;
	}
	/* A revert's undo steps keep their own facts apart from the run
	 * phase's, which they read (plan.h, plan-int.h). */
	snprintf(facts, sizeof(facts), "%s%s", rq->job_id,
	         strcmp(rq->phase, "revert") == 0 ? PLAN_REVERT_FACTS : "");
	uint64_t t_start = clock_mono_ms();
	n = steps_of(rq->action, rq->phase, dry_run, steps);
	name_steps(&r, steps, n);
	lockfd = lock_state(c, err, errlen);
	if (lockfd == -2) {
		char why[512];
		snprintf(why, sizeof(why), "%s", err);
		plan_busy_describe(j, why, err, errlen);
		if (n > 0)
			refuse_plan(&r, &steps[0], err);
	}
	if (lockfd < 0)
		return lockfd == -2 ? 1 : -1;
	r.deadline_ms = rq->deadline_ms ? rq->deadline_ms : proto_now_ms() + c->job_deadline_ms;
	pj = params_json(rq->params, rq->n_params);
	rc = journal_plan_begin(j, rq->job_id, rq->action, rq->phase, pj ? pj : "{}",
	                        proto_now_ms(), r.deadline_ms, err, errlen);
	if (rc < 0)
		goto out;
	if (rc == 1) {
		/* Known job and phase: finished ones are reported, not rerun. */
		if (journal_plan_get(j, rq->job_id, rq->phase, &p, err, errlen) != 0)
			goto out;
		if (strcmp(p.action, rq->action) != 0 || strcmp(p.params, pj ? pj : "{}") != 0) {
			snprintf(err, errlen, "job %s was recorded with other parameters; refusing",
			         rq->job_id);
			if (n > 0)
				refuse_plan(&r, &steps[0], err);
			ret = 1;
			goto out;
		}
		r.deadline_ms = p.deadline_ms;
		if (strcmp(p.state, "running") != 0) {
			snprintf(err, errlen, "job %s (%s) already ended: %s", rq->job_id,
			         rq->phase, p.state);
			ret = strcmp(p.state, "succeeded") == 0 ? 0 : 1;
			goto out;
		}
	}
	ret = 0;
	for (size_t i = 0; i < n && ret == 0 && !r.done; i++) {
		ret = do_step(&r, &steps[i], i + 1 == n, err, errlen);
		if (ret < 0)
			goto out;
	}
	/* A plan that ends (or breaks off) between its snapshot and the end of
	 * its restore holds the guard still. */
	plan_guard_release(&r, NULL, NULL);
	if (journal_plan_finish(j, rq->job_id, rq->phase, ret == 0 ? "succeeded" : "failed",
	                        proto_now_ms(), err, errlen) != 0)
		ret = -1;
	note_timing(&r, t_start);
out:
	plan_guard_release(&r, NULL, NULL);
	journal_plan_clear(&p);
	free(pj);
	docker_free(r.d);
	agent_secret_free(r.password);
	if (lockfd >= 0)
		close(lockfd);
	return ret;
}

int
plan_resume(const struct agent_conf *c, struct journal *j, const struct plan_out *out, char job[65],
            char *err, size_t errlen)
{
	struct journal_plan p = {0};
	struct proto_kv kv[32];
	size_t n;
	json_t *params = NULL;
	json_error_t je;
	int rc, ret;

	job[0] = '\0';
	rc = journal_plan_unfinished(j, &p, err, errlen);
	if (rc != 0)
		return rc == 1 ? 2 : -1;
	snprintf(job, 65, "%s", p.job_id);
	params = json_loads(p.params, 0, &je);
	n = kv_of_json(params, kv);
	if (proto_now_ms() > p.deadline_ms) {
		/* Too late to go on: say exactly where it stopped. */
		struct plan_step steps[8];
		size_t ns = steps_of(p.action, p.phase, false, steps);
		const char *where = "before its first step";
		char facts[96];
		snprintf(facts, sizeof(facts), "%s%s", p.job_id,
		         strcmp(p.phase, "revert") == 0 ? PLAN_REVERT_FACTS : "");
		struct plan_run r = {
		    .c = c, .j = j, .out = out, .job = p.job_id, .facts = facts, .phase = p.phase};
		name_steps(&r, steps, ns);
		for (size_t i = 0; i < ns; i++) {
			struct journal_step s = {0};
			if (journal_step_get(j, p.job_id, p.phase, steps[i].name, &s, err,
			                     errlen) == 0 &&
			    strcmp(s.status, "running") == 0) {
				where = steps[i].name;
				journal_step_end(j, p.job_id, p.phase, where, "interrupted", 0, 0,
				                 "interrupted: the agent stopped during this step",
				                 "", "{}", err, errlen);
				journal_step_clear(&s);
				break;
			}
			journal_step_clear(&s);
		}
		char msg[256];
		snprintf(msg, sizeof(msg),
		         "job %s was interrupted %s%s and its deadline has passed; not resumed",
		         p.job_id, strcmp(where, "before its first step") == 0 ? "" : "during ",
		         where);
		/* A plan cut off for good between its snapshot and the end of its
		 * restore: its guard goes (the metadb is what it left; the way
		 * back, an undo, takes the guard itself). */
		if (proto_action_by_deployment(p.action)) {
			r.guarded = true; /* released only if this host holds it for this job */
			plan_guard_release(&r, NULL, NULL);
			agent_secret_free(r.password);
		}
		json_t *data = json_pack("{s:s}", "interrupted_step", where);
		emit(&r, strcmp(where, "before its first step") == 0 ? steps[0].name : where,
		     "interrupted", 0, proto_now_ms(), 0, msg, "", data, true);
		json_decref(data);
		journal_plan_finish(j, p.job_id, p.phase, "interrupted", proto_now_ms(), err,
		                    errlen);
		snprintf(err, errlen, "%s", msg);
		ret = 1;
	} else {
		struct plan_request rq = {p.job_id, p.action, kv, n, p.phase, p.deadline_ms};
		log_info("resuming job %s (%s, phase %s)", p.job_id, p.action, p.phase);
		ret = plan_execute(c, j, &rq, out, err, errlen);
	}
	json_decref(params);
	journal_plan_clear(&p);
	return ret;
}
