/* The upgrade plan: preflight -> stop -> snapshot -> start -> health, and
 * its revert phase, the undo plan applied to the job itself. The steps are
 * the rollback's (plan-steps.c, plan-snapshot.c): the running container is
 * stopped and kept as <name>-upgraded-<time>, the rollback's safety
 * snapshot of the metadb is the upgrade's backup, the new container is
 * made from the kept one's spec with image <repository>:<to>. Nothing is
 * pulled and nothing is deleted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "agent/plan-int.h"
#include "common/clock.h"
#include "common/version.h"

/* ODC waits at most 60 s for its migration lock before it gives up
 * (AbstractMigrate's tryLock), and keeps its port closed until the
 * migration is done: the health gate of an upgrade allows that on top of
 * the health step's own deadline, when the lock is held at that deadline. */
#define MIGRATION_LOCK_MS    60000
#define MIGRATION_LOCK_TABLE "DISTRIBUTED_LOCK" /* JdbcLockRegistry's, ODC's name */

/* A dump of the metadb takes about as many bytes as its rows times this
 * (CSV rows of ODC's tables are short; a generous figure). */
#define ROW_BYTES_ESTIMATE 2048

/* The bytes a snapshot of the metadb m may need, from its row counts:
 * twice the estimate and 64 MiB of margin, as the rollback's snapshot
 * asks. 0, or -1 with the step failed. */
static int
snapshot_estimate(struct plan_run *r, struct plan_res *s, struct metadb *m, uint64_t *need)
{
	char **names = NULL;
	size_t n = 0;
	uint64_t rows = 0, t0 = clock_mono_ms();
	int ret = -1;

	if (metadb_tables(m, &names, &n, r->err, sizeof(r->err)) != 0) {
		plan_say(s, "failed", "metadb: %s", r->err);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t k = 0;
		if (metadb_count(m, names[i], &k, r->err, sizeof(r->err)) != 0) {
			plan_say(s, "failed", "metadb: %s: %s", names[i], r->err);
			goto out;
		}
		rows += k;
	}
	*need = rows * ROW_BYTES_ESTIMATE * 2 + (64ull << 20);
	ret = 0;
out:
	metadb_names_free(names, n);
	plan_waited(&r->wait_metadb_ms, t0);
	return ret;
}

/* The running ODC: the configured container, on the metadb this agent is
 * configured for, answering healthy; its version in from. 0, or -1 with
 * the step failed. */
static int
preflight_running(struct plan_run *r, struct plan_res *s, struct docker_container *ct, char *from,
                  size_t fromlen)
{
	struct health_state st = {0};
	json_t *raw = NULL;
	int rc;

	if (plan_docker(r, s) != 0)
		return -1;
	rc = docker_container_inspect(r->d, r->c->container, ct, &raw, r->err, sizeof(r->err));
	if (rc != 0) {
		plan_say(s, "failed", "%s", rc == 1 ? "no ODC container on this host" : r->err);
		if (rc == 1)
			plan_say_more(s, " (configured: %s)", r->c->container);
		return -1;
	}
	rc = plan_check_metadb_identity(r, s, raw, ct->name);
	json_decref(raw);
	if (rc != 0)
		return -1;
	uint64_t t0 = clock_mono_ms();
	health_probe(r->c->health_url, 5000, &st);
	plan_waited(&r->wait_health_ms, t0);
	if (!st.healthy || st.version[0] == '\0') {
		plan_say(s, "failed",
		         "ODC (container %s, %s, %s) is not healthy at %s: %s; an upgrade starts "
		         "from a healthy ODC",
		         ct->name, ct->image, ct->state, r->c->health_url,
		         st.healthy ? "it reports no version" : st.detail);
		return -1;
	}
	snprintf(from, fromlen, "%s", st.version);
	return 0;
}

/* The target image present on this host (an upgrade never pulls), its
 * reference in image and its id in id. 0, or -1 with the step failed. */
