/* Parsing the DDL of one schema file: the few shapes of statement a
 * table's or a view's schema file may hold, over the statements and tokens
 * of ddl_lex.c. Nothing is executed or looked up here; the text is only cut
 * and copied. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "agent/ddl.h"
#include "agent/ddl_lex.h"

/* ------------------------------------------------------------------ */
/* Foreign keys */

/* [CONSTRAINT [symbol]] FOREIGN KEY at a. */
static bool
fk_start(const struct parse *p, size_t a, size_t b)
{
	size_t k = a;

	if (lex_is_word(p, k, b, "CONSTRAINT")) {
		k++;
		if (!lex_is_word(p, k, b, "FOREIGN"))
			k++; /* the symbol */
	}
	return lex_is_word(p, k, b, "FOREIGN") && lex_is_word(p, k + 1, b, "KEY");
}

/* The table after the top-level REFERENCES of a foreign key [a, b). */
static int
fk_parent(struct parse *p, size_t a, size_t b, char out[DDL_NAME_MAX + 1])
{
	size_t k, depth = 0;

	for (k = a; k < b; k++) {
		if (lex_is_punct(p, k, b, '('))
			depth++;
		else if (lex_is_punct(p, k, b, ')'))
			depth--;
		else if (depth == 0 && lex_is_word(p, k, b, "REFERENCES")) {
			k++;
			return lex_qname(p, &k, b, "the referenced table's name", out);
		}
	}
	return lex_fail(p, p->t[a].line, "a FOREIGN KEY without REFERENCES");
}

