/* Webhook notifications (coordinator/notify.c): which event a webhook gets,
 * the generic, DingTalk and Slack bodies, DingTalk's signature, how answers
 * are judged, the backoff, and the [webhook.NAME] sections of the
 * configuration with their mistakes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "coordinator/coord.h"

#define KEY_A                                                                                      \
	"odc-ed25519-pub:"                                                                         \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

/* ---- a job to render ---- */

struct fake {
	struct proto_msg jm;
	struct job j;
	struct job_host hosts[30];
};

/* A halted rollback of n hosts: the first nfail failed (every other one
 * unreachable), the next one succeeded, the rest skipped. */
static void
fake_job(struct fake *f, size_t n, size_t nfail)
{
	memset(f, 0, sizeof(*f));
	f->jm.type = PROTO_JOB;
	f->jm.u.job.job_id = "rollback-20240501T120000Z-abcdef";
	f->jm.u.job.action = "rollback";
	f->jm.u.job.operator_name = "alice";
	f->jm.u.job.reason = "4.3.0 <!channel> broke logins";
	f->j.jm = &f->jm;
	snprintf(f->j.id, sizeof(f->j.id), "%s", f->jm.u.job.job_id);
	snprintf(f->j.signer, sizeof(f->j.signer), "SHA256:0123456789abcdef0123456789abcdef");
	f->j.submitted_ms = 1714564800000ull;
	f->j.ended_ms = 1714564860500ull;
	f->j.state = JOB_HALTED;
	f->j.stage = STAGE_BATCHES;
	f->j.batch = 2;
	snprintf(f->j.message, sizeof(f->j.message), "failure budget exceeded during the batches");
	f->j.hosts = f->hosts;
	f->j.n = n;
	for (size_t i = 0; i < n; i++) {
		struct job_host *h = &f->hosts[i];
		snprintf(h->host, sizeof(h->host), "h%02zu", i);
		if (i < nfail) {
			h->state = i % 2 ? JH_UNREACHABLE : JH_FAILED;
			snprintf(h->failed_step, sizeof(h->failed_step), "%s",
			         i % 2 ? "dispatch" : "restore");
			snprintf(h->message, sizeof(h->message), "obloader exited 1 on h%02zu", i);
		} else {
			h->state = i == nfail ? JH_SUCCEEDED : JH_SKIPPED;
		}
		f->j.counts[h->state]++;
	}
}

static json_t *
parse(const char *text)
{
	json_error_t e;
	json_t *o = json_loads(text, 0, &e);

	if (o == NULL)
		fail_msg("not JSON (%s): %s", e.text, text);
	return o;
}

static const char *
sget(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	if (s == NULL)
		fail_msg("no string %s", key);
	return s;
}

/* ---- events ---- */

static void
test_event_for(void **state)
{
	unsigned all = COORD_EVENT_BIT(COORD_EVENT_START) | COORD_EVENT_BIT(COORD_EVENT_HALT) |
	               COORD_EVENT_BIT(COORD_EVENT_FINISH);

	(void)state;
	assert_int_equal(notify_event_for(all, COORD_EVENT_START), COORD_EVENT_START);
	assert_int_equal(notify_event_for(all, COORD_EVENT_HALT), COORD_EVENT_HALT);
	assert_int_equal(notify_event_for(all, COORD_EVENT_FINISH), COORD_EVENT_FINISH);
	/* finish alone: every end, a halt included, as a finish. */
	assert_int_equal(notify_event_for(COORD_EVENT_BIT(COORD_EVENT_FINISH), COORD_EVENT_HALT),
	                 COORD_EVENT_FINISH);
	assert_int_equal(notify_event_for(COORD_EVENT_BIT(COORD_EVENT_FINISH), COORD_EVENT_START),
	                 -1);
	/* halt alone: halts only. */
	assert_int_equal(notify_event_for(COORD_EVENT_BIT(COORD_EVENT_HALT), COORD_EVENT_HALT),
	                 COORD_EVENT_HALT);
	assert_int_equal(notify_event_for(COORD_EVENT_BIT(COORD_EVENT_HALT), COORD_EVENT_FINISH),
	                 -1);
	assert_int_equal(notify_event_for(COORD_EVENT_BIT(COORD_EVENT_START), COORD_EVENT_HALT),
	                 -1);
	assert_string_equal(notify_event_name(COORD_EVENT_HALT), "halt");
}

