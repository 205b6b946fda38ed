"""Fixtures of the integration test world (see tests/world/odcworld.py for the classes).

  mariadb     session   MariaDB: host, port, socket, dir; sql(), create_db_user(), ...
  dockerd     session   Dockerd: socket, host, dir; docker(*args), inspect(), ...
  odc_images  session   OdcImages: repository, old ("...:4.2.0"), new ("...:4.3.0"), engine,
                        broken(TAG): a broken release, built when first asked for
  odc_host    function  factory: odc_host(upgrade=True, start_delay_ms=1000, password=None,
                        engine=None, images=None, metadb=None, db_host=None,
                        http_host="127.0.0.1") -> OdcHost after a failed upgrade
  ha_engines  session   [(Dockerd, OdcImages)] x HA_NODES: one private engine per HA node
  ha_deployment function factory: ha_deployment(upgrade=True, start_delay_ms=200)
                        -> OdcHaDeployment of HA_NODES nodes after a failed upgrade
  deb_dir     session   the directory `make deb` filled, built once per run (both xdist
                        workers share it), or ODC_DEB_DIR; its build.json says how it went

Every fixture cleans up after itself, also when a test fails; SIGTERM is turned into
KeyboardInterrupt so that pytest's teardown runs; an atexit hook stops what is left.
"""

import fcntl
import json
import os
import signal
import subprocess
import threading
import time

import pytest

from tests.world import odcworld

HA_NODES = 2


def pytest_configure(config):
    if os.geteuid() != 0:
        return
    if threading.current_thread() is threading.main_thread():
        def on_term(signum, frame):
            raise KeyboardInterrupt(f"signal {signum}")
        signal.signal(signal.SIGTERM, on_term)


# Seconds each file took in make test (tests/run-all.sh: three workers sharing the two cores;
# measured 2026-12-07). pytest-xdist's loadfile hands a worker a whole file, the next one in
# collection order when it is about to run out, so the order decides when the run ends: in
# alphabetical order test_world.py (4 to 5 min, its lock test waits 95 s) came last and one
# worker stood idle for two minutes at the end. Longest first, the short files fill the gaps.
# A file not listed goes first (unmeasured, it may be long); the list only orders, a file
# missing from it or a stale figure costs time, never a test.
FILE_SECONDS = {
    "test_agent.py": 551, "test_world.py": 337, "test_coordinator.py": 333,
    "test_agent_daemon.py": 263, "test_world_ha.py": 114, "test_guard.py": 108,
    "test_deployments.py": 107, "test_upgrade.py": 87, "test_metrics.py": 79,
    "test_bridge.py": 62, "test_sdnotify.py": 37, "test_odcctl.py": 36, "test_webhooks.py": 24,
    "test_completion.py": 13, "test_manpages.py": 13, "test_check_config.py": 12,
    "test_obtools.py": 9, "test_odcproto_selfcheck.py": 6, "test_runner.py": 5,
    "test_vectors.py": 3, "test_install.py": 3, "test_control_dir.py": 1,
}


def pytest_collection_modifyitems(config, items):
    """The files longest first (FILE_SECONDS), each file's tests in their own order."""
    def seconds(item):
        return FILE_SECONDS.get(item.path.name, float("inf"))
    items.sort(key=seconds, reverse=True)


def _need_root():
    # Not a skip: a suite that quietly does not run proves nothing. CI runs as root.
    if os.geteuid() != 0:
        pytest.fail("the integration world needs root (dockerd, mounts, network namespaces)")


@pytest.fixture(scope="session")
def mariadb():
    _need_root()
    db = odcworld.MariaDB()
    try:
        db.start()
        yield db
    finally:
        db.cleanup()


@pytest.fixture(scope="session")
def dockerd():
    _need_root()
    engine = odcworld.Dockerd()
    try:
        engine.start()
        yield engine
    finally:
        engine.cleanup()


