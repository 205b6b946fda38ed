"""odcctl end to end. Without a coordinator: help, usage errors and their exit codes, keygen,
configuration errors, an unreachable coordinator. With the real `odc-coordinator` (a fixture
of this file: its own keys, coordinator.conf and control socket in a temp dir) and real
`odc-agent daemon`s (enrolled through `odcctl keys accept HOST @agent.pub`): the REQUESTs
odcctl sends as the coordinator records them (audit), the JOBs it signs as the coordinator
accepted them (`job ID` policy, targets), the exit codes of the coordinator's refusals and of
following a job, its tables and JSON, undo's targets, and the CURVE tcp control endpoint.

The agents run without Docker or a metadb (the docker socket does not exist): `ping` works,
`status` reports what it cannot reach, `rollback`'s preflight fails. Only the test that needs
a rollback whose run phase was dispatched uses an ODC host of the integration world
(conftest's odc_host: private dockerd, MariaDB metadb, ODC stand-in).
ODC_AGENT_TEST_STEP_DELAY_MS (agent/plan.c) makes an agent's steps slow where a job must
still be running. Every process started here is killed at teardown, also when a test fails
(the daemons' log tails are printed then); temp dirs are removed."""

import json
import os
import re
import select
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import nacl.signing
import pytest

from tests.world import odcworld
from tests.world.fleet import fleet, job_results, typed, with_yes  # noqa: F401

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BUILD = os.environ.get("ODC_BUILD", "build")
BUILD_DIR = BUILD if os.path.isabs(BUILD) else os.path.join(ROOT, BUILD)
ODCCTL = os.path.join(BUILD_DIR, "odcctl")
COORDINATOR = os.path.join(BUILD_DIR, "odc-coordinator")
AGENT = os.path.join(BUILD_DIR, "odc-agent")

COMMANDS = ["keygen", "info", "hosts", "keys", "exec", "rollback", "undo", "jobs", "job",
            "watch", "pause", "resume", "abort", "audit", "prune"]
PUB = "odc-ed25519-pub:"
JOB_ID = r"[a-z_]+-\d{8}T\d{6}Z-[0-9a-f]{6}"
CLOCK = r"\d\d:\d\d:\d\d"
LIGHT = {"canary": 0, "batch": 100, "batch_pct": True, "budget": 100, "budget_pct": True,
         "quorum_pct": 0, "step_deadline_s": 300, "job_deadline_s": 1800}
CAREFUL = {"canary": 1, "batch": 1, "batch_pct": False, "budget": 0, "budget_pct": False,
           "quorum_pct": 100, "step_deadline_s": 7200, "job_deadline_s": 86400}


@pytest.fixture
def tmp_path():
    """A temp dir of this test, removed afterwards (pytest's own would be kept)."""
    d = tempfile.mkdtemp(prefix="odcctl-t-")
    try:
        yield Path(d)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def run(*args, conf=None, env=None, timeout=30, cwd=None, yes=True):
    """odcctl ARGS (a change confirmed with --yes unless yes is False: fleet.with_yes)."""
    e = {k: v for k, v in os.environ.items() if k != "ODCCTL_CONF"}
    e.update(env or {})
    argv = [ODCCTL] + (["-c", conf] if conf else []) + (with_yes(args) if yes else [str(a) for a in args])
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=e, cwd=cwd)


def write_conf(path, **keys):
    with open(path, "w") as f:
        f.write("[odcctl]\n")
        for k, v in keys.items():
            f.write(f"{k} = {v}\n")
    return str(path)


def keygen(tmp_path, name="alice", kind=None):
    p = run("keygen", *(["--kind", kind] if kind else []), tmp_path / name)
    assert p.returncode == 0, p.stderr
    text = open(tmp_path / f"{name}.pub").read().strip()
    return tmp_path / f"{name}.key", bytes.fromhex(text[len(PUB):])


def secret_key(path):
    hexs = open(path).read().strip().split(":", 1)[1]
    return nacl.signing.SigningKey(bytes.fromhex(hexs)[:32])


@pytest.fixture
def offline(tmp_path):
    """A configuration whose coordinator does not exist (timeout 300ms): a command that
    exits 2 with it never needed the coordinator."""
    key, _ = keygen(tmp_path)
    return write_conf(tmp_path / "off.conf", endpoint=f"ipc://{tmp_path}/none.sock",
                      operator="alice", key=key, timeout="300ms")


# ---------------------------------------------------------------- help and usage


def test_help_lists_every_command_and_each_has_help():
    p = run("--help")
    assert p.returncode == 0
    for c in COMMANDS:
        assert re.search(rf"^  {c} ", p.stdout, re.M), c
    for c in COMMANDS:
        p = run(c, "--help")
        assert p.returncode == 0, (c, p.stderr)
        assert p.stdout.startswith(f"usage: odcctl {c}"), c
        p = run(c, "-h")
        assert p.returncode == 0 and p.stdout.startswith(f"usage: odcctl {c}")
    assert run("--version").stdout.startswith("odcctl ")
    p = run()
    assert p.returncode == 2 and "usage:" in p.stderr
    p = run("frobnicate")
    assert p.returncode == 2 and "unknown command 'frobnicate'" in p.stderr


def test_help_needs_no_configuration(tmp_path):
    p = run("hosts", "--help", conf=tmp_path / "missing.conf")
    assert p.returncode == 0, p.stderr
    # The same help as without -c, and not a word about the missing file.
    assert p.stdout.startswith("usage: odcctl hosts ") and p.stderr == "", p
    assert p.stdout == run("hosts", "--help").stdout


USAGE = [
    (["exec", "ping"], "which hosts?"),
    (["exec", "--all"], "missing ACTION"),
    (["exec", "pong", "--all"], "unknown action 'pong'"),
    (["exec", "rollback", "--all"], "odcctl rollback"),
    (["exec", "prune", "--all"], "odcctl prune"),
    (["exec", "upgrade", "--all", "--to", "4.3.0"], "upgrade has its own command: odcctl upgrade"),
    (["upgrade", "--all"], "give --to TAG"),
    (["upgrade", "--to", "4.3.0"], "which hosts?"),
    (["upgrade", "--all", "--to", "bad tag"], "--to:"),
    (["upgrade", "--all", "--to", "4.3.0", "--backup", "/b"], "unknown option '--backup'"),
    (["rollback", "--of", "j1", "--to", "4.2.0"],
     "--of j1 takes no --to: the upgrade job knows its dump and the containers it kept"),
    (["rollback", "--of", "j1", "--backup", "/b"], "--of j1 takes no --backup"),
    (["rollback", "--of", "j1", "--all", "--whole-deployments"], "--of takes no --whole-deployments"),
    (["rollback", "--of", "bad id"], "--of bad id: not a job id"),
    (["prune"], "which hosts? give --host ID"),
    (["prune", "--all", "--dry-run=yes"], "'--dry-run=yes' takes no value"),
    (["prune", "--host", "a b"], "--host 'a b': not a host id"),
    (["exec", "ping", "--all", "--to", "4.2.0"], "--to: action ping takes no parameter 'to'"),
    (["exec", "preflight", "--all", "--to", "4.2.0"], "give --backup DIR"),
    (["exec", "logs", "--all", "--lines", "0"], "--lines:"),
    (["exec", "logs", "--all", "--lines", "10001"], "--lines:"),
    (["exec", "backup", "--all", "--name", ".hidden"], "--name:"),
    (["exec", "start", "--all", "--to", "bad tag"], "--to:"),
    (["exec", "ping", "--host", "bad host"], "--host 'bad host'"),
    (["exec", "ping", "--label", "novalue"], "--label 'novalue'"),
    (["exec", "ping", "--all", "--canary", "-1"], "--canary -1"),
    (["exec", "ping", "--all", "--batch", "0"], "--batch 0"),
    (["exec", "ping", "--all", "--batch", "101%"], "--batch 101%"),
    (["exec", "ping", "--all", "--budget", "x"], "--budget x"),
    (["exec", "ping", "--all", "--quorum", "101"], "--quorum 101"),
    (["exec", "ping", "--all", "--step-deadline", "0"], "--step-deadline 0"),
    (["exec", "ping", "--all", "--step-deadline", "2d"], "--step-deadline 2d"),
    (["exec", "ping", "--all", "--job-deadline", "8d"], "--job-deadline 8d"),
    (["exec", "ping", "--all", "--job-deadline", "5x"], "--job-deadline 5x"),
    # The configuration files' duration grammar; ms are rounded up to whole seconds.
    (["exec", "ping", "--all", "--step-deadline", "0ms"], "--step-deadline 0ms"),
    (["exec", "ping", "--all", "--step-deadline", "1.5s"], "--step-deadline 1.5s"),
    (["exec", "ping", "--all", "--job-deadline", "604800001ms"], "--job-deadline 604800001ms"),
    (["exec", "ping", "--all", "--reason", "r" * 257], "--reason"),
    (["rollback", "--all", "--to", "4.2.0"], "give --backup DIR"),
    (["rollback", "--all", "--backup", "/b"], "give --to TAG"),
    (["rollback", "--all", "--to", "4.2.0", "--backup", "relative"], "--backup:"),
    (["rollback", "--all", "--to", "4.2.0", "--backup", "/a/../b"], "--backup:"),
    (["rollback", "--all", "--to"], "option '--to' needs a value"),
    (["rollback", "--all", "--dry-run=yes"], "'--dry-run=yes' takes no value"),
    (["rollback", "--frob"], "unknown option '--frob'"),
    (["rollback", "extra"], "unexpected argument 'extra'"),
    (["undo", "--all"], "give --of JOB"),
    (["undo", "--of", "-bad"], "--of -bad"),
    (["job"], "missing the job ID"),
    (["job", "a", "b"], "unexpected argument 'b'"),
    (["job", "bad id"], "ID 'bad id'"),
    (["watch", "bad/id"], "ID 'bad/id'"),
    (["pause"], "missing the job ID"),
    (["jobs", "--state", "done"], "--state done"),
    (["jobs", "--limit", "0"], "--limit 0"),
    (["jobs", "--limit", "1001"], "--limit 1001"),
    (["audit", "--limit", "10001"], "--limit 10001"),
    (["audit", "--job", "x y"], "--job x y"),
    (["keys", "frob"], "unknown keys command 'frob'"),
    (["keys", "accept", "h1"], "missing HOST and KEY"),
    (["keys", "accept", "h1", "xyz"], "KEY 'xyz'"),
    (["keys", "accept", "h1", "@/nonexistent.pub"], "KEY @/nonexistent.pub"),
    (["keys", "accept", "h1", PUB + "00"], "KEY " + PUB),
    (["keys", "accept", "h1", "SHA256:abcdef12"], "KEY 'SHA256:abcdef12': expected a public key"),
    (["keys", "accept", "bad host", "abcdef12"], "HOST 'bad host'"),
    (["keys", "revoke"], "missing HOST"),
    (["hosts", "--host", "-x"], "--host '-x'"),
    (["-o", "yaml", "hosts"], "-o yaml: expected table or json"),
    (["hosts", "-o", "yaml"], "-o yaml: expected table or json"),
    (["--endpoint", "http://x", "hosts"], "--endpoint http://x"),
    (["keygen"], "missing PATH"),
    (["keygen", "--kind", "robot", "x"], "--kind robot"),
]


