/* The difference between the ODC container that runs and the one a
 * rollback or an undo would run in its place (see specdiff.h). */
#include "agent/specdiff.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/spec.h"
#include "common/buf.h"
#include "common/version.h"

/* Members compared by a rule of their own (or not at all), not as
 * Config.X / HostConfig.X. */
static const char *const specdiff_config_own[] = {"Image", "Cmd",    "Entrypoint",
                                                  "Env",   "Labels", "Hostname"};
static const char *const specdiff_host_own[] = {"Binds",       "Mounts", "PortBindings",
                                                "NetworkMode", "Memory", "RestartPolicy"};

/* A value as text for a person and for the list: NULL for Docker's
 * defaults (the value is absent), strings as they are, numbers in decimal,
 * anything else as compact JSON. malloc'd. */
static char *
specdiff_value(json_t *v)
{
	char num[32];

	if (spec_is_default(v))
		return NULL;
	if (json_is_string(v))
		return strdup(json_string_value(v));
	if (json_is_integer(v)) {
		snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
		return strdup(num);
	}
	return json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}

/* Appends {"field", "from", "to"} unless from and to are alike. Takes both
 * strings. -1 when out of memory. */
static int
specdiff_add(json_t *diff, const char *field, char *from, char *to)
{
	int rc = 0;

	if ((from == NULL && to == NULL) || (from != NULL && to != NULL && strcmp(from, to) == 0))
		goto out;
	rc = json_array_append_new(
	    diff, json_pack("{s:s, s:s?, s:s?}", "field", field, "from", from, "to", to));
out:
	free(from);
	free(to);
	return rc;
}

/* An Env array as an object NAME -> value, in the array's order (a later
 * entry of one name wins, as in the engine). */
static json_t *
specdiff_env(json_t *env)
{
	json_t *out = json_object(), *e;
	size_t i;

	json_array_foreach(env, i, e)
	{
		const char *kv = json_string_value(e), *eq;
		if (kv == NULL || out == NULL)
			continue;
		eq = strchr(kv, '=');
		char *name = strndup(kv, eq != NULL ? (size_t)(eq - kv) : strlen(kv));
		if (name != NULL)
			json_object_set_new(out, name, json_string(eq != NULL ? eq + 1 : ""));
		free(name);
	}
	return out;
}

/* Sets config[key] to the image's when config lacks it (Docker's default). */
static void
specdiff_inherit(json_t *config, json_t *img, const char *key)
{
	json_t *v = json_object_get(img, key);

	if (spec_is_default(json_object_get(config, key)) && v != NULL)
		json_object_set_new(config, key, json_deep_copy(v));
}

/* Adds img[key]'s members that config[key] (an object) lacks. */
static void
specdiff_union(json_t *config, json_t *img, const char *key, bool image_wins)
{
	json_t *mine = json_object_get(config, key), *theirs = json_object_get(img, key), *v;
	const char *k;

	if (!json_is_object(theirs))
		return;
	if (!json_is_object(mine)) {
		json_object_set_new(config, key, json_deep_copy(theirs));
		return;
	}
	json_object_foreach(theirs, k, v)
	{
		if (image_wins || json_object_get(mine, k) == NULL)
			json_object_set_new(mine, k, json_deep_copy(v));
	}
}

