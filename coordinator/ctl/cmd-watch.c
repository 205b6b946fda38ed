/* odcctl watch: follow a job until it ends. */
#include <string.h>

#include "coordinator/ctl/ctl.h"

static int cmd_watch_exec(struct ctl *, int, char **);

const struct ctl_cmd cmd_watch_entry = {
    "watch",
    "ID",
    "follow a job's progress until it ends",
    "On a terminal a progress bar and the busy hosts are redrawn every 500 ms;\n"
    "otherwise one line is printed per change. With -o json, JSON Lines: one\n"
    "object per change as it happens (the job's summary and the hosts that\n"
    "changed; the first has every host), the last the final job with every\n"
    "result (it has `results`). Ctrl-C stops watching (the job goes on).\n"
    "Exit status: 0 succeeded, 1 failed, 4 halted or aborted,\n"
    "3 the coordinator is unreachable, 2 no such job.\n",
    cmd_watch_exec,
};

static int
cmd_watch_exec(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {CTL_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
	const char *id;
	int ch, ret;

	while ((ch = ctl_getopt(c, &cmd_watch_entry, argc, argv, opts)) != CTL_OPT_END)
		return ch == CTL_OPT_HELP ? CTL_EXIT_OK : CTL_EXIT_USAGE;
	if ((ret = ctl_job_operand(c, argc, argv, &id)) != 0)
		return ret;
	ret = follow_job(c, id, NULL, FOLLOW_STREAM);
	if (c->output == CTL_OUT_TABLE &&
	    (ret == CTL_EXIT_OK || ret == CTL_EXIT_FAILED || ret == CTL_EXIT_HALTED)) {
		/* What the command that submitted it prints at the end too. */
		json_t *job = NULL;
		int r = ctl_job_get(c, id, &job);
		const char *dry =
		    json_string_value(json_object_get(json_object_get(job, "params"), "dry_run"));
		if (r == 0 && json_string_value(json_object_get(job, "action")) != NULL)
			ret = submit_print_outcome(
			    c, id, json_string_value(json_object_get(job, "action")),
			    dry != NULL && strcmp(dry, "true") == 0, ret);
		json_decref(job);
	}
	return ret;
}
