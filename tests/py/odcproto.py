"""Independent Python implementation of the odc-fleet wire protocol, version 2.

Written from PROTOCOL.md alone (never from the C code under proto/ or common/), so that
agreement between the two on tests/vectors/proto-v2.json means the page is a sufficient
contract.  Only the standard library, msgpack (for encoding) and PyNaCl are used.

Public API
----------
encode(type_name, fields, signing_key=None) -> list[bytes]
    Frames (header, body, for signed types the 96-byte signature frame, and for a signed
    JOB the target list, frame 3).
    ``fields`` maps field names (section 4) to values: bins as bytes (or lowercase hex
    strings, so a ``decoded`` object can be fed back), strs as str, nested rows as dicts
    with their field names (or lists), maps as dicts.  A JOB's ``targets`` may be given as
    the list of target ids: the body then carries their count and Merkle root (section 2)
    and the list is frame 3; or as the commitment itself ({count, root} or [count, root]),
    with the list in ``target_list`` (a decoded JOB feeds back this way).  Nothing is
    validated: the encoder can produce invalid messages on purpose.
merkle_leaf / merkle_node / merkle_root / merkle_path / merkle_verify
    Section 2's target commitment (RFC 9162, 2.1, with SHA-256); mth_reference and
    path_reference are the recursive definitions, word for word, to check the others.
target_proof(ids, host_id) -> {"index", "path"}
    A DISPATCH's field 7 for host_id in the list ids.
receive(frames, context=None) -> dict
    Section 7's receive procedures; returns the ``decoded`` form of section 10 or raises
    ProtoError.  ``context`` is the section 10 context object (receiver -- `agent`,
    `coordinator`, `control` or `cli`, section 7's table --, host_id, now_ms, skew_ms,
    trusted, seen_nonces, busy_job).  With no context (or no ``receiver``) the
    generic procedure runs: every type is accepted, steps 1-6 verify signatures against the
    key in the frame without a trust check, a JOB's target list (frame 3) is read and
    matched with the body, DISPATCH's job is verified and decoded (steps 7-8, again
    without trust) and none of steps 9-13 run.
    A JOB's decoded form ends with ``target_list`` (frame 3's ids); its ``targets`` is
    {count, root}.  A DISPATCH's ``target_proof`` is {index, path}; at an agent, step 9
    verifies it (section 2) against the embedded job's count and root.
    A DISPATCH accepted at an agent appends its nonce (hex) to ``context["seen_nonces"]``
    when that is a list (step 12: "Otherwise it is stored").  A refusal's ProtoError carries
    ``refs``: what an agent's NACK of the message names (section 7, "Answers"); an accepted
    DISPATCH's are dispatch_refs(decoded).  An optional context key ``params_ok`` (not part
    of section 10) stands for an agent's own parameter rule at step 11 (its backup roots).
answers(receiver, frames, code_name) -> "NACK" | "REPLY" | None
    Section 7, "Answers": whether a refused message is answered, and how.
frame_limit(receiver)
    Section 1, "Frame limits", for the agent and the coordinator's agent socket.

Reading choices where the page is still open to more than one reading are marked
"READING:" (each says what the other reading would be).
"""

from __future__ import annotations

import hashlib
import re
import time

import msgpack
import nacl.exceptions
import nacl.signing

# --------------------------------------------------------------------------------------
# Constants

PROTOCOL_VERSION = 2
MAGIC = b"OD"
HEADER_LEN = 4
SIG_FRAME_LEN = 96
PUBLIC_KEY_LEN = 32
SIGNATURE_LEN = 64
DOMAIN_PREFIX = b"odc-fleet/1/"

HELLO = 0x01
WELCOME = 0x02
HEARTBEAT = 0x03
PROGRESS = 0x04
RESULT = 0x05
ACK = 0x06
NACK = 0x07
JOB = 0x10
DISPATCH = 0x11
REQUEST = 0x20
REPLY = 0x21

TYPE_CODES = {
    "HELLO": HELLO,
    "WELCOME": WELCOME,
    "HEARTBEAT": HEARTBEAT,
    "PROGRESS": PROGRESS,
    "RESULT": RESULT,
    "ACK": ACK,
    "NACK": NACK,
    "JOB": JOB,
    "DISPATCH": DISPATCH,
    "REQUEST": REQUEST,
    "REPLY": REPLY,
}
TYPE_NAMES = {code: name for name, code in TYPE_CODES.items()}

SIGNED_TYPES = frozenset({"RESULT", "JOB", "DISPATCH"})
FRAME_COUNTS = {name: (3 if name in SIGNED_TYPES else 2) for name in TYPE_CODES}
FRAME_COUNTS["JOB"] = 4  # header, body, signature, target list (section 1)
MAX_BODY = {
    "HELLO": 8192,
    "WELCOME": 1024,
    "HEARTBEAT": 8192,
    "PROGRESS": 4096,
    "RESULT": 65536,
    "ACK": 1024,
    "NACK": 2048,
    "JOB": 1048576,
    "DISPATCH": 1052672,
    "REQUEST": 1052672,
    "REPLY": 16777216,
}
# Section 1 / 4: a JOB message's frame 3, the target list, is at most this many bytes.
MAX_TARGET_LIST = 1048576
MAX_TARGETS = 10000
HASH_LEN = 32  # SHA-256
MAX_PROOF = 32  # DISPATCH target_proof.path: [bin(32); <=32]

# Types each receiver accepts (section 7's table; anything else is TYPE at step 2).
ACCEPTED = {
    "agent": frozenset({"WELCOME", "ACK", "NACK", "DISPATCH"}),
    "coordinator": frozenset({"HELLO", "HEARTBEAT", "PROGRESS", "RESULT", "ACK", "NACK"}),
    "control": frozenset({"JOB", "REQUEST"}),
    "cli": frozenset({"REPLY"}),
}

# Section 1, "Frame limits": an agent and the coordinator's agent socket read frames of at most
# the largest body they accept plus FRAME_SLACK bytes of content; libzmq closes a connection
# that brings a longer one.  Under CURVE libzmq counts a frame CURVE_OVERHEAD bytes longer.
FRAME_SLACK = 4096
CURVE_OVERHEAD = 33


def frame_limit(receiver: str) -> int:
    """Section 1: the longest frame content an agent or the coordinator's agent socket reads."""
    return max(MAX_BODY[t] for t in ACCEPTED[receiver]) + FRAME_SLACK


ERROR_NAMES = {
    0: "OK",
    1: "FRAMES",
    2: "HEADER",
    3: "VERSION",
    4: "TYPE",
    5: "TOO_BIG",
    6: "MALFORMED",
    7: "TRAILING",
    8: "DEPTH",
    9: "LIMIT",
    10: "SCHEMA",
    11: "VALUE",
    12: "UNKNOWN_KEY",
    13: "BAD_SIGNATURE",
    14: "EXPIRED",
    15: "REPLAYED",
    16: "NOT_TARGET",
    17: "UNKNOWN_ACTION",
    18: "INVALID_PARAM",
    19: "BUSY",
    20: "DENIED",
    21: "INTERNAL",
    22: "NOT_FOUND",
    23: "CONFLICT",
}
ERROR_CODES = {name: code for code, name in ERROR_NAMES.items()}
globals().update({"E_" + name: code for name, code in ERROR_CODES.items()})

