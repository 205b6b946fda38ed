/* The single actions, one step each: ping, status, stop, start, logs,
 * backup (and its check) and prune. */
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
#include "common/log.h"

static void
act_ping(struct plan_run *r, struct plan_res *s)
{
	plan_put(s, "agent_version", AGENT_VERSION);
	plan_say(s, "ok", "pong from %s (odc-agent %s)", r->c->host_id, AGENT_VERSION);
}

static void
act_status(struct plan_run *r, struct plan_res *s)
{
	struct docker_container ct = {0};
	struct health_state st;
	struct metadb *m;
	char hv[65] = "", state[64] = "unknown";
	int rc = -1;

	if (plan_docker(r, s) == 0) {
		rc = docker_container_inspect(r->d, r->c->container, &ct, NULL, r->err,
		                              sizeof(r->err));
		snprintf(state, sizeof(state), "%s",
		         rc == 0   ? ct.state
		         : rc == 1 ? "absent"
		                   : "unknown");
	}
	health_probe(r->c->health_url, 5000, &st);
	m = plan_metadb(r, s);
	bool db_ok = m != NULL;
	if (m != NULL && metadb_history_version(m, hv, sizeof(hv), r->err, sizeof(r->err)) < 0)
		snprintf(hv, sizeof(hv), "?");
	metadb_close(m);
	plan_put(s, "container_state", state);
	plan_put(s, "image", ct.image);
	plan_put(s, "health", st.healthy ? "healthy" : st.reachable ? "unhealthy" : "unreachable");
	plan_put(s, "odc_version", st.version);
	plan_put(s, "metadb_version", hv);
	/* Status reports what it sees, even when parts are unreachable. */
	plan_say(s, "ok", "container %s: %s%s%s; ODC %s%s; metadb %s", r->c->container, state,
	         ct.image[0] ? ", " : "", ct.image,
	         st.healthy     ? "healthy at "
	         : st.reachable ? "unhealthy: "
	                        : "unreachable: ",
	         st.healthy ? st.version : st.detail,
	         db_ok ? (hv[0] ? hv : "(no history)") : "unreachable");
}

static void
act_stop(struct plan_run *r, struct plan_res *s)
{
	struct docker_container ct;
	int rc;

	if (plan_docker(r, s) != 0)
		return;
	rc = docker_container_inspect(r->d, r->c->container, &ct, NULL, r->err, sizeof(r->err));
	if (rc != 0 || plan_container_stop(r, ct.id) != 0) {
		if (rc == 1)
			plan_say(s, "failed", "no container named %s", r->c->container);
		else
			plan_say(s, "failed", "%s", r->err);
		return;
	}
	plan_say(s, "ok", "stopped %s (%.12s)", r->c->container, ct.id);
}

/* The create body from the configured defaults (the seed's docker run). */
static json_t *
defaults_spec(struct plan_run *r, const char *image)
{
	char login[256], port[16], e[6][600];
	const char *env[7];
	struct spec_defaults def;

	if (metadb_login_name(r->c->db_user, r->c->db_tenant, r->c->db_cluster, login,
	                      sizeof(login)) != 0) {
		snprintf(r->err, sizeof(r->err),
		         "metadb user, tenant and cluster make no login name");
		return NULL;
	}
	snprintf(port, sizeof(port), "%llu", (unsigned long long)r->c->db_port);
	snprintf(e[0], sizeof(e[0]), "DATABASE_HOST=%s", r->c->db_host);
	snprintf(e[1], sizeof(e[1]), "DATABASE_PORT=%s", port);
	snprintf(e[2], sizeof(e[2]), "DATABASE_USERNAME=%s", login);
	snprintf(e[3], sizeof(e[3]), "DATABASE_PASSWORD=%s", r->password ? r->password : "");
	snprintf(e[4], sizeof(e[4]), "DATABASE_NAME=%s", r->c->db_name);
	snprintf(e[5], sizeof(e[5]), "ODC_PROFILE_MODE=%s", r->c->def_profile_mode);
	for (int i = 0; i < 6; i++)
		env[i] = e[i];
	env[6] = NULL;
	def = (struct spec_defaults){(long long)r->c->def_memory,
	                             (long long)r->c->def_cpu_period,
	                             (long long)r->c->def_cpu_quota,
	                             r->c->def_network,
	                             env,
	                             r->c->def_binds};
	json_t *spec = spec_from_defaults(&def, image, r->err, sizeof(r->err));
	explicit_bzero(e[3], sizeof(e[3]));
	return spec;
}

static void
act_start(struct plan_run *r, struct plan_res *s)
{
	struct docker_container ct;
	const char *to = plan_param(r, "to");
	char image[300], id[65];
	json_t *spec;
	int rc;

	if (plan_docker(r, s) != 0)
		return;
	rc = docker_container_inspect(r->d, r->c->container, &ct, NULL, r->err, sizeof(r->err));
	if (rc == 0) {
		if (docker_container_start(r->d, ct.id, r->err, sizeof(r->err)) != 0)
			plan_say(s, "failed", "%s", r->err);
		else
			plan_say(s, "ok", "started %s (%.12s, %s)", r->c->container, ct.id,
			         ct.image);
		return;
	}
	if (rc < 0) {
		plan_say(s, "failed", "%s", r->err);
		return;
	}
	if (to == NULL) {
		plan_say(s, "failed",
		         "no container named %s; give a tag (to) to create one from the defaults",
		         r->c->container);
		return;
	}
	if (plan_target_image(r, to, image, sizeof(image), s) != 0)
		return;
	if (plan_password(r, s) != 0)
		return;
	spec = defaults_spec(r, image);
	if (spec == NULL) {
		plan_say(s, "failed", "%s", r->err);
		return;
	}
	if (docker_container_create(r->d, r->c->container, spec, id, r->err, sizeof(r->err)) != 0 ||
	    docker_container_start(r->d, id, r->err, sizeof(r->err)) != 0)
		plan_say(s, "failed", "%s", r->err);
	else
		plan_say(s, "ok",
		         "created %s (%.12s) from the defaults with image %s and started it",
		         r->c->container, id, image);
	json_decref(spec);
}