/* ---- bodies ---- */

static void
test_generic_body(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));
	json_t *ev, *job, *failed, *h;
	char *text;

	(void)state;
	fake_job(f, 25, 22);
	/* A message cut inside a character by a fixed buffer still makes JSON. */
	snprintf(f->hosts[0].message, sizeof(f->hosts[0].message), "disk full \xe6\x97");
	ev = notify_event_json(COORD_EVENT_HALT, 1714564861234ull, "coord-1", &f->j);
	assert_non_null(ev);
	text = notify_render(COORD_WEBHOOK_JSON, ev);
	assert_non_null(text);
	json_decref(ev);
	ev = parse(text);
	assert_int_equal(json_integer_value(json_object_get(ev, "version")), 1);
	assert_string_equal(sget(ev, "event"), "halt");
	assert_string_equal(sget(ev, "time"), "2024-05-01T12:01:01.234Z");
	assert_int_equal(json_integer_value(json_object_get(ev, "time_ms")), 1714564861234ll);
	assert_string_equal(sget(ev, "coordinator"), "coord-1");
	job = json_object_get(ev, "job");
	assert_string_equal(sget(job, "id"), "rollback-20240501T120000Z-abcdef");
	assert_string_equal(sget(job, "action"), "rollback");
	assert_string_equal(sget(job, "operator"), "alice");
	assert_string_equal(sget(job, "signer"), "SHA256:0123456789abcdef0123456789abcdef");
	assert_string_equal(sget(job, "state"), "halted");
	assert_string_equal(sget(job, "stage"), "batches");
	assert_string_equal(sget(job, "message"), "failure budget exceeded during the batches");
	assert_int_equal(json_integer_value(json_object_get(job, "submitted_ms")), 1714564800000ll);
	assert_int_equal(json_integer_value(json_object_get(job, "ended_ms")), 1714564860500ll);
	assert_int_equal(json_integer_value(json_object_get(job, "targets")), 25);
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(job, "counts"), "failed")), 11);
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(job, "counts"), "unreachable")), 11);
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(job, "counts"), "skipped")), 2);
	assert_int_equal(json_object_size(json_object_get(job, "counts")), JH_COUNT);
	failed = json_object_get(job, "failed_hosts");
	assert_int_equal(json_array_size(failed), 20);
	assert_int_equal(json_integer_value(json_object_get(job, "failed_hosts_more")), 2);
	h = json_array_get(failed, 0);
	assert_string_equal(sget(h, "host"), "h00");
	assert_string_equal(sget(h, "state"), "failed");
	assert_string_equal(sget(h, "step"), "restore");
	assert_string_equal(sget(h, "message"), "disk full ??");
	assert_string_equal(sget(json_array_get(failed, 1), "state"), "unreachable");
	json_decref(ev);
	free(text);

	/* At the start: nothing ended yet. */
	fake_job(f, 2, 0);
	f->j.state = JOB_RUNNING;
	f->j.ended_ms = 0;
	f->j.message[0] = '\0';
	ev = notify_event_json(COORD_EVENT_START, 1714564861234ull, "coord-1", &f->j);
	assert_string_equal(sget(ev, "event"), "start");
	job = json_object_get(ev, "job");
	assert_true(json_is_null(json_object_get(job, "ended_ms")));
	assert_string_equal(sget(job, "state"), "running");
	assert_int_equal(json_array_size(json_object_get(job, "failed_hosts")), 0);
	json_decref(ev);
	free(f);
}

