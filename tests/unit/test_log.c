/* Unit tests for common/log: line format, escaping, bounds, levels, and argv
 * redaction (a secret must never reach the output). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"

/* stderr is swapped for a temporary file while a test logs, then read back. */
struct capture {
	int saved;
	FILE *f;
};

static void
capture_start(struct capture *c)
{
	fflush(stderr);
	c->f = tmpfile();
	assert_non_null(c->f);
	c->saved = dup(STDERR_FILENO);
	assert_true(c->saved >= 0);
	assert_true(dup2(fileno(c->f), STDERR_FILENO) >= 0);
}

/* Returns what was logged (malloc'd, NUL-terminated) and restores stderr. */
static char *
capture_end(struct capture *c)
{
	char *text;
	long n;

	assert_true(dup2(c->saved, STDERR_FILENO) >= 0);
	close(c->saved);
	assert_int_equal(fseek(c->f, 0, SEEK_END), 0);
	n = ftell(c->f);
	assert_true(n >= 0);
	rewind(c->f);
	text = calloc(1, (size_t)n + 1);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, (size_t)n, c->f), (size_t)n);
	fclose(c->f);
	return text;
}

static void
test_log_line_format(void **state)
{
	struct capture c;
	char *text, want[64];
	regex_t re;

	(void)state;
	log_init("odc-agent", LOG_LVL_INFO, 0);
	capture_start(&c);
	log_info("container %s stopped after %d s", "obodc", 3);
	text = capture_end(&c);
	assert_int_equal(
	    regcomp(&re,
	            "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "
	            "odc-agent\\[[0-9]+\\] INFO container obodc stopped after 3 s\n$",
	            REG_EXTENDED),
	    0);
	assert_int_equal(regexec(&re, text, 0, NULL, 0), 0);
	regfree(&re);
	snprintf(want, sizeof(want), "odc-agent[%ld] INFO", (long)getpid());
	assert_non_null(strstr(text, want));
	free(text);
}

static void
test_log_levels_filter(void **state)
{
	struct capture c;
	char *text;

	(void)state;
	log_init("t", LOG_LVL_WARN, 0);
	capture_start(&c);
	log_debug("d");
	log_info("i");
	log_warn("w");
	log_err("e");
	text = capture_end(&c);
	assert_null(strstr(text, " DEBUG d\n"));
	assert_null(strstr(text, " INFO i\n"));
	assert_non_null(strstr(text, " WARN w\n"));
	assert_non_null(strstr(text, " ERROR e\n"));
	free(text);

	log_set_level(LOG_LVL_DEBUG);
	capture_start(&c);
	log_debug("now visible");
	text = capture_end(&c);
	assert_non_null(strstr(text, " DEBUG now visible\n"));
	free(text);
}

static void
test_log_level_parse(void **state)
{
	enum log_level l = LOG_LVL_INFO;

	(void)state;
	assert_int_equal(log_level_parse("debug", &l), 0);
	assert_int_equal(l, LOG_LVL_DEBUG);
	assert_int_equal(log_level_parse("WARN", &l), 0);
	assert_int_equal(l, LOG_LVL_WARN);
	assert_int_equal(log_level_parse("error", &l), 0);
	assert_int_equal(l, LOG_LVL_ERR);
	assert_int_equal(log_level_parse("info", &l), 0);
	assert_int_equal(l, LOG_LVL_INFO);
	assert_int_equal(log_level_parse("verbose", &l), -1);
	assert_int_equal(log_level_parse("", &l), -1);
	assert_int_equal(l, LOG_LVL_INFO);
	assert_string_equal(log_level_name(LOG_LVL_ERR), "ERROR");
}

static void
test_log_escapes_control_characters(void **state)
{
	struct capture c;
	char *text;

	(void)state;
	log_init("t", LOG_LVL_INFO, 0);
	capture_start(&c);
	log_info("line1\nFAKE 2026-01-01T00:00:00.000Z t[1] ERROR forged\r\x1b[31m\ttab");
	text = capture_end(&c);
	/* One event, one line: exactly one newline, at the very end. */
	assert_non_null(strchr(text, '\n'));
	assert_int_equal(strchr(text, '\n') - text, (long)strlen(text) - 1);
	assert_non_null(strstr(text, "line1\\nFAKE 2026"));
	assert_non_null(strstr(text, "forged\\r\\x1b[31m\\ttab\n"));
	free(text);
}

