/* The JSON documents the control socket sends about a job (PROTOCOL.md
 * 9.1): its summary and its per-host detail, built from the job in memory;
 * and the releases a job started from, as its notifications name them. */
#include <stdbool.h>
#include <stdlib.h>

#include <jansson.h>

#include "common/log.h"
#include "coordinator/coord.h"

static json_t *
policy_json(const struct proto_policy *p)
{
	return json_pack(
	    "{s:I, s:I, s:b, s:I, s:b, s:I, s:I, s:I}", "canary", (json_int_t)p->canary, "batch",
	    (json_int_t)p->batch, "batch_pct", p->batch_pct, "budget", (json_int_t)p->budget,
	    "budget_pct", p->budget_pct, "quorum_pct", (json_int_t)p->quorum_pct, "step_deadline_s",
	    (json_int_t)p->step_deadline_s, "job_deadline_s", (json_int_t)p->job_deadline_s);
}

json_t *
jobs_summary_json(const struct job *j)
{
	const struct proto_job *jb = &j->jm->u.job;
	json_t *params = json_object(), *counts = json_object(), *o;

	for (size_t i = 0; i < jb->n_params; i++)
		json_object_set_new(params, jb->params[i].key, json_string(jb->params[i].value));
	for (int s = 0; s < JH_COUNT; s++)
		json_object_set_new(counts, jobstate_host_name((enum jh_state)s),
		                    json_integer((json_int_t)j->counts[s]));
	o = json_pack(
	    "{s:s, s:s, s:s, s:s, s:o, s:o, s:I, s:I, s:I, s:I, s:s, s:s, s:I, s:s, s:I, s:o, s:s}",
	    "job_id", j->id, "action", jb->action, "operator", jb->operator_name, "reason",
	    jb->reason, "params", params, "policy", policy_json(&jb->policy), "created_ms",
	    (json_int_t)jb->created_ms, "expires_ms", (json_int_t)jb->expires_ms, "submitted_ms",
	    (json_int_t)j->submitted_ms, "deadline_ms", (json_int_t)j->deadline_ms, "state",
	    jobstate_name(j->state), "stage", jobstate_stage_name(j->stage), "batch",
	    (json_int_t)j->batch, "message", j->message, "targets", (json_int_t)j->n, "counts",
	    counts, "signer", j->signer);
	if (o != NULL) {
		json_object_set_new(o, "ended_ms",
		                    j->ended_ms ? json_integer((json_int_t)j->ended_ms)
		                                : json_null());
		json_object_set_new(o, "version", json_integer((json_int_t)j->version));
	}
	return o;
}

json_t *
jobs_detail_json(const struct job *j, uint64_t since)
{
	/* Only the changes when since is a version of this job in this life. */
	bool changes = !j->loaded && since >= j->base;
	json_t *o = jobs_summary_json(j), *hosts = json_array();

	if (o == NULL || hosts == NULL) {
		json_decref(o);
		json_decref(hosts);
		return NULL;
	}
	for (size_t i = 0; i < j->n; i++) {
		const struct job_host *jh = &j->hosts[i];
		if (changes && jh->version <= since)
			continue;
		json_t *h = json_pack(
		    "{s:s, s:I, s:I, s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I}", "host",
		    jh->host, "order", (json_int_t)jh->order, "unit", (json_int_t)jh->unit, "role",
		    jh->role, "batch", (json_int_t)jh->batch, "state",
		    jobstate_host_name(jh->state), "phase", jh->phase, "step", jh->step,
		    "failed_step", jh->failed_step, "message", jh->message, "revert",
		    jobstate_revert_name(jh->revert), "revert_message", jh->revert_message,
		    "updated_ms", (json_int_t)jh->updated_ms);
		if (h == NULL || json_array_append_new(hosts, h) != 0) {
			json_decref(o);
			json_decref(hosts);
			return NULL;
		}
	}
	json_object_set_new(o, "hosts", hosts);
	return o;
}

/* The releases j's targets are on now, as their latest beats say: what a
 * notification calls the versions the job started from. */
void
jobs_note_from(struct coord *co, struct job *j)
{
	struct host **hosts = calloc(j->n ? j->n : 1, sizeof(*hosts));
	struct deploy_release rel[JOB_FROM_MAX];
	size_t n = 0, counted = 0;

	if (hosts == NULL) {
		log_warn(
		    "job %s: out of memory for its targets' releases; its notifications name none",
		    j->id);
		return;
	}
	for (size_t i = 0; i < j->n; i++)
		if ((hosts[n] = registry_host(co, j->hosts[i].host)) != NULL)
			n++;
	j->n_from = deploy_releases_of(hosts, n, rel, JOB_FROM_MAX, &j->from_unknown);
	j->from_unknown += j->n - n;
	/* Most hosts first (insertion: at most JOB_FROM_MAX), else target order. */
	for (size_t k = 0; k < j->n_from; k++) {
		size_t at = k;
		while (at > 0 && j->from[at - 1].hosts < rel[k].nodes) {
			j->from[at] = j->from[at - 1];
			at--;
		}
		snprintf(j->from[at].tag, sizeof(j->from[at].tag), "%s", rel[k].tag);
		j->from[at].hosts = rel[k].nodes;
		counted += rel[k].nodes;
	}
	j->from_more = j->n - j->from_unknown - counted;
	free(hosts);
}
