/* Docker Engine API client over the engine's unix socket (see docker.h):
 * libcurl for HTTP, jansson for JSON, bounded bodies, and errors that name
 * the request, the HTTP status and Docker's own message. */
#include "common/clock.h"
#include "agent/docker.h"

#include "common/buf.h"

#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

/* A request path with its query, escaped. */
#define DOCKER_PATH_MAX (4 * DOCKER_ARG_MAX)
/* How much of Docker's message goes into an error. */
#define DOCKER_MSG_MAX 400
/* The multiplexed log stream's frame header: stream, 0, 0, 0, size (BE32). */
#define DOCKER_FRAME_HDR 8

struct docker {
	CURL *curl;
	struct curl_slist *hdr_json; /* a JSON body follows */
	struct curl_slist *hdr_none; /* no body */
	uint64_t timeout_ms;
	uint64_t waited_ms; /* time spent inside requests, for the overhead figures */
	char sock[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char curl_err[CURL_ERROR_SIZE];
};

/* Demultiplexes Docker's log stream into a ring of the newest bytes; or,
 * with tar set, keeps the newest bytes of the first regular file of a tar
 * stream (the archive API's answer). */
struct docker_logs {
	int raw; /* a TTY: no frames */
	struct tail t;
	uint8_t hdr[DOCKER_FRAME_HDR];
	size_t hdr_len;
	uint32_t left; /* payload bytes still due in the current frame */
	int bad;
	/* tar */
	int tar;
	uint8_t block[512];
	size_t block_len;
	uint64_t content_left, skip; /* the file's bytes still due; bytes to pass over */
	int in_content, tar_done, found;
};

/* Where one response goes. */
struct docker_sink {
	CURL *curl;
	struct buf body;
	int toobig;
	int oom;
	struct docker_logs *logs; /* a 2xx body goes here instead, when set */
	long status;
};

static pthread_once_t docker_once = PTHREAD_ONCE_INIT;
static CURLcode docker_global_rc = CURLE_FAILED_INIT;

static void
docker_global_init(void)
{
	docker_global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void docker_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
docker_fail(char *err, size_t errlen, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(err, errlen, "docker: %s", msg);
}

struct docker *
docker_new(const char *socket_path, uint64_t timeout_ms, char *err, size_t errlen)
{
	struct docker *d = NULL, *result = NULL;

	if (socket_path == NULL || socket_path[0] == '\0') {
		docker_fail(err, errlen, "no engine socket path given");
		goto out;
	}
	if (strlen(socket_path) >= sizeof(d->sock)) {
		docker_fail(err, errlen, "socket path longer than %zu bytes: %.80s...",
		            sizeof(d->sock) - 1, socket_path);
		goto out;
	}
	pthread_once(&docker_once, docker_global_init);
	if (docker_global_rc != CURLE_OK) {
		docker_fail(err, errlen, "curl_global_init: %s",
		            curl_easy_strerror(docker_global_rc));
		goto out;
	}
	d = calloc(1, sizeof(*d));
	if (d == NULL) {
		docker_fail(err, errlen, "out of memory");
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
		docker_fail(err, errlen, "cannot set up libcurl (out of memory)");
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

/* A tar header's size field: octal digits (space or NUL ended), or GNU's
 * base-256 for large files. */
static uint64_t
docker_tar_size(const uint8_t *f)
{
	uint64_t v = 0;

	if (f[0] & 0x80) {
		for (int i = 1; i < 12; i++)
			v = v << 8 | f[i];
		return v;
	}
	for (int i = 0; i < 12 && f[i] >= '0' && f[i] <= '7'; i++)
		v = v * 8 + (uint64_t)(f[i] - '0');
	return v;
}

/* Feeds n bytes of a tar stream: headers read block by block, pax and other
 * non-file entries passed over, the first regular file's bytes to the tail,
 * the rest ignored. */
static void
docker_tar_push(struct docker_logs *l, const uint8_t *p, size_t n)
{
	while (n > 0 && !l->tar_done) {
		size_t k;
		if (l->in_content) {
			k = l->content_left < n ? (size_t)l->content_left : n;
			tail_push(&l->t, p, k);
			l->content_left -= k;
			if (l->content_left == 0)
				l->tar_done = 1;
		} else if (l->skip > 0) {
			k = l->skip < n ? (size_t)l->skip : n;
			l->skip -= k;
		} else {
			k = sizeof(l->block) - l->block_len < n ? sizeof(l->block) - l->block_len
			                                        : n;
			memcpy(l->block + l->block_len, p, k);
			l->block_len += k;
			if (l->block_len == sizeof(l->block)) {
				uint64_t size = docker_tar_size(l->block + 124);
				char type = (char)l->block[156];
				l->block_len = 0;
				if (l->block[0] == '\0') {
					l->tar_done = 1; /* the end-of-archive blocks */
				} else if (type == '0' || type == '\0') {
					l->found = 1;
					l->in_content = size > 0;
					l->content_left = size;
					l->tar_done = size == 0;
				} else {
					l->skip = (size + 511) / 512 * 512;
				}
			}
		}
		p += k;
		n -= k;
	}
}

/* Feeds n bytes of a log stream into l. -1 on a malformed frame header. */
static int
docker_logs_push(struct docker_logs *l, const uint8_t *p, size_t n)
{
	size_t k;

	if (l->tar) {
		docker_tar_push(l, p, n);
		return 0;
	}
	if (l->raw) {
		tail_push(&l->t, p, n);
		return 0;
	}
	while (n > 0) {
		if (l->left == 0) {
			k = DOCKER_FRAME_HDR - l->hdr_len;
			if (k > n)
				k = n;
			memcpy(l->hdr + l->hdr_len, p, k);
			l->hdr_len += k;
			p += k;
			n -= k;
			if (l->hdr_len < DOCKER_FRAME_HDR)
				break;
			/* stdin, stdout or stderr, then three zero bytes. */
			if (l->hdr[0] > 2 || l->hdr[1] != 0 || l->hdr[2] != 0 || l->hdr[3] != 0)
				return -1;
			l->left = (uint32_t)l->hdr[4] << 24 | (uint32_t)l->hdr[5] << 16 |
			          (uint32_t)l->hdr[6] << 8 | (uint32_t)l->hdr[7];
			l->hdr_len = 0;
			continue;
		}
		k = l->left < n ? l->left : n;
		tail_push(&l->t, p, k);
		p += k;
		n -= k;
		l->left -= (uint32_t)k;
	}
	return 0;
}

static size_t
docker_write(char *p, size_t size, size_t nmemb, void *arg)
{
	struct docker_sink *s = arg;
	size_t n = size * nmemb;
	long status = 0;

	if (s->logs != NULL) {
		curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &status);
		if (status >= 200 && status < 300) {
			if (docker_logs_push(s->logs, (const uint8_t *)p, n) != 0) {
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

/*
 * One HTTP request to the engine. path starts with '/' and is already
 * escaped; query (without '?') may be NULL; body, when not NULL, is sent as
 * JSON. Returns 0 with the status and body in *s (the caller frees s->body),
 * whatever the status; -1 with a message when no complete response came.
 */
static int
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
		docker_fail(err, errlen, "%s %s: request path too long", method, path);
		goto out;
	}
	if (body != NULL) {
		json = json_dumps(body, JSON_COMPACT);
		if (json == NULL) {
			docker_fail(err, errlen, "%s %s: cannot encode the request body", method,
			            path);
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
		docker_fail(err, errlen, "%s %s: this libcurl cannot use unix sockets", method,
		            path);
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
		docker_fail(err, errlen, "%s %s: %ld: response body larger than %u bytes", method,
		            path, s->status, DOCKER_BODY_MAX);
	} else if (s->oom) {
		docker_fail(err, errlen, "%s %s: out of memory reading the response", method, path);
	} else if (s->logs != NULL && s->logs->bad) {
		docker_fail(err, errlen, "%s %s: %ld: malformed log stream (bad frame header)",
		            method, path, s->status);
	} else if (rc == CURLE_COULDNT_CONNECT) {
		/* curl's own text names "localhost port 80": not helpful here. */
		docker_fail(err, errlen, "%s %s: cannot connect to the engine at %s: %s (%s)",
		            method, path, d->sock, docker_sock_why(d->sock, why, sizeof(why)),
		            curl_easy_strerror(rc));
	} else {
		docker_fail(err, errlen, "%s %s: engine at %s: %s%s%s", method, path, d->sock,
		            curl_easy_strerror(rc), d->curl_err[0] != '\0' ? ": " : "",
		            d->curl_err);
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
static void
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
	docker_fail(err, errlen, "%s %s: %ld %s", method, path, s->status,
	            msg[0] != '\0' ? msg : "(no message)");
	json_decref(j);
}

/* Parses a 2xx body as JSON. NULL with a message when it is not. */
static json_t *
docker_json(const char *method, const char *path, const struct docker_sink *s, char *err,
            size_t errlen)
{
	json_error_t jerr;
	json_t *j;

	j = json_loadb(s->body.len > 0 ? (const char *)s->body.data : "", s->body.len, 0, &jerr);
	if (j == NULL)
		docker_fail(err, errlen, "%s %s: %ld: invalid JSON in the response: %s", method,
		            path, s->status, jerr.text);
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
static int
docker_escape(struct docker *d, const char *what, const char *in, int slash_ok, char *out,
              size_t outlen, char *err, size_t errlen)
{
	size_t i, len;
	char *e;
	int n;

	if (in == NULL || in[0] == '\0') {
		docker_fail(err, errlen, "no %s given", what);
		return -1;
	}
	len = strlen(in);
	if (len > DOCKER_ARG_MAX) {
		docker_fail(err, errlen, "%s too long (%zu bytes, at most %d)", what, len,
		            DOCKER_ARG_MAX);
		return -1;
	}
	for (i = 0; i < len; i++) {
		if ((unsigned char)in[i] < 0x20 || in[i] == 0x7f) {
			docker_fail(err, errlen, "invalid %s: control character at byte %zu", what,
			            i);
			return -1;
		}
	}
	if ((!slash_ok && strchr(in, '/') != NULL) || docker_dot_segment(in)) {
		docker_fail(err, errlen, "invalid %s '%s'", what, in);
		return -1;
	}
	e = curl_easy_escape(d->curl, in, (int)len);
	if (e == NULL) {
		docker_fail(err, errlen, "cannot escape %s (out of memory)", what);
		return -1;
	}
	n = snprintf(out, outlen, "%s", e);
	curl_free(e);
	if (n < 0 || (size_t)n >= outlen) {
		docker_fail(err, errlen, "%s too long once escaped", what);
		return -1;
	}
	return 0;
}

/* Builds "/<prefix>/<escaped arg><suffix>". */
static int
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
		docker_fail(err, errlen, "%s too long", what);
		return -1;
	}
	return 0;
}

/* Runs a request with a body-less answer expected: 0 for a status in ok1 or
 * ok2, -1 otherwise. */
static int
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
static int
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

/* Copies the string obj[key] into dst. A missing or null value gives "" (or
 * an error when required); a value too long for dst is an error. */
static int
docker_field(json_t *obj, const char *key, const char *name, int required, char *dst, size_t dstlen,
             const char *path, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);
	size_t len;

	dst[0] = '\0';
	if (v == NULL || json_is_null(v)) {
		if (!required)
			return 0;
		docker_fail(err, errlen, "GET %s: no %s in the answer", path, name);
		return -1;
	}
	if (!json_is_string(v)) {
		docker_fail(err, errlen, "GET %s: %s is not a string", path, name);
		return -1;
	}
	len = json_string_length(v);
	if (len >= dstlen || strlen(json_string_value(v)) != len) {
		docker_fail(err, errlen, "GET %s: %s too long (%zu bytes, at most %zu)", path, name,
		            len, dstlen - 1);
		return -1;
	}
	memcpy(dst, json_string_value(v), len + 1);
	return 0;
}

/* Fills c from a container's inspect JSON. */
static int
docker_container_parse(json_t *j, const char *path, struct docker_container *c, char *err,
                       size_t errlen)
{
	json_t *state = json_object_get(j, "State");
	json_t *config = json_object_get(j, "Config");
	json_t *code;
	const char *name;
	size_t len;

	memset(c, 0, sizeof(*c));
	if (!json_is_object(state)) {
		docker_fail(err, errlen, "GET %s: no State in the answer", path);
		return -1;
	}
	if (docker_field(j, "Id", "Id", 1, c->id, sizeof(c->id), path, err, errlen) != 0 ||
	    docker_field(config, "Image", "Config.Image", 0, c->image, sizeof(c->image), path, err,
	                 errlen) != 0 ||
	    docker_field(j, "Image", "Image", 0, c->image_id, sizeof(c->image_id), path, err,
	                 errlen) != 0 ||
	    docker_field(state, "Status", "State.Status", 1, c->state, sizeof(c->state), path, err,
	                 errlen) != 0 ||
	    docker_field(state, "StartedAt", "State.StartedAt", 0, c->started_at,
	                 sizeof(c->started_at), path, err, errlen) != 0)
		return -1;
	/* Docker keeps names as "/name"; the field holds it without the '/'. */
	name = json_string_value(json_object_get(j, "Name"));
	if (name == NULL) {
		docker_fail(err, errlen, "GET %s: no Name in the answer", path);
		return -1;
	}
	if (name[0] == '/')
		name++;
	len = strlen(name);
	if (len >= sizeof(c->name)) {
		docker_fail(err, errlen, "GET %s: Name too long (%zu bytes, at most %zu)", path,
		            len, sizeof(c->name) - 1);
		return -1;
	}
	memcpy(c->name, name, len + 1);
	code = json_object_get(state, "ExitCode");
	if (json_is_integer(code)) {
		if (json_integer_value(code) < -2147483647 - 1 ||
		    json_integer_value(code) > 2147483647) {
			docker_fail(err, errlen, "GET %s: State.ExitCode out of range", path);
			return -1;
		}
		c->exit_code = (int)json_integer_value(code);
	}
	return 0;
}

int
docker_container_inspect(struct docker *d, const char *id_or_name, struct docker_container *out,
                         json_t **raw, char *err, size_t errlen)
{
	char path[DOCKER_PATH_MAX];
	struct docker_container c;
	json_t *j = NULL;
	int r;

	if (raw != NULL)
		*raw = NULL;
	if (docker_path(d, path, sizeof(path), "/containers/", "container", id_or_name, "/json",
	                err, errlen) != 0)
		return -1;
	r = docker_get_json(d, path, NULL, &j, err, errlen);
	if (r != 0)
		return r;
	if (docker_container_parse(j, path, &c, err, errlen) != 0) {
		json_decref(j);
		return -1;
	}
	if (out != NULL)
		*out = c;
	if (raw != NULL)
		*raw = j;
	else
		json_decref(j);
	return 0;
}

int
docker_container_list(struct docker *d, json_t **out, char *err, size_t errlen)
{
	json_t *j = NULL;

	*out = NULL;
	if (docker_get_json(d, "/containers/json", "all=1", &j, err, errlen) != 0)
		return -1;
	if (!json_is_array(j)) {
		docker_fail(err, errlen, "GET /containers/json: the answer is not an array");
		json_decref(j);
		return -1;
	}
	*out = j;
	return 0;
}

int
docker_image_inspect(struct docker *d, const char *ref, json_t **raw, char *err, size_t errlen)
{
	char path[DOCKER_PATH_MAX];
	json_t *j = NULL;
	int r;

	if (raw != NULL)
		*raw = NULL;
	if (docker_path(d, path, sizeof(path), "/images/", "image", ref, "/json", err, errlen) != 0)
		return -1;
	r = docker_get_json(d, path, NULL, &j, err, errlen);
	if (r != 0)
		return r;
	if (!json_is_object(j)) {
		docker_fail(err, errlen, "GET %s: the answer is not an object", path);
		json_decref(j);
		return -1;
	}
	if (raw != NULL)
		*raw = j;
	else
		json_decref(j);
	return 0;
}

int
docker_container_stop(struct docker *d, const char *id, unsigned timeout_s, char *err,
                      size_t errlen)
{
	char path[DOCKER_PATH_MAX], query[32];

	if (docker_path(d, path, sizeof(path), "/containers/", "container", id, "/stop", err,
	                errlen) != 0)
		return -1;
	snprintf(query, sizeof(query), "t=%u", timeout_s);
	/* The engine waits up to timeout_s for the container before it kills
	 * it, and only then answers. */
	return docker_simple(d, "POST", path, query, (uint64_t)timeout_s * 1000u, 204, 304, err,
	                     errlen);
}

int
docker_container_start(struct docker *d, const char *id, char *err, size_t errlen)
{
	char path[DOCKER_PATH_MAX];

	if (docker_path(d, path, sizeof(path), "/containers/", "container", id, "/start", err,
	                errlen) != 0)
		return -1;
	return docker_simple(d, "POST", path, NULL, 0, 204, 304, err, errlen);
}

int
docker_container_rename(struct docker *d, const char *id, const char *new_name, char *err,
                        size_t errlen)
{
	char path[DOCKER_PATH_MAX], esc[DOCKER_PATH_MAX], query[DOCKER_PATH_MAX + 8];

	if (docker_path(d, path, sizeof(path), "/containers/", "container", id, "/rename", err,
	                errlen) != 0 ||
	    docker_escape(d, "new name", new_name, 0, esc, sizeof(esc), err, errlen) != 0)
		return -1;
	snprintf(query, sizeof(query), "name=%s", esc);
	return docker_simple(d, "POST", path, query, 0, 204, 204, err, errlen);
}

int
docker_container_remove(struct docker *d, const char *id, char *err, size_t errlen)
{
	char path[DOCKER_PATH_MAX];
	struct docker_sink s;
	int result = -1;

	if (docker_path(d, path, sizeof(path), "/containers/", "container", id, "", err, errlen) !=
	    0)
		return -1;
	memset(&s, 0, sizeof(s));
	if (docker_call(d, "DELETE", path, NULL, NULL, 0, &s, err, errlen) != 0)
		return -1;
	if (s.status == 204) {
		result = 0;
	} else {
		docker_status_fail("DELETE", path, &s, err, errlen);
		result = s.status == 404 ? 1 : -1;
	}
	buf_free(&s.body);
	return result;
}

/* Is s 1 to 64 lowercase hex digits? */
static int
docker_is_id(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		if (i >= 64 || !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	}
	return i > 0;
}

int
docker_container_create(struct docker *d, const char *name, json_t *body, char id_out[65],
                        char *err, size_t errlen)
{
	const char *path = "/containers/create";
	char esc[DOCKER_PATH_MAX], query[DOCKER_PATH_MAX + 8];
	struct docker_sink s;
	json_t *j = NULL;
	const char *id;
	int result = -1;

	id_out[0] = '\0';
	memset(&s, 0, sizeof(s));
	if (!json_is_object(body)) {
		docker_fail(err, errlen, "POST %s: the create body is not a JSON object", path);
		return -1;
	}
	if (name != NULL) {
		if (docker_escape(d, "container name", name, 0, esc, sizeof(esc), err, errlen) != 0)
			return -1;
		snprintf(query, sizeof(query), "name=%s", esc);
	}
	if (docker_call(d, "POST", path, name != NULL ? query : NULL, body, 0, &s, err, errlen) !=
	    0)
		return -1;
	if (s.status != 201) {
		docker_status_fail("POST", path, &s, err, errlen);
		goto out;
	}
	j = docker_json("POST", path, &s, err, errlen);
	if (j == NULL)
		goto out;
	id = json_string_value(json_object_get(j, "Id"));
	if (id == NULL || !docker_is_id(id)) {
		docker_fail(err, errlen, "POST %s: 201 but no valid Id in the answer", path);
		goto out;
	}
	memcpy(id_out, id, strlen(id) + 1);
	result = 0;
out:
	json_decref(j);
	buf_free(&s.body);
	return result;
}

int
docker_container_logs(struct docker *d, const char *id, unsigned tail_lines, size_t max_bytes,
                      char **out, size_t *outlen, char *err, size_t errlen)
{
	char path[DOCKER_PATH_MAX], query[64];
	struct docker_logs logs;
	struct docker_sink s;
	json_t *raw = NULL;
	char *text = NULL;
	size_t n;
	int r, result = -1;

	*out = NULL;
	if (outlen != NULL)
		*outlen = 0;
	memset(&logs, 0, sizeof(logs));
	memset(&s, 0, sizeof(s));
	if (max_bytes > DOCKER_BODY_MAX)
		max_bytes = DOCKER_BODY_MAX;
	/* The stream is framed unless the container has a TTY; only its
	 * config says which (API 1.41 sends the same content type). */
	r = docker_container_inspect(d, id, NULL, &raw, err, errlen);
	if (r != 0)
		return -1;
	logs.raw = json_is_true(json_object_get(json_object_get(raw, "Config"), "Tty"));
	json_decref(raw);

	if (docker_path(d, path, sizeof(path), "/containers/", "container", id, "/logs", err,
	                errlen) != 0)
		return -1;
	if (tail_lines == 0)
		snprintf(query, sizeof(query), "stdout=1&stderr=1&tail=all");
	else
		snprintf(query, sizeof(query), "stdout=1&stderr=1&tail=%u", tail_lines);
	if (tail_init(&logs.t, max_bytes) != 0) {
		docker_fail(err, errlen, "GET %s: out of memory for %zu bytes of logs", path,
		            max_bytes);
		return -1;
	}
	s.logs = &logs;
	if (docker_call(d, "GET", path, query, NULL, 0, &s, err, errlen) != 0)
		goto out;
	if (s.status != 200) {
		docker_status_fail("GET", path, &s, err, errlen);
		goto out;
	}
	if (logs.hdr_len != 0 || logs.left != 0) {
		docker_fail(err, errlen, "GET %s: 200: log stream cut in the middle of a frame",
		            path);
		goto out;
	}
	text = malloc(logs.t.len + 1);
	if (text == NULL) {
		docker_fail(err, errlen, "GET %s: out of memory", path);
		goto out;
	}
	n = tail_copy(&logs.t, text, logs.t.len + 1);
	*out = text;
	if (outlen != NULL)
		*outlen = n;
	result = 0;
out:
	tail_free(&logs.t);
	buf_free(&s.body);
	return result;
}

int
docker_container_file_tail(struct docker *d, const char *id, const char *file, size_t max_bytes,
                           char **out, char *err, size_t errlen)
{
	char path[DOCKER_PATH_MAX], query[DOCKER_PATH_MAX];
	struct docker_logs logs;
	struct docker_sink s;
	char *esc = NULL, *text = NULL;
	int result = -1;

	*out = NULL;
	memset(&logs, 0, sizeof(logs));
	memset(&s, 0, sizeof(s));
	logs.tar = 1;
	if (max_bytes > DOCKER_BODY_MAX)
		max_bytes = DOCKER_BODY_MAX;
	if (docker_path(d, path, sizeof(path), "/containers/", "container", id, "/archive", err,
	                errlen) != 0)
		return -1;
	esc = curl_easy_escape(d->curl, file, 0);
	if (esc == NULL || snprintf(query, sizeof(query), "path=%s", esc) >= (int)sizeof(query)) {
		docker_fail(err, errlen, "GET %s: path %s cannot be sent", path, file);
		goto out;
	}
	if (tail_init(&logs.t, max_bytes) != 0) {
		docker_fail(err, errlen, "GET %s: out of memory for %zu bytes", path, max_bytes);
		goto out;
	}
	s.logs = &logs;
	if (docker_call(d, "GET", path, query, NULL, 0, &s, err, errlen) != 0)
		goto out;
	if (s.status == 404) {
		docker_fail(err, errlen, "%s: no such file in container %s", file, id);
		result = 1;
		goto out;
	}
	if (s.status != 200) {
		docker_status_fail("GET", path, &s, err, errlen);
		goto out;
	}
	if (!logs.found) {
		docker_fail(err, errlen, "%s in container %s is not a regular file", file, id);
		result = 1;
		goto out;
	}
	if ((text = malloc(logs.t.len + 1)) == NULL) {
		docker_fail(err, errlen, "GET %s: out of memory", path);
		goto out;
	}
	tail_copy(&logs.t, text, logs.t.len + 1);
	*out = text;
	result = 0;
out:
	curl_free(esc);
	tail_free(&logs.t);
	buf_free(&s.body);
	return result;
}

uint64_t
docker_waited_ms(const struct docker *d)
{
	return d != NULL ? d->waited_ms : 0;
}

int
docker_container_wait_state(struct docker *d, const char *id, const char *const *states,
                            uint64_t timeout_ms, char state_out[17], char *err, size_t errlen)
{
	uint64_t end = clock_mono_ms() + timeout_ms;
	struct docker_container ct;

	for (;;) {
		int rc = docker_container_inspect(d, id, &ct, NULL, err, errlen);
		if (rc != 0) {
			if (rc == 1)
				docker_fail(err, errlen, "container %s disappeared", id);
			return -1;
		}
		if (state_out != NULL)
			snprintf(state_out, 17, "%s", ct.state);
		for (size_t i = 0; states[i] != NULL; i++)
			if (strcmp(states[i], ct.state) == 0)
				return 0;
		if (clock_mono_ms() >= end) {
			docker_fail(err, errlen, "container %s is %s, not %s, after %llu ms", id,
			            ct.state, states[0], (unsigned long long)timeout_ms);
			return 1;
		}
		struct timespec ts = {0, 100 * 1000000L};
		nanosleep(&ts, NULL);
	}
}