@pytest.fixture(scope="session")
def odc_images(dockerd):
    return odcworld.OdcImages(dockerd).build()


@pytest.fixture
def odc_host(mariadb, dockerd, odc_images):
    """Factory: each call prepares one more ODC host (unique container name, port, metadb,
    user and temp dir); all of them are removed after the test."""
    hosts = []

    def make(upgrade=True, start_delay_ms=1000, password=None, engine=None, images=None,
             metadb=None, db_host=None, http_host="127.0.0.1"):
        engine = engine or dockerd
        if images is None:
            images = odc_images if engine is dockerd else odcworld.OdcImages(engine).build()
        host = odcworld.OdcHost(metadb or mariadb, engine, images,
                                start_delay_ms=start_delay_ms, db_host=db_host,
                                password=password, http_host=http_host)
        hosts.append(host)
        return host.prepare(upgrade=upgrade)

    try:
        yield make
    finally:
        errors = []
        for host in reversed(hosts):
            try:
                host.cleanup()
            except Exception as e:  # clean the others anyway, then report
                errors.append(f"{host!r}: {e}")
        if errors:
            raise RuntimeError("odc_host cleanup failed: " + "; ".join(errors))


@pytest.fixture(scope="session")
def ha_engines():
    """One private engine per node of an HA deployment, with the stand-in images, shared by
    every test's deployments (each has its own metadb, containers and dirs)."""
    if os.geteuid() != 0:
        pytest.fail("the integration world needs root (dockerd, mounts)")
    pairs = odcworld.start_engines(HA_NODES)
    try:
        yield pairs
    finally:
        for engine, _ in pairs:
            engine.cleanup()


@pytest.fixture
def ha_deployment(mariadb, ha_engines):
    """Factory: an OdcHaDeployment after a failed upgrade on the session's engines; removed
    after the test."""
    made = []

    def make(upgrade=True, start_delay_ms=200):
        ha = odcworld.OdcHaDeployment(mariadb, nodes=HA_NODES,
                                      engines=[e for e, _ in ha_engines],
                                      images=[i for _, i in ha_engines],
                                      start_delay_ms=start_delay_ms)
        made.append(ha)
        return ha.prepare(upgrade=upgrade)

    try:
        yield make
    finally:
        for ha in reversed(made):
            ha.cleanup()


def tree_status():
    """Every changed, untracked and ignored file of the source tree (None: no git checkout)."""
    p = subprocess.run(["git", "-C", odcworld.REPO_ROOT, "status", "--porcelain", "--ignored",
                        "--untracked-files=all"], capture_output=True, text=True)
    return p.stdout if p.returncode == 0 else None


@pytest.fixture(scope="session")
def deb_dir(tmp_path_factory):
    """The packages of this tree: `make deb` runs once per test run, in the first worker that
    asks (the other waits on a lock in the workers' shared temporary directory, then takes the
    same packages). build.json next to them: the build's seconds, make's output, and the tree's
    state before and after it (make deb must write nothing into the tree)."""
    given = os.environ.get("ODC_DEB_DIR")
    if given:
        return given
    _need_root()
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    d = shared / "debs"
    with open(shared / "debs.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (d / "build.json").exists():
            before = tree_status()
            t = time.monotonic()
            p = subprocess.run(["make", "-s", "-C", str(odcworld.REPO_ROOT), "deb", f"DEB_DIR={d}",
                                f"BUILD={os.environ.get('ODC_BUILD', 'build')}"],
                               capture_output=True, text=True, timeout=900)
            took = time.monotonic() - t
            tail = ""
            if (d / "build.log").exists():
                tail = (d / "build.log").read_text(errors="replace")[-4000:]
            assert p.returncode == 0, f"make deb: exit {p.returncode}\n{p.stdout}\n{p.stderr}\n{tail}"
            (d / "build.json").write_text(json.dumps({
                "seconds": took, "make_output": p.stdout, "tree_before": before,
                "tree_after": tree_status()}))
    return str(d)
