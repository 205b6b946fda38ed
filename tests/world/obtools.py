"""Stand-ins for OceanBase's obdumper and obloader (ob-loader-dumper, closed-source Java CLIs).

They follow the public evidence, flaws and harsh defaults included. The evidence is collected,
with citations, in the research notes the stand-ins were built from. The main sources:
  MIG  oceanbase/oceanbase-doc en-US/500.data-migration/900.data-migration-between-oceanbase-
       databases/100.migrate-data-from-mysql-tenant-to-mysql-tenant.md: real 4.0.0 runs (the
       trees at :166-183 and :338-355, a schema file at :189-197, a CSV file at :361-367, the
       console at :101-161 and :378-439);
  ODC  oceanbase/odc (its embedded ob-loader-dumper 4.3.3.1): a real MANIFEST.bin in the test
       resources datatransfer/data/, CsvConfig.java, LoadParameterFactory.java:67-78,
       session.config.json;
  SEC  parameter baselines of OBLOADER/OBDUMPER 4.3.5 (secondary: --strict, --log-path).

Layout written by `obdumper -f DIR` (MIG:166-183, :338-355):
  DIR/data/MANIFEST.bin       written at the START of a dump (so its presence proves nothing)
                              and rewritten at the end; obloader rewrites it when it starts
                              (MIG:224)
  DIR/data/CHECKPOINT.bin     progress, rewritten after each table
  DIR/data/<DB>/TABLE/<t>-schema.sql    generated DDL (below), with --ddl
  DIR/data/<DB>/TABLE/<t>.1.<s>.csv     data, with --csv (MIG:347); s = 0, 1, ...: a new file
                              once the current one exceeds the block size (64 MiB as the real
                              tool, ODC DumpParameterFactory.java:110-120; --block-size in MiB,
                              or the stand-in knob OBDUMPER_STANDIN_BLOCK_BYTES); every file
                              starts with the header line. A table without rows still gets
                              <t>.1.0.csv holding only the header (a choice: no public output
                              shows an empty table; a reader must also accept no file at all)
  DIR/data/<DB>/VIEW/<v>-schema.sql     with --ddl --all (--table names tables only)
  DIR/logs/ob-loader-dumper.{info,warn,error}   unless --log-path (below)
obloader also reads the flat layout, DIR/data/TABLE/... without the <DB> level (oceanbase-doc
en-US/500.data-migration/800.migrate-data-from-sql-file-to-oceanbase-database.md:204-205).
MANIFEST.bin and CHECKPOINT.bin are Kryo-serialised Java objects in the real tool, with no magic
and no version (ODC BinaryFile.java:45-58). The stand-in writes b"\\x01\\x00", the class name
(com.oceanbase.tools.loaddump.common.model.Manifest; java.util.ArrayList for the checkpoint), a
zero byte, a big-endian u32 length and zlib-compressed JSON for its own use (the CSV dialect,
whether files have a header, the objects). Nothing of that is a promise: readers other than
this module must treat both files as opaque, and MANIFEST.bin may be missing altogether
(obdumper >= 4.1.0, odc-doc V4.3.2 troubleshooting 200.import-file-is-illegal-zip-package.md:20).

Schema files: the tool's generated DDL, not SHOW CREATE TABLE text (MIG:189-197). The stand-in
rewrites SHOW CREATE TABLE: keywords in lower case (names, strings and comments kept),
`create table if not exists`, columns indented by 6 spaces without `default null`, keys and
constraints (foreign keys included) kept, the table options on their own lines
(`default charset=...`, `default collate=...`, a comment; no engine, no auto_increment), `;`.
A view: `create or replace view `v` as <select>;` (SHOW CREATE VIEW without ALGORITHM, DEFINER,
SQL SECURITY).

CSV (the real tool's defaults: MIG:361-367 and the dialect stored in ODC's MANIFEST.bin sample):
  ',' between fields, "\\n" after each record, "'" as the quote; numbers (numeric column types)
  unquoted, every other non-NULL value quoted; NULL as unquoted \\N, the empty string as unquoted
  \\E; a first line with the quoted column names ('col1','col2') unless --skip-header;
  escape character '\\' inside quoted values: ' is written \\' and \\ is written \\\\, a newline
  is written raw inside the quotes, binary values as their bytes, escaped the same way.
  OBTOOLS_STANDIN_ESCAPE=none (stand-in knob; 4.3.5 documents "no escape" for CSV) makes
  obdumper write RFC-4180 style instead: a quote doubled (''), a backslash literal.
  Reading (csv_records) un-escapes as commons-csv does: \\' \\\\ \\, give the character, \\n \\r
  \\t \\b \\f the control character, any other \\x stays two characters; '' inside quotes is one
  quote; a quoted '\\N' is the text \\N.
  obloader reads with the dialect MANIFEST.bin names. Without MANIFEST.bin it uses its own
  defaults (escape '\\', header not skipped): files written without an escape character are
  then misread wherever a value holds a backslash (\\n turns into a newline, a value ending in
  a backslash swallows its closing quote), and the header line is loaded as a row.

obloader:
  - header: the first line of each file is skipped with --skip-header, or when MANIFEST.bin
    says the files have one; otherwise it is loaded as data (usually an error row, counted; a
    table of text columns gets an extra row);
  - --ddl: tables in NAME order, each schema file as it is (`create table if not exists`: an
    existing table is kept, ODC's note that the library errors instead is not modelled),
    --replace-object drops it first; then views (create or replace);
  - --csv: data in table-name order into existing tables; INSERT, a duplicate key discards
    the row (.discard) unless --replace-data (REPLACE: a delete and an insert, so ON DELETE
    CASCADE children go); a failing row is logged (.error, .bad) and skipped;
  - foreign_key_checks is never switched off (the tool's session init has no such setting,
    ODC session.config.json): a child table created before its parent, or child rows loaded
    before the parent's, fail exactly as the server says, and are counted as errors;
  - --max-errors (default 1000, -1 unlimited) and --max-discards (default -1): beyond them the
    run stops, exit 1; both count over the whole run here;
  - --strict (obloader >= 4.2.4, default true per SEC): any error or discarded row makes the
    exit status 1 after the summary; --strict=false / --strict false: exit 0 with skipped rows
    (the pre-4.2.4 behaviour, FAQ: "OBLOADER import failed, no error reported");
  - it rewrites data/MANIFEST.bin when it starts (MIG:224); when that fails (a read-only
    backup) it logs a WARN and goes on. Unsettled: the real tool may fail there instead.
Logs: in --log-path DIR when given (both tools), else in <-f DIR>/logs (4.0.0 trees; SEC for
4.3.5; one source says the install dir's logs/: unsettled), never in the working directory:
ob-loader-dumper.info (everything), .warn, .error (all three created at start, as in the
trees), .bad (rejected rows) and .discard (duplicates) only when such rows occur. A log
directory that cannot be created or written: exit 1, the reason on stderr.
Console (stdout): every log line, `Parsed args:` with passwords as ******, a summary per phase
(`All Dump Tasks Finished:` / `All Load Tasks Finished:`, Count `N -> M` for a load, Status),
and last `System exit N`. No password is ever written.
Exit status: 0 done, 1 failed (including strict), 2 usage error.
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

INSERT_BATCH = 200
DEFAULT_BLOCK_BYTES = 64 << 20
TOOL_VERSION = "4.2.4-standin"
ER_DUP_ENTRY = 1062
ER_TABLE_EXISTS = 1050
KRYO_HEAD = b"\x01\x00"
MANIFEST_CLASS = b"com.oceanbase.tools.loaddump.common.model.Manifest"
CHECKPOINT_CLASS = b"java.util.ArrayList"
LOG_FILES = ("ob-loader-dumper.info", "ob-loader-dumper.warn", "ob-loader-dumper.error")
# MySQL field types written without quotes (column-quote-mode non_numeric): DECIMAL, TINY,
# SHORT, LONG, FLOAT, DOUBLE, LONGLONG, INT24, NEWDECIMAL.
NUMERIC_TYPES = {0, 1, 2, 3, 4, 5, 8, 9, 246}

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
    "--log-path": ("log_path", True, BOTH),
    "--ddl": ("ddl", False, BOTH),
    "--csv": ("csv", False, BOTH),
    "--sql": ("sql", False, BOTH),
    "--all": ("all", False, BOTH),
    "--no-sys": ("no_sys", False, BOTH),
    "--skip-header": ("skip_header", False, BOTH),
    "--skip-check-dir": ("skip_check_dir", False, DUMPER),
    "--block-size": ("block_size", True, DUMPER),
    "--replace-data": ("replace_data", False, LOADER),
    "--truncate-table": ("truncate_table", False, LOADER),
    "--delete-from-table": ("delete_from_table", False, LOADER),
    "--replace-object": ("replace_object", False, LOADER),
    "-y": ("yes", False, LOADER),
    "--max-errors": ("max_errors", True, LOADER),
    "--max-discards": ("max_discards", True, LOADER),
    "--strict": ("strict", None, LOADER),  # --strict, --strict=B, --strict B (B true|false)
}
SECRET_OPTS = {"-p", "--password", "--sys-password"}
LONG_NAME = {short: next((n for n, s in OPTIONS.items() if n.startswith("--") and s[0] == spec[0]),
                         short)
             for short, spec in OPTIONS.items() if not short.startswith("--")}
SECRET_DESTS = {"password", "sys_password"}


class UsageError(Exception):
    pass


class Failure(Exception):
    """A run that cannot go on: logged, exit status 1."""


def usage(tool):
    common = ("-h HOST -P PORT -u USER [-p PASSWORD] [-c CLUSTER] [-t TENANT] -D DATABASE "
              "(--ddl|--csv|--sql) (--all|--table NAMES) -f DIR [--thread N] [--no-sys] "
              "[--sys-user USER] [--sys-password PASSWORD] [--log-path DIR] [--skip-header]")
    if tool == "obloader":
        return (f"usage: obloader {common} [--replace-data] [--truncate-table] "
                "[--delete-from-table] [--replace-object] [-y] [--max-errors N] "
                "[--max-discards N] [--strict[=true|false]]")
    return f"usage: obdumper {common} [--skip-check-dir] [--block-size MB]"


def parse_args(tool, argv):
    """Returns (dict of options, [(long option, value)] as given); raises UsageError.
    --help returns (None, None)."""
    opts = {"thread": "1", "max_errors": "1000", "max_discards": "-1", "password": "",
            "strict": True}
    given = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("--help", "-?"):
            return None, None
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
        if takes_value is None:  # --strict with an optional boolean
            if value is None and i + 1 < len(argv) and argv[i + 1].lower() in ("true", "false"):
                i += 1
                value = argv[i]
            if value is not None and value.lower() not in ("true", "false"):
                raise UsageError(f"Invalid value for option {name}: {value} (true or false)")
            opts[dest] = value is None or value.lower() == "true"
        elif takes_value:
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
        long_name = LONG_NAME.get(name, name)
        shown = "******" if dest in SECRET_DESTS else str(opts[dest]).lower() \
            if isinstance(opts[dest], bool) else opts[dest]
        given.append((long_name, shown))
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
    for key, lo in (("port", 1), ("thread", 1), ("max_errors", -1), ("max_discards", -1),
                    ("block_size", 1)):
        if key not in opts:
            continue
        try:
            opts[key] = int(opts[key])
        except ValueError:
            raise UsageError(f"Invalid number for --{key.replace('_', '-')}: {opts[key]}")
        if opts[key] < lo or (key == "port" and opts[key] > 65535):
            raise UsageError(f"Out of range for --{key.replace('_', '-')}: {opts[key]}")
    if opts.get("truncate_table") and opts.get("delete_from_table"):
        raise UsageError("--truncate-table and --delete-from-table are exclusive")
    return opts, given


def masked(argv):
    """argv as one line with every password replaced by ******."""
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


def log_dir_for(argv, cwd=None):
    """Where a run with argv (the tool's arguments) writes its logs: --log-path, else
    <-f DIR>/logs, relative to cwd; None when argv names neither."""
    found = {}
    i = 0
    while i < len(argv):
        arg = str(argv[i])
        name, value = arg, None
        if arg.startswith("--") and "=" in arg:
            name, value = arg.split("=", 1)
        elif arg.startswith("-f") and len(arg) > 2:
            name, value = "-f", arg[2:]
        if name in ("--log-path", "-f", "--file-path"):
            if value is None and i + 1 < len(argv):
                i += 1
                value = str(argv[i])
            found["log" if name == "--log-path" else "f"] = value
        elif name in OPTIONS and OPTIONS[name][1] and value is None and "=" not in arg:
            i += 1  # skip an option's value (a password may look like anything)
        i += 1
    if found.get("log"):
        path = found["log"]
    elif found.get("f"):
        path = os.path.join(found["f"], "logs")
    else:
        return None
    return os.path.join(cwd or os.getcwd(), path)


class Log:
    """The run's log files in one directory, each line also on stdout. open() raises OSError
    when the directory cannot be created or written; afterwards writes never raise."""

    def __init__(self, directory):
        self.dir = directory

    def open(self):
        os.makedirs(self.dir, exist_ok=True)
        for name in LOG_FILES:
            with open(os.path.join(self.dir, name), "a", encoding="utf-8"):
                pass
        return self

    def _write(self, name, line):
        try:
            with open(os.path.join(self.dir, name), "a", encoding="utf-8",
                      errors="backslashreplace") as f:
                f.write(line)
        except OSError:
            pass

    @staticmethod
    def _line(level, msg):
        return f"{datetime.datetime.now():%Y-%m-%d %H:%M:%S} [{level}] {msg}\n"

    def _emit(self, level, msg, files):
        line = self._line(level, msg)
        for name in files:
            self._write(name, line)
        try:
            sys.stdout.write(line)
            sys.stdout.flush()
        except (OSError, ValueError):
            pass

    def info(self, msg):
        self._emit("INFO", msg, ("ob-loader-dumper.info",))

    def warn(self, msg):
        self._emit("WARN", msg, ("ob-loader-dumper.info", "ob-loader-dumper.warn"))

    def error(self, msg):
        self._emit("ERROR", msg, ("ob-loader-dumper.info", "ob-loader-dumper.error"))

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
    # The session as the tool's session.config.json sets it up (names, autocommit): nothing
    # about foreign_key_checks, sql_mode or unique_checks.
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


def write_atomic(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def requested(opts, available):
    """The names --all / --table select among available (sorted by name)."""
    if opts.get("all") or opts.get("table") == "*":
        return sorted(available)
    names = [t.strip() for t in opts["table"].split(",") if t.strip()]
    missing = [t for t in names if t not in available]
    if missing:
        raise Failure(f"Table(s) not found: {', '.join(missing)}")
    return sorted(set(names))


# ---------------------------------------------------------------- the backup's files

def data_dir(src):
    return os.path.join(src, "data")


def manifest_path(src):
    return os.path.join(src, "data", "MANIFEST.bin")


def checkpoint_path(src):
    return os.path.join(src, "data", "CHECKPOINT.bin")


def object_dir(src, db, kind="TABLE"):
    """data/<DB>/<kind>; in the flat layout the loader also reads (data/<kind>, no schema
    level: oceanbase-doc 800.migrate-data-from-sql-file-to-oceanbase-database.md:204-205),
    data/<kind> when data/<DB> is missing."""
    nested = os.path.join(src, "data", db)
    if not os.path.isdir(nested) and os.path.isdir(os.path.join(src, "data", "TABLE")):
        return os.path.join(src, "data", kind)
    return os.path.join(nested, kind)


def pack_kryo(cls, obj):
    """Bytes that look like a Kryo object of class cls; the payload is the stand-in's own."""
    payload = zlib.compress(json.dumps(obj, sort_keys=True).encode())
    return KRYO_HEAD + cls + b"\x00" + struct.pack(">I", len(payload)) + payload


def unpack_kryo(data, cls):
    """The object pack_kryo stored, or None (another writer, or damaged)."""
    head = KRYO_HEAD + cls + b"\x00"
    if not data.startswith(head) or len(data) < len(head) + 4:
        return None
    (n,) = struct.unpack(">I", data[len(head):len(head) + 4])
    try:
        obj = json.loads(zlib.decompress(data[len(head) + 4:len(head) + 4 + n]))
    except (zlib.error, ValueError):
        return None
    return obj if isinstance(obj, dict) else None


def read_manifest(src):
    """(state, manifest): ("absent", None), ("unreadable", None) or ("ok", dict)."""
    try:
        with open(manifest_path(src), "rb") as f:
            data = f.read(16 << 20)
    except FileNotFoundError:
        return "absent", None
    except OSError:
        return "unreadable", None
    m = unpack_kryo(data, MANIFEST_CLASS)
    return ("ok", m) if m is not None else ("unreadable", None)


def standin_escape():
    """obdumper's escape character: '\\', or None with OBTOOLS_STANDIN_ESCAPE=none."""
    return None if os.environ.get("OBTOOLS_STANDIN_ESCAPE", "").lower() == "none" else "\\"


def dialect(escape="\\", header=True):
    """The CSV dialect as a manifest stores it (names as the library's Manifest fields)."""
    return {"columnSeparator": ",", "columnDelimiter": "'", "escapeCharacter": escape,
            "nullString": "\\N", "emptyString": "\\E", "lineSeparator": "\n",
            "header": header}


# obloader's own settings without a manifest: escape '\\', and nothing known about a header
# (so none is skipped unless --skip-header).
LOADER_DIALECT = dialect("\\", header=None)


def reader_args(d):
    """csv_records keyword arguments for dialect d."""
    return {"sep": d["columnSeparator"], "quote": d["columnDelimiter"],
            "escape": d["escapeCharacter"], "null": d["nullString"], "empty": d["emptyString"]}


def csv_field(v, numeric, d):
    """One value as bytes in dialect d."""
    if v is None:
        return d["nullString"].encode()
    if isinstance(v, str):
        v = v.encode("utf-8")
    elif not isinstance(v, bytes):
        v = str(v).encode("utf-8")
    if v == b"":
        return d["emptyString"].encode()
    if numeric:
        return v
    q = d["columnDelimiter"].encode()
    e = d["escapeCharacter"]
    if e:
        e = e.encode()
        v = v.replace(e, e + e).replace(q, e + q)
    else:
        v = v.replace(q, q + q)
    return q + v + q


def csv_line(values, numeric, d):
    return (d["columnSeparator"].encode().join(csv_field(v, n, d) for v, n in zip(values, numeric))
            + d["lineSeparator"].encode())


class CsvError(Exception):
    pass


# What an escape character followed by c stands for (commons-csv's Lexer.readEscape).
_ESCAPED = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f",
            b"\n": b"\n", b"\r": b"\r", b"\t": b"\t", b"\b": b"\b", b"\f": b"\f"}


