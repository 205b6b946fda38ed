#!/bin/sh
# A private Docker engine for tests: its own data, exec root, pidfile and
# unix socket under DIR, no iptables, vfs storage; no bridge, unless asked.
#   dockerd.sh start DIR [NETNS]   start (inside network namespace NETNS if given)
#   dockerd.sh stop DIR            stop it, kill what is left, unmount, keep DIR
# Prints the socket path on start. Idempotent both ways.
#
# Bridge mode: with DOCKERD_BRIDGE=auto (a free 10.213.N.0/24, N from DIR's
# checksum) or DOCKERD_BRIDGE=GATEWAY/PREFIX (say 10.213.7.1/24), start first
# creates a bridge of this engine's own, odcbr<8 hex digits of DIR's checksum>,
# with the gateway address, in NETNS or the root namespace, and the engine's
# default network ("bridge", what `docker run` without --net uses) is on it.
# DIR/bridge then holds "NAME GATEWAY/PREFIX NETNS". Published ports (-p) go
# through docker-proxy, the userland proxy, which listens on the host's
# addresses and connects to the container's: that needs neither iptables nor
# IP forwarding, so the engine still touches no packet filter and no sysctl
# (--iptables=false, --ip-forward=false, --ip-masq=false), and a container
# reaches the host at the gateway address (the host's own, on the bridge) and
# nothing beyond. stop deletes the bridge.
set -eu
cmd=${1:?usage: dockerd.sh start|stop DIR [NETNS]}
dir=${2:?usage: dockerd.sh start|stop DIR [NETNS]}
netns=${3:-}
sock="$dir/docker.sock"
pidf="$dir/dockerd.pid"
brf="$dir/bridge"
# Bridges of concurrent starts are chosen one at a time (the address added
# by one is the route the next one sees).
lockf=/run/lock/odcfleet-dockerd-bridge.lock

alive() { [ -f "$pidf" ] && kill -0 "$(cat "$pidf")" 2>/dev/null; }

# ip in NETNS (or the root namespace).
nsip() {
	if [ -n "${brns:-}" ]; then ip -n "$brns" "$@"; else ip "$@"; fi
}

# Is the /24 around 10.213.$1.0 free in this namespace: no route inside it
# (an address, a network) and none covering it but the default route (or any
# other shorter than /8)?
subnet_free() {
	net="10.213.$1.0/24"
	[ -z "$(nsip -4 route show table all root "$net")" ] || return 1
	! nsip -4 route show table all match "$net" |
		grep -Evq '^default |^([a-z]+ )?[0-9.]+/[0-7] '
}

