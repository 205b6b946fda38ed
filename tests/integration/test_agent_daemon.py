"""`odc-agent daemon` against a coordinator peer (coordpeer.CoordinatorPeer: a Python ROUTER
with CURVE and ZAP, speaking PROTOCOL.md through the independent tests/py/odcproto.py), on a
real host of the test world (private dockerd, MariaDB metadb, ODC stand-in after a failed
upgrade to 4.3.0). Every test has its own host, peer and daemon; the daemon is killed and
the peer closed at the end of each test, also when it fails."""

import os
import secrets
import shutil
import sqlite3
import subprocess
import time

import nacl.signing
import pytest

from tests.world import odcworld
from tests.world import agentcli
from tests.world.coordpeer import (AgentDaemon, CoordinatorPeer, odcproto, run_daemon_once,
                       running_daemon, write_daemon_conf)

HOST = "h1"
PLAN = ["preflight", "stop", "snapshot", "restore", "start", "health"]
FIRST_STEP = ("preflight", "recheck")
MIN = 60_000


@pytest.fixture
def peer():
    p = CoordinatorPeer(heartbeat_ms=1000, lost_after=3)
    try:
        yield p
    finally:
        p.close()


def make_world(odc_host, peer, start=True, host_args=None, **conf_over):
    """A host after a failed upgrade (odc_host(**host_args)), an agent key enrolled at the
    peer, the peer started and a daemon config: (host, conf path, agent SigningKey)."""
    host = odc_host(**(host_args or {}))
    key = peer.enroll(HOST)
    if start:
        peer.start()
    conf = write_daemon_conf(host, os.path.join(host.dir, "agent.conf"), peer, key, **conf_over)
    return host, conf, key


def welcomed(peer, host=HOST, since=None, timeout=20.0):
    """Waits for the first HEARTBEAT (the agent beats only after a WELCOME)."""
    return peer.wait_for(lambda: (peer.msgs(host, "HEARTBEAT", since=since) or [None])[0],
                         timeout, f"a heartbeat from {host}")


def rollback_job(peer, host, **kw):
    return peer.make_job(action="rollback", targets=[HOST],
                         params={"to": odcworld.OLD_VERSION, "backup": host.backup_dir,
                                 "accept_unverified": "true"}, **kw)


def plan_index(step):
    return 0 if step in FIRST_STEP else PLAN.index(step) if step in PLAN else None


def assert_rolled_back(host):
    host.wait_healthy(odcworld.OLD_VERSION, timeout=30)
    assert host.engine.inspect(host.name)["Config"]["Image"] == host.images.old
    assert odcworld.metadb_state(host)["tables"] == odcworld.backup_state(host, host.backup_dir)
    assert len(odcworld.containers_named(host, f"{host.name}-rolledback-")) == 1


# ------------------------------------------------------------------ a. configuration

def test_config_refusals(odc_host, peer):
    host, conf, key = make_world(odc_host, peer, key_mode=0o644)
    p = run_daemon_once(conf)
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    assert "group/world accessible" in p.stderr, p.stderr
    for omit, name in [(("coordinator",), "coordinator"),
                       (("coordinator.public_key",), "coordinator.public_key"),
                       (("keys",), "keys.secret_key"),
                       (("trust.operators",), "trust.operators"),
                       (("trust.coordinators",), "trust.coordinators")]:
        write_daemon_conf(host, conf, peer, key, omit=omit)
        p = run_daemon_once(conf)
        assert p.returncode == 2, (omit, p.returncode, p.stdout, p.stderr)
        assert "required" in p.stderr and name in p.stderr, (omit, p.stderr)
    # None of them got as far as connecting.
    time.sleep(0.5)
    assert peer.zap_log == [] and peer.records == []


# ------------------------------------------------------------------ b. HELLO, heartbeats

def test_hello_then_heartbeats(odc_host, peer):
    peer.auto_welcome = False
    host, conf, key = make_world(odc_host, peer)
    with running_daemon(conf, peer=peer):
        hello = peer.wait_hello(HOST, timeout=15)
        assert hello["host_id"] == HOST
        assert hello["agent_version"]
        assert len(bytes.fromhex(hello["incarnation"])) == 16
        assert hello["labels"] == {"region": "test", "env": "ci"}
        assert set(odcproto.ACTIONS) <= set(hello["capabilities"]), hello["capabilities"]
        assert abs(hello["sent_ms"] - time.time() * 1000) < 30_000
        # The ZAP handler bound the connection to the enrolled key's host id.
        assert [z[3] for z in peer.zap_log] == [HOST]

        # Without a WELCOME: HELLO again after about 5 s, and no heartbeat.
        recs = peer.wait_for(lambda: (lambda r: r if len(r) >= 2 else None)(
            peer.select(HOST, "HELLO")), 9, "a second HELLO")
        gap = recs[1].t - recs[0].t
        assert 4.0 <= gap <= 6.5, gap
        assert recs[1].msg["incarnation"] == hello["incarnation"]
        assert peer.heartbeats(HOST) == []

        # WELCOME (heartbeat_ms 1000): beats at that interval, seq from 0.
        peer.auto_welcome = True
        mark = peer.mark()
        peer.welcome(HOST)
        beats = peer.wait_for(lambda: (lambda r: r if len(r) >= 7 else None)(
            peer.select(HOST, "HEARTBEAT", since=mark)), 15, "7 heartbeats")
        seqs = [b.msg["seq"] for b in beats]
        assert seqs == list(range(len(seqs))), seqs
        gaps = [(b.t - a.t) * 1000 for a, b in zip(beats[1:], beats[2:])]  # after the first
        sent = [b.msg["sent_ms"] - a.msg["sent_ms"] for a, b in zip(beats[1:], beats[2:])]
        print("heartbeat gaps (received, ms):", [round(g) for g in gaps], "sent_ms deltas:", sent)
        for g in sent:  # the agent's own clock: interval +-10% (+ a probe of a few ms)
            assert 850 <= g <= 1300, (gaps, sent)
        for g in gaps:  # as received here
            assert 700 <= g <= 1500, (gaps, sent)
        assert 900 <= sum(sent) / len(sent) <= 1150, sent
        assert peer.select(HOST, "HELLO", since=mark) == []  # welcomed: no more HELLO

        info = host.engine.inspect(host.name)
        for b in beats:
            m = b.msg
            assert m["host_id"] == HOST and m["incarnation"] == hello["incarnation"]
            assert m["job"] is None
            assert m["odc"] == {"container_id": info["Id"], "name": host.name,
                                "image": host.images.new, "state": "running",
                                "health": "healthy", "version": odcworld.NEW_BUILD}, m["odc"]
            assert [d["path"] for d in m["disks"]] == [host.dir, host.snapshot_root], m["disks"]
            for d in m["disks"]:
                assert 0 < d["free_bytes"] <= d["total_bytes"], d
        assert peer.errors() == []