# Section 3 bounds.
MAX_DEPTH = 6
MAX_STR = 65536
MAX_BIN = 1052672
MAX_ARRAY = 100000
MAX_MAP = 10000

DEFAULT_SKEW_MS = 30000
JOB_MAX_LIFETIME_MS = 604800000  # 7 days
DISPATCH_MAX_WINDOW_MS = 86400000  # 1 day
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
UINT_MAX = INT64_MAX  # section 3: every `uint` is 0..2^63-1, a larger positive int is VALUE
# Section 4, REPLY: body map keys are str of at most 255 bytes.
REPLY_KEY_MAX = 255


def no_refs() -> dict:
    """Section 7, "Answers": the fields of an ACK/NACK of a DISPATCH that name nothing."""
    return {"job_id": "", "host_id": "", "step": "", "nonce": ""}


class ProtoError(Exception):
    """A receive procedure refused a message: ``code`` (int), ``code_name`` (section 6), and
    ``refs``: what an agent's NACK of it names (section 7, "Answers": job_id, host_id, step,
    nonce as hex; empty strings for what was not verified before the refusal)."""

    def __init__(self, code_name: str, message: str):
        super().__init__(f"{code_name}: {message}")
        self.code_name = code_name
        self.code = ERROR_CODES[code_name]
        self.message = message
        self.refs = no_refs()


def _fail(code_name: str, where: str, what: str):
    raise ProtoError(code_name, f"{where}: {what}" if where else what)


# --------------------------------------------------------------------------------------
# Bounded structural scan (section 3, "The structural scan"), by hand over the raw bytes.
#
# The scan walks the encoding once, front to back, object by object (depth-first), and
# stops at the first problem, applying section 3's numbered checks 1-6 to each object in
# that order.  It also builds a typed tree (str and bin must stay distinct, and maps keep
# duplicate keys), so no msgpack library decides anything:
#   nil -> None, bool -> bool, int -> int, str -> MStr(bytes), bin -> MBin(bytes),
#   array -> list, map -> MMap(list of (key, value)).
#
# READING (still open): `left` is defined as "bytes after its first byte", and checks 5
# and 6 compare a length or count with "the bytes left".  Taken literally (the bytes after
# the first byte, the length/count bytes included), check 5 would let a str8 whose length
# equals `left` through although it runs past the end, and no check would then catch it.
# So "the bytes left" in checks 5 and 6 is read as the bytes after the object's header
# (after the 1/2/4 length or count bytes that check 4 made sure are there); check 4's
# "fewer bytes left" is `left` itself.  The two readings give different codes only for an
# array16/32 or map16/32 whose count is within 2/4 of the bytes after its first byte and
# whose elements then fail otherwise (e.g. `dc 00 03 ca 00`: MALFORMED here, SCHEMA on the
# literal reading).


class MStr(bytes):
    """A msgpack str (raw bytes, UTF-8 not yet validated)."""


class MBin(bytes):
    """A msgpack bin."""


class MMap(list):
    """A msgpack map: a list of (key, value) pairs, in encoding order, duplicates kept."""


_FLOAT_EXT = frozenset({0xCA, 0xCB, 0xC7, 0xC8, 0xC9, 0xD4, 0xD5, 0xD6, 0xD7, 0xD8})


class _Scanner:
    __slots__ = ("buf", "n", "pos", "where")

    def __init__(self, buf: bytes, where: str):
        self.buf = buf
        self.n = len(buf)
        self.pos = 0
        self.where = where

    def _err(self, code, what, at):
        _fail(code, self.where, f"offset {at}: {what}")

    def _header(self, k: int, start: int, what: str) -> int:
        """Check 4: the k header (or integer payload) bytes must be there; read them."""
        if self.n - self.pos < k:
            self._err("MALFORMED", f"{what} needs {k} bytes, {self.n - self.pos} left", start)
        v = int.from_bytes(self.buf[self.pos : self.pos + k], "big")
        self.pos += k
        return v

    def _bytes(self, length: int, bound: int, kind: str, start: int) -> bytes:
        """Check 5: bound (LIMIT), then the bytes left (MALFORMED)."""
        if length > bound:
            self._err("LIMIT", f"{kind} of {length} bytes exceeds {bound}", start)
        left = self.n - self.pos
        if length > left:
            self._err("MALFORMED", f"{kind} of {length} bytes, only {left} left", start)
        data = self.buf[self.pos : self.pos + length]
        self.pos += length
        return data

    def _container(self, count: int, is_map: bool, depth: int, start: int):
        """Check 6: depth (DEPTH), then bound (LIMIT), then the bytes left (MALFORMED)."""
        if depth > MAX_DEPTH:
            self._err("DEPTH", f"container at depth {depth} (max {MAX_DEPTH})", start)
        bound = MAX_MAP if is_map else MAX_ARRAY
        kind = "map" if is_map else "array"
        if count > bound:
            self._err("LIMIT", f"{kind} of {count} exceeds {bound}", start)
        need = 2 * count if is_map else count
        left = self.n - self.pos
        if need > left:
            self._err("MALFORMED", f"{kind} of {count} needs at least {need} bytes, "
                                   f"only {left} left", start)
        if is_map:
            out = MMap()
            for _ in range(count):
                k = self.value(depth + 1)
                v = self.value(depth + 1)
                out.append((k, v))
            return out
        return [self.value(depth + 1) for _ in range(count)]

    def value(self, depth: int):
        """Scan one object; ``depth`` is the depth a container starting here would have."""
        start = self.pos
        # Check 1: no byte at pos.
        if self.pos >= self.n:
            self._err("MALFORMED", "the body ended where an object was expected", start)
        b = self.buf[self.pos]
        self.pos += 1
        if b <= 0x7F:
            return b
        if b >= 0xE0:
            return b - 0x100
        if b <= 0x8F:
            return self._container(b & 0x0F, True, depth, start)
        if b <= 0x9F:
            return self._container(b & 0x0F, False, depth, start)
        if b <= 0xBF:
            return MStr(self._bytes(b & 0x1F, MAX_STR, "str", start))
        if b == 0xC0:
            return None
        if b == 0xC2:
            return False
        if b == 0xC3:
            return True
        # Check 2: 0xc1.
        if b == 0xC1:
            self._err("MALFORMED", "byte 0xc1 starts no msgpack object", start)
        # Check 3: float32/64 and every ext, whatever follows.
        if b in _FLOAT_EXT:
            kind = "floats are" if b in (0xCA, 0xCB) else "ext types are"
            self._err("SCHEMA", f"{kind} not used by this protocol (byte 0x{b:02x})", start)
        # Check 4 (header bytes), then 5 or 6.
        if 0xCC <= b <= 0xCF:
            return self._header(1 << (b - 0xCC), start, "uint")
        if 0xD0 <= b <= 0xD3:
            k = 1 << (b - 0xD0)
            v = self._header(k, start, "int")
            return v - (1 << (8 * k)) if v >> (8 * k - 1) else v
        if b in (0xC4, 0xC5, 0xC6):
            length = self._header(1 << (b - 0xC4), start, "bin header")
            return MBin(self._bytes(length, MAX_BIN, "bin", start))
        if b in (0xD9, 0xDA, 0xDB):
            length = self._header(1 << (b - 0xD9), start, "str header")
            return MStr(self._bytes(length, MAX_STR, "str", start))
        if b in (0xDC, 0xDD):
            count = self._header(2 if b == 0xDC else 4, start, "array header")
            return self._container(count, False, depth, start)
        if b in (0xDE, 0xDF):
            count = self._header(2 if b == 0xDE else 4, start, "map header")
            return self._container(count, True, depth, start)
        raise AssertionError(hex(b))  # every byte value is handled above


