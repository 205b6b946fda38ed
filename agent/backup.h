/* Reading an obdumper backup of the metadb without trusting it: the layout
 * (data/<db>/<KIND>/ or data/<KIND>/ with TABLE/<t>-schema.sql and
 * <t>[.N[.M]].csv, VIEW/<v>-schema.sql, ...), the columns of each table from
 * its schema file, the CSV dialect and header of the data files, the row
 * count of each table, and the ODC version it belongs to from its
 * migrate_schema_history data. Every read is bounded. */
#ifndef ODC_AGENT_BACKUP_H
#define ODC_AGENT_BACKUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BACKUP_MAX_TABLES 4096
#define BACKUP_NAME_MAX   64

/* Added: more bounds. The most data files in TABLE/; the longest
 * field backup_inspect accepts in a data file; the most bytes of one record
 * backup_csv_read keeps for its callback (or max_field when larger). */
#define BACKUP_MAX_FILES      100000
#define BACKUP_FIELD_MAX      (16u << 20)
#define BACKUP_CSV_RECORD_MAX (64u << 20)

/* The most objects that are not tables (over all kind folders), and the most
 * kind folders. */
#define BACKUP_MAX_OBJECTS 4096
#define BACKUP_MAX_KINDS   64

struct backup_table {
	char name[BACKUP_NAME_MAX + 1];
	uint64_t rows;    /* CSV records over all its data files, header lines excluded */
	uint64_t bytes;   /* size of its data files */
	unsigned n_files; /* data files */
};

/* An object of the backup that is not a table: kind is the name of its
 * folder ("VIEW", "SEQUENCE", "TRIGGER", ...), name comes from its
 * <name>-schema.sql file. */
struct backup_object {
	char kind[24];
	char name[BACKUP_NAME_MAX + 1];
};

struct backup_info {
	char version[33];            /* highest successful migrate_schema_history version */
	struct backup_table *tables; /* sorted by name */
	size_t n_tables;
	/* Every object that is not a TABLE, sorted by kind, then name. */
	struct backup_object *objects;
	size_t n_objects;
	uint64_t bytes; /* all data files */
	bool manifest;  /* a MANIFEST.bin was found (data/ or the top): informational only */
	bool header;    /* the data files start with a header line of column names (all of them) */
	char quote;     /* '\'' or '"': the quote the data files use ('\'' when none was seen) */
	char escape;    /* '\\': a backslash escapes inside values; 0: only a doubled quote does */
	char objdir[4096]; /* the folder holding TABLE/, VIEW/, ...: DIR/data/<db> or DIR/data */
};

/* How to read the data files of a backup (take it from backup_info). */
struct backup_dialect {
	char quote;  /* '\'' or '"' */
	char escape; /* '\\' or 0 */
	bool header; /* the first record of each file is a header: skipped */
};

/* Inspect dir as a backup of database db. Returns 0 and fills *out; -1 with
 * a message that names the path and what is wrong ("not a backup of
 * database odc_metadb: no data/odc_metadb/TABLE ...",
 * ".../TABLE/t.1.0.csv:12: 3 fields, table t has 4 columns ...", ...).
 * Details: db must be [A-Za-z0-9_$-]{1,64} (it becomes a path component).
 * dir itself may be reached through a symbolic link; nothing inside it is
 * (a link is an error).
 * Layout: MANIFEST.bin is optional (obdumper writes it first, and 4.1.0 and
 * later may not write it at all: it proves nothing); one in data/ or in dir
 * sets manifest, one that is a link or not a regular file is an error. The
 * objects are in data/<db>/<KIND>/ (nested layout) or, when data/<db> does
 * not exist, in data/<KIND>/ (flat layout); objdir says which. Its TABLE/
 * must exist. Other folders in it must be named [A-Z_]{1,23} and hold only
 * regular files named <name>-schema.sql (a data file there is an error);
 * regular files beside the folders (MANIFEST.bin, CHECKPOINT.bin in the
 * flat layout) are ignored. Each VIEW/ schema file must parse
 * (ddl_view_parse). In TABLE/ only regular files named <t>-schema.sql and
 * <t>[.N[.M]].csv (t [A-Za-z0-9_$]{1,64}, N and M up to 18 digits); each
 * table's columns come from its schema file (ddl_table_parse: one that does
 * not parse is an error naming the file and why); a data file needs its
 * schema file.
 * Dialect: the quote is that of the first quoted field ('\'' or '"'); the
 * files are first read with '\\' as the escape, and every record of every
 * file must have exactly its table's column count; if one does not (or a
 * file does not parse), the whole backup is read again with doubled quotes
 * only; when both fail, the error names the file:line and the counts of the
 * first mismatch ("(read with escape \ and with doubled quotes)", or the
 * failure of each reading when they differ). A file's first record is a
 * header when its fields equal the table's column names (ignoring ASCII
 * case); every data file with a record must agree (a mix is an error naming
 * a file of each), and a file may hold only its header.
 * Also refused: more than BACKUP_MAX_TABLES tables, BACKUP_MAX_FILES data
 * files, BACKUP_MAX_OBJECTS other objects or BACKUP_MAX_KINDS folders; no
 * migrate_schema_history table, or one without `version` and `success`
 * columns; a field over BACKUP_FIELD_MAX in any data file; a successful
 * version over 32 bytes; no successful version at all. A table without data
 * files has 0 rows. On error *out is zeroed (backup_info_free on it is
 * fine). */