# ------------------------------------------------------------------ c. ping

def test_ping_dispatch_ack_and_signed_result(odc_host, peer):
    host, conf, key = make_world(odc_host, peer)
    with running_daemon(conf, peer=peer):
        welcomed(peer)
        hello = peer.hellos(HOST)[-1]
        job = peer.make_job(action="ping", targets=[HOST])
        d = peer.dispatch(HOST, job)
        ans = peer.answer(HOST, d)
        assert ans == {"type": "ACK", "ref_type": odcproto.DISPATCH, "job_id": job.job_id,
                       "host_id": HOST, "step": "run", "nonce": d.nonce}, ans
        final = peer.wait_final(HOST, job.job_id, timeout=30)
        assert final["status"] == "ok" and final["final"] is True, final
        assert final["host_id"] == HOST and final["exit_code"] == 0
        assert final["incarnation"] == hello["incarnation"]
        # Signed by the agent's own key, verified end to end by the independent receiver.
        rec = [r for r in peer.select(HOST, "RESULT") if r.msg["final"]][0]
        assert rec.signer == bytes(key.verify_key)
        ctx = {"receiver": "coordinator", "host_id": HOST,
               "trusted": {"RESULT": [bytes(key.verify_key).hex()]}}
        assert odcproto.receive(rec.frames, ctx) == final
        with pytest.raises(odcproto.ProtoError) as e:  # and by no other key
            odcproto.receive(rec.frames, dict(ctx, trusted={"RESULT": [
                bytes(nacl.signing.SigningKey.generate().verify_key).hex()]}))
        assert e.value.code_name == "UNKNOWN_KEY"
        results = peer.results(HOST, job.job_id)
        assert results[-1]["final"] and not any(r["final"] for r in results[:-1])
        assert peer.errors() == []


# ------------------------------------------------------------------ d. refusals

