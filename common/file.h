/* Reading small regular files safely: opened without blocking on a FIFO,
 * refused unless regular, read with a hard bound that also catches a file
 * growing after fstat. One mechanism for the config, key, password,
 * manifest and schema readers. */
#ifndef ODC_COMMON_FILE_H
#define ODC_COMMON_FILE_H

#include <stddef.h>
#include <sys/stat.h>

/* flags for file_open_regular() and file_read_bounded() */
#define FILE_NOFOLLOW 0x1 /* refuse a symbolic link in the last component */

/* What failed. Every function below also writes "label: what" into err. */
enum file_err {
	FILE_OK = 0,
	FILE_E_OPEN = -1,  /* open failed; errno kept (ELOOP: a refused symlink) */
	FILE_E_STAT = -2,  /* fstat failed */
	FILE_E_TYPE = -3,  /* not a regular file */
	FILE_E_NOMEM = -4, /* out of memory */
	FILE_E_READ = -5,  /* read failed; errno kept */
	FILE_E_BIG = -6,   /* more than max bytes */
};

/* Opens path (relative to dirfd, or AT_FDCWD) read-only with O_NONBLOCK (so a
 * FIFO cannot hang us before fstat refuses it), O_CLOEXEC and O_NOCTTY, plus
 * O_NOFOLLOW with FILE_NOFOLLOW, and fills *st. label names the file in
 * messages (path when NULL). Returns the fd, which the caller closes, or a
 * negative enum file_err with err set to "label: strerror", "label: is a
 * symbolic link (not followed)" (FILE_NOFOLLOW and ELOOP), "label: fstat:
 * strerror" or "label: not a regular file". */
int file_open_regular(int dirfd, const char *path, const char *label, int flags, struct stat *st,
                      char *err, size_t errlen);

/* Reads fd to its end into buf, which holds at least max+2 bytes: at most
 * max+1 bytes are read, so a file that grew past max is noticed. buf is
 * NUL-terminated and *len set even on FILE_E_BIG (then *len is max+1).
 * Returns FILE_OK, FILE_E_READ ("label: read: strerror") or FILE_E_BIG
 * ("label: larger than max bytes"). The caller keeps fd open and owns buf. */
int file_read_fd(int fd, const char *label, char *buf, size_t max, size_t *len, char *err,
                 size_t errlen);

/* file_open_regular() then file_read_fd() into a malloc'd buffer: on FILE_OK
 * *out is the NUL-terminated contents (no more than max bytes, the caller
 * frees it) and *len their length; on failure *out is NULL, nothing is
 * left allocated (what was read is wiped first: the file may hold a secret)
 * and the result is an enum file_err as above, FILE_E_BIG also when fstat
 * already shows more than max bytes ("label: out of memory" for
 * FILE_E_NOMEM). */
int file_read_bounded(int dirfd, const char *path, const char *label, size_t max, int flags,
                      char **out, size_t *len, char *err, size_t errlen);

#endif
