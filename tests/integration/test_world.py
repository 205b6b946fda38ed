"""The test world behaves like the real ODC and obloader/obdumper, flaws included: if these
fail, the agent's integration tests prove nothing."""

import datetime
import hashlib
import json
import os
import stat
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.world import obtools, odcworld
from tests.world.odcworld import OLD_VERSION, version_key

MIGRATE_SRC = odcworld.WORLD / "odc" / "migrate"  # the stand-in's migration files, per release
JDBC = "com.oceanbase.odc.migrate.jdbc.common."
NO_CHECKSUM = "no checksum for JDBC"
# ODC's JDBC migrators the stand-in has: class -> (version, @Migratable description).
JDBC_MIGRATORS = {
    "V3234SystemConfigurationMigrate": ("3.2.3.4", "migrate config_system_configuration value"),
    "R4201AuditEventMetaMigrate": ("4.2.0.1", "Built-in audit event meta migrate"),
    "R42017RuleMetadataMigrate": ("4.2.0.17", "init regulation rule metadata"),
    "R4237DefaultRuleApplyingMigrate": ("4.2.3.7", "init default regulation rule applying"),
    "R4239AuditEventMetaMigrate": ("4.2.3.9", "Built-in audit event meta migrate"),
    "R4243NotificationPolicyMetaMigrate": ("4.2.4.3",
                                           "Built-in notification policy metadata migrate"),
}
# What ODC runs, in its order (numeric versions; VERSIONED before REPEATABLE in a version), on
# the first start of the stand-in's 4.2.0 on an empty metadb ...
FIRST_START_420 = [
    "V_3_2_0__enterprise_console_schema.sql", "V_3_2_1__add_set_top_column.sql",
    "V_3_2_3_3__alter_config_system_configuration.sql", "V3234SystemConfigurationMigrate",
    "V_3_3_0_1__add_flow.sql", "V_3_3_0_2__connection_support_odp.sql",
    "R_3_3_1__initialize_flowable.sql", "V_3_3_2_1__alter_connection_user.sql",
    "V_3_3_3_0__alter_connect_connection.sql", "V_3_4_0_16__alter_flow_approval.sql",
    "V_3_5_0_8__partition_plan.sql", "V_4_1_0_2__set_top_label.sql",
    "V_4_1_0_4__alter_connect_connection.sql", "V_4_1_0_16__add_iam_user_permission.sql",
    "V_4_1_2_2__flow_instance_add_index.sql", "R4201AuditEventMetaMigrate",
    "V_4_2_0_6__add_project.sql", "V_4_2_0_9__alter_iam_organization.sql",
    "V_4_2_0_12__add_extra_info_to_iam_user.sql", "V_4_2_0_16__alter_flow_instance.sql",
    "R42017RuleMetadataMigrate",
    "V_4_2_0_32__alter_flow_instance_node_approval_candidate.sql",
    "V_4_2_0_41__add_list_flow_instance_view.sql",
]
# ... on every later start of 4.2.0 (ignoreChecksum repeatables) ...
RESTART_420 = ["R4201AuditEventMetaMigrate", "R42017RuleMetadataMigrate"]
# ... on the first start of 4.3.0 over a 4.2.0 metadb (R4201 is gone from ODC 4.2.3 on) ...
UPGRADE_430 = [
    "R42017RuleMetadataMigrate", "V_4_2_1_6__alter_connect_database.sql",
    "V_4_2_3_1__alter_list_flow_instance_view.sql", "V_4_2_3_4__alter_connect_connection.sql",
    "R4237DefaultRuleApplyingMigrate", "R4239AuditEventMetaMigrate",
    "V_4_2_3_15__add_flow_instance_index.sql", "V_4_2_3_18__create_list_flow_instance_view.sql",
    "V_4_2_4_1__alter_iam_permission.sql", "R4243NotificationPolicyMetaMigrate",
    "V_4_2_4_5__add_oracle_config_connect_connection.sql",
    "V_4_2_4_6__add_list_user_database_permission_view.sql",
    "V_4_3_0_2__add_object_search.sql", "V_4_3_0_7__alter_flow_instance_node_add_index.sql",
    "V_4_3_0_11__alter_iam_permission.sql", "V_4_3_0_12__add_list_user_table_permission_view.sql",
    "V_4_3_0_14__add_logical_database.sql", "V_4_3_0_22__alter_connect_connection.sql",
    "V_4_3_0_32__alter_list_user_table_permission_view.sql",
]
# ... and on every later start of 4.3.0.
RESTART_430 = ["R42017RuleMetadataMigrate", "R4237DefaultRuleApplyingMigrate",
               "R4239AuditEventMetaMigrate", "R4243NotificationPolicyMetaMigrate"]
NEW_MAX = "4.3.0.32"  # the highest migration of the stand-in's 4.3.0
OLD_MAX = "4.2.0.41"  # ... and of its 4.2.0

# In information_schema's order (its collation is case-insensitive).
TABLES_420 = sorted([
    "ACT_GE_BYTEARRAY", "ACT_GE_PROPERTY", "ACT_RE_DEPLOYMENT", "ACT_RE_PROCDEF",
    "ACT_RU_EXECUTION", "ACT_RU_IDENTITYLINK", "ACT_RU_JOB", "ACT_RU_TASK", "ACT_RU_VARIABLE",
    "config_system_configuration", "connect_connection", "connect_database", "flow_instance",
    "flow_instance_node_task", "iam_organization", "iam_permission", "iam_user",
    "iam_user_organization", "iam_user_permission", "migrate_schema_history",
    "DISTRIBUTED_LOCK"], key=str.upper)  # ODC's lock table: made on every start, empty at rest
TABLES_430 = sorted(TABLES_420 + ["database_schema_object"], key=str.upper)
VIEWS_430 = ["list_flow_instance_view", "list_user_database_permission_view",
             "list_user_table_permission_view"]
