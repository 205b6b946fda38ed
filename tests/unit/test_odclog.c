/* Unit tests for agent/odclog: the failed health gate's report of ODC's own
 * log. A crash-looping ODC is booting again when the gate gives up: the
 * ERROR that ended its last run is then further back than the end shown,
 * and the report brings it, and what followed it, forward. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/odclog.h"

#define PATH "/opt/odc/log/odc.log"

static char tail[16384];

/* Appends text to log (cap bytes). */
static void
add(char *log, size_t cap, const char *text)
{
	size_t used = strlen(log);
	snprintf(log + used, cap - used, "%s", text);
}

/* A run's boot: n INFO lines of about 100 bytes, appended to log. */
static void
boot_lines(char *log, size_t cap, int run, int n)
{
	for (int i = 0; i < n; i++) {
		size_t used = strlen(log);
		snprintf(
		    log + used, cap - used,
		    "2026-12-07 23:39:06.%03d  INFO 24 --- [main] c.o.odc.core.migrate.Migrates : "
		    "run %d skip migrated versioned migrator %d\n",
		    i % 1000, run, i);
	}
}

static const char *
section(const char *text, const char *heading)
{
	const char *p = strstr(text, heading);
	if (p == NULL)
		fail_msg("no section '%s' in:\n%.2000s", heading, text);
	return p;
}

/* The failure is near the end: no extra section; the end shown holds it. */
static void
test_error_within_the_end(void **state)
{
	static char log[8192];
	char line[1024];

	(void)state;
	boot_lines(log, sizeof(log), 1, 20);
	add(log, sizeof(log),
	    "2026-12-07 23:39:07.000 ERROR 24 --- [main] o.s.boot.SpringApplication : "
	    "Application run failed\n"
	    "org.springframework.beans.factory.BeanCreationException: Error creating bean\n"
	    "\tat org.springframework.beans.factory.support.X.y(X.java:1)\n");
	odclog_report("spawned: 'odc-server'\n", PATH, log, tail, sizeof(tail));
	assert_null(strstr(tail, "its last ERROR"));
	assert_true(section(tail, "--- docker logs (the supervisor) ---\nspawned") <
	            section(tail, "--- " PATH ", its end ---\n"));
	assert_non_null(strstr(tail, "BeanCreationException"));
	assert_true(odclog_errors(log, line, sizeof(line)));
	assert_string_equal(line, "2026-12-07 23:39:07.000 ERROR 24 --- [main] "
	                          "o.s.boot.SpringApplication : Application run failed");
}

/* Run 1 failed, run 2 booted for 30 KB since: the report shows run 1's
 * ERROR and the stack trace after it, cut at a line's end, before the end
 * (which is run 2's boot, from a line's start). */
static void
test_error_before_the_end_is_brought_forward(void **state)
{
	static char log[65536];
	char line[1024];
	const char *earlier, *end;

	(void)state;
	boot_lines(log, sizeof(log), 1, 40);
	add(log, sizeof(log),
	    "2026-12-07 23:39:07.000 ERROR 24 --- [main] o.s.boot.SpringApplication : "
	    "Application run failed\n"
	    "org.springframework.beans.factory.BeanCreationException: Error creating bean "
	    "with name 'odcServer'\n");
	for (int i = 0; i < 40; i++)
		add(log, sizeof(log),
		    "\tat org.springframework.beans.factory.support.AbstractBeanFactory."
		    "doGetBean(AbstractBeanFactory.java:333)\n");
	boot_lines(log, sizeof(log), 2, 300);
	odclog_report(NULL, PATH, log, tail, sizeof(tail));
	assert_non_null(strstr(tail, "--- docker logs (the supervisor) ---\n(cannot be read)\n"));
	earlier =
	    section(tail, "--- " PATH ", its last ERROR and what followed (it went on after) ---\n"
	                  "2026-12-07 23:39:07.000 ERROR");
	end = section(tail, "--- " PATH ", its end ---\n");
	assert_true(earlier < end);
	assert_non_null(strstr(earlier, "BeanCreationException: Error creating bean with name"));
	/* At most ODCLOG_ERROR_SHOWN of it, ending with a whole line. */
	assert_true((size_t)(end - earlier) < ODCLOG_ERROR_SHOWN + 200);
	assert_memory_equal(end - 2, ")\n", 2);
	/* The end: run 2's lines only, the first one whole. */
	end += strlen("--- " PATH ", its end ---\n");
	assert_memory_equal(end, "2026-12-07 23:39:06.", 20);
	assert_null(strstr(end, "run 1 "));
	assert_null(strstr(end, "ERROR"));
	assert_true(strlen(end) <= ODCLOG_END_SHOWN);
	assert_true(odclog_errors(log, line, sizeof(line)));
	assert_non_null(strstr(line, "Application run failed"));
}

/* Up to three ERROR lines, oldest first; none: false and empty. */
static void
test_errors_last_three_oldest_first(void **state)
{
	char line[1024];

	(void)state;
	assert_false(odclog_errors("INFO a\nINFO b\n", line, sizeof(line)));
	assert_string_equal(line, "");
	assert_true(odclog_errors("ERROR one\nINFO x\nERROR two\nERROR three\nINFO y\nERROR four",
	                          line, sizeof(line)));
	assert_string_equal(line, "ERROR two | ERROR three | ERROR four");
	/* The same failure of three runs of a crash-looping ODC is said once; a
	 * different cause before it is kept. */
	assert_true(odclog_errors(
	    "2026-12-07 23:51:56.646 ERROR 9 --- [main] c.o.o.s.M : Software degrade is not "
	    "allowed\n"
	    "2026-12-07 23:51:56.700 ERROR 9 --- [main] c.o.o.s.OdcServer : Application run "
	    "failed\n"
	    "2026-12-07 23:51:57.770 ERROR 14 --- [main] c.o.o.s.OdcServer : Application run "
	    "failed\n"
	    "INFO booting\n"
	    "2026-12-07 23:51:59.275 ERROR 19 --- [main] c.o.o.s.OdcServer : Application run "
	    "failed\n"
	    "INFO booting again\n",
	    line, sizeof(line)));
	assert_string_equal(line, "2026-12-07 23:51:56.646 ERROR 9 --- [main] c.o.o.s.M : Software "
	                          "degrade is not allowed | 2026-12-07 23:51:59.275 ERROR 19 --- "
	                          "[main] c.o.o.s.OdcServer : Application run failed");
	/* Cut to fit. */
	assert_true(odclog_errors("ERROR a long line\n", line, 8));
	assert_string_equal(line, "ERROR a");
}

/* odc.log unreadable: said so; an empty log: an empty end. */
static void
test_unreadable_or_empty(void **state)
{
	(void)state;
	odclog_report("sup\n", PATH, NULL, tail, sizeof(tail));
	assert_string_equal(tail, "--- docker logs (the supervisor) ---\nsup\n\n--- " PATH
	                          ", its end ---\n(cannot be read)");
	odclog_report("sup\n", PATH, "", tail, sizeof(tail));
	assert_string_equal(tail, "--- docker logs (the supervisor) ---\nsup\n\n--- " PATH
	                          ", its end ---\n");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_error_within_the_end),
	    cmocka_unit_test(test_error_before_the_end_is_brought_forward),
	    cmocka_unit_test(test_errors_last_three_oldest_first),
	    cmocka_unit_test(test_unreadable_or_empty),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
