/* odcctl: the operators' command line for odc-coordinator. This file is its
 * main: global options, the configuration, the command table and dispatch. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "coordinator/ctl/ctl.h"

volatile sig_atomic_t ctl_interrupted;

static const struct ctl_cmd *const ctl_commands[] = {
    &cmd_keygen_entry, &cmd_info_entry,  &cmd_hosts_entry,    &cmd_deployments_entry,
    &cmd_keys_entry,   &cmd_exec_entry,  &cmd_rollback_entry, &cmd_undo_entry,
    &cmd_jobs_entry,   &cmd_job_entry,   &cmd_watch_entry,    &cmd_pause_entry,
    &cmd_resume_entry, &cmd_abort_entry, &cmd_audit_entry,    &cmd_logs_entry,
    &cmd_prune_entry,
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

static void
ctl_cmd_help(const struct ctl_cmd *cmd, FILE *f)
{
	fprintf(f, "usage: odcctl %s%s%s\n\n%s\n\n%s", cmd->name, cmd->usage[0] ? " " : "",
	        cmd->usage, cmd->summary, cmd->help);
	fprintf(f, "%sglobal options (-c FILE, -o table|json, --endpoint EP) may follow %s too.\n",
	        cmd->help[0] ? "\n" : "", cmd->name);
}

static void
ctl_vmsg(const struct ctl *c, const char *fmt, va_list ap)
{
	char msg[2048];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (c->cmd != NULL)
		fprintf(stderr, "odcctl: %s: %s\n", c->cmd, msg);
	else
		fprintf(stderr, "odcctl: %s\n", msg);
}

void
ctl_error(const struct ctl *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ctl_vmsg(c, fmt, ap);
	va_end(ap);
}

int
ctl_usage_error(const struct ctl *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ctl_vmsg(c, fmt, ap);
	va_end(ap);
	if (c->cmd != NULL)
		fprintf(stderr, "Try 'odcctl %s --help'.\n", c->cmd);
	else
		fprintf(stderr, "Try 'odcctl --help'.\n");
	return CTL_EXIT_USAGE;
}

int
ctl_operands(const struct ctl *c, int argc, char **argv, int min, int max, const char *what)
{
	int n = argc - optind;

	if (n < min)
		return ctl_usage_error(c, "missing %s", what);
	if (n > max)
		return ctl_usage_error(c, "unexpected argument '%s'", argv[optind + max]);
	return 0;
}

static bool
ctl_valid_endpoint(const char *ep)
{
	size_t n = strlen(ep);

	if (n >= CTL_ENDPOINT_MAX)
		return false;
	if (strncmp(ep, "ipc://", 6) == 0)
		return n > 6;
	if (strncmp(ep, "tcp://", 6) == 0)
		return n > 6 && strchr(ep + 6, ':') != NULL;
	return false;
}

int
ctl_global_option(struct ctl *c, int ch, const char *arg)
{
	switch (ch) {
	case 'c':
		c->conf_arg = arg;
		return 0;
	case 'o':
		if (strcmp(arg, "table") == 0)
			c->output = CTL_OUT_TABLE;
		else if (strcmp(arg, "json") == 0)
			c->output = CTL_OUT_JSON;
		else {
			ctl_usage_error(c, "-o %s: expected table or json", arg);
			return -1;
		}
		return 0;
	case CTL_OPT_ENDPOINT:
		if (!ctl_valid_endpoint(arg)) {
			ctl_usage_error(c, "--endpoint %s: expected ipc://PATH or tcp://HOST:PORT",
			                arg);
			return -1;
		}
		c->endpoint_arg = arg;
		return 0;
	}
	return -1;
}

int
ctl_getopt(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv,
           const struct option *opts)
{
	for (;;) {
		int ch = getopt_long(argc, argv, ":hc:o:", opts, NULL);
		const char *at = optind > 0 && optind <= argc ? argv[optind - 1] : "?";

		switch (ch) {
		case -1:
			return CTL_OPT_END;
		case 'h':
			ctl_cmd_help(cmd, stdout);
			return CTL_OPT_HELP;
		case 'c':
		case 'o':
		case CTL_OPT_ENDPOINT:
			if (ctl_global_option(c, ch, optarg) != 0)
				return CTL_OPT_ERROR;
			continue;
		case ':':
			if (optopt > 0 && optopt < 0x80 && at[0] == '-' && at[1] != '-')
				ctl_usage_error(c, "option '-%c' needs a value", optopt);
			else
				ctl_usage_error(c, "option '%s' needs a value", at);
			return CTL_OPT_ERROR;
		case '?':
			if (optopt > 0 && optopt < 0x80)
				ctl_usage_error(c, "unknown option '-%c'", optopt);
			else if (optopt != 0)
				ctl_usage_error(c, "option '%s' takes no value", at);
			else
				ctl_usage_error(c, "unknown option '%s'", at);
			return CTL_OPT_ERROR;
		default:
			return ch;
		}
	}
}

int
ctl_parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t n = strlen(s);

	if (n == 0 || n > 19)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

int
ctl_parse_duration_s(const char *s, uint64_t *out)
{
	char num[24];
	size_t n = strspn(s, "0123456789");
	uint64_t v, mul;

	if (n == 0 || n >= sizeof(num))
		return -1;
	memcpy(num, s, n);
	num[n] = '\0';
	if (ctl_parse_uint(num, PROTO_UINT_MAX, &v) != 0)
		return -1;
	if (strcmp(s + n, "") == 0 || strcmp(s + n, "s") == 0)
		mul = 1;
	else if (strcmp(s + n, "m") == 0)
		mul = 60;
	else if (strcmp(s + n, "h") == 0)
		mul = 3600;
	else if (strcmp(s + n, "d") == 0)
		mul = 86400;
	else
		return -1;
	if (v > UINT32_MAX) /* far above any deadline; keeps v * mul exact */
		return -1;
	*out = v * mul;
	return 0;
}

