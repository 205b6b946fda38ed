/* The undo plan: the way back to where a rollback or an upgrade began.
 * preflight -> stop -> restore (the job's verified snapshot, when it touched
 * the metadb) -> start (the container it kept, under its name again) ->
 * health. The same steps are an upgrade's revert phase: the undo of the
 * job itself (undo_of). */
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

/* The job undone: the undo's parameter of, or in a revert phase the job
 * itself. */
static const char *
undo_of(const struct plan_run *r)
{
	return strcmp(r->phase, "revert") == 0 ? r->job : plan_param(r, "of");
}

/* A rollback that never changed the metadb: it stopped before a verified
 * snapshot (a restore comes only after one), its restore did not begin, or
 * it found the metadb at the target already. */
static bool
rollback_untouched(struct plan_run *r, const char *job)
{
	return !plan_fact_is(r, job, "snapshot_verified", "1") ||
	       plan_fact_is(r, job, "metadb_untouched", "1") ||
	       plan_fact_is(r, job, "metadb_at_target", "1");
}

/* An ODC never starts on a metadb of an older release: it would migrate it
 * forward (the hazard of a node of an HA deployment left out of its
 * rollback). The kept container of rollback `of` runs its old image; the
 * metadb's version must not be of an older release. 0 fits (or cannot be
 * told: no version), -1 with the step failed. */
static int
check_release_fits(struct plan_run *r, struct plan_res *s, const char *of)
{
	struct metadb *m = plan_metadb(r, s);
	char why[400];
	bool fits;

	if (m == NULL)
		return -1;
	fits = plan_release_fits(r, m, of, why, sizeof(why));
	metadb_close(m);
	if (!fits) {
		plan_say(
		    s, "failed",
		    "%s: started, that ODC would migrate the metadb forward under the rest of its "
		    "deployment; it is not started. Bring this node up at the metadb's release "
		    "with its deployment",
		    why);
		return -1;
	}
	return 0;
}

