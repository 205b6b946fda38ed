#!/usr/bin/python3
"""The downtime benchmark behind `make bench` (after bench/run.py): how long ODC is down
for an upgrade and for its revert, per deployment, on the test world (a private dockerd
per host, MariaDB as the metadb, the ODC stand-in images, the loader stand-ins), and how
much of that is the tool's own work: `odc-agent run upgrade` locally on each node, and once
through odc-coordinator (fleet), with the agent's default health interval.

    /usr/bin/python3 bench/downtime.py [--build DIR] [--json FILE] [--runs N]
                                       [--scenarios single,failed,ha,fleet]
                                       [--start-delay-ms MS]
                                       [--keep]

Scenarios, each run --runs times (default 3) on the same host or pair:
  single   4.2.0 -> 4.3.0 (stop, backup, start, health), then the job's revert phase
           (stop, restore, start the kept 4.2.0, health)
  failed   a failed upgrade, to 4.3.1-unhealthy (never healthy), with a short job deadline,
           then its revert: the whole outage of an upgrade that goes back (once)
  ha       both nodes of one deployment at once (one backup, one migration), then the
           revert (one restore): the deployment is down while no node answers
  fleet    through odc-coordinator and a real odc-agent daemon, once: `odcctl upgrade` to
           4.3.0 and `odcctl rollback --of` that job; then `odcctl upgrade` to
           4.3.1-unhealthy, reverted by the coordinator by itself once the health gate
           fails: [deadlines] health FLEET_HEALTH (plus up to 60 s while ODC's migration
           lock is held at that deadline; the revert's own gate needs FLEET_HEALTH for ODC's start, and a
           job's deadline cannot cut the first gate short: the revert must be sent within
           the job's signed lifetime)

What is measured, per node:
  outage     what a user sees: a prober asks ODC (isHealthy and info) every PROBE_MS;
             from its last answer at the old release to its first at the new one
  agent      the agent's journal: its stop step's start to its health step's end
  tool       the tool's part of the outage: from ODC's last answer to the end of the start
             step (Docker's stop, the backup's dump or the restore's load, Docker's create
             and start, the agent between them)
  ODC start  from the end of the start step to ODC's first answer (ODC's own start and
             migration, the stand-in's start delay: real ODC takes up to ~2 minutes)
  gate lag   from ODC's first answer to the end of the health step: the health gate's
             polling ([health] interval), after the outage, before the job may go on
  own        the agent's own work in the phase (its `timing` note: the phase's time less
             Docker, the loaders, the metadb and the health gate; preflight included)
Everything started is stopped and removed at the end, also on failure or Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback

import benchenv  # the build directory set, then benchlib imported


PROBE_MS = 20
SCENARIOS = ("single", "failed", "ha", "fleet")
FLEET_HEALTH = "10s"
# The failed upgrade's deadlines: the health gate ends when the job's deadline does.
FAILED_DEADLINES = {"deadlines.health": "5s", "deadlines.job": "15s"}
TIMING_RE = re.compile(r"total (\d+) ms: Docker (\d+), loaders (\d+), metadb (\d+), "
                       r"health gate (\d+); the agent's own work (\d+) ms")


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default="build", help="build directory (default build)")
    ap.add_argument("--json", help="write the figures as JSON to this file")
    ap.add_argument("--runs", type=int, default=3, help="runs of each scenario (default 3)")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS),
                    help=f"comma-separated scenarios to run (default {','.join(SCENARIOS)})")
    ap.add_argument("--start-delay-ms", type=int, default=1000,
                    help="the ODC stand-in's start delay (default 1000, as deploy/testbed)")
    ap.add_argument("--keep", action="store_true", help="keep temp dirs (ODC_WORLD_KEEP=1)")
    return ap.parse_args()


def now_ms():
    return time.time() * 1000.0


class Prober:
    """Asks every node, every PROBE_MS, whether ODC answers and at which build: a list of
    (epoch ms, [build or None per node])."""

    def __init__(self, nodes):
        self.nodes = nodes
        self.ticks = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _one(self, node):
        try:
            status, body = node.get("/api/v1/heartbeat/isHealthy", timeout=0.5)
            if status != 200 or json.loads(body).get("data") is not True:
                return None
            status, body = node.get("/api/v1/info", timeout=0.5)
            return json.loads(body)["data"]["version"] if status == 200 else None
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _run(self):
        while not self._stop.is_set():
            t = now_ms()
            self.ticks.append((t, [self._one(n) for n in self.nodes]))
            self._stop.wait(max(0.0, PROBE_MS / 1000.0 - (now_ms() - t) / 1000.0))

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)
        return False

    def outage(self, i, before, after):
        """Node i's outage: (its last answer at build before, its first answer at build
        after once it had stopped answering so) in epoch ms, or None when not seen."""
        last_before = first_after = None
        down = False
        for t, vers in self.ticks:
            v = vers[i]
            if not down:
                if v == before:
                    last_before = t
                elif last_before is not None:
                    down = True
            if down and v == after:
                first_after = t
                break
        return last_before, first_after

    def deployment_outage(self, builds):
        """The longest stretch in which no node answered at any of builds (what a load
        balancer in front of them sees): (the last tick with one answering, the next one
        with one answering) in epoch ms, or None when there was none."""
        longest, last_up, was_down = None, None, False
        for t, vers in self.ticks:
            up = any(v in builds for v in vers)
            if up:
                if was_down and last_up is not None and (
                        longest is None or t - last_up > longest[1] - longest[0]):
                    longest = (last_up, t)
                last_up, was_down = t, False
            else:
                was_down = True
        return longest


def steps_of(doc, phase):
    for pl in doc["plans"]:
        if pl["phase"] == phase:
            return {s["step"]: s for s in pl["steps"]}
    raise RuntimeError(f"job {doc['job_id']}: no {phase} plan in the journal: {doc}")


def end_of(step):
    return step["started_ms"] + step["duration_ms"]


def fleet_figures(job, run, last_before, first_after):
    """A fleet job's figures from its run phase's steps (run: step -> its journal row) and the
    prober's last answer before and first after (epoch ms, or None when it saw neither)."""
    d = {"job": job["job_id"], "state": job["state"],
         "steps_ms": {k: v["duration_ms"] for k, v in run.items()},
         "coord_ms": job["ended_ms"] - job["submitted_ms"],
         "agent_ms": end_of(run["health"]) - run["stop"]["started_ms"]}
    if first_after is not None and last_before is not None:
        d.update({"outage_ms": first_after - last_before,
                  "tool_ms": end_of(run["start"]) - last_before,
                  "odc_start_ms": first_after - end_of(run["start"])})
    return d


