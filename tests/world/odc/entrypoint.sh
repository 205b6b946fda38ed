#!/bin/sh
# Main process of the ODC stand-in image, in the role supervisord plays in the real one, with
# the defaults ODC's program runs under (ODC-UPGRADE-FACTS.md section 3: startsecs=1,
# startretries=3, autorestart=unexpected, exitcodes=0):
# - a run that stayed up 1 s (startsecs) was RUNNING; when it exits non-zero it is restarted at
#   once and its retries start again: a release that fails after its boot (every real ODC
#   failure: a JVM takes seconds to fail, and so does the stand-in's, odc-server.c JVM_BOOT_MS)
#   crash-loops forever while the container stays "Up";
# - a run shorter than that failed to start: retried after 1, 2, 3 s, then `gave up` (FATAL),
#   and the entrypoint idles, the container "Up" with ODC dead inside;
# - exit status 0 is expected: not restarted.
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

# Hundredths of a second since boot (/proc/uptime has two decimals).
uptime_cs() {
	read -r up _ </proc/uptime
	echo "${up%.*}${up#*.}"
}

log "INFO supervisord started with pid $$"
tries=0
while :; do
	started=$(uptime_cs)
	/odc/odc-server &
	child=$!
	server=1
	log "INFO spawned: 'odc-server' with pid $child"
	wait "$child"
	status=$?
	child=""
	server=""
	if [ "$status" -eq 0 ]; then
		log "INFO odc-server exited with status 0; expected"
		break
	fi
	log "INFO odc-server exited with status $status; not expected"
	# It stayed up startsecs: it was RUNNING, and is restarted at once with its retries reset.
	if [ $(($(uptime_cs) - started)) -ge 100 ]; then
		tries=0
		continue
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

# Idle like supervisord with a FATAL or EXITED program: alive, serving nothing.
while :; do
	sleep 3600 &
	child=$!
	wait "$child"
	child=""
done
