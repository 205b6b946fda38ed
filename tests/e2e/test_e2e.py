"""odc-fleet end to end on one 7-host testbed (conftest.py: h6 and h7 one HA deployment). The tests run in file order and
share the testbed: the ones that leave no host changed come first; each later one first
brings the hosts it needs back to 4.3.0 (Testbed.ensure_430, by `odcctl undo`). The failing
canary runs last: it leaves h1 without an obodc container (stopped, renamed and kept, the
restore failed), and the last test undoes it: undo skips its stop step when nothing stands in
the kept container's place, restores the snapshot and starts the kept container.

The upgrades (issue 18): an upgrade of the fleet at 4.3.0 to a broken release whose canary
reverts by itself (it leaves every host as it was); after the fleet rollback, the upgrade of
the fleet from 4.2.0 to 4.3.0 and its later rollback by job id (`odcctl rollback --of JOB`),
which leaves every host as the fleet rollback did, so that the tests after it undo that
rollback as before.

Fault injection, all real faults of the world, no mock:
  - broken release: the stand-in's 4.3.1-unhealthy (migrates the metadb, then never starts;
    tests/world/README.md), built on every host by testbed.py;
  - wrong backup: a --backup directory (under DIR/backups, a backup root of every agent)
    holding the right dumps for h1..h4 and, for h5, a dump of h5's current 4.3.0 metadb
    made by the obdumper stand-in;
  - failing canary: a --backup directory whose dump for the canary h1 has a table
    definition (iam_user-schema.sql) of a column type the server does not know, so that
    the table cannot be created: the restore of h1 fails; the other hosts' dumps are intact;
  - link cut: `ip link set odctb-hN down` (the root side of the host's veth) during the
    host's restore step, up again ~10 s later;
  - agent kill: kill -9 of the host's odc-agent during restore, restarted by its command
    line (the one testbed.py runs);
  - coordinator kill: kill -9 of odc-coordinator during a rollout, restarted likewise.
To hit a step, the agents concerned are restarted with ODC_AGENT_TEST_STEP_DELAY_MS (agent
plan.c's testing knob; testbed.py has no option for an agent environment).
"""

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import (AGENT, BUILD_OF, FINAL_JOB_STATES, HA_NODES, NEW, OLD, RUN_STEPS, job_hosts,
                      job_results, wait_for)

POLICY = ["--canary", "1", "--batch", "2"]
# A release that migrates the metadb, then never starts (tests/world/README.md, "Broken
# releases"; testbed.py builds it on every host).
BROKEN = "4.3.1-unhealthy"
UPGRADE_RUN_STEPS = ["stop", "snapshot", "start", "health"]
REVERT_STEPS = ["revert_preflight", "revert_stop", "revert_restore", "revert_start",
                "revert_health"]


def backup_dir(tb, name):
    d = Path(tb.dir, "backups", name)
    if d.exists():
        shutil.rmtree(d)
    shutil.copytree(tb.backup, d)
    return d


def untouched(tb, ids, before, job_id=None):
    """Every host of ids: the same obodc container, running 4.3.0, ODC answering 4.3.0, its
    metadb as before; no run phase of job_id in its journal."""
    for i in ids:
        h = tb.hosts[i]
        cid, running, image = h.container_state()
        assert (cid, running) == (before[i]["container"][0], True), (i, cid, running, before[i])
        assert image.endswith(":" + NEW), (i, image)
        assert h.info_version() == BUILD_OF[NEW], i
        st = h.metadb_state()
        assert st["tables"] == before[i]["tables"] and st["max_version"] == before[i]["max_version"], i
        if job_id:
            assert not h.ran(job_id), (i, h.journal(job_id))


def snapshot_states(tb, ids):
    out = {}
    for i in ids:
        out[i] = tb.hosts[i].metadb_state()
        out[i]["container"] = tb.hosts[i].container_state()
    return out


def assert_rolled_back(tb, hid, job, backup=None):
    """hid succeeded in job: every run step ok, the last final; ODC 4.2.0 over HTTP and in
    `odcctl hosts`; its metadb equal to its part of the backup."""
    hs = job_hosts(job)
    assert hs[hid]["state"] == "succeeded", hs[hid]
    res = job_results(job)[hid]
    steps = [x["step"] for x in res if x["step"] in RUN_STEPS]
    assert steps == RUN_STEPS, (hid, [x["step"] for x in res])
    # A node of the HA deployment whose peer restored the metadb skips its snapshot and
    # restore (ha_restored_once checks that one node did).
    skippable = ("snapshot", "restore") if hid in HA_NODES else ()
    assert all(x["status"] == "ok" or (x["status"] == "skipped" and x["step"] in skippable)
               for x in res), (hid, res)
    assert res[-1]["final"] and res[-1]["step"] == "health", res[-1]
    h = tb.hosts[hid]
    assert h.info_version() == BUILD_OF[OLD], hid
    cid, running, image = h.container_state()
    assert running and image.endswith(":" + OLD), (hid, image)
    got, want = h.metadb_state(), h.backup_state(backup or tb.backup)
    assert sorted(got["tables"]) == sorted(want["tables"]), (hid, got["tables"], want["tables"])
    assert got["tables"] == want["tables"], (hid, got["tables"], want["tables"])
    assert got["max_version"] == want["max_version"], (hid, got["max_version"], want["max_version"])
    assert got["max_version"].startswith(OLD), got["max_version"]


def ha_restored_once(job, step="restore"):
    """The HA deployment's metadb was loaded once in job: exactly one node's step is ok, the
    other's skipped naming it. Returns the node that restored."""
    res = job_results(job)
    st = {i: next(x for x in res[i] if x["step"] == step) for i in HA_NODES}
    ok = [i for i in HA_NODES if st[i]["status"] == "ok"]
    assert len(ok) == 1, st
    for i in HA_NODES:
        if i != ok[0]:
            assert st[i]["status"] == "skipped", st[i]
    return ok[0]