static void
test_dingtalk_body(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));
	json_t *ev, *o, *md;
	const char *t;
	char *text;

	(void)state;
	fake_job(f, 25, 12);
	ev = notify_event_json(COORD_EVENT_HALT, 1714564861234ull, "coord-1", &f->j);
	text = notify_render(COORD_WEBHOOK_DINGTALK, ev);
	assert_non_null(text);
	o = parse(text);
	assert_string_equal(sget(o, "msgtype"), "markdown");
	md = json_object_get(o, "markdown");
	assert_string_equal(sget(md, "title"),
	                    "odc-fleet: job rollback-20240501T120000Z-abcdef halted");
	t = sget(md, "text");
	assert_non_null(
	    strstr(t, "#### odc-fleet: job rollback-20240501T120000Z-abcdef halted\n\n"));
	assert_non_null(
	    strstr(t, "**rollback** on 25 hosts, by alice: 4.3.0 <!channel> broke logins"));
	assert_non_null(strstr(t, "**State:** halted, stage batches"));
	assert_non_null(strstr(t, "**Message:** failure budget exceeded during the batches"));
	assert_non_null(strstr(t, "**Hosts:** 1 succeeded, 6 failed, 12 skipped, 6 unreachable"));
	assert_non_null(strstr(t, "\n- h00 failed at restore: obloader exited 1 on h00"));
	assert_non_null(strstr(t, "\n- h09 unreachable at dispatch: obloader exited 1 on h09"));
	assert_null(strstr(t, "h10 "));
	assert_non_null(strstr(t, "\n- and 2 more"));
	assert_non_null(strstr(t, "coordinator coord-1, 2024-05-01T12:01:01.234Z"));
	json_decref(o);
	free(text);
	json_decref(ev);

	/* The start: who and what, every host pending. */
	fake_job(f, 1, 0);
	f->j.state = JOB_RUNNING;
	f->j.stage = STAGE_QUORUM;
	f->j.message[0] = '\0';
	f->hosts[0].state = JH_PENDING;
	memset(f->j.counts, 0, sizeof(f->j.counts));
	f->j.counts[JH_PENDING] = 1;
	ev = notify_event_json(COORD_EVENT_START, 1714564861234ull, "coord-1", &f->j);
	text = notify_render(COORD_WEBHOOK_DINGTALK, ev);
	o = parse(text);
	md = json_object_get(o, "markdown");
	assert_string_equal(sget(md, "title"),
	                    "odc-fleet: job rollback-20240501T120000Z-abcdef started");
	t = sget(md, "text");
	assert_non_null(strstr(t, "**rollback** on 1 host, by alice"));
	assert_non_null(strstr(t, "**Hosts:** 1 pending"));
	assert_null(strstr(t, "Message"));
	assert_null(strstr(t, "Failed"));
	json_decref(o);
	free(text);
	json_decref(ev);
	free(f);
}

static void
test_slack_body(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));
	json_t *ev, *o, *blocks;
	const char *t;
	char *text;

	(void)state;
	fake_job(f, 3, 1);
	f->j.state = JOB_FAILED;
	f->j.stage = STAGE_DONE;
	snprintf(f->j.message, sizeof(f->j.message), "1 of 3 targets failed (budget 1)");
	ev = notify_event_json(COORD_EVENT_FINISH, 1714564861234ull, "coord-1", &f->j);
	text = notify_render(COORD_WEBHOOK_SLACK, ev);
	o = parse(text);
	assert_string_equal(sget(o, "text"),
	                    "odc-fleet: job rollback-20240501T120000Z-abcdef failed: "
	                    "1 of 3 targets failed (budget 1)");
	blocks = json_object_get(o, "blocks");
	assert_int_equal(json_array_size(blocks), 2);
	assert_string_equal(sget(json_array_get(blocks, 0), "type"), "section");
	assert_string_equal(sget(json_object_get(json_array_get(blocks, 0), "text"), "type"),
	                    "mrkdwn");
	t = sget(json_object_get(json_array_get(blocks, 0), "text"), "text");
	assert_non_null(strstr(t, "*odc-fleet: job `rollback-20240501T120000Z-abcdef` failed*\n"));
	/* Agents' and operators' text cannot ping a channel or make links. */
	assert_non_null(
	    strstr(t, "*rollback* on 3 hosts, by alice: 4.3.0 &lt;!channel&gt; broke logins"));
	assert_null(strstr(t, "<!channel>"));
	assert_non_null(strstr(t, "\n• h00 failed at restore: obloader exited 1 on h00"));
	assert_string_equal(sget(json_array_get(blocks, 1), "type"), "context");
	json_decref(o);
	free(text);
	json_decref(ev);

	/* Long messages everywhere: the section stays within Slack's 3000. */
	fake_job(f, 30, 30);
	for (size_t i = 0; i < 30; i++)
		memset(f->hosts[i].message, 'x', sizeof(f->hosts[i].message) - 1);
	memset(f->j.message, 'y', sizeof(f->j.message) - 1);
	ev = notify_event_json(COORD_EVENT_HALT, 1714564861234ull, "coord-1", &f->j);
	text = notify_render(COORD_WEBHOOK_SLACK, ev);
	o = parse(text);
	t = sget(json_object_get(json_array_get(json_object_get(o, "blocks"), 0), "text"), "text");
	assert_true(strlen(t) <= 3000);
	assert_true(strlen(sget(o, "text")) <= 1024);
	json_decref(o);
	free(text);
	json_decref(ev);
	free(f);
}

