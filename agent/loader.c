/* obloader and obdumper: argv only (never a shell), a deadline that kills
 * the whole Java process tree, the password redacted everywhere we print,
 * and the tail of the tool's own error log in the result. The exit status
 * of a load proves nothing (a failed import may exit 0): callers verify. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/metadb.h"
#include "common/file.h"
#include "common/log.h"

static const char *const secret_opts[] = {"-p", "--password", "--sys-password", NULL};

/* mkdir -p for a path we build ourselves (components are ids). */
static int
mkdirs(const char *path, mode_t mode)
{
	char tmp[4096];
	size_t n = strlen(path);

	if (n >= sizeof(tmp))
		return -1;
	memcpy(tmp, path, n + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			if (mkdir(tmp, mode) != 0 && errno != EEXIST)
				return -1;
			*p = '/';
		}
	}
	return mkdir(tmp, mode) != 0 && errno != EEXIST ? -1 : 0;
}

/* The last bytes of a file, as text. */
static void
file_tail(const char *path, char *out, size_t outlen)
{
	char why[8];
	struct stat st;
	ssize_t n;
	off_t from;
	int fd = file_open_regular(AT_FDCWD, path, NULL, FILE_NOFOLLOW, &st, why, sizeof(why));

	out[0] = '\0';
	if (fd < 0)
		return;
	from = st.st_size > (off_t)(outlen - 1) ? st.st_size - (off_t)(outlen - 1) : 0;
	n = pread(fd, out, outlen - 1, from);
	out[n > 0 ? n : 0] = '\0';
	close(fd);
}

/* Kill what an earlier, interrupted run left working in workdir: a loader
 * leads its own process group, so a kill -9 of the agent orphans it, and
 * an orphaned obloader would go on writing while the step is run again.
 * Found by working directory, which is unique to (job, step). */
static void
kill_leftovers(const char *workdir)
{
	DIR *proc = opendir("/proc");
	struct dirent *de;
	char link[64], cwd[4200];
	size_t n = strlen(workdir);

	if (proc == NULL)
		return;
	while ((de = readdir(proc)) != NULL) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		ssize_t len;
		if (*end != '\0' || pid <= 1 || pid == (long)getpid())
			continue;
		snprintf(link, sizeof(link), "/proc/%ld/cwd", pid);
		len = readlink(link, cwd, sizeof(cwd) - 1);
		if (len <= 0)
			continue;
		cwd[len] = '\0';
		if (strncmp(cwd, workdir, n) == 0 && (cwd[n] == '\0' || cwd[n] == '/')) {
			pid_t pg = getpgid((pid_t)pid);
			log_warn("killing pid %ld left running in %s by an interrupted run", pid,
			         workdir);
			if (pg > 1 && pg != getpgrp())
				kill(-pg, SIGKILL);
			kill((pid_t)pid, SIGKILL);
		}
	}
	closedir(proc);
}

/* The tools are Java programs: env gets PATH, HOME, JAVA_HOME and LANG from
 * ours (a default PATH when none is set), nothing else. env holds at least
 * 6 entries and is NULL-terminated; its strings live in envbuf (the
 * caller's, 4 slots). */
static void
loader_env(const char **env, char envbuf[4][1024])
{
	static const char *const keep[] = {"PATH", "HOME", "JAVA_HOME", "LANG"};
	size_t e = 0;

	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
		const char *v = getenv(keep[i]);
		if (v != NULL && snprintf(envbuf[e], sizeof(envbuf[e]), "%s=%s", keep[i], v) <
		                     (int)sizeof(envbuf[e]))
			env[e] = envbuf[e], e++;
	}
	if (e == 0)
		env[e++] = "PATH=/usr/local/bin:/usr/bin:/bin";
	env[e] = NULL;
}

/* The strings argv points to besides the caller's: the port and thread
 * count in decimal. */
struct loader_argbuf {
	char port[16];
	char threads[16];
};

/* Fills argv (at least 40 slots, NULL-terminated) for one obdumper (dump)
 * or obloader run of tool on dir, its logs in logdir. argv points into c,
 * password, dir, logdir and ab, which must outlive it. */