def test_dispatch_refusals(odc_host, peer):
    host, conf, key = make_world(odc_host, peer)
    stranger = nacl.signing.SigningKey.generate()
    now = int(time.time() * 1000)

    def ping(**kw):
        return peer.make_job(action="ping", **dict({"targets": [HOST]}, **kw))

    def rb(params):
        return peer.make_job(action="rollback", targets=[HOST], params=params)

    def tampered_dispatch():
        d = peer.dispatch_frames(HOST, ping())
        assert d.frames[1].count(b"\xa3run") == 1
        d.frames[1] = d.frames[1].replace(b"\xa3run", b"\xa3rum")  # after signing
        return d

    def too_many_frames():
        # More frames than any message has: answered from the header, the rest read to its
        # end (common/multipart), so the next case is a message of its own.
        d = peer.dispatch_frames(HOST, ping())
        d.frames = list(d.frames) + [b"x", b"y", b"z"]
        return d

    # Target proofs (PROTOCOL.md section 2): HOST is at position 1 of 3.
    three = ["h0", HOST, "h2"]

    def with_proof(**change):
        job = ping(targets=three)
        return peer.dispatch_frames(HOST, job, target_proof=dict(job.proof(HOST), **change))

    def flipped_proof():
        job = ping(targets=three)
        p = job.proof(HOST)
        p["path"] = [p["path"][0][:-1] + bytes([p["path"][0][-1] ^ 1])] + p["path"][1:]
        return peer.dispatch_frames(HOST, job, target_proof=p)

    def short_proof():
        job = ping(targets=three)
        p = job.proof(HOST)
        return peer.dispatch_frames(HOST, job, target_proof=dict(p, path=p["path"][:1]))

    def others_proof():
        job = ping(targets=three)
        return peer.dispatch_frames(HOST, job, target_proof=job.proof("h2"))

    old, bk = odcworld.OLD_VERSION, host.backup_dir
    cases = [
        ("dispatch signed by a stranger", "UNKNOWN_KEY",
         lambda: peer.dispatch_frames(HOST, ping(), signer=stranger)),
        ("job signed by a non-operator", "UNKNOWN_KEY",
         lambda: peer.dispatch_frames(HOST, ping(signer=stranger))),
        ("job signed by the coordinator's key", "UNKNOWN_KEY",
         lambda: peer.dispatch_frames(HOST, ping(signer=peer.coordinator_key))),
        ("tampered job bytes", "BAD_SIGNATURE",
         lambda: peer.dispatch_frames(HOST, ping().tampered())),
        ("tampered dispatch bytes", "BAD_SIGNATURE", tampered_dispatch),
        ("dispatch expired", "EXPIRED",
         lambda: peer.dispatch_frames(HOST, ping(), not_before_ms=now - 120 * MIN,
                                      expires_ms=now - 60 * MIN)),
        ("dispatch not yet valid", "EXPIRED",
         lambda: peer.dispatch_frames(HOST, ping(), not_before_ms=now + 10 * MIN)),
        ("job expired", "EXPIRED",
         lambda: peer.dispatch_frames(HOST, ping(created_ms=now - 120 * MIN,
                                                 expires_ms=now - 60 * MIN))),
        ("job created in the future", "EXPIRED",
         lambda: peer.dispatch_frames(HOST, ping(created_ms=now + 10 * MIN))),
        ("dispatch for another host", "NOT_TARGET",
         lambda: peer.dispatch_frames(HOST, ping(targets=[HOST, "h2"]), host_id="h2")),
        ("host not among the job's targets", "NOT_TARGET",
         lambda: peer.dispatch_frames(HOST, ping(targets=["h2", "h3"]))),
        ("proof of another position", "NOT_TARGET",
         lambda: with_proof(index=2)),
        ("proof index equal to the target count", "NOT_TARGET",
         lambda: with_proof(index=3)),
        ("proof one hash short", "NOT_TARGET", short_proof),
        ("proof hash flipped", "NOT_TARGET", flipped_proof),
        ("another host's proof", "NOT_TARGET", others_proof),
        ("unknown action", "UNKNOWN_ACTION",
         lambda: peer.dispatch_frames(HOST, peer.make_job(action="reboot", targets=[HOST]))),
        ("relative backup path", "INVALID_PARAM",
         lambda: peer.dispatch_frames(HOST, rb({"to": old, "backup": "odcmetadb_backup"}))),
        ("bad tag", "INVALID_PARAM",
         lambda: peer.dispatch_frames(HOST, rb({"to": "-4.2.0", "backup": bk}))),
        ("missing required param", "INVALID_PARAM",
         lambda: peer.dispatch_frames(HOST, rb({"to": old}))),
        ("more frames than any message", "FRAMES", too_many_frames),
        ("param the action does not take", "INVALID_PARAM",
         lambda: peer.dispatch_frames(HOST, ping(params={"lines": "5"}))),
        ("phase the action does not allow", "INVALID_PARAM",
         lambda: peer.dispatch_frames(HOST, ping(), phase="preflight")),
    ]
    before = (host.engine.inspect(host.name)["Id"], odcworld.metadb_state(host))
    problems = []
    with running_daemon(conf, peer=peer) as agent:
        welcomed(peer)
        for name, want, build in cases:
            d = build()
            # What the NACK may name (PROTOCOL.md section 7, "Answers"), by the independent
            # implementation: nothing of a DISPATCH whose signature did not verify.
            try:
                odcproto.receive(d.frames, peer.agent_context(HOST))
                refs = "nothing: odcproto accepts it"
            except odcproto.ProtoError as e:
                refs = e.refs
            mark = peer.mark()
            peer.send(HOST, d.frames)
            try:
                ans = peer.next_answer(HOST, since=mark, timeout=10)
            except AssertionError:
                problems.append(f"{name}: no ACK/NACK within 10 s")
                continue
            got = ans["type"] if ans["type"] == "ACK" else odcproto.ERROR_NAMES[ans["code"]]
            named = {k: ans[k] for k in ("job_id", "host_id", "step", "nonce")}
            if got != want:
                problems.append(f"{name}: {got} ({ans.get('message')!r}), expected NACK {want}")
            elif named != refs or not ans["message"]:
                problems.append(f"{name}: the NACK names {named} (message {ans['message']!r}); "
                                f"PROTOCOL.md section 7 says {refs}")
        # Nothing ran, nothing changed; a valid dispatch is still accepted afterwards.
        time.sleep(1)
        assert peer.msgs(HOST, "RESULT") == [] and peer.msgs(HOST, "PROGRESS") == []
        job = ping(targets=["h0", "h1x", HOST, "h3", "h4"])  # a proof of 3 hashes
        d = peer.dispatch(HOST, job)
        assert len(d.fields["target_proof"]["path"]) == 3
        assert peer.answer(HOST, d)["type"] == "ACK"
        assert peer.wait_final(HOST, job.job_id, timeout=30)["status"] == "ok"
        assert not problems, "refusals not as PROTOCOL.md says:\n" + "\n".join(problems)
        # No case's frames were read again as a message of their own.
        assert "dropped a message from the coordinator: HEADER" not in agent.log(), agent.log()[-3000:]
    odcworld.assert_untouched(host, *before)


def test_unverified_dispatch_is_answered_from_its_header(odc_host, peer):
    """PROTOCOL.md section 7: nothing of a body is decoded before its signature verifies, and
    a refusal is answered only from the header and what was verified ("Answers"). A DISPATCH
    whose coordinator signature fails is NACKed BAD_SIGNATURE naming no job, host, step or
    nonce, although its body holds all four; one whose job signature fails names the
    DISPATCH's own host, phase and nonce, but not the job it could not trust."""
    host, conf, key = make_world(odc_host, peer)
    job_id = f"j-recognisable-{secrets.token_hex(4)}"
    with running_daemon(conf, peer=peer) as daemon:
        welcomed(peer)
        job = peer.make_job(job_id=job_id, action="ping", targets=[HOST])
        d = peer.dispatch_frames(HOST, job)
        sig = bytearray(d.frames[2])
        sig[32 + 7] ^= 0x01  # a bit of the signature; the key is still the coordinator's
        assert job_id.encode() in d.frames[1]
        mark = peer.mark()
        peer.send(HOST, [d.frames[0], d.frames[1], bytes(sig)])
        ans = peer.next_answer(HOST, since=mark)
        assert ans == {"type": "NACK", "ref_type": odcproto.DISPATCH, "job_id": "", "host_id": "",
                       "step": "", "nonce": "", "code": odcproto.E_BAD_SIGNATURE,
                       "message": ans["message"]}, ans
        assert ans["message"] and job_id not in ans["message"], ans
        # The job's signature fails (its body changed after signing): the DISPATCH's fields.
        d2 = peer.dispatch(HOST, job.tampered())
        ans = peer.answer(HOST, d2)
        assert ans["type"] == "NACK" and ans["code"] == odcproto.E_BAD_SIGNATURE, ans
        assert (ans["job_id"], ans["host_id"], ans["step"]) == ("", HOST, "run"), ans
        # Nothing unverified reached the log either; a valid DISPATCH of the job still runs.
        refused = [ln for ln in daemon.log().splitlines() if "refused a dispatch" in ln]
        assert len(refused) == 2 and all("BAD_SIGNATURE" in ln for ln in refused), refused
        assert job_id not in daemon.log()
        d3 = peer.dispatch(HOST, job)
        ans = peer.answer(HOST, d3)
        assert ans == {"type": "ACK", "ref_type": odcproto.DISPATCH, "job_id": job_id,
                       "host_id": HOST, "step": "run", "nonce": d3.nonce}, ans
        assert peer.wait_final(HOST, job_id, timeout=30)["status"] == "ok"