# Creates this engine's bridge (see above) and writes DIR/bridge.
bridge_create() {
	name="odcbr$(printf %s "$dir" | cksum | cut -d' ' -f1 | xargs printf %08x | cut -c1-8)"
	brns=$netns
	mkdir -p /run/lock
	exec 9>"$lockf"
	flock 9
	if nsip link show "$name" >/dev/null 2>&1; then
		# Left by an engine of this DIR that was not stopped: reuse it as it is.
		cidr=$(nsip -4 -o addr show dev "$name" | awk '{print $4; exit}')
	else
		case "$DOCKERD_BRIDGE" in
		auto)
			start=$(($(printf %s "$dir" | cksum | cut -d' ' -f1) % 256))
			i=0
			cidr=
			while [ $i -lt 256 ]; do
				n=$(((start + i) % 256))
				if subnet_free "$n"; then cidr="10.213.$n.1/24"; break; fi
				i=$((i + 1))
			done
			if [ -z "$cidr" ]; then
				echo "dockerd.sh: no free /24 in 10.213.0.0/16 for the bridge" >&2
				exit 1
			fi
			;;
		*/*) cidr=$DOCKERD_BRIDGE ;;
		*)
			echo "dockerd.sh: DOCKERD_BRIDGE is auto or GATEWAY/PREFIX, not '$DOCKERD_BRIDGE'" >&2
			exit 2
			;;
		esac
		nsip link add name "$name" type bridge
		if ! nsip addr add "$cidr" dev "$name" || ! nsip link set "$name" up; then
			nsip link del "$name" 2>/dev/null || true
			echo "dockerd.sh: cannot give bridge $name the address $cidr" >&2
			exit 1
		fi
	fi
	flock -u 9
	exec 9>&-
	[ -n "$cidr" ] || { echo "dockerd.sh: bridge $name has no IPv4 address" >&2; exit 1; }
	echo "$name $cidr $netns" >"$brf"
}

bridge_delete() {
	[ -f "$brf" ] || return 0
	read -r name cidr brns <"$brf" || true
	if [ -n "${name:-}" ]; then
		nsip link del "$name" 2>/dev/null || true
	fi
	rm -f "$brf"
}

case "$cmd" in
start)
	mkdir -p "$dir/data" "$dir/exec"
	if alive && [ -S "$sock" ]; then echo "$sock"; exit 0; fi
	# containerd namespaces allow only [A-Za-z0-9] runs joined by single
	# [._-]; a temp dir's random name may not qualify, so use its checksum.
	ns="odcfleet$(printf %s "$dir" | cksum | cut -d' ' -f1)"
	if [ -n "${DOCKERD_BRIDGE:-}" ]; then
		bridge_create
		read -r name cidr _ <"$brf"
		set -- --bridge="$name" --ip-forward=false --ip-masq=false --userland-proxy=true
	else
		bridge_delete # one a bridge-mode engine of this DIR left
		set -- --bridge=none
	fi
	set -- dockerd --iptables=false --ip6tables=false "$@" --storage-driver=vfs \
		--data-root "$dir/data" --exec-root "$dir/exec" --pidfile "$pidf" \
		-H "unix://$sock" --containerd-namespace "$ns"
	# nsenter, not `ip netns exec`: the latter remounts /sys and dockerd then
	# fails with "Devices cgroup isn't mounted".
	[ -n "$netns" ] && set -- nsenter "--net=/var/run/netns/$netns" "$@"
	setsid "$@" >"$dir/dockerd.log" 2>&1 </dev/null &
	i=0
	until [ -S "$sock" ] && curl -sf --unix-socket "$sock" http://d/_ping >/dev/null 2>&1; do
		i=$((i + 1))
		if [ $i -gt 150 ]; then
			echo "dockerd.sh: engine did not come up in 30 s; log:" >&2
			tail -n 20 "$dir/dockerd.log" >&2
			exit 1
		fi
		sleep 0.2
	done
	echo "$sock"
	;;
stop)
	if alive; then
		pid=$(cat "$pidf")
		# Containers first, so their shims do not outlive the engine.
		ids=$(curl -sf --unix-socket "$sock" 'http://d/v1.41/containers/json?all=1' 2>/dev/null |
			grep -o '"Id":"[0-9a-f]*"' | cut -d'"' -f4 || true)
		for id in $ids; do
			curl -sf -X POST --unix-socket "$sock" "http://d/v1.41/containers/$id/kill" >/dev/null 2>&1 || true
		done
		# The engine's userland proxies (published ports): its children, which
		# an engine that has to be killed leaves behind holding the ports.
		proxies=$(pgrep -P "$pid" -x docker-proxy 2>/dev/null || true)
		kill "$pid" 2>/dev/null || true
		i=0
		while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
		kill -9 "$pid" 2>/dev/null || true
		for p in $proxies; do
			# Only if that pid is still a proxy (not a new process since).
			if [ "$(cat "/proc/$p/comm" 2>/dev/null)" = docker-proxy ]; then
				kill -9 "$p" 2>/dev/null || true
			fi
		done
	fi
	# Whatever runs from this engine's roots (containerd, shims, container
	# processes) goes too, then its mounts.
	for p in $(pgrep -f -- "$dir/" 2>/dev/null || true); do kill -9 "$p" 2>/dev/null || true; done
	grep -o " $dir/[^ ]*" /proc/mounts 2>/dev/null | sort -r | while read -r m; do
		umount -l "$m" 2>/dev/null || true
	done
	bridge_delete
	rm -f "$pidf" "$sock"
	;;
*)
	echo "usage: dockerd.sh start|stop DIR [NETNS]" >&2
	exit 2
	;;
esac