const char *
ctl_conf_where(const struct ctl *c)
{
	if (c->conf_path != NULL)
		return c->conf_path;
	return "odcctl.conf (none found: -c FILE, $ODCCTL_CONF, ~/" CTL_USER_CONF
	       ", " CTL_SYSTEM_CONF ")";
}

/* The file to load: a named one (-c, $ODCCTL_CONF) must exist; the default
 * places are skipped when absent. Returns 0 with *path (or NULL: none). */
static int
ctl_conf_lookup(struct ctl *c, const char **path)
{
	const char *env = getenv("ODCCTL_CONF");
	const char *home = getenv("HOME");
	struct stat st;

	*path = NULL;
	if (c->conf_arg != NULL) {
		*path = c->conf_arg;
		return 0;
	}
	if (env != NULL && env[0] != '\0') {
		*path = env;
		return 0;
	}
	if (home != NULL && home[0] == '/') {
		int n = snprintf(c->user_conf, sizeof(c->user_conf), "%s/%s", home, CTL_USER_CONF);
		if (n > 0 && (size_t)n < sizeof(c->user_conf) && lstat(c->user_conf, &st) == 0) {
			*path = c->user_conf;
			return 0;
		}
	}
	if (lstat(CTL_SYSTEM_CONF, &st) == 0)
		*path = CTL_SYSTEM_CONF;
	return 0;
}

static int ctl_conf_fail(const struct ctl *c, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "odcctl: file:line: odcctl.key: WHY" for a value the getters accepted but
 * odcctl does not. */
static int
ctl_conf_fail(const struct ctl *c, const char *key, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	fprintf(stderr, "odcctl: %s:%d: odcctl.%s: %s\n", c->conf_path,
	        config_line(c->cfg, "odcctl", key), key, why);
	return CTL_EXIT_USAGE;
}

static bool
ctl_valid_operator(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'))
			return false;
	}
	return true;
}

