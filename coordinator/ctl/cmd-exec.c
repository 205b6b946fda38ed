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

/* The actions that have a command of their own (odcctl rollback, undo,
 * prune, upgrade); exec runs every other action of proto's table
 * (actions.c). */
static bool
cmd_exec_own_command(const char *action)
{
	static const char *const own[] = {"rollback", "undo", "prune", "upgrade"};

	for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
		if (strcmp(own[i], action) == 0)
			return true;
	return false;
}

/* The actions exec runs, in the table's order and separated by spaces
 * ("ping status preflight stop start logs backup"), into out. */
static void
cmd_exec_actions(char *out, size_t outlen)
{
	size_t n = 0;

	out[0] = '\0';
	for (size_t i = 0; i < proto_action_count() && n < outlen; i++) {
		const char *a = proto_action_name(i);
		if (!cmd_exec_own_command(a))
			n += (size_t)snprintf(out + n, outlen - n, "%s%s", n ? " " : "", a);
	}
}

static int
cmd_exec_exec(struct ctl *c, int argc, char **argv)
{
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
	char actions[PROTO_ACTIONS_MAX * 33], what[sizeof(actions) + 16];
	int ret;

	cmd_exec_actions(actions, sizeof(actions));
	snprintf(what, sizeof(what), "ACTION (%s)", actions);
	if ((ret = submit_getopt(c, &cmd_exec_entry, argc, argv, opts, &s)) >= 0)
		goto out;
	if ((ret = ctl_operands(c, argc, argv, 1, 1, what)) != 0)
		goto out;
	s.action = argv[optind];
	if (cmd_exec_own_command(s.action)) {
		ret = ctl_usage_error(c, "%s has its own command: odcctl %s", s.action, s.action);
		goto out;
	}
	if (proto_action_index(s.action) < 0) {
		ret = ctl_usage_error(c, "unknown action '%s' (%s)", s.action, actions);
		goto out;
	}
	ret = submit_run(c, &s, NULL, 0);
out:
	submit_free(&s);
	return ret;
}
