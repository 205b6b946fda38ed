/* odcctl exec: run one of the simple actions on the selected hosts as a
 * signed job. */
#include <string.h>

#include "coordinator/ctl/ctl.h"

static int cmd_exec_exec(struct ctl *, int, char **);

const struct ctl_cmd cmd_exec_entry = {
    "exec",
    "ACTION [SELECTORS] [--to TAG] [--backup DIR] [--accept-unverified] [--lines N]\n"
    "       [--name NAME] [POLICY] [--reason TEXT] [--detach]",
    "run ping, status, preflight, stop, start, logs or backup on hosts, as a signed job",
    "ACTION and its parameters:\n"
    "  ping, status, stop            none\n"
    "  preflight                     --to TAG --backup DIR [--accept-unverified]\n"
    "                                (a rollback's checks only)\n"
    "  start                         [--to TAG] (the image tag when no container exists)\n"
    "  logs                          [--lines N] (1..10000)\n"
    "  backup                        [--name NAME]\n"
    "SELECTORS (at least one; ANDed): --host ID (repeatable), --hosts GLOB,\n"
    "  --label K=V (repeatable), --all. The coordinator resolves them into the\n"
    "  explicit target list that odcctl signs.\n"
    "POLICY (defaults for backup / for the other actions):\n"
    "  --canary N             hosts run first, alone (1 / 0; capped at the targets)\n"
    "  --batch N|N%           hosts at a time after the canaries (1 / 100%)\n"
    "  --budget N|N%          failures tolerated before halting (0 / 100%)\n"
    "  --quorum PCT           targets that must be online to start (100 / 0)\n"
    "  --step-deadline DUR    (2h / 5m)     --job-deadline DUR   (24h / 30m)\n"
    "  DUR: 90s, 5m, 2h, 1d, 1500ms (rounded up to 2s) or bare seconds.\n"
    "--reason TEXT goes to the audit trail (at most 256 bytes). The job is followed\n"
    "until it ends unless --detach, which prints the job id and exits 0.\n"
    "stop and start change the hosts: on a terminal odcctl shows each host and asks\n"
    "before it submits; --yes skips the question, and without a terminal it is needed.\n"
    "Needs operator and key in the configuration.\n",
    cmd_exec_exec,
};

static int
cmd_exec_exec(struct ctl *c, int argc, char **argv)
{
	static const char *const actions[] = {"ping",  "status", "preflight", "stop",
	                                      "start", "logs",   "backup"};
	static const struct option opts[] = {
	    CTL_COMMON_OPTIONS,
	    CTL_SELECTOR_OPTIONS,
	    CTL_POLICY_OPTIONS,
	    {"to", required_argument, NULL, CTL_OPT_TO},
	    {"backup", required_argument, NULL, CTL_OPT_BACKUP},
	    {"accept-unverified", no_argument, NULL, CTL_OPT_ACCEPT_UNVERIFIED},
	    {"lines", required_argument, NULL, CTL_OPT_LINES},
	    {"name", required_argument, NULL, CTL_OPT_NAME},
	    {NULL, 0, NULL, 0},
	};
	struct submit s = {0};
	int ret;
	bool known = false;

	if ((ret = submit_getopt(c, &cmd_exec_entry, argc, argv, opts, &s)) >= 0)
		goto out;
	if ((ret = ctl_operands(c, argc, argv, 1, 1,
	                        "ACTION (ping status preflight stop start logs backup)")) != 0)
		goto out;
	s.action = argv[optind];
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
		if (strcmp(actions[i], s.action) == 0)
			known = true;
	if (!known) {
		if (strcmp(s.action, "rollback") == 0 || strcmp(s.action, "undo") == 0 ||
		    strcmp(s.action, "prune") == 0)
			ret = ctl_usage_error(c, "%s has its own command: odcctl %s", s.action,
			                      s.action);
		else
			ret =
			    ctl_usage_error(c,
			                    "unknown action '%s' (ping status preflight stop start "
			                    "logs backup)",
			                    s.action);
		goto out;
	}
	ret = submit_run(c, &s, NULL, 0);
out:
	submit_free(&s);
	return ret;
}
