/* odcctl prune: remove the kept containers and safety snapshots that
 * rollbacks left on hosts beyond each agent's [retention], as a signed job;
 * what the latest undo needs stays. */
#include "coordinator/ctl/ctl.h"

static int cmd_prune_exec(struct ctl *, int, char **);

const struct ctl_cmd cmd_prune_entry = {
    "prune",
    "[HOST...] [SELECTORS] [--dry-run] [POLICY] [--reason TEXT] [--detach]",
    "remove the kept containers and snapshots beyond each host's retention",
    "Each agent removes, oldest first, the containers its rollbacks kept\n"
    "(<name>-rolledback-<time>), the safety snapshots they took and the\n"
    "containers its undos set aside (<name>-undone-<time>) beyond its\n"
    "[retention] (keep = N newest per container name, max_age), and\n"
    "never those of the latest rollback (odcctl undo --of JOB needs them) nor of\n"
    "an unfinished job. Each host's list says what was removed and what was kept,\n"
    "and why.\n"
    "HOST...          the hosts (as --host HOST each); or SELECTORS: --host ID,\n"
    "                 --hosts GLOB, --label K=V, --all (at least one; ANDed)\n"
    "--dry-run        only list what would be removed\n"
    "POLICY (defaults): --canary N (0), --batch N|N% (100%), --budget N|N% (100%),\n"
    "  --quorum PCT (0), --step-deadline DUR (5m), --job-deadline DUR (30m).\n"
    "--reason TEXT goes to the audit trail. The job is followed until it ends\n"
    "unless --detach, which prints the job id and exits 0. On a terminal odcctl\n"
    "shows each host and asks before it submits; --yes skips the question, and\n"
    "without a terminal it is needed (--dry-run needs neither). Exit status: 0\n"
    "every host pruned, 1 some failed, 2 usage or not confirmed, 3 no coordinator.\n",
    cmd_prune_exec,
};

static int
cmd_prune_exec(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    CTL_COMMON_OPTIONS, CTL_SELECTOR_OPTIONS,
	    CTL_POLICY_OPTIONS, {"dry-run", no_argument, NULL, CTL_OPT_DRY_RUN},
	    {NULL, 0, NULL, 0},
	};
	struct submit s = {.action = "prune"};
	int ret;

	if ((ret = submit_getopt(c, &cmd_prune_entry, argc, argv, opts, &s)) >= 0)
		goto out;
	if ((ret = ctl_operands(c, argc, argv, 0, PROTO_MAX_TARGETS, "")) != 0)
		goto out;
	/* HOST operands are --host selectors, ANDed with any other. */
	for (int i = optind; i < argc; i++)
		if (submit_option(c, &s, CTL_OPT_HOST, argv[i]) != 1) {
			ret = CTL_EXIT_USAGE;
			goto out;
		}
	ret = submit_run(c, &s, NULL, 0);
out:
	submit_free(&s);
	return ret;
}