def csv_records(data, quote="'", escape="\\", sep=",", null="\\N", empty="\\E"):
    """Yields (line number, fields) of CSV bytes in the given dialect (defaults: obdumper's).
    A field is None (unquoted null), "" (unquoted empty), str, or bytes when not UTF-8.
    Quoted fields keep their text ('\\N' quoted is the text \\N). Raises CsvError."""
    q, s = quote.encode(), sep.encode()
    e = escape.encode() if escape else None
    meta = {q, s} | ({e} if e else set())
    in_quoted = re.compile(b"[" + re.escape(q) + (re.escape(e) if e else b"") + b"]")
    unquoted_end = re.compile(b"[" + re.escape(s) + b"\n" + (re.escape(e) if e else b"") + b"]")
    nul, emp = null.encode(), empty.encode()
    i, n, line = 0, len(data), 1

    def unescape(j):
        c = data[j + 1:j + 2]
        if c == b"":
            raise CsvError(f"line {line}: escape character at the end of the data")
        if c in meta:
            return c
        return _ESCAPED.get(c, e + c)

    while i < n:
        start_line, fields = line, []
        if data[i:i + 1] == b"\n" or data[i:i + 2] == b"\r\n":  # an empty line
            i += 1 if data[i:i + 1] == b"\n" else 2
            line += 1
            continue
        while True:
            if data[i:i + 1] == q:
                i += 1
                buf = bytearray()
                while True:
                    m = in_quoted.search(data, i)
                    if m is None:
                        raise CsvError(f"line {start_line}: unterminated quoted value")
                    j = m.start()
                    buf += data[i:j]
                    line += data.count(b"\n", i, j)
                    if e is not None and data[j:j + 1] == e:
                        buf += unescape(j)
                        line += data[j + 1:j + 2] == b"\n"
                        i = j + 2
                        continue
                    if data[j + 1:j + 2] == q:
                        buf += q
                        i = j + 2
                        continue
                    i = j + 1
                    break
                fields.append(bytes(buf))
            else:
                marker = next((mk for mk in (nul, emp) if data.startswith(mk, i) and
                               data[i + len(mk):i + len(mk) + 1] in (s, b"\n", b"\r", b"")),
                              None)
                buf = bytearray(marker or b"")
                j = i + len(buf)
                while marker is None:
                    m = unquoted_end.search(data, j)
                    k = m.start() if m else n
                    buf += data[j:k]
                    if e is not None and data[k:k + 1] == e:
                        buf += unescape(k)
                        j = k + 2
                        continue
                    j = k
                    break
                raw = bytes(buf)
                if raw.endswith(b"\r") and data[j:j + 1] != s:
                    raw = raw[:-1]
                if q in raw and marker is None:
                    raise CsvError(f"line {start_line}: quote inside an unquoted value")
                fields.append(None if marker == nul else "" if marker == emp else raw)
                i = j
            if i >= n:
                break
            c = data[i:i + 1]
            if c == s:
                i += 1
                if i >= n:
                    fields.append("")
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
        yield start_line, [f if f is None or isinstance(f, str) else text(f) for f in fields]


