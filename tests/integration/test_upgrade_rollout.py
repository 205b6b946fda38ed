"""`odcctl upgrade` through a real coordinator and real agents on the test world (issue 18):
preflight on every node, then a deployment at a time (canary first): its metadb dumped, its
containers stopped and kept, the new ones started on the target tag and health-gated. A
deployment that fails is put back by itself (the coordinator sends every node of it the
upgrade's revert phase) and the rollout halts; `odcctl rollback --of UPGRADE_JOB` later walks a
successful upgrade back with nothing typed but the job id."""

import urllib.request

import pytest

from tests.world import odcworld
from tests.world.fleet import fleet, job_hosts, job_id_of, job_results  # noqa: F401
from tests.world.odcworld import metadb_state

OLD = {"upgrade": False, "start_delay_ms": 200}  # a host healthy at 4.2.0, its metadb at 4.2.0


def no_rows_of(host, version):
    return not [v for v in host.history_versions() if v.startswith(version)]


@pytest.fixture
def bad_tag(odc_images):
    """The stand-in's broken release REPOSITORY:4.3.1-unhealthy on the tests' engine: it
    migrates the metadb and never answers healthy (tests/world/README.md)."""
    odc_images.broken(odcworld.UNHEALTHY_TAG)
    return odcworld.UNHEALTHY_TAG


def test_a_failed_canary_is_reverted_by_itself_and_the_rollout_halts(fleet, bad_tag):
    """The canary's new release never becomes healthy: the coordinator sends it the revert
    phase, which restores the dump the upgrade took and starts the kept container; the job halts
    saying so, and the other host was never touched."""
    port = odcworld.free_port()
    fleet.write_conf(**{"metrics.listen": f"127.0.0.1:{port}"})
    fleet.start()
    agents = fleet.add_agents([{"host_id": "c1", "host_kw": OLD}, {"host_id": "c2", "host_kw": OLD}],
                              conf_over={"deadlines.health": "20s"}, beat=True)
    before = {a.host_id: (a.host.engine.inspect(a.host.name)["Id"], metadb_state(a.host))
              for a in agents}

    p = fleet.ctl("upgrade", "--to", bad_tag, "--all", "--canary", "1", json_out=False,
                  timeout=240)
    assert p.rc == 4, p  # halted
    job_id = job_id_of(p.out) or job_id_of(p.err)
    assert "revert ok" in p.out, p
    # After the job: the failed host, its step, the tail of ODC's own log, and its revert.
    tail = p.out[p.out.index("\n==> "):]
    assert " failed at health <==" in tail and "revert: ok: " in tail, p.out
    failed = tail.split("revert: ok: ")[0].split("<==", 1)[1]
    assert "did not become healthy at 4.3.1-unhealthy" in failed, p.out  # the run's outcome
    assert "BeanCreationException" in failed and "--- docker logs" in failed, p.out  # its log
    job = fleet.wait_job(job_id, 30)
    assert job["state"] == "halted", job
    hosts = job_hosts(job)
    canary = next(h for h in hosts.values() if h["role"] == "canary")
    other = next(h for h in hosts.values() if h["role"] != "canary")
    assert canary["state"] == "failed" and canary["failed_step"] == "health", canary
    assert canary["revert"] == "ok" and canary["phase"] == "revert", canary
    assert other["state"] == "skipped" and other["revert"] == "", other
    # The run's outcome stays the host's message while its revert runs and after.
    assert "did not become healthy at 4.3.1-unhealthy" in canary["message"], canary
    assert f"canary {canary['host']} failed at health: ODC did not become healthy" in \
        job["message"], job
    assert "reverted by itself" in job["message"], job
    # Its revert's steps are recorded apart from its run's.
    steps = [r["step"] for r in job_results(job)[canary["host"]]]
    for s in ("snapshot", "start", "health", "revert_stop", "revert_restore", "revert_start",
              "revert_health"):
        assert s in steps, steps

    # Both hosts as before: the canary on its kept container, its metadb as it was dumped.
    for a in agents:
        assert a.host.info_version() == odcworld.OLD_BUILD, a.host_id
        cid, db = before[a.host_id]
        assert a.host.engine.inspect(a.host.name)["Id"] == cid, a.host_id
        assert metadb_state(a.host) == db, a.host_id
        assert no_rows_of(a.host, "4.3"), a.host_id

    # The text view says the revert per host.
    out = fleet.ctl("job", job_id, json_out=False)
    assert f"revert of {canary['host']}: ok:" in out.out, out
    # The metrics count one revert called for and one that brought its host back.
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        text = r.read().decode()
    for state, n in (("due", 1), ("ok", 1), ("failed", 0)):
        assert f'odc_fleet_job_host_reverts_total{{state="{state}"}} {n}\n' in text, text
    # The hosts are free again: the next job is admitted.
    fleet.ctl_ok("exec", "ping", "--all")


