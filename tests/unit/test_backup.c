/* Unit tests for agent/backup: a well-formed obdumper backup is read
 * (tables, row counts over split files with quoted newlines, commas and
 * quotes, sizes, the version), each malformed one is refused with a message
 * that names the file, and the CSV reader's edge cases. Backups are built in
 * mkdtemp directories. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/backup.h"

#define DB "odc_metadb"
#define TD "data/" DB "/TABLE/"

static const char history_schema[] =
    "CREATE TABLE IF NOT EXISTS `migrate_schema_history` (\n"
    "  `install_rank` bigint(20) NOT NULL AUTO_INCREMENT COMMENT 'install rank',\n"
    "  `version` varchar(64) DEFAULT NULL COMMENT 'version',\n"
    "  `description` varchar(64) DEFAULT NULL COMMENT 'description',\n"
    "  `type` varchar(64) DEFAULT NULL COMMENT 'type, optional values: SQL/JDBC',\n"
    "  `script` varchar(128) DEFAULT NULL COMMENT 'script name',\n"
    "  `checksum` varchar(64) DEFAULT NULL COMMENT 'sha1 checksum',\n"
    "  `installed_by` varchar(64) DEFAULT NULL COMMENT 'installed by user',\n"
    "  `installed_on` datetime NOT NULL DEFAULT CURRENT_TIMESTAMP,\n"
    "  `execution_millis` bigint(20) NOT NULL DEFAULT '0',\n"
    "  `success` tinyint(1) NOT NULL DEFAULT '0' COMMENT 'is success: 1 success, 0 failed',\n"
    "  PRIMARY KEY (`install_rank`),\n"
    "  KEY `idx_version` (`version`)\n"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n";

/* Two history files: the second holds the failed upgrade to 4.3.0.1 and a
 * description that spans lines. \N versions (repeatable scripts) are
 * skipped. */
static const char history_1[] =
    "\"1\",\"4.2.0.1\",\"init\",\"SQL\",\"V_4_2_0_1__init.sql\",\"a1\",\"odc\","
    "\"2023-09-01 10:00:00\",\"120\",\"1\"\n"
    "\"2\",\\N,\"repeatable\",\"SQL\",\"R_4_2_0__views.sql\",\"b2\",\"odc\","
    "\"2023-09-01 10:00:01\",\"3\",\"1\"\n";
static const char history_2[] =
    "\"3\",\"4.2.0.2\",\"add, with comma\",\"SQL\",\"V_4_2_0_2__x.sql\",\"c3\",\"odc\","
    "\"2023-09-02 10:00:00\",\"7\",\"1\"\n"
    "\"4\",\"4.3.0.1\",\"upgrade\nthat failed\",\"SQL\",\"V_4_3_0_1__y.sql\",\"d4\",\"odc\","
    "\"2024-01-01 10:00:00\",\"9\",\"0\"\n";

static const char user_schema[] = "CREATE TABLE `iam_user` (\n"
                                  "  `id` bigint NOT NULL,\n"
                                  "  `name` varchar(64) NOT NULL,\n"
                                  "  `note` text,\n"
                                  "  PRIMARY KEY (`id`)\n"
                                  ");\n";
/* Split in three files, 3 + 2 + 1 records; quoted newlines, commas, doubled
 * quotes and NULLs. */
static const char user_0[] = "\"1\",\"admin\",\"line one\nline two\"\n"
                             "\"2\",\"bob, the builder\",\\N\n"
                             "\"3\",\"say \"\"hi\"\"\",\"\"\n";
static const char user_1[] = "4,plain,\\N\n"
                             "\"5\",\"multi\n\nline\",\",\"\n";
static const char user_2[] = "\"6\",\"last\",\"no newline at the end\"";

static const char config_schema[] = "CREATE TABLE `config_entity` (\n"
                                    "  `k` varchar(64) NOT NULL,\n"
                                    "  `v` text\n"
                                    ");\n";