# Flowable's foreign keys (R_3_3_1__initialize_flowable.sql): name -> (table, referenced).
FOREIGN_KEYS = {
    "ACT_FK_BYTEARR_DEPL": ("ACT_GE_BYTEARRAY", "ACT_RE_DEPLOYMENT"),
    "ACT_FK_EXE_PROCDEF": ("ACT_RU_EXECUTION", "ACT_RE_PROCDEF"),
    "ACT_FK_EXE_SUPER": ("ACT_RU_EXECUTION", "ACT_RU_EXECUTION"),
    "ACT_FK_EXE_PARENT": ("ACT_RU_EXECUTION", "ACT_RU_EXECUTION"),
    "ACT_FK_EXE_PROCINST": ("ACT_RU_EXECUTION", "ACT_RU_EXECUTION"),
    "ACT_FK_JOB_PROC_DEF": ("ACT_RU_JOB", "ACT_RE_PROCDEF"),
    "ACT_FK_JOB_PROCESS_INSTANCE": ("ACT_RU_JOB", "ACT_RU_EXECUTION"),
    "ACT_FK_JOB_EXECUTION": ("ACT_RU_JOB", "ACT_RU_EXECUTION"),
    "ACT_FK_JOB_CUSTOM_VALUES": ("ACT_RU_JOB", "ACT_GE_BYTEARRAY"),
    "ACT_FK_JOB_EXCEPTION": ("ACT_RU_JOB", "ACT_GE_BYTEARRAY"),
    "ACT_FK_TASK_PROCDEF": ("ACT_RU_TASK", "ACT_RE_PROCDEF"),
    "ACT_FK_TASK_PROCINST": ("ACT_RU_TASK", "ACT_RU_EXECUTION"),
    "ACT_FK_TASK_EXE": ("ACT_RU_TASK", "ACT_RU_EXECUTION"),
    "ACT_FK_IDL_PROCINST": ("ACT_RU_IDENTITYLINK", "ACT_RU_EXECUTION"),
    "ACT_FK_ATHRZ_PROCEDEF": ("ACT_RU_IDENTITYLINK", "ACT_RE_PROCDEF"),
    "ACT_FK_TSKASS_TASK": ("ACT_RU_IDENTITYLINK", "ACT_RU_TASK"),
    "ACT_FK_VAR_PROCINST": ("ACT_RU_VARIABLE", "ACT_RU_EXECUTION"),
    "ACT_FK_VAR_EXE": ("ACT_RU_VARIABLE", "ACT_RU_EXECUTION"),
    "ACT_FK_VAR_BYTEARRAY": ("ACT_RU_VARIABLE", "ACT_GE_BYTEARRAY"),
}
BLOB_7508 = bytes.fromhex("ACED0005740009272C5C0A00E4BDA0")  # 0x00 ' , \ LF and UTF-8 bytes


def expected_row(name):
    """(version, description, type, script, checksum) ODC writes for the migrator `name` (a
    shipped file, or a JDBC class): a file's version and description come from its name
    (SqlMigrator.java:64-81), its checksum is the sha1 of its bytes."""
    if name in JDBC_MIGRATORS:
        version, description = JDBC_MIGRATORS[name]
        return (version, description, "JDBC", JDBC + name, NO_CHECKSUM)
    path = next(MIGRATE_SRC.glob(f"*/{name}"))
    head, tail = name[:-len(".sql")].split("__")
    return (head[2:].replace("_", "."), tail.replace("_", " "), "SQL", name,
            hashlib.sha1(path.read_bytes()).hexdigest())


def history(host):
    """migrate_schema_history as (version, description, type, script, checksum) in
    install_rank order, after checking what every row shares (success, who, when, how long)."""
    rows = host.sql("SELECT install_rank, version, description, type, script, checksum, "
                    "installed_by, installed_on, execution_millis, success "
                    "FROM migrate_schema_history ORDER BY install_rank")
    assert [r[0] for r in rows] == list(range(1, len(rows) + 1))
    for r in rows:
        assert r[6] == f"{host.login}@%", r  # CURRENT_USER()
        assert r[7] is not None and r[8] >= 0 and r[9] == 1, r
    return [tuple(r[1:6]) for r in rows]


def restart(host, name=None):
    """docker restart of the running container; waits until ODC answers again."""
    name = name or host.name
    version = host.engine.inspect(name)["Config"]["Image"].rsplit(":", 1)[1]
    host.engine.docker("restart", name)
    host.wait_healthy(version, name=name)


def backup_counts(backup_dir, db):
    """{table: rows} of any backup dir, read as the stand-in loader reads it (every row)."""
    return obtools.backup_row_counts(backup_dir, db)


def foreign_keys(host):
    rows = host.sql("SELECT CONSTRAINT_NAME, TABLE_NAME, REFERENCED_TABLE_NAME "
                    "FROM information_schema.REFERENTIAL_CONSTRAINTS "
                    "WHERE CONSTRAINT_SCHEMA = %s", (host.db,))
    return {r[0]: (r[1], r[2]) for r in rows}


# ---------------------------------------------------------------- the ODC stand-in


