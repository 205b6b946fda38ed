"""A coordinator peer for integration tests of `odc-agent daemon`, in Python, over the real
transport (ZeroMQ ROUTER, CURVE server, ZAP) and the independent protocol implementation
(tests/py/odcproto.py). It is not the coordinator: it plans nothing and stores nothing on
disk; it answers HELLO, ACKs RESULTs (switchable), sends what a test tells it to send and
records everything it receives, decoded with PROTOCOL.md section 7's `coordinator` receive
procedure.

    peer = CoordinatorPeer(heartbeat_ms=1000)       # coordinator + operator keys made here
    agent_key = peer.enroll("h1")                    # a new agent key (or enroll("h1", key))
    peer.start()                                     # binds tcp://127.0.0.1:<free port>
    conf = write_daemon_conf(host, path, peer, agent_key)
    with AgentDaemon(conf) as d:                     # odc-agent -c conf daemon; killed at exit
        peer.wait_hello("h1")
        job = peer.make_job(action="ping", targets=["h1"])
        disp = peer.dispatch("h1", job)
        ans = peer.answer("h1", disp)                # the ACK or NACK naming disp's nonce
        final = peer.wait_final("h1", job.job_id)    # the RESULT with final = true
    peer.close()

Records: every message received is one Record (epoch = how many times the peer was
started, host = the ZAP User-Id, type, msg = the decoded dict or None, error = the
ProtoError or None, frames = the raw frames after the routing id, t = monotonic time).
"""

from __future__ import annotations

import contextlib
import os
import queue
import secrets
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import Future

import nacl.bindings
import nacl.signing
import zmq

from tests.py import odcproto
from tests.world import agentcli, odcworld

ZAP_ENDPOINT = "inproc://zeromq.zap.01"
PUB_PREFIX = "odc-ed25519-pub:"
SEC_PREFIX = "odc-ed25519-sec:"
ACTIONS = tuple(odcproto.ACTIONS)  # the section 5 action table


def now_ms() -> int:
    return int(time.time() * 1000)


# ---------------------------------------------------------------- keys

def pub_text(key) -> str:
    """'odc-ed25519-pub:<hex>' of a SigningKey or VerifyKey."""
    vk = key.verify_key if isinstance(key, nacl.signing.SigningKey) else key
    return PUB_PREFIX + bytes(vk).hex()


def secret_bytes(sk: nacl.signing.SigningKey) -> bytes:
    """libsodium's 64-byte secret key: seed || public key."""
    return bytes(sk) + bytes(sk.verify_key)


def curve_public(key) -> bytes:
    """The X25519 form of an Ed25519 public key (a CURVE public key)."""
    vk = key.verify_key if isinstance(key, nacl.signing.SigningKey) else key
    return nacl.bindings.crypto_sign_ed25519_pk_to_curve25519(bytes(vk))


def curve_secret(sk: nacl.signing.SigningKey) -> bytes:
    return nacl.bindings.crypto_sign_ed25519_sk_to_curve25519(secret_bytes(sk))


def write_secret_key(path, sk: nacl.signing.SigningKey, mode=0o600):
    """odc's secret key file: one line 'odc-ed25519-sec:<128 hex>\\n', with mode."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(SEC_PREFIX + secret_bytes(sk).hex() + "\n")
    os.chmod(path, mode)
    return path


# ---------------------------------------------------------------- messages

class Record:
    __slots__ = ("epoch", "t", "host", "rid", "type", "msg", "error", "frames")

    def __init__(self, epoch, host, rid, frames):
        self.epoch, self.t, self.host, self.rid = epoch, time.monotonic(), host, rid
        self.frames = frames
        self.type = None
        if frames and len(frames[0]) == 4 and frames[0][:2] == b"OD":
            self.type = odcproto.TYPE_NAMES.get(frames[0][3])
        self.msg = None
        self.error = None

    @property
    def signer(self):
        """The public key (bytes) in a signed message's frame 2, else None."""
        return bytes(self.frames[2][:32]) if len(self.frames) == 3 else None

    def __repr__(self):
        what = self.error.code_name if self.error else _brief(self.type, self.msg)
        return f"<{self.epoch}:{self.host} {self.type} {what}>"