/* <t>.N.M.csv files, one with CR LF line ends. */
static const char config_1_1[] = "\"a\",\"1\"\r\n\"b\",\"2\"\r\n";
static const char config_1_2[] = "\"c\",\"3\"\n";

struct fixture {
	char dir[64];
	char err[1024];
	struct backup_info info;
};

static void
put(const struct fixture *f, const char *rel, const char *data, size_t len)
{
	char path[512];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", f->dir, rel);
	fp = fopen(path, "wb");
	if (fp == NULL)
		fail_msg("fopen %s", path);
	if (len > 0 && fwrite(data, 1, len, fp) != len)
		fail_msg("fwrite %s", path);
	assert_int_equal(fclose(fp), 0);
}

static void
puts_file(const struct fixture *f, const char *rel, const char *text)
{
	put(f, rel, text, strlen(text));
}

static void
rm(const struct fixture *f, const char *rel)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", f->dir, rel);
	assert_int_equal(unlink(path), 0);
}

static void
mkdirs(const struct fixture *f, const char *rel)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", f->dir, rel);
	assert_int_equal(mkdir(path, 0755), 0);
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
rm_tree(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A complete, well-formed backup of DB. */
static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/odc-backup-test-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	*state = f;
	puts_file(f, "MANIFEST.bin", "\x01manifest");
	puts_file(f, "CHECKPOINT.bin", "checkpoint");
	mkdirs(f, "data");
	mkdirs(f, "data/" DB);
	mkdirs(f, "data/" DB "/TABLE");
	mkdirs(f, "logs");
	puts_file(f, "logs/ob-loader-dumper.info", "ok\n");
	puts_file(f, TD "migrate_schema_history-schema.sql", history_schema);
	puts_file(f, TD "migrate_schema_history.0.csv", history_1);
	puts_file(f, TD "migrate_schema_history.1.csv", history_2);
	puts_file(f, TD "iam_user-schema.sql", user_schema);
	puts_file(f, TD "iam_user.0.csv", user_0);
	puts_file(f, TD "iam_user.1.csv", user_1);
	puts_file(f, TD "iam_user.2.csv", user_2);
	puts_file(f, TD "config_entity-schema.sql", config_schema);
	puts_file(f, TD "config_entity.1.1.csv", config_1_1);
	puts_file(f, TD "config_entity.1.2.csv", config_1_2);
	puts_file(f, TD "empty_table-schema.sql", "CREATE TABLE `empty_table` (\n  `id` int\n);\n");
	puts_file(f, TD "empty_file-schema.sql", "CREATE TABLE `empty_file` (\n  `id` int\n);\n");
	puts_file(f, TD "empty_file.csv", "");
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	backup_info_free(&f->info);
	rm_tree(f->dir);
	free(f);
	return 0;
}

static void
inspect_ok(struct fixture *f)
{
	backup_info_free(&f->info);
	if (backup_inspect(f->dir, DB, &f->info, f->err, sizeof(f->err)) != 0)
		fail_msg("backup_inspect: %s", f->err);
}

/* Asserts that inspecting fails with a message containing each of the
 * given substrings (NULL-terminated list). */
static void
inspect_fails(struct fixture *f, const char *db, ...)
{
	va_list ap;
	const char *want;

	backup_info_free(&f->info);
	f->err[0] = '\0';
	if (backup_inspect(f->dir, db, &f->info, f->err, sizeof(f->err)) == 0)
		fail_msg("backup_inspect succeeded; version %s", f->info.version);
	assert_null(f->info.tables);
	assert_int_equal(f->info.n_tables, 0);
	va_start(ap, db);
	while ((want = va_arg(ap, const char *)) != NULL) {
		if (strstr(f->err, want) == NULL) {
			va_end(ap);
			fail_msg("error \"%s\" lacks \"%s\"", f->err, want);
		}
	}
	va_end(ap);
}