json_t *
specdiff_created(json_t *body, json_t *image_inspect, const char *name)
{
	static const char *const health[] = {"Test",        "Interval",      "Timeout",
	                                     "StartPeriod", "StartInterval", "Retries"};
	json_t *img = json_object_get(image_inspect, "Config"), *config = json_object(), *host,
	       *out = NULL, *v;
	const char *key;
	char slash[300];

	host = json_deep_copy(json_object_get(body, "HostConfig"));
	if (host == NULL)
		host = json_object();
	if (config == NULL || host == NULL)
		goto fail;
	json_object_foreach(body, key, v)
	{
		if (strcmp(key, "HostConfig") != 0)
			json_object_set_new(config, key, json_deep_copy(v));
	}
	/* The engine's merge of a create's Config with its image's (moby
	 * daemon/commit.go, merge()): these members only. */
	specdiff_inherit(config, img, "User");
	specdiff_union(config, img, "ExposedPorts", false);
	if (json_array_size(json_object_get(config, "Env")) == 0) {
		specdiff_inherit(config, img, "Env");
	} else {
		json_t *env = json_object_get(config, "Env"), *mine = specdiff_env(env), *e;
		size_t i;
		json_array_foreach(json_object_get(img, "Env"), i, e)
		{
			const char *kv = json_string_value(e), *eq = kv ? strchr(kv, '=') : NULL;
			char *k = kv ? strndup(kv, eq ? (size_t)(eq - kv) : strlen(kv)) : NULL;
			if (k != NULL && mine != NULL && json_object_get(mine, k) == NULL)
				json_array_append_new(env, json_deep_copy(e));
			free(k);
		}
		json_decref(mine);
	}
	specdiff_union(config, img, "Labels", false);
	if (spec_is_default(json_object_get(config, "Entrypoint"))) {
		specdiff_inherit(config, img, "Cmd");
		specdiff_inherit(config, img, "Entrypoint");
	}
	if (json_is_object(json_object_get(img, "Healthcheck"))) {
		json_t *hc = json_object_get(config, "Healthcheck");
		if (!json_is_object(hc))
			json_object_set_new(config, "Healthcheck",
			                    json_deep_copy(json_object_get(img, "Healthcheck")));
		else
			for (size_t i = 0; i < sizeof(health) / sizeof(health[0]); i++)
				specdiff_inherit(hc, json_object_get(img, "Healthcheck"),
				                 health[i]);
	}
	specdiff_inherit(config, img, "WorkingDir");
	specdiff_union(config, img, "Volumes", true);
	specdiff_inherit(config, img, "StopSignal");
	snprintf(slash, sizeof(slash), "/%s", name);
	out = json_pack("{s:s, s:O, s:O}", "Name", slash, "Config", config, "HostConfig", host);
fail:
	json_decref(config);
	json_decref(host);
	return out;
}

static const char *
specdiff_name(json_t *inspect)
{
	const char *n = json_string_value(json_object_get(inspect, "Name"));

	return n == NULL ? NULL : n[0] == '/' ? n + 1 : n;
}

static char *
specdiff_tag(json_t *inspect)
{
	const char *ref =
	    json_string_value(json_object_get(json_object_get(inspect, "Config"), "Image"));
	char tag[160];

	if (ref == NULL)
		return NULL;
	version_image_tag(ref, tag, sizeof(tag));
	return tag[0] ? strdup(tag) : NULL;
}

/* "ip:port, ..." of one port's bindings; NULL when none. */
static char *
specdiff_bindings(json_t *list)
{
	struct buf b;
	json_t *e;
	size_t i;

	if (!json_is_array(list) || json_array_size(list) == 0)
		return NULL;
	buf_init(&b, 65536);
	json_array_foreach(list, i, e)
	{
		const char *ip = json_string_value(json_object_get(e, "HostIp"));
		const char *port = json_string_value(json_object_get(e, "HostPort"));
		buf_appendf(&b, "%s%s%s%s", i ? ", " : "", ip && *ip ? ip : "",
		            ip && *ip ? ":" : "", port && *port ? port : "(any)");
	}
	return b.data != NULL ? (char *)b.data : strdup("");
}

/* "no", "always", "on-failure:3": NULL for Docker's default. */
static char *
specdiff_restart(json_t *policy)
{
	const char *n = json_string_value(json_object_get(policy, "Name"));
	long long max = json_integer_value(json_object_get(policy, "MaximumRetryCount"));
	char out[80];

	if (n == NULL || *n == '\0')
		return NULL;
	if (max > 0)
		snprintf(out, sizeof(out), "%s:%lld", n, max);
	else
		snprintf(out, sizeof(out), "%s", n);
	return strdup(out);
}

/* The member key of a and of b compared as values, as field: one
 * difference when they differ. Returns 0, -1 when out of memory. */
static int
specdiff_member(json_t *diff, const char *field, json_t *a, json_t *b, const char *key)
{
	return specdiff_add(diff, field, specdiff_value(json_object_get(a, key)),
	                    specdiff_value(json_object_get(b, key)));
}

/* Empties keys, then sets in it (to true) every key of a, then those of b
 * not in a: the members of either side, in that order. */
static void
specdiff_keys(json_t *keys, json_t *a, json_t *b)
{
	const char *key;
	json_t *v;

	json_object_clear(keys);
	json_object_foreach(a, key, v) json_object_set_new(keys, key, json_true());
	json_object_foreach(b, key, v) json_object_set_new(keys, key, json_true());
}

/* Each element of array key of a and b that the other lacks: removed ones
 * (from) first, then added ones (to). Returns how many are in both. */
