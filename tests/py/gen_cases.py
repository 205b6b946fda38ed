#!/usr/bin/python3
"""Write protocol test vectors (PROTOCOL.md section 10 format) made with the independent
Python implementation (odcproto.py), for the C implementation's checker.

    /usr/bin/python3 tests/py/gen_cases.py OUT.json

Keys are deterministic: SigningKey(bytes([i]) * 32) with i = 1 operator, 2 coordinator,
3 agent (web-01), 4 an untrusted key.  Nonces, incarnations and times are fixed, so the
output is byte-identical from run to run.  Every case is checked against odcproto.receive()
before the file is written (valid cases also against a decoded form built from the inputs).
The file also holds Merkle cases (section 10: name, merkle, ids, root_hex, proofs), checked
against the recursive definitions of section 2 (odcproto.mth_reference / path_reference).
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import sys


import msgpack  # noqa: E402
import nacl.signing  # noqa: E402

import odcproto as P  # noqa: E402

K_OP = nacl.signing.SigningKey(bytes([1]) * 32)
K_COORD = nacl.signing.SigningKey(bytes([2]) * 32)
K_AGENT = nacl.signing.SigningKey(bytes([3]) * 32)
K_OTHER = nacl.signing.SigningKey(bytes([4]) * 32)


def pk(key) -> str:
    return bytes(key.verify_key).hex()


NOW = 1700000000000
SKEW = 30000
HOST = "web-01"
INCARNATION = bytes(range(16))
NONCE = bytes([0xA5]) * 16
NONCE2 = bytes([0x5A]) * 16


def ctx_agent(**over):
    c = {
        "receiver": "agent",
        "host_id": HOST,
        "now_ms": NOW,
        "skew_ms": SKEW,
        "trusted": {"DISPATCH": [pk(K_COORD)], "JOB": [pk(K_OP)]},
        "seen_nonces": [],
        "busy_job": None,
    }
    c.update(over)
    return c


def ctx_coord(**over):
    """The coordinator's agent-facing ROUTER, bound to web-01's enrolled key."""
    c = {
        "receiver": "coordinator",
        "host_id": HOST,
        "now_ms": NOW,
        "skew_ms": SKEW,
        "trusted": {"RESULT": [pk(K_AGENT)]},
        "seen_nonces": [],
        "busy_job": None,
    }
    c.update(over)
    return c


def ctx_control(**over):
    """The coordinator's control socket (JOB, REQUEST), trusting the operator key."""
    c = {
        "receiver": "control",
        "host_id": None,
        "now_ms": NOW,
        "skew_ms": SKEW,
        "trusted": {"JOB": [pk(K_OP)]},
        "seen_nonces": [],
        "busy_job": None,
    }
    c.update(over)
    return c


def ctx_cli(**over):
    c = {
        "receiver": "cli",
        "host_id": None,
        "now_ms": NOW,
        "skew_ms": SKEW,
        "trusted": {},
        "seen_nonces": [],
        "busy_job": None,
    }
    c.update(over)
    return c


# Field sets ------------------------------------------------------------------------


def hello(**over):
    f = {
        "host_id": HOST,
        "agent_version": "1.0.0",
        "incarnation": INCARNATION,
        "labels": {"env": "prod", "site/rack": "r1.a-2", "empty": ""},
        "capabilities": ["ping", "status", "rollback", "backup"],
        "sent_ms": NOW,
    }
    f.update(over)
    return f


def welcome(**over):
    f = {"coordinator_id": "coord-1", "heartbeat_ms": 15000, "lost_after": 3, "now_ms": NOW}
    f.update(over)
    return f


def heartbeat(**over):
    f = {
        "host_id": HOST,
        "incarnation": INCARNATION,
        "seq": 42,
        "sent_ms": NOW,
        "odc": {
            "container_id": "4f2a" * 16,
            "name": "odc",
            "image": "registry.example/odc:2.3.1",
            "state": "running",
            "health": "healthy",
            "version": "2.3.1",
        },
        "job": {"job_id": "job-7", "step": "backup"},
        "disks": [
            {"path": "/var/backups", "free_bytes": 123456789012, "total_bytes": 1 << 41},
            {"path": "/", "free_bytes": 0, "total_bytes": 1 << 40},
        ],
        "metadb": {"host": "obproxy.example", "port": 2883, "tenant": "odc_meta",
                   "cluster": "obcluster", "database": "odc_metadb"},
    }
    f.update(over)
    return f


def progress(**over):
    f = {
        "job_id": "job-7",
        "host_id": HOST,
        "step": "backup",
        "status": "running",
        "at_ms": NOW,
        "percent": 40,
        "message": "dumping database \u2014 3/7",
    }
    f.update(over)
    return f


def result(**over):
    f = {
        "job_id": "job-7",
        "host_id": HOST,
        "step": "stop_container",
        "status": "failed",
        "exit_code": -9,
        "started_ms": NOW - 5000,
        "duration_ms": 5000,
        "message": "killed by signal 9",
        "output_tail": "line 1\nline 2\n",
        "data": {"renamed_container": "odc-old-1", "odc_version": "2.3.1"},
        "final": True,
        "incarnation": INCARNATION,
    }
    f.update(over)
    return f


def ack(**over):
    f = {"ref_type": P.DISPATCH, "job_id": "job-7", "host_id": HOST, "step": "run",
         "nonce": NONCE}
    f.update(over)
    return f


def nack(**over):
    f = ack(code=P.ERROR_CODES["BUSY"], message="running job-6")
    f.update(over)
    return f


POLICY = {
    "canary": 1,
    "batch": 10,
    "batch_pct": True,
    "budget": 0,
    "budget_pct": False,
    "quorum_pct": 90,
    "step_deadline_s": 600,
    "job_deadline_s": 7200,
}


def job(**over):
    f = {
        "job_id": "job-7",
        "action": "rollback",
        "params": {"to": "2.3.0", "backup": "/var/backups/odc/2024-01-01", "dry_run": "false"},
        "targets": [HOST, "web-02", "db-01"],
        "policy": dict(POLICY),
        "created_ms": NOW - 60000,
        "expires_ms": NOW + 3600000,
        "operator": "alice",
        "reason": "bad release 2.3.1",
    }
    f.update(over)
    return f


class JobBody(bytes):
    """A JOB body (bytes) that remembers the target list it commits to (``ids``), so that
    a DISPATCH of it can carry a proof made from that list."""

    ids: list | None = None


def job_body(**over) -> JobBody:
    f = job(**over)
    b = JobBody(P.encode_body("JOB", f))
    b.ids = P.job_target_list(f)
    return b


def proof_for(ids, host_id, index=None) -> dict:
    """target_proof for host_id in ids (made from the list, as a coordinator does); for a
    host not in the list, the proof of position ``index`` (default 0) of the list."""
    tree = P.MerkleTree(ids)
    if index is None:
        index = ids.index(host_id) if host_id in ids else 0
    return {"index": index, "path": tree.path(index)}


def dispatch(jbody=None, jsig=None, **over):
    jbody = job_body() if jbody is None else jbody
    ids = getattr(jbody, "ids", None) or job()["targets"]
    f = {
        "job": jbody,
        "job_sig": P.sign("JOB", jbody, K_OP) if jsig is None else jsig,
        "host_id": HOST,
        "phase": "run",
        "not_before_ms": NOW - 1000,
        "expires_ms": NOW + 600000,
        "nonce": NONCE,
    }
    f.update(over)
    if "target_proof" not in over:
        f["target_proof"] = proof_for(ids, f["host_id"] if isinstance(f["host_id"], str)
                                      else HOST)
    return f


def request(**over):
    f = {
        "request_id": 7,
        "command": "job-status",
        "args": {
            "job_id": "job-7",
            "verbose": True,
            "none": None,
            "limit": 100,
            "offset": -1,
            "label": "r\u00e9gion=\U0001F600",
            "hosts": ["web-01", "web-02"],
            "\u00e9t\u00e9": "",
        },
    }
    f.update(over)
    return f


def reply(**over):
    f = {
        "request_id": 7,
        "code": 0,
        "message": "",
        "body": {
            "job": {"job_id": "job-7", "state": "running", "hosts": [HOST, "web-02"]},
            "counts": [1, -2, 300, -40000],
            "ok": False,
            "text": "caf\u00e9",
            "nothing": None,
            "": {},
        },
    }
    f.update(over)
    return f


FIELDS = {
    "HELLO": hello, "WELCOME": welcome, "HEARTBEAT": heartbeat, "PROGRESS": progress,
    "RESULT": result, "ACK": ack, "NACK": nack, "JOB": job, "DISPATCH": dispatch,
    "REQUEST": request, "REPLY": reply,
}


def to_json(v):
    """The section 10 JSON form of an input value: bytes as hex, the rest as is."""
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).hex()
    if isinstance(v, dict):
        return {k: to_json(e) for k, e in v.items()}
    if isinstance(v, (list, tuple)):
        return [to_json(e) for e in v]
    return v


def expected_decoded(type_name, fields):
    d = to_json(fields)
    if type_name == "JOB":
        # The commitment from section 2's recursive definition (odcproto's receiver uses
        # the bottom-up MerkleTree), the list last (section 10).
        ids = P.job_target_list(fields)
        if P._is_id_list(fields["targets"]):
            d["targets"] = {"count": len(ids), "root": P.mth_reference(ids).hex()}
        d.pop("target_list", None)
        d["target_list"] = list(ids)
    if type_name == "DISPATCH":
        # Decoded with the msgpack library, not with odcproto, as an independent check.
        vals = msgpack.unpackb(bytes(fields["job"]), raw=False)
        j = dict(zip(P.FIELD_NAMES["JOB"], vals))
        j["targets"] = {"count": j["targets"][0], "root": bytes(j["targets"][1]).hex()}
        j["policy"] = dict(zip(P.POLICY.names, j["policy"]))
        d["job"] = j
        d["job_hex"] = bytes(fields["job"]).hex()
    return d


# Raw body helpers ----------------------------------------------------------------------


def pack(obj) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


def array_header(n: int) -> bytes:
    if n < 16:
        return bytes([0x90 | n])
    if n < 65536:
        return b"\xdc" + n.to_bytes(2, "big")
    return b"\xdd" + n.to_bytes(4, "big")


def raw_fields(type_name, fields) -> list[bytes]:
    """Each field packed on its own, so one can be swapped for hand-made bytes."""
    schema = P.SCHEMAS[type_name]
    if type_name == "JOB" and P._is_id_list(fields.get("targets")):
        fields = dict(fields, targets=P.targets_commitment(fields["targets"]))
    return [pack(P._prepare(f[1], fields[f[0]])) for f in schema.fields]


# The version byte this peer speaks, for hand-made headers.
VB = bytes([P.PROTOCOL_VERSION])


def raw_body(type_name, fields, **replace) -> bytes:
    """A body whose named fields are replaced by raw msgpack bytes."""
    parts = raw_fields(type_name, fields)
    names = P.FIELD_NAMES[type_name]
    for name, raw in replace.items():
        parts[names.index(name)] = raw
    return array_header(len(parts)) + b"".join(parts)


def unsigned(type_name, body, code=None):
    return [P.header(P.TYPE_CODES[type_name] if code is None else code), body]


def default_target_list() -> bytes:
    return P.encode_target_list(job()["targets"])


def signed(type_name, body, key, target_list=None):
    """Header, body, signature; for a JOB also frame 3 (the default job's list unless
    given as bytes)."""
    frames = [P.header(P.TYPE_CODES[type_name]), body, P.sign(type_name, body, key)]
    if type_name == "JOB":
        frames.append(default_target_list() if target_list is None else target_list)
    return frames


def dispatch_frames(key=K_COORD, **over):
    return P.encode("DISPATCH", dispatch(**over), key)


def job_frames(key=K_OP, **over):
    return P.encode("JOB", job(**over), key)


def job_frames_list(target_list, key=K_OP, **over):
    """A JOB whose body commits to job(**over)'s targets, with frame 3 replaced: by raw
    bytes, or by the msgpack encoding of a list given as one."""
    fr = job_frames(key, **over)
    raw = target_list if isinstance(target_list, (bytes, bytearray)) else pack(target_list)
    return fr[:3] + [bytes(raw)]


def forged_job_frames(count, root, target_list, key=K_OP, **over):
    """A JOB whose signed body carries the commitment given (count, root bytes) and whose
    frame 3 is target_list (a list, or raw bytes)."""
    f = job(**over)
    f["targets"] = {"count": count, "root": root}
    body = P.encode_body("JOB", f)
    raw = target_list if isinstance(target_list, (bytes, bytearray)) else pack(target_list)
    return [P.header(P.JOB), body, P.sign("JOB", body, key), bytes(raw)]


def hosts(n, fmt="h-{:05d}"):
    return [fmt.format(i) for i in range(n)]


def result_frames(key=K_AGENT, **over):
    return P.encode("RESULT", result(**over), key)


# Cases ------------------------------------------------------------------------------------


