"""`make install` into a DESTDIR, as a packager or an administrator would run it: every file and
its mode, the units' commands pointing at PREFIX/sbin, the installed programs running, the units
accepted by `systemd-analyze verify` (against the installed tree, so the commands it checks are
the installed binaries), the sysusers.d snippet applied by `systemd-sysusers` to a scratch root,
the units agreeing with the example configurations' paths, a second install changing nothing,
and an install by an unprivileged user. systemd-analyze and systemd-sysusers come with Debian
12's systemd package; when they are missing the structural checks below still run and the
verify tests fail, saying so, rather than pass without verifying."""

import configparser
import hashlib
import os
import re
import shutil
import stat
import subprocess
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BUILD = os.environ.get("ODC_BUILD", "build")

UNITS = ("odc-agent.service", "odc-coordinator.service")
EXPECTED = {
    # path under DESTDIR (PREFIX=/usr): mode
    "usr/sbin/odc-agent": 0o755,
    "usr/sbin/odc-coordinator": 0o755,
    "usr/bin/odcctl": 0o755,
    "usr/lib/systemd/system/odc-agent.service": 0o644,
    "usr/lib/systemd/system/odc-coordinator.service": 0o644,
    "usr/lib/sysusers.d/odc-fleet.conf": 0o644,
    "usr/share/doc/odc-fleet/README.md": 0o644,
    "usr/share/doc/odc-fleet/examples/agent.conf.example": 0o644,
    "usr/share/doc/odc-fleet/examples/coordinator.conf.example": 0o644,
    "usr/share/doc/odc-fleet/examples/odcctl.conf.example": 0o644,
    "usr/share/doc/odc-fleet/examples/odc-fleet.rules.yml": 0o644,
    "usr/share/man/man1/odcctl.1": 0o644,
    "usr/share/man/man5/odc-agent.conf.5": 0o644,
    "usr/share/man/man5/odc-coordinator.conf.5": 0o644,
    "usr/share/man/man5/odcctl.conf.5": 0o644,
    "usr/share/man/man8/odc-agent.8": 0o644,
    "usr/share/man/man8/odc-coordinator.8": 0o644,
    "usr/share/bash-completion/completions/odcctl": 0o644,
}


def make_install(destdir, prefix="/usr", user=None):
    cmd = ["make", "-s", "-C", ROOT, "install", f"DESTDIR={destdir}", f"BUILD={BUILD}"]
    if prefix is not None:
        cmd.append(f"PREFIX={prefix}")
    if user is not None:
        cmd = ["setpriv", f"--reuid={user}", "--regid=nogroup", "--clear-groups", "--"] + cmd
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"{' '.join(cmd)}: exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    return r


def tree(destdir):
    """Every file under destdir: relative path -> (mode, sha256)."""
    out = {}
    for d, _, files in os.walk(destdir):
        for f in files:
            p = os.path.join(d, f)
            with open(p, "rb") as fh:
                digest = hashlib.sha256(fh.read()).hexdigest()
            out[os.path.relpath(p, destdir)] = (stat.S_IMODE(os.lstat(p).st_mode), digest)
    return out


def unit(path):
    """A unit file as {section: [(key, value), ...]}; keys may repeat, order kept."""
    sections, cur = {}, None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                cur = sections.setdefault(line.strip("[]"), [])
                continue
            k, _, v = line.partition("=")
            cur.append((k, v))
    return sections


def values(sections, section, key):
    return [v for k, v in sections.get(section, []) if k == key]


def one(sections, section, key):
    v = values(sections, section, key)
    assert len(v) == 1, f"[{section}] {key}: {v}"
    return v[0]


def example_conf(name):
    cp = configparser.ConfigParser(inline_comment_prefixes=None, comment_prefixes=(";", "#"))
    cp.read(os.path.join(ROOT, "deploy", name))
    return cp


@pytest.fixture(scope="module")
def dest():
    d = tempfile.mkdtemp(prefix="odc-install-")
    try:
        make_install(d)
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def units(dest):
    return {u: unit(os.path.join(dest, "usr/lib/systemd/system", u)) for u in UNITS}


def test_every_file_with_its_mode_and_nothing_else(dest):
    got = {p: m for p, (m, _) in tree(dest).items()}
    assert got == EXPECTED
    # Nothing under /etc or /var: those are systemd's and the administrator's.
    assert sorted(os.listdir(dest)) == ["usr"]
    for p in ("odc-agent", "odc-coordinator"):
        with open(os.path.join(ROOT, BUILD, p), "rb") as a, open(os.path.join(dest, "usr/sbin", p), "rb") as b:
            assert a.read() == b.read(), f"{p} is not the build's"


def test_second_install_changes_nothing(dest):
    before = tree(dest)
    make_install(dest)
    assert tree(dest) == before