def test_upgraded_host_is_healthy_at_new_version(odc_host):
    host = odc_host()
    status, body = host.get("/api/v1/heartbeat/isHealthy")
    doc = json.loads(body)
    assert status == 200 and doc["data"] is True and doc["successful"] is True
    assert doc["httpStatus"] == "OK"
    status, body = host.get("/api/v1/info")
    assert status == 200 and json.loads(body)["data"]["version"] == odcworld.NEW_BUILD
    assert host.get("/api/v1/status") == (200, "okay")
    status, body = host.get("/api/v1/nope")
    assert status == 404 and json.loads(body)["successful"] is False

    assert host.max_history_version() == NEW_MAX
    assert host.tables() == TABLES_430 and host.views() == VIEWS_430
    assert "object_sync_status" in host.columns("connect_database")
    info = host.engine.inspect(host.name)
    assert info["Config"]["Image"] == host.images.new
    assert info["HostConfig"]["NetworkMode"] == "host"
    assert info["HostConfig"]["Memory"] == 8 * 1024**3
    assert info["HostConfig"]["CpuQuota"] == 400000
    assert sorted(m["Destination"] for m in info["Mounts"]) == ["/opt/odc/data", "/opt/odc/log"]
    env = dict(e.split("=", 1) for e in info["Config"]["Env"])
    assert env["DATABASE_USERNAME"] == host.login and env["ODC_PROFILE_MODE"] == "alipay"
    # Each image carries its own JAVA_OPTS: copying the old env into the new
    # container would show.
    old_env = host.engine.inspect(host.images.old)["Config"]["Env"]
    assert env["JAVA_OPTS"] not in [e.split("=", 1)[1] for e in old_env if e.startswith("JAVA_OPTS=")]
    # The log mount is where ODC writes its log file.
    assert "Started OdcServer 4.3.0" in Path(host.log_dir, "odc.log").read_text()
    assert stat.S_IMODE(os.stat(host.password_file).st_mode) == 0o600
    assert Path(host.password_file).read_text() == host.password


def test_fresh_420_metadb_has_odcs_history_and_grows_on_restart(odc_host):
    host = odc_host(upgrade=False)  # 4.2.0 installed on an empty metadb, still running
    want = [expected_row(n) for n in FIRST_START_420]
    assert history(host) == want
    # R_ files have a version too; the repeatable Flowable script ran once.
    assert ("3.3.1", "initialize flowable", "SQL", "R_3_3_1__initialize_flowable.sql",
            expected_row("R_3_3_1__initialize_flowable.sql")[4]) in want
    # String order is not version order: SQL's MAX says 4.2.0.9, ODC's numeric one 4.2.0.41.
    assert host.sql("SELECT MAX(version) FROM migrate_schema_history")[0][0] == "4.2.0.9"
    assert host.max_history_version() == OLD_MAX
    assert host.tables() == TABLES_420 and host.views() == ["list_flow_instance_view"]
    # 4.2.0.41's view: flow_instance.* of the moment plus one task type of a listed kind.
    assert host.sql("SELECT id, task_type FROM list_flow_instance_view") == [(1, "ASYNC")]
    # The history table is ODC's template, ALTERed script column included.
    cols = host.sql("SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE FROM information_schema.COLUMNS "
                    "WHERE TABLE_SCHEMA=%s AND TABLE_NAME='migrate_schema_history' "
                    "ORDER BY ORDINAL_POSITION", (host.db,))
    assert cols == [("install_rank", "bigint(20)", "NO"), ("version", "varchar(64)", "YES"),
                    ("description", "varchar(64)", "YES"), ("type", "varchar(64)", "YES"),
                    ("script", "varchar(128)", "YES"), ("checksum", "varchar(64)", "YES"),
                    ("installed_by", "varchar(64)", "YES"), ("installed_on", "datetime", "NO"),
                    ("execution_millis", "bigint(20)", "NO"), ("success", "tinyint(1)", "NO")]
    # Every start runs the ignoreChecksum JDBC repeatables again: the history grows.
    for n in (1, 2):
        restart(host)
        want += [expected_row(m) for m in RESTART_420]
        assert history(host) == want, n
    logs = host.logs()
    assert "skip migrated versioned migrator, version=4.2.0.41" in logs
    assert "skip checksum matched repeatable migrator, version=3.3.1" in logs


