/* odcctl's context, the bottom layer: messages ("odcctl: CMD: ..."), the
 * global options and getopt over a subcommand's argv, operands, numbers and
 * the interrupt flag. Calls no other file of odcctl. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/ctl/ctl.h"

volatile sig_atomic_t ctl_interrupted;

/* "odcctl NAME --help": the usage line, the summary, the command's own text
 * and a word on the global options. */
static void
ctl_cmd_help(const struct ctl_cmd *cmd, FILE *f)
{
	fprintf(f, "usage: odcctl %s%s%s\n\n%s\n\n%s", cmd->name, cmd->usage[0] ? " " : "",
	        cmd->usage, cmd->summary, cmd->help);
	fprintf(f, "%sglobal options (-c FILE, -o table|json, --endpoint EP) may follow %s too.\n",
	        cmd->help[0] ? "\n" : "", cmd->name);
}

/* Prints "odcctl: CMD: MESSAGE" (or "odcctl: MESSAGE" before a command is
 * known) on stderr. */
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

bool
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
	uint64_t ms;

	if (config_parse_duration_ms(s, &ms) != 0)
		return -1;
	/* Rounded up: a deadline given in ms never ends before the time asked. */
	*out = ms / 1000 + (ms % 1000 != 0 ? 1 : 0);
	return 0;
}
