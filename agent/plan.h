/* The agent's fixed table of actions and the rollback plan:
 * preflight -> stop -> snapshot -> restore -> start -> health, each step
 * journaled before and after it runs and safe to run twice, so that an
 * interrupted plan can be resumed or reported exactly. */
#ifndef ODC_AGENT_PLAN_H
#define ODC_AGENT_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/agent.h"
#include "agent/journal.h"
#include "proto/proto.h"

/* Where a plan reports. The RESULT-shaped record is what the daemon signs
 * and sends and what local mode prints; it points into memory that lives
 * only during the call. */
struct plan_out {
	void (*started)(void *ctx, const char *job, const char *step);
	void (*note)(void *ctx, const char *job, const char *step, const char *message);
	void (*result)(void *ctx, const struct proto_result *r);
	void *ctx;
};

/* The facts of an action's revert phase (the undo of the job itself) are
 * recorded apart from the job's, under the job's id and this suffix: its
 * steps read the run phase's facts and must not overwrite them. */
#define PLAN_REVERT_FACTS ".revert"

struct plan_request {
	const char *job_id;
	const char *action;
	const struct proto_kv *params;
	size_t n_params;
	const char *phase;    /* "run" or "preflight" */
	uint64_t deadline_ms; /* epoch ms; 0: now + [deadlines] job */
};

/* Run one action. Returns 0 when it succeeded (for a rollback: ODC healthy
 * at the target version), 1 when it failed or was refused (a result says
 * where and why), -1 when the agent itself could not work (journal,
 * config; message in err). */
int plan_execute(const struct agent_conf *c, struct journal *j, const struct plan_request *rq,
                 const struct plan_out *out, char *err, size_t errlen);

/* The actions of proto's table this agent has a plan for, in the table's
 * order (HELLO's capabilities): at most max names (static strings) in out.
 * Returns how many. */
size_t plan_actions(const char **out, size_t max);

/* Whether another process (a local `odc-agent run`) holds the agent's plan
 * lock: 1 with why (naming the lock), else 0. The daemon asks before it
 * accepts a dispatch, so that it can refuse it BUSY at once. */
int plan_busy(const struct agent_conf *c, char *why, size_t whylen);

/* A refusal because the plan lock is held (why, from plan_busy or the lock
 * itself), naming the plan that holds it as j records it: "busy: job J
 * (ACTION, phase P) runs on this host; WHY". */
void plan_busy_describe(struct journal *j, const char *why, char *out, size_t outlen);

/* After a restart: the plan left running in the journal, if any, is resumed
 * from its interrupted step when its deadline has not passed, or closed as
 * interrupted with a final result naming that step. The job id goes to
 * job. Returns 2 when there was nothing to resume, else as plan_execute. */
int plan_resume(const struct agent_conf *c, struct journal *j, const struct plan_out *out,
                char job[65], char *err, size_t errlen);

#endif
