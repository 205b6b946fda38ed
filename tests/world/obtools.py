"""Stand-ins for OceanBase's obdumper and obloader (closed-source Java CLIs) in the test world.

They honour the documented command line, backup layout and default semantics, including the
unsafe ones the agent has to guard against:
  - obloader --ddl keeps a table that already exists ("create table if not exists") unless
    --replace-object; --csv INSERTs and discards rows whose key already exists unless
    --replace-data; a row that fails (column count, NOT NULL, type) is logged and skipped;
  - so a failed import may EXIT 0: only more than --max-errors errors (default 1000) or more
    than --max-discards discards (default unlimited), or --strict with any, makes it exit 1.
Exit status: 0 done (possibly with skipped rows), 1 failed, 2 usage error.

Layout written by obdumper -f DIR (MANIFEST.bin last, so a crashed dump has none):
  DIR/CHECKPOINT.bin, DIR/MANIFEST.bin      b"OBCP"/b"OBMF", u16 format version, u32 length,
                                            then zlib-compressed JSON (not a public format)
  DIR/data/<DB>/TABLE/<t>-schema.sql        SHOW CREATE TABLE text, ending with ';'
  DIR/data/<DB>/TABLE/<t>.<n>.csv           n = 0, 1, ... per 10000 rows; at least <t>.0.csv
CSV: ',' separated, '\n' after each record, every non-NULL value in '"' with '"' doubled,
NULL as \\N unquoted, no header, rows in primary-key order.
Logs (appended, relative to the working directory): logs/ob-loader-dumper.info (everything),
logs/ob-loader-dumper.error (errors), logs/ob-loader-dumper.bad (rejected rows),
logs/ob-loader-dumper.discard (rows discarded as duplicates). No password is ever written.
"""

import datetime
import json
import os
import re
import struct
import sys
import time
import zlib

import pymysql
import pymysql.converters

ROWS_PER_FILE = 10000
INSERT_BATCH = 200
FORMAT_VERSION = 1
MANIFEST_MAGIC = b"OBMF"
CHECKPOINT_MAGIC = b"OBCP"
TOOL_VERSION = "4.2.1-standin"
ER_DUP_ENTRY = 1062

# option -> (destination, takes a value, tools that accept it)
BOTH = ("obloader", "obdumper")
LOADER = ("obloader",)
DUMPER = ("obdumper",)
OPTIONS = {
    "-h": ("host", True, BOTH), "--host": ("host", True, BOTH),
    "-P": ("port", True, BOTH), "--port": ("port", True, BOTH),
    "-u": ("user", True, BOTH), "--user": ("user", True, BOTH),
    "-p": ("password", True, BOTH), "--password": ("password", True, BOTH),
    "-c": ("cluster", True, BOTH), "--cluster": ("cluster", True, BOTH),
    "-t": ("tenant", True, BOTH), "--tenant": ("tenant", True, BOTH),
    "-D": ("database", True, BOTH), "--database": ("database", True, BOTH),
    "-f": ("file_path", True, BOTH), "--file-path": ("file_path", True, BOTH),
    "--table": ("table", True, BOTH),
    "--thread": ("thread", True, BOTH),
    "--sys-user": ("sys_user", True, BOTH),
    "--sys-password": ("sys_password", True, BOTH),
    "--ddl": ("ddl", False, BOTH),
    "--csv": ("csv", False, BOTH),
    "--sql": ("sql", False, BOTH),
    "--all": ("all", False, BOTH),
    "--no-sys": ("no_sys", False, BOTH),
    "--skip-check-dir": ("skip_check_dir", False, DUMPER),
    "--replace-data": ("replace_data", False, LOADER),
    "--truncate-table": ("truncate_table", False, LOADER),
    "--delete-from-table": ("delete_from_table", False, LOADER),
    "--replace-object": ("replace_object", False, LOADER),
    "-y": ("yes", False, LOADER),
    "--max-errors": ("max_errors", True, LOADER),
    "--max-discards": ("max_discards", True, LOADER),
    "--strict": ("strict", False, LOADER),
}
SECRET_OPTS = {"-p", "--password", "--sys-password"}


