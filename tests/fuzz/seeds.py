#!/usr/bin/python3
"""Seed corpora for the libFuzzer harnesses of tests/fuzz/, from the protocol
test vectors (tests/vectors/proto-v2.json) and a few INI texts.

    seeds.py OUTDIR

writes OUTDIR/scan/ (body frames and JOB target lists), OUTDIR/body/ (type
byte + body; for a JOB: type byte, the body's 2-byte little-endian length, the
body, the target list), OUTDIR/receive/ (every frame as a 2-byte little-endian
length + bytes), OUTDIR/config/ (deploy/*.ini and the texts below),
OUTDIR/ddl/ (fuzz_ddl's flag byte + a schema file as obdumper and SHOW CREATE
write them) and OUTDIR/csv/ (fuzz_csv's flag byte + a data file as obdumper
writes it), OUTDIR/spec/ (fuzz_spec's flag byte + a docker inspect of the
ODC stand-in container, then a NUL and its image's inspect: the real ones of
tests/unit/data/ and variants of them) and OUTDIR/backup/ (fuzz_backup's flag
byte + the files of a backup as tests/world/obtools.py's obdumper writes
them). The Merkle cases of the vectors carry no frames and are skipped.
Standard library only."""

import glob
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
VECTORS = os.path.join(ROOT, "tests", "vectors", "proto-v2.json")

# proto/proto.h, enum proto_type.
TYPE_CODES = {
    "HELLO": 0x01,
    "WELCOME": 0x02,
    "HEARTBEAT": 0x03,
    "PROGRESS": 0x04,
    "RESULT": 0x05,
    "ACK": 0x06,
    "NACK": 0x07,
    "JOB": 0x10,
    "DISPATCH": 0x11,
    "REQUEST": 0x20,
    "REPLY": 0x21,
}

# fuzz_receive reads at most 4 frames, each at most 65535 bytes long.
MAX_FRAMES = 4
MAX_FRAME = 0xFFFF

INI_TEXTS = {
    "agent.ini": """; odc-agent
[agent]
id = h1
coordinator = tcp://coord.example:7400
heartbeat = 30s
labels = region=hz, role=odc
backup_roots = /srv/backup, /var/lib/odc/snapshots
max_output = 64KiB

[keys]
secret = /etc/odc-fleet/agent.key
coordinator_public = /etc/odc-fleet/coordinator.pub
operators = /etc/odc-fleet/operators.d
""",
    "coordinator.ini": """# odc-coordinator
[coordinator]
id = coord-1
bind = tcp://*:7400
control = ipc:///run/odc-fleet/control.sock
lost_after = 3
heartbeat_ms = 1500ms
store = /var/lib/odc-fleet/store.db
debug = off

[metadb]
host = db.example
port = 3306
password = s3cret ; inline comment
""",
    "tricky.ini": "[a]\r\nx: 1\r\n[a]\ny = \n[b.c-d_e]\nz = 18446744073709551615\n#c\n",
}

# fuzz_ddl's first byte: bit 0 a view, bits 1-2 the expected name (its
# DDL_NAMES index), bit 3 a small error buffer.
DDL_VIEW = 0x01
DDL_NAMES = {None: 0, "t": 1, "connect_database": 2, "list_flow_instance_view": 3}
DDL_SMALL_ERR = 0x08

