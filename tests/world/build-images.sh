#!/bin/sh
# Builds the ODC stand-in images REPOSITORY:TAG into the Docker engine listening on SOCKET,
# from a small busybox-static root filesystem (no registry needed).
#   build-images.sh SOCKET [REPOSITORY [TAG...]]   (default repository: oceanbase/odc-server)
# TAGs: 4.2.0 and 4.3.0 (the default: both), and the broken releases, built only when named
# (tests/world/README.md, "Broken releases"): 4.3.1-badmigrate (its migration fails half-way)
# and 4.3.1-unhealthy (migrates, then never starts).
# Idempotent: when every TAG exists and carries the label org.odcfleet.standin.hash of the
# current sources, nothing is rebuilt. Prints the image references on stdout.
set -eu
sock=${1:?usage: build-images.sh SOCKET [REPOSITORY [TAG...]]}
repo=${2:-oceanbase/odc-server}
if [ $# -gt 2 ]; then shift 2; else set --; fi
tags=${*:-4.2.0 4.3.0}
here=$(cd "$(dirname "$0")" && pwd)
src="$here/odc"
cc=${CC:-gcc}
label=org.odcfleet.standin.hash

# What an image of TAG holds, as `tag_spec TAG` sets it: rel (the migration directories of
# odc/migrate/ it ships, its own last), build (what /api/v1/info reports: a release build's
# <main>-<release id>, oceanbase/odc script/change_version.sh set-release, not the tag), jopts
# (the image's JAVA_OPTS) and fault (odc/FAULT: "" or after-migrate).
tag_spec() {
	j42="-server -Xms2g -Xmx4g -XX:+UseG1GC"
	j43="-server -Xms4g -Xmx6g -XX:+UseG1GC -XX:MaxGCPauseMillis=200"
	fault=""
	case "$1" in
	4.2.0) rel="4.2.0" build=4.2.0-20230916 jopts=$j42 ;;
	4.3.0) rel="4.2.0 4.3.0" build=4.3.0-20240412 jopts=$j43 ;;
	4.3.1-badmigrate) rel="4.2.0 4.3.0 $1" build=4.3.1-20240620 jopts=$j43 ;;
	4.3.1-unhealthy) rel="4.2.0 4.3.0 $1" build=4.3.1-20240620 jopts=$j43 fault=after-migrate ;;
	*)
		echo "build-images.sh: unknown tag $1 (4.2.0 4.3.0 4.3.1-badmigrate 4.3.1-unhealthy)" >&2
		exit 2
		;;
	esac
}
for v in $tags; do tag_spec "$v"; done

dk() { docker -H "unix://$sock" "$@"; }

# The label ties an image to the exact sources (the server, the entrypoint, every migration,
# init, template and seed file, by name and content) and the busybox it was built from.
hash=$( (cat "$0" /bin/busybox
	cd "$src" && find . -type f | LC_ALL=C sort | while IFS= read -r f; do
		printf '%s\n' "$f"
		cat "$f"
	done) | sha256sum | cut -c1-32)

uptodate=1
for v in $tags; do
	have=$(dk image inspect -f "{{ index .Config.Labels \"$label\" }}" "$repo:$v" 2>/dev/null || true)
	[ "$have" = "$hash" ] || uptodate=0
done
if [ $uptodate -eq 1 ]; then
	for v in $tags; do echo "$repo:$v"; done
	exit 0
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/odc-images.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
root="$tmp/root"

# shellcheck disable=SC2046 # pkg-config output is meant to split
"$cc" -std=c11 -O2 -s -Wall -Wextra -Werror -o "$tmp/odc-server" "$src/"*.c \
	$(pkg-config --cflags --libs libmariadb)

mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/root" "$root/odc" "$root/proc" \
	"$root/sys" "$root/dev" "$root/opt/odc/log" "$root/opt/odc/data" "$root/usr/bin"
chmod 1777 "$root/tmp"
cp /bin/busybox "$root/bin/busybox"
for applet in $(/bin/busybox --list); do
	[ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
done
ln -s /bin/env "$root/usr/bin/env"
cp "$tmp/odc-server" "$root/odc/odc-server"
cp "$src/entrypoint.sh" "$root/odc/entrypoint.sh"
chmod 0755 "$root/odc/odc-server" "$root/odc/entrypoint.sh"
# What odc-server reads at start (tests/world/README.md, "ODC stand-in image"): ODC's history
# table template, Spring sql-init's scripts, the sample data; the migrations per release below.
mkdir -p "$root/odc/init" "$root/odc/seed" "$root/odc/migrate"
cp "$src/migrate/migrate_schema_history_table_template.sql" "$root/odc/"
cp "$src/migrate/init/schema.sql" "$src/migrate/init/data.sql" "$root/odc/init/"
cp "$src/seed/"*.sql "$root/odc/seed/"
chmod -R a+rX "$root/odc"

# Every shared library the server needs, and the dynamic loader, at the same paths.
libs=$(ldd "$tmp/odc-server" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
[ -n "$libs" ] || { echo "build-images.sh: ldd found no libraries for odc-server" >&2; exit 1; }
for lib in $libs; do
	mkdir -p "$root$(dirname "$lib")"
	cp -L "$lib" "$root$lib"
done

cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$root/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
EOF

for v in $tags; do
	tag_spec "$v"
	echo "$build" >"$root/odc/VERSION"
	rm -f "$root/odc/FAULT"
	[ -z "$fault" ] || echo "$fault" >"$root/odc/FAULT"
	# An image holds the migration files of its own release and of every older one, in one
	# directory as ODC's classpath location migrate/common does.
	rm -f "$root/odc/migrate/"*.sql
	for r in $rel; do
		cp "$src/migrate/$r/"*.sql "$root/odc/migrate/"
	done
	chmod a+r "$root/odc/migrate/"*.sql "$root/odc/"[VF]*
	tar -C "$root" --numeric-owner --owner=0 --group=0 -cf - . |
		dk import \
			--change 'CMD ["/bin/sh","/odc/entrypoint.sh"]' \
			--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
			--change 'ENV ODC_HOME=/opt/odc' \
			--change 'ENV LANG=C.UTF-8' \
			--change "ENV JAVA_OPTS=\"$jopts\"" \
			--change 'WORKDIR /opt/odc' \
			--change 'EXPOSE 8989/tcp' \
			--change "LABEL org.opencontainers.image.version=$v" \
			--change "LABEL $label=$hash" \
			--message "odc-fleet ODC stand-in $v" \
			- "$repo:$v" >/dev/null
	echo "$repo:$v"
done
