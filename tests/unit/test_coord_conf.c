/* odc-coordinator's configuration: the shipped example loads, defaults are
 * the documented ones, and each kind of mistake is refused with file:line:
 * section.key and the problem. */
#include <arpa/inet.h>
#include <grp.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "coordinator/conf.h"

#define KEY_A                                                                                      \
	"odc-ed25519-pub:"                                                                         \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define KEY_B                                                                                      \
	"odc-ed25519-pub:"                                                                         \
	"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static char dir[64];

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/odc-coord-conf-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int
teardown(void **state)
{
	char path[128];

	(void)state;
	snprintf(path, sizeof(path), "%s/t.conf", dir);
	unlink(path);
	return rmdir(dir);
}

/* The base configuration, one key per line, in file order:
 *   1 [coordinator]  2 id  3 state_dir  4 [keys]  5 secret_key  6 [agents]
 *   7 bind  8 [control]  9 socket  10 [trust]  11 operators
 * Every required key is here; the rest take their defaults. */
static const struct {
	const char *section, *key, *value;
} base[] = {
    {"coordinator", "id", "coord-1"},
    {"coordinator", "state_dir", "/var/lib/odc-coordinator"},
    {"keys", "secret_key", "/etc/odc-fleet/coordinator.key"},
    {"agents", "bind", "tcp://0.0.0.0:7701"},
    {"control", "socket", "/run/odc-coordinator/control.sock"},
    {"trust", "operators", "alice=" KEY_A ", bob=" KEY_B},
};

/* Writes the base with section.key set to value: a base key is replaced on
 * its own line (value NULL leaves it out); any other key is added at the end
 * in a repeated [section], on line 13; then extra (NULL: nothing), from line
 * 12 when no key was added. Then loads it. */
static int
load_conf(const char *section, const char *key, const char *value, const char *extra,
          struct coord_conf *c, char *err, size_t errlen)
{
	char path[128];
	const char *last = "";
	int replaced = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/t.conf", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	for (size_t i = 0; i < sizeof(base) / sizeof(base[0]); i++) {
		const char *v = base[i].value;
		if (strcmp(base[i].section, last) != 0)
			fprintf(f, "[%s]\n", base[i].section);
		last = base[i].section;
		if (section != NULL && strcmp(base[i].section, section) == 0 &&
		    strcmp(base[i].key, key) == 0) {
			replaced = 1;
			v = value;
		}
		if (v != NULL)
			fprintf(f, "%s = %s\n", base[i].key, v);
	}
	if (section != NULL && !replaced)
		fprintf(f, "[%s]\n%s = %s\n", section, key, value);
	if (extra != NULL)
		fputs(extra, f);
	assert_int_equal(fclose(f), 0);
	return coord_conf_load(path, c, err, errlen);
}

static int
load_set(const char *section, const char *key, const char *value, struct coord_conf *c, char *err,
         size_t errlen)
{
	return load_conf(section, key, value, NULL, c, err, errlen);
}

/* The base and then extra, from line 12. */
static int
load_text(const char *extra, struct coord_conf *c, char *err, size_t errlen)
{
	return load_conf(NULL, NULL, NULL, extra, c, err, errlen);
}

static void
expect_error(const char *section, const char *key, const char *value, const char *needle)
{
	struct coord_conf c;
	char err[512];

	memset(&c, 0xa5, sizeof(c));
	assert_int_equal(load_set(section, key, value, &c, err, sizeof(err)), -1);
	if (strstr(err, needle) == NULL)
		fail_msg("%s.%s = %s: error '%s' does not contain '%s'", section ? section : "-",
		         key ? key : "-", value ? value : "(none)", err, needle);
	/* The configuration stays, with its problems, for the caller to report. */
	assert_non_null(c.cfg);
	assert_true(config_problem_count(c.cfg) >= 1);
	coord_conf_free(&c);
}

static void
expect_ok(const char *section, const char *key, const char *value, struct coord_conf *c)
{
	char err[512];

	if (load_set(section, key, value, c, err, sizeof(err)) != 0)
		fail_msg("%s.%s = %s: unexpected error '%s'", section ? section : "-",
		         key ? key : "-", value ? value : "(none)", err);
}