@pytest.mark.parametrize("args,expect", USAGE, ids=[" ".join(a)[:60] for a, _ in USAGE])
def test_usage_errors_exit_2_locally(offline, args, expect):
    p = run(*args, conf=offline)
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert expect in p.stderr, p.stderr
    assert p.stderr.startswith("odcctl: ")
    assert "--help'" in p.stderr
    assert p.stdout == ""


# ---------------------------------------------------------------- keygen


def test_keygen_files_modes_output_and_refusal(tmp_path):
    p = run("keygen", tmp_path / "op")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert re.fullmatch(PUB + "[0-9a-f]{64}", lines[0])
    assert re.fullmatch("SHA256:[0-9a-f]{32}", lines[1])
    sec, pub = tmp_path / "op.key", tmp_path / "op.pub"
    assert stat.S_IMODE(os.stat(sec).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(pub).st_mode) == 0o644
    assert open(pub).read().strip() == lines[0]
    sk = secret_key(sec)
    assert PUB + bytes(sk.verify_key).hex() == lines[0]
    before = open(sec).read()
    p = run("keygen", tmp_path / "op")
    assert p.returncode == 2 and p.stdout == "", p
    assert p.stderr == f"odcctl: keygen: {sec}: already exists; refusing to overwrite\n", p.stderr
    assert open(sec).read() == before
    p = run("keygen", tmp_path / "op.key")
    assert p.returncode == 2 and p.stdout == "", p
    assert p.stderr.startswith(f"odcctl: keygen: PATH '{sec}': give it without .key or .pub "), \
        p.stderr
    assert not os.path.exists(f"{sec}.key") and not os.path.exists(f"{sec}.pub")


def test_keygen_kinds_and_json(tmp_path):
    p = run("keygen", "--kind", "agent", tmp_path / "h1")
    assert p.returncode == 0 and f"odcctl keys accept HOST @{tmp_path}/h1.pub" in p.stdout
    p = run("keygen", "--kind", "coordinator", tmp_path / "coord")
    assert p.returncode == 0 and "secret_key" in p.stdout
    p = run("-o", "json", "keygen", tmp_path / "j")
    doc = json.loads(p.stdout)
    assert doc["kind"] == "operator" and doc["public_key"].startswith(PUB)
    assert doc["secret_key_file"] == f"{tmp_path}/j.key"


def test_keygen_needs_no_configuration(tmp_path):
    p = run("keygen", tmp_path / "k", conf=tmp_path / "missing.conf")
    assert p.returncode == 0, p.stderr
    # The key pair is written and printed as without -c; the missing file is not mentioned.
    assert p.stderr == "", p.stderr
    lines = p.stdout.splitlines()
    assert re.fullmatch(PUB + "[0-9a-f]{64}", lines[0]), p.stdout
    assert open(tmp_path / "k.pub").read().strip() == lines[0]
    assert PUB + bytes(secret_key(tmp_path / "k.key").verify_key).hex() == lines[0]


# ---------------------------------------------------------------- configuration


CONF_ERRORS = [
    ("bogus = 1\n", ":2: odcctl.bogus: unknown key"),
    ("timeout = soon\n", ":2: odcctl.timeout:"),
    ("timeout = 50ms\n", ":2: odcctl.timeout:"),
    ("endpoint = http://x\n", ":2: odcctl.endpoint:"),
    ("operator = al ice\n", ":2: odcctl.operator:"),
    ("key = relative.key\n", ":2: odcctl.key:"),
    ("coordinator_key = 1234\n", ":2: odcctl.coordinator_key:"),
    ("endpoint = ipc:///a\nendpoint = ipc:///b\n", ":3:"),
    ("endpoint = tcp://127.0.0.1:1\n", "needs coordinator_key"),
]


@pytest.mark.parametrize("text,expect", CONF_ERRORS)
def test_config_errors_name_file_and_line(tmp_path, text, expect):
    path = tmp_path / "bad.conf"
    path.write_text("[odcctl]\n" + text)
    p = run("hosts", conf=path)
    assert p.returncode == 2, p.stderr
    assert p.stderr.startswith(f"odcctl: {path}"), p.stderr
    assert expect in p.stderr, p.stderr


def test_config_named_file_must_exist(tmp_path):
    want = f"odcctl: {tmp_path}/nope.conf: No such file or directory\n"
    p = run("hosts", conf=tmp_path / "nope.conf")
    assert p.returncode == 2 and p.stderr == want and p.stdout == "", p
    p = run("hosts", env={"ODCCTL_CONF": str(tmp_path / "nope.conf")})
    assert p.returncode == 2 and p.stderr == want and p.stdout == "", p


def test_config_lookup_order(tmp_path):
    home = tmp_path / "home"
    user = home / ".config" / "odc-fleet"
    user.mkdir(parents=True)
    write_conf(user / "odcctl.conf", endpoint=f"ipc://{tmp_path}/user.sock", timeout="200ms")
    env_conf = write_conf(tmp_path / "env.conf", endpoint=f"ipc://{tmp_path}/env.sock",
                          timeout="200ms")
    arg_conf = write_conf(tmp_path / "arg.conf", endpoint=f"ipc://{tmp_path}/arg.sock",
                          timeout="200ms")
    p = run("info", env={"HOME": str(home)})
    assert p.returncode == 3 and f"coordinator unreachable at ipc://{tmp_path}/user.sock" in \
        p.stderr, p.stderr
    p = run("info", env={"HOME": str(home), "ODCCTL_CONF": env_conf})
    assert p.returncode == 3 and f"coordinator unreachable at ipc://{tmp_path}/env.sock" in \
        p.stderr, p.stderr
    p = run("info", conf=arg_conf, env={"HOME": str(home), "ODCCTL_CONF": env_conf})
    assert p.returncode == 3 and f"coordinator unreachable at ipc://{tmp_path}/arg.sock" in \
        p.stderr, p.stderr
    p = run("info", "--endpoint", f"ipc://{tmp_path}/flag.sock", conf=arg_conf)
    assert p.returncode == 3 and f"coordinator unreachable at ipc://{tmp_path}/flag.sock" in \
        p.stderr, p.stderr




def test_submit_needs_operator_and_key(tmp_path):
    conf = write_conf(tmp_path / "c.conf", endpoint=f"ipc://{tmp_path}/x.sock", timeout="200ms")
    p = run("exec", "ping", "--all", conf=conf)
    assert p.returncode == 2 and "no operator name" in p.stderr
    conf = write_conf(tmp_path / "c2.conf", endpoint=f"ipc://{tmp_path}/x.sock",
                      timeout="200ms", operator="alice")
    p = run("exec", "ping", "--all", conf=conf)
    assert p.returncode == 2 and "no operator key" in p.stderr
    key, _ = keygen(tmp_path)
    os.chmod(key, 0o644)
    conf = write_conf(tmp_path / "c3.conf", endpoint=f"ipc://{tmp_path}/x.sock",
                      timeout="200ms", operator="alice", key=key)
    p = run("exec", "ping", "--all", conf=conf)
    assert p.returncode == 2 and str(key) in p.stderr


