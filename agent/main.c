/* odc-agent: the agent on one ODC host. This file is its command line:
 * local mode (one host, no coordinator), resume after a restart, config
 * check and a look at the journal. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include "agent/agent.h"
#include "agent/daemon.h"
#include "agent/guard.h"
#include "agent/journal.h"
#include "agent/plan.h"
#include "common/cli.h"
#include "common/keys.h"
#include "common/log.h"

#define DEFAULT_CONF "/etc/odc-fleet/agent.conf"

enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2, EXIT_INTERNAL = 3 };

static void
usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: odc-agent [-c CONFIG] [-v] COMMAND\n"
	    "       odc-agent --help | --version\n"
	    "\n"
	    "commands (local mode: this host only, no coordinator):\n"
	    "  run rollback --to TAG --backup DIR [--dry-run] [--force] [--accept-unverified]\n"
	    "                                                   roll ODC back to TAG from a metadb "
	    "backup\n"
	    "                                                   (--force: also when it already "
	    "runs TAG;\n"
	    "                                                   --accept-unverified: a backup "
	    "without an\n"
	    "                                                   odc-fleet manifest, e.g. taken by "
	    "hand)\n"
	    "  run upgrade --to TAG [--dry-run]                 upgrade ODC to TAG: back the "
	    "metadb up, "
	    "keep\n"
	    "                                                   the old container, start TAG "
	    "(never pulled)\n"
	    "  run upgrade --job JOB --phase revert --to TAG    back to where upgrade JOB began "
	    "(backup\n"
	    "                                                   restored, old container started)\n"
	    "  run undo --of JOB [--dry-run]                    undo rollback or upgrade JOB "
	    "(snapshot +\n"
	    "                                                   old container)\n"
	    "  run preflight --to TAG --backup DIR [--accept-unverified]\n"
	    "                                                   only the rollback's checks\n"
	    "  run backup [--name NAME]                         dump the metadb under the first "
	    "backup root\n"
	    "  run status | ping | stop | logs [--lines N]\n"
	    "  run start [--to TAG]                             start ODC (create it from the "
	    "defaults with TAG\n"
	    "                                                   when no container exists)\n"
	    "  prune [--dry-run]                                remove the rollbacks' and "
	    "upgrades' "
	    "kept containers and\n"
	    "                                                   snapshots beyond [retention], "
	    "oldest first;\n"
	    "                                                   never what the latest undo needs\n"
	    "  resume                                           resume or close a plan a restart "
	    "interrupted\n"
	    "  journal [JOB] [-o text|json]                     show recorded plans, or one job's "
	    "steps\n"
	    "                                                   (-o json: one JSON document, as "
	    "recorded)\n"
	    "  guard [release JOB|--any]                        who holds the metadb's restore "
	    "guard, which\n"
	    "                                                   rollback fenced it; release a "
	    "guard whose\n"
	    "                                                   holder is gone for good\n"
	    "  guard lift-fence JOB|--any                       let a node of a newer release "
	    "start on the\n"
	    "                                                   metadb again\n"
	    "  check-config                                     load the configuration and report "
	    "problems\n"
	    "  keygen SECRET PUBLIC                             make this agent's Ed25519 key pair "
	    "(no config)\n"
	    "  daemon                                           serve the coordinator (needs "
	    "[keys], [trust],\n"
	    "                                                   [coordinator]); resumes an "
	    "interrupted plan first\n"
	    "\n"
	    "options of run: --job ID (default: local-<time>), --phase preflight|run|revert\n"
	    "--dry-run checks only and shows what would change of the ODC container, field by "
	    "field\n"
	    "(secret env values masked).\n"
	    "-c CONFIG defaults to %s. Exit status: 0 success (a rollback or an upgrade only when "
	    "ODC is healthy\n"
	    "at the target version), 1 failed or refused, 2 usage or configuration error, 3 agent "
	    "error.\n",
	    DEFAULT_CONF);
}

/* Local mode prints each step as it goes. */
static double
secs(uint64_t ms)
{
	return (double)ms / 1000.0;
}

