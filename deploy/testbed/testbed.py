#!/usr/bin/python3
"""A multi-host odc-fleet testbed on one machine (issue 5, point 1). Needs root.

    testbed.py up     --hosts N [--ha K] [--health-deadline DUR] --dir DIR
                                            bring up N simulated ODC hosts + MariaDB + coordinator;
                                            the last K hosts are the nodes of one HA deployment;
                                            DUR: the agents' health deadline (120s)
    testbed.py down   --dir DIR             remove everything `up` made (also after a crash)
    testbed.py status --dir DIR             what is up

Run it with /usr/bin/python3 (Debian's, which has pymysql). It reuses the test world: it imports
tests.world.odcworld (MariaDB, Dockerd, OdcImages, OdcHost) from the repository, which drive tests/world/{mariadb.sh,dockerd.sh,build-images.sh} and the obloader/obdumper stand-ins.
It does not import tests.world.fleet (that needs pytest and PyNaCl): keys are made with the real
`odc-coordinator keygen`, `odcctl keygen` and `odc-agent keygen`, and agents are enrolled with the
real `odcctl keys accept HOST @PUB`.

The world (names are fixed: one testbed per machine):
  bridge odctb0 in the root namespace, 10.77.0.1/24
  host hN: network namespace odctb-hN, veth odctb-hN (root side, on the bridge) <-> eth0
           (inside, 10.77.0.(10+N)/24), lo up; its own dockerd (tests/world/dockerd.sh with
           the NETNS argument: `nsenter --net=/var/run/netns/odctb-hN dockerd ...`) under
           DIR/hN/docker; images oceanbase/odc-server:4.2.0 and :4.3.0 built into it, and the
           broken releases :4.3.1-badmigrate and :4.3.1-unhealthy (tests/world/README.md) to
           try an upgrade with; ODC
           container `obodc` (--net host, seed flags and env, ODC_SERVER_PORT 8989) left at
           4.3.0 after a failed upgrade (odcworld.OdcHost.prepare(upgrade=True)) with its
           metadb odc_metadb_hN on the shared MariaDB; its pre-upgrade backup (obdumper at
           4.2.0) in DIR/hN/odcmetadb_backup; `odc-agent daemon` run with
           `nsenter --net=/var/run/netns/odctb-hN`, config DIR/hN/agent.conf, key
           DIR/hN/agent.key, state DIR/hN/agent-state, log DIR/hN/agent.log,
           connecting to tcp://10.77.0.1:7701.
  With --ha K, the last K hosts are the nodes of one HA deployment (odcworld.OdcHaDeployment on
  their engines): one metadb odc_metadb_ha (owner odc@odc_ha#c1) and one pre-upgrade backup
  (DIR/ha/odcmetadb_backup) for all of them, every node's container with the same DATABASE_*
  env; the node directories are DIR/ha/nodeI, the agents' DIR/hN as for the others.
  MariaDB (the metadb server of every host) in the root namespace on 10.77.0.1:3306, DIR/mariadb.
  odc-coordinator in the root namespace: DIR/coordinator.conf, state DIR/coordinator-state,
  control socket DIR/run/control.sock, log DIR/coordinator.log; operator alice,
  DIR/odcctl.conf (so `build/odcctl -c DIR/odcctl.conf hosts` works).

The backup path of a fleet rollback. A fleet rollback names one --backup path for every host.
The hosts here share the root filesystem, so that path is one directory for all of them. It is
laid out the way obdumper lays out a dump, by database name: DIR/backups/pre-4.3.0/data/
odc_metadb_hN/... holds each host's own pre-upgrade backup (copied from DIR/hN/odcmetadb_backup;
data/MANIFEST.bin and data/CHECKPOINT.bin of h1), and each agent reads only data/<its own database>.
Every agent has DIR/backups among its backup_roots, so
    odcctl -c DIR/odcctl.conf rollback --to 4.2.0 --backup DIR/backups/pre-4.3.0 --all
works on every host (the same idea as tests/world/fleet.py's shared_backup). On a real
fleet each host would have its own disk with its own backup at the same path; for single-node
hosts nothing tells the two apart (each reads its own database's data). The HA deployment's
backup is taken on one node, as operators do: only the first HA node's agent sees
DIR/backups/pre-4.3.0; the other nodes' agents run in a mount namespace of their own with an
empty tmpfs over it (odcworld.without_dirs; the argv is in testbed.json), and a fleet rollback
restores from the node that has it.

Binaries come from $ODC_BUILD (default /work/main/build, i.e. <repo>/build).

`down` reads DIR/testbed.json (pids, names) and also sweeps by name: netns odctb-*, links odctb*,
processes whose command line names DIR/, mounts under DIR; then removes DIR.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# A stand-alone program: the one place it finds the test world (the tests.world package).
sys.path.insert(0, str(REPO))

BUILD = Path(os.environ.get("ODC_BUILD") or REPO / "build")
COORDINATOR = BUILD / "odc-coordinator"
ODCCTL = BUILD / "odcctl"
AGENT = BUILD / "odc-agent"

PREFIX = "odctb"
BRIDGE = "odctb0"
NET = "10.77.0"
GATEWAY = f"{NET}.1"
AGENTS_PORT = 7701
DB_PORT = 3306
ODC_PORT = 8989
STATE = "testbed.json"
BACKUP_NAME = "pre-4.3.0"
OPERATOR = "alice"
MAX_HOSTS = 50
# The stand-in's broken releases (tests/world/README.md, "Broken releases"), on every host
# beside 4.2.0 and 4.3.0: an upgrade to one of them fails and is reverted.
BROKEN_TAGS = ("4.3.1-badmigrate", "4.3.1-unhealthy")


def log(msg):
    print(f"testbed: {msg}", flush=True)


def sh(*cmd, check=True, timeout=120, **kw):
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout,
                       **kw)
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} exited {p.returncode}: "
                           f"{p.stderr.strip() or p.stdout.strip()}")
    return p


def netns_name(n):
    return f"{PREFIX}-h{n}"


def host_addr(n):
    return f"{NET}.{10 + n}"


def pid_alive(pid, needle=None):
    """pid runs (and, if needle, its command line contains needle: no pid reuse)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(
            "utf-8", "replace")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return False
    if Path(f"/proc/{pid}/stat").read_text().split(") ")[-1].startswith("Z"):
        return False
    return needle is None or needle in cmdline


