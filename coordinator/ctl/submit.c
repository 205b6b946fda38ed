/* Job submission for exec, rollback, upgrade, undo, logs and prune: policy flags and their
 * defaults, local checks, `resolve`, the signed JOB, submitting it, and
 * following it unless --detach. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "coordinator/ctl/ctl.h"

#define SUBMIT_MAX_DEADLINE_S 604800 /* a JOB lives at most 7 days */
#define SUBMIT_REASON_MAX     256

enum { POL_CANARY, POL_BATCH, POL_BUDGET, POL_QUORUM, POL_STEP, POL_JOB };

/* A usage error inside option parsing: printed, and -1 for the caller. */
static int submit_bad(const struct ctl *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
submit_bad(const struct ctl *c, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ctl_usage_error(c, "%s", msg);
	return -1;
}

static void
submit_defaults(const char *action, struct proto_policy *p)
{
	/* The actions with a preflight phase (backup, rollback, undo: they
	 * dump or restore a metadb) carry the careful defaults. */
	if (proto_action_has_preflight(action))
		*p = (struct proto_policy){1, 1, false, 0, false, 100, 2 * 3600, 24 * 3600};
	else
		*p = (struct proto_policy){0, 100, true, 100, true, 0, 5 * 60, 30 * 60};
}

/* "N" (a count, lo..max_count) or "N%" (a percentage, lo..100). */
static int
submit_count_or_pct(const char *arg, uint64_t lo, uint64_t *v, bool *pct)
{
	char num[24];
	size_t n = strlen(arg);

	*pct = n > 0 && arg[n - 1] == '%';
	if (*pct)
		n--;
	if (n == 0 || n >= sizeof(num))
		return -1;
	memcpy(num, arg, n);
	num[n] = '\0';
	if (ctl_parse_uint(num, *pct ? 100 : PROTO_MAX_TARGETS, v) != 0 || *v < lo)
		return -1;
	return 0;
}

/* "N" or "N%", 0..100: --quorum's value. Returns 0 or -1. */
static int
submit_quorum(const char *arg, uint64_t *v)
{
	char num[8];
	size_t n = strlen(arg);

	if (n > 0 && arg[n - 1] == '%')
		n--;
	if (n == 0 || n >= sizeof(num))
		return -1;
	memcpy(num, arg, n);
	num[n] = '\0';
	return ctl_parse_uint(num, 100, v);
}

/* A policy option (--canary --batch --budget --quorum --step-deadline
 * --job-deadline): its value checked, then kept in s->policy with its set[]
 * flag. Returns 1 when ch was one, 0 when not, -1 after a usage error. */
static int
submit_policy_option(const struct ctl *c, struct submit *s, int ch, const char *arg)
{
	struct proto_policy *p = &s->policy.p;
	uint64_t v;
	bool pct;

	switch (ch) {
	case CTL_OPT_CANARY:
		if (ctl_parse_uint(arg, PROTO_MAX_TARGETS, &v) != 0)
			return submit_bad(c, "--canary %s: expected a number of hosts, 0..%d", arg,
			                  PROTO_MAX_TARGETS);
		p->canary = v;
		s->policy.set[POL_CANARY] = true;
		return 1;
	case CTL_OPT_BATCH:
		if (submit_count_or_pct(arg, 1, &v, &pct) != 0)
			return submit_bad(c,
			                  "--batch %s: expected a number of hosts (1..%d) or a "
			                  "percentage of the targets (1%%..100%%)",
			                  arg, PROTO_MAX_TARGETS);
		p->batch = v;
		p->batch_pct = pct;
		s->policy.set[POL_BATCH] = true;
		return 1;
	case CTL_OPT_BUDGET:
		if (submit_count_or_pct(arg, 0, &v, &pct) != 0)
			return submit_bad(c,
			                  "--budget %s: expected a number of failures (0..%d) or "
			                  "a percentage of the targets (0%%..100%%)",
			                  arg, PROTO_MAX_TARGETS);
		p->budget = v;
		p->budget_pct = pct;
		s->policy.set[POL_BUDGET] = true;
		return 1;
	case CTL_OPT_QUORUM:
		if (submit_quorum(arg, &v) != 0)
			return submit_bad(
			    c,
			    "--quorum %s: expected the percentage of targets that must "
			    "be online to start, 0..100",
			    arg);
		p->quorum_pct = v;
		s->policy.set[POL_QUORUM] = true;
		return 1;
	case CTL_OPT_STEP_DEADLINE:
		if (ctl_parse_duration_s(arg, &v) != 0 || v < 1 || v > 86400)
			return submit_bad(c,
			                  "--step-deadline %s: expected a duration from 1s to 1d "
			                  "(90s, 5m, 2h, 1d, or seconds)",
			                  arg);
		p->step_deadline_s = v;
		s->policy.set[POL_STEP] = true;
		return 1;
	case CTL_OPT_JOB_DEADLINE:
		if (ctl_parse_duration_s(arg, &v) != 0 || v < 1 || v > SUBMIT_MAX_DEADLINE_S)
			return submit_bad(c,
			                  "--job-deadline %s: expected a duration from 1s to 7d "
			                  "(90s, 5m, 2h, 1d, or seconds)",
			                  arg);
		p->job_deadline_s = v;
		s->policy.set[POL_JOB] = true;
		return 1;
	}
	return 0;
}

/* The flags that set action parameters: the option, the parameter it sets,
 * its value when the flag takes none, and how messages name it. */
static const struct {
	int ch;
	const char *key;
	const char *value; /* NULL: the option's argument */
	const char *flag;
} submit_param_flags[] = {
    {CTL_OPT_TO, "to", NULL, "--to TAG"},
    {CTL_OPT_BACKUP, "backup", NULL, "--backup DIR"},
    {CTL_OPT_LINES, "lines", NULL, "--lines N"},
    {CTL_OPT_NAME, "name", NULL, "--name NAME"},
    {CTL_OPT_DRY_RUN, "dry_run", "true", "--dry-run"},
    {CTL_OPT_OF, "of", NULL, "--of JOB"},
    {CTL_OPT_FORCE, "force", "true", "--force"},
    {CTL_OPT_ACCEPT_UNVERIFIED, "accept_unverified", "true", "--accept-unverified"},
};
#define SUBMIT_NPARAM_FLAGS (sizeof(submit_param_flags) / sizeof(submit_param_flags[0]))

int
submit_option(const struct ctl *c, struct submit *s, int ch, const char *arg)
{
	int r;

	if ((r = ctl_sel_option(c, &s->sel, ch, arg)) != 0)
		return r;
	if ((r = submit_policy_option(c, s, ch, arg)) != 0)
		return r;
	/* Action parameters: each command's option table says which it takes. */
	for (size_t i = 0; i < SUBMIT_NPARAM_FLAGS; i++)
		if (submit_param_flags[i].ch == ch) {
			const char *value = submit_param_flags[i].value;
			return submit_param(c, s, submit_param_flags[i].key,
			                    value != NULL ? value : arg) == 0
			           ? 1
			           : -1;
		}
	switch (ch) {
	case CTL_OPT_REASON:
		if (strlen(arg) > SUBMIT_REASON_MAX)
			return submit_bad(c, "--reason: %zu bytes, at most %d", strlen(arg),
			                  SUBMIT_REASON_MAX);
		s->reason = arg;
		return 1;
	case CTL_OPT_DETACH:
		s->detach = true;
		return 1;
	case CTL_OPT_YES:
		s->yes = true;
		return 1;
	case CTL_OPT_WHOLE_DEPLOYMENTS:
		s->whole_deployments = true;
		return 1;
	}
	return 0;
}

int
submit_getopt(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv,
              const struct option *opts, struct submit *s)
{
	int ch;

	while ((ch = ctl_getopt(c, cmd, argc, argv, opts)) != CTL_OPT_END) {
		if (ch == CTL_OPT_HELP)
			return CTL_EXIT_OK;
		if (ch == CTL_OPT_ERROR || submit_option(c, s, ch, optarg) != 1)
			return CTL_EXIT_USAGE;
	}
	return -1;
}

int
submit_param(const struct ctl *c, struct submit *s, const char *key, const char *value)
{
	/* A later flag replaces an earlier one, as for every option. */
	for (size_t i = 0; i < s->n_params; i++)
		if (strcmp(s->params[i].key, key) == 0) {
			s->params[i].value = value;
			return 0;
		}
	if (s->n_params == sizeof(s->params) / sizeof(s->params[0]))
		return submit_bad(c, "too many parameters");
	s->params[s->n_params++] = (struct proto_kv){key, value};
	return 0;
}

/* How messages name the flag of parameter key ("--to TAG"); key itself when
 * no flag sets it. */
static const char *
submit_flag(const char *key)
{
	for (size_t i = 0; i < SUBMIT_NPARAM_FLAGS; i++)
		if (strcmp(submit_param_flags[i].key, key) == 0)
			return submit_param_flags[i].flag;
	return key;
}

/* The action table's checks, per parameter first so that the message names
 * the flag, then as a whole (required parameters), in every phase the
 * coordinator will dispatch. */
static int
submit_check_params(const struct ctl *c, const struct submit *s)
{
	static const char *const phases[] = {"run", "preflight"};
	struct proto_error err;

	for (size_t ph = 0; ph < (proto_action_has_preflight(s->action) ? 2u : 1u); ph++) {
		for (size_t i = 0; i < s->n_params; i++) {
			enum proto_err e =
			    proto_action_check(s->action, phases[ph], &s->params[i], 1, &err);
			if (e == PROTO_E_UNKNOWN_ACTION || e == PROTO_E_INVALID_PARAM)
				if (strstr(err.msg, "needs parameter") == NULL) {
					const char *flag = submit_flag(s->params[i].key);
					return ctl_usage_error(
					    c, "%.*s: %s", (int)strcspn(flag, " "), flag, err.msg);
				}
		}
		if (proto_action_check(s->action, phases[ph], s->params, s->n_params, &err) !=
		    PROTO_OK) {
			const char *q = strchr(err.msg, '\'');
			if (q != NULL && strstr(err.msg, "needs parameter") != NULL) {
				char key[40];
				snprintf(key, sizeof(key), "%.*s", (int)strcspn(q + 1, "'"), q + 1);
				return ctl_usage_error(c, "%s: give %s", err.msg, submit_flag(key));
			}
			return ctl_usage_error(c, "%s", err.msg);
		}
	}
	return 0;
}

static int
submit_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The coordinator's `resolve`: the explicit, sorted target list. *body keeps
 * the strings alive; *targets is malloc'd. */
static int
submit_resolve(struct ctl *c, const struct submit *s, json_t **body, const char ***targets,
               size_t *n)
{
	json_t *args = json_object(), *hosts, *v;
	size_t i;
	int ret;

	*targets = NULL;
	*n = 0;
	if (args == NULL || ctl_sel_args(&s->sel, args) != 0) {
		json_decref(args);
		ctl_error(c, "out of memory");
		return CTL_EXIT_FAILED;
	}
	if ((ret = ctl_request(c, "resolve", args, false, body)) != 0)
		return ret;
	hosts = json_object_get(*body, "hosts");
	if (!json_is_array(hosts) || json_array_size(hosts) == 0) {
		ctl_error(c, "no enrolled host matches the selectors");
		return CTL_EXIT_USAGE;
	}
	if (json_array_size(hosts) > PROTO_MAX_TARGETS) {
		ctl_error(c, "the selectors match %zu hosts; a job takes at most %d",
		          json_array_size(hosts), PROTO_MAX_TARGETS);
		return CTL_EXIT_USAGE;
	}
	*targets = calloc(json_array_size(hosts), sizeof(**targets));
	if (*targets == NULL) {
		ctl_error(c, "out of memory");
		return CTL_EXIT_FAILED;
	}
	json_array_foreach(hosts, i, v)
	{
		const char *h = json_string_value(v);
		if (h == NULL || !proto_valid_id(h)) {
			ctl_error(c, "resolve answered a bad host id");
			return CTL_EXIT_FAILED;
		}
		(*targets)[(*n)++] = h;
	}
	return 0;
}

/* ACTION-YYYYMMDDTHHMMSSZ-XXXXXX, UTC, 6 random hex digits. */
static void
submit_job_id(const char *action, uint64_t created_ms, char *out, size_t outlen)
{
	time_t t = (time_t)(created_ms / 1000);
	struct tm tm;
	char stamp[32] = "";

	if (gmtime_r(&t, &tm) != NULL)
		strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(out, outlen, "%s-%s-%06x", action, stamp,
	         (unsigned)randombytes_uniform(0x1000000));
}

int
submit_prepare(struct ctl *c, struct submit *s, bool need_selectors)
{
	int ret;

	if ((ret = submit_check_params(c, s)) != 0)
		return ret;
	if (need_selectors && ctl_sel_empty(&s->sel))
		return ctl_usage_error(c, "which hosts? give --host ID, --hosts GLOB, --label K=V "
		                          "or --all");
	if ((ret = ctl_setup(c)) != 0)
		return ret;
	if (c->operator_name == NULL) {
		ctl_error(c, "no operator name: set operator in [odcctl] of %s", ctl_conf_where(c));
		return CTL_EXIT_USAGE;
	}
	return ctl_operator_key(c);
}

/* --whole-deployments: the other nodes of every target's deployment join
 * the targets (the coordinator refuses a rollback that names part of one).
 * *deps keeps the added ids alive; *targets grows. 0 or an exit status. */
static int
submit_whole(struct ctl *c, json_t **deps, const char ***targets, size_t *n)
{
	json_t *d, *node;
	size_t i, k;
	int ret = ctl_request(c, "deployments", NULL, false, deps);

	if (ret != 0)
		return ret;
	json_array_foreach(json_object_get(*deps, "deployments"), i, d)
	{
		json_t *nodes = json_object_get(d, "nodes");
		bool named = false;
		json_array_foreach(nodes, k, node)
		{
			for (size_t t = 0; t < *n && !named; t++)
				named = strcmp((*targets)[t], js(node, "host")) == 0;
		}
		if (!named)
			continue;
		json_array_foreach(nodes, k, node)
		{
			const char *id = js(node, "host");
			bool have = false;
			for (size_t t = 0; t < *n && !have; t++)
				have = strcmp((*targets)[t], id) == 0;
			if (have)
				continue;
			const char **grown = realloc(*targets, (*n + 1) * sizeof(**targets));
			if (grown == NULL) {
				ctl_error(c, "out of memory");
				return CTL_EXIT_FAILED;
			}
			*targets = grown;
			(*targets)[(*n)++] = id;
			fprintf(stderr, "odcctl: adding %s: a node of deployment %s\n", id,
			        js(d, "deployment"));
		}
	}
	return 0;
}

/* A job that changes what runs on its hosts, or removes what they keep: a
 * rollback, an undo or a prune (not a dry run), a stop, a start. */
static bool
submit_changes(const struct submit *s)
{
	const char *dry = proto_param(s->params, s->n_params, "dry_run");

	if (strcmp(s->action, "rollback") == 0 || strcmp(s->action, "undo") == 0 ||
	    strcmp(s->action, "upgrade") == 0 || strcmp(s->action, "prune") == 0)
		return dry == NULL || strcmp(dry, "true") != 0;
	return strcmp(s->action, "stop") == 0 || strcmp(s->action, "start") == 0;
}

#define SUBMIT_SHOW_MAX 40 /* hosts listed before "... and N more" */

/* A change is confirmed before it is signed: --yes, or on a terminal the
 * operator reads what it will do (each host, its deployment, its ODC now
 * and what it becomes; the backup) and answers y. Without a terminal and
 * without --yes nothing is submitted. The plan goes to stderr: stdout stays
 * the command's output. 0 to go on, or an exit status. */
static int
submit_confirm(struct ctl *c, const struct submit *s, const char *const *targets, size_t n)
{
	const char *to = proto_param(s->params, s->n_params, "to");
	const char *of = proto_param(s->params, s->n_params, "of");
	const char *backup = proto_param(s->params, s->n_params, "backup");
	json_t *view = NULL, *h, *by_id, *deps, *x;
	char line[64], buf[512];
	size_t i;
	int ret;

	if (!submit_changes(s) || s->yes)
		return 0;
	if (!isatty(STDIN_FILENO)) {
		ctl_error(
		    c,
		    "%s %s on %zu host%s: confirm it with --yes (there is no terminal to ask on); "
		    "nothing was submitted",
		    s->action,
		    strcmp(s->action, "prune") == 0 ? "removes what rollbacks kept" : "changes ODC",
		    n, n == 1 ? "" : "s");
		return CTL_EXIT_USAGE;
	}
	if ((ret = ctl_request(c, "hosts", NULL, false, &view)) != 0)
		return ret;
	by_id = json_object();
	deps = json_object(); /* a set of the targets' deployments */
	json_array_foreach(json_object_get(view, "hosts"), i, x)
	    json_object_set(by_id, js(x, "host"), x);
	if (strcmp(s->action, "rollback") == 0)
		fprintf(stderr, "rollback to %s from the backup %s", to,
		        out_clean(backup, buf, sizeof(buf)));
	else if (strcmp(s->action, "upgrade") == 0)
		fprintf(stderr,
		        "upgrade to %s, each deployment's metadb dumped first; a deployment that "
		        "fails goes back by itself",
		        to);
	else if (strcmp(s->action, "undo") == 0)
		fprintf(stderr, "undo of %s: back to the containers and metadb it replaced", of);
	else if (strcmp(s->action, "prune") == 0)
		fprintf(stderr, "prune: remove the kept containers and safety snapshots beyond "
		                "each agent's retention "
		                "(never the latest rollback's)");
	else
		fprintf(stderr, "%s ODC%s%s", s->action, to ? ", image tag " : "", to ? to : "");
	fprintf(stderr, ", on %zu host%s:\n", n, n == 1 ? "" : "s");
	for (i = 0; i < n; i++) {
		const json_t *odc = json_object_get(by_id, targets[i]);
		const char *dep = odc != NULL ? js(odc, "deployment") : "";
		if (*dep)
			json_object_set_new(deps, dep, json_true());
		if (i >= SUBMIT_SHOW_MAX)
			continue;
		h = odc != NULL ? json_object_get(odc, "odc") : NULL;
		snprintf(line, sizeof(line), "%s%s%s", js(h, "version")[0] ? js(h, "version") : "?",
		         js(h, "state")[0] ? ", " : "", js(h, "state"));
		bool arrow =
		    strcmp(s->action, "rollback") == 0 || strcmp(s->action, "upgrade") == 0;
		fprintf(stderr, "  %-20s %-16s ODC %s%s%s\n", targets[i], *dep ? dep : "-", line,
		        arrow ? " -> " : "", arrow ? to : "");
	}
	if (n > SUBMIT_SHOW_MAX)
		fprintf(stderr, "  ... and %zu more\n", n - SUBMIT_SHOW_MAX);
	if (json_object_size(deps) > 0)
		fprintf(stderr, "%zu deployment%s; ", json_object_size(deps),
		        json_object_size(deps) == 1 ? "" : "s");
	fprintf(stderr, "Proceed? [y/N] ");
	fflush(stderr);
	json_decref(deps);
	json_decref(by_id);
	json_decref(view);
	if (fgets(buf, sizeof(buf), stdin) == NULL || (buf[0] != 'y' && buf[0] != 'Y')) {
		if (feof(stdin))
			fputc('\n', stderr); /* Ctrl-D: the answer's line was not ended */
		ctl_error(c, "not confirmed: nothing was submitted");
		return CTL_EXIT_USAGE;
	}
	return 0;
}

/* What a logs job fetched, or what a prune job removed and kept, host by
 * host (a header per host when there are several, as tail(1) does); a host
 * without it, or whose prune failed, says why on stderr. 0, or an exit
 * status. */
static int
submit_print_output(struct ctl *c, const char *job_id, const char *step)
{
	json_t *job = NULL, *by_host, *h, *r;
	size_t i, n;
	int ret = ctl_job_get_results(c, job_id, step, &job);

	if (ret != 0)
		return ret;
	by_host = json_object();
	json_array_foreach(json_object_get(job, "results"), i, r)
	    json_object_set(by_host, js(r, "host"), r);
	n = json_array_size(json_object_get(job, "hosts"));
	json_array_foreach(json_object_get(job, "hosts"), i, h)
	{
		const json_t *got = json_object_get(by_host, js(h, "host"));
		if (n > 1)
			printf("%s==> %s <==\n", i > 0 ? "\n" : "", js(h, "host"));
		bool ok = got != NULL && strcmp(js(got, "status"), "ok") == 0;
		/* A failed prune's list says what it did before and after. */
		if (ok || (got != NULL && strcmp(step, "prune") == 0))
			out_text(stdout, js(got, "output_tail"));
		if (!ok)
			fprintf(stderr, "odcctl: %s: %s: %s\n", js(h, "host"), js(h, "state"),
			        got != NULL ? js(got, "message") : js(h, "message"));
	}
	fflush(stdout);
	json_decref(by_host);
	json_decref(job);
	return 0;
}

/* After an upgrade that did not succeed everywhere: each failed host's
 * step, the tail of that step's output (ODC's own log for a health gate),
 * and what its revert did. 0, or an exit status. */
static int
submit_print_failures(struct ctl *c, const char *job_id)
{
	json_t *job = NULL, *h, *r;
	size_t i, k;
	int ret = ctl_job_get_results(c, job_id, NULL, &job);

	if (ret != 0)
		return ret;
	json_array_foreach(json_object_get(job, "hosts"), i, h)
	{
		const char *step = js(h, "failed_step");
		if (!proto_host_state_failed(proto_host_state_from_name(js(h, "state"))))
			continue;
		printf("\n==> %s: %s%s%s <==\n%s\n", js(h, "host"), js(h, "state"),
		       *step ? " at " : "", step, js(h, "message"));
		json_array_foreach(json_object_get(job, "results"), k, r)
		{
			if (strcmp(js(r, "host"), js(h, "host")) == 0 &&
			    strcmp(js(r, "step"), step) == 0 && js(r, "output_tail")[0] != '\0')
				out_text(stdout, js(r, "output_tail"));
		}
		if (js(h, "revert")[0] != '\0')
			printf("revert: %s: %s\n", js(h, "revert"), js(h, "revert_message"));
	}
	fflush(stdout);
	json_decref(job);
	return 0;
}

/* What a dry run would change, host by host: the host, then the agent's
 * text of the difference (PROTOCOL.md 5, dry_run), its lines under the
 * first one. A host without one says why on stderr. 0, or an exit status. */
static int
submit_print_diffs(struct ctl *c, const char *job_id)
{
	json_t *job = NULL, *by_host, *h, *r;
	size_t i, w = 0;
	int ret = ctl_job_get_results(c, job_id, NULL, &job);

	if (ret != 0)
		return ret;
	by_host = json_object();
	/* Receipt order: a host's recheck comes after its preflight. */
	json_array_foreach(json_object_get(job, "results"), i, r)
	{
		if (json_object_get(json_object_get(r, "data"), "diff_count") != NULL)
			json_object_set(by_host, js(r, "host"), r);
	}
	json_array_foreach(json_object_get(job, "hosts"), i, h) if (out_width(js(h, "host")) > w)
	    w = out_width(js(h, "host"));
	printf("\n");
	json_array_foreach(json_object_get(job, "hosts"), i, h)
	{
		const json_t *got = json_object_get(by_host, js(h, "host"));
		const char *text = got != NULL ? js(got, "output_tail") : "";
		if (got == NULL) {
			fprintf(stderr, "odcctl: %s: %s%s%s: no difference to show\n",
			        js(h, "host"), js(h, "state"), js(h, "message")[0] ? ": " : "",
			        js(h, "message"));
			continue;
		}
		/* The agent indents the lines under its first by four spaces:
		 * here they go under it, after the host's column. */
		for (int first = 1; *text; first = 0) {
			if (!first && strncmp(text, "    ", 4) == 0)
				text += 4;
			size_t n = strcspn(text, "\n");
			char *line = strndup(text, n);
			printf("%-*s  ", (int)w, first ? js(h, "host") : "");
			out_text(stdout, line != NULL ? line : "");
			free(line);
			text += n + (text[n] == '\n');
		}
	}
	fflush(stdout);
	json_decref(by_host);
	json_decref(job);
	return 0;
}

int
submit_print_outcome(struct ctl *c, const char *job_id, const char *action, bool dry_run, int ret)
{
	int r = 0;

	if (c->output != CTL_OUT_TABLE ||
	    (ret != CTL_EXIT_OK && ret != CTL_EXIT_FAILED && ret != CTL_EXIT_HALTED))
		return ret;
	/* A dry run's point is what it would change (a prune's lists say it);
	 * a logs job's, the text it fetched; a prune's, its lists. */
	if (dry_run && strcmp(action, "prune") != 0)
		r = submit_print_diffs(c, job_id);
	else if (strcmp(action, "logs") == 0 || strcmp(action, "prune") == 0)
		r = submit_print_output(c, job_id, action);
	else if (strcmp(action, "upgrade") == 0 && ret != CTL_EXIT_OK)
		r = submit_print_failures(c, job_id);
	return r != 0 ? r : ret;
}

/* The policy the job carries: the action's defaults, then each flag given. */
static void
submit_policy(const struct submit *s, struct proto_policy *pol)
{
	submit_defaults(s->action, pol);
	if (s->policy.set[POL_CANARY])
		pol->canary = s->policy.p.canary;
	if (s->policy.set[POL_BATCH]) {
		pol->batch = s->policy.p.batch;
		pol->batch_pct = s->policy.p.batch_pct;
	}
	if (s->policy.set[POL_BUDGET]) {
		pol->budget = s->policy.p.budget;
		pol->budget_pct = s->policy.p.budget_pct;
	}
	if (s->policy.set[POL_QUORUM])
		pol->quorum_pct = s->policy.p.quorum_pct;
	if (s->policy.set[POL_STEP])
		pol->step_deadline_s = s->policy.p.step_deadline_s;
	if (s->policy.set[POL_JOB])
		pol->job_deadline_s = s->policy.p.job_deadline_s;
}

/* The job's targets. */
struct submit_targets {
	const char **ids; /* malloc'd; the strings are argv's, or held by the bodies below */
	size_t n;
	json_t *resolved; /* `resolve`'s answer, or NULL */
	json_t *deps;     /* `deployments`' answer (--whole-deployments), or NULL */
};

static void
submit_targets_free(struct submit_targets *t)
{
	free(t->ids);
	json_decref(t->resolved);
	json_decref(t->deps);
}

/* The targets: given (copied), or the selectors resolved by the coordinator;
 * with --whole-deployments the rest of their deployments; sorted, each once.
 * Returns 0 or an exit status after printing why; t is the caller's to free
 * either way. */
static int
submit_targets(struct ctl *c, const struct submit *s, const char *const *given, size_t n_given,
               struct submit_targets *t)
{
	size_t k = 0;
	int ret;

	if (given != NULL) {
		t->ids = calloc(n_given ? n_given : 1, sizeof(*t->ids));
		if (t->ids == NULL) {
			ctl_error(c, "out of memory");
			return CTL_EXIT_FAILED;
		}
		memcpy(t->ids, given, n_given * sizeof(*t->ids));
		t->n = n_given;
	} else if ((ret = submit_resolve(c, s, &t->resolved, &t->ids, &t->n)) != 0) {
		return ret;
	}
	if (s->whole_deployments && (ret = submit_whole(c, &t->deps, &t->ids, &t->n)) != 0)
		return ret;
	qsort(t->ids, t->n, sizeof(*t->ids), submit_cmp);
	for (size_t i = 0; i < t->n; i++)
		if (k == 0 || strcmp(t->ids[k - 1], t->ids[i]) != 0)
			t->ids[k++] = t->ids[i];
	t->n = k;
	if (t->n == 0) {
		ctl_error(c, "no targets");
		return CTL_EXIT_USAGE;
	}
	return 0;
}

/* The JOB, encoded and signed with the operator's key into *f (the caller
 * frees it), its id in job_id. Returns 0 or an exit status after printing. */
static int
submit_sign(struct ctl *c, struct submit *s, const struct submit_targets *t,
            const struct proto_policy *pol, char *job_id, size_t job_id_len, struct proto_frames *f)
{
	struct proto_msg m = {.type = PROTO_JOB};
	struct proto_error err;
	uint64_t created = proto_now_ms();

	submit_job_id(s->action, created, job_id, job_id_len);
	m.u.job = (struct proto_job){
	    .job_id = job_id,
	    .action = s->action,
	    .params = s->params,
	    .n_params = s->n_params,
	    .targets = t->ids,
	    .n_targets = t->n,
	    .policy = *pol,
	    .created_ms = created,
	    /* job_deadline_s is at most 7 days: the cap of expires_ms. */
	    .expires_ms = created + pol->job_deadline_s * 1000,
	    .operator_name = c->operator_name,
	    .reason = s->reason != NULL ? s->reason : "",
	};
	if (proto_encode(&m, c->key->sk, f, &err) != PROTO_OK) {
		ctl_error(c, "cannot make the job: %s", err.msg);
		return CTL_EXIT_USAGE;
	}
	return 0;
}

/* After the submission (reply: its answer): the job id with --detach, else
 * the job's line, then following it from the answer (every host pending) to
 * its end and what it is for. Returns the exit status. */
static int
submit_follow(struct ctl *c, const struct submit *s, const char *job_id,
              const struct submit_targets *t, const struct proto_policy *pol, json_t *reply)
{
	enum follow_show show = s->output_only ? FOLLOW_SILENT : FOLLOW_PROGRESS;
	json_t *start, *hosts;
	char a[16];
	int ret;

	if (s->detach) {
		if (c->output == CTL_OUT_JSON)
			out_json(reply);
		else
			printf("%s\n", job_id);
		return CTL_EXIT_OK;
	}
	if (c->output == CTL_OUT_TABLE && !s->output_only) {
		printf("job %s: %s on %zu host%s (canary %llu, batch %llu%s, budget %llu%s, quorum "
		       "%llu%%, step deadline %s)\n",
		       job_id, s->action, t->n, t->n == 1 ? "" : "s",
		       (unsigned long long)pol->canary, (unsigned long long)pol->batch,
		       pol->batch_pct ? "%" : "", (unsigned long long)pol->budget,
		       pol->budget_pct ? "%" : "", (unsigned long long)pol->quorum_pct,
		       out_seconds(pol->step_deadline_s, a, sizeof(a)));
		fflush(stdout);
	}
	/* The submission's answer is the job as accepted: every host pending.
	 * Following starts from it and asks only for changes. */
	start = json_deep_copy(reply);
	hosts = json_array();
	for (size_t i = 0; start != NULL && hosts != NULL && i < t->n; i++)
		json_array_append_new(
		    hosts, json_pack("{s:s, s:I, s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:n}", "host",
		                     t->ids[i], "order", (json_int_t)i, "role", "", "batch",
		                     (json_int_t)0, "state", "pending", "phase", "", "step", "",
		                     "failed_step", "", "message", "", "updated_ms"));
	if (start != NULL && hosts != NULL && json_object_get(reply, "version") != NULL &&
	    json_array_size(hosts) == t->n && json_object_set(start, "hosts", hosts) == 0)
		ret = follow_job(c, job_id, start, show);
	else
		ret = follow_job(c, job_id, NULL, show);
	json_decref(start);
	json_decref(hosts);
	return submit_print_outcome(c, job_id, s->action, proto_dry_run(s->params, s->n_params),
	                            ret);
}

/* JOB's hosts whose run phase was dispatched, when JOB is a rollback or an
 * upgrade (the jobs an undo walks back); *job keeps the strings. */
static int
submit_undo_targets(struct ctl *c, const char *of, bool need, json_t **job, const char ***targets,
                    size_t *n)
{
	const json_t *hosts, *h;
	const char *action;
	size_t i;
	int ret;

	*targets = NULL;
	*n = 0;
	if ((ret = ctl_request(c, "job", json_pack("{s:s}", "job", of), false, job)) != 0)
		return ret;
	action = js(*job, "action");
	if (strcmp(action, "rollback") != 0 && strcmp(action, "upgrade") != 0) {
		ctl_error(c, "job %s is a%s %s job; an undo walks back a rollback or an upgrade",
		          of, strchr("aeiou", action[0]) ? "n" : "",
		          action[0] ? action : "unknown");
		return CTL_EXIT_USAGE;
	}
	if (!need)
		return 0;
	hosts = json_object_get(*job, "hosts");
	*targets = calloc(json_array_size(hosts) + 1, sizeof(**targets));
	if (*targets == NULL) {
		ctl_error(c, "out of memory");
		return CTL_EXIT_FAILED;
	}
	/* A host reverted by the upgrade itself (phase revert) is back already. */
	json_array_foreach(hosts, i, h)
	{
		if (strcmp(js(h, "phase"), "run") == 0 && proto_valid_id(js(h, "host")) &&
		    *n < PROTO_MAX_TARGETS)
			(*targets)[(*n)++] = js(h, "host");
	}
	if (*n == 0) {
		ctl_error(c, "job %s ran nothing to undo%s", of,
		          strcmp(action, "upgrade") == 0 ? " (what it ran, it reverted itself)"
		                                         : "");
		return CTL_EXIT_USAGE;
	}
	return 0;
}

int
submit_undo(struct ctl *c, struct submit *s, const char *of)
{
	const char **targets = NULL;
	json_t *job = NULL;
	size_t n = 0;
	int ret;

	if (of == NULL)
		return ctl_usage_error(c, "which job? give --of JOB");
	if (!proto_valid_id(of))
		return ctl_usage_error(c, "--of %s: not a job id (1..64 of [A-Za-z0-9._-])", of);
	/* The local checks of the new job come first, then the job to undo. */
	s->action = "undo";
	if ((ret = submit_prepare(c, s, false)) == 0 &&
	    (ret = submit_undo_targets(c, of, ctl_sel_empty(&s->sel), &job, &targets, &n)) == 0)
		ret = submit_run(c, s, targets, n);
	free(targets);
	json_decref(job);
	return ret;
}

int
submit_run(struct ctl *c, struct submit *s, const char *const *given, size_t n_given)
{
	struct submit_targets t = {0};
	struct proto_frames f = {0};
	struct proto_policy pol;
	json_t *reply = NULL;
	char job_id[PROTO_ID_MAX + 1];
	int ret;

	/* Everything local before the coordinator hears of the job. */
	if ((ret = submit_prepare(c, s, given == NULL)) != 0)
		goto out;
	submit_policy(s, &pol);
	if ((ret = submit_targets(c, s, given, n_given, &t)) != 0)
		goto out;
	if (pol.canary > t.n)
		pol.canary = t.n;
	if ((ret = submit_confirm(c, s, t.ids, t.n)) != 0)
		goto out;
	if ((ret = submit_sign(c, s, &t, &pol, job_id, sizeof(job_id), &f)) != 0)
		goto out;
	if ((ret = ctl_submit(c, &f, &reply)) != 0)
		goto out;
	ret = submit_follow(c, s, job_id, &t, &pol, reply);
out:
	proto_frames_free(&f);
	json_decref(reply);
	submit_targets_free(&t);
	return ret;
}

void
submit_free(struct submit *s)
{
	ctl_sel_free(&s->sel);
}
