"""odc-agent on one host, in local mode, against the real test world: a private dockerd,
a private MariaDB as the metadb, the ODC stand-in images and the obloader/obdumper
stand-ins (tests/world). Each test starts from a host after a failed upgrade: metadb at
4.3.0, container running 4.3.0, a pre-upgrade backup at 4.2.0."""

import json
import os
import re
import shutil
import signal
import sqlite3
import stat
import subprocess
import time

import pytest

from tests.world import agentcli, odcworld
from tests.world.agentcli import AGENT, BUILD, agent, write_conf
from tests.world.odcworld import assert_untouched, backup_state, containers_named, metadb_state

def job_steps(conf_state_dir, job):
    db = sqlite3.connect(os.path.join(conf_state_dir, "journal.db"))
    try:
        return {r[0]: r[1] for r in db.execute(
            "SELECT step, status FROM step WHERE job_id = ? AND phase = 'run'", (job,))}
    finally:
        db.close()


@pytest.fixture
def host(odc_host):
    return odc_host()


@pytest.fixture
def conf(host):
    return write_conf(host, os.path.join(host.dir, "agent.conf"))


def test_full_rollback(host, conf):
    old = host.engine.inspect(host.name)
    p = agent(conf, "run", "rollback",
              "--accept-unverified", "--to", odcworld.OLD_VERSION, "--backup", host.backup_dir,
              "--job", "rb1", check=0)
    for step in ("preflight", "stop", "snapshot", "restore", "start", "health"):
        assert f"[{step}] ok" in p.stdout, p.stdout
    # ODC answers at 4.2.0, in a container named as before, made from the old spec.
    assert host.info_version() == odcworld.OLD_BUILD
    new = host.engine.inspect(host.name)
    assert new["Id"] != old["Id"]
    assert new["Config"]["Image"] == host.images.old
    for key in ("NetworkMode", "CpuPeriod", "CpuQuota", "Memory", "Binds", "RestartPolicy"):
        assert new["HostConfig"][key] == old["HostConfig"][key], key
    assert new["Config"]["OpenStdin"] is True
    old_env = set(old["Config"]["Env"])
    for k, v in host.env.items():
        assert f"{k}={v}" in new["Config"]["Env"]
    # The image's own env comes from the 4.2.0 image, not the 4.3.0 one.
    img_old = host.engine.inspect(host.images.old)["Config"]["Env"]
    img_new = host.engine.inspect(host.images.new)["Config"]["Env"]
    for e in set(img_new) - set(img_old):
        assert e not in new["Config"]["Env"], e
    assert old_env != set(new["Config"]["Env"])
    # The metadb holds exactly the backup.
    assert metadb_state(host)["tables"] == backup_state(host, host.backup_dir)
    assert max(host.history_versions(), key=odcworld.version_key).startswith(odcworld.OLD_VERSION)
    assert "database_schema_object" not in host.tables()
    # Nothing deleted: the 4.3.0 container is kept, stopped, renamed.
    kept = containers_named(host, f"{host.name}-rolledback-")
    assert len(kept) == 1 and kept[0]["Id"] == old["Id"]
    assert not kept[0]["State"]["Running"]
    # Secrets at rest (issue 14.3): the metadb password is in no file of the agent's state
    # (journal, its WAL); the container got it from the kept one.
    read = []
    for d, _, files in os.walk(os.path.join(host.dir, "agent-state")):
        for f in files:
            with open(os.path.join(d, f), "rb") as fh:
                assert host.password.encode() not in fh.read(), os.path.join(d, f)
            read.append(f)
    assert "journal.db" in read, read  # the state the rollback wrote was searched
    assert f"DATABASE_PASSWORD={host.password}" in new["Config"]["Env"]
    # The safety snapshot holds the 4.3.0 metadb.
    snap = os.path.join(host.snapshot_root, "rb1")
    assert "database_schema_object" in backup_state(host, snap)
    # Running the same job again reports, never reruns.
    p2 = agent(conf, "run", "rollback",
               "--accept-unverified", "--to", odcworld.OLD_VERSION, "--backup", host.backup_dir,
               "--job", "rb1", check=0)
    assert "already ended: succeeded" in p2.stderr
    assert host.engine.inspect(host.name)["Id"] == new["Id"]
    # A second rollback (a new job) to the version the host already runs, healthy: nothing
    # to do, and what was written since stays (issue 14.3; before, the backup was restored
    # again over it). --force rolls back anyway.
    host.sql("INSERT INTO config_system_configuration (`key`, `value`) VALUES ('written.since', '1')")
    counts = host.row_counts()
    p3 = agent(conf, "run", "rollback",
               "--accept-unverified", "--to", odcworld.OLD_VERSION, "--backup", host.backup_dir,
               "--job", "rb2", check=0)
    assert "[preflight] ok" in p3.stdout and "nothing to do" in p3.stdout, p3.stdout
    assert "already at 4.2.0" in p3.stdout and odcworld.OLD_BUILD in p3.stdout, p3.stdout
    assert "[stop]" not in p3.stdout, p3.stdout
    assert host.engine.inspect(host.name)["Id"] == new["Id"]
    assert host.row_counts() == counts
    p4 = agent(conf, "run", "rollback",
               "--accept-unverified", "--to", odcworld.OLD_VERSION, "--backup", host.backup_dir,
               "--job", "rb3", "--force", check=0)
    assert "forced: rolling back anyway" in p4.stdout + p4.stderr, p4.stdout + p4.stderr
    assert "[health] ok" in p4.stdout, p4.stdout
    assert metadb_state(host)["tables"] == backup_state(host, host.backup_dir)


# What the engine fills in by itself, the image's own, and what a new container has anew.
SPEC_NOT_CARRIED = {"Image", "Hostname", "Cmd", "Entrypoint", "Env", "Labels", "ContainerIDFile",
                    "MaskedPaths", "ReadonlyPaths", "CgroupnsMode", "Runtime", "ConsoleSize",
                    "Isolation"}