# (name, view?, expected name, text)
DDL_TEXTS = [
    # obdumper's own DDL: lower case, `if not exists`, foreign keys kept.
    ("obdumper-table", False, "connect_database", """create table if not exists `connect_database` (
      `id` bigint(20) not null auto_increment comment 'ID',
      `connection_id` bigint(20) not null comment 'the connection, \\'conn\\'',
      `name` varchar(256) not null,
      `environment_id` bigint(20),
      `create_time` datetime not null default current_timestamp,
      primary key (`id`),
      unique key `uk_connect_database_cid_name` (`connection_id`, `name`),
      key `idx_connect_database_env` (`environment_id`),
      constraint `fk_connect_database_connection` foreign key (`connection_id`) references `connect_connection` (`id`) on delete cascade,
      constraint `fk_connect_database_env` foreign key (`environment_id`) references `odc_metadb`.`collaboration_environment` (`id`)
) default charset=utf8mb4 default collate=utf8mb4_bin comment='databases; of a connection';
"""),
    # SHOW CREATE TABLE text (OceanBase MySQL mode).
    ("show-create-table", False, "t", """CREATE TABLE `t` (
  `id` bigint(20) NOT NULL AUTO_INCREMENT,
  `parent_id` bigint(20) DEFAULT NULL,
  `payload` longtext COLLATE utf8mb4_bin,
  `state` enum('A','B,C','(') NOT NULL DEFAULT 'A',
  PRIMARY KEY (`id`),
  KEY `idx_parent` (`parent_id`) BLOCK_SIZE 16384 LOCAL,
  CONSTRAINT `fk_t_parent` FOREIGN KEY (`parent_id`) REFERENCES `t` (`id`) ON DELETE SET NULL ON UPDATE CASCADE
) ENGINE=InnoDB AUTO_INCREMENT=1000001 DEFAULT CHARSET=utf8mb4 ROW_FORMAT = DYNAMIC COMPRESSION = 'zstd_1.3.8' REPLICA_NUM = 1 BLOCK_SIZE = 16384 USE_BLOOM_FILTER = FALSE TABLET_SIZE = 134217728 PCTFREE = 0 COMMENT='a; table' /*!50100 PARTITION BY HASH(`id`) PARTITIONS 4 */;
"""),
    # Separate statements: ALTER TABLE ADD CONSTRAINT, indexes, a mixed ALTER.
    ("alter-add-constraint", False, "t", """-- obdumper: table t
ALTER TABLE `t` ADD CONSTRAINT `fk_a` FOREIGN KEY (`a`) REFERENCES `pa` (`id`);
CREATE TABLE IF NOT EXISTS `odc`.`t` (
  `id` int NOT NULL,
  `a` int,
  `b` int,
  FOREIGN KEY (`b`) REFERENCES `pb` (`id`),
  PRIMARY KEY (`id`)
);
alter table t add index idx_a (a);
CREATE UNIQUE INDEX `uk_b` ON `t` (`b`) /*!80000 INVISIBLE */;
CREATE INDEX idx_ab USING BTREE ON odc.t (a, b);
ALTER IGNORE TABLE t ADD KEY k1 (id), ADD CONSTRAINT FOREIGN KEY fk_id (id) REFERENCES t (a), ADD COLUMN c int;
"""),
    # Comments, strings and backquotes that hold keywords and punctuation.
    ("tricky", False, None, """-- foreign key (a) references b, (
# CREATE TABLE other (x int);
/* ; foreign key, ( */
CREATE TEMPORARY TABLE `odc_metadb`.`tri``cky` ( -- constraint, foreign key (
  `key` varchar(8) DEFAULT ',' COMMENT 'a foreign key (x) references y, z',
  `index` int /* , foreign key (i) references j */,
  `a``b` enum('(', ')', ',') DEFAULT '(',
  `primary` varchar(9) DEFAULT 'it''s, \\'(;',
  `check` varchar(9) DEFAULT "\\"), foreign key (",
  note text COMMENT 'REFERENCES parent (id)',
  x decimal(10, 2),
  constraint foreign key (x) references p (y),
  KEY `idx` (`key`, `index`),
  CHECK (x > 0)
) COMMENT='foreign key; ok';
/* trailing */
"""),
    ("activiti", False, None, """create table ACT_RU_EXECUTION (
    ID_ varchar(64),
    foreign key (PARENT_ID_) references ACT_RU_EXECUTION (ID_),
    PARENT_ID_ varchar(64),
    SUPER_EXEC_ varchar(64),
    constraint ACT_FK_EXE_SUPER foreign key (SUPER_EXEC_) references ACT_RU_EXECUTION (ID_) on delete cascade,
    primary key (ID_)
) ENGINE=InnoDB DEFAULT CHARSET=utf8 COLLATE utf8_bin"""),
    ("wrong-name", False, "t", "CREATE TABLE `other` (`id` int);\nALTER TABLE other ADD x int;"),
    ("unterminated", False, "t", "CREATE TABLE t (a int,\n b varchar(3) DEFAULT 'x);"),
    # SHOW CREATE VIEW text.
    ("show-create-view", True, "list_flow_instance_view",
     "CREATE ALGORITHM=UNDEFINED DEFINER=`root`@`%` SQL SECURITY DEFINER VIEW "
     "`list_flow_instance_view` AS select `f`.`id` AS `id`,'DEFINER=x' AS `d` from "
     "`flow_instance` `f` where (`f`.`status` <> 'DELETED');\n"),
    ("view-definer-string", True, None,
     "create or replace algorithm = merge definer = 'odc'@'10.0.0.%' sql security invoker "
     "view odc.v (a, b) as select 1, 2 with cascaded check option"),
    ("view-current-user", True, "list_flow_instance_view",
     "-- a view\nCREATE DEFINER=CURRENT_USER() VIEW `list_flow_instance_view` AS "
     "SELECT definer FROM t /*!50001 x */;\n/* end */"),
    ("obdumper-view", True, None,
     "create or replace view `v_user` as select `u`.`id` AS `id`,`u`.`name` AS `name` "
     "from `iam_user` `u`;\n"),
    ("view-bad-definer", True, None, "CREATE DEFINER= @'%' VIEW v AS SELECT 1"),
]

