#!/bin/sh
# Build the container images odc-fleet-agent:VERSION and odc-fleet-coordinator:VERSION from the
# Debian packages (make image). No registry is needed: each image's root file system is a Debian 12
# made by mmdebstrap from the Debian mirror, with the package installed by apt, imported with
# `docker import`; then `docker save` writes the tarballs an operator copies to a host and reads
# with `docker load -i`, the way ODC itself ships.
#
# Usage: deploy/build-image.sh DEB_DIR OUT_DIR
#   DEB_DIR holds odc-fleet-agent_*.deb and odc-fleet-coordinator_*.deb (make deb).
#   OUT_DIR receives odc-fleet-agent_VERSION_ARCH.image.tar and
#   odc-fleet-coordinator_VERSION_ARCH.image.tar (each: one image, one layer) and their .sha256.
# The images are imported into the engine the docker CLI talks to (DOCKER_HOST, or the default
# socket) and stay there. Needs root (mmdebstrap --mode=root).
#
# The agent's image carries Debian's Java runtime (openjdk-17-jre-headless): obloader and obdumper
# are Java programs, so an operator only mounts the ob-loader-dumper directory. Both run as root by
# default; see the README ("Installing from the images").
set -eu

debs=${1:?usage: deploy/build-image.sh DEB_DIR OUT_DIR}
out=${2:?usage: deploy/build-image.sh DEB_DIR OUT_DIR}
top=$(cd "$(dirname "$0")/.." && pwd)

say() { echo "build-image: $*" >&2; }

for tool in mmdebstrap docker dpkg-deb sha256sum; do
	command -v "$tool" >/dev/null 2>&1 || {
		say "$tool is not installed (deploy/install-deps.sh --image installs what this needs)"
		exit 2
	}
done
[ "$(id -u)" -eq 0 ] || { say "needs root (mmdebstrap --mode=root)"; exit 2; }
docker version >/dev/null 2>&1 || {
	say "no Docker engine answers at ${DOCKER_HOST:-the default socket}: start Docker, or set DOCKER_HOST"
	exit 2
}

