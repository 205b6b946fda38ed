#!/bin/sh
# Build the Debian packages odc-fleet-agent and odc-fleet-coordinator (make deb).
# Usage: deploy/build-debs.sh OUT_DIR
#
# Copies the sources (what git tracks or would track: no build output) to
# OUT_DIR/src/odc-fleet-VERSION with deploy/debian as debian/, runs
# dpkg-buildpackage -b there (build dependencies checked; the project's tests
# skipped: make test runs them), moves the .deb, .changes and .buildinfo files
# to OUT_DIR, and runs lintian on them. Writes nothing outside OUT_DIR. Exits
# non-zero when the build fails or lintian reports an error; lintian's
# warnings are printed and kept in OUT_DIR/lintian.txt.
set -eu

out=${1:?usage: deploy/build-debs.sh OUT_DIR}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

version=$(dpkg-parsechangelog -l deploy/debian/changelog -S Version)
upstream=${version%-*}

# The package's version is the programs' version: a release bumps both.
for h in agent/agent.h:AGENT_VERSION coordinator/coord.h:COORD_VERSION \
	coordinator/ctl/ctl.h:CTL_VERSION; do
	file=${h%%:*}
	macro=${h#*:}
	v=$(sed -n "s/^#define[[:space:]]*${macro}[[:space:]]*\"\(.*\)\"/\1/p" "$file")
	if [ "$v" != "$upstream" ]; then
		echo "build-debs: $file: $macro is \"$v\" but deploy/debian/changelog says $version;" \
			"add a changelog entry (dch -v $v-1)" >&2
		exit 2
	fi
done

mkdir -p "$out"
out=$(cd "$out" && pwd)
if [ "$out" = "$top" ]; then
	echo "build-debs: OUT_DIR must not be the source tree itself" >&2
	exit 2
fi
src=$out/src/odc-fleet-$upstream
rm -rf "$out/src" "$out"/*.deb "$out"/*.changes "$out"/*.buildinfo "$out"/lintian.txt
mkdir -p "$src"

# The sources: tracked and untracked-but-not-ignored files as they are in the
# work tree (so uncommitted changes are packaged, build output is not), or
# everything but build directories when this is no git checkout.
if git -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git -C "$top" ls-files --cached --others --exclude-standard |
		while IFS= read -r f; do
			# A tracked file deleted in the work tree, or OUT_DIR inside the tree.
			[ -f "$f" ] || [ -L "$f" ] || continue
			case "$top/$f" in "$out/"*) continue ;; esac
			printf '%s\n' "$f"
		done | tar -cf - -T - | tar -xf - -C "$src"
else
	tar -cf - --exclude=./build --exclude='./build-*' --exclude=./.git . | tar -xf - -C "$src"
fi
rm -rf "$src/debian"
cp -a deploy/debian "$src/debian"

log=$out/build.log
echo "build-debs: dpkg-buildpackage -b in $src (log: $log)"
start=$(date +%s)
if ! (cd "$src" && DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:-nocheck parallel=$(nproc)}" \
	dpkg-buildpackage -us -uc -b) >"$log" 2>&1; then
	tail -n 40 "$log" >&2
	echo "build-debs: dpkg-buildpackage failed; the whole log is in $log" >&2
	exit 1
fi
mv "$out"/src/*.deb "$out"/src/*.changes "$out"/src/*.buildinfo "$out"/
echo "build-debs: built in $(($(date +%s) - start)) s"

# lintian exits non-zero on an error (a warning is printed, not fatal).
changes=$(ls "$out"/*.changes)
rc=0
# (As root it also says that running as root is not recommended: not a finding.)
lintian --fail-on error "$changes" >"$out/lintian.raw" 2>&1 || rc=$?
grep -v '^running with root privileges' "$out/lintian.raw" >"$out/lintian.txt" || true
rm -f "$out/lintian.raw"
if [ -s "$out/lintian.txt" ]; then
	sed 's/^/  /' "$out/lintian.txt"
fi
if [ "$rc" -ne 0 ]; then
	echo "build-debs: lintian reports errors (exit $rc)" >&2
	exit 1
fi
echo "build-debs: lintian: $(grep -c '^E:' "$out/lintian.txt" || true) errors," \
	"$(grep -c '^W:' "$out/lintian.txt" || true) warnings"

# The -dbgsym packages (detached debug symbols, for crash reports) stay beside
# the others, which the .changes file lists; they are optional to install.
echo "build-debs: install with: apt install$(cd "$out" && for d in odc-fleet-agent_*.deb \
	odc-fleet-coordinator_*.deb; do printf ' %s/%s' "$out" "$d"; done)"