class UsageError(Exception):
    pass


class Failure(Exception):
    """A run that cannot go on: logged, exit status 1."""


def usage(tool):
    common = ("-h HOST -P PORT -u USER [-p PASSWORD] [-c CLUSTER] [-t TENANT] -D DATABASE "
              "(--ddl|--csv|--sql) (--all|--table NAMES) -f DIR [--thread N] [--no-sys] "
              "[--sys-user USER] [--sys-password PASSWORD]")
    if tool == "obloader":
        return (f"usage: obloader {common} [--replace-data] [--truncate-table] "
                "[--delete-from-table] [--replace-object] [-y] [--max-errors N] "
                "[--max-discards N] [--strict]")
    return f"usage: obdumper {common} [--skip-check-dir]"


def parse_args(tool, argv):
    """Returns a dict of options; raises UsageError. --help returns None."""
    opts = {"thread": "1", "max_errors": "1000", "max_discards": "-1", "password": ""}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("--help", "-?"):
            return None
        name, value = arg, None
        if arg.startswith("--") and "=" in arg:
            name, value = arg.split("=", 1)
        elif (not arg.startswith("--") and len(arg) > 2 and arg[:2] in OPTIONS
              and OPTIONS[arg[:2]][1]):
            name, value = arg[:2], arg[2:]
        spec = OPTIONS.get(name)
        if not name.startswith("-"):
            # Not echoed: a stray argument is often a misplaced password.
            raise UsageError(f"Unexpected argument at position {i + 1}")
        if spec is None or tool not in spec[2]:
            raise UsageError(f"Unrecognized option: {name}")
        dest, takes_value, _ = spec
        if takes_value:
            if value is None:
                if i + 1 >= len(argv):
                    raise UsageError(f"Missing argument for option: {name}")
                i += 1
                value = argv[i]
            opts[dest] = value
        else:
            if value is not None:
                raise UsageError(f"Option {name} takes no value")
            opts[dest] = True
        i += 1
    if opts.get("sql"):
        raise UsageError("--sql is not supported by this stand-in (use --csv)")
    for need, flag in (("host", "-h"), ("port", "-P"), ("user", "-u"), ("database", "-D"),
                       ("file_path", "-f")):
        if not opts.get(need):
            raise UsageError(f"Missing required option: {flag}")
    if not (opts.get("ddl") or opts.get("csv")):
        raise UsageError("Missing required option: one of --ddl, --csv, --sql")
    if not (opts.get("all") or opts.get("table")):
        raise UsageError("No object specified: use --all or --table")
    for key, lo in (("port", 1), ("thread", 1), ("max_errors", -1), ("max_discards", -1)):
        try:
            opts[key] = int(opts[key])
        except ValueError:
            raise UsageError(f"Invalid number for --{key.replace('_', '-')}: {opts[key]}")
        if opts[key] < lo or (key == "port" and opts[key] > 65535):
            raise UsageError(f"Out of range for --{key.replace('_', '-')}: {opts[key]}")
    if opts.get("truncate_table") and opts.get("delete_from_table"):
        raise UsageError("--truncate-table and --delete-from-table are exclusive")
    return opts


def masked(argv):
    out, hide = [], False
    for arg in argv:
        name = arg.split("=", 1)[0]
        if hide:
            out.append("******")
            hide = False
        elif name in SECRET_OPTS and "=" in arg:
            out.append(name + "=******")
        elif name in SECRET_OPTS:
            out.append(arg)
            hide = True
        elif arg[:2] == "-p" and len(arg) > 2 and not arg.startswith("--"):
            out.append("-p******")
        else:
            out.append(arg)
    return " ".join(out)


