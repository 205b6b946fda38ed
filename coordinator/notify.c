/* Notifications of job start, halt and finish to the [webhook.NAME]s of the
 * configuration (coordinator/README.md, "Notifications"). Bodies are rendered
 * on the event loop's thread and queued; one delivery thread does the HTTP
 * (libcurl), with bounded retries and backoff, so that a slow or dead
 * receiver never holds the loop. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <sodium.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "coordinator/coord.h"

#define NOTIFY_QUEUE_MAX    256   /* deliveries waiting, every webhook together */
#define NOTIFY_HOSTS_JSON   20    /* failed hosts listed in the generic body */
#define NOTIFY_HOSTS_CHAT   10    /* ... and in a chat message */
#define NOTIFY_TARGETS_JSON 20    /* targets named in the generic body */
#define NOTIFY_TARGETS_CHAT 10    /* ... and in a chat message */
#define NOTIFY_CHAT_MSG     200   /* bytes of one message shown in a chat message */
#define NOTIFY_CHAT_TEXT    2900  /* a chat message's text (Slack: 3000 a section) */
#define NOTIFY_ANSWER_MAX   4096  /* bytes of a receiver's answer kept */
#define NOTIFY_ANSWER_READ  65536 /* ... and read: a longer answer is cut there */
#define NOTIFY_WHY_MAX      320
#define WEBHOOK_URL_MAX     2048 /* conf.c's bound */

static const char *const event_names[] = {"start", "halt", "finish"};

/* One delivery: a rendered body for one webhook. */
struct notify_msg {
	struct notify_msg *next;
	size_t hook; /* index in conf->webhooks */
	enum coord_event event;
	char job_id[PROTO_ID_MAX + 1];
	char *body; /* NUL-terminated JSON */
	unsigned attempts;
	uint64_t due_mono;
	bool busy;                /* the thread is sending it */
	char why[NOTIFY_WHY_MAX]; /* the last attempt's failure */
};

/* The transfer in flight for one webhook (one at a time: its notifications
 * arrive in order). Owned by the delivery thread. */
struct flight {
	CURL *easy; /* reused: its connection stays open */
	struct notify_msg *m;
	char url[WEBHOOK_URL_MAX + 128];
	char errbuf[CURL_ERROR_SIZE];
	char answer[NOTIFY_ANSWER_MAX + 1];
	size_t answer_len;
	size_t answer_read; /* bytes of the answer read, kept or not */
	bool answer_cut;    /* the answer went on past NOTIFY_ANSWER_READ */
};

struct notify {
	const struct coord_conf *conf; /* outlives us */
	CURLM *multi;
	struct curl_slist *headers;
	struct flight flights[COORD_MAX_WEBHOOKS];
	pthread_t thread;
	/* Under mu: the queue in arrival order, and the stop request. */
	pthread_mutex_t mu;
	struct notify_msg *head, *tail;
	size_t n;
	bool stopping;
	uint64_t stop_mono; /* what is not delivered by then is dropped */
};

/* ---- text ---- */

/* The length of the UTF-8 character at s (1 to 4), or 0 when the bytes there
 * are not one. s is NUL-terminated, so a cut sequence stops at the NUL. */
static size_t
utf8_char(const unsigned char *s)
{
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (s[0] >= 0xe0 && s[0] <= 0xef) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0))
			return 0; /* overlong, surrogate */
		return 3;
	}
	if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
			return 0;
		if ((s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))
			return 0;
		return 4;
	}
	return 0;
}

#define TEXT_ONELINE 1 /* control characters (newlines) become blanks */
#define TEXT_SLACK   2 /* & < > escaped, as Slack's mrkdwn wants */

/* Appends s to b as valid UTF-8: at most max bytes of it (0: all), cut at a
 * character boundary and ended with "..." when longer; bytes that are not
 * UTF-8 (a message cut short by a fixed buffer) become '?'. Returns 0, or -1
 * when b is full. */
static int
put_text(struct buf *b, const char *s, size_t max, int flags)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t used = 0;

	while (*u != '\0') {
		size_t n = utf8_char(u);
		const char *rep = NULL;
		char one = '?';

		if (max > 0 && used + (n ? n : 1) > max)
			return buf_append(b, "...", 3);
		if (n == 0) {
			rep = &one;
			n = 1;
		} else if (n == 1 && *u < 0x20 && (flags & TEXT_ONELINE)) {
			one = ' ';
			rep = &one;
		} else if (n == 1 && (flags & TEXT_SLACK) &&
		           (*u == '&' || *u == '<' || *u == '>')) {
			const char *esc = *u == '&' ? "&amp;" : *u == '<' ? "&lt;" : "&gt;";
			if (buf_append(b, esc, strlen(esc)) != 0)
				return -1;
			u++;
			used++;
			continue;
		}
		if (buf_append(b, rep != NULL ? rep : (const char *)u, rep != NULL ? 1 : n) != 0)
			return -1;
		u += n;
		used += n;
	}
	return 0;
}

/* A JSON string of s as put_text() makes it (never NULL for want of valid
 * UTF-8; NULL when memory runs out). */
static json_t *
jstr(const char *s, size_t max)
{
	struct buf b;
	json_t *o;

	buf_init(&b, 64 * 1024);
	if (put_text(&b, s, max, 0) != 0) {
		buf_free(&b);
		return NULL;
	}
	o = json_stringn(b.data != NULL ? (const char *)b.data : "", b.len);
	buf_free(&b);
	return o;
}

