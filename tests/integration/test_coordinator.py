"""odc-coordinator and odcctl against real agents (tests/world/fleet.py): enrollment, refused peers,
replay, liveness, targeting, canary, failure budget, pause/resume/abort, a coordinator
killed mid-rollout, and one fleet rollback end to end. Every assertion is about what an
operator sees: odcctl's exit status and output, the hosts' state, the agents' journals.

The contract is coordinator/README.md and PROTOCOL.md (sections 4, 7, 9)."""

import json
import os
import re
import time

import nacl.signing

from tests.world import odcworld
from tests.world.coordpeer import curve_public, now_ms, odcproto, pub_text
from tests.world.fleet import (FINAL_HOST_STATES, curve_fingerprint, fingerprint, fleet,  # noqa: F401
                   job_hosts, job_results, make_job, read_secret_key,
                   verify_result_evidence, wait_for)

OLD, NEW = odcworld.OLD_VERSION, odcworld.NEW_VERSION
RUN_STEPS = ["stop", "snapshot", "restore", "start", "health"]


def states(job):
    return {h["host"]: h["state"] for h in job["hosts"]}


def result_steps(job, host_id):
    return [r["step"] for r in job_results(job)[host_id]]


def exit_of_watch(fleet, job_id, timeout=60):
    r = fleet.ctl("watch", job_id, timeout=timeout)
    return r.rc, r


def no_run_phase(fleet, job_id, *host_ids):
    """Nothing of job_id ran on these hosts: no run phase in their journals, no RESULT other
    than the preflight phase's stored for them."""
    job = fleet.job(job_id, results=True)
    for h in host_ids:
        a = fleet.agents[h]
        plans = a.journal(job_id)
        assert all(p["phase"] == "preflight" for p in plans), (h, plans)
        assert set(result_steps(job, h)) <= {"preflight"}, (h, result_steps(job, h))


# ------------------------------------------------------------------ 1. enrollment

def test_enrollment_pending_accept_conflict_revoke(fleet):
    fleet.start()
    problems = []  # deviations that do not stop the rest of the test; asserted at the end
    # h2's key made as an operator would: `odcctl keygen --kind agent PATH` on its host.
    stem = os.path.join(fleet.dir, "keygen-h2")
    kg = fleet.ctl("keygen", "--kind", "agent", stem, json_out=False)
    assert kg.rc == 0, kg
    k2 = read_secret_key(stem + ".key")
    assert pub_text(k2) in kg.out and fingerprint(k2) in kg.out, kg
    if curve_fingerprint(k2) not in kg.out:
        problems.append(f"odcctl keygen does not print the CURVE fingerprint {curve_fingerprint(k2)} "
                        f"that `keys` shows for a pending key (README, keygen): {kg.out!r}")
    h1, h2 = fleet.add_agents([("h1", {"role": "web", "zone": "a"}),
                               {"host_id": "h2", "labels": {"role": "db"}, "key": k2}],
                              accept=False)
    # Unaccepted keys: pending (by their CURVE form), with the peer's address; no host.
    pend = wait_for(lambda: (lambda p: p if h1.curve_fingerprint in p and
                             h2.curve_fingerprint in p else None)(fleet.pending()), 15,
                    "both agents' keys pending")
    for a in (h1, h2):
        e = pend[a.curve_fingerprint]
        assert e["curve_key"] == curve_public(a.key).hex(), e
        assert e["address"] and "127.0.0.1" in e["address"], e
        assert e["attempts"] >= 1 and e["first_ms"] <= e["last_ms"], e
    assert fleet.keys()["keys"] == []
    assert fleet.hosts() == {}
    r = fleet.ctl("exec", "ping", "--host", "h1", "--detach")
    assert r.rc == 2 and "host h1 is not enrolled (NOT_FOUND)" in r.err, r
    assert fleet.jobs() == []
    # A pending key cannot be accepted by pointing at it (its Ed25519 form is unknown).
    prefix = h2.curve_fingerprint.split(":", 1)[1][:12]
    r = fleet.ctl("keys", "accept", "h2", prefix)
    assert r.rc == 2, r
    assert f"KEY '{prefix}': expected a public key (odc-ed25519-pub:...) or @FILE.pub" in r.err, r
    assert fleet.keys()["keys"] == []

    # Accept by the public key file (keygen's for h2), and by the key's text.
    out = fleet.accept("h2", "@" + stem + ".pub")
    assert (out["host"], out["fingerprint"]) == ("h2", h2.fingerprint), out
    out = fleet.accept("h1", pub_text(h1.key))
    assert (out["host"], out["fingerprint"]) == ("h1", h1.fingerprint), out
    hs = fleet.wait_online("h1", "h2", timeout=15, beat=True)
    for a in (h1, h2):
        h = hs[a.host_id]
        info = a.host.engine.inspect(a.host.name)
        assert h["key_state"] == "accepted" and h["fingerprint"] == a.fingerprint, h
        assert h["labels"] == a.labels, h
        assert h["agent_version"] and len(h["incarnation"] or "") == 32, h
        assert "127.0.0.1" in (h["address"] or ""), h
        assert h["restarts"] == 0 and h["beat_age_ms"] is not None, h
        assert h["odc"] == {"container_id": info["Id"], "name": a.host.name,
                            "image": a.host.images.new, "state": "running",
                            "health": "healthy", "version": odcworld.NEW_BUILD}, h["odc"]
    keys = fleet.keys()
    assert {(k["host"], k["state"], k["fingerprint"], k["public_key"]) for k in keys["keys"]} == \
        {("h1", "accepted", h1.fingerprint, pub_text(h1.key)),
         ("h2", "accepted", h2.fingerprint, pub_text(h2.key))}, keys
    assert not {h1.curve_fingerprint, h2.curve_fingerprint} & \
        {p["curve_fingerprint"] for p in keys["pending"]}, keys["pending"]
    table = fleet.ctl("hosts", json_out=False)
    assert table.rc == 0 and "h1" in table.out and "online" in table.out, table
    assert all(c in table.out for c in ("HOST", "LABELS", "STATUS", "BEAT", "ODC", "CONTAINER",
                                        "HEALTH", "JOB")), table
    assert "role=web" in table.out and NEW in table.out, table

    # The same key again changes nothing; another key for h1, or h1's key for another host:
    # CONFLICT, exit 2, naming the host.
    fleet.accept("h1", "@" + h1.pub_path)
    other = nacl.signing.SigningKey.generate()
    r = fleet.ctl("keys", "accept", "h1", pub_text(other))
    assert r.rc == 2, r
    assert (f"host h1 is enrolled with key {h1.fingerprint}; revoke it first (CONFLICT)"
            in r.err), r
    r = fleet.ctl("keys", "accept", "h3", "@" + h1.pub_path)
    assert r.rc == 2, r
    assert f"key {h1.fingerprint} belongs to host h1 (CONFLICT)" in r.err, r
    assert "h3" not in fleet.hosts()
    assert fleet.hosts()["h1"]["fingerprint"] == h1.fingerprint

    # Revoke h1: its messages are dropped (no beat recorded although it keeps beating),
    # it matches no selector and a JOB naming it is refused.
    out = fleet.ctl_ok("keys", "revoke", "h1")
    assert (out["host"], out["fingerprint"]) == ("h1", h1.fingerprint), out
    revoked_at = time.monotonic()
    r = fleet.ctl("keys", "revoke", "nosuch")
    assert r.rc == 2 and "host nosuch is not enrolled (NOT_FOUND)" in r.err, r
    hs = fleet.hosts()
    assert hs["h1"]["key_state"] == "revoked" and hs["h1"]["status"] == "revoked", hs["h1"]
    beat_at_revoke = hs["h1"]["last_beat_ms"]
    r = fleet.ctl("exec", "ping", "--host", "h1", "--detach")
    assert r.rc == 2 and "host h1 is not accepted (revoked) (NOT_FOUND)" in r.err, r
    cc = fleet.control_client()
    reply = cc.submit(make_job(fleet.operator_key, ["h1"]))
    assert reply["code_name"] == "NOT_FOUND" and "h1" in reply["message"], reply
    r = fleet.ctl("exec", "ping", "--all", timeout=60)
    assert r.rc == 0 and states(r.out) == {"h2": "succeeded"}, r
    left = (fleet.lost_after + 1) * fleet.heartbeat_ms / 1000 - (time.monotonic() - revoked_at)
    time.sleep(max(0.0, left))  # a window of lost_after + 1 beats: nothing may arrive in it
    hs = fleet.hosts()
    assert h1.alive(), h1.log()[-2000:]
    assert hs["h1"]["status"] == "revoked" and hs["h1"]["last_beat_ms"] == beat_at_revoke, hs["h1"]
    assert hs["h2"]["status"] == "online" and hs["h2"]["last_beat_ms"] > beat_at_revoke, hs["h2"]

    # After the revoke, h1 may be enrolled again with a new key.
    h1.set_key(other)
    out = fleet.accept("h1", "@" + h1.pub_path)
    assert out["fingerprint"] == fingerprint(other), out
    h1.restart()
    hs = fleet.wait_hosts(lambda hs: hs["h1"]["status"] == "online"
                          and hs["h1"]["fingerprint"] == fingerprint(other), 15,
                          "h1 online with its new key")
    assert hs["h1"]["key_state"] == "accepted"
    r = fleet.ctl("exec", "ping", "--host", "h1", timeout=60)
    assert r.rc == 0 and states(r.out) == {"h1": "succeeded"}, r
    # The audit trail names the operator (odcctl's `operator`, over ipc: local:alice).
    audit = fleet.ctl_ok("audit", "--limit", "1000")["audit"]
    keyops = [e for e in audit if e["what"] in ("key-accept", "key-revoke")]
    assert {(e["what"], e["outcome"]) for e in keyops} >= {("key-accept", "ok"),
                                                           ("key-revoke", "ok")}, audit
    for e in keyops:
        if e["who"] != "local:alice":
            problems.append(f"audit entry not attributed to local:alice: {e}")
            break
    assert not problems, "\n".join(problems)


