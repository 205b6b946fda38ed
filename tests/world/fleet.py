"""A fleet for integration tests of `odc-coordinator` and `odcctl`: the real coordinator
process, the real CLI, and real `odc-agent daemon`s, each on its own host of the test world
(conftest's odc_host factory: private dockerd + MariaDB metadb, ODC stand-in container).

    def test_x(fleet):                        # the pytest fixture below
        fleet.start()                         # keys, coordinator.conf, odcctl.conf, the daemon
        h1, h2 = fleet.add_agents([("h1", {"role": "web"}), ("h2", {"role": "db"})])
        rc, out, err = fleet.ctl("exec", "ping", "--label", "role=web")
        job = fleet.wait_job(fleet.submit("exec", "backup", "--all"), timeout=60)
        fleet.kill9(); fleet.start()          # kill -9 and restart the coordinator

Keys are made here with PyNaCl in the files odc's tools write (coordpeer.write_secret_key):
the coordinator's, the operator "alice"'s (trusted by the coordinator and every agent) and
one per agent (or given: make_agent(key=read_secret_key(PATH)) for a key `odcctl keygen`
made). Agents are enrolled through the real flow: `odcctl keys accept HOST @PUB` (add_agent
accepts before the daemon starts unless accept=False; then the refused key is listed as
pending, by its CURVE fingerprint, and the test accepts it itself).

Failure injection, with no mock of our own components: an agent's [loader] obdumper or
obloader may be a stand-in wrapper that fails (`fail_tool`; the world's obloader/obdumper
are stand-ins already), `step_delay_ms` sets ODC_AGENT_TEST_STEP_DELAY_MS (agent/plan.c) so
that steps are slow, `conf_over` changes any agent config key (a backup root, a trust list).

Hand-made peers (independent protocol implementation tests/py/odcproto.py):
  RawAgent       a DEALER to the agents' endpoint, plaintext or CURVE with any key
  ControlClient  a DEALER to the control socket: raw JOBs and REQUESTs
  Relay          a man in the middle built from keys the test owns, between one real agent
                 and the real coordinator: records and forwards everything, injects frames
  make_job       an operator-signed JOB (any signer, any operator name)

Everything started here is stopped in close() (the fixture calls it, also when the test
fails); the coordinator's and the agents' log tails are printed then, which pytest shows
with a failure only. ODC_WORLD_KEEP=1 keeps the fleet's temp dir.
"""

from __future__ import annotations

import hashlib
import json
import os
import pty
import queue
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import types
from concurrent.futures import ThreadPoolExecutor

import nacl.signing
import pytest
import zmq

from tests.world import agentcli, odcworld
from tests.world.coordpeer import (AgentDaemon, Job, curve_public, curve_secret, now_ms, odcproto,
                       pub_text, write_daemon_conf, write_secret_key)

BUILD = os.environ.get("ODC_BUILD", "build")


def _binary(name):
    return os.path.join(BUILD if os.path.isabs(BUILD) else os.path.join(odcworld.REPO_ROOT, BUILD),
                        name)


COORDINATOR = _binary("odc-coordinator")
ODCCTL = _binary("odcctl")
AGENT = agentcli.AGENT

OPERATOR = "alice"
FINAL_JOB_STATES = ("succeeded", "failed", "halted", "aborted")
FINAL_HOST_STATES = ("succeeded", "failed", "skipped", "unreachable")
JOB_ID_RE = re.compile(r"\b[a-z_]+-\d{8}T\d{6}Z-[0-9a-f]{6}\b")


# ---------------------------------------------------------------- keys

def public_bytes(key) -> bytes:
    vk = key.verify_key if isinstance(key, nacl.signing.SigningKey) else key
    return bytes(vk)


def fingerprint(key) -> str:
    """PROTOCOL.md 9.2: SHA256: + the first 16 bytes of SHA-256 of the public key, hex."""
    return "SHA256:" + hashlib.sha256(public_bytes(key)).hexdigest()[:32]


def curve_fingerprint(key) -> str:
    """PROTOCOL.md 9.2, pending keys: SHA256: + the first 16 bytes of SHA-256 of the X25519
    (CURVE) form of the key, hex -- what `odcctl keys` lists for a refused key."""
    return "SHA256:" + hashlib.sha256(curve_public(key)).hexdigest()[:32]


def read_secret_key(path) -> nacl.signing.SigningKey:
    """A SigningKey from odc's secret key file ('odc-ed25519-sec:' + seed || public, hex)."""
    with open(path) as f:
        text = f.read().strip()
    assert text.startswith("odc-ed25519-sec:"), text[:20]
    return nacl.signing.SigningKey(bytes.fromhex(text.split(":", 1)[1])[:32])


def write_public_key(path, key):
    """The public key file odc's keygen writes: 'odc-ed25519-pub:<64 hex>\\n'."""
    with open(path, "w") as f:
        f.write(pub_text(key) + "\n")
    return path


