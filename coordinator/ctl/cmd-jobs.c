/* odcctl jobs: the latest jobs, newest first. */
#include "coordinator/ctl/ctl.h"

static int cmd_jobs_exec(struct ctl *, int, char **);

const struct ctl_cmd cmd_jobs_entry = {
    "jobs",
    "[--state STATE] [--limit N]",
    "the latest jobs, newest first",
    "--state STATE    only jobs in STATE: running paused succeeded failed halted aborted\n"
    "--limit N        at most N jobs, 1..1000 (default 50)\n"
    "Columns: JOB ACTION STATE STAGE DONE (final hosts of all) FAILED (failed or\n"
    "unreachable hosts) OPERATOR SUBMITTED (age).\n",
    cmd_jobs_exec,
};

static int
cmd_jobs_table(const json_t *body)
{
	static const char *const head[] = {"JOB",  "ACTION", "STATE",    "STAGE",
	                                   "DONE", "FAILED", "OPERATOR", "SUBMITTED"};
	const json_t *jobs = json_object_get(body, "jobs"), *j;
	struct out_table *t = out_table_new(8, head);
	uint64_t now = proto_now_ms();
	size_t i;
	int ret;

	json_array_foreach(jobs, i, j)
	{
		long long done, failed, sub = ji(j, "submitted_ms", -1);
		char d[48], f[24], age[16];
		const char *cells[8];

		out_done_failed(j, &done, &failed);
		snprintf(d, sizeof(d), "%lld/%lld", done, ji(j, "targets", 0));
		snprintf(f, sizeof(f), "%lld", failed);
		out_age(sub >= 0 && (uint64_t)sub < now ? now - (uint64_t)sub : 0, age,
		        sizeof(age));
		cells[0] = js(j, "job_id");
		cells[1] = js(j, "action");
		cells[2] = js(j, "state");
		cells[3] = js(j, "stage");
		cells[4] = d;
		cells[5] = f;
		cells[6] = js(j, "operator");
		cells[7] = sub >= 0 ? age : "";
		out_table_row(t, cells);
	}
	ret = out_table_print(t, stdout, NULL);
	out_table_free(t);
	return ret == 0 ? CTL_EXIT_OK : CTL_EXIT_FAILED;
}

static int
cmd_jobs_exec(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    CTL_COMMON_OPTIONS,
	    {"state", required_argument, NULL, CTL_OPT_STATE},
	    {"limit", required_argument, NULL, CTL_OPT_LIMIT},
	    {NULL, 0, NULL, 0},
	};
	const char *state = NULL;
	uint64_t limit = 0;
	json_t *args, *body = NULL;
	int ch, ret;

	while ((ch = ctl_getopt(c, &cmd_jobs_entry, argc, argv, opts)) != CTL_OPT_END) {
		switch (ch) {
		case CTL_OPT_HELP:
			return CTL_EXIT_OK;
		case CTL_OPT_STATE:
			if (proto_job_state_from_name(optarg) < 0)
				return ctl_usage_error(
				    c,
				    "--state %s: expected running, paused, succeeded, "
				    "failed, halted or aborted",
				    optarg);
			state = optarg;
			break;
		case CTL_OPT_LIMIT:
			if (ctl_parse_uint(optarg, 1000, &limit) != 0 || limit < 1)
				return ctl_usage_error(c, "--limit %s: expected 1..1000", optarg);
			break;
		default:
			return CTL_EXIT_USAGE;
		}
	}
	if ((ret = ctl_operands(c, argc, argv, 0, 0, "")) != 0)
		return ret;
	args = json_object();
	if (args == NULL ||
	    (state != NULL && json_object_set_new(args, "state", json_string(state))) ||
	    (limit > 0 && json_object_set_new(args, "limit", json_integer((json_int_t)limit)))) {
		json_decref(args);
		ctl_error(c, "out of memory");
		return CTL_EXIT_FAILED;
	}
	if ((ret = ctl_request(c, "jobs", args, false, &body)) != 0)
		return ret;
	if (c->output == CTL_OUT_JSON)
		ret = out_json(body) == 0 ? CTL_EXIT_OK : CTL_EXIT_FAILED;
	else
		ret = cmd_jobs_table(body);
	json_decref(body);
	return ret;
}