# ------------------------------------------------------------------ 2. refused peers

def test_refused_peers_and_forged_jobs(fleet):
    fleet.start()
    h1 = fleet.add_agent("h1", labels={"role": "web"}, beat=True)
    before = fleet.hosts()["h1"]
    kx = nacl.signing.SigningKey.generate()
    fleet.accept("hx", pub_text(kx))  # enrolled, but no agent runs with it

    plain = fleet.raw_agent(curve=False)
    stranger_key = nacl.signing.SigningKey.generate()
    stranger = fleet.raw_agent(stranger_key)
    impostor = fleet.raw_agent(kx)
    evil_odc = {"container_id": "", "name": "evil", "image": "evil:1", "state": "exited",
                "health": "unhealthy", "version": "9.9.9"}
    for c in (plain, stranger, impostor):
        c.hello("h1", labels={"evil": "yes"})
        c.heartbeat("h1", odc=evil_odc)
    # Nothing comes back to any of them (HELLO is answered by WELCOME when admitted).
    deadline = time.monotonic() + 4
    for name, c in (("plaintext", plain), ("unknown key", stranger), ("hx's key as h1", impostor)):
        got = c.recv(max(0.0, deadline - time.monotonic()))
        assert got is None, f"{name} peer got an answer: {got}"
    # h1 is unaffected by what was said in its name.
    after = fleet.hosts()["h1"]
    for k in ("status", "labels", "incarnation", "restarts", "fingerprint"):
        assert after[k] == before[k], (k, before[k], after[k])
    assert after["odc"]["version"] == odcworld.NEW_BUILD and after["odc"]["name"] == h1.host.name, after["odc"]
    assert fleet.hosts()["hx"]["status"] == "never"
    # The refused CURVE key is pending (with no host); the enrolled one is not.
    pend = fleet.pending()
    assert curve_fingerprint(stranger_key) in pend and curve_fingerprint(kx) not in pend, pend
    # Control: the same hand-made peer speaking for its own id is welcomed.
    impostor.hello("hx")
    welcome = impostor.wait_type("WELCOME", 5)
    assert welcome is not None, "an enrolled key saying its own host id got no WELCOME"
    assert welcome["heartbeat_ms"] == fleet.heartbeat_ms and welcome["lost_after"] == 3, welcome
    assert fleet.hosts()["hx"]["status"] == "online"

    # JOBs on the control socket: every forgery is refused with its code, nothing runs.
    cc = fleet.control_client()
    rogue = nacl.signing.SigningKey.generate()
    good = make_job(fleet.operator_key, ["h1"])
    forged_sig = make_job(fleet.operator_key, ["h1"])
    forged_sig.sig = bytes(fleet.operator_key.verify_key) + os.urandom(64)
    t = now_ms()
    cases = [
        ("signed by an untrusted key", make_job(rogue, ["h1"]), "UNKNOWN_KEY"),
        ("signed by the coordinator's key", make_job(fleet.coordinator_key, ["h1"]),
         "UNKNOWN_KEY"),
        ("body changed after signing", good.tampered(), "BAD_SIGNATURE"),
        ("forged signature", forged_sig, "BAD_SIGNATURE"),
        ("alice's key, operator bob", make_job(fleet.operator_key, ["h1"], operator="bob"),
         "DENIED"),
        ("expired", make_job(fleet.operator_key, ["h1"], created_ms=t - 7200_000,
                             expires_ms=t - 3600_000), "EXPIRED"),
        ("unknown target", make_job(fleet.operator_key, ["h1", "h9"]), "NOT_FOUND"),
        # Frame 3 is not signed but bound by the body's Merkle root (PROTOCOL.md section 2).
        ("target list not the signed one",
         make_job(fleet.operator_key, ["h1"]).with_target_list(["hx"]), "VALUE"),
        ("target list longer than the signed count",
         make_job(fleet.operator_key, ["h1"]).with_target_list(["h1", "hx"]), "VALUE"),
    ]
    problems = []
    for name, job, want in cases:
        reply = cc.submit(job)
        if reply["code_name"] != want or reply["request_id"] != 0 or reply["body"] is not None:
            problems.append(f"{name}: {reply}, expected {want}")
    assert not problems, "\n".join(problems)
    assert fleet.jobs() == []
    for _, job, _ in cases:
        assert h1.journal(job.job_id) == []
    # The genuine one is accepted and runs.
    reply = cc.submit(good)
    assert reply["code_name"] == "OK" and reply["body"]["job_id"] == good.job_id, reply
    job = fleet.wait_job(good.job_id, 30)
    assert job["state"] == "succeeded" and states(job) == {"h1": "succeeded"}, job
    assert job["signer"] == fingerprint(fleet.operator_key), job
    assert [j["job_id"] for j in fleet.jobs()] == [good.job_id]


def test_agents_refuse_dispatches_signed_by_keys_they_do_not_trust(fleet):
    """The DISPATCH-level forgery in the real flow: to h2 the real coordinator is a
    stranger (h2 trusts another coordinator key), and h3 trusts another operator. Both
    NACK the real coordinator's dispatch (UNKNOWN_KEY); the coordinator reports the host
    failed at `dispatch`; h1, which trusts both, runs the same job."""
    fleet.start()
    stranger = nacl.signing.SigningKey.generate()
    h1, h2, h3 = fleet.add_agents([
        {"host_id": "h1"},
        {"host_id": "h2", "conf_over": {"trust.coordinators": pub_text(stranger)}},
        {"host_id": "h3", "conf_over": {"trust.operators": pub_text(stranger)}}])
    r = fleet.ctl("exec", "ping", "--all", timeout=60)
    assert r.rc == 1, r
    job = fleet.job(r.out["job_id"], results=True)
    assert job["state"] == "failed", job
    hs = job_hosts(job)
    assert hs["h1"]["state"] == "succeeded", hs["h1"]
    for a in (h2, h3):
        h = hs[a.host_id]
        assert h["state"] == "failed" and h["failed_step"] == "dispatch", h
        assert "UNKNOWN_KEY" in h["message"] or "trusted" in h["message"], h  # the NACK's why
        assert job_results(job)[a.host_id] == [], job_results(job)
        assert a.journal(job["job_id"]) == []
        # The agent names nothing it did not verify (PROTOCOL.md 7): no job id in its log,
        # and its NACK carries none; the coordinator matches it to the host's one dispatch.
        assert "refused a dispatch: UNKNOWN_KEY" in a.log(), a.log()[-2000:]
        assert job["job_id"] not in a.log(), a.log()[-2000:]
    print("coordinator's messages:", hs["h2"]["message"], "|", hs["h3"]["message"])


# ------------------------------------------------------------------ 3. replay