/* ---- what an operator wants in a chat ---- */

/* A rollback to 4.2.0 that ran on some hosts (changes), from two releases. */
static void
fake_change(struct fake *f, size_t n, size_t nfail)
{
	static struct proto_kv params[] = {{"to", "4.2.0"}, {"backup", "/var/backups/odc/b1"}};

	fake_job(f, n, nfail);
	f->jm.u.job.params = params;
	f->jm.u.job.n_params = 2;
	f->j.changes = true;
	f->j.n_units = n > 2 ? n - 2 : n; /* two deployments of two nodes */
	for (size_t i = 0; i < n && i <= nfail; i++)
		snprintf(f->hosts[i].phase, sizeof(f->hosts[i].phase), "run");
	snprintf(f->j.from[0].tag, sizeof(f->j.from[0].tag), "4.3.0");
	f->j.from[0].hosts = n > 3 ? n - 3 : 1;
	snprintf(f->j.from[1].tag, sizeof(f->j.from[1].tag), "4.2.1");
	f->j.from[1].hosts = 1;
	f->j.n_from = 2;
	f->j.from_unknown = n > 3 ? 2 : 0;
}

static void
test_operator_facts(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));
	json_t *ev, *job, *o;
	const char *t;
	char *text;

	(void)state;
	fake_change(f, 25, 12);
	ev = notify_event_json(COORD_EVENT_HALT, 1714564861234ull, "coord-1", &f->j);
	assert_non_null(ev);
	job = json_object_get(ev, "job");
	assert_true(json_is_false(json_object_get(job, "dry_run")));
	assert_true(json_is_true(json_object_get(job, "changes")));
	assert_string_equal(sget(job, "to"), "4.2.0");
	assert_string_equal(sget(json_object_get(job, "params"), "backup"), "/var/backups/odc/b1");
	o = json_object_get(job, "from");
	assert_int_equal(json_array_size(o), 2);
	assert_string_equal(sget(json_array_get(o, 0), "version"), "4.3.0");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(o, 0), "hosts")), 22);
	assert_int_equal(json_integer_value(json_object_get(job, "from_unknown")), 2);
	assert_int_equal(json_array_size(json_object_get(job, "target_hosts")), 20);
	assert_int_equal(json_integer_value(json_object_get(job, "target_hosts_more")), 5);
	assert_int_equal(json_integer_value(json_object_get(job, "units")), 23);
	o = json_object_get(job, "commands");
	assert_string_equal(sget(o, "results"),
	                    "odcctl job rollback-20240501T120000Z-abcdef --results");
	assert_string_equal(sget(o, "undo"), "odcctl undo --of rollback-20240501T120000Z-abcdef");

	text = notify_render(COORD_WEBHOOK_DINGTALK, ev);
	o = parse(text);
	t = sget(json_object_get(o, "markdown"), "text");
	assert_non_null(strstr(t, "**rollback** to 4.2.0 on 25 hosts, by alice"));
	assert_non_null(
	    strstr(t, "\n\n**From:** 4.3.0 on 22 hosts, 4.2.1 on 1 host, 2 unknown\n\n"));
	assert_non_null(strstr(t,
	                       "\n\n**Targets:** h00, h01, h02, h03, h04, h05, h06, h07, h08, h09 "
	                       "and 15 more (23 deployments)\n\n"));
	assert_non_null(
	    strstr(t, "\n\n**More:** `odcctl job rollback-20240501T120000Z-abcdef --results`"));
	assert_non_null(
	    strstr(t, "\n\n**Undo:** `odcctl undo --of rollback-20240501T120000Z-abcdef`"));
	/* The commands come before the failed hosts, whose list is what a cut shortens. */
	assert_true(strstr(t, "**Undo:**") < strstr(t, "**Failed:**"));
	json_decref(o);
	free(text);
	json_decref(ev);

	/* Succeeded: nothing to undo. A failed one whose run phase never went
	 * anywhere: nothing to undo either (odcctl would say "ran nothing"). */
	f->j.state = JOB_SUCCEEDED;
	ev = notify_event_json(COORD_EVENT_FINISH, 1714564861234ull, "coord-1", &f->j);
	assert_true(json_is_null(
	    json_object_get(json_object_get(json_object_get(ev, "job"), "commands"), "undo")));
	text = notify_render(COORD_WEBHOOK_SLACK, ev);
	assert_null(strstr(text, "Undo"));
	assert_non_null(
	    strstr(text, "*More:* `odcctl job rollback-20240501T120000Z-abcdef --results`"));
	free(text);
	json_decref(ev);
	f->j.state = JOB_FAILED;
	for (size_t i = 0; i < f->j.n; i++)
		snprintf(f->hosts[i].phase, sizeof(f->hosts[i].phase), "preflight");
	ev = notify_event_json(COORD_EVENT_FINISH, 1714564861234ull, "coord-1", &f->j);
	assert_true(json_is_null(
	    json_object_get(json_object_get(json_object_get(ev, "job"), "commands"), "undo")));
	json_decref(ev);

	/* A dry run says so in its headline, title and body. */
	static struct proto_kv dry[] = {{"to", "4.2.0"}, {"dry_run", "true"}};
	f->jm.u.job.params = dry;
	f->j.dry_run = true;
	f->j.changes = false;
	f->j.state = JOB_SUCCEEDED;
	ev = notify_event_json(COORD_EVENT_FINISH, 1714564861234ull, "coord-1", &f->j);
	assert_true(json_is_true(json_object_get(json_object_get(ev, "job"), "dry_run")));
	text = notify_render(COORD_WEBHOOK_DINGTALK, ev);
	o = parse(text);
	assert_string_equal(sget(json_object_get(o, "markdown"), "title"),
	                    "odc-fleet: job rollback-20240501T120000Z-abcdef (dry run) succeeded");
	assert_non_null(
	    strstr(sget(json_object_get(o, "markdown"), "text"),
	           "#### odc-fleet: job rollback-20240501T120000Z-abcdef (dry run) succeeded\n\n"
	           "**rollback** (dry run) to 4.2.0 on 25 hosts"));
	json_decref(o);
	free(text);
	text = notify_render(COORD_WEBHOOK_SLACK, ev);
	o = parse(text);
	assert_string_equal(sget(o, "text"),
	                    "odc-fleet: job rollback-20240501T120000Z-abcdef (dry run) succeeded: "
	                    "failure budget exceeded during the batches");
	json_decref(o);
	free(text);
	json_decref(ev);
	free(f);
}