def dump_at_430(tb, hid, name):
    """A dump of hid's current (4.3.0) metadb by the obdumper stand-in; returns its root."""
    h = tb.hosts[hid]
    out = Path(tb.dir, hid, "work", name)
    if out.exists():
        shutil.rmtree(out)
    cwd = Path(tb.dir, hid, "work", name + "-run")
    cwd.mkdir(parents=True, exist_ok=True)
    p = subprocess.run([h.obdumper, *h.conn_args, "--ddl", "--csv", "--all", "--no-sys",
                        "-f", str(out)], capture_output=True, text=True, cwd=cwd, timeout=120)
    assert p.returncode == 0, p.stderr
    return out


# ---------------------------------------------------------------- 1. wrong backup version

def test_wrong_version_backup_fails_preflight_and_nothing_is_stopped(testbed):
    tb = testbed
    ids = sorted(tb.hosts)
    tb.ensure_430(ids)
    before = snapshot_states(tb, ids)
    mixed = backup_dir(tb, "mixed-h5-at-430")
    new5 = dump_at_430(tb, "h5", "dump-430")
    db5 = tb.hosts["h5"].db
    shutil.rmtree(mixed / "data" / db5)
    shutil.copytree(new5 / "data" / db5, mixed / "data" / db5)
    assert tb.hosts["h5"].backup_state(mixed)["max_version"].startswith(NEW)

    r = tb.ctl("rollback", "--to", OLD, "--backup", mixed, "--all", *POLICY, "--accept-unverified",
               "--reason", "e2e: wrong backup on h5", timeout=180)
    assert r.rc in (1, 4), r  # failed or halted, never 0
    job = tb.job(r.out["job_id"])
    assert job["state"] in ("halted", "failed") and job["message"], job
    hs = job_hosts(job)
    assert hs["h5"]["state"] == "failed" and hs["h5"]["failed_step"] == "preflight", hs["h5"]
    assert "not of release 4.2.0" in hs["h5"]["message"], hs["h5"]
    for i in ids:
        assert hs[i]["state"] != "succeeded", hs[i]
        assert not any(x["step"] in RUN_STEPS for x in job_results(job)[i]), \
            (i, job_results(job)[i])
    untouched(tb, ids, before, job["job_id"])
    view = tb.hosts_view()
    assert all(view[i]["odc"]["version"] == BUILD_OF[NEW] for i in ids), view


# ---------------------------------------------------------------- 2. an upgrade that reverts itself

def kept_containers(h, kind):
    """{name: (id, running)} of h's containers named obodc-KIND-<time>."""
    p = h.docker("ps", "-a", "--format", "{{.Names}} {{.ID}} {{.State}}")
    out = {}
    for line in p.stdout.splitlines():
        name, cid, state = line.split()
        if name.startswith(f"{h.container}-{kind}-"):
            out[name] = (cid, state == "running")
    return out


def running_containers(h):
    return sorted(h.docker("ps", "--format", "{{.Names}}").stdout.split())


def steps_of(job, hid):
    return [(x["step"], x["status"]) for x in job_results(job)[hid]]


def downtime_s(job, hids, first, last):
    """Seconds from the first start of step first to the last end of step last over the
    hosts hids (one id, or the nodes of a deployment), by the agents' own times in their
    results."""
    res = [{x["step"]: x for x in job_results(job)[h]} for h in
           ([hids] if isinstance(hids, str) else hids)]
    return (max(r[last]["started_ms"] + r[last]["duration_ms"] for r in res) -
            min(r[first]["started_ms"] for r in res)) / 1000