def build_cases() -> list[dict]:
    cases: list[dict] = []

    def add(name, type_name, frames, context, error=None, expect=None):
        signer = None
        if type_name in P.SIGNED_TYPES and len(frames) >= 3 and len(frames[2]) >= 32:
            signer = bytes(frames[2][:32]).hex()
        cases.append({
            "name": name,
            "type": type_name,
            "frames_hex": [bytes(f).hex() for f in frames],
            "signer_public_key_hex": signer,
            "context": context,
            "valid": error is None,
            "error": error,
            "decoded": expect,
        })

    def valid(name, type_name, context, fields=None, key=None, frames=None):
        fields = FIELDS[type_name]() if fields is None else fields
        if frames is None:
            frames = P.encode(type_name, fields, key)
        add(name, type_name, frames, context, None, expected_decoded(type_name, fields))

    # ---- valid: at least one per type ----
    valid("hello_valid", "HELLO", ctx_coord())
    valid("hello_valid_minimal", "HELLO", ctx_coord(),
          hello(labels={}, capabilities=[], sent_ms=0, agent_version="x"))
    valid("welcome_valid", "WELCOME", ctx_agent())
    valid("welcome_valid_bounds", "WELCOME", ctx_agent(),
          welcome(heartbeat_ms=1000, lost_after=100, now_ms=2**63 - 1))
    valid("welcome_valid_bounds_high", "WELCOME", ctx_agent(),
          welcome(heartbeat_ms=600000, lost_after=1, now_ms=0))
    valid("heartbeat_valid_busy", "HEARTBEAT", ctx_coord())
    valid("heartbeat_valid_uint_max_2_63_minus_1", "HEARTBEAT", ctx_coord(), heartbeat(
        seq=2**63 - 1, disks=[{"path": "/srv", "free_bytes": 2**63 - 1,
                               "total_bytes": 2**63 - 1}]))
    valid("heartbeat_valid_idle", "HEARTBEAT", ctx_coord(),
          heartbeat(odc=None, job=None, disks=[], metadb=None))
    valid("heartbeat_valid_metadb_bounds", "HEARTBEAT", ctx_coord(), heartbeat(metadb={
        "host": "h" * 255, "port": 65535, "tenant": "", "cluster": "", "database": "d" * 128}))
    valid("heartbeat_valid_engine_absent", "HEARTBEAT", ctx_coord(), heartbeat(odc={
        "container_id": "", "name": "", "image": "", "state": "absent", "health": "unknown",
        "version": ""}, job=None))
    valid("progress_valid", "PROGRESS", ctx_coord())
    valid("progress_valid_done", "PROGRESS", ctx_coord(),
          progress(status="ok", percent=100, message=""))
    valid("result_valid", "RESULT", ctx_coord(), key=K_AGENT)
    valid("result_valid_int64_bounds", "RESULT", ctx_coord(),
          result(exit_code=-(2**63), data={}, final=False, status="interrupted"), key=K_AGENT)
    valid("result_valid_int64_max", "RESULT", ctx_coord(),
          result(exit_code=2**63 - 1, message="", output_tail=""), key=K_AGENT)
    valid("ack_valid_dispatch_at_coordinator", "ACK", ctx_coord())
    valid("ack_valid_result_at_agent", "ACK", ctx_agent(),
          ack(ref_type=P.RESULT, step="stop_container", nonce=b""))
    valid("ack_valid_all_empty_at_agent", "ACK", ctx_agent(),
          ack(ref_type=P.WELCOME, job_id="", host_id="", step="", nonce=b""))
    valid("nack_valid_busy_at_coordinator", "NACK", ctx_coord())
    valid("nack_valid_at_agent", "NACK", ctx_agent(),
          nack(ref_type=P.RESULT, code=P.ERROR_CODES["INTERNAL"], message="disk full",
               nonce=b"", step=""))
    valid("job_valid_rollback", "JOB", ctx_control(), key=K_OP)
    valid("job_valid_ping", "JOB", ctx_control(),
          job(action="ping", params={}, targets=[HOST],
              policy=dict(POLICY, canary=0, batch=1, batch_pct=False, budget=100,
                          budget_pct=True)), key=K_OP)
    valid("job_valid_max_lifetime", "JOB", ctx_control(),
          job(action="logs", params={"lines": "10000"}, created_ms=NOW - 10,
              expires_ms=NOW - 10 + P.JOB_MAX_LIFETIME_MS, reason=""), key=K_OP)
    valid("job_valid_expired_within_skew", "JOB", ctx_control(),
          job(action="stop", params={}, created_ms=NOW - 100000, expires_ms=NOW - SKEW),
          key=K_OP)
    valid("job_valid_created_within_skew", "JOB", ctx_control(),
          job(action="start", params={}, created_ms=NOW + SKEW, expires_ms=NOW + SKEW + 1),
          key=K_OP)
    valid("dispatch_valid_rollback_run", "DISPATCH", ctx_agent(), key=K_COORD)
    valid("dispatch_valid_rollback_preflight", "DISPATCH", ctx_agent(),
          dispatch(phase="preflight", nonce=NONCE2), key=K_COORD)
    valid("dispatch_valid_same_busy_job", "DISPATCH", ctx_agent(busy_job="job-7"),
          dispatch(), key=K_COORD)
    valid("dispatch_valid_other_nonce_seen", "DISPATCH",
          ctx_agent(seen_nonces=[NONCE2.hex()]), dispatch(), key=K_COORD)
    valid("dispatch_valid_window_edges", "DISPATCH", ctx_agent(),
          dispatch(not_before_ms=NOW + SKEW, expires_ms=NOW + SKEW + P.DISPATCH_MAX_WINDOW_MS),
          key=K_COORD)
    valid("dispatch_valid_expires_within_skew", "DISPATCH", ctx_agent(),
          dispatch(not_before_ms=NOW - 100000, expires_ms=NOW - SKEW), key=K_COORD)
    jb = job_body(action="backup", params={"name": "pre-upgrade_2.3"}, targets=[HOST])
    valid("dispatch_valid_backup_preflight", "DISPATCH", ctx_agent(),
          dispatch(jbody=jb, phase="preflight"), key=K_COORD)
    jb = job_body(action="undo", params={"of": "job-6"}, targets=["db-01", HOST])
    valid("dispatch_valid_undo", "DISPATCH", ctx_agent(), dispatch(jbody=jb), key=K_COORD)
    jb = job_body(action="preflight", params={"to": "_latest", "backup": "/"})
    valid("dispatch_valid_preflight_action_root_path", "DISPATCH", ctx_agent(),
          dispatch(jbody=jb), key=K_COORD)
    # Real directories have spaces and non-ASCII names (issue 14).
    jb = job_body(action="rollback", params={"to": "4.2.2_bp1",
                                             "backup": "/data/odc backups/pr\u00e9-4.3 \u5907\u4efd"})
    valid("dispatch_valid_path_space_non_ascii", "DISPATCH", ctx_agent(), dispatch(jbody=jb),
          key=K_COORD)
    valid("request_valid", "REQUEST", ctx_control())
    valid("request_valid_no_args", "REQUEST", ctx_control(),
          request(request_id=2**63 - 1, command="list_hosts", args={}))
    valid("reply_valid", "REPLY", ctx_cli())
    valid("reply_valid_error", "REPLY", ctx_cli(),
          reply(code=P.ERROR_CODES["NOT_FOUND"], message="no such job", body=None))
    valid("reply_valid_scalar_body", "REPLY", ctx_cli(), reply(body="done"))
    valid("reply_valid_int_extremes", "REPLY", ctx_cli(), reply(body=[2**63 - 1, -(2**63)]))
    valid("reply_valid_success_with_message", "REPLY", ctx_cli(),
          reply(code=0, message="done"))  # "empty on success" is not checked
    valid("reply_valid_body_key_255", "REPLY", ctx_cli(), reply(body={"k" * 255: "v"}))
    valid("reply_valid_body_str_65536", "REPLY", ctx_cli(), reply(body={"s": "x" * 65536}))
    valid("reply_valid_job_submission_answer", "REPLY", ctx_cli(),
          reply(request_id=0, body={"job_id": "job-7", "accepted": True}))
    valid("request_valid_arg_edges", "REQUEST", ctx_control(),
          request(request_id=0, command="a-_", args={
              "k" * 64: "", "n": -(2**63), "m": 2**63 - 1, "e": [], "s": "x" * 65536,
              "a": ["y" * 256] * 3, "\u00fc": False}))
    valid("job_valid_created_near_int64_max", "JOB", ctx_control(now_ms=2**63 - 2000),
          job(action="ping", params={}, created_ms=2**63 - 1001, expires_ms=2**63 - 1),
          key=K_OP)
    valid("dispatch_valid_near_int64_max", "DISPATCH", ctx_agent(now_ms=2**63 - 2000),
          dispatch(jbody=job_body(action="ping", params={}, created_ms=2**63 - 1001,
                                  expires_ms=2**63 - 1),
                   not_before_ms=2**63 - 1500, expires_ms=2**63 - 1), key=K_COORD)

    # Integer widths: any width is accepted; positive values in signed encodings too.
    f = welcome(heartbeat_ms=15000, lost_after=3, now_ms=5)
    body = (b"\x94" + pack("coord-1") + b"\xcf" + (15000).to_bytes(8, "big")
            + b"\xd2" + (3).to_bytes(4, "big") + b"\xd0\x05")
    valid("welcome_valid_wide_ints", "WELCOME", ctx_agent(), f, frames=unsigned("WELCOME", body))
    # Non-shortest str and array headers are still one valid object.
    f = ack(ref_type=P.HELLO, job_id="", host_id=HOST, step="", nonce=b"")
    body = (b"\xdc\x00\x05" + b"\x01" + b"\xd9\x00" + b"\xda\x00\x06" + HOST.encode()
            + b"\xdb\x00\x00\x00\x00" + b"\xc5\x00\x00")
    valid("ack_valid_wide_headers", "ACK", ctx_coord(), f, frames=unsigned("ACK", body))
    # Depth 6 exactly is allowed (REPLY body: body array 1, then 5 levels).
    f = reply(body=[[[{"k": []}]]])
    valid("reply_valid_depth_6", "REPLY", ctx_cli(), f)
    # Non-ASCII UTF-8 (4-byte form) in a free str.
    f = progress(message="ok \U0001F600 \u00e9")
    valid("progress_valid_utf8", "PROGRESS", ctx_coord(), f)

    # ---- 1 FRAMES ----
    add("frames_hello_three_frames", "HELLO", P.encode("HELLO", hello()) + [b"x" * 96],
        ctx_coord(), "FRAMES")
    add("frames_welcome_one_frame", "WELCOME", P.encode("WELCOME", welcome())[:1],
        ctx_agent(), "FRAMES")
    add("frames_result_unsigned", "RESULT", result_frames()[:2], ctx_coord(), "FRAMES")
    fr = job_frames()
    add("frames_job_sig_95_bytes", "JOB", fr[:2] + [fr[2][:95]] + fr[3:], ctx_control(),
        "FRAMES")
    add("frames_job_three_frames_no_target_list", "JOB", fr[:3], ctx_control(), "FRAMES")
    add("frames_job_five_frames", "JOB", fr + [fr[3]], ctx_control(), "FRAMES")
    add("frames_job_two_frames", "JOB", fr[:2], ctx_control(), "FRAMES")
    add("frames_job_sig_97_bytes_with_list", "JOB", fr[:2] + [fr[2] + b"\x00"] + fr[3:],
        ctx_control(), "FRAMES")
    add("frames_job_list_and_signature_swapped", "JOB", fr[:2] + [fr[3], fr[2]],
        ctx_control(), "FRAMES")
    add("frames_none", "HELLO", [], ctx_coord(), "FRAMES")
    add("frames_none_at_control", "JOB", [], ctx_control(), "FRAMES")
    add("frames_request_three_frames", "REQUEST", P.encode("REQUEST", request()) + [bytes(96)],
        ctx_control(), "FRAMES")
    add("frames_dispatch_sig_97_bytes", "DISPATCH",
        dispatch_frames()[:2] + [dispatch_frames()[2] + b"\x00"], ctx_agent(), "FRAMES")
    add("frames_dispatch_four_frames", "DISPATCH", dispatch_frames() + [b""], ctx_agent(),
        "FRAMES")

    # ---- 2 HEADER ----
    fr = P.encode("HELLO", hello())
    add("header_3_bytes", "HELLO", [b"OD" + VB] + fr[1:], ctx_coord(), "HEADER")
    add("header_5_bytes", "HELLO", [b"OD" + VB + b"\x01\x00"] + fr[1:], ctx_coord(), "HEADER")
    add("header_bad_magic", "HELLO", [b"OX" + VB + b"\x01"] + fr[1:], ctx_coord(), "HEADER")
    add("header_empty", "HELLO", [b""] + fr[1:], ctx_coord(), "HEADER")
    add("header_bad_magic_before_version", "HELLO", [b"od\x02\x01"] + fr[1:], ctx_coord(),
        "HEADER")

    # ---- 3 VERSION ----
    add("version_1_the_previous", "HELLO", [b"OD\x01\x01"] + fr[1:], ctx_coord(), "VERSION")
    add("version_3", "HELLO", [b"OD\x03\x01"] + fr[1:], ctx_coord(), "VERSION")
    add("version_0", "HELLO", [b"OD\x00\x01"] + fr[1:], ctx_coord(), "VERSION")
    add("version_before_type", "HELLO", [b"OD\x03\x7f"] + fr[1:], ctx_coord(), "VERSION")

    # ---- 4 TYPE ----
    add("type_unknown_0x08", "HELLO", [b"OD" + VB + b"\x08"] + fr[1:], ctx_coord(), "TYPE")
    add("type_unknown_0x00", "HELLO", [b"OD" + VB + b"\x00"] + fr[1:], ctx_coord(), "TYPE")
    add("type_hello_at_agent", "HELLO", fr, ctx_agent(), "TYPE")
    add("type_dispatch_at_coordinator", "DISPATCH", dispatch_frames(), ctx_coord(), "TYPE")
    add("type_job_at_agent", "JOB", job_frames(), ctx_agent(), "TYPE")
    add("type_job_at_coordinator_agent_socket", "JOB", job_frames(), ctx_coord(), "TYPE")
    add("type_request_at_coordinator_agent_socket", "REQUEST", P.encode("REQUEST", request()),
        ctx_coord(), "TYPE")
    add("type_hello_at_control", "HELLO", fr, ctx_control(), "TYPE")
    add("type_result_at_control", "RESULT", result_frames(), ctx_control(), "TYPE")
    add("type_ack_at_control", "ACK", P.encode("ACK", ack()), ctx_control(), "TYPE")
    add("type_nack_at_control", "NACK", P.encode("NACK", nack()), ctx_control(), "TYPE")
    add("type_dispatch_at_control", "DISPATCH", dispatch_frames(), ctx_control(), "TYPE")
    add("type_reply_at_control", "REPLY", P.encode("REPLY", reply()), ctx_control(), "TYPE")
    add("type_job_at_cli", "JOB", job_frames(), ctx_cli(), "TYPE")
    add("type_ack_at_cli", "ACK", P.encode("ACK", ack()), ctx_cli(), "TYPE")
    add("type_request_at_agent", "REQUEST", P.encode("REQUEST", request()), ctx_agent(), "TYPE")
    add("type_before_frames_at_control", "JOB", [b"OD" + VB + b"\x05"], ctx_control(), "TYPE")
    add("type_welcome_at_coordinator", "WELCOME", P.encode("WELCOME", welcome()), ctx_coord(),
        "TYPE")
    add("type_reply_at_coordinator", "REPLY", P.encode("REPLY", reply()), ctx_coord(), "TYPE")
    add("type_request_at_cli", "REQUEST", P.encode("REQUEST", request()), ctx_cli(), "TYPE")
    add("type_before_frames", "HELLO", [b"OD" + VB + b"\x08"], ctx_coord(), "TYPE")

    # ---- 5 TOO_BIG ----
    add("too_big_welcome_1025", "WELCOME", unsigned("WELCOME", b"\xc1" * 1025), ctx_agent(),
        "TOO_BIG")
    big = raw_body("ACK", ack(), job_id=pack("x" * 64)) + b"\x00" * 1000
    add("too_big_ack_before_trailing", "ACK", unsigned("ACK", big[:1025]), ctx_agent(),
        "TOO_BIG")
    body = b"\x00" * 65537
    add("too_big_result_before_signature", "RESULT",
        [P.header(P.RESULT), body, bytes(96)], ctx_coord(), "TOO_BIG")

    # ---- 6 MALFORMED ----
    add("malformed_c1", "HELLO", unsigned("HELLO", b"\xc1"), ctx_coord(), "MALFORMED")
    add("malformed_c1_inside", "HELLO",
        unsigned("HELLO", raw_body("HELLO", hello(), agent_version=b"\xc1")), ctx_coord(),
        "MALFORMED")
    add("malformed_empty_body", "WELCOME", unsigned("WELCOME", b""), ctx_agent(), "MALFORMED")
    good = P.encode_body("WELCOME", welcome())
    add("malformed_truncated", "WELCOME", unsigned("WELCOME", good[:-1]), ctx_agent(),
        "MALFORMED")
    add("malformed_array_missing_elements", "WELCOME",
        unsigned("WELCOME", b"\x94" + pack("coord-1") + b"\xcd\x3a\x98"), ctx_agent(),
        "MALFORMED")
    add("malformed_str8_header_cut", "WELCOME", unsigned("WELCOME", b"\x91\xd9"), ctx_agent(),
        "MALFORMED")
    add("malformed_uint64_cut", "WELCOME",
        unsigned("WELCOME", b"\x94" + pack("coord-1") + b"\xcf\x00\x00"), ctx_agent(),
        "MALFORMED")
    add("malformed_before_trailing_check", "ACK", unsigned("ACK", b"\x95\x06\xc1\x00\x00\x00\x00"),
        ctx_agent(), "MALFORMED")

    # Section 3 scan, check 4: header / payload bytes missing.
    add("malformed_bin16_header_cut", "HELLO",
        unsigned("HELLO", b"\x96\xa1h\xa1v\xc5\x00"), ctx_coord(), "MALFORMED")
    add("malformed_map32_header_cut", "REPLY",
        unsigned("REPLY", b"\x94\x00\x00\xa0\xdf\xff\xff"), ctx_cli(), "MALFORMED")
    add("malformed_int8_payload_missing", "RESULT",
        signed("RESULT", raw_body("RESULT", result())[:1 + sum(
            len(x) for x in raw_fields("RESULT", result())[:4])] + b"\xd0", K_AGENT),
        ctx_coord(), "MALFORMED")
    # Check 5: a str/bin within its bound but longer than the bytes left: MALFORMED.
    add("malformed_str_longer_than_bytes_left", "WELCOME",
        unsigned("WELCOME", b"\x94\xa5abc"), ctx_agent(), "MALFORMED")
    add("malformed_str8_longer_than_bytes_left", "WELCOME",
        unsigned("WELCOME", b"\x94\xd9\x05abcd"), ctx_agent(), "MALFORMED")
    add("malformed_bin8_longer_than_bytes_left", "HELLO",
        unsigned("HELLO", b"\x96" + b"".join(raw_fields("HELLO", hello())[:2])
                 + b"\xc4\x10" + bytes(8)),
        ctx_coord(), "MALFORMED")
    add("malformed_bin32_at_bound_longer_than_body", "REPLY",
        unsigned("REPLY", b"\x94\x00\x00\xa0\xc6\x00\x10\x10\x00" + bytes(10)), ctx_cli(),
        "MALFORMED")
    add("malformed_str32_at_bound_longer_than_body", "REPLY",
        unsigned("REPLY", b"\x94\x00\x00\xa0\xdb\x00\x01\x00\x00" + b"a" * 10), ctx_cli(),
        "MALFORMED")
    # Check 6: more elements than bytes left (count for an array, 2 x count for a map).
    add("malformed_array_count_above_bytes_left", "WELCOME",
        unsigned("WELCOME", b"\xdc\x00\x20" + b"\x00" * 10), ctx_agent(), "MALFORMED")
    add("malformed_fixarray_count_above_bytes_left", "WELCOME",
        unsigned("WELCOME", b"\x9f\x00\x00"), ctx_agent(), "MALFORMED")
    add("malformed_array32_at_bound_above_bytes_left", "REPLY",
        unsigned("REPLY", b"\x94\x00\x00\xa0\xdd\x00\x01\x86\xa0" + b"\x00" * 100),
        ctx_cli(), "MALFORMED")
    add("malformed_map_count_above_bytes_left_before_float", "WELCOME",
        unsigned("WELCOME", b"\x94\xa0\x00\x00\x83\xca\x00\x00\x00\x00"), ctx_agent(),
        "MALFORMED")  # 3 pairs need >= 6 bytes, 5 left: the float is never reached
    add("malformed_map16_count_above_bytes_left_before_float", "WELCOME",
        unsigned("WELCOME", b"\x94\xa0\x00\x00\xde\x00\x03\xca\x00\x00\x00\x00"),
        ctx_agent(), "MALFORMED")
    add("malformed_array16_count_above_bytes_after_header", "WELCOME",
        unsigned("WELCOME", b"\x94\xa0\x00\x00\xdc\x00\x03\xca\x00"), ctx_agent(),
        "MALFORMED")  # READING: bytes left counted after the 2 count bytes (2 < 3)
    add("malformed_header_cut_at_depth_7", "REPLY",
        unsigned("REPLY", b"\x94\x00\x00\xa0" + b"\x91" * 5 + b"\xdc\x00"), ctx_cli(),
        "MALFORMED")
    add("malformed_c1_before_float", "WELCOME",
        unsigned("WELCOME", b"\x94\xa0\x00\xc1\xcb" + bytes(8)), ctx_agent(), "MALFORMED")

    # ---- 7 TRAILING ----
    add("trailing_one_byte", "HELLO", unsigned("HELLO", P.encode_body("HELLO", hello()) + b"\x00"),
        ctx_coord(), "TRAILING")
    add("trailing_c1_after_object", "WELCOME", unsigned("WELCOME", good + b"\xc1"), ctx_agent(),
        "TRAILING")
    add("trailing_two_objects", "WELCOME", unsigned("WELCOME", good + good), ctx_agent(),
        "TRAILING")
    jb = job_body() + b"\xc0"
    add("trailing_in_embedded_job", "DISPATCH", dispatch_frames(jbody=jb), ctx_agent(),
        "TRAILING")

    # ---- 8 DEPTH ----
    add("depth_7_nested_arrays", "HEARTBEAT", unsigned("HEARTBEAT", b"\x91" * 6 + b"\x90"),
        ctx_coord(), "DEPTH")
    add("depth_7_in_reply_body", "REPLY",
        P.encode("REPLY", reply(body=[[[[[[]]]]]])), ctx_cli(), "DEPTH")
    add("depth_7_map_in_field", "HELLO",
        unsigned("HELLO", raw_body("HELLO", hello(), labels=b"\x81\xa1k" + b"\x91" * 4 + b"\x80")),
        ctx_coord(), "DEPTH")
    add("depth_before_limit", "REPLY",
        unsigned("REPLY", b"\x94\x00\x00\xa0" + b"\x91" * 5 + b"\xdd\xff\xff\xff\xff"),
        ctx_cli(), "DEPTH")
    add("depth_before_malformed_count", "REPLY",
        unsigned("REPLY", b"\x94\x00\x00\xa0" + b"\x91" * 5 + b"\x9f"), ctx_cli(), "DEPTH")
    add("schema_reply_body_array_key_at_depth_6", "REPLY",
        unsigned("REPLY", b"\x94\x00\x00\xa0" + b"\x91" * 3 + b"\x81\x90\x00"), ctx_cli(),
        "SCHEMA")  # a key array at depth 6 is fine for the scan, then a non-str key
    add("depth_7_in_map_key", "REPLY",
        unsigned("REPLY", b"\x94\x00\x00\xa0" + b"\x91" * 4 + b"\x81\x90\x00"), ctx_cli(),
        "DEPTH")
    add("depth_body_map_of_maps", "REPLY",
        unsigned("REPLY", b"\x81\xa0" * 6 + b"\x80"), ctx_cli(), "DEPTH")

    # ---- 9 LIMIT ----
    add("limit_str32_claims_4g", "HELLO",
        unsigned("HELLO", b"\x96\xdb\xff\xff\xff\xff" + b"a" * 10), ctx_coord(), "LIMIT")
    add("limit_array32_claims_4g", "HELLO", unsigned("HELLO", b"\xdd\xff\xff\xff\xff"),
        ctx_coord(), "LIMIT")
    add("limit_map32_claims_4g", "REPLY",
        unsigned("REPLY", b"\x94\x00\x00\xa0\xdf\xff\xff\xff\xff"), ctx_cli(), "LIMIT")
    add("limit_bin32_claims_4g", "HELLO",
        unsigned("HELLO", raw_body("HELLO", hello(), incarnation=b"\xc6\xff\xff\xff\xff")),
        ctx_coord(), "LIMIT")
    add("limit_before_malformed_str32", "WELCOME",
        unsigned("WELCOME", b"\x94\xa0\x00\x00\xdb\x00\x01\x00\x01"), ctx_agent(), "LIMIT")
    add("limit_before_malformed_map16", "WELCOME",
        unsigned("WELCOME", b"\x94\xa0\x00\x00\xde\x27\x11"), ctx_agent(), "LIMIT")
    add("limit_bin_1052673_scan", "REPLY",
        unsigned("REPLY", b"\x94\x00\x00\xa0\xc6" + (1052673).to_bytes(4, "big")), ctx_cli(),
        "LIMIT")
    add("limit_str_65537_scan", "REPLY",
        P.encode("REPLY", reply(body="a" * 65537)), ctx_cli(), "LIMIT")
    add("limit_array_100001_scan", "REPLY",
        unsigned("REPLY", b"\x94\x00\x00\xa0" + array_header(100001) + b"\x00" * 100001),
        ctx_cli(), "LIMIT")
    add("limit_host_id_65", "HELLO", P.encode("HELLO", hello(host_id="h" * 65)), ctx_coord(),
        "LIMIT")
    add("limit_capabilities_33", "HELLO",
        P.encode("HELLO", hello(capabilities=["c"] * 33)), ctx_coord(), "LIMIT")
    add("limit_incarnation_17", "HELLO", P.encode("HELLO", hello(incarnation=bytes(17))),
        ctx_coord(), "LIMIT")
    add("limit_label_value_129", "HELLO", P.encode("HELLO", hello(labels={"a": "v" * 129})),
        ctx_coord(), "LIMIT")
    add("limit_disks_17", "HEARTBEAT",
        P.encode("HEARTBEAT", heartbeat(disks=[{"path": "/", "free_bytes": 1,
                                                "total_bytes": 2}] * 17)),
        ctx_coord(), "LIMIT")
    add("limit_ack_nonce_17", "ACK", P.encode("ACK", ack(nonce=bytes(17))), ctx_coord(),
        "LIMIT")
    add("value_job_targets_count_10001", "JOB",
        job_frames(targets=[f"h{i}" for i in range(10001)]), ctx_control(), "VALUE")
    ids = [f"h{i}" for i in range(10001)]
    add("limit_job_target_list_10001", "JOB",
        forged_job_frames(10000, P.merkle_root(ids[:10000]), ids), ctx_control(), "LIMIT")
    add("limit_dispatch_job_sig_97", "DISPATCH",
        dispatch_frames(jsig=bytes(97)), ctx_agent(), "LIMIT")
    add("limit_request_args_65", "REQUEST",
        P.encode("REQUEST", request(args={f"a{i}": None for i in range(65)})), ctx_control(),
        "LIMIT")
    add("limit_request_arg_array_str_257", "REQUEST",
        P.encode("REQUEST", request(args={"hosts": ["x" * 257]})), ctx_control(), "LIMIT")
    add("limit_in_embedded_job", "DISPATCH",
        dispatch_frames(jbody=job_body(operator="o" * 65)), ctx_agent(), "LIMIT")

    add("limit_dispatch_job_1048577", "DISPATCH",
        dispatch_frames(jbody=b"\x00" * 1048577, jsig=bytes(96)), ctx_agent(), "LIMIT")
    add("limit_str_too_long_and_bad_utf8", "PROGRESS",
        unsigned("PROGRESS", raw_body("PROGRESS", progress(),
                                      message=b"\xda\x02\x01" + b"\xff" * 513)),
        ctx_coord(), "LIMIT")
    add("limit_reply_body_key_256", "REPLY", P.encode("REPLY", reply(body={"k" * 256: 1})),
        ctx_cli(), "LIMIT")
    add("limit_request_arg_key_65", "REQUEST", P.encode("REQUEST", request(args={"k" * 65: 1})),
        ctx_control(), "LIMIT")
    add("limit_request_arg_array_10001", "REQUEST",
        P.encode("REQUEST", request(args={"a": [""] * 10001})), ctx_control(), "LIMIT")
    add("limit_ack_step_33", "ACK", P.encode("ACK", ack(step="s" * 33)), ctx_agent(), "LIMIT")
    add("limit_job_param_key_33", "JOB", job_frames(params={"k" * 33: "x"}), ctx_control(),
        "LIMIT")

    # ---- 10 SCHEMA ----
    add("schema_float64_field", "WELCOME",
        unsigned("WELCOME", raw_body("WELCOME", welcome(), now_ms=pack(1.5))), ctx_agent(),
        "SCHEMA")
    add("schema_float32_field", "WELCOME",
        unsigned("WELCOME", raw_body("WELCOME", welcome(), now_ms=b"\xca\x3f\xc0\x00\x00")),
        ctx_agent(), "SCHEMA")
    add("schema_ext_field", "WELCOME",
        unsigned("WELCOME", raw_body("WELCOME", welcome(), now_ms=b"\xd4\x01\x00")),
        ctx_agent(), "SCHEMA")
    add("schema_ext8_field", "REPLY",
        unsigned("REPLY", raw_body("REPLY", reply(), body=b"\xc7\x02\x05ab")), ctx_cli(),
        "SCHEMA")
    add("schema_float_before_field_checks", "WELCOME",
        unsigned("WELCOME", b"\x94\xa0\x00\x00\xcb" + b"\x00" * 8), ctx_agent(), "SCHEMA")
    add("schema_float_before_c1", "WELCOME",
        unsigned("WELCOME", b"\x94\xa0\x00\xcb" + bytes(8) + b"\xc1"), ctx_agent(), "SCHEMA")
    # Scan check 3: float/ext first byte is SCHEMA whatever follows (even cut short).
    add("schema_float32_cut_short", "WELCOME",
        unsigned("WELCOME", b"\x94\xa0\x00\x00\xca\x00"), ctx_agent(), "SCHEMA")
    add("schema_float64_last_byte", "WELCOME",
        unsigned("WELCOME", b"\x94\xa0\x00\x00\xcb"), ctx_agent(), "SCHEMA")
    add("schema_ext8_longer_than_body", "REPLY",
        unsigned("REPLY", raw_body("REPLY", reply(), body=b"\xc7\x09\x05ab")), ctx_cli(),
        "SCHEMA")
    add("schema_ext32_claims_4g", "REPLY",
        unsigned("REPLY", b"\x94\x00\x00\xa0\xc9\xff\xff\xff\xff"), ctx_cli(), "SCHEMA")
    add("schema_fixext16_cut", "REPLY", unsigned("REPLY", b"\x94\x00\x00\xa0\xd8\x01"),
        ctx_cli(), "SCHEMA")
    add("schema_float_as_first_byte_of_body", "HELLO", unsigned("HELLO", b"\xcb"), ctx_coord(),
        "SCHEMA")
    add("schema_float_at_depth_7", "REPLY",
        unsigned("REPLY", b"\x94\x00\x00\xa0" + b"\x91" * 5 + b"\xca"), ctx_cli(), "SCHEMA")
    # REQUEST args and REPLY bodies: no bin, no map arg, no nested array arg.
    add("schema_request_arg_bin", "REQUEST",
        P.encode("REQUEST", request(args={"blob": b"\x00\x01"})), ctx_control(), "SCHEMA")
    add("schema_request_arg_nested_array", "REQUEST",
        P.encode("REQUEST", request(args={"a": [["x"]]})), ctx_control(), "SCHEMA")
    add("schema_request_arg_array_with_nil", "REQUEST",
        P.encode("REQUEST", request(args={"a": ["x", None]})), ctx_control(), "SCHEMA")
    add("schema_request_arg_key_int", "REQUEST",
        unsigned("REQUEST", raw_body("REQUEST", request(), args=b"\x81\x01\xc0")),
        ctx_control(), "SCHEMA")
    add("schema_reply_body_bin", "REPLY", P.encode("REPLY", reply(body=b"\xde\xad")),
        ctx_cli(), "SCHEMA")
    add("schema_reply_body_nested_bin", "REPLY",
        P.encode("REPLY", reply(body={"a": [1, {"b": b""}]})), ctx_cli(), "SCHEMA")
    add("schema_reply_body_int_key", "REPLY",
        unsigned("REPLY", raw_body("REPLY", reply(), body=b"\x81\x01\xc0")), ctx_cli(),
        "SCHEMA")
    add("schema_reply_body_nil_key", "REPLY",
        unsigned("REPLY", raw_body("REPLY", reply(), body=b"\x81\xc0\xc0")), ctx_cli(),
        "SCHEMA")
    add("schema_reply_message_nil", "REPLY", P.encode("REPLY", reply(message=None)), ctx_cli(),
        "SCHEMA")
    add("schema_body_not_array", "WELCOME", unsigned("WELCOME", pack({"a": 1})), ctx_agent(),
        "SCHEMA")
    add("schema_body_is_str", "REQUEST", unsigned("REQUEST", pack("status")), ctx_control(),
        "SCHEMA")
    add("schema_body_is_nil", "REPLY", unsigned("REPLY", b"\xc0"), ctx_cli(), "SCHEMA")
    add("schema_too_few_fields", "WELCOME", unsigned("WELCOME", pack(["coord-1", 15000, 3])),
        ctx_agent(), "SCHEMA")
    add("schema_too_many_fields", "WELCOME",
        unsigned("WELCOME", pack(["coord-1", 15000, 3, NOW, 0])), ctx_agent(), "SCHEMA")
    add("schema_ack_with_nack_fields", "ACK", unsigned("ACK", P.encode_body("NACK", nack())),
        ctx_agent(), "SCHEMA")
    add("schema_negative_uint", "HELLO", P.encode("HELLO", hello(sent_ms=-1)), ctx_coord(),
        "SCHEMA")
    add("schema_str_for_bin", "HELLO",
        unsigned("HELLO", raw_body("HELLO", hello(), incarnation=pack("0" * 16))), ctx_coord(),
        "SCHEMA")
    add("schema_bin_for_str", "HELLO",
        unsigned("HELLO", raw_body("HELLO", hello(), host_id=pack(b"web-01"))), ctx_coord(),
        "SCHEMA")
    add("schema_int_for_bool", "RESULT", result_frames(final=1), ctx_coord(), "SCHEMA")
    add("schema_nil_not_nullable", "PROGRESS",
        unsigned("PROGRESS", raw_body("PROGRESS", progress(), message=b"\xc0")), ctx_coord(),
        "SCHEMA")
    add("schema_non_str_map_key", "HELLO",
        unsigned("HELLO", raw_body("HELLO", hello(), labels=b"\x81\x01\xa1v")), ctx_coord(),
        "SCHEMA")
    add("schema_container_of_5", "HEARTBEAT",
        unsigned("HEARTBEAT", raw_body("HEARTBEAT", heartbeat(),
                                       odc=pack(["", "", "", "running", "healthy"]))),
        ctx_coord(), "SCHEMA")
    add("schema_metadb_of_4", "HEARTBEAT",
        unsigned("HEARTBEAT", raw_body("HEARTBEAT", heartbeat(),
                                       metadb=pack(["db", 2881, "t", "c"]))),
        ctx_coord(), "SCHEMA")
    add("value_metadb_port_0", "HEARTBEAT",
        P.encode("HEARTBEAT", heartbeat(metadb=dict(heartbeat()["metadb"], port=0))),
        ctx_coord(), "VALUE")
    add("value_metadb_port_65536", "HEARTBEAT",
        P.encode("HEARTBEAT", heartbeat(metadb=dict(heartbeat()["metadb"], port=65536))),
        ctx_coord(), "VALUE")
    add("value_metadb_host_empty", "HEARTBEAT",
        P.encode("HEARTBEAT", heartbeat(metadb=dict(heartbeat()["metadb"], host=""))),
        ctx_coord(), "VALUE")
    add("limit_metadb_database_129", "HEARTBEAT",
        P.encode("HEARTBEAT", heartbeat(metadb=dict(heartbeat()["metadb"], database="d" * 129))),
        ctx_coord(), "LIMIT")
    add("schema_request_arg_map", "REQUEST",
        P.encode("REQUEST", request(args={"m": {"a": 1}})), ctx_control(), "SCHEMA")
    add("schema_request_arg_array_of_int", "REQUEST",
        P.encode("REQUEST", request(args={"hosts": ["a", 1]})), ctx_control(), "SCHEMA")
    add("schema_in_embedded_job", "DISPATCH",
        dispatch_frames(jbody=job_body(created_ms="now")), ctx_agent(), "SCHEMA")

    # ---- 11 VALUE ----
    add("value_host_id_charset", "HELLO", P.encode("HELLO", hello(host_id="web 01")),
        ctx_coord(), "VALUE")
    add("value_host_id_first_char", "HELLO", P.encode("HELLO", hello(host_id="-web")),
        ctx_coord(), "VALUE")
    add("value_host_id_empty", "HELLO", P.encode("HELLO", hello(host_id="")), ctx_coord(),
        "VALUE")
    add("value_incarnation_15", "HELLO", P.encode("HELLO", hello(incarnation=bytes(15))),
        ctx_coord(), "VALUE")
    add("value_bad_utf8", "PROGRESS",
        unsigned("PROGRESS", raw_body("PROGRESS", progress(), message=b"\xa2\xc3\x28")),
        ctx_coord(), "VALUE")
    add("value_utf8_overlong", "PROGRESS",
        unsigned("PROGRESS", raw_body("PROGRESS", progress(), message=b"\xa2\xc0\xaf")),
        ctx_coord(), "VALUE")
    add("value_utf8_surrogate", "PROGRESS",
        unsigned("PROGRESS", raw_body("PROGRESS", progress(), message=b"\xa3\xed\xa0\x80")),
        ctx_coord(), "VALUE")
    add("value_utf8_above_10ffff", "PROGRESS",
        unsigned("PROGRESS", raw_body("PROGRESS", progress(), message=b"\xa4\xf4\x90\x80\x80")),
        ctx_coord(), "VALUE")
    add("value_nul_in_str", "PROGRESS", P.encode("PROGRESS", progress(message="a\x00b")),
        ctx_coord(), "VALUE")
    add("value_duplicate_label_key", "HELLO",
        unsigned("HELLO", raw_body("HELLO", hello(), labels=b"\x82\xa1k\xa1a\xa1k\xa1b")),
        ctx_coord(), "VALUE")
    add("value_label_key_charset", "HELLO", P.encode("HELLO", hello(labels={"a b": ""})),
        ctx_coord(), "VALUE")
    add("value_capability_empty", "HELLO", P.encode("HELLO", hello(capabilities=[""])),
        ctx_coord(), "VALUE")
    add("value_heartbeat_ms_999", "WELCOME", P.encode("WELCOME", welcome(heartbeat_ms=999)),
        ctx_agent(), "VALUE")
    add("value_lost_after_0", "WELCOME", P.encode("WELCOME", welcome(lost_after=0)),
        ctx_agent(), "VALUE")
    add("value_container_state", "HEARTBEAT",
        P.encode("HEARTBEAT", heartbeat(odc=dict(heartbeat()["odc"], state="stopped"))),
        ctx_coord(), "VALUE")
    add("value_heartbeat_job_step", "HEARTBEAT",
        P.encode("HEARTBEAT", heartbeat(job={"job_id": "job-7", "step": "Backup"})),
        ctx_coord(), "VALUE")
    add("value_disk_path_empty", "HEARTBEAT",
        P.encode("HEARTBEAT", heartbeat(disks=[{"path": "", "free_bytes": 0,
                                                "total_bytes": 0}])),
        ctx_coord(), "VALUE")
    add("value_percent_101", "PROGRESS", P.encode("PROGRESS", progress(percent=101)),
        ctx_coord(), "VALUE")
    add("value_progress_status", "PROGRESS", P.encode("PROGRESS", progress(status="interrupted")),
        ctx_coord(), "VALUE")
    add("value_result_data_key", "RESULT", result_frames(data={"Odc": "x"}), ctx_coord(),
        "VALUE")
    add("value_ack_unknown_ref_type", "ACK", P.encode("ACK", ack(ref_type=8)), ctx_coord(),
        "VALUE")
    add("value_ack_nonce_8", "ACK", P.encode("ACK", ack(nonce=bytes(8))), ctx_coord(), "VALUE")
    add("value_ack_step_not_step", "ACK", P.encode("ACK", ack(step="run-1")), ctx_coord(),
        "VALUE")
    add("value_ack_job_id_bad", "ACK", P.encode("ACK", ack(job_id=".x")), ctx_coord(), "VALUE")
    add("value_nack_code_0", "NACK", P.encode("NACK", nack(code=0)), ctx_coord(), "VALUE")
    add("value_nack_code_24", "NACK", P.encode("NACK", nack(code=24)), ctx_coord(), "VALUE")
    add("value_job_action_charset", "JOB", job_frames(action="Roll-back"), ctx_control(), "VALUE")
    add("value_job_param_key_charset", "JOB", job_frames(params={"To": "x"}), ctx_control(),
        "VALUE")
    add("value_job_targets_empty", "JOB", job_frames(targets=[]), ctx_control(), "VALUE")
    add("value_job_target_list_duplicate", "JOB", job_frames(targets=[HOST, "a", HOST]),
        ctx_control(), "VALUE")
    add("value_job_canary_above_targets", "JOB", job_frames(policy=dict(POLICY, canary=4)),
        ctx_control(), "VALUE")
    add("value_job_batch_0", "JOB", job_frames(policy=dict(POLICY, batch=0)), ctx_control(),
        "VALUE")
    add("value_job_batch_pct_101", "JOB", job_frames(policy=dict(POLICY, batch=101)),
        ctx_control(), "VALUE")
    add("value_job_budget_pct_101", "JOB",
        job_frames(policy=dict(POLICY, budget=101, budget_pct=True)), ctx_control(), "VALUE")
    add("value_job_quorum_101", "JOB", job_frames(policy=dict(POLICY, quorum_pct=101)),
        ctx_control(), "VALUE")
    add("value_job_step_deadline_0", "JOB", job_frames(policy=dict(POLICY, step_deadline_s=0)),
        ctx_control(), "VALUE")
    add("value_job_deadline_604801", "JOB",
        job_frames(policy=dict(POLICY, job_deadline_s=604801)), ctx_control(), "VALUE")
    add("value_job_expires_equal_created", "JOB",
        job_frames(created_ms=NOW, expires_ms=NOW), ctx_control(), "VALUE")
    add("value_job_lifetime_above_7_days", "JOB",
        job_frames(created_ms=NOW, expires_ms=NOW + P.JOB_MAX_LIFETIME_MS + 1), ctx_control(),
        "VALUE")
    add("value_job_operator_empty", "JOB", job_frames(operator=""), ctx_control(), "VALUE")
    add("value_dispatch_window_above_1_day", "DISPATCH",
        dispatch_frames(not_before_ms=NOW, expires_ms=NOW + P.DISPATCH_MAX_WINDOW_MS + 1),
        ctx_agent(), "VALUE")
    add("value_dispatch_nonce_15", "DISPATCH", dispatch_frames(nonce=bytes(15)), ctx_agent(),
        "VALUE")
    add("value_dispatch_phase", "DISPATCH", dispatch_frames(phase="Run"), ctx_agent(), "VALUE")
    add("value_request_command_charset", "REQUEST",
        P.encode("REQUEST", request(command="Status")), ctx_control(), "VALUE")
    add("value_request_arg_key_empty", "REQUEST",
        P.encode("REQUEST", request(args={"": 1})), ctx_control(), "VALUE")
    add("value_reply_code_24", "REPLY", P.encode("REPLY", reply(code=24)), ctx_cli(), "VALUE")
    add("value_job_expires_below_created_near_int64_max", "JOB",
        job_frames(created_ms=2**63 - 100, expires_ms=50), ctx_control(), "VALUE")
    add("value_job_created_and_expires_2_63_minus_1", "JOB",
        job_frames(created_ms=2**63 - 1, expires_ms=2**63 - 1), ctx_control(), "VALUE")
    add("value_reply_duplicate_key_in_body", "REPLY",
        unsigned("REPLY", raw_body("REPLY", reply(), body=b"\x82\xa1k\x01\xa1k\x02")),
        ctx_cli(), "VALUE")
    add("value_reply_bad_utf8_in_body", "REPLY",
        unsigned("REPLY", raw_body("REPLY", reply(), body=b"\x91\xa1\xff")), ctx_cli(),
        "VALUE")
    add("value_in_embedded_job", "DISPATCH",
        dispatch_frames(jbody=job_body(targets=[])), ctx_agent(), "VALUE")  # count 0
    add("value_first_failure_in_order", "HELLO",
        P.encode("HELLO", hello(host_id="bad id", capabilities=["c"] * 33)), ctx_coord(),
        "VALUE")
    add("schema_first_failure_in_order", "HELLO",
        P.encode("HELLO", hello(agent_version=1, incarnation=bytes(17))), ctx_coord(),
        "SCHEMA")

    # uint is 0..2^63-1 and int -2^63..2^63-1: a larger positive int is VALUE.
    for big, tag in ((2**63, "2_63"), (2**64 - 1, "2_64_minus_1")):
        add(f"value_hello_sent_ms_{tag}", "HELLO", P.encode("HELLO", hello(sent_ms=big)),
            ctx_coord(), "VALUE")
        add(f"value_welcome_now_ms_{tag}", "WELCOME", P.encode("WELCOME", welcome(now_ms=big)),
            ctx_agent(), "VALUE")
        add(f"value_heartbeat_free_bytes_{tag}", "HEARTBEAT",
            P.encode("HEARTBEAT", heartbeat(disks=[{"path": "/", "free_bytes": big,
                                                    "total_bytes": 1}])), ctx_coord(), "VALUE")
        add(f"value_progress_at_ms_{tag}", "PROGRESS", P.encode("PROGRESS", progress(at_ms=big)),
            ctx_coord(), "VALUE")
        add(f"value_result_duration_ms_{tag}", "RESULT", result_frames(duration_ms=big),
            ctx_coord(), "VALUE")
        add(f"value_result_exit_code_{tag}", "RESULT", result_frames(exit_code=big),
            ctx_coord(), "VALUE")
        add(f"value_ack_ref_type_{tag}", "ACK", P.encode("ACK", ack(ref_type=big)), ctx_agent(),
            "VALUE")
        add(f"value_job_created_ms_{tag}", "JOB", job_frames(created_ms=big, expires_ms=big),
            ctx_control(), "VALUE")
        add(f"value_job_policy_budget_{tag}", "JOB",
            job_frames(policy=dict(POLICY, budget=big)), ctx_control(), "VALUE")
        add(f"value_dispatch_not_before_ms_{tag}", "DISPATCH",
            dispatch_frames(not_before_ms=big, expires_ms=big), ctx_agent(), "VALUE")
        add(f"value_request_id_{tag}", "REQUEST", P.encode("REQUEST", request(request_id=big)),
            ctx_control(), "VALUE")
        add(f"value_request_int_arg_{tag}", "REQUEST",
            P.encode("REQUEST", request(args={"n": big})), ctx_control(), "VALUE")
        add(f"value_reply_request_id_{tag}", "REPLY", P.encode("REPLY", reply(request_id=big)),
            ctx_cli(), "VALUE")
        add(f"value_reply_body_int_{tag}", "REPLY",
            P.encode("REPLY", reply(body={"a": [0, big]})), ctx_cli(), "VALUE")
        add(f"value_in_embedded_job_created_ms_{tag}", "DISPATCH",
            dispatch_frames(jbody=job_body(created_ms=big)), ctx_agent(), "VALUE")
    # The range rule of a uint is VALUE in field order: before a later field's SCHEMA.
    add("value_uint_2_63_before_later_schema", "HEARTBEAT",
        P.encode("HEARTBEAT", heartbeat(seq=2**63, odc=5)), ctx_coord(), "VALUE")
    # Negative ints in a uint field stay SCHEMA, whatever their width.
    add("schema_negative_int64_uint", "WELCOME",
        unsigned("WELCOME", raw_body("WELCOME", welcome(), now_ms=b"\xd3" + b"\x80" + bytes(7))),
        ctx_agent(), "SCHEMA")

    # Cross-field rules, checked when the second field has been read (section 4, JOB).
    add("value_batch_pct_at_batch_pct_before_later_schema", "JOB",
        job_frames(policy=dict(POLICY, batch=101, batch_pct=True, budget="x")), ctx_control(),
        "VALUE")
    add("value_budget_pct_at_budget_pct_before_later_schema", "JOB",
        job_frames(policy=dict(POLICY, budget=101, budget_pct=True, quorum_pct=None)),
        ctx_control(), "VALUE")
    add("value_canary_at_canary_before_later_schema", "JOB",
        job_frames(policy=dict(POLICY, canary=4, batch="x")), ctx_control(), "VALUE")
    add("schema_batch_before_batch_pct_rule", "JOB",
        job_frames(policy=dict(POLICY, batch=101, batch_pct="yes")), ctx_control(), "SCHEMA")
    add("value_expires_rule_at_expires_before_later_schema", "JOB",
        job_frames(created_ms=NOW, expires_ms=NOW - 1, operator=5), ctx_control(), "VALUE")
    add("value_dispatch_window_at_expires_before_later_schema", "DISPATCH",
        dispatch_frames(not_before_ms=NOW, expires_ms=NOW, nonce=7), ctx_agent(),
        "VALUE")
    add("limit_before_expires_rule_in_later_field", "JOB",
        job_frames(created_ms=NOW, expires_ms=NOW + 10, operator="o" * 65), ctx_control(),
        "LIMIT")

    # Map entries: key, then value, entry by entry; a duplicate key at its second occurrence.
    add("value_label_key_before_its_value_limit", "HELLO",
        P.encode("HELLO", hello(labels={"a b": "v" * 129})), ctx_coord(), "VALUE")
    add("value_duplicate_key_before_its_value_limit", "HELLO",
        unsigned("HELLO", raw_body("HELLO", hello(),
                                   labels=b"\x82\xa1k\xa0\xa1k" + pack("v" * 129))),
        ctx_coord(), "VALUE")
    add("limit_value_before_later_duplicate_key", "HELLO",
        unsigned("HELLO", raw_body("HELLO", hello(),
                                   labels=b"\x82\xa1k" + pack("v" * 129) + b"\xa1k\xa0")),
        ctx_coord(), "LIMIT")
    add("value_duplicate_target_before_later_limit", "JOB",
        job_frames(targets=[HOST, HOST, "x" * 65]), ctx_control(), "VALUE")
    add("value_duplicate_request_arg_key", "REQUEST",
        unsigned("REQUEST", raw_body("REQUEST", request(), args=b"\x82\xa1a\xc0\xa1a\xc2")),
        ctx_control(), "VALUE")
    add("value_request_arg_key_nul", "REQUEST",
        P.encode("REQUEST", request(args={"a\x00b": 1})), ctx_control(), "VALUE")
    add("value_request_arg_key_bad_utf8", "REQUEST",
        unsigned("REQUEST", raw_body("REQUEST", request(), args=b"\x81\xa1\xff\xc0")),
        ctx_control(), "VALUE")
    add("value_request_arg_str_nul", "REQUEST",
        P.encode("REQUEST", request(args={"s": "\x00"})), ctx_control(), "VALUE")
    add("value_request_command_empty", "REQUEST", P.encode("REQUEST", request(command="")),
        ctx_control(), "VALUE")
    add("value_reply_body_key_nul", "REPLY", P.encode("REPLY", reply(body={"a\x00": 1})),
        ctx_cli(), "VALUE")
    add("value_reply_body_nested_duplicate_key", "REPLY",
        unsigned("REPLY", raw_body("REPLY", reply(),
                                   body=b"\x91\x83\xa1a\x01\xa1b\x02\xa1a\xcb")),
        ctx_cli(), "SCHEMA")  # the scan (float) comes before any field check
    add("value_reply_body_duplicate_key_before_bin", "REPLY",
        unsigned("REPLY", raw_body("REPLY", reply(), body=b"\x82\xa1a\x01\xa1a\xc4\x00")),
        ctx_cli(), "VALUE")
    add("value_nack_code_24_at_agent", "NACK", P.encode("NACK", nack(code=24)), ctx_agent(),
        "VALUE")
    add("value_ack_ref_type_0", "ACK", P.encode("ACK", ack(ref_type=0)), ctx_agent(), "VALUE")
    add("value_dispatch_job_empty", "DISPATCH", dispatch_frames(jbody=b"", jsig=bytes(96)),
        ctx_agent(), "VALUE")

    # More bounds of section 4 (LIMIT above the maximum, VALUE below the minimum).
    add("limit_ack_job_id_65", "ACK", P.encode("ACK", ack(job_id="j" * 65)), ctx_agent(), "LIMIT")
    add("limit_request_arg_str_65537", "REQUEST",
        P.encode("REQUEST", request(args={"s": "x" * 65537})), ctx_control(), "LIMIT")
    add("limit_reply_message_1025", "REPLY", P.encode("REPLY", reply(message="m" * 1025)),
        ctx_cli(), "LIMIT")
    add("value_hello_agent_version_empty", "HELLO", P.encode("HELLO", hello(agent_version="")),
        ctx_coord(), "VALUE")
    add("value_dispatch_job_sig_95", "DISPATCH", dispatch_frames(jsig=bytes(95)), ctx_agent(),
        "VALUE")

    # ---- 12 UNKNOWN_KEY ----
    add("unknown_key_job", "JOB", job_frames(key=K_OTHER), ctx_control(), "UNKNOWN_KEY")
    add("unknown_key_result_not_enrolled", "RESULT", result_frames(key=K_OTHER), ctx_coord(),
        "UNKNOWN_KEY")
    add("unknown_key_dispatch_coordinator", "DISPATCH", dispatch_frames(key=K_OP), ctx_agent(),
        "UNKNOWN_KEY")
    jb = job_body()
    add("unknown_key_dispatch_job_operator", "DISPATCH",
        dispatch_frames(jbody=jb, jsig=P.sign("JOB", jb, K_COORD)), ctx_agent(), "UNKNOWN_KEY")
    fr = job_frames(key=K_OTHER)
    add("unknown_key_before_bad_signature", "JOB", fr[:2] + [fr[2][:95] + b"\x00"] + fr[3:],
        ctx_control(), "UNKNOWN_KEY")
    body = b"\xc1"
    add("unknown_key_before_decoding", "JOB", signed("JOB", body, K_OTHER), ctx_control(),
        "UNKNOWN_KEY")

    # ---- 13 BAD_SIGNATURE ----
    fr = job_frames()
    sig = bytearray(fr[2])
    sig[40] ^= 0x01
    add("bad_signature_flipped_bit", "JOB", fr[:2] + [bytes(sig)] + fr[3:], ctx_control(),
        "BAD_SIGNATURE")
    add("bad_signature_body_altered", "JOB",
        [fr[0], P.encode_body("JOB", job(reason="changed")), fr[2], fr[3]], ctx_control(),
        "BAD_SIGNATURE")
    rb = P.encode_body("RESULT", result())
    add("bad_signature_domain_job_as_result", "RESULT",
        [P.header(P.RESULT), rb, P.sign("JOB", rb, K_AGENT)], ctx_coord(), "BAD_SIGNATURE")
    jb = job_body()
    add("bad_signature_domain_dispatch_as_job", "JOB",
        [P.header(P.JOB), jb, P.sign("DISPATCH", jb, K_OP), fr[3]], ctx_control(),
        "BAD_SIGNATURE")
    add("bad_signature_before_decoding", "JOB", [P.header(P.JOB), b"\xc1", fr[2], fr[3]],
        ctx_control(), "BAD_SIGNATURE")
    jb_altered = job_body(targets=[HOST, "web-02", "db-01", "evil-01"])
    add("bad_signature_dispatch_job_altered", "DISPATCH",
        dispatch_frames(jbody=jb_altered, jsig=P.sign("JOB", job_body(), K_OP)), ctx_agent(),
        "BAD_SIGNATURE")
    dfr = dispatch_frames()
    dbody = bytearray(dfr[1])
    dbody[-1] ^= 0x01  # last byte of the nonce
    add("bad_signature_dispatch_body_altered", "DISPATCH", [dfr[0], bytes(dbody), dfr[2]],
        ctx_agent(), "BAD_SIGNATURE")
    add("bad_signature_dispatch_job_domain", "DISPATCH",
        dispatch_frames(jbody=jb, jsig=P.sign("DISPATCH", jb, K_OP)), ctx_agent(),
        "BAD_SIGNATURE")
    add("bad_signature_result_wrong_agent_sig", "RESULT",
        [P.header(P.RESULT), rb, bytes(K_AGENT.verify_key) + P.sign("RESULT", rb, K_OTHER)[32:]],
        ctx_coord(), "BAD_SIGNATURE")

    # ---- 14 EXPIRED ----
    add("expired_dispatch", "DISPATCH",
        dispatch_frames(not_before_ms=NOW - 200000, expires_ms=NOW - SKEW - 1), ctx_agent(),
        "EXPIRED")
    add("expired_dispatch_not_yet", "DISPATCH",
        dispatch_frames(not_before_ms=NOW + SKEW + 1, expires_ms=NOW + 600000), ctx_agent(),
        "EXPIRED")
    jb = job_body(created_ms=NOW - 7200000, expires_ms=NOW - SKEW - 1)
    add("expired_dispatch_job_expired", "DISPATCH", dispatch_frames(jbody=jb), ctx_agent(),
        "EXPIRED")
    jb = job_body(created_ms=NOW + SKEW + 1, expires_ms=NOW + 3600000)
    add("expired_dispatch_job_created_in_future", "DISPATCH", dispatch_frames(jbody=jb),
        ctx_agent(), "EXPIRED")
    add("expired_job_at_coordinator", "JOB",
        job_frames(created_ms=NOW - 7200000, expires_ms=NOW - SKEW - 1), ctx_control(), "EXPIRED")
    add("expired_job_created_in_future_at_coordinator", "JOB",
        job_frames(created_ms=NOW + SKEW + 1, expires_ms=NOW + 3600000), ctx_control(), "EXPIRED")
    add("expired_before_unknown_action", "DISPATCH",
        dispatch_frames(jbody=job_body(action="reboot", params={}), expires_ms=NOW - SKEW - 1,
                        not_before_ms=NOW - 100000),
        ctx_agent(), "EXPIRED")

    add("expired_job_near_int64_max", "JOB",
        job_frames(created_ms=2**63 - 1000, expires_ms=2**63 - 1), ctx_control(), "EXPIRED")
    add("expired_dispatch_near_int64_max", "DISPATCH",
        dispatch_frames(not_before_ms=2**63 - 1000, expires_ms=2**63 - 1), ctx_agent(),
        "EXPIRED")
    add("expired_dispatch_at_int64_max_now", "DISPATCH",
        dispatch_frames(not_before_ms=NOW, expires_ms=NOW + 1000),
        ctx_agent(now_ms=2**63 - 1), "EXPIRED")

    add("expired_before_unknown_action_at_control", "JOB",
        job_frames(action="reboot", params={}, created_ms=NOW - 7200000,
                   expires_ms=NOW - SKEW - 1), ctx_control(), "EXPIRED")
    add("expired_before_invalid_param_at_control", "JOB",
        job_frames(params={"to": "2.3.0"}, created_ms=NOW + SKEW + 1,
                   expires_ms=NOW + 3600000), ctx_control(), "EXPIRED")

    # ---- 15 REPLAYED ----
    add("replayed_nonce", "DISPATCH", dispatch_frames(),
        ctx_agent(seen_nonces=[NONCE2.hex(), NONCE.hex()]), "REPLAYED")
    add("replayed_before_busy", "DISPATCH", dispatch_frames(),
        ctx_agent(seen_nonces=[NONCE.hex()], busy_job="job-1"), "REPLAYED")

    # ---- which step wins (section 7: the earliest; step 6 reads every DISPATCH field before
    # step 7 looks inside job and job_sig) ----
    good = dispatch_frames()
    add("order_bad_signature_before_malformed", "DISPATCH",
        [good[0], b"\xc1", P.sign("DISPATCH", good[1], K_COORD)], ctx_agent(), "BAD_SIGNATURE")
    add("order_malformed_once_the_signature_holds", "DISPATCH", signed("DISPATCH", b"\xc1", K_COORD),
        ctx_agent(), "MALFORMED")
    broken = bytearray(P.sign("JOB", job_body(), K_OP))
    broken[40] ^= 0x01
    add("order_value_host_id_before_bad_job_sig", "DISPATCH",
        dispatch_frames(jsig=bytes(broken), host_id="-web-01",
                        target_proof=proof_for(job()["targets"], HOST)), ctx_agent(), "VALUE")
    add("order_bad_job_sig_before_not_target", "DISPATCH",
        dispatch_frames(jsig=bytes(broken), host_id="web-02"), ctx_agent(), "BAD_SIGNATURE")
    add("order_invalid_param_before_replayed_and_busy", "DISPATCH",
        dispatch_frames(jbody=job_body(action="start", params={"to": "4.2.0", "lines": "5"})),
        ctx_agent(seen_nonces=[NONCE.hex()], busy_job="job-1"), "INVALID_PARAM")

    # ---- 16 NOT_TARGET ----
    add("not_target_other_host", "DISPATCH", dispatch_frames(host_id="web-02"), ctx_agent(),
        "NOT_TARGET")
    jb = job_body(targets=["web-02", "db-01"])
    add("not_target_not_in_job_targets", "DISPATCH", dispatch_frames(jbody=jb), ctx_agent(),
        "NOT_TARGET")
    add("not_target_before_expired", "DISPATCH",
        dispatch_frames(host_id="web-02", not_before_ms=NOW - 200000, expires_ms=NOW - 100000),
        ctx_agent(), "NOT_TARGET")

    # ---- 17 UNKNOWN_ACTION ----
    add("unknown_action_dispatch", "DISPATCH",
        dispatch_frames(jbody=job_body(action="reboot", params={})), ctx_agent(),
        "UNKNOWN_ACTION")
    add("unknown_action_job_at_coordinator", "JOB", job_frames(action="shell", params={}),
        ctx_control(), "UNKNOWN_ACTION")

    # ---- 18 INVALID_PARAM ----
    def ip(name, params, action="rollback", phase="run"):
        jbd = job_body(action=action, params=params)
        add("invalid_param_" + name, "DISPATCH", dispatch_frames(jbody=jbd, phase=phase),
            ctx_agent(), "INVALID_PARAM")

    ok_p = {"to": "2.3.0", "backup": "/var/backups/odc"}
    ip("path_double_slash", dict(ok_p, backup="/var//backups"))
    ip("path_dotdot", dict(ok_p, backup="/var/backups/../etc"))
    ip("path_dot", dict(ok_p, backup="/var/./backups"))
    ip("path_trailing_slash", dict(ok_p, backup="/var/backups/"))
    ip("path_relative", dict(ok_p, backup="var/backups"))
    ip("path_control_byte", dict(ok_p, backup="/var/\tb"))
    ip("path_del_byte", dict(ok_p, backup="/var/\x7fb"))
    ip("path_final_dotdot", dict(ok_p, backup="/var/.."))
    ip("path_empty", dict(ok_p, backup=""))
    ip("tag_first_dot", dict(ok_p, to=".2"))
    ip("tag_129", dict(ok_p, to="a" * 129))
    ip("tag_empty", dict(ok_p, to=""))
    ip("missing_required", {"to": "2.3.0"})
    ip("not_taken", dict(ok_p, frob="true"))
    ip("force_not_bool", dict(ok_p, force="yes"))
    ip("bool_yes", dict(ok_p, dry_run="yes"))
    ip("bool_capital", dict(ok_p, dry_run="True"))
    ip("logs_lines_leading_zero", {"lines": "010"}, action="logs")
    ip("logs_lines_zero", {"lines": "0"}, action="logs")
    ip("logs_lines_10001", {"lines": "10001"}, action="logs")
    ip("logs_lines_sign", {"lines": "+5"}, action="logs")
    ip("name_leading_dot", {"name": ".hidden"}, action="backup")
    ip("name_slash", {"name": "a/b"}, action="backup")
    ip("undo_of_not_id", {"of": "_job"}, action="undo")
    ip("prune_dry_run_not_bool", {"dry_run": "1"}, action="prune")
    ip("prune_takes_no_keep", {"keep": "1"}, action="prune")
    ip("prune_phase_preflight_not_allowed", {}, action="prune", phase="preflight")
    ip("ping_takes_no_params", {"x": "1"}, action="ping")
    ip("phase_preflight_not_allowed", {}, action="ping", phase="preflight")
    ip("phase_unknown", dict(ok_p), phase="backup")
    add("invalid_param_job_at_coordinator", "JOB", job_frames(params={"to": "2.3.0"}),
        ctx_control(), "INVALID_PARAM")

    # ---- 19 BUSY ----
    add("busy_other_job", "DISPATCH", dispatch_frames(), ctx_agent(busy_job="job-6"), "BUSY")

    # ---- 20 DENIED ----
    add("denied_heartbeat_other_host", "HEARTBEAT",
        P.encode("HEARTBEAT", heartbeat(host_id="web-02")), ctx_coord(), "DENIED")
    add("denied_hello_other_host", "HELLO", P.encode("HELLO", hello(host_id="web-02")),
        ctx_coord(), "DENIED")
    add("denied_progress_other_host", "PROGRESS",
        P.encode("PROGRESS", progress(host_id="db-01")), ctx_coord(), "DENIED")
    add("denied_result_other_host", "RESULT", result_frames(host_id="web-02"), ctx_coord(),
        "DENIED")

    target_commitment_cases(add, valid)
    merkle_cases(cases)
    return cases