/* The rule: a job that changes nothing never tells of a failure. */
static void
test_jobs_that_change_nothing(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));
	static const enum job_state ends[] = {JOB_SUCCEEDED, JOB_FAILED, JOB_HALTED, JOB_ABORTED};

	(void)state;
	fake_job(f, 3, 1);
	for (size_t k = 0; k < 4; k++) {
		f->j.state = ends[k];
		/* A change: every event. */
		f->j.changes = true;
		assert_true(notify_wanted(&f->j, COORD_EVENT_START));
		assert_true(notify_wanted(&f->j, COORD_EVENT_FINISH));
		assert_true(notify_wanted(&f->j, COORD_EVENT_HALT));
		/* A ping, a status, a dry run: its start and an end that is no failure. */
		f->j.changes = false;
		assert_true(notify_wanted(&f->j, COORD_EVENT_START));
		assert_false(notify_wanted(&f->j, COORD_EVENT_HALT));
		assert_int_equal(notify_wanted(&f->j, COORD_EVENT_FINISH),
		                 ends[k] == JOB_SUCCEEDED || ends[k] == JOB_ABORTED);
	}
	/* The action table says which jobs change nothing. */
	struct proto_kv dry = {"dry_run", "true"}, wet = {"dry_run", "false"};
	assert_false(proto_action_changes("ping", NULL, 0));
	assert_false(proto_action_changes("status", NULL, 0));
	assert_false(proto_action_changes("logs", NULL, 0));
	assert_false(proto_action_changes("preflight", NULL, 0));
	assert_false(proto_action_changes("rollback", &dry, 1));
	assert_true(proto_action_changes("rollback", &wet, 1));
	assert_true(proto_action_changes("rollback", NULL, 0));
	assert_true(proto_action_changes("undo", NULL, 0));
	assert_true(proto_action_changes("stop", NULL, 0));
	assert_true(proto_action_changes("start", NULL, 0));
	assert_true(proto_action_changes("backup", NULL, 0));
	assert_false(proto_action_changes("reboot", NULL, 0));
	free(f);
}

