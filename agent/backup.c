/* Inspecting an obdumper backup of the metadb without trusting it: the
 * layout, each table's files, row counts from a strict CSV reader, and the
 * ODC version from the migrate_schema_history data. Nothing inside the
 * backup is followed through a symbolic link and every read is bounded. */
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

#include "agent/backup.h"
#include "agent/version.h"

#define CSV_MAX_FIELDS 1024
#define CSV_CHUNK      65536
#define SCHEMA_MAX     (1u << 20) /* a -schema.sql file we parse */
#define HISTORY_TABLE  "migrate_schema_history"
#define SCHEMA_SUFFIX  "-schema.sql"
#define DIGITS_MAX     18 /* in the N and M of <t>.N.M.csv */

/* ------------------------------------------------------------------ */
/* CSV */

/* The callback used inside this file: the public one plus the line on
 * which the record starts. */
typedef int (*csv_line_fn)(void *ctx, char **fields, size_t n, unsigned long long line);

enum csv_state {
	ST_FIELD,        /* at the start of a field */
	ST_PLAIN,        /* in an unquoted field */
	ST_PLAIN_CR,     /* in an unquoted field, just after a '\r' */
	ST_QUOTED,       /* in a quoted field */
	ST_QUOTED_QUOTE, /* in a quoted field, just after a '"' */
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
	bool rec_open; /* a byte of the current record has been seen */

	enum csv_state state;
	unsigned long long line, rec_line, quote_line;
	long long count;
	char *err;
	size_t errlen;
	unsigned char chunk[CSV_CHUNK];
};

static int
csv_fail(struct csv *c, unsigned long long line, const char *what)
{
	snprintf(c->err, c->errlen, "%s:%llu: %s", c->label, line, what);
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
		return -1;
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
	if (csv_grow(c, c->len + 1) != 0)
		return -1;
	c->data[c->len++] = ch;
	return 0;
}

static int
csv_end_field(struct csv *c)
{
	size_t start;

	if (c->nfields >= CSV_MAX_FIELDS) {
		char what[64];

		snprintf(what, sizeof(what), "more than %d fields", CSV_MAX_FIELDS);
		return csv_fail(c, c->rec_line, what);
	}
	if (c->fn != NULL) {
		start = c->len - c->flen;
		/* \N unquoted is NULL; "\N" quoted is the two characters. */
		c->null[c->nfields] = !c->fquoted && c->flen == 2 && c->data[start] == '\\' &&
		                      c->data[start + 1] == 'N';
		c->start[c->nfields] = start;
		if (csv_grow(c, c->len + 1) != 0)
			return -1;
		c->data[c->len++] = '\0';
	}
	c->nfields++;
	c->flen = 0;
	c->fquoted = false;
	return 0;
}

static int
csv_end_record(struct csv *c)
{
	size_t i;

	if (csv_end_field(c) != 0)
		return -1;
	c->count++;
	if (c->fn != NULL) {
		for (i = 0; i < c->nfields; i++)
			c->ptrs[i] = c->null[i] ? NULL : c->data + c->start[i];
		if (c->fn(c->ctx, c->ptrs, c->nfields, c->rec_line) != 0)
			c->stop = true;
	}
	c->len = 0;
	c->nfields = 0;
	c->rec_open = false;
	return 0;
}

/* One byte through the state machine. A byte that ends a state without
 * being consumed by it is fed again to the next state. */
