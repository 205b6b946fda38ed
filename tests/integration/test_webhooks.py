"""Webhook notifications of odc-coordinator (coordinator/README.md, "Notifications"): the
real coordinator, [webhook.NAME] sections pointing at an HTTP receiver in this process that
records every request and answers from a script. Bodies of the three formats for the start,
finish and halt (quorum gate, failure budget) of jobs run by real agents; DingTalk's signature
checked with hmac; retries
with growing delays, the attempt bound, no retry on 400, Retry-After, DingTalk errcodes, a
receiver slower than the timeout; a hanging receiver holds neither the coordinator nor the
other webhooks, and shutdown gives deliveries a bounded grace.

Jobs that need no agent target an enrolled host that never comes online (`h9`): they start
and end at once (unreachable), which is all a notification needs.

Run from the repository: /usr/bin/python3 -m pytest -q tests/integration/test_webhooks.py"""

import base64
import hashlib
import hmac
import json
import os
import re
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import nacl.signing
import pytest

from tests.world import odcworld
from tests.world.coordpeer import pub_text
from tests.world.fleet import (COORDINATOR, fingerprint, fleet, wait_for,  # noqa: F401
                               write_key_pair)

DING_SECRET = "SEC8d1f6c2e0b7a4f3e9c5d2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e"
OK_ANSWER = (200, {}, b'{"errcode":0,"errmsg":"ok"}')


class Receiver:
    """An HTTP server on 127.0.0.1 (a thread per request) that records each request as
    {t, path, query, headers, body, json} and answers with the next scripted response of its
    path: (status, headers, body), ("hang", seconds) to answer nothing for that long, or
    ("stream", seconds) to answer 200 with a body that goes on for that long.
    With no script left: 200 {"errcode":0,"errmsg":"ok"}, which every format takes."""

    def __init__(self):
        self.requests = []
        self.scripts = {}
        self.cond = threading.Condition()
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                url = urllib.parse.urlsplit(self.path)
                try:
                    parsed = json.loads(body)
                except ValueError:
                    parsed = None
                with receiver.cond:
                    receiver.requests.append({
                        "t": time.monotonic(), "path": url.path,
                        "query": dict(urllib.parse.parse_qsl(url.query)),
                        "headers": dict(self.headers), "body": body, "json": parsed})
                    script = receiver.scripts.get(url.path) or []
                    answer = script.pop(0) if script else OK_ANSWER
                    receiver.cond.notify_all()
                if answer[0] == "hang":
                    receiver.release.wait(answer[1])
                    self.close_connection = True
                    return
                if answer[0] == "stream":
                    # HTTP/1.0, no Content-Length: the body ends when the connection does.
                    self.close_connection = True
                    end = time.monotonic() + answer[1]
                    try:
                        self.send_response(200)
                        self.end_headers()
                        while time.monotonic() < end and not receiver.release.is_set():
                            self.wfile.write(b'{"errcode":0}' + b" " * 8192)
                    except OSError:
                        pass
                    return
                status, headers, text = answer
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(text)))
                    self.end_headers()
                    self.wfile.write(text)
                except OSError:
                    pass

        class Server(ThreadingHTTPServer):
            # Every webhook connects at once: the default backlog (5) would drop SYNs, and
            # a dropped SYN costs a second, longer than some attempts' timeout here.
            request_queue_size = 128
            daemon_threads = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def script(self, path, *answers):
        with self.cond:
            self.scripts[path] = list(answers)

    def got(self, path, job_id=None):
        with self.cond:
            return [r for r in self.requests if r["path"] == path and
                    (job_id is None or (r["json"] and job_id in json.dumps(r["json"])))]

    def wait(self, path, n, timeout=10.0, job_id=None):
        """The requests to path (about job_id) once there are at least n."""
        return wait_for(lambda: (lambda rs: rs if len(rs) >= n else None)(self.got(path, job_id)),
                        timeout, f"{n} requests to {path}", interval=0.05)

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def rx():
    """A Receiver, closed after the test."""
    r = Receiver()
    try:
        yield r
    finally:
        r.close()


def webhook(name, url, **keys):
    lines = "".join(f"{k} = {v}\n" for k, v in keys.items())
    return f"[webhook.{name}]\nurl = {url}\n{lines}\n"


def start(fleet, hooks):
    """Starts the coordinator with these [webhook.*] sections; enrolls host h9, which never
    comes online."""
    fleet.write_conf(extra="".join(hooks))
    fleet.start()
    _, _, pub = write_key_pair(os.path.join(fleet.dir, "h9"))
    fleet.accept("h9", "@" + pub)


