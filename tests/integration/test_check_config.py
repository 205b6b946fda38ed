"""check-config of odc-agent and odc-coordinator (issue 16): one run reports every problem
of a configuration, each as `FILE:LINE: section.key: what is wrong`, then `FILE: N problems`,
and exits 2; the values are checked and so is what they name (key files and their modes,
endpoint hosts, the metadb password file, the loaders, the directories). The daemons refuse
to start on the same problems, printed the same way. No engine and no metadb are needed:
nothing here gets as far as using them. Paths hold spaces throughout."""

import os
import shutil
import subprocess
import tempfile
import types

import nacl.signing
import pytest

from tests.world import agentcli
from tests.world.coordpeer import write_daemon_conf
from tests.world.fleet import COORDINATOR, Fleet

NO_HOST = "tcp://no-such-host.invalid:7701"  # .invalid never resolves (RFC 6761)


def line_of(path, section, key):
    """The line (1-based) of `key = ...` in [section] of an INI file."""
    current = None
    with open(path) as f:
        for n, line in enumerate(f, 1):
            s = line.strip()
            if s.startswith("["):
                current = s[1:s.index("]")]
            elif current == section and s.split("=", 1)[0].strip() == key:
                return n
    raise AssertionError(f"{section}.{key} not in {path}")


def executable(path, mode=0o755):
    with open(path, "w") as f:
        f.write("#!/bin/sh\nexit 0\n")
    os.chmod(path, mode)
    return path


@pytest.fixture
def box():
    d = tempfile.mkdtemp(prefix="odc check config ")
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def fake_host(d):
    """What agentcli.write_conf reads of an odcworld.OdcHost, made of files in d: a password
    file (0600), two executable loaders, a backup root; the state dir and the snapshot root
    do not exist yet (the agent makes them)."""
    os.makedirs(os.path.join(d, "backups"))
    pw = os.path.join(d, "metadb password")
    fd = os.open(pw, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b"s3cret\n")
    os.close(fd)
    return types.SimpleNamespace(
        dir=os.path.join(d, "backups"), name="obodc",
        engine=types.SimpleNamespace(socket=os.path.join(d, "docker.sock")),
        images=types.SimpleNamespace(repository="oceanbase/odc"),
        db_host="127.0.0.1", db_port=2881, user="odc", tenant="", cluster="", db="odc_metadb",
        password_file=pw,
        obloader=executable(os.path.join(d, "ob loader")),
        obdumper=executable(os.path.join(d, "ob dumper")),
        snapshot_root=os.path.join(d, "agent state", "snapshots"),
        base_url="http://127.0.0.1:8989",
        log_dir=os.path.join(d, "log"), data_dir=os.path.join(d, "data"))


def agent_world(d):
    host = fake_host(d)
    peer = types.SimpleNamespace(operator_key=nacl.signing.SigningKey.generate(),
                                 coordinator_key=nacl.signing.SigningKey.generate(),
                                 endpoint="tcp://127.0.0.1:7701")
    return host, peer, nacl.signing.SigningKey.generate()


def test_agent_clean_config_is_ok(box):
    host, peer, key = agent_world(box)
    conf = os.path.join(box, "agent conf.conf")
    write_daemon_conf(host, conf, peer, key,
                      **{"agent.state_dir": os.path.join(box, "agent state")})
    p = agentcli.agent(conf, "check-config", check=0)
    assert p.stdout.startswith(f"{conf}: ok (host h1, container obodc, "), p.stdout
    assert p.stderr == ""


def test_agent_reports_every_problem(box):
    host, peer, key = agent_world(box)
    conf = os.path.join(box, "agent conf.conf")
    no_pw = os.path.join(box, "no such password")
    not_exec = executable(os.path.join(box, "ob loader 0644"), 0o644)
    root_file = os.path.join(box, "a root that is a file")
    open(root_file, "w").close()
    write_daemon_conf(host, conf, peer, key, key_mode=0o644, **{
        "agent.state_dir": os.path.join(box, "agent state"),
        "coordinator.endpoint": NO_HOST,
        "metadb.password_file": no_pw,
        "loader.obloader": not_exec,
        "paths.backup_roots": f"{host.dir}, {root_file}",
        "docker.stop_timeout": "20 parsecs",
        "agent.colour": "blue",
    })
    key_path = os.path.join(box, "agent-h1.key")
    at = lambda s, k: f"{conf}:{line_of(conf, s, k)}: {s}.{k}: "  # noqa: E731
    want = [
        at("agent", "colour") + "unknown key",
        at("keys", "secret_key") + f"{key_path}: secret key file is group/world accessible "
                                   "(mode 0644); chmod 600 it",
        at("coordinator", "endpoint") + f"{NO_HOST}: cannot resolve 'no-such-host.invalid': ",
        at("docker", "stop_timeout") + "expected a duration from 1s to 1h",
        at("metadb", "password_file") + f"{no_pw}: cannot open the metadb password file: "
                                        "No such file or directory",
        at("loader", "obloader") + f"{not_exec}: not executable by user ",
        at("paths", "backup_roots") + f"{root_file}: not a directory",
    ]
    p = agentcli.agent(conf, "check-config", check=2)
    lines = p.stderr.splitlines()
    assert p.stdout == ""
    assert len(lines) == len(want) + 1, p.stderr
    # In file order, each at its key's line.
    want.sort(key=lambda w: int(w[len(conf) + 1:].split(":", 1)[0]))
    for got, w in zip(lines, want):
        assert got.startswith(w), (got, w)
    assert lines[-1] == f"{conf}: {len(want)} problems"

    # The daemon refuses to start on the very same problems, printed the same way.
    d = agentcli.agent(conf, "daemon", check=2, timeout=30)
    assert d.stderr == p.stderr

    # Each fixed, check-config says ok; the daemon's keys were all there.
    os.chmod(key_path, 0o600)
    write_daemon_conf(host, conf, peer, key, **{"agent.state_dir": os.path.join(box, "agent state")})
    p = agentcli.agent(conf, "check-config", check=0)
    assert f"{conf}: ok (host h1" in p.stdout, p.stdout + p.stderr


