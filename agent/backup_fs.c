/* The names and files of a backup, never through a symbolic link: what a
 * name in a kind folder may be, listing and opening folders and regular
 * files, reading a schema file (bounded), and the public
 * backup_schema_read. Shared by the inspection (backup.c) and the CSV
 * reader (backup_csv.c) through backup_int.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/file.h"
#include "agent/backup.h"
#include "agent/backup_int.h"

#define DIGITS_MAX 18 /* in the N and M of <t>.N.M.csv */

/* ------------------------------------------------------------------ */
/* Names */

static bool
name_char_ok(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '$';
}

/* [A-Za-z0-9_$]{1,64} over the first len bytes. */
bool
backup_table_name_ok(const char *s, size_t len)
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
bool
backup_db_name_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (i >= BACKUP_NAME_MAX || !(name_char_ok(s[i]) || s[i] == '-'))
			return false;
	return i > 0;
}

/* An object kind folder: [A-Z_]{1,23}. */
bool
backup_kind_name_ok(const char *s)
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

/* What a file in a kind folder is, and the length of its object name. */
enum backup_file_kind
backup_classify(const char *name, size_t *tlen)
{
	size_t len = strlen(name), slen = strlen(SCHEMA_SUFFIX), blen, n1;
	const char *dot, *dot2;

	if (len > slen && strcmp(name + len - slen, SCHEMA_SUFFIX) == 0) {
		*tlen = len - slen;
		return backup_table_name_ok(name, *tlen) ? BACKUP_FILE_SCHEMA : BACKUP_FILE_UNKNOWN;
	}
	if (len <= 4 || strcmp(name + len - 4, ".csv") != 0)
		return BACKUP_FILE_UNKNOWN;
	blen = len - 4;
	dot = memchr(name, '.', blen);
	*tlen = dot != NULL ? (size_t)(dot - name) : blen;
	if (!backup_table_name_ok(name, *tlen))
		return BACKUP_FILE_UNKNOWN;
	if (dot == NULL)
		return BACKUP_FILE_DATA; /* <t>.csv */
	dot++;
	dot2 = memchr(dot, '.', blen - (size_t)(dot - name));
	n1 = dot2 != NULL ? (size_t)(dot2 - dot) : blen - (size_t)(dot - name);
	if (!digits_ok(dot, n1))
		return BACKUP_FILE_UNKNOWN;
	if (dot2 == NULL)
		return BACKUP_FILE_DATA; /* <t>.N.csv */
	dot2++;
	return digits_ok(dot2, blen - (size_t)(dot2 - name)) ? BACKUP_FILE_DATA
	                                                     : BACKUP_FILE_UNKNOWN;
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
backup_table_cmp(const void *a, const void *b)
{
	return strcmp(((const struct backup_table *)a)->name,
	              ((const struct backup_table *)b)->name);
}

/* ------------------------------------------------------------------ */
/* Folders and files */

/* Opens the directory name under dirfd without following a link. Returns
 * the fd, or -1 with errno ENOENT when it does not exist, ELOOP when it is a
 * symbolic link, ENOTDIR when it is something else. */
int
backup_open_dir(int dirfd, const char *name)
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
int
backup_list_dir(int fd, char ***names, size_t *n, size_t max)
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

/* Reads the schema file name in dirfd (at most SCHEMA_MAX bytes, no NUL
 * byte) into a malloc'd NUL-terminated *text. */
int
backup_read_schema(int dirfd, const char *name, const char *label, char **text, size_t *len,
                   char *err, size_t errlen)
{
	int rc = file_read_bounded(dirfd, name, label, SCHEMA_MAX, FILE_NOFOLLOW, text, len, err,
	                           errlen);

	if (rc == FILE_E_STAT)
		snprintf(err, errlen, "%s: not a regular file", label);
	if (rc != FILE_OK)
		return -1;
	if (memchr(*text, '\0', *len) != NULL) {
		snprintf(err, errlen, "%s: contains a NUL byte", label);
		free(*text);
		*text = NULL;
		*len = 0;
		return -1;
	}
	return 0;
}

/* Opens name (relative to dirfd, or AT_FDCWD) as a regular file, never
 * through a symbolic link in its last component, and never blocking on a
 * FIFO. Returns the fd or -1 with "label: what". */
int
backup_open_regular(int dirfd, const char *name, const char *label, struct stat *st, char *err,
                    size_t errlen)
{
	int fd = file_open_regular(dirfd, name, label, FILE_NOFOLLOW, st, err, errlen);

	/* This reader has always said so when fstat fails too. */
	if (fd == FILE_E_STAT)
		snprintf(err, errlen, "%s: not a regular file", label);
	return fd < 0 ? -1 : fd;
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
	if (b == NULL || b->objdir[0] == '\0' || kind == NULL || !backup_kind_name_ok(kind) ||
	    name == NULL || !backup_table_name_ok(name, strlen(name))) {
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
	next = backup_open_dir(fd, "data");
	close(fd);
	fd = next;
	if (fd >= 0 && db[0] != '\0') {
		next = backup_open_dir(fd, db);
		close(fd);
		fd = next;
	}
	if (fd >= 0) {
		next = backup_open_dir(fd, kind);
		close(fd);
		fd = next;
	}
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s on the way", label,
		         errno == ELOOP ? "a symbolic link (not followed)" : strerror(errno));
		return -1;
	}
	snprintf(fname, sizeof(fname), "%s" SCHEMA_SUFFIX, name);
	rc = backup_read_schema(fd, fname, label, text, len, err, errlen);
	close(fd);
	return rc;
bad:
	snprintf(err, errlen, "%s: not a backup's object folder (DIR/data or DIR/data/<db>)",
	         b->objdir);
	return -1;
}
