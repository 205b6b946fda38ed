"""The Debian packages, as an administrator gets them: `make deb` builds odc-fleet-agent and
odc-fleet-coordinator (with odcctl) from deploy/debian in a clean copy of the sources, and lintian
finds no error in them; each package holds its files with their modes; `apt install` of both
into a fresh Debian 12 chroot (mmdebstrap, from this host's Debian mirror) resolves their
dependencies, creates the coordinator's user and the operators' group, and enables and starts
nothing. Then, inside that chroot, the installed programs do what the deployment steps say: keys
from the installed keygens, configurations from the installed examples, each unit's check-config,
the coordinator as odc-coordinator with the group odc-operators (as its unit runs it), the agent
as root with no Docker engine, and an operator in odc-operators who accepts the agent's key with
the installed odcctl and sees the host online. Last, a purge leaves the administrator's keys,
configurations and state.

Needs root (mmdebstrap, chroot) and the Debian mirror of this host's apt sources. Set
ODC_DEB_DIR to a directory that `make deb DEB_DIR=...` filled to test those packages instead of
building them here."""

import configparser
import glob
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
import warnings

import pytest

from tests.world import odcworld

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BUILD = os.environ.get("ODC_BUILD", "build")

AGENT, COORD = "odc-fleet-agent", "odc-fleet-coordinator"
HOST_ID = "odc-pkg-01"
OPERATOR = "alice"
# Every file of each package (directories aside) with its mode; all owned by root. The units are
# under /lib/systemd/system: bookworm's dh_installsystemd (debhelper 13.11) handles only those.
FILES = {
    AGENT: {
        "usr/sbin/odc-agent": 0o755,
        "lib/systemd/system/odc-agent.service": 0o644,
        "usr/share/man/man8/odc-agent.8.gz": 0o644,
        "usr/share/man/man5/odc-agent.conf.5.gz": 0o644,
        "usr/share/doc/odc-fleet-agent/README.md": 0o644,
        "usr/share/doc/odc-fleet-agent/README.Debian": 0o644,
        "usr/share/doc/odc-fleet-agent/changelog.Debian.gz": 0o644,
        "usr/share/doc/odc-fleet-agent/copyright": 0o644,
        "usr/share/doc/odc-fleet-agent/examples/agent.conf.example": 0o644,
        "usr/share/lintian/overrides/odc-fleet-agent": 0o644,
    },
    COORD: {
        "usr/sbin/odc-coordinator": 0o755,
        "usr/bin/odcctl": 0o755,
        "lib/systemd/system/odc-coordinator.service": 0o644,
        "usr/lib/sysusers.d/odc-fleet.conf": 0o644,
        "usr/share/man/man8/odc-coordinator.8.gz": 0o644,
        "usr/share/man/man5/odc-coordinator.conf.5.gz": 0o644,
        "usr/share/man/man1/odcctl.1.gz": 0o644,
        "usr/share/man/man5/odcctl.conf.5.gz": 0o644,
        "usr/share/bash-completion/completions/odcctl": 0o644,
        "usr/share/doc/odc-fleet-coordinator/README.md": 0o644,
        "usr/share/doc/odc-fleet-coordinator/README.Debian": 0o644,
        "usr/share/doc/odc-fleet-coordinator/changelog.Debian.gz": 0o644,
        "usr/share/doc/odc-fleet-coordinator/copyright": 0o644,
        "usr/share/doc/odc-fleet-coordinator/examples/coordinator.conf.example": 0o644,
        "usr/share/doc/odc-fleet-coordinator/examples/odcctl.conf.example": 0o644,
        "usr/share/doc/odc-fleet-coordinator/examples/odc-fleet.rules.yml": 0o644,
        "usr/share/lintian/overrides/odc-fleet-coordinator": 0o644,
    },
}
# The libraries each program links (--as-needed): the packages must depend on them.
LIB_DEPENDS = {
    AGENT: ("libzmq5", "libsodium23", "libmsgpackc2", "libjansson4", "libinih1", "libsqlite3-0",
            "libcurl4", "libmariadb3"),
    COORD: ("libzmq5", "libsodium23", "libmsgpackc2", "libjansson4", "libinih1", "libsqlite3-0"),
}


