/* Unit tests for agent/metadb against a real MariaDB server (the stand-in for
 * the OceanBase metadb), started once for the group with
 * tests/world/mariadb.sh in a mkdtemp directory on a free port. Root sets up
 * databases and the user "odc@t1#c1" over the unix socket; the module under
 * test always connects over TCP as that user. If the server cannot start,
 * every test fails with the reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <mysql.h>

#include "agent/metadb.h"
#include "agent/restore.h"
#include "common/spawn.h"

#define USER     "odc"
#define TENANT   "t1"
#define CLUSTER  "c1"
#define LOGIN    "odc@t1#c1"
#define PASSWORD "S3cret-pw!odc"

struct world {
	char dir[64];
	char sock[128];
	char script[PATH_MAX];
	unsigned port;
	bool started;
	MYSQL *root;
	char why[2048]; /* why the server is not there, when it is not */
};

static struct world W;

/* A TCP port nobody listens on right now: bind to port 0 and let it go. */
static unsigned
free_port(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	unsigned port = 0;
	int fd;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return 0;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/* tests/world/mariadb.sh, found from the test binary (BUILD/tests/test_x)
 * or from the current directory (the top of the tree). */
static int
find_script(char *out, size_t outlen)
{
	char exe[PATH_MAX], *slash;
	ssize_t n;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash != NULL) {
			*slash = '\0';
			snprintf(out, outlen, "%s/../../tests/world/mariadb.sh", exe);
			if (access(out, R_OK) == 0)
				return 0;
		}
	}
	snprintf(out, outlen, "tests/world/mariadb.sh");
	return access(out, R_OK);
}

/* Runs mariadb.sh with the given action; 0 on exit status 0, else -1 with
 * its stderr in W.why. */
static int
run_script(const char *action, const char *port)
{
	const char *argv[] = {"/bin/sh", W.script, action, W.dir, port, NULL};
	const char *envp[] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	                      "LC_ALL=C", NULL};
	struct spawn_opts o;
	struct spawn_result r;
	char err[256], desc[128];
	int rc = -1;

	memset(&o, 0, sizeof(o));
	o.argv = argv;
	o.envp = envp;
	o.deadline_ms = 90000;
	o.stdout_tail = 2048;
	o.stderr_tail = 2048;
	if (spawn_run(&o, &r, err, sizeof(err)) != 0) {
		snprintf(W.why, sizeof(W.why), "mariadb.sh %s: %s", action, err);
		goto out;
	}
	if (!r.exited || r.exit_code != 0) {
		spawn_describe(&r, desc, sizeof(desc));
		snprintf(W.why, sizeof(W.why), "mariadb.sh %s %s %s: %s: %s", action, W.dir, port,
		         desc, r.err_tail != NULL ? r.err_tail : "");
		goto out;
	}
	rc = 0;
out:
	spawn_result_free(&r);
	return rc;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Runs one statement as root; 0 or -1 with the message in err. */