class Log:
    """Appends to ./logs/ob-loader-dumper.{info,error,bad,discard}; never raises."""

    def __init__(self, tool):
        self.tool = tool
        self.dir = os.path.join(os.getcwd(), "logs")
        try:
            os.makedirs(self.dir, exist_ok=True)
        except OSError as e:
            sys.stderr.write(f"{tool}: cannot create {self.dir}: {e}\n")

    def _write(self, name, line):
        try:
            with open(os.path.join(self.dir, name), "a", encoding="utf-8",
                      errors="backslashreplace") as f:
                f.write(line)
        except OSError:
            pass

    def _line(self, level, msg):
        now = datetime.datetime.now()
        return f"{now:%Y-%m-%d %H:%M:%S}.{now.microsecond // 1000:03d} [{level}] [{self.tool}] {msg}\n"

    def info(self, msg):
        self._write("ob-loader-dumper.info", self._line("INFO", msg))

    def warn(self, msg):
        self._write("ob-loader-dumper.info", self._line("WARN", msg))

    def error(self, msg):
        line = self._line("ERROR", msg)
        self._write("ob-loader-dumper.info", line)
        self._write("ob-loader-dumper.error", line)

    def bad(self, msg):
        self._write("ob-loader-dumper.bad", self._line("BAD", msg))

    def discard(self, msg):
        self._write("ob-loader-dumper.discard", self._line("DISCARD", msg))


def login_name(opts):
    """OceanBase's user@tenant#cluster, as obproxy expects it."""
    name = opts["user"]
    if opts.get("tenant"):
        name += "@" + opts["tenant"]
    if opts.get("cluster"):
        name += "#" + opts["cluster"]
    return name


def connect(opts, log, text_only=False):
    kwargs = dict(host=opts["host"], port=opts["port"], user=login_name(opts),
                  password=opts.get("password") or "", database=opts["database"],
                  charset="utf8mb4", autocommit=True, connect_timeout=10,
                  read_timeout=600, write_timeout=600)
    if text_only:
        # Encoders only: every value comes back as the server's text (bytes for binary).
        kwargs["conv"] = {k: v for k, v in pymysql.converters.conversions.items()
                          if not isinstance(k, int)}
    try:
        conn = pymysql.connect(**kwargs)
    except pymysql.MySQLError as e:
        raise Failure(f"Connect to {opts['host']}:{opts['port']} as {login_name(opts)} "
                      f"failed: {describe(e)}")
    log.info(f"Connected to {opts['host']}:{opts['port']} database {opts['database']} "
             f"as {login_name(opts)}")
    return conn


def describe(e):
    if isinstance(e, pymysql.MySQLError) and len(e.args) >= 2:
        return f"ERROR {e.args[0]}: {e.args[1]}"
    return str(e)


def qident(name):
    return "`" + name.replace("`", "``") + "`"


def pack_bin(magic, obj):
    payload = zlib.compress(json.dumps(obj, sort_keys=True).encode())
    return magic + struct.pack(">HI", FORMAT_VERSION, len(payload)) + payload


