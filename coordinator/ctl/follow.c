/* Following a job (watch, and exec/rollback/undo after submitting): ask
 * `job` for what changed since the last answer (the coordinator holds the
 * question until something changes, up to FOLLOW_WAIT_MS), merge it into
 * the whole picture, draw progress, and end with a summary and an exit
 * status that says how the job ended. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "coordinator/ctl/ctl.h"

#define FOLLOW_WAIT_MS 2000
#define FOLLOW_LINE    1024

struct follow {
	struct ctl *c;
	const char *job_id;
	bool tty;    /* redraw in place */
	bool quiet;  /* -o json: nothing until the end... */
	bool stream; /* ...unless streamed: each answer as a JSON line */
	json_t *cur; /* the job as known so far: summary and every host */
	int drawn;   /* lines drawn last time (TTY) */
};

static void
follow_signal(int sig)
{
	(void)sig;
	ctl_interrupted = 1;
}

/* Cuts s to at most width code points. */
static void
follow_cut(char *s, size_t width)
{
	size_t w = 0;

	for (char *p = s; *p; p++)
		if (((unsigned char)*p & 0xc0) != 0x80 && w++ == width) {
			*p = '\0';
			return;
		}
}

/* "[#####.....] 12/40 done  failed 1  stage batches (batch 3)  state running" */
static void
follow_bar_line(const json_t *job, char *out, size_t outlen)
{
	long long total = ji(job, "targets", 0), done, failed;
	char bar[64], batch[32] = "";

	out_done_failed(job, &done, &failed);
	if (ji(job, "batch", 0) > 0)
		snprintf(batch, sizeof(batch), " (batch %lld)", ji(job, "batch", 0));
	out_bar(done > 0 ? (uint64_t)done : 0, total > 0 ? (uint64_t)total : 0, 20, bar,
	        sizeof(bar));
	snprintf(out, outlen, "%s %lld/%lld done  failed %lld  stage %s%s  state %s", bar, done,
	         total, failed, js(job, "stage"), batch, js(job, "state"));
}

/* The order hosts are shown in on a terminal: work in progress first, then
 * failures, then the rest; pending hosts are not shown. */
static int
follow_rank(const char *state)
{
	static const enum proto_host_state order[] = {
	    PROTO_HOST_RUNNING, PROTO_HOST_PREFLIGHT, PROTO_HOST_FAILED, PROTO_HOST_UNREACHABLE,
	    PROTO_HOST_READY,   PROTO_HOST_SUCCEEDED, PROTO_HOST_SKIPPED};
	int s = proto_host_state_from_name(state);

	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if ((int)order[i] == s)
			return (int)i;
	return -1;
}

static void
follow_draw(struct follow *fw, const json_t *job, bool final)
{
	const json_t *hosts = json_object_get(job, "hosts");
	char line[FOLLOW_LINE], clean[FOLLOW_LINE];
	int rows, cols, room, shown = 0, lines = 0;
	size_t hw = 4, i, total = 0;
	const json_t *h;

	out_term_size(&rows, &cols);
	if (fw->drawn > 0)
		printf("\r\033[%dA\033[J", fw->drawn);
	follow_bar_line(job, line, sizeof(line));
	out_clean(line, clean, sizeof(clean));
	follow_cut(clean, (size_t)(cols > 1 ? cols - 1 : 1));
	printf("%s\n", clean);
	lines++;
	room = final ? 0 : rows - 2;
	json_array_foreach(hosts, i, h)
	{
		if (follow_rank(js(h, "state")) < 0)
			continue;
		total++;
		if (out_width(js(h, "host")) > hw)
			hw = out_width(js(h, "host"));
	}
	for (int rank = 0; rank < 7 && shown < room; rank++)
		json_array_foreach(hosts, i, h)
		{
			const char *step =
			    js(h, "failed_step")[0] ? js(h, "failed_step") : js(h, "step");
			if (follow_rank(js(h, "state")) != rank)
				continue;
			if (shown == room - 1 && total > (size_t)room) {
				break; /* the last line says how many more */
			}
			char what[1200];
			/* A host being put back says how its revert goes. */
			if (js(h, "revert")[0] != '\0')
				snprintf(what, sizeof(what), "revert %s: %s", js(h, "revert"),
				         js(h, "revert_message"));
			else
				snprintf(what, sizeof(what), "%s", js(h, "message"));
			snprintf(line, sizeof(line), "  %-*s  %-11s %-10s %s", (int)hw,
			         js(h, "host"), js(h, "state"), step[0] ? step : "-", what);
			out_clean(line, clean, sizeof(clean));
			follow_cut(clean, (size_t)(cols > 1 ? cols - 1 : 1));
			printf("%s\n", clean);
			shown++;
			lines++;
		}
	if (!final && total > (size_t)shown && room > 0) {
		printf("  ... %zu more\n", total - (size_t)shown);
		lines++;
	}
	fflush(stdout);
	fw->drawn = final ? 0 : lines;
}