def text(b):
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return b


DATA_RE = re.compile(r"^(?P<t>[^.]+?)(?:\.(?P<n>\d+)(?:\.(?P<m>\d+))?)?\.csv$")


def scan_backup(tdir):
    """One object folder (data/<DB>/TABLE): ({table: schema path}, {table: [data file paths
    in (group, sequence) order]}). A missing folder is empty."""
    schemas, data = {}, {}
    try:
        names = sorted(os.listdir(tdir))
    except FileNotFoundError:
        return {}, {}
    for name in names:
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


def schema_columns(path):
    """Column names of the create table statement in a schema file ([] when none)."""
    cols, inside = [], False
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().split("\n")
    except OSError:
        return []
    for line in lines:
        s = line.strip()
        if not inside:
            inside = re.match(r"(?i)create\s+table\b", s) is not None
            continue
        if s.startswith(")") or not s.startswith("`"):
            if s.startswith(")") or re.match(r"(?i)(primary|key|unique|constraint|index|"
                                             r"foreign|fulltext|spatial|check)\b", s):
                break
            continue
        m = re.match(r"`((?:[^`]|``)*)`", s)
        if m:
            cols.append(m.group(1).replace("``", "`"))
    return cols


def table_records(src, db, table):
    """The records of one table's data files in the backup src, header lines excluded, as
    lists of fields (see csv_records). The dialect and header are MANIFEST.bin's; without a
    readable one: the loader's defaults, and a first line equal to the column names of the
    schema file is taken for a header."""
    state, manifest = read_manifest(src)
    d = manifest.get("dialect", LOADER_DIALECT) if manifest else LOADER_DIALECT
    tdir = object_dir(src, db)
    schemas, data = scan_backup(tdir)
    cols = schema_columns(schemas[table]) if table in schemas else None
    out = []
    for path in data.get(table, []):
        with open(path, "rb") as f:
            recs = [fields for _, fields in csv_records(f.read(), **reader_args(d))]
        header = d.get("header")
        if recs and (header if header is not None else recs[0] == cols):
            recs = recs[1:]
        out += recs
    return out


