/* The DDL of one schema file of an obdumper backup, read by a real SQL
 * tokenizer: a table's columns, its CREATE TABLE without foreign keys, the
 * foreign keys as separate statements and the table's other statements; a
 * view's CREATE VIEW without its definer. Pure functions: no I/O. */
#ifndef ODC_AGENT_DDL_H
#define ODC_AGENT_DDL_H

#include <stddef.h>

/* Bounds: the longest schema text, the most elements in a CREATE TABLE body
 * (also the most statements in one file), the longest name. */
#define DDL_TEXT_MAX     (1u << 20)
#define DDL_MAX_ELEMENTS 4096
#define DDL_NAME_MAX     64

struct ddl_table {
	char name[DDL_NAME_MAX + 1]; /* unquoted table name (equals expect_name) */
	char **columns;              /* column names in order (unquoted) */
	size_t n_columns;
	/* The CREATE TABLE statement as written, without its FOREIGN KEY
	 * elements (and the comma before a removed element, or after it when it
	 * was the first), without the trailing ';'. */
	char *create;
	/* Each "ALTER TABLE `t` ADD <the FK element as written>", ready to
	 * execute, in the order of the file (body elements first, then separate
	 * ALTER TABLE statements). */
	char **foreign_keys;
	char **fk_parents; /* the referenced table of each (unquoted, without a database) */
	size_t n_foreign_keys;
	/* The file's other statements about the table, as written without ';':
	 * ALTER TABLE t that adds no foreign key (or what is left of one that
	 * also added some), CREATE [UNIQUE|FULLTEXT|SPATIAL] INDEX ... ON t.
	 * To execute after the create, in this order. */
	char **after;
	size_t n_after;
};

/* Parse the schema file text (len bytes, no NUL inside; need not be
 * NUL-terminated) of table expect_name. Returns 0 and fills *out (caller
 * frees with ddl_table_free), or -1 with "line N: what" in err and *out
 * zeroed.
 * Details: statements are split on ';' outside strings, backquoted names
 * and comments (-- , # and C-style ones, also MySQL's executable kind,
 * which stay in the text but are not parsed); keywords are case-insensitive; `` in a
 * backquoted name is one backquote; '...' and "..." are strings with
 * backslash escapes and doubled quotes. Statements that hold only comments
 * are ignored. The file must hold exactly one CREATE [TEMPORARY] TABLE
 * [IF NOT EXISTS] [db.]name (...) with name equal (bytewise) to expect_name
 * (NULL: any name); otherwise the statements may only be ALTER [IGNORE]
 * TABLE of that table and CREATE INDEX ... ON that table. A body element is
 * a foreign key when it is [CONSTRAINT [symbol]] FOREIGN KEY ... at the top
 * level of the body; its parent is the name after REFERENCES. In an ALTER
 * TABLE, each top-level ADD [CONSTRAINT [symbol]] FOREIGN KEY clause becomes
 * a foreign key the same way; its other clauses stay an ALTER TABLE in
 * after. A body element is a column unless it starts with one of the
 * unquoted words PRIMARY KEY INDEX UNIQUE CONSTRAINT FOREIGN FULLTEXT
 * SPATIAL CHECK PERIOD (a backquoted `key` is a column).
 * Errors: text over DDL_TEXT_MAX or holding a NUL byte; an unterminated
 * string, name or comment; unbalanced parentheses; no CREATE TABLE; a CREATE
 * TABLE of another name (the message names it) or a second one; a CREATE
 * TABLE without a column list (LIKE, AS SELECT); an empty element; a body
 * element that is neither a column nor a key; a foreign key without
 * REFERENCES; no column; any other statement ("schema file holds a
 * statement that is not about table t: <its first 60 bytes>").
 * Bounds: DDL_MAX_ELEMENTS elements in the body, DDL_MAX_ELEMENTS
 * statements, names (table, column, parent) of DDL_NAME_MAX bytes. */
int ddl_table_parse(const char *text, size_t len, const char *expect_name, struct ddl_table *out,
                    char *err, size_t errlen);

/* Frees what ddl_table_parse allocated and zeroes *t; NULL is fine. */
void ddl_table_free(struct ddl_table *t);

struct ddl_view {
	char name[DDL_NAME_MAX + 1]; /* unquoted view name (equals expect_name) */
	/* CREATE [OR REPLACE] [ALGORITHM = ...] VIEW ... as written, with any
	 * DEFINER = user and SQL SECURITY {DEFINER|INVOKER} clause removed,
	 * without the trailing ';'. */
	char *create;
};

/* Parse the schema file text of view expect_name (NULL: any name), tokenized
 * as ddl_table_parse does. Returns 0 and fills *out (free with
 * ddl_view_free), or -1 with "line N: what" in err and *out zeroed.
 * Details: exactly one CREATE ... VIEW [db.]name [(columns)] AS ...
 * statement, where only OR REPLACE, ALGORITHM = x, DEFINER = user (user:
 * 'name'@'host' with either quote, `name`@`host`, name@host, CURRENT_USER
 * [()]) and SQL SECURITY x may come between CREATE and VIEW.
 * Errors: as ddl_table_parse for the text; no CREATE VIEW, a CREATE VIEW of
 * another name or a second one, no AS, anything else between CREATE and
 * VIEW; any other statement ("schema file holds a statement that is not
 * about view v: <its first 60 bytes>"). */
int ddl_view_parse(const char *text, size_t len, const char *expect_name, struct ddl_view *out,
                   char *err, size_t errlen);

/* Frees what ddl_view_parse allocated and zeroes *v; NULL is fine. */
void ddl_view_free(struct ddl_view *v);

#endif
