/* What the DDL parser (ddl.c) and its tokenizer (ddl_lex.c) share, and
 * nothing else uses (ddl.h is the interface): the tokens of a schema text,
 * the statements they split into, helpers that look at tokens, and two
 * growing buffers the results are built in. Every function that can fail
 * writes "line N: what" through lex_fail and returns -1 (or NULL). */
#ifndef ODC_AGENT_DDL_LEX_H
#define ODC_AGENT_DDL_LEX_H

#include <stdbool.h>
#include <stddef.h>

#include "agent/ddl.h"

#define EXCERPT_MAX 60 /* bytes of a statement quoted in a message */

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

/* The text, its tokens and where a message goes. The caller owns the text
 * and err; t is malloc'd by lex_statements and freed by the caller. */
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

/* Writes "line N: what" into p->err (when there is one). Returns -1. */
int __attribute__((format(printf, 3, 4)))
lex_fail(struct parse *p, unsigned line, const char *fmt, ...);

/* Tokenizes text (len bytes) into p and splits it into statements (those
 * with no token are dropped), checking that parentheses balance in each.
 * Returns 0 with *out a malloc'd array of *n spans (the caller frees it), or
 * -1 with the message. */
int lex_statements(struct parse *p, const char *text, size_t len, struct span **out, size_t *n);

/* Whether token i (< end) is the word w (ignoring ASCII case), or the
 * punctuation c. */
bool lex_is_word(const struct parse *p, size_t i, size_t end, const char *w);
bool lex_is_punct(const struct parse *p, size_t i, size_t end, char c);

/* The line of token i, or of the last token when i is past the end. */
unsigned lex_line_of(const struct parse *p, size_t i);

/* The identifier at i (a word or a backquoted name), unquoted, into out.
 * Returns 0, or -1 with a message naming what was expected. */
int lex_ident(struct parse *p, size_t i, size_t end, const char *what, char out[DDL_NAME_MAX + 1]);

/* [db.]name at *i: the last part into out, *i past it. Returns 0 or -1. */
int lex_qname(struct parse *p, size_t *i, size_t end, const char *what, char out[DDL_NAME_MAX + 1]);

/* The ')' matching the '(' at i (end when there is none); parentheses are
 * known to balance. */
size_t lex_match_paren(const struct parse *p, size_t i, size_t end);

/* Splits [a, b) on the commas outside parentheses into at most max spans
 * (an empty span where two commas meet) in a malloc'd *out (the caller
 * frees it). Returns the count, or -1. */
long lex_split_commas(struct parse *p, size_t a, size_t b, struct span **out, size_t max);

/* The first EXCERPT_MAX bytes of the statement [a, b) for a message:
 * control bytes and runs of white space become one space. */
void lex_excerpt(const struct parse *p, size_t a, size_t b, char out[EXCERPT_MAX + 1]);

/* Where the statement that ends before token b ends in the text: after its
 * last token, or after an executable comment before the ';'. */
size_t lex_stmt_end(const struct parse *p, size_t b);

/* "schema file holds a statement that is not about KIND NAME: <excerpt>".
 * Returns -1. */
int lex_not_about(struct parse *p, const struct span *st, const char *kind, const char *name);

/* A growing string; oom is set (and further adds ignored) when out of
 * memory. Start from {0}. */
struct sbuf {
	char *d;
	size_t len, cap;
	bool oom;
};

void sbuf_add(struct sbuf *b, const char *s, size_t n);
void sbuf_str(struct sbuf *b, const char *s);
/* The text of tokens [a, b), as written (comments inside kept). */
void sbuf_toks(struct sbuf *sb, const struct parse *p, size_t a, size_t b);
/* Takes the buffer's string (the caller frees it) and empties b; NULL (and a
 * message) when it ran out of memory. */
char *sbuf_take(struct parse *p, struct sbuf *b, unsigned line);

/* A growing array of malloc'd strings. Start from {0}. */
struct strv {
	char **v;
	size_t n, cap;
};

/* Appends s (owned from now on; freed when it cannot be kept). s NULL (a
 * failed allocation, already reported) returns -1. Returns 0 or -1. */
int strv_push(struct parse *p, struct strv *sv, char *s, unsigned line);
/* strdup(s), or NULL with an "out of memory" message. */
char *strv_dup(struct parse *p, const char *s, unsigned line);
/* Frees the strings and the array; zeroes sv. */
void strv_free(struct strv *sv);

#endif
