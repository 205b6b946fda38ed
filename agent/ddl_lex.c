/* The tokenizer of the DDL parser: as much of MySQL's lexical rules as DDL
 * needs, statements split on ';', the helpers that look at tokens and the
 * buffers the parser builds its results in. ddl.c parses the statements;
 * ddl_lex.h is what the two share. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/err.h"
#include "agent/ddl.h"
#include "agent/ddl_lex.h"

/* ------------------------------------------------------------------ */
/* Tokens */

int __attribute__((format(printf, 3, 4)))
lex_fail(struct parse *p, unsigned line, const char *fmt, ...)
{
	char where[32];
	va_list ap;

	snprintf(where, sizeof(where), "line %u", line);
	va_start(ap, fmt);
	err_vset(p->err, p->errlen, where, fmt, ap);
	va_end(ap);
	return -1;
}

static bool
word_byte(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '$' || c >= 0x80;
}

static int
push_tok(struct parse *p, size_t start, size_t end, unsigned line, enum tok_type type)
{
	struct tok *nt;
	size_t ncap;

	if (p->n == p->cap) {
		ncap = p->cap != 0 ? p->cap * 2 : 256;
		nt = realloc(p->t, ncap * sizeof(*nt));
		if (nt == NULL)
			return lex_fail(p, line, "out of memory");
		p->t = nt;
		p->cap = ncap;
	}
	p->t[p->n].start = start;
	p->t[p->n].end = end;
	p->t[p->n].line = line;
	p->t[p->n].type = type;
	p->n++;
	return 0;
}

/* Past the quoted token that opens at *pi with quote q: a doubled q
 * stands for one, and with backslash a '\' escapes the next byte. *pi ends
 * past the closing quote, *line counts the newlines inside. Returns 0, or
 * -1 with "unterminated WHAT" at the line where it opened. */
static int
lex_quoted(struct parse *p, size_t *pi, unsigned *line, unsigned char q, bool backslash,
           const char *what)
{
	const char *s = p->s;
	size_t len = p->len, i = *pi;
	unsigned open_line = *line;

	for (i++;; i++) {
		if (i >= len)
			return lex_fail(p, open_line, "unterminated %s", what);
		if (backslash && s[i] == '\\') {
			i++;
			if (i < len && s[i] == '\n')
				(*line)++;
			continue;
		}
		if ((unsigned char)s[i] == q) {
			if (i + 1 < len && (unsigned char)s[i + 1] == q) {
				i++;
				continue;
			}
			break;
		}
		if (s[i] == '\n')
			(*line)++;
	}
	*pi = i + 1;
	return 0;
}

/* The whole text into tokens. Comments and white space are dropped; a
 * "--" starts a comment only before white space or a control character (or
 * at the end), as in MySQL. */