def test_upgrade_to_a_broken_release_reverts_its_canary_by_itself(testbed):
    """The fleet, at 4.3.0, is upgraded to 4.3.1-unhealthy: that release migrates the metadb,
    then never starts. The canary h1 stops its ODC (kept, renamed), backs up its metadb,
    starts the new release, which never answers: its health gate fails (h1's agent runs with
    a 30 s health deadline, room for the broken release to migrate and fail even on a loaded
    machine; its migration lock is free by then, so no more is allowed). The
    coordinator sends the job's revert phase to h1 by itself: the metadb restored from the
    backup the upgrade took, the kept 4.3.0 container started under its name again. The job
    halts (exit 4) saying so; no other deployment was touched: their preflight ran, nothing
    else, and they run the same 4.3.0 containers on the same metadb."""
    tb = testbed
    ids = sorted(tb.hosts)
    tb.ensure_430(ids)
    before = snapshot_states(tb, ids)
    h1 = tb.hosts["h1"]
    columns = "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA=DATABASE() " \
              "AND TABLE_NAME='iam_user' ORDER BY ORDINAL_POSITION"
    iam_user_before = h1.sql(columns)  # 4.3.1's migration adds two columns to it
    h1.restart_agent(conf=h1.conf_with("agent-health-30s.conf", deadlines={"health": "30s"}))
    try:
        r = tb.ctl("upgrade", "--to", BROKEN, "--all", *POLICY, "--yes",
                   "--reason", "e2e: upgrade to a release that never starts", timeout=420)
    finally:
        h1.restart_agent()
    assert r.rc == 4, f"{r!r}\n{tb.log_tail()}"  # halted
    job = tb.job(r.out["job_id"])
    jid = job["job_id"]
    assert job["state"] == "halted" and job["action"] == "upgrade", job
    # The job's message names the host, the step that failed and the revert's outcome.
    msg = job["message"]
    assert "h1" in msg and "health" in msg and "revert" in msg, msg
    hs = job_hosts(job)
    assert hs["h1"]["role"] == "canary" and hs["h1"]["state"] == "failed", hs["h1"]
    assert hs["h1"]["failed_step"] == "health", hs["h1"]
    # The host's message stays its run's failure (the revert has its own), and the job's
    # message carries it too.
    assert f"did not become healthy at {BROKEN}" in hs["h1"]["message"], hs["h1"]
    assert f"did not become healthy at {BROKEN}" in msg and "reverted by itself" in msg, msg
    assert hs["h1"]["revert"] == "ok" and hs["h1"]["revert_message"], hs["h1"]
    steps = steps_of(job, "h1")
    run = [(st, x) for st, x in steps if st in UPGRADE_RUN_STEPS]
    assert run == [("stop", "ok"), ("snapshot", "ok"), ("start", "ok"), ("health", "failed")], steps
    assert [(st, x) for st, x in steps if st in REVERT_STEPS] == \
        [(st, "ok") for st in REVERT_STEPS], steps
    # The health step's signed result says what failed, with ODC's log tail.
    health = next(x for x in job_results(job)["h1"] if x["step"] == "health")
    assert f"did not become healthy at {BROKEN}" in health["message"], health
    assert "Application run failed" in health["message"] + health["output_tail"], health
    # ... after it had migrated the metadb to 4.3.1 (ODC's log): the revert had to restore it.
    assert "4.3.1.1" in health["output_tail"], health["output_tail"][-2000:]
    print(f"\n[e2e] upgrade to {BROKEN}: {msg!r}; h1's revert: {hs['h1']['revert_message']!r}; "
          f"h1 down {downtime_s(job, 'h1', 'stop', 'revert_health'):.1f} s (stop -> healthy "
          f"again), of which the revert {downtime_s(job, 'h1', 'revert_stop', 'revert_health'):.1f} s")
    # `odcctl job` as text says it under the host.
    txt = tb.ctl("job", jid, json_out=False)
    print(f"[e2e] h1's message: {hs['h1']['message']!r}\n[e2e] odcctl job {jid}:\n{txt.stdout}")
    assert txt.rc == 0 and "revert of h1: ok: " in txt.stdout, txt

    # h1 is back as it was: the same container (the one the upgrade kept), 4.3.0, its metadb
    # as before the upgrade (no 4.3.1 migration, no column of it); the new release's
    # container is set aside, stopped.
    h1 = tb.hosts["h1"]
    cid, running, image = h1.container_state()
    assert (cid, running) == (before["h1"]["container"][0], True), (cid, before["h1"])
    assert image.endswith(":" + NEW), image
    assert h1.info_version() == BUILD_OF[NEW]
    st = h1.metadb_state()
    assert st["tables"] == before["h1"]["tables"], (st["tables"], before["h1"]["tables"])
    assert st["history"] == before["h1"]["history"] and st["max_version"] == before["h1"]["max_version"]
    assert h1.sql(columns) == iam_user_before, (h1.sql(columns), iam_user_before)
    assert running_containers(h1) == [h1.container], running_containers(h1)
    assert not kept_containers(h1, "upgraded"), kept_containers(h1, "upgraded")
    # Every other deployment: preflight only, the same container on the same metadb.
    others = [i for i in ids if i != "h1"]
    for i in others:
        assert hs[i]["state"] == "skipped" and hs[i]["revert"] == "", hs[i]
        assert {x["step"] for x in job_results(job)[i]} <= {"preflight"}, job_results(job)[i]
        assert {p["phase"] for p in tb.hosts[i].journal(jid)} <= {"preflight"}, \
            (i, tb.hosts[i].journal(jid))
    untouched(tb, others, before, jid)
    view = tb.wait_reporting(ids, NEW)
    assert all(view[i]["odc"]["version"] == BUILD_OF[NEW] for i in ids), view


# ---------------------------------------------------------------- 3. the fleet rollback

def test_fleet_rollback_succeeds_everywhere(testbed):
    tb = testbed
    ids = sorted(tb.hosts)
    tb.ensure_430(ids)
    r = tb.ctl("rollback", "--to", OLD, "--backup", tb.backup, "--all", *POLICY,
               "--accept-unverified",
               "--reason", "e2e: fleet rollback", timeout=420)
    assert r.rc == 0, f"{r!r}\n{tb.log_tail()}"
    job = tb.job(r.out["job_id"])
    assert job["state"] == "succeeded" and job["reason"] == "e2e: fleet rollback", job
    hs = job_hosts(job)
    assert [i for i in ids if hs[i]["role"] == "canary"] == ["h1"], hs
    assert all(hs[i]["role"] == "batch" for i in ids if i != "h1"), hs
    for i in ids:
        tb.last_rollback[i] = job["job_id"]
        assert_rolled_back(tb, i, job)
    # The HA deployment was one unit (one batch slot), its metadb loaded once.
    assert hs[HA_NODES[0]]["unit"] == hs[HA_NODES[1]]["unit"], hs
    who = ha_restored_once(job)
    print(f"\n[e2e] fleet rollback of {len(ids)} hosts in {len(set(h['unit'] for h in hs.values()))} "
          f"deployments: {job['ended_ms'] - job['submitted_ms']} ms; the HA metadb restored by {who}")
    tb.wait_reporting(ids, OLD)
    audit = tb.ctl_ok("audit", "--job", job["job_id"])["audit"]
    assert audit and all(e["job_id"] == job["job_id"] for e in audit), audit


# ---------------------------------------------------------------- 3b. the fleet upgrade, and back