def load_state(d):
    try:
        return json.loads(Path(d, STATE).read_text())
    except FileNotFoundError:
        return None


def save_state(d, st):
    tmp = Path(d, STATE + ".tmp")
    tmp.write_text(json.dumps(st, indent=2) + "\n")
    os.replace(tmp, Path(d, STATE))


def write_ini(path, vals):
    sections = {}
    for k, v in vals.items():
        s, key = k.split(".", 1)
        sections.setdefault(s, []).append(f"{key} = {v}")
    with open(path, "w") as f:
        for s, lines in sections.items():
            f.write(f"[{s}]\n" + "\n".join(lines) + "\n\n")


def pub_text(path):
    return Path(path).read_text().split()[0]


def ctl(d, *args, json_out=True, timeout=30):
    cmd = [ODCCTL, "-c", Path(d, "odcctl.conf")] + (["-o", "json"] if json_out else []) + list(args)
    return sh(*cmd, check=False, timeout=timeout)


# ---------------------------------------------------------------- network

def net_up(n_hosts):
    if sh("ip", "link", "show", BRIDGE, check=False).returncode != 0:
        sh("ip", "link", "add", BRIDGE, "type", "bridge")
        sh("ip", "addr", "add", f"{GATEWAY}/24", "dev", BRIDGE)
    sh("ip", "link", "set", BRIDGE, "up")
    for n in range(1, n_hosts + 1):
        ns, peer = netns_name(n), f"{PREFIX}-h{n}p"
        sh("ip", "netns", "add", ns)
        sh("ip", "link", "add", ns, "type", "veth", "peer", "name", peer)
        sh("ip", "link", "set", ns, "master", BRIDGE)
        sh("ip", "link", "set", ns, "up")
        sh("ip", "link", "set", peer, "netns", ns)
        sh("ip", "-n", ns, "link", "set", peer, "name", "eth0")
        sh("ip", "-n", ns, "addr", "add", f"{host_addr(n)}/24", "dev", "eth0")
        sh("ip", "-n", ns, "link", "set", "eth0", "up")
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", ns, "route", "add", "default", "via", GATEWAY)


