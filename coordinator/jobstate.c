/* The states of a job and of each of its hosts: their names (the store's
 * and the control socket's words, PROTOCOL.md 9.1) and which are final.
 * Shared by jobs.c, rollout.c and everything that shows a job, so that
 * none of them needs the others for a name. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/coord.h"

static const char *const host_names[JH_COUNT] = {
    "pending", "preflight", "ready", "running", "succeeded", "failed", "skipped", "unreachable"};
static const char *const state_names[] = {"running", "paused", "succeeded",
                                          "failed",  "halted", "aborted"};
static const char *const stage_names[] = {"quorum", "preflight", "canary", "batches", "done"};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static int
index_of(const char *const *names, size_t n, const char *s)
{
	for (size_t i = 0; s != NULL && i < n; i++)
		if (strcmp(names[i], s) == 0)
			return (int)i;
	return -1;
}

const char *
jobstate_name(enum job_state s)
{
	return (unsigned)s < COUNT(state_names) ? state_names[s] : "?";
}

const char *
jobstate_stage_name(enum job_stage s)
{
	return (unsigned)s < COUNT(stage_names) ? stage_names[s] : "?";
}

const char *
jobstate_host_name(enum jh_state s)
{
	return (unsigned)s < JH_COUNT ? host_names[s] : "?";
}

int
jobstate_from_name(const char *s)
{
	return index_of(state_names, COUNT(state_names), s);
}

int
jobstate_stage_from_name(const char *s)
{
	return index_of(stage_names, COUNT(stage_names), s);
}

int
jobstate_host_from_name(const char *s)
{
	return index_of(host_names, JH_COUNT, s);
}

bool
jobstate_final(enum job_state s)
{
	return s != JOB_RUNNING && s != JOB_PAUSED;
}

bool
jobstate_host_final(enum jh_state s)
{
	return s == JH_SUCCEEDED || s == JH_FAILED || s == JH_SKIPPED || s == JH_UNREACHABLE;
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
