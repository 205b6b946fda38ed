/* INI configuration files (parsed by inih): strict loading with file:line
 * messages, schema checks, and typed getters with ranges and defaults. */
#ifndef ODC_COMMON_CONFIG_H
#define ODC_COMMON_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Bounds on what a configuration may hold. */
#define CONFIG_MAX_FILE        (1024 * 1024) /* bytes in the whole file */
#define CONFIG_MAX_LINE        4096          /* bytes in a line, without "\n" or "\r\n" */
#define CONFIG_MAX_KEYS        4096          /* key = value lines */
#define CONFIG_MAX_SECTION     48            /* bytes in a [section] name */
#define CONFIG_MAX_KEY         64            /* bytes in a key name */
#define CONFIG_MAX_LABEL_KEY   64
#define CONFIG_MAX_LABEL_VALUE 128

/* The file format is inih's: "[section]" lines, "key = value" (or "key: value")
 * lines, whole-line comments starting with ';' or '#', and inline comments
 * starting with " ;" (so a value cannot contain a ';' after a space). Values are
 * taken literally (quotes are not removed) with surrounding blanks trimmed.
 * On top of inih, a configuration is refused when a key is outside any section,
 * a key appears twice in one section, a section or key name is not made of
 * [A-Za-z0-9._-], or a bound above is passed. Indentation is ignored: inih's
 * multi-line values (continuation lines) are not supported. A section may
 * appear more than once; its keys are merged. Names are case-sensitive. */
struct config;

/* Loads and parses a file. Returns a configuration the caller owns (free with
 * config_free), or NULL with a message in err such as "path:3: syntax error".
 * Not thread-safe: it raises inih's global line limit (ini_max_line). */
struct config *config_load(const char *path, char *err, size_t errlen);

/* Same as config_load() for text already in memory (NUL-terminated); name
 * stands for the path in messages. */
struct config *config_load_string(const char *name, const char *text, char *err, size_t errlen);

/* Wipes the values (they may hold passwords) and frees; NULL is fine. */
void config_free(struct config *c);

/* The path (or name) the configuration was loaded from; owned by c. */
const char *config_path(const struct config *c);

/* The line where section.key was set, or 0 when it is absent. */
int config_line(const struct config *c, const char *section, const char *key);

/* Number of key = value entries, and the i-th in file order (strings owned by
 * c). config_entry returns 0, or -1 when i is out of range. */
size_t config_count(const struct config *c);
int config_entry(const struct config *c, size_t i, const char **section, const char **key,
                 const char **value, int *line);

/* Problems. A loader goes on past a bad value so that one run reports every
 * problem in the file: config_check_known, config_require, each getter below
 * that returns -1 and the config_check_* functions record what they find, and
 * the loader adds its own with config_problem. Every problem reads
 * "path:line: section.key: what is wrong", where line is the key's line or,
 * when the key is absent, the line of its [section], or 0 when the file has
 * no such section either. A syntax error (config_load returns NULL) still
 * stops at the first. */

/* Records a problem about section.key (printf-style message). */
void config_problem(const struct config *c, const char *section, const char *key, const char *fmt,
                    ...) __attribute__((format(printf, 4, 5)));

/* How many problems have been recorded, and the i-th (owned by c; NULL when
 * i is out of range) in the order found. */
size_t config_problem_count(const struct config *c);
const char *config_problem_text(const struct config *c, size_t i);

/* Writes every problem of c to f, one a line in file order, then
 * "path: N problems" (nothing when there are none). When c is NULL
 * (config_load failed), writes err and "path: 1 problem". Returns the number. */
size_t config_report(FILE *f, const struct config *c, const char *path, const char *err);

/* Checks every key against known, a NULL-terminated list of "section.key"
 * entries where "section.*" allows any key in that section. Returns 0, or -1
 * when a key is unknown: each is recorded as "path:line: section.key: unknown
 * key", and err holds the first in file order. */
int config_check_known(const struct config *c, const char *const *known, char *err, size_t errlen);

/* Returns 0 when section.key is set, else -1 with (recorded, and in err)
 * "path:line: section.key: required key missing" (line as for problems). */
