/* What the three files of the backup reader share, and nothing else uses
 * (backup.h is the interface): backup.c inspects a backup, backup_csv.c
 * reads its CSV data files, backup_fs.c knows its names and opens its
 * folders and files without following a symbolic link. */
#ifndef ODC_AGENT_BACKUP_INT_H
#define ODC_AGENT_BACKUP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "agent/ddl.h"

#define SCHEMA_MAX    DDL_TEXT_MAX /* a -schema.sql file we read */
#define SCHEMA_SUFFIX "-schema.sql"
#define KIND_MAX      23 /* bytes of an object kind folder's name */

/* ------------------------------------------------------------------ */
/* The CSV reader (backup_csv.c) */

/* The record callback of backup_csv_run: backup_csv_read's plus the line on
 * which the record starts. */
typedef int (*csv_line_fn)(void *ctx, char **fields, size_t n, unsigned long long line);

/* How one read goes. quote 0 means "not known yet": the first field that
 * starts with ' or " sets it (and it is reported back). */
struct csv_opts {
	char quote;
	char escape; /* '\\' or 0 */
	bool header; /* skip the first record */
};

/* Reads fd to its end (or until fn asks to stop) in dialect *o; when
 * o->quote is 0, the quote found is stored there. label names the file in
 * messages. Returns the record count; -1 with "label:line: what" for a
 * fault of the data (*fail_line set when fail_line is not NULL), -2 for a
 * read error or no memory. The caller keeps and closes fd. */
long long backup_csv_run(int fd, const char *label, size_t max_field, struct csv_opts *o,
                         csv_line_fn fn, void *ctx, unsigned long long *fail_line, char *err,
                         size_t errlen);

/* ------------------------------------------------------------------ */
/* Names and files (backup_fs.c) */

/* [A-Za-z0-9_$]{1,64} over the first len bytes of s. */
bool backup_table_name_ok(const char *s, size_t len);
/* A database name becomes a path component: [A-Za-z0-9_$-]{1,64}. */
bool backup_db_name_ok(const char *s);
/* An object kind folder: [A-Z_]{1,23}. */
bool backup_kind_name_ok(const char *s);

enum backup_file_kind { BACKUP_FILE_UNKNOWN, BACKUP_FILE_SCHEMA, BACKUP_FILE_DATA };

/* What a file in a kind folder is (<name>-schema.sql, <t>[.N[.M]].csv or
 * neither), and in *tlen the length of its object name. */
enum backup_file_kind backup_classify(const char *name, size_t *tlen);

/* qsort/bsearch order of struct backup_table: by name. */
int backup_table_cmp(const void *a, const void *b);

/* Opens the directory name under dirfd without following a link. Returns
 * the fd (the caller closes it), or -1 with errno ENOENT when it does not
 * exist, ELOOP when it is a symbolic link, ENOTDIR when it is something
 * else. */
int backup_open_dir(int dirfd, const char *name);

/* Lists the names in directory fd (without "." and ".."), sorted, at most
 * max of them, into a malloc'd *names (the caller frees it with
 * str_array_free(*names, *n)). Returns 0, or -1 with errno set (E2BIG when
 * over max) and nothing to free. */
int backup_list_dir(int fd, char ***names, size_t *n, size_t max);

/* Opens name (relative to dirfd, or AT_FDCWD) as a regular file, never
 * through a symbolic link in its last component, and never blocking on a
 * FIFO; *st is its fstat. Returns the fd (the caller closes it) or -1 with
 * "label: what" in err. */
int backup_open_regular(int dirfd, const char *name, const char *label, struct stat *st, char *err,
                        size_t errlen);

/* Reads the schema file name in dirfd (at most SCHEMA_MAX bytes, no NUL
 * byte) into a malloc'd NUL-terminated *text (the caller frees it), *len
 * its length. Returns 0, or -1 with "label: what" in err (*text NULL). */
int backup_read_schema(int dirfd, const char *name, const char *label, char **text, size_t *len,
                       char *err, size_t errlen);

#endif
