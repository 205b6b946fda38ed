/* The rollback plan: preflight -> stop -> snapshot -> restore -> start ->
 * health (its snapshot and restore steps are plan-snapshot.c). Each step
 * records what it learns (the old container, its spec, the name it was
 * renamed to) as a fact before it acts on it, so that it is safe to run
 * twice; nothing is deleted: the old container is renamed and kept. */
#include <dirent.h>
#include <sys/stat.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "agent/plan-int.h"
#include "common/version.h"

static uint64_t
snapshot_need_bytes(const struct backup_info *b)
{
	/* A dump of the live metadb is about the size of a dump of the older
	 * one; twice that and 64 MiB of room keep a safety margin. */
	return b->bytes * 2 + (64ull << 20);
}

/* What the metadb was when this rollback began (its first check), and
 * whether it is at the target release already (every check: the run
 * phase's recheck decides). A metadb at the target is not restored again:
 * another node of the deployment restored it (HA), or it was never
 * upgraded; restoring would throw away what was written since. force=true
 * restores it anyway. 0, or -1 with the step failed. */
static int
record_metadb_start(struct plan_run *r, struct plan_res *s, const char *hv, const char *to)
{
	char *had = plan_fact(r, NULL, "metadb_version_before");
	bool at = *hv != '\0' && version_belongs_to(hv, to) && !plan_param_true(r, "force");
	int rc = 0;

	if (had == NULL)
		rc = plan_fact_set(r, "metadb_version_before", hv);
	free(had);
	if (rc == 0)
		rc = plan_fact_set(r, "metadb_at_target", at ? "1" : "0");
	if (rc != 0) {
		plan_say(s, "failed", "journal: %s", r->err);
		return -1;
	}
	if (at)
		plan_put(s, "metadb_at_target", "true");
	return 0;
}

/* A rollback check's look at the metadb: reachable, held by no other
 * restore, and its version in hv ("" when it holds none yet). The
 * connection, or NULL with the step failed. */
static struct metadb *
check_metadb_now(struct plan_run *r, struct plan_res *s, char hv[65])
{
	struct metadb *m = plan_metadb(r, s);
	int rc;

	*hv = '\0';
	if (m == NULL || plan_check_guard(r, s, m) != 0)
		goto fail;
	rc = metadb_history_version(m, hv, 65, r->err, sizeof(r->err));
	if (rc < 0) {
		plan_say(s, "failed", "metadb: %s", r->err);
		goto fail;
	}
	if (rc == 1)
		*hv = '\0';
	return m;
fail:
	metadb_close(m);
	return NULL;
}

/* No backup at path: nothing there, or an empty directory (a mount point
 * with nothing mounted, a directory made on every node and filled on one).
 * Anything else is a backup to check, which may be damaged. */
static bool
nothing_at(const char *path)
{
	struct stat st;
	struct dirent *e;
	DIR *d;
	bool empty = true;

	if (lstat(path, &st) != 0)
		return errno == ENOENT;
	if (!S_ISDIR(st.st_mode) || (d = opendir(path)) == NULL)
		return false;
	while (empty && (e = readdir(d)) != NULL)
		empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
	closedir(d);
	return empty;
}

/* Records whether the backup is here (backup_version: its version; NULL:
 * on a peer) as the fact backup_here, and puts what the preflight found in
 * the step's data: the container, the backup, the metadb's version hv and
 * the target image. 0, or -1 with the step failed. */
static int
preflight_found(struct plan_run *r, struct plan_res *s, const struct docker_container *ct,
                const char *backup_version, const char *hv, const char *image)
{
	if (plan_fact_set(r, "backup_here", backup_version != NULL ? "1" : "0") != 0) {
		plan_say(s, "failed", "journal: %s", r->err);
		return -1;
	}
	plan_put(s, "container", ct->name);
	plan_put(s, "container_image", ct->image);
	plan_put(s, "container_state", ct->state);
	plan_put(s, "backup_here", backup_version != NULL ? "true" : "false");
	if (backup_version != NULL)
		plan_put(s, "backup_version", backup_version);
	plan_put(s, "metadb_version", hv);
	plan_put(s, "target_image", image);
	return 0;
}

