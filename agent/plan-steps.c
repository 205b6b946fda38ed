/* The steps the rollback, upgrade and undo plans share: stop (and keep) the
 * container, a clean restore of the metadb from a backup, the new container
 * started from the kept one's spec, the health gate; and the dry run's
 * difference between two containers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "agent/plan-int.h"
#include "agent/odclog.h"
#include "agent/prune.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/version.h"

/* Where ODC writes its log in its container: log4j2.xml's OdcFileAppender,
 * ${LOG_DIRECTORY}/odc.log with LOG_DIRECTORY ./log under /opt/odc
 * (oceanbase/odc server/odc-server/src/main/resources/log4j2.xml). `docker
 * logs` shows only the supervisor. */
#define ODC_LOG_FILE    "/opt/odc/log/odc.log"
#define DOCKER_LOG_TAIL 4000

/* Stop the container and rename it <name>-<suffix>-<time>; its spec (for
 * the new image, when new_image is set) is recorded first. absent_ok: no
 * container by that name is a skip, not a failure (an undo after a rollback
 * that failed between its stop and its start: nothing stands in the way). */
void
plan_step_stop(struct plan_run *r, struct plan_res *s, const char *suffix, const char *new_image,
               bool absent_ok)
{
	struct docker_container ct;
	char *renamed = NULL, *old_id = NULL, stamp[32], name[200];
	json_t *inspect = NULL, *img = NULL, *spec = NULL;
	int rc;

	if (plan_docker(r, s) != 0)
		return;
	renamed = plan_fact(r, NULL, "renamed");
	old_id = plan_fact(r, NULL, "old_id");
	if (renamed != NULL) {
		/* A second run: the rename may already have happened. */
		rc = docker_container_inspect(r->d, renamed, &ct, NULL, r->err, sizeof(r->err));
		if (rc == 0) {
			if (plan_container_stop(r, ct.id) != 0) {
				plan_say(s, "failed", "%s", r->err);
				goto out;
			}
			plan_put(s, "renamed_container", renamed);
			plan_say(s, "ok", "container already stopped and renamed %s (kept)",
			         renamed);
			goto out;
		}
	}
	rc = docker_container_inspect(r->d, r->c->container, &ct, &inspect, r->err, sizeof(r->err));
	if (rc != 0) {
		if (rc == 1 && absent_ok)
			plan_say(
			    s, "skipped",
			    "no container named %s runs in place of the kept one; nothing to stop",
			    r->c->container);
		else if (rc == 1)
			plan_say(s, "failed", "no container named %s to stop", r->c->container);
		else
			plan_say(s, "failed", "%s", r->err);
		goto out;
	}
	if (old_id != NULL && strcmp(old_id, ct.id) != 0) {
		plan_say(
		    s, "failed",
		    "container %s is now %.12s, not the %.12s this job stopped; not touching it",
		    r->c->container, ct.id, old_id);
		goto out;
	}
	if (renamed == NULL) {
		if (new_image != NULL) {
			rc = docker_image_inspect(r->d, ct.image_id, &img, r->err, sizeof(r->err));
			if (rc < 0) {
				plan_say(s, "failed", "%s", r->err);
				goto out;
			}
			spec = spec_from_container(inspect, img, new_image, r->err, sizeof(r->err));
			if (spec == NULL) {
				plan_say(s, "failed", "cannot derive the new container's spec: %s",
				         r->err);
				goto out;
			}
			/* Secrets stay in Docker (the kept container), not in the journal. */
			spec_redact(spec, SPEC_KEPT_MASK);
			char *text = json_dumps(spec, JSON_COMPACT | JSON_SORT_KEYS);
			rc = text ? plan_fact_set(r, "spec", text) : -1;
			free(text);
			if (rc != 0)
				goto journal_fail;
		}
		plan_utc_stamp(stamp, sizeof(stamp));
		snprintf(name, sizeof(name), "%s-%s-%s", r->c->container, suffix, stamp);
		if (plan_fact_set(r, "old_id", ct.id) != 0 ||
		    plan_fact_set(r, "old_image", ct.image) != 0 ||
		    plan_fact_set(r, "renamed", name) != 0)
			goto journal_fail;
		free(renamed);
		renamed = strdup(name);
	}
	static const char *const stopped[] = {"exited", "created", "dead", NULL};
	if (plan_container_stop(r, ct.id) != 0 ||
	    docker_container_wait_state(r->d, ct.id, stopped, 10000, NULL, r->err,
	                                sizeof(r->err)) != 0 ||
	    docker_container_rename(r->d, ct.id, renamed, r->err, sizeof(r->err)) != 0) {
		plan_say(s, "failed", "%s", r->err);
		goto out;
	}
	plan_put(s, "renamed_container", renamed);
	plan_put(s, "old_image", ct.image);
	plan_say(s, "ok", "stopped %s (%.12s, %s) and renamed it %s (kept, not removed)",
	         r->c->container, ct.id, ct.image, renamed);
	goto out;
journal_fail:
	plan_say(s, "failed", "%s", r->err);
out:
	json_decref(spec);
	json_decref(img);
	json_decref(inspect);
	free(renamed);
	free(old_id);
}

