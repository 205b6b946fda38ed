"""End-to-end tests of odc-fleet on the multi-host testbed (issue 5, point 4).

    ODC_BUILD=/work/main/build /usr/bin/python3 -m pytest -q tests/e2e

One session brings up ONE 7-host testbed (deploy/testbed/testbed.py up --hosts 7 --ha 2 --dir
TMP): h1..h5 single-node deployments, h6 and h7 the two nodes of one HA deployment (one metadb,
odc_metadb_ha, and one backup for both)
and always takes it down at the end (session fixture try/finally, plus an atexit fallback for
a KeyboardInterrupt or a crash between the two). ODC_E2E_KEEP=1 keeps it up for a look
(then: testbed.py down --dir DIR).

Everything is observed the way an operator does: `odcctl -o json` (hosts, job --results,
exit status), `odc-agent -c DIR/hN/agent.conf journal JOB -o json`, `docker inspect obodc` on the
host's engine, GET /api/v1/info on 10.77.0.(10+N):8989 and the metadb odc_metadb_hN on the
MariaDB at 10.77.0.1:3306, read with the host's own metadb account (DIR/hN/agent.conf).

The scenarios change host state; tests/e2e/test_e2e.py runs them in file order and each one
first brings the hosts it needs back to 4.3.0 (`Testbed.ensure_430`: `odcctl undo` of the
job that rolled them back). Every host also has the stand-in's broken releases
(4.3.1-badmigrate, 4.3.1-unhealthy) to upgrade to.
"""

import atexit
import configparser
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pymysql
import pytest

REPO = Path(__file__).resolve().parents[2]
TESTBED = REPO / "deploy" / "testbed" / "testbed.py"
BUILD = Path(os.environ.get("ODC_BUILD") or REPO / "build")
ODCCTL = BUILD / "odcctl"
AGENT = BUILD / "odc-agent"
COORDINATOR = BUILD / "odc-coordinator"
PY = "/usr/bin/python3"
N_HOSTS = 7
HA_NODES = ("h6", "h7")  # the last hosts: one HA deployment (testbed.py up --ha)
OLD, NEW = "4.2.0", "4.3.0"  # image tags
# What ODC reports (/api/v1/info, `odcctl hosts`): release builds' <main>-<release id>
# (tests/world/build-images.sh).
BUILD_OF = {OLD: "4.2.0-20230916", NEW: "4.3.0-20240412"}
GATEWAY = "10.77.0.1"
ODC_PORT = 8989
RUN_STEPS = ["stop", "snapshot", "restore", "start", "health"]  # as test_coordinator.py
FINAL_JOB_STATES = ("succeeded", "failed", "halted", "aborted")
JOB_ID_RE = re.compile(r"\b[a-z_]+-\d{8}T\d{6}Z-[0-9a-f]{6}\b")

from tests.world import agentcli, obtools, odcworld  # obtools: the stand-ins' backup reader
from tests.world.fleet import with_yes  # the tests confirm changes as a script does
# SIGTERM (a CI timeout, a kill of make test) as KeyboardInterrupt, as in the integration tests:
# the session's finally (or the atexit fallback) then takes the testbed down. By default SIGTERM
# ends Python at once and leaves its namespaces, engines, MariaDB and agents running.
from tests.integration.conftest import pytest_configure  # noqa: F401,E402

_durations = {}