def test_frame_limit_at_the_agent(odc_host, peer):
    """PROTOCOL.md section 1, "Frame limits", and section 7, "Answers": the agent reads frames
    of up to its largest body (DISPATCH) + 4096 bytes; a DISPATCH body that long is NACKed
    TOO_BIG from its header alone; one byte longer is never read: the connection closes, no
    NACK comes, and the agent connects again by itself (a new HELLO). A refused message that
    is not a DISPATCH is dropped unanswered."""
    host, conf, key = make_world(odc_host, peer)
    limit = odcproto.frame_limit("agent")
    assert limit == odcproto.MAX_BODY["DISPATCH"] + 4096
    hdr = odcproto.header(odcproto.DISPATCH)
    with running_daemon(conf, peer=peer) as daemon:
        welcomed(peer)
        mark = peer.mark()
        peer.send(HOST, [hdr, b"\x00" * limit, bytes(96)])
        ans = peer.next_answer(HOST, since=mark)
        assert ans == {"type": "NACK", "ref_type": odcproto.DISPATCH, "job_id": "", "host_id": "",
                       "step": "", "nonce": "", "code": odcproto.E_TOO_BIG,
                       "message": ans["message"]}, ans
        # A WELCOME over its bound: TOO_BIG too, but not answered.
        mark = peer.mark()
        peer.send(HOST, [odcproto.header(odcproto.WELCOME), b"\x00" * 1025])
        time.sleep(1)
        assert [r for r in peer.select(HOST, since=mark) if r.type in ("ACK", "NACK")] == []
        assert "dropped a message from the coordinator: TOO_BIG" in daemon.log()
        # One byte over the limit: the connection goes, nothing answers, the agent is back.
        hellos = len(peer.hellos(HOST))
        mark = peer.mark()
        peer.send(HOST, [hdr, b"\x00" * (limit + 1), bytes(96)])
        peer.wait_for(lambda: len(peer.hellos(HOST)) > hellos, 15, "the agent's HELLO again")
        assert [r for r in peer.select(HOST, since=mark) if r.type in ("ACK", "NACK")] == []
        assert "lost the coordinator" in daemon.log()
        # The new connection works: a dispatch is answered.
        job = peer.make_job(action="ping", targets=[HOST])
        assert peer.answer(HOST, peer.dispatch(HOST, job))["type"] == "ACK"
        assert peer.wait_final(HOST, job.job_id, timeout=30)["status"] == "ok"


def test_backup_outside_roots_is_invalid_param(odc_host, peer, request):
    """PROTOCOL.md section 5: a path outside the agent's backup roots is INVALID_PARAM too,
    with the root in the message. Section 7 step 11: it is refused like every other parameter
    (the same warning in the log), before the nonce is spent (the same DISPATCH sent again is
    INVALID_PARAM again, not REPLAYED) and before BUSY."""
    host, conf, key = make_world(odc_host, peer)
    # A good backup, only not under a backup root (so nothing else is wrong with it).
    elsewhere = os.path.join(os.path.dirname(host.dir), f"not-a-root-{secrets.token_hex(3)}")
    shutil.copytree(host.backup_dir, elsewhere)
    request.addfinalizer(lambda: shutil.rmtree(elsewhere, ignore_errors=True))
    before = (host.engine.inspect(host.name)["Id"], odcworld.metadb_state(host))
    with running_daemon(conf, peer=peer) as daemon:
        welcomed(peer)
        job = peer.make_job(action="rollback", targets=[HOST],
                            params={"to": odcworld.OLD_VERSION, "backup": elsewhere})
        d = peer.dispatch(HOST, job)
        ans = peer.answer(HOST, d)
        if ans["type"] == "ACK":  # let the refused plan end before the host is cleaned
            final = peer.wait_final(HOST, job.job_id, timeout=60)
            pytest.fail(f"ACKed, then RESULT {final['step']} {final['status']}: "
                        f"{final['message']!r}")
        assert odcproto.ERROR_NAMES[ans["code"]] == "INVALID_PARAM", ans
        assert host.dir in ans["message"], ans
        assert (ans["job_id"], ans["host_id"], ans["step"]) == (job.job_id, HOST, "run"), ans
        mark = peer.mark()
        peer.resend(d)
        again = peer.answer(HOST, d, since=mark)
        assert odcproto.ERROR_NAMES[again["code"]] == "INVALID_PARAM", again
        warned = [ln for ln in daemon.log().splitlines()
                  if f"refused a dispatch of job {job.job_id}: INVALID_PARAM: " in ln]
        assert len(warned) == 2 and elsewhere in warned[0] and host.dir in warned[0], \
            daemon.log()[-3000:]
    odcworld.assert_untouched(host, *before)


# ------------------------------------------------------------------ e. replay

