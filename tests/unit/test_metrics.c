/* The coordinator's metrics text (coordinator/metrics.c): a hand-built
 * registry and job rendered into the exposition format 0.0.4, checked line by
 * line: HELP and TYPE before each family's samples, samples of one family
 * together, label values escaped, revoked and never-seen hosts handled, the
 * counters' bounds, and the output's size limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/buf.h"
#include "coordinator/coord.h"

#define NOW_MS   1800000000000ull
#define NOW_MONO 5000000ull

/* A registry of four hosts and one job. */
struct fx {
	struct coord co;
	struct coord_conf conf;
	struct host hosts[4];
	struct job job;
	struct proto_msg jm;
	struct proto_frames beat;
	struct buf out;
};

static struct host *
add_host(struct fx *f, int i, const char *id, enum host_status st)
{
	struct host *h = &f->hosts[i];

	snprintf(h->id, sizeof(h->id), "%s", id);
	h->status = st;
	assert_int_equal(map_put_str(f->co.hosts, h->id, h), 0);
	return h;
}

/* Counts a job of action that ended in state after ms. */
static void
end_job(struct fx *f, const char *action, bool dry_run, enum job_state state, uint64_t ms)
{
	struct proto_msg jm = {.type = PROTO_JOB};
	struct job j = {.jm = &jm,
	                .state = state,
	                .dry_run = dry_run,
	                .submitted_ms = NOW_MS - ms,
	                .ended_ms = NOW_MS};

	jm.u.job.action = action;
	j.action_idx = proto_action_index(action);
	metrics_job_ended(&f->co, &j);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct proto_msg hb = {.type = PROTO_HEARTBEAT};
	struct proto_error e;
	struct host *h;

	assert_non_null(f);
	f->conf.id = "coord-\"1\"";
	f->co.conf = &f->conf;
	f->co.hosts = map_new();
	assert_non_null(f->co.hosts);
	f->co.stats.started_ms = 1700000000123ull;

	/* h1: online, beating, with a version an agent could send to cause
	 * trouble in a label. */
	hb.u.heartbeat.host_id = "h1";
	hb.u.heartbeat.sent_ms = NOW_MS;
	hb.u.heartbeat.has_odc = true;
	hb.u.heartbeat.odc = (struct proto_container){"abc",     "obodc",   "odc-server:4.3.0",
	                                              "running", "healthy", "4.3.0 \"rc\\1\"\nx"};
	assert_int_equal(proto_encode(&hb, NULL, &f->beat, &e), PROTO_OK);
	h = add_host(f, 0, "h1", HOST_ONLINE);
	snprintf(h->agent_version, sizeof(h->agent_version), "0.1.0");
	h->last_beat_ms = NOW_MS - 1500;
	h->last_beat_mono = NOW_MONO - 1250; /* the monotonic clock wins */
	h->restarts = 2;
	h->beat = f->beat.body;
	h->beat_len = f->beat.body_len;
	/* h2: lost, seen by an earlier life only (wall clock). */
	h = add_host(f, 1, "h2", HOST_LOST);
	h->last_beat_ms = NOW_MS - 90000;
	/* h0: never seen; h9: revoked. */
	add_host(f, 2, "h0", HOST_NEVER);
	h = add_host(f, 3, "h9", HOST_ONLINE);
	h->revoked = true;

	f->jm.type = PROTO_JOB;
	f->jm.u.job.action = "ping";
	f->jm.u.job.operator_name = "alice";
	snprintf(f->job.id, sizeof(f->job.id), "ping-1");
	f->job.jm = &f->jm;
	f->job.state = JOB_RUNNING;
	f->job.stage = STAGE_BATCHES;
	f->job.counts[JH_RUNNING] = 1;
	f->job.counts[JH_SUCCEEDED] = 2;
	f->co.jobs = &f->job;

	metrics_count_received(&f->co, PROTO_HEARTBEAT);
	metrics_count_received(&f->co, PROTO_HEARTBEAT);
	metrics_count_sent(&f->co, PROTO_WELCOME, true);
	metrics_count_sent(&f->co, PROTO_DISPATCH, false);
	metrics_count_rejected(&f->co, COORD_SOCK_AGENTS, PROTO_E_BAD_SIGNATURE);
	metrics_count_rejected(&f->co, COORD_SOCK_AGENTS, PROTO_E_DENIED);
	metrics_count_rejected(&f->co, COORD_SOCK_AGENTS, COORD_REJECT_NOT_ENROLLED);
	metrics_count_rejected(&f->co, COORD_SOCK_CONTROL, PROTO_E_UNKNOWN_KEY);
	metrics_count_refused(&f->co, COORD_SOCK_AGENTS, COORD_REFUSED_REVOKED);
	f->co.stats.jobs_submitted = 3;
	f->co.stats.job_hosts_ended[JH_UNREACHABLE] = 1;
	f->co.stats.reverts[PROTO_REVERT_DUE] = 2;
	f->co.stats.reverts[PROTO_REVERT_OK] = 1;
	/* Ended: two pings that succeeded (3.5 s, 2 hours), a dry run of a
	 * rollback that halted (61 s); steps that agents reported. */
	end_job(f, "ping", false, JOB_SUCCEEDED, 3500);
	end_job(f, "ping", false, JOB_SUCCEEDED, 7200000);
	end_job(f, "rollback", true, JOB_HALTED, 61000);
	metrics_step_result(&f->co, "rollback", "restore", 42250);
	metrics_step_result(&f->co, "rollback", "preflight", 900);
	metrics_step_result(&f->co, "ping", "ping", 12);
	buf_init(&f->out, 1 << 20);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	map_free(f->co.hosts);
	proto_frames_free(&f->beat);
	buf_free(&f->out);
	free(f);
	return 0;
}