# ---------------------------------------------------------------- hosts

def world():
    from tests.world import odcworld  # see the docstring
    return odcworld


def make_host_class():
    odcworld = world()

    class TestbedHost(odcworld.OdcHost):
        """odcworld.OdcHost with fixed places instead of temp names: directory DIR/hN,
        container `obodc`, ODC_SERVER_PORT 8989 (each host has its own network namespace),
        metadb odc_metadb_hN owned by odc@odc_hN#c1, reached at 10.77.0.1; the test process
        reaches ODC at 10.77.0.(10+N) over the bridge."""

        def __init__(self, n, hdir, mariadb, engine, images, start_delay_ms=1000):
            super().__init__(mariadb, engine, images, start_delay_ms=start_delay_ms,
                             db_host=GATEWAY, http_host=host_addr(n), directory=hdir,
                             name="obodc", port=ODC_PORT, db=f"odc_metadb_h{n}",
                             tenant=f"odc_h{n}")
            self.n = n
            self.token = f"h{n}"

    return TestbedHost


def engine_up(d, n):
    """Host hN's own Docker engine in its namespace, with the stand-in images built into it:
    4.2.0 and 4.3.0, and the broken releases an upgrade can be tried with (BROKEN_TAGS)."""
    odcworld = world()
    hdir = Path(d, f"h{n}")
    hdir.mkdir(parents=True, exist_ok=True)
    engine = odcworld.Dockerd(str(hdir / "docker"), netns=netns_name(n)).start()
    odcworld._unregister(engine)  # it outlives this process: `down` stops it
    images = odcworld.OdcImages(engine)  # what OdcImages.build() does, with BROKEN_TAGS
    sh("sh", REPO / "tests" / "world" / "build-images.sh", engine.socket, images.repository,
       *images.versions, *BROKEN_TAGS, timeout=300)
    return engine, images


def host_up(d, n, mariadb, coord_pub, op_pub, host_class, health):
    """Engine, images, ODC after a failed upgrade with its backup, agent config and key."""
    t0 = time.monotonic()
    engine, images = engine_up(d, n)
    host = host_class(n, Path(d, f"h{n}"), mariadb, engine, images)
    host.prepare(upgrade=True)
    return agent_up(d, n, host, engine, images, coord_pub, op_pub, t0, health)


def ha_up(d, ns, mariadb, coord_pub, op_pub, health):
    """Hosts ns as the nodes of one HA deployment: each its own engine and namespace, one
    metadb odc_metadb_ha for all (ODC's HA: every node with the same DATABASE_* env), 4.2.0
    on every node, the one pre-upgrade backup, then 4.3.0 on every node, one after the
    other (odcworld.OdcHaDeployment)."""
    odcworld = world()
    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=len(ns)) as ex:
        pairs = list(ex.map(lambda n: engine_up(d, n), ns))
    ha = odcworld.OdcHaDeployment(mariadb, nodes=len(ns), engines=[e for e, _ in pairs],
                                  images=[i for _, i in pairs], db_host=GATEWAY,
                                  directory=str(Path(d, "ha")), name="obodc", db="odc_metadb_ha",
                                  tenant="odc_ha", ports=[ODC_PORT] * len(ns))
    odcworld._unregister(ha)
    ha.create_account()
    for node, n in zip(ha.nodes, ns):
        node.http_host = host_addr(n)  # each node in its own namespace, reached over the bridge
    ha.start_all(ha.images[0].old, odcworld.OLD_VERSION)
    ha.stop_all(remove=True)
    ha.backup()
    ha.start_all(ha.images[0].new, odcworld.NEW_VERSION)
    return [dict(agent_up(d, n, node, engine, images, coord_pub, op_pub, t0, health),
                 deployment="ha")
            for n, node, (engine, images) in zip(ns, ha.nodes, pairs)]


