/* Unit tests for common/file (bounded reads of regular files) and common/err
 * (the "prefix: message" helper). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/file.h"

/* A fresh directory for one test; the caller removes it with dir_rm(). */
static void
dir_make(char *dir, size_t len)
{
	snprintf(dir, len, "/tmp/odc-test-file-XXXXXX");
	assert_non_null(mkdtemp(dir));
}

/* Writes text as dir's file name (mode 0600). */
static void
put(int dfd, const char *name, const char *text)
{
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void
dir_rm(const char *dir, const char *const *names)
{
	char path[256];

	for (; *names != NULL; names++) {
		snprintf(path, sizeof(path), "%s/%s", dir, *names);
		unlink(path);
	}
	rmdir(dir);
}

static void
test_file_read_bounded(void **state)
{
	static const char *const names[] = {"a", "big", "fifo", "link", NULL};
	char dir[64], err[256], path[256], *text = NULL;
	int dfd, rc;
	size_t len = 0;

	(void)state;
	dir_make(dir, sizeof(dir));
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);
	put(dfd, "a", "hello");
	put(dfd, "big", "0123456789");

	/* Exactly at the bound is fine. */
	rc = file_read_bounded(dfd, "a", NULL, 5, 0, &text, &len, err, sizeof(err));
	assert_int_equal(rc, FILE_OK);
	assert_int_equal(len, 5);
	assert_string_equal(text, "hello");
	free(text);

	rc = file_read_bounded(dfd, "big", "the big one", 9, 0, &text, &len, err, sizeof(err));
	assert_int_equal(rc, FILE_E_BIG);
	assert_null(text);
	assert_string_equal(err, "the big one: larger than 9 bytes");

	rc = file_read_bounded(dfd, "none", NULL, 9, 0, &text, &len, err, sizeof(err));
	assert_int_equal(rc, FILE_E_OPEN);
	assert_int_equal(errno, ENOENT);
	assert_string_equal(err, "none: No such file or directory");

	/* A FIFO neither hangs the open nor is read. */
	snprintf(path, sizeof(path), "%s/fifo", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	rc = file_read_bounded(dfd, "fifo", NULL, 9, 0, &text, &len, err, sizeof(err));
	assert_int_equal(rc, FILE_E_TYPE);
	assert_string_equal(err, "fifo: not a regular file");

	assert_int_equal(symlinkat("a", dfd, "link"), 0);
	rc = file_read_bounded(dfd, "link", NULL, 9, 0, &text, &len, err, sizeof(err));
	assert_int_equal(rc, FILE_OK);
	free(text);
	rc = file_read_bounded(dfd, "link", NULL, 9, FILE_NOFOLLOW, &text, &len, err, sizeof(err));
	assert_int_equal(rc, FILE_E_OPEN);
	assert_int_equal(errno, ELOOP);
	assert_string_equal(err, "link: is a symbolic link (not followed)");

	close(dfd);
	dir_rm(dir, names);
}

static void
test_file_read_fd_notices_growth(void **state)
{
	static const char *const names[] = {"a", NULL};
	char dir[64], err[256], path[256], buf[8];
	struct stat st;
	size_t len = 0;
	int dfd, fd;

	(void)state;
	dir_make(dir, sizeof(dir));
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);
	put(dfd, "a", "1234567");
	snprintf(path, sizeof(path), "%s/a", dir);
	fd = file_open_regular(AT_FDCWD, path, "a", 0, &st, err, sizeof(err));
	close(dfd);
	assert_true(fd >= 0);
	/* buf holds max+2 bytes: max+1 are read, the file has more. */
	assert_int_equal(file_read_fd(fd, "a", buf, 6, &len, err, sizeof(err)), FILE_E_BIG);
	assert_int_equal(len, 7);
	assert_string_equal(buf, "1234567");
	assert_string_equal(err, "a: larger than 6 bytes");
	close(fd);
	dir_rm(dir, names);
}

static void
test_err_set(void **state)
{
	char err[16];

	(void)state;
	err_set(err, sizeof(err), "spec", "bad %d", 7);
	assert_string_equal(err, "spec: bad 7");
	err_set(err, sizeof(err), NULL, "plain %s", "text");
	assert_string_equal(err, "plain text");
	err_set(err, sizeof(err), "docker", "%s", "a long message that is cut");
	assert_string_equal(err, "docker: a long ");
	err_set(err, 4, "docker", "x");
	assert_string_equal(err, "doc");
	err_set(NULL, 0, "p", "nothing");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_file_read_bounded),
	    cmocka_unit_test(test_file_read_fd_notices_growth),
	    cmocka_unit_test(test_err_set),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
