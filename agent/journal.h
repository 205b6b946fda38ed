/* The agent's journal (SQLite, WAL, synchronous=FULL): each plan, each
 * step recorded before and after it runs, and the facts a step learns that
 * a later or resumed step needs. A restarted agent reads it to resume or
 * to report exactly where it stopped. */
#ifndef ODC_AGENT_JOURNAL_H
#define ODC_AGENT_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

struct journal;

/* Open or create path (mode 0600). NULL with a message in err. */
struct journal *journal_open(const char *path, char *err, size_t errlen);
void journal_close(struct journal *j);

struct journal_plan {
	char job_id[65];
	char action[33];
	char phase[33];
	char state[16]; /* running, succeeded, failed, interrupted */
	char *params;   /* JSON object text, malloc'd */
	uint64_t created_ms;
	uint64_t deadline_ms; /* epoch ms */
	uint64_t updated_ms;  /* epoch ms: its start, then when it ended (state not running) */
};

void journal_plan_clear(struct journal_plan *p);

/* Record a new plan (state running). A plan with that job id and phase
 * already recorded is left as it is and 1 is returned. 0, 1 or -1. */
int journal_plan_begin(struct journal *j, const char *job, const char *action, const char *phase,
                       const char *params_json, uint64_t now_ms, uint64_t deadline_ms, char *err,
                       size_t errlen);
/* The plan of job (the latest phase when phase is NULL): 0, 1 absent, -1. */
int journal_plan_get(struct journal *j, const char *job, const char *phase, struct journal_plan *p,
                     char *err, size_t errlen);
/* The plan ends in state at now_ms (epoch ms). */
int journal_plan_finish(struct journal *j, const char *job, const char *phase, const char *state,
                        uint64_t now_ms, char *err, size_t errlen);
/* Every plan of action in phase, newest first (created_ms, then the order
 * recorded): *out is malloc'd (NULL when there is none), freed with
 * journal_plans_free(). 0 or -1. */
int journal_plan_list(struct journal *j, const char *action, const char *phase,
                      struct journal_plan **out, size_t *n, char *err, size_t errlen);
void journal_plans_free(struct journal_plan *p, size_t n);
/* The oldest plan still in state running: 0 (filled), 1 none, -1. */
int journal_plan_unfinished(struct journal *j, struct journal_plan *p, char *err, size_t errlen);

struct journal_step {
	char step[33];
	char status[16]; /* running, ok, failed, skipped, interrupted */
	int64_t exit_code;
	uint64_t started_ms;
	uint64_t duration_ms;
	char *message;     /* malloc'd */
	char *output_tail; /* malloc'd */
	char *data;        /* JSON object text, malloc'd */
};

void journal_step_clear(struct journal_step *s);

int journal_step_begin(struct journal *j, const char *job, const char *phase, const char *step,
                       uint64_t now_ms, char *err, size_t errlen);
int journal_step_end(struct journal *j, const char *job, const char *phase, const char *step,
                     const char *status, int64_t exit_code, uint64_t duration_ms,
                     const char *message, const char *output_tail, const char *data_json, char *err,
                     size_t errlen);
/* 0 (filled), 1 no such step, -1. */
int journal_step_get(struct journal *j, const char *job, const char *phase, const char *step,
                     struct journal_step *s, char *err, size_t errlen);
/* Every step of job in phase, in the order they first started: *out is
 * malloc'd (NULL when there is none), freed with journal_steps_free(). 0 or -1. */
int journal_step_list(struct journal *j, const char *job, const char *phase,
                      struct journal_step **out, size_t *n, char *err, size_t errlen);
void journal_steps_free(struct journal_step *s, size_t n);

/* Facts: a key-value memory per job. fact_get returns a malloc'd copy or
 * NULL when absent (or on error, with err set). */
int journal_fact_set(struct journal *j, const char *job, const char *key, const char *value,
                     char *err, size_t errlen);
char *journal_fact_get(struct journal *j, const char *job, const char *key, char *err,
                       size_t errlen);
/* Calls fn for each fact of job, by key (fn returns non-zero to stop). 0 or -1. */
int journal_fact_each(struct journal *j, const char *job,
                      int (*fn)(void *ctx, const char *key, const char *value), void *ctx,
                      char *err, size_t errlen);

/* Outbox: signed RESULTs kept until the coordinator acknowledges them.
 * put records one (replacing an earlier one of the same job and step),
 * ack marks it delivered, pending calls fn for each one not acknowledged,
 * oldest first (fn returns non-zero to stop) and returns how many. */
int journal_outbox_put(struct journal *j, const char *job, const char *step, const uint8_t *body,
                       size_t blen, const uint8_t *sig, size_t slen, uint64_t now_ms, char *err,
                       size_t errlen);
int journal_outbox_ack(struct journal *j, const char *job, const char *step, char *err,
                       size_t errlen);
int journal_outbox_pending(struct journal *j,
                           int (*fn)(void *ctx, const uint8_t *body, size_t blen,
                                     const uint8_t *sig, size_t slen),
                           void *ctx, char *err, size_t errlen);

/* Mark every result of job as due again (a coordinator asks for a job that
 * already ended); returns how many, or -1. */
int journal_outbox_unack_job(struct journal *j, const char *job, char *err, size_t errlen);

#endif
