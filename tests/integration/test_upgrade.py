"""odc-agent's upgrade (issue 18, the agent's half) on one host, in local mode, against the
real test world (a private dockerd, MariaDB as the metadb, the ODC stand-in images and the
loader stand-ins). Each test starts from a host healthy at 4.2.0 (odc_host(upgrade=False)),
except the refusals, which start from one at 4.3.0.

An upgrade keeps the running container (renamed <name>-upgraded-<time>), takes the
rollback's verified snapshot of the metadb as its backup, starts <repository>:<to> from the
kept container's spec and waits for ODC healthy at <to>; its revert phase (the undo of the
job itself) restores that snapshot and starts the kept container again."""

import json
import os
import subprocess
import time

import pytest

from tests.world import odcworld
from tests.world.agentcli import AGENT, agent, journal, write_conf
from tests.world.odcworld import backup_state, containers_named, metadb_state


def steps_said(stdout, steps, verdict="ok"):
    for step in steps:
        assert f"[{step}] {verdict}" in stdout, stdout


def no_rows_of(host, version):
    return not [v for v in host.history_versions() if v.startswith(version)]


@pytest.fixture
def old_host(odc_host):
    """A host healthy at 4.2.0, its metadb at 4.2.0 (no failed upgrade behind it)."""
    return odc_host(upgrade=False)


def test_upgrade_backs_up_then_reverts_and_prune_spares_it(old_host):
    host = old_host
    conf = write_conf(host, os.path.join(host.dir, "agent.conf"))
    keep1 = write_conf(host, os.path.join(host.dir, "keep1.conf"), **{"retention.keep": "1"})
    old = host.engine.inspect(host.name)
    before = metadb_state(host)
    assert host.info_version() == odcworld.OLD_BUILD

    p = agent(conf, "run", "upgrade", "--to", odcworld.NEW_VERSION, "--job", "up1")
    assert p.returncode == 0, p.stdout + p.stderr
    steps_said(p.stdout, ("preflight", "stop", "snapshot", "start", "health"))
    assert "[restore]" not in p.stdout, p.stdout
    # The new release runs, in a container named as before, from the old one's spec.
    assert host.info_version() == odcworld.NEW_BUILD
    new = host.engine.inspect(host.name)
    assert new["Id"] != old["Id"] and new["Config"]["Image"] == host.images.new
    for key in ("NetworkMode", "Memory", "Binds", "RestartPolicy"):
        assert new["HostConfig"][key] == old["HostConfig"][key], key
    # ODC migrated its metadb at its first start.
    assert not no_rows_of(host, odcworld.NEW_VERSION)
    # The old container is kept, stopped, renamed; nothing was removed.
    kept = containers_named(host, f"{host.name}-upgraded-")
    assert len(kept) == 1 and kept[0]["Id"] == old["Id"] and not kept[0]["State"]["Running"]
    # The backup: the metadb as it was at 4.2.0, dumped and verified before the new start.
    snap = os.path.join(host.snapshot_root, "up1")
    assert "snapshot" in p.stdout and "verified" in p.stdout, p.stdout
    dumped = backup_state(host, snap)
    dumped.pop("odc_fleet_guard", None)  # held (empty) while it dumped, as a rollback's
    assert dumped == before["tables"]

    # Retention never takes what the latest upgrade's revert needs.
    p = agent(keep1, "prune")
    assert f"kept container {kept[0]['Name'].lstrip('/')} (upgrade up1 of " in p.stdout, p.stdout
    assert "the latest upgrade of" in p.stdout, p.stdout
    assert os.path.isdir(snap) and host.engine.inspect(kept[0]["Id"]) is not None

    # The revert: the snapshot restored, the kept container back under its name.
    revert_phase(host, conf, "up1", odcworld.NEW_VERSION, old, before)
    undone = containers_named(host, f"{host.name}-undone-")
    assert len(undone) == 1  # the 4.3.0 one, kept

    # The journal shows the job whole: its run and revert plans, the run phase's facts and,
    # apart from them, the revert phase's (where the 4.3.0 container went).
    doc = journal(conf, "up1")
    assert [(pl["phase"], pl["state"]) for pl in doc["plans"]] == [
        ("run", "succeeded"), ("revert", "succeeded")], doc["plans"]
    assert [s["step"] for s in doc["plans"][1]["steps"]] == [
        "revert_preflight", "revert_stop", "revert_restore", "revert_start", "revert_health"]
    assert doc["facts"]["renamed"] == kept[0]["Name"].lstrip("/"), doc["facts"]
    assert doc["facts"]["old_id"] == old["Id"], doc["facts"]
    rf = doc["revert_facts"]
    assert rf["renamed"] == undone[0]["Name"].lstrip("/"), rf
    assert (rf["old_id"], rf["old_image"]) == (new["Id"], host.images.new), rf
    assert host.password not in json.dumps(doc)
    # Twice: reported, not run again.
    p = agent(conf, "run", "upgrade", "--job", "up1", "--phase", "revert",
              "--to", odcworld.NEW_VERSION)
    assert "already ended: succeeded" in p.stderr, p.stdout + p.stderr
    assert host.engine.inspect(host.name)["Id"] == old["Id"]