def write_atomic(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def requested_tables(opts, available):
    if opts.get("all") or opts.get("table") == "*":
        return sorted(available)
    names = [t.strip() for t in opts["table"].split(",") if t.strip()]
    missing = [t for t in names if t not in available]
    if missing:
        raise Failure(f"Table(s) not found: {', '.join(missing)}")
    return names


# ---------------------------------------------------------------- obdumper

def csv_value(v):
    if v is None:
        return b"\\N"
    if isinstance(v, str):
        v = v.encode("utf-8")
    elif not isinstance(v, bytes):
        v = str(v).encode("utf-8")
    return b'"' + v.replace(b'"', b'""') + b'"'


def dump(opts, log):
    out = os.path.abspath(opts["file_path"])
    if os.path.exists(out) and not os.path.isdir(out):
        raise Failure(f"The output path {out} is not a directory")
    if os.path.isdir(out) and os.listdir(out) and not opts.get("skip_check_dir"):
        raise Failure(f"The output directory {out} is not empty, please clean it up or use "
                      "--skip-check-dir")
    conn = connect(opts, log, text_only=True)
    db = opts["database"]
    started = time.time()
    try:
        os.makedirs(out, exist_ok=True)
        tdir = os.path.join(out, "data", db, "TABLE")
        os.makedirs(tdir, exist_ok=True)
        write_atomic(os.path.join(out, "CHECKPOINT.bin"),
                     pack_bin(CHECKPOINT_MAGIC, {"database": db, "done": [], "state": "RUNNING"}))
        with conn.cursor() as cur:
            cur.execute("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA=%s "
                        "AND TABLE_TYPE='BASE TABLE'", (db,))
            available = {r[0] for r in cur.fetchall()}
        tables = requested_tables(opts, available)
        manifest = {"tool": "obdumper", "version": TOOL_VERSION, "database": db,
                    "ddl": bool(opts.get("ddl")), "csv": bool(opts.get("csv")), "tables": {}}
        done, total_rows = [], 0
        for t in tables:
            entry = {}
            if opts.get("ddl"):
                with conn.cursor() as cur:
                    cur.execute(f"SHOW CREATE TABLE {qident(t)}")
                    ddl = cur.fetchone()[1]
                    if isinstance(ddl, bytes):
                        ddl = ddl.decode("utf-8")
                name = f"{t}-schema.sql"
                with open(os.path.join(tdir, name), "w", encoding="utf-8") as f:
                    f.write(ddl.rstrip().rstrip(";") + ";\n")
                entry["schema"] = name
                log.info(f"Dump schema of table {db}.{t} finished")
            if opts.get("csv"):
                entry["files"], entry["rows"] = dump_table_csv(conn, db, t, tdir)
                total_rows += entry["rows"]
                log.info(f"Dump data of table {db}.{t} finished: {entry['rows']} rows in "
                         f"{len(entry['files'])} file(s)")
            manifest["tables"][t] = entry
            done.append(t)
            write_atomic(os.path.join(out, "CHECKPOINT.bin"),
                         pack_bin(CHECKPOINT_MAGIC, {"database": db, "done": done,
                                                     "state": "RUNNING"}))
        write_atomic(os.path.join(out, "CHECKPOINT.bin"),
                     pack_bin(CHECKPOINT_MAGIC, {"database": db, "done": done,
                                                 "state": "FINISHED"}))
        manifest["finished_at"] = int(time.time())
        write_atomic(os.path.join(out, "MANIFEST.bin"), pack_bin(MANIFEST_MAGIC, manifest))
    except OSError as e:
        raise Failure(f"Write to {out} failed: {e}")
    except pymysql.MySQLError as e:
        raise Failure(f"Dump failed: {describe(e)}")
    finally:
        conn.close()
    summary = (f"All Dump Tasks Finished: database {db}, {len(tables)} table(s), "
               f"{total_rows} row(s), {time.time() - started:.2f} s, output {out}")
    log.info(summary)
    print(summary)
    return 0


def primary_key(conn, db, t):
    with conn.cursor() as cur:
        cur.execute("SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE "
                    "WHERE TABLE_SCHEMA=%s AND TABLE_NAME=%s AND CONSTRAINT_NAME='PRIMARY' "
                    "ORDER BY ORDINAL_POSITION", (db, t))
        return [r[0] for r in cur.fetchall()]


def dump_table_csv(conn, db, t, tdir):
    pk = primary_key(conn, db, t)
    sql = f"SELECT * FROM {qident(t)}"
    if pk:
        sql += " ORDER BY " + ", ".join(qident(c) for c in pk)
    files, rows, f = [], 0, None
    cur = conn.cursor(pymysql.cursors.SSCursor)
    try:
        cur.execute(sql)
        for row in cur:
            if rows % ROWS_PER_FILE == 0:
                if f is not None:
                    f.close()
                name = f"{t}.{len(files)}.csv"
                files.append(name)
                f = open(os.path.join(tdir, name), "wb")
            f.write(b",".join(csv_value(v) for v in row) + b"\n")
            rows += 1
    finally:
        cur.close()
        if f is not None:
            f.close()
    if not files:
        name = f"{t}.0.csv"
        open(os.path.join(tdir, name), "wb").close()
        files.append(name)
    return files, rows


# ---------------------------------------------------------------- obloader

class CsvError(Exception):
    pass


def csv_records(data):
    """Yields (line number, fields) from obdumper's CSV; None is NULL. Raises CsvError."""
    i, n, line = 0, len(data), 1
    while i < n:
        start_line, fields = line, []
        if data[i:i + 1] == b"\n" or data[i:i + 2] == b"\r\n":  # empty line
            i += 1 if data[i:i + 1] == b"\n" else 2
            line += 1
            continue
        while True:
            if data[i:i + 1] == b'"':
                i += 1
                buf = bytearray()
                while True:
                    j = data.find(b'"', i)
                    if j < 0:
                        raise CsvError(f"line {start_line}: unterminated quoted value")
                    buf += data[i:j]
                    line += data.count(b"\n", i, j)
                    if data[j + 1:j + 2] == b'"':
                        buf += b'"'
                        i = j + 2
                        continue
                    i = j + 1
                    break
                fields.append(bytes(buf))
            else:
                j = i
                while j < n and data[j:j + 1] not in (b",", b"\n"):
                    j += 1
                raw = data[i:j]
                if raw.endswith(b"\r") and data[j:j + 1] != b",":
                    raw = raw[:-1]
                if b'"' in raw:
                    raise CsvError(f"line {start_line}: quote inside an unquoted value")
                fields.append(None if raw == b"\\N" else raw)
                i = j
            if i >= n:
                break
            c = data[i:i + 1]
            if c == b",":
                i += 1
                if i >= n:
                    fields.append(b"")
                    break
                continue
            if c == b"\r" and data[i + 1:i + 2] == b"\n":
                i += 1
                c = b"\n"
            if c == b"\n":
                i += 1
                line += 1
                break
            raise CsvError(f"line {start_line}: unexpected character after a quoted value")
        yield start_line, [f if f is None else text(f) for f in fields]


def text(b):
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return b


DATA_RE = re.compile(r"^(?P<t>.+?)(?:\.(?P<n>\d+)(?:\.(?P<m>\d+))?)?\.csv$")


def scan_backup(tdir):
    """Returns ({table: schema path}, {table: [csv paths in order]})."""
    schemas, data = {}, {}
    for name in sorted(os.listdir(tdir)):
        path = os.path.join(tdir, name)
        if not os.path.isfile(path):
            continue
        if name.endswith("-schema.sql"):
            schemas[name[:-len("-schema.sql")]] = path
            continue
        m = DATA_RE.match(name)
        if m:
            key = (int(m.group("n") or -1), int(m.group("m") or -1))
            data.setdefault(m.group("t"), []).append((key, path))
    return schemas, {t: [p for _, p in sorted(v)] for t, v in data.items()}


def backup_row_counts(src, db):
    """{table: rows} of the backup in src (every table with a schema or data file)."""
    schemas, data = scan_backup(os.path.join(src, "data", db, "TABLE"))
    counts = {t: 0 for t in schemas}
    for t, paths in data.items():
        for path in paths:
            with open(path, "rb") as f:
                counts[t] = counts.get(t, 0) + sum(1 for _ in csv_records(f.read()))
    return counts


class Counters:
    def __init__(self, opts, log):
        self.opts, self.log = opts, log
        self.errors = self.discards = self.rows = 0
        self.ddl_created = self.ddl_skipped = self.ddl_failed = 0

    def error(self, msg, bad=None):
        self.errors += 1
        self.log.error(msg)
        if bad is not None:
            self.log.bad(bad)
        limit = self.opts["max_errors"]
        if 0 <= limit < self.errors:
            raise Failure(f"The number of errors ({self.errors}) exceeds --max-errors {limit}, "
                          "import aborted")

    def discard(self, msg):
        self.discards += 1
        self.log.discard(msg)
        limit = self.opts["max_discards"]
        if 0 <= limit < self.discards:
            raise Failure(f"The number of discarded rows ({self.discards}) exceeds "
                          f"--max-discards {limit}, import aborted")


def confirm(opts, log):
    """Risky operations on a whole database need -y or a 'y' typed at the prompt."""
    what = "--truncate-table" if opts.get("truncate_table") else "--delete-from-table"
    if opts.get("yes") or not opts.get("all"):
        return
    sys.stdout.write(f"{what} will empty every table of database {opts['database']}. "
                     "Continue? (y/n): ")
    sys.stdout.flush()
    answer = sys.stdin.readline().strip().lower() if sys.stdin else ""
    if answer not in ("y", "yes"):
        raise Failure(f"Operation cancelled: {what} was not confirmed (use -y)")
    log.info(f"{what} confirmed at the prompt")


def load(opts, log):
    src = os.path.abspath(opts["file_path"])
    db = opts["database"]
    if not os.path.exists(src):
        raise Failure(f"The directory {src} does not exist")
    if not os.path.isdir(src):
        raise Failure(f"The path {src} is not a directory")
    tdir = os.path.join(src, "data", db, "TABLE")
    if not os.path.isdir(tdir):
        raise Failure(f"No table files found: {tdir} does not exist")
    if not os.path.isfile(os.path.join(src, "MANIFEST.bin")):
        log.warn(f"{src}/MANIFEST.bin not found, loading the files found anyway")
    schemas, data = scan_backup(tdir)
    tables = requested_tables(opts, set(schemas) | set(data))
    if opts.get("truncate_table") or opts.get("delete_from_table"):
        confirm(opts, log)
    conn = connect(opts, log)
    count = Counters(opts, log)
    report = {}
    started = time.time()
    try:
        with conn.cursor() as cur:
            cur.execute("SET SESSION foreign_key_checks = 0")
        if opts.get("ddl"):
            for t in tables:
                if t in schemas:
                    report[t] = load_ddl(conn, opts, count, t, schemas[t])
        if opts.get("csv"):
            for t in tables:
                if t in data:
                    report[t] = load_csv(conn, opts, count, t, data[t], report.get(t))
    except pymysql.MySQLError as e:
        raise Failure(f"Import failed: {describe(e)}")
    finally:
        conn.close()
    lines = ["All Load Tasks Finished:", "-" * 72,
             f"| {'No.':<4} | {'Type':<6} | {'Name':<32} | {'Count':<10} | {'Status':<8} |",
             "-" * 72]
    for k, t in enumerate(tables, 1):
        rows, status = report.get(t, (0, "SKIPPED"))
        lines.append(f"| {k:<4} | {'TABLE':<6} | {t:<32} | {rows:<10} | {status:<8} |")
    lines.append("-" * 72)
    lines.append(f"Total: {len(tables)} table(s), {count.rows} row(s) imported, "
                 f"{count.errors} error(s), {count.discards} row(s) discarded; DDL: "
                 f"{count.ddl_created} created, {count.ddl_skipped} skipped (exists), "
                 f"{count.ddl_failed} failed; {time.time() - started:.2f} s")
    for line in lines:
        log.info(line)
    print("\n".join(lines))
    if opts.get("strict") and (count.errors or count.discards):
        raise Failure(f"--strict: {count.errors} error(s) and {count.discards} discarded "
                      "row(s)")
    return 0


def table_exists(conn, t):
    with conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM information_schema.TABLES WHERE "
                    "TABLE_SCHEMA=DATABASE() AND TABLE_NAME=%s", (t,))
        return cur.fetchone()[0] > 0