/* The job line of the plain log: "job J: running, stage batches (batch 3)". */
static void
follow_job_line(const json_t *job, char *out, size_t outlen)
{
	char batch[32] = "";
	size_t n;

	if (ji(job, "batch", 0) > 0)
		snprintf(batch, sizeof(batch), " (batch %lld)", ji(job, "batch", 0));
	if (out_job_final(js(job, "state")))
		n = (size_t)snprintf(out, outlen, "job %s: %s", js(job, "job_id"),
		                     js(job, "state"));
	else
		n = (size_t)snprintf(out, outlen, "job %s: %s, stage %s%s", js(job, "job_id"),
		                     js(job, "state"), js(job, "stage"), batch);
	if (js(job, "message")[0] != '\0' && n < outlen)
		snprintf(out + n, outlen - n, ": %s", js(job, "message"));
}

static bool
follow_same(const json_t *a, const json_t *b, const char *key)
{
	return strcmp(js(a, key), js(b, key)) == 0;
}

/* Without a terminal: one line per change, for logs and pipes. */
static void
follow_log_job(const json_t *prev, const json_t *job)
{
	char line[FOLLOW_LINE], clean[FOLLOW_LINE], t[16];

	if (prev == NULL || !follow_same(prev, job, "state") || !follow_same(prev, job, "stage") ||
	    !follow_same(prev, job, "message") || ji(prev, "batch", 0) != ji(job, "batch", 0)) {
		follow_job_line(job, line, sizeof(line));
		printf("%s %s\n", out_clock((int64_t)proto_now_ms(), t, sizeof(t)),
		       out_clean(line, clean, sizeof(clean)));
	}
}

/* One host's line when it changed from p (NULL: first sight) to h. */
static void
follow_log_host(const json_t *p, const json_t *h)
{
	const char *step = js(h, "failed_step")[0] ? js(h, "failed_step") : js(h, "step");
	char line[FOLLOW_LINE], clean[FOLLOW_LINE], t[16];
	size_t n;

	bool same = p != NULL && follow_same(p, h, "host");

	/* Its revert (an upgrade's deployment put back), on a line of its own. */
	if (js(h, "revert")[0] != '\0' &&
	    !(same && follow_same(p, h, "revert") && follow_same(p, h, "revert_message"))) {
		snprintf(line, sizeof(line), "%s revert %s: %s", js(h, "host"), js(h, "revert"),
		         js(h, "revert_message"));
		printf("%s %s\n", out_clock((int64_t)proto_now_ms(), t, sizeof(t)),
		       out_clean(line, clean, sizeof(clean)));
	}
	if (same && follow_same(p, h, "state") &&
	    ((follow_same(p, h, "step") && follow_same(p, h, "failed_step") &&
	      follow_same(p, h, "message")) ||
	     js(h, "revert")[0] != '\0'))
		return; /* a revert's steps are said on its own line */
	if (p == NULL && proto_host_state_from_name(js(h, "state")) == PROTO_HOST_PENDING &&
	    step[0] == '\0')
		return;
	n = (size_t)snprintf(line, sizeof(line), "%s %s", js(h, "host"), js(h, "state"));
	if (step[0] != '\0' && n < sizeof(line))
		n += (size_t)snprintf(line + n, sizeof(line) - n, " %s", step);
	if (js(h, "message")[0] != '\0' && n < sizeof(line))
		snprintf(line + n, sizeof(line) - n, ": %s", js(h, "message"));
	printf("%s %s\n",
	       out_clock(jnull(h, "updated_ms") ? (int64_t)proto_now_ms() : ji(h, "updated_ms", -1),
	                 t, sizeof(t)),
	       out_clean(line, clean, sizeof(clean)));
}

