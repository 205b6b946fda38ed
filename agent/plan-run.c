/* What every step of every plan uses (plan-int.h): its verdict and data,
 * the request's parameters, the job's facts in the journal, the time the
 * run waits on others, and its connections to Docker and the metadb. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "agent/plan-int.h"
#include "common/clock.h"

void
plan_waited(uint64_t *acc, uint64_t t0)
{
	*acc += clock_mono_ms() - t0;
}

void
plan_say(struct plan_res *s, const char *status, const char *fmt, ...)
{
	va_list ap;

	s->status = status;
	va_start(ap, fmt);
	vsnprintf(s->message, sizeof(s->message), fmt, ap);
	va_end(ap);
}

/* Appends text to the step's message, as room allows. */
void
plan_say_more(struct plan_res *s, const char *fmt, ...)
{
	size_t used = strlen(s->message);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->message + used, sizeof(s->message) - used, fmt, ap);
	va_end(ap);
}

void
plan_put(struct plan_res *s, const char *key, const char *value)
{
	char v[1024];

	snprintf(v, sizeof(v), "%s", value ? value : "");
	json_object_set_new(s->data, key, json_string(v));
}

void
plan_tail(struct plan_res *s, const char *text)
{
	size_t n = text ? strlen(text) : 0;

	/* Keep the newest bytes, on a UTF-8 boundary. */
	const char *p = n >= sizeof(s->tail) ? text + n - (sizeof(s->tail) - 1) : text;
	while (p != NULL && p > text && ((unsigned char)*p & 0xc0) == 0x80)
		p++;
	snprintf(s->tail, sizeof(s->tail), "%s", p ? p : "");
}

/* The revert phase's names of the undo steps it runs (PROTOCOL.md 5). */
static const char *const revert_names[][2] = {
    {"preflight", "revert_preflight"}, {"stop", "revert_stop"},     {"restore", "revert_restore"},
    {"start", "revert_start"},         {"health", "revert_health"},
};

const char *
plan_step_name(const struct plan_run *r, const char *step)
{
	if (r->phase == NULL || strcmp(r->phase, "revert") != 0)
		return step;
	for (size_t i = 0; i < sizeof(revert_names) / sizeof(revert_names[0]); i++)
		if (strcmp(revert_names[i][0], step) == 0)
			return revert_names[i][1];
	return step;
}

void
plan_note(struct plan_run *r, const char *step, const char *fmt, ...)
{
	char m[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m, sizeof(m), fmt, ap);
	va_end(ap);
	if (r->out && r->out->note)
		r->out->note(r->out->ctx, r->job, plan_step_name(r, step), m);
}

const char *
plan_param(const struct plan_run *r, const char *key)
{
	return proto_param(r->params, r->n_params, key);
}

bool
plan_param_true(const struct plan_run *r, const char *key)
{
	const char *v = plan_param(r, key);

	return v != NULL && strcmp(v, "true") == 0;
}

/* Milliseconds a step may take: its own deadline, cut by the job's. */
uint64_t
plan_budget(const struct plan_run *r, enum agent_step s)
{
	uint64_t now = proto_now_ms();
	uint64_t job_left = r->deadline_ms > now ? r->deadline_ms - now : 1;
	uint64_t own = r->c->deadline_ms[s];

	return own < job_left ? own : job_left;
}

void
plan_nap(struct plan_run *r)
{
	struct timespec ts = {0, 250 * 1000 * 1000};
	uint64_t t0 = clock_mono_ms();

	nanosleep(&ts, NULL);
	plan_waited(&r->wait_metadb_ms, t0);
}

void
plan_utc_stamp(char *out, size_t outlen)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, outlen, "%Y%m%dT%H%M%SZ", &tm);
}

/* Facts of this job (or of another job, for undo). */
char *
plan_fact(struct plan_run *r, const char *job, const char *key)
{
	return journal_fact_get(r->j, job ? job : r->facts, key, r->err, sizeof(r->err));
}

int
plan_fact_set(struct plan_run *r, const char *key, const char *value)
{
	return journal_fact_set(r->j, r->facts, key, value, r->err, sizeof(r->err));
}

bool
plan_fact_is_set(struct plan_run *r, const char *job, const char *key)
{
	char *v = plan_fact(r, job, key);
	bool set = v != NULL;

	free(v);
	return set;
}

bool
plan_fact_is(struct plan_run *r, const char *job, const char *key, const char *value)
{
	char *v = plan_fact(r, job, key);
	bool eq = v != NULL && strcmp(v, value) == 0;

	free(v);
	return eq;
}

int
plan_docker(struct plan_run *r, struct plan_res *s)
{
	if (r->d != NULL)
		return 0;
	r->d = docker_new(r->c->docker_socket, r->c->api_timeout_ms, r->err, sizeof(r->err));
	if (r->d == NULL || docker_ping(r->d, r->err, sizeof(r->err)) != 0) {
		plan_say(s, "failed", "Docker engine unreachable: %s", r->err);
		return -1;
	}
	return 0;
}

int
plan_password(struct plan_run *r, struct plan_res *s)
{
	if (r->password == NULL &&
	    (r->password = agent_read_password(r->c, r->err, sizeof(r->err))) == NULL) {
		plan_say(s, "failed", "metadb password: %s", r->err);
		return -1;
	}
	return 0;
}

int
plan_container_stop(struct plan_run *r, const char *id)
{
	return docker_container_stop(r->d, id, (unsigned)(r->c->stop_timeout_ms / 1000), r->err,
	                             sizeof(r->err));
}

int
plan_container_start(struct plan_run *r, const char *id)
{
	static const char *const running[] = {"running", NULL};

	if (docker_container_start(r->d, id, r->err, sizeof(r->err)) != 0 ||
	    docker_container_wait_state(r->d, id, running, 10000, NULL, r->err, sizeof(r->err)) !=
	        0)
		return -1;
	return 0;
}

struct metadb *
plan_metadb(struct plan_run *r, struct plan_res *s)
{
	struct metadb *m;

	if (plan_password(r, s) != 0)
		return NULL;
	uint64_t t0 = clock_mono_ms();
	m = agent_metadb_open(r->c, r->password, r->err, sizeof(r->err));
	plan_waited(&r->wait_metadb_ms, t0);
	if (m == NULL)
		plan_say(s, "failed", "metadb unreachable: %s", r->err);
	return m;
}

/* "repository:tag" of the target. */
int
plan_target_image(struct plan_run *r, const char *tag, char *out, size_t outlen, struct plan_res *s)
{
	if (tag == NULL || spec_image_ref(r->c->repository, tag, out, outlen) != 0) {
		plan_say(s, "failed", "no usable target tag");
		return -1;
	}
	return 0;
}

uint64_t
plan_tables_rows(const struct backup_info *b)
{
	uint64_t n = 0;

	for (size_t i = 0; i < b->n_tables; i++)
		n += b->tables[i].rows;
	return n;
}
