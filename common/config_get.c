/* Typed getters of configuration values: integers, booleans, durations,
 * sizes, paths, lists and labels, each with its range and default (config.h). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/config.h"
#include "common/config_impl.h"

int
config_get_str(const struct config *c, const char *section, const char *key, const char *def,
               const char **out, char *err, size_t errlen)
{
	const struct config_entry *e = config_find(c, section, key);

	(void)err;
	(void)errlen;
	if (e == NULL) {
		*out = def;
		return 1;
	}
	*out = e->value;
	return 0;
}

/* Parses a run of decimal digits at s (at least one; no sign or blanks, which
 * strtoull would accept). Returns 0 with the value and *end after the digits,
 * or -1 on no digits or overflow. */
static int
config_parse_digits(const char *s, uint64_t *v, const char **end)
{
	unsigned long long x;
	char *e;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	x = strtoull(s, &e, 10);
	if (errno != 0 || e == s)
		return -1;
	*v = (uint64_t)x;
	*end = e;
	return 0;
}

int
config_get_uint(const struct config *c, const char *section, const char *key, uint64_t def,
                uint64_t min, uint64_t max, uint64_t *out, char *err, size_t errlen)
{
	const struct config_entry *e = config_find(c, section, key);
	const char *end = NULL;
	char shown[300];
	uint64_t v = 0;

	if (e == NULL) {
		*out = def;
		return 1;
	}
	if (config_parse_digits(e->value, &v, &end) != 0 || *end != '\0' || v < min || v > max) {
		config_quote(e->value, shown, sizeof(shown));
		config_fail(c, section, key, e->line, err, errlen,
		            "expected an integer from %llu to %llu, got '%s'",
		            (unsigned long long)min, (unsigned long long)max, shown);
		return -1;
	}
	*out = v;
	return 0;
}