/* Merges an answer into fw->cur (taking the reference), logging the changes
 * when there is no terminal. The first answer has every host; the later
 * ones only those that changed, each put at its `order`. */
static int
follow_merge(struct follow *fw, json_t *job)
{
	json_t *hosts = json_object_get(job, "hosts"), *cur_hosts, *h;
	bool log = !fw->tty && !fw->quiet;
	size_t i;

	if (!json_is_array(hosts)) {
		json_decref(job);
		return -1;
	}
	if (fw->cur == NULL) {
		if (log) {
			follow_log_job(NULL, job);
			json_array_foreach(hosts, i, h) follow_log_host(NULL, h);
		}
		fw->cur = job;
		return 0;
	}
	if (log)
		follow_log_job(fw->cur, job);
	cur_hosts = json_object_get(fw->cur, "hosts");
	json_array_foreach(hosts, i, h)
	{
		long long at = ji(h, "order", -1);
		if (at < 0 || (size_t)at >= json_array_size(cur_hosts) ||
		    strcmp(js(json_array_get(cur_hosts, (size_t)at), "host"), js(h, "host")) != 0) {
			json_decref(job);
			return -1;
		}
		if (log)
			follow_log_host(json_array_get(cur_hosts, (size_t)at), h);
		json_array_set(cur_hosts, (size_t)at, h);
	}
	json_incref(cur_hosts);
	json_object_update(fw->cur, job);                 /* the summary's keys, and hosts... */
	json_object_set_new(fw->cur, "hosts", cur_hosts); /* ...put back */
	json_decref(job);
	if (log)
		fflush(stdout);
	return 0;
}

static void
follow_summary(const json_t *job)
{
	static const char *const head[] = {"HOST", "STATE", "FAILED-AT", "MESSAGE"};
	const json_t *hosts = json_object_get(job, "hosts");
	struct out_table *t = out_table_new(4, head);
	char line[FOLLOW_LINE], clean[FOLLOW_LINE], cnt[512], dur[32] = "";
	long long submitted = ji(job, "submitted_ms", 0), ended = ji(job, "ended_ms", -1);
	const json_t *h;
	size_t i;
	bool trouble = false;

	follow_job_line(job, line, sizeof(line));
	printf("\n%s\n", out_clean(line, clean, sizeof(clean)));
	if (ended >= submitted)
		out_duration((uint64_t)(ended - submitted), dur, sizeof(dur));
	printf("%lld host%s: %s%s%s\n", ji(job, "targets", 0),
	       ji(job, "targets", 0) == 1 ? "" : "s", out_counts(job, cnt, sizeof(cnt)),
	       dur[0] ? ", in " : "", dur);
	json_array_foreach(hosts, i, h)
	{
		const char *cells[4] = {js(h, "host"), js(h, "state"), js(h, "failed_step"),
		                        js(h, "message")};
		if (proto_host_state_from_name(js(h, "state")) != PROTO_HOST_SUCCEEDED)
			trouble = true;
		out_table_row(t, cells);
	}
	out_table_print(t, stdout, NULL);
	out_table_free(t);
	if (trouble)
		printf("details: odcctl job %s --results\n", js(job, "job_id"));
}