def load_ddl(conn, opts, count, t, path):
    with open(path, encoding="utf-8") as f:
        ddl = f.read().strip().rstrip(";").strip()
    try:
        with conn.cursor() as cur:
            if table_exists(conn, t):
                if not opts.get("replace_object"):
                    count.ddl_skipped += 1
                    count.log.info(f"Table {t} already exists, skip creating it "
                                   "(--replace-object replaces it)")
                    return (0, "EXISTS")
                cur.execute(f"DROP TABLE {qident(t)}")
                count.log.info(f"Dropped table {t} (--replace-object)")
            cur.execute(ddl)
    except pymysql.MySQLError as e:
        count.ddl_failed += 1
        count.error(f"Create table {t} from {os.path.basename(path)} failed: {describe(e)}")
        return (0, "FAILURE")
    count.ddl_created += 1
    count.log.info(f"Created table {t}")
    return (0, "SUCCESS")


def load_csv(conn, opts, count, t, paths, ddl_status):
    if not table_exists(conn, t):
        count.error(f"Load data of table {t} failed: table {t} does not exist")
        return (0, "FAILURE")
    with conn.cursor() as cur:
        if opts.get("truncate_table"):
            cur.execute(f"TRUNCATE TABLE {qident(t)}")
            count.log.info(f"Truncated table {t}")
        elif opts.get("delete_from_table"):
            cur.execute(f"DELETE FROM {qident(t)}")
            count.log.info(f"Deleted all rows from table {t}")
        cur.execute("SELECT COUNT(*) FROM information_schema.COLUMNS WHERE "
                    "TABLE_SCHEMA=DATABASE() AND TABLE_NAME=%s", (t,))
        ncols = cur.fetchone()[0]
    verb = "REPLACE" if opts.get("replace_data") else "INSERT"
    row_sql = "(" + ", ".join(["%s"] * ncols) + ")"
    before = (count.rows, count.errors, count.discards)
    for path in paths:
        fname = os.path.basename(path)
        with open(path, "rb") as f:
            raw = f.read()
        batch = []
        try:
            for lineno, fields in csv_records(raw):
                if len(fields) != ncols:
                    count.error(f"Load {fname} line {lineno} into {t} failed: column count "
                                f"mismatch, the file has {len(fields)} column(s), the table "
                                f"has {ncols}", bad=f"{t} {fname}:{lineno} {fields!r}")
                    continue
                batch.append((lineno, fields))
                if len(batch) >= INSERT_BATCH:
                    insert_batch(conn, count, verb, t, fname, row_sql, batch)
                    batch = []
        except CsvError as e:
            count.error(f"Load {fname} into {t} failed: malformed CSV, {e}")
        if batch:
            insert_batch(conn, count, verb, t, fname, row_sql, batch)
    rows, errors, discards = (count.rows - before[0], count.errors - before[1],
                              count.discards - before[2])
    count.log.info(f"Load data of table {t} finished: {rows} imported, {errors} error(s), "
                   f"{discards} discarded")
    return (rows, "SUCCESS" if errors == 0 else "FAILURE")


