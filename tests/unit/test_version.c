/* Unit tests for agent/version: numeric ordering of dotted versions, missing
 * components, text components, and which release a history version
 * belongs to. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/version.h"

static int
sign(int v)
{
	return (v > 0) - (v < 0);
}

/* Asserts version_cmp(a, b) has sign want, and the reverse the opposite. */
static void
cmp_is(const char *a, const char *b, int want)
{
	if (sign(version_cmp(a, b)) != want || sign(version_cmp(b, a)) != -want)
		fail_msg("version_cmp(\"%s\", \"%s\") = %d, want sign %d", a, b, version_cmp(a, b),
		         want);
}

static void
test_numeric_not_textual(void **state)
{
	(void)state;
	cmp_is("4.10.0", "4.9.9", 1);
	cmp_is("4.2.0.10", "4.2.0.9", 1);
	cmp_is("10.0", "9.99.99", 1);
	cmp_is("4.2.1", "4.2.0.99", 1);
	cmp_is("4.2.0.1", "4.2.0.2", -1);
	cmp_is("4.2.0", "4.2.0", 0);
}

static void
test_missing_components_are_zero(void **state)
{
	(void)state;
	cmp_is("4.2", "4.2.0", 0);
	cmp_is("4.2", "4.2.0.0", 0);
	cmp_is("4.2", "4.2.0.1", -1);
	cmp_is("4", "4.0.0", 0);
	cmp_is("", "0", 0);
	cmp_is("", "0.0.1", -1);
}

static void
test_leading_zeros_and_long_numbers(void **state)
{
	(void)state;
	cmp_is("4.02", "4.2", 0);
	cmp_is("4.010", "4.9", 1);
	/* Longer than any integer type: compared as numbers all the same. */
	cmp_is("1.123456789012345678901234567890", "1.99999999999999999999999999999", 1);
	cmp_is("1.000000000000000000000000000000005", "1.5", 0);
}

static void
test_text_after_numbers(void **state)
{
	(void)state;
	cmp_is("4.2.x", "4.2.999", 1);
	cmp_is("4.2.0-bp1", "4.2.0", 1);
	cmp_is("4.2.a", "4.2.b", -1);
	cmp_is("4.2.ab", "4.2.a", 1);
	cmp_is("4..2", "4.0.2", 1); /* an empty component is not a number */
}

/* The order is total and consistent: sorting gives the expected sequence. */
static int
qcmp(const void *a, const void *b)
{
	return version_cmp(*(const char *const *)a, *(const char *const *)b);
}

static void
test_sorts(void **state)
{
	const char *v[] = {"4.2.0.10", "4.10", "4.2.0.9", "4.2", "4.2.0.1", "4.9.9", "4.2.1", "x"};
	const char *want[] = {"4.2",   "4.2.0.1", "4.2.0.9", "4.2.0.10",
	                      "4.2.1", "4.9.9",   "4.10",    "x"};
	size_t i;

	(void)state;
	qsort(v, sizeof(v) / sizeof(v[0]), sizeof(v[0]), qcmp);
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		assert_string_equal(v[i], want[i]);
}

static void
test_belongs_to(void **state)
{
	(void)state;
	assert_true(version_belongs_to("4.2.0.3", "4.2.0"));
	assert_true(version_belongs_to("4.2.0", "4.2.0"));
	assert_true(version_belongs_to("4.2.0.10", "4.2.0"));
	assert_true(version_belongs_to("4.2.0.3", "4.2"));
	assert_true(version_belongs_to("4.2.0.3", "4.2.0.7")); /* only three components count */
	assert_false(version_belongs_to("4.3.0.1", "4.2.0"));
	assert_false(version_belongs_to("4.2.1.1", "4.2.0"));
	assert_false(version_belongs_to("4.20.0.1", "4.2.0"));
	assert_false(version_belongs_to("14.2.0.1", "4.2.0"));
	assert_false(version_belongs_to("", "4.2.0"));
	assert_false(version_belongs_to("4.2.0.1", ""));
	assert_false(version_belongs_to(NULL, "4.2.0"));
	/* Release builds report <main>-<release> (ODC's script/change_version.sh);
	 * image tags may carry _bpN. */
	assert_true(version_belongs_to("4.3.2-20241120", "4.3.2"));
	assert_true(version_belongs_to("4.3.2-20241120", "4.3.2-20241120"));
	assert_true(version_belongs_to("4.2.2.5", "4.2.2_bp1"));
	assert_true(version_belongs_to("4.2.2-20240601", "4.2.2_bp1"));
	assert_false(version_belongs_to("4.3.2-20241120", "4.3.1"));
	assert_false(version_belongs_to("4.3.20-20241120", "4.3.2"));
	assert_false(version_belongs_to("4.2.2-20240601", "4.2.1_bp3"));
	assert_false(version_belongs_to("v4.2.0", "4.2.0"));
	assert_false(version_belongs_to("4.2.0", "latest"));
}

