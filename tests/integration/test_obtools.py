"""The obdumper/obloader stand-ins against a real MariaDB: the layout, the generated DDL and
the CSV dialect of the real tool, and its harsh defaults (tables in name order with foreign
key checks on, --strict true, the header loaded as a row without MANIFEST.bin, logs beside
the backup unless --log-path). See tests/world/obtools.py for the sources."""

import os
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest

from tests.world import obtools, odcworld

TABLES = ["a_child", "b_parent", "c_tree", "d_empty", "e_tags"]
SCHEMA = [
    # b_parent holds the awkward values; a_child sorts before its parent.
    "CREATE TABLE b_parent (id INT NOT NULL PRIMARY KEY, name VARCHAR(64) NOT NULL, "
    "note TEXT NULL, amount DECIMAL(10,2) NULL, raw VARBINARY(16) NULL) DEFAULT CHARSET=utf8mb4",
    "CREATE TABLE a_child (id INT NOT NULL PRIMARY KEY, parent_id INT NOT NULL, "
    "label VARCHAR(32), CONSTRAINT fk_child_parent FOREIGN KEY (parent_id) "
    "REFERENCES b_parent (id) ON DELETE CASCADE) DEFAULT CHARSET=utf8mb4",
    "CREATE TABLE c_tree (id INT NOT NULL PRIMARY KEY, up INT NULL, "
    "CONSTRAINT fk_tree_up FOREIGN KEY (up) REFERENCES c_tree (id)) DEFAULT CHARSET=utf8mb4",
    "CREATE TABLE d_empty (id INT NOT NULL PRIMARY KEY, v VARCHAR(8)) DEFAULT CHARSET=utf8mb4",
    # Text columns only: a header line loaded as data is an extra row here.
    "CREATE TABLE e_tags (tag VARCHAR(32) NOT NULL PRIMARY KEY, label VARCHAR(64)) "
    "DEFAULT CHARSET=utf8mb4",
    "CREATE VIEW v_children AS SELECT c.id, p.name FROM a_child c JOIN b_parent p "
    "ON p.id = c.parent_id",
]
PARENTS = [
    (1, "plain", None, Decimal("12.50"), None),
    (2, "", 'it\'s "quoted", with a comma', Decimal("-0.50"), b"\x00'\\\xff"),
    (3, "back\\slash", "line one\nline two", None, None),
    (4, "\\N", "\\E", None, None),
    (5, "h\u00e9llo w\u00f6rld \u2713", "end\\", None, None),
]
CHILDREN = [(1, 1, "x"), (2, 2, None), (3, 5, "")]
TREE = [(1, None), (2, 1), (3, 2)]
TAGS = [("alpha", "first"), ("beta", None)]

# What obdumper writes for b_parent: numbers bare, the rest in ', \N and \E bare, \ escapes.
PARENT_CSV = (b"'id','name','note','amount','raw'\n"
              b"1,'plain',\\N,12.50,\\N\n"
              b"2,\\E,'it\\'s \"quoted\", with a comma',-0.50,'\x00\\'\\\\\xff'\n"
              b"3,'back\\\\slash','line one\nline two',\\N,\\N\n"
              b"4,'\\\\N','\\\\E',\\N,\\N\n"
              b"5,'h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93','end\\\\',\\N,\\N\n")
CHILD_DDL = ("create table if not exists `a_child` (\n"
             "      `id` int(11) not null,\n"
             "      `parent_id` int(11) not null,\n"
             "      `label` varchar(32),\n"
             "      primary key (`id`),\n"
             "      key `fk_child_parent` (`parent_id`),\n"
             "      constraint `fk_child_parent` foreign key (`parent_id`) references "
             "`b_parent` (`id`) on delete cascade\n"
             ")\n"
             "default charset=utf8mb4\n"
             "default collate=utf8mb4_general_ci;\n")


@pytest.fixture
def src(mariadb):
    """An account whose database holds the schema and rows above."""
    acct = mariadb.create_db_user()
    try:
        for stmt in SCHEMA:
            mariadb.sql(stmt, db=acct.db)
        fill(mariadb, acct.db)
        yield acct
    finally:
        mariadb.drop_db_user(acct)


