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


def test_lint_fails_on_drift_and_banned_functions():
    """make lint (tests/tools/lint.sh) on a tree of its own: a file clang-format would change
    and a call of a banned function each fail it, named by file and line; a comment naming one
    does not; the formatted tree passes."""
    import shutil
    d = tempfile.mkdtemp(prefix="odc-lint-")
    os.makedirs(os.path.join(d, "tests", "tools"))
    for tool in ("lint.sh", "structure.py"):
        shutil.copy(os.path.join(ROOT, "tests", "tools", tool), os.path.join(d, "tests", "tools"))
    shutil.copy(os.path.join(ROOT, ".clang-format"), d)
    good = "/* strcpy(a, b) would be refused here, not in a comment. */\nint\nf(int x)\n{\n\treturn x;\n}\n"
    with open(os.path.join(d, "ok.c"), "w") as f:
        f.write(good)
    with open(os.path.join(d, "ugly.c"), "w") as f:
        f.write("int g(int x){return x;}\n")
    with open(os.path.join(d, "bad.c"), "w") as f:
        f.write('#include <string.h>\n\nvoid\nh(char *d)\n{\n\tstrcpy(d, "x");\n}\n')
    git = ["git", "-C", d, "-c", "user.email=t@example", "-c", "user.name=t"]
    subprocess.run(git + ["init", "-q"], check=True)
    subprocess.run(git + ["add", "."], check=True)
    lint = os.path.join(d, "tests", "tools", "lint.sh")
    p = subprocess.run([lint], capture_output=True, text=True, timeout=120)
    assert p.returncode == 1, p
    assert "ugly.c:1:" in p.stdout and "lint: 1 files differ from .clang-format" in p.stdout, p.stdout
    assert "bad.c:6: banned function:" in p.stdout and "ok.c" not in p.stdout, p.stdout
    # make format's half applies the style; with the call gone the tree passes.
    subprocess.run([lint, "--format"], check=True, timeout=120)
    with open(os.path.join(d, "bad.c"), "w") as f:
        f.write('#include <stdio.h>\n\nvoid\nh(char *d)\n{\n\tsnprintf(d, 2, "x");\n}\n')
    p = subprocess.run([lint], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    shutil.rmtree(d, ignore_errors=True)


def test_lint_fails_on_long_files_long_functions_and_circles():
    """tests/tools/structure.py (part of make lint) on a tree of its own: a file over 1,000
    lines, a function over 100 without a 'Long:' reason, and two files of one directory that
    call each other are each named by file and line; a reason, or a call one way only, passes."""
    import shutil
    d = tempfile.mkdtemp(prefix="odc-structure-")
    os.makedirs(os.path.join(d, "tests", "tools"))
    os.makedirs(os.path.join(d, "coordinator"))
    os.makedirs(os.path.join(d, "agent"))
    shutil.copy(os.path.join(ROOT, "tests", "tools", "structure.py"), os.path.join(d, "tests", "tools"))

    def write(path, text):
        with open(os.path.join(d, path), "w") as f:
            f.write(text)

    body = "".join("\tx += %d;\n" % i for i in range(120))
    write("agent/long.c", "/* Adds. */\nint\nlong_one(int x)\n{\n" + body + "\treturn x;\n}\n")
    write("agent/big.c", "/* Big. */\n" + "".join("int v%d;\n" % i for i in range(1001)))
    write("coordinator/a.c", "int b_fn(void);\nint\na_fn(void)\n{\n\treturn b_fn();\n}\n")
    write("coordinator/b.c", "int a_fn(void);\nint\nb_fn(void)\n{\n\treturn a_fn() + 1;\n}\n")
    git = ["git", "-C", d, "-c", "user.email=t@example", "-c", "user.name=t"]
    subprocess.run(git + ["init", "-q"], check=True)
    subprocess.run(git + ["add", "."], check=True)
    tool = os.path.join(d, "tests", "tools", "structure.py")
    p = subprocess.run([tool], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1, p
    assert "agent/long.c:4: long_one is 123 lines" in p.stdout, p.stdout
    assert "agent/big.c:1002: file of 1002 lines" in p.stdout, p.stdout
    assert "coordinator/a.c:1: files of coordinator/ call each other around a circle: " \
        "a.c -> b.c (b_fn), b.c -> a.c (a_fn)" in p.stdout, p.stdout
    # A reason above the long function, a smaller file and one-way calls: clean.
    write("agent/long.c", "/* Adds.\n * Long: one straight list of additions. */\nint\nlong_one(int x)\n{\n"
          + body + "\treturn x;\n}\n")
    write("agent/big.c", "int v0;\n")
    write("coordinator/b.c", "int\nb_fn(void)\n{\n\treturn 1;\n}\n")
    p = subprocess.run([tool, "--graph"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "coordinator/, lowest layer first:\n   b.c\n   a.c\n" in p.stdout, p.stdout
    shutil.rmtree(d, ignore_errors=True)
