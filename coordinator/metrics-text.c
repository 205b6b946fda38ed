/* The text exposition format 0.0.4 of the coordinator's state and counters
 * (GET /metrics): hosts, deployments, jobs, messages. Reads only; the HTTP
 * server (metrics.c) calls it. The metrics and what they mean are listed in
 * coordinator/README.md. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "coordinator/coord.h"

/* The renderer's output: the first failure sticks and later writes are
 * skipped, so each write need not be checked. */
struct out {
	struct buf *b;
	int rc;
};

/* One host, sorted by id, with what its latest heartbeat says. */
struct host_row {
	const struct host *h;
	struct proto_msg *beat; /* decoded, or NULL */
};

static const char *const sock_names[COORD_SOCK_COUNT] = {"agents", "control"};
static const char *const refusal_names[COORD_REFUSED_COUNT] = {"UNKNOWN_KEY", "REVOKED",
                                                               "NO_CURVE"};

int
metrics_label_value(struct buf *out, const char *s)
{
	const char *run = s;

	for (; *s != '\0'; s++) {
		const char *esc = *s == '\\'   ? "\\\\"
		                  : *s == '"'  ? "\\\""
		                  : *s == '\n' ? "\\n"
		                               : NULL;
		if (esc == NULL)
			continue;
		if (buf_append(out, run, (size_t)(s - run)) != 0 || buf_append(out, esc, 2) != 0)
			return -1;
		run = s + 1;
	}
	return buf_append(out, run, (size_t)(s - run));
}

static void
put(struct out *o, const char *s)
{
	if (o->rc == 0 && buf_append(o->b, s, strlen(s)) != 0)
		o->rc = -1;
}

static void
family(struct out *o, const char *name, const char *type, const char *help)
{
	if (o->rc == 0 &&
	    buf_appendf(o->b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type) != 0)
		o->rc = -1;
}

/* name{k="v",...} value; labels is NULL or key, value pairs ending in NULL. */
static void
sample(struct out *o, const char *name, const char *const *labels, const char *value)
{
	put(o, name);
	for (size_t i = 0; labels != NULL && labels[i] != NULL; i += 2) {
		put(o, i == 0 ? "{" : ",");
		put(o, labels[i]);
		put(o, "=\"");
		if (o->rc == 0 && metrics_label_value(o->b, labels[i + 1]) != 0)
			o->rc = -1;
		put(o, "\"");
	}
	if (labels != NULL && labels[0] != NULL)
		put(o, "}");
	put(o, " ");
	put(o, value);
	put(o, "\n");
}

static void
sample_u64(struct out *o, const char *name, const char *const *labels, uint64_t v)
{
	char text[24];

	snprintf(text, sizeof(text), "%llu", (unsigned long long)v);
	sample(o, name, labels, text);
}

/* Milliseconds as seconds, exactly: no float rounding on the way. */
static void
sample_ms(struct out *o, const char *name, const char *const *labels, uint64_t ms)
{
	char text[32];

	snprintf(text, sizeof(text), "%llu.%03llu", (unsigned long long)(ms / 1000),
	         (unsigned long long)(ms % 1000));
	sample(o, name, labels, text);
}

/* A histogram's _bucket (cumulative, with le), _sum and _count lines;
 * labels as sample()'s, at most 3 pairs. */
static void
histogram(struct out *o, const char *name, const char *const *labels, const struct coord_hist *h)
{
	const char *with_le[10];
	char line[128], le[24];
	size_t n = 0;
	uint64_t cum = 0;

	while (labels[n] != NULL && n < 6)
		n += 2;
	memcpy(with_le, labels, n * sizeof(*labels));
	with_le[n] = "le";
	with_le[n + 1] = le;
	with_le[n + 2] = NULL;
	snprintf(line, sizeof(line), "%s_bucket", name);
	for (size_t b = 0; b <= COORD_HIST_BUCKETS; b++) {
		cum += h->bucket[b];
		if (b < COORD_HIST_BUCKETS)
			snprintf(le, sizeof(le), "%llu",
			         (unsigned long long)(metrics_hist_bounds_ms[b] / 1000));
		else
			snprintf(le, sizeof(le), "+Inf");
		sample_u64(o, line, with_le, cum);
	}
	snprintf(line, sizeof(line), "%s_sum", name);
	sample_ms(o, line, labels, h->sum_ms);
	snprintf(line, sizeof(line), "%s_count", name);
	sample_u64(o, line, labels, h->count);
}

