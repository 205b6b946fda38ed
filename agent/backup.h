/* Reading an obdumper backup of the metadb without trusting it: the layout
 * (MANIFEST.bin, data/<db>/TABLE/<t>-schema.sql and <t>[.N[.M]].csv), the
 * column order of each table from its schema file, the row count of each
 * table from its CSV files, and the ODC version it belongs to from its
 * migrate_schema_history data. Every read is bounded. */
#ifndef ODC_AGENT_BACKUP_H
#define ODC_AGENT_BACKUP_H

#include <stddef.h>
#include <stdint.h>

#define BACKUP_MAX_TABLES 4096
#define BACKUP_NAME_MAX   64

/* Added: more bounds. The most data files in data/<db>/TABLE; the longest
 * field backup_inspect accepts in a data file; the most bytes of one record
 * backup_csv_read keeps for its callback (or max_field when larger). */
#define BACKUP_MAX_FILES      100000
#define BACKUP_FIELD_MAX      (16u << 20)
#define BACKUP_CSV_RECORD_MAX (64u << 20)

struct backup_table {
	char name[BACKUP_NAME_MAX + 1];
	uint64_t rows;    /* CSV records over all its data files */
	uint64_t bytes;   /* size of its data files */
	unsigned n_files; /* data files */
};

struct backup_info {
	char version[33];            /* highest successful migrate_schema_history version */
	struct backup_table *tables; /* sorted by name */
	size_t n_tables;
	uint64_t bytes; /* all data files */
};

/* Inspect dir as a backup of database db. Returns 0 and fills *out; -1 with
 * a message that names the path and what is wrong ("not a backup: no
 * MANIFEST.bin", "migrate_schema_history.csv:12: unterminated quote", ...).
 * Details: db must be [A-Za-z0-9_$-]{1,64} (it becomes a path component).
 * dir itself may be reached through a symbolic link; nothing inside it is
 * (a link is an error). Refused: a missing MANIFEST.bin or data/<db>/TABLE;
 * in TABLE/ anything but regular files named <t>-schema.sql and
 * <t>[.N[.M]].csv (t [A-Za-z0-9_$]{1,64}, N and M up to 18 digits); a data
 * file without its schema file; more than BACKUP_MAX_TABLES tables or
 * BACKUP_MAX_FILES data files; no migrate_schema_history table; a history
 * schema file over 1 MiB or without `version` and `success` columns; a
 * history record whose field count is not the column count; a field over
 * BACKUP_FIELD_MAX in any data file; a successful version over 32 bytes; no
 * successful version at all. A table without data files has 0 rows. On
 * error *out is zeroed (backup_info_free on it is fine). */
int backup_inspect(const char *dir, const char *db, struct backup_info *out, char *err,
                   size_t errlen);
void backup_info_free(struct backup_info *b);

/* The table named name, or NULL. */
const struct backup_table *backup_table_find(const struct backup_info *b, const char *name);

/* CSV as obdumper writes it: ',' separated, '"' quoted with "" for a quote
 * inside, \N for NULL, records end with \n (a quoted field may span lines).
 * Calls fn for each record with its fields (NUL-terminated, NULL for \N);
 * stops when fn returns non-zero. Bounds: a field of at most max_field
 * bytes, at most 1024 fields. Returns the record count, or -1 with
 * "path:line: what" in err.
 * Details: lines count from 1. CR LF also ends a record outside quotes (a
 * lone CR is data); a final record without a newline counts; an empty file
 * has 0 records; every '\n' outside quotes ends a record, so an empty line
 * is a record of one empty field. A quoted "\N" is the text \N, not NULL.
 * Errors: an unterminated quote (reported at the line where it opened), a
 * character other than ',', '\n' or CR LF after a closing quote, a field
 * over max_field bytes (after "" unescaping), more than 1024 fields, a
 * record over BACKUP_CSV_RECORD_MAX (only when fn is given). fn may be NULL
 * to count only. When fn stops the read, the count includes that record.
 * path is opened with O_NOFOLLOW and must be a regular file. The field
 * array and strings are valid only during the call to fn. */
long long backup_csv_read(const char *path, size_t max_field,
                          int (*fn)(void *ctx, char **fields, size_t n), void *ctx, char *err,
                          size_t errlen);

/* Added: the same on an open descriptor, read from its current offset to
 * the end; name labels the messages. The caller keeps and closes fd. */
long long backup_csv_read_fd(int fd, const char *name, size_t max_field,
                             int (*fn)(void *ctx, char **fields, size_t n), void *ctx, char *err,
                             size_t errlen);

#endif