static size_t
specdiff_set(json_t *diff, const char *field, json_t *a, json_t *b, int *rc)
{
	json_t *e, *f;
	size_t i, j, both = 0;

	json_array_foreach(a, i, e)
	{
		bool in = false;
		json_array_foreach(b, j, f) in = in || json_equal(e, f);
		if (in)
			both++;
		else if (specdiff_add(diff, field, specdiff_value(e), NULL) != 0)
			*rc = -1;
	}
	json_array_foreach(b, j, f)
	{
		bool in = false;
		json_array_foreach(a, i, e) in = in || json_equal(e, f);
		if (!in && specdiff_add(diff, field, NULL, specdiff_value(f)) != 0)
			*rc = -1;
	}
	return both;
}

/* Keys of a then those of b not in a, each compared as a value, as
 * field prefix.KEY; masked: secret env names. Returns how many are alike. */
static size_t
specdiff_map(json_t *diff, const char *prefix, json_t *a, json_t *b, bool env, int *rc)
{
	const char *key;
	json_t *v, *keys = json_object();
	size_t alike = 0;

	specdiff_keys(keys, a, b);
	json_object_foreach(keys, key, v)
	{
		json_t *x = json_object_get(a, key), *y = json_object_get(b, key);
		char *from = x ? specdiff_value(x) : NULL, *to = y ? specdiff_value(y) : NULL;
		char field[320];
		/* An env variable set empty is set: "" is its value, not absence. */
		if (env && x != NULL && from == NULL)
			from = strdup("");
		if (env && y != NULL && to == NULL)
			to = strdup("");
		if ((from == NULL && to == NULL) || (from && to && strcmp(from, to) == 0)) {
			alike += from != NULL;
			free(from);
			free(to);
			continue;
		}
		if (env && spec_secret_name(key, strlen(key))) {
			free(from);
			free(to);
			from = x ? strdup(SPECDIFF_MASK) : NULL;
			to = y ? strdup(SPECDIFF_MASK) : NULL;
		}
		snprintf(field, sizeof(field), "%s.%s", prefix, key);
		if (from != NULL && to != NULL && strcmp(from, to) == 0) {
			/* Both masked, yet the value changes: the item says so. */
			if (json_array_append_new(diff, json_pack("{s:s, s:s, s:s}", "field", field,
			                                          "from", from, "to", to)) != 0)
				*rc = -1;
			free(from);
			free(to);
		} else if (specdiff_add(diff, field, from, to) != 0)
			*rc = -1;
	}
	json_decref(keys);
	return alike;
}

static void
specdiff_memory(long long bytes, char *out, size_t outlen)
{
	static const char units[] = "KMGT";
	int u = -1;

	while (bytes >= 1024 && bytes % 1024 == 0 && u < 3) {
		bytes /= 1024;
		u++;
	}
	if (u < 0)
		snprintf(out, outlen, "%lld", bytes);
	else
		snprintf(out, outlen, "%lld%c", bytes, units[u]);
}

/* Whether field (Env.X, Labels.X, Binds ...) is among diff's. */
static bool
specdiff_has(json_t *diff, const char *field, bool prefix)
{
	json_t *e;
	size_t i, n = strlen(field);

	json_array_foreach(diff, i, e)
	{
		const char *f = json_string_value(json_object_get(e, "field"));
		if (f != NULL && (prefix ? strncmp(f, field, n) == 0 : strcmp(f, field) == 0))
			return true;
	}
	return false;
}

/* How many of each kind of item are alike, for the summary. */
struct specdiff_alike {
	size_t env, labels, binds, mounts;
};

/* The port bindings of HostConfigs ch and nh, as Ports.PORT; keys is
 * scratch. Sets *rc to -1 when out of memory. */
static void
specdiff_ports(json_t *diff, json_t *ch, json_t *nh, json_t *keys, int *rc)
{
	json_t *cp = json_object_get(ch, "PortBindings"), *np = json_object_get(nh, "PortBindings");
	const char *key;
	json_t *v;

	specdiff_keys(keys, cp, np);
	json_object_foreach(keys, key, v)
	{
		char field[300];
		snprintf(field, sizeof(field), "Ports.%s", key);
		if (specdiff_add(diff, field, specdiff_bindings(json_object_get(cp, key)),
		                 specdiff_bindings(json_object_get(np, key))) != 0)
			*rc = -1;
	}
}