def test_agent_daemon_keys_missing(box):
    """A configuration for local mode only: check-config is content, the daemon is not,
    and names every key it lacks (line 0: no such section either)."""
    host, peer, key = agent_world(box)
    conf = agentcli.write_conf(host, os.path.join(box, "local.conf"),
                               **{"agent.state_dir": os.path.join(box, "agent state")})
    p = agentcli.agent(conf, "check-config", check=0)
    assert ": ok (host h1" in p.stdout
    d = agentcli.agent(conf, "daemon", check=2, timeout=30)
    assert d.stderr.splitlines() == [
        f"{conf}:0: {k}: required key missing (daemon mode needs it)"
        for k in ("keys.secret_key", "trust.operators", "trust.coordinators",
                  "coordinator.endpoint", "coordinator.public_key")] + [f"{conf}: 5 problems"]
    # A configuration that sets one of them is for daemon mode: check-config wants them all.
    write_daemon_conf(host, conf, peer, key, omit=("trust.coordinators",),
                      **{"agent.state_dir": os.path.join(box, "agent state")})
    p = agentcli.agent(conf, "check-config", check=2)
    assert p.stderr == (f"{conf}:{line_of(conf, 'trust', 'operators') - 1}: trust.coordinators: "
                        f"required key missing (daemon mode needs it)\n{conf}: 1 problem\n")


def test_coordinator_reports_every_problem(box):
    with Fleet(None) as f:
        state_file = os.path.join(box, "state is a file")
        open(state_file, "w").close()
        sock_dir = os.path.join(box, "no such dir", "run")
        os.chmod(f.coordinator_key_path, 0o640)
        conf = f.write_conf(**{
            "coordinator.state_dir": state_file,
            "agents.bind": NO_HOST,
            "agents.heartbeat": "soon",
            "agents.colour": "blue",
            "control.socket": os.path.join(sock_dir, "control.sock"),
        })
        at = lambda s, k: f"{conf}:{line_of(conf, s, k)}: {s}.{k}: "  # noqa: E731
        want = [
            at("coordinator", "state_dir") + f"{state_file}: not a directory",
            at("keys", "secret_key") + f"{f.coordinator_key_path}: secret key file is group/world "
                                       "accessible (mode 0640); chmod 600 it",
            at("agents", "bind") + f"{NO_HOST}: cannot resolve 'no-such-host.invalid': ",
            at("agents", "heartbeat") + "expected a duration from 1s to 10m",
            at("agents", "colour") + "unknown key",
            at("control", "socket") + f"{sock_dir}: cannot be created: its parent "
                                      f"{os.path.dirname(sock_dir)} does not exist",
        ]
        p = subprocess.run([COORDINATOR, "-c", conf, "check-config"], capture_output=True,
                           text=True, timeout=30)
        assert p.returncode == 2, p
        lines = p.stderr.splitlines()
        assert len(lines) == len(want) + 1, p.stderr
        for got, w in zip(lines, want):
            assert got.startswith(w), (got, w)
        assert lines[-1] == f"{conf}: {len(want)} problems"
        # `run` refuses to start on the same problems, printed the same way.
        r = subprocess.run([COORDINATOR, "-c", conf, "run"], capture_output=True, text=True,
                           timeout=30)
        assert (r.returncode, r.stderr) == (2, p.stderr)

        # Fixed (a state dir with spaces that run will make): silent, 0.
        os.chmod(f.coordinator_key_path, 0o600)
        conf = f.write_conf(**{"coordinator.state_dir": os.path.join(box, "coordinator state")})
        p = subprocess.run([COORDINATOR, "-c", conf, "check-config"], capture_output=True,
                           text=True, timeout=30)
        assert (p.returncode, p.stdout, p.stderr) == (0, "", "")