def scan(body: bytes, where: str = "body"):
    """Section 3 step 2 over ``body``: returns the typed tree or raises ProtoError."""
    s = _Scanner(bytes(body), where)
    obj = s.value(1)
    if s.pos != s.n:
        _fail("TRAILING", where, f"{s.n - s.pos} bytes after the first complete object")
    return obj


# --------------------------------------------------------------------------------------
# Field checks (section 3, "The field checks", and section 4).  Each checker takes
# (value, path, env) and returns the JSON form, raising SCHEMA (another msgpack type),
# LIMIT (longer than the field's maximum) or VALUE (everything else: shorter than the
# minimum, UTF-8/NUL, charset, enum, range, duplicates, cross-field rules), in that order
# for one value; rows, lists and maps check their elements in order (a map: key, then
# value, entry by entry).

ID_RE = re.compile(rb"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
STEP_RE = re.compile(rb"[a-z_]{1,32}")
LABEL_KEY_RE = re.compile(rb"[A-Za-z0-9._/-]+")
DATA_KEY_RE = re.compile(rb"[a-z0-9_.-]+")
ACTION_RE = re.compile(rb"[a-z_]+")
PARAM_KEY_RE = re.compile(rb"[a-z0-9_]+")
COMMAND_RE = re.compile(rb"[a-z_-]+")


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _utf8(v: bytes, path: str) -> str:
    try:
        s = v.decode("utf-8", "strict")  # RFC 3629: rejects overlongs, surrogates, > U+10FFFF
    except UnicodeDecodeError as e:
        _fail("VALUE", path, f"invalid UTF-8 at byte {e.start}")
    if "\x00" in s:
        _fail("VALUE", path, "contains a NUL byte")
    return s


class Str:
    def __init__(self, lo=0, hi=None, pattern=None, enum=None, rule=None, desc=""):
        self.lo, self.hi, self.pattern, self.enum, self.rule = lo, hi, pattern, enum, rule
        self.desc = desc

    def __call__(self, v, path, env):
        if not isinstance(v, MStr):
            _fail("SCHEMA", path, f"expected str, got {_kind(v)}")
        if self.hi is not None and len(v) > self.hi:
            _fail("LIMIT", path, f"str of {len(v)} bytes exceeds {self.hi}")
        s = _utf8(bytes(v), path)
        if len(v) < self.lo:
            _fail("VALUE", path, f"str of {len(v)} bytes is shorter than {self.lo}")
        if self.pattern is not None and not self.pattern.fullmatch(v):
            _fail("VALUE", path, f"{s!r} is not {self.desc or 'of the allowed characters'}")
        if self.enum is not None and s not in self.enum:
            _fail("VALUE", path, f"{s!r} is not one of {sorted(self.enum)}")
        if self.rule is not None and not self.rule(bytes(v)):
            _fail("VALUE", path, f"{s!r} is not {self.desc}")
        return s


def Id():
    return Str(1, 64, ID_RE, desc="an id")


def Ido():
    return Str(0, 64, rule=lambda b: b == b"" or ID_RE.fullmatch(b) is not None,
               desc="an id or empty")


def Step():
    return Str(1, 32, STEP_RE, desc="a step ([a-z_])")


def Enum(*values):
    return Str(enum=frozenset(values))


class Uint:
    """`uint`: a negative int is SCHEMA; above 2^63-1 (or outside the rule's range) VALUE."""

    def __init__(self, lo=0, hi=UINT_MAX, rule=None, desc=""):
        self.lo, self.hi, self.rule, self.desc = lo, hi, rule, desc

    def __call__(self, v, path, env):
        if not _is_int(v):
            _fail("SCHEMA", path, f"expected uint, got {_kind(v)}")
        if v < 0:
            _fail("SCHEMA", path, f"expected uint, got negative {v}")
        if v > UINT_MAX:
            _fail("VALUE", path, f"{v} is above 2^63-1")
        if not self.lo <= v <= self.hi:
            _fail("VALUE", path, f"{v} outside {self.lo}..{self.hi}")
        if self.rule is not None and not self.rule(v):
            _fail("VALUE", path, f"{v} is not {self.desc}")
        return v


class Int:
    """`int`: -2^63..2^63-1; a positive int above 2^63-1 is VALUE (section 3)."""

    def __call__(self, v, path, env):
        if not _is_int(v):
            _fail("SCHEMA", path, f"expected int, got {_kind(v)}")
        if not INT64_MIN <= v <= INT64_MAX:
            _fail("VALUE", path, f"{v} outside the int64 range")
        return v


class Bool:
    def __call__(self, v, path, env):
        if not isinstance(v, bool):
            _fail("SCHEMA", path, f"expected bool, got {_kind(v)}")
        return v


class Bin:
    def __init__(self, lo, hi, rule=None, desc=""):
        self.lo, self.hi, self.rule, self.desc = lo, hi, rule, desc

    def __call__(self, v, path, env):
        if not isinstance(v, MBin):
            _fail("SCHEMA", path, f"expected bin, got {_kind(v)}")
        if len(v) > self.hi:
            _fail("LIMIT", path, f"bin of {len(v)} bytes exceeds {self.hi}")
        if len(v) < self.lo:
            _fail("VALUE", path, f"bin of {len(v)} bytes is shorter than {self.lo}")
        if self.rule is not None and not self.rule(bytes(v)):
            _fail("VALUE", path, f"bin of {len(v)} bytes: {self.desc}")
        return bytes(v).hex()


class Nullable:
    def __init__(self, inner):
        self.inner = inner

    def __call__(self, v, path, env):
        return None if v is None else self.inner(v, path, env)


class Array:
    """``unique`` (a JOB's target list, "no duplicates"): a repeated element is VALUE at
    its second occurrence, right after that element's own checks (section 3: "a duplicate
    map key or a duplicate in a list that must not have any ..., each reported at its
    second occurrence (so a bad element after it is not reached)").
    READING: section 3 still names that list `targets` (and gives "an empty `targets`" as
    an example of VALUE); since the change to a Merkle commitment the list that must not
    have duplicates and must not be empty is the JOB message's frame 3, `target_list`."""

    def __init__(self, elem, lo=0, hi=MAX_ARRAY, unique=False):
        self.elem, self.lo, self.hi, self.unique = elem, lo, hi, unique

    def __call__(self, v, path, env):
        if not isinstance(v, list) or isinstance(v, MMap):
            _fail("SCHEMA", path, f"expected array, got {_kind(v)}")
        if len(v) > self.hi:
            _fail("LIMIT", path, f"array of {len(v)} exceeds {self.hi}")
        if len(v) < self.lo:
            _fail("VALUE", path, f"array of {len(v)} is shorter than {self.lo}")
        out, seen = [], set()
        for i, e in enumerate(v):
            j = self.elem(e, f"{path}[{i}]", env)
            if self.unique:
                if j in seen:
                    _fail("VALUE", f"{path}[{i}]", f"duplicate {j!r}")
                seen.add(j)
            out.append(j)
        return out


class Map:
    def __init__(self, key, val, hi):
        self.key, self.val, self.hi = key, val, hi

    def __call__(self, v, path, env):
        if not isinstance(v, MMap):
            _fail("SCHEMA", path, f"expected map, got {_kind(v)}")
        if len(v) > self.hi:
            _fail("LIMIT", path, f"map of {len(v)} pairs exceeds {self.hi}")
        return _map_pairs(v, path, env, self.key, self.val)


def _map_pairs(v, path, env, key_check, val_check):
    out = {}
    for i, (k, e) in enumerate(v):
        kpath = f"{path}{{key {i}}}"
        if not isinstance(k, MStr):
            _fail("SCHEMA", kpath, f"map keys are str, got {_kind(k)}")
        ks = key_check(k, kpath, env)
        if ks in out:
            _fail("VALUE", kpath, f"duplicate key {ks!r}")
        out[ks] = val_check(e, f"{path}.{ks}", env)
    return out


class Row:
    """A fixed array whose elements are named fields; ``post`` hooks check cross-field rules
    at the row of the field they are written in: post(value, row_so_far, env, path)."""

    def __init__(self, fields):
        self.fields = fields  # list of (name, checker[, post])

    @property
    def names(self):
        return [f[0] for f in self.fields]

    def __call__(self, v, path, env):
        if not isinstance(v, list) or isinstance(v, MMap):
            _fail("SCHEMA", path or "body", f"expected an array of {len(self.fields)}, got {_kind(v)}")
        if len(v) != len(self.fields):
            _fail("SCHEMA", path or "body",
                  f"array of {len(v)} elements, expected exactly {len(self.fields)}")
        out = {}
        for e, field in zip(v, self.fields):
            name, check = field[0], field[1]
            fpath = f"{path}.{name}" if path else name
            out[name] = check(e, fpath, env)
            if len(field) > 2:
                field[2](out[name], out, env, fpath)
        return out


class Arg:
    """REQUEST `arg` (section 4): nil, bool, `int`, str(65536) or an array of at most 10000
    str(256); a bin, a map or a nested array (an array element that is not a str) is SCHEMA."""

    def __call__(self, v, path, env):
        if v is None or isinstance(v, bool):
            return v
        if _is_int(v):
            return Int()(v, path, env)
        if isinstance(v, MStr):
            return Str(0, 65536)(v, path, env)
        if isinstance(v, list) and not isinstance(v, MMap):
            return Array(Str(0, 256), 0, 10000)(v, path, env)
        _fail("SCHEMA", path, f"an arg is nil, bool, int, str or an array of str, got {_kind(v)}")


class Body:
    """REPLY `body` (section 4): nil, bool, `int`, str, or arrays and maps of these,
    recursively, within section 3's bounds; map keys are str of at most 255 bytes (LIMIT
    above), valid UTF-8 without NUL, unique in their map.  A bin, a non-str key: SCHEMA.
    Strings have no length rule of their own (the scan's 65536 applies)."""

    def __call__(self, v, path, env):
        if v is None or isinstance(v, bool):
            return v
        if _is_int(v):
            return Int()(v, path, env)
        if isinstance(v, MStr):
            return _utf8(bytes(v), path)
        if isinstance(v, MMap):
            return _map_pairs(v, path, env, Str(0, REPLY_KEY_MAX), self)
        if isinstance(v, list):
            return [self(e, f"{path}[{i}]", env) for i, e in enumerate(v)]
        _fail("SCHEMA", path, f"a body value is nil, bool, int, str, array or map, got {_kind(v)}")


def _kind(v) -> str:
    if v is None:
        return "nil"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, MStr):
        return "str"
    if isinstance(v, MBin):
        return "bin"
    if isinstance(v, MMap):
        return "map"
    if isinstance(v, list):
        return "array"
    return type(v).__name__