static void
loader_argv(const char **argv, struct loader_argbuf *ab, const struct agent_conf *c,
            const char *tool, const char *password, const char *dir, const char *logdir, bool dump,
            bool skip_header)
{
	size_t a = 0;

	snprintf(ab->port, sizeof(ab->port), "%llu", (unsigned long long)c->db_port);
	snprintf(ab->threads, sizeof(ab->threads), "%llu", (unsigned long long)c->loader_threads);
	argv[a++] = tool;
	argv[a++] = "-h";
	argv[a++] = c->db_host;
	argv[a++] = "-P";
	argv[a++] = ab->port;
	argv[a++] = "-u";
	argv[a++] = c->db_user;
	if (password != NULL && *password != '\0') {
		argv[a++] = "-p";
		argv[a++] = password;
	}
	if (*c->db_cluster) {
		argv[a++] = "-c";
		argv[a++] = c->db_cluster;
	}
	if (*c->db_tenant) {
		argv[a++] = "-t";
		argv[a++] = c->db_tenant;
	}
	argv[a++] = "-D";
	argv[a++] = c->db_name;
	/* The restore creates the tables itself (restore.h): obloader loads
	 * only the data, into tables without foreign keys. */
	if (dump)
		argv[a++] = "--ddl";
	argv[a++] = "--csv";
	argv[a++] = "--all";
	argv[a++] = "--no-sys";
	argv[a++] = "--thread";
	argv[a++] = ab->threads;
	if (!dump) {
		/* Into empty tables: stop at the first bad or duplicate row
		 * instead of skipping it. */
		argv[a++] = "--max-errors";
		argv[a++] = "0";
		argv[a++] = "--max-discards";
		argv[a++] = "0";
		/* Said explicitly: without its MANIFEST.bin the tool would load
		 * the header line as a row. */
		if (skip_header)
			argv[a++] = "--skip-header";
	}
	/* Its logs go to our working directory, never into the backup (which
	 * may be read-only, and is the operator's): by default the tool
	 * writes them next to -f. */
	argv[a++] = "--log-path";
	argv[a++] = logdir;
	argv[a++] = "-f";
	argv[a++] = dir;
	argv[a] = NULL;
}

/* After the run: the tool's error log and output tails into run, the
 * password masked in both. */
static void
loader_collect(struct loader_run *run, const char *logdir, const char *password)
{
	char logpath[4300];

	snprintf(logpath, sizeof(logpath), "%s/ob-loader-dumper.error", logdir);
	file_tail(logpath, run->error_tail, sizeof(run->error_tail));
	snprintf(run->out_tail, sizeof(run->out_tail), "%s%s",
	         run->sr.out_tail ? run->sr.out_tail : "",
	         run->sr.err_tail ? run->sr.err_tail : "");
	/* A tool that echoes its own command line must not leak the password. */
	if (password != NULL && *password != '\0') {
		size_t pl = strlen(password);
		char *bufs[] = {run->error_tail, run->out_tail};
		for (size_t i = 0; i < 2; i++)
			for (char *p = strstr(bufs[i], password); p != NULL;
			     p = strstr(p + pl, password))
				memset(p, '*', pl);
	}
}

/* One run of tool (loader_dump, loader_load): its working directory made
 * (what an interrupted run left there killed), the run, its tails. Returns
 * 0 when the tool exited 0, 1 when it failed (run says how), -1 with a
 * message when it could not run. The caller frees run (loader_run_free). */
static int
run_tool(const struct agent_conf *c, const char *tool, const char *password, const char *job,
         const char *what, const char *dir, bool dump, bool skip_header, uint64_t deadline_ms,
         struct loader_run *run, char *err, size_t errlen)
{
	char logdir[4200], envbuf[4][1024], errbuf[256];
	const char *argv[40], *env[8];
	struct loader_argbuf ab;

	memset(run, 0, sizeof(*run));
	if (snprintf(run->workdir, sizeof(run->workdir), "%s/runs/%s/%s", c->state_dir, job,
	             what) >= (int)sizeof(run->workdir)) {
		snprintf(err, errlen, "work directory path too long");
		return -1;
	}
	kill_leftovers(run->workdir);
	snprintf(logdir, sizeof(logdir), "%s/logs", run->workdir);
	if (mkdirs(logdir, 0700) != 0) {
		snprintf(err, errlen, "%s: cannot create: %s", logdir, strerror(errno));
		return -1;
	}
	if (access(tool, X_OK) != 0) {
		snprintf(err, errlen, "%s: not executable: %s", tool, strerror(errno));
		return -1;
	}
	loader_env(env, envbuf);
	loader_argv(argv, &ab, c, tool, password, dir, logdir, dump, skip_header);
	log_redact_argv(argv, secret_opts, run->cmdline, sizeof(run->cmdline));
	log_info("%s: %s (in %s)", what, run->cmdline, run->workdir);

	struct spawn_opts o = {
	    .argv = argv,
	    .envp = env,
	    .cwd = run->workdir,
	    .deadline_ms = deadline_ms,
	    .stdout_tail = 4096,
	    .stderr_tail = 4096,
	};
	if (spawn_run(&o, &run->sr, errbuf, sizeof(errbuf)) != 0) {
		snprintf(err, errlen, "%s", errbuf);
		return -1;
	}
	loader_collect(run, logdir, password);
	return run->sr.exited && run->sr.exit_code == 0 ? 0 : 1;
}

int
loader_dump(const struct agent_conf *c, const char *password, const char *job, const char *what,
            const char *dir, uint64_t deadline_ms, struct loader_run *run, char *err, size_t errlen)
{
	return run_tool(c, c->obdumper, password, job, what, dir, true, false, deadline_ms, run,
	                err, errlen);
}

int
loader_load(const struct agent_conf *c, const char *password, const char *job, const char *what,
            const char *dir, bool skip_header, uint64_t deadline_ms, struct loader_run *run,
            char *err, size_t errlen)
{
	return run_tool(c, c->obloader, password, job, what, dir, false, skip_header, deadline_ms,
	                run, err, errlen);
}

void
loader_run_free(struct loader_run *run)
{
	if (run != NULL)
		spawn_result_free(&run->sr);
}