# fuzz_csv's first byte: bit 0 '"' as the quote, bit 1 no escape, bit 2 a
# header, bit 3 also a stopped read (after 1 + bits 6-7 records), bits 4-5
# max_field 4096, 64, 8 or 2.
CSV_DQUOTE = 0x01
CSV_NO_ESCAPE = 0x02
CSV_HEADER = 0x04
CSV_STOP = 0x08

HISTORY_CSV = (
    b"'installed_rank','version','description','type','script','checksum','installed_by',"
    b"'installed_on','execution_time','success'\n"
    b"1,'4.2.0','init','SQL','V_4_2_0_1__init.sql',-123456789,'odc','2024-03-01 10:00:00',"
    b"1203,1\n"
    b"2,'4.2.0.3','it\\'s a \\\\ fix','SQL','V_4_2_0_3__fix.sql',\\N,'odc',"
    b"'2024-03-02 10:00:00',15,1\n"
    b"3,'4.3.0','multi\nline\r\ndescription','JDBC',\\E,0,'odc','2024-04-01 10:00:00',7,0\n"
)

# (name, flags, bytes)
CSV_TEXTS = [
    ("history-header", CSV_HEADER, HISTORY_CSV),
    ("history-stop", CSV_HEADER | CSV_STOP | 0x40, HISTORY_CSV),
    ("escapes", 0,
     b"1,'a\\nb\\tc\\rd\\be\\ff','\\',\\\\,\\x','\\N',\\N,\\E,'\\E',''\r\n"
     b"2,plain\\,comma,back\\\\slash,tail\\\n"),
    ("no-escape", CSV_NO_ESCAPE | CSV_HEADER,
     b"'id','v'\n1,'it''s'\n2,'a\\b'\n3,'\\N',\\N\n4,'two\nlines'\n"),
    ("double-quote", CSV_DQUOTE | CSV_HEADER,
     b"\"id\",\"name\"\r\n1,\"say \"\"hi\"\"\"\r\n2,\"\\\"x\\\"\"\r\n3,lone\rcr\n"),
    ("empty-lines", 0, b"\n\n,\n',',''\n"),
    ("last-no-newline", CSV_STOP | 0xc0, b"1,'a'\n2,'b'\n3,'c'"),
    ("after-quote", 0, b"1,'a'b,2\n"),
    ("unterminated", 0, b"1,'a\n2,'b\n"),
    ("small-field", 0x20, b"'12345678','123456789'\n"),
    ("tiny-field", 0x30, b"\\N,\\E,ab,'c'\n"),
    ("long-field", 0, b"1,'" + b"x" * 4097 + b"'\n2,'" + b"y" * 4096 + b"'\n"),
    ("many-fields", 0, b",".join(b"%d" % i for i in range(1025)) + b"\n"),
    ("empty", CSV_HEADER, b""),
]


