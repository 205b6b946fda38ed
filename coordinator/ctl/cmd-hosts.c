/* odcctl hosts: the enrolled hosts, their heartbeat and their ODC. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "common/version.h"
#include "coordinator/ctl/ctl.h"

static int cmd_hosts_exec(struct ctl *, int, char **);

const struct ctl_cmd cmd_hosts_entry = {
    "hosts",
    "[--host ID]... [--hosts GLOB] [--label K=V]... [--all] [--status S,...] [--sort KEY]",
    "the enrolled hosts: status, last heartbeat, ODC version and health, job",
    "Without selectors every host is listed. Selectors are ANDed: --host (exact ids,\n"
    "repeatable), --hosts (a shell glob on host ids), --label (repeatable), --all.\n"
    "--status S,...   only hosts in these states: online, lost, never, revoked\n"
    "--sort KEY       host (the default), status, beat (oldest heartbeat first),\n"
    "                 version, deployment\n"
    "Columns: HOST LABELS STATUS BEAT (age of the last heartbeat) DEPLOYMENT (the\n"
    "metadb its ODC uses, see odcctl deployments) ODC (version) CONTAINER (state)\n"
    "HEALTH JOB (job/step in progress). For a host that is not online, ODC,\n"
    "CONTAINER and HEALTH are what it last reported, marked with *: stale.\n",
    cmd_hosts_exec,
};

/* "k=v,k2=v2" */
static void
cmd_hosts_labels(const json_t *labels, char *out, size_t outlen)
{
	const char *k;
	json_t *v;
	size_t n = 0;

	out[0] = '\0';
	json_object_foreach((json_t *)(uintptr_t)labels, k, v)
	{
		int w = snprintf(out + n, outlen - n, "%s%s=%s", n ? "," : "", k,
		                 json_is_string(v) ? json_string_value(v) : "?");
		if (w < 0 || (size_t)w >= outlen - n)
			break;
		n += (size_t)w;
	}
}

static const char *const cmd_hosts_states[] = {"online", "lost", "never", "revoked", NULL};
static const char *const cmd_hosts_keys[] = {"host",    "status",     "beat",
                                             "version", "deployment", NULL};

/* The sort key of cmd_hosts_cmp (qsort passes no context). */
static const char *cmd_hosts_key;

/* By the key, then by host id: status and deployment as text, the ODC
 * version as versions compare ("4.10.0" after "4.2.0"), the heartbeat oldest
 * first (never seen: before every other). */
static int
cmd_hosts_cmp(const void *a, const void *b)
{
	const json_t *x = *(const json_t *const *)a, *y = *(const json_t *const *)b;
	int c = 0;

	if (strcmp(cmd_hosts_key, "version") == 0) {
		c = version_cmp(js(json_object_get(x, "odc"), "version"),
		                js(json_object_get(y, "odc"), "version"));
	} else if (strcmp(cmd_hosts_key, "beat") == 0) {
		long long ax = jnull(x, "beat_age_ms") ? LLONG_MAX : ji(x, "beat_age_ms", 0);
		long long ay = jnull(y, "beat_age_ms") ? LLONG_MAX : ji(y, "beat_age_ms", 0);
		c = ax > ay ? -1 : ax < ay;
	} else if (strcmp(cmd_hosts_key, "host") != 0) {
		c = strcmp(js(x, cmd_hosts_key), js(y, cmd_hosts_key)); /* status, deployment */
	}
	return c != 0 ? c : strcmp(js(x, "host"), js(y, "host"));
}

/* Whether word (len bytes) is one of the comma-separated words of list. */
static bool
cmd_hosts_in_list(const char *list, const char *word, size_t len)
{
	for (const char *p = list; *p; p += *p == ',') {
		size_t n = strcspn(p, ",");
		if (n == len && strncmp(p, word, len) == 0)
			return true;
		p += n;
	}
	return false;
}

/* Whether list is a non-empty comma list of words (NULL-terminated). */
static bool
cmd_hosts_words_ok(const char *list, const char *const *words)
{
	for (const char *p = list;; p++) {
		size_t n = strcspn(p, ",");
		bool ok = false;
		for (size_t k = 0; words[k] && !ok; k++)
			ok = n > 0 && strlen(words[k]) == n && strncmp(words[k], p, n) == 0;
		if (!ok)
			return false;
		p += n;
		if (*p == '\0')
			return true;
	}
}

/* Keeps the hosts whose status is in states (a comma list; NULL: all) and
 * orders them by key (NULL: as the coordinator sent them, by id). */
static int
cmd_hosts_pick(json_t *body, const char *states, const char *key)
{
	json_t *hosts = json_object_get(body, "hosts"), *kept = json_array(), *h;
	size_t i, n;

	if (kept == NULL)
		return -1;
	json_array_foreach(hosts, i, h)
	{
		const char *st = js(h, "status");
		if ((states == NULL || cmd_hosts_in_list(states, st, strlen(st))) &&
		    json_array_append(kept, h) != 0) {
			json_decref(kept);
			return -1;
		}
	}
	n = json_array_size(kept);
	if (key != NULL && n > 1) {
		json_t **v = malloc(n * sizeof(*v));
		if (v == NULL) {
			json_decref(kept);
			return -1;
		}
		json_array_foreach(kept, i, h) v[i] = json_incref(h);
		cmd_hosts_key = key;
		qsort(v, n, sizeof(*v), cmd_hosts_cmp);
		json_array_clear(kept);
		for (i = 0; i < n; i++)
			json_array_append_new(kept, v[i]);
		free(v);
	}
	return json_object_set_new(body, "hosts", kept);
}