# Cross-field rules -------------------------------------------------------------------


def _post_job_expires(v, row, env, path):
    created = row["created_ms"]
    if not created < v <= created + JOB_MAX_LIFETIME_MS:
        _fail("VALUE", path, f"{v} not in ({created}, created_ms + {JOB_MAX_LIFETIME_MS}]")


def _post_dispatch_expires(v, row, env, path):
    nb = row["not_before_ms"]
    if not nb < v <= nb + DISPATCH_MAX_WINDOW_MS:
        _fail("VALUE", path, f"{v} not in ({nb}, not_before_ms + {DISPATCH_MAX_WINDOW_MS}]")


def _post_policy_canary(v, row, env, path):
    n = env.get("n_targets", 0)  # the signed targets.count (section 4)
    if v > n:
        _fail("VALUE", path, f"canary {v} exceeds the {n} targets")


# Section 4: "The rules that tie two fields are checked when the second field has been
# read: batch <= 100 right after batch_pct, budget <= 100 right after budget_pct; canary <=
# number of targets at canary (targets come first); expires_ms's rule at expires_ms."


def _post_policy_batch_pct(v, row, env, path):
    if v and not 1 <= row["batch"] <= 100:
        _fail("VALUE", path, f"batch_pct with batch {row['batch']} outside 1..100")


def _post_policy_budget_pct(v, row, env, path):
    if v and not 0 <= row["budget"] <= 100:
        _fail("VALUE", path, f"budget_pct with budget {row['budget']} outside 0..100")


def _post_targets(v, row, env, path):
    env["n_targets"] = v["count"]


# Message schemas (section 4) ---------------------------------------------------------

CONTAINER = Row([
    ("container_id", Str(0, 64)),
    ("name", Str(0, 128)),
    ("image", Str(0, 256)),
    ("state", Enum("created", "restarting", "running", "removing", "paused", "exited",
                   "dead", "absent", "unknown")),
    ("health", Enum("healthy", "unhealthy", "starting", "unknown")),
    ("version", Str(0, 32)),
])

METADB = Row([
    ("host", Str(1, 255)),
    ("port", Uint(1, 65535)),
    ("tenant", Str(0, 128)),
    ("cluster", Str(0, 128)),
    ("database", Str(1, 128)),
])

POLICY = Row([
    ("canary", Uint(), _post_policy_canary),
    ("batch", Uint(1)),
    ("batch_pct", Bool(), _post_policy_batch_pct),
    ("budget", Uint()),
    ("budget_pct", Bool(), _post_policy_budget_pct),
    ("quorum_pct", Uint(0, 100)),
    ("step_deadline_s", Uint(1, 86400)),
    ("job_deadline_s", Uint(1, 604800)),
])

# JOB field 3: the target list's length and Merkle root (section 2).
TARGETS = Row([
    ("count", Uint(1, MAX_TARGETS)),
    ("root", Bin(HASH_LEN, HASH_LEN)),
])