def test_recreated_container_carries_every_operator_flag(host, conf):
    """Issue 14.3: the operator's `docker run` had more than the seed's flags (a
    healthcheck, a stop timeout, ulimits, shm size, a pids limit, a label, an extra host,
    log options, a cidfile). The container the rollback creates carries every field of the
    old one's Config and HostConfig but the image (field by field), and the rollback
    succeeds, from a backup whose path has a space and non-ASCII characters. Before: the
    healthcheck, the stop timeout, the pids limit ... were dropped."""
    cid_file = os.path.join(host.dir, "odc.cid")
    extra = ["--health-cmd", f"wget -qO- http://127.0.0.1:{host.port}/api/v1/status",
             "--health-interval", "5s", "--health-retries", "3", "--stop-timeout", "25",
             "--ulimit", "nofile=1024:1024", "--shm-size", "256m", "--pids-limit", "4096",
             "--label", "com.example.owner=dba", "--add-host", "metadb.example:10.9.8.7",
             "--log-opt", "max-size=10m", "--cidfile", cid_file]
    host.engine.docker("rm", "-f", host.name)
    args = host.docker_run_args(host.images.new)
    host.engine.docker("run", *args[:-1], *extra, args[-1])
    host.wait_healthy(odcworld.NEW_VERSION, timeout=60)
    old = host.engine.inspect(host.name)
    # Real backup directories have spaces and non-ASCII names (issue 14.3); before, such a
    # path was refused as "not an absolute normalized path". One that really breaks a rule
    # is refused naming it.
    backup = os.path.join(host.dir, "odc backups", "pr\u00e9-4.3.0 \u5907\u4efd")
    shutil.copytree(host.backup_dir, backup)
    p = agent(conf, "run", "rollback",
              "--accept-unverified", "--to", odcworld.OLD_VERSION, "--backup",
              backup + "//x", check=2)
    assert "a path has no //" in p.stderr, p.stderr
    p = agent(conf, "run", "rollback",
              "--accept-unverified", "--to", odcworld.OLD_VERSION, "--backup", backup,
              check=0)
    assert "[health] ok" in p.stdout, p.stdout + p.stderr
    assert metadb_state(host)["tables"] == backup_state(host, backup)
    new = host.engine.inspect(host.name)
    img_old = host.engine.inspect(host.images.new)["Config"]
    def same(a, b):  # Docker shows an unset field as null, {}, [], "" or 0 alike
        return a == b or (a in (None, {}, [], "", 0, False) and b in (None, {}, [], "", 0, False))
    for k, v in old["Config"].items():
        if k in SPEC_NOT_CARRIED or v == img_old.get(k):
            continue
        assert same(new["Config"].get(k), v), (k, v, new["Config"].get(k))
    for k, v in old["HostConfig"].items():
        if k in SPEC_NOT_CARRIED:
            continue
        assert same(new["HostConfig"].get(k), v), (k, v, new["HostConfig"].get(k))
    assert new["Config"]["Healthcheck"]["Test"][1].startswith("wget"), new["Config"]
    assert new["Config"]["Labels"].get("com.example.owner") == "dba"
    assert all(e in new["Config"]["Env"] for e in old["Config"]["Env"]
               if e.split("=", 1)[0] in host.env)
    assert new["Config"]["Image"] == host.images.old


LONG_NEW = "-Dodc.opt=" + "n" * 3000 + " -Dend=new"
LONG_OLD = "-Dodc.opt=" + "o" * 3000 + " -Dend=old"


def operator_container(host, repo):
    """The two releases as REPO:4.3.0 and REPO:4.2.0, each with a 3 KB image env ODC_LONG_OPTS
    of its own, and the host's ODC running REPO:4.3.0 from an operator's own `docker run`
    (a label, a bind path with spaces, a restart policy, an extra env). Returns the images."""
    for version, base, val in ((odcworld.NEW_VERSION, host.images.new, LONG_NEW),
                               (odcworld.OLD_VERSION, host.images.old, LONG_OLD)):
        cid = host.engine.docker("create", base).stdout.strip()
        host.engine.docker("commit", "--change", f'ENV ODC_LONG_OPTS="{val}"', cid, f"{repo}:{version}")
        host.engine.docker("rm", cid)
    extra_dir = os.path.join(host.dir, "odc extra dir")
    os.makedirs(extra_dir)
    host.engine.docker("rm", "-f", host.name)
    args = host.docker_run_args(f"{repo}:{odcworld.NEW_VERSION}", extra_env={"ODC_SITE": "hz"})
    host.engine.docker("run", *args[:-1], "--label", "com.example.owner=dba", "-v",
                       f"{extra_dir}:/opt/odc/extra", "--restart", "on-failure:3", args[-1])
    host.wait_healthy(odcworld.NEW_VERSION, timeout=60)
    return extra_dir


def test_dry_run_shows_the_difference_whole_and_no_secret(host):
    """Issue 16: a dry run shows the difference between the container that runs and the one
    the rollback would create, field by field, readable: exactly what changes (the image,
    the images' own env and label) with every value whole (a 3 KB env value), the
    operator's own flags among what is unchanged, and never the metadb password. Before:
    one line "would create NAME with: {spec JSON}" (cut at 512 bytes, no comparison)."""
    repo = f"odcdiff-{host.token}/odc-server"
    try:
        extra_dir = operator_container(host, repo)
        conf = write_conf(host, os.path.join(host.dir, "agent.conf"), **{"docker.repository": repo})
        before = (host.engine.inspect(host.name)["Id"], metadb_state(host))
        p = agent(conf, "run", "rollback", "--accept-unverified", "--to", odcworld.OLD_VERSION,
                  "--backup", host.backup_dir, "--dry-run", check=0)
        out = p.stdout
        assert host.password not in out + p.stderr
        new, old = f"{repo}:{odcworld.NEW_VERSION}", f"{repo}:{odcworld.OLD_VERSION}"
        lines = out[out.index(f"{host.name}: {new} -> {old}\n"):].splitlines()
        diff = [l for l in lines[1:] if not l.startswith("    unchanged: ") and l.startswith("    ")]
        jopts = {v: host.engine.inspect(f"{repo}:{v}")["Config"]["Env"] for v in (odcworld.OLD_VERSION, odcworld.NEW_VERSION)}
        jopts = {v: [e for e in env if e.startswith("JAVA_OPTS=")][0][10:] for v, env in jopts.items()}
        assert diff == [
            f"    image    {new} -> {old}",
            f"    version  {odcworld.NEW_VERSION} -> {odcworld.OLD_VERSION}",
            f"    env      JAVA_OPTS  {jopts[odcworld.NEW_VERSION]} -> {jopts[odcworld.OLD_VERSION]}",
            f"    env      ODC_LONG_OPTS  {LONG_NEW} -> {LONG_OLD}",
            f"    label    org.opencontainers.image.version  {odcworld.NEW_VERSION} -> {odcworld.OLD_VERSION}",
        ], out
        same = [l for l in lines if l.startswith("    unchanged: ")][0]
        for part in (f"name {host.name}", "binds (3)", "network host", "memory 8G", "cpus 4",
                     "restart on-failure:3", "labels (2 more)"):
            assert part in same, same
        assert_untouched(host, *before)
        # The structured list, as the journal keeps the RESULT's data (PROTOCOL.md 5).
        db = sqlite3.connect(os.path.join(host.dir, "agent-state", "journal.db"))
        try:
            data = json.loads(db.execute("SELECT data FROM step WHERE step = 'preflight' "
                                         "ORDER BY rowid DESC LIMIT 1").fetchone()[0])
        finally:
            db.close()
        pieces = [data[f"diff.{i}"] for i in range(1, 17) if f"diff.{i}" in data]
        assert len(pieces) > 1 and all(len(x.encode()) <= 1024 for x in pieces), data
        items = json.loads("".join(pieces))
        assert int(data["diff_count"]) == len(items) == 5
        assert {"field": "Env.ODC_LONG_OPTS", "from": LONG_NEW, "to": LONG_OLD} in items
        assert {"field": "Image", "from": new, "to": old} in items
        assert host.password not in json.dumps(data)
        assert extra_dir not in json.dumps(items)  # carried over: not a difference
    finally:
        host.engine.docker("rm", "-f", host.name, check=False)
        host.engine.docker("rmi", f"{repo}:{odcworld.NEW_VERSION}", f"{repo}:{odcworld.OLD_VERSION}",
                           check=False)