def timing_of(stdout):
    m = TIMING_RE.search(stdout)
    if m is None:
        return None
    total, dk, ld, db, hg, own = (int(x) for x in m.groups())
    return {"total_ms": total, "docker_ms": dk, "loaders_ms": ld, "metadb_ms": db,
            "health_ms": hg, "own_ms": own}


# ---------------------------------------------------------------- the run

class Bench:
    def __init__(self, args, B):
        self.args, self.B = args, B
        self.W = B.odcworld
        from tests.world import agentcli
        self.agentcli = agentcli
        self.dir = tempfile.mkdtemp(prefix="odc-downtime-")
        self.res = {"runs": args.runs, "start_delay_ms": args.start_delay_ms,
                    "probe_ms": PROBE_MS, "scenarios": {}, "foreign": {}}
        self.problems = []
        self.foreign = B.ForeignCpu()
        self.mariadb = self.dockerd = self.host = self.ha = self.fleet = None
        self.t0 = time.monotonic()

    def problem(self, text):
        self.problems.append(text)
        self.B.log("PROBLEM: " + text)

    def conf(self, host, name, ha=None, **over):
        """An agent config with the agent's own health interval (2 s), not the tests'."""
        vals = {"health.interval": "2s", **over}
        path = os.path.join(self.dir, name)
        if ha is not None:
            return ha.write_agent_conf(host, path, **vals)
        return self.agentcli.write_conf(host, path, **vals)

    # -- the world

    def world_up(self, host):
        """MariaDB; with host, a dockerd with the images and one ODC host at 4.2.0."""
        B, W = self.B, self.W
        B.log("world: MariaDB" + (", dockerd, images 4.2.0, 4.3.0 and 4.3.1-unhealthy, one "
                                  "ODC host at 4.2.0" if host else ""))
        self.mariadb = W.MariaDB()
        self.mariadb.start()
        self.foreign.add_world(self.mariadb)
        if not host:
            return
        self.dockerd = W.Dockerd()
        self.dockerd.start()
        images = W.OdcImages(self.dockerd).build()
        images.broken(W.UNHEALTHY_TAG)
        self.foreign.add_world(self.dockerd)
        self.host = W.OdcHost(self.mariadb, self.dockerd, images,
                              start_delay_ms=self.args.start_delay_ms)
        self.host.prepare(upgrade=False)

    # -- one operation on some nodes at once

    def operate(self, label, nodes, confs, args_of, before, after, expect_ok=True):
        """Runs `odc-agent run ...` (args_of(i)) on every node at once while the prober
        watches them: per node its outage, the agent's steps and timing; for the whole,
        the deployment's outage."""
        B = self.B
        phase = "revert" if "--phase" in args_of(0) else "run"
        pre = "revert_" if phase == "revert" else ""
        a = self.foreign.snapshot()
        with Prober(nodes) as prober:
            time.sleep(0.2)  # a few answers at the old release first
            procs = [subprocess.Popen([self.agentcli.AGENT, "-c", c, "run", *args_of(i)],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True) for i, c in enumerate(confs)]
            outs = [p.communicate(timeout=600) for p in procs]
            if expect_ok:
                # The gate may end before the prober's next tick: one more look.
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline and not all(
                        v == after for v in (prober.ticks[-1][1] if prober.ticks else [])):
                    time.sleep(PROBE_MS / 1000.0)
        f = self.foreign.between(a, self.foreign.snapshot())
        self.res["foreign"][label] = f
        if f["cores"] >= 0.1:
            B.log(f"{label}: processes this bench did not start used {f['cores']:.2f} cores "
                  f"meanwhile ({', '.join(f['top'])})")
        per = []
        for i, (p, (out, err)) in enumerate(zip(procs, outs)):
            if (p.returncode == 0) != expect_ok:
                raise RuntimeError(f"{label}: node {i + 1}: odc-agent exit {p.returncode}\n"
                                   f"{out[-3000:]}\n{err[-1000:]}")
            job = args_of(i)[args_of(i).index("--job") + 1]
            steps = steps_of(self.agentcli.journal(confs[i], job), phase)
            stop, start = steps[pre + "stop"], steps[pre + "start"]
            health = steps[pre + "health"]
            last_before, first_after = prober.outage(i, before, after)
            d = {"node": i + 1, "job": job, "timing": timing_of(out), "output": out,
                 "agent_ms": end_of(health) - stop["started_ms"],
                 "steps_ms": {k: v["duration_ms"] for k, v in steps.items()}}
            if last_before is not None and first_after is not None:
                d.update({"outage_ms": first_after - last_before,
                          "tool_ms": end_of(start) - last_before,
                          "odc_start_ms": first_after - end_of(start),
                          "gate_lag_ms": end_of(health) - first_after})
            elif expect_ok:
                self.problem(f"{label}: node {i + 1}: the prober saw no outage from {before} "
                             f"to {after} ({len(prober.ticks)} ticks)")
            d["start_end_ms"], d["first_after"] = end_of(start), first_after
            per.append(d)
        op = {"nodes": per, "ticks": len(prober.ticks)}
        down = prober.deployment_outage({before, after})
        if down is not None:
            # The deployment's outage ends with the first node to answer: its start step's
            # end splits the outage into the tool's part and that node's ODC start.
            first = min((n for n in per if n.get("first_after")),
                        key=lambda n: n["first_after"], default=None)
            op["deployment"] = {"outage_ms": down[1] - down[0]}
            if first is not None:
                op["deployment"].update({"node": first["node"],
                                         "tool_ms": first["start_end_ms"] - down[0],
                                         "odc_start_ms": down[1] - first["start_end_ms"]})
        elif expect_ok:
            self.problem(f"{label}: the prober saw no outage of the deployment")
        return op

    # -- the scenarios

    def single(self):
        B, W, host = self.B, self.W, self.host
        conf = self.conf(host, "single.conf")
        ups, reverts = [], []
        for r in range(self.args.runs):
            job = f"dt-up-{r + 1}"
            B.log(f"1 node: upgrade {W.OLD_VERSION} -> {W.NEW_VERSION} ({job})")
            ups.append(self.operate(f"1 node upgrade {r + 1}", [host], [conf],
                                    lambda i, j=job: ["upgrade", "--to", W.NEW_VERSION,
                                                      "--job", j],
                                    W.OLD_BUILD, W.NEW_BUILD))
            B.log(f"1 node: revert of {job}")
            reverts.append(self.operate(f"1 node revert {r + 1}", [host], [conf],
                                        lambda i, j=job: ["upgrade", "--job", j, "--phase",
                                                          "revert", "--to", W.NEW_VERSION],
                                        W.NEW_BUILD, W.OLD_BUILD))
        self.res["scenarios"]["1 node: upgrade"] = ups
        self.res["scenarios"]["1 node: revert"] = reverts

    def failed(self):
        """An upgrade that never becomes healthy, then its revert: the outage from the
        4.2.0 container's stop to 4.2.0 answering again, one prober over both commands."""
        B, W, host = self.B, self.W, self.host
        short = self.conf(host, "failed.conf", **FAILED_DEADLINES)
        conf = self.conf(host, "single.conf")
        job = "dt-failed"
        B.log(f"1 node: upgrade to {W.UNHEALTHY_TAG} (job deadline "
              f"{FAILED_DEADLINES['deadlines.job']}), then its revert")
        a = self.foreign.snapshot()
        with Prober([host]) as prober:
            time.sleep(0.2)
            p = self.agentcli.agent(short, "run", "upgrade", "--to", W.UNHEALTHY_TAG,
                                    "--job", job, timeout=300)
            if p.returncode != 1 or "[health] failed" not in p.stdout:
                raise RuntimeError(f"the upgrade to {W.UNHEALTHY_TAG}: exit {p.returncode}\n"
                                   f"{p.stdout[-3000:]}")
            q = self.agentcli.agent(conf, "run", "upgrade", "--job", job, "--phase", "revert",
                                    "--to", W.UNHEALTHY_TAG, timeout=300)
            if q.returncode != 0:
                raise RuntimeError(f"the revert of {job}: exit {q.returncode}\n"
                                   f"{q.stdout[-3000:]}")
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and (
                    not prober.ticks or prober.ticks[-1][1][0] != W.OLD_BUILD):
                time.sleep(PROBE_MS / 1000.0)
        self.res["foreign"]["1 node failed upgrade + revert"] = self.foreign.between(
            a, self.foreign.snapshot())
        doc = self.agentcli.journal(conf, job)
        run, rev = steps_of(doc, "run"), steps_of(doc, "revert")
        last_before, first_after = prober.outage(0, W.OLD_BUILD, W.OLD_BUILD)
        d = {"job": job, "deadlines": FAILED_DEADLINES,
             "timing_run": timing_of(p.stdout), "timing_revert": timing_of(q.stdout),
             "run_steps_ms": {k: v["duration_ms"] for k, v in run.items()},
             "revert_steps_ms": {k: v["duration_ms"] for k, v in rev.items()},
             "agent_ms": end_of(rev["revert_health"]) - run["stop"]["started_ms"],
             "failed_gate_ms": run["health"]["duration_ms"],
             "revert_agent_ms": end_of(rev["revert_health"]) - rev["revert_stop"]["started_ms"]}
        if last_before is None or first_after is None:
            self.problem(f"failed upgrade: the prober saw no outage ({len(prober.ticks)} ticks)")
        else:
            d["outage_ms"] = first_after - last_before
        self.res["scenarios"]["1 node: failed upgrade + revert"] = d

    def ha_pair(self):
        B, W = self.B, self.W
        B.log("HA pair: two engines (images 4.2.0, 4.3.0), one metadb, 4.2.0 on both")
        ha = self.ha = W.OdcHaDeployment(self.mariadb, nodes=2,
                                         start_delay_ms=self.args.start_delay_ms)
        ha.prepare(upgrade=False)
        ha.start_all(ha.images[0].old, W.OLD_VERSION)
        self.foreign.add_world(*ha.engines)
        confs = [self.conf(n, f"ha-{n.host_id}.conf", ha=ha) for n in ha.nodes]
        ups, reverts = [], []
        for r in range(self.args.runs):
            job = f"dt-ha-{r + 1}"
            B.log(f"HA pair: upgrade {W.OLD_VERSION} -> {W.NEW_VERSION} on both ({job})")
            ups.append(self.operate(f"HA upgrade {r + 1}", ha.nodes, confs,
                                    lambda i, j=job: ["upgrade", "--to", W.NEW_VERSION,
                                                      "--job", j],
                                    W.OLD_BUILD, W.NEW_BUILD))
            B.log(f"HA pair: revert of {job} on both")
            reverts.append(self.operate(f"HA revert {r + 1}", ha.nodes, confs,
                                        lambda i, j=job: ["upgrade", "--job", j, "--phase",
                                                          "revert", "--to", W.NEW_VERSION],
                                        W.NEW_BUILD, W.OLD_BUILD))
        self.res["scenarios"]["HA pair: upgrade"] = ups
        self.res["scenarios"]["HA pair: revert"] = reverts

    def fleet_op(self, label, agent, args, before, after, timeout):
        """One odcctl job on the fleet's one host, watched by the prober: the job, the
        node's outage, and the agent's journal of it."""
        B, fl = self.B, self.fleet
        a = self.foreign.snapshot()
        with Prober([agent.host]) as prober:
            time.sleep(0.2)
            r = fl.ctl(*args, "--detach", json_out=False, timeout=120)
            job_id = self.fleetmod.job_id_of(r.out) or self.fleetmod.job_id_of(r.err)
            if r.rc != 0 or job_id is None:
                raise RuntimeError(f"{label}: odcctl {' '.join(args)}: exit {r.rc}: "
                                   f"{r.out[-1000:]} {r.err[-1000:]}")
            job = fl.wait_job(job_id, timeout)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and (
                    not prober.ticks or prober.ticks[-1][1][0] != after):
                time.sleep(PROBE_MS / 1000.0)
        self.res["foreign"][label] = self.foreign.between(a, self.foreign.snapshot())
        last_before, first_after = prober.outage(0, before, after)
        if last_before is None or first_after is None:
            self.problem(f"{label}: the prober saw no outage ({len(prober.ticks)} ticks)")
        B.log(f"{label}: job {job_id} {job['state']}")
        plans = {pl["phase"]: {st["step"]: st for st in pl["steps"]}
                 for pl in agent.journal(job_id)}
        job["job_id"] = job_id
        return job, plans, last_before, first_after

    def fleet_scenario(self):
        """The coordinator's upgrade, the rollback by its job id, and an automatic revert."""
        B, W = self.B, self.W
        from tests.world import fleet as fleetmod
        self.fleetmod = fleetmod
        B.log("fleet: odc-coordinator and one odc-agent daemon on the 4.2.0 host")
        fl = self.fleet = B.BenchFleet(coordinator_id="coord-downtime")
        fl.start()
        agent = fl.make_real_agent("dt-fleet", self.host,
                                   own_dir=os.path.join(self.dir, "fleet-agent"),
                                   conf_over={"health.interval": "2s",
                                              "deadlines.health": FLEET_HEALTH})
        fl.accept(agent.host_id, "@" + agent.pub_path)
        agent.start()
        fl.wait_online(agent.host_id, timeout=60, beat=True)
        out = self.res["scenarios"]["fleet"] = {}

        job, plans, last_before, first_after = self.fleet_op(
            "fleet upgrade", agent, ["upgrade", "--to", W.NEW_VERSION, "--all"],
            W.OLD_BUILD, W.NEW_BUILD, 300)
        out["upgrade"] = fleet_figures(job, plans["run"], last_before, first_after)
        up_id = job["job_id"]

        job, plans, last_before, first_after = self.fleet_op(
            "fleet rollback --of", agent, ["rollback", "--of", up_id, "--canary", "0"],
            W.NEW_BUILD, W.OLD_BUILD, 300)
        out["rollback_of"] = fleet_figures(job, plans["run"], last_before, first_after)

        self.host.images.broken(W.UNHEALTHY_TAG)
        job, plans, last_before, first_after = self.fleet_op(
            "fleet automatic revert", agent, ["upgrade", "--to", W.UNHEALTHY_TAG, "--all"],
            W.OLD_BUILD, W.OLD_BUILD, 600)
        run, rev = plans.get("run", {}), plans.get("revert", {})
        host = self.fleetmod.job_hosts(job).get(agent.host_id, {})
        d = {"job": job["job_id"], "state": job["state"], "revert": host.get("revert"),
             "message": job.get("message"),
             "steps_ms": {f"{ph}:{k}": v["duration_ms"] for ph, st in plans.items()
                          for k, v in st.items()}}
        if "health" in run and "revert_health" in rev:
            d.update({"failed_gate_ms": run["health"]["duration_ms"],
                      # From the failed health step's end to the revert's first step: the
                      # RESULT to the coordinator, its rollout's turn, the revert DISPATCH.
                      "coordinator_reaction_ms": rev["revert_preflight"]["started_ms"] -
                      end_of(run["health"]),
                      "revert_agent_ms": end_of(rev["revert_health"]) -
                      rev["revert_stop"]["started_ms"],
                      "agent_ms": end_of(rev["revert_health"]) - run["stop"]["started_ms"]})
        else:
            self.problem(f"fleet automatic revert: job {job['job_id']} {job['state']}, host "
                         f"{host}: no failed health gate and revert in the agent's journal")
        if first_after is not None and last_before is not None:
            d["outage_ms"] = first_after - last_before
        out["automatic_revert"] = d

    def run(self):
        want = {x.strip() for x in self.args.scenarios.split(",") if x.strip()}
        unknown = want - set(SCENARIOS)
        if unknown:
            raise SystemExit(f"bench: unknown scenarios {sorted(unknown)}")
        self.world_up(bool(want & {"single", "failed", "fleet"}))
        for name, fn in (("single", self.single), ("failed", self.failed),
                         ("ha", self.ha_pair), ("fleet", self.fleet_scenario)):
            if name not in want:
                continue
            try:
                fn()
            except KeyboardInterrupt:
                raise
            except Exception as e:  # the other scenarios still run
                self.problem(f"{name} failed: {e!r}")
                traceback.print_exc(file=sys.stderr)

    def cleanup(self, failed=False):
        errors = []
        if self.fleet is not None:
            try:
                self.B.quiet_close(self.fleet)
            except Exception as e:
                errors.append(f"{self.fleet!r}: {e!r}")
        for obj in (self.ha, self.host, self.dockerd, self.mariadb):
            if obj is None:
                continue
            try:
                obj.cleanup()
            except Exception as e:
                errors.append(f"{obj!r}: {e!r}")
        if not self.args.keep:
            shutil.rmtree(self.dir, ignore_errors=True)
        return errors