def test_replayed_dispatch_refused_also_after_restart(odc_host, peer):
    host, conf, key = make_world(odc_host, peer)
    with running_daemon(conf, peer=peer) as daemon:
        welcomed(peer)
        job = peer.make_job(action="ping", targets=[HOST])
        d = peer.dispatch(HOST, job)
        assert peer.answer(HOST, d)["type"] == "ACK"
        peer.wait_final(HOST, job.job_id, timeout=30)
        mark = peer.mark()
        peer.resend(d)
        ans = peer.answer(HOST, d, since=mark)
        assert ans["type"] == "NACK" and odcproto.ERROR_NAMES[ans["code"]] == "REPLAYED", ans

        assert daemon.terminate(timeout=10) == 0, daemon.log()[-3000:]
        mark = peer.mark()
        daemon.start()
        hello = peer.wait_for(lambda: (peer.msgs(HOST, "HELLO", since=mark) or [None])[0], 20,
                              "a HELLO from the restarted daemon")
        assert hello["incarnation"] != peer.hellos(HOST)[0]["incarnation"]
        mark = peer.mark()
        peer.resend(d)
        ans = peer.answer(HOST, d, since=mark)
        assert ans["type"] == "NACK" and odcproto.ERROR_NAMES[ans["code"]] == "REPLAYED", ans
        time.sleep(0.5)
        assert len(peer.steps(HOST, job.job_id)) == 1  # the ping ran once


# ------------------------------------------------------------------ f. full rollback

def check_heartbeat_steps(peer, job_id, since):
    """In stream order, a heartbeat during the job names it and its current step: the step
    running (the first without a RESULT yet) or the one that just ended. Returns how many
    heartbeats named the job."""
    done, named = 0, 0
    for r in peer.select(HOST, since=since):
        if r.type == "RESULT" and r.msg["job_id"] == job_id:
            done = max(done, plan_index(r.msg["step"]) + 1)
        elif r.type == "HEARTBEAT" and r.msg["job"] is not None:
            named += 1
            j = r.msg["job"]
            assert j["job_id"] == job_id, r.msg
            idx = plan_index(j["step"])
            assert idx is not None and done - 1 <= idx <= done, (j, done)
    return named


def test_full_rollback(odc_host, peer):
    # ODC takes 2.5 s to start, so that the plan spans a few heartbeats (1 s).
    host, conf, key = make_world(odc_host, peer, host_args={"start_delay_ms": 2500})
    with running_daemon(conf, peer=peer):
        welcomed(peer)
        mark = peer.mark()
        job = rollback_job(peer, host)
        d = peer.dispatch(HOST, job)
        ans = peer.answer(HOST, d)
        assert ans["type"] == "ACK" and ans["step"] == "run", ans
        final = peer.wait_final(HOST, job.job_id, timeout=150)
        results = peer.results(HOST, job.job_id)
        steps = [r["step"] for r in results]
        assert steps[0] in FIRST_STEP and steps[1:] == PLAN[1:], steps
        assert all(r["status"] == "ok" for r in results), [(r["step"], r["status"],
                                                            r["message"]) for r in results]
        assert final is results[-1] and not any(r["final"] for r in results[:-1])
        # Advisory PROGRESS: a step still running after the agent's 200 ms hold is
        # announced ("running") before its RESULT; a quicker one is told by its RESULT
        # alone; no PROGRESS repeats a step's end.
        progress = peer.progress(HOST, job.job_id)
        assert all(p["status"] == "running" for p in progress), progress
        for r in results:
            told = [p for p in progress if p["step"] == r["step"]]
            if r["duration_ms"] >= 1000:
                assert told, (r["step"], r["duration_ms"], progress)
            if r["duration_ms"] < 100 and told:  # a note sends the held start with it
                assert any(p["message"] for p in told), (r["step"], r["duration_ms"], told)
        assert any(p["step"] == "health" for p in progress), progress  # ODC starts in 2.5 s
        # Heartbeats during the plan named the job and its step; idle again afterwards.
        after = peer.mark()
        idle = peer.wait_for(lambda: next((m for m in peer.msgs(HOST, "HEARTBEAT", since=after)
                                           if m["job"] is None), None), 5, "an idle heartbeat")
        named = check_heartbeat_steps(peer, job.job_id, mark)
        assert named >= 2, f"only {named} heartbeats named the job"
        assert idle["odc"]["version"] in ("", odcworld.OLD_BUILD)
        assert peer.errors() == []
    assert_rolled_back(host)


# ------------------------------------------------------------------ g. BUSY, SIGTERM

def test_busy_while_a_rollback_runs_then_sigterm_and_resume(odc_host, peer):
    host, conf, key = make_world(odc_host, peer)
    daemon = AgentDaemon(conf, env={"ODC_AGENT_TEST_STEP_DELAY_MS": "2000"})
    with running_daemon(daemon, peer=peer):
        welcomed(peer)
        job = rollback_job(peer, host)
        assert peer.answer(HOST, peer.dispatch(HOST, job))["type"] == "ACK"
        peer.wait_for(lambda: peer.progress(HOST, job.job_id), 10, "the rollback's first PROGRESS")
        other = peer.make_job(action="ping", targets=[HOST])
        ans = peer.answer(HOST, peer.dispatch(HOST, other))
        assert ans["type"] == "NACK" and odcproto.ERROR_NAMES[ans["code"]] == "BUSY", ans
        assert ans["nonce"] and ans["message"]
        # The same job may be dispatched again (step 13): not BUSY.
        ans = peer.answer(HOST, peer.dispatch(HOST, job))
        assert ans["type"] == "ACK", ans
        # SIGTERM in the middle of the plan: exit 0.
        peer.wait_for(lambda: "stop" in peer.steps(HOST, job.job_id), 30, "stop's RESULT")
        assert daemon.alive()
        assert daemon.terminate(timeout=10) == 0, daemon.log()[-3000:]
        assert "health" not in peer.steps(HOST, job.job_id)
        # The next start (without the delay) resumes the plan and finishes it.
        daemon.env.pop("ODC_AGENT_TEST_STEP_DELAY_MS")
        daemon.start()
        final = peer.wait_final(HOST, job.job_id, timeout=120)
        steps = peer.steps(HOST, job.job_id)
        assert final["step"] == "health" and final["status"] == "ok", final
        assert [s for s in steps if s not in FIRST_STEP] == PLAN[1:], list(steps)
        assert all(m["status"] == "ok" for m in steps.values()), steps
        assert peer.nacks(HOST, other.job_id) and not peer.results(HOST, other.job_id)
    assert_rolled_back(host)


