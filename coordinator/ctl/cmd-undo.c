/* odcctl undo: walk a rollback or an upgrade job back (the snapshot it took
 * and the old container it kept) on the hosts where it ran, as a signed job. */
#include "coordinator/ctl/ctl.h"

static int cmd_undo_exec(struct ctl *, int, char **);

const struct ctl_cmd cmd_undo_entry = {
    "undo",
    "--of JOB [SELECTORS] [POLICY] [--dry-run] [--reason TEXT] [--detach]",
    "undo rollback or upgrade JOB on the hosts where it ran (or on SELECTORS)",
    "--of JOB         the rollback or upgrade job to undo\n"
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
	int ret;

	if ((ret = submit_getopt(c, &cmd_undo_entry, argc, argv, opts, &s)) >= 0)
		goto out;
	if ((ret = ctl_operands(c, argc, argv, 0, 0, "")) != 0)
		goto out;
	ret = submit_undo(c, &s, proto_param(s.params, s.n_params, "of"));
out:
	submit_free(&s);
	return ret;
}