/* "2024-05-01T12:00:00.123Z" */
static void
iso_time(uint64_t ms, char *out, size_t outlen)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char day[32];

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
		snprintf(out, outlen, "?");
		return;
	}
	snprintf(out, outlen, "%s.%03uZ", day, (unsigned)(ms % 1000));
}

/* ---- bodies ---- */

const char *
notify_event_name(enum coord_event ev)
{
	return (unsigned)ev < 3 ? event_names[ev] : "?";
}

int
notify_event_for(unsigned events, enum coord_event ev)
{
	if (events & COORD_EVENT_BIT(ev))
		return (int)ev;
	if (ev == COORD_EVENT_HALT && (events & COORD_EVENT_BIT(COORD_EVENT_FINISH)))
		return COORD_EVENT_FINISH;
	return -1;
}

bool
notify_wanted(const struct job *j, enum coord_event ev)
{
	/* A job that changes nothing (a read-only action, a dry run) is nobody's
	 * incident: its failures are the operator's answer, seen in odcctl. */
	if (j->changes)
		return true;
	return ev == COORD_EVENT_START ||
	       (ev == COORD_EVENT_FINISH && j->state != JOB_HALTED && j->state != JOB_FAILED);
}

/* Whether `odcctl undo --of ID` walks j back: a rollback that changed
 * hosts (its run phase was dispatched to one) and did not end well. */
static bool
undoable(const struct job *j)
{
	if (strcmp(j->jm->u.job.action, "rollback") != 0 || !j->changes ||
	    (j->state != JOB_HALTED && j->state != JOB_FAILED && j->state != JOB_ABORTED))
		return false;
	for (size_t i = 0; i < j->n; i++)
		if (strcmp(j->hosts[i].phase, "run") == 0)
			return true;
	return false;
}

/* What an operator types to see more: {results, undo (or null)}. */
static json_t *
commands_json(const struct job *j)
{
	char results[PROTO_ID_MAX + 64], undo[PROTO_ID_MAX + 64];

	snprintf(results, sizeof(results), "odcctl job %s --results", j->id);
	snprintf(undo, sizeof(undo), "odcctl undo --of %s", j->id);
	return json_pack("{s:s, s:s?}", "results", results, "undo", undoable(j) ? undo : NULL);
}