struct gather {
	struct host_row *rows;
	size_t n, cap;
};

static int
gather_one(void *ctx, const void *key, size_t len, void *value)
{
	struct gather *g = ctx;

	(void)key;
	(void)len;
	if (g->n < g->cap)
		g->rows[g->n++].h = value;
	return 0;
}

static int
cmp_row(const void *a, const void *b)
{
	return strcmp(((const struct host_row *)a)->h->id, ((const struct host_row *)b)->h->id);
}

static void
render_coordinator(struct out *o, const struct coord *co)
{
	family(o, "odc_fleet_coordinator_info", "gauge",
	       "This coordinator's id and version; always 1.");
	sample(o, "odc_fleet_coordinator_info",
	       (const char *const[]){"id", co->conf->id, "version", COORD_VERSION, NULL}, "1");
	family(o, "odc_fleet_coordinator_start_time_seconds", "gauge",
	       "When this coordinator process started, in seconds since the epoch.");
	sample_ms(o, "odc_fleet_coordinator_start_time_seconds", NULL, co->stats.started_ms);
}

static void
render_hosts(struct out *o, const struct host_row *rows, size_t n, uint64_t now_ms,
             uint64_t now_mono)
{
	static const char *const statuses[] = {"online", "lost", "never", "revoked"};
	uint64_t counts[4] = {0};

	for (size_t i = 0; i < n; i++) {
		const char *s = registry_status_name(rows[i].h);
		for (size_t k = 0; k < 4; k++)
			if (strcmp(s, statuses[k]) == 0)
				counts[k]++;
	}
	family(o, "odc_fleet_hosts", "gauge",
	       "Enrolled hosts by status (online, lost, never seen, revoked).");
	for (size_t k = 0; k < 4; k++)
		sample_u64(o, "odc_fleet_hosts", (const char *const[]){"status", statuses[k], NULL},
		           counts[k]);

	/* Per host: accepted hosts only; a revoked key is not part of the fleet. */
	family(o, "odc_fleet_host_up", "gauge",
	       "1 when the host is online, 0 when it is lost or was never seen.");
	for (size_t i = 0; i < n; i++) {
		const struct host *h = rows[i].h;
		if (!h->revoked)
			sample(o, "odc_fleet_host_up", (const char *const[]){"host", h->id, NULL},
			       h->status == HOST_ONLINE ? "1" : "0");
	}
	family(
	    o, "odc_fleet_host_heartbeat_age_seconds", "gauge",
	    "Seconds since the host's latest HELLO or HEARTBEAT; no sample for a host never seen.");
	for (size_t i = 0; i < n; i++) {
		const struct host *h = rows[i].h;
		uint64_t age;
		if (h->revoked || h->last_beat_ms == 0)
			continue;
		/* The monotonic clock when this process saw it; else the wall
		 * clock of the store's last_seen. */
		if (h->last_beat_mono != 0)
			age = now_mono > h->last_beat_mono ? now_mono - h->last_beat_mono : 0;
		else
			age = now_ms > h->last_beat_ms ? now_ms - h->last_beat_ms : 0;
		sample_ms(o, "odc_fleet_host_heartbeat_age_seconds",
		          (const char *const[]){"host", h->id, NULL}, age);
	}
	family(o, "odc_fleet_host_info", "gauge",
	       "Always 1. Labels: the agent's version, and ODC's version, container state and "
	       "health from the "
	       "host's latest heartbeat (empty when unknown).");
	for (size_t i = 0; i < n; i++) {
		const struct host *h = rows[i].h;
		const struct proto_heartbeat *hb =
		    rows[i].beat != NULL ? &rows[i].beat->u.heartbeat : NULL;
		const struct proto_container *c = hb != NULL && hb->has_odc ? &hb->odc : NULL;
		if (h->revoked)
			continue;
		sample(o, "odc_fleet_host_info",
		       (const char *const[]){"host", h->id, "agent_version", h->agent_version,
		                             "odc_version", c ? c->version : "", "container_state",
		                             c ? c->state : "", "container_health",
		                             c ? c->health : "", NULL},
		       "1");
	}
	/* The backup and snapshot roots' room, as the latest heartbeat says:
	 * a disk that fills before a rollback fails its preflight. */
	static const char *const disk_names[2] = {"odc_fleet_host_disk_free_bytes",
	                                          "odc_fleet_host_disk_total_bytes"};
	static const char *const disk_help[2] = {
	    "Free bytes (for the agent's user) of each backup and snapshot root, from the host's "
	    "latest heartbeat.",
	    "Size in bytes of the file system of each backup and snapshot root, from the host's "
	    "latest heartbeat."};
	for (int k = 0; k < 2; k++) {
		family(o, disk_names[k], "gauge", disk_help[k]);
		for (size_t i = 0; i < n; i++) {
			const struct proto_heartbeat *hb =
			    rows[i].beat != NULL ? &rows[i].beat->u.heartbeat : NULL;
			if (rows[i].h->revoked || hb == NULL)
				continue;
			for (size_t d = 0; d < hb->n_disks; d++)
				sample_u64(o, disk_names[k],
				           (const char *const[]){"host", rows[i].h->id, "path",
				                                 hb->disks[d].path, NULL},
				           k == 0 ? hb->disks[d].free_bytes
				                  : hb->disks[d].total_bytes);
		}
	}
	family(o, "odc_fleet_host_restarts_total", "counter",
	       "Agent restarts (new incarnations) this coordinator process has seen.");
	for (size_t i = 0; i < n; i++) {
		const struct host *h = rows[i].h;
		if (!h->revoked)
			sample_u64(o, "odc_fleet_host_restarts_total",
			           (const char *const[]){"host", h->id, NULL}, h->restarts);
	}
}

