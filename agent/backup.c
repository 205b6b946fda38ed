/* Inspecting an obdumper backup of the metadb without trusting it: the
 * layout (nested or flat), each object's files, each table's columns from
 * its DDL, the CSV dialect of the data files (found by reading them), row
 * counts and the ODC version from the migrate_schema_history data. Nothing
 * inside the backup is followed through a symbolic link and every read is
 * bounded. */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "agent/backup.h"
#include "agent/guard.h"
#include "agent/ddl.h"
#include "common/version.h"

#define CSV_MAX_FIELDS 1024
#define CSV_CHUNK      65536
#define SCHEMA_MAX     DDL_TEXT_MAX /* a -schema.sql file we read */
#define HISTORY_TABLE  "migrate_schema_history"
#define SCHEMA_SUFFIX  "-schema.sql"
#define DIGITS_MAX     18   /* in the N and M of <t>.N.M.csv */
#define KIND_MAX       23   /* bytes of an object kind folder's name */
#define OBJDIR_ENTRIES 1000 /* entries of data/<db> or data/ we look at */

/* ------------------------------------------------------------------ */
/* CSV */

/* The callback used inside this file: the public one plus the line on
 * which the record starts. */
typedef int (*csv_line_fn)(void *ctx, char **fields, size_t n, unsigned long long line);

/* How one read goes. quote 0 means "not known yet": the first field that
 * starts with ' or " sets it (and it is reported back). */
struct csv_opts {
	char quote;
	char escape; /* '\\' or 0 */
	bool header; /* skip the first record */
};

enum csv_state {
	ST_FIELD,        /* at the start of a field */
	ST_PLAIN,        /* in an unquoted field */
	ST_PLAIN_CR,     /* in an unquoted field, just after a '\r' */
	ST_PLAIN_ESC,    /* in an unquoted field, just after the escape */
	ST_QUOTED,       /* in a quoted field */
	ST_QUOTED_ESC,   /* in a quoted field, just after the escape */
	ST_QUOTED_QUOTE, /* in a quoted field, just after a quote */
	ST_CLOSED,       /* after a quoted field's closing quote */
	ST_CLOSED_CR,    /* after the closing quote and a '\r' */
};

struct csv {
	const char *label;
	size_t max_field;
	size_t max_record;
	csv_line_fn fn;
	void *ctx;
	bool stop; /* fn asked to stop */
	char quote, escape;
	bool skip_header, skipped;

	/* The current record: its fields back to back, each NUL-terminated
	 * (kept only when there is a callback). */
	char *data;
	size_t len, cap;
	size_t start[CSV_MAX_FIELDS];
	bool null[CSV_MAX_FIELDS];
	char *ptrs[CSV_MAX_FIELDS];
	size_t nfields;
	size_t flen;   /* bytes in the current field */
	bool fquoted;  /* the current field was quoted */
	size_t rawlen; /* bytes of the current unquoted field as written... */
	char raw[2];   /* ...and its first two: \N is NULL, \E empty */
	bool rec_open; /* a byte of the current record has been seen */

	enum csv_state state;
	unsigned long long line, rec_line, quote_line, fail_line;
	long long count;
	char *err;
	size_t errlen;
	unsigned char chunk[CSV_CHUNK];
};

static int
csv_fail(struct csv *c, unsigned long long line, const char *what)
{
	snprintf(c->err, c->errlen, "%s:%llu: %s", c->label, line, what);
	c->fail_line = line;
	return -1;
}

static int
csv_grow(struct csv *c, size_t need)
{
	size_t ncap;
	char *nd;

	if (need <= c->cap)
		return 0;
	ncap = c->cap != 0 ? c->cap : 256;
	while (ncap < need)
		ncap *= 2;
	nd = realloc(c->data, ncap);
	if (nd == NULL) {
		snprintf(c->err, c->errlen, "%s:%llu: out of memory", c->label, c->line);
		return -2;
	}
	c->data = nd;
	c->cap = ncap;
	return 0;
}

static int
csv_put(struct csv *c, char ch)
{
	char what[96];

	if (c->flen >= c->max_field) {
		snprintf(what, sizeof(what), "field longer than %zu bytes", c->max_field);
		return csv_fail(c, c->line, what);
	}
	c->flen++;
	if (c->fn == NULL)
		return 0;
	if (c->len >= c->max_record) {
		snprintf(what, sizeof(what), "record longer than %zu bytes", c->max_record);
		return csv_fail(c, c->rec_line, what);
	}
	if (c->len + 1 > c->cap) {
		int rc = csv_grow(c, c->len + 1);

		if (rc != 0)
			return rc;
	}
	c->data[c->len++] = ch;
	return 0;
}

/* The byte after the escape, as Apache Commons CSV reads it: \n \r \t \b
 * \f are control characters, a raw control character is itself, the
 * quote, the separator and the escape are themselves, and any other byte
 * keeps its backslash (so \N stays \N). */
static int
csv_put_escaped(struct csv *c, char ch)
{
	int rc;

	switch (ch) {
	case 'n':
		return csv_put(c, '\n');
	case 'r':
		return csv_put(c, '\r');
	case 't':
		return csv_put(c, '\t');
	case 'b':
		return csv_put(c, '\b');
	case 'f':
		return csv_put(c, '\f');
	case '\n':
	case '\r':
	case '\t':
	case '\b':
	case '\f':
	case ',':
	case '\\':
		return csv_put(c, ch);
	default:
		if (ch == c->quote || (c->quote == 0 && (ch == '\'' || ch == '"')))
			return csv_put(c, ch);
		rc = csv_put(c, '\\');
		return rc != 0 ? rc : csv_put(c, ch);
	}
}

static void
csv_raw(struct csv *c, char ch)
{
	if (c->rawlen < 2)
		c->raw[c->rawlen] = ch;
	c->rawlen++;
}

static int
csv_end_field(struct csv *c)
{
	size_t start;
	bool special;

	if (c->nfields >= CSV_MAX_FIELDS) {
		char what[64];

		snprintf(what, sizeof(what), "more than %d fields", CSV_MAX_FIELDS);
		return csv_fail(c, c->rec_line, what);
	}
	/* Unquoted \N is NULL and \E the empty string, as written (quoted,
	 * they are text). */
	special = !c->fquoted && c->rawlen == 2 && c->raw[0] == '\\';
	if (c->fn != NULL) {
		start = c->len - c->flen;
		c->null[c->nfields] = special && c->raw[1] == 'N';
		if (special && c->raw[1] == 'E')
			c->len = start;
		c->start[c->nfields] = start;
		if (c->len + 1 > c->cap) {
			int rc = csv_grow(c, c->len + 1);

			if (rc != 0)
				return rc;
		}
		c->data[c->len++] = '\0';
	}
	c->nfields++;
	c->flen = 0;
	c->rawlen = 0;
	c->fquoted = false;
	return 0;
}

