/* odcctl undo: walk a rollback job back (the snapshot it took and the old
 * container it kept) on the hosts where it ran, as a signed job. */
#include <stdlib.h>
#include <string.h>

#include "coordinator/ctl/ctl.h"

static int cmd_undo_exec(struct ctl *, int, char **);

const struct ctl_cmd cmd_undo_entry = {
    "undo",
    "--of JOB [SELECTORS] [POLICY] [--dry-run] [--reason TEXT] [--detach]",
    "undo rollback JOB on the hosts where it ran (or on SELECTORS)",
    "--of JOB         the rollback job to undo\n"
    "--dry-run        run the preflight only and show, per host, how the container it\n"
    "                 would start (the one JOB kept) differs from the one that runs\n"
    "Without selectors the targets are JOB's hosts whose run phase was dispatched;\n"
    "SELECTORS (--host ID, --hosts GLOB, --label K=V, --all) choose others.\n"
    "POLICY (defaults): --canary N (1, capped at the targets), --batch N|N% (1),\n"
    "  --budget N|N% (0), --quorum PCT (100), --step-deadline DUR (2h),\n"
    "  --job-deadline DUR (24h). DUR: 90s, 5m, 2h, 1d, 1500ms (rounded up to 2s)\n"
    "  or bare seconds.\n"
    "--reason TEXT goes to the audit trail. The job is followed until it ends\n"
    "unless --detach, which prints the job id and exits 0. On a terminal odcctl\n"
    "shows each host and asks before it submits; --yes skips the question, and\n"
    "without a terminal it is needed.\n",
    cmd_undo_exec,
};

/* JOB's hosts whose run phase was dispatched; *job keeps the strings. */
static int
cmd_undo_targets(struct ctl *c, const char *of, bool need, json_t **job, const char ***targets,
                 size_t *n)
{
	const json_t *hosts, *h;
	size_t i;
	int ret;

	*targets = NULL;
	*n = 0;
	if ((ret = ctl_request(c, "job", json_pack("{s:s}", "job", of), false, job)) != 0)
		return ret;
	if (strcmp(js(*job, "action"), "rollback") != 0) {
		ctl_error(c, "job %s is a%s %s job; undo undoes rollback jobs", of,
		          strchr("aeiou", js(*job, "action")[0]) ? "n" : "",
		          js(*job, "action")[0] ? js(*job, "action") : "unknown");
		return CTL_EXIT_USAGE;
	}
	if (!need)
		return 0;
	hosts = json_object_get(*job, "hosts");
	*targets = calloc(json_array_size(hosts) + 1, sizeof(**targets));
	if (*targets == NULL) {
		ctl_error(c, "out of memory");
		return CTL_EXIT_FAILED;
	}
	json_array_foreach(hosts, i, h)
	{
		if (strcmp(js(h, "phase"), "run") == 0 && proto_valid_id(js(h, "host")) &&
		    *n < PROTO_MAX_TARGETS)
			(*targets)[(*n)++] = js(h, "host");
	}
	if (*n == 0) {
		ctl_error(c, "job %s ran nothing to undo", of);
		return CTL_EXIT_USAGE;
	}
	return 0;
}

static int
cmd_undo_exec(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    CTL_COMMON_OPTIONS,
	    CTL_SELECTOR_OPTIONS,
	    CTL_POLICY_OPTIONS,
	    {"of", required_argument, NULL, CTL_OPT_OF},
	    {"dry-run", no_argument, NULL, CTL_OPT_DRY_RUN},
	    {NULL, 0, NULL, 0},
	};
	struct submit s = {.action = "undo"};
	const char **targets = NULL;
	const char *of = NULL;
	json_t *job = NULL;
	size_t n = 0;
	int ret;

	if ((ret = submit_getopt(c, &cmd_undo_entry, argc, argv, opts, &s)) >= 0)
		goto out;
	of = proto_param(s.params, s.n_params, "of");
	if ((ret = ctl_operands(c, argc, argv, 0, 0, "")) != 0)
		goto out;
	if (of == NULL) {
		ret = ctl_usage_error(c, "which job? give --of JOB");
		goto out;
	}
	if (!proto_valid_id(of)) {
		ret = ctl_usage_error(c, "--of %s: not a job id (1..64 of [A-Za-z0-9._-])", of);
		goto out;
	}
	/* The local checks of the new job come first, then the job to undo. */
	if ((ret = submit_prepare(c, &s, false)) != 0)
		goto out;
	if ((ret = cmd_undo_targets(c, of, ctl_sel_empty(&s.sel), &job, &targets, &n)) != 0)
		goto out;
	ret = submit_run(c, &s, targets, n);
out:
	free(targets);
	json_decref(job);
	submit_free(&s);
	return ret;
}
