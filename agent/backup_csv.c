/* The CSV reader of the backup's data files: a byte-at-a-time state machine
 * over a bounded record buffer, in the dialect obdumper writes (backup.h
 * says which), with the public backup_csv_read on top. The inspection
 * (backup.c) reads with backup_csv_run to learn the line of each record. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/backup.h"
#include "agent/backup_int.h"

#define CSV_MAX_FIELDS 1024
#define CSV_CHUNK      65536

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

/* A CR in an unquoted field that no '\n' follows (another byte or the end
 * of the input) is data. Returns what csv_put returns. */
static int
csv_lone_cr(struct csv *c)
{
	csv_raw(c, '\r');
	return csv_put(c, '\r');
}

/* What may follow a field, unquoted or after its closing quote: ',' ends
 * it and '\n' ends the record (both back to ST_FIELD); '\r' waits in
 * cr_state for a '\n'. Returns whether ch was one of them, *rc what ending
 * the field or record returned (0 for '\r'). */
static bool
csv_after_field(struct csv *c, char ch, enum csv_state cr_state, int *rc)
{
	*rc = 0;
	if (ch == '\r') {
		c->state = cr_state;
		return true;
	}
	if (ch != ',' && ch != '\n')
		return false;
	c->state = ST_FIELD;
	*rc = ch == ',' ? csv_end_field(c) : csv_end_record(c);
	return true;
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
			if (csv_after_field(c, ch, ST_PLAIN_CR, &rc))
				return rc;
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
			c->state = ST_PLAIN;
			rc = csv_lone_cr(c);
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
			if (csv_after_field(c, ch, ST_CLOSED_CR, &rc))
				return rc;
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
		rc = csv_lone_cr(c);
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
long long
backup_csv_run(int fd, const char *label, size_t max_field, struct csv_opts *o, csv_line_fn fn,
               void *ctx, unsigned long long *fail_line, char *err, size_t errlen)
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
	rc = backup_csv_run(fd, name, max_field, &o, fn != NULL ? csv_adapt_fn : NULL, &a, NULL,
	                    err, errlen);
	return rc < 0 ? -1 : rc;
}

long long
backup_csv_read(const char *path, const struct backup_dialect *d, size_t max_field,
                int (*fn)(void *ctx, char **fields, size_t n), void *ctx, char *err, size_t errlen)
{
	struct stat st;
	long long rc;
	int fd;

	fd = backup_open_regular(AT_FDCWD, path, path, &st, err, errlen);
	if (fd < 0)
		return -1;
	rc = backup_csv_read_fd(fd, path, d, max_field, fn, ctx, err, errlen);
	close(fd);
	return rc;
}