/* The releases the targets were on at admission: [{version, hosts}]. */
static json_t *
from_json(const struct job *j)
{
	json_t *a = json_array();

	for (size_t k = 0; a != NULL && k < j->n_from; k++)
		if (json_array_append_new(a, json_pack("{s:s, s:I}", "version", j->from[k].tag,
		                                       "hosts", (json_int_t)j->from[k].hosts)) !=
		    0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

json_t *
notify_event_json(enum coord_event ev, uint64_t now_ms, const char *coord_id, const struct job *j)
{
	const struct proto_job *jb = &j->jm->u.job;
	json_t *o = NULL, *job = NULL, *counts = json_object(), *failed = json_array(),
	       *params = json_object(), *named = json_array(), *extra = NULL;
	size_t more = 0;
	char when[40];

	if (counts == NULL || failed == NULL || params == NULL || named == NULL)
		goto out;
	for (size_t i = 0; i < jb->n_params; i++)
		if (json_object_set_new(params, jb->params[i].key, jstr(jb->params[i].value, 0)) !=
		    0)
			goto out;
	for (size_t i = 0; i < j->n && i < NOTIFY_TARGETS_JSON; i++)
		if (json_array_append_new(named, json_string(j->hosts[i].host)) != 0)
			goto out;
	for (int s = 0; s < JH_COUNT; s++)
		if (json_object_set_new(counts, jobstate_host_name((enum jh_state)s),
		                        json_integer((json_int_t)j->counts[s])) != 0)
			goto out;
	for (size_t i = 0; i < j->n; i++) {
		const struct job_host *jh = &j->hosts[i];
		json_t *h;

		if (jh->state != JH_FAILED && jh->state != JH_UNREACHABLE)
			continue;
		if (json_array_size(failed) == NOTIFY_HOSTS_JSON) {
			more++;
			continue;
		}
		h = json_pack("{s:s, s:s, s:o*, s:o*}", "host", jh->host, "state",
		              jobstate_host_name(jh->state), "step", jstr(jh->failed_step, 0),
		              "message", jstr(jh->message, 0));
		if (h == NULL || json_array_append_new(failed, h) != 0)
			goto out;
	}
	job = json_pack(
	    "{s:s, s:s, s:s, s:s, s:o*, s:s, s:s, s:I, s:o*, s:I, s:o, s:I, s:O, s:O, s:I}", "id",
	    j->id, "action", jb->action, "operator", jb->operator_name, "signer", j->signer,
	    "reason", jstr(jb->reason, 0), "state", jobstate_name(j->state), "stage",
	    jobstate_stage_name(j->stage), "batch", (json_int_t)j->batch, "message",
	    jstr(j->message, 0), "submitted_ms", (json_int_t)j->submitted_ms, "ended_ms",
	    j->ended_ms ? json_integer((json_int_t)j->ended_ms) : json_null(), "targets",
	    (json_int_t)j->n, "counts", counts, "failed_hosts", failed, "failed_hosts_more",
	    (json_int_t)more);
	/* What an operator wants in a chat: dry run or not, the versions from
	 * and to, the targets by name, the commands to see more. */
	extra = json_pack("{s:b, s:b, s:O, s:s?, s:o*, s:I, s:I, s:O, s:I, s:I, s:o*}", "dry_run",
	                  j->dry_run, "changes", j->changes, "params", params, "to",
	                  proto_param(jb->params, jb->n_params, "to"), "from", from_json(j),
	                  "from_more", (json_int_t)j->from_more, "from_unknown",
	                  (json_int_t)j->from_unknown, "target_hosts", named, "target_hosts_more",
	                  (json_int_t)(j->n - json_array_size(named)), "units",
	                  (json_int_t)j->n_units, "commands", commands_json(j));
	if (job == NULL || extra == NULL || json_object_update(job, extra) != 0)
		goto out;
	iso_time(now_ms, when, sizeof(when));
	o = json_pack("{s:i, s:s, s:s, s:I, s:s, s:O}", "version", 1, "event",
	              notify_event_name(ev), "time", when, "time_ms", (json_int_t)now_ms,
	              "coordinator", coord_id, "job", job);
out:
	json_decref(job);
	json_decref(counts);
	json_decref(failed);
	json_decref(params);
	json_decref(named);
	json_decref(extra);
	return o;
}

static const char *
jget_str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : "";
}

static long long
jget_int(const json_t *o, const char *key)
{
	return (long long)json_integer_value(json_object_get(o, key));
}

/* What happened, for titles: "started", or the job's final state. */
static const char *
verb_of(const json_t *ev, const json_t *job)
{
	return strcmp(jget_str(ev, "event"), "start") == 0 ? "started" : jget_str(job, "state");
}

/* " (dry run)" in a dry run's headline, else "". */
static const char *
dry_of(const json_t *job)
{
	return json_is_true(json_object_get(job, "dry_run")) ? " (dry run)" : "";
}

/* "odc-fleet: job ID halted", plain text. */
static int
put_title(struct buf *b, const json_t *ev, const json_t *job)
{
	return buf_appendf(b, "odc-fleet: job %s%s %s", jget_str(job, "id"), dry_of(job),
	                   verb_of(ev, job));
}

/* "4.3.0 on 2 hosts, 1 unknown": the releases the targets were on (an
 * agent's word: put as text, with flags). */
static int
put_from(struct buf *b, const json_t *job, int flags)
{
	const json_t *from = json_object_get(job, "from"), *r;
	long long more = jget_int(job, "from_more"), unknown = jget_int(job, "from_unknown");
	size_t i;

	json_array_foreach(from, i, r)
	{
		long long n = jget_int(r, "hosts");
		if (buf_appendf(b, "%s", i ? ", " : "") != 0 ||
		    put_text(b, jget_str(r, "version"), 64, flags) != 0 ||
		    buf_appendf(b, " on %lld host%s", n, n == 1 ? "" : "s") != 0)
			return -1;
	}
	if (more > 0 && buf_appendf(b, "%s%lld on other releases",
	                            json_array_size(from) ? ", " : "", more) != 0)
		return -1;
	if (unknown > 0 && buf_appendf(b, "%s%lld unknown",
	                               json_array_size(from) || more ? ", " : "", unknown) != 0)
		return -1;
	return 0;
}

/* The message of a chat format: markdown (DingTalk) or mrkdwn (Slack), in
 * bounded pieces; text cut at NOTIFY_CHAT_TEXT. */
static int
put_chat_text(struct buf *b, const json_t *ev, bool slack)
{
	const json_t *job = json_object_get(ev, "job"),
	             *failed = json_object_get(job, "failed_hosts");
	json_t *counts = json_object_get(job, "counts"), *v;
	const char *bold = slack ? "*" : "**", *br = slack ? "\n" : "\n\n",
	           *item = slack ? "• " : "- ";
	int flags = TEXT_ONELINE | (slack ? TEXT_SLACK : 0);
	long long n = jget_int(job, "targets");
	size_t i, shown = 0;
	const char *k;
	bool first = true;
	const json_t *named = json_object_get(job, "target_hosts"),
	             *cmds = json_object_get(job, "commands");
	long long units = jget_int(job, "units");
	const char *of = jget_str(json_object_get(job, "params"), "of");

	/* Headline, then what, who and why. */
	if (slack) {
		if (buf_appendf(b, "*odc-fleet: job `%s`%s %s*\n", jget_str(job, "id"), dry_of(job),
		                verb_of(ev, job)) != 0)
			return -1;
	} else if (buf_appendf(b, "#### odc-fleet: job %s%s %s\n\n", jget_str(job, "id"),
	                       dry_of(job), verb_of(ev, job)) != 0) {
		return -1;
	}
	/* The operator's name is the JOB's, free text: escaped like the reason.
	 * The version and job ids are of checked formats ([A-Za-z0-9._-]). */
	if (buf_appendf(b, "%s%s%s%s%s%s on %lld host%s, by ", bold, jget_str(job, "action"), bold,
	                dry_of(job),
	                *jget_str(job, "to") ? " to "
	                : *of                ? " of "
	                                     : "",
	                *jget_str(job, "to") ? jget_str(job, "to") : of, n,
	                n == 1 ? "" : "s") != 0 ||
	    put_text(b, jget_str(job, "operator"), NOTIFY_CHAT_MSG, flags) != 0)
		return -1;
	if (*jget_str(job, "reason") != '\0' &&
	    (buf_append(b, ": ", 2) != 0 ||
	     put_text(b, jget_str(job, "reason"), NOTIFY_CHAT_MSG, flags) != 0))
		return -1;
	if ((json_array_size(json_object_get(job, "from")) > 0 || jget_int(job, "from_more") > 0 ||
	     jget_int(job, "from_unknown") > 0) &&
	    (buf_appendf(b, "%s%sFrom:%s ", br, bold, bold) != 0 || put_from(b, job, flags) != 0))
		return -1;
	if (buf_appendf(b, "%s%sTargets:%s ", br, bold, bold) != 0)
		return -1;
	for (i = 0; i < json_array_size(named) && i < NOTIFY_TARGETS_CHAT; i++)
		if (buf_appendf(b, "%s%s", i ? ", " : "",
		                json_string_value(json_array_get(named, i))) != 0)
			return -1;
	if (n > (long long)i && buf_appendf(b, " and %lld more", n - (long long)i) != 0)
		return -1;
	if (units > 0 && units < n &&
	    buf_appendf(b, " (%lld deployment%s)", units, units == 1 ? "" : "s") != 0)
		return -1;
	if (buf_appendf(b, "%s%sState:%s %s, stage %s", br, bold, bold, jget_str(job, "state"),
	                jget_str(job, "stage")) != 0)
		return -1;
	if (*jget_str(job, "message") != '\0' &&
	    (buf_appendf(b, "%s%sMessage:%s ", br, bold, bold) != 0 ||
	     put_text(b, jget_str(job, "message"), 2 * NOTIFY_CHAT_MSG, flags) != 0))
		return -1;

	/* Hosts by outcome: only the states some host is in. */
	if (buf_appendf(b, "%s%sHosts:%s ", br, bold, bold) != 0)
		return -1;
	json_object_foreach(counts, k, v)
	{
		if (json_integer_value(v) == 0)
			continue;
		if (buf_appendf(b, "%s%lld %s", first ? "" : ", ", (long long)json_integer_value(v),
		                k) != 0)
			return -1;
		first = false;
	}
	/* The commands before the failed hosts: a long list is what gets cut. */
	if (buf_appendf(b, "%s%sMore:%s `%s`", br, bold, bold, jget_str(cmds, "results")) != 0)
		return -1;
	if (*jget_str(cmds, "undo") != '\0' &&
	    buf_appendf(b, "%s%sUndo:%s `%s`", br, bold, bold, jget_str(cmds, "undo")) != 0)
		return -1;

	if (json_array_size(failed) > 0 && buf_appendf(b, "%s%sFailed:%s", br, bold, bold) != 0)
		return -1;
	for (i = 0; i < json_array_size(failed) && shown < NOTIFY_HOSTS_CHAT; i++, shown++) {
		const json_t *h = json_array_get(failed, i);
		if (buf_appendf(b, "\n%s%s %s", item, jget_str(h, "host"), jget_str(h, "state")) !=
		    0)
			return -1;
		if (*jget_str(h, "step") != '\0' &&
		    buf_appendf(b, " at %s", jget_str(h, "step")) != 0)
			return -1;
		if (*jget_str(h, "message") != '\0' &&
		    (buf_append(b, ": ", 2) != 0 ||
		     put_text(b, jget_str(h, "message"), NOTIFY_CHAT_MSG, flags) != 0))
			return -1;
	}
	long long more =
	    (long long)(json_array_size(failed) - shown) + jget_int(job, "failed_hosts_more");
	if (more > 0 && buf_appendf(b, "\n%sand %lld more", item, more) != 0)
		return -1;
	if (!slack && buf_appendf(b, "%scoordinator %s, %s", br, jget_str(ev, "coordinator"),
	                          jget_str(ev, "time")) != 0)
		return -1;
	return 0;
}

static char *
render_chat(const json_t *ev, bool slack)
{
	const json_t *job = json_object_get(ev, "job");
	struct buf text, title;
	json_t *o = NULL;
	char *out = NULL;

	buf_init(&text, NOTIFY_CHAT_TEXT);
	buf_init(&title, 512);
	/* A text too long for the bound is cut: what fits stays. */
	if (put_chat_text(&text, ev, slack) != 0) {
		text.max += 3;
		buf_append(&text, "...", 3);
	}
	if (put_title(&title, ev, job) != 0 || text.data == NULL)
		goto out;
	if (slack) {
		struct buf line;
		char ctx[256];

		/* The notification's plain text: title and message on one line. */
		buf_init(&line, 1024);
		if (buf_append(&line, title.data, title.len) != 0 ||
		    (*jget_str(job, "message") != '\0' &&
		     (buf_append(&line, ": ", 2) != 0 ||
		      put_text(&line, jget_str(job, "message"), NOTIFY_CHAT_MSG,
		               TEXT_ONELINE | TEXT_SLACK) != 0))) {
			buf_free(&line);
			goto out;
		}
		snprintf(ctx, sizeof(ctx), "coordinator %s, %s", jget_str(ev, "coordinator"),
		         jget_str(ev, "time"));
		o = json_pack("{s:s%, s:[{s:s, s:{s:s, s:s%}}, {s:s, s:[{s:s, s:s}]}]}", "text",
		              (const char *)line.data, line.len, "blocks", "type", "section",
		              "text", "type", "mrkdwn", "text", (const char *)text.data, text.len,
		              "type", "context", "elements", "type", "mrkdwn", "text", ctx);
		buf_free(&line);
	} else {
		o = json_pack("{s:s, s:{s:s%, s:s%}}", "msgtype", "markdown", "markdown", "title",
		              (const char *)title.data, title.len, "text", (const char *)text.data,
		              text.len);
	}
	if (o != NULL)
		out = json_dumps(o, JSON_COMPACT);
out:
	json_decref(o);
	buf_free(&text);
	buf_free(&title);
	return out;
}

char *
notify_render(enum coord_webhook_format format, const json_t *ev)
{
	switch (format) {
	case COORD_WEBHOOK_DINGTALK:
		return render_chat(ev, false);
	case COORD_WEBHOOK_SLACK:
		return render_chat(ev, true);
	case COORD_WEBHOOK_JSON:
		break;
	}
	return json_dumps(ev, JSON_COMPACT);
}

/* ---- DingTalk signing ---- */

int
notify_dingtalk_sign(const char *secret, uint64_t ts_ms, char *out, size_t outlen)
{
	crypto_auth_hmacsha256_state st;
	uint8_t mac[crypto_auth_hmacsha256_BYTES];
	char ts[24], b64[sodium_base64_ENCODED_LEN(crypto_auth_hmacsha256_BYTES,
	                                           sodium_base64_VARIANT_ORIGINAL)];
	size_t pos = 0;
	int ret = -1;

	/* HMAC-SHA256, keyed with the secret, of "timestamp\nsecret";
	 * then Base64, then URL-encoded. */
	snprintf(ts, sizeof(ts), "%llu", (unsigned long long)ts_ms);
	crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)ts, strlen(ts));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)"\n", 1);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)secret, strlen(secret));
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_bin2base64(b64, sizeof(b64), mac, sizeof(mac), sodium_base64_VARIANT_ORIGINAL);
	for (const char *p = b64; *p != '\0'; p++) {
		const char *enc = *p == '+' ? "%2B" : *p == '/' ? "%2F" : *p == '=' ? "%3D" : NULL;
		size_t len = enc != NULL ? 3 : 1;
		if (pos + len >= outlen)
			goto out;
		memcpy(out + pos, enc != NULL ? enc : p, len);
		pos += len;
	}
	out[pos] = '\0';
	ret = 0;
