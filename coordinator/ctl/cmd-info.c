/* odcctl info: who the coordinator is and how the fleet stands. */
#include <string.h>

#include "coordinator/ctl/ctl.h"

static int cmd_info_exec(struct ctl *, int, char **);

const struct ctl_cmd cmd_info_entry = {
    "info", "", "the coordinator's id, version, key and fleet counts", "", cmd_info_exec,
};

static void
cmd_info_line(const char *label, const char *value)
{
	char buf[1024];

	printf("%-12s %s\n", label, out_clean(value, buf, sizeof(buf)));
}

static int
cmd_info_exec(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {CTL_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
	const json_t *hosts;
	json_t *body = NULL;
	char line[1024], a[64], b[32], fp[KEYS_FINGERPRINT_SIZE] = "";
	uint8_t pk[KEYS_PUBLIC_LEN];
	long long now_ms;
	uint64_t local, hb;
	int ch, ret;

	while ((ch = ctl_getopt(c, &cmd_info_entry, argc, argv, opts)) != CTL_OPT_END)
		return ch == CTL_OPT_HELP ? CTL_EXIT_OK : CTL_EXIT_USAGE;
	if ((ret = ctl_operands(c, argc, argv, 0, 0, "")) != 0)
		return ret;
	if ((ret = ctl_request(c, "info", NULL, false, &body)) != 0)
		return ret;
	if (c->output == CTL_OUT_JSON) {
		ret = out_json(body) == 0 ? CTL_EXIT_OK : CTL_EXIT_FAILED;
		goto out;
	}
	snprintf(line, sizeof(line), "%s (odc-coordinator %s)", js(body, "coordinator_id"),
	         js(body, "version"));
	cmd_info_line("coordinator", line);
	cmd_info_line("endpoint", c->endpoint);
	cmd_info_line("public key", js(body, "public_key"));
	if (keys_parse_public(js(body, "public_key"), pk, a, sizeof(a)) == 0 &&
	    keys_fingerprint(pk, fp, sizeof(fp)) == 0)
		cmd_info_line("fingerprint", fp);
	now_ms = ji(body, "now_ms", -1);
	local = proto_now_ms();
	if (now_ms >= 0) {
		long long skew = (long long)local - now_ms;
		snprintf(line, sizeof(line), "%s (this host's clock %s%s)",
		         out_time(now_ms, a, sizeof(a)), skew >= 0 ? "+" : "-",
		         out_duration((uint64_t)(skew >= 0 ? skew : -skew), b, sizeof(b)));
		cmd_info_line("time", line);
	}
	hb = ji(body, "heartbeat_ms", 0) > 0 ? (uint64_t)ji(body, "heartbeat_ms", 0) : 0;
	snprintf(line, sizeof(line), "every %s, lost after %lld missed beats",
	         hb % 1000 == 0 ? out_seconds(hb / 1000, a, sizeof(a))
	                        : out_duration(hb, a, sizeof(a)),
	         ji(body, "lost_after", 0));
	cmd_info_line("heartbeat", line);
	hosts = json_object_get(body, "hosts");
	snprintf(line, sizeof(line), "%lld online, %lld lost, %lld never seen, %lld revoked",
	         ji(hosts, "online", 0), ji(hosts, "lost", 0), ji(hosts, "never", 0),
	         ji(hosts, "revoked", 0));
	cmd_info_line("hosts", line);
	snprintf(line, sizeof(line), "%lld", ji(body, "jobs_active", 0));
	cmd_info_line("active jobs", line);
	ret = CTL_EXIT_OK;
out:
	json_decref(body);
	return ret;
}
