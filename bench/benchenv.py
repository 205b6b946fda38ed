"""The start of each bench (bench/run.py, bench/downtime.py): the build directory and --keep
put where the test world reads them when it is imported, then benchlib imported (it imports
the test world)."""

import importlib
import os

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_benchlib(args):
    """ODC_BUILD from args.build (relative to the repository), ODC_WORLD_KEEP=1 for args.keep;
    refuses to go on without root (dockerd, MariaDB). Returns the benchlib module."""
    build = args.build if os.path.isabs(args.build) else os.path.join(REPO, args.build)
    os.environ["ODC_BUILD"] = build
    if args.keep:
        os.environ["ODC_WORLD_KEEP"] = "1"
    if os.geteuid() != 0:
        raise SystemExit("bench: needs root (dockerd, MariaDB: the test world)")
    return importlib.import_module("benchlib")
