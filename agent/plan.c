/* The agent's actions. The rollback plan is preflight -> stop -> snapshot ->
 * restore -> start -> health; undo walks it back. Each step is journaled
 * before and after it runs and is written to be safe to run twice: what a
 * step learns (the old container, its spec, the name it was renamed to, the
 * verified snapshot) is recorded as a fact before it acts on it. Nothing is
 * deleted: the old container is renamed and kept, the metadb is dumped
 * before it is replaced, a partial snapshot is moved aside; only the
 * retention rule (prune.c) removes what older rollbacks kept. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/clock.h"
#include "agent/backup.h"
#include "agent/docker.h"
#include "agent/manifest.h"
#include "agent/metadb.h"
#include "agent/plan.h"
#include "agent/prune.h"
#include "agent/restore.h"
#include "agent/guard.h"
#include "agent/spec.h"
#include "agent/specdiff.h"
#include "common/version.h"
#include "common/log.h"

#define TAIL_MAX 16384
#define MSG_MAX  1024
/* Where ODC writes its log in its container: log4j2.xml's OdcFileAppender,
 * ${LOG_DIRECTORY}/odc.log with LOG_DIRECTORY ./log under /opt/odc
 * (oceanbase/odc server/odc-server/src/main/resources/log4j2.xml). `docker
 * logs` shows only the supervisor. */
#define ODC_LOG_FILE    "/opt/odc/log/odc.log"
#define ODC_LOG_TAIL    11000
#define DOCKER_LOG_TAIL 4000

/* One execution of one plan. */
struct run {
	const struct agent_conf *c;
	struct journal *j;
	const struct plan_out *out;
	const char *job;
	const char *phase;
	const char *action;
	const struct proto_kv *params;
	size_t n_params;
	uint64_t deadline_ms; /* epoch */
	struct docker *d;
	char *password;
	char err[512];
	/* Time spent waiting on others, for the own-overhead figure. */
	uint64_t wait_loader_ms, wait_metadb_ms, wait_health_ms;
	bool done;    /* a step found nothing left to do: the plan ends with it, succeeded */
	bool guarded; /* this run holds the metadb's restore guard (guard.h) */
};

/* Adds the monotonic time since *t0 to *acc. */
static void waited(uint64_t *acc, uint64_t t0);

/* What a step reports. */
struct step_res {
	const char *status; /* ok, failed, skipped */
	int64_t exit_code;
	char message[MSG_MAX];
	char tail[TAIL_MAX];
	json_t *data; /* object of strings */
};

static void
waited(uint64_t *acc, uint64_t t0)
{
	*acc += clock_mono_ms() - t0;
}

static void __attribute__((format(printf, 3, 4)))
say(struct step_res *s, const char *status, const char *fmt, ...)
{
	va_list ap;

	s->status = status;
	va_start(ap, fmt);
	vsnprintf(s->message, sizeof(s->message), fmt, ap);
	va_end(ap);
}

static void say_more(struct step_res *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
put(struct step_res *s, const char *key, const char *value)
{
	char v[1024];

	snprintf(v, sizeof(v), "%s", value ? value : "");
	json_object_set_new(s->data, key, json_string(v));
}

static void
tail_set(struct step_res *s, const char *text)
{
	size_t n = text ? strlen(text) : 0;

	/* Keep the newest bytes, on a UTF-8 boundary. */
	const char *p = n >= sizeof(s->tail) ? text + n - (sizeof(s->tail) - 1) : text;
	while (p != NULL && p > text && ((unsigned char)*p & 0xc0) == 0x80)
		p++;
	snprintf(s->tail, sizeof(s->tail), "%s", p ? p : "");
}

static void
note(struct run *r, const char *step, const char *fmt, ...)
{
	char m[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m, sizeof(m), fmt, ap);
	va_end(ap);
	if (r->out && r->out->note)
		r->out->note(r->out->ctx, r->job, step, m);
}

static const char *
param(const struct run *r, const char *key)
{
	return proto_param(r->params, r->n_params, key);
}

/* Milliseconds a step may take: its own deadline, cut by the job's. */
static uint64_t
step_budget(const struct run *r, enum agent_step s)
{
	uint64_t now = proto_now_ms();
	uint64_t job_left = r->deadline_ms > now ? r->deadline_ms - now : 1;
	uint64_t own = r->c->deadline_ms[s];

	return own < job_left ? own : job_left;
}

static void
utc_stamp(char *out, size_t outlen)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, outlen, "%Y%m%dT%H%M%SZ", &tm);
}

/* Facts of this job (or of another job, for undo). */
static char *
fact(struct run *r, const char *job, const char *key)
{
	return journal_fact_get(r->j, job ? job : r->job, key, r->err, sizeof(r->err));
}

static int
fact_set(struct run *r, const char *key, const char *value)
{
	return journal_fact_set(r->j, r->job, key, value, r->err, sizeof(r->err));
}

static int
need_docker(struct run *r, struct step_res *s)
{
	if (r->d != NULL)
		return 0;
	r->d = docker_new(r->c->docker_socket, r->c->api_timeout_ms, r->err, sizeof(r->err));
	if (r->d == NULL || docker_ping(r->d, r->err, sizeof(r->err)) != 0) {
		say(s, "failed", "Docker engine unreachable: %s", r->err);
		return -1;
	}
	return 0;
}

static struct metadb *
need_metadb(struct run *r, struct step_res *s)
{
	struct metadb *m;

	if (r->password == NULL) {
		r->password = agent_read_password(r->c, r->err, sizeof(r->err));
		if (r->password == NULL) {
			say(s, "failed", "metadb password: %s", r->err);
			return NULL;
		}
	}
	uint64_t t0 = clock_mono_ms();
	m = agent_metadb_open(r->c, r->password, r->err, sizeof(r->err));
	waited(&r->wait_metadb_ms, t0);
	if (m == NULL)
		say(s, "failed", "metadb unreachable: %s", r->err);
	return m;
}

/* "repository:tag" of the target. */
static int
target_image(struct run *r, const char *tag, char *out, size_t outlen, struct step_res *s)
{
	if (tag == NULL || spec_image_ref(r->c->repository, tag, out, outlen) != 0) {
		say(s, "failed", "no usable target tag");
		return -1;
	}
	return 0;
}

static uint64_t
tables_rows(const struct backup_info *b)
{
	uint64_t n = 0;

	for (size_t i = 0; i < b->n_tables; i++)
		n += b->tables[i].rows;
	return n;
}

/* The metadb holds exactly the tables of b with b's row counts, the views
 * and foreign keys of defs (and, when check_history, b's migration
 * version). Appends every difference to why. */
static int metadb_compare(struct run *r, struct metadb *m, const struct backup_info *b,
                          const struct restore_defs *defs, bool check_history, char *why,
                          size_t whylen);

static int
metadb_matches(struct run *r, struct metadb *m, const struct backup_info *b,
               const struct restore_defs *defs, bool check_history, char *why, size_t whylen)
{
	uint64_t t0 = clock_mono_ms();
	int rc = metadb_compare(r, m, b, defs, check_history, why, whylen);

	waited(&r->wait_metadb_ms, t0);
	return rc;
}

