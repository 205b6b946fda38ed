/* Unit tests for agent/ddl: the columns of a table's schema file, its
 * CREATE TABLE without foreign keys and the keys as separate statements,
 * the statements that must be refused, and views without their definer.
 * Texts are what obdumper writes (generated DDL, SHOW CREATE TABLE with
 * --compact-schema) and what ODC's own migrations hold. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/ddl.h"

static char err[512];

static void
table_ok(const char *text, const char *name, struct ddl_table *t)
{
	err[0] = '\0';
	if (ddl_table_parse(text, strlen(text), name, t, err, sizeof(err)) != 0)
		fail_msg("ddl_table_parse: %s", err);
}

/* Parsing fails, *t is left zeroed and the message holds want. */
static void
table_fails(const char *text, const char *name, const char *want)
{
	struct ddl_table t;

	memset(&t, 0x5a, sizeof(t));
	err[0] = '\0';
	if (ddl_table_parse(text, strlen(text), name, &t, err, sizeof(err)) == 0)
		fail_msg("ddl_table_parse accepted: %s", text);
	assert_null(t.columns);
	assert_null(t.create);
	assert_null(t.foreign_keys);
	assert_int_equal(t.n_columns + t.n_foreign_keys + t.n_after, 0);
	assert_string_equal(t.name, "");
	if (strstr(err, want) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", err, want);
	ddl_table_free(&t);
}

static void
columns_are(const struct ddl_table *t, const char *const *want, size_t n)
{
	size_t i;

	assert_int_equal(t->n_columns, n);
	for (i = 0; i < n; i++)
		assert_string_equal(t->columns[i], want[i]);
}

/* obdumper's generated DDL (4.0.0, MySQL mode). */
static void
test_generated_ddl(void **state)
{
	static const char text[] = "create table if not exists `test_tbl1` (\n"
	                           "      `col1` int(11) not null,\n"
	                           "      `col2` varchar(30) default null,\n"
	                           "      `col3` int(11) default null,\n"
	                           "      primary key (`col1`)\n"
	                           ")\n"
	                           "default charset=utf8mb4\n"
	                           "default collate=utf8mb4_general_ci;\n";
	static const char *const cols[] = {"col1", "col2", "col3"};
	struct ddl_table t;

	(void)state;
	table_ok(text, "test_tbl1", &t);
	assert_string_equal(t.name, "test_tbl1");
	columns_are(&t, cols, 3);
	/* Unchanged but for the ';' and what follows it. */
	assert_int_equal(strlen(t.create), strlen(text) - 2);
	assert_memory_equal(t.create, text, strlen(text) - 2);
	assert_int_equal(t.n_foreign_keys, 0);
	assert_int_equal(t.n_after, 0);
	ddl_table_free(&t);
	assert_null(t.create);
	ddl_table_free(&t);
	ddl_table_free(NULL);
}

/* A named inline FK as the last element: it and the comma before it go. */
static void
test_fk_last_named(void **state)
{
	struct ddl_table t;

	(void)state;
	table_ok(
	    "CREATE TABLE `child` (\n"
	    "  `id` bigint NOT NULL,\n"
	    "  `parent_id` bigint,\n"
	    "  PRIMARY KEY (`id`),\n"
	    "  CONSTRAINT `fk_child_parent` FOREIGN KEY (`parent_id`) REFERENCES `parent` (`id`) "
	    "ON DELETE CASCADE\n"
	    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n",
	    "child", &t);
	assert_string_equal(t.create, "CREATE TABLE `child` (\n"
	                              "  `id` bigint NOT NULL,\n"
	                              "  `parent_id` bigint,\n"
	                              "  PRIMARY KEY (`id`)\n"
	                              ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4");
	assert_int_equal(t.n_foreign_keys, 1);
	assert_string_equal(t.foreign_keys[0],
	                    "ALTER TABLE `child` ADD CONSTRAINT `fk_child_parent` FOREIGN KEY "
	                    "(`parent_id`) REFERENCES `parent` (`id`) ON DELETE CASCADE");
	assert_string_equal(t.fk_parents[0], "parent");
	assert_int_equal(t.n_columns, 2);
	ddl_table_free(&t);
}

/* Unnamed constraints (CONSTRAINT FOREIGN KEY, bare FOREIGN KEY), in the
 * middle and first; several keys; a self reference; a parent with its
 * database. */
static void
test_fk_several(void **state)
{
	static const char *const cols[] = {"ID_", "PARENT_ID_", "PROC_DEF_ID_", "SUPER_EXEC_"};
	struct ddl_table t;

	(void)state;
	table_ok(
	    "create table ACT_RU_EXECUTION (\n"
	    "    ID_ varchar(64),\n"
	    "    foreign key (PARENT_ID_) references ACT_RU_EXECUTION (ID_),\n"
	    "    PARENT_ID_ varchar(64),\n"
	    "    constraint foreign key (PROC_DEF_ID_) references `odc`.`ACT_RE_PROCDEF` (ID_) "
	    "on delete set null on update cascade,\n"
	    "    PROC_DEF_ID_ varchar(64),\n"
	    "    SUPER_EXEC_ varchar(64),\n"
	    "    constraint ACT_FK_EXE_SUPER foreign key (SUPER_EXEC_) references "
	    "ACT_RU_EXECUTION (ID_) on delete cascade,\n"
	    "    primary key (ID_)\n"
	    ")",
	    "ACT_RU_EXECUTION", &t);
	columns_are(&t, cols, 4);
	assert_string_equal(t.create, "create table ACT_RU_EXECUTION (\n"
	                              "    ID_ varchar(64),\n"
	                              "    PARENT_ID_ varchar(64),\n"
	                              "    PROC_DEF_ID_ varchar(64),\n"
	                              "    SUPER_EXEC_ varchar(64),\n"
	                              "    primary key (ID_)\n"
	                              ")");
	assert_int_equal(t.n_foreign_keys, 3);
	assert_string_equal(t.foreign_keys[0], "ALTER TABLE `ACT_RU_EXECUTION` ADD foreign key "
	                                       "(PARENT_ID_) references ACT_RU_EXECUTION (ID_)");
	assert_string_equal(t.foreign_keys[1],
	                    "ALTER TABLE `ACT_RU_EXECUTION` ADD constraint foreign key "
	                    "(PROC_DEF_ID_) references `odc`.`ACT_RE_PROCDEF` (ID_) on delete set "
	                    "null on update cascade");
	assert_string_equal(
	    t.foreign_keys[2],
	    "ALTER TABLE `ACT_RU_EXECUTION` ADD constraint ACT_FK_EXE_SUPER foreign "
	    "key (SUPER_EXEC_) references ACT_RU_EXECUTION (ID_) on delete cascade");
	assert_string_equal(t.fk_parents[0], "ACT_RU_EXECUTION");
	assert_string_equal(t.fk_parents[1], "ACT_RE_PROCDEF");
	assert_string_equal(t.fk_parents[2], "ACT_RU_EXECUTION");
	ddl_table_free(&t);

	/* The first element a key: the comma after it goes. */
	table_ok("CREATE TABLE t (CONSTRAINT f FOREIGN KEY (a) REFERENCES p (id), a int, b int)",
	         "t", &t);
	assert_string_equal(t.create, "CREATE TABLE t ( a int, b int)");
	assert_int_equal(t.n_columns, 2);
	assert_string_equal(t.fk_parents[0], "p");
	ddl_table_free(&t);
}

/* Separate statements: ALTER TABLE ... ADD CONSTRAINT ... FOREIGN KEY goes
 * to the keys (after the body's), the table's other ALTERs and CREATE
 * INDEX to after; an ALTER that mixes both is split. */
static void
test_fk_alter(void **state)
{
	struct ddl_table t;

	(void)state;
	table_ok("ALTER TABLE `t` ADD CONSTRAINT `fk_a` FOREIGN KEY (`a`) REFERENCES `pa` (`id`);\n"
	         "CREATE TABLE `t` (\n"
	         "  `id` int,\n"
	         "  `a` int,\n"
	         "  `b` int,\n"
	         "  FOREIGN KEY (`b`) REFERENCES `pb` (`id`)\n"
	         ");\n"
	         "alter table t add index idx_a (a);\n"
	         "CREATE UNIQUE INDEX `uk_b` ON `t` (`b`);\n"
	         "CREATE INDEX idx_ab USING BTREE ON odc.t (a, b);\n"
	         "ALTER TABLE t ADD KEY k1 (id), ADD FOREIGN KEY fk_id (id) REFERENCES t (a), "
	         "ADD COLUMN c int;\n",
	         "t", &t);
	assert_string_equal(t.create, "CREATE TABLE `t` (\n"
	                              "  `id` int,\n"
	                              "  `a` int,\n"
	                              "  `b` int\n"
	                              ")");
	assert_int_equal(t.n_foreign_keys, 3);
	assert_string_equal(t.foreign_keys[0],
	                    "ALTER TABLE `t` ADD FOREIGN KEY (`b`) REFERENCES `pb` (`id`)");
	assert_string_equal(t.foreign_keys[1], "ALTER TABLE `t` ADD CONSTRAINT `fk_a` FOREIGN KEY "
	                                       "(`a`) REFERENCES `pa` (`id`)");
	assert_string_equal(t.foreign_keys[2],
	                    "ALTER TABLE `t` ADD FOREIGN KEY fk_id (id) REFERENCES t (a)");
	assert_string_equal(t.fk_parents[0], "pb");
	assert_string_equal(t.fk_parents[1], "pa");
	assert_string_equal(t.fk_parents[2], "t");
	assert_int_equal(t.n_after, 4);
	assert_string_equal(t.after[0], "alter table t add index idx_a (a)");
	assert_string_equal(t.after[1], "CREATE UNIQUE INDEX `uk_b` ON `t` (`b`)");
	assert_string_equal(t.after[2], "CREATE INDEX idx_ab USING BTREE ON odc.t (a, b)");
	assert_string_equal(t.after[3], "ALTER TABLE t ADD KEY k1 (id), ADD COLUMN c int");
	ddl_table_free(&t);
}

/* What is kept of an ALTER TABLE whose first clause was a foreign key
 * does not run into the table's name (found by fuzz_ddl). */
static void
test_fk_alter_kept_clause_spacing(void **state)
{
	struct ddl_table t;

	(void)state;
	table_ok("CREATE TABLE `t` (a int);\n"
	         "ALTER TABLE `t`ADD FOREIGN KEY (a) REFERENCES p(a), ADD COLUMN `x` int;\n",
	         "t", &t);
	assert_int_equal(t.n_foreign_keys, 1);
	assert_int_equal(t.n_after, 1);
	assert_string_equal(t.after[0], "ALTER TABLE `t` ADD COLUMN `x` int");
	ddl_table_free(&t);
}

/* "foreign key", commas and parentheses in comments, strings and
 * defaults are not elements; backquoted keywords are columns. */
static void
test_not_elements(void **state)
{
	static const char *const cols[] = {"key", "index", "a`b", "primary", "check", "note", "x"};
	struct ddl_table t;

	(void)state;
	table_ok("-- foreign key (a) references b, (\n"
	         "# CREATE TABLE other (x int);\n"
	         "/* ; foreign key, ( */\n"
	         "CREATE TABLE `odc_metadb`.`tricky` ( -- constraint, foreign key (\n"
	         "  `key` varchar(8) DEFAULT ',' COMMENT 'a foreign key (x) references y, z',\n"
	         "  `index` int /* , foreign key (i) references j */,\n"
	         "  `a``b` enum('(', ')', ',') DEFAULT '(',\n"
	         "  `primary` varchar(9) DEFAULT 'it''s, \\'(;',\n"
	         "  `check` varchar(9) DEFAULT \"\\\"), foreign key (\",\n"
	         "  note text COMMENT 'REFERENCES parent (id)',\n"
	         "  x decimal(10, 2),\n"
	         "  KEY `idx` (`key`, `index`),\n"
	         "  UNIQUE KEY uk (x),\n"
	         "  CHECK (x > 0)\n"
	         ") COMMENT='foreign key; ok';\n"
	         "/* trailing */\n",
	         "tricky", &t);
	columns_are(&t, cols, 7);
	assert_int_equal(t.n_foreign_keys, 0);
	assert_non_null(strstr(t.create, "CHECK (x > 0)\n) COMMENT='foreign key; ok'"));
	assert_int_equal(t.create[strlen(t.create) - 1], '\'');
	ddl_table_free(&t);

	/* Keywords in any case; SHOW CREATE TABLE text with OceanBase options
	 * and an executable comment. */
	table_ok("CrEaTe TeMpOrArY TaBlE If NoT ExIsTs t (\n"
	         "  `id` bigint(20) NOT NULL AUTO_INCREMENT,\n"
	         "  PRIMARY KEY (`id`) BLOCK_SIZE 16384 LOCAL,\n"
	         "  Constraint `f` Foreign Key (`id`) References `p` (`id`)\n"
	         ") AUTO_INCREMENT = 1000001 DEFAULT CHARSET = utf8mb4 COMPRESSION = 'zstd_1.3.8' "
	         "/*!50100 PARTITION BY HASH (id) */",
	         "t", &t);
	assert_int_equal(t.n_columns, 1);
	assert_int_equal(t.n_foreign_keys, 1);
	assert_non_null(strstr(t.create, "LOCAL\n) AUTO_INCREMENT"));
	assert_non_null(strstr(t.create, "/*!50100 PARTITION BY HASH (id) */"));
	ddl_table_free(&t);
}

static void
test_refused(void **state)
{
	char name65[80], big[200];
	char *huge;

	(void)state;
	table_fails("CREATE TABLE `other` (`id` int);", "t",
	            "line 1: CREATE TABLE `other`, but this is the schema file of table t");
	table_fails("CREATE TABLE t (id int);\n\nALTER TABLE other ADD COLUMN x int;", "t",
	            "line 3: schema file holds a statement that is not about table t: ALTER TABLE "
	            "other ADD COLUMN x int");
	table_fails("CREATE TABLE t (id int);\nCREATE TABLE other (id int);", "t",
	            "line 2: CREATE TABLE `other`");
	table_fails("DROP TABLE IF EXISTS `t`;\nCREATE TABLE t (id int);", "t",
	            "line 1: schema file holds a statement that is not about table t: DROP TABLE "
	            "IF EXISTS `t`");
	table_fails(
	    "CREATE TABLE t (id int); INSERT INTO t VALUES (1), (2), (3), (4), (5), (6), "
	    "(7), (8), (9), (10), (11);",
	    "t", "not about table t: INSERT INTO t VALUES (1), (2), (3), (4), (5), (6), (7), (8),");
	table_fails("CREATE TABLE t (id int); CREATE INDEX i ON other (id);", "t",
	            "not about table t: CREATE INDEX i ON other (id)");
	table_fails("CREATE TABLE t (id int); CREATE VIEW v AS SELECT 1;", "t",
	            "not about table t: CREATE VIEW");
	table_fails("CREATE TABLE t (id int);\nCREATE TABLE t (id int);", "t",
	            "line 2: a second CREATE TABLE `t` (the first is on line 1)");
	table_fails("-- nothing\n", "t", "no CREATE TABLE statement for table t");
	table_fails("", "t", "no CREATE TABLE statement");
	table_fails("CREATE TABLE t LIKE s;", "t", "has no column list");
	table_fails("CREATE TABLE t (PRIMARY KEY (id));", "t", "declares no column");
	table_fails("CREATE TABLE t ();", "t", "empty body");
	table_fails("CREATE TABLE t (a int,, b int);", "t", "empty element 2");
	table_fails("CREATE TABLE t (a int,\n 'x' int);", "t",
	            "line 2: element 2 of CREATE TABLE `t` is neither a column nor a key: 'x' int");
	table_fails("CREATE TABLE t (a int, FOREIGN KEY (a));", "t",
	            "FOREIGN KEY without REFERENCES");
	table_fails("CREATE TABLE t (a int,\n b varchar(3) DEFAULT 'x);", "t",
	            "line 2: unterminated string");
	table_fails("CREATE TABLE t (a int) /* never closed;", "t", "unterminated comment");
	table_fails("CREATE TABLE t (`a int);", "t", "unterminated backquoted name");
	table_fails("CREATE TABLE t (a int;\n", "t", "unbalanced parentheses");
	table_fails("CREATE TABLE t (a int));", "t", "unbalanced parentheses");

	/* Names of 64 bytes are fine, 65 are not. */
	memset(name65, 'n', 65);
	name65[65] = '\0';
	snprintf(big, sizeof(big), "CREATE TABLE t (`%s` int)", name65);
	table_fails(big, "t", "a column name longer than 64 bytes");
	name65[64] = '\0';
	snprintf(big, sizeof(big), "CREATE TABLE t (`%s` int)", name65);
	{
		struct ddl_table t;

		table_ok(big, "t", &t);
		assert_string_equal(t.columns[0], name65);
		ddl_table_free(&t);
	}

	/* A NUL byte; more than 1 MiB. */
	{
		struct ddl_table t;
		static const char nul[] = "CREATE TABLE t (a int)\0;";

		assert_int_equal(ddl_table_parse(nul, sizeof(nul) - 1, "t", &t, err, sizeof(err)),
		                 -1);
		assert_non_null(strstr(err, "NUL byte"));
		huge = malloc(DDL_TEXT_MAX + 1);
		assert_non_null(huge);
		memset(huge, ' ', DDL_TEXT_MAX + 1);
		memcpy(huge, "CREATE TABLE t (a int)", 22);
		assert_int_equal(ddl_table_parse(huge, DDL_TEXT_MAX + 1, "t", &t, err, sizeof(err)),
		                 -1);
		assert_non_null(strstr(err, "longer than 1048576 bytes"));
		assert_int_equal(ddl_table_parse(huge, DDL_TEXT_MAX, "t", &t, err, sizeof(err)), 0);
		ddl_table_free(&t);
		free(huge);
	}
}

/* 4096 elements are fine, 4097 are not. */
static void
test_element_bound(void **state)
{
	struct ddl_table t;
	size_t cap = 20 * 4200, len, i;
	char *s = malloc(cap);

	(void)state;
	assert_non_null(s);
	len = (size_t)snprintf(s, cap, "CREATE TABLE t (c0 int");
	for (i = 1; i < DDL_MAX_ELEMENTS; i++)
		len += (size_t)snprintf(s + len, cap - len, ", c%zu int", i);
	memcpy(s + len, ")", 2);
	table_ok(s, "t", &t);
	assert_int_equal(t.n_columns, DDL_MAX_ELEMENTS);
	ddl_table_free(&t);
	snprintf(s + len, cap - len, ", cx int)");
	table_fails(s, "t", "more than 4096 elements");
	free(s);
}

static void
view_ok(const char *text, const char *name, const char *want_create)
{
	struct ddl_view v;

	err[0] = '\0';
	if (ddl_view_parse(text, strlen(text), name, &v, err, sizeof(err)) != 0)
		fail_msg("ddl_view_parse: %s", err);
	assert_string_equal(v.name, name);
	assert_string_equal(v.create, want_create);
	ddl_view_free(&v);
	assert_null(v.create);
}

static void
view_fails(const char *text, const char *name, const char *want)
{
	struct ddl_view v;

	memset(&v, 0x5a, sizeof(v));
	if (ddl_view_parse(text, strlen(text), name, &v, err, sizeof(err)) == 0)
		fail_msg("ddl_view_parse accepted: %s", text);
	assert_null(v.create);
	assert_string_equal(v.name, "");
	if (strstr(err, want) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", err, want);
}

static void
test_views(void **state)
{
	(void)state;
	/* SHOW CREATE VIEW text. */
	view_ok("CREATE ALGORITHM=UNDEFINED DEFINER=`root`@`%` SQL SECURITY DEFINER VIEW "
	        "`list_flow_instance_view` AS select `f`.`id` AS `id`, 'DEFINER=x' AS `d` from "
	        "`flow_instance` `f`;\n",
	        "list_flow_instance_view",
	        "CREATE ALGORITHM=UNDEFINED VIEW `list_flow_instance_view` AS select `f`.`id` AS "
	        "`id`, 'DEFINER=x' AS `d` from `flow_instance` `f`");
	view_ok("create or replace definer = 'odc'@'10.0.0.%' sql security invoker view v (a, b) "
	        "as select 1, 2 with cascaded check option",
	        "v", "create or replace view v (a, b) as select 1, 2 with cascaded check option");
	view_ok("CREATE DEFINER=CURRENT_USER() VIEW `odc`.`v` AS SELECT definer FROM t", "v",
	        "CREATE VIEW `odc`.`v` AS SELECT definer FROM t");
	view_ok("-- a view\nCREATE DEFINER=odc@localhost VIEW v AS SELECT 1;\n/* end */", "v",
	        "CREATE VIEW v AS SELECT 1");
	view_ok("CREATE VIEW v AS SELECT 1", "v", "CREATE VIEW v AS SELECT 1");

	view_fails("CREATE VIEW w AS SELECT 1", "v",
	           "CREATE VIEW `w`, but this is the schema file of view v");
	view_fails("CREATE VIEW v AS SELECT 1; DROP TABLE t", "v",
	           "schema file holds a statement that is not about view v: DROP TABLE t");
	view_fails("CREATE TABLE v (a int)", "v", "not about view v: CREATE TABLE v");
	view_fails("CREATE VIEW v AS SELECT 1; CREATE VIEW v AS SELECT 2", "v",
	           "a second CREATE VIEW");
	view_fails("CREATE VIEW v SELECT 1", "v", "CREATE VIEW `v` without AS");
	view_fails("CREATE DEFINER= @'%' VIEW v AS SELECT 1", "v", "malformed DEFINER clause");
	view_fails("CREATE ALGORITHM=FAST VIEW v AS SELECT 1", "v", "malformed ALGORITHM clause");
	view_fails("", "v", "no CREATE VIEW statement for view v");
	view_fails("CREATE VIEW v AS SELECT 'x", "v", "unterminated string");
	ddl_view_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_generated_ddl),
	    cmocka_unit_test(test_fk_last_named),
	    cmocka_unit_test(test_fk_several),
	    cmocka_unit_test(test_fk_alter),
	    cmocka_unit_test(test_fk_alter_kept_clause_spacing),
	    cmocka_unit_test(test_not_elements),
	    cmocka_unit_test(test_refused),
	    cmocka_unit_test(test_element_bound),
	    cmocka_unit_test(test_views),
	};

	return cmocka_run_group_tests_name("ddl", tests, NULL, NULL);
}