/* Every other member of Config (sect 0: cc, nc) or HostConfig (sect 1: ch,
 * nh), as Config.X or HostConfig.X; keys is scratch. Sets *rc to -1 when
 * out of memory. */
static void
specdiff_others(json_t *diff, int sect, json_t *a, json_t *b, json_t *keys, int *rc)
{
	const char *key;
	json_t *v;

	specdiff_keys(keys, a, b);
	json_object_foreach(keys, key, v)
	{
		char field[300];
		if (sect == 0 &&
		    spec_listed(specdiff_config_own,
		                sizeof(specdiff_config_own) / sizeof(specdiff_config_own[0]), key))
			continue;
		if (sect == 1 &&
		    (spec_engine_field(key) ||
		     spec_listed(specdiff_host_own,
		                 sizeof(specdiff_host_own) / sizeof(specdiff_host_own[0]), key)))
			continue;
		snprintf(field, sizeof(field), "%s.%s", sect ? "HostConfig" : "Config", key);
		if (specdiff_member(diff, field, a, b, key) != 0)
			*rc = -1;
	}
}

/* What is alike, for a person, into same (samelen bytes): the items of cur
 * (Config cc, HostConfig ch) that diff does not list, with the counts of
 * alike. */
static void
specdiff_same(json_t *diff, const char *str_name, json_t *cc, json_t *ch,
              const struct specdiff_alike *al, char *same, size_t samelen)
{
	struct buf b;
	char mem[32], *text;

	buf_init(&b, samelen - 1);
	if (!specdiff_has(diff, "Name", false) && str_name != NULL)
		buf_appendf(&b, "%sname %s", b.len ? ", " : "", str_name);
	if (al->env > 0)
		buf_appendf(&b, "%senv (%zu%s)", b.len ? ", " : "", al->env,
		            specdiff_has(diff, "Env.", true) ? " more" : "");
	if (al->labels > 0)
		buf_appendf(&b, "%slabels (%zu%s)", b.len ? ", " : "", al->labels,
		            specdiff_has(diff, "Labels.", true) ? " more" : "");
	if (al->binds > 0)
		buf_appendf(&b, "%sbinds (%zu)", b.len ? ", " : "", al->binds);
	if (al->mounts > 0)
		buf_appendf(&b, "%smounts (%zu)", b.len ? ", " : "", al->mounts);
	if (json_object_size(json_object_get(ch, "PortBindings")) > 0 &&
	    !specdiff_has(diff, "Ports.", true))
		buf_appendf(&b, "%sports (%zu)", b.len ? ", " : "",
		            json_object_size(json_object_get(ch, "PortBindings")));
	if (!specdiff_has(diff, "NetworkMode", false) &&
	    (text = specdiff_value(json_object_get(ch, "NetworkMode"))) != NULL) {
		buf_appendf(&b, "%snetwork %s", b.len ? ", " : "", text);
		free(text);
	}
	if (!specdiff_has(diff, "Memory", false) &&
	    json_integer_value(json_object_get(ch, "Memory")) > 0) {
		specdiff_memory(json_integer_value(json_object_get(ch, "Memory")), mem,
		                sizeof(mem));
		buf_appendf(&b, "%smemory %s", b.len ? ", " : "", mem);
	}
	long long quota = json_integer_value(json_object_get(ch, "CpuQuota"));
	long long period = json_integer_value(json_object_get(ch, "CpuPeriod"));
	if (quota > 0 && period > 0 && !specdiff_has(diff, "HostConfig.CpuQuota", false) &&
	    !specdiff_has(diff, "HostConfig.CpuPeriod", false))
		buf_appendf(&b, "%scpus %g", b.len ? ", " : "", (double)quota / (double)period);
	if (!specdiff_has(diff, "RestartPolicy", false) &&
	    (text = specdiff_restart(json_object_get(ch, "RestartPolicy"))) != NULL) {
		buf_appendf(&b, "%srestart %s", b.len ? ", " : "", text);
		free(text);
	}
	if (!specdiff_has(diff, "Cmd", false) && !specdiff_has(diff, "Entrypoint", false) &&
	    (text = specdiff_value(json_object_get(cc, "Cmd"))) != NULL) {
		buf_appendf(&b, "%scommand %s", b.len ? ", " : "", text);
		free(text);
	}
	snprintf(same, samelen, "%s", b.data != NULL ? (char *)b.data : "");
	buf_free(&b);
}

