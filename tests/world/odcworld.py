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
DOCKER = os.environ.get("ODC_WORLD_DOCKER") or shutil.which("docker") or "docker"
KEEP = os.environ.get("ODC_WORLD_KEEP") == "1"  # keep temp dirs for post-mortems

from tests.world import obtools  # the CSV reader shared with the stand-ins

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
        conn = self.connect(db)
        try:
            with conn.cursor() as cur:
                cur.execute("SET SESSION foreign_key_checks = 0")
                for t in self.tables(db):
                    cur.execute(f"DROP TABLE `{t}`")
        finally:
            conn.close()


# ---------------------------------------------------------------- Docker

class Dockerd:
    """A private Docker engine (tests/world/dockerd.sh), optionally in a network namespace."""

    def __init__(self, directory=None, netns=None):
        self.dir = directory or tempfile.mkdtemp(prefix="odcw-dk-")
        self.netns = netns
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
        self.socket = run(args, timeout=60).stdout.strip().splitlines()[-1]
        self.host = f"unix://{self.socket}"
        self.running = True
        return self

    def stop(self):
        if self.running or os.path.exists(os.path.join(self.dir, "dockerd.pid")):
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
    """The stand-in images REPOSITORY:4.2.0 (old) and REPOSITORY:4.3.0 (new) in one engine."""

    def __init__(self, engine, repository=IMAGE_REPOSITORY):
        self.engine = engine
        self.repository = repository
        self.old = f"{repository}:{OLD_VERSION}"
        self.new = f"{repository}:{NEW_VERSION}"
        self.versions = (OLD_VERSION, NEW_VERSION)

    def build(self):
        """tests/world/build-images.sh into the engine (a no-op when up to date)."""
        run(["sh", WORLD / "build-images.sh", self.engine.socket, self.repository], timeout=300)
        return self

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
    """One obloader/obdumper invocation: exit status, output, and its logs/ files."""

    def __init__(self, proc, cwd):
        self.returncode = proc.returncode
        self.stdout, self.stderr = proc.stdout, proc.stderr
        self.cwd = cwd
        self.info_log = self._read("ob-loader-dumper.info")
        self.error_log = self._read("ob-loader-dumper.error")
        self.bad_log = self._read("ob-loader-dumper.bad")
        self.discard_log = self._read("ob-loader-dumper.discard")

    def _read(self, name):
        try:
            return Path(self.cwd, "logs", name).read_text()
        except FileNotFoundError:
            return ""

    def __repr__(self):
        return (f"ToolRun(rc={self.returncode}, cwd={self.cwd}, stderr={self.stderr[-500:]!r}, "
                f"error_log={self.error_log[-1500:]!r})")


def read_backup_history(backup_dir, db):
    """The (version, success) rows of the backup's migrate_schema_history data files."""
    tdir = Path(backup_dir, "data", db, "TABLE")
    rows = []
    for path in sorted(tdir.glob("migrate_schema_history*.csv")):
        for _, fields in obtools.csv_records(path.read_bytes()):
            rows.append((fields[1], fields[9]))
    return rows


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
    http_host (where the test process reaches ODC's port; 127.0.0.1 with --net host).
    """

    def __init__(self, mariadb, engine, images, start_delay_ms=1000, db_host=None,
                 password=None, http_host="127.0.0.1", directory=None, name=None, port=None,
                 db=None, tenant=None):
        """Names default to unique temporary ones; a long-lived world (deploy/testbed) fixes
        them: directory (created when missing), container name, ODC port, metadb name and
        tenant."""
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
        self.port = port or free_port()
        self._db, self._tenant = db, tenant
        self.http_host = http_host  # where ODC's port is reached from the test process
        self.base_url = f"http://{http_host}:{self.port}"
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
        args = ["-d", "-i", "--net", "host", "--cpu-period", "100000", "--cpu-quota",
                "400000", "--memory", "8G", "--name", name or self.name]
        env = dict(self.env, **(extra_env or {}))
        for k, v in env.items():
            args += ["-e", f"{k}={v}"]
        args += ["-v", f"{self.log_dir}:/opt/odc/log", "-v", f"{self.data_dir}:/opt/odc/data"]
        return args + [image]

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
        return http_get(self.http_host, self.port, path, timeout)

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
        raise TimeoutError(f"ODC on port {self.port} not healthy at {version} within "
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

def metadb_state(host):
    return {"tables": host.row_counts(), "history": host.history_versions()}


def backup_state(host, backup_dir):
    """{table: row count} of a backup dir, read as the stand-in loader reads it."""
    return obtools.backup_row_counts(backup_dir, host.db)


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
