/* odcctl pause: stop a running job's new dispatches (the body it shares with
 * resume and abort is ctl_job_control, job.c). */
#include "coordinator/ctl/ctl.h"

static int cmd_pause_exec(struct ctl *, int, char **);

const struct ctl_cmd cmd_pause_entry = {
    "pause",
    "ID",
    "stop dispatching a running job's next hosts (running steps go on)",
    "Resume it with odcctl resume ID, or end it with odcctl abort ID.\n",
    cmd_pause_exec,
};

static int
cmd_pause_exec(struct ctl *c, int argc, char **argv)
{
	return ctl_job_control(c, &cmd_pause_entry, argc, argv, "pause");
}