/* "ALTER TABLE `name` ADD " and the tokens [a, b). */
static char *
fk_statement(struct parse *p, const char *name, size_t a, size_t b)
{
	struct sbuf sb = {0};
	const char *c;

	sbuf_str(&sb, "ALTER TABLE `");
	for (c = name; *c != '\0'; c++) {
		sbuf_add(&sb, c, 1);
		if (*c == '`')
			sbuf_add(&sb, "`", 1); /* doubled inside a backquoted name */
	}
	sbuf_str(&sb, "` ADD ");
	sbuf_toks(&sb, p, a, b);
	return sbuf_take(p, &sb, p->t[a].line);
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
		if (lex_is_word(p, i, b, words[k]))
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
	return strv_push(p, parents, strv_dup(p, parent, p->t[a].line), p->t[a].line);
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
	if (!lex_is_punct(p, open, st->b, '('))
		return lex_fail(p, lex_line_of(p, open),
		                "CREATE TABLE `%s` has no column list (LIKE and AS SELECT are not "
		                "supported)",
		                tp->name);
	close = lex_match_paren(p, open, st->b);
	n = lex_split_commas(p, open + 1, close, &el, DDL_MAX_ELEMENTS);
	if (n < 0)
		return -1;
	if (n == 0) {
		lex_fail(p, p->t[open].line, "CREATE TABLE `%s` has an empty body", tp->name);
		goto out;
	}
	kept = calloc((size_t)n, sizeof(*kept));
	if (kept == NULL) {
		lex_fail(p, p->t[open].line, "out of memory");
		goto out;
	}
	for (i = 0; i < (size_t)n; i++) {
		if (el[i].a == el[i].b) {
			lex_fail(p, p->t[el[i].a < close ? el[i].a : close].line,
			         "empty element %zu in the body of CREATE TABLE `%s`", i + 1,
			         tp->name);
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

			lex_excerpt(p, el[i].a, el[i].b, ex);
			lex_fail(
			    p, p->t[el[i].a].line,
			    "element %zu of CREATE TABLE `%s` is neither a column nor a key: %s",
			    i + 1, tp->name, ex);
			goto out;
		}
		if (lex_ident(p, el[i].a, el[i].b, "a column name", col) != 0)
			goto out;
		if (strv_push(p, &tp->cols, strv_dup(p, col, p->t[el[i].a].line),
		              p->t[el[i].a].line) != 0)
			goto out;
	}
	if (tp->cols.n == 0) {
		lex_fail(p, p->t[open].line, "CREATE TABLE `%s` declares no column", tp->name);
		goto out;
	}
	/* The statement up to '(', each kept element with the text before it
	 * (from its separator on), then everything after the last element. */
	sbuf_add(&sb, p->s + p->t[st->a].start, p->t[open].end - p->t[st->a].start);
	for (i = 0; i < (size_t)n; i++) {
		if (!kept[i])
			continue;
		if (!first)
			sbuf_add(&sb, ",", 1);
		first = false;
		sbuf_add(&sb, p->s + p->t[el[i].a - 1].end,
		         p->t[el[i].b - 1].end - p->t[el[i].a - 1].end);
	}
	sbuf_add(&sb, p->s + p->t[el[n - 1].b - 1].end,
	         lex_stmt_end(p, st->b) - p->t[el[n - 1].b - 1].end);
	tp->create = sbuf_take(p, &sb, p->t[st->a].line);
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

	n = lex_split_commas(p, k, st->b, &cl, DDL_MAX_ELEMENTS);
	if (n < 0)
		return -1;
	for (i = 0; i < (size_t)n; i++) {
		if (cl[i].a == cl[i].b) {
			lex_fail(p, lex_line_of(p, cl[i].a), "empty clause %zu in ALTER TABLE `%s`",
			         i + 1, tp->name);
			goto out;
		}
		if (lex_is_word(p, cl[i].a, cl[i].b, "ADD") && fk_start(p, cl[i].a + 1, cl[i].b)) {
			if (add_fk(tp, cl[i].a + 1, cl[i].b, &tp->alter_fks, &tp->alter_parents) !=
			    0)
				goto out;
		} else {
			other++;
		}
	}
	if (other == (size_t)n) {
		sbuf_add(&sb, p->s + p->t[st->a].start, lex_stmt_end(p, st->b) - p->t[st->a].start);
	} else if (other > 0) {
		/* "ALTER TABLE `t`" and one space: the kept clauses must not run
		 * into the name ("`t`ADD FOREIGN KEY ..., `x` int"). */
		size_t len = p->t[k].start - p->t[st->a].start;
		while (len > 0 && (p->s[p->t[st->a].start + len - 1] == ' ' ||
		                   p->s[p->t[st->a].start + len - 1] == '\t' ||
		                   p->s[p->t[st->a].start + len - 1] == '\n' ||
		                   p->s[p->t[st->a].start + len - 1] == '\r'))
			len--;
		sbuf_add(&sb, p->s + p->t[st->a].start, len);
		sbuf_str(&sb, " ");
		for (i = 0; i < (size_t)n; i++) {
			if (lex_is_word(p, cl[i].a, cl[i].b, "ADD") &&
			    fk_start(p, cl[i].a + 1, cl[i].b))
				continue;
			if (!first)
				sbuf_str(&sb, ", ");
			first = false;
			sbuf_toks(&sb, p, cl[i].a, cl[i].b);
		}
	}
	if (other > 0 &&
	    strv_push(p, &tp->after, sbuf_take(p, &sb, p->t[st->a].line), p->t[st->a].line) != 0)
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

	if (!lex_is_word(p, k, st->b, "CREATE"))
		return 0;
	k++;
	if (lex_is_word(p, k, st->b, "TEMPORARY"))
		k++;
	if (!lex_is_word(p, k, st->b, "TABLE"))
		return 0;
	k++;
	if (lex_is_word(p, k, st->b, "IF") && lex_is_word(p, k + 1, st->b, "NOT") &&
	    lex_is_word(p, k + 2, st->b, "EXISTS"))
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

	if (lex_is_word(p, k, st->b, "ALTER")) {
		k++;
		if (lex_is_word(p, k, st->b, "IGNORE"))
			k++;
		if (!lex_is_word(p, k, st->b, "TABLE"))
			return lex_not_about(p, st, "table", tp->name);
		k++;
		if (lex_qname(p, &k, st->b, "a table name", name) != 0)
			return -1;
		if (strcmp(name, tp->name) != 0)
			return lex_not_about(p, st, "table", tp->name);
		return table_alter(tp, st, k);
	}
	if (!lex_is_word(p, k, st->b, "CREATE"))
		return lex_not_about(p, st, "table", tp->name);
	k++;
	if (lex_is_word(p, k, st->b, "UNIQUE") || lex_is_word(p, k, st->b, "FULLTEXT") ||
	    lex_is_word(p, k, st->b, "SPATIAL"))
		k++;
	if (!lex_is_word(p, k, st->b, "INDEX"))
		return lex_not_about(p, st, "table", tp->name);
	/* The table follows the first top-level ON. */
	for (k++; k < st->b; k++) {
		if (lex_is_punct(p, k, st->b, '('))
			depth++;
		else if (lex_is_punct(p, k, st->b, ')'))
			depth--;
		else if (depth == 0 && lex_is_word(p, k, st->b, "ON"))
			break;
	}
	if (k >= st->b)
		return lex_not_about(p, st, "table", tp->name);
	k++;
	if (lex_qname(p, &k, st->b, "a table name", name) != 0)
		return -1;
	if (strcmp(name, tp->name) != 0)
		return lex_not_about(p, st, "table", tp->name);
	return strv_push(
	           p, &tp->after,
	           strndup(p->s + p->t[st->a].start, lex_stmt_end(p, st->b) - p->t[st->a].start),
	           p->t[st->a].line) == 0
	           ? 0
	           : lex_fail(p, p->t[st->a].line, "out of memory");
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
	if (lex_statements(&p, text, len, &st, &n) != 0)
		goto out;
	/* The CREATE TABLE first: the other statements are judged by its name. */
	for (i = 0; i < n; i++) {
		k = create_table_at(&p, &st[i]);
		if (k == 0)
			continue;
		if (lex_qname(&p, &k, st[i].b, "a table name", name) != 0)
			goto out;
		if (expect_name != NULL && strcmp(name, expect_name) != 0) {
			lex_fail(&p, p.t[st[i].a].line,
			         "CREATE TABLE `%s`, but this is the schema file of table %s", name,
			         expect_name);
			goto out;
		}
		if (create != SIZE_MAX) {
			lex_fail(&p, p.t[st[i].a].line,
			         "a second CREATE TABLE `%s` (the first is on line %u)", name,
			         p.t[st[create].a].line);
			goto out;
		}
		create = i;
		memcpy(out->name, name, sizeof(name));
	}
	if (create == SIZE_MAX) {
		lex_fail(&p, n > 0 ? p.t[st[0].a].line : 1, "no CREATE TABLE statement%s%s",
		         expect_name != NULL ? " for table " : "",
		         expect_name != NULL ? expect_name : "");
		goto out;
	}
	tp.name = out->name;
	for (i = 0; i < n; i++) {
		if (i == create) {
			k = create_table_at(&p, &st[i]);
			if (lex_qname(&p, &k, st[i].b, "a table name", name) != 0 ||
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
	if (lex_is_word(p, *k, b, "CURRENT_USER")) {
		(*k)++;
		if (lex_is_punct(p, *k, b, '(') && lex_is_punct(p, *k + 1, b, ')'))
			*k += 2;
		return true;
	}
	if (*k >= b || p->t[*k].type == TK_PUNCT)
		return false;
	(*k)++;
	if (lex_is_punct(p, *k, b, '@')) {
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
	if (!lex_is_word(p, st->a, st->b, "CREATE"))
		return 0;
	for (;;) {
		if (lex_is_word(p, k, st->b, "VIEW"))
			return k + 1;
		if (lex_is_word(p, k, st->b, "OR") && lex_is_word(p, k + 1, st->b, "REPLACE")) {
			k += 2;
		} else if (lex_is_word(p, k, st->b, "ALGORITHM")) {
			if (!lex_is_punct(p, k + 1, st->b, '=') ||
			    (!lex_is_word(p, k + 2, st->b, "UNDEFINED") &&
			     !lex_is_word(p, k + 2, st->b, "MERGE") &&
			     !lex_is_word(p, k + 2, st->b, "TEMPTABLE"))) {
				lex_fail(p, p->t[k].line, "malformed ALGORITHM clause");
				*bad = true;
				return 0;
			}
			k += 3;
		} else if (lex_is_word(p, k, st->b, "DEFINER") ||
		           (lex_is_word(p, k, st->b, "SQL") &&
		            lex_is_word(p, k + 1, st->b, "SECURITY"))) {
			c = k;
			if (lex_is_word(p, k, st->b, "DEFINER")) {
				k++;
				if (!lex_is_punct(p, k, st->b, '=') ||
				    (k++, !skip_user(p, &k, st->b))) {
					lex_fail(p, p->t[c].line, "malformed DEFINER clause");
					*bad = true;
					return 0;
				}
			} else {
				k += 2;
				if (!lex_is_word(p, k, st->b, "DEFINER") &&
				    !lex_is_word(p, k, st->b, "INVOKER")) {
					lex_fail(p, p->t[c].line, "malformed SQL SECURITY clause");
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
	if (lex_statements(&p, text, len, &st, &n) != 0)
		goto out;
	for (i = 0; i < n; i++) {
		label = expect_name != NULL ? expect_name : (found != SIZE_MAX ? out->name : "?");
		k = view_head(&p, &st[i], cut, &ncut, &bad);
		if (bad)
			goto out;
		if (k == 0) {
			lex_not_about(&p, &st[i], "view", label);
			goto out;
		}
		if (lex_qname(&p, &k, st[i].b, "a view name", name) != 0)
			goto out;
		if (expect_name != NULL && strcmp(name, expect_name) != 0) {
			lex_fail(&p, p.t[st[i].a].line,
			         "CREATE VIEW `%s`, but this is the schema file of view %s", name,
			         expect_name);
			goto out;
		}
		if (found != SIZE_MAX) {
			lex_fail(&p, p.t[st[i].a].line,
			         "a second CREATE VIEW `%s` (the first is on line %u)", name,
			         p.t[st[found].a].line);
			goto out;
		}
		if (lex_is_punct(&p, k, st[i].b, '('))
			k = lex_match_paren(&p, k, st[i].b) + 1;
		if (!lex_is_word(&p, k, st[i].b, "AS")) {
			lex_fail(&p, lex_line_of(&p, k), "CREATE VIEW `%s` without AS", name);
			goto out;
		}
		found = i;
		memcpy(out->name, name, sizeof(name));
		/* The statement without its cuts. */
		pos = p.t[st[i].a].start;
		end = lex_stmt_end(&p, st[i].b);
		for (c = 0; c < ncut; c++) {
			sbuf_add(&sb, p.s + pos, cut[c][0] - pos);
			pos = cut[c][1];
		}
		sbuf_add(&sb, p.s + pos, end - pos);
		out->create = sbuf_take(&p, &sb, p.t[st[i].a].line);
		if (out->create == NULL)
			goto out;
	}
	if (found == SIZE_MAX) {
		lex_fail(&p, 1, "no CREATE VIEW statement%s%s",
		         expect_name != NULL ? " for view " : "",
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
