"""The test world's HA deployment (odcworld.OdcHaDeployment) behaves like ODC deployed for high
availability after a failed upgrade: several nodes, each on a host (engine) of its own, one
shared metadb migrated once, one pre-upgrade backup. What an HA rollback must handle is here:
an old node refuses the new metadb while the new nodes keep running, and a new node still up
during the restore migrates the restored metadb again when it restarts."""

import configparser
import os
import time
from collections import Counter

import pytest

from tests.world import odcworld
from tests.world.odcworld import NEW_BUILD, NEW_VERSION, OLD_BUILD, OLD_VERSION, version_key

NODES = 2  # conftest.HA_NODES: the nodes of its ha_deployment
JDBC = "com.oceanbase.odc.migrate.jdbc.common."
MIGRATE_SRC = odcworld.WORLD / "odc" / "migrate"
NEW_MAX, OLD_MAX = "4.3.0.32", "4.2.0.41"
# History rows per start (tests/world/README.md, "The metadb"): the first start of 4.2.0 on
# an empty metadb, the upgrade to 4.3.0, and every later start of each release (its
# repeatable JDBC migrators, in this order).
FRESH_420_ROWS = 23
UPGRADE_430_ROWS = 19
RESTART_ROWS = {
    OLD_VERSION: ["R4201AuditEventMetaMigrate", "R42017RuleMetadataMigrate"],
    NEW_VERSION: ["R42017RuleMetadataMigrate", "R4237DefaultRuleApplyingMigrate",
                  "R4239AuditEventMetaMigrate", "R4243NotificationPolicyMetaMigrate"],
}
JDBC_VERSION = {"R4201AuditEventMetaMigrate": "4.2.0.1", "R42017RuleMetadataMigrate": "4.2.0.17",
                "R4237DefaultRuleApplyingMigrate": "4.2.3.7",
                "R4239AuditEventMetaMigrate": "4.2.3.9",
                "R4243NotificationPolicyMetaMigrate": "4.2.4.3"}
# Every VERSIONED migrator of the stand-in's 4.3.0 (files of both releases, one JDBC class;
# not the broken 4.3.1 releases' own).
VERSIONED_430 = sorted([p.name for p in MIGRATE_SRC.glob("4.[23].0/V_*.sql")] +
                       [JDBC + "V3234SystemConfigurationMigrate"])
CLEAN_RESTORE = ("--thread", "1", "--ddl", "--csv", "--no-sys", "--all")


def restart_rows(version):
    return [(JDBC_VERSION[c], "JDBC", JDBC + c, 1) for c in RESTART_ROWS[version]]


def is_versioned(row):
    """VERSIONED migrators are V_ files and V classes; REPEATABLE ones R_ files, R classes."""
    _, type_, script, _ = row
    return (script.rsplit(".", 1)[-1] if type_ == "JDBC" else script).startswith("V")


def versioned_scripts(history):
    return sorted(r[2] for r in history if is_versioned(r) and r[3] == 1)


def container_env(node, name=None):
    info = node.engine.inspect(name or node.name)
    return dict(e.split("=", 1) for e in info["Config"]["Env"])


def restart(node):
    """docker restart of the node's container; returns ODC's log of this start once healthy."""
    offset = node.log_size()
    node.engine.docker("restart", node.name)
    node.wait_healthy(NEW_VERSION)
    return node.log_since(offset)


def clean_restore(node):
    """test_world.py's manual clean restore, by one node: drop every table and view of the
    shared metadb, load the pre-upgrade backup with foreign key checks off (fk_checks_off)."""
    node.drop_all_tables()
    assert node.tables() == [] and node.views() == []
    r = node.run_obloader(*CLEAN_RESTORE, "-f", node.backup_dir)
    assert r.returncode == 0 and r.error_log == "" and r.discard_log == "", r
    return r