# ------------------------------------------------------------------ h. lost link

def outbox_acked(conf, job_id):
    """True when every RESULT of job_id in the agent's outbox is marked acknowledged."""
    import configparser
    import sqlite3
    cp = configparser.ConfigParser()
    cp.read(conf)
    db = sqlite3.connect(os.path.join(cp["agent"]["state_dir"], "journal.db"), timeout=5)
    try:
        rows = db.execute("SELECT acked FROM outbox WHERE job_id = ?", (job_id,)).fetchall()
    finally:
        db.close()
    return bool(rows) and all(r[0] == 1 for r in rows)


def test_unacked_result_resent_after_reconnect(odc_host, peer):
    peer.auto_ack = False
    host, conf, key = make_world(odc_host, peer)
    with running_daemon(conf, peer=peer):
        welcomed(peer)
        hello1 = peer.hellos(HOST)[0]
        job = peer.make_job(action="ping", targets=[HOST])
        assert peer.answer(HOST, peer.dispatch(HOST, job))["type"] == "ACK"
        first = peer.wait_final(HOST, job.job_id, timeout=30)
        first_rec = peer.select(HOST, "RESULT")[-1]

        # The coordinator goes away before acknowledging; it comes back on the same port.
        peer.stop()
        time.sleep(0.5)
        peer.auto_ack = True
        peer.start()
        hello2 = peer.wait_hello(HOST, timeout=40)
        assert hello2["incarnation"] == hello1["incarnation"]  # same process, new link
        again = peer.wait_final(HOST, job.job_id, timeout=15, epoch=peer.epoch)
        for k in ("job_id", "host_id", "step", "status", "final", "incarnation", "started_ms"):
            assert again[k] == first[k], k
        rec = peer.select(HOST, "RESULT", epoch=peer.epoch)[0]
        assert rec.signer == bytes(key.verify_key)
        print("resent RESULT byte-identical:", rec.frames == first_rec.frames)
        peer.wait_for(lambda: any(s[2] == "ACK" and s[0] == peer.epoch for s in peer.sent), 5,
                      "the peer's ACK of the resent RESULT")
        # Delivery is at least once: an ACK still in flight when the peer goes away is
        # lost and the RESULT rightly comes again. Wait until the agent recorded it.
        peer.wait_for(lambda: outbox_acked(conf, job.job_id), 10, "the agent to record the ACK")

        # Acknowledged now: the next reconnect brings no copy of it.
        peer.restart(pause=0.2)
        peer.wait_hello(HOST, timeout=40)
        peer.wait_for(lambda: len(peer.heartbeats(HOST, epoch=peer.epoch)) >= 2, 10,
                      "two heartbeats after the second reconnect")
        assert peer.results(HOST, job.job_id, epoch=peer.epoch) == []
        assert peer.errors() == []


def test_dispatch_while_a_local_plan_runs_is_refused_busy(odc_host, peer):
    """Issue 14.3: an operator runs a local plan (`odc-agent run`) on the host while the
    daemon is up; a dispatch then is refused at once with BUSY naming the local job, instead
    of being accepted and never reported (the job hung in 'preflight dispatched'). Once the
    local plan ends, the same job's next dispatch is accepted."""
    host, conf, key = make_world(odc_host, peer)
    with running_daemon(conf, peer=peer):
        welcomed(peer)
        env = dict(os.environ, ODC_AGENT_TEST_STEP_DELAY_MS="4000")
        local = subprocess.Popen([agentcli.AGENT, "-c", conf, "run", "preflight",
                                  "--accept-unverified", "--to",
                                  odcworld.OLD_VERSION, "--backup", host.backup_dir,
                                  "--job", "local-busy-1"], env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True)
        try:
            time.sleep(1.5)  # it holds the plan lock, paused in its first step
            assert local.poll() is None, local.stdout.read()
            job = peer.make_job(action="ping", targets=[HOST])
            ans = peer.answer(HOST, peer.dispatch(HOST, job))
            assert ans["type"] == "NACK" and ans["code"] == odcproto.ERROR_CODES["BUSY"], ans
            assert "busy: job local-busy-1 (" in ans["message"] and "runs on this host" in ans["message"], ans
            assert peer.results(HOST, job.job_id) == []
        finally:
            out, _ = local.communicate(timeout=60)
        assert local.returncode == 0, out
        ans = peer.answer(HOST, peer.dispatch(HOST, job))
        assert ans["type"] == "ACK", ans
        assert peer.wait_final(HOST, job.job_id, timeout=30)["status"] == "ok"


