/* odcctl abort: end a running or paused job. */
#include "coordinator/ctl/ctl.h"

static int cmd_abort_exec(struct ctl *, int, char **);

const struct ctl_cmd cmd_abort_entry = {
    "abort",
    "ID",
    "end a running or paused job: nothing more is dispatched",
    "Steps already running finish; hosts not yet touched become skipped.\n",
    cmd_abort_exec,
};

static int
cmd_abort_exec(struct ctl *c, int argc, char **argv)
{
	return ctl_job_control(c, &cmd_abort_entry, argc, argv, "abort");
}