out:
	sodium_memzero(&st, sizeof(st));
	if (ret != 0 && outlen > 0)
		out[0] = '\0';
	return ret;
}

int
notify_dingtalk_url(const char *url, const char *secret, uint64_t ts_ms, char *out, size_t outlen)
{
	char sign[128];
	int n;

	if (notify_dingtalk_sign(secret, ts_ms, sign, sizeof(sign)) != 0)
		return -1;
	n = snprintf(out, outlen, "%s%ctimestamp=%llu&sign=%s", url,
	             strchr(url, '?') != NULL ? '&' : '?', (unsigned long long)ts_ms, sign);
	if (n > 0 && (size_t)n < outlen)
		return 0;
	if (outlen > 0)
		out[0] = '\0'; /* never a cut URL */
	return -1;
}

/* ---- answers and retries ---- */

/* DingTalk's errcodes that mean "busy" or "too fast": worth another try. */
static bool
dingtalk_transient(long long code)
{
	return code == -1 || code == 130101 || code == 130102 || code == 410100;
}

/* Appends up to 160 bytes of an answer to why, on one line. */
static void
why_answer(char *why, size_t whylen, const char *body)
{
	struct buf b;

	buf_init(&b, 256);
	if (body != NULL && *body != '\0' && put_text(&b, body, 160, TEXT_ONELINE) == 0 &&
	    b.data != NULL) {
		size_t len = strlen(why);
		snprintf(why + len, whylen - len, ": %s", (const char *)b.data);
	}
	buf_free(&b);
}