def backup_row_counts(src, db):
    """{table: rows} of the backup in src: every table with a schema or data file, rows
    without header lines."""
    schemas, data = scan_backup(object_dir(src, db))
    return {t: len(table_records(src, db, t)) for t in sorted(set(schemas) | set(data))}


# ---------------------------------------------------------------- obdumper

def split_quoted(s):
    """s cut into (quoted?, piece): `identifiers`, 'strings' and "strings" apart from the
    rest (MariaDB's SHOW CREATE escapes with \\ and doubled quotes)."""
    out, i, n, start = [], 0, len(s), 0
    while i < n:
        c = s[i]
        if c in "`'\"":
            if start < i:
                out.append((False, s[start:i]))
            j = i + 1
            while j < n:
                if s[j] == "\\" and c != "`":
                    j += 2
                    continue
                if s[j] == c:
                    if j + 1 < n and s[j + 1] == c:
                        j += 2
                        continue
                    break
                j += 1
            out.append((True, s[i:j + 1]))
            i = start = j + 1
            continue
        i += 1
    if start < n:
        out.append((False, s[start:]))
    return out


def lower_sql(s, drop_default_null=False):
    parts = []
    for quoted, piece in split_quoted(s):
        if not quoted:
            piece = piece.lower()
            if drop_default_null:
                piece = re.sub(r"\s+default null\b", "", piece)
        parts.append(piece)
    return "".join(parts)


