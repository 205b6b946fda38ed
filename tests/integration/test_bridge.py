"""odc-agent on a host where ODC runs on Docker's default bridge, as operators run it:
`docker run -p HOSTPORT:8990 -e ODC_SERVER_PORT=8990 ...` with a Docker healthcheck, not
`--net host`. The issue's case: a rollback that recreated such a container without its
published port (or its exposed port, or its healthcheck) left ODC unreachable and the health
gate failed. Here the world's engine has a bridge of its own (dockerd.sh's bridge mode), the
metadb listens on the bridge's gateway, and ODC is reached through the published port."""

import os
import time

import pytest

from tests.world import odcworld
from tests.world.agentcli import agent, write_conf
from tests.world.odcworld import backup_state, containers_named, metadb_state

ODC_PORT = 8990  # ODC_SERVER_PORT inside the container: not ODC's default 8989


@pytest.fixture(scope="module")
def bridge_engine():
    if os.geteuid() != 0:
        pytest.fail("the integration world needs root (dockerd, bridges, mounts)")
    engine = odcworld.Dockerd(bridge="auto")
    try:
        engine.start()
        odcworld.OdcImages(engine).build()
        yield engine
    finally:
        engine.cleanup()


@pytest.fixture(scope="module")
def bridge_metadb(bridge_engine):
    """MariaDB on the bridge's gateway: the host's own address there, which containers on
    the bridge reach (and nothing off this machine does)."""
    db = odcworld.MariaDB(host=bridge_engine.bridge_gateway)
    try:
        db.start()
        yield db
    finally:
        db.cleanup()


@pytest.fixture(params=["bridge", "default"])
def bridge_host(request, bridge_engine, bridge_metadb):
    """A host after a failed upgrade, its containers on the engine's default bridge with ODC
    published and a Docker healthcheck on ODC's own port inside the container: with
    `--net bridge`, and without any --net (NetworkMode "default", the usual `docker run`)."""
    health = ["--health-cmd", f"wget -qO- http://127.0.0.1:{ODC_PORT}/api/v1/status",
              "--health-interval", "1s", "--health-timeout", "2s", "--health-retries", "3"]
    host = odcworld.OdcHost(bridge_metadb, bridge_engine, odcworld.OdcImages(bridge_engine),
                            db_host=bridge_engine.bridge_gateway, network=request.param,
                            port=ODC_PORT, run_args=health)
    try:
        yield host.prepare()
    finally:
        host.cleanup()


def wait_docker_health(host, status="healthy", timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = host.state()
        if st and (st.get("Health") or {}).get("Status") == status:
            return
        time.sleep(0.2)
    raise AssertionError(f"{host.name} not {status} within {timeout} s: {host.state()}")


def network_fields(info):
    """What makes ODC reachable, and checked, on a bridge: the container's fields a
    rollback must carry over as they were."""
    return {"HostConfig.PortBindings": info["HostConfig"]["PortBindings"],
            "HostConfig.NetworkMode": info["HostConfig"]["NetworkMode"],
            "Config.ExposedPorts": info["Config"]["ExposedPorts"],
            "Config.Healthcheck": info["Config"]["Healthcheck"]}


def test_rollback_on_bridge_keeps_published_port(bridge_host):
    host = bridge_host
    old = host.engine.inspect(host.name)
    # The operator's container, as given: on the bridge, ODC on 8990 inside, published.
    assert old["HostConfig"]["NetworkMode"] == host.network
    assert old["HostConfig"]["PortBindings"] == {
        f"{ODC_PORT}/tcp": [{"HostIp": "", "HostPort": str(host.host_port)}]}
    assert f"{ODC_PORT}/tcp" in old["Config"]["ExposedPorts"]
    assert old["Config"]["Healthcheck"]["Test"] == [
        "CMD-SHELL", f"wget -qO- http://127.0.0.1:{ODC_PORT}/api/v1/status"]
    assert f"ODC_SERVER_PORT={ODC_PORT}" in old["Config"]["Env"]
    assert f"ODC_MAPPING_PORT={host.host_port}" in old["Config"]["Env"]
    assert old["NetworkSettings"]["Networks"]["bridge"]["Gateway"] == host.engine.bridge_gateway
    assert host.info_version() == odcworld.NEW_BUILD
    wait_docker_health(host)
    before = metadb_state(host)

    conf = write_conf(host, os.path.join(host.dir, "agent.conf"),
                      **{"health.url": f"http://127.0.0.1:{host.host_port}"})
    p = agent(conf, "run", "rollback", "--accept-unverified", "--to", odcworld.OLD_VERSION,
              "--backup", host.backup_dir, "--job", "rb-bridge", check=0)
    assert "[health] ok" in p.stdout, p.stdout + p.stderr
    new = host.engine.inspect(host.name)
    kept = containers_named(host, f"{host.name}-rolledback-")
    assert len(kept) == 1 and kept[0]["Id"] == old["Id"], kept
    assert new["Id"] != old["Id"] and new["Config"]["Image"] == host.images.old
    want, got = network_fields(kept[0]), network_fields(new)
    for field, value in want.items():
        assert got[field] == value, (field, value, got[field])
    for e in (f"ODC_SERVER_PORT={ODC_PORT}", f"ODC_MAPPING_PORT={host.host_port}"):
        assert e in new["Config"]["Env"], (e, new["Config"]["Env"])
    assert new["NetworkSettings"]["Networks"]["bridge"]["Gateway"] == host.engine.bridge_gateway
    # ODC answers on the published port, at 4.2.0, and Docker's own check passes.
    assert host.info_version() == odcworld.OLD_BUILD
    wait_docker_health(host)
    assert metadb_state(host)["tables"] == backup_state(host, host.backup_dir)

    p = agent(conf, "run", "undo", "--of", "rb-bridge", check=0)
    assert "[health] ok" in p.stdout, p.stdout + p.stderr
    now = host.engine.inspect(host.name)
    assert now["Id"] == old["Id"]  # the kept container, started again
    assert network_fields(now) == network_fields(old)
    assert host.info_version() == odcworld.NEW_BUILD
    wait_docker_health(host)
    assert metadb_state(host) == before


def test_bridge_engine_removes_its_bridge(bridge_engine):
    """The world's own promise: a bridge-mode engine has a bridge and a subnet of its own
    (not the other engine's), and stop() takes the bridge away; stopping twice is fine."""
    engine = odcworld.Dockerd(bridge="auto")
    try:
        engine.start()
        assert engine.bridge_name != bridge_engine.bridge_name
        assert engine.bridge_cidr != bridge_engine.bridge_cidr
        assert engine.bridge_cidr.startswith("10.213.")
        link = odcworld.run(["ip", "-4", "-o", "addr", "show", "dev", engine.bridge_name])
        assert engine.bridge_cidr in link.stdout
        net = engine.inspect("bridge")
        assert net["IPAM"]["Config"][0]["Gateway"] == engine.bridge_gateway
        engine.stop()
        gone = odcworld.run(["ip", "link", "show", engine.bridge_name], check=False)
        assert gone.returncode != 0, gone.stdout
        assert f'Device "{engine.bridge_name}" does not exist.' in gone.stderr, gone
        engine.stop()
    finally:
        engine.cleanup()
