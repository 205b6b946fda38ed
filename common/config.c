/* INI configuration: reading a file (bounded) and parsing it through inih
 * with line numbers we track ourselves, and looking keys up (see config.h). */
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/config.h"
#include "common/config_impl.h"
#include "common/err.h"
#include "common/file.h"

/*
 * Why a custom reader: Debian's libinih is built without INI_HANDLER_LINENO, so
 * the handler is not told the line it is looking at. We hand inih one line per
 * reader call from a buffer we read (bounded) ourselves; the reader counts lines,
 * so when inih calls the handler, the reader's count is that key's line.
 * The reader also enforces our line limit, refuses NUL bytes, checks [section]
 * lines (inih silently truncates section names past 49 bytes) and strips
 * indentation so inih never treats a line as a continuation of the previous value.
 */

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
	char where[PATH_MAX + 16];
	va_list ap;

	if (p->err_line != 0)
		return;
	p->err_line = p->lineno;
	snprintf(where, sizeof(where), "%s:%d", p->c->path, p->lineno);
	va_start(ap, fmt);
	err_vset(p->err, p->errlen, where, fmt, ap);
	va_end(ap);
}

/* Copies s into out for a message: at most 64 bytes, control and non-ASCII
 * bytes as \xNN, "..." when cut, so hostile input cannot forge lines. */
void
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

int
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

int
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

struct config_entry *
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
	char *text = NULL;
	size_t got = 0;
	int rc;

	rc = file_read_bounded(AT_FDCWD, path, NULL, CONFIG_MAX_FILE, 0, &text, &got, err, errlen);
	if (rc == FILE_E_BIG)
		snprintf(err, errlen, "%s: file too large (limit %d bytes)", path, CONFIG_MAX_FILE);
	if (rc != FILE_OK)
		return NULL;
	c = config_parse_text(path, text, got, err, errlen);
	/* The file may hold passwords. */
	explicit_bzero(text, got);
	free(text);
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