/* A rollback's restore fences the metadb at the version it restores
 * (guard.h: a node that was away must not start its newer ODC on it), once
 * it has emptied it, before loading; the undo of a rollback lifts that
 * rollback's fence after its verified restore. A failure here fails
 * nothing by itself: it is said, with the command that does it by hand. */
static void
mark_fence(struct plan_run *r, struct plan_res *s, struct metadb *m, const char *version,
           char *warn, size_t warnlen)
{
	struct guard_holder f;
	uint64_t t0 = clock_mono_ms();

	*warn = '\0';
	if (strcmp(r->action, "rollback") == 0) {
		if (!version_valid(version))
			snprintf(warn, warnlen,
			         "; no fence set: the backup's version '%s' is no version",
			         version);
		else if (fence_set(m, r->c->host_id, r->job, version, r->err, sizeof(r->err)) != 0)
			snprintf(
			    warn, warnlen,
			    "; the fence could not be set (%s): a node that was away may start its "
			    "newer ODC on this metadb",
			    r->err);
		else
			plan_put(s, "fence", version);
	} else if (strcmp(r->action, "undo") == 0 &&
	           fence_lift(m, plan_param(r, "of"), &f, r->err, sizeof(r->err)) < 0) {
		snprintf(
		    warn, warnlen,
		    "; the fence of %s could not be lifted (%s): `odc-agent guard lift-fence %s`",
		    plan_param(r, "of"), r->err, plan_param(r, "of"));
	}
	plan_waited(&r->wait_metadb_ms, t0);
}

/* One clean restore, from its backup to its verdict. */
struct restore_work {
	const char *src; /* the backup's directory */
	void (*untouched)(struct plan_run *r, struct plan_res *s, struct metadb *m);
	struct backup_info b;
	struct restore_defs defs;
	struct metadb *m;
	struct loader_run lr;
	char what[128];       /* how obloader ended */
	char fence_warn[400]; /* why the fence could not be set or lifted, or "" */
};

/* The backup read, its definitions parsed, and (again: it may have changed
 * since the preflight; an undo's snapshot is this agent's own) found intact.
 * 0, or -1 with the step failed. */
static int
restore_read(struct plan_run *r, struct plan_res *s, struct restore_work *w)
{
	if (backup_inspect(w->src, r->c->db_name, &w->b, r->err, sizeof(r->err)) != 0 ||
	    restore_defs_load(&w->b, &w->defs, r->err, sizeof(r->err)) != 0) {
		plan_say(s, "failed", "%s: %s", w->src, r->err);
		return -1;
	}
	return plan_check_backup(r, s, w->src, &w->b, w->what, sizeof(w->what));
}

/* The metadb this restore's alone: its guard taken and nobody else
 * connected. Until then the metadb is not touched, and the journal says so
 * (metadb_untouched): an undo then has nothing to restore (a journal of an
 * earlier agent has no such fact: its undo restores, as it did). 0 with
 * w->m, or -1 with the step failed (w->m, when set, is the caller's to
 * close). */