static int
lex(struct parse *p)
{
	const char *s = p->s;
	size_t len = p->len, i = 0, start;
	unsigned line = 1, open_line;
	unsigned char c;
	enum tok_type type;

	while (i < len) {
		c = (unsigned char)s[i];
		if (c == '\n') {
			line++;
			i++;
			continue;
		}
		if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
			i++;
			continue;
		}
		if (c == '#' || (c == '-' && i + 1 < len && s[i + 1] == '-' &&
		                 (i + 2 == len || (unsigned char)s[i + 2] <= ' '))) {
			while (i < len && s[i] != '\n')
				i++;
			continue;
		}
		if (c == '/' && i + 1 < len && s[i + 1] == '*') {
			open_line = line;
			for (i += 2;; i++) {
				if (i + 1 >= len)
					return lex_fail(p, open_line, "unterminated comment");
				if (s[i] == '*' && s[i + 1] == '/')
					break;
				if (s[i] == '\n')
					line++;
			}
			i += 2;
			continue;
		}
		start = i;
		open_line = line;
		if (c == '`') {
			/* `` inside is one backquote; no other escape. */
			if (lex_quoted(p, &i, &line, '`', false, "backquoted name") != 0)
				return -1;
			type = TK_QID;
		} else if (c == '\'' || c == '"') {
			/* Backslash escapes and a doubled quote. */
			if (lex_quoted(p, &i, &line, c, true, "string") != 0)
				return -1;
			type = TK_STRING;
		} else if (word_byte(c)) {
			while (i < len && word_byte((unsigned char)s[i]))
				i++;
			type = TK_WORD;
		} else {
			i++;
			type = TK_PUNCT;
		}
		if (push_tok(p, start, i, open_line, type) != 0)
			return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Looking at tokens */

bool
lex_is_word(const struct parse *p, size_t i, size_t end, const char *w)
{
	size_t wl = strlen(w);

	return i < end && p->t[i].type == TK_WORD && p->t[i].end - p->t[i].start == wl &&
	       strncasecmp(p->s + p->t[i].start, w, wl) == 0;
}

bool
lex_is_punct(const struct parse *p, size_t i, size_t end, char c)
{
	return i < end && p->t[i].type == TK_PUNCT && p->s[p->t[i].start] == c;
}

/* The line of token i, or of the last token when i is past the end. */
unsigned
lex_line_of(const struct parse *p, size_t i)
{
	if (p->n == 0)
		return 1;
	return p->t[i < p->n ? i : p->n - 1].line;
}

/* The identifier at i (a word or a backquoted name), unquoted, into out.
 * Returns 0, or -1 with a message naming what was expected. */
int
lex_ident(struct parse *p, size_t i, size_t end, const char *what, char out[DDL_NAME_MAX + 1])
{
	const struct tok *t;
	size_t k, n = 0;

	if (i >= end || (p->t[i].type != TK_WORD && p->t[i].type != TK_QID)) {
		if (i >= end)
			return lex_fail(p, lex_line_of(p, i),
			                "expected %s, found the end of the statement", what);
		return lex_fail(
		    p, p->t[i].line, "expected %s, found `%.*s`", what,
		    (int)(p->t[i].end - p->t[i].start > 32 ? 32 : p->t[i].end - p->t[i].start),
		    p->s + p->t[i].start);
	}
	t = &p->t[i];
	if (t->type == TK_WORD) {
		if (t->end - t->start > DDL_NAME_MAX)
			return lex_fail(p, t->line, "%s longer than %d bytes", what, DDL_NAME_MAX);
		memcpy(out, p->s + t->start, t->end - t->start);
		out[t->end - t->start] = '\0';
		return 0;
	}
	for (k = t->start + 1; k + 1 < t->end; k++) {
		if (p->s[k] == '`')
			k++; /* `` is one backquote */
		if (n >= DDL_NAME_MAX)
			return lex_fail(p, t->line, "%s longer than %d bytes", what, DDL_NAME_MAX);
		out[n++] = p->s[k];
	}
	out[n] = '\0';
	if (n == 0)
		return lex_fail(p, t->line, "empty %s", what);
	return 0;
}

/* [db.]name at *i: the last part into out, *i past it. */
int
lex_qname(struct parse *p, size_t *i, size_t end, const char *what, char out[DDL_NAME_MAX + 1])
{
	if (lex_ident(p, *i, end, what, out) != 0)
		return -1;
	(*i)++;
	if (lex_is_punct(p, *i, end, '.')) {
		if (lex_ident(p, *i + 1, end, what, out) != 0)
			return -1;
		*i += 2;
	}
	return 0;
}

/* The ')' matching the '(' at i; parentheses are known to balance. */
size_t
lex_match_paren(const struct parse *p, size_t i, size_t end)
{
	size_t depth = 0;

	for (; i < end; i++) {
		if (lex_is_punct(p, i, end, '('))
			depth++;
		else if (lex_is_punct(p, i, end, ')') && --depth == 0)
			return i;
	}
	return end;
}

/* Splits [a, b) on the commas outside parentheses into at most max spans
 * (an empty span where two commas meet). Returns the count, or -1. */
long
lex_split_commas(struct parse *p, size_t a, size_t b, struct span **out, size_t max)
{
	struct span *v;
	size_t cnt = 0, depth = 0, i, start = a;

	*out = NULL;
	if (a == b)
		return 0;
	v = calloc(max + 1, sizeof(*v));
	if (v == NULL)
		return lex_fail(p, lex_line_of(p, a), "out of memory");
	for (i = a; i <= b; i++) {
		if (i < b && lex_is_punct(p, i, b, '('))
			depth++;
		else if (i < b && lex_is_punct(p, i, b, ')'))
			depth--;
		else if (i == b || (depth == 0 && lex_is_punct(p, i, b, ','))) {
			if (cnt >= max) {
				free(v);
				return lex_fail(p, lex_line_of(p, i), "more than %zu elements",
				                max);
			}
			v[cnt].a = start;
			v[cnt].b = i;
			cnt++;
			start = i + 1;
		}
	}
	*out = v;
	return (long)cnt;
}

/* The first bytes of the statement [a, b) for a message: control bytes
 * and runs of white space become one space. */
void
lex_excerpt(const struct parse *p, size_t a, size_t b, char out[EXCERPT_MAX + 1])
{
	size_t i, n = 0, end = p->t[b - 1].end;
	unsigned char c;

	for (i = p->t[a].start; i < end && n < EXCERPT_MAX; i++) {
		c = (unsigned char)p->s[i];
		if (c <= ' ' || c == 0x7f) {
			if (n > 0 && out[n - 1] == ' ')
				continue;
			c = ' ';
		}
		out[n++] = (char)c;
	}
	out[n] = '\0';
}

/* Where the statement that ends before token b ends in the text: after
 * its last token, or after an executable comment (slash-star-bang, e.g. a
 * partitioning clause of SHOW CREATE TABLE) between that token and the
 * ';'. */
size_t
lex_stmt_end(const struct parse *p, size_t b)
{
	size_t i = p->t[b - 1].end, stop = b < p->n ? p->t[b].start : p->len, end = i, k;

	while (i < stop) {
		if (p->s[i] == '/' && i + 1 < stop && p->s[i + 1] == '*') {
			for (k = i + 2; k + 1 < stop && !(p->s[k] == '*' && p->s[k + 1] == '/');
			     k++)
				;
			if (i + 2 < stop && p->s[i + 2] == '!')
				end = k + 2;
			i = k + 2;
		} else if (p->s[i] == '#' ||
		           (p->s[i] == '-' && i + 1 < stop && p->s[i + 1] == '-')) {
			while (i < stop && p->s[i] != '\n')
				i++;
		} else {
			i++;
		}
	}
	return end;
}

/* ------------------------------------------------------------------ */
/* Building the results */

void
sbuf_add(struct sbuf *b, const char *s, size_t n)
{
	size_t ncap;
	char *nd;

	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		ncap = b->cap != 0 ? b->cap : 256;
		while (ncap < b->len + n + 1)
			ncap *= 2;
		nd = realloc(b->d, ncap);
		if (nd == NULL) {
			b->oom = true;
			return;
		}
		b->d = nd;
		b->cap = ncap;
	}
	memcpy(b->d + b->len, s, n);
	b->len += n;
	b->d[b->len] = '\0';
}