def test_fleet_upgrade_by_deployment_succeeds_everywhere(testbed):
    """The fleet the rollback left at 4.2.0 is upgraded to 4.3.0, a deployment at a time
    (canary h1, then batches of two deployments; h6 and h7 one unit). On every host: the old
    container stopped and kept (`obodc-upgraded-<time>`), the metadb backed up, a new
    container on 4.3.0, healthy at 4.3.0 after migrating the metadb. The HA deployment's
    metadb is backed up and migrated once: one node dumps and starts first, the other waits
    for it."""
    tb = testbed
    ids = sorted(tb.hosts)
    tb.wait_reporting(ids, OLD)  # where the fleet rollback left them
    before = snapshot_states(tb, ids)
    r = tb.ctl("upgrade", "--to", NEW, "--all", *POLICY, "--yes",
               "--reason", "e2e: fleet upgrade", timeout=420)
    assert r.rc == 0, f"{r!r}\n{tb.log_tail()}"
    job = tb.job(r.out["job_id"])
    jid = job["job_id"]
    assert job["state"] == "succeeded" and job["action"] == "upgrade", job
    assert job["reason"] == "e2e: fleet upgrade", job
    hs = job_hosts(job)
    assert [i for i in ids if hs[i]["role"] == "canary"] == ["h1"], hs
    assert hs[HA_NODES[0]]["unit"] == hs[HA_NODES[1]]["unit"], hs
    for i in ids:
        h = tb.hosts[i]
        assert hs[i]["state"] == "succeeded" and hs[i]["revert"] == "", hs[i]
        steps = steps_of(job, i)
        assert [st for st, _ in steps if st in UPGRADE_RUN_STEPS] == UPGRADE_RUN_STEPS, (i, steps)
        skippable = ("snapshot",) if i in HA_NODES else ()
        assert all(x == "ok" or (x == "skipped" and st in skippable) for st, x in steps), (i, steps)
        assert not any(st in REVERT_STEPS for st, _ in steps), (i, steps)
        assert h.info_version() == BUILD_OF[NEW], i
        cid, running, image = h.container_state()
        assert running and image.endswith(":" + NEW) and cid != before[i]["container"][0], \
            (i, cid, image)
        # the old container kept, stopped, under another name
        kept = kept_containers(h, "upgraded")
        assert list(kept.values()) == [(before[i]["container"][0][:12], False)], (i, kept)
        st = h.metadb_state()
        assert st["max_version"].startswith(NEW), (i, st["max_version"])
    who = ha_restored_once(job, step="snapshot")  # one backup of the HA metadb
    downs = {i: downtime_s(job, i, "stop", "health") for i in ids if i not in HA_NODES}
    ha_down = downtime_s(job, HA_NODES, "stop", "health")
    print(f"\n[e2e] fleet upgrade of {len(ids)} hosts to {NEW}: "
          f"{(job['ended_ms'] - job['submitted_ms']) / 1000:.1f} s; the HA metadb backed up by "
          f"{who}; downtime (stop -> healthy): single nodes "
          f"{min(downs.values()):.1f}-{max(downs.values()):.1f} s, the HA deployment {ha_down:.1f} s")
    tb.wait_reporting(ids, NEW)
    tb.fleet_upgrade = (jid, before)


def test_later_rollback_of_the_upgrade_by_its_job_id(testbed):
    """`odcctl rollback --of JOB` of that upgrade, no backup path typed: on every host it ran
    on, the backup the upgrade took is restored and the container it kept is started under
    its name again. Everything is back on 4.2.0, each host on the very container it ran
    before the upgrade, each metadb as it was; the HA metadb restored once."""
    tb = testbed
    jid, before = getattr(tb, "fleet_upgrade", (None, None))
    assert jid, "needs the fleet upgrade of the test before"
    ids = sorted(tb.hosts)
    r = tb.ctl("rollback", "--of", jid, "--yes", "--reason", "e2e: back from the upgrade",
               timeout=420)
    assert r.rc == 0, f"{r!r}\n{tb.log_tail()}"
    job = tb.job(r.out["job_id"])
    assert job["state"] == "succeeded" and job["action"] == "undo", job
    hs = job_hosts(job)
    assert sorted(hs) == ids, hs
    for i in ids:
        h = tb.hosts[i]
        assert hs[i]["state"] == "succeeded", hs[i]
        assert h.info_version() == BUILD_OF[OLD], i
        cid, running, image = h.container_state()
        assert (cid, running) == (before[i]["container"][0], True), (i, cid, before[i])
        assert image.endswith(":" + OLD), (i, image)
        st = h.metadb_state()
        assert st["tables"] == before[i]["tables"], (i, st["tables"], before[i]["tables"])
        assert st["history"] == before[i]["history"], (i, st["history"], before[i]["history"])
        assert st["max_version"] == before[i]["max_version"], (i, st["max_version"])
        assert running_containers(h) == [h.container], (i, running_containers(h))
    who = ha_restored_once(job)
    print(f"\n[e2e] rollback --of {jid}: {(job['ended_ms'] - job['submitted_ms']) / 1000:.1f} s; "
          f"the HA metadb restored by {who}")
    tb.wait_reporting(ids, OLD)


# ---------------------------------------------------------------- 4. undo on one host

def test_undo_one_host_brings_back_430_and_its_metadb(testbed):
    tb = testbed
    job_id = tb.last_rollback.get("h2")
    assert job_id, "needs the fleet rollback of the test before"
    r = tb.ctl("undo", "--of", job_id, "--host", "h2", "--reason", "e2e: undo h2", timeout=240)
    assert r.rc == 0, r
    job = tb.job(r.out["job_id"])
    assert job["state"] == "succeeded" and list(job_hosts(job)) == ["h2"], job
    del tb.last_rollback["h2"]
    h2 = tb.hosts["h2"]
    assert h2.info_version() == BUILD_OF[NEW]
    cid, running, image = h2.container_state()
    assert running and image.endswith(":" + NEW), image
    st, pre = h2.metadb_state(), tb.initial["h2"]
    assert st["tables"] == pre["tables"], (st["tables"], pre["tables"])
    assert st["history"] == pre["history"] and st["max_version"] == pre["max_version"]
    view = tb.wait_reporting(["h2"], NEW)
    for i in ("h1", "h3", "h4", "h5", *HA_NODES):  # the others stay where the rollback left them
        assert view[i]["odc"]["version"] == BUILD_OF[OLD] and \
            tb.hosts[i].info_version() == BUILD_OF[OLD], view[i]


# ---------------------------------------------------------------- 5. link cut

def wait_step(tb, hid, job_id, step, timeout=90):
    """Waits until hid's journal shows step of job_id's run phase started; fails at once
    (with the job) if the job ends first."""
    h = tb.hosts[hid]

    def check():
        if any(ph == "run" and s == step for ph, s, _ in h.journal_steps(job_id)):
            return True
        j = tb.job(job_id, results=False)
        assert j["state"] not in FINAL_JOB_STATES, f"job ended before {hid}'s {step}: {j}"
        return False
    return wait_for(check, timeout, f"{hid}'s {step} step to start in job {job_id}")