def _brief(type_name, m):
    if m is None:
        return ""
    if type_name == "HEARTBEAT":
        return f"seq={m['seq']} job={m['job']}"
    if type_name in ("RESULT", "PROGRESS"):
        extra = f" final={m['final']}" if type_name == "RESULT" else ""
        return f"{m['job_id']}/{m['step']} {m['status']}{extra}"
    if type_name in ("ACK", "NACK"):
        code = f" {odcproto.ERROR_NAMES.get(m['code'])}: {m['message']}" if type_name == "NACK" else ""
        return f"ref=0x{m['ref_type']:02x} {m['job_id']}/{m['step']}{code}"
    return ""


class Job:
    """An operator-signed JOB: body (bytes), sig (the 96-byte frame), fields (dict, with
    `targets` the list of target ids), targets (that list: the body carries only its count
    and Merkle root, PROTOCOL.md section 2) and target_list (frame 3's bytes: the list's
    msgpack encoding unless given)."""

    def __init__(self, fields, body, sig, target_list=None):
        self.fields, self.body, self.sig = fields, body, sig
        self.job_id = fields["job_id"]
        self.targets = list(fields["targets"])
        self.target_list = (odcproto.encode_target_list(self.targets) if target_list is None
                            else bytes(target_list))
        self._tree = None

    @property
    def frames(self):
        """The JOB message: header, body, signature, target list (4 frames)."""
        return [odcproto.header(odcproto.JOB), self.body, self.sig, self.target_list]

    @property
    def tree(self):
        if self._tree is None:
            self._tree = odcproto.MerkleTree(self.targets)
        return self._tree

    def proof(self, host_id, index=None):
        """A DISPATCH's target_proof for host_id, made from the target list as a coordinator
        does. A host not in the list gets the proof of position `index` (default 0): some
        position's genuine proof, which cannot put this host there."""
        if index is None:
            index = self.targets.index(host_id) if host_id in self.targets else 0
        return {"index": index, "path": self.tree.path(index)}

    def tampered(self):
        """The same JOB with one byte of its body changed after signing (still valid msgpack:
        the last byte of `reason`, which make_job never leaves empty)."""
        body = bytearray(self.body)
        body[-1] ^= 0x01
        return Job(self.fields, bytes(body), self.sig, self.target_list)

    def with_target_list(self, ids):
        """The same signed JOB with another target list in frame 3 (the signature still
        holds: the list is bound by the body's Merkle root, not signed itself)."""
        raw = ids if isinstance(ids, (bytes, bytearray)) else odcproto.encode_target_list(ids)
        return Job(self.fields, self.body, self.sig, raw)


class Dispatch:
    def __init__(self, host, job, fields, frames):
        self.host, self.job, self.fields, self.frames = host, job, fields, frames
        self.nonce = fields["nonce"]
        self.job_id = job.job_id if job is not None else None


# ---------------------------------------------------------------- the peer

