/* Unit tests for common/config: exact file:line messages, the bounds, and every
 * form each typed getter accepts or refuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/config.h"

/* Loads text that must fail and checks the exact message. */
static void
assert_load_fails(const char *text, const char *want)
{
	char err[512] = "";
	struct config *c = config_load_string("t.ini", text, err, sizeof(err));

	assert_null(c);
	assert_string_equal(err, want);
}

static struct config *
load_ok(const char *text)
{
	char err[512] = "";
	struct config *c = config_load_string("t.ini", text, err, sizeof(err));

	if (c == NULL)
		fail_msg("unexpected error: %s", err);
	return c;
}

static void
test_parses_sections_comments_and_lines(void **state)
{
	const char *text = "\xef\xbb\xbf# odc-agent configuration\n"
	                   "[agent]\n"
	                   "id = host-a\n"
	                   "\n"
	                   "; a comment\n"
	                   "  listen = tcp://0.0.0.0:7700   ; inline comment\r\n"
	                   "name: value with: colon\n"
	                   "[metadb]\n"
	                   "password = p#ss=w0rd;x\n"
	                   "empty =\n"
	                   "[agent]\n"
	                   "region = hz\n";
	struct config *c = load_ok(text);
	const char *s = NULL, *sec, *key, *val;
	char err[256];
	int line;

	(void)state;
	assert_string_equal(config_path(c), "t.ini");
	assert_int_equal(config_get_str(c, "agent", "id", NULL, &s, err, sizeof(err)), 0);
	assert_string_equal(s, "host-a");
	assert_int_equal(config_line(c, "agent", "id"), 3);
	/* Indentation is not a continuation line, and " ;" starts a comment. */
	assert_int_equal(config_get_str(c, "agent", "listen", NULL, &s, err, sizeof(err)), 0);
	assert_string_equal(s, "tcp://0.0.0.0:7700");
	assert_int_equal(config_line(c, "agent", "listen"), 6);
	assert_int_equal(config_get_str(c, "agent", "name", NULL, &s, err, sizeof(err)), 0);
	assert_string_equal(s, "value with: colon");
	/* ';' without a blank before it and '#' are part of the value. */
	assert_int_equal(config_get_str(c, "metadb", "password", NULL, &s, err, sizeof(err)), 0);
	assert_string_equal(s, "p#ss=w0rd;x");
	assert_int_equal(config_get_str(c, "metadb", "empty", "d", &s, err, sizeof(err)), 0);
	assert_string_equal(s, "");
	/* A section that appears twice is merged. */
	assert_int_equal(config_line(c, "agent", "region"), 12);
	assert_int_equal(config_line(c, "agent", "nope"), 0);
	assert_int_equal(config_get_str(c, "agent", "nope", "dflt", &s, err, sizeof(err)), 1);
	assert_string_equal(s, "dflt");
	assert_int_equal(config_get_str(c, "agent", "nope", NULL, &s, err, sizeof(err)), 1);
	assert_null(s);

	assert_int_equal(config_count(c), 6);
	assert_int_equal(config_entry(c, 1, &sec, &key, &val, &line), 0);
	assert_string_equal(sec, "agent");
	assert_string_equal(key, "listen");
	assert_int_equal(line, 6);
	assert_int_equal(config_entry(c, 6, &sec, &key, &val, &line), -1);
	config_free(c);
	config_free(NULL);
}

static void
test_syntax_errors(void **state)
{
	(void)state;
	assert_load_fails("[agent]\nthis line has no equals sign\n", "t.ini:2: syntax error");
	assert_load_fails("[agent]\nid = a\n[metadb\nhost = x\n", "t.ini:3: syntax error");
	assert_load_fails("[agent]\n= value\n", "t.ini:2: syntax error");
	/* The earliest problem is the one reported. */
	assert_load_fails("[a]\nx = 1\nbroken\nx = 2\n", "t.ini:3: syntax error");
	assert_load_fails("[a]\nx = 1\nx = 2\nbroken\n",
	                  "t.ini:3: a.x: duplicate (first set at line 2)");
}

static void
test_structure_errors(void **state)
{
	(void)state;
	assert_load_fails("[agent]\nport = 1\n\nport = 2\n",
	                  "t.ini:4: agent.port: duplicate (first set at line 2)");
	assert_load_fails("port = 1\n[agent]\n", "t.ini:1: port: key outside of any [section]");
	assert_load_fails(
	    "[agent]\nmy key = 1\n",
	    "t.ini:2: agent.my key: invalid key name (use 1 to 64 of A-Z a-z 0-9 . _ -)");
	assert_load_fails("[agent]\n[bad section]\n",
	                  "t.ini:2: invalid section name 'bad section' (use 1 to 48 of A-Z a-z 0-9 "
	                  ". _ -)");
	assert_load_fails("[]\n", "t.ini:1: invalid section name '' (use 1 to 48 of A-Z a-z 0-9 "
	                          ". _ -)");
	assert_load_fails("[agent] trailing\n", "t.ini:1: unexpected text after ']'");
	/* inih would silently cut a long section name to 49 bytes; we refuse it. */
	assert_load_fails(
	    "[aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa]\n",
	    "t.ini:1: invalid section name 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaa' (use 1 to 48 of A-Z a-z 0-9 . _ -)");
	config_free(load_ok("[agent] ; comment\n[x.y-z_1] # comment\n"));
}

