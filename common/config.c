/* INI configuration: loading through inih with line numbers we track ourselves,
 * schema checks and typed getters (see config.h). */
#include "common/config.h"

#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <limits.h>
#include <net/if.h>
#include <netdb.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/*
 * Why a custom reader: Debian's libinih is built without INI_HANDLER_LINENO, so
 * the handler is not told the line it is looking at. We hand inih one line per
 * reader call from a buffer we read (bounded) ourselves; the reader counts lines,
 * so when inih calls the handler, the reader's count is that key's line.
 * The reader also enforces our line limit, refuses NUL bytes, checks [section]
 * lines (inih silently truncates section names past 49 bytes) and strips
 * indentation so inih never treats a line as a continuation of the previous value.
 */

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

/* State shared by the reader and the handler during one parse. */
struct config_parse {
	struct config *c;
	const char *text;
	size_t len;
	size_t pos;
	int lineno;   /* the line most recently handed to inih */
	int err_line; /* line of the first error we found ourselves, 0 if none */
	char *err;
	size_t errlen;
};

static void config_parse_fail(struct config_parse *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
config_parse_fail(struct config_parse *p, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (p->err_line != 0)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	p->err_line = p->lineno;
	snprintf(p->err, p->errlen, "%s:%d: %s", p->c->path, p->lineno, msg);
}

/* Copies s into out for a message: at most 64 bytes, control and non-ASCII
 * bytes as \xNN, "..." when cut, so hostile input cannot forge lines. */
static void
config_quote(const char *s, char *out, size_t outlen)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;
	size_t pos = 0, shown = 0;

	for (; *u != '\0' && pos + 8 < outlen; u++, shown++) {
		if (shown == 64)
			break;
		if (*u < 0x20 || *u >= 0x7f) {
			out[pos++] = '\\';
			out[pos++] = 'x';
			out[pos++] = digits[*u >> 4];
			out[pos++] = digits[*u & 0x0f];
		} else {
			out[pos++] = (char)*u;
		}
	}
	if (*u != '\0' && pos + 4 <= outlen) {
		memcpy(out + pos, "...", 3);
		pos += 3;
	}
	out[pos] = '\0';
}

static int
config_name_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '.' || ch == '_' || ch == '-';
}

static int
config_name_ok(const char *s, size_t n, size_t max)
{
	size_t i;

	if (n == 0 || n > max)
		return 0;
	for (i = 0; i < n; i++) {
		if (!config_name_char(s[i]))
			return 0;
	}
	return 1;
}

static int
config_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\v' || ch == '\f';
}

/* Checks a "[section]" line (s, n bytes, indentation already removed): a valid
 * name, then only blanks or a comment. Returns 0, or -1 after recording why. A
 * line without ']' is left to inih, which calls it a syntax error. */
static int
config_check_section(struct config_parse *p, const char *s, size_t n)
{
	const char *close = memchr(s, ']', n);
	char shown[128], name[CONFIG_MAX_SECTION * 4 + 16];
	size_t i, nlen;

	if (close == NULL)
		return 0;
	nlen = (size_t)(close - s) - 1;
	if (!config_name_ok(s + 1, nlen, CONFIG_MAX_SECTION)) {
		if (nlen >= sizeof(name))
			nlen = sizeof(name) - 1;
		memcpy(name, s + 1, nlen);
		name[nlen] = '\0';
		config_quote(name, shown, sizeof(shown));
		config_parse_fail(p, "invalid section name '%s' (use 1 to %d of A-Z a-z 0-9 . _ -)",
		                  shown, CONFIG_MAX_SECTION);
		return -1;
	}
	for (i = (size_t)(close - s) + 1; i < n; i++) {
		if (s[i] == ';' || s[i] == '#')
			break;
		if (!config_blank(s[i])) {
			config_parse_fail(p, "unexpected text after ']'");
			return -1;
		}
	}
	return 0;
}

