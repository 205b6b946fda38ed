"""Self-checks of the independent Python implementation (odcproto.py), without the C side."""

from __future__ import annotations

import collections
import copy
import json
import os
import random
import subprocess
import sys
import tracemalloc

import msgpack
import nacl.signing
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))

import gen_cases as G  # noqa: E402
import odcproto as P  # noqa: E402

NOW = G.NOW
HOST = G.HOST


def code_of(frames, context=None) -> str:
    with pytest.raises(P.ProtoError) as info:
        P.receive(frames, copy.deepcopy(context))
    return info.value.code_name


def err(frames, context=None) -> P.ProtoError:
    with pytest.raises(P.ProtoError) as info:
        P.receive(frames, copy.deepcopy(context))
    return info.value


def unsigned(type_name, body):
    return [P.header(P.TYPE_CODES[type_name]), body]


# ------------------------------------------------------------------------------------------
# Constants


def test_constants():
    assert P.TYPE_CODES["DISPATCH"] == 0x11 and P.TYPE_NAMES[0x21] == "REPLY"
    assert len(P.TYPE_CODES) == 11
    assert [P.ERROR_NAMES[i] for i in (1, 13, 20, 23)] == ["FRAMES", "BAD_SIGNATURE", "DENIED",
                                                           "CONFLICT"]
    assert P.ERROR_CODES["INVALID_PARAM"] == 18
    assert P.MAX_BODY["REPLY"] == 16777216 and P.MAX_BODY["DISPATCH"] == 1052672
    assert {t for t in P.TYPE_CODES if P.FRAME_COUNTS[t] == 3} == {"RESULT", "DISPATCH"}
    assert P.FRAME_COUNTS["JOB"] == 4 and P.MAX_TARGET_LIST == 1048576
    assert P.SIGNED_TYPES == {"RESULT", "JOB", "DISPATCH"}
    assert P.FIELD_NAMES["DISPATCH"][7] == "target_proof" and len(P.FIELD_NAMES["DISPATCH"]) == 8
    assert P.FIELD_NAMES["JOB"][3] == "targets" and len(P.FIELD_NAMES["JOB"]) == 9
    assert P.TARGETS.names == ["count", "root"] and P.TARGET_PROOF.names == ["index", "path"]
    assert len(P.FIELD_NAMES["ACK"]) == 5 and len(P.FIELD_NAMES["NACK"]) == 7
    assert (P.MAX_DEPTH, P.MAX_STR, P.MAX_BIN, P.MAX_ARRAY, P.MAX_MAP) == (
        6, 65536, 1052672, 100000, 10000)


def test_header_bytes():
    assert P.encode("HELLO", G.hello())[0] == b"OD\x02\x01"
    assert P.encode("DISPATCH", G.dispatch(), G.K_COORD)[0] == b"\x4f\x44\x02\x11"


# ------------------------------------------------------------------------------------------
# Round trips


RECEIVER_CTX = {
    "HELLO": G.ctx_coord, "WELCOME": G.ctx_agent, "HEARTBEAT": G.ctx_coord,
    "PROGRESS": G.ctx_coord, "RESULT": G.ctx_coord, "ACK": G.ctx_agent, "NACK": G.ctx_coord,
    "JOB": G.ctx_control, "DISPATCH": G.ctx_agent, "REQUEST": G.ctx_control, "REPLY": G.ctx_cli,
}
SIGNER = {"RESULT": G.K_AGENT, "JOB": G.K_OP, "DISPATCH": G.K_COORD}


@pytest.mark.parametrize("type_name", list(P.TYPE_CODES))
def test_round_trip(type_name):
    fields = G.FIELDS[type_name]()
    frames = P.encode(type_name, fields, SIGNER.get(type_name))
    assert len(frames) == P.FRAME_COUNTS[type_name]
    assert frames[0] == P.header(P.TYPE_CODES[type_name])
    if type_name in P.SIGNED_TYPES:
        assert len(frames[2]) == 96
        assert frames[2][:32] == bytes(SIGNER[type_name].verify_key)
    expected = G.expected_decoded(type_name, fields)
    assert P.receive(frames, RECEIVER_CTX[type_name]()) == expected
    assert P.receive(frames) == expected  # generic decoding, no receiver
    # The body is the field list in section 4's order, shortest ints (msgpack default).
    values = dict(fields)
    if type_name == "JOB":
        values["targets"] = P.targets_commitment(fields["targets"])
        assert frames[3] == msgpack.packb(fields["targets"])
        assert list(expected)[-1] == "target_list"
    assert list(msgpack.unpackb(frames[1], raw=False)) == [
        P._prepare(f[1], values[f[0]]) for f in P.SCHEMAS[type_name].fields]
    # The decoded form encodes back to the same body (REQUEST args and REPLY bodies too:
    # they carry no bin, so their JSON form is unambiguous).
    assert P.encode_body(type_name, expected) == frames[1]
    assert P.encode(type_name, expected, SIGNER.get(type_name)) == frames


def test_shortest_integer_forms():
    body = P.encode_body("WELCOME", G.welcome(heartbeat_ms=1000, lost_after=3, now_ms=2**40))
    assert body == (b"\x94" + msgpack.packb("coord-1") + b"\xcd\x03\xe8" + b"\x03"
                    + b"\xcf" + (2**40).to_bytes(8, "big"))


def test_signature_frame_is_key_then_detached_signature():
    fields = G.job()
    frames = P.encode("JOB", fields, G.K_OP)
    msg = b"odc-fleet/1/JOB\x00" + frames[1]
    nacl.signing.VerifyKey(frames[2][:32]).verify(msg, frames[2][32:])
    assert G.K_OP.sign(msg).signature == frames[2][32:]  # Ed25519 is deterministic


# ------------------------------------------------------------------------------------------
# Steps 1-4


def test_frames_errors():
    hello = P.encode("HELLO", G.hello())
    assert code_of(hello + [b"x" * 96], G.ctx_coord()) == "FRAMES"
    assert code_of(hello[:1], G.ctx_coord()) == "FRAMES"
    assert code_of([], G.ctx_coord()) == "FRAMES"
    assert code_of([], G.ctx_control()) == "FRAMES"
    assert code_of([]) == "FRAMES"
    job = P.encode("JOB", G.job(), G.K_OP)
    assert len(job) == 4
    assert code_of(job[:2], G.ctx_control()) == "FRAMES"
    assert code_of(job[:3], G.ctx_control()) == "FRAMES"  # no target list
    assert code_of(job[:3], None) == "FRAMES"  # generic receivers too
    assert code_of(job[:2] + [job[2][:95]] + job[3:], G.ctx_control()) == "FRAMES"
    assert code_of(job[:2] + [job[2] + b"\x00"] + job[3:], G.ctx_control()) == "FRAMES"
    assert code_of(job + [b""], G.ctx_control()) == "FRAMES"
    assert code_of(job + [job[3]], G.ctx_control()) == "FRAMES"
    assert code_of(job[:2] + [job[3], job[2]], G.ctx_control()) == "FRAMES"  # swapped
    # FRAMES (step 3) before the target list's TOO_BIG (step 4).
    assert code_of(job[:3] + [bytes(1048577), b""], G.ctx_control()) == "FRAMES"
    # A DISPATCH or RESULT with a 4th frame is FRAMES: only a JOB has one.
    assert code_of(G.dispatch_frames() + [job[3]], G.ctx_agent()) == "FRAMES"
    assert code_of(G.result_frames() + [job[3]], G.ctx_coord()) == "FRAMES"


def test_header_version_type_order():
    body = P.encode_body("HELLO", G.hello())
    assert code_of([b"OD\x02", body], G.ctx_coord()) == "HEADER"
    assert code_of([b"OD\x02\x01\x01", body], G.ctx_coord()) == "HEADER"
    assert code_of([b"XD\x02\x01", body], G.ctx_coord()) == "HEADER"
    assert code_of([b"XD\x03\x7f"], G.ctx_coord()) == "HEADER"  # before version and frames
    assert code_of([b"OD\x01\x01", body], G.ctx_coord()) == "VERSION"  # version 1
    assert code_of([b"OD\x03\x01", body], G.ctx_coord()) == "VERSION"
    assert code_of([b"OD\x03\x7f"], G.ctx_coord()) == "VERSION"  # before type and frames
    assert code_of([b"OD\x02\x7f", body], G.ctx_coord()) == "TYPE"
    assert code_of([b"OD\x02\x7f"], G.ctx_coord()) == "TYPE"  # before frames
    assert code_of([b"OD\x02\x7f", body]) == "TYPE"  # generic receivers too


@pytest.mark.parametrize("receiver,accepted", [  # section 7's table
    ("agent", {"WELCOME", "ACK", "NACK", "DISPATCH"}),
    ("coordinator", {"HELLO", "HEARTBEAT", "PROGRESS", "RESULT", "ACK", "NACK"}),
    ("control", {"JOB", "REQUEST"}),
    ("cli", {"REPLY"}),
])
def test_type_not_accepted_by_receiver(receiver, accepted):
    assert P.ACCEPTED[receiver] == accepted
    ctx = {"agent": G.ctx_agent, "coordinator": G.ctx_coord, "control": G.ctx_control,
           "cli": G.ctx_cli}[receiver]()
    for type_name in P.TYPE_CODES:
        frames = P.encode(type_name, G.FIELDS[type_name](), SIGNER.get(type_name))
        if type_name in accepted:
            P.receive(frames, copy.deepcopy(ctx))
        else:
            assert code_of(frames, ctx) == "TYPE", type_name


def test_too_big_before_signature_and_decoding():
    assert code_of(unsigned("WELCOME", b"\xc1" * 1025), G.ctx_agent()) == "TOO_BIG"
    P.receive(unsigned("WELCOME", P.encode_body("WELCOME", G.welcome())), G.ctx_agent())
    assert code_of([P.header(P.RESULT), b"\x00" * 65537, bytes(96)], G.ctx_coord()) == "TOO_BIG"
    # Exactly the maximum is not too big (it fails later, in the scan).
    assert code_of(unsigned("WELCOME", b"\xc1" * 1024), G.ctx_agent()) == "MALFORMED"


# ------------------------------------------------------------------------------------------
# Step 5: signatures


def test_unknown_key_then_bad_signature():
    frames = P.encode("JOB", G.job(), G.K_OTHER)
    assert code_of(frames, G.ctx_control()) == "UNKNOWN_KEY"
    bad = frames[:2] + [frames[2][:40] + bytes([frames[2][40] ^ 1]) + frames[2][41:]] + frames[3:]
    assert code_of(bad, G.ctx_control()) == "UNKNOWN_KEY"  # the key is checked first


def test_flipped_signature_bit():
    frames = P.encode("JOB", G.job(), G.K_OP)
    for bit in (0, 7):
        for pos in (32, 63, 64, 95):
            sig = bytearray(frames[2])
            sig[pos] ^= 1 << bit
            assert code_of(frames[:2] + [bytes(sig)] + frames[3:],
                           G.ctx_control()) == "BAD_SIGNATURE"


def test_flipped_body_bit():
    frames = P.encode("RESULT", G.result(), G.K_AGENT)
    body = bytearray(frames[1])
    body[-3] ^= 0x01
    assert code_of([frames[0], bytes(body), frames[2]], G.ctx_coord()) == "BAD_SIGNATURE"


