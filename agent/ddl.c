/* Parsing the DDL of one schema file: a tokenizer for as much of MySQL's
 * lexical rules as DDL needs, statements split on ';', then the few shapes
 * of statement a table's or a view's schema file may hold. Nothing is
 * executed or looked up here; the text is only cut and copied. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "agent/ddl.h"

#define EXCERPT_MAX 60 /* bytes of a statement quoted in a message */

/* ------------------------------------------------------------------ */
/* Tokens */

enum tok_type {
	TK_WORD,   /* keyword, unquoted name or number: [A-Za-z0-9_$] and bytes >= 0x80 */
	TK_QID,    /* `backquoted name` */
	TK_STRING, /* '...' or "..." */
	TK_PUNCT,  /* any other single byte */
};

struct tok {
	size_t start, end; /* byte offsets in the text */
	unsigned line;     /* of the first byte */
	enum tok_type type;
};

/* The text, its tokens and where a message goes. */
struct parse {
	const char *s;
	size_t len;
	struct tok *t;
	size_t n, cap;
	char *err;
	size_t errlen;
};

/* A range of tokens [a, b). */
struct span {
	size_t a, b;
};

static int __attribute__((format(printf, 3, 4)))
fail(struct parse *p, unsigned line, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (p->err != NULL && p->errlen > 0)
		snprintf(p->err, p->errlen, "line %u: %s", line, what);
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
			return fail(p, line, "out of memory");
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

/* The whole text into tokens. Comments and white space are dropped; a
 * "--" starts a comment only before white space or a control character (or
 * at the end), as in MySQL. */
static int
lex(struct parse *p)
{
	const char *s = p->s;
	size_t len = p->len, i = 0, start;
	unsigned line = 1, open_line;
	unsigned char c, q;
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
					return fail(p, open_line, "unterminated comment");
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
			for (i++;; i++) {
				if (i >= len)
					return fail(p, open_line, "unterminated backquoted name");
				if (s[i] == '`') {
					if (i + 1 < len && s[i + 1] == '`') {
						i++;
						continue;
					}
					break;
				}
				if (s[i] == '\n')
					line++;
			}
			i++;
			type = TK_QID;
		} else if (c == '\'' || c == '"') {
			/* Backslash escapes and a doubled quote. */
			q = c;
			for (i++;; i++) {
				if (i >= len)
					return fail(p, open_line, "unterminated string");
				if (s[i] == '\\') {
					i++;
					if (i < len && s[i] == '\n')
						line++;
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
					line++;
			}
			i++;
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

static bool
is_word(const struct parse *p, size_t i, size_t end, const char *w)
{
	size_t wl = strlen(w);

	return i < end && p->t[i].type == TK_WORD && p->t[i].end - p->t[i].start == wl &&
	       strncasecmp(p->s + p->t[i].start, w, wl) == 0;
}

static bool
is_punct(const struct parse *p, size_t i, size_t end, char c)
{
	return i < end && p->t[i].type == TK_PUNCT && p->s[p->t[i].start] == c;
}

/* The line of token i, or of the last token when i is past the end. */
static unsigned
line_of(const struct parse *p, size_t i)
{
	if (p->n == 0)
		return 1;
	return p->t[i < p->n ? i : p->n - 1].line;
}

/* The identifier at i (a word or a backquoted name), unquoted, into out.
 * Returns 0, or -1 with a message naming what was expected. */
static int
ident(struct parse *p, size_t i, size_t end, const char *what, char out[DDL_NAME_MAX + 1])
{
	const struct tok *t;
	size_t k, n = 0;

	if (i >= end || (p->t[i].type != TK_WORD && p->t[i].type != TK_QID)) {
		if (i >= end)
			return fail(p, line_of(p, i), "expected %s, found the end of the statement",
			            what);
		return fail(
		    p, p->t[i].line, "expected %s, found `%.*s`", what,
		    (int)(p->t[i].end - p->t[i].start > 32 ? 32 : p->t[i].end - p->t[i].start),
		    p->s + p->t[i].start);
	}
	t = &p->t[i];
	if (t->type == TK_WORD) {
		if (t->end - t->start > DDL_NAME_MAX)
			return fail(p, t->line, "%s longer than %d bytes", what, DDL_NAME_MAX);
		memcpy(out, p->s + t->start, t->end - t->start);
		out[t->end - t->start] = '\0';
		return 0;
	}
	for (k = t->start + 1; k + 1 < t->end; k++) {
		if (p->s[k] == '`')
			k++; /* `` is one backquote */
		if (n >= DDL_NAME_MAX)
			return fail(p, t->line, "%s longer than %d bytes", what, DDL_NAME_MAX);
		out[n++] = p->s[k];
	}
	out[n] = '\0';
	if (n == 0)
		return fail(p, t->line, "empty %s", what);
	return 0;
}

/* [db.]name at *i: the last part into out, *i past it. */
static int
qname(struct parse *p, size_t *i, size_t end, const char *what, char out[DDL_NAME_MAX + 1])
{
	if (ident(p, *i, end, what, out) != 0)
		return -1;
	(*i)++;
	if (is_punct(p, *i, end, '.')) {
		if (ident(p, *i + 1, end, what, out) != 0)
			return -1;
		*i += 2;
	}
	return 0;
}

/* The ')' matching the '(' at i; parentheses are known to balance. */
static size_t
match_paren(const struct parse *p, size_t i, size_t end)
{
	size_t depth = 0;

	for (; i < end; i++) {
		if (is_punct(p, i, end, '('))
			depth++;
		else if (is_punct(p, i, end, ')') && --depth == 0)
			return i;
	}
	return end;
}

/* Splits [a, b) on the commas outside parentheses into at most max spans
 * (an empty span where two commas meet). Returns the count, or -1. */
static long
split_commas(struct parse *p, size_t a, size_t b, struct span **out, size_t max)
{
	struct span *v;
	size_t cnt = 0, depth = 0, i, start = a;

	*out = NULL;
	if (a == b)
		return 0;
	v = calloc(max + 1, sizeof(*v));
	if (v == NULL)
		return fail(p, line_of(p, a), "out of memory");
	for (i = a; i <= b; i++) {
		if (i < b && is_punct(p, i, b, '('))
			depth++;
		else if (i < b && is_punct(p, i, b, ')'))
			depth--;
		else if (i == b || (depth == 0 && is_punct(p, i, b, ','))) {
			if (cnt >= max) {
				free(v);
				return fail(p, line_of(p, i), "more than %zu elements", max);
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
static void
excerpt(const struct parse *p, size_t a, size_t b, char out[EXCERPT_MAX + 1])
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
static size_t
stmt_end(const struct parse *p, size_t b)
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

struct sbuf {
	char *d;
	size_t len, cap;
	bool oom;
};

static void
sb_add(struct sbuf *b, const char *s, size_t n)
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

static void
sb_str(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

/* The text of tokens [a, b), as written (comments inside kept). */
static void
sb_toks(struct sbuf *sb, const struct parse *p, size_t a, size_t b)
{
	sb_add(sb, p->s + p->t[a].start, p->t[b - 1].end - p->t[a].start);
}

/* Takes the buffer's string; NULL (and a message) when it ran out of memory. */
static char *
sb_take(struct parse *p, struct sbuf *b, unsigned line)
{
	char *s;

	if (b->oom || b->d == NULL) {
		free(b->d);
		memset(b, 0, sizeof(*b));
		fail(p, line, "out of memory");
		return NULL;
	}
	s = b->d;
	memset(b, 0, sizeof(*b));
	return s;
}

struct strv {
	char **v;
	size_t n, cap;
};

/* Appends s (owned from now on; freed when it cannot be kept). */
static int
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
			return fail(p, line, "out of memory");
		}
		sv->v = nv;
		sv->cap = ncap;
	}
	sv->v[sv->n++] = s;
	return 0;
}

static char *
str_dup(struct parse *p, const char *s, unsigned line)
{
	char *d = strdup(s);

	if (d == NULL)
		fail(p, line, "out of memory");
	return d;
}

static void
strv_free(struct strv *sv)
{
	str_array_free(sv->v, sv->n);
	memset(sv, 0, sizeof(*sv));
}

/* ------------------------------------------------------------------ */
/* Statements */

/* Tokenizes the text and splits it into statements (those with no token
 * are dropped); checks that parentheses balance in each. */
static int
statements(struct parse *p, const char *text, size_t len, struct span **out, size_t *n)
{
	struct span *v = NULL;
	size_t cnt = 0, i, start = 0, depth, k;

	*out = NULL;
	*n = 0;
	p->s = text;
	p->len = len;
	if (len > DDL_TEXT_MAX)
		return fail(p, 1, "schema text longer than %u bytes", DDL_TEXT_MAX);
	if (len > 0 && memchr(text, '\0', len) != NULL)
		return fail(p, 1, "schema text contains a NUL byte");
	if (lex(p) != 0)
		return -1;
	v = calloc(DDL_MAX_ELEMENTS + 1, sizeof(*v));
	if (v == NULL)
		return fail(p, 1, "out of memory");
	for (i = 0; i <= p->n; i++) {
		if (i < p->n && !is_punct(p, i, p->n, ';'))
			continue;
		if (i > start) {
			if (cnt >= DDL_MAX_ELEMENTS) {
				free(v);
				return fail(p, p->t[start].line, "more than %d statements",
				            DDL_MAX_ELEMENTS);
			}
			depth = 0;
			for (k = start; k < i; k++) {
				if (is_punct(p, k, i, '('))
					depth++;
				else if (is_punct(p, k, i, ')') && depth-- == 0)
					break;
			}
			if (depth != 0 || k < i) {
				free(v);
				return fail(
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

static int
not_about(struct parse *p, const struct span *st, const char *kind, const char *name)
{
	char ex[EXCERPT_MAX + 1];

	excerpt(p, st->a, st->b, ex);
	return fail(p, p->t[st->a].line,
	            "schema file holds a statement that is not about %s %s: %s", kind, name, ex);
}

/* [CONSTRAINT [symbol]] FOREIGN KEY at a. */
static bool
fk_start(const struct parse *p, size_t a, size_t b)
{
	size_t k = a;

	if (is_word(p, k, b, "CONSTRAINT")) {
		k++;
		if (!is_word(p, k, b, "FOREIGN"))
			k++; /* the symbol */
	}
	return is_word(p, k, b, "FOREIGN") && is_word(p, k + 1, b, "KEY");
}

/* The table after the top-level REFERENCES of a foreign key [a, b). */
static int
fk_parent(struct parse *p, size_t a, size_t b, char out[DDL_NAME_MAX + 1])
{
	size_t k, depth = 0;

	for (k = a; k < b; k++) {
		if (is_punct(p, k, b, '('))
			depth++;
		else if (is_punct(p, k, b, ')'))
			depth--;
		else if (depth == 0 && is_word(p, k, b, "REFERENCES")) {
			k++;
			return qname(p, &k, b, "the referenced table's name", out);
		}
	}
	return fail(p, p->t[a].line, "a FOREIGN KEY without REFERENCES");
}

/* "ALTER TABLE `name` ADD " and the tokens [a, b). */
static char *
fk_statement(struct parse *p, const char *name, size_t a, size_t b)
{
	struct sbuf sb = {0};
	const char *c;

	sb_str(&sb, "ALTER TABLE `");
	for (c = name; *c != '\0'; c++) {
		sb_add(&sb, c, 1);
		if (*c == '`')
			sb_add(&sb, "`", 1); /* doubled inside a backquoted name */
	}
	sb_str(&sb, "` ADD ");
	sb_toks(&sb, p, a, b);
	return sb_take(p, &sb, p->t[a].line);
}

/* ------------------------------------------------------------------ */
/* Tables */

struct table_parse {
	struct parse *p;
	const char *name;
	struct strv cols, fks, parents, alter_fks, alter_parents, after;
	char *create;
};

static bool
key_word(const struct parse *p, size_t i, size_t b)
{
	static const char *const words[] = {"PRIMARY",    "KEY",     "INDEX",    "UNIQUE",
	                                    "CONSTRAINT", "FOREIGN", "FULLTEXT", "SPATIAL",
	                                    "CHECK",      "PERIOD"};
	size_t k;

	for (k = 0; k < sizeof(words) / sizeof(words[0]); k++)
		if (is_word(p, i, b, words[k]))
			return true;
	return false;
}

/* Adds the foreign key [a, b) to fks/parents. */
static int
add_fk(struct table_parse *tp, size_t a, size_t b, struct strv *fks, struct strv *parents)
{
	struct parse *p = tp->p;
	char parent[DDL_NAME_MAX + 1];

	if (fk_parent(p, a, b, parent) != 0)
		return -1;
	if (strv_push(p, fks, fk_statement(p, tp->name, a, b), p->t[a].line) != 0)
		return -1;
	return strv_push(p, parents, str_dup(p, parent, p->t[a].line), p->t[a].line);
}

/* CREATE [TEMPORARY] TABLE [IF NOT EXISTS] name (body) options, where k is
 * the index of the name. */
static int
table_create(struct table_parse *tp, const struct span *st, size_t k)
{
	struct parse *p = tp->p;
	struct span *el = NULL;
	struct sbuf sb = {0};
	char col[DDL_NAME_MAX + 1];
	bool *kept = NULL, first = true;
	size_t open, close, i;
	long n;
	int rc = -1;

	open = k;
	if (!is_punct(p, open, st->b, '('))
		return fail(p, line_of(p, open),
		            "CREATE TABLE `%s` has no column list (LIKE and AS SELECT are not "
		            "supported)",
		            tp->name);
	close = match_paren(p, open, st->b);
	n = split_commas(p, open + 1, close, &el, DDL_MAX_ELEMENTS);
	if (n < 0)
		return -1;
	if (n == 0) {
		fail(p, p->t[open].line, "CREATE TABLE `%s` has an empty body", tp->name);
		goto out;
	}
	kept = calloc((size_t)n, sizeof(*kept));
	if (kept == NULL) {
		fail(p, p->t[open].line, "out of memory");
		goto out;
	}
	for (i = 0; i < (size_t)n; i++) {
		if (el[i].a == el[i].b) {
			fail(p, p->t[el[i].a < close ? el[i].a : close].line,
			     "empty element %zu in the body of CREATE TABLE `%s`", i + 1, tp->name);
			goto out;
		}
		if (fk_start(p, el[i].a, el[i].b)) {
			if (add_fk(tp, el[i].a, el[i].b, &tp->fks, &tp->parents) != 0)
				goto out;
			continue;
		}
		kept[i] = true;
		if (key_word(p, el[i].a, el[i].b))
			continue;
		if (p->t[el[i].a].type != TK_WORD && p->t[el[i].a].type != TK_QID) {
			char ex[EXCERPT_MAX + 1];

			excerpt(p, el[i].a, el[i].b, ex);
			fail(p, p->t[el[i].a].line,
			     "element %zu of CREATE TABLE `%s` is neither a column nor a key: %s",
			     i + 1, tp->name, ex);
			goto out;
		}
		if (ident(p, el[i].a, el[i].b, "a column name", col) != 0)
			goto out;
		if (strv_push(p, &tp->cols, str_dup(p, col, p->t[el[i].a].line),
		              p->t[el[i].a].line) != 0)
			goto out;
	}
	if (tp->cols.n == 0) {
		fail(p, p->t[open].line, "CREATE TABLE `%s` declares no column", tp->name);
		goto out;
	}
	/* The statement up to '(', each kept element with the text before it
	 * (from its separator on), then everything after the last element. */
	sb_add(&sb, p->s + p->t[st->a].start, p->t[open].end - p->t[st->a].start);
	for (i = 0; i < (size_t)n; i++) {
		if (!kept[i])
			continue;
		if (!first)
			sb_add(&sb, ",", 1);
		first = false;
		sb_add(&sb, p->s + p->t[el[i].a - 1].end,
		       p->t[el[i].b - 1].end - p->t[el[i].a - 1].end);
	}
	sb_add(&sb, p->s + p->t[el[n - 1].b - 1].end,
	       stmt_end(p, st->b) - p->t[el[n - 1].b - 1].end);
	tp->create = sb_take(p, &sb, p->t[st->a].line);
	if (tp->create == NULL)
		goto out;
	rc = 0;
out:
	free(sb.d);
	free(kept);
	free(el);
	return rc;
}

/* ALTER [IGNORE] TABLE name clauses, where k is the index of the first
 * clause: ADD ... FOREIGN KEY clauses become foreign keys, the rest stays
 * one ALTER TABLE. */
static int
table_alter(struct table_parse *tp, const struct span *st, size_t k)
{
	struct parse *p = tp->p;
	struct span *cl = NULL;
	struct sbuf sb = {0};
	size_t i, other = 0;
	long n;
	int rc = -1;
	bool first = true;

	n = split_commas(p, k, st->b, &cl, DDL_MAX_ELEMENTS);
	if (n < 0)
		return -1;
	for (i = 0; i < (size_t)n; i++) {
		if (cl[i].a == cl[i].b) {
			fail(p, line_of(p, cl[i].a), "empty clause %zu in ALTER TABLE `%s`", i + 1,
			     tp->name);
			goto out;
		}
		if (is_word(p, cl[i].a, cl[i].b, "ADD") && fk_start(p, cl[i].a + 1, cl[i].b)) {
			if (add_fk(tp, cl[i].a + 1, cl[i].b, &tp->alter_fks, &tp->alter_parents) !=
			    0)
				goto out;
		} else {
			other++;
		}
	}
	if (other == (size_t)n) {
		sb_add(&sb, p->s + p->t[st->a].start, stmt_end(p, st->b) - p->t[st->a].start);
	} else if (other > 0) {
		/* "ALTER TABLE `t`" and one space: the kept clauses must not run
		 * into the name ("`t`ADD FOREIGN KEY ..., `x` int"). */
		size_t len = p->t[k].start - p->t[st->a].start;
		while (len > 0 && (p->s[p->t[st->a].start + len - 1] == ' ' ||
		                   p->s[p->t[st->a].start + len - 1] == '\t' ||
		                   p->s[p->t[st->a].start + len - 1] == '\n' ||
		                   p->s[p->t[st->a].start + len - 1] == '\r'))
			len--;
		sb_add(&sb, p->s + p->t[st->a].start, len);
		sb_str(&sb, " ");
		for (i = 0; i < (size_t)n; i++) {
			if (is_word(p, cl[i].a, cl[i].b, "ADD") &&
			    fk_start(p, cl[i].a + 1, cl[i].b))
				continue;
			if (!first)
				sb_str(&sb, ", ");
			first = false;
			sb_toks(&sb, p, cl[i].a, cl[i].b);
		}
	}
	if (other > 0 &&
	    strv_push(p, &tp->after, sb_take(p, &sb, p->t[st->a].line), p->t[st->a].line) != 0)
		goto out;
	rc = 0;
out:
	free(sb.d);
	free(cl);
	return rc;
}

/* If the statement is CREATE [TEMPORARY] TABLE, the index of the token
 * after TABLE [IF NOT EXISTS]; else 0. */
static size_t
create_table_at(const struct parse *p, const struct span *st)
{
	size_t k = st->a;

	if (!is_word(p, k, st->b, "CREATE"))
		return 0;
	k++;
	if (is_word(p, k, st->b, "TEMPORARY"))
		k++;
	if (!is_word(p, k, st->b, "TABLE"))
		return 0;
	k++;
	if (is_word(p, k, st->b, "IF") && is_word(p, k + 1, st->b, "NOT") &&
	    is_word(p, k + 2, st->b, "EXISTS"))
		k += 3;
	return k;
}

/* One statement other than the CREATE TABLE: ALTER TABLE or CREATE INDEX
 * of this table, or an error. */
static int
table_other(struct table_parse *tp, const struct span *st)
{
	struct parse *p = tp->p;
	char name[DDL_NAME_MAX + 1];
	size_t k = st->a, depth = 0;

	if (is_word(p, k, st->b, "ALTER")) {
		k++;
		if (is_word(p, k, st->b, "IGNORE"))
			k++;
		if (!is_word(p, k, st->b, "TABLE"))
			return not_about(p, st, "table", tp->name);
		k++;
		if (qname(p, &k, st->b, "a table name", name) != 0)
			return -1;
		if (strcmp(name, tp->name) != 0)
			return not_about(p, st, "table", tp->name);
		return table_alter(tp, st, k);
	}
	if (!is_word(p, k, st->b, "CREATE"))
		return not_about(p, st, "table", tp->name);
	k++;
	if (is_word(p, k, st->b, "UNIQUE") || is_word(p, k, st->b, "FULLTEXT") ||
	    is_word(p, k, st->b, "SPATIAL"))
		k++;
	if (!is_word(p, k, st->b, "INDEX"))
		return not_about(p, st, "table", tp->name);
	/* The table follows the first top-level ON. */
	for (k++; k < st->b; k++) {
		if (is_punct(p, k, st->b, '('))
			depth++;
		else if (is_punct(p, k, st->b, ')'))
			depth--;
		else if (depth == 0 && is_word(p, k, st->b, "ON"))
			break;
	}
	if (k >= st->b)
		return not_about(p, st, "table", tp->name);
	k++;
	if (qname(p, &k, st->b, "a table name", name) != 0)
		return -1;
	if (strcmp(name, tp->name) != 0)
		return not_about(p, st, "table", tp->name);
	return strv_push(p, &tp->after,
	                 strndup(p->s + p->t[st->a].start, stmt_end(p, st->b) - p->t[st->a].start),
	                 p->t[st->a].line) == 0
	           ? 0
	           : fail(p, p->t[st->a].line, "out of memory");
}

/* Moves src's strings to the end of dst. */
static int
strv_append(struct parse *p, struct strv *dst, struct strv *src)
{
	size_t i;

	for (i = 0; i < src->n; i++) {
		if (strv_push(p, dst, src->v[i], 1) != 0) {
			src->v[i] = NULL;
			return -1;
		}
		src->v[i] = NULL;
	}
	return 0;
}

int
ddl_table_parse(const char *text, size_t len, const char *expect_name, struct ddl_table *out,
                char *err, size_t errlen)
{
	struct parse p = {0};
	struct table_parse tp;
	struct span *st = NULL;
	size_t n = 0, i, k, create = SIZE_MAX;
	char name[DDL_NAME_MAX + 1];
	int rc = -1;

	memset(out, 0, sizeof(*out));
	memset(&tp, 0, sizeof(tp));
	p.err = err;
	p.errlen = errlen;
	tp.p = &p;
	if (text == NULL)
		text = "";
	if (statements(&p, text, len, &st, &n) != 0)
		goto out;
	/* The CREATE TABLE first: the other statements are judged by its name. */
	for (i = 0; i < n; i++) {
		k = create_table_at(&p, &st[i]);
		if (k == 0)
			continue;
		if (qname(&p, &k, st[i].b, "a table name", name) != 0)
			goto out;
		if (expect_name != NULL && strcmp(name, expect_name) != 0) {
			fail(&p, p.t[st[i].a].line,
			     "CREATE TABLE `%s`, but this is the schema file of table %s", name,
			     expect_name);
			goto out;
		}
		if (create != SIZE_MAX) {
			fail(&p, p.t[st[i].a].line,
			     "a second CREATE TABLE `%s` (the first is on line %u)", name,
			     p.t[st[create].a].line);
			goto out;
		}
		create = i;
		memcpy(out->name, name, sizeof(name));
	}
	if (create == SIZE_MAX) {
		fail(&p, n > 0 ? p.t[st[0].a].line : 1, "no CREATE TABLE statement%s%s",
		     expect_name != NULL ? " for table " : "",
		     expect_name != NULL ? expect_name : "");
		goto out;
	}
	tp.name = out->name;
	for (i = 0; i < n; i++) {
		if (i == create) {
			k = create_table_at(&p, &st[i]);
			if (qname(&p, &k, st[i].b, "a table name", name) != 0 ||
			    table_create(&tp, &st[i], k) != 0)
				goto out;
		} else if (table_other(&tp, &st[i]) != 0) {
			goto out;
		}
	}
	if (strv_append(&p, &tp.fks, &tp.alter_fks) != 0 ||
	    strv_append(&p, &tp.parents, &tp.alter_parents) != 0)
		goto out;
	out->columns = tp.cols.v;
	out->n_columns = tp.cols.n;
	out->create = tp.create;
	out->foreign_keys = tp.fks.v;
	out->fk_parents = tp.parents.v;
	out->n_foreign_keys = tp.fks.n;
	out->after = tp.after.v;
	out->n_after = tp.after.n;
	memset(&tp.cols, 0, sizeof(tp.cols));
	memset(&tp.fks, 0, sizeof(tp.fks));
	memset(&tp.parents, 0, sizeof(tp.parents));
	memset(&tp.after, 0, sizeof(tp.after));
	tp.create = NULL;
	rc = 0;
out:
	if (rc != 0)
		memset(out, 0, sizeof(*out));
	strv_free(&tp.cols);
	strv_free(&tp.fks);
	strv_free(&tp.parents);
	strv_free(&tp.alter_fks);
	strv_free(&tp.alter_parents);
	strv_free(&tp.after);
	free(tp.create);
	free(st);
	free(p.t);
	return rc;
}

void
ddl_table_free(struct ddl_table *t)
{
	if (t == NULL)
		return;
	str_array_free(t->columns, t->n_columns);
	free(t->create);
	str_array_free(t->foreign_keys, t->n_foreign_keys);
	str_array_free(t->fk_parents, t->n_foreign_keys);
	str_array_free(t->after, t->n_after);
	memset(t, 0, sizeof(*t));
}

/* ------------------------------------------------------------------ */
/* Views */

/* A user after DEFINER =: CURRENT_USER [()], or name [@ host] where each is
 * a word, a backquoted name or a string. */
static bool
skip_user(const struct parse *p, size_t *k, size_t b)
{
	if (is_word(p, *k, b, "CURRENT_USER")) {
		(*k)++;
		if (is_punct(p, *k, b, '(') && is_punct(p, *k + 1, b, ')'))
			*k += 2;
		return true;
	}
	if (*k >= b || p->t[*k].type == TK_PUNCT)
		return false;
	(*k)++;
	if (is_punct(p, *k, b, '@')) {
		(*k)++;
		if (*k >= b || p->t[*k].type == TK_PUNCT)
			return false;
		(*k)++;
	}
	return true;
}

/* One CREATE ... VIEW statement: the cut ranges (byte offsets) of its
 * DEFINER and SQL SECURITY clauses, and the index of its name; 0 when the
 * statement is not a CREATE VIEW. */
static size_t
view_head(struct parse *p, const struct span *st, size_t cut[4][2], size_t *ncut, bool *bad)
{
	size_t k = st->a + 1, c;

	*ncut = 0;
	*bad = false;
	if (!is_word(p, st->a, st->b, "CREATE"))
		return 0;
	for (;;) {
		if (is_word(p, k, st->b, "VIEW"))
			return k + 1;
		if (is_word(p, k, st->b, "OR") && is_word(p, k + 1, st->b, "REPLACE")) {
			k += 2;
		} else if (is_word(p, k, st->b, "ALGORITHM")) {
			if (!is_punct(p, k + 1, st->b, '=') ||
			    (!is_word(p, k + 2, st->b, "UNDEFINED") &&
			     !is_word(p, k + 2, st->b, "MERGE") &&
			     !is_word(p, k + 2, st->b, "TEMPTABLE"))) {
				fail(p, p->t[k].line, "malformed ALGORITHM clause");
				*bad = true;
				return 0;
			}
			k += 3;
		} else if (is_word(p, k, st->b, "DEFINER") ||
		           (is_word(p, k, st->b, "SQL") && is_word(p, k + 1, st->b, "SECURITY"))) {
			c = k;
			if (is_word(p, k, st->b, "DEFINER")) {
				k++;
				if (!is_punct(p, k, st->b, '=') ||
				    (k++, !skip_user(p, &k, st->b))) {
					fail(p, p->t[c].line, "malformed DEFINER clause");
					*bad = true;
					return 0;
				}
			} else {
				k += 2;
				if (!is_word(p, k, st->b, "DEFINER") &&
				    !is_word(p, k, st->b, "INVOKER")) {
					fail(p, p->t[c].line, "malformed SQL SECURITY clause");
					*bad = true;
					return 0;
				}
				k++;
			}
			if (k >= st->b || *ncut >= 4)
				return 0;
			cut[*ncut][0] = p->t[c].start;
			cut[*ncut][1] = p->t[k].start;
			(*ncut)++;
		} else {
			return 0;
		}
	}
}

int
ddl_view_parse(const char *text, size_t len, const char *expect_name, struct ddl_view *out,
               char *err, size_t errlen)
{
	struct parse p = {0};
	struct span *st = NULL;
	struct sbuf sb = {0};
	size_t n = 0, i, k, ncut, c, pos, end, found = SIZE_MAX;
	size_t cut[4][2];
	char name[DDL_NAME_MAX + 1];
	const char *label;
	bool bad;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	p.err = err;
	p.errlen = errlen;
	if (text == NULL)
		text = "";
	if (statements(&p, text, len, &st, &n) != 0)
		goto out;
	for (i = 0; i < n; i++) {
		label = expect_name != NULL ? expect_name : (found != SIZE_MAX ? out->name : "?");
		k = view_head(&p, &st[i], cut, &ncut, &bad);
		if (bad)
			goto out;
		if (k == 0) {
			not_about(&p, &st[i], "view", label);
			goto out;
		}
		if (qname(&p, &k, st[i].b, "a view name", name) != 0)
			goto out;
		if (expect_name != NULL && strcmp(name, expect_name) != 0) {
			fail(&p, p.t[st[i].a].line,
			     "CREATE VIEW `%s`, but this is the schema file of view %s", name,
			     expect_name);
			goto out;
		}
		if (found != SIZE_MAX) {
			fail(&p, p.t[st[i].a].line,
			     "a second CREATE VIEW `%s` (the first is on line %u)", name,
			     p.t[st[found].a].line);
			goto out;
		}
		if (is_punct(&p, k, st[i].b, '('))
			k = match_paren(&p, k, st[i].b) + 1;
		if (!is_word(&p, k, st[i].b, "AS")) {
			fail(&p, line_of(&p, k), "CREATE VIEW `%s` without AS", name);
			goto out;
		}
		found = i;
		memcpy(out->name, name, sizeof(name));
		/* The statement without its cuts. */
		pos = p.t[st[i].a].start;
		end = stmt_end(&p, st[i].b);
		for (c = 0; c < ncut; c++) {
			sb_add(&sb, p.s + pos, cut[c][0] - pos);
			pos = cut[c][1];
		}
		sb_add(&sb, p.s + pos, end - pos);
		out->create = sb_take(&p, &sb, p.t[st[i].a].line);
		if (out->create == NULL)
			goto out;
	}
	if (found == SIZE_MAX) {
		fail(&p, 1, "no CREATE VIEW statement%s%s", expect_name != NULL ? " for view " : "",
		     expect_name != NULL ? expect_name : "");
		goto out;
	}
	rc = 0;
out:
	if (rc != 0)
		ddl_view_free(out);
	free(sb.d);
	free(st);
	free(p.t);
	return rc;
}

void
ddl_view_free(struct ddl_view *v)
{
	if (v == NULL)
		return;
	free(v->create);
	memset(v, 0, sizeof(*v));
}
