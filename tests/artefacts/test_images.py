"""The container images, as an operator gets them on a host that is not Debian: `make image`
(deploy/build-image.sh) turns the Debian packages into odc-fleet-agent and odc-fleet-coordinator
images (Debian 12 root file systems by mmdebstrap, `docker import`) and saves each as a tarball.
Here the tarballs are loaded with `docker load -i` into the engine the ODC container runs on, and
both daemons run from them with the README's `docker run` lines: the coordinator with its store
and control socket on the host, the agent with the Docker socket, /etc/odc-fleet, its state
volume, the backup root and an ob-loader-dumper directory mounted (the stand-in's start scripts
need Java, which only the image has). A fleet rollback through them puts ODC back on the old
release; the agent container is then removed and created again from the image, keeps its
identity and journal, and undoes that rollback from what the journal recorded.

Needs root, the Debian mirror of this host's apt sources (mmdebstrap), and the packages: built
here once per run (conftest.deb_dir), or those ODC_DEB_DIR names. ODC_IMAGE_DIR: a directory
`make image IMAGE_DIR=...` filled, to test those tarballs instead of building them."""

import json
import os
import re
import shutil
import subprocess
import tempfile
import time

import pytest

from tests.world import loaderdir, odcworld
from tests.world.fleet import Fleet, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OLD, NEW = odcworld.OLD_VERSION, odcworld.NEW_VERSION


def version():
    with open(os.path.join(ROOT, "agent", "agent.h")) as f:
        for line in f:
            if line.startswith("#define AGENT_VERSION"):
                return line.split('"')[1]
    raise AssertionError("agent/agent.h: no AGENT_VERSION")


@pytest.fixture(scope="module")
def tarballs(request):
    """{"agent": path, "coordinator": path}: make image's tarballs, built with a throwaway
    engine of their own (the images are not left in the engine the test loads them into)."""
    given = os.environ.get("ODC_IMAGE_DIR")
    engine = odcworld.Dockerd()
    out = given or tempfile.mkdtemp(prefix="odc-images-")
    try:
        if not given:
            deb_dir = request.getfixturevalue("deb_dir")
            engine.start()
            t = time.monotonic()
            build(engine, deb_dir, out)
            print(f"make image: {time.monotonic() - t:.1f} s")
        v = version()
        found = {}
        for what in ("agent", "coordinator"):
            names = [f for f in os.listdir(out) if f.startswith(f"odc-fleet-{what}_{v}-")
                     and f.endswith(".image.tar")]
            assert len(names) == 1, (what, os.listdir(out))
            found[what] = os.path.join(out, names[0])
            assert subprocess.run(["sha256sum", "-c", names[0] + ".sha256"], cwd=out,
                                  capture_output=True).returncode == 0, names[0]
        yield found
    finally:
        engine.cleanup()
        if not given:
            shutil.rmtree(out, ignore_errors=True)


def build(engine, deb_dir, out):
    p = subprocess.run(["make", "-s", "-C", ROOT, "image", f"IMAGE_DEBS={deb_dir}",
                        f"IMAGE_DIR={out}"], capture_output=True, text=True, timeout=1200,
                       env=dict(engine._env, DOCKER_HOST=engine.host))
    assert p.returncode == 0, f"make image: exit {p.returncode}\n{p.stdout}\n{p.stderr}"
    print(p.stderr)


def load(engine, tarball):
    """docker load -i TARBALL into engine; the image reference it loaded."""
    out = engine.docker("load", "-i", tarball, timeout=300).stdout
    refs = [ln.split(":", 1)[1].strip() for ln in out.splitlines() if ln.startswith("Loaded image:")]
    assert len(refs) == 1, out
    return refs[0]


