/* The decoded form of a message as JSON (PROTOCOL.md section 10): used by
 * the test vectors, odcctl's -o json and the coordinator's evidence views. */
#include <stdlib.h>
#include <string.h>

#include "proto/internal.h"

static json_t *
hexj(const uint8_t *p, size_t n)
{
	char *s = malloc(2 * n + 1);
	json_t *j;

	if (s == NULL)
		return NULL;
	j = json_string(proto_hex(p, n, s));
	free(s);
	return j;
}

static json_t *
kvj(const struct proto_kv *kv, size_t n)
{
	json_t *o = json_object();

	for (size_t i = 0; o != NULL && i < n; i++)
		json_object_set_new(o, kv[i].key, json_string(kv[i].value));
	return o;
}

static json_t *
uj(uint64_t v)
{
	/* Decoded uints are at most PROTO_UINT_MAX, so they fit. */
	return json_integer((json_int_t)v);
}

/* A JOB body's fields; a JOB message (its list decoded) adds target_list last. */
static json_t *
job_json(const struct proto_job *j)
{
	const struct proto_policy *p = &j->policy;
	json_t *o = json_pack(
	    "{s:s, s:s, s:o, s:{s:o, s:o}, s:{s:o, s:o, s:b, s:o, s:b, s:o, s:o, s:o}, s:o, s:o, "
	    "s:s, s:s}",
	    "job_id", j->job_id, "action", j->action, "params", kvj(j->params, j->n_params),
	    "targets", "count", uj(j->target_count), "root", hexj(j->target_root, PROTO_HASH_LEN),
	    "policy", "canary", uj(p->canary), "batch", uj(p->batch), "batch_pct", p->batch_pct,
	    "budget", uj(p->budget), "budget_pct", p->budget_pct, "quorum_pct", uj(p->quorum_pct),
	    "step_deadline_s", uj(p->step_deadline_s), "job_deadline_s", uj(p->job_deadline_s),
	    "created_ms", uj(j->created_ms), "expires_ms", uj(j->expires_ms), "operator",
	    j->operator_name, "reason", j->reason);

	if (o != NULL && j->targets != NULL) {
		json_t *list = json_array();
		for (size_t i = 0; list != NULL && i < j->n_targets; i++)
			json_array_append_new(list, json_string(j->targets[i]));
		if (list == NULL || json_object_set_new(o, "target_list", list) != 0) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

/* A DISPATCH's target_proof: {index, path: [hex, ...]}. */
static json_t *
proof_json(const struct proto_dispatch *d)
{
	json_t *path = json_array();

	for (size_t i = 0; path != NULL && i < d->proof_len; i++)
		json_array_append_new(path, hexj(d->proof[i], PROTO_HASH_LEN));
	return json_pack("{s:o, s:o}", "index", uj(d->proof_index), "path", path);
}

json_t *
proto_msg_to_json(const struct proto_msg *m)
{
	switch (m->type) {
	case PROTO_HELLO: {
		const struct proto_hello *h = &m->u.hello;
		json_t *caps = json_array();
		for (size_t i = 0; i < h->n_capabilities; i++)
			json_array_append_new(caps, json_string(h->capabilities[i]));
		return json_pack("{s:s, s:s, s:o, s:o, s:o, s:o}", "host_id", h->host_id,
		                 "agent_version", h->agent_version, "incarnation",
		                 hexj(h->incarnation, PROTO_INCARN_LEN), "labels",
		                 kvj(h->labels, h->n_labels), "capabilities", caps, "sent_ms",
		                 uj(h->sent_ms));
	}
	case PROTO_WELCOME: {
		const struct proto_welcome *w = &m->u.welcome;
		return json_pack("{s:s, s:o, s:o, s:o}", "coordinator_id", w->coordinator_id,
		                 "heartbeat_ms", uj(w->heartbeat_ms), "lost_after",
		                 uj(w->lost_after), "now_ms", uj(w->now_ms));
	}
	case PROTO_HEARTBEAT: {
		const struct proto_heartbeat *h = &m->u.heartbeat;
		json_t *odc = json_null(), *job = json_null(), *disks = json_array(),
		       *mdb = json_null();
		if (h->has_odc)
			odc = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "container_id",
			                h->odc.container_id, "name", h->odc.name, "image",
			                h->odc.image, "state", h->odc.state, "health",
			                h->odc.health, "version", h->odc.version);
		if (h->has_job)
			job = json_pack("{s:s, s:s}", "job_id", h->job_id, "step", h->job_step);
		for (size_t i = 0; i < h->n_disks; i++)
			json_array_append_new(
			    disks, json_pack("{s:s, s:o, s:o}", "path", h->disks[i].path,
			                     "free_bytes", uj(h->disks[i].free_bytes),
			                     "total_bytes", uj(h->disks[i].total_bytes)));
		if (h->has_metadb)
			mdb = json_pack("{s:s, s:o, s:s, s:s, s:s}", "host", h->metadb.host, "port",
			                uj(h->metadb.port), "tenant", h->metadb.tenant, "cluster",
			                h->metadb.cluster, "database", h->metadb.database);
		return json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "host_id", h->host_id,
		                 "incarnation", hexj(h->incarnation, PROTO_INCARN_LEN), "seq",
		                 uj(h->seq), "sent_ms", uj(h->sent_ms), "odc", odc, "job", job,
		                 "disks", disks, "metadb", mdb);
	}
	case PROTO_PROGRESS: {
		const struct proto_progress *p = &m->u.progress;
		return json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:s}", "job_id", p->job_id,
		                 "host_id", p->host_id, "step", p->step, "status", p->status,
		                 "at_ms", uj(p->at_ms), "percent", uj(p->percent), "message",
		                 p->message);
	}
	case PROTO_RESULT: {
		const struct proto_result *r = &m->u.result;
		return json_pack("{s:s, s:s, s:s, s:s, s:I, s:o, s:o, s:s, s:s, s:o, s:b, s:o}",
		                 "job_id", r->job_id, "host_id", r->host_id, "step", r->step,
		                 "status", r->status, "exit_code", (json_int_t)r->exit_code,
		                 "started_ms", uj(r->started_ms), "duration_ms", uj(r->duration_ms),
		                 "message", r->message, "output_tail", r->output_tail, "data",
		                 kvj(r->data, r->n_data), "final", r->final, "incarnation",
		                 hexj(r->incarnation, PROTO_INCARN_LEN));
	}
	case PROTO_ACK:
	case PROTO_NACK: {
		const struct proto_ack *a = &m->u.ack;
		json_t *o = json_pack("{s:o, s:s, s:s, s:s, s:o}", "ref_type", uj(a->ref_type),
		                      "job_id", a->job_id, "host_id", a->host_id, "step", a->step,
		                      "nonce", hexj(a->nonce, a->nonce_len));
		if (o != NULL && m->type == PROTO_NACK) {
			json_object_set_new(o, "code", uj(a->code));
			json_object_set_new(o, "message", json_string(a->message));
		}
		return o;
	}
	case PROTO_JOB:
		return job_json(&m->u.job);
	case PROTO_DISPATCH: {
		const struct proto_dispatch *d = &m->u.dispatch;
		json_t *job = m->inner ? job_json(&d->job) : json_null();
		return json_pack("{s:o, s:o, s:o, s:s, s:s, s:o, s:o, s:o, s:o}", "job", job,
		                 "job_hex", hexj(d->job_bytes, d->job_len), "job_sig",
		                 hexj(d->job_sig, PROTO_SIGFRAME_LEN), "host_id", d->host_id,
		                 "phase", d->phase, "not_before_ms", uj(d->not_before_ms),
		                 "expires_ms", uj(d->expires_ms), "nonce",
		                 hexj(d->nonce, PROTO_NONCE_LEN), "target_proof", proof_json(d));
	}
	case PROTO_REQUEST: {
		const struct proto_request *r = &m->u.request;
		return json_pack("{s:o, s:s, s:O}", "request_id", uj(r->request_id), "command",
		                 r->command, "args", r->args ? r->args : json_object());
	}
	case PROTO_REPLY: {
		const struct proto_reply *r = &m->u.reply;
		return json_pack("{s:o, s:o, s:s, s:O}", "request_id", uj(r->request_id), "code",
		                 uj(r->code), "message", r->message, "body",
		                 r->body ? r->body : json_null());
	}
	}
	return NULL;
}
