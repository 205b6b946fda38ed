/* odcctl job: one job in detail: its summary, each host's state, failing step
 * and message, and with --results every stored RESULT. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "coordinator/ctl/ctl.h"

#define CMD_JOB_TAIL_LINES 20

static int cmd_job_exec(struct ctl *, int, char **);

const struct ctl_cmd cmd_job_entry = {
    "job",
    "ID [--results] [--host HOST] [--step STEP]",
    "one job: summary, per-host state, failing step and message",
    "Columns: HOST STATE PHASE STEP FAILED-AT MESSAGE.\n"
    "--results        add every stored result of each host (step, status, exit code,\n"
    "                 duration, message), with the output's tail for failed steps;\n"
    "                 fetched a page at a time, so a job of any size can be read.\n"
    "--host HOST      only this host (its row and its results).\n"
    "--step STEP      only the results of this step (with --results).\n",
    cmd_job_exec,
};

/* The last CMD_JOB_TAIL_LINES lines of tail, each after "      | ". */
static void
cmd_job_tail(const char *tail)
{
	const char *p = tail + strlen(tail);
	char clean[OUT_CELL_MAX];
	int lines = 0;

	while (p > tail && p[-1] == '\n')
		p--;
	const char *end = p;
	while (p > tail && lines < CMD_JOB_TAIL_LINES)
		if (*--p == '\n' && ++lines == CMD_JOB_TAIL_LINES) {
			p++;
			break;
		}
	while (p < end) {
		size_t n = strcspn(p, "\n");
		char line[OUT_CELL_MAX];
		if (n > (size_t)(end - p))
			n = (size_t)(end - p);
		snprintf(line, sizeof(line), "%.*s", (int)n, p);
		printf("      | %s\n", out_clean(line, clean, sizeof(clean)));
		p += n + 1;
	}
}

static void
cmd_job_results(const json_t *hosts, const json_t *all)
{
	const json_t *h, *r;
	size_t i, k;

	printf("\nresults\n");
	json_array_foreach(hosts, i, h)
	{
		char name[128];
		bool any = false;

		printf("  %s\n", out_clean(js(h, "host"), name, sizeof(name)));
		/* The reply's results are one flat list (bodies nest at most six
		 * deep), each naming its host, in target order. */
		json_array_foreach(all, k, r)
		{
			char dur[24], msg[OUT_CELL_MAX], step[64];
			if (strcmp(js(r, "host"), js(h, "host")) != 0)
				continue;
			any = true;
			const char *st = js(r, "status");
			printf("    %-10s %-11s %4lld %8s  %s\n",
			       out_clean(js(r, "step"), step, sizeof(step)), st,
			       ji(r, "exit_code", 0),
			       out_duration((uint64_t)(ji(r, "duration_ms", 0) > 0
			                                   ? ji(r, "duration_ms", 0)
			                                   : 0),
			                    dur, sizeof(dur)),
			       out_clean(js(r, "message"), msg, sizeof(msg)));
			if (strcmp(st, "ok") != 0 && strcmp(st, "skipped") != 0 &&
			    js(r, "output_tail")[0] != '\0')
				cmd_job_tail(js(r, "output_tail"));
		}
		if (!any)
			printf("    (none)\n");
	}
}

static int
cmd_job_table(const json_t *job, bool results)
{
	static const char *const head[] = {"HOST", "STATE",     "PHASE",
	                                   "STEP", "FAILED-AT", "MESSAGE"};
	const json_t *hosts = json_object_get(job, "hosts"), *h;
	struct out_table *t = out_table_new(6, head);
	size_t i;
	int ret;

	out_job_header(job);
	printf("\n");
	json_array_foreach(hosts, i, h)
	{
		const char *cells[6] = {js(h, "host"), js(h, "state"),       js(h, "phase"),
		                        js(h, "step"), js(h, "failed_step"), js(h, "message")};
		out_table_row(t, cells);
	}
	ret = out_table_print(t, stdout, NULL);
	out_table_free(t);
	/* An upgrade's deployments put back: a line per host reverted. */
	json_array_foreach(hosts, i, h)
	{
		char line[2200], clean[2200];
		if (js(h, "revert")[0] == '\0')
			continue;
		snprintf(line, sizeof(line), "revert of %s: %s: %s", js(h, "host"), js(h, "revert"),
		         js(h, "revert_message"));
		printf("%s\n", out_clean(line, clean, sizeof(clean)));
	}
	if (results)
		cmd_job_results(hosts, json_object_get(job, "results"));
	return ret == 0 ? CTL_EXIT_OK : CTL_EXIT_FAILED;
}

static int
cmd_job_exec(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    CTL_COMMON_OPTIONS,
	    {"results", no_argument, NULL, CTL_OPT_RESULTS},
	    {"host", required_argument, NULL, CTL_OPT_HOST},
	    {"step", required_argument, NULL, CTL_OPT_STEP},
	    {NULL, 0, NULL, 0},
	};
	bool results = false;
	json_t *body = NULL;
	const char *id, *host = NULL, *step = NULL;
	int ch, ret;

	while ((ch = ctl_getopt(c, &cmd_job_entry, argc, argv, opts)) != CTL_OPT_END) {
		if (ch == CTL_OPT_RESULTS)
			results = true;
		else if (ch == CTL_OPT_HOST)
			host = optarg;
		else if (ch == CTL_OPT_STEP)
			step = optarg;
		else
			return ch == CTL_OPT_HELP ? CTL_EXIT_OK : CTL_EXIT_USAGE;
	}
	if ((ret = ctl_job_operand(c, argc, argv, &id)) != 0)
		return ret;
	if (host != NULL && !proto_valid_id(host))
		return ctl_usage_error(c, "--host '%s': not a host id (1..64 of [A-Za-z0-9._-])",
		                       host);
	if (step != NULL && !proto_valid_step(step))
		return ctl_usage_error(c, "--step '%s': not a step name (1..32 of [a-z_])", step);
	if (step != NULL && !results)
		return ctl_usage_error(c, "--step narrows the results: it needs --results");
	if ((ret = ctl_job_get(c, id, &body)) != 0)
		return ret;
	if (host != NULL) {
		/* Only that host's row; a host the job does not target is an error. */
		json_t *hosts = json_object_get(body, "hosts"), *h, *one = json_array();
		size_t i;
		json_array_foreach(hosts, i, h)
		{
			if (strcmp(js(h, "host"), host) == 0)
				json_array_append(one, h);
		}
		json_object_set_new(body, "hosts", one);
		if (json_array_size(one) == 0) {
			fprintf(stderr, "odcctl: %s: job %s does not target host %s\n", c->cmd, id,
			        host);
			json_decref(body);
			return CTL_EXIT_FAILED;
		}
	}
	if (results && (ret = ctl_job_results(c, body, host, step)) != CTL_EXIT_OK) {
		json_decref(body);
		return ret;
	}
	if (c->output == CTL_OUT_JSON)
		ret = out_json(body) == 0 ? CTL_EXIT_OK : CTL_EXIT_FAILED;
	else
		ret = cmd_job_table(body, results);
	json_decref(body);
	return ret;
}