TABLE_OPTION = re.compile(r"\s*((?:DEFAULT\s+)?[A-Z_]+)=('(?:[^'\\]|''|\\.)*'|[^\s']+)")


def generated_table_ddl(show_create, charset, collation):
    """The generated DDL obdumper writes, from SHOW CREATE TABLE text (see the docstring)."""
    lines = show_create.split("\n")
    m = re.match(r"CREATE TABLE (`(?:[^`]|``)+`) \($", lines[0])
    close = max([k for k, line in enumerate(lines) if line.startswith(")")] or [0])
    if m is None or close == 0:
        raise Failure(f"Unexpected SHOW CREATE TABLE text: {lines[0][:200]}")
    out = [f"create table if not exists {m.group(1)} ("]
    for line in lines[1:close]:
        out.append("      " + lower_sql(line.strip(), drop_default_null=True))
    out.append(")")
    rest = lines[close][1:]
    pos, options = 0, []
    while True:
        om = TABLE_OPTION.match(rest, pos)
        if om is None:
            break
        options.append((re.sub(r"\s+", " ", om.group(1)), om.group(2)))
        pos = om.end()
    out.append(f"default charset={charset}")
    out.append(f"default collate={collation}")
    for key, value in options:
        if key in ("ENGINE", "AUTO_INCREMENT", "DEFAULT CHARSET", "CHARSET", "COLLATE",
                   "DEFAULT COLLATE"):
            continue
        out.append(f"{key.lower()}={value if value.startswith(chr(39)) else value.lower()}")
    tail = "\n".join([rest[pos:]] + lines[close + 1:]).strip()
    if tail:
        out.append(lower_sql(tail))
    return "\n".join(out) + ";\n"


def generated_view_ddl(show_create, name):
    m = re.search(r"\bVIEW (`(?:[^`]|``)+`) AS ", show_create)
    if m is None:
        raise Failure(f"Unexpected SHOW CREATE VIEW text for {name}: {show_create[:200]}")
    return f"create or replace view {qident(name)} as {show_create[m.end():].strip()};\n"


