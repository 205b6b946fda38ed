/* The fixed action table of PROTOCOL.md section 5: what an agent may run,
 * in which phases, with which parameters in which formats. */
#include <stdlib.h>
#include <string.h>

#include "proto/internal.h"

enum fmt { F_TAG, F_PATH, F_UINT, F_BOOL, F_NAME, F_ID };

struct param_spec {
	const char *name;
	enum fmt fmt;
	bool required;
	uint64_t min, max; /* F_UINT */
};

#define STEPS_MAX  PROTO_ACTION_STEPS_MAX
#define PARAMS_MAX 6

struct action_spec {
	const char *name;
	bool has_preflight; /* accepts phase "preflight" besides "run" */
	bool changes;       /* may change a host (its container, metadb or files) */
	struct param_spec params[PARAMS_MAX];
	/* The steps an agent may report (RESULT.step) for each phase: [0]
	 * preflight, [1] run, [2] revert (the undo of the run phase, under the
	 * job's own id: an action with revert steps accepts phase "revert").
	 * They bound what a coordinator stores per (job, host). "recheck" is
	 * the run phase's preflight when a preflight phase ran first (results
	 * are keyed by step). */
	const char *steps[3][STEPS_MAX + 1];
	/* Restores a deployment's one metadb: its targets are rolled out a
	 * deployment at a time, every node of it targeted (PROTOCOL.md 9.2). */
	bool by_deployment;
};

static const struct action_spec actions[] = {
    {"ping", false, false, {{NULL, 0, false, 0, 0}}, {{NULL}, {"ping", NULL}}, false},
    {"status", false, false, {{NULL, 0, false, 0, 0}}, {{NULL}, {"status", NULL}}, false},
    {"preflight",
     false,
     false,
     {{"to", F_TAG, true, 0, 0},
      {"backup", F_PATH, true, 0, 0},
      {"accept_unverified", F_BOOL, false, 0, 0},
      {NULL, 0, false, 0, 0}},
     {{NULL}, {"preflight", NULL}},
     false},
    {"stop", false, true, {{NULL, 0, false, 0, 0}}, {{NULL}, {"stop", NULL}}, false},
    {"start",
     false,
     true,
     {{"to", F_TAG, false, 0, 0}, {NULL, 0, false, 0, 0}},
     {{NULL}, {"start", NULL}},
     false},
    {"logs",
     false,
     false,
     {{"lines", F_UINT, false, 1, 10000}, {NULL, 0, false, 0, 0}},
     {{NULL}, {"logs", NULL}},
     false},
    {"backup",
     true,
     true,
     {{"name", F_NAME, false, 0, 0}, {NULL, 0, false, 0, 0}},
     {{"preflight", NULL}, {"backup", NULL}},
     false},
    {"rollback",
     true,
     true,
     {{"to", F_TAG, true, 0, 0},
      {"backup", F_PATH, true, 0, 0},
      {"dry_run", F_BOOL, false, 0, 0},
      {"force", F_BOOL, false, 0, 0},
      {"accept_unverified", F_BOOL, false, 0, 0},
      {"backup_on_peer", F_BOOL, false, 0, 0}},
     {{"preflight", NULL},
      {"preflight", "recheck", "stop", "snapshot", "restore", "start", "health", NULL}},
     true},
    {"prune",
     false,
     true,
     {{"dry_run", F_BOOL, false, 0, 0}, {NULL, 0, false, 0, 0}},
     {{NULL}, {"prune", NULL}},
     false},
    {"undo",
     true,
     true,
     {{"of", F_ID, true, 0, 0}, {"dry_run", F_BOOL, false, 0, 0}, {NULL, 0, false, 0, 0}},
     {{"preflight", NULL}, {"preflight", "recheck", "stop", "restore", "start", "health", NULL}},
     true},
    {"upgrade",
     true,
     true,
     {{"to", F_TAG, true, 0, 0}, {"dry_run", F_BOOL, false, 0, 0}, {NULL, 0, false, 0, 0}},
     {{"preflight", NULL},
      {"preflight", "recheck", "stop", "snapshot", "start", "health", NULL},
      {"revert_preflight", "revert_stop", "revert_restore", "revert_start", "revert_health", NULL}},
     true},
};
_Static_assert(sizeof(actions) / sizeof(actions[0]) <= PROTO_ACTIONS_MAX,
               "PROTO_ACTIONS_MAX bounds the table");

/* The row of steps of phase ("preflight" 0, "run" 1, "revert" 2), or -1. */
static int
phase_index(const char *phase)
{
	static const char *const phases[] = {"preflight", "run", "revert"};

	for (int i = 0; i < 3; i++)
		if (strcmp(phase, phases[i]) == 0)
			return i;
	return -1;
}

/* Whether action a runs in phase ph: run always, preflight and revert
 * where the table allows them. */
static bool
has_phase(const struct action_spec *a, int ph)
{
	return ph == 1 || (ph == 0 && a->has_preflight) || (ph == 2 && a->steps[2][0] != NULL);
}

static bool
valid_uint(const char *s, uint64_t min, uint64_t max)
{
	uint64_t v = 0;
	size_t n = strlen(s);

	if (n == 0 || n > 20 || (n > 1 && s[0] == '0'))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	return v >= min && v <= max;
}

