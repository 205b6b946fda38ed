"""tests/run-all.sh, make test's runner, counts what the suites say: a skipped test is a test
that did not run, so it counts as failed (make test runs as root with everything installed:
a skip means a suite, the e2e tests say, was left out), and the runner says so and exits 1; a
run that collects nothing fails too. Checked on suites made here, through --only pytest."""

import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def run_all(*tests):
    """tests/run-all.sh --only pytest on one file holding tests (source text); its result."""
    d = tempfile.mkdtemp(prefix="odc-runner-")
    path = os.path.join(d, "test_made.py")
    with open(path, "w") as f:
        f.write("import pytest\n\n" + "\n\n".join(tests) + "\n")
    return subprocess.run([os.path.join(ROOT, "tests", "run-all.sh"), "--only", "pytest",
                           os.environ.get("ODC_BUILD", "build"), sys.executable, path],
                          capture_output=True, text=True, timeout=120)


def summary(p):
    lines = p.stdout.strip().splitlines()
    return lines[-1] if lines else ""


def test_a_skipped_test_counts_as_failed():
    p = run_all("def test_ok():\n    assert 1 + 1 == 2",
                "def test_left_out():\n    pytest.skip('the testbed needs root')")
    assert summary(p) == "1 passed, 1 failed", p.stdout
    assert p.returncode == 1
    assert "run-all: 1 tests skipped: every test of make test must run" in p.stderr, p.stderr
    # pytest's -rs line names the test and why.
    assert "SKIPPED" in p.stdout and "the testbed needs root" in p.stdout, p.stdout


def test_passes_fail_and_nothing_collected_are_counted():
    p = run_all("def test_ok():\n    pass", "def test_bad():\n    assert False")
    assert summary(p) == "1 passed, 1 failed" and p.returncode == 1, p.stdout
    p = run_all("def test_ok():\n    pass", "def test_also():\n    pass")
    assert summary(p) == "2 passed, 0 failed" and p.returncode == 0, p.stdout + p.stderr
    p = run_all("def helper():\n    pass")  # no test at all: pytest exits 5
    assert summary(p) == "0 passed, 1 failed" and p.returncode == 1, p.stdout