/* ---- DingTalk's signature ---- */

static void
test_dingtalk_sign(void **state)
{
	char out[256];

	(void)state;
	/* Python: base64(hmac.new(secret, f"{ts}\n{secret}", sha256)), then quote_plus. */
	assert_int_equal(
	    notify_dingtalk_sign("SEC0123456789abcdef", 1700000000123ull, out, sizeof(out)), 0);
	assert_string_equal(out, "V9VP5gL2WDsEZvZQHnbd9k4n%2Bp56ibcLMh%2BWKMZRQas%3D");
	assert_int_equal(
	    notify_dingtalk_url("https://oapi.dingtalk.com/robot/send?access_token=t0k",
	                        "SEC0123456789abcdef", 1700000000123ull, out, sizeof(out)),
	    0);
	assert_string_equal(out, "https://oapi.dingtalk.com/robot/send?access_token=t0k"
	                         "&timestamp=1700000000123"
	                         "&sign=V9VP5gL2WDsEZvZQHnbd9k4n%2Bp56ibcLMh%2BWKMZRQas%3D");
	assert_int_equal(notify_dingtalk_url("http://127.0.0.1:9/x", "SEC0123456789abcdef",
	                                     1700000000123ull, out, sizeof(out)),
	                 0);
	assert_non_null(strstr(out, "http://127.0.0.1:9/x?timestamp=1700000000123&sign="));
	/* No room: an error and an empty string, never a cut URL. */
	assert_int_equal(notify_dingtalk_url("http://127.0.0.1:9/x", "s", 1, out, 40), -1);
	assert_string_equal(out, "");
	assert_int_equal(notify_dingtalk_sign("s", 1, out, 10), -1);
	assert_string_equal(out, "");
}

/* ---- answers and backoff ---- */