def target_commitment_cases(add, valid):
    """Section 2's target commitment: the JOB body's `targets` [count, root], the JOB
    message's frame 3 (the target list) and the DISPATCH's `target_proof`."""
    c = ctx_control
    a = ctx_agent
    default = job()["targets"]  # [HOST, "web-02", "db-01"]
    root = P.merkle_root(default)

    # ---- valid ----
    valid("job_valid_single_target", "JOB", c(),
          job(action="ping", params={}, targets=["h1"],
              policy=dict(POLICY, canary=1, batch=1, batch_pct=False)), key=K_OP)
    valid("job_valid_canary_equals_count", "JOB", c(),
          job(targets=[HOST, "web-02"], policy=dict(POLICY, canary=2)), key=K_OP)
    big = hosts(10000)
    valid("job_valid_10000_targets", "JOB", c(), job(action="ping", params={}, targets=big),
          key=K_OP)
    valid("job_valid_max_length_ids", "JOB", c(),
          job(targets=["a" * 64, "B" * 63 + "9", "0.-_" * 16]), key=K_OP)
    f = job()
    valid("job_valid_non_shortest_target_list", "JOB", c(), f,
          frames=job_frames_list(b"\xdc\x00\x03" + b"".join(
              b"\xd9" + bytes([len(x)]) + x.encode() for x in default)))
    # DISPATCH: the proof of each kind of position.
    jb = job_body(action="ping", params={}, targets=[HOST])
    valid("dispatch_valid_single_target_empty_proof", "DISPATCH", a(), dispatch(jbody=jb),
          key=K_COORD)
    five = ["db-01", "db-02", "web-02", "web-03", HOST]
    jb = job_body(targets=five)
    valid("dispatch_valid_last_of_5_targets", "DISPATCH", a(), dispatch(jbody=jb), key=K_COORD)
    jb = job_body(targets=["db-01", "db-02", HOST, "web-03", "web-04", "web-05", "web-06"])
    valid("dispatch_valid_third_of_7_targets", "DISPATCH", a(), dispatch(jbody=jb),
          key=K_COORD)
    jb = job_body(action="ping", params={}, targets=big[:9999] + [HOST])
    valid("dispatch_valid_10000_targets_last", "DISPATCH", a(), dispatch(jbody=jb),
          key=K_COORD)
    jb = job_body(action="ping", params={}, targets=big[:5000] + [HOST] + big[5000:9999])
    valid("dispatch_valid_10000_targets_middle", "DISPATCH", a(), dispatch(jbody=jb),
          key=K_COORD)

    # ---- the JOB body's targets field ----
    def job_raw_targets(raw, **over):
        body = raw_body("JOB", job(**over), targets=raw)
        return [P.header(P.JOB), body, P.sign("JOB", body, K_OP), default_target_list()]

    add("schema_job_targets_as_id_list", "JOB",
        job_raw_targets(pack(default)), c(), "SCHEMA")  # the former form of field 3
    add("schema_job_targets_id_for_count", "JOB",
        job_raw_targets(pack([HOST, root])), c(), "SCHEMA")
    add("schema_job_targets_one_element", "JOB", job_raw_targets(pack([3])), c(), "SCHEMA")
    add("schema_job_targets_three_elements", "JOB", job_raw_targets(pack([3, root, 0])), c(),
        "SCHEMA")
    add("schema_job_targets_map", "JOB",
        job_raw_targets(pack({"count": 3, "root": root})), c(), "SCHEMA")
    add("schema_job_targets_count_negative", "JOB", job_raw_targets(pack([-1, root])), c(),
        "SCHEMA")
    add("schema_job_targets_root_hex_str", "JOB", job_raw_targets(pack([3, root.hex()])), c(),
        "SCHEMA")
    add("value_job_targets_count_0", "JOB", job_raw_targets(pack([0, root])), c(), "VALUE")
    add("value_job_targets_count_2_63", "JOB",
        job_raw_targets(b"\x92\xcf" + (2**63).to_bytes(8, "big") + pack(root)), c(), "VALUE")
    add("value_job_targets_root_31", "JOB", job_raw_targets(pack([3, root[:31]])), c(),
        "VALUE")
    add("limit_job_targets_root_33", "JOB", job_raw_targets(pack([3, root + b"\x00"])), c(),
        "LIMIT")
    add("value_job_targets_count_before_root_limit", "JOB",
        job_raw_targets(pack([10001, root + b"\x00"])), c(), "VALUE")
    add("schema_job_targets_root_before_later_value", "JOB",
        job_raw_targets(pack([3, None]), operator=""), c(), "SCHEMA")
    add("value_job_canary_above_signed_count", "JOB",
        forged_job_frames(2, root, default, policy=dict(POLICY, canary=3)), c(), "VALUE")

    # ---- frame 3: size (step 4), before the signature (each case is 2 MB of hex: two) ----
    add("too_big_target_list_1048577_before_unknown_key", "JOB",
        job_frames_list(b"\x00" * 1048577, key=K_OTHER), c(), "TOO_BIG")
    add("trailing_target_list_of_exactly_1048576", "JOB",
        job_frames_list(default_target_list().ljust(1048576, b"\x00")), c(), "TRAILING")

    # ---- frame 3 is read after the signature and the body ----
    add("unknown_key_before_target_list", "JOB", job_frames_list(b"\xc1", key=K_OTHER), c(),
        "UNKNOWN_KEY")
    fr = job_frames_list(b"\xc1")
    add("bad_signature_before_target_list", "JOB",
        [fr[0], fr[1], fr[2][:40] + bytes([fr[2][40] ^ 1]) + fr[2][41:], fr[3]], c(),
        "BAD_SIGNATURE")
    fr = job_frames(operator=5)
    add("schema_body_before_malformed_target_list", "JOB", fr[:3] + [b"\xc1"], c(), "SCHEMA")
    fr = job_frames(operator="")
    add("value_body_before_target_list_limit", "JOB", fr[:3] + [pack(["x" * 65])], c(),
        "VALUE")
    # The list is not signed: changing it is caught by the commitment, not the signature.
    add("value_target_list_changed_after_signing", "JOB",
        job_frames_list([HOST, "web-02", "evil-01"]), c(), "VALUE")

    # ---- frame 3: the structural scan ----
    add("malformed_target_list_empty_frame", "JOB", job_frames_list(b""), c(), "MALFORMED")
    add("malformed_target_list_c1", "JOB", job_frames_list(b"\xc1"), c(), "MALFORMED")
    tl = default_target_list()
    add("malformed_target_list_truncated", "JOB", job_frames_list(tl[:-1]), c(), "MALFORMED")
    add("malformed_target_list_count_above_bytes", "JOB", job_frames_list(b"\x9f\xa1a"), c(),
        "MALFORMED")
    add("trailing_target_list", "JOB", job_frames_list(tl + b"\xc0"), c(), "TRAILING")
    add("trailing_target_list_two_lists", "JOB", job_frames_list(tl + tl), c(), "TRAILING")
    add("depth_target_list_7", "JOB", job_frames_list(b"\x91" * 6 + b"\x90"), c(), "DEPTH")
    add("schema_target_list_float", "JOB", job_frames_list(b"\x91\xcb" + bytes(8)), c(),
        "SCHEMA")
    add("limit_target_list_scan_array_100001", "JOB",
        job_frames_list(array_header(100001) + b"\x00" * 100001), c(), "LIMIT")
    add("limit_target_list_str32_claims_4g", "JOB",
        job_frames_list(b"\x91\xdb\xff\xff\xff\xff"), c(), "LIMIT")

    # ---- frame 3: the list's field rules, as the field target_list ----
    add("schema_target_list_map", "JOB", job_frames_list(pack({HOST: 0})), c(), "SCHEMA")
    add("schema_target_list_str", "JOB", job_frames_list(pack(HOST)), c(), "SCHEMA")
    add("schema_target_list_nil", "JOB", job_frames_list(b"\xc0"), c(), "SCHEMA")
    add("schema_target_list_int_element", "JOB", job_frames_list([HOST, 7, "db-01"]), c(),
        "SCHEMA")
    add("schema_target_list_bin_element", "JOB", job_frames_list([HOST, b"web-02", "db-01"]),
        c(), "SCHEMA")
    add("schema_target_list_nested_list", "JOB", job_frames_list([HOST, ["web-02"], "db-01"]),
        c(), "SCHEMA")
    add("value_target_list_empty", "JOB", job_frames_list([]), c(), "VALUE")
    add("limit_target_list_id_65", "JOB", job_frames_list([HOST, "x" * 65, "db-01"]), c(),
        "LIMIT")
    add("value_target_list_id_empty", "JOB", job_frames_list([HOST, "", "db-01"]), c(),
        "VALUE")
    add("value_target_list_id_charset", "JOB", job_frames_list([HOST, "web 02", "db-01"]), c(),
        "VALUE")
    add("value_target_list_id_bad_utf8", "JOB",
        job_frames_list(b"\x93" + pack(HOST) + b"\xa2\xc3\x28" + pack("db-01")), c(), "VALUE")
    add("value_target_list_duplicate_before_later_limit", "JOB",
        job_frames(targets=[HOST, HOST, "x" * 65]), c(), "VALUE")
    add("limit_target_list_element_before_later_duplicate", "JOB",
        job_frames(targets=[HOST, "x" * 65, HOST]), c(), "LIMIT")
    add("schema_target_list_element_before_count_mismatch", "JOB",
        job_frames_list([HOST, 1]), c(), "SCHEMA")
    add("limit_target_list_element_before_count_mismatch", "JOB",
        job_frames_list([HOST, "x" * 65]), c(), "LIMIT")

    # ---- frame 3 against the signed commitment ----
    add("value_target_list_shorter_than_count", "JOB", job_frames_list(default[:2]), c(),
        "VALUE")
    add("value_target_list_longer_than_count", "JOB", job_frames_list(default + ["db-02"]),
        c(), "VALUE")
    add("value_target_list_reordered", "JOB",
        job_frames_list([default[1], default[0], default[2]]), c(), "VALUE")
    add("value_target_list_root_of_another_list", "JOB",
        forged_job_frames(3, P.merkle_root(["a", "b", "c"]), default), c(), "VALUE")
    add("value_target_list_count_mismatch_root_right", "JOB",
        forged_job_frames(2, root, default), c(), "VALUE")
    add("value_target_list_root_zero", "JOB", forged_job_frames(3, bytes(32), default), c(),
        "VALUE")
    # RFC 9162's leaf/node prefixes matter: a root hashed without them is refused.
    plain = hashlib.sha256(hashlib.sha256(hashlib.sha256(HOST.encode()).digest()
                                          + hashlib.sha256(b"web-02").digest()).digest()
                           + hashlib.sha256(b"db-01").digest()).digest()
    add("value_target_list_root_without_prefixes", "JOB", forged_job_frames(3, plain, default),
        c(), "VALUE")
    add("value_target_list_single_root_is_leaf_not_id_hash", "JOB",
        forged_job_frames(1, hashlib.sha256(b"h1").digest(), ["h1"],
                          policy=dict(POLICY, canary=0)), c(), "VALUE")
    add("value_target_list_mismatch_before_expired", "JOB",
        job_frames_list(default[:2], created_ms=NOW - 7200000, expires_ms=NOW - SKEW - 1), c(),
        "VALUE")
    add("malformed_target_list_before_expired", "JOB",
        job_frames_list(b"", created_ms=NOW - 7200000, expires_ms=NOW - SKEW - 1), c(),
        "MALFORMED")
    add("value_target_list_mismatch_before_unknown_action", "JOB",
        job_frames_list(default[:2], action="shell", params={}), c(), "VALUE")
    add("value_target_list_duplicate_before_invalid_param", "JOB",
        job_frames(targets=[HOST, HOST], params={"to": "2.3.0"}), c(), "VALUE")

    # ---- DISPATCH field 7: types and bounds (step 6) ----
    def disp_raw_proof(raw, **over):
        f = dispatch(**over)
        body = raw_body("DISPATCH", f, target_proof=raw)
        return [P.header(P.DISPATCH), body, P.sign("DISPATCH", body, K_COORD)]

    good = proof_for(default, HOST)  # index 0, 2 hashes
    add("schema_dispatch_without_target_proof", "DISPATCH",
        signed("DISPATCH", array_header(7) + b"".join(raw_fields("DISPATCH", dispatch())[:7]),
               K_COORD), a(), "SCHEMA")
    add("schema_dispatch_target_proof_nil", "DISPATCH", disp_raw_proof(b"\xc0"), a(), "SCHEMA")
    add("schema_dispatch_target_proof_map", "DISPATCH",
        disp_raw_proof(pack({"index": 0, "path": good["path"]})), a(), "SCHEMA")
    add("schema_dispatch_target_proof_one_element", "DISPATCH", disp_raw_proof(pack([0])), a(),
        "SCHEMA")
    add("schema_dispatch_target_proof_three_elements", "DISPATCH",
        disp_raw_proof(pack([0, good["path"], 3])), a(), "SCHEMA")
    add("schema_dispatch_proof_index_negative", "DISPATCH",
        disp_raw_proof(pack([-1, good["path"]])), a(), "SCHEMA")
    add("schema_dispatch_proof_index_bool", "DISPATCH",
        disp_raw_proof(pack([False, good["path"]])), a(), "SCHEMA")
    add("value_dispatch_proof_index_2_63", "DISPATCH",
        disp_raw_proof(b"\x92\xcf" + (2**63).to_bytes(8, "big") + pack(good["path"])), a(),
        "VALUE")
    add("schema_dispatch_proof_path_not_array", "DISPATCH",
        disp_raw_proof(pack([0, good["path"][0]])), a(), "SCHEMA")
    add("schema_dispatch_proof_hash_hex_str", "DISPATCH",
        disp_raw_proof(pack([0, [h.hex() for h in good["path"]]])), a(), "SCHEMA")
    add("value_dispatch_proof_hash_31", "DISPATCH",
        dispatch_frames(target_proof={"index": 0, "path": [good["path"][0][:31],
                                                            good["path"][1]]}), a(), "VALUE")
    add("limit_dispatch_proof_hash_33", "DISPATCH",
        dispatch_frames(target_proof={"index": 0, "path": [good["path"][0] + b"\x00",
                                                            good["path"][1]]}), a(), "LIMIT")
    add("value_dispatch_proof_hash_empty", "DISPATCH",
        dispatch_frames(target_proof={"index": 0, "path": [b""]}), a(), "VALUE")
    add("limit_dispatch_proof_path_33", "DISPATCH",
        dispatch_frames(target_proof={"index": 0, "path": [bytes(32)] * 33}), a(), "LIMIT")
    add("limit_dispatch_proof_path_33_before_hash_value", "DISPATCH",
        dispatch_frames(target_proof={"index": 0, "path": [b""] * 33}), a(), "LIMIT")
    add("value_dispatch_proof_hash_before_later_limit", "DISPATCH",
        dispatch_frames(target_proof={"index": 0, "path": [b"", bytes(33)]}), a(), "VALUE")
    add("schema_dispatch_proof_before_job_signature", "DISPATCH",
        disp_raw_proof(pack([-1, []]), jsig=bytes(96)), a(), "SCHEMA")
    add("limit_dispatch_proof_before_unknown_job_key", "DISPATCH",
        dispatch_frames(jsig=P.sign("JOB", job_body(), K_OTHER),
                        target_proof={"index": 0, "path": [bytes(32)] * 33}), a(), "LIMIT")
    add("value_embedded_job_before_bad_proof", "DISPATCH",
        dispatch_frames(jbody=job_body(operator=""),
                        target_proof={"index": 7, "path": []}), a(), "VALUE")

    # ---- step 9: the proof must put the agent's id at index of count ids under root ----
    add("not_target_proof_index_equals_count", "DISPATCH",
        dispatch_frames(target_proof={"index": 3, "path": good["path"]}), a(), "NOT_TARGET")
    add("not_target_proof_index_2_63_minus_1", "DISPATCH",
        dispatch_frames(target_proof={"index": 2**63 - 1, "path": good["path"]}), a(),
        "NOT_TARGET")
    add("not_target_proof_wrong_index", "DISPATCH",
        dispatch_frames(target_proof={"index": 1, "path": good["path"]}), a(), "NOT_TARGET")
    add("not_target_proof_hash_flipped", "DISPATCH",
        dispatch_frames(target_proof={"index": 0, "path": [
            good["path"][0], good["path"][1][:31] + bytes([good["path"][1][31] ^ 1])]}), a(),
        "NOT_TARGET")
    add("not_target_proof_hashes_swapped", "DISPATCH",
        dispatch_frames(target_proof={"index": 0, "path": good["path"][::-1]}), a(),
        "NOT_TARGET")
    add("not_target_proof_too_short", "DISPATCH",
        dispatch_frames(target_proof={"index": 0, "path": good["path"][:1]}), a(), "NOT_TARGET")
    add("not_target_proof_extra_hash", "DISPATCH",
        dispatch_frames(target_proof={"index": 0, "path": good["path"] + [bytes(32)]}), a(),
        "NOT_TARGET")
    add("not_target_proof_empty_path", "DISPATCH",
        dispatch_frames(target_proof={"index": 0, "path": []}), a(), "NOT_TARGET")
    add("not_target_proof_of_another_host", "DISPATCH",
        dispatch_frames(target_proof=proof_for(default, "web-02")), a(), "NOT_TARGET")
    add("not_target_proof_for_another_job", "DISPATCH",
        dispatch_frames(target_proof=proof_for([HOST, "x-1", "x-2"], HOST)), a(),
        "NOT_TARGET")
    add("not_target_proof_root_as_path", "DISPATCH",
        dispatch_frames(target_proof={"index": 0, "path": [root]}), a(), "NOT_TARGET")
    jb = job_body(action="ping", params={}, targets=[HOST])
    add("not_target_single_target_extra_hash", "DISPATCH",
        dispatch_frames(jbody=jb, target_proof={"index": 0, "path": [bytes(32)]}), a(),
        "NOT_TARGET")
    add("not_target_single_target_index_1", "DISPATCH",
        dispatch_frames(jbody=jb, target_proof={"index": 1, "path": []}), a(), "NOT_TARGET")
    jb = job_body(targets=five)
    add("not_target_last_of_5_proof_of_4", "DISPATCH",
        dispatch_frames(jbody=jb, target_proof={"index": 3, "path": P.merkle_path(4, five)}),
        a(), "NOT_TARGET")
    add("not_target_last_of_5_claimed_count_8", "DISPATCH",
        dispatch_frames(jbody=job_body(targets=five + ["x-1", "x-2", "x-3"]),
                        target_proof={"index": 4, "path": P.merkle_path(4, five)}), a(),
        "NOT_TARGET")
    jb = job_body(targets=["web-02", "db-01"])
    add("not_target_proof_of_host_absent_from_list", "DISPATCH",
        dispatch_frames(jbody=jb, target_proof={"index": 0, "path": [P.merkle_leaf("db-01")]}),
        a(), "NOT_TARGET")
    add("not_target_proof_path_32_hashes", "DISPATCH",
        dispatch_frames(target_proof={"index": 0, "path": [bytes(32)] * 32}), a(), "NOT_TARGET")
    add("not_target_bad_proof_before_expired", "DISPATCH",
        dispatch_frames(target_proof={"index": 1, "path": good["path"]},
                        not_before_ms=NOW - 200000, expires_ms=NOW - 100000), a(), "NOT_TARGET")
    add("not_target_bad_proof_before_unknown_action", "DISPATCH",
        dispatch_frames(jbody=job_body(action="reboot", params={}),
                        target_proof={"index": 0, "path": []}), a(), "NOT_TARGET")
    add("not_target_bad_proof_before_replayed", "DISPATCH",
        dispatch_frames(target_proof={"index": 2, "path": good["path"]}),
        a(seen_nonces=[NONCE.hex()]), "NOT_TARGET")
    add("not_target_host_id_before_proof", "DISPATCH",
        dispatch_frames(host_id="web-02", target_proof=proof_for(default, "web-02")), a(),
        "NOT_TARGET")
    last = big[:9999] + [HOST]
    jb = job_body(targets=last)
    add("not_target_10000_targets_proof_of_9998", "DISPATCH",
        dispatch_frames(jbody=jb, target_proof={"index": 9999, "path": P.merkle_path(9998, last)}),
        a(), "NOT_TARGET")