/* backup_on_peer=true and nothing at the backup path: a node of this
 * host's deployment that holds the backup restores the metadb for the job
 * (the coordinator makes sure one does, PROTOCOL.md 5); this host checks
 * what it needs to stop, wait and start (the container and its metadb, the
 * target image, the metadb and its guard) and says it holds no backup. */
static void
preflight_without_backup(struct plan_run *r, struct plan_res *s, const struct docker_container *ct,
                         const char *image)
{
	struct metadb *m = NULL;
	char hv[65];

	if ((m = check_metadb_now(r, s, hv)) == NULL ||
	    record_metadb_start(r, s, hv, plan_param(r, "to")) != 0 ||
	    preflight_found(r, s, ct, NULL, hv, image) != 0)
		goto out;
	plan_say(
	    s, "ok",
	    "container %s (%s, %s); target image %s present; no backup at %s on this host: the "
	    "node of its "
	    "deployment that holds it restores the metadb, this one waits for that restore; metadb "
	    "reachable at "
	    "version %s",
	    ct->name, ct->image, ct->state, image, plan_param(r, "backup"), *hv ? hv : "(empty)");
out:
	metadb_close(m);
}

/* The container to roll back: ODC's, on the metadb this agent would
 * restore; the target image present (its "repository:tag" in image); and
 * whether the host is at the target already: then the step ends ok with
 * nothing to do, unless force=true. 0 to go on, else the step has its
 * verdict. */
static int
preflight_container(struct plan_run *r, struct plan_res *s, struct docker_container *ct,
                    char *image, size_t imagelen)
{
	const char *to = plan_param(r, "to");
	char why[512];
	json_t *raw = NULL;
	int rc;

	if (plan_docker(r, s) != 0)
		return -1;
	rc = docker_container_inspect(r->d, r->c->container, ct, &raw, r->err, sizeof(r->err));
	if (rc != 0) {
		if (rc == 1)
			plan_say(s, "failed", "no ODC container named %s on this host",
			         r->c->container);
		else
			plan_say(s, "failed", "%s", r->err);
		return -1;
	}
	rc = plan_check_metadb_identity(r, s, raw, ct->name);
	json_decref(raw);
	raw = NULL;
	if (rc != 0 || plan_target_image(r, to, image, imagelen, s) != 0)
		return -1;
	rc = docker_image_inspect(r->d, image, &raw, r->err, sizeof(r->err));
	if (rc != 0) {
		if (rc == 1)
			plan_say(s, "failed",
			         "target image %s is not on this host (docker load it first)",
			         image);
		else
			plan_say(s, "failed", "%s", r->err);
		return -1;
	}
	rc = plan_already_at(r, ct, json_string_value(json_object_get(raw, "Id")), image, to, why,
	                     sizeof(why));
	json_decref(raw);
	if (rc == 1 && !plan_param_true(r, "force")) {
		plan_put(s, "container", ct->name);
		plan_put(s, "container_image", ct->image);
		plan_put(s, "nothing_to_do", "true");
		plan_say(
		    s, "ok",
		    "%s; nothing to do: the backup is not restored over what was written since "
		    "(force=true rolls back anyway)",
		    why);
		r->done = true;
		return 1;
	}
	if (rc == 1)
		plan_note(r, "preflight", "%s; forced: rolling back anyway", why);
	return 0;
}

/* The backup at dir (absent: nothing there) is of the target release,
 * intact, and this host can restore it: the metadb free, the loaders
 * present, room for the safety snapshot. The step's verdict either way. */