def dingtalk_signed(req, secret=DING_SECRET):
    """The request carries DingTalk's timestamp and sign, made with secret, timestamp now."""
    ts, sign = req["query"].get("timestamp"), req["query"].get("sign")
    assert ts and sign, req["query"]
    assert abs(int(ts) - time.time() * 1000) < 60_000, ts
    mac = hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest()
    assert sign == base64.b64encode(mac).decode(), (sign, req["query"])
    return True


def events_of(reqs, job_id):
    return [r["json"]["event"] for r in reqs if r["json"]["job"]["id"] == job_id]


# ------------------------------------------------------------------ bodies

def test_start_finish_and_halt_bodies_in_three_formats(fleet, rx):
    start(fleet, [
        webhook("ops", rx.url("/json")),
        webhook("ding", rx.url("/ding?access_token=tok"), format="dingtalk", secret=DING_SECRET),
        webhook("team", rx.url("/slack"), format="slack"),
        webhook("log", rx.url("/fin"), events="finish"),
    ])
    fleet.add_agents([{"host_id": "h1", "obdumper": "fail"}, "h2"])  # h1's backups fail

    # A job that succeeds: start, then finish, in that order, on every webhook that takes them.
    r = fleet.ctl("exec", "ping", "--host", "h1", "--host", "h2", timeout=60)
    assert r.rc == 0, r
    job_id = r.out["job_id"]
    start_body, end_body = [q["json"] for q in rx.wait("/json", 2, job_id=job_id)]
    assert start_body["event"] == "start" and end_body["event"] == "finish", (start_body, end_body)
    for b in (start_body, end_body):
        assert b["version"] == 1 and b["coordinator"] == "coord-test", b
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", b["time"]), b
        assert abs(b["time_ms"] - time.time() * 1000) < 60_000, b
        j = b["job"]
        assert j["id"] == job_id and j["action"] == "ping" and j["operator"] == "alice", j
        assert j["signer"] == fingerprint(fleet.operator_key) and j["targets"] == 2, j
        assert j["submitted_ms"] <= b["time_ms"], b
    assert start_body["job"]["state"] == "running" and start_body["job"]["ended_ms"] is None
    assert start_body["job"]["counts"]["pending"] == 2, start_body
    j = end_body["job"]
    assert j["state"] == "succeeded" and j["stage"] == "done", j
    assert j["message"] == "every target succeeded", j
    assert j["counts"]["succeeded"] == 2, j
    assert j["failed_hosts"] == [] and j["failed_hosts_more"] == 0, j
    assert j["ended_ms"] >= j["submitted_ms"], j
    req = rx.got("/json", job_id)[0]
    assert req["headers"]["Content-Type"].startswith("application/json"), req["headers"]
    assert req["headers"]["User-Agent"].startswith("odc-coordinator/"), req["headers"]

    ding = rx.wait("/ding", 2, job_id=job_id)
    for q, verb in zip(ding, ("started", "succeeded")):
        assert q["query"]["access_token"] == "tok" and dingtalk_signed(q)
        md = q["json"]["markdown"]
        assert q["json"]["msgtype"] == "markdown", q["json"]
        assert md["title"] == f"odc-fleet: job {job_id} {verb}", md
        assert md["text"].startswith(f"#### odc-fleet: job {job_id} {verb}\n\n"), md
        assert "**ping** on 2 hosts, by alice" in md["text"], md
    assert "**Hosts:** 2 succeeded" in ding[1]["json"]["markdown"]["text"], ding[1]

    slack = rx.wait("/slack", 2, job_id=job_id)
    assert slack[0]["json"]["text"] == f"odc-fleet: job {job_id} started", slack[0]["json"]
    assert slack[1]["json"]["text"] == f"odc-fleet: job {job_id} succeeded: every target succeeded"
    section = slack[1]["json"]["blocks"][0]
    assert section["type"] == "section" and section["text"]["type"] == "mrkdwn", section
    assert f"*odc-fleet: job `{job_id}` succeeded*" in section["text"]["text"], section
    assert slack[1]["json"]["blocks"][1]["type"] == "context", slack[1]["json"]

    fin = rx.wait("/fin", 1, job_id=job_id)
    assert events_of(fin, job_id) == ["finish"], fin

    # A change that halts (the quorum gate: h9 is never online, so nothing is stopped): start,
    # then halt -- and no finish on top of it, except as the finish of a webhook that takes
    # finish only.
    r = fleet.ctl("exec", "stop", "--all", "--quorum", "100", timeout=60)
    assert r.rc == 4, r
    halted = r.out["job_id"]
    start_body, halt_body = [q["json"] for q in rx.wait("/json", 2, job_id=halted)]
    assert (start_body["event"], halt_body["event"]) == ("start", "halt"), (start_body, halt_body)
    j = halt_body["job"]
    assert j["state"] == "halted" and j["stage"] == "quorum", j
    assert j["action"] == "stop" and j["dry_run"] is False and j["changes"] is True, j
    assert j["message"].startswith("quorum not met: 2 of 3 targets online"), j
    assert j["counts"]["unreachable"] == 1 and j["counts"]["skipped"] == 2, j
    assert j["failed_hosts"] == [{"host": "h9", "state": "unreachable", "step": "",
                                  "message": "not online when the job started"}], j
    # What to type next: the results; no undo (undo walks back rollbacks).
    assert j["commands"] == {"results": f"odcctl job {halted} --results", "undo": None}, j
    ding = rx.wait("/ding", 2, job_id=halted)
    assert ding[1]["json"]["markdown"]["title"] == f"odc-fleet: job {halted} halted"
    text = ding[1]["json"]["markdown"]["text"]
    assert "**Failed:**\n- h9 unreachable: not online when the job started" in text, text
    assert f"**More:** `odcctl job {halted} --results`" in text, text
    assert "**Targets:** h1, h2, h9\n" in text, text
    assert dingtalk_signed(ding[1])
    slack = rx.wait("/slack", 2, job_id=halted)
    assert slack[1]["json"]["text"].startswith(f"odc-fleet: job {halted} halted: quorum not met")
    fin = rx.wait("/fin", 1, job_id=halted)
    assert fin[0]["json"]["event"] == "finish" and fin[0]["json"]["job"]["state"] == "halted", fin
    time.sleep(0.5)  # nothing more comes: one notification of the end per webhook
    assert events_of(rx.got("/json"), halted) == ["start", "halt"]
    assert events_of(rx.got("/fin"), halted) == ["finish"]
    assert len(rx.got("/ding", halted)) == len(rx.got("/slack", halted)) == 2

    # The failure budget: h1's backup fails, budget 0, so the job halts; h2 never runs.
    r = fleet.ctl("exec", "backup", "--host", "h1", "--host", "h2", "--canary", "0", "--batch",
                  "1", "--budget", "0", "--name", "bk-hook", timeout=120)
    assert r.rc == 4, r
    budget = r.out["job_id"]
    _, halt_body = [q["json"] for q in rx.wait("/json", 2, job_id=budget)]
    j = halt_body["job"]
    assert halt_body["event"] == "halt" and j["state"] == "halted", halt_body
    assert j["message"].startswith("failure budget exceeded"), j
    assert j["counts"]["failed"] == 1 and j["counts"]["skipped"] == 1, j
    [h1] = j["failed_hosts"]
    assert h1["host"] == "h1" and h1["state"] == "failed" and h1["step"] == "backup", h1
    assert "obdumper" in h1["message"], h1
    text = rx.wait("/slack", 2, job_id=budget)[1]["json"]["blocks"][0]["text"]["text"]
    assert "\n• h1 failed at backup: " in text, text
    t0 = time.monotonic()
    assert fleet.stop() == 0, fleet.log_tail(3000)
    # Nothing waits: a prompt exit, without the 2 s grace of undelivered notifications.
    assert time.monotonic() - t0 < 1.5, time.monotonic() - t0


