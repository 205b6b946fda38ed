/* What each webhook format needs (coordinator/README.md, "Notifications"):
 * the generic JSON body of an event, the DingTalk and Slack messages made
 * from it, DingTalk's signature, what a receiver's answer means, and the
 * delay before a retry. Pure functions of their arguments: the loop's
 * thread renders, the delivery thread (notify.c) signs and judges. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "common/buf.h"
#include "coordinator/coord.h"

#define NOTIFY_HOSTS_JSON   20   /* failed hosts listed in the generic body */
#define NOTIFY_HOSTS_CHAT   10   /* ... and in a chat message */
#define NOTIFY_TARGETS_JSON 20   /* targets named in the generic body */
#define NOTIFY_TARGETS_CHAT 10   /* ... and in a chat message */
#define NOTIFY_CHAT_MSG     200  /* bytes of one message shown in a chat message */
#define NOTIFY_CHAT_TEXT    2900 /* a chat message's text (Slack: 3000 a section) */

static const char *const event_names[] = {"start", "halt", "finish"};

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

		if (!proto_host_state_failed((int)jh->state))
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

/* How one chat format writes a message: markdown (DingTalk) or mrkdwn
 * (Slack). The phases below append to b and return 0, or -1 once b's bound
 * (or memory) ran out. */
struct chat {
	struct buf *b;
	bool slack;
	const char *bold, *br, *item;
	int flags; /* put_text's, for free text */
};

/* The headline, then what, who and why, and the releases it comes from. */
static int
chat_head(const struct chat *c, const json_t *ev, const json_t *job)
{
	struct buf *b = c->b;
	long long n = jget_int(job, "targets");
	const char *of = jget_str(json_object_get(job, "params"), "of");

	if (c->slack) {
		if (buf_appendf(b, "*odc-fleet: job `%s`%s %s*\n", jget_str(job, "id"), dry_of(job),
		                verb_of(ev, job)) != 0)
			return -1;
	} else if (buf_appendf(b, "#### odc-fleet: job %s%s %s\n\n", jget_str(job, "id"),
	                       dry_of(job), verb_of(ev, job)) != 0) {
		return -1;
	}
	/* The operator's name is the JOB's, free text: escaped like the reason.
	 * The version and job ids are of checked formats ([A-Za-z0-9._-]). */
	if (buf_appendf(b, "%s%s%s%s%s%s on %lld host%s, by ", c->bold, jget_str(job, "action"),
	                c->bold, dry_of(job),
	                *jget_str(job, "to") ? " to "
	                : *of                ? " of "
	                                     : "",
	                *jget_str(job, "to") ? jget_str(job, "to") : of, n,
	                n == 1 ? "" : "s") != 0 ||
	    put_text(b, jget_str(job, "operator"), NOTIFY_CHAT_MSG, c->flags) != 0)
		return -1;
	if (*jget_str(job, "reason") != '\0' &&
	    (buf_append(b, ": ", 2) != 0 ||
	     put_text(b, jget_str(job, "reason"), NOTIFY_CHAT_MSG, c->flags) != 0))
		return -1;
	if ((json_array_size(json_object_get(job, "from")) > 0 || jget_int(job, "from_more") > 0 ||
	     jget_int(job, "from_unknown") > 0) &&
	    (buf_appendf(b, "%s%sFrom:%s ", c->br, c->bold, c->bold) != 0 ||
	     put_from(b, job, c->flags) != 0))
		return -1;
	return 0;
}

/* The targets (the first NOTIFY_TARGETS_CHAT named), the state and the
 * job's message. */
