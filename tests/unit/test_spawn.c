/* Unit tests for common/spawn: exit status, signals, the deadline killing the
 * whole process group, bounded output, exact argv/env/stdin/cwd, and what the
 * child does not inherit. /bin/sh is used only as a test child program. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/spawn.h"

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Runs argv with generous tails and asserts that it could be started. */
static void
run(const char *const *argv, uint64_t deadline_ms, struct spawn_result *r)
{
	struct spawn_opts o;
	char err[256] = "";

	memset(&o, 0, sizeof(o));
	o.argv = argv;
	o.deadline_ms = deadline_ms;
	o.stdout_tail = 4096;
	o.stderr_tail = 4096;
	if (spawn_run(&o, r, err, sizeof(err)) != 0)
		fail_msg("spawn_run: %s", err);
}

/* Is pid gone (or a zombie waiting for init)? Waits up to 2 s for it to die. */
static int
pid_gone(long pid)
{
	char path[64], buf[512], *paren;
	FILE *f;
	size_t n;
	int i;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	for (i = 0; i < 200; i++) {
		f = fopen(path, "r");
		if (f == NULL)
			return 1;
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = '\0';
		paren = strrchr(buf, ')');
		if (paren == NULL || paren[1] == '\0' || paren[2] == 'Z' || paren[2] == 'X')
			return 1;
		usleep(10000);
	}
	return 0;
}

static void
test_exit_status(void **state)
{
	const char *const argv[] = {"/bin/sh", "-c", "echo out; echo err >&2; exit 3", NULL};
	struct spawn_result r;
	char desc[128];

	(void)state;
	run(argv, 0, &r);
	assert_true(r.exited);
	assert_false(r.signaled);
	assert_false(r.timed_out);
	assert_int_equal(r.exit_code, 3);
	assert_string_equal(r.out_tail, "out\n");
	assert_string_equal(r.err_tail, "err\n");
	assert_int_equal(r.out_len, 4);
	assert_true(r.pid > 0);
	assert_int_equal(spawn_describe(&r, desc, sizeof(desc)), 0);
	assert_string_equal(desc, "exited with status 3");
	assert_int_equal(spawn_describe(&r, desc, 5), -1);
	spawn_result_free(&r);
	spawn_result_free(NULL);
}

static void
test_killed_by_signal(void **state)
{
	const char *const argv[] = {"/bin/sh", "-c", "kill -9 $$", NULL};
	struct spawn_result r;
	char desc[128];

	(void)state;
	run(argv, 0, &r);
	assert_false(r.exited);
	assert_true(r.signaled);
	assert_int_equal(r.signal, 9);
	spawn_describe(&r, desc, sizeof(desc));
	assert_string_equal(desc, "killed by signal 9");
	spawn_result_free(&r);
}

static void
test_deadline_kills_child_and_grandchild(void **state)
{
	const char *const argv[] = {"/bin/sh", "-c", "sleep 30 & echo $!; sleep 30", NULL};
	struct spawn_result r;
	uint64_t t0, took;
	char desc[128];
	long grandchild;

	(void)state;
	t0 = now_ms();
	run(argv, 300, &r);
	took = now_ms() - t0;
	assert_true(took >= 300);
	assert_true(took < 3000);
	assert_true(r.timed_out);
	assert_true(r.signaled);
	assert_int_equal(r.signal, SIGTERM);
	assert_true(r.duration_ms >= 300 && r.duration_ms < 3000);
	spawn_describe(&r, desc, sizeof(desc));
	assert_string_equal(desc, "killed by signal 15 (deadline 300 ms passed)");
	grandchild = strtol(r.out_tail, NULL, 10);
	assert_true(grandchild > 1);
	assert_true(pid_gone(grandchild));
	spawn_result_free(&r);
}

static void
test_deadline_escalates_to_sigkill(void **state)
{
	/* The shell and its sleep ignore SIGTERM, so only SIGKILL ends them. */
	const char *const argv[] = {"/bin/sh", "-c", "trap '' TERM; sleep 30", NULL};
	struct spawn_opts o;
	struct spawn_result r;
	char err[256], desc[128];

	(void)state;
	memset(&o, 0, sizeof(o));
	o.argv = argv;
	o.deadline_ms = 200;
	o.term_grace_ms = 300;
	assert_int_equal(spawn_run(&o, &r, err, sizeof(err)), 0);
	assert_true(r.timed_out);
	assert_true(r.signaled);
	assert_int_equal(r.signal, SIGKILL);
	assert_true(r.duration_ms >= 500 && r.duration_ms < 3000);
	spawn_describe(&r, desc, sizeof(desc));
	assert_string_equal(desc, "killed by signal 9 (deadline 200 ms passed)");
	spawn_result_free(&r);
}