static int
csv_end_record(struct csv *c)
{
	size_t i;
	int rc;

	rc = csv_end_field(c);
	if (rc != 0)
		return rc;
	if (c->skip_header && !c->skipped) {
		c->skipped = true;
	} else {
		c->count++;
		if (c->fn != NULL) {
			for (i = 0; i < c->nfields; i++)
				c->ptrs[i] = c->null[i] ? NULL : c->data + c->start[i];
			if (c->fn(c->ctx, c->ptrs, c->nfields, c->rec_line) != 0)
				c->stop = true;
		}
	}
	c->len = 0;
	c->nfields = 0;
	c->rec_open = false;
	return 0;
}

static bool
csv_opens_quote(struct csv *c, char ch)
{
	if (c->quote == 0 && (ch == '\'' || ch == '"')) {
		c->quote = ch; /* the first quoted field decides */
		return true;
	}
	return c->quote != 0 && ch == c->quote;
}

/* One byte through the state machine. A byte that ends a state without
 * being consumed by it is fed again to the next state. Returns 0, -1 for a
 * fault of the data, -2 for running out of memory. */
static int
csv_byte(struct csv *c, char ch)
{
	int rc;

	if (!c->rec_open) {
		c->rec_open = true;
		c->rec_line = c->line;
	}
	for (;;) {
		switch (c->state) {
		case ST_FIELD:
			if (csv_opens_quote(c, ch)) {
				c->state = ST_QUOTED;
				c->fquoted = true;
				c->quote_line = c->line;
				return 0;
			}
			c->state = ST_PLAIN;
			continue;
		case ST_PLAIN:
			if (ch == ',') {
				c->state = ST_FIELD;
				return csv_end_field(c);
			}
			if (ch == '\n') {
				c->state = ST_FIELD;
				return csv_end_record(c);
			}
			if (ch == '\r') {
				c->state = ST_PLAIN_CR;
				return 0;
			}
			csv_raw(c, ch);
			if (c->escape != 0 && ch == c->escape) {
				c->state = ST_PLAIN_ESC;
				return 0;
			}
			return csv_put(c, ch);
		case ST_PLAIN_ESC:
			csv_raw(c, ch);
			c->state = ST_PLAIN;
			return csv_put_escaped(c, ch);
		case ST_PLAIN_CR:
			if (ch == '\n') {
				c->state = ST_FIELD;
				return csv_end_record(c);
			}
			/* A lone CR is data. */
			c->state = ST_PLAIN;
			csv_raw(c, '\r');
			rc = csv_put(c, '\r');
			if (rc != 0)
				return rc;
			continue;
		case ST_QUOTED:
			if (ch == c->quote) {
				c->state = ST_QUOTED_QUOTE;
				return 0;
			}
			if (c->escape != 0 && ch == c->escape) {
				c->state = ST_QUOTED_ESC;
				return 0;
			}
			return csv_put(c, ch);
		case ST_QUOTED_ESC:
			c->state = ST_QUOTED;
			return csv_put_escaped(c, ch);
		case ST_QUOTED_QUOTE:
			if (ch == c->quote) {
				c->state = ST_QUOTED;
				return csv_put(c, ch);
			}
			c->state = ST_CLOSED;
			continue;
		case ST_CLOSED:
			if (ch == ',') {
				c->state = ST_FIELD;
				return csv_end_field(c);
			}
			if (ch == '\n') {
				c->state = ST_FIELD;
				return csv_end_record(c);
			}
			if (ch == '\r') {
				c->state = ST_CLOSED_CR;
				return 0;
			}
			return csv_fail(c, c->line, "unexpected character after a closing quote");
		case ST_CLOSED_CR:
			if (ch == '\n') {
				c->state = ST_FIELD;
				return csv_end_record(c);
			}
			return csv_fail(c, c->line, "unexpected character after a closing quote");
		}
		return csv_fail(c, c->line, "internal error: bad state");
	}
}

/* The end of the input: a record in progress is complete (a final record
 * needs no newline), except inside a quoted field. */
static int
csv_eof(struct csv *c)
{
	int rc;

	if (!c->rec_open)
		return 0;
	switch (c->state) {
	case ST_QUOTED:
	case ST_QUOTED_ESC:
		return csv_fail(c, c->quote_line, "unterminated quote");
	case ST_PLAIN_CR:
		csv_raw(c, '\r');
		rc = csv_put(c, '\r');
		if (rc != 0)
			return rc;
		break;
	case ST_PLAIN_ESC:
		/* A backslash at the very end is itself. */
		rc = csv_put(c, '\\');
		if (rc != 0)
			return rc;
		break;
	case ST_FIELD:
	case ST_PLAIN:
	case ST_QUOTED_QUOTE:
	case ST_CLOSED:
	case ST_CLOSED_CR:
		break;
	}
	return csv_end_record(c);
}

/* Reads fd to its end (or until fn asks to stop) in dialect *o; when
 * o->quote is 0, the quote found is stored there. label names the file in
 * messages. Returns the record count; -1 with "label:line: what" for a
 * fault of the data (*fail_line set), -2 for a read error or no memory. */
static long long
csv_run(int fd, const char *label, size_t max_field, struct csv_opts *o, csv_line_fn fn, void *ctx,
        unsigned long long *fail_line, char *err, size_t errlen)
{
	struct csv *c;
	long long rc = -2;
	ssize_t n, i;
	int brc;

	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		snprintf(err, errlen, "%s: out of memory", label);
		return -2;
	}
	c->label = label;
	c->max_field = max_field;
	c->max_record = max_field > BACKUP_CSV_RECORD_MAX ? max_field : BACKUP_CSV_RECORD_MAX;
	c->fn = fn;
	c->ctx = ctx;
	c->quote = o->quote;
	c->escape = o->escape;
	c->skip_header = o->header;
	c->err = err;
	c->errlen = errlen;
	c->line = 1;
	c->state = ST_FIELD;
	while (!c->stop) {
		n = read(fd, c->chunk, sizeof(c->chunk));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "%s: read: %s", label, strerror(errno));
			goto out;
		}
		if (n == 0) {
			brc = csv_eof(c);
			if (brc != 0) {
				rc = brc;
				goto out;
			}
			break;
		}
		for (i = 0; i < n && !c->stop; i++) {
			brc = csv_byte(c, (char)c->chunk[i]);
			if (brc != 0) {
				rc = brc;
				goto out;
			}
			if (c->chunk[i] == '\n')
				c->line++;
		}
	}
	rc = c->count;
	o->quote = c->quote;