static void
render_deployments(struct out *o, const struct coord *co)
{
	struct deploy_release rel[8];
	size_t n = 0;
	struct deployment **all = co->deployments != NULL ? deploy_all(co, &n) : NULL;

	if (co->deployments != NULL && all == NULL) {
		o->rc = -1;
		return;
	}
	family(o, "odc_fleet_deployment_nodes", "gauge",
	       "Nodes of each deployment (hosts on one metadb).");
	for (size_t i = 0; i < n; i++)
		sample_u64(o, "odc_fleet_deployment_nodes",
		           (const char *const[]){"deployment", all[i]->id, NULL}, all[i]->n);
	family(o, "odc_fleet_deployment_releases", "gauge",
	       "Distinct ODC releases of the containers of each deployment's nodes (their latest "
	       "heartbeats); more "
	       "than 1 is a mismatch: a node of another release on the same metadb.");
	for (size_t i = 0; i < n; i++)
		sample_u64(o, "odc_fleet_deployment_releases",
		           (const char *const[]){"deployment", all[i]->id, NULL},
		           deploy_releases(all[i], rel, sizeof(rel) / sizeof(rel[0])));
	free(all);
}

static void
render_jobs(struct out *o, const struct coord *co)
{
	enum job_state ended[PROTO_JOB_STATES];
	enum jh_state outcomes[JH_COUNT];
	size_t n_ended = 0, n_outcomes = 0;
	const struct job *j;

	/* The final states, in the order of proto's table. */
	for (int s = 0; s < PROTO_JOB_STATES; s++)
		if (jobstate_final((enum job_state)s))
			ended[n_ended++] = (enum job_state)s;
	for (int s = 0; s < JH_COUNT; s++)
		if (jobstate_host_final((enum jh_state)s))
			outcomes[n_outcomes++] = (enum jh_state)s;

	/* Only the jobs in memory: a job leaves it once it ended with nothing
	 * in flight, so these series stay as few as the jobs at work. The label
	 * is job_id: Prometheus gives every target a "job" label of its own. */
	family(o, "odc_fleet_job_info", "gauge",
	       "Jobs in memory (running, paused, or ended with steps in flight); always 1.");
	for (j = co->jobs; j != NULL; j = j->next)
		sample(o, "odc_fleet_job_info",
		       (const char *const[]){"job_id", j->id, "action", j->jm->u.job.action,
		                             "dry_run", j->dry_run ? "true" : "false", "operator",
		                             j->jm->u.job.operator_name, "state",
		                             jobstate_name(j->state), "stage",
		                             jobstate_stage_name(j->stage), NULL},
		       "1");
	family(o, "odc_fleet_job_hosts", "gauge",
	       "Targets of each job in memory, by their state in the job.");
	for (j = co->jobs; j != NULL; j = j->next)
		for (int s = 0; s < JH_COUNT; s++)
			sample_u64(o, "odc_fleet_job_hosts",
			           (const char *const[]){"job_id", j->id, "state",
			                                 jobstate_host_name((enum jh_state)s),
			                                 NULL},
			           j->counts[s]);
	family(o, "odc_fleet_jobs_submitted_total", "counter",
	       "Jobs admitted since this process started.");
	sample_u64(o, "odc_fleet_jobs_submitted_total", NULL, co->stats.jobs_submitted);

	/* Per action of the table, dry run (for the actions that have one) or
	 * not, and final state: fixed series, there from the start. */
	family(o, "odc_fleet_jobs_ended_total", "counter",
	       "Jobs that ended since this process started, by action, dry run or not, and final "
	       "state.");
	for (size_t a = 0; a < proto_action_count() && a < PROTO_ACTIONS_MAX; a++)
		for (int dry = 0; dry <= (int)proto_action_takes(proto_action_name(a), "dry_run");
		     dry++)
			for (size_t k = 0; k < n_ended; k++)
				sample_u64(o, "odc_fleet_jobs_ended_total",
				           (const char *const[]){"action", proto_action_name(a),
				                                 "dry_run", dry ? "true" : "false",
				                                 "state", jobstate_name(ended[k]),
				                                 NULL},
				           co->stats.jobs_ended[a][dry][ended[k]]);
	family(o, "odc_fleet_job_duration_seconds", "histogram",
	       "Seconds from a job's admission to its end, by action, dry run or not, and final "
	       "state.");
	for (size_t a = 0; a < proto_action_count() && a < PROTO_ACTIONS_MAX; a++)
		for (int dry = 0; dry <= (int)proto_action_takes(proto_action_name(a), "dry_run");
		     dry++)
			for (size_t k = 0; k < n_ended; k++)
				histogram(o, "odc_fleet_job_duration_seconds",
				          (const char *const[]){"action", proto_action_name(a),
				                                "dry_run", dry ? "true" : "false",
				                                "state", jobstate_name(ended[k]),
				                                NULL},
				          &co->stats.job_duration[a][dry][ended[k]]);
	family(o, "odc_fleet_step_duration_seconds", "histogram",
	       "Seconds one step of a job took on one host, as its agent's RESULT says, by action "
	       "and step.");
	for (size_t a = 0; a < proto_action_count() && a < PROTO_ACTIONS_MAX; a++) {
		const char *steps[PROTO_ACTION_STEPS_MAX];
		size_t n = proto_action_steps(proto_action_name(a), steps, PROTO_ACTION_STEPS_MAX);
		for (size_t k = 0; k < n; k++)
			histogram(o, "odc_fleet_step_duration_seconds",
			          (const char *const[]){"action", proto_action_name(a), "step",
			                                steps[k], NULL},
			          &co->stats.step_duration[a][k]);
	}
	family(o, "odc_fleet_job_hosts_ended_total", "counter",
	       "Job targets that reached a final state since this process started, by that state.");
	for (size_t k = 0; k < n_outcomes; k++)
		sample_u64(o, "odc_fleet_job_hosts_ended_total",
		           (const char *const[]){"state", jobstate_host_name(outcomes[k]), NULL},
		           co->stats.job_hosts_ended[outcomes[k]]);
	family(o, "odc_fleet_job_host_reverts_total", "counter",
	       "Automatic reverts of a failed unit's targets since this process started, by the "
	       "state they entered: due (called for), ok (back on the old version), failed.");
	for (int r = PROTO_REVERT_DUE; r < PROTO_REVERTS; r++)
		if (r != PROTO_REVERT_RUNNING)
			sample_u64(o, "odc_fleet_job_host_reverts_total",
			           (const char *const[]){
			               "state", jobstate_revert_name((enum proto_revert)r), NULL},
			           co->stats.reverts[r]);
}