static const char *
render(struct fx *f)
{
	buf_reset(&f->out);
	assert_int_equal(metrics_render(&f->co, NOW_MS, NOW_MONO, &f->out), 0);
	assert_non_null(f->out.data);
	return (const char *)f->out.data;
}

static void
has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)) != NULL; p += n)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return;
	fail_msg("no line '%s' in:\n%s", line, text);
}

static void
lacks(const char *text, const char *what)
{
	if (strstr(text, what) != NULL)
		fail_msg("'%s' should not be in:\n%s", what, text);
}

static void
test_samples(void **state)
{
	struct fx *f = *state;
	const char *t = render(f);

	has_line(t, "odc_fleet_coordinator_info{id=\"coord-\\\"1\\\"\",version=\"" COORD_VERSION
	            "\"} 1");
	has_line(t, "odc_fleet_coordinator_start_time_seconds 1700000000.123");
	has_line(t, "odc_fleet_hosts{status=\"online\"} 1");
	has_line(t, "odc_fleet_hosts{status=\"lost\"} 1");
	has_line(t, "odc_fleet_hosts{status=\"never\"} 1");
	has_line(t, "odc_fleet_hosts{status=\"revoked\"} 1");
	has_line(t, "odc_fleet_host_up{host=\"h0\"} 0");
	has_line(t, "odc_fleet_host_up{host=\"h1\"} 1");
	has_line(t, "odc_fleet_host_up{host=\"h2\"} 0");
	has_line(t, "odc_fleet_host_heartbeat_age_seconds{host=\"h1\"} 1.250");
	has_line(t, "odc_fleet_host_heartbeat_age_seconds{host=\"h2\"} 90.000");
	has_line(t, "odc_fleet_host_info{host=\"h1\",agent_version=\"0.1.0\",odc_version=\"4.3.0 "
	            "\\\"rc\\\\1\\\"\\nx\","
	            "container_state=\"running\",container_health=\"healthy\"} 1");
	has_line(t, "odc_fleet_host_info{host=\"h2\",agent_version=\"\",odc_version=\"\",container_"
	            "state=\"\","
	            "container_health=\"\"} 1");
	has_line(t, "odc_fleet_host_restarts_total{host=\"h1\"} 2");
	has_line(t,
	         "odc_fleet_job_info{job_id=\"ping-1\",action=\"ping\",dry_run=\"false\",operator="
	         "\"alice\",state=\"running\",stage=\"batches\"} 1");
	has_line(t, "odc_fleet_job_hosts{job_id=\"ping-1\",state=\"running\"} 1");
	has_line(t, "odc_fleet_job_hosts{job_id=\"ping-1\",state=\"succeeded\"} 2");
	has_line(t, "odc_fleet_job_hosts{job_id=\"ping-1\",state=\"pending\"} 0");
	has_line(t, "odc_fleet_jobs_submitted_total 3");
	/* Per action, dry run for the actions that have one, and state. */
	has_line(
	    t,
	    "odc_fleet_jobs_ended_total{action=\"ping\",dry_run=\"false\",state=\"succeeded\"} 2");
	has_line(
	    t, "odc_fleet_jobs_ended_total{action=\"ping\",dry_run=\"false\",state=\"aborted\"} 0");
	has_line(
	    t,
	    "odc_fleet_jobs_ended_total{action=\"rollback\",dry_run=\"true\",state=\"halted\"} 1");
	has_line(
	    t,
	    "odc_fleet_jobs_ended_total{action=\"rollback\",dry_run=\"false\",state=\"halted\"} 0");
	has_line(
	    t, "odc_fleet_jobs_ended_total{action=\"undo\",dry_run=\"false\",state=\"failed\"} 0");
	lacks(t, "odc_fleet_jobs_ended_total{action=\"ping\",dry_run=\"true\"");
	/* Histograms: cumulative buckets, the sum in seconds, the count. */
	has_line(t, "# TYPE odc_fleet_job_duration_seconds histogram");
	has_line(t, "odc_fleet_job_duration_seconds_bucket{action=\"ping\",dry_run=\"false\",state="
	            "\"succeeded\","
	            "le=\"1\"} 0");
	has_line(t, "odc_fleet_job_duration_seconds_bucket{action=\"ping\",dry_run=\"false\",state="
	            "\"succeeded\","
	            "le=\"5\"} 1");
	has_line(t, "odc_fleet_job_duration_seconds_bucket{action=\"ping\",dry_run=\"false\",state="
	            "\"succeeded\","
	            "le=\"3600\"} 1");
	has_line(t, "odc_fleet_job_duration_seconds_bucket{action=\"ping\",dry_run=\"false\",state="
	            "\"succeeded\","
	            "le=\"7200\"} 2");
	has_line(t, "odc_fleet_job_duration_seconds_bucket{action=\"ping\",dry_run=\"false\",state="
	            "\"succeeded\","
	            "le=\"+Inf\"} 2");
	has_line(t, "odc_fleet_job_duration_seconds_sum{action=\"ping\",dry_run=\"false\",state="
	            "\"succeeded\"} "
	            "7203.500");
	has_line(t, "odc_fleet_job_duration_seconds_count{action=\"ping\",dry_run=\"false\",state="
	            "\"succeeded\"} 2");
	has_line(t, "odc_fleet_job_duration_seconds_bucket{action=\"rollback\",dry_run=\"true\","
	            "state=\"halted\","
	            "le=\"60\"} 0");
	has_line(t, "odc_fleet_job_duration_seconds_bucket{action=\"rollback\",dry_run=\"true\","
	            "state=\"halted\","
	            "le=\"120\"} 1");
	has_line(t, "# TYPE odc_fleet_step_duration_seconds histogram");
	has_line(t, "odc_fleet_step_duration_seconds_bucket{action=\"rollback\",step=\"restore\","
	            "le=\"30\"} 0");
	has_line(t, "odc_fleet_step_duration_seconds_bucket{action=\"rollback\",step=\"restore\","
	            "le=\"60\"} 1");
	has_line(
	    t, "odc_fleet_step_duration_seconds_sum{action=\"rollback\",step=\"restore\"} 42.250");
	has_line(t,
	         "odc_fleet_step_duration_seconds_count{action=\"rollback\",step=\"preflight\"} 1");
	has_line(t,
	         "odc_fleet_step_duration_seconds_count{action=\"rollback\",step=\"snapshot\"} 0");
	has_line(
	    t, "odc_fleet_step_duration_seconds_bucket{action=\"ping\",step=\"ping\",le=\"1\"} 1");
	has_line(t, "odc_fleet_step_duration_seconds_count{action=\"undo\",step=\"health\"} 0");
	lacks(t, "step=\"snapshot\",le=\"1\"} 1");
	lacks(t, "action=\"undo\",step=\"snapshot\"");
	has_line(t, "odc_fleet_job_hosts_ended_total{state=\"unreachable\"} 1");
	/* Reverts by the state entered; running is a passage, not counted. */
	has_line(t, "odc_fleet_job_host_reverts_total{state=\"due\"} 2");
	has_line(t, "odc_fleet_job_host_reverts_total{state=\"ok\"} 1");
	has_line(t, "odc_fleet_job_host_reverts_total{state=\"failed\"} 0");
	lacks(t, "odc_fleet_job_host_reverts_total{state=\"running\"}");
	has_line(t, "odc_fleet_messages_received_total{type=\"HEARTBEAT\"} 2");
	has_line(t, "odc_fleet_messages_received_total{type=\"JOB\"} 0");
	has_line(t, "odc_fleet_messages_sent_total{type=\"WELCOME\"} 1");
	has_line(t, "odc_fleet_messages_send_failed_total{type=\"DISPATCH\"} 1");
	has_line(t,
	         "odc_fleet_messages_rejected_total{socket=\"agents\",reason=\"BAD_SIGNATURE\"} 1");
	has_line(t,
	         "odc_fleet_messages_rejected_total{socket=\"agents\",reason=\"UNKNOWN_KEY\"} 0");
	has_line(t, "odc_fleet_messages_rejected_total{socket=\"agents\",reason=\"DENIED\"} 1");
	has_line(t,
	         "odc_fleet_messages_rejected_total{socket=\"agents\",reason=\"NOT_ENROLLED\"} 1");
	has_line(t,
	         "odc_fleet_messages_rejected_total{socket=\"control\",reason=\"UNKNOWN_KEY\"} 1");
	has_line(t, "odc_fleet_signature_failures_total{socket=\"agents\"} 1");
	has_line(t, "odc_fleet_signature_failures_total{socket=\"control\"} 1");
	has_line(t, "odc_fleet_connections_refused_total{socket=\"agents\",reason=\"REVOKED\"} 1");
	has_line(t,
	         "odc_fleet_connections_refused_total{socket=\"control\",reason=\"NO_CURVE\"} 0");
	/* Only the reasons that happened, besides the signature ones. */
	lacks(t, "reason=\"TRAILING\"");
	/* The revoked host is counted, not listed; the never-seen one has no age. */
	lacks(t, "host=\"h9\"");
	lacks(t, "odc_fleet_host_heartbeat_age_seconds{host=\"h0\"}");
}