def fill(mariadb, db, tables=None):
    rows = {"b_parent": PARENTS, "a_child": CHILDREN, "c_tree": TREE, "e_tags": TAGS}
    for t in ["b_parent", "a_child", "c_tree", "e_tags"]:
        if tables is None or t in tables:
            for r in rows[t]:
                mariadb.sql(f"INSERT INTO {t} VALUES ({', '.join(['%s'] * len(r))})", r, db=db)


def snapshot(mariadb, db):
    return {t: mariadb.sql(f"SELECT * FROM `{t}` ORDER BY 1", db=db)
            for t in mariadb.tables(db)}


def drop_everything(mariadb, db):
    for (v,) in mariadb.sql("SELECT TABLE_NAME FROM information_schema.VIEWS "
                            "WHERE TABLE_SCHEMA=%s", (db,)):
        mariadb.sql(f"DROP VIEW `{v}`", db=db)
    mariadb.drop_all_tables(db)


def empty_tables(mariadb, db):
    conn = mariadb.connect(db)
    try:
        with conn.cursor() as cur:
            cur.execute("SET SESSION foreign_key_checks = 0")
            for t in mariadb.tables(db):
                cur.execute(f"DELETE FROM `{t}`")
    finally:
        conn.close()


def conn_args(acct):
    return ["-h", acct.host, "-P", str(acct.port), "-u", acct.user, "-p", acct.password,
            "-c", acct.cluster, "-t", acct.tenant, "-D", acct.db]


def tool(name, acct, *args, cwd, env=None):
    os.makedirs(cwd, exist_ok=True)
    path = odcworld.OBDUMPER if name == "obdumper" else odcworld.OBLOADER
    p = odcworld.run([path, *conn_args(acct), *args], check=False, cwd=cwd,
                     env=dict(os.environ, **(env or {})))
    r = odcworld.ToolRun(p, cwd)
    for text in (r.stdout, r.stderr, r.info_log, r.error_log):
        assert acct.password not in text
    return r


def dump(acct, backup, tmp_path, *extra, env=None):
    r = tool("obdumper", acct, "--ddl", "--csv", "--all", "-f", backup, *extra,
             cwd=tmp_path / "dump-run", env=env)
    assert r.returncode == 0, r
    return r


def files_under(root):
    return sorted(str(p.relative_to(root)) for p in Path(root).rglob("*") if p.is_file())


