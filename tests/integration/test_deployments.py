"""Deployments (PROTOCOL.md 4, HEARTBEAT `metadb`; 9.2 `deployments`): hosts whose ODC
containers use one metadb form one deployment, the unit an HA rollback restores once. The
coordinator learns it from heartbeats, keeps it across restarts (a node that is down still
counts), and shows what needs attention: a node lost, nodes at different versions."""

import os
import re
import shutil
import subprocess
import time

import nacl.signing

from tests.world import agentcli, odcworld
from tests.world.coordpeer import pub_text
from tests.world.fleet import fleet, job_id_of, job_results, wait_for  # noqa: F401

M1 = {"host": "obproxy.example", "port": 2883, "tenant": "odc_meta", "cluster": "obcluster",
      "database": "odc_metadb"}
M2 = dict(M1, database="odc_metadb_2")


def odc(version, state="running", health="healthy"):
    return {"container_id": "c0ffee" * 4, "name": "obodc", "image": f"oceanbase/odc:{version}",
            "state": state, "health": health, "version": version}


class Node:
    """A hand-made agent: enrolled, welcomed, beating what the test says."""

    def __init__(self, fleet, host_id):
        self.host_id = host_id
        key = nacl.signing.SigningKey.generate()
        fleet.accept(host_id, pub_text(key))
        self.raw = fleet.raw_agent(key)
        self.raw.hello(host_id)
        assert self.raw.wait_type("WELCOME", 5) is not None, host_id

    def beat(self, version="4.3.0", metadb=M1, **kw):
        self.raw.heartbeat(self.host_id, odc=odc(version, **kw), metadb=metadb)


def deployments(fleet, *args):
    return fleet.ctl_ok("deployments", *args)


def by_id(body):
    return {d["deployment"]: d for d in body["deployments"]}


def wait_deployments(fleet, pred, what, timeout=10):
    return wait_for(lambda: (lambda b: b if pred(b) else None)(deployments(fleet)), timeout, what)


def test_hosts_sharing_a_metadb_form_one_deployment(fleet):
    fleet.start()
    a1, a2, b1, c1 = (Node(fleet, h) for h in ("a1", "a2", "b1", "c1"))
    a1.beat()
    a2.beat()
    b1.beat(metadb=M2)
    c1.raw.heartbeat("c1")  # no container: no metadb known
    body = wait_deployments(fleet, lambda b: len(b["deployments"]) == 2 and
                            all(d["online"] == d["size"] for d in b["deployments"]),
                            "two deployments, every node online")
    [da, db] = body["deployments"]  # ordered by their first node
    assert [n["host"] for n in da["nodes"]] == ["a1", "a2"], da
    assert da["metadb"] == M1 and da["size"] == 2 and da["healthy"] == 2, da
    assert da["versions"] == ["4.3.0"] and da["attention"] == [], da
    assert da["name"] == "obproxy.example:2883/odc_metadb tenant odc_meta cluster obcluster"
    assert da["deployment"].startswith("d-") and len(da["deployment"]) == 14, da
    assert [n["host"] for n in db["nodes"]] == ["b1"] and db["metadb"] == M2, db
    assert body["unplaced"] == ["c1"], body
    hosts = {k: h["deployment"] for k, h in fleet.hosts().items()}
    assert hosts == {"a1": da["deployment"], "a2": da["deployment"], "b1": db["deployment"],
                     "c1": None}, hosts

    # The table: one line per deployment, its nodes under it, what needs attention.
    a2.beat("4.2.0")
    p = fleet.ctl("deployments", json_out=False)
    assert p.rc == 0, p
    wait_deployments(fleet, lambda b: by_id(b)[da["deployment"]]["attention"],
                     "the version mismatch")
    p = fleet.ctl("deployments", json_out=False)
    lines = p.out.splitlines()
    assert lines[0].split() == ["DEPLOYMENT", "METADB", "NODES", "VERSIONS", "HEALTHY"], p.out
    assert lines[1].startswith(da["deployment"]) and "2/2" in lines[1], p.out
    assert "4.3.0,4.2.0" in lines[1], p.out
    assert "! nodes answer at different versions: 4.3.0, 4.2.0" in p.out, p.out
    assert "no metadb known yet: c1" in p.out, p.out
    one = deployments(fleet, db["deployment"])
    assert [d["deployment"] for d in one["deployments"]] == [db["deployment"]], one
    assert one["unplaced"] == [], one
    missing = fleet.ctl("deployments", "d-000000000000")
    assert missing.rc != 0 and "no deployment d-000000000000" in missing.err, missing

    # A node that stops beating is lost, and still a node of its deployment.
    deadline = time.monotonic() + fleet.heartbeat_ms * fleet.lost_after / 1000 + 5
    d = None
    while time.monotonic() < deadline:
        a1.beat()
        b1.beat(metadb=M2)
        d = by_id(deployments(fleet))[da["deployment"]]
        if "node a2 is lost" in d["attention"]:
            break
        time.sleep(0.5)
    assert "node a2 is lost" in d["attention"] and d["online"] == 1 and d["size"] == 2, d
    assert [n["status"] for n in d["nodes"]] == ["online", "lost"], d

    # A coordinator restart knows the deployments from its store before anyone beats.
    fleet.restart()
    body = deployments(fleet)
    assert {k: [n["host"] for n in v["nodes"]] for k, v in by_id(body).items()} == \
        {da["deployment"]: ["a1", "a2"], db["deployment"]: ["b1"]}, body
    assert body["unplaced"] == ["c1"], body
    assert all(n["status"] == "lost" for d in body["deployments"] for n in d["nodes"]), body