static int
restore_claim(struct plan_run *r, struct plan_res *s, struct restore_work *w)
{
	char *was = plan_fact(r, NULL, "metadb_untouched");
	int rc = was != NULL && strcmp(was, "0") == 0
	             ? 0
	             : plan_fact_set(r, "metadb_untouched", "1"); /* a resumed step */

	free(was);
	if (rc != 0) {
		plan_say(s, "failed", "journal: %s; nothing was restored", r->err);
		return -1;
	}
	if ((w->m = plan_metadb(r, s)) == NULL)
		return -1;
	/* One restore of a metadb at a time, whoever runs it (the snapshot
	 * took the guard already); then nobody else may still be connected to
	 * it (a node not stopped). */
	if (plan_guard_take(r, s, w->m, NULL) != 0 || plan_check_sessions(r, s, w->m) != 0) {
		/* Nothing touched: a rollback's host goes back as it was (not
		 * while another restore runs: put_back checks). */
		plan_guard_release(r, s, w->m);
		if (w->untouched != NULL)
			w->untouched(r, s, w->m);
		return -1;
	}
	/* From here on the metadb is no longer what it was: an undo must
	 * restore the snapshot (before, it has nothing to restore). */
	if (plan_fact_set(r, "metadb_untouched", "0") != 0) {
		plan_say(s, "failed", "journal: %s; nothing was restored", r->err);
		return -1;
	}
	return 0;
}

/* The metadb emptied, the backup's tables created (and, for a rollback,
 * the fence set), the data loaded by obloader, the foreign keys and views
 * added. 0 with obloader's outcome in w->what, or -1 with the step failed. */
static int
restore_load(struct plan_run *r, struct plan_res *s, struct restore_work *w)
{
	size_t dropped = 0;
	uint64_t tddl = clock_mono_ms();
	int rc;

	if (restore_empty(w->m, &dropped, r->err, sizeof(r->err)) != 0) {
		plan_waited(&r->wait_metadb_ms, tddl);
		plan_say(s, "failed", "cannot empty the metadb: %s", r->err);
		return -1;
	}
	if (restore_create_tables(w->m, &w->defs, r->err, sizeof(r->err)) != 0) {
		plan_waited(&r->wait_metadb_ms, tddl);
		plan_say(s, "failed", "%s", r->err);
		return -1;
	}
	plan_waited(&r->wait_metadb_ms, tddl);
	/* A rollback fences the metadb before loading it: from the moment it
	 * is replaced (and a dump taken by obdumper while an earlier fence
	 * stood holds the fence's empty data file, which obloader loads into
	 * that table: it must exist). */
	if (strcmp(r->action, "rollback") == 0) {
		mark_fence(r, s, w->m, w->b.version, w->fence_warn, sizeof(w->fence_warn));
		if (*w->fence_warn)
			plan_note(r, "restore", "%s", w->fence_warn + 2);
	}
	plan_note(r, "restore", "dropped %zu objects, created %zu tables; loading the data of %s",
	          dropped, w->defs.n_tables, w->src);
	rc = loader_load(r->c, r->password, r->job, "restore", w->src, w->b.header,
	                 plan_budget(r, STEP_RESTORE), &w->lr, r->err, sizeof(r->err));
	plan_loader_said(r, s, &w->lr);
	if (rc < 0) {
		plan_say(s, "failed", "obloader could not run: %s", r->err);
		return -1;
	}
	spawn_describe(&w->lr.sr, w->what, sizeof(w->what));
	tddl = clock_mono_ms();
	rc = restore_finish(w->m, &w->defs, r->err, sizeof(r->err));
	plan_waited(&r->wait_metadb_ms, tddl);
	if (rc != 0) {
		plan_say(s, "failed", "restore failed after obloader (%s): %s", w->what, r->err);
		return -1;
	}
	return 0;
}

/* Clean restore (restore.h): the backup's definitions parsed, every object
 * of the metadb dropped (the verified snapshot holds them), the tables
 * created without their foreign keys, the data loaded by obloader, the
 * foreign keys and views added; then the metadb must hold exactly the
 * backup, object by object, row counts and migration version included. */
