/* Bounded reads of small regular files (see file.h). */
#include "common/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
file_open_regular(int dirfd, const char *path, const char *label, int flags, struct stat *st,
                  char *err, size_t errlen)
{
	int oflags = O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, fd, e;

	if (label == NULL)
		label = path;
	if (flags & FILE_NOFOLLOW)
		oflags |= O_NOFOLLOW;
	fd = openat(dirfd, path, oflags);
	if (fd < 0) {
		e = errno;
		if (e == ELOOP && (flags & FILE_NOFOLLOW))
			snprintf(err, errlen, "%s: is a symbolic link (not followed)", label);
		else
			snprintf(err, errlen, "%s: %s", label, strerror(e));
		errno = e;
		return FILE_E_OPEN;
	}
	if (fstat(fd, st) != 0) {
		snprintf(err, errlen, "%s: fstat: %s", label, strerror(errno));
		close(fd);
		return FILE_E_STAT;
	}
	if (!S_ISREG(st->st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", label);
		close(fd);
		return FILE_E_TYPE;
	}
	return fd;
}

int
file_read_fd(int fd, const char *label, char *buf, size_t max, size_t *len, char *err,
             size_t errlen)
{
	size_t got = 0;
	ssize_t n;
	int e;

	while (got <= max) {
		n = read(fd, buf + got, max + 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			e = errno;
			snprintf(err, errlen, "%s: read: %s", label, strerror(e));
			buf[got] = '\0';
			*len = got;
			errno = e;
			return FILE_E_READ;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	*len = got;
	if (got > max) {
		snprintf(err, errlen, "%s: larger than %zu bytes", label, max);
		return FILE_E_BIG;
	}
	return FILE_OK;
}

int
file_read_bounded(int dirfd, const char *path, const char *label, size_t max, int flags, char **out,
                  size_t *len, char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	int fd, rc;

	*out = NULL;
	*len = 0;
	if (label == NULL)
		label = path;
	fd = file_open_regular(dirfd, path, label, flags, &st, err, errlen);
	if (fd < 0)
		return fd;
	if ((uint64_t)st.st_size > max) {
		snprintf(err, errlen, "%s: larger than %zu bytes", label, max);
		rc = FILE_E_BIG;
		goto out;
	}
	/* Room for max+1 bytes and the NUL: one byte past the bound tells
	 * "exactly at the limit" from "grew past it after fstat". */
	buf = malloc(max + 2);
	if (buf == NULL) {
		snprintf(err, errlen, "%s: out of memory", label);
		rc = FILE_E_NOMEM;
		goto out;
	}
	rc = file_read_fd(fd, label, buf, max, &got, err, errlen);
	if (rc == FILE_OK) {
		*out = buf;
		*len = got;
		buf = NULL;
	}
out:
	if (buf != NULL) {
		explicit_bzero(buf, got);
		free(buf);
	}
	close(fd);
	return rc;
}
