/* The states of a job, its stage and its targets (PROTOCOL.md 9.1): the
 * words the coordinator stores and the control socket sends, which odcctl
 * reads back, and which of them are final. */
#include <string.h>

#include "proto/internal.h"

static const char *const job_states[PROTO_JOB_STATES] = {"running", "paused", "succeeded",
                                                         "failed",  "halted", "aborted"};
static const char *const job_stages[PROTO_JOB_STAGES] = {"quorum", "preflight", "canary", "batches",
                                                         "done"};
static const char *const host_states[PROTO_HOST_STATES] = {
    "pending", "preflight", "ready", "running", "succeeded", "failed", "skipped", "unreachable"};
static const char *const reverts[PROTO_REVERTS] = {"", "due", "running", "ok", "failed"};

static const char *
name_of(const char *const *names, int n, int v)
{
	return v >= 0 && v < n ? names[v] : NULL;
}

static int
value_of(const char *const *names, int n, const char *name)
{
	for (int i = 0; name != NULL && i < n; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return -1;
}

const char *
proto_job_state_name(int s)
{
	return name_of(job_states, PROTO_JOB_STATES, s);
}

const char *
proto_job_stage_name(int s)
{
	return name_of(job_stages, PROTO_JOB_STAGES, s);
}

const char *
proto_host_state_name(int s)
{
	return name_of(host_states, PROTO_HOST_STATES, s);
}

int
proto_job_state_from_name(const char *name)
{
	return value_of(job_states, PROTO_JOB_STATES, name);
}

int
proto_job_stage_from_name(const char *name)
{
	return value_of(job_stages, PROTO_JOB_STAGES, name);
}

int
proto_host_state_from_name(const char *name)
{
	return value_of(host_states, PROTO_HOST_STATES, name);
}

bool
proto_job_state_final(int s)
{
	return s == PROTO_JOB_SUCCEEDED || s == PROTO_JOB_FAILED || s == PROTO_JOB_HALTED ||
	       s == PROTO_JOB_ABORTED;
}

bool
proto_host_state_final(int s)
{
	return s == PROTO_HOST_SUCCEEDED || s == PROTO_HOST_FAILED || s == PROTO_HOST_SKIPPED ||
	       s == PROTO_HOST_UNREACHABLE;
}

bool
proto_host_state_failed(int s)
{
	return s == PROTO_HOST_FAILED || s == PROTO_HOST_UNREACHABLE;
}

const char *
proto_revert_name(int s)
{
	return name_of(reverts, PROTO_REVERTS, s);
}

int
proto_revert_from_name(const char *name)
{
	return value_of(reverts, PROTO_REVERTS, name);
}
