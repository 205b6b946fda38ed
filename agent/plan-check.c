/* The checks the plans and actions share before they touch the metadb: the
 * loaders present, a backup intact, the metadb held by no other restore and
 * used by nobody else, the metadb against a backup, a kept release against
 * the metadb's; the restore guard taken and released (guard.h); the dump of
 * the live metadb, verified, that a snapshot and a backup both are. */
#include <netdb.h>
#include <strings.h>
#include <sys/statvfs.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "agent/plan-int.h"
#include "agent/manifest.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/version.h"

static int
metadb_compare(struct plan_run *r, struct metadb *m, const struct backup_info *b,
               const struct restore_defs *defs, bool check_history, char *why, size_t whylen)
{
	struct msgbuf mb;
	char **names = NULL;
	size_t n = 0;

	why[0] = '\0';
	msg_init(&mb, why, whylen, 0);
	if (metadb_tables(m, &names, &n, r->err, sizeof(r->err)) != 0) {
		msg_add(&mb, "cannot list tables: %s", r->err);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		const struct backup_table *t = backup_table_find(b, names[i]);
		uint64_t rows = 0;
		if (t == NULL) {
			msg_add(&mb, "table %s is in the metadb but not in the backup", names[i]);
			continue;
		}
		if (metadb_count(m, names[i], &rows, r->err, sizeof(r->err)) != 0) {
			msg_add(&mb, "%s: %s", names[i], r->err);
			continue;
		}
		if (rows != t->rows)
			msg_add(&mb, "%s has %llu rows, the backup %llu", names[i],
			        (unsigned long long)rows, (unsigned long long)t->rows);
	}
	for (size_t i = 0; i < b->n_tables; i++) {
		bool found = false;
		for (size_t k = 0; k < n && !found; k++)
			found = strcmp(names[k], b->tables[i].name) == 0;
		if (!found)
			msg_add(&mb, "table %s of the backup is missing", b->tables[i].name);
	}
	metadb_names_free(names, n);
	(void)restore_compare_objects(m, defs, &mb);
	if (check_history) {
		char hv[65];
		int rc = metadb_history_version(m, hv, sizeof(hv), r->err, sizeof(r->err));
		if (rc < 0)
			msg_add(&mb, "history: %s", r->err);
		else if (strcmp(hv, b->version) != 0)
			msg_add(&mb, "migrate_schema_history is at %s, the backup at %s",
			        rc == 1 ? "(none)" : hv, b->version);
	}
	return mb.n > 0;
}

int
plan_metadb_matches(struct plan_run *r, struct metadb *m, const struct backup_info *b,
                    const struct restore_defs *defs, bool check_history, char *why, size_t whylen)
{
	uint64_t t0 = clock_mono_ms();
	int rc = metadb_compare(r, m, b, defs, check_history, why, whylen);

	plan_waited(&r->wait_metadb_ms, t0);
	return rc;
}

int
plan_check_loader(struct plan_run *r, struct plan_res *s)
{
	if (access(r->c->obloader, X_OK) != 0) {
		plan_say(s, "failed", "obloader %s is missing or not executable", r->c->obloader);
		return -1;
	}
	if (access(r->c->obdumper, X_OK) != 0) {
		plan_say(s, "failed", "obdumper %s is missing or not executable", r->c->obdumper);
		return -1;
	}
	return 0;
}

/* Is the backup in dir (b) what odc-fleet took? Intact and signed by this
 * agent: 0, said in the step's data. Damaged: the step fails, naming what
 * differs. Taken by hand (or signed by another agent's key): its
 * completeness cannot be verified, so it needs accept_unverified=true;
 * without it the step fails saying how to go on. 0 to proceed. */
