/* The rollback's snapshot and restore steps: the live metadb dumped and
 * verified before it is replaced (a partial snapshot is moved aside, not
 * deleted); a node of an HA deployment that holds no backup, or whose peer
 * took the guard first, waits for that peer's restore; a rollback that
 * fails before the metadb is touched puts the host back as it was. */
#include <sys/stat.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "agent/plan-int.h"
#include "common/clock.h"
#include "common/version.h"

/* Move a partial snapshot directory aside; nothing is deleted. */
static int
set_aside(const char *dir, char *err, size_t errlen)
{
	char dst[4200];

	for (int i = 1; i < 1000; i++) {
		snprintf(dst, sizeof(dst), "%s.partial-%d", dir, i);
		if (access(dst, F_OK) != 0)
			return rename(dir, dst) == 0
			           ? 0
			           : (snprintf(err, errlen, "%s: %s", dir, strerror(errno)), -1);
	}
	snprintf(err, errlen, "%s: too many partial snapshots", dir);
	return -1;
}

/* The name of the container ODC's is free (the one this job made is gone,
 * or none was made): the kept one, old_id, gets it back, and the journal
 * records it (put_back). Whether it did. */
static bool
name_back(struct plan_run *r, const char *old_id)
{
	struct docker_container other;

	if (docker_container_inspect(r->d, r->c->container, &other, NULL, r->err, sizeof(r->err)) !=
	        1 ||
	    docker_container_rename(r->d, old_id, r->c->container, r->err, sizeof(r->err)) != 0)
		return false;
	(void)plan_fact_set(r, "put_back", "1");
	return true;
}

/* A rollback that failed before the metadb was touched puts the host back as
 * it was: the container this job stopped and renamed gets its name back and
 * is started again. The message says which state the host is left in, and,
 * when this could not be done, the commands that get back. */
static void
put_back(struct plan_run *r, struct plan_res *s, struct metadb *m)
{
	char *renamed = plan_fact(r, NULL, "renamed"), *old_id = plan_fact(r, NULL, "old_id");
	struct docker_container ct, other;
	struct guard_holder who;
	char desc[300], gerr[256];

	if (renamed == NULL || old_id == NULL || plan_docker(r, s) != 0)
		goto out;
	/* Not started while another node restores the metadb: this ODC would
	 * connect to it half-way, and a newer one would migrate it. Its name
	 * goes back, so that the rollback can be run again once that restore
	 * has ended (it then finds the metadb at the target and only replaces
	 * the container). */
	if (m != NULL && guard_read(m, &who, gerr, sizeof(gerr)) == 1 &&
	    (who.unreadable || strcmp(who.host, r->c->host_id) != 0 ||
	     strcmp(who.job, r->job) != 0)) {
		guard_describe(&who, desc, sizeof(desc));
		if (name_back(r, old_id)) {
			plan_say_more(
			    s,
			    "; the host is DOWN: ODC is stopped (container %s, renamed back, "
			    "not started), "
			    "because another restore of this metadb runs (%s); once it has "
			    "ended, run this "
			    "rollback again: it finds the metadb at the target and only "
			    "replaces this node's "
			    "container",
			    r->c->container, desc);
		} else {
			plan_say_more(
			    s,
			    "; the host is DOWN: ODC is stopped, kept as %s and not started, "
			    "because another "
			    "restore of this metadb runs (%s); once it has ended: docker "
			    "rename %s %s, then run this "
			    "rollback again",
			    renamed, desc, renamed, r->c->container);
		}
		goto out;
	}
	if (docker_container_inspect(r->d, r->c->container, &other, NULL, r->err, sizeof(r->err)) ==
	        0 &&
	    strcmp(other.id, old_id) != 0) {
		plan_say_more(
		    s,
		    "; the host is DOWN: container %s (%.12s, not this job's) stands in the "
		    "kept one's place; "
		    "the kept one is %s",
		    r->c->container, other.id, renamed);
		goto out;
	}
	char why[400];
	if (m != NULL && !plan_release_fits(r, m, NULL, why, sizeof(why))) {
		(void)name_back(r, old_id);
		plan_say_more(
		    s,
		    "; the host is DOWN: ODC is stopped (container %s, not started: %s); run "
		    "this rollback "
		    "again to bring it up at the metadb's release",
		    r->c->container, why);
		goto out;
	}
	if (docker_container_inspect(r->d, old_id, &ct, NULL, r->err, sizeof(r->err)) != 0 ||
	    (strcmp(ct.name, r->c->container) != 0 &&
	     docker_container_rename(r->d, old_id, r->c->container, r->err, sizeof(r->err)) != 0) ||
	    plan_container_start(r, old_id) != 0) {
		plan_say_more(
		    s,
		    "; the host is DOWN (putting the old container back failed: %s); to get "
		    "back: docker rename "
		    "%s %s && docker start %s",
		    r->err, renamed, r->c->container, r->c->container);
		goto out;
	}
	(void)plan_fact_set(r, "put_back", "1");
	plan_put(s, "put_back", r->c->container);
	plan_say_more(s,
	              "; the host is back as it was: container %s (%.12s, %s) was renamed back and "
	              "started, the "
	              "metadb is untouched",
	              r->c->container, old_id, ct.image);
out:
	free(renamed);
	free(old_id);
}