int backup_inspect(const char *dir, const char *db, struct backup_info *out, char *err,
                   size_t errlen);
void backup_info_free(struct backup_info *b);

/* The table named name, or NULL. */
const struct backup_table *backup_table_find(const struct backup_info *b, const char *name);

/* The text of the schema file of one object of backup b (from
 * backup_inspect): objdir/<kind>/<name>-schema.sql. Returns 0 with *text
 * malloc'd (the caller frees it) and NUL-terminated, *len its length; -1
 * with "path: what" in err (*text NULL).
 * Details: kind is [A-Z_]{1,23} ("TABLE", "VIEW"), name [A-Za-z0-9_$]{1,64}.
 * The data/ and data/<db> folders, the kind folder and the file are not
 * followed through symbolic links; the file must be a regular file of at
 * most 1 MiB without a NUL byte. */
int backup_schema_read(const struct backup_info *b, const char *kind, const char *name, char **text,
                       size_t *len, char *err, size_t errlen);

/* CSV as obdumper writes it in dialect d: ',' separated, fields quoted with
 * d->quote (a doubled quote stands for one inside), records end with \n or
 * CR LF (a quoted field may span lines; a lone CR is data). With escape
 * '\\', a backslash inside or outside quotes escapes the next byte as
 * Apache Commons CSV does: \n \r \t \b \f are control characters, \ followed
 * by the quote, ',' or '\' is that byte, and any other \x stays the two
 * bytes. Unquoted \N is NULL (passed as a NULL pointer), unquoted \E the
 * empty string; quoted they are text. When d->header, the first record is
 * skipped: not counted, not passed to fn.
 * Calls fn for each record with its fields (NUL-terminated); stops when fn
 * returns non-zero. Bounds: a field of at most max_field bytes, at most 1024
 * fields. Returns the record count, or -1 with "path:line: what" in err.
 * Details: lines count from 1 (raw newlines, also inside quotes). A final
 * record without a newline counts; an empty file has 0 records; an empty
 * line is a record of one empty field.
 * Errors: an unsupported dialect; an unterminated quote (reported at the
 * line where it opened), a character other than ',', '\n' or CR LF after a
 * closing quote, a field over max_field bytes (after unescaping), more than
 * 1024 fields, a record over BACKUP_CSV_RECORD_MAX (only when fn is given).
 * fn may be NULL to count only. When fn stops the read, the count includes
 * that record. path is opened with O_NOFOLLOW and must be a regular file.
 * The field array and strings are valid only during the call to fn. */
long long backup_csv_read(const char *path, const struct backup_dialect *d, size_t max_field,
                          int (*fn)(void *ctx, char **fields, size_t n), void *ctx, char *err,
                          size_t errlen);

/* The same on an open descriptor, read from its current offset to the end;
 * name labels the messages. The caller keeps and closes fd. */
long long backup_csv_read_fd(int fd, const char *name, const struct backup_dialect *d,
                             size_t max_field, int (*fn)(void *ctx, char **fields, size_t n),
                             void *ctx, char *err, size_t errlen);

#endif
