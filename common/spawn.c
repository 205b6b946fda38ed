/* Runs a child with posix_spawn, collects bounded output tails, enforces a
 * deadline on its whole process group (see spawn.h). */
#include "common/clock.h"
#include "common/spawn.h"

#include "common/buf.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* closefrom (glibc 2.34) and chdir (2.29) file actions are glibc extensions. */
#if defined(__GLIBC__) && defined(__GLIBC_PREREQ)
#if __GLIBC_PREREQ(2, 34)
#define SPAWN_HAVE_CLOSEFROM 1
#endif
#if __GLIBC_PREREQ(2, 29)
#define SPAWN_HAVE_CHDIR 1
#endif
#endif
#ifndef SPAWN_HAVE_CLOSEFROM
#define SPAWN_HAVE_CLOSEFROM 0
#endif
#ifndef SPAWN_HAVE_CHDIR
#define SPAWN_HAVE_CHDIR 0
#endif

/* How long to keep reading after the child exits while something else in its
 * group still holds the pipes; then the group is killed. */
#define SPAWN_LINGER_MS 250
/* Without a pidfd, how often to look whether the child has exited. */
#define SPAWN_TICK_MS 50
#define SPAWN_CHUNK   16384

struct spawn_stream {
	int fd;
	struct tail t;
};

/* posix_spawn's prototype predates const; it does not modify argv or envp. */
static char *const *
spawn_unconst(const char *const *v)
{
	union {
		const char *const *c;
		char *const *m;
	} u;

	u.c = v;
	return u.m;
}

/* Moves fd above 0-2: if we were started with a standard descriptor closed, a
 * new fd could be 0, 1 or 2, and dup2 onto itself would keep O_CLOEXEC. */
static int
spawn_fd_high(int fd)
{
	int nfd;

	if (fd < 0 || fd > 2)
		return fd;
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	close(fd);
	return nfd;
}

static void
spawn_close(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

/* Reads what is there, at most max_reads times; closes the stream at EOF or on
 * a read error. */
static void
spawn_drain(struct spawn_stream *s, int max_reads)
{
	char chunk[SPAWN_CHUNK];
	ssize_t n;
	int i;

	for (i = 0; i < max_reads && s->fd >= 0; i++) {
		n = read(s->fd, chunk, sizeof(chunk));
		if (n > 0) {
			tail_push(&s->t, chunk, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		spawn_close(&s->fd);
	}
}

/* Has the child exited? WNOWAIT leaves it a zombie, so its pid (and with it
 * the process group id) cannot be reused before we signal the group. ECHILD
 * (someone else reaped it) counts as exited, to end the loop. */
static int
spawn_exited(pid_t pid)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0)
		return errno == ECHILD;
	return si.si_pid == pid;
}

/* A pidfd becomes readable when the child exits, so poll can wait for output
 * and exit at once. Older kernels lack it; then we look every SPAWN_TICK_MS. */
static int
spawn_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
	long fd = syscall(SYS_pidfd_open, pid, 0);

	if (fd >= 0)
		return (int)fd;
#endif
	(void)pid;
	return -1;
}

