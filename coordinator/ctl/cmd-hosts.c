/* odcctl hosts: the enrolled hosts, their heartbeat and their ODC. */
#include <string.h>

#include "coordinator/ctl/ctl.h"

static int cmd_hosts_exec(struct ctl *, int, char **);

const struct ctl_cmd cmd_hosts_entry = {
    "hosts",
    "[--host ID]... [--hosts GLOB] [--label K=V]... [--all]",
    "the enrolled hosts: status, last heartbeat, ODC version and health, job",
    "Without selectors every host is listed. Selectors are ANDed: --host (exact ids,\n"
    "repeatable), --hosts (a shell glob on host ids), --label (repeatable), --all.\n"
    "Columns: HOST LABELS STATUS BEAT (age of the last heartbeat) DEPLOYMENT (the\n"
    "metadb its ODC uses, see odcctl deployments) ODC (version) CONTAINER (state)\n"
    "HEALTH JOB (job/step in progress).\n",
    cmd_hosts_exec,
};

/* "k=v,k2=v2" */
static void
cmd_hosts_labels(const json_t *labels, char *out, size_t outlen)
{
	const char *k;
	json_t *v;
	size_t n = 0;

	out[0] = '\0';
	json_object_foreach((json_t *)(uintptr_t)labels, k, v)
	{
		int w = snprintf(out + n, outlen - n, "%s%s=%s", n ? "," : "", k,
		                 json_is_string(v) ? json_string_value(v) : "?");
		if (w < 0 || (size_t)w >= outlen - n)
			break;
		n += (size_t)w;
	}
}

static int
cmd_hosts_table(const json_t *body)
{
	static const char *const head[] = {"HOST", "LABELS",    "STATUS", "BEAT", "DEPLOYMENT",
	                                   "ODC",  "CONTAINER", "HEALTH", "JOB"};
	const json_t *hosts = json_object_get(body, "hosts"), *h;
	struct out_table *t = out_table_new(9, head);
	size_t i;
	int ret;

	json_array_foreach(hosts, i, h)
	{
		const json_t *odc = json_object_get(h, "odc"), *job = json_object_get(h, "job");
		char labels[512], beat[32] = "", jobs[128] = "";
		const char *cells[9];

		cmd_hosts_labels(json_object_get(h, "labels"), labels, sizeof(labels));
		if (!jnull(h, "beat_age_ms"))
			out_age(
			    (uint64_t)(ji(h, "beat_age_ms", 0) > 0 ? ji(h, "beat_age_ms", 0) : 0),
			    beat, sizeof(beat));
		if (json_is_object(job))
			snprintf(jobs, sizeof(jobs), "%s/%s", js(job, "job_id"), js(job, "step"));
		cells[0] = js(h, "host");
		cells[1] = labels;
		cells[2] = js(h, "status");
		cells[3] = beat;
		cells[4] = js(h, "deployment");
		cells[5] = js(odc, "version");
		cells[6] = js(odc, "state");
		cells[7] = js(odc, "health");
		cells[8] = jobs;
		out_table_row(t, cells);
	}
	ret = out_table_print(t, stdout, NULL);
	out_table_free(t);
	return ret == 0 ? CTL_EXIT_OK : CTL_EXIT_FAILED;
}

static int
cmd_hosts_exec(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    CTL_COMMON_OPTIONS, CTL_SELECTOR_OPTIONS, {NULL, 0, NULL, 0}};
	struct ctl_sel sel = {0};
	json_t *args = NULL, *body = NULL;
	int ch, ret = CTL_EXIT_USAGE;

	while ((ch = ctl_getopt(c, &cmd_hosts_entry, argc, argv, opts)) != CTL_OPT_END) {
		if (ch == CTL_OPT_HELP) {
			ret = CTL_EXIT_OK;
			goto out;
		}
		if (ch == CTL_OPT_ERROR || ctl_sel_option(c, &sel, ch, optarg) != 1)
			goto out;
	}
	if ((ret = ctl_operands(c, argc, argv, 0, 0, "")) != 0)
		goto out;
	args = json_object();
	if (args == NULL || ctl_sel_args(&sel, args) != 0) {
		ctl_error(c, "out of memory");
		ret = CTL_EXIT_FAILED;
		goto out;
	}
	ret = ctl_request(c, "hosts", args, false, &body);
	args = NULL;
	if (ret != 0)
		goto out;
	if (c->output == CTL_OUT_JSON)
		ret = out_json(body) == 0 ? CTL_EXIT_OK : CTL_EXIT_FAILED;
	else
		ret = cmd_hosts_table(body);
out:
	json_decref(args);
	json_decref(body);
	ctl_sel_free(&sel);
	return ret;
}
