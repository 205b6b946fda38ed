#!/usr/bin/python3
"""The fleet benchmark behind `make bench`: the real odc-coordinator and odcctl against
simulated agents (build/bench/loadgen) and real odc-agent daemons on the test world
(tests/integration: a private dockerd and MariaDB, the ODC stand-in images, obloader
stand-ins), with Ansible side by side. Prints one table (stdout) with each figure, its
budget and PASS/MISS; --json FILE writes the same figures. Progress goes to stderr.

    /usr/bin/python3 bench/run.py [--build DIR] [--json FILE] [--quick] [--keep]

The order of the run (each step measured alone, on a 2-core machine):
  world      MariaDB + dockerd + images 4.2.0/4.3.0 + one ODC host at 4.3.0 with a backup
  part 6     ansible -m ping on N local inventory hosts (forks default, then 50), then N
             real odc-agent daemons on a second coordinator: odcctl exec ping --all
  part 1     coordinator A; loadgen crypto; fleets of 100, 1,000, 10,000 simulated agents
             (three loadgen processes); odcctl exec ping --all, repeated, at each size
  part 2+4   one real agent enrolled with A; 60 s window sampling the coordinator (under
             10,000 beating agents) and, at the same time, the idle real agent
  part 3     SIGKILL of the loadgen holding the first 100 agents; lost detection
  part 4+5   the simulated fleet stopped and marked lost; then rollback 4.3.0 -> 4.2.0,
             undo, rollback of the real agent's host (RSS sampled every 20 ms; per-host
             orchestration overhead from the agent's timing lines)
Every measurement window also records the CPU that processes this bench did not start
used meanwhile (a shared machine); --wait-quiet S first waits for the machine to be idle.
Everything started is stopped and removed at the end, also on failure, SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import types

import benchenv  # the build directory set, then benchlib imported

REPO = benchenv.REPO

FULL = {
    "sizes": [100, 1000, 10000],
    "runs": [30, 20, 10],
    "caps_s": [60, 90, 120],  # a size stops repeating past this (at least 3 runs)
    "window_s": 60,
    "real_agents": 100,
    "ansible_runs": 1,
    "odcctl_runs_real": 10,
}
QUICK = {
    "sizes": [20, 100, 500],
    "runs": [5, 5, 3],
    "caps_s": [20, 20, 40],
    "window_s": 15,
    "real_agents": 10,
    "ansible_runs": 1,
    "odcctl_runs_real": 5,
}

FANOUT_P50_MAX_S = 1.5   # at 10,000
FANOUT_FLOOR_MAX_X = 2.0
HB_CPU_MAX_PCT = 10.0
HB_RSS_MAX_MB = 256.0
# Part 2 again with the fleet in deployments: HA deployments of this many nodes, and what the
# coordinator may cost more than without them (the windows' CPU varies by a few tenths).
DEPLOYMENT_NODES = 2
DEPLOY_CPU_SLACK_PTS = 0.5
AGENT_RSS_MAX_MB = 5.0
AGENT_CPU_MAX_PCT = 0.1
OVERHEAD_MAX_MS = 50.0
SWEEP_TICK_MS = 250      # coordinator/coord.h COORD_TICK_MS
POLL_MS = 100            # part 3's polling period


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default="build", help="build directory (default build)")
    ap.add_argument("--json", help="write the figures as JSON to this file")
    ap.add_argument("--quick", action="store_true",
                    help="small fleets and short windows, for development")
    ap.add_argument("--keep", action="store_true", help="keep temp dirs (ODC_WORLD_KEEP=1)")
    ap.add_argument("--parts", default="1,2,3,4,5,6,7",
                    help="comma-separated parts to run (default all)")
    ap.add_argument("--sizes", help="fleet sizes for part 1, e.g. 100,1000,10000")
    ap.add_argument("--window", type=float, help="heartbeat/idle window, seconds")
    ap.add_argument("--wait-quiet", type=float, default=0, metavar="S",
                    help="first wait up to S seconds for other processes to leave the CPU "
                         "idle (under 0.1 core for 10 s): a machine shared with other runs")
    return ap.parse_args()


def low_port():
    """A free TCP port below the ephemeral range (32768-60999 on Linux): 10,000 outgoing
    connections of the load generator take ports from that range, and an agents' port
    inside it can collide with them."""
    import socket
    for port in range(21000 + os.getpid() % 5000, 31000):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise RuntimeError("no free port in 21000..31000")


# ---------------------------------------------------------------- the run

class Bench:
    def __init__(self, args, B):
        self.args, self.B = args, B
        self.cfg = dict(QUICK if args.quick else FULL)
        if args.sizes:
            sizes = [int(x) for x in args.sizes.split(",")]
            self.cfg["sizes"] = sizes
            self.cfg["runs"] = (self.cfg["runs"] + [self.cfg["runs"][-1]] * 3)[:len(sizes)]
            self.cfg["caps_s"] = (self.cfg["caps_s"] + [self.cfg["caps_s"][-1]] * 3)[:len(sizes)]
        if args.window:
            self.cfg["window_s"] = args.window
        self.parts = {int(p) for p in args.parts.split(",") if p.strip()}
        self.build = os.environ["ODC_BUILD"]
        self.loadgen_bin = os.path.join(self.build, "bench", "loadgen")
        self.cores = os.cpu_count() or 1
        self.dir = tempfile.mkdtemp(prefix="odc-bench-")
        self.res = {"config": {k: v for k, v in self.cfg.items()}, "cores": self.cores,
                    "build": self.build, "quick": bool(args.quick)}
        self.problems = []
        self.world = None
        self.fleet_a = self.fleet_b = None
        self.loadgens = []
        self.real = None  # the part 4 agent
        self.seed = secrets.token_hex(32)
        self.t0 = time.monotonic()
        self.foreign = B.ForeignCpu()
        self.res["foreign"] = {}

    def measure(self, name):
        """A context manager: CPU used by processes this bench did not start during the
        block, kept in res["foreign"][name]; much of it is a problem (a shared machine)."""
        bench = self

        class _W:
            def __enter__(self):
                self.a = bench.foreign.snapshot()
                return self

            def __exit__(self, *exc):
                f = bench.foreign.between(self.a, bench.foreign.snapshot())
                f["loadavg"] = open("/proc/loadavg").read().split()[:3]
                bench.res["foreign"][name] = f
                if f["cores"] >= 0.1:
                    bench.B.log(f"{name}: processes this bench did not start used "
                                f"{f['cores']:.2f} of {bench.cores} cores meanwhile "
                                f"({', '.join(f['top'])})")
                return False

        return _W()

    def problem(self, text):
        self.problems.append(text)
        self.B.log("PROBLEM: " + text)

    # -- the world

    def world_up(self):
        B = self.B
        from concurrent.futures import ThreadPoolExecutor
        t = time.monotonic()
        B.log("world: MariaDB and dockerd")
        db, dk = B.odcworld.MariaDB(), B.odcworld.Dockerd()
        self.world = {"mariadb": db, "dockerd": dk}
        with ThreadPoolExecutor(2) as ex:
            f1, f2 = ex.submit(db.start), ex.submit(dk.start)
            f1.result()
            f2.result()
        B.log("world: ODC stand-in images 4.2.0 and 4.3.0")
        images = B.odcworld.OdcImages(dk).build()
        host = B.odcworld.OdcHost(db, dk, images, start_delay_ms=500)
        self.world["host"] = host
        for pidfile in (os.path.join(dk.dir, "dockerd.pid"), os.path.join(db.dir, "mysqld.pid")):
            try:
                with open(pidfile) as f:
                    self.foreign.add_root(int(f.read().strip()))
            except (OSError, ValueError):
                pass
        ns = subprocess.run(f"printf %s '{dk.dir}' | cksum", shell=True, capture_output=True,
                            text=True).stdout.split()[0]
        self.foreign.add_marker(f"odcfleet{ns}")
        self.foreign.add_marker(dk.dir)
        B.log("world: one ODC host: 4.2.0, backup, upgrade to 4.3.0")
        host.prepare()
        self.res["world_setup_s"] = round(time.monotonic() - t, 1)
        B.log(f"world: ready in {self.res['world_setup_s']} s ({host!r})")

    # -- part 6

    def part6(self):
        B = self.B
        n = self.cfg["real_agents"]
        out = self.res.setdefault("part6", {"hosts": n})
        # Ansible first, on a machine where nothing else runs yet.
        if shutil.which("ansible") is None:
            B.log("ansible missing: deploy/install-deps.sh --bench")
            subprocess.run([os.path.join(REPO, "deploy", "install-deps.sh"), "--bench"], check=True)
        adir = os.path.join(self.dir, "ansible")
        os.makedirs(os.path.join(adir, "tmp"))
        inv = os.path.join(adir, "inventory.ini")
        with open(inv, "w") as f:
            f.write("[all]\n")
            for i in range(n):
                f.write(f"ans-{i:03d} ansible_connection=local "
                        f"ansible_python_interpreter=/usr/bin/python3\n")
        env = dict(os.environ, ANSIBLE_LOCAL_TEMP=os.path.join(adir, "tmp"),
                   ANSIBLE_REMOTE_TEMP=os.path.join(adir, "tmp"), ANSIBLE_NOCOLOR="1",
                   ANSIBLE_HOST_KEY_CHECKING="False", ANSIBLE_RETRY_FILES_ENABLED="False")
        env.pop("ANSIBLE_FORKS", None)
        ver = subprocess.run(["ansible", "--version"], capture_output=True, text=True)
        out["ansible_version"] = ver.stdout.splitlines()[0] if ver.stdout else "?"
        for label, extra in (("default", []), ("f50", ["-f", "50"])):
            walls = []
            for _ in range(self.cfg["ansible_runs"]):
                B.log(f"part 6: ansible all -m ping, {n} hosts, forks {label}")
                with self.measure(f"part6 ansible {label}"):
                    t = time.perf_counter()
                    p = subprocess.run(["ansible", "all", "-i", inv, "-m", "ping", *extra],
                                       capture_output=True, text=True, env=env, timeout=600,
                                       cwd=adir)
                    w = time.perf_counter() - t
                ok = p.stdout.count("SUCCESS")
                if p.returncode != 0 or ok != n:
                    self.problem(f"ansible forks {label}: exit {p.returncode}, {ok} of {n} "
                                 f"SUCCESS; stderr {p.stderr[-300:]!r}")
                walls.append(w)
                B.log(f"part 6: ansible forks {label}: {w:.2f} s ({ok}/{n} SUCCESS)")
            out[f"ansible_{label}_s"] = walls

        # n real agents on their own coordinator (B), all on the world's one dockerd.
        B.log(f"part 6: {n} real odc-agent daemons on coordinator B")
        fb = self.fleet_b = B.BenchFleet(coordinator_id="coord-bench-b")
        fb.start()
        host = self.world["host"]
        agents = []
        for i in range(n):
            hid = f"real-{i:03d}"
            agents.append(fb.make_real_agent(hid, host, own_dir=os.path.join(fb.dir, "agents",
                                                                             hid)))
        fb.control.accept_keys([(a.host_id, B.pub_text(a.key)) for a in agents])
        t = time.monotonic()
        for a in agents:
            a.start()
        fb.wait_online(*[a.host_id for a in agents], timeout=120)
        out["agents_online_s"] = round(time.monotonic() - t, 2)
        B.log(f"part 6: {n} real agents online in {out['agents_online_s']} s")
        walls, coord, lost = [], [], 0
        with self.measure("part6 odcctl"):
            for r in range(self.cfg["odcctl_runs_real"]):
                run = self.fanout_once(fb, n)
                walls.append(run["wall_s"])
                coord.append(run["coord_s"])
                lost += run["lost"]
        out.update({"odcctl_s": walls, "odcctl_p50_s": B.median(walls),
                    "odcctl_coord_p50_s": B.median(coord), "odcctl_lost": lost})
        rss = []
        for a in agents:
            try:
                rss.append(B.proc_status_kb(a.daemon.pid, "VmRSS")["VmRSS"])
            except OSError:
                pass
        if rss:
            out["real_agent_rss_kb_mean"] = sum(rss) / len(rss)
        B.log(f"part 6: odcctl exec ping --all on {n} real agents: p50 "
              f"{out['odcctl_p50_s']:.3f} s")
        B.quiet_close(fb)
        self.fleet_b = None

    # -- part 1

    def fanout_once(self, fleet, n):
        """One `odcctl exec ping --all`, timed, then its job checked for lost results."""
        B = self.B
        wall, r = fleet.odcctl("exec", "ping", "--all", timeout=900)
        text = r.stdout
        job_id = B.fleetmod.JOB_ID_RE.search(text)
        job_id = job_id.group(0) if job_id else None
        if job_id is None:
            self.problem(f"odcctl exec ping --all ({n} targets): exit {r.rc}, no job id; "
                         f"stderr {r.err[-300:]!r}; stdout tail {text[-300:]!r}")
        summary = re.search(r"^(\d+) hosts?: ([^\n]*)$", text, re.M)
        summary_ok = None
        if summary:
            m = re.search(r"(\d+) succeeded", summary.group(2))
            summary_ok = int(m.group(1)) if m else 0
        res = {"wall_s": wall, "job": job_id, "rc": r.rc, "summary_succeeded": summary_ok,
               "coord_s": None, "lost": n}
        if job_id is None:
            return res
        jr = fleet.ctl("job", job_id, "--results", timeout=300)
        if jr.rc != 0 or not isinstance(jr.out, dict):
            self.problem(f"odcctl job {job_id} --results -o json: exit {jr.rc}: {jr.err[-300:]!r}")
            return res
        job = jr.out
        counts = job.get("counts", {})
        results = job.get("results") or []
        final_hosts = {x["host"] for x in results if x.get("final")}
        ok_hosts = {x["host"] for x in results if x.get("final") and x.get("status") == "ok"}
        res.update({"state": job.get("state"), "targets": job.get("targets"),
                    "succeeded": counts.get("succeeded"), "results": len(results),
                    "final_hosts": len(final_hosts), "ok_hosts": len(ok_hosts),
                    "coord_s": (job["ended_ms"] - job["submitted_ms"]) / 1000.0
                    if job.get("ended_ms") else None})
        res["lost"] = n - min(len(final_hosts), counts.get("succeeded", 0) or 0)
        if r.rc != 0 or res["lost"] or job.get("targets") != n or summary_ok != n:
            nz = ", ".join(f"{v} {k}" for k, v in counts.items() if v)
            self.problem(f"fan-out {n}: odcctl exit {r.rc}, job {job_id} {job.get('state')} "
                         f"in {fmt_s(res['coord_s'])}: {job.get('targets')} targets: {nz}; "
                         f"{len(results)} results, {len(final_hosts)} hosts with a final one "
                         f"(odcctl's summary: {summary_ok} succeeded)")
        return res

    def enrol_and_start(self, fleet, n, first):
        B = self.B
        lg = B.Loadgen(self.loadgen_bin, n, first, self.seed, fleet, log_dir=self.dir,
                       extra=["--deployment-nodes", str(DEPLOYMENT_NODES)])
        t = time.monotonic()
        pairs = lg.keys()
        tk = time.monotonic()
        fleet.control.accept_keys(pairs)
        te = time.monotonic()
        B.log(f"part 1: {n} keys made in {tk - t:.2f} s, accepted (pipelined key-accept) "
              f"in {te - tk:.2f} s")
        lg.start()
        self.loadgens.append(lg)
        ready = True
        try:
            lg.wait_ready(timeout=20 + n / 250)
        except RuntimeError as e:
            ready = False
            msg = str(e)
            keep = ("connects", "reconnects", "disconnects", "welcomed", "hello_eagain",
                    "cpu_s")
            fields = dict(kv.split("=", 1) for kv in re.findall(r"\b\w+=[\w.]+", msg))
            brief = ", ".join(f"{k}={fields[k]}" for k in keep if k in fields)
            self.problem(f"fan-out: {msg.split(';')[0]} (loadgen stats: {brief}); measuring "
                         f"with the hosts that are online")
        tr = time.monotonic()
        B.log(f"part 1: loadgen {first}..{first + n - 1}: "
              f"{'ready' if ready else 'NOT ready'} {tr - te:.2f} s after start")
        return {"keys_s": tk - t, "accept_s": te - tk, "ready_s": tr - te, "ready": ready,
                "accept_per_s": n / (te - tk) if te > tk else None}

    def part1(self):
        B = self.B
        fa = self.fleet_a
        sizes = self.cfg["sizes"]
        out = self.res.setdefault("part1", {})
        crypto = {}
        for n in sizes:
            c = B.loadgen_crypto(self.loadgen_bin, n)
            crypto[n] = c
            B.log(f"part 1: loadgen crypto --targets {n}: per_agent_us {c.get('per_agent_us')}")
        out["crypto"] = {str(k): v for k, v in crypto.items()}
        have = 0
        for idx, n in enumerate(sizes):
            add = n - have
            enrol = self.enrol_and_start(fa, add, have)
            have = n
            # The coordinator's cost of n beating agents, before any job.
            idle = B.Sampler(fa.pid, 1.0, name="coordinator").start()
            time.sleep(5)
            idle.stop()
            idle = idle.summary()
            info = fa.control.request("info")
            online = info["hosts"]["online"]
            B.log(f"part 1: {online} of {n} online; coordinator with them, no job: "
                  f"{idle.get('cpu_pct', 0):.1f}% of a core, RSS {idle.get('rss_max_kb', 0) / 1024:.0f} MiB")
            if online != n:
                self.problem(f"fan-out {n}: {online} hosts online before the runs")
            runs = []
            t_size = time.monotonic()
            samp = B.Sampler(fa.pid, 0.25, name="coordinator").start()
            watch = self.measure(f"part1 N={n}").__enter__()
            for r in range(self.cfg["runs"][idx]):
                run = self.fanout_once(fa, n)
                runs.append(run)
                B.log(f"part 1: N={n} run {r + 1}: {run['wall_s']:.3f} s (coordinator "
                      f"{run['coord_s']}) lost {run['lost']}")
                if len(runs) >= 3 and time.monotonic() - t_size > self.cfg["caps_s"][idx]:
                    B.log(f"part 1: N={n}: time cap {self.cfg['caps_s'][idx]} s, "
                          f"{len(runs)} runs")
                    break
            samp.stop()
            watch.__exit__(None, None, None)
            cs = samp.summary()
            walls = [x["wall_s"] for x in runs]
            coords = [x["coord_s"] for x in runs if x["coord_s"] is not None]
            per_agent_us = crypto[n].get("per_agent_us")
            floor = n * per_agent_us / 1e6 / self.cores if per_agent_us else None
            p50 = B.median(walls)
            out[str(n)] = {"runs": len(runs), "p50_s": p50, "p99_s": B.pct(walls, 99),
                           "min_s": min(walls), "max_s": max(walls),
                           "coord_p50_s": B.median(coords) if coords else None,
                           "floor_s": floor, "p50_over_floor": p50 / floor if floor else None,
                           "lost_total": sum(x["lost"] for x in runs),
                           "lost_runs": sum(1 for x in runs if x["lost"]),
                           "enrol": enrol, "online_before": online,
                           "coordinator_idle_5s": idle,
                           "coordinator_during_runs": cs,
                           "loadgen_last_stats": [lg.stats[-1][1] for lg in self.loadgens
                                                  if lg.stats],
                           "walls_s": walls, "coord_s": coords,
                           "runs_detail": [{k: v for k, v in x.items() if k != "wall_s"}
                                           for x in runs]}
            B.log(f"part 1: N={n}: p50 {p50:.3f} s p99 {B.pct(walls, 99):.3f} s floor "
                  f"{floor if floor is None else round(floor, 4)} s; coordinator during the "
                  f"runs: {cs.get('cpu_pct', 0):.0f}% of a core, RSS max "
                  f"{cs.get('rss_max_kb', 0) / 1024:.0f} MiB")

    # -- parts 2 and 4 (idle)

    def start_real_agent(self):
        B = self.B
        fa = self.fleet_a
        self.real = fa.make_real_agent("odc-real-01", self.world["host"])
        fa.control.accept_keys([(self.real.host_id, B.pub_text(self.real.key))])
        self.real.start()
        fa.wait_online(self.real.host_id, timeout=60, beat=True)
        B.log(f"part 4: real agent {self.real.host_id} online (pid {self.real.daemon.pid})")

    def part2_and_4_idle(self):
        B = self.B
        fa = self.fleet_a
        w = self.cfg["window_s"]
        info0 = fa.control.request("info")
        B.log(f"parts 2+4: {w} s window: coordinator with {info0['hosts']['online']} online "
              f"hosts, and the idle real agent, sampled every 1 s")
        with self.measure("part2+4 window"):
            sc = B.Sampler(fa.pid, 1.0, name="coordinator").start()
            sa = B.Sampler(self.real.daemon.pid, 1.0, smaps=True, name="agent").start()
            time.sleep(w)
            sc.stop()
            sa.stop()
        info1 = fa.control.request("info")
        c, a = sc.summary(), sa.summary()
        c.update({"online_start": info0["hosts"]["online"], "online_end": info1["hosts"]["online"],
                  "lost_end": info1["hosts"]["lost"], "heartbeat_ms": info1["heartbeat_ms"],
                  "lost_after": info1["lost_after"]})
        self.res["part2"] = c
        try:
            a["rss_by_mapping_kb"] = B.proc_rss_by_mapping_kb(self.real.daemon.pid)
            a["threads"] = len(os.listdir(f"/proc/{self.real.daemon.pid}/task"))
        except OSError:
            pass
        self.res.setdefault("part4", {})["idle"] = a
        B.log(f"part 2: coordinator {c.get('cpu_pct', 0):.2f}% of a core, RSS max "
              f"{c.get('rss_max_kb', 0) / 1024:.1f} MiB")
        B.log(f"part 4: idle agent {a.get('cpu_pct', 0):.3f}% of a core, RSS max "
              f"{a.get('rss_max_kb', 0) / 1024:.2f} MiB")
        if info1["hosts"]["online"] != info0["hosts"]["online"]:
            self.problem(f"heartbeat window: online hosts went from {info0['hosts']['online']} "
                         f"to {info1['hosts']['online']} (lost {info1['hosts']['lost']})")

    def part2_deployments(self):
        """Part 2 again, the same window, once every simulated agent's beats name a metadb
        (DEPLOYMENT_NODES agents per metadb, as HA nodes report it): what grouping the fleet
        into deployments costs the coordinator, against the window before, in one run."""
        B = self.B
        fa = self.fleet_a
        w = self.cfg["window_s"]
        n = sum(lg.n for lg in self.loadgens if lg.alive())
        for lg in self.loadgens:
            if lg.alive():
                lg.proc.send_signal(signal.SIGUSR1)
        t = time.monotonic()
        placed, body = 0, None
        while time.monotonic() - t < 60:
            body = fa.control.request("deployments")
            placed = sum(d["size"] for d in body["deployments"])
            if placed >= n:
                break
            time.sleep(1)
        settle = time.monotonic() - t
        B.log(f"part 2: {placed} of {n} simulated agents placed in "
              f"{len(body['deployments']) if body else 0} deployments {settle:.1f} s after "
              f"SIGUSR1")
        if placed < n:
            self.problem(f"deployments: only {placed} of {n} agents placed after 60 s")
        info0 = fa.control.request("info")
        with self.measure("part2 deployments window"):
            sc = B.Sampler(fa.pid, 1.0, name="coordinator").start()
            time.sleep(w)
            sc.stop()
        c = sc.summary()
        c.update({"online_start": info0["hosts"]["online"], "placed": placed,
                  "deployments": len(body["deployments"]) if body else 0,
                  "nodes_per_deployment": DEPLOYMENT_NODES, "settle_s": settle})
        self.res["part2_deployments"] = c
        B.log(f"part 2: with deployments: coordinator {c.get('cpu_pct', 0):.2f}% of a core, RSS "
              f"max {c.get('rss_max_kb', 0) / 1024:.1f} MiB")

    # -- part 3

    def part3(self):
        B = self.B
        fa = self.fleet_a
        lg = self.loadgens[0]
        ids = lg.host_ids()
        hb, lost_after = fa.heartbeat_ms, fa.lost_after
        before = fa.online(ids)
        offline = sorted(h for h, v in before.items() if v["status"] != "online")
        if offline:
            self.problem(f"part 3: {len(offline)} of the {len(ids)} hosts of the first loadgen "
                         f"were not online before the kill; they are left out")
        ids = sorted(h for h, v in before.items() if v["status"] == "online")
        B.log(f"part 3: SIGKILL loadgen pid {lg.pid} ({len(ids)} agents); polling `hosts` "
              f"every {POLL_MS} ms")
        watch = self.measure("part3").__enter__()
        t_kill = B.now_ms()
        lg.kill9()
        seen = {}  # host -> (coordinator now_ms at the poll that saw it lost, last_beat_ms)
        polls = 0
        deadline = time.monotonic() + (lost_after + 2) * hb / 1000.0 + 10
        nxt = time.monotonic()
        latency = []
        while len(seen) < len(ids) and time.monotonic() < deadline:
            tq = time.monotonic()
            body = fa.control.request("hosts", {"host": ids})
            latency.append((time.monotonic() - tq) * 1000.0)
            polls += 1
            for h in body["hosts"]:
                if h["status"] == "lost" and h["host"] not in seen:
                    seen[h["host"]] = (body["now_ms"], h["last_beat_ms"])
            nxt += POLL_MS / 1000.0
            time.sleep(max(0.0, nxt - time.monotonic()))
        watch.__exit__(None, None, None)
        allow_ms = lost_after * hb + SWEEP_TICK_MS + POLL_MS
        kill_to_lost = [t - t_kill for t, _ in seen.values()]
        beat_to_lost = [t - lb for t, lb in seen.values() if lb is not None]
        within = sum(1 for x in beat_to_lost if x <= allow_ms)
        out = {"agents": len(ids), "lost": len(seen), "polls": polls,
               "left_out_not_online": len(offline),
               "poll_reply_ms": {"p50": B.median(latency) if latency else None,
                                 "max": max(latency) if latency else None},
               "heartbeat_ms": hb, "lost_after": lost_after, "allowance_ms": allow_ms,
               "within_allowance": within,
               "kill_to_lost_ms": {"p50": B.median(kill_to_lost) if kill_to_lost else None,
                                   "max": max(kill_to_lost) if kill_to_lost else None},
               "beat_to_lost_ms": {"p50": B.median(beat_to_lost) if beat_to_lost else None,
                                   "max": max(beat_to_lost) if beat_to_lost else None,
                                   "min": min(beat_to_lost) if beat_to_lost else None},
               "beat_to_lost_beats": {
                   "p50": B.median(beat_to_lost) / hb if beat_to_lost else None,
                   "max": max(beat_to_lost) / hb if beat_to_lost else None}}
        self.res["part3"] = out
        B.log(f"part 3: {len(seen)}/{len(ids)} lost; kill->lost p50 "
              f"{out['kill_to_lost_ms']['p50']} ms max {out['kill_to_lost_ms']['max']} ms; "
              f"last beat->lost max {out['beat_to_lost_ms']['max']} ms")

    def quiesce(self):
        """Stops the simulated fleet and waits until the coordinator has marked it lost
        (one lost window), so that the rollbacks run on a coordinator with one agent."""
        B = self.B
        if not self.loadgens:
            return
        for lg in self.loadgens:
            lg.stop()
        fa = self.fleet_a
        window = fa.heartbeat_ms * fa.lost_after * 1.1 / 1000.0
        B.log(f"part 5: simulated fleet stopped; waiting for the coordinator to mark it lost "
              f"(up to {window + 10:.0f} s)")
        t = time.monotonic()
        while time.monotonic() - t < window + 10:
            if fa.control.request("info")["hosts"]["online"] <= 1:
                break
            time.sleep(0.5)
        time.sleep(1)
        self.res["quiesce_s"] = round(time.monotonic() - t, 1)

    # -- parts 4 (rollback RSS) and 5

    def part5(self):
        B = self.B
        fa = self.fleet_a
        host = self.world["host"]
        a = self.real
        hid = a.host_id
        ops = []
        rb1 = None
        for label in ("rollback", "undo", "rollback"):
            if label == "rollback":
                # The world's backups are taken by hand, as ODC's upgrade guide says.
                args = ["rollback", "--host", hid, "--to", B.odcworld.OLD_VERSION,
                        "--backup", host.backup_dir, "--accept-unverified"]
            else:
                args = ["undo", "--of", rb1, "--host", hid]
            B.log(f"part 5: odcctl {' '.join(args)}")
            with self.measure(f"part5 {label} {len(ops) + 1}"):
                sampler = B.Sampler(a.daemon.pid, 0.02, name="agent").start()
                wall, r = fa.odcctl(*args, timeout=600)
                sampler.stop()
            m = B.fleetmod.JOB_ID_RE.search(r.stdout)
            job_id = m.group(0) if m else None
            if r.rc != 0 or job_id is None:
                self.problem(f"odcctl {label}: exit {r.rc}, job {job_id}: {r.err[-400:]!r} "
                             f"{r.stdout[-400:]!r}")
                ops.append({"op": label, "error": f"exit {r.rc}"})
                break
            if label == "rollback" and rb1 is None:
                rb1 = job_id
            job = fa.job(job_id)
            coord_ms = job["ended_ms"] - job["submitted_ms"]
            # The timing lines come after the final result: wait for both phases'.
            deadline = time.monotonic() + 10
            lines = []
            while time.monotonic() < deadline:
                lines = B.timing_lines(a.log(), job_id)
                if len(lines) >= 2:
                    break
                time.sleep(0.1)
            if len(lines) < 2:
                self.problem(f"{label} {job_id}: {len(lines)} timing lines in the agent log, "
                             f"expected 2 (preflight and run)")
            ext = sum(x["docker_ms"] + x["loaders_ms"] + x["metadb_ms"] + x["health_ms"]
                      for x in lines)
            agent_total = sum(x["total_ms"] for x in lines)
            own = sum(x["own_ms"] for x in lines)
            s = sampler.summary()
            op = {"op": label, "job": job_id, "state": job["state"], "coord_ms": coord_ms,
                  "odcctl_ms": round(wall * 1000, 1), "phases": lines,
                  "external_ms": ext, "agent_total_ms": agent_total, "agent_own_ms": own,
                  "overhead_ms": coord_ms - ext,
                  "overhead_odcctl_ms": round(wall * 1000 - ext, 1),
                  "coordinator_and_transport_ms": coord_ms - agent_total,
                  "rss_max_kb": s.get("rss_max_kb"), "rss_samples": s.get("samples"),
                  "vmhwm_kb": B.proc_status_kb(a.daemon.pid, "VmHWM").get("VmHWM")}
            ops.append(op)
            B.log(f"part 5: {label} {job_id}: {job['state']}, coordinator {coord_ms} ms, "
                  f"odcctl {wall * 1000:.0f} ms, waits {ext} ms -> overhead "
                  f"{coord_ms - ext} ms; agent RSS max {s.get('rss_max_kb')} kB")
        self.res["part5"] = {"ops": ops}
        good = [o for o in ops if "overhead_ms" in o]
        if good:
            self.res["part5"]["overhead_p50_ms"] = B.median([o["overhead_ms"] for o in good])
            self.res["part5"]["overhead_odcctl_p50_ms"] = B.median(
                [o["overhead_odcctl_ms"] for o in good])
            rss = [o["rss_max_kb"] for o in good if o.get("rss_max_kb")]
            self.res.setdefault("part4", {})["rollback_rss_max_kb"] = max(rss) if rss else None
            rb = [o["rss_max_kb"] for o in good if o["op"] == "rollback" and o.get("rss_max_kb")]
            self.res["part4"]["rollback_first_rss_max_kb"] = rb[0] if rb else None

    # -- part 7: the floor under the coordinator's memory

    def part7(self):
        """A bare libzmq CURVE ROUTER (bench/zmq_floor: the coordinator's socket options,
        none of its state) with as many simulated agents connected as the largest fleet:
        what libzmq alone holds per connection."""
        B = self.B
        fa = self.fleet_a
        n = max(self.cfg["sizes"])
        port = low_port()
        ep = f"tcp://127.0.0.1:{port}"
        floor_bin = os.path.join(self.build, "bench", "zmq_floor")
        B.log(f"part 7: bare libzmq ROUTER on {ep} with {n:,} simulated agents")
        proc = subprocess.Popen([floor_bin, "--endpoint", ep, "--secret-key",
                                 fa.coordinator_key_path, "--peers", str(n), "--settle-ms", "5000",
                                 "--timeout-ms", "240000"], stdout=subprocess.PIPE, text=True,
                                preexec_fn=B.raise_nofile, start_new_session=True)
        target = types.SimpleNamespace(agents_endpoint=ep, coordinator_key=fa.coordinator_key,
                                       operator_key=fa.operator_key, dir=self.dir)
        per = 5000
        lgs = [B.Loadgen(self.loadgen_bin, min(per, n - first), first, self.seed, target,
                         prefix="floor", log_dir=self.dir)
               for first in range(0, n, per)]
        try:
            for lg in lgs:
                lg.start()
            out = proc.communicate(timeout=300)[0]
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
            for lg in lgs:
                lg.stop()
        d = json.loads(out.strip().splitlines()[-1])
        d["agents"] = n
        self.res["part7"] = d
        B.log(f"part 7: {d['peers']:,} peers: RSS {d['rss_kb'] / 1024:.0f} MiB, "
              f"{d['rss_per_peer_kb']:.1f} KiB per peer")

    # -- driver

    def run(self):
        B = self.B
        need = [B.fleetmod.COORDINATOR, B.fleetmod.ODCCTL, B.fleetmod.AGENT]
        for p in need:
            if not os.access(p, os.X_OK):
                raise SystemExit(f"bench: {p} is not built (make BUILD=... all)")
        have_loadgen = os.access(self.loadgen_bin, os.X_OK)
        self.res["loadgen"] = self.loadgen_bin if have_loadgen else None
        if not have_loadgen:
            self.problem(f"{self.loadgen_bin} is not built: parts 1-3 skipped")
        if self.args.wait_quiet > 0:
            self.wait_quiet(self.args.wait_quiet)
        self.world_up()
        if 6 in self.parts:
            self.guard("part6", self.part6)
        B.log("coordinator A")
        self.fleet_a = B.BenchFleet(coordinator_id="coord-bench-a")
        self.fleet_a.start()
        self.res["coordinator_a"] = {"dir": self.fleet_a.dir, "pid": self.fleet_a.pid}
        part1_ok = False
        if have_loadgen and self.parts & {1, 2, 3}:
            part1_ok = self.guard("part1", self.part1)
        if self.parts & {2, 4, 5}:
            if self.guard("part4", self.start_real_agent):
                if self.parts & {2, 4}:
                    self.guard("part2", self.part2_and_4_idle)
                if 2 in self.parts and self.loadgens:
                    self.guard("part2 deployments", self.part2_deployments)
        if 3 in self.parts and part1_ok and self.loadgens:
            self.guard("part3", self.part3)
        if self.parts & {4, 5} and self.real is not None:
            self.guard("quiesce", self.quiesce)
            self.guard("part5", self.part5)
        if 7 in self.parts and have_loadgen:
            self.guard("part7", self.part7)

    def wait_quiet(self, limit):
        B = self.B
        t = time.monotonic()
        while True:
            a = self.foreign.snapshot()
            time.sleep(10)
            f = self.foreign.between(a, self.foreign.snapshot())
            if f["cores"] < 0.1:
                B.log(f"machine quiet (other processes {f['cores']:.2f} cores)")
                self.res["waited_quiet_s"] = round(time.monotonic() - t, 1)
                return
            if time.monotonic() - t > limit:
                self.problem(f"the machine never got quiet in {limit:.0f} s: other processes "
                             f"use {f['cores']:.2f} cores ({', '.join(f['top'])})")
                return
            B.log(f"waiting for a quiet machine: other processes use {f['cores']:.2f} cores "
                  f"({', '.join(f['top'][:2])})")

    def guard(self, name, fn):
        try:
            fn()
            return True
        except KeyboardInterrupt:  # Ctrl-C, SIGTERM, SIGHUP: no other part runs
            raise
        except Exception as e:  # the other parts still run
            self.problem(f"{name} failed: {e!r}")
            traceback.print_exc(file=sys.stderr)
            self.res.setdefault("errors", {})[name] = repr(e)
            return False

    def cleanup(self, failed):
        B = self.B
        errors = []
        for lg in self.loadgens:
            try:
                lg.stop()
            except Exception as e:
                errors.append(f"{lg!r}: {e!r}")
        for f in (self.fleet_a, self.fleet_b):
            if f is not None:
                try:
                    B.quiet_close(f, show=failed)
                except Exception as e:
                    errors.append(f"{f!r}: {e!r}")
        w = self.world or {}
        for key in ("host", "dockerd", "mariadb"):
            obj = w.get(key)
            if obj is None:
                continue
            try:
                obj.cleanup()
            except Exception as e:
                errors.append(f"{obj!r}: {e!r}")
        if not self.args.keep:
            shutil.rmtree(self.dir, ignore_errors=True)
        for e in errors:
            B.log("cleanup: " + e)
        return errors


# ---------------------------------------------------------------- the table

def fmt_s(x):
    if x is None:
        return "-"
    return f"{x * 1000:.0f} ms" if x < 1 else f"{x:.2f} s"


def verdict(ok):
    return "-" if ok is None else ("PASS" if ok else "MISS")


def rows_of(b):
    r = b.res
    rows = []  # (part, figure, value, budget, verdict)

    p1 = r.get("part1", {})
    for n in b.cfg["sizes"]:
        d = p1.get(str(n))
        if not d:
            rows.append(("1", f"fan-out N={n:,}", "not run", "", "MISS" if 1 in b.parts else "-"))
            continue
        rows.append(("1", f"fan-out N={n:,}: p50 / p99 ({d['runs']} runs)",
                     f"{fmt_s(d['p50_s'])} / {fmt_s(d['p99_s'])}",
                     f"p50 < {FANOUT_P50_MAX_S} s" if n == max(b.cfg["sizes"]) else "",
                     verdict(d["p50_s"] < FANOUT_P50_MAX_S) if n == max(b.cfg["sizes"]) else ""))
        rows.append(("1", "  coordinator submitted->ended p50", fmt_s(d["coord_p50_s"]), "", ""))
        ci = d.get("coordinator_idle_5s") or {}
        if "cpu_pct" in ci:
            rows.append(("1", f"  {d['online_before']:,} online before the runs; coordinator, no"
                              f" job, 5 s", f"{ci['cpu_pct']:.1f}% of a core, "
                                           f"RSS {ci['rss_max_kb'] / 1024:.0f} MiB", "", ""))
        if d["floor_s"]:
            top = n == max(b.cfg["sizes"])
            rows.append(("1", f"  crypto floor (N x {p1['crypto'][str(n)]['per_agent_us']:.1f} us"
                              f" / {b.cores} cores), p50/floor",
                         f"{fmt_s(d['floor_s'])}, {d['p50_over_floor']:.1f}x",
                         f"<= {FANOUT_FLOOR_MAX_X:.0f}x" if top else "",
                         verdict(d["p50_over_floor"] <= FANOUT_FLOOR_MAX_X) if top else ""))
        rows.append(("1", "  lost results", f"{d['lost_total']} in {d['runs']} runs", "0",
                     verdict(d["lost_total"] == 0)))

    p2 = r.get("part2")
    if p2 and "cpu_pct" in p2:
        rows.append(("2", f"heartbeats, {p2['online_start']:,} agents, {p2['window_s']:.0f} s:"
                          f" coordinator CPU", f"{p2['cpu_pct']:.2f}% of a core",
                     f"< {HB_CPU_MAX_PCT:.0f}%", verdict(p2["cpu_pct"] < HB_CPU_MAX_PCT)))
        rows.append(("2", "  coordinator RSS max / mean",
                     f"{p2['rss_max_kb'] / 1024:.1f} / {p2['rss_mean_kb'] / 1024:.1f} MiB",
                     f"< {HB_RSS_MAX_MB:.0f} MiB",
                     verdict(p2["rss_max_kb"] / 1024 < HB_RSS_MAX_MB)))
    else:
        rows.append(("2", "heartbeats", "not run", "", "MISS" if 2 in b.parts else "-"))
    p2d = r.get("part2_deployments")
    if p2 and p2d and "cpu_pct" in p2d and "cpu_pct" in p2:
        more = p2d["cpu_pct"] - p2["cpu_pct"]
        rows.append(("2", f"  again, {p2d['placed']:,} agents in {p2d['deployments']:,} deployments:"
                          f" CPU", f"{p2d['cpu_pct']:.2f}% ({more:+.2f} points)",
                     f"<= +{DEPLOY_CPU_SLACK_PTS} points", verdict(more <= DEPLOY_CPU_SLACK_PTS)))
        rows.append(("2", "    coordinator RSS max",
                     f"{p2d['rss_max_kb'] / 1024:.1f} MiB ({(p2d['rss_max_kb'] - p2['rss_max_kb']) / 1024:+.1f})",
                     "", ""))
    p7 = r.get("part7")
    if p7:
        rows.append(("7", f"  floor: bare libzmq CURVE ROUTER, {p7['peers']:,} peers: RSS",
                     f"{p7['rss_kb'] / 1024:.0f} MiB ({p7['rss_per_peer_kb']:.1f} KiB per peer)",
                     "", ""))

    p3 = r.get("part3")
    if p3:
        ok = p3["within_allowance"] == p3["agents"]
        rows.append(("3", f"lost detection, {p3['agents']} agents SIGKILLed: lost",
                     f"{p3['lost']} of {p3['agents']}", "100%",
                     verdict(p3["lost"] == p3["agents"])))
        rows.append(("3", "  kill -> lost p50 / max",
                     f"{fmt_s(p3['kill_to_lost_ms']['p50'] / 1000 if p3['kill_to_lost_ms']['p50'] is not None else None)}"
                     f" / {fmt_s(p3['kill_to_lost_ms']['max'] / 1000 if p3['kill_to_lost_ms']['max'] is not None else None)}",
                     "", ""))
        bb = p3["beat_to_lost_beats"]
        rows.append(("3", "  last beat -> lost p50 / max (beats)",
                     f"{bb['p50']:.2f} / {bb['max']:.2f}" if bb["max"] is not None else "-",
                     f"<= {p3['lost_after']} + {SWEEP_TICK_MS} ms tick + {POLL_MS} ms poll", ""))
        rows.append(("3", "  killed agents lost within that",
                     f"{p3['within_allowance']} of {p3['agents']}", "100%", verdict(ok)))
        pr = p3.get("poll_reply_ms") or {}
        if pr.get("max") is not None:
            rows.append(("3", f"  `hosts` polls: {p3['polls']}, reply p50 / max",
                         f"{pr['p50']:.0f} / {pr['max']:.0f} ms", "", ""))
    else:
        rows.append(("3", "lost detection", "not run", "", "MISS" if 3 in b.parts else "-"))

    p4 = r.get("part4", {})
    idle = p4.get("idle")
    if idle and "cpu_pct" in idle:
        rows.append(("4", f"real agent idle {idle['window_s']:.0f} s (same window as 2): VmRSS max"
                          f" / mean", f"{idle['rss_max_kb'] / 1024:.2f} / "
                                      f"{idle['rss_mean_kb'] / 1024:.2f} MiB",
                     f"< {AGENT_RSS_MAX_MB:.0f} MiB",
                     verdict(idle["rss_max_kb"] / 1024 < AGENT_RSS_MAX_MB)))
        rows.append(("4", "  PSS / private / anon (max)",
                     f"{idle['pss_max_kb'] / 1024:.2f} / {idle['private_max_kb'] / 1024:.2f} / "
                     f"{idle['anonymous_max_kb'] / 1024:.2f} MiB", "", ""))
        rows.append(("4", "  CPU (stat ticks; schedstat)",
                     f"{idle['cpu_pct']:.3f}% of a core ({idle['cpu_s'] * 1000:.0f} ms); "
                     f"{idle.get('cpu_pct_schedstat', 0):.4f}%",
                     f"< {AGENT_CPU_MAX_PCT}%", verdict(idle["cpu_pct"] < AGENT_CPU_MAX_PCT)))
    else:
        rows.append(("4", "real agent idle", "not run", "", "MISS" if 4 in b.parts else "-"))
    if p4.get("rollback_rss_max_kb"):
        rows.append(("4", "  VmRSS max during rollback (20 ms samples) / all 3 ops",
                     f"{(p4.get('rollback_first_rss_max_kb') or 0) / 1024:.2f} / "
                     f"{p4['rollback_rss_max_kb'] / 1024:.2f} MiB", "", ""))

    p5 = r.get("part5", {})
    for o in p5.get("ops", []):
        if "overhead_ms" not in o:
            rows.append(("5", f"{o['op']}", "failed", "", "MISS"))
            continue
        rows.append(("5", f"{o['op']}: job {o['coord_ms']} ms (odcctl {o['odcctl_ms']:.0f}) - waits"
                          f" {o['external_ms']} ms",
                     f"{o['overhead_ms']} ms (odcctl {o['overhead_odcctl_ms']:.0f} ms)",
                     f"< {OVERHEAD_MAX_MS:.0f} ms", verdict(o["overhead_ms"] < OVERHEAD_MAX_MS)))
    if "overhead_p50_ms" in p5:
        rows.append(("5", "  orchestration overhead per host, p50",
                     f"{p5['overhead_p50_ms']:.0f} ms (odcctl {p5['overhead_odcctl_p50_ms']:.0f} ms)",
                     f"< {OVERHEAD_MAX_MS:.0f} ms",
                     verdict(p5["overhead_p50_ms"] < OVERHEAD_MAX_MS)))
    elif 5 in b.parts:
        rows.append(("5", "rollback overhead", "not run", "", "MISS"))

    p6 = r.get("part6", {})
    if "odcctl_p50_s" in p6:
        n = p6["hosts"]
        od = p6["odcctl_p50_s"]
        for label, name in (("default", "forks default (5)"), ("f50", "-f 50")):
            w = p6.get(f"ansible_{label}_s") or []
            if w:
                rows.append(("6", f"ansible -m ping, {n} local hosts, {name}", fmt_s(min(w)),
                             "", ""))
        rows.append(("6", f"odcctl exec ping --all, {n} real agents, p50 "
                          f"({len(p6['odcctl_s'])} runs)",
                     f"{fmt_s(od)} (coordinator {fmt_s(p6['odcctl_coord_p50_s'])}), "
                     f"lost {p6['odcctl_lost']}", "", ""))
        for label, name in (("default", "forks default"), ("f50", "-f 50")):
            w = p6.get(f"ansible_{label}_s") or []
            if w:
                rows.append(("6", f"  ratio ansible ({name}) / odcctl", f"{min(w) / od:.1f}x",
                             "", ""))
    elif 6 in b.parts:
        rows.append(("6", "ansible side by side", "not run", "", "MISS"))
    return rows


COLUMNS = ("part", "figure", "value", "budget", "result")


def print_table(b, rows, total_s):
    print(f"odc-fleet bench ({'quick' if b.args.quick else 'full'}), {b.cores} cores, "
          f"build {b.build}")
    b.B.print_rows(COLUMNS, rows)
    verdicts = [r[4] for r in rows if r[4] in ("PASS", "MISS")]
    print(f"\n{verdicts.count('PASS')} PASS, {verdicts.count('MISS')} MISS; "
          f"total {total_s:.0f} s" + (f" (after waiting {b.res['waited_quiet_s']:.0f} s for a "
                                      f"quiet machine)" if b.res.get("waited_quiet_s") else ""))
    notes = ["Notes:",
             "- 2 and 4: the idle agent was sampled in the same window as the coordinator.",
             "- 3: lost time is read at the first 100 ms poll that shows it, on the coordinator's"
             " clock (the REPLY's now_ms).",
             "- 5: overhead = the job's submitted_ms -> ended_ms minus the agent's Docker, loader,"
             " metadb and health-gate waits (its timing lines, preflight + run phases); odcctl"
             " figures use odcctl's wall time instead (submission to the summary printed).",
             "- 5: the rollbacks run after the simulated fleet was stopped and marked lost: the"
             " coordinator then serves the one real agent.",
             "- 7: the floor under 2's RSS: libzmq alone (bench/zmq_floor, the coordinator's"
             " socket options, none of its state) with the same simulated agents connected."]
    print("\n".join(notes))
    fr = b.res.get("foreign") or {}
    if fr:
        print(f"Machine sharing: CPU used by processes this bench did not start, in cores of "
              f"{b.cores}, per window:")
        print("  " + "; ".join(f"{k} {v['cores']:.2f}" for k, v in fr.items()))
    b.B.print_problems(b.problems)


def report(b, total_s):
    """The table of b's figures, printed and returned; a machine others used is a problem."""
    busy = {k: v for k, v in b.res["foreign"].items() if v["cores"] >= 0.1}
    if busy:
        worst = max(busy.items(), key=lambda kv: kv[1]["cores"])
        b.problems.insert(0, f"shared machine: processes this bench did not start used >= 0.1 "
                             f"of {b.cores} cores in {len(busy)} of {len(b.res['foreign'])} "
                             f"measurement windows (worst: {worst[0]}, {worst[1]['cores']:.2f}"
                             f" cores: {', '.join(worst[1]['top'])}); the figures of those "
                             f"windows are disturbed")
    rows = rows_of(b)
    print_table(b, rows, total_s)
    return rows


def main():
    args = parse_args()
    B = benchenv.load_benchlib(args)
    b = Bench(args, B)
    return B.run_bench(b, COLUMNS,
                       lambda total_s: report(b, total_s), args.json)


if __name__ == "__main__":
    sys.exit(main())