def test_dump_layout_ddl_and_csv_dialect(mariadb, src, tmp_path):
    backup = tmp_path / "backup"
    r = dump(src, backup, tmp_path)
    db = src.db
    assert files_under(backup) == sorted(
        ["data/CHECKPOINT.bin", "data/MANIFEST.bin", f"data/{db}/VIEW/v_children-schema.sql",
         "logs/ob-loader-dumper.error", "logs/ob-loader-dumper.info",
         "logs/ob-loader-dumper.warn"]
        + [f"data/{db}/TABLE/{t}-schema.sql" for t in TABLES]
        + [f"data/{db}/TABLE/{t}.1.0.csv" for t in TABLES])
    # Kryo-looking, opaque; the logs went beside data/, none into the working directory.
    assert (backup / "data/MANIFEST.bin").read_bytes().startswith(
        b"\x01\x00com.oceanbase.tools.loaddump.common.model.Manifest")
    assert (backup / "data/CHECKPOINT.bin").read_bytes().startswith(b"\x01\x00java.util.")
    assert not (tmp_path / "dump-run" / "logs").exists()
    assert (backup / "logs/ob-loader-dumper.error").read_text() == ""
    assert "System exit 0" in r.info_log and r.stdout.rstrip().endswith("System exit 0")
    assert "[--password] ******" in r.stdout and "All Dump Tasks Finished" in r.stdout

    tdir = backup / "data" / db / "TABLE"
    assert (tdir / "a_child-schema.sql").read_text() == CHILD_DDL
    tree = (tdir / "c_tree-schema.sql").read_text()
    assert "      constraint `fk_tree_up` foreign key (`up`) references `c_tree` (`id`)\n" in tree
    view = (backup / "data" / db / "VIEW" / "v_children-schema.sql").read_text()
    assert view.startswith("create or replace view `v_children` as select ") and \
        view.endswith(";\n") and "DEFINER" not in view and f"`{db}`" not in view
    assert (tdir / "b_parent.1.0.csv").read_bytes() == PARENT_CSV
    assert (tdir / "a_child.1.0.csv").read_bytes() == b"'id','parent_id','label'\n" \
        b"1,1,'x'\n2,2,\\N\n3,5,\\E\n"
    assert (tdir / "d_empty.1.0.csv").read_bytes() == b"'id','v'\n"  # header only

    # The one reader: header excluded, values back as text.
    assert obtools.backup_row_counts(backup, db) == {"a_child": 3, "b_parent": 5,
                                                     "c_tree": 3, "d_empty": 0, "e_tags": 2}
    assert obtools.table_records(backup, db, "b_parent") == [
        [str(i), n, note, None if a is None else str(a), raw]  # raw: not UTF-8, bytes
        for i, n, note, a, raw in PARENTS]

    # --skip-header and --table: no header lines, no views; the manifest says so.
    only = tmp_path / "only"
    r = tool("obdumper", src, "--ddl", "--csv", "--table", "e_tags,a_child", "--skip-header",
             "-f", only, "--log-path", tmp_path / "only-logs", cwd=tmp_path / "w2")
    assert r.returncode == 0, r
    assert files_under(only) == sorted(
        ["data/CHECKPOINT.bin", "data/MANIFEST.bin"]
        + [f"data/{db}/TABLE/{t}{s}" for t in ("a_child", "e_tags")
           for s in ("-schema.sql", ".1.0.csv")])
    assert (only / "data" / db / "TABLE" / "e_tags.1.0.csv").read_bytes() == \
        b"'alpha','first'\n'beta',\\N\n"
    assert obtools.backup_row_counts(only, db) == {"a_child": 3, "e_tags": 2}
    assert "System exit 0" in (tmp_path / "only-logs" / "ob-loader-dumper.info").read_text()


def test_manifest_is_written_first_and_data_split_by_size(mariadb, src, tmp_path):
    # A dump that fails after it started leaves a MANIFEST.bin: its presence proves nothing.
    failed = tmp_path / "failed"
    r = tool("obdumper", src, "--csv", "--table", "no_such_table", "-f", failed,
             cwd=tmp_path / "w1")
    assert r.returncode == 1 and "no_such_table" in r.error_log, r
    assert (failed / "data" / "MANIFEST.bin").exists()
    assert "System exit 1" in r.stdout
    # Non-empty output directory: refused (its own logs/ does not count).
    r = tool("obdumper", src, "--csv", "--all", "-f", failed, cwd=tmp_path / "w2")
    assert r.returncode == 1 and "not empty" in r.stderr and "not empty" in r.error_log

    mariadb.sql("INSERT INTO d_empty SELECT seq, CONCAT('v', seq) FROM seq_1_to_300",
                db=src.db)
    split = tmp_path / "split"
    r = tool("obdumper", src, "--csv", "--table", "d_empty", "-f", split,
             cwd=tmp_path / "w3", env={"OBDUMPER_STANDIN_BLOCK_BYTES": "1000"})
    assert r.returncode == 0, r
    tdir = split / "data" / src.db / "TABLE"
    names = sorted(os.listdir(tdir), key=lambda n: int(n.split(".")[2]))
    assert len(names) > 3 and names == [f"d_empty.1.{s}.csv" for s in range(len(names))]
    for name in names:
        data = (tdir / name).read_bytes()
        assert data.startswith(b"'id','v'\n")
        # A new file once the current one exceeds the block (a row here is < 20 bytes).
        assert name == names[-1] or 1000 < len(data) <= 1020, (name, len(data))
    assert obtools.backup_row_counts(split, src.db) == {"d_empty": 300}
    # --block-size is in MiB.
    one = tmp_path / "one"
    r = tool("obdumper", src, "--csv", "--table", "d_empty", "--block-size", "1", "-f", one,
             cwd=tmp_path / "w4")
    assert r.returncode == 0 and os.listdir(one / "data" / src.db / "TABLE") == \
        ["d_empty.1.0.csv"], r
    # Reloaded from the split files: the same rows.
    mariadb.sql("DELETE FROM d_empty", db=src.db)
    r = tool("obloader", src, "--csv", "--table", "d_empty", "-f", split,
             "--log-path", tmp_path / "l5", cwd=tmp_path / "w5")
    assert r.returncode == 0 and r.error_log == "", r
    assert mariadb.sql("SELECT COUNT(*), MAX(v) FROM d_empty", db=src.db)[0] == (300, "v99")


