/* The Docker client's transport (see docker.h, docker_int.h): the client
 * object, one libcurl handle kept from request to request, one HTTP request
 * over the engine's unix socket with a bounded body, argument escaping, and
 * errors that name the request, the HTTP status and Docker's own message. */
#include "agent/docker_int.h"

#include "common/clock.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static pthread_once_t docker_once = PTHREAD_ONCE_INIT;
static CURLcode docker_global_rc = CURLE_FAILED_INIT;

static void
docker_global_init(void)
{
	docker_global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct docker *
docker_new(const char *socket_path, uint64_t timeout_ms, char *err, size_t errlen)
{
	struct docker *d = NULL, *result = NULL;

	if (socket_path == NULL || socket_path[0] == '\0') {
		err_set(err, errlen, "docker", "no engine socket path given");
		goto out;
	}
	if (strlen(socket_path) >= sizeof(d->sock)) {
		err_set(err, errlen, "docker", "socket path longer than %zu bytes: %.80s...",
		        sizeof(d->sock) - 1, socket_path);
		goto out;
	}
	pthread_once(&docker_once, docker_global_init);
	if (docker_global_rc != CURLE_OK) {
		err_set(err, errlen, "docker", "curl_global_init: %s",
		        curl_easy_strerror(docker_global_rc));
		goto out;
	}
	d = calloc(1, sizeof(*d));
	if (d == NULL) {
		err_set(err, errlen, "docker", "out of memory");
		goto out;
	}
	snprintf(d->sock, sizeof(d->sock), "%s", socket_path);
	d->timeout_ms = timeout_ms != 0 ? timeout_ms : DOCKER_TIMEOUT_DEFAULT_MS;
	d->curl = curl_easy_init();
	/* curl adds "Expect: 100-continue" to larger POSTs, a round trip (or
	 * a second's wait) for nothing on a local socket; an empty Expect
	 * header turns that off. */
	d->hdr_none = curl_slist_append(NULL, "Expect:");
	d->hdr_json = curl_slist_append(NULL, "Expect:");
	if (d->hdr_json != NULL &&
	    curl_slist_append(d->hdr_json, "Content-Type: application/json") == NULL) {
		curl_slist_free_all(d->hdr_json);
		d->hdr_json = NULL;
	}
	if (d->curl == NULL || d->hdr_json == NULL || d->hdr_none == NULL) {
		err_set(err, errlen, "docker", "cannot set up libcurl (out of memory)");
		goto out;
	}
	result = d;
	d = NULL;
out:
	docker_free(d);
	return result;
}

void
docker_free(struct docker *d)
{
	if (d == NULL)
		return;
	if (d->curl != NULL)
		curl_easy_cleanup(d->curl);
	curl_slist_free_all(d->hdr_json);
	curl_slist_free_all(d->hdr_none);
	free(d);
}

/* libcurl's write callback: a 2xx streamed body to s->logs, anything else
 * to s->body, bounded by its maximum (returning short stops the transfer). */
static size_t
docker_write(char *p, size_t size, size_t nmemb, void *arg)
{
	struct docker_sink *s = arg;
	size_t n = size * nmemb;
	long status = 0;

	if (s->logs != NULL) {
		curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &status);
		if (status >= 200 && status < 300) {
			if (docker_stream_push(s->logs, (const uint8_t *)p, n) != 0) {
				s->logs->bad = 1;
				return 0;
			}
			return n;
		}
	}
	if (n > s->body.max - s->body.len) {
		s->toobig = 1;
		return 0;
	}
	if (buf_append(&s->body, p, n) != 0) {
		s->oom = 1;
		return 0;
	}
	return n;
}

/* After a failed connect: why the socket could not be reached, if we can
 * tell (curl only says "Couldn't connect to server"). */