/* Whether the metadb is at this rollback's target release now (force=true:
 * never). When it is, the step is skipped, saying so, and the restore after
 * it too (metadb_at_target). */
static bool
at_target_now(struct plan_run *r, struct plan_res *s, struct metadb *m)
{
	char hv[65] = "";
	uint64_t t0 = clock_mono_ms();
	int rc = metadb_history_version(m, hv, sizeof(hv), r->err, sizeof(r->err));

	plan_waited(&r->wait_metadb_ms, t0);
	if (rc != 0 || strcmp(r->action, "rollback") != 0 || plan_param_true(r, "force") ||
	    !version_belongs_to(hv, plan_param(r, "to")) ||
	    plan_fact_set(r, "metadb_at_target", "1") != 0)
		return false;
	/* Not at the target at this job's check, at it now: a peer restored it
	 * during this job (which one is not known), and this node's undo must
	 * wait for that peer's undo. */
	(void)plan_fact_set(r, "restored_by", "");
	plan_put(s, "metadb_at_target", "true");
	plan_say(
	    s, "skipped",
	    "the metadb is at version %s, of release %s, already (another node of this deployment "
	    "restored it since this job began): not restored again",
	    hv, plan_param(r, "to"));
	return true;
}

/* What a peer holding the guard for this job does to the metadb for every
 * node of the deployment: a rollback's restores it; an upgrade's backs it
 * up, and its new ODC migrates it. */
static const char *
peer_work(const struct plan_run *r)
{
	return strcmp(r->action, "upgrade") == 0 ? "backed up and migrated" : "restored";
}

/* A peer of this node's deployment holds the guard for this job: it
 * restores the metadb for every node (an upgrade's: backs it up, then its
 * new ODC migrates it). This node waits, holding no session
 * (the peer waits for every other session to end), until the guard is
 * released; the metadb must then be at the target, and this node goes on
 * to its own start. */