enum notify_verdict
notify_judge(enum coord_webhook_format format, long status, const char *body, char *why,
             size_t whylen)
{
	snprintf(why, whylen, "HTTP %ld", status);
	if (status >= 200 && status < 300) {
		json_t *o;
		json_t *code;
		enum notify_verdict v;

		if (format != COORD_WEBHOOK_DINGTALK)
			return NOTIFY_OK;
		/* DingTalk answers 200 with {"errcode": N, "errmsg": ...}. */
		o = body != NULL ? json_loads(body, JSON_REJECT_DUPLICATES, NULL) : NULL;
		code = json_object_get(o, "errcode");
		if (!json_is_integer(code)) {
			snprintf(why, whylen, "HTTP %ld without a DingTalk errcode", status);
			why_answer(why, whylen, body);
			json_decref(o);
			return NOTIFY_RETRY;
		}
		if (json_integer_value(code) == 0) {
			json_decref(o);
			return NOTIFY_OK;
		}
		snprintf(why, whylen, "DingTalk errcode %lld", (long long)json_integer_value(code));
		why_answer(why, whylen, json_string_value(json_object_get(o, "errmsg")));
		v = dingtalk_transient(json_integer_value(code)) ? NOTIFY_RETRY : NOTIFY_FAIL;
		json_decref(o);
		return v;
	}
	why_answer(why, whylen, body);
	if (status == 408 || status == 429 || (status >= 500 && status < 600))
		return NOTIFY_RETRY;
	return NOTIFY_FAIL; /* other 4xx; 1xx and 3xx (redirects are not followed) */
}

uint64_t
notify_backoff_ms(uint64_t first_ms, uint64_t max_ms, unsigned retry, uint32_t rnd)
{
	uint64_t d = first_ms;

	/* first, 2 first, 4 first... capped; then up to a quarter less, at
	 * random, so that retries of several coordinators spread out. */
	for (unsigned i = 1; i < retry && d < max_ms; i++)
		d *= 2;
	if (d > max_ms)
		d = max_ms;
	return d - rnd % (d / 4 + 1);
}