static void
render_types(struct out *o, const char *name, const int *types, size_t n, const uint64_t *counts)
{
	for (size_t k = 0; k < n; k++)
		sample_u64(o, name, (const char *const[]){"type", proto_type_name(types[k]), NULL},
		           counts[types[k]]);
}

static void
render_messages(struct out *o, const struct coord *co)
{
	static const int in[] = {PROTO_HELLO, PROTO_HEARTBEAT, PROTO_PROGRESS, PROTO_RESULT,
	                         PROTO_ACK,   PROTO_NACK,      PROTO_JOB,      PROTO_REQUEST};
	static const int outgoing[] = {PROTO_WELCOME, PROTO_DISPATCH, PROTO_ACK, PROTO_NACK,
	                               PROTO_REPLY};
	const struct coord_stats *st = &co->stats;

	family(o, "odc_fleet_messages_received_total", "counter",
	       "Messages that passed the receive procedure (PROTOCOL.md section 7), by type.");
	render_types(o, "odc_fleet_messages_received_total", in, sizeof(in) / sizeof(in[0]),
	             st->received);
	family(o, "odc_fleet_messages_sent_total", "counter",
	       "Messages handed to ZeroMQ, by type.");
	render_types(o, "odc_fleet_messages_sent_total", outgoing,
	             sizeof(outgoing) / sizeof(outgoing[0]), st->sent);
	family(o, "odc_fleet_messages_send_failed_total", "counter",
	       "Messages not sent because the peer was gone or its queue full, by type.");
	render_types(o, "odc_fleet_messages_send_failed_total", outgoing,
	             sizeof(outgoing) / sizeof(outgoing[0]), st->unsent);

	/* Every reason that happened, and the signature ones always, so that
	 * an alert on them has a series from the start. */
	family(o, "odc_fleet_messages_rejected_total", "counter",
	       "Messages refused before their handler, by socket and reason: a PROTOCOL.md error "
	       "code, or "
	       "NOT_ENROLLED (the sender's key was revoked or replaced).");
	for (int s = 0; s < COORD_SOCK_COUNT; s++) {
		for (int r = 1; r < COORD_REJECT_SLOTS; r++) {
			const char *reason =
			    r == COORD_REJECT_NOT_ENROLLED ? "NOT_ENROLLED" : proto_err_name(r);
			if (reason == NULL ||
			    (st->rejected[s][r] == 0 && r != PROTO_E_BAD_SIGNATURE &&
			     r != PROTO_E_UNKNOWN_KEY))
				continue;
			sample_u64(
			    o, "odc_fleet_messages_rejected_total",
			    (const char *const[]){"socket", sock_names[s], "reason", reason, NULL},
			    st->rejected[s][r]);
		}
	}
	family(o, "odc_fleet_signature_failures_total", "counter",
	       "Signed messages refused for their signature: it did not verify (BAD_SIGNATURE) or "
	       "its key is "
	       "not trusted for that message (UNKNOWN_KEY).");
	for (int s = 0; s < COORD_SOCK_COUNT; s++)
		sample_u64(o, "odc_fleet_signature_failures_total",
		           (const char *const[]){"socket", sock_names[s], NULL},
		           st->rejected[s][PROTO_E_BAD_SIGNATURE] +
		               st->rejected[s][PROTO_E_UNKNOWN_KEY]);
	family(o, "odc_fleet_connections_refused_total", "counter",
	       "Connections refused at the CURVE handshake, by socket and reason (UNKNOWN_KEY: not "
	       "an enrolled "
	       "agent or operator key).");
	for (int s = 0; s < COORD_SOCK_COUNT; s++)
		for (int r = 0; r < COORD_REFUSED_COUNT; r++)
			sample_u64(o, "odc_fleet_connections_refused_total",
			           (const char *const[]){"socket", sock_names[s], "reason",
			                                 refusal_names[r], NULL},
			           st->refused[s][r]);
}