static void
test_good_backup(void **state)
{
	struct fixture *f = *state;
	const struct backup_table *t;
	const char *names[] = {"config_entity", "empty_file", "empty_table", "iam_user",
	                       "migrate_schema_history"};
	uint64_t total;
	size_t i;

	inspect_ok(f);
	assert_string_equal(f->info.version, "4.2.0.2");
	assert_int_equal(f->info.n_tables, 5);
	for (i = 0; i < 5; i++)
		assert_string_equal(f->info.tables[i].name, names[i]);

	t = backup_table_find(&f->info, "iam_user");
	assert_non_null(t);
	assert_int_equal(t->rows, 6);
	assert_int_equal(t->n_files, 3);
	assert_int_equal(t->bytes, strlen(user_0) + strlen(user_1) + strlen(user_2));

	t = backup_table_find(&f->info, "migrate_schema_history");
	assert_non_null(t);
	assert_int_equal(t->rows, 4);
	assert_int_equal(t->n_files, 2);

	t = backup_table_find(&f->info, "config_entity");
	assert_non_null(t);
	assert_int_equal(t->rows, 3);
	assert_int_equal(t->n_files, 2);

	t = backup_table_find(&f->info, "empty_table");
	assert_non_null(t);
	assert_int_equal(t->rows, 0);
	assert_int_equal(t->n_files, 0);
	t = backup_table_find(&f->info, "empty_file");
	assert_non_null(t);
	assert_int_equal(t->rows, 0);
	assert_int_equal(t->n_files, 1);
	assert_null(backup_table_find(&f->info, "nope"));

	total = strlen(history_1) + strlen(history_2) + strlen(user_0) + strlen(user_1) +
	        strlen(user_2) + strlen(config_1_1) + strlen(config_1_2);
	assert_int_equal(f->info.bytes, total);

	backup_info_free(&f->info);
	assert_null(f->info.tables);
	backup_info_free(NULL);
}

/* Versions are compared as numbers: 4.2.0.10 is newer than 4.2.0.9; "true"
 * counts as success. */
static void
test_version_numeric(void **state)
{
	struct fixture *f = *state;

	puts_file(f, TD "migrate_schema_history.1.csv",
	          "5,4.2.0.9,a,SQL,s,c,odc,\"2023-01-01 00:00:00\",1,1\n"
	          "6,4.2.0.10,b,SQL,s,c,odc,\"2023-01-01 00:00:00\",1,true\n"
	          "7,4.10.0.1,c,SQL,s,c,odc,\"2023-01-01 00:00:00\",1,\\N\n");
	inspect_ok(f);
	assert_string_equal(f->info.version, "4.2.0.10");
}

static void
test_no_manifest(void **state)
{
	struct fixture *f = *state;

	rm(f, "MANIFEST.bin");
	inspect_fails(f, DB, f->dir, "not a backup", "no MANIFEST.bin", NULL);
}

static void
test_no_table_dir(void **state)
{
	struct fixture *f = *state;
	char path[512];

	snprintf(path, sizeof(path), "%s/data", f->dir);
	rm_tree(path);
	inspect_fails(f, DB, "not a backup of database " DB, "no data/" DB "/TABLE", NULL);
	mkdirs(f, "data");
	mkdirs(f, "data/" DB);
	inspect_fails(f, DB, "no data/" DB "/TABLE", NULL);
}

static void
test_wrong_db(void **state)
{
	struct fixture *f = *state;

	inspect_fails(f, "other_db", "not a backup of database other_db", "no data/other_db/TABLE",
	              "data/ holds: " DB, NULL);
	/* A database name is a path component and cannot climb out. */
	inspect_fails(f, "../" DB, "database name", NULL);
	inspect_fails(f, "", "database name", NULL);
}

static void
test_no_history(void **state)
{
	struct fixture *f = *state;

	rm(f, TD "migrate_schema_history-schema.sql");
	rm(f, TD "migrate_schema_history.0.csv");
	rm(f, TD "migrate_schema_history.1.csv");
	inspect_fails(f, DB, "not an ODC metadb backup", "no migrate_schema_history", NULL);
}