static void
test_line_length_bound(void **state)
{
	char *text;
	struct config *c;
	const char *v;
	char err[256];

	(void)state;
	text = malloc(5000);
	assert_non_null(text);
	/* "k = " plus 4092 bytes is exactly 4096: accepted, even with "\r\n". */
	memcpy(text, "[s]\nk = ", 8);
	memset(text + 8, 'v', 4092);
	memcpy(text + 8 + 4092, "\r\n", 3);
	c = load_ok(text);
	assert_int_equal(config_get_str(c, "s", "k", NULL, &v, err, sizeof(err)), 0);
	assert_int_equal(strlen(v), 4092);
	config_free(c);
	/* One more byte is refused. */
	memset(text + 8, 'v', 4093);
	memcpy(text + 8 + 4093, "\n[t]\n", 6);
	assert_load_fails(text, "t.ini:2: line too long");
	free(text);
}

static void
test_file_loading_and_size_bound(void **state)
{
	char dir[] = "/tmp/odc-test-config-XXXXXX", path[128], err[512], want[512];
	struct config *c;
	FILE *f;
	size_t i;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/agent.ini", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("[agent]\nid = host-a\nport = abc\n", f);
	fclose(f);
	c = config_load(path, err, sizeof(err));
	assert_non_null(c);
	assert_string_equal(config_path(c), path);
	{
		uint64_t port = 0;

		assert_int_equal(
		    config_get_uint(c, "agent", "port", 7700, 1, 65535, &port, err, sizeof(err)),
		    -1);
		snprintf(want, sizeof(want),
		         "%s:3: agent.port: expected an integer from 1 to 65535, got 'abc'", path);
		assert_string_equal(err, want);
	}
	config_free(c);

	/* A NUL byte in a file is refused with its line. */
	f = fopen(path, "w");
	assert_non_null(f);
	fwrite("[a]\nx = 1\ny = a\0b\n", 1, 18, f);
	fclose(f);
	assert_null(config_load(path, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s:3: NUL byte in line", path);
	assert_string_equal(err, want);

	/* 1 MiB is fine, one byte more is not. */
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("[a]\n", f);
	for (i = 4; i < CONFIG_MAX_FILE; i++)
		fputc(i % 64 == 63 ? '\n' : '#', f);
	fclose(f);
	c = config_load(path, err, sizeof(err));
	assert_non_null(c);
	config_free(c);
	f = fopen(path, "a");
	assert_non_null(f);
	fputc('\n', f);
	fclose(f);
	assert_null(config_load(path, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s: file too large (limit 1048576 bytes)", path);
	assert_string_equal(err, want);

	assert_null(config_load(dir, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s: not a regular file", dir);
	assert_string_equal(err, want);
	unlink(path);
	assert_null(config_load(path, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s: No such file or directory", path);
	assert_string_equal(err, want);
	assert_int_equal(rmdir(dir), 0);
}

static void
test_too_many_keys(void **state)
{
	char *text;
	size_t i, pos;

	(void)state;
	text = malloc(20 * (CONFIG_MAX_KEYS + 2));
	assert_non_null(text);
	pos = (size_t)snprintf(text, 20, "[s]\n");
	for (i = 0; i <= CONFIG_MAX_KEYS; i++)
		pos += (size_t)snprintf(text + pos, 20, "k%zu = 1\n", i);
	assert_load_fails(text, "t.ini:4098: too many keys (limit 4096)");
	free(text);
}

static void
test_check_known_and_require(void **state)
{
	static const char *const known[] = {"agent.id", "agent.listen", "labels.*", NULL};
	struct config *c = load_ok("[agent]\nid = a\nlisten = x\n[labels]\nzone = hz\nanything = "
	                           "1\n[agent]\ncolour = blue\n");
	static const char *const known2[] = {"agent.*", "labels.*", NULL};
	char err[256];

	(void)state;
	assert_int_equal(config_check_known(c, known, err, sizeof(err)), -1);
	assert_string_equal(err, "t.ini:8: agent.colour: unknown key");
	assert_int_equal(config_check_known(c, known2, err, sizeof(err)), 0);
	assert_int_equal(config_require(c, "agent", "id", err, sizeof(err)), 0);
	assert_int_equal(config_require(c, "agent", "coordinator", err, sizeof(err)), -1);
	/* An absent key is shown at the line of its [section] (the first). */
	assert_string_equal(err, "t.ini:1: agent.coordinator: required key missing");
	assert_int_equal(config_require(c, "nosuch", "key", err, sizeof(err)), -1);
	assert_string_equal(err, "t.ini:0: nosuch.key: required key missing");
	config_free(c);

	/* A section name with dots is matched whole, not split on a dot. */
	c = load_ok("[target.web]\nport = 1\n");
	{
		static const char *const k3[] = {"target.web.port", NULL};
		static const char *const k4[] = {"target.*", NULL};

		assert_int_equal(config_check_known(c, k3, err, sizeof(err)), 0);
		assert_int_equal(config_check_known(c, k4, err, sizeof(err)), -1);
		assert_string_equal(err, "t.ini:2: target.web.port: unknown key");
	}
	config_free(c);
}

/* Every problem is recorded, whoever found it, and reported in file order
 * with a count; problems with no line come last. */
static void
test_problems_and_report(void **state)
{
	static const char *const known[] = {"a.x", "a.d", "b.*", NULL};
	struct config *c = load_ok("[a]\nx = 1\nd = soon\ncolour = red\n[b]\nn = 70000\n");
	char err[256], out[2048];
	const char *s;
	uint64_t v;
	FILE *f;

	(void)state;
	assert_int_equal(config_problem_count(c), 0);
	assert_int_equal(config_get_uint(c, "b", "n", 1, 1, 65535, &v, NULL, 0), -1);
	assert_int_equal(config_check_known(c, known, err, sizeof(err)), -1);
	assert_int_equal(config_require(c, "c", "k", NULL, 0), -1);
	assert_int_equal(config_get_duration_ms(c, "a", "d", 1, 1, 1000, &v, NULL, 0), -1);
	config_problem(c, "b", "absent", "said %s", "twice");
	assert_int_equal(config_get_str(c, "a", "x", NULL, &s, NULL, 0), 0);
	assert_int_equal(config_problem_count(c), 5);
	assert_string_equal(config_problem_text(c, 0),
	                    "t.ini:6: b.n: expected an integer from 1 to 65535, got '70000'");
	assert_null(config_problem_text(c, 5));

	f = fmemopen(out, sizeof(out), "w");
	assert_non_null(f);
	assert_int_equal(config_report(f, c, "t.ini", NULL), 5);
	fclose(f);
	assert_string_equal(
	    out, "t.ini:3: a.d: expected a duration from 1ms to 1s (e.g. 1500ms, 30s, 5m, "
	         "2h), got 'soon'\n"
	         "t.ini:4: a.colour: unknown key\n"
	         "t.ini:5: b.absent: said twice\n"
	         "t.ini:6: b.n: expected an integer from 1 to 65535, got '70000'\n"
	         "t.ini:0: c.k: required key missing\n"
	         "t.ini: 5 problems\n");
	config_free(c);

	/* No configuration at all: the load's error stands alone. */
	f = fmemopen(out, sizeof(out), "w");
	assert_non_null(f);
	assert_int_equal(config_report(f, NULL, "x.ini", "x.ini:2: syntax error"), 1);
	fclose(f);
	assert_string_equal(out, "x.ini:2: syntax error\nx.ini: 1 problem\n");
}

static void
test_get_endpoint(void **state)
{
	struct config *c = load_ok("[e]\nt = tcp://h.example:7701\nv6 = tcp://[::1]:1\n"
	                           "star = tcp://*:*\nipc = ipc:///run/x.sock\nnoport = tcp://h\n"
	                           "zero = tcp://h:0\nbare = h:1\nipc0 = ipc://\n");
	const char *s;
	char err[256];

	(void)state;
	assert_int_equal(
	    config_get_endpoint(c, "e", "t", NULL, CONFIG_ENDPOINT_TCP, &s, err, sizeof(err)), 0);
	assert_string_equal(s, "tcp://h.example:7701");
	assert_int_equal(config_get_endpoint(c, "e", "v6", NULL, 0, &s, err, sizeof(err)), 0);
	assert_int_equal(config_get_endpoint(c, "e", "ipc", NULL, 0, &s, err, sizeof(err)), 0);
	assert_int_equal(
	    config_get_endpoint(c, "e", "star", NULL, CONFIG_ENDPOINT_BIND, &s, err, sizeof(err)),
	    0);
	assert_int_equal(config_get_endpoint(c, "e", "none", "d", 0, &s, err, sizeof(err)), 1);
	assert_string_equal(s, "d");
	assert_int_equal(config_get_endpoint(c, "e", "star", NULL, 0, &s, err, sizeof(err)), -1);
	assert_int_equal(
	    config_get_endpoint(c, "e", "ipc", NULL, CONFIG_ENDPOINT_TCP, &s, err, sizeof(err)),
	    -1);
	assert_string_equal(err,
	                    "t.ini:5: e.ipc: expected tcp://HOST:PORT, got 'ipc:///run/x.sock'");
	assert_int_equal(config_get_endpoint(c, "e", "noport", NULL, 0, &s, err, sizeof(err)), -1);
	assert_string_equal(
	    err,
	    "t.ini:6: e.noport: expected tcp://HOST:PORT or ipc://PATH: no port, got 'tcp://h'");
	assert_int_equal(config_get_endpoint(c, "e", "zero", NULL, 0, &s, err, sizeof(err)), -1);
	assert_int_equal(config_get_endpoint(c, "e", "bare", NULL, 0, &s, err, sizeof(err)), -1);
	assert_int_equal(config_get_endpoint(c, "e", "ipc0", NULL, 0, &s, err, sizeof(err)), -1);
	{
		unsigned port = 0;
		assert_int_equal(config_parse_port("65535", &port), 0);
		assert_int_equal(port, 65535);
		assert_int_equal(config_parse_port("007", &port), 0);
		assert_int_equal(port, 7);
		assert_int_equal(config_parse_port("65536", &port), -1);
		assert_int_equal(config_parse_port("000001", &port), -1);
		assert_int_equal(config_parse_port("0", &port), -1);
		assert_int_equal(config_parse_port("", &port), -1);
		assert_int_equal(config_parse_port("+80", &port), -1);
		assert_int_equal(config_parse_port("80 ", &port), -1);
	}
	/* Resolving: a name under .invalid never resolves (RFC 6761); an
	 * address and "*" (bind) need no resolver. */
	assert_int_equal(config_check_endpoint(c, "e", "t", "tcp://no-such-host.invalid:7701", 0),
	                 -1);
	assert_non_null(strstr(config_problem_text(c, config_problem_count(c) - 1),
	                       "t.ini:2: e.t: tcp://no-such-host.invalid:7701: cannot resolve "
	                       "'no-such-host.invalid': "));
	assert_int_equal(config_check_endpoint(c, "e", "v6", "tcp://[::1]:1", 0), 0);
	assert_int_equal(config_check_endpoint(c, "e", "star", "tcp://*:*", CONFIG_ENDPOINT_BIND),
	                 0);
	assert_int_equal(config_check_endpoint(c, "e", "ipc", "ipc:///run/x.sock", 0), 0);
	config_free(c);
}

static void
test_check_dir_and_exec(void **state)
{
	char tmpl[] = "/tmp/odc-config-XXXXXX", p[256], q[256];
	struct config *c = load_ok("[d]\nx = 1\n");
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(tmpl));
	/* An existing directory, a missing one in it, a missing chain. */
	assert_int_equal(config_check_dir(c, "d", "x", tmpl, 0), 0);
	snprintf(p, sizeof(p), "%s/new", tmpl);
	assert_int_equal(config_check_dir(c, "d", "x", p, 0), 0);
	snprintf(p, sizeof(p), "%s/a/b/c", tmpl);
	assert_int_equal(config_check_dir(c, "d", "x", p, CONFIG_DIR_PARENTS), 0);
	assert_int_equal(config_problem_count(c), 0);
	assert_int_equal(config_check_dir(c, "d", "x", p, 0), -1);
	assert_non_null(
	    strstr(config_problem_text(c, 0), "/a/b/c: cannot be created: its parent "));
	/* A file where a directory, or a parent, should be. */
	snprintf(q, sizeof(q), "%s/file with spaces", tmpl);
	f = fopen(q, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(config_check_dir(c, "d", "x", q, 0), -1);
	assert_non_null(strstr(config_problem_text(c, 1), "t.ini:2: d.x: "));
	assert_non_null(strstr(config_problem_text(c, 1), "/file with spaces: not a directory"));
	snprintf(p, sizeof(p), "%s/file with spaces/sub/dir", tmpl);
	assert_int_equal(config_check_dir(c, "d", "x", p, CONFIG_DIR_PARENTS), -1);
	assert_non_null(strstr(config_problem_text(c, 2), "/sub/dir: cannot be created: "));
	/* A file that is not executable, one that is, and a directory. */
	assert_int_equal(config_check_exec(c, "d", "x", q), -1);
	assert_non_null(strstr(config_problem_text(c, 3), "not executable by "));
	assert_int_equal(chmod(q, 0755), 0);
	assert_int_equal(config_check_exec(c, "d", "x", q), 0);
	assert_int_equal(config_check_exec(c, "d", "x", tmpl), -1);
	assert_non_null(strstr(config_problem_text(c, 4), ": not a regular file"));
	assert_int_equal(config_problem_count(c), 5);
	unlink(q);
	rmdir(tmpl);
	config_free(c);
}

static void
test_get_uint(void **state)
{
	struct config *c = load_ok("[s]\nport = 8989\nzero = 0\nbig = 18446744073709551615\n"
	                           "over = 18446744073709551616\nneg = -1\nplus = +5\nhex = 0x10\n"
	                           "exp = 1e3\nhigh = 70000\nword = abc\nempty =\nsp = 1 2\n");
	char err[256];
	uint64_t v = 7;

	(void)state;
	assert_int_equal(config_get_uint(c, "s", "port", 1, 1, 65535, &v, err, sizeof(err)), 0);
	assert_int_equal(v, 8989);
	assert_int_equal(config_get_uint(c, "s", "zero", 1, 0, 10, &v, err, sizeof(err)), 0);
	assert_int_equal(v, 0);
	assert_int_equal(config_get_uint(c, "s", "big", 1, 0, UINT64_MAX, &v, err, sizeof(err)), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(config_get_uint(c, "s", "absent", 7700, 1, 65535, &v, err, sizeof(err)),
	                 1);
	assert_int_equal(v, 7700);

	v = 5;
	assert_int_equal(config_get_uint(c, "s", "high", 1, 1, 65535, &v, err, sizeof(err)), -1);
	assert_string_equal(err,
	                    "t.ini:10: s.high: expected an integer from 1 to 65535, got '70000'");
	assert_int_equal(v, 5);
	assert_int_equal(config_get_uint(c, "s", "zero", 1, 1, 65535, &v, err, sizeof(err)), -1);
	assert_string_equal(err, "t.ini:3: s.zero: expected an integer from 1 to 65535, got '0'");
	assert_int_equal(config_get_uint(c, "s", "word", 1, 1, 65535, &v, err, sizeof(err)), -1);
	assert_string_equal(err,
	                    "t.ini:11: s.word: expected an integer from 1 to 65535, got 'abc'");
	assert_int_equal(config_get_uint(c, "s", "empty", 1, 1, 65535, &v, err, sizeof(err)), -1);
	assert_string_equal(err, "t.ini:12: s.empty: expected an integer from 1 to 65535, got ''");
	assert_int_equal(config_get_uint(c, "s", "over", 1, 0, UINT64_MAX, &v, err, sizeof(err)),
	                 -1);
	assert_int_equal(config_get_uint(c, "s", "neg", 1, 0, UINT64_MAX, &v, err, sizeof(err)),
	                 -1);
	assert_int_equal(config_get_uint(c, "s", "plus", 1, 0, UINT64_MAX, &v, err, sizeof(err)),
	                 -1);
	assert_int_equal(config_get_uint(c, "s", "hex", 1, 0, UINT64_MAX, &v, err, sizeof(err)),
	                 -1);
	assert_int_equal(config_get_uint(c, "s", "exp", 1, 0, UINT64_MAX, &v, err, sizeof(err)),
	                 -1);
	assert_int_equal(config_get_uint(c, "s", "sp", 1, 0, UINT64_MAX, &v, err, sizeof(err)), -1);
	assert_int_equal(v, 5);
	config_free(c);
}

static void
test_get_bool(void **state)
{
	static const char *const yes[] = {"t1", "t2", "t3", "t4", "t5"};
	static const char *const no[] = {"f1", "f2", "f3", "f4", "f5"};
	struct config *c = load_ok("[s]\nt1 = true\nt2 = YES\nt3 = on\nt4 = 1\nt5 = True\n"
	                           "f1 = false\nf2 = no\nf3 = OFF\nf4 = 0\nf5 = No\nbad = maybe\n");
	char err[256];
	int v;
	size_t i;

	(void)state;
	for (i = 0; i < 5; i++) {
		v = -1;
		assert_int_equal(config_get_bool(c, "s", yes[i], 0, &v, err, sizeof(err)), 0);
		assert_int_equal(v, 1);
		assert_int_equal(config_get_bool(c, "s", no[i], 1, &v, err, sizeof(err)), 0);
		assert_int_equal(v, 0);
	}
	assert_int_equal(config_get_bool(c, "s", "absent", 1, &v, err, sizeof(err)), 1);
	assert_int_equal(v, 1);
	assert_int_equal(config_get_bool(c, "s", "bad", 1, &v, err, sizeof(err)), -1);
	assert_string_equal(
	    err, "t.ini:12: s.bad: expected true/false, yes/no, on/off or 1/0, got 'maybe'");
	config_free(c);
}

/* The grammar config_get_duration_ms and odcctl's options share. */
static void
test_parse_duration(void **state)
{
	static const struct {
		const char *text;
		uint64_t ms;
	} ok[] = {
	    {"0", 0},       {"45", 45000},      {"1500ms", 1500},  {"0ms", 0},
	    {"30s", 30000}, {"5m", 300000},     {"2h", 7200000},   {"1d", 86400000},
	    {"007s", 7000}, {"90000ms", 90000}, {"7d", 604800000},
	};
	static const char *const bad[] = {
	    "",    "s",  "ms", "5 m", " 5m",  "5m ", "1.5s", "-1s",
	    "+1s", "5x", "5M", "5S",  "5mss", "5sm", "0x10", "99999999999999999999h",
	};
	uint64_t v;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		v = 1;
		assert_int_equal(config_parse_duration_ms(ok[i].text, &v), 0);
		assert_true(v == ok[i].ms);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 12345;
		assert_int_equal(config_parse_duration_ms(bad[i], &v), -1);
		assert_true(v == 12345);
	}
}

/* What config_load_fields fills, for test_load_fields. */
struct fields_obj {
	const char *name;
	const char *mode;
	uint64_t port;
	uint64_t wait_ms;
	uint64_t size;
	int custom_calls;
	const char *checked;
};

static void
fields_custom(const struct config *c, const char *s, const char *k, const char *v, void *obj)
{
	struct fields_obj *o = obj;

	(void)c;
	(void)s;
	(void)k;
	assert_null(v);
	o->custom_calls++;
}

static void
fields_check(const struct config *c, const char *s, const char *k, const char *v, void *obj)
{
	struct fields_obj *o = obj;

	o->checked = v;
	if (strcmp(v, "bad") == 0)
		config_problem(c, s, k, "checked and refused");
}

/* The table walk: defaults, stored values, required keys, words, checks and
 * CONFIG_CUSTOM rows, with problems in table order. */
static void
test_load_fields(void **state)
{
	static const char *const modes[] = {"fast", "safe", "slow", NULL};
	static const struct config_field fields[] = {
	    {"s", "name", CONFIG_STR, CONFIG_REQUIRED, offsetof(struct fields_obj, name), NULL, 0,
	     0, 0, NULL, fields_check},
	    {"s", "mode", CONFIG_STR, CONFIG_CHECK_DEFAULT, offsetof(struct fields_obj, mode),
	     "safe", 0, 0, 0, modes, NULL},
	    {"s", "port", CONFIG_UINT, 0, offsetof(struct fields_obj, port), NULL, 80, 1, 65535,
	     NULL, NULL},
	    {"s", "wait", CONFIG_DURATION, 0, offsetof(struct fields_obj, wait_ms), NULL, 1000, 0,
	     60000, NULL, NULL},
	    {"s", "size", CONFIG_SIZE, 0, offsetof(struct fields_obj, size), NULL, 1024, 1,
	     1ULL << 30, NULL, NULL},
	    {"s", "list", CONFIG_CUSTOM, 0, CONFIG_UNSTORED, NULL, 0, 0, 0, NULL, fields_custom},
	    {NULL, "need", CONFIG_STR, CONFIG_REQUIRED, CONFIG_UNSTORED, NULL, 0, 0, 0, NULL, NULL},
	};
	struct config *c = load_ok("[s]\nname = n1\nwait = 1500ms\n");
	struct fields_obj o;

	(void)state;
	memset(&o, 0, sizeof(o));
	config_load_fields(c, "s", fields, sizeof(fields) / sizeof(fields[0]), &o);
	assert_string_equal(o.name, "n1");
	assert_string_equal(o.checked, "n1");
	assert_string_equal(o.mode, "safe");
	assert_true(o.port == 80 && o.wait_ms == 1500 && o.size == 1024);
	assert_int_equal(o.custom_calls, 1);
	assert_int_equal(config_problem_count(c), 1);
	assert_string_equal(config_problem_text(c, 0), "t.ini:1: s.need: required key missing");
	config_free(c);

	c = load_ok("[s]\nname = bad\nmode = quick\nport = 0\nwait = 2m\n");
	memset(&o, 0, sizeof(o));
	o.port = 7;
	config_load_fields(c, "s", fields, sizeof(fields) / sizeof(fields[0]), &o);
	assert_int_equal(config_problem_count(c), 5);
	assert_string_equal(config_problem_text(c, 0), "t.ini:2: s.name: checked and refused");
	assert_string_equal(config_problem_text(c, 1),
	                    "t.ini:3: s.mode: expected fast, safe or slow");
	assert_string_equal(config_problem_text(c, 2),
	                    "t.ini:4: s.port: expected an integer from 1 to 65535, got '0'");
	assert_string_equal(config_problem_text(c, 3),
	                    "t.ini:5: s.wait: expected a duration from 0ms to 1m (e.g. 1500ms, "
	                    "30s, 5m, 2h), got '2m'");
	assert_string_equal(config_problem_text(c, 4), "t.ini:1: s.need: required key missing");
	/* A bad value leaves the field as it was. */
	assert_true(o.port == 7 && o.wait_ms == 0);
	config_free(c);
}

static void
test_get_duration(void **state)
{
	static const struct {
		const char *key;
		uint64_t ms;
	} ok[] = {
	    {"a", 30000}, {"b", 300000}, {"c", 1500}, {"d", 7200000}, {"e", 45000}, {"f", 86400000},
	};
	static const char *const bad[] = {"g", "h", "i", "j", "k", "l", "m", "n"};
	struct config *c = load_ok("[s]\na = 30s\nb = 5m\nc = 1500ms\nd = 2h\ne = 45\nf = 1d\n"
	                           "g = 5 m\nh = 1.5s\ni = -1s\nj = 5x\nk = ms\nl =\nm = 5M\n"
	                           "n = 99999999999999999999h\n");
	char err[256];
	uint64_t v;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		v = 0;
		assert_int_equal(config_get_duration_ms(c, "s", ok[i].key, 1, 0, UINT64_MAX, &v,
		                                        err, sizeof(err)),
		                 0);
		assert_true(v == ok[i].ms);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(
		    config_get_duration_ms(c, "s", bad[i], 1, 0, UINT64_MAX, &v, err, sizeof(err)),
		    -1);
	assert_int_equal(
	    config_get_duration_ms(c, "s", "absent", 2500, 0, UINT64_MAX, &v, err, sizeof(err)), 1);
	assert_int_equal(v, 2500);
	assert_int_equal(
	    config_get_duration_ms(c, "s", "d", 1, 1000, 3600000, &v, err, sizeof(err)), -1);
	assert_string_equal(err, "t.ini:5: s.d: expected a duration from 1s to 1h (e.g. 1500ms, "
	                         "30s, 5m, 2h), got '2h'");
	assert_int_equal(config_get_duration_ms(c, "s", "c", 1, 1500, 1500, &v, err, sizeof(err)),
	                 0);
	assert_int_equal(config_get_duration_ms(c, "s", "c", 1, 1501, 5000, &v, err, sizeof(err)),
	                 -1);
	assert_string_equal(err,
	                    "t.ini:4: s.c: expected a duration from 1501ms to 5s (e.g. 1500ms, "
	                    "30s, 5m, 2h), got '1500ms'");
	config_free(c);
}

static void
test_get_size(void **state)
{
	static const struct {
		const char *key;
		uint64_t n;
	} ok[] = {
	    {"a", 1024},       {"b", 10240},      {"c", 512ULL << 20},
	    {"d", 8ULL << 30}, {"e", 1ULL << 40}, {"f", 512ULL << 20},
	    {"g", 8ULL << 30}, {"h", 10240},      {"i", 100},
	};
	static const char *const bad[] = {"j", "k", "l", "m", "n", "o"};
	struct config *c = load_ok("[s]\na = 1024\nb = 10K\nc = 512M\nd = 8G\ne = 1T\nf = 512MiB\n"
	                           "g = 8gb\nh = 10k\ni = 100B\nj = 1.5G\nk = 8X\nl = -1\nm = G\n"
	                           "n = 20000000T\no = 8 G\n");
	char err[256];
	uint64_t v;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		v = 0;
		assert_int_equal(
		    config_get_size(c, "s", ok[i].key, 1, 0, UINT64_MAX, &v, err, sizeof(err)), 0);
		assert_true(v == ok[i].n);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(
		    config_get_size(c, "s", bad[i], 1, 0, UINT64_MAX, &v, err, sizeof(err)), -1);
	assert_int_equal(
	    config_get_size(c, "s", "absent", 4096, 0, UINT64_MAX, &v, err, sizeof(err)), 1);
	assert_int_equal(v, 4096);
	assert_int_equal(config_get_size(c, "s", "e", 1, 1024, 8ULL << 30, &v, err, sizeof(err)),
	                 -1);
	assert_string_equal(
	    err, "t.ini:6: s.e: expected a size from 1K to 8G (e.g. 10K, 512M, 8G), got '1T'");
	config_free(c);
}

static void
test_get_path(void **state)
{
	static const char *const bad[] = {"rel", "dbl",     "trail", "dotdot",
	                                  "dot", "enddots", "empty"};
	struct config *c = load_ok("[s]\nok = /var/lib/odc-agent\nroot = /\ndots = /a/..b/c.d\n"
	                           "rel = var/lib\ndbl = /var//lib\ntrail = /var/lib/\n"
	                           "dotdot = /var/../etc\ndot = /var/./lib\nenddots = /var/..\n"
	                           "empty =\n");
	const char *p;
	char err[256];
	size_t i;

	(void)state;
	assert_int_equal(config_get_path(c, "s", "ok", NULL, &p, err, sizeof(err)), 0);
	assert_string_equal(p, "/var/lib/odc-agent");
	assert_int_equal(config_get_path(c, "s", "root", NULL, &p, err, sizeof(err)), 0);
	assert_string_equal(p, "/");
	assert_int_equal(config_get_path(c, "s", "dots", NULL, &p, err, sizeof(err)), 0);
	assert_int_equal(config_get_path(c, "s", "absent", "/d", &p, err, sizeof(err)), 1);
	assert_string_equal(p, "/d");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(config_get_path(c, "s", bad[i], NULL, &p, err, sizeof(err)), -1);
	assert_int_equal(config_get_path(c, "s", "dotdot", NULL, &p, err, sizeof(err)), -1);
	assert_string_equal(err, "t.ini:8: s.dotdot: expected an absolute path without '.', '..', "
	                         "'//' or a trailing '/', got '/var/../etc'");
	config_free(c);
}

static void
test_get_list(void **state)
{
	struct config *c = load_ok("[s]\nhosts = web-1, web-2 ,web-3\none = solo\nempty =\n"
	                           "hole = a,,b\ntrail = a, b,\nmany = 1,2,3,4,5\n");
	const char *items[4];
	char store[64], err[256];
	size_t n = 99;

	(void)state;
	assert_int_equal(config_get_list(c, "s", "hosts", NULL, items, 4, &n, store, sizeof(store),
	                                 err, sizeof(err)),
	                 0);
	assert_int_equal(n, 3);
	assert_string_equal(items[0], "web-1");
	assert_string_equal(items[1], "web-2");
	assert_string_equal(items[2], "web-3");
	assert_int_equal(config_get_list(c, "s", "one", NULL, items, 4, &n, store, sizeof(store),
	                                 err, sizeof(err)),
	                 0);
	assert_int_equal(n, 1);
	assert_string_equal(items[0], "solo");
	assert_int_equal(config_get_list(c, "s", "empty", NULL, items, 4, &n, store, sizeof(store),
	                                 err, sizeof(err)),
	                 0);
	assert_int_equal(n, 0);
	assert_int_equal(config_get_list(c, "s", "absent", "x, y", items, 4, &n, store,
	                                 sizeof(store), err, sizeof(err)),
	                 1);
	assert_int_equal(n, 2);
	assert_string_equal(items[1], "y");
	assert_int_equal(config_get_list(c, "s", "absent", NULL, items, 4, &n, store, sizeof(store),
	                                 err, sizeof(err)),
	                 1);
	assert_int_equal(n, 0);

	assert_int_equal(config_get_list(c, "s", "hole", NULL, items, 4, &n, store, sizeof(store),
	                                 err, sizeof(err)),
	                 -1);
	assert_string_equal(err, "t.ini:5: s.hole: empty item in the comma-separated list");
	assert_int_equal(n, 0);
	assert_int_equal(config_get_list(c, "s", "trail", NULL, items, 4, &n, store, sizeof(store),
	                                 err, sizeof(err)),
	                 -1);
	assert_int_equal(config_get_list(c, "s", "many", NULL, items, 4, &n, store, sizeof(store),
	                                 err, sizeof(err)),
	                 -1);
	assert_string_equal(err, "t.ini:7: s.many: expected at most 4 comma-separated items");
	assert_int_equal(
	    config_get_list(c, "s", "hosts", NULL, items, 4, &n, store, 10, err, sizeof(err)), -1);
	assert_string_equal(err, "t.ini:2: s.hosts: list too long (more than 10 bytes)");
	config_free(c);
}

static void
test_get_labels(void **state)
{
	char long_value[300], text[512];
	struct config *c;
	struct config_label lab[4];
	char store[256], err[512];
	size_t n = 99;

	(void)state;
	memset(long_value, 'v', 129);
	long_value[129] = '\0';
	snprintf(text, sizeof(text),
	         "[s]\nl = zone=hz, role = canary db ,empty=\nbadkey = my key=1\nnoeq = zone\n"
	         "dup = a=1,a=2\nlong = a=%s\nctl = a=x\ty\nkeyonly = =v\n",
	         long_value);
	c = load_ok(text);
	assert_int_equal(config_get_labels(c, "s", "l", NULL, lab, 4, &n, store, sizeof(store), err,
	                                   sizeof(err)),
	                 0);
	assert_int_equal(n, 3);
	assert_string_equal(lab[0].key, "zone");
	assert_string_equal(lab[0].value, "hz");
	assert_string_equal(lab[1].key, "role");
	assert_string_equal(lab[1].value, "canary db");
	assert_string_equal(lab[2].key, "empty");
	assert_string_equal(lab[2].value, "");
	assert_int_equal(config_get_labels(c, "s", "absent", "tier=1", lab, 4, &n, store,
	                                   sizeof(store), err, sizeof(err)),
	                 1);
	assert_int_equal(n, 1);
	assert_string_equal(lab[0].value, "1");

	assert_int_equal(config_get_labels(c, "s", "badkey", NULL, lab, 4, &n, store, sizeof(store),
	                                   err, sizeof(err)),
	                 -1);
	assert_string_equal(
	    err,
	    "t.ini:3: s.badkey: label 'my key=1': the key must be 1 to 64 of A-Z a-z 0-9 . _ -");
	assert_int_equal(config_get_labels(c, "s", "noeq", NULL, lab, 4, &n, store, sizeof(store),
	                                   err, sizeof(err)),
	                 -1);
	assert_string_equal(
	    err, "t.ini:4: s.noeq: expected key=value labels separated by commas, got 'zone'");
	assert_int_equal(config_get_labels(c, "s", "dup", NULL, lab, 4, &n, store, sizeof(store),
	                                   err, sizeof(err)),
	                 -1);
	assert_string_equal(err, "t.ini:5: s.dup: label 'a' given twice");
	assert_int_equal(config_get_labels(c, "s", "long", NULL, lab, 4, &n, store, sizeof(store),
	                                   err, sizeof(err)),
	                 -1);
	assert_string_equal(err,
	                    "t.ini:6: s.long: label 'a': the value must be at most 128 printable "
	                    "characters");
	assert_int_equal(config_get_labels(c, "s", "ctl", NULL, lab, 4, &n, store, sizeof(store),
	                                   err, sizeof(err)),
	                 -1);
	assert_int_equal(config_get_labels(c, "s", "keyonly", NULL, lab, 4, &n, store,
	                                   sizeof(store), err, sizeof(err)),
	                 -1);
	assert_int_equal(n, 0);
	config_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parses_sections_comments_and_lines),
	    cmocka_unit_test(test_syntax_errors),
	    cmocka_unit_test(test_structure_errors),
	    cmocka_unit_test(test_line_length_bound),
	    cmocka_unit_test(test_file_loading_and_size_bound),
	    cmocka_unit_test(test_too_many_keys),
	    cmocka_unit_test(test_check_known_and_require),
	    cmocka_unit_test(test_problems_and_report),
	    cmocka_unit_test(test_get_endpoint),
	    cmocka_unit_test(test_check_dir_and_exec),
	    cmocka_unit_test(test_get_uint),
	    cmocka_unit_test(test_get_bool),
	    cmocka_unit_test(test_parse_duration),
	    cmocka_unit_test(test_load_fields),
	    cmocka_unit_test(test_get_duration),
	    cmocka_unit_test(test_get_size),
	    cmocka_unit_test(test_get_path),
	    cmocka_unit_test(test_get_list),
	    cmocka_unit_test(test_get_labels),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
