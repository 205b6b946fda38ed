#!/bin/sh
# Main process of the ODC stand-in image, in the role supervisord plays in the real one:
# it starts /odc/odc-server, restarts it when it exits (startretries=3, backoff 1, 2, 3 s),
# then gives up and idles, so the container stays "Up" while ODC inside is dead.
# SIGTERM/SIGINT (docker stop) stop the child and end the container promptly.

child=""
server=""
retries=3

log() {
	echo "$(date -u '+%Y-%m-%d %H:%M:%S'),000 $*"
}

stop() {
	log "WARN received SIGTERM indicating exit request"
	if [ -n "$child" ]; then
		[ -n "$server" ] && log "INFO waiting for odc-server to die"
		kill -TERM "$child" 2>/dev/null
		wait "$child" 2>/dev/null
		[ -n "$server" ] && log "INFO stopped: odc-server (terminated by SIGTERM)"
	fi
	exit 0
}
trap stop TERM INT

log "INFO supervisord started with pid $$"
tries=0
while :; do
	started=$(date +%s)
	/odc/odc-server &
	child=$!
	server=1
	log "INFO spawned: 'odc-server' with pid $child"
	wait "$child"
	status=$?
	child=""
	server=""
	log "INFO odc-server exited with status $status; not expected"
	# A process that ran for a while was RUNNING: supervisord resets its retry count.
	if [ $(($(date +%s) - started)) -ge 60 ]; then
		tries=0
	fi
	if [ "$tries" -ge "$retries" ]; then
		log "INFO gave up: odc-server entered FATAL state, too many start retries too quickly"
		break
	fi
	tries=$((tries + 1))
	sleep "$tries" &
	child=$!
	wait "$child"
	child=""
done

# Idle like supervisord with a FATAL program: alive, serving nothing.
while :; do
	sleep 3600 &
	child=$!
	wait "$child"
	child=""
done