def write_key_pair(stem, key=None):
    """stem.key (0600) and stem.pub; returns (SigningKey, secret path, public path)."""
    key = key or nacl.signing.SigningKey.generate()
    write_secret_key(stem + ".key", key)
    write_public_key(stem + ".pub", key)
    return key, stem + ".key", stem + ".pub"


# ---------------------------------------------------------------- small helpers

def wait_for(predicate, timeout, what, interval=0.2):
    """Polls predicate() until it returns something truthy, which is returned. On timeout
    raises AssertionError naming what and the last value seen."""
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


def need_binary(path, grace=60.0):
    """Fails the test when path is not an executable; waits up to grace seconds first (a
    rebuild may be replacing it)."""
    deadline = time.monotonic() + grace
    while not os.access(path, os.X_OK):
        if time.monotonic() >= deadline:
            pytest.fail(f"{path} is not built")
        time.sleep(0.5)


def _tail(path, n):
    try:
        with open(path, errors="replace") as f:
            return f.read()[-n:]
    except FileNotFoundError:
        return "(no log)"


_CTL_GLOBALS_WITH_VALUE = ("-c", "--config", "-o", "--output", "--endpoint")


def with_yes(args):
    """odcctl's args with --yes added when they run a command that changes hosts (rollback,
    upgrade or prune but a dry run, undo, exec stop/start) and confirm nothing yet: the tests confirm the way a
    script does. The prompt and the refusal without a terminal are tested on their own
    (test_odcctl.py), with the args as given."""
    args = [str(a) for a in args]
    words, i = [], 0  # (position, word) of the words that are not options
    while i < len(args):
        if args[i] in _CTL_GLOBALS_WITH_VALUE:
            i += 2
            continue
        if not args[i].startswith("-"):
            words.append((i, args[i]))
        i += 1
    names = [w for _, w in words]
    change = (names[:1] in (["rollback"], ["undo"], ["prune"], ["upgrade"]) and
              "--dry-run" not in args) or \
        (names[:1] == ["exec"] and names[1:2] in (["stop"], ["start"]))
    if not change or "--yes" in args or "--help" in args:
        return args
    at = words[0][0] + 1  # right after the command: never taken as an option's value
    return args[:at] + ["--yes"] + args[at:]