def test_a_fleet_upgrade_then_a_rollback_by_its_job_id(fleet, ha_deployment):
    """An HA deployment (two nodes, one metadb) and a single host go to 4.3.0 as two units;
    the HA deployment's metadb is dumped once, by one node, and migrated once. Later `odcctl
    rollback --of JOB` (no tag, no path) takes every node back to its kept 4.2.0 container and
    the metadb to its dump."""
    fleet.start()
    ha = ha_deployment(upgrade=False)
    ha.start_all(ha.images[0].old, odcworld.OLD_VERSION)
    for node in ha.nodes:
        fleet.make_agent(node.host_id, host=node)
    single = fleet.make_agent("solo", host_kw=OLD)
    for a in fleet.agents.values():
        fleet.accept(a.host_id, "@" + a.pub_path)
        a.start()
    fleet.wait_hosts(lambda hs: len(hs) == 3 and all(h.get("odc") for h in hs.values()), 60,
                     "three hosts with a heartbeat")
    before = {"ha": metadb_state(ha.nodes[0]), "solo": metadb_state(single.host)}

    # A tag not on the hosts fails every preflight: nothing is stopped.
    p = fleet.ctl("upgrade", "--to", "9.9.9", "--all", "--detach")
    assert p.rc == 0, p
    job = fleet.wait_job(job_id_of(p.out), 60)
    assert job["state"] == "halted" and "in preflight" in job["message"], job
    assert all(h["revert"] == "" for h in job["hosts"]), job
    assert all(n.info_version() == odcworld.OLD_BUILD for n in ha.nodes + [single.host])

    p = fleet.ctl("upgrade", "--to", odcworld.NEW_VERSION, "--all", "--canary", "1",
                  "--detach")
    assert p.rc == 0, p
    up_id = job_id_of(p.out)
    job = fleet.wait_job(up_id, 300)
    assert job["state"] == "succeeded", job
    assert len({h["unit"] for h in job["hosts"]}) == 2, job["hosts"]
    for n in ha.nodes + [single.host]:
        assert n.info_version() == odcworld.NEW_BUILD, n
    results = job_results(job)
    dumped = [h for h in ("odc1", "odc2")
              if next(r for r in results[h] if r["step"] == "snapshot")["status"] == "ok"]
    assert len(dumped) == 1, results

    # Back by the job id alone.
    p = fleet.ctl("rollback", "--of", up_id, "--to", "4.2.0")
    assert p.rc == 2 and "--of " + up_id + " takes no --to" in p.err, p
    p = fleet.ctl("rollback", "--of", up_id, "--canary", "0", "--batch", "100%", "--detach")
    assert p.rc == 0, p
    undo = fleet.wait_job(job_id_of(p.out), 300)
    assert undo["state"] == "succeeded" and undo["action"] == "undo", undo
    for n in ha.nodes + [single.host]:
        assert n.info_version() == odcworld.OLD_BUILD, n
    assert metadb_state(ha.nodes[0]) == before["ha"]
    assert metadb_state(single.host) == before["solo"]
    assert no_rows_of(single.host, odcworld.NEW_VERSION)
