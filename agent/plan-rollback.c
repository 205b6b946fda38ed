/* The rollback plan: preflight -> stop -> snapshot -> restore -> start ->
 * health (its snapshot and restore steps are plan-snapshot.c). Each step
 * records what it learns (the old container, its spec, the name it was
 * renamed to) as a fact before it acts on it, so that it is safe to run
 * twice; nothing is deleted: the old container is renamed and kept. */
#include <dirent.h>
#include <netdb.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "agent/plan-int.h"
#include "agent/prune.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/version.h"

static uint64_t
snapshot_need_bytes(const struct backup_info *b)
{
	/* A dump of the live metadb is about the size of a dump of the older
	 * one; twice that and 64 MiB of room keep a safety margin. */
	return b->bytes * 2 + (64ull << 20);
}

static int
check_disk(struct plan_run *r, struct plan_res *s, uint64_t need)
{
	struct statvfs vfs;

	/* A fresh host has no snapshot root yet: it is the agent's to make. */
	if (agent_dir_ensure(r->c->snapshot_root, r->err, sizeof(r->err)) != 0) {
		plan_say(s, "failed", "snapshot root: %s", r->err);
		return -1;
	}
	if (statvfs(r->c->snapshot_root, &vfs) != 0) {
		plan_say(s, "failed", "snapshot root %s: %s", r->c->snapshot_root, strerror(errno));
		return -1;
	}
	uint64_t avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	if (avail < need) {
		plan_say(
		    s, "failed",
		    "not enough free disk under %s for the safety snapshot: %llu MiB free, %llu "
		    "MiB needed",
		    r->c->snapshot_root, (unsigned long long)(avail >> 20),
		    (unsigned long long)(need >> 20));
		return -1;
	}
	return 0;
}

/* Two host names for one server: equal text, or addresses in common. */
static bool
same_server(const char *a, const char *b)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ra = NULL, *rb = NULL;
	bool same = strcasecmp(a, b) == 0;

	if (!same && getaddrinfo(a, NULL, &hints, &ra) == 0 &&
	    getaddrinfo(b, NULL, &hints, &rb) == 0) {
		for (const struct addrinfo *x = ra; x != NULL && !same; x = x->ai_next)
			for (const struct addrinfo *y = rb; y != NULL && !same; y = y->ai_next)
				same = x->ai_addrlen == y->ai_addrlen &&
				       memcmp(x->ai_addr, y->ai_addr, x->ai_addrlen) == 0;
	}
	if (ra != NULL)
		freeaddrinfo(ra);
	if (rb != NULL)
		freeaddrinfo(rb);
	return same;
}

/* The metadb a rollback restores must be the one the ODC container uses: its
 * DATABASE_* env names it (ODC's required settings). A copied agent.conf must
 * never restore another deployment's database, so any difference in server,
 * port, tenant, cluster or database refuses, naming both; the user and the
 * password may differ (never compared, never shown). Returns 0 when they
 * agree, else -1 with the step failed. */
static int
check_metadb_identity(struct plan_run *r, struct plan_res *s, json_t *inspect,
                      const char *container)
{
	const struct agent_conf *c = r->c;
	struct spec_metadb id;
	char theirs[700], ours[700], why[200];

	if (spec_metadb_identity(inspect, &id, why, sizeof(why)) != 0) {
		plan_say(
		    s, "failed",
		    "container %s: %s: cannot confirm that it uses the metadb this agent would "
		    "restore "
		    "(%s:%llu/%s); refusing",
		    container, why, c->db_host, (unsigned long long)c->db_port, c->db_name);
		return -1;
	}
	if (same_server(id.host, c->db_host) && id.port == c->db_port &&
	    strcmp(id.database, c->db_name) == 0 &&
	    strcmp(id.tenant, c->db_tenant ? c->db_tenant : "") == 0 &&
	    strcmp(id.cluster, c->db_cluster ? c->db_cluster : "") == 0)
		return 0;
	snprintf(theirs, sizeof(theirs), "%s:%u/%s (tenant '%s', cluster '%s')", id.host, id.port,
	         id.database, id.tenant, id.cluster);
	snprintf(ours, sizeof(ours), "%s:%llu/%s (tenant '%s', cluster '%s')", c->db_host,
	         (unsigned long long)c->db_port, c->db_name, c->db_tenant ? c->db_tenant : "",
	         c->db_cluster ? c->db_cluster : "");
	plan_say(
	    s, "failed",
	    "container %s uses the metadb %s, but this agent is configured for %s (%s): it would "
	    "restore another "
	    "database than ODC's; nothing was touched. Make [metadb] in the agent's configuration "
	    "name the "
	    "container's metadb",
	    container, theirs, ours, c->path);
	return -1;
}