def test_the_images_hold_what_the_daemons_need(tarballs, dockerd):
    v = version()
    agent = load(dockerd, tarballs["agent"])
    coord = load(dockerd, tarballs["coordinator"])
    try:
        assert agent == f"odc-fleet-agent:{v}" and coord == f"odc-fleet-coordinator:{v}"
        cfg = dockerd.inspect(agent)["Config"]
        assert cfg["Entrypoint"] == ["/usr/sbin/odc-agent", "-c", "/etc/odc-fleet/agent.conf"]
        assert cfg["Cmd"] == ["daemon"] and "/var/lib/odc-agent" in cfg["Volumes"]
        # --version through the entrypoint; a Java runtime that runs; the loaders' JAVA_HOME.
        r = dockerd.docker("run", "--rm", agent, "--version")
        assert r.stdout.startswith(f"odc-agent {v} (protocol "), r.stdout
        r = dockerd.docker("run", "--rm", "--entrypoint", "java", agent, "-version")
        assert 'version "17' in r.stderr, r.stderr
        env = dict(e.split("=", 1) for e in cfg["Env"])
        r = dockerd.docker("run", "--rm", "--entrypoint", f"{env['JAVA_HOME']}/bin/java", agent,
                           "-version")
        assert r.returncode == 0
        # check-config without a configuration says what is missing, and exits 2.
        r = dockerd.docker("run", "--rm", agent, "check-config", check=False)
        assert r.returncode == 2 and "/etc/odc-fleet/agent.conf" in r.stderr, r
        # The example configurations are in the image (the README's first step copies one out),
        # and check-config of that example names each thing to set, at its line.
        for what in ("agent", "coordinator"):
            ex = f"/usr/share/doc/odc-fleet-{what}/examples/{what}.conf.example"
            r = dockerd.docker("run", "--rm", "--entrypoint", "cat", agent, ex)
            with open(os.path.join(ROOT, "deploy", f"{what}.conf.example")) as f:
                assert r.stdout == f.read(), ex
        r = dockerd.docker("run", "--rm", "--entrypoint", "odc-agent", agent, "-c",
                           "/usr/share/doc/odc-fleet-agent/examples/agent.conf.example",
                           "check-config", check=False)
        assert r.returncode == 2, r
        assert re.search(r"agent\.conf\.example:\d+: keys\.secret_key: /etc/odc-fleet/agent\.key: "
                         r"No such file or directory", r.stderr), r.stderr
        assert re.search(r"agent\.conf\.example: \d+ problems\n$", r.stderr), r.stderr
        cfg = dockerd.inspect(coord)["Config"]
        assert cfg["Entrypoint"] == ["/usr/sbin/odc-coordinator", "-c",
                                     "/etc/odc-fleet/coordinator.conf"]
        r = dockerd.docker("run", "--rm", "--entrypoint", "odcctl", coord, "--version")
        assert r.stdout.startswith(f"odcctl {v} "), r.stdout
        # The package's postinst ran in it: the coordinator's user and the operators' group.
        r = dockerd.docker("run", "--rm", "--entrypoint", "sh", coord, "-c",
                           "getent passwd odc-coordinator; getent group odc-operators")
        assert r.stdout.startswith("odc-coordinator:") and "odc-operators:" in r.stdout, r
    finally:
        dockerd.docker("rmi", agent, coord, check=False)


class Containers:
    """docker run -d of the daemons' images in one engine, removed at the end."""

    def __init__(self, engine):
        self.engine, self.names = engine, []

    def foreground(self, name, args, image, cmd=()):
        """The argv that runs the container attached (the Fleet's process for it): SIGTERM to
        it reaches the daemon (docker run's signal proxy); --rm removes the container after."""
        self.names.append(name)
        return ["docker", "-H", self.engine.host, "run", "--rm", "--name", name,
                *args, image, *cmd]

    def gone(self, name):
        return self.engine.inspect(name) is None

    def remove_all(self):
        for n in self.names:
            self.engine.docker("rm", "-f", n, check=False)