out:
	if (fail_line != NULL)
		*fail_line = c->fail_line;
	free(c->data);
	free(c);
	return rc;
}

/* Adapts the public callback to the internal one. */
struct csv_adapt {
	int (*fn)(void *ctx, char **fields, size_t n);
	void *ctx;
};

static int
csv_adapt_fn(void *ctx, char **fields, size_t n, unsigned long long line)
{
	struct csv_adapt *a = ctx;

	(void)line;
	return a->fn(a->ctx, fields, n);
}

/* Opens name (relative to dirfd, or AT_FDCWD) as a regular file, never
 * through a symbolic link in its last component, and never blocking on a
 * FIFO. Returns the fd or -1 with "label: what". */
static int
open_regular(int dirfd, const char *name, const char *label, struct stat *st, char *err,
             size_t errlen)
{
	int fd, e;

	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		e = errno;
		if (e == ELOOP)
			snprintf(err, errlen, "%s: is a symbolic link (not followed)", label);
		else
			snprintf(err, errlen, "%s: %s", label, strerror(e));
		return -1;
	}
	if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", label);
		close(fd);
		return -1;
	}
	return fd;
}

long long
backup_csv_read_fd(int fd, const char *name, const struct backup_dialect *d, size_t max_field,
                   int (*fn)(void *ctx, char **fields, size_t n), void *ctx, char *err,
                   size_t errlen)
{
	struct csv_adapt a = {fn, ctx};
	struct csv_opts o;
	long long rc;

	assert(d != NULL);
	if ((d->quote != '\'' && d->quote != '"') || (d->escape != '\\' && d->escape != 0)) {
		snprintf(err, errlen, "%s: unsupported CSV dialect (quote %d, escape %d)", name,
		         d->quote, d->escape);
		return -1;
	}
	o.quote = d->quote;
	o.escape = d->escape;
	o.header = d->header;
	rc = csv_run(fd, name, max_field, &o, fn != NULL ? csv_adapt_fn : NULL, &a, NULL, err,
	             errlen);
	return rc < 0 ? -1 : rc;
}

long long
backup_csv_read(const char *path, const struct backup_dialect *d, size_t max_field,
                int (*fn)(void *ctx, char **fields, size_t n), void *ctx, char *err, size_t errlen)
{
	struct stat st;
	long long rc;
	int fd;

	fd = open_regular(AT_FDCWD, path, path, &st, err, errlen);
	if (fd < 0)
		return -1;
	rc = backup_csv_read_fd(fd, path, d, max_field, fn, ctx, err, errlen);
	close(fd);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Layout */

static bool
name_char_ok(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '$';
}

/* [A-Za-z0-9_$]{1,64} over the first len bytes. */
static bool
table_name_ok(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > BACKUP_NAME_MAX)
		return false;
	for (i = 0; i < len; i++)
		if (!name_char_ok(s[i]))
			return false;
	return true;
}

/* A database name becomes a path component: [A-Za-z0-9_$-]{1,64}. */
static bool
db_name_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (i >= BACKUP_NAME_MAX || !(name_char_ok(s[i]) || s[i] == '-'))
			return false;
	return i > 0;
}

/* An object kind folder: [A-Z_]{1,23}. */
static bool
kind_name_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (i >= KIND_MAX || !((s[i] >= 'A' && s[i] <= 'Z') || s[i] == '_'))
			return false;
	return i > 0;
}

static bool
digits_ok(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > DIGITS_MAX)
		return false;
	for (i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

enum file_kind { FILE_UNKNOWN, FILE_SCHEMA, FILE_DATA };

/* What a file in a kind folder is, and the length of its object name. */
static enum file_kind
classify(const char *name, size_t *tlen)
{
	size_t len = strlen(name), slen = strlen(SCHEMA_SUFFIX), blen, n1;
	const char *dot, *dot2;

	if (len > slen && strcmp(name + len - slen, SCHEMA_SUFFIX) == 0) {
		*tlen = len - slen;
		return table_name_ok(name, *tlen) ? FILE_SCHEMA : FILE_UNKNOWN;
	}
	if (len <= 4 || strcmp(name + len - 4, ".csv") != 0)
		return FILE_UNKNOWN;
	blen = len - 4;
	dot = memchr(name, '.', blen);
	*tlen = dot != NULL ? (size_t)(dot - name) : blen;
	if (!table_name_ok(name, *tlen))
		return FILE_UNKNOWN;
	if (dot == NULL)
		return FILE_DATA; /* <t>.csv */
	dot++;
	dot2 = memchr(dot, '.', blen - (size_t)(dot - name));
	n1 = dot2 != NULL ? (size_t)(dot2 - dot) : blen - (size_t)(dot - name);
	if (!digits_ok(dot, n1))
		return FILE_UNKNOWN;
	if (dot2 == NULL)
		return FILE_DATA; /* <t>.N.csv */
	dot2++;
	return digits_ok(dot2, blen - (size_t)(dot2 - name)) ? FILE_DATA : FILE_UNKNOWN;
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
table_cmp(const void *a, const void *b)
{
	return strcmp(((const struct backup_table *)a)->name,
	              ((const struct backup_table *)b)->name);
}

static int
object_cmp(const void *a, const void *b)
{
	const struct backup_object *x = a, *y = b;
	int c = strcmp(x->kind, y->kind);

	return c != 0 ? c : strcmp(x->name, y->name);
}

/* Opens the directory name under dirfd without following a link. Returns
 * the fd, or -1 with errno ENOENT when it does not exist, ELOOP when it is a
 * symbolic link, ENOTDIR when it is something else. */
static int
open_dir(int dirfd, const char *name)
{
	struct stat st;
	int fd, e;

	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	e = errno;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISLNK(st.st_mode))
			e = ELOOP;
		else if (!S_ISDIR(st.st_mode))
			e = ENOTDIR;
	}
	errno = e;
	return -1;
}

/* Lists the names in directory fd (without "." and ".."), sorted, at most
 * max of them. Returns 0, or -1 with errno set (E2BIG when over max). */
