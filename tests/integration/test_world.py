"""The test world behaves like the real ODC and obloader/obdumper, flaws included: if these
fail, the agent's integration tests prove nothing."""

import json
import os
import stat
import time
from pathlib import Path

import pytest

from tests.world import odcworld
from tests.world.odcworld import NEW_VERSION, OLD_VERSION, version_key


def _csv_files(backup_dir, db):
    return {p.name: p.read_bytes() for p in Path(backup_dir, "data", db, "TABLE").iterdir()}


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

    assert host.max_history_version() == "4.3.0.2"
    assert "odc_schedule" in host.tables()
    assert "env" in host.columns("odc_connection")
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


def test_backup_has_the_obdumper_layout_and_old_version(odc_host):
    host = odc_host()
    b = Path(host.backup_dir)
    assert (b / "MANIFEST.bin").read_bytes()[:4] == b"OBMF"
    assert (b / "CHECKPOINT.bin").read_bytes()[:4] == b"OBCP"
    files = _csv_files(b, host.db)
    tables = ["config_system_configuration", "migrate_schema_history", "odc_connection",
              "odc_user"]
    assert sorted(files) == sorted([f"{t}-schema.sql" for t in tables] +
                                   [f"{t}.0.csv" for t in tables])
    schema = files["odc_connection-schema.sql"].decode()
    assert schema.startswith("CREATE TABLE `odc_connection`") and schema.rstrip().endswith(";")
    versions = [v for v, ok in host.backup_history() if ok == "1"]
    assert max(versions, key=version_key) == "4.2.0.2"
    assert all(v.startswith(OLD_VERSION + ".") for v in versions)
    # Quotes doubled, commas and newlines inside quotes, NULL unquoted, literal \N quoted.
    conn_csv = files["odc_connection.0.csv"]
    assert b'"2","dev, ""test"" cluster","ob-dev.example.com","2883"\n' in conn_csv
    assert b'"3","line one\nline two","127.0.0.1",\\N\n' in conn_csv
    cfg = files["config_system_configuration.0.csv"]
    assert b'"odc.literal.null","\\N"\n' in cfg and b'"odc.unset",\\N\n' in cfg
    # The dump was taken before the upgrade: the metadb has moved on since.
    assert "odc_schedule" not in [f.split(".")[0] for f in files]


def test_old_image_refuses_degrade_while_container_stays_up(odc_host):
    host = odc_host()
    host.engine.docker("stop", host.name)
    old = host.name + "-old"
    host.run_container(host.images.old, name=old)
    logs = host.wait_log("Software degrade is not allowed", name=old)
    line = next(l for l in logs.splitlines() if "Software degrade is not allowed" in l)
    assert "4.3.0.2" in line and OLD_VERSION in line
    assert not host.healthy()
    # The supervisor retries, gives up, and stays: Up in docker ps, ODC dead inside.
    logs = host.wait_log("gave up", name=old, timeout=30)
    assert logs.count("odc-server exited with status 1") == 4
    ps = host.engine.docker("ps", "--filter", f"name=^/{old}$", "--format",
                            "{{.Status}}").stdout
    assert ps.startswith("Up")
    assert host.state(old)["Running"] is True
    with pytest.raises(ConnectionRefusedError):
        host.get("/api/v1/heartbeat/isHealthy")
    # docker stop is prompt (the supervisor handles SIGTERM).
    t0 = time.monotonic()
    host.engine.docker("stop", old)
    assert time.monotonic() - t0 < 5
    assert host.state(old)["Running"] is False


def test_obloader_defaults_exit_zero_yet_leave_the_newer_metadb(odc_host):
    """The flaw the agent must catch: exit 0, errors in the log, 4.3.0 state left behind."""
    host = odc_host()
    host.engine.docker("stop", host.name)
    r = host.run_obloader("--thread", "1", "--ddl", "--csv", "--no-sys", "--all", "-f",
                          host.backup_dir)
    assert r.returncode == 0, r
    assert "already exists" in r.info_log
    assert "odc_connection" in r.error_log and "column count mismatch" in r.error_log
    assert r.error_log.count("odc_connection.0.csv line") == 3
    assert "discarded" in r.stdout
    assert "4.3.0.1" in host.history_versions() and "4.3.0.2" in host.history_versions()
    assert host.max_history_version() == "4.3.0.2"
    assert "odc_schedule" in host.tables()
    assert "env" in host.columns("odc_connection")
    # ... so the old image still refuses to start.
    host.run_container(host.images.old, name=host.name + "-old")
    host.wait_log("Software degrade is not allowed", name=host.name + "-old")
    assert not host.healthy()