static int
follow_exit(const char *state)
{
	switch (proto_job_state_from_name(state)) {
	case PROTO_JOB_SUCCEEDED:
		return CTL_EXIT_OK;
	case PROTO_JOB_FAILED:
		return CTL_EXIT_FAILED;
	default:
		return CTL_EXIT_HALTED; /* halted, aborted */
	}
}

int
follow_job(struct ctl *c, const char *job_id, json_t *start, enum follow_show show)
{
	bool json = c->output == CTL_OUT_JSON, silent = show == FOLLOW_SILENT && !json;
	struct follow fw = {c,    job_id, false, json || silent, show == FOLLOW_STREAM && json,
	                    NULL, 0};
	struct sigaction sa = {0}, old_int, old_term;
	uint64_t wait = c->timeout_ms / 2 < FOLLOW_WAIT_MS ? c->timeout_ms / 2 : FOLLOW_WAIT_MS;
	json_t *job = NULL;
	int ret;

	fw.tty = !fw.quiet && isatty(STDOUT_FILENO);
	/* No SA_RESTART: a signal ends the wait for a reply at once. */
	sa.sa_handler = follow_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	if (start != NULL && follow_merge(&fw, json_incref(start)) != 0) {
		ctl_error(c, "job %s: cannot start following it", job_id);
		ret = CTL_EXIT_FAILED;
		goto out;
	}
	for (;;) {
		json_t *args, *answer = NULL;

		if (fw.cur == NULL)
			args = json_pack("{s:s}", "job", job_id);
		else
			args = json_pack("{s:s, s:I, s:I}", "job", job_id, "since",
			                 ji(fw.cur, "version", 0), "wait_ms", (json_int_t)wait);
		ret = ctl_request(c, "job", args, false, &answer);
		if (ret != 0)
			goto out;
		/* A line per change: an answer at the version already seen (the
		 * wait ended with nothing new) is not one. */
		if (fw.stream && json_is_object(answer) && js(answer, "state")[0] != '\0' &&
		    (fw.cur == NULL || ji(answer, "version", 0) != ji(fw.cur, "version", 0)) &&
		    out_json_line(answer) != 0) {
			json_decref(answer);
			ret = CTL_EXIT_FAILED; /* stdout is gone: nobody reads */
			goto out;
		}
		if (!json_is_object(answer) || js(answer, "state")[0] == '\0' ||
		    follow_merge(&fw, answer) != 0) {
			ctl_error(c, "job %s: the coordinator's answer is not a job", job_id);
			ret = CTL_EXIT_FAILED;
			goto out;
		}
		if (out_job_final(js(fw.cur, "state")))
			break;
		if (fw.tty)
			follow_draw(&fw, fw.cur, false);
		if (ctl_interrupted) {
			ret = CTL_EXIT_INTERRUPTED;
			goto out;
		}
	}
	job = json_incref(fw.cur);
	ret = follow_exit(js(job, "state"));
	if (silent) {
		/* the caller prints */
	} else if (fw.quiet) {
		/* The final body with every stored result. */
		json_t *full = NULL;
		int r = ctl_job_get_results(c, job_id, NULL, &full);
		if (r != 0)
			ret = r;
		else if (fw.stream)
			out_json_line(full);
		else
			out_json(full);
		json_decref(full);
	} else {
		if (fw.tty)
			follow_draw(&fw, job, true);
		follow_summary(job);
	}
out:
	if (ret == CTL_EXIT_INTERRUPTED) {
		if (fw.drawn > 0)
			printf("\n");
		fflush(stdout);
		fprintf(stderr,
		        "odcctl: %s: stopped following job %s; it goes on (odcctl watch %s)\n",
		        c->cmd, job_id, job_id);
	}
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	json_decref(fw.cur);
	json_decref(job);
	return ret;
}