/* Records where a "[section]" line (already checked) first names its section. */
static int
config_section_seen(struct config_parse *p, const char *s, size_t n)
{
	const char *close = memchr(s, ']', n);
	struct config *c = p->c;
	struct config_section *ns;
	size_t len, i;

	if (close == NULL)
		return 0; /* inih calls it a syntax error */
	len = (size_t)(close - s) - 1;
	for (i = 0; i < c->nsec; i++) {
		if (strlen(c->sec[i].name) == len && memcmp(c->sec[i].name, s + 1, len) == 0)
			return 0;
	}
	if (c->nsec == c->capsec) {
		size_t ncap = c->capsec ? c->capsec * 2 : 16;
		ns = realloc(c->sec, ncap * sizeof(*ns));
		if (ns == NULL)
			goto oom;
		c->sec = ns;
		c->capsec = ncap;
	}
	c->sec[c->nsec].name = strndup(s + 1, len);
	if (c->sec[c->nsec].name == NULL)
		goto oom;
	c->sec[c->nsec++].line = p->lineno;
	return 0;
oom:
	config_parse_fail(p, "out of memory");
	return -1;
}

/* inih's fgets-like reader: returns the next line (with its "\n") in str. */
static char *
config_reader(char *str, int num, void *stream)
{
	struct config_parse *p = stream;
	const char *line, *nl;
	size_t n, content;

	if (p->err_line != 0 || p->pos >= p->len)
		return NULL;
	line = p->text + p->pos;
	nl = memchr(line, '\n', p->len - p->pos);
	n = nl != NULL ? (size_t)(nl - line) : p->len - p->pos;
	p->pos += n + (nl != NULL ? 1 : 0);
	p->lineno++;

	content = n > 0 && line[n - 1] == '\r' ? n - 1 : n;
	if (content > CONFIG_MAX_LINE) {
		config_parse_fail(p, "line too long");
		return NULL;
	}
	if (memchr(line, '\0', n) != NULL) {
		config_parse_fail(p, "NUL byte in line");
		return NULL;
	}
	if (p->lineno == 1 && n >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0) {
		line += 3;
		n -= 3;
	}
	while (n > 0 && config_blank(*line)) {
		line++;
		n--;
	}
	if (num < 0 || (size_t)num < n + 2) {
		/* Only if someone lowered ini_max_line behind our back. */
		config_parse_fail(p, "line longer than the INI parser's buffer");
		return NULL;
	}
	if (n > 0 && line[0] == '[' && config_check_section(p, line, n) != 0)
		return NULL;
	if (n > 0 && line[0] == '[' && config_section_seen(p, line, n) != 0)
		return NULL;
	memcpy(str, line, n);
	str[n] = '\n';
	str[n + 1] = '\0';
	return str;
}

static struct config_entry *
config_find(const struct config *c, const char *section, const char *key)
{
	size_t i;

	for (i = 0; i < c->n; i++) {
		if (strcmp(c->e[i].section, section) == 0 && strcmp(c->e[i].key, key) == 0)
			return &c->e[i];
	}
	return NULL;
}

static int
config_add(struct config *c, const char *section, const char *key, const char *value, int line)
{
	struct config_entry *e, *ne;
	size_t ncap;

	if (c->n == c->cap) {
		ncap = c->cap ? c->cap * 2 : 32;
		ne = realloc(c->e, ncap * sizeof(*ne));
		if (ne == NULL)
			return -1;
		c->e = ne;
		c->cap = ncap;
	}
	e = &c->e[c->n];
	e->section = strdup(section);
	e->key = strdup(key);
	e->value = strdup(value);
	e->line = line;
	if (e->section == NULL || e->key == NULL || e->value == NULL) {
		free(e->section);
		free(e->key);
		free(e->value);
		return -1;
	}
	c->n++;
	return 0;
}