static int root_sql(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
root_sql(char *err, size_t errlen, const char *fmt, ...)
{
	char q[2048];
	va_list ap;
	MYSQL_RES *res;

	va_start(ap, fmt);
	vsnprintf(q, sizeof(q), fmt, ap);
	va_end(ap);
	if (mysql_real_query(W.root, q, strlen(q)) != 0) {
		snprintf(err, errlen, "root: %s: %s", q, mysql_error(W.root));
		return -1;
	}
	res = mysql_store_result(W.root);
	mysql_free_result(res);
	return 0;
}

/* Like root_sql, failing the test on error. */
#define SQL(...)                                                                                   \
	do {                                                                                       \
		char sql_err_[2300];                                                               \
		if (root_sql(sql_err_, sizeof(sql_err_), __VA_ARGS__) != 0)                        \
			fail_msg("%s", sql_err_);                                                  \
	} while (0)

static int
group_setup(void **state)
{
	char port[16];

	(void)state;
	memset(&W, 0, sizeof(W));
	snprintf(W.dir, sizeof(W.dir), "/tmp/odc-metadb-test-XXXXXX");
	if (mkdtemp(W.dir) == NULL) {
		snprintf(W.why, sizeof(W.why), "mkdtemp failed");
		W.dir[0] = '\0';
		return 0;
	}
	snprintf(W.sock, sizeof(W.sock), "%s/mysqld.sock", W.dir);
	if (find_script(W.script, sizeof(W.script)) != 0) {
		snprintf(W.why, sizeof(W.why), "tests/world/mariadb.sh not found");
		return 0;
	}
	W.port = free_port();
	if (W.port == 0) {
		snprintf(W.why, sizeof(W.why), "no free TCP port");
		return 0;
	}
	snprintf(port, sizeof(port), "%u", W.port);
	if (run_script("start", port) != 0)
		return 0;
	W.started = true;
	W.root = mysql_init(NULL);
	if (W.root == NULL ||
	    mysql_real_connect(W.root, "localhost", "root", NULL, NULL, 0, W.sock, 0) == NULL) {
		snprintf(W.why, sizeof(W.why), "root over %s: %s", W.sock,
		         W.root != NULL ? mysql_error(W.root) : "out of memory");
		return 0;
	}
	/* OceanBase's login convention: the user is literally "user@tenant#cluster". */
	if (root_sql(W.why, sizeof(W.why),
	             "CREATE USER '" LOGIN "'@'%%' IDENTIFIED BY '" PASSWORD "'") != 0)
		return 0;
	W.why[0] = '\0';
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	if (W.root != NULL)
		mysql_close(W.root);
	W.root = NULL;
	if (W.started)
		(void)run_script("stop", "0");
	if (W.dir[0] != '\0')
		nftw(W.dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	mysql_library_end();
	return 0;
}

/* Every test that needs the server starts here. */
static void
need_server(void)
{
	if (W.why[0] != '\0')
		fail_msg("MariaDB test server unavailable: %s", W.why);
}

/* A new empty database the test user owns. */
static void
fresh_db(const char *db)
{
	SQL("DROP DATABASE IF EXISTS `%s`", db);
	SQL("CREATE DATABASE `%s` CHARACTER SET utf8mb4", db);
	SQL("GRANT ALL PRIVILEGES ON `%s`.* TO '" LOGIN "'@'%%'", db);
}

static struct metadb *
connect_as(const char *db, const char *password, unsigned port, char *err, size_t errlen)
{
	char login[128];
	struct metadb_conf c;

	assert_int_equal(metadb_login_name(USER, TENANT, CLUSTER, login, sizeof(login)), 0);
	memset(&c, 0, sizeof(c));
	c.host = "127.0.0.1";
	c.port = port;
	c.user = login;
	c.password = password;
	c.database = db;
	c.timeout_s = 30; /* generous: the machine may be loaded (test_silent_server_times_out tests
	                     the bound) */
	err[0] = '\0';
	return metadb_connect(&c, err, errlen);
}

static struct metadb *
connect_ok(const char *db)
{
	char err[1024];
	struct metadb *m;

	m = connect_as(db, PASSWORD, W.port, err, sizeof(err));
	if (m == NULL)
		fail_msg("metadb_connect: %s", err);
	return m;
}

static uint64_t
global_status(const char *name)
{
	char q[128];
	MYSQL_RES *res;
	MYSQL_ROW row;
	uint64_t v = 0;

	snprintf(q, sizeof(q), "SHOW GLOBAL STATUS LIKE '%s'", name);
	if (mysql_real_query(W.root, q, strlen(q)) != 0)
		fail_msg("%s: %s", q, mysql_error(W.root));
	res = mysql_store_result(W.root);
	assert_non_null(res);
	row = mysql_fetch_row(res);
	assert_non_null(row);
	v = strtoull(row[1], NULL, 10);
	mysql_free_result(res);
	return v;
}

static void
test_login_name(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(metadb_login_name("odc", "t1", "c1", out, sizeof(out)), 0);
	assert_string_equal(out, "odc@t1#c1");
	assert_int_equal(metadb_login_name("odc", "", "", out, sizeof(out)), 0);
	assert_string_equal(out, "odc");
	assert_int_equal(metadb_login_name("odc", NULL, NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "odc");
	assert_int_equal(metadb_login_name("odc", "t1", "", out, sizeof(out)), 0);
	assert_string_equal(out, "odc@t1");
	/* Refused: a cluster without a tenant, separators inside parts, no user,
	 * and a name that does not fit. */
	assert_int_equal(metadb_login_name("odc", "", "c1", out, sizeof(out)), -1);
	assert_string_equal(out, "");
	assert_int_equal(metadb_login_name("o@dc", "t1", "c1", out, sizeof(out)), -1);
	assert_int_equal(metadb_login_name("odc", "t#1", "c1", out, sizeof(out)), -1);
	assert_int_equal(metadb_login_name("", "t1", "c1", out, sizeof(out)), -1);
	assert_int_equal(metadb_login_name("odc", "t1", "c1", out, 9), -1);
	assert_string_equal(out, "");
	assert_int_equal(metadb_login_name("odc", "t1", "c1", out, 10), 0);
}

static void
test_connect_ok(void **state)
{
	struct metadb *m;

	(void)state;
	need_server();
	fresh_db("odc_connect");
	m = connect_ok("odc_connect");
	metadb_close(m);
	metadb_close(NULL);
}

static void
test_wrong_password(void **state)
{
	char err[1024], where[64];
	struct metadb *m;

	(void)state;
	need_server();
	fresh_db("odc_wrongpw");
	m = connect_as("odc_wrongpw", "Wr0ng-secret", W.port, err, sizeof(err));
	assert_null(m);
	snprintf(where, sizeof(where), "127.0.0.1:%u", W.port);
	if (strstr(err, "Access denied") == NULL || strstr(err, where) == NULL ||
	    strstr(err, LOGIN) == NULL)
		fail_msg("error lacks Access denied, %s or the user: %s", where, err);
	assert_null(strstr(err, "Wr0ng-secret"));
	assert_null(strstr(err, PASSWORD));
}

static void
test_unreachable(void **state)
{
	char err[1024], where[64];
	struct metadb *m;
	unsigned port;

	(void)state;
	port = free_port();
	assert_int_not_equal(port, 0);
	m = connect_as("odc_metadb", PASSWORD, port, err, sizeof(err));
	assert_null(m);
	snprintf(where, sizeof(where), "127.0.0.1:%u", port);
	if (strstr(err, where) == NULL || strstr(err, LOGIN) == NULL)
		fail_msg("error lacks %s or the user: %s", where, err);
	assert_null(strstr(err, PASSWORD));
}

/* A peer that accepts TCP but never speaks: the connect timeout bounds the
 * wait. */
static void
test_silent_server_times_out(void **state)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	struct metadb_conf c;
	struct timespec t0, t1;
	char err[1024];
	struct metadb *m;
	double secs;
	int fd;

	(void)state;
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	memset(&c, 0, sizeof(c));
	c.host = "127.0.0.1";
	c.port = ntohs(a.sin_port);
	c.user = LOGIN;
	c.password = PASSWORD;
	c.database = "odc_metadb";
	c.timeout_s = 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	m = metadb_connect(&c, err, sizeof(err));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	close(fd);
	assert_null(m);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	if (secs > 5.0)
		fail_msg("connect took %.1f s with a 1 s timeout: %s", secs, err);
	assert_non_null(strstr(err, "127.0.0.1:"));
}

static void
test_history_version(void **state)
{
	char out[65], err[1024];
	struct metadb *m;

	(void)state;
	need_server();
	fresh_db("odc_history");
	m = connect_ok("odc_history");

	/* No table: 1 with "". */
	snprintf(out, sizeof(out), "junk");
	assert_int_equal(metadb_history_version(m, out, sizeof(out), err, sizeof(err)), 1);
	assert_string_equal(out, "");

	SQL("CREATE TABLE odc_history.migrate_schema_history ("
	    " `install_rank` BIGINT NOT NULL AUTO_INCREMENT,"
	    " `version` VARCHAR(64) DEFAULT NULL,"
	    " `description` VARCHAR(64) DEFAULT NULL,"
	    " `type` VARCHAR(64) DEFAULT NULL,"
	    " `script` VARCHAR(128) DEFAULT NULL,"
	    " `checksum` VARCHAR(64) DEFAULT NULL,"
	    " `installed_by` VARCHAR(64) NULL DEFAULT NULL,"
	    " `installed_on` DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,"
	    " `execution_millis` BIGINT NOT NULL DEFAULT 0,"
	    " `success` BOOLEAN NOT NULL DEFAULT 0,"
	    " PRIMARY KEY (`install_rank`))");
	/* Empty table: 1 with "". */
	assert_int_equal(metadb_history_version(m, out, sizeof(out), err, sizeof(err)), 1);
	assert_string_equal(out, "");

	/* SQL's MAX(version) would say 4.3.0.1 (failed) or 4.2.0.9 (as text). */
	SQL("INSERT INTO odc_history.migrate_schema_history (version, description, success) VALUES"
	    " ('4.2.0.1', 'a', 1), ('4.2.0.10', 'b', 1), ('4.2.0.9', 'c', 1),"
	    " ('4.3.0.1', 'failed', 0), (NULL, 'repeatable', 1)");
	if (metadb_history_version(m, out, sizeof(out), err, sizeof(err)) != 0)
		fail_msg("metadb_history_version: %s", err);
	assert_string_equal(out, "4.2.0.10");

	/* The answer must fit. */
	assert_int_equal(metadb_history_version(m, out, 8, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "4.2.0.10"));
	metadb_close(m);
}

static void
test_tables_sorted_base_only(void **state)
{
	char **names = NULL, err[1024];
	size_t n = 99;
	struct metadb *m;

	(void)state;
	need_server();
	fresh_db("odc_tables");
	m = connect_ok("odc_tables");
	assert_int_equal(metadb_tables(m, &names, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
	metadb_names_free(names, n);

	SQL("CREATE TABLE odc_tables.zeta (id INT)");
	SQL("CREATE TABLE odc_tables.Alpha (id INT)");
	SQL("CREATE TABLE odc_tables.`mid$dle` (id INT)");
	SQL("CREATE TABLE odc_tables.beta_2 (id INT)");
	SQL("CREATE VIEW odc_tables.a_view AS SELECT id FROM odc_tables.zeta");
	fresh_db("odc_tables_other");
	SQL("CREATE TABLE odc_tables_other.elsewhere (id INT)");
	assert_int_equal(metadb_tables(m, &names, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 4);
	assert_string_equal(names[0], "Alpha");
	assert_string_equal(names[1], "beta_2");
	assert_string_equal(names[2], "mid$dle");
	assert_string_equal(names[3], "zeta");
	metadb_names_free(names, n);
	metadb_names_free(NULL, 0);
	metadb_close(m);
}

static void
test_count_and_drop(void **state)
{
	char **names = NULL, err[1024];
	uint64_t rows = 99;
	size_t n = 0;
	struct metadb *m;

	(void)state;
	need_server();
	fresh_db("odc_count");
	m = connect_ok("odc_count");
	SQL("CREATE TABLE odc_count.t1 (id INT)");
	SQL("CREATE TABLE odc_count.t2 (id INT)");
	SQL("INSERT INTO odc_count.t1 VALUES (1), (2), (3)");
	assert_int_equal(metadb_count(m, "t1", &rows, err, sizeof(err)), 0);
	assert_int_equal(rows, 3);
	assert_int_equal(metadb_count(m, "t2", &rows, err, sizeof(err)), 0);
	assert_int_equal(rows, 0);
	assert_int_equal(metadb_count(m, "nope", &rows, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "doesn't exist"));

	assert_int_equal(metadb_drop_table(m, "t1", err, sizeof(err)), 0);
	assert_int_equal(metadb_drop_table(m, "t1", err, sizeof(err)), 0); /* IF EXISTS */
	assert_int_equal(metadb_tables(m, &names, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 1);
	assert_string_equal(names[0], "t2");
	metadb_names_free(names, n);
	metadb_close(m);
}

/* Every kind of object is listed and dropped by name; a parent table is
 * dropped only with foreign-key checks off; statements run as given. */
static void
test_objects_by_kind(void **state)
{
	char **names = NULL, err[1024];
	size_t n = 0;
	struct metadb *m;

	(void)state;
	need_server();
	fresh_db("odc_objects");
	m = connect_ok("odc_objects");
	assert_int_equal(metadb_exec(m, "CREATE TABLE parent (id INT PRIMARY KEY)",
	                             "creating parent", err, sizeof(err)),
	                 0);
	assert_int_equal(metadb_exec(m,
	                             "CREATE TABLE child (id INT PRIMARY KEY, p INT, self INT, "
	                             "CONSTRAINT fk_p FOREIGN KEY (p) REFERENCES parent (id), "
	                             "CONSTRAINT fk_self FOREIGN KEY (self) REFERENCES child (id))",
	                             "creating child", err, sizeof(err)),
	                 0);
	assert_int_equal(metadb_exec(m, "CREATE VIEW v_child AS SELECT id FROM child",
	                             "creating a view", err, sizeof(err)),
	                 0);
	SQL("CREATE TRIGGER odc_objects.trg BEFORE INSERT ON odc_objects.parent FOR EACH ROW SET "
	    "NEW.id = NEW.id");
	SQL("CREATE PROCEDURE odc_objects.proc() SELECT 1");
	SQL("CREATE FUNCTION odc_objects.fn() RETURNS INT DETERMINISTIC RETURN 1");

	assert_int_equal(metadb_list(m, "TABLE", &names, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 2);
	assert_string_equal(names[0], "child");
	metadb_names_free(names, n);
	assert_int_equal(metadb_list(m, "VIEW", &names, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 1);
	assert_string_equal(names[0], "v_child");
	metadb_names_free(names, n);
	assert_int_equal(metadb_list(m, "FOREIGN KEY", &names, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 2); /* one entry per key: child twice */
	assert_string_equal(names[0], "child");
	assert_string_equal(names[1], "child");
	metadb_names_free(names, n);
	for (const char *const *k = (const char *const[]){"TRIGGER", "PROCEDURE", "FUNCTION", NULL};
	     *k; k++) {
		assert_int_equal(metadb_list(m, *k, &names, &n, err, sizeof(err)), 0);
		assert_int_equal(n, 1);
		metadb_names_free(names, n);
	}
	assert_int_equal(metadb_list(m, "EVENT", &names, &n, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "unknown object kind"));

	/* A referenced parent cannot go while the checks are on. */
	assert_int_equal(metadb_drop(m, "TABLE", "parent", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "dropping TABLE parent"));
	assert_int_equal(metadb_foreign_key_checks(m, false, err, sizeof(err)), 0);
	assert_int_equal(metadb_drop(m, "TABLE", "parent", err, sizeof(err)), 0);
	assert_int_equal(metadb_foreign_key_checks(m, true, err, sizeof(err)), 0);
	assert_int_equal(metadb_drop(m, "VIEW", "v_child", err, sizeof(err)), 0);
	assert_int_equal(metadb_drop(m, "PROCEDURE", "proc", err, sizeof(err)), 0);
	assert_int_equal(metadb_drop(m, "FUNCTION", "fn", err, sizeof(err)), 0);
	assert_int_equal(metadb_drop(m, "FOREIGN KEY", "child", err, sizeof(err)), -1);
	assert_int_equal(metadb_drop(m, "VIEW", "a`b", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "refusing view name"));
	assert_int_equal(metadb_exec(m, "SELECT 1", "a query", err, sizeof(err)), 0);
	assert_int_equal(metadb_exec(m, "CREATE TABLE", "a broken statement", err, sizeof(err)),
	                 -1);
	assert_non_null(strstr(err, "a broken statement"));
	metadb_close(m);
}

/* The clean restore of restore.h on a real server: every object dropped
 * (a referenced parent too), tables created without their foreign keys,
 * rows loaded in an order the keys would refuse (a child before its
 * parent, a self-reference to a later row), then the keys added and the
 * views created (one uses the other, and sorts first). A row whose parent
 * is missing fails the key, naming the table. */
static const char *const child_ddl =
    "create table if not exists `a_child` (\n  `id` varchar(16) not null,\n  `parent_id` int,\n"
    "  `up` varchar(16),\n  primary key (`id`),\n"
    "  constraint `fk_parent` foreign key (`parent_id`) references `b_parent` (`id`) on delete "
    "cascade,\n"
    "  constraint `fk_up` foreign key (`up`) references `a_child` (`id`)\n) default "
    "charset=utf8mb4;\n";
static const char *const parent_ddl =
    "create table if not exists `b_parent` (\n  `id` int not null,\n  `name` varchar(32),\n"
    "  primary key (`id`)\n) default charset=utf8mb4;\n";
static const char *const view_a = "create or replace view `v_a` as select `id` from `v_b`;\n";
static const char *const view_b =
    "CREATE ALGORITHM=UNDEFINED DEFINER=`nobody`@`%` SQL SECURITY DEFINER VIEW "
    "`v_b` AS select `id` from `a_child`;\n";

static void
defs_for_test(struct restore_defs *d)
{
	char err[512];

	memset(d, 0, sizeof(*d));
	d->tables = calloc(2, sizeof(*d->tables));
	d->views = calloc(2, sizeof(*d->views));
	assert_non_null(d->tables);
	assert_non_null(d->views);
	if (ddl_table_parse(child_ddl, strlen(child_ddl), "a_child", &d->tables[0], err,
	                    sizeof(err)) != 0 ||
	    ddl_table_parse(parent_ddl, strlen(parent_ddl), "b_parent", &d->tables[1], err,
	                    sizeof(err)) != 0 ||
	    ddl_view_parse(view_a, strlen(view_a), "v_a", &d->views[0], err, sizeof(err)) != 0 ||
	    ddl_view_parse(view_b, strlen(view_b), "v_b", &d->views[1], err, sizeof(err)) != 0)
		fail_msg("ddl: %s", err);
	d->n_tables = 2;
	d->n_views = 2;
	d->n_foreign_keys = d->tables[0].n_foreign_keys + d->tables[1].n_foreign_keys;
	assert_int_equal(d->n_foreign_keys, 2);
}

static void
test_clean_restore(void **state)
{
	char err[1024], why[1024];
	struct msgbuf mb;
	struct restore_defs d;
	struct metadb *m;
	size_t dropped = 0;

	(void)state;
	need_server();
	fresh_db("odc_restore");
	m = connect_ok("odc_restore");
	/* What an upgrade left: a parent, a child with keys, a view, a
	 * trigger and a routine. */
	SQL("CREATE TABLE odc_restore.p (id INT PRIMARY KEY)");
	SQL("CREATE TABLE odc_restore.c (id INT PRIMARY KEY, p INT, FOREIGN KEY (p) REFERENCES "
	    "odc_restore.p (id))");
	SQL("INSERT INTO odc_restore.p VALUES (1)");
	SQL("INSERT INTO odc_restore.c VALUES (1, 1)");
	SQL("CREATE VIEW odc_restore.v AS SELECT id FROM odc_restore.c");
	SQL("CREATE TRIGGER odc_restore.t BEFORE INSERT ON odc_restore.p FOR EACH ROW SET NEW.id = "
	    "NEW.id");
	SQL("CREATE PROCEDURE odc_restore.pr() SELECT 1");
	assert_int_equal(restore_empty(m, &dropped, err, sizeof(err)), 0);
	assert_int_equal(dropped, 5); /* the trigger went with its table or before it */

	defs_for_test(&d);
	assert_int_equal(restore_create_tables(m, &d, err, sizeof(err)), 0);
	/* Loaded in an order the keys would refuse: what obloader may do. */
	SQL("INSERT INTO odc_restore.a_child VALUES ('10002', 7, '7505'), ('7505', 7, '7505')");
	SQL("INSERT INTO odc_restore.b_parent VALUES (7, 'seven')");
	why[0] = '\0';
	msg_init(&mb, why, sizeof(why), 0);
	assert_int_equal(restore_compare_objects(m, &d, &mb), 1);
	assert_non_null(strstr(why, "table a_child has 0 foreign keys, the backup 2"));
	assert_non_null(strstr(why, "view v_a of the backup is missing"));
	if (restore_finish(m, &d, err, sizeof(err)) != 0)
		fail_msg("restore_finish: %s", err);
	why[0] = '\0';
	msg_init(&mb, why, sizeof(why), 0);
	if (restore_compare_objects(m, &d, &mb) != 0)
		fail_msg("after restore: %s", why);

	/* A child whose parent row the backup lost. */
	assert_int_equal(restore_empty(m, &dropped, err, sizeof(err)), 0);
	assert_int_equal(dropped, 4);
	assert_int_equal(restore_create_tables(m, &d, err, sizeof(err)), 0);
	SQL("INSERT INTO odc_restore.a_child VALUES ('1', 8, NULL)");
	assert_int_equal(restore_finish(m, &d, err, sizeof(err)), -1);
	if (strstr(err, "adding foreign key 1 of table a_child (to b_parent") == NULL ||
	    strstr(err, "[1452]") == NULL)
		fail_msg("unexpected: %s", err);
	restore_defs_free(&d);
	metadb_close(m);
}

/* A name outside [A-Za-z0-9_$]{1,64} never reaches the server: no SELECT
 * and no DROP is counted, and the table an injection aims at survives. */
static void
test_bad_names_refused(void **state)
{
	char long64[65], long65[66];
	const char *bad[] = {
	    "a`b", "keep`; DROP TABLE keep; --", "", "a.b", "a b", "t\xc3\xbc", "x-y", long65,
	    NULL};
	char err[1024];
	uint64_t rows, sel0, drop0;
	struct metadb *m;
	size_t i;

	(void)state;
	memset(long64, 'a', 64);
	long64[64] = '\0';
	memset(long65, 'b', 65);
	long65[65] = '\0';
	need_server();
	fresh_db("odc_names");
	SQL("CREATE TABLE odc_names.keep (id INT)");
	m = connect_ok("odc_names");
	sel0 = global_status("Com_select");
	drop0 = global_status("Com_drop_table");
	for (i = 0; bad[i] != NULL; i++) {
		err[0] = '\0';
		assert_int_equal(metadb_count(m, bad[i], &rows, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "refusing table name"));
		err[0] = '\0';
		assert_int_equal(metadb_drop_table(m, bad[i], err, sizeof(err)), -1);
		assert_non_null(strstr(err, "refusing table name"));
	}
	assert_int_equal(metadb_count(m, NULL, &rows, err, sizeof(err)), -1);
	assert_int_equal(global_status("Com_select"), sel0);
	assert_int_equal(global_status("Com_drop_table"), drop0);
	/* 64 characters are fine. */
	assert_int_equal(metadb_count(m, "keep", &rows, err, sizeof(err)), 0);
	assert_int_equal(metadb_drop_table(m, long64, err, sizeof(err)), 0);
	metadb_close(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_login_name),
	    cmocka_unit_test(test_connect_ok),
	    cmocka_unit_test(test_wrong_password),
	    cmocka_unit_test(test_unreachable),
	    cmocka_unit_test(test_silent_server_times_out),
	    cmocka_unit_test(test_history_version),
	    cmocka_unit_test(test_tables_sorted_base_only),
	    cmocka_unit_test(test_count_and_drop),
	    cmocka_unit_test(test_objects_by_kind),
	    cmocka_unit_test(test_clean_restore),
	    cmocka_unit_test(test_bad_names_refused),
	};

	return cmocka_run_group_tests_name("metadb", tests, group_setup, group_teardown);
}