def typed(argv, answer=None, timeout=30):
    """argv run as an operator types it: with answer, on a pseudo-terminal whose question is
    answered with it (and a newline); else with no terminal at all (stdin /dev/null). Returns
    the CompletedProcess (text)."""
    if answer is None:
        return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout)
    master, slave = pty.openpty()
    try:
        p = subprocess.Popen(argv, stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        os.write(master, answer.encode() + b"\n")
        out, err = p.communicate(timeout=timeout)
        return subprocess.CompletedProcess(argv, p.returncode, out, err)
    finally:
        os.close(master)
        os.close(slave)


class CtlResult:
    """One odcctl run: rc, out (parsed JSON when it parses, else stdout text), err (stderr),
    stdout (raw), cmd. Unpacks as (rc, out, err)."""

    def __init__(self, cmd, rc, stdout, stderr, json_out):
        self.cmd, self.rc, self.stdout, self.err = cmd, rc, stdout, stderr
        self.out = stdout
        if json_out and stdout.strip():
            try:
                self.out = json.loads(stdout)
            except ValueError:
                pass

    def __iter__(self):
        return iter((self.rc, self.out, self.err))

    def __repr__(self):
        return (f"<odcctl {' '.join(self.cmd[3:])}: exit {self.rc}; stdout {self.stdout[-3000:]!r}; "
                f"stderr {self.err[-2000:]!r}>")


def job_id_of(out):
    """The job id in what `exec/rollback/undo --detach` printed (a JSON summary, a JSON
    string, or plain text)."""
    if isinstance(out, dict) and isinstance(out.get("job_id"), str):
        return out["job_id"]
    if isinstance(out, dict) and isinstance(out.get("job"), str):
        return out["job"]
    m = JOB_ID_RE.search(out if isinstance(out, str) else json.dumps(out))
    return m.group(0) if m else None


# ---------------------------------------------------------------- an agent of the fleet

class Agent:
    """One real `odc-agent daemon` on its own world host. Attributes: host_id, host
    (odcworld.OdcHost), key (SigningKey), key_path, pub_path, fingerprint, conf, labels
    (dict), daemon (coordpeer.AgentDaemon; .env is the next life's environment), endpoint."""

    def __init__(self, fleet, host_id, host, key, conf, labels, env, endpoint, hide=None,
                 launch=None):
        self.fleet, self.host_id, self.host, self.key = fleet, host_id, host, key
        self.conf, self.labels, self.endpoint = conf, labels, endpoint
        self.key_path = os.path.join(os.path.dirname(conf), f"agent-{host_id}.key")
        self.pub_path = os.path.join(fleet.dir, f"agent-{host_id}.pub")
        write_public_key(self.pub_path, key)
        self.daemon = AgentDaemon(conf, env=env, hide=hide, launch=launch,
                                  log_path=os.path.join(fleet.dir, f"agent-{host_id}.log"))

    def __repr__(self):
        return f"Agent({self.host_id}, {self.host.name})"

    @property
    def fingerprint(self):
        return fingerprint(self.key)

    @property
    def curve_fingerprint(self):
        return curve_fingerprint(self.key)

    def start(self):
        self.daemon.start()
        return self

    def alive(self):
        return self.daemon.alive()

    def stop(self, timeout=10.0):
        """SIGTERM; returns the exit status."""
        return self.daemon.terminate(timeout)

    def kill9(self):
        return self.daemon.kill9()

    def restart(self):
        if self.daemon.alive():
            self.stop()
        return self.start()

    def set_key(self, key):
        """Writes a new agent key (secret file and .pub); takes effect at the next start."""
        self.key = key
        write_secret_key(self.key_path, key)
        write_public_key(self.pub_path, key)

    def log(self):
        return self.daemon.log()

    def journal(self, job_id):
        """The plans of job_id in the agent's journal (`odc-agent journal JOB -o json`, see
        agentcli.journal): [{phase, state, action, steps: [{step, status, message, ...}], ...}],
        one per recorded phase (empty: the agent never ran the job)."""
        return agentcli.journal(self.conf, job_id)["plans"]

    def journal_steps(self, job_id, phase=None):
        """[(phase, step, status)] of a job in the agent's journal."""
        return [(p["phase"], s["step"], s["status"]) for p in self.journal(job_id)
                for s in p["steps"] if phase is None or p["phase"] == phase]

    def ran(self, job_id):
        """True when the agent's journal holds a run phase of job_id."""
        return any(p["phase"] == "run" for p in self.journal(job_id))


# ---------------------------------------------------------------- the fleet

class Fleet:
    """The coordinator, its configuration, odcctl and the agents of one test.
    Attributes: dir, conf (coordinator.conf), ctl_conf (odcctl.conf), state_dir,
    control_socket, control_endpoint, agents_endpoint, port, coordinator_key,
    operator_key (alice), heartbeat_ms, lost_after, agents ({host_id: Agent}),
    backup_root (a backup root every agent has, for shared_backup), proc, lives."""

    def __init__(self, odc_host, heartbeat="1s", lost_after=3, ack_timeout="2s",
                 ctl_timeout="3s", coordinator_id="coord-test", log_level="debug"):
        self.odc_host = odc_host
        self.dir = tempfile.mkdtemp(prefix="odcf-")
        self.heartbeat, self.lost_after, self.ack_timeout = heartbeat, lost_after, ack_timeout
        self.heartbeat_ms = int(heartbeat.rstrip("s")) * 1000
        self.ctl_timeout = ctl_timeout
        self.coordinator_id, self.log_level = coordinator_id, log_level
        self.port = odcworld.free_port()
        self.agents_endpoint = f"tcp://127.0.0.1:{self.port}"
        self.state_dir = os.path.join(self.dir, "state")
        self.run_dir = os.path.join(self.dir, "run")
        os.makedirs(self.run_dir, mode=0o750)
        os.chmod(self.run_dir, 0o750)
        self.control_socket = os.path.join(self.run_dir, "control.sock")
        self.control_endpoint = f"ipc://{self.control_socket}"
        self.backup_root = os.path.join(self.dir, "backups")
        os.makedirs(self.backup_root)
        self.log_path = os.path.join(self.dir, "coordinator.log")
        self.coordinator_key, self.coordinator_key_path, self.coordinator_pub_path = \
            write_key_pair(os.path.join(self.dir, "coordinator"))
        self.operator_key, self.operator_key_path, self.operator_pub_path = \
            write_key_pair(os.path.join(self.dir, OPERATOR))
        self.conf = os.path.join(self.dir, "coordinator.conf")
        self.ctl_conf = os.path.join(self.dir, "odcctl.conf")
        self.write_conf()
        self.write_ctl_conf()
        self.agents = {}
        self.proc = None
        self.lives = 0
        self._closers = []
        self._closed = False
        # odcworld's exit hook stops what is left (a test run that was killed).
        self._leftover = types.SimpleNamespace(stop=self.close)
        odcworld._register(self._leftover)

    def __repr__(self):
        return f"Fleet({self.dir}, coordinator {self.agents_endpoint})"

    # -- configuration

    def write_conf(self, extra="", **over):
        """coordinator.conf; over: {"section.key": value} replaces or adds; extra: INI text
        appended as written (sections whose names hold dots, e.g. [webhook.NAME])."""
        vals = {
            "coordinator.id": self.coordinator_id,
            "coordinator.state_dir": self.state_dir,
            "coordinator.log_level": self.log_level,
            "keys.secret_key": self.coordinator_key_path,
            "agents.bind": self.agents_endpoint,
            "agents.heartbeat": self.heartbeat,
            "agents.lost_after": str(self.lost_after),
            "agents.ack_timeout": self.ack_timeout,
            "control.socket": self.control_socket,
            "trust.operators": f"{OPERATOR}={pub_text(self.operator_key)}",
        }
        vals.update(over)
        _write_ini(self.conf, vals, extra)
        return self.conf

    def write_ctl_conf(self, path=None, **over):
        vals = {
            "odcctl.endpoint": self.control_endpoint,
            "odcctl.operator": OPERATOR,
            "odcctl.key": self.operator_key_path,
            "odcctl.timeout": self.ctl_timeout,
        }
        vals.update(over)
        _write_ini(path or self.ctl_conf, vals)
        return path or self.ctl_conf

    # -- the coordinator process

    def start(self, wait=True, timeout=20.0, env=None, launch=None):
        """Starts `odc-coordinator -c conf run` (log appended to coordinator.log; env: extra
        environment variables; launch: another command that runs it in the foreground, a
        `docker run` of its image, say) and waits until `odcctl info` answers."""
        if launch:
            self.launch = list(launch)
        launch = getattr(self, "launch", None)
        argv = launch or [COORDINATOR, "-c", self.conf, "run"]
        if not launch:
            need_binary(COORDINATOR)
        if self.alive():
            raise RuntimeError("the coordinator runs already")
        self.lives += 1
        with open(self.log_path, "a") as log:
            log.write(f"==== life {self.lives}: {' '.join(map(str, argv))}\n")
            log.flush()
            self.proc = subprocess.Popen(argv, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True,
                                         env=dict(os.environ, **(env or {})))
        self.started_ms = now_ms()
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=20.0):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"odc-coordinator exited {self.proc.returncode} at start:\n"
                                     f"{self.log_tail()}")
            last = self.ctl("info", timeout=10)
            if last.rc == 0:
                return last.out
            time.sleep(0.1)
        raise AssertionError(f"odc-coordinator did not answer `odcctl info` within {timeout} s: "
                             f"{last!r}\n{self.log_tail()}")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=10.0):
        """SIGTERM; returns the exit status (kill -9 when it does not end in time)."""
        if not self.alive():
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            raise AssertionError(f"odc-coordinator ignored SIGTERM for {timeout} s")

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        return self.proc.wait(10)

    def restart(self, wait=True):
        self.stop()
        return self.start(wait)

    def log(self):
        return _tail(self.log_path, 10 ** 9)

    def log_tail(self, n=8000):
        return f"---- coordinator log ({self.log_path}), last {n} chars:\n{_tail(self.log_path, n)}"

    # -- odcctl

    def ctl(self, *args, timeout=60, json_out=True, conf=None, env=None, yes=True):
        """Runs `odcctl -c conf [-o json] ARGS` (a change confirmed with --yes unless yes is
        False: with_yes); returns a CtlResult (rc, out, err)."""
        need_binary(ODCCTL)
        cmd = [ODCCTL, "-c", conf or self.ctl_conf] + (["-o", "json"] if json_out else []) \
            + (with_yes(args) if yes else [str(a) for a in args])
        e = dict(os.environ, **(env or {}))
        try:
            # No terminal, as in CI also when pytest runs in one: a question is never asked.
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=e,
                               stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as ex:
            raise AssertionError(f"odcctl {' '.join(map(str, args))} did not end within "
                                 f"{timeout} s (stdout {ex.stdout!r}, stderr {ex.stderr!r})\n"
                                 f"{self.log_tail(4000)}")
        return CtlResult(cmd, p.returncode, p.stdout, p.stderr, json_out)

    def ctl_ok(self, *args, **kw):
        """ctl() that must exit 0; returns the parsed output."""
        r = self.ctl(*args, **kw)
        assert r.rc == 0, f"{r!r}\n{self.log_tail(4000)}"
        return r.out

    def info(self):
        return self.ctl_ok("info")

    def hosts(self, *selectors):
        """{host_id: host object} of `odcctl hosts [SELECTORS]`."""
        out = self.ctl_ok("hosts", *selectors)
        return {h["host"]: h for h in out["hosts"]}

    def keys(self):
        return self.ctl_ok("keys")

    def pending(self):
        """{curve_fingerprint: pending entry} of `odcctl keys`."""
        return {p["curve_fingerprint"]: p for p in self.keys()["pending"]}

    def accept(self, host_id, key_arg):
        """`odcctl keys accept HOST KEY` (KEY: @file.pub or the public key's text)."""
        return self.ctl_ok("keys", "accept", host_id, key_arg)

    def job(self, job_id, results=False):
        return self.ctl_ok("job", job_id, *(["--results"] if results else []))

    def jobs(self):
        return self.ctl_ok("jobs")["jobs"]

    def submit(self, *args):
        """Runs a job-submitting command (exec/rollback/undo ARGS) with --detach; returns
        the job id."""
        r = self.ctl(*args, "--detach")
        assert r.rc == 0, f"{r!r}\n{self.log_tail(4000)}"
        job_id = job_id_of(r.out)
        assert job_id, f"no job id in the output of {r!r}"
        return job_id

    def wait_job(self, job_id, timeout, states=FINAL_JOB_STATES, results=True):
        """Polls `odcctl job ID` until its state is in states; returns that body."""
        return wait_for(lambda: (lambda j: j if j["state"] in states else None)(
            self.job(job_id, results)), timeout, f"job {job_id} in state {states}")

    def job_host(self, job_id, host_id, results=False):
        return job_hosts(self.job(job_id, results))[host_id]

    def wait_job_host(self, job_id, host_id, states, timeout):
        def check():
            h = self.job_host(job_id, host_id)
            return h if h["state"] in states else None
        return wait_for(check, timeout, f"{host_id} in job {job_id} in state {states}")

    def wait_hosts(self, predicate, timeout, what):
        """Polls `odcctl hosts` until predicate(hosts dict) is truthy; returns the dict."""
        return wait_for(lambda: (lambda hs: hs if predicate(hs) else None)(self.hosts()),
                        timeout, what)

    def wait_online(self, *host_ids, timeout=20.0, beat=False):
        """Waits until every host is online (beat: and has sent a heartbeat, odc known)."""
        def ok(hs):
            return all(h in hs and hs[h]["status"] == "online"
                       and (not beat or hs[h].get("odc") is not None) for h in host_ids)
        return self.wait_hosts(ok, timeout, f"{host_ids} online")

    # -- agents

    def fail_tool(self, name, when=None, message="injected failure"):
        """A stand-in wrapper for obdumper/obloader that exits 1 after printing message;
        when given (a regex on its argv), it fails only for matching runs and otherwise
        execs the world's stand-in. Returns its path."""
        real = odcworld.OBDUMPER if name == "obdumper" else odcworld.OBLOADER
        path = os.path.join(self.dir, "bin", f"{name}-fail-{secrets.token_hex(3)}")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        # Its log goes where the real tool's would: --log-path, else logs/ next to -f.
        find_log = ('logdir=; f=.; prev=\nfor a in "$@"; do\n'
                    '  [ "$prev" = --log-path ] && logdir=$a; [ "$prev" = -f ] && f=$a; prev=$a\n'
                    'done\nlogdir=${logdir:-$f/logs}\nmkdir -p "$logdir" 2>/dev/null\n')
        fail = (f'echo "{name}: {message}" >&2\n'
                f'echo "{message}" >> "$logdir/ob-loader-dumper.error" 2>/dev/null\nexit 1\n')
        if when is None:
            body = "#!/bin/sh\n" + find_log + fail
        else:
            body = ("#!/bin/sh\n" + find_log +
                    f"if printf '%s ' \"$@\" | grep -Eq '{when}'; then\n{fail}fi\n"
                    f'exec "{real}" "$@"\n')
        with open(path, "w") as f:
            f.write(body)
        os.chmod(path, 0o755)
        return path

    def make_agent(self, host_id, labels=None, host=None, host_kw=None, key=None, env=None,
                   step_delay_ms=None, obdumper=None, obloader=None, endpoint=None,
                   conf_over=None, hide=None, launch=None):
        """A world host (odc_host(**host_kw) unless host is given) and an agent config for
        it, not started. obdumper/obloader: a path, or "fail" (fail_tool). hide:
        directories missing on this agent's host, launch: the daemon's command line in its
        place (both: coordpeer.AgentDaemon)."""
        host = host or self.odc_host(**(host_kw or {"start_delay_ms": 200}))
        labels = dict(labels or {})
        key = key or nacl.signing.SigningKey.generate()
        over = {
            "coordinator.reconnect_max": "1s",
            "coordinator.ping": "2s",
            "paths.backup_roots": f"{host.dir}, {self.backup_root}",
            "agent.log_level": "debug",
        }
        if obdumper:
            over["loader.obdumper"] = self.fail_tool("obdumper") if obdumper == "fail" else obdumper
        if obloader:
            over["loader.obloader"] = self.fail_tool("obloader") if obloader == "fail" else obloader
        over.update(conf_over or {})
        ep = endpoint or self.agents_endpoint
        peer = types.SimpleNamespace(operator_key=self.operator_key,
                                     coordinator_key=self.coordinator_key, endpoint=ep)
        conf = write_daemon_conf(host, os.path.join(host.dir, "agent.conf"), peer, key,
                                 host_id=host_id,
                                 labels=", ".join(f"{k}={v}" for k, v in labels.items()),
                                 **over)
        env = dict(env or {})
        if step_delay_ms:
            env["ODC_AGENT_TEST_STEP_DELAY_MS"] = str(step_delay_ms)
        agent = Agent(self, host_id, host, key, conf, labels, env, ep, hide=hide, launch=launch)
        self.agents[host_id] = agent
        return agent

    def add_agents(self, specs, accept=True, start=True, wait=True, beat=False, timeout=30.0,
                   **common):
        """Several agents: specs is a list of host ids, (host_id, labels) pairs or dicts of
        make_agent's arguments (with host_id). The world hosts are prepared in parallel.
        accept: `odcctl keys accept HOST @PUB` before the daemons start. wait: until every
        one is online in `odcctl hosts` (beat: and has sent a heartbeat)."""
        norm = []
        for s in specs:
            if isinstance(s, str):
                s = {"host_id": s}
            elif isinstance(s, (tuple, list)):
                s = {"host_id": s[0], "labels": s[1] if len(s) > 1 else None}
            norm.append(dict(common, **s))
        with ThreadPoolExecutor(max_workers=4) as ex:
            agents = list(ex.map(lambda kw: self.make_agent(**kw), norm))
        if accept:
            for a in agents:
                self.accept(a.host_id, "@" + a.pub_path)
        if start:
            for a in agents:
                a.start()
        if start and accept and wait:
            self.wait_online(*[a.host_id for a in agents], timeout=timeout, beat=beat)
        return agents

    def add_agent(self, host_id, labels=None, accept=True, start=True, wait=True, beat=False,
                  **kw):
        return self.add_agents([dict(kw, host_id=host_id, labels=labels)], accept=accept,
                               start=start, wait=wait, beat=beat)[0]

    def shared_backup(self, agents, name="odcmetadb_backup"):
        """One backup directory, under a root every agent has, holding each agent's
        pre-upgrade backup (data/<its db>/...; data/MANIFEST.bin and data/CHECKPOINT.bin of
        the first): a fleet rollback names one --backup path for every host."""
        out = os.path.join(self.backup_root, name)
        first = os.path.join(agents[0].host.backup_dir, "data")
        os.makedirs(os.path.join(out, "data"))
        for f in os.listdir(first):
            if os.path.isfile(os.path.join(first, f)):
                shutil.copy2(os.path.join(first, f), os.path.join(out, "data"))
        for a in agents:
            shutil.copytree(os.path.join(a.host.backup_dir, "data", a.host.db),
                            os.path.join(out, "data", a.host.db))
        return out

    # -- hand-made peers, closed with the fleet

    def raw_agent(self, key=None, endpoint=None, curve=True):
        """A RawAgent to the agents' endpoint: CURVE with key (a new one when None), or
        plaintext when curve is False."""
        c = RawAgent(endpoint or self.agents_endpoint,
                     self.coordinator_key if curve else None,
                     (key or nacl.signing.SigningKey.generate()) if curve else None)
        self._closers.append(c.close)
        return c

    def control_client(self, endpoint=None, key=None):
        """A ControlClient on the ipc socket, or on endpoint (tcp) with CURVE and key."""
        c = ControlClient(endpoint or self.control_endpoint, self.coordinator_key, key)
        self._closers.append(c.close)
        return c

    def relay(self, agent_key, start=True):
        """A Relay for agent_key to this coordinator. Start it only once the key is
        accepted: a plain DEALER refused by ZAP does not try again (libzmq ends the session
        on the handshake's error), unlike odc-agent, which reconnects by itself."""
        r = Relay(self.coordinator_key, agent_key, self.agents_endpoint)
        if start:
            r.start()
        self._closers.append(r.close)
        return r

    # -- teardown

    def close(self):
        if self._closed:
            return
        self._closed = True
        errors = []
        for c in reversed(self._closers):
            try:
                c()
            except Exception as e:  # close the rest anyway
                errors.append(repr(e))
        for a in self.agents.values():
            a.daemon.kill()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                errors.append("odc-coordinator did not die")
        # Shown by pytest with a failure only (captured output).
        print(self.log_tail(12000))
        for a in self.agents.values():
            print(f"---- agent {a.host_id} log ({a.daemon.log_path}), last 3000 chars:\n"
                  f"{a.log()[-3000:]}")
        odcworld._unregister(self._leftover)
        if not odcworld.KEEP:
            shutil.rmtree(self.dir, ignore_errors=True)
        if errors:
            raise RuntimeError("fleet cleanup: " + "; ".join(errors))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _write_ini(path, vals, extra=""):
    sections = {}
    for k, v in vals.items():
        s, key = k.split(".", 1)
        sections.setdefault(s, []).append(f"{key} = {v}")
    with open(path, "w") as f:
        for s, lines in sections.items():
            f.write(f"[{s}]\n" + "\n".join(lines) + "\n\n")
        f.write(extra)