def test_upgraded_metadb_has_odcs_schema_views_and_history(odc_host):
    host = odc_host()
    rows = history(host)
    first = [expected_row(n) for n in FIRST_START_420]
    assert rows[:len(first)] == first
    assert rows[len(first):] == [expected_row(n) for n in UPGRADE_430]
    assert [r[3] for r in rows].count("R_3_3_1__initialize_flowable.sql") == 1
    assert host.sql("SELECT MAX(version) FROM migrate_schema_history")[0][0] == "4.3.0.7"
    assert host.max_history_version() == NEW_MAX

    # Flowable's foreign keys, three of them ACT_RU_EXECUTION on itself; ODC's own tables
    # have none.
    assert foreign_keys(host) == FOREIGN_KEYS
    rules = dict(((r[0], (r[1], r[2])) for r in host.sql(
        "SELECT CONSTRAINT_NAME, UPDATE_RULE, DELETE_RULE FROM information_schema."
        "REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA=%s", (host.db,))))
    assert rules["ACT_FK_EXE_PROCINST"] == ("CASCADE", "CASCADE")
    assert rules["ACT_FK_EXE_PARENT"] == ("RESTRICT", "CASCADE")
    cols = host.sql("SELECT CONSTRAINT_NAME, COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE "
                    "WHERE TABLE_SCHEMA=%s AND TABLE_NAME='ACT_RU_EXECUTION' AND "
                    "REFERENCED_TABLE_NAME='ACT_RU_EXECUTION' ORDER BY 1", (host.db,))
    assert cols == [("ACT_FK_EXE_PARENT", "PARENT_ID_"), ("ACT_FK_EXE_PROCINST", "PROC_INST_ID_"),
                    ("ACT_FK_EXE_SUPER", "SUPER_EXEC_")]
    # A child execution whose id sorts before its parent's: a primary-key-ordered dump
    # writes the child first.
    assert host.sql("SELECT ID_, PARENT_ID_, PROC_INST_ID_ FROM ACT_RU_EXECUTION "
                    "ORDER BY ID_") == [("10002", "7505", "7505"), ("7505", None, "7505")]

    # The views, in their last definitions (V_4_2_3_18, V_4_3_0_32: real V_4_3_2_12): one row per node task; a
    # logical database has no data source (LEFT JOIN).
    assert host.sql("SELECT id, task_type FROM list_flow_instance_view ORDER BY id, task_type") == [
        (1, "ASYNC"), (1, "PRE_CHECK"), (2, "APPLY_DATABASE_PERMISSION"), (2, "PRE_CHECK")]
    assert host.sql("SELECT id, action, database_name, data_source_name FROM "
                    "list_user_database_permission_view ORDER BY id") == [
        (10000, "query", "orders", "prod-oceanbase"), (10001, "change", "orders", "prod-oceanbase"),
        (10002, "export", "orders_logical", None)]
    assert host.sql("SELECT id, table_name, database_name, data_source_name FROM "
                    "list_user_table_permission_view ORDER BY id") == [
        (10003, "t_order", "orders", "prod-oceanbase"), (10004, "t_order", "orders_logical", None)]
    # V_4_3_0_11's UPDATE (real V_4_3_1_1) filled the new columns of the permission granted under 4.2.0.
    assert host.sql("SELECT resource_type, resource_id FROM iam_permission WHERE id=10000") == [
        ("ODC_DATABASE", 1)]

    # Data that a dump and a load must carry unchanged: data.sql's real rows (V3234 copied
    # them from value_deprecated into the TEXT column), and the sample rows.
    cfg = dict(host.sql("SELECT `key`, `value` FROM config_system_configuration"))
    assert cfg["sqlexecute.defaultDelimiter"] == ";"
    assert cfg["odc.system.info.support-email"] == ""
    assert "['user.home']" in cfg["odc.objectstorage.local.dir"]
    assert "(java\n.io.File)" in cfg["odc.objectstorage.local.dir"]
    assert "{{dbUsername}}@'%'" in cfg["odc.lab.resource.mysql-init-script-template"]
    assert host.sql("SELECT COUNT(*) FROM config_system_configuration WHERE "
                    "NOT (`value` <=> value_deprecated)") == [(0,)]
    users = {r[0]: r[1:] for r in host.sql(
        "SELECT id, name, email_address, description, extra_properties_json FROM iam_user")}
    assert users[10001] == ("O'Brien, Pat", None, "\\N", None)
    assert users[10000][0] == "张三" and users[10000][2] == 'DBA, 数据库团队\n"on-call" this week'
    assert "C:\\\\Users\\\\zhangsan" in users[10000][3]
    assert host.sql("SELECT name, salt, password FROM connect_connection WHERE id=2") == [
        ('dev, "test" 集群', "", None)]
    assert host.sql("SELECT BYTES_ FROM ACT_GE_BYTEARRAY WHERE ID_='7508'") == [(BLOB_7508,)]
    assert host.sql("SELECT display_name FROM iam_organization WHERE id=1") == [
        ("${com.oceanbase.odc.builtin-resource.iam.organization.team.display-name}",)]

    # Every start of 4.3.0 adds its four ignoreChecksum JDBC rows.
    restart(host)
    assert history(host) == rows + [expected_row(n) for n in RESTART_430]


def test_backup_holds_the_420_metadb(odc_host):
    host = odc_host()
    counts = backup_counts(host.backup_dir, host.db)
    assert sorted(counts, key=str.upper) == TABLES_420  # no 4.3.0 table: taken before the upgrade
    assert counts["migrate_schema_history"] == len(FIRST_START_420)
    assert counts["ACT_RU_EXECUTION"] == 2 and counts["iam_user"] == 3
    assert counts["iam_permission"] == 2 and counts["connect_database"] == 2
    versions = [v for v, ok in host.backup_history() if ok == "1"]
    assert versions == [expected_row(n)[0] for n in FIRST_START_420]
    assert max(versions, key=version_key) == OLD_MAX


def test_old_image_refuses_degrade_while_container_stays_up(odc_host):
    host = odc_host()
    host.engine.docker("stop", host.name)
    old = host.name + "-old"
    host.run_container(host.images.old, name=old)
    logs = host.wait_log("Software degrade is not allowed", name=old)
    line = next(l for l in logs.splitlines() if "Software degrade is not allowed" in l)
    assert f"greater than or equal to {NEW_MAX}" in line and OLD_VERSION in line
    assert not host.healthy()
    # Each run outlives supervisord's startsecs, as a JVM's does: it is restarted at once,
    # forever, never given up on. Up in docker ps, ODC dead inside.
    logs = crash_loops(host, old, 5)
    assert "gave up" not in logs and "FATAL" not in logs, logs
    ps = host.engine.docker("ps", "--filter", f"name=^/{old}$", "--format",
                            "{{.Status}}").stdout
    assert ps.startswith("Up")
    assert host.state(old)["Running"] is True
    with pytest.raises(ConnectionRefusedError):
        host.get("/api/v1/heartbeat/isHealthy")
    # Refused before any migration: nothing was written.
    assert host.max_history_version() == NEW_MAX
    # docker stop is prompt (the supervisor handles SIGTERM).
    t0 = time.monotonic()
    host.engine.docker("stop", old)
    assert time.monotonic() - t0 < 5
    assert host.state(old)["Running"] is False


def test_obloader_defaults_leave_the_newer_metadb(odc_host):
    """The flaw the agent must catch: the 4.2.0 backup loaded over the 4.3.0 metadb reports
    rows it could not load (exit 1 only because --strict is on; 0 with --strict false) and
    leaves 4.3.0 behind: its history, a table, rows, columns and views."""
    host = odc_host()
    host.engine.docker("stop", host.name)
    for strict in ([], ["--strict", "false"]):
        r = host.run_obloader("--thread", "1", "--ddl", "--csv", "--no-sys", "--all", *strict,
                              "-f", host.backup_dir)
        assert r.error_log or r.discard_log, r
        assert r.returncode == (0 if strict else 1), r
        versions = host.history_versions()
        assert "4.3.0.2" in versions and NEW_MAX in versions
        assert host.max_history_version() == NEW_MAX
        assert "database_schema_object" in host.tables()
        assert host.sql("SELECT COUNT(*) FROM database_schema_object") == [(5,)]
        assert "list_user_table_permission_view" in host.views()
        assert host.sql("SELECT id FROM iam_permission WHERE id > 10000 ORDER BY id") == [
            (10001,), (10002,), (10003,), (10004,)]
        assert host.sql("SELECT type FROM connect_database WHERE id = 3") == [("LOGICAL",)]
        assert "object_sync_status" in host.columns("connect_database")
    # ... so the old image still refuses to start.
    host.run_container(host.images.old, name=host.name + "-old")
    host.wait_log("Software degrade is not allowed", name=host.name + "-old")
    assert not host.healthy()