static void
await_peer_restore(struct plan_run *r, struct plan_res *s, const struct guard_holder *peer)
{
	uint64_t t0 = clock_mono_ms(),
	         budget = plan_budget(r, STEP_SNAPSHOT) + plan_budget(r, STEP_RESTORE);
	char host[65], hv[65] = "", *before = NULL;
	struct guard_holder who;
	struct metadb *m = NULL;
	int rc;

	snprintf(host, sizeof(host), "%s", peer->host);
	plan_note(r, "snapshot",
	          "host %s of this deployment holds the metadb for job %s; waiting for it", host,
	          r->job);
	for (;;) {
		/* Waiting on the peer is waiting on the metadb, not work of ours. */
		plan_nap(r);
		if ((m = plan_metadb(r, s)) == NULL)
			goto out;
		rc = guard_read(m, &who, r->err, sizeof(r->err));
		if (rc < 0) {
			plan_say(s, "failed", "metadb: %s", r->err);
			goto out;
		}
		if (rc == 0)
			break;
		if (who.unreadable || strcmp(who.job, r->job) != 0) {
			char desc[300];
			guard_describe(&who, desc, sizeof(desc));
			plan_say(
			    s, "failed",
			    "while host %s restored the metadb for this job, another restore took "
			    "it: %s",
			    host, desc);
			goto out;
		}
		metadb_close(m);
		m = NULL;
		if (clock_mono_ms() - t0 > budget) {
			plan_say(
			    s, "failed",
			    "host %s of this deployment has held the restore guard for %llu s; "
			    "this node "
			    "stopped waiting",
			    host, (unsigned long long)((clock_mono_ms() - t0) / 1000));
			goto out;
		}
	}
	rc = metadb_history_version(m, hv, sizeof(hv), r->err, sizeof(r->err));
	if (rc == 0 && version_belongs_to(hv, plan_param(r, "to")) &&
	    plan_fact_set(r, "metadb_at_target", "1") == 0) {
		(void)plan_fact_set(r, "restored_by", host);
		plan_put(s, "restored_by", host);
		plan_say(s, "skipped",
		         "host %s of this deployment %s the metadb for this job (version %s): not "
		         "%s again here",
		         host, peer_work(r), hv, peer_work(r));
		goto out;
	}
	before = plan_fact(r, NULL, "metadb_version_before");
	plan_say(s, "failed",
	         "host %s's restore for this job ended without the metadb at release %s (it is at "
	         "version %s): its restore failed",
	         host, plan_param(r, "to"), *hv ? hv : "(unknown)");
	/* Back as it was only when the metadb is what it was. */
	if (before != NULL && strcmp(before, hv) == 0)
		put_back(r, s, m);
	else
		plan_say_more(
		    s,
		    "; the host is DOWN: ODC is stopped and kept, the metadb is not what it "
		    "was; the way back "
		    "is host %s's undo of this job",
		    host);
out:
	metadb_close(m);
	free(before);
}

/* This host holds no backup (backup_on_peer): the node of its deployment
 * that holds it restores the metadb for this job. That node takes the
 * guard once it has rechecked and stopped its ODC; this one waits for it
 * (then as await_peer_restore), or finds the metadb at the target already
 * (that restore came and went between two looks). Nobody takes the guard
 * within the time a recheck, a stop and the wait for sessions may take:
 * that node failed before its restore, and this host is put back. */
static void
await_holder(struct plan_run *r, struct plan_res *s)
{
	uint64_t t0 = clock_mono_ms(), budget = plan_budget(r, STEP_PREFLIGHT) +
	                                        plan_budget(r, STEP_STOP) + SESSIONS_WAIT_MS;
	struct guard_holder who;
	struct metadb *m = NULL;
	char desc[300];
	int rc;

	plan_note(
	    r, "snapshot",
	    "no backup at %s on this host: waiting for the node of this deployment that holds it "
	    "to "
	    "restore the metadb for job %s",
	    plan_param(r, "backup"), r->job);
	for (;;) {
		if ((m = plan_metadb(r, s)) == NULL) {
			put_back(r, s, NULL);
			return;
		}
		if (at_target_now(r, s, m))
			goto out;
		uint64_t tr = clock_mono_ms();
		rc = guard_read(m, &who, r->err, sizeof(r->err));
		plan_waited(&r->wait_metadb_ms, tr);
		if (rc < 0) {
			plan_say(s, "failed", "metadb: %s", r->err);
			put_back(r, s, m);
			goto out;
		}
		if (rc == 1 && !who.unreadable && strcmp(who.job, r->job) == 0 &&
		    strcmp(who.host, r->c->host_id) != 0) {
			metadb_close(m);
			await_peer_restore(r, s, &who);
			return;
		}
		if (rc == 1) {
			guard_describe(&who, desc, sizeof(desc));
			plan_say(
			    s, "failed",
			    "another restore holds the metadb: %s; this host holds no backup at %s "
			    "and "
			    "restores nothing",
			    desc, plan_param(r, "backup"));
			put_back(r, s, m);
			goto out;
		}
		if (clock_mono_ms() - t0 > budget) {
			plan_say(
			    s, "failed",
			    "no node of this deployment began to restore the metadb for this job "
			    "within "
			    "%llu s (this host holds no backup at %s: the node that holds it "
			    "restores; it failed before "
			    "its restore, see its result)",
			    (unsigned long long)((clock_mono_ms() - t0) / 1000),
			    plan_param(r, "backup"));
			put_back(r, s, m);
			goto out;
		}
		metadb_close(m);
		m = NULL;
		plan_nap(r);
	}
out:
	metadb_close(m);
}