MERKLE_LISTS = [
    ("merkle_spec_example_h1_h2_h3", ["h1", "h2", "h3"]),
    ("merkle_1", ["web-01"]),
    ("merkle_2", ["web-01", "web-02"]),
    ("merkle_4", hosts(4)),
    ("merkle_5", hosts(5)),
    ("merkle_6", hosts(6)),
    ("merkle_7", hosts(7)),
    ("merkle_8", hosts(8)),
    ("merkle_9", hosts(9)),
    ("merkle_13", hosts(13)),
    ("merkle_16", hosts(16)),
    ("merkle_17", hosts(17)),
    ("merkle_31", hosts(31)),
    ("merkle_33", hosts(33)),
    ("merkle_100", hosts(100)),
    ("merkle_max_length_ids", ["a" * 64, "B" * 64, "0.-_" * 16, "z"]),
]


def merkle_case(name, ids) -> dict:
    tree = P.MerkleTree(ids)
    return {
        "name": name,
        "merkle": True,
        "ids": list(ids),
        "root_hex": tree.root.hex(),
        "proofs": [[h.hex() for h in tree.path(i)] for i in range(len(ids))],
    }


def merkle_cases(cases):
    for name, ids in MERKLE_LISTS:
        cases.append(merkle_case(name, ids))