/* inih's handler: one key = value of the current line. Returns 1 to go on. */
static int
config_handler(void *user, const char *section, const char *name, const char *value)
{
	struct config_parse *p = user;
	const struct config_entry *first;
	char shown[128];

	if (p->err_line != 0)
		return 0;
	if (name[0] == '\0') {
		/* "= value": inih accepts it, but it is no key = value line. */
		config_parse_fail(p, "syntax error");
		return 0;
	}
	config_quote(name, shown, sizeof(shown));
	if (section[0] == '\0') {
		config_parse_fail(p, "%s: key outside of any [section]", shown);
		return 0;
	}
	if (!config_name_ok(name, strlen(name), CONFIG_MAX_KEY)) {
		config_parse_fail(p, "%s.%s: invalid key name (use 1 to %d of A-Z a-z 0-9 . _ -)",
		                  section, shown, CONFIG_MAX_KEY);
		return 0;
	}
	first = config_find(p->c, section, name);
	if (first != NULL) {
		config_parse_fail(p, "%s.%s: duplicate (first set at line %d)", section, name,
		                  first->line);
		return 0;
	}
	if (p->c->n >= CONFIG_MAX_KEYS) {
		config_parse_fail(p, "too many keys (limit %d)", CONFIG_MAX_KEYS);
		return 0;
	}
	if (config_add(p->c, section, name, value, p->lineno) != 0) {
		config_parse_fail(p, "out of memory");
		return 0;
	}
	return 1;
}

/* Parses len bytes of text (which must have a NUL at text[len]). */
static struct config *
config_parse_text(const char *name, const char *text, size_t len, char *err, size_t errlen)
{
	struct config_parse p;
	struct config *c = NULL;
	int r, ok = 0;

	if (len > CONFIG_MAX_FILE) {
		snprintf(err, errlen, "%s: file too large (limit %d bytes)", name, CONFIG_MAX_FILE);
		goto out;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL || (c->path = strdup(name)) == NULL ||
	    (c->probs = calloc(1, sizeof(*c->probs))) == NULL) {
		snprintf(err, errlen, "%s: out of memory", name);
		goto out;
	}
	memset(&p, 0, sizeof(p));
	p.c = c;
	p.text = text;
	p.len = len;
	p.err = err;
	p.errlen = errlen;
	/* Debian's inih takes its line buffer size from this global (default 200);
	 * room for our longest line plus "\r\n" and the NUL. */
	if (ini_max_line < CONFIG_MAX_LINE + 3)
		ini_max_line = CONFIG_MAX_LINE + 3;
	r = ini_parse_stream(config_reader, &p, config_handler, &p);
	if (r == -2) {
		snprintf(err, errlen, "%s: out of memory", name);
		goto out;
	}
	/* inih reports the first line it rejected; ours may come later or earlier. */
	if (r > 0 && (p.err_line == 0 || r < p.err_line)) {
		snprintf(err, errlen, "%s:%d: syntax error", name, r);
		goto out;
	}
	if (r != 0 || p.err_line != 0)
		goto out;
	ok = 1;
out:
	if (!ok) {
		config_free(c);
		c = NULL;
	}
	return c;
}

struct config *
config_load_string(const char *name, const char *text, char *err, size_t errlen)
{
	return config_parse_text(name, text, strnlen(text, CONFIG_MAX_FILE + 1), err, errlen);
}