static void
act_logs(struct plan_run *r, struct plan_res *s)
{
	const char *lines = plan_param(r, "lines");
	char *logs = NULL;
	size_t n = 0;

	if (plan_docker(r, s) != 0)
		return;
	if (docker_container_logs(r->d, r->c->container,
	                          lines ? (unsigned)strtoul(lines, NULL, 10) : 200, TAIL_MAX - 1,
	                          &logs, &n, r->err, sizeof(r->err)) != 0) {
		plan_say(s, "failed", "%s", r->err);
		return;
	}
	plan_tail(s, logs);
	plan_say(s, "ok", "%zu bytes of %s's log", n, r->c->container);
	free(logs);
}

static void
act_backup(struct plan_run *r, struct plan_res *s, bool run_it)
{
	const char *name = plan_param(r, "name");
	char dir[4200], stamp[32];
	struct backup_info b = {0};
	struct metadb *m = NULL;
	struct statvfs vfs;

	plan_utc_stamp(stamp, sizeof(stamp));
	snprintf(dir, sizeof(dir), "%s/%s%s", r->c->backup_roots[0], name ? name : "odc-backup-",
	         name ? "" : stamp);
	if (access(dir, F_OK) == 0) {
		plan_say(s, "failed", "%s exists already; choose another name", dir);
		goto out;
	}
	/* A dump taken while another restore replaces the metadb would be of
	 * neither metadb. */
	if ((m = plan_metadb(r, s)) == NULL || plan_check_guard(r, s, m) != 0 ||
	    plan_check_loader(r, s) != 0)
		goto out;
	if (statvfs(r->c->backup_roots[0], &vfs) != 0) {
		plan_say(s, "failed", "%s: %s", r->c->backup_roots[0], strerror(errno));
		goto out;
	}
	if (!run_it) {
		plan_say(s, "ok", "a backup can be taken into %s (%llu MiB free)", dir,
		         (unsigned long long)(((uint64_t)vfs.f_bavail * vfs.f_frsize) >> 20));
		goto out;
	}
	if (plan_dump(r, s, m, "backup", dir, r->c->deadline_ms[STEP_SNAPSHOT], &b) != 0)
		goto out;
	plan_dump_said(s, "backup", "backed up", dir, &b);
out:
	metadb_close(m);
	backup_info_free(&b);
}

/* prune: the retention rule on demand (prune.h); the list of what went
 * and what stayed, and why, is the step's output. */
static void
act_prune(struct plan_run *r, struct plan_res *s)
{
	struct prune_report rep;
	char v[24];
	int rc;

	if (plan_docker(r, s) != 0)
		return;
	rc = prune_apply(r->c, r->j, r->d, plan_param_true(r, "dry_run"), &rep, r->err,
	                 sizeof(r->err));
	if (rc < 0) {
		plan_say(s, "failed", "nothing was removed: %s", r->err);
	} else {
		plan_say(s, rc == 0 ? "ok" : "failed", "%s", rep.summary);
		if (rc != 0)
			plan_say_more(
			    s,
			    "; everything else is as it was: odc-agent prune (fleet: odcctl "
			    "prune %s) tries "
			    "again",
			    r->c->host_id);
		plan_tail(s, rep.list.data != NULL ? (const char *)rep.list.data : "");
		snprintf(v, sizeof(v), "%zu", rep.removed), plan_put(s, "removed", v);
		snprintf(v, sizeof(v), "%zu", rep.kept), plan_put(s, "kept", v);
		snprintf(v, sizeof(v), "%zu", rep.failed), plan_put(s, "failed", v);
		snprintf(v, sizeof(v), "%llu", (unsigned long long)rep.freed_bytes),
		    plan_put(s, "freed_bytes", v);
	}
	prune_report_free(&rep);
}

static void
act_backup_check(struct plan_run *r, struct plan_res *s)
{
	act_backup(r, s, false);
}

static void
act_backup_run(struct plan_run *r, struct plan_res *s)
{
	act_backup(r, s, true);
}

static const struct plan_step ping_step[] = {{"ping", act_ping, NULL}};
static const struct plan_step status_step[] = {{"status", act_status, NULL}};
static const struct plan_step stop_step[] = {{"stop", act_stop, NULL}};
static const struct plan_step start_step[] = {{"start", act_start, NULL}};
static const struct plan_step logs_step[] = {{"logs", act_logs, NULL}};
static const struct plan_step prune_step[] = {{"prune", act_prune, NULL}};
static const struct plan_step backup_check_step[] = {{"preflight", act_backup_check, NULL}};
static const struct plan_step backup_step[] = {{"backup", act_backup_run, NULL}};

/* One step each, in either phase; a backup's preflight phase checks that
 * one can be taken. */
const struct plan_def plan_action_plans[] = {
    {"ping", ping_step, 1, ping_step, 1, false, NULL, 0},
    {"status", status_step, 1, status_step, 1, false, NULL, 0},
    {"stop", stop_step, 1, stop_step, 1, false, NULL, 0},
    {"start", start_step, 1, start_step, 1, false, NULL, 0},
    {"logs", logs_step, 1, logs_step, 1, false, NULL, 0},
    {"prune", prune_step, 1, prune_step, 1, false, NULL, 0},
    {"backup", backup_step, 1, backup_check_step, 1, false, NULL, 0},
    {NULL, NULL, 0, NULL, 0, false, NULL, 0},
};
