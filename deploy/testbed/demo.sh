#!/bin/sh
# `make demo`: four simulated ODC hosts (each its own network namespace,
# Docker engine and ODC container left at 4.3.0 by a failed upgrade): h1 and h2
# single-node deployments, each with its own metadb and pre-upgrade backup;
# h3 and h4 the two nodes of one highly available deployment, one metadb and
# one backup, taken on h3 (h4 does not have it). odc-coordinator rolls them
# back to 4.2.0 by deployment (a canary deployment, then batches of one
# deployment; h3 and h4 together, their metadb restored once, by h3, while h4
# waits for it), followed live; then the per-host results, the
# deployments, and each host's ODC answering at 4.2.0. Then two upgrades of the
# fleet: to 4.3.1-unhealthy, a release that never becomes healthy (the test
# world's), whose canary h1 is reverted by itself (its metadb restored from the
# backup the upgrade took, its 4.2.0 container started again) and the job
# halts with h2, h3 and h4 untouched; then to 4.3.0, which succeeds on every
# deployment. Exits non-zero when anything did not work. The fleet stays up to
# be explored; `make demo-down` removes it.
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${ODC_BUILD:-$top/build}
dir=${ODC_DEMO_DIR:-/tmp/odc-demo}
py=/usr/bin/python3
testbed="$top/deploy/testbed/testbed.py"
hosts=4
ha=2                   # the last two hosts: one HA deployment
broken=4.3.1-unhealthy # a release of the test world: it migrates the metadb, then never starts
# The agents' health deadline. An upgrade's health gate allows 60 s more only while ODC's
# migration lock is held at that deadline; the broken release has let it go by then, so its
# canary is given up 30 s after its start.
health=30s
t0=$(date +%s)

ctl() { "$build/odcctl" -c "$dir/odcctl.conf" "$@"; }
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
fail() {
	printf '\ndemo: FAILED: %s\n' "$*" >&2
	printf 'the fleet is left as it is for a look (%s); remove it with: make demo-down\n' "$dir" >&2
	exit 1
}
json() { $py -c "import json, sys; d = json.load(sys.stdin); print($1)"; }
# wait_for SECONDS WANT WHY COMMAND EXPR: until EXPR of `odcctl -o json COMMAND` prints WANT.
wait_for() {
	n=0
	until [ "$(ctl -o json "$4" | json "$5")" = "$2" ]; do
		n=$((n + 1))
		[ $n -le $(($1 * 2)) ] || fail "$3"
		sleep 0.5
	done
}
# answers RELEASE: every host's ODC, asked over HTTP, answers a build of RELEASE.
answers() {
	n=1
	while [ $n -le $hosts ]; do
		addr="10.77.0.$((10 + n))"
		v=$(curl -fsS --max-time 5 "http://$addr:8989/api/v1/info" | json "d['data']['version']") ||
			fail "h$n: ODC does not answer at $addr:8989"
		echo "h$n ($addr): ODC $v"
		case "$v" in
		"$1"-*) ;;
		*) fail "h$n answers $v, not $1" ;;
		esac
		n=$((n + 1))
	done
}
# latest: the id of the newest job.
latest() { ctl -o json jobs --limit 1 | json "d['jobs'][0]['job_id']"; }
# host_of JOB HOST FIELD: one field of HOST in `odcctl -o json job JOB`.
host_of() { ctl -o json job "$1" | json "{h['host']: h for h in d['hosts']}['$2']['$3']"; }

[ "$(id -u)" = 0 ] || fail "the demo needs root (network namespaces, Docker engines)"

step "removing what an earlier demo left, if anything"
$py "$testbed" down --dir "$dir" >/dev/null 2>&1 || true

step "bringing up $hosts ODC hosts after a failed upgrade to 4.3.0 (h3, h4: one HA deployment), and the coordinator"
$py "$testbed" up --hosts "$hosts" --ha "$ha" --health-deadline "$health" --dir "$dir" ||
	fail "the testbed did not come up"

step "the fleet, as the operator sees it: odcctl hosts"
wait_for 30 "$hosts" "not every host came online" hosts "sum(h['status'] == 'online' for h in d['hosts'])"
ctl hosts

step "the deployments (hosts on one metadb), as the coordinator learnt them from heartbeats: odcctl deployments"
wait_for 10 3 "the coordinator does not know three deployments" deployments "len(d['deployments'])"
ctl deployments

step "fleet rollback to 4.2.0 by deployment: preflight everywhere, canary h1, then one deployment at a time"
# The hosts' pre-upgrade backup was taken by hand with obdumper, as ODC's upgrade guide says:
# it has no odc-fleet manifest, so its completeness is accepted explicitly.
ctl rollback --to 4.2.0 --backup "$dir/backups/pre-4.3.0" --all --canary 1 --batch 1 --budget 0 \
	--accept-unverified --yes \
	--reason "demo: the 4.3.0 upgrade failed" || fail "the rollback did not succeed everywhere"