def test_ddl_csv_into_an_empty_database_fails_in_name_order(mariadb, src, tmp_path):
    """The documented restore (--ddl --csv --all) with foreign keys: a_child is created before
    b_parent, fails, and --strict (default true) makes the exit status 1."""
    backup = tmp_path / "backup"
    dump(src, backup, tmp_path, "--log-path", tmp_path / "dump-logs")
    before = snapshot(mariadb, src.db)
    drop_everything(mariadb, src.db)
    logs = tmp_path / "load-logs"
    r = tool("obloader", src, "--ddl", "--csv", "--all", "-f", backup, "--log-path", logs,
             cwd=tmp_path / "w")
    assert r.returncode == 1, r
    assert "a_child-schema.sql" in r.error_log and "Foreign key constraint" in r.error_log
    assert "v_children-schema.sql" in r.error_log and "doesn't exist" in r.error_log
    assert "--strict is true" in r.error_log
    assert "All Load Tasks Finished" in r.stdout and "5 -> 5" in r.stdout
    assert r.stdout.rstrip().endswith("System exit 1")
    assert mariadb.tables(src.db) == ["b_parent", "c_tree", "d_empty", "e_tags"]
    after = snapshot(mariadb, src.db)
    for t in ("b_parent", "c_tree", "d_empty", "e_tags"):
        assert after[t] == before[t], t
    # The logs went to --log-path: none into the backup, none into the working directory.
    assert sorted(os.listdir(backup)) == ["data"]
    assert not (tmp_path / "w" / "logs").exists()
    assert sorted(os.listdir(logs)) == ["ob-loader-dumper.error", "ob-loader-dumper.info",
                                        "ob-loader-dumper.warn"]


def test_csv_into_tables_created_parent_first(mariadb, src, tmp_path):
    backup = tmp_path / "backup"
    dump(src, backup, tmp_path)
    before = snapshot(mariadb, src.db)
    drop_everything(mariadb, src.db)
    tdir = backup / "data" / src.db / "TABLE"
    # The generated DDL, run by hand in dependency order: the foreign keys are there.
    for t in ("b_parent", "a_child", "c_tree", "d_empty", "e_tags"):
        mariadb.sql((tdir / f"{t}-schema.sql").read_text(), db=src.db)
    mariadb.sql((backup / "data" / src.db / "VIEW" / "v_children-schema.sql").read_text(),
                db=src.db)

    # Data in name order: a_child's rows come before their parents' and fail.
    r = tool("obloader", src, "--csv", "--all", "-f", backup, cwd=tmp_path / "l1")
    assert r.returncode == 1, r
    assert r.error_log.count("into a_child failed: ERROR 1452") == 3, r.error_log
    assert r.bad_log.count("\n") == 3 and r.discard_log == ""
    assert "3 -> 0" in r.stdout and "5 -> 5" in r.stdout
    # Without --log-path the logs are in the backup, beside data/.
    assert r.log_dir == str(backup / "logs")
    # (Each later run logs to a directory of its own: the tools append to their logs.)
    r = tool("obloader", src, "--csv", "--table", "a_child", "-f", backup,
             "--log-path", tmp_path / "l2", cwd=tmp_path / "l2")
    assert r.returncode == 0 and r.error_log == "", r
    assert snapshot(mariadb, src.db) == before
    assert mariadb.sql("SELECT * FROM v_children ORDER BY id", db=src.db) == \
        [(1, "plain"), (2, ""), (3, PARENTS[4][1])]

    # Loaded again: every row a duplicate, discarded. --strict (default true) fails the run,
    # --strict=false / --strict false do not.
    r = tool("obloader", src, "--csv", "--all", "-f", backup, "--log-path", tmp_path / "l3",
             cwd=tmp_path / "l3")
    assert r.returncode == 1 and r.discard_log.count("\n") == 13 and r.error_log.count(
        "--strict is true") == 1, r
    for k, strict in enumerate((["--strict=false"], ["--strict", "false"])):
        r = tool("obloader", src, "--csv", "--all", *strict, "-f", backup,
                 "--log-path", tmp_path / f"l4-{k}", cwd=tmp_path / "l4")
        assert r.returncode == 0 and r.discard_log.count("\n") == 13, r
        assert r.stdout.rstrip().endswith("System exit 0")
    r = tool("obloader", src, "--csv", "--all", "--strict", "maybe", "-f", backup,
             cwd=tmp_path / "l5")
    # "maybe" is not a value of --strict (true or false), so it is a stray argument: a usage
    # error (the usage line also names --strict, so the first line is what is checked).
    assert r.returncode == 2, r
    assert r.stderr.startswith("obloader: Unexpected argument at position "), r.stderr
    # Foreign key checks stay on: --replace-object cannot drop a referenced parent.
    r = tool("obloader", src, "--ddl", "--table", "b_parent", "--replace-object",
             "--strict=false", "-f", backup, "--log-path", tmp_path / "l6",
             cwd=tmp_path / "l6")
    assert r.returncode == 0 and "foreign key constraint fails" in r.error_log, r
    # ... nor truncate it.
    r = tool("obloader", src, "--csv", "--table", "b_parent", "--truncate-table",
             "-f", backup, "--log-path", tmp_path / "l7", cwd=tmp_path / "l7")
    assert r.returncode == 1 and "Cannot truncate a table referenced" in r.error_log, r
    assert snapshot(mariadb, src.db) == before