def insert_batch(conn, count, verb, t, fname, row_sql, batch):
    sql = f"{verb} INTO {qident(t)} VALUES "
    with conn.cursor() as cur:
        try:
            cur.execute(sql + ", ".join([row_sql] * len(batch)),
                        [v for _, fields in batch for v in fields])
            count.rows += len(batch)
            return
        except pymysql.OperationalError as e:
            if e.args and e.args[0] in (2003, 2006, 2013):
                raise
        except pymysql.MySQLError:
            pass
        # One row at a time, to tell the good rows from the bad ones.
        for lineno, fields in batch:
            try:
                cur.execute(sql + row_sql, fields)
                count.rows += 1
            except pymysql.OperationalError as e:
                if e.args and e.args[0] in (2003, 2006, 2013):
                    raise
                row_failed(count, t, fname, lineno, fields, e)
            except pymysql.MySQLError as e:
                row_failed(count, t, fname, lineno, fields, e)


def row_failed(count, t, fname, lineno, fields, e):
    if e.args and e.args[0] == ER_DUP_ENTRY:
        count.discard(f"{t} {fname}:{lineno} {describe(e)} {fields!r}")
        return
    count.error(f"Load {fname} line {lineno} into {t} failed: {describe(e)}",
                bad=f"{t} {fname}:{lineno} {fields!r}")


# ---------------------------------------------------------------- entry

def main(tool, argv):
    try:
        opts = parse_args(tool, argv)
    except UsageError as e:
        sys.stderr.write(f"{tool}: {e}\n{usage(tool)}\n")
        Log(tool).error(f"Invalid command line: {e}")
        return 2
    if opts is None:
        print(usage(tool))
        return 0
    log = Log(tool)
    log.info(f"{tool} {TOOL_VERSION} started: {tool} {masked(argv)}")
    try:
        rc = dump(opts, log) if tool == "obdumper" else load(opts, log)
    except Failure as e:
        log.error(str(e))
        sys.stderr.write(f"{tool}: {e}\n")
        log.info(f"{tool} finished with failure")
        return 1
    except KeyboardInterrupt:
        log.error("Interrupted")
        return 1
    log.info(f"{tool} finished")
    return rc