def test_units_run_the_installed_programs(dest, units):
    for name, u in units.items():
        prog = name.removesuffix(".service")
        conf = f"/etc/odc-fleet/{prog.removeprefix('odc-')}.conf"
        cmd = "run" if prog == "odc-coordinator" else "daemon"
        assert one(u, "Service", "ExecStart") == f"/usr/sbin/{prog} -c {conf} {cmd}"
        assert one(u, "Service", "ExecStartPre") == f"/usr/sbin/{prog} -c {conf} check-config"
        with open(os.path.join(dest, "usr/lib/systemd/system", name)) as f:
            text = f.read()
        assert not re.search(r"@[A-Z]+@", text), f"{name}: a placeholder was left"
        assert one(u, "Unit", "Documentation").split() == [f"man:{prog}(8)", "file:/usr/share/doc/odc-fleet/README.md"]
        assert one(u, "Service", "Restart") == "on-failure"
        assert one(u, "Service", "Type") == "notify"
        assert one(u, "Install", "WantedBy") == "multi-user.target"


def test_default_prefix_is_usr_local():
    d = tempfile.mkdtemp(prefix="odc-install-")
    try:
        make_install(d, prefix=None)
        u = unit(os.path.join(d, "usr/local/lib/systemd/system/odc-agent.service"))
        assert one(u, "Service", "ExecStart").startswith("/usr/local/sbin/odc-agent ")
        assert os.access(os.path.join(d, "usr/local/bin/odcctl"), os.X_OK)
        assert os.access(os.path.join(d, "usr/local/sbin/odc-coordinator"), os.X_OK)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_installed_programs_run(dest):
    for prog in ("usr/sbin/odc-agent", "usr/sbin/odc-coordinator", "usr/bin/odcctl"):
        r = subprocess.run([os.path.join(dest, prog), "-h"], capture_output=True, text=True, timeout=10)
        assert r.returncode == 0, f"{prog} -h: exit {r.returncode}: {r.stderr}"
        # The program's own usage on stdout, nothing on stderr.
        name = os.path.basename(prog)
        assert r.stdout.startswith(f"usage: {name} ") and r.stderr == "", (prog, r)
    r = subprocess.run([os.path.join(dest, "usr/bin/odcctl"), "--version"], capture_output=True, text=True,
                       timeout=10)
    assert r.returncode == 0
    assert re.match(r"odcctl \d+\.\d+\.\d+ ", r.stdout), r.stdout


def test_coordinator_unit_matches_its_configuration(units):
    u = units["odc-coordinator.service"]
    conf = example_conf("coordinator.conf.example")
    assert one(u, "Service", "User") == "odc-coordinator"
    assert "odc-operators" in one(u, "Service", "SupplementaryGroups").split()
    # state_dir and the control socket's directory are the ones systemd makes.
    assert "/var/lib/" + one(u, "Service", "StateDirectory") == conf["coordinator"]["state_dir"]
    assert one(u, "Service", "StateDirectoryMode") == "0700"
    sock = conf["control"]["socket"]
    assert os.path.dirname(sock) == "/run/" + one(u, "Service", "RuntimeDirectory")
    assert one(u, "Service", "RuntimeDirectoryMode") == "0750"
    assert one(u, "Service", "ReadWritePaths") == conf["coordinator"]["state_dir"]
    # The socket's chown to control.group must stay allowed (@privileged holds @chown).
    assert values(u, "Service", "SystemCallFilter") == ["@system-service"]
    for k, v in {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
                 "PrivateTmp": "yes", "PrivateDevices": "yes", "ProtectKernelTunables": "yes",
                 "ProtectKernelModules": "yes", "ProtectControlGroups": "yes",
                 "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6", "RestrictNamespaces": "yes",
                 "LockPersonality": "yes", "MemoryDenyWriteExecute": "yes",
                 "SystemCallArchitectures": "native", "CapabilityBoundingSet": ""}.items():
        assert one(u, "Service", k) == v, k


def test_agent_unit_keeps_docker_and_the_loaders_working(units):
    u = units["odc-agent.service"]
    conf = example_conf("agent.conf.example")
    assert one(u, "Service", "User") == "root"
    assert "docker.service" in one(u, "Unit", "After").split()
    assert "network-online.target" in one(u, "Unit", "Wants").split()
    assert one(u, "Service", "RestartSec") == "5s"
    assert "/var/lib/" + one(u, "Service", "StateDirectory") == conf["agent"]["state_dir"]
    # The loaders die with the agent; the next start resumes the step (see the unit's comment).
    assert one(u, "Service", "KillMode") == "control-group"
    assert values(u, "Service", "TimeoutStopSec")
    # The JVM of obloader/obdumper needs W+X memory; /var and /opt stay writable.
    assert not values(u, "Service", "MemoryDenyWriteExecute")
    assert one(u, "Service", "ProtectSystem") == "full"
    assert one(u, "Service", "RestrictAddressFamilies") == "AF_UNIX AF_INET AF_INET6"
    for k in ("NoNewPrivileges", "PrivateTmp", "ProtectKernelTunables", "ProtectKernelModules",
              "ProtectControlGroups"):
        assert one(u, "Service", k) == "yes", k


def _tool(name):
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed (Debian's systemd package has it): the units are only "
                    f"checked structurally")
    return path


