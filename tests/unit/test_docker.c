/* Unit tests for agent/docker against a scripted engine on a unix socket, as
 * curl's tests run against canned replies: each connection gets the next
 * canned response, and the test reads back the requests the client sent.
 * What only a scripted engine does on demand is here too (an oversized body,
 * a broken log stream, a request that never answers). The same client
 * against a real Docker engine: tests/integration/c/test_docker.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "agent/docker.h"

#define IMAGE1 "odc-test:1"

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* A fake engine: answers each connection with the next canned response,
 * then closes it. */
enum canned_kind { CANNED_BODY, CANNED_BIG, CANNED_HANG, CANNED_END };

struct canned {
	enum canned_kind kind;
	const char *status;
	const char *body; /* may hold NUL bytes */
	size_t len;
};

#define CANNED(status, lit)                                                                        \
	{                                                                                          \
		CANNED_BODY, status, lit, sizeof(lit) - 1                                          \
	}

struct fake {
	char dir[64];
	char path[PATH_MAX];
	int fd;
	const struct canned *responses;
	size_t big_size; /* the body size of a CANNED_BIG */
	pthread_t thread;
	/* The head of each request received (request line and headers, then
	 * as much of the body as came with them), in order. */
	char seen[16][2048];
	size_t nseen;
};

static void
send_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	ssize_t k;

	while (n > 0) {
		k = send(fd, c, n, MSG_NOSIGNAL);
		if (k <= 0)
			return;
		c += k;
		n -= (size_t)k;
	}
}

static void *
fake_serve(void *arg)
{
	struct fake *f = arg;
	const struct canned *r;
	char req[8192], hdr[256], *big;
	size_t got, len;
	ssize_t n;
	int c;

	for (r = f->responses; r->kind != CANNED_END; r++) {
		c = accept(f->fd, NULL, NULL);
		if (c < 0)
			break;
		got = 0;
		while (got < sizeof(req) - 1 &&
		       (n = recv(c, req + got, sizeof(req) - 1 - got, 0)) > 0) {
			got += (size_t)n;
			req[got] = '\0';
			if (strstr(req, "\r\n\r\n") != NULL)
				break;
		}
		if (f->nseen < sizeof(f->seen) / sizeof(f->seen[0]))
			snprintf(f->seen[f->nseen++], sizeof(f->seen[0]), "%s", req);
		if (r->kind == CANNED_HANG) {
			/* Hold the connection until the client gives up. */
			while (recv(c, req, sizeof(req), 0) > 0)
				;
			close(c);
			continue;
		}
		len = r->kind == CANNED_BIG ? f->big_size : r->len;
		snprintf(hdr, sizeof(hdr),
		         "HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
		         "Connection: close\r\n\r\n",
		         r->status, len);
		send_all(c, hdr, strlen(hdr));
		if (r->kind == CANNED_BIG) {
			big = malloc(len);
			if (big != NULL) {
				memset(big, ' ', len);
				send_all(c, big, len);
				free(big);
			}
		} else {
			send_all(c, r->body, r->len);
		}
		close(c);
	}
	return NULL;
}

static void
fake_start(struct fake *f, const struct canned *responses)
{
	struct sockaddr_un sa;

	snprintf(f->dir, sizeof(f->dir), "/tmp/odc-docker-fake.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/fake.sock", f->dir);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);
	f->responses = responses;
	f->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(f->fd >= 0);
	assert_int_equal(bind(f->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(f->fd, 4), 0);
	assert_int_equal(pthread_create(&f->thread, NULL, fake_serve, f), 0);
}

static void
fake_stop(struct fake *f)
{
	shutdown(f->fd, SHUT_RDWR);
	pthread_join(f->thread, NULL);
	close(f->fd);
	unlink(f->path);
	rmdir(f->dir);
}

static int
fake_setup(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	f->fd = -1;
	*state = f;
	return 0;
}

static int
fake_teardown(void **state)
{
	struct fake *f = *state;

	if (f->fd >= 0)
		fake_stop(f);
	free(f);
	return 0;
}