def agent_up(d, n, host, engine, images, coord_pub, op_pub, t0, health):
    """hN's agent configuration and key, for the ODC host (or HA node) host; health: its
    health deadline (an upgrade's health gate allows 60 s more while ODC's migration lock is
    held at that deadline)."""
    hdir = Path(d, f"h{n}")
    sh(AGENT, "keygen", hdir / "agent.key", hdir / "agent.pub")
    own_root = hdir / "backups"
    own_root.mkdir(exist_ok=True)
    write_ini(hdir / "agent.conf", {
        "agent.host_id": f"h{n}",
        "agent.labels": f"testbed=odctb, slot={n}",
        "agent.state_dir": hdir / "agent-state",
        "agent.log_level": "info",
        "keys.secret_key": hdir / "agent.key",
        "trust.operators": op_pub,
        "trust.coordinators": coord_pub,
        "coordinator.endpoint": f"tcp://{GATEWAY}:{AGENTS_PORT}",
        "coordinator.public_key": coord_pub,
        "coordinator.reconnect_max": "2s",
        "docker.socket": engine.socket,
        "docker.container": host.name,
        "docker.repository": images.repository,
        "docker.stop_timeout": "20s",
        "metadb.host": host.db_host,
        "metadb.port": host.db_port,
        "metadb.user": host.user,
        "metadb.tenant": host.tenant,
        "metadb.cluster": host.cluster,
        "metadb.password_file": host.password_file,
        "metadb.database": host.db,
        "loader.obloader": host.obloader,
        "loader.obdumper": host.obdumper,
        # Its own root first (`exec backup` writes there), then the fleet's shared one.
        "paths.backup_roots": f"{own_root}, {Path(d, 'backups')}",
        "paths.snapshot_root": host.snapshot_root,
        "deadlines.health": health,
        "health.url": f"http://127.0.0.1:{ODC_PORT}",
        "health.interval": "500ms",
        "defaults.binds": f"{host.log_dir}:/opt/odc/log, {host.data_dir}:/opt/odc/data",
    })
    return {"n": n, "id": f"h{n}", "netns": netns_name(n), "addr": host_addr(n),
            "dir": str(hdir), "docker_dir": engine.dir, "docker_socket": engine.socket,
            "db": host.db, "backup_dir": host.backup_dir, "seconds": round(time.monotonic() - t0, 1)}


def start_proc(argv, log_path):
    with open(log_path, "a") as lf:
        lf.write(f"==== {time.strftime('%F %T')}: {' '.join(map(str, argv))}\n")
        lf.flush()
        p = subprocess.Popen([str(a) for a in argv], stdout=lf, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, start_new_session=True)
    return p.pid


def shared_backup(d, hosts):
    """DIR/backups/pre-4.3.0: data/<db> of every host (see the docstring)."""
    out = Path(d, "backups", BACKUP_NAME)
    if out.exists():
        shutil.rmtree(out)
    (out / "data").mkdir(parents=True)
    first = Path(hosts[0]["backup_dir"], "data")
    for f in first.iterdir():
        if f.is_file():
            shutil.copy2(f, out / "data")
    for h in hosts:
        if not (out / "data" / h["db"]).exists():  # the nodes of a deployment share one
            shutil.copytree(Path(h["backup_dir"], "data", h["db"]), out / "data" / h["db"])
    return str(out)


def hosts_json(d):
    p = ctl(d, "hosts")
    if p.returncode != 0:
        return None
    return {h["host"]: h for h in json.loads(p.stdout)["hosts"]}


def all_ready(hs, ids, release="4.3.0"):
    if hs is None:
        return False
    for i in ids:
        h = hs.get(i)
        odc = (h or {}).get("odc") or {}
        # ODC reports its build, <release>-<release id>
        if not h or h.get("status") != "online" or \
                not (odc.get("version") or "").startswith(release + "-") \
                or odc.get("health") != "healthy":
            return False
    return True