# The real inspects of the ODC stand-in (a dockerd of the test world).
INSPECT_DATA = os.path.join(ROOT, "tests", "unit", "data")


def spec_seeds(out):
    """fuzz_spec: flags (bits 0-1: specdiff_text's maxlen), the container
    inspect, then optionally NUL and the image inspect."""
    with open(os.path.join(INSPECT_DATA, "odc-container-inspect.json"), "rb") as f:
        container = json.loads(f.read())
    with open(os.path.join(INSPECT_DATA, "odc-image-inspect.json"), "rb") as f:
        image = json.loads(f.read())

    def enc(v):
        return json.dumps(v, separators=(",", ":")).encode("utf-8")

    seeds = {
        "real": (0, enc(container) + b"\0" + enc(image)),
        "real-no-image": (1, enc(container)),
        "real-short-text": (3, enc(container) + b"\0" + enc(image)),
    }
    # A bridge network with an operator's hostname, ports, secrets, labels,
    # a restart policy and mounts; the DATABASE_* env in the other login form.
    c = json.loads(json.dumps(container))
    cfg, host = c["Config"], c["HostConfig"]
    cfg["Hostname"] = "odc-node-1"
    cfg["Env"] = (cfg.get("Env") or []) + [
        "DATABASE_HOST=[FD00::1]", "DATABASE_PORT=2881",
        "DATABASE_USERNAME=obcluster:odc_meta:odc", "DATABASE_NAME=odc_metadb",
        "DATABASE_PASSWORD=s3cret", "ODC_ADMIN_INITIAL_PASSWORD=Adm1n!",
        "AWS_ACCESS_KEY_ID=AKIA", "ODC_AESKEY=k", "A=<in the kept container>",
    ]
    cfg["Labels"] = {"com.oceanbase.odc": "4.2.2", "team": "dba"}
    cfg["ExposedPorts"] = {"8989/tcp": {}}
    cfg["Cmd"] = ["/opt/odc/bin/start-odc.sh"]
    host["NetworkMode"] = "bridge"
    host["PortBindings"] = {"8989/tcp": [{"HostIp": "", "HostPort": "8989"}]}
    host["RestartPolicy"] = {"Name": "on-failure", "MaximumRetryCount": 3}
    host["Mounts"] = [{"Type": "volume", "Source": "odcdata", "Target": "/opt/odc/data"}]
    host["Memory"] = 8589934592
    seeds["bridge-secrets"] = (0, enc(c) + b"\0" + enc(image))
    seeds["bridge-secrets-80"] = (3, enc(c))
    # A container run from a differently configured image: env and labels
    # the image set, a healthcheck, an entrypoint.
    i = json.loads(json.dumps(image))
    i["Config"]["Env"] = ["PATH=/usr/bin", "ODC_PROFILE_MODE=alipay"]
    i["Config"]["Labels"] = {"com.oceanbase.odc": "4.2.2"}
    i["Config"]["Healthcheck"] = {"Test": ["CMD", "true"], "Interval": 30000000000}
    i["Config"]["Entrypoint"] = ["/bin/sh", "-c"]
    seeds["image-defaults"] = (2, enc(c) + b"\0" + enc(i))
    # Bad shapes the spec must refuse.
    seeds["env-not-array"] = (0, b'{"Config":{"Env":"A=1"},"HostConfig":{}}')
    seeds["env-not-string"] = (0, b'{"Config":{"Env":["A=1",2]},"HostConfig":{}}')
    seeds["labels-array"] = (0, b'{"Config":{"Labels":[]},"HostConfig":{}}')
    seeds["no-hostconfig"] = (0, b'{"Config":{}}')
    seeds["image-not-object"] = (0, b'{"Config":{},"HostConfig":{}}\0[]')
    seeds["id-hostname"] = (1, b'{"Id":"0123456789abcdef","Config":{"Hostname":"0123456789ab"},'
                               b'"HostConfig":{"NetworkMode":"container:x"}}')
    for name, (flags, data) in seeds.items():
        write(os.path.join(out, name), bytes([flags]) + data)
    return len(seeds)