class CoordinatorPeer:
    """See the module docstring. Attributes: coordinator_key, operator_key (nacl
    SigningKeys), agents ({host_id: VerifyKey}), port, endpoint, heartbeat_ms, lost_after,
    auto_ack, auto_welcome, epoch, records, zap_log ([(epoch, address, curve key hex,
    host_id or None)]), sent ([(epoch, host, type, frames)]), send_errors."""

    def __init__(self, heartbeat_ms=1000, lost_after=3, auto_ack=True, auto_welcome=True,
                 coordinator_id="coord-test", port=None):
        self.coordinator_key = nacl.signing.SigningKey.generate()
        self.operator_key = nacl.signing.SigningKey.generate()
        self.coordinator_id = coordinator_id
        self.heartbeat_ms, self.lost_after = heartbeat_ms, lost_after
        self.auto_ack, self.auto_welcome = auto_ack, auto_welcome
        self.agents = {}
        self.port = port or odcworld.free_port()
        self.endpoint = f"tcp://127.0.0.1:{self.port}"
        self.epoch = 0
        self.records = []
        self.zap_log = []
        self.sent = []
        self.send_errors = []
        self.cond = threading.Condition(threading.RLock())
        self._ctx = self._thread = None
        self._out = queue.Queue()
        self._running = False

    def __repr__(self):
        return f"CoordinatorPeer({self.endpoint}, epoch {self.epoch})"

    # -- enrollment

    def enroll(self, host_id, key=None):
        """Enrolls host_id with key (SigningKey or VerifyKey; a new SigningKey when None).
        Returns the key given or made (a SigningKey to write into the agent's key file)."""
        key = key or nacl.signing.SigningKey.generate()
        vk = key.verify_key if isinstance(key, nacl.signing.SigningKey) else key
        with self.cond:
            self.agents[host_id] = vk
        return key

    def _host_of_curve(self, curve_pk):
        with self.cond:
            for host, vk in self.agents.items():
                if curve_public(vk) == curve_pk:
                    return host
        return None

    # -- lifecycle

    def start(self):
        """Binds (ZAP handler first, then the CURVE ROUTER) and starts the I/O thread."""
        if self._running:
            raise RuntimeError("peer already running")
        ctx = zmq.Context()
        zap = ctx.socket(zmq.REP)
        zap.linger = 0
        zap.bind(ZAP_ENDPOINT)
        router = ctx.socket(zmq.ROUTER)
        router.linger = 0
        router.curve_server = True
        router.curve_secretkey = curve_secret(self.coordinator_key)
        router.curve_publickey = curve_public(self.coordinator_key)
        router.zap_domain = b"odc-fleet"
        router.setsockopt(zmq.ROUTER_HANDOVER, 1)  # a reconnecting agent takes its id over
        router.setsockopt(zmq.ROUTER_MANDATORY, 1)  # a send to nobody is an error, not a drop
        router.setsockopt(zmq.HEARTBEAT_IVL, 1000)
        router.setsockopt(zmq.HEARTBEAT_TIMEOUT, 3000)
        deadline = time.monotonic() + 10
        while True:  # the previous life's listener may take a moment to go
            try:
                router.bind(self.endpoint)
                break
            except zmq.ZMQError:
                if time.monotonic() > deadline:
                    router.close()
                    zap.close()
                    ctx.term()
                    raise
                time.sleep(0.05)
        with self.cond:
            self.epoch += 1
            self._running = True
        self._ctx, self._zap, self._router = ctx, zap, router
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"coordpeer-{self.port}",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Closes the sockets and the context (the agents see the link drop). Records stay."""
        if not self._running:
            return
        self._stop.set()
        self._thread.join(10)
        if self._thread.is_alive():
            raise RuntimeError("the peer's I/O thread did not stop")
        self._ctx.term()
        self._ctx = None
        with self.cond:
            self._running = False
            self.cond.notify_all()

    def restart(self, pause=0.0):
        """stop(), wait pause seconds, start() again on the same port (a new epoch)."""
        self.stop()
        if pause:
            time.sleep(pause)
        return self.start()

    def close(self):
        self.stop()

    def __enter__(self):
        if not self._running:
            self.start()
        return self

    def __exit__(self, *exc):
        self.close()

    # -- the I/O thread: the only user of the sockets

    def _loop(self):
        router, zap = self._router, self._zap
        poller = zmq.Poller()
        poller.register(router, zmq.POLLIN)
        poller.register(zap, zmq.POLLIN)
        try:
            while not self._stop.is_set():
                for sock, _ in poller.poll(10):
                    if sock is zap:
                        self._on_zap(zap.recv_multipart())
                    else:
                        self._on_router(router.recv_multipart(copy=False))
                self._drain_out(router)
        finally:
            # Fail anything still queued, then close.
            while True:
                try:
                    _, _, fut = self._out.get_nowait()
                except queue.Empty:
                    break
                fut.set_exception(RuntimeError("peer stopped"))
            router.close(0)
            zap.close(0)

    def _on_zap(self, req):
        # ZAP 1.0: version, request id, domain, address, routing id, mechanism, credentials.
        version, rid, domain, address, _identity, mechanism = req[:6]
        creds = req[6:]
        host = None
        if mechanism == b"CURVE" and len(creds) == 1 and len(creds[0]) == 32:
            host = self._host_of_curve(bytes(creds[0]))
        with self.cond:
            self.zap_log.append((self.epoch, address.decode(errors="replace"),
                                 bytes(creds[0]).hex() if creds else "", host))
        if host is not None:
            reply = [version, rid, b"200", b"OK", host.encode(), b""]
        else:
            reply = [version, rid, b"400", b"not enrolled", b"", b""]
        self._zap.send_multipart(reply)

    def _context_for(self, host):
        with self.cond:
            vk = self.agents.get(host)
        return {
            "receiver": "coordinator",
            "host_id": host,
            "now_ms": now_ms(),
            "skew_ms": odcproto.DEFAULT_SKEW_MS,
            "trusted": {"RESULT": [bytes(vk).hex()] if vk is not None else []},
            "seen_nonces": [],
            "busy_job": None,
        }

    def _on_router(self, parts):
        rid = parts[0].bytes
        host = None
        for p in parts[1:]:
            try:
                host = p.get("User-Id")
                break
            except zmq.ZMQError:
                continue
        frames = [p.bytes for p in parts[1:]]
        rec = Record(self.epoch, host, rid, frames)
        try:
            rec.msg = odcproto.receive(frames, self._context_for(host))
        except odcproto.ProtoError as e:
            rec.error = e
        with self.cond:
            self.records.append(rec)
            self.cond.notify_all()
        if rec.msg is None:
            return
        if rec.type == "HELLO" and self.auto_welcome:
            self._send_now(rid, host, self.welcome_frames())
        elif rec.type == "RESULT" and self.auto_ack:
            self._send_now(rid, host, self.ack_frames(rec.msg))

    def _send_now(self, rid, host, frames):
        try:
            self._router.send_multipart([rid] + list(frames))
            with self.cond:
                self.sent.append((self.epoch, host, odcproto.TYPE_NAMES.get(frames[0][3]), frames))
            return True
        except zmq.ZMQError as e:
            with self.cond:
                self.send_errors.append((self.epoch, host, str(e)))
            return False

    def _drain_out(self, router):
        while True:
            try:
                host, frames, fut = self._out.get_nowait()
            except queue.Empty:
                return
            rid = self.routing_id(host)
            if self._send_now(rid, host, frames):
                fut.set_result(True)
            else:
                fut.set_exception(RuntimeError(f"cannot send to {host}: {self.send_errors[-1][2]}"))

    def routing_id(self, host):
        """The routing id of host's latest connection (its own id, by the contract)."""
        with self.cond:
            for r in reversed(self.records):
                if r.host == host:
                    return r.rid
        return host.encode()

    # -- sending

    def send(self, host, frames, timeout=5.0):
        """Sends raw frames (after the routing id) to host from the I/O thread; raises when
        the ROUTER cannot route to it."""
        if not self._running:
            raise RuntimeError("peer not running")
        fut = Future()
        self._out.put((host, [bytes(f) for f in frames], fut))
        return fut.result(timeout)

    def welcome_frames(self, heartbeat_ms=None, lost_after=None):
        return odcproto.encode("WELCOME", {
            "coordinator_id": self.coordinator_id,
            "heartbeat_ms": heartbeat_ms or self.heartbeat_ms,
            "lost_after": lost_after or self.lost_after,
            "now_ms": now_ms(),
        })

    def welcome(self, host, **kw):
        return self.send(host, self.welcome_frames(**kw))

    @staticmethod
    def ack_frames(result):
        return odcproto.encode("ACK", {
            "ref_type": odcproto.RESULT, "job_id": result["job_id"],
            "host_id": result["host_id"], "step": result["step"], "nonce": b"",
        })

    def ack_result(self, host, result):
        return self.send(host, self.ack_frames(result))

    def make_job(self, job_id=None, action="ping", params=None, targets=("h1",), policy=None,
                 created_ms=None, expires_ms=None, operator="tester", reason="integration test",
                 signer=None):
        """An operator-signed JOB (signer: the operator key unless given)."""
        created = now_ms() if created_ms is None else created_ms
        fields = {
            "job_id": job_id or f"j-{action.replace('_', '-')}-{secrets.token_hex(4)}",
            "action": action,
            "params": dict(params or {}),
            "targets": list(targets),
            "policy": policy or {"canary": 0, "batch": 1, "batch_pct": False, "budget": 0,
                                 "budget_pct": False, "quorum_pct": 0, "step_deadline_s": 600,
                                 "job_deadline_s": 3600},
            "created_ms": created,
            "expires_ms": created + 3600_000 if expires_ms is None else expires_ms,
            "operator": operator,
            "reason": reason or "x",
        }
        # The body carries the list's count and Merkle root; the list is the JOB's frame 3.
        body = odcproto.encode_body("JOB", fields)
        sig = odcproto.sign("JOB", body, signer or self.operator_key)
        return Job(fields, body, sig)

    def dispatch_frames(self, host, job, phase="run", signer=None, not_before_ms=None,
                        expires_ms=None, nonce=None, host_id=None, target_proof=None):
        """target_proof: {index, path} (default: the proof of the body's host_id, made from
        the job's target list; PROTOCOL.md section 4, DISPATCH field 7)."""
        nb = now_ms() - 1000 if not_before_ms is None else not_before_ms
        hid = host_id or host
        fields = {
            "job": job.body, "job_sig": job.sig, "host_id": hid, "phase": phase,
            "not_before_ms": nb,
            "expires_ms": nb + 600_000 if expires_ms is None else expires_ms,
            "nonce": nonce if nonce is not None else secrets.token_bytes(16),
            "target_proof": job.proof(hid) if target_proof is None else target_proof,
        }
        frames = odcproto.encode("DISPATCH", fields, signer or self.coordinator_key)
        fields["nonce"] = bytes(fields["nonce"]).hex()
        return Dispatch(host, job, fields, frames)

    def dispatch(self, host, job, phase="run", signer=None, not_before_ms=None,
                 expires_ms=None, nonce=None, host_id=None, target_proof=None):
        """Sends a DISPATCH of job to host, signed by the coordinator key unless signer is
        given; host_id overrides the body's host_id field, target_proof the proof made from
        the job's target list. Returns the Dispatch."""
        d = self.dispatch_frames(host, job, phase, signer, not_before_ms, expires_ms, nonce,
                                 host_id, target_proof)
        self.send(host, d.frames)
        return d

    def resend(self, d: Dispatch):
        """Sends the very same DISPATCH bytes again."""
        self.send(d.host, d.frames)
        return d

    # -- reading what arrived

    def select(self, host=None, type=None, epoch=None, since=None, valid=True):
        """Records (oldest first) matching host/type/epoch, received after index since;
        valid=True: decoded ones only, False: refused ones only, None: both."""
        with self.cond:
            recs = self.records[since or 0:]
        out = []
        for r in recs:
            if host is not None and r.host != host:
                continue
            if type is not None and r.type != type:
                continue
            if epoch is not None and r.epoch != epoch:
                continue
            if valid is True and r.msg is None or valid is False and r.msg is not None:
                continue
            out.append(r)
        return out

    def mark(self):
        """An index for select(since=...): only what arrives from now on."""
        with self.cond:
            return len(self.records)

    def msgs(self, host, type, **kw):
        return [r.msg for r in self.select(host, type, **kw)]

    def hellos(self, host, **kw):
        return self.msgs(host, "HELLO", **kw)

    def heartbeats(self, host, **kw):
        return self.msgs(host, "HEARTBEAT", **kw)

    def progress(self, host, job_id, **kw):
        return [m for m in self.msgs(host, "PROGRESS", **kw) if m["job_id"] == job_id]

    def results(self, host, job_id, **kw):
        """RESULTs of job from host, every copy received (a resend is a second copy)."""
        return [m for m in self.msgs(host, "RESULT", **kw) if m["job_id"] == job_id]

    def steps(self, host, job_id, **kw):
        """{step: RESULT}, first copy of each (job, host, step) as the coordinator records it."""
        out = {}
        for m in self.results(host, job_id, **kw):
            out.setdefault(m["step"], m)
        return out

    def acks(self, host, job_id=None, ref_type=odcproto.DISPATCH, **kw):
        return [m for m in self.msgs(host, "ACK", **kw)
                if m["ref_type"] == ref_type and (job_id is None or m["job_id"] == job_id)]

    def nacks(self, host, job_id=None, ref_type=odcproto.DISPATCH, **kw):
        return [m for m in self.msgs(host, "NACK", **kw)
                if m["ref_type"] == ref_type and (job_id is None or m["job_id"] == job_id)]

    def errors(self, host=None):
        """Records the coordinator receive procedure refused."""
        return self.select(host, valid=False)

    # -- waiting

    def wait_for(self, predicate, timeout=10.0, what="condition"):
        """Waits until predicate() is truthy and returns its value; on timeout raises
        AssertionError naming what and the last records."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                v = predicate()
                if v:
                    return v
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out after {timeout} s waiting for {what}; "
                                         f"{self.summary()}")
                self.cond.wait(min(left, 0.2))

    def wait_hello(self, host, timeout=15.0, epoch=None):
        """The first HELLO of host in epoch (default: the current one)."""
        ep = self.epoch if epoch is None else epoch
        return self.wait_for(lambda: (self.hellos(host, epoch=ep) or [None])[0], timeout,
                             f"HELLO from {host} in epoch {ep}")

    def answer(self, host, d: Dispatch, timeout=10.0, since=None):
        """The ACK or NACK (ref_type DISPATCH) whose nonce is d's, as a dict with 'type'."""
        def find():
            for r in self.select(host, since=since):
                if r.type in ("ACK", "NACK") and r.msg["ref_type"] == odcproto.DISPATCH \
                        and r.msg["nonce"] == d.nonce:
                    return dict(r.msg, type=r.type)
            return None
        return self.wait_for(find, timeout, f"the answer to dispatch {d.nonce} of {d.job_id}")

    def next_answer(self, host, since, timeout=10.0):
        """The first ACK or NACK of a DISPATCH (ref_type 0x11) from host received after index
        since, as a dict with 'type': also one that names no nonce (PROTOCOL.md section 7,
        "Answers": a DISPATCH refused before its signature verified is answered from its
        header alone)."""
        def find():
            for r in self.select(host, since=since):
                if r.type in ("ACK", "NACK") and r.msg["ref_type"] == odcproto.DISPATCH:
                    return dict(r.msg, type=r.type)
            return None
        return self.wait_for(find, timeout, f"an answer to a dispatch from {host}")

    def agent_context(self, host_id, **over):
        """Section 10's context of an agent this peer configured (write_daemon_conf): trusts
        the peer's coordinator and operator keys, the clock now; for odcproto.receive."""
        ctx = {"receiver": "agent", "host_id": host_id, "now_ms": now_ms(),
               "skew_ms": odcproto.DEFAULT_SKEW_MS,
               "trusted": {"DISPATCH": [bytes(self.coordinator_key.verify_key).hex()],
                           "JOB": [bytes(self.operator_key.verify_key).hex()]},
               "seen_nonces": [], "busy_job": None}
        ctx.update(over)
        return ctx

    def wait_final(self, host, job_id, timeout=60.0, **kw):
        """The RESULT of job with final = true."""
        return self.wait_for(
            lambda: next((m for m in self.results(host, job_id, **kw) if m["final"]), None),
            timeout, f"the final RESULT of {job_id} from {host}")

    def summary(self, n=30):
        with self.cond:
            recs = self.records[-n:]
            zap = self.zap_log[-5:]
            errs = self.send_errors[-5:]
        return (f"peer {self.endpoint} epoch {self.epoch}; last {len(recs)} of "
                f"{len(self.records)} records: {recs}; zap: {zap}; send errors: {errs}")