def test_a_fleet_rollback_through_the_daemons_images(tarballs, odc_host, dockerd):
    v = version()
    agent_image = load(dockerd, tarballs["agent"])
    coord_image = load(dockerd, tarballs["coordinator"])
    host = odc_host(start_delay_ms=300)
    top = tempfile.mkdtemp(prefix="odc images ")  # an operator's path, with a space
    fleet = Fleet(host)
    cs = Containers(dockerd)
    try:
        # The coordinator's host: /etc/odc-fleet, its store, its control socket's directory.
        cetc, cstore, crun = (os.path.join(top, "coordinator", d) for d in ("etc", "lib", "run"))
        for d in (cetc, cstore, crun):
            os.makedirs(d)
        os.chmod(crun, 0o750)
        shutil.copy(fleet.coordinator_key_path, os.path.join(cetc, "coordinator.key"))
        os.chmod(os.path.join(cetc, "coordinator.key"), 0o600)
        fleet.write_conf(**{"coordinator.state_dir": "/var/lib/odc-coordinator",
                            "keys.secret_key": "/etc/odc-fleet/coordinator.key",
                            "control.socket": "/run/odc-coordinator/control.sock"})
        shutil.copy(fleet.conf, os.path.join(cetc, "coordinator.conf"))
        # odcctl on the host reaches the socket through the bound directory.
        fleet.control_socket = os.path.join(crun, "control.sock")
        fleet.write_ctl_conf(**{"odcctl.endpoint": f"ipc://{fleet.control_socket}"})
        fleet.start(timeout=60, launch=cs.foreground(
            "odc-fleet-coordinator", ["--network", "host",
                                      "-v", f"{cetc}:/etc/odc-fleet:ro",
                                      "-v", f"{cstore}:/var/lib/odc-coordinator",
                                      "-v", f"{crun}:/run/odc-coordinator"], coord_image))

        # The agent's host: the same engine as ODC's, /etc/odc-fleet, /var/lib/odc-agent, the
        # backup root where it is, ob-loader-dumper unpacked under /opt.
        aetc, astate = os.path.join(top, "agent", "etc"), os.path.join(top, "agent", "state")
        loaders = loaderdir.make(os.path.join(top, "agent", "ob-loader-dumper"))
        os.makedirs(aetc)
        os.makedirs(astate, mode=0o700)
        agent = fleet.make_agent("img1", conf_over={
            "agent.state_dir": "/var/lib/odc-agent",
            "keys.secret_key": "/etc/odc-fleet/agent.key",
            "docker.socket": "/var/run/docker.sock",
            "metadb.password_file": "/etc/odc-fleet/metadb.password",
            "loader.obloader": "/opt/ob-loader-dumper/bin/obloader",
            "loader.obdumper": "/opt/ob-loader-dumper/bin/obdumper",
            "paths.snapshot_root": "/var/lib/odc-agent/snapshots",
            "paths.backup_roots": host.dir,
        }, host=host)
        shutil.copy(agent.conf, os.path.join(aetc, "agent.conf"))
        shutil.copy(agent.key_path, os.path.join(aetc, "agent.key"))
        shutil.copy(host.password_file, os.path.join(aetc, "metadb.password"))
        for f in ("agent.key", "metadb.password"):
            os.chmod(os.path.join(aetc, f), 0o600)
        agent_run = cs.foreground("odc-fleet-agent", [
            "--network", "host",
            "-v", f"{dockerd.socket}:/var/run/docker.sock",
            "-v", f"{aetc}:/etc/odc-fleet:ro",
            "-v", f"{astate}:/var/lib/odc-agent",
            "-v", f"{host.dir}:{host.dir}",
            "-v", f"{loaders}:/opt/ob-loader-dumper"], agent_image)
        agent.daemon.launch = agent_run
        fleet.accept("img1", "@" + agent.pub_path)
        agent.start()
        fleet.wait_online("img1", timeout=60, beat=True)
        h = fleet.hosts()["img1"]
        assert h["odc"]["version"].startswith(NEW) and h["agent_version"] == v, h

        # The fleet rollback, through both images.
        job = fleet.submit("rollback", "--to", OLD, "--backup", host.backup_dir, "--all",
                           "--accept-unverified")
        j = fleet.wait_job(job, timeout=240)
        assert j["state"] == "succeeded", json.dumps(j, indent=1)[:4000] + agent.log()[-4000:]
        assert host.info_version().startswith(OLD)
        assert max(host.history_versions(), key=odcworld.version_key).startswith(OLD)
        kept = odcworld.containers_named(host, f"{host.name}-rolledback-")
        assert len(kept) == 1 and not kept[0]["State"]["Running"]
        # The snapshot is in the agent's state volume, on the host.
        assert os.path.isdir(os.path.join(astate, "snapshots", job))

        # The agent container removed and created again: same key, same journal.
        assert agent.stop(timeout=60) == 0
        wait_for(lambda: cs.gone("odc-fleet-agent"), 30, "the agent container's removal")
        agent.start()
        wait_for(lambda: dockerd.is_running("odc-fleet-agent"), 60, "the new agent container")
        wait_for(lambda: "connected to the coordinator" in agent.log().partition("==== life 2")[2],
                 60, "the new agent's connection")
        fleet.wait_online("img1", timeout=60, beat=True)
        journal = dockerd.docker("exec", "odc-fleet-agent", "odc-agent", "-c",
                                 "/etc/odc-fleet/agent.conf", "journal", job).stdout
        assert f"job {job}: rollback, phase run, succeeded" in journal, journal
        # ... and it undoes the rollback from what that journal recorded.
        undo = fleet.submit("undo", "--of", job)
        j = fleet.wait_job(undo, timeout=240)
        assert j["state"] == "succeeded", json.dumps(j, indent=1)[:4000] + agent.log()[-4000:]
        assert host.info_version().startswith(NEW)
        # The coordinator recreated as well keeps its store: both jobs are there.
        assert fleet.stop(timeout=30) == 0
        wait_for(lambda: cs.gone("odc-fleet-coordinator"), 30, "the coordinator's removal")
        fleet.start(timeout=60)
        ids = {x["job_id"] for x in fleet.jobs()}
        assert {job, undo} <= ids, ids
    finally:
        try:
            fleet.close()
        finally:
            cs.remove_all()
            dockerd.docker("rmi", agent_image, coord_image, check=False)
            shutil.rmtree(top, ignore_errors=True)


