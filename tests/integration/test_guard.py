"""The restore guard and the session check (agent/guard.c), on an HA deployment of the test
world: every node's agent is configured for the one shared metadb, so two of them (or a
local run and a fleet job) could each set out to restore it. The guard, a table created in
the metadb itself, lets exactly one restore run; one cut off by a crash stays named until it
is released; and no restore begins while an ODC node is still connected to the metadb."""

import os
import subprocess

from tests.integration.test_world_ha import restart_rows
from tests.world import agentcli, odcworld
from tests.world.fleet import fleet, job_results  # noqa: F401
from tests.world.odcworld import NEW_BUILD, NEW_VERSION, OLD_BUILD, OLD_VERSION

GUARD = "odc_fleet_guard"


def node_confs(ha, tmp_path):
    return [ha.write_agent_conf(n, str(tmp_path / f"{n.host_id}.conf")) for n in ha.nodes]


def rollback_args(ha, job):
    return ["run", "rollback", "--accept-unverified", "--to", OLD_VERSION, "--backup",
            ha.backup_dir, "--job", job]


def guard_rows(ha):
    """The guard table's comment (who holds it), or None when there is no guard."""
    rows = ha.sql("SELECT TABLE_COMMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s "
                  "AND TABLE_NAME = %s", (ha.db, GUARD))
    return rows[0][0] if rows else None


def fence_rows(ha):
    """The fence's comment (which rollback restored the metadb), or None."""
    rows = ha.sql("SELECT TABLE_COMMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s "
                  "AND TABLE_NAME = %s", (ha.db, "odc_fleet_fence"))
    return rows[0][0] if rows else None


