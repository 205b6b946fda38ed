/* Running a child program without a shell: argv and env passed exactly, its own
 * process group, bounded output tails, and a deadline that kills the group. */
#ifndef ODC_COMMON_SPAWN_H
#define ODC_COMMON_SPAWN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Default time between SIGTERM and SIGKILL at the deadline. */
#define SPAWN_TERM_GRACE_MS 2000

struct spawn_opts {
	/* NULL-terminated; argv[0] is the program. With a '/' in it, it is run as
	 * is (posix_spawn); without one it is looked up in *our* PATH
	 * (posix_spawnp), not in envp. Daemons should pass absolute paths. */
	const char *const *argv;
	/* NULL-terminated "NAME=value" strings; NULL inherits our environment. */
	const char *const *envp;
	/* Working directory of the child; NULL keeps ours. */
	const char *cwd;
	/* Run time limit from the start; 0 means none. */
	uint64_t deadline_ms;
	/* After SIGTERM to the group at the deadline, SIGKILL follows this much
	 * later; 0 means SPAWN_TERM_GRACE_MS. */
	uint64_t term_grace_ms;
	/* How many bytes to keep of each stream (the last ones). */
	size_t stdout_tail;
	size_t stderr_tail;
	/* File to read as stdin; NULL means /dev/null. */
	const char *stdin_path;
};

struct spawn_result {
	int exited; /* the child exited; exit_code holds its status */
	int exit_code;
	int signaled; /* the child was killed; signal holds the number */
	int signal;
	int timed_out; /* the deadline passed and the group was signalled */
	uint64_t duration_ms;
	uint64_t deadline_ms; /* copied from the options, for spawn_describe */
	/* The last bytes of stdout/stderr, NUL-terminated, malloc'd; the length
	 * excludes the NUL (the output itself may hold NUL bytes). */
	char *out_tail;
	char *err_tail;
	size_t out_len;
	size_t err_len;
	uint64_t out_dropped; /* bytes not kept */
	uint64_t err_dropped;
	pid_t pid;
};

/*
 * Runs o->argv and waits for it. The child gets a new process group, an empty
 * signal mask and default dispositions (a daemon's ignored SIGPIPE is not
 * inherited), stdin from o->stdin_path, stdout/stderr on pipes, and no other
 * file descriptors. At the deadline the whole group gets SIGTERM, then SIGKILL
 * after the grace. When the child exits, whatever it left running in its group
 * is killed too (after a short wait for buffered output), so background
 * grandchildren can neither outlive the run nor hold it open through the pipes.
 * Processes that leave the group (setsid, setpgid) are beyond our reach.
 *
 * Returns 0 once the child has been reaped, whatever its outcome (see *r), or -1
 * with a message in err when it could not be started, e.g.
 * "spawn /nope: No such file or directory". *r is always initialised, so
 * spawn_result_free(r) is right on both paths.
 *
 * The caller must not ignore SIGCHLD or reap children with waitpid(-1, ...),
 * since either would steal the child's status.
 */
int spawn_run(const struct spawn_opts *o, struct spawn_result *r, char *err, size_t errlen);

/* Frees the tails of r and zeroes it; NULL is fine. */
void spawn_result_free(struct spawn_result *r);

/* Describes the outcome for people: "exited with status 3", "killed by signal 9
 * (deadline 2000 ms passed)". Returns 0, or -1 when out was too small (the text
 * is then cut). */
int spawn_describe(const struct spawn_result *r, char *out, size_t outlen);

#endif
