/* The coordinator's side of a job's states: proto's words and finality
 * (proto/states.c, PROTOCOL.md 9.1) for the coordinator's enums, and the
 * rollout units of a job's targets. Shared by jobs.c, rollout.c and
 * everything that shows a job, so that none of them needs the others. */
#include <stdint.h>
#include <stdlib.h>

#include "coordinator/coord.h"

_Static_assert(JH_COUNT == PROTO_HOST_STATES, "a target's states are proto's");

/* A word, or "?" for a value that has none (a damaged value never prints
 * as NULL). */
static const char *
or_unknown(const char *name)
{
	return name != NULL ? name : "?";
}

const char *
jobstate_name(enum job_state s)
{
	return or_unknown(proto_job_state_name((int)s));
}

const char *
jobstate_stage_name(enum job_stage s)
{
	return or_unknown(proto_job_stage_name((int)s));
}

const char *
jobstate_host_name(enum jh_state s)
{
	return or_unknown(proto_host_state_name((int)s));
}

int
jobstate_from_name(const char *s)
{
	return proto_job_state_from_name(s);
}

int
jobstate_stage_from_name(const char *s)
{
	return proto_job_stage_from_name(s);
}

int
jobstate_host_from_name(const char *s)
{
	return proto_host_state_from_name(s);
}

bool
jobstate_final(enum job_state s)
{
	return proto_job_state_final((int)s);
}

bool
jobstate_host_final(enum jh_state s)
{
	return proto_host_state_final((int)s);
}

bool
jobstate_host_busy(const struct job_host *jh)
{
	return !jobstate_host_final(jh->state) || jh->revert == PROTO_REVERT_DUE ||
	       jh->revert == PROTO_REVERT_RUNNING;
}

const char *
jobstate_revert_name(enum proto_revert r)
{
	return or_unknown(proto_revert_name((int)r));
}

void
jobstate_link_units(struct job *j)
{
	size_t *tail = malloc((j->n ? j->n : 1) * sizeof(*tail));

	j->n_units = 0;
	for (size_t i = 0; i < j->n; i++) {
		struct job_host *jh = &j->hosts[i];
		/* A unit names its first target, which names itself; anything
		 * else (a damaged row) stands alone. */
		if (tail == NULL || jh->unit > i || j->hosts[jh->unit].unit != jh->unit)
			jh->unit = i;
		jh->unit_next = SIZE_MAX;
		if (jh->unit == i) {
			j->n_units++;
			if (tail != NULL)
				tail[i] = i;
		} else {
			j->hosts[tail[jh->unit]].unit_next = i;
			tail[jh->unit] = i;
		}
	}
	free(tail);
}
