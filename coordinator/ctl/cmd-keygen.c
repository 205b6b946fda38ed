/* odcctl keygen: a new Ed25519 key pair in PATH.key (0600) and PATH.pub, for
 * an operator, a coordinator or an agent. Needs no configuration. */
#include <limits.h>
#include <string.h>

#include "coordinator/ctl/ctl.h"

static int cmd_keygen_exec(struct ctl *, int, char **);

const struct ctl_cmd cmd_keygen_entry = {
    "keygen",
    "[--kind operator|coordinator|agent] PATH",
    "make a key pair: PATH.key (secret, mode 0600) and PATH.pub",
    "Writes a new Ed25519 key pair and prints the public key and its fingerprint.\n"
    "Existing files are never overwritten. --kind (default operator) only changes\n"
    "the hints printed about where the key goes. No coordinator or configuration\n"
    "is needed.\n",
    cmd_keygen_exec,
};

static bool
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && strcmp(s + n - k, suffix) == 0;
}

static void
cmd_keygen_hints(const char *kind, const char *secret, const char *pub, const char *text)
{
	if (strcmp(kind, "operator") == 0) {
		printf("next: in coordinator.conf [trust] operators add NAME=%s\n"
		       "      in each agent.conf [trust] operators add %s\n"
		       "      in odcctl.conf [odcctl] set key = %s and operator = NAME\n",
		       text, text, secret);
	} else if (strcmp(kind, "coordinator") == 0) {
		printf(
		    "next: in coordinator.conf [keys] set secret_key = %s\n"
		    "      in each agent.conf set [trust] coordinators and [coordinator] public_key"
		    " to %s\n"
		    "      for tcp operators: odcctl.conf [odcctl] coordinator_key = %s\n",
		    secret, text, text);
	} else {
		printf("next: in agent.conf [keys] set secret_key = %s\n"
		       "      then enroll it: odcctl keys accept HOST @%s\n",
		       secret, pub);
	}
}

static int
cmd_keygen_exec(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    CTL_COMMON_OPTIONS,
	    {"kind", required_argument, NULL, CTL_OPT_KIND},
	    {NULL, 0, NULL, 0},
	};
	char secret[PATH_MAX], pub[PATH_MAX], err[1024];
	char text[KEYS_PUBLIC_TEXT_SIZE], fp[KEYS_FINGERPRINT_SIZE], cfp[KEYS_FINGERPRINT_SIZE];
	const char *kind = "operator", *path;
	struct keys_pair *kp = NULL;
	int ch, ret;

	while ((ch = ctl_getopt(c, &cmd_keygen_entry, argc, argv, opts)) != CTL_OPT_END) {
		switch (ch) {
		case CTL_OPT_HELP:
			return CTL_EXIT_OK;
		case CTL_OPT_KIND:
			if (strcmp(optarg, "operator") != 0 && strcmp(optarg, "coordinator") != 0 &&
			    strcmp(optarg, "agent") != 0)
				return ctl_usage_error(
				    c, "--kind %s: expected operator, coordinator or agent",
				    optarg);
			kind = optarg;
			break;
		default:
			return CTL_EXIT_USAGE;
		}
	}
	if ((ret = ctl_operands(c, argc, argv, 1, 1, "PATH (the key files' name without .key)")) !=
	    0)
		return ret;
	path = argv[optind];
	if (path[0] == '\0' || ends_with(path, "/"))
		return ctl_usage_error(c,
		                       "PATH '%s': expected a file name (PATH.key and PATH.pub "
		                       "are written)",
		                       path);
	if (ends_with(path, ".key") || ends_with(path, ".pub"))
		return ctl_usage_error(c,
		                       "PATH '%s': give it without .key or .pub (keygen alice "
		                       "writes alice.key and alice.pub)",
		                       path);
	if (strlen(path) + 5 > sizeof(secret))
		return ctl_usage_error(c, "PATH: longer than %d bytes", PATH_MAX - 5);
	snprintf(secret, sizeof(secret), "%s.key", path);
	snprintf(pub, sizeof(pub), "%s.pub", path);

	kp = keys_generate(err, sizeof(err));
	if (kp == NULL) {
		ctl_error(c, "%s", err);
		return CTL_EXIT_FAILED;
	}
	if (keys_save(kp, secret, pub, err, sizeof(err)) != 0) {
		/* Most often an existing file: the argument is the problem. */
		ctl_error(c, "%s", err);
		ret = CTL_EXIT_USAGE;
		goto out;
	}
	keys_format_public(kp->pk, text, sizeof(text));
	keys_fingerprint(kp->pk, fp, sizeof(fp));
	keys_curve_fingerprint(kp->pk, cfp, sizeof(cfp));
	if (c->output == CTL_OUT_JSON) {
		json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "kind", kind, "public_key",
		                      text, "fingerprint", fp, "curve_fingerprint", cfp,
		                      "secret_key_file", secret, "public_key_file", pub);
		ret = o != NULL && out_json(o) == 0 ? CTL_EXIT_OK : CTL_EXIT_FAILED;
		json_decref(o);
		goto out;
	}
	keys_print_new(stdout, kp, secret, pub);
	cmd_keygen_hints(kind, secret, pub, text);
	ret = CTL_EXIT_OK;
out:
	keys_pair_free(kp);
	return ret;
}
