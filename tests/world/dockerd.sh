#!/bin/sh
# A private Docker engine for tests: its own data, exec root, pidfile and
# unix socket under DIR, no iptables, no bridge, vfs storage.
#   dockerd.sh start DIR [NETNS]   start (inside network namespace NETNS if given)
#   dockerd.sh stop DIR            stop it, kill what is left, unmount, keep DIR
# Prints the socket path on start. Idempotent both ways.
set -eu
cmd=${1:?usage: dockerd.sh start|stop DIR [NETNS]}
dir=${2:?usage: dockerd.sh start|stop DIR [NETNS]}
netns=${3:-}
sock="$dir/docker.sock"
pidf="$dir/dockerd.pid"

alive() { [ -f "$pidf" ] && kill -0 "$(cat "$pidf")" 2>/dev/null; }

case "$cmd" in
start)
	mkdir -p "$dir/data" "$dir/exec"
	if alive && [ -S "$sock" ]; then echo "$sock"; exit 0; fi
	# containerd namespaces allow only [A-Za-z0-9] runs joined by single
	# [._-]; a temp dir's random name may not qualify, so use its checksum.
	ns="odcfleet$(printf %s "$dir" | cksum | cut -d' ' -f1)"
	set -- dockerd --iptables=false --ip6tables=false --bridge=none --storage-driver=vfs \
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
		kill "$pid" 2>/dev/null || true
		i=0
		while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
		kill -9 "$pid" 2>/dev/null || true
	fi
	# Whatever runs from this engine's roots (containerd, shims, container
	# processes) goes too, then its mounts.
	for p in $(pgrep -f -- "$dir/" 2>/dev/null || true); do kill -9 "$p" 2>/dev/null || true; done
	grep -o " $dir/[^ ]*" /proc/mounts 2>/dev/null | sort -r | while read -r m; do
		umount -l "$m" 2>/dev/null || true
	done
	rm -f "$pidf" "$sock"
	;;
*)
	echo "usage: dockerd.sh start|stop DIR [NETNS]" >&2
	exit 2
	;;
esac