static void
step_preflight_undo(struct plan_run *r, struct plan_res *s)
{
	const char *of = undo_of(r);
	char *renamed = plan_fact(r, of, "renamed"), *snap = plan_fact(r, of, "snapshot_dir");
	char *verified = plan_fact(r, of, "snapshot_verified");
	struct journal_plan p = {0};
	struct docker_container ct;
	struct backup_info b = {0};
	struct metadb *m = NULL;
	char integrity[160];

	if (journal_plan_get(r->j, of, "run", &p, r->err, sizeof(r->err)) != 0 ||
	    (strcmp(p.action, "rollback") != 0 && strcmp(p.action, "upgrade") != 0)) {
		plan_say(s, "failed",
		         "no rollback or upgrade job %s whose run phase ran on this host (this "
		         "agent's journal)",
		         of);
		goto out;
	}
	/* A revert of an upgrade that changed nothing (it stopped nothing, or
	 * put its container back) has nothing to do; an undo asked for one is
	 * refused. */
	if (strcmp(r->phase, "revert") == 0 &&
	    (renamed == NULL || plan_fact_is(r, of, "put_back", "1"))) {
		plan_put(s, "nothing_to_do", "true");
		plan_say(s, "ok", "upgrade %s %s; nothing to revert", of,
		         renamed == NULL ? "stopped no container" : "put its container back");
		r->done = true;
		goto out;
	}
	if (plan_fact_is(r, of, "put_back", "1")) {
		plan_say(s, "failed",
		         "%s %s put its container back when it failed; nothing to undo", p.action,
		         of);
		goto out;
	}
	bool untouched = rollback_untouched(r, of);
	if (renamed == NULL ||
	    (!untouched && (snap == NULL || verified == NULL || strcmp(verified, "1") != 0))) {
		plan_say(s, "failed", "%s %s did not get as far as %s; nothing to undo", p.action,
		         of, renamed == NULL ? "stopping the container" : "a verified snapshot");
		goto out;
	}
	if (plan_docker(r, s) != 0)
		goto out;
	if (docker_container_inspect(r->d, renamed, &ct, NULL, r->err, sizeof(r->err)) != 0) {
		plan_say(s, "failed", "the container that %s %s kept (%s) is gone", p.action, of,
		         renamed);
		goto out;
	}
	/* Before anything is stopped: the kept ODC must fit the metadb it
	 * would start on (after the snapshot's restore, when there is one). */
	/* (A node whose rollback a peer restored waits for the peer's undo
	 * first: its start step checks the fit then.) */
	if (untouched && !plan_fact_is_set(r, of, "restored_by") &&
	    check_release_fits(r, s, of) != 0)
		goto out;
	if (untouched) {
		/* Nothing to restore: only the kept container goes back (the
		 * start step checks that the metadb still fits it). */
		if ((m = plan_metadb(r, s)) == NULL || plan_check_guard(r, s, m) != 0)
			goto out;
		plan_put(s, "container", renamed);
		plan_say(s, "ok",
		         "%s %s can be undone: it never changed the metadb; container %s (%s) "
		         "kept",
		         p.action, of, renamed, ct.image);
		goto out;
	}
	if (backup_inspect(snap, r->c->db_name, &b, r->err, sizeof(r->err)) != 0) {
		plan_say(s, "failed", "safety snapshot %s: %s", snap, r->err);
		goto out;
	}
	if (plan_check_backup(r, s, snap, &b, integrity, sizeof(integrity)) != 0)
		goto out;
	if ((m = plan_metadb(r, s)) == NULL || plan_check_guard(r, s, m) != 0 ||
	    plan_check_loader(r, s) != 0)
		goto out;
	plan_put(s, "restore_from", snap);
	plan_put(s, "container", renamed);
	plan_say(s, "ok",
	         "%s %s can be undone: container %s (%s) kept, snapshot %s at version %s, %s",
	         p.action, of, renamed, ct.image, snap, b.version, integrity);
out:
	journal_plan_clear(&p);
	metadb_close(m);
	backup_info_free(&b);
	free(renamed);
	free(snap);
	free(verified);
}

/* Put the container that rollback `of` kept back under its name and start it. */
static void
step_start_old(struct plan_run *r, struct plan_res *s)
{
	const char *of = undo_of(r);
	char *renamed = plan_fact(r, of, "renamed"), *old_id = plan_fact(r, of, "old_id");
	struct docker_container ct;
	int rc;

	if (plan_docker(r, s) != 0 || renamed == NULL || old_id == NULL) {
		if (s->status == NULL)
			plan_say(s, "failed", "rollback %s left no record of its container", of);
		goto out;
	}
	if (check_release_fits(r, s, of) != 0)
		goto out;
	rc = docker_container_inspect(r->d, r->c->container, &ct, NULL, r->err, sizeof(r->err));
	if (rc == 0 && strcmp(ct.id, old_id) != 0) {
		plan_say(s, "failed", "a container named %s (%.12s) is in the way", r->c->container,
		         ct.id);
		goto out;
	}
	if (rc == 1 &&
	    docker_container_rename(r->d, old_id, r->c->container, r->err, sizeof(r->err)) != 0) {
		plan_say(s, "failed", "%s", r->err);
		goto out;
	}
	if (rc < 0 || docker_container_start(r->d, old_id, r->err, sizeof(r->err)) != 0) {
		plan_say(s, "failed", "%s", r->err);
		goto out;
	}
	plan_put(s, "container_id", old_id);
	plan_say(s, "ok", "renamed %s back to %s and started it", renamed, r->c->container);
out:
	free(renamed);
	free(old_id);
}

/* The undo of a node whose rollback a peer of its deployment restored
 * (restored_by): that peer's undo restores the metadb for every node of
 * this job. This node waits, holding no session, until the metadb is back
 * at the version it had before the rollback and nobody holds the guard;
 * then its start step brings its kept container back. */
