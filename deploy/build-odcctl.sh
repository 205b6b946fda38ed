#!/bin/sh
# A self-contained odcctl for an operator's workstation (make odcctl-tarball): any x86_64 (or the
# build's architecture) Linux, whatever its C library (CentOS 7's glibc 2.17, Alpine's musl), with
# no coordinator, no system user and no units. The tarball holds the program, every shared library
# it loads (ldd), the dynamic loader they were built for, and a start script that runs the program
# through that loader with only those libraries; plus its manual pages and bash completion.
#
# Usage: deploy/build-odcctl.sh ODCCTL OUT_DIR
#   -> OUT_DIR/odcctl-VERSION-linux-ARCH.tar.gz (and .sha256), unpacking to odcctl-VERSION/:
#      bin/odcctl (the start script), lib/odcctl/ (the program and its libraries),
#      share/man/man1/odcctl.1, share/man/man5/odcctl.conf.5, share/bash-completion/completions/odcctl
# Use: tar -xzf odcctl-*.tar.gz -C /opt && ln -s /opt/odcctl-VERSION/bin/odcctl /usr/local/bin/
set -eu

prog=${1:?usage: deploy/build-odcctl.sh ODCCTL OUT_DIR}
out=${2:?usage: deploy/build-odcctl.sh ODCCTL OUT_DIR}
top=$(cd "$(dirname "$0")/.." && pwd)

say() { echo "build-odcctl: $*" >&2; }

[ -x "$prog" ] || { say "$prog is not an executable (make programs)"; exit 2; }
version=$("$prog" --version | sed -n '1s/^odcctl \([^ ]*\).*/\1/p')
[ -n "$version" ] || { say "$prog --version does not say odcctl's version"; exit 2; }
arch=$(uname -m)
name=odcctl-$version

tmp=$(mktemp -d "${TMPDIR:-/tmp}/odcctl-tarball.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
root=$tmp/$name
mkdir -p "$root/bin" "$root/lib/odcctl" "$root/share/man/man1" "$root/share/man/man5" \
	"$root/share/bash-completion/completions"

# The libraries, resolved by this host's loader; the loader itself is the line ldd prints as an
# absolute path with no "=>".
ldd "$prog" >"$tmp/ldd" || { say "ldd $prog failed"; exit 1; }
if grep -q "not found" "$tmp/ldd"; then
	say "$prog: libraries not found:"
	grep "not found" "$tmp/ldd" >&2
	exit 1
fi
loader=
while read -r a b c _; do
	case "$a $b" in
	/*" "*) [ "$b" = "=>" ] || loader=$a ;;
	esac
	if [ "$b" = "=>" ] && [ "${c#/}" != "$c" ]; then
		cp -L "$c" "$root/lib/odcctl/"
	fi
done <"$tmp/ldd"
[ -n "$loader" ] || { say "ldd named no dynamic loader for $prog"; exit 1; }
cp -L "$loader" "$root/lib/odcctl/"
cp "$prog" "$root/lib/odcctl/odcctl"
chmod 0755 "$root/lib/odcctl/odcctl" "$root/lib/odcctl/$(basename "$loader")"

cat >"$root/bin/odcctl" <<EOF
#!/bin/sh
# odcctl $version, self-contained: runs lib/odcctl/odcctl through the dynamic loader and the
# libraries next to it (none of this system's). Symbolic links to this script are followed.
self=\$0
while [ -L "\$self" ]; do
	link=\$(readlink "\$self")
	case \$link in
	/*) self=\$link ;;
	*) self=\$(dirname "\$self")/\$link ;;
	esac
done
lib=\$(cd "\$(dirname "\$self")/../lib/odcctl" && pwd) || exit 127
exec "\$lib/$(basename "$loader")" --argv0 odcctl --library-path "\$lib" "\$lib/odcctl" "\$@"
EOF
chmod 0755 "$root/bin/odcctl"

cp "$top/deploy/man/odcctl.1" "$root/share/man/man1/"
cp "$top/deploy/man/odcctl.conf.5" "$root/share/man/man5/"
cp "$top/deploy/completion/odcctl" "$root/share/bash-completion/completions/"
cp "$top/deploy/odcctl.conf.example" "$root/share/"

# The loader must be able to start the program here before it is packed.
"$root/bin/odcctl" --version >/dev/null || { say "the bundled odcctl does not start"; exit 1; }

mkdir -p "$out"
tarball=$name-linux-$arch.tar.gz
tar -C "$tmp" --owner=0 --group=0 --numeric-owner -czf "$out/$tarball" "$name"
(cd "$out" && sha256sum "$tarball" >"$tarball.sha256")
echo "$out/$tarball"