static void
test_background_leftovers_do_not_hold_the_run(void **state)
{
	/* The child exits at once but leaves a sleeper holding its stdout. */
	const char *const argv[] = {"/bin/sh", "-c", "sleep 30 & echo $!", NULL};
	struct spawn_result r;
	uint64_t t0;
	long left;

	(void)state;
	t0 = now_ms();
	run(argv, 0, &r);
	assert_true(now_ms() - t0 < 2000);
	assert_true(r.exited);
	assert_int_equal(r.exit_code, 0);
	assert_false(r.timed_out);
	left = strtol(r.out_tail, NULL, 10);
	assert_true(left > 1);
	assert_true(pid_gone(left));
	spawn_result_free(&r);
}

static void
test_stdout_tail_keeps_last_bytes(void **state)
{
	const char *const seq[] = {"/usr/bin/seq", "1", "200000", NULL};
	const char *const head[] = {"/usr/bin/head", "-c", "1048576", "/dev/zero", NULL};
	struct spawn_opts o;
	struct spawn_result r;
	char err[256], *all, zeros[100];
	size_t total = 0, i;

	(void)state;
	all = malloc(2000000);
	assert_non_null(all);
	for (i = 1; i <= 200000; i++)
		total += (size_t)snprintf(all + total, 2000000 - total, "%zu\n", i);

	memset(&o, 0, sizeof(o));
	o.argv = seq;
	o.stdout_tail = 64;
	assert_int_equal(spawn_run(&o, &r, err, sizeof(err)), 0);
	assert_int_equal(r.exit_code, 0);
	assert_int_equal(r.out_len, 64);
	assert_int_equal(r.out_dropped, total - 64);
	assert_string_equal(r.out_tail, all + total - 64);
	assert_int_equal(r.err_len, 0);
	assert_string_equal(r.err_tail, "");
	spawn_result_free(&r);
	free(all);

	o.argv = head;
	o.stdout_tail = 100;
	assert_int_equal(spawn_run(&o, &r, err, sizeof(err)), 0);
	assert_int_equal(r.exit_code, 0);
	assert_int_equal(r.out_len, 100);
	assert_int_equal(r.out_dropped, 1048576 - 100);
	memset(zeros, 0, sizeof(zeros));
	assert_memory_equal(r.out_tail, zeros, 100);
	spawn_result_free(&r);
}

static void
test_missing_program_is_an_error(void **state)
{
	const char *const abs[] = {"/nope/odc-none", "x", NULL};
	const char *const bare[] = {"odc-no-such-program", NULL};
	const char *const empty[] = {NULL};
	struct spawn_opts o;
	struct spawn_result r;
	char err[256];

	(void)state;
	memset(&o, 0, sizeof(o));
	o.argv = abs;
	assert_int_equal(spawn_run(&o, &r, err, sizeof(err)), -1);
	assert_string_equal(err, "spawn /nope/odc-none: No such file or directory");
	assert_null(r.out_tail);
	spawn_result_free(&r);
	o.argv = bare;
	assert_int_equal(spawn_run(&o, &r, err, sizeof(err)), -1);
	assert_string_equal(err, "spawn odc-no-such-program: No such file or directory");
	o.argv = empty;
	assert_int_equal(spawn_run(&o, &r, err, sizeof(err)), -1);
	assert_string_equal(err, "spawn: empty argv");
}

static void
test_env_and_argv_passed_exactly(void **state)
{
	const char *const env_argv[] = {"/usr/bin/env", NULL};
	const char *const envp[] = {"A=1", "B=two words", "C=$HOME;`id`", NULL};
	const char *const none[] = {NULL};
	const char *const printf_argv[] = {"/usr/bin/printf", "[%s]", "a b", "*",
	                                   "$(id)",           "",     NULL};
	struct spawn_opts o;
	struct spawn_result r;
	char err[256];

	(void)state;
	memset(&o, 0, sizeof(o));
	o.argv = env_argv;
	o.envp = envp;
	o.stdout_tail = 4096;
	assert_int_equal(spawn_run(&o, &r, err, sizeof(err)), 0);
	assert_string_equal(r.out_tail, "A=1\nB=two words\nC=$HOME;`id`\n");
	spawn_result_free(&r);
	o.envp = none;
	assert_int_equal(spawn_run(&o, &r, err, sizeof(err)), 0);
	assert_string_equal(r.out_tail, "");
	spawn_result_free(&r);
	o.argv = printf_argv;
	assert_int_equal(spawn_run(&o, &r, err, sizeof(err)), 0);
	assert_string_equal(r.out_tail, "[a b][*][$(id)][]");
	spawn_result_free(&r);
}

