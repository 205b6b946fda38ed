/* Host selectors (--host ID, --hosts GLOB, --label k=v, --all): checked here,
 * resolved by the coordinator (PROTOCOL.md section 9.1). */
#include <stdlib.h>
#include <string.h>

#include "coordinator/ctl/ctl.h"

/* A HELLO label key: 1..64 of [A-Za-z0-9._/-]. */
static bool
sel_valid_label_key(const char *k, size_t n)
{
	if (n < 1 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = k[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '/' || ch == '-'))
			return false;
	}
	return true;
}

static bool
sel_printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

int
ctl_sel_option(const struct ctl *c, struct ctl_sel *s, int ch, const char *arg)
{
	const char *eq;

	switch (ch) {
	case CTL_OPT_HOST:
		if (!proto_valid_id(arg)) {
			ctl_usage_error(
			    c,
			    "--host '%s': not a host id (1..64 of [A-Za-z0-9._-], first "
			    "a letter or digit); use --hosts for a glob",
			    arg);
			return -1;
		}
		if (s->n_hosts == CTL_SEL_MAX_HOSTS) {
			ctl_usage_error(c, "--host: at most %d hosts", CTL_SEL_MAX_HOSTS);
			return -1;
		}
		if ((s->n_hosts & (s->n_hosts - 1)) == 0) { /* 0, 1, 2, 4, ...: grow */
			size_t cap = s->n_hosts ? s->n_hosts * 2 : 1;
			const char **p = realloc(s->hosts, cap * sizeof(*p));
			if (p == NULL) {
				ctl_error(c, "out of memory");
				return -1;
			}
			s->hosts = p;
		}
		s->hosts[s->n_hosts++] = arg;
		return 1;
	case CTL_OPT_HOSTS:
		/* One glob: a later --hosts replaces an earlier one. */
		if (arg[0] == '\0' || strlen(arg) > CTL_SEL_MAX_GLOB || !sel_printable(arg)) {
			ctl_usage_error(
			    c, "--hosts '%s': expected a shell glob of 1..%d printable bytes", arg,
			    CTL_SEL_MAX_GLOB);
			return -1;
		}
		s->glob = arg;
		return 1;
	case CTL_OPT_LABEL:
		eq = strchr(arg, '=');
		if (eq == NULL || !sel_valid_label_key(arg, (size_t)(eq - arg))) {
			ctl_usage_error(
			    c, "--label '%s': expected KEY=VALUE, KEY 1..64 of [A-Za-z0-9._/-]",
			    arg);
			return -1;
		}
		if (strlen(eq + 1) > CONFIG_MAX_LABEL_VALUE || !sel_printable(eq + 1)) {
			ctl_usage_error(
			    c, "--label '%s': the value must be at most %d printable bytes", arg,
			    CONFIG_MAX_LABEL_VALUE);
			return -1;
		}
		if (s->n_labels == CTL_SEL_MAX_LABELS) {
			ctl_usage_error(c, "--label: at most %d labels", CTL_SEL_MAX_LABELS);
			return -1;
		}
		s->labels[s->n_labels++] = arg;
		return 1;
	case CTL_OPT_ALL:
		s->all = true;
		return 1;
	}
	return 0;
}

bool
ctl_sel_empty(const struct ctl_sel *s)
{
	return s->n_hosts == 0 && s->glob == NULL && s->n_labels == 0 && !s->all;
}

static json_t *
sel_array(const char *const *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < n; i++)
		if (json_array_append_new(a, json_string(v[i])) != 0) {
			json_decref(a);
			a = NULL;
		}
	return a;
}

int
ctl_sel_args(const struct ctl_sel *s, json_t *args)
{
	if (s->n_hosts > 0 &&
	    json_object_set_new(args, "host", sel_array(s->hosts, s->n_hosts)) != 0)
		return -1;
	if (s->glob != NULL && json_object_set_new(args, "glob", json_string(s->glob)) != 0)
		return -1;
	if (s->n_labels > 0 &&
	    json_object_set_new(args, "label", sel_array(s->labels, s->n_labels)) != 0)
		return -1;
	if (s->all && json_object_set_new(args, "all", json_true()) != 0)
		return -1;
	return 0;
}

void
ctl_sel_free(struct ctl_sel *s)
{
	free(s->hosts);
	s->hosts = NULL;
	s->n_hosts = 0;
}
