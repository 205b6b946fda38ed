/* prune: the kept containers and safety snapshots of rollbacks and
 * upgrades, and the containers undos (and upgrades' reverts) set aside,
 * beyond the agent's [retention], removed oldest first; the journal says
 * whose each is, and what the latest undo or revert or an unfinished job
 * needs is never touched. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "agent/plan.h"
#include "agent/prune.h"

#define TREE_DEPTH_MAX 64

/* What each action's phase leaves: a container renamed
 * <name><suffix><time>, its facts recorded under the job's id and
 * facts_suffix (a revert's are "<job>" PLAN_REVERT_FACTS, plan.h). */
static const struct prune_kind {
	const char *action, *suffix, *phase, *facts_suffix;
} kinds[] = {
    /* and its safety snapshot; its undo needs both */
    {"rollback", "-rolledback-", "run", ""},
    /* and its snapshot, the upgrade's backup: its revert (or undo) needs both */
    {"upgrade", "-upgraded-", "run", ""},
    /* nothing needs these: kept for a look, within retention */
    {"undo", "-undone-", "run", ""},
    {"upgrade", "-undone-", "revert", PLAN_REVERT_FACTS},
};

/* One rollback (or undo) of the journal and what it left. */
struct prune_job {
	const struct journal_plan *p;
	char *renamed, *old_id, *snap;
	char name[130]; /* the container name it kept a container of */
	bool put_back;  /* it failed and put its container back: nothing to undo */
	bool unfinished;
};

static void __attribute__((format(printf, 2, 3)))
line(struct prune_report *rep, const char *fmt, ...)
{
	char l[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(l, sizeof(l), fmt, ap);
	va_end(ap);
	/* A full list keeps its first lines: the newest rollbacks come first. */
	if (rep->list_cut || (rep->list.len + strlen(l) + 1 <= PRUNE_LIST_MAX &&
	                      buf_appendf(&rep->list, "%s\n", l) == 0))
		return;
	rep->list_cut = true;
	(void)buf_appendf(&rep->list, "... (list cut)\n");
}

static void
when(uint64_t ms, char *out, size_t outlen)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(out, outlen, "%Y-%m-%d %H:%M UTC", &tm) == 0)
		snprintf(out, outlen, "?");
}

static void
mib(uint64_t bytes, char *out, size_t outlen)
{
	snprintf(out, outlen, "%.1f MiB", (double)bytes / (1024.0 * 1024.0));
}

/* Sums the bytes of the regular files under name (in dirfd), and removes
 * it when remove is set. Symlinks are removed, never followed; a mount
 * point below is not entered (openat would cross it: refused instead). */