def test_jobs_that_change_nothing_tell_no_failure(fleet, rx):
    """A ping, a status, a logs job or a dry run changes nothing: its start (and a success) is
    told, its failure or halt never -- an unreachable host in a ping is not an incident. A
    change is told in full: the action, from which releases (the targets' heartbeats when it
    was admitted) to which, the targets, the command to see more."""
    start(fleet, [webhook("ops", rx.url("/json")),
                  webhook("team", rx.url("/slack"), format="slack")])
    fleet.add_agents(["h1"], beat=True)
    image = fleet.hosts()["h1"]["odc"]["image"]
    release = image.rsplit(":", 1)[1]

    quiet = {}
    for name, args in [("ping", ["exec", "ping", "--host", "h9"]),
                       ("status", ["exec", "status", "--host", "h9"]),
                       ("logs", ["exec", "logs", "--host", "h9"]),
                       ("preflight", ["exec", "preflight", "--to", "4.2.0", "--backup",
                                      "/var/backups/odc/x", "--host", "h9"]),
                       ("dry run", ["rollback", "--dry-run", "--to", "4.2.0", "--backup",
                                    "/var/backups/odc/x", "--host", "h9"]),
                       ("halted ping", ["exec", "ping", "--host", "h1", "--host", "h9",
                                        "--quorum", "100"])]:
        r = fleet.ctl(*args, timeout=60)
        assert r.rc in (1, 4) and r.out["state"] in ("failed", "halted"), (name, r)
        quiet[name] = r.out["job_id"]
    ok = fleet.ctl("exec", "ping", "--host", "h1", timeout=60)
    assert ok.rc == 0, ok
    # Two more hosts whose heartbeats say ODC 4.2.1 (hand-made agents): the most common
    # release comes first.
    for host_id in ("r1", "r2"):
        key = nacl.signing.SigningKey.generate()
        fleet.accept(host_id, pub_text(key))
        peer = fleet.raw_agent(key)
        peer.hello(host_id)
        assert peer.wait_type("WELCOME", 5) is not None, host_id
        peer.heartbeat(host_id, odc={"container_id": "c0ffee" * 4, "name": "obodc",
                                     "image": "oceanbase/odc:4.2.1", "state": "exited",
                                     "health": "unknown", "version": ""})
    wait_for(lambda: all((fleet.hosts()[h].get("odc") or {}).get("image") ==
                         "oceanbase/odc:4.2.1" for h in ("r1", "r2")), 10, "r1, r2 beating")
    # The change: start ODC 4.2.0 where it is stopped; halted at the quorum gate (h9), so
    # nothing is touched.
    r = fleet.ctl("exec", "start", "--to", "4.2.0", "--host", "h1", "--host", "h9", "--host",
                  "r1", "--host", "r2", "--quorum", "100", timeout=60)
    assert r.rc == 4, r
    change = r.out["job_id"]
    rx.wait("/json", 2, job_id=change)
    rx.wait("/slack", 2, job_id=change)
    time.sleep(1.0)  # anything else would have come by now

    got = rx.got("/json")
    for name, job_id in quiet.items():
        assert events_of(got, job_id) == ["start"], (name, events_of(got, job_id))
    assert events_of(got, ok.out["job_id"]) == ["start", "finish"]
    assert events_of(got, change) == ["start", "halt"]
    dry = [q["json"]["job"] for q in got if q["json"]["job"]["id"] == quiet["dry run"]][0]
    assert dry["dry_run"] is True and dry["changes"] is False and dry["to"] == "4.2.0", dry
    [slack] = rx.got("/slack", quiet["dry run"])
    assert slack["json"]["text"] == f"odc-fleet: job {quiet['dry run']} (dry run) started", slack
    ping = [q["json"]["job"] for q in got if q["json"]["job"]["id"] == quiet["ping"]][0]
    assert ping["dry_run"] is False and ping["changes"] is False, ping

    halt = [q["json"] for q in got if q["json"]["job"]["id"] == change][1]["job"]
    assert halt["action"] == "start" and halt["to"] == "4.2.0" and halt["changes"] is True, halt
    assert halt["from"] == [{"version": "4.2.1", "hosts": 2}, {"version": release, "hosts": 1}], \
        (halt["from"], image)
    assert halt["from_unknown"] == 1 and halt["from_more"] == 0, halt
    assert halt["target_hosts"] == ["h1", "h9", "r1", "r2"] and halt["target_hosts_more"] == 0, halt
    assert halt["commands"] == {"results": f"odcctl job {change} --results", "undo": None}, halt
    text = rx.got("/slack", change)[1]["json"]["blocks"][0]["text"]["text"]
    assert f"*odc-fleet: job `{change}` halted*\n*start* to 4.2.0 on 4 hosts, by alice" in text, \
        text
    assert f"\n*From:* 4.2.1 on 2 hosts, {release} on 1 host, 1 unknown\n" in text, text
    assert "\n*Targets:* h1, h9, r1, r2\n" in text, text
    assert f"\n*More:* `odcctl job {change} --results`" in text, text
    # The command works as written.
    r = fleet.ctl("job", change, "--results", json_out=False)
    assert r.rc == 0 and "h9" in r.stdout and "unreachable" in r.stdout, r
    assert fleet.stop() == 0, fleet.log_tail(3000)


