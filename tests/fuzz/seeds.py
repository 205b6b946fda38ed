#!/usr/bin/python3
"""Seed corpora for the libFuzzer harnesses of tests/fuzz/, from the protocol
test vectors (tests/vectors/proto-v1.json) and a few INI texts.

    seeds.py OUTDIR

writes OUTDIR/scan/ (body frames and JOB target lists), OUTDIR/body/ (type
byte + body; for a JOB: type byte, the body's 2-byte little-endian length, the
body, the target list), OUTDIR/receive/ (every frame as a 2-byte little-endian
length + bytes) and OUTDIR/config/ (deploy/*.ini and the texts below). The
Merkle cases of the vectors carry no frames and are skipped. Standard library
only."""

import glob
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
VECTORS = os.path.join(ROOT, "tests", "vectors", "proto-v1.json")

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


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: seeds.py OUTDIR\n")
        return 2
    out = argv[1]
    dirs = {}
    for sub in ("scan", "body", "receive", "config"):
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

    print("seeds: " + ", ".join("%s %d" % (k, counts[k]) for k in sorted(counts)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