static int
tree(int dirfd, const char *name, bool remove, dev_t dev, uint64_t *bytes, int depth, char *err,
     size_t errlen)
{
	struct stat st;
	struct dirent *e;
	DIR *dir;
	int fd, ret = 0;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		snprintf(err, errlen, "%s: %s", name, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		if (S_ISREG(st.st_mode))
			*bytes += (uint64_t)st.st_size;
		if (remove && unlinkat(dirfd, name, 0) != 0) {
			snprintf(err, errlen, "%s: %s", name, strerror(errno));
			return -1;
		}
		return 0;
	}
	if (depth > TREE_DEPTH_MAX || st.st_dev != dev) {
		snprintf(err, errlen, "%s: %s", name,
		         depth > TREE_DEPTH_MAX ? "nested too deep" : "another file system");
		return -1;
	}
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || (dir = fdopendir(fd)) == NULL) {
		snprintf(err, errlen, "%s: %s", name, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while (ret == 0 && (e = readdir(dir)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		ret = tree(fd, e->d_name, remove, dev, bytes, depth + 1, err, errlen);
	}
	closedir(dir);
	if (ret == 0 && remove && unlinkat(dirfd, name, AT_REMOVEDIR) != 0) {
		snprintf(err, errlen, "%s: %s", name, strerror(errno));
		ret = -1;
	}
	return ret;
}

/* The snapshot directory's name when snap lies right under root, else NULL. */
static const char *
snap_base(const char *root, const char *snap)
{
	size_t n = strlen(root);
	const char *b = snap + n + 1;

	if (strncmp(snap, root, n) != 0 || snap[n] != '/' || *b == '\0' || strchr(b, '/') != NULL ||
	    strcmp(b, ".") == 0 || strcmp(b, "..") == 0)
		return NULL;
	return b;
}

/* Is name base ".partial-N" (a partial snapshot the plan set aside)? */
static bool
is_partial_of(const char *name, const char *base)
{
	size_t n = strlen(base);
	const char *p = name + n;

	if (strncmp(name, base, n) != 0 || strncmp(p, ".partial-", 9) != 0 || p[9] == '\0')
		return false;
	return strspn(p + 9, "0123456789") == strlen(p + 9);
}

/* The snapshot of rollback b (and its partial ones): removed, or in a dry
 * run measured. *found is set when there was anything. 0 or -1 (err). */
static int
snap_remove(const char *root, const char *base, bool dry_run, uint64_t *bytes, int *found,
            char *err, size_t errlen)
{
	struct stat st;
	struct dirent *e;
	DIR *dir;
	int fd, ret = 0;

	*found = 0;
	fd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", root, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || (dir = fdopendir(fd)) == NULL) {
		snprintf(err, errlen, "%s: %s", root, strerror(errno));
		close(fd);
		return -1;
	}
	while (ret == 0 && (e = readdir(dir)) != NULL) {
		struct stat es;
		if (strcmp(e->d_name, base) != 0 && !is_partial_of(e->d_name, base))
			continue;
		/* A snapshot is a directory the plan made; anything else by that
		 * name is not its to remove. */
		if (fstatat(fd, e->d_name, &es, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(es.st_mode)) {
			snprintf(err, errlen, "%s/%s: not a directory (left alone)", root,
			         e->d_name);
			ret = -1;
			break;
		}
		(*found)++;
		ret = tree(fd, e->d_name, !dry_run, st.st_dev, bytes, 0, err, errlen);
		if (ret != 0) {
			char inner[512];
			snprintf(inner, sizeof(inner), "%s", err);
			snprintf(err, errlen, "%s/%s", root, inner);
		}
	}
	closedir(dir);
	return ret;
}

/* Why the leftovers of b stay (NULL: they go). rank: b's place among its
 * container name's rollbacks (or upgrades), newest 0. */
static const char *
why_kept(const struct agent_conf *c, const struct prune_job *b, const struct prune_job *latest,
         size_t rank, uint64_t now_ms, char *why, size_t whylen)
{
	if (b == latest && strcmp(b->p->action, "upgrade") == 0) {
		snprintf(why, whylen,
		         "the latest upgrade of %s: its revert (odc-agent run upgrade --job %s "
		         "--phase revert, or odc-agent run undo --of %s) needs it",
		         b->name, b->p->job_id, b->p->job_id);
		return why;
	}
	if (b == latest) {
		snprintf(why, whylen,
		         "the latest rollback of %s: its undo (odc-agent run undo --of %s; fleet: "
		         "odcctl "
		         "undo --of %s) needs it",
		         b->name, b->p->job_id, b->p->job_id);
		return why;
	}
	if (b->unfinished) {
		snprintf(
		    why, whylen,
		    "job %s is unfinished (its plan is running or was interrupted: the daemon or "
		    "odc-agent resume ends it)",
		    b->p->job_id);
		return why;
	}
	if (rank >= c->retention_keep)
		return NULL;
	if (c->retention_max_age_ms > 0 && now_ms > b->p->created_ms &&
	    now_ms - b->p->created_ms > c->retention_max_age_ms)
		return NULL;
	snprintf(why, whylen, "within retention keep=%llu%s", (unsigned long long)c->retention_keep,
	         c->retention_max_age_ms > 0 ? " and max_age" : "");
	return why;
}

/* Why rollback b's leftovers go, for the list. */
static void
why_gone(const struct agent_conf *c, size_t rank, char *why, size_t whylen)
{
	if (rank >= c->retention_keep)
		snprintf(why, whylen, "beyond retention keep=%llu",
		         (unsigned long long)c->retention_keep);
	else
		snprintf(why, whylen, "older than retention max_age=%llus",
		         (unsigned long long)(c->retention_max_age_ms / 1000));
}

/* The kept container of b: listed as kept (why), or removed. */
static void
container_one(const struct prune_job *b, struct docker *d, bool dry_run, const char *why,
              const char *whose, struct prune_report *rep)
{
	struct docker_container ct;
	char err[512];
	int rc;

	if (b->renamed == NULL)
		return;
	rc = docker_container_inspect(d, b->renamed, &ct, NULL, err, sizeof(err));
	if (rc == 1)
		return; /* gone: undone (renamed back), or removed before */
	if (rc != 0) {
		line(rep, "FAILED container %s (%s): %s", b->renamed, whose, err);
		rep->failed++;
		return;
	}
	if (why != NULL) {
		line(rep, "kept container %s (%s): %s", b->renamed, whose, why);
		rep->kept++;
		rep->kept_containers++;
		return;
	}
	if (b->old_id != NULL && strcmp(ct.id, b->old_id) != 0) {
		line(rep,
		     "kept container %s (%s): it is %.12s, not the %.12s that rollback kept: left "
		     "alone",
		     b->renamed, whose, ct.id, b->old_id);
		rep->kept++;
		rep->kept_containers++;
		return;
	}
	if (strcmp(ct.state, "running") == 0 || strcmp(ct.state, "restarting") == 0 ||
	    strcmp(ct.state, "paused") == 0) {
		line(rep, "kept container %s (%s): it is %s (started again by someone): left alone",
		     b->renamed, whose, ct.state);
		rep->kept++;
		rep->kept_containers++;
		return;
	}
	if (!dry_run && docker_container_remove(d, ct.id, err, sizeof(err)) < 0) {
		line(rep, "FAILED to remove container %s (%s): %s", b->renamed, whose, err);
		rep->failed++;
		return;
	}
	line(rep, "%s container %s (%s, %s)", dry_run ? "would remove" : "removed", b->renamed,
	     whose, ct.image);
	rep->removed++;
	rep->containers++;
}

/* The safety snapshot of b: listed as kept (why), or removed. */
static void
snapshot_one(const struct agent_conf *c, const struct prune_job *b, bool dry_run, const char *why,
             const char *whose, struct prune_report *rep)
{
	const char *base;
	char err[1024], size[32];
	uint64_t bytes = 0;
	int found = 0;

	if (b->snap == NULL)
		return;
	if ((base = snap_base(c->snapshot_root, b->snap)) == NULL) {
		struct stat st;
		if (lstat(b->snap, &st) == 0) {
			line(rep,
			     "kept snapshot %s (%s): not right under the snapshot_root %s "
			     "configured now: left "
			     "alone",
			     b->snap, whose, c->snapshot_root);
			rep->kept++;
			rep->kept_snapshots++;
		}
		return;
	}
	if (why != NULL) {
		if (snap_remove(c->snapshot_root, base, true, &bytes, &found, err, sizeof(err)) ==
		        0 &&
		    found) {
			mib(bytes, size, sizeof(size));
			line(rep, "kept snapshot %s (%s, %s): %s", b->snap, whose, size, why);
			rep->kept++;
			rep->kept_snapshots++;
		}
		return;
	}
	if (snap_remove(c->snapshot_root, base, dry_run, &bytes, &found, err, sizeof(err)) != 0) {
		line(rep, "FAILED to remove snapshot %s (%s): %s", b->snap, whose, err);
		rep->failed++;
		return;
	}
	if (!found)
		return;
	mib(bytes, size, sizeof(size));
	line(rep, "%s snapshot %s%s (%s, %s)", dry_run ? "would remove" : "removed", b->snap,
	     found > 1 ? " and the partial ones set aside next to it" : "", whose, size);
	rep->removed++;
	rep->snapshots++;
	rep->freed_bytes += bytes;
}

/* The rollback or upgrade jobs that unfinished plans need: running ones,
 * an upgrade whose revert runs, and what a running undo walks back. */
static void
mark_unfinished(struct journal *j, struct prune_job *jobs, size_t n)
{
	struct journal_plan *undos = NULL;
	size_t nu = 0;
	char err[256];

	for (size_t i = 0; i < n; i++) {
		struct journal_plan rv = {0};
		jobs[i].unfinished = strcmp(jobs[i].p->state, "running") == 0;
		if (journal_plan_get(j, jobs[i].p->job_id, "revert", &rv, err, sizeof(err)) == 0 &&
		    strcmp(rv.state, "running") == 0)
			jobs[i].unfinished = true;
		journal_plan_clear(&rv);
	}
	if (journal_plan_list(j, "undo", "run", &undos, &nu, err, sizeof(err)) != 0) {
		/* Unknown: then every rollback counts as needed. */
		for (size_t i = 0; i < n; i++)
			jobs[i].unfinished = true;
		return;
	}
	for (size_t u = 0; u < nu; u++) {
		if (strcmp(undos[u].state, "running") != 0)
			continue;
		json_t *params = json_loads(undos[u].params, 0, NULL);
		const char *of = json_string_value(json_object_get(params, "of"));
		for (size_t i = 0; of != NULL && i < n; i++)
			if (strcmp(jobs[i].p->job_id, of) == 0)
				jobs[i].unfinished = true;
		json_decref(params);
	}
	journal_plans_free(undos, nu);
}

/* Reads what the journal says b->p (set by the caller) left: its kept
 * container's name, the old container's id, its snapshot (a rollback's),
 * whether it put its container back, and the name it kept a container of.
 * The strings are b's, freed by the caller whatever this returns. 0, or -1
 * with err set when the journal cannot be read. */
static int
prune_job_load(const struct agent_conf *c, struct journal *j, const struct prune_kind *k,
               bool rollback, struct prune_job *b, char *err, size_t errlen)
{
	char *pb = NULL, id[96];
	const char *facts = id;

	snprintf(id, sizeof(id), "%s%s", b->p->job_id, k->facts_suffix);

	/* A journal that cannot be read decides nothing (each read clears
	 * err, so each is checked). */
	if ((b->renamed = journal_fact_get(j, facts, "renamed", err, errlen)) == NULL &&
	    err[0] != '\0')
		return -1;
	if ((b->old_id = journal_fact_get(j, facts, "old_id", err, errlen)) == NULL &&
	    err[0] != '\0')
		return -1;
	if (rollback &&
	    (b->snap = journal_fact_get(j, facts, "snapshot_dir", err, errlen)) == NULL &&
	    err[0] != '\0')
		return -1;
	if ((pb = journal_fact_get(j, facts, "put_back", err, errlen)) == NULL && err[0] != '\0')
		return -1;
	b->put_back = pb != NULL && strcmp(pb, "1") == 0;
	free(pb);
	/* <name><suffix><time>: the name is what a later config may have
	 * changed; each name keeps its own latest. */
	const char *at = NULL;
	for (const char *q = b->renamed; q != NULL && (q = strstr(q, k->suffix)) != NULL; q++)
		at = q; /* the last one: a name may hold the suffix itself */
	if (at != NULL)
		snprintf(b->name, sizeof(b->name), "%.*s", (int)(at - b->renamed), b->renamed);
	else
		snprintf(b->name, sizeof(b->name), "%s", c->container);
	return 0;
}

/* The jobs (newest first) that kept a container of jobs[g].name, when g is
 * the newest of them (else nothing): each one's container and snapshot
 * removed, or kept and the reason said, in rep. */
static void
prune_group(const struct agent_conf *c, struct docker *d, const struct prune_kind *k,
            struct prune_job *jobs, size_t n, size_t g, bool rollback, bool dry_run, uint64_t now,
            struct prune_report *rep)
{
	const struct prune_job *latest = NULL;
	size_t rank = 0;

	for (size_t i = 0; i < g; i++)
		if (strcmp(jobs[i].name, jobs[g].name) == 0)
			return;
	/* Only a rollback's leftovers are needed by a later command. */
	for (size_t i = g; rollback && i < n && latest == NULL; i++)
		if (strcmp(jobs[i].name, jobs[g].name) == 0 && jobs[i].renamed != NULL &&
		    !jobs[i].put_back)
			latest = &jobs[i];
	for (size_t i = g; i < n; i++) {
		struct prune_job *b = &jobs[i];
		char why[400], gone[96], whose[160], t[32];
		const char *w;
		if (strcmp(b->name, jobs[g].name) != 0 || (b->renamed == NULL && b->snap == NULL))
			continue;
		w = why_kept(c, b, latest, rank, now, why, sizeof(why));
		rank++;
		when(b->p->created_ms, t, sizeof(t));
		if (w == NULL) {
			why_gone(c, rank - 1, gone, sizeof(gone));
			snprintf(whose, sizeof(whose), "%s %s of %s, %s", k->action, b->p->job_id,
			         t, gone);
		} else {
			snprintf(whose, sizeof(whose), "%s %s of %s", k->action, b->p->job_id, t);
		}
		container_one(b, d, dry_run, w, whose, rep);
		snapshot_one(c, b, dry_run, w, whose, rep);
	}
}

/* The containers (and snapshots) the run phases of k's action left, per
 * container name, newest first (see prune_apply). Returns 0, or -1 with err
 * when the journal cannot be read: then nothing of k was removed. */
static int
prune_kind(const struct agent_conf *c, struct journal *j, struct docker *d,
           const struct prune_kind *k, bool dry_run, uint64_t now, struct prune_report *rep,
           char *err, size_t errlen)
{
	struct journal_plan *plans = NULL;
	struct prune_job *jobs = NULL;
	size_t n = 0;
	/* A rollback's or an upgrade's leftovers are what its undo needs. */
	bool rollback = strcmp(k->suffix, "-undone-") != 0;
	int ret = -1;

	if (journal_plan_list(j, k->action, k->phase, &plans, &n, err, errlen) != 0)
		return -1;
	jobs = calloc(n ? n : 1, sizeof(*jobs));
	if (jobs == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		jobs[i].p = &plans[i];
		if (prune_job_load(c, j, k, rollback, &jobs[i], err, errlen) != 0)
			goto out;
	}
	if (rollback)
		mark_unfinished(j, jobs, n);
	else
		for (size_t i = 0; i < n; i++)
			jobs[i].unfinished = strcmp(jobs[i].p->state, "running") == 0;

	/* Newest first, per name; each name once, in the order of its newest. */
	for (size_t g = 0; g < n; g++)
		prune_group(c, d, k, jobs, n, g, rollback, dry_run, now, rep);
	err[0] = '\0';
	ret = 0;
out:
	for (size_t i = 0; jobs != NULL && i < n; i++) {
		free(jobs[i].renamed);
		free(jobs[i].old_id);
		free(jobs[i].snap);
	}
	free(jobs);
	journal_plans_free(plans, n);
	return ret;
}

int
prune_apply(const struct agent_conf *c, struct journal *j, struct docker *d, bool dry_run,
            struct prune_report *rep, char *err, size_t errlen)
{
	uint64_t now = (uint64_t)time(NULL) * 1000;
	char freed[32], age[48] = "", kept[96];

	memset(rep, 0, sizeof(*rep));
	buf_init(&rep->list, PRUNE_LIST_MAX + 32);
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (prune_kind(c, j, d, &kinds[i], dry_run, now, rep, err, errlen) != 0)
			return -1;
	mib(rep->freed_bytes, freed, sizeof(freed));
	if (c->retention_max_age_ms > 0)
		snprintf(age, sizeof(age), ", max_age=%llus",
		         (unsigned long long)(c->retention_max_age_ms / 1000));
	snprintf(kept, sizeof(kept), "kept %zu container%s and %zu snapshot%s",
	         rep->kept_containers, rep->kept_containers == 1 ? "" : "s", rep->kept_snapshots,
	         rep->kept_snapshots == 1 ? "" : "s");
	if (rep->removed == 0 && rep->failed == 0)
		snprintf(rep->summary, sizeof(rep->summary),
		         "%snothing to remove under retention keep=%llu%s; %s",
		         dry_run ? "dry run: " : "", (unsigned long long)c->retention_keep, age,
		         kept);
	else
		snprintf(rep->summary, sizeof(rep->summary),
		         "%s%zu (%zu kept container%s, %zu snapshot%s, %s) under retention "
		         "keep=%llu%s; %s%s",
		         dry_run ? "dry run, nothing removed: would remove " : "removed ",
		         rep->removed, rep->containers, rep->containers == 1 ? "" : "s",
		         rep->snapshots, rep->snapshots == 1 ? "" : "s", freed,
		         (unsigned long long)c->retention_keep, age, kept,
		         rep->failed ? "; FAILED to remove some (see the list)" : "");
	err[0] = '\0';
	return rep->failed > 0 ? 1 : 0;
}

void
prune_report_free(struct prune_report *rep)
{
	if (rep != NULL)
		buf_free(&rep->list);
}