static int
ctl_conf_read(struct ctl *c)
{
	static const char *const known[] = {"odcctl.endpoint", "odcctl.operator",
	                                    "odcctl.key",      "odcctl.coordinator_key",
	                                    "odcctl.timeout",  NULL};
	const char *s;
	char err[1024];

	if (config_check_known(c->cfg, known, err, sizeof(err)) != 0)
		goto bad;
	if (config_get_str(c->cfg, "odcctl", "endpoint", CTL_DEFAULT_ENDPOINT, &c->endpoint, err,
	                   sizeof(err)) < 0)
		goto bad;
	if (!ctl_valid_endpoint(c->endpoint))
		return ctl_conf_fail(
		    c, "endpoint", "expected ipc://PATH or tcp://HOST:PORT, got '%s'", c->endpoint);
	if (config_get_str(c->cfg, "odcctl", "operator", NULL, &s, err, sizeof(err)) < 0)
		goto bad;
	if (s != NULL && s[0] != '\0') {
		if (!ctl_valid_operator(s))
			return ctl_conf_fail(c, "operator",
			                     "expected 1..64 of [A-Za-z0-9._-] (the name in "
			                     "coordinator.conf's [trust] operators), got '%s'",
			                     s);
		c->operator_name = s;
	}
	if (config_get_str(c->cfg, "odcctl", "key", NULL, &s, err, sizeof(err)) < 0)
		goto bad;
	if (s != NULL && s[0] != '\0') {
		if (config_get_path(c->cfg, "odcctl", "key", NULL, &s, err, sizeof(err)) < 0)
			goto bad;
		c->key_path = s;
	}
	if (config_get_str(c->cfg, "odcctl", "coordinator_key", NULL, &s, err, sizeof(err)) < 0)
		goto bad;
	if (s != NULL && s[0] != '\0') {
		char why[256];
		if (keys_parse_public(s, c->coordinator_key, why, sizeof(why)) != 0)
			return ctl_conf_fail(c, "coordinator_key", "%s", why);
		c->has_coordinator_key = true;
	}
	if (config_get_duration_ms(c->cfg, "odcctl", "timeout", 10000, 100, 600000, &c->timeout_ms,
	                           err, sizeof(err)) < 0)
		goto bad;
	return 0;
bad:
	fprintf(stderr, "odcctl: %s\n", err);
	return CTL_EXIT_USAGE;
}

int
ctl_setup(struct ctl *c)
{
	const char *path;
	char err[1024];
	int ret;

	if (c->loaded)
		return 0;
	c->endpoint = CTL_DEFAULT_ENDPOINT;
	c->timeout_ms = 10000;
	ctl_conf_lookup(c, &path);
	if (path != NULL) {
		c->cfg = config_load(path, err, sizeof(err));
		if (c->cfg == NULL) {
			fprintf(stderr, "odcctl: %s\n", err);
			return CTL_EXIT_USAGE;
		}
		c->conf_path = config_path(c->cfg);
		if ((ret = ctl_conf_read(c)) != 0)
			return ret;
	}
	if (c->endpoint_arg != NULL)
		c->endpoint = c->endpoint_arg;
	if (strncmp(c->endpoint, "tcp://", 6) == 0) {
		/* CURVE needs both ends' keys: the coordinator's to know whom we talk
		 * to, ours to be admitted. */
		if (!c->has_coordinator_key) {
			fprintf(stderr,
			        "odcctl: %s: endpoint %s needs coordinator_key (the coordinator's "
			        "public key) in [odcctl]\n",
			        ctl_conf_where(c), c->endpoint);
			return CTL_EXIT_USAGE;
		}
		if (c->key_path == NULL) {
			fprintf(stderr,
			        "odcctl: %s: endpoint %s needs key (the operator's secret key) in "
			        "[odcctl]\n",
			        ctl_conf_where(c), c->endpoint);
			return CTL_EXIT_USAGE;
		}
	}
	c->loaded = true;
	return 0;
}

int
ctl_operator_key(struct ctl *c)
{
	char err[1024];

	if (c->key != NULL)
		return 0;
	if (c->key_path == NULL) {
		ctl_error(c, "no operator key: set key in [odcctl] of %s", ctl_conf_where(c));
		return CTL_EXIT_USAGE;
	}
	c->key = keys_load_secret(c->key_path, err, sizeof(err));
	if (c->key == NULL) {
		ctl_error(c, "operator key: %s", err);
		return CTL_EXIT_USAGE;
	}
	return 0;
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
	ctl_client_free(c.client);
	keys_pair_free(c.key);
	config_free(c.cfg);
	return ret;
}