# ---------------------------------------------------------------- the agent side

def write_daemon_conf(host, path, peer, agent_key, host_id="h1", labels="region=test, env=ci",
                      key_mode=0o600, omit=(), operators=None, coordinators=None, **over):
    """Writes the agent's secret key file (next to path, mode key_mode) and a daemon config
    for host (agentcli.write_conf plus [keys], [trust], [coordinator] for peer).
    omit: "section.key" names (or whole sections, "coordinator") left out.
    operators/coordinators: lists of keys to trust instead of the peer's own."""
    key_path = os.path.join(os.path.dirname(path), f"agent-{host_id}.key")
    write_secret_key(key_path, agent_key, key_mode)
    ops = operators if operators is not None else [peer.operator_key]
    coords = coordinators if coordinators is not None else [peer.coordinator_key]
    vals = {
        "agent.host_id": host_id,
        "agent.labels": labels,
        "keys.secret_key": key_path,
        "trust.operators": ", ".join(pub_text(k) for k in ops),
        "trust.coordinators": ", ".join(pub_text(k) for k in coords),
        "coordinator.endpoint": peer.endpoint,
        "coordinator.public_key": pub_text(peer.coordinator_key),
    }
    vals.update(over)
    for name in omit:
        for k in list(vals):
            if k == name or k.startswith(name + "."):
                del vals[k]
    if not labels:
        vals.pop("agent.labels", None)
    return agentcli.write_conf(host, path, **vals)