int config_require(const struct config *c, const char *section, const char *key, char *err,
                   size_t errlen);

/* Typed getters. Each returns 0 when the key is set and valid (value in *out),
 * 1 when it is absent (the default is written to *out), or -1 with a message
 * "path:line: section.key: what is wrong" in err (which may be NULL with
 * errlen 0) and recorded as a problem, and *out untouched. */

/* The value as written (owned by c); def may be NULL. */
int config_get_str(const struct config *c, const char *section, const char *key, const char *def,
                   const char **out, char *err, size_t errlen);

/* A decimal integer from min to max (no sign, no blanks, no hex). */
int config_get_uint(const struct config *c, const char *section, const char *key, uint64_t def,
                    uint64_t min, uint64_t max, uint64_t *out, char *err, size_t errlen);

/* true/false, yes/no, on/off or 1/0 (case-insensitive); *out is 1 or 0. */
int config_get_bool(const struct config *c, const char *section, const char *key, int def, int *out,
                    char *err, size_t errlen);

/* A duration (config_parse_duration_ms), in milliseconds from min_ms to max_ms. */
int config_get_duration_ms(const struct config *c, const char *section, const char *key,
                           uint64_t def_ms, uint64_t min_ms, uint64_t max_ms, uint64_t *out_ms,
                           char *err, size_t errlen);

/* The one duration grammar, of configuration files and of odcctl's options:
 * a decimal number (digits only: no sign, blanks or fraction) with a unit ms,
 * s, m, h or d ("1500ms", "30s", "5m", "2h", "1d"); a bare number means
 * seconds. Returns 0 with the milliseconds in *ms, or -1 on bad syntax or
 * overflow (*ms untouched). */
int config_parse_duration_ms(const char *s, uint64_t *ms);

/* A size in bytes: a decimal number with an optional binary unit K, M, G or T
 * (1024-based, case-insensitive, "B" or "iB" may follow: "10K", "512MiB",
 * "8G"); a bare number means bytes. From min to max. */
int config_get_size(const struct config *c, const char *section, const char *key, uint64_t def,
                    uint64_t min, uint64_t max, uint64_t *out, char *err, size_t errlen);

/* An absolute path already in normal form: starts with '/', no empty, "." or
 * ".." component (so no "//"), no trailing '/' (except "/" itself), no control
 * characters, shorter than PATH_MAX. The value is owned by c; def is not checked. */
int config_get_path(const struct config *c, const char *section, const char *key, const char *def,
                    const char **out, char *err, size_t errlen);

/* A comma-separated list, each item trimmed of blanks; an empty value is an
 * empty list, an empty item is an error. Items are copied, NUL-terminated, into
 * the caller's store (store_len bytes) and items[0..*n_items) point into it; at
 * most max_items are accepted. When absent, def (NULL = empty list) is parsed
 * the same way. On -1, *n_items is 0 and items/store hold nothing useful. */
int config_get_list(const struct config *c, const char *section, const char *key, const char *def,
                    const char **items, size_t max_items, size_t *n_items, char *store,
                    size_t store_len, char *err, size_t errlen);

/* One label of config_get_labels(); both strings point into the caller's store. */
struct config_label {
	const char *key;
	const char *value;
};

/* Comma-separated "k=v" pairs, e.g. "zone=hz, role=canary". Keys are 1-64 of
 * [A-Za-z0-9._-] and appear once; values are trimmed printable ASCII without
 * ',' of at most 128 bytes (may be empty). Storage works as in config_get_list. */
int config_get_labels(const struct config *c, const char *section, const char *key, const char *def,
                      struct config_label *labels, size_t max_labels, size_t *n_labels, char *store,
                      size_t store_len, char *err, size_t errlen);

/* A TCP port as written: 1 to 5 decimal digits making 1..65535 (no sign or
 * blanks). Returns 0 with *port, or -1. */
int config_parse_port(const char *s, unsigned *port);