# ---------------------------------------------------------------- unreachable


def test_unreachable_coordinator_exits_3_within_timeout(tmp_path):
    """A control socket that is missing, or not a socket, fails at once; one that exists
    with nobody behind it (a coordinator that died) fails after the timeout. Exit 3."""
    sock = tmp_path / "none.sock"
    conf = write_conf(tmp_path / "c.conf", endpoint=f"ipc://{sock}", timeout="5s")
    t = time.monotonic()
    p = run("hosts", conf=conf)
    assert p.returncode == 3, p
    assert time.monotonic() - t < 1.0
    assert f"coordinator unreachable at ipc://{sock}: {sock}: No such file or directory (is " \
           "odc-coordinator running, with this control socket?)" in p.stderr, p.stderr
    sock.write_text("")
    p = run("hosts", conf=conf)
    assert p.returncode == 3 and f"{sock}: not a socket" in p.stderr, p.stderr
    sock.unlink()
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(sock))  # left behind: a socket file with no coordinator
    conf = write_conf(tmp_path / "c.conf", endpoint=f"ipc://{sock}", timeout="1s")
    t = time.monotonic()
    p = run("hosts", conf=conf)
    took = time.monotonic() - t
    assert p.returncode == 3
    assert f"coordinator unreachable at ipc://{sock} (no reply in 1s)" in p.stderr, p.stderr
    assert 0.9 < took < 3.0


def test_unreachable_tcp_exits_3(tmp_path):
    key, pk = keygen(tmp_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conf = write_conf(tmp_path / "c.conf", endpoint=f"tcp://127.0.0.1:{port}", key=key,
                      coordinator_key=PUB + pk.hex(), timeout="500ms")
    p = run("info", conf=conf)
    assert p.returncode == 3 and p.stdout == "", p
    assert f"coordinator unreachable at tcp://127.0.0.1:{port} (no reply in 500ms)" in p.stderr, \
        p.stderr



# ---------------------------------------------------------------- the real coordinator


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, what, timeout=20.0, interval=0.05):
    """Polls predicate() until it returns something truthy, which is returned."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}; "
                                 f"last value: {value!r}")
        time.sleep(interval)


def test_three_keygens_print_one_format_and_the_daemons_answer_help_and_version(tmp_path):
    """odc-agent, odc-coordinator and odcctl keygen print the same lines: the public key,
    its fingerprint, its CURVE fingerprint, the files written; the daemons answer --help
    (exit 0, on stdout) and --version like odcctl."""
    shape = [PUB + "[0-9a-f]{64}", "SHA256:[0-9a-f]{32}",
             r"curve SHA256:[0-9a-f]{32} \(how odcctl keys lists this key while it is pending\)",
             r"wrote \S+\.key \(secret, mode 0600\) and \S+\.pub"]
    for argv in ([AGENT, "keygen", tmp_path / "a.key", tmp_path / "a.pub"],
                 [COORDINATOR, "keygen", tmp_path / "c.key", tmp_path / "c.pub"],
                 [ODCCTL, "keygen", tmp_path / "o"]):
        p = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=10)
        assert p.returncode == 0, p
        lines = p.stdout.splitlines()[:4]
        assert all(re.fullmatch(r, line) for r, line in zip(shape, lines)) and len(lines) == 4, \
            (argv[0], p.stdout)
    for tool, name in ((AGENT, "odc-agent"), (COORDINATOR, "odc-coordinator")):
        p = subprocess.run([str(tool), "--version"], capture_output=True, text=True, timeout=10)
        assert p.returncode == 0 and re.fullmatch(rf"{name} \d+\.\d+\.\d+ \(protocol 2\)\n", p.stdout), p
        p = subprocess.run([str(tool), "--help"], capture_output=True, text=True, timeout=10)
        assert p.returncode == 0 and p.stdout.startswith(f"usage: {name} ") and p.stderr == "", p
        p = subprocess.run([str(tool), "--no-such-option"], capture_output=True, text=True, timeout=10)
        assert p.returncode == 2 and "unrecognized option '--no-such-option'" in p.stderr, p
    p = run("--version")
    assert p.returncode == 0 and re.fullmatch(r"odcctl \d+\.\d+\.\d+ \(protocol 2\)\n", p.stdout), p


def make_keys(tool, stem):
    """`TOOL keygen stem.key stem.pub` (odc-coordinator or odc-agent): (public key text,
    fingerprint, CURVE fingerprint) as the tool printed them."""
    p = subprocess.run([tool, "keygen", f"{stem}.key", f"{stem}.pub"], capture_output=True,
                       text=True, timeout=10)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    fps = re.findall(r"SHA256:[0-9a-f]{32}", p.stdout)
    curve = re.search(r"^curve (SHA256:[0-9a-f]{32})", p.stdout, re.M)
    assert re.fullmatch(PUB + "[0-9a-f]{64}", lines[0]) and len(fps) == 2 and curve, p.stdout
    with open(f"{stem}.pub") as f:
        assert f.read().strip() == lines[0]
    return lines[0], fps[0], curve.group(1)


def write_ini(path, values):
    """values: {"section.key": value} in order."""
    sections = {}
    for k, v in values.items():
        s, key = k.split(".", 1)
        sections.setdefault(s, []).append(f"{key} = {v}")
    with open(path, "w") as f:
        for s, lines in sections.items():
            f.write(f"[{s}]\n" + "\n".join(lines) + "\n")
    return str(path)


class Daemon:
    """A process started by a test, in its own session (so its process group is its own),
    stdout and stderr to a log file."""

    def __init__(self, argv, log_path, env=None):
        self.argv, self.log_path = [str(a) for a in argv], str(log_path)
        self.env = dict(os.environ, **(env or {}))
        self.proc = None

    def start(self):
        with open(self.log_path, "a") as log:
            self.proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT,
                                         env=self.env, start_new_session=True)
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        """SIGKILL to its process group (the daemon and any child it runs), then reaps it."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""


