/* odcctl pause: stop a running job's new dispatches. Also the shared body of
 * pause, resume and abort, which differ only in the command they send. */
#include "coordinator/ctl/ctl.h"

static int cmd_pause_exec(struct ctl *, int, char **);

const struct ctl_cmd cmd_pause_entry = {
    "pause",
    "ID",
    "stop dispatching a running job's next hosts (running steps go on)",
    "Resume it with odcctl resume ID, or end it with odcctl abort ID.\n",
    cmd_pause_exec,
};

int
cmd_job_control(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv,
                const char *command)
{
	static const struct option opts[] = {CTL_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
	char line[1024], clean[1024];
	json_t *body = NULL;
	const char *id;
	int ch, ret;

	while ((ch = ctl_getopt(c, cmd, argc, argv, opts)) != CTL_OPT_END)
		return ch == CTL_OPT_HELP ? CTL_EXIT_OK : CTL_EXIT_USAGE;
	if ((ret = ctl_operands(c, argc, argv, 1, 1, "the job ID")) != 0)
		return ret;
	id = argv[optind];
	if (!proto_valid_id(id))
		return ctl_usage_error(c, "ID '%s': not a job id (1..64 of [A-Za-z0-9._-])", id);
	if ((ret = ctl_request(c, command, json_pack("{s:s}", "job", id), true, &body)) != 0)
		return ret;
	if (c->output == CTL_OUT_JSON) {
		ret = out_json(body) == 0 ? CTL_EXIT_OK : CTL_EXIT_FAILED;
	} else {
		snprintf(line, sizeof(line), "job %s: %s, stage %s%s%s", js(body, "job_id"),
		         js(body, "state"), js(body, "stage"), js(body, "message")[0] ? ": " : "",
		         js(body, "message"));
		printf("%s\n", out_clean(line, clean, sizeof(clean)));
	}
	json_decref(body);
	return ret;
}

static int
cmd_pause_exec(struct ctl *c, int argc, char **argv)
{
	return cmd_job_control(c, &cmd_pause_entry, argc, argv, "pause");
}
