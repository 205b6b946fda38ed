/* odc-agent's configuration: the shipped example loads, and each kind of
 * mistake is refused with file:line: section.key and the problem. Also the
 * password file and the backup-root containment rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/agent.h"

static char dir[64];

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/odc-conf-test-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
write_file(const char *name, const char *text, mode_t mode)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

/* A minimal valid config with one line replaced or added. */
static int
load_with(const char *extra, struct agent_conf *c, char *err, size_t errlen)
{
	char text[2048], path[256];

	snprintf(text, sizeof(text),
	         "[agent]\nhost_id = h1\nstate_dir = %s/state\n"
	         "[docker]\nrepository = oceanbase/odc-server\n"
	         "[metadb]\nhost = 127.0.0.1\nuser = odc\npassword_file = %s/pw\n"
	         "[loader]\nobloader = /opt/obloader\nobdumper = /opt/obdumper\n"
	         "[paths]\nbackup_roots = %s/backups\nsnapshot_root = %s/snap\n%s",
	         dir, dir, dir, dir, extra);
	write_file("t.conf", text, 0644);
	snprintf(path, sizeof(path), "%s/t.conf", dir);
	return agent_conf_load(path, c, err, errlen);
}

static void
test_example_loads(void **state)
{
	struct agent_conf c;
	char err[512];

	(void)state;
	assert_int_equal(agent_conf_load("deploy/agent.conf.example", &c, err, sizeof(err)), 0);
	assert_string_equal(c.host_id, "odc-hz-01");
	assert_string_equal(c.container, "obodc");
	assert_int_equal(c.n_labels, 2);
	assert_int_equal(c.deadline_ms[STEP_HEALTH], 300000);
	assert_int_equal(c.def_memory, 8ull << 30);
	assert_int_equal(c.n_def_binds, 2);
	assert_string_equal(c.def_binds[0], "/var/log/odc:/opt/odc/log");
	assert_int_equal(c.n_operators, 1);
	assert_true(c.has_coordinator);
	agent_conf_free(&c);
}

static void
test_defaults(void **state)
{
	struct agent_conf c;
	char err[512];

	(void)state;
	assert_int_equal(load_with("", &c, err, sizeof(err)), 0);
	assert_string_equal(c.container, "obodc");
	assert_string_equal(c.docker_socket, "/var/run/docker.sock");
	assert_string_equal(c.health_url, "http://127.0.0.1:8989");
	assert_string_equal(c.db_name, "odc_metadb");
	assert_int_equal(c.db_port, 2881);
	assert_int_equal(c.def_cpu_quota, 400000);
	assert_false(c.has_coordinator);
	assert_int_equal(c.retention_keep, 3);
	assert_int_equal(c.retention_max_age_ms, 0);
	agent_conf_free(&c);
}

static void
expect_error(const char *extra, const char *needle)
{
	struct agent_conf c;
	char err[512];

	assert_int_equal(load_with(extra, &c, err, sizeof(err)), -1);
	if (strstr(err, needle) == NULL)
		fail_msg("error '%s' does not contain '%s'", err, needle);
	assert_non_null(strstr(err, "t.conf"));
	agent_conf_free(&c);
}

/* Is there a problem containing needle? */
static bool
has_problem(const struct agent_conf *c, const char *needle)
{
	for (size_t i = 0; i < config_problem_count(c->cfg); i++)
		if (strstr(config_problem_text(c->cfg, i), needle) != NULL)
			return true;
	return false;
}

/* Every bad value of one file is recorded, not only the first. */
static void
test_every_problem(void **state)
{
	struct agent_conf c;
	char err[512];

	(void)state;
	assert_int_equal(load_with("[health]\nurl = ftp://x\ninterval = often\n[agent]\nbogus = 1\n"
	                           "[metadb]\nport = 0\n",
	                           &c, err, sizeof(err)),
	                 -1);
	assert_int_equal(config_problem_count(c.cfg), 4);
	assert_true(has_problem(&c, "t.conf:17: health.url: expected an http"));
	assert_true(has_problem(&c, "t.conf:18: health.interval: expected a duration"));
	assert_true(has_problem(&c, "t.conf:20: agent.bogus: unknown key"));
	assert_true(has_problem(&c, "t.conf:22: metadb.port: expected an integer"));
	agent_conf_free(&c);
}