@pytest.fixture
def fk_checks_off(mariadb):
    """foreign_key_checks off for every new session of the metadb server (a DBA's global
    setting; ODC 4.2.4+ sets it per session, ForeignKeyChecksFilter), restored after."""
    mariadb.sql("SET GLOBAL foreign_key_checks = 0")
    try:
        yield
    finally:
        mariadb.sql("SET GLOBAL foreign_key_checks = 1")


def test_restore_into_an_empty_metadb_trips_on_flowables_foreign_keys(odc_host):
    """obloader keeps foreign_key_checks on: tables in name order create children before
    their parents (ACT_GE_BYTEARRAY before ACT_RE_DEPLOYMENT), and rows in primary-key order
    load the child execution '10002' before its parent '7505'."""
    host = odc_host()
    host.engine.docker("stop", host.name)
    host.drop_all_tables()
    assert host.tables() == [] and host.views() == []
    r = host.run_obloader("--thread", "1", "--ddl", "--csv", "--no-sys", "--all", "-f",
                          host.backup_dir)
    assert r.returncode == 1 and "foreign key constraint" in r.error_log, r
    assert "ACT_GE_BYTEARRAY" not in host.tables()
    assert host.sql("SELECT ID_ FROM ACT_RU_EXECUTION") == [("7505",)]


def test_manual_clean_restore_lets_the_old_version_start(odc_host, fk_checks_off):
    host = odc_host()
    host.engine.docker("stop", host.name)
    host.drop_all_tables()
    assert host.tables() == [] and host.views() == []
    r = host.run_obloader("--thread", "1", "--ddl", "--csv", "--no-sys", "--all", "-f",
                          host.backup_dir)
    assert r.returncode == 0 and r.error_log == "" and r.discard_log == "", r
    backup = backup_counts(host.backup_dir, host.db)
    assert host.row_counts() == backup
    assert host.history_versions() == [v for v, ok in host.backup_history() if ok == "1"]
    assert host.tables() == TABLES_420 and host.views() == ["list_flow_instance_view"]
    # The foreign keys came back, and the rows satisfy them.
    assert foreign_keys(host) == FOREIGN_KEYS
    assert host.sql("SELECT COUNT(*) FROM ACT_RU_EXECUTION c LEFT JOIN ACT_RU_EXECUTION p "
                    "ON c.PARENT_ID_ = p.ID_ WHERE c.PARENT_ID_ IS NOT NULL AND p.ID_ IS NULL") == [
        (0,)]
    # Values a dump and a load must carry unchanged.
    assert host.sql("SELECT name, email_address, description FROM iam_user WHERE id=10001") == [
        ("O'Brien, Pat", None, "\\N")]
    assert host.sql("SELECT BYTES_ FROM ACT_GE_BYTEARRAY WHERE ID_='7508'") == [(BLOB_7508,)]
    assert host.sql("SELECT description FROM flow_instance WHERE id=1") == [
        ('清理过期数据; "orders" 库\nsecond line',)]
    assert host.sql("SELECT `value` FROM config_system_configuration WHERE "
                    "`key`='odc.system.info.support-email'") == [("",)]

    host.run_container(host.images.old, name=host.name + "-old")
    host.wait_healthy(OLD_VERSION, name=host.name + "-old")
    assert f"skip migrated versioned migrator, version={OLD_MAX}" in host.logs(host.name + "-old")
    assert host.sql("SELECT id, task_type FROM list_flow_instance_view") == [(1, "ASYNC")]
    # What was dumped before the upgrade, plus the rows this start of 4.2.0 added.
    again = os.path.join(host.dir, "again")
    r = host.run_obdumper("--ddl", "--csv", "--all", "-f", again)
    assert r.returncode == 0, r
    restarted = [(expected_row(n)[0], "1") for n in RESTART_420]
    assert odcworld.read_backup_history(again, host.db) == host.backup_history() + restarted
    backup["migrate_schema_history"] += len(restarted)
    assert backup_counts(again, host.db) == backup


@pytest.fixture
def account(mariadb):
    acct = mariadb.create_db_user()
    yield acct
    mariadb.drop_db_user(acct)


def _conn(acct, password=None):
    return ["-h", acct.host, "-P", str(acct.port), "-u", acct.user,
            "-p", acct.password if password is None else password,
            "-c", acct.cluster, "-t", acct.tenant, "-D", acct.db]


def _tool(tool, args, cwd):
    os.makedirs(cwd, exist_ok=True)
    p = odcworld.run([tool, *args], check=False, cwd=cwd)
    return odcworld.ToolRun(p, cwd)


def test_obdumper_refuses_a_non_empty_dir(account, tmp_path):
    target = tmp_path / "backup"
    target.mkdir()
    (target / "old-file").write_text("x")
    r = _tool(odcworld.OBDUMPER, [*_conn(account), "--ddl", "--csv", "--all", "-f", target],
              tmp_path / "w1")
    assert r.returncode == 1 and "not empty" in r.stderr and "not empty" in r.error_log
    # Nothing but the tool's own log directory was added.
    assert [p for p in os.listdir(target) if target / p != Path(r.log_dir)] == ["old-file"]
    r = _tool(odcworld.OBDUMPER, [*_conn(account), "--ddl", "--csv", "--all", "-f", target,
                                  "--skip-check-dir"], tmp_path / "w2")
    assert r.returncode == 0, r
    assert "old-file" in os.listdir(target)
    assert [p for p in os.listdir(target) if target / p != Path(r.log_dir)] != ["old-file"]
    # The dump itself was written next to the old file.
    assert (target / "data" / "MANIFEST.bin").read_bytes().startswith(
        b"\x01\x00com.oceanbase.tools.loaddump.common.model.Manifest"), os.listdir(target)


