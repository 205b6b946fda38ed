"""bash completion for odcctl (deploy/completion/odcctl), sourced into a plain `bash --norc`
(no bash-completion package): `_odcctl` is called with COMP_WORDS/COMP_CWORD/COMP_LINE/
COMP_POINT set as bash would for a command line, and COMPREPLY is printed.

Without a coordinator: commands, prefix filtering, options, exec's actions, -o values, keys'
subcommands, file names, and that a failing odcctl completes nothing and prints nothing.
With the real odc-coordinator of test_odcctl's `coord` fixture (private sockets, its own
odcctl.conf; everything it starts is killed at teardown): `--host` completes the enrolled
host ids and `watch` a job id, with `-c CONF` on the completed command line."""

import os
import re
import subprocess

import pytest

from test_odcctl import BUILD_DIR, ODCCTL, coord, tmp_path  # noqa: F401 (fixtures)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SCRIPT = os.path.join(ROOT, "deploy", "completion", "odcctl")

DRIVER = r'''
source "$1" || exit 99
shift
COMP_WORDS=("$@")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
COMP_LINE="${COMP_WORDS[*]}"
COMP_POINT=${#COMP_LINE}
_odcctl
printf '%s\n' "${COMPREPLY[@]}"
'''


def complete(*words, cwd=ROOT):
    """COMPREPLY for the command line `words` with the cursor at the end of the last word
    ("" for a new word); stderr must stay empty."""
    env = {k: v for k, v in os.environ.items() if k != "ODCCTL_CONF"}
    env["PATH"] = BUILD_DIR + os.pathsep + env.get("PATH", "")
    env["HOME"] = "/nonexistent"  # no ~/.config/odc-fleet/odcctl.conf
    p = subprocess.run(["bash", "--norc", "--noprofile", "-c", DRIVER, "driver", SCRIPT,
                        *words], capture_output=True, text=True, timeout=30, env=env, cwd=cwd)
    assert p.returncode == 0, (words, p.returncode, p.stderr)
    assert p.stderr == "", (words, p.stderr)
    return [line for line in p.stdout.split("\n") if line]


def help_commands():
    p = subprocess.run([ODCCTL, "--help"], capture_output=True, text=True, timeout=10)
    assert p.returncode == 0
    section = p.stdout.split("commands:\n", 1)[1].split("\n\n", 1)[0]
    return re.findall(r"^  ([a-z-]+) ", section, re.M)


def help_options(cmd):
    """Every --long option `odcctl CMD --help` mentions, but for those of other commands
    it points to ("Undo it with: odcctl undo --of JOB.")."""
    p = subprocess.run([ODCCTL, cmd, "--help"], capture_output=True, text=True, timeout=10)
    assert p.returncode == 0
    text = re.sub(rf"odcctl (?!{cmd}\b)[a-z]+[^.\n]*", "", p.stdout)
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", text))


def test_script_defines_the_function_and_registers_it():
    p = subprocess.run(["bash", "--norc", "--noprofile", "-c",
                        f'source "{SCRIPT}" && declare -F _odcctl && complete -p odcctl'],
                       capture_output=True, text=True, timeout=10)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == ["_odcctl", "complete -F _odcctl odcctl"]


def test_every_command_of_help_is_offered_and_nothing_else():
    commands = help_commands()
    assert "rollback" in commands and len(commands) >= 14
    assert complete("odcctl", "") == commands


def test_prefix_filtering():
    assert complete("odcctl", "ro") == ["rollback"]
    assert complete("odcctl", "j") == ["jobs", "job"]
    assert complete("odcctl", "re") == ["resume"]
    assert complete("odcctl", "zz") == []


def test_global_options_before_and_after_the_command():
    top = complete("odcctl", "-")
    assert {"-c", "--config", "-o", "--output", "--endpoint", "--help", "--version"} <= set(top)
    assert complete("odcctl", "--c") == ["--config"]
    # global options before the command are skipped with their values
    assert complete("odcctl", "-o", "json", "-c", "x.conf", "ro") == ["rollback"]
    assert "--endpoint" in complete("odcctl", "info", "-")


def test_exec_options_and_actions():
    opts = complete("odcctl", "exec", "--")
    assert help_options("exec") <= set(opts)
    for o in ("--host", "--hosts", "--label", "--all", "--to", "--backup", "--lines", "--name",
              "--canary", "--batch", "--budget", "--quorum", "--step-deadline",
              "--job-deadline", "--reason", "--detach", "--config", "--output", "--endpoint"):
        assert o in opts, o
    assert complete("odcctl", "exec", "") == ["ping", "status", "preflight", "stop", "start",
                                              "logs", "backup"]
    assert complete("odcctl", "exec", "st") == ["status", "stop", "start"]
    # after the action, and after an option's value: no more actions
    assert complete("odcctl", "exec", "ping", "") == []
    assert complete("odcctl", "exec", "--to", "4.2.0", "") == ["ping", "status", "preflight",
                                                               "stop", "start", "logs",
                                                               "backup"]
    assert complete("odcctl", "exec", "logs", "--li") == ["--lines"]