int
plan_check_backup(struct plan_run *r, struct plan_res *s, const char *dir,
                  const struct backup_info *b, char *how, size_t howlen)
{
	char signer[64], why[1024];
	int rc = manifest_verify(r->c, dir, b, signer, sizeof(signer), why, sizeof(why));

	if (rc == 0) {
		plan_put(s, "backup_verified", signer);
		snprintf(how, howlen, "intact (its odc-fleet manifest, signed by %s)", signer);
		return 0;
	}
	if (rc < 0) {
		plan_say(
		    s, "failed",
		    "backup %s is damaged: %s (its odc-fleet manifest says what it held when it "
		    "was "
		    "taken)",
		    dir, why);
		return -1;
	}
	/* An undo (or a revert) restores the agent's own safety snapshot: one without a
	 * manifest was taken before odc-fleet wrote them. */
	if (plan_param_true(r, "accept_unverified") || strcmp(r->action, "undo") == 0 ||
	    strcmp(r->phase, "revert") == 0) {
		plan_put(s, "backup_verified", "no (accepted)");
		snprintf(how, howlen, "completeness NOT verified (%s; accepted)",
		         rc == 1 ? "no odc-fleet manifest"
		                 : "manifest signed by another agent's key");
		return 0;
	}
	if (rc == 1)
		plan_say(
		    s, "failed",
		    "backup %s was not taken by odc-fleet (no " MANIFEST_JSON
		    "): its completeness cannot "
		    "be verified (obdumper's MANIFEST.bin is not a public format and proves "
		    "nothing); check it, then "
		    "run again with accept_unverified=true (odcctl rollback ... "
		    "--accept-unverified, odc-agent run "
		    "rollback ... --accept-unverified), or take a backup with odc-fleet (odcctl "
		    "backup)",
		    dir);
	else
		plan_say(
		    s, "failed",
		    "backup %s: its manifest is intact but signed by %s, a key this agent does not "
		    "trust "
		    "(add the signing agent's public key to [trust] backups), or run again with "
		    "accept_unverified=true "
		    "(--accept-unverified) to restore it anyway",
		    dir, signer);
	return -1;
}

/* Whether another restore holds the metadb (guard.h): fails the step,
 * naming the holder and the way out, when it does. A guard held for this
 * same job is no obstacle: this host's own (a resumed plan), or a peer
 * node's of this deployment that restores for it (the nodes of one job are
 * dispatched at once, so a peer may take it before this check runs; the
 * steps that restore take the guard themselves and wait for, or refuse,
 * such a peer). 0 free, -1 failed. */
int
plan_check_guard(struct plan_run *r, struct plan_res *s, struct metadb *m)
{
	struct guard_holder who;
	char desc[300];
	uint64_t t0 = clock_mono_ms();
	int rc = guard_read(m, &who, r->err, sizeof(r->err));

	plan_waited(&r->wait_metadb_ms, t0);
	if (rc < 0) {
		plan_say(s, "failed", "metadb: %s", r->err);
		return -1;
	}
	if (rc == 0 || (!who.unreadable && strcmp(who.job, r->job) == 0))
		return 0;
	guard_describe(&who, desc, sizeof(desc));
	plan_say(
	    s, "failed",
	    "the metadb is held by another restore: %s (table %s); nothing was touched. Wait for "
	    "it to end; when "
	    "that host is gone for good and nothing restores this metadb, release it with "
	    "`odc-agent guard release "
	    "%s` on any node of this ODC",
	    desc, GUARD_TABLE, who.unreadable ? "--any" : who.job);
	return -1;
}

/* Every other session of ODC's user gone from the metadb: a node still
 * connected would keep writing into the restore, or be undone by it.
 * Stopped containers' connections end within moments; waits up to
 * SESSIONS_WAIT_MS. 0 none, -1 with the step failed. */