def test_link_cut_during_restore_result_arrives(testbed):
    """The host's link (the root side of its veth) is cut right after its restore step
    starts, until the operator sees the host not online, then brought back; the agent's
    restore step is slowed (14 s) so that the restore's work runs after the link is back: the one
    link carries the metadb too (10.77.0.1:3306), and a restore that runs while it is down
    fails (metadb unreachable; see the report). The result arrives, the job succeeds."""
    tb = testbed
    hid = "h2"
    tb.ensure_430([hid])
    h = tb.hosts[hid]
    h.restart_agent({"ODC_AGENT_TEST_STEP_DELAY_MS": "14000",
                     "ODC_AGENT_TEST_STEP_DELAY_STEPS": "restore"})
    link = f"odctb-{hid}"
    try:
        job_id = tb.submit("rollback", "--to", OLD, "--backup", tb.backup,
                           "--accept-unverified", "--host", hid,
                           "--reason", "e2e: link cut")
        tb.last_rollback[hid] = job_id
        wait_step(tb, hid, job_id, "restore", timeout=150)
        t_cut = time.monotonic()
        subprocess.run(["ip", "link", "set", link, "down"], check=True)
        try:
            # the operator sees the host go lost (heartbeat 2 s x lost_after 3)
            seen = wait_for(lambda: (lambda st: st if st != "online" else None)(
                tb.hosts_view()[hid]["status"]), 10, f"{hid} not online while its link is down")
            print(f"\n[e2e] {hid} link down: `odcctl hosts` says {seen} after "
                  f"{time.monotonic() - t_cut:.1f} s")
        finally:
            subprocess.run(["ip", "link", "set", link, "up"], check=True)
        down_s = time.monotonic() - t_cut
        assert down_s < 13, f"the link was down {down_s:.1f} s, into the restore's work"
        job = tb.wait_job(job_id, 180)
        assert job["state"] == "succeeded", f"{job}\n{tb.log_tail()}"
        assert_rolled_back(tb, hid, job)
        steps = [x["step"] for x in job_results(job)[hid]]
        assert len(steps) == len(set(steps)), steps
        assert sorted(steps) == sorted(s for _, s, _ in h.journal_steps(job_id)), \
            (steps, h.journal(job_id))
        tb.wait_reporting([hid], OLD)
    finally:
        subprocess.run(["ip", "link", "set", link, "up"], check=False)
        h.restart_agent()


# ---------------------------------------------------------------- 6. agent kill -9

def test_agent_kill9_during_restore_then_restart(testbed):
    tb = testbed
    hid = "h3"
    tb.ensure_430([hid])
    h = tb.hosts[hid]
    h.restart_agent({"ODC_AGENT_TEST_STEP_DELAY_MS": "3000"})
    job_id = tb.submit("rollback", "--to", OLD, "--backup", tb.backup,
                       "--accept-unverified", "--host", hid,
                       "--reason", "e2e: agent kill -9")
    tb.last_rollback[hid] = job_id
    wait_step(tb, hid, job_id, "restore")
    h.stop_agent(signal.SIGKILL)
    time.sleep(2)
    h.start_agent()  # plain, as testbed.py runs it
    job = tb.wait_job(job_id, 240)
    hs = job_hosts(job)
    print(f"\n[e2e] {hid} after agent kill -9 in restore: job {job['state']}, host {hs[hid]}")
    if job["state"] == "succeeded":
        assert_rolled_back(tb, hid, job)
        tb.wait_reporting([hid], OLD)
    else:  # a reported state: failed with the step and the reason, visible to the operator
        assert hs[hid]["state"] in ("failed", "unreachable") and hs[hid]["message"], hs[hid]
        view = tb.hosts_view()[hid]
        assert view["status"] == "online", view
    steps = [x["step"] for x in job_results(job)[hid]]
    assert len(steps) == len(set(steps)), steps


# ---------------------------------------------------------------- 6b. abort while frozen

def test_abort_while_the_agent_is_frozen_runs_nothing_more(testbed):
    """An agent frozen (SIGSTOP) when its rollback's run phase is dispatched never reads
    it; the operator aborts the job; the agent is killed and started again and says HELLO.
    Nothing of the aborted job may run: no run phase in the host's journal, ODC still 4.3.0
    on the same container with its metadb untouched, and the host ends `unreachable` once
    the unanswered dispatch has expired. (Before issue 13 the coordinator answered the
    HELLO with the run phase again, and the agent rolled the host back after the abort.)
    The preflight phase is slowed and the job paused during it, so that the run phase is
    dispatched exactly while the agent is frozen (resume)."""
    tb = testbed
    hid = "h4"
    tb.ensure_430([hid])
    h = tb.hosts[hid]
    before = snapshot_states(tb, [hid])
    h.restart_agent({"ODC_AGENT_TEST_STEP_DELAY_MS": "4000"})
    job_id = tb.submit("rollback", "--to", OLD, "--backup", tb.backup,
                       "--accept-unverified", "--host", hid,
                       "--reason", "e2e: abort while frozen")
    wait_for(lambda: h.journal_steps(job_id, "preflight"), 60, f"{hid}'s preflight to start")
    assert tb.ctl_ok("pause", job_id)["state"] == "paused"
    tb.wait_job_host(job_id, hid, ("ready",), 60)
    pid = h.agent_pid()
    os.kill(pid, signal.SIGSTOP)
    try:
        assert tb.ctl_ok("resume", job_id)["state"] == "running"
        tb.wait_job_host(job_id, hid, ("running",), 5)
        out = tb.ctl_ok("abort", job_id)
        assert out["state"] == "aborted", out
        t_abort = time.monotonic()
    finally:
        os.kill(pid, signal.SIGKILL)  # a stopped process dies of it too
    wait_for(lambda: not os.path.exists(f"/proc/{pid}/status") or
             "zombie" in open(f"/proc/{pid}/status").read(), 15, "the frozen agent to die")
    h.start_agent()  # plain, as testbed.py runs it: it says HELLO
    tb.wait_online([hid])
    # Three ack timeouts (5 s) after the HELLO: no run phase anywhere.
    time.sleep(15)
    assert not h.ran(job_id), h.journal(job_id)
    untouched(tb, [hid], before, job_id)
    job = tb.job(job_id)
    assert job["state"] == "aborted", job
    assert {r["step"] for r in job_results(job)[hid]} <= {"preflight"}, job_results(job)[hid]
    assert f"job {job_id}: {hid} is back; asking again" not in tb.log_tail(200000), tb.log_tail(3000)
    # The dispatch (5 s) is dead 2 x 30 s after it expired: then the host is unreachable.
    hs = tb.wait_job_host(job_id, hid, ("unreachable",), 90)
    assert hs["failed_step"] == "dispatch" and "never acknowledged" in hs["message"], hs
    print(f"\n[e2e] {hid}: aborted while frozen; unreachable {time.monotonic() - t_abort:.0f} s "
          f"after the abort: {hs['message']}")
    assert not h.ran(job_id)
    untouched(tb, [hid], before, job_id)