#define PEER_START_MS 60000

static void
await_peer_undo(struct plan_run *r, struct plan_res *s, const char *of, const char *before,
                const char *peer)
{
	uint64_t t0 = clock_mono_ms(), budget = plan_budget(r, STEP_RESTORE);
	struct guard_holder who;
	char hv[65] = "";
	bool began = false; /* the peer's restore for this undo was seen */
	int held;

	char who_restored[80];
	if (*peer)
		snprintf(who_restored, sizeof(who_restored), "host %s", peer);
	else
		snprintf(who_restored, sizeof(who_restored), "another node");
	plan_note(r, "restore",
	          "%s of this deployment restored the metadb for %s; waiting for its undo",
	          who_restored, of);
	for (;;) {
		struct metadb *m = plan_metadb(r, s);
		if (m == NULL)
			return;
		held = guard_read(m, &who, r->err, sizeof(r->err));
		if (held >= 0 &&
		    metadb_history_version(m, hv, sizeof(hv), r->err, sizeof(r->err)) < 0)
			held = -1;
		metadb_close(m);
		if (held < 0) {
			plan_say(s, "failed", "metadb: %s", r->err);
			return;
		}
		if (held == 1 && (who.unreadable || strcmp(who.job, r->job) != 0)) {
			char desc[300];
			guard_describe(&who, desc, sizeof(desc));
			plan_say(
			    s, "failed",
			    "another restore holds the metadb: %s; this node's container is not "
			    "started",
			    desc);
			return;
		}
		began |= held == 1;
		if (held == 0 && strcmp(hv, before) == 0) {
			plan_say(s, "skipped",
			         "%s of this deployment restored the metadb for this undo (back at "
			         "version "
			         "%s): nothing to restore here",
			         who_restored, *hv ? hv : "(empty)");
			return;
		}
		/* The undo of a deployment runs on all its nodes at once: a peer
		 * that has not begun within PEER_START_MS is not coming. */
		if (!began && clock_mono_ms() - t0 > PEER_START_MS) {
			plan_say(
			    s, "failed",
			    "no node restored the metadb for this undo within %d s (it is at "
			    "version %s, %s "
			    "before the rollback): run the undo of %s of this deployment first, or "
			    "of all its nodes "
			    "together; this node's container is not started",
			    PEER_START_MS / 1000, *hv ? hv : "(empty)", before, who_restored);
			return;
		}
		if (clock_mono_ms() - t0 > budget) {
			plan_say(
			    s, "failed",
			    "waited %llu s for %s to restore the metadb for this undo (it is at "
			    "version "
			    "%s, %s before the rollback); this node's container is not started",
			    (unsigned long long)((clock_mono_ms() - t0) / 1000), who_restored,
			    *hv ? hv : "(empty)", before);
			return;
		}
		plan_nap(r);
	}
}

/* The undo of a rollback whose restore never began has nothing to restore,
 * but the kept container may only start on the metadb it left: when the
 * metadb's version changed since (another node of the deployment, or
 * another job, restored it), starting it would run that ODC against a
 * metadb of another release (a newer one migrates it forward again). */