/* ---- the queue (under n->mu) ---- */

static void
msg_free(struct notify_msg *m)
{
	if (m == NULL)
		return;
	free(m->body);
	free(m);
}

static void
queue_remove(struct notify *n, struct notify_msg *m)
{
	struct notify_msg **pp = &n->head, *prev = NULL;

	while (*pp != NULL && *pp != m) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (*pp == NULL)
		return;
	*pp = m->next;
	if (n->tail == m)
		n->tail = prev;
	n->n--;
}

/* ---- HTTP (the delivery thread) ---- */

static size_t
on_data(char *p, size_t size, size_t nmemb, void *arg)
{
	struct flight *f = arg;
	size_t n = size * nmemb, take = n;

	/* Keep the start, read (and forget) more up to a bound: an answer that
	 * never ends would hold the webhook until its timeout. Cutting it is not
	 * a failure: the status and the start decide (flight_verdict). */
	f->answer_read += n;
	if (f->answer_read > NOTIFY_ANSWER_READ) {
		f->answer_cut = true;
		return 0;
	}
	if (take > NOTIFY_ANSWER_MAX - f->answer_len)
		take = NOTIFY_ANSWER_MAX - f->answer_len;
	memcpy(f->answer + f->answer_len, p, take);
	f->answer_len += take;
	f->answer[f->answer_len] = '\0';
	return n;
}

/* Starts the transfer of m (busy) for its webhook; time_left caps its
 * timeout at shutdown (0: no cap). Returns 0, or -1 with why set. */
static int
flight_start(struct notify *n, struct notify_msg *m, uint64_t time_left, char *why, size_t whylen)
{
	const struct coord_webhook *w = &n->conf->webhooks[m->hook];
	struct flight *f = &n->flights[m->hook];
	uint64_t timeout = time_left > 0 && time_left < w->timeout_ms ? time_left : w->timeout_ms;
	CURL *c = f->easy;

	if (w->format == COORD_WEBHOOK_DINGTALK && *w->secret != '\0') {
		/* Signed per attempt: DingTalk refuses a timestamp over an hour old. */
		if (notify_dingtalk_url(w->url, w->secret, proto_now_ms(), f->url,
		                        sizeof(f->url)) != 0) {
			snprintf(why, whylen, "the signed URL is too long");
			return -1;
		}
	} else {
		snprintf(f->url, sizeof(f->url), "%s", w->url);
	}
	f->m = m;
	f->errbuf[0] = '\0';
	f->answer[0] = '\0';
	f->answer_len = f->answer_read = 0;
	f->answer_cut = false;
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, f->url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, n->headers);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "odc-coordinator/" COORD_VERSION);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, m->body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(m->body));
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, f->errbuf);
	curl_easy_setopt(c, CURLOPT_PRIVATE, f);
	if (curl_multi_add_handle(n->multi, c) != CURLM_OK) {
		f->m = NULL;
		snprintf(why, whylen, "libcurl: cannot start a transfer");
		return -1;
	}
	return 0;
}

/* The verdict on f's finished transfer (result rc), with why and the
 * receiver's Retry-After in *retry_after_ms (0: none). */
