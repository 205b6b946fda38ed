"""The manual pages in deploy/man: each renders without a warning, odcctl.1 has a section for
every subcommand `odcctl --help` lists, each configuration page documents every key its loader
accepts, and odcctl.1 names no long option that odcctl lacks.

Run from the repository: /usr/bin/python3 -m pytest -q tests/integration/test_manpages.py
(odcctl from $ODC_BUILD, default build)."""

import os
import re
import shutil
import subprocess

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MAN = os.path.join(REPO, "deploy", "man")
BUILD = os.path.join(REPO, os.environ.get("ODC_BUILD", "build"))
PAGES = ["odcctl.1", "odc-coordinator.8", "odc-agent.8",
         "odc-coordinator.conf.5", "odc-agent.conf.5", "odcctl.conf.5"]


def read(*parts):
    with open(os.path.join(REPO, *parts), encoding="utf-8") as f:
        return f.read()


def page(name):
    return read("deploy", "man", name)


@pytest.mark.parametrize("name", PAGES)
def test_groff_renders_without_warnings(name):
    if shutil.which("groff") is None:
        pytest.fail("groff is not installed")
    r = subprocess.run(["groff", "-man", "-ww", "-z", "-Tutf8", os.path.join(MAN, name)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "" and r.stderr == "", f"{name}: {r.stdout}{r.stderr}"


@pytest.mark.parametrize("name", PAGES)
def test_man_renders_without_warnings(name):
    if shutil.which("man") is None:
        pytest.skip("man is not installed")
    env = dict(os.environ, MANWIDTH="80")
    r = subprocess.run(["man", "--warnings", "-E", "UTF-8", "-l", os.path.join(MAN, name)],
                       capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stderr == "", f"{name}: {r.stderr}"


@pytest.mark.parametrize("name", PAGES)
def test_page_header_names_the_page(name):
    title, section = name.rsplit(".", 1)
    th = re.search(r"^\.TH (\S+) (\S+)", page(name), re.M)
    assert th, f"{name}: no .TH"
    assert th.group(1).replace("\\-", "-") == title.upper()
    assert th.group(2) == section


def odcctl_commands():
    odcctl = os.path.join(BUILD, "odcctl")
    if not os.access(odcctl, os.X_OK):
        pytest.fail(f"{odcctl} is missing: build first (make BUILD={os.path.basename(BUILD)})")
    out = subprocess.run([odcctl, "--help"], capture_output=True, text=True, timeout=30,
                         check=True).stdout
    block = out.split("commands:\n", 1)[1].split("\n\n", 1)[0]
    names = [line.split()[0] for line in block.splitlines() if line.strip()]
    assert len(names) >= 14, out
    return names


def test_odcctl_page_has_every_subcommand():
    text = page("odcctl.1")
    sections = {m.group(1) for m in re.finditer(r"^\.SS (\S+)", text, re.M)}
    missing = [n for n in odcctl_commands() if n not in sections]
    assert not missing, f"odcctl.1 has no .SS for {missing}"


def test_odcctl_page_has_selectors_policy_and_exit_statuses():
    text = page("odcctl.1").replace("\\-", "-")
    for opt in ["--host", "--hosts", "--label", "--all", "--canary", "--batch", "--budget",
                "--quorum", "--step-deadline", "--job-deadline", "--reason", "--detach"]:
        assert re.search(r"^\.(?:B|BI|BR) " + re.escape(opt) + r"\b", text, re.M), opt
    exits = text.split(".SH EXIT STATUS", 1)[1].split(".SH ", 1)[0]
    for code in ["0", "1", "2", "3", "130"]:
        assert re.search(r"^\.B " + code + "$", exits, re.M), f"exit status {code}"


def test_odcctl_page_names_only_real_options():
    """Every --long option in odcctl.1 is in an option table of coordinator/ctl."""
    src = "".join(read("coordinator", "ctl", f) for f in os.listdir(os.path.join(
        REPO, "coordinator", "ctl")) if f.endswith((".c", ".h")))
    real = set(re.findall(r'\{[\s\\]*"([a-z][a-z-]*)",\s*(?:required|no)_argument', src))
    text = page("odcctl.1").replace("\\-", "-")
    used = set(re.findall(r"(?<![\w-])--([a-z][a-z-]*)", text))
    # Both sides were read (an empty page or table would make the check below vacuous).
    common = {"host", "hosts", "label", "all", "canary", "batch", "detach", "yes", "dry-run"}
    assert common <= real and common <= used, (sorted(common - real), sorted(common - used))
    assert not used - real, f"odcctl.1 documents unknown options {sorted(used - real)}"


def known_keys(path, array):
    src = read(*path.split("/"))
    m = re.search(re.escape(array) + r"\[\]\s*=\s*\{(.*?)NULL", src, re.S)
    assert m, f"{path}: no {array}[] list"
    keys = re.findall(r'"([A-Za-z0-9_]+)\.([A-Za-z0-9_*]+)"', m.group(1))
    assert keys, f"{path}: {array}[] is empty"
    return keys


def documented_keys(name):
    """{section: {key, ...}} from `.SH [section]` and `.TP` / `.B key` pairs; a section of
    many named ones, `.SH [webhook.NAME]`, counts as `webhook`."""
    out, section, prev = {}, None, ""
    for line in page(name).splitlines():
        m = re.match(r"^\.SH \[([^\]]+?)(?:\.NAME)?\]\s*$", line)
        if m:
            section = m.group(1)
            out.setdefault(section, set())
        elif line.startswith(".SH "):
            section = None
        elif section and prev == ".TP":
            m = re.match(r"^\.B (\S+)$", line)
            if m:
                out[section].add(m.group(1).replace("\\-", "-"))
        prev = line.strip()
    return out


@pytest.mark.parametrize("name,path,arrays", [
    ("odc-agent.conf.5", "agent/conf.c", ["known_keys"]),
    # webhook_keys: the keys of every [webhook.NAME] section, as "webhook.KEY".
    ("odc-coordinator.conf.5", "coordinator/conf.c", ["known_keys", "webhook_keys"]),
    ("odcctl.conf.5", "coordinator/ctl/conf.c", ["known"]),
])
def test_conf_page_documents_every_known_key(name, path, arrays):
    keys = [k for array in arrays for k in known_keys(path, array)]
    doc = documented_keys(name)
    missing = [f"{s}.{k}" for s, k in keys if k not in doc.get(s, set())]
    assert not missing, f"{name} does not document {missing}"
    extra = [f"{s}.{k}" for s, ks in doc.items() for k in ks if (s, k) not in set(keys)]
    assert not extra, f"{name} documents keys {path} does not know: {extra}"


def test_agent_page_has_every_command():
    text = page("odc-agent.8")
    src = read("agent", "main.c")
    cmds = set(re.findall(r'strcmp\(cmd, "([a-z-]+)"\)', src))
    assert {"keygen", "check-config", "run", "daemon", "resume", "journal"} <= cmds, cmds
    sections = {m.group(1).replace("\\-", "-") for m in re.finditer(r"^\.SS (\S+)", text, re.M)}
    assert not cmds - sections, f"odc-agent.8 lacks {sorted(cmds - sections)}"


def test_coordinator_page_has_every_command():
    text = page("odc-coordinator.8").replace("\\-", "-")
    src = read("coordinator", "main.c")
    cmds = set(re.findall(r'strcmp\(cmd, "([a-z-]+)"\)', src))
    assert {"keygen", "check-config", "run"} <= cmds, cmds
    items = set(re.findall(r"^\.(?:B|BI) ([a-z-]+)", text, re.M))
    assert not cmds - items, f"odc-coordinator.8 lacks {sorted(cmds - items)}"