# A JOB message's frame 3, read like a body whose one field is `target_list` (section 4).
TARGET_LIST = Array(Id(), 1, MAX_TARGETS, unique=True)

# DISPATCH field 7: where host_id stands in the list and its inclusion proof.  Only the
# types and bounds are decoding rules; whether the proof holds is step 9's question.
TARGET_PROOF = Row([
    ("index", Uint()),
    ("path", Array(Bin(HASH_LEN, HASH_LEN), 0, MAX_PROOF)),
])

_ACK_FIELDS = [
    ("ref_type", Uint(rule=lambda v: v in TYPE_NAMES, desc="a known type code")),
    ("job_id", Ido()),
    ("host_id", Ido()),
    ("step", Str(0, 32, rule=lambda b: b == b"" or STEP_RE.fullmatch(b) is not None,
                 desc="empty or a step")),
    ("nonce", Bin(0, 16, rule=lambda b: len(b) in (0, 16), desc="must be 0 or 16 bytes")),
]

SCHEMAS = {
    "HELLO": Row([
        ("host_id", Id()),
        ("agent_version", Str(1, 32)),
        ("incarnation", Bin(16, 16)),
        ("labels", Map(Str(1, 64, LABEL_KEY_RE, desc="a label key"), Str(0, 128), 32)),
        ("capabilities", Array(Str(1, 32), 0, 32)),
        ("sent_ms", Uint()),
    ]),
    "WELCOME": Row([
        ("coordinator_id", Id()),
        ("heartbeat_ms", Uint(1000, 600000)),
        ("lost_after", Uint(1, 100)),
        ("now_ms", Uint()),
    ]),
    "HEARTBEAT": Row([
        ("host_id", Id()),
        ("incarnation", Bin(16, 16)),
        ("seq", Uint()),
        ("sent_ms", Uint()),
        ("odc", Nullable(CONTAINER)),
        ("job", Nullable(Row([("job_id", Id()), ("step", Step())]))),
        ("disks", Array(Row([("path", Str(1, 4096)), ("free_bytes", Uint()),
                             ("total_bytes", Uint())]), 0, 16)),
        ("metadb", Nullable(METADB)),
    ]),
    "PROGRESS": Row([
        ("job_id", Id()),
        ("host_id", Id()),
        ("step", Step()),
        ("status", Enum("running", "ok", "failed", "skipped")),
        ("at_ms", Uint()),
        ("percent", Uint(0, 100)),
        ("message", Str(0, 512)),
    ]),
    "RESULT": Row([
        ("job_id", Id()),
        ("host_id", Id()),
        ("step", Step()),
        ("status", Enum("ok", "failed", "skipped", "interrupted")),
        ("exit_code", Int()),
        ("started_ms", Uint()),
        ("duration_ms", Uint()),
        ("message", Str(0, 1024)),
        ("output_tail", Str(0, 16384)),
        ("data", Map(Str(1, 64, DATA_KEY_RE, desc="a data key"), Str(0, 1024), 32)),
        ("final", Bool()),
        ("incarnation", Bin(16, 16)),
    ]),
    "ACK": Row(_ACK_FIELDS),
    "NACK": Row(_ACK_FIELDS + [
        ("code", Uint(1, 23)),
        ("message", Str(0, 256)),
    ]),
    "JOB": Row([
        ("job_id", Id()),
        ("action", Str(1, 32, ACTION_RE, desc="an action name ([a-z_])")),
        ("params", Map(Str(1, 32, PARAM_KEY_RE, desc="a param name"), Str(0, 4096), 32)),
        ("targets", TARGETS, _post_targets),
        ("policy", POLICY),
        ("created_ms", Uint()),
        ("expires_ms", Uint(), _post_job_expires),
        ("operator", Str(1, 64)),
        ("reason", Str(0, 256)),
    ]),
    "DISPATCH": Row([
        ("job", Bin(1, 1048576)),
        ("job_sig", Bin(96, 96)),
        ("host_id", Id()),
        ("phase", Step()),
        ("not_before_ms", Uint()),
        ("expires_ms", Uint(), _post_dispatch_expires),
        ("nonce", Bin(16, 16)),
        ("target_proof", TARGET_PROOF),
    ]),
    "REQUEST": Row([
        ("request_id", Uint()),
        ("command", Str(1, 32, COMMAND_RE, desc="a command ([a-z_-])")),
        ("args", Map(Str(1, 64), Arg(), 64)),
    ]),
    "REPLY": Row([
        ("request_id", Uint()),
        ("code", Uint(0, 23)),
        ("message", Str(0, 1024)),  # "empty on success" is a convention, not checked
        ("body", Body()),
    ]),
}

FIELD_NAMES = {name: schema.names for name, schema in SCHEMAS.items()}


def decode_body(type_name: str, body: bytes, where: str = "") -> dict:
    """Section 3 (steps 1-3) for a body of ``type_name``: TOO_BIG, the scan, the fields."""
    if len(body) > MAX_BODY[type_name]:
        _fail("TOO_BIG", where or "body",
              f"{len(body)} bytes exceeds {type_name}'s {MAX_BODY[type_name]}")
    tree = scan(body, where or "body")
    return SCHEMAS[type_name](tree, where, {})


# --------------------------------------------------------------------------------------
# Actions (section 5)