static void
step_snapshot(struct plan_run *r, struct plan_res *s)
{
	char dir[4200];
	char *done = plan_fact(r, NULL, "snapshot_verified");
	struct backup_info b = {0};
	struct metadb *m = NULL;
	struct stat st;

	snprintf(dir, sizeof(dir), "%s/%s", r->c->snapshot_root, r->job);
	if (done != NULL && strcmp(done, "1") == 0) {
		plan_put(s, "snapshot", dir);
		plan_say(s, "ok", "safety snapshot %s already taken and verified", dir);
		goto out;
	}
	if (lstat(dir, &st) == 0 && set_aside(dir, r->err, sizeof(r->err)) != 0) {
		plan_say(s, "failed", "%s", r->err);
		goto out;
	}
	if ((m = plan_metadb(r, s)) == NULL) {
		put_back(r, s, m);
		goto out;
	}
	/* Restored since this job's check (by a peer of this node's deployment,
	 * for this job or another): not restored again. */
	if (at_target_now(r, s, m))
		goto out;
	/* The guard first: a snapshot taken while another node restores the
	 * metadb would be neither the old metadb nor the new one. A peer of
	 * this deployment holding it for this same job restores for all. */
	struct guard_holder peer;
	int rc = plan_guard_take(r, s, m, &peer);
	if (rc == 1) {
		metadb_close(m);
		m = NULL;
		await_peer_restore(r, s, &peer);
		goto out;
	}
	/* Then every node of the deployment stopped (nobody else connected):
	 * a snapshot of a metadb still written to would not verify. */
	if (rc != 0 || plan_check_sessions(r, s, m) != 0 ||
	    plan_dump(r, s, m, "snapshot", dir, plan_budget(r, STEP_SNAPSHOT), &b) != 0) {
		plan_guard_release(r, s, m);
		put_back(r, s, m);
		goto out;
	}
	if (plan_fact_set(r, "snapshot_dir", dir) != 0 ||
	    plan_fact_set(r, "snapshot_verified", "1") != 0) {
		plan_say(s, "failed", "%s", r->err);
		plan_guard_release(r, s, m);
		put_back(r, s, m);
		goto out;
	}
	plan_dump_said(s, "snapshot", "dumped", dir, &b);
out:
	metadb_close(m);
	backup_info_free(&b);
	free(done);
}

/* The snapshot (snapshot true) and the restore of a rollback: neither when
 * the metadb is at the target already (a peer restored it, or it was never
 * upgraded); a host without a backup waits for the node that holds it. */
static void
snapshot_or_restore(struct plan_run *r, struct plan_res *s, bool snapshot)
{
	char *by = plan_fact(r, NULL, "restored_by");

	if (plan_fact_is(r, NULL, "metadb_at_target", "1") && by != NULL) {
		/* At the target since this job began: a peer restored it. */
		plan_say(s, "skipped",
		         "%s%s of this deployment restored the metadb for this job: not %s",
		         *by ? "host " : "another node", by,
		         snapshot ? "restored, so no snapshot" : "restored again");
	} else if (plan_fact_is(r, NULL, "metadb_at_target", "1")) {
		char *hv = plan_fact(r, NULL, "metadb_version_before");
		plan_say(s, "skipped",
		         "the metadb is at version %s, of release %s already (another node of "
		         "this deployment "
		         "restored it, or it was never upgraded): not %s; force=true restores "
		         "it anyway",
		         hv ? hv : "?", plan_param(r, "to"),
		         snapshot ? "restored, so no snapshot" : "restored again");
		free(hv);
	} else if (plan_fact_is(r, NULL, "backup_here", "0")) {
		if (snapshot)
			await_holder(r, s);
		else /* only after a failed wait, which ends the plan */
			plan_say(s, "failed",
			         "no backup at %s on this host, and no node of its deployment "
			         "restored "
			         "the metadb for this job",
			         plan_param(r, "backup"));
	} else if (snapshot) {
		step_snapshot(r, s);
	} else {
		plan_step_restore(r, s, plan_param(r, "backup"), put_back);
	}
	free(by);
}

void
plan_rollback_snapshot(struct plan_run *r, struct plan_res *s)
{
	snapshot_or_restore(r, s, true);
}

void
plan_rollback_restore(struct plan_run *r, struct plan_res *s)
{
	snapshot_or_restore(r, s, false);
}