static void
print_started(void *ctx, const char *job, const char *step)
{
	(void)ctx;
	(void)job;
	printf("[%s] ...\n", step);
	fflush(stdout);
}

static void
print_note(void *ctx, const char *job, const char *step, const char *message)
{
	(void)ctx;
	(void)job;
	printf("[%s]   %s\n", step, message);
	fflush(stdout);
}

static void
print_result(void *ctx, const struct proto_result *r)
{
	(void)ctx;
	printf("[%s] %s in %.1f s: %s\n", r->step, r->status, secs(r->duration_ms), r->message);
	/* A dry run's difference (data diff_count): the tail is its text, whole. */
	if (proto_param(r->data, r->n_data, "diff_count") != NULL) {
		printf("%s", r->output_tail);
		fflush(stdout);
		return;
	}
	/* The tail matters when a step failed, and is the point of logs. */
	bool show = strcmp(r->status, "ok") != 0 || strcmp(r->step, "logs") == 0 ||
	            strcmp(r->step, "prune") == 0;
	if (show && r->output_tail[0] != '\0') {
		/* The tail, indented, at most the last 20 lines (prune's whole list). */
		const char *p = r->output_tail + strlen(r->output_tail);
		int lines = 0, most = strcmp(r->step, "prune") == 0 ? 1000 : 20;
		while (p > r->output_tail && lines <= most)
			if (*--p == '\n')
				lines++;
		/* Each line once, indented (the first one ends at its newline). */
		const char *first = p == r->output_tail ? p : p + 1;
		printf("    | %.*s", (int)strcspn(first, "\n"), first);
		for (const char *q = first; *q; q++)
			if (*q == '\n' && q[1] != '\0')
				printf("\n    | %.*s", (int)strcspn(q + 1, "\n"), q + 1),
				    q += strcspn(q + 1, "\n");
		printf("\n");
	}
	fflush(stdout);
}

static const struct plan_out printer = {print_started, print_note, print_result, NULL};

static struct journal *
open_journal(const struct agent_conf *c, char *err, size_t errlen)
{
	char path[4200];

	if (agent_dir_ensure(c->state_dir, err, errlen) != 0)
		return NULL;
	snprintf(path, sizeof(path), "%s/journal.db", c->state_dir);
	return journal_open(path, err, errlen);
}

/* What `odc-agent run ACTION [options]` asked for. kv and job point into
 * argv; phase defaults to "run". */
struct run_args {
	const char *action, *job, *phase;
	struct proto_kv kv[8];
	size_t n;
};

/* Parses run's arguments into a (argv[1] is the action). Returns EXIT_OK,
 * or EXIT_USAGE with the complaint (if any) printed. */