def make_backup_at_new(host):
    """A backup of the 4.3.0 metadb: of another version than the target."""
    d = os.path.join(host.dir, "backup-430")
    r = host.run_obdumper("--ddl", "--csv", "--all", "--no-sys", "-f", d)
    assert r.returncode == 0, r
    return d


@pytest.mark.parametrize("case", [
    "engine", "container", "image", "backup_missing", "not_a_backup", "backup_version",
    "outside_roots", "metadb", "loader", "disk", "other_database", "other_tenant"])
def test_preflight_refusals_touch_nothing(host, case):
    conf_path = os.path.join(host.dir, "agent.conf")
    to, backup, over, expect = odcworld.OLD_VERSION, host.backup_dir, {}, None
    if case == "engine":
        over["docker.socket"] = os.path.join(host.dir, "no-such.sock")
        expect = "Docker engine unreachable"
    elif case == "container":
        over["docker.container"] = "obodc-nonexistent"
        expect = "no ODC container named obodc-nonexistent"
    elif case == "image":
        to, expect = "4.1.0", "is not on this host"
    elif case == "backup_missing":
        backup, expect = os.path.join(host.dir, "nope"), "No such file"
    elif case == "not_a_backup":
        backup = os.path.join(host.dir, "empty")
        os.makedirs(backup)
        expect = "not a backup of database"
    elif case == "backup_version":
        backup, expect = make_backup_at_new(host), "which is not of release 4.2.0"
    elif case == "outside_roots":
        over["paths.backup_roots"] = os.path.join(host.dir, "elsewhere")
        os.makedirs(over["paths.backup_roots"])
        expect = "outside the backup roots"
    elif case == "metadb":
        with open(host.password_file, "w") as f:
            f.write("wrong-password")
        expect = "Access denied"
    elif case == "loader":
        over["loader.obloader"] = "/nonexistent/obloader"
        expect = "obloader /nonexistent/obloader is missing"
    elif case == "other_database":
        # A copied agent.conf of another deployment (issue 14.2): never restore its database.
        over["metadb.database"] = host.db + "_other"
        expect = "but this agent is configured for"
    elif case == "other_tenant":
        over["metadb.tenant"] = "another_tenant"
        expect = f"uses the metadb {host.db_host}:{host.db_port}/{host.db} (tenant '{host.tenant}'"
    elif case == "disk":
        tiny = os.path.join(host.dir, "tiny")
        os.makedirs(tiny)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", tiny], check=True)
        over["paths.snapshot_root"] = tiny
        expect = "not enough free disk"
    before = (host.engine.inspect(host.name)["Id"], metadb_state(host))
    if case == "metadb":
        with open(host.password_file, "w") as f:  # the state above was read with the right one
            f.write("wrong-password")
    try:
        write_conf(host, conf_path, **over)
        p = agent(conf_path, "run", "rollback",
                  "--accept-unverified", "--to", to, "--backup", backup, check=1)
        assert "[preflight] failed" in p.stdout, p.stdout
        assert expect in p.stdout, p.stdout
        assert "[stop]" not in p.stdout
        if case == "metadb":
            with open(host.password_file, "w") as f:
                f.write(host.password)
            assert host.password not in p.stdout + p.stderr
        assert_untouched(host, *before)
    finally:
        if case == "disk":
            subprocess.run(["umount", "-l", os.path.join(host.dir, "tiny")], check=False)


def test_fresh_host_makes_its_own_directories(host):
    """Issue 14.3: a host configured as the example says, with nothing made by hand: the
    state dir and the snapshot root do not exist yet (the example puts the snapshots under
    the state dir). The preflight makes them (0700) and passes; nothing is touched.
    Before: '[preflight] failed: snapshot root ...: No such file or directory'."""
    conf_path = os.path.join(host.dir, "agent-fresh.conf")
    fresh = os.path.join(host.dir, "fresh", "var", "lib", "odc-agent")
    write_conf(host, conf_path, **{"agent.state_dir": fresh,
                                   "paths.snapshot_root": os.path.join(fresh, "snapshots")})
    p = agent(conf_path, "check-config", check=0)
    assert "ok" in p.stdout, p.stdout
    before = (host.engine.inspect(host.name)["Id"], metadb_state(host))
    p = agent(conf_path, "run", "preflight", "--accept-unverified", "--to", odcworld.OLD_VERSION,
              "--backup", host.backup_dir, check=0)
    assert "[preflight] ok" in p.stdout, p.stdout + p.stderr
    for d in (fresh, os.path.join(fresh, "snapshots")):
        st = os.stat(d)
        assert stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o700, (d, oct(st.st_mode))
    assert_untouched(host, *before)


def wrapper(host, name, body):
    """An executable loader wrapper in the host dir that runs body (sh) then/around the
    real tool, whose path is in $REAL."""
    path = os.path.join(host.dir, name)
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + body + "\n")
    os.chmod(path, 0o755)
    return path


def test_restore_leaving_newer_rows_is_caught(host):
    # An obloader that, like the tool's unsafe defaults would, leaves the newer
    # migration behind: it restores, then the 4.3.0 history row reappears.
    sql = (f"INSERT INTO migrate_schema_history(version, description, type, script, success) "
           f"VALUES ('4.3.0.2', 'left over', 'SQL', 'V_4_3_0_2__x.sql', 1)")
    w = wrapper(host, "obloader-leaves-rows",
                f'"{host.obloader}" "$@" || exit $?\n'
                f"mariadb --no-defaults -uroot --socket={host.mariadb.socket} {host.db} -e \"{sql}\"")
    conf = write_conf(host, os.path.join(host.dir, "agent.conf"), **{"loader.obloader": w})
    p = agent(conf, "run", "rollback",
              "--accept-unverified", "--to", odcworld.OLD_VERSION, "--backup", host.backup_dir, check=1)
    assert "[restore] failed" in p.stdout, p.stdout
    assert "restore verification failed (obloader exited with status 0)" in p.stdout
    assert "migrate_schema_history is at 4.3.0.2" in p.stdout
    assert "[start]" not in p.stdout  # the old image is never started on a wrong metadb