def wait_for(predicate, timeout, what, interval=0.3):
    """(as tests/world/fleet.py) polls predicate() until truthy; returns that value."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}; "
                                 f"last value: {last!r}")
        time.sleep(interval)


def version_key(v):
    return tuple(int(x) if x.isdigit() else x for x in re.split(r"[.]", v))


def pid_alive(pid):
    try:
        st = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return not st.split(") ")[-1].startswith("Z")


class Ctl:
    def __init__(self, cmd, p):
        self.cmd, self.rc, self.stdout, self.err = cmd, p.returncode, p.stdout, p.stderr
        self.out = p.stdout
        try:
            self.out = json.loads(p.stdout)
        except ValueError:
            pass

    def __repr__(self):
        return (f"<odcctl {' '.join(map(str, self.cmd[4:]))}: exit {self.rc}; "
                f"stdout {self.stdout[-3000:]!r}; stderr {self.err[-2000:]!r}>")


class Host:
    """One testbed host as testbed.json describes it, plus its agent.conf."""

    def __init__(self, tb, h):
        self.tb, self.h = tb, h
        self.id, self.n, self.addr, self.dir = h["id"], h["n"], h["addr"], Path(h["dir"])
        self.conf = self.dir / "agent.conf"
        cp = configparser.ConfigParser()
        cp.read(self.conf)
        m = cp["metadb"]
        self.db = m["database"]
        self.login = f"{m['user']}@{m['tenant']}#{m['cluster']}"
        self.password = Path(m["password_file"]).read_text().strip()
        self.db_port = int(m["port"])
        self.docker_socket = cp["docker"]["socket"]
        self.container = cp["docker"]["container"]
        self.obdumper = cp["loader"]["obdumper"]
        self.conn_args = ["-h", m["host"], "-P", m["port"], "-u", m["user"], "-p", self.password,
                          "-c", m["cluster"], "-t", m["tenant"], "-D", self.db]

    def __repr__(self):
        return f"Host({self.id})"

    # -- the container, as `docker inspect` on the host's engine shows it
    def docker(self, *args, check=True):
        env = dict(os.environ, DOCKER_CONFIG=str(self.dir / "docker" / "cli"))
        for k in ("DOCKER_HOST", "DOCKER_CONTEXT"):
            env.pop(k, None)
        p = subprocess.run(["docker", "-H", f"unix://{self.docker_socket}", *map(str, args)],
                           capture_output=True, text=True, timeout=60, env=env)
        assert not check or p.returncode == 0, f"docker {args}: {p.stderr}"
        return p

    def inspect(self):
        p = self.docker("inspect", self.container, check=False)
        return json.loads(p.stdout)[0] if p.returncode == 0 else None

    def container_state(self):
        """(id, running, image ref) of obodc."""
        i = self.inspect()
        return (i["Id"], i["State"]["Running"], i["Config"]["Image"]) if i else None

    # -- ODC over HTTP, from the root namespace over the bridge
    def info_version(self):
        p = subprocess.run(["curl", "-fsS", "--max-time", "3",
                            f"http://{self.addr}:{ODC_PORT}/api/v1/info"],
                           capture_output=True, text=True)
        if p.returncode != 0:
            return None
        try:
            return json.loads(p.stdout)["data"]["version"]
        except (ValueError, KeyError, TypeError):
            return None

    # -- the metadb on 10.77.0.1:3306, with the host's own account
    def sql(self, stmt):
        conn = pymysql.connect(host=GATEWAY, port=self.db_port, user=self.login,
                               password=self.password, database=self.db, connect_timeout=5)
        try:
            with conn.cursor() as cur:
                cur.execute(stmt)
                return list(cur.fetchall())
        finally:
            conn.close()

    def metadb_state(self):
        """{'tables': {table: rows}, 'max_version': max successful migrate_schema_history
        version, 'history': [versions]}, without the history rows ODC writes on every start
        (odcworld.START_ROWS_TYPE). ODC's migration lock (DISTRIBUTED_LOCK) counts 0 rows
        whatever it holds, as odcworld's metadb_state: a row lives only while a node starts,
        and a container an agent has just started may hold one."""
        # Without the fence a rollback leaves (odc_fleet_fence, agent/guard.h: odc-fleet's,
        # no rows, never restored); the guard is kept: none may be left.
        tables = [r[0] for r in self.sql(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA=DATABASE() "
            "AND TABLE_TYPE='BASE TABLE' AND TABLE_NAME <> 'odc_fleet_fence' ORDER BY TABLE_NAME")]
        counts = {t: self.sql(f"SELECT COUNT(*) FROM `{t}`")[0][0] for t in tables}
        if "DISTRIBUTED_LOCK" in counts:
            counts["DISTRIBUTED_LOCK"] = 0
        hist = []
        if "migrate_schema_history" in tables:
            rows = [r for r in self.sql("SELECT version, type, success FROM "
                                        "migrate_schema_history ORDER BY install_rank")
                    if r[1] != odcworld.START_ROWS_TYPE]
            counts["migrate_schema_history"] = len(rows)
            hist = [r[0] for r in rows if r[2] == 1]
        return {"tables": counts, "max_version": max(hist, key=version_key) if hist else None,
                "history": hist}

    def backup_state(self, backup_root):
        """The same for the host's part of a backup (data/<db>/TABLE, obdumper's layout):
        tables from <t>-schema.sql, rows from its data files without header lines (read by
        tests.world.obtools), versions of migrate_schema_history; without the history rows
        ODC writes on every start, as metadb_state."""
        counts = obtools.backup_row_counts(backup_root, self.db)
        counts.pop("odc_fleet_fence", None)  # as metadb_state
        if "DISTRIBUTED_LOCK" in counts:
            counts["DISTRIBUTED_LOCK"] = 0
        rows = [f for f in obtools.table_records(backup_root, self.db, "migrate_schema_history")
                if f[3] != odcworld.START_ROWS_TYPE]
        if "migrate_schema_history" in counts:
            counts["migrate_schema_history"] = len(rows)
        hist = [f[1] for f in rows if f[9] in ("1", "true")]
        return {"tables": counts, "max_version": max(hist, key=version_key) if hist else None}

    # -- the agent
    def journal(self, job_id):
        """The plans of job_id in this host's journal (`odc-agent -c conf journal JOB -o json`,
        as tests/world/fleet.py reads it): [{action, phase, state, steps: [{step, status,
        message, ...}], ...}]."""
        return agentcli.journal(self.conf, job_id, binary=AGENT)["plans"]

    def journal_steps(self, job_id, phase=None):
        return [(p["phase"], s["step"], s["status"]) for p in self.journal(job_id)
                for s in p["steps"] if phase is None or p["phase"] == phase]

    def ran(self, job_id):
        return any(p["phase"] == "run" for p in self.journal(job_id))

    def agent_pid(self):
        return self.tb.state_host(self.id).get("agent_pid")

    def agent_argv(self, conf=None):
        # exactly what testbed.py's `up` started (cmd_up -> start_proc), as it recorded it;
        # with conf, that configuration file instead of agent.conf
        argv = list(self.tb.state_host(self.id)["agent_argv"])
        if conf:
            argv[argv.index("-c") + 1] = str(conf)
        return argv

    def conf_with(self, name, **sections):
        """A copy of agent.conf, DIR/hN/NAME, with the keys of sections set (e.g.
        deadlines={"health": "15s"}); the same state directory and key, so the agent started
        with it is the same agent (journal, nonces)."""
        cp = configparser.ConfigParser()
        cp.read(self.conf)
        for sec, kv in sections.items():
            for k, v in kv.items():
                cp[sec][k] = v
        path = self.dir / name
        with open(path, "w") as f:
            cp.write(f)
        return path

    def stop_agent(self, sig=signal.SIGTERM):
        pid = self.agent_pid()
        if pid and pid_alive(pid):
            os.kill(pid, sig)
            wait_for(lambda: not pid_alive(pid), 15, f"{self.id}'s agent (pid {pid}) to end")

    def start_agent(self, env=None, conf=None):
        """Starts the agent as `up` does (own session, log appended to DIR/hN/agent.log),
        with env added (e.g. ODC_AGENT_TEST_STEP_DELAY_MS) and, with conf, that configuration
        file, and records its pid in testbed.json so that `down` stops it."""
        e = dict(os.environ, **(env or {}))
        with open(self.dir / "agent.log", "a") as lf:
            lf.write(f"==== {time.strftime('%F %T')}: e2e restart env={env} conf={conf}\n")
            lf.flush()
            p = subprocess.Popen(self.agent_argv(conf), stdout=lf, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, start_new_session=True, env=e)
        self.tb.set_state_host(self.id, agent_pid=p.pid)
        self.tb.procs.append(p)
        return p.pid

    def restart_agent(self, env=None, conf=None):
        """Stops the agent and starts it again (with env, with conf); returns once `odcctl
        hosts` shows its new incarnation online with its ODC reported."""
        before = self.tb.hosts_view()[self.id].get("incarnation")
        self.stop_agent()
        pid = self.start_agent(env, conf)
        self.tb.wait_new_incarnation(self.id, before)
        return pid


class Testbed:
    def __init__(self, d):
        self.dir = Path(d)
        self.procs = []
        self.hosts = {h["id"]: Host(self, h) for h in self.state()["hosts"]}
        self.backup = self.state()["backup"]
        self.last_rollback = {}  # host id -> the job that rolled it back to 4.2.0 (for undo)
        self.initial = {}        # host id -> metadb state at 4.3.0, before any rollback

    def state(self):
        return json.loads((self.dir / "testbed.json").read_text())

    def state_host(self, hid):
        return next(h for h in self.state()["hosts"] if h["id"] == hid)

    def _save(self, st):
        tmp = self.dir / "testbed.json.tmp"
        tmp.write_text(json.dumps(st, indent=2) + "\n")
        os.replace(tmp, self.dir / "testbed.json")

    def set_state_host(self, hid, **kv):
        st = self.state()
        next(h for h in st["hosts"] if h["id"] == hid).update(kv)
        self._save(st)

    # -- odcctl
    def ctl(self, *args, timeout=60, json_out=True):
        cmd = [str(ODCCTL), "-c", str(self.dir / "odcctl.conf")] + \
            (["-o", "json"] if json_out else []) + with_yes(args)
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as ex:
            raise AssertionError(f"odcctl {args} did not end in {timeout} s: {ex.stdout!r} "
                                 f"{ex.stderr!r}\n{self.log_tail()}")
        return Ctl(cmd, p)

    def ctl_ok(self, *args, **kw):
        r = self.ctl(*args, **kw)
        assert r.rc == 0, f"{r!r}\n{self.log_tail()}"
        return r.out

    def log_tail(self, n=3000):
        try:
            return "coordinator.log tail:\n" + (self.dir / "coordinator.log").read_text(
                errors="replace")[-n:]
        except OSError:
            return ""

    def hosts_view(self):
        return {h["host"]: h for h in self.ctl_ok("hosts")["hosts"]}

    def job(self, job_id, results=True):
        return self.ctl_ok("job", job_id, *(["--results"] if results else []))

    def submit(self, *args):
        r = self.ctl(*args, "--detach")
        assert r.rc == 0, f"{r!r}\n{self.log_tail()}"
        out = r.out
        jid = out.get("job_id") if isinstance(out, dict) else None
        if not jid:
            m = JOB_ID_RE.search(r.stdout)
            jid = m.group(0) if m else None
        assert jid, r
        return jid

    def wait_job(self, job_id, timeout):
        return wait_for(lambda: (lambda j: j if j["state"] in FINAL_JOB_STATES else None)(
            self.job(job_id)), timeout, f"job {job_id} to end", interval=0.5)

    def wait_job_host(self, job_id, hid, states, timeout):
        def check():
            h = job_hosts(self.job(job_id, results=False))[hid]
            return h if h["state"] in states else None
        return wait_for(check, timeout, f"{hid} in job {job_id} in {states}")

    def wait_online(self, ids, timeout=30):
        return wait_for(lambda: (lambda hs: hs if all(
            hs.get(i, {}).get("status") == "online" for i in ids) else None)(self.hosts_view()),
            timeout, f"{ids} online")

    def wait_reporting(self, ids, version, timeout=60):
        """`odcctl hosts` shows every id online, ODC version and healthy."""
        def ok():
            hs = self.hosts_view()
            for i in ids:
                odc = hs.get(i, {}).get("odc") or {}
                if hs.get(i, {}).get("status") != "online" or odc.get("version") != BUILD_OF[version] \
                        or odc.get("health") != "healthy":
                    return None
            return hs
        return wait_for(ok, timeout, f"{ids} online with ODC {version} healthy", interval=0.5)

    def wait_new_incarnation(self, hid, old, timeout=30):
        def ok():
            h = self.hosts_view().get(hid, {})
            return h if h.get("status") == "online" and h.get("incarnation") not in (None, old) \
                and h.get("odc") else None
        return wait_for(ok, timeout, f"{hid} online with a new agent incarnation")

    def wait_reporting_state(self, hid, timeout=20):
        """`odcctl hosts` entry of hid once it is online and its odc state is reported."""
        return wait_for(lambda: (lambda h: h if h.get("status") == "online" and h.get("odc")
                                 else None)(self.hosts_view().get(hid, {})), timeout,
                        f"{hid} reporting")

    # -- the coordinator
    def coordinator_pid(self):
        return self.state().get("coordinator_pid")

    def kill9_coordinator(self):
        pid = self.coordinator_pid()
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not pid_alive(pid), 10, "the coordinator to die")

    def start_coordinator(self):
        argv = [str(COORDINATOR), "-c", str(self.dir / "coordinator.conf"), "run"]
        with open(self.dir / "coordinator.log", "a") as lf:
            lf.write(f"==== {time.strftime('%F %T')}: e2e restart\n")
            lf.flush()
            p = subprocess.Popen(argv, stdout=lf, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, start_new_session=True)
        self.procs.append(p)
        st = self.state()
        st["coordinator_pid"] = p.pid
        self._save(st)
        wait_for(lambda: self.ctl("info").rc == 0, 20, "the restarted coordinator to answer")
        return p.pid

    # -- resetting hosts between scenarios
    def ensure_430(self, ids, timeout=240):
        """Brings every host of ids that is not at 4.3.0 back with `odcctl undo --of JOB
        --host H` of the job that rolled it back (the nodes of the HA deployment together);
        then waits for them online, healthy, 4.3.0."""
        hs = self.hosts_view()
        by_job = {}
        for i in ids:
            v = (hs[i].get("odc") or {}).get("version")
            if v != BUILD_OF[NEW]:
                assert i in self.last_rollback, f"{i} is at {v} and no rollback of it is known"
                by_job.setdefault(self.last_rollback[i], []).append(i)
        # An undo names whole deployments: an HA node's peer rolled back by the same job too.
        for job, hids in by_job.items():
            if any(i in HA_NODES for i in hids):
                hids.extend(i for i in HA_NODES if i not in hids and self.last_rollback.get(i) == job)
        for job, hids in by_job.items():
            sel = [x for i in hids for x in ("--host", i)]
            r = self.ctl("undo", "--of", job, *sel, "--canary", "0", "--batch", "100%",
                         "--reason", "e2e: reset to 4.3.0", timeout=timeout)
            assert r.rc == 0, f"reset undo of {job} on {hids}: {r!r}"
            for i in hids:
                self.last_rollback.pop(i, None)
        self.wait_reporting(ids, NEW)
        for i in ids:
            assert self.hosts[i].info_version() == BUILD_OF[NEW]


def job_hosts(job):
    return {h["host"]: h for h in job["hosts"]}


def job_results(job):
    out = {h["host"]: [] for h in job["hosts"]}
    for r in job.get("results") or []:
        out.setdefault(r["host"], []).append(r)
    return out


# ---------------------------------------------------------------- the session's testbed

def _down(d):
    p = subprocess.run([PY, str(TESTBED), "down", "--dir", str(d)], capture_output=True,
                       text=True, timeout=300)
    sys.stderr.write(f"\n[e2e] testbed down --dir {d}: exit {p.returncode}\n{p.stdout[-1500:]}"
                     f"{p.stderr[-1500:]}\n")
    return p.returncode


@pytest.fixture(scope="session")
def testbed():
    if os.geteuid() != 0:
        pytest.skip("the testbed needs root")
    for b in (ODCCTL, AGENT, COORDINATOR):
        assert os.access(b, os.X_OK), f"{b} is not built (ODC_BUILD={BUILD})"
    d = Path(tempfile.mkdtemp(prefix="odc-e2e-"))
    keep = os.environ.get("ODC_E2E_KEEP") == "1"
    downed = []

    def down_once():
        if not downed and not keep:
            downed.append(1)
            _down(d)

    atexit.register(down_once)  # KeyboardInterrupt / crash between up and the finally below
    t0 = time.monotonic()
    try:
        env = dict(os.environ, ODC_BUILD=str(BUILD))
        p = subprocess.run([PY, str(TESTBED), "up", "--hosts", str(N_HOSTS), "--ha",
                            str(len(HA_NODES)), "--dir", str(d)],
                           capture_output=True, text=True, timeout=600, env=env)
        assert p.returncode == 0, f"testbed up failed ({p.returncode}):\n{p.stdout[-4000:]}\n" \
                                  f"{p.stderr[-4000:]}"
        _durations["(testbed up)"] = time.monotonic() - t0
        tb = Testbed(d)
        tb.wait_reporting(list(tb.hosts), NEW)
        for hid, h in tb.hosts.items():
            tb.initial[hid] = h.metadb_state()
            tb.initial[hid]["container"] = h.container_state()
        yield tb
    finally:
        t1 = time.monotonic()
        if keep:
            sys.stderr.write(f"\n[e2e] ODC_E2E_KEEP=1: testbed left up in {d}\n")
        else:
            down_once()
        _durations["(testbed down)"] = time.monotonic() - t1


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    t0 = time.monotonic()
    yield
    _durations[item.name] = time.monotonic() - t0


def pytest_runtest_logreport(report):
    if report.when == "call":
        _durations.setdefault("_outcome", {})[report.nodeid.split("::")[-1]] = \
            "xfailed" if hasattr(report, "wasxfail") else report.outcome


def pytest_terminal_summary(terminalreporter):
    outcomes = _durations.get("_outcome", {})
    tr = terminalreporter
    tr.write_sep("-", "e2e durations")
    total = 0.0
    for k, v in _durations.items():
        if k == "_outcome":
            continue
        total += v
        tr.write_line(f"{v:7.1f} s  {outcomes.get(k, ''):8} {k}")
    tr.write_line(f"{total:7.1f} s  total (testbed up + scenarios + down)")
