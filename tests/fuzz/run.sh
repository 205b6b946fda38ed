#!/bin/bash
# Build every tests/fuzz/fuzz_*.c with clang + libFuzzer + ASan/UBSan (against
# proto/, common/ and the agent's parsers of AGENT_SRCS below) into
# build-fuzz/, seed each from tests/fuzz/seeds.py and run them one after the
# other for SECONDS in all (default 60). Any crash, leak, timeout, OOM or
# sanitizer report fails the run. Ends with "N passed, N failed". Names
# after SECONDS (fuzz_spec, spec) run only those harnesses.
#
#   tests/fuzz/run.sh [SECONDS [HARNESS...]]
#
# Environment: FUZZ_CC (default clang), PYTHON (default /usr/bin/python3).
# Everything written (objects, binaries, corpora, logs, artifacts) stays in
# build-fuzz/; nothing outside it is touched.
set -u

TOTAL=${1:-60}
case $TOTAL in
'' | *[!0-9]*)
	echo "usage: $0 [SECONDS [HARNESS...]]" >&2
	exit 2
	;;
esac
[ $# -gt 0 ] && shift
ONLY=("$@")

ROOT=$(cd "$(dirname "$0")/../.." && pwd) || exit 2
cd "$ROOT" || exit 2

OUT=build-fuzz
CC=${FUZZ_CC:-clang}
PYTHON=${PYTHON:-/usr/bin/python3}
PKGS="libsodium msgpack jansson inih sqlite3 libzmq libcurl libmariadb"
# The agent files the harnesses test, with what they link: the DDL parser,
# the backup reader (CSV, directory), the container spec from Docker's
# inspect JSON and its difference. Not the whole of agent/: the rest is the
# daemon (main, docker, ...).
AGENT_SRCS="agent/ddl.c agent/ddl_lex.c agent/backup.c agent/backup_csv.c agent/backup_fs.c agent/spec.c agent/specdiff.c"

if ! command -v "$CC" >/dev/null 2>&1; then
	echo "fuzz: $CC not found (clang with libFuzzer is needed)" >&2
	exit 2
fi
if ! PKG_CFLAGS=$(pkg-config --cflags $PKGS) || ! PKG_LIBS=$(pkg-config --libs $PKGS); then
	echo "fuzz: pkg-config cannot find one of: $PKGS" >&2
	exit 2
fi

SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
BASE="-g -O1 -std=c11 -D_GNU_SOURCE -I. -Wall -Wextra $PKG_CFLAGS"

# Sanitizer reports with symbols, and no recovery from any of them.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
if [ -z "${ASAN_SYMBOLIZER_PATH:-}" ] && command -v llvm-symbolizer >/dev/null 2>&1; then
	export ASAN_SYMBOLIZER_PATH=$(command -v llvm-symbolizer)
fi

mkdir -p "$OUT/obj" "$OUT/logs" "$OUT/artifacts" "$OUT/work" "$OUT/tmp" || exit 2
# Where a harness that needs files (fuzz_backup: a backup directory) makes them.
export FUZZ_TMPDIR=$ROOT/$OUT/tmp

# 1. The libraries under test, compiled once with coverage instrumentation
# (fuzzer-no-link) into one archive; each harness links what it uses.
echo "fuzz: compiling proto/, common/ and $AGENT_SRCS with $CC"
rm -rf "$OUT/obj"
mkdir -p "$OUT/obj/proto" "$OUT/obj/common" "$OUT/obj/agent" || exit 2
objs=()
for src in proto/*.c common/*.c $AGENT_SRCS; do
	[ -e "$src" ] || continue
	obj=$OUT/obj/${src%.c}.o
	if $CC $BASE $SAN -fsanitize=fuzzer-no-link -c "$src" -o "$obj" 2>"$obj.log"; then
		objs+=("$obj")
	else
		# A harness that needs this file fails at link time and says so.
		echo "fuzz: warning: $src does not compile; left out:" >&2
		sed 's/^/    /' "$obj.log" >&2
	fi
done
rm -f "$OUT/libfuzzsrc.a"
if [ ${#objs[@]} -gt 0 ] && ! ar rcs "$OUT/libfuzzsrc.a" "${objs[@]}"; then
	echo "fuzz: ar failed" >&2
	exit 2
fi

# 2. Seed corpora.
rm -rf "$OUT/corpus"
if ! "$PYTHON" tests/fuzz/seeds.py "$OUT/corpus"; then
	echo "fuzz: tests/fuzz/seeds.py failed" >&2
	exit 2
fi

harnesses=()
if [ ${#ONLY[@]} -gt 0 ]; then
	for name in "${ONLY[@]}"; do
		src=tests/fuzz/fuzz_${name#fuzz_}.c
		if [ ! -e "$src" ]; then
			echo "fuzz: no harness $src" >&2
			exit 2
		fi
		harnesses+=("$src")
	done
else
	for src in tests/fuzz/fuzz_*.c; do
		[ -e "$src" ] && harnesses+=("$src")
	done
fi
if [ ${#harnesses[@]} -eq 0 ]; then
	echo "fuzz: no harnesses in tests/fuzz/" >&2
	exit 2
fi
per=$((TOTAL / ${#harnesses[@]}))
[ "$per" -ge 1 ] || per=1
echo "fuzz: ${#harnesses[@]} harnesses, ${per}s each"

max_len_of() {
	case $1 in
	fuzz_config | fuzz_csv | fuzz_spec | fuzz_backup) echo 16384 ;;
	fuzz_ddl) echo 8192 ;;
	fuzz_scan | fuzz_body | fuzz_receive) echo 65536 ;;
	*) echo 4096 ;;
	esac
}

passed=0
failed=0
summary=()
for src in "${harnesses[@]}"; do
	name=$(basename "$src" .c)
	bin=$OUT/$name
	log=$OUT/logs/$name.log
	work=$OUT/work/$name
	prefix=$OUT/artifacts/$name-

	# 3. Build the harness against the archive.
	if ! $CC $BASE $SAN -fsanitize=fuzzer "$src" "$OUT/libfuzzsrc.a" $PKG_LIBS -lpthread -o "$bin" \
		>"$log" 2>&1; then
		echo "fuzz: $name: build failed:" >&2
		sed 's/^/    /' "$log" >&2
		failed=$((failed + 1))
		summary+=("$(printf '%-14s FAIL  build failed (see %s)' "$name" "$log")")
		continue
	fi

	# 4. A fresh copy of its seeds, so a run starts from the same corpus.
	rm -rf "$work"
	mkdir -p "$work" || exit 2
	seeds=$OUT/corpus/${name#fuzz_}
	if [ -d "$seeds" ]; then
		cp -R "$seeds/." "$work/" || exit 2
	fi
	nseeds=$(find "$work" -type f | wc -l)

	echo "fuzz: $name: ${per}s from $nseeds seeds, max_len $(max_len_of "$name")"
	"$bin" -max_total_time="$per" -timeout=10 -rss_limit_mb=2048 -max_len="$(max_len_of "$name")" \
		-print_final_stats=1 -artifact_prefix="$prefix" "$work" >"$log" 2>&1
	rc=$?

	execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)
	[ -n "$execs" ] || execs=0
	artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
	sanitizer=0
	if grep -Eq 'ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|libFuzzer)|runtime error:|SUMMARY: (Address|Leak|UndefinedBehavior)Sanitizer' "$log"; then
		sanitizer=1
	fi

	if [ "$rc" -eq 0 ] && [ "$sanitizer" -eq 0 ] && [ -z "$artifact" ]; then
		passed=$((passed + 1))
		summary+=("$(printf '%-14s PASS  %12s execs in %ss, corpus %s -> %s' "$name" "$execs" "$per" \
			"$nseeds" "$(find "$work" -type f | wc -l)")")
	else
		failed=$((failed + 1))
		echo "fuzz: $name FAILED (exit $rc); the report:" >&2
		# The sanitizer or libFuzzer report, without the run's progress lines.
		grep -Ev '^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse|INITED|RELOAD)' "$log" | tail -n 60 | sed 's/^/    /' >&2
		if [ -n "$artifact" ]; then
			echo "fuzz: $name: input saved as $artifact" >&2
			echo "fuzz: reproduce: (cd $ROOT && $bin $artifact)" >&2
			echo "fuzz: input hex: $(od -An -v -tx1 "$artifact" 2>/dev/null | tr -d ' \n' | cut -c1-512)" >&2
		fi
		echo "fuzz: full log: $log" >&2
		summary+=("$(printf '%-14s FAIL  %12s execs, %s' "$name" "$execs" "${artifact:-see $log}")")
	fi
done

echo
for line in "${summary[@]}"; do
	echo "$line"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