# ---------------------------------------------------------------- commands

def running_report(d, st):
    """(everything up?, lines)."""
    lines, ok = [], True
    c = st.get("coordinator_pid")
    alive = bool(c) and pid_alive(c, str(COORDINATOR))
    ok &= alive
    lines.append(f"coordinator pid {c}: {'running' if alive else 'DOWN'}")
    m = st.get("mariadb_dir")
    mp = Path(m, "mysqld.pid") if m else None
    malive = bool(mp and mp.exists() and pid_alive(int(mp.read_text().strip())))
    ok &= malive
    lines.append(f"mariadb {GATEWAY}:{DB_PORT}: {'running' if malive else 'DOWN'}")
    netns = set(sh("ip", "netns", "list", check=False).stdout.split())
    for h in st.get("hosts", []):
        pidf = Path(h["docker_dir"], "dockerd.pid")
        dk = pidf.exists() and pid_alive(int(pidf.read_text().strip()))
        ag = bool(h.get("agent_pid")) and pid_alive(h["agent_pid"], str(AGENT))
        ns = h["netns"] in netns
        ok &= dk and ag and ns
        lines.append(f"{h['id']}: netns {h['netns']} {'up' if ns else 'MISSING'}, "
                     f"{h['addr']}, dockerd {'running' if dk else 'DOWN'}, "
                     f"agent pid {h.get('agent_pid')} {'running' if ag else 'DOWN'}")
    want = st.get("n_hosts", len(st.get("hosts", [])))
    if len(st.get("hosts", [])) < want:
        ok = False
        lines.append(f"only {len(st.get('hosts', []))} of {want} hosts were set up")
    return ok, lines


def cmd_up(args):
    d = os.path.abspath(args.dir)
    n_hosts = args.hosts
    if not 1 <= n_hosts <= MAX_HOSTS:
        sys.exit(f"testbed: --hosts must be 1..{MAX_HOSTS}")
    if args.ha and not 2 <= args.ha <= n_hosts:
        sys.exit("testbed: --ha must be 2..--hosts (the nodes of one HA deployment)")
    st = load_state(d)
    if st is not None:
        ok, lines = running_report(d, st)
        if st.get("phase") == "up" and ok:
            log(f"already up in {d} with {len(st['hosts'])} hosts (nothing done):")
            for line in lines:
                print("  " + line)
            if len(st["hosts"]) != n_hosts:
                log(f"note: it has {len(st['hosts'])} hosts, not {n_hosts}; "
                    "`down` first to change that")
            return 0
        log(f"a testbed in {d} is incomplete or partly down (phase {st.get('phase')}):")
        for line in lines:
            print("  " + line)
        sys.exit(f"testbed: run `testbed.py down --dir {d}` first")
    if sh("ip", "link", "show", BRIDGE, check=False).returncode == 0 or \
            any(x.startswith(PREFIX + "-") for x in sh("ip", "netns", "list").stdout.split()):
        sys.exit(f"testbed: {BRIDGE} or {PREFIX}-* namespaces exist but {d} has no testbed: "
                 "another testbed runs (one per machine), or a crashed one: `down --dir` it")
    for b in (COORDINATOR, ODCCTL, AGENT):
        if not os.access(b, os.X_OK):
            sys.exit(f"testbed: {b} is not built (ODC_BUILD={BUILD})")

    t0 = time.monotonic()
    os.makedirs(d, exist_ok=True)
    st = {"phase": "starting", "dir": d, "hosts": [], "n_hosts": n_hosts, "ha": args.ha,
          "mariadb_dir": os.path.join(d, "mariadb")}
    save_state(d, st)  # from now on `down` knows what to remove
    try:
        return _up(d, n_hosts, args.ha, args.health_deadline, st, t0)
    except BaseException:
        log(f"up failed; what was made stays for a post-mortem: `testbed.py down --dir {d}`")
        raise