def test_domain_separation_job_signature_presented_as_result():
    body = P.encode_body("RESULT", G.result())
    sig_as_job = P.sign("JOB", body, G.K_AGENT)
    assert code_of([P.header(P.RESULT), body, sig_as_job], G.ctx_coord()) == "BAD_SIGNATURE"
    P.receive([P.header(P.RESULT), body, P.sign("RESULT", body, G.K_AGENT)], G.ctx_coord())
    # And a JOB body+signature presented under the RESULT type code.
    job = P.encode("JOB", G.job(), G.K_OP)
    ctx = G.ctx_coord(trusted={"RESULT": [G.pk(G.K_OP)], "JOB": [G.pk(G.K_OP)]})
    assert code_of([P.header(P.RESULT)] + job[1:3], ctx) == "BAD_SIGNATURE"


def test_signature_checked_before_decoding():
    garbage = b"\xc1\xc1"
    assert code_of(G.signed("JOB", garbage, G.K_OP), G.ctx_control()) == "MALFORMED"
    assert code_of(G.signed("JOB", garbage, G.K_OTHER), G.ctx_control()) == "UNKNOWN_KEY"
    good = P.encode("JOB", G.job(), G.K_OP)
    assert code_of([P.header(P.JOB), garbage, good[2], good[3]],
                   G.ctx_control()) == "BAD_SIGNATURE"


def test_signature_covers_received_bytes_not_a_reencoding():
    # A non-shortest encoding, signed as received, is accepted as is.
    root = P.merkle_root([HOST])
    body = (b"\x99" + msgpack.packb("job-7") + msgpack.packb("ping") + b"\x80"
            + b"\x92\xcf" + (1).to_bytes(8, "big") + b"\xc6" + (32).to_bytes(4, "big") + root
            + msgpack.packb(list(dict(G.POLICY, canary=0).values()))
            + b"\xcf" + (NOW - 1).to_bytes(8, "big") + msgpack.packb(NOW + 1000)
            + msgpack.packb("alice") + b"\xd9\x00")
    tl = b"\xdd\x00\x00\x00\x01\xd9\x06" + HOST.encode()
    d = P.receive(G.signed("JOB", body, G.K_OP, tl), G.ctx_control())
    assert d["created_ms"] == NOW - 1 and d["reason"] == ""
    assert d["targets"] == {"count": 1, "root": root.hex()} and d["target_list"] == [HOST]


# ------------------------------------------------------------------------------------------
# Step 6 / section 3: the structural scan


def welcome_with(now_ms_raw: bytes) -> list[bytes]:
    return unsigned("WELCOME", G.raw_body("WELCOME", G.welcome(), now_ms=now_ms_raw))


def test_depth():
    assert code_of(unsigned("HEARTBEAT", b"\x91" * 6 + b"\x90"), G.ctx_coord()) == "DEPTH"
    # 6 nested arrays are structurally fine (then SCHEMA: not 7 fields).
    assert code_of(unsigned("HEARTBEAT", b"\x91" * 5 + b"\x90"), G.ctx_coord()) == "SCHEMA"
    assert code_of(P.encode("REPLY", G.reply(body=[[[[[[]]]]]])), G.ctx_cli()) == "DEPTH"
    P.receive(P.encode("REPLY", G.reply(body=[[[[[]]]]])), G.ctx_cli())
    # Maps count too, keys included.
    assert code_of(unsigned("REPLY", b"\x94\x00\x00\xa0" + b"\x81\xa1k" * 5 + b"\x80"),
                   G.ctx_cli()) == "DEPTH"
    assert code_of(unsigned("REPLY", b"\x94\x00\x00\xa0" + b"\x81" * 5 + b"\x90\x00"),
                   G.ctx_cli()) == "DEPTH"


def test_limit_str32_claims_4g_without_allocating():
    frames = unsigned("HELLO", b"\x96\xdb\xff\xff\xff\xff" + b"a" * 8)
    ctx = G.ctx_coord()
    tracemalloc.start()
    try:
        e = err(frames, ctx)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert e.code_name == "LIMIT"
    assert peak < 1 << 20, peak


@pytest.mark.parametrize("raw", [
    b"\xdd\xff\xff\xff\xff",  # array32 of 2^32-1
    b"\xdf\xff\xff\xff\xff",  # map32
    b"\xc6\xff\xff\xff\xff",  # bin32
])
def test_limit_huge_lengths_without_allocating(raw):
    frames, ctx = welcome_with(raw), G.ctx_agent()
    tracemalloc.start()
    try:
        e = err(frames, ctx)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert e.code_name == "LIMIT"
    assert peak < 1 << 20, peak


def test_limit_bounds_exact():
    reply = lambda body: P.encode("REPLY", G.reply(body=body))  # noqa: E731
    P.receive(reply("a" * 65536), G.ctx_cli())
    assert code_of(reply("a" * 65537), G.ctx_cli()) == "LIMIT"
    # A bin of the scan's maximum passes the scan, then is SCHEMA in a REPLY body.
    assert code_of(reply(b"\x00" * 1052672), G.ctx_cli()) == "SCHEMA"
    assert code_of(reply(b"\x00" * 1052673), G.ctx_cli()) == "LIMIT"
    P.receive(reply([0] * 100000), G.ctx_cli())
    assert code_of(reply([0] * 100001), G.ctx_cli()) == "LIMIT"
    P.receive(reply({f"k{i}": 0 for i in range(10000)}), G.ctx_cli())
    assert code_of(reply({f"k{i}": 0 for i in range(10001)}), G.ctx_cli()) == "LIMIT"
    # A length within its bound but larger than the bytes left: MALFORMED (check 5).
    assert code_of(unsigned("WELCOME", b"\x94\xa5abc"), G.ctx_agent()) == "MALFORMED"
    assert code_of(unsigned("WELCOME", b"\x94\xc4\x05abc"), G.ctx_agent()) == "MALFORMED"


def test_malformed():
    assert code_of(unsigned("HELLO", b"\xc1"), G.ctx_coord()) == "MALFORMED"
    assert code_of(welcome_with(b"\xc1"), G.ctx_agent()) == "MALFORMED"
    assert code_of(unsigned("HELLO", b""), G.ctx_coord()) == "MALFORMED"
    good = P.encode_body("WELCOME", G.welcome())
    for cut in range(0, len(good)):  # every truncation is MALFORMED now
        assert code_of(unsigned("WELCOME", good[:cut]), G.ctx_agent()) == "MALFORMED", cut
    assert code_of(unsigned("WELCOME", good[:-1]), G.ctx_agent()) == "MALFORMED"
    assert code_of(welcome_with(b"\xcf\x00\x00"), G.ctx_agent()) == "MALFORMED"
    assert code_of(unsigned("WELCOME", b"\x91\xd9"), G.ctx_agent()) == "MALFORMED"
    assert code_of(unsigned("WELCOME", b"\x91\xdd\x00"), G.ctx_agent()) == "MALFORMED"


def test_schema_float_and_ext():
    assert code_of(welcome_with(msgpack.packb(1.5)), G.ctx_agent()) == "SCHEMA"
    assert code_of(welcome_with(b"\xca\x3f\xc0\x00\x00"), G.ctx_agent()) == "SCHEMA"
    for raw in (b"\xd4\x01\x00", b"\xd5\x01\x00\x00", b"\xd6\x01" + bytes(4),
                b"\xd7\x01" + bytes(8), b"\xd8\x01" + bytes(16), b"\xc7\x01\x05a",
                b"\xc8\x00\x01\x05a", b"\xc9\x00\x00\x00\x01\x05a", b"\xc7\x00\x05"):
        assert code_of(welcome_with(raw), G.ctx_agent()) == "SCHEMA", raw.hex()
    # The scan reports float/ext even where the field checks would fail first.
    assert code_of(unsigned("WELCOME", b"\x94\xa0\x00\x00\xcb" + bytes(8)),
                   G.ctx_agent()) == "SCHEMA"
    # Check 3: "SCHEMA, whatever follows" -- even cut short or claiming 4 GiB.
    for raw in (b"\xca", b"\xca\x00", b"\xcb" + bytes(7), b"\xd4", b"\xd8\x01",
                b"\xc7", b"\xc7\x09\x05ab", b"\xc9\xff\xff\xff\xff\x01", b"\xc9\xff"):
        assert code_of(unsigned("WELCOME", b"\x94\xa0\x00\x00" + raw),
                       G.ctx_agent()) == "SCHEMA", raw.hex()
    assert code_of(unsigned("HELLO", b"\xcb"), G.ctx_coord()) == "SCHEMA"
    # ...and before a later 0xc1: the first problem by position wins.
    assert code_of(unsigned("WELCOME", b"\x94\xa0\x00\xcb" + bytes(8) + b"\xc1"),
                   G.ctx_agent()) == "SCHEMA"
    assert code_of(unsigned("WELCOME", b"\x94\xa0\x00\xc1\xcb" + bytes(8)),
                   G.ctx_agent()) == "MALFORMED"


@pytest.mark.parametrize("body,code", [
    # 1. no byte where an object is expected
    (b"", "MALFORMED"),
    (b"\x94\xa0\x00\x00", "MALFORMED"),
    # 2. 0xc1
    (b"\x94\xa0\x00\x00\xc1", "MALFORMED"),
    # 3. float / ext: SCHEMA whatever follows
    (b"\x94\xa0\x00\x00\xcb", "SCHEMA"),
    (b"\x94\xa0\x00\x00\xc8\xff\xff", "SCHEMA"),
    # 4. header / payload bytes missing
    (b"\x94\xa0\x00\x00\xcd\x01", "MALFORMED"),
    (b"\x94\xa0\x00\x00\xda\x01", "MALFORMED"),
    (b"\x94\xa0\x00\x00\xdd\xff\xff\xff", "MALFORMED"),
    (b"\x91\x91\x91\x91\x91\x91\xdc\x00", "MALFORMED"),  # before DEPTH
    # 5. str / bin: LIMIT, then MALFORMED
    (b"\x94\xa0\x00\x00\xdb\x00\x01\x00\x01", "LIMIT"),
    (b"\x94\xa0\x00\x00\xdb\x00\x01\x00\x00", "MALFORMED"),
    (b"\x94\xa0\x00\x00\xc6\x00\x10\x10\x01", "LIMIT"),
    (b"\x94\xa0\x00\x00\xc6\x00\x10\x10\x00", "MALFORMED"),
    (b"\x94\xa0\x00\x00\xa3ab", "MALFORMED"),
    # 6. array / map: DEPTH, then LIMIT, then MALFORMED
    (b"\x91\x91\x91\x91\x91\x91\xdd\xff\xff\xff\xff", "DEPTH"),
    (b"\x91\x91\x91\x91\x91\x91\x9f", "DEPTH"),
    (b"\x94\xa0\x00\x00\xdd\x00\x01\x86\xa1", "LIMIT"),
    (b"\x94\xa0\x00\x00\xdd\x00\x01\x86\xa0", "MALFORMED"),
    (b"\x94\xa0\x00\x00\xde\x27\x11", "LIMIT"),
    (b"\x94\xa0\x00\x00\x83\xca\x00\x00\x00\x00", "MALFORMED"),  # 2 x count for a map
    (b"\x94\xa0\x00\x00\x93\xca\x00\x00", "SCHEMA"),  # count 3 <= 3 left
    # READING: "bytes left" after the count bytes: 3 elements, 2 bytes after dc 00 03.
    (b"\x94\xa0\x00\x00\xdc\x00\x03\xca\x00", "MALFORMED"),
    # TRAILING only once the first object is complete.
    (b"\x94\xa0\x00\x00\x00\xc1", "TRAILING"),
])
def test_scan_numbered_procedure(body, code):
    assert code_of(unsigned("WELCOME", body), G.ctx_agent()) == code