static void
test_stdin_and_cwd(void **state)
{
	const char *const cat[] = {"/bin/cat", NULL};
	const char *const pwd[] = {"/bin/pwd", NULL};
	char dir[] = "/tmp/odc-test-spawn-XXXXXX", path[128], err[256], want[160];
	struct spawn_opts o;
	struct spawn_result r;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/in.txt", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("hello from stdin\n", f);
	fclose(f);

	memset(&o, 0, sizeof(o));
	o.argv = cat;
	o.stdout_tail = 4096;
	/* Default stdin is /dev/null: cat ends at once with nothing. */
	assert_int_equal(spawn_run(&o, &r, err, sizeof(err)), 0);
	assert_int_equal(r.exit_code, 0);
	assert_string_equal(r.out_tail, "");
	spawn_result_free(&r);
	o.stdin_path = path;
	assert_int_equal(spawn_run(&o, &r, err, sizeof(err)), 0);
	assert_string_equal(r.out_tail, "hello from stdin\n");
	spawn_result_free(&r);

	o.stdin_path = NULL;
	o.argv = pwd;
	o.cwd = dir;
	assert_int_equal(spawn_run(&o, &r, err, sizeof(err)), 0);
	snprintf(want, sizeof(want), "%s\n", dir);
	assert_string_equal(r.out_tail, want);
	spawn_result_free(&r);
	o.cwd = "/nonexistent-odc-dir";
	assert_int_equal(spawn_run(&o, &r, err, sizeof(err)), -1);
	assert_string_equal(
	    err, "spawn /bin/pwd: working directory /nonexistent-odc-dir: No such file or "
	         "directory");
	o.cwd = NULL;
	o.stdin_path = "/nonexistent-odc-file";
	assert_int_equal(spawn_run(&o, &r, err, sizeof(err)), -1);
	assert_string_equal(err, "spawn: stdin /nonexistent-odc-file: No such file or directory");

	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

static void
test_child_gets_clean_signals_fds_and_own_group(void **state)
{
	const char *const grep[] = {"/usr/bin/grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status",
	                            NULL};
	const char *const stat[] = {"/bin/cat", "/proc/self/stat", NULL};
	char script[64];
	const char *const fdcheck[] = {"/bin/sh", "-c", script, NULL};
	struct sigaction ign, old;
	sigset_t block, oldmask;
	struct spawn_result r;
	long pgrp;
	char *p;
	int fd, i;

	(void)state;
	/* A daemon typically ignores SIGPIPE and may block signals in threads. */
	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	assert_int_equal(sigaction(SIGPIPE, &ign, &old), 0);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	assert_int_equal(sigprocmask(SIG_BLOCK, &block, &oldmask), 0);
	run(grep, 0, &r);
	assert_int_equal(strncmp(r.out_tail, "SigBlk:\t0000000000000000\nSigIgn:\t", 33), 0);
	/* Signals 1-31 must all be at their defaults. glibc's posix_spawn itself
	 * leaves its internal signals 32 and 33 ignored; programs built on glibc
	 * install their own handlers for those, so they are not checked. */
	assert_int_equal(strtoull(r.out_tail + 33, NULL, 16) & 0x7fffffffULL, 0);
	spawn_result_free(&r);
	sigprocmask(SIG_SETMASK, &oldmask, NULL);
	sigaction(SIGPIPE, &old, NULL);

	/* An fd we opened without O_CLOEXEC does not reach the child. */
	fd = open("/dev/null", O_RDONLY);
	assert_true(fd > 2);
	snprintf(script, sizeof(script), "test -e /proc/self/fd/%d", fd);
	run(fdcheck, 0, &r);
	assert_int_equal(r.exit_code, 1);
	spawn_result_free(&r);
	close(fd);

	/* The child leads its own process group. */
	run(stat, 0, &r);
	p = strrchr(r.out_tail, ')');
	assert_non_null(p);
	for (i = 0; i < 3; i++)
		p = strchr(p + 1, ' ');
	pgrp = strtol(p + 1, NULL, 10);
	assert_int_equal(pgrp, r.pid);
	spawn_result_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_exit_status),
	    cmocka_unit_test(test_killed_by_signal),
	    cmocka_unit_test(test_deadline_kills_child_and_grandchild),
	    cmocka_unit_test(test_deadline_escalates_to_sigkill),
	    cmocka_unit_test(test_background_leftovers_do_not_hold_the_run),
	    cmocka_unit_test(test_stdout_tail_keeps_last_bytes),
	    cmocka_unit_test(test_missing_program_is_an_error),
	    cmocka_unit_test(test_env_and_argv_passed_exactly),
	    cmocka_unit_test(test_stdin_and_cwd),
	    cmocka_unit_test(test_child_gets_clean_signals_fds_and_own_group),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