void
sbuf_str(struct sbuf *b, const char *s)
{
	sbuf_add(b, s, strlen(s));
}

/* The text of tokens [a, b), as written (comments inside kept). */
void
sbuf_toks(struct sbuf *sb, const struct parse *p, size_t a, size_t b)
{
	sbuf_add(sb, p->s + p->t[a].start, p->t[b - 1].end - p->t[a].start);
}

/* Takes the buffer's string; NULL (and a message) when it ran out of memory. */
char *
sbuf_take(struct parse *p, struct sbuf *b, unsigned line)
{
	char *s;

	if (b->oom || b->d == NULL) {
		free(b->d);
		memset(b, 0, sizeof(*b));
		lex_fail(p, line, "out of memory");
		return NULL;
	}
	s = b->d;
	memset(b, 0, sizeof(*b));
	return s;
}

/* Appends s (owned from now on; freed when it cannot be kept). */
int
strv_push(struct parse *p, struct strv *sv, char *s, unsigned line)
{
	char **nv;
	size_t ncap;

	if (s == NULL)
		return -1;
	if (sv->n == sv->cap) {
		ncap = sv->cap != 0 ? sv->cap * 2 : 8;
		nv = realloc(sv->v, ncap * sizeof(*nv));
		if (nv == NULL) {
			free(s);
			return lex_fail(p, line, "out of memory");
		}
		sv->v = nv;
		sv->cap = ncap;
	}
	sv->v[sv->n++] = s;
	return 0;
}

char *
strv_dup(struct parse *p, const char *s, unsigned line)
{
	char *d = strdup(s);

	if (d == NULL)
		lex_fail(p, line, "out of memory");
	return d;
}

void
strv_free(struct strv *sv)
{
	str_array_free(sv->v, sv->n);
	memset(sv, 0, sizeof(*sv));
}

/* ------------------------------------------------------------------ */
/* Statements */

/* Tokenizes the text and splits it into statements (those with no token
 * are dropped); checks that parentheses balance in each. */
int
lex_statements(struct parse *p, const char *text, size_t len, struct span **out, size_t *n)
{
	struct span *v = NULL;
	size_t cnt = 0, i, start = 0, depth, k;

	*out = NULL;
	*n = 0;
	p->s = text;
	p->len = len;
	if (len > DDL_TEXT_MAX)
		return lex_fail(p, 1, "schema text longer than %u bytes", DDL_TEXT_MAX);
	if (len > 0 && memchr(text, '\0', len) != NULL)
		return lex_fail(p, 1, "schema text contains a NUL byte");
	if (lex(p) != 0)
		return -1;
	v = calloc(DDL_MAX_ELEMENTS + 1, sizeof(*v));
	if (v == NULL)
		return lex_fail(p, 1, "out of memory");
	for (i = 0; i <= p->n; i++) {
		if (i < p->n && !lex_is_punct(p, i, p->n, ';'))
			continue;
		if (i > start) {
			if (cnt >= DDL_MAX_ELEMENTS) {
				free(v);
				return lex_fail(p, p->t[start].line, "more than %d statements",
				                DDL_MAX_ELEMENTS);
			}
			depth = 0;
			for (k = start; k < i; k++) {
				if (lex_is_punct(p, k, i, '('))
					depth++;
				else if (lex_is_punct(p, k, i, ')') && depth-- == 0)
					break;
			}
			if (depth != 0 || k < i) {
				free(v);
				return lex_fail(
				    p, p->t[start].line,
				    "unbalanced parentheses in the statement that starts here");
			}
			v[cnt].a = start;
			v[cnt].b = i;
			cnt++;
		}
		start = i + 1;
	}
	*out = v;
	*n = cnt;
	return 0;
}

int
lex_not_about(struct parse *p, const struct span *st, const char *kind, const char *name)
{
	char ex[EXCERPT_MAX + 1];

	lex_excerpt(p, st->a, st->b, ex);
	return lex_fail(p, p->t[st->a].line,
	                "schema file holds a statement that is not about %s %s: %s", kind, name,
	                ex);
}