struct config *
config_load(const char *path, char *err, size_t errlen)
{
	struct config *c = NULL;
	struct stat st;
	char *text = NULL;
	size_t got = 0;
	ssize_t r;
	int fd;

	/* O_NONBLOCK: a FIFO at path must not hang us before fstat refuses it. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) != 0) {
		snprintf(err, errlen, "%s: fstat: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		goto out;
	}
	/* One byte past the limit tells "exactly at the limit" from "too large". */
	text = malloc(CONFIG_MAX_FILE + 2);
	if (text == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	while (got < CONFIG_MAX_FILE + 1) {
		r = read(fd, text + got, CONFIG_MAX_FILE + 1 - got);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "%s: read: %s", path, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	text[got] = '\0';
	c = config_parse_text(path, text, got, err, errlen);
out:
	if (fd >= 0)
		close(fd);
	if (text != NULL) {
		/* The file may hold passwords. */
		explicit_bzero(text, got);
		free(text);
	}
	return c;
}

void
config_free(struct config *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->n; i++) {
		explicit_bzero(c->e[i].value, strlen(c->e[i].value));
		free(c->e[i].section);
		free(c->e[i].key);
		free(c->e[i].value);
	}
	free(c->e);
	for (i = 0; i < c->nsec; i++)
		free(c->sec[i].name);
	free(c->sec);
	if (c->probs != NULL) {
		for (i = 0; i < c->probs->n; i++)
			free(c->probs->p[i].text);
		free(c->probs->p);
		free(c->probs);
	}
	free(c->path);
	free(c);
}

const char *
config_path(const struct config *c)
{
	return c->path;
}

int
config_line(const struct config *c, const char *section, const char *key)
{
	const struct config_entry *e = config_find(c, section, key);

	return e != NULL ? e->line : 0;
}

size_t
config_count(const struct config *c)
{
	return c->n;
}

int
config_entry(const struct config *c, size_t i, const char **section, const char **key,
             const char **value, int *line)
{
	if (i >= c->n)
		return -1;
	*section = c->e[i].section;
	*key = c->e[i].key;
	*value = c->e[i].value;
	*line = c->e[i].line;
	return 0;
}

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

static void config_fail(const struct config *c, const char *section, const char *key, int line,
                        char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

/* Writes "path:line: section.key: <message>" to err and records it as a
 * problem; line 0 (a bad default) drops the line number. */
static void
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

/* Shows a duration the way a user would write it: the largest exact unit. */
static void
config_show_duration(uint64_t ms, char *out, size_t outlen)
{
	static const struct config_unit units[] = {
	    {"d", 86400000},
	    {"h", 3600000},
	    {"m", 60000},
	    {"s", 1000},
	};
	size_t i;

	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (ms != 0 && ms % units[i].mult == 0) {
			snprintf(out, outlen, "%llu%s", (unsigned long long)(ms / units[i].mult),
			         units[i].name);
			return;
		}
	}
	snprintf(out, outlen, "%llums", (unsigned long long)ms);
}

static void
config_show_size(uint64_t n, char *out, size_t outlen)
{
	static const struct config_unit units[] = {
	    {"T", 1ULL << 40},
	    {"G", 1ULL << 30},
	    {"M", 1ULL << 20},
	    {"K", 1ULL << 10},
	};
	size_t i;

	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (n != 0 && n % units[i].mult == 0) {
			snprintf(out, outlen, "%llu%s", (unsigned long long)(n / units[i].mult),
			         units[i].name);
			return;
		}
	}
	snprintf(out, outlen, "%llu", (unsigned long long)n);
}

int
config_get_duration_ms(const struct config *c, const char *section, const char *key,
                       uint64_t def_ms, uint64_t min_ms, uint64_t max_ms, uint64_t *out_ms,
                       char *err, size_t errlen)
{
	const struct config_entry *e = config_find(c, section, key);
	char shown[300], lo[32], hi[32];
	uint64_t v = 0;

	if (e == NULL) {
		*out_ms = def_ms;
		return 1;
	}
	if (config_parse_scaled(e->value, config_duration_units,
	                        sizeof(config_duration_units) / sizeof(config_duration_units[0]), 0,
	                        &v) != 0 ||
	    v < min_ms || v > max_ms) {
		config_quote(e->value, shown, sizeof(shown));
		config_show_duration(min_ms, lo, sizeof(lo));
		config_show_duration(max_ms, hi, sizeof(hi));
		config_fail(
		    c, section, key, e->line, err, errlen,
		    "expected a duration from %s to %s (e.g. 1500ms, 30s, 5m, 2h), got '%s'", lo,
		    hi, shown);
		return -1;
	}
	*out_ms = v;
	return 0;
}