# fuzz_backup: a flag byte (bit 0 the flat layout, bit 1 a MANIFEST.bin),
# then the files separated by "\n%%\n": the history's schema, its two data
# files, iam_user's schema and data file, a view's schema. As the test
# world's obdumper stand-in (tests/world/obtools.py) writes them: generated
# DDL, ',' '\'' quoted non-numbers, \N and \E, a quoted header line, '\'
# escapes (or doubled quotes with OBTOOLS_STANDIN_ESCAPE=none).
BACKUP_SEP = b"\n%%\n"
BACKUP_HISTORY_SCHEMA = (
    b"create table if not exists `migrate_schema_history` (\n"
    b"      `install_rank` bigint(20) not null auto_increment,\n"
    b"      `version` varchar(64) default null,\n"
    b"      `description` varchar(64) default null,\n"
    b"      `script` varchar(128) default null,\n"
    b"      `installed_on` datetime not null default current_timestamp,\n"
    b"      `success` tinyint(1) not null default '0',\n"
    b"      primary key (`install_rank`)\n"
    b")\n"
    b"default charset=utf8mb4\n"
    b"default collate=utf8mb4_general_ci;\n")
BACKUP_HISTORY_0 = (
    b"'install_rank','version','description','script','installed_on','success'\n"
    b"1,'4.2.0.9','init','V_4_2_0_9__init.sql','2023-09-01 10:00:00',1\n"
    b"2,'4.2.0.43','add view','V_4_2_0_43__x.sql','2023-09-02 10:00:00',1\n")
BACKUP_HISTORY_1 = (
    b"'install_rank','version','description','script','installed_on','success'\n"
    b"3,\\N,'repeatable','R_4_2_0__views.sql','2023-09-02 10:00:01',1\n"
    b"4,'4.3.0.1','upgrade that failed','V_4_3_0_1__y.sql','2024-01-01 10:00:00',0\n")
BACKUP_USER_SCHEMA = (
    b"create table if not exists `iam_user` (\n"
    b"      `id` bigint(20) not null,\n"
    b"      `name` varchar(64) not null,\n"
    b"      `note` text,\n"
    b"      `flag` int(11),\n"
    b"      primary key (`id`)\n"
    b")\n"
    b"default charset=utf8mb4;\n")
BACKUP_USER_0 = (
    b"'id','name','note','flag'\n"
    b"1,'admin','line one\nline two',1\n"
    b"2,'it\\'s','back\\\\slash',\\N\n"
    b"3,'\\N','',\\E\r\n")
BACKUP_VIEW = (
    b"CREATE ALGORITHM=UNDEFINED DEFINER=`odc`@`%` SQL SECURITY DEFINER VIEW `list_view` AS "
    b"select `iam_user`.`id` AS `id` from `iam_user`;\n")