def test_odcctl_alone_runs_where_there_is_no_c_library(fleet):
    """make odcctl-tarball, unpacked into a root file system of busybox alone (no C library,
    no loader: nothing of this host's), drives a coordinator over its tcp control endpoint as an
    operator's workstation does: the program, its libraries and its loader are all its own."""
    v = version()
    out = tempfile.mkdtemp(prefix="odcctl-tarball-")
    root = tempfile.mkdtemp(prefix="odc workstation ")
    try:
        build = os.environ.get("ODC_BUILD", "build")
        p = subprocess.run(["make", "-s", "-C", ROOT, "odcctl-tarball", f"BUILD={build}",
                            f"ODCCTL_DIR={out}"], capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, f"make odcctl-tarball: exit {p.returncode}\n{p.stdout}\n{p.stderr}"
        tarball = p.stdout.strip().splitlines()[-1]
        assert os.path.basename(tarball) == f"odcctl-{v}-linux-{os.uname().machine}.tar.gz"
        assert subprocess.run(["sha256sum", "-c", os.path.basename(tarball) + ".sha256"],
                              cwd=out, capture_output=True).returncode == 0

        # The workstation: busybox, /tmp, and the tarball under /opt; odcctl on PATH by a link.
        for d in ("bin", "opt", "tmp", "etc", "usr/local/bin", "root/.config/odc-fleet"):
            os.makedirs(os.path.join(root, d), exist_ok=True)
        shutil.copy("/bin/busybox", os.path.join(root, "bin", "busybox"))
        for applet in ("sh", "dirname", "readlink", "cat", "ls"):
            os.symlink("busybox", os.path.join(root, "bin", applet))
        subprocess.run(["tar", "-xzf", tarball, "-C", os.path.join(root, "opt")], check=True)
        os.symlink(f"/opt/odcctl-{v}/bin/odcctl", os.path.join(root, "usr/local/bin/odcctl"))
        assert not os.path.exists(os.path.join(root, "lib")) and \
            not os.path.exists(os.path.join(root, "lib64"))

        # The coordinator's control endpoint on tcp, the operator's key on the workstation.
        tcp = f"tcp://127.0.0.1:{odcworld.free_port()}"
        fleet.write_conf(**{"control.tcp": tcp})
        fleet.start()
        shutil.copy(fleet.operator_key_path, os.path.join(root, "root/.config/odc-fleet/alice.key"))
        os.chmod(os.path.join(root, "root/.config/odc-fleet/alice.key"), 0o600)
        with open(fleet.coordinator_pub_path) as f:
            coord_pub = f.read().split()[0]
        with open(os.path.join(root, "root/.config/odc-fleet/odcctl.conf"), "w") as f:
            f.write(f"[odcctl]\nendpoint = {tcp}\noperator = alice\n"
                    f"key = /root/.config/odc-fleet/alice.key\ncoordinator_key = {coord_pub}\n")

        def ws(*args):
            return subprocess.run([shutil.which("chroot"), root, "/usr/local/bin/odcctl", *args],
                                  capture_output=True, text=True, timeout=60,
                                  env={"PATH": "/usr/local/bin:/bin", "HOME": "/root"})

        r = ws("--version")
        assert r.returncode == 0 and r.stdout.startswith(f"odcctl {v} "), r
        r = ws("-o", "json", "info")
        assert r.returncode == 0, r
        assert json.loads(r.stdout)["coordinator_id"] == fleet.coordinator_id, r.stdout
        # A signed change from the workstation: a ping job of a host, followed to its end.
        fleet.add_agent("ws1")
        r = ws("exec", "ping", "--host", "ws1", "--yes")
        assert r.returncode == 0, r
        assert "succeeded" in r.stdout, r.stdout
        # Its messages name it odcctl, not the loader.
        r = ws("no-such-command")
        assert r.returncode == 2 and r.stderr.startswith("odcctl"), r
    finally:
        shutil.rmtree(out, ignore_errors=True)
        shutil.rmtree(root, ignore_errors=True)