def summary(kind, rows, total):
    """The real tool's summary table (MIG:146-157): rows are (type, name, count, status)."""
    rule = "-" * 124
    lines = ["", f"All {kind} Tasks Finished:", "", rule,
             f"{'No.#':^20}|{'Type':^20}|{'Name':^30}|{'Count':^30}|{'Status':^15}", rule]
    for k, (typ, name, count, status) in enumerate(rows, 1):
        lines.append(f"{k:^20}|{typ:^20}|{name:^30}|{count:^30}|{status:^15}")
    lines += [rule, "", f"Total Count: {total:<10} End Time: "
              f"{datetime.datetime.now():%Y-%m-%d %H:%M:%S}", ""]
    return "\n".join(line.rstrip() for line in lines)


def block_bytes(opts):
    if opts.get("block_size"):
        return opts["block_size"] << 20
    env = os.environ.get("OBDUMPER_STANDIN_BLOCK_BYTES", "")
    return int(env) if env.isdigit() and int(env) > 0 else DEFAULT_BLOCK_BYTES


def dump(opts, log):
    out = os.path.abspath(opts["file_path"])
    if os.path.exists(out) and not os.path.isdir(out):
        raise Failure(f"The output path {out} is not a directory")
    if os.path.isdir(out) and not opts.get("skip_check_dir"):
        # The tool's own log directory (created when it started) does not count.
        others = [e for e in os.listdir(out)
                  if os.path.realpath(os.path.join(out, e)) != os.path.realpath(log.dir)]
        if others:
            raise Failure(f"The output directory {out} is not empty, please clean it up or use "
                          "--skip-check-dir")
    conn = connect(opts, log, text_only=True)
    db = opts["database"]
    started = time.time()
    d = dialect(standin_escape(), header=not opts.get("skip_header"))
    manifest = {"writer": "obdumper", "version": TOOL_VERSION, "database": db,
                "state": "RUNNING", "ddl": bool(opts.get("ddl")), "csv": bool(opts.get("csv")),
                "dialect": d, "objects": {"TABLE": {}, "VIEW": []}}
    try:
        os.makedirs(data_dir(out), exist_ok=True)
        write_atomic(manifest_path(out), pack_kryo(MANIFEST_CLASS, manifest))
        log.info(f'The manifest file: "{manifest_path(out)}" has been saved')
        write_atomic(checkpoint_path(out), pack_kryo(CHECKPOINT_CLASS, {"done": []}))
        with conn.cursor() as cur:
            cur.execute("SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES "
                        "WHERE TABLE_SCHEMA=%s", (db,))
            found = cur.fetchall()
        base = {text_of(r[0]) for r in found if text_of(r[1]) == "BASE TABLE"}
        views = sorted(text_of(r[0]) for r in found if text_of(r[1]) == "VIEW")
        tables = requested(opts, base)
        if not opts.get("all"):
            views = []
        tdir, vdir = (os.path.join(out, "data", db, kind) for kind in ("TABLE", "VIEW"))
        os.makedirs(tdir, exist_ok=True)
        schema_rows, data_rows, done, total_rows = [], [], [], 0
        for t in tables:
            if opts.get("ddl"):
                path = os.path.join(tdir, f"{t}-schema.sql")
                with open(path, "w", encoding="utf-8") as f:
                    f.write(table_ddl(conn, db, t))
                log.info(f'Dump [TABLE] {t} to "{path}" finished')
                schema_rows.append(("TABLE", t, "1", "SUCCESS"))
            entry = {}
            if opts.get("csv"):
                entry["files"], entry["rows"] = dump_table_csv(conn, t, tdir, d,
                                                               block_bytes(opts))
                total_rows += entry["rows"]
                log.info(f'Dump {entry["rows"]} rows {db}.{t} to '
                         f'"{os.path.join(tdir, t)}.1.*.csv" finished')
                data_rows.append(("TABLE", t, str(entry["rows"]), "SUCCESS"))
            manifest["objects"]["TABLE"][t] = entry
            done.append(f"TABLE:{t}")
            write_atomic(checkpoint_path(out), pack_kryo(CHECKPOINT_CLASS, {"done": done}))
        if opts.get("ddl") and views:
            os.makedirs(vdir, exist_ok=True)
            for v in views:
                with conn.cursor() as cur:
                    cur.execute(f"SHOW CREATE VIEW {qident(v)}")
                    ddl = generated_view_ddl(text_of(cur.fetchone()[1]), v)
                path = os.path.join(vdir, f"{v}-schema.sql")
                with open(path, "w", encoding="utf-8") as f:
                    f.write(ddl)
                log.info(f'Dump [VIEW] {v} to "{path}" finished')
                schema_rows.append(("VIEW", v, "1", "SUCCESS"))
                manifest["objects"]["VIEW"].append(v)
                done.append(f"VIEW:{v}")
        elif opts.get("ddl"):
            log.warn(f'No views are exist in the schema: "{db}"' if opts.get("all") else
                     "Views are not dumped with --table")
        write_atomic(checkpoint_path(out), pack_kryo(CHECKPOINT_CLASS, {"done": done,
                                                                        "finished": True}))
        manifest["state"] = "FINISHED"
        write_atomic(manifest_path(out), pack_kryo(MANIFEST_CLASS, manifest))
    except OSError as e:
        raise Failure(f"Write to {out} failed: {e}")
    except pymysql.MySQLError as e:
        raise Failure(f"Dump failed: {describe(e)}")
    finally:
        conn.close()
    if opts.get("ddl"):
        log.info(summary("Dump", schema_rows, len(schema_rows)))
        log.info(f"Dump schema finished. Total Elapsed: {time.time() - started:.3f} s")
    if opts.get("csv"):
        log.info(summary("Dump", data_rows, total_rows))
        log.info(f"Dump record finished. Total Elapsed: {time.time() - started:.3f} s")
    return 0