static const char *
docker_sock_why(const char *path, char *buf, size_t buflen)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return strerror_r(errno, buf, buflen);
	if (!S_ISSOCK(st.st_mode))
		return "not a socket";
	return "nobody listens there";
}
/* See docker_int.h. Reuses the client's handle (and its connection). */
int
docker_call(struct docker *d, const char *method, const char *path, const char *query, json_t *body,
            uint64_t extra_ms, struct docker_sink *s, char *err, size_t errlen)
{
	char url[DOCKER_PATH_MAX + 64], why[128];
	char *json = NULL;
	uint64_t timeout = d->timeout_ms + extra_ms;
	CURLcode rc;
	int n, result = -1;

	s->curl = d->curl;
	s->status = 0;
	s->toobig = 0;
	s->oom = 0;
	buf_init(&s->body, DOCKER_BODY_MAX);
	n = snprintf(url, sizeof(url), "http://localhost/" DOCKER_API "%s%s%s", path,
	             query != NULL ? "?" : "", query != NULL ? query : "");
	if (n < 0 || (size_t)n >= sizeof(url)) {
		err_set(err, errlen, "docker", "%s %s: request path too long", method, path);
		goto out;
	}
	if (body != NULL) {
		json = json_dumps(body, JSON_COMPACT);
		if (json == NULL) {
			err_set(err, errlen, "docker", "%s %s: cannot encode the request body",
			        method, path);
			goto out;
		}
	}
	if (timeout > (uint64_t)LONG_MAX)
		timeout = (uint64_t)LONG_MAX;

	/* A reset handle keeps its connection, so the socket is reused. */
	curl_easy_reset(d->curl);
	d->curl_err[0] = '\0';
	/* Without unix socket support curl would go to localhost:80 instead. */
	if (curl_easy_setopt(d->curl, CURLOPT_UNIX_SOCKET_PATH, d->sock) != CURLE_OK) {
		err_set(err, errlen, "docker", "%s %s: this libcurl cannot use unix sockets",
		        method, path);
		goto out;
	}
	/* An http_proxy in our environment is not for the engine's socket. */
	curl_easy_setopt(d->curl, CURLOPT_PROXY, "");
	curl_easy_setopt(d->curl, CURLOPT_URL, url);
	curl_easy_setopt(d->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(d->curl, CURLOPT_TIMEOUT_MS, (long)timeout);
	curl_easy_setopt(d->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout);
	curl_easy_setopt(d->curl, CURLOPT_ERRORBUFFER, d->curl_err);
	curl_easy_setopt(d->curl, CURLOPT_WRITEFUNCTION, docker_write);
	curl_easy_setopt(d->curl, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(d->curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(d->curl, CURLOPT_HTTPHEADER, json != NULL ? d->hdr_json : d->hdr_none);
	if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(d->curl, CURLOPT_POST, 1L);
		curl_easy_setopt(d->curl, CURLOPT_POSTFIELDS, json != NULL ? json : "");
		curl_easy_setopt(d->curl, CURLOPT_POSTFIELDSIZE,
		                 json != NULL ? (long)strlen(json) : 0L);
	} else if (strcmp(method, "GET") != 0) {
		curl_easy_setopt(d->curl, CURLOPT_CUSTOMREQUEST, method);
	}

	uint64_t t0 = clock_mono_ms();
	rc = curl_easy_perform(d->curl);
	d->waited_ms += clock_mono_ms() - t0;
	curl_easy_getinfo(d->curl, CURLINFO_RESPONSE_CODE, &s->status);
	if (rc == CURLE_OK) {
		result = 0;
	} else if (s->toobig) {
		err_set(err, errlen, "docker", "%s %s: %ld: response body larger than %u bytes",
		        method, path, s->status, DOCKER_BODY_MAX);
	} else if (s->oom) {
		err_set(err, errlen, "docker", "%s %s: out of memory reading the response", method,
		        path);
	} else if (s->logs != NULL && s->logs->bad) {
		err_set(err, errlen, "docker",
		        "%s %s: %ld: malformed log stream (bad frame header)", method, path,
		        s->status);
	} else if (rc == CURLE_COULDNT_CONNECT) {
		/* curl's own text names "localhost port 80": not helpful here. */
		err_set(err, errlen, "docker", "%s %s: cannot connect to the engine at %s: %s (%s)",
		        method, path, d->sock, docker_sock_why(d->sock, why, sizeof(why)),
		        curl_easy_strerror(rc));
	} else {
		err_set(err, errlen, "docker", "%s %s: engine at %s: %s%s%s", method, path, d->sock,
		        curl_easy_strerror(rc), d->curl_err[0] != '\0' ? ": " : "", d->curl_err);
	}
out:
	free(json);
	if (result != 0)
		buf_free(&s->body);
	return result;
}

/* Copies at most outlen-1 bytes of s, control characters replaced, so that
 * an engine's message cannot forge log lines. */
static void
docker_clean(const char *s, size_t n, char *out, size_t outlen)
{
	size_t i, j = 0;

	for (i = 0; i < n && j + 1 < outlen; i++) {
		unsigned char c = (unsigned char)s[i];

		out[j++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
	}
	while (j > 0 && out[j - 1] == ' ')
		j--;
	out[j] = '\0';
}

/* The error for a response with an unexpected status: Docker's "message",
 * else the start of the body. */
void
docker_status_fail(const char *method, const char *path, const struct docker_sink *s, char *err,
                   size_t errlen)
{
	char msg[DOCKER_MSG_MAX];
	const char *m = NULL;
	json_t *j = NULL;

	msg[0] = '\0';
	if (s->body.len > 0) {
		j = json_loadb((const char *)s->body.data, s->body.len, 0, NULL);
		m = json_string_value(json_object_get(j, "message"));
		if (m != NULL)
			docker_clean(m, strlen(m), msg, sizeof(msg));
		else
			docker_clean((const char *)s->body.data, s->body.len, msg, sizeof(msg));
	}
	err_set(err, errlen, "docker", "%s %s: %ld %s", method, path, s->status,
	        msg[0] != '\0' ? msg : "(no message)");
	json_decref(j);
}

/* Parses a 2xx body as JSON. NULL with a message when it is not. */
json_t *
docker_json(const char *method, const char *path, const struct docker_sink *s, char *err,
            size_t errlen)
{
	json_error_t jerr;
	json_t *j;

	j = json_loadb(s->body.len > 0 ? (const char *)s->body.data : "", s->body.len, 0, &jerr);
	if (j == NULL)
		err_set(err, errlen, "docker", "%s %s: %ld: invalid JSON in the response: %s",
		        method, path, s->status, jerr.text);
	return j;
}

/* Is there a "." or ".." segment between slashes in s? */
static int
docker_dot_segment(const char *s)
{
	const char *seg = s, *end;
	size_t n;

	for (;;) {
		end = strchr(seg, '/');
		n = end != NULL ? (size_t)(end - seg) : strlen(seg);
		if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
			return 1;
		if (end == NULL)
			return 0;
		seg = end + 1;
	}
}

/* Escapes one id, name or image reference for a path or query. The engine
 * decodes and cleans the path before routing ("/containers/..%2Fx" is
 * "/x"), so escaping alone does not keep an argument in its place: '/' is
 * refused where Docker allows none (containers), "." and ".." segments
 * everywhere. */
int
docker_escape(struct docker *d, const char *what, const char *in, int slash_ok, char *out,
              size_t outlen, char *err, size_t errlen)
{
	size_t i, len;
	char *e;
	int n;

	if (in == NULL || in[0] == '\0') {
		err_set(err, errlen, "docker", "no %s given", what);
		return -1;
	}
	len = strlen(in);
	if (len > DOCKER_ARG_MAX) {
		err_set(err, errlen, "docker", "%s too long (%zu bytes, at most %d)", what, len,
		        DOCKER_ARG_MAX);
		return -1;
	}
	for (i = 0; i < len; i++) {
		if ((unsigned char)in[i] < 0x20 || in[i] == 0x7f) {
			err_set(err, errlen, "docker", "invalid %s: control character at byte %zu",
			        what, i);
			return -1;
		}
	}
	if ((!slash_ok && strchr(in, '/') != NULL) || docker_dot_segment(in)) {
		err_set(err, errlen, "docker", "invalid %s '%s'", what, in);
		return -1;
	}
	e = curl_easy_escape(d->curl, in, (int)len);
	if (e == NULL) {
		err_set(err, errlen, "docker", "cannot escape %s (out of memory)", what);
		return -1;
	}
	n = snprintf(out, outlen, "%s", e);
	curl_free(e);
	if (n < 0 || (size_t)n >= outlen) {
		err_set(err, errlen, "docker", "%s too long once escaped", what);
		return -1;
	}
	return 0;
}

/* See docker_int.h. */
int
docker_query(struct docker *d, const char *key, const char *value, char *out, size_t outlen)
{
	char *esc = curl_easy_escape(d->curl, value, 0);
	int n = esc != NULL ? snprintf(out, outlen, "%s=%s", key, esc) : -1;

	curl_free(esc);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* Builds "/<prefix>/<escaped arg><suffix>". */
int
docker_path(struct docker *d, char *out, size_t outlen, const char *prefix, const char *what,
            const char *arg, const char *suffix, char *err, size_t errlen)
{
	char esc[DOCKER_PATH_MAX];
	int n;

	/* Image references hold '/' (the router takes the rest of the path). */
	if (docker_escape(d, what, arg, strcmp(prefix, "/images/") == 0, esc, sizeof(esc), err,
	                  errlen) != 0)
		return -1;
	n = snprintf(out, outlen, "%s%s%s", prefix, esc, suffix);
	if (n < 0 || (size_t)n >= outlen) {
		err_set(err, errlen, "docker", "%s too long", what);
		return -1;
	}
	return 0;
}

/* Runs a request with a body-less answer expected: 0 for a status in ok1 or
 * ok2, -1 otherwise. */
int
docker_simple(struct docker *d, const char *method, const char *path, const char *query,
              uint64_t extra_ms, long ok1, long ok2, char *err, size_t errlen)
{
	struct docker_sink s;
	int result = -1;

	memset(&s, 0, sizeof(s));
	if (docker_call(d, method, path, query, NULL, extra_ms, &s, err, errlen) != 0)
		return -1;
	if (s.status == ok1 || s.status == ok2)
		result = 0;
	else
		docker_status_fail(method, path, &s, err, errlen);
	buf_free(&s.body);
	return result;
}

int
docker_ping(struct docker *d, char *err, size_t errlen)
{
	return docker_simple(d, "GET", "/_ping", NULL, 0, 200, 200, err, errlen);
}

/*
 * GETs path and parses the JSON answer into *out. Returns 0, 1 when the
 * engine says 404 (err holds its message), -1 on error.
 */
int
docker_get_json(struct docker *d, const char *path, const char *query, json_t **out, char *err,
                size_t errlen)
{
	struct docker_sink s;
	int result = -1;

	*out = NULL;
	memset(&s, 0, sizeof(s));
	if (docker_call(d, "GET", path, query, NULL, 0, &s, err, errlen) != 0)
		return -1;
	if (s.status == 200) {
		*out = docker_json("GET", path, &s, err, errlen);
		result = *out != NULL ? 0 : -1;
	} else {
		docker_status_fail("GET", path, &s, err, errlen);
		result = s.status == 404 ? 1 : -1;
	}
	buf_free(&s.body);
	return result;
}

uint64_t
docker_waited_ms(const struct docker *d)
{
	return d != NULL ? d->waited_ms : 0;
}
