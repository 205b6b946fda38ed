/* ODC's health over HTTP, never from the container state: the container's
 * main process is supervisord, so "Up" says nothing about ODC inside.
 * isHealthy must say data: true and /api/v1/info must name the version. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "common/clock.h"
#include "agent/agent.h"
#include "common/version.h"
#include "common/buf.h"

#define HEALTH_BODY_MAX 65536

static size_t
on_body(char *p, size_t size, size_t nmemb, void *ud)
{
	struct buf *b = ud;

	/* Returning less than given makes curl fail the transfer: the bound. */
	return buf_append(b, p, size * nmemb) == 0 ? size * nmemb : 0;
}

/* GET base+path into b; the HTTP status, or -1 when nothing answered. */
static long
http_get(const char *base, const char *path, uint64_t timeout_ms, struct buf *b, char *why,
         size_t whylen)
{
	char url[1024];
	long status = -1;
	CURL *h = curl_easy_init();
	CURLcode rc;

	if (h == NULL) {
		snprintf(why, whylen, "curl: cannot initialise");
		return -1;
	}
	snprintf(url, sizeof(url), "%s%s", base, path);
	buf_reset(b);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	rc = curl_easy_perform(h);
	if (rc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	else
		snprintf(why, whylen, "GET %.160s: %s", url, curl_easy_strerror(rc));
	curl_easy_cleanup(h);
	return status;
}

void
health_probe(const char *base_url, uint64_t timeout_ms, struct health_state *st)
{
	struct buf b;
	json_t *j = NULL;
	json_error_t je;
	long status;

	memset(st, 0, sizeof(*st));
	buf_init(&b, HEALTH_BODY_MAX);
	status = http_get(base_url, "/api/v1/heartbeat/isHealthy", timeout_ms, &b, st->detail,
	                  sizeof(st->detail));
	if (status < 0)
		goto out;
	st->reachable = true;
	if (status != 200) {
		snprintf(st->detail, sizeof(st->detail), "isHealthy answered HTTP %ld", status);
		goto out;
	}
	j = json_loadb((const char *)b.data, b.len, 0, &je);
	if (!json_is_true(json_object_get(j, "data"))) {
		snprintf(st->detail, sizeof(st->detail), "isHealthy did not say data: true");
		goto out;
	}
	json_decref(j);
	j = NULL;
	status = http_get(base_url, "/api/v1/info", timeout_ms, &b, st->detail, sizeof(st->detail));
	if (status != 200) {
		if (status > 0)
			snprintf(st->detail, sizeof(st->detail), "info answered HTTP %ld", status);
		goto out;
	}
	j = json_loadb((const char *)b.data, b.len, 0, &je);
	const char *v = json_string_value(json_object_get(json_object_get(j, "data"), "version"));
	if (v == NULL || strlen(v) >= sizeof(st->version)) {
		snprintf(st->detail, sizeof(st->detail), "info has no usable data.version");
		goto out;
	}
	memcpy(st->version, v, strlen(v) + 1);
	st->healthy = true;
out:
	json_decref(j);
	buf_free(&b);
}

int
health_wait(const char *base_url, const char *want_version, uint64_t deadline_ms,
            uint64_t interval_ms, struct health_state *st,
            void (*progress)(void *ctx, const struct health_state *st), void *ctx)
{
	uint64_t end = clock_mono_ms() + deadline_ms;

	for (;;) {
		uint64_t now = clock_mono_ms();
		uint64_t left = end > now ? end - now : 0;
		health_probe(base_url, left < 5000 ? (left ? left : 1) : 5000, st);
		if (st->healthy && want_version != NULL && *want_version != '\0' &&
		    !version_belongs_to(st->version, want_version)) {
			st->healthy = false;
			snprintf(st->detail, sizeof(st->detail),
			         "ODC answers as version %s, not %s", st->version, want_version);
		}
		if (progress != NULL)
			progress(ctx, st);
		if (st->healthy)
			return 0;
		now = clock_mono_ms();
		if (now >= end)
			return 1;
		uint64_t nap = interval_ms < end - now ? interval_ms : end - now;
		struct timespec ts = {(time_t)(nap / 1000), (long)(nap % 1000) * 1000000L};
		nanosleep(&ts, NULL);
	}
}