static int
chat_targets(const struct chat *c, const json_t *job)
{
	struct buf *b = c->b;
	const json_t *named = json_object_get(job, "target_hosts");
	long long n = jget_int(job, "targets"), units = jget_int(job, "units");
	size_t i;

	if (buf_appendf(b, "%s%sTargets:%s ", c->br, c->bold, c->bold) != 0)
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
	if (buf_appendf(b, "%s%sState:%s %s, stage %s", c->br, c->bold, c->bold,
	                jget_str(job, "state"), jget_str(job, "stage")) != 0)
		return -1;
	if (*jget_str(job, "message") != '\0' &&
	    (buf_appendf(b, "%s%sMessage:%s ", c->br, c->bold, c->bold) != 0 ||
	     put_text(b, jget_str(job, "message"), 2 * NOTIFY_CHAT_MSG, c->flags) != 0))
		return -1;
	return 0;
}

/* Hosts by outcome (only the states some host is in), then the commands:
 * before the failed hosts, as a long list is what gets cut. */
static int
chat_counts(const struct chat *c, const json_t *job)
{
	struct buf *b = c->b;
	json_t *counts = json_object_get(job, "counts"), *v;
	const json_t *cmds = json_object_get(job, "commands");
	const char *k;
	bool first = true;

	if (buf_appendf(b, "%s%sHosts:%s ", c->br, c->bold, c->bold) != 0)
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
	if (buf_appendf(b, "%s%sMore:%s `%s`", c->br, c->bold, c->bold,
	                jget_str(cmds, "results")) != 0)
		return -1;
	if (*jget_str(cmds, "undo") != '\0' && buf_appendf(b, "%s%sUndo:%s `%s`", c->br, c->bold,
	                                                   c->bold, jget_str(cmds, "undo")) != 0)
		return -1;
	return 0;
}

/* The failed hosts (the first NOTIFY_HOSTS_CHAT) and how many more; then,
 * for DingTalk, the coordinator and the time (Slack shows them as context). */
static int
chat_failed(const struct chat *c, const json_t *ev, const json_t *job)
{
	struct buf *b = c->b;
	const json_t *failed = json_object_get(job, "failed_hosts");
	size_t i, shown = 0;

	if (json_array_size(failed) > 0 &&
	    buf_appendf(b, "%s%sFailed:%s", c->br, c->bold, c->bold) != 0)
		return -1;
	for (i = 0; i < json_array_size(failed) && shown < NOTIFY_HOSTS_CHAT; i++, shown++) {
		const json_t *h = json_array_get(failed, i);
		if (buf_appendf(b, "\n%s%s %s", c->item, jget_str(h, "host"),
		                jget_str(h, "state")) != 0)
			return -1;
		if (*jget_str(h, "step") != '\0' &&
		    buf_appendf(b, " at %s", jget_str(h, "step")) != 0)
			return -1;
		if (*jget_str(h, "message") != '\0' &&
		    (buf_append(b, ": ", 2) != 0 ||
		     put_text(b, jget_str(h, "message"), NOTIFY_CHAT_MSG, c->flags) != 0))
			return -1;
	}
	long long more =
	    (long long)(json_array_size(failed) - shown) + jget_int(job, "failed_hosts_more");
	if (more > 0 && buf_appendf(b, "\n%sand %lld more", c->item, more) != 0)
		return -1;
	if (!c->slack && buf_appendf(b, "%scoordinator %s, %s", c->br, jget_str(ev, "coordinator"),
	                             jget_str(ev, "time")) != 0)
		return -1;
	return 0;
}

/* The message of a chat format: markdown (DingTalk) or mrkdwn (Slack), in
 * bounded pieces; text cut at NOTIFY_CHAT_TEXT. 0, or -1 when cut. */
static int
put_chat_text(struct buf *b, const json_t *ev, bool slack)
{
	const json_t *job = json_object_get(ev, "job");
	const struct chat c = {b,
	                       slack,
	                       slack ? "*" : "**",
	                       slack ? "\n" : "\n\n",
	                       slack ? "• " : "- ",
	                       TEXT_ONELINE | (slack ? TEXT_SLACK : 0)};

	if (chat_head(&c, ev, job) != 0 || chat_targets(&c, job) != 0 ||
	    chat_counts(&c, job) != 0 || chat_failed(&c, ev, job) != 0)
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