def test_without_manifest_the_header_is_loaded_as_a_row(mariadb, src, tmp_path):
    backup = tmp_path / "backup"
    dump(src, backup, tmp_path)
    before = snapshot(mariadb, src.db)
    (backup / "data" / "MANIFEST.bin").unlink()
    empty_tables(mariadb, src.db)
    only = "b_parent,c_tree,e_tags"
    r = tool("obloader", src, "--csv", "--table", only, "-f", backup,
             "--log-path", tmp_path / "l1", cwd=tmp_path / "l1")
    assert r.returncode == 1, r
    assert "MANIFEST.bin" in r.info_log and "[WARN]" in r.info_log
    # 'id' is no integer: an error row each; e_tags (text columns) gains a row.
    assert "b_parent.1.0.csv line 1 into b_parent failed: ERROR 1366" in r.error_log
    assert "c_tree.1.0.csv line 1 into c_tree failed: ERROR 1366" in r.error_log
    assert ("tag", "label") in mariadb.sql("SELECT * FROM e_tags", db=src.db)
    assert "6 -> 5" in r.stdout and "3 -> 3" in r.stdout
    # The loader saved a manifest of its own; it still knows of no header.
    assert (backup / "data" / "MANIFEST.bin").exists()

    (backup / "data" / "MANIFEST.bin").unlink()
    empty_tables(mariadb, src.db)
    r = tool("obloader", src, "--csv", "--table", only, "--skip-header", "-f", backup,
             "--log-path", tmp_path / "l2", cwd=tmp_path / "l2")
    assert r.returncode == 0 and r.error_log == "", r
    after = snapshot(mariadb, src.db)
    for t in ("b_parent", "c_tree", "e_tags"):
        assert after[t] == before[t], t


def test_escape_setting_travels_in_the_manifest(mariadb, src, tmp_path):
    backup = tmp_path / "backup"
    dump(src, backup, tmp_path, env={"OBTOOLS_STANDIN_ESCAPE": "none"})
    before = snapshot(mariadb, src.db)
    data = (backup / "data" / src.db / "TABLE" / "b_parent.1.0.csv").read_bytes()
    assert b"2,\\E,'it''s \"quoted\", with a comma',-0.50,'\x00''\\\xff'\n" in data
    assert b"3,'back\\slash'," in data and b",'end\\',\\N,\\N\n" in data
    empty_tables(mariadb, src.db)
    r = tool("obloader", src, "--csv", "--all", "-f", backup, "--log-path", tmp_path / "l1",
             cwd=tmp_path / "l1")
    assert r.returncode == 1 and r.error_log.count("ERROR 1452") == 3, r  # a_child first
    r = tool("obloader", src, "--csv", "--table", "a_child", "-f", backup,
             "--log-path", tmp_path / "l1b", cwd=tmp_path / "l1b")
    assert r.returncode == 0 and r.error_log == "", r
    assert snapshot(mariadb, src.db) == before
    # Without the manifest the loader's own escape (\) misreads the file: 'end\' never ends.
    (backup / "data" / "MANIFEST.bin").unlink()
    empty_tables(mariadb, src.db)
    r = tool("obloader", src, "--csv", "--table", "b_parent", "--skip-header",
             "--strict=false", "-f", backup, "--log-path", tmp_path / "l2",
             cwd=tmp_path / "l2")
    assert r.returncode == 0 and "malformed CSV" in r.error_log, r
    assert snapshot(mariadb, src.db)["b_parent"] != before["b_parent"]


