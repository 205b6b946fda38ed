"""systemd's notification protocol (sd_notify(3)) as both daemons speak it: the units are
Type=notify with WatchdogSec=, so systemd waits for READY=1 and restarts a daemon whose
WATCHDOG=1 stops. PID 1 is not systemd here; the test plays systemd's side of the
protocol: a datagram socket in NOTIFY_SOCKET with SO_PASSCRED (as systemd reads it, the
sender's PID must be the main PID: the units say NotifyAccess=main), and WATCHDOG_USEC."""

import os
import re
import signal
import socket
import struct
import tempfile
import threading
import time

import pytest

from tests.world.fleet import fleet, wait_for  # noqa: F401  (fixture)

WATCHDOG_USEC = 600_000  # the daemons ping every 300 ms


class NotifySocket:
    """systemd's end: every datagram with its sender's PID and arrival time."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="odcf-notify-")
        self.path = os.path.join(self.dir, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.messages = []  # (monotonic time, pid, {key: value})
        self.lock = threading.Lock()
        self.done = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def env(self):
        return {"NOTIFY_SOCKET": self.path, "WATCHDOG_USEC": str(WATCHDOG_USEC)}

    def _run(self):
        cred = struct.calcsize("3i")
        while not self.done:
            try:
                data, anc, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(cred))
            except socket.timeout:
                continue
            except OSError:
                return
            pid = None
            for level, kind, value in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    pid = struct.unpack("3i", value[:cred])[0]
            fields = dict(line.split("=", 1) for line in data.decode().split("\n") if "=" in line)
            with self.lock:
                self.messages.append((time.monotonic(), pid, fields))

    def received(self, key=None):
        with self.lock:
            return [m for m in self.messages if key is None or key in m[2]]

    def wait(self, key, timeout, what, value=None):
        def found():
            return [m for m in self.received(key) if value is None or m[2][key] == value]
        wait_for(lambda: found(), timeout, what, interval=0.05)
        return found()[0]

    def close(self):
        self.done = True
        self.sock.close()
        self.thread.join(5)
        os.unlink(self.path)
        os.rmdir(self.dir)


@pytest.fixture
def notify():
    ns = NotifySocket()
    try:
        yield ns
    finally:
        ns.close()


def check_watchdog(ns, pid, seconds=2.0):
    """WATCHDOG=1 from the main PID, every WATCHDOG_USEC/2: about seconds / interval of them,
    and never a gap that would make systemd kill the daemon (WATCHDOG_USEC, less a margin
    for this test's own scheduling)."""
    t0 = time.monotonic()
    time.sleep(seconds)
    pings = [m for m in ns.received("WATCHDOG") if m[0] >= t0 - 1]
    assert all(m[1] == pid for m in pings), pings
    times = [m[0] for m in pings if m[0] >= t0]
    assert len(times) >= seconds / (WATCHDOG_USEC / 2e6) - 2, times
    gaps = [b - a for a, b in zip([t0] + times, times + [time.monotonic()])]
    assert max(gaps) < WATCHDOG_USEC / 1e6 - 0.05, gaps


def check_frozen_then_thawed(ns, proc):
    """A stopped process sends no keep-alive (systemd would kill it after WatchdogSec);
    thawed, it sends again."""
    proc.send_signal(signal.SIGSTOP)
    try:
        time.sleep(0.3)
        frozen_at = time.monotonic()
        time.sleep(WATCHDOG_USEC / 1e6 * 1.5)
        assert not [m for m in ns.received("WATCHDOG") if m[0] > frozen_at]
    finally:
        proc.send_signal(signal.SIGCONT)
    thawed = time.monotonic()
    wait_for(lambda: [m for m in ns.received("WATCHDOG") if m[0] > thawed], 2,
             "a keep-alive after SIGCONT", interval=0.05)


def test_coordinator_ready_status_watchdog_stopping(fleet, notify):
    fleet.start(wait=False, env=notify.env())
    pid = fleet.proc.pid
    ready = notify.wait("READY", 20, "READY=1 from odc-coordinator")
    assert ready[1] == pid and ready[2]["READY"] == "1"
    # READY means serving: the control socket answers at once, no retry needed.
    r = fleet.ctl("info", timeout=10)
    assert r.rc == 0, r
    assert ready[2]["STATUS"] == "0 of 0 hosts online, 0 active jobs", ready
    check_watchdog(notify, pid)

    # The status line follows the fleet.
    fleet.add_agents(["h1", "h2"])
    notify.wait("STATUS", 10, "the status with two hosts online",
                value="2 of 2 hosts online, 0 active jobs")
    fleet.agents["h2"].kill9()
    notify.wait("STATUS", 15, "the status with h2 lost", value="1 of 2 hosts online, 0 active jobs")

    check_frozen_then_thawed(notify, fleet.proc)
    assert fleet.ctl("info").rc == 0

    assert fleet.stop() == 0
    stopping = notify.wait("STOPPING", 5, "STOPPING=1 from odc-coordinator")
    assert stopping[1] == pid and stopping[2]["STATUS"] == "stopping on signal 15"
    assert all(m[1] == pid for m in notify.received()), "every notification from the main PID"
    assert "systemd watchdog: 600 ms, kept alive every 300 ms" in fleet.log()


def test_agent_ready_status_watchdog_stopping(fleet, notify):
    fleet.start()
    agent = fleet.make_agent("h1", env=notify.env())
    fleet.accept("h1", "@" + agent.pub_path)
    agent.start()
    pid = agent.daemon.proc.pid
    ready = notify.wait("READY", 20, "READY=1 from odc-agent")
    assert ready[1] == pid
    assert ready[2]["STATUS"].endswith(f"the coordinator at {fleet.agents_endpoint}"), ready
    notify.wait("STATUS", 15, "the status once welcomed",
                value=f"welcomed by the coordinator at {fleet.agents_endpoint}")
    check_watchdog(notify, pid)

    # A job running shows in the status line; the keep-alive goes on while a step runs
    # (the steps run on the worker thread, the loop keeps pinging).
    fleet.stop()
    notify.wait("STATUS", 15, "the status once the coordinator is gone",
                value=f"waiting for the coordinator at {fleet.agents_endpoint}")
    fleet.start()
    notify.wait("STATUS", 15, "welcomed again",
                value=f"welcomed by the coordinator at {fleet.agents_endpoint}")
    check_frozen_then_thawed(notify, agent.daemon.proc)

    assert agent.stop() == 0
    stopping = notify.wait("STOPPING", 5, "STOPPING=1 from odc-agent")
    assert stopping[1] == pid
    assert all(m[1] == pid for m in notify.received()), "every notification from the main PID"


def test_agent_status_names_running_job(fleet, notify):
    fleet.start()
    agent = fleet.make_agent("h1", env=notify.env(), step_delay_ms=1500)
    fleet.accept("h1", "@" + agent.pub_path)
    agent.start()
    fleet.wait_online("h1")
    job = fleet.submit("exec", "ping", "--host", "h1")
    notify.wait("STATUS", 15, "the status naming the running job",
                value=f"welcomed by the coordinator at {fleet.agents_endpoint}; running job {job}")
    t0 = time.monotonic()
    assert fleet.wait_job(job, timeout=30)["state"] == "succeeded"
    pings = [m for m in notify.received("WATCHDOG") if m[0] >= t0]
    assert pings, "keep-alives while the job ran"
    assert all(m[1] == agent.daemon.proc.pid for m in pings), pings


def test_no_notify_socket_no_watchdog(fleet):
    """Started by hand (or by Type=exec), the daemons say nothing of a watchdog."""
    fleet.start()
    fleet.add_agent("h1")
    # Both daemons run and talk (the logs are of this run, past the point where the watchdog
    # is read: sdnotify_init comes before each startup line).
    assert fleet.hosts()["h1"]["status"] == "online"
    clog, alog = fleet.log(), fleet.agents["h1"].log()
    assert re.search(r"INFO odc-coordinator \S+: " + re.escape(fleet.coordinator_id) + ", ",
                     clog), clog[-3000:]
    assert "host h1 " in clog and "odc-agent " in alog and "welcomed by coordinator" in alog, \
        alog[-3000:]
    assert "systemd watchdog" not in clog
    assert "systemd watchdog" not in alog