def test_failed_import_that_exits_zero_is_caught(host):
    # obloader loads nothing of one table yet exits 0, as the real one may.
    w = wrapper(host, "obloader-partial",
                f'"{host.obloader}" "$@" || exit $?\n'
                f"mariadb --no-defaults -uroot --socket={host.mariadb.socket} {host.db} "
                f"-e 'DELETE FROM iam_user'\nexit 0")
    conf = write_conf(host, os.path.join(host.dir, "agent.conf"), **{"loader.obloader": w})
    p = agent(conf, "run", "rollback",
              "--accept-unverified", "--to", odcworld.OLD_VERSION, "--backup", host.backup_dir, check=1)
    assert "[restore] failed" in p.stdout
    assert "iam_user has 0 rows, the backup" in p.stdout
    # The message says where the host is and the command that gets back; and it does.
    assert "the host is DOWN" in p.stdout and "to get back to where this job began: " \
        "odc-agent run undo --of " in p.stdout, p.stdout
    job = p.stdout.split("odc-agent run undo --of ")[1].split()[0]
    fixed = write_conf(host, os.path.join(host.dir, "agent-fixed.conf"))  # the real obloader
    u = agent(fixed, "run", "undo", "--of", job, check=0)
    assert "[health] ok" in u.stdout and host.info_version() == odcworld.NEW_BUILD, u.stdout


def test_health_failure_reports_log_tail(host):
    # ODC inside never finishes starting within the gate: the result carries its log.
    conf = write_conf(host, os.path.join(host.dir, "agent.conf"), **{"deadlines.health": "4s"})
    host.engine.docker("stop", host.name)
    host.engine.docker("rm", host.name)
    host.run_container(host.images.new, extra_env={"ODC_STANDIN_START_DELAY_MS": "600000"})
    time.sleep(1)
    p = agent(conf, "run", "rollback",
              "--accept-unverified", "--to", odcworld.OLD_VERSION, "--backup", host.backup_dir, check=1)
    assert "[health] failed" in p.stdout, p.stdout
    assert "did not become healthy at 4.2.0 within 4 s" in p.stdout
    assert "    | " in p.stdout and "4.2.0" in p.stdout.split("[health] failed", 1)[1]