def _need_root():
    # Not a skip: see conftest.py.
    if os.geteuid() != 0:
        pytest.fail("building a chroot with mmdebstrap and running programs in it needs root")


def run(cmd, timeout=120, check=True, **kw):
    """cmd in a process group of its own, ended whole (SIGTERM, then SIGKILL) when the test is
    interrupted or times out: mmdebstrap's and apt's children must not go on writing into a
    chroot that is being removed."""
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          start_new_session=True, **kw) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except BaseException:
            end_group(proc)
            raise
    p = subprocess.CompletedProcess(cmd, proc.returncode, out, err)
    if check:
        assert p.returncode == 0, f"{shlex.join(cmd)}: exit {p.returncode}\n{p.stdout}\n{p.stderr}"
    return p


def end_group(proc, grace=10):
    """SIGTERM to proc's process group, then SIGKILL to what is left of it after proc ended or
    grace seconds passed; waits for proc."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            pass


def header_version(path, macro):
    with open(os.path.join(ROOT, path)) as f:
        m = re.search(rf'^#define\s+{macro}\s+"([^"]+)"', f.read(), re.M)
    assert m, f"{path}: no {macro}"
    return m.group(1)


# ------------------------------------------------------------------ the packages

class Debs:
    def __init__(self, directory, make_output, seconds, tree_before=None, tree_after=None):
        self.dir, self.make_output, self.seconds = directory, make_output, seconds
        self.tree_before, self.tree_after = tree_before, tree_after
        self.path = {}
        for pkg in (AGENT, COORD):
            found = glob.glob(os.path.join(directory, f"{pkg}_*.deb"))
            assert len(found) == 1, f"{directory}: {pkg}: {found}"
            self.path[pkg] = found[0]
        with open(os.path.join(directory, "lintian.txt")) as f:
            self.lintian = f.read()

    def field(self, pkg, name):
        return run(["dpkg-deb", "-f", self.path[pkg], name]).stdout.strip()

    def contents(self, pkg):
        """{path: (mode, owner, type)} from dpkg-deb -c (tar's listing)."""
        out = {}
        for line in run(["dpkg-deb", "-c", self.path[pkg]]).stdout.splitlines():
            perms, owner, _size, _date, _time, name = line.split(None, 5)
            name = name.split(" -> ")[0].removeprefix("./").rstrip("/")
            if not name:
                continue
            mode = 0
            for i, c in enumerate(perms[1:10]):
                if c != "-":
                    mode |= 1 << (8 - i)
            out[name] = (mode, owner, perms[0])
        return out

    def control_file(self, pkg, name):
        """A file of the package's control area (postinst, conffiles, ...) or None."""
        d = tempfile.mkdtemp(prefix="odc-deb-ctl-")
        try:
            run(["dpkg-deb", "-e", self.path[pkg], d])
            p = os.path.join(d, name)
            if not os.path.exists(p):
                return None
            with open(p) as f:
                return f.read()
        finally:
            shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def debs(deb_dir):
    """The packages conftest.deb_dir built (once per run) or ODC_DEB_DIR names."""
    _need_root()
    if os.environ.get("ODC_DEB_DIR"):
        return Debs(deb_dir, "", 0.0)
    with open(os.path.join(deb_dir, "build.json")) as f:
        b = json.load(f)
    print(f"make deb: {b['seconds']:.1f} s")
    return Debs(deb_dir, b["make_output"], b["seconds"], b["tree_before"], b["tree_after"])


def test_make_deb_writes_nothing_into_the_tree(debs):
    if os.environ.get("ODC_DEB_DIR"):
        pytest.skip("packages given by ODC_DEB_DIR")  # not run-all's case: it builds them
    # With DEB_DIR outside the tree, not one file in it appeared or changed state.
    assert debs.tree_before == debs.tree_after


def test_lintian_finds_no_error(debs):
    # build-debs.sh already failed on an error; this says what lintian said.
    tags = [ln for ln in debs.lintian.splitlines() if re.match(r"^[EW]: ", ln)]
    errors = [t for t in tags if t.startswith("E: ")]
    assert errors == [], debs.lintian
    for t in tags:
        warnings.warn(f"lintian: {t}")
    assert "lintian: 0 errors" in debs.make_output or os.environ.get("ODC_DEB_DIR"), debs.make_output


def test_each_package_holds_its_files_with_their_modes(debs):
    for pkg, expected in FILES.items():
        got = debs.contents(pkg)
        files = {p: m for p, (m, _, t) in got.items() if t != "d"}
        assert files == expected, pkg
        # Directories 0755; everything root's; /etc/odc-fleet is there, empty: the keys and
        # configurations in it are the administrator's, not the package's.
        for p, (m, owner, t) in got.items():
            assert owner == "root/root", (pkg, p, owner)
            if t == "d":
                assert m == 0o755, (pkg, p, oct(m))
        assert "etc/odc-fleet" in got and not [p for p in got if p.startswith("etc/odc-fleet/")]
        assert debs.control_file(pkg, "conffiles") is None, pkg


def test_control_fields(debs):
    version = header_version("agent/agent.h", "AGENT_VERSION")
    assert header_version("coordinator/coord.h", "COORD_VERSION") == version
    for pkg in (AGENT, COORD):
        assert debs.field(pkg, "Version").split("-")[0] == version, pkg
        assert debs.field(pkg, "Source") == "odc-fleet"
        assert debs.field(pkg, "Architecture") == run(["dpkg", "--print-architecture"]).stdout.strip()
        depends = debs.field(pkg, "Depends")
        for lib in LIB_DEPENDS[pkg]:
            assert re.search(rf"(^|, ){re.escape(lib)}( |,|$)", depends), (pkg, lib, depends)
    # The coordinator's postinst applies its sysusers.d file, so it needs systemd-sysusers.
    assert "systemd | systemd-standalone-sysusers" in debs.field(COORD, "Depends")
    assert "systemd-sysusers" in debs.control_file(COORD, "postinst")
    assert debs.field(AGENT, "Recommends") == "docker.io"


def test_documentation_paths_exist_in_the_package(debs):
    """make install has one /usr/share/doc/odc-fleet; the packages have one each, and their units
    and manual pages name that one."""
    for pkg in (AGENT, COORD):
        d = tempfile.mkdtemp(prefix="odc-deb-x-")
        try:
            run(["dpkg-deb", "-x", debs.path[pkg], d])
            named = set()
            for path in glob.glob(os.path.join(d, "lib/systemd/system/*.service")):
                with open(path) as f:
                    named |= set(re.findall(r"file:(/usr/share/doc/\S+)", f.read()))
            for path in glob.glob(os.path.join(d, "usr/share/man/man*/*.gz")):
                text = run(["zcat", path]).stdout.replace("\\-", "-")
                named |= set(re.findall(r"(/usr/share/doc/[\w./-]+\w)", text))
            assert named, pkg
            for p in named:
                assert p.startswith(f"/usr/share/doc/{pkg}/"), (pkg, p)
                assert os.path.isfile(d + p), (pkg, p)
        finally:
            shutil.rmtree(d, ignore_errors=True)


# ------------------------------------------------------------------ a fresh Debian 12 chroot

class Chroot:
    def __init__(self, root):
        self.root = root
        self.procs = []

    def path(self, p):
        return os.path.join(self.root, p.lstrip("/"))

    def run(self, *cmd, user=None, group=None, groups=None, env=None, timeout=60, check=True):
        """cmd inside the chroot; user: run as that user and group (default: the user's name;
        setpriv inside the chroot resolves the names there), with groups (names) as the
        supplementary groups or, by default, the user's own (as a login would)."""
        return run(self._argv(cmd, user, group, groups), timeout=timeout, check=check,
                   env=self._env(env))

    def spawn(self, log, *cmd, user=None, group=None, groups=None, env=None):
        """A daemon inside the chroot, its own process group; stdout+stderr to log (a path
        inside the chroot)."""
        with open(self.path(log), "a") as f:
            p = subprocess.Popen(self._argv(cmd, user, group, groups), stdout=f,
                                 stderr=subprocess.STDOUT, env=self._env(env), start_new_session=True)
        self.procs.append(p)
        return p

    def _argv(self, cmd, user, group, groups):
        argv = ["chroot", self.root]
        if user is not None:
            argv += ["setpriv", f"--reuid={user}", f"--regid={group or user}"]
            argv += [f"--groups={','.join(groups)}"] if groups else ["--init-groups"]
            argv.append("--")
        return argv + [str(c) for c in cmd]

    @staticmethod
    def _env(extra):
        e = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "HOME": "/root"}
        e.update(extra or {})
        return e

    def stop(self, p, timeout=10):
        """SIGTERM; the exit status (SIGKILL after timeout)."""
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(10)
        return p.returncode

    def kill_all(self):
        for p in self.procs:
            end_group(p, grace=5)

    def mounts(self):
        """Mount points inside the chroot, deepest first."""
        with open("/proc/self/mounts") as f:
            points = [ln.split()[1].replace("\\040", " ") for ln in f]
        root = os.path.realpath(self.root)
        return sorted((m for m in points if m == root or m.startswith(root + "/")),
                      key=len, reverse=True)

    def read(self, p):
        with open(self.path(p)) as f:
            return f.read()

    def write(self, p, text, mode=0o644, owner=None):
        with open(self.path(p), "w") as f:
            f.write(text)
        os.chmod(self.path(p), mode)
        if owner is not None:
            os.chown(self.path(p), *owner)

    def ids(self, name, db="passwd"):
        for line in self.read(f"/etc/{db}").splitlines():
            fields = line.split(":")
            if fields[0] == name:
                return fields
        return None


