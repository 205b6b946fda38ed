/* Unit tests for agent/specdiff: the engine's merge of a create body with its
 * image, the field-by-field difference of two containers (secret env values
 * masked), and its text for a person, bounded without cutting a value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/specdiff.h"

static json_t *
parse(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);

	if (j == NULL)
		fail_msg("bad test JSON at %d: %s", e.position, e.text);
	return j;
}

/* The element of diff for field, or NULL. */
static json_t *
item(json_t *diff, const char *field)
{
	json_t *e;
	size_t i;

	json_array_foreach(diff, i, e) if (strcmp(json_string_value(json_object_get(e, "field")),
	                                          field) == 0) return e;
	return NULL;
}

static void
assert_item(json_t *diff, const char *field, const char *from, const char *to)
{
	json_t *e = item(diff, field);

	if (e == NULL)
		fail_msg("no difference %s", field);
	if (from == NULL)
		assert_true(json_is_null(json_object_get(e, "from")));
	else
		assert_string_equal(json_string_value(json_object_get(e, "from")), from);
	if (to == NULL)
		assert_true(json_is_null(json_object_get(e, "to")));
	else
		assert_string_equal(json_string_value(json_object_get(e, "to")), to);
}

/* Docker's merge (moby daemon/commit.go, merge()): the body's own values win,
 * the image fills in env variables, labels, command, working directory and
 * healthcheck members the body lacks; other image members are not taken. */
static void
test_created_merges_as_the_engine(void **state)
{
	(void)state;
	json_t *body =
	    parse("{\"Image\": \"odc:4.2.0\", \"Env\": [\"A=mine\", \"B=b\"],"
	          " \"Labels\": {\"owner\": \"dba\", \"v\": \"mine\"},"
	          " \"Healthcheck\": {\"Test\": [\"CMD\", \"true\"]},"
	          " \"HostConfig\": {\"Memory\": 8589934592, \"NetworkMode\": \"host\"}}");
	json_t *img = parse(
	    "{\"Config\": {\"Env\": [\"A=image\", \"PATH=/bin\"], \"Cmd\": [\"/start\"],"
	    " \"Labels\": {\"v\": \"4.2.0\", \"vendor\": \"ob\"}, \"WorkingDir\": \"/opt/odc\","
	    " \"AttachStdout\": true, \"Healthcheck\": {\"Interval\": 5000000000, \"Retries\": "
	    "3}}}");
	json_t *c = specdiff_created(body, img, "obodc");
	json_t *config = json_object_get(c, "Config");

	assert_non_null(c);
	assert_string_equal(json_string_value(json_object_get(c, "Name")), "/obodc");
	assert_string_equal(json_string_value(json_object_get(config, "Image")), "odc:4.2.0");
	json_t *env = json_object_get(config, "Env");
	assert_int_equal(json_array_size(env), 3);
	assert_string_equal(json_string_value(json_array_get(env, 0)), "A=mine");
	assert_string_equal(json_string_value(json_array_get(env, 1)), "B=b");
	assert_string_equal(json_string_value(json_array_get(env, 2)), "PATH=/bin");
	json_t *labels = json_object_get(config, "Labels");
	assert_string_equal(json_string_value(json_object_get(labels, "v")), "mine");
	assert_string_equal(json_string_value(json_object_get(labels, "vendor")), "ob");
	assert_string_equal(json_string_value(json_array_get(json_object_get(config, "Cmd"), 0)),
	                    "/start");
	assert_string_equal(json_string_value(json_object_get(config, "WorkingDir")), "/opt/odc");
	assert_null(json_object_get(config, "AttachStdout"));
	json_t *hc = json_object_get(config, "Healthcheck");
	assert_int_equal(json_integer_value(json_object_get(hc, "Retries")), 3);
	assert_string_equal(json_string_value(json_array_get(json_object_get(hc, "Test"), 1)),
	                    "true");
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(c, "HostConfig"), "Memory")),
	    8589934592LL);
	json_decref(c);
	json_decref(img);
	json_decref(body);
}

/* Exactly the differences: a changed, an added and a removed env variable,
 * a bind added and one removed, a published port, the restart policy, the
 * network, a generic HostConfig member; Docker's defaults alike; Hostname
 * and engine-filled members not compared. Secret values never appear. */