def _up(d, n_hosts, n_ha, health, st, t0):
    odcworld = world()
    log(f"network: {BRIDGE} {GATEWAY}/24, {n_hosts} namespaces")
    net_up(n_hosts)

    log(f"mariadb on {GATEWAY}:{DB_PORT}")
    mariadb = odcworld.MariaDB(st["mariadb_dir"], host=GATEWAY, port=DB_PORT).start()
    odcworld._unregister(mariadb)

    # Keys and configuration of the coordinator and of odcctl.
    kdir = Path(d, "keys")
    kdir.mkdir(exist_ok=True)
    sh(COORDINATOR, "keygen", kdir / "coordinator.key", kdir / "coordinator.pub")
    sh(ODCCTL, "keygen", "--kind", "operator", kdir / OPERATOR)
    coord_pub, op_pub = pub_text(kdir / "coordinator.pub"), pub_text(kdir / f"{OPERATOR}.pub")
    run_dir = Path(d, "run")
    run_dir.mkdir(mode=0o750, exist_ok=True)
    os.chmod(run_dir, 0o750)
    Path(d, "backups").mkdir(exist_ok=True)
    write_ini(Path(d, "coordinator.conf"), {
        "coordinator.id": "coord-testbed",
        "coordinator.state_dir": Path(d, "coordinator-state"),
        "coordinator.log_level": "info",
        "keys.secret_key": kdir / "coordinator.key",
        "agents.bind": f"tcp://{GATEWAY}:{AGENTS_PORT}",
        "agents.heartbeat": "2s",
        "agents.lost_after": "3",
        "agents.ack_timeout": "5s",
        "control.socket": run_dir / "control.sock",
        "trust.operators": f"{OPERATOR}={op_pub}",
    })
    write_ini(Path(d, "odcctl.conf"), {
        "odcctl.endpoint": f"ipc://{run_dir / 'control.sock'}",
        "odcctl.operator": OPERATOR,
        "odcctl.key": kdir / f"{OPERATOR}.key",
        "odcctl.timeout": "10s",
    })
    st["coordinator_pid"] = start_proc([COORDINATOR, "-c", Path(d, "coordinator.conf"), "run"],
                                       Path(d, "coordinator.log"))
    save_state(d, st)
    deadline = time.monotonic() + 20
    while ctl(d, "info").returncode != 0:
        if time.monotonic() > deadline or not pid_alive(st["coordinator_pid"]):
            raise RuntimeError("the coordinator did not answer `odcctl info`; see "
                               f"{d}/coordinator.log")
        time.sleep(0.2)
    log(f"coordinator up (pid {st['coordinator_pid']}, agents tcp://{GATEWAY}:{AGENTS_PORT})")

    # The hosts, in parallel: engine, images, ODC after a failed upgrade, backup, agent config.
    # The last n_ha hosts are the nodes of one HA deployment, set up together.
    host_class = make_host_class()
    singles = list(range(1, n_hosts - n_ha + 1))
    ha_ns = list(range(n_hosts - n_ha + 1, n_hosts + 1)) if n_ha else []
    log(f"hosts h1..h{n_hosts}: dockerd, images, ODC 4.2.0 -> backup -> 4.3.0 (in parallel)"
        + (f"; h{ha_ns[0]}..h{ha_ns[-1]} are one HA deployment on metadb odc_metadb_ha" if ha_ns
           else ""))
    with ThreadPoolExecutor(max_workers=min(n_hosts, 4)) as ex:
        futs = [ex.submit(host_up, d, n, mariadb, coord_pub, op_pub, host_class, health)
                for n in singles]
        if ha_ns:
            futs.append(ex.submit(ha_up, d, ha_ns, mariadb, coord_pub, op_pub, health))
        hosts, errors = [], []
        for f in futs:
            try:
                r = f.result()
                hosts.extend(r if isinstance(r, list) else [r])
            except Exception as e:
                errors.append(e)
    st["hosts"] = sorted(hosts, key=lambda h: h["n"])
    save_state(d, st)
    if errors:
        raise RuntimeError("host setup failed: " + "; ".join(map(str, errors)))
    for h in st["hosts"]:
        log(f"{h['id']} ready in {h['seconds']} s")

    st["backup"] = shared_backup(d, st["hosts"])
    # Operators take an HA deployment's backup on one node: it is there on the first node
    # only; the other nodes' agents run where that path is empty (odcworld.without_dirs).
    ha_first = next((h["id"] for h in st["hosts"] if h.get("deployment") == "ha"), None)
    st["ha_backup_on"] = ha_first

    # Enrol (the real flow: accept each agent's public key), then start the agents in their netns.
    for h in st["hosts"]:
        p = ctl(d, "keys", "accept", h["id"], "@" + str(Path(h["dir"], "agent.pub")))
        if p.returncode != 0:
            raise RuntimeError(f"odcctl keys accept {h['id']}: {p.stderr.strip()}")
        argv = [AGENT, "-c", Path(h["dir"], "agent.conf"), "daemon"]
        if h.get("deployment") == "ha" and h["id"] != ha_first:
            argv = world().without_dirs([st["backup"]], argv)  # the backup is on one node only
        h["agent_argv"] = ["nsenter", f"--net=/var/run/netns/{h['netns']}", *map(str, argv)]
        h["agent_pid"] = start_proc(h["agent_argv"], Path(h["dir"], "agent.log"))
        save_state(d, st)
    ids = [h["id"] for h in st["hosts"]]
    deadline = time.monotonic() + 60
    while not all_ready(hosts_json(d), ids):
        if time.monotonic() > deadline:
            raise RuntimeError(f"hosts not all online with ODC 4.3.0 healthy in 60 s:\n"
                               f"{ctl(d, 'hosts', json_out=False).stdout}")
        time.sleep(0.5)

    st["phase"] = "up"
    st["up_seconds"] = round(time.monotonic() - t0, 1)
    save_state(d, st)
    print(ctl(d, "hosts", json_out=False).stdout, end="")
    log(f"up: {n_hosts} hosts in {st['up_seconds']} s")
    print(f"  odcctl:  {ODCCTL} -c {d}/odcctl.conf hosts")
    print(f"  backup:  {st['backup']}   (same path for every host"
          + (f"; of the HA deployment, on {ha_first} only)" if ha_first else ")"))
    print(f"  rollback: {ODCCTL} -c {d}/odcctl.conf rollback --to 4.2.0 "
          f"--backup {st['backup']} --all --canary 1 --batch 1")
    return 0