/* The items in the order specdiff.h gives: those with a rule of their own
 * (Name ... Mounts here, then specdiff_ports, then NetworkMode, Memory,
 * RestartPolicy), then specdiff_others; then the summary (specdiff_same). */
json_t *
specdiff_compare(json_t *cur, json_t *next, char *same, size_t samelen)
{
	json_t *diff = json_array(), *cc = json_object_get(cur, "Config"),
	       *nc = json_object_get(next, "Config");
	json_t *ch = json_object_get(cur, "HostConfig"), *nh = json_object_get(next, "HostConfig");
	json_t *ce = specdiff_env(json_object_get(cc, "Env")),
	       *ne = specdiff_env(json_object_get(nc, "Env")), *keys = json_object();
	const char *str_name = specdiff_name(cur);
	struct specdiff_alike al = {0, 0, 0, 0};
	int rc = 0;

	if (diff == NULL || ce == NULL || ne == NULL || keys == NULL)
		goto fail;
	if (specdiff_add(diff, "Name", str_name ? strdup(str_name) : NULL,
	                 specdiff_name(next) ? strdup(specdiff_name(next)) : NULL) != 0 ||
	    specdiff_member(diff, "Image", cc, nc, "Image") != 0 ||
	    specdiff_add(diff, "Image.version", specdiff_tag(cur), specdiff_tag(next)) != 0 ||
	    specdiff_member(diff, "Cmd", cc, nc, "Cmd") != 0 ||
	    specdiff_member(diff, "Entrypoint", cc, nc, "Entrypoint") != 0)
		goto fail;
	al.env = specdiff_map(diff, "Env", ce, ne, true, &rc);
	al.labels = specdiff_map(diff, "Labels", json_object_get(cc, "Labels"),
	                         json_object_get(nc, "Labels"), false, &rc);
	al.binds = specdiff_set(diff, "Binds", json_object_get(ch, "Binds"),
	                        json_object_get(nh, "Binds"), &rc);
	al.mounts = specdiff_set(diff, "Mounts", json_object_get(ch, "Mounts"),
	                         json_object_get(nh, "Mounts"), &rc);
	specdiff_ports(diff, ch, nh, keys, &rc);
	if (specdiff_member(diff, "NetworkMode", ch, nh, "NetworkMode") != 0 ||
	    specdiff_member(diff, "Memory", ch, nh, "Memory") != 0 ||
	    specdiff_add(diff, "RestartPolicy",
	                 specdiff_restart(json_object_get(ch, "RestartPolicy")),
	                 specdiff_restart(json_object_get(nh, "RestartPolicy"))) != 0)
		goto fail;
	specdiff_others(diff, 0, cc, nc, keys, &rc);
	specdiff_others(diff, 1, ch, nh, keys, &rc);
	if (rc != 0)
		goto fail;
	if (same != NULL && samelen > 0)
		specdiff_same(diff, str_name, cc, ch, &al, same, samelen);
	json_decref(keys);
	json_decref(ce);
	json_decref(ne);
	return diff;
fail:
	json_decref(keys);
	json_decref(ce);
	json_decref(ne);
	json_decref(diff);
	return NULL;
}

/* What a person calls a field, and the key shown after it. */
static void
specdiff_label(const char *field, const char **what, const char **key)
{
	static const struct {
		const char *prefix, *what;
	} names[] = {
	    {"Env.", "env"},
	    {"Labels.", "label"},
	    {"Ports.", "port"},
	    {"Config.", "config"},
	    {"HostConfig.", "host"},
	    {"Image.version", "version"},
	    {"Image", "image"},
	    {"Name", "name"},
	    {"Cmd", "command"},
	    {"Entrypoint", "entrypoint"},
	    {"Binds", "bind"},
	    {"Mounts", "mount"},
	    {"NetworkMode", "network"},
	    {"Memory", "memory"},
	    {"RestartPolicy", "restart"},
	};
	size_t n;

	*what = field;
	*key = "";
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		n = strlen(names[i].prefix);
		if (strncmp(field, names[i].prefix, n) == 0 &&
		    (names[i].prefix[n - 1] == '.' ? true : field[n] == '\0')) {
			*what = names[i].what;
			*key = names[i].prefix[n - 1] == '.' ? field + n : "";
			return;
		}
	}
}