def test_upgrade_refusals_touch_nothing(odc_host):
    """From a host at 4.3.0: an image not on the host, a downgrade, the release it runs."""
    host = odc_host()
    conf = write_conf(host, os.path.join(host.dir, "agent.conf"))
    before_id = host.engine.inspect(host.name)["Id"]
    before_db = metadb_state(host)

    p = agent(conf, "run", "upgrade", "--to", "4.4.0", "--job", "absent")
    assert p.returncode == 1 and "[preflight] failed" in p.stdout, p.stdout
    assert f"{host.images.repository}:4.4.0 is not on this host" in p.stdout, p.stdout
    assert "never pulls" in p.stdout, p.stdout

    p = agent(conf, "run", "upgrade", "--to", odcworld.OLD_VERSION, "--job", "down")
    assert p.returncode == 1 and "[preflight] failed" in p.stdout, p.stdout
    assert "that is a rollback" in p.stdout and "odcctl rollback" in p.stdout, p.stdout

    p = agent(conf, "run", "upgrade", "--to", odcworld.NEW_VERSION, "--job", "same")
    assert p.returncode == 0 and "[preflight] ok" in p.stdout, p.stdout
    assert "nothing to do" in p.stdout and "[stop]" not in p.stdout, p.stdout
    # A revert of a job that changed nothing has nothing to do.
    p = agent(conf, "run", "upgrade", "--job", "same", "--phase", "revert",
              "--to", odcworld.NEW_VERSION)
    assert p.returncode == 0 and "nothing to revert" in p.stdout, p.stdout
    # A revert of a job that never ran here is refused.
    p = agent(conf, "run", "upgrade", "--job", "never", "--phase", "revert",
              "--to", odcworld.NEW_VERSION)
    assert p.returncode == 1 and "whose run phase ran on this host" in p.stdout, p.stdout

    info = host.engine.inspect(host.name)
    assert info["Id"] == before_id and info["State"]["Running"]
    assert metadb_state(host) == before_db
    assert os.listdir(host.snapshot_root) == []


def revert_phase(host, conf, job, to, old, before):
    """`odc-agent run upgrade --phase revert` of job (upgrade to `to`), which must succeed with
    the revert's own step names (results are keyed by step, apart from the run phase's) and
    leave host at 4.2.0 on its old container, without 4.3.0's history rows, its metadb as
    `before`."""
    p = agent(conf, "run", "upgrade", "--job", job, "--phase", "revert", "--to", to)
    assert p.returncode == 0, p.stdout + p.stderr
    steps_said(p.stdout, ("revert_preflight", "revert_stop", "revert_restore", "revert_start",
                          "revert_health"))
    assert host.info_version() == odcworld.OLD_BUILD
    assert host.engine.inspect(host.name)["Id"] == old["Id"]
    assert no_rows_of(host, odcworld.NEW_VERSION)
    assert metadb_state(host) == before


def schema(host):
    """{table or view: its columns}: what metadb_state does not compare (a broken migration's
    column left behind)."""
    return {t: host.columns(t) for t in host.tables() + host.views()}


# A broken release fails its health gate at its deadline (the gate allows 60 s more only while
# ODC's migration lock is held then); a short job deadline cuts it: these tests stay short.
# Everything before the gate takes about a second here; the way back runs with the defaults.
BROKEN_DEADLINES = {"deadlines.health": "5s", "deadlines.job": "10s"}


def broken_upgrade(host, tag, job):
    """An upgrade of host to the broken release tag, with BROKEN_DEADLINES, that fails at its
    health gate: (the defaults' agent config, the old container, the metadb's state and
    schema before, the upgrade's CompletedProcess)."""
    host.images.broken(tag)
    conf = write_conf(host, os.path.join(host.dir, "agent.conf"))
    short = write_conf(host, os.path.join(host.dir, "short.conf"), **BROKEN_DEADLINES)
    old = host.engine.inspect(host.name)
    before, before_schema = metadb_state(host), schema(host)
    p = agent(short, "run", "upgrade", "--to", tag, "--job", job)
    assert p.returncode == 1, p.stdout + p.stderr
    steps_said(p.stdout, ("preflight", "stop", "snapshot", "start"))
    assert "[health] failed" in p.stdout, p.stdout
    assert f"did not become healthy at {tag}" in p.stdout, p.stdout
    return conf, old, before, before_schema, p