static void
test_compare_exactly_the_differences_secrets_masked(void **state)
{
	(void)state;
	json_t *cur = parse(
	    "{\"Name\": \"/obodc\", \"Config\": {\"Image\": \"odc:4.3.0\", \"Hostname\": \"a\","
	    " \"Env\": [\"X=1\", \"GONE=g\", \"DATABASE_PASSWORD=s3cret\", \"ODC_AESKEY=k1\", "
	    "\"SAME=s\"],"
	    " \"Labels\": {\"owner\": \"dba\"}, \"Cmd\": [\"/start\"]},"
	    " \"HostConfig\": {\"Binds\": [\"/a b:/x\", \"/old:/y\"], \"NetworkMode\": \"host\","
	    " \"Memory\": 8589934592, \"RestartPolicy\": {\"Name\": \"on-failure\", "
	    "\"MaximumRetryCount\": 3},"
	    " \"PortBindings\": {\"8989/tcp\": [{\"HostIp\": \"\", \"HostPort\": \"18989\"}]},"
	    " \"ShmSize\": 67108864, \"MaskedPaths\": [\"/proc/kcore\"], \"Privileged\": false}}");
	json_t *next = parse(
	    "{\"Name\": \"/obodc\", \"Config\": {\"Image\": \"odc:4.2.0\", \"Hostname\": \"b\","
	    " \"Env\": [\"X=2\", \"NEW=n\", \"DATABASE_PASSWORD=other\", \"ODC_AESKEY=k2\", "
	    "\"SAME=s\"],"
	    " \"Labels\": {\"owner\": \"dba\"}, \"Cmd\": [\"/start\"]},"
	    " \"HostConfig\": {\"Binds\": [\"/a b:/x\", \"/new:/y\"], \"NetworkMode\": \"bridge\","
	    " \"Memory\": 8589934592, \"RestartPolicy\": {\"Name\": \"no\"},"
	    " \"PortBindings\": {\"8989/tcp\": [{\"HostIp\": \"127.0.0.1\", \"HostPort\": "
	    "\"18989\"}]},"
	    " \"ShmSize\": 134217728}}");
	char same[1024];
	json_t *diff = specdiff_compare(cur, next, same, sizeof(same));
	char *all;

	assert_non_null(diff);
	assert_item(diff, "Image", "odc:4.3.0", "odc:4.2.0");
	assert_item(diff, "Image.version", "4.3.0", "4.2.0");
	assert_item(diff, "Env.X", "1", "2");
	assert_item(diff, "Env.GONE", "g", NULL);
	assert_item(diff, "Env.NEW", NULL, "n");
	assert_item(diff, "Env.DATABASE_PASSWORD", SPECDIFF_MASK, SPECDIFF_MASK);
	assert_item(diff, "Binds", "/old:/y", NULL);
	assert_item(diff, "Ports.8989/tcp", "18989", "127.0.0.1:18989");
	assert_item(diff, "NetworkMode", "host", "bridge");
	assert_item(diff, "RestartPolicy", "on-failure:3", "no");
	assert_item(diff, "HostConfig.ShmSize", "67108864", "134217728");
	/* A name ending in KEY holds a secret too. */
	assert_item(diff, "Env.ODC_AESKEY", SPECDIFF_MASK, SPECDIFF_MASK);
	/* 12 above, and the bind added. */
	assert_int_equal(json_array_size(diff), 13);
	assert_null(item(diff, "Config.Hostname"));
	assert_null(item(diff, "HostConfig.MaskedPaths"));
	all = json_dumps(diff, 0);
	assert_null(strstr(all, "s3cret"));
	assert_null(strstr(all, "other"));
	assert_null(strstr(all, "k1"));
	assert_null(strstr(all, "k2"));
	free(all);
	assert_non_null(strstr(same, "name obodc"));
	assert_non_null(strstr(same, "env (1 more)"));
	assert_non_null(strstr(same, "binds (1)"));
	assert_non_null(strstr(same, "memory 8G"));

	char *text = specdiff_text("obodc", cur, next, diff, same, 16384);
	assert_non_null(text);
	assert_non_null(strstr(text, "obodc: odc:4.3.0 -> odc:4.2.0\n"));
	assert_non_null(strstr(text, "\n    env      DATABASE_PASSWORD  (secret) changes\n"));
	assert_non_null(strstr(text, "\n    bind     removed /old:/y\n"));
	assert_non_null(strstr(text, "\n    bind     added /new:/y\n"));
	assert_non_null(strstr(text, "\n    env      GONE  g -> (unset)\n"));
	assert_null(strstr(text, "s3cret"));
	free(text);
	json_decref(diff);
	json_decref(next);
	json_decref(cur);
}