@pytest.fixture
def fk_checks_off(mariadb):
    """foreign_key_checks off for every new session (a DBA's global setting, as in
    test_world.py's clean restore), restored after."""
    mariadb.sql("SET GLOBAL foreign_key_checks = 0")
    try:
        yield
    finally:
        mariadb.sql("SET GLOBAL foreign_key_checks = 1")


def test_nodes_share_one_metadb_migrated_once(ha_deployment, tmp_path):
    ha = ha_deployment()
    nodes = ha.nodes
    assert len(nodes) == NODES
    for node in nodes:
        assert node.healthy() and node.info_version() == NEW_BUILD
        assert node.get("/api/v1/status") == (200, "okay")
    # A host each: its own engine, holding just that node's container, running 4.3.0 with the
    # seed's flags; the same DATABASE_* everywhere, a port, a log and a data dir each.
    assert len({n.engine.socket for n in nodes}) == NODES
    assert len({n.port for n in nodes}) == NODES
    for node in nodes:
        assert [i[:12] for i in node.engine.container_ids()] == [
            node.engine.inspect(node.name)["Id"][:12]]
        info = node.engine.inspect(node.name)
        assert info["State"]["Running"] and info["Config"]["Image"] == node.images.new
        assert info["HostConfig"]["NetworkMode"] == "host"
        env = container_env(node)
        assert {k: v for k, v in env.items() if k.startswith("DATABASE_")} == {
            k: v for k, v in ha.env.items() if k.startswith("DATABASE_")}
        assert env["ODC_SERVER_PORT"] == str(node.port)
        mounts = {m["Destination"]: m["Source"] for m in info["Mounts"]}
        assert mounts == {"/opt/odc/log": node.log_dir, "/opt/odc/data": node.data_dir}
        assert node.db == ha.db and node.backup_dir == ha.backup_dir
        odcworld.assert_private_mode(node.password_file)
    assert len({n.log_dir for n in nodes}) == NODES

    # The first node installed the metadb at 4.2.0 and migrated it to 4.3.0; every other
    # node, started after it, found it migrated and wrote only its repeatable JDBC rows.
    first = open(os.path.join(nodes[0].log_dir, "odc.log")).read()
    assert f"{FRESH_420_ROWS} migration(s) applied" in first
    assert f"{UPGRADE_430_ROWS} migration(s) applied" in first
    for node in nodes[1:]:
        own = open(os.path.join(node.log_dir, "odc.log")).read()
        assert f"{len(RESTART_ROWS[OLD_VERSION])} migration(s) applied" in own
        assert f"{len(RESTART_ROWS[NEW_VERSION])} migration(s) applied" in own
        assert f"skip migrated versioned migrator, version={NEW_MAX}" in own
    history = ha.history()
    assert all(r[3] == 1 for r in history)
    assert len(history) == (FRESH_420_ROWS + UPGRADE_430_ROWS +
                            (NODES - 1) * (len(RESTART_ROWS[OLD_VERSION]) +
                                           len(RESTART_ROWS[NEW_VERSION])))
    assert versioned_scripts(history) == VERSIONED_430  # each once: migrated once
    assert Counter(r[2] for r in history)["R_3_3_1__initialize_flowable.sql"] == 1
    assert nodes[0].max_history_version() == NEW_MAX
    assert history[-len(RESTART_ROWS[NEW_VERSION]):] == restart_rows(NEW_VERSION)
    assert "database_schema_object" in nodes[0].tables()

    # One backup, taken once with every 4.2.0 node stopped, before any 4.3.0 start.
    backup = nodes[0].backup_history()
    assert len(backup) == FRESH_420_ROWS + (NODES - 1) * len(RESTART_ROWS[OLD_VERSION])
    assert max((v for v, ok in backup if ok == "1"), key=version_key) == OLD_MAX
    assert "database_schema_object" not in odcworld.obtools.backup_row_counts(ha.backup_dir,
                                                                              ha.db)

    # An agent config per node: its host id, engine, port; the one metadb and backup root.
    confs = []
    for node in nodes:
        path = ha.write_agent_conf(node, str(tmp_path / f"{node.host_id}.conf"))
        c = configparser.ConfigParser()
        c.read(path)
        confs.append(c)
        assert c["docker"]["socket"] == node.engine.socket
        assert c["docker"]["container"] == node.name
        assert c["health"]["url"] == node.base_url
        assert c["metadb"]["database"] == ha.db
        assert c["metadb"]["password_file"] == node.password_file
        roots = [r.strip() for r in c["paths"]["backup_roots"].split(",")]
        assert any(ha.backup_dir.startswith(r + "/") for r in roots)
    assert len({c["agent"]["host_id"] for c in confs}) == NODES
    assert len({c["agent"]["state_dir"] for c in confs}) == NODES