static int
preflight_image(struct plan_run *r, struct plan_res *s, char *image, size_t imagelen, char id[80])
{
	json_t *raw = NULL;
	int rc;

	if (plan_target_image(r, plan_param(r, "to"), image, imagelen, s) != 0)
		return -1;
	rc = docker_image_inspect(r->d, image, &raw, r->err, sizeof(r->err));
	if (rc != 0) {
		if (rc == 1)
			plan_say(
			    s, "failed",
			    "target image %s is not on this host (docker load or pull it first: "
			    "an upgrade never pulls)",
			    image);
		else
			plan_say(s, "failed", "%s", r->err);
		return -1;
	}
	snprintf(id, 80, "%s", json_string_value(json_object_get(raw, "Id")) ?: "");
	json_decref(raw);
	return 0;
}

/* `to` is not older than the running release from: going back is a
 * rollback, which restores a backup of that release. 0, or -1 with the step
 * failed. */
static int
preflight_direction(struct plan_res *s, const char *from, const char *to)
{
	int cmp = 0;

	if (!version_release_cmp(from, to, &cmp) || cmp <= 0)
		return 0;
	plan_say(s, "failed",
	         "ODC runs version %s, newer than %s: that is a rollback, not an upgrade (ODC "
	         "refuses to start an older release on a migrated metadb); use odcctl rollback "
	         "--to %s --backup DIR (locally: odc-agent run rollback --to %s --backup DIR)",
	         from, to, to, to);
	return -1;
}

/* The metadb reachable, held by no restore; its version recorded as the
 * fact metadb_version_before (an undo of a node that did not take the
 * snapshot waits for the metadb to be back at it); the loaders present and
 * room for the snapshot. 0 with the version in hv, or -1 with the step
 * failed. */
static int
preflight_metadb(struct plan_run *r, struct plan_res *s, char hv[65])
{
	struct metadb *m = plan_metadb(r, s);
	char *had = NULL;
	uint64_t need = 0;
	int rc, ret = -1;

	*hv = '\0';
	if (m == NULL || plan_check_guard(r, s, m) != 0)
		goto out;
	rc = metadb_history_version(m, hv, 65, r->err, sizeof(r->err));
	if (rc < 0) {
		plan_say(s, "failed", "metadb: %s", r->err);
		goto out;
	}
	if (rc == 1)
		*hv = '\0';
	if (plan_check_loader(r, s) != 0 || snapshot_estimate(r, s, m, &need) != 0 ||
	    plan_check_disk(r, s, need) != 0)
		goto out;
	had = plan_fact(r, NULL, "metadb_version_before");
	if (had == NULL && plan_fact_set(r, "metadb_version_before", hv) != 0) {
		plan_say(s, "failed", "journal: %s", r->err);
		goto out;
	}
	ret = 0;
out:
	free(had);
	metadb_close(m);
	return ret;
}

/* Preflight of an upgrade: refuses before anything is touched; a host at
 * `to` already has nothing to do. (The plan lock is held by the engine:
 * another plan running refused this one before its first step.) */
static void
step_preflight_upgrade(struct plan_run *r, struct plan_res *s)
{
	const char *to = plan_param(r, "to");
	struct docker_container ct;
	char from[33], image[300], id[80], hv[65], why[512];

	if (preflight_running(r, s, &ct, from, sizeof(from)) != 0)
		return;
	plan_put(s, "from", from);
	plan_put(s, "container", ct.name);
	plan_put(s, "container_image", ct.image);
	if (preflight_image(r, s, image, sizeof(image), id) != 0)
		return;
	plan_put(s, "target_image", image);
	if (plan_already_at(r, &ct, id, image, to, why, sizeof(why)) == 1) {
		plan_put(s, "nothing_to_do", "true");
		plan_say(s, "ok", "%s; nothing to do", why);
		r->done = true;
		return;
	}
	if (preflight_direction(s, from, to) != 0 || preflight_metadb(r, s, hv) != 0)
		return;
	plan_put(s, "metadb_version", hv);
	plan_say(s, "ok",
	         "container %s (%s) healthy at version %s; target image %s present; metadb "
	         "reachable at version %s; loaders present; disk ok for the backup",
	         ct.name, ct.image, from, image, *hv ? hv : "(empty)");
}

/* A failed step after the stop says where the host is and the way back:
 * the revert phase of this job (the undo of it). */
