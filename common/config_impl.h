/* Internals of the configuration module, shared by its files and by no one
 * else: config.c reads and parses a file and looks keys up, config_problem.c
 * records and reports problems, config_get.c holds the typed getters and
 * config_check.c the endpoints and the checks of what values name. */
#ifndef ODC_COMMON_CONFIG_IMPL_H
#define ODC_COMMON_CONFIG_IMPL_H

#include <stddef.h>

#include "common/config.h"

struct config_entry {
	char *section;
	char *key;
	char *value;
	int line;
};

/* The first line of each [section] name, for problems about a key it lacks. */
struct config_section {
	char *name;
	int line;
};

/* Problems recorded while a loader checks the values (config_problem). They
 * are kept apart from the values so that the getters, which take a const
 * configuration, can add to them. */
struct config_problems {
	struct config_problem_entry {
		int line;
		char *text;
	} * p;
	size_t n;
	size_t cap;
	size_t lost; /* problems not kept for want of memory */
};

struct config {
	char *path;
	struct config_entry *e;
	size_t n;
	size_t cap;
	struct config_section *sec;
	size_t nsec;
	size_t capsec;
	struct config_problems *probs;
};

/* The entry for section.key (owned by c), or NULL when it is absent. */
struct config_entry *config_find(const struct config *c, const char *section, const char *key);

/* Copies s into out for a message: at most 64 bytes, control and non-ASCII
 * bytes as \xNN, "..." when cut, so hostile input cannot forge lines. */
void config_quote(const char *s, char *out, size_t outlen);

/* 1 when the n bytes at s are 1 to max of [A-Za-z0-9._-], else 0. */
int config_name_ok(const char *s, size_t n, size_t max);

/* 1 for a blank inih trims (space, tab, CR, VT, FF), else 0. */
int config_blank(char ch);

/* Writes "path:line: section.key: <message>" to err (which may be NULL with
 * errlen 0) and records it as a problem; line 0 (a bad default) drops the
 * line number and says "default". */
void config_fail(const struct config *c, const char *section, const char *key, int line, char *err,
                 size_t errlen, const char *fmt, ...) __attribute__((format(printf, 7, 8)));

#endif