def test_a_host_whose_container_changes_metadb_moves(fleet):
    fleet.start()
    a1, b1 = Node(fleet, "a1"), Node(fleet, "b1")
    a1.beat()
    b1.beat(metadb=M2)
    body = wait_deployments(fleet, lambda b: len(b["deployments"]) == 2, "two deployments")
    [da, db] = body["deployments"]
    b1.beat(metadb=M1)
    body = wait_deployments(fleet, lambda b: len(b["deployments"]) == 1, "one deployment")
    [d] = body["deployments"]
    assert d["deployment"] == da["deployment"] and [n["host"] for n in d["nodes"]] == ["a1", "b1"]
    assert f"left deployment {db['deployment']} for {da['deployment']}" in fleet.log()
    # A beat without a metadb (the container is gone) keeps what was known: once the
    # coordinator has that beat (its container shows absent), b1 is still a node.
    b1.raw.heartbeat("b1", odc=dict(odc("4.3.0"), container_id="", state="absent",
                                    health="unknown", version=""))
    wait_for(lambda: fleet.hosts()["b1"]["odc"]["state"] == "absent", 10, "b1's beat")
    assert [n["host"] for n in deployments(fleet)["deployments"][0]["nodes"]] == ["a1", "b1"]


def test_real_agents_place_ha_nodes_in_one_deployment(fleet, ha_deployment, odc_host):
    """Agents on the nodes of an HA deployment (each its own engine and ODC_SERVER_PORT, one
    DATABASE_* env) and on a single-node ODC report their containers' metadb: two
    deployments, the HA one with both nodes, each node's version and health."""
    fleet.start()
    ha = ha_deployment()
    single = odc_host()
    for node in ha.nodes:
        fleet.make_agent(node.host_id, host=node,
                         conf_over={"paths.backup_roots": f"{node.dir}, {ha.dir}"})
    fleet.make_agent("solo", host=single)
    for a in fleet.agents.values():
        fleet.accept(a.host_id, "@" + a.pub_path)
        a.start()
    body = wait_deployments(fleet, lambda b: sum(d["size"] for d in b["deployments"]) == 3 and
                            all(d["healthy"] == d["size"] for d in b["deployments"]),
                            "three healthy nodes placed", timeout=60)
    nodes = {tuple(n["host"] for n in d["nodes"]): d for d in body["deployments"]}
    assert set(nodes) == {("odc1", "odc2"), ("solo",)}, body
    d = nodes[("odc1", "odc2")]
    assert d["metadb"] == {"host": ha.db_host.lower(), "port": ha.db_port, "tenant": ha.tenant,
                           "cluster": ha.cluster, "database": ha.db}, d
    assert d["versions"] == [odcworld.NEW_BUILD] and d["attention"] == [], d
    assert nodes[("solo",)]["metadb"]["database"] == single.db
    assert body["unplaced"] == [], body


def shared_backup(fleet, ha, single):
    """One backup directory under a root every agent has, holding the HA deployment's
    pre-upgrade dump and the single host's (data/<db>/ each): a fleet rollback names one
    --backup path for every host."""
    out = os.path.join(fleet.backup_root, "pre-4.3.0")
    os.makedirs(os.path.join(out, "data"))
    for f in os.listdir(os.path.join(ha.backup_dir, "data")):
        p = os.path.join(ha.backup_dir, "data", f)
        if os.path.isfile(p):
            shutil.copy2(p, os.path.join(out, "data"))
    for src, db in ((ha.backup_dir, ha.db), (single.backup_dir, single.db)):
        shutil.copytree(os.path.join(src, "data", db), os.path.join(out, "data", db))
    return out


