/* odcctl rollback: roll ODC back to an image tag from a metadb backup on the
 * selected hosts, canary first, as a signed job. */
#include "coordinator/ctl/ctl.h"

static int cmd_rollback_exec(struct ctl *, int, char **);

const struct ctl_cmd cmd_rollback_entry = {
    "rollback",
    "--to TAG --backup DIR [SELECTORS] [POLICY] [--dry-run] [--force] [--accept-unverified]\n"
    "         [--whole-deployments] [--reason TEXT] [--detach]\n"
    "       odcctl rollback --of UPGRADE_JOB [SELECTORS] [POLICY] [--dry-run] [--reason TEXT]\n"
    "         [--detach]",
    "roll ODC back to TAG from the metadb backup in DIR on hosts, canary first",
    "--to TAG         the ODC image tag to return to (e.g. 4.2.0)\n"
    "--backup DIR     the pre-upgrade metadb backup, an absolute path on the hosts\n"
    "                 (inside the agent's backup roots); of an HA deployment, one node\n"
    "                 holding it is enough: that node restores the metadb for all (a\n"
    "                 deployment where no node holds it fails its preflight)\n"
    "--dry-run        run the preflight only and show, per host, how the container it\n"
    "                 would create differs from the one that runs (field by field,\n"
    "                 secret env values masked; -o json: each result's \"diff\" list)\n"
    "--force          roll back also a host that already runs TAG, healthy, on a metadb\n"
    "                 of TAG (without it such a host has nothing to do and succeeds)\n"
    "--accept-unverified  restore a backup whose completeness cannot be verified: one\n"
    "                 taken by hand with obdumper (no odc-fleet manifest) or signed by\n"
    "                 another agent; without it such a backup is refused at preflight\n"
    "--of UPGRADE_JOB back to where upgrade job UPGRADE_JOB began, on the hosts where it\n"
    "                 ran (or SELECTORS): each restores the metadb dump that upgrade took\n"
    "                 and starts the container it kept; no --to or --backup (the same as\n"
    "                 odcctl undo --of UPGRADE_JOB)\n"
    "--whole-deployments  add the other nodes of each selected host's deployment (the\n"
    "                 nodes that share its metadb, odcctl deployments): a rollback names\n"
    "                 whole deployments, whose metadb is restored once for all nodes\n"
    "SELECTORS (at least one; ANDed): --host ID (repeatable), --hosts GLOB,\n"
    "  --label K=V (repeatable), --all.\n"
    "POLICY (defaults): --canary N (1, capped at the targets), --batch N|N% (1),\n"
    "  --budget N|N% (0), --quorum PCT (100), --step-deadline DUR (2h),\n"
    "  (canary, batch and budget count deployments: one HA deployment is one),\n"
    "  --job-deadline DUR (24h). DUR: 90s, 5m, 2h, 1d, 1500ms (rounded up to 2s)\n"
    "  or bare seconds.\n"
    "--reason TEXT goes to the audit trail. The job is followed until it ends\n"
    "unless --detach, which prints the job id and exits 0. Exit status: 0 every\n"
    "host rolled back, 1 some failed, 4 halted or aborted, 3 no coordinator.\n"
    "Undo it with: odcctl undo --of JOB. On a terminal odcctl shows each host (its\n"
    "deployment, its ODC now and the TAG it goes to) and the backup, and asks\n"
    "before it submits; --yes skips the question, and without a terminal it is\n"
    "needed (--dry-run needs neither).\n",
    cmd_rollback_exec,
};

static int
cmd_rollback_exec(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    CTL_COMMON_OPTIONS,
	    CTL_SELECTOR_OPTIONS,
	    CTL_POLICY_OPTIONS,
	    {"to", required_argument, NULL, CTL_OPT_TO},
	    {"backup", required_argument, NULL, CTL_OPT_BACKUP},
	    {"dry-run", no_argument, NULL, CTL_OPT_DRY_RUN},
	    {"force", no_argument, NULL, CTL_OPT_FORCE},
	    {"accept-unverified", no_argument, NULL, CTL_OPT_ACCEPT_UNVERIFIED},
	    {"whole-deployments", no_argument, NULL, CTL_OPT_WHOLE_DEPLOYMENTS},
	    {"of", required_argument, NULL, CTL_OPT_OF},
	    {NULL, 0, NULL, 0},
	};
	struct submit s = {.action = "rollback"};
	const char *of;
	int ret;

	if ((ret = submit_getopt(c, &cmd_rollback_entry, argc, argv, opts, &s)) >= 0)
		goto out;
	if ((ret = ctl_operands(c, argc, argv, 0, 0, "")) != 0)
		goto out;
	/* Back from an upgrade by its job id: the undo of that job, which knows
	 * its dump and its kept containers. */
	if ((of = proto_param(s.params, s.n_params, "of")) != NULL) {
		static const char *const alone[][2] = {
		    {"to", "--to"},
		    {"backup", "--backup"},
		    {"force", "--force"},
		    {"accept_unverified", "--accept-unverified"}};
		for (size_t i = 0; i < sizeof(alone) / sizeof(alone[0]); i++)
			if (proto_param(s.params, s.n_params, alone[i][0]) != NULL) {
				ret = ctl_usage_error(
				    c,
				    "--of %s takes no %s: the upgrade job knows its dump and the "
				    "containers it kept",
				    of, alone[i][1]);
				goto out;
			}
		if (s.whole_deployments) {
			ret = ctl_usage_error(c, "--of takes no --whole-deployments: its targets "
			                         "are the upgrade's");
			goto out;
		}
		ret = submit_undo(c, &s, of);
		goto out;
	}
	/* The node of a deployment that holds the backup restores for all
	 * (PROTOCOL.md 5); the coordinator fails a deployment where none does. */
	if (submit_param(c, &s, "backup_on_peer", "true") != 0) {
		ret = CTL_EXIT_USAGE;
		goto out;
	}
	ret = submit_run(c, &s, NULL, 0);
out:
	submit_free(&s);
	return ret;
}