int
config_get_size(const struct config *c, const char *section, const char *key, uint64_t def,
                uint64_t min, uint64_t max, uint64_t *out, char *err, size_t errlen)
{
	const struct config_entry *e = config_find(c, section, key);
	char shown[300], lo[32], hi[32];
	uint64_t v = 0;

	if (e == NULL) {
		*out = def;
		return 1;
	}
	if (config_parse_scaled(e->value, config_size_units,
	                        sizeof(config_size_units) / sizeof(config_size_units[0]), 1,
	                        &v) != 0 ||
	    v < min || v > max) {
		config_quote(e->value, shown, sizeof(shown));
		config_show_size(min, lo, sizeof(lo));
		config_show_size(max, hi, sizeof(hi));
		config_fail(c, section, key, e->line, err, errlen,
		            "expected a size from %s to %s (e.g. 10K, 512M, 8G), got '%s'", lo, hi,
		            shown);
		return -1;
	}
	*out = v;
	return 0;
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

/* ---- endpoints ---- */

int
config_parse_port(const char *s, unsigned *port)
{
	unsigned v = 0;
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9' || i == 5)
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (i == 0 || v < 1 || v > 65535)
		return -1;
	*port = v;
	return 0;
}

/* Splits a "tcp://HOST:PORT" (HOST may be "[IPv6]") into host and port.
 * Returns NULL, or what is wrong. */
static const char *
config_tcp_split(const char *s, unsigned flags, char *host, size_t hostlen, char *port,
                 size_t portlen)
{
	const char *h = s + 6, *colon, *p, *end;
	unsigned v = 0;
	size_t n;

	/* ZeroMQ's "tcp://SOURCE;HOST:PORT" for a connect: HOST is the peer. */
	if (!(flags & CONFIG_ENDPOINT_BIND) && (p = strchr(h, ';')) != NULL)
		h = p + 1;
	if (*h == '[') {
		end = strchr(h, ']');
		if (end == NULL || end[1] != ':')
			return "an IPv6 address needs brackets and a port: tcp://[::1]:7701";
		colon = end + 1;
		h++;
	} else {
		colon = strrchr(h, ':');
		if (colon == NULL)
			return "no port";
		end = colon;
	}
	n = (size_t)(end - h);
	if (n == 0 || n >= hostlen)
		return "no host";
	for (p = h; p < end; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || *p == '/')
			return "blanks, '/' or non-ASCII bytes in the host";
	memcpy(host, h, n);
	host[n] = '\0';
	if (strcmp(colon + 1, "*") == 0 && (flags & CONFIG_ENDPOINT_BIND)) {
		snprintf(port, portlen, "0");
		return NULL;
	}
	if (config_parse_port(colon + 1, &v) != 0)
		return "the port is not a number from 1 to 65535";
	snprintf(port, portlen, "%u", v);
	return NULL;
}

int
config_get_endpoint(const struct config *c, const char *section, const char *key, const char *def,
                    unsigned flags, const char **out, char *err, size_t errlen)
{
	const struct config_entry *e = config_find(c, section, key);
	struct sockaddr_un sun;
	char host[256], port[8], shown[300];
	const char *why = NULL;

	if (e == NULL) {
		*out = def;
		return 1;
	}
	if (strncmp(e->value, "tcp://", 6) == 0) {
		why = config_tcp_split(e->value, flags, host, sizeof(host), port, sizeof(port));
	} else if (strncmp(e->value, "ipc://", 6) == 0 && !(flags & CONFIG_ENDPOINT_TCP)) {
		if (e->value[6] == '\0')
			why = "no path";
		else if (strlen(e->value + 6) >= sizeof(sun.sun_path))
			why = "the path is longer than a unix socket path may be";
	} else {
		why = "";
	}
	if (why != NULL) {
		config_quote(e->value, shown, sizeof(shown));
		config_fail(c, section, key, e->line, err, errlen, "expected %s%s%s, got '%s'",
		            flags & CONFIG_ENDPOINT_TCP ? "tcp://HOST:PORT"
		                                        : "tcp://HOST:PORT or ipc://PATH",
		            *why ? ": " : "", why, shown);
		return -1;
	}
	*out = e->value;
	return 0;
}

/* ---- what values name: files, directories, hosts ---- */

/* The name of the user these checks run as, for messages. */
static void
config_user(char *out, size_t outlen)
{
	struct passwd pw, *res = NULL;
	char buf[2048];

	if (getpwuid_r(geteuid(), &pw, buf, sizeof(buf), &res) == 0 && res != NULL)
		snprintf(out, outlen, "user %s", res->pw_name);
	else
		snprintf(out, outlen, "uid %u", (unsigned)geteuid());
}

int
config_check_endpoint(const struct config *c, const char *section, const char *key,
                      const char *endpoint, unsigned flags)
{
	struct addrinfo hints, *res = NULL;
	char host[256], port[8];
	int rc;

	if (strncmp(endpoint, "tcp://", 6) != 0 ||
	    config_tcp_split(endpoint, flags, host, sizeof(host), port, sizeof(port)) != NULL)
		return 0; /* ipc://, or a syntax the getter has reported */
	if ((flags & CONFIG_ENDPOINT_BIND) && strcmp(host, "*") == 0)
		return 0;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = (flags & CONFIG_ENDPOINT_BIND) ? AI_PASSIVE : 0;
	rc = getaddrinfo(host, port, &hints, &res);
	if (res != NULL)
		freeaddrinfo(res);
	/* ZeroMQ binds to an interface by its name too ("tcp://eth0:7701"). */
	if (rc == 0 || ((flags & CONFIG_ENDPOINT_BIND) && if_nametoindex(host) != 0))
		return 0;
	/* A resolver that cannot answer now (no network yet at boot) says
	 * nothing about the name: only a definite "no such host" is a problem,
	 * since a problem stops the daemon for good (exit status 2). */
	if (rc == EAI_AGAIN)
		return 0;
	config_problem(c, section, key, "%s: cannot resolve '%s': %s%s", endpoint, host,
	               rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc),
	               (flags & CONFIG_ENDPOINT_BIND) ? " (nor is it a network interface)" : "");
	return -1;
}