one_deb() {
	set -- "$debs"/"$1"_*.deb
	if [ $# -ne 1 ] || [ ! -f "$1" ]; then
		say "$debs: expected exactly one $1_*.deb (make deb DEB_DIR=$debs)"
		exit 2
	fi
	echo "$1"
}
agent_deb=$(one_deb odc-fleet-agent)
coord_deb=$(one_deb odc-fleet-coordinator)
version=$(dpkg-deb -f "$agent_deb" Version)
upstream=${version%-*}
arch=$(dpkg-deb -f "$agent_deb" Architecture)
[ "$(dpkg-deb -f "$coord_deb" Version)" = "$version" ] || {
	say "$coord_deb is not version $version like $agent_deb"
	exit 2
}
mkdir -p "$out"

# The mirror: this host's Debian sources when it has them (a host with a local mirror or a proxy
# builds from there), else mmdebstrap's default (deb.debian.org).
sources=
for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
	if [ -s "$f" ]; then
		sources=$f
		break
	fi
done

# Packages this host downloaded already are hard-linked (or copied) into the tree's apt cache
# first, so that mostly the lists are downloaded; apt checks each against the mirror's hashes.
cache=/var/cache/apt/archives
cache_hook="mkdir -p \"\$1$cache\" && { find $cache -maxdepth 1 -name '*.deb' -exec cp -l -t \"\$1$cache\" {} + 2>/dev/null || find $cache -maxdepth 1 -name '*.deb' -exec cp -t \"\$1$cache\" {} + ; } ; true"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/odc-image.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
# apt outside the chroot hands local .deb paths to dpkg inside it verbatim (mmdebstrap(1),
# --include): the packages sit at the same path in both.
pkgdir=$tmp/debs
mkdir -p "$pkgdir"
cp "$agent_deb" "$coord_deb" "$pkgdir/"

# rootfs TARBALL HOOK PACKAGES...: a Debian 12 of the Essential packages and PACKAGES (local .deb
# paths among them), without manual pages, locales, apt's lists and caches, or documentation
# (but odc-fleet's own: the example configurations); HOOK is a shell command run on the
# finished tree ("$1" is its root).
rootfs() {
	tarball=$1 hook=$2
	shift 2
	# One --include each: mmdebstrap takes an argument that starts with a path as one file name.
	for p in "$@"; do
		set -- "$@" "--include=$p"
		shift
	done
	t0=$(date +%s)
	# shellcheck disable=SC2086 # $sources is one path or nothing
	mmdebstrap --mode=root --variant=essential --format=tar "$@" \
		--dpkgopt=force-unsafe-io --aptopt='Acquire::Languages "none"' \
		--dpkgopt='path-exclude=/usr/share/man/*' \
		--dpkgopt='path-exclude=/usr/share/locale/*' \
		--dpkgopt='path-include=/usr/share/locale/locale.alias' \
		--dpkgopt='path-exclude=/usr/share/doc/*' \
		--dpkgopt='path-include=/usr/share/doc/*/copyright' \
		--dpkgopt='path-include=/usr/share/doc/odc-fleet-*' \
		--setup-hook="mkdir -p \"\$1$pkgdir\" && cp $pkgdir/*.deb \"\$1$pkgdir/\"" \
		--setup-hook="$cache_hook" \
		--essential-hook='mkdir -p "$1/usr/share/man/man1"' \
		--customize-hook="rm -rf \"\$1$tmp\" \"\$1\"/var/lib/apt/lists/* \"\$1\"/var/cache/apt/*.bin \"\$1$cache\"/*.deb" \
		--customize-hook="mkdir -p \"\$1/etc/odc-fleet\" && chmod 0755 \"\$1/etc/odc-fleet\"" \
		--customize-hook="$hook" \
		bookworm "$tarball" $sources >"$tmp/$(basename "$tarball").log" 2>&1 || {
		say "mmdebstrap failed for $tarball; its last lines:"
		tail -n 40 "$tmp/$(basename "$tarball").log" >&2
		exit 1
	}
	say "$(basename "$tarball"): $(($(date +%s) - t0)) s"
}

# import TARBALL REF CHANGES...: docker import with Dockerfile instructions, then the tarball
# docker load reads.
import() {
	tarball=$1 ref=$2
	shift 2
	set -- "$@" --change "LABEL org.opencontainers.image.version=$upstream" \
		--change "LABEL org.opencontainers.image.source=odc-fleet" \
		--change "LABEL org.opencontainers.image.description=\"odc-fleet $version on Debian 12 (deploy/build-image.sh)\""
	t0=$(date +%s)
	docker import "$@" "$tarball" "$ref" >/dev/null
	save="$out/$(echo "$ref" | sed 's/:.*//')_${version}_${arch}.image.tar"
	docker save -o "$save" "$ref"
	chmod 0644 "$save"
	(cd "$out" && sha256sum "$(basename "$save")" >"$(basename "$save").sha256")
	say "$ref: imported and saved in $(($(date +%s) - t0)) s"
	echo "$save"
}

# One root file system for both images: Debian 12's Essential packages, both packages, the Java
# runtime the agent's loaders need, and systemd-sysusers for the coordinator package's user. The
# two images are the same layer (stored once by an engine that loads both) with their own
# entrypoint and volume: one mmdebstrap instead of two, at the price of a Java runtime the
# coordinator never starts.
rootfs "$tmp/rootfs.tar" \
	'mkdir -p "$1/var/lib/odc-agent" "$1/var/lib/odc-coordinator" "$1/run/odc-coordinator" && chmod 0700 "$1/var/lib/odc-agent" && chmod 0750 "$1/var/lib/odc-coordinator" "$1/run/odc-coordinator"' \
	"$pkgdir/$(basename "$agent_deb")" "$pkgdir/$(basename "$coord_deb")" \
	openjdk-17-jre-headless systemd-standalone-sysusers ca-certificates

# The agent: root (the Docker socket is root's anyway; see deploy/systemd/odc-agent.service), its
# configuration in /etc/odc-fleet, its state in /var/lib/odc-agent (a volume: its journal and
# snapshots must outlive the container), JAVA_HOME for the loaders' start scripts.
import "$tmp/rootfs.tar" "odc-fleet-agent:$upstream" \
	--change "ENV JAVA_HOME=/usr/lib/jvm/java-17-openjdk-$arch" \
	--change 'ENV LANG=C.UTF-8' \
	--change 'VOLUME /var/lib/odc-agent' \
	--change 'ENTRYPOINT ["/usr/sbin/odc-agent", "-c", "/etc/odc-fleet/agent.conf"]' \
	--change 'CMD ["daemon"]'

# The coordinator: its store in /var/lib/odc-coordinator (a volume), its control socket in
# /run/odc-coordinator (bind a host directory there for odcctl on the host).
import "$tmp/rootfs.tar" "odc-fleet-coordinator:$upstream" \
	--change 'ENV LANG=C.UTF-8' \
	--change 'VOLUME /var/lib/odc-coordinator' \
	--change 'ENTRYPOINT ["/usr/sbin/odc-coordinator", "-c", "/etc/odc-fleet/coordinator.conf"]' \
	--change 'CMD ["run"]'
say "done: odc-fleet-agent:$upstream and odc-fleet-coordinator:$upstream in ${DOCKER_HOST:-the default engine}"