static enum notify_verdict
flight_verdict(struct notify *n, struct flight *f, CURLcode rc, uint64_t *retry_after_ms, char *why,
               size_t whylen)
{
	const struct coord_webhook *w = &n->conf->webhooks[f->m->hook];
	curl_off_t ra = 0;
	long status = 0;

	*retry_after_ms = 0;
	if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && f->answer_cut)) {
		snprintf(why, whylen, "%s", *f->errbuf ? f->errbuf : curl_easy_strerror(rc));
		/* Mistakes in the URL or its TLS setup do not mend by waiting. */
		if (rc == CURLE_UNSUPPORTED_PROTOCOL || rc == CURLE_URL_MALFORMAT ||
		    rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE)
			return NOTIFY_FAIL;
		return NOTIFY_RETRY;
	}
	curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &status);
	if (curl_easy_getinfo(f->easy, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
		*retry_after_ms = (uint64_t)ra * 1000;
	return notify_judge(w->format, status, f->answer, why, whylen);
}

/* Under n->mu: what an attempt of m came to. m leaves the queue unless it
 * is tried again later. */
static void
settle(struct notify *n, struct notify_msg *m, enum notify_verdict v, uint64_t retry_after,
       const char *why)
{
	const struct coord_webhook *w = &n->conf->webhooks[m->hook];
	const char *ev = notify_event_name(m->event);
	uint64_t delay;

	m->busy = false;
	m->attempts++;
	snprintf(m->why, sizeof(m->why), "%s", why);
	if (v == NOTIFY_OK) {
		log_info("webhook %s: %s of job %s delivered (attempt %u)", w->name, ev, m->job_id,
		         m->attempts);
	} else if (v == NOTIFY_FAIL) {
		log_err("webhook %s: %s of job %s refused, not retried: %s", w->name, ev, m->job_id,
		        why);
	} else if (m->attempts >= w->attempts) {
		log_err("webhook %s: %s of job %s not delivered after %u attempt%s: %s", w->name,
		        ev, m->job_id, m->attempts, m->attempts == 1 ? "" : "s", why);
	} else {
		delay = notify_backoff_ms(w->backoff_ms, w->backoff_max_ms, m->attempts,
		                          randombytes_random());
		/* The receiver's Retry-After, as far as backoff_max. */
		if (retry_after > delay)
			delay = retry_after < w->backoff_max_ms ? retry_after : w->backoff_max_ms;
		m->due_mono = clock_mono_ms() + delay;
		log_warn("webhook %s: %s of job %s: attempt %u of %llu failed: %s; next in %llu ms",
		         w->name, ev, m->job_id, m->attempts, (unsigned long long)w->attempts, why,
		         (unsigned long long)delay);
		return;
	}
	queue_remove(n, m);
	msg_free(m);
}

/* Under n->mu: starts what is due, oldest first, one transfer per webhook
 * (its notifications go in order). Returns how long the thread may sleep. */
static long
start_due(struct notify *n, uint64_t now)
{
	uint32_t seen = 0;
	uint64_t next = now + 1000;
	char why[NOTIFY_WHY_MAX];

	for (struct notify_msg *m = n->head, *nm; m != NULL; m = nm) {
		nm = m->next;
		if (seen & (1u << m->hook))
			continue;
		seen |= 1u << m->hook;
		if (m->busy)
			continue;
		if (m->due_mono > now) {
			if (m->due_mono < next)
				next = m->due_mono;
			continue;
		}
		m->busy = true;
		if (flight_start(n, m, n->stopping ? n->stop_mono - now : 0, why, sizeof(why)) != 0)
			settle(n, m, NOTIFY_FAIL, 0, why);
	}
	if (n->stopping && n->stop_mono < next)
		next = n->stop_mono;
	return next > now ? (long)(next - now) : 0;
}

/* Under n->mu: whether a transfer runs or a notification is due before
 * deadline (at shutdown, one waiting out a longer backoff is not). */
static bool
sendable_before(const struct notify *n, uint64_t deadline)
{
	for (const struct notify_msg *m = n->head; m != NULL; m = m->next)
		if (m->busy || m->due_mono < deadline)
			return true;
	return false;
}

static void *
deliver(void *arg)
{
	struct notify *n = arg;

	for (;;) {
		uint64_t now = clock_mono_ms(), retry_after;
		struct CURLMsg *cm;
		int running, left;
		long wait_ms;
		char why[NOTIFY_WHY_MAX];

		pthread_mutex_lock(&n->mu);
		if (n->stopping && (now >= n->stop_mono || !sendable_before(n, n->stop_mono))) {
			pthread_mutex_unlock(&n->mu);
			break;
		}
		wait_ms = start_due(n, now);
		pthread_mutex_unlock(&n->mu);

		/* New work and stop requests wake the poll (curl_multi_wakeup). */
		curl_multi_perform(n->multi, &running);
		curl_multi_poll(n->multi, NULL, 0, (int)wait_ms, NULL);
		curl_multi_perform(n->multi, &running);
		while ((cm = curl_multi_info_read(n->multi, &left)) != NULL) {
			struct flight *f = NULL;
			enum notify_verdict v;

			if (cm->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(cm->easy_handle, CURLINFO_PRIVATE, (char **)&f);
			v = flight_verdict(n, f, cm->data.result, &retry_after, why, sizeof(why));
			curl_multi_remove_handle(n->multi, f->easy);
			pthread_mutex_lock(&n->mu);
			settle(n, f->m, v, retry_after, why);
			pthread_mutex_unlock(&n->mu);
			f->m = NULL;
		}
	}
	/* Stopping: transfers still running are cut, and what is left is
	 * dropped, each one named. */
	pthread_mutex_lock(&n->mu);
	for (size_t i = 0; i < COORD_MAX_WEBHOOKS; i++) {
		if (n->flights[i].m != NULL) {
			curl_multi_remove_handle(n->multi, n->flights[i].easy);
			n->flights[i].m = NULL;
		}
	}
	for (struct notify_msg *m = n->head, *next; m != NULL; m = next) {
		next = m->next;
		if (m->busy)
			log_warn(
			    "webhook %s: %s of job %s dropped at shutdown, cut during attempt %u",
			    n->conf->webhooks[m->hook].name, notify_event_name(m->event), m->job_id,
			    m->attempts + 1);
		else
			log_warn(
			    "webhook %s: %s of job %s dropped at shutdown after %u attempt%s%s%s",
			    n->conf->webhooks[m->hook].name, notify_event_name(m->event), m->job_id,
			    m->attempts, m->attempts == 1 ? "" : "s", *m->why ? "; last: " : "",
			    m->why);
		msg_free(m);
	}
	n->head = n->tail = NULL;
	n->n = 0;
	pthread_mutex_unlock(&n->mu);
	return NULL;
}

/* ---- the loop's side ---- */

/* Queues body (taken) for webhook hook; when the queue is full, the oldest
 * waiting delivery makes room. */
static void
queue_push(struct notify *n, size_t hook, enum coord_event ev, const char *job_id, char *body)
{
	struct notify_msg *m = calloc(1, sizeof(*m)), *old = NULL;

	if (m == NULL) {
		log_err("webhook %s: %s of job %s dropped: out of memory",
		        n->conf->webhooks[hook].name, notify_event_name(ev), job_id);
		free(body);
		return;
	}
	m->hook = hook;
	m->event = ev;
	snprintf(m->job_id, sizeof(m->job_id), "%s", job_id);
	m->body = body;
	m->due_mono = clock_mono_ms();
	pthread_mutex_lock(&n->mu);
	if (n->n >= NOTIFY_QUEUE_MAX) {
		for (old = n->head; old != NULL && old->busy; old = old->next)
			;
		if (old != NULL) {
			queue_remove(n, old);
			log_warn("webhook %s: %d notifications waiting: dropped the %s of job %s",
			         n->conf->webhooks[old->hook].name, NOTIFY_QUEUE_MAX,
			         notify_event_name(old->event), old->job_id);
		}
	}
	if (n->tail != NULL)
		n->tail->next = m;
	else
		n->head = m;
	n->tail = m;
	n->n++;
	pthread_mutex_unlock(&n->mu);
	curl_multi_wakeup(n->multi);
	msg_free(old);
}

void
notify_job(struct coord *co, const struct job *j, enum coord_event ev)
{
	const struct coord_conf *conf = co->conf;
	json_t *bodies[3] = {NULL, NULL, NULL};
	uint64_t now = proto_now_ms();

	if (co->notify == NULL)
		return;
	if (!notify_wanted(j, ev)) {
		log_debug("job %s: %s %s changes nothing: no webhook is told it %s", j->id,
		          j->dry_run ? "the dry run of" : "read-only", j->jm->u.job.action,
		          jobstate_name(j->state));
		return;
	}
	for (size_t i = 0; i < conf->n_webhooks; i++) {
		const struct coord_webhook *w = &conf->webhooks[i];
		int e = notify_event_for(w->events, ev);
		char *text;

		if (e < 0)
			continue;
		if (bodies[e] == NULL)
			bodies[e] = notify_event_json((enum coord_event)e, now, conf->id, j);
		text = bodies[e] != NULL ? notify_render(w->format, bodies[e]) : NULL;
		if (text == NULL) {
			log_err("webhook %s: cannot render the %s of job %s (out of memory)",
			        w->name, event_names[e], j->id);
			continue;
		}
		queue_push(co->notify, i, (enum coord_event)e, j->id, text);
	}
	for (int e = 0; e < 3; e++)
		json_decref(bodies[e]);
}

static void
notify_free(struct notify *n)
{
	if (n == NULL)
		return;
	for (size_t i = 0; i < COORD_MAX_WEBHOOKS; i++)
		curl_easy_cleanup(n->flights[i].easy);
	curl_multi_cleanup(n->multi);
	curl_slist_free_all(n->headers);
	pthread_mutex_destroy(&n->mu);
	free(n);
}

int
notify_start(struct coord *co, char *err, size_t errlen)
{
	struct notify *n = NULL;
	sigset_t all, old;
	CURLcode cc;
	int rc;

	co->notify = NULL;
	if (co->conf->n_webhooks == 0)
		return 0;
	/* Once, before any thread uses libcurl. */
	cc = curl_global_init(CURL_GLOBAL_DEFAULT);
	if (cc != CURLE_OK) {
		snprintf(err, errlen, "libcurl: %s", curl_easy_strerror(cc));
		return -1;
	}
	n = calloc(1, sizeof(*n));
	if (n == NULL)
		goto oom;
	pthread_mutex_init(&n->mu, NULL);
	n->conf = co->conf;
	n->multi = curl_multi_init();
	n->headers = curl_slist_append(NULL, "Content-Type: application/json; charset=utf-8");
	if (n->headers != NULL) /* no 100-continue round trip */
		n->headers = curl_slist_append(n->headers, "Expect:");
	if (n->multi == NULL || n->headers == NULL)
		goto oom;
	for (size_t i = 0; i < co->conf->n_webhooks; i++)
		if ((n->flights[i].easy = curl_easy_init()) == NULL)
			goto oom;
	/* Signals are the loop's (SIGTERM ends its poll): the thread takes none. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&n->thread, NULL, deliver, n);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		snprintf(err, errlen, "cannot start the webhook thread: %s", strerror(rc));
		goto fail;
	}
	co->notify = n;
	for (size_t i = 0; i < co->conf->n_webhooks; i++) {
		const struct coord_webhook *w = &co->conf->webhooks[i];
		log_info("webhook %s: %s, events%s%s%s, %llu attempts", w->name,
		         w->format == COORD_WEBHOOK_JSON    ? "json"
		         : w->format == COORD_WEBHOOK_SLACK ? "slack"
		                                            : "dingtalk",
		         (w->events & COORD_EVENT_BIT(COORD_EVENT_START)) ? " start" : "",
		         (w->events & COORD_EVENT_BIT(COORD_EVENT_HALT)) ? " halt" : "",
		         (w->events & COORD_EVENT_BIT(COORD_EVENT_FINISH)) ? " finish" : "",
		         (unsigned long long)w->attempts);
	}
	return 0;
oom:
	snprintf(err, errlen, "webhooks: out of memory");
fail:
	notify_free(n);
	curl_global_cleanup();
	return -1;
}

void
notify_stop(struct notify **np, uint64_t grace_ms)
{
	struct notify *n = np != NULL ? *np : NULL;

	if (n == NULL)
		return;
	pthread_mutex_lock(&n->mu);
	n->stopping = true;
	n->stop_mono = clock_mono_ms() + grace_ms;
	if (n->n > 0)
		log_info("webhooks: %zu notification%s waiting; up to %llu ms to deliver", n->n,
		         n->n == 1 ? "" : "s", (unsigned long long)grace_ms);
	pthread_mutex_unlock(&n->mu);
	curl_multi_wakeup(n->multi);
	pthread_join(n->thread, NULL);
	notify_free(n);
	*np = NULL;
	curl_global_cleanup();
}