void
plan_step_restore(struct plan_run *r, struct plan_res *s, const char *src,
                  void (*untouched)(struct plan_run *r, struct plan_res *s, struct metadb *m))
{
	struct restore_work w = {.src = src, .untouched = untouched, .fence_warn = ""};
	char why[1024];

	if (restore_read(r, s, &w) != 0 || restore_claim(r, s, &w) != 0 ||
	    restore_load(r, s, &w) != 0)
		goto out;
	/* An exit status of 0 proves nothing (a failed import may exit 0):
	 * verify whatever it says. A non-zero one fails the step even when
	 * the tables happen to match: the tool saw something go wrong. */
	if (plan_metadb_matches(r, w.m, &w.b, &w.defs, true, why, sizeof(why)) != 0) {
		plan_say(s, "failed", "restore verification failed (obloader %s): %s", w.what, why);
		goto out;
	}
	if (!(w.lr.sr.exited && w.lr.sr.exit_code == 0)) {
		plan_say(
		    s, "failed",
		    "obloader %s; the metadb matches the backup, but the tool reported a failure",
		    w.what);
		goto out;
	}
	plan_put(s, "restored_from", src);
	plan_put(s, "metadb_version", w.b.version);
	plan_say(
	    s, "ok",
	    "metadb restored from %s and verified: %zu tables, %llu rows, %zu foreign keys, %zu "
	    "views, version %s "
	    "(obloader %s)",
	    src, w.b.n_tables, (unsigned long long)plan_tables_rows(&w.b), w.defs.n_foreign_keys,
	    w.defs.n_views, w.b.version, w.what);
	if (strcmp(r->action, "undo") == 0)
		mark_fence(r, s, w.m, w.b.version, w.fence_warn, sizeof(w.fence_warn));
	if (*w.fence_warn)
		plan_say_more(s, "%s", w.fence_warn);
out:
	/* Released whatever the outcome: a failed restore is mended by another
	 * one (undo, a new rollback), which takes the guard itself. */
	plan_guard_release(r, s, w.m);
	metadb_close(w.m);
	restore_defs_free(&w.defs);
	backup_info_free(&w.b);
	loader_run_free(&w.lr);
}

struct health_note {
	struct plan_run *r;
	uint64_t last;
};

static void
health_progress(void *ctx, const struct health_state *st)
{
	struct health_note *hn = ctx;
	uint64_t now = clock_mono_ms();

	if (!st->healthy && now - hn->last >= 10000) {
		hn->last = now;
		plan_note(hn->r, "health", "waiting for ODC: %s",
		          st->detail[0] ? st->detail : "not healthy yet");
	}
}

void
plan_step_health(struct plan_run *r, struct plan_res *s, const char *want)
{
	plan_step_health_within(r, s, want, plan_budget(r, STEP_HEALTH), NULL);
}

void
plan_step_health_within(struct plan_run *r, struct plan_res *s, const char *want, uint64_t budget,
                        uint64_t (*more)(struct plan_run *r))
{
	struct health_state st;
	struct health_note hn = {r, clock_mono_ms()};
	uint64_t t0 = clock_mono_ms(), extra;
	char *logs = NULL;
	size_t loglen = 0;

	int hrc = health_wait(r->c->health_url, want, budget, r->c->health_interval_ms, &st,
	                      health_progress, &hn);
	if (hrc != 0 && more != NULL && (extra = more(r)) > 0) {
		plan_note(r, "health", "not healthy within %llu s: waiting up to %llu s more",
		          (unsigned long long)(budget / 1000), (unsigned long long)(extra / 1000));
		budget += extra;
		hrc = health_wait(r->c->health_url, want, extra, r->c->health_interval_ms, &st,
		                  health_progress, &hn);
	}
	plan_waited(&r->wait_health_ms, t0);
	if (hrc == 0) {
		plan_put(s, "odc_version", st.version);
		plan_say(s, "ok", "ODC is healthy at version %s after %.1f s", st.version,
		         (double)(clock_mono_ms() - t0) / 1000.0);
		return;
	}
	plan_say(s, "failed", "ODC did not become healthy%s%s within %llu s: %s",
	         want && *want ? " at " : "", want ? want : "", (unsigned long long)(budget / 1000),
	         st.detail);
	/* ODC's own words say why (e.g. "Software degrade is not allowed"): its
	 * log file, read through Docker (mounted or not, running or not), after
	 * what the supervisor said (odclog.h). */
	if (plan_docker(r, s) == 0) {
		/* line: a part of the message, which must keep room for the
		 * way back a failed step adds after it. */
		char *file = NULL, tail[TAIL_MAX], line[MSG_MAX / 2];
		int frc = docker_container_file_tail(r->d, r->c->container, ODC_LOG_FILE,
		                                     ODCLOG_SCAN, &file, r->err, sizeof(r->err));
		if (docker_container_logs(r->d, r->c->container, 200, DOCKER_LOG_TAIL, &logs,
		                          &loglen, r->err, sizeof(r->err)) != 0)
			logs = NULL;
		odclog_report(logs, ODC_LOG_FILE, frc == 0 ? file : NULL, tail, sizeof(tail));
		plan_tail(s, tail);
		/* The last ERROR lines go into the message, where an operator
		 * looks first (the host table of `odcctl job`). */
		if (frc == 0 && odclog_errors(file, line, sizeof(line)))
			plan_say_more(s, "; ODC's log: %s", line);
		free(file);
	}
	s->status = "failed";
	free(logs);
}