def text_of(v):
    return v.decode("utf-8") if isinstance(v, bytes) else v


def table_ddl(conn, db, t):
    with conn.cursor() as cur:
        cur.execute(f"SHOW CREATE TABLE {qident(t)}")
        show = text_of(cur.fetchone()[1])
        cur.execute("SELECT t.TABLE_COLLATION, c.CHARACTER_SET_NAME FROM information_schema."
                    "TABLES t LEFT JOIN information_schema.COLLATIONS c ON c.COLLATION_NAME = "
                    "t.TABLE_COLLATION WHERE t.TABLE_SCHEMA=%s AND t.TABLE_NAME=%s", (db, t))
        collation, charset = (text_of(v) for v in cur.fetchone())
    return generated_table_ddl(show, charset or collation.split("_")[0], collation)


def primary_key(conn, t):
    with conn.cursor() as cur:
        cur.execute("SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE "
                    "WHERE TABLE_SCHEMA=DATABASE() AND TABLE_NAME=%s AND "
                    "CONSTRAINT_NAME='PRIMARY' ORDER BY ORDINAL_POSITION", (t,))
        return [text_of(r[0]) for r in cur.fetchall()]


def dump_table_csv(conn, t, tdir, d, block):
    """Writes t's rows (in primary-key order) as <t>.1.<s>.csv files of about block bytes;
    returns (names, rows)."""
    files, rows, f, size = [], 0, None, 0
    pk = primary_key(conn, t)
    sql = f"SELECT * FROM {qident(t)}"
    if pk:
        sql += " ORDER BY " + ", ".join(qident(c) for c in pk)
    cur = conn.cursor(pymysql.cursors.SSCursor)
    try:
        cur.execute(sql)
        numeric = [c[1] in NUMERIC_TYPES for c in cur.description]
        header = csv_line([c[0] for c in cur.description], [False] * len(numeric), d)

        def start():
            name = f"{t}.1.{len(files)}.csv"
            files.append(name)
            fh = open(os.path.join(tdir, name), "wb")
            if d["header"]:
                fh.write(header)
                return fh, len(header)
            return fh, 0

        for row in cur:
            if f is None or size > block:
                if f is not None:
                    f.close()
                f, size = start()
            line = csv_line(row, numeric, d)
            f.write(line)
            size += len(line)
            rows += 1
        if f is None:
            f, size = start()  # no rows: the header alone
    finally:
        cur.close()
        if f is not None:
            f.close()
    return files, rows


# ---------------------------------------------------------------- obloader

class Counters:
    def __init__(self, opts, log):
        self.opts, self.log = opts, log
        self.errors = self.discards = self.rows = 0

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
    tdir, vdir = object_dir(src, db), object_dir(src, db, "VIEW")
    if not os.path.isdir(tdir):
        raise Failure(f"No table files found: {tdir} does not exist")
    state, manifest = read_manifest(src)
    if manifest is not None:
        d = dict(manifest.get("dialect", LOADER_DIALECT))
    else:
        log.warn(f'The manifest file: "{manifest_path(src)}" is {state}, the data files are read '
                 "with the loader's own settings")
        d = dict(LOADER_DIALECT)
    skip_header = bool(opts.get("skip_header") or d.get("header") is True)
    # The loader saves a manifest when it starts (MIG:224); it describes the files, so what
    # was read is kept (without one: the loader's settings, nothing known about a header).
    new = dict(manifest or {"objects": {}}, writer="obloader", version=TOOL_VERSION,
               database=manifest.get("database", db) if manifest else db, dialect=d)
    try:
        write_atomic(manifest_path(src), pack_kryo(MANIFEST_CLASS, new))
        log.info(f'The manifest file: "{manifest_path(src)}" has been saved')
    except OSError as e:
        log.warn(f'Save the manifest file: "{manifest_path(src)}" failed: {e}')
    schemas, data = scan_backup(tdir)
    view_schemas, _ = scan_backup(vdir)
    tables = requested(opts, set(schemas) | set(data))
    views = sorted(view_schemas) if opts.get("all") else []
    if opts.get("truncate_table") or opts.get("delete_from_table"):
        confirm(opts, log)
    conn = connect(opts, log)
    count = Counters(opts, log)
    started = time.time()
    ddl_rows, data_rows, total = [], [], 0
    try:
        if opts.get("ddl"):
            for t in tables:
                if t in schemas:
                    ddl_rows.append(("TABLE", t) + load_ddl(conn, opts, count, "TABLE", t,
                                                            schemas[t]))
            for v in views:
                ddl_rows.append(("VIEW", v) + load_ddl(conn, opts, count, "VIEW", v,
                                                       view_schemas[v]))
            if not views:
                log.warn('The object type : "VIEW" doesn\'t exist in the -schema.sql files')
        if opts.get("csv"):
            for t in tables:
                if t in data:
                    read, done, status = load_csv(conn, opts, count, t, data[t], d, skip_header)
                    data_rows.append(("TABLE", t, f"{read} -> {done}", status))
                    total += done
    except pymysql.MySQLError as e:
        raise Failure(f"Import failed: {describe(e)}")
    finally:
        conn.close()
    if opts.get("ddl"):
        log.info(summary("Load", ddl_rows, len(ddl_rows)))
        log.info(f"Load schema finished. Total Elapsed: {time.time() - started:.3f} s")
    if opts.get("csv"):
        log.info(summary("Load", data_rows, total))
        log.info(f"Load record finished. Total Elapsed: {time.time() - started:.3f} s")
    log.info(f"{count.rows} row(s) imported, {count.errors} error(s), {count.discards} row(s) "
             "discarded")
    if opts["strict"] and (count.errors or count.discards):
        log.error(f"--strict is true: {count.errors} error(s) and {count.discards} discarded "
                  "row(s), the process exits with failure (--strict=false ignores them)")
        return 1
    return 0