static int
list_dir(int fd, char ***names, size_t *n, size_t max)
{
	DIR *d;
	struct dirent *de;
	char **v = NULL, **nv;
	size_t cnt = 0, cap = 0, i;
	int dfd, e = 0;

	*names = NULL;
	*n = 0;
	dfd = dup(fd);
	if (dfd < 0)
		return -1;
	d = fdopendir(dfd);
	if (d == NULL) {
		e = errno;
		close(dfd);
		errno = e;
		return -1;
	}
	rewinddir(d);
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (de == NULL) {
			e = errno;
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (cnt >= max) {
			e = E2BIG;
			break;
		}
		if (cnt == cap) {
			cap = cap != 0 ? cap * 2 : 64;
			nv = realloc(v, cap * sizeof(*v));
			if (nv == NULL) {
				e = ENOMEM;
				break;
			}
			v = nv;
		}
		v[cnt] = strdup(de->d_name);
		if (v[cnt] == NULL) {
			e = ENOMEM;
			break;
		}
		cnt++;
	}
	closedir(d);
	if (e != 0) {
		for (i = 0; i < cnt; i++)
			free(v[i]);
		free(v);
		errno = e;
		return -1;
	}
	if (cnt > 0)
		qsort(v, cnt, sizeof(*v), str_cmp);
	*names = v;
	*n = cnt;
	return 0;
}

/* Appends to out the folders that data/ does hold, to make "wrong
 * database" obvious; names that are not plain are shown as '?'. */
static void
describe_found(int datafd, char *out, size_t outlen)
{
	char **v = NULL;
	size_t n = 0, i, used, shown = 0;
	struct stat st;

	out[0] = '\0';
	if (datafd < 0 || list_dir(datafd, &v, &n, 1000) != 0) {
		str_array_free(v, n);
		return;
	}
	snprintf(out, outlen, " (data/ holds:");
	for (i = 0; i < n && shown < 8; i++) {
		if (fstatat(datafd, v[i], &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode))
			continue;
		used = strlen(out);
		snprintf(out + used, outlen - used, " %s", db_name_ok(v[i]) ? v[i] : "?");
		shown++;
	}
	used = strlen(out);
	snprintf(out + used, outlen - used, "%s)", shown == 0 ? " no folder" : i < n ? " ..." : "");
	str_array_free(v, n);
}

/* Reads the schema file name in dirfd (at most SCHEMA_MAX bytes, no NUL
 * byte) into a malloc'd NUL-terminated *text. */