def test_trailing():
    good = P.encode_body("WELCOME", G.welcome())
    assert code_of(unsigned("WELCOME", good + b"\x00"), G.ctx_agent()) == "TRAILING"
    assert code_of(unsigned("WELCOME", good + b"\xc1"), G.ctx_agent()) == "TRAILING"
    assert code_of(unsigned("WELCOME", good + b"\xdb\xff\xff\xff\xff"), G.ctx_agent()) == "TRAILING"


def _random_obj(rng, depth=2):
    """A random REPLY body value: no bin, ints within -2^63..2^63-1 (section 4)."""
    kind = rng.randrange(9 if depth < 6 else 7)
    if kind == 0:
        return None
    if kind == 1:
        return rng.random() < 0.5
    if kind == 2:
        return rng.choice([0, 1, 127, 128, 255, 256, 65535, 65536, 2**32, 2**63 - 1, -1, -32,
                           -33, -128, -129, -32768, -32769, -(2**31) - 1, -(2**63)])
    if kind == 3:
        return "x" * rng.choice([0, 1, 31, 32, 255, 256, 65535, 65536])
    if kind == 4:
        return "\u00e9" * rng.choice([0, 1, 127, 128, 32768])
    if kind in (5, 6):
        return rng.choice(["\u00e9", "\U0001F600", "ok"])
    if kind == 7:
        return [_random_obj(rng, depth + 1) for _ in range(rng.choice([0, 1, 3, 15, 16, 17]))]
    return {("k" * rng.choice([0, 1, 253]) + str(i)): _random_obj(rng, depth + 1)
            for i in range(rng.choice([0, 1, 15, 16]))}


def test_scan_agrees_with_msgpack_on_valid_bodies():
    rng = random.Random(1)
    for _ in range(300):
        body = _random_obj(rng)
        frames = P.encode("REPLY", G.reply(body=body))
        expected = msgpack.unpackb(frames[1], raw=False, strict_map_key=False)[3]
        got = P.receive(frames, G.ctx_cli())["body"]
        assert got == G.to_json(expected)


def test_scan_random_bytes_never_crash():
    rng = random.Random(2)
    good = [P.encode(t, G.FIELDS[t](), SIGNER.get(t)) for t in P.TYPE_CODES]
    outcomes = collections.Counter()
    for i in range(3000):
        frames = list(rng.choice(good))
        body = bytearray(frames[1])
        for _ in range(rng.randrange(1, 4)):
            op = rng.randrange(3)
            pos = rng.randrange(len(body) + 1)
            if op == 0 and body:
                body[pos % len(body)] = rng.randrange(256)
            elif op == 1:
                body.insert(pos, rng.randrange(256))
            elif body:
                del body[pos % len(body)]
        frames[1] = bytes(body)
        # Any exception but ProtoError fails the test; each outcome is counted so that the
        # run is known to reach both the decoders' refusals and their successes.
        try:
            P.receive(frames)  # generic: signatures fail, so decode without them too
            outcomes["receive: valid"] += 1
        except P.ProtoError as e:
            outcomes[f"receive: {e.code_name}"] += 1
        try:
            P.decode_body(P.TYPE_NAMES[frames[0][3]], frames[1])
            outcomes["decode: valid"] += 1
        except P.ProtoError as e:
            outcomes[f"decode: {e.code_name}"] += 1
    decoded = [k for k in outcomes if k.startswith("decode: ")]
    assert sum(outcomes.values()) == 2 * 3000
    assert outcomes["decode: valid"] > 0 and len(decoded) >= 4, outcomes
    assert sum(n for k, n in outcomes.items() if k.startswith("receive: ")) == 3000


# ------------------------------------------------------------------------------------------
# Step 6 / section 3-4: field checks


def test_schema_field_count_and_types():
    assert code_of(unsigned("WELCOME", msgpack.packb(["c", 1000, 3])), G.ctx_agent()) == "SCHEMA"
    assert code_of(unsigned("WELCOME", msgpack.packb({"a": 1})), G.ctx_agent()) == "SCHEMA"
    assert code_of(unsigned("WELCOME", msgpack.packb(5)), G.ctx_agent()) == "SCHEMA"
    assert code_of(unsigned("ACK", P.encode_body("NACK", G.nack())), G.ctx_agent()) == "SCHEMA"
    assert code_of(unsigned("NACK", P.encode_body("ACK", G.ack())), G.ctx_agent()) == "SCHEMA"
    assert code_of(P.encode("HELLO", G.hello(sent_ms=-1)), G.ctx_coord()) == "SCHEMA"
    assert code_of(P.encode("HELLO", G.hello(sent_ms=True)), G.ctx_coord()) == "SCHEMA"
    assert code_of(P.encode("HELLO", G.hello(host_id=None)), G.ctx_coord()) == "SCHEMA"
    assert code_of(unsigned("HELLO", G.raw_body("HELLO", G.hello(),
                                                incarnation=msgpack.packb("a" * 16))),
                   G.ctx_coord()) == "SCHEMA"
    assert code_of(unsigned("HELLO", G.raw_body("HELLO", G.hello(), labels=b"\x81\x01\xa0")),
                   G.ctx_coord()) == "SCHEMA"
    assert code_of(P.encode("HEARTBEAT", G.heartbeat(job=["job-7"])), G.ctx_coord()) == "SCHEMA"
    assert code_of(P.encode("HEARTBEAT", G.heartbeat(disks=[["/", 1]])),
                   G.ctx_coord()) == "SCHEMA"


def test_integer_widths_accepted():
    for raw in (b"\x05", b"\xcc\x05", b"\xcd\x00\x05", b"\xce\x00\x00\x00\x05",
                b"\xcf" + (5).to_bytes(8, "big"), b"\xd0\x05", b"\xd1\x00\x05",
                b"\xd2\x00\x00\x00\x05", b"\xd3" + (5).to_bytes(8, "big")):
        assert P.receive(welcome_with(raw), G.ctx_agent())["now_ms"] == 5
    for raw in (b"\xff", b"\xd0\xff", b"\xd3" + b"\xff" * 8):
        assert code_of(welcome_with(raw), G.ctx_agent()) == "SCHEMA"


def test_limit_vs_value_for_bounds():
    assert code_of(P.encode("HELLO", G.hello(host_id="h" * 65)), G.ctx_coord()) == "LIMIT"
    assert code_of(P.encode("HELLO", G.hello(host_id="")), G.ctx_coord()) == "VALUE"
    assert code_of(P.encode("HELLO", G.hello(incarnation=bytes(17))), G.ctx_coord()) == "LIMIT"
    assert code_of(P.encode("HELLO", G.hello(incarnation=bytes(15))), G.ctx_coord()) == "VALUE"
    assert code_of(P.encode("HELLO", G.hello(capabilities=["c"] * 33)), G.ctx_coord()) == "LIMIT"
    assert code_of(P.encode("JOB", G.job(targets=[]), G.K_OP), G.ctx_control()) == "VALUE"
    assert code_of(G.job_frames_list([]), G.ctx_control()) == "VALUE"
    ids = [f"h{i}" for i in range(10001)]
    assert code_of(G.forged_job_frames(10000, P.merkle_root(ids[:10000]), ids),
                   G.ctx_control()) == "LIMIT"


def test_first_failure_in_field_order():
    e = err(P.encode("HELLO", G.hello(host_id="bad id", capabilities=["c"] * 33)),
            G.ctx_coord())
    assert e.code_name == "VALUE" and "host_id" in str(e)
    e = err(P.encode("HELLO", G.hello(capabilities=["ok", "", "c" * 33])), G.ctx_coord())
    assert e.code_name == "VALUE" and "capabilities[1]" in str(e)
    e = err(P.encode("HELLO", G.hello(capabilities=["ok", "c" * 33, ""])), G.ctx_coord())
    assert e.code_name == "LIMIT" and "capabilities[1]" in str(e)


def test_error_message_names_the_field():
    e = err(P.encode("JOB", G.job(targets=["a", "b", "c", "a"]), G.K_OP), G.ctx_control())
    assert e.code_name == "VALUE" and "target_list[3]" in str(e)
    e = err(P.encode("JOB", G.job(policy=dict(G.POLICY, quorum_pct=101)), G.K_OP), G.ctx_control())
    assert "policy.quorum_pct" in str(e)
    e = err(G.dispatch_frames(jbody=G.job_body(targets=[])), G.ctx_agent())
    assert e.code_name == "VALUE" and "job.targets.count" in str(e)
    e = err(G.dispatch_frames(target_proof={"index": 0, "path": [bytes(32), bytes(31)]}),
            G.ctx_agent())
    assert e.code_name == "VALUE" and "target_proof.path[1]" in str(e)


@pytest.mark.parametrize("raw", [
    b"\xa2\xc3\x28",  # invalid continuation
    b"\xa2\xc0\xaf",  # overlong
    b"\xa3\xe0\x80\xaf",  # overlong 3-byte
    b"\xa3\xed\xa0\x80",  # surrogate
    b"\xa4\xf4\x90\x80\x80",  # above U+10FFFF
    b"\xa1\x80",  # lone continuation
    b"\xa2\xe2\x82",  # truncated sequence
    b"\xa3a\x00b",  # NUL
])
def test_value_bad_strings(raw):
    frames = unsigned("PROGRESS", G.raw_body("PROGRESS", G.progress(), message=raw))
    assert code_of(frames, G.ctx_coord()) == "VALUE"


def test_value_rules():
    c = G.ctx_coord()
    assert code_of(P.encode("HELLO", G.hello(host_id="-a")), c) == "VALUE"
    assert code_of(P.encode("HELLO", G.hello(host_id="a/b")), c) == "VALUE"
    P.receive(P.encode("HELLO", G.hello(host_id="A" + "a._-" * 15 + "xyz")), c.copy() | {
        "host_id": "A" + "a._-" * 15 + "xyz"})
    assert code_of(P.encode("HELLO", G.hello(labels={"": "x"})), c) == "VALUE"
    assert code_of(unsigned("HELLO", G.raw_body("HELLO", G.hello(),
                                                labels=b"\x82\xa1k\xa0\xa1k\xa0")), c) == "VALUE"
    assert code_of(P.encode("WELCOME", G.welcome(heartbeat_ms=600001)), G.ctx_agent()) == "VALUE"
    assert code_of(P.encode("WELCOME", G.welcome(lost_after=101)), G.ctx_agent()) == "VALUE"
    assert code_of(P.encode("HEARTBEAT", G.heartbeat(
        odc=dict(G.heartbeat()["odc"], health="ok"))), c) == "VALUE"
    assert code_of(P.encode("PROGRESS", G.progress(status="interrupted")), c) == "VALUE"
    assert code_of(P.encode("RESULT", G.result(status="running"), G.K_AGENT), c) == "VALUE"
    assert code_of(P.encode("RESULT", G.result(exit_code=2**63), G.K_AGENT), c) == "VALUE"
    assert code_of(P.encode("RESULT", G.result(data={"a b": ""}), G.K_AGENT), c) == "VALUE"
    assert code_of(P.encode("ACK", G.ack(ref_type=0x12)), c) == "VALUE"
    assert code_of(P.encode("ACK", G.ack(nonce=bytes(1))), c) == "VALUE"
    assert code_of(P.encode("ACK", G.ack(step="A")), c) == "VALUE"
    assert code_of(P.encode("NACK", G.nack(code=0)), c) == "VALUE"
    assert code_of(P.encode("NACK", G.nack(code=24)), c) == "VALUE"
    P.receive(P.encode("NACK", G.nack(code=23)), c)
    assert code_of(P.encode("ACK", G.ack(ref_type=2**64 - 1)), c) == "VALUE"
    assert code_of(P.encode("REQUEST", G.request(command="a b")), G.ctx_control()) == "VALUE"
    assert code_of(P.encode("REPLY", G.reply(code=24)), G.ctx_cli()) == "VALUE"
    # "by convention empty on success (not checked)".
    assert P.receive(P.encode("REPLY", G.reply(message="oops")), G.ctx_cli())["message"] == "oops"


