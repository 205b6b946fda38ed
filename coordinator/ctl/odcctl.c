/* odcctl: the operators' command line for odc-coordinator. This file is its
 * main, the top layer: the options before the command, the command table and
 * dispatch. */
#include <string.h>

#include "common/log.h"
#include "coordinator/ctl/ctl.h"

static const struct ctl_cmd *const ctl_commands[] = {
    &cmd_keygen_entry, &cmd_info_entry,   &cmd_hosts_entry,   &cmd_deployments_entry,
    &cmd_keys_entry,   &cmd_exec_entry,   &cmd_upgrade_entry, &cmd_rollback_entry,
    &cmd_undo_entry,   &cmd_jobs_entry,   &cmd_job_entry,     &cmd_watch_entry,
    &cmd_pause_entry,  &cmd_resume_entry, &cmd_abort_entry,   &cmd_audit_entry,
    &cmd_logs_entry,   &cmd_prune_entry,
};
#define CTL_NCOMMANDS (sizeof(ctl_commands) / sizeof(ctl_commands[0]))

static void
ctl_main_usage(FILE *f)
{
	fprintf(f, "usage: odcctl [-c FILE] [-o table|json] [--endpoint EP] COMMAND [ARGS]\n"
	           "       odcctl COMMAND --help\n"
	           "\n"
	           "commands:\n");
	for (size_t i = 0; i < CTL_NCOMMANDS; i++)
		fprintf(f, "  %-10s %s\n", ctl_commands[i]->name, ctl_commands[i]->summary);
	fprintf(
	    f, "\n"
	       "options (also accepted after COMMAND):\n"
	       "  -c, --config FILE   configuration file (default: $ODCCTL_CONF, then\n"
	       "                      ~/" CTL_USER_CONF ", then " CTL_SYSTEM_CONF ")\n"
	       "  -o, --output MODE   table (default) or json: the coordinator's reply as JSON\n"
	       "  --endpoint EP       the coordinator's control socket (ipc://PATH or\n"
	       "                      tcp://HOST:PORT), instead of the configured one\n"
	       "  -h, --help          this text\n"
	       "  --version           odcctl's version\n"
	       "\n"
	       "exit status: 0 success (every target succeeded), 1 the job ended with a failed\n"
	       "target, 2 usage, configuration or argument error (also an unknown host or job),\n"
	       "3 the coordinator is unreachable (no reply within the timeout, no control socket,\n"
	       "or this operator key refused), 4 the job was halted or aborted.\n");
}

static const struct ctl_cmd *
ctl_find(const char *name)
{
	for (size_t i = 0; i < CTL_NCOMMANDS; i++)
		if (strcmp(ctl_commands[i]->name, name) == 0)
			return ctl_commands[i];
	return NULL;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"output", required_argument, NULL, 'o'},
	    {"endpoint", required_argument, NULL, CTL_OPT_ENDPOINT},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, CTL_OPT_VERSION},
	    {NULL, 0, NULL, 0},
	};
	struct ctl c = {.output = CTL_OUT_TABLE};
	const struct ctl_cmd *cmd;
	int ch, ret = CTL_EXIT_USAGE;

	log_init("odcctl", LOG_LVL_WARN, 0);
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+:c:o:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			ctl_main_usage(stdout);
			return CTL_EXIT_OK;
		case CTL_OPT_VERSION:
			printf("odcctl %s (protocol %d)\n", CTL_VERSION, PROTO_VERSION);
			return CTL_EXIT_OK;
		case ':':
			return ctl_usage_error(&c, "option '%s' needs a value", argv[optind - 1]);
		case '?':
			if (optopt > 0 && optopt < 0x80)
				return ctl_usage_error(&c, "unknown option '-%c'", optopt);
			return ctl_usage_error(&c, "unknown option '%s'", argv[optind - 1]);
		default:
			if (ctl_global_option(&c, ch, optarg) != 0)
				return CTL_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		ctl_main_usage(stderr);
		return CTL_EXIT_USAGE;
	}
	cmd = ctl_find(argv[optind]);
	if (cmd == NULL)
		return ctl_usage_error(&c, "unknown command '%s'", argv[optind]);
	c.cmd = cmd->name;
	argc -= optind;
	argv += optind;
	optind = 0; /* GNU: start over, on the subcommand's argv */
	if (keys_init() != 0) {
		ctl_error(&c, "libsodium failed to initialise");
		return CTL_EXIT_FAILED;
	}
	ret = cmd->exec(&c, argc, argv);
	fflush(stdout);
	ctl_disconnect(&c);
	ctl_conf_free(&c);
	return ret;
}