def test_replayed_dispatch_refused_after_agent_restart(fleet):
    """A DISPATCH made by the real coordinator is captured on the way (a relay holding the
    coordinator's and the agent's keys sits where the agent connects) and sent again: the
    agent refuses it as REPLAYED while it runs, after a restart and after a kill -9,
    whereas the coordinator's new dispatch after the restart is accepted."""
    fleet.start()
    key = nacl.signing.SigningKey.generate()
    relay = fleet.relay(key, start=False)
    a = fleet.add_agent("h1", key=key, endpoint=relay.endpoint, start=False)
    relay.start()  # after `keys accept`: its upstream link is made once
    a.start()
    fleet.wait_online("h1", timeout=20, beat=True)
    r = fleet.ctl("exec", "ping", "--host", "h1", timeout=60)
    assert r.rc == 0, r
    j1 = r.out["job_id"]
    caps = relay.dispatches(j1)
    assert len(caps) == 1, caps
    frames, d = caps[0]
    ctx = {"receiver": "agent", "host_id": "h1", "now_ms": now_ms(),
           "skew_ms": odcproto.DEFAULT_SKEW_MS,
           "trusted": {"DISPATCH": [bytes(fleet.coordinator_key.verify_key).hex()],
                       "JOB": [bytes(fleet.operator_key.verify_key).hex()]},
           "seen_nonces": [], "busy_job": None}
    assert odcproto.receive(frames, ctx)["job"]["job_id"] == j1  # a genuine dispatch
    assert relay.answer(d["nonce"])["type"] == "ACK"

    def replay():
        mark = relay.mark()
        relay.inject(frames)
        ans = relay.answer(d["nonce"], since=mark, timeout=10)
        return ans["type"] if ans["type"] == "ACK" else odcproto.ERROR_NAMES[ans["code"]]

    assert replay() == "REPLAYED"
    inc = fleet.hosts()["h1"]["incarnation"]
    assert a.stop() == 0
    a.start()
    fleet.wait_hosts(lambda hs: hs["h1"]["status"] == "online"
                     and hs["h1"]["incarnation"] != inc, 15, "h1 back, new incarnation")
    assert replay() == "REPLAYED"
    inc = fleet.hosts()["h1"]["incarnation"]
    a.kill9()
    a.start()
    fleet.wait_hosts(lambda hs: hs["h1"]["status"] == "online"
                     and hs["h1"]["incarnation"] != inc, 15, "h1 back after kill -9")
    assert replay() == "REPLAYED"
    # The job ran once, and the coordinator stored its result once.
    assert a.journal_steps(j1) == [("run", "ping", "ok")], a.journal(j1)
    assert result_steps(fleet.job(j1, results=True), "h1") == ["ping"]
    # The coordinator's next dispatch (a new nonce) is accepted after the restarts.
    mark = relay.mark()
    r = fleet.ctl("exec", "ping", "--host", "h1", timeout=60)
    assert r.rc == 0, r
    (_, d2), = relay.dispatches(r.out["job_id"])
    assert d2["nonce"] != d["nonce"]
    assert relay.answer(d2["nonce"], since=mark)["type"] == "ACK"

    # A re-dispatch proper: the agent is killed inside a slow backup's run phase and comes
    # back; the coordinator asks again for the run phase with a new nonce, which the
    # restarted agent accepts, while the first run dispatch, replayed, is refused.
    a.daemon.env["ODC_AGENT_TEST_STEP_DELAY_MS"] = "2500"
    inc = fleet.hosts()["h1"]["incarnation"]
    a.restart()
    fleet.wait_hosts(lambda hs: hs["h1"]["status"] == "online"
                     and hs["h1"]["incarnation"] != inc, 15, "h1 back, slow now")
    j3 = fleet.submit("exec", "backup", "--host", "h1", "--name", "bk-replay")
    fleet.wait_job_host(j3, "h1", ("running",), 30)
    wait_for(lambda: a.ran(j3), 10, "h1's run phase to start")
    run1 = [x for x in relay.dispatches(j3) if x[1]["phase"] == "run"]
    assert len(run1) == 1, run1
    a.kill9()
    mark = relay.mark()
    a.start()
    again = wait_for(lambda: [x for x in relay.dispatches(j3)
                              if x[1]["phase"] == "run"][len(run1):], 15,
                     "the coordinator's re-dispatch")
    assert again[0][1]["nonce"] != run1[0][1]["nonce"]
    assert relay.answer(again[0][1]["nonce"], since=mark)["type"] == "ACK"
    frames, d = run1[0]
    assert replay() == "REPLAYED"
    job = fleet.wait_job(j3, 60)
    assert job["state"] == "succeeded", job
    assert sorted(result_steps(job, "h1")) == ["backup", "preflight"], job_results(job)


# ------------------------------------------------------------------ 4. lost and back

def test_killed_agent_goes_lost_then_comes_back(fleet):
    fleet.start()
    fleet.add_agents(["h1", "h2", "h3"], beat=True)
    before = fleet.hosts()
    h2 = fleet.agents["h2"]
    t0 = time.monotonic()
    h2.kill9()

    def lost():
        hs = fleet.hosts()
        for other in ("h1", "h3"):
            assert hs[other]["status"] == "online", (other, hs[other])
        return hs if hs["h2"]["status"] == "lost" else None

    limit = fleet.lost_after * fleet.heartbeat_ms / 1000 + 3.0
    hs = wait_for(lost, limit, "h2 lost", interval=0.1)
    print(f"h2 lost {time.monotonic() - t0:.1f} s after kill -9 (limit {limit} s)")
    assert hs["h2"]["incarnation"] == before["h2"]["incarnation"]
    counts = fleet.info()["hosts"]
    assert counts["online"] == 2 and counts["lost"] == 1, counts
    table = fleet.ctl("hosts", json_out=False)
    assert "lost" in table.out, table
    # Filtered and sorted as an operator asks; a lost host's ODC is what it last said, stale.
    table = fleet.ctl("hosts", "--status", "lost", json_out=False)
    rows = [line for line in table.out.splitlines()[1:] if line and not line.startswith("*")]
    assert len(rows) == 1 and rows[0].startswith("h2 "), table.out
    assert "running*" in rows[0] and "healthy*" in rows[0], rows[0]
    assert "* stale: what a host that is not online last reported" in table.out, table.out
    by_beat = [h["host"] for h in fleet.ctl_ok("hosts", "--status", "online,lost", "--sort", "beat")["hosts"]]
    assert by_beat[0] == "h2" and sorted(by_beat) == ["h1", "h2", "h3"], by_beat  # the oldest first
    assert [h["host"] for h in fleet.ctl_ok("hosts", "--status", "online")["hosts"]] == ["h1", "h3"]
    assert [h["host"] for h in fleet.ctl_ok("hosts", "--sort", "status")["hosts"]] == ["h2", "h1", "h3"]
    r = fleet.ctl("hosts", "--status", "gone")
    assert r.rc == 2 and "--status 'gone': a comma list of online, lost, never, revoked" in r.err, r
    r = fleet.ctl("hosts", "--sort", "age")
    assert r.rc == 2 and "--sort 'age'" in r.err, r
    # The quorum gate (backup's default: 100 % online): halted before anything is touched.
    r = fleet.ctl("exec", "backup", "--all", "--name", "bk-quorum", timeout=60)
    assert r.rc == 4, r  # halted
    job = fleet.job(r.out["job_id"], results=True)
    assert job["state"] == "halted" and job["stage"] == "quorum" and job["message"], job
    assert job_results(job) == {"h1": [], "h2": [], "h3": []}, job_results(job)
    for a in fleet.agents.values():
        if a.host_id != "h2":
            assert a.journal(job["job_id"]) == [], a

    h2.start()
    hs = fleet.wait_hosts(lambda hs: hs["h2"]["status"] == "online"
                          and hs["h2"]["incarnation"] != before["h2"]["incarnation"], 15,
                          "h2 online with a new incarnation")
    assert hs["h2"]["restarts"] == before["h2"]["restarts"] + 1, hs["h2"]
    for other in ("h1", "h3"):
        assert hs[other]["incarnation"] == before[other]["incarnation"]
        assert hs[other]["restarts"] == before[other]["restarts"] == 0
    assert fleet.info()["hosts"]["online"] == 3

    # A clean restart of the coordinator (SIGTERM: exit 0) keeps the enrollments; the
    # agents come back by themselves; `restarts` counts per coordinator process.
    assert fleet.stop() == 0, fleet.log_tail(3000)
    fleet.start()
    hs = fleet.wait_online("h1", "h2", "h3", timeout=20)
    for h in ("h1", "h2", "h3"):
        assert hs[h]["key_state"] == "accepted" and hs[h]["restarts"] == 0, hs[h]
        assert hs[h]["labels"] == before[h]["labels"], hs[h]


# ------------------------------------------------------------------ 5. targeting

def test_targeted_commands_reach_exactly_their_targets(fleet):
    fleet.start()
    agents = fleet.add_agents([("h1", {"role": "web", "zone": "a"}),
                               ("h2", {"role": "db", "zone": "a"}),
                               ("h3", {"role": "web", "zone": "b"})])
    assert set(fleet.hosts("--label", "role=web")) == {"h1", "h3"}
    cases = [
        (["--label", "role=web"], {"h1", "h3"}),
        (["--host", "h2"], {"h2"}),
        (["--hosts", "h[12]"], {"h1", "h2"}),
        (["--label", "role=web", "--label", "zone=b"], {"h3"}),
        (["--host", "h1", "--host", "h2"], {"h1", "h2"}),
        (["--all"], {"h1", "h2", "h3"}),
    ]
    jobs = []
    for sel, want in cases:
        r = fleet.ctl("exec", "ping", *sel, timeout=60)
        assert r.rc == 0, (sel, r)
        # exec follows the job and prints its final body, with results (README, -o json).
        assert r.out["state"] == "succeeded" and set(job_results(r.out)) == want, (sel, r)
        assert all(result_steps(r.out, h) == ["ping"] for h in want), (sel, r)
        job = fleet.job(r.out["job_id"], results=True)
        assert job["state"] == "succeeded" and job["targets"] == len(want), (sel, job)
        assert set(states(job)) == want and set(states(job).values()) == {"succeeded"}, (sel, job)
        for h in want:
            assert result_steps(job, h) == ["ping"], (sel, h, job)
        jobs.append((job["job_id"], want))
    for job_id, want in jobs:
        for a in agents:
            ran = a.journal_steps(job_id)
            assert ran == ([("run", "ping", "ok")] if a.host_id in want else []), (job_id, a, ran)
    assert fleet.ctl("watch", jobs[0][0], timeout=30).rc == 0

    # An empty match is an error naming the selector; nothing is submitted.
    for sel, name in [(["--label", "role=nope"], "role=nope"), (["--hosts", "zz*"], "zz*"),
                      (["--host", "h9"], "h9")]:
        r = fleet.ctl("exec", "ping", *sel, timeout=30)
        assert r.rc == 2 and name in r.err and r.err.startswith("odcctl: "), (sel, r)
    r = fleet.ctl("exec", "ping", timeout=30)
    assert r.rc == 2, r
    assert len(fleet.jobs()) == len(cases)
    r = fleet.ctl("watch", "ping-20000101T000000Z-abcdef", timeout=30)
    assert r.rc == 2 and "ping-20000101T000000Z-abcdef" in r.err, r