static void
test_data_without_schema(void **state)
{
	struct fixture *f = *state;

	puts_file(f, TD "orphan.3.csv", "1,2\n");
	inspect_fails(f, DB, "/" TD "orphan.3.csv: data file without orphan-schema.sql", NULL);
}

static void
test_symlinks_refused(void **state)
{
	struct fixture *f = *state;
	char path[512], target[512];

	/* A data file that points elsewhere. */
	snprintf(path, sizeof(path), "%s/" TD "iam_user.3.csv", f->dir);
	assert_int_equal(symlink("/etc/passwd", path), 0);
	inspect_fails(f, DB, "iam_user.3.csv: is a symbolic link", NULL);
	assert_int_equal(unlink(path), 0);

	/* A schema file. */
	snprintf(target, sizeof(target), "%s/" TD "iam_user-schema.sql", f->dir);
	snprintf(path, sizeof(path), "%s/" TD "x-schema.sql", f->dir);
	assert_int_equal(symlink(target, path), 0);
	inspect_fails(f, DB, "x-schema.sql: is a symbolic link", NULL);
	assert_int_equal(unlink(path), 0);

	/* MANIFEST.bin. */
	rm(f, "MANIFEST.bin");
	snprintf(path, sizeof(path), "%s/MANIFEST.bin", f->dir);
	assert_int_equal(symlink("CHECKPOINT.bin", path), 0);
	inspect_fails(f, DB, "MANIFEST.bin: is a symbolic link", NULL);
	assert_int_equal(unlink(path), 0);
	puts_file(f, "MANIFEST.bin", "m");

	/* A directory on the way: data/<db> is a link to a real copy. */
	snprintf(target, sizeof(target), "%s/data/" DB, f->dir);
	snprintf(path, sizeof(path), "%s/data/real", f->dir);
	assert_int_equal(rename(target, path), 0);
	assert_int_equal(symlink("real", target), 0);
	inspect_fails(f, DB, "symbolic link", NULL);

	/* backup_csv_read does not follow a link either. */
	snprintf(path, sizeof(path), "%s/link.csv", f->dir);
	assert_int_equal(symlink("CHECKPOINT.bin", path), 0);
	assert_int_equal(backup_csv_read(path, 100, NULL, NULL, f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "link.csv: is a symbolic link"));
}

static void
test_unterminated_quote(void **state)
{
	struct fixture *f = *state;

	puts_file(f, TD "iam_user.1.csv", "7,\"ok\",\\N\n8,\"x\",\"never closed\nmore\nand more\n");
	inspect_fails(f, DB, TD "iam_user.1.csv:2: unterminated quote", NULL);
}

/* The line is the record's first line, counted through quoted newlines. */
static void
test_history_field_count(void **state)
{
	struct fixture *f = *state;

	puts_file(f, TD "migrate_schema_history.1.csv",
	          "3,4.2.0.2,\"two\nlines\",SQL,s,c,odc,\"2023-01-01 00:00:00\",1,1\n"
	          "4,4.2.0.3,short,SQL,s,c,odc,1,1\n");
	inspect_fails(f, DB,
	              TD "migrate_schema_history.1.csv:3: 9 fields, but "
	                 "migrate_schema_history-schema.sql declares 10 columns",
	              NULL);
}

static void
test_history_schema_problems(void **state)
{
	struct fixture *f = *state;

	puts_file(f, TD "migrate_schema_history-schema.sql",
	          "CREATE TABLE `migrate_schema_history` (\n  `install_rank` int,\n  `version` "
	          "varchar(64),\n  PRIMARY KEY (`install_rank`),\n  `success` int\n);\n");
	inspect_fails(f, DB, "migrate_schema_history-schema.sql: no `success` column", NULL);

	puts_file(f, TD "migrate_schema_history-schema.sql", "-- nothing here\n");
	inspect_fails(f, DB, "no CREATE TABLE statement", NULL);
}

static void
test_no_successful_version(void **state)
{
	struct fixture *f = *state;

	puts_file(f, TD "migrate_schema_history.0.csv", "");
	puts_file(f, TD "migrate_schema_history.1.csv",
	          "4,4.3.0.1,x,SQL,s,c,odc,\"2024-01-01 00:00:00\",9,0\n");
	inspect_fails(f, DB, "no successful migration", NULL);
}

