/* odcctl's internal header: the command table entry, the context every command
 * shares (configuration, output mode, connection) and the helpers they use.
 *
 * The files call one another in layers, each only the ones below it (the
 * lowest first):
 *   ctx.c       messages, global options, getopt, operands, numbers
 *   conf.c      the configuration and the operator key        (ctx)
 *   output.c    tables, times, JSON                            (none)
 *   client.c    the control socket: requests, a JOB's submission (conf, ctx)
 *   select.c    host selectors                                 (ctx)
 *   job.c       a job's results and ID operand; pause/resume/abort (client, output, ctx)
 *   follow.c    following a job to its end                     (job, client, output, ctx)
 *   submit.c    building, signing, submitting and following a job
 *   cmd-*.c     one subcommand each: its entry and exec; none calls another
 *   odcctl.c    main: the options before the command, the command table */
#ifndef ODC_CTL_H
#define ODC_CTL_H

#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "common/config.h"
#include "common/keys.h"
#include "proto/proto.h"

#define CTL_VERSION "0.1.0"

#define CTL_DEFAULT_ENDPOINT "ipc:///run/odc-coordinator/control.sock"
#define CTL_SYSTEM_CONF      "/etc/odc-fleet/odcctl.conf"
#define CTL_USER_CONF        ".config/odc-fleet/odcctl.conf" /* under $HOME */
#define CTL_ENDPOINT_MAX     1024

/* Exit statuses (coordinator/README.md). */
enum {
	CTL_EXIT_OK = 0,
	CTL_EXIT_FAILED = 1,      /* a job ended with a failed target; the coordinator failed */
	CTL_EXIT_USAGE = 2,       /* usage, configuration or argument error */
	CTL_EXIT_UNREACHABLE = 3, /* the coordinator did not answer (or refused this key) */
	CTL_EXIT_HALTED = 4,      /* a job halted or was aborted */
	CTL_EXIT_INTERRUPTED = 130,
};

enum ctl_output { CTL_OUT_TABLE, CTL_OUT_JSON };

struct ctl_client;

/* The state of one odcctl run (main's, on its stack). Strings point into argv
 * or into cfg. What conf.c loads it frees (ctl_conf_free); the connection is
 * client.c's to open and close (ctl_disconnect). */
struct ctl {
	/* Global options. */
	const char *conf_arg;     /* -c FILE, or NULL */
	const char *endpoint_arg; /* --endpoint EP, or NULL */
	enum ctl_output output;
	const char *cmd; /* the subcommand's name, for messages */

	/* The configuration, loaded by ctl_setup(), freed by ctl_conf_free(). */
	bool loaded;
	struct config *cfg;    /* NULL when no file was found; owns the strings below */
	const char *conf_path; /* the file used, or NULL */
	const char *endpoint;
	const char *operator_name; /* NULL when unset */
	const char *key_path;      /* NULL when unset */
	bool has_coordinator_key;
	uint8_t coordinator_key[KEYS_PUBLIC_LEN];
	uint64_t timeout_ms;
	char user_conf[4096]; /* $HOME/CTL_USER_CONF */

	struct keys_pair *key;     /* the operator key, loaded by ctl_operator_key() */
	struct ctl_client *client; /* opened by the first request, closed by ctl_disconnect() */
};

/* One subcommand: tmux's cmd_entry. exec gets the subcommand's own argv
 * (argv[0] is its name) and returns the exit status. */
struct ctl_cmd {
	const char *name;
	const char *usage;   /* what follows "odcctl NAME" */
	const char *summary; /* one line for odcctl --help */
	const char *help;    /* the rest of "odcctl NAME --help" */
	int (*exec)(struct ctl *c, int argc, char **argv);
};

/* ---- ctx.c: messages, options, numbers ---- */

/* Set by the SIGINT/SIGTERM handler while a job is followed. */
extern volatile sig_atomic_t ctl_interrupted;