TAG_RE = re.compile(rb"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
NAME_RE = re.compile(rb"[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}")
UINT_TEXT_RE = re.compile(rb"0|[1-9][0-9]*")


def check_tag(b: bytes) -> str | None:
    return None if TAG_RE.fullmatch(b) else "not a tag (1..128 of [A-Za-z0-9_.-], first not . or -)"


def check_path(b: bytes) -> str | None:
    if not 1 <= len(b) <= 4096:
        return "a path is 1..4096 bytes"
    if any(c < 0x20 or c == 0x7F for c in b):
        return "a path has no control character"
    if not b.startswith(b"/"):
        return "a path is absolute: it starts with /"
    if b"//" in b:
        return "a path has no //"
    if b != b"/" and b.endswith(b"/"):
        return "a path has no trailing /"
    if any(c in (b".", b"..") for c in b.split(b"/")):
        return "a path has no . or .. component"
    return None


def check_uint_text(lo: int, hi: int):
    def check(b: bytes) -> str | None:
        if not UINT_TEXT_RE.fullmatch(b):
            return "not a decimal uint (digits, no sign, no leading zero)"
        if not lo <= int(b) <= hi:
            return f"outside {lo}..{hi}"
        return None

    return check


def check_bool_text(b: bytes) -> str | None:
    return None if b in (b"true", b"false") else "not true or false"


def check_name(b: bytes) -> str | None:
    return None if NAME_RE.fullmatch(b) else "not a name (1..64 of [A-Za-z0-9._-], not starting with .)"


def check_id(b: bytes) -> str | None:
    return None if ID_RE.fullmatch(b) else "not an id"


# action -> (phases, required {param: format}, optional {param: format})
ACTIONS = {
    "ping": (("run",), {}, {}),
    "status": (("run",), {}, {}),
    "preflight": (("run",), {"to": check_tag, "backup": check_path},
                  {"accept_unverified": check_bool_text}),
    "stop": (("run",), {}, {}),
    "start": (("run",), {}, {"to": check_tag}),
    "logs": (("run",), {}, {"lines": check_uint_text(1, 10000)}),
    "backup": (("preflight", "run"), {}, {"name": check_name}),
    "rollback": (("preflight", "run"), {"to": check_tag, "backup": check_path},
                 {"dry_run": check_bool_text, "force": check_bool_text,
                  "accept_unverified": check_bool_text, "backup_on_peer": check_bool_text}),
    "undo": (("preflight", "run"), {"of": check_id}, {"dry_run": check_bool_text}),
    "prune": (("run",), {}, {"dry_run": check_bool_text}),
    "upgrade": (("preflight", "run", "revert"), {"to": check_tag}, {"dry_run": check_bool_text}),
}
PARAM_FORMATS = {
    "tag": check_tag, "path": check_path, "bool": check_bool_text, "name": check_name,
    "id": check_id,
}


def check_action(job: dict, phase: str, where: str = "job") -> None:
    """Section 7 step 11 for a decoded JOB and a phase."""
    p = f"{where}." if where else ""
    action = job["action"]
    if action not in ACTIONS:
        _fail("UNKNOWN_ACTION", f"{p}action", f"{action!r} is not in the action table")
    phases, required, optional = ACTIONS[action]
    if phase not in phases:
        _fail("INVALID_PARAM", "phase", f"{action} does not allow phase {phase!r}")
    params = job["params"]
    for key, value in params.items():
        fmt = required.get(key) or optional.get(key)
        if fmt is None:
            _fail("INVALID_PARAM", f"{p}params.{key}", f"{action} takes no parameter {key!r}")
        problem = fmt(value.encode("utf-8"))
        if problem:
            _fail("INVALID_PARAM", f"{p}params.{key}", f"{value!r}: {problem}")
    for key in required:
        if key not in params:
            _fail("INVALID_PARAM", f"{p}params", f"{action} requires {key!r}")


# --------------------------------------------------------------------------------------
# Signatures (section 2)


def signed_string(type_name: str, body: bytes) -> bytes:
    return DOMAIN_PREFIX + type_name.encode("ascii") + b"\x00" + bytes(body)


def sign(type_name: str, body: bytes, signing_key: nacl.signing.SigningKey) -> bytes:
    """The 96-byte signature frame: public key (32) then detached signature (64)."""
    sig = signing_key.sign(signed_string(type_name, body)).signature
    return bytes(signing_key.verify_key) + sig


def verify(type_name: str, body: bytes, sig_frame: bytes) -> bool:
    pk, sig = bytes(sig_frame[:PUBLIC_KEY_LEN]), bytes(sig_frame[PUBLIC_KEY_LEN:])
    try:
        nacl.signing.VerifyKey(pk).verify(signed_string(type_name, body), sig)
        return True
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError,
            nacl.exceptions.CryptoError, ValueError, TypeError):
        return False


# --------------------------------------------------------------------------------------
# Target commitment (section 2): RFC 9162's Merkle tree (2.1) with SHA-256, over the target
# ids' UTF-8 bytes in list order.


def _id_bytes(host_id) -> bytes:
    return host_id.encode("utf-8") if isinstance(host_id, str) else bytes(host_id)


def merkle_leaf(host_id) -> bytes:
    """LEAF(id) = SHA-256(0x00 || id)."""
    return hashlib.sha256(b"\x00" + _id_bytes(host_id)).digest()


def merkle_node(left: bytes, right: bytes) -> bytes:
    """NODE(l, r) = SHA-256(0x01 || l || r)."""
    return hashlib.sha256(b"\x01" + bytes(left) + bytes(right)).digest()


def _split(n: int) -> int:
    """k: the largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth_reference(ids) -> bytes:
    """MTH(ids), the recursive definition of section 2 word for word (and RFC 9162's
    MTH({}) = SHA-256() for an empty list, which no valid JOB has)."""
    ids = list(ids)
    n = len(ids)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return merkle_leaf(ids[0])
    k = _split(n)
    return merkle_node(mth_reference(ids[:k]), mth_reference(ids[k:]))


def path_reference(i: int, ids) -> list[bytes]:
    """PATH(i, ids) of RFC 9162, 2.1.3.1, recursively: bottom first."""
    ids = list(ids)
    n = len(ids)
    if not 0 <= i < n:
        raise IndexError(f"position {i} of a list of {n}")
    if n == 1:
        return []
    k = _split(n)
    if i < k:
        return path_reference(i, ids[:k]) + [mth_reference(ids[k:])]
    return path_reference(i - k, ids[k:]) + [mth_reference(ids[:k])]


class MerkleTree:
    """The whole tree of a target list, level by level (leaves first), so that the root
    and the proof of every position cost O(n) and O(log n).  Built bottom-up: pairs are
    hashed left to right and a level's odd last node moves up unchanged, which gives
    RFC 9162's tree (its left subtrees are perfect, of the largest power of two below n);
    checked against mth_reference / path_reference by the self-checks."""

    def __init__(self, ids):
        self.ids = list(ids)
        if not self.ids:
            raise ValueError("a Merkle tree of no ids")
        level = [merkle_leaf(x) for x in self.ids]
        self.levels = [level]
        while len(level) > 1:
            nxt = [merkle_node(level[j], level[j + 1]) for j in range(0, len(level) - 1, 2)]
            if len(level) % 2:
                nxt.append(level[-1])
            self.levels.append(nxt)
            level = nxt
        self._pos = None

    @property
    def root(self) -> bytes:
        return self.levels[-1][0]

    def path(self, i: int) -> list[bytes]:
        """The proof for position i: sibling hashes from leaf i to the root, bottom first."""
        if not 0 <= i < len(self.ids):
            raise IndexError(f"position {i} of a list of {len(self.ids)}")
        out = []
        for level in self.levels[:-1]:
            sib = i ^ 1
            if sib < len(level):
                out.append(level[sib])
            i >>= 1
        return out

    def index(self, host_id: str) -> int:
        if self._pos is None:
            self._pos = {}
            for i, x in enumerate(self.ids):
                self._pos.setdefault(x, i)
        return self._pos[host_id]


def merkle_root(ids) -> bytes:
    """MTH(ids[0:n]) (n >= 1)."""
    return MerkleTree(ids).root


def merkle_path(i: int, ids) -> list[bytes]:
    """PATH(i, ids[0:n])."""
    return MerkleTree(ids).path(i)


def merkle_verify(host_id, i: int, n: int, root: bytes, path) -> bool:
    """Section 2's verification (RFC 9162, 2.1.3.2): is host_id at position i of a list of
    n ids with Merkle root ``root``, given the proof ``path`` (bottom first)?"""
    if i >= n:
        return False
    fn, sn, r = i, n - 1, merkle_leaf(host_id)
    for h in path:
        h = bytes(h)
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            r = merkle_node(h, r)
            while fn % 2 == 0 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = merkle_node(r, h)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == bytes(root)


def target_proof(ids, host_id: str, tree: MerkleTree | None = None) -> dict:
    """DISPATCH field 7 for host_id in the target list ids: {"index", "path"} (path as a
    list of 32-byte hashes).  KeyError when host_id is not in the list."""
    tree = tree or MerkleTree(ids)
    i = tree.index(host_id)
    return {"index": i, "path": tree.path(i)}


def targets_commitment(ids) -> dict:
    """JOB field 3 for the target list ids: {"count", "root"} (root as 32 bytes)."""
    ids = list(ids)
    return {"count": len(ids), "root": mth_reference(ids) if not ids else merkle_root(ids)}


# --------------------------------------------------------------------------------------
# Encoding


def header(type_code: int, version: int = PROTOCOL_VERSION) -> bytes:
    return MAGIC + bytes([version, type_code])


def _to_bin(v):
    if isinstance(v, str):
        return bytes.fromhex(v)
    return bytes(v)


def _prepare(check, v):
    """Turn a field value into what msgpack should pack, guided by the schema."""
    if v is None:
        return None
    if isinstance(check, Nullable):
        return _prepare(check.inner, v)
    if isinstance(check, Bin):
        return _to_bin(v) if isinstance(v, (str, bytes, bytearray, memoryview)) else v
    if isinstance(check, Row):
        if isinstance(v, dict):
            return [_prepare(f[1], v[f[0]]) for f in check.fields]
        if isinstance(v, (list, tuple)):
            return [_prepare(f[1], e) for f, e in zip(check.fields, v)]
        return v
    if isinstance(check, Array) and isinstance(v, (list, tuple)):
        return [_prepare(check.elem, e) for e in v]
    if isinstance(check, Map) and isinstance(v, dict):
        return {k: _prepare(check.val, e) for k, e in v.items()}
    return v


def pack(obj) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


def _is_id_list(v) -> bool:
    """A JOB ``targets`` given as the list of target ids (not as the commitment)."""
    return isinstance(v, (list, tuple)) and all(isinstance(e, str) for e in v)


def encode_body(type_name: str, fields) -> bytes:
    schema = SCHEMAS[type_name]
    if isinstance(fields, dict):
        if type_name == "DISPATCH" and isinstance(fields.get("job"), dict):
            fields = dict(fields, job=fields["job_hex"])
        if type_name == "JOB" and _is_id_list(fields.get("targets")):
            fields = dict(fields, targets=targets_commitment(fields["targets"]))
        values = [_prepare(f[1], fields[f[0]]) for f in schema.fields]
    else:
        values = [_prepare(f[1], e) for f, e in zip(schema.fields, fields)]
    return pack(values)


def job_target_list(fields):
    """The target list a JOB's fields name: ``target_list`` when given, else ``targets``
    when that is the list of ids; None otherwise."""
    if isinstance(fields, dict):
        if "target_list" in fields:
            return fields["target_list"]
        if _is_id_list(fields.get("targets")):
            return list(fields["targets"])
    return None


def encode_target_list(ids) -> bytes:
    """A JOB message's frame 3: one msgpack array of the ids."""
    return pack(list(ids))