def test_units_are_notify_with_a_watchdog(units):
    """Both daemons speak sd_notify (test_sdnotify.py): systemd waits for READY=1, takes
    notifications from the main process only, and restarts a loop that stops pinging."""
    for name, u in units.items():
        assert one(u, "Service", "Type") == "notify", name
        assert one(u, "Service", "NotifyAccess") == "main", name
        assert one(u, "Service", "WatchdogSec") == "30s", name
        assert one(u, "Service", "Restart") == "on-failure", name


def test_systemd_analyze_verify(dest):
    tool = _tool("systemd-analyze")
    # Verify inside a copy of the installed tree, with --root, so that the ExecStart= commands it
    # checks are the installed binaries; the host's targets and slices are copied in because
    # --root resolves dependencies inside the root too.
    root = tempfile.mkdtemp(prefix="odc-verify-")
    try:
        shutil.copytree(dest, root, dirs_exist_ok=True, symlinks=True)
        unitdir = os.path.join(root, "usr/lib/systemd/system")
        for d in ("/usr/lib/systemd/system", "/lib/systemd/system"):
            if os.path.isdir(d):
                for f in os.listdir(d):
                    src = os.path.join(d, f)
                    if f.endswith((".target", ".slice")) and os.path.isfile(src) \
                            and not os.path.exists(os.path.join(unitdir, f)):
                        shutil.copy(src, unitdir)
        # verify runs man(1) for each Documentation=man:PAGE: MANPATH points it at the installed
        # pages, so a unit naming a page that is not installed fails.
        env = dict(os.environ, MANPATH=os.path.join(root, "usr/share/man"))
        r = subprocess.run([tool, "verify", f"--root={root}"] + [f"/usr/lib/systemd/system/{u}" for u in UNITS],
                           capture_output=True, text=True, timeout=60, env=env)
        # verify exits 0 on an unknown key or a bad value, and only says so: both must be silent.
        assert r.returncode == 0 and r.stdout.strip() == "" and r.stderr.strip() == "", \
            f"exit {r.returncode}\n{r.stdout}\n{r.stderr}"
        # The check has teeth: without the binary it fails.
        os.unlink(os.path.join(root, "usr/sbin/odc-coordinator"))
        r = subprocess.run([tool, "verify", f"--root={root}", "/usr/lib/systemd/system/odc-coordinator.service"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode != 0 and "not executable" in r.stderr
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_sysusers_creates_the_user_and_the_operators_group(dest):
    tool = _tool("systemd-sysusers")
    if os.geteuid() != 0:
        pytest.fail("systemd-sysusers --root needs root")
    root = tempfile.mkdtemp(prefix="odc-sysusers-")
    try:
        os.mkdir(os.path.join(root, "etc"))
        r = subprocess.run([tool, f"--root={root}", os.path.join(dest, "usr/lib/sysusers.d/odc-fleet.conf")],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        with open(os.path.join(root, "etc/passwd")) as f:
            users = {ln.split(":")[0]: ln.strip().split(":") for ln in f}
        with open(os.path.join(root, "etc/group")) as f:
            groups = {ln.split(":")[0] for ln in f}
        assert users["odc-coordinator"][5] == "/var/lib/odc-coordinator"
        assert users["odc-coordinator"][6] == "/usr/sbin/nologin"
        assert int(users["odc-coordinator"][2]) < 1000
        assert {"odc-coordinator", "odc-operators"} <= groups
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_installed_man_pages_and_completion(dest):
    """man finds the installed pages under the prefix; bash loads the completion."""
    env = dict(os.environ, MANPATH=os.path.join(dest, "usr/share/man"), MANWIDTH="80")
    for page, section in (("odcctl", 1), ("odcctl.conf", 5), ("odc-agent", 8),
                          ("odc-coordinator", 8), ("odc-agent.conf", 5),
                          ("odc-coordinator.conf", 5)):
        p = subprocess.run(["man", "--warnings", page], env=env, capture_output=True, text=True)
        assert p.returncode == 0 and p.stderr == "", (page, p.stderr)
        # The page itself (odcctl.conf(5), not odcctl(1)), in its section, as installed.
        head = f"{page.upper()}({section})"
        assert p.stdout.splitlines()[0].split() == [head, "odc-fleet", "Manual", head], \
            (page, p.stdout[:300])
    comp = os.path.join(dest, "usr/share/bash-completion/completions/odcctl")
    p = subprocess.run(["bash", "--norc", "-c", f"source {comp}; complete -p odcctl"],
                       capture_output=True, text=True)
    assert p.returncode == 0 and "_odcctl" in p.stdout, p


def test_install_needs_no_root():
    if os.geteuid() != 0:
        pytest.fail("run as root: this test drops to nobody itself")
    d = tempfile.mkdtemp(prefix="odc-install-")
    try:
        os.chown(d, 65534, 65534)
        make_install(d, user="nobody")
        assert {p: m for p, (m, _) in tree(d).items()} == EXPECTED
        assert all(os.lstat(os.path.join(d, p)).st_uid == 65534 for p in EXPECTED)
    finally:
        shutil.rmtree(d, ignore_errors=True)