def test_a_fleet_rollback_restores_an_ha_deployment_once(fleet, ha_deployment, odc_host):
    """The deployment is the unit: a rollback naming one node of the HA deployment is refused
    (the other node named); with --whole-deployments both nodes run together as the canary,
    one restores, the other waits and only replaces its container; then the single host.
    Every node ends at 4.2.0 on a metadb equal to its backup, loaded once."""
    fleet.start()
    ha = ha_deployment()
    single = odc_host()
    for node in ha.nodes:
        fleet.make_agent(node.host_id, host=node)
    fleet.make_agent("solo", host=single)
    for a in fleet.agents.values():
        fleet.accept(a.host_id, "@" + a.pub_path)
        a.start()
    wait_deployments(fleet, lambda b: sum(d["size"] for d in b["deployments"]) == 3,
                     "three nodes placed", timeout=60)
    backup = shared_backup(fleet, ha, single)
    args = ("--to", odcworld.OLD_VERSION, "--backup", backup, "--accept-unverified")

    p = fleet.ctl("rollback", *args, "--host", "odc1", "--host", "solo", "--detach")
    assert p.rc != 0, p
    assert "names only part of deployment d-" in p.err and "odc2 is not a target" in p.err, p
    assert all(n.info_version() == odcworld.NEW_BUILD for n in ha.nodes)  # nothing touched

    p = fleet.ctl("rollback", *args, "--host", "odc1", "--host", "solo", "--whole-deployments",
                  "--canary", "1", "--batch", "1", "--detach")
    assert p.rc == 0, p
    assert "adding odc2: a node of deployment d-" in p.err, p
    job_id = job_id_of(p.out)
    job = fleet.wait_job(job_id, 300)
    assert job["state"] == "succeeded", job
    hosts = {h["host"]: h for h in job["hosts"]}
    assert hosts["odc1"]["role"] == hosts["odc2"]["role"] == "canary", hosts
    assert hosts["solo"]["role"] == "batch", hosts
    results = job_results(job)
    restore = {h: next(r for r in rs if r["step"] == "restore") for h, rs in results.items()}
    ha_restores = [h for h in ("odc1", "odc2") if restore[h]["status"] == "ok"]
    assert len(ha_restores) == 1, restore
    other = "odc2" if ha_restores == ["odc1"] else "odc1"
    assert restore[other]["status"] == "skipped", restore[other]
    snap = next(r for r in results[other] if r["step"] == "snapshot")
    assert f"host {ha_restores[0]} of this deployment restored the metadb for this job" in \
        snap["message"], snap
    assert restore["solo"]["status"] == "ok"
    for n in ha.nodes + [single]:
        assert n.info_version() == odcworld.OLD_BUILD, n
    assert odcworld.metadb_state(ha.nodes[0])["tables"] == \
        odcworld.backup_state(ha.nodes[0], ha.backup_dir)
    assert odcworld.metadb_state(single)["tables"] == \
        odcworld.backup_state(single, single.backup_dir)

    # For the record (the note): the wall time of the HA rollback's unit, and the
    # agents' own work in it (each plan's timing line: what is left once Docker, the loaders,
    # the metadb and the health gate are taken out, both phases).
    ha_hosts = [h for h in job["hosts"] if h["host"] in ("odc1", "odc2")]
    own = {a: [int(x) for x in re.findall(r"the agent's own work (\d+) ms", fleet.agents[a].log())]
           for a in ("odc1", "odc2")}
    print(f"HA rollback: job {job['ended_ms'] - job['submitted_ms']} ms for 2 HA nodes + 1 host; "
          f"HA unit results {[(h['host'], h['updated_ms'] - job['submitted_ms']) for h in ha_hosts]}"
          f" ms after submission; agents' own work per plan (ms): {own}")

    # Undo by deployment too: every host of the rollback, the HA nodes together.
    p = fleet.ctl("undo", "--of", job_id, "--canary", "0", "--batch", "100%", "--detach")
    assert p.rc == 0, p
    undo = fleet.wait_job(job_id_of(p.out), 300)
    assert undo["state"] == "succeeded", undo
    assert len({h["unit"] for h in undo["hosts"]}) == 2, undo["hosts"]
    for n in ha.nodes + [single]:
        assert n.info_version() == odcworld.NEW_BUILD, n