/* Option values of getopt_long; below 0x100 are short options. */
enum ctl_opt {
	CTL_OPT_END = -1,
	CTL_OPT_HELP = 0x1000,  /* help printed: exit 0 */
	CTL_OPT_ERROR = 0x1001, /* usage error printed: exit 2 */
	CTL_OPT_ENDPOINT = 0x100,
	CTL_OPT_VERSION,
	CTL_OPT_HOST,
	CTL_OPT_HOSTS,
	CTL_OPT_LABEL,
	CTL_OPT_ALL,
	CTL_OPT_CANARY,
	CTL_OPT_BATCH,
	CTL_OPT_BUDGET,
	CTL_OPT_QUORUM,
	CTL_OPT_STEP_DEADLINE,
	CTL_OPT_JOB_DEADLINE,
	CTL_OPT_REASON,
	CTL_OPT_DETACH,
	CTL_OPT_TO,
	CTL_OPT_BACKUP,
	CTL_OPT_LINES,
	CTL_OPT_NAME,
	CTL_OPT_DRY_RUN,
	CTL_OPT_OF,
	CTL_OPT_STATE,
	CTL_OPT_LIMIT,
	CTL_OPT_JOB,
	CTL_OPT_RESULTS,
	CTL_OPT_KIND,
	CTL_OPT_STEP,
	CTL_OPT_FORCE,
	CTL_OPT_ACCEPT_UNVERIFIED,
	CTL_OPT_WHOLE_DEPLOYMENTS,
	CTL_OPT_YES,
	CTL_OPT_STATUS,
	CTL_OPT_SORT,
};

/* Every subcommand's option table starts with these: --help and the global
 * options, which may also follow the command. */
#define CTL_COMMON_OPTIONS                                                                         \
	{"help", no_argument, NULL, 'h'}, {"config", required_argument, NULL, 'c'},                \
	    {"output", required_argument, NULL, 'o'},                                              \
	{                                                                                          \
		"endpoint", required_argument, NULL, CTL_OPT_ENDPOINT                              \
	}

#define CTL_SELECTOR_OPTIONS                                                                       \
	{"host", required_argument, NULL, CTL_OPT_HOST},                                           \
	    {"hosts", required_argument, NULL, CTL_OPT_HOSTS},                                     \
	    {"label", required_argument, NULL, CTL_OPT_LABEL},                                     \
	{                                                                                          \
		"all", no_argument, NULL, CTL_OPT_ALL                                              \
	}

#define CTL_POLICY_OPTIONS                                                                         \
	{"canary", required_argument, NULL, CTL_OPT_CANARY},                                       \
	    {"batch", required_argument, NULL, CTL_OPT_BATCH},                                     \
	    {"budget", required_argument, NULL, CTL_OPT_BUDGET},                                   \
	    {"quorum", required_argument, NULL, CTL_OPT_QUORUM},                                   \
	    {"step-deadline", required_argument, NULL, CTL_OPT_STEP_DEADLINE},                     \
	    {"job-deadline", required_argument, NULL, CTL_OPT_JOB_DEADLINE},                       \
	    {"reason", required_argument, NULL, CTL_OPT_REASON},                                   \
	    {"yes", no_argument, NULL, CTL_OPT_YES},                                               \
	{                                                                                          \
		"detach", no_argument, NULL, CTL_OPT_DETACH                                        \
	}

/* Handles a global option (-c, -o, --endpoint). Returns 0, or -1 after
 * printing a usage error. */
int ctl_global_option(struct ctl *c, int ch, const char *arg);

/* getopt_long over a subcommand's argv. Handles --help (prints it: returns
 * CTL_OPT_HELP), the global options, unknown options and missing values (prints
 * the error: returns CTL_OPT_ERROR). Otherwise returns the next option's value,
 * or CTL_OPT_END; the operands start at optind. */
int ctl_getopt(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv,
               const struct option *opts);

/* Prints "odcctl: CMD: MESSAGE" and a pointer to CMD --help on stderr.
 * Returns CTL_EXIT_USAGE. */
