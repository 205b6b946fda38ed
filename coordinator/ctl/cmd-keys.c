/* odcctl keys: enrolled and pending agent keys; accept and revoke. */
#include <string.h>

#include "coordinator/ctl/ctl.h"

static int cmd_keys_exec(struct ctl *, int, char **);

const struct ctl_cmd cmd_keys_entry = {
    "keys",
    "[list] | accept HOST KEY | revoke HOST",
    "list enrolled and pending agent keys; accept or revoke a host's key",
    "list (the default) shows the enrolled keys (HOST STATE FINGERPRINT ACCEPTED) and\n"
    "the pending ones, refused at connect because no host has them (CURVE-FINGERPRINT\n"
    "ADDRESS FIRST LAST ATTEMPTS; ages). A handshake shows only a key's CURVE form,\n"
    "so a pending key is named by its CURVE fingerprint (odc-agent keygen prints it).\n"
    "accept HOST KEY enrolls KEY for HOST. KEY is the host's public key\n"
    "(odc-ed25519-pub:... or 64 hex digits), or @FILE.pub to read it from a file.\n"
    "revoke HOST stops admitting HOST's key; the host may be accepted again later.\n",
    cmd_keys_exec,
};

static const char *
cmd_keys_age(const json_t *o, const char *key, uint64_t now, char *out, size_t outlen)
{
	long long t = ji(o, key, -1);

	if (jnull(o, key) || t < 0)
		return "";
	return out_age((uint64_t)t < now ? now - (uint64_t)t : 0, out, outlen);
}

static int
cmd_keys_list(struct ctl *c)
{
	static const char *const h1[] = {"HOST", "STATE", "FINGERPRINT", "ACCEPTED"};
	static const char *const h2[] = {"CURVE-FINGERPRINT", "ADDRESS", "FIRST", "LAST",
	                                 "ATTEMPTS"};
	json_t *body = NULL;
	const json_t *keys, *pend, *k;
	struct out_table *t1 = NULL, *t2 = NULL;
	uint64_t now = proto_now_ms();
	size_t i;
	int ret;

	if ((ret = ctl_request(c, "keys", NULL, false, &body)) != 0)
		return ret;
	if (c->output == CTL_OUT_JSON) {
		ret = out_json(body) == 0 ? CTL_EXIT_OK : CTL_EXIT_FAILED;
		goto out;
	}
	keys = json_object_get(body, "keys");
	pend = json_object_get(body, "pending");
	t1 = out_table_new(4, h1);
	t2 = out_table_new(5, h2);
	json_array_foreach(keys, i, k)
	{
		char at[32];
		const char *cells[4] = {js(k, "host"), js(k, "state"), js(k, "fingerprint"),
		                        jnull(k, "accepted_ms")
		                            ? ""
		                            : out_time(ji(k, "accepted_ms", -1), at, sizeof(at))};
		out_table_row(t1, cells);
	}
	json_array_foreach(pend, i, k)
	{
		char first[16], last[16], n[24];
		const char *cells[5];
		snprintf(n, sizeof(n), "%lld", ji(k, "attempts", 0));
		cells[0] = js(k, "curve_fingerprint");
		cells[1] = js(k, "address");
		cells[2] = cmd_keys_age(k, "first_ms", now, first, sizeof(first));
		cells[3] = cmd_keys_age(k, "last_ms", now, last, sizeof(last));
		cells[4] = n;
		out_table_row(t2, cells);
	}
	printf("enrolled (%zu)\n", json_array_size(keys));
	ret = json_array_size(keys) > 0 ? out_table_print(t1, stdout, "  ") : 0;
	printf("\npending (%zu)\n", json_array_size(pend));
	if (json_array_size(pend) > 0 && out_table_print(t2, stdout, "  ") != 0)
		ret = -1;
	if (json_array_size(pend) > 0)
		printf("accept a host with its public key: odcctl keys accept HOST @agent.pub\n");
	ret = ret == 0 ? CTL_EXIT_OK : CTL_EXIT_FAILED;
out:
	out_table_free(t1);
	out_table_free(t2);
	json_decref(body);
	return ret;
}