static bool
valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 64 || s[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

static bool
valid_value(const struct param_spec *p, const char *v)
{
	switch (p->fmt) {
	case F_TAG:
		return proto_valid_tag(v);
	case F_PATH:
		return proto_valid_path(v);
	case F_UINT:
		return valid_uint(v, p->min, p->max);
	case F_BOOL:
		return strcmp(v, "true") == 0 || strcmp(v, "false") == 0;
	case F_NAME:
		return valid_name(v);
	case F_ID:
		return proto_valid_id(v);
	}
	return false;
}

static const char *
fmt_name(enum fmt f)
{
	switch (f) {
	case F_TAG:
		return "a Docker tag";
	case F_PATH:
		return "an absolute normalized path";
	case F_UINT:
		return "a decimal number in range";
	case F_BOOL:
		return "true or false";
	case F_NAME:
		return "a name of [A-Za-z0-9._-]";
	case F_ID:
		return "an id";
	}
	return "?";
}

const char *
proto_param(const struct proto_kv *params, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(params[i].key, key) == 0)
			return params[i].value;
	return NULL;
}

enum proto_err
proto_action_check(const char *action, const char *phase, const struct proto_kv *params,
                   size_t n_params, struct proto_error *err)
{
	int row = proto_action_index(action);
	const struct action_spec *a = row >= 0 ? &actions[row] : NULL;

	if (a == NULL)
		return proto_fail(err, PROTO_E_UNKNOWN_ACTION, "unknown action '%.32s'", action);
	if (!has_phase(a, phase_index(phase)))
		return proto_fail(err, PROTO_E_INVALID_PARAM, "action %s has no phase '%.32s'",
		                  action, phase);
	for (size_t i = 0; i < n_params; i++) {
		const struct param_spec *p = NULL;
		for (size_t k = 0; k < PARAMS_MAX && a->params[k].name != NULL; k++)
			if (strcmp(a->params[k].name, params[i].key) == 0)
				p = &a->params[k];
		if (p == NULL)
			return proto_fail(err, PROTO_E_INVALID_PARAM,
			                  "action %s takes no parameter '%.32s'", action,
			                  params[i].key);
		if (p->fmt == F_PATH && proto_path_problem(params[i].value) != NULL)
			return proto_fail(err, PROTO_E_INVALID_PARAM,
			                  "%s: parameter %s='%.64s': %s", action, p->name,
			                  params[i].value, proto_path_problem(params[i].value));
		if (!valid_value(p, params[i].value))
			return proto_fail(err, PROTO_E_INVALID_PARAM,
			                  "%s: parameter %s='%.64s' is not %s", action, p->name,
			                  params[i].value, fmt_name(p->fmt));
	}
	for (size_t k = 0; k < PARAMS_MAX && a->params[k].name != NULL; k++)
		if (a->params[k].required &&
		    proto_param(params, n_params, a->params[k].name) == NULL)
			return proto_fail(err, PROTO_E_INVALID_PARAM,
			                  "action %s needs parameter '%s'", action,
			                  a->params[k].name);
	return PROTO_OK;
}

bool
proto_action_step(const char *action, const char *phase, const char *step)
{
	int ph = phase_index(phase);
	int a = proto_action_index(action);

	if (a < 0 || !has_phase(&actions[a], ph))
		return false;
	for (size_t k = 0; k < STEPS_MAX && actions[a].steps[ph][k] != NULL; k++)
		if (strcmp(actions[a].steps[ph][k], step) == 0)
			return true;
	return false;
}

size_t
proto_action_count(void)
{
	return sizeof(actions) / sizeof(actions[0]);
}

const char *
proto_action_name(size_t i)
{
	return i < proto_action_count() ? actions[i].name : NULL;
}

int
proto_action_index(const char *action)
{
	for (size_t i = 0; action != NULL && i < proto_action_count(); i++)
		if (strcmp(actions[i].name, action) == 0)
			return (int)i;
	return -1;
}

bool
proto_action_takes(const char *action, const char *param)
{
	int a = proto_action_index(action);

	for (size_t k = 0; a >= 0 && k < PARAMS_MAX && actions[a].params[k].name != NULL; k++)
		if (strcmp(actions[a].params[k].name, param) == 0)
			return true;
	return false;
}

bool
proto_action_has_preflight(const char *action)
{
	int a = proto_action_index(action);

	return a >= 0 && actions[a].has_preflight;
}

bool
proto_action_has_revert(const char *action)
{
	int a = proto_action_index(action);

	return a >= 0 && has_phase(&actions[a], 2);
}

bool
proto_action_by_deployment(const char *action)
{
	int a = proto_action_index(action);

	return a >= 0 && actions[a].by_deployment;
}

bool
proto_dry_run(const struct proto_kv *params, size_t n)
{
	const char *v = proto_param(params, n, "dry_run");

	return v != NULL && strcmp(v, "true") == 0;
}

bool
proto_action_changes(const char *action, const struct proto_kv *params, size_t n)
{
	int a = proto_action_index(action);

	return a >= 0 && actions[a].changes && !proto_dry_run(params, n);
}

size_t
proto_action_steps(const char *action, const char **out, size_t max)
{
	int a = proto_action_index(action);
	size_t n = 0;

	/* Preflight first, then the run phase's steps not seen yet, then the
	 * revert's: the order an agent reports them in. */
	for (int ph = 0; a >= 0 && ph < 3; ph++)
		for (size_t k = 0; k < STEPS_MAX && actions[a].steps[ph][k] != NULL; k++) {
			size_t seen = 0;
			while (seen < n && strcmp(out[seen], actions[a].steps[ph][k]) != 0)
				seen++;
			if (seen == n && n < max)
				out[n++] = actions[a].steps[ph][k];
		}
	return n;
}
