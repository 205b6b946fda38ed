"""Helpers of bench/run.py: the test world's classes (tests/world) wired for a
benchmark, a pipelining control-socket client, loadgen processes, /proc sampling and
small statistics.

Import it only after ODC_BUILD is set in os.environ: tests.world.fleet and agentcli read it at
import time to find the binaries.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import math
import os
import re
import resource
import signal
import subprocess
import sys
import threading
import time
import traceback
import types
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# A stand-alone program: the one place it finds the test world (the tests.world package).
sys.path.insert(0, str(REPO))

import zmq  # noqa: E402

from tests.world import fleet as fleetmod  # noqa: E402  (Fleet, make_agent, job ids)
from tests.py import odcproto  # noqa: E402
from tests.world import odcworld  # noqa: E402  (MariaDB, Dockerd, OdcImages, OdcHost, cleanup at exit)
from tests.world.coordpeer import now_ms, pub_text  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def log(msg):
    """A progress line on stderr (the table goes to stdout)."""
    sys.stderr.write(f"[bench {time.strftime('%H:%M:%S')}] {msg}\n")
    sys.stderr.flush()


def raise_nofile():
    """preexec_fn: RLIMIT_NOFILE soft limit up to the hard limit (10k connections)."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# ---------------------------------------------------------------- a bench's run and report

class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGHUP during a bench: it cleans up as after Ctrl-C."""


def _interrupt(signum, frame):
    raise Interrupted(f"signal {signum}")


def run_bench(b, keys, report, json_path=None):
    """Runs b.run(), SIGTERM and SIGHUP raising as Ctrl-C does; then, whatever happened and
    with the signals ignored, b.cleanup(failed), whose errors join b.problems. report(total_s)
    prints the table and returns its rows, kept in b.res (as dicts of keys) with b.problems and
    written to json_path when given. total_s leaves out b.res["waited_quiet_s"]. b has t0 (its
    start, monotonic), res, problems and problem(text). Returns 130 when interrupted, 1 when
    the run raised, else 0."""
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    failed, rc = False, 0
    try:
        b.run()
    except KeyboardInterrupt as e:
        failed, rc = True, 130
        b.problem(f"interrupted: {e}")
    except Exception as e:
        failed, rc = True, 1
        b.problem(f"bench failed: {e!r}")
        traceback.print_exc(file=sys.stderr)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        log("cleanup")
        b.problems.extend(f"cleanup: {e}" for e in b.cleanup(failed))
        signal.signal(signal.SIGINT, signal.default_int_handler)
    total = time.monotonic() - b.t0 - b.res.get("waited_quiet_s", 0)
    b.res["total_s"] = round(total, 1)
    rows = report(total)
    b.res["table"] = [dict(zip(keys, r)) for r in rows]
    b.res["problems"] = b.problems
    if json_path:
        with open(json_path, "w") as f:
            json.dump(b.res, f, indent=1, default=str)
        log(f"figures written to {json_path}")
    return rc


def print_rows(head, rows):
    """head then rows on stdout, each column as wide as its widest cell."""
    w = [max(len(str(x[i])) for x in list(rows) + [head]) for i in range(len(head))]
    print("  ".join(str(h).ljust(w[i]) for i, h in enumerate(head)).rstrip())
    print("  ".join("-" * x for x in w))
    for r in rows:
        print("  ".join(str(c).ljust(w[i]) for i, c in enumerate(r)).rstrip())


def print_problems(problems):
    if problems:
        print("Problems seen:")
        for p in problems:
            print(f"- {p}")


# ---------------------------------------------------------------- statistics

def pct(values, p):
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    s = sorted(values)
    k = max(1, math.ceil(p / 100.0 * len(s)))
    return s[k - 1]


def median(values):
    s = sorted(values)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2.0


# ---------------------------------------------------------------- /proc

def proc_cpu_s(pid):
    """utime + stime of a process (all its threads, dead ones included), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) / CLK_TCK


def proc_sched_ns(pid):
    """Time on CPU of every live thread of a process, ns (/proc/PID/task/*/schedstat):
    finer than stat's clock ticks, for nearly idle processes; threads that ended are not
    counted."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total


def proc_status_kb(pid, *keys):
    """{key: kB} of /proc/PID/status lines such as VmRSS, VmHWM."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in keys:
                out[k] = int(v.split()[0])
    return out


