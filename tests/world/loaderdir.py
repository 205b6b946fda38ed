"""An ob-loader-dumper directory as an operator unpacks it on a host, made from the world's
stand-ins (tests/world/obtools.py) for a host or a container that has no Python: the agent's
image carries a Java runtime and nothing else, and the operator mounts this directory into it.

    d = loaderdir.make(path)      # path/bin/obloader, path/bin/obdumper, ...

Like the real tools (Java programs: oceanbase-doc, en-US/700.reference/1500.command-line-tools/
300.data-integrate/200.oceanbase-loader-dumper.md, line 5), bin/obloader and bin/obdumper are
shell scripts that need a Java runtime ($JAVA_HOME/bin/java, else java on PATH) and fail
without one; the work itself is the stand-in's, run by a Python carried in the directory (the
test process's interpreter, its standard library, PyMySQL and every shared library they load,
started through the carried dynamic loader: nothing of the host's or the image's libraries is
used)."""

import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

SCRIPT = """#!/bin/sh
# {tool}: the odc-fleet test world's stand-in, shaped like ob-loader-dumper's start script.
here=$(cd "$(dirname "$0")/.." && pwd)
if [ -n "${{JAVA_HOME:-}}" ]; then
	java=$JAVA_HOME/bin/java
else
	java=$(command -v java || true)
fi
if [ -z "$java" ] || ! "$java" -version >/dev/null 2>&1; then
	echo "{tool}: no Java runtime: ${{java:-no java on PATH and JAVA_HOME not set}} does not run" >&2
	exit 1
fi
PYTHONHOME="$here/python" PYTHONPATH="$here/lib" PYTHONDONTWRITEBYTECODE=1 \\
exec "$here/python/lib/{ld}" --library-path "$here/python/lib" "$here/python/bin/python3" -S -c \\
	'import sys, obtools; sys.exit(obtools.main("{tool}", sys.argv[1:]))' "$@"
"""


def _libraries(paths):
    """The shared libraries (and the dynamic loader) paths need, by ldd."""
    libs = set()
    for p in paths:
        out = subprocess.run(["ldd", p], capture_output=True, text=True).stdout
        for line in out.splitlines():
            parts = line.split()
            if "=>" in parts and len(parts) >= 3 and parts[2].startswith("/"):
                libs.add(parts[2])
            elif parts and parts[0].startswith("/"):
                libs.add(parts[0])
    return libs


def make(dest):
    """Fills dest (created) and returns it."""
    exe = os.path.realpath(sys.executable)
    ver = f"python{sys.version_info.major}.{sys.version_info.minor}"
    stdlib = os.path.dirname(os.__file__)
    import pymysql  # the stand-in's one dependency outside the standard library

    py = os.path.join(dest, "python")
    os.makedirs(os.path.join(py, "bin"))
    os.makedirs(os.path.join(dest, "bin"))
    os.makedirs(os.path.join(dest, "lib"))
    shutil.copy2(exe, os.path.join(py, "bin", "python3"))
    skip = shutil.ignore_patterns("__pycache__", "test", "tests", "idlelib", "tkinter", "turtledemo",
                                  "ensurepip", "lib2to3", "site-packages", "dist-packages", "*.pyc")
    shutil.copytree(stdlib, os.path.join(py, "lib", ver), ignore=skip)
    shutil.copytree(os.path.dirname(pymysql.__file__), os.path.join(dest, "lib", "pymysql"),
                    ignore=skip)
    shutil.copy2(os.path.join(HERE, "obtools.py"), os.path.join(dest, "lib", "obtools.py"))
    dynload = os.path.join(stdlib, "lib-dynload")
    mods = [os.path.join(dynload, f) for f in os.listdir(dynload) if f.endswith(".so")]
    ld = None
    for lib in _libraries([exe] + mods):
        shutil.copy2(lib, os.path.join(py, "lib", os.path.basename(lib)))
        if os.path.basename(lib).startswith("ld-linux"):
            ld = os.path.basename(lib)
    assert ld, f"ldd named no dynamic loader for {exe}"
    for tool in ("obloader", "obdumper"):
        p = os.path.join(dest, "bin", tool)
        with open(p, "w") as f:
            f.write(SCRIPT.format(tool=tool, ld=ld))
        os.chmod(p, 0o755)
    return dest
