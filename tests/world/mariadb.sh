#!/bin/sh
# A private MariaDB server for tests, standing in for the OceanBase metadb
# (it speaks the same MySQL protocol).
#   mariadb.sh start DIR PORT [BIND]   initialise DIR once, start, wait until it answers
#   mariadb.sh stop DIR                stop it (DIR is kept)
# Connect as root over DIR/mysqld.sock, or over TCP with the users tests create.
set -eu
cmd=${1:?usage: mariadb.sh start DIR PORT [BIND] | stop DIR}
dir=${2:?usage: mariadb.sh start DIR PORT [BIND] | stop DIR}
sock="$dir/mysqld.sock"
pidf="$dir/mysqld.pid"

alive() { [ -f "$pidf" ] && kill -0 "$(cat "$pidf")" 2>/dev/null; }

case "$cmd" in
start)
	port=${3:?mariadb.sh start DIR PORT [BIND]}
	bind=${4:-127.0.0.1}
	if alive; then exit 0; fi
	mkdir -p "$dir"
	# Seen once in a full run: mariadb-install-db failed for no reason its
	# log's tail showed. Its [ERROR] lines say why; a second try starts
	# from an empty data directory.
	try=1
	while [ ! -d "$dir/data/mysql" ]; do
		mariadb-install-db --no-defaults --user=root --datadir="$dir/data" \
			--auth-root-authentication-method=socket --skip-test-db >"$dir/install.log" 2>&1 && break
		echo "mariadb.sh: mariadb-install-db failed (try $try):" >&2
		grep -i 'error' "$dir/install.log" | head -n 20 >&2 || true
		tail -n 5 "$dir/install.log" >&2
		cp "$dir/install.log" "$dir/install.log.$try"
		[ "$try" -lt 2 ] || exit 1
		rm -rf "$dir/data"
		try=$((try + 1))
		sleep 1
	done
	setsid mariadbd --no-defaults --user=root --datadir="$dir/data" --socket="$sock" \
		--pid-file="$pidf" --port="$port" --bind-address="$bind" --skip-name-resolve \
		--innodb-buffer-pool-size=32M --innodb-log-file-size=8M --skip-log-bin \
		--log-error="$dir/mysqld.err" >/dev/null 2>&1 </dev/null &
	i=0
	until mariadb --no-defaults -uroot --socket="$sock" -e 'select 1' >/dev/null 2>&1; do
		i=$((i + 1))
		if [ $i -gt 300 ]; then
			echo "mariadb.sh: server did not answer in 60 s; log:" >&2
			tail -n 20 "$dir/mysqld.err" >&2
			exit 1
		fi
		sleep 0.2
	done
	;;
stop)
	if alive; then
		pid=$(cat "$pidf")
		kill "$pid" 2>/dev/null || true
		i=0
		while kill -0 "$pid" 2>/dev/null && [ $i -lt 150 ]; do sleep 0.2; i=$((i + 1)); done
		kill -9 "$pid" 2>/dev/null || true
	fi
	rm -f "$pidf"
	;;
*)
	echo "usage: mariadb.sh start DIR PORT [BIND] | stop DIR" >&2
	exit 2
	;;
esac