/* Every line is a comment (HELP, TYPE) or `name{labels} value`; each family
 * has HELP then TYPE before its samples, which follow without a break. */
static void
test_format(void **state)
{
	struct fx *f = *state;
	char *copy = strdup(render(f)), *save = NULL, *line;
	char family[128] = "", seen[8192] = " ";
	char *series[4096]; /* each sample's name{labels}: no series twice */
	bool histogram = false;
	int samples = 0;

	assert_non_null(copy);
	assert_int_equal(copy[strlen(copy) - 1], '\n');
	for (line = strtok_r(copy, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		char name[128], type[16], key[160];
		if (sscanf(line, "# HELP %127s", name) == 1) {
			snprintf(key, sizeof(key), " %s ", name);
			if (strstr(seen, key) != NULL)
				fail_msg("family %s appears twice", name);
			size_t used = strlen(seen);
			if (used + strlen(key) >= sizeof(seen))
				fail_msg("too many families");
			snprintf(seen + used, sizeof(seen) - used, "%s ", name);
			snprintf(family, sizeof(family), "%s", name);
			continue;
		}
		if (sscanf(line, "# TYPE %127s %15s", name, type) == 2) {
			assert_string_equal(name, family);
			assert_true(strcmp(type, "gauge") == 0 || strcmp(type, "counter") == 0 ||
			            strcmp(type, "histogram") == 0);
			histogram = strcmp(type, "histogram") == 0;
			if (strcmp(type, "counter") == 0)
				assert_non_null(strstr(name, "_total"));
			continue;
		}
		assert_int_not_equal(line[0], '#');
		size_t n = strcspn(line, "{ "), fn = strlen(family);
		/* A histogram's samples are FAMILY_bucket (with le), _sum, _count. */
		bool in = strncmp(line, family, fn) == 0 &&
		          (histogram ? (n == fn + 7 && strncmp(line + fn, "_bucket", 7) == 0 &&
		                        strstr(line, ",le=\"") != NULL) ||
		                           (n == fn + 4 && strncmp(line + fn, "_sum", 4) == 0) ||
		                           (n == fn + 6 && strncmp(line + fn, "_count", 6) == 0)
		                     : n == fn);
		if (!in)
			fail_msg("sample '%s' outside its family (current: %s)", line, family);
		const char *value = strrchr(line, ' ');
		char *end;
		assert_non_null(value);
		strtod(value + 1, &end);
		assert_true(end != value + 1 && *end == '\0');
		assert_true(samples < (int)(sizeof(series) / sizeof(series[0])));
		series[samples] = strndup(line, (size_t)(value - line));
		assert_non_null(series[samples]);
		for (int i = 0; i < samples; i++)
			if (strcmp(series[i], series[samples]) == 0)
				fail_msg("series %s appears twice", series[i]);
		samples++;
	}
	assert_true(samples > 40);
	for (int i = 0; i < samples; i++)
		free(series[i]);
	free(copy);
}

static void
test_label_escaping(void **state)
{
	struct buf b;
	char quotes[41];

	(void)state;
	buf_init(&b, 64);
	assert_int_equal(metrics_label_value(&b, "a\\b\"c\nd"), 0);
	assert_string_equal((const char *)b.data, "a\\\\b\\\"c\\nd");
	buf_reset(&b);
	assert_int_equal(metrics_label_value(&b, "plain é"), 0);
	assert_string_equal((const char *)b.data, "plain é");
	buf_reset(&b);
	assert_int_equal(metrics_label_value(&b, ""), 0);
	assert_int_equal(b.len, 0);
	/* 40 quotes escape to 80 bytes: over the limit, refused. */
	memset(quotes, '"', 40);
	quotes[40] = '\0';
	assert_int_equal(metrics_label_value(&b, quotes), -1);
	buf_free(&b);
}

static void
test_bounded(void **state)
{
	struct fx *f = *state;
	struct buf small;

	buf_init(&small, 512);
	assert_int_equal(metrics_render(&f->co, NOW_MS, NOW_MONO, &small), -1);
	assert_true(small.len <= 512);
	buf_free(&small);
}

/* The size the README promises for a large fleet, far under the 32 MiB
 * the handler allows. */
static void
test_ten_thousand_hosts(void **state)
{
	struct fx *f = *state;
	struct host *many = calloc(10000, sizeof(*many));
	struct buf b;

	assert_non_null(many);
	for (int i = 0; i < 10000; i++) {
		struct host *h = &many[i];
		snprintf(h->id, sizeof(h->id), "odc-host-%05d.example", i);
		snprintf(h->agent_version, sizeof(h->agent_version), "0.1.0");
		h->status = HOST_ONLINE;
		h->last_beat_ms = NOW_MS - 800;
		h->last_beat_mono = NOW_MONO - 800;
		h->beat = f->beat.body;
		h->beat_len = f->beat.body_len;
		assert_int_equal(map_put_str(f->co.hosts, h->id, h), 0);
	}
	buf_init(&b, 32u * 1024 * 1024);
	assert_int_equal(metrics_render(&f->co, NOW_MS, NOW_MONO, &b), 0);
	print_message("10,000 hosts: %zu bytes\n", b.len);
	assert_true(b.len > 2u * 1024 * 1024 && b.len < 4u * 1024 * 1024);
	assert_non_null(
	    strstr((const char *)b.data, "odc_fleet_host_up{host=\"odc-host-09999.example\"} 1\n"));
	buf_free(&b);
	free(many);
}

/* Codes from the wire are bounded before they index anything. */
static void
test_counters_ignore_out_of_range(void **state)
{
	struct fx *f = *state;
	struct coord_stats before = f->co.stats;

	metrics_count_received(&f->co, -1);
	metrics_count_received(&f->co, COORD_TYPE_SLOTS);
	metrics_count_sent(&f->co, 1000, true);
	metrics_count_rejected(&f->co, COORD_SOCK_AGENTS, 0);
	metrics_count_rejected(&f->co, COORD_SOCK_AGENTS, COORD_REJECT_SLOTS);
	metrics_count_rejected(&f->co, COORD_SOCK_COUNT, PROTO_E_FRAMES);
	metrics_count_refused(&f->co, COORD_SOCK_CONTROL, COORD_REFUSED_COUNT);
	/* A step no action has, an action not in the table: not counted. */
	metrics_step_result(&f->co, "rollback", "snapshot2", 10);
	metrics_step_result(&f->co, "ping", "restore", 10);
	metrics_step_result(&f->co, "reboot", "ping", 10);
	end_job(f, "reboot", false, JOB_FAILED, 10);
	assert_memory_equal(&before, &f->co.stats, sizeof(before));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_samples, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_format, setup, teardown),
	    cmocka_unit_test(test_label_escaping),
	    cmocka_unit_test_setup_teardown(test_bounded, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ten_thousand_hosts, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_counters_ignore_out_of_range, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