FENCE = "odc_fleet_fence"


def fence_comment(ha):
    rows = ha.sql("SELECT TABLE_COMMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s "
                  "AND TABLE_NAME = %s", (ha.db, FENCE))
    return rows[0][0] if rows else None


def test_a_node_away_during_the_rollback_cannot_migrate_the_restored_metadb(fleet, ha_deployment):
    """odc2 is powered off while its deployment is upgraded-and-failed; the operator declares
    it gone (revokes its key) and rolls odc1 back: the restore fences the metadb. odc2 comes
    back: its agent cannot reach the coordinator, Docker starts its 4.3.0 container (restart
    policy), and the agent stops it before ODC migrates the restored metadb forward, saying
    why and the way on; the coordinator's view shows the mixed releases. odc2's own rollback
    then only replaces its container; the metadb is restored once."""
    fleet.start()
    ha = ha_deployment()
    n1, n2 = ha.nodes
    # odc2's container as its operator made it before the rollback, with an ODC that takes
    # 20 s before its migrations (real ODC: while Spring builds its context).
    n2.stop(remove=True)
    n2.run_container(n2.images.new, extra_env={"ODC_STANDIN_MIGRATE_DELAY_MS": "20000"})
    for node in ha.nodes:
        fleet.make_agent(node.host_id, host=node,
                         conf_over={"paths.backup_roots": f"{node.dir}, {ha.dir}"})
    for a in fleet.agents.values():
        fleet.accept(a.host_id, "@" + a.pub_path)
        a.start()
    wait_deployments(fleet, lambda b: [d["online"] for d in b["deployments"]] == [2],
                     "both nodes online", timeout=60)
    # odc2 goes away, agent and container; the operator declares it gone.
    fleet.agents["odc2"].stop()
    n2.stop()
    fleet.ctl_ok("keys", "revoke", "odc2")
    p = fleet.ctl("rollback", "--to", odcworld.OLD_VERSION, "--backup", ha.backup_dir,
                  "--accept-unverified", "--host", "odc1", "--detach")
    assert p.rc == 0, p
    job_id = job_id_of(p.out)
    job = fleet.wait_job(job_id, 300)
    assert job["state"] == "succeeded", job
    assert n1.info_version() == odcworld.OLD_BUILD
    fence = fence_comment(ha)
    assert fence is not None and f"host=odc1 job={job_id} action=rollback" in fence, fence
    history = odcworld.metadb_state(n1)["tables"]

    # odc2 comes back: its agent first (refused by the coordinator: revoked), then Docker
    # starts the container it had.
    a2 = fleet.agents["odc2"]
    a2.start()
    n2.engine.docker("start", n2.name)
    wait_for(lambda: n2.state()["Status"] == "exited" or None, 15, "odc2's container stopped")
    log = a2.log()
    assert f"stopped container {n2.name} ({n2.images.new}, created before the metadb was fenced: " \
           f"rollback {job_id} restored it to version" in log, log[-3000:]
    assert "The host is DOWN (ODC stopped, metadb untouched)" in log
    assert f"odc-agent guard lift-fence {job_id}" in log
    assert "Initializing Spring context" in n2.logs() and \
        odcworld.metadb_state(n1)["tables"] == history, "the metadb was migrated forward"
    assert n1.info_version() == odcworld.OLD_BUILD
    # The coordinator's view: odc2's last beat had 4.3.0, odc1 runs 4.2.0 now.
    body = deployments(fleet)
    [d] = body["deployments"]
    assert any(a.startswith("nodes have containers of different releases: ") for a in d["attention"]), d

    # The way on for odc2: its own rollback finds the metadb at the target and only replaces
    # the container; the restore ran once, on odc1.
    p = subprocess.run([agentcli.AGENT, "-c", a2.conf, "run", "rollback", "--accept-unverified",
                        "--to", odcworld.OLD_VERSION, "--backup", ha.backup_dir, "--job", "rb-odc2"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "[restore] skipped" in p.stdout, p.stdout
    assert n2.info_version() == odcworld.OLD_BUILD
    assert odcworld.metadb_state(n1)["tables"] == odcworld.backup_state(n1, ha.backup_dir)


def test_the_node_holding_the_backup_restores_for_its_deployment(fleet, ha_deployment):
    """Operators take the pre-upgrade backup on one node: here it is on odc1 only (odc2's
    agent runs where that directory is empty). A fleet rollback pointing at a path no node
    has fails both nodes' preflight, nothing stopped; a dry run shows which node holds the
    backup; the rollback then restores on odc1, odc2 waits for that restore and only
    replaces its container; both end at 4.2.0 on a metadb equal to the backup."""
    fleet.start()
    ha = ha_deployment()
    n1, n2 = ha.nodes
    where = os.path.join(fleet.backup_root, "on odc1")  # odc2 has it empty
    backup = os.path.join(where, "pre-4.3.0")
    os.makedirs(where)
    shutil.copytree(ha.backup_dir, backup)
    for node in ha.nodes:
        fleet.make_agent(node.host_id, host=node, hide=[where] if node is n2 else None)
    for a in fleet.agents.values():
        fleet.accept(a.host_id, "@" + a.pub_path)
        a.start()
    wait_deployments(fleet, lambda b: [d["online"] for d in b["deployments"]] == [2],
                     "both nodes online", timeout=60)
    args = ("--to", odcworld.OLD_VERSION, "--accept-unverified", "--all")

    # A path no node has: refused at the preflight, every node, nothing stopped.
    missing = os.path.join(fleet.backup_root, "nowhere")
    p = fleet.ctl("rollback", *args, "--backup", missing, "--detach")
    assert p.rc == 0, p
    job = fleet.wait_job(job_id_of(p.out), 120)
    assert job["state"] == "halted", job
    for h in job["hosts"]:
        assert h["state"] == "failed" and h["failed_step"] == "preflight", h
        assert f"no node of its deployment has a backup at {missing}" in h["message"], h
        assert "nothing was touched" in h["message"], h
    assert [n.info_version() for n in ha.nodes] == [odcworld.NEW_BUILD] * 2

    # The dry run: odc1 holds it, odc2 goes without, and `deployments` says so.
    p = fleet.ctl("rollback", *args, "--backup", backup, "--dry-run", "--detach")
    assert p.rc == 0, p
    dry = job_id_of(p.out)
    job = fleet.wait_job(dry, 120)
    assert job["state"] == "succeeded", job
    pre = {h: next(r for r in rs if r["step"] == "preflight")
           for h, rs in job_results(job).items()}
    assert pre["odc1"]["data"]["backup_here"] == "true", pre["odc1"]
    assert pre["odc2"]["data"]["backup_here"] == "false", pre["odc2"]
    assert f"no backup at {backup} on this host: the node of its deployment that holds it " \
           "restores the metadb" in pre["odc2"]["message"], pre["odc2"]
    [d] = deployments(fleet)["deployments"]
    assert {n["host"]: n["backup"] for n in d["nodes"]} == {"odc1": "here", "odc2": "none"}, d
    assert d["backup"]["path"] == backup and d["backup"]["job"] == dry, d
    assert d["backup"]["on"] == ["odc1"] and d["backup"]["version"].startswith(odcworld.OLD_VERSION), d
    text = fleet.ctl("deployments", json_out=False)
    assert text.rc == 0, text
    assert f"backup {backup} (checked by {dry}): on odc1\n" in text.out, text.out
    assert re.search(r"odc2 .* none\n", text.out), text.out
    # The coordinator keeps it across a restart (the store).
    fleet.restart()
    [d2] = deployments(fleet)["deployments"]
    assert d2["backup"] == d["backup"] and d2["nodes"][1]["backup"] == "none", d2
    wait_deployments(fleet, lambda b: [x["online"] for x in b["deployments"]] == [2],
                     "both nodes back online", timeout=60)

    # The rollback: restored once, on odc1; odc2 waited for it.
    p = fleet.ctl("rollback", *args, "--backup", backup, "--detach")
    assert p.rc == 0, p
    job = fleet.wait_job(job_id_of(p.out), 300)
    assert job["state"] == "succeeded", job
    results = job_results(job)
    step = {h: {r["step"]: r for r in rs} for h, rs in results.items()}
    assert step["odc1"]["restore"]["status"] == "ok", step["odc1"]["restore"]
    assert step["odc2"]["snapshot"]["status"] == "skipped", step["odc2"]["snapshot"]
    assert "host odc1 of this deployment restored the metadb for this job" in \
        step["odc2"]["snapshot"]["message"], step["odc2"]["snapshot"]
    assert step["odc2"]["restore"]["status"] == "skipped"
    assert [n.info_version() for n in ha.nodes] == [odcworld.OLD_BUILD] * 2
    assert odcworld.metadb_state(n1)["tables"] == odcworld.backup_state(n1, backup)