def test_bad_credentials_fail_with_access_denied(mariadb, account, tmp_path):
    backup = tmp_path / "backup"
    mariadb.sql("CREATE TABLE t (id INT PRIMARY KEY)", db=account.db)
    r = _tool(odcworld.OBDUMPER, [*_conn(account), "--ddl", "--all", "-f", backup], tmp_path / "d")
    assert r.returncode == 0, r
    for tool, extra in ((odcworld.OBLOADER, ["-f", backup]),
                        (odcworld.OBDUMPER, ["-f", tmp_path / "out"])):
        cwd = tmp_path / ("w-" + tool.name)
        r = _tool(tool, [*_conn(account, password="Wr0ng-secret"), "--ddl", "--all", *extra],
                  cwd)
        assert r.returncode == 1, r
        assert "Access denied" in r.error_log and "Access denied" in r.stderr
        for text in (r.stdout, r.stderr, r.info_log, r.error_log):
            assert "Wr0ng-secret" not in text
        assert "-p ******" in r.info_log


def test_usage_and_missing_directories(account, tmp_path):
    conn = _conn(account)
    for tool in (odcworld.OBLOADER, odcworld.OBDUMPER):
        r = _tool(tool, [*conn, "--csv", "--all", "-f", tmp_path / "x", "--bogus"], tmp_path / "u")
        assert r.returncode == 2 and "Unrecognized option: --bogus" in r.stderr
        r = _tool(tool, [*conn, "--sql", "--all", "-f", tmp_path / "x"], tmp_path / "u")
        assert r.returncode == 2 and "not supported by this stand-in" in r.stderr
        r = _tool(tool, [*conn, "--csv", "--all"], tmp_path / "u")
        assert r.returncode == 2, r
        assert r.stderr.startswith(f"{tool.name}: Missing required option: -f\n"), r.stderr
    r = _tool(odcworld.OBLOADER, [*conn, "--ddl", "--csv", "--all", "--no-sys", "--thread", "4",
                                  "-f", tmp_path / "missing"], tmp_path / "m")
    assert r.returncode == 1 and "does not exist" in r.stderr + r.error_log
    (tmp_path / "empty").mkdir()
    r = _tool(odcworld.OBLOADER, [*conn, "--ddl", "--csv", "--all", "-f", tmp_path / "empty"],
              tmp_path / "e")
    assert r.returncode == 1 and f"data/{account.db}/TABLE" in r.error_log


def test_loader_options_and_limits(mariadb, account, tmp_path):
    db = account.db
    mariadb.sql("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10) NOT NULL)", db=db)
    mariadb.sql("CREATE TABLE big (id INT PRIMARY KEY, s VARCHAR(20))", db=db)
    mariadb.sql("CREATE TABLE empty_one (id INT PRIMARY KEY)", db=db)
    mariadb.sql("INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c')", db=db)
    mariadb.sql("INSERT INTO big SELECT seq, CONCAT('row ', seq) FROM seq_1_to_25000", db=db)
    conn = _conn(account)
    backup = tmp_path / "backup"
    r = _tool(odcworld.OBDUMPER, [*conn, "--ddl", "--csv", "--all", "-f", backup], tmp_path / "d")
    assert r.returncode == 0, r
    assert backup_counts(backup, db) == {"t": 3, "big": 25000, "empty_one": 0}

    # Each run logs into its own --log-path (by default the tools append to <-f>/logs).
    def load(name, *args):
        return _tool(odcworld.OBLOADER, [*conn, *args, "--log-path", tmp_path / name / "logs",
                                         "-f", backup], tmp_path / name)

    # Defaults into the live tables: every row a duplicate, discarded; --strict is on by
    # default (obloader >= 4.2.4), so the run fails; --strict=false makes it exit 0.
    r = load("l0", "--csv", "--all")
    assert r.returncode == 1 and "--strict" in r.error_log, r
    assert r.discard_log.count("\n") == 25003
    r = load("l1", "--csv", "--all", "--strict=false")
    assert r.returncode == 0, r
    assert r.discard_log.count("\n") == 25003
    # ... unless discards are limited.
    r = load("l2", "--csv", "--table", "t", "--max-discards", "1", "--strict=false")
    assert r.returncode == 1 and "--max-discards" in r.error_log

    # Rows that fail: logged, skipped, exit 0 within --max-errors without --strict, 1 beyond
    # it or with --strict (the default).
    mariadb.sql("DELETE FROM t", db=db)
    mariadb.sql("ALTER TABLE t ADD COLUMN w INT NOT NULL DEFAULT 0", db=db)
    r = load("l3", "--csv", "--table", "t", "--strict=false")
    assert r.returncode == 0 and r.error_log.count("column count mismatch") == 3, r
    r = load("l4", "--csv", "--table", "t", "--max-errors", "2", "--strict=false")
    assert r.returncode == 1 and "--max-errors" in r.error_log
    r = load("l5", "--csv", "--table", "t")
    assert r.returncode == 1 and r.error_log.count("column count mismatch") == 3, r

    # --replace-object recreates the table from the backup; --replace-data overwrites rows.
    mariadb.sql("INSERT INTO big VALUES (25001, 'extra')", db=db)
    mariadb.sql("UPDATE big SET s = 'changed' WHERE id = 7", db=db)
    r = load("l6", "--ddl", "--csv", "--table", "t", "--replace-object")
    assert r.returncode == 0 and r.error_log == "", r
    assert mariadb.columns(db, "t") == ["id", "v"]
    assert mariadb.sql("SELECT COUNT(*) FROM t", db=db)[0][0] == 3
    r = load("l7", "--csv", "--table", "big", "--replace-data")
    assert r.returncode == 0 and r.discard_log == "", r
    assert mariadb.sql("SELECT s FROM big WHERE id = 7", db=db)[0][0] == "row 7"
    assert mariadb.sql("SELECT COUNT(*) FROM big", db=db)[0][0] == 25001
    # --truncate-table with --all needs a confirmation: none on stdin, nothing happens.
    r = load("l8", "--csv", "--all", "--truncate-table")
    assert r.returncode == 1 and "-y" in r.error_log
    assert mariadb.sql("SELECT COUNT(*) FROM big", db=db)[0][0] == 25001
    r = load("l9", "--csv", "--all", "--truncate-table", "-y")
    assert r.returncode == 0 and r.error_log == "", r
    assert mariadb.sql("SELECT COUNT(*) FROM big", db=db)[0][0] == 25000