def test_upgrade_never_healthy_then_undo(old_host):
    """The target, 4.3.1-unhealthy (the stand-in's broken release), migrates the metadb to
    4.3.1 and then never starts. The health gate fails with ODC's own words and the way back;
    `odc-agent run undo --of JOB` (the undo of an upgrade) restores the backup and starts the
    kept 4.2.0 container: the metadb as before the upgrade, schema included."""
    host = old_host
    conf, old, before, before_schema, p = broken_upgrade(host, odcworld.UNHEALTHY_TAG, "bad")
    # ODC's own words in the message, though it crash-loops and is booting again by then.
    failed = next(line for line in p.stdout.splitlines() if line.startswith("[health] failed"))
    assert "; ODC's log: " in failed and "BeanCreationException" in failed, p.stdout
    # Its migration lock free at the deadline: no 60 s more for a release that failed.
    assert "ODC's migration lock is free: no more waiting" in p.stdout, p.stdout
    assert "within 5 s" in p.stdout, p.stdout
    assert "--phase revert" in p.stdout and "undo --of bad" in p.stdout, p.stdout
    # It did migrate: 4.3.0's scripts and its own, applied (4.2.0 cannot start on that).
    assert not no_rows_of(host, odcworld.NEW_VERSION) and not no_rows_of(host, "4.3.1")
    assert "last_login_time" in host.columns("iam_user")

    p = agent(conf, "run", "undo", "--of", "bad", "--job", "undo-bad")
    assert p.returncode == 0, p.stdout + p.stderr
    steps_said(p.stdout, ("preflight", "stop", "restore", "start", "health"))
    assert "upgrade bad can be undone" in p.stdout, p.stdout
    assert host.info_version() == odcworld.OLD_BUILD
    assert host.engine.inspect(host.name)["Id"] == old["Id"]
    assert no_rows_of(host, odcworld.NEW_VERSION) and no_rows_of(host, "4.3.1")
    assert metadb_state(host) == before
    assert schema(host) == before_schema
    # The broken release's container is kept, stopped, for a look.
    undone = containers_named(host, f"{host.name}-undone-")
    assert [c["Config"]["Image"] for c in undone] == [
        f"{host.images.repository}:{odcworld.UNHEALTHY_TAG}"], undone
    assert not undone[0]["State"]["Running"]


def test_upgrade_failed_migration_then_revert(old_host):
    """The target, 4.3.1-badmigrate, fails its migration half-way: 4.3.0's scripts applied,
    then its own script's first statement (a column added to iam_user) applied and its
    second failed, a success = 0 row per try. The health gate fails with ODC's own words;
    the revert phase of the job (the undo of the job itself) restores the backup and starts
    the kept 4.2.0 container: the metadb exactly as before the upgrade (rows, history with
    no failed row, schema without the stray column)."""
    host = old_host
    conf, old, before, before_schema, p = broken_upgrade(host, odcworld.BAD_MIGRATE_TAG, "badm")
    assert "migrate failed, version=4.3.1.1" in p.stdout, p.stdout  # ODC's log
    assert "--phase revert" in p.stdout, p.stdout
    # What the failed migration left: 4.3.0 migrated, 4.3.1.1 failed, the stray column.
    assert not no_rows_of(host, odcworld.NEW_VERSION)
    assert "4.3.1.1" in host.history_versions(success_only=False)
    assert "4.3.1.1" not in host.history_versions()
    assert "login_policy" in host.columns("iam_user")

    revert_phase(host, conf, "badm", odcworld.BAD_MIGRATE_TAG, old, before)
    assert "4.3.1.1" not in host.history_versions(success_only=False)  # nor a failed one
    assert schema(host) == before_schema
    undone = containers_named(host, f"{host.name}-undone-")
    assert [c["Config"]["Image"] for c in undone] == [
        f"{host.images.repository}:{odcworld.BAD_MIGRATE_TAG}"], undone