static void
untouched_undo(struct plan_run *r, struct plan_res *s, const char *of)
{
	char *before = plan_fact(r, of, "metadb_version_before"), hv[65] = "";
	struct metadb *m = NULL;
	int rc;

	if (before == NULL) {
		plan_say(
		    s, "skipped",
		    "rollback %s never changed the metadb (its restore did not begin); nothing to "
		    "restore",
		    of);
		goto out;
	}
	char *peer = plan_fact(r, of, "restored_by");
	if (peer != NULL) {
		await_peer_undo(r, s, of, before, peer);
		free(peer);
		goto out;
	}
	if ((m = plan_metadb(r, s)) == NULL)
		goto out;
	rc = metadb_history_version(m, hv, sizeof(hv), r->err, sizeof(r->err));
	if (rc < 0) {
		plan_say(s, "failed", "metadb: %s", r->err);
		goto out;
	}
	if (strcmp(hv, before) != 0) {
		plan_say(
		    s, "failed",
		    "rollback %s never changed the metadb, but it changed since: it was at version "
		    "%s, it is at %s now "
		    "(another node or job restored it); the kept container is not started on it. "
		    "This node belongs "
		    "with the rest of its deployment: start it at the release the metadb is at",
		    of, *before ? before : "(empty)", *hv ? hv : "(empty)");
		goto out;
	}
	plan_say(
	    s, "skipped",
	    "rollback %s never changed the metadb (its restore did not begin; still at version "
	    "%s); "
	    "nothing to restore",
	    of, *hv ? hv : "(empty)");
out:
	metadb_close(m);
	free(before);
}

/* A dry-run undo: the container that runs now (the one the rollback made,
 * if any) against the kept one, which the undo renames back and starts. */
static void
preview_undo(struct plan_run *r, struct plan_res *s)
{
	char *renamed = plan_fact(r, undo_of(r), "renamed");
	struct docker_container ct;
	json_t *cur = NULL, *kept = NULL;
	int rc;

	if (renamed == NULL || plan_docker(r, s) != 0)
		goto out;
	rc = docker_container_inspect(r->d, r->c->container, &ct, &cur, r->err, sizeof(r->err));
	if (rc < 0 ||
	    docker_container_inspect(r->d, renamed, &ct, &kept, r->err, sizeof(r->err)) != 0) {
		plan_say(s, "failed", "dry run: cannot read the containers %s and %s: %s",
		         r->c->container, renamed, r->err);
		goto out;
	}
	/* It gets the name back. */
	char name[300];
	snprintf(name, sizeof(name), "/%s", r->c->container);
	json_object_set_new(kept, "Name", json_string(name));
	plan_show_diff(r, s, rc == 0 ? cur : NULL, kept);
out:
	json_decref(kept);
	json_decref(cur);
	free(renamed);
}

/* ---- the steps, as the table lists them ---- */

static void
undo_preflight(struct plan_run *r, struct plan_res *s)
{
	step_preflight_undo(r, s);
	if (s->status != NULL && strcmp(s->status, "ok") == 0 && plan_param_true(r, "dry_run"))
		preview_undo(r, s);
}

static void
undo_stop(struct plan_run *r, struct plan_res *s)
{
	plan_step_stop(r, s, "undone", NULL, true);
}

/* The rollback's safety snapshot back, when that rollback changed the
 * metadb. */
static void
undo_restore(struct plan_run *r, struct plan_res *s)
{
	const char *of = undo_of(r);
	char *snap = plan_fact(r, of, "snapshot_dir");

	if (rollback_untouched(r, of))
		untouched_undo(r, s, of);
	else if (snap == NULL)
		plan_say(s, "failed", "no snapshot recorded for %s", of);
	else
		plan_step_restore(r, s, snap, NULL);
	free(snap);
}

/* Healthy at the release of the image the kept container runs. */
static void
undo_health(struct plan_run *r, struct plan_res *s)
{
	char *img = plan_fact(r, undo_of(r), "old_image"), tag[130];

	version_image_tag(img ? img : "", tag, sizeof(tag));
	free(img);
	plan_step_health(r, s, tag);
}

const struct plan_step plan_undo_steps[PLAN_UNDO_STEPS] = {
    {"preflight", undo_preflight, NULL}, {"stop", undo_stop, NULL},
    {"restore", undo_restore, NULL},     {"start", step_start_old, NULL},
    {"health", undo_health, NULL},
};

const struct plan_def plan_undo_plans[] = {
    {"undo", plan_undo_steps, PLAN_UNDO_STEPS, plan_undo_steps, 1, true, NULL, 0},
    {NULL, NULL, 0, NULL, 0, false, NULL, 0},
};
