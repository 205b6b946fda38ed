#!/bin/sh
# Install everything odc-fleet needs to build and test, on Debian 12, as root.
# Idempotent: when every package is already present it returns at once
# without touching apt. Usage: deploy/install-deps.sh [--build-only | --deb | --image | --bench]
# (--deb: the build's packages and Debian's packaging tools, for make deb;
# --image: those, mmdebstrap and Docker, for make image;
# --bench: also Debian's ansible-core, make bench's side-by-side baseline)
set -eu

BUILD_PKGS="build-essential pkg-config clang clang-format
  libzmq3-dev libsodium-dev libmsgpack-dev libcurl4-openssl-dev
  libjansson-dev libinih-dev libsqlite3-dev libmariadb-dev libcmocka-dev
  libmicrohttpd-dev libsystemd-dev"
TEST_PKGS="python3 python3-pytest python3-pytest-xdist python3-zmq python3-msgpack python3-nacl python3-pymysql
  docker.io mariadb-server busybox-static iproute2 util-linux procps curl sqlite3
  systemd groff-base man-db prometheus
  debhelper fakeroot lintian mmdebstrap"
# make deb: dpkg-buildpackage, dh and lintian (mmdebstrap only for the test).
DEB_PKGS="dpkg-dev debhelper fakeroot lintian"

BENCH_PKGS="ansible-core"

pkgs="$BUILD_PKGS"
case "${1:-}" in
--build-only) ;;
--deb) pkgs="$pkgs $DEB_PKGS" ;;
--image) pkgs="$pkgs $DEB_PKGS mmdebstrap docker.io" ;;
*) pkgs="$pkgs $TEST_PKGS" ;;
esac
[ "${1:-}" = "--bench" ] && pkgs="$pkgs $BENCH_PKGS"

missing=""
for p in $pkgs; do
	if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages:$missing" >&2
	echo "install-deps: run this script as root to install them" >&2
	exit 1
fi

echo "install-deps: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# An old or empty package list makes apt-get install fail; refresh it once.
apt-get update -qq >/dev/null
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
# Debian's docker.io and mariadb-server try to start their services on
# install; the tests start their own private instances, so nothing else is done.
echo "install-deps: done" >&2