def load_ddl(conn, opts, count, typ, name, path):
    """Runs one schema file; returns (count, status) for the summary."""
    with open(path, encoding="utf-8") as f:
        ddl = f.read().strip().rstrip(";").strip()
    try:
        with conn.cursor() as cur:
            if typ == "TABLE" and opts.get("replace_object") and table_exists(conn, name):
                cur.execute(f"DROP TABLE {qident(name)}")
                count.log.info(f"Dropped table {name} (--replace-object)")
            cur.execute(ddl)
            cur.execute("SHOW WARNINGS")
            warnings = cur.fetchall()
    except pymysql.MySQLError as e:
        count.error(f'No.1 sql of the file: "{path}" exec failed: {describe(e)}')
        return ("1 -> 0", "FAILURE")
    count.log.info(f'No.1 sql of the file: "{path}" exec success')
    for w in warnings:
        if w[1] == ER_TABLE_EXISTS:
            count.log.info(f"Table {name} already exists, kept as it is (create table if not "
                           "exists; --replace-object replaces it)")
    count.log.info(f'Load file: "{os.path.basename(path)}" succeeded')
    return ("1 -> 1", "SUCCESS")


def table_exists(conn, t):
    with conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM information_schema.TABLES WHERE "
                    "TABLE_SCHEMA=DATABASE() AND TABLE_NAME=%s", (t,))
        return cur.fetchone()[0] > 0


def load_csv(conn, opts, count, t, paths, d, skip_header):
    """Loads t's data files; returns (records read, rows imported, status)."""
    for path in paths:
        count.log.info(f'Binding table: "{t}" to the file: "{path}" finished')
    if not table_exists(conn, t):
        count.error(f"Load data of table {t} failed: ERROR 1146: Table "
                    f"'{opts['database']}.{t}' doesn't exist")
        return (0, 0, "FAILURE")
    with conn.cursor() as cur:
        try:
            if opts.get("truncate_table"):
                cur.execute(f"TRUNCATE TABLE {qident(t)}")
                count.log.info(f"Truncated table {t}")
            elif opts.get("delete_from_table"):
                cur.execute(f"DELETE FROM {qident(t)}")
                count.log.info(f"Deleted all rows from table {t}")
        except pymysql.OperationalError as e:
            if e.args and e.args[0] in (2003, 2006, 2013):
                raise
            count.error(f"Clean table {t} failed: {describe(e)}")
            return (0, 0, "FAILURE")
        except pymysql.MySQLError as e:
            count.error(f"Clean table {t} failed: {describe(e)}")
            return (0, 0, "FAILURE")
        cur.execute("SELECT COUNT(*) FROM information_schema.COLUMNS WHERE "
                    "TABLE_SCHEMA=DATABASE() AND TABLE_NAME=%s", (t,))
        ncols = cur.fetchone()[0]
    verb = "REPLACE" if opts.get("replace_data") else "INSERT"
    row_sql = "(" + ", ".join(["%s"] * ncols) + ")"
    before = (count.rows, count.errors, count.discards)
    read = 0
    for path in paths:
        fname = os.path.basename(path)
        with open(path, "rb") as f:
            raw = f.read()
        batch, first = [], True
        try:
            for lineno, fields in csv_records(raw, **reader_args(d)):
                if first and skip_header:
                    first = False
                    continue
                first = False
                read += 1
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
        count.log.info(f'File: "{path}" has been parsed finished')
    rows, errors, discards = (count.rows - before[0], count.errors - before[1],
                              count.discards - before[2])
    count.log.info(f"Load data of table {t} finished: {read} read, {rows} imported, "
                   f"{errors} error(s), {discards} discarded")
    return (read, rows, "SUCCESS" if errors == 0 else "FAILURE")


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
        opts, given = parse_args(tool, argv)
    except UsageError as e:
        sys.stderr.write(f"{tool}: {e}\n{usage(tool)}\n")
        return 2
    if opts is None:
        print(usage(tool))
        return 0
    log = Log(log_dir_for(argv))
    src = opts["file_path"]
    if tool == "obloader" and not opts.get("log_path") and not os.path.isdir(src):
        # Its logs would go into the backup directory, which is not there to hold them.
        what = "is not a directory" if os.path.exists(src) else "does not exist"
        sys.stderr.write(f"{tool}: the directory {os.path.abspath(src)} {what} "
                         f"(no log written: the logs go to {log.dir} without --log-path)\n")
        return 1
    try:
        log.open()
    except OSError as e:
        sys.stderr.write(f"{tool}: cannot write the log directory {log.dir}: {e}\n")
        return 1
    log.info("Parsed args:\n" + "".join(f"[{k}] {v}\n" for k, v in given))
    log.info(f"{tool} {TOOL_VERSION} started: {tool} {masked(argv)}")
    try:
        rc = dump(opts, log) if tool == "obdumper" else load(opts, log)
    except Failure as e:
        log.error(str(e))
        sys.stderr.write(f"{tool}: {e}\n")
        rc = 1
    except KeyboardInterrupt:
        log.error("Interrupted")
        rc = 1
    log.info(f"System exit {rc}")
    return rc