/* A ZeroMQ endpoint: "tcp://HOST:PORT" (HOST a name, an IPv4 address or
 * "[IPv6]"; PORT 1..65535) or "ipc://PATH" (shorter than a unix socket path).
 * CONFIG_ENDPOINT_TCP refuses ipc://; CONFIG_ENDPOINT_BIND allows the
 * port "*" (any free port) and, in config_check_endpoint, the host "*" and
 * interface names. Nothing is resolved here. */
#define CONFIG_ENDPOINT_TCP  1u
#define CONFIG_ENDPOINT_BIND 2u
int config_get_endpoint(const struct config *c, const char *section, const char *key,
                        const char *def, unsigned flags, const char **out, char *err,
                        size_t errlen);

/* Checks of what a value names, for a daemon's start and its check-config:
 * each returns 0, or -1 after recording a problem at section.key. They check
 * as the user running them (run check-config as the daemon's user). */

/* A tcp:// endpoint's host resolves (flags as for config_get_endpoint); an
 * ipc:// endpoint, or a resolver that cannot answer now (EAI_AGAIN), passes. */
int config_check_endpoint(const struct config *c, const char *section, const char *key,
                          const char *endpoint, unsigned flags);

/* path is a directory this user may create entries in, or is missing and
 * can be made: its parent (CONFIG_DIR_PARENTS: its nearest existing
 * ancestor, when the daemon makes the whole chain) is such a directory. */
#define CONFIG_DIR_PARENTS 1u
int config_check_dir(const struct config *c, const char *section, const char *key, const char *path,
                     unsigned flags);

/* path is a regular file this user may execute. */
int config_check_exec(const struct config *c, const char *section, const char *key,
                      const char *path);

/* Table-driven loading: a loader describes each key once, in a table of
 * struct config_field walked in order by config_load_fields(), which calls
 * the getter its kind names and stores the value into the caller's struct.
 * Keys that need code (lists, keys, cross-field checks) are CONFIG_CUSTOM
 * rows whose check does the work at that point of the walk, so problems are
 * recorded in table order. */
enum config_kind {
	CONFIG_STR,      /* const char *: config_get_str, default def_str */
	CONFIG_PATH,     /* const char *: config_get_path, default def_str */
	CONFIG_ENDPOINT, /* const char *: config_get_endpoint, default def_str */
	CONFIG_UINT,     /* uint64_t: config_get_uint, def from min to max */
	CONFIG_DURATION, /* uint64_t: config_get_duration_ms, def from min to max */
	CONFIG_SIZE,     /* uint64_t: config_get_size, def from min to max */
	CONFIG_CUSTOM,   /* no getter: check alone reads the key */
};

/* Flags of a row, besides CONFIG_ENDPOINT_* for a CONFIG_ENDPOINT. */
#define CONFIG_REQUIRED      0x100u /* config_require first; when missing, nothing else */
#define CONFIG_CHECK_DEFAULT 0x200u /* words and check see a default too */

/* offset when the value is not stored (its check uses it). */
#define CONFIG_UNSTORED ((size_t)-1)

struct config_field {
	const char *section; /* NULL: the section given to config_load_fields */
	const char *key;
	enum config_kind kind;
	unsigned flags;
	size_t offset; /* of the value in the caller's struct, or CONFIG_UNSTORED */
	const char *def_str;
	uint64_t def, min, max;
	/* For string kinds, NULL or the NULL-terminated words the value must be
	 * one of ("expected debug, info, warn or error" otherwise). */
	const char *const *words;
	/* Called when the getter returned 0 (1 too with CONFIG_CHECK_DEFAULT)
	 * and the words matched; always for CONFIG_CUSTOM (unless a required
	 * key is missing). value is the string got (NULL for numbers and
	 * CONFIG_CUSTOM); obj is the caller's struct. Records its own problems. */
	void (*check)(const struct config *c, const char *section, const char *key,
	              const char *value, void *obj);
};

/* Walks fields[0..n) in order over c, storing each value into obj and
 * recording every problem (config_problem); section stands for a NULL
 * section of a row ([webhook.NAME] sections share one table). */
void config_load_fields(const struct config *c, const char *section,
                        const struct config_field *fields, size_t n, void *obj);

#endif