def test_each_restart_adds_its_rows_to_the_one_history(ha_deployment):
    ha = ha_deployment()
    before = ha.history()
    for node in ha.nodes:
        log = restart(node)
        assert f"skip migrated versioned migrator, version={NEW_MAX}" in log
        after = ha.history()
        assert after == before + restart_rows(NEW_VERSION)
        for other in ha.nodes:
            assert other.healthy() and other.info_version() == NEW_BUILD
        before = after
    assert versioned_scripts(before) == VERSIONED_430
    assert ha.nodes[0].max_history_version() == NEW_MAX


def test_stopping_one_node_leaves_the_others_serving(ha_deployment):
    ha = ha_deployment()
    down, up = ha.nodes[0], ha.nodes[1:]
    before = ha.history()
    down.stop()
    assert down.state()["Running"] is False and not down.healthy()
    with pytest.raises(ConnectionRefusedError):
        down.get("/api/v1/heartbeat/isHealthy")
    assert ha.healthy_nodes() == up
    assert all(n.info_version() == NEW_BUILD for n in up)
    assert ha.history() == before
    # Started again, it rejoins and writes its start rows to the shared history.
    offset = down.log_size()
    down.engine.docker("start", down.name)
    down.wait_healthy(NEW_VERSION)
    assert "metadb migrate completed" in down.log_since(offset)
    assert ha.healthy_nodes() == ha.nodes
    assert ha.history() == before + restart_rows(NEW_VERSION)


def test_an_old_node_refuses_the_new_metadb_while_new_nodes_run(ha_deployment):
    """Rolling back one node by its image alone: 4.2.0 refuses the 4.3.0 metadb, the other
    nodes keep serving 4.3.0, nothing is written."""
    ha = ha_deployment()
    victim, others = ha.nodes[-1], ha.nodes[:-1]
    before = ha.history()
    victim.stop()
    old = victim.name + "-old"
    _, migrated = victim.start(victim.images.old, name=old)
    assert migrated is False
    logs = victim.wait_log("Software degrade is not allowed", name=old)
    line = next(l for l in logs.splitlines() if "Software degrade is not allowed" in l)
    assert f"greater than or equal to {NEW_MAX}" in line and OLD_VERSION in line
    assert victim.state(old)["Running"] is True  # the supervisor retries, the container is Up
    assert not victim.healthy()
    assert ha.healthy_nodes() == others
    assert all(n.info_version() == NEW_BUILD for n in others)
    assert ha.history() == before and victim.max_history_version() == NEW_MAX


