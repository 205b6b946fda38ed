/* libFuzzer harness for agent/ddl: ddl_table_parse() and ddl_view_parse()
 * on arbitrary schema file text. The first byte picks the parser (bit 0:
 * view), the expected name (bits 1-2: none or one of three fixed names), a
 * small error buffer (bit 3) and a NULL text when the rest is empty (bit 4);
 * the rest is the text, in an exact-size copy without a NUL after it.
 * A refusal must say "line N: ..." and leave the result zeroed. A table that
 * parses must hold together (every string there and NUL-terminated, a parent
 * for each foreign key, a non-empty create), its create alone must parse to
 * the same columns with no foreign key, and the file rebuilt from what it
 * returned (create, after, foreign keys) must parse to the same result: what
 * the loader executes is what was read. A view's create must parse again
 * to itself. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent/ddl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[] = {NULL, "t", "connect_database", "list_flow_instance_view"};

#define ERR_BIG   512
#define ERR_SMALL 8 /* messages cut short must still be NUL-terminated */

static void
fail(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_ddl: %s%s%s\n", what, detail != NULL ? ": " : "",
	        detail != NULL ? detail : "");
	abort();
}

/* A refusal: "line N: what" (as far as errlen allows), nothing returned. */
static void
check_refusal(const char *err, size_t errlen, const void *out, size_t outlen)
{
	static const char prefix[] = "line ";
	size_t want = sizeof(prefix) - 1 < errlen - 1 ? sizeof(prefix) - 1 : errlen - 1;
	const unsigned char *b = out;
	size_t i;

	if (strnlen(err, errlen) >= errlen)
		fail("error message not NUL-terminated", NULL);
	if (strlen(err) < want || strncmp(err, prefix, want) != 0)
		fail("refusal without \"line N: what\"", err);
	for (i = 0; i < outlen; i++)
		if (b[i] != 0)
			fail("refusal left a result behind", err);
}

/* A name as the parser returns it: 1..DDL_NAME_MAX bytes, NUL-terminated. */
static void
check_name(const char *s, const char *what)
{
	size_t n;

	if (s == NULL)
		fail("NULL name", what);
	n = strlen(s);
	if (n == 0 || n > DDL_NAME_MAX)
		fail("name empty or too long", what);
}

static void
check_strings(char **v, size_t n, const char *what)
{
	size_t i;

	if (n > 0 && v == NULL)
		fail("NULL array with elements", what);
	for (i = 0; i < n; i++) {
		if (v[i] == NULL)
			fail("NULL string", what);
		if (v[i][0] == '\0')
			fail("empty string", what);
		(void)strlen(v[i]); /* past the allocation without a NUL: ASan says so */
	}
}

static void
check_table(const struct ddl_table *t, const char *expect)
{
	static const char fk_prefix[] = "ALTER TABLE `";
	size_t i;

	if (strnlen(t->name, sizeof(t->name)) >= sizeof(t->name))
		fail("table name not NUL-terminated", NULL);
	check_name(t->name, "table name");
	if (expect != NULL && strcmp(t->name, expect) != 0)
		fail("table name differs from expect_name", t->name);
	if (t->create == NULL || t->create[0] == '\0')
		fail("empty create", NULL);
	if (t->n_columns == 0)
		fail("a table without columns", t->create);
	check_strings(t->columns, t->n_columns, "columns");
	for (i = 0; i < t->n_columns; i++)
		check_name(t->columns[i], "column");
	check_strings(t->foreign_keys, t->n_foreign_keys, "foreign_keys");
	check_strings(t->fk_parents, t->n_foreign_keys, "fk_parents");
	for (i = 0; i < t->n_foreign_keys; i++) {
		check_name(t->fk_parents[i], "fk parent");
		if (strncmp(t->foreign_keys[i], fk_prefix, sizeof(fk_prefix) - 1) != 0)
			fail("foreign key is not an ALTER TABLE", t->foreign_keys[i]);
	}
	check_strings(t->after, t->n_after, "after");
}

static bool
same_strings(char **a, size_t na, char **b, size_t nb)
{
	size_t i;

	if (na != nb)
		return false;
	for (i = 0; i < na; i++)
		if (strcmp(a[i], b[i]) != 0)
			return false;
	return true;
}

/* The create alone: the same columns, no foreign key, nothing after. */
static void
table_create_again(const struct ddl_table *t)
{
	struct ddl_table again;
	char err[ERR_BIG];

	err[0] = '\0';
	if (ddl_table_parse(t->create, strlen(t->create), t->name, &again, err, sizeof(err)) != 0)
		fail("create does not parse again", err);
	check_table(&again, t->name);
	if (!same_strings(t->columns, t->n_columns, again.columns, again.n_columns))
		fail("create parses to other columns", t->create);
	if (again.n_foreign_keys != 0)
		fail("create still holds a foreign key", t->create);
	if (again.n_after != 0)
		fail("create parses with statements after it", t->create);
	ddl_table_free(&again);
}

/* s and ";\n" to the end of buf (sized by the caller). */
static size_t
put_stmt(char *buf, size_t at, const char *s)
{
	size_t n = strlen(s);

	memcpy(buf + at, s, n);
	memcpy(buf + at + n, ";\n", 2);
	return at + n + 2;
}

/* The file as the loader executes it: create, the after statements, the
 * foreign keys. Read again it must give back the same table. */