static void
test_example_loads(void **state)
{
	struct coord_conf c;
	char err[512];

	(void)state;
	if (coord_conf_load("deploy/coordinator.conf.example", &c, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_string_equal(c.id, "coord-1");
	assert_string_equal(c.state_dir, "/var/lib/odc-coordinator");
	assert_string_equal(c.log_level, "info");
	assert_string_equal(c.secret_key, "/etc/odc-fleet/coordinator.key");
	assert_string_equal(c.agents_bind, "tcp://0.0.0.0:7701");
	assert_int_equal(c.heartbeat_ms, 5000);
	assert_int_equal(c.lost_after, 3);
	assert_int_equal(c.ack_timeout_ms, 10000);
	assert_string_equal(c.control_socket, "/run/odc-coordinator/control.sock");
	assert_string_equal(c.control_group, "");
	assert_string_equal(c.control_tcp, "");
	assert_int_equal(c.n_operators, 2);
	assert_string_equal(c.operators[0].name, "alice");
	assert_string_equal(c.operators[1].name, "bob");
	assert_int_equal(c.operators[1].pk[31], 2);
	assert_int_equal(c.skew_ms, 30000);
	assert_string_equal(c.path, "deploy/coordinator.conf.example");
	assert_string_equal(c.metrics_listen, ""); /* shown commented out: off */
	coord_conf_free(&c);
}

static void
test_defaults_and_operator_lookup(void **state)
{
	struct coord_conf c;
	uint8_t pk[PROTO_PK_LEN];
	const struct coord_operator *op;

	(void)state;
	expect_ok(NULL, NULL, NULL, &c);
	assert_string_equal(c.log_level, "info");
	assert_int_equal(c.heartbeat_ms, 5000);
	assert_int_equal(c.lost_after, 3);
	assert_int_equal(c.ack_timeout_ms, 10000);
	assert_int_equal(c.skew_ms, 30000);
	assert_string_equal(c.control_group, "");
	assert_string_equal(c.control_tcp, "");

	memset(pk, 0xbb, sizeof(pk));
	op = coord_conf_operator(&c, pk);
	assert_non_null(op);
	assert_string_equal(op->name, "bob");
	memset(pk, 0xaa, sizeof(pk));
	op = coord_conf_operator(&c, pk);
	assert_non_null(op);
	assert_string_equal(op->name, "alice");
	pk[31] = 0xab;
	assert_null(coord_conf_operator(&c, pk));
	coord_conf_free(&c);
	coord_conf_free(&c); /* zeroed: safe again */
	coord_conf_free(NULL);
}

static void
test_values_in_range(void **state)
{
	struct coord_conf c;

	(void)state;
	expect_ok("agents", "heartbeat", "1s", &c);
	assert_int_equal(c.heartbeat_ms, 1000);
	coord_conf_free(&c);
	expect_ok("agents", "heartbeat", "10m", &c);
	assert_int_equal(c.heartbeat_ms, 600000);
	coord_conf_free(&c);
	expect_ok("agents", "ack_timeout", "1500ms", &c);
	assert_int_equal(c.ack_timeout_ms, 1500);
	coord_conf_free(&c);
	expect_ok("agents", "lost_after", "100", &c);
	assert_int_equal(c.lost_after, 100);
	coord_conf_free(&c);
	expect_ok("trust", "skew", "0", &c);
	assert_int_equal(c.skew_ms, 0);
	coord_conf_free(&c);
	expect_ok("coordinator", "log_level", "debug", &c);
	assert_string_equal(c.log_level, "debug");
	coord_conf_free(&c);
	expect_ok("control", "tcp", "tcp://0.0.0.0:7702", &c);
	assert_string_equal(c.control_tcp, "tcp://0.0.0.0:7702");
	coord_conf_free(&c);
	expect_ok("agents", "bind", "tcp://[::1]:7701", &c);
	coord_conf_free(&c);
	expect_ok("agents", "bind", "tcp://127.0.0.1:*", &c);
	coord_conf_free(&c);
	expect_ok("trust", "operators", "carol=" KEY_A, &c);
	assert_int_equal(c.n_operators, 1);
	assert_string_equal(c.operators[0].name, "carol");
	coord_conf_free(&c);
}

static void
test_missing_required(void **state)
{
	(void)state;
	/* An absent key is shown at its [section]'s line. */
	expect_error("coordinator", "id", NULL, "t.conf:1: coordinator.id: required key missing");
	expect_error("keys", "secret_key", NULL, "t.conf:4: keys.secret_key: required key missing");
	expect_error("agents", "bind", NULL, "t.conf:6: agents.bind: required key missing");
	expect_error("trust", "operators", NULL,
	             "t.conf:10: trust.operators: required key missing");
	expect_error("trust", "operators", "", "t.conf:11: trust.operators: at least one operator");
}

/* One load reports every problem, each at its own line, not only the first. */
static void
test_every_problem(void **state)
{
	static const char *const want[] = {
	    "t.conf:13: agents.heartbeat: expected a duration",
	    "t.conf:14: agents.bogus: unknown key",
	    "t.conf:16: coordinator.log_level: expected debug, info, warn or error",
	    "t.conf:18: trust.skew: expected a duration",
	};
	struct coord_conf c;
	char err[512];
	size_t n;

	(void)state;
	assert_int_equal(load_text("[agents]\nheartbeat = soon\nbogus = 1\n[coordinator]\n"
	                           "log_level = loud\n[trust]\nskew = -5s\n",
	                           &c, err, sizeof(err)),
	                 -1);
	n = config_problem_count(c.cfg);
	assert_int_equal(n, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < n; i++) {
		bool found = false;
		for (size_t j = 0; j < n && !found; j++)
			found = strstr(config_problem_text(c.cfg, j), want[i]) != NULL;
		if (!found)
			fail_msg("no problem '%s'", want[i]);
	}
	coord_conf_free(&c);
}

static void
test_unknown_key(void **state)
{
	(void)state;
	expect_error("agents", "bogus", "1", "t.conf:13: agents.bogus: unknown key");
	expect_error("nosuch", "id", "x", "t.conf:13: nosuch.id: unknown key");
}

static void
test_bad_values(void **state)
{
	char longpath[160];

	(void)state;
	expect_error("coordinator", "id", "-coord", "t.conf:2: coordinator.id: not a valid id");
	expect_error("coordinator", "id", "coord/1", "t.conf:2: coordinator.id: not a valid id");
	expect_error("coordinator", "log_level", "verbose",
	             "t.conf:13: coordinator.log_level: expected debug, info, warn or error");
	expect_error("coordinator", "state_dir", "var/lib/odc", "t.conf:3: coordinator.state_dir:");
	expect_error("keys", "secret_key", "/etc/../key", "t.conf:5: keys.secret_key:");

	snprintf(longpath, sizeof(longpath), "/run/%0120d/control.sock", 0);
	expect_error("control", "socket", longpath, "t.conf:9: control.socket: longer than");
	expect_error("control", "socket", "run/control.sock", "t.conf:9: control.socket:");
}

static void
test_bad_durations_and_ranges(void **state)
{
	(void)state;
	expect_error("agents", "heartbeat", "500ms", "t.conf:13: agents.heartbeat:");
	expect_error("agents", "heartbeat", "11m", "t.conf:13: agents.heartbeat:");
	expect_error("agents", "heartbeat", "soon", "t.conf:13: agents.heartbeat:");
	expect_error("agents", "ack_timeout", "0s", "t.conf:13: agents.ack_timeout:");
	expect_error("agents", "ack_timeout", "601s", "t.conf:13: agents.ack_timeout:");
	expect_error("agents", "lost_after", "0", "t.conf:13: agents.lost_after:");
	expect_error("agents", "lost_after", "101", "t.conf:13: agents.lost_after:");
	expect_error("agents", "lost_after", "3x", "t.conf:13: agents.lost_after:");
	expect_error("agents", "lost_after", "-1", "t.conf:13: agents.lost_after:");
	expect_error("trust", "skew", "11m", "t.conf:13: trust.skew:");
	expect_error("trust", "skew", "-5s", "t.conf:13: trust.skew:");
}

static void
test_endpoints(void **state)
{
	(void)state;
	expect_error("agents", "bind", "ipc:///run/x.sock",
	             "t.conf:7: agents.bind: expected tcp://");
	expect_error("agents", "bind", "tcp://0.0.0.0", "t.conf:7: agents.bind: expected tcp://");
	expect_error("agents", "bind", "tcp://:7701", "t.conf:7: agents.bind: expected tcp://");
	expect_error("agents", "bind", "tcp://h:0", "t.conf:7: agents.bind: expected tcp://");
	expect_error("agents", "bind", "tcp://h:65536", "t.conf:7: agents.bind: expected tcp://");
	expect_error("agents", "bind", "tcp://h:77x", "t.conf:7: agents.bind: expected tcp://");
	expect_error("agents", "bind", "0.0.0.0:7701", "t.conf:7: agents.bind: expected tcp://");
	expect_error("control", "tcp", "ipc:///run/x.sock",
	             "t.conf:13: control.tcp: expected tcp://");
	expect_error("control", "tcp", "tcp://0.0.0.0:7701",
	             "t.conf:13: control.tcp: the same endpoint as agents.bind");
}

static void
test_metrics_listen(void **state)
{
	struct coord_conf c;
	const struct sockaddr_in *v4 = (const struct sockaddr_in *)&c.metrics_addr;
	const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)&c.metrics_addr;

	(void)state;
	expect_ok(NULL, NULL, NULL, &c); /* off by default */
	assert_string_equal(c.metrics_listen, "");
	assert_int_equal(c.metrics_addr_len, 0);
	coord_conf_free(&c);
	expect_ok("metrics", "listen", "", &c);
	assert_int_equal(c.metrics_addr_len, 0);
	coord_conf_free(&c);
	expect_ok("metrics", "listen", "127.0.0.1:9477", &c);
	assert_int_equal(v4->sin_family, AF_INET);
	assert_int_equal(ntohs(v4->sin_port), 9477);
	assert_int_equal(ntohl(v4->sin_addr.s_addr), 0x7f000001);
	assert_int_equal(c.metrics_addr_len, sizeof(struct sockaddr_in));
	coord_conf_free(&c);
	expect_ok("metrics", "listen", "[::1]:65535", &c);
	assert_int_equal(v6->sin6_family, AF_INET6);
	assert_int_equal(ntohs(v6->sin6_port), 65535);
	assert_true(IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr));
	coord_conf_free(&c);
	expect_ok("metrics", "listen", "0.0.0.0:1", &c);
	coord_conf_free(&c);

	expect_error(
	    "metrics", "listen", "localhost:9477",
	    "t.conf:13: metrics.listen: not an IPv4 address A.B.C.D (host names are not resolved)");
	expect_error("metrics", "listen", "1.2.3:9477",
	             "t.conf:13: metrics.listen: not an IPv4 address");
	expect_error("metrics", "listen", "127.0.0.1", "t.conf:13: metrics.listen: no port");
	expect_error("metrics", "listen", ":9477", "t.conf:13: metrics.listen: not an IP address");
	expect_error("metrics", "listen", "127.0.0.1:0",
	             "t.conf:13: metrics.listen: the port is not");
	expect_error("metrics", "listen", "127.0.0.1:65536",
	             "t.conf:13: metrics.listen: the port is not");
	expect_error("metrics", "listen", "127.0.0.1:http",
	             "t.conf:13: metrics.listen: the port is not");
	expect_error("metrics", "listen", "127.0.0.1:009477",
	             "t.conf:13: metrics.listen: the port is not");
	expect_error("metrics", "listen", "::1:9477",
	             "t.conf:13: metrics.listen: an IPv6 address needs brackets");
	expect_error("metrics", "listen", "[::1]",
	             "t.conf:13: metrics.listen: an IPv6 address needs brackets");
	expect_error("metrics", "listen", "[::g]:9477",
	             "t.conf:13: metrics.listen: not an IPv6 address");
	expect_error("metrics", "listen", "tcp://127.0.0.1:9477", "t.conf:13: metrics.listen:");
	expect_error("metrics", "port", "9477", "t.conf:13: metrics.port: unknown key");
}