int ctl_usage_error(const struct ctl *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prints "odcctl: CMD: MESSAGE" on stderr. */
void ctl_error(const struct ctl *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Checks the number of operands after the options: between min and max.
 * Returns 0, or CTL_EXIT_USAGE after printing which are missing or extra. */
int ctl_operands(const struct ctl *c, int argc, char **argv, int min, int max, const char *what);

/* True for an endpoint odcctl can use: ipc://PATH or tcp://HOST:PORT, shorter
 * than CTL_ENDPOINT_MAX. */
bool ctl_valid_endpoint(const char *ep);

/* Parses a decimal number (digits only, at most max). Returns 0 or -1. */
int ctl_parse_uint(const char *s, uint64_t max, uint64_t *out);

/* Parses a duration in the grammar of config_parse_duration_ms (a number with
 * ms, s, m, h or d, or bare seconds), rounded up to whole seconds ("1500ms"
 * is 2). Returns 0 with seconds in *out, or -1. */
int ctl_parse_duration_s(const char *s, uint64_t *out);

/* ---- conf.c: the configuration and the operator key ---- */

/* Loads the configuration (once): the lookup order of coordinator/README.md,
 * every key checked, and --endpoint applied. Returns 0 or an exit status
 * after printing "odcctl: file:line: section.key: what is wrong". */
int ctl_setup(struct ctl *c);

/* Loads the operator's secret key (once, after ctl_setup). Returns 0 or an
 * exit status after printing why. */
int ctl_operator_key(struct ctl *c);

/* Where the configuration would be set, for messages: the file used or the
 * lookup list. */
const char *ctl_conf_where(const struct ctl *c);

/* Frees what ctl_setup and ctl_operator_key loaded (the strings of struct ctl
 * that point into it are gone too); nothing loaded is fine. */
void ctl_conf_free(struct ctl *c);

/* ---- output.c: tables, times, JSON ---- */

#define OUT_CELL_MAX      512 /* bytes of one table cell, "..." when cut */
#define OUT_TABLE_MAX_ROW 200000

struct out_table;

/* A table with ncols columns and these headers (copied). Caller frees. */
struct out_table *out_table_new(size_t ncols, const char *const *headers);
/* Adds a row of ncols cells (copied, control characters replaced, cut at
 * OUT_CELL_MAX; NULL shows as "-"). Returns 0, or -1 (out of memory, too many rows). */
int out_table_row(struct out_table *t, const char *const *cells);
/* Prints the table, columns aligned, each line after indent; returns 0, or -1
 * when a row could not be added earlier (and says so). */
int out_table_print(const struct out_table *t, FILE *f, const char *indent);
void out_table_free(struct out_table *t);

/* Copies text for a terminal: newlines and tabs become spaces, other control
 * characters '?', cut to outlen with "..." at the end. Returns out. */
char *out_clean(const char *in, char *out, size_t outlen);
/* Display width of UTF-8 text (code points). */
size_t out_width(const char *s);

/* "3s", "2m", "1h", "4d" (floor). Returns out. */
char *out_age(uint64_t ms, char *out, size_t outlen);
/* "850ms", "12.3s", "4m05s", "2h03m". Returns out. */
char *out_duration(uint64_t ms, char *out, size_t outlen);
/* A whole-second duration as a user would write it ("90s", "5m", "2h", "1d"). */
char *out_seconds(uint64_t s, char *out, size_t outlen);
/* Local "2024-05-01 12:03:04"; "-" for a negative instant. Returns out. */
char *out_time(int64_t ms, char *out, size_t outlen);
/* Local "12:03:04". Returns out. */
char *out_clock(int64_t ms, char *out, size_t outlen);
/* "[#####.....]" for done of total, width cells between the brackets. */
char *out_bar(uint64_t done, uint64_t total, size_t width, char *out, size_t outlen);

/* Prints v as one indented JSON document on stdout. Returns 0 or -1. */
int out_json(const json_t *v);
/* Text fetched from a host (a log), to f as it is but for control characters
 * other than newline and tab, shown as '?' (no escape sequence reaches the
 * terminal); a newline ends it. */
void out_text(FILE *f, const char *text);
/* v as one compact line (JSON Lines), flushed. */
int out_json_line(const json_t *v);

/* The terminal's size, or 24x80 when stdout is not one. */
void out_term_size(int *rows, int *cols);

/* Values of a JSON object that may be anything: "" / def when absent or of
 * another type. */
const char *js(const json_t *o, const char *key);
long long ji(const json_t *o, const char *key, long long def);
/* True when key is absent or null. */
bool jnull(const json_t *o, const char *key);

/* "39 succeeded, 1 failed": the non-zero host counts of a job body. */
char *out_counts(const json_t *job, char *out, size_t outlen);
/* Prints the job summary block of a `job` (or submit) body. */
void out_job_header(const json_t *job);
/* Whether a job's state word is a final one (proto_job_state_final). */
bool out_job_final(const char *state);
/* A job body's targets that are done (in a final state) and that failed
 * (their state counts against the failure budget), from its counts. */
void out_done_failed(const json_t *job, long long *done, long long *failed);

/* ---- client.c: the control socket ---- */

/* Sends REQUEST command with args (an object or NULL; the reference is always
 * taken over) and waits for its REPLY. Returns CTL_EXIT_OK with *body a new
 * reference (JSON null for a nil body); otherwise prints why (the coordinator's
 * message and error name, or that it is unreachable) and returns the exit
 * status with *body NULL. actor: add the configured operator as "actor". */
int ctl_request(struct ctl *c, const char *command, json_t *args, bool actor, json_t **body);

/* Submits an encoded, signed JOB and waits for the REPLY with request_id 0;
 * results as for ctl_request. */
int ctl_submit(struct ctl *c, const struct proto_frames *job, json_t **body);

/* Closes the connection the first request opened, if any; c->client is NULL
 * after. */
void ctl_disconnect(struct ctl *c);

/* ---- select.c: host selectors (--host --hosts --label --all) ---- */

#define CTL_SEL_MAX_HOSTS  PROTO_MAX_TARGETS
#define CTL_SEL_MAX_LABELS 32
#define CTL_SEL_MAX_GLOB   256

struct ctl_sel {
	const char **hosts; /* malloc'd array of pointers into argv */
	size_t n_hosts;
	const char *glob;
	const char *labels[CTL_SEL_MAX_LABELS];
	size_t n_labels;
	bool all;
};

/* Takes one selector option. Returns 1 when ch was one, 0 when it is not a
 * selector option, -1 after printing a usage error. */
int ctl_sel_option(const struct ctl *c, struct ctl_sel *s, int ch, const char *arg);
bool ctl_sel_empty(const struct ctl_sel *s);
/* Adds the selectors as REQUEST args (host, glob, label, all). Returns 0 or -1. */
int ctl_sel_args(const struct ctl_sel *s, json_t *args);
void ctl_sel_free(struct ctl_sel *s);

/* ---- job.c: what several commands do with a job ---- */

/* Adds to job (a `job` REPLY body) its stored results as "results": every
 * page of the `results` request, narrowed to host and step when not NULL,
 * in the order of job's hosts and each host's in receipt order. Returns
 * CTL_EXIT_OK, or an exit status after printing why. */
int ctl_job_results(struct ctl *c, json_t *job, const char *host, const char *step);

/* The `job` request for job_id (its summary and every host): as ctl_request,
 * *job a new reference on success. */
int ctl_job_get(struct ctl *c, const char *job_id, json_t **job);
/* ctl_job_get, then ctl_job_results (every host, narrowed to step when not
 * NULL): *job a new reference with its "results" on success, else NULL
 * and an exit status after printing why. */
int ctl_job_get_results(struct ctl *c, const char *job_id, const char *step, json_t **job);

/* The one operand after the options, a job ID: *id points to it. Returns 0,
 * or CTL_EXIT_USAGE after printing that it is missing, extra or not an id. */
int ctl_job_operand(const struct ctl *c, int argc, char **argv, const char **id);

/* Parses "CMD ID", sends command for job ID (with actor) and prints the
 * job's new state. Returns the exit status. */
int ctl_job_control(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv,
                    const char *command);

/* ---- follow.c: following a job ---- */

/* Follows job_id until its state is final, drawing progress (a redrawn bar
 * on a terminal, a line per change otherwise), then prints the summary.
 * With -o json: nothing until the end, then the final job body with every
 * result; or, with stream, JSON Lines: each answer of the coordinator as it
 * comes (the summary and the hosts that changed; the first has every host),
 * then the final body on one line. Returns 0 succeeded, 1 failed, 4 halted
 * or aborted, 3 unreachable, 2 unknown. start, when not NULL, is the job as
 * known already (a whole `job` body: the submission's summary and its
 * hosts, pending); it is not taken. show: */
enum follow_show {
	FOLLOW_PROGRESS, /* progress, then the summary (-o json: the final job) */
	FOLLOW_STREAM,   /* the same, but -o json streams JSON Lines (watch) */
	FOLLOW_SILENT,   /* nothing on a table output: the caller prints */
};
int follow_job(struct ctl *c, const char *job_id, json_t *start, enum follow_show show);

/* ---- submit.c: building, signing and submitting a job ---- */

struct submit_policy {
	bool set[6]; /* which of the flags below were given */
	struct proto_policy p;
};

struct submit {
	const char *action;
	struct proto_kv params[8];
	size_t n_params;
	struct ctl_sel sel;
	struct submit_policy policy;
	const char *reason;
	bool detach;
	bool whole_deployments; /* add the other nodes of each target's deployment */
	bool yes;               /* --yes: a change needs no confirmation */
	bool output_only;       /* no progress: only the text fetched (odcctl logs) */
};

/* Takes a selector, policy or action-parameter option (--host ... --canary
 * ... --detach, --reason, --to --backup --lines --name --dry-run; a
 * command's option table decides which exist). Returns 1 when ch was one, 0
 * when not, -1 after printing a usage error. */
int submit_option(const struct ctl *c, struct submit *s, int ch, const char *arg);

/* Sets a parameter (key, value from argv); a later value replaces an earlier
 * one. Returns 0, or -1 after printing a usage error. */
int submit_param(const struct ctl *c, struct submit *s, const char *key, const char *value);

/* A submitting command's options (opts), each taken by submit_option. Returns -1 once they
 * are all taken (the operands start at optind), else the exit status to return: 0 after
 * --help, 2 after a usage error (already printed). */
int submit_getopt(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv,
                  const struct option *opts, struct submit *s);

/* The local checks of a job: parameters against the action table (every
 * phase it will run), selectors present when need_selectors, operator name and
 * key configured and loadable. Returns 0 or the exit status after printing. */
int submit_prepare(struct ctl *c, struct submit *s, bool need_selectors);

/* Validates (submit_prepare), resolves the selectors (or takes targets, when not NULL: sorted
 * here), builds and signs the JOB, submits it, then follows it unless
 * --detach. Returns the exit status. Frees nothing of s. */
int submit_run(struct ctl *c, struct submit *s, const char *const *targets, size_t n_targets);

/* After following job_id to its end (ret: follow_job's exit status), on a table output,
 * what the job is for beyond its states: a dry run's difference per host, a logs job's text,
 * a prune's lists, a failed upgrade's failures with their log tails. Returns ret, or the exit
 * status of a failed fetch. */
int submit_print_outcome(struct ctl *c, const char *job_id, const char *action, bool dry_run,
                         int ret);

/* An undo (s->action becomes "undo") of rollback or upgrade job of: its targets are SELECTORS,
 * or without them of's hosts whose run phase was dispatched; then submit_run. Returns the
 * exit status. */
int submit_undo(struct ctl *c, struct submit *s, const char *of);

void submit_free(struct submit *s);

/* ---- cmd-*.c: one command each, listed in odcctl.c's table ---- */

extern const struct ctl_cmd cmd_keygen_entry;
extern const struct ctl_cmd cmd_info_entry;
extern const struct ctl_cmd cmd_hosts_entry;
extern const struct ctl_cmd cmd_deployments_entry;
extern const struct ctl_cmd cmd_keys_entry;
extern const struct ctl_cmd cmd_exec_entry;
extern const struct ctl_cmd cmd_rollback_entry;
extern const struct ctl_cmd cmd_undo_entry;
extern const struct ctl_cmd cmd_upgrade_entry;
extern const struct ctl_cmd cmd_jobs_entry;
extern const struct ctl_cmd cmd_job_entry;
extern const struct ctl_cmd cmd_watch_entry;
extern const struct ctl_cmd cmd_pause_entry;
extern const struct ctl_cmd cmd_resume_entry;
extern const struct ctl_cmd cmd_abort_entry;
extern const struct ctl_cmd cmd_audit_entry;
extern const struct ctl_cmd cmd_logs_entry;
extern const struct ctl_cmd cmd_prune_entry;

#endif