/* agent_conf_check: what the values name, each problem at its key's line. */
static void
test_check_what_values_name(void **state)
{
	struct agent_conf c;
	char err[512], path[300];

	(void)state;
	assert_int_equal(load_with("[loader]\nthreads = 2\n", &c, err, sizeof(err)), 0);
	/* No password file yet, loaders that do not exist; the state dir, the
	 * snapshot root and the backup root can be made. */
	assert_int_equal(agent_conf_check(&c, 0, err, sizeof(err)), -1);
	assert_int_equal(config_problem_count(c.cfg), 3);
	assert_true(has_problem(&c, "t.conf:9: metadb.password_file: "));
	assert_true(has_problem(&c, "t.conf:11: loader.obloader: /opt/obloader: No such file"));
	assert_true(has_problem(&c, "t.conf:12: loader.obdumper: /opt/obdumper: No such file"));
	agent_conf_free(&c);

	/* Daemon mode's keys, when asked for: each missing one at its line, or
	 * its section's, or 0. */
	write_file("pw", "", 0600);
	assert_int_equal(load_with("[keys]\n", &c, err, sizeof(err)), 0);
	assert_int_equal(agent_conf_check(&c, AGENT_CHECK_DAEMON, err, sizeof(err)), -1);
	assert_true(has_problem(&c, "t.conf:9: metadb.password_file: "));
	assert_true(has_problem(&c, ": empty (the password goes on its first line"));
	assert_true(has_problem(&c, "t.conf:16: keys.secret_key: required key missing"));
	assert_true(has_problem(&c, "t.conf:0: trust.operators: required key missing"));
	assert_true(has_problem(&c, "t.conf:0: coordinator.endpoint: required key missing"));
	agent_conf_free(&c);

	/* A backup root that is a file; a state dir under a file. */
	snprintf(path, sizeof(path), "%s/backups", dir);
	write_file("backups", "", 0600);
	write_file("pw", "\n", 0600);
	assert_int_equal(load_with("", &c, err, sizeof(err)), 0);
	assert_int_equal(agent_conf_check(&c, 0, err, sizeof(err)), -1);
	assert_true(has_problem(&c, "t.conf:14: paths.backup_roots: "));
	assert_true(has_problem(&c, "/backups: not a directory"));
	assert_false(has_problem(&c, "password_file"));
	agent_conf_free(&c);
	unlink(path);
}

/* [retention]: keep counts the latest rollback (which stays anyway), so 0 is
 * refused rather than silently meaning 1; max_age is a duration. */
static void
test_retention(void **state)
{
	struct agent_conf c;
	char err[512];

	(void)state;
	assert_int_equal(load_with("[retention]\nkeep = 1\nmax_age = 30d\n", &c, err, sizeof(err)),
	                 0);
	assert_int_equal(c.retention_keep, 1);
	assert_int_equal(c.retention_max_age_ms, 30ull * 86400000);
	agent_conf_free(&c);
	expect_error("[retention]\nkeep = 0\n",
	             "t.conf:17: retention.keep: expected an integer from 1 to 1000");
	expect_error("[retention]\nkeep = lots\n", "t.conf:17: retention.keep:");
	expect_error("[retention]\nkeep = 2\nmax_age = soon\n", "t.conf:18: retention.max_age:");
	expect_error("[retention]\nkept = 2\n", "t.conf:17: retention.kept: unknown key");
}

static void
test_errors_name_file_line_key(void **state)
{
	(void)state;
	expect_error("[agent]\nbogus = 1\n", "t.conf:17: agent.bogus: unknown key");
	expect_error("[health]\nurl = ftp://x\n", "t.conf:17: health.url: expected an http");
	expect_error("[deadlines]\nhealth = soon\n", "t.conf:17: deadlines.health:");
	expect_error("[metadb]\nport = 70000\n", "metadb.port");
	expect_error("[metadb]\ndatabase = odc;drop\n", "metadb.database: only [A-Za-z0-9_$]");
	expect_error("[trust]\noperators = odc-ed25519-pub:zz\n", "trust.operators: item 1");
	expect_error("[docker]\ncontainer = ../x\n",
	             "docker.container: not a valid container name");
	expect_error("[metadb]\ncluster = c1\n",
	             "metadb.cluster: user, tenant and cluster make no");
}