@pytest.mark.parametrize("big", [2**63, 2**63 + 1, 2**64 - 1])
def test_uint_and_int_above_2_63_minus_1_are_value(big):
    c, a, ctl, cli = G.ctx_coord(), G.ctx_agent(), G.ctx_control(), G.ctx_cli()
    assert code_of(P.encode("HELLO", G.hello(sent_ms=big)), c) == "VALUE"
    assert code_of(P.encode("WELCOME", G.welcome(now_ms=big)), a) == "VALUE"
    assert code_of(P.encode("HEARTBEAT", G.heartbeat(seq=big)), c) == "VALUE"
    assert code_of(P.encode("RESULT", G.result(started_ms=big), G.K_AGENT), c) == "VALUE"
    assert code_of(P.encode("RESULT", G.result(exit_code=big), G.K_AGENT), c) == "VALUE"
    assert code_of(P.encode("JOB", G.job(policy=dict(G.POLICY, budget=big)), G.K_OP),
                   ctl) == "VALUE"
    assert code_of(P.encode("REQUEST", G.request(request_id=big)), ctl) == "VALUE"
    assert code_of(P.encode("REQUEST", G.request(args={"n": big})), ctl) == "VALUE"
    assert code_of(P.encode("REPLY", G.reply(request_id=big)), cli) == "VALUE"
    assert code_of(P.encode("REPLY", G.reply(body=[{"n": big}])), cli) == "VALUE"
    # VALUE in field order: before a later field's SCHEMA.
    assert code_of(P.encode("HEARTBEAT", G.heartbeat(seq=big, odc=5)), c) == "VALUE"


def test_uint_and_int_edges_accepted():
    m = 2**63 - 1
    assert P.receive(P.encode("WELCOME", G.welcome(now_ms=m)), G.ctx_agent())["now_ms"] == m
    r = P.receive(P.encode("RESULT", G.result(exit_code=m), G.K_AGENT), G.ctx_coord())
    assert r["exit_code"] == m
    r = P.receive(P.encode("RESULT", G.result(exit_code=-(2**63)), G.K_AGENT), G.ctx_coord())
    assert r["exit_code"] == -(2**63)
    body = P.receive(P.encode("REPLY", G.reply(body=[m, -(2**63)])), G.ctx_cli())["body"]
    assert body == [m, -(2**63)]
    # In every encoding width (uint64, int64 with a positive value).
    for raw in (b"\xcf" + m.to_bytes(8, "big"), b"\xd3" + m.to_bytes(8, "big")):
        assert P.receive(welcome_with(raw), G.ctx_agent())["now_ms"] == m
    assert code_of(welcome_with(b"\xcf\x80" + bytes(7)), G.ctx_agent()) == "VALUE"


def test_request_args_rules():
    ctl = G.ctx_control()
    rq = lambda args: P.encode("REQUEST", G.request(args=args))  # noqa: E731
    d = P.receive(rq({"k" * 64: None, "\u00e9": True, "i": -5, "s": "x" * 65536,
                      "a": ["y" * 256] * 3, "e": []}), ctl)
    assert d["args"]["k" * 64] is None and d["args"]["a"] == ["y" * 256] * 3
    assert code_of(rq({"b": b"\x00"}), ctl) == "SCHEMA"  # no bin
    assert code_of(rq({"m": {}}), ctl) == "SCHEMA"  # no map
    assert code_of(rq({"a": [[]]}), ctl) == "SCHEMA"  # no nested array
    assert code_of(rq({"a": ["x", 1]}), ctl) == "SCHEMA"
    assert code_of(rq({"a": ["x" * 257]}), ctl) == "LIMIT"
    assert code_of(rq({"a": [""] * 10001}), ctl) == "LIMIT"
    assert code_of(rq({"k" * 65: 1}), ctl) == "LIMIT"
    assert code_of(rq({"": 1}), ctl) == "VALUE"
    assert code_of(rq({"a\x00": 1}), ctl) == "VALUE"
    assert code_of(rq({f"a{i}": 1 for i in range(65)}), ctl) == "LIMIT"
    # Entry by entry, key then value.
    def raw(args):
        return unsigned("REQUEST", G.raw_body("REQUEST", G.request(), args=args))

    assert code_of(raw(b"\x82\xa1a\xc4\x00\xa1a\xc0"), ctl) == "SCHEMA"
    assert code_of(raw(b"\x82\xa1a\xc0\xa1a\xc4\x00"), ctl) == "VALUE"  # duplicate first
    assert code_of(raw(b"\x81\x01\xc0"), ctl) == "SCHEMA"  # non-str key


def test_reply_body_rules():
    cli = G.ctx_cli()
    rp = lambda body: P.encode("REPLY", G.reply(body=body))  # noqa: E731
    assert P.receive(rp({"k" * 255: 1, "": [None, True, "s"]}), cli)["body"]["k" * 255] == 1
    assert code_of(rp({"k" * 256: 1}), cli) == "LIMIT"
    assert code_of(rp(b""), cli) == "SCHEMA"
    assert code_of(rp([{"a": [b"x"]}]), cli) == "SCHEMA"
    assert code_of(rp({"a\x00": 1}), cli) == "VALUE"
    assert code_of(rp(["a\x00"]), cli) == "VALUE"
    raw = lambda body: unsigned("REPLY", G.raw_body("REPLY", G.reply(), body=body))  # noqa: E731
    assert code_of(raw(b"\x81\xc0\x00"), cli) == "SCHEMA"  # nil key
    assert code_of(raw(b"\x81\xa1\xff\x00"), cli) == "VALUE"  # bad UTF-8 key
    assert code_of(raw(b"\x82\xa1a\x00\xa1a\xc4\x00"), cli) == "VALUE"  # duplicate first
    assert code_of(raw(b"\x81\xd9\xff" + b"k" * 255 + b"\xc4\x00"), cli) == "SCHEMA"
    assert code_of(raw(b"\x81\xda\x01\x00" + b"\xff" * 256 + b"\x00"), cli) == "LIMIT"


def test_cross_field_rules_checked_at_the_second_field():
    ctl = G.ctx_control()
    pol = lambda **kw: P.encode("JOB", G.job(policy=dict(G.POLICY, **kw)), G.K_OP)  # noqa: E731
    # batch <= 100 right after batch_pct: before a later field's SCHEMA...
    e = err(pol(batch=101, batch_pct=True, budget="x"), ctl)
    assert e.code_name == "VALUE" and "batch_pct" in str(e)
    # ...but after batch_pct's own type.
    assert code_of(pol(batch=101, batch_pct="yes"), ctl) == "SCHEMA"
    e = err(pol(budget=101, budget_pct=True, quorum_pct=None), ctl)
    assert e.code_name == "VALUE" and "budget_pct" in str(e)
    e = err(pol(canary=4, batch="x"), ctl)
    assert e.code_name == "VALUE" and "canary" in str(e)
    e = err(P.encode("JOB", G.job(created_ms=NOW, expires_ms=NOW, operator=5), G.K_OP), ctl)
    assert e.code_name == "VALUE" and "expires_ms" in str(e)
    e = err(G.dispatch_frames(not_before_ms=NOW, expires_ms=NOW, nonce=7), G.ctx_agent())
    assert e.code_name == "VALUE" and "expires_ms" in str(e)


def test_map_entries_key_then_value():
    c = G.ctx_coord()
    assert code_of(P.encode("HELLO", G.hello(labels={"a b": "v" * 129})), c) == "VALUE"
    labels = b"\x82\xa1k\xa0\xa1k" + msgpack.packb("v" * 129)
    assert code_of(unsigned("HELLO", G.raw_body("HELLO", G.hello(), labels=labels)),
                   c) == "VALUE"
    labels = b"\x82\xa1k" + msgpack.packb("v" * 129) + b"\xa1k\xa0"
    assert code_of(unsigned("HELLO", G.raw_body("HELLO", G.hello(), labels=labels)),
                   c) == "LIMIT"
    # A duplicate target at its second occurrence (like a duplicate map key).
    e = err(P.encode("JOB", G.job(targets=[HOST, HOST, "x" * 65]), G.K_OP), G.ctx_control())
    assert e.code_name == "VALUE" and "target_list[1]" in str(e)


def test_str_limit_before_utf8_and_utf8_before_minimum():
    c = G.ctx_coord()
    frames = unsigned("PROGRESS", G.raw_body("PROGRESS", G.progress(),
                                              message=b"\xda\x02\x01" + b"\xff" * 513))
    assert code_of(frames, c) == "LIMIT"
    e = err(unsigned("HELLO", G.raw_body("HELLO", G.hello(), host_id=b"\xa2\xc3\x28")), c)
    assert e.code_name == "VALUE" and "UTF-8" in str(e)


def test_job_policy_and_time_rules():
    c = G.ctx_control()
    j = lambda **kw: P.encode("JOB", G.job(**kw), G.K_OP)  # noqa: E731
    pol = lambda **kw: j(policy=dict(G.POLICY, **kw))  # noqa: E731
    P.receive(pol(canary=3), c)
    assert code_of(pol(canary=4), c) == "VALUE"
    assert code_of(pol(batch=0), c) == "VALUE"
    P.receive(pol(batch=100), c)
    assert code_of(pol(batch=101), c) == "VALUE"
    P.receive(pol(batch=101, batch_pct=False), c)
    P.receive(pol(budget=100, budget_pct=True), c)
    assert code_of(pol(budget=101, budget_pct=True), c) == "VALUE"
    P.receive(pol(budget=101, budget_pct=False), c)
    assert code_of(pol(quorum_pct=101), c) == "VALUE"
    assert code_of(pol(step_deadline_s=86401), c) == "VALUE"
    assert code_of(pol(job_deadline_s=0), c) == "VALUE"
    assert code_of(j(created_ms=NOW, expires_ms=NOW), c) == "VALUE"
    assert code_of(j(created_ms=NOW, expires_ms=NOW - 1), c) == "VALUE"
    P.receive(j(created_ms=NOW, expires_ms=NOW + 604800000), c)
    assert code_of(j(created_ms=NOW, expires_ms=NOW + 604800001), c) == "VALUE"
    assert code_of(j(created_ms=2**64 - 1, expires_ms=2**64 - 1), c) == "VALUE"
    assert code_of(j(created_ms=2**63 - 1, expires_ms=2**63 - 1), c) == "VALUE"
    assert code_of(j(created_ms=2**63 - 2, expires_ms=2**63 - 1), c) == "EXPIRED"  # future
    d = lambda **kw: G.dispatch_frames(**kw)  # noqa: E731
    assert code_of(d(not_before_ms=NOW, expires_ms=NOW), G.ctx_agent()) == "VALUE"
    assert code_of(d(not_before_ms=NOW, expires_ms=NOW + 86400001), G.ctx_agent()) == "VALUE"


