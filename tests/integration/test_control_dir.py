"""The control socket's directory (PROTOCOL.md section 9): whoever may write in it can replace
the socket and collect the operators' signed JOBs, so the real odc-coordinator (tests/world/fleet.py)
repairs one of its own that others may write in, with a warning, and refuses to start from
one owned by another user, a symbolic link, a shared sticky directory or one below a
directory others may write in, naming the path and what to do."""

import os
import re
import stat
import subprocess

from tests.world.fleet import COORDINATOR, fleet  # noqa: F401

NOBODY = 65534


def mode_of(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def refused(fleet, sock, status=1):
    """Runs the coordinator with control.socket = sock; it must exit with status at once (1:
    refused at its start; 2: a configuration problem, which check-config reports too), and
    bind nothing. Returns its stderr."""
    fleet.write_conf(**{"control.socket": sock})
    try:
        r = subprocess.run([COORDINATOR, "-c", fleet.conf, "run"], capture_output=True,
                           text=True, timeout=10)  # killed on the timeout
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"odc-coordinator started with control.socket {sock} "
                             f"(still running after 10 s):\n{(e.stderr or b'').decode(errors='replace')}")
    assert r.returncode == status, (r.returncode, r.stdout, r.stderr)
    assert not os.path.lexists(sock), sock
    return r.stderr


def test_world_writable_directory_of_ours_is_repaired(fleet):
    d = os.path.join(fleet.dir, "ctl-0777")
    os.mkdir(d)
    os.chmod(d, 0o777)
    fleet.control_socket = os.path.join(d, "control.sock")
    fleet.control_endpoint = f"ipc://{fleet.control_socket}"
    fleet.write_conf(**{"control.socket": fleet.control_socket})
    fleet.write_ctl_conf()
    fleet.start()  # odcctl info answers through the socket in d
    assert mode_of(d) == 0o750, oct(mode_of(d))
    assert mode_of(fleet.control_socket) == 0o660
    assert (f"control.socket: {d}: the directory's mode was 0777, writable by others who could "
            f"replace the socket: repaired to 0750") in fleet.log(), fleet.log_tail()
    # Group-writable only: the same repair; a sound directory is left as it is, silently.
    assert fleet.stop() == 0
    os.chmod(d, 0o770)
    fleet.start()
    assert mode_of(d) == 0o750
    assert f"{d}: the directory's mode was 0770" in fleet.log()
    assert fleet.stop() == 0
    os.chmod(d, 0o755)
    fleet.start()
    assert mode_of(d) == 0o755
    assert fleet.log().count("repaired to 0750") == 2
    assert fleet.stop() == 0


def test_directory_of_another_user_is_refused(fleet):
    d = os.path.join(fleet.dir, "ctl-nobody")
    os.mkdir(d, 0o750)
    os.chown(d, NOBODY, NOBODY)
    err = refused(fleet, os.path.join(d, "control.sock"))
    assert err.strip() == (f"odc-coordinator: control.socket: {d}: directory is owned by uid "
                           f"{NOBODY} (not this coordinator's uid 0): another user could replace "
                           f"the socket; remove it or set control.socket elsewhere"), err
    # Also when it is world-writable: not ours to repair.
    os.chmod(d, 0o777)
    err = refused(fleet, os.path.join(d, "control.sock"))
    assert f"{d}: directory is owned by uid {NOBODY}" in err, err
    assert mode_of(d) == 0o777


def test_symlink_sticky_and_unsafe_parent_are_refused(fleet):
    real = os.path.join(fleet.dir, "ctl-real")
    os.mkdir(real, 0o750)
    link = os.path.join(fleet.dir, "ctl-link")
    os.symlink(real, link)
    err = refused(fleet, os.path.join(link, "control.sock"))
    assert f"control.socket: {link}: the socket's directory is a symbolic link" in err, err
    assert os.listdir(real) == []

    # A shared sticky directory, /tmp's kind, even ours: refused and left as it is (a repair
    # would take /tmp away from everyone else).
    shared = os.path.join(fleet.dir, "ctl-shared")
    os.mkdir(shared)
    os.chmod(shared, 0o1777)
    err = refused(fleet, os.path.join(shared, "control.sock"))
    assert (f"control.socket: {shared}: a shared directory (mode 1777: sticky, writable by "
            f"others): the socket needs a directory of its own") in err, err
    assert mode_of(shared) == 0o1777
    err = refused(fleet, "/tmp/control.sock")
    assert "control.socket: /tmp: a shared directory (mode 1777" in err, err

    # A sound directory below one that others may write in (not sticky): they could rename
    # it away and put theirs in its place. Below a sticky one (/tmp), it is fine: the
    # fleet's own run directory is there.
    parent = os.path.join(fleet.dir, "open-parent")
    os.mkdir(parent)
    os.chmod(parent, 0o777)
    d = os.path.join(parent, "ctl")
    os.mkdir(d, 0o750)
    err = refused(fleet, os.path.join(d, "control.sock"))
    assert (f"control.socket: {d}: its parent {parent} (mode 0777) is writable by others, who "
            f"could replace the socket's directory") in err, err
    # Not a directory at all: a configuration problem (exit 2: restarting cannot fix it),
    # reported as check-config reports it.
    f = os.path.join(fleet.dir, "ctl-file")
    open(f, "w").close()
    err = refused(fleet, os.path.join(f, "control.sock"), status=2)
    assert re.match(rf"{re.escape(fleet.conf)}:\d+: control\.socket: {re.escape(f)}: not a "
                    rf"directory\n{re.escape(fleet.conf)}: 1 problem\n$", err), err

    # The fleet's usual directory (0750, below mkdtemp's 0700 and /tmp) still serves.
    fleet.write_conf()
    fleet.start()
    assert fleet.stop() == 0