def host_sources():
    """The host's Debian sources, for mmdebstrap (None: its default, deb.debian.org)."""
    for p in ("/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"):
        if os.path.isfile(p) and os.path.getsize(p) > 0:
            return p
    return None


@pytest.fixture(scope="module")
def chroot(debs):
    _need_root()
    for tool in ("mmdebstrap", "chroot"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed (deploy/install-deps.sh installs it)")
    top = tempfile.mkdtemp(prefix="odc-chroot-")
    root = os.path.join(top, "root")
    c = Chroot(root)
    try:
        # A minimal Debian 12: the Essential packages and apt. The host's downloaded packages
        # are hard-linked into the chroot's apt cache first (same file system as /tmp here;
        # a copy otherwise), so that mostly the package lists are downloaded; the lists and
        # the cache are kept for the apt install below.
        cache = "/var/cache/apt/archives"
        link = (f'mkdir -p "$1{cache}" && find {cache} -maxdepth 1 -name "*.deb" '
                f'-exec cp -l -t "$1{cache}" {{}} + 2>/dev/null || '
                f'find {cache} -maxdepth 1 -name "*.deb" -exec cp -t "$1{cache}" {{}} + ; true')
        cmd = ["mmdebstrap", "--mode=root", "--variant=apt", "--skip=essential/unlink,cleanup/apt",
               f"--setup-hook={link}", "bookworm", root]
        if host_sources():
            cmd.append(host_sources())
        t = time.monotonic()
        run(cmd, timeout=600)
        print(f"mmdebstrap: {time.monotonic() - t:.1f} s")

        # As in a container: no service may start from a maintainer script.
        c.write("/usr/sbin/policy-rc.d", "#!/bin/sh\nexit 101\n", mode=0o755)
        run(["mount", "-t", "proc", "proc", c.path("/proc")])
        os.makedirs(c.path("/tmp/debs"), exist_ok=True)
        for p in debs.path.values():
            shutil.copy(p, c.path("/tmp/debs"))
        names = [f"/tmp/debs/{os.path.basename(p)}" for p in debs.path.values()]
        env = {"DEBIAN_FRONTEND": "noninteractive"}
        # What `apt install ./*.deb` would do, Recommends included ...
        c.simulated = c.run("apt-get", "install", "-s", *names, env=env).stdout
        # ... and the install itself without them (docker.io and its engine are not needed here).
        t = time.monotonic()
        c.installed = c.run("apt-get", "install", "-y", "--no-install-recommends", *names,
                            env=env, timeout=600).stdout
        print(f"apt-get install: {time.monotonic() - t:.1f} s")
        yield c
    finally:
        c.kill_all()
        for m in c.mounts():
            subprocess.run(["umount", m], capture_output=True)
        for m in c.mounts():
            subprocess.run(["umount", "-l", m], capture_output=True)
        if c.mounts():
            raise RuntimeError(f"still mounted in {root}: {c.mounts()}; not removing it")
        shutil.rmtree(top, ignore_errors=True)


def test_apt_installs_both_with_their_dependencies(chroot, debs):
    sim = chroot.simulated
    assert re.search(r"^Inst docker\.io ", sim, re.M), f"docker.io is not recommended:\n{sim}"
    for pkg in (AGENT, COORD):
        st = chroot.run("dpkg-query", "-W", "-f=${Status} ${Version}", pkg).stdout
        assert st == f"install ok installed {debs.field(pkg, 'Version')}", (pkg, st)
        for lib in LIB_DEPENDS[pkg]:
            assert chroot.run("dpkg-query", "-W", "-f=${Status}", lib).stdout == "install ok installed"
    chroot.run("apt-get", "check")
    for prog in ("/usr/sbin/odc-agent", "/usr/sbin/odc-coordinator", "/usr/bin/odcctl"):
        ldd = chroot.run("ldd", prog).stdout
        assert "not found" not in ldd, (prog, ldd)
        assert chroot.run(prog, "-h").returncode == 0
    version = header_version("agent/agent.h", "AGENT_VERSION")
    assert chroot.run("odcctl", "--version").stdout.startswith(f"odcctl {version} ")


def test_postinst_made_the_user_and_the_group(chroot):
    user = chroot.ids("odc-coordinator")
    assert user is not None, chroot.installed
    assert int(user[2]) < 1000
    assert user[5:7] == ["/var/lib/odc-coordinator", "/usr/sbin/nologin"]
    assert chroot.ids("odc-operators", "group") is not None
    assert chroot.ids("odc-coordinator", "group")[2] == user[3]


def test_nothing_enabled_or_started_and_no_configuration(chroot):
    for unit in ("odc-agent.service", "odc-coordinator.service"):
        p = chroot.run("systemctl", "is-enabled", unit, check=False)
        assert p.stdout.strip() == "disabled", (unit, p.stdout, p.stderr)
        assert not glob.glob(chroot.path(f"/etc/systemd/system/*.wants/{unit}"))
    assert os.listdir(chroot.path("/etc/odc-fleet")) == []
    assert not os.path.exists(chroot.path("/var/lib/odc-coordinator"))
    assert not os.path.exists(chroot.path("/var/lib/odc-agent"))


def test_manual_pages_and_completion_installed(chroot):
    for page in ("man8/odc-agent.8", "man5/odc-agent.conf.5", "man8/odc-coordinator.8",
                 "man5/odc-coordinator.conf.5", "man1/odcctl.1", "man5/odcctl.conf.5"):
        assert os.path.isfile(chroot.path(f"/usr/share/man/{page}.gz")), page
    p = chroot.run("bash", "--norc", "-c",
                   "source /usr/share/bash-completion/completions/odcctl && complete -p odcctl")
    assert "_odcctl" in p.stdout


def test_installed_units_verify(chroot):
    """systemd-analyze verify of the installed units against the chroot (--root: the ExecStart
    programs, the targets); man(1) reads the chroot's pages for Documentation=man:."""
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.fail("systemd-analyze is not installed (Debian's systemd package has it)")
    units = ["/lib/systemd/system/odc-agent.service", "/lib/systemd/system/odc-coordinator.service"]
    p = run([tool, "verify", f"--root={chroot.root}"] + units, check=False,
            env=dict(os.environ, MANPATH=chroot.path("/usr/share/man")))
    assert p.returncode == 0 and p.stdout.strip() == "" and p.stderr.strip() == "", \
        f"exit {p.returncode}\n{p.stdout}\n{p.stderr}"


def unit_command(chroot, unit, key):
    """The unit's KEY= command line (ExecStart, ExecStartPre), as argv."""
    values = [ln.split("=", 1)[1] for ln in chroot.read(f"/lib/systemd/system/{unit}").splitlines()
              if ln.startswith(key + "=")]
    assert len(values) == 1, (unit, key, values)
    return shlex.split(values[0])


def unit_value(chroot, unit, key):
    return unit_command(chroot, unit, key)[0]


def write_ini(chroot, path, example, values, mode=0o644, owner=None):
    """path (in the chroot) from the installed example with values {"section.key": value}."""
    cp = configparser.ConfigParser(interpolation=None, comment_prefixes=(";", "#"),
                                   inline_comment_prefixes=None)
    cp.optionxform = str
    cp.read_string(chroot.read(example))
    for k, v in values.items():
        section, key = k.split(".", 1)
        if not cp.has_section(section):
            cp.add_section(section)
        cp[section][key] = v
    text = "".join(f"[{s}]\n" + "".join(f"{k} = {v}\n" for k, v in cp[s].items()) + "\n"
                   for s in cp.sections())
    chroot.write(path, text, mode=mode, owner=owner)


def wait_for(predicate, timeout, what, procs=()):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        for p, log in procs:
            assert p.poll() is None, f"{p.args} exited {p.returncode} while waiting for {what}:\n{log()}"
        last = predicate()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"no {what} within {timeout} s (last: {last!r})")


