/* odcctl logs: ODC's log tail on one host (the `logs` action, as a signed
 * job), printed as it was fetched. */
#include "coordinator/ctl/ctl.h"

static int cmd_logs_exec(struct ctl *, int, char **);

const struct ctl_cmd cmd_logs_entry = {
    "logs",
    "HOST [--lines N] [--reason TEXT]",
    "print the tail of ODC's log on HOST",
    "Runs the logs action on HOST (a signed job, like odcctl exec logs --host HOST)\n"
    "and prints the text the agent fetched: the last N lines (default 200,\n"
    "1..10000, at most 16 KiB) of the ODC container's output, as Docker keeps it.\n"
    "Exit status: 0 printed, 1 the host is not online or its agent could not fetch\n"
    "it (the reason is printed), 2 no such host, 3 no coordinator.\n",
    cmd_logs_exec,
};

static int
cmd_logs_exec(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    CTL_COMMON_OPTIONS,
	    {"lines", required_argument, NULL, CTL_OPT_LINES},
	    {"reason", required_argument, NULL, CTL_OPT_REASON},
	    {NULL, 0, NULL, 0},
	};
	struct submit s = {.action = "logs", .output_only = true};
	int ret;

	if ((ret = submit_getopt(c, &cmd_logs_entry, argc, argv, opts, &s)) >= 0)
		goto out;
	if ((ret = ctl_operands(c, argc, argv, 1, 1, "HOST")) != 0)
		goto out;
	if (submit_option(c, &s, CTL_OPT_HOST, argv[optind]) != 1) {
		ret = CTL_EXIT_USAGE;
		goto out;
	}
	ret = submit_run(c, &s, NULL, 0);
out:
	submit_free(&s);
	return ret;
}