/* The dry run's difference in a step's RESULT (PROTOCOL.md 5, "dry_run"):
 * data diff_count, unchanged, and the list as JSON text cut into pieces of
 * at most DIFF_PIECE bytes (on UTF-8 boundaries) in diff.1 ... diff.N; items
 * that do not fit in DIFF_PIECES pieces are left out whole (diff_count
 * still counts them). The text for a person is the output tail. */
#define DIFF_PIECE 1000

#define DIFF_PIECES 16

static void
put_diff(struct plan_res *s, json_t *diff, const char *same, const char *text)
{
	char *list = NULL, key[16], n[24];
	size_t len, off = 0, piece = 0;

	snprintf(n, sizeof(n), "%zu", json_array_size(diff));
	plan_put(s, "diff_count", n);
	plan_put(s, "unchanged", same);
	while ((list = json_dumps(diff, JSON_COMPACT)) != NULL &&
	       strlen(list) > DIFF_PIECE * DIFF_PIECES && json_array_size(diff) > 0) {
		json_array_remove(diff, json_array_size(diff) - 1);
		free(list);
	}
	len = list != NULL ? strlen(list) : 0;
	while (off < len) {
		size_t k = len - off > DIFF_PIECE ? DIFF_PIECE : len - off;
		while (off + k < len && ((unsigned char)list[off + k] & 0xc0) == 0x80)
			k--;
		snprintf(key, sizeof(key), "diff.%zu", ++piece);
		json_object_set_new(s->data, key, json_stringn(list + off, k));
		off += k;
	}
	free(list);
	snprintf(s->tail, sizeof(s->tail), "%s", text);
}

/* Puts the difference of cur -> next (inspects; cur NULL: none runs) in the
 * step's RESULT; a failure to make it fails the step. */
void
plan_show_diff(struct plan_run *r, struct plan_res *s, json_t *cur, json_t *next)
{
	char same[1024];
	json_t *diff = specdiff_compare(cur, next, same, sizeof(same));
	char *text = diff != NULL
	                 ? specdiff_text(r->c->container, cur, next, diff, same, sizeof(s->tail))
	                 : NULL;

	if (text == NULL)
		plan_say(s, "failed", "out of memory comparing the containers");
	else
		put_diff(s, diff, same, text);
	free(text);
	json_decref(diff);
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

void
plan_step_start_new(struct plan_run *r, struct plan_res *s)
{
	struct docker_container ct;
	char id[65], image[300];
	char *spec_text = NULL;
	json_t *spec = NULL;
	json_error_t je;
	int rc;

	if (plan_target_image(r, plan_param(r, "to"), image, sizeof(image), s) != 0 ||
	    plan_docker(r, s) != 0)
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

/* A dry run of a rollback or an upgrade: the container that runs against
 * the one its start step would create (its spec, as the stop step records it, made from the target
 * image as the engine makes it). */
void
plan_preview_new(struct plan_run *r, struct plan_res *s)
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

/* After a plan's health step ended ok (plan-int.h). */
void
plan_retain(struct plan_run *r, struct plan_res *s)
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

void
plan_step_stop_keep(struct plan_run *r, struct plan_res *s, const char *suffix)
{
	char image[300];

	if (plan_target_image(r, plan_param(r, "to"), image, sizeof(image), s) == 0)
		plan_step_stop(r, s, suffix, image, false);
}

void
plan_check_or_preview(struct plan_run *r, struct plan_res *s,
                      void (*check)(struct plan_run *r, struct plan_res *s))
{
	check(r, s);
	if (s->status != NULL && strcmp(s->status, "ok") == 0 && !r->done &&
	    plan_param_true(r, "dry_run"))
		plan_preview_new(r, s);
}
