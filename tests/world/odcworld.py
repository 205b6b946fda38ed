"""The test world for integration tests: a private MariaDB (the metadb), private Docker
engines, the ODC stand-in images, and ODC hosts left the way a failed upgrade leaves them.

conftest.py turns these into fixtures; tests may also use the classes directly (for example
an engine in a network namespace, or a second metadb). Everything started here is stopped by
its owner's stop()/cleanup(), and, as a last resort, at interpreter exit.
"""

import atexit
import http.client
import json
import os
import secrets
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pymysql

REPO_ROOT = Path(__file__).resolve().parents[2]
WORLD = REPO_ROOT / "tests" / "world"
OBLOADER = WORLD / "bin" / "obloader"
OBDUMPER = WORLD / "bin" / "obdumper"
IMAGE_REPOSITORY = "oceanbase/odc-server"
OLD_VERSION = "4.2.0"  # the release the fleet rolls back to (its image tag)
NEW_VERSION = "4.3.0"  # the failed upgrade
# What the stand-in's /api/v1/info reports, as release builds of ODC do: <main>-<release id>
# (oceanbase/odc script/change_version.sh, set-release; tests/world/build-images.sh).
OLD_BUILD = "4.2.0-20230916"
NEW_BUILD = "4.3.0-20240412"
BUILD_OF = {OLD_VERSION: OLD_BUILD, NEW_VERSION: NEW_BUILD}
# The stand-in's broken releases (tests/world/README.md, "Broken releases"; OdcImages.broken):
# 4.3.1 whose migration fails half-way, and 4.3.1 that migrates and then never starts.
# Both would report BROKEN_BUILD; neither ever answers.
BAD_MIGRATE_TAG = "4.3.1-badmigrate"
UNHEALTHY_TAG = "4.3.1-unhealthy"
BROKEN_TAGS = (BAD_MIGRATE_TAG, UNHEALTHY_TAG)
BROKEN_BUILD = "4.3.1-20240620"
DOCKER = os.environ.get("ODC_WORLD_DOCKER") or shutil.which("docker") or "docker"
KEEP = os.environ.get("ODC_WORLD_KEEP") == "1"  # keep temp dirs for post-mortems

from tests.world import obtools  # the backup reader shared with the stand-ins

# Whatever is still running at exit (a finaliser that never ran) is stopped here.
_live = []
_live_lock = threading.Lock()


def _register(obj):
    with _live_lock:
        _live.append(obj)


def _unregister(obj):
    with _live_lock:
        if obj in _live:
            _live.remove(obj)


@atexit.register
def _stop_leftovers():
    for obj in reversed(list(_live)):
        try:
            obj.stop()
        except Exception as e:  # best effort at exit
            sys.stderr.write(f"odcworld: cleanup of {obj!r} failed: {e}\n")


_ports_given = set()