# ---------------------------------------------------------------- 7. coordinator kill -9

def test_coordinator_kill9_mid_rollout_loses_no_result(testbed):
    tb = testbed
    ids = ["h4", "h5"]
    tb.ensure_430(ids)
    for i in ids:
        tb.hosts[i].restart_agent({"ODC_AGENT_TEST_STEP_DELAY_MS": "2000"})
    try:
        job_id = tb.submit("rollback", "--to", OLD, "--backup", tb.backup,
                           "--accept-unverified", "--host", "h4",
                           "--host", "h5", "--canary", "1", "--batch", "1",
                           "--reason", "e2e: coordinator kill -9")
        for i in ids:
            tb.last_rollback[i] = job_id
        wait_step(tb, "h4", job_id, "snapshot")
        tb.kill9_coordinator()
        r = tb.ctl("hosts", timeout=30)
        assert r.rc == 3 and r.err, r  # the operator: coordinator unreachable
        wait_for(lambda: ("run", "restore", "ok") in tb.hosts["h4"].journal_steps(job_id), 60,
                 "h4's restore to end while the coordinator is down")
        tb.start_coordinator()
        job = tb.wait_job(job_id, 300)
        assert job["state"] == "succeeded", f"{job}\n{tb.log_tail()}"
        for i in ids:
            assert_rolled_back(tb, i, job)
            h = tb.hosts[i]
            res = job_results(job)[i]
            steps = [x["step"] for x in res]
            assert len(steps) == len(set(steps)), (i, steps)
            assert sorted(steps) == sorted(s for _, s, _ in h.journal_steps(job_id)), \
                (i, steps, h.journal(job_id))
        # `odcctl job ID --results` as text lists every result too
        txt = tb.ctl("job", job_id, "--results", json_out=False)
        assert txt.rc == 0 and all(i in txt.stdout for i in ids), txt
        tb.wait_reporting(ids, OLD)
    finally:
        if tb.ctl("info").rc != 0 and not any(p.poll() is None for p in tb.procs
                                               if "coordinator" in str(p.args)):
            tb.start_coordinator()
        for i in ids:
            tb.hosts[i].restart_agent()


# ---------------------------------------------------------------- 8. the HA deployment (h6, h7)

def test_ha_undo_restores_the_snapshot_once_and_both_nodes_come_back(testbed):
    """The fleet rollback left h6 and h7 at 4.2.0. Their undo, together: the node that
    restored restores its safety snapshot once the other is stopped; the other waits for it
    and starts its kept 4.3.0 container. Both answer 4.3.0; the metadb is what it was."""
    tb = testbed
    job_id = tb.last_rollback.get(HA_NODES[0])
    assert job_id and tb.last_rollback.get(HA_NODES[1]) == job_id, "needs the fleet rollback"
    r = tb.ctl("undo", "--of", job_id, "--host", HA_NODES[0], "--reason", "e2e: undo one node",
               timeout=60)
    assert r.rc != 0 and f"{HA_NODES[1]} is not a target" in r.err, r  # a part is refused
    r = tb.ctl("undo", "--of", job_id, "--host", HA_NODES[0], "--host", HA_NODES[1],
               "--reason", "e2e: undo the HA deployment", timeout=240)
    assert r.rc == 0, f"{r!r}\n{tb.log_tail()}"
    job = tb.job(r.out["job_id"])
    assert job["state"] == "succeeded", job
    for i in HA_NODES:
        del tb.last_rollback[i]
    ha_restored_once(job)
    tb.wait_reporting(list(HA_NODES), NEW)
    st, pre = tb.hosts[HA_NODES[0]].metadb_state(), tb.initial[HA_NODES[0]]
    assert st["tables"] == pre["tables"] and st["max_version"] == pre["max_version"], (st, pre)
    for i in HA_NODES:
        assert tb.hosts[i].info_version() == BUILD_OF[NEW], i


def test_ha_node_unreachable_before_the_stop_leaves_the_deployment_untouched(testbed):
    """h7's agent is down when the rollback of h6 and h7 starts: the deployment is not
    touched at all (h7 may still run 4.3.0 on the metadb, or come back and migrate it); both
    targets are `unreachable` saying why, and h6 keeps running 4.3.0 on its metadb."""
    tb = testbed
    ids = list(HA_NODES)
    tb.ensure_430(ids)
    before = snapshot_states(tb, ids)
    gone = tb.hosts[HA_NODES[1]]
    gone.stop_agent()
    try:
        wait_for(lambda: tb.hosts_view()[gone.id]["status"] == "lost", 30, f"{gone.id} lost")
        r = tb.ctl("rollback", "--to", OLD, "--backup", tb.backup, "--accept-unverified",
                   "--host", HA_NODES[0], "--host", HA_NODES[1], "--reason", "e2e: a node is down",
                   timeout=120)
        assert r.rc != 0, r
        job = tb.job(r.out["job_id"])
        hs = job_hosts(job)
        for i in ids:
            assert hs[i]["state"] == "unreachable", hs[i]
        assert "not online" in hs[gone.id]["message"], hs[gone.id]
        assert f"node {gone.id} of its deployment is not online" in hs[HA_NODES[0]]["message"], hs
        assert not tb.hosts[HA_NODES[0]].ran(job["job_id"])
        untouched(tb, [HA_NODES[0]], before, job["job_id"])
        print(f"\n[e2e] HA rollback with {gone.id} down: {job['state']}: {hs[HA_NODES[0]]['message']}")
    finally:
        gone.start_agent()
    tb.wait_reporting(ids, NEW)