def test_refused_result_is_not_sent_again(odc_host, peer):
    """PROTOCOL.md 4: a NACK of a RESULT is final (the coordinator could not attribute it:
    VALUE, DENIED, NOT_TARGET, NOT_FOUND), so the agent does not send it again at the next
    reconnect; INTERNAL is the coordinator's own trouble, and that RESULT comes again."""
    peer.auto_ack = False
    host, conf, key = make_world(odc_host, peer)
    with running_daemon(conf, peer=peer) as daemon:
        welcomed(peer)
        refused, retried = (peer.make_job(action="ping", targets=[HOST]) for _ in range(2))
        for job, code in ((refused, "VALUE"), (retried, "INTERNAL")):
            assert peer.answer(HOST, peer.dispatch(HOST, job))["type"] == "ACK"
            r = peer.wait_final(HOST, job.job_id, timeout=30)
            peer.send(HOST, odcproto.encode("NACK", {
                "ref_type": odcproto.RESULT, "job_id": r["job_id"], "host_id": r["host_id"],
                "step": r["step"], "nonce": b"", "code": odcproto.ERROR_CODES[code],
                "message": f"refused by the test ({code})"}))
        peer.wait_for(lambda: "not sent again" in daemon.log(), 10, "the agent to log the refusal")
        assert outbox_acked(conf, refused.job_id)
        assert not outbox_acked(conf, retried.job_id)
        peer.auto_ack = True
        peer.restart(pause=0.2)
        peer.wait_hello(HOST, timeout=40)
        peer.wait_final(HOST, retried.job_id, timeout=15, epoch=peer.epoch)
        peer.wait_for(lambda: len(peer.heartbeats(HOST, epoch=peer.epoch)) >= 2, 10,
                      "two heartbeats after the reconnect")
        assert peer.results(HOST, refused.job_id, epoch=peer.epoch) == []


def test_results_made_while_the_coordinator_is_away_arrive_when_it_is_back(odc_host, peer):
    host, conf, key = make_world(odc_host, peer)
    with running_daemon(conf, env={"ODC_AGENT_TEST_STEP_DELAY_MS": "500"}, peer=peer):
        welcomed(peer)
        job = rollback_job(peer, host)
        assert peer.answer(HOST, peer.dispatch(HOST, job))["type"] == "ACK"
        peer.wait_for(lambda: peer.steps(HOST, job.job_id), 20, "the first RESULT")
        peer.stop()
        # The plan ends while nobody listens (watched from outside: not through the
        # agent's journal, whose readers must not matter here).
        host.wait_healthy(odcworld.OLD_VERSION, timeout=90)
        time.sleep(2)
        away = set(PLAN[1:]) - set(peer.steps(HOST, job.job_id))
        assert away, "every RESULT was delivered before the coordinator left"
        peer.start()
        peer.wait_hello(HOST, timeout=40)
        final = peer.wait_final(HOST, job.job_id, timeout=15)
        steps = peer.steps(HOST, job.job_id)
        assert [s for s in steps if s not in FIRST_STEP] == PLAN[1:], list(steps)
        assert all(m["status"] == "ok" for m in steps.values()), steps
        assert final["step"] == "health"
        print("delivered after the reconnect:", sorted(away))
    assert_rolled_back(host)


def test_outbox_stays_right_when_an_operator_reads_the_journal(odc_host, peer):
    """RESULTs are kept until ACKed, and only until then, across a kill -9 -- also after an
    operator looked at the journal with `odc-agent journal` (README: "shows what
    happened") while the daemon ran."""
    host, conf, key = make_world(odc_host, peer)
    daemon = AgentDaemon(conf)
    problems = []

    def ping():
        j = peer.make_job(action="ping", targets=[HOST])
        assert peer.answer(HOST, peer.dispatch(HOST, j))["type"] == "ACK"
        peer.wait_final(HOST, j.job_id, timeout=30)
        return j

    with running_daemon(daemon, peer=peer):
        welcomed(peer)
        ping()
        look = agentcli.agent(conf, "journal", timeout=30)
        assert look.returncode == 0, (look.stdout, look.stderr)
        acked = [ping(), ping()]
        peer.wait_for(lambda: sum(1 for x in peer.sent if x[2] == "ACK") >= 3, 5, "our ACKs")
        peer.auto_ack = False
        unacked = ping()
        time.sleep(0.5)
        errors = [ln for ln in daemon.log().splitlines() if "ERROR" in ln]
        if errors:
            problems.append("the daemon's own journal failed after `odc-agent journal` ran: "
                            + " | ".join(errors))
        fds = [os.readlink(f"/proc/{daemon.pid}/fd/{fd}")
               for fd in os.listdir(f"/proc/{daemon.pid}/fd")]
        deleted = sorted(f for f in fds if "journal.db" in f and "(deleted)" in f)
        if deleted:
            problems.append(f"the daemon writes to journal files that were deleted: {deleted}")
        daemon.kill9()
        mark = peer.mark()
        peer.auto_ack = True
        daemon.start()
        peer.wait_for(lambda: peer.msgs(HOST, "HELLO", since=mark), 20, "the new life's HELLO")
        welcomed(peer, since=mark)
        time.sleep(1)
        resent = [m["job_id"] for m in peer.msgs(HOST, "RESULT", since=mark)]
        if unacked.job_id not in resent:
            problems.append(f"the unACKed RESULT of {unacked.job_id} was not re-sent after "
                            f"kill -9 (re-sent: {resent})")
        again = [j.job_id for j in acked if j.job_id in resent]
        if again:
            problems.append(f"RESULTs the peer had ACKed were re-sent after kill -9: {again}")
        assert not problems, "\n".join(problems)


def test_preflight_phase_then_run_phase(odc_host, peer):
    """The coordinator's flow: phase preflight everywhere first, then phase run. The run
    phase's own first check must not reuse the (job, host, step) of the preflight phase's
    RESULT, which the coordinator records once."""
    host, conf, key = make_world(odc_host, peer)
    with running_daemon(conf, peer=peer):
        welcomed(peer)
        job = rollback_job(peer, host)
        ans = peer.answer(HOST, peer.dispatch(HOST, job, phase="preflight"))
        assert ans["type"] == "ACK" and ans["step"] == "preflight", ans
        pre = peer.wait_final(HOST, job.job_id, timeout=30)
        assert pre["step"] == "preflight" and pre["status"] == "ok", pre
        assert host.engine.inspect(host.name)["Config"]["Image"] == host.images.new
        mark = peer.mark()
        ans = peer.answer(HOST, peer.dispatch(HOST, job, phase="run"))
        assert ans["type"] == "ACK" and ans["step"] == "run", ans
        final = peer.wait_final(HOST, job.job_id, timeout=120, since=mark)
        run = [m["step"] for m in peer.results(HOST, job.job_id, since=mark)]
        assert run[0] != "preflight" and run[0] in FIRST_STEP and run[1:] == PLAN[1:], run
        assert final["step"] == "health" and final["status"] == "ok", final
    assert_rolled_back(host)