static int
spawn_ms_to_timeout(uint64_t ms)
{
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

/* Opens the child's stdin. O_NONBLOCK so a FIFO cannot hang us here; the flag
 * is cleared again since the child expects an ordinary blocking stdin. */
static int
spawn_open_stdin(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK), fl;

	if (fd < 0) {
		snprintf(err, errlen, "spawn: stdin %s: %s", path, strerror(errno));
		return -1;
	}
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
		snprintf(err, errlen, "spawn: stdin %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	fd = spawn_fd_high(fd);
	if (fd < 0)
		snprintf(err, errlen, "spawn: stdin %s: %s", path, strerror(errno));
	return fd;
}

static int
spawn_pipe(int p[2], char *err, size_t errlen)
{
	int fl;

	if (pipe2(p, O_CLOEXEC) != 0) {
		snprintf(err, errlen, "spawn: pipe: %s", strerror(errno));
		return -1;
	}
	p[0] = spawn_fd_high(p[0]);
	p[1] = spawn_fd_high(p[1]);
	if (p[0] < 0 || p[1] < 0) {
		snprintf(err, errlen, "spawn: pipe: %s", strerror(errno));
		return -1;
	}
	/* Our end is non-blocking so one full read never stalls the loop. */
	fl = fcntl(p[0], F_GETFL);
	if (fl < 0 || fcntl(p[0], F_SETFL, fl | O_NONBLOCK) != 0) {
		snprintf(err, errlen, "spawn: pipe: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Fills the attributes: own process group, empty mask, default dispositions
 * for every signal (an inherited SIG_IGN would survive exec otherwise). */
static int
spawn_set_attr(posix_spawnattr_t *attr)
{
	sigset_t none, dfl;

	sigemptyset(&none);
	sigfillset(&dfl);
	sigdelset(&dfl, SIGKILL);
	sigdelset(&dfl, SIGSTOP);
	if (posix_spawnattr_setflags(attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
	                                       POSIX_SPAWN_SETSIGDEF) != 0 ||
	    posix_spawnattr_setpgroup(attr, 0) != 0 ||
	    posix_spawnattr_setsigmask(attr, &none) != 0 ||
	    posix_spawnattr_setsigdefault(attr, &dfl) != 0)
		return -1;
	return 0;
}

static int
spawn_set_actions(posix_spawn_file_actions_t *fa, int in_fd, int out_fd, int err_fd,
                  const char *cwd)
{
	if (posix_spawn_file_actions_adddup2(fa, in_fd, 0) != 0 ||
	    posix_spawn_file_actions_adddup2(fa, out_fd, 1) != 0 ||
	    posix_spawn_file_actions_adddup2(fa, err_fd, 2) != 0)
		return -1;
#if SPAWN_HAVE_CLOSEFROM
	/* Descriptors a library opened without O_CLOEXEC must not leak either. */
	if (posix_spawn_file_actions_addclosefrom_np(fa, 3) != 0)
		return -1;
#endif
	if (cwd != NULL) {
#if SPAWN_HAVE_CHDIR
		if (posix_spawn_file_actions_addchdir_np(fa, cwd) != 0)
			return -1;
#else
		errno = ENOSYS;
		return -1;
#endif
	}
	return 0;
}

/* The poll loop: reads both streams until the child has exited and its
 * streams are closed (or the linger passed), signalling at the deadline. */
static void
spawn_watch(const struct spawn_opts *o, pid_t pid, int pidfd, uint64_t start,
            struct spawn_stream *out, struct spawn_stream *errs, struct spawn_result *r)
{
	uint64_t deadline = o->deadline_ms != 0 ? start + o->deadline_ms : 0;
	uint64_t grace = o->term_grace_ms != 0 ? o->term_grace_ms : SPAWN_TERM_GRACE_MS;
	uint64_t kill_at = 0, linger_until = 0, now, wait_ms;
	struct pollfd pfd[3];
	struct spawn_stream *who[3];
	int exited = 0, termed = 0, killed = 0, timeout, nfds, i, n;

	for (;;) {
		now = clock_mono_ms();
		if (!exited && spawn_exited(pid)) {
			exited = 1;
			linger_until = now + SPAWN_LINGER_MS;
		}
		if (exited && ((out->fd < 0 && errs->fd < 0) || now >= linger_until))
			break;
		if (!exited && deadline != 0 && !termed && now >= deadline) {
			kill(-pid, SIGTERM);
			termed = 1;
			r->timed_out = 1;
			kill_at = now + grace;
		}
		if (!exited && termed && !killed && now >= kill_at) {
			kill(-pid, SIGKILL);
			killed = 1;
		}

		wait_ms = UINT64_MAX;
		if (exited)
			wait_ms = linger_until - now;
		else if (deadline != 0 && !termed)
			wait_ms = deadline - now;
		else if (termed && !killed)
			wait_ms = kill_at - now;
		if (!exited && pidfd < 0 && wait_ms > SPAWN_TICK_MS)
			wait_ms = SPAWN_TICK_MS;
		timeout = wait_ms == UINT64_MAX ? -1 : spawn_ms_to_timeout(wait_ms);

		nfds = 0;
		if (out->fd >= 0) {
			pfd[nfds] = (struct pollfd){.fd = out->fd, .events = POLLIN};
			who[nfds++] = out;
		}
		if (errs->fd >= 0) {
			pfd[nfds] = (struct pollfd){.fd = errs->fd, .events = POLLIN};
			who[nfds++] = errs;
		}
		if (!exited && pidfd >= 0) {
			pfd[nfds] = (struct pollfd){.fd = pidfd, .events = POLLIN};
			who[nfds++] = NULL;
		}
		n = poll(pfd, (nfds_t)nfds, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* Cannot wait properly any more: end the run rather than spin. */
			kill(-pid, SIGKILL);
			break;
		}
		for (i = 0; i < nfds; i++) {
			if (who[i] != NULL && pfd[i].revents != 0)
				spawn_drain(who[i], 8);
		}
	}
}

/* One run's resources, from spawn_child_prepare() to spawn_child_close(),
 * both called by spawn_run(), which owns it: every descriptor is -1 or
 * open, fa and attr are live when their _ok flag is set. */
struct spawn_child {
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	int fa_ok, attr_ok;
	int in_fd, outp[2], errp[2], pidfd;
	struct spawn_stream out, errs;
	pid_t pid;
	uint64_t start;
};

/* Checks o: an argv, a working directory that is one. 0, or -1 with err. */
static int
spawn_check(const struct spawn_opts *o, char *err, size_t errlen)
{
	struct stat st;

	if (o->argv == NULL || o->argv[0] == NULL || o->argv[0][0] == '\0') {
		snprintf(err, errlen, "spawn: empty argv");
		return -1;
	}
	/* Checked here only for a clear message; chdir in the child still decides. */
	if (o->cwd != NULL && stat(o->cwd, &st) != 0) {
		snprintf(err, errlen, "spawn %s: working directory %s: %s", o->argv[0], o->cwd,
		         strerror(errno));
		return -1;
	}
	if (o->cwd != NULL && !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "spawn %s: working directory %s: not a directory", o->argv[0],
		         o->cwd);
		return -1;
	}
	return 0;
}

/* Opens what the child needs (ch zeroed with every fd -1 by the caller):
 * the tails, stdin, both pipes, the file actions and attributes. 0, or -1
 * with err; spawn_child_close() frees what was opened either way. */
static int
spawn_child_prepare(const struct spawn_opts *o, struct spawn_child *ch, char *err, size_t errlen)
{
	const char *argv0 = o->argv[0];

	if (tail_init(&ch->out.t, o->stdout_tail) != 0 ||
	    tail_init(&ch->errs.t, o->stderr_tail) != 0) {
		snprintf(err, errlen, "spawn %s: out of memory", argv0);
		return -1;
	}
	ch->in_fd =
	    spawn_open_stdin(o->stdin_path != NULL ? o->stdin_path : "/dev/null", err, errlen);
	if (ch->in_fd < 0 || spawn_pipe(ch->outp, err, errlen) != 0 ||
	    spawn_pipe(ch->errp, err, errlen) != 0)
		return -1;
	if (posix_spawn_file_actions_init(&ch->fa) != 0) {
		snprintf(err, errlen, "spawn %s: out of memory", argv0);
		return -1;
	}
	ch->fa_ok = 1;
	if (posix_spawnattr_init(&ch->attr) != 0) {
		snprintf(err, errlen, "spawn %s: out of memory", argv0);
		return -1;
	}
	ch->attr_ok = 1;
	if (spawn_set_actions(&ch->fa, ch->in_fd, ch->outp[1], ch->errp[1], o->cwd) != 0 ||
	    spawn_set_attr(&ch->attr) != 0) {
		snprintf(err, errlen, "spawn %s: cannot set up: %s", argv0, strerror(errno));
		return -1;
	}
	return 0;
}

/* Starts the child: ch->pid and ch->start set, our copies of its ends of
 * the pipes closed, ours moved to the streams, a pidfd when the kernel has
 * them. 0, or -1 with err when it could not be started. */
static int
spawn_child_start(const struct spawn_opts *o, struct spawn_child *ch, char *err, size_t errlen)
{
	const char *argv0 = o->argv[0];
	char *const *envp = o->envp != NULL ? spawn_unconst(o->envp) : environ;
	int rc;

	ch->start = clock_mono_ms();
	/* A name with a '/' is exactly that file (posix_spawn); a bare name is
	 * searched in our PATH (posix_spawnp), a convenience for tools only: the
	 * daemons pass absolute paths so that PATH never chooses what runs. glibc
	 * reports exec failures through the return value (it uses CLONE_VFORK). */
	if (strchr(argv0, '/') != NULL)
		rc = posix_spawn(&ch->pid, argv0, &ch->fa, &ch->attr, spawn_unconst(o->argv), envp);
	else
		rc =
		    posix_spawnp(&ch->pid, argv0, &ch->fa, &ch->attr, spawn_unconst(o->argv), envp);
	if (rc != 0) {
		snprintf(err, errlen, "spawn %s: %s", argv0, strerror(rc));
		return -1;
	}
	/* Our copies of the child's ends must go, or EOF would never come. */
	spawn_close(&ch->in_fd);
	spawn_close(&ch->outp[1]);
	spawn_close(&ch->errp[1]);
	ch->out.fd = ch->outp[0];
	ch->outp[0] = -1;
	ch->errs.fd = ch->errp[0];
	ch->errp[0] = -1;
	ch->pidfd = spawn_pidfd(ch->pid);
	return 0;
}

/* After spawn_watch(): what the child left in its group killed, the rest
 * of its output read, the child reaped and its outcome in r. 0, or -1 with
 * err when its exit status was lost. */
static int
spawn_child_reap(const struct spawn_opts *o, struct spawn_child *ch, struct spawn_result *r,
                 char *err, size_t errlen)
{
	int rc, status = 0;

	/* The child is gone; whatever it left in its group goes too. The zombie
	 * still holds the group id, so this cannot hit an unrelated group. */
	kill(-ch->pid, SIGKILL);
	spawn_drain(&ch->out, 64);
	spawn_drain(&ch->errs, 64);
	while ((rc = (int)waitpid(ch->pid, &status, 0)) < 0 && errno == EINTR)
		;
	r->duration_ms = clock_mono_ms() - ch->start;
	if (rc < 0) {
		snprintf(err, errlen, "spawn %s: lost the child's exit status: %s", o->argv[0],
		         strerror(errno));
		return -1;
	}
	if (WIFEXITED(status)) {
		r->exited = 1;
		r->exit_code = WEXITSTATUS(status);
	} else if (WIFSIGNALED(status)) {
		r->signaled = 1;
		r->signal = WTERMSIG(status);
	}
	return 0;
}

/* Copies the output tails into r (malloc'd, r's). 0, or -1 with err when
 * out of memory (r's tails are then freed by spawn_run). */
static int
spawn_child_tails(const struct spawn_opts *o, struct spawn_child *ch, struct spawn_result *r,
                  char *err, size_t errlen)
{
	r->out_tail = malloc(ch->out.t.len + 1);
	r->err_tail = malloc(ch->errs.t.len + 1);
	if (r->out_tail == NULL || r->err_tail == NULL) {
		snprintf(err, errlen, "spawn %s: out of memory", o->argv[0]);
		return -1;
	}
	r->out_len = tail_copy(&ch->out.t, r->out_tail, ch->out.t.len + 1);
	r->err_len = tail_copy(&ch->errs.t, r->err_tail, ch->errs.t.len + 1);
	r->out_dropped = ch->out.t.dropped;
	r->err_dropped = ch->errs.t.dropped;
	return 0;
}

/* Closes and frees whatever of ch is open (see struct spawn_child). */
static void
spawn_child_close(struct spawn_child *ch)
{
	spawn_close(&ch->in_fd);
	spawn_close(&ch->outp[0]);
	spawn_close(&ch->outp[1]);
	spawn_close(&ch->errp[0]);
	spawn_close(&ch->errp[1]);
	spawn_close(&ch->out.fd);
	spawn_close(&ch->errs.fd);
	spawn_close(&ch->pidfd);
	tail_free(&ch->out.t);
	tail_free(&ch->errs.t);
	if (ch->fa_ok)
		posix_spawn_file_actions_destroy(&ch->fa);
	if (ch->attr_ok)
		posix_spawnattr_destroy(&ch->attr);
}

int
spawn_run(const struct spawn_opts *o, struct spawn_result *r, char *err, size_t errlen)
{
	struct spawn_child ch = {.in_fd = -1,
	                         .outp = {-1, -1},
	                         .errp = {-1, -1},
	                         .pidfd = -1,
	                         .out = {.fd = -1},
	                         .errs = {.fd = -1},
	                         .pid = -1};
	int ret = -1;

	memset(r, 0, sizeof(*r));
	r->deadline_ms = o->deadline_ms;
	if (spawn_check(o, err, errlen) != 0 || spawn_child_prepare(o, &ch, err, errlen) != 0 ||
	    spawn_child_start(o, &ch, err, errlen) != 0)
		goto out;
	r->pid = ch.pid;
	spawn_watch(o, ch.pid, ch.pidfd, ch.start, &ch.out, &ch.errs, r);
	if (spawn_child_reap(o, &ch, r, err, errlen) != 0 ||
	    spawn_child_tails(o, &ch, r, err, errlen) != 0)
		goto out;
	ret = 0;
out:
	if (ret != 0) {
		free(r->out_tail);
		free(r->err_tail);
		r->out_tail = NULL;
		r->err_tail = NULL;
	}
	spawn_child_close(&ch);
	return ret;
}

void
spawn_result_free(struct spawn_result *r)
{
	if (r == NULL)
		return;
	free(r->out_tail);
	free(r->err_tail);
	memset(r, 0, sizeof(*r));
}

int
spawn_describe(const struct spawn_result *r, char *out, size_t outlen)
{
	char extra[64] = "";
	int n;

	if (r->timed_out)
		snprintf(extra, sizeof(extra), " (deadline %llu ms passed)",
		         (unsigned long long)r->deadline_ms);
	if (r->exited)
		n = snprintf(out, outlen, "exited with status %d%s", r->exit_code, extra);
	else if (r->signaled)
		n = snprintf(out, outlen, "killed by signal %d%s", r->signal, extra);
	else
		n = snprintf(out, outlen, "did not run");
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}