def test_ha_restoring_agent_kill9_mid_restore(testbed):
    """The node that restores the HA deployment's metadb loses its agent (kill -9) inside
    its restore step while the other node waits for it. Restarted, the agent resumes the
    restore (the guard is still its own); the other node goes on once it is released.
    Both end at 4.2.0 on a metadb equal to the backup, or the job reports where it stopped."""
    tb = testbed
    ids = list(HA_NODES)
    tb.ensure_430(ids)
    for i in ids:
        tb.hosts[i].restart_agent({"ODC_AGENT_TEST_STEP_DELAY_MS": "3000",
                                   "ODC_AGENT_TEST_STEP_DELAY_STEPS": "restore"})
    try:
        job_id = tb.submit("rollback", "--to", OLD, "--backup", tb.backup, "--accept-unverified",
                           "--host", HA_NODES[0], "--host", HA_NODES[1],
                           "--reason", "e2e: restoring agent kill -9")
        for i in ids:
            tb.last_rollback[i] = job_id

        def restorer():
            for i in ids:
                if ("run", "snapshot", "ok") in tb.hosts[i].journal_steps(job_id) and any(
                        ph == "run" and s == "restore" for ph, s, _ in tb.hosts[i].journal_steps(job_id)):
                    return i
            j = tb.job(job_id, results=False)
            assert j["state"] not in FINAL_JOB_STATES, f"job ended before a restore began: {j}"
            return None
        who = wait_for(restorer, 90, "a node to begin the HA restore")
        h = tb.hosts[who]
        h.stop_agent(signal.SIGKILL)
        time.sleep(2)
        h.start_agent()  # plain, as testbed.py runs it
        job = tb.wait_job(job_id, 300)
        hs = job_hosts(job)
        print(f"\n[e2e] HA: {who}'s agent killed in its restore: job {job['state']}, "
              f"{ {i: (hs[i]['state'], hs[i]['message']) for i in ids} }")
        if job["state"] == "succeeded":
            for i in ids:
                assert_rolled_back(tb, i, job)
            assert ha_restored_once(job) == who
            tb.wait_reporting(ids, OLD)
        else:  # a reported state with a way back: failed with the step and the reason
            for i in ids:
                assert hs[i]["state"] in ("failed", "unreachable", "succeeded") and hs[i]["message"], hs[i]
        for i in ids:
            steps = [x["step"] for x in job_results(job)[i]]
            assert len(steps) == len(set(steps)), (i, steps)
    finally:
        for i in ids:
            tb.hosts[i].restart_agent()


def test_ha_node_failing_to_start_after_the_restore_is_reported_alone(testbed):
    """The restore of the HA deployment succeeds, then h7 cannot start 4.2.0 (its image is
    gone from its engine after its checks): h7 fails at its start step with the reason and
    the way back; h6 runs 4.2.0 on the restored metadb and is not undone."""
    tb = testbed
    ids = list(HA_NODES)
    tb.ensure_430(ids)
    bad = tb.hosts[HA_NODES[1]]
    bad.restart_agent({"ODC_AGENT_TEST_STEP_DELAY_MS": "3000",
                       "ODC_AGENT_TEST_STEP_DELAY_STEPS": "stop"})
    image = f"{bad.inspect()['Config']['Image'].rsplit(':', 1)[0]}:{OLD}"
    aside = "e2e-kept/odc-server:" + OLD
    try:
        job_id = tb.submit("rollback", "--to", OLD, "--backup", tb.backup, "--accept-unverified",
                           "--host", HA_NODES[0], "--host", HA_NODES[1],
                           "--reason", "e2e: a node fails to start")
        for i in ids:
            tb.last_rollback[i] = job_id
        wait_step(tb, bad.id, job_id, "stop")
        bad.docker("image", "tag", image, aside)
        bad.docker("image", "rm", image)  # the tag only: the layers stay under `aside`
        job = tb.wait_job(job_id, 300)
        hs = job_hosts(job)
        print(f"\n[e2e] HA: {bad.id} without its 4.2.0 image: job {job['state']}; "
              f"{bad.id}: {hs[bad.id]['message']!r}")
        assert job["state"] in ("failed", "halted"), job
        assert hs[bad.id]["state"] == "failed" and hs[bad.id]["failed_step"] == "start", hs[bad.id]
        assert "mend the cause and run this rollback again on it" in hs[bad.id]["message"], hs[bad.id]
        good = HA_NODES[0]
        # The job halted on h7's failure; h6's result, still on its way, is recorded.
        tb.wait_job_host(job_id, good, ("succeeded",), 60)
        assert tb.hosts[good].info_version() == BUILD_OF[OLD]
        got, want = tb.hosts[good].metadb_state(), tb.hosts[good].backup_state(tb.backup)
        assert got["tables"] == want["tables"], (got["tables"], want["tables"])
        ha_restored_once(job)
    finally:
        if bad.docker("image", "inspect", image, check=False).returncode != 0:
            bad.docker("image", "tag", aside, image)
        bad.docker("image", "rm", aside, check=False)
        bad.restart_agent()


def local_rollback(h, job, env=None):
    """`odc-agent run rollback` by hand on h, in its network namespace (where its ODC answers):
    a Popen writing into h's dir, text mode."""
    argv = ["nsenter", f"--net=/var/run/netns/{h.h['netns']}", str(AGENT), "-c", str(h.conf), "run",
            "rollback", "--to", OLD, "--backup", str(h.tb.backup), "--accept-unverified",
            "--job", job]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=dict(os.environ, **(env or {})))