static int
metadb_compare(struct run *r, struct metadb *m, const struct backup_info *b,
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

/* ------------------------------------------------------------------ */
/* Steps                                                               */

static uint64_t
snapshot_need_bytes(const struct backup_info *b)
{
	/* A dump of the live metadb is about the size of a dump of the older
	 * one; twice that and 64 MiB of room keep a safety margin. */
	return b->bytes * 2 + (64ull << 20);
}

static int
check_loader(struct run *r, struct step_res *s)
{
	if (access(r->c->obloader, X_OK) != 0) {
		say(s, "failed", "obloader %s is missing or not executable", r->c->obloader);
		return -1;
	}
	if (access(r->c->obdumper, X_OK) != 0) {
		say(s, "failed", "obdumper %s is missing or not executable", r->c->obdumper);
		return -1;
	}
	return 0;
}

static int
check_disk(struct run *r, struct step_res *s, uint64_t need)
{
	struct statvfs vfs;

	/* A fresh host has no snapshot root yet: it is the agent's to make. */
	if (agent_dir_ensure(r->c->snapshot_root, r->err, sizeof(r->err)) != 0) {
		say(s, "failed", "snapshot root: %s", r->err);
		return -1;
	}
	if (statvfs(r->c->snapshot_root, &vfs) != 0) {
		say(s, "failed", "snapshot root %s: %s", r->c->snapshot_root, strerror(errno));
		return -1;
	}
	uint64_t avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	if (avail < need) {
		say(s, "failed",
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
check_metadb_identity(struct run *r, struct step_res *s, json_t *inspect, const char *container)
{
	const struct agent_conf *c = r->c;
	struct spec_metadb id;
	char theirs[700], ours[700], why[200];

	if (spec_metadb_identity(inspect, &id, why, sizeof(why)) != 0) {
		say(s, "failed",
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
	say(s, "failed",
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
already_at_target(struct run *r, const struct docker_container *ct, const char *target_id,
                  const char *image, const char *to, char *why, size_t whylen)
{
	struct step_res scratch = {0};
	struct health_state st = {0};
	struct metadb *m;
	char hv[65];
	int rc, ret = 0;

	if (target_id == NULL || strcmp(ct->state, "running") != 0 ||
	    strcmp(ct->image_id, target_id) != 0)
		return 0;
	uint64_t t0 = clock_mono_ms();
	health_probe(r->c->health_url, 5000, &st);
	waited(&r->wait_health_ms, t0);
	if (!st.healthy || !version_belongs_to(st.version, to))
		return 0;
	scratch.data = json_object();
	if ((m = need_metadb(r, &scratch)) != NULL) {
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

static bool
param_true(const struct run *r, const char *key)
{
	const char *v = param(r, key);

	return v != NULL && strcmp(v, "true") == 0;
}

/* Is the backup in dir (b) what odc-fleet took? Intact and signed by this
 * agent: 0, said in the step's data. Damaged: the step fails, naming what
 * differs. Taken by hand (or signed by another agent's key): its
 * completeness cannot be verified, so it needs accept_unverified=true;
 * without it the step fails saying how to go on. 0 to proceed. */
static int
check_backup_integrity(struct run *r, struct step_res *s, const char *dir,
                       const struct backup_info *b, char *how, size_t howlen)
{
	char signer[64], why[1024];
	int rc = manifest_verify(r->c, dir, b, signer, sizeof(signer), why, sizeof(why));

	if (rc == 0) {
		put(s, "backup_verified", signer);
		snprintf(how, howlen, "intact (its odc-fleet manifest, signed by %s)", signer);
		return 0;
	}
	if (rc < 0) {
		say(s, "failed",
		    "backup %s is damaged: %s (its odc-fleet manifest says what it held when it "
		    "was "
		    "taken)",
		    dir, why);
		return -1;
	}
	/* An undo restores the agent's own safety snapshot: one without a
	 * manifest was taken before odc-fleet wrote them. */
	if (param_true(r, "accept_unverified") || strcmp(r->action, "undo") == 0) {
		put(s, "backup_verified", "no (accepted)");
		snprintf(how, howlen, "completeness NOT verified (%s; accepted)",
		         rc == 1 ? "no odc-fleet manifest"
		                 : "manifest signed by another agent's key");
		return 0;
	}
	if (rc == 1)
		say(s, "failed",
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
		say(s, "failed",
		    "backup %s: its manifest is intact but signed by %s, a key this agent does not "
		    "trust "
		    "(add the signing agent's public key to [trust] backups), or run again with "
		    "accept_unverified=true "
		    "(--accept-unverified) to restore it anyway",
		    dir, signer);
	return -1;
}

/* Preflight of a rollback: refuses before anything is touched. */
/* Whether another restore holds the metadb (guard.h): fails the step,
 * naming the holder and the way out, when it does. A guard this host holds
 * for this job (a resumed plan) is no obstacle. 0 free, -1 failed. */
static int
check_guard(struct run *r, struct step_res *s, struct metadb *m)
{
	struct guard_holder who;
	char desc[300];
	uint64_t t0 = clock_mono_ms();
	int rc = guard_read(m, &who, r->err, sizeof(r->err));

	waited(&r->wait_metadb_ms, t0);
	if (rc < 0) {
		say(s, "failed", "metadb: %s", r->err);
		return -1;
	}
	if (rc == 0 || (!who.unreadable && strcmp(who.host, r->c->host_id) == 0 &&
	                strcmp(who.job, r->job) == 0))
		return 0;
	guard_describe(&who, desc, sizeof(desc));
	say(s, "failed",
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
#define SESSIONS_WAIT_MS 15000
static int
check_sessions(struct run *r, struct step_res *s, struct metadb *m)
{
	uint64_t t0 = clock_mono_ms();
	char desc[300], login[256] = "";
	size_t n;

	(void)metadb_login_name(r->c->db_user, r->c->db_tenant, r->c->db_cluster, login,
	                        sizeof(login));
	for (;;) {
		if (guard_sessions(m, r->c->db_user, *login ? login : r->c->db_user, &n, desc,
		                   sizeof(desc), r->err, sizeof(r->err)) != 0) {
			waited(&r->wait_metadb_ms, t0);
			say(s, "failed", "%s", r->err);
			return -1;
		}
		if (n == 0) {
			waited(&r->wait_metadb_ms, t0);
			return 0;
		}
		if (clock_mono_ms() - t0 >= SESSIONS_WAIT_MS)
			break;
		struct timespec ts = {0, 500 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	waited(&r->wait_metadb_ms, t0);
	say(s, "failed",
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
static int
take_guard(struct run *r, struct step_res *s, struct metadb *m, struct guard_holder *peer)
{
	struct guard_holder who;
	char desc[300];
	uint64_t t0 = clock_mono_ms();
	int rc = guard_take(m, r->c->host_id, r->job, r->action, &who, r->err, sizeof(r->err));

	waited(&r->wait_metadb_ms, t0);
	if (rc == 0) {
		r->guarded = true;
		return 0;
	}
	if (rc < 0) {
		say(s, "failed", "cannot take the restore guard of the metadb: %s", r->err);
		return -1;
	}
	if (peer != NULL && !who.unreadable && strcmp(who.job, r->job) == 0) {
		*peer = who;
		return 1;
	}
	guard_describe(&who, desc, sizeof(desc));
	say(s, "failed",
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
static void
release_guard(struct run *r, struct step_res *s, struct metadb *m)
{
	struct guard_holder who;
	struct step_res scratch = {0};
	struct metadb *own = NULL;
	int rc = -1;

	if (!r->guarded)
		return;
	if (m == NULL) {
		scratch.data = json_object();
		m = own = need_metadb(r, &scratch);
		if (m == NULL)
			snprintf(r->err, sizeof(r->err), "%s", scratch.message);
		json_decref(scratch.data);
	}
	uint64_t t0 = clock_mono_ms();
	if (m != NULL)
		rc = guard_release(m, r->c->host_id, r->job, &who, r->err, sizeof(r->err));
	waited(&r->wait_metadb_ms, t0);
	metadb_close(own);
	if (rc == 0) {
		r->guarded = false;
		return;
	}
	if (s != NULL)
		say_more(s,
		         " (the restore guard %s could not be released: %s; `odc-agent guard "
		         "release %s`)",
		         GUARD_TABLE, rc > 0 ? "another holds it now" : r->err, r->job);
	else
		log_warn("job %s: the restore guard %s could not be released: %s (`odc-agent guard "
		         "release %s`)",
		         r->job, GUARD_TABLE, rc > 0 ? "another holds it now" : r->err, r->job);
}

static int check_release_fits(struct run *r, struct step_res *s, const char *of);
static bool release_fits_metadb(struct run *r, struct metadb *m, const char *job, char *why,
                                size_t whylen);

/* What the metadb was when this rollback began (its first check), and
 * whether it is at the target release already (every check: the run
 * phase's recheck decides). A metadb at the target is not restored again:
 * another node of the deployment restored it (HA), or it was never
 * upgraded; restoring would throw away what was written since. force=true
 * restores it anyway. 0, or -1 with the step failed. */
static int
record_metadb_start(struct run *r, struct step_res *s, const char *hv, const char *to)
{
	char *had = fact(r, NULL, "metadb_version_before");
	bool at = *hv != '\0' && version_belongs_to(hv, to) && !param_true(r, "force");
	int rc = 0;

	if (had == NULL)
		rc = fact_set(r, "metadb_version_before", hv);
	free(had);
	if (rc == 0)
		rc = fact_set(r, "metadb_at_target", at ? "1" : "0");
	if (rc != 0) {
		say(s, "failed", "journal: %s", r->err);
		return -1;
	}
	if (at)
		put(s, "metadb_at_target", "true");
	return 0;
}

static bool
fact_is_set(struct run *r, const char *job, const char *key)
{
	char *v = fact(r, job, key);
	bool set = v != NULL;

	free(v);
	return set;
}

static bool
fact_is(struct run *r, const char *job, const char *key, const char *value)
{
	char *v = fact(r, job, key);
	bool eq = v != NULL && strcmp(v, value) == 0;

	free(v);
	return eq;
}

/* A rollback that never changed the metadb: it stopped before a verified
 * snapshot (a restore comes only after one), its restore did not begin, or
 * it found the metadb at the target already. */
static bool
rollback_untouched(struct run *r, const char *job)
{
	return !fact_is(r, job, "snapshot_verified", "1") ||
	       fact_is(r, job, "metadb_untouched", "1") || fact_is(r, job, "metadb_at_target", "1");
}

/* Whether the container job kept (its old_image; job NULL: this one) is of
 * a release no newer than the metadb's: an ODC never starts on a metadb of
 * an older release, which it would migrate forward (a node of an HA
 * deployment left out of its rollback). True when either cannot be told
 * (no release in the tag, no version); else false with why. */
static bool
release_fits_metadb(struct run *r, struct metadb *m, const char *job, char *why, size_t whylen)
{
	char *img = fact(r, job, "old_image"), tag[130] = "", hv[65] = "";
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

/* A rollback check's look at the metadb: reachable, held by no other
 * restore, and its version in hv ("" when it holds none yet). The
 * connection, or NULL with the step failed. */
static struct metadb *
check_metadb_now(struct run *r, struct step_res *s, char hv[65])
{
	struct metadb *m = need_metadb(r, s);
	int rc;

	*hv = '\0';
	if (m == NULL || check_guard(r, s, m) != 0)
		goto fail;
	rc = metadb_history_version(m, hv, 65, r->err, sizeof(r->err));
	if (rc < 0) {
		say(s, "failed", "metadb: %s", r->err);
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

/* backup_on_peer=true and nothing at the backup path: a node of this
 * host's deployment that holds the backup restores the metadb for the job
 * (the coordinator makes sure one does, PROTOCOL.md 5); this host checks
 * what it needs to stop, wait and start (the container and its metadb, the
 * target image, the metadb and its guard) and says it holds no backup. */
static void
preflight_without_backup(struct run *r, struct step_res *s, const struct docker_container *ct,
                         const char *image)
{
	struct metadb *m = NULL;
	char hv[65];

	if ((m = check_metadb_now(r, s, hv)) == NULL ||
	    record_metadb_start(r, s, hv, param(r, "to")) != 0)
		goto out;
	if (fact_set(r, "backup_here", "0") != 0) {
		say(s, "failed", "journal: %s", r->err);
		goto out;
	}
	put(s, "container", ct->name);
	put(s, "container_image", ct->image);
	put(s, "container_state", ct->state);
	put(s, "backup_here", "false");
	put(s, "metadb_version", hv);
	put(s, "target_image", image);
	say(s, "ok",
	    "container %s (%s, %s); target image %s present; no backup at %s on this host: the "
	    "node of its "
	    "deployment that holds it restores the metadb, this one waits for that restore; metadb "
	    "reachable at "
	    "version %s",
	    ct->name, ct->image, ct->state, image, param(r, "backup"), *hv ? hv : "(empty)");
out:
	metadb_close(m);
}

static void
step_preflight_rollback(struct run *r, struct step_res *s)
{
	const char *to = param(r, "to"), *dir = param(r, "backup");
	struct docker_container ct;
	struct backup_info b = {0};
	struct restore_defs defs = {0};
	struct metadb *m = NULL;
	char image[300], hv[65], why[512], integrity[160];
	json_t *raw = NULL;
	int rc;

	if (need_docker(r, s) != 0)
		return;
	rc = docker_container_inspect(r->d, r->c->container, &ct, &raw, r->err, sizeof(r->err));
	if (rc != 0) {
		if (rc == 1)
			say(s, "failed", "no ODC container named %s on this host", r->c->container);
		else
			say(s, "failed", "%s", r->err);
		return;
	}
	rc = check_metadb_identity(r, s, raw, ct.name);
	json_decref(raw);
	raw = NULL;
	if (rc != 0 || target_image(r, to, image, sizeof(image), s) != 0)
		return;
	rc = docker_image_inspect(r->d, image, &raw, r->err, sizeof(r->err));
	if (rc != 0) {
		if (rc == 1)
			say(s, "failed",
			    "target image %s is not on this host (docker load it first)", image);
		else
			say(s, "failed", "%s", r->err);
		return;
	}
	rc = already_at_target(r, &ct, json_string_value(json_object_get(raw, "Id")), image, to,
	                       why, sizeof(why));
	json_decref(raw);
	if (rc == 1 && !param_true(r, "force")) {
		put(s, "container", ct.name);
		put(s, "container_image", ct.image);
		put(s, "nothing_to_do", "true");
		say(s, "ok",
		    "%s; nothing to do: the backup is not restored over what was written since "
		    "(force=true rolls back anyway)",
		    why);
		r->done = true;
		return;
	}
	if (rc == 1)
		note(r, "preflight", "%s; forced: rolling back anyway", why);
	/* Nothing at the path: inside the roots by its text is all it can be. */
	bool absent = nothing_at(dir);
	if (!(absent ? agent_path_allowed : agent_path_in_roots)(r->c, dir, why, sizeof(why))) {
		say(s, "failed", "backup: %s", why);
		return;
	}
	if (absent && param_true(r, "backup_on_peer")) {
		preflight_without_backup(r, s, &ct, image);
		return;
	}
	if (backup_inspect(dir, r->c->db_name, &b, r->err, sizeof(r->err)) != 0) {
		/* Not there at all: without backup_on_peer (a run on this host
		 * alone) this host restores, so it needs it. */
		say(s, "failed", "backup %s: %s%s", dir, r->err,
		    absent ? " (a rollback of this host alone restores from it here; a fleet "
		             "rollback restores an HA "
		             "deployment from whichever node holds it)"
		           : "");
		return;
	}
	if (!version_belongs_to(b.version, to)) {
		say(s, "failed",
		    "backup %s holds ODC metadb version %s, which is not of release %s", dir,
		    b.version, to);
		goto out;
	}
	if (restore_defs_load(&b, &defs, r->err, sizeof(r->err)) != 0) {
		say(s, "failed", "backup %s: %s", dir, r->err);
		goto out;
	}
	if (check_backup_integrity(r, s, dir, &b, integrity, sizeof(integrity)) != 0)
		goto out;
	if ((m = check_metadb_now(r, s, hv)) == NULL || check_loader(r, s) != 0 ||
	    check_disk(r, s, snapshot_need_bytes(&b)) != 0 ||
	    record_metadb_start(r, s, hv, to) != 0)
		goto out;
	if (fact_set(r, "backup_here", "1") != 0) {
		say(s, "failed", "journal: %s", r->err);
		goto out;
	}
	put(s, "container", ct.name);
	put(s, "container_image", ct.image);
	put(s, "container_state", ct.state);
	put(s, "backup_here", "true");
	put(s, "backup_version", b.version);
	put(s, "metadb_version", hv);
	put(s, "target_image", image);
	say(s, "ok",
	    "container %s (%s, %s); target image %s present; backup %s: version %s, %zu tables, "
	    "%llu rows, "
	    "%zu foreign keys, %zu views, %s; metadb reachable at version %s; loader present; disk "
	    "ok",
	    ct.name, ct.image, ct.state, image, dir, b.version, b.n_tables,
	    (unsigned long long)tables_rows(&b), defs.n_foreign_keys, defs.n_views, integrity,
	    *hv ? hv : "(empty)");
out:
	metadb_close(m);
	restore_defs_free(&defs);
	backup_info_free(&b);
}

/* Stop the container and rename it <name>-<suffix>-<time>; its spec (for
 * the new image, when new_image is set) is recorded first. absent_ok: no
 * container by that name is a skip, not a failure (an undo after a rollback
 * that failed between its stop and its start: nothing stands in the way). */
static void
step_stop(struct run *r, struct step_res *s, const char *suffix, const char *new_image,
          bool absent_ok)
{
	struct docker_container ct;
	char *renamed = NULL, *old_id = NULL, stamp[32], name[200];
	json_t *inspect = NULL, *img = NULL, *spec = NULL;
	int rc;

	if (need_docker(r, s) != 0)
		return;
	renamed = fact(r, NULL, "renamed");
	old_id = fact(r, NULL, "old_id");
	if (renamed != NULL) {
		/* A second run: the rename may already have happened. */
		rc = docker_container_inspect(r->d, renamed, &ct, NULL, r->err, sizeof(r->err));
		if (rc == 0) {
			if (docker_container_stop(r->d, ct.id,
			                          (unsigned)(r->c->stop_timeout_ms / 1000), r->err,
			                          sizeof(r->err)) != 0) {
				say(s, "failed", "%s", r->err);
				goto out;
			}
			put(s, "renamed_container", renamed);
			say(s, "ok", "container already stopped and renamed %s (kept)", renamed);
			goto out;
		}
	}
	rc = docker_container_inspect(r->d, r->c->container, &ct, &inspect, r->err, sizeof(r->err));
	if (rc != 0) {
		if (rc == 1 && absent_ok)
			say(s, "skipped",
			    "no container named %s runs in place of the kept one; nothing to stop",
			    r->c->container);
		else if (rc == 1)
			say(s, "failed", "no container named %s to stop", r->c->container);
		else
			say(s, "failed", "%s", r->err);
		goto out;
	}
	if (old_id != NULL && strcmp(old_id, ct.id) != 0) {
		say(s, "failed",
		    "container %s is now %.12s, not the %.12s this job stopped; not touching it",
		    r->c->container, ct.id, old_id);
		goto out;
	}
	if (renamed == NULL) {
		if (new_image != NULL) {
			rc = docker_image_inspect(r->d, ct.image_id, &img, r->err, sizeof(r->err));
			if (rc < 0) {
				say(s, "failed", "%s", r->err);
				goto out;
			}
			spec = spec_from_container(inspect, img, new_image, r->err, sizeof(r->err));
			if (spec == NULL) {
				say(s, "failed", "cannot derive the new container's spec: %s",
				    r->err);
				goto out;
			}
			/* Secrets stay in Docker (the kept container), not in the journal. */
			spec_redact(spec, SPEC_KEPT_MASK);
			char *text = json_dumps(spec, JSON_COMPACT | JSON_SORT_KEYS);
			rc = text ? fact_set(r, "spec", text) : -1;
			free(text);
			if (rc != 0)
				goto journal_fail;
		}
		utc_stamp(stamp, sizeof(stamp));
		snprintf(name, sizeof(name), "%s-%s-%s", r->c->container, suffix, stamp);
		if (fact_set(r, "old_id", ct.id) != 0 || fact_set(r, "old_image", ct.image) != 0 ||
		    fact_set(r, "renamed", name) != 0)
			goto journal_fail;
		free(renamed);
		renamed = strdup(name);
	}
	static const char *const stopped[] = {"exited", "created", "dead", NULL};
	if (docker_container_stop(r->d, ct.id, (unsigned)(r->c->stop_timeout_ms / 1000), r->err,
	                          sizeof(r->err)) != 0 ||
	    docker_container_wait_state(r->d, ct.id, stopped, 10000, NULL, r->err,
	                                sizeof(r->err)) != 0 ||
	    docker_container_rename(r->d, ct.id, renamed, r->err, sizeof(r->err)) != 0) {
		say(s, "failed", "%s", r->err);
		goto out;
	}
	put(s, "renamed_container", renamed);
	put(s, "old_image", ct.image);
	say(s, "ok", "stopped %s (%.12s, %s) and renamed it %s (kept, not removed)",
	    r->c->container, ct.id, ct.image, renamed);
	goto out;
journal_fail:
	say(s, "failed", "%s", r->err);
out:
	json_decref(spec);
	json_decref(img);
	json_decref(inspect);
	free(renamed);
	free(old_id);
}

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

/* Dump the live metadb into dir with obdumper, then verify the dump against
 * it: an obdumper backup of the metadb with the same tables, row counts and
 * migration version. Returns 0 with b filled, or -1 with s saying why. */
static int
dump_and_verify(struct run *r, struct step_res *s, struct metadb *m, const char *what,
                const char *dir, uint64_t budget, struct backup_info *b)
{
	struct loader_run lr = {0};
	struct restore_defs defs = {0};
	char why[1024], how[160];
	int rc, ret = -1;

	rc = loader_dump(r->c, r->password, r->job, what, dir, budget, &lr, r->err, sizeof(r->err));
	r->wait_loader_ms += lr.sr.duration_ms;
	s->exit_code = lr.sr.exited ? lr.sr.exit_code : -lr.sr.signal;
	tail_set(s, lr.error_tail[0] ? lr.error_tail : lr.out_tail);
	if (rc != 0) {
		if (rc < 0)
			snprintf(how, sizeof(how), "could not run: %s", r->err);
		else
			spawn_describe(&lr.sr, how, sizeof(how));
		say(s, "failed", "obdumper %s; the metadb was not touched", how);
		goto out;
	}
	if (backup_inspect(dir, r->c->db_name, b, r->err, sizeof(r->err)) != 0) {
		say(s, "failed", "the %s %s is not a usable backup: %s", what, dir, r->err);
		goto out;
	}
	if (restore_defs_load(b, &defs, r->err, sizeof(r->err)) != 0) {
		say(s, "failed", "the %s %s cannot be restored: %s", what, dir, r->err);
		goto out;
	}
	if (metadb_matches(r, m, b, &defs, true, why, sizeof(why)) != 0) {
		say(s, "failed", "the %s %s does not match the metadb: %s", what, dir, why);
		goto out;
	}
	utc_stamp(how, sizeof(how));
	if (manifest_write(r->c, dir, b, how, r->err, sizeof(r->err)) != 0) {
		say(s, "failed",
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

/* Appends text to the step's message, as room allows. */
static void __attribute__((format(printf, 2, 3))) say_more(struct step_res *s, const char *fmt, ...)
{
	size_t used = strlen(s->message);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->message + used, sizeof(s->message) - used, fmt, ap);
	va_end(ap);
}

/* A rollback that failed before the metadb was touched puts the host back as
 * it was: the container this job stopped and renamed gets its name back and
 * is started again. The message says which state the host is left in, and,
 * when this could not be done, the commands that get back. */
static void
put_back(struct run *r, struct step_res *s, struct metadb *m)
{
	char *renamed = fact(r, NULL, "renamed"), *old_id = fact(r, NULL, "old_id");
	struct docker_container ct, other;
	struct guard_holder who;
	char desc[300], gerr[256];
	static const char *const running[] = {"running", NULL};

	if (renamed == NULL || old_id == NULL || need_docker(r, s) != 0)
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
		if (docker_container_inspect(r->d, r->c->container, &other, NULL, r->err,
		                             sizeof(r->err)) == 1 &&
		    docker_container_rename(r->d, old_id, r->c->container, r->err,
		                            sizeof(r->err)) == 0) {
			(void)fact_set(r, "put_back", "1");
			say_more(s,
			         "; the host is DOWN: ODC is stopped (container %s, renamed back, "
			         "not started), "
			         "because another restore of this metadb runs (%s); once it has "
			         "ended, run this "
			         "rollback again: it finds the metadb at the target and only "
			         "replaces this node's "
			         "container",
			         r->c->container, desc);
		} else {
			say_more(s,
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
		say_more(s,
		         "; the host is DOWN: container %s (%.12s, not this job's) stands in the "
		         "kept one's place; "
		         "the kept one is %s",
		         r->c->container, other.id, renamed);
		goto out;
	}
	char why[400];
	if (m != NULL && !release_fits_metadb(r, m, NULL, why, sizeof(why))) {
		if (docker_container_inspect(r->d, r->c->container, &other, NULL, r->err,
		                             sizeof(r->err)) == 1 &&
		    docker_container_rename(r->d, old_id, r->c->container, r->err,
		                            sizeof(r->err)) == 0)
			(void)fact_set(r, "put_back", "1");
		say_more(s,
		         "; the host is DOWN: ODC is stopped (container %s, not started: %s); run "
		         "this rollback "
		         "again to bring it up at the metadb's release",
		         r->c->container, why);
		goto out;
	}
	if (docker_container_inspect(r->d, old_id, &ct, NULL, r->err, sizeof(r->err)) != 0 ||
	    (strcmp(ct.name, r->c->container) != 0 &&
	     docker_container_rename(r->d, old_id, r->c->container, r->err, sizeof(r->err)) != 0) ||
	    docker_container_start(r->d, old_id, r->err, sizeof(r->err)) != 0 ||
	    docker_container_wait_state(r->d, old_id, running, 10000, NULL, r->err,
	                                sizeof(r->err)) != 0) {
		say_more(s,
		         "; the host is DOWN (putting the old container back failed: %s); to get "
		         "back: docker rename "
		         "%s %s && docker start %s",
		         r->err, renamed, r->c->container, r->c->container);
		goto out;
	}
	(void)fact_set(r, "put_back", "1");
	put(s, "put_back", r->c->container);
	say_more(s,
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
at_target_now(struct run *r, struct step_res *s, struct metadb *m)
{
	char hv[65] = "";
	uint64_t t0 = clock_mono_ms();
	int rc = metadb_history_version(m, hv, sizeof(hv), r->err, sizeof(r->err));

	waited(&r->wait_metadb_ms, t0);
	if (rc != 0 || strcmp(r->action, "rollback") != 0 || param_true(r, "force") ||
	    !version_belongs_to(hv, param(r, "to")) || fact_set(r, "metadb_at_target", "1") != 0)
		return false;
	/* Not at the target at this job's check, at it now: a peer restored it
	 * during this job (which one is not known), and this node's undo must
	 * wait for that peer's undo. */
	(void)fact_set(r, "restored_by", "");
	put(s, "metadb_at_target", "true");
	say(s, "skipped",
	    "the metadb is at version %s, of release %s, already (another node of this deployment "
	    "restored it since this job began): not restored again",
	    hv, param(r, "to"));
	return true;
}

/* A peer of this node's deployment holds the guard for this job: it
 * restores the metadb for every node. This node waits, holding no session
 * (the peer waits for every other session to end), until the guard is
 * released; the metadb must then be at the target, and this node goes on
 * to its own start. */
static void
await_peer_restore(struct run *r, struct step_res *s, const struct guard_holder *peer)
{
	uint64_t t0 = clock_mono_ms(),
	         budget = step_budget(r, STEP_SNAPSHOT) + step_budget(r, STEP_RESTORE);
	char host[65], hv[65] = "", *before = NULL;
	struct guard_holder who;
	struct metadb *m = NULL;
	int rc;

	snprintf(host, sizeof(host), "%s", peer->host);
	note(r, "snapshot",
	     "host %s of this deployment restores the metadb for job %s; waiting for it", host,
	     r->job);
	for (;;) {
		/* Waiting on the peer is waiting on the metadb, not work of ours. */
		struct timespec ts = {0, 250 * 1000 * 1000};
		uint64_t tw = clock_mono_ms();
		nanosleep(&ts, NULL);
		waited(&r->wait_metadb_ms, tw);
		if ((m = need_metadb(r, s)) == NULL)
			goto out;
		rc = guard_read(m, &who, r->err, sizeof(r->err));
		if (rc < 0) {
			say(s, "failed", "metadb: %s", r->err);
			goto out;
		}
		if (rc == 0)
			break;
		if (who.unreadable || strcmp(who.job, r->job) != 0) {
			char desc[300];
			guard_describe(&who, desc, sizeof(desc));
			say(s, "failed",
			    "while host %s restored the metadb for this job, another restore took "
			    "it: %s",
			    host, desc);
			goto out;
		}
		metadb_close(m);
		m = NULL;
		if (clock_mono_ms() - t0 > budget) {
			say(s, "failed",
			    "host %s of this deployment has held the restore guard for %llu s; "
			    "this node "
			    "stopped waiting",
			    host, (unsigned long long)((clock_mono_ms() - t0) / 1000));
			goto out;
		}
	}
	rc = metadb_history_version(m, hv, sizeof(hv), r->err, sizeof(r->err));
	if (rc == 0 && version_belongs_to(hv, param(r, "to")) &&
	    fact_set(r, "metadb_at_target", "1") == 0) {
		(void)fact_set(r, "restored_by", host);
		put(s, "restored_by", host);
		say(s, "skipped",
		    "host %s of this deployment restored the metadb for this job (version %s): not "
		    "restored again here",
		    host, hv);
		goto out;
	}
	before = fact(r, NULL, "metadb_version_before");
	say(s, "failed",
	    "host %s's restore for this job ended without the metadb at release %s (it is at "
	    "version %s): its restore failed",
	    host, param(r, "to"), *hv ? hv : "(unknown)");
	/* Back as it was only when the metadb is what it was. */
	if (before != NULL && strcmp(before, hv) == 0)
		put_back(r, s, m);
	else
		say_more(s,
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
await_holder(struct run *r, struct step_res *s)
{
	uint64_t t0 = clock_mono_ms(), budget = step_budget(r, STEP_PREFLIGHT) +
	                                        step_budget(r, STEP_STOP) + SESSIONS_WAIT_MS;
	struct guard_holder who;
	struct metadb *m = NULL;
	char desc[300];
	int rc;

	note(r, "snapshot",
	     "no backup at %s on this host: waiting for the node of this deployment that holds it "
	     "to "
	     "restore the metadb for job %s",
	     param(r, "backup"), r->job);
	for (;;) {
		if ((m = need_metadb(r, s)) == NULL) {
			put_back(r, s, NULL);
			return;
		}
		if (at_target_now(r, s, m))
			goto out;
		uint64_t tr = clock_mono_ms();
		rc = guard_read(m, &who, r->err, sizeof(r->err));
		waited(&r->wait_metadb_ms, tr);
		if (rc < 0) {
			say(s, "failed", "metadb: %s", r->err);
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
			say(s, "failed",
			    "another restore holds the metadb: %s; this host holds no backup at %s "
			    "and "
			    "restores nothing",
			    desc, param(r, "backup"));
			put_back(r, s, m);
			goto out;
		}
		if (clock_mono_ms() - t0 > budget) {
			say(s, "failed",
			    "no node of this deployment began to restore the metadb for this job "
			    "within "
			    "%llu s (this host holds no backup at %s: the node that holds it "
			    "restores; it failed before "
			    "its restore, see its result)",
			    (unsigned long long)((clock_mono_ms() - t0) / 1000),
			    param(r, "backup"));
			put_back(r, s, m);
			goto out;
		}
		metadb_close(m);
		m = NULL;
		struct timespec ts = {0, 250 * 1000 * 1000};
		uint64_t tw = clock_mono_ms();
		nanosleep(&ts, NULL);
		waited(&r->wait_metadb_ms, tw);
	}
out:
	metadb_close(m);
}

static void
step_snapshot(struct run *r, struct step_res *s)
{
	char dir[4200];
	char *done = fact(r, NULL, "snapshot_verified");
	struct backup_info b = {0};
	struct metadb *m = NULL;
	struct stat st;

	snprintf(dir, sizeof(dir), "%s/%s", r->c->snapshot_root, r->job);
	if (done != NULL && strcmp(done, "1") == 0) {
		put(s, "snapshot", dir);
		say(s, "ok", "safety snapshot %s already taken and verified", dir);
		goto out;
	}
	if (lstat(dir, &st) == 0 && set_aside(dir, r->err, sizeof(r->err)) != 0) {
		say(s, "failed", "%s", r->err);
		goto out;
	}
	if ((m = need_metadb(r, s)) == NULL) {
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
	int rc = take_guard(r, s, m, &peer);
	if (rc == 1) {
		metadb_close(m);
		m = NULL;
		await_peer_restore(r, s, &peer);
		goto out;
	}
	/* Then every node of the deployment stopped (nobody else connected):
	 * a snapshot of a metadb still written to would not verify. */
	if (rc != 0 || check_sessions(r, s, m) != 0 ||
	    dump_and_verify(r, s, m, "snapshot", dir, step_budget(r, STEP_SNAPSHOT), &b) != 0) {
		release_guard(r, s, m);
		put_back(r, s, m);
		goto out;
	}
	if (fact_set(r, "snapshot_dir", dir) != 0 || fact_set(r, "snapshot_verified", "1") != 0) {
		say(s, "failed", "%s", r->err);
		release_guard(r, s, m);
		put_back(r, s, m);
		goto out;
	}
	put(s, "snapshot", dir);
	put(s, "snapshot_version", b.version);
	say(s, "ok", "metadb dumped to %s and verified: %zu tables, %llu rows, version %s", dir,
	    b.n_tables, (unsigned long long)tables_rows(&b), b.version);
out:
	metadb_close(m);
	backup_info_free(&b);
	free(done);
}

/* A rollback's restore fences the metadb at the version it restores
 * (guard.h: a node that was away must not start its newer ODC on it), once
 * it has emptied it, before loading; the undo of a rollback lifts that
 * rollback's fence after its verified restore. A failure here fails
 * nothing by itself: it is said, with the command that does it by hand. */
static void
mark_fence(struct run *r, struct step_res *s, struct metadb *m, const char *version, char *warn,
           size_t warnlen)
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
			put(s, "fence", version);
	} else if (strcmp(r->action, "undo") == 0 &&
	           fence_lift(m, param(r, "of"), &f, r->err, sizeof(r->err)) < 0) {
		snprintf(
		    warn, warnlen,
		    "; the fence of %s could not be lifted (%s): `odc-agent guard lift-fence %s`",
		    param(r, "of"), r->err, param(r, "of"));
	}
	waited(&r->wait_metadb_ms, t0);
}

/* Clean restore (restore.h): the backup's definitions parsed, every object
 * of the metadb dropped (the verified snapshot holds them), the tables
 * created without their foreign keys, the data loaded by obloader, the
 * foreign keys and views added; then the metadb must hold exactly the
 * backup, object by object, row counts and migration version included. */
static void
step_restore(struct run *r, struct step_res *s, const char *src)
{
	struct backup_info b = {0};
	struct restore_defs defs = {0};
	struct metadb *m = NULL;
	struct loader_run lr = {0};
	char why[1024], what[128], fence_warn[400] = "";
	size_t dropped = 0;
	int rc;

	if (backup_inspect(src, r->c->db_name, &b, r->err, sizeof(r->err)) != 0) {
		say(s, "failed", "%s: %s", src, r->err);
		goto out;
	}
	if (restore_defs_load(&b, &defs, r->err, sizeof(r->err)) != 0) {
		say(s, "failed", "%s: %s", src, r->err);
		goto out;
	}
	/* Again: the backup may have changed since the preflight. An undo's
	 * snapshot is this agent's own. */
	if (check_backup_integrity(r, s, src, &b, what, sizeof(what)) != 0)
		goto out;
	/* Until the guard is ours and nobody else is connected, the metadb is
	 * not touched: an undo then has nothing to restore. (A journal of an
	 * earlier agent has no such fact: its undo restores, as it did.) */
	char *was = fact(r, NULL, "metadb_untouched");
	rc = was != NULL && strcmp(was, "0") == 0
	         ? 0
	         : fact_set(r, "metadb_untouched", "1"); /* a resumed step */
	free(was);
	if (rc != 0) {
		say(s, "failed", "journal: %s; nothing was restored", r->err);
		goto out;
	}
	if ((m = need_metadb(r, s)) == NULL)
		goto out;
	/* One restore of a metadb at a time, whoever runs it (the snapshot
	 * took the guard already); then nobody else may still be connected to
	 * it (a node not stopped). */
	if (take_guard(r, s, m, NULL) != 0 || check_sessions(r, s, m) != 0) {
		/* Nothing touched: the host goes back as it was (not while
		 * another restore runs: put_back checks). */
		release_guard(r, s, m);
		if (strcmp(r->action, "rollback") == 0)
			put_back(r, s, m);
		goto out;
	}
	/* From here on the metadb is no longer what it was: an undo must
	 * restore the snapshot (before, it has nothing to restore). */
	if (fact_set(r, "metadb_untouched", "0") != 0) {
		say(s, "failed", "journal: %s; nothing was restored", r->err);
		goto out;
	}
	uint64_t tddl = clock_mono_ms();
	if (restore_empty(m, &dropped, r->err, sizeof(r->err)) != 0) {
		waited(&r->wait_metadb_ms, tddl);
		say(s, "failed", "cannot empty the metadb: %s", r->err);
		goto out;
	}
	if (restore_create_tables(m, &defs, r->err, sizeof(r->err)) != 0) {
		waited(&r->wait_metadb_ms, tddl);
		say(s, "failed", "%s", r->err);
		goto out;
	}
	waited(&r->wait_metadb_ms, tddl);
	/* A rollback fences the metadb before loading it: from the moment it
	 * is replaced (and a dump taken by obdumper while an earlier fence
	 * stood holds the fence's empty data file, which obloader loads into
	 * that table: it must exist). */
	if (strcmp(r->action, "rollback") == 0) {
		mark_fence(r, s, m, b.version, fence_warn, sizeof(fence_warn));
		if (*fence_warn)
			note(r, "restore", "%s", fence_warn + 2);
	}
	note(r, "restore", "dropped %zu objects, created %zu tables; loading the data of %s",
	     dropped, defs.n_tables, src);
	rc = loader_load(r->c, r->password, r->job, "restore", src, b.header,
	                 step_budget(r, STEP_RESTORE), &lr, r->err, sizeof(r->err));
	r->wait_loader_ms += lr.sr.duration_ms;
	s->exit_code = lr.sr.exited ? lr.sr.exit_code : -lr.sr.signal;
	tail_set(s, lr.error_tail[0] ? lr.error_tail : lr.out_tail);
	if (rc < 0) {
		say(s, "failed", "obloader could not run: %s", r->err);
		goto out;
	}
	spawn_describe(&lr.sr, what, sizeof(what));
	tddl = clock_mono_ms();
	rc = restore_finish(m, &defs, r->err, sizeof(r->err));
	waited(&r->wait_metadb_ms, tddl);
	if (rc != 0) {
		say(s, "failed", "restore failed after obloader (%s): %s", what, r->err);
		goto out;
	}
	/* An exit status of 0 proves nothing (a failed import may exit 0):
	 * verify whatever it says. A non-zero one fails the step even when
	 * the tables happen to match: the tool saw something go wrong. */
	rc = metadb_matches(r, m, &b, &defs, true, why, sizeof(why));
	if (rc != 0) {
		say(s, "failed", "restore verification failed (obloader %s): %s", what, why);
		goto out;
	}
	if (!(lr.sr.exited && lr.sr.exit_code == 0)) {
		say(s, "failed",
		    "obloader %s; the metadb matches the backup, but the tool reported a failure",
		    what);
		goto out;
	}
	put(s, "restored_from", src);
	put(s, "metadb_version", b.version);
	say(s, "ok",
	    "metadb restored from %s and verified: %zu tables, %llu rows, %zu foreign keys, %zu "
	    "views, version %s "
	    "(obloader %s)",
	    src, b.n_tables, (unsigned long long)tables_rows(&b), defs.n_foreign_keys, defs.n_views,
	    b.version, what);
	if (strcmp(r->action, "undo") == 0)
		mark_fence(r, s, m, b.version, fence_warn, sizeof(fence_warn));
	if (*fence_warn)
		say_more(s, "%s", fence_warn);
out:
	/* Released whatever the outcome: a failed restore is mended by another
	 * one (undo, a new rollback), which takes the guard itself. */
	release_guard(r, s, m);
	metadb_close(m);
	restore_defs_free(&defs);
	backup_info_free(&b);
	loader_run_free(&lr);
}

/* The secret env values the journal did not keep, from the kept container
 * (the one this job stopped and renamed). 0, or -1 with the step failed. */
static int
unredact_from_kept(struct run *r, struct step_res *s, json_t *spec)
{
	char *old_id = fact(r, NULL, "old_id"), *renamed = fact(r, NULL, "renamed");
	struct docker_container kept;
	json_t *inspect = NULL;
	int rc = -1;

	if (old_id == NULL ||
	    docker_container_inspect(r->d, old_id, &kept, &inspect, r->err, sizeof(r->err)) != 0) {
		say(s, "failed",
		    "the kept container %s (%.12s), which holds the secret env values the journal "
		    "does not keep, "
		    "cannot be read: %s",
		    renamed ? renamed : "?", old_id ? old_id : "?",
		    old_id ? r->err : "no id recorded");
		goto out;
	}
	if (spec_unredact(spec, inspect, r->err, sizeof(r->err)) != 0) {
		say(s, "failed", "%s (%s)", r->err, kept.name);
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
step_start_new(struct run *r, struct step_res *s, const char *image)
{
	struct docker_container ct;
	char id[65];
	char *spec_text = NULL;
	json_t *spec = NULL;
	json_error_t je;
	int rc;

	if (need_docker(r, s) != 0)
		return;
	rc = docker_container_inspect(r->d, r->c->container, &ct, NULL, r->err, sizeof(r->err));
	if (rc < 0) {
		say(s, "failed", "%s", r->err);
		goto out;
	}
	if (rc == 0) {
		char *mine = fact(r, NULL, "new_id");
		bool ours = mine != NULL && strcmp(mine, ct.id) == 0;
		free(mine);
		if (!ours) {
			say(s, "failed",
			    "a container named %s already exists (%.12s, %s) that this job did not "
			    "create; "
			    "not touching it",
			    r->c->container, ct.id, ct.image);
			goto out;
		}
		snprintf(id, sizeof(id), "%s", ct.id);
	} else {
		spec_text = fact(r, NULL, "spec");
		if (spec_text == NULL || (spec = json_loads(spec_text, 0, &je)) == NULL) {
			say(s, "failed", "no recorded container spec for this job");
			goto out;
		}
		if (unredact_from_kept(r, s, spec) != 0)
			goto out;
		if (docker_container_create(r->d, r->c->container, spec, id, r->err,
		                            sizeof(r->err)) != 0) {
			say(s, "failed", "%s", r->err);
			goto out;
		}
		if (fact_set(r, "new_id", id) != 0) {
			say(s, "failed", "%s", r->err);
			goto out;
		}
	}
	static const char *const running[] = {"running", NULL};
	char state[17] = "";
	if (docker_container_start(r->d, id, r->err, sizeof(r->err)) != 0 ||
	    docker_container_wait_state(r->d, id, running, 10000, state, r->err, sizeof(r->err)) !=
	        0) {
		say(s, "failed", "%s", r->err);
		goto out;
	}
	put(s, "container_id", id);
	put(s, "image", image);
	say(s, "ok",
	    "created %s (%.12s) from the old container's spec with image %s, and started it",
	    r->c->container, id, image);
out:
	json_decref(spec);
	free(spec_text);
}

struct health_note {
	struct run *r;
	uint64_t last;
};

static void
health_progress(void *ctx, const struct health_state *st)
{
	struct health_note *hn = ctx;
	uint64_t now = clock_mono_ms();

	if (!st->healthy && now - hn->last >= 10000) {
		hn->last = now;
		note(hn->r, "health", "waiting for ODC: %s",
		     st->detail[0] ? st->detail : "not healthy yet");
	}
}

/* The last ERROR lines of text (up to three, oldest first, joined by " | "),
 * cut to fit out: the cause is often one line before the generic "run
 * failed". */
static bool
last_error_lines(const char *text, char *out, size_t outlen)
{
	const char *end = text + strlen(text), *found[3];
	size_t lens[3], n = 0;

	while (end > text && n < 3) {
		const char *start = end;
		while (start > text && start[-1] != '\n')
			start--;
		size_t len = (size_t)(end - start);
		if (len > 0 && memmem(start, len, "ERROR", 5) != NULL) {
			found[n] = start;
			lens[n++] = len;
		}
		end = start > text ? start - 1 : text;
	}
	out[0] = '\0';
	for (size_t i = n; i > 0; i--) {
		size_t used = strlen(out);
		snprintf(out + used, outlen - used, "%s%.*s", i < n ? " | " : "", (int)lens[i - 1],
		         found[i - 1]);
	}
	return n > 0;
}

static void
step_health(struct run *r, struct step_res *s, const char *want)
{
	struct health_state st;
	struct health_note hn = {r, clock_mono_ms()};
	uint64_t budget = step_budget(r, STEP_HEALTH), t0 = clock_mono_ms();
	char *logs = NULL;
	size_t loglen = 0;

	int hrc = health_wait(r->c->health_url, want, budget, r->c->health_interval_ms, &st,
	                      health_progress, &hn);
	waited(&r->wait_health_ms, t0);
	if (hrc == 0) {
		put(s, "odc_version", st.version);
		say(s, "ok", "ODC is healthy at version %s after %.1f s", st.version,
		    (double)(clock_mono_ms() - t0) / 1000.0);
		return;
	}
	say(s, "failed", "ODC did not become healthy%s%s within %llu s: %s",
	    want && *want ? " at " : "", want ? want : "", (unsigned long long)(budget / 1000),
	    st.detail);
	/* ODC's own words say why (e.g. "Software degrade is not allowed"): its
	 * log file, read through Docker (mounted or not, running or not), then
	 * what the supervisor said. */
	if (need_docker(r, s) == 0) {
		char *file = NULL, tail[TAIL_MAX], line[MSG_MAX];
		int frc = docker_container_file_tail(r->d, r->c->container, ODC_LOG_FILE,
		                                     ODC_LOG_TAIL, &file, r->err, sizeof(r->err));
		if (docker_container_logs(r->d, r->c->container, 200, DOCKER_LOG_TAIL, &logs,
		                          &loglen, r->err, sizeof(r->err)) != 0)
			logs = NULL;
		/* ODC's own log last: displays show a tail's end. */
		snprintf(tail, sizeof(tail),
		         "--- docker logs (the supervisor) ---\n%s\n--- %s, its end ---\n%s",
		         logs ? logs : "(cannot be read)", ODC_LOG_FILE,
		         frc == 0 ? file : "(cannot be read)");
		tail_set(s, tail);
		/* The last ERROR line goes into the message, where an operator
		 * looks first (the host table of `odcctl job`). */
		if (frc == 0 && last_error_lines(file, line, sizeof(line)))
			snprintf(s->message + strlen(s->message),
			         sizeof(s->message) - strlen(s->message), "; ODC's log: %s", line);
		free(file);
	}
	s->status = "failed";
	free(logs);
}

/* ---- undo: the way back to where a rollback began ---- */

static void
step_preflight_undo(struct run *r, struct step_res *s)
{
	const char *of = param(r, "of");
	char *renamed = fact(r, of, "renamed"), *snap = fact(r, of, "snapshot_dir");
	char *verified = fact(r, of, "snapshot_verified");
	struct journal_plan p = {0};
	struct docker_container ct;
	struct backup_info b = {0};
	struct metadb *m = NULL;
	char integrity[160];

	if (journal_plan_get(r->j, of, "run", &p, r->err, sizeof(r->err)) != 0 ||
	    strcmp(p.action, "rollback") != 0) {
		say(s, "failed", "no rollback job %s in this agent's journal", of);
		goto out;
	}
	if (fact_is(r, of, "put_back", "1")) {
		say(s, "failed",
		    "rollback %s put its container back when it failed; nothing to undo", of);
		goto out;
	}
	bool untouched = rollback_untouched(r, of);
	if (renamed == NULL ||
	    (!untouched && (snap == NULL || verified == NULL || strcmp(verified, "1") != 0))) {
		say(s, "failed", "rollback %s did not get as far as %s; nothing to undo", of,
		    renamed == NULL ? "stopping the container" : "a verified snapshot");
		goto out;
	}
	if (need_docker(r, s) != 0)
		goto out;
	if (docker_container_inspect(r->d, renamed, &ct, NULL, r->err, sizeof(r->err)) != 0) {
		say(s, "failed", "the container that rollback %s kept (%s) is gone", of, renamed);
		goto out;
	}
	/* Before anything is stopped: the kept ODC must fit the metadb it
	 * would start on (after the snapshot's restore, when there is one). */
	/* (A node whose rollback a peer restored waits for the peer's undo
	 * first: its start step checks the fit then.) */
	if (untouched && !fact_is_set(r, of, "restored_by") && check_release_fits(r, s, of) != 0)
		goto out;
	if (untouched) {
		/* Nothing to restore: only the kept container goes back (the
		 * start step checks that the metadb still fits it). */
		if ((m = need_metadb(r, s)) == NULL || check_guard(r, s, m) != 0)
			goto out;
		put(s, "container", renamed);
		say(s, "ok",
		    "rollback %s can be undone: it never changed the metadb; container %s (%s) "
		    "kept",
		    of, renamed, ct.image);
		goto out;
	}
	if (backup_inspect(snap, r->c->db_name, &b, r->err, sizeof(r->err)) != 0) {
		say(s, "failed", "safety snapshot %s: %s", snap, r->err);
		goto out;
	}
	if (check_backup_integrity(r, s, snap, &b, integrity, sizeof(integrity)) != 0)
		goto out;
	if ((m = need_metadb(r, s)) == NULL || check_guard(r, s, m) != 0 || check_loader(r, s) != 0)
		goto out;
	put(s, "restore_from", snap);
	put(s, "container", renamed);
	say(s, "ok",
	    "rollback %s can be undone: container %s (%s) kept, snapshot %s at version %s, %s", of,
	    renamed, ct.image, snap, b.version, integrity);
out:
	journal_plan_clear(&p);
	metadb_close(m);
	backup_info_free(&b);
	free(renamed);
	free(snap);
	free(verified);
}

/* An ODC never starts on a metadb of an older release: it would migrate it
 * forward (the hazard of a node of an HA deployment left out of its
 * rollback). The kept container of rollback `of` runs its old image; the
 * metadb's version must not be of an older release. 0 fits (or cannot be
 * told: no version), -1 with the step failed. */
static int
check_release_fits(struct run *r, struct step_res *s, const char *of)
{
	struct metadb *m = need_metadb(r, s);
	char why[400];
	bool fits;

	if (m == NULL)
		return -1;
	fits = release_fits_metadb(r, m, of, why, sizeof(why));
	metadb_close(m);
	if (!fits) {
		say(s, "failed",
		    "%s: started, that ODC would migrate the metadb forward under the rest of its "
		    "deployment; it is not started. Bring this node up at the metadb's release "
		    "with its deployment",
		    why);
		return -1;
	}
	return 0;
}

/* Put the container that rollback `of` kept back under its name and start it. */
static void
step_start_old(struct run *r, struct step_res *s)
{
	const char *of = param(r, "of");
	char *renamed = fact(r, of, "renamed"), *old_id = fact(r, of, "old_id");
	struct docker_container ct;
	int rc;

	if (need_docker(r, s) != 0 || renamed == NULL || old_id == NULL) {
		if (s->status == NULL)
			say(s, "failed", "rollback %s left no record of its container", of);
		goto out;
	}
	if (check_release_fits(r, s, of) != 0)
		goto out;
	rc = docker_container_inspect(r->d, r->c->container, &ct, NULL, r->err, sizeof(r->err));
	if (rc == 0 && strcmp(ct.id, old_id) != 0) {
		say(s, "failed", "a container named %s (%.12s) is in the way", r->c->container,
		    ct.id);
		goto out;
	}
	if (rc == 1 &&
	    docker_container_rename(r->d, old_id, r->c->container, r->err, sizeof(r->err)) != 0) {
		say(s, "failed", "%s", r->err);
		goto out;
	}
	if (rc < 0 || docker_container_start(r->d, old_id, r->err, sizeof(r->err)) != 0) {
		say(s, "failed", "%s", r->err);
		goto out;
	}
	put(s, "container_id", old_id);
	say(s, "ok", "renamed %s back to %s and started it", renamed, r->c->container);
out:
	free(renamed);
	free(old_id);
}

/* ---- single actions ---- */

static void
act_ping(struct run *r, struct step_res *s)
{
	put(s, "agent_version", AGENT_VERSION);
	say(s, "ok", "pong from %s (odc-agent %s)", r->c->host_id, AGENT_VERSION);
}

static void
act_status(struct run *r, struct step_res *s)
{
	struct docker_container ct = {0};
	struct health_state st;
	struct metadb *m;
	char hv[65] = "", state[64] = "unknown";
	int rc = -1;

	if (need_docker(r, s) == 0) {
		rc = docker_container_inspect(r->d, r->c->container, &ct, NULL, r->err,
		                              sizeof(r->err));
		snprintf(state, sizeof(state), "%s",
		         rc == 0   ? ct.state
		         : rc == 1 ? "absent"
		                   : "unknown");
	}
	health_probe(r->c->health_url, 5000, &st);
	m = need_metadb(r, s);
	bool db_ok = m != NULL;
	if (m != NULL && metadb_history_version(m, hv, sizeof(hv), r->err, sizeof(r->err)) < 0)
		snprintf(hv, sizeof(hv), "?");
	metadb_close(m);
	put(s, "container_state", state);
	put(s, "image", ct.image);
	put(s, "health", st.healthy ? "healthy" : st.reachable ? "unhealthy" : "unreachable");
	put(s, "odc_version", st.version);
	put(s, "metadb_version", hv);
	/* Status reports what it sees, even when parts are unreachable. */
	say(s, "ok", "container %s: %s%s%s; ODC %s%s; metadb %s", r->c->container, state,
	    ct.image[0] ? ", " : "", ct.image,
	    st.healthy     ? "healthy at "
	    : st.reachable ? "unhealthy: "
	                   : "unreachable: ",
	    st.healthy ? st.version : st.detail,
	    db_ok ? (hv[0] ? hv : "(no history)") : "unreachable");
}

static void
act_stop(struct run *r, struct step_res *s)
{
	struct docker_container ct;
	int rc;

	if (need_docker(r, s) != 0)
		return;
	rc = docker_container_inspect(r->d, r->c->container, &ct, NULL, r->err, sizeof(r->err));
	if (rc != 0 || docker_container_stop(r->d, ct.id, (unsigned)(r->c->stop_timeout_ms / 1000),
	                                     r->err, sizeof(r->err)) != 0) {
		if (rc == 1)
			say(s, "failed", "no container named %s", r->c->container);
		else
			say(s, "failed", "%s", r->err);
		return;
	}
	say(s, "ok", "stopped %s (%.12s)", r->c->container, ct.id);
}

/* The create body from the configured defaults (the seed's docker run). */
static json_t *
defaults_spec(struct run *r, const char *image)
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
act_start(struct run *r, struct step_res *s)
{
	struct docker_container ct;
	const char *to = param(r, "to");
	char image[300], id[65];
	json_t *spec;
	int rc;

	if (need_docker(r, s) != 0)
		return;
	rc = docker_container_inspect(r->d, r->c->container, &ct, NULL, r->err, sizeof(r->err));
	if (rc == 0) {
		if (docker_container_start(r->d, ct.id, r->err, sizeof(r->err)) != 0)
			say(s, "failed", "%s", r->err);
		else
			say(s, "ok", "started %s (%.12s, %s)", r->c->container, ct.id, ct.image);
		return;
	}
	if (rc < 0) {
		say(s, "failed", "%s", r->err);
		return;
	}
	if (to == NULL) {
		say(s, "failed",
		    "no container named %s; give a tag (to) to create one from the defaults",
		    r->c->container);
		return;
	}
	if (target_image(r, to, image, sizeof(image), s) != 0)
		return;
	if (r->password == NULL &&
	    (r->password = agent_read_password(r->c, r->err, sizeof(r->err))) == NULL) {
		say(s, "failed", "metadb password: %s", r->err);
		return;
	}
	spec = defaults_spec(r, image);
	if (spec == NULL) {
		say(s, "failed", "%s", r->err);
		return;
	}
	if (docker_container_create(r->d, r->c->container, spec, id, r->err, sizeof(r->err)) != 0 ||
	    docker_container_start(r->d, id, r->err, sizeof(r->err)) != 0)
		say(s, "failed", "%s", r->err);
	else
		say(s, "ok", "created %s (%.12s) from the defaults with image %s and started it",
		    r->c->container, id, image);
	json_decref(spec);
}

static void
act_logs(struct run *r, struct step_res *s)
{
	const char *lines = param(r, "lines");
	char *logs = NULL;
	size_t n = 0;

	if (need_docker(r, s) != 0)
		return;
	if (docker_container_logs(r->d, r->c->container,
	                          lines ? (unsigned)strtoul(lines, NULL, 10) : 200, TAIL_MAX - 1,
	                          &logs, &n, r->err, sizeof(r->err)) != 0) {
		say(s, "failed", "%s", r->err);
		return;
	}
	tail_set(s, logs);
	say(s, "ok", "%zu bytes of %s's log", n, r->c->container);
	free(logs);
}

static void
act_backup(struct run *r, struct step_res *s, bool run_it)
{
	const char *name = param(r, "name");
	char dir[4200], stamp[32];
	struct backup_info b = {0};
	struct metadb *m = NULL;
	struct statvfs vfs;

	utc_stamp(stamp, sizeof(stamp));
	snprintf(dir, sizeof(dir), "%s/%s%s", r->c->backup_roots[0], name ? name : "odc-backup-",
	         name ? "" : stamp);
	if (access(dir, F_OK) == 0) {
		say(s, "failed", "%s exists already; choose another name", dir);
		goto out;
	}
	/* A dump taken while another restore replaces the metadb would be of
	 * neither metadb. */
	if ((m = need_metadb(r, s)) == NULL || check_guard(r, s, m) != 0 || check_loader(r, s) != 0)
		goto out;
	if (statvfs(r->c->backup_roots[0], &vfs) != 0) {
		say(s, "failed", "%s: %s", r->c->backup_roots[0], strerror(errno));
		goto out;
	}
	if (!run_it) {
		say(s, "ok", "a backup can be taken into %s (%llu MiB free)", dir,
		    (unsigned long long)(((uint64_t)vfs.f_bavail * vfs.f_frsize) >> 20));
		goto out;
	}
	if (dump_and_verify(r, s, m, "backup", dir, r->c->deadline_ms[STEP_SNAPSHOT], &b) != 0)
		goto out;
	put(s, "backup", dir);
	put(s, "backup_version", b.version);
	say(s, "ok", "metadb backed up to %s and verified: %zu tables, %llu rows, version %s", dir,
	    b.n_tables, (unsigned long long)tables_rows(&b), b.version);
out:
	metadb_close(m);
	backup_info_free(&b);
}

/* prune: the retention rule on demand (prune.h); the list of what went
 * and what stayed, and why, is the step's output. */
static void
act_prune(struct run *r, struct step_res *s)
{
	struct prune_report rep;
	char v[24];
	int rc;

	if (need_docker(r, s) != 0)
		return;
	rc = prune_apply(r->c, r->j, r->d, param_true(r, "dry_run"), &rep, r->err, sizeof(r->err));
	if (rc < 0) {
		say(s, "failed", "nothing was removed: %s", r->err);
	} else {
		say(s, rc == 0 ? "ok" : "failed", "%s", rep.summary);
		if (rc != 0)
			say_more(s,
			         "; everything else is as it was: odc-agent prune (fleet: odcctl "
			         "prune %s) tries "
			         "again",
			         r->c->host_id);
		tail_set(s, rep.list.data != NULL ? (const char *)rep.list.data : "");
		snprintf(v, sizeof(v), "%zu", rep.removed), put(s, "removed", v);
		snprintf(v, sizeof(v), "%zu", rep.kept), put(s, "kept", v);
		snprintf(v, sizeof(v), "%zu", rep.failed), put(s, "failed", v);
		snprintf(v, sizeof(v), "%llu", (unsigned long long)rep.freed_bytes),
		    put(s, "freed_bytes", v);
	}
	prune_report_free(&rep);
}

/* After a rollback that ended healthy, the retention rule as prune applies
 * it; the rollback is done either way, so a failure here is only said. */
static void
retain_after_rollback(struct run *r, struct step_res *s)
{
	struct step_res why = {0};
	struct prune_report rep;
	int rc;

	if (strcmp(s->status, "ok") != 0)
		return;
	if (need_docker(r, &why) != 0) {
		say_more(s, "; retention not applied (%s): odc-agent prune applies it",
		         why.message);
		return;
	}
	rc = prune_apply(r->c, r->j, r->d, false, &rep, r->err, sizeof(r->err));
	if (rc < 0)
		say_more(s, "; retention not applied (%s): odc-agent prune applies it", r->err);
	else
		say_more(s, "; retention: %s", rep.summary);
	for (const char *l = rc >= 0 ? (const char *)rep.list.data : NULL;
	     l != NULL && *l != '\0';) {
		size_t n = strcspn(l, "\n");
		log_info("job %s: retention: %.*s", r->job, (int)n, l);
		l += n + (l[n] == '\n');
	}
	prune_report_free(&rep);
}

/* ------------------------------------------------------------------ */
/* Machinery                                                           */

enum step_kind {
	K_PREFLIGHT_ROLLBACK,
	K_STOP_ROLLBACK,
	K_SNAPSHOT,
	K_RESTORE_BACKUP,
	K_START_NEW,
	K_HEALTH_TARGET,
	K_PREFLIGHT_UNDO,
	K_STOP_UNDO,
	K_RESTORE_SNAPSHOT,
	K_START_OLD,
	K_HEALTH_OLD,
	K_PING,
	K_STATUS,
	K_STOP,
	K_START,
	K_LOGS,
	K_BACKUP_CHECK,
	K_BACKUP,
	K_PRUNE,
};

struct step_def {
	const char *name;
	enum step_kind kind;
};

/* The undo of a node whose rollback a peer of its deployment restored
 * (restored_by): that peer's undo restores the metadb for every node of
 * this job. This node waits, holding no session, until the metadb is back
 * at the version it had before the rollback and nobody holds the guard;
 * then its start step brings its kept container back. */
#define PEER_START_MS 60000
static void
await_peer_undo(struct run *r, struct step_res *s, const char *of, const char *before,
                const char *peer)
{
	uint64_t t0 = clock_mono_ms(), budget = step_budget(r, STEP_RESTORE);
	struct guard_holder who;
	char hv[65] = "";
	bool began = false; /* the peer's restore for this undo was seen */
	int held;

	char who_restored[80];
	if (*peer)
		snprintf(who_restored, sizeof(who_restored), "host %s", peer);
	else
		snprintf(who_restored, sizeof(who_restored), "another node");
	note(r, "restore", "%s of this deployment restored the metadb for %s; waiting for its undo",
	     who_restored, of);
	for (;;) {
		struct metadb *m = need_metadb(r, s);
		if (m == NULL)
			return;
		held = guard_read(m, &who, r->err, sizeof(r->err));
		if (held >= 0 &&
		    metadb_history_version(m, hv, sizeof(hv), r->err, sizeof(r->err)) < 0)
			held = -1;
		metadb_close(m);
		if (held < 0) {
			say(s, "failed", "metadb: %s", r->err);
			return;
		}
		if (held == 1 && (who.unreadable || strcmp(who.job, r->job) != 0)) {
			char desc[300];
			guard_describe(&who, desc, sizeof(desc));
			say(s, "failed",
			    "another restore holds the metadb: %s; this node's container is not "
			    "started",
			    desc);
			return;
		}
		began |= held == 1;
		if (held == 0 && strcmp(hv, before) == 0) {
			say(s, "skipped",
			    "%s of this deployment restored the metadb for this undo (back at "
			    "version "
			    "%s): nothing to restore here",
			    who_restored, *hv ? hv : "(empty)");
			return;
		}
		/* The undo of a deployment runs on all its nodes at once: a peer
		 * that has not begun within PEER_START_MS is not coming. */
		if (!began && clock_mono_ms() - t0 > PEER_START_MS) {
			say(s, "failed",
			    "no node restored the metadb for this undo within %d s (it is at "
			    "version %s, %s "
			    "before the rollback): run the undo of %s of this deployment first, or "
			    "of all its nodes "
			    "together; this node's container is not started",
			    PEER_START_MS / 1000, *hv ? hv : "(empty)", before, who_restored);
			return;
		}
		if (clock_mono_ms() - t0 > budget) {
			say(s, "failed",
			    "waited %llu s for %s to restore the metadb for this undo (it is at "
			    "version "
			    "%s, %s before the rollback); this node's container is not started",
			    (unsigned long long)((clock_mono_ms() - t0) / 1000), who_restored,
			    *hv ? hv : "(empty)", before);
			return;
		}
		struct timespec ts = {0, 250 * 1000 * 1000};
		uint64_t tw = clock_mono_ms();
		nanosleep(&ts, NULL);
		waited(&r->wait_metadb_ms, tw);
	}
}

/* The undo of a rollback whose restore never began has nothing to restore,
 * but the kept container may only start on the metadb it left: when the
 * metadb's version changed since (another node of the deployment, or
 * another job, restored it), starting it would run that ODC against a
 * metadb of another release (a newer one migrates it forward again). */
static void
untouched_undo(struct run *r, struct step_res *s, const char *of)
{
	char *before = fact(r, of, "metadb_version_before"), hv[65] = "";
	struct metadb *m = NULL;
	int rc;

	if (before == NULL) {
		say(s, "skipped",
		    "rollback %s never changed the metadb (its restore did not begin); nothing to "
		    "restore",
		    of);
		goto out;
	}
	char *peer = fact(r, of, "restored_by");
	if (peer != NULL) {
		await_peer_undo(r, s, of, before, peer);
		free(peer);
		goto out;
	}
	if ((m = need_metadb(r, s)) == NULL)
		goto out;
	rc = metadb_history_version(m, hv, sizeof(hv), r->err, sizeof(r->err));
	if (rc < 0) {
		say(s, "failed", "metadb: %s", r->err);
		goto out;
	}
	if (strcmp(hv, before) != 0) {
		say(s, "failed",
		    "rollback %s never changed the metadb, but it changed since: it was at version "
		    "%s, it is at %s now "
		    "(another node or job restored it); the kept container is not started on it. "
		    "This node belongs "
		    "with the rest of its deployment: start it at the release the metadb is at",
		    of, *before ? before : "(empty)", *hv ? hv : "(empty)");
		goto out;
	}
	say(s, "skipped",
	    "rollback %s never changed the metadb (its restore did not begin; still at version "
	    "%s); "
	    "nothing to restore",
	    of, *hv ? hv : "(empty)");
out:
	metadb_close(m);
	free(before);
}

/* The dry run's difference in a step's RESULT (PROTOCOL.md 5, "dry_run"):
 * data diff_count, unchanged, and the list as JSON text cut into pieces of
 * at most DIFF_PIECE bytes (on UTF-8 boundaries) in diff.1 ... diff.N; items
 * that do not fit in DIFF_PIECES pieces are left out whole (diff_count
 * still counts them). The text for a person is the output tail. */
#define DIFF_PIECE  1000
#define DIFF_PIECES 16

static void
put_diff(struct step_res *s, json_t *diff, const char *same, const char *text)
{
	char *list = NULL, key[16], n[24];
	size_t len, off = 0, piece = 0;

	snprintf(n, sizeof(n), "%zu", json_array_size(diff));
	put(s, "diff_count", n);
	put(s, "unchanged", same);
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
static void
show_diff(struct run *r, struct step_res *s, json_t *cur, json_t *next)
{
	char same[1024];
	json_t *diff = specdiff_compare(cur, next, same, sizeof(same));
	char *text = diff != NULL
	                 ? specdiff_text(r->c->container, cur, next, diff, same, sizeof(s->tail))
	                 : NULL;

	if (text == NULL)
		say(s, "failed", "out of memory comparing the containers");
	else
		put_diff(s, diff, same, text);
	free(text);
	json_decref(diff);
}

/* A dry-run rollback: the container that runs against the one the rollback
 * would create (its spec, as the stop step records it, made from the target
 * image as the engine makes it). */
static void
preview_rollback(struct run *r, struct step_res *s)
{
	struct docker_container ct;
	json_t *cur = NULL, *img = NULL, *target = NULL, *spec = NULL, *next = NULL;
	char image[300];

	if (need_docker(r, s) != 0 || target_image(r, param(r, "to"), image, sizeof(image), s) != 0)
		return;
	if (docker_container_inspect(r->d, r->c->container, &ct, &cur, r->err, sizeof(r->err)) !=
	        0 ||
	    docker_image_inspect(r->d, ct.image_id, &img, r->err, sizeof(r->err)) < 0 ||
	    docker_image_inspect(r->d, image, &target, r->err, sizeof(r->err)) != 0) {
		say(s, "failed", "dry run: cannot read the container %s or its images: %s",
		    r->c->container, r->err);
		goto out;
	}
	if ((spec = spec_from_container(cur, img, image, r->err, sizeof(r->err))) == NULL) {
		say(s, "failed", "dry run: cannot derive the new container's spec: %s", r->err);
		goto out;
	}
	if ((next = specdiff_created(spec, target, r->c->container)) == NULL) {
		say(s, "failed", "out of memory comparing the containers");
		goto out;
	}
	show_diff(r, s, cur, next);
out:
	json_decref(next);
	json_decref(spec);
	json_decref(target);
	json_decref(img);
	json_decref(cur);
}

/* A dry-run undo: the container that runs now (the one the rollback made,
 * if any) against the kept one, which the undo renames back and starts. */
static void
preview_undo(struct run *r, struct step_res *s)
{
	char *renamed = fact(r, param(r, "of"), "renamed");
	struct docker_container ct;
	json_t *cur = NULL, *kept = NULL;
	int rc;

	if (renamed == NULL || need_docker(r, s) != 0)
		goto out;
	rc = docker_container_inspect(r->d, r->c->container, &ct, &cur, r->err, sizeof(r->err));
	if (rc < 0 ||
	    docker_container_inspect(r->d, renamed, &ct, &kept, r->err, sizeof(r->err)) != 0) {
		say(s, "failed", "dry run: cannot read the containers %s and %s: %s",
		    r->c->container, renamed, r->err);
		goto out;
	}
	/* It gets the name back. */
	char name[300];
	snprintf(name, sizeof(name), "/%s", r->c->container);
	json_object_set_new(kept, "Name", json_string(name));
	show_diff(r, s, rc == 0 ? cur : NULL, kept);
out:
	json_decref(kept);
	json_decref(cur);
	free(renamed);
}

static void
run_kind(struct run *r, enum step_kind k, struct step_res *s)
{
	char image[300], tag[130];

	switch (k) {
	case K_PREFLIGHT_ROLLBACK:
		step_preflight_rollback(r, s);
		if (s->status != NULL && strcmp(s->status, "ok") == 0 && !r->done &&
		    param_true(r, "dry_run"))
			preview_rollback(r, s);
		break;
	case K_STOP_ROLLBACK:
		if (target_image(r, param(r, "to"), image, sizeof(image), s) == 0)
			step_stop(r, s, "rolledback", image, false);
		break;
	case K_SNAPSHOT:
	case K_RESTORE_BACKUP:
		char *by = fact(r, NULL, "restored_by");
		if (fact_is(r, NULL, "metadb_at_target", "1") && by != NULL) {
			/* At the target since this job began: a peer restored it. */
			say(s, "skipped",
			    "%s%s of this deployment restored the metadb for this job: not %s",
			    *by ? "host " : "another node", by,
			    k == K_SNAPSHOT ? "restored, so no snapshot" : "restored again");
		} else if (fact_is(r, NULL, "metadb_at_target", "1")) {
			char *hv = fact(r, NULL, "metadb_version_before");
			say(s, "skipped",
			    "the metadb is at version %s, of release %s already (another node of "
			    "this deployment "
			    "restored it, or it was never upgraded): not %s; force=true restores "
			    "it anyway",
			    hv ? hv : "?", param(r, "to"),
			    k == K_SNAPSHOT ? "restored, so no snapshot" : "restored again");
			free(hv);
		} else if (fact_is(r, NULL, "backup_here", "0")) {
			if (k == K_SNAPSHOT)
				await_holder(r, s);
			else /* only after a failed wait, which ends the plan */
				say(s, "failed",
				    "no backup at %s on this host, and no node of its deployment "
				    "restored "
				    "the metadb for this job",
				    param(r, "backup"));
		} else if (k == K_SNAPSHOT) {
			step_snapshot(r, s);
		} else {
			step_restore(r, s, param(r, "backup"));
		}
		free(by);
		break;
	case K_START_NEW:
		if (target_image(r, param(r, "to"), image, sizeof(image), s) == 0)
			step_start_new(r, s, image);
		break;
	case K_HEALTH_TARGET:
		step_health(r, s, param(r, "to"));
		retain_after_rollback(r, s);
		break;
	case K_PREFLIGHT_UNDO:
		step_preflight_undo(r, s);
		if (s->status != NULL && strcmp(s->status, "ok") == 0 && param_true(r, "dry_run"))
			preview_undo(r, s);
		break;
	case K_STOP_UNDO:
		step_stop(r, s, "undone", NULL, true);
		break;
	case K_RESTORE_SNAPSHOT: {
		char *snap = fact(r, param(r, "of"), "snapshot_dir");
		if (rollback_untouched(r, param(r, "of")))
			untouched_undo(r, s, param(r, "of"));
		else if (snap == NULL)
			say(s, "failed", "no snapshot recorded for %s", param(r, "of"));
		else
			step_restore(r, s, snap);
		free(snap);
		break;
	}
	case K_START_OLD:
		step_start_old(r, s);
		break;
	case K_HEALTH_OLD: {
		char *img = fact(r, param(r, "of"), "old_image");
		version_image_tag(img ? img : "", tag, sizeof(tag));
		free(img);
		step_health(r, s, tag);
		break;
	}
	case K_PING:
		act_ping(r, s);
		break;
	case K_STATUS:
		act_status(r, s);
		break;
	case K_STOP:
		act_stop(r, s);
		break;
	case K_START:
		act_start(r, s);
		break;
	case K_LOGS:
		act_logs(r, s);
		break;
	case K_BACKUP_CHECK:
		act_backup(r, s, false);
		break;
	case K_BACKUP:
		act_backup(r, s, true);
		break;
	case K_PRUNE:
		act_prune(r, s);
		break;
	}
	if (s->status == NULL)
		say(s, "failed", "step ended without a verdict"); /* a bug, said plainly */
}

static const struct step_def rollback_steps[] = {
    {"preflight", K_PREFLIGHT_ROLLBACK}, {"stop", K_STOP_ROLLBACK}, {"snapshot", K_SNAPSHOT},
    {"restore", K_RESTORE_BACKUP},       {"start", K_START_NEW},    {"health", K_HEALTH_TARGET},
};
static const struct step_def undo_steps[] = {
    {"preflight", K_PREFLIGHT_UNDO}, {"stop", K_STOP_UNDO},    {"restore", K_RESTORE_SNAPSHOT},
    {"start", K_START_OLD},          {"health", K_HEALTH_OLD},
};

/* The steps of an action in a phase. */
static size_t
steps_of(const char *action, const char *phase, bool dry_run, struct step_def *out)
{
	bool pre = strcmp(phase, "preflight") == 0;
	size_t n = 0;

	if (strcmp(action, "rollback") == 0) {
		for (size_t i = 0; i < (pre || dry_run ? 1 : 6); i++)
			out[n++] = rollback_steps[i];
	} else if (strcmp(action, "undo") == 0) {
		for (size_t i = 0; i < (pre || dry_run ? 1 : 5); i++)
			out[n++] = undo_steps[i];
	} else if (strcmp(action, "preflight") == 0) {
		out[n++] = rollback_steps[0];
	} else if (strcmp(action, "backup") == 0) {
		out[n++] = (struct step_def){pre ? "preflight" : "backup",
		                             pre ? K_BACKUP_CHECK : K_BACKUP};
	} else {
		static const struct {
			const char *a;
			enum step_kind k;
		} single[] = {{"ping", K_PING},   {"status", K_STATUS}, {"stop", K_STOP},
		              {"start", K_START}, {"logs", K_LOGS},     {"prune", K_PRUNE}};
		for (size_t i = 0; i < sizeof(single) / sizeof(single[0]); i++)
			if (strcmp(single[i].a, action) == 0)
				out[n++] = (struct step_def){action, single[i].k};
	}
	return n;
}

/* Results are keyed by (job, host, step): when a job's preflight phase ran
 * first, the run phase's own check is reported as "recheck", not as a second
 * "preflight". */
static void
name_steps(struct journal *j, const char *job, const char *phase, struct step_def *steps, size_t n)
{
	struct journal_plan p = {0};
	char err[128];

	if (n > 0 && strcmp(phase, "run") == 0 && strcmp(steps[0].name, "preflight") == 0 &&
	    journal_plan_get(j, job, "preflight", &p, err, sizeof(err)) == 0)
		steps[0].name = "recheck";
	journal_plan_clear(&p);
}

static void
emit(struct run *r, const char *step, const char *status, int64_t exit_code, uint64_t started_ms,
     uint64_t duration_ms, const char *message, const char *tail, json_t *data, bool final)
{
	struct proto_kv kv[32];
	size_t n = 0;
	const char *k;
	json_t *v;

	if (r->out == NULL || r->out->result == NULL)
		return;
	json_object_foreach(data, k, v)
	{
		if (n < 32 && json_is_string(v))
			kv[n++] = (struct proto_kv){k, json_string_value(v)};
	}
	struct proto_result res = {r->job,     r->c->host_id, step,    status, exit_code,
	                           started_ms, duration_ms,   message, tail,   kv,
	                           n,          final,         {0}};
	r->out->result(r->out->ctx, &res);
}

/* Testing knob: ODC_AGENT_TEST_STEP_DELAY_MS pauses after a step's start is
 * journaled, so tests can kill the agent inside any step deterministically
 * (README, "Testing"); ODC_AGENT_TEST_STEP_DELAY_STEPS, a comma-separated
 * list of step names, limits the pause to those steps. Unset in
 * production; it changes nothing else. */
static void
test_pause(const char *step)
{
	const char *v = getenv("ODC_AGENT_TEST_STEP_DELAY_MS"),
	           *only = getenv("ODC_AGENT_TEST_STEP_DELAY_STEPS");
	char *end;
	unsigned long ms;

	if (v == NULL || *v == '\0')
		return;
	if (only != NULL && *only != '\0') {
		size_t n = strlen(step);
		const char *p = only;
		bool listed = false;
		while (!listed && p != NULL) {
			listed = strncmp(p, step, n) == 0 && (p[n] == ',' || p[n] == '\0');
			p = strchr(p, ',');
			p = p != NULL ? p + 1 : NULL;
		}
		if (!listed)
			return;
	}
	ms = strtoul(v, &end, 10);
	if (*end != '\0' || ms == 0 || ms > 600000)
		return;
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* After the metadb was touched, a failed rollback step says which state the
 * host is in and the command that gets back: the undo, which restores the
 * verified snapshot and starts the kept container. */
static void
way_back(struct run *r, struct step_res *s, enum step_kind k)
{
	char *renamed, *snap, *untouched = NULL;
	const char *state;

	if (strcmp(s->status, "failed") != 0)
		return;
	if (k == K_RESTORE_BACKUP) {
		untouched = fact(r, NULL, "metadb_untouched");
		bool kept = untouched != NULL && strcmp(untouched, "1") == 0;
		free(untouched);
		if (kept && fact_is(r, NULL, "put_back", "1"))
			return; /* put_back said where the host is */
		if (kept) {
			renamed = fact(r, NULL, "renamed");
			say_more(s,
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
	} else if (k == K_START_NEW)
		state = "the host is DOWN: the metadb holds the backup, no ODC container runs";
	else if (k == K_HEALTH_TARGET)
		state = "ODC runs at the target but is not healthy";
	else
		return;
	renamed = fact(r, NULL, "renamed");
	snap = fact(r, NULL, "snapshot_dir");
	char *by = fact(r, NULL, "restored_by");
	if (snap == NULL && by != NULL && k != K_RESTORE_BACKUP) {
		/* A node of an HA deployment whose peer restored the metadb:
		 * the deployment's other nodes run on it; this one goes on once
		 * the cause is mended, or the whole deployment goes back. */
		say_more(s,
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
	say_more(s,
	         "; %s; to get back to where this job began: odc-agent run undo --of %s (fleet: "
	         "odcctl undo --of %s "
	         "--host %s), which restores the snapshot %s and starts the kept container %s",
	         state, r->job, r->job, r->c->host_id, snap != NULL ? snap : "(none recorded)",
	         renamed != NULL ? renamed : "(none recorded)");
	free(renamed);
	free(snap);
}

/* Run or skip one step; returns 0 when the plan may go on. */
static int
do_step(struct run *r, const struct step_def *sd, bool last, char *err, size_t errlen)
{
	struct journal_step prev = {0};
	struct step_res s = {.data = json_object()};
	uint64_t started = proto_now_ms(), t0 = clock_mono_ms();
	int ret = -1;

	if (journal_step_get(r->j, r->job, r->phase, sd->name, &prev, err, errlen) == 0 &&
	    (strcmp(prev.status, "ok") == 0 || strcmp(prev.status, "skipped") == 0)) {
		note(r, sd->name, "done before (%s): %s", prev.status, prev.message);
		ret = 0;
		goto out;
	}
	if (proto_now_ms() > r->deadline_ms) {
		say(&s, "failed", "the job's deadline passed before this step");
	} else {
		if (journal_step_begin(r->j, r->job, r->phase, sd->name, started, err, errlen) != 0)
			goto out;
		if (r->out && r->out->started)
			r->out->started(r->out->ctx, r->job, sd->name);
		test_pause(sd->name);
		run_kind(r, sd->kind, &s);
		way_back(r, &s, sd->kind);
	}
	uint64_t dur = clock_mono_ms() - t0;
	char *data = json_dumps(s.data, JSON_COMPACT | JSON_SORT_KEYS);
	if (journal_step_end(r->j, r->job, r->phase, sd->name, s.status, s.exit_code, dur,
	                     s.message, s.tail, data, err, errlen) != 0) {
		free(data);
		goto out;
	}
	free(data);
	bool ok = strcmp(s.status, "failed") != 0;
	emit(r, sd->name, s.status, s.exit_code, started, dur, s.message, s.tail, s.data,
	     last || !ok || r->done);
	ret = ok ? 0 : 1;
out:
	journal_step_clear(&prev);
	json_decref(s.data);
	return ret;
}

/* The agent runs one plan at a time: an exclusive lock on state_dir/agent.lock. */
static int
lock_state(const struct agent_conf *c, char *err, size_t errlen)
{
	char path[4200];
	int fd;

	snprintf(path, sizeof(path), "%s/agent.lock", c->state_dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		snprintf(err, errlen, "another odc-agent plan holds %s", path);
		close(fd);
		return -2;
	}
	return fd;
}

int
plan_busy(const struct agent_conf *c, char *why, size_t whylen)
{
	char err[512];
	int fd = lock_state(c, err, sizeof(err));

	if (fd >= 0) {
		close(fd);
		return 0;
	}
	if (fd == -2)
		snprintf(why, whylen, "%s", err);
	return fd == -2;
}

/* Refused before its first step: whoever asked still gets a final result
 * that says why (a coordinator would otherwise wait for one until its step
 * deadline). */
void
plan_busy_describe(struct journal *j, const char *why, char *out, size_t outlen)
{
	struct journal_plan up = {0};
	char jerr[128];

	if (journal_plan_unfinished(j, &up, jerr, sizeof(jerr)) == 0)
		snprintf(out, outlen, "busy: job %s (%s, phase %s) runs on this host; %s",
		         up.job_id, up.action, up.phase, why);
	else
		snprintf(out, outlen, "busy: %s", why);
	journal_plan_clear(&up);
}

static void
refuse_plan(struct run *r, const struct step_def *first, const char *why)
{
	json_t *data = json_object();

	emit(r, first->name, "failed", 0, proto_now_ms(), 0, why, "", data, true);
	json_decref(data);
}

static char *
params_json(const struct proto_kv *p, size_t n)
{
	json_t *o = json_object();
	char *s;

	for (size_t i = 0; i < n; i++)
		json_object_set_new(o, p[i].key, json_string(p[i].value));
	s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	return s;
}

int
plan_execute(const struct agent_conf *c, struct journal *j, const struct plan_request *rq,
             const struct plan_out *out, char *err, size_t errlen)
{
	struct step_def steps[8];
	struct journal_plan p = {0};
	struct proto_error perr;
	const char *dry = proto_param(rq->params, rq->n_params, "dry_run");
	bool dry_run = dry != NULL && strcmp(dry, "true") == 0;
	char *pj = NULL;
	size_t n;
	int lockfd = -1, ret = -1, rc;
	struct run r = {.c = c,
	                .j = j,
	                .out = out,
	                .job = rq->job_id,
	                .phase = rq->phase,
	                .action = rq->action,
	                .params = rq->params,
	                .n_params = rq->n_params};

	if (proto_action_check(rq->action, rq->phase, rq->params, rq->n_params, &perr) !=
	    PROTO_OK) {
		snprintf(err, errlen, "%s", perr.msg);
		return 1;
	}
	uint64_t t_start = clock_mono_ms();
	n = steps_of(rq->action, rq->phase, dry_run, steps);
	name_steps(j, rq->job_id, rq->phase, steps, n);
	lockfd = lock_state(c, err, errlen);
	if (lockfd == -2) {
		char why[512];
		snprintf(why, sizeof(why), "%s", err);
		plan_busy_describe(j, why, err, errlen);
		if (n > 0)
			refuse_plan(&r, &steps[0], err);
	}
	if (lockfd < 0)
		return lockfd == -2 ? 1 : -1;
	r.deadline_ms = rq->deadline_ms ? rq->deadline_ms : proto_now_ms() + c->job_deadline_ms;
	pj = params_json(rq->params, rq->n_params);
	rc = journal_plan_begin(j, rq->job_id, rq->action, rq->phase, pj ? pj : "{}",
	                        proto_now_ms(), r.deadline_ms, err, errlen);
	if (rc < 0)
		goto out;
	if (rc == 1) {
		/* Known job and phase: finished ones are reported, not rerun. */
		if (journal_plan_get(j, rq->job_id, rq->phase, &p, err, errlen) != 0)
			goto out;
		if (strcmp(p.action, rq->action) != 0 || strcmp(p.params, pj ? pj : "{}") != 0) {
			snprintf(err, errlen, "job %s was recorded with other parameters; refusing",
			         rq->job_id);
			if (n > 0)
				refuse_plan(&r, &steps[0], err);
			ret = 1;
			goto out;
		}
		r.deadline_ms = p.deadline_ms;
		if (strcmp(p.state, "running") != 0) {
			snprintf(err, errlen, "job %s (%s) already ended: %s", rq->job_id,
			         rq->phase, p.state);
			ret = strcmp(p.state, "succeeded") == 0 ? 0 : 1;
			goto out;
		}
	}
	ret = 0;
	for (size_t i = 0; i < n && ret == 0 && !r.done; i++) {
		ret = do_step(&r, &steps[i], i + 1 == n, err, errlen);
		if (ret < 0)
			goto out;
	}
	/* A plan that ends (or breaks off) between its snapshot and the end of
	 * its restore holds the guard still. */
	release_guard(&r, NULL, NULL);
	if (journal_plan_finish(j, rq->job_id, rq->phase, ret == 0 ? "succeeded" : "failed",
	                        proto_now_ms(), err, errlen) != 0)
		ret = -1;
	{
		/* Where the time went: the agent's own work is what is left once
		 * Docker, the loaders, the metadb and the health gate are taken out. */
		uint64_t total = clock_mono_ms() - t_start, dk = docker_waited_ms(r.d);
		uint64_t ext = dk + r.wait_loader_ms + r.wait_metadb_ms + r.wait_health_ms;
		note(&r, "timing",
		     "total %llu ms: Docker %llu, loaders %llu, metadb %llu, health gate %llu; the "
		     "agent's own work %llu ms",
		     (unsigned long long)total, (unsigned long long)dk,
		     (unsigned long long)r.wait_loader_ms, (unsigned long long)r.wait_metadb_ms,
		     (unsigned long long)r.wait_health_ms,
		     (unsigned long long)(total > ext ? total - ext : 0));
	}
out:
	release_guard(&r, NULL, NULL);
	journal_plan_clear(&p);
	free(pj);
	docker_free(r.d);
	agent_secret_free(r.password);
	if (lockfd >= 0)
		close(lockfd);
	return ret;
}

int
plan_resume(const struct agent_conf *c, struct journal *j, const struct plan_out *out, char job[65],
            char *err, size_t errlen)
{
	struct journal_plan p = {0};
	struct proto_kv kv[32];
	size_t n = 0;
	json_t *params = NULL;
	json_error_t je;
	const char *k;
	json_t *v;
	int rc, ret;

	job[0] = '\0';
	rc = journal_plan_unfinished(j, &p, err, errlen);
	if (rc != 0)
		return rc == 1 ? 2 : -1;
	snprintf(job, 65, "%s", p.job_id);
	params = json_loads(p.params, 0, &je);
	json_object_foreach(params, k, v)
	{
		if (n < 32 && json_is_string(v))
			kv[n++] = (struct proto_kv){k, json_string_value(v)};
	}
	if (proto_now_ms() > p.deadline_ms) {
		/* Too late to go on: say exactly where it stopped. */
		struct step_def steps[8];
		size_t ns = steps_of(p.action, p.phase, false, steps);
		name_steps(j, p.job_id, p.phase, steps, ns);
		const char *where = "before its first step";
		struct run r = {.c = c, .j = j, .out = out, .job = p.job_id, .phase = p.phase};
		for (size_t i = 0; i < ns; i++) {
			struct journal_step s = {0};
			if (journal_step_get(j, p.job_id, p.phase, steps[i].name, &s, err,
			                     errlen) == 0 &&
			    strcmp(s.status, "running") == 0) {
				where = steps[i].name;
				journal_step_end(j, p.job_id, p.phase, where, "interrupted", 0, 0,
				                 "interrupted: the agent stopped during this step",
				                 "", "{}", err, errlen);
				journal_step_clear(&s);
				break;
			}
			journal_step_clear(&s);
		}
		char msg[256];
		snprintf(msg, sizeof(msg),
		         "job %s was interrupted %s%s and its deadline has passed; not resumed",
		         p.job_id, strcmp(where, "before its first step") == 0 ? "" : "during ",
		         where);
		/* A plan cut off for good between its snapshot and the end of its
		 * restore: its guard goes (the metadb is what it left; the way
		 * back, an undo, takes the guard itself). */
		if (strcmp(p.action, "rollback") == 0 || strcmp(p.action, "undo") == 0) {
			r.guarded = true; /* released only if this host holds it for this job */
			release_guard(&r, NULL, NULL);
			agent_secret_free(r.password);
		}
		json_t *data = json_pack("{s:s}", "interrupted_step", where);
		emit(&r, strcmp(where, "before its first step") == 0 ? steps[0].name : where,
		     "interrupted", 0, proto_now_ms(), 0, msg, "", data, true);
		json_decref(data);
		journal_plan_finish(j, p.job_id, p.phase, "interrupted", proto_now_ms(), err,
		                    errlen);
		snprintf(err, errlen, "%s", msg);
		ret = 1;
	} else {
		struct plan_request rq = {p.job_id, p.action, kv, n, p.phase, p.deadline_ms};
		log_info("resuming job %s (%s, phase %s)", p.job_id, p.action, p.phase);
		ret = plan_execute(c, j, &rq, out, err, errlen);
	}
	json_decref(params);
	journal_plan_clear(&p);
	return ret;
}