int
config_get_bool(const struct config *c, const char *section, const char *key, int def, int *out,
                char *err, size_t errlen)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};
	const struct config_entry *e = config_find(c, section, key);
	char shown[300];
	size_t i;

	if (e == NULL) {
		*out = def ? 1 : 0;
		return 1;
	}
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(e->value, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(e->value, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	config_quote(e->value, shown, sizeof(shown));
	config_fail(c, section, key, e->line, err, errlen,
	            "expected true/false, yes/no, on/off or 1/0, got '%s'", shown);
	return -1;
}

/* A unit suffix and its multiplier. */
struct config_unit {
	const char *name;
	uint64_t mult;
};

static const struct config_unit config_duration_units[] = {
    {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}, {"", 1000},
};

static const struct config_unit config_size_units[] = {
    {"", 1},
    {"b", 1},
    {"k", 1ULL << 10},
    {"kb", 1ULL << 10},
    {"kib", 1ULL << 10},
    {"m", 1ULL << 20},
    {"mb", 1ULL << 20},
    {"mib", 1ULL << 20},
    {"g", 1ULL << 30},
    {"gb", 1ULL << 30},
    {"gib", 1ULL << 30},
    {"t", 1ULL << 40},
    {"tb", 1ULL << 40},
    {"tib", 1ULL << 40},
};

/* Parses "<digits><unit>" with the unit looked up in units (case-insensitive
 * when icase). Returns 0 with the product, or -1 on bad syntax or overflow. */
static int
config_parse_scaled(const char *s, const struct config_unit *units, size_t nunits, int icase,
                    uint64_t *out)
{
	const char *end = NULL;
	uint64_t v = 0;
	size_t i;

	if (config_parse_digits(s, &v, &end) != 0)
		return -1;
	for (i = 0; i < nunits; i++) {
		if ((icase ? strcasecmp(end, units[i].name) : strcmp(end, units[i].name)) != 0)
			continue;
		if (v > UINT64_MAX / units[i].mult)
			return -1;
		*out = v * units[i].mult;
		return 0;
	}
	return -1;
}

/* A scaled quantity (a duration, a size): how it is parsed and shown. */
struct config_scale {
	const char *what;                /* "a duration" */
	const char *examples;            /* for messages */
	const struct config_unit *parse; /* units accepted after the digits */
	size_t nparse;
	int icase;                      /* units are case-insensitive */
	const struct config_unit *show; /* units for messages, largest first */
	size_t nshow;
	const char *base; /* shown after a number no unit divides */
};

#define CONFIG_NUNITS(u) (sizeof(u) / sizeof((u)[0]))

static const struct config_unit config_duration_shown[] = {
    {"d", 86400000},
    {"h", 3600000},
    {"m", 60000},
    {"s", 1000},
};
static const struct config_scale config_duration = {
    "a duration",
    "1500ms, 30s, 5m, 2h",
    config_duration_units,
    CONFIG_NUNITS(config_duration_units),
    0,
    config_duration_shown,
    CONFIG_NUNITS(config_duration_shown),
    "ms",
};

static const struct config_unit config_size_shown[] = {
    {"T", 1ULL << 40},
    {"G", 1ULL << 30},
    {"M", 1ULL << 20},
    {"K", 1ULL << 10},
};
static const struct config_scale config_size = {
    "a size",
    "10K, 512M, 8G",
    config_size_units,
    CONFIG_NUNITS(config_size_units),
    1,
    config_size_shown,
    CONFIG_NUNITS(config_size_shown),
    "",
};

/* Shows n the way a user would write it: the largest exact unit. */
static void
config_show_scaled(uint64_t n, const struct config_scale *k, char *out, size_t outlen)
{
	size_t i;

	for (i = 0; i < k->nshow; i++) {
		if (n != 0 && n % k->show[i].mult == 0) {
			snprintf(out, outlen, "%llu%s", (unsigned long long)(n / k->show[i].mult),
			         k->show[i].name);
			return;
		}
	}
	snprintf(out, outlen, "%llu%s", (unsigned long long)n, k->base);
}

/* config_get_duration_ms and config_get_size: a value of kind k from min to
 * max, else "expected <what> from <min> to <max> (e.g. ...), got '...'". */
static int
config_get_scaled(const struct config *c, const char *section, const char *key, uint64_t def,
                  uint64_t min, uint64_t max, uint64_t *out, const struct config_scale *k,
                  char *err, size_t errlen)
{
	const struct config_entry *e = config_find(c, section, key);
	char shown[300], lo[32], hi[32];
	uint64_t v = 0;

	if (e == NULL) {
		*out = def;
		return 1;
	}
	if (config_parse_scaled(e->value, k->parse, k->nparse, k->icase, &v) != 0 || v < min ||
	    v > max) {
		config_quote(e->value, shown, sizeof(shown));
		config_show_scaled(min, k, lo, sizeof(lo));
		config_show_scaled(max, k, hi, sizeof(hi));
		config_fail(c, section, key, e->line, err, errlen,
		            "expected %s from %s to %s (e.g. %s), got '%s'", k->what, lo, hi,
		            k->examples, shown);
		return -1;
	}
	*out = v;
	return 0;
}

int
config_parse_duration_ms(const char *s, uint64_t *ms)
{
	return config_parse_scaled(s, config_duration.parse, config_duration.nparse,
	                           config_duration.icase, ms);
}

int
config_get_duration_ms(const struct config *c, const char *section, const char *key,
                       uint64_t def_ms, uint64_t min_ms, uint64_t max_ms, uint64_t *out_ms,
                       char *err, size_t errlen)
{
	return config_get_scaled(c, section, key, def_ms, min_ms, max_ms, out_ms, &config_duration,
	                         err, errlen);
}

int
config_get_size(const struct config *c, const char *section, const char *key, uint64_t def,
                uint64_t min, uint64_t max, uint64_t *out, char *err, size_t errlen)
{
	return config_get_scaled(c, section, key, def, min, max, out, &config_size, err, errlen);
}

/* Is p an absolute path in normal form (see config_get_path)? */
static int
config_path_ok(const char *p)
{
	const char *s, *slash;
	size_t n;

	if (p[0] != '/' || strlen(p) >= PATH_MAX)
		return 0;
	for (s = p; *s != '\0'; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	}
	if (p[1] == '\0')
		return 1;
	for (s = p + 1;; s = slash + 1) {
		slash = strchr(s, '/');
		n = slash != NULL ? (size_t)(slash - s) : strlen(s);
		if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
			return 0;
		if (slash == NULL)
			return 1;
	}
}

int
config_get_path(const struct config *c, const char *section, const char *key, const char *def,
                const char **out, char *err, size_t errlen)
{
	const struct config_entry *e = config_find(c, section, key);
	char shown[300];

	if (e == NULL) {
		*out = def;
		return 1;
	}
	if (!config_path_ok(e->value)) {
		config_quote(e->value, shown, sizeof(shown));
		config_fail(c, section, key, e->line, err, errlen,
		            "expected an absolute path without '.', '..', '//' or a trailing '/', "
		            "got '%s'",
		            shown);
		return -1;
	}
	*out = e->value;
	return 0;
}

/* Splits text on commas into trimmed items copied one after another into store
 * and, unless items is NULL, pointed to from items. Returns 0, or -1 with a
 * message (without the location prefix) in why. */
static int
config_split(const char *text, const char **items, size_t max_items, size_t *n_items, char *store,
             size_t store_len, char *why, size_t whylen)
{
	const char *s = text, *comma, *b, *e;
	size_t used = 0, n = 0, len;

	*n_items = 0;
	while (config_blank(*s))
		s++;
	if (*s == '\0')
		return 0;
	for (;;) {
		comma = strchr(s, ',');
		e = comma != NULL ? comma : s + strlen(s);
		b = s;
		while (b < e && config_blank(*b))
			b++;
		while (e > b && config_blank(e[-1]))
			e--;
		len = (size_t)(e - b);
		if (len == 0) {
			snprintf(why, whylen, "empty item in the comma-separated list");
			return -1;
		}
		if (n == max_items) {
			snprintf(why, whylen, "expected at most %zu comma-separated items",
			         max_items);
			return -1;
		}
		if (len + 1 > store_len - used) {
			snprintf(why, whylen, "list too long (more than %zu bytes)", store_len);
			return -1;
		}
		memcpy(store + used, b, len);
		store[used + len] = '\0';
		if (items != NULL)
			items[n] = store + used;
		n++;
		used += len + 1;
		if (comma == NULL)
			break;
		s = comma + 1;
	}
	*n_items = n;
	return 0;
}

int
config_get_list(const struct config *c, const char *section, const char *key, const char *def,
                const char **items, size_t max_items, size_t *n_items, char *store,
                size_t store_len, char *err, size_t errlen)
{
	const struct config_entry *e = config_find(c, section, key);
	const char *text = e != NULL ? e->value : def;
	char why[256];

	*n_items = 0;
	if (text == NULL)
		return 1;
	if (config_split(text, items, max_items, n_items, store, store_len, why, sizeof(why)) !=
	    0) {
		config_fail(c, section, key, e != NULL ? e->line : 0, err, errlen, "%s", why);
		return -1;
	}
	return e != NULL ? 0 : 1;
}

/* Checks one "k=v" item in place (item is in the caller's store) and fills lab. */
static int
config_label_parse(char *item, struct config_label *lab, char *why, size_t whylen)
{
	char shown[300];
	char *eq = strchr(item, '='), *v, *end;
	const char *s;

	config_quote(item, shown, sizeof(shown));
	if (eq == NULL) {
		snprintf(why, whylen, "expected key=value labels separated by commas, got '%s'",
		         shown);
		return -1;
	}
	end = eq;
	while (end > item && config_blank(end[-1]))
		end--;
	*end = '\0';
	if (!config_name_ok(item, strlen(item), CONFIG_MAX_LABEL_KEY)) {
		snprintf(why, whylen, "label '%s': the key must be 1 to %d of A-Z a-z 0-9 . _ -",
		         shown, CONFIG_MAX_LABEL_KEY);
		return -1;
	}
	v = eq + 1;
	while (config_blank(*v))
		v++;
	for (s = v; *s != '\0'; s++) {
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			break;
	}
	if (*s != '\0' || strlen(v) > CONFIG_MAX_LABEL_VALUE) {
		snprintf(why, whylen,
		         "label '%s': the value must be at most %d printable characters", item,
		         CONFIG_MAX_LABEL_VALUE);
		return -1;
	}
	lab->key = item;
	lab->value = v;
	return 0;
}

int
config_get_labels(const struct config *c, const char *section, const char *key, const char *def,
                  struct config_label *labels, size_t max_labels, size_t *n_labels, char *store,
                  size_t store_len, char *err, size_t errlen)
{
	const struct config_entry *e = config_find(c, section, key);
	const char *text = e != NULL ? e->value : def;
	char why[512];
	char *item, *next;
	size_t n = 0, i, j;
	int ret = -1;

	*n_labels = 0;
	if (text == NULL)
		return 1;
	if (config_split(text, NULL, max_labels, &n, store, store_len, why, sizeof(why)) != 0)
		goto out;
	/* The items lie one after another in the caller's store; each is split in
	 * place into key and value. */
	for (i = 0, item = store; i < n; i++, item = next) {
		next = item + strlen(item) + 1;
		if (config_label_parse(item, &labels[i], why, sizeof(why)) != 0)
			goto out;
		for (j = 0; j < i; j++) {
			if (strcmp(labels[j].key, labels[i].key) == 0) {
				snprintf(why, sizeof(why), "label '%s' given twice", labels[i].key);
				goto out;
			}
		}
	}
	*n_labels = n;
	ret = e != NULL ? 0 : 1;
out:
	if (ret < 0)
		config_fail(c, section, key, e != NULL ? e->line : 0, err, errlen, "%s", why);
	return ret;
}