def test_the_agent_from_the_package_enrolls_and_goes_online(chroot):
    c = chroot
    ops_gid = int(c.ids("odc-operators", "group")[2])
    coord_uid = int(c.ids("odc-coordinator")[2])
    coord_gid = int(c.ids("odc-coordinator")[3])
    # An operator, as the deployment steps make one: a login in odc-operators.
    c.run("useradd", "--create-home", "--groups", "odc-operators", OPERATOR)
    alice = c.ids(OPERATOR)
    home = alice[5]
    alice_env = {"HOME": home, "USER": OPERATOR}

    # Keys, with the installed tools. The operator's and the coordinator's are 0600 and owned
    # by who uses them (odc-coordinator's made by root and given to it, as the steps say).
    c.run("odc-coordinator", "keygen", "/etc/odc-fleet/coordinator.key", "/etc/odc-fleet/coordinator.pub")
    os.chown(c.path("/etc/odc-fleet/coordinator.key"), coord_uid, coord_gid)
    printed = c.run("odc-agent", "keygen", "/etc/odc-fleet/agent.key", "/etc/odc-fleet/agent.pub").stdout
    curve = re.search(r"curve (SHA256:[0-9a-f]+)", printed).group(1)
    c.run("mkdir", "-p", f"{home}/.config/odc-fleet", user=OPERATOR, env=alice_env)
    c.run("odcctl", "keygen", "--kind", "operator", f"{home}/.config/odc-fleet/{OPERATOR}",
          user=OPERATOR, env=alice_env)
    for f in ("/etc/odc-fleet/coordinator.key", "/etc/odc-fleet/agent.key",
              f"{home}/.config/odc-fleet/{OPERATOR}.key"):
        assert os.stat(c.path(f)).st_mode & 0o777 == 0o600, f
    coord_pub = c.read("/etc/odc-fleet/coordinator.pub").split()[0]
    op_pub = c.read(f"{home}/.config/odc-fleet/{OPERATOR}.pub").split()[0]

    # Configurations from the installed examples, with what the steps say to set. The chroot
    # shares this host's network: a private free port; the control socket is the chroot's own.
    port = odcworld.free_port()
    doc_c, doc_a = "/usr/share/doc/odc-fleet-coordinator/examples", "/usr/share/doc/odc-fleet-agent/examples"
    write_ini(c, "/etc/odc-fleet/coordinator.conf", f"{doc_c}/coordinator.conf.example", {
        "coordinator.id": "coord-pkg",
        "agents.bind": f"tcp://127.0.0.1:{port}",
        "agents.heartbeat": "1s",
        "control.group": "odc-operators",
        "trust.operators": f"{OPERATOR}={op_pub}",
    })
    write_ini(c, "/etc/odc-fleet/agent.conf", f"{doc_a}/agent.conf.example", {
        "agent.host_id": HOST_ID,
        "trust.operators": op_pub,
        "trust.coordinators": coord_pub,
        "coordinator.endpoint": f"tcp://127.0.0.1:{port}",
        "coordinator.public_key": coord_pub,
    })
    write_ini(c, f"{home}/.config/odc-fleet/odcctl.conf", f"{doc_c}/odcctl.conf.example", {
        "odcctl.operator": OPERATOR,
        "odcctl.key": f"{home}/.config/odc-fleet/{OPERATOR}.key",
    }, mode=0o600, owner=(int(alice[2]), int(alice[3])))

    # What the administrator puts on an ODC host besides the package (README, "3.
    # Configurations"): the metadb password file, and ob-loader-dumper where the example says
    # (stand-ins: no job runs here). check-config and the daemon's start check both.
    c.write("/etc/odc-fleet/metadb.password", "s3cret\n", mode=0o600)
    os.makedirs(c.path("/opt/ob-loader-dumper/bin"), exist_ok=True)
    for tool in ("obloader", "obdumper"):
        c.write(f"/opt/ob-loader-dumper/bin/{tool}", "#!/bin/sh\nexit 1\n", mode=0o755)

    # What systemd would do before starting the units: their directories, then ExecStartPre.
    for d, mode, uid, gid in (("/var/lib/odc-coordinator", 0o700, coord_uid, coord_gid),
                              ("/run/odc-coordinator", 0o750, coord_uid, coord_gid),
                              ("/var/lib/odc-agent", 0o700, 0, 0)):
        os.makedirs(c.path(d), exist_ok=True)
        os.chmod(c.path(d), mode)
        os.chown(c.path(d), uid, gid)
    as_coord = {"user": unit_value(c, "odc-coordinator.service", "User"),
                "group": unit_value(c, "odc-coordinator.service", "Group"),
                "groups": unit_command(c, "odc-coordinator.service", "SupplementaryGroups")}
    assert as_coord == {"user": "odc-coordinator", "group": "odc-coordinator", "groups": ["odc-operators"]}
    c.run(*unit_command(c, "odc-coordinator.service", "ExecStartPre"), **as_coord)
    p = c.run(*unit_command(c, "odc-agent.service", "ExecStartPre"))
    assert f"ok (host {HOST_ID}" in p.stdout + p.stderr, p

    # The daemons, with the units' ExecStart, as the units' users. No Docker engine here.
    assert not os.path.exists(c.path("/var/run/docker.sock"))
    coord = c.spawn("/var/log/odc-coordinator.log", *unit_command(c, "odc-coordinator.service", "ExecStart"),
                    **as_coord)
    agent = c.spawn("/var/log/odc-agent.log", *unit_command(c, "odc-agent.service", "ExecStart"))
    try:
        logs = [(coord, lambda: c.read("/var/log/odc-coordinator.log")),
                (agent, lambda: c.read("/var/log/odc-agent.log"))]

        def ctl(*args, user=OPERATOR, group=None, check=True):
            env = alice_env if user == OPERATOR else {"HOME": "/nonexistent"}
            p = c.run("odcctl", "-o", "json", *args, user=user, group=group, env=env, check=False,
                      timeout=30)
            if check:
                assert p.returncode == 0, f"odcctl {args}: exit {p.returncode}\n{p.stdout}\n{p.stderr}\n" \
                                          f"{logs[0][1]()}\n{logs[1][1]()}"
            return p

        # The operator's odcctl finds its configuration in ~/.config and the socket through the group.
        wait_for(lambda: ctl("info", check=False).returncode == 0, 20, "odcctl info", logs)
        sock = os.stat(c.path("/run/odc-coordinator/control.sock"))
        assert (sock.st_gid, sock.st_mode & 0o777) == (ops_gid, 0o660)
        # Someone outside odc-operators cannot use the socket.
        c.write("/tmp/nobody-odcctl.conf", "[odcctl]\nendpoint = ipc:///run/odc-coordinator/control.sock\n"
                "timeout = 1s\n")
        p = ctl("-c", "/tmp/nobody-odcctl.conf", "info", user="nobody", group="nogroup", check=False)
        assert p.returncode == 3, (p.returncode, p.stdout, p.stderr)

        # Enrollment: pending under the fingerprint keygen printed, accepted, then online.
        pending = wait_for(lambda: json.loads(ctl("keys").stdout)["pending"], 20, "a pending key", logs)
        assert [k["curve_fingerprint"] for k in pending] == [curve]
        ctl("keys", "accept", HOST_ID, "@/etc/odc-fleet/agent.pub")

        def online():
            hosts = {h["host"]: h for h in json.loads(ctl("hosts").stdout)["hosts"]}
            h = hosts.get(HOST_ID)
            return h if h and h["status"] == "online" else None
        host = wait_for(online, 30, f"{HOST_ID} online", logs)
        assert host["agent_version"] == header_version("agent/agent.h", "AGENT_VERSION")
        assert host["labels"]  # the example's labels, sent by the agent
        # It heartbeats: the last beat moves on.
        first = host["last_beat_ms"]
        wait_for(lambda: (online() or {}).get("last_beat_ms", 0) > first, 10, "a later heartbeat", logs)

        # Both stop cleanly on SIGTERM, as systemctl stop does.
        assert c.stop(agent) == 0, c.read("/var/log/odc-agent.log")
        assert c.stop(coord) == 0, c.read("/var/log/odc-coordinator.log")
    finally:
        c.kill_all()


def test_purge_keeps_the_administrators_files(chroot):
    """After the enrollment above: purging both packages removes their files and keeps the keys,
    configurations and state, which are not theirs."""
    c = chroot
    c.run("apt-get", "purge", "-y", AGENT, COORD, env={"DEBIAN_FRONTEND": "noninteractive"})
    for p in ("/usr/sbin/odc-agent", "/usr/sbin/odc-coordinator", "/usr/bin/odcctl",
              "/lib/systemd/system/odc-agent.service", "/usr/lib/sysusers.d/odc-fleet.conf"):
        assert not os.path.exists(c.path(p)), p
    kept = sorted(os.listdir(c.path("/etc/odc-fleet")))
    assert kept == ["agent.conf", "agent.key", "agent.pub", "coordinator.conf", "coordinator.key",
                    "coordinator.pub", "metadb.password"], kept
    assert os.path.isfile(c.path("/var/lib/odc-coordinator/store.db"))
    assert c.ids("odc-coordinator") is not None