/* Can the user running this create entries in directory path? */
static int
config_dir_usable(const struct config *c, const char *section, const char *key, const char *what,
                  const char *path)
{
	struct stat st;
	char user[96];

	if (stat(path, &st) != 0) {
		config_problem(c, section, key, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		config_problem(c, section, key, "%s%s: not a directory", what, path);
		return -1;
	}
	if (access(path, W_OK | X_OK) != 0) {
		config_user(user, sizeof(user));
		config_problem(c, section, key, "%s%s: not writable by %s (%s)", what, path, user,
		               strerror(errno));
		return -1;
	}
	return 0;
}

int
config_check_dir(const struct config *c, const char *section, const char *key, const char *path,
                 unsigned flags)
{
	char parent[PATH_MAX], what[PATH_MAX + 64];
	struct stat st;
	char *slash;

	/* ENOTDIR: a file where a parent should be, reported at that parent. */
	if (stat(path, &st) == 0 || (errno != ENOENT && errno != ENOTDIR))
		return config_dir_usable(c, section, key, "", path);
	if (strlen(path) >= sizeof(parent)) {
		config_problem(c, section, key, "%s: path too long", path);
		return -1;
	}
	/* Missing: it is made at start, so what matters is its parent (or, when
	 * the daemon makes the whole chain, the nearest ancestor that exists). */
	snprintf(parent, sizeof(parent), "%s", path);
	for (;;) {
		slash = strrchr(parent, '/');
		if (slash == NULL)
			return 0;
		if (slash == parent)
			slash[1] = '\0';
		else
			*slash = '\0';
		if (stat(parent, &st) == 0 || (errno != ENOENT && errno != ENOTDIR) ||
		    !(flags & CONFIG_DIR_PARENTS) || strcmp(parent, "/") == 0)
			break;
	}
	if (!(flags & CONFIG_DIR_PARENTS) && stat(parent, &st) != 0 && errno == ENOENT) {
		config_problem(c, section, key,
		               "%s: cannot be created: its parent %s does not exist", path, parent);
		return -1;
	}
	snprintf(what, sizeof(what), "%s: cannot be created: ", path);
	return config_dir_usable(c, section, key, what, parent);
}

int
config_check_exec(const struct config *c, const char *section, const char *key, const char *path)
{
	struct stat st;
	char user[96];

	if (stat(path, &st) != 0) {
		config_problem(c, section, key, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		config_problem(c, section, key, "%s: not a regular file", path);
		return -1;
	}
	if (access(path, X_OK) != 0) {
		config_user(user, sizeof(user));
		config_problem(c, section, key, "%s: not executable by %s (mode %04o)", path, user,
		               (unsigned)(st.st_mode & 07777));
		return -1;
	}
	return 0;
}