# ------------------------------------------------------------------ 6. canary

def test_failing_canary_halts_before_the_first_batch(fleet):
    fleet.start()
    h1, h2, h3 = fleet.add_agents([{"host_id": "h1", "obdumper": "fail"}, "h2", "h3"])
    name = "bk-canary"
    r = fleet.ctl("exec", "backup", "--all", "--canary", "1", "--name", name, timeout=120)
    assert r.rc == 4, r  # halted
    job_id = r.out["job_id"]
    job = fleet.job(job_id, results=True)
    assert job["state"] == "halted" and job["message"], job
    hs = job_hosts(job)
    assert hs["h1"]["role"] == "canary" and hs["h1"]["state"] == "failed", hs["h1"]
    assert hs["h1"]["failed_step"] == "backup" and "obdumper" in hs["h1"]["message"], hs["h1"]
    assert hs["h2"]["state"] == hs["h3"]["state"] == "skipped", (hs["h2"], hs["h3"])
    assert job["counts"]["failed"] == 1 and job["counts"]["skipped"] == 2, job["counts"]
    no_run_phase(fleet, job_id, "h2", "h3")
    for a in (h2, h3):
        assert not os.path.exists(os.path.join(a.host.dir, name))
    assert ("run", "backup", "failed") in h1.journal_steps(job_id)
    assert exit_of_watch(fleet, job_id)[0] == 4


# ------------------------------------------------------------------ 7. failure budget

def test_failure_budget_halts_mid_rollout(fleet):
    fleet.start()
    agents = fleet.add_agents([{"host_id": "h1", "obdumper": "fail"}, "h2",
                               {"host_id": "h3", "obdumper": "fail"}, "h4", "h5"])
    r = fleet.ctl("exec", "backup", "--all", "--canary", "0", "--batch", "1", "--budget", "1",
                  "--name", "bk-budget", timeout=180)
    assert r.rc == 4, r  # halted
    job_id = r.out["job_id"]
    job = fleet.job(job_id, results=True)
    assert job["state"] == "halted" and job["message"], job
    assert states(job) == {"h1": "failed", "h2": "succeeded", "h3": "failed",
                           "h4": "skipped", "h5": "skipped"}, states(job)
    hs = job_hosts(job)
    assert [hs[h]["batch"] for h in ("h1", "h2", "h3")] == [1, 2, 3], hs
    assert job["batch"] == 3, job
    for h in ("h1", "h3"):
        assert hs[h]["failed_step"] == "backup" and hs[h]["message"], hs[h]
    no_run_phase(fleet, job_id, "h4", "h5")
    assert os.path.isdir(os.path.join(agents[1].host.dir, "bk-budget"))
    assert exit_of_watch(fleet, job_id)[0] == 4

    # A failure within the budget: the job ends `failed`, exit 1 (also for watch).
    r = fleet.ctl("exec", "backup", "--host", "h1", "--host", "h2", "--canary", "0",
                  "--budget", "1", "--name", "bk-budget2", timeout=120)
    assert r.rc == 1, r
    job = fleet.job(r.out["job_id"])
    assert job["state"] == "failed" and states(job) == {"h1": "failed", "h2": "succeeded"}, job
    assert exit_of_watch(fleet, job["job_id"])[0] == 1


# ------------------------------------------------------------------ pause, resume, abort

def test_pause_resume_abort(fleet):
    fleet.start()
    h1, h2, h3 = fleet.add_agents(["h1", "h2", "h3"], step_delay_ms=1500)
    job_id = fleet.submit("exec", "backup", "--all", "--canary", "0", "--batch", "1",
                          "--name", "bk-pause")
    fleet.wait_job_host(job_id, "h1", ("running",), 30)
    out = fleet.ctl_ok("pause", job_id)
    assert out["state"] == "paused", out
    r = fleet.ctl("pause", job_id)
    assert r.rc == 2 and f"job {job_id} is paused; cannot pause it (CONFLICT)" in r.err, r
    # A target of a paused job is busy for other jobs: CONFLICT naming the host and the job.
    r = fleet.ctl("exec", "ping", "--host", "h3", "--detach")
    assert r.rc == 2 and f"host h3 is busy with job {job_id} (paused) (CONFLICT)" in r.err, r
    # What runs goes on; nothing new is dispatched while paused.
    fleet.wait_job_host(job_id, "h1", ("succeeded",), 30)
    quiet_until = time.monotonic() + 3
    while time.monotonic() < quiet_until:
        job = fleet.job(job_id)
        assert job["state"] == "paused", job
        assert states(job)["h2"] in ("pending", "preflight", "ready"), states(job)
        time.sleep(0.3)
    assert not h2.ran(job_id)
    out = fleet.ctl_ok("resume", job_id)
    assert out["state"] == "running", out
    fleet.wait_job_host(job_id, "h2", ("running", "succeeded"), 15)
    out = fleet.ctl_ok("abort", job_id)
    assert out["state"] == "aborted", out
    job = wait_for(lambda: (lambda j: j if states(j)["h2"] in FINAL_HOST_STATES else None)(
        fleet.job(job_id)), 30, "h2 to end after the abort")
    assert job["state"] == "aborted" and job["message"], job
    assert states(job)["h1"] == "succeeded" and states(job)["h3"] == "skipped", states(job)
    no_run_phase(fleet, job_id, "h3")
    assert exit_of_watch(fleet, job_id)[0] == 4
    for cmd in ("resume", "abort", "pause"):
        r = fleet.ctl(cmd, job_id)
        assert r.rc == 2 and f"job {job_id} is aborted; cannot {cmd} it (CONFLICT)" in r.err, \
            (cmd, r)
    r = fleet.ctl("abort", "backup-20000101T000000Z-abcdef")
    assert r.rc == 2 and "no job backup-20000101T000000Z-abcdef (NOT_FOUND)" in r.err, r
    assert fleet.job(job_id)["state"] == "aborted"


# ------------------------------------------------------------------ a rollback end to end

def test_fleet_rollback_end_to_end(fleet):
    fleet.start()
    agents = fleet.add_agents(["h1", "h2"], beat=True)
    backup = fleet.shared_backup(agents)
    r = fleet.ctl("rollback", "--to", OLD, "--backup", backup, "--all",
                  "--accept-unverified", "--dry-run", timeout=120)
    assert r.rc == 0 and r.out["state"] == "succeeded", r
    for a in agents:
        assert a.host.info_version() == odcworld.NEW_BUILD
    r = fleet.ctl("rollback", "--to", OLD, "--backup", backup, "--all",
                  "--accept-unverified", "--reason", "e2e",
                  timeout=240)
    assert r.rc == 0, r
    job = fleet.job(r.out["job_id"], results=True)
    assert job["state"] == "succeeded" and job["reason"] == "e2e", job
    hs = job_hosts(job)
    assert hs["h1"]["role"] == "canary" and hs["h2"]["role"] == "batch", hs
    for a in agents:
        res = job_results(job)[a.host_id]
        run = [x["step"] for x in res if x["step"] in RUN_STEPS]
        assert run == RUN_STEPS, [x["step"] for x in res]
        assert all(x["status"] == "ok" for x in res), res
        assert res[-1]["final"] and res[-1]["step"] == "health", res[-1]
        assert a.host.info_version() == odcworld.OLD_BUILD
        assert a.host.engine.inspect(a.host.name)["Config"]["Image"] == a.host.images.old
    fleet.wait_hosts(lambda hs: all((hs[a.host_id].get("odc") or {}).get("version") == odcworld.OLD_BUILD
                                    and hs[a.host_id]["odc"]["image"] == a.host.images.old
                                    for a in agents), 15, "hosts reporting ODC 4.2.0")
    audit = fleet.ctl_ok("audit", "--job", job["job_id"])["audit"]
    assert audit and all(e["job_id"] == job["job_id"] for e in audit), audit


# ------------------------------------------------------------------ unacknowledged dispatches

