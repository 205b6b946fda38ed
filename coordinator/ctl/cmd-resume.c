/* odcctl resume: continue a paused job. */
#include "coordinator/ctl/ctl.h"

static int cmd_resume_exec(struct ctl *, int, char **);

const struct ctl_cmd cmd_resume_entry = {
    "resume", "ID", "continue a paused job", "", cmd_resume_exec,
};

static int
cmd_resume_exec(struct ctl *c, int argc, char **argv)
{
	return ctl_job_control(c, &cmd_resume_entry, argc, argv, "resume");
}
