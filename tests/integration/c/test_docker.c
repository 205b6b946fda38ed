/* Integration tests for agent/docker against a real Docker engine that the
 * test starts itself (tests/world/dockerd.sh, in a fresh directory under /tmp)
 * with a tiny image imported from busybox: containers are created, started,
 * stopped, renamed and read back through the client only. What a real engine
 * will not do on demand (an oversized body, a broken log stream, a request
 * that never answers) and the exact requests the client sends are tested in
 * tests/unit/test_docker.c against canned replies.
 *
 * Needs root and dockerd (Debian's docker.io); when the engine cannot start,
 * the tests fail with the reason. main() forks: the parent stops the engine
 * and removes the directory even when the tests die (a sanitizer abort). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/docker.h"
#include "agent/spec.h"
#include "common/spawn.h"

#define IMAGE1 "odc-test:1"
#define IMAGE2 "odc-test:2"
/* The whole run may not take longer than this (the parent kills it). */
#define WATCHDOG_S 300

static char world_dir[64];

struct world {
	char sock[PATH_MAX];
	char script[PATH_MAX];
	struct docker *d;
};

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* tests/world/dockerd.sh: $ODC_DOCKERD_SH, else from the working directory
 * (make runs tests from the top), else up from the test binary. */
static int
find_script(char *out, size_t outlen)
{
	const char *rel = "tests/world/dockerd.sh";
	const char *env = getenv("ODC_DOCKERD_SH");
	char exe[PATH_MAX], *slash;
	ssize_t n;
	int up;

	if (env != NULL && env[0] != '\0') {
		snprintf(out, outlen, "%s", env);
		return 0;
	}
	if (access(rel, X_OK) == 0 && realpath(rel, exe) != NULL) {
		snprintf(out, outlen, "%s", exe);
		return 0;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return -1;
	exe[n] = '\0';
	for (up = 0; up < 4; up++) {
		slash = strrchr(exe, '/');
		if (slash == NULL)
			break;
		*slash = '\0';
		snprintf(out, outlen, "%s/%s", exe, rel);
		if (access(out, X_OK) == 0)
			return 0;
	}
	return -1;
}

/* Runs argv (stdin from in_path, or /dev/null). Returns its exit status, or
 * -1; the stdout tail goes to out, and a description of a failure to why. */
static int
run(const char *const *argv, const char *in_path, char *out, size_t outlen, char *why,
    size_t whylen)
{
	struct spawn_opts o;
	struct spawn_result r;
	char err[256] = "", desc[128];
	int status = -1;

	memset(&o, 0, sizeof(o));
	o.argv = argv;
	o.deadline_ms = 60000;
	o.stdout_tail = 4096;
	o.stderr_tail = 4096;
	o.stdin_path = in_path;
	if (out != NULL && outlen > 0)
		out[0] = '\0';
	if (spawn_run(&o, &r, err, sizeof(err)) != 0) {
		snprintf(why, whylen, "%s", err);
		spawn_result_free(&r);
		return -1;
	}
	if (out != NULL)
		snprintf(out, outlen, "%s", r.out_tail);
	if (r.exited)
		status = r.exit_code;
	if (status != 0) {
		spawn_describe(&r, desc, sizeof(desc));
		snprintf(why, whylen, "%s %s: %s", argv[0], desc, r.err_tail);
	}
	spawn_result_free(&r);
	return status;
}

/* Stops the engine and removes the directory; safe to repeat. */
static void
world_destroy(const char *script)
{
	char why[1024];
	const char *stop[] = {"/bin/sh", script, "stop", world_dir, NULL};
	const char *rm[] = {"rm", "-rf", "--one-file-system", world_dir, NULL};

	if (world_dir[0] == '\0' || access(world_dir, F_OK) != 0)
		return;
	if (script[0] != '\0' && run(stop, NULL, NULL, 0, why, sizeof(why)) != 0)
		fprintf(stderr, "test_docker: dockerd.sh stop: %s\n", why);
	if (run(rm, NULL, NULL, 0, why, sizeof(why)) != 0)
		fprintf(stderr, "test_docker: rm %s: %s\n", world_dir, why);
}

static int
copy_file(const char *from, const char *to, mode_t mode, char *why, size_t whylen)
{
	char buf[65536];
	ssize_t n;
	int in, out, result = -1;

	in = open(from, O_RDONLY | O_CLOEXEC);
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (in < 0 || out < 0) {
		snprintf(why, whylen, "copy %s to %s: %s", from, to, strerror(errno));
		goto out;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		if (write(out, buf, (size_t)n) != n) {
			snprintf(why, whylen, "write %s: %s", to, strerror(errno));
			goto out;
		}
	}
	result = n == 0 ? 0 : -1;
	if (result != 0)
		snprintf(why, whylen, "read %s: %s", from, strerror(errno));
out:
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return result;
}

/* A root filesystem of busybox-static with sh and sleep, as a tarball. */
static int
make_rootfs(char *tarball, size_t tarlen, char *why, size_t whylen)
{
	char root[PATH_MAX], bin[PATH_MAX + 8], path[PATH_MAX + 32];
	const char *links[] = {"sh", "sleep"};
	const char *tar[] = {"tar", "-C", root, "-cf", tarball, ".", NULL};
	size_t i;

	snprintf(root, sizeof(root), "%s/rootfs", world_dir);
	snprintf(bin, sizeof(bin), "%s/bin", root);
	snprintf(tarball, tarlen, "%s/rootfs.tar", world_dir);
	if (mkdir(root, 0755) != 0 || mkdir(bin, 0755) != 0) {
		snprintf(why, whylen, "mkdir %s: %s", bin, strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "%s/busybox", bin);
	if (copy_file("/bin/busybox", path, 0755, why, whylen) != 0)
		return -1;
	for (i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", bin, links[i]);
		if (symlink("busybox", path) != 0) {
			snprintf(why, whylen, "symlink %s: %s", path, strerror(errno));
			return -1;
		}
	}
	return run(tar, NULL, NULL, 0, why, whylen) == 0 ? 0 : -1;
}

/* docker import of the tarball as ref, with env as the image's ENV. */
static int
import_image(const struct world *w, const char *tarball, const char *ref, const char *env,
             char *why, size_t whylen)
{
	char host[PATH_MAX + 16], envchange[128];
	const char *argv[] = {
	    "docker",   "-H",      host, "import", "--change", "CMD [\"/bin/sh\"]",
	    "--change", envchange, "-",  ref,      NULL};

	snprintf(host, sizeof(host), "unix://%s", w->sock);
	snprintf(envchange, sizeof(envchange), "ENV %s", env);
	return run(argv, tarball, NULL, 0, why, whylen) == 0 ? 0 : -1;
}

static int
group_setup(void **state)
{
	char why[2048] = "", out[PATH_MAX], tarball[PATH_MAX], err[512];
	const char *start[] = {"/bin/sh", NULL, "start", world_dir, NULL};
	struct world *w;
	uint64_t t0 = now_ms();
	char *nl;

	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return -1;
	if (find_script(w->script, sizeof(w->script)) != 0) {
		snprintf(why, sizeof(why), "cannot find tests/world/dockerd.sh");
		goto fail;
	}
	start[1] = w->script;
	if (run(start, NULL, out, sizeof(out), why, sizeof(why)) != 0)
		goto fail;
	nl = strchr(out, '\n');
	if (nl != NULL)
		*nl = '\0';
	snprintf(w->sock, sizeof(w->sock), "%s", out);
	if (make_rootfs(tarball, sizeof(tarball), why, sizeof(why)) != 0 ||
	    import_image(w, tarball, IMAGE1, "IMAGE_VERSION=1", why, sizeof(why)) != 0 ||
	    import_image(w, tarball, IMAGE2, "IMAGE_VERSION=2", why, sizeof(why)) != 0)
		goto fail;
	w->d = docker_new(w->sock, 20000, err, sizeof(err));
	if (w->d == NULL) {
		snprintf(why, sizeof(why), "%s", err);
		goto fail;
	}
	print_message("engine at %s ready in %llu ms\n", w->sock,
	              (unsigned long long)(now_ms() - t0));
	*state = w;
	return 0;
fail:
	print_error("test_docker: no Docker engine for the tests (run as root with docker.io "
	            "installed): %s\n",
	            why);
	world_destroy(w->script);
	free(w);
	return -1;
}

static int
group_teardown(void **state)
{
	struct world *w = *state;

	/* cmocka runs the group teardown even after a failed setup, which
	 * has cleaned up already. */
	if (w == NULL)
		return 0;
	docker_free(w->d);
	world_destroy(w->script);
	free(w);
	return 0;
}

/* Creates (and with start, starts) a container; fails the test otherwise. */
static void
create(struct world *w, const char *name, json_t *body, int start, char id[65])
{
	char err[512] = "";

	if (docker_container_create(w->d, name, body, id, err, sizeof(err)) != 0)
		fail_msg("create %s: %s", name, err);
	if (start && docker_container_start(w->d, id, err, sizeof(err)) != 0)
		fail_msg("start %s: %s", name, err);
	json_decref(body);
}

/* Waits up to 10 s for the container to reach state, with the client's own poll. */
static void
wait_state(struct world *w, const char *id, const char *state)
{
	const char *states[] = {state, NULL};
	char err[512] = "", seen[17] = "";

	if (docker_container_wait_state(w->d, id, states, 10000, seen, err, sizeof(err)) != 0)
		fail_msg("%s: %s", id, err);
	assert_string_equal(seen, state);
}

static int
has_string(json_t *arr, const char *s)
{
	json_t *v;
	size_t i;

	json_array_foreach(arr, i, v)
	{
		if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
			return 1;
	}
	return 0;
}

static void
test_ping(void **state)
{
	struct world *w = *state;
	char err[512] = "";

	if (docker_ping(w->d, err, sizeof(err)) != 0)
		fail_msg("ping: %s", err);
}

static void
test_inspect_missing_container(void **state)
{
	struct world *w = *state;
	struct docker_container c;
	json_t *raw = json_true();
	char err[512] = "";

	assert_int_equal(
	    docker_container_inspect(w->d, "obodc-missing", &c, &raw, err, sizeof(err)), 1);
	assert_null(raw);
	assert_non_null(strstr(err, "No such container: obodc-missing"));
}

static void
test_create_start_inspect(void **state)
{
	struct world *w = *state;
	struct docker_container c;
	char id[65], err[512] = "";
	json_t *raw = NULL, *config, *host;

	create(w, "obodc",
	       json_pack("{s:s, s:b, s:[s,s], s:{s:s, s:I}}", "Image", IMAGE1, "OpenStdin", 1,
	                 "Env", "DATABASE_HOST=db.example", "ODC_PROFILE_MODE=alipay", "HostConfig",
	                 "NetworkMode", "host", "Memory", (json_int_t)64 << 20),
	       1, id);
	assert_int_equal(strlen(id), 64);
	if (docker_container_inspect(w->d, "obodc", &c, &raw, err, sizeof(err)) != 0)
		fail_msg("inspect: %s", err);
	assert_string_equal(c.id, id);
	assert_string_equal(c.name, "obodc");
	assert_string_equal(c.image, IMAGE1);
	assert_memory_equal(c.image_id, "sha256:", 7);
	/* OpenStdin keeps sh reading a stdin that never ends: it stays up. */
	assert_string_equal(c.state, "running");
	assert_true(c.started_at[0] != '\0');
	config = json_object_get(raw, "Config");
	host = json_object_get(raw, "HostConfig");
	assert_true(has_string(json_object_get(config, "Env"), "DATABASE_HOST=db.example"));
	assert_true(has_string(json_object_get(config, "Env"), "ODC_PROFILE_MODE=alipay"));
	assert_true(has_string(json_object_get(config, "Env"), "IMAGE_VERSION=1"));
	assert_true(json_is_true(json_object_get(config, "OpenStdin")));
	assert_int_equal(json_integer_value(json_object_get(host, "Memory")), 64 << 20);
	assert_string_equal(json_string_value(json_object_get(host, "NetworkMode")), "host");
	json_decref(raw);
}

static void
test_list_has_containers(void **state)
{
	struct world *w = *state;
	char id[65], err[512] = "";
	json_t *list = NULL, *v;
	size_t i;
	int found = 0;

	create(w, "listed", json_pack("{s:s}", "Image", IMAGE1), 0, id);
	if (docker_container_list(w->d, &list, err, sizeof(err)) != 0)
		fail_msg("list: %s", err);
	/* Not running, and still listed (all=1). */
	json_array_foreach(list, i, v)
	{
		if (has_string(json_object_get(v, "Names"), "/listed"))
			found = 1;
	}
	assert_true(found);
	json_decref(list);
}

static void
test_start_stop_are_idempotent(void **state)
{
	struct world *w = *state;
	struct docker_container c;
	char id[65], err[512] = "";

	create(w, "stopme",
	       json_pack("{s:s, s:b, s:{s:s}}", "Image", IMAGE1, "OpenStdin", 1, "HostConfig",
	                 "NetworkMode", "host"),
	       1, id);
	/* Already running: 304, which is success. */
	if (docker_container_start(w->d, "stopme", err, sizeof(err)) != 0)
		fail_msg("start again: %s", err);
	/* sh as pid 1 ignores SIGTERM: the engine kills it after t=1. */
	if (docker_container_stop(w->d, "stopme", 1, err, sizeof(err)) != 0)
		fail_msg("stop: %s", err);
	assert_int_equal(docker_container_inspect(w->d, id, &c, NULL, err, sizeof(err)), 0);
	assert_string_equal(c.state, "exited");
	assert_int_equal(c.exit_code, 137);
	/* Already stopped: 304, which is success. */
	if (docker_container_stop(w->d, id, 1, err, sizeof(err)) != 0)
		fail_msg("stop again: %s", err);
}

/* The poll gives up at its timeout and says what state it saw. */
static void
test_wait_state_timeout(void **state)
{
	struct world *w = *state;
	static const char *const exited[] = {"exited", NULL};
	char id[65], err[512] = "", seen[17] = "";

	create(w, "waitme",
	       json_pack("{s:s, s:b, s:{s:s}}", "Image", IMAGE1, "OpenStdin", 1, "HostConfig",
	                 "NetworkMode", "host"),
	       1, id);
	wait_state(w, id, "running");
	assert_int_equal(docker_container_wait_state(w->d, id, exited, 300, seen, err, sizeof(err)),
	                 1);
	assert_string_equal(seen, "running");
	assert_non_null(strstr(err, "is running, not exited, after 300 ms"));
	assert_int_equal(docker_container_wait_state(w->d, "no-such-container", exited, 300, NULL,
	                                             err, sizeof(err)),
	                 -1);
}

static void
test_rename(void **state)
{
	struct world *w = *state;
	struct docker_container c;
	char id[65], err[512] = "";

	create(w, "renameme", json_pack("{s:s}", "Image", IMAGE1), 0, id);
	if (docker_container_rename(w->d, "renameme", "renameme-rolledback-20240101", err,
	                            sizeof(err)) != 0)
		fail_msg("rename: %s", err);
	assert_int_equal(docker_container_inspect(w->d, "renameme", &c, NULL, err, sizeof(err)), 1);
	assert_int_equal(docker_container_inspect(w->d, "renameme-rolledback-20240101", &c, NULL,
	                                          err, sizeof(err)),
	                 0);
	assert_string_equal(c.id, id);
	assert_string_equal(c.name, "renameme-rolledback-20240101");
}

static void
test_too_long_name_is_an_error(void **state)
{
	struct world *w = *state;
	struct docker_container c;
	char id[65], name[200], err[512] = "";
	json_t *raw = NULL;

	/* Docker takes a name longer than the field; inspect refuses to cut it. */
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	create(w, name, json_pack("{s:s}", "Image", IMAGE1), 0, id);
	memset(&c, 0x5a, sizeof(c));
	assert_int_equal(docker_container_inspect(w->d, id, &c, &raw, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "Name too long (199 bytes, at most 128)"));
	assert_null(raw);
	assert_int_equal((unsigned char)c.id[0], 0x5a); /* *out untouched */
}

static void
test_name_collision(void **state)
{
	struct world *w = *state;
	char id[65], id2[65], err[512] = "";
	json_t *body = json_pack("{s:s}", "Image", IMAGE1);

	create(w, "dup", json_incref(body), 0, id);
	assert_int_equal(docker_container_create(w->d, "dup", body, id2, err, sizeof(err)), -1);
	assert_string_equal(id2, "");
	assert_non_null(strstr(err, "docker: POST /containers/create: 409 Conflict."));
	assert_non_null(strstr(err, "\"/dup\" is already in use"));
	json_decref(body);
}

static void
test_image_inspect(void **state)
{
	struct world *w = *state;
	char err[512] = "";
	json_t *raw = NULL;

	if (docker_image_inspect(w->d, IMAGE1, &raw, err, sizeof(err)) != 0)
		fail_msg("image inspect: %s", err);
	assert_true(has_string(json_object_get(raw, "RepoTags"), IMAGE1));
	assert_true(has_string(json_object_get(json_object_get(raw, "Config"), "Cmd"), "/bin/sh"));
	json_decref(raw);
	assert_int_equal(docker_image_inspect(w->d, "odc-test:absent", &raw, err, sizeof(err)), 1);
	assert_null(raw);
	assert_non_null(strstr(err, "404"));
	assert_non_null(strstr(err, "odc-test:absent"));
	/* A reference with a registry path goes through escaped. */
	assert_int_equal(docker_image_inspect(w->d, "reg.local:5000/oceanbase/odc-server:4.2.0",
	                                      NULL, err, sizeof(err)),
	                 1);
}

/* Exactly expect (length and bytes), or the test fails showing both. */
static void
assert_logs(struct world *w, const char *id, unsigned tail, size_t max, const char *expect)
{
	char err[512] = "", *out = NULL;
	size_t len = 0;

	if (docker_container_logs(w->d, id, tail, max, &out, &len, err, sizeof(err)) != 0)
		fail_msg("logs: %s", err);
	if (len != strlen(expect) || memcmp(out, expect, len) != 0)
		fail_msg("logs (tail %u, max %zu): got %zu bytes \"%.200s\", want \"%.200s\"", tail,
		         max, len, out, expect);
	assert_int_equal(out[len], '\0');
	free(out);
}

static void
test_logs_demultiplexed(void **state)
{
	struct world *w = *state;
	char id[65], err[512] = "", *out = NULL, *want, *p;
	size_t len = 0, wantlen = 0, cap = 32768;
	int i;

	create(w, "chatty",
	       json_pack("{s:s, s:[s,s,s]}", "Image", IMAGE1, "Cmd", "/bin/sh", "-c",
	                 "echo out1; echo err1 >&2; sleep 0.2; echo out2; /bin/busybox seq 1 3000"),
	       1, id);
	wait_state(w, id, "exited");

	/* Every line, each frame header gone: the exact bytes, whatever the
	 * interleaving of out1 and err1. */
	if (docker_container_logs(w->d, id, 0, 1 << 20, &out, &len, err, sizeof(err)) != 0)
		fail_msg("logs: %s", err);
	want = malloc(cap);
	assert_non_null(want);
	p = want;
	for (i = 1; i <= 3000; i++)
		p += snprintf(p, cap - (size_t)(p - want), "%d\n", i);
	wantlen = (size_t)(p - want);
	assert_int_equal(len, strlen("out1\nerr1\nout2\n") + wantlen);
	assert_true(memcmp(out, "out1\nerr1\n", 10) == 0 || memcmp(out, "err1\nout1\n", 10) == 0);
	assert_memory_equal(out + 10, "out2\n", 5);
	assert_memory_equal(out + 15, want, wantlen);
	assert_int_equal(strlen(out), len);
	free(out);
	free(want);

	assert_logs(w, id, 2, 1 << 20, "2999\n3000\n");
	/* The newest bytes win. */
	assert_logs(w, id, 0, 5, "3000\n");
	assert_logs(w, id, 3000, 10, "2999\n3000\n");
}

static void
test_logs_tty_raw(void **state)
{
	struct world *w = *state;
	char id[65];

	create(w, "tty",
	       json_pack("{s:s, s:b, s:[s,s,s]}", "Image", IMAGE1, "Tty", 1, "Cmd", "/bin/sh", "-c",
	                 "echo tty-line"),
	       1, id);
	wait_state(w, id, "exited");
	/* Read as frames, 't' would be a bad stream byte: raw it is. */
	assert_logs(w, id, 0, 4096, "tty-line\r\n");
}

static void
test_error_names_request_status_and_message(void **state)
{
	struct world *w = *state;
	char err[512] = "", *out = NULL, id[65];
	json_t *body;

	assert_int_equal(docker_container_stop(w->d, "nope", 1, err, sizeof(err)), -1);
	assert_string_equal(err, "docker: POST /containers/nope/stop: 404 No such container: nope");
	assert_int_equal(docker_container_start(w->d, "nope", err, sizeof(err)), -1);
	assert_string_equal(err,
	                    "docker: POST /containers/nope/start: 404 No such container: nope");
	assert_int_equal(docker_container_rename(w->d, "nope", "x", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "POST /containers/nope/rename: 404 "));
	assert_int_equal(docker_container_logs(w->d, "nope", 10, 100, &out, NULL, err, sizeof(err)),
	                 -1);
	assert_null(out);
	assert_non_null(strstr(err, "404 No such container: nope"));
	/* Escaped in the path, not taken as a path of its own. */
	/* Escaped, and refused where the engine would still route it elsewhere
	 * (it decodes and cleans the path): before any request. */
	assert_int_equal(docker_container_stop(w->d, "a b?c#d", 1, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "POST /containers/a%20b%3Fc%23d/stop: 404 "));
	assert_int_equal(docker_container_stop(w->d, "../images/x", 1, err, sizeof(err)), -1);
	assert_string_equal(err, "docker: invalid container '../images/x'");
	assert_int_equal(
	    docker_image_inspect(w->d, "odc/../../containers/x", NULL, err, sizeof(err)), -1);
	assert_string_equal(err, "docker: invalid image 'odc/../../containers/x'");
	assert_int_equal(docker_container_start(w->d, "..", err, sizeof(err)), -1);
	assert_int_equal(docker_container_start(w->d, "", err, sizeof(err)), -1);
	assert_int_equal(docker_container_start(w->d, "a\nb", err, sizeof(err)), -1);
	/* Docker refuses a bad body with its own words. */
	body = json_pack("{s:s, s:{s:I}}", "Image", IMAGE1, "HostConfig", "Memory", (json_int_t)-5);
	assert_int_equal(docker_container_create(w->d, "bad", body, id, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "POST /containers/create: 400 "));
	json_decref(body);
}

/* The rollback itself, end to end: a container made like the seed's, then
 * its successor from spec_from_container() on another image. */
static void
test_spec_round_trip(void **state)
{
	struct world *w = *state;
	char id[65], id2[65], bind[PATH_MAX + 32], err[512] = "";
	json_t *old = NULL, *img = NULL, *body, *neu = NULL, *env, *ohc, *nhc;
	struct docker_container c;
	const char *keys[] = {"Binds",    "NetworkMode", "Memory",        "CpuPeriod",
	                      "CpuQuota", "MemorySwap",  "RestartPolicy", "LogConfig"};
	size_t i;

	snprintf(bind, sizeof(bind), "%s:/opt/odc/log", world_dir);
	create(w, "odc-old",
	       json_pack("{s:s, s:b, s:[s,s], s:{s:s, s:[s], s:I, s:I, s:I, s:{s:s}}}", "Image",
	                 IMAGE1, "OpenStdin", 1, "Env", "DATABASE_HOST=10.0.0.5",
	                 "DATABASE_NAME=odc_metadb", "HostConfig", "NetworkMode", "host", "Binds",
	                 bind, "Memory", (json_int_t)64 << 20, "CpuPeriod", (json_int_t)100000,
	                 "CpuQuota", (json_int_t)400000, "RestartPolicy", "Name", "unless-stopped"),
	       1, id);
	if (docker_container_stop(w->d, id, 1, err, sizeof(err)) != 0)
		fail_msg("stop: %s", err);
	if (docker_container_inspect(w->d, id, &c, &old, err, sizeof(err)) != 0 ||
	    docker_image_inspect(w->d, c.image_id, &img, err, sizeof(err)) != 0)
		fail_msg("inspect: %s", err);
	body = spec_from_container(old, img, IMAGE2, err, sizeof(err));
	if (body == NULL)
		fail_msg("spec: %s", err);
	create(w, "odc-new", body, 1, id2);
	if (docker_container_inspect(w->d, id2, &c, &neu, err, sizeof(err)) != 0)
		fail_msg("inspect: %s", err);
	assert_string_equal(c.state, "running");
	assert_string_equal(c.image, IMAGE2);
	env = json_object_get(json_object_get(neu, "Config"), "Env");
	assert_true(has_string(env, "DATABASE_HOST=10.0.0.5"));
	assert_true(has_string(env, "DATABASE_NAME=odc_metadb"));
	/* The new image's default, not the old one's. */
	assert_true(has_string(env, "IMAGE_VERSION=2"));
	assert_false(has_string(env, "IMAGE_VERSION=1"));
	assert_true(json_is_true(json_object_get(json_object_get(neu, "Config"), "OpenStdin")));
	ohc = json_object_get(old, "HostConfig");
	nhc = json_object_get(neu, "HostConfig");
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (!json_equal(json_object_get(ohc, keys[i]), json_object_get(nhc, keys[i])))
			fail_msg("HostConfig.%s differs in the new container", keys[i]);
	}
	json_decref(old);
	json_decref(img);
	json_decref(neu);
}

/* One group, so that tests/run-all.sh, which reads the last summary line,
 * counts every test. */
static int
run_all(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ping),
	    cmocka_unit_test(test_inspect_missing_container),
	    cmocka_unit_test(test_create_start_inspect),
	    cmocka_unit_test(test_list_has_containers),
	    cmocka_unit_test(test_start_stop_are_idempotent),
	    cmocka_unit_test(test_wait_state_timeout),
	    cmocka_unit_test(test_rename),
	    cmocka_unit_test(test_too_long_name_is_an_error),
	    cmocka_unit_test(test_name_collision),
	    cmocka_unit_test(test_image_inspect),
	    cmocka_unit_test(test_logs_demultiplexed),
	    cmocka_unit_test(test_logs_tty_raw),
	    cmocka_unit_test(test_error_names_request_status_and_message),
	    cmocka_unit_test(test_spec_round_trip),
	};

	return cmocka_run_group_tests_name("docker", tests, group_setup, group_teardown);
}