static int
csv_byte(struct csv *c, char ch)
{
	if (!c->rec_open) {
		c->rec_open = true;
		c->rec_line = c->line;
	}
	for (;;) {
		switch (c->state) {
		case ST_FIELD:
			if (ch == '"') {
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
			return csv_put(c, ch);
		case ST_PLAIN_CR:
			if (ch == '\n') {
				c->state = ST_FIELD;
				return csv_end_record(c);
			}
			/* A lone CR is data. */
			c->state = ST_PLAIN;
			if (csv_put(c, '\r') != 0)
				return -1;
			continue;
		case ST_QUOTED:
			if (ch == '"') {
				c->state = ST_QUOTED_QUOTE;
				return 0;
			}
			return csv_put(c, ch);
		case ST_QUOTED_QUOTE:
			if (ch == '"') {
				c->state = ST_QUOTED;
				return csv_put(c, '"');
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
	if (!c->rec_open)
		return 0;
	switch (c->state) {
	case ST_QUOTED:
		return csv_fail(c, c->quote_line, "unterminated quote");
	case ST_PLAIN_CR:
		if (csv_put(c, '\r') != 0)
			return -1;
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

/* Reads fd to its end (or until fn asks to stop). label names the file in
 * messages. Returns the record count or -1 with "label:line: what". */
static long long
csv_run(int fd, const char *label, size_t max_field, csv_line_fn fn, void *ctx, char *err,
        size_t errlen)
{
	struct csv *c;
	long long rc = -1;
	ssize_t n, i;

	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		snprintf(err, errlen, "%s: out of memory", label);
		return -1;
	}
	c->label = label;
	c->max_field = max_field;
	c->max_record = max_field > BACKUP_CSV_RECORD_MAX ? max_field : BACKUP_CSV_RECORD_MAX;
	c->fn = fn;
	c->ctx = ctx;
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
			if (csv_eof(c) != 0)
				goto out;
			break;
		}
		for (i = 0; i < n && !c->stop; i++) {
			if (csv_byte(c, (char)c->chunk[i]) != 0)
				goto out;
			if (c->chunk[i] == '\n')
				c->line++;
		}
	}
	rc = c->count;
out:
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
backup_csv_read_fd(int fd, const char *name, size_t max_field,
                   int (*fn)(void *ctx, char **fields, size_t n), void *ctx, char *err,
                   size_t errlen)
{
	struct csv_adapt a = {fn, ctx};

	return csv_run(fd, name, max_field, fn != NULL ? csv_adapt_fn : NULL, &a, err, errlen);
}

long long
backup_csv_read(const char *path, size_t max_field, int (*fn)(void *ctx, char **fields, size_t n),
                void *ctx, char *err, size_t errlen)
{
	struct stat st;
	long long rc;
	int fd;

	fd = open_regular(AT_FDCWD, path, path, &st, err, errlen);
	if (fd < 0)
		return -1;
	rc = backup_csv_read_fd(fd, path, max_field, fn, ctx, err, errlen);
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

/* What a file in TABLE/ is, and the length of its table name. */
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

static void
names_free(char **v, size_t n)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Appends to out the database directories that data/ does hold, to make
 * "wrong database" obvious; names that are not plain are shown as '?'. */
static void
describe_found(int datafd, char *out, size_t outlen)
{
	char **v = NULL;
	size_t n = 0, i, used;

	out[0] = '\0';
	if (datafd < 0 || list_dir(datafd, &v, &n, 1000) != 0 || n == 0) {
		names_free(v, n);
		return;
	}
	snprintf(out, outlen, " (data/ holds:");
	for (i = 0; i < n && i < 8; i++) {
		used = strlen(out);
		snprintf(out + used, outlen - used, " %s", db_name_ok(v[i]) ? v[i] : "?");
	}
	used = strlen(out);
	snprintf(out + used, outlen - used, "%s)", n > 8 ? " ..." : "");
	names_free(v, n);
}

/* ------------------------------------------------------------------ */
/* migrate_schema_history */

struct history {
	size_t ncols, vcol, scol;
	char best[sizeof(((struct backup_info *)0)->version)];
	const char *label;
	bool failed;
	char *err;
	size_t errlen;
};

static bool
word_at(const char *p, const char *word)
{
	size_t n = strlen(word);

	return strncasecmp(p, word, n) == 0 && !name_char_ok(p[n]);
}

/* Learns the column order from a CREATE TABLE statement: after the CREATE
 * TABLE line, each line that starts with a backquoted name defines a column,
 * until a key or constraint line or the closing parenthesis. */
static int
history_columns(int tfd, const char *name, const char *label, struct history *h, char *err,
                size_t errlen)
{
	struct stat st;
	char *text = NULL, *line, *next, *p, col[BACKUP_NAME_MAX + 1];
	size_t len = 0, clen;
	ssize_t n;
	bool in_create = false, have_v = false, have_s = false;
	int fd, rc = -1;

	fd = open_regular(tfd, name, label, &st, err, errlen);
	if (fd < 0)
		return -1;
	if (st.st_size > (off_t)SCHEMA_MAX) {
		snprintf(err, errlen, "%s: larger than %u bytes", label, SCHEMA_MAX);
		goto out;
	}
	text = malloc(SCHEMA_MAX + 2);
	if (text == NULL) {
		snprintf(err, errlen, "%s: out of memory", label);
		goto out;
	}
	/* Read up to one byte past the bound: the file may grow after fstat. */
	while (len <= SCHEMA_MAX) {
		n = read(fd, text + len, SCHEMA_MAX + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "%s: read: %s", label, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > SCHEMA_MAX) {
		snprintf(err, errlen, "%s: larger than %u bytes", label, SCHEMA_MAX);
		goto out;
	}
	text[len] = '\0';
	if (memchr(text, '\0', len) != NULL) {
		snprintf(err, errlen, "%s: contains a NUL byte", label);
		goto out;
	}
	h->ncols = 0;
	for (line = text; line != NULL; line = next) {
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		for (p = line; *p == ' ' || *p == '\t'; p++)
			;
		if (!in_create) {
			if (word_at(p, "CREATE")) {
				for (p += 6; *p == ' ' || *p == '\t'; p++)
					;
				in_create = word_at(p, "TABLE");
			}
			continue;
		}
		if (*p == ')' || word_at(p, "PRIMARY") || word_at(p, "KEY") ||
		    word_at(p, "UNIQUE") || word_at(p, "CONSTRAINT") || word_at(p, "INDEX") ||
		    word_at(p, "FOREIGN") || word_at(p, "FULLTEXT") || word_at(p, "SPATIAL") ||
		    word_at(p, "CHECK"))
			break;
		if (*p != '`')
			continue;
		/* `name`, with `` standing for a backquote inside it. */
		clen = 0;
		for (p++;; p++) {
			if (*p == '\0') {
				snprintf(err, errlen, "%s: unterminated column name", label);
				goto out;
			}
			if (*p == '`') {
				if (p[1] != '`')
					break;
				p++;
			}
			if (clen >= BACKUP_NAME_MAX) {
				snprintf(err, errlen, "%s: column name longer than %d bytes", label,
				         BACKUP_NAME_MAX);
				goto out;
			}
			col[clen++] = *p;
		}
		col[clen] = '\0';
		if (h->ncols >= CSV_MAX_FIELDS) {
			snprintf(err, errlen, "%s: more than %d columns", label, CSV_MAX_FIELDS);
			goto out;
		}
		if (strcasecmp(col, "version") == 0 || strcasecmp(col, "success") == 0) {
			bool *have = strcasecmp(col, "version") == 0 ? &have_v : &have_s;

			if (*have) {
				snprintf(err, errlen, "%s: column `%s` declared twice", label, col);
				goto out;
			}
			*have = true;
			if (have == &have_v)
				h->vcol = h->ncols;
			else
				h->scol = h->ncols;
		}
		h->ncols++;
	}
	if (!in_create) {
		snprintf(err, errlen, "%s: no CREATE TABLE statement", label);
		goto out;
	}
	if (!have_v || !have_s) {
		snprintf(err, errlen, "%s: no `%s` column among %zu column definitions", label,
		         !have_v ? "version" : "success", h->ncols);
		goto out;
	}
	rc = 0;
out:
	free(text);
	close(fd);
	return rc;
}

static int
history_row(void *ctx, char **f, size_t n, unsigned long long line)
{
	struct history *h = ctx;
	const char *v, *s;

	if (n != h->ncols) {
		snprintf(h->err, h->errlen,
		         "%s:%llu: %zu fields, but " HISTORY_TABLE SCHEMA_SUFFIX " declares %zu "
		         "columns",
		         h->label, line, n, h->ncols);
		h->failed = true;
		return 1;
	}
	s = f[h->scol];
	v = f[h->vcol];
	if (s == NULL || (strcmp(s, "1") != 0 && strcasecmp(s, "true") != 0))
		return 0;
	if (v == NULL || *v == '\0')
		return 0;
	if (strlen(v) >= sizeof(h->best)) {
		snprintf(h->err, h->errlen, "%s:%llu: version longer than %zu bytes", h->label,
		         line, sizeof(h->best) - 1);
		h->failed = true;
		return 1;
	}
	if (h->best[0] == '\0' || version_cmp(v, h->best) > 0)
		memcpy(h->best, v, strlen(v) + 1);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Inspection */

int
backup_inspect(const char *dir, const char *db, struct backup_info *out, char *err, size_t errlen)
{
	char path[4096], label[4400], found[600];
	char **files = NULL;
	size_t nfiles = 0, i, ntab = 0, ndata = 0, tlen;
	enum file_kind *kinds = NULL;
	struct backup_table *tabs = NULL, key, *t;
	struct history h;
	struct stat st;
	int dfd = -1, datafd = -1, dbfd = -1, tfd = -1, fd, rc = -1;
	long long cnt;

	memset(out, 0, sizeof(*out));
	memset(&h, 0, sizeof(h));
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
	if (fstatat(dfd, "MANIFEST.bin", &st, AT_SYMLINK_NOFOLLOW) != 0) {
		if (errno == ENOENT)
			snprintf(err, errlen,
			         "%s: not a backup: no MANIFEST.bin (obdumper writes it last: "
			         "the dump did not finish)",
			         dir);
		else
			snprintf(err, errlen, "%s/MANIFEST.bin: %s", dir, strerror(errno));
		goto out;
	}
	if (S_ISLNK(st.st_mode) || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s/MANIFEST.bin: %s", dir,
		         S_ISLNK(st.st_mode) ? "is a symbolic link (not followed)"
		                             : "not a regular file");
		goto out;
	}

	/* data/<db>/TABLE, each step without following a link. */
	snprintf(path, sizeof(path), "%s/data/%s/TABLE", dir, db);
	datafd = open_dir(dfd, "data");
	if (datafd >= 0)
		dbfd = open_dir(datafd, db);
	if (dbfd >= 0)
		tfd = open_dir(dbfd, "TABLE");
	if (tfd < 0) {
		if (errno == ENOENT) {
			describe_found(datafd, found, sizeof(found));
			snprintf(err, errlen, "%s: not a backup of database %s: no data/%s/TABLE%s",
			         dir, db, db, found);
		} else if (errno == ELOOP) {
			snprintf(err, errlen,
			         "%s: a symbolic link on the way to data/%s/TABLE (not followed)",
			         dir, db);
		} else {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
		}
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
	kinds = calloc(nfiles + 1, sizeof(*kinds));
	if (kinds == NULL)
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
		kinds[i] = classify(files[i], &tlen);
		if (kinds[i] == FILE_UNKNOWN) {
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
		if (kinds[i] == FILE_SCHEMA)
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
	if (tabs == NULL)
		goto oom;
	ntab = 0;
	for (i = 0; i < nfiles; i++) {
		if (kinds[i] != FILE_SCHEMA)
			continue;
		tlen = strlen(files[i]) - strlen(SCHEMA_SUFFIX);
		memcpy(tabs[ntab].name, files[i], tlen);
		tabs[ntab].name[tlen] = '\0';
		ntab++;
	}
	qsort(tabs, ntab, sizeof(*tabs), table_cmp);
	/* Each data file belongs to a table with a schema file. */
	for (i = 0; i < nfiles; i++) {
		if (kinds[i] != FILE_DATA)
			continue;
		(void)classify(files[i], &tlen);
		memset(&key, 0, sizeof(key));
		memcpy(key.name, files[i], tlen);
		if (bsearch(&key, tabs, ntab, sizeof(*tabs), table_cmp) == NULL) {
			snprintf(err, errlen, "%s/%s: data file without %s" SCHEMA_SUFFIX, path,
			         files[i], key.name);
			goto out;
		}
	}
	memset(&key, 0, sizeof(key));
	memcpy(key.name, HISTORY_TABLE, sizeof(HISTORY_TABLE));
	if (bsearch(&key, tabs, ntab, sizeof(*tabs), table_cmp) == NULL) {
		snprintf(err, errlen,
		         "%s: not an ODC metadb backup: no " HISTORY_TABLE
		         " table in data/%s/TABLE",
		         dir, db);
		goto out;
	}
	snprintf(label, sizeof(label), "%s/" HISTORY_TABLE SCHEMA_SUFFIX, path);
	if (history_columns(tfd, HISTORY_TABLE SCHEMA_SUFFIX, label, &h, err, errlen) != 0)
		goto out;

	/* Count every data file; the history table's records also give the
	 * version. */
	for (i = 0; i < nfiles; i++) {
		if (kinds[i] != FILE_DATA)
			continue;
		(void)classify(files[i], &tlen);
		memset(&key, 0, sizeof(key));
		memcpy(key.name, files[i], tlen);
		t = bsearch(&key, tabs, ntab, sizeof(*tabs), table_cmp);
		snprintf(label, sizeof(label), "%s/%s", path, files[i]);
		fd = open_regular(tfd, files[i], label, &st, err, errlen);
		if (fd < 0)
			goto out;
		if (strcmp(t->name, HISTORY_TABLE) == 0) {
			h.label = label;
			h.err = err;
			h.errlen = errlen;
			cnt = csv_run(fd, label, BACKUP_FIELD_MAX, history_row, &h, err, errlen);
			if (cnt >= 0 && h.failed)
				cnt = -1;
		} else {
			cnt = csv_run(fd, label, BACKUP_FIELD_MAX, NULL, NULL, err, errlen);
		}
		close(fd);
		if (cnt < 0)
			goto out;
		t->rows += (uint64_t)cnt;
		t->bytes += (uint64_t)st.st_size;
		t->n_files++;
		out->bytes += (uint64_t)st.st_size;
	}
	if (h.best[0] == '\0') {
		snprintf(err, errlen,
		         "%s/" HISTORY_TABLE ": no successful migration recorded (no version)",
		         path);
		goto out;
	}
	memcpy(out->version, h.best, sizeof(out->version));
	out->tables = tabs;
	out->n_tables = ntab;
	tabs = NULL;
	rc = 0;
	goto out;
oom:
	snprintf(err, errlen, "%s: out of memory", path);
out:
	if (rc != 0)
		memset(out, 0, sizeof(*out));
	free(tabs);
	free(kinds);
	names_free(files, nfiles);
	if (tfd >= 0)
		close(tfd);
	if (dbfd >= 0)
		close(dbfd);
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