def test_a_local_rollback_racing_a_fleet_rollback_on_the_ha_deployment(testbed):
    """An operator runs `odc-agent run rollback` by hand on h6 while a fleet rollback of h6
    and h7 is under way, and the other way round. Exactly one of them runs; the other is
    refused with the reason (the job that holds the host); the metadb is loaded at most once.
    A local run on one node of a running HA deployment restores nothing (h7's ODC is still
    connected) and puts h6 back."""
    tb = testbed
    ids = list(HA_NODES)
    holder = tb.hosts[HA_NODES[0]]  # the node that holds the backup (testbed.py)

    # The fleet job first: h6 inside its restore, then the local run on h6.
    tb.ensure_430(ids)
    holder.restart_agent({"ODC_AGENT_TEST_STEP_DELAY_MS": "4000",
                          "ODC_AGENT_TEST_STEP_DELAY_STEPS": "restore"})
    try:
        job_id = tb.submit("rollback", "--to", OLD, "--backup", tb.backup, "--accept-unverified",
                           "--host", HA_NODES[0], "--host", HA_NODES[1],
                           "--reason", "e2e: a fleet rollback raced by a local one")
        for i in ids:
            tb.last_rollback[i] = job_id
        wait_step(tb, holder.id, job_id, "restore")
        p = local_rollback(holder, "e2e-local-late")
        out, _ = p.communicate(timeout=60)
        print(f"\n[e2e] local run during the fleet job: exit {p.returncode}: {out.strip()[-400:]}")
        assert p.returncode != 0, out
        assert f"busy: job {job_id} (rollback, phase run) runs on this host" in out, out
        job = tb.wait_job(job_id, 300)
        assert job["state"] == "succeeded", job
        assert ha_restored_once(job) == holder.id
        for i in ids:
            assert_rolled_back(tb, i, job)
    finally:
        holder.restart_agent()

    # The local run first: it holds h6 (slowed in its stop step); the fleet job's dispatch
    # to h6 is refused naming it, so its deployment never runs. The local run stops h6,
    # finds h7 still connected, restores nothing and starts h6's ODC again.
    tb.ensure_430(ids)
    before = snapshot_states(tb, ids)
    p = local_rollback(holder, "e2e-local-first", {"ODC_AGENT_TEST_STEP_DELAY_MS": "5000",
                                                   "ODC_AGENT_TEST_STEP_DELAY_STEPS": "stop"})
    try:
        wait_for(lambda: any(s == "stop" for _, s, _ in holder.journal_steps("e2e-local-first")),
                 60, "the local run's stop step")
        job_id = tb.submit("rollback", "--to", OLD, "--backup", tb.backup, "--accept-unverified",
                           "--host", HA_NODES[0], "--host", HA_NODES[1],
                           "--reason", "e2e: a local rollback raced by a fleet one")
        job = tb.wait_job(job_id, 120)
        hs = job_hosts(job)
        print(f"\n[e2e] fleet job during the local run: {job['state']}; "
              f"{ {i: (hs[i]['state'], hs[i]['message'][:200]) for i in ids} }")
        assert job["state"] in ("failed", "halted"), job
        assert hs[holder.id]["state"] in ("failed", "unreachable"), hs[holder.id]
        assert "busy: job e2e-local-first (rollback, phase run) runs on this host" in \
            hs[holder.id]["message"], hs
        for i in ids:
            assert not tb.hosts[i].ran(job_id), (i, tb.hosts[i].journal(job_id))
        out, _ = p.communicate(timeout=180)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(10)
    print(f"[e2e] the local run: exit {p.returncode}: {out.strip()[-600:]}")
    assert p.returncode != 0, out
    assert "still connected to the metadb" in out and "nothing was restored" in out, out
    assert "the host is back as it was" in out, out
    tb.wait_reporting(ids, NEW)
    untouched(tb, ids, before)


# ---------------------------------------------------------------- 9. failing canary (last: it leaves h1 down)

def test_failing_canary_halts_the_rollout(testbed):
    tb = testbed
    ids = sorted(tb.hosts)
    tb.ensure_430(ids)
    before = snapshot_states(tb, ids)
    bad = backup_dir(tb, "bad-canary-h1")
    schema = bad / "data" / tb.hosts["h1"].db / "TABLE" / "iam_user-schema.sql"
    assert schema.exists(), sorted(os.listdir(schema.parent))
    # A definition that parses, with the same columns (so the preflight, which reads every
    # schema file, passes), but that the server refuses: the restore fails.
    text = schema.read_text()
    broken = re.sub(r"(`id`\s+)bigint(\(\d+\))?", r"\1no_such_type", text, count=1)
    assert broken != text, text[:300]
    schema.write_text(broken)

    r = tb.ctl("rollback", "--to", OLD, "--backup", bad, "--all", *POLICY, "--accept-unverified",
               "--reason", "e2e: canary with an unloadable backup", timeout=300)
    assert r.rc == 4, r  # halted
    job = tb.job(r.out["job_id"])
    assert job["state"] == "halted" and job["message"], job
    hs = job_hosts(job)
    assert hs["h1"]["role"] == "canary" and hs["h1"]["state"] == "failed", hs["h1"]
    assert hs["h1"]["failed_step"] == "restore" and hs["h1"]["message"], hs["h1"]
    others = [i for i in ids if i != "h1"]
    for i in others:
        assert hs[i]["state"] == "skipped", hs[i]
    untouched(tb, others, before, job["job_id"])
    # The canary is left in a reported state: its ODC container stopped and kept under
    # another name (obodc absent), its metadb half restored; the operator sees that in
    # `odcctl hosts` and in the job.
    h1 = tb.hosts["h1"]
    view = tb.wait_reporting_state("h1")
    print(f"\n[e2e] canary h1 after its failed restore: {hs['h1']['message']!r}; "
          f"odcctl hosts: {view['status']}, odc {view['odc']}")
    assert view["status"] == "online" and view["odc"]["state"] == "absent", view
    assert h1.container_state() is None and h1.info_version() is None
    kept = [n for n in h1.docker("ps", "-a", "--format", "{{.Names}}").stdout.split()
            if n.startswith("obodc-rolledback-")]
    assert len(kept) == 1, kept
    tb.failed_canary_job = job["job_id"]


def test_undo_after_failed_canary_brings_back_430(testbed):
    tb = testbed
    job_id = getattr(tb, "failed_canary_job", None)
    assert job_id, "needs the failing-canary test before"
    r = tb.ctl("undo", "--of", job_id, "--host", "h1", "--reason", "e2e: undo the canary",
               timeout=240)
    job = tb.job(r.out["job_id"]) if isinstance(r.out, dict) else None
    print(f"\n[e2e] undo of the failed canary: exit {r.rc}, "
          f"{job and job_hosts(job)['h1']}")
    assert r.rc == 0, r
    h1 = tb.hosts["h1"]
    assert h1.info_version() == BUILD_OF[NEW]
    st = h1.metadb_state()
    assert st["tables"] == tb.initial["h1"]["tables"]