static void
preflight_backup(struct plan_run *r, struct plan_res *s, const struct docker_container *ct,
                 const char *image, const char *dir, bool absent)
{
	const char *to = plan_param(r, "to");
	struct backup_info b = {0};
	struct restore_defs defs = {0};
	struct metadb *m = NULL;
	char hv[65], integrity[160];

	if (backup_inspect(dir, r->c->db_name, &b, r->err, sizeof(r->err)) != 0) {
		/* Not there at all: without backup_on_peer (a run on this host
		 * alone) this host restores, so it needs it. */
		plan_say(s, "failed", "backup %s: %s%s", dir, r->err,
		         absent ? " (a rollback of this host alone restores from it here; a fleet "
		                  "rollback restores an HA "
		                  "deployment from whichever node holds it)"
		                : "");
		return;
	}
	if (!version_belongs_to(b.version, to)) {
		plan_say(s, "failed",
		         "backup %s holds ODC metadb version %s, which is not of release %s", dir,
		         b.version, to);
		goto out;
	}
	if (restore_defs_load(&b, &defs, r->err, sizeof(r->err)) != 0) {
		plan_say(s, "failed", "backup %s: %s", dir, r->err);
		goto out;
	}
	if (plan_check_backup(r, s, dir, &b, integrity, sizeof(integrity)) != 0)
		goto out;
	if ((m = check_metadb_now(r, s, hv)) == NULL || plan_check_loader(r, s) != 0 ||
	    plan_check_disk(r, s, snapshot_need_bytes(&b)) != 0 ||
	    record_metadb_start(r, s, hv, to) != 0 ||
	    preflight_found(r, s, ct, b.version, hv, image) != 0)
		goto out;
	plan_say(
	    s, "ok",
	    "container %s (%s, %s); target image %s present; backup %s: version %s, %zu tables, "
	    "%llu rows, "
	    "%zu foreign keys, %zu views, %s; metadb reachable at version %s; loader present; disk "
	    "ok",
	    ct->name, ct->image, ct->state, image, dir, b.version, b.n_tables,
	    (unsigned long long)plan_tables_rows(&b), defs.n_foreign_keys, defs.n_views, integrity,
	    *hv ? hv : "(empty)");
out:
	metadb_close(m);
	restore_defs_free(&defs);
	backup_info_free(&b);
}

/* Preflight of a rollback: refuses before anything is touched. */
static void
step_preflight_rollback(struct plan_run *r, struct plan_res *s)
{
	const char *dir = plan_param(r, "backup");
	struct docker_container ct;
	char image[300], why[512];

	if (preflight_container(r, s, &ct, image, sizeof(image)) != 0)
		return;
	/* Nothing at the path: inside the roots by its text is all it can be. */
	bool absent = nothing_at(dir);
	if (!(absent ? agent_path_allowed : agent_path_in_roots)(r->c, dir, why, sizeof(why))) {
		plan_say(s, "failed", "backup: %s", why);
		return;
	}
	if (absent && plan_param_true(r, "backup_on_peer"))
		preflight_without_backup(r, s, &ct, image);
	else
		preflight_backup(r, s, &ct, image, dir, absent);
}

/* After the metadb was touched, a failed rollback step says which state the
 * host is in and the command that gets back: the undo, which restores the
 * verified snapshot and starts the kept container. */