def check_merkle_case(case: dict) -> str | None:
    """None when the case agrees with section 2's recursive definitions and verification."""
    ids = case["ids"]
    want_root = P.mth_reference(ids).hex()
    if case["root_hex"] != want_root:
        return f"root {case['root_hex']}, MTH gives {want_root}"
    if len(case["proofs"]) != len(ids):
        return f"{len(case['proofs'])} proofs for {len(ids)} ids"
    root = bytes.fromhex(case["root_hex"])
    for i, proof in enumerate(case["proofs"]):
        want = [h.hex() for h in P.path_reference(i, ids)]
        if proof != want:
            return f"proof {i}: {proof}, PATH gives {want}"
        if not P.merkle_verify(ids[i], i, len(ids), root, [bytes.fromhex(h) for h in proof]):
            return f"proof {i} does not verify"
    return None


def check_case(case: dict) -> str | None:
    """None when odcproto.receive agrees with the case, else a description."""
    if case.get("merkle"):
        return check_merkle_case(case)
    frames = [bytes.fromhex(h) for h in case["frames_hex"]]
    ctx = copy.deepcopy(case["context"])
    try:
        got = P.receive(frames, ctx)
    except P.ProtoError as e:
        if case["valid"]:
            return f"expected valid, got {e.code_name}: {e}"
        if e.code_name != case["error"]:
            return f"expected {case['error']}, got {e.code_name}: {e}"
        return None
    if not case["valid"]:
        return f"expected {case['error']}, got valid"
    if got != case["decoded"]:
        return f"decoded differs:\n  got      {got!r}\n  expected {case['decoded']!r}"
    return None