# ------------------------------------------------------------------ retries

def test_retries_backoff_bounds_and_permanent_failures(fleet, rx):
    err500 = (500, {}, b"oops")
    rx.script("/flaky", err500, err500)
    rx.script("/down", *[err500] * 10)
    rx.script("/bad", (400, {}, b"invalid_payload"))
    rx.script("/limited", (429, {"Retry-After": "1"}, b"rate_limited"))
    rx.script("/ding", (200, {}, b'{"errcode":130101,"errmsg":"send too fast"}'))
    rx.script("/dingbad", (200, {}, b'{"errcode":310000,"errmsg":"sign not match"}'))
    rx.script("/slow", ("hang", 5), ("hang", 5))
    closed = odcworld.free_port()  # nothing listens there
    fast = {"events": "start", "backoff": "200ms", "backoff_max": "2s", "timeout": "2s"}
    start(fleet, [
        webhook("flaky", rx.url("/flaky"), **dict(fast, backoff="400ms")),
        webhook("down", rx.url("/down"), **dict(fast, attempts=3)),
        webhook("bad", rx.url("/bad"), **fast),
        webhook("limited", rx.url("/limited"), **dict(fast, backoff="50ms")),
        webhook("ding", rx.url("/ding?access_token=t"), format="dingtalk", secret=DING_SECRET,
                **dict(fast, backoff="50ms")),
        webhook("dingbad", rx.url("/dingbad?access_token=t"), format="dingtalk", **fast),
        webhook("slow", rx.url("/slow"),
                **dict(fast, timeout="300ms", attempts=2, backoff="100ms")),
        webhook("closed", f"http://127.0.0.1:{closed}/x", **dict(fast, attempts=2, backoff="50ms")),
    ])
    job = fleet.submit("exec", "ping", "--host", "h9")

    # 500, 500, then 200: three attempts, 300-400 ms then 600-800 ms apart (backoff 400ms,
    # doubling, up to a quarter less at random).
    flaky = rx.wait("/flaky", 3, job_id=job)
    d1, d2 = flaky[1]["t"] - flaky[0]["t"], flaky[2]["t"] - flaky[1]["t"]
    assert 0.29 <= d1 <= 1.5 and 0.59 <= d2 <= 2.5 and d2 > d1, (d1, d2)
    # Always 500: exactly `attempts` tries.
    assert len(rx.wait("/down", 3, job_id=job)) == 3
    # 429 with Retry-After: 1 -- the next try waits for it, not for the 50 ms backoff.
    limited = rx.wait("/limited", 2, job_id=job)
    assert limited[1]["t"] - limited[0]["t"] >= 0.95, limited[1]["t"] - limited[0]["t"]
    # DingTalk: errcode 130101 (too fast) is tried again; each try signed anew.
    ding = rx.wait("/ding", 2, job_id=job)
    assert all(dingtalk_signed(q) for q in ding)
    assert ding[0]["query"]["timestamp"] != ding[1]["query"]["timestamp"], ding
    # Slower than the timeout: each attempt given up after 300 ms, two in all.
    slow = rx.wait("/slow", 2, job_id=job)
    assert slow[1]["t"] - slow[0]["t"] >= 0.3, slow[1]["t"] - slow[0]["t"]

    # The coordinator's word on each: delivered, given up (with the last error), refused.
    want = [
        rf"webhook down: start of job {job} not delivered after 3 attempts: HTTP 500: oops$",
        rf"webhook slow: start of job {job} not delivered after 2 attempts: .*[Tt]imed? ?out",
        rf"webhook closed: start of job {job} not delivered after 2 attempts: .*onnect",
        rf"webhook bad: start of job {job} refused, not retried: HTTP 400: invalid_payload$",
        rf"webhook dingbad: start of job {job} refused, not retried: "
        r"DingTalk errcode 310000: sign not match$",
        rf"webhook limited: start of job {job}: attempt 1 of 5 failed: HTTP 429: rate_limited;",
    ] + [rf"webhook {name}: start of job {job} delivered \(attempt \d\)$"
         for name in ("flaky", "limited", "ding")]

    def missing():
        log = fleet.log()
        return [w for w in want if not re.search(w, log, re.M)]
    deadline = time.monotonic() + 10
    while missing() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not missing(), f"not in the log: {missing()}\n{fleet.log_tail(4000)}"
    time.sleep(1.0)  # no stray retries
    counts = {p: len(rx.got(p, job)) for p in ("/flaky", "/down", "/bad", "/limited", "/ding",
                                               "/dingbad", "/slow")}
    assert counts == {"/flaky": 3, "/down": 3, "/bad": 1, "/limited": 2, "/ding": 2,
                      "/dingbad": 1, "/slow": 2}, counts
    assert fleet.stop() == 0, fleet.log_tail(3000)
    assert "dropped at shutdown" not in fleet.log()


