/* Unit tests for agent/backup: backups as older versions of our agent's
 * stand-in wrote them (DIR/MANIFEST.bin, '"' quotes, no header) and as the
 * real obdumper does (data/MANIFEST.bin or none, single quotes, a header line,
 * \N and \E, escape '\' or doubled quotes, VIEW/ beside TABLE/, nested
 * or flat) are read (tables, row counts over split files with quoted
 * newlines, commas and quotes, sizes, the dialect, the version); each
 * malformed one is refused with a message that names the file; and the CSV
 * reader's edge cases. Backups are built in mkdtemp directories. */
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

static const struct backup_dialect dq = {'"', 0, false};

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

	/* The old layout and dialect. */
	assert_true(f->info.manifest);
	assert_false(f->info.header);
	assert_int_equal(f->info.quote, '"');
	assert_int_equal(f->info.escape, '\\');
	assert_int_equal(f->info.n_objects, 0);
	assert_null(f->info.objects);
	assert_non_null(strstr(f->info.objdir, f->dir));
	assert_non_null(strstr(f->info.objdir, "/data/" DB));
	assert_int_equal(strlen(f->info.objdir), strlen(f->dir) + strlen("/data/" DB));

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

/* MANIFEST.bin proves nothing and may be absent (obdumper 4.1.0 and
 * later); one in data/ is found too. The old refusal ("not a backup: no
 * MANIFEST.bin") is gone. */
static void
test_manifest_optional(void **state)
{
	struct fixture *f = *state;

	rm(f, "MANIFEST.bin");
	inspect_ok(f);
	assert_false(f->info.manifest);
	assert_string_equal(f->info.version, "4.2.0.2");
	puts_file(f, "data/MANIFEST.bin",
	          "\x01\x00com.oceanbase.tools.loaddump.common.model.Manifest");
	inspect_ok(f);
	assert_true(f->info.manifest);

	/* Still not a directory or anything else. */
	rm(f, "data/MANIFEST.bin");
	mkdirs(f, "data/MANIFEST.bin");
	inspect_fails(f, DB, "data/MANIFEST.bin: not a regular file", NULL);
}

static void
test_no_table_dir(void **state)
{
	struct fixture *f = *state;
	char path[512];

	snprintf(path, sizeof(path), "%s/data", f->dir);
	rm_tree(path);
	inspect_fails(f, DB, "not a backup of database " DB, "no data/" DB "/TABLE",
	              "nor data/TABLE (flat layout)", "no data/ folder", NULL);
	mkdirs(f, "data");
	inspect_fails(f, DB, "not a backup of database " DB, "no data/" DB "/TABLE", NULL);
	mkdirs(f, "data/" DB);
	/* data/<db> exists: the nested layout is chosen, and lacks TABLE/. */
	inspect_fails(f, DB, "no data/" DB "/TABLE (data/" DB " exists: nested layout", NULL);
}

static void
test_wrong_db(void **state)
{
	struct fixture *f = *state;

	inspect_fails(f, "other_db", "not a backup of database other_db", "no data/other_db/TABLE",
	              "(data/ holds: " DB ")", NULL);
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
	assert_int_equal(backup_csv_read(path, &dq, 100, NULL, NULL, f->err, sizeof(f->err)), -1);
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
	              TD "migrate_schema_history.1.csv:3: 9 fields, table migrate_schema_history "
	                 "has 10 columns (read with escape \\ and with doubled quotes)",
	              NULL);
}