def job_hosts(job):
    """{host_id: job host object} of a `job` body."""
    return {h["host"]: h for h in job["hosts"]}


def job_results(job):
    """{host_id: [result object]} of a `job --results` body (or of the final body that
    exec/rollback/watch print): PROTOCOL.md 9.2 puts the results in one flat top-level
    `results` list whose entries name their `host` (REPLY bodies nest at most 6 deep)."""
    out = {h["host"]: [] for h in job["hosts"]}
    for r in job.get("results") or []:
        out.setdefault(r["host"], []).append(r)
    return out


# ---------------------------------------------------------------- jobs signed by hand

def make_job(signer, targets, action="ping", params=None, policy=None, operator=OPERATOR,
             job_id=None, created_ms=None, expires_ms=None, reason="fleet integration test"):
    """An operator-signed JOB (coordpeer.Job: body, sig, frames, tampered(),
    with_target_list()); the body commits to `targets` by count and Merkle root, the list
    itself is the JOB's frame 3."""
    created = now_ms() if created_ms is None else created_ms
    fields = {
        "job_id": job_id or f"{action.replace('_', '-')}-t-{secrets.token_hex(4)}",
        "action": action,
        "params": dict(params or {}),
        "targets": list(targets),
        "policy": policy or {"canary": 0, "batch": 100, "batch_pct": True, "budget": 100,
                             "budget_pct": True, "quorum_pct": 0, "step_deadline_s": 300,
                             "job_deadline_s": 1800},
        "created_ms": created,
        "expires_ms": created + 1800_000 if expires_ms is None else expires_ms,
        "operator": operator,
        "reason": reason,
    }
    body = odcproto.encode_body("JOB", fields)
    return Job(fields, body, odcproto.sign("JOB", body, signer))