def test_health_failure_carries_odcs_own_log(host):
    """Issue 14.2: ODC writes its log to /opt/odc/log/odc.log and `docker logs` shows only the
    supervisor. The metadb is made newer than 4.2.0 between the restore and the start (a
    4.3.0.9 row in migrate_schema_history): the old ODC refuses to start ("Software degrade
    is not allowed") and crash-loops under the supervisor. The health gate's failure says so, in its
    message and with odc.log's end in the output tail. Before: only the supervisor's lines
    ("odc-server exited with status 1"), never why."""
    conf = write_conf(host, os.path.join(host.dir, "agent.conf"), **{"deadlines.health": "8s"})
    state = os.path.join(host.dir, "agent-state")
    env = dict(os.environ, ODC_AGENT_TEST_STEP_DELAY_MS="1500")
    p = subprocess.Popen([AGENT, "-c", conf, "run", "rollback",
                          "--accept-unverified", "--to", odcworld.OLD_VERSION,
                          "--backup", host.backup_dir, "--job", "deg1"], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while "start" not in (job_steps(state, "deg1") if os.path.exists(
                os.path.join(state, "journal.db")) else {}):
            assert time.monotonic() < deadline and p.poll() is None, p.communicate()
            time.sleep(0.2)
        host.sql("INSERT INTO migrate_schema_history (version, description, type, script, "
                 "checksum, installed_by, execution_millis, success) VALUES ('4.3.0.9', "
                 "'newer', 'SQL', 'V_4_3_0_9__newer.sql', 'x', 'test', 1, 1)")
        out, err = p.communicate(timeout=180)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 1, out + err
    health = out.split("[health] failed", 1)[1]
    assert "Software degrade is not allowed" in health.splitlines()[0], health[:2000]
    assert "| " in health and "Software degrade is not allowed" in health.split("\n", 1)[1]
    db = sqlite3.connect(os.path.join(state, "journal.db"))
    try:
        tail = db.execute("SELECT output_tail FROM step WHERE job_id = 'deg1' AND step = 'health'"
                          ).fetchone()[0]
    finally:
        db.close()
    assert tail.index("docker logs") < tail.index("/opt/odc/log/odc.log"), tail[:3000]
    assert "odc-server exited with status" in tail  # the supervisor's side, too
    p2 = host.engine.docker("logs", host.name, check=False)
    assert "Software degrade" not in p2.stdout + p2.stderr  # not where the agent used to look


@pytest.mark.parametrize("step", ["preflight", "stop", "snapshot", "restore", "start", "health"])
def test_kill_9_during_each_step_then_resume(host, conf, step):
    """The agent dies (kill -9) inside step; `odc-agent resume` finishes the job."""
    state = os.path.join(host.dir, "agent-state")
    job = f"kill-{step}"
    env = dict(os.environ, ODC_AGENT_TEST_STEP_DELAY_MS="1500")
    proc = subprocess.Popen([AGENT, "-c", conf, "run", "rollback",
                             "--accept-unverified", "--to", odcworld.OLD_VERSION,
                             "--backup", host.backup_dir, "--job", job],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            if os.path.exists(os.path.join(state, "journal.db")):
                try:
                    if job_steps(state, job).get(step) == "running":
                        break
                except sqlite3.OperationalError:
                    pass
            assert proc.poll() is None, proc.stdout.read()
            time.sleep(0.05)
        else:
            pytest.fail(f"step {step} never started")
        time.sleep(0.3)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
    assert job_steps(state, job)[step] == "running"
    p = agent(conf, "resume", check=0)
    assert f"odc-agent: job {job} succeeded" in p.stdout, p.stdout
    assert host.info_version() == odcworld.OLD_BUILD
    assert metadb_state(host)["tables"] == backup_state(host, host.backup_dir)
    assert len(containers_named(host, f"{host.name}-rolledback-")) == 1
    assert agent(conf, "resume", check=0).stdout.strip() == "odc-agent: no interrupted plan"


def test_interrupted_after_deadline_is_reported(host, conf):
    state = os.path.join(host.dir, "agent-state")
    conf2 = write_conf(host, conf, **{"deadlines.job": "10s"})
    env = dict(os.environ, ODC_AGENT_TEST_STEP_DELAY_MS="4000")
    proc = subprocess.Popen([AGENT, "-c", conf2, "run", "rollback",
                             "--accept-unverified", "--to", odcworld.OLD_VERSION,
                             "--backup", host.backup_dir, "--job", "late"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if job_steps(state, "late").get("stop") == "running":
                    break
            except (sqlite3.OperationalError, FileNotFoundError):
                pass
            time.sleep(0.05)
        proc.kill()
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    time.sleep(10)  # past the job's deadline
    p = agent(conf2, "resume", check=1)
    assert "[stop] interrupted" in p.stdout, p.stdout
    assert "job late was interrupted during stop and its deadline has passed" in p.stdout
    assert job_steps(state, "late")["stop"] == "interrupted"


def test_undo_returns_to_430(host, conf):
    old = host.engine.inspect(host.name)
    before = metadb_state(host)
    agent(conf, "run", "rollback",
          "--accept-unverified", "--to", odcworld.OLD_VERSION, "--backup", host.backup_dir,
          "--job", "rb-u", check=0)
    assert host.info_version() == odcworld.OLD_BUILD
    p = agent(conf, "run", "undo", "--of", "rb-u", "--job", "undo-1", check=0)
    for step in ("preflight", "stop", "restore", "start", "health"):
        assert f"[{step}] ok" in p.stdout, p.stdout
    now = host.engine.inspect(host.name)
    assert now["Id"] == old["Id"]  # the very container that was kept
    assert host.info_version() == odcworld.NEW_BUILD
    assert metadb_state(host) == before
    assert len(containers_named(host, f"{host.name}-undone-")) == 1


def test_journal_json_is_the_journal(host, conf):
    """Issue 17: `odc-agent journal JOB -o json` is one JSON document of what the journal
    recorded: a real rollback's two plans (its preflight phase, then its run phase, whose
    own check is the recheck) with their params, times and steps in the order they ran,
    each with its status, message and data, and the job's facts; the same plans, steps,
    statuses and messages as the text; the metadb password nowhere in it. A job the agent
    never ran is an empty document, and without JOB it says which plan is unfinished (none).
    Before: the journal had only a text form, parsed by two copies of two regexes."""
    state = os.path.join(host.dir, "agent-state")
    common = ["--accept-unverified", "--to", odcworld.OLD_VERSION, "--backup", host.backup_dir,
              "--job", "jj1"]
    agent(conf, "run", "rollback", *common, "--phase", "preflight", check=0)
    agent(conf, "run", "rollback", *common, check=0)
    p = agent(conf, "journal", "jj1", "-o", "json", check=0)
    doc = json.loads(p.stdout)
    # The secret is in what the host has (its env) and never in the document (the kept
    # spec's env holds it masked).
    assert host.password and host.password not in p.stdout + p.stderr
    assert f"DATABASE_PASSWORD={host.password}" in host.engine.inspect(host.name)["Config"]["Env"]
    assert "DATABASE_PASSWORD=<in the kept container>" in doc["facts"]["spec"], doc["facts"]
    assert sorted(doc) == ["facts", "job_id", "plans", "revert_facts"], doc
    assert doc["job_id"] == "jj1" and doc["revert_facts"] == {}, doc  # a rollback has no revert
    plans = doc["plans"]
    assert [(pl["job_id"], pl["action"], pl["phase"], pl["state"]) for pl in plans] == [
        ("jj1", "rollback", "preflight", "succeeded"), ("jj1", "rollback", "run", "succeeded")]
    for pl in plans:
        assert pl["params"] == {"accept_unverified": "true", "backup": host.backup_dir,
                                "to": odcworld.OLD_VERSION}, pl
    assert [s["step"] for s in plans[0]["steps"]] == ["preflight"]
    assert [s["step"] for s in plans[1]["steps"]] == [
        "recheck", "stop", "snapshot", "restore", "start", "health"]
    # Every step's fields as the journal's own rows hold them.
    db = sqlite3.connect(os.path.join(state, "journal.db"))
    try:
        rows = {(r[0], r[1]): r[2:] for r in db.execute(
            "SELECT phase, step, status, exit_code, started_ms, duration_ms, message, output_tail,"
            " data FROM step WHERE job_id = 'jj1'")}
        facts = dict(db.execute("SELECT key, value FROM fact WHERE job_id = 'jj1'"))
        deadlines = dict(db.execute("SELECT phase, deadline_ms FROM plan WHERE job_id = 'jj1'"))
    finally:
        db.close()
    assert len(rows) == 7, rows
    for pl in plans:
        assert pl["deadline_ms"] == deadlines[pl["phase"]] > pl["started_ms"], pl
        for s in pl["steps"]:
            assert sorted(s) == ["data", "duration_ms", "exit_code", "message", "output_tail",
                                 "started_ms", "status", "step"], s
            status, code, started, dur, msg, tail, data = rows[(pl["phase"], s["step"])]
            assert (s["status"], s["exit_code"], s["started_ms"], s["duration_ms"], s["message"],
                    s["output_tail"], s["data"]) == (status, code, started, dur, msg, tail,
                                                     json.loads(data)), s
            assert s["status"] == "ok" and s["message"], s
            # Within the plan's own time: started before, ended after (before, the end was
            # recorded in whole seconds and could come before the start).
            assert pl["started_ms"] <= s["started_ms"] <= s["started_ms"] + s["duration_ms"] \
                <= pl["ended_ms"], (pl, s)
    assert plans[0]["ended_ms"] <= plans[1]["started_ms"], plans
    assert doc["facts"] == facts and doc["facts"]["snapshot_verified"] == "1", doc["facts"]
    kept = containers_named(host, f"{host.name}-rolledback-")
    assert [c["Name"].lstrip("/") for c in kept] == [doc["facts"]["renamed"]], kept
    # The text shows the same plans, steps, statuses, durations and messages.
    text = agent(conf, "journal", "jj1", check=0).stdout
    want = []
    for pl in plans:
        want.append(f"job jj1: rollback, phase {pl['phase']}, {pl['state']}, params "
                    + json.dumps(pl["params"], separators=(",", ":")))
        want += [f"  {s['step']:<9} {s['status']:<11} {s['duration_ms'] / 1000:6.1f} s  "
                 f"{s['message']}" for s in pl["steps"]]
    assert text.splitlines() == want, (text, want)
    # A job the agent never ran: nothing recorded, exit 0, in both forms.
    assert agentcli.journal(conf, "no-such-job") == {"job_id": "no-such-job", "plans": [],
                                                 "facts": {}, "revert_facts": {}}
    assert agent(conf, "journal", "no-such-job", check=0).stdout == ""
    # Without JOB: the unfinished plan, here none.
    assert json.loads(agent(conf, "journal", "-o", "json", check=0).stdout) == {"unfinished": None}
    # -o takes text or json, as odcctl's takes table or json.
    bad = agent(conf, "journal", "jj1", "-o", "yaml", check=2)
    assert "journal: -o yaml: expected text or json" in bad.stderr and bad.stdout == "", bad.stderr
    assert agent(conf, "journal", "jj1", "-o", "text", check=0).stdout == text


def test_journal_json_shows_an_interrupted_plan(host, conf):
    """Issue 17: a plan cut off by kill -9 during its snapshot is the unfinished one of
    `odc-agent journal -o json` (no end yet, the snapshot step running), as its text says."""
    state = os.path.join(host.dir, "agent-state")
    env = dict(os.environ, ODC_AGENT_TEST_STEP_DELAY_MS="60000",
               ODC_AGENT_TEST_STEP_DELAY_STEPS="snapshot")
    proc = subprocess.Popen([AGENT, "-c", conf, "run", "rollback", "--accept-unverified", "--to",
                             odcworld.OLD_VERSION, "--backup", host.backup_dir, "--job", "jj-cut"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while True:
            try:
                if job_steps(state, "jj-cut").get("snapshot") == "running":
                    break
            except sqlite3.OperationalError:
                pass  # the agent is still creating its journal
            assert proc.poll() is None and time.time() < deadline, "the snapshot never started"
            time.sleep(0.2)
    finally:
        proc.kill()
        proc.wait()
    doc = agentcli.journal(conf)
    plan = doc["unfinished"]
    assert (plan["job_id"], plan["action"], plan["phase"], plan["state"], plan["ended_ms"]) == (
        "jj-cut", "rollback", "run", "running", None), plan
    assert [(s["step"], s["status"]) for s in plan["steps"]] == [
        ("preflight", "ok"), ("stop", "ok"), ("snapshot", "running")], plan
    assert agent(conf, "journal", check=0).stdout == "unfinished: job jj-cut (rollback, phase run)\n"
    assert agentcli.journal(conf, "jj-cut")["plans"] == [plan]


def test_backups_are_checked_against_their_signed_manifest(host, conf):
    """Issue 14.3, a damaged backup: one taken by odc-fleet carries a manifest signed by the
    agent, and a copy of it that lost a record, a data file or a whole table, or gained a
    file, is refused at preflight with what differs, touching nothing (before: restored,
    "verified" against itself, ODC started on a metadb that lost data). A backup taken by
    hand has none: refused unless --accept-unverified, saying so. The safety snapshot of a
    rollback is signed too, and an undo checks it."""
    old_version, bk = odcworld.OLD_VERSION, host.backup_dir
    p = agent(conf, "run", "preflight", "--to", old_version, "--backup", bk, check=1)
    assert "was not taken by odc-fleet (no odc-fleet-manifest.json)" in p.stdout, p.stdout
    assert "--accept-unverified" in p.stdout, p.stdout
    # A 4.2.0 backup taken by odc-fleet: roll back (hand-made backup, accepted), back it up,
    # undo (the snapshot's own manifest is checked), and the host is at 4.3.0 again.
    agent(conf, "run", "rollback", "--accept-unverified", "--to", old_version, "--backup", bk,
          "--job", "rb-i", check=0)
    p = agent(conf, "run", "backup", "--name", "signed-420", check=0)
    signed = os.path.join(host.dir, "signed-420")
    assert os.path.exists(os.path.join(signed, "odc-fleet-manifest.json")), p.stdout
    p = agent(conf, "run", "undo", "--of", "rb-i", check=0)
    assert "[health] ok" in p.stdout and host.info_version() == odcworld.NEW_BUILD, p.stdout
    before = (host.engine.inspect(host.name)["Id"], metadb_state(host))

    tdir = os.path.join("data", host.db, "TABLE")

    def damaged(name, how):
        d = os.path.join(host.dir, name)
        shutil.copytree(signed, d)
        how(d)
        return d

    def cut_last_record(d):
        f = os.path.join(d, tdir, "iam_user.1.0.csv")
        with open(f, "rb") as fh:
            lines = fh.read().splitlines(keepends=True)
        with open(f, "wb") as fh:
            fh.writelines(lines[:-1])

    def drop_table(d):
        for f in os.listdir(os.path.join(d, tdir)):
            if f.startswith("iam_user_organization"):
                os.remove(os.path.join(d, tdir, f))

    def edit_manifest(d):
        f = os.path.join(d, "odc-fleet-manifest.json")
        with open(f) as fh:
            text = fh.read()
        with open(f, "w") as fh:
            fh.write(text.replace('"iam_user": 3', '"iam_user": 2'))

    cases = [
        ("cut", cut_last_record, "iam_user.1.0.csv: "),
        ("nofile", lambda d: os.remove(os.path.join(d, tdir, "iam_user.1.0.csv")),
         "iam_user.1.0.csv: missing (the manifest lists it"),
        ("notable", drop_table, "iam_user_organization-schema.sql: missing"),
        ("added", lambda d: shutil.copy(os.path.join(d, tdir, "iam_user.1.0.csv"),
                                        os.path.join(d, tdir, "iam_user.1.1.csv")),
         "iam_user.1.1.csv: not in the manifest"),
        ("edited", edit_manifest, "its signature (by SHA256:"),
    ]
    for name, how, expect in cases:
        d = damaged(name, how)
        p = agent(conf, "run", "rollback", "--accept-unverified", "--to", old_version,
                  "--backup", d, check=1)
        assert "[preflight] failed" in p.stdout and "is damaged" in p.stdout, (name, p.stdout)
        assert expect in p.stdout, (name, p.stdout)
        assert "[stop]" not in p.stdout, (name, p.stdout)
    # Untouched (its snapshot root holds the snapshots of rb-i, so not assert_untouched).
    assert host.engine.inspect(host.name)["Id"] == before[0]
    assert host.info_version() == odcworld.NEW_BUILD
    assert metadb_state(host) == before[1]
    # Without its manifest it is a backup like any taken by hand.
    d = damaged("nomanifest", lambda d: [os.remove(os.path.join(d, f)) for f in
                                         ("odc-fleet-manifest.json", "odc-fleet-manifest.sig")])
    p = agent(conf, "run", "preflight", "--to", old_version, "--backup", d, check=1)
    assert "was not taken by odc-fleet" in p.stdout, p.stdout
    # Another agent (its own state dir: its own signing key) does not take this agent's
    # signature for its own, until [trust] backups names it.
    other_state = os.path.join(host.dir, "other-state")
    other = write_conf(host, os.path.join(host.dir, "other.conf"),
                       **{"agent.state_dir": other_state})
    p = agent(other, "run", "preflight", "--to", old_version, "--backup", signed, check=1)
    assert "a key this agent does not trust" in p.stdout and "[trust] backups" in p.stdout, p.stdout
    with open(os.path.join(host.dir, "agent-state", "backup-signing.key.pub")) as f:
        pub = f.read().strip()
    other = write_conf(host, os.path.join(host.dir, "other.conf"),
                       **{"agent.state_dir": other_state, "trust.backups": pub})
    p = agent(other, "run", "preflight", "--to", old_version, "--backup", signed, check=0)
    assert "[preflight] ok" in p.stdout and "intact (its odc-fleet manifest, signed by" in p.stdout, \
        p.stdout
    # The intact one needs no acknowledgement.
    p = agent(conf, "run", "rollback", "--to", old_version, "--backup", signed, check=0)
    assert "[health] ok" in p.stdout, p.stdout
    assert metadb_state(host)["tables"] == backup_state(host, signed)


def test_single_actions(host, conf):
    p = agent(conf, "run", "ping", check=0)
    assert "pong from h1 (odc-agent" in p.stdout
    p = agent(conf, "run", "status", check=0)
    assert f"container {host.name}: running, {host.images.new}" in p.stdout, p.stdout
    assert "ODC healthy at 4.3.0" in p.stdout and "metadb 4.3.0.32" in p.stdout
    p = agent(conf, "run", "logs", "--lines", "5", check=0)
    assert "[logs] ok" in p.stdout and "    | " in p.stdout
    # backup: a verified obdumper backup under the first backup root.
    p = agent(conf, "run", "backup", "--name", "pre-test", check=0)
    bdir = os.path.join(host.dir, "pre-test")
    assert f"metadb backed up to {bdir} and verified" in p.stdout, p.stdout
    assert os.path.exists(os.path.join(bdir, "data", "MANIFEST.bin"))
    assert backup_state(host, bdir) == metadb_state(host)["tables"]
    p = agent(conf, "run", "backup", "--name", "pre-test", check=1)
    assert "exists already" in p.stdout
    # stop, then start the same container again.
    cid = host.engine.inspect(host.name)["Id"]
    agent(conf, "run", "stop", check=0)
    assert not host.engine.inspect(host.name)["State"]["Running"]
    agent(conf, "run", "start", check=0)
    info = host.engine.inspect(host.name)
    assert info["Id"] == cid and info["State"]["Running"]
    host.wait_healthy(odcworld.NEW_VERSION)


def test_start_creates_from_defaults_when_no_container(host, conf):
    host.engine.docker("rm", "-f", host.name)
    p = agent(conf, "run", "start", check=1)
    assert "give a tag (to) to create one from the defaults" in p.stdout
    p = agent(conf, "run", "start", "--to", odcworld.NEW_VERSION, check=0)
    assert "from the defaults with image" in p.stdout, p.stdout
    info = host.engine.inspect(host.name)
    hc = info["HostConfig"]
    assert (hc["NetworkMode"], hc["CpuPeriod"], hc["CpuQuota"], hc["Memory"]) == \
        ("host", 100000, 400000, 8 << 30)
    assert info["Config"]["OpenStdin"] is True
    env = info["Config"]["Env"]
    for k in ("DATABASE_HOST", "DATABASE_PORT", "DATABASE_NAME"):
        assert f"{k}={host.env[k]}" in env
    assert f"DATABASE_USERNAME={host.login}" in env
    assert "ODC_PROFILE_MODE=alipay" in env
    assert sorted(hc["Binds"]) == sorted([f"{host.log_dir}:/opt/odc/log", f"{host.data_dir}:/opt/odc/data"])


def test_rollback_reports_its_own_overhead(host, conf):
    p = agent(conf, "run", "rollback",
    "--accept-unverified", "--to", odcworld.OLD_VERSION, "--backup", host.backup_dir, check=0)
    line = [ln for ln in p.stdout.splitlines() if ln.startswith("[timing]")]
    assert len(line) == 1, p.stdout
    # "total T ms: Docker D, loaders L, metadb M, health gate H; the agent's own work O ms"
    nums = [int(w.rstrip(",;")) for w in line[0].replace(":", " ").split() if w.rstrip(",;").isdigit()]
    total, dk, ld, md, hg, own = nums
    assert total >= dk + ld + md + hg and own == total - (dk + ld + md + hg)
    assert ld > 0 and hg > 0 and dk > 0
    print(line[0])


def test_snapshot_failure_stops_before_the_metadb_is_touched(host):
    """The snapshot fails (the disk is full) after the container was stopped: the metadb was
    not touched, so the host is put back by itself (issue 14.3: before, it stayed down, the
    old container renamed, and no command brought it back)."""
    before = metadb_state(host)
    old_id = host.engine.inspect(host.name)["Id"]
    w = wrapper(host, "obdumper-fails", 'echo "disk quota exceeded" >&2\nexit 3')
    conf = write_conf(host, os.path.join(host.dir, "agent.conf"), **{"loader.obdumper": w})
    p = agent(conf, "run", "rollback",
              "--accept-unverified", "--to", odcworld.OLD_VERSION, "--backup", host.backup_dir, check=1)
    assert "[snapshot] failed" in p.stdout, p.stdout
    assert "obdumper exited with status 3; the metadb was not touched" in p.stdout
    assert "disk quota exceeded" in p.stdout  # the tool's own words in the tail
    assert "the host is back as it was" in p.stdout, p.stdout
    assert "[restore]" not in p.stdout
    assert metadb_state(host) == before
    # The very container this job stopped runs again under its name, ODC at 4.3.0.
    info = host.engine.inspect(host.name)
    assert info["Id"] == old_id and info["State"]["Running"], info["State"]
    assert containers_named(host, f"{host.name}-rolledback-") == []
    host.wait_healthy(odcworld.NEW_VERSION, timeout=60)


def journal_fact(conf_state_dir, job, key):
    db = sqlite3.connect(os.path.join(conf_state_dir, "journal.db"))
    try:
        row = db.execute("SELECT value FROM fact WHERE job_id = ? AND key = ?", (job, key)).fetchone()
        return row[0] if row else None
    finally:
        db.close()


def leftovers(host):
    """The kept containers' names and the snapshot directories, sorted."""
    kept = sorted(c["Name"].lstrip("/") for c in containers_named(host, f"{host.name}-rolledback-"))
    return kept, sorted(os.listdir(host.snapshot_root))


def test_prune_keeps_what_the_latest_undo_needs(host):
    """Issue 16: rollbacks leave a kept container and a snapshot each; [retention] keep=N
    is applied after each healthy rollback and by `odc-agent prune`, oldest first, never
    to the latest rollback's (its undo still works after) nor to an unfinished job's; a
    dry run lists and removes nothing; a second prune is a no-op. The container has the
    world's own (non-default) name."""
    state = os.path.join(host.dir, "agent-state")
    keep2 = write_conf(host, os.path.join(host.dir, "keep2.conf"), **{"retention.keep": "2"})
    keep1 = write_conf(host, os.path.join(host.dir, "keep1.conf"), **{"retention.keep": "1"})
    assert host.name != "obodc"

    def rollback(job, *extra):
        p = agent(keep2, "run", "rollback", "--accept-unverified", "--to", odcworld.OLD_VERSION,
                  "--backup", host.backup_dir, "--job", job, *extra, check=0)
        assert "[health] ok" in p.stdout, p.stdout
        return p

    p = rollback("pr1")
    assert "retention: nothing to remove under retention keep=2; kept 1 container and 1 snapshot" in p.stdout, p.stdout
    rollback("pr2", "--force")
    names = {j: journal_fact(state, j, "renamed") for j in ("pr1", "pr2")}
    assert leftovers(host) == (sorted(names.values()), ["pr1", "pr2"])
    kept3 = host.engine.inspect(host.name)["Id"]  # what pr3 stops and keeps
    p = rollback("pr3", "--force")
    # Applied after the healthy rollback: pr1's go (beyond keep=2), pr2's and pr3's stay.
    assert "retention: removed 2 (1 kept container, 1 snapshot" in p.stdout, p.stdout
    names["pr3"] = journal_fact(state, "pr3", "renamed")
    assert leftovers(host) == (sorted([names["pr2"], names["pr3"]]), ["pr2", "pr3"])

    # A job left unfinished (as a kill -9 leaves it) keeps its leftovers whatever the rule.
    db = sqlite3.connect(os.path.join(state, "journal.db"))
    db.execute("UPDATE plan SET state = 'running' WHERE job_id = 'pr2'")
    db.commit()
    p = agent(keep1, "prune", "--dry-run", check=0)
    assert f"kept container {names['pr2']} (rollback pr2 of " in p.stdout, p.stdout
    assert "job pr2 is unfinished" in p.stdout, p.stdout
    assert "would remove" not in p.stdout, p.stdout
    db.execute("UPDATE plan SET state = 'succeeded' WHERE job_id = 'pr2'")
    db.commit()
    db.close()

    # max_age: within keep, what is older goes too; the latest stays.
    aged = write_conf(host, os.path.join(host.dir, "aged.conf"),
                      **{"retention.keep": "1000", "retention.max_age": "1s"})
    p = agent(aged, "prune", "--dry-run", check=0)
    assert f"would remove container {names['pr2']} (rollback pr2 of " in p.stdout, p.stdout
    assert "older than retention max_age=1s" in p.stdout, p.stdout
    assert f"kept container {names['pr3']} (rollback pr3 of " in p.stdout, p.stdout

    # A container by the kept one's name that is not the one its rollback kept stays.
    host.engine.docker("rename", names["pr2"], f"{host.name}-moved")
    host.engine.docker("create", "--name", names["pr2"], host.images.old)
    p = agent(keep1, "prune", "--dry-run", check=0)
    assert f"kept container {names['pr2']} (rollback pr2 of " in p.stdout, p.stdout
    assert "that rollback kept: left alone" in p.stdout, p.stdout
    assert f"would remove snapshot {host.snapshot_root}/pr2 " in p.stdout, p.stdout
    host.engine.docker("rm", names["pr2"])
    host.engine.docker("rename", f"{host.name}-moved", names["pr2"])

    # keep=1, dry run: lists pr2's as going and pr3's as staying, removes nothing.
    p = agent(keep1, "prune", "--dry-run", check=0)
    assert "[prune] ok" in p.stdout, p.stdout
    assert "dry run, nothing removed: would remove 2 (1 kept container, 1 snapshot" in p.stdout, p.stdout
    assert f"would remove container {names['pr2']} (rollback pr2 of " in p.stdout, p.stdout
    assert "beyond retention keep=1" in p.stdout, p.stdout
    assert f"would remove snapshot {host.snapshot_root}/pr2 " in p.stdout, p.stdout
    assert f"kept container {names['pr3']} (rollback pr3 of " in p.stdout, p.stdout
    assert f"the latest rollback of {host.name}: its undo (odc-agent run undo --of pr3" in p.stdout
    assert f"kept snapshot {host.snapshot_root}/pr3 " in p.stdout, p.stdout
    assert leftovers(host) == (sorted([names["pr2"], names["pr3"]]), ["pr2", "pr3"])

    p = agent(keep1, "prune", check=0)
    assert "removed 2 (1 kept container, 1 snapshot" in p.stdout, p.stdout
    assert f"    | removed container {names['pr2']} (rollback pr2 of " in p.stdout, p.stdout
    assert f"    | removed snapshot {host.snapshot_root}/pr2 " in p.stdout, p.stdout
    assert p.stdout.count(f"removed container {names['pr2']} ") == 1, p.stdout  # each line once
    assert leftovers(host) == ([names["pr3"]], ["pr3"])
    assert host.info_version() == odcworld.OLD_BUILD  # the running ODC is not touched

    p = agent(keep1, "prune", check=0)
    assert "nothing to remove under retention keep=1; kept 1 container and 1 snapshot" in p.stdout, p.stdout
    assert leftovers(host) == ([names["pr3"]], ["pr3"])

    # The latest rollback's undo needs exactly what was kept.
    p = agent(keep1, "run", "undo", "--of", "pr3", "--job", "undo-pr3", check=0)
    for step in ("preflight", "stop", "restore", "start", "health"):
        assert f"[{step}] ok" in p.stdout, p.stdout
    assert host.engine.inspect(host.name)["Id"] == kept3

    # What undos set aside (<name>-undone-<time>: the release each undo stopped) follows the
    # same rule per container name: nothing needs it, so the newest `keep` stay, the rest goes.
    undone = {"undo-pr3": journal_fact(state, "undo-pr3", "renamed")}
    assert undone["undo-pr3"].startswith(f"{host.name}-undone-"), undone
    rollback("pr4", "--force")
    p = agent(keep1, "run", "undo", "--of", "pr4", "--job", "undo-pr4", check=0)
    assert "[health] ok" in p.stdout, p.stdout
    undone["undo-pr4"] = journal_fact(state, "undo-pr4", "renamed")

    def set_aside():
        return sorted(c["Name"].lstrip("/") for c in containers_named(host, f"{host.name}-undone-"))
    assert set_aside() == sorted(undone.values())
    running = host.engine.inspect(host.name)["Id"]
    p = agent(keep1, "prune", "--dry-run", check=0)
    assert f"would remove container {undone['undo-pr3']} (undo undo-pr3 of " in p.stdout, p.stdout
    assert re.search(rf"kept container {re.escape(undone['undo-pr4'])} \(undo undo-pr4 of [^)]*\): "
                     r"within retention keep=1", p.stdout), p.stdout
    assert set_aside() == sorted(undone.values())
    p = agent(keep1, "prune", check=0)
    assert f"    | removed container {undone['undo-pr3']} (undo undo-pr3 of " in p.stdout, p.stdout
    assert set_aside() == [undone["undo-pr4"]]
    assert host.engine.inspect(host.name)["Id"] == running  # the running ODC is not touched