static void
test_missing_and_bad_required(void **state)
{
	struct agent_conf c;
	char err[512], path[256];

	(void)state;
	write_file("m.conf", "[agent]\nhost_id = h1\n", 0644);
	snprintf(path, sizeof(path), "%s/m.conf", dir);
	assert_int_equal(agent_conf_load(path, &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "m.conf:0: docker.repository: required key missing"));
	agent_conf_free(&c);
	write_file("m.conf", "[agent]\nhost_id = -bad\n", 0644);
	assert_int_equal(agent_conf_load(path, &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "m.conf:2: agent.host_id: not a valid host id"));
	agent_conf_free(&c);
}

static void
test_backup_root_slash_refused(void **state)
{
	struct agent_conf c;
	char err[512], text[2048], path[256];

	(void)state;
	snprintf(text, sizeof(text),
	         "[agent]\nhost_id = h1\n[docker]\nrepository = r\n[metadb]\nhost = x\nuser = "
	         "u\npassword_file = /pw\n"
	         "[loader]\nobloader = /a\nobdumper = /b\n[paths]\nbackup_roots = /\nsnapshot_root "
	         "= /s\n");
	write_file("r.conf", text, 0644);
	snprintf(path, sizeof(path), "%s/r.conf", dir);
	assert_int_equal(agent_conf_load(path, &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "r.conf:13: paths.backup_roots"));
	agent_conf_free(&c);
}

static void
test_password_file(void **state)
{
	struct agent_conf c;
	char err[512];
	char *pw;

	(void)state;
	assert_int_equal(load_with("", &c, err, sizeof(err)), 0);
	write_file("pw", "s3cret\n", 0644);
	pw = agent_read_password(&c, err, sizeof(err));
	assert_null(pw);
	assert_non_null(strstr(err, "group/world accessible (mode 0644)"));
	assert_null(strstr(err, "s3cret"));
	write_file("pw", "s3cret\n", 0600);
	pw = agent_read_password(&c, err, sizeof(err));
	assert_non_null(pw);
	assert_string_equal(pw, "s3cret");
	agent_secret_free(pw);
	write_file("pw", "", 0600);
	pw = agent_read_password(&c, err, sizeof(err));
	assert_non_null(pw);
	assert_string_equal(pw, ""); /* DATABASE_PASSWORD may be empty */
	agent_secret_free(pw);
	agent_conf_free(&c);
}

static void
test_paths_in_roots(void **state)
{
	struct agent_conf c;
	char err[512], p[256], q[256];

	(void)state;
	assert_int_equal(load_with("", &c, err, sizeof(err)), 0);
	snprintf(p, sizeof(p), "%s/backups/pre-4.3.0", dir);
	assert_int_equal(mkdir(c.backup_roots[0], 0700), 0);
	assert_int_equal(mkdir(p, 0700), 0);
	assert_true(agent_path_in_roots(&c, p, err, sizeof(err)));
	/* The root itself is not a backup inside it. */
	assert_false(agent_path_in_roots(&c, c.backup_roots[0], err, sizeof(err)));
	/* A symlink inside the root that points outside it is outside. */
	snprintf(q, sizeof(q), "%s/backups/escape", dir);
	assert_int_equal(symlink("/etc", q), 0);
	assert_false(agent_path_in_roots(&c, q, err, sizeof(err)));
	assert_non_null(strstr(err, "outside the backup roots"));
	/* A sibling whose name starts like the root. */
	snprintf(q, sizeof(q), "%s/backups2", dir);
	assert_int_equal(mkdir(q, 0700), 0);
	assert_false(agent_path_in_roots(&c, q, err, sizeof(err)));
	agent_conf_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_example_loads),
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_errors_name_file_line_key),
	    cmocka_unit_test(test_retention),
	    cmocka_unit_test(test_every_problem),
	    cmocka_unit_test(test_check_what_values_name),
	    cmocka_unit_test(test_missing_and_bad_required),
	    cmocka_unit_test(test_backup_root_slash_refused),
	    cmocka_unit_test(test_password_file),
	    cmocka_unit_test(test_paths_in_roots),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