def check_coverage(cases: list[dict]) -> list[str]:
    problems = []
    names = [c["name"] for c in cases]
    if len(set(names)) != len(names):
        problems.append("duplicate case names")
    if not any(c.get("merkle") for c in cases):
        problems.append("no Merkle case")
    cases = [c for c in cases if not c.get("merkle")]
    valid_types = {c["type"] for c in cases if c["valid"]}
    for t in P.TYPE_CODES:
        if t not in valid_types:
            problems.append(f"no valid case for {t}")
    errors = {c["error"] for c in cases if not c["valid"]}
    for code in range(1, 21):
        if P.ERROR_NAMES[code] not in errors:
            problems.append(f"no invalid case for {P.ERROR_NAMES[code]}")
    return problems


def main(argv):
    if len(argv) != 2:
        print(f"usage: {argv[0]} OUT.json", file=sys.stderr)
        return 2
    cases = build_cases()
    failures = [(c["name"], p) for c in cases if (p := check_case(c)) is not None]
    failures += [("coverage", p) for p in check_coverage(cases)]
    for name, p in failures:
        print(f"{name}: {p}", file=sys.stderr)
    assert not failures, f"{len(failures)} generated cases disagree with odcproto.receive"
    with open(argv[1], "w") as f:
        json.dump(cases, f, indent=1)
        f.write("\n")
    print(f"{len(cases)} cases written to {argv[1]}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
