/* odcctl upgrade: take ODC to an image tag on the selected hosts, a
 * deployment at a time, canary first, as a signed job; each deployment's
 * metadb is dumped before it is stopped, and a deployment that fails is
 * put back by itself. */
#include "coordinator/ctl/ctl.h"

static int cmd_upgrade_exec(struct ctl *, int, char **);

const struct ctl_cmd cmd_upgrade_entry = {
    "upgrade",
    "--to TAG [SELECTORS] [POLICY] [--dry-run] [--whole-deployments] [--reason TEXT]\n"
    "         [--detach]",
    "upgrade ODC to TAG on hosts, canary first; a deployment that fails goes back by itself",
    "--to TAG         the ODC image tag to go to (e.g. 4.3.1); the image must be on\n"
    "                 every host already (an upgrade never pulls)\n"
    "--dry-run        run the preflight only and show, per host, how the container it\n"
    "                 would create differs from the one that runs\n"
    "--whole-deployments  add the other nodes of each selected host's deployment: an\n"
    "                 upgrade names whole deployments, whose nodes share one metadb\n"
    "Every node of every deployment checks itself first (the image, its release and\n"
    "TAG's, room for the dump, the metadb). Then, a deployment at a time: its metadb\n"
    "is dumped (the upgrade's backup, its manifest signed), its containers are stopped\n"
    "and kept (<name>-upgraded-<time>), the new ones start from their specs on TAG, and\n"
    "ODC must answer healthy at TAG (its first start migrates the metadb). A deployment\n"
    "that fails is reverted by itself: the dump restored, the kept containers started\n"
    "again; the job then halts (canary, or past the budget).\n"
    "SELECTORS (at least one; ANDed): --host ID (repeatable), --hosts GLOB,\n"
    "  --label K=V (repeatable), --all.\n"
    "POLICY (defaults): --canary N (1, capped at the targets), --batch N|N% (1),\n"
    "  --budget N|N% (0), --quorum PCT (100), --step-deadline DUR (2h),\n"
    "  (canary, batch and budget count deployments: one HA deployment is one),\n"
    "  --job-deadline DUR (24h). DUR: 90s, 5m, 2h, 1d, 1500ms (rounded up to 2s)\n"
    "  or bare seconds.\n"
    "--reason TEXT goes to the audit trail. The job is followed until it ends\n"
    "unless --detach, which prints the job id and exits 0. Exit status: 0 every\n"
    "host upgraded, 1 some failed (each said reverted or why not), 4 halted or\n"
    "aborted, 3 no coordinator.\n"
    "Later, back to where it began: odcctl rollback --of JOB.\n"
    "On a terminal odcctl shows each host (its deployment, its ODC now and TAG)\n"
    "and asks before it submits; --yes skips the question, and without a\n"
    "terminal it is needed (--dry-run needs neither).\n",
    cmd_upgrade_exec,
};

static int
cmd_upgrade_exec(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    CTL_COMMON_OPTIONS,
	    CTL_SELECTOR_OPTIONS,
	    CTL_POLICY_OPTIONS,
	    {"to", required_argument, NULL, CTL_OPT_TO},
	    {"dry-run", no_argument, NULL, CTL_OPT_DRY_RUN},
	    {"whole-deployments", no_argument, NULL, CTL_OPT_WHOLE_DEPLOYMENTS},
	    {NULL, 0, NULL, 0},
	};
	struct submit s = {.action = "upgrade"};
	int ret;

	if ((ret = submit_getopt(c, &cmd_upgrade_entry, argc, argv, opts, &s)) >= 0)
		goto out;
	if ((ret = ctl_operands(c, argc, argv, 0, 0, "")) == 0)
		ret = submit_run(c, &s, NULL, 0);
out:
	submit_free(&s);
	return ret;
}
