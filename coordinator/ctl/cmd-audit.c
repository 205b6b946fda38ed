/* odcctl audit: the coordinator's audit trail, newest first. */
#include <string.h>

#include "coordinator/ctl/ctl.h"

static int cmd_audit_exec(struct ctl *, int, char **);

const struct ctl_cmd cmd_audit_entry = {
    "audit",
    "[--job ID] [--limit N]",
    "the audit trail: who did what, when, newest first",
    "--job ID         only the entries of job ID\n"
    "--limit N        at most N entries, 1..10000 (default 100)\n"
    "Columns: TIME WHO WHAT JOB HOSTS OUTCOME DETAIL.\n",
    cmd_audit_exec,
};

/* An entry's hosts, whatever its JSON shape: a list, a count or text. */
static void
cmd_audit_hosts(const json_t *v, char *out, size_t outlen)
{
	const json_t *h;
	size_t i, n = 0;

	out[0] = '\0';
	if (json_is_string(v)) {
		snprintf(out, outlen, "%s", json_string_value(v));
	} else if (json_is_integer(v)) {
		snprintf(out, outlen, "%lld", (long long)json_integer_value(v));
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, h)
		{
			int w = snprintf(out + n, outlen - n, "%s%s", n ? "," : "",
			                 json_is_string(h) ? json_string_value(h) : "?");
			if (w < 0 || (size_t)w >= outlen - n)
				break;
			n += (size_t)w;
		}
	}
}

static int
cmd_audit_table(const json_t *body)
{
	static const char *const head[] = {"TIME",  "WHO",     "WHAT",  "JOB",
	                                   "HOSTS", "OUTCOME", "DETAIL"};
	const json_t *audit = json_object_get(body, "audit"), *e;
	struct out_table *t = out_table_new(7, head);
	size_t i;
	int ret;

	json_array_foreach(audit, i, e)
	{
		char at[32], hosts[256];
		const char *cells[7];

		cmd_audit_hosts(json_object_get(e, "hosts"), hosts, sizeof(hosts));
		cells[0] = out_time(ji(e, "at_ms", -1), at, sizeof(at));
		cells[1] = js(e, "who");
		cells[2] = js(e, "what");
		cells[3] = js(e, "job_id");
		cells[4] = hosts;
		cells[5] = js(e, "outcome");
		cells[6] = js(e, "detail");
		out_table_row(t, cells);
	}
	ret = out_table_print(t, stdout, NULL);
	out_table_free(t);
	return ret == 0 ? CTL_EXIT_OK : CTL_EXIT_FAILED;
}

static int
cmd_audit_exec(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    CTL_COMMON_OPTIONS,
	    {"job", required_argument, NULL, CTL_OPT_JOB},
	    {"limit", required_argument, NULL, CTL_OPT_LIMIT},
	    {NULL, 0, NULL, 0},
	};
	const char *job = NULL;
	uint64_t limit = 0;
	json_t *args, *body = NULL;
	int ch, ret;

	while ((ch = ctl_getopt(c, &cmd_audit_entry, argc, argv, opts)) != CTL_OPT_END) {
		switch (ch) {
		case CTL_OPT_HELP:
			return CTL_EXIT_OK;
		case CTL_OPT_JOB:
			if (!proto_valid_id(optarg))
				return ctl_usage_error(
				    c, "--job %s: not a job id (1..64 of [A-Za-z0-9._-])", optarg);
			job = optarg;
			break;
		case CTL_OPT_LIMIT:
			if (ctl_parse_uint(optarg, 10000, &limit) != 0 || limit < 1)
				return ctl_usage_error(c, "--limit %s: expected 1..10000", optarg);
			break;
		default:
			return CTL_EXIT_USAGE;
		}
	}
	if ((ret = ctl_operands(c, argc, argv, 0, 0, "")) != 0)
		return ret;
	args = json_object();
	if (args == NULL || (job != NULL && json_object_set_new(args, "job", json_string(job))) ||
	    (limit > 0 && json_object_set_new(args, "limit", json_integer((json_int_t)limit)))) {
		json_decref(args);
		ctl_error(c, "out of memory");
		return CTL_EXIT_FAILED;
	}
	if ((ret = ctl_request(c, "audit", args, false, &body)) != 0)
		return ret;
	if (c->output == CTL_OUT_JSON)
		ret = out_json(body) == 0 ? CTL_EXIT_OK : CTL_EXIT_FAILED;
	else
		ret = cmd_audit_table(body);
	json_decref(body);
	return ret;
}
