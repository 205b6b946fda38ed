#!/bin/sh
# make lint: the C style the tools enforce, over every C file git tracks.
# make format: tests/tools/lint.sh --format applies .clang-format to the same files, and stops.
#   1. clang-format with the repository's .clang-format changes nothing (make format applies it);
#   2. no banned function is called: the unbounded or ambiguous ones (strcpy, strcat, sprintf,
#      vsprintf, gets, strtok, atoi, atol, atoll, tmpnam, mktemp, alloca); comments are stripped
#      first (gcc -fpreprocessed), so only code counts;
#   3. tests/tools/structure.py: no file of agent/ coordinator/ proto/ common/ over 1,000 lines, no
#      function over 100 without a reason, and the calls between the files of a directory form
#      layers (no circle).
# Prints what is wrong as FILE:LINE: ...; exits 1 when anything is, 0 otherwise.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 2
files=$(git ls-files '*.c' '*.h')
[ -n "$files" ] || { echo "lint: git lists no C files here" >&2; exit 2; }
if [ "${1:-}" = "--format" ]; then
	# shellcheck disable=SC2086 # one path a word: git's C files have no blanks
	exec clang-format -i $files
fi
bad=0

drift=""
for f in $files; do
	clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || drift="$drift $f"
done
if [ -n "$drift" ]; then
	for f in $drift; do
		clang-format --dry-run "$f" 2>&1 | grep -m 3 'warning:' | sed 's/ \[-Wclang-format-violations\]//'
	done
	echo "lint: $(echo $drift | wc -w) files differ from .clang-format (make format applies it)"
	bad=1
else
	echo "lint: every C file is as .clang-format says ($(echo $files | wc -w) files)"
fi

banned='strcpy|strcat|sprintf|vsprintf|gets|strtok|atoi|atol|atoll|tmpnam|mktemp|alloca'
found=0
for f in $files; do
	# Comments out, lines kept (-P would join them); then calls of the banned names.
	gcc -fpreprocessed -dD -E "$f" 2>/dev/null | awk -v f="$f" -v re="(^|[^A-Za-z0-9_.>])($banned)[ \t]*[(]" '
		/^# [0-9]+ / { line = $2 - 1; next }
		{ line++; if ($0 ~ re) { print f ":" line ": banned function: " $0; n++ } }
		END { exit n > 0 }' || found=1
done
if [ "$found" -ne 0 ]; then
	echo "lint: banned functions called (use snprintf, strtoul/strtoll with checks, ...)"
	bad=1
else
	echo "lint: no banned function is called"
fi
python3 "$top/tests/tools/structure.py" || bad=1
exit "$bad"