def test_manual_clean_restore_lets_the_old_version_start(odc_host):
    host = odc_host()
    host.engine.docker("stop", host.name)
    host.drop_all_tables()
    r = host.run_obloader("--thread", "1", "--ddl", "--csv", "--no-sys", "--all", "-f",
                          host.backup_dir)
    assert r.returncode == 0 and r.error_log == "" and r.discard_log == "", r
    assert host.history_versions() == ["4.2.0.1", "4.2.0.2"]
    assert "odc_schedule" not in host.tables()
    host.run_container(host.images.old, name=host.name + "-old")
    host.wait_healthy(OLD_VERSION, name=host.name + "-old")
    assert "skip migrated versioned migrator, version=4.2.0.2" in host.logs(host.name + "-old")
    # Byte for byte what was dumped before the upgrade.
    again = os.path.join(host.dir, "again")
    r = host.run_obdumper("--ddl", "--csv", "--all", "-f", again)
    assert r.returncode == 0, r
    assert _csv_files(again, host.db) == _csv_files(host.backup_dir, host.db)


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
    assert sorted(os.listdir(target)) == ["old-file"]
    r = _tool(odcworld.OBDUMPER, [*_conn(account), "--ddl", "--csv", "--all", "-f", target,
                                  "--skip-check-dir"], tmp_path / "w2")
    assert r.returncode == 0, r
    assert (target / "MANIFEST.bin").exists()


def test_bad_credentials_fail_with_access_denied(account, tmp_path):
    backup = tmp_path / "backup"
    tdir = backup / "data" / account.db / "TABLE"
    tdir.mkdir(parents=True)
    (tdir / "t-schema.sql").write_text("CREATE TABLE t (id INT PRIMARY KEY);\n")
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
        assert r.returncode == 2 and "-f" in r.stderr
    r = _tool(odcworld.OBLOADER, [*conn, "--ddl", "--csv", "--all", "--no-sys", "--thread", "4",
                                  "-f", tmp_path / "missing"], tmp_path / "m")
    assert r.returncode == 1 and "does not exist" in r.error_log
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
    files = _csv_files(backup, db)
    assert {"big.0.csv", "big.1.csv", "big.2.csv", "empty_one.0.csv"} <= set(files)
    assert "big.3.csv" not in files and files["empty_one.0.csv"] == b""
    assert files["big.1.csv"].startswith(b'"10001","row 10001"\n')

    # Defaults into the live tables: every row a duplicate, discarded, exit 0.
    r = _tool(odcworld.OBLOADER, [*conn, "--csv", "--all", "-f", backup], tmp_path / "l1")
    assert r.returncode == 0, r
    assert r.discard_log.count("\n") == 25003
    # ... unless discards are limited.
    r = _tool(odcworld.OBLOADER, [*conn, "--csv", "--table", "t", "--max-discards", "1",
                                  "-f", backup], tmp_path / "l2")
    assert r.returncode == 1 and "--max-discards" in r.error_log

    # Rows that fail: logged, skipped, exit 0 within --max-errors, 1 beyond it or --strict.
    mariadb.sql("DELETE FROM t", db=db)
    mariadb.sql("ALTER TABLE t ADD COLUMN w INT NOT NULL DEFAULT 0", db=db)
    r = _tool(odcworld.OBLOADER, [*conn, "--csv", "--table", "t", "-f", backup], tmp_path / "l3")
    assert r.returncode == 0 and r.error_log.count("column count mismatch") == 3, r
    r = _tool(odcworld.OBLOADER, [*conn, "--csv", "--table", "t", "--max-errors", "2",
                                  "-f", backup], tmp_path / "l4")
    assert r.returncode == 1 and "--max-errors" in r.error_log
    r = _tool(odcworld.OBLOADER, [*conn, "--csv", "--table", "t", "--strict", "-f", backup],
              tmp_path / "l5")
    assert r.returncode == 1

    # --replace-object recreates the table from the backup; --replace-data overwrites rows.
    mariadb.sql("INSERT INTO big VALUES (25001, 'extra')", db=db)
    mariadb.sql("UPDATE big SET s = 'changed' WHERE id = 7", db=db)
    r = _tool(odcworld.OBLOADER, [*conn, "--ddl", "--csv", "--table", "t", "--replace-object",
                                  "-f", backup], tmp_path / "l6")
    assert r.returncode == 0 and r.error_log == "", r
    assert mariadb.columns(db, "t") == ["id", "v"]
    assert mariadb.sql("SELECT COUNT(*) FROM t", db=db)[0][0] == 3
    r = _tool(odcworld.OBLOADER, [*conn, "--csv", "--table", "big", "--replace-data",
                                  "-f", backup], tmp_path / "l7")
    assert r.returncode == 0 and r.discard_log == "", r
    assert mariadb.sql("SELECT s FROM big WHERE id = 7", db=db)[0][0] == "row 7"
    assert mariadb.sql("SELECT COUNT(*) FROM big", db=db)[0][0] == 25001
    # --truncate-table with --all needs a confirmation: none on stdin, nothing happens.
    r = _tool(odcworld.OBLOADER, [*conn, "--csv", "--all", "--truncate-table", "-f", backup],
              tmp_path / "l8")
    assert r.returncode == 1 and "-y" in r.error_log
    assert mariadb.sql("SELECT COUNT(*) FROM big", db=db)[0][0] == 25001
    r = _tool(odcworld.OBLOADER, [*conn, "--csv", "--all", "--truncate-table", "-y",
                                  "-f", backup], tmp_path / "l9")
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