/* Whether the host is already where a rollback to `to` would take it: its
 * container runs the target image (by image id, whatever name it was run
 * by), ODC answers healthy at release `to`, and the metadb's history is of
 * `to`. Rolling back again would restore the old backup over everything
 * written since. Returns 1 with what was seen in why, else 0 (anything not
 * established, e.g. the metadb unreachable, is 0: the preflight goes on and
 * reports it). */
static int
already_at_target(struct plan_run *r, const struct docker_container *ct, const char *target_id,
                  const char *image, const char *to, char *why, size_t whylen)
{
	struct plan_res scratch = {0};
	struct health_state st = {0};
	struct metadb *m;
	char hv[65];
	int rc, ret = 0;

	if (target_id == NULL || strcmp(ct->state, "running") != 0 ||
	    strcmp(ct->image_id, target_id) != 0)
		return 0;
	uint64_t t0 = clock_mono_ms();
	health_probe(r->c->health_url, 5000, &st);
	plan_waited(&r->wait_health_ms, t0);
	if (!st.healthy || !version_belongs_to(st.version, to))
		return 0;
	scratch.data = json_object();
	if ((m = plan_metadb(r, &scratch)) != NULL) {
		rc = metadb_history_version(m, hv, sizeof(hv), r->err, sizeof(r->err));
		if (rc == 0 && version_belongs_to(hv, to)) {
			snprintf(why, whylen,
			         "already at %s: container %s runs %s, ODC is healthy at version "
			         "%s, the metadb is at "
			         "version %s",
			         to, ct->name, image, st.version, hv);
			ret = 1;
		}
		metadb_close(m);
	}
	json_decref(scratch.data);
	return ret;
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
	rc = check_metadb_identity(r, s, raw, ct->name);
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
	rc = already_at_target(r, ct, json_string_value(json_object_get(raw, "Id")), image, to, why,
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
	    check_disk(r, s, snapshot_need_bytes(&b)) != 0 ||
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

/* The secret env values the journal did not keep, from the kept container
 * (the one this job stopped and renamed). 0, or -1 with the step failed. */
static int
unredact_from_kept(struct plan_run *r, struct plan_res *s, json_t *spec)
{
	char *old_id = plan_fact(r, NULL, "old_id"), *renamed = plan_fact(r, NULL, "renamed");
	struct docker_container kept;
	json_t *inspect = NULL;
	int rc = -1;

	if (old_id == NULL ||
	    docker_container_inspect(r->d, old_id, &kept, &inspect, r->err, sizeof(r->err)) != 0) {
		plan_say(
		    s, "failed",
		    "the kept container %s (%.12s), which holds the secret env values the journal "
		    "does not keep, "
		    "cannot be read: %s",
		    renamed ? renamed : "?", old_id ? old_id : "?",
		    old_id ? r->err : "no id recorded");
		goto out;
	}
	if (spec_unredact(spec, inspect, r->err, sizeof(r->err)) != 0) {
		plan_say(s, "failed", "%s (%s)", r->err, kept.name);
		goto out;
	}
	rc = 0;
out:
	json_decref(inspect);
	free(old_id);
	free(renamed);
	return rc;
}

static void
step_start_new(struct plan_run *r, struct plan_res *s, const char *image)
{
	struct docker_container ct;
	char id[65];
	char *spec_text = NULL;
	json_t *spec = NULL;
	json_error_t je;
	int rc;

	if (plan_docker(r, s) != 0)
		return;
	rc = docker_container_inspect(r->d, r->c->container, &ct, NULL, r->err, sizeof(r->err));
	if (rc < 0) {
		plan_say(s, "failed", "%s", r->err);
		goto out;
	}
	if (rc == 0) {
		char *mine = plan_fact(r, NULL, "new_id");
		bool ours = mine != NULL && strcmp(mine, ct.id) == 0;
		free(mine);
		if (!ours) {
			plan_say(
			    s, "failed",
			    "a container named %s already exists (%.12s, %s) that this job did not "
			    "create; "
			    "not touching it",
			    r->c->container, ct.id, ct.image);
			goto out;
		}
		snprintf(id, sizeof(id), "%s", ct.id);
	} else {
		spec_text = plan_fact(r, NULL, "spec");
		if (spec_text == NULL || (spec = json_loads(spec_text, 0, &je)) == NULL) {
			plan_say(s, "failed", "no recorded container spec for this job");
			goto out;
		}
		if (unredact_from_kept(r, s, spec) != 0)
			goto out;
		if (docker_container_create(r->d, r->c->container, spec, id, r->err,
		                            sizeof(r->err)) != 0) {
			plan_say(s, "failed", "%s", r->err);
			goto out;
		}
		if (plan_fact_set(r, "new_id", id) != 0) {
			plan_say(s, "failed", "%s", r->err);
			goto out;
		}
	}
	if (plan_container_start(r, id) != 0) {
		plan_say(s, "failed", "%s", r->err);
		goto out;
	}
	plan_put(s, "container_id", id);
	plan_put(s, "image", image);
	plan_say(s, "ok",
	         "created %s (%.12s) from the old container's spec with image %s, and started it",
	         r->c->container, id, image);
out:
	json_decref(spec);
	free(spec_text);
}

/* After a rollback that ended healthy, the retention rule as prune applies
 * it; the rollback is done either way, so a failure here is only said. */
static void
retain_after_rollback(struct plan_run *r, struct plan_res *s)
{
	struct plan_res why = {0};
	struct prune_report rep;
	int rc;

	if (strcmp(s->status, "ok") != 0)
		return;
	if (plan_docker(r, &why) != 0) {
		plan_say_more(s, "; retention not applied (%s): odc-agent prune applies it",
		              why.message);
		return;
	}
	rc = prune_apply(r->c, r->j, r->d, false, &rep, r->err, sizeof(r->err));
	if (rc < 0)
		plan_say_more(s, "; retention not applied (%s): odc-agent prune applies it",
		              r->err);
	else
		plan_say_more(s, "; retention: %s", rep.summary);
	for (const char *l = rc >= 0 ? (const char *)rep.list.data : NULL;
	     l != NULL && *l != '\0';) {
		size_t n = strcspn(l, "\n");
		log_info("job %s: retention: %.*s", r->job, (int)n, l);
		l += n + (l[n] == '\n');
	}
	prune_report_free(&rep);
}

/* A dry-run rollback: the container that runs against the one the rollback
 * would create (its spec, as the stop step records it, made from the target
 * image as the engine makes it). */
static void
preview_rollback(struct plan_run *r, struct plan_res *s)
{
	struct docker_container ct;
	json_t *cur = NULL, *img = NULL, *target = NULL, *spec = NULL, *next = NULL;
	char image[300];

	if (plan_docker(r, s) != 0 ||
	    plan_target_image(r, plan_param(r, "to"), image, sizeof(image), s) != 0)
		return;
	if (docker_container_inspect(r->d, r->c->container, &ct, &cur, r->err, sizeof(r->err)) !=
	        0 ||
	    docker_image_inspect(r->d, ct.image_id, &img, r->err, sizeof(r->err)) < 0 ||
	    docker_image_inspect(r->d, image, &target, r->err, sizeof(r->err)) != 0) {
		plan_say(s, "failed", "dry run: cannot read the container %s or its images: %s",
		         r->c->container, r->err);
		goto out;
	}
	if ((spec = spec_from_container(cur, img, image, r->err, sizeof(r->err))) == NULL) {
		plan_say(s, "failed", "dry run: cannot derive the new container's spec: %s",
		         r->err);
		goto out;
	}
	if ((next = specdiff_created(spec, target, r->c->container)) == NULL) {
		plan_say(s, "failed", "out of memory comparing the containers");
		goto out;
	}
	plan_show_diff(r, s, cur, next);
out:
	json_decref(next);
	json_decref(spec);
	json_decref(target);
	json_decref(img);
	json_decref(cur);
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
	step_preflight_rollback(r, s);
	if (s->status != NULL && strcmp(s->status, "ok") == 0 && !r->done &&
	    plan_param_true(r, "dry_run"))
		preview_rollback(r, s);
}

static void
rollback_stop(struct plan_run *r, struct plan_res *s)
{
	char image[300];

	if (plan_target_image(r, plan_param(r, "to"), image, sizeof(image), s) == 0)
		plan_step_stop(r, s, "rolledback", image, false);
}

static void
rollback_start(struct plan_run *r, struct plan_res *s)
{
	char image[300];

	if (plan_target_image(r, plan_param(r, "to"), image, sizeof(image), s) == 0)
		step_start_new(r, s, image);
}

static void
rollback_health(struct plan_run *r, struct plan_res *s)
{
	plan_step_health(r, s, plan_param(r, "to"));
	retain_after_rollback(r, s);
}

static const struct plan_step rollback_steps[] = {
    {"preflight", rollback_preflight, NULL},    {"stop", rollback_stop, NULL},
    {"snapshot", plan_rollback_snapshot, NULL}, {"restore", plan_rollback_restore, restore_failed},
    {"start", rollback_start, start_failed},    {"health", rollback_health, health_failed},
};

/* The rollback, and its preflight alone (the action "preflight"). */
const struct plan_def plan_rollback_plans[] = {
    {"rollback", rollback_steps, 6, rollback_steps, 1, true},
    {"preflight", rollback_steps, 1, rollback_steps, 1, false},
    {NULL, NULL, 0, NULL, 0, false},
};