static int
read_schema(int dirfd, const char *name, const char *label, char **text, size_t *len, char *err,
            size_t errlen)
{
	struct stat st;
	char *t = NULL;
	size_t got = 0;
	ssize_t n;
	int fd, rc = -1;

	*text = NULL;
	*len = 0;
	fd = open_regular(dirfd, name, label, &st, err, errlen);
	if (fd < 0)
		return -1;
	if (st.st_size > (off_t)SCHEMA_MAX) {
		snprintf(err, errlen, "%s: larger than %u bytes", label, SCHEMA_MAX);
		goto out;
	}
	t = malloc(SCHEMA_MAX + 2);
	if (t == NULL) {
		snprintf(err, errlen, "%s: out of memory", label);
		goto out;
	}
	/* Read up to one byte past the bound: the file may grow after fstat. */
	while (got <= SCHEMA_MAX) {
		n = read(fd, t + got, SCHEMA_MAX + 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "%s: read: %s", label, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (got > SCHEMA_MAX) {
		snprintf(err, errlen, "%s: larger than %u bytes", label, SCHEMA_MAX);
		goto out;
	}
	t[got] = '\0';
	if (memchr(t, '\0', got) != NULL) {
		snprintf(err, errlen, "%s: contains a NUL byte", label);
		goto out;
	}
	*text = t;
	*len = got;
	t = NULL;
	rc = 0;
out:
	free(t);
	close(fd);
	return rc;
}

/* A MANIFEST.bin in dirfd: absent is fine, a link or not a regular file is
 * an error. */
static int
check_manifest(int dirfd, const char *label, bool *found, char *err, size_t errlen)
{
	struct stat st;

	if (fstatat(dirfd, "MANIFEST.bin", &st, AT_SYMLINK_NOFOLLOW) != 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", label, strerror(errno));
		return -1;
	}
	if (S_ISLNK(st.st_mode) || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: %s", label,
		         S_ISLNK(st.st_mode) ? "is a symbolic link (not followed)"
		                             : "not a regular file");
		return -1;
	}
	*found = true;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Reading the data files */

struct table_cols {
	char **cols;
	size_t ncols;
};

/* One data file of TABLE/. */
struct dfile {
	size_t file;  /* index in the folder's names */
	size_t table; /* index in the tables */
	uint64_t size;
	long long records;
	bool first_header; /* its first record is the column names */
};

/* The history table's columns, and the best version a reading found. */
struct history {
	size_t table, vcol, scol;
	char best[sizeof(((struct backup_info *)0)->version)];
};

/* One reading of every data file in one dialect. */
struct pass {
	char escape;
	char quote;  /* found (0: no quoted field seen) */
	bool failed; /* a fault of the data: another dialect may read it */
	bool fatal;  /* anything else: no point in another reading */
	size_t fail_file;
	unsigned long long fail_line;
	char msg[1536];
	struct history h;
};

/* The callback's view of one file. */
struct rows {
	const char *label;
	const char *table;
	const struct table_cols *tc;
	struct history *h; /* NULL unless this is the history table */
	unsigned long long rec;
	bool first_header;
	bool failed;
	unsigned long long fail_line;
	char *msg;
	size_t msglen;
};

static int
row_fail(struct rows *r, unsigned long long line)
{
	r->failed = true;
	r->fail_line = line;
	return 1;
}

static int
data_row(void *ctx, char **f, size_t n, unsigned long long line)
{
	struct rows *r = ctx;
	struct history *h = r->h;
	const char *v, *s;
	size_t i;

	r->rec++;
	if (n != r->tc->ncols) {
		snprintf(r->msg, r->msglen, "%s:%llu: %zu fields, table %s has %zu columns",
		         r->label, line, n, r->table, r->tc->ncols);
		return row_fail(r, line);
	}
	if (r->rec == 1) {
		for (i = 0; i < n; i++)
			if (f[i] == NULL || strcasecmp(f[i], r->tc->cols[i]) != 0)
				break;
		r->first_header = i == n;
		if (r->first_header)
			return 0;
	}
	if (h == NULL)
		return 0;
	s = f[h->scol];
	v = f[h->vcol];
	if (s == NULL || (strcmp(s, "1") != 0 && strcasecmp(s, "true") != 0))
		return 0;
	if (v == NULL || *v == '\0')
		return 0;
	if (strlen(v) >= sizeof(h->best)) {
		snprintf(r->msg, r->msglen, "%s:%llu: version longer than %zu bytes", r->label,
		         line, sizeof(h->best) - 1);
		return row_fail(r, line);
	}
	if (h->best[0] == '\0' || version_cmp(v, h->best) > 0)
		memcpy(h->best, v, strlen(v) + 1);
	return 0;
}

/* Reads every data file in ps->escape; the quote is found on the way. */
static void
read_pass(int tfd, const char *tpath, char **files, struct dfile *df, size_t ndf,
          const struct backup_table *tabs, const struct table_cols *tc, struct pass *ps)
{
	char label[4400];
	struct csv_opts o = {0, ps->escape, false};
	struct rows r;
	struct stat st;
	long long cnt;
	size_t i;
	int fd;

	ps->h.best[0] = '\0';
	for (i = 0; i < ndf; i++) {
		snprintf(label, sizeof(label), "%s/%s", tpath, files[df[i].file]);
		fd = open_regular(tfd, files[df[i].file], label, &st, ps->msg, sizeof(ps->msg));
		if (fd < 0) {
			ps->fatal = true;
			return;
		}
		memset(&r, 0, sizeof(r));
		r.label = label;
		r.table = tabs[df[i].table].name;
		r.tc = &tc[df[i].table];
		r.h = df[i].table == ps->h.table ? &ps->h : NULL;
		r.msg = ps->msg;
		r.msglen = sizeof(ps->msg);
		cnt = csv_run(fd, label, BACKUP_FIELD_MAX, &o, data_row, &r, &ps->fail_line,
		              ps->msg, sizeof(ps->msg));
		close(fd);
		if (cnt == -2) {
			ps->fatal = true;
			return;
		}
		if (cnt < 0 || r.failed) {
			if (r.failed)
				ps->fail_line = r.fail_line;
			ps->failed = true;
			ps->fail_file = i;
			return;
		}
		df[i].size = (uint64_t)st.st_size;
		df[i].records = cnt;
		df[i].first_header = r.first_header;
	}
	ps->quote = o.quote;
}

/* The message when neither reading worked: the same fault, or the one
 * found later (the reading that got further is likelier right) with the
 * other's. */
static void
both_failed(const struct pass *a, const struct pass *b, char *err, size_t errlen)
{
	bool b_later;

	if (a->fail_file == b->fail_file && a->fail_line == b->fail_line &&
	    strcmp(a->msg, b->msg) == 0) {
		snprintf(err, errlen, "%s (read with escape \\ and with doubled quotes)", a->msg);
		return;
	}
	b_later = b->fail_file > a->fail_file ||
	          (b->fail_file == a->fail_file && b->fail_line > a->fail_line);
	if (b_later)
		snprintf(err, errlen, "%s (read with doubled quotes; with escape \\: %s)", b->msg,
		         a->msg);
	else
		snprintf(err, errlen, "%s (read with escape \\; with doubled quotes: %s)", a->msg,
		         b->msg);
}

/* ------------------------------------------------------------------ */
/* Objects other than tables */

struct objects {
	struct backup_object *v;
	size_t n, cap;
};

/* The kind folder `kind` (not TABLE): only <name>-schema.sql regular files;
 * each VIEW must parse. */
static int
scan_kind(int objfd, const char *objdir, const char *kind, struct objects *ob, char *err,
          size_t errlen)
{
	char path[4200], label[4500], why[512], **files = NULL;
	size_t nfiles = 0, i, nlen, text_len;
	struct backup_object *nv;
	struct ddl_view view;
	struct stat st;
	char *text;
	int kfd, vrc, rc = -1;

	snprintf(path, sizeof(path), "%s/%s", objdir, kind);
	kfd = open_dir(objfd, kind);
	if (kfd < 0) {
		snprintf(err, errlen, "%s: %s", path,
		         errno == ELOOP ? "is a symbolic link (not followed)" : strerror(errno));
		return -1;
	}
	if (list_dir(kfd, &files, &nfiles, BACKUP_MAX_OBJECTS + 1) != 0) {
		if (errno == E2BIG)
			snprintf(err, errlen, "%s: more than %d files", path, BACKUP_MAX_OBJECTS);
		else
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	for (i = 0; i < nfiles; i++) {
		snprintf(label, sizeof(label), "%s/%s", path, files[i]);
		if (fstatat(kfd, files[i], &st, AT_SYMLINK_NOFOLLOW) != 0) {
			snprintf(err, errlen, "%s: %s", label, strerror(errno));
			goto out;
		}
		if (S_ISLNK(st.st_mode)) {
			snprintf(err, errlen, "%s: is a symbolic link (not followed)", label);
			goto out;
		}
		switch (classify(files[i], &nlen)) {
		case FILE_DATA:
			snprintf(err, errlen, "%s: a data file in %s/ (only TABLE/ holds data)",
			         label, kind);
			goto out;
		case FILE_UNKNOWN:
			snprintf(err, errlen, "%s: unknown file (expected <name>" SCHEMA_SUFFIX ")",
			         label);
			goto out;
		case FILE_SCHEMA:
			break;
		}
		if (!S_ISREG(st.st_mode)) {
			snprintf(err, errlen, "%s: not a regular file", label);
			goto out;
		}
		if (ob->n >= BACKUP_MAX_OBJECTS) {
			snprintf(err, errlen, "%s: more than %d objects that are not tables",
			         objdir, BACKUP_MAX_OBJECTS);
			goto out;
		}
		if (ob->n == ob->cap) {
			ob->cap = ob->cap != 0 ? ob->cap * 2 : 16;
			nv = realloc(ob->v, ob->cap * sizeof(*nv));
			if (nv == NULL) {
				snprintf(err, errlen, "%s: out of memory", path);
				goto out;
			}
			ob->v = nv;
		}
		memset(&ob->v[ob->n], 0, sizeof(ob->v[ob->n]));
		memcpy(ob->v[ob->n].kind, kind, strlen(kind));
		memcpy(ob->v[ob->n].name, files[i], nlen);
		ob->n++;
		/* A view that cannot be parsed now would stop a restore halfway. */
		if (strcmp(kind, "VIEW") == 0) {
			if (read_schema(kfd, files[i], label, &text, &text_len, err, errlen) != 0)
				goto out;
			vrc = ddl_view_parse(text, text_len, ob->v[ob->n - 1].name, &view, why,
			                     sizeof(why));
			free(text);
			ddl_view_free(&view);
			if (vrc != 0) {
				snprintf(err, errlen, "%s: %s", label, why);
				goto out;
			}
		}
	}
	rc = 0;
out:
	str_array_free(files, nfiles);
	close(kfd);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Inspection */

/* The layout: the folder with the kind folders (fd and path) and whether it
 * is nested. */
static int
find_objdir(const char *dir, const char *db, int datafd, struct backup_info *out, int *objfd,
            char *err, size_t errlen)
{
	char found[600];
	int fd, tfd, e;
	bool nested;

	fd = open_dir(datafd, db);
	if (fd >= 0) {
		nested = true;
	} else if (errno == ENOENT) {
		nested = false;
		fd = dup(datafd);
		if (fd < 0) {
			snprintf(err, errlen, "%s/data: %s", dir, strerror(errno));
			return -1;
		}
	} else {
		e = errno;
		snprintf(err, errlen, "%s/data/%s: %s", dir, db,
		         e == ELOOP ? "is a symbolic link (not followed)" : strerror(e));
		return -1;
	}
	/* Room is left for "/<KIND>/<name>-schema.sql" after it. */
	if ((size_t)snprintf(out->objdir, sizeof(out->objdir), "%s/data%s%s", dir,
	                     nested ? "/" : "", nested ? db : "") >= sizeof(out->objdir) - 128) {
		snprintf(err, errlen, "%s: path too long", dir);
		close(fd);
		return -1;
	}
	tfd = open_dir(fd, "TABLE");
	if (tfd < 0) {
		e = errno;
		if (e == ENOENT && nested) {
			snprintf(
			    err, errlen,
			    "%s: not a backup of database %s: no data/%s/TABLE (data/%s exists: "
			    "nested layout data/<db>/<KIND>/)",
			    dir, db, db, db);
		} else if (e == ENOENT) {
			describe_found(datafd, found, sizeof(found));
			snprintf(
			    err, errlen,
			    "%s: not a backup of database %s: no data/%s/TABLE (nested layout) nor "
			    "data/TABLE (flat layout)%s",
			    dir, db, db, found);
		} else if (e == ELOOP) {
			snprintf(err, errlen, "%s/TABLE: is a symbolic link (not followed)",
			         out->objdir);
		} else {
			snprintf(err, errlen, "%s/TABLE: %s", out->objdir, strerror(e));
		}
		out->objdir[0] = '\0';
		close(fd);
		return -1;
	}
	close(tfd);
	*objfd = fd;
	return 0;
}

/* Whether file f (a data or schema file) is one of table's. */
static bool
ours(const char *f, const char *table)
{
	size_t n = strlen(table);

	return strncmp(f, table, n) == 0 && (strcmp(f + n, SCHEMA_SUFFIX) == 0 || f[n] == '.');
}

int
backup_inspect(const char *dir, const char *db, struct backup_info *out, char *err, size_t errlen)
{
	char path[4200], label[4400], why[512], lbl2[BACKUP_NAME_MAX + 16];
	char **files = NULL, **kinds = NULL, *text = NULL;
	size_t nfiles = 0, nkinds = 0, i, k, ntab = 0, ndata = 0, tlen, text_len, hdr_yes, hdr_no;
	enum file_kind *fk = NULL;
	struct backup_table *tabs = NULL, key, *t;
	struct table_cols *tc = NULL;
	struct dfile *df = NULL;
	struct objects ob = {0};
	struct pass *pa = NULL, *pb = NULL, *ok;
	struct ddl_table dt;
	struct stat st;
	int dfd = -1, datafd = -1, objfd = -1, tfd = -1, rc = -1;
	bool manifest = false;

	memset(out, 0, sizeof(*out));
	if (dir == NULL || *dir == '\0' || db == NULL || !db_name_ok(db)) {
		snprintf(err, errlen,
		         "backup: a directory and a database name [A-Za-z0-9_$-]{1,%d} "
		         "are required",
		         BACKUP_NAME_MAX);
		return -1;
	}
	/* The directory we are given may itself be reached through a link (the
	 * operator chose it); nothing inside it is. */
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	datafd = open_dir(dfd, "data");
	if (datafd < 0) {
		if (errno == ENOENT)
			snprintf(
			    err, errlen,
			    "%s: not a backup of database %s: no data/%s/TABLE (nested layout) "
			    "nor data/TABLE (flat layout): there is no data/ folder",
			    dir, db, db);
		else
			snprintf(err, errlen, "%s/data: %s", dir,
			         errno == ELOOP ? "is a symbolic link (not followed)"
			                        : strerror(errno));
		goto out;
	}
	/* MANIFEST.bin proves nothing (obdumper writes it first, 4.1.0 and
	 * later may not at all), but a strange one is not ignored. */
	snprintf(label, sizeof(label), "%s/data/MANIFEST.bin", dir);
	if (check_manifest(datafd, label, &manifest, err, errlen) != 0)
		goto out;
	snprintf(label, sizeof(label), "%s/MANIFEST.bin", dir);
	if (check_manifest(dfd, label, &manifest, err, errlen) != 0)
		goto out;
	if (find_objdir(dir, db, datafd, out, &objfd, err, errlen) != 0)
		goto out;

	/* The kind folders beside TABLE/. */
	if (list_dir(objfd, &kinds, &nkinds, OBJDIR_ENTRIES) != 0) {
		snprintf(err, errlen, "%s: %s", out->objdir,
		         errno == E2BIG ? "more than 1000 entries" : strerror(errno));
		goto out;
	}
	for (i = 0, k = 0; i < nkinds; i++) {
		snprintf(label, sizeof(label), "%s/%s", out->objdir, kinds[i]);
		if (fstatat(objfd, kinds[i], &st, AT_SYMLINK_NOFOLLOW) != 0) {
			snprintf(err, errlen, "%s: %s", label, strerror(errno));
			goto out;
		}
		if (S_ISLNK(st.st_mode)) {
			snprintf(err, errlen, "%s: is a symbolic link (not followed)", label);
			goto out;
		}
		if (S_ISREG(st.st_mode))
			continue; /* MANIFEST.bin, CHECKPOINT.bin in the flat layout */
		if (!S_ISDIR(st.st_mode)) {
			snprintf(err, errlen, "%s: not a regular file or a folder", label);
			goto out;
		}
		if (!kind_name_ok(kinds[i])) {
			snprintf(
			    err, errlen,
			    "%s: not an object folder (expected an object kind such as TABLE or "
			    "VIEW: [A-Z_]{1,%d})",
			    label, KIND_MAX);
			goto out;
		}
		if (++k > BACKUP_MAX_KINDS) {
			snprintf(err, errlen, "%s: more than %d object folders", out->objdir,
			         BACKUP_MAX_KINDS);
			goto out;
		}
		if (strcmp(kinds[i], "TABLE") != 0 &&
		    scan_kind(objfd, out->objdir, kinds[i], &ob, err, errlen) != 0)
			goto out;
	}
	if (ob.n > 0)
		qsort(ob.v, ob.n, sizeof(*ob.v), object_cmp);

	/* TABLE/. */
	snprintf(path, sizeof(path), "%s/TABLE", out->objdir);
	tfd = open_dir(objfd, "TABLE");
	if (tfd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (list_dir(tfd, &files, &nfiles, BACKUP_MAX_FILES + BACKUP_MAX_TABLES) != 0) {
		if (errno == E2BIG)
			snprintf(err, errlen, "%s: more than %d files", path,
			         BACKUP_MAX_FILES + BACKUP_MAX_TABLES);
		else
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	/* The restore guard and the fence (guard.h) are in a dump taken while
	 * they stood (a safety snapshot, an operator's obdumper run after a
	 * rollback): empty tables of ours, not ODC's. Left out. */
	for (i = 0; i < nfiles;) {
		const char *f = files[i];
		if (ours(f, GUARD_TABLE) || ours(f, FENCE_TABLE)) {
			free(files[i]);
			memmove(&files[i], &files[i + 1], (nfiles - i - 1) * sizeof(*files));
			nfiles--;
			continue;
		}
		i++;
	}
	fk = calloc(nfiles + 1, sizeof(*fk));
	if (fk == NULL)
		goto oom;
	/* Every file must be a regular file we know; in name order, so the
	 * same backup always gets the same message. */
	for (i = 0; i < nfiles; i++) {
		snprintf(label, sizeof(label), "%s/%s", path, files[i]);
		if (fstatat(tfd, files[i], &st, AT_SYMLINK_NOFOLLOW) != 0) {
			snprintf(err, errlen, "%s: %s", label, strerror(errno));
			goto out;
		}
		if (S_ISLNK(st.st_mode)) {
			snprintf(err, errlen, "%s: is a symbolic link (not followed)", label);
			goto out;
		}
		fk[i] = classify(files[i], &tlen);
		if (fk[i] == FILE_UNKNOWN) {
			snprintf(err, errlen,
			         "%s: unknown file (expected <table>-schema.sql or "
			         "<table>[.N[.M]].csv)",
			         label);
			goto out;
		}
		if (!S_ISREG(st.st_mode)) {
			snprintf(err, errlen, "%s: not a regular file", label);
			goto out;
		}
		if (fk[i] == FILE_SCHEMA)
			ntab++;
		else
			ndata++;
	}
	if (ntab > BACKUP_MAX_TABLES || ndata > BACKUP_MAX_FILES) {
		snprintf(err, errlen, "%s: more than %d tables or %d data files", path,
		         BACKUP_MAX_TABLES, BACKUP_MAX_FILES);
		goto out;
	}
	tabs = calloc(ntab + 1, sizeof(*tabs));
	tc = calloc(ntab + 1, sizeof(*tc));
	df = calloc(ndata + 1, sizeof(*df));
	pa = calloc(1, sizeof(*pa));
	pb = calloc(1, sizeof(*pb));
	if (tabs == NULL || tc == NULL || df == NULL || pa == NULL || pb == NULL)
		goto oom;
	ntab = 0;
	for (i = 0; i < nfiles; i++) {
		if (fk[i] != FILE_SCHEMA)
			continue;
		tlen = strlen(files[i]) - strlen(SCHEMA_SUFFIX);
		memcpy(tabs[ntab].name, files[i], tlen);
		tabs[ntab].name[tlen] = '\0';
		ntab++;
	}
	qsort(tabs, ntab, sizeof(*tabs), table_cmp);
	/* Each data file belongs to a table with a schema file. */
	ndata = 0;
	for (i = 0; i < nfiles; i++) {
		if (fk[i] != FILE_DATA)
			continue;
		(void)classify(files[i], &tlen);
		memset(&key, 0, sizeof(key));
		memcpy(key.name, files[i], tlen);
		t = bsearch(&key, tabs, ntab, sizeof(*tabs), table_cmp);
		if (t == NULL) {
			snprintf(err, errlen, "%s/%s: data file without %s" SCHEMA_SUFFIX, path,
			         files[i], key.name);
			goto out;
		}
		df[ndata].file = i;
		df[ndata].table = (size_t)(t - tabs);
		ndata++;
	}
	memset(&key, 0, sizeof(key));
	memcpy(key.name, HISTORY_TABLE, sizeof(HISTORY_TABLE));
	t = bsearch(&key, tabs, ntab, sizeof(*tabs), table_cmp);
	if (t == NULL) {
		snprintf(err, errlen,
		         "%s: not an ODC metadb backup: no " HISTORY_TABLE " table in %s", dir,
		         path);
		goto out;
	}
	pa->h.table = (size_t)(t - tabs);

	/* Each table's columns, from its DDL. */
	for (i = 0; i < ntab; i++) {
		snprintf(lbl2, sizeof(lbl2), "%s" SCHEMA_SUFFIX, tabs[i].name);
		snprintf(label, sizeof(label), "%s/%s", path, lbl2);
		if (read_schema(tfd, lbl2, label, &text, &text_len, err, errlen) != 0)
			goto out;
		if (ddl_table_parse(text, text_len, tabs[i].name, &dt, why, sizeof(why)) != 0) {
			snprintf(err, errlen, "%s: %s", label, why);
			goto out;
		}
		free(text);
		text = NULL;
		tc[i].cols = dt.columns;
		tc[i].ncols = dt.n_columns;
		dt.columns = NULL;
		dt.n_columns = 0;
		ddl_table_free(&dt);
	}
	i = pa->h.table;
	for (k = 0; k < tc[i].ncols; k++) {
		if (strcasecmp(tc[i].cols[k], "version") == 0)
			pa->h.vcol = k + 1;
		if (strcasecmp(tc[i].cols[k], "success") == 0)
			pa->h.scol = k + 1;
	}
	if (pa->h.vcol == 0 || pa->h.scol == 0) {
		snprintf(err, errlen,
		         "%s/" HISTORY_TABLE SCHEMA_SUFFIX ": no `%s` column among %zu columns",
		         path, pa->h.vcol == 0 ? "version" : "success", tc[i].ncols);
		goto out;
	}
	pa->h.vcol--;
	pa->h.scol--;
	pb->h = pa->h;

	/* The dialect: escape '\' first, every record the right width; else
	 * doubled quotes. */
	pa->escape = '\\';
	read_pass(tfd, path, files, df, ndata, tabs, tc, pa);
	ok = pa;
	if (pa->fatal) {
		snprintf(err, errlen, "%s", pa->msg);
		goto out;
	}
	if (pa->failed) {
		pb->escape = 0;
		read_pass(tfd, path, files, df, ndata, tabs, tc, pb);
		if (pb->fatal) {
			snprintf(err, errlen, "%s", pb->msg);
			goto out;
		}
		if (pb->failed) {
			both_failed(pa, pb, err, errlen);
			goto out;
		}
		ok = pb;
	}

	/* A header line in every file that has a record, or in none. */
	hdr_yes = hdr_no = SIZE_MAX;
	for (i = 0; i < ndata; i++) {
		if (df[i].records == 0)
			continue;
		if (df[i].first_header && hdr_yes == SIZE_MAX)
			hdr_yes = i;
		if (!df[i].first_header && hdr_no == SIZE_MAX)
			hdr_no = i;
	}
	if (hdr_yes != SIZE_MAX && hdr_no != SIZE_MAX) {
		snprintf(err, errlen,
		         "%s/%s starts with a header line (the column names) but %s/%s does not: "
		         "the data files must agree",
		         path, files[df[hdr_yes].file], path, files[df[hdr_no].file]);
		goto out;
	}
	out->header = hdr_yes != SIZE_MAX;
	for (i = 0; i < ndata; i++) {
		t = &tabs[df[i].table];
		if (df[i].records > 0)
			t->rows += (uint64_t)df[i].records - (out->header ? 1 : 0);
		t->bytes += df[i].size;
		t->n_files++;
		out->bytes += df[i].size;
	}
	if (ok->h.best[0] == '\0') {
		snprintf(err, errlen,
		         "%s/" HISTORY_TABLE ": no successful migration recorded (no version)",
		         path);
		goto out;
	}
	memcpy(out->version, ok->h.best, sizeof(out->version));
	out->quote = ok->quote != 0 ? ok->quote : '\'';
	out->escape = ok->escape;
	out->manifest = manifest;
	out->tables = tabs;
	out->n_tables = ntab;
	out->objects = ob.v;
	out->n_objects = ob.n;
	tabs = NULL;
	ob.v = NULL;
	rc = 0;
	goto out;
oom:
	snprintf(err, errlen, "%s: out of memory", path);
out:
	if (rc != 0)
		memset(out, 0, sizeof(*out));
	if (tc != NULL)
		for (i = 0; i < ntab; i++)
			str_array_free(tc[i].cols, tc[i].ncols);
	free(tc);
	free(text);
	free(df);
	free(pa);
	free(pb);
	free(ob.v);
	free(tabs);
	free(fk);
	str_array_free(files, nfiles);
	str_array_free(kinds, nkinds);
	if (tfd >= 0)
		close(tfd);
	if (objfd >= 0)
		close(objfd);
	if (datafd >= 0)
		close(datafd);
	if (dfd >= 0)
		close(dfd);
	return rc;
}

void
backup_info_free(struct backup_info *b)
{
	if (b == NULL)
		return;
	free(b->tables);
	free(b->objects);
	memset(b, 0, sizeof(*b));
}

const struct backup_table *
backup_table_find(const struct backup_info *b, const char *name)
{
	struct backup_table key;
	size_t len;

	if (b == NULL || name == NULL || b->tables == NULL)
		return NULL;
	len = strlen(name);
	if (len > BACKUP_NAME_MAX)
		return NULL;
	memset(&key, 0, sizeof(key));
	memcpy(key.name, name, len);
	return bsearch(&key, b->tables, b->n_tables, sizeof(*b->tables), table_cmp);
}

/* ------------------------------------------------------------------ */
/* Schema files */

int
backup_schema_read(const struct backup_info *b, const char *kind, const char *name, char **text,
                   size_t *len, char *err, size_t errlen)
{
	char base[4096], db[BACKUP_NAME_MAX + 1], label[4400], fname[BACKUP_NAME_MAX + 16];
	const char *slash;
	size_t blen, nlen;
	int fd = -1, next, rc = -1;

	*text = NULL;
	*len = 0;
	if (b == NULL || b->objdir[0] == '\0' || kind == NULL || !kind_name_ok(kind) ||
	    name == NULL || !table_name_ok(name, strlen(name))) {
		snprintf(err, errlen, "backup_schema_read: no backup, or a bad kind or name");
		return -1;
	}
	snprintf(label, sizeof(label), "%s/%s/%s" SCHEMA_SUFFIX, b->objdir, kind, name);
	/* objdir is DIR/data (flat) or DIR/data/<db> (nested): DIR may be a
	 * link (the operator's choice), nothing below it. */
	blen = strlen(b->objdir);
	db[0] = '\0';
	if (blen < 5 || strcmp(b->objdir + blen - 5, "/data") != 0) {
		slash = strrchr(b->objdir, '/');
		nlen = slash != NULL ? blen - (size_t)(slash + 1 - b->objdir) : 0;
		if (slash == NULL || nlen == 0 || nlen > BACKUP_NAME_MAX)
			goto bad;
		memcpy(db, slash + 1, nlen);
		db[nlen] = '\0';
		blen = (size_t)(slash - b->objdir);
		if (blen < 5 || strncmp(b->objdir + blen - 5, "/data", 5) != 0)
			goto bad;
	}
	blen -= 5; /* without "/data" */
	if (blen == 0) {
		snprintf(base, sizeof(base), "/");
	} else {
		memcpy(base, b->objdir, blen);
		base[blen] = '\0';
	}
	fd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", base, strerror(errno));
		return -1;
	}
	next = open_dir(fd, "data");
	close(fd);
	fd = next;
	if (fd >= 0 && db[0] != '\0') {
		next = open_dir(fd, db);
		close(fd);
		fd = next;
	}
	if (fd >= 0) {
		next = open_dir(fd, kind);
		close(fd);
		fd = next;
	}
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s on the way", label,
		         errno == ELOOP ? "a symbolic link (not followed)" : strerror(errno));
		return -1;
	}
	snprintf(fname, sizeof(fname), "%s" SCHEMA_SUFFIX, name);
	rc = read_schema(fd, fname, label, text, len, err, errlen);
	close(fd);
	return rc;
bad:
	snprintf(err, errlen, "%s: not a backup's object folder (DIR/data or DIR/data/<db>)",
	         b->objdir);
	return -1;
}