def frames_for(type_name: str, body: bytes, signing_key=None, type_code=None,
               target_list=None) -> list[bytes]:
    code = TYPE_CODES[type_name] if type_code is None else type_code
    frames = [header(code), bytes(body)]
    if signing_key is not None:
        frames.append(sign(type_name, body, signing_key))
    if target_list is not None:
        frames.append(target_list if isinstance(target_list, (bytes, bytearray))
                      else encode_target_list(target_list))
    return frames


def encode(type_name: str, fields, signing_key: nacl.signing.SigningKey | None = None) -> list[bytes]:
    """Frames for a message: header, body (msgpack array in section 4's field order),
    when a signing key is given the 96-byte signature frame, and for a signed JOB whose
    target list is known (``targets`` as ids, or ``target_list``) frame 3, the list."""
    tl = None
    if type_name == "JOB" and signing_key is not None:
        tl = job_target_list(fields)
    return frames_for(type_name, encode_body(type_name, fields), signing_key, target_list=tl)


# --------------------------------------------------------------------------------------
# Receive procedures (section 7)


def _trusted(ctx: dict, type_name: str) -> set[str] | None:
    trusted = ctx.get("trusted")
    if trusted is None:
        return set()
    return {k.lower() for k in (trusted.get(type_name) or [])}


def _check_signature(type_name, body, sig_frame, trusted, where):
    pk_hex = bytes(sig_frame[:PUBLIC_KEY_LEN]).hex()
    if trusted is not None and pk_hex not in trusted:
        _fail("UNKNOWN_KEY", where, f"key {pk_hex} is not trusted for {type_name}")
    if not verify(type_name, body, sig_frame):
        _fail("BAD_SIGNATURE", where, f"the {type_name} signature does not verify")


def receive(frames, context: dict | None = None) -> dict:
    """Section 7: run the receive procedure and return section 10's ``decoded`` object."""
    frames = [bytes(f) for f in frames]
    ctx = context or {}
    receiver = ctx.get("receiver")
    generic = receiver is None

    # Step 1: no frame at all is FRAMES; then the header.
    if not frames:
        _fail("FRAMES", "frames", "no frames")
    hdr = frames[0]
    if len(hdr) != HEADER_LEN or hdr[:2] != MAGIC:
        _fail("HEADER", "header", f"{hdr.hex()!r} is not 4 bytes starting with 'OD'")
    # Step 2: version, then type.
    if hdr[2] != PROTOCOL_VERSION:
        _fail("VERSION", "header", f"version {hdr[2]} is not {PROTOCOL_VERSION}")
    type_name = TYPE_NAMES.get(hdr[3])
    if type_name is None:
        _fail("TYPE", "header", f"unknown type code 0x{hdr[3]:02x}")
    if not generic:
        if receiver not in ACCEPTED:
            raise ValueError(f"unknown receiver {receiver!r}")
        if type_name not in ACCEPTED[receiver]:
            _fail("TYPE", "header", f"{type_name} is not accepted by the {receiver}")
    # Step 3: frame count (2, 3, or 4 for a JOB, also in the generic procedure, whose
    # decoded form needs frame 3), signature frame size.
    if len(frames) != FRAME_COUNTS[type_name]:
        _fail("FRAMES", "frames",
              f"{len(frames)} frames, {type_name} has {FRAME_COUNTS[type_name]}")
    signed = type_name in SIGNED_TYPES
    if signed and len(frames[2]) != SIG_FRAME_LEN:
        _fail("FRAMES", "signature", f"signature frame of {len(frames[2])} bytes, not 96")
    body = frames[1]
    # Step 4: size (a JOB's target list too: section 7, "JOB at the coordinator").
    if len(body) > MAX_BODY[type_name]:
        _fail("TOO_BIG", "body", f"{len(body)} bytes exceeds {type_name}'s {MAX_BODY[type_name]}")
    if type_name == "JOB" and len(frames[3]) > MAX_TARGET_LIST:
        _fail("TOO_BIG", "target_list",
              f"{len(frames[3])} bytes exceeds the target list's {MAX_TARGET_LIST}")
    # Step 5: signature, over the received bytes, before decoding.
    if signed:
        _check_signature(type_name, body, frames[2],
                         None if generic else _trusted(ctx, type_name), "signature")
    # Step 6: decode.
    msg = decode_body(type_name, body)

    if type_name == "DISPATCH":
        return _dispatch(msg, body, ctx, generic)
    if type_name == "JOB":
        # Then the target list (frame 3): read like a body, then matched with the body.
        msg["target_list"] = decode_target_list(frames[3], msg["targets"])
    if generic:
        return msg
    now = ctx.get("now_ms")
    if now is None:
        now = int(time.time() * 1000)
    skew = ctx.get("skew_ms")
    if skew is None:
        skew = DEFAULT_SKEW_MS
    if type_name == "JOB":  # control socket: step 10's job checks, then step 11 (phase run)
        _check_job_times(msg, now, skew, "")
        check_action(msg, "run", where="")
        return msg
    if type_name in ("HELLO", "HEARTBEAT", "PROGRESS", "RESULT"):  # at the agent-facing socket
        if msg["host_id"] != ctx.get("host_id"):
            _fail("DENIED", "host_id",
                  f"{msg['host_id']!r} is not the peer's host id {ctx.get('host_id')!r}")
    return msg


