/* What more than one command does with a job: the `job` request, its stored
 * results fetched a page at a time (job, watch, follow, submit), the job ID
 * operand (job, watch, pause, resume, abort), and the body of pause, resume
 * and abort, which differ only in the command they send. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "coordinator/ctl/ctl.h"

/* Results per `results` request; the coordinator also stops a page near
 * 8 MiB. */
#define JOB_PAGE 1000

/* A dry run's difference travels as JSON text in data diff.1 ... diff.N
 * (PROTOCOL.md 5, dry_run); the operator gets it as the list, "diff". */
static void
job_result_diff(json_t *result)
{
	const json_t *data = json_object_get(result, "data");
	struct buf text;
	char key[16];
	json_t *list;

	if (json_object_get(data, "diff_count") == NULL)
		return;
	buf_init(&text, 1 << 20);
	for (unsigned i = 1; i < 1000; i++) {
		snprintf(key, sizeof(key), "diff.%u", i);
		const char *piece = json_string_value(json_object_get(data, key));
		if (piece == NULL || buf_append(&text, piece, strlen(piece)) != 0)
			break;
	}
	list = text.data != NULL ? json_loads((const char *)text.data, 0, NULL) : json_array();
	if (json_is_array(list))
		json_object_set(result, "diff", list);
	json_decref(list);
	buf_free(&text);
}

int
ctl_job_results(struct ctl *c, json_t *job, const char *host, const char *step)
{
	json_t *hosts = json_object_get(job, "hosts"), *all = json_array(), *ordered = json_array(),
	       *h, *r, *pr;
	json_int_t after = 0;
	size_t i, k;
	int ret = CTL_EXIT_OK;

	if (all == NULL || ordered == NULL) {
		ret = CTL_EXIT_FAILED;
		goto out;
	}
	do {
		json_t *args = json_pack("{s:s, s:I, s:I}", "job", js(job, "job_id"), "after",
		                         after, "limit", (json_int_t)JOB_PAGE),
		       *page = NULL;
		if (args != NULL && host != NULL)
			json_object_set_new(args, "host", json_string(host));
		if (args != NULL && step != NULL)
			json_object_set_new(args, "step", json_string(step));
		if ((ret = ctl_request(c, "results", args, false, &page)) != CTL_EXIT_OK)
			goto out;
		/* body_hex travels in chunks (a REPLY's strings are at most 64
		 * KiB); the operator gets the one hex string. */
		json_array_foreach(json_object_get(page, "results"), i, pr)
		{
			json_t *chunks = json_object_get(pr, "body_hex"), *ch;
			struct buf hex;
			size_t ci;
			buf_init(&hex, 2 * proto_type_max_body(PROTO_RESULT) + 1);
			json_array_foreach(chunks, ci, ch)
			{
				const char *t = json_string_value(ch);
				if (t != NULL && buf_append(&hex, t, strlen(t)) != 0)
					break;
			}
			if (json_is_array(chunks) && buf_append(&hex, "", 1) == 0)
				json_object_set_new(pr, "body_hex",
				                    json_string((const char *)hex.data));
			buf_free(&hex);
			job_result_diff(pr);
			json_array_append(all, pr);
		}
		/* A cursor that does not move would loop forever: stop there. */
		json_int_t next = ji(page, "next", 0);
		after = next > after ? next : 0;
		json_decref(page);
	} while (after > 0);
	/* Hosts in the job's order, each host's results in receipt order. */
	json_array_foreach(hosts, i, h)
	{
		json_array_foreach(all, k, r)
		{
			if (strcmp(js(r, "host"), js(h, "host")) == 0)
				json_array_append(ordered, r);
		}
	}
	json_object_set(job, "results", ordered);
out:
	json_decref(all);
	json_decref(ordered);
	return ret;
}

int
ctl_job_get(struct ctl *c, const char *job_id, json_t **job)
{
	return ctl_request(c, "job", json_pack("{s:s}", "job", job_id), false, job);
}

int
ctl_job_get_results(struct ctl *c, const char *job_id, const char *step, json_t **job)
{
	int ret = ctl_job_get(c, job_id, job);

	if (ret == 0 && (ret = ctl_job_results(c, *job, NULL, step)) != 0) {
		json_decref(*job);
		*job = NULL;
	}
	return ret;
}

int
ctl_job_operand(const struct ctl *c, int argc, char **argv, const char **id)
{
	int ret;

	*id = NULL;
	if ((ret = ctl_operands(c, argc, argv, 1, 1, "the job ID")) != 0)
		return ret;
	if (!proto_valid_id(argv[optind]))
		return ctl_usage_error(c, "ID '%s': not a job id (1..64 of [A-Za-z0-9._-])",
		                       argv[optind]);
	*id = argv[optind];
	return 0;
}

int
ctl_job_control(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv,
                const char *command)
{
	static const struct option opts[] = {CTL_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
	char line[1024], clean[1024];
	json_t *body = NULL;
	const char *id;
	int ch, ret;

	while ((ch = ctl_getopt(c, cmd, argc, argv, opts)) != CTL_OPT_END)
		return ch == CTL_OPT_HELP ? CTL_EXIT_OK : CTL_EXIT_USAGE;
	if ((ret = ctl_job_operand(c, argc, argv, &id)) != 0)
		return ret;
	if ((ret = ctl_request(c, command, json_pack("{s:s}", "job", id), true, &body)) != 0)
		return ret;
	if (c->output == CTL_OUT_JSON) {
		ret = out_json(body) == 0 ? CTL_EXIT_OK : CTL_EXIT_FAILED;
	} else {
		snprintf(line, sizeof(line), "job %s: %s, stage %s%s%s", js(body, "job_id"),
		         js(body, "state"), js(body, "stage"), js(body, "message")[0] ? ": " : "",
		         js(body, "message"));
		printf("%s\n", out_clean(line, clean, sizeof(clean)));
	}
	json_decref(body);
	return ret;
}