static void
test_judge(void **state)
{
	static const struct {
		enum coord_webhook_format f;
		long status;
		const char *body;
		enum notify_verdict v;
		const char *why;
	} cases[] = {
	    {COORD_WEBHOOK_JSON, 200, "", NOTIFY_OK, "HTTP 200"},
	    {COORD_WEBHOOK_JSON, 204, NULL, NOTIFY_OK, "HTTP 204"},
	    {COORD_WEBHOOK_SLACK, 200, "ok", NOTIFY_OK, "HTTP 200"},
	    {COORD_WEBHOOK_JSON, 400, "bad\nbody", NOTIFY_FAIL, "HTTP 400: bad body"},
	    {COORD_WEBHOOK_SLACK, 404, "no_service", NOTIFY_FAIL, "HTTP 404: no_service"},
	    {COORD_WEBHOOK_JSON, 408, "", NOTIFY_RETRY, "HTTP 408"},
	    {COORD_WEBHOOK_SLACK, 429, "rate_limited", NOTIFY_RETRY, "HTTP 429: rate_limited"},
	    {COORD_WEBHOOK_JSON, 500, "oops", NOTIFY_RETRY, "HTTP 500: oops"},
	    {COORD_WEBHOOK_JSON, 503, "", NOTIFY_RETRY, "HTTP 503"},
	    {COORD_WEBHOOK_JSON, 302, "", NOTIFY_FAIL, "HTTP 302"},
	    {COORD_WEBHOOK_DINGTALK, 200, "{\"errcode\":0,\"errmsg\":\"ok\"}", NOTIFY_OK,
	     "HTTP 200"},
	    {COORD_WEBHOOK_DINGTALK, 200, "{\"errcode\":130101,\"errmsg\":\"send too fast\"}",
	     NOTIFY_RETRY, "DingTalk errcode 130101: send too fast"},
	    {COORD_WEBHOOK_DINGTALK, 200, "{\"errcode\":-1,\"errmsg\":\"busy\"}", NOTIFY_RETRY,
	     "DingTalk errcode -1: busy"},
	    {COORD_WEBHOOK_DINGTALK, 200, "{\"errcode\":310000,\"errmsg\":\"sign not match\"}",
	     NOTIFY_FAIL, "DingTalk errcode 310000: sign not match"},
	    {COORD_WEBHOOK_DINGTALK, 200, "<html>", NOTIFY_RETRY,
	     "HTTP 200 without a DingTalk errcode: <html>"},
	    {COORD_WEBHOOK_DINGTALK, 500, "", NOTIFY_RETRY, "HTTP 500"},
	};
	char why[320];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum notify_verdict v =
		    notify_judge(cases[i].f, cases[i].status, cases[i].body, why, sizeof(why));
		if (v != cases[i].v || strcmp(why, cases[i].why) != 0)
			fail_msg("case %zu: verdict %d why '%s', expected %d '%s'", i, v, why,
			         cases[i].v, cases[i].why);
	}
}

static void
test_backoff(void **state)
{
	(void)state;
	/* No jitter (rnd 0): 1 s, 2 s, 4 s... capped. */
	assert_int_equal(notify_backoff_ms(1000, 60000, 1, 0), 1000);
	assert_int_equal(notify_backoff_ms(1000, 60000, 2, 0), 2000);
	assert_int_equal(notify_backoff_ms(1000, 60000, 3, 0), 4000);
	assert_int_equal(notify_backoff_ms(1000, 60000, 7, 0), 60000);
	assert_int_equal(notify_backoff_ms(1000, 60000, 1000, 0), 60000);
	assert_int_equal(notify_backoff_ms(1000, 1000, 5, 0), 1000);
	/* Jitter takes up to a quarter off, so each delay still beats the one before. */
	for (uint32_t r = 0; r < 5000; r += 7) {
		uint64_t a = notify_backoff_ms(1000, 60000, 1, r * 2654435761u);
		uint64_t b = notify_backoff_ms(1000, 60000, 2, r * 2654435761u + 1);
		assert_true(a >= 750 && a <= 1000);
		assert_true(b >= 1500 && b <= 2000);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_event_for),
	    cmocka_unit_test(test_generic_body),
	    cmocka_unit_test(test_dingtalk_body),
	    cmocka_unit_test(test_slack_body),
	    cmocka_unit_test(test_dingtalk_sign),
	    cmocka_unit_test(test_judge),
	    cmocka_unit_test(test_backoff),
	    cmocka_unit_test(test_operator_facts),
	    cmocka_unit_test(test_jobs_that_change_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