static int
run_parse(int argc, char **argv, struct run_args *a)
{
	static const struct option opts[] = {
	    {"to", required_argument, NULL, 't'},
	    {"backup", required_argument, NULL, 'b'},
	    {"of", required_argument, NULL, 'o'},
	    {"name", required_argument, NULL, 'n'},
	    {"lines", required_argument, NULL, 'l'},
	    {"dry-run", no_argument, NULL, 'd'},
	    {"job", required_argument, NULL, 'j'},
	    {"phase", required_argument, NULL, 'p'},
	    {"force", no_argument, NULL, 'f'},
	    {"accept-unverified", no_argument, NULL, 'u'},
	    {NULL, 0, NULL, 0},
	};
	struct proto_kv *kv = a->kv;
	size_t n = 0;
	int ch;

	a->job = NULL;
	a->phase = "run";
	if (argc < 2) {
		fprintf(stderr, "odc-agent: run: which action?\n");
		return EXIT_USAGE;
	}
	a->action = argv[1];
	optind = 2;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 't':
			kv[n++] = (struct proto_kv){"to", optarg};
			break;
		case 'b':
			kv[n++] = (struct proto_kv){"backup", optarg};
			break;
		case 'o':
			kv[n++] = (struct proto_kv){"of", optarg};
			break;
		case 'n':
			kv[n++] = (struct proto_kv){"name", optarg};
			break;
		case 'l':
			kv[n++] = (struct proto_kv){"lines", optarg};
			break;
		case 'd':
			kv[n++] = (struct proto_kv){"dry_run", "true"};
			break;
		case 'f':
			kv[n++] = (struct proto_kv){"force", "true"};
			break;
		case 'u':
			kv[n++] = (struct proto_kv){"accept_unverified", "true"};
			break;
		case 'j':
			a->job = optarg;
			break;
		case 'p':
			a->phase = optarg;
			break;
		default:
			return EXIT_USAGE;
		}
		if (n == sizeof(a->kv) / sizeof(a->kv[0]))
			return EXIT_USAGE;
	}
	a->n = n;
	if (optind != argc) {
		fprintf(stderr, "odc-agent: run: unexpected argument '%s'\n", argv[optind]);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

static int
cmd_run(const struct agent_conf *c, int argc, char **argv)
{
	struct run_args a;
	const char *job;
	char jobbuf[80], stamp[32], err[1024];
	int ret;

	if ((ret = run_parse(argc, argv, &a)) != EXIT_OK)
		return ret;
	struct proto_error perr;
	if (proto_action_check(a.action, a.phase, a.kv, a.n, &perr) != PROTO_OK) {
		fprintf(stderr, "odc-agent: %s\n", perr.msg);
		return EXIT_USAGE;
	}
	job = a.job;
	if (job == NULL) {
		time_t t = time(NULL);
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
		snprintf(jobbuf, sizeof(jobbuf), "local-%s-%08x", stamp, randombytes_random());
		job = jobbuf;
	} else if (!proto_valid_id(job)) {
		fprintf(stderr, "odc-agent: --job %s: not a valid job id\n", job);
		return EXIT_USAGE;
	}
	struct journal *j = open_journal(c, err, sizeof(err));
	if (j == NULL) {
		fprintf(stderr, "odc-agent: %s\n", err);
		return EXIT_INTERNAL;
	}
	printf("odc-agent: job %s: %s on %s", job, a.action, c->host_id);
	for (size_t i = 0; i < a.n; i++)
		printf(" %s=%s", a.kv[i].key, a.kv[i].value);
	printf("\n");
	fflush(stdout);
	struct plan_request rq = {job, a.action, a.kv, a.n, a.phase, 0};
	err[0] = '\0';
	ret = plan_execute(c, j, &rq, &printer, err, sizeof(err));
	journal_close(j);
	if (ret < 0) {
		fprintf(stderr, "odc-agent: %s\n", err);
		return EXIT_INTERNAL;
	}
	if (err[0] != '\0')
		fprintf(stderr, "odc-agent: %s\n", err);
	printf("odc-agent: job %s %s\n", job, ret == 0 ? "succeeded" : "FAILED");
	return ret == 0 ? EXIT_OK : EXIT_FAILED;
}

/* odc-agent prune [--dry-run]: the prune action, as `run prune` runs it. */
static int
cmd_prune(const struct agent_conf *c, int argc, char **argv)
{
	char *args[8] = {"run", "prune"};

	if (argc > 6) {
		fprintf(stderr, "usage: odc-agent prune [--dry-run] [--job ID]\n");
		return EXIT_USAGE;
	}
	for (int i = 1; i < argc; i++)
		args[i + 1] = argv[i];
	return cmd_run(c, argc + 1, args);
}

static int
cmd_resume(const struct agent_conf *c)
{
	char err[1024] = "";
	struct journal *j = open_journal(c, err, sizeof(err));
	int ret;

	if (j == NULL) {
		fprintf(stderr, "odc-agent: %s\n", err);
		return EXIT_INTERNAL;
	}
	char job[65];
	ret = plan_resume(c, j, &printer, job, err, sizeof(err));
	journal_close(j);
	if (ret == 2) {
		printf("odc-agent: no interrupted plan\n");
		return EXIT_OK;
	}
	if (ret < 0 || err[0] != '\0')
		fprintf(stderr, "odc-agent: %s\n", err);
	if (ret >= 0)
		printf("odc-agent: job %s %s\n", job, ret == 0 ? "succeeded" : "FAILED");
	return ret < 0 ? EXIT_INTERNAL : ret == 0 ? EXIT_OK : EXIT_FAILED;
}

/* odc-agent guard [release JOB|--any | lift-fence JOB|--any]: who holds
 * the restore guard of this host's metadb and which rollback fenced it;
 * the operator's way to release a guard whose holder is gone for good (its
 * agent would otherwise resume or close the restore itself), and to lift a
 * fence so that a node of a newer release may start on the metadb. */
static int
cmd_guard(const struct agent_conf *c, int argc, char **argv)
{
	struct guard_holder who, fence;
	struct metadb *m = NULL;
	char err[1024], desc[300], *pw = NULL;
	const char *job = NULL, *verb = argc == 3 ? argv[1] : "";
	int rc, fc = 0, ret = EXIT_INTERNAL;

	if (argc == 3 && (strcmp(verb, "release") == 0 || strcmp(verb, "lift-fence") == 0)) {
		job = strcmp(argv[2], "--any") == 0 ? NULL : argv[2];
	} else if (argc != 1) {
		fprintf(stderr,
		        "usage: odc-agent guard [release JOB|--any | lift-fence JOB|--any]\n");
		return EXIT_USAGE;
	}
	if ((pw = agent_read_password(c, err, sizeof(err))) == NULL ||
	    (m = agent_metadb_open(c, pw, err, sizeof(err))) == NULL) {
		fprintf(stderr, "odc-agent: metadb %s:%llu/%s: %s\n", c->db_host,
		        (unsigned long long)c->db_port, c->db_name, err);
		goto out;
	}
	if (strcmp(verb, "lift-fence") == 0) {
		rc = fence_lift(m, job, &fence, err, sizeof(err));
		if (rc < 0) {
			fprintf(stderr, "odc-agent: %s\n", err);
		} else if (rc == 1) {
			fence_describe(&fence, desc, sizeof(desc));
			fprintf(
			    stderr,
			    "odc-agent: the fence of %s:%llu/%s is not job %s's (%s): left alone\n",
			    c->db_host, (unsigned long long)c->db_port, c->db_name, job, desc);
			ret = EXIT_FAILED;
		} else {
			printf("the metadb %s:%llu/%s has no fence now: an ODC of any release may "
			       "start on it (and "
			       "migrate it forward)\n",
			       c->db_host, (unsigned long long)c->db_port, c->db_name);
			ret = EXIT_OK;
		}
		goto out;
	}
	rc = *verb ? guard_release(m, NULL, job, &who, err, sizeof(err))
	           : guard_read(m, &who, err, sizeof(err));
	if (rc >= 0 && !*verb)
		fc = fence_read(m, &fence, err, sizeof(err));
	if (rc < 0 || fc < 0) {
		fprintf(stderr, "odc-agent: %s\n", err);
		goto out;
	}
	guard_describe(&who, desc, sizeof(desc));
	if (!*verb) {
		if (rc == 0)
			printf("the metadb %s:%llu/%s is not held by any restore\n", c->db_host,
			       (unsigned long long)c->db_port, c->db_name);
		else
			printf("the metadb %s:%llu/%s is held by %s\n", c->db_host,
			       (unsigned long long)c->db_port, c->db_name, desc);
		if (fc == 1) {
			fence_describe(&fence, desc, sizeof(desc));
			printf("fenced: %s; an agent stops a container of a newer release created "
			       "before then "
			       "(`odc-agent guard lift-fence %s` lifts it)\n",
			       desc, fence.unreadable ? "--any" : fence.job);
		}
		ret = EXIT_OK;
	} else if (rc == 1) {
		fprintf(stderr, "odc-agent: the guard is held by %s, not for job %s: left alone\n",
		        desc, job);
		ret = EXIT_FAILED;
	} else {
		printf("the restore guard of %s:%llu/%s is released%s%s%s; the metadb holds what "
		       "that restore left: "
		       "restore it (a rollback, or an undo of that job) before ODC starts on it\n",
		       c->db_host, (unsigned long long)c->db_port, c->db_name, job ? " (job " : "",
		       job ? job : "", job ? ")" : "");
		ret = EXIT_OK;
	}
out:
	metadb_close(m);
	agent_secret_free(pw);
	return ret;
}

/* odc-agent journal [JOB] [-o text|json]: what the journal recorded. Its
 * JSON form is one document, for scripts and tests (odcctl's -o json):
 * the plans of JOB with their steps and the job's facts, or, without JOB,
 * the unfinished plan. Everything is as recorded: the journal keeps no
 * secret (secret env values are redacted from the spec it keeps, the
 * loaders' output is scrubbed of the password), so neither does this. */

/* A text of the journal as a JSON string; one that is not UTF-8 (a torn
 * or hand-made row) keeps its ASCII, every other byte becomes '?'. */
static json_t *
journal_text_json(const char *text)
{
	json_t *v = json_string(text);
	char *copy;

	if (v != NULL || (copy = strdup(text)) == NULL)
		return v;
	for (char *p = copy; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	v = json_string(copy);
	free(copy);
	return v;
}

/* A JSON object the journal recorded as text (params, a step's data), as
 * itself; anything else as its text. */
static json_t *
journal_object_json(const char *text)
{
	json_t *v = json_loads(text, JSON_REJECT_DUPLICATES, NULL);

	if (json_is_object(v))
		return v;
	json_decref(v);
	return journal_text_json(text);
}

static int
journal_fact_json(void *ctx, const char *key, const char *value)
{
	json_t *k = journal_text_json(key);

	/* A key that is not UTF-8 is set under its '?' form. */
	int rc = k == NULL
	             ? -1
	             : json_object_set_new(ctx, json_string_value(k), journal_text_json(value));
	json_decref(k);
	return rc;
}

/* One plan and its steps, in the order they ran. NULL with err set. */
static json_t *
journal_plan_json(struct journal *j, const struct journal_plan *p, char *err, size_t errlen)
{
	struct journal_step *s = NULL;
	size_t n = 0;
	json_t *steps, *o = NULL;

	if (journal_step_list(j, p->job_id, p->phase, &s, &n, err, errlen) != 0)
		return NULL;
	steps = json_array();
	for (size_t i = 0; steps != NULL && i < n; i++) {
		json_t *step = json_pack(
		    "{s:o, s:o, s:I, s:I, s:I, s:o, s:o, s:o}", "step",
		    journal_text_json(s[i].step), "status", journal_text_json(s[i].status),
		    "exit_code", (json_int_t)s[i].exit_code, "started_ms",
		    (json_int_t)s[i].started_ms, "duration_ms", (json_int_t)s[i].duration_ms,
		    "message", journal_text_json(s[i].message), "output_tail",
		    journal_text_json(s[i].output_tail), "data", journal_object_json(s[i].data));
		if (json_array_append_new(steps, step) != 0) {
			json_decref(steps);
			steps = NULL;
		}
	}
	journal_steps_free(s, n);
	if (steps != NULL)
		/* It ended when its state is no longer running (the time it was
		 * recorded so); a running plan has no end yet. */
		o = json_pack("{s:o, s:o, s:o, s:o, s:o, s:I, s:o, s:I, s:o}", "job_id",
		              journal_text_json(p->job_id), "action", journal_text_json(p->action),
		              "phase", journal_text_json(p->phase), "state",
		              journal_text_json(p->state), "params", journal_object_json(p->params),
		              "started_ms", (json_int_t)p->created_ms, "ended_ms",
		              strcmp(p->state, "running") == 0
		                  ? json_null()
		                  : json_integer((json_int_t)p->updated_ms),
		              "deadline_ms", (json_int_t)p->deadline_ms, "steps", steps);
	if (o == NULL)
		snprintf(err, errlen, "journal: job %s, phase %s: out of memory", p->job_id,
		         p->phase);
	return o;
}

static void
journal_plan_print(struct journal *j, const struct journal_plan *p, char *err, size_t errlen)
{
	struct journal_step *s = NULL;
	size_t n = 0;

	printf("job %s: %s, phase %s, %s, params %s\n", p->job_id, p->action, p->phase, p->state,
	       p->params);
	if (journal_step_list(j, p->job_id, p->phase, &s, &n, err, errlen) != 0)
		return;
	for (size_t i = 0; i < n; i++)
		printf("  %-9s %-11s %6.1f s  %s\n", s[i].step, s[i].status, secs(s[i].duration_ms),
		       s[i].message);
	journal_steps_free(s, n);
}

/* Parses journal's arguments: *json for -o json, *job the JOB or NULL.
 * Returns EXIT_OK, or EXIT_USAGE with the complaint printed. */
static int
journal_parse(int argc, char **argv, bool *json, const char **job)
{
	static const struct option opts[] = {{"output", required_argument, NULL, 'o'},
	                                     {NULL, 0, NULL, 0}};
	int ch;

	*json = false;
	/* 0: a new scan that permutes (JOB -o json), not the "+" of the
	 * options before the command. */
	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":o:", opts, NULL)) != -1) {
		if (ch == 'o' && (strcmp(optarg, "json") == 0 || strcmp(optarg, "text") == 0)) {
			*json = strcmp(optarg, "json") == 0;
		} else {
			if (ch == 'o')
				fprintf(stderr,
				        "odc-agent: journal: -o %s: expected text or json\n",
				        optarg);
			else
				fprintf(stderr, "odc-agent: journal: %s '%s'\n",
				        ch == ':' ? "option needs a value:" : "unknown option",
				        argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (optind + 1 < argc) {
		fprintf(stderr,
		        "odc-agent: journal: unexpected argument '%s' (usage: journal [JOB] [-o "
		        "json])\n",
		        argv[optind + 1]);
		return EXIT_USAGE;
	}
	*job = optind < argc ? argv[optind] : NULL;
	return EXIT_OK;
}

/* journal without JOB: the unfinished plan, printed, or (json) as a new
 * document in *doc that the caller releases. 0, or -1 with err set (or
 * empty: out of memory). */
static int
journal_unfinished(struct journal *j, bool json, json_t **doc, char *err, size_t errlen)
{
	struct journal_plan p = {0};
	json_t *plan = NULL;
	int rc;

	if ((rc = journal_plan_unfinished(j, &p, err, errlen)) < 0)
		return -1;
	if (json && rc == 0)
		plan = journal_plan_json(j, &p, err, errlen);
	else if (rc == 0)
		printf("unfinished: job %s (%s, phase %s)\n", p.job_id, p.action, p.phase);
	else if (!json)
		printf("no unfinished plan\n");
	journal_plan_clear(&p);
	/* json_object_set_new() drops plan when it fails. */
	if (json && json_object_set_new(*doc = json_object(), "unfinished",
	                                rc == 0 ? plan : json_null()) != 0)
		return -1;
	return 0;
}

/* journal JOB: its plans with their steps, printed, or (json) with its
 * facts as a new document in *doc that the caller releases: "facts" the
 * job's (its preflight and run phases'), "revert_facts" its revert
 * phase's, which that phase keeps apart (PLAN_REVERT_FACTS). 0, or -1 with
 * err set (or empty: out of memory). */
static int
journal_job(struct journal *j, const char *job, bool json, json_t **doc, char *err, size_t errlen)
{
	static const char *const phases[] = {"preflight", "run", "revert", NULL};
	json_t *plans = NULL, *facts = NULL, *revert_facts = NULL;
	char revert_id[128];
	int rc, ret = -1;

	if (json && ((plans = json_array()) == NULL || (facts = json_object()) == NULL ||
	             (revert_facts = json_object()) == NULL)) {
		snprintf(err, errlen, "journal: out of memory");
		goto out;
	}
	for (size_t ph = 0; phases[ph]; ph++) {
		struct journal_plan p;
		if ((rc = journal_plan_get(j, job, phases[ph], &p, err, errlen)) < 0)
			goto out;
		if (rc == 1)
			continue;
		if (json)
			rc = json_array_append_new(plans, journal_plan_json(j, &p, err, errlen));
		else
			journal_plan_print(j, &p, err, errlen);
		journal_plan_clear(&p);
		if (rc != 0 || err[0] != '\0')
			goto out;
	}
	if (json) {
		snprintf(revert_id, sizeof(revert_id), "%s%s", job, PLAN_REVERT_FACTS);
		if (journal_fact_each(j, job, journal_fact_json, facts, err, errlen) != 0 ||
		    journal_fact_each(j, revert_id, journal_fact_json, revert_facts, err, errlen) !=
		        0)
			goto out;
		*doc = json_pack("{s:o, s:O, s:O, s:O}", "job_id", journal_text_json(job), "plans",
		                 plans, "facts", facts, "revert_facts", revert_facts);
		if (*doc == NULL) {
			snprintf(err, errlen, "journal: job %s: out of memory", job);
			goto out;
		}
	}
	ret = 0;
out:
	json_decref(plans);
	json_decref(facts);
	json_decref(revert_facts);
	return ret;
}

static int
cmd_journal(const struct agent_conf *c, int argc, char **argv)
{
	char err[1024] = "";
	const char *job = NULL;
	struct journal *j = NULL;
	json_t *doc = NULL;
	bool json = false;
	int ret;

	if ((ret = journal_parse(argc, argv, &json, &job)) != EXIT_OK)
		return ret;
	ret = EXIT_INTERNAL;
	if ((j = open_journal(c, err, sizeof(err))) == NULL)
		goto out;
	if (job == NULL ? journal_unfinished(j, json, &doc, err, sizeof(err)) != 0
	                : journal_job(j, job, json, &doc, err, sizeof(err)) != 0)
		goto out;
	if (doc != NULL &&
	    (json_dumpf(doc, stdout, JSON_INDENT(2)) != 0 || fputc('\n', stdout) == EOF)) {
		snprintf(err, sizeof(err), "journal: cannot write the JSON document: %s",
		         strerror(errno));
		goto out;
	}
	ret = EXIT_OK;
out:
	if (ret != EXIT_OK)
		fprintf(stderr, "odc-agent: %s\n", err[0] ? err : "journal: out of memory");
	json_decref(doc);
	journal_close(j);
	return ret;
}

static int
cmd_keygen(const char *secret, const char *public)
{
	char err[512];
	struct keys_pair *kp;

	if (keys_init() != 0 || (kp = keys_generate(err, sizeof(err))) == NULL) {
		fprintf(stderr, "odc-agent: cannot generate a key\n");
		return EXIT_INTERNAL;
	}
	if (keys_save(kp, secret, public, err, sizeof(err)) != 0) {
		fprintf(stderr, "odc-agent: %s\n", err);
		keys_pair_free(kp);
		return EXIT_FAILED;
	}
	keys_print_new(stdout, kp, secret, public);
	keys_pair_free(kp);
	return EXIT_OK;
}

int
main(int argc, char **argv)
{
	const char *conf_path = DEFAULT_CONF;
	struct agent_conf c;
	char err[1024];
	int verbose = 0, ret;

	if ((ret = cli_daemon_options(argc, argv, "odc-agent", AGENT_VERSION, PROTO_VERSION, usage,
	                              &conf_path, &verbose)) >= 0)
		return ret;
	const char *cmd = argv[optind];
	if (strcmp(cmd, "keygen") == 0) {
		/* Needs no configuration: it makes the key the configuration names. */
		if (optind + 3 != argc) {
			fprintf(stderr,
			        "usage: odc-agent keygen SECRET_KEY_FILE PUBLIC_KEY_FILE\n");
			return EXIT_USAGE;
		}
		return cmd_keygen(argv[optind + 1], argv[optind + 2]);
	}
	if (keys_init() != 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		fprintf(stderr, "odc-agent: cannot initialise libsodium or libcurl\n");
		return EXIT_INTERNAL;
	}
	/* check-config checks what daemon checks at its start, and prints every
	 * problem the same way (config_report); other commands check the values
	 * only, and meet what the values name when they use it. */
	ret = agent_conf_load(conf_path, &c, err, sizeof(err));
	if (c.cfg != NULL && (strcmp(cmd, "check-config") == 0 || strcmp(cmd, "daemon") == 0))
		ret = agent_conf_check(&c, strcmp(cmd, "daemon") == 0 ? AGENT_CHECK_DAEMON : 0, err,
		                       sizeof(err));
	if (ret != 0) {
		config_report(stderr, c.cfg, conf_path, err);
		agent_conf_free(&c);
		curl_global_cleanup();
		return EXIT_USAGE;
	}
	/* Local mode talks to a person: only warnings unless -v. */
	log_init("odc-agent", verbose ? LOG_LVL_DEBUG : LOG_LVL_WARN, 0);
	if (strcmp(cmd, "check-config") == 0) {
		printf("%s: ok (host %s, container %s, repository %s, metadb %s:%llu/%s)\n", c.path,
		       c.host_id, c.container, c.repository, c.db_host,
		       (unsigned long long)c.db_port, c.db_name);
		ret = EXIT_OK;
	} else if (strcmp(cmd, "run") == 0) {
		ret = cmd_run(&c, argc - optind, argv + optind);
	} else if (strcmp(cmd, "daemon") == 0) {
		/* The daemon logs to stderr (journald) at the configured level. */
		enum log_level lvl;
		if (log_level_parse(c.log_level, &lvl) != 0)
			lvl = LOG_LVL_INFO;
		log_init("odc-agent", verbose ? LOG_LVL_DEBUG : lvl, 0);
		if (daemon_run(&c, err, sizeof(err)) != 0) {
			fprintf(stderr, "odc-agent: %s\n", err);
			ret = strstr(err, "accessible") != NULL || strstr(err, "key") != NULL
			          ? EXIT_USAGE
			          : EXIT_INTERNAL;
		} else {
			ret = EXIT_OK;
		}
	} else if (strcmp(cmd, "prune") == 0) {
		ret = cmd_prune(&c, argc - optind, argv + optind);
	} else if (strcmp(cmd, "resume") == 0) {
		ret = cmd_resume(&c);
	} else if (strcmp(cmd, "guard") == 0) {
		ret = cmd_guard(&c, argc - optind, argv + optind);
	} else if (strcmp(cmd, "journal") == 0) {
		ret = cmd_journal(&c, argc - optind, argv + optind);
	} else {
		fprintf(stderr, "odc-agent: unknown command '%s'\n", cmd);
		usage(stderr);
		ret = EXIT_USAGE;
	}
	agent_conf_free(&c);
	curl_global_cleanup();
	return ret;
}