int
main(void)
{
	char script[PATH_MAX] = "";
	uint64_t until;
	pid_t pid, r;
	int status = 0;

	snprintf(world_dir, sizeof(world_dir), "/tmp/odc-docker-test.XXXXXX");
	if (mkdtemp(world_dir) == NULL) {
		fprintf(stderr, "test_docker: mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "test_docker: fork: %s\n", strerror(errno));
		rmdir(world_dir);
		return 1;
	}
	/* exit, not _exit: LeakSanitizer reports at exit. */
	if (pid == 0)
		exit(run_all() == 0 ? 0 : 1);

	/* The parent only cleans up, whatever became of the tests. */
	until = now_ms() + WATCHDOG_S * 1000u;
	for (;;) {
		r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			break;
		if (r < 0 && errno != EINTR) {
			fprintf(stderr, "test_docker: waitpid: %s\n", strerror(errno));
			status = 1 << 8;
			break;
		}
		if (now_ms() > until) {
			fprintf(stderr, "test_docker: still running after %d s, killed\n",
			        WATCHDOG_S);
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			status = 1 << 8;
			break;
		}
		usleep(50000);
	}
	if (find_script(script, sizeof(script)) != 0)
		script[0] = '\0';
	world_destroy(script);
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	fprintf(stderr, "test_docker: tests killed by signal %d\n",
	        WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	return 1;
}