static void
test_operators(void **state)
{
	(void)state;
	expect_error("trust", "operators", "alice=odc-ed25519-pub:zz",
	             "t.conf:11: trust.operators: operator alice: not an odc public key");
	expect_error("trust", "operators", "alice=" KEY_A ", bob=" KEY_B "0",
	             "t.conf:11: trust.operators: operator bob: not an odc public key");
	expect_error("trust", "operators", "alice=" KEY_A ", bob=" KEY_A,
	             "t.conf:11: trust.operators: operators alice and bob have the same key");
	/* The same key with and without its prefix is still the same key. */
	expect_error("trust", "operators",
	             "alice=" KEY_B ", carol=" KEY_A ", bob="
	             "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
	             "operators alice and bob have the same key");
	expect_error("trust", "operators", "alice=" KEY_A ", alice=" KEY_B,
	             "t.conf:11: trust.operators: label 'alice' given twice");
	expect_error("trust", "operators", "al/ice=" KEY_A, "t.conf:11: trust.operators:");
	expect_error("trust", "operators", KEY_A, "t.conf:11: trust.operators:");
	expect_error("trust", "operators", "alice=", "t.conf:11: trust.operators: operator alice:");
	expect_error("trust", "operators", "alice=" KEY_A ",,", "t.conf:11: trust.operators:");
}