/* A text that would pass its bound leaves whole lines out and counts them:
 * a long value is never cut in the middle. */
static void
test_text_bounded_without_cutting_a_value(void **state)
{
	(void)state;
	char *big = malloc(3001), *text;
	json_t *diff = json_array();

	memset(big, 'v', 3000);
	big[3000] = '\0';
	for (int i = 0; i < 8; i++) {
		char field[32];
		snprintf(field, sizeof(field), "Env.LONG%d", i);
		json_array_append_new(
		    diff, json_pack("{s:s, s:s, s:n}", "field", field, "from", big, "to"));
	}
	text = specdiff_text("obodc", NULL, NULL, diff, "name obodc", 8192);
	assert_non_null(text);
	assert_true(strlen(text) < 8192);
	assert_non_null(strstr(text, "obodc: (no container) -> ?\n"));
	/* Two lines of 3 KB fit in 8 KB; each is whole. */
	assert_non_null(strstr(text, "LONG0  "));
	assert_non_null(strstr(text, "LONG1  "));
	assert_null(strstr(text, "LONG2"));
	char *line = strstr(text, "LONG1  ") + 7;
	assert_int_equal(strspn(line, "v"), 3000);
	assert_string_equal(
	    line + 3000,
	    " -> (unset)\n    ... and 6 more differences\n    unchanged: name obodc\n");
	free(text);
	free(big);
	json_decref(diff);
}

/* Found by tests/fuzz/fuzz_spec: the frame of the text (its first line, the
 * count and the unchanged line) did not fit a small bound, and the text
 * failed as if out of memory. Now a line too long for what is left is cut
 * short with "...", and the text stays under the bound. */
static void
test_text_small_bound_cuts_the_frame(void **state)
{
	(void)state;
	json_t *cur = parse("{\"Config\": {\"Image\": \"oceanbase/odc-server:4.2.2\"}}");
	json_t *next = parse("{\"Config\": {\"Image\": \"oceanbase/odc:4.2.0\"}}");
	json_t *diff = parse("[{\"field\": \"Image\", \"from\": \"oceanbase/odc-server:4.2.2\","
	                     " \"to\": \"oceanbase/odc:4.2.0\"},"
	                     " {\"field\": \"Cmd\", \"from\": \"[]\", \"to\": null}]");
	char *text = specdiff_text("obodc", cur, next, diff, "name obodc, env (7)", 80);

	assert_non_null(text);
	assert_true(strlen(text) < 80);
	assert_string_equal(text, "obodc: oceanbase/odc-server:4.2.2 -> oceanbase/odc:4.2.0\n"
	                          "    ... and 2 more...\n");
	free(text);
	/* The count is cut, the unchanged line has no room left. Not even the
	 * first line fits: cut short. */
	text = specdiff_text("obodc", cur, next, diff, NULL, 24);
	assert_non_null(text);
	assert_string_equal(text, "obodc: oceanbase/od...\n");
	free(text);
	json_decref(diff);
	json_decref(next);
	json_decref(cur);
}

/* Found by tests/fuzz/fuzz_spec: the image's env entries the created
 * container inherits were the image inspect's own values (shared), against
 * "sharing nothing with the inputs". */
static void
test_created_shares_nothing_with_the_image(void **state)
{
	(void)state;
	json_t *body = parse("{\"Image\": \"odc:4.2.0\", \"Env\": [\"A=1\"]}");
	json_t *img = parse("{\"Config\": {\"Env\": [\"PATH=/usr/bin\"]}}");
	json_t *out = specdiff_created(body, img, "obodc");
	json_t *env = json_object_get(json_object_get(out, "Config"), "Env");

	assert_non_null(out);
	assert_int_equal(json_array_size(env), 2);
	assert_string_equal(json_string_value(json_array_get(env, 1)), "PATH=/usr/bin");
	/* Held by the result alone. */
	assert_int_equal(json_array_get(env, 1)->refcount, 1);
	assert_ptr_not_equal(
	    json_array_get(env, 1),
	    json_array_get(json_object_get(json_object_get(img, "Config"), "Env"), 0));
	json_decref(out);
	json_decref(img);
	json_decref(body);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_created_merges_as_the_engine),
	    cmocka_unit_test(test_compare_exactly_the_differences_secrets_masked),
	    cmocka_unit_test(test_text_bounded_without_cutting_a_value),
	    cmocka_unit_test(test_text_small_bound_cuts_the_frame),
	    cmocka_unit_test(test_created_shares_nothing_with_the_image),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
