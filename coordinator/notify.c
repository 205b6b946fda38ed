/* Notifications of job start, halt and finish to the [webhook.NAME]s of the
 * configuration (coordinator/README.md, "Notifications"). Bodies are rendered
 * on the event loop's thread and queued; one delivery thread does the HTTP
 * (libcurl), with bounded retries and backoff, so that a slow or dead
 * receiver never holds the loop. The bodies, the signature and what an
 * answer means are notify-format.c's. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <sodium.h>

#include "common/clock.h"
#include "common/log.h"
#include "coordinator/coord.h"

#define NOTIFY_QUEUE_MAX   256   /* deliveries waiting, every webhook together */
#define NOTIFY_ANSWER_MAX  4096  /* bytes of a receiver's answer kept */
#define NOTIFY_ANSWER_READ 65536 /* ... and read: a longer answer is cut there */
#define NOTIFY_WHY_MAX     320
#define WEBHOOK_URL_MAX    2048 /* conf.c's bound */

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
			        w->name, notify_event_name((enum coord_event)e), j->id);
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