def free_port():
    """A TCP port free on all addresses now, never handed out twice by this process."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("", 0))
            port = s.getsockname()[1]
        if port not in _ports_given:
            _ports_given.add(port)
            return port
    raise RuntimeError("no free TCP port")


def version_key(v):
    return tuple(int(x) for x in v.split("."))


def unmount_under(path):
    """Lazily unmounts whatever a test mounted under path (deepest first)."""
    prefix = os.path.realpath(path).rstrip("/") + "/"
    with open("/proc/mounts") as f:
        points = [line.split()[1].replace("\\040", " ") for line in f]
    for m in sorted((p for p in points if p.startswith(prefix)), reverse=True):
        subprocess.run(["umount", "-l", m], capture_output=True, check=False)


def _rmtree(path):
    if not path:
        return
    unmount_under(path)
    if not KEEP:
        shutil.rmtree(path, ignore_errors=True)


def run(cmd, check=True, timeout=120, **kw):
    """subprocess.run with text capture; on failure the error carries the output."""
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout,
                       **kw)
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} exited {p.returncode}\n"
                           f"stdout: {p.stdout}\nstderr: {p.stderr}")
    return p


# ---------------------------------------------------------------- MariaDB

class MetadbAccount:
    """A database and its owner, as ODC and obloader see them."""

    def __init__(self, host, port, db, user, tenant, cluster, password):
        self.host, self.port, self.db = host, port, db
        self.user, self.tenant, self.cluster, self.password = user, tenant, cluster, password
        # OceanBase's user@tenant#cluster; the MariaDB user is literally named so.
        self.login = f"{user}@{tenant}#{cluster}"

    def __repr__(self):
        return f"MetadbAccount({self.login}@{self.host}:{self.port}/{self.db})"


class MariaDB:
    """A private MariaDB server (tests/world/mariadb.sh) on host:port; root over socket."""

    def __init__(self, directory=None, host="127.0.0.1", port=None):
        self.dir = directory or tempfile.mkdtemp(prefix="odcw-db-")
        self.host = host
        self.port = port or free_port()
        self.socket = os.path.join(self.dir, "mysqld.sock")
        self.running = False

    def __repr__(self):
        return f"MariaDB({self.host}:{self.port}, {self.dir})"

    def start(self):
        _register(self)
        run(["sh", WORLD / "mariadb.sh", "start", self.dir, self.port, self.host], timeout=90)
        self.running = True
        return self

    def stop(self):
        if self.running or os.path.exists(os.path.join(self.dir, "mysqld.pid")):
            run(["sh", WORLD / "mariadb.sh", "stop", self.dir], check=False, timeout=60)
        self.running = False
        _unregister(self)

    def cleanup(self):
        self.stop()
        _rmtree(self.dir)

    def connect(self, db=None):
        return pymysql.connect(unix_socket=self.socket, user="root", database=db,
                               charset="utf8mb4", autocommit=True)

    def sql(self, stmt, args=None, db=None):
        """Runs one statement as root (in db if given); returns the rows as tuples."""
        conn = self.connect(db)
        try:
            with conn.cursor() as cur:
                cur.execute(stmt, args)
                return list(cur.fetchall())
        finally:
            conn.close()

    def create_db_user(self, db=None, user="odc", tenant=None, cluster="c1", password=None):
        """A fresh database and a user `user@tenant#cluster`@'%' with all rights on it.
        Names default to unique ones; returns a MetadbAccount."""
        token = secrets.token_hex(3)
        db = db or f"odc_metadb_{token}"
        tenant = tenant or f"t{token}"
        password = password if password is not None else f"Odc-{token}#pw!"
        acct = MetadbAccount(self.host, self.port, db, user, tenant, cluster, password)
        self.sql(f"CREATE DATABASE `{db}` DEFAULT CHARACTER SET utf8mb4")
        self.sql("CREATE USER %s@'%%' IDENTIFIED BY %s", (acct.login, password))
        self.sql(f"GRANT ALL PRIVILEGES ON `{db}`.* TO %s@'%%'", (acct.login,))
        return acct

    def drop_db_user(self, acct):
        self.sql(f"DROP DATABASE IF EXISTS `{acct.db}`")
        self.sql("DROP USER IF EXISTS %s@'%%'", (acct.login,))

    # Reading a metadb (as root, so that it works whatever the test did to the user).

    def tables(self, db):
        rows = self.sql("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA=%s "
                        "AND TABLE_TYPE='BASE TABLE' ORDER BY TABLE_NAME", (db,))
        return [r[0] for r in rows]

    def views(self, db):
        rows = self.sql("SELECT TABLE_NAME FROM information_schema.VIEWS WHERE TABLE_SCHEMA=%s "
                        "ORDER BY TABLE_NAME", (db,))
        return [r[0] for r in rows]

    def row_counts(self, db):
        return {t: self.sql(f"SELECT COUNT(*) FROM `{db}`.`{t}`")[0][0] for t in self.tables(db)}

    def columns(self, db, table):
        rows = self.sql("SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA=%s "
                        "AND TABLE_NAME=%s ORDER BY ORDINAL_POSITION", (db, table))
        return [r[0] for r in rows]

    def history_versions(self, db, success_only=True):
        if "migrate_schema_history" not in self.tables(db):
            return []
        where = " WHERE success = 1" if success_only else ""
        rows = self.sql(f"SELECT version FROM `{db}`.migrate_schema_history{where} "
                        "ORDER BY install_rank")
        return [r[0] for r in rows]

    def drop_all_tables(self, db):
        """Drops every table and view of db (ODC's metadb has both)."""
        conn = self.connect(db)
        try:
            with conn.cursor() as cur:
                cur.execute("SET SESSION foreign_key_checks = 0")
                for v in self.views(db):
                    cur.execute(f"DROP VIEW `{v}`")
                for t in self.tables(db):
                    cur.execute(f"DROP TABLE `{t}`")
        finally:
            conn.close()


# ---------------------------------------------------------------- Docker

class Dockerd:
    """A private Docker engine (tests/world/dockerd.sh), optionally in a network namespace.

    bridge: None (no bridge: containers use --net host), or "auto" / "GATEWAY/PREFIX" for an
    engine whose default network is a bridge of its own (dockerd.sh's bridge mode: published
    ports through docker-proxy, no iptables); once started, bridge_name, bridge_cidr and
    bridge_gateway (the host's address on it, which containers reach) say which."""

    def __init__(self, directory=None, netns=None, bridge=None):
        self.dir = directory or tempfile.mkdtemp(prefix="odcw-dk-")
        self.netns = netns
        self.bridge = bridge
        self.bridge_name = self.bridge_cidr = self.bridge_gateway = None
        self.socket = os.path.join(self.dir, "docker.sock")
        self.host = f"unix://{self.socket}"
        self._env = dict(os.environ, DOCKER_CONFIG=os.path.join(self.dir, "cli"))
        for k in ("DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"):
            self._env.pop(k, None)
        self.running = False

    def __repr__(self):
        return f"Dockerd({self.socket})"

    def start(self):
        _register(self)
        args = ["sh", WORLD / "dockerd.sh", "start", self.dir]
        if self.netns:
            args.append(self.netns)
        env = dict(os.environ)
        env.pop("DOCKERD_BRIDGE", None)
        if self.bridge:
            env["DOCKERD_BRIDGE"] = self.bridge
        self.socket = run(args, timeout=60, env=env).stdout.strip().splitlines()[-1]
        self.host = f"unix://{self.socket}"
        self.running = True
        if self.bridge:
            with open(os.path.join(self.dir, "bridge")) as f:
                self.bridge_name, self.bridge_cidr = f.read().split()[:2]
            self.bridge_gateway = self.bridge_cidr.split("/")[0]
        return self

    def stop(self):
        # DIR/bridge: a bridge-mode start that failed before dockerd wrote its pidfile.
        if (self.running or os.path.exists(os.path.join(self.dir, "dockerd.pid")) or
                os.path.exists(os.path.join(self.dir, "bridge"))):
            run(["sh", WORLD / "dockerd.sh", "stop", self.dir], check=False, timeout=90)
        self.running = False
        _unregister(self)

    def cleanup(self):
        self.stop()
        _rmtree(self.dir)

    def docker(self, *args, check=True, timeout=120, input=None):
        """Runs the docker CLI against this engine; returns the CompletedProcess (text)."""
        return run([DOCKER, "-H", self.host, *args], check=check, timeout=timeout,
                   input=input, env=self._env)

    def inspect(self, ref):
        """docker inspect of one object as a dict, or None when it does not exist."""
        p = self.docker("inspect", ref, check=False)
        if p.returncode != 0:
            return None
        return json.loads(p.stdout)[0]

    def container_ids(self):
        return self.docker("ps", "-aq", "--no-trunc").stdout.split()

    def is_running(self, ref):
        info = self.inspect(ref)
        return bool(info and info["State"]["Running"])


class OdcImages:
    """The stand-in images REPOSITORY:4.2.0 (old) and REPOSITORY:4.3.0 (new) in one engine,
    and on demand the broken releases (broken(): BAD_MIGRATE_TAG, UNHEALTHY_TAG)."""

    def __init__(self, engine, repository=IMAGE_REPOSITORY):
        self.engine = engine
        self.repository = repository
        self.old = f"{repository}:{OLD_VERSION}"
        self.new = f"{repository}:{NEW_VERSION}"
        self.versions = (OLD_VERSION, NEW_VERSION)
        self._built = set()

    def build(self, *tags):
        """tests/world/build-images.sh into the engine (a no-op when up to date): the tags
        named, by default 4.2.0 and 4.3.0."""
        run(["sh", WORLD / "build-images.sh", self.engine.socket, self.repository, *tags],
            timeout=300)
        self._built.update(tags or self.versions)
        return self

    def broken(self, tag):
        """The reference REPOSITORY:tag of a broken release (BROKEN_TAGS: tests/world/
        README.md, "Broken releases"), built into the engine the first time it is asked
        for (the default build leaves them out, to keep its time)."""
        if tag not in BROKEN_TAGS:
            raise ValueError(f"{tag}: not a broken release of the stand-in ({BROKEN_TAGS})")
        if tag not in self._built:
            self.build(tag)
        return f"{self.repository}:{tag}"

    def image_id(self, version):
        return self.engine.inspect(f"{self.repository}:{version}")["Id"]


# ---------------------------------------------------------------- HTTP

def http_get(host, port, path, timeout=2.0):
    """(status, body text) of GET http://host:port/path; raises OSError when unreachable."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read(65536).decode("utf-8", "replace")
    finally:
        conn.close()


# ---------------------------------------------------------------- loaders

class ToolRun:
    """One obloader/obdumper invocation: exit status, output, and its log files (in
    --log-path, else <-f DIR>/logs: obtools.log_dir_for)."""

    def __init__(self, proc, cwd):
        self.returncode = proc.returncode
        self.stdout, self.stderr = proc.stdout, proc.stderr
        self.cwd = cwd
        self.log_dir = obtools.log_dir_for(list(proc.args)[1:], str(cwd))
        self.info_log = self._read("ob-loader-dumper.info")
        self.error_log = self._read("ob-loader-dumper.error")
        self.bad_log = self._read("ob-loader-dumper.bad")
        self.discard_log = self._read("ob-loader-dumper.discard")

    def _read(self, name):
        try:
            return Path(self.log_dir, name).read_text()
        except (OSError, TypeError):  # no log (directory), or no -f in the arguments
            return ""

    def __repr__(self):
        return (f"ToolRun(rc={self.returncode}, cwd={self.cwd}, stderr={self.stderr[-500:]!r}, "
                f"error_log={self.error_log[-1500:]!r})")


def read_backup_history(backup_dir, db):
    """The (version, success) rows of the backup's migrate_schema_history data files."""
    return [(fields[1], fields[9])
            for fields in obtools.table_records(backup_dir, db, "migrate_schema_history")]


# ---------------------------------------------------------------- ODC hosts

class OdcHost:
    """One ODC host after a failed upgrade: metadb migrated to 4.3.0, REPOSITORY:4.3.0
    running as `name` (seed flags plus the log/data mounts), and the pre-upgrade backup
    (taken with obdumper while 4.2.0 ran) in backup_dir.

    Attributes: name (container), port (ODC_SERVER_PORT), base_url, health_url, info_url,
    db, db_host, db_port, user, tenant, cluster, login (user@tenant#cluster), password,
    password_file (0600, the password without newline), backup_dir, snapshot_root (empty,
    0700), work_dir, log_dir, data_dir, dir (all under one temp dir), obloader, obdumper,
    engine (Dockerd), images (OdcImages), mariadb, account (MetadbAccount), env (the -e vars),
    http_host (where the test process reaches ODC's port; 127.0.0.1 with --net host),
    network ("host" by default), http_port (where ODC is reached from http_host: port with
    --net host, host_port when published), host_port (None with --net host), run_args.
    """

    def __init__(self, mariadb, engine, images, start_delay_ms=1000, db_host=None,
                 password=None, http_host="127.0.0.1", directory=None, name=None, port=None,
                 db=None, tenant=None, network="host", host_port=None, run_args=()):
        """Names default to unique temporary ones; a long-lived world (deploy/testbed) fixes
        them: directory (created when missing), container name, ODC port, metadb name and
        tenant.

        network: the container's network, "host" (`--net host`, as the seed's flags), any
        other engine network (`--net NETWORK`, say "bridge" on a Dockerd(bridge=...)), or
        "default" (no --net flag: Docker's default bridge). Off the host network ODC is
        published, `-p host_port:port` (host_port: a free port by default; port, the
        ODC_SERVER_PORT inside the container, 8990 by default; the env then has
        ODC_MAPPING_PORT=host_port too), and db_host must be an address the container
        reaches (the engine's bridge_gateway).
        run_args: more `docker run` flags for every container of this host (a healthcheck,
        ...), before the image."""
        self.mariadb, self.engine, self.images = mariadb, engine, images
        self.token = secrets.token_hex(3)
        self.name = name or f"obodc-{self.token}"
        if directory is not None:
            os.makedirs(directory, exist_ok=True)
            self.dir = str(directory)
        else:
            self.dir = tempfile.mkdtemp(prefix=f"odcw-host-{self.token}-")
        self.log_dir = os.path.join(self.dir, "log")
        self.data_dir = os.path.join(self.dir, "data")
        self.work_dir = os.path.join(self.dir, "work")
        self.backup_dir = os.path.join(self.dir, "odcmetadb_backup")
        self.snapshot_root = os.path.join(self.dir, "snapshots")
        self.password_file = os.path.join(self.dir, "metadb.password")
        for d in (self.log_dir, self.data_dir, self.work_dir):
            os.makedirs(d, exist_ok=directory is not None)
        os.makedirs(self.snapshot_root, mode=0o700, exist_ok=directory is not None)
        self.obloader, self.obdumper = str(OBLOADER), str(OBDUMPER)
        self.network = network
        self.run_args = list(run_args)
        if network == "host":
            self.port = port or free_port()
            self.host_port = None
            self.http_port = self.port
        else:
            self.port = port or 8990
            self.host_port = host_port or free_port()
            self.http_port = self.host_port
        self._db, self._tenant = db, tenant
        self.http_host = http_host  # where ODC's port is reached from the test process
        self.base_url = f"http://{http_host}:{self.http_port}"
        self.health_url = f"{self.base_url}/api/v1/heartbeat/isHealthy"
        self.info_url = f"{self.base_url}/api/v1/info"
        self.start_delay_ms = start_delay_ms
        self.account = None
        self.db_host = db_host or mariadb.host
        self._password = password
        self._runs = 0

    def __repr__(self):
        return f"OdcHost({self.name}, port {self.port}, db {getattr(self, 'db', None)})"

    # -- setup / teardown

    def create_account(self):
        self.account = self.mariadb.create_db_user(db=self._db, tenant=self._tenant,
                                                   password=self._password)
        a = self.account
        self.db, self.db_port = a.db, a.port
        self.user, self.tenant, self.cluster, self.login = a.user, a.tenant, a.cluster, a.login
        self.password = a.password
        fd = os.open(self.password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(self.password)
        self.env = {
            "DATABASE_HOST": self.db_host,
            "DATABASE_PORT": str(self.db_port),
            "DATABASE_USERNAME": self.login,
            "DATABASE_PASSWORD": self.password,
            "DATABASE_NAME": self.db,
            "ODC_PROFILE_MODE": "alipay",
            "ODC_SERVER_PORT": str(self.port),
            "ODC_STANDIN_START_DELAY_MS": str(self.start_delay_ms),
        }
        if self.host_port is not None:
            # Where ODC is reached from outside when its port is mapped (ODC's
            # HostProperties: ODC_MAPPING_PORT, "ODC may run in Docker with a port mapping").
            self.env["ODC_MAPPING_PORT"] = str(self.host_port)

    def prepare(self, upgrade=True):
        """Old image healthy, backup, old container removed, new image healthy."""
        self.create_account()
        self.run_container(self.images.old)
        self.wait_healthy(OLD_VERSION)
        r = self.run_obdumper("--ddl", "--csv", "--all", "--no-sys", "-f", self.backup_dir)
        if r.returncode != 0:
            raise RuntimeError(f"pre-upgrade backup failed: {r!r}")
        if not upgrade:
            return self
        self.engine.docker("stop", self.name)
        self.engine.docker("rm", self.name)
        self.run_container(self.images.new)
        self.wait_healthy(NEW_VERSION)
        return self

    def cleanup(self):
        """Removes every container of this host (any container whose env names this
        metadb, whatever the test or the agent called it), the database, the user and
        the temp dir."""
        try:
            for cid in self.engine.container_ids():
                info = self.engine.inspect(cid)
                if info is None:
                    continue
                env = info.get("Config", {}).get("Env") or []
                named = info.get("Name", "").lstrip("/").startswith(self.name)
                if named or (self.account and f"DATABASE_NAME={self.db}" in env):
                    self.engine.docker("rm", "-f", cid, check=False)
        finally:
            try:
                if self.account:
                    self.mariadb.drop_db_user(self.account)
            finally:
                _rmtree(self.dir)

    # -- containers

    def docker_run_args(self, image, name=None, extra_env=None):
        """The operator's `docker run` argv (after `docker run`) for image."""
        net = [] if self.network == "default" else ["--net", self.network]
        args = ["-d", "-i", *net, "--cpu-period", "100000", "--cpu-quota",
                "400000", "--memory", "8G", "--name", name or self.name]
        if self.host_port is not None:
            args += ["-p", f"{self.host_port}:{self.port}"]
        env = dict(self.env, **(extra_env or {}))
        for k, v in env.items():
            args += ["-e", f"{k}={v}"]
        args += ["-v", f"{self.log_dir}:/opt/odc/log", "-v", f"{self.data_dir}:/opt/odc/data"]
        return args + self.run_args + [image]

    def run_container(self, image, name=None, extra_env=None):
        """docker run with the seed's flags; returns the container id."""
        p = self.engine.docker("run", *self.docker_run_args(image, name, extra_env))
        return p.stdout.strip()

    def logs(self, name=None):
        """`docker logs` (the supervisor's lines), then ODC's own log file, odc.log in the
        log directory every container of this host mounts (ODC writes there only)."""
        p = self.engine.docker("logs", name or self.name, check=False)
        try:
            with open(os.path.join(self.log_dir, "odc.log"), errors="replace") as f:
                own = f.read()
        except OSError:
            own = ""
        return p.stdout + p.stderr + own

    def state(self, name=None):
        """docker inspect State of the container (None when it does not exist)."""
        info = self.engine.inspect(name or self.name)
        return info["State"] if info else None

    # -- HTTP

    def get(self, path, timeout=2.0):
        return http_get(self.http_host, self.http_port, path, timeout)

    def healthy(self):
        try:
            status, body = self.get("/api/v1/heartbeat/isHealthy")
            return status == 200 and json.loads(body).get("data") is True
        except (OSError, ValueError):
            return False

    def info_version(self):
        """data.version of /api/v1/info, or None when unreachable."""
        try:
            status, body = self.get("/api/v1/info")
            return json.loads(body)["data"]["version"] if status == 200 else None
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def wait_healthy(self, version=None, timeout=30.0, name=None):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.healthy() and (version is None or
                                   self.info_version() == BUILD_OF.get(version, version)):
                return
            time.sleep(0.1)
        raise TimeoutError(f"ODC on port {self.http_port} not healthy at {version} within "
                           f"{timeout} s; logs:\n{self.logs(name)[-3000:]}")

    def wait_log(self, text, timeout=20.0, name=None):
        """Waits until the container's log contains text; returns the log."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out = self.logs(name)
            if text in out:
                return out
            time.sleep(0.2)
        raise TimeoutError(f"{text!r} not in the logs of {name or self.name} within {timeout} s:"
                           f"\n{self.logs(name)[-3000:]}")

    # -- loaders

    def conn_args(self, password=None):
        """obloader/obdumper connection options for this metadb (-h -P -u -p -c -t -D)."""
        return ["-h", self.db_host, "-P", str(self.db_port), "-u", self.user,
                "-p", self.password if password is None else password,
                "-c", self.cluster, "-t", self.tenant, "-D", self.db]

    def _run_tool(self, tool, args, cwd, password):
        if cwd is None:
            self._runs += 1
            cwd = os.path.join(self.work_dir, f"run-{self._runs}")
            os.makedirs(cwd)
        p = run([tool, *self.conn_args(password), *args], check=False, timeout=300, cwd=cwd)
        return ToolRun(p, cwd)

    def run_obloader(self, *args, cwd=None, password=None):
        """obloader with this host's connection options plus args, in a fresh working
        directory (or cwd); returns a ToolRun."""
        return self._run_tool(self.obloader, args, cwd, password)

    def run_obdumper(self, *args, cwd=None, password=None):
        return self._run_tool(self.obdumper, args, cwd, password)

    # -- metadb

    def sql(self, stmt, args=None):
        return self.mariadb.sql(stmt, args, db=self.db)

    def tables(self):
        return self.mariadb.tables(self.db)

    def views(self):
        return self.mariadb.views(self.db)

    def row_counts(self):
        return self.mariadb.row_counts(self.db)

    def columns(self, table):
        return self.mariadb.columns(self.db, table)

    def history_versions(self, success_only=True):
        return self.mariadb.history_versions(self.db, success_only)

    def max_history_version(self):
        v = self.history_versions()
        return max(v, key=version_key) if v else None

    def drop_all_tables(self):
        self.mariadb.drop_all_tables(self.db)

    def backup_history(self):
        """(version, success) rows of the backup's migrate_schema_history."""
        return read_backup_history(self.backup_dir, self.db)


def assert_private_mode(path, mode=0o600):
    st = os.stat(path)
    assert stat.S_IMODE(st.st_mode) == mode, oct(st.st_mode)


# ---------------------------------------------------------------- what a host holds

# ODC adds rows to migrate_schema_history on every start (its repeatable JDBC migrations:
# type JDBC; tests/world/README.md), so what a metadb holds is compared without them.
START_ROWS_TYPE = "JDBC"


def metadb_state(host):
    """{"tables": {table: rows}, "history": successful versions in install order}, without
    the history rows ODC writes on every start (START_ROWS_TYPE), and without the fence a
    rollback leaves (odc_fleet_fence, agent/guard.h: odc-fleet's, never ODC's, no rows; the
    tests that need it read it themselves). ODC's migration lock (DISTRIBUTED_LOCK) is there
    with 0 rows whatever it holds: a row lives only while a node starts (its migration), so a
    container just started by an agent may hold one. The guard is kept: none may be left."""
    counts = host.row_counts()
    counts.pop("odc_fleet_fence", None)
    if "DISTRIBUTED_LOCK" in counts:
        counts["DISTRIBUTED_LOCK"] = 0
    history = []
    if "migrate_schema_history" in counts:
        rows = host.mariadb.sql(f"SELECT version, type, success FROM `{host.db}`."
                                "migrate_schema_history ORDER BY install_rank")
        kept = [r for r in rows if r[1] != START_ROWS_TYPE]
        counts["migrate_schema_history"] = len(kept)
        history = [r[0] for r in kept if r[2] == 1]
    return {"tables": counts, "history": history}


def backup_state(host, backup_dir):
    """{table: row count} of a backup dir, read as the stand-in loader reads it, without
    the history rows ODC writes on every start and without the fence (as metadb_state)."""
    counts = obtools.backup_row_counts(backup_dir, host.db)
    counts.pop("odc_fleet_fence", None)  # a dump taken while a fence stood has it (empty)
    if "migrate_schema_history" in counts:
        counts["migrate_schema_history"] = sum(
            1 for f in obtools.table_records(backup_dir, host.db, "migrate_schema_history")
            if f[3] != START_ROWS_TYPE)
    return counts


def containers_named(host, prefix):
    out = []
    for cid in host.engine.container_ids():
        info = host.engine.inspect(cid)
        if info and info["Name"].lstrip("/").startswith(prefix):
            out.append(info)
    return out


def assert_untouched(host, before_id, before_db):
    """The 4.3.0 container still runs, the same one, healthy, metadb unchanged."""
    info = host.engine.inspect(host.name)
    assert info is not None and info["Id"] == before_id
    assert info["State"]["Running"]
    assert host.info_version() == NEW_BUILD
    assert metadb_state(host) == before_db
    assert os.listdir(host.snapshot_root) == []


# ---------------------------------------------------------------- HA deployments

# Several ODC nodes against one metadb. Real ODC serialises their migrations: every release
# in the world (oceanbase/odc v4.2.0 and v4.3.0, server/odc-migrate/.../migrate/
# AbstractMetaDBMigrate.java) runs Migrates.migrate() under the JdbcLockRegistry lock
# ODC_METADB_MIGRATE, a row of DISTRIBUTED_LOCK in the metadb (odc-service/.../config/
# LockConfiguration.java), waiting up to 60 s for it, and releases it when the migrations
# end, before the web services start; the stand-in takes it the same way (tests/world/odc/
# lock.c). That lock is not renewed and is stolen after 60 s (tests/world/ODC-UPGRADE-FACTS.md
# §2), so a deployment still starts the next node only when the previous one is past its
# migrations, which its log says with one of these lines: where ODC lets the next node have it.
MIGRATED_LINE = "Initializing web services"
MIGRATE_FAILED_LINE = "Application run failed"


def without_dirs(dirs, argv):
    """argv run where the directories dirs do not exist as they are here: in a mount
    namespace of its own (unshare, as root) with an empty tmpfs over each, the way a path
    one host of a deployment has is missing on another when the hosts share one machine.
    The process keeps unshare's pid (sh and unshare exec)."""
    if not dirs:
        return list(argv)
    script = ('n=$1; shift; while [ "$n" -gt 0 ]; do '
              'mount -t tmpfs -o size=1m,mode=0755 odc-hidden "$1" || exit 97; '
              'shift; n=$((n - 1)); done; exec "$@"')
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
            str(len(dirs)), *map(str, dirs), *map(str, argv)]


def start_engines(count, directory=None):
    """count private Docker engines, each with the stand-in images built into it, started in
    parallel (each host of an HA deployment has its own); returns [(Dockerd, OdcImages)].
    Engines live under directory (engine1, engine2, ...) or in temp dirs."""
    def one(i):
        engine = Dockerd(os.path.join(directory, f"engine{i + 1}") if directory else None)
        try:
            engine.start()
            return engine, OdcImages(engine).build()
        except BaseException:
            engine.cleanup()
            raise

    with ThreadPoolExecutor(max_workers=max(1, count)) as ex:
        futures = [ex.submit(one, i) for i in range(count)]
    started, errors = [], []
    for f in futures:
        try:
            started.append(f.result())
        except Exception as e:
            errors.append(e)
    if errors:
        for engine, _ in started:
            engine.cleanup()
        raise errors[0]
    return started


class OdcHaNode(OdcHost):
    """One node of an OdcHaDeployment: an OdcHost (the attributes and methods agentcli,
    the fleet and the tests use) on its own engine, with its own port, log/data dirs,
    password file and snapshot root, whose metadb account and database, and pre-upgrade
    backup (backup_dir), are the deployment's. Extra attributes: deployment, index (from 0),
    host_id ("odc1", "odc2", ...: the agent's host id for this node)."""

    def __init__(self, deployment, index, engine, images, directory, port=None):
        super().__init__(deployment.mariadb, engine, images,
                         start_delay_ms=deployment.start_delay_ms, db_host=deployment.db_host,
                         http_host=deployment.http_host, directory=directory,
                         name=deployment.name, port=port)
        self.deployment, self.index = deployment, index
        self.host_id = f"odc{index + 1}"
        self.backup_dir = deployment.backup_dir

    def __repr__(self):
        return (f"OdcHaNode({self.host_id}: {self.name} on {self.engine.socket}, "
                f"port {self.port}, db {getattr(self, 'db', None)})")

    def create_account(self):
        """Takes the deployment's account (created once, by the deployment): every node has
        the same DATABASE_* env; writes this node's password file."""
        a = self.account = self.deployment.account
        self.db, self.db_port = a.db, a.port
        self.user, self.tenant, self.cluster, self.login = a.user, a.tenant, a.cluster, a.login
        self.password = a.password
        fd = os.open(self.password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(self.password)
        self.env = dict(self.deployment.env, ODC_SERVER_PORT=str(self.port),
                        ODC_STANDIN_START_DELAY_MS=str(self.start_delay_ms))

    def prepare(self, upgrade=True):
        raise TypeError("an HA node is prepared by its deployment (OdcHaDeployment.prepare)")

    def cleanup(self):
        """Removes this node's containers (its name, or any whose env names the metadb) and
        its directory; the database and the user are the deployment's to drop."""
        try:
            if self.engine.running:
                for cid in self.engine.container_ids():
                    info = self.engine.inspect(cid)
                    if info is None:
                        continue
                    env = info.get("Config", {}).get("Env") or []
                    named = info.get("Name", "").lstrip("/").startswith(self.name)
                    if named or (self.account and f"DATABASE_NAME={self.db}" in env):
                        self.engine.docker("rm", "-f", cid, check=False)
        finally:
            _rmtree(self.dir)

    # -- starting ODC as one node of several

    def log_size(self):
        """Bytes of ODC's log file now (an offset for log_since)."""
        try:
            return os.path.getsize(os.path.join(self.log_dir, "odc.log"))
        except OSError:
            return 0

    def log_since(self, offset):
        """ODC's own log (odc.log in this node's log directory) from offset on."""
        try:
            with open(os.path.join(self.log_dir, "odc.log"), "rb") as f:
                f.seek(offset)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def start(self, image, name=None, extra_env=None, timeout=40.0):
        """docker run of image as this node (name: the node's container name by default),
        then waits until ODC is past its migrations, where real ODC releases the metadb
        migrate lock. Returns (container id, True when the migrations completed, False when
        ODC failed them: a refused degrade, a failed statement)."""
        offset = self.log_size()
        cid = self.run_container(image, name, extra_env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log_since(offset)
            if MIGRATED_LINE in text:
                return cid, True
            if MIGRATE_FAILED_LINE in text:
                return cid, False
            time.sleep(0.05)
        raise TimeoutError(f"{self!r}: ODC in {name or self.name} not past its migrations "
                           f"within {timeout} s; logs:\n{self.logs(name)[-3000:]}")

    def stop(self, name=None, remove=False):
        """docker stop (and rm) of this node's container; a missing one is no error."""
        if not self.engine.running:
            return
        self.engine.docker("stop", name or self.name, check=False)
        if remove:
            self.engine.docker("rm", name or self.name, check=False)


class OdcHaDeployment:
    """ODC deployed for high availability (odc-doc's deployment guide, and the upgrade guide
    1200.upgrade-guide/400.upgrade-high-availability-odc.md, zh-CN V4.3.2): N nodes, each a
    container `--net host` on a host of its own, all with the same DATABASE_* env (one
    shared metadb), behind a load balancer (not modelled: tests talk to each node). Here each
    node has a private engine (Dockerd) with the stand-in images, its own ODC_SERVER_PORT
    (the hosts are one machine, so the ports differ), log and data dirs, all against one
    database on one MariaDB.

    prepare() leaves it the way a failed upgrade leaves it, in the upgrade guide's order:
    every node runs 4.2.0 (the first start installs the metadb), every node's 4.2.0
    container is stopped and removed, the metadb is backed up ONCE with obdumper (still at
    4.2.0: `--thread 1 --ddl --csv --no-sys --all -f backup_dir`), and every node runs
    4.3.0; the first to start migrates the metadb, the others find it migrated. Nodes start
    one after another, each once the previous is past its migrations (MIGRATED_LINE), as
    ODC's migrate lock makes them; then all are healthy.

    Attributes: nodes (OdcHaNode, OdcHost-like), mariadb, name (every node's container),
    dir, backup_dir (the one backup, every node's backup_dir), account (MetadbAccount), db,
    db_host, db_port, user, tenant, cluster, login, password, env (the shared DATABASE_*
    and ODC_PROFILE_MODE), engines and images (per node), start_delay_ms, http_host.
    """

    def __init__(self, mariadb, nodes=2, engines=None, images=None, start_delay_ms=1000,
                 db_host=None, password=None, http_host="127.0.0.1", directory=None,
                 name=None, db=None, tenant=None, ports=None):
        """engines: running Dockerds, one per node, to use instead of starting private ones
        (then not stopped by stop()/cleanup()); images: their OdcImages (built when
        missing). ports: each node's ODC_SERVER_PORT (free ones by default). directory,
        name (the container name), db and tenant default to unique temporary ones."""
        if nodes < 1:
            raise ValueError("an HA deployment has at least one node")
        if engines is not None and len(engines) != nodes:
            raise ValueError(f"{nodes} nodes need {nodes} engines, not {len(engines)}")
        if images is not None and (engines is None or len(images) != nodes):
            raise ValueError("images go with engines, one per node")
        self.mariadb = mariadb
        self.count = nodes
        self.token = secrets.token_hex(3)
        self.name = name or f"obodc-{self.token}"
        if directory is not None:
            os.makedirs(directory, exist_ok=True)
            self.dir = str(directory)
        else:
            self.dir = tempfile.mkdtemp(prefix=f"odcw-ha-{self.token}-")
        self.backup_dir = os.path.join(self.dir, "odcmetadb_backup")
        self.start_delay_ms = start_delay_ms
        self.db_host = db_host or mariadb.host
        self.http_host = http_host
        self._password, self._db, self._tenant = password, db, tenant
        self._ports = list(ports) if ports else None
        self._given_engines = engines is not None
        self.engines = list(engines) if engines is not None else []
        self.images = list(images) if images is not None else []
        self.account = None
        self.env = {}
        self.nodes = []

    def __repr__(self):
        return (f"OdcHaDeployment({self.name}, {self.count} nodes, "
                f"db {getattr(self, 'db', None)})")

    # -- setup

    def start_engines(self):
        """The engines and images of every node (private engines started in parallel)."""
        _register(self)
        if not self.engines:
            pairs = start_engines(self.count, self.dir)
            self.engines = [e for e, _ in pairs]
            self.images = [i for _, i in pairs]
        elif not self.images:
            self.images = [OdcImages(e).build() for e in self.engines]
        return self

    def create_account(self):
        """The one metadb database and user, the shared env, and the nodes."""
        a = self.account = self.mariadb.create_db_user(db=self._db, tenant=self._tenant,
                                                       password=self._password)
        self.db, self.db_port = a.db, a.port
        self.user, self.tenant, self.cluster, self.login = a.user, a.tenant, a.cluster, a.login
        self.password = a.password
        self.env = {
            "DATABASE_HOST": self.db_host,
            "DATABASE_PORT": str(self.db_port),
            "DATABASE_USERNAME": self.login,
            "DATABASE_PASSWORD": self.password,
            "DATABASE_NAME": self.db,
            "ODC_PROFILE_MODE": "alipay",
        }
        for i in range(self.count):
            port = self._ports[i] if self._ports else None
            node = OdcHaNode(self, i, self.engines[i], self.images[i],
                             os.path.join(self.dir, f"node{i + 1}"), port=port)
            node.create_account()
            self.nodes.append(node)
        return self

    def prepare(self, upgrade=True):
        """Engines, metadb, 4.2.0 on every node, their containers stopped and removed, the
        one backup; with upgrade, 4.3.0 on every node (healthy). Without it, the deployment
        is left just before the upgrade: the backup taken, no ODC running."""
        self.start_engines()
        self.create_account()
        self.start_all(self.images[0].old, OLD_VERSION)
        self.stop_all(remove=True)
        self.backup()
        if upgrade:
            self.start_all(self.images[0].new, NEW_VERSION)
        return self

    def backup(self):
        """The pre-upgrade backup of the shared metadb, once (the upgrade guide's obdumper
        command), into backup_dir."""
        r = self.nodes[0].run_obdumper("--thread", "1", "--ddl", "--csv", "--no-sys", "--all",
                                       "-f", self.backup_dir)
        if r.returncode != 0:
            raise RuntimeError(f"pre-upgrade backup failed: {r!r}")
        return r

    # -- nodes

    def start_all(self, image, version=None, nodes=None, timeout=40.0):
        """Runs image on every node (or the given ones), in order, each once the previous is
        past its migrations; then waits until all are healthy (at version when given)."""
        nodes = self.nodes if nodes is None else nodes
        for node in nodes:
            _, migrated = node.start(image, timeout=timeout)
            if not migrated:
                raise RuntimeError(f"{node!r} failed its migrations with {image}; logs:\n"
                                   f"{node.logs()[-3000:]}")
        for node in nodes:
            node.wait_healthy(version, timeout=timeout)
        return self

    def stop_all(self, remove=False, nodes=None):
        """docker stop (and rm) of every node's container (or the given nodes')."""
        for node in self.nodes if nodes is None else nodes:
            node.stop(remove=remove)
        return self

    def wait_healthy(self, version=None, timeout=30.0):
        for node in self.nodes:
            node.wait_healthy(version, timeout=timeout)

    def healthy_nodes(self):
        """The nodes whose ODC answers its health check now (what a load balancer sees)."""
        return [n for n in self.nodes if n.healthy()]

    def write_agent_conf(self, node, path, **over):
        """agentcli.write_conf for one node, with its host id and the shared backup's
        directory among the backup roots (over: {"section.key": value} as write_conf)."""
        from tests.world import agentcli  # agentcli imports this module
        vals = {"agent.host_id": node.host_id,
                "paths.backup_roots": f"{node.dir}, {self.dir}"}
        vals.update(over)
        return agentcli.write_conf(node, path, **vals)

    # -- the shared metadb (as root)

    def sql(self, stmt, args=None):
        return self.mariadb.sql(stmt, args, db=self.db)

    def history(self):
        """migrate_schema_history as (version, type, script, success) in install order."""
        return [tuple(r) for r in self.sql("SELECT version, type, script, success FROM "
                                           "migrate_schema_history ORDER BY install_rank")]

    # -- teardown

    def stop(self):
        """Every node's containers gone: private engines stopped (their containers with
        them), containers on given engines removed."""
        try:
            for node in self.nodes:
                if self._given_engines and node.engine.running:
                    for cid in node.engine.container_ids():
                        info = node.engine.inspect(cid)
                        env = (info or {}).get("Config", {}).get("Env") or []
                        if info and (info["Name"].lstrip("/").startswith(self.name) or
                                     f"DATABASE_NAME={self.db}" in env):
                            node.engine.docker("rm", "-f", cid, check=False)
        finally:
            if not self._given_engines:
                for engine in self.engines:
                    engine.stop()
            _unregister(self)

    def cleanup(self):
        """stop(), then the nodes' dirs, the database and the user, the engines' dirs and
        the deployment's dir."""
        try:
            for node in self.nodes:
                try:
                    node.cleanup()
                except Exception as e:  # clean the others anyway
                    sys.stderr.write(f"odcworld: cleanup of {node!r} failed: {e}\n")
            self.stop()
        finally:
            try:
                if self.account:
                    self.mariadb.drop_db_user(self.account)
            finally:
                if not self._given_engines:
                    for engine in self.engines:
                        engine.cleanup()
                _rmtree(self.dir)