# ------------------------------------------------------------------ a hanging receiver

def test_hanging_receiver_holds_nothing_and_shutdown_is_bounded(fleet, rx):
    rx.script("/hang", ("hang", 60), ("hang", 60))
    start(fleet, [
        webhook("stuck", rx.url("/hang"), events="start", timeout="60s", attempts=1),
        webhook("quick", rx.url("/quick"), events="start"),
    ])
    first = fleet.submit("exec", "ping", "--host", "h9")
    rx.wait("/hang", 1, job_id=first)
    # The other webhook is served meanwhile, and so are operators.
    rx.wait("/quick", 1, job_id=first, timeout=3)
    for _ in range(5):
        t0 = time.monotonic()
        assert "h9" in fleet.hosts()
        assert time.monotonic() - t0 < 1.5, time.monotonic() - t0
    second = fleet.submit("exec", "ping", "--host", "h9")
    rx.wait("/quick", 1, job_id=second, timeout=3)
    assert rx.got("/hang", second) == []  # behind the first, in order

    # SIGTERM: up to 2 s of grace for deliveries, then what is left is dropped, named.
    t0 = time.monotonic()
    assert fleet.stop(timeout=10) == 0
    took = time.monotonic() - t0
    assert took < 4.5, took
    log = fleet.log()
    assert f"webhook stuck: start of job {first} dropped at shutdown, cut during attempt 1" \
        in log, fleet.log_tail(3000)
    assert f"webhook stuck: start of job {second} dropped at shutdown after 0 attempts" in log