static void
test_field_over_bound(void **state)
{
	struct fixture *f = *state;
	size_t n = BACKUP_FIELD_MAX + 1, len;
	char *data, want[128];

	data = malloc(n + 64);
	assert_non_null(data);
	len = (size_t)snprintf(data, 64, "1,\"ok\",\\N\n2,\"");
	memset(data + len, 'x', n);
	len += n;
	memcpy(data + len, "\",\\N\n", 5);
	len += 5;
	put(f, TD "iam_user.1.csv", data, len);
	free(data);
	snprintf(want, sizeof(want), TD "iam_user.1.csv:2: field longer than %u bytes",
	         BACKUP_FIELD_MAX);
	inspect_fails(f, DB, want, NULL);
}

static void
test_unknown_file(void **state)
{
	struct fixture *f = *state;

	puts_file(f, TD "notes.txt", "hello\n");
	inspect_fails(f, DB, TD "notes.txt: unknown file", NULL);
	rm(f, TD "notes.txt");

	/* Near misses of the naming rule. */
	puts_file(f, TD "iam_user.x.csv", "");
	inspect_fails(f, DB, "iam_user.x.csv: unknown file", NULL);
	rm(f, TD "iam_user.x.csv");
	puts_file(f, TD "iam_user.1.2.3.csv", "");
	inspect_fails(f, DB, "iam_user.1.2.3.csv: unknown file", NULL);
	rm(f, TD "iam_user.1.2.3.csv");
	puts_file(f, TD "bad-name.csv", "");
	inspect_fails(f, DB, "bad-name.csv: unknown file", NULL);
	rm(f, TD "bad-name.csv");
	mkdirs(f, TD "sub");
	inspect_fails(f, DB, "sub: unknown file", NULL);
}

/* ------------------------------------------------------------------ */
/* The CSV reader on its own */

struct rec {
	char text[4096]; /* records as "a|b|<NULL>", separated by ";" */
	int stop_after;
	int seen;
};

static int
collect(void *ctx, char **fields, size_t n)
{
	struct rec *r = ctx;
	size_t i, used;

	for (i = 0; i < n; i++) {
		used = strlen(r->text);
		snprintf(r->text + used, sizeof(r->text) - used, "%s%s", i > 0 ? "|" : "",
		         fields[i] != NULL ? fields[i] : "<NULL>");
	}
	used = strlen(r->text);
	snprintf(r->text + used, sizeof(r->text) - used, ";");
	r->seen++;
	return r->stop_after != 0 && r->seen >= r->stop_after;
}

/* Writes data to a file in the fixture and reads it back. */
static long long
csv(struct fixture *f, const char *data, size_t len, size_t max_field, struct rec *r)
{
	char path[512];

	put(f, "t.csv", data, len);
	snprintf(path, sizeof(path), "%s/t.csv", f->dir);
	f->err[0] = '\0';
	return backup_csv_read(path, max_field, r != NULL ? collect : NULL, r, f->err,
	                       sizeof(f->err));
}

static long long
csv_s(struct fixture *f, const char *text, struct rec *r)
{
	return csv(f, text, strlen(text), 1024, r);
}

static void
test_csv_fields(void **state)
{
	struct fixture *f = *state;
	struct rec r;

	memset(&r, 0, sizeof(r));
	assert_int_equal(csv_s(f, "\"a,b\",\"c\"\"d\",\\N,\"\\N\",,\"\"\n", &r), 1);
	assert_string_equal(r.text, "a,b|c\"d|<NULL>|\\N||;");

	memset(&r, 0, sizeof(r));
	assert_int_equal(csv_s(f, "\"x\ny\",1\n\"\n\",2\n", &r), 2);
	assert_string_equal(r.text, "x\ny|1;\n|2;");

	/* A trailing comma is one more empty field; an empty line one empty field. */
	memset(&r, 0, sizeof(r));
	assert_int_equal(csv_s(f, "a,\n\nb\n", &r), 3);
	assert_string_equal(r.text, "a|;;b;");
}

