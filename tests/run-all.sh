#!/bin/sh
# Run every test suite that exists and end with one line "N passed, N failed".
# Usage: tests/run-all.sh [--only lint|unit|sanitize|integration|e2e] BUILD_DIR PYTHON
#        tests/run-all.sh --only pytest BUILD_DIR PYTHON PATH...   (those pytest paths, counted
#        as every suite is: how tests/integration/test_runner.py checks the counting)
set -u
only=""
if [ "${1:-}" = "--only" ]; then only=$2; shift 2; fi
build=${1:-build}
python=${2:-/usr/bin/python3}
[ $# -ge 2 ] && shift 2
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 2

passed=0
failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT INT TERM

# count_from PATTERN [FILE]: the number before PATTERN in the last matching line of FILE
# (default $log).
count_from() {
	grep -Eo "[0-9]+ $1" "${2:-$log}" | tail -n 1 | grep -Eo '^[0-9]+' || echo 0
}

# run_cmocka DIR SRC: the cmocka program DIR/test_X of every SRC/test_X.c (unit: $build/tests
# from tests/unit; the ones against a real dockerd or MariaDB, integration: $build/itests from
# tests/integration/c), each test counted. A program whose source is gone (left in a build
# directory from before) is not run; one that was not built is a failure.
run_cmocka() {
	for src in "$2"/test_*.c; do
		t="$1/$(basename "$src" .c)"
		if [ ! -x "$t" ]; then
			echo "run-all: $t (from $src) was not built" >&2
			failed=$((failed + 1))
			continue
		fi
		"$t" >"$log" 2>&1
		rc=$?
		cat "$log"
		p=$(grep -Eo '\[  PASSED  \] [0-9]+' "$log" | grep -Eo '[0-9]+$' | tail -n 1)
		f=$(grep -Eo '\[  FAILED  \] [0-9]+ test' "$log" | grep -Eo '[0-9]+' | tail -n 1)
		s=$(grep -Eo '\[  SKIPPED \] [0-9]+ test' "$log" | grep -Eo '[0-9]+' | tail -n 1)
		p=${p:-0}
		f=${f:-0}
		if [ "${s:-0}" -gt 0 ]; then
			echo "run-all: $t skipped ${s} tests: every test of make test must run" >&2
			f=$((f + s))
		fi
		# A crash or sanitizer abort leaves no summary: count it as a failure.
		if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
			echo "run-all: $t exited with status $rc" >&2
			f=1
		fi
		passed=$((passed + p))
		failed=$((failed + f))
	done
}

run_vectors() {
	"$build"/tools/vectors check tests/vectors/proto-v2.json >"$log" 2>&1
	rc=$?
	cat "$log"
	p=$(count_from passed)
	f=$(count_from failed)
	[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
	passed=$((passed + p))
	failed=$((failed + f))
	# The checked-in vectors must be exactly what the C code generates now.
	if "$build"/tools/vectors gen >"$log" 2>&1 && cmp -s "$log" tests/vectors/proto-v2.json; then
		echo "vectors: tests/vectors/proto-v2.json is what the C code generates"
		passed=$((passed + 1))
	else
		echo "vectors: FAIL tests/vectors/proto-v2.json differs from 'vectors gen' (run make vectors)"
		failed=$((failed + 1))
	fi
}

run_unit() { run_cmocka "$build/tests" tests/unit; }
run_itests() { run_cmocka "$build/itests" tests/integration/c; }

# run_lint: tests/tools/lint.sh (every C file as .clang-format says; no banned function), one
# test in the count.
run_lint() {
	if tests/tools/lint.sh >"$log" 2>&1; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
	fi
	cat "$log"
}

# run_pytest DIR...: tests/py: the protocol's independent implementation;
# tests/integration: the real programs in the test world (private dockerd and
# MariaDB; needs root); tests/artefacts: the packages, images and odcctl tarball,
# built and installed (needs root and the Debian mirror); tests/e2e: fleet rollbacks with faults on a 7-host
# testbed (deploy/testbed: network namespaces, one Docker engine per host).
run_pytest() {
	# --durations: the slowest tests in every log, to keep the suite within its time.
	ODC_BUILD="$build" "$python" -m pytest -q -rs -p no:cacheprovider --durations=15 "$@" >"$log" 2>&1
	count_pytest $? "$log"
}

# count_pytest RC LOG: adds a pytest run's counts (its log printed) to the totals. A skipped
# test counts as failed: make test runs as root with everything installed, so a skip means a
# suite did not run (the e2e tests without root, say); pytest's -rs lines above name each.
count_pytest() {
	cat "$2"
	p=$(count_from passed "$2")
	f=$(count_from failed "$2")
	e=$(count_from 'errors?' "$2")
	s=$(count_from skipped "$2")
	if [ "$s" -gt 0 ]; then
		echo "run-all: $s tests skipped: every test of make test must run (the reasons are above)" >&2
	fi
	f=$((f + e + s))
	# pytest exits 5 when it collected nothing: that is not a pass.
	[ "$1" -ne 0 ] && [ "$f" -eq 0 ] && f=1
	passed=$((passed + p))
	failed=$((failed + f))
}

# run_e2e_and_artefacts: the e2e suite and tests/artefacts at the same time. The e2e tests
# mostly wait on their testbed; the artefacts' tests mostly wait on mmdebstrap, dpkg and
# Docker; one after the other they would add minutes to the run, side by side they overlap.
# Each has its own log, printed whole (artefacts first) once both ended. The artefacts' two
# files run in two workers, as the integration tests do: the packages' chroot is made while the
# images are built (both after the one `make deb` of the run, conftest.deb_dir).
run_e2e_and_artefacts() {
	alog=$(mktemp)
	ODC_BUILD="$build" "$python" -m pytest -q -rs -p no:cacheprovider --durations=15 -n 2 \
		--dist loadfile tests/artefacts >"$alog" 2>&1 &
	apid=$!
	# Ended with the run (Ctrl-C, a CI timeout): pytest's teardown removes what it started.
	trap 'kill -TERM $apid 2>/dev/null; wait $apid; rm -f "$log" "$alog"' EXIT INT TERM
	elog=$(mktemp)
	ODC_BUILD="$build" "$python" -m pytest -q -rs -p no:cacheprovider --durations=15 tests/e2e \
		>"$elog" 2>&1
	erc=$?
	wait $apid
	arc=$?
	trap 'rm -f "$log" "$alog" "$elog"' EXIT INT TERM
	count_pytest $arc "$alog"
	count_pytest $erc "$elog"
}

# run_pytest_and_itests ARGS...: pytest ARGS (run_pytest) and the C integration programs
# (run_itests) at the same time: the programs spend their ~40 s waiting on a dockerd and a MariaDB
# of their own (fresh directories, free ports), and one after the other they would add that time
# to the run. The programs' output is printed after pytest's, each test counted as before.
run_pytest_and_itests() {
	ilog=$(mktemp)
	icount=$(mktemp)
	(
		log=$(mktemp)
		passed=0
		failed=0
		run_itests
		echo "$passed $failed" >"$icount"
		rm -f "$log"
	) >"$ilog" 2>&1 &
	ipid=$!
	# Ended with the run: the program running then ends first (it stops its own daemons).
	trap 'kill -TERM $ipid 2>/dev/null; wait $ipid; rm -f "$log" "$ilog" "$icount"' EXIT INT TERM
	run_pytest "$@"
	wait $ipid
	trap 'rm -f "$log"' EXIT INT TERM
	cat "$ilog"
	read -r ipassed ifailed <"$icount" || { ipassed=0; ifailed=1; }
	passed=$((passed + ipassed))
	failed=$((failed + ifailed))
	rm -f "$ilog" "$icount"
}

# The integration tests run in three workers (pytest-xdist), each test file on one
# worker, the longest files first (tests/integration/conftest.py): every test starts
# its own daemons on private sockets, ports and directories, and most of a test's
# time is spent waiting on them, so even on two cores a third worker shortens the
# run (measured 2026-12-07: 1026 s in two workers in alphabetical order, 745 s in
# three, longest first). The e2e tests share one testbed (fixed names, one per
# machine) and run alone.
parallel="-n 3 --dist loadfile"

case "$only" in
lint) run_lint ;;
unit) run_unit ;;
sanitize) run_unit; run_itests; run_vectors ;;
integration) run_vectors; run_pytest_and_itests $parallel tests/py tests/integration tests/artefacts ;;
e2e) run_pytest tests/e2e ;;
pytest) run_pytest "$@" ;;
"") run_lint; run_unit; run_vectors; run_pytest_and_itests $parallel tests/py tests/integration; run_e2e_and_artefacts ;;
*) echo "run-all: unknown suite '$only'" >&2; exit 2 ;;
esac

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