# ---------------------------------------------------------------- the table

def spread(values):
    """p50 [min..max] in seconds, of the values there are."""
    v = [x for x in values if x is not None]
    if not v:
        return "-"
    s = sorted(v)
    mid = s[len(s) // 2] if len(s) % 2 else (s[len(s) // 2 - 1] + s[len(s) // 2]) / 2
    if len(s) == 1:
        return f"{mid / 1000:.2f} s"
    return f"{mid / 1000:.2f} s [{s[0] / 1000:.2f}..{s[-1] / 1000:.2f}]"


def rows_of(res):
    rows = []  # (scenario, figure, value)
    sc = res["scenarios"]
    for name in ("1 node: upgrade", "1 node: revert", "HA pair: upgrade", "HA pair: revert"):
        ops = sc.get(name)
        if not ops:
            continue
        nodes = [n for op in ops for n in op["nodes"]]
        label = f"{name} ({len(ops)} runs)"
        if name.startswith("HA"):
            dep = [op.get("deployment", {}) for op in ops]
            rows.append((label, "deployment outage: no node answers",
                         spread([x.get("outage_ms") for x in dep])))
            rows.append(("", "  the tool's part: -> end of the first node's start step",
                         spread([x.get("tool_ms") for x in dep])))
            rows.append(("", "  ODC's own start on that node",
                         spread([x.get("odc_start_ms") for x in dep])))
            label = "  each node"
        rows.append((label, "outage: last answer at the old release -> first at the new",
                     spread([n.get("outage_ms") for n in nodes])))
        rows.append(("", "  the tool's part: -> end of the start step" +
                     (" (peer's wait included)" if name.startswith("HA") else ""),
                     spread([n.get("tool_ms") for n in nodes])))
        rows.append(("", "  ODC's own start (start step's end -> first answer)",
                     spread([n.get("odc_start_ms") for n in nodes])))
        rows.append(("", "agent: stop step's start -> health step's end",
                     spread([n["agent_ms"] for n in nodes])))
        rows.append(("", "  health gate lag after the first answer",
                     spread([n.get("gate_lag_ms") for n in nodes])))
        steps = {}
        for n in nodes:
            for k, v in n["steps_ms"].items():
                steps.setdefault(k, []).append(v)
        rows.append(("", "  steps (p50)", ", ".join(
            f"{k} {sorted(v)[len(v) // 2] / 1000:.2f} s" for k, v in steps.items())))
        tim = [n["timing"] for n in nodes if n["timing"]]
        if tim:
            rows.append(("", "  agent's own work in the phase (timing note)",
                         spread([t["own_ms"] for t in tim])))
            rows.append(("", "  phase waits: Docker / loaders / metadb", " / ".join(
                spread([t[k] for t in tim]) for k in ("docker_ms", "loaders_ms",
                                                       "metadb_ms"))))
    f = sc.get("1 node: failed upgrade + revert")
    if f:
        rows.append((f"1 node: failed upgrade + revert (job deadline "
                     f"{f['deadlines']['deadlines.job']})",
                     "outage: last answer at 4.2.0 -> first again", spread([f.get("outage_ms")])))
        rows.append(("", "  the failed health gate (bounded by the job's deadline)",
                     spread([f["failed_gate_ms"]])))
        rows.append(("", "  the revert: its stop step's start -> its health step's end",
                     spread([f["revert_agent_ms"]])))
        own = [t["own_ms"] for t in (f["timing_run"], f["timing_revert"]) if t]
        rows.append(("", "  agent's own work, both phases", f"{sum(own)} ms"))
    fl = sc.get("fleet") or {}
    for key, name in (("upgrade", "odcctl upgrade to 4.3.0, 1 node"),
                      ("rollback_of", "odcctl rollback --of that job")):
        x = fl.get(key)
        if not x:
            continue
        rows.append((f"fleet: {name}", "outage: last answer at the old release -> first at "
                     "the new", spread([x.get("outage_ms")])))
        rows.append(("", "  the tool's part / ODC's own start", " / ".join(
            spread([x.get(k)]) for k in ("tool_ms", "odc_start_ms"))))
        rows.append(("", "agent: stop -> healthy; the job, submitted -> ended", " / ".join(
            spread([x.get(k)]) for k in ("agent_ms", "coord_ms"))))
        rows.append(("", "  steps", ", ".join(f"{k} {v / 1000:.2f} s"
                                              for k, v in x.get("steps_ms", {}).items())))
    x = fl.get("automatic_revert")
    if x:
        rows.append(("fleet: odcctl upgrade to 4.3.1-unhealthy, 1 node",
                     f"outage, reverted by the coordinator ({x.get('state')}, revert "
                     f"{x.get('revert')})", spread([x.get("outage_ms")])))
        rows.append(("", f"  the failed health gate ([deadlines] health {FLEET_HEALTH}, + 60 s if locked)",
                     spread([x.get("failed_gate_ms")])))
        rows.append(("", "  the gate's end -> the revert's first step (coordinator)",
                     spread([x.get("coordinator_reaction_ms")])))
        rows.append(("", "  the revert: its stop step's start -> its health step's end",
                     spread([x.get("revert_agent_ms")])))
    return rows


def print_table(b, rows, total_s):
    print(f"odc-fleet downtime bench: ODC stand-in start delay {b.args.start_delay_ms} ms, "
          f"prober every {PROBE_MS} ms, agent health interval 2 s (its default)")
    b.B.print_rows(("scenario", "figure", "value: p50 [min..max]"), rows)
    print(f"\ntotal {total_s:.0f} s")
    print("Notes:\n"
          "- outage: what a user of the node sees, to the prober's resolution; the tool's part"
          " is Docker's stop, the metadb's dump (upgrade) or load (revert), Docker's create and"
          " start and the agent between them; ODC's own start is the stand-in's (real ODC: up"
          " to ~2 minutes, which this part grows to and the tool's does not).\n"
          "- health gate lag: the gate polls every [health] interval; it delays the job's end"
          " (in a rollout, the next batch), not the users: ODC already answers.\n"
          "- HA pair: both nodes at once. The deployment is down from its last answer until"
          " its first node answers again. One node dumps (or restores) the metadb and starts;"
          " the other waits for its restore guard: in an upgrade until that node's plan ends"
          " (the migration done, its health gate included), in a revert until its restore"
          " ends; so the waiting node's own outage is longer than the deployment's.")
    busy = {k: v for k, v in b.res["foreign"].items() if v["cores"] >= 0.1}
    if busy:
        print("Machine sharing: CPU used by processes this bench did not start, in cores:")
        print("  " + "; ".join(f"{k} {v['cores']:.2f}" for k, v in busy.items()))
    b.B.print_problems(b.problems)


def main():
    args = parse_args()
    B = benchenv.load_benchlib(args)
    b = Bench(args, B)

    def report(total_s):
        rows = rows_of(b.res)
        print_table(b, rows, total_s)
        return rows
    rc = B.run_bench(b, ("scenario", "figure", "value"), report, args.json)
    return rc or (1 if b.problems else 0)


if __name__ == "__main__":
    sys.exit(main())