static void
test_log_long_line_is_bounded(void **state)
{
	struct capture c;
	char *text, *big;
	size_t len;

	(void)state;
	big = malloc(10000);
	assert_non_null(big);
	memset(big, 'x', 9999);
	big[9999] = '\0';
	log_init("t", LOG_LVL_INFO, 0);
	capture_start(&c);
	log_info("%s", big);
	log_info("short");
	text = capture_end(&c);
	len = strcspn(text, "\n") + 1;
	assert_int_equal(len, LOG_LINE_MAX);
	assert_memory_equal(text + len - 4, "...\n", 4);
	/* The next event still starts on its own line. */
	assert_non_null(strstr(text + len, " INFO short\n"));
	free(text);
	free(big);
}

static void
test_log_preserves_errno(void **state)
{
	struct capture c;

	(void)state;
	log_init("t", LOG_LVL_INFO, 0);
	capture_start(&c);
	errno = 42;
	log_info("x");
	assert_int_equal(errno, 42);
	free(capture_end(&c));
}

static const char *const secret_opts[] = {"-p", "--password", "--sys-password", NULL};

static void
test_redact_separate_value(void **state)
{
	const char *const argv[] = {
	    "/opt/obloader/bin/obloader", "-h", "10.0.0.5",  "-P",    "2881", "-u",
	    "odc@tenant#cluster",         "-p", "S3cret!pw", "--csv", NULL};
	char out[512];

	(void)state;
	log_redact_argv(argv, secret_opts, out, sizeof(out));
	assert_null(strstr(out, "S3cret"));
	assert_string_equal(out, "/opt/obloader/bin/obloader -h 10.0.0.5 -P 2881 -u "
	                         "'odc@tenant#cluster' -p ****** --csv");
}

static void
test_redact_equals_and_attached_forms(void **state)
{
	const char *const argv[] = {"obloader",
	                            "--password=S3cret!pw",
	                            "--sys-password",
	                            "hunter2",
	                            "-pS3cret!pw",
	                            "--password-file=/x",
	                            "-P",
	                            "2881",
	                            NULL};
	char out[512];

	(void)state;
	log_redact_argv(argv, secret_opts, out, sizeof(out));
	assert_null(strstr(out, "S3cret"));
	assert_null(strstr(out, "hunter2"));
	/* "--password-file" is another option; "-P" (the port) is not "-p". */
	assert_string_equal(out, "obloader --password=****** --sys-password ****** -p****** "
	                         "--password-file=/x -P 2881");
}

static void
test_redact_quotes_and_truncates(void **state)
{
	const char *const argv[] = {"run",  "two words", "",          "it's",
	                            "a\nb", "-p",        "topsecret", NULL};
	const char *const last[] = {"tool", "-p", NULL};
	char out[512], small[24];
	size_t i;

	(void)state;
	log_redact_argv(argv, secret_opts, out, sizeof(out));
	assert_string_equal(out, "run 'two words' '' 'it'\\''s' 'a\\nb' -p ******");
	/* Every cut keeps the secret out and ends in "...". */
	for (i = 1; i < sizeof(small); i++) {
		log_redact_argv(argv, secret_opts, small, i);
		assert_true(strlen(small) < i);
		assert_null(strstr(small, "top"));
		if (i > 4)
			assert_memory_equal(small + strlen(small) - 3, "...", 3);
	}
	log_redact_argv(last, secret_opts, out, sizeof(out));
	assert_string_equal(out, "tool -p");
	log_redact_argv(NULL, secret_opts, out, sizeof(out));
	assert_string_equal(out, "");
	log_redact_argv(argv, NULL, out, sizeof(out));
	assert_non_null(strstr(out, "topsecret"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_log_line_format),
	    cmocka_unit_test(test_log_levels_filter),
	    cmocka_unit_test(test_log_level_parse),
	    cmocka_unit_test(test_log_escapes_control_characters),
	    cmocka_unit_test(test_log_long_line_is_bounded),
	    cmocka_unit_test(test_log_preserves_errno),
	    cmocka_unit_test(test_redact_separate_value),
	    cmocka_unit_test(test_redact_equals_and_attached_forms),
	    cmocka_unit_test(test_redact_quotes_and_truncates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