def test_every_acked_dispatch_ends_in_a_final_result(odc_host, peer):
    """An ACK says the dispatch was accepted: its phase runs (or has run) and a final RESULT
    follows. Two cases the agent may not BUSY (PROTOCOL.md section 7 step 13: the same job
    may be dispatched again): phase run while the same job's preflight phase runs, and a
    job that already ended (a coordinator that restarted asks again)."""
    host, conf, key = make_world(odc_host, peer)
    problems = []
    with running_daemon(conf, env={"ODC_AGENT_TEST_STEP_DELAY_MS": "1000"}, peer=peer):
        welcomed(peer)
        # A finished ping, dispatched again with a new nonce.
        ping = peer.make_job(action="ping", targets=[HOST])
        assert peer.answer(HOST, peer.dispatch(HOST, ping))["type"] == "ACK"
        peer.wait_final(HOST, ping.job_id, timeout=30)
        mark = peer.mark()
        ans = peer.answer(HOST, peer.dispatch(HOST, ping))
        # PROTOCOL.md section 7: a job_id and phase that already ended is ACKed, its RESULTs
        # go again (a NACK here would leave the case unchecked).
        if ans["type"] != "ACK":
            problems.append(f"ping dispatched again after it ended: {ans['type']} "
                            f"{odcproto.ERROR_NAMES.get(ans.get('code'))}, expected ACK")
        else:
            try:
                peer.wait_final(HOST, ping.job_id, timeout=8, since=mark)
            except AssertionError:
                problems.append("ping dispatched again after it ended: ACK, then no RESULT "
                                "within 8 s")
        # Phase run while the same job's phase preflight still runs.
        job = rollback_job(peer, host)
        assert peer.answer(HOST, peer.dispatch(HOST, job, phase="preflight"))["type"] == "ACK"
        peer.wait_for(lambda: peer.progress(HOST, job.job_id), 10, "the preflight's PROGRESS")
        mark = peer.mark()
        ans = peer.answer(HOST, peer.dispatch(HOST, job, phase="run"))
        # The same job_id, a new phase, nothing queued: not BUSY (section 7, step 13).
        if ans["type"] != "ACK":
            problems.append(f"phase run dispatched while the job's phase preflight ran: "
                            f"{ans['type']} {odcproto.ERROR_NAMES.get(ans.get('code'))}, "
                            f"expected ACK")
        else:
            try:
                peer.wait_for(lambda: any(m["step"] == "stop" for m in
                                          peer.results(HOST, job.job_id, since=mark)), 15,
                              "the run phase's stop RESULT")
                peer.wait_final(HOST, job.job_id, timeout=60, since=mark)
            except AssertionError:
                got = [(m["step"], m["status"]) for m in peer.results(HOST, job.job_id)]
                prog = [(m["step"], m["status"]) for m in peer.progress(HOST, job.job_id)]
                beat = (peer.heartbeats(HOST) or [{}])[-1].get("job")
                problems.append(f"phase run dispatched while the job's phase preflight ran: "
                                f"ACK, then no run-phase RESULT within 15 s (results: {got}; "
                                f"progress: {prog}; the last heartbeat's job: {beat})")
        assert not problems, "\n".join(problems)


# ------------------------------------------------------------------ i. kill -9, resume

def test_kill_9_during_rollback_then_resume(odc_host, peer):
    host, conf, key = make_world(odc_host, peer)
    daemon = AgentDaemon(conf, env={"ODC_AGENT_TEST_STEP_DELAY_MS": "1500"})
    with running_daemon(daemon, peer=peer):
        welcomed(peer)
        old_inc = peer.hellos(HOST)[0]["incarnation"]
        job = rollback_job(peer, host)
        assert peer.answer(HOST, peer.dispatch(HOST, job))["type"] == "ACK"
        peer.wait_for(lambda: any(p["step"] == "restore" and p["status"] == "running"
                                  for p in peer.progress(HOST, job.job_id)), 60,
                      "restore to start")
        time.sleep(0.3)
        daemon.kill9()
        before = peer.steps(HOST, job.job_id)
        assert "restore" not in before and "snapshot" in before, list(before)

        mark = peer.mark()
        daemon.env.pop("ODC_AGENT_TEST_STEP_DELAY_MS")
        daemon.start()
        hello = peer.wait_for(lambda: (peer.msgs(HOST, "HELLO", since=mark) or [None])[0], 20,
                              "a HELLO from the restarted daemon")
        assert hello["incarnation"] != old_inc
        final = peer.wait_final(HOST, job.job_id, timeout=120)
        steps = peer.steps(HOST, job.job_id)
        assert final["step"] == "health" and final["status"] == "ok", final
        assert [s for s in steps if s not in FIRST_STEP] == PLAN[1:], list(steps)
        for s in ("restore", "start", "health"):
            assert steps[s]["status"] == "ok", steps[s]
            assert steps[s]["incarnation"] == hello["incarnation"]
        # Heartbeats of the new life before the final RESULT name the resumed job (there are
        # some: restore, start and health take seconds, the heartbeat is every second).
        named = 0
        for r in peer.select(HOST, since=mark):
            if r.type == "RESULT" and r.msg["final"]:
                break
            if r.type == "HEARTBEAT":
                assert r.msg["job"] is not None and r.msg["job"]["job_id"] == job.job_id, r.msg
                named += 1
        assert named >= 1, "no heartbeat of the new life before the final RESULT"
    assert_rolled_back(host)