def test_endless_answer_and_backoff_at_shutdown(fleet, rx):
    """An answer that never ends is cut (at 64 KiB) and judged by its status, not timed out;
    at shutdown, a notification waiting out a backoff longer than the grace is dropped at
    once instead of holding the stop for the grace."""
    rx.script("/stream", ("stream", 30))
    rx.script("/later", (500, {}, b"oops"))
    start(fleet, [
        webhook("stream", rx.url("/stream"), events="start", timeout="20s", attempts=2),
        webhook("later", rx.url("/later"), events="start", backoff="30s", attempts=3),
    ])
    job = fleet.submit("exec", "ping", "--host", "h9")
    t0 = time.monotonic()
    wait_for(lambda: f"webhook stream: start of job {job} delivered (attempt 1)" in fleet.log(),
             5, "the streamed answer's delivery")
    assert time.monotonic() - t0 < 5
    assert len(rx.got("/stream", job)) == 1
    rx.wait("/later", 1, job_id=job)
    wait_for(lambda: f"webhook later: start of job {job}: attempt 1 of 3 failed: HTTP 500"
             in fleet.log(), 5, "the first attempt's failure")

    t0 = time.monotonic()
    assert fleet.stop() == 0
    took = time.monotonic() - t0
    assert took < 1.5, took
    assert f"webhook later: start of job {job} dropped at shutdown after 1 attempt; last: " \
        "HTTP 500" in fleet.log(), fleet.log_tail(3000)


# ------------------------------------------------------------------ configuration

def test_configuration_mistakes_name_file_line_and_key(fleet):
    for extra, want in [
        ("[webhook]\nurl = http://127.0.0.1/\n", r":\d+: webhook\.url: a webhook needs a name"),
        ("[webhook.a]\nformat = slack\n", r":\d+: webhook\.a\.url: required key missing"),
        ("[webhook.a]\nurl = gopher://x/\n", r":\d+: webhook\.a\.url: expected an http"),
        ("[webhook.a]\nurl = http://x/\nevents = start, pause\n",
         r":\d+: webhook\.a\.events: unknown event 'pause'"),
        ("[webhook.a]\nurl = http://x/\ncolor = red\n", r":\d+: webhook\.a\.color: unknown key"),
    ]:
        fleet.write_conf(extra=extra)
        p = odcworld.run([COORDINATOR, "-c", fleet.conf, "check-config"], check=False)
        assert p.returncode == 2 and re.search(re.escape(fleet.conf) + want, p.stderr), (extra, p)
    fleet.write_conf(extra=webhook("a", "https://hooks.slack.com/services/T0/B0/x", format="slack"))
    p = odcworld.run([COORDINATOR, "-c", fleet.conf, "check-config"], check=False)
    assert p.returncode == 0, p
