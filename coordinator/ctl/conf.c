/* odcctl's configuration: the file's lookup order (coordinator/README.md),
 * every [odcctl] key checked, --endpoint applied, and the operator's secret
 * key loaded on demand. What it loads belongs to struct ctl until
 * ctl_conf_free. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "coordinator/ctl/ctl.h"

static int ctl_conf_fail(const struct ctl *c, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

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

void
ctl_conf_free(struct ctl *c)
{
	keys_pair_free(c->key);
	c->key = NULL;
	config_free(c->cfg);
	c->cfg = NULL;
}