# ------------------------------------------------------------------------------------------
# DISPATCH at an agent: steps 7-13


def test_dispatch_embedded_job_altered():
    original = G.job_body()
    altered = G.job_body(targets=[HOST, "web-02", "db-01", "evil"])
    frames = G.dispatch_frames(jbody=altered, jsig=P.sign("JOB", original, G.K_OP))
    assert code_of(frames, G.ctx_agent()) == "BAD_SIGNATURE"
    # The DISPATCH signature itself is fine (the coordinator signed the altered body).
    frames_ok = G.dispatch_frames(jbody=original)
    P.receive(frames_ok, G.ctx_agent())


def test_dispatch_job_sig_trust():
    jb = G.job_body()
    frames = G.dispatch_frames(jbody=jb, jsig=P.sign("JOB", jb, G.K_COORD))
    assert code_of(frames, G.ctx_agent()) == "UNKNOWN_KEY"
    # A DISPATCH signed by an operator key is not trusted as a coordinator.
    assert code_of(G.dispatch_frames(key=G.K_OP), G.ctx_agent()) == "UNKNOWN_KEY"
    # The embedded signature must be a JOB signature.
    frames = G.dispatch_frames(jbody=jb, jsig=P.sign("DISPATCH", jb, G.K_OP))
    assert code_of(frames, G.ctx_agent()) == "BAD_SIGNATURE"


def test_dispatch_fields_checked_before_job():
    # A bad DISPATCH field wins over a bad embedded job signature (step 6 before 7).
    jb = G.job_body()
    frames = G.dispatch_frames(jbody=jb, jsig=bytes(96), nonce=bytes(15))
    assert code_of(frames, G.ctx_agent()) == "VALUE"
    # Step 7 before 8: a bad signature over an undecodable job.
    frames = G.dispatch_frames(jbody=b"\xc1", jsig=bytes(32) + bytes(64))
    assert code_of(frames, G.ctx_agent(trusted={"DISPATCH": [G.pk(G.K_COORD)],
                                                "JOB": [bytes(32).hex()]})) == "BAD_SIGNATURE"
    frames = G.dispatch_frames(jbody=b"\xc1", jsig=P.sign("JOB", b"\xc1", G.K_OP))
    assert code_of(frames, G.ctx_agent()) == "MALFORMED"


def test_dispatch_decoded_form():
    fields = G.dispatch()
    d = P.receive(G.dispatch_frames(), G.ctx_agent())
    assert d["job_hex"] == fields["job"].hex()
    want = G.to_json(G.job())
    want["targets"] = {"count": 3, "root": P.mth_reference(G.job()["targets"]).hex()}
    assert d["job"] == want  # a DISPATCH's job is the body: no target_list
    assert d["job_sig"] == fields["job_sig"].hex()
    assert list(d)[:8] == P.FIELD_NAMES["DISPATCH"]
    assert d["target_proof"] == {"index": 0, "path": [
        P.merkle_leaf("web-02").hex(), P.merkle_leaf("db-01").hex()]}


def test_expired():
    a = G.ctx_agent()  # code_of() and receive_fresh() work on copies: nonces are not spent
    S = G.SKEW

    def receive_fresh(frames, ctx):
        return P.receive(frames, copy.deepcopy(ctx))

    assert code_of(G.dispatch_frames(not_before_ms=NOW - 10**6, expires_ms=NOW - S - 1),
                   a) == "EXPIRED"
    receive_fresh(G.dispatch_frames(not_before_ms=NOW - 10**6, expires_ms=NOW - S), a)
    assert code_of(G.dispatch_frames(not_before_ms=NOW + S + 1, expires_ms=NOW + 10**6),
                   a) == "EXPIRED"
    receive_fresh(G.dispatch_frames(not_before_ms=NOW + S, expires_ms=NOW + 10**6), a)
    jb = G.job_body(created_ms=NOW - 10**7, expires_ms=NOW - S - 1)
    assert code_of(G.dispatch_frames(jbody=jb), a) == "EXPIRED"
    jb = G.job_body(created_ms=NOW + S + 1, expires_ms=NOW + 10**6)
    assert code_of(G.dispatch_frames(jbody=jb), a) == "EXPIRED"
    # Default skew: 30000 ms.
    ctx = G.ctx_agent()
    del ctx["skew_ms"]
    assert code_of(G.dispatch_frames(not_before_ms=NOW - 10**6, expires_ms=NOW - 30001),
                   ctx) == "EXPIRED"
    receive_fresh(G.dispatch_frames(not_before_ms=NOW - 10**6, expires_ms=NOW - 30000), ctx)
    # At the coordinator too.
    c = G.ctx_control()
    assert code_of(G.job_frames(created_ms=NOW - 10**7, expires_ms=NOW - S - 1), c) == "EXPIRED"
    assert code_of(G.job_frames(created_ms=NOW + S + 1, expires_ms=NOW + 10**6), c) == "EXPIRED"


def test_replayed():
    ctx = G.ctx_agent()
    frames = G.dispatch_frames()
    P.receive(frames, ctx)
    assert ctx["seen_nonces"] == [G.NONCE.hex()]
    assert code_of(frames, ctx) == "REPLAYED"
    # The nonce is spent even when the agent then refuses as BUSY.
    ctx = G.ctx_agent(busy_job="job-1")
    assert code_of(frames, ctx) == "BUSY"
    assert ctx.get("seen_nonces") == []  # code_of works on a copy
    P_ctx = G.ctx_agent(busy_job="job-1")
    with pytest.raises(P.ProtoError):
        P.receive(frames, P_ctx)
    assert P_ctx["seen_nonces"] == [G.NONCE.hex()]
    assert code_of(frames, P_ctx) == "REPLAYED"
    # A refused-before-step-12 dispatch does not spend its nonce.
    ctx = G.ctx_agent()
    with pytest.raises(P.ProtoError):
        P.receive(G.dispatch_frames(host_id="web-02"), ctx)
    assert ctx["seen_nonces"] == []


def test_not_target():
    assert code_of(G.dispatch_frames(host_id="web-02"), G.ctx_agent()) == "NOT_TARGET"
    jb = G.job_body(targets=["web-02"])
    assert code_of(G.dispatch_frames(jbody=jb), G.ctx_agent()) == "NOT_TARGET"
    # NOT_TARGET (step 9) before EXPIRED (step 10).
    assert code_of(G.dispatch_frames(host_id="web-02", expires_ms=NOW - 10**5,
                                     not_before_ms=NOW - 10**6), G.ctx_agent()) == "NOT_TARGET"


def test_unknown_action():
    jb = G.job_body(action="reboot", params={})
    assert code_of(G.dispatch_frames(jbody=jb), G.ctx_agent()) == "UNKNOWN_ACTION"
    assert code_of(G.job_frames(action="shell", params={}), G.ctx_control()) == "UNKNOWN_ACTION"


ROLLBACK_OK = {"to": "2.3.0", "backup": "/var/backups/odc"}


@pytest.mark.parametrize("path", [
    "/var//backups", "//", "/var/../etc", "/..", "/var/.", "/.", "/var/./b", "/var/backups/",
    "var/backups", "", "/var/\x7f", "/var/\tx", "/var/\x1b[1m",
])
def test_invalid_param_path(path):
    jb = G.job_body(params=dict(ROLLBACK_OK, backup=path))
    assert code_of(G.dispatch_frames(jbody=jb), G.ctx_agent()) == "INVALID_PARAM"
    assert P.check_path(path.encode()) is not None


@pytest.mark.parametrize("path", ["/", "/var", "/var/backups/odc", "/.hidden/..x/...", "/~a!",
                                  "/var/my backups", "/b\u00e4r", "/data/\u5907\u4efd 4.3"])
def test_valid_param_path(path):
    assert P.check_path(path.encode()) is None
    jb = G.job_body(params=dict(ROLLBACK_OK, backup=path))
    got = P.receive(G.dispatch_frames(jbody=jb), G.ctx_agent())
    assert got["job"]["params"] == dict(ROLLBACK_OK, backup=path)  # accepted, unchanged


@pytest.mark.parametrize("action,params,phase,ok", [
    ("ping", {}, "run", True),
    ("ping", {}, "preflight", False),
    ("ping", {"x": "1"}, "run", False),
    ("status", {}, "run", True),
    ("stop", {}, "run", True),
    ("start", {}, "preflight", False),
    ("preflight", {"to": "1.0", "backup": "/b"}, "run", True),
    ("preflight", {"to": "1.0", "backup": "/b"}, "preflight", False),
    ("preflight", {"to": "1.0"}, "run", False),
    ("logs", {}, "run", True),
    ("logs", {"lines": "1"}, "run", True),
    ("logs", {"lines": "10000"}, "run", True),
    ("logs", {"lines": "0"}, "run", False),
    ("logs", {"lines": "10001"}, "run", False),
    ("logs", {"lines": "010"}, "run", False),
    ("logs", {"lines": "-1"}, "run", False),
    ("logs", {"lines": "+1"}, "run", False),
    ("logs", {"lines": " 1"}, "run", False),
    ("logs", {"lines": ""}, "run", False),
    ("backup", {}, "preflight", True),
    ("backup", {"name": "a.b_c-d"}, "run", True),
    ("backup", {"name": "_x"}, "run", True),
    ("backup", {"name": ".x"}, "run", False),
    ("backup", {"name": "n" * 65}, "run", False),
    ("backup", {"name": ""}, "run", False),
    ("rollback", {"to": "_1", "backup": "/b", "dry_run": "true"}, "preflight", True),
    ("rollback", {"to": "1", "backup": "/b", "dry_run": "false"}, "run", True),
    ("rollback", {"to": "1", "backup": "/b", "dry_run": "1"}, "run", False),
    ("rollback", {"to": "-1", "backup": "/b"}, "run", False),
    ("rollback", {"to": "a:b", "backup": "/b"}, "run", False),
    ("rollback", {"to": "t" * 128, "backup": "/b"}, "run", True),
    ("rollback", {"to": "t" * 129, "backup": "/b"}, "run", False),
    ("rollback", {"backup": "/b"}, "run", False),
    ("rollback", {"to": "1", "backup": "/b"}, "undo", False),
    ("undo", {"of": "job-6"}, "run", True),
    ("undo", {"of": "job-6"}, "preflight", True),
    ("undo", {"of": "-job"}, "run", False),
    ("undo", {}, "run", False),
    ("prune", {}, "run", True),
    ("prune", {"dry_run": "true"}, "run", True),
    ("prune", {"dry_run": "yes"}, "run", False),
    ("prune", {"keep": "1"}, "run", False),
    ("prune", {}, "preflight", False),
])
def test_action_table(action, params, phase, ok):
    jb = G.job_body(action=action, params=params)
    frames = G.dispatch_frames(jbody=jb, phase=phase)
    if ok:
        assert P.receive(frames, G.ctx_agent())["job"]["action"] == action
    else:
        assert code_of(frames, G.ctx_agent()) == "INVALID_PARAM"
    # At the coordinator: the same check with phase "run".
    if phase == "run":
        jf = G.job_frames(action=action, params=params)
        if ok:
            P.receive(jf, G.ctx_control())
        else:
            assert code_of(jf, G.ctx_control()) == "INVALID_PARAM"