static int
cmd_keys_accept(struct ctl *c, const char *host, const char *key)
{
	char text[KEYS_PUBLIC_TEXT_SIZE], err[1024];
	uint8_t pk[KEYS_PUBLIC_LEN];
	json_t *body = NULL;
	int ret;

	if (!proto_valid_id(host))
		return ctl_usage_error(c, "HOST '%s': not a host id (1..64 of [A-Za-z0-9._-])",
		                       host);
	if (key[0] == '@') {
		if (keys_load_public(key + 1, pk, err, sizeof(err)) != 0)
			return ctl_usage_error(c, "KEY %s: %s", key, err);
		keys_format_public(pk, text, sizeof(text));
		key = text;
	} else if (strncmp(key, KEYS_PUBLIC_PREFIX, strlen(KEYS_PUBLIC_PREFIX)) == 0 ||
	           strlen(key) == 2 * KEYS_PUBLIC_LEN) {
		if (keys_parse_public(key, pk, err, sizeof(err)) != 0)
			return ctl_usage_error(c, "KEY %s: %s", key, err);
		keys_format_public(pk, text, sizeof(text));
		key = text;
	} else {
		return ctl_usage_error(
		    c, "KEY '%s': expected a public key (odc-ed25519-pub:...) or @FILE.pub", key);
	}
	if ((ret = ctl_request(c, "key-accept", json_pack("{s:s, s:s}", "host", host, "key", key),
	                       true, &body)) != 0)
		return ret;
	if (c->output == CTL_OUT_JSON)
		ret = out_json(body) == 0 ? CTL_EXIT_OK : CTL_EXIT_FAILED;
	else
		printf("host %s: key %s accepted\n", js(body, "host"), js(body, "fingerprint"));
	json_decref(body);
	return ret;
}

static int
cmd_keys_revoke(struct ctl *c, const char *host)
{
	json_t *body = NULL;
	int ret;

	if (!proto_valid_id(host))
		return ctl_usage_error(c, "HOST '%s': not a host id (1..64 of [A-Za-z0-9._-])",
		                       host);
	if ((ret = ctl_request(c, "key-revoke", json_pack("{s:s}", "host", host), true, &body)) !=
	    0)
		return ret;
	if (c->output == CTL_OUT_JSON)
		ret = out_json(body) == 0 ? CTL_EXIT_OK : CTL_EXIT_FAILED;
	else
		printf("host %s: key %s revoked\n", js(body, "host"), js(body, "fingerprint"));
	json_decref(body);
	return ret;
}

static int
cmd_keys_exec(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {CTL_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
	const char *sub;
	int ch, ret;

	while ((ch = ctl_getopt(c, &cmd_keys_entry, argc, argv, opts)) != CTL_OPT_END)
		return ch == CTL_OPT_HELP ? CTL_EXIT_OK : CTL_EXIT_USAGE;
	sub = optind < argc ? argv[optind] : "list";
	if (strcmp(sub, "list") == 0) {
		if ((ret = ctl_operands(c, argc, argv, 0, 1, "")) != 0)
			return ret;
		return cmd_keys_list(c);
	}
	if (strcmp(sub, "accept") == 0) {
		if ((ret = ctl_operands(c, argc, argv, 3, 3,
		                        "HOST and KEY (keys accept HOST KEY)")) != 0)
			return ret;
		return cmd_keys_accept(c, argv[optind + 1], argv[optind + 2]);
	}
	if (strcmp(sub, "revoke") == 0) {
		if ((ret = ctl_operands(c, argc, argv, 2, 2, "HOST (keys revoke HOST)")) != 0)
			return ret;
		return cmd_keys_revoke(c, argv[optind + 1]);
	}
	return ctl_usage_error(c, "unknown keys command '%s' (list, accept, revoke)", sub);
}