def test_rollback_and_every_command_options_match_help():
    opts = complete("odcctl", "rollback", "--")
    for o in ("--to", "--backup", "--dry-run", "--host", "--all", "--canary", "--detach",
              "--reason"):
        assert o in opts, o
    assert complete("odcctl", "rollback", "--d") == ["--dry-run", "--detach"]
    assert complete("odcctl", "prune", "--d") == ["--dry-run", "--detach"]
    for c in help_commands():
        offered = set(complete("odcctl", c, "--"))
        assert help_options(c) <= offered, c
        assert "--help" in offered and "--config" in offered


def test_output_values_and_other_enumerations():
    assert complete("odcctl", "-o", "") == ["table", "json"]
    assert complete("odcctl", "--output", "j") == ["json"]
    assert complete("odcctl", "hosts", "-o", "t") == ["table"]
    assert complete("odcctl", "jobs", "--state", "") == ["running", "paused", "succeeded",
                                                         "failed", "halted", "aborted"]
    assert complete("odcctl", "keygen", "--kind", "") == ["operator", "coordinator", "agent"]
    assert complete("odcctl", "--output", "=", "js") == ["json"]


def test_keys_subcommands():
    assert complete("odcctl", "keys", "") == ["list", "accept", "revoke"]
    assert complete("odcctl", "keys", "a") == ["accept"]
    assert complete("odcctl", "-o", "json", "keys", "r") == ["revoke"]
    assert complete("odcctl", "keys", "list", "") == []


def test_file_names(tmp_path):  # noqa: F811
    (tmp_path / "odc.conf").write_text("")
    (tmp_path / "other.txt").write_text("")
    (tmp_path / "h1.pub").write_text("")
    (tmp_path / "keys").mkdir()
    assert complete("odcctl", "-c", "od", cwd=tmp_path) == ["odc.conf"]
    assert complete("odcctl", "hosts", "--config", "ot", cwd=tmp_path) == ["other.txt"]
    assert complete("odcctl", "keygen", "ke", cwd=tmp_path) == ["keys"]
    # accept HOST @FILE.pub: .pub files and directories, with the @
    assert sorted(complete("odcctl", "keys", "accept", "h1", "@", cwd=tmp_path)) == \
        ["@h1.pub", "@keys/"]
    assert complete("odcctl", "keys", "accept", "h1", "@h", cwd=tmp_path) == ["@h1.pub"]
    assert complete("odcctl", "keys", "accept", "h1", "@" + str(tmp_path / "h")) == \
        ["@" + str(tmp_path / "h1.pub")]


def test_a_failing_odcctl_completes_nothing_quietly(tmp_path):  # noqa: F811
    missing = str(tmp_path / "missing.conf")
    assert complete("odcctl", "-c", missing, "exec", "ping", "--host", "") == []
    assert complete("odcctl", "watch", "-c", missing, "") == []
    # a configuration whose coordinator is not there: nothing, within odcctl's timeout
    conf = tmp_path / "off.conf"
    conf.write_text(f"[odcctl]\nendpoint = ipc://{tmp_path}/none.sock\ntimeout = 300ms\n")
    assert complete("odcctl", "--config", str(conf), "job", "") == []
    assert complete("odcctl", "--config", "=", str(conf), "hosts", "--host", "") == []


def test_host_and_job_ids_from_a_live_coordinator(coord):  # noqa: F811
    coord.agent("web-1", start=False)
    coord.agent("web-2", start=False)
    coord.agent("db-1", start=False)
    conf = coord.conf
    assert complete("odcctl", "-c", conf, "exec", "ping", "--host", "") == \
        ["db-1", "web-1", "web-2"]
    assert complete("odcctl", "exec", "ping", "-c", conf, "--host", "we") == ["web-1", "web-2"]
    assert complete("odcctl", "--config", "=", conf, "hosts", "--host", "d") == ["db-1"]
    assert complete("odcctl", "-c", conf, "keys", "revoke", "web-2") == ["web-2"]
    # prune takes hosts as operands, as many as given, and --host
    assert complete("odcctl", "-c", conf, "prune", "") == ["db-1", "web-1", "web-2"]
    assert complete("odcctl", "-c", conf, "prune", "db-1", "we") == ["web-1", "web-2"]
    assert complete("odcctl", "-c", conf, "prune", "--host", "d") == ["db-1"]
    # without -c there is no configuration (HOME is elsewhere): nothing
    assert complete("odcctl", "exec", "ping", "--host", "") == []

    assert complete("odcctl", "-c", conf, "watch", "") == []  # no job yet
    p = coord.ctl("exec", "ping", "--host", "web-1", "--detach")
    assert p.returncode == 0, p.stderr
    job_id = p.stdout.strip()
    assert re.fullmatch(r"ping-\d{8}T\d{6}Z-[0-9a-f]{6}", job_id), p.stdout
    assert complete("odcctl", "-c", conf, "watch", "") == [job_id]
    assert complete("odcctl", "watch", "-c", conf, "pi") == [job_id]
    assert complete("odcctl", "-c", conf, "job", "x") == []
    assert complete("odcctl", "-c", conf, "audit", "--job", "") == [job_id]
    # undo --of offers rollback jobs only
    assert complete("odcctl", "-c", conf, "undo", "--of", "") == []