def verify_result_evidence(result, agent_key):
    """A stored result's body_hex/sig_hex verify (PROTOCOL.md section 2) with agent_key's
    public key, and the body decodes to the stored fields. Returns the decoded body."""
    body, sig = bytes.fromhex(result["body_hex"]), bytes.fromhex(result["sig_hex"])
    assert sig[:32] == public_bytes(agent_key), "the result is signed by another key"
    assert odcproto.verify("RESULT", body, sig), "the stored signature does not verify"
    dec = odcproto.decode_body("RESULT", body)
    for k in ("step", "status", "exit_code", "started_ms", "duration_ms", "final"):
        assert dec[k] == result[k], (k, dec[k], result[k])
    return dec


# ---------------------------------------------------------------- hand-made peers

class RawAgent:
    """A DEALER to an agents' endpoint, driven from the test thread: CURVE with key (a
    SigningKey; the server key is server_key's X25519 form) or plaintext (key None)."""

    def __init__(self, endpoint, server_key=None, key=None):
        self.key = key
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.linger = 0
        if key is not None:
            self.sock.curve_serverkey = curve_public(server_key)
            self.sock.curve_publickey = curve_public(key)
            self.sock.curve_secretkey = curve_secret(key)
        self.sock.connect(endpoint)
        self.incarnation = secrets.token_bytes(16)
        self.seq = 0
        self.received = []

    def send(self, frames):
        self.sock.send_multipart([bytes(f) for f in frames], flags=zmq.NOBLOCK)

    def hello(self, host_id, labels=None):
        try:
            self.send(odcproto.encode("HELLO", {
                "host_id": host_id, "agent_version": "raw-0.1", "incarnation": self.incarnation,
                "labels": labels or {}, "capabilities": ["ping"], "sent_ms": now_ms()}))
        except zmq.Again:  # no connection to queue on (a refused handshake): dropped
            pass

    def heartbeat(self, host_id, odc=None, metadb=None):
        try:
            self.send(odcproto.encode("HEARTBEAT", {
                "host_id": host_id, "incarnation": self.incarnation, "seq": self.seq,
                "sent_ms": now_ms(), "odc": odc, "job": None, "disks": [], "metadb": metadb}))
        except zmq.Again:
            pass
        self.seq += 1

    def recv(self, timeout):
        """The next message's frames, or None after timeout seconds."""
        if self.sock.poll(int(timeout * 1000)):
            frames = self.sock.recv_multipart()
            self.received.append(frames)
            return frames
        return None

    def wait_type(self, type_name, timeout):
        """The next message of that type (decoded generically), or None."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            frames = self.recv(left)
            if frames is None:
                return None
            if odcproto.TYPE_NAMES.get(frames[0][3]) == type_name:
                return odcproto.receive(frames)

    def close(self):
        self.sock.close(0)
        self.ctx.term()


class ControlClient:
    """A DEALER to the control socket, speaking REQUEST/JOB and reading REPLYs with the
    independent implementation (receiver `cli`)."""

    def __init__(self, endpoint, server_key=None, key=None):
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.linger = 0
        if key is not None:  # a remote operator: CURVE with the operator's key
            self.sock.curve_serverkey = curve_public(server_key)
            self.sock.curve_publickey = curve_public(key)
            self.sock.curve_secretkey = curve_secret(key)
        self.sock.connect(endpoint)

    def exchange(self, frames, timeout=10.0):
        self.sock.send_multipart([bytes(f) for f in frames])
        if not self.sock.poll(int(timeout * 1000)):
            raise AssertionError(f"no REPLY on the control socket within {timeout} s")
        return odcproto.receive(self.sock.recv_multipart(), {"receiver": "cli"})

    def submit(self, job, timeout=10.0):
        """Sends the JOB's 4 frames (header, body, signature, target list); returns the
        decoded REPLY (code_name added)."""
        return self._named(self.exchange(job.frames, timeout))

    def request(self, command, args=None, request_id=7, timeout=10.0):
        return self._named(self.exchange(odcproto.encode("REQUEST", {
            "request_id": request_id, "command": command, "args": dict(args or {})}), timeout))

    @staticmethod
    def _named(reply):
        reply["code_name"] = odcproto.ERROR_NAMES.get(reply["code"], str(reply["code"]))
        return reply

    def close(self):
        self.sock.close(0)
        self.ctx.term()


class Relay:
    """A man in the middle between one real agent and the real coordinator, made of keys
    the test owns (which is what it takes to see inside CURVE): downstream a CURVE ROUTER
    with the coordinator's key (the agent's coordinator.endpoint points at `endpoint`),
    upstream a CURVE DEALER with the agent's key to the coordinator. Everything is forwarded
    both ways and recorded as (t, direction "up"/"down"/"inject", type name, frames);
    inject() sends frames to the agent, and the agent's ACK/NACK naming an injected nonce
    is recorded but not forwarded."""

    def __init__(self, coordinator_key, agent_key, upstream):
        self.coordinator_key, self.agent_key, self.upstream = coordinator_key, agent_key, upstream
        self.port = odcworld.free_port()
        self.endpoint = f"tcp://127.0.0.1:{self.port}"
        self.records = []
        self.injected = set()
        self.cond = threading.Condition()
        self._out = queue.Queue()
        self._stop = threading.Event()
        self._thread = None
        self.rid = None

    def start(self):
        self.ctx = zmq.Context()
        down = self.ctx.socket(zmq.ROUTER)
        down.linger = 0
        down.curve_server = True
        down.curve_secretkey = curve_secret(self.coordinator_key)
        down.curve_publickey = curve_public(self.coordinator_key)
        down.bind(self.endpoint)
        up = self.ctx.socket(zmq.DEALER)
        up.linger = 0
        up.curve_serverkey = curve_public(self.coordinator_key)
        up.curve_publickey = curve_public(self.agent_key)
        up.curve_secretkey = curve_secret(self.agent_key)
        up.connect(self.upstream)
        self.down, self.up = down, up
        self._thread = threading.Thread(target=self._loop, name=f"relay-{self.port}", daemon=True)
        self._thread.start()
        return self

    def _record(self, direction, frames):
        t = odcproto.TYPE_NAMES.get(frames[0][3]) if frames and len(frames[0]) == 4 else None
        with self.cond:
            self.records.append((time.monotonic(), direction, t, frames))
            self.cond.notify_all()
        return t

    def _loop(self):
        poller = zmq.Poller()
        poller.register(self.down, zmq.POLLIN)
        poller.register(self.up, zmq.POLLIN)
        try:
            while not self._stop.is_set():
                for sock, _ in poller.poll(20):
                    if sock is self.down:
                        rid, *frames = self.down.recv_multipart()
                        self.rid = rid
                        t = self._record("up", frames)
                        if t in ("ACK", "NACK") and self._nonce(frames) in self.injected:
                            continue
                        self.up.send_multipart(frames)
                    else:
                        frames = self.up.recv_multipart()
                        self._record("down", frames)
                        if self.rid is not None:
                            try:
                                self.down.send_multipart([self.rid] + frames)
                            except zmq.ZMQError:
                                pass
                while True:
                    try:
                        frames = self._out.get_nowait()
                    except queue.Empty:
                        break
                    self._record("inject", frames)
                    if self.rid is not None:
                        self.down.send_multipart([self.rid] + frames)
        finally:
            self.down.close(0)
            self.up.close(0)

    @staticmethod
    def _nonce(frames):
        try:
            m = odcproto.receive(frames)
        except odcproto.ProtoError:
            return None
        return bytes.fromhex(m["nonce"]) if m.get("nonce") else None

    def inject(self, frames):
        """Sends frames to the agent (a DISPATCH's answer is then kept from the coordinator)."""
        try:
            d = odcproto.receive(frames)
            if d.get("nonce"):
                self.injected.add(bytes.fromhex(d["nonce"]))
        except odcproto.ProtoError:
            pass
        self._out.put([bytes(f) for f in frames])

    def dispatches(self, job_id=None):
        """The DISPATCHes the coordinator sent through the relay: [(frames, decoded)]."""
        out = []
        with self.cond:
            recs = list(self.records)
        for _, direction, t, frames in recs:
            if direction == "down" and t == "DISPATCH":
                d = odcproto.receive(frames)
                if job_id is None or d["job"]["job_id"] == job_id:
                    out.append((frames, d))
        return out

    def answer(self, nonce_hex, timeout=10.0, since=0):
        """The agent's ACK or NACK (ref DISPATCH) naming nonce_hex: decoded, with 'type'."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for _, direction, t, frames in self.records[since:]:
                    if direction == "up" and t in ("ACK", "NACK"):
                        m = odcproto.receive(frames)
                        if m["ref_type"] == odcproto.DISPATCH and m["nonce"] == nonce_hex:
                            return dict(m, type=t)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no ACK/NACK naming {nonce_hex} within {timeout} s")
                self.cond.wait(min(left, 0.2))

    def mark(self):
        with self.cond:
            return len(self.records)

    def close(self):
        if self._thread is not None:
            self._stop.set()
            self._thread.join(10)
            self._thread = None
            self.ctx.term()


# ---------------------------------------------------------------- the fixture

@pytest.fixture
def fleet(odc_host):
    """A Fleet (not started: call fleet.start()); closed after the test, also on failure."""
    f = Fleet(odc_host)
    try:
        yield f
    finally:
        f.close()