def test_unacknowledged_dispatch_leaves_the_host_unreachable(fleet):
    """ack_timeout: a DISPATCH nobody ACKs is sent again (3 tries in all), then the host is
    `unreachable` (failed_step `dispatch`); the other target is not held up. The mute host
    is a hand-made agent: enrolled, welcomed, beating, and deaf to dispatches."""
    fleet.start()
    fleet.add_agent("h1")
    kx = nacl.signing.SigningKey.generate()
    fleet.accept("hx", pub_text(kx))
    mute = fleet.raw_agent(kx)
    mute.hello("hx")
    assert mute.wait_type("WELCOME", 5) is not None
    mute.heartbeat("hx")
    fleet.wait_online("hx", timeout=5)
    job_id = fleet.submit("exec", "ping", "--all")
    got = []
    deadline = time.monotonic() + 25
    while time.monotonic() < deadline:
        mute.heartbeat("hx")
        frames = mute.recv(0.5)
        if frames is not None and odcproto.TYPE_NAMES.get(frames[0][3]) == "DISPATCH":
            got.append((time.monotonic(), odcproto.receive(frames, {
                "receiver": "agent", "host_id": "hx",
                "trusted": {"DISPATCH": [bytes(fleet.coordinator_key.verify_key).hex()],
                            "JOB": [bytes(fleet.operator_key.verify_key).hex()]}})))
        if fleet.job(job_id)["state"] not in ("running", "paused"):
            break
    job = fleet.job(job_id)
    hs = job_hosts(job)
    assert hs["h1"]["state"] == "succeeded", hs["h1"]
    assert hs["hx"]["state"] == "unreachable" and hs["hx"]["failed_step"] == "dispatch", hs["hx"]
    assert job["state"] == "failed", job
    gaps = [round(b[0] - a[0], 1) for a, b in zip(got, got[1:])]
    print("dispatch tries to the mute host, gaps (s):", gaps)
    assert len(got) == 3, [d["nonce"] for _, d in got]
    assert all(d["job"]["job_id"] == job_id for _, d in got)
    assert all(g >= 1.5 for g in gaps), gaps  # ack_timeout 2 s between tries
    assert exit_of_watch(fleet, job_id)[0] == 1


# ------------------------------------------------------------------ 8. coordinator kill -9

def test_coordinator_kill9_mid_rollout_loses_no_result(fleet):
    fleet.start()
    agents = fleet.add_agents(["h1", "h2", "h3"], step_delay_ms=2500)
    h1 = agents[0]
    job_id = fleet.submit("exec", "backup", "--all", "--canary", "0", "--batch", "1",
                          "--name", "bk-kill")
    fleet.wait_job_host(job_id, "h1", ("running",), 40)
    wait_for(lambda: h1.ran(job_id), 10, "h1's run phase to start")
    fleet.kill9()
    down_ms = now_ms()
    r = fleet.ctl("hosts", timeout=30)
    assert r.rc == 3 and r.err, r  # unreachable
    wait_for(lambda: ("run", "backup", "ok") in h1.journal_steps(job_id), 30,
             "h1's backup to end while the coordinator is down")
    assert not fleet.alive()
    fleet.start()
    up_ms = fleet.started_ms
    job = fleet.wait_job(job_id, 90)
    assert job["state"] == "succeeded", job
    assert set(states(job).values()) == {"succeeded"}, states(job)
    for a in agents:
        res = job_results(job)[a.host_id]
        steps = [x["step"] for x in res]
        assert len(steps) == len(set(steps)), (a.host_id, steps)  # each (job, host, step) once
        assert sorted(steps) == sorted(s for _, s, _ in a.journal_steps(job_id)), \
            (a.host_id, steps, a.journal(job_id))
        for x in res:
            verify_result_evidence(x, a.key)
        assert os.path.isdir(os.path.join(a.host.dir, "bk-kill"))
    late = next(x for x in job_results(job)["h1"] if x["step"] == "backup")
    assert late["started_ms"] + late["duration_ms"] >= down_ms - 1000, (late, down_ms)
    assert late["received_ms"] >= up_ms, (late, up_ms)
    for h in job["hosts"]:  # the phase last dispatched, also after the restart's re-dispatch
        assert h["phase"] == "run", h


def test_silent_peers_are_noticed_both_ways(fleet):
    """A peer that went silent without closing anything: a frozen process (SIGSTOP) keeps
    its TCP connection up (the kernel still ACKs). The coordinator notices a frozen agent by
    its missing HEARTBEATs (lost after lost_after beats; it sends no ZMTP heartbeats of its
    own: libzmq cancels heartbeat timers at O(connections), PROTOCOL.md 1); an agent
    notices a frozen coordinator by its unanswered ZMTP pings (coordinator.ping, 2 s here),
    drops the link and connects again. Both come back when the peer does."""
    import signal

    fleet.start()
    fleet.add_agents(["h1", "h2"], beat=True)
    a = fleet.agents["h1"]

    # The agent freezes: lost within the lost window (1 s x 3 here), the other host
    # untouched; when it thaws it beats again on the same connection.
    t0 = time.monotonic()
    os.kill(a.daemon.pid, signal.SIGSTOP)
    try:
        hs = fleet.wait_hosts(lambda hs: hs["h1"]["status"] == "lost", 15, "h1 lost")
        lost = time.monotonic() - t0
        assert hs["h2"]["status"] == "online", hs["h2"]
    finally:
        os.kill(a.daemon.pid, signal.SIGCONT)
    print(f"the coordinator marked the frozen agent lost after {lost:.1f} s")
    assert lost < 5, lost  # 3 beats of 1 s and the 250 ms sweep, not TCP's minutes
    fleet.wait_hosts(lambda hs: hs["h1"]["status"] == "online", 20, "h1 back online")

    # The coordinator freezes: every agent notices the silent link and, once the
    # coordinator runs again, reconnects and says HELLO again.
    logs = {h: ag.log().count("lost the coordinator") for h, ag in fleet.agents.items()}
    hellos = {h: ag.log().count("connected to the coordinator") for h, ag in fleet.agents.items()}
    t0 = time.monotonic()
    os.kill(fleet.proc.pid, signal.SIGSTOP)
    try:
        for h, ag in fleet.agents.items():
            wait_for(lambda: ag.log().count("lost the coordinator") > logs[h], 15,
                     f"{h} noticing the frozen coordinator")
        noticed = time.monotonic() - t0
    finally:
        os.kill(fleet.proc.pid, signal.SIGCONT)
    print(f"agents noticed the frozen coordinator after {noticed:.1f} s")
    assert noticed < 12, noticed
    for h, ag in fleet.agents.items():
        wait_for(lambda: ag.log().count("connected to the coordinator") > hellos[h], 20,
                 f"{h} reconnecting")
    fleet.wait_hosts(lambda hs: all(hs[h]["status"] == "online" for h in ("h1", "h2")), 20,
                     "both hosts online again")
    r = fleet.ctl("exec", "ping", "--all", timeout=30)
    assert r.rc == 0, r


# ------------------------------------------------------------------ nothing more after a stop