def test_busy_and_same_job():
    frames = G.dispatch_frames()
    assert code_of(frames, G.ctx_agent(busy_job="job-6")) == "BUSY"
    d = P.receive(frames, G.ctx_agent(busy_job="job-7"))
    assert d["job"]["job_id"] == "job-7"
    P.receive(frames, G.ctx_agent(busy_job=None))
    # REPLAYED (step 12) before BUSY (step 13).
    assert code_of(frames, G.ctx_agent(busy_job="job-6",
                                       seen_nonces=[G.NONCE.hex()])) == "REPLAYED"


# ------------------------------------------------------------------------------------------
# Agent messages at the coordinator


def test_denied():
    c = G.ctx_coord()
    assert code_of(P.encode("HELLO", G.hello(host_id="web-02")), c) == "DENIED"
    assert code_of(P.encode("HEARTBEAT", G.heartbeat(host_id="web-02")), c) == "DENIED"
    assert code_of(P.encode("PROGRESS", G.progress(host_id="web-02")), c) == "DENIED"
    assert code_of(G.result_frames(host_id="web-02"), c) == "DENIED"
    # ACK and NACK: steps 1-6 only.
    P.receive(P.encode("ACK", G.ack(host_id="web-02")), c)
    P.receive(P.encode("NACK", G.nack(host_id="web-02")), c)
    # RESULT trusts only the sender's enrolled key.
    assert code_of(G.result_frames(key=G.K_OTHER), c) == "UNKNOWN_KEY"


# ------------------------------------------------------------------------------------------
# Generated vectors: every case must agree with receive()


def _assert_ints_in_int64(v, name):
    if isinstance(v, dict):
        for e in v.values():
            _assert_ints_in_int64(e, name)
    elif isinstance(v, list):
        for e in v:
            _assert_ints_in_int64(e, name)
    elif isinstance(v, int) and not isinstance(v, bool):
        assert P.INT64_MIN <= v <= P.INT64_MAX, (name, v)


def test_gen_cases_self_consistent(tmp_path):
    out = tmp_path / "py-vectors.json"
    subprocess.run([sys.executable, os.path.join(HERE, "gen_cases.py"), str(out)], check=True,
                   capture_output=True)
    cases = json.loads(out.read_text())
    assert not G.check_coverage(cases)
    keys = {"name", "type", "frames_hex", "signer_public_key_hex", "context", "valid", "error",
            "decoded"}
    problems = []
    for case in cases:
        if case.get("merkle"):
            assert set(case) == {"name", "merkle", "ids", "root_hex", "proofs"}, case["name"]
            assert case["merkle"] is True
            p = G.check_case(case)
            if p:
                problems.append(f"{case['name']}: {p}")
            continue
        assert set(case) == keys, case["name"]
        assert set(case["context"]) == {"receiver", "host_id", "now_ms", "skew_ms", "trusted",
                                        "seen_nonces", "busy_job"}
        assert case["context"]["receiver"] in ("agent", "coordinator", "control", "cli")
        assert case["context"]["receiver"] in P.ACCEPTED
        assert set(case["context"]["trusted"]) <= {"JOB", "DISPATCH", "RESULT"}
        if case["valid"]:
            assert case["type"] in P.ACCEPTED[case["context"]["receiver"]], case["name"]
            _assert_ints_in_int64(case["decoded"], case["name"])
        for h in case["frames_hex"]:
            assert h == h.lower()
        p = G.check_case(case)
        if p:
            problems.append(f"{case['name']}: {p}")
    assert not problems, "\n".join(problems)
    # Deterministic output.
    out2 = tmp_path / "again.json"
    subprocess.run([sys.executable, os.path.join(HERE, "gen_cases.py"), str(out2)], check=True,
                   capture_output=True)
    assert out.read_bytes() == out2.read_bytes()


# ------------------------------------------------------------------------------------------
# Section 2: the target commitment (RFC 9162's Merkle tree with SHA-256)

import hashlib  # noqa: E402


def _sha(b: bytes) -> bytes:
    return hashlib.sha256(b).digest()


def _ids(n, fmt="h{}"):
    return [fmt.format(i) for i in range(n)]


def test_merkle_leaf_and_node_definitions():
    assert P.merkle_leaf("h1") == _sha(b"\x00h1")
    assert P.merkle_leaf(b"h1") == P.merkle_leaf("h1")
    assert P.merkle_leaf("h\u00e9") == _sha(b"\x00h\xc3\xa9")  # the id's UTF-8 bytes
    l, r = _sha(b"l"), _sha(b"r")
    assert P.merkle_node(l, r) == _sha(b"\x01" + l + r)
    assert P.merkle_node(l, r) != P.merkle_node(r, l)
    # Leaves and nodes are domain-separated: a node is never a leaf of the same bytes.
    assert P.merkle_node(l, r) != _sha(b"\x00" + l + r)


def test_merkle_spec_example():
    L, N = P.merkle_leaf, P.merkle_node
    ids = ["h1", "h2", "h3"]
    root = N(N(L("h1"), L("h2")), L("h3"))
    assert P.merkle_root(ids) == P.mth_reference(ids) == root
    assert P.merkle_path(2, ids) == [N(L("h1"), L("h2"))]
    assert P.merkle_path(0, ids) == [L("h2"), L("h3")]
    assert P.merkle_path(1, ids) == [L("h1"), L("h3")]
    for i, x in enumerate(ids):
        assert P.merkle_verify(x, i, 3, root, P.merkle_path(i, ids))


def test_merkle_single_and_two():
    assert P.merkle_root(["h1"]) == P.merkle_leaf("h1")  # MTH of one id is its leaf
    assert P.merkle_path(0, ["h1"]) == []
    assert P.merkle_verify("h1", 0, 1, P.merkle_leaf("h1"), [])
    assert not P.merkle_verify("h2", 0, 1, P.merkle_leaf("h1"), [])
    two = ["a", "b"]
    assert P.merkle_root(two) == P.merkle_node(P.merkle_leaf("a"), P.merkle_leaf("b"))
    assert P.merkle_path(0, two) == [P.merkle_leaf("b")]
    assert P.merkle_path(1, two) == [P.merkle_leaf("a")]


def test_merkle_split_is_largest_power_of_two_below_n():
    assert [P._split(n) for n in (2, 3, 4, 5, 8, 9, 16, 17, 10000)] == [
        1, 2, 2, 4, 4, 8, 8, 16, 8192]
    # Five ids: MTH = NODE(MTH(first 4), LEAF(5th)), the 5th moves up unchanged.
    ids = _ids(5)
    L, N = P.merkle_leaf, P.merkle_node
    assert P.merkle_root(ids) == N(N(N(L("h0"), L("h1")), N(L("h2"), L("h3"))), L("h4"))
    assert P.merkle_path(4, ids) == [P.mth_reference(ids[:4])]


@pytest.mark.parametrize("n", range(1, 71))
def test_merkle_tree_matches_recursive_definition(n):
    ids = _ids(n)
    tree = P.MerkleTree(ids)
    assert tree.root == P.mth_reference(ids)
    for i in range(n):
        path = tree.path(i)
        assert path == P.path_reference(i, ids), i
        assert len(path) <= (n - 1).bit_length()  # at most ceil(log2 n) hashes
        assert P.merkle_verify(ids[i], i, n, tree.root, path), i