int
metrics_render(const struct coord *co, uint64_t now_ms, uint64_t now_mono, struct buf *out)
{
	struct out o = {out, 0};
	struct gather g = {0};

	/* Hosts in a stable order, each heartbeat decoded once. */
	g.cap = co->hosts != NULL ? map_count(co->hosts) : 0;
	g.rows = calloc(g.cap ? g.cap : 1, sizeof(*g.rows));
	if (g.rows == NULL)
		return -1;
	if (co->hosts != NULL)
		map_each(co->hosts, gather_one, &g);
	qsort(g.rows, g.n, sizeof(*g.rows), cmp_row);
	for (size_t i = 0; i < g.n; i++) {
		const struct host *h = g.rows[i].h;
		struct proto_error e;
		if (!h->revoked && h->beat_len > 0 &&
		    proto_decode_body(PROTO_HEARTBEAT, h->beat, h->beat_len, &g.rows[i].beat, &e) !=
		        PROTO_OK)
			g.rows[i].beat = NULL;
	}
	render_coordinator(&o, co);
	render_hosts(&o, g.rows, g.n, now_ms, now_mono);
	render_deployments(&o, co);
	render_jobs(&o, co);
	render_messages(&o, co);
	for (size_t i = 0; i < g.n; i++)
		proto_msg_free(g.rows[i].beat);
	free(g.rows);
	return o.rc;
}