#define X10    "xxxxxxxxxx"
#define X100   X10 X10 X10 X10 X10 X10 X10 X10 X10 X10
#define IMG300 X100 X100 X100
#define H16    "0123456789abcdef"
#define ID65   H16 H16 H16 H16 "0"

#define INSPECT_OK                                                                                 \
	CANNED("200 OK", "{\"Id\":\"abc\",\"Name\":\"/x\",\"State\":{\"Status\":\"exited\"},"      \
	                 "\"Config\":{\"Tty\":false}}")

static void
test_fake_body_too_big(void **state)
{
	const struct canned responses[] = {
	    {CANNED_BIG, "200 OK", NULL, 0},
	    {CANNED_BIG, "200 OK", NULL, 0},
	    {CANNED_END, NULL, NULL, 0},
	};
	struct fake *f = *state;
	struct docker *d;
	char err[512] = "";
	json_t *list = NULL;

	f->big_size = DOCKER_BODY_MAX + 1;
	fake_start(f, responses);
	d = docker_new(f->path, 5000, err, sizeof(err));
	assert_non_null(d);
	assert_int_equal(docker_container_list(d, &list, err, sizeof(err)), -1);
	assert_null(list);
	assert_non_null(
	    strstr(err, "GET /containers/json: 200: response body larger than 8388608"));
	/* Exactly the limit is read (and is not JSON here: that is its error). */
	f->big_size = DOCKER_BODY_MAX;
	assert_int_equal(docker_container_list(d, &list, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "invalid JSON"));
	docker_free(d);
}