def test_a_new_node_left_running_migrates_the_restored_metadb_again(ha_deployment,
                                                                   fk_checks_off):
    """Restoring while a 4.3.0 node still runs: the restore itself succeeds, but that node's
    next start (a restart, a host reboot) upgrades the restored metadb again, and the 4.2.0
    nodes then refuse it."""
    ha = ha_deployment()
    restorer, straggler = ha.nodes[0], ha.nodes[-1]
    restorer.stop()
    clean_restore(restorer)
    assert restorer.max_history_version() == OLD_MAX
    # Still up, still answering at 4.3.0 on a 4.2.0 metadb: a load balancer keeps it.
    assert straggler.healthy() and straggler.info_version() == NEW_BUILD
    log = restart(straggler)
    assert f"{UPGRADE_430_ROWS} migration(s) applied" in log
    assert restorer.max_history_version() == NEW_MAX
    _, migrated = restorer.start(restorer.images.old, name=restorer.name + "-old")
    assert migrated is False
    assert "Software degrade is not allowed" in restorer.logs(restorer.name + "-old")


def test_shared_backup_restores_once_every_node_is_stopped(ha_deployment, fk_checks_off):
    ha = ha_deployment()
    ha.stop_all()
    assert ha.healthy_nodes() == []
    for node in ha.nodes:
        assert node.state()["Running"] is False
    # One node restores the shared metadb; the backup is the one every node names.
    restorer = ha.nodes[0]
    clean_restore(restorer)
    assert odcworld.metadb_state(restorer)["tables"] == odcworld.backup_state(restorer,
                                                                               ha.backup_dir)
    backup = ha.history()
    # Then every node runs 4.2.0 again, one after another.
    for node in ha.nodes:
        node.stop(remove=True)
    offsets = [n.log_size() for n in ha.nodes]
    ha.start_all(ha.images[0].old, OLD_VERSION)
    for node, offset in zip(ha.nodes, offsets):
        assert node.info_version() == OLD_BUILD
        log = node.log_since(offset)
        assert f"skip migrated versioned migrator, version={OLD_MAX}" in log
        assert "Software degrade" not in log
    assert ha.history() == backup + restart_rows(OLD_VERSION) * NODES
    assert restorer.max_history_version() == OLD_MAX
    assert not any(version_key(v) > version_key(OLD_MAX) for v in restorer.history_versions())
    assert "database_schema_object" not in restorer.tables()


def test_two_nodes_started_at_once_migrate_once_under_odcs_lock(ha_deployment):
    """ODC's migration lock (tests/world/ODC-UPGRADE-FACTS.md §2): two nodes started at once
    on one metadb, one takes the DISTRIBUTED_LOCK row and migrates while the other waits with
    its port closed, then takes the lock, finds the metadb migrated, and starts too."""
    ha = ha_deployment(upgrade=False)
    nodes = ha.nodes
    offsets = [n.log_size() for n in nodes]
    for node in nodes:
        node.run_container(node.images.new, extra_env={"ODC_STANDIN_MIGRATION_MS": "5000"})
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        held = ha.sql("SELECT CLIENT_ID FROM DISTRIBUTED_LOCK")
        waiting = [n for n, o in zip(nodes, offsets) if "try lock..." in n.log_since(o)]
        if held and len(waiting) == NODES:
            break
        time.sleep(0.1)
    assert len(held) == 1, held
    holder = next(n for n in nodes if held[0][0].endswith(f":{n.port}"))
    waiter = next(n for n in nodes if n is not holder)
    assert "get lock success" not in waiter.log_since(offsets[nodes.index(waiter)])
    for node in nodes:
        assert not node.healthy()  # both ports closed: one migrating, one waiting
    ha.wait_healthy(NEW_VERSION, timeout=60)
    logs = {n.host_id: n.log_since(o) for n, o in zip(nodes, offsets)}
    assert f"migrate VERSIONED SQL {NEW_MAX}" in logs[holder.host_id]
    own = logs[waiter.host_id]
    assert f"skip migrated versioned migrator, version={NEW_MAX}" in own
    assert "migrate VERSIONED SQL" not in own and own.count("get lock success") == 1
    history = ha.history()
    assert all(r[3] == 1 for r in history)
    assert versioned_scripts(history) == VERSIONED_430  # each once: migrated once
    assert ha.sql("SELECT COUNT(*) FROM DISTRIBUTED_LOCK") == [(0,)]