class AgentDaemon:
    """`odc-agent -c conf daemon` as a subprocess, stderr+stdout to a log file. A context
    manager: the process is always killed at exit; when the block raised, the log tail is
    printed (pytest shows it with the failure)."""

    def __init__(self, conf, env=None, log_path=None, agent=None, hide=None, launch=None):
        """hide: directories this agent's host does not have (odcworld.without_dirs).
        launch: the command that runs the daemon in the foreground instead of
        `odc-agent -c conf daemon` (a `docker run` of the agent's image, say)."""
        self.conf = conf
        self.launch = list(launch) if launch else None
        self.env = dict(os.environ, **(env or {}))
        self.log_path = log_path or conf + ".daemon.log"
        self.agent = agent or agentcli.AGENT
        self.hide = list(hide or [])
        self.proc = None
        self.lives = 0

    def argv(self):
        if self.launch:
            return self.launch
        return odcworld.without_dirs(self.hide, [self.agent, "-c", self.conf, "daemon"])

    def start(self):
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError("daemon already running")
        self.lives += 1
        log = open(self.log_path, "a")
        log.write(f"==== life {self.lives}: {' '.join(map(str, self.argv()))}\n")
        log.flush()
        self.proc = subprocess.Popen(self.argv(), stdout=log,
                                     stderr=subprocess.STDOUT, env=self.env,
                                     start_new_session=True)
        log.close()
        return self

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def wait(self, timeout=10.0):
        return self.proc.wait(timeout)

    def terminate(self, timeout=10.0):
        """SIGTERM; returns the exit status (raises TimeoutExpired if it does not end)."""
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        return self.proc.wait(10)

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def __enter__(self):
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, exc_type, exc, tb):
        self.kill()
        if exc_type is not None:
            print(f"---- odc-agent daemon log ({self.log_path}), last 6000 chars:")
            print(self.log()[-6000:])


@contextlib.contextmanager
def running_daemon(conf, env=None, peer=None):
    """with running_daemon(conf or AgentDaemon, env, peer) as d: ... -- started if it is not
    yet, always killed at the end; on failure the daemon's log and the peer's summary are
    printed."""
    d = conf if isinstance(conf, AgentDaemon) else AgentDaemon(conf, env=env)
    try:
        with d:
            yield d
    except BaseException:
        if peer is not None:
            print("---- peer: " + peer.summary(60))
        raise


def run_daemon_once(conf, timeout=15.0, env=None):
    """Runs `odc-agent -c conf daemon` expecting it to exit by itself (a refused config);
    returns the CompletedProcess (text). Kills it when it does not end within timeout."""
    e = dict(os.environ, **(env or {}))
    return subprocess.run([agentcli.AGENT, "-c", conf, "daemon"], capture_output=True,
                          text=True, timeout=timeout, env=e)