static void
test_csv_line_ends(void **state)
{
	struct fixture *f = *state;
	struct rec r;

	memset(&r, 0, sizeof(r));
	assert_int_equal(csv_s(f, "a,b\r\n\"c\",\"d\"\r\ne,\"f\r\ng\"\r\n", &r), 3);
	assert_string_equal(r.text, "a|b;c|d;e|f\r\ng;");

	/* A lone CR is data. */
	memset(&r, 0, sizeof(r));
	assert_int_equal(csv_s(f, "a\rb,c\n", &r), 1);
	assert_string_equal(r.text, "a\rb|c;");

	/* The last record needs no newline, quoted or not. */
	memset(&r, 0, sizeof(r));
	assert_int_equal(csv_s(f, "1,2\n3,4", &r), 2);
	assert_string_equal(r.text, "1|2;3|4;");
	assert_int_equal(csv_s(f, "1\n\"x\"", NULL), 2);
	assert_int_equal(csv_s(f, "1\r\n\"x\"\r", NULL), 2);

	assert_int_equal(csv_s(f, "", NULL), 0);
	assert_int_equal(csv_s(f, "\n", NULL), 1);
}

static void
test_csv_errors(void **state)
{
	struct fixture *f = *state;
	char big[1100 * 2 + 2];
	size_t i;

	assert_int_equal(csv_s(f, "1\n2\n\"three\n\nfour", NULL), -1);
	assert_non_null(strstr(f->err, "t.csv:3: unterminated quote"));

	assert_int_equal(csv_s(f, "1\n\"a\"b\n", NULL), -1);
	assert_non_null(strstr(f->err, "t.csv:2: unexpected character after a closing quote"));

	/* A field of exactly max_field bytes is fine, one more is not. */
	assert_int_equal(csv(f, "12345\n", 6, 5, NULL), 1);
	assert_int_equal(csv(f, "1\n123456\n", 9, 5, NULL), -1);
	assert_non_null(strstr(f->err, "t.csv:2: field longer than 5 bytes"));
	assert_int_equal(csv(f, "\"a\"\"b\"\n", 7, 3, NULL), 1); /* a"b is 3 bytes */

	/* 1024 fields are fine, 1025 are not. */
	for (i = 0; i < 1025; i++) {
		big[2 * i] = 'x';
		big[2 * i + 1] = ',';
	}
	big[2 * 1023 + 1] = '\n';
	assert_int_equal(csv(f, big, 2 * 1024, 10, NULL), 1);
	big[2 * 1023 + 1] = ',';
	big[2 * 1024 + 1] = '\n';
	assert_int_equal(csv(f, big, 2 * 1025, 10, NULL), -1);
	assert_non_null(strstr(f->err, "t.csv:1: more than 1024 fields"));

	/* Not there, not a regular file. */
	assert_int_equal(
	    backup_csv_read("/nonexistent/x.csv", 10, NULL, NULL, f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "/nonexistent/x.csv: No such file"));
	assert_int_equal(backup_csv_read(f->dir, 10, NULL, NULL, f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "not a regular file"));
}

static void
test_csv_stop(void **state)
{
	struct fixture *f = *state;
	struct rec r;

	memset(&r, 0, sizeof(r));
	r.stop_after = 2;
	assert_int_equal(csv_s(f, "1\n2\n3\n4\n", &r), 2);
	assert_string_equal(r.text, "1;2;");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_good_backup, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_version_numeric, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_manifest, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_table_dir, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wrong_db, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_history, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_data_without_schema, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_symlinks_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unterminated_quote, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_history_field_count, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_history_schema_problems, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_successful_version, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_field_over_bound, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unknown_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_csv_fields, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_csv_line_ends, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_csv_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_csv_stop, setup, teardown),
	};

	return cmocka_run_group_tests_name("backup", tests, NULL, NULL);
}
