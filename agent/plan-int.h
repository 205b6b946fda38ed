/* What the plan engine (plan.c) shares with the plans (plan-rollback.c,
 * plan-snapshot.c, plan-upgrade.c, plan-undo.c, plan-actions.c) and the steps and checks
 * they have in common (plan-steps.c, plan-check.c). Private to agent/plan*.c:
 * the rest of the agent sees plan.h only. */
#ifndef ODC_AGENT_PLAN_INT_H
#define ODC_AGENT_PLAN_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "agent/agent.h"
#include "agent/backup.h"
#include "agent/docker.h"
#include "agent/guard.h"
#include "agent/journal.h"
#include "agent/metadb.h"
#include "agent/plan.h"
#include "agent/restore.h"
#include "agent/spec.h"
#include "agent/specdiff.h"
#include "proto/proto.h"

#define TAIL_MAX 16384
#define MSG_MAX  1024
/* How long a restore waits for every other session of ODC's user to leave
 * the metadb (plan_check_sessions), and so how long a node without a backup
 * allows the restoring node for it. */
#define SESSIONS_WAIT_MS 15000

/* One execution of one plan. The engine fills it from the request and owns
 * what it holds (the Docker client, the password); steps use it through the
 * helpers below. */
struct plan_run {
	const struct agent_conf *c;
	struct journal *j;
	const struct plan_out *out;
	const char *job;
	/* The id this run's own facts are recorded under (plan_fact with job
	 * NULL, plan_fact_set): the job's, except in a revert phase, whose
	 * undo steps record theirs apart ("<job>.revert") and read the run
	 * phase's under the job's id. */
	const char *facts;
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

/* What a step reports: the engine journals it and sends it as a RESULT. */
struct plan_res {
	const char *status; /* ok, failed, skipped */
	int64_t exit_code;
	char message[MSG_MAX];
	char tail[TAIL_MAX];
	json_t *data; /* object of strings */
};

/* One step of a plan, as the plan's table lists it. run must set a status
 * (the engine fails a step that ends without one); failed, when set, is
 * called after a step failed, to say in which state the host is left and the
 * way back. */
struct plan_step {
	const char *name; /* in the journal and in results */
	void (*run)(struct plan_run *r, struct plan_res *s);
	void (*failed)(struct plan_run *r, struct plan_res *s);
};

/* An action's steps: those of its run phase, those of its preflight
 * phase, and those of its revert phase (none: n_revert 0). dry_first: with
 * dry_run=true the run phase is its first step alone. The plan files
 * export tables of these, ended by action NULL. */
struct plan_def {
	const char *action;
	const struct plan_step *steps;
	size_t n_steps;
	const struct plan_step *check;
	size_t n_check;
	bool dry_first;
	const struct plan_step *revert;
	size_t n_revert;
};

extern const struct plan_def plan_rollback_plans[]; /* plan-rollback.c */
extern const struct plan_def plan_upgrade_plans[];  /* plan-upgrade.c */
extern const struct plan_def plan_undo_plans[];     /* plan-undo.c */
extern const struct plan_def plan_action_plans[];   /* plan-actions.c */

/* The undo's steps (plan-undo.c): the undo action's run phase, and the
 * revert phase of an upgrade (the undo of the job itself). */
#define PLAN_UNDO_STEPS 5
extern const struct plan_step plan_undo_steps[PLAN_UNDO_STEPS];

/* ---- plan-run.c: reporting, parameters, facts, Docker and the metadb ---- */

/* Sets the step's status and message. */
void plan_say(struct plan_res *s, const char *status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Appends text to the step's message, as room allows. */
void plan_say_more(struct plan_res *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Adds key=value (cut to 1023 bytes; NULL: "") to the step's data. */
void plan_put(struct plan_res *s, const char *key, const char *value);
/* The step's output tail: the newest bytes of text, on a UTF-8 boundary. */
void plan_tail(struct plan_res *s, const char *text);
/* A progress note of the step, to plan_out's note. */
/* A step's name as reported in phase r->phase: the revert phase's undo
 * steps are "revert_<step>" (plan.c). */
const char *plan_step_name(const struct plan_run *r, const char *step);
void plan_note(struct plan_run *r, const char *step, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The request's parameter key, or NULL; whether it is "true". */
const char *plan_param(const struct plan_run *r, const char *key);
bool plan_param_true(const struct plan_run *r, const char *key);
/* Milliseconds step s may take: its own deadline, cut by the job's. */
uint64_t plan_budget(const struct plan_run *r, enum agent_step s);
/* Adds the monotonic time since t0 to *acc. */
void plan_waited(uint64_t *acc, uint64_t t0);
/* Sleeps 250 ms, counted as waiting on the metadb: one turn of a loop that
 * waits for a peer's restore. */
void plan_nap(struct plan_run *r);
/* The time now as 20260101T000000Z. */
void plan_utc_stamp(char *out, size_t outlen);
/* A fact of this run (job NULL: r->facts) or of a job (an undo's
 * rollback or upgrade): the caller frees it; NULL when not recorded (or on
 * error, in r->err). */
char *plan_fact(struct plan_run *r, const char *job, const char *key);
/* Records a fact of this run (under r->facts): 0, or -1 with r->err. */
int plan_fact_set(struct plan_run *r, const char *key, const char *value);
bool plan_fact_is_set(struct plan_run *r, const char *job, const char *key);
bool plan_fact_is(struct plan_run *r, const char *job, const char *key, const char *value);
/* r->d connected (once per run): 0, or -1 with the step failed. */
int plan_docker(struct plan_run *r, struct plan_res *s);
/* The container id stopped, within [agent] stop_timeout: docker's 0 or -1
 * with r->err. */
int plan_container_stop(struct plan_run *r, const char *id);
/* The container id started and seen running within 10 s: 0, or -1 with
 * r->err. */
int plan_container_start(struct plan_run *r, const char *id);
/* The metadb password read into r->password (once per run): 0, or -1
 * with the step failed. */
int plan_password(struct plan_run *r, struct plan_res *s);
/* A new metadb connection the caller closes, or NULL with the step failed. */
struct metadb *plan_metadb(struct plan_run *r, struct plan_res *s);
/* "repository:tag" of the target tag: 0, or -1 with the step failed. */
int plan_target_image(struct plan_run *r, const char *tag, char *out, size_t outlen,
                      struct plan_res *s);
/* The rows of all of b's tables. */
uint64_t plan_tables_rows(const struct backup_info *b);

/* ---- plan-check.c ---- */

/* The metadb holds exactly the tables of b with b's row counts, the views
 * and foreign keys of defs (and, when check_history, b's migration
 * version): 0; else nonzero with every difference in why. */
int plan_metadb_matches(struct plan_run *r, struct metadb *m, const struct backup_info *b,
                        const struct restore_defs *defs, bool check_history, char *why,
                        size_t whylen);
/* obloader and obdumper present: 0, or -1 with the step failed. */
int plan_check_loader(struct plan_run *r, struct plan_res *s);
/* The backup in dir is what odc-fleet took (or accepted as not): 0 with
 * how it was verified in how, or -1 with the step failed. */
int plan_check_backup(struct plan_run *r, struct plan_res *s, const char *dir,
                      const struct backup_info *b, char *how, size_t howlen);
/* No other restore holds the metadb: 0, or -1 with the step failed. */
int plan_check_guard(struct plan_run *r, struct plan_res *s, struct metadb *m);
/* No other session of ODC's user on the metadb (waits SESSIONS_WAIT_MS): 0,
 * or -1 with the step failed. */
int plan_check_sessions(struct plan_run *r, struct plan_res *s, struct metadb *m);
/* Takes the restore guard for this job: 0; 1 held by a peer for this same
 * job (*peer, when peer is set); -1 with the step failed. */
int plan_guard_take(struct plan_run *r, struct plan_res *s, struct metadb *m,
                    struct guard_holder *peer);
/* Releases the guard this run holds, on m (NULL: a new connection); a
 * failure is said in s's message (logged when s is NULL). */
void plan_guard_release(struct plan_run *r, struct plan_res *s, struct metadb *m);
/* The container job kept (NULL: this job) is of a release no newer than
 * the metadb's (or it cannot be told): true; else false with why. */
bool plan_release_fits(struct plan_run *r, struct metadb *m, const char *job, char *why,
                       size_t whylen);
/* What an obloader or obdumper run (lr) said, as the step's exit code and
 * output tail; its time counted as waiting on the loaders. */
void plan_loader_said(struct plan_run *r, struct plan_res *s, const struct loader_run *lr);
/* Dumps the live metadb into dir and verifies it (then signs its manifest):
 * 0 with b filled (the caller frees it), or -1 with the step failed. */
int plan_dump(struct plan_run *r, struct plan_res *s, struct metadb *m, const char *what,
              const char *dir, uint64_t budget, struct backup_info *b);

/* The snapshot root holds need bytes free (made when absent): 0, or -1
 * with the step failed. */
int plan_check_disk(struct plan_run *r, struct plan_res *s, uint64_t need);
/* The container (its inspect) uses the metadb this agent is configured
 * for: 0, or -1 with the step failed naming both. */
int plan_check_metadb_identity(struct plan_run *r, struct plan_res *s, json_t *inspect,
                               const char *container);
/* The host is at `to` already: ct runs the image target_id, ODC healthy at
 * `to`, the metadb's history at `to`: 1 with what was seen in why; else 0
 * (anything not established is 0). */
int plan_already_at(struct plan_run *r, const struct docker_container *ct, const char *target_id,
                    const char *image, const char *to, char *why, size_t whylen);

/* A verified dump's verdict: the step ok, its directory under the key what
 * and its version under what_version ("metadb DONE to DIR and verified:
 * ..."). */
void plan_dump_said(struct plan_res *s, const char *what, const char *done, const char *dir,
                    const struct backup_info *b);

/* ---- plan-steps.c ---- */

/* Stops the container and renames it <name>-<suffix>-<time>, recording its
 * spec (for new_image, when set) first; absent_ok: no container is a skip. */
void plan_step_stop(struct plan_run *r, struct plan_res *s, const char *suffix,
                    const char *new_image, bool absent_ok);
/* Clean restore of the metadb from the backup in src, verified. When it
 * cannot begin (the guard or the metadb's sessions), nothing was touched:
 * untouched, when set, is called then (m: the connection), to put the host
 * back. */
void plan_step_restore(struct plan_run *r, struct plan_res *s, const char *src,
                       void (*untouched)(struct plan_run *r, struct plan_res *s, struct metadb *m));
/* Waits for ODC healthy at want (NULL or "": any version), within the
 * health step's budget; _within: within budget_ms, then, when more is not
 * NULL and says so (its milliseconds, 0 for none), that much longer. */
void plan_step_health(struct plan_run *r, struct plan_res *s, const char *want);
void plan_step_health_within(struct plan_run *r, struct plan_res *s, const char *want,
                             uint64_t budget, uint64_t (*more)(struct plan_run *r));
/* Creates the container from the spec the stop step recorded (secrets from
 * the kept container), with image <repository>:<to>, and starts it; a
 * second run starts the one this job created. */
void plan_step_start_new(struct plan_run *r, struct plan_res *s);
/* The stop step of a plan that starts <repository>:<to> next: the
 * container stopped and kept as <name>-<suffix>-<time>, its spec for that
 * image recorded. */
void plan_step_stop_keep(struct plan_run *r, struct plan_res *s, const char *suffix);
/* A plan's first step: check, then (ok, something to do, dry_run=true)
 * the dry run's difference of the container plan_step_start_new would
 * create. */
void plan_check_or_preview(struct plan_run *r, struct plan_res *s,
                           void (*check)(struct plan_run *r, struct plan_res *s));
/* After a rollback or an upgrade whose health step ended ok, the retention
 * rule as prune applies it, said in s's message; the plan is done either
 * way, so a failure here is only said. */
void plan_retain(struct plan_run *r, struct plan_res *s);
/* The dry run's difference of the running container against the one
 * plan_step_start_new would create with image <repository>:<to>. */
void plan_preview_new(struct plan_run *r, struct plan_res *s);
/* The dry run's difference of the container inspects cur -> next (cur
 * NULL: none runs) into the step's RESULT. */
void plan_show_diff(struct plan_run *r, struct plan_res *s, json_t *cur, json_t *next);

/* ---- plan-snapshot.c ---- */

/* The rollback's snapshot and restore steps. */
void plan_rollback_snapshot(struct plan_run *r, struct plan_res *s);
void plan_rollback_restore(struct plan_run *r, struct plan_res *s);

#endif