job=$(latest)
step "per-host results, signed by each agent: odcctl job $job --results"
ctl job "$job" --results
# The HA deployment's metadb was restored once, by h3, the node that holds the backup;
# h4 found it restored.
restores=$(ctl -o json job "$job" --results | json "[r['host'] for r in d['results'] if r['host'] in ('h3', 'h4') and r['step'] == 'restore' and r['status'] == 'ok']")
[ "$restores" = "['h3']" ] || fail "the HA deployment's metadb was restored by $restores, not once by h3"
echo "the HA deployment's metadb (h3, h4) was restored once, by h3, which holds the backup"

step "the deployments after the rollback (BACKUP: which node holds it): odcctl deployments"
ctl deployments
on=$(ctl -o json deployments | json "[x['backup']['on'] for x in d['deployments'] if len(x['nodes']) == 2][0]")
[ "$on" = "['h3']" ] || fail "odcctl deployments says the HA backup is on $on, not on h3"

step "each host's ODC, asked over HTTP: GET /api/v1/info"
answers 4.2.0

step "an upgrade to $broken, a release that never becomes healthy: preflight everywhere, canary h1"
# Per deployment: stop ODC (its container kept, renamed), back up the metadb, start the new
# release, wait for it healthy. A deployment that fails is reverted by itself; a failed
# canary halts the job (exit 4).
rc=0
ctl upgrade --to "$broken" --all --canary 1 --batch 1 --budget 0 --yes \
	--reason "demo: try $broken" || rc=$?
[ $rc = 4 ] || fail "the upgrade to $broken exited $rc, not 4 (halted)"
bad=$(latest)
step "what happened, per host: odcctl job $bad"
ctl job "$bad"
[ "$(host_of "$bad" h1 state)" = failed ] || fail "the canary h1 is $(host_of "$bad" h1 state), not failed"
[ "$(host_of "$bad" h1 revert)" = ok ] ||
	fail "the canary h1's revert is '$(host_of "$bad" h1 revert)': $(host_of "$bad" h1 revert_message)"
for h in h2 h3 h4; do
	[ "$(host_of "$bad" $h state)" = skipped ] || fail "$h is $(host_of "$bad" $h state) in the halted upgrade"
done
why=$(ctl -o json job "$bad" --results --host h1 --step health | json "d['results'][0]['message'].split('; to go back')[0]")
cat <<EOF
The canary h1 never became healthy on $broken (it failed at its $(host_of "$bad" h1 failed_step) step).
Its agent's signed result says why: $why
odc-fleet put it back by itself: the metadb restored from the backup the upgrade had taken
just before, the 4.2.0 container it had kept started again. The job halted there: h2, h3
and h4 were checked (preflight) and never touched. Every host still answers 4.2.0:
EOF
answers 4.2.0

step "the upgrade to 4.3.0: one deployment at a time, each metadb backed up before ODC migrates it"
ctl upgrade --to 4.3.0 --all --canary 1 --batch 1 --budget 0 --yes \
	--reason "demo: upgrade to 4.3.0" || fail "the upgrade to 4.3.0 did not succeed everywhere"
up=$(latest)
cat <<EOF
Every deployment is on 4.3.0. Each host kept its 4.2.0 container (obodc-upgraded-...) and
the backup of its metadb is recorded with job $up: \`odcctl rollback --of $up\` goes back
to 4.2.0 without a backup path.
EOF

step "the deployments after the upgrade: odcctl deployments"
ctl deployments

step "each host's ODC, asked over HTTP: GET /api/v1/info"
answers 4.3.0

step "done in $(($(date +%s) - t0)) s: rolled back to 4.2.0, an upgrade reverted on its canary by itself, then upgraded to 4.3.0"
cat <<EOF

The fleet is still up. Look around:
  $build/odcctl -c $dir/odcctl.conf hosts
  $build/odcctl -c $dir/odcctl.conf deployments
  $build/odcctl -c $dir/odcctl.conf job $job --results   # the rollback
  $build/odcctl -c $dir/odcctl.conf job $bad --results   # the canary's upgrade and its revert
  $build/odcctl -c $dir/odcctl.conf job $up --results
  $build/odcctl -c $dir/odcctl.conf audit
  $build/odcctl -c $dir/odcctl.conf rollback --of $up            # every host back to 4.2.0
  logs: $dir/coordinator.log, $dir/h1/agent.log ...
Tear it down:
  make demo-down
EOF