def backup_seeds(out):
    def no_header(csv):
        return csv.split(b"\n", 1)[1]

    full = [BACKUP_HISTORY_SCHEMA, BACKUP_HISTORY_0, BACKUP_HISTORY_1, BACKUP_USER_SCHEMA,
            BACKUP_USER_0, BACKUP_VIEW]
    seeds = {
        "nested-manifest": (2, full),
        "flat": (1, full),
        "history-only": (0, full[:2]),
        "no-header": (0, [BACKUP_HISTORY_SCHEMA, no_header(BACKUP_HISTORY_0),
                          no_header(BACKUP_HISTORY_1), BACKUP_USER_SCHEMA,
                          no_header(BACKUP_USER_0)]),
        # OBTOOLS_STANDIN_ESCAPE=none: doubled quotes, a literal backslash.
        "doubled-quotes": (0, [BACKUP_HISTORY_SCHEMA, BACKUP_HISTORY_0, BACKUP_HISTORY_1,
                               BACKUP_USER_SCHEMA,
                               b"'id','name','note','flag'\n1,'it''s','a\\b',\\N\n"]),
        "double-quote-char": (0, [BACKUP_HISTORY_SCHEMA,
                                  BACKUP_HISTORY_0.replace(b"'", b'"')]),
        "mixed-header": (0, [BACKUP_HISTORY_SCHEMA, BACKUP_HISTORY_0,
                             no_header(BACKUP_HISTORY_1)]),
        "header-only": (0, [BACKUP_HISTORY_SCHEMA, BACKUP_HISTORY_0,
                            BACKUP_HISTORY_1.split(b"\n", 1)[0] + b"\n",
                            BACKUP_USER_SCHEMA, b""]),
        "wrong-width": (0, [BACKUP_HISTORY_SCHEMA, BACKUP_HISTORY_0 + b"5,'4.4.0'\n"]),
        "no-success": (0, [BACKUP_HISTORY_SCHEMA, no_header(BACKUP_HISTORY_1)]),
    }
    for name, (flags, parts) in seeds.items():
        write(os.path.join(out, name), bytes([flags]) + BACKUP_SEP.join(parts))
    return len(seeds)


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: seeds.py OUTDIR\n")
        return 2
    out = argv[1]
    dirs = {}
    for sub in ("scan", "body", "receive", "config", "ddl", "csv", "spec", "backup"):
        dirs[sub] = os.path.join(out, sub)
        os.makedirs(dirs[sub], exist_ok=True)

    with open(VECTORS, encoding="utf-8") as f:
        cases = json.load(f)
    counts = dict.fromkeys(dirs, 0)
    for case in cases:
        if "frames_hex" not in case:
            continue
        name = case["name"]
        frames = [bytes.fromhex(h) for h in case["frames_hex"]]
        if len(frames) >= 2:
            body = frames[1]
            write(os.path.join(dirs["scan"], name), body)
            counts["scan"] += 1
            code = TYPE_CODES.get(case["type"])
            if code == TYPE_CODES["JOB"]:
                body = body[:MAX_FRAME]
                seed = bytes([code]) + len(body).to_bytes(2, "little") + body
                if len(frames) >= 4:
                    seed += frames[3][:MAX_FRAME]
                    write(os.path.join(dirs["scan"], name + "-list"), frames[3][:MAX_FRAME])
                    counts["scan"] += 1
                write(os.path.join(dirs["body"], name), seed)
                counts["body"] += 1
            elif code is not None:
                write(os.path.join(dirs["body"], name), bytes([code]) + body)
                counts["body"] += 1
        framed = bytearray()
        for fr in frames[:MAX_FRAMES]:
            fr = fr[:MAX_FRAME]
            framed += len(fr).to_bytes(2, "little") + fr
        write(os.path.join(dirs["receive"], name), bytes(framed))
        counts["receive"] += 1

    for path in sorted(glob.glob(os.path.join(ROOT, "deploy", "*.ini"))):
        with open(path, "rb") as f:
            write(os.path.join(dirs["config"], "deploy-" + os.path.basename(path)), f.read())
        counts["config"] += 1
    for name, text in INI_TEXTS.items():
        write(os.path.join(dirs["config"], name), text.encode("utf-8"))
        counts["config"] += 1

    for name, view, expect, text in DDL_TEXTS:
        flags = (DDL_VIEW if view else 0) | DDL_NAMES[expect] << 1
        data = text.encode("utf-8")
        write(os.path.join(dirs["ddl"], name), bytes([flags]) + data)
        # The same text with any name expected and a small error buffer.
        write(os.path.join(dirs["ddl"], name + "-any"),
              bytes([(flags & DDL_VIEW) | DDL_SMALL_ERR]) + data)
        counts["ddl"] += 2
    for name, flags, data in CSV_TEXTS:
        write(os.path.join(dirs["csv"], name), bytes([flags]) + data)
        counts["csv"] += 1

    counts["spec"] += spec_seeds(dirs["spec"])
    counts["backup"] += backup_seeds(dirs["backup"])

    print("seeds: " + ", ".join("%s %d" % (k, counts[k]) for k in sorted(counts)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