class MuteHost:
    """A hand-made agent that is enrolled, welcomed and beating, and that never acknowledges
    a DISPATCH: what the coordinator sees of a frozen agent (SIGSTOP) or one whose link
    lost the dispatch. It records every DISPATCH it gets; `restart()` says HELLO with a new
    incarnation, as an agent that was killed and started again does."""

    def __init__(self, fleet, host_id, peers):
        self.fleet, self.id = fleet, host_id
        self.peers = peers  # every MuteHost of the test: each pump beats them all
        peers.append(self)
        self.key = nacl.signing.SigningKey.generate()
        fleet.accept(host_id, pub_text(self.key))
        self.raw = fleet.raw_agent(self.key)
        self.dispatches = []
        self.restart()
        assert self.raw.wait_type("WELCOME", 5) is not None
        # Online, and every MuteHost made before it still is (slow builds take a while).
        deadline = time.monotonic() + 15
        while True:
            self.pump(0.3)
            hs = fleet.hosts()
            if all((hs.get(p.id) or {}).get("status") == "online" for p in peers):
                break
            assert time.monotonic() < deadline, {p.id: (hs.get(p.id) or {}).get("status") for p in peers}

    def restart(self):
        self.raw.incarnation = os.urandom(16)
        self.raw.seq = 0
        self.raw.hello(self.id)

    def pump(self, seconds, first=False):
        """Beats (every MuteHost of the test) and listens for seconds, or with first until a
        DISPATCH arrives; returns the DISPATCHes received meanwhile."""
        got = []
        deadline = time.monotonic() + seconds
        next_beat = 0.0
        while time.monotonic() < deadline and not (first and got):
            if time.monotonic() >= next_beat:
                for p in self.peers:
                    p.raw.heartbeat(p.id)
                next_beat = time.monotonic() + 0.3
            frames = self.raw.recv(min(0.05, max(0.01, deadline - time.monotonic())))
            if frames is not None and odcproto.TYPE_NAMES.get(frames[0][3]) == "DISPATCH":
                d = odcproto.receive(frames, {
                    "receiver": "agent", "host_id": self.id,
                    "trusted": {"DISPATCH": [bytes(self.fleet.coordinator_key.verify_key).hex()],
                                "JOB": [bytes(self.fleet.operator_key.verify_key).hex()]}})
                got.append(d)
        self.dispatches += got
        return got

    def wait_dispatch(self, job_id, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for d in self.pump(deadline - time.monotonic(), first=True):
                if d["job"]["job_id"] == job_id:
                    return d
        raise AssertionError(f"no DISPATCH of {job_id} reached {self.id} in {timeout} s")

    def result(self, job_id, step, final=False, status="ok", tail="", data=None):
        """Sends a RESULT signed with this host's enrolled key: what a compromised agent can
        say."""
        self.raw.send(odcproto.encode("RESULT", {
            "job_id": job_id, "host_id": self.id, "step": step, "status": status,
            "exit_code": 0, "started_ms": now_ms(), "duration_ms": 1, "message": f"{step} {status}",
            "output_tail": tail, "data": data or {}, "final": final,
            "incarnation": self.raw.incarnation}, signing_key=self.key))

    def answers(self):
        """(type, job_id, step, code name) of every ACK and NACK to its RESULTs so far."""
        out = []
        for frames in self.raw.received:
            name = odcproto.TYPE_NAMES.get(frames[0][3])
            if name in ("ACK", "NACK"):
                m = odcproto.receive(frames)
                if m["ref_type"] == odcproto.TYPE_CODES["RESULT"]:
                    out.append((name, m["job_id"], m["step"],
                                odcproto.ERROR_NAMES.get(m.get("code", 0), "OK")))
        return out

    def wait_answers(self, n, timeout=10):
        """Pumps until n answers to its RESULTs have arrived; returns them."""
        deadline = time.monotonic() + timeout
        while len(self.answers()) < n:
            assert time.monotonic() < deadline, f"{self.id}: {self.answers()}, {n} expected"
            self.pump(0.1)
        return self.answers()

    def nack(self, d, code="INVALID_PARAM", message="refused by the test"):
        self.raw.send(odcproto.encode("NACK", {
            "ref_type": odcproto.TYPE_CODES["DISPATCH"], "job_id": d["job"]["job_id"],
            "host_id": self.id, "step": d["phase"], "nonce": bytes.fromhex(d["nonce"]),
            "code": odcproto.ERROR_CODES[code], "message": message}))


def test_nothing_more_is_sent_after_abort_halt_or_pause(fleet):
    """Issue 13.1. A host whose dispatch was never acknowledged (a frozen agent, a lost
    link) gets nothing more of a job that was aborted or halted: not when its agent
    restarts and says HELLO, not when the ack timeout passes, not after a coordinator
    restart. Its state stays `running` until the unanswered dispatch is dead (its expiry
    plus twice the protocol's 30 s skew; the e2e test waits for the `unreachable` that
    follows), and a new job naming it is refused with the reason. A paused job sends nothing
    either, and sends the phase again at resume. (Before the fix, HELLO brought a new
    DISPATCH of the aborted job within milliseconds.)"""
    fleet.start()
    mutes = []
    mx, my, mz = (MuteHost(fleet, h, mutes) for h in ("hx", "hy", "hz"))

    # Abort.
    aborted = fleet.submit("exec", "ping", "--host", "hx", "--reason", "abort test")
    d = mx.wait_dispatch(aborted)
    assert d["phase"] == "run" and d["expires_ms"] - d["not_before_ms"] <= 2000, d  # ack_timeout
    out = fleet.ctl_ok("abort", aborted)
    assert out["state"] == "aborted", out
    mx.restart()
    late = mx.pump(5)  # 2.5 ack timeouts
    assert late == [], [x["job"]["job_id"] for x in late]
    hx = job_hosts(fleet.job(aborted))["hx"]
    assert hx["state"] == "running" and hx["phase"] == "run", hx
    # The coordinator restarts: still nothing, the host still awaited.
    fleet.restart()
    for m in mutes:
        m.restart()
    late = mx.pump(4)
    assert late == [], [x["job"]["job_id"] for x in late]
    assert job_hosts(fleet.job(aborted))["hx"]["state"] == "running"
    assert "nothing is sent" in fleet.log(), fleet.log_tail(3000)
    # Until then hx is busy with the aborted job, and a new job says why and for how long.
    r = fleet.ctl("exec", "ping", "--host", "hx", "--detach")
    assert r.rc == 2 and aborted in r.err and "never acknowledged" in r.err, r

    # Halt: hy refuses its dispatch, the budget of 0 is exceeded, hz never answered.
    halted = fleet.submit("exec", "ping", "--host", "hy", "--host", "hz", "--canary", "0",
                          "--batch", "2", "--budget", "0")
    dy = my.wait_dispatch(halted)
    mz.wait_dispatch(halted)
    my.nack(dy)
    job = wait_for(lambda: (lambda j: j if j["state"] == "halted" else None)(fleet.job(halted)),
                   10, "the job to halt")
    assert job_hosts(job)["hz"]["state"] == "running", job_hosts(job)
    mz.restart()
    late = mz.pump(5)
    assert late == [], [x["job"]["job_id"] for x in late]

    # Pause: nothing at HELLO nor after the ack timeout; the phase again at resume.
    paused = fleet.submit("exec", "ping", "--host", "hy")
    dp = my.wait_dispatch(paused)
    assert fleet.ctl_ok("pause", paused)["state"] == "paused"
    my.restart()
    late = my.pump(5)
    assert late == [], [x["job"]["job_id"] for x in late]
    assert fleet.ctl_ok("resume", paused)["state"] == "running"
    again = my.wait_dispatch(paused, timeout=5)
    assert again["nonce"] != dp["nonce"] and again["phase"] == "run", again
    my.nack(again)
    assert fleet.wait_job(paused, 10, results=False)["state"] == "failed"

    # Until the unanswered dispatches die (2 s + 2 x 30 s after they were sent) the hosts stay
    # awaited, also after the restart (the expiry is stored); the e2e test waits for the
    # `unreachable` that follows (tests/e2e, test_abort_while_the_agent_is_frozen_...).
    assert job_hosts(fleet.job(aborted))["hx"]["state"] == "running"
    assert job_hosts(fleet.job(halted))["hz"]["state"] == "running"
    # Nothing of the three jobs reached a host after the job stopped.
    mx.pump(1)
    assert [x["job"]["job_id"] for x in mx.dispatches] == [aborted], mx.dispatches
    assert [x["job"]["job_id"] for x in my.dispatches] == [halted, paused, paused]
    assert [x["job"]["job_id"] for x in mz.dispatches] == [halted]


def dir_bytes(path):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


def test_results_are_bounded_and_paged(fleet):
    """Issue 13.2. An agent's RESULT is stored only for a step of its job's action in a
    phase dispatched to it: a compromised agent's 400 RESULTs of ~50 KB with invented step
    names are refused (NACK VALUE) and the store does not grow; a RESULT of an unknown job,
    of a job not targeting the sender, or before anything was dispatched is refused too.
    What is stored (18 hosts x 7 steps of ~48 KB, over the 16 MiB a REPLY may hold) reads
    back whole through `odcctl job --results`, a page at a time, and can be narrowed to a
    host or a step. (Before: every invented step was stored, and `job --results` failed
    with "REPLY body exceeds 16777216".)"""
    fleet.start()
    mutes = []
    hosts = [MuteHost(fleet, f"h{i:02d}", mutes) for i in range(18)]

    def ended(jid):
        hosts[0].pump(0.3)
        j = fleet.job(jid)
        return j if j["state"] not in ("running", "paused") else None
    # h00 is the canary of a ping of h00 and h01: until it answers, nothing of that job is
    # dispatched to h01 (DENIED); h02 is no target (NOT_TARGET); an unknown job: NOT_FOUND.
    other = fleet.submit("exec", "ping", "--host", "h00", "--host", "h01", "--canary", "1")
    hosts[0].wait_dispatch(other)
    hosts[1].result(other, "ping", final=True)
    hosts[2].result(other, "ping", final=True)
    hosts[2].result("no-such-job", "ping", final=True)
    assert hosts[1].wait_answers(1) == [("NACK", other, "ping", "DENIED")]
    assert hosts[2].wait_answers(2) == [("NACK", other, "ping", "NOT_TARGET"),
                                        ("NACK", "no-such-job", "ping", "NOT_FOUND")]
    hosts[0].result(other, "ping", final=True)
    hosts[1].wait_dispatch(other)
    hosts[1].result(other, "ping", final=True)
    assert wait_for(lambda: ended(other), 15, "the ping to end")["state"] == "succeeded"
    backup = os.path.join(fleet.backup_root, "bk")
    job_id = fleet.submit("rollback", "--to", OLD, "--backup", backup, "--all",
                          "--accept-unverified", "--canary", "0",
                          "--batch", "100%")
    data = {f"k{i:02d}": "d" * 1000 for i in range(32)}
    tail = "t" * 16000
    run_steps = ["recheck", "stop", "snapshot", "restore", "start", "health"]
    for h in hosts:
        h.wait_dispatch(job_id)
        h.result(job_id, "preflight", final=True, tail=tail, data=data)
    for h in hosts:
        d = h.wait_dispatch(job_id, timeout=15)
        assert d["phase"] == "run", d
    for h in hosts:
        for i, step in enumerate(run_steps):
            h.result(job_id, step, final=i == len(run_steps) - 1, tail=tail, data=data)
    job = wait_for(lambda: ended(job_id), 30, "the rollback to end")
    assert job["state"] == "succeeded", job
    assert hosts[1].answers()[:2] == [("NACK", other, "ping", "DENIED"), ("ACK", other, "ping", "OK")], \
        hosts[1].answers()
    assert hosts[2].answers()[:2] == [("NACK", other, "ping", "NOT_TARGET"),
                                      ("NACK", "no-such-job", "ping", "NOT_FOUND")], hosts[2].answers()

    # A compromised h00 floods invented steps: every one refused, nothing stored.
    before = dir_bytes(fleet.state_dir)
    junk = {f"x{i:02d}": "j" * 1000 for i in range(32)}
    for i in range(400):
        step = "zz_" + "".join(chr(97 + (i >> (2 * k)) % 26) for k in range(8))
        hosts[0].result(job_id, step, tail="n" * 16000, data=junk)

    def all_refused():
        hosts[0].pump(0.5)
        return sum(1 for a in hosts[0].answers() if a[0] == "NACK" and a[3] == "VALUE") >= 400
    wait_for(all_refused, 30, "400 NACKs of invented steps")
    grown = dir_bytes(fleet.state_dir) - before
    assert grown < 2 * 1024 * 1024, f"the store grew {grown} bytes"
    assert "refused the zz_" in fleet.log(), fleet.log_tail(2000)

    # Everything stored reads back, though it is more than one REPLY can hold.
    r = fleet.ctl("job", job_id, "--results", timeout=120)
    assert r.rc == 0, r
    res = r.out["results"]
    assert len(res) == 18 * 7, len(res)
    assert sum(len(json.dumps(x)) for x in res) > 16 * 1024 * 1024
    assert [x["host"] for x in res] == sorted(x["host"] for x in res)  # target order
    assert all(x["step"] in run_steps + ["preflight"] for x in res)
    assert len({(x["host"], x["step"]) for x in res}) == len(res)
    one = fleet.ctl_ok("job", job_id, "--results", "--host", "h03")
    assert [h["host"] for h in one["hosts"]] == ["h03"], one["hosts"]
    assert {x["host"] for x in one["results"]} == {"h03"} and len(one["results"]) == 7
    hl = fleet.ctl_ok("job", job_id, "--results", "--step", "health")
    assert sorted(x["host"] for x in hl["results"]) == [h.id for h in hosts], hl["results"]
    r = fleet.ctl("job", job_id, "--host", "nohost")
    assert r.rc == 1 and "nohost" in r.err, r
    r = fleet.ctl("job", job_id, "--step", "health")
    assert r.rc == 2 and "--results" in r.err, r
    # The control command itself: pages by count, and by bytes within a REPLY's bound.
    cc = fleet.control_client()

    def pages(limit):
        seen, after, n = [], 0, 0
        while True:
            rep = cc.request("results", {"job": job_id, "after": after, "limit": limit}, timeout=30)
            assert rep["code"] == 0, rep
            body = rep["body"]
            assert 1 <= len(body["results"]) <= limit, len(body["results"])
            seen += [(x["host"], x["step"]) for x in body["results"]]
            n += 1
            if body["next"] is None:
                return seen, n
            after = body["next"]
    seen, n = pages(50)
    assert len(seen) == len(set(seen)) == 18 * 7 and n == 3, (len(seen), n)
    seen, n = pages(1000)  # about 8 MiB a page at most: the bytes cut the pages
    assert len(seen) == len(set(seen)) == 18 * 7 and n >= 2, (len(seen), n)
    rep = cc.request("results", {"job": "no-such-job"})
    assert rep["code_name"] == "NOT_FOUND", rep
    rep = cc.request("results", {"job": job_id, "limit": 0})
    assert rep["code_name"] == "VALUE", rep
    rep = cc.request("job", {"job": job_id, "results": True})
    assert rep["code_name"] == "VALUE" and "results" in rep["message"], rep


def test_remote_operator_must_be_the_jobs_signer(fleet):
    """Issue 13.5. On the CURVE tcp control socket the connection proves which operator
    submits; a JOB signed by another operator (relayed, or stolen from them) is DENIED and
    audited as refused; the operator's own signed JOB passes that check."""
    bob = nacl.signing.SigningKey.generate()
    tcp = f"tcp://127.0.0.1:{odcworld.free_port()}"
    fleet.write_conf(**{"control.tcp": tcp, "trust.operators":
                        f"alice={pub_text(fleet.operator_key)}, bob={pub_text(bob)}"})
    fleet.start()
    fleet.add_agent("h1")
    cc = fleet.control_client(tcp, bob)
    alices = make_job(fleet.operator_key, ["h1"], operator="alice")
    rep = cc.submit(alices)
    assert rep["code_name"] == "DENIED", rep
    assert "operator bob may not submit a job signed by alice" in rep["message"], rep
    assert fleet.jobs() == []
    e = fleet.ctl_ok("audit", "--limit", "1")["audit"][0]
    assert (e["who"], e["what"], e["outcome"]) == ("operator bob", "job-submit", "refused"), e
    # bob's own JOB is his to submit (h1 runs it).
    rep = cc.submit(make_job(bob, ["h1"], operator="bob"))
    assert rep["code"] == 0, rep
    # alice on the ipc socket may still submit her own.
    assert fleet.control_client().submit(alices)["code"] == 0


def test_a_failed_upgrade_unit_is_sent_its_revert_phase(fleet):
    """PROTOCOL.md 5 and 9.2, as a peer sees them. An upgrade's canary whose run fails is sent
    a DISPATCH of phase `revert` once its run is over; a `revert_*` RESULT before that is
    refused (VALUE); an agent that says HELLO during its revert is asked for it again; its final
    revert RESULT ends the job, halted, saying the canary is back. The other host is never sent
    its run phase."""
    fleet.start()
    mutes = []
    h1, h2 = MuteHost(fleet, "h1", mutes), MuteHost(fleet, "h2", mutes)
    job_id = fleet.submit("upgrade", "--to", "4.3.0", "--all", "--canary", "1")
    for h in (h1, h2):
        assert h.wait_dispatch(job_id)["phase"] == "preflight"
        h.result(job_id, "preflight", final=True)
    assert h1.wait_dispatch(job_id, timeout=15)["phase"] == "run"
    h1.result(job_id, "revert_stop")
    assert h1.wait_answers(2)[-1] == ("NACK", job_id, "revert_stop", "VALUE"), h1.answers()
    for step in ("recheck", "stop", "snapshot", "start"):
        h1.result(job_id, step)
    h1.result(job_id, "health", status="failed", final=True)
    d = h1.wait_dispatch(job_id, timeout=15)
    assert d["phase"] == "revert", d
    host = fleet.job_host(job_id, "h1")
    assert (host["state"], host["revert"], host["phase"]) == ("failed", "running", "revert"), host
    assert fleet.job(job_id)["state"] == "running"  # it halts once the canary is back
    # A host whose revert runs is busy, and the refusal says with what and until when.
    r = fleet.ctl("exec", "ping", "--host", "h1", "--detach")
    assert r.rc == 2 and (f"host h1 is busy with the automatic revert of job {job_id} (running): "
                          "revert running: revert dispatched; the host is free once it ends "
                          f"(odcctl job {job_id}) (CONFLICT)") in r.err, r
    h1.restart()  # HELLO: the revert is asked for again
    assert h1.wait_dispatch(job_id, timeout=15)["phase"] == "revert"
    for step in ("revert_preflight", "revert_stop", "revert_restore", "revert_start"):
        h1.result(job_id, step)
    h1.result(job_id, "revert_health", final=True)

    def ended():
        h1.pump(0.3)
        j = fleet.job(job_id)
        return j if j["state"] != "running" else None
    job = wait_for(ended, 15, "the upgrade to end")
    assert job["state"] == "halted", job
    assert "canary h1 failed at health: health failed; reverted by itself: revert_health ok" in \
        job["message"], job
    hosts = job_hosts(job)
    assert (hosts["h1"]["revert"], hosts["h1"]["revert_message"]) == ("ok", "revert_health ok")
    assert hosts["h2"]["state"] == "skipped" and hosts["h2"]["revert"] == "", hosts["h2"]
    assert [d["phase"] for d in h2.dispatches if d["job"]["job_id"] == job_id] == ["preflight"]
    # Only the early revert RESULT was refused; every other one was taken.
    assert [a for a in h1.answers() if a[0] == "NACK"] == [("NACK", job_id, "revert_stop", "VALUE")]


def test_oversize_frames_are_answered_or_dropped_as_section_1_says(fleet):
    """Issue 13.5 (PROTOCOL.md 1, "Frame limits"; 7, "Answers"; 9). A body a little over its
    type's bound still arrives and is answered TOO_BIG: a REQUEST on the control socket gets a
    REPLY, a RESULT on the agents' socket a NACK. A frame over the receiver's frame limit is
    never read: its connection is closed unanswered, and the coordinator goes on serving."""
    fleet.start()
    mute = MuteHost(fleet, "hx", [])
    cc = fleet.control_client()
    big = odcproto.header(odcproto.TYPE_CODES["REQUEST"])
    rep = cc.exchange([big, b"\x93" + b"\x00" * 1052672], timeout=10)
    assert rep["code"] == odcproto.ERROR_CODES["TOO_BIG"], rep
    # Over the control socket's frame limit (1056768, plus CURVE's 33 bytes that an ipc
    # frame does not carry): the connection is closed, no REPLY.
    huge = fleet.control_client()
    huge.sock.send_multipart([big, b"\x00" * (1056768 + 33 + 1)])
    if huge.sock.poll(2000):
        raise AssertionError(f"a frame over the limit was answered: {odcproto.receive(huge.sock.recv_multipart(), {'receiver': 'cli'})}")
    assert fleet.ctl_ok("info")["coordinator_id"] == fleet.coordinator_id
    # A RESULT body of 65537 bytes: NACK TOO_BIG naming nothing it did not verify.
    mute.raw.send([odcproto.header(odcproto.TYPE_CODES["RESULT"]), b"\x00" * 65537, b"\x00" * 96])
    deadline = time.monotonic() + 5
    nack = None
    while nack is None and time.monotonic() < deadline:
        mute.pump(0.2)
        for frames in mute.raw.received:
            if odcproto.TYPE_NAMES.get(frames[0][3]) == "NACK":
                nack = odcproto.receive(frames)
    assert nack is not None and nack["code"] == odcproto.ERROR_CODES["TOO_BIG"], nack
    assert nack["ref_type"] == odcproto.TYPE_CODES["RESULT"] and nack["job_id"] == "", nack
    assert fleet.hosts()["hx"]["status"] == "online"


def test_too_many_frames_are_answered_and_drained_for_the_next_message(fleet):
    """Issue 17 (common/multipart; PROTOCOL.md 7, "Answers"). A message with more frames
    than any type has is read to its last frame and refused FRAMES: a REPLY on the control
    socket, a NACK naming the header's type on the agents' socket. The next message on the
    same connection is read whole and answered for what it is."""
    fleet.start()
    mute = MuteHost(fleet, "hx", [])
    cc = fleet.control_client()
    info = odcproto.encode("REQUEST", {"request_id": 9, "command": "info", "args": {}})
    # 7 frames after the routing id: 4 are kept, "z" is one too many, "w" and "v" are what
    # only draining consumes (left queued they would be read as a message of their own,
    # "w" as its routing id, and be refused HEADER in the log).
    rep = cc.exchange(list(info) + [b"x", b"y", b"z", b"w", b"v"])
    assert (rep["code"], rep["message"], rep["request_id"]) == (
        odcproto.ERROR_CODES["FRAMES"], "wrong number of frames", 0), rep
    rep = cc.request("info", request_id=10)
    assert (rep["code"], rep["request_id"]) == (0, 10), rep
    assert rep["body"]["coordinator_id"] == fleet.coordinator_id

    def nack_after(frames):
        mute.raw.received.clear()
        mute.raw.send(frames)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            mute.pump(0.2)
            for got in mute.raw.received:
                if odcproto.TYPE_NAMES.get(got[0][3]) == "NACK":
                    return odcproto.receive(got)
        raise AssertionError(f"no NACK within 5 s to {len(frames)} frames")

    result = odcproto.header(odcproto.TYPE_CODES["RESULT"])
    nack = nack_after([result, b"\x00" * 16, b"\x00" * 96, b"t", b"u", b"v", b"w"])
    assert (nack["code"], nack["message"]) == (odcproto.ERROR_CODES["FRAMES"], "more than 4 frames"), nack
    assert nack["ref_type"] == odcproto.TYPE_CODES["RESULT"], nack
    nack = nack_after([result, b"\x00" * 65537, b"\x00" * 96])
    assert nack["code"] == odcproto.ERROR_CODES["TOO_BIG"], nack
    assert fleet.hosts()["hx"]["status"] == "online"
    log = fleet.log()
    assert "host hx: refused a RESULT: FRAMES: more than 4 frames" in log, fleet.log_tail()
    # Nothing of either message was read again as a message of its own.
    assert "refused a message: HEADER" not in log, fleet.log_tail()


# ------------------------------------------------------------------ logs

def test_logs_prints_the_tail_of_odcs_log(fleet):
    """`odcctl logs HOST` prints the last lines of ODC's container log as the agent fetched
    them (a signed logs job, no progress around it); `exec logs` prints each host's text
    under a header after its summary; a host that cannot give it says why."""
    fleet.start()
    h1, h2 = fleet.add_agents(["h1", "h2"])
    docker = h1.host.engine.docker("logs", "--tail", "5", h1.host.name, check=False)
    want = (docker.stdout + docker.stderr).splitlines()
    r = fleet.ctl("logs", "h1", "--lines", "5", json_out=False)
    assert r.rc == 0, r
    got = r.stdout.splitlines()
    assert got and len(got) <= 5 and set(got) <= set(want), (got, want)
    assert not any(line.startswith("job ") for line in got), got  # only the log
    job = fleet.ctl_ok("jobs")["jobs"][0]
    assert job["action"] == "logs" and job["params"] == {"lines": "5"}, job

    r = fleet.ctl("exec", "logs", "--all", "--lines", "3", json_out=False)
    assert r.rc == 0, r
    assert "\n==> h1 <==\n" in r.stdout and "\n==> h2 <==\n" in r.stdout, r.stdout
    assert re.search(r"^h2\s+succeeded", r.stdout, re.M), r.stdout  # the summary first

    h2.host.engine.docker("rm", "-f", h2.host.name)
    r = fleet.ctl("logs", "h2", json_out=False)
    assert r.rc == 1 and r.stdout == "", r
    assert "odcctl: h2: failed: " in r.err and h2.host.name in r.err, r.err
    r = fleet.ctl("logs", "nobody", json_out=False)
    assert r.rc == 2 and "host nobody is not enrolled (NOT_FOUND)" in r.err, r


# ------------------------------------------------------------------ prune (issue 16)

def test_prune_through_the_coordinator(fleet):
    """`odcctl prune HOST` is a signed job: without --yes and without a terminal it asks
    nothing and submits nothing (exit 2); --dry-run lists; with --yes the agent removes
    the older rollback's kept container and snapshot beyond its keep=1 and keeps the latest
    one's, whose `odcctl undo` still works after; a second prune removes nothing."""
    fleet.start()
    a = fleet.add_agent("h1", conf_over={"retention.keep": "2"})
    h = a.host

    def leftovers():
        kept = sorted(c["Name"].lstrip("/")
                      for c in odcworld.containers_named(h, f"{h.name}-rolledback-"))
        return kept, sorted(os.listdir(h.snapshot_root))

    jobs, names = [], []
    for extra in ((), ("--force",)):
        before = leftovers()[0]
        if extra:
            latest_id = h.engine.inspect(h.name)["Id"]  # what the second rollback keeps
        r = fleet.ctl("rollback", "--to", OLD, "--backup", h.backup_dir, "--host", "h1",
                      "--accept-unverified", *extra, timeout=240)
        assert r.rc == 0, f"{r!r}\n{fleet.log_tail(4000)}"
        jobs.append(r.out["job_id"])
        names += sorted(set(leftovers()[0]) - set(before))
    assert leftovers() == (sorted(names), sorted(jobs))
    # The agent's rule becomes keep=1 (the daemon reads it at its start).
    with open(a.conf) as f:
        text = f.read()
    assert "keep = 2" in text
    with open(a.conf, "w") as f:
        f.write(text.replace("keep = 2", "keep = 1"))
    inc = fleet.hosts()["h1"]["incarnation"]
    a.restart()
    fleet.wait_hosts(lambda hs: hs["h1"]["status"] == "online" and hs["h1"]["incarnation"] != inc, 15,
                     "h1 back with keep=1")

    r = fleet.ctl("prune", "h1", json_out=False, yes=False)
    assert r.rc == 2, r
    assert "prune removes what rollbacks kept on 1 host: confirm it with --yes" in r.err, r.err
    assert "nothing was submitted" in r.err, r.err
    assert not any(j["action"] == "prune" for j in fleet.jobs())

    r = fleet.ctl("prune", "h1", "--dry-run", json_out=False, yes=False)
    assert r.rc == 0, r
    assert f"would remove container {names[0]} (rollback {jobs[0]} of " in r.stdout, r.stdout
    assert f"would remove snapshot {h.snapshot_root}/{jobs[0]} " in r.stdout, r.stdout
    assert f"kept container {names[1]} (rollback {jobs[1]} of " in r.stdout, r.stdout
    assert f"odcctl undo --of {jobs[1]}) needs it" in r.stdout, r.stdout
    assert leftovers() == (sorted(names), sorted(jobs))

    r = fleet.ctl("prune", "h1", json_out=False)
    assert r.rc == 0, r
    assert f"removed container {names[0]} (rollback {jobs[0]} of " in r.stdout, r.stdout
    assert f"removed snapshot {h.snapshot_root}/{jobs[0]} " in r.stdout, r.stdout
    assert leftovers() == ([names[1]], [jobs[1]])
    job = fleet.ctl_ok("jobs")["jobs"][0]
    assert job["action"] == "prune" and job["state"] == "succeeded", job
    res = job_results(fleet.job(job["job_id"], results=True))["h1"]
    assert [x["step"] for x in res] == ["prune"] and res[0]["data"]["removed"] == "2", res

    r = fleet.ctl("prune", "--all", json_out=False)
    assert r.rc == 0 and "removed" not in r.stdout, r
    assert leftovers() == ([names[1]], [jobs[1]])

    r = fleet.ctl("undo", "--of", jobs[1], timeout=240)
    assert r.rc == 0, f"{r!r}\n{fleet.log_tail(4000)}"
    assert h.engine.inspect(h.name)["Id"] == latest_id
