#!/bin/sh
# Install what `make bench` needs beyond deploy/install-deps.sh, on Debian 12,
# as root: Debian's ansible-core, the side-by-side baseline of bench/run.py.
# Idempotent and non-interactive: returns at once when it is already there.
set -eu

PKGS="ansible-core"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-bench-deps: missing packages:$missing" >&2
	echo "install-bench-deps: run this script as root to install them" >&2
	exit 1
fi

echo "install-bench-deps: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "install-bench-deps: done" >&2