def test_the_health_gate_waits_longer_while_odcs_migration_lock_is_held(old_host):
    """At the health deadline ODC's migration lock (a row in DISTRIBUTED_LOCK: here another
    lock of the table, as a node migrating holds) is held: the gate waits up to 60 s more,
    cut by the job's deadline, before it fails; the undo then puts the host back."""
    host = old_host
    image = host.images.broken(odcworld.UNHEALTHY_TAG)
    conf = write_conf(host, os.path.join(host.dir, "agent.conf"))
    short = write_conf(host, os.path.join(host.dir, "short.conf"),
                       **{"deadlines.health": "5s", "deadlines.job": "20s"})
    proc = subprocess.Popen([AGENT, "-c", short, "run", "upgrade", "--to",
                             odcworld.UNHEALTHY_TAG, "--job", "locked"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 15
        while (host.engine.inspect(host.name) or {}).get("Config", {}).get("Image") != image:
            assert time.monotonic() < deadline and proc.poll() is None, "no new container"
            time.sleep(0.1)
        host.sql("INSERT INTO DISTRIBUTED_LOCK (LOCK_KEY, REGION, CLIENT_ID, CREATED_DATE) "
                 "VALUES ('00000000-0000-0000-0000-000000000001', 'DEFAULT', 'another-node', "
                 "NOW(6))")
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1, out
    assert "[health]   not healthy within 5 s: waiting up to 1" in out, out
    assert "s more" in out and "[health] failed" in out, out
    host.sql("DELETE FROM DISTRIBUTED_LOCK WHERE CLIENT_ID = 'another-node'")
    p = agent(conf, "run", "undo", "--of", "locked", "--job", "undo-locked")
    assert p.returncode == 0, p.stdout + p.stderr
    assert host.info_version() == odcworld.OLD_BUILD


def test_upgrade_dry_run_shows_the_new_container(old_host):
    host = old_host
    conf = write_conf(host, os.path.join(host.dir, "agent.conf"))
    old_id = host.engine.inspect(host.name)["Id"]
    p = agent(conf, "run", "upgrade", "--to", odcworld.NEW_VERSION, "--dry-run", "--job", "dry")
    assert p.returncode == 0 and "[preflight] ok" in p.stdout, p.stdout
    assert "[stop]" not in p.stdout, p.stdout
    assert host.images.new in p.stdout and host.images.old in p.stdout, p.stdout  # Image: old -> new
    assert host.engine.inspect(host.name)["Id"] == old_id
    assert os.listdir(host.snapshot_root) == []


def run_on_every_node(confs, *args):
    """The same local command on every node at once (as a fleet job dispatched to the whole
    deployment): [(exit, stdout)], and the text of all for messages."""
    procs = [subprocess.Popen([AGENT, "-c", c, *args], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for c in confs]
    outs = [p.communicate(timeout=300) for p in procs]
    text = "\n\n".join(f"exit {p.returncode}:\n{o}\n{e}" for p, (o, e) in zip(procs, outs))
    return [(p.returncode, o) for p, (o, _) in zip(procs, outs)], text


def test_ha_upgrade_one_backup_one_migration_then_revert(ha_deployment, tmp_path):
    """Both nodes of an HA deployment upgrade in one job at once: the first to take the
    metadb's guard dumps it (the others stopped) and starts first; the other waits until the
    guard is released with the metadb migrated to 4.3.0, then only starts. The revert goes
    the same way back: one restore, both nodes on their kept 4.2.0 containers."""
    ha = ha_deployment(upgrade=False)
    ha.start_all(ha.images[0].old, odcworld.OLD_VERSION)
    confs = [ha.write_agent_conf(n, str(tmp_path / f"{n.host_id}.conf")) for n in ha.nodes]
    before = metadb_state(ha.nodes[0])
    kept = [ha.nodes[i].engine.inspect(ha.nodes[i].name)["Id"] for i in range(len(ha.nodes))]

    res, text = run_on_every_node(confs, "run", "upgrade", "--to", odcworld.NEW_VERSION,
                                  "--job", "up-ha")
    assert [rc for rc, _ in res] == [0] * len(res), text
    dumped = [i for i, (_, o) in enumerate(res) if "[snapshot] ok" in o]
    assert len(dumped) == 1, text
    first = ha.nodes[dumped[0]]
    for i, (_, o) in enumerate(res):
        if i != dumped[0]:
            assert (f"host {first.host_id} of this deployment backed up and migrated the metadb"
                    in o), text
            assert "[snapshot] skipped" in o and "[start] ok" in o, text
    for node in ha.nodes:
        assert node.info_version() == odcworld.NEW_BUILD, node
    assert not no_rows_of(ha.nodes[0], odcworld.NEW_VERSION)

    res, text = run_on_every_node(confs, "run", "upgrade", "--job", "up-ha", "--phase", "revert",
                                  "--to", odcworld.NEW_VERSION)
    assert [rc for rc, _ in res] == [0] * len(res), text
    assert "[revert_restore] ok" in res[dumped[0]][1], text
    for i, node in enumerate(ha.nodes):
        assert node.info_version() == odcworld.OLD_BUILD, node
        assert node.engine.inspect(node.name)["Id"] == kept[i]
    assert no_rows_of(ha.nodes[0], odcworld.NEW_VERSION)
    assert metadb_state(ha.nodes[0]) == before