def test_merkle_10000():
    ids = _ids(10000, "host-{:05d}")
    tree = P.MerkleTree(ids)
    assert tree.root == P.mth_reference(ids) == P.merkle_root(ids)
    for i in range(10000):  # every position verifies, within 14 hashes
        path = tree.path(i)
        assert len(path) <= 14
        assert P.merkle_verify(ids[i], i, 10000, tree.root, path), i
    for i in (0, 1, 4095, 4096, 8191, 8192, 9998, 9999, 5000, 1234):
        assert tree.path(i) == P.path_reference(i, ids), i
    assert not P.merkle_verify(ids[0], 1, 10000, tree.root, tree.path(0))
    assert not P.merkle_verify(ids[9999], 9999, 10000, tree.root, tree.path(9998))


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 16, 17, 33])
def test_merkle_verify_rejects_tampered_proofs(n):
    ids = _ids(n)
    tree = P.MerkleTree(ids)
    root = tree.root
    for i in range(n):
        path = tree.path(i)
        def v(p, idx=i, x=ids[i]):
            return P.merkle_verify(x, idx, n, root, p)

        assert v(path)
        for k in range(len(path)):  # any flipped bit of any hash
            for bit in (0, 255):
                h = bytearray(path[k])
                h[bit // 8] ^= 1 << (bit % 8)
                assert not v(path[:k] + [bytes(h)] + path[k + 1:]), (i, k, bit)
        if path:
            assert not v(path[:-1])  # too short
            assert not v(path[1:])
            assert not v([])
            if len(path) > 1 and path[0] != path[1]:
                assert not v(path[::-1])  # order matters
        assert not v(path + [bytes(32)])  # too long
        assert not v(path + [root])
        assert not P.merkle_verify(ids[i] + "x", i, n, root, path)  # another id
        assert not P.merkle_verify(ids[i], i, n, bytes(32), path)  # another root
        for j in range(n):  # another position with this path, or this id with its path
            if j != i:
                assert not P.merkle_verify(ids[i], j, n, root, path), (i, j)
                assert not P.merkle_verify(ids[j], i, n, root, path), (i, j)
        # index >= count fails, whatever the path.
        for bad in (n, n + 1, 2 * n, 2**63 - 1):
            assert not P.merkle_verify(ids[i], bad, n, root, path)
            assert not P.merkle_verify(ids[i], bad, n, root, [])


def test_merkle_verify_is_the_pages_algorithm():
    """The verification run by hand on the spec example, step by step."""
    L, N = P.merkle_leaf, P.merkle_node
    root = N(N(L("h1"), L("h2")), L("h3"))
    # i = 2, n = 3: fn = 2, sn = 2 -> fn == sn: r = NODE(h, r); fn even and != 0: fn = 1,
    # sn = 1; then fn = 0, sn = 0 -> succeed with r == root.
    assert P.merkle_verify("h3", 2, 3, root, [N(L("h1"), L("h2"))])
    # The same with an extra hash: sn == 0 at the second -> fail.
    assert not P.merkle_verify("h3", 2, 3, root, [N(L("h1"), L("h2")), bytes(32)])
    # Stopping early (sn != 0 at the end) fails even if r happened to be the root.
    assert not P.merkle_verify("h1", 0, 3, N(L("h1"), L("h2")), [L("h2")])


def test_target_proof_helper():
    ids = ["db-01", "web-01", "web-02"]
    p = P.target_proof(ids, "web-02")
    assert p == {"index": 2, "path": P.merkle_path(2, ids)}
    with pytest.raises(KeyError):
        P.target_proof(ids, "web-03")
    assert P.targets_commitment(ids) == {"count": 3, "root": P.merkle_root(ids)}


# ------------------------------------------------------------------------------------------
# JOB: the commitment in the body, the list in frame 3


def test_job_encode_computes_commitment_and_fourth_frame():
    ids = [HOST, "web-02", "db-01"]
    frames = P.encode("JOB", G.job(targets=ids), G.K_OP)
    assert len(frames) == 4
    body = msgpack.unpackb(frames[1], raw=False)
    assert body[3] == [3, P.mth_reference(ids)]
    assert msgpack.unpackb(frames[3], raw=False) == ids
    assert frames[2] == P.sign("JOB", frames[1], G.K_OP)  # the list is not signed
    d = P.receive(frames, G.ctx_control())
    assert d["targets"] == {"count": 3, "root": P.mth_reference(ids).hex()}
    assert d["target_list"] == ids and list(d)[-1] == "target_list"
    assert list(d)[:-1] == P.FIELD_NAMES["JOB"]
    # The decoded form feeds back to the same frames.
    assert P.encode("JOB", d, G.K_OP) == frames
    # Generic receive reads and matches the list too.
    assert P.receive(frames) == d
    assert code_of(frames[:3] + [msgpack.packb(ids[:2])]) == "VALUE"


def test_job_single_target():
    frames = G.job_frames(action="ping", params={}, targets=["h1"],
                          policy=dict(G.POLICY, canary=1, batch=1, batch_pct=False))
    d = P.receive(frames, G.ctx_control())
    assert d["targets"] == {"count": 1, "root": P.merkle_leaf("h1").hex()}
    assert d["target_list"] == ["h1"]
    P.receive(G.job_frames(targets=["h1"]), G.ctx_control())  # canary 1 of 1
    e = err(G.job_frames(targets=["h1"], policy=dict(G.POLICY, canary=2)), G.ctx_control())
    assert e.code_name == "VALUE" and "canary" in str(e)


def test_job_count_and_root_mismatch():
    c = G.ctx_control()
    ids = [HOST, "web-02", "db-01"]
    root = P.merkle_root(ids)
    e = err(G.job_frames_list(ids[:2]), c)
    assert e.code_name == "VALUE" and "count" in str(e)
    assert code_of(G.job_frames_list(ids + ["db-02"]), c) == "VALUE"
    e = err(G.job_frames_list([ids[1], ids[0], ids[2]]), c)  # same set, another order
    assert e.code_name == "VALUE" and "root" in str(e)
    assert code_of(G.forged_job_frames(2, root, ids), c) == "VALUE"
    assert code_of(G.forged_job_frames(3, bytes(32), ids), c) == "VALUE"
    P.receive(G.forged_job_frames(3, root, ids), c)
    # The list is bound by the root, not by the signature: a changed list is VALUE.
    e = err(G.job_frames_list([HOST, "web-02", "evil-01"]), c)
    assert e.code_name == "VALUE" and "target_list" in str(e)


def test_job_target_list_field_rules():
    c = G.ctx_control()
    e = err(P.encode("JOB", G.job(targets=[HOST, "a", HOST]), G.K_OP), c)
    assert e.code_name == "VALUE" and "target_list[2]" in str(e) and "duplicate" in str(e)
    # First failure in order: the duplicate before a later too-long id, and the reverse.
    assert code_of(P.encode("JOB", G.job(targets=[HOST, HOST, "x" * 65]), G.K_OP), c) == "VALUE"
    assert code_of(P.encode("JOB", G.job(targets=[HOST, "x" * 65, HOST]), G.K_OP), c) == "LIMIT"
    # The list's own rules come before the match with the body.
    assert code_of(G.job_frames_list([HOST, 1]), c) == "SCHEMA"
    assert code_of(G.job_frames_list([HOST, "x" * 65]), c) == "LIMIT"
    assert code_of(G.job_frames_list([HOST, "bad id", "db-01"]), c) == "VALUE"
    assert code_of(G.job_frames_list([]), c) == "VALUE"
    assert code_of(G.job_frames_list(msgpack.packb({HOST: 1})), c) == "SCHEMA"
    assert code_of(G.job_frames_list(msgpack.packb(HOST)), c) == "SCHEMA"
    # The structural scan, as for a body.
    assert code_of(G.job_frames_list(b""), c) == "MALFORMED"
    assert code_of(G.job_frames_list(b"\xc1"), c) == "MALFORMED"
    tl = G.default_target_list()
    assert code_of(G.job_frames_list(tl[:-1]), c) == "MALFORMED"
    assert code_of(G.job_frames_list(tl + b"\x00"), c) == "TRAILING"
    assert code_of(G.job_frames_list(b"\x91" * 6 + b"\x90"), c) == "DEPTH"
    assert code_of(G.job_frames_list(b"\x91\xca\x00\x00\x00\x00"), c) == "SCHEMA"
    assert code_of(G.job_frames_list(b"\xdd\x00\x01\x86\xa1"), c) == "LIMIT"


def test_job_target_list_bounds():
    c = G.ctx_control()
    ids = _ids(10000, "host-{:05d}")
    d = P.receive(P.encode("JOB", G.job(action="ping", params={}, targets=ids), G.K_OP), c)
    assert d["targets"]["count"] == 10000 and d["target_list"] == ids
    # 10001: the signed count is out of range (the body is read first)...
    e = err(P.encode("JOB", G.job(targets=ids + ["x"]), G.K_OP), c)
    assert e.code_name == "VALUE" and "targets.count" in str(e)
    # ...and a list of 10001 under a count of 10000 is LIMIT.
    assert code_of(G.forged_job_frames(10000, P.merkle_root(ids), ids + ["x"]), c) == "LIMIT"
    # Frame 3's size: 1048576 bytes pass step 4 (here: then TRAILING), 1048577 are TOO_BIG.
    tl = G.default_target_list()
    assert code_of(G.job_frames_list(tl.ljust(1048576, b"\x00")), c) == "TRAILING"
    assert code_of(G.job_frames_list(tl.ljust(1048577, b"\x00")), c) == "TOO_BIG"
    e = err(G.job_frames_list(b"\x00" * 1048577), c)
    assert "target_list" in str(e)


def test_job_step_order():
    c = G.ctx_control()
    big = b"\x00" * 1048577
    # Step 4 (the list's size) before step 5 (key, signature).
    assert code_of(G.job_frames_list(big, key=G.K_OTHER), c) == "TOO_BIG"
    fr = G.job_frames_list(big)
    assert code_of(fr[:2] + [fr[2][:95] + bytes([fr[2][95] ^ 1]), fr[3]], c) == "TOO_BIG"
    # The body's TOO_BIG and the list's are both step 4.
    assert code_of([P.header(P.JOB), b"\x00" * 1048577, bytes(96), b"\x90"], c) == "TOO_BIG"
    # Step 5 before the list is read.
    assert code_of(G.job_frames_list(b"\xc1", key=G.K_OTHER), c) == "UNKNOWN_KEY"
    fr = G.job_frames_list(b"\xc1")
    assert code_of(fr[:2] + [fr[2][:40] + bytes([fr[2][40] ^ 1]) + fr[2][41:], fr[3]],
                   c) == "BAD_SIGNATURE"
    # Step 6 (the body) before the list.
    assert code_of(G.job_frames(operator=5)[:3] + [b"\xc1"], c) == "SCHEMA"
    assert code_of(G.job_frames(operator="")[:3] + [b""], c) == "VALUE"
    # The list (and its match) before EXPIRED, UNKNOWN_ACTION and INVALID_PARAM.
    old = dict(created_ms=NOW - 10**7, expires_ms=NOW - G.SKEW - 1)
    assert code_of(G.job_frames(**old), c) == "EXPIRED"
    assert code_of(G.job_frames_list(b"", **old), c) == "MALFORMED"
    assert code_of(G.job_frames_list([HOST], **old), c) == "VALUE"
    assert code_of(G.job_frames_list([HOST], action="shell", params={}), c) == "VALUE"
    assert code_of(G.job_frames(targets=[HOST, HOST], params={"to": "1"}), c) == "VALUE"
    assert code_of(G.job_frames(params={"to": "1"}), c) == "INVALID_PARAM"


def test_job_targets_field_rules():
    c = G.ctx_control()
    root = P.merkle_root([HOST, "web-02", "db-01"])

    def raw(targets_raw, **over):
        body = G.raw_body("JOB", G.job(**over), targets=targets_raw)
        return [P.header(P.JOB), body, P.sign("JOB", body, G.K_OP), G.default_target_list()]

    P.receive(raw(msgpack.packb([3, root])), c)
    assert code_of(raw(msgpack.packb([HOST, "web-02", "db-01"])), c) == "SCHEMA"  # old form
    assert code_of(raw(msgpack.packb([3])), c) == "SCHEMA"
    assert code_of(raw(msgpack.packb([3, root, 1])), c) == "SCHEMA"
    assert code_of(raw(msgpack.packb({"count": 3, "root": root})), c) == "SCHEMA"
    assert code_of(raw(msgpack.packb([-3, root])), c) == "SCHEMA"
    assert code_of(raw(msgpack.packb([3, root.hex()])), c) == "SCHEMA"
    assert code_of(raw(msgpack.packb([0, root])), c) == "VALUE"
    assert code_of(raw(msgpack.packb([10001, root])), c) == "VALUE"
    assert code_of(raw(b"\x92\xcf\x80" + bytes(7) + msgpack.packb(root)), c) == "VALUE"
    assert code_of(raw(msgpack.packb([3, root[:31]])), c) == "VALUE"
    assert code_of(raw(msgpack.packb([3, root + b"\x00"])), c) == "LIMIT"
    assert code_of(raw(msgpack.packb([10001, root + b"\x00"])), c) == "VALUE"  # count first
    # canary <= the signed count, checked at canary.
    ids = [HOST, "web-02", "db-01"]
    P.receive(G.job_frames(policy=dict(G.POLICY, canary=3)), c)
    e = err(G.job_frames(policy=dict(G.POLICY, canary=4)), c)
    assert e.code_name == "VALUE" and "canary" in str(e)
    e = err(G.forged_job_frames(2, root, ids, policy=dict(G.POLICY, canary=3)), c)
    assert e.code_name == "VALUE" and "canary" in str(e)


def test_decode_target_list_alone():
    ids = ["a", "b", "c"]
    assert P.decode_target_list(msgpack.packb(ids)) == ids
    assert P.decode_target_list(msgpack.packb(ids),
                                {"count": 3, "root": P.merkle_root(ids).hex()}) == ids
    with pytest.raises(P.ProtoError) as info:
        P.decode_target_list(msgpack.packb(ids), {"count": 3, "root": "00" * 32})
    assert info.value.code_name == "VALUE"
    with pytest.raises(P.ProtoError) as info:
        P.decode_target_list(bytes(1048577))
    assert info.value.code_name == "TOO_BIG"


# ------------------------------------------------------------------------------------------
# DISPATCH: target_proof and step 9


def test_dispatch_target_proof_types_and_bounds():
    a = G.ctx_agent()
    good = G.proof_for([HOST, "web-02", "db-01"], HOST)
    P.receive(G.dispatch_frames(target_proof=good), G.ctx_agent())

    def raw(proof_raw, **over):
        body = G.raw_body("DISPATCH", G.dispatch(**over), target_proof=proof_raw)
        return [P.header(P.DISPATCH), body, P.sign("DISPATCH", body, G.K_COORD)]

    P.receive(raw(msgpack.packb([0, good["path"]])), G.ctx_agent())
    assert code_of(raw(b"\xc0"), a) == "SCHEMA"
    assert code_of(raw(msgpack.packb({"index": 0, "path": good["path"]})), a) == "SCHEMA"
    assert code_of(raw(msgpack.packb([0])), a) == "SCHEMA"
    assert code_of(raw(msgpack.packb([-1, good["path"]])), a) == "SCHEMA"
    assert code_of(raw(b"\x92\xcf\x80" + bytes(7) + msgpack.packb(good["path"])), a) == "VALUE"
    assert code_of(raw(msgpack.packb([0, [h.hex() for h in good["path"]]])), a) == "SCHEMA"
    d = lambda path, index=0: G.dispatch_frames(  # noqa: E731
        target_proof={"index": index, "path": path})
    assert code_of(d([bytes(31)]), a) == "VALUE"
    assert code_of(d([bytes(33)]), a) == "LIMIT"
    assert code_of(d([bytes(32)] * 33), a) == "LIMIT"
    assert code_of(d([b""] * 33), a) == "LIMIT"  # the array's bound before its elements
    assert code_of(d([bytes(32)] * 32), a) == "NOT_TARGET"  # decodes; step 9 refuses
    # The DISPATCH fields (step 6) before the job's signature (step 7).
    assert code_of(raw(msgpack.packb([-1, []]), jsig=bytes(96)), a) == "SCHEMA"
    # Without field 7: 7 fields is SCHEMA.
    body = G.array_header(7) + b"".join(G.raw_fields("DISPATCH", G.dispatch())[:7])
    assert code_of(G.signed("DISPATCH", body, G.K_COORD), a) == "SCHEMA"


def test_not_target_host_not_in_list():
    a = G.ctx_agent()
    others = ["web-02", "db-01", "db-02"]
    jb = G.job_body(targets=others)
    for i in range(3):  # whatever position's proof the coordinator sends
        frames = G.dispatch_frames(jbody=jb, target_proof=G.proof_for(others, None, i))
        e = err(frames, a)
        assert e.code_name == "NOT_TARGET" and "target_proof" in str(e)
    # The dispatch is valid for the host it names, at its own agent.
    for i, h in enumerate(others):
        frames = G.dispatch_frames(jbody=jb, host_id=h, target_proof=G.proof_for(others, h))
        assert P.receive(frames, G.ctx_agent(host_id=h))["target_proof"]["index"] == i
        # ...and not at ours (host_id first), nor with our host_id and its proof.
        assert code_of(frames, a) == "NOT_TARGET"


def test_not_target_tampered_proofs():
    a = G.ctx_agent()
    ids = [HOST, "web-02", "db-01"]
    good = G.proof_for(ids, HOST)
    d = lambda **p: G.dispatch_frames(target_proof=dict(good, **p))  # noqa: E731
    P.receive(d(), G.ctx_agent())
    assert code_of(d(index=3), a) == "NOT_TARGET"  # index == count
    assert code_of(d(index=4), a) == "NOT_TARGET"
    assert code_of(d(index=2**63 - 1), a) == "NOT_TARGET"
    assert code_of(d(index=1), a) == "NOT_TARGET"
    assert code_of(d(path=good["path"][::-1]), a) == "NOT_TARGET"
    assert code_of(d(path=good["path"][:1]), a) == "NOT_TARGET"
    assert code_of(d(path=good["path"] + [bytes(32)]), a) == "NOT_TARGET"
    assert code_of(d(path=[]), a) == "NOT_TARGET"
    for k in range(2):
        for pos in (0, 31):
            h = bytearray(good["path"][k])
            h[pos] ^= 0x80
            path = list(good["path"])
            path[k] = bytes(h)
            assert code_of(d(path=path), a) == "NOT_TARGET"
    # A proof from another list (same position) or of another host.
    assert code_of(G.dispatch_frames(target_proof=G.proof_for([HOST, "x", "y"], HOST)),
                   a) == "NOT_TARGET"
    assert code_of(G.dispatch_frames(target_proof=G.proof_for(ids, "web-02")), a) == "NOT_TARGET"
    # Step 9 before 10, 11, 12.
    bad = dict(good, index=1)
    assert code_of(G.dispatch_frames(target_proof=bad, not_before_ms=NOW - 10**6,
                                     expires_ms=NOW - 10**5), a) == "NOT_TARGET"
    assert code_of(G.dispatch_frames(jbody=G.job_body(action="reboot", params={}),
                                     target_proof=bad), a) == "NOT_TARGET"
    ctx = G.ctx_agent(seen_nonces=[G.NONCE.hex()])
    assert code_of(G.dispatch_frames(target_proof=bad), ctx) == "NOT_TARGET"
    # A NOT_TARGET dispatch does not spend its nonce.
    ctx = G.ctx_agent()
    with pytest.raises(P.ProtoError):
        P.receive(G.dispatch_frames(target_proof=bad), ctx)
    assert ctx["seen_nonces"] == []


def test_dispatch_single_target_job():
    a = G.ctx_agent()
    jb = G.job_body(action="ping", params={}, targets=[HOST],
                    policy=dict(G.POLICY, canary=0))
    d = P.receive(G.dispatch_frames(jbody=jb), a)
    assert d["target_proof"] == {"index": 0, "path": []}
    assert d["job"]["targets"] == {"count": 1, "root": P.merkle_leaf(HOST).hex()}
    assert code_of(G.dispatch_frames(jbody=jb, target_proof={"index": 0, "path": [bytes(32)]}),
                   a) == "NOT_TARGET"
    assert code_of(G.dispatch_frames(jbody=jb, target_proof={"index": 1, "path": []}),
                   a) == "NOT_TARGET"


@pytest.mark.parametrize("n", [2, 3, 5, 7, 8, 9, 17, 70])
def test_dispatch_every_position(n):
    ids = _ids(n, "web-{:02d}")
    jb = G.job_body(action="ping", params={}, targets=ids, policy=dict(G.POLICY, canary=0))
    tree = P.MerkleTree(ids)
    for i, h in enumerate(ids):
        proof = {"index": i, "path": tree.path(i)}
        frames = G.dispatch_frames(jbody=jb, host_id=h, target_proof=proof)
        assert P.receive(frames, G.ctx_agent(host_id=h))["target_proof"]["index"] == i
        j = (i + 1) % n  # the neighbour's proof does not admit this host
        other = {"index": j, "path": tree.path(j)}
        frames = G.dispatch_frames(jbody=jb, host_id=h, target_proof=other)
        assert code_of(frames, G.ctx_agent(host_id=h)) == "NOT_TARGET"


def test_dispatch_of_a_10000_target_job_stays_small():
    ids = _ids(10000, "host-{:05d}")
    jb = G.job_body(action="ping", params={}, targets=ids)
    assert len(jb) < 400
    tree = P.MerkleTree(ids)
    for i in (0, 5000, 9999):
        proof = {"index": i, "path": tree.path(i)}
        frames = G.dispatch_frames(jbody=jb, host_id=ids[i], target_proof=proof)
        assert len(frames[1]) < len(jb) + 700
        P.receive(frames, G.ctx_agent(host_id=ids[i]))


# ------------------------------------------------------------------------------------------
# Section 7, "Answers": what a refusal is answered with, and what an agent's NACK names


def test_refs_name_only_what_verified():
    nonce = G.NONCE.hex()
    good = G.dispatch_frames()
    # The coordinator's signature does not verify: nothing, though the body would decode.
    bad_sig = bytearray(good[2])
    bad_sig[40] ^= 0x01
    e = err([good[0], good[1], bytes(bad_sig)], G.ctx_agent())
    assert e.code_name == "BAD_SIGNATURE" and e.refs == P.no_refs()
    assert err(good, G.ctx_agent(trusted={"DISPATCH": [], "JOB": [G.pk(G.K_OP)]})).refs == \
        P.no_refs()
    # Step 6: signed, but the body does not decode: nothing.
    e = err(G.dispatch_frames(phase="Run"), G.ctx_agent())
    assert e.code_name == "VALUE" and e.refs == P.no_refs()
    # Step 7: the DISPATCH verified, its job's signature did not: the DISPATCH's fields only.
    jsig = bytearray(P.sign("JOB", G.job_body(), G.K_OP))
    jsig[40] ^= 0x01
    e = err(G.dispatch_frames(jsig=bytes(jsig)), G.ctx_agent())
    assert e.code_name == "BAD_SIGNATURE"
    assert e.refs == {"job_id": "", "host_id": G.HOST, "step": "run", "nonce": nonce}
    # Step 9 on: the job's id too, and the DISPATCH's own host_id.
    e = err(G.dispatch_frames(host_id="web-02"), G.ctx_agent())
    assert e.code_name == "NOT_TARGET"
    assert e.refs == {"job_id": G.job()["job_id"], "host_id": "web-02", "step": "run",
                      "nonce": nonce}
    # Accepted: dispatch_refs of the decoded form.
    d = P.receive(G.dispatch_frames(phase="preflight", jbody=G.job_body(
        action="backup", params={})), G.ctx_agent())
    assert P.dispatch_refs(d) == {"job_id": G.job()["job_id"], "host_id": G.HOST,
                                  "step": "preflight", "nonce": nonce}


def test_own_param_rule_is_step_11():
    seen = [G.NONCE.hex()]
    ctx = G.ctx_agent(seen_nonces=seen, busy_job="job-other",
                      params_ok=lambda job: "outside the backup roots (/srv)")
    e = err(G.dispatch_frames(), ctx)
    assert e.code_name == "INVALID_PARAM" and "outside the backup roots" in e.message
    ctx = G.ctx_agent(params_ok=lambda job: None)
    assert P.receive(G.dispatch_frames(), ctx)["nonce"] == G.NONCE.hex()


def test_answers_per_receiver():
    d = G.dispatch_frames()
    hb = G.unsigned("HEARTBEAT", b"\xc1")
    ack = G.unsigned("ACK", b"\xc1")
    v2 = [b"OD\x02\x11"] + d[1:]
    assert P.answers("agent", d, "BAD_SIGNATURE") == "NACK"
    assert P.answers("agent", v2, "VERSION") == "NACK"
    assert P.answers("agent", [b"XD\x01\x11"] + d[1:], "HEADER") is None
    assert P.answers("agent", G.unsigned("WELCOME", b"\xc1"), "MALFORMED") is None
    assert P.answers("coordinator", hb, "MALFORMED") == "NACK"
    assert P.answers("coordinator", hb, "DENIED") is None
    assert P.answers("coordinator", ack, "MALFORMED") is None
    assert P.answers("coordinator", [b"OD\x02\x7f", b""], "TYPE") is None
    assert P.answers("coordinator", d, "TYPE") == "NACK"
    assert P.answers("control", [b"junk"], "HEADER") == "REPLY"
    assert P.answers("cli", G.unsigned("REPLY", b"\xc1"), "MALFORMED") is None


def test_frame_limits():
    assert P.frame_limit("agent") == 1052672 + 4096
    assert P.frame_limit("coordinator") == 65536 + 4096
