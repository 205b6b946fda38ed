/* Configuration problems: recorded while a loader checks the values, then
 * reported in file order (config.h, "Problems"). */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/config_impl.h"

static void config_record(const struct config *c, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Adds one problem, already formatted with its location, shown at line. */
static void
config_record(const struct config *c, int line, const char *fmt, ...)
{
	struct config_problems *pr = c->probs;
	struct config_problem_entry *np;
	char text[1400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (pr->n == pr->cap) {
		size_t ncap = pr->cap ? pr->cap * 2 : 16;
		np = realloc(pr->p, ncap * sizeof(*np));
		if (np == NULL) {
			pr->lost++;
			return;
		}
		pr->p = np;
		pr->cap = ncap;
	}
	pr->p[pr->n].text = strdup(text);
	if (pr->p[pr->n].text == NULL) {
		pr->lost++;
		return;
	}
	pr->p[pr->n++].line = line;
}

/* Does "section.key" pattern k cover this entry? Sections may contain dots, so
 * k is matched against the entry's section first rather than split on a dot. */
static int
config_known_match(const char *k, const struct config_entry *e)
{
	size_t slen = strlen(e->section);

	if (strncmp(k, e->section, slen) != 0 || k[slen] != '.')
		return 0;
	return strcmp(k + slen + 1, "*") == 0 || strcmp(k + slen + 1, e->key) == 0;
}

int
config_check_known(const struct config *c, const char *const *known, char *err, size_t errlen)
{
	size_t i, j;
	int ret = 0;

	for (i = 0; i < c->n; i++) {
		for (j = 0; known[j] != NULL; j++) {
			if (config_known_match(known[j], &c->e[i]))
				break;
		}
		if (known[j] != NULL)
			continue;
		config_record(c, c->e[i].line, "%s:%d: %s.%s: unknown key", c->path, c->e[i].line,
		              c->e[i].section, c->e[i].key);
		if (ret == 0)
			snprintf(err, errlen, "%s:%d: %s.%s: unknown key", c->path, c->e[i].line,
			         c->e[i].section, c->e[i].key);
		ret = -1;
	}
	return ret;
}

/* Where a problem about section.key is shown: the key's line, else the line
 * of its [section], else 0. */
static int
config_problem_line(const struct config *c, const char *section, const char *key)
{
	const struct config_entry *e = config_find(c, section, key);
	size_t i;

	if (e != NULL)
		return e->line;
	for (i = 0; i < c->nsec; i++) {
		if (strcmp(c->sec[i].name, section) == 0)
			return c->sec[i].line;
	}
	return 0;
}

int
config_require(const struct config *c, const char *section, const char *key, char *err,
               size_t errlen)
{
	int line;

	if (config_find(c, section, key) != NULL)
		return 0;
	line = config_problem_line(c, section, key);
	config_record(c, line, "%s:%d: %s.%s: required key missing", c->path, line, section, key);
	snprintf(err, errlen, "%s:%d: %s.%s: required key missing", c->path, line, section, key);
	return -1;
}

void
config_problem(const struct config *c, const char *section, const char *key, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	int line = config_problem_line(c, section, key);

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	config_record(c, line, "%s:%d: %s.%s: %s", c->path, line, section, key, msg);
}

size_t
config_problem_count(const struct config *c)
{
	return c->probs->n + c->probs->lost;
}

const char *
config_problem_text(const struct config *c, size_t i)
{
	return i < c->probs->n ? c->probs->p[i].text : NULL;
}

size_t
config_report(FILE *f, const struct config *c, const char *path, const char *err)
{
	const struct config_problems *pr;
	size_t i, j, n;

	if (c == NULL) {
		fprintf(f, "%s\n%s: 1 problem\n", err, path);
		return 1;
	}
	/* In file order, problems without a line (0) last; a stable insertion
	 * sort keeps the order they were found in within a line. The list is no
	 * part of the configuration's values, so sorting it is no change to c. */
	pr = c->probs;
	for (i = 1; i < pr->n; i++) {
		struct config_problem_entry t = pr->p[i];
		unsigned key = t.line > 0 ? (unsigned)t.line : UINT_MAX;

		for (j = i; j > 0; j--) {
			unsigned prev =
			    pr->p[j - 1].line > 0 ? (unsigned)pr->p[j - 1].line : UINT_MAX;
			if (prev <= key)
				break;
			pr->p[j] = pr->p[j - 1];
		}
		pr->p[j] = t;
	}
	for (i = 0; i < pr->n; i++)
		fprintf(f, "%s\n", pr->p[i].text);
	if (pr->lost > 0)
		fprintf(f, "%s: %zu more problems not shown: out of memory\n", c->path, pr->lost);
	n = config_problem_count(c);
	if (n > 0)
		fprintf(f, "%s: %zu problem%s\n", c->path, n, n == 1 ? "" : "s");
	return n;
}

/* Writes "path:line: section.key: <message>" to err and records it as a
 * problem; line 0 (a bad default) drops the line number. */
void
config_fail(const struct config *c, const char *section, const char *key, int line, char *err,
            size_t errlen, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0) {
		snprintf(err, errlen, "%s:%d: %s.%s: %s", c->path, line, section, key, msg);
		config_record(c, line, "%s:%d: %s.%s: %s", c->path, line, section, key, msg);
	} else {
		snprintf(err, errlen, "%s: %s.%s: default: %s", c->path, section, key, msg);
		config_record(c, 0, "%s: %s.%s: default: %s", c->path, section, key, msg);
	}
}