static void
way_back(struct plan_run *r, struct plan_res *s)
{
	char *renamed = plan_fact(r, NULL, "renamed"), *snap = plan_fact(r, NULL, "snapshot_dir");

	if (strcmp(s->status, "failed") == 0 && !plan_fact_is(r, NULL, "put_back", "1"))
		plan_say_more(
		    s,
		    "; to go back to where this job began: odc-agent run upgrade --job %s --phase "
		    "revert --to %s (or odc-agent run undo --of %s), which restores %s%s and "
		    "starts "
		    "the kept container %s",
		    r->job, plan_param(r, "to"), r->job,
		    snap ? "the backup "
		         : "the metadb as a peer's "
		           "backup has it",
		    snap ? snap : "", renamed ? renamed : "(none recorded)");
	free(renamed);
	free(snap);
}

/* ---- the steps, as the table lists them ---- */

static void
upgrade_preflight(struct plan_run *r, struct plan_res *s)
{
	plan_check_or_preview(r, s, step_preflight_upgrade);
}

static void
upgrade_stop(struct plan_run *r, struct plan_res *s)
{
	plan_step_stop_keep(r, s, "upgraded");
}

/* A node of an HA deployment that did not take the backup starts once its
 * peer's ODC migrated the metadb to `to` (the snapshot step waited for
 * that peer's plan to end): ODC's migration lock is not renewed after 60 s,
 * so two first starts at once could migrate twice. 0 to start, or -1 with
 * the step failed. */
static int
migrated_by_peer(struct plan_run *r, struct plan_res *s)
{
	char *by = plan_fact(r, NULL, "restored_by"), hv[65] = "";
	struct metadb *m = NULL;
	int ret = 0;

	if (by == NULL)
		return 0;
	if ((m = plan_metadb(r, s)) == NULL ||
	    metadb_history_version(m, hv, sizeof(hv), r->err, sizeof(r->err)) != 0 ||
	    !version_belongs_to(hv, plan_param(r, "to"))) {
		if (s->status == NULL)
			plan_say(s, "failed",
			         "the metadb is at version %s, not migrated to %s by %s%s: not "
			         "started",
			         *hv ? hv : "(unknown)", plan_param(r, "to"),
			         *by ? "host " : "a peer", by);
		ret = -1;
	}
	metadb_close(m);
	free(by);
	return ret;
}

static void
upgrade_start(struct plan_run *r, struct plan_res *s)
{
	if (migrated_by_peer(r, s) == 0)
		plan_step_start_new(r, s);
}

/* More time for the health gate, once its own deadline is up: the lock's
 * 60 s while ODC's migration lock is held (a node migrating the metadb, or
 * waiting for one that does: a row in its lock table; one that cannot be
 * read counts as held), none when it is free (a release that failed has let
 * it go: waiting longer would only keep the deployment down), cut by the
 * job's deadline. */
static uint64_t
migration_lock_more(struct plan_run *r)
{
	struct plan_res scratch = {.data = json_object()};
	struct metadb *m = plan_metadb(r, &scratch);
	uint64_t rows = 1, now = proto_now_ms();
	uint64_t left = r->deadline_ms > now ? r->deadline_ms - now : 0;

	if (m != NULL && metadb_count(m, MIGRATION_LOCK_TABLE, &rows, r->err, sizeof(r->err)) != 0)
		rows = 1;
	metadb_close(m);
	json_decref(scratch.data);
	if (rows == 0) {
		plan_note(r, "health", "ODC's migration lock is free: no more waiting");
		return 0;
	}
	return MIGRATION_LOCK_MS < left ? MIGRATION_LOCK_MS : left;
}

static void
upgrade_health(struct plan_run *r, struct plan_res *s)
{
	uint64_t budget = plan_budget(r, STEP_HEALTH);

	plan_step_health_within(r, s, plan_param(r, "to"), budget, migration_lock_more);
	plan_retain(r, s);
}

static const struct plan_step upgrade_steps[] = {
    {"preflight", upgrade_preflight, NULL},     {"stop", upgrade_stop, NULL},
    {"snapshot", plan_rollback_snapshot, NULL}, {"start", upgrade_start, way_back},
    {"health", upgrade_health, way_back},
};

const struct plan_def plan_upgrade_plans[] = {
    {"upgrade", upgrade_steps, 5, upgrade_steps, 1, true, plan_undo_steps, PLAN_UNDO_STEPS},
    {NULL, NULL, 0, NULL, 0, false, NULL, 0},
};