def decode_target_list(frame: bytes, targets: dict | None = None) -> list[str]:
    """A JOB message's frame 3 (section 4, JOB): at most 1048576 bytes (TOO_BIG), the
    structural scan, the list's field rules as the field `target_list` ([id; 1..10000], no
    duplicates: VALUE at the second occurrence); then, given the decoded body's
    ``targets`` ({count, root hex}), its length must be count and its Merkle root root
    (VALUE otherwise)."""
    frame = bytes(frame)
    if len(frame) > MAX_TARGET_LIST:
        _fail("TOO_BIG", "target_list",
              f"{len(frame)} bytes exceeds the target list's {MAX_TARGET_LIST}")
    tree = scan(frame, "target_list")
    ids = TARGET_LIST(tree, "target_list", {})
    if targets is not None:
        if len(ids) != targets["count"]:
            _fail("VALUE", "target_list",
                  f"{len(ids)} ids, the signed targets.count is {targets['count']}")
        root = merkle_root(ids).hex()
        if root != targets["root"]:
            _fail("VALUE", "target_list",
                  f"Merkle root {root} is not the signed targets.root {targets['root']}")
    return ids


def _check_job_times(job, now, skew, where):
    p = f"{where}." if where else ""
    if now > job["expires_ms"] + skew:
        _fail("EXPIRED", f"{p}expires_ms", f"job expired at {job['expires_ms']} (now {now})")
    if job["created_ms"] > now + skew:
        _fail("EXPIRED", f"{p}created_ms", f"job created in the future {job['created_ms']} (now {now})")


def dispatch_refs(decoded: dict) -> dict:
    """What an agent's ACK of an accepted DISPATCH (its ``decoded`` form) names: section 7,
    "Answers" (the job's id, the DISPATCH's host_id, its phase as ``step``, its nonce)."""
    return {"job_id": decoded["job"]["job_id"], "host_id": decoded["host_id"],
            "step": decoded["phase"], "nonce": decoded["nonce"]}


def answers(receiver: str, frames, code_name: str) -> str | None:
    """Section 7, "Answers": what ``receiver`` sends back for a message (its frames) that it
    refused with ``code_name``: "NACK", "REPLY" or None (dropped).  Frames over the receiver's
    frame limit (section 1) are never read, so never answered; that is not decided here."""
    hdr = bytes(frames[0]) if frames else b""
    readable = len(hdr) == HEADER_LEN and hdr[:2] == MAGIC
    if receiver == "agent":
        return "NACK" if readable and hdr[3] == DISPATCH else None
    if receiver == "coordinator":
        if code_name == "DENIED" or not readable or hdr[3] not in TYPE_NAMES:
            return None
        return None if hdr[3] in (ACK, NACK) else "NACK"
    if receiver == "control":
        return "REPLY"
    return None


def _dispatch(msg: dict, body: bytes, ctx: dict, generic: bool) -> dict:
    # Section 7, "Answers": from here on the DISPATCH's own signature has verified and its
    # body decoded, so an answer may name its host_id, phase and nonce; the job's id only
    # once the job's own signature has verified and it decoded (step 8).
    refs = {"job_id": "", "host_id": msg["host_id"], "step": msg["phase"], "nonce": msg["nonce"]}
    try:
        return _dispatch_steps(msg, ctx, generic, refs)
    except ProtoError as e:
        e.refs = dict(refs)
        raise


def _dispatch_steps(msg: dict, ctx: dict, generic: bool, refs: dict) -> dict:
    job_bytes = bytes.fromhex(msg["job"])
    job_sig = bytes.fromhex(msg["job_sig"])
    # Step 7: the operator's signature on the embedded JOB.
    _check_signature("JOB", job_bytes, job_sig, None if generic else _trusted(ctx, "JOB"),
                     "job_sig")
    # Step 8: decode the JOB body.
    job = decode_body("JOB", job_bytes, "job")
    refs["job_id"] = job["job_id"]
    decoded = dict(msg)
    decoded["job"] = job
    decoded["job_hex"] = job_bytes.hex()
    if generic:
        return decoded
    now = ctx.get("now_ms")
    if now is None:
        now = int(time.time() * 1000)
    skew = ctx.get("skew_ms")
    if skew is None:
        skew = DEFAULT_SKEW_MS
    own = ctx.get("host_id")
    # Step 9.
    if msg["host_id"] != own:
        _fail("NOT_TARGET", "host_id", f"dispatch for {msg['host_id']!r}, this agent is {own!r}")
    proof = msg["target_proof"]
    count, root = job["targets"]["count"], bytes.fromhex(job["targets"]["root"])
    path = [bytes.fromhex(h) for h in proof["path"]]
    if not merkle_verify(own, proof["index"], count, root, path):
        _fail("NOT_TARGET", "target_proof",
              f"the proof does not put {own!r} at position {proof['index']} of the job's "
              f"{count} targets")
    # Step 10.
    if now + skew < msg["not_before_ms"]:
        _fail("EXPIRED", "not_before_ms", f"not before {msg['not_before_ms']} (now {now})")
    if now > msg["expires_ms"] + skew:
        _fail("EXPIRED", "expires_ms", f"dispatch expired at {msg['expires_ms']} (now {now})")
    _check_job_times(job, now, skew, "job")
    # Step 11: the action table, then the agent's own parameter rule (section 5: its backup
    # roots), which the section 10 context does not carry; a context may give it as
    # ``params_ok``, a callable (job dict) -> None or a reason (str) to refuse.
    check_action(job, msg["phase"], where="job")
    own_rule = ctx.get("params_ok")
    if own_rule is not None:
        why = own_rule(job)
        if why:
            _fail("INVALID_PARAM", "job.params", why)
    # Step 12.
    seen = ctx.get("seen_nonces")
    seen_set = {n.lower() for n in (seen or [])}
    if msg["nonce"] in seen_set:
        _fail("REPLAYED", "nonce", f"nonce {msg['nonce']} was seen before")
    if isinstance(seen, list):
        seen.append(msg["nonce"])
    # Step 13.
    busy = ctx.get("busy_job")
    if busy is not None and busy != job["job_id"]:
        _fail("BUSY", "job.job_id", f"the agent runs job {busy!r}")
    return decoded