def test_two_agents_never_restore_one_metadb_at_once(ha_deployment, tmp_path):
    """Both nodes' agents roll back at the same moment, each in local mode: each stops its own
    node and takes its snapshot; then exactly one restores, the other is refused naming the
    holder, its metadb untouched, its container kept."""
    ha = ha_deployment()
    confs = node_confs(ha, tmp_path)
    procs = [subprocess.Popen([agentcli.AGENT, "-c", c, *rollback_args(ha, f"race-{n.host_id}")],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for c, n in zip(confs, ha.nodes)]
    outs = [p.communicate(timeout=300) for p in procs]
    rcs = [p.returncode for p in procs]
    assert sorted(rcs) == [0, 1], "\n\n".join(f"exit {rc}:\n{o}\n{e}" for rc, (o, e) in zip(rcs, outs))
    win = rcs.index(0)
    winner, loser = ha.nodes[win], ha.nodes[1 - win]
    out = outs[1 - win][0] + outs[1 - win][1]
    # The loser stopped its node, then found the guard at its snapshot (the guard covers the
    # snapshot too: a dump taken during another's restore would be neither metadb).
    assert "[snapshot] failed" in out and "[restore]" not in out, out
    assert (f"another restore of this metadb started first: host {winner.host_id} for job "
            f"race-{winner.host_id} (rollback)") in out, out
    assert "renamed back, not started), because another restore of this metadb runs" in out, out
    assert "run this rollback again: it finds the metadb at the target" in out, out
    # The winner's node runs 4.2.0 on the restored metadb; the guard is gone.
    assert winner.info_version() == OLD_BUILD
    assert odcworld.metadb_state(winner)["tables"] == odcworld.backup_state(winner, ha.backup_dir)
    assert guard_rows(ha) is None
    # The loser's node is down, its 4.3.0 container back under its name, stopped: started, it
    # would migrate the restored metadb under the winner. Nothing to undo.
    assert not loser.healthy() and loser.state()["Running"] is False
    assert loser.engine.inspect(loser.name)["Config"]["Image"] == loser.images.new
    p = agentcli.agent(confs[1 - win], "run", "undo", "--of", f"race-{loser.host_id}")
    assert p.returncode == 1 and "put its container back when it failed; nothing to undo" in \
        p.stdout, p.stdout
    # Its rollback again finds the metadb at 4.2.0 already: no second restore, only its
    # container is replaced (a node of an HA deployment joins the rollback of the others).
    before = ha.history()
    p = agentcli.agent(confs[1 - win], *rollback_args(ha, "race-again"), check=0)
    assert "[snapshot] skipped" in p.stdout and "[restore] skipped" in p.stdout, p.stdout
    assert "not restored again" in p.stdout, p.stdout
    assert loser.info_version() == OLD_BUILD and winner.info_version() == OLD_BUILD
    assert odcworld.metadb_state(winner)["tables"] == odcworld.backup_state(winner, ha.backup_dir)
    after = ha.history()  # what was there stays; the new start added its JDBC rows only
    assert after[:len(before)] == before and after[len(before):], after
    assert all(r[1] == odcworld.START_ROWS_TYPE for r in after[len(before):]), after
    # Undoing that one would start 4.3.0 on the 4.2.0 metadb: refused, saying why.
    p = agentcli.agent(confs[1 - win], "run", "undo", "--of", "race-again")
    assert p.returncode == 1, p.stdout
    assert "would migrate the metadb forward" in p.stdout and "it is not started" in p.stdout, \
        p.stdout
    assert "[stop]" not in p.stdout, p.stdout  # refused before anything was stopped
    assert loser.info_version() == OLD_BUILD and winner.info_version() == OLD_BUILD
    assert winner.max_history_version() == "4.2.0.41"


def test_a_guard_left_by_a_crash_holds_until_released(ha_deployment, tmp_path):
    """A restore cut off by a crash leaves the guard, naming its host and job: every other
    restore refuses until that agent resumes or closes its plan, or an operator releases it."""
    ha = ha_deployment()
    conf = node_confs(ha, tmp_path)[0]
    ha.sql(f"CREATE TABLE {GUARD} (held TINYINT) COMMENT = "
           "'host=odc9 job=rollback-x action=rollback since_ms=1765000000000'")
    p = agentcli.agent(conf, "guard", check=0)
    assert "is held by host odc9 for job rollback-x (rollback) since 2025-12-06T" in p.stdout
    p = agentcli.agent(conf, *rollback_args(ha, "rb-blocked"))
    assert p.returncode == 1, p.stdout
    assert "[preflight] failed" in p.stdout, p.stdout
    assert ("the metadb is held by another restore: host odc9 for job rollback-x (rollback)"
            in p.stdout), p.stdout
    assert "odc-agent guard release rollback-x" in p.stdout, p.stdout
    assert ha.nodes[0].healthy() and ha.nodes[0].info_version() == NEW_BUILD  # untouched
    # Another job's release leaves it; the holder's job releases it.
    p = agentcli.agent(conf, "guard", "release", "rollback-y")
    assert p.returncode == 1 and "not for job rollback-y: left alone" in p.stderr, p.stderr
    assert guard_rows(ha).startswith("host=odc9 job=rollback-x action=rollback ")
    p = agentcli.agent(conf, "guard", "release", "rollback-x", check=0)
    assert "released (job rollback-x)" in p.stdout, p.stdout
    assert guard_rows(ha) is None
    assert "is not held by any restore" in agentcli.agent(conf, "guard", check=0).stdout
    # A table of that name that says nothing counts as held: only --any releases it.
    ha.sql(f"CREATE TABLE {GUARD} (x INT)")
    p = agentcli.agent(conf, *rollback_args(ha, "rb-blocked-2"))
    assert p.returncode == 1 and "odc-agent guard release --any" in p.stdout, p.stdout
    assert "released" in agentcli.agent(conf, "guard", "release", "--any", check=0).stdout
    # The guard is never part of what a restore compares or drops.
    ha.stop_all()
    p = agentcli.agent(conf, *rollback_args(ha, "rb-after"), check=0)
    assert "[restore] ok" in p.stdout, p.stdout


def test_no_restore_while_another_node_is_connected(ha_deployment, tmp_path):
    """A node left running holds its connection pool to the metadb: neither the snapshot nor
    the restore begins (the other node would undo the restore at its next start), the metadb
    is untouched, the guard released, and the host goes back as it was."""
    ha = ha_deployment()
    confs = node_confs(ha, tmp_path)
    node, other = ha.nodes
    before = ha.history()
    p = agentcli.agent(confs[0], *rollback_args(ha, "rb-busy"))
    assert p.returncode == 1, p.stdout
    # Checked before the snapshot already: a snapshot of a metadb still written to would not
    # be one; and again before the restore.
    assert "[snapshot] failed" in p.stdout and "[restore]" not in p.stdout, p.stdout
    assert "2 sessions from 127.0.0.1 of user" in p.stdout, p.stdout
    assert "still connected to the metadb after 15 s" in p.stdout, p.stdout
    assert "the host is back as it was" in p.stdout and "the metadb is untouched" in p.stdout, \
        p.stdout
    assert "DOWN" not in p.stdout, p.stdout
    assert guard_rows(ha) is None
    assert other.healthy() and other.info_version() == NEW_BUILD
    node.wait_healthy(NEW_VERSION)
    assert node.info_version() == NEW_BUILD
    # The node put back started as at any restart: its repeatable migrators added their rows,
    # and nothing else changed. Read once it is up: read at once, the rows raced its start
    # (the agent starts the container and does not wait for it; seen under load).
    assert ha.history() == before + restart_rows(NEW_VERSION)
    p = agentcli.agent(confs[0], "run", "undo", "--of", "rb-busy")
    assert p.returncode == 1 and "put its container back when it failed; nothing to undo" in \
        p.stdout, p.stdout


def test_a_local_rollback_racing_a_fleet_rollback_on_one_metadb(ha_deployment, fleet):
    """A fleet rollback of one node and an operator's local rollback on the other node of the
    same HA deployment, at the same moment: exactly one restores the metadb; the other is
    refused with the reason, its node stopped and its container back under its name."""
    ha = ha_deployment()
    fleet.start()
    fleet_node, local_node = ha.nodes
    agent = fleet.make_agent(fleet_node.host_id, host=fleet_node,
                             conf_over={"paths.backup_roots": f"{fleet_node.dir}, {ha.dir}"})
    fleet.accept(agent.host_id, "@" + agent.pub_path)
    agent.start()
    fleet.wait_online(agent.host_id, timeout=30)
    local_conf = ha.write_agent_conf(local_node, os.path.join(ha.dir, "local.conf"))
    # The preflight phase first, so that both plans reach their snapshot together.
    job_id = fleet.submit("rollback", "--to", OLD_VERSION, "--backup", ha.backup_dir,
                          "--host", agent.host_id, "--accept-unverified")
    local = subprocess.Popen([agentcli.AGENT, "-c", local_conf, *rollback_args(ha, "local-race")],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = local.communicate(timeout=300)
    job = fleet.wait_job(job_id, 300)
    steps = {r["step"]: r for r in job_results(job)[agent.host_id]}
    fleet_restored = steps.get("restore", {}).get("status") == "ok"
    local_restored = "[restore] ok" in out
    # Exactly one restore; the other plan was refused by the guard (they overlapped), or
    # found the metadb restored and only replaced its node's container (they did not).
    assert fleet_restored + local_restored == 1, (job, out + err)
    if fleet_restored:
        winner, loser = fleet_node, local_node
        other = out
    else:
        winner, loser = local_node, fleet_node
        other = " ".join(r["message"] for r in steps.values())
    assert (f"another restore of this metadb started first: host {winner.host_id}" in other or
            "not restored again" in other), other
    assert winner.info_version() == OLD_BUILD
    assert odcworld.metadb_state(winner)["tables"] == odcworld.backup_state(winner, ha.backup_dir)
    if "not restored again" in other:
        assert loser.info_version() == OLD_BUILD
    else:
        assert not loser.healthy() and loser.state()["Running"] is False
    assert guard_rows(ha) is None


def test_the_nodes_of_one_job_restore_once_and_all_come_up(ha_deployment, tmp_path):
    """Every node of the deployment runs the same rollback job at once (as a fleet job
    dispatched to the whole deployment): each stops its node; the first to take the guard
    waits for the others to be stopped, snapshots and restores; the others wait for it, then
    find the metadb restored and only replace their containers. One restore, every node up at
    4.2.0 from its own spec."""
    ha = ha_deployment()
    confs = node_confs(ha, tmp_path)
    upgraded = odcworld.metadb_state(ha.nodes[0])["tables"]
    procs = [subprocess.Popen([agentcli.AGENT, "-c", c, *rollback_args(ha, "rb-deploy")],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for c in confs]
    outs = [p.communicate(timeout=300) for p in procs]
    rcs = [p.returncode for p in procs]
    text = "\n\n".join(f"exit {rc}:\n{o}\n{e}" for rc, (o, e) in zip(rcs, outs))
    assert rcs == [0, 0], text
    restored = [i for i, (o, _) in enumerate(outs) if "[restore] ok" in o]
    assert len(restored) == 1, text
    r = restored[0]
    other = outs[1 - r][0]
    assert (f"host {ha.nodes[r].host_id} of this deployment restored the metadb for this job"
            in other), other
    assert "[restore] skipped" in other, other
    for node in ha.nodes:
        assert node.info_version() == OLD_BUILD, node
        assert node.engine.inspect(node.name)["Config"]["Image"] == node.images.old
    assert odcworld.metadb_state(ha.nodes[0])["tables"] == \
        odcworld.backup_state(ha.nodes[0], ha.backup_dir)
    assert guard_rows(ha) is None
    # The restore fenced the metadb at the version it restored (a node that was away must
    # not start its 4.3.0 container on it); `odc-agent guard` says so.
    assert f"host={ha.nodes[r].host_id} job=rb-deploy action=rollback" in fence_rows(ha)
    p = subprocess.run([agentcli.AGENT, "-c", confs[0], "guard"], capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 0 and "fenced: rollback rb-deploy restored it to version" in p.stdout, p
    assert "odc-agent guard lift-fence rb-deploy" in p.stdout, p

    # The undo, the same way: the node that restored restores its snapshot once the others
    # are stopped; the others wait for it, then start their kept 4.3.0 containers.
    procs = [subprocess.Popen([agentcli.AGENT, "-c", c, "run", "undo", "--of", "rb-deploy",
                               "--job", "undo-deploy"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for c in confs]
    outs = [p.communicate(timeout=300) for p in procs]
    text = "\n\n".join(f"exit {p.returncode}:\n{o}\n{e}" for p, (o, e) in zip(procs, outs))
    assert [p.returncode for p in procs] == [0, 0], text
    assert "[restore] ok" in outs[r][0], text
    assert (f"host {ha.nodes[r].host_id} of this deployment restored the metadb for this undo"
            in outs[1 - r][0]), text
    for node in ha.nodes:
        assert node.info_version() == NEW_BUILD, node
    assert odcworld.metadb_state(ha.nodes[0])["tables"] == upgraded
    assert guard_rows(ha) is None
    assert fence_rows(ha) is None  # the undo lifted its rollback's fence