def test_odc_without_required_env_says_so(dockerd, odc_images, tmp_path):
    name = "odc-noenv-" + os.urandom(3).hex()
    try:
        dockerd.docker("run", "-d", "--net", "host", "--name", name, "-e", "DATABASE_PORT=1",
                       "-e", "DATABASE_USERNAME=u", "-e", f"ODC_SERVER_PORT={odcworld.free_port()}",
                       odc_images.old)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            out = dockerd.docker("logs", name).stdout
            if "odc-server exited with status 1" in out:
                break
            time.sleep(0.2)
        # ODC's own words are in its log file, as the real one's; docker logs holds the
        # supervisor's.
        own = dockerd.docker("exec", name, "cat", "/opt/odc/log/odc.log").stdout
        assert "DATABASE_HOST is not set" in own and "DATABASE_NAME is not set" in own, own
        assert "DATABASE_HOST" not in out, out
        assert "odc-server exited with status 1" in out
        assert dockerd.is_running(name)
    finally:
        dockerd.docker("rm", "-f", name, check=False)


# ---------------------------------------------------------------- the migration lock, broken releases

# JdbcLockRegistry's LOCK_KEY for "ODC_METADB_MIGRATE": Java's UUID.nameUUIDFromBytes, an MD5
# name-based UUID (version 3) of the key's bytes, computed here independently of the stand-in.
_md5 = bytearray(hashlib.md5(b"ODC_METADB_MIGRATE").digest())
_md5[6], _md5[8] = (_md5[6] & 0x0F) | 0x30, (_md5[8] & 0x3F) | 0x80
LOCK_KEY = str(uuid.UUID(bytes=bytes(_md5)))
LOCK_TIMEOUT_LINE = "failed to start migrate due try lock timeout, TRY_LOCK_TIMEOUT_SECONDS=60"
BAD_SCRIPT = "V_4_3_1_1__alter_iam_user_add_login_policy.sql"
UNHEALTHY_SCRIPT = "V_4_3_1_1__alter_iam_user_add_last_login.sql"


@pytest.fixture(scope="session")
def broken_images(odc_images):
    """The broken releases of tests/world/README.md built into the session's engine, on demand
    (the default build makes only 4.2.0 and 4.3.0)."""
    return SimpleNamespace(bad=odc_images.broken(odcworld.BAD_MIGRATE_TAG),
                           unhealthy=odc_images.broken(odcworld.UNHEALTHY_TAG))


def log_offset(host):
    try:
        return os.path.getsize(os.path.join(host.log_dir, "odc.log"))
    except OSError:
        return 0


def log_after(host, offset):
    """ODC's own log (odc.log of the host's log mount) from offset on."""
    with open(os.path.join(host.log_dir, "odc.log"), "rb") as f:
        f.seek(offset)
        return f.read().decode("utf-8", "replace")


def wait_for(what, pred, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.1)
    raise TimeoutError(f"{what} within {timeout} s")


def crash_loops(host, name, n):
    """Waits until the supervisor of container name has restarted odc-server after n failed
    runs, as supervisord does for a program that outlived startsecs: at once, each time, never
    giving up (ODC-UPGRADE-FACTS.md section 3). Returns the container's log."""
    exited = "odc-server exited with status 1; not expected"

    def looped():
        logs = host.logs(name)
        return logs if logs.count(exited) >= n and logs.count("spawned:") > n else None
    logs = wait_for(f"{n} restarts of odc-server in {name}", looped, 15 + 3 * n)
    assert "gave up" not in logs and "entered FATAL" not in logs, logs
    assert host.state(name)["Running"] is True
    return logs


def lock_rows(host):
    return host.sql("SELECT LOCK_KEY, REGION, CLIENT_ID FROM DISTRIBUTED_LOCK")


def history_of(host, version):
    """(script, success) of every history row of version, in install order."""
    return host.sql("SELECT script, success FROM migrate_schema_history WHERE version = %s "
                    "ORDER BY install_rank", (version,))


def assert_port_closed(host):
    with pytest.raises(ConnectionRefusedError):
        host.get("/api/v1/heartbeat/isHealthy")


def test_port_stays_closed_while_the_migration_runs(odc_host):
    """Tomcat binds only after the migration (ODC-UPGRADE-FACTS.md §1): connection refused
    for the whole lock wait and migration, the lock row held meanwhile, released after."""
    host = odc_host(upgrade=False)
    host.engine.docker("rm", "-f", host.name)
    offset = log_offset(host)
    host.run_container(host.images.new, extra_env={"ODC_STANDIN_MIGRATION_MS": "4000"})
    wait_for("get lock success", lambda: "get lock success" in log_after(host, offset), 20)
    rows = lock_rows(host)
    assert len(rows) == 1 and rows[0][:2] == (LOCK_KEY, "DEFAULT"), rows
    assert rows[0][2].endswith(f":{host.port}")
    assert_port_closed(host)
    wait_for("migrate success", lambda: "migrate success" in log_after(host, offset), 20)
    assert lock_rows(host) == []
    host.wait_healthy(odcworld.NEW_VERSION)
    log = log_after(host, offset)
    order = ["create odc lock repository", "try lock...", "get lock success",
             "migrate VERSIONED SQL 4.3.0.32", "migrate success", "Tomcat started on port(s)"]
    at = [log.index(line) for line in order]
    assert at == sorted(at), log