static void
test_group(void **state)
{
	struct coord_conf c;
	struct group *gr = getgrgid(getgid());

	(void)state;
	expect_error("control", "group", "odc-no-such-group-7f3a",
	             "t.conf:13: control.group: no group named 'odc-no-such-group-7f3a'");
	if (gr == NULL)
		skip();
	expect_ok("control", "group", gr->gr_name, &c);
	assert_string_equal(c.control_group, gr->gr_name);
	coord_conf_free(&c);
}

/* ---- [webhook.NAME] ---- */

static void
expect_text_error(const char *extra, const char *needle)
{
	struct coord_conf c;
	char err[512];

	if (load_text(extra, &c, err, sizeof(err)) == 0) {
		coord_conf_free(&c);
		fail_msg("accepted: %s", extra);
	}
	if (strstr(err, needle) == NULL)
		fail_msg("%s: error '%s' does not contain '%s'", extra, err, needle);
	assert_non_null(c.cfg);
	coord_conf_free(&c);
}

static void
test_conf_webhooks(void **state)
{
	struct coord_conf c;
	char err[512];

	(void)state;
	if (load_text("", &c, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(c.n_webhooks, 0);
	coord_conf_free(&c);

	if (load_text(
	        "[webhook.ops]\nurl = https://hooks.example.com/x?a=1\n"
	        "[webhook.ding-1]\nurl = https://oapi.dingtalk.com/robot/send?access_token=abc\n"
	        "format = dingtalk\nevents = halt, finish\ntimeout = 1500ms\nattempts = 3\n"
	        "backoff = 200ms\nbackoff_max = 2s\nsecret = SECabc\n"
	        "[webhook.team]\nurl = http://127.0.0.1:8080/\nformat = slack\nevents = start\n"
	        "backoff = 90s\n",
	        &c, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(c.n_webhooks, 3);
	/* Defaults. */
	assert_string_equal(c.webhooks[0].name, "ops");
	assert_string_equal(c.webhooks[0].url, "https://hooks.example.com/x?a=1");
	assert_int_equal(c.webhooks[0].format, COORD_WEBHOOK_JSON);
	assert_int_equal(c.webhooks[0].events, 7);
	assert_int_equal(c.webhooks[0].timeout_ms, 5000);
	assert_int_equal(c.webhooks[0].attempts, 5);
	assert_int_equal(c.webhooks[0].backoff_ms, 1000);
	assert_int_equal(c.webhooks[0].backoff_max_ms, 60000);
	assert_string_equal(c.webhooks[0].secret, "");
	/* Every key set. */
	assert_string_equal(c.webhooks[1].name, "ding-1");
	assert_int_equal(c.webhooks[1].format, COORD_WEBHOOK_DINGTALK);
	assert_int_equal(c.webhooks[1].events,
	                 COORD_EVENT_BIT(COORD_EVENT_HALT) | COORD_EVENT_BIT(COORD_EVENT_FINISH));
	assert_int_equal(c.webhooks[1].timeout_ms, 1500);
	assert_int_equal(c.webhooks[1].attempts, 3);
	assert_int_equal(c.webhooks[1].backoff_ms, 200);
	assert_int_equal(c.webhooks[1].backoff_max_ms, 2000);
	assert_string_equal(c.webhooks[1].secret, "SECabc");
	/* backoff_max's default is at least backoff. */
	assert_int_equal(c.webhooks[2].format, COORD_WEBHOOK_SLACK);
	assert_int_equal(c.webhooks[2].events, COORD_EVENT_BIT(COORD_EVENT_START));
	assert_int_equal(c.webhooks[2].backoff_max_ms, 90000);
	coord_conf_free(&c);

	expect_text_error("[webhook]\nurl = http://x/\n",
	                  "t.conf:13: webhook.url: a webhook needs a name");
	expect_text_error("[webhook.]\nurl = http://x/\n",
	                  "t.conf:13: webhook..url: a webhook needs a name");
	expect_text_error("[webhook.a]\nurl = http://x/\nbogus = 1\n",
	                  "t.conf:14: webhook.a.bogus: unknown key");
	expect_text_error("[webhook.a]\nformat = json\n",
	                  "t.conf:12: webhook.a.url: required key missing");
	expect_text_error("[webhook.a]\nurl = ftp://x/\n",
	                  "t.conf:13: webhook.a.url: expected an http:// or https://");
	expect_text_error("[webhook.a]\nurl = http://\n",
	                  "t.conf:13: webhook.a.url: not a valid URL");
	expect_text_error("[webhook.a]\nurl = http://x/a b\n", "t.conf:13: webhook.a.url: blanks");
	expect_text_error("[webhook.a]\nurl = http://x/\nformat = teams\n",
	                  "t.conf:14: webhook.a.format: expected json, dingtalk or slack");
	expect_text_error("[webhook.a]\nurl = http://x/\nevents = start, pause\n",
	                  "t.conf:14: webhook.a.events: unknown event 'pause'");
	expect_text_error("[webhook.a]\nurl = http://x/\nevents =\n",
	                  "t.conf:14: webhook.a.events: at least one");
	expect_text_error("[webhook.a]\nurl = http://x/\nattempts = 0\n",
	                  "t.conf:14: webhook.a.attempts:");
	expect_text_error("[webhook.a]\nurl = http://x/\ntimeout = 10m\n",
	                  "t.conf:14: webhook.a.timeout:");
	expect_text_error("[webhook.a]\nurl = http://x/\nbackoff = 2s\nbackoff_max = 1s\n",
	                  "t.conf:15: webhook.a.backoff_max:");
	expect_text_error("[webhook.a]\nurl = http://x/\nsecret = SECx\n",
	                  "t.conf:14: webhook.a.secret: only DingTalk signs");
	{
		char many[2048] = "";
		for (int i = 0; i <= COORD_MAX_WEBHOOKS; i++)
			snprintf(many + strlen(many), sizeof(many) - strlen(many),
			         "[webhook.w%d]\nurl = http://x/\n", i);
		expect_text_error(many, "t.conf:45: webhook.w16.url: more than 16 webhooks");
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_example_loads),
	    cmocka_unit_test(test_defaults_and_operator_lookup),
	    cmocka_unit_test(test_values_in_range),
	    cmocka_unit_test(test_missing_required),
	    cmocka_unit_test(test_unknown_key),
	    cmocka_unit_test(test_bad_values),
	    cmocka_unit_test(test_bad_durations_and_ranges),
	    cmocka_unit_test(test_endpoints),
	    cmocka_unit_test(test_every_problem),
	    cmocka_unit_test(test_metrics_listen),
	    cmocka_unit_test(test_conf_webhooks),
	    cmocka_unit_test(test_operators),
	    cmocka_unit_test(test_group),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