def cmd_status(args):
    d = os.path.abspath(args.dir)
    st = load_state(d)
    if st is None:
        log(f"no testbed in {d}")
        leftovers = sweep_report(d)
        for line in leftovers:
            print("  leftover: " + line)
        return 1 if leftovers else 0
    ok, lines = running_report(d, st)
    log(f"{d}: phase {st.get('phase')}, {len(st.get('hosts', []))} hosts, "
        f"{'all running' if ok else 'NOT all running'}")
    for line in lines:
        print("  " + line)
    if st.get("backup"):
        print(f"  backup: {st['backup']}")
    p = ctl(d, "hosts", json_out=False, timeout=15)
    print(p.stdout if p.returncode == 0 else f"  odcctl hosts: {p.stderr.strip()}", end="\n")
    return 0 if ok and st.get("phase") == "up" else 1


# ---------------------------------------------------------------- down

def procs_under(d):
    """pids (not ours) whose command line names DIR/."""
    needle = d.rstrip("/") + "/"
    out = []
    for p in Path("/proc").iterdir():
        if not p.name.isdigit() or int(p.name) == os.getpid():
            continue
        try:
            cmd = (p / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if needle in cmd:
            out.append(int(p.name))
    return out


def mounts_under(d):
    prefix = os.path.realpath(d).rstrip("/") + "/"
    with open("/proc/mounts") as f:
        return [line.split()[1].replace("\\040", " ") for line in f
                if line.split()[1].startswith(prefix)]


def links():
    return [line.split()[0].split("@")[0] for line in sh("ip", "-br", "link").stdout.splitlines()]


def sweep_report(d):
    out = []
    out += [f"netns {x}" for x in sh("ip", "netns", "list").stdout.split()
            if x.startswith(PREFIX + "-")]
    out += [f"link {x}" for x in links() if x.startswith(PREFIX)]
    out += [f"process {p}" for p in procs_under(d)]
    out += [f"mount {m}" for m in mounts_under(d)]
    return out


def terminate(pids, grace=10.0):
    for p in pids:
        try:
            os.kill(p, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(pid_alive(p) for p in pids):
        time.sleep(0.1)
    for p in pids:
        if pid_alive(p):
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass


def cmd_down(args):
    d = os.path.abspath(args.dir)
    t0 = time.monotonic()
    st = load_state(d) or {}
    world_dir = REPO / "tests" / "world"
    # 1. agents and the coordinator (pids from the state, checked against their binary),
    #    then any other odc-* process naming DIR (a crashed `up` may not have saved its pid).
    pids = [h["agent_pid"] for h in st.get("hosts", []) if h.get("agent_pid")
            and pid_alive(h["agent_pid"], str(AGENT))]
    if st.get("coordinator_pid") and pid_alive(st["coordinator_pid"], str(COORDINATOR)):
        pids.append(st["coordinator_pid"])
    for p in procs_under(d):
        if pid_alive(p, "odc-agent") or pid_alive(p, "odc-coordinator"):
            pids.append(p)
    terminate(sorted(set(pids)))
    # 2. engines (containers first; dockerd.sh stop), every DIR/h*/docker there is.
    if os.path.isdir(d):
        engines = sorted(Path(d).glob("h*/docker"))
        if engines:
            with ThreadPoolExecutor(max_workers=min(len(engines), 8)) as ex:
                list(ex.map(lambda e: sh("sh", world_dir / "dockerd.sh", "stop", e,
                                         check=False, timeout=120), engines))
        # 3. MariaDB
        if Path(d, "mariadb").is_dir():
            sh("sh", world_dir / "mariadb.sh", "stop", Path(d, "mariadb"), check=False,
               timeout=90)
    # 4. whatever still names DIR (shims, containerd, a stray mariadbd)
    terminate(procs_under(d), grace=5.0)
    # 5. network
    for ns in sh("ip", "netns", "list").stdout.split():
        if ns.startswith(PREFIX + "-"):
            sh("ip", "netns", "del", ns, check=False)
    for link in links():
        if link.startswith(PREFIX) and link != BRIDGE:
            sh("ip", "link", "del", link, check=False)
    if BRIDGE in links():
        sh("ip", "link", "del", BRIDGE, check=False)
    # 6. mounts, then the directory
    for m in sorted(mounts_under(d), reverse=True):
        sh("umount", "-l", m, check=False)
    left = sweep_report(d)
    if left:
        log("down: left over: " + ", ".join(left))
        return 1
    existed = os.path.isdir(d)
    if existed:
        shutil.rmtree(d)
    log(f"down: {d} {'removed' if existed else 'was not there'}, nothing left "
        f"({time.monotonic() - t0:.1f} s)")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="bring up N hosts + MariaDB + coordinator")
    up.add_argument("--hosts", type=int, required=True)
    up.add_argument("--dir", required=True)
    up.add_argument("--ha", type=int, default=0,
                    help="the last N hosts are the nodes of one HA deployment (one metadb)")
    up.add_argument("--health-deadline", default="120s", metavar="DUR",
                    help="the agents' [deadlines] health (default 120s); an upgrade to a "
                    "release that never becomes healthy fails then, or up to 60 s later while ODC's "
                    "migration lock is held")
    for name, h in (("down", "remove everything up made"), ("status", "what is up")):
        sub.add_parser(name, help=h).add_argument("--dir", required=True)
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("testbed: needs root (netns, bridge, dockerd)")
    return {"up": cmd_up, "down": cmd_down, "status": cmd_status}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