static int
cmd_hosts_table(const json_t *body)
{
	static const char *const head[] = {"HOST", "LABELS",    "STATUS", "BEAT", "DEPLOYMENT",
	                                   "ODC",  "CONTAINER", "HEALTH", "JOB"};
	const json_t *hosts = json_object_get(body, "hosts"), *h;
	struct out_table *t = out_table_new(9, head);
	size_t i, stale = 0;
	int ret;

	json_array_foreach(hosts, i, h)
	{
		const json_t *odc = json_object_get(h, "odc"), *job = json_object_get(h, "job");
		char labels[512], beat[32] = "", jobs[128] = "", ver[80], state[40], health[40];
		const char *cells[9];
		/* Not online: what it last said, marked stale. */
		const char *mark =
		    json_is_object(odc) && strcmp(js(h, "status"), "online") != 0 ? "*" : "";

		cmd_hosts_labels(json_object_get(h, "labels"), labels, sizeof(labels));
		if (!jnull(h, "beat_age_ms"))
			out_age(
			    (uint64_t)(ji(h, "beat_age_ms", 0) > 0 ? ji(h, "beat_age_ms", 0) : 0),
			    beat, sizeof(beat));
		if (json_is_object(job))
			snprintf(jobs, sizeof(jobs), "%s/%s", js(job, "job_id"), js(job, "step"));
		cells[0] = js(h, "host");
		cells[1] = labels;
		cells[2] = js(h, "status");
		cells[3] = beat;
		cells[4] = js(h, "deployment");
		snprintf(ver, sizeof(ver), "%s%s", js(odc, "version"),
		         *js(odc, "version") ? mark : "");
		snprintf(state, sizeof(state), "%s%s", js(odc, "state"),
		         *js(odc, "state") ? mark : "");
		snprintf(health, sizeof(health), "%s%s", js(odc, "health"),
		         *js(odc, "health") ? mark : "");
		stale += *mark != '\0';
		cells[5] = ver;
		cells[6] = state;
		cells[7] = health;
		cells[8] = jobs;
		out_table_row(t, cells);
	}
	ret = out_table_print(t, stdout, NULL);
	out_table_free(t);
	if (stale > 0)
		printf(
		    "* stale: what a host that is not online last reported (BEAT: how long ago)\n");
	return ret == 0 ? CTL_EXIT_OK : CTL_EXIT_FAILED;
}

static int
cmd_hosts_exec(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {CTL_COMMON_OPTIONS,
	                                     CTL_SELECTOR_OPTIONS,
	                                     {"status", required_argument, NULL, CTL_OPT_STATUS},
	                                     {"sort", required_argument, NULL, CTL_OPT_SORT},
	                                     {NULL, 0, NULL, 0}};
	struct ctl_sel sel = {0};
	json_t *args = NULL, *body = NULL;
	const char *states = NULL, *key = NULL;
	int ch, ret = CTL_EXIT_USAGE;

	while ((ch = ctl_getopt(c, &cmd_hosts_entry, argc, argv, opts)) != CTL_OPT_END) {
		if (ch == CTL_OPT_HELP) {
			ret = CTL_EXIT_OK;
			goto out;
		}
		if (ch == CTL_OPT_STATUS) {
			if (!cmd_hosts_words_ok(optarg, cmd_hosts_states)) {
				ret = ctl_usage_error(
				    c,
				    "--status '%s': a comma list of online, lost, never, revoked",
				    optarg);
				goto out;
			}
			states = optarg;
			continue;
		}
		if (ch == CTL_OPT_SORT) {
			if (!cmd_hosts_words_ok(optarg, cmd_hosts_keys) ||
			    strchr(optarg, ',') != NULL) {
				ret = ctl_usage_error(
				    c,
				    "--sort '%s': one of host, status, beat, version, deployment",
				    optarg);
				goto out;
			}
			key = optarg;
			continue;
		}
		if (ch == CTL_OPT_ERROR || ctl_sel_option(c, &sel, ch, optarg) != 1)
			goto out;
	}
	if ((ret = ctl_operands(c, argc, argv, 0, 0, "")) != 0)
		goto out;
	args = json_object();
	if (args == NULL || ctl_sel_args(&sel, args) != 0) {
		ctl_error(c, "out of memory");
		ret = CTL_EXIT_FAILED;
		goto out;
	}
	ret = ctl_request(c, "hosts", args, false, &body);
	args = NULL;
	if (ret != 0)
		goto out;
	if (cmd_hosts_pick(body, states, key) != 0) {
		ctl_error(c, "out of memory");
		ret = CTL_EXIT_FAILED;
		goto out;
	}
	if (c->output == CTL_OUT_JSON)
		ret = out_json(body) == 0 ? CTL_EXIT_OK : CTL_EXIT_FAILED;
	else
		ret = cmd_hosts_table(body);
out:
	json_decref(args);
	json_decref(body);
	ctl_sel_free(&sel);
	return ret;
}