static void
test_valid(void **state)
{
	char longv[VERSION_MAX + 2];

	(void)state;
	assert_true(version_valid("4.2.0.3"));
	assert_true(version_valid("4"));
	assert_false(version_valid(""));
	assert_false(version_valid(NULL));
	assert_false(version_valid("4..2"));
	assert_false(version_valid(".4"));
	assert_false(version_valid("4.2."));
	assert_false(version_valid("v4.2"));
	assert_false(version_valid("4.2.0-bp1"));
	memset(longv, '1', sizeof(longv) - 1);
	longv[VERSION_MAX] = '\0';
	assert_true(version_valid(longv));
	longv[VERSION_MAX] = '1';
	longv[VERSION_MAX + 1] = '\0';
	assert_false(version_valid(longv));
}

/* Releases: the first three components of the leading digits and dots. */
static void
test_release_cmp(void **state)
{
	int c = 99;

	(void)state;
	assert_true(version_release_cmp("4.3.2-20241120", "4.2.5.3", &c) && c > 0);
	assert_true(version_release_cmp("4.3.2.7", "4.3.2-1", &c) && c == 0);
	assert_true(version_release_cmp("4.2.2_bp1", "4.2.2", &c) && c == 0);
	assert_true(version_release_cmp("4.2", "4.2.0.9", &c) && c == 0);
	assert_true(version_release_cmp("4.2.10", "4.2.9", &c) && c > 0);
	assert_true(version_release_cmp("3.9", "4.0", &c) && c < 0);
	c = 99;
	assert_false(version_release_cmp("latest", "4.2.0", &c));
	assert_false(version_release_cmp("4.2.0", NULL, &c));
	assert_false(version_release_cmp("", "", &c));
	assert_int_equal(c, 99);
}

static void
test_image_tag(void **state)
{
	char t[130];

	(void)state;
	version_image_tag("oceanbase/odc:4.3.0", t, sizeof(t));
	assert_string_equal(t, "4.3.0");
	version_image_tag("registry.example:5000/oceanbase/odc:4.2.2_bp1", t, sizeof(t));
	assert_string_equal(t, "4.2.2_bp1");
	version_image_tag("registry.example:5000/oceanbase/odc", t, sizeof(t));
	assert_string_equal(t, "");
	version_image_tag("oceanbase/odc@sha256:0123abcd", t, sizeof(t));
	assert_string_equal(t, "");
	version_image_tag("oceanbase/odc:4.3.0@sha256:0123abcd", t, sizeof(t));
	assert_string_equal(t, "4.3.0");
	version_image_tag("", t, sizeof(t));
	assert_string_equal(t, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_numeric_not_textual),
	    cmocka_unit_test(test_missing_components_are_zero),
	    cmocka_unit_test(test_leading_zeros_and_long_numbers),
	    cmocka_unit_test(test_text_after_numbers),
	    cmocka_unit_test(test_sorts),
	    cmocka_unit_test(test_belongs_to),
	    cmocka_unit_test(test_valid),
	    cmocka_unit_test(test_release_cmp),
	    cmocka_unit_test(test_image_tag),
	};

	return cmocka_run_group_tests_name("version", tests, NULL, NULL);
}