static void
table_rebuilt_again(const struct ddl_table *t)
{
	struct ddl_table again;
	char err[ERR_BIG];
	size_t len = 0, at = 0, i, n_after = 0;
	char **after;
	char *text;

	if (1 + t->n_after + t->n_foreign_keys > DDL_MAX_ELEMENTS)
		return;
	after = calloc(t->n_after + 1, sizeof(*after));
	if (after == NULL)
		abort();
	for (i = 0; i < t->n_after; i++)
		after[n_after++] = t->after[i];
	len = strlen(t->create) + 2;
	for (i = 0; i < n_after; i++)
		len += strlen(after[i]) + 2;
	for (i = 0; i < t->n_foreign_keys; i++)
		len += strlen(t->foreign_keys[i]) + 2;
	if (len > DDL_TEXT_MAX) {
		free(after);
		return;
	}
	text = malloc(len);
	if (text == NULL)
		abort();
	at = put_stmt(text, at, t->create);
	for (i = 0; i < n_after; i++)
		at = put_stmt(text, at, after[i]);
	for (i = 0; i < t->n_foreign_keys; i++)
		at = put_stmt(text, at, t->foreign_keys[i]);

	err[0] = '\0';
	if (ddl_table_parse(text, at, t->name, &again, err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz_ddl: rebuilt file:\n%.*s\n", (int)at, text);
		fail("the rebuilt file does not parse", err);
	}
	check_table(&again, t->name);
	if (strcmp(again.create, t->create) != 0 ||
	    !same_strings(t->columns, t->n_columns, again.columns, again.n_columns) ||
	    !same_strings(t->foreign_keys, t->n_foreign_keys, again.foreign_keys,
	                  again.n_foreign_keys) ||
	    !same_strings(t->fk_parents, t->n_foreign_keys, again.fk_parents,
	                  again.n_foreign_keys) ||
	    !same_strings(after, n_after, again.after, again.n_after)) {
		fprintf(stderr, "fuzz_ddl: rebuilt file:\n%.*s\n", (int)at, text);
		fail("the rebuilt file parses to another table", NULL);
	}
	ddl_table_free(&again);
	free(text);
	free(after);
}

static void
fuzz_table(const char *text, size_t len, const char *expect, size_t errlen)
{
	struct ddl_table t;
	char err[ERR_BIG];

	memset(err, 0x55, sizeof(err));
	memset(&t, 0x55, sizeof(t)); /* the parser must set every field */
	if (ddl_table_parse(text, len, expect, &t, err, errlen) != 0) {
		check_refusal(err, errlen, &t, sizeof(t));
		ddl_table_free(&t);
		return;
	}
	check_table(&t, expect);
	table_create_again(&t);
	table_rebuilt_again(&t);
	ddl_table_free(&t);
	if (t.create != NULL || t.columns != NULL || t.n_columns != 0)
		fail("ddl_table_free did not zero the table", NULL);
}

/* The view's create, with ";" after it (so that a trailing "--" stays what
 * it was), parses again to itself: nothing is left to remove. */
static void
fuzz_view(const char *text, size_t len, const char *expect, size_t errlen)
{
	struct ddl_view v, again;
	char err[ERR_BIG], err2[ERR_BIG];
	size_t n;
	char *s;

	memset(err, 0x55, sizeof(err));
	memset(&v, 0x55, sizeof(v));
	if (ddl_view_parse(text, len, expect, &v, err, errlen) != 0) {
		check_refusal(err, errlen, &v, sizeof(v));
		ddl_view_free(&v);
		return;
	}
	if (strnlen(v.name, sizeof(v.name)) >= sizeof(v.name))
		fail("view name not NUL-terminated", NULL);
	check_name(v.name, "view name");
	if (expect != NULL && strcmp(v.name, expect) != 0)
		fail("view name differs from expect_name", v.name);
	if (v.create == NULL || v.create[0] == '\0')
		fail("empty view create", NULL);
	n = strlen(v.create);
	s = malloc(n + 2);
	if (s == NULL)
		abort();
	memcpy(s, v.create, n);
	memcpy(s + n, ";\n", 2);
	err2[0] = '\0';
	if (ddl_view_parse(s, n + 2, v.name, &again, err2, sizeof(err2)) != 0)
		fail("view create does not parse again", err2);
	if (strcmp(again.name, v.name) != 0 || strcmp(again.create, v.create) != 0) {
		fprintf(stderr, "fuzz_ddl: first: %s\nfuzz_ddl: again: %s\n", v.create,
		        again.create);
		fail("view create parses to another view", NULL);
	}
	ddl_view_free(&again);
	free(s);
	ddl_view_free(&v);
	if (v.create != NULL)
		fail("ddl_view_free did not zero the view", NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *expect;
	size_t errlen, len;
	uint8_t flags;
	char *text;

	if (size < 1)
		return 0;
	flags = data[0];
	expect = names[(flags >> 1) & 3];
	errlen = flags & 0x08 ? ERR_SMALL : ERR_BIG;
	len = size - 1;
	/* Exact size: the text need not be NUL-terminated, and reading past
	 * it is caught by ASan. */
	text = malloc(len ? len : 1);
	if (text == NULL)
		abort();
	memcpy(text, data + 1, len);
	if (flags & 0x01)
		fuzz_view(len == 0 && (flags & 0x10) ? NULL : text, len, expect, errlen);
	else
		fuzz_table(len == 0 && (flags & 0x10) ? NULL : text, len, expect, errlen);
	free(text);
	return 0;
}
