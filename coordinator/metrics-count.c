/* The coordinator's counters (co->stats), bumped by the modules that see
 * the events: plain integers and duration histograms, read by the
 * exposition (metrics-text.c). The lowest layer of the metrics: it calls
 * nothing of the coordinator's. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "coordinator/coord.h"

void
metrics_count_received(struct coord *co, int type)
{
	if (type >= 0 && type < COORD_TYPE_SLOTS)
		co->stats.received[type]++;
}

void
metrics_count_sent(struct coord *co, int type, bool sent)
{
	if (type >= 0 && type < COORD_TYPE_SLOTS) {
		if (sent)
			co->stats.sent[type]++;
		else
			co->stats.unsent[type]++;
	}
}

void
metrics_count_rejected(struct coord *co, enum coord_sock sock, int reason)
{
	if ((unsigned)sock < COORD_SOCK_COUNT && reason > 0 && reason < COORD_REJECT_SLOTS)
		co->stats.rejected[sock][reason]++;
}

void
metrics_count_refused(struct coord *co, enum coord_sock sock, enum coord_refusal why)
{
	if ((unsigned)sock < COORD_SOCK_COUNT && (unsigned)why < COORD_REFUSED_COUNT)
		co->stats.refused[sock][why]++;
}

/* The upper bounds of the duration histograms' buckets, in milliseconds:
 * a ping takes a second, a rollback's restore can take hours. */
const uint64_t metrics_hist_bounds_ms[COORD_HIST_BUCKETS] = {
    1000,   5000,   15000,   30000,   60000,   120000,   300000,
    600000, 900000, 1800000, 3600000, 7200000, 14400000, 28800000};

static void
hist_observe(struct coord_hist *h, uint64_t ms)
{
	size_t b = 0;

	while (b < COORD_HIST_BUCKETS && ms > metrics_hist_bounds_ms[b])
		b++;
	h->bucket[b]++;
	h->sum_ms += ms;
	h->count++;
}

void
metrics_job_ended(struct coord *co, const struct job *j)
{
	uint64_t ms = j->ended_ms > j->submitted_ms ? j->ended_ms - j->submitted_ms : 0;

	if (j->action_idx < 0 || j->action_idx >= PROTO_ACTIONS_MAX ||
	    (unsigned)j->state > JOB_ABORTED)
		return;
	co->stats.jobs_ended[j->action_idx][j->dry_run][j->state]++;
	hist_observe(&co->stats.job_duration[j->action_idx][j->dry_run][j->state], ms);
}

void
metrics_step_result(struct coord *co, const char *action, const char *step, uint64_t duration_ms)
{
	const char *steps[PROTO_ACTION_STEPS_MAX];
	int a = proto_action_index(action);
	size_t n = proto_action_steps(action, steps, PROTO_ACTION_STEPS_MAX);

	if (a < 0 || a >= PROTO_ACTIONS_MAX)
		return;
	for (size_t k = 0; k < n; k++)
		if (strcmp(steps[k], step) == 0) {
			hist_observe(&co->stats.step_duration[a][k], duration_ms);
			return;
		}
}