def proc_smaps_rollup_kb(pid):
    """{field: kB} of /proc/PID/smaps_rollup (Rss, Pss, Private_Clean, Anonymous, ...)."""
    out = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            k, _, v = line.partition(":")
            parts = v.split()
            if len(parts) == 2 and parts[1] == "kB":
                out[k] = int(parts[0])
    return out


def proc_rss_by_mapping_kb(pid, top=8):
    """The largest Rss contributors of /proc/PID/smaps, by mapped file ([heap], [anon],
    libraries): [(name, Rss kB, Private kB)]."""
    by = {}
    name = None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            head = line.split()
            if head and "-" in head[0] and ":" not in head[0]:
                name = os.path.basename(head[5]) if len(head) > 5 else "[anon]"
                by.setdefault(name, [0, 0])
            elif head and head[0] == "Rss:":
                by[name][0] += int(head[1])
            elif head and head[0] in ("Private_Clean:", "Private_Dirty:"):
                by[name][1] += int(head[1])
    return sorted(((k, v[0], v[1]) for k, v in by.items()), key=lambda x: -x[1])[:top]


class Sampler:
    """Samples one process's CPU time and VmRSS every interval seconds in a thread, and
    (smaps=True) its smaps_rollup. start()/stop(); then summary()."""

    def __init__(self, pid, interval, smaps=False, name=""):
        self.pid, self.interval, self.smaps, self.name = pid, interval, smaps, name
        self.samples = []  # (t_mono, cpu_s, rss_kb, sched_ns)
        self.smaps_samples = []
        self._stop = threading.Event()
        self._thread = None
        self.error = None

    def _one(self):
        t = time.monotonic()
        cpu = proc_cpu_s(self.pid)
        rss = proc_status_kb(self.pid, "VmRSS")["VmRSS"]
        self.samples.append((t, cpu, rss, proc_sched_ns(self.pid) if self.smaps else 0))
        if self.smaps:
            self.smaps_samples.append(proc_smaps_rollup_kb(self.pid))

    def _loop(self):
        nxt = time.monotonic()
        try:
            while not self._stop.is_set():
                self._one()
                nxt += self.interval
                self._stop.wait(max(0.0, nxt - time.monotonic()))
            self._one()
        except (OSError, ValueError, KeyError) as e:  # the process ended
            self.error = f"{self.name} (pid {self.pid}): {e!r}"

    def start(self):
        self._thread = threading.Thread(target=self._loop, name=f"sampler-{self.pid}",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def summary(self):
        s = self.samples
        if len(s) < 2:
            return {"error": self.error or "fewer than 2 samples"}
        wall = s[-1][0] - s[0][0]
        cpu = s[-1][1] - s[0][1]
        rss = [x[2] for x in s]
        out = {"window_s": round(wall, 2), "samples": len(s),
               "cpu_s": round(cpu, 3), "cpu_pct": 100.0 * cpu / wall if wall > 0 else None,
               "rss_max_kb": max(rss), "rss_mean_kb": sum(rss) / len(rss),
               "rss_min_kb": min(rss)}
        if self.smaps:
            out["cpu_pct_schedstat"] = 100.0 * (s[-1][3] - s[0][3]) / 1e9 / wall
        if self.smaps_samples:
            for key in ("Rss", "Pss", "Private_Clean", "Private_Dirty", "Anonymous",
                        "Shared_Clean"):
                vals = [m.get(key, 0) for m in self.smaps_samples]
                out[f"{key.lower()}_max_kb"] = max(vals)
                out[f"{key.lower()}_mean_kb"] = sum(vals) / len(vals)
            priv = [m.get("Private_Clean", 0) + m.get("Private_Dirty", 0)
                    for m in self.smaps_samples]
            out["private_max_kb"] = max(priv)
            out["private_mean_kb"] = sum(priv) / len(priv)
        if self.error:
            out["error"] = self.error
        return out


# ---------------------------------------------------------------- the control socket

class ControlError(RuntimeError):
    pass


class Control:
    """A DEALER on the coordinator's control socket that pipelines REQUESTs (PROTOCOL.md
    section 9: replies matched by request_id), encoded and decoded with the independent
    implementation tests/py/odcproto.py."""

    def __init__(self, endpoint):
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.linger = 0
        self.sock.rcvhwm = self.sock.sndhwm = 0
        self.sock.connect(endpoint)
        self.next_id = 1

    def close(self):
        self.sock.close(0)
        self.ctx.term()

    def _recv(self, timeout):
        if not self.sock.poll(int(timeout * 1000)):
            raise ControlError(f"no REPLY on the control socket within {timeout} s")
        return odcproto.receive(self.sock.recv_multipart(), {"receiver": "cli"})

    def pipeline(self, requests, window=256, timeout=30.0):
        """Sends every (command, args) with at most window in flight; returns the REPLYs
        (dicts: request_id, code, message, body) in the order of requests."""
        ids = []
        pending = {}
        out = {}
        it = iter(requests)
        done = False
        while True:
            while not done and len(pending) < window:
                try:
                    cmd, args = next(it)
                except StopIteration:
                    done = True
                    break
                rid = self.next_id
                self.next_id += 1
                ids.append(rid)
                pending[rid] = cmd
                self.sock.send_multipart(odcproto.encode(
                    "REQUEST", {"request_id": rid, "command": cmd, "args": dict(args)}))
            if not pending:
                break
            rep = self._recv(timeout)
            if rep["request_id"] in pending:
                del pending[rep["request_id"]]
                out[rep["request_id"]] = rep
        return [out[r] for r in ids]

    def request(self, command, args=None, timeout=30.0):
        """One REQUEST; its REPLY body, or ControlError naming the code and message."""
        rep = self.pipeline([(command, args or {})], timeout=timeout)[0]
        if rep["code"] != 0:
            raise ControlError(f"{command}: {odcproto.ERROR_NAMES.get(rep['code'], rep['code'])}"
                               f": {rep['message']}")
        return rep["body"]

    def accept_keys(self, pairs, actor="bench", window=256):
        """key-accept of every (host, public key text), pipelined; raises on any refusal."""
        reps = self.pipeline([("key-accept", {"host": h, "key": k, "actor": actor})
                              for h, k in pairs], window=window, timeout=60.0)
        bad = [(p[0], r["message"]) for p, r in zip(pairs, reps) if r["code"] != 0]
        if bad:
            raise ControlError(f"key-accept refused for {len(bad)} hosts, first: {bad[0]}")
        return len(reps)


# ---------------------------------------------------------------- the coordinator

def quiet_close(closable, show=False):
    """Fleet.close() prints the logs' tails on stdout (for pytest); the table owns stdout
    here, so they go to stderr when show, else nowhere."""
    target = sys.stderr if show else io.StringIO()
    with contextlib.redirect_stdout(target):
        closable.close()


class BenchFleet(fleetmod.Fleet):
    """fleet.Fleet with the coordinator's production defaults (heartbeat 5 s, lost_after 3,
    ack_timeout 10 s, log level info) and RLIMIT_NOFILE raised to the hard limit for the
    coordinator, which holds one connection per agent."""

    def __init__(self, coordinator_id="coord-bench", heartbeat="5s", lost_after=3,
                 ack_timeout="10s", ctl_timeout="120s", log_level="info"):
        super().__init__(None, heartbeat=heartbeat, lost_after=lost_after,
                         ack_timeout=ack_timeout, ctl_timeout=ctl_timeout,
                         coordinator_id=coordinator_id, log_level=log_level)
        self.control = None

    def start(self, wait=True, timeout=20.0):
        fleetmod.need_binary(fleetmod.COORDINATOR)
        if self.alive():
            raise RuntimeError("the coordinator runs already")
        self.lives += 1
        with open(self.log_path, "a") as lf:
            lf.write(f"==== life {self.lives}: {fleetmod.COORDINATOR} -c {self.conf} run\n")
            lf.flush()
            self.proc = subprocess.Popen([fleetmod.COORDINATOR, "-c", self.conf, "run"],
                                         stdout=lf, stderr=subprocess.STDOUT,
                                         start_new_session=True, preexec_fn=raise_nofile)
        self.started_ms = now_ms()
        if wait:
            self.wait_ready(timeout)
        self.control = Control(self.control_endpoint)
        self._closers.append(self.control.close)
        return self

    @property
    def pid(self):
        return self.proc.pid

    def odcctl(self, *args, timeout=600, json_out=False):
        """Runs odcctl; returns (wall seconds, CtlResult)."""
        t0 = time.perf_counter()
        r = self.ctl(*args, timeout=timeout, json_out=json_out)
        return time.perf_counter() - t0, r

    def online(self, host_ids=None, glob=None):
        """{host: host object} from the control socket's `hosts`."""
        args = {}
        if host_ids is not None:
            args["host"] = list(host_ids)
        if glob is not None:
            args["glob"] = glob
        return {h["host"]: h for h in self.control.request("hosts", args)["hosts"]}

    def wait_online(self, *host_ids, timeout=60.0, beat=False, count=None, glob=None):
        """Waits until the hosts (or count hosts matching glob) are online."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            hs = self.online(host_ids if host_ids else None, glob)
            ok = [h for h in hs.values() if h["status"] == "online"
                  and (not beat or h.get("odc") is not None)]
            last = len(ok)
            if (count is not None and last >= count) or \
               (count is None and last == len(host_ids)):
                return hs
            time.sleep(0.25)
        raise RuntimeError(f"only {last} hosts online after {timeout} s "
                           f"(wanted {count if count is not None else len(host_ids)})")

    def make_real_agent(self, host_id, world_host, own_dir=None, **kw):
        """A real odc-agent daemon of this fleet on world_host. own_dir: a directory of its
        own for its config, key and state (many agents on one world host); the host's
        container, engine and metadb stay shared."""
        host = world_host
        if own_dir is not None:
            os.makedirs(own_dir, exist_ok=True)
            host = copy.copy(world_host)
            host.dir = own_dir
        over = {"agent.log_level": "info"}
        over.update(kw.pop("conf_over", {}))
        return self.make_agent(host_id, host=host, conf_over=over, **kw)


# ---------------------------------------------------------------- loadgen

class Loadgen:
    """One `loadgen run` process: simulated agents prefix-%05d from first to first+n-1.
    Its stdout is read in a thread: "stats ..." lines are kept, "ready N" sets ready."""

    def __init__(self, binary, n, first, seed, fleet, prefix="sim", log_dir=None,
                 extra=()):
        self.binary, self.n, self.first, self.seed, self.prefix = binary, n, first, seed, prefix
        self.fleet = fleet
        self.extra = list(extra)
        self.proc = None
        self.ready = threading.Event()
        self.ready_at = None
        self.stats = []
        self.lines = []
        self.log_path = os.path.join(log_dir or fleet.dir, f"loadgen-{first}-{n}.log")
        self._leftover = types.SimpleNamespace(stop=self.stop)

    def __repr__(self):
        return f"Loadgen({self.prefix} {self.first}..{self.first + self.n - 1})"

    def host_ids(self):
        return [f"{self.prefix}-{i:05d}" for i in range(self.first, self.first + self.n)]

    def _common(self):
        return ["--n", str(self.n), "--first", str(self.first), "--prefix", self.prefix,
                "--seed", self.seed]

    def keys(self):
        """[(host id, public key text)] from `loadgen keys`."""
        p = subprocess.run([self.binary, "keys", *self._common()], capture_output=True,
                           text=True, timeout=300)
        if p.returncode != 0:
            raise RuntimeError(f"loadgen keys exited {p.returncode}: {p.stderr[-2000:]}")
        pairs = []
        for line in p.stdout.splitlines():
            parts = line.split()
            if len(parts) == 2:
                pairs.append((parts[0], parts[1]))
        if len(pairs) != self.n:
            raise RuntimeError(f"loadgen keys printed {len(pairs)} keys, not {self.n}")
        return pairs

    def start(self):
        cmd = [self.binary, "run", *self._common(),
               "--endpoint", self.fleet.agents_endpoint,
               "--coordinator-key", pub_text(self.fleet.coordinator_key),
               "--operator-key", pub_text(self.fleet.operator_key), *self.extra]
        odcworld._register(self._leftover)
        self._log = open(self.log_path, "a")
        self._log.write("==== " + " ".join(cmd) + "\n")
        self._log.flush()
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self._log, text=True,
                                     bufsize=1, start_new_session=True,
                                     preexec_fn=raise_nofile)
        threading.Thread(target=self._read, name=f"loadgen-{self.first}", daemon=True).start()
        return self

    def _read(self):
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            self.lines.append(line)
            self._log.write(line + "\n")
            if line.startswith("stats"):
                self.stats.append((time.monotonic(), line))
            elif line.startswith("ready"):
                self.ready_at = time.monotonic()
                self.ready.set()

    def wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while not self.ready.wait(0.5):
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self!r} exited {self.proc.returncode} before ready; "
                                   f"see {self.log_path}")
            if time.monotonic() > deadline:
                last = self.stats[-1][1] if self.stats else "(no stats line)"
                raise RuntimeError(f"{self!r} not ready after {timeout} s; last: {last}")

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        odcworld._unregister(self._leftover)
        if getattr(self, "_log", None) is not None and not self._log.closed:
            try:
                self._log.flush()
            except ValueError:
                pass


def loadgen_crypto(binary, targets, iters=None):
    """The JSON line of `loadgen crypto --targets N`."""
    import json
    cmd = [binary, "crypto", "--targets", str(targets)]
    if iters:
        cmd += ["--iters", str(iters)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise RuntimeError(f"loadgen crypto exited {p.returncode}: {p.stderr[-2000:]}")
    for line in reversed(p.stdout.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"loadgen crypto printed no JSON line: {p.stdout[-2000:]}")


# ---------------------------------------------------------------- agent logs

TIMING_RE = re.compile(
    r"job (\S+): total (\d+) ms: Docker (\d+), loaders (\d+), metadb (\d+), health gate (\d+);"
    r" the agent's own work (\d+) ms")


def timing_lines(log_text, job_id):
    """The agent's per-phase "timing" lines of job_id (agent/plan.c), parsed."""
    out = []
    for m in TIMING_RE.finditer(log_text):
        if m.group(1) == job_id:
            total, dk, ld, db, hg, own = (int(x) for x in m.groups()[1:])
            out.append({"total_ms": total, "docker_ms": dk, "loaders_ms": ld, "metadb_ms": db,
                        "health_ms": hg, "own_ms": own})
    return out


# ---------------------------------------------------------------- a shared machine

def _all_procs():
    """{pid: (ppid, starttime, cpu ticks, comm)} of every process but kernel threads."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                text = f.read()
        except OSError:
            continue
        comm = text[text.find("(") + 1:text.rfind(")")]
        rest = text.rsplit(")", 1)[1].split()
        ppid = int(rest[1])
        pid = int(d)
        if pid == 2 or ppid == 2:
            continue
        out[pid] = (ppid, int(rest[19]), int(rest[11]) + int(rest[12]), comm)
    return out


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


class ForeignCpu:
    """CPU used during a window by processes this bench did not start: anything not
    descended from this process, from the world's dockerd or MariaDB, or from a
    containerd shim of the world's engine (marker strings in its command line). On a
    machine shared with other sessions this says how much the figures were disturbed."""

    def __init__(self):
        self.roots = {os.getpid()}
        self.markers = []

    def add_root(self, pid):
        if pid:
            self.roots.add(int(pid))

    def add_marker(self, text):
        self.markers.append(text)

    def add_world(self, *objs):
        """The test world's daemons (odcworld.Dockerd, MariaDB, started): their processes,
        and an engine's containerd shims (found by the engine's dir and the namespace
        dockerd.sh names after it) count as this bench's."""
        for obj in objs:
            for name in ("dockerd.pid", "mysqld.pid"):
                try:
                    with open(os.path.join(obj.dir, name)) as f:
                        self.add_root(int(f.read().strip()))
                except (OSError, ValueError):
                    pass
            if isinstance(obj, odcworld.Dockerd):
                ns = subprocess.run(["cksum"], input=obj.dir, capture_output=True,
                                    text=True).stdout.split()[0]
                self.add_marker(f"odcfleet{ns}")
                self.add_marker(obj.dir)

    def snapshot(self):
        procs = _all_procs()
        ours = {}

        def is_ours(pid, depth=0):
            if pid in ours:
                return ours[pid]
            if pid in self.roots:
                ours[pid] = True
                return True
            p = procs.get(pid)
            if p is None or p[0] in (0, 1) or depth > 64:
                r = bool(p) and p[0] == 1 and any(m in _cmdline(pid) for m in self.markers)
                ours[pid] = r
                return r
            r = is_ours(p[0], depth + 1)
            ours[pid] = r
            return r

        snap = {}
        for pid, (ppid, start, ticks, comm) in procs.items():
            if pid == 1 or is_ours(pid):
                continue
            snap[(pid, start)] = (ticks, comm)
        return time.monotonic(), snap

    @staticmethod
    def between(a, b, top=4):
        (t0, s0), (t1, s1) = a, b
        used = {}
        for key, (ticks, comm) in s1.items():
            d = ticks - s0.get(key, (0, comm))[0]
            if d > 0:
                label = f"{comm}[{key[0]}]"
                used[label] = used.get(label, 0) + d
        wall = max(t1 - t0, 1e-9)
        total = sum(used.values()) / CLK_TCK
        tops = sorted(used.items(), key=lambda kv: -kv[1])[:top]
        return {"wall_s": round(wall, 1), "cpu_s": round(total, 2),
                "cores": round(total / wall, 3),
                "top": [f"{k} {v / CLK_TCK:.1f}s" for k, v in tops]}