class Agent:
    """A real `odc-agent daemon` (not started yet): keys from `odc-agent keygen`, a minimal
    config after deploy/agent.conf.example in its own dir. No Docker, no metadb, unless
    `over` ({"section.key": value}) points it at some."""

    def __init__(self, coord, host_id, labels="", env=None, over=None):
        self.host_id = host_id
        self.dir = coord.root / host_id
        self.dir.mkdir()
        stem = self.dir / "agent"
        self.pub, self.fingerprint, self.curve_fingerprint = make_keys(AGENT, stem)
        self.pub_path = f"{stem}.pub"
        pw = self.dir / "metadb.password"
        fd = os.open(pw, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("not-used")
        for d in ("backups", "snapshots"):
            (self.dir / d).mkdir(mode=0o700)
        values = {
            "agent.host_id": host_id,
            "agent.labels": labels,
            "agent.state_dir": self.dir / "state",
            "keys.secret_key": f"{stem}.key",
            "trust.operators": coord.alice_pub,
            "trust.coordinators": coord.pub,
            "coordinator.endpoint": coord.endpoint,
            "coordinator.public_key": coord.pub,
            "coordinator.reconnect_max": "1s",
            "docker.socket": self.dir / "no-docker.sock",
            "docker.repository": "oceanbase/odc-server",
            "metadb.host": "127.0.0.1",
            "metadb.user": "odc",
            "metadb.password_file": pw,
            # The world's stand-ins: check-config wants executables there, though these hosts
            # run no loader (no Docker, no metadb).
            "loader.obloader": odcworld.OBLOADER,
            "loader.obdumper": odcworld.OBDUMPER,
            "paths.backup_roots": self.dir / "backups",
            "paths.snapshot_root": self.dir / "snapshots",
            "health.url": "http://127.0.0.1:9",
        }
        if not labels:
            del values["agent.labels"]
        values.update(over or {})
        self.conf = write_ini(self.dir / "agent.conf", values)
        self.daemon = Daemon([AGENT, "-c", self.conf, "daemon"], self.dir / "agent.log", env)


class Coord:
    """The real odc-coordinator: keys made with `odc-coordinator keygen` (its own and the
    operator alice's), coordinator.conf (agents on a free port, heartbeat 1s, lost_after 3,
    ack_timeout 2s, the control socket in the temp dir and a CURVE tcp control endpoint),
    odcctl.conf for alice on the ipc socket (self.conf) and on tcp (self.tcp_conf)."""

    def __init__(self, root):
        self.root = root
        self.dir = root / "coord"
        self.dir.mkdir()
        self.pub, self.fingerprint, _ = make_keys(COORDINATOR, self.dir / "coord")
        self.alice_pub, self.alice_fp, _ = make_keys(COORDINATOR, root / "alice")
        self.alice_key = root / "alice.key"
        self.sock = self.dir / "ctl" / "control.sock"
        self.conf_path = self.dir / "coordinator.conf"
        self.conf = write_conf(root / "odcctl.conf", endpoint=f"ipc://{self.sock}",
                               operator="alice", key=self.alice_key, timeout="5s")
        self.agents = {}
        self.daemon = None

    def _write_conf(self):
        self.endpoint = f"tcp://127.0.0.1:{free_port()}"
        self.tcp = f"tcp://127.0.0.1:{free_port()}"
        write_ini(self.conf_path, {
            "coordinator.id": "coord-t",
            "coordinator.state_dir": self.dir / "state",
            "keys.secret_key": self.dir / "coord.key",
            "agents.bind": self.endpoint,
            "agents.heartbeat": "1s",
            "agents.lost_after": "3",
            "agents.ack_timeout": "2s",
            "control.socket": self.sock,
            "control.tcp": self.tcp,
            "trust.operators": f"alice={self.alice_pub}",
        })
        self.tcp_conf = write_conf(self.root / "tcp.conf", endpoint=self.tcp, operator="alice",
                                   key=self.alice_key, coordinator_key=self.pub, timeout="5s")

    def start(self):
        for _ in range(3):  # a free port may be taken before the daemon binds it
            self._write_conf()
            self.daemon = Daemon([COORDINATOR, "-c", self.conf_path, "run"],
                                 self.dir / "coordinator.log").start()
            wait_for(lambda: self.sock.exists() or not self.daemon.alive(),
                     "the control socket", timeout=15)
            if self.daemon.alive():
                p = self.ctl("info")
                assert p.returncode == 0, p.stderr
                return self
            self.daemon.kill()
            if "Address already in use" not in self.daemon.log():
                break
        raise AssertionError("odc-coordinator did not start:\n" + self.daemon.log()[-3000:])

    def ctl(self, *args, conf=None, timeout=60):
        return run(*args, conf=conf or self.conf, timeout=timeout)

    def json(self, *args, conf=None):
        p = self.ctl("-o", "json", *args, conf=conf)
        assert p.returncode == 0, (args, p.stderr)
        return json.loads(p.stdout)

    def job(self, job_id, results=False):
        return self.json("job", job_id, *(["--results"] if results else []))

    def accept(self, host_id, pub_path):
        p = self.ctl("keys", "accept", host_id, f"@{pub_path}")
        assert p.returncode == 0, p.stderr
        return p

    def agent(self, host_id, labels="", env=None, over=None, accept=True, start=True):
        """A new agent; accepted with `odcctl keys accept` unless accept=False; started
        (and, when accepted, waited for online) unless start=False."""
        a = Agent(self, host_id, labels, env, over)
        self.agents[host_id] = a
        if accept:
            self.accept(host_id, a.pub_path)
        if start:
            a.daemon.start()
            if accept:
                self.wait_online(host_id)
        return a

    def statuses(self):
        return {h["host"]: h["status"] for h in self.json("hosts")["hosts"]}

    def wait_online(self, *hosts):
        wait_for(lambda: all(self.statuses().get(h) == "online" for h in hosts),
                 f"{', '.join(hosts)} online")

    def wait_job(self, job_id, pred, what):
        return wait_for(lambda: (lambda j: j if pred(j) else None)(self.job(job_id)), what)

    def close(self):
        for a in self.agents.values():
            a.daemon.kill()
        if self.daemon is not None:
            self.daemon.kill()
        # pytest shows this only when the test failed.
        if self.daemon is not None:
            print(f"---- odc-coordinator log (tail):\n{self.daemon.log()[-4000:]}")
        for a in self.agents.values():
            print(f"---- odc-agent {a.host_id} log (tail):\n{a.daemon.log()[-2000:]}")


@pytest.fixture
def coord(tmp_path):
    c = Coord(tmp_path)
    try:
        c.start()
        yield c
    finally:
        c.close()


def submitted(p):
    """The job id in a followed exec's first line, or in what --detach printed."""
    m = re.search(rf"\b{JOB_ID}\b", p.stdout)
    assert m, (p.returncode, p.stdout, p.stderr)
    return m.group(0)


def table_rows(text):
    return [line.split() for line in text.splitlines() if line.strip()]


# ---------------------------------------------------------------- read commands


def test_info_and_hosts_table_json_and_selectors(coord):
    coord.agent("h1", labels="env=prod, zone=a")
    coord.agent("h2", labels="env=dev")
    coord.agent("h3", start=False)  # enrolled, never seen
    p = coord.ctl("info")
    assert p.returncode == 0, p.stderr
    assert "coord-t (odc-coordinator " in p.stdout
    assert coord.pub in p.stdout and coord.fingerprint in p.stdout
    assert "2 online, 0 lost, 1 never seen, 0 revoked" in p.stdout
    info = coord.json("info")
    assert info["coordinator_id"] == "coord-t" and info["public_key"] == coord.pub
    assert info["heartbeat_ms"] == 1000 and info["lost_after"] == 3

    p = coord.ctl("hosts")
    assert p.returncode == 0, p.stderr
    rows = table_rows(p.stdout)
    assert rows[0] == ["HOST", "LABELS", "STATUS", "BEAT", "DEPLOYMENT", "ODC", "CONTAINER",
                       "HEALTH", "JOB"]
    assert [r[0] for r in rows[1:]] == ["h1", "h2", "h3"]
    assert rows[1][:3] == ["h1", "env=prod,zone=a", "online"] and re.fullmatch(r"\d+s", rows[1][3])
    assert rows[1][4:] == ["-", "-", "-", "-", "-"]  # no Docker: the agent cannot tell
    assert rows[2][:3] == ["h2", "env=dev", "online"]
    assert rows[3] == ["h3", "-", "never", "-", "-", "-", "-", "-", "-"]

    body = wait_for(lambda: (lambda b: b if b["hosts"][0]["disks"] else None)(
        coord.json("hosts")), "h1's first heartbeat (disks)")
    h1 = body["hosts"][0]
    assert h1["host"] == "h1" and h1["key_state"] == "accepted"
    assert h1["fingerprint"] == coord.agents["h1"].fingerprint
    assert h1["labels"] == {"env": "prod", "zone": "a"} and h1["address"] == "127.0.0.1"
    assert h1["odc"] is None and h1["job"] is None and h1["deployment"] is None
    assert [d["path"] for d in h1["disks"]] == [str(coord.agents["h1"].dir / d)
                                                for d in ("backups", "snapshots")]
    assert body["hosts"][2]["last_beat_ms"] is None

    def sel(*args):
        return [h["host"] for h in coord.json("hosts", *args)["hosts"]]
    assert sel("--label", "env=prod") == ["h1"]
    assert sel("--hosts", "h*", "--label", "env=dev") == ["h2"]
    assert sel("--host", "h3", "--host", "h1") == ["h1", "h3"]
    assert sel("--all") == ["h1", "h2", "h3"]
    assert sel("--host", "h1", "--label", "env=dev") == []


def test_keys_pending_accept_list_revoke(coord):
    a = coord.agent("h1", accept=False)  # knocks with a key nobody accepted

    def pending():
        return [k for k in coord.json("keys")["pending"]
                if k["curve_fingerprint"] == a.curve_fingerprint]
    k = wait_for(pending, "the agent's key in the pending list")[0]
    assert re.fullmatch("[0-9a-f]{64}", k["curve_key"]) and k["address"] == "127.0.0.1"
    assert k["attempts"] >= 1 and k["first_ms"] <= k["last_ms"]
    p = coord.ctl("keys")
    assert p.returncode == 0, p.stderr
    assert "enrolled (0)" in p.stdout and "pending (1)" in p.stdout
    assert re.search(r"CURVE-FINGERPRINT\s+ADDRESS\s+FIRST\s+LAST\s+ATTEMPTS", p.stdout)
    assert re.search(rf"{a.curve_fingerprint}\s+127\.0\.0\.1\s+\d+s\s+\d+s\s+\d+$", p.stdout,
                     re.M)
    assert "odcctl keys accept HOST @agent.pub" in p.stdout

    p = coord.ctl("keys", "accept", "h1", f"@{a.pub_path}")
    assert p.returncode == 0, p.stderr
    assert p.stdout == f"host h1: key {a.fingerprint} accepted\n"
    coord.wait_online("h1")  # the agent's own reconnection gets in now
    body = coord.json("keys")
    assert body["pending"] == []
    assert [(k["host"], k["state"], k["fingerprint"], k["public_key"]) for k in body["keys"]] == \
        [("h1", "accepted", a.fingerprint, a.pub)]
    p = coord.ctl("keys", "list")
    assert re.search(rf"^  h1\s+accepted\s+{a.fingerprint}\s+\d{{4}}-", p.stdout, re.M)
    assert "pending (0)" in p.stdout
    # The same key again, as text and as bare hex: a success that changes nothing.
    assert coord.ctl("keys", "accept", "h1", a.pub).returncode == 0
    assert coord.ctl("keys", "accept", "h1", a.pub[len(PUB):]).returncode == 0
    audit = [(e["who"], e["what"], e["hosts"], e["outcome"]) for e in coord.json("audit")["audit"]]
    assert audit[:3] == [("local:alice", "key-accept", ["h1"], "unchanged")] * 2 + \
        [("local:alice", "key-accept", ["h1"], "ok")]

    p = coord.ctl("keys", "revoke", "h1")
    assert p.returncode == 0 and p.stdout == f"host h1: key {a.fingerprint} revoked\n", p.stderr
    k = coord.json("keys")["keys"][0]
    assert k["state"] == "revoked" and k["revoked_ms"] is not None
    assert coord.json("hosts")["hosts"][0]["status"] == "revoked"
    # A revoked host may be accepted again with a new key.
    _, fp2, _ = make_keys(AGENT, coord.root / "h1-new")
    p = coord.ctl("keys", "accept", "h1", f"@{coord.root}/h1-new.pub")
    assert p.returncode == 0 and fp2 in p.stdout, p.stderr


# ---------------------------------------------------------------- refusals


def test_example_configuration_works(coord):
    p = coord.ctl("info", "--endpoint", f"ipc://{coord.sock}",
                  conf=os.path.join(ROOT, "deploy", "odcctl.conf.example"))
    assert p.returncode == 0, p.stderr
    # The example's endpoint overridden, its other settings (operator, timeout) work: the
    # coordinator's own info, not just any output naming it.
    assert re.match(r"coordinator +coord-t \(odc-coordinator \d+\.\d+\.\d+\)\n", p.stdout), p.stdout
    assert f"ipc://{coord.sock}\n" in p.stdout, p.stdout
    assert coord.pub in p.stdout and coord.fingerprint in p.stdout, p.stdout


def test_coordinator_refusals_exit_2(coord, tmp_path):
    h1 = coord.agent("h1", start=False)
    p = coord.ctl("job", "jx")
    assert p.returncode == 2 and p.stderr == "odcctl: job: no job jx (NOT_FOUND)\n"
    for cmd in ("watch", "pause", "resume", "abort"):
        p = coord.ctl(cmd, "jx")
        assert p.returncode == 2 and "no job jx (NOT_FOUND)" in p.stderr, (cmd, p.stderr)
    p = coord.ctl("keys", "revoke", "h9")
    assert p.returncode == 2 and "host h9 is not enrolled (NOT_FOUND)" in p.stderr
    p = coord.ctl("exec", "ping", "--label", "env=x")
    assert p.returncode == 2 and "no enrolled host matches" in p.stderr, p.stderr
    p = coord.ctl("exec", "ping", "--host", "h9")
    assert p.returncode == 2 and "(NOT_FOUND)" in p.stderr, p.stderr

    # CONFLICT: a second key for an accepted host; a key bound to another host.
    make_keys(AGENT, tmp_path / "other")
    p = coord.ctl("keys", "accept", "h1", f"@{tmp_path}/other.pub")
    assert p.returncode == 2, p.stderr
    assert (f"odcctl: keys: host h1 is enrolled with key {h1.fingerprint}; revoke it first "
            "(CONFLICT)") in p.stderr
    p = coord.ctl("keys", "accept", "h9", f"@{h1.pub_path}")
    assert p.returncode == 2 and "belongs to host h1 (CONFLICT)" in p.stderr, p.stderr
    # CONFLICT: pausing a job that has ended (h1 never came: unreachable at once).
    p = coord.ctl("exec", "ping", "--host", "h1", "--detach")
    assert p.returncode == 0, p.stderr
    job = submitted(p)
    coord.wait_job(job, lambda j: j["state"] == "failed", "the job to fail")
    p = coord.ctl("pause", job)
    assert p.returncode == 2 and f"job {job} is failed; cannot pause it (CONFLICT)" in p.stderr

    # DENIED: the JOB's operator is not the name configured for its signing key.
    bob = write_conf(tmp_path / "bob.conf", endpoint=f"ipc://{coord.sock}", operator="bob",
                     key=coord.alice_key, timeout="5s")
    p = coord.ctl("exec", "ping", "--host", "h1", conf=bob)
    assert p.returncode == 2, p.stderr
    assert p.stderr == ("odcctl: exec: the job says operator 'bob' but is signed by alice "
                        "(DENIED)\n")
    assert [j["job_id"] for j in coord.json("jobs")["jobs"]] == [job]
    e = coord.json("audit", "--limit", "1")["audit"][0]
    assert (e["who"], e["what"], e["outcome"]) == ("local:bob", "job-submit", "refused")
    assert e["detail"].startswith("DENIED: ")


# ---------------------------------------------------------------- signed jobs


def test_exec_detach_signs_the_job_with_light_defaults(coord):
    for h in ("h2", "h3", "h1"):
        coord.agent(h, start=False)
    t0 = int(time.time() * 1000)
    p = coord.ctl("exec", "logs", "--lines", "50", "--host", "h3", "--host", "h1", "--host",
                  "h2", "--detach")
    assert p.returncode == 0, p.stderr
    job_id = p.stdout.strip()
    assert p.stdout == job_id + "\n" and re.fullmatch(r"logs-\d{8}T\d{6}Z-[0-9a-f]{6}", job_id)
    job = coord.job(job_id)
    assert job["action"] == "logs" and job["params"] == {"lines": "50"}
    assert [h["host"] for h in job["hosts"]] == ["h1", "h2", "h3"]  # signed sorted
    assert [h["order"] for h in job["hosts"]] == [0, 1, 2] and job["targets"] == 3
    assert job["policy"] == LIGHT
    assert t0 - 1000 <= job["created_ms"] <= int(time.time() * 1000)
    assert job["expires_ms"] == job["created_ms"] + 1800_000
    assert job["operator"] == "alice" and job["reason"] == ""
    assert job["signer"] == coord.alice_fp
    e = [e for e in coord.json("audit", "--job", job_id)["audit"] if e["what"] == "job-submit"]
    assert [(x["who"], x["hosts"], x["outcome"]) for x in e] == \
        [("local:alice", ["h1", "h2", "h3"], "accepted")]


def ask(coord, *args, answer=None):
    """odcctl ARGS as an operator types them (no --yes added): with answer, on a
    pseudo-terminal that answers the question with it; else with no terminal at all."""
    return typed([ODCCTL, "-c", coord.conf] + [str(a) for a in args], answer)


def test_a_change_is_confirmed_first(coord):
    """A rollback, an undo, exec stop/start: on a terminal odcctl shows what it will do and
    asks; only y submits. Without a terminal such a change needs --yes; a dry run, a ping,
    need nothing."""
    coord.agent("h1", start=False)
    coord.agent("h2", start=False)
    jobs = lambda: [j["job_id"] for j in coord.json("jobs")["jobs"]]  # noqa: E731
    rb = ("rollback", "--to", "4.2.0", "--backup", "/var/backups/odc/pre 4.3.0", "--all", "--detach")

    p = ask(coord, *rb)
    assert p.returncode == 2, p
    assert "rollback changes ODC on 2 hosts: confirm it with --yes (there is no terminal to ask " \
           "on); nothing was submitted" in p.stderr, p.stderr
    for args, n in ((("exec", "stop", "--all", "--detach"), "2 hosts"),
                    (("exec", "start", "--host", "h1", "--detach"), "1 host")):
        p = ask(coord, *args)
        assert p.returncode == 2, (args, p)
        assert f"{args[1]} changes ODC on {n}: confirm it with --yes" in p.stderr, (args, p.stderr)
    assert jobs() == []

    p = ask(coord, *rb, answer="n")
    assert p.returncode == 2 and "not confirmed: nothing was submitted" in p.stderr, p
    assert "rollback to 4.2.0 from the backup /var/backups/odc/pre 4.3.0, on 2 hosts:" in p.stderr
    assert re.search(r"^  h1 +- +ODC \? -> 4\.2\.0$", p.stderr, re.M), p.stderr
    assert p.stderr.endswith("Proceed? [y/N] odcctl: rollback: not confirmed: nothing was submitted\n")
    assert jobs() == []

    p = ask(coord, *rb, answer="y")
    assert p.returncode == 0, p
    assert p.stdout.strip() in jobs(), (p.stdout, jobs())

    # Nothing to confirm: a dry run, a ping; --yes confirms without a terminal.
    assert ask(coord, *rb, "--dry-run").returncode == 0
    assert ask(coord, "exec", "ping", "--all", "--detach").returncode == 0
    p = ask(coord, "exec", "stop", "--all", "--detach", "--yes")
    assert p.returncode == 0 and p.stdout.strip() in jobs(), p


def test_a_prune_is_confirmed_first(coord):
    """Issue 16: a prune removes what rollbacks kept: on a terminal odcctl says so and asks,
    without one it needs --yes; a dry run needs nothing. HOST operands are the targets."""
    coord.agent("h1", start=False)
    coord.agent("h2", start=False)
    jobs = lambda: coord.json("jobs")["jobs"]  # noqa: E731

    p = ask(coord, "prune", "h1", "h2", "--detach")
    assert p.returncode == 2, p
    assert "prune removes what rollbacks kept on 2 hosts: confirm it with --yes (there is no " \
           "terminal to ask on); nothing was submitted" in p.stderr, p.stderr
    p = ask(coord, "prune", "--all", "--detach", answer="n")
    assert p.returncode == 2 and "not confirmed: nothing was submitted" in p.stderr, p
    assert "prune: remove the kept containers and safety snapshots beyond each agent's " \
           "retention (never the latest rollback's), on 2 hosts:" in p.stderr, p.stderr
    assert re.search(r"^  h2 +- +ODC \?$", p.stderr, re.M), p.stderr
    assert jobs() == []

    p = ask(coord, "prune", "h2", "--detach", answer="y")
    assert p.returncode == 0, p
    p = ask(coord, "prune", "h1", "--dry-run", "--detach")
    assert p.returncode == 0, p
    # Each as signed: its action, parameters and the HOST operand as its one target.
    got = {tuple(h["host"] for h in coord.json("job", j["job_id"])["hosts"]): j for j in jobs()}
    assert sorted(got) == [("h1",), ("h2",)], got
    assert got[("h1",)]["action"] == "prune" and got[("h1",)]["params"] == {"dry_run": "true"}
    assert got[("h2",)]["action"] == "prune" and got[("h2",)]["params"] == {}, got


def test_rollback_careful_defaults_canary_cap_and_flags(coord):
    coord.agent("h1", start=False)
    coord.agent("h2", start=False)
    p = coord.ctl("rollback", "--to", "4.2.0", "--backup", "/var/backups/odc/x", "--all",
                  "--detach")
    assert p.returncode == 0, p.stderr
    job = coord.job(p.stdout.strip())
    assert job["action"] == "rollback"
    # backup_on_peer: the node of a deployment holding the backup restores for all.
    assert job["params"] == {"to": "4.2.0", "backup": "/var/backups/odc/x", "backup_on_peer": "true"}
    assert job["policy"] == CAREFUL
    assert job["expires_ms"] == job["created_ms"] + 86400_000
    p = coord.ctl("rollback", "--to", "4.2.0", "--backup", "/b", "--hosts", "h*", "--dry-run",
                  "--canary", "5", "--batch", "50%", "--budget", "1", "--quorum", "90%",
                  "--step-deadline", "90s", "--job-deadline", "7d", "--reason",
                  "ODC 4.3.0 broke", "--detach")
    assert p.returncode == 0, p.stderr
    job_id = p.stdout.strip()
    assert re.fullmatch(r"rollback-\d{8}T\d{6}Z-[0-9a-f]{6}", job_id)
    job = coord.job(job_id)
    assert job["params"] == {"to": "4.2.0", "backup": "/b", "dry_run": "true", "backup_on_peer": "true"}
    assert job["policy"] == {"canary": 2, "batch": 50, "batch_pct": True, "budget": 1,
                             "budget_pct": False, "quorum_pct": 90, "step_deadline_s": 90,
                             "job_deadline_s": 604800}
    assert job["expires_ms"] == job["created_ms"] + 604800_000
    assert job["reason"] == "ODC 4.3.0 broke"
    assert [h["host"] for h in job["hosts"]] == ["h1", "h2"]


def test_deadline_duration_in_ms_is_rounded_up(coord):
    # odcctl reads durations as the configuration files do; deadlines are whole
    # seconds, so a value in ms is rounded up (never shorter than asked).
    coord.agent("h1", start=False)
    p = coord.ctl("exec", "ping", "--all", "--step-deadline", "1500ms", "--job-deadline",
                  "90000ms", "--detach")
    assert p.returncode == 0, p.stderr
    job = coord.job(p.stdout.strip())
    assert (job["policy"]["step_deadline_s"], job["policy"]["job_deadline_s"]) == (2, 90)
    assert job["expires_ms"] == job["created_ms"] + 90_000


# ---------------------------------------------------------------- following a job


def test_follow_exit_codes_plain_lines_and_summary(coord):
    coord.agent("h1", env={"ODC_AGENT_TEST_STEP_DELAY_MS": "1000"})
    coord.agent("h3", start=False)  # enrolled, never started

    p = coord.ctl("exec", "ping", "--host", "h1")
    assert p.returncode == 0, p.stderr
    j = submitted(p)
    out = p.stdout
    assert out.startswith(f"job {j}: ping on 1 host (canary 0, batch 100%, budget 100%, "
                          "quorum 0%, step deadline 5m)\n")
    assert re.search(rf"^{CLOCK} job {j}: running, stage batches \(batch 1\)$", out, re.M)
    assert re.search(rf"^{CLOCK} h1 running ping: ", out, re.M)
    assert re.search(rf"^{CLOCK} job {j}: succeeded: every target succeeded$", out, re.M)
    assert re.search(rf"^{CLOCK} h1 succeeded ping: pong from h1 \(odc-agent ", out, re.M)
    assert f"\njob {j}: succeeded: every target succeeded\n1 host: 1 succeeded, in " in out
    assert re.search(r"^HOST\s+STATE\s+FAILED-AT\s+MESSAGE$", out, re.M)
    assert re.search(r"^h1\s+succeeded\s+-\s+pong from h1", out, re.M)
    assert "--results" not in out

    # Some target failed: the never-started one is unreachable; --quorum 0 lets it start.
    p = coord.ctl("exec", "ping", "--host", "h1", "--host", "h3", "--quorum", "0")
    assert p.returncode == 1, (p.stdout, p.stderr)
    failed = submitted(p)
    out = p.stdout
    assert re.search(rf"^{CLOCK} h3 unreachable: not online when the job started$", out, re.M)
    assert f"\njob {failed}: failed: 1 of 2 targets failed (budget 2)\n" in out
    assert "2 hosts: 1 succeeded, 1 unreachable, in " in out
    assert re.search(r"^h3\s+unreachable\s+-\s+not online when the job started$", out, re.M)
    assert f"details: odcctl job {failed} --results\n" in out

    # Halted: the quorum is not met.
    p = coord.ctl("exec", "ping", "--host", "h1", "--host", "h3", "--quorum", "100")
    assert p.returncode == 4, (p.stdout, p.stderr)
    halted = submitted(p)
    msg = "quorum not met: 1 of 2 targets online, 100% (2) needed"
    assert re.search(rf"^{CLOCK} job {halted}: halted: {re.escape(msg)}$", p.stdout, re.M)
    assert re.search(r"^h1\s+skipped\s+-\s+skipped: the job halted: ", p.stdout, re.M)

    # watch of an ended job: the same summary and exit status.
    for job_id, code, state in ((j, 0, "succeeded"), (failed, 1, "failed"),
                                (halted, 4, "halted")):
        p = coord.ctl("watch", job_id)
        assert p.returncode == code, (job_id, p.stdout, p.stderr)
        assert f"\njob {job_id}: {state}" in p.stdout


def test_exec_json_prints_the_final_body_with_results(coord):
    h1 = coord.agent("h1")
    p = coord.ctl("-o", "json", "exec", "status", "--host", "h1")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["action"] == "status" and doc["state"] == "succeeded"
    assert [(r["host"], r["step"], r["status"], r["final"], r["signer"]) for r in doc["results"]] \
        == [("h1", "status", "ok", True, h1.fingerprint)]
    r = doc["results"][0]
    assert "unreachable" in r["message"]  # no Docker, no ODC, no metadb: said, not failed
    assert re.fullmatch("[0-9a-f]+", r["body_hex"]) and len(r["sig_hex"]) == 192
    assert "results" not in doc["hosts"][0]
    # The same job asked again: equal but for the change version, which belongs to the
    # coordinator's memory of a job (0 once the job has left it).
    again = coord.job(doc["job_id"], results=True)
    assert isinstance(doc.pop("version"), int) and isinstance(again.pop("version"), int)
    assert doc == again
    assert "results" not in coord.job(doc["job_id"])


def test_job_results_jobs_and_audit_tables(coord):
    coord.agent("h1")
    coord.agent("h3", start=False)
    p = coord.ctl("exec", "ping", "--host", "h1", "--host", "h3", "--quorum", "0",
                  "--reason", "checking")
    assert p.returncode == 1, p.stderr
    j = submitted(p)
    p = coord.ctl("exec", "logs", "--host", "h1")  # fails: no Docker engine
    assert p.returncode == 1, p.stderr
    logs = submitted(p)

    p = coord.ctl("job", j, "--results")
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert re.search(rf"^job\s+{j}$", out, re.M)
    assert re.search(rf"^operator\s+alice \(key {coord.alice_fp}\)$", out, re.M)
    assert re.search(r"^reason\s+checking$", out, re.M)
    assert re.search(r"^state\s+failed, stage done \(batch 1\)$", out, re.M)
    assert re.search(r"^HOST\s+STATE\s+PHASE\s+STEP\s+FAILED-AT\s+MESSAGE$", out, re.M)
    assert re.search(r"^h1\s+succeeded\s+run\s+ping\s+-\s+pong from h1", out, re.M)
    assert re.search(r"^h3\s+unreachable\s+-\s+-\s+-\s+not online when the job started$", out,
                     re.M)
    assert re.search(r"^results\n  h1\n    ping\s+ok\s+0\s+\S+\s+pong from h1.*\n  h3\n"
                     r"    \(none\)$", out, re.M)
    p = coord.ctl("job", logs, "--results")
    assert re.search(r"^h1\s+failed\s+run\s+logs\s+logs\s+", p.stdout, re.M), p.stdout
    assert re.search(r"^    logs\s+failed\s+-?\d+\s+\S+\s+\S", p.stdout, re.M), p.stdout
    assert "results" not in coord.ctl("job", j).stdout

    p = coord.ctl("jobs", "--state", "failed", "--limit", "5")
    assert p.returncode == 0, p.stderr
    rows = table_rows(p.stdout)
    assert rows[0] == ["JOB", "ACTION", "STATE", "STAGE", "DONE", "FAILED", "OPERATOR",
                       "SUBMITTED"]
    assert rows[1][:7] == [logs, "logs", "failed", "done", "1/1", "1", "alice"]
    assert rows[2][:7] == [j, "ping", "failed", "done", "2/2", "1", "alice"]
    assert re.fullmatch(r"\d+s", rows[2][7])
    assert len(table_rows(coord.ctl("jobs", "--limit", "1").stdout)) == 2
    assert [r[0] for r in table_rows(coord.ctl("jobs", "--state", "running").stdout)] == \
        ["JOB"]

    p = coord.ctl("audit", "--job", j)
    assert p.returncode == 0, p.stderr
    assert re.search(rf"local:alice\s+job-submit\s+{j}\s+h1,h3\s+accepted", p.stdout)
    assert re.search(rf"coordinator\s+job-end\s+{j}\s+h1,h3\s+failed", p.stdout)
    assert logs not in p.stdout


def test_pause_resume_abort_actor_and_aborted_follow_exits_3(coord, tmp_path):
    coord.agent("h1", env={"ODC_AGENT_TEST_STEP_DELAY_MS": "5000"})
    follow = subprocess.Popen([ODCCTL, "-c", coord.conf, "exec", "ping", "--host", "h1"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        running = wait_for(lambda: coord.json("jobs", "--state", "running")["jobs"],
                           "the job to run")
        j = running[0]["job_id"]
        coord.wait_job(j, lambda b: b["hosts"][0]["state"] == "running", "h1 running")
        p = coord.ctl("exec", "ping", "--host", "h1")
        assert p.returncode == 2, p.stderr
        assert f"host h1 is busy with job {j} (running) (CONFLICT)" in p.stderr
        # The actor is the operator name of odcctl.conf: carol, who has no key.
        carol = write_conf(tmp_path / "carol.conf", endpoint=f"ipc://{coord.sock}",
                           operator="carol", timeout="5s")
        p = coord.ctl("pause", j, conf=carol)
        assert p.returncode == 0 and p.stdout.startswith(f"job {j}: paused"), p.stderr
        p = coord.ctl("pause", j)
        assert p.returncode == 2 and f"job {j} is paused; cannot pause it (CONFLICT)" in p.stderr
        p = coord.ctl("resume", j)
        assert p.returncode == 0 and p.stdout.startswith(f"job {j}: running"), p.stderr
        p = coord.ctl("abort", j)
        assert p.returncode == 0 and p.stdout.startswith(f"job {j}: aborted"), p.stderr
        out, err = follow.communicate(timeout=15)
    finally:
        if follow.poll() is None:
            follow.kill()
            follow.communicate()
    assert follow.returncode == 4, (out, err)  # aborted
    assert out.startswith(f"job {j}: ping on 1 host")
    assert (f"\njob {j}: aborted: aborted by local:alice at stage batches; steps already "
            "running go on to their end\n") in out
    assert re.search(r"^h1\s+running\s+-\s+", out, re.M)
    audit = [(e["who"], e["what"], e["outcome"])
             for e in coord.json("audit", "--job", j)["audit"]]
    assert audit == [("local:alice", "job-end", "aborted"),
                     ("local:alice", "job-abort", "ok"),
                     ("local:alice", "job-resume", "ok"),
                     ("local:alice", "job-pause", "refused"),  # the second pause
                     ("local:carol", "job-pause", "ok"),
                     ("local:alice", "job-submit", "accepted")], audit


def test_watch_json_streams_json_lines_as_the_job_changes(coord):
    """`odcctl -o json watch` prints JSON Lines: the first line (the job with every host)
    before the job ends, a line per change after it, each one compact JSON object, and last
    the final job with every result; a wait that brings nothing new prints nothing."""
    coord.agent("h1", env={"ODC_AGENT_TEST_STEP_DELAY_MS": "3000"})
    p = coord.ctl("exec", "ping", "--host", "h1", "--detach")
    assert p.returncode == 0, p.stderr
    j = p.stdout.strip()
    w = subprocess.Popen([ODCCTL, "-c", coord.conf, "-o", "json", "watch", j],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([w.stdout], [], [], 10)
        assert ready, "watch -o json printed nothing while the job ran"
        first = json.loads(w.stdout.readline())
        assert first["job_id"] == j and first["state"] == "running", first
        assert [h["host"] for h in first["hosts"]] == ["h1"], first
        assert coord.job(j)["state"] == "running"  # streamed, not printed at the end
        rest, err = w.communicate(timeout=30)
    finally:
        if w.poll() is None:
            w.kill()
            w.communicate()
    assert w.returncode == 0, err
    lines = [json.loads(x) for x in rest.splitlines()]
    assert lines and all(isinstance(x, dict) for x in lines), rest
    versions = [first["version"]] + [x["version"] for x in lines[:-1]]
    assert len(versions) == len(set(versions)), versions  # one line per change
    last = lines[-1]
    assert last["state"] == "succeeded" and "results" in last, last
    assert [r["step"] for r in last["results"]] == ["ping"], last["results"]
    assert all("results" not in x for x in lines[:-1])


def test_watch_ctrl_c_stops_following_and_a_gone_coordinator_exits_3(coord, tmp_path):
    coord.agent("h1", env={"ODC_AGENT_TEST_STEP_DELAY_MS": "5000"})
    p = coord.ctl("exec", "ping", "--host", "h1", "--detach")
    assert p.returncode == 0, p.stderr
    j = p.stdout.strip()
    short = write_conf(tmp_path / "short.conf", endpoint=f"ipc://{coord.sock}",
                       operator="alice", timeout="500ms")

    def watch():
        return subprocess.Popen([ODCCTL, "-c", short, "watch", j], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def first_line(proc):
        ready, _, _ = select.select([proc.stdout], [], [], 10)
        assert ready, "watch printed nothing"
        return proc.stdout.readline()

    procs = []
    try:
        w = watch()
        procs.append(w)
        assert re.match(rf"{CLOCK} job {j}: running", first_line(w))
        w.send_signal(signal.SIGINT)
        out, err = w.communicate(timeout=10)
        assert w.returncode == 130, err
        assert f"stopped following job {j}; it goes on (odcctl watch {j})" in err
        job = coord.job(j)
        assert job["state"] == "running"  # Ctrl-C stops following, not the job
        assert [e["what"] for e in coord.json("audit", "--job", j)["audit"]] == ["job-submit"]

        w = watch()
        procs.append(w)
        first_line(w)
        coord.daemon.kill()  # the coordinator is gone: no reply within the timeout
        out, err = w.communicate(timeout=10)
        assert w.returncode == 3, (out, err)
        assert "no reply in 500ms" in err
    finally:
        for w in procs:
            if w.poll() is None:
                w.kill()
                w.communicate()


# ---------------------------------------------------------------- undo


def test_undo_refuses_jobs_that_ran_nothing_and_takes_selectors(coord):
    h1 = coord.agent("h1")
    coord.agent("h2", start=False)
    p = coord.ctl("exec", "ping", "--host", "h1")
    assert p.returncode == 0, p.stderr
    ping = submitted(p)
    p = coord.ctl("undo", "--of", ping)
    assert p.returncode == 2 and f"job {ping} is a ping job; an undo walks back a rollback or an upgrade" in \
        p.stderr, p.stderr
    p = coord.ctl("undo", "--of", "nosuch")
    assert p.returncode == 2 and "no job nosuch (NOT_FOUND)" in p.stderr, p.stderr
    # Halted by the quorum: nothing was dispatched.
    p = coord.ctl("rollback", "--to", "4.2.0", "--backup", "/var/backups/odc/x", "--host", "h1",
                  "--host", "h2")
    assert p.returncode == 4, (p.stdout, p.stderr)  # halted
    quorum = submitted(p)
    p = coord.ctl("undo", "--of", quorum)
    assert p.returncode == 2 and f"job {quorum} ran nothing to undo" in p.stderr, p.stderr
    # Halted in preflight (no Docker on h1): a preflight is not a run.
    p = coord.ctl("rollback", "--to", "4.2.0", "--backup", h1.dir / "backups" / "x", "--host",
                  "h1")
    assert p.returncode == 4, (p.stdout, p.stderr)  # halted
    pre = submitted(p)
    assert "Docker engine unreachable" in p.stdout
    job = coord.job(pre)
    assert [(h["state"], h["phase"], h["failed_step"]) for h in job["hosts"]] == \
        [("failed", "preflight", "preflight")]
    p = coord.ctl("undo", "--of", pre)
    assert p.returncode == 2 and f"job {pre} ran nothing to undo" in p.stderr, p.stderr
    assert len(coord.json("jobs")["jobs"]) == 3  # none of the refused undos was submitted
    # Selectors choose the targets themselves.
    p = coord.ctl("undo", "--of", quorum, "--host", "h2", "--detach")
    assert p.returncode == 0, p.stderr
    job = coord.job(p.stdout.strip())
    assert job["action"] == "undo" and job["params"] == {"of": quorum}
    assert [h["host"] for h in job["hosts"]] == ["h2"] and job["policy"] == CAREFUL


def test_undo_targets_the_hosts_whose_run_phase_was_dispatched(odc_host, coord):
    """A dry-run rollback on an ODC host of the world (preflight passes, the run phase is
    dispatched) and on an enrolled host that never came (unreachable, nothing dispatched):
    undo without selectors targets the first only."""
    host = odc_host(upgrade=False, start_delay_ms=200)
    coord.agent("hw", over={
        "docker.socket": host.engine.socket,
        "docker.container": host.name,
        "docker.repository": host.images.repository,
        "metadb.host": host.db_host,
        "metadb.port": host.db_port,
        "metadb.user": host.user,
        "metadb.tenant": host.tenant,
        "metadb.cluster": host.cluster,
        "metadb.password_file": host.password_file,
        "metadb.database": host.db,
        "loader.obloader": host.obloader,
        "loader.obdumper": host.obdumper,
        "paths.backup_roots": host.dir,
        "paths.snapshot_root": host.snapshot_root,
        "health.url": host.base_url,
    })
    coord.agent("hz", start=False)
    row = wait_for(lambda: [r for r in table_rows(coord.ctl("hosts", "--host", "hw").stdout)
                            if r[0] == "hw" and r[5] != "-"], "hw's ODC in a heartbeat")[0]
    assert row[2] == "online" and row[4].startswith("d-"), row
    assert row[5:8] == ["4.2.0-20230916", "running", "healthy"], row
    p = coord.ctl("rollback", "--to", "4.2.0", "--backup", host.backup_dir, "--dry-run",
                  "--accept-unverified",
                  "--host", "hw", "--host", "hz", "--quorum", "50", "--budget", "1")
    assert p.returncode == 1, (p.stdout, p.stderr)  # failed: hz unreachable, within budget
    rb = submitted(p)
    job = coord.job(rb)
    assert [(h["host"], h["state"], h["phase"]) for h in job["hosts"]] == \
        [("hw", "succeeded", "run"), ("hz", "unreachable", "")]
    p = coord.ctl("undo", "--of", rb, "--detach")
    assert p.returncode == 0, p.stderr
    undo = p.stdout.strip()
    job = coord.job(undo)
    assert job["action"] == "undo" and job["params"] == {"of": rb}
    assert [h["host"] for h in job["hosts"]] == ["hw"] and job["policy"] == CAREFUL
    # Let it end (its preflight finds no snapshot of a dry run) before the host goes.
    coord.wait_job(undo, lambda j: j["state"] not in ("running", "paused"), "the undo to end")


def test_dry_runs_show_each_hosts_difference(fleet):
    """Issue 16: `rollback --dry-run` and `undo --of J --dry-run` show, per host, how the
    container they would run differs from the one that runs: a block under the host with
    exactly the differences (the image, its version, the images' own env and label), the
    operator's own flags (a name, an env, a label, a bind path with spaces, a restart policy)
    among what is unchanged, never the metadb password; -o json carries the list; `watch`
    shows the blocks too. Before:
    the agent's "would create NAME with: {spec JSON}", cut, and undo had no dry run."""
    fleet.start()
    host = fleet.add_agent("h1", beat=True).host
    extra = os.path.join(host.dir, "odc extra dir")
    os.makedirs(extra)
    host.engine.docker("rm", "-f", host.name)
    args = host.docker_run_args(host.images.new, extra_env={"ODC_SITE": "hz"})
    host.engine.docker("run", *args[:-1], "--label", "com.example.owner=dba", "-v",
                       f"{extra}:/opt/odc/extra", "--restart", "on-failure:3", args[-1])
    host.wait_healthy(odcworld.NEW_VERSION, timeout=60)
    old, new = host.images.old, host.images.new
    env = {v: [e[10:] for e in host.engine.inspect(i)["Config"]["Env"] if e.startswith("JAVA_OPTS=")][0]
           for v, i in (("old", old), ("new", new))}

    def block(out, frm, to, jfrom, jto, vfrom, vto):
        lines = out[out.index(f"\nh1  {host.name}: {frm} -> {to}\n") + 1:].splitlines()
        assert lines[1:6] == [
            f"    image    {frm} -> {to}",
            f"    version  {vfrom} -> {vto}",
            f"    env      JAVA_OPTS  {jfrom} -> {jto}",
            f"    label    org.opencontainers.image.version  {vfrom} -> {vto}",
            lines[5]], out
        assert lines[5].startswith("    unchanged: "), out
        for part in (f"name {host.name}", "binds (3)", "network host", "memory 8G", "cpus 4",
                     "restart on-failure:3", "labels (2 more)"):
            assert part in lines[5], lines[5]

    rb = ["--backup", host.backup_dir, "--host", "h1", "--accept-unverified"]
    r = fleet.ctl("rollback", "--to", odcworld.OLD_VERSION, *rb, "--dry-run", json_out=False,
                  timeout=120)
    assert r.rc == 0, r
    block(r.out, new, old, env["new"], env["old"], odcworld.NEW_VERSION, odcworld.OLD_VERSION)
    assert host.password not in r.out + r.err
    r = fleet.ctl("rollback", "--to", odcworld.OLD_VERSION, *rb, "--dry-run", timeout=120)
    assert r.rc == 0 and host.password not in json.dumps(r.out), r
    diffs = [x["diff"] for x in job_results(r.out)["h1"] if "diff" in x]
    assert diffs and diffs[-1] == [
        {"field": "Image", "from": new, "to": old},
        {"field": "Image.version", "from": odcworld.NEW_VERSION, "to": odcworld.OLD_VERSION},
        {"field": "Env.JAVA_OPTS", "from": env["new"], "to": env["old"]},
        {"field": "Labels.org.opencontainers.image.version", "from": odcworld.NEW_VERSION,
         "to": odcworld.OLD_VERSION}], diffs
    # `odcctl watch` of that job, once it ended, ends with the same blocks as the command.
    w = fleet.ctl("watch", r.out["job_id"], json_out=False, timeout=60)
    assert w.rc == 0, w
    block(w.out, new, old, env["new"], env["old"], odcworld.NEW_VERSION, odcworld.OLD_VERSION)
    # The rollback itself, then its undo's dry run: the way back, the other way round.
    r = fleet.ctl("rollback", "--to", odcworld.OLD_VERSION, *rb, timeout=240)
    assert r.rc == 0, r
    job = r.out["job_id"]
    r = fleet.ctl("undo", "--of", job, "--dry-run", json_out=False, timeout=120)
    assert r.rc == 0, r
    block(r.out, old, new, env["old"], env["new"], odcworld.OLD_VERSION, odcworld.NEW_VERSION)
    assert host.password not in r.out + r.err
    assert host.engine.inspect(host.name)["Config"]["Image"] == old  # nothing was undone


# ---------------------------------------------------------------- tcp with CURVE


def test_tcp_curve_operator_key_works_and_others_are_refused(coord, tmp_path):
    coord.agent("h1")
    p = coord.ctl("-o", "json", "info", conf=coord.tcp_conf)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["coordinator_id"] == "coord-t"
    # A signed JOB over tcp, followed to its end.
    p = coord.ctl("exec", "ping", "--host", "h1", conf=coord.tcp_conf)
    assert p.returncode == 0, (p.stdout, p.stderr)
    j = submitted(p)
    # Mutating requests are audited under the connected operator's name.
    _, fp, _ = make_keys(AGENT, tmp_path / "h5")
    p = coord.ctl("keys", "accept", "h5", f"@{tmp_path}/h5.pub", conf=coord.tcp_conf)
    assert p.returncode == 0 and fp in p.stdout, p.stderr
    e = coord.json("audit", "--limit", "1")["audit"][0]
    assert (e["who"], e["what"], e["hosts"]) == ("operator alice", "key-accept", ["h5"])
    assert ("operator alice", "job-submit") in \
        [(x["who"], x["what"]) for x in coord.json("audit", "--job", j)["audit"]]
    # Another name than the connected operator's: DENIED.
    bob = write_conf(tmp_path / "bob.conf", endpoint=coord.tcp, operator="bob",
                     key=coord.alice_key, coordinator_key=coord.pub, timeout="5s")
    p = coord.ctl("keys", "revoke", "h5", conf=bob)
    assert p.returncode == 2 and "actor bob is not the connected operator alice (DENIED)" in \
        p.stderr, p.stderr
    # A key the coordinator does not trust: refused at the handshake, at once.
    run("keygen", tmp_path / "mallory")
    mallory = write_conf(tmp_path / "mallory.conf", endpoint=coord.tcp, operator="alice",
                         key=tmp_path / "mallory.key", coordinator_key=coord.pub, timeout="5s")
    t = time.monotonic()
    p = coord.ctl("info", conf=mallory)
    assert p.returncode == 3, p.stderr
    assert "the coordinator refused this operator key" in p.stderr
    assert time.monotonic() - t < 2.5