int
plan_check_sessions(struct plan_run *r, struct plan_res *s, struct metadb *m)
{
	uint64_t t0 = clock_mono_ms();
	char desc[300], login[256] = "";
	size_t n;

	(void)metadb_login_name(r->c->db_user, r->c->db_tenant, r->c->db_cluster, login,
	                        sizeof(login));
	for (;;) {
		if (guard_sessions(m, r->c->db_user, *login ? login : r->c->db_user, &n, desc,
		                   sizeof(desc), r->err, sizeof(r->err)) != 0) {
			plan_waited(&r->wait_metadb_ms, t0);
			plan_say(s, "failed", "%s", r->err);
			return -1;
		}
		if (n == 0) {
			plan_waited(&r->wait_metadb_ms, t0);
			return 0;
		}
		if (clock_mono_ms() - t0 >= SESSIONS_WAIT_MS)
			break;
		struct timespec ts = {0, 500 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	plan_waited(&r->wait_metadb_ms, t0);
	plan_say(
	    s, "failed",
	    "%s of user %s still connected to the metadb after %d s: an ODC node (or another "
	    "client) still uses "
	    "it, and a restore under it would be overwritten or undone; nothing was restored. Stop "
	    "ODC on every "
	    "node of this deployment, then run the rollback again",
	    desc, r->c->db_user, SESSIONS_WAIT_MS / 1000);
	return -1;
}

/* Takes the metadb's restore guard for this job (guard.h): from the safety
 * snapshot to the end of the restore, nobody else dumps or restores it. 0
 * taken; 1 held by another node for this same job (a peer of this node's
 * deployment restores it; *who), the step untouched; -1 with the step
 * failed, naming the holder and the way out. */
int
plan_guard_take(struct plan_run *r, struct plan_res *s, struct metadb *m, struct guard_holder *peer)
{
	struct guard_holder who;
	char desc[300];
	uint64_t t0 = clock_mono_ms();
	int rc = guard_take(m, r->c->host_id, r->job, r->action, &who, r->err, sizeof(r->err));

	plan_waited(&r->wait_metadb_ms, t0);
	if (rc == 0) {
		r->guarded = true;
		return 0;
	}
	if (rc < 0) {
		plan_say(s, "failed", "cannot take the restore guard of the metadb: %s", r->err);
		return -1;
	}
	if (peer != NULL && !who.unreadable && strcmp(who.job, r->job) == 0) {
		*peer = who;
		return 1;
	}
	guard_describe(&who, desc, sizeof(desc));
	plan_say(
	    s, "failed",
	    "another restore of this metadb started first: %s; the metadb was not touched from "
	    "here. When that "
	    "host is gone for good and nothing restores this metadb, release it with `odc-agent "
	    "guard release %s`",
	    desc, who.unreadable ? "--any" : who.job);
	return -1;
}

/* Releases the guard this run holds, on m (or on a new connection when m
 * is NULL); a failure is added to s's message (logged when s is NULL),
 * with the command that releases it. */
void
plan_guard_release(struct plan_run *r, struct plan_res *s, struct metadb *m)
{
	struct guard_holder who;
	struct plan_res scratch = {0};
	struct metadb *own = NULL;
	int rc = -1;

	if (!r->guarded)
		return;
	if (m == NULL) {
		scratch.data = json_object();
		m = own = plan_metadb(r, &scratch);
		if (m == NULL)
			snprintf(r->err, sizeof(r->err), "%s", scratch.message);
		json_decref(scratch.data);
	}
	uint64_t t0 = clock_mono_ms();
	if (m != NULL)
		rc = guard_release(m, r->c->host_id, r->job, &who, r->err, sizeof(r->err));
	plan_waited(&r->wait_metadb_ms, t0);
	metadb_close(own);
	if (rc == 0) {
		r->guarded = false;
		return;
	}
	if (s != NULL)
		plan_say_more(s,
		              " (the restore guard %s could not be released: %s; `odc-agent guard "
		              "release %s`)",
		              GUARD_TABLE, rc > 0 ? "another holds it now" : r->err, r->job);
	else
		log_warn("job %s: the restore guard %s could not be released: %s (`odc-agent guard "
		         "release %s`)",
		         r->job, GUARD_TABLE, rc > 0 ? "another holds it now" : r->err, r->job);
}

/* Whether the container job kept (its old_image; job NULL: this one) is of
 * a release no newer than the metadb's: an ODC never starts on a metadb of
 * an older release, which it would migrate forward (a node of an HA
 * deployment left out of its rollback). True when either cannot be told
 * (no release in the tag, no version); else false with why. */
bool
plan_release_fits(struct plan_run *r, struct metadb *m, const char *job, char *why, size_t whylen)
{
	char *img = plan_fact(r, job, "old_image"), tag[130] = "", hv[65] = "";
	bool fits = true;
	int cmp;

	version_image_tag(img ? img : "", tag, sizeof(tag));
	if (*tag != '\0' &&
	    metadb_history_version(m, hv, sizeof(hv), r->err, sizeof(r->err)) == 0 &&
	    version_release_cmp(tag, hv, &cmp) && cmp > 0) {
		snprintf(
		    why, whylen,
		    "the kept container runs %s, of a newer release than the metadb's version %s",
		    img, hv);
		fits = false;
	}
	free(img);
	return fits;
}

void
plan_loader_said(struct plan_run *r, struct plan_res *s, const struct loader_run *lr)
{
	r->wait_loader_ms += lr->sr.duration_ms;
	s->exit_code = lr->sr.exited ? lr->sr.exit_code : -lr->sr.signal;
	plan_tail(s, lr->error_tail[0] ? lr->error_tail : lr->out_tail);
}

void
plan_dump_said(struct plan_res *s, const char *what, const char *done, const char *dir,
               const struct backup_info *b)
{
	char key[64];

	plan_put(s, what, dir);
	snprintf(key, sizeof(key), "%s_version", what);
	plan_put(s, key, b->version);
	plan_say(s, "ok", "metadb %s to %s and verified: %zu tables, %llu rows, version %s", done,
	         dir, b->n_tables, (unsigned long long)plan_tables_rows(b), b->version);
}

/* Dump the live metadb into dir with obdumper, then verify the dump against
 * it: an obdumper backup of the metadb with the same tables, row counts and
 * migration version. Returns 0 with b filled, or -1 with s saying why. */
int
plan_dump(struct plan_run *r, struct plan_res *s, struct metadb *m, const char *what,
          const char *dir, uint64_t budget, struct backup_info *b)
{
	struct loader_run lr = {0};
	struct restore_defs defs = {0};
	char why[1024], how[160];
	int rc, ret = -1;

	rc = loader_dump(r->c, r->password, r->job, what, dir, budget, &lr, r->err, sizeof(r->err));
	plan_loader_said(r, s, &lr);
	if (rc != 0) {
		if (rc < 0)
			snprintf(how, sizeof(how), "could not run: %s", r->err);
		else
			spawn_describe(&lr.sr, how, sizeof(how));
		plan_say(s, "failed", "obdumper %s; the metadb was not touched", how);
		goto out;
	}
	if (backup_inspect(dir, r->c->db_name, b, r->err, sizeof(r->err)) != 0) {
		plan_say(s, "failed", "the %s %s is not a usable backup: %s", what, dir, r->err);
		goto out;
	}
	if (restore_defs_load(b, &defs, r->err, sizeof(r->err)) != 0) {
		plan_say(s, "failed", "the %s %s cannot be restored: %s", what, dir, r->err);
		goto out;
	}
	if (plan_metadb_matches(r, m, b, &defs, true, why, sizeof(why)) != 0) {
		plan_say(s, "failed", "the %s %s does not match the metadb: %s", what, dir, why);
		goto out;
	}
	plan_utc_stamp(how, sizeof(how));
	if (manifest_write(r->c, dir, b, how, r->err, sizeof(r->err)) != 0) {
		plan_say(
		    s, "failed",
		    "the %s %s was verified, but its odc-fleet manifest could not be written: %s",
		    what, dir, r->err);
		goto out;
	}
	ret = 0;
out:
	restore_defs_free(&defs);
	loader_run_free(&lr);
	return ret;
}

/* The snapshot root's free space (plan-int.h). */
int
plan_check_disk(struct plan_run *r, struct plan_res *s, uint64_t need)
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
		plan_say(s, "failed",
		         "not enough free disk under %s for the %s: %llu MiB free, %llu "
		         "MiB needed",
		         r->c->snapshot_root,
		         strcmp(r->action, "upgrade") == 0 ? "upgrade's backup" : "safety snapshot",
		         (unsigned long long)(avail >> 20), (unsigned long long)(need >> 20));
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

/* The metadb a rollback restores (or an upgrade backs up) must be the one the ODC container uses:
 * its DATABASE_* env names it (ODC's required settings). A copied agent.conf must never restore
 * another deployment's database, so any difference in server, port, tenant, cluster or database
 * refuses, naming both; the user and the password may differ (never compared, never shown). Returns
 * 0 when they agree, else -1 with the step failed. */
int
plan_check_metadb_identity(struct plan_run *r, struct plan_res *s, json_t *inspect,
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

/* Whether the host is already where a rollback (or an upgrade) to `to`
 * would take it: its
 * container runs the target image (by image id, whatever name it was run
 * by), ODC answers healthy at release `to`, and the metadb's history is of
 * `to`. Rolling back again would restore the old backup over everything
 * written since. Returns 1 with what was seen in why, else 0 (anything not
 * established, e.g. the metadb unreachable, is 0: the preflight goes on and
 * reports it). */
int
plan_already_at(struct plan_run *r, const struct docker_container *ct, const char *target_id,
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