def test_a_held_lock_times_out_after_60s_then_is_taken_over(odc_host):
    """Another node's lock, stamped by a clock 30 s ahead (a lock is stolen once older than
    its 60 s TTL, so only skew or a holder re-taking its own lock makes a waiter time out):
    this node waits 60 s with its port closed, fails with ODC's words and exits; the
    supervisor's retry takes the row over once it is older than the TTL, and migrates."""
    host = odc_host(upgrade=False)
    host.engine.docker("rm", "-f", host.name)
    ahead = (datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) +
             datetime.timedelta(seconds=30))
    host.sql("INSERT INTO DISTRIBUTED_LOCK (LOCK_KEY, REGION, CLIENT_ID, CREATED_DATE) "
             "VALUES (%s, 'DEFAULT', '10.9.8.7:8989', %s)", (LOCK_KEY, ahead))
    offset = log_offset(host)
    t0 = time.monotonic()
    host.run_container(host.images.new)
    wait_for("try lock", lambda: "try lock..." in log_after(host, offset), 20)
    time.sleep(5)
    assert_port_closed(host)
    assert "get lock success" not in log_after(host, offset)
    wait_for("the timeout", lambda: LOCK_TIMEOUT_LINE in log_after(host, offset), 90)
    assert time.monotonic() - t0 >= 59
    assert host.max_history_version() == OLD_MAX  # nothing migrated
    assert lock_rows(host) == [(LOCK_KEY, "DEFAULT", "10.9.8.7:8989")]
    host.wait_log("odc-server exited with status 1")
    host.wait_healthy(odcworld.NEW_VERSION, timeout=60)
    assert time.monotonic() - t0 >= 89  # taken over only once older than the TTL
    log = log_after(host, offset)
    assert log.count("get lock success") == 1 and log.count("try lock...") == 2
    assert lock_rows(host) == []
    assert host.max_history_version() == NEW_MAX


def test_a_migration_failing_half_way_crash_loops_and_leaves_success_0_rows(odc_host,
                                                                          broken_images):
    """4.3.1-badmigrate: its script's first statement stays applied, the second fails; ODC
    records success=0 and exits, every retry fails (now on the first statement) and adds a
    row, for as long as the container runs; /api/v1/info never answers. degradeCheck reads
    only success=1 rows, so 4.3.0 starts again over that metadb without a restore."""
    host = odc_host()
    host.engine.docker("stop", host.name)
    bad = host.name + "-bad"
    offset = log_offset(host)
    host.run_container(broken_images.bad, name=bad)
    crash_loops(host, bad, 4)
    with pytest.raises(ConnectionRefusedError):
        host.get("/api/v1/info")
    # Stopped while a run sits in its boot after the failure: every run so far wrote its row.
    failed = "Application run failed"
    n = log_after(host, offset).count(failed)
    wait_for("a run's failure", lambda: log_after(host, offset).count(failed) > n, 20)
    host.engine.docker("stop", bad)
    log = log_after(host, offset)
    runs = log.count(failed)
    assert runs >= 5, log
    assert f"statement #2 of {BAD_SCRIPT}" in log and "iam_user_login_policy" in log
    # Every run after the first fails on the column the first one left.
    assert log.count(f"statement #1 of {BAD_SCRIPT}") == runs - 1, log
    assert "Duplicate column name 'login_policy'" in log
    assert history_of(host, "4.3.1.1") == [(BAD_SCRIPT, 0)] * runs
    assert "login_policy" in host.columns("iam_user")
    assert host.max_history_version() == NEW_MAX
    assert lock_rows(host) == []  # unlocked in doMigrate's finally
    host.engine.docker("rm", "-f", bad)
    host.engine.docker("start", host.name)
    host.wait_healthy(odcworld.NEW_VERSION)


def test_a_release_that_migrates_then_never_starts_needs_the_restore(odc_host, broken_images,
                                                                    fk_checks_off):
    """4.3.1-unhealthy migrates the metadb (4.3.1.1, success=1) and then fails to start, on
    every retry; 4.3.0 then refuses the metadb ("Software degrade is not allowed") until the
    backup taken before the upgrade is restored into the cleaned metadb."""
    host = odc_host()
    host.engine.docker("stop", host.name)
    backup = os.path.join(host.dir, "backup-430")
    r = host.run_obdumper("--ddl", "--csv", "--all", "--no-sys", "-f", backup)
    assert r.returncode == 0, r
    bad = host.name + "-bad"
    offset = log_offset(host)
    host.run_container(broken_images.unhealthy, name=bad)
    crash_loops(host, bad, 4)
    with pytest.raises(ConnectionRefusedError):
        host.get("/api/v1/info")
    log = log_after(host, offset)
    # Every run finds the metadb migrated, then fails the same way.
    assert log.count("BeanCreationException") >= 4, log
    assert log.count("migrate success") - log.count("BeanCreationException") in (0, 1), log
    assert history_of(host, "4.3.1.1") == [(UNHEALTHY_SCRIPT, 1)]
    assert host.max_history_version() == "4.3.1.1"
    assert "last_login_time" in host.columns("iam_user")
    host.engine.docker("rm", "-f", bad)

    offset = log_offset(host)
    host.engine.docker("start", host.name)
    wait_for("the degrade refusal", lambda: "Software degrade is not allowed, please check "
             "your ODC version which should be greater than or equal to 4.3.1.1"
             in log_after(host, offset), 20)
    assert not host.healthy()
    host.engine.docker("stop", host.name)
    host.drop_all_tables()
    r = host.run_obloader("--thread", "1", "--ddl", "--csv", "--no-sys", "--all", "-f", backup)
    assert r.returncode == 0 and r.error_log == "", r
    assert host.max_history_version() == NEW_MAX
    host.engine.docker("start", host.name)
    host.wait_healthy(odcworld.NEW_VERSION)
    assert "last_login_time" not in host.columns("iam_user")