def test_read_only_backup_and_unwritable_logs(mariadb, src, tmp_path):
    backup = tmp_path / "backup"
    dump(src, backup, tmp_path, "--log-path", tmp_path / "dump-logs")
    before = snapshot(mariadb, src.db)
    listing = files_under(backup)
    manifest = (backup / "data" / "MANIFEST.bin").read_bytes()
    ro = tmp_path / "ro"
    ro.mkdir()
    # Root ignores permission bits: a read-only bind mount is what a read-only disk is.
    subprocess.run(["mount", "--bind", str(backup), str(ro)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(ro)], check=True)
        assert not os.access(ro / "data", os.W_OK)
        empty_tables(mariadb, src.db)
        # No --log-path: the logs would go into the backup, so the run fails at once.
        r = tool("obloader", src, "--csv", "--all", "-f", ro, cwd=tmp_path / "l1")
        assert r.returncode == 1 and "log directory" in r.stderr and str(ro) in r.stderr, r
        assert mariadb.sql("SELECT COUNT(*) FROM b_parent", db=src.db)[0][0] == 0
        # With --log-path it loads; saving the manifest fails, a WARN, the run goes on.
        logs = tmp_path / "logs"
        r = tool("obloader", src, "--csv", "--all", "-f", ro, "--log-path", logs,
                 cwd=tmp_path / "l2")
        assert r.returncode == 1, r  # a_child before b_parent, as ever
        assert "[WARN] Save the manifest file" in (logs / "ob-loader-dumper.warn").read_text()
        r = tool("obloader", src, "--csv", "--table", "a_child", "-f", ro, "--log-path", logs,
                 cwd=tmp_path / "l3")
        assert r.returncode == 0, r
        assert snapshot(mariadb, src.db) == before
    finally:
        subprocess.run(["umount", str(ro)], check=False)
    assert files_under(backup) == listing
    assert (backup / "data" / "MANIFEST.bin").read_bytes() == manifest
    # A log directory that cannot be created: exit 1, the reason on stderr.
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    for name in ("obloader", "obdumper"):
        r = tool(name, src, "--csv", "--all", "-f", backup if name == "obloader"
                 else tmp_path / "out", "--log-path", blocker / "logs", cwd=tmp_path / "l4")
        assert r.returncode == 1 and "cannot write the log directory" in r.stderr, r


def test_flat_layout_is_read_too(mariadb, src, tmp_path):
    """data/TABLE/... without the database level, as a hand-made or repackaged backup has it."""
    backup = tmp_path / "backup"
    dump(src, backup, tmp_path, "--log-path", tmp_path / "dump-logs")
    before = snapshot(mariadb, src.db)
    for kind in ("TABLE", "VIEW"):
        os.rename(backup / "data" / src.db / kind, backup / "data" / kind)
    os.rmdir(backup / "data" / src.db)
    assert obtools.backup_row_counts(backup, src.db)["b_parent"] == 5
    empty_tables(mariadb, src.db)
    r = tool("obloader", src, "--csv", "--table", "b_parent,c_tree,e_tags", "-f", backup,
             "--log-path", tmp_path / "l1", cwd=tmp_path / "l1")
    assert r.returncode == 0 and r.error_log == "", r
    after = snapshot(mariadb, src.db)
    for t in ("b_parent", "c_tree", "e_tags"):
        assert after[t] == before[t], t