static void
test_history_schema_problems(void **state)
{
	struct fixture *f = *state;

	puts_file(f, TD "migrate_schema_history-schema.sql",
	          "CREATE TABLE `migrate_schema_history` (\n  `install_rank` int,\n  `version` "
	          "varchar(64),\n  PRIMARY KEY (`install_rank`),\n  `succeeded` int\n);\n");
	inspect_fails(
	    f, DB, "migrate_schema_history-schema.sql: no `success` column among 3 columns", NULL);

	puts_file(f, TD "migrate_schema_history-schema.sql", "-- nothing here\n");
	inspect_fails(f, DB,
	              TD "migrate_schema_history-schema.sql: line 1: no CREATE TABLE statement for "
	                 "table migrate_schema_history",
	              NULL);

	/* Any schema file must parse, and be about its own table only. */
	puts_file(f, TD "migrate_schema_history-schema.sql", history_schema);
	puts_file(f, TD "iam_user-schema.sql",
	          "CREATE TABLE `iam_user` (`id` int, `name` text, `note` text);\n"
	          "DROP TABLE `config_entity`;\n");
	inspect_fails(f, DB,
	              TD "iam_user-schema.sql: line 2: schema file holds a statement that is not "
	                 "about table iam_user: DROP TABLE `config_entity`",
	              NULL);
	puts_file(f, TD "iam_user-schema.sql", "CREATE TABLE `iam_users` (`id` int);\n");
	inspect_fails(f, DB, "iam_user-schema.sql: line 1: CREATE TABLE `iam_users`, but", NULL);
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

/* Writes data to a file in the fixture and reads it back in dialect d. */
static long long
csv_d(struct fixture *f, const struct backup_dialect *d, const char *data, size_t len,
      size_t max_field, struct rec *r)
{
	char path[512];

	put(f, "t.csv", data, len);
	snprintf(path, sizeof(path), "%s/t.csv", f->dir);
	f->err[0] = '\0';
	return backup_csv_read(path, d, max_field, r != NULL ? collect : NULL, r, f->err,
	                       sizeof(f->err));
}

static long long
csv_ds(struct fixture *f, const struct backup_dialect *d, const char *text, struct rec *r)
{
	return csv_d(f, d, text, strlen(text), 64, r);
}

/* The old stand-in's dialect: '"' quotes, no escape, no header. */
static long long
csv(struct fixture *f, const char *data, size_t len, size_t max_field, struct rec *r)
{
	return csv_d(f, &dq, data, len, max_field, r);
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
	    backup_csv_read("/nonexistent/x.csv", &dq, 10, NULL, NULL, f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "/nonexistent/x.csv: No such file"));
	assert_int_equal(backup_csv_read(f->dir, &dq, 10, NULL, NULL, f->err, sizeof(f->err)), -1);
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

/* ------------------------------------------------------------------ */
/* Backups as the real obdumper writes them */

static const char real_history_schema[] =
    "create table if not exists `migrate_schema_history` (\n"
    "      `install_rank` bigint(20) not null auto_increment,\n"
    "      `version` varchar(64) default null,\n"
    "      `description` varchar(64) default null,\n"
    "      `script` varchar(128) default null,\n"
    "      `installed_on` datetime not null default current_timestamp,\n"
    "      `success` tinyint(1) not null default '0',\n"
    "      primary key (`install_rank`)\n"
    ")\n"
    "default charset=utf8mb4\n"
    "default collate=utf8mb4_general_ci;\n";
/* 4.2.0.43 is newer than 4.2.0.9 (numbers, not text); a \N version and the
 * failed 4.3.0.1 do not count. */
static const char real_history[] =
    "'install_rank','version','description','script','installed_on','success'\n"
    "1,'4.2.0.9','init','V_4_2_0_9__init.sql','2023-09-01 10:00:00',1\n"
    "2,'4.2.0.43','add view','V_4_2_0_43__x.sql','2023-09-02 10:00:00',1\n"
    "3,\\N,'repeatable','R_4_2_0__views.sql','2023-09-02 10:00:01',1\n"
    "4,'4.3.0.1','upgrade that failed','V_4_3_0_1__y.sql','2024-01-01 10:00:00',0\n";

static const char real_user_schema[] = "create table if not exists `iam_user` (\n"
                                       "      `id` bigint(20) not null,\n"
                                       "      `name` varchar(64) not null,\n"
                                       "      `note` text,\n"
                                       "      `flag` int(11),\n"
                                       "      primary key (`id`)\n"
                                       ")\n"
                                       "default charset=utf8mb4;\n";
/* A raw newline, \' and \\, \N and \E unquoted and quoted. */
static const char real_user_0[] = "'id','name','note','flag'\n"
                                  "1,'admin','line one\nline two',1\n"
                                  "2,'it\\'s','back\\\\slash',\\N\n"
                                  "3,'\\N','',\\E\n";
/* CR LF line ends, also inside a value; a comma and parentheses. */
static const char real_user_1[] = "'id','name','note','flag'\r\n"
                                  "4,'comma, and (paren)','multi\r\nline',0\r\n";

static const char real_child_schema[] =
    "create table if not exists `child` (\n"
    "      `id` bigint(20) not null,\n"
    "      `parent_id` bigint(20),\n"
    "      primary key (`id`),\n"
    "      constraint `fk_child_user` foreign key (`parent_id`) references `iam_user` (`id`) on "
    "delete cascade\n"
    ")\n"
    "default charset=utf8mb4;\n";
static const char real_child[] = "'id','parent_id'\n1,1\n";

static const char real_view[] =
    "CREATE ALGORITHM=UNDEFINED DEFINER=`odc`@`%` SQL SECURITY DEFINER VIEW `list_view` AS "
    "select `iam_user`.`id` AS `id` from `iam_user`;\n";

/* A real backup with its objects in obj ("data/<db>" or "data"). */
static void
build_real(struct fixture *f, const char *obj)
{
	char rel[256];

	snprintf(rel, sizeof(rel), "%s/TABLE", obj);
	mkdirs(f, rel);
	snprintf(rel, sizeof(rel), "%s/VIEW", obj);
	mkdirs(f, rel);
#define PUT(name, text)                                                                            \
	do {                                                                                       \
		snprintf(rel, sizeof(rel), "%s/%s", obj, name);                                    \
		puts_file(f, rel, text);                                                           \
	} while (0)
	PUT("TABLE/migrate_schema_history-schema.sql", real_history_schema);
	PUT("TABLE/migrate_schema_history.1.0.csv", real_history);
	PUT("TABLE/iam_user-schema.sql", real_user_schema);
	PUT("TABLE/iam_user.1.0.csv", real_user_0);
	PUT("TABLE/iam_user.1.1.csv", real_user_1);
	PUT("TABLE/child-schema.sql", real_child_schema);
	PUT("TABLE/child.0.0.csv", real_child);
	/* A table without rows: its file holds the header only. */
	PUT("TABLE/e-schema.sql", "create table if not exists `e` (`a` int, `b` int);\n");
	PUT("TABLE/e.1.0.csv", "'a','b'\n");
	PUT("VIEW/list_view-schema.sql", real_view);
#undef PUT
}

/* data/MANIFEST.bin, data/CHECKPOINT.bin, data/<db>/{TABLE,VIEW}, logs/. */
static int
setup_real(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/odc-backup-test-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	*state = f;
	mkdirs(f, "data");
	mkdirs(f, "data/" DB);
	mkdirs(f, "logs");
	puts_file(f, "data/MANIFEST.bin", "\x01\x00manifest");
	puts_file(f, "data/CHECKPOINT.bin", "\x01\x00java.util.ArrayList");
	puts_file(f, "logs/ob-loader-dumper.info", "ok\n");
	build_real(f, "data/" DB);
	return 0;
}

/* Reads one data file of the backup as plan.c would: in its dialect. */
static long long
read_data(struct fixture *f, const char *rel, struct rec *r)
{
	struct backup_dialect d = {f->info.quote, f->info.escape, f->info.header};
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", f->dir, rel);
	memset(r, 0, sizeof(*r));
	return backup_csv_read(path, &d, 1024, collect, r, f->err, sizeof(f->err));
}

static void
test_real_backup(void **state)
{
	struct fixture *f = *state;
	const struct backup_table *t;
	char want[256];
	struct rec r;

	inspect_ok(f);
	assert_string_equal(f->info.version, "4.2.0.43");
	assert_true(f->info.manifest);
	assert_true(f->info.header);
	assert_int_equal(f->info.quote, '\'');
	assert_int_equal(f->info.escape, '\\');
	snprintf(want, sizeof(want), "%s/data/" DB, f->dir);
	assert_string_equal(f->info.objdir, want);
	assert_int_equal(f->info.n_tables, 4);
	assert_int_equal(f->info.n_objects, 1);
	assert_string_equal(f->info.objects[0].kind, "VIEW");
	assert_string_equal(f->info.objects[0].name, "list_view");

	/* Rows without the header lines. */
	t = backup_table_find(&f->info, "migrate_schema_history");
	assert_non_null(t);
	assert_int_equal(t->rows, 4);
	t = backup_table_find(&f->info, "iam_user");
	assert_non_null(t);
	assert_int_equal(t->rows, 4);
	assert_int_equal(t->n_files, 2);
	assert_int_equal(t->bytes, strlen(real_user_0) + strlen(real_user_1));
	t = backup_table_find(&f->info, "child");
	assert_non_null(t);
	assert_int_equal(t->rows, 1);
	t = backup_table_find(&f->info, "e");
	assert_non_null(t);
	assert_int_equal(t->rows, 0);
	assert_int_equal(t->n_files, 1);

	/* The values, read in the dialect found. */
	assert_int_equal(read_data(f, "data/" DB "/TABLE/iam_user.1.0.csv", &r), 3);
	assert_string_equal(r.text, "1|admin|line one\nline two|1;"
	                            "2|it's|back\\slash|<NULL>;"
	                            "3|\\N||;");
	assert_int_equal(read_data(f, "data/" DB "/TABLE/iam_user.1.1.csv", &r), 1);
	assert_string_equal(r.text, "4|comma, and (paren)|multi\r\nline|0;");
	assert_int_equal(read_data(f, "data/" DB "/TABLE/e.1.0.csv", &r), 0);
	assert_int_equal(r.seen, 0);
	assert_int_equal(read_data(f, "data/" DB "/TABLE/migrate_schema_history.1.0.csv", &r), 4);
	assert_non_null(strstr(r.text, "2|4.2.0.43|add view|"));
}

/* Without any MANIFEST.bin (obdumper 4.1.0 and later). */
static void
test_real_no_manifest(void **state)
{
	struct fixture *f = *state;

	rm(f, "data/MANIFEST.bin");
	inspect_ok(f);
	assert_false(f->info.manifest);
	assert_true(f->info.header);
	assert_string_equal(f->info.version, "4.2.0.43");
}

/* obdumper 4.3.5: no escape, a quote inside is doubled (RFC 4180). A value
 * ending in a backslash cannot be read with escape '\', so the second
 * reading decides. */
static void
test_real_doubled_quotes(void **state)
{
	struct fixture *f = *state;
	struct rec r;

	puts_file(f, "data/" DB "/TABLE/iam_user.1.0.csv",
	          "'id','name','note','flag'\n"
	          "1,'C:\\','it''s',1\n"
	          "2,'a\\nb','x\ny',\\N\n"
	          "3,'''','\\N',\\E\n");
	puts_file(f, "data/" DB "/TABLE/iam_user.1.1.csv", "'id','name','note','flag'\n");
	inspect_ok(f);
	assert_int_equal(f->info.escape, 0);
	assert_int_equal(f->info.quote, '\'');
	assert_true(f->info.header);
	assert_string_equal(f->info.version, "4.2.0.43");
	assert_int_equal(backup_table_find(&f->info, "iam_user")->rows, 3);
	assert_int_equal(read_data(f, "data/" DB "/TABLE/iam_user.1.0.csv", &r), 3);
	assert_string_equal(r.text, "1|C:\\|it's|1;"
	                            "2|a\\nb|x\ny|<NULL>;"
	                            "3|'|\\N|;");
}

/* A record with the wrong field count, in both readings; and two files
 * that each only one reading can read. */
static void
test_real_field_count(void **state)
{
	struct fixture *f = *state;

	puts_file(f, "data/" DB "/TABLE/iam_user.1.0.csv", "'id','name','note','flag'\n");
	puts_file(f, "data/" DB "/TABLE/iam_user.1.1.csv",
	          "'id','name','note','flag'\n4,'x','y',0\n5,'short',1\n");
	inspect_fails(f, DB,
	              "/data/" DB "/TABLE/iam_user.1.1.csv:3: 3 fields, table iam_user has 4 "
	              "columns (read with escape \\ and with doubled quotes)",
	              NULL);

	/* iam_user.1.0.csv needs the escape, iam_user.1.1.csv doubled quotes:
	 * the reading that got further is named first. */
	puts_file(f, "data/" DB "/TABLE/iam_user.1.0.csv", real_user_0);
	puts_file(f, "data/" DB "/TABLE/iam_user.1.1.csv",
	          "'id','name','note','flag'\n4,'C:\\','it''s',1\n");
	inspect_fails(f, DB,
	              "iam_user.1.1.csv:2: unexpected character after a closing quote (read with "
	              "escape \\; with doubled quotes: ",
	              "iam_user.1.0.csv:4: unexpected character", NULL);
}

/* A header line in some files but not in others. */
static void
test_real_header_mix(void **state)
{
	struct fixture *f = *state;

	puts_file(f, "data/" DB "/TABLE/iam_user.1.1.csv", "4,'x','y',0\n");
	inspect_fails(f, DB,
	              "/TABLE/child.0.0.csv starts with a header line (the column names) but ",
	              "/TABLE/iam_user.1.1.csv does not", NULL);
	/* An empty file agrees with anything. */
	puts_file(f, "data/" DB "/TABLE/iam_user.1.1.csv", "");
	inspect_ok(f);
	assert_int_equal(backup_table_find(&f->info, "iam_user")->rows, 3);
}

/* The flat layout data/<KIND>/; the nested one wins when both exist. */
static void
test_flat_layout(void **state)
{
	struct fixture *f = *state;
	char want[256], path[512];

	snprintf(path, sizeof(path), "%s/data/" DB, f->dir);
	rm_tree(path);
	build_real(f, "data");
	inspect_ok(f);
	snprintf(want, sizeof(want), "%s/data", f->dir);
	assert_string_equal(f->info.objdir, want);
	assert_string_equal(f->info.version, "4.2.0.43");
	assert_int_equal(f->info.n_tables, 4);
	assert_int_equal(f->info.n_objects, 1);
	/* No database level: any database name reads it. */
	inspect_ok(f);
	backup_info_free(&f->info);
	assert_int_equal(backup_inspect(f->dir, "another_db", &f->info, f->err, sizeof(f->err)), 0);
	assert_string_equal(f->info.objdir, want);

	/* A database folder beside the kinds is not an object folder. */
	mkdirs(f, "data/other_db");
	inspect_fails(f, DB, "/data/other_db: not an object folder", NULL);

	/* Nested wins. */
	mkdirs(f, "data/" DB);
	build_real(f, "data/" DB);
	snprintf(path, sizeof(path), "%s/data/other_db", f->dir);
	rm_tree(path);
	puts_file(f, "data/" DB "/TABLE/migrate_schema_history.1.0.csv",
	          "1,'4.2.0.8','init','V_4_2_0_8__init.sql','2023-09-01 10:00:00',1\n");
	puts_file(f, "data/" DB "/TABLE/iam_user.1.0.csv", "");
	puts_file(f, "data/" DB "/TABLE/iam_user.1.1.csv", "");
	puts_file(f, "data/" DB "/TABLE/child.0.0.csv", "");
	puts_file(f, "data/" DB "/TABLE/e.1.0.csv", "");
	inspect_ok(f);
	snprintf(want, sizeof(want), "%s/data/" DB, f->dir);
	assert_string_equal(f->info.objdir, want);
	assert_string_equal(f->info.version, "4.2.0.8");
	assert_false(f->info.header);
}

/* Folders beside TABLE/: sorted objects; only schema files in them. */
static void
test_objects(void **state)
{
	struct fixture *f = *state;
	char path[512];

	mkdirs(f, "data/" DB "/SEQUENCE");
	puts_file(f, "data/" DB "/SEQUENCE/seq_b-schema.sql", "CREATE SEQUENCE seq_b;\n");
	puts_file(f, "data/" DB "/SEQUENCE/seq_a-schema.sql", "CREATE SEQUENCE seq_a;\n");
	mkdirs(f, "data/" DB "/TABLE_GROUP");
	puts_file(f, "data/" DB "/VIEW/a_view-schema.sql", "CREATE VIEW a_view AS SELECT 1;\n");
	inspect_ok(f);
	assert_int_equal(f->info.n_objects, 4);
	assert_string_equal(f->info.objects[0].kind, "SEQUENCE");
	assert_string_equal(f->info.objects[0].name, "seq_a");
	assert_string_equal(f->info.objects[1].name, "seq_b");
	assert_string_equal(f->info.objects[2].kind, "VIEW");
	assert_string_equal(f->info.objects[2].name, "a_view");
	assert_string_equal(f->info.objects[3].name, "list_view");

	/* A data file outside TABLE/. */
	puts_file(f, "data/" DB "/VIEW/list_view.1.0.csv", "1\n");
	inspect_fails(
	    f, DB, "/VIEW/list_view.1.0.csv: a data file in VIEW/ (only TABLE/ holds data)", NULL);
	rm(f, "data/" DB "/VIEW/list_view.1.0.csv");
	puts_file(f, "data/" DB "/SEQUENCE/notes.txt", "x");
	inspect_fails(f, DB, "/SEQUENCE/notes.txt: unknown file (expected <name>-schema.sql)",
	              NULL);
	rm(f, "data/" DB "/SEQUENCE/notes.txt");

	/* A view that does not parse, or is another view. */
	puts_file(f, "data/" DB "/VIEW/a_view-schema.sql", "CREATE VIEW b_view AS SELECT 1;\n");
	inspect_fails(f, DB,
	              "/VIEW/a_view-schema.sql: line 1: CREATE VIEW `b_view`, but this is the "
	              "schema file of view a_view",
	              NULL);
	rm(f, "data/" DB "/VIEW/a_view-schema.sql");

	/* Folder names, links. */
	mkdirs(f, "data/" DB "/view");
	inspect_fails(f, DB, "/data/" DB "/view: not an object folder", NULL);
	snprintf(path, sizeof(path), "%s/data/" DB "/view", f->dir);
	assert_int_equal(rmdir(path), 0);
	snprintf(path, sizeof(path), "%s/data/" DB "/TRIGGER", f->dir);
	assert_int_equal(symlink("VIEW", path), 0);
	inspect_fails(f, DB, "/data/" DB "/TRIGGER: is a symbolic link", NULL);
	assert_int_equal(unlink(path), 0);
	snprintf(path, sizeof(path), "%s/data/" DB "/VIEW/x_view-schema.sql", f->dir);
	assert_int_equal(symlink("list_view-schema.sql", path), 0);
	inspect_fails(f, DB, "/VIEW/x_view-schema.sql: is a symbolic link", NULL);
	assert_int_equal(unlink(path), 0);
	/* A data/MANIFEST.bin that is a link. */
	rm(f, "data/MANIFEST.bin");
	snprintf(path, sizeof(path), "%s/data/MANIFEST.bin", f->dir);
	assert_int_equal(symlink("CHECKPOINT.bin", path), 0);
	inspect_fails(f, DB, "/data/MANIFEST.bin: is a symbolic link", NULL);
}

static void
test_schema_read(void **state)
{
	struct fixture *f = *state;
	char *text = NULL, path[512];
	size_t len = 0;

	inspect_ok(f);
	assert_int_equal(
	    backup_schema_read(&f->info, "VIEW", "list_view", &text, &len, f->err, sizeof(f->err)),
	    0);
	assert_string_equal(text, real_view);
	assert_int_equal(len, strlen(real_view));
	free(text);
	assert_int_equal(
	    backup_schema_read(&f->info, "TABLE", "child", &text, &len, f->err, sizeof(f->err)), 0);
	assert_string_equal(text, real_child_schema);
	free(text);

	assert_int_equal(
	    backup_schema_read(&f->info, "TABLE", "nope", &text, &len, f->err, sizeof(f->err)), -1);
	assert_null(text);
	assert_non_null(strstr(f->err, "/data/" DB "/TABLE/nope-schema.sql: No such file"));
	assert_int_equal(
	    backup_schema_read(&f->info, "../TABLE", "child", &text, &len, f->err, sizeof(f->err)),
	    -1);
	assert_int_equal(
	    backup_schema_read(&f->info, "TABLE", "../x", &text, &len, f->err, sizeof(f->err)), -1);

	/* Links are not followed, neither the file nor a folder. */
	snprintf(path, sizeof(path), "%s/data/" DB "/TABLE/lnk-schema.sql", f->dir);
	assert_int_equal(symlink("child-schema.sql", path), 0);
	assert_int_equal(
	    backup_schema_read(&f->info, "TABLE", "lnk", &text, &len, f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "lnk-schema.sql: is a symbolic link"));
	snprintf(path, sizeof(path), "%s/data/" DB "/TRIGGER", f->dir);
	assert_int_equal(symlink("TABLE", path), 0);
	assert_int_equal(
	    backup_schema_read(&f->info, "TRIGGER", "child", &text, &len, f->err, sizeof(f->err)),
	    -1);
	assert_non_null(strstr(f->err, "symbolic link"));

	/* The flat layout. */
	backup_info_free(&f->info);
	snprintf(path, sizeof(path), "%s/data/" DB, f->dir);
	rm_tree(path);
	build_real(f, "data");
	inspect_ok(f);
	assert_int_equal(
	    backup_schema_read(&f->info, "VIEW", "list_view", &text, &len, f->err, sizeof(f->err)),
	    0);
	assert_string_equal(text, real_view);
	free(text);
}

/* The reader in the real tool's dialects. */
static void
test_csv_dialects(void **state)
{
	struct fixture *f = *state;
	const struct backup_dialect sq_esc = {'\'', '\\', false}, sq_hdr = {'\'', '\\', true},
	                            sq_rfc = {'\'', 0, false}, bad = {'`', 0, false};
	struct rec r;
	static const char esc[] = "'a\\'b','c\\\\d','\\N',\\N,\\E,'\\E','x\ny','t\\tu\\n',"
	                          "x\\,y,'\"'\n";

	memset(&r, 0, sizeof(r));
	assert_int_equal(csv_ds(f, &sq_esc, esc, &r), 1);
	assert_string_equal(r.text, "a'b|c\\d|\\N|<NULL>||\\E|x\ny|t\tu\n|x,y|\";");

	/* Doubled quotes only: the backslash is plain. */
	memset(&r, 0, sizeof(r));
	assert_int_equal(csv_ds(f, &sq_rfc, "'a''b','c\\','\\N',\\N,\\E\n", &r), 1);
	assert_string_equal(r.text, "a'b|c\\|\\N|<NULL>|;");

	/* The header is neither counted nor passed. */
	memset(&r, 0, sizeof(r));
	assert_int_equal(csv_ds(f, &sq_hdr, "'id','v'\n1,'a'\n2,'b'\n", &r), 2);
	assert_string_equal(r.text, "1|a;2|b;");
	assert_int_equal(csv_ds(f, &sq_hdr, "'id','v'\n", NULL), 0);
	assert_int_equal(csv_ds(f, &sq_hdr, "", NULL), 0);

	/* The line of an error counts raw newlines. */
	assert_int_equal(csv_ds(f, &sq_esc, "'a\nb'\n'c\\'\n", NULL), -1);
	assert_non_null(strstr(f->err, "t.csv:3: unterminated quote"));

	assert_int_equal(csv_ds(f, &bad, "1\n", NULL), -1);
	assert_non_null(strstr(f->err, "unsupported CSV dialect"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_good_backup, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_version_numeric, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_manifest_optional, setup, teardown),
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
	    cmocka_unit_test_setup_teardown(test_csv_dialects, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_real_backup, setup_real, teardown),
	    cmocka_unit_test_setup_teardown(test_real_no_manifest, setup_real, teardown),
	    cmocka_unit_test_setup_teardown(test_real_doubled_quotes, setup_real, teardown),
	    cmocka_unit_test_setup_teardown(test_real_field_count, setup_real, teardown),
	    cmocka_unit_test_setup_teardown(test_real_header_mix, setup_real, teardown),
	    cmocka_unit_test_setup_teardown(test_flat_layout, setup_real, teardown),
	    cmocka_unit_test_setup_teardown(test_objects, setup_real, teardown),
	    cmocka_unit_test_setup_teardown(test_schema_read, setup_real, teardown),
	};

	return cmocka_run_group_tests_name("backup", tests, NULL, NULL);
}