/* Appends s with control characters as '?'; a NULL s is "(unset)". */
static int
specdiff_put(struct buf *b, const char *s, bool memory)
{
	char mem[32];

	if (s == NULL)
		return buf_appendf(b, "(unset)");
	if (memory) {
		specdiff_memory(strtoll(s, NULL, 10), mem, sizeof(mem));
		s = mem;
	}
	for (const char *p = s; *p; p++) {
		char c = (unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p;
		if (buf_append(b, &c, 1) != 0)
			return -1;
	}
	return 0;
}

/* Appends a line of the frame (the first, the last ones) as far as it fits
 * under b's max: cut short with "...\n" (on a UTF-8 character's start) when
 * the whole does not, left out when not even that does. -1 only when out of
 * memory: a small maxlen is no failure. */
static int specdiff_fit(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
specdiff_fit(struct buf *b, const char *fmt, ...)
{
	static const char cut[] = "...\n";
	size_t room = b->max > b->len ? b->max - b->len : 0, n;
	va_list ap;
	char *s;
	int len, rc;

	va_start(ap, fmt);
	len = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (len < 0)
		return -1;
	n = (size_t)len;
	if (n <= room) {
		rc = buf_append(b, s, n);
	} else if (room < sizeof(cut)) {
		rc = 0;
	} else {
		n = room - (sizeof(cut) - 1);
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
		rc = buf_append(b, s, n) != 0 || buf_append(b, cut, sizeof(cut) - 1) != 0 ? -1 : 0;
	}
	free(s);
	return rc;
}

char *
specdiff_text(const char *name, json_t *cur, json_t *next, json_t *diff, const char *same,
              size_t maxlen)
{
	struct buf b, line;
	json_t *e;
	size_t i, left = 0;
	const char *ci =
	    json_string_value(json_object_get(json_object_get(cur, "Config"), "Image"));
	const char *ni =
	    json_string_value(json_object_get(json_object_get(next, "Config"), "Image"));
	/* Room kept for the last lines. */
	size_t tailroom = 64 + (same != NULL ? strlen(same) + 16 : 0);

	buf_init(&b, maxlen > 0 ? maxlen - 1 : 0);
	buf_init(&line, maxlen > 0 ? maxlen - 1 : 0);
	if (specdiff_fit(&b, "%s: %s -> %s\n", name,
	                 cur == NULL ? "(no container)"
	                 : ci        ? ci
	                             : "?",
	                 ni ? ni : "?") != 0)
		goto fail;
	json_array_foreach(diff, i, e)
	{
		const char *field = json_string_value(json_object_get(e, "field")), *what, *key;
		const char *from = json_string_value(json_object_get(e, "from"));
		const char *to = json_string_value(json_object_get(e, "to"));
		bool mem = field != NULL && strcmp(field, "Memory") == 0;
		int rc = 0;

		if (left > 0 || field == NULL) {
			left++;
			continue;
		}
		specdiff_label(field, &what, &key);
		buf_reset(&line);
		rc |= buf_appendf(&line, "    %-9s", what);
		if (*key) {
			rc |= specdiff_put(&line, key, false);
			rc |= buf_appendf(&line, "  ");
		}
		if ((strcmp(what, "bind") == 0 || strcmp(what, "mount") == 0) &&
		    (from == NULL) != (to == NULL)) {
			rc |= buf_appendf(&line, "%s ", from == NULL ? "added" : "removed");
			rc |= specdiff_put(&line, from ? from : to, false);
		} else if (from != NULL && to != NULL && strcmp(from, to) == 0) {
			rc |= buf_appendf(&line, "(secret) changes");
		} else {
			rc |= specdiff_put(&line, from, mem);
			rc |= buf_appendf(&line, " -> ");
			rc |= specdiff_put(&line, to, mem);
		}
		rc |= buf_appendf(&line, "\n");
		if (rc != 0 || b.len + line.len + tailroom > b.max ||
		    buf_append(&b, line.data, line.len) != 0)
			left++;
	}
	if (left > 0 && specdiff_fit(&b, "    ... and %zu more difference%s\n", left,
	                             left == 1 ? "" : "s") != 0)
		goto fail;
	if (json_array_size(diff) == 0 && specdiff_fit(&b, "    no difference\n") != 0)
		goto fail;
	if (same != NULL && *same && specdiff_fit(&b, "    unchanged: %s\n", same) != 0)
		goto fail;
	buf_free(&line);
	return b.data != NULL ? (char *)b.data : strdup("");
fail:
	buf_free(&line);
	buf_free(&b);
	return NULL;
}