static void
way_back(struct plan_run *r, struct plan_res *s, enum agent_step k)
{
	char *renamed, *snap, *untouched = NULL;
	const char *state;

	if (strcmp(s->status, "failed") != 0)
		return;
	if (k == STEP_RESTORE) {
		untouched = plan_fact(r, NULL, "metadb_untouched");
		bool kept = untouched != NULL && strcmp(untouched, "1") == 0;
		free(untouched);
		if (kept && plan_fact_is(r, NULL, "put_back", "1"))
			return; /* put_back said where the host is */
		if (kept) {
			renamed = plan_fact(r, NULL, "renamed");
			plan_say_more(
			    s,
			    "; the host is DOWN: ODC is stopped, the metadb was not touched; "
			    "to start ODC as it was: "
			    "odc-agent run undo --of %s (fleet: odcctl undo --of %s --host "
			    "%s), which starts the kept "
			    "container %s",
			    r->job, r->job, r->c->host_id,
			    renamed != NULL ? renamed : "(none recorded)");
			free(renamed);
			return;
		}
		state = "the host is DOWN: ODC is stopped and the metadb is not the backup's "
		        "(emptied or partly restored)";
	} else if (k == STEP_START)
		state = "the host is DOWN: the metadb holds the backup, no ODC container runs";
	else if (k == STEP_HEALTH)
		state = "ODC runs at the target but is not healthy";
	else
		return;
	renamed = plan_fact(r, NULL, "renamed");
	snap = plan_fact(r, NULL, "snapshot_dir");
	char *by = plan_fact(r, NULL, "restored_by");
	if (snap == NULL && by != NULL && k != STEP_RESTORE) {
		/* A node of an HA deployment whose peer restored the metadb:
		 * the deployment's other nodes run on it; this one goes on once
		 * the cause is mended, or the whole deployment goes back. */
		plan_say_more(
		    s,
		    "; %s (restored by %s%s of this deployment for this job); to bring this "
		    "node up with "
		    "the others, mend the cause and run this rollback again on it: it finds "
		    "the metadb at the "
		    "target and only starts ODC; to get the whole deployment back to where "
		    "this job began: "
		    "odcctl undo --of %s naming every node of the deployment (locally: "
		    "odc-agent run undo --of %s "
		    "on each), which restores the restoring node's snapshot and starts the "
		    "kept container %s "
		    "here",
		    state, *by ? "host " : "another node", by, r->job, r->job,
		    renamed != NULL ? renamed : "(none recorded)");
		free(by);
		free(renamed);
		return;
	}
	free(by);
	plan_say_more(
	    s,
	    "; %s; to get back to where this job began: odc-agent run undo --of %s (fleet: "
	    "odcctl undo --of %s "
	    "--host %s), which restores the snapshot %s and starts the kept container %s",
	    state, r->job, r->job, r->c->host_id, snap != NULL ? snap : "(none recorded)",
	    renamed != NULL ? renamed : "(none recorded)");
	free(renamed);
	free(snap);
}

static void
restore_failed(struct plan_run *r, struct plan_res *s)
{
	way_back(r, s, STEP_RESTORE);
}

static void
start_failed(struct plan_run *r, struct plan_res *s)
{
	way_back(r, s, STEP_START);
}

static void
health_failed(struct plan_run *r, struct plan_res *s)
{
	way_back(r, s, STEP_HEALTH);
}

/* ---- the steps, as the table lists them ---- */

static void
rollback_preflight(struct plan_run *r, struct plan_res *s)
{
	plan_check_or_preview(r, s, step_preflight_rollback);
}

static void
rollback_stop(struct plan_run *r, struct plan_res *s)
{
	plan_step_stop_keep(r, s, "rolledback");
}

static void
rollback_health(struct plan_run *r, struct plan_res *s)
{
	plan_step_health(r, s, plan_param(r, "to"));
	plan_retain(r, s);
}

static const struct plan_step rollback_steps[] = {
    {"preflight", rollback_preflight, NULL},
    {"stop", rollback_stop, NULL},
    {"snapshot", plan_rollback_snapshot, NULL},
    {"restore", plan_rollback_restore, restore_failed},
    {"start", plan_step_start_new, start_failed},
    {"health", rollback_health, health_failed},
};

/* The rollback, and its preflight alone (the action "preflight"). */
const struct plan_def plan_rollback_plans[] = {
    {"rollback", rollback_steps, 6, rollback_steps, 1, true, NULL, 0},
    {"preflight", rollback_steps, 1, rollback_steps, 1, false, NULL, 0},
    {NULL, NULL, 0, NULL, 0, false, NULL, 0},
};