static void
test_fake_bad_streams_plain_errors_timeout(void **state)
{
	const struct canned responses[] = {
	    INSPECT_OK,
	    CANNED("200 OK", "hello, world\n"),
	    INSPECT_OK,
	    /* A frame announcing 16 bytes, with 3. */
	    CANNED("200 OK", "\x01\0\0\0\0\0\0\x10"
	                     "abc"),
	    INSPECT_OK,
	    /* stdout, an empty stderr frame, stderr. */
	    CANNED("200 OK", "\x01\0\0\0\0\0\0\x03"
	                     "ab\n"
	                     "\x02\0\0\0\0\0\0\0"
	                     "\x02\0\0\0\0\0\0\x02"
	                     "c\n"),
	    CANNED("500 Internal Server Error", "engine \x1b[31mbroke\n"),
	    {CANNED_HANG, NULL, NULL, 0},
	    {CANNED_END, NULL, NULL, 0},
	};
	struct fake *f = *state;
	struct docker *d;
	char err[512] = "", *out = NULL;
	uint64_t t0;

	fake_start(f, responses);
	d = docker_new(f->path, 500, err, sizeof(err));
	assert_non_null(d);
	assert_int_equal(docker_container_logs(d, "x", 0, 100, &out, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "GET /containers/x/logs: 200: malformed log stream"));
	assert_int_equal(docker_container_logs(d, "x", 0, 100, &out, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cut in the middle of a frame"));
	if (docker_container_logs(d, "x", 0, 100, &out, NULL, err, sizeof(err)) != 0)
		fail_msg("logs: %s", err);
	assert_string_equal(out, "ab\nc\n");
	free(out);
	/* No JSON message: the body, control characters made harmless. */
	assert_int_equal(docker_ping(d, err, sizeof(err)), -1);
	assert_string_equal(err, "docker: GET /_ping: 500 engine  [31mbroke");
	/* An engine that never answers: the request times out. */
	t0 = now_ms();
	assert_int_equal(docker_ping(d, err, sizeof(err)), -1);
	assert_true(now_ms() - t0 < 3000);
	assert_non_null(strstr(err, "GET /_ping: engine at "));
	assert_non_null(strstr(err, "Timeout"));
	docker_free(d);
}

static void
test_fake_fields_too_long(void **state)
{
	const struct canned responses[] = {
	    CANNED("200 OK", "{\"Id\":\"abc\",\"Name\":\"/x\",\"State\":{\"Status\":\"running\"},"
	                     "\"Config\":{\"Image\":\"" IMG300 "\"}}"),
	    CANNED("200 OK", "{\"Id\":\"" ID65 "\",\"Name\":\"/x\",\"State\":{\"Status\":\"a\"}}"),
	    CANNED("201 Created", "{\"Id\":\"" ID65 "\",\"Warnings\":[]}"),
	    CANNED("201 Created", "{\"Id\":\"../x\",\"Warnings\":[]}"),
	    {CANNED_END, NULL, NULL, 0},
	};
	struct fake *f = *state;
	struct docker_container c;
	struct docker *d;
	char err[512] = "", id[65];
	json_t *body = json_pack("{s:s}", "Image", IMAGE1);

	fake_start(f, responses);
	d = docker_new(f->path, 2000, err, sizeof(err));
	assert_non_null(d);
	assert_int_equal(docker_container_inspect(d, "x", &c, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "Config.Image too long (300 bytes, at most 256)"));
	assert_int_equal(docker_container_inspect(d, "x", &c, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "Id too long (65 bytes, at most 64)"));
	assert_int_equal(docker_container_create(d, "x", body, id, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no valid Id"));
	assert_string_equal(id, "");
	assert_int_equal(docker_container_create(d, "x", body, id, err, sizeof(err)), -1);
	assert_string_equal(id, "");
	json_decref(body);
	docker_free(d);
}

/* The request line of the n-th request the engine received, without the
 * protocol ("POST /v1.41/containers/x/stop?t=7"). */
static void
assert_request(const struct fake *f, size_t n, const char *line)
{
	size_t len = strlen(line);

	if (n >= f->nseen)
		fail_msg("request %zu: the engine received only %zu", n, f->nseen);
	if (strncmp(f->seen[n], line, len) != 0 ||
	    strncmp(f->seen[n] + len, " HTTP/1.1\r\n", 11) != 0)
		fail_msg("request %zu: got \"%.120s\", want \"%s HTTP/1.1\"", n, f->seen[n], line);
}

#define NO_SUCH CANNED("404 Not Found", "{\"message\":\"No such container: nope\"}")

/* Each call sends the request Docker's API documents (method, version
 * prefix, path, query) and reads the status the way the engine means it:
 * 304 on stop and start is success, 404 on inspect is "no such", a refused
 * remove says why. */
static void
test_canned_requests_and_statuses(void **state)
{
	const struct canned responses[] = {
	    CANNED("200 OK", "OK"),
	    CANNED("204 No Content", ""),
	    CANNED("304 Not Modified", ""),
	    CANNED("304 Not Modified", ""),
	    CANNED("204 No Content", ""),
	    CANNED("409 Conflict", "{\"message\":\"You cannot remove a running container\"}"),
	    NO_SUCH,
	    NO_SUCH,
	    CANNED("404 Not Found", "{\"message\":\"No such image: odc-test:9\"}"),
	    CANNED("201 Created", "{\"Id\":\"" H16 H16 H16 H16 "\",\"Warnings\":[]}"),
	    CANNED("200 OK", "[]"),
	    {CANNED_END, NULL, NULL, 0},
	};
	struct fake *f = *state;
	struct docker_container c;
	struct docker *d;
	char err[512] = "", id[65] = "";
	json_t *body = json_pack("{s:s}", "Image", IMAGE1), *list = NULL;

	fake_start(f, responses);
	d = docker_new(f->path, 2000, err, sizeof(err));
	assert_non_null(d);
	assert_int_equal(docker_ping(d, err, sizeof(err)), 0);
	assert_int_equal(docker_container_stop(d, "odc", 7, err, sizeof(err)), 0);
	assert_int_equal(docker_container_stop(d, "odc", 7, err, sizeof(err)), 0);
	assert_int_equal(docker_container_start(d, "odc", err, sizeof(err)), 0);
	assert_int_equal(docker_container_rename(d, "odc", "odc old", err, sizeof(err)), 0);
	assert_int_equal(docker_container_remove(d, "odc", err, sizeof(err)), -1);
	assert_string_equal(err, "docker: DELETE /containers/odc: 409 You cannot remove a running "
	                         "container");
	assert_int_equal(docker_container_remove(d, "nope", err, sizeof(err)), 1);
	assert_int_equal(docker_container_inspect(d, "nope", &c, NULL, err, sizeof(err)), 1);
	assert_int_equal(docker_image_inspect(d, "odc-test:9", NULL, err, sizeof(err)), 1);
	assert_int_equal(docker_container_create(d, "odc-new", body, id, err, sizeof(err)), 0);
	assert_string_equal(id, H16 H16 H16 H16);
	assert_int_equal(docker_container_list(d, &list, err, sizeof(err)), 0);
	assert_true(json_is_array(list) && json_array_size(list) == 0);
	json_decref(list);
	docker_free(d);
	json_decref(body);

	assert_int_equal(f->nseen, 11);
	assert_request(f, 0, "GET /v1.41/_ping");
	assert_request(f, 1, "POST /v1.41/containers/odc/stop?t=7");
	assert_request(f, 2, "POST /v1.41/containers/odc/stop?t=7");
	assert_request(f, 3, "POST /v1.41/containers/odc/start");
	assert_request(f, 4, "POST /v1.41/containers/odc/rename?name=odc%20old");
	assert_request(f, 5, "DELETE /v1.41/containers/odc");
	assert_request(f, 6, "DELETE /v1.41/containers/nope");
	assert_request(f, 7, "GET /v1.41/containers/nope/json");
	/* The reference escaped: the engine decodes it. */
	assert_request(f, 8, "GET /v1.41/images/odc-test%3A9/json");
	assert_request(f, 9, "POST /v1.41/containers/create?name=odc-new");
	/* The create body is the caller's JSON, sent as JSON. */
	assert_non_null(strstr(f->seen[9], "Content-Type: application/json"));
	assert_request(f, 10, "GET /v1.41/containers/json?all=1");
}

/* An error names the request, the status and Docker's own message; a name
 * that would route elsewhere is refused before anything is sent. */
static void
test_canned_errors_name_request_status_and_message(void **state)
{
	const struct canned responses[] = {
	    NO_SUCH,
	    NO_SUCH,
	    CANNED("409 Conflict", "{\"message\":\"Conflict. The container name \\\"/odc\\\" is "
	                           "already in use\"}"),
	    {CANNED_END, NULL, NULL, 0},
	};
	struct fake *f = *state;
	struct docker *d;
	char err[512] = "", id[65];
	json_t *body = json_pack("{s:s}", "Image", IMAGE1);

	fake_start(f, responses);
	d = docker_new(f->path, 2000, err, sizeof(err));
	assert_non_null(d);
	assert_int_equal(docker_container_stop(d, "nope", 1, err, sizeof(err)), -1);
	assert_string_equal(err, "docker: POST /containers/nope/stop: 404 No such container: nope");
	assert_int_equal(docker_container_start(d, "a b?c#d", err, sizeof(err)), -1);
	assert_string_equal(err, "docker: POST /containers/a%20b%3Fc%23d/start: 404 No such "
	                         "container: nope");
	assert_int_equal(docker_container_create(d, "odc", body, id, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "POST /containers/create: 409 Conflict. The container name "));
	assert_non_null(strstr(err, "already in use"));
	/* Refused here: the engine would decode and clean these paths. */
	assert_int_equal(docker_container_stop(d, "../images/x", 1, err, sizeof(err)), -1);
	assert_string_equal(err, "docker: invalid container '../images/x'");
	assert_int_equal(docker_image_inspect(d, "odc/../../containers/x", NULL, err, sizeof(err)),
	                 -1);
	assert_string_equal(err, "docker: invalid image 'odc/../../containers/x'");
	assert_int_equal(docker_container_start(d, "..", err, sizeof(err)), -1);
	assert_int_equal(docker_container_start(d, "", err, sizeof(err)), -1);
	assert_int_equal(docker_container_start(d, "a\nb", err, sizeof(err)), -1);
	docker_free(d);
	json_decref(body);
	assert_int_equal(f->nseen, 3);
	assert_request(f, 1, "POST /v1.41/containers/a%20b%3Fc%23d/start");
}

/* Logs: the container is inspected first; without a TTY the frames are
 * removed, with one the stream is taken raw; the tail is asked of the
 * engine and the byte limit keeps the newest bytes. */
static void
test_canned_logs_frames_tty_and_limits(void **state)
{
	const struct canned responses[] = {
	    INSPECT_OK,
	    CANNED("200 OK", "\x01\0\0\0\0\0\0\x05"
	                     "2999\n"
	                     "\x02\0\0\0\0\0\0\x05"
	                     "3000\n"),
	    INSPECT_OK,
	    CANNED("200 OK", "\x01\0\0\0\0\0\0\x05"
	                     "2999\n"
	                     "\x02\0\0\0\0\0\0\x05"
	                     "3000\n"),
	    CANNED("200 OK", "{\"Id\":\"abc\",\"Name\":\"/x\",\"State\":{\"Status\":\"exited\"},"
	                     "\"Config\":{\"Tty\":true}}"),
	    CANNED("200 OK", "tty-line\r\n"),
	    {CANNED_END, NULL, NULL, 0},
	};
	struct fake *f = *state;
	struct docker *d;
	char err[512] = "", *out = NULL;
	size_t len = 0;

	fake_start(f, responses);
	d = docker_new(f->path, 2000, err, sizeof(err));
	assert_non_null(d);
	if (docker_container_logs(d, "x", 2, 1 << 20, &out, &len, err, sizeof(err)) != 0)
		fail_msg("logs: %s", err);
	assert_int_equal(len, 10);
	assert_string_equal(out, "2999\n3000\n");
	free(out);
	/* The newest bytes win. */
	if (docker_container_logs(d, "x", 0, 5, &out, &len, err, sizeof(err)) != 0)
		fail_msg("logs: %s", err);
	assert_string_equal(out, "3000\n");
	free(out);
	if (docker_container_logs(d, "x", 0, 4096, &out, NULL, err, sizeof(err)) != 0)
		fail_msg("logs: %s", err);
	assert_string_equal(out, "tty-line\r\n");
	free(out);
	docker_free(d);
	assert_int_equal(f->nseen, 6);
	assert_request(f, 0, "GET /v1.41/containers/x/json");
	assert_request(f, 1, "GET /v1.41/containers/x/logs?stdout=1&stderr=1&tail=2");
	assert_request(f, 3, "GET /v1.41/containers/x/logs?stdout=1&stderr=1&tail=all");
}

/* No engine at the path, or a file that is not a socket: the error names
 * the path and the reason. */
static void
test_missing_socket_named(void **state)
{
	struct docker *d;
	char dir[64], path[PATH_MAX], err[512] = "";
	FILE *fp;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/odc-docker-none.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/no-such-engine.sock", dir);
	d = docker_new(path, 2000, err, sizeof(err));
	if (d == NULL)
		fail_msg("docker_new: %s", err);
	assert_int_equal(docker_ping(d, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "docker: GET /_ping: cannot connect to the engine at "));
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "No such file or directory"));
	docker_free(d);
	/* Not a socket at all. */
	snprintf(path, sizeof(path), "%s/plain-file", dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fclose(fp);
	d = docker_new(path, 2000, err, sizeof(err));
	assert_non_null(d);
	assert_int_equal(docker_ping(d, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a socket"));
	docker_free(d);
	unlink(path);
	rmdir(dir);
	memset(path, 'x', sizeof(path) - 1);
	path[sizeof(path) - 1] = '\0';
	assert_null(docker_new(path, 0, err, sizeof(err)));
	assert_non_null(strstr(err, "longer than"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_canned_requests_and_statuses, fake_setup,
	                                    fake_teardown),
	    cmocka_unit_test_setup_teardown(test_canned_errors_name_request_status_and_message,
	                                    fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_canned_logs_frames_tty_and_limits, fake_setup,
	                                    fake_teardown),
	    cmocka_unit_test(test_missing_socket_named),
	    cmocka_unit_test_setup_teardown(test_fake_body_too_big, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_fake_bad_streams_plain_errors_timeout, fake_setup,
	                                    fake_teardown),
	    cmocka_unit_test_setup_teardown(test_fake_fields_too_long, fake_setup, fake_teardown),
	};

	return cmocka_run_group_tests_name("docker (canned replies)", tests, NULL, NULL);
}
