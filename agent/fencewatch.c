/* The check of the fence on every start of ODC's container (fencewatch.h).
 * A rollback that restored a metadb fences it at the version it restored
 * (plan.c, guard.h); a returning node's container, older than the fence
 * and of a newer release, would run ODC's schema migrations on start
 * (oceanbase/odc @ d517c0f: server/odc-migrate/src/main/resources/migrate,
 * run by the metadbMigrate bean that the server and the MyBatis session
 * factory depend on: server/odc-server/src/main/java/com/oceanbase/odc/
 * server/OdcServer.java:69, server/odc-service/src/main/java/com/oceanbase/
 * odc/config/MetaDBConfiguration.java:124-125) and move the restored metadb
 * forward under the deployment's other nodes. ODC gets there once the JVM
 * and Spring's data source are up, seconds after the start; the daemon
 * looks at the container every FENCE_WATCH_MS (daemon.c). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "agent/fencewatch.h"
#include "agent/guard.h"
#include "agent/metadb.h"
#include "agent/spec.h"
#include "common/version.h"
#include "common/clock.h"
#include "common/log.h"

#define RETRY_MS 30000

/* Milliseconds since the epoch of an RFC 3339 instant from Docker
 * ("2026-12-07T05:45:09.123456789Z"), or 0. */
static uint64_t
instant_ms(const char *s)
{
	struct tm tm = {0};
	const char *rest = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
	uint64_t ms;

	if (rest == NULL)
		return 0;
	ms = (uint64_t)timegm(&tm) * 1000;
	if (*rest == '.') {
		unsigned scale = 100;
		for (rest++; *rest >= '0' && *rest <= '9'; rest++, scale /= 10)
			ms += (uint64_t)(*rest - '0') * scale;
	}
	return ms;
}

static void
start_key(const struct docker_container *ct, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s@%s", ct->id, ct->started_at);
}

bool
fence_watch_due(const struct fence_watch *w, const struct docker_container *ct)
{
	char key[sizeof(w->checked)];

	start_key(ct, key, sizeof(key));
	return strcmp(key, w->checked) != 0 && clock_mono_ms() >= w->retry_ms;
}

int
fence_watch_check(struct fence_watch *w, const struct agent_conf *c, struct docker *d,
                  const struct docker_container *ct, json_t *raw)
{
	struct guard_holder f;
	struct metadb *m = NULL;
	char key[sizeof(w->checked)], tag[130], hv[65] = "", err[512], desc[300], *pw = NULL;
	uint64_t created;
	int rc = 0, cmp_fence, cmp_now, stopped = 0;

	start_key(ct, key, sizeof(key));
	version_image_tag(ct->image, tag, sizeof(tag));
	if (!version_release_cmp(tag, tag, &cmp_fence)) {
		/* No release in the tag ("latest", a digest): nothing to compare. */
		snprintf(w->checked, sizeof(w->checked), "%s", key);
		return 0;
	}
	if ((pw = agent_read_password(c, err, sizeof(err))) == NULL ||
	    (m = agent_metadb_open(c, pw, err, sizeof(err))) == NULL ||
	    (rc = fence_read(m, &f, err, sizeof(err))) < 0 ||
	    (rc == 1 && metadb_history_version(m, hv, sizeof(hv), err, sizeof(err)) != 0)) {
		if (!w->warned)
			log_warn("container %s started: the metadb's fence cannot be read (%s); "
			         "trying again every %d s",
			         ct->name, err, RETRY_MS / 1000);
		w->warned = true;
		w->retry_ms = clock_mono_ms() + RETRY_MS;
		goto out;
	}
	snprintf(w->checked, sizeof(w->checked), "%s", key);
	w->warned = false;
	if (rc == 0 || f.unreadable)
		goto out;
	json_t *jc = raw ? json_object_get(raw, "Created") : NULL;
	created = instant_ms(json_string_value(jc));
	fence_describe(&f, desc, sizeof(desc));
	/* Created is this host's clock, since_ms the restoring host's: a skew
	 * larger than the time between the container's creation and the
	 * rollback would let an old container through (hosts keep time by
	 * NTP; an ODC container is made at its upgrade, long before). */
	if (!version_release_cmp(tag, f.version, &cmp_fence) || cmp_fence <= 0 || created == 0 ||
	    created >= f.since_ms)
		goto out; /* not newer, or created since the fence: the operator's decision */
	if (version_release_cmp(tag, hv, &cmp_now) && cmp_now <= 0) {
		log_err("container %s (%s) was created before the metadb was fenced (%s), and the "
		        "metadb is at "
		        "version %s now: it was migrated forward since; the deployment's other "
		        "nodes may be "
		        "running an older release on it",
		        ct->name, ct->image, desc, hv);
		goto out;
	}
	if (docker_container_stop(d, ct->id, (unsigned)(c->stop_timeout_ms / 1000), err,
	                          sizeof(err)) != 0) {
		log_err("container %s (%s) must not run on the fenced metadb (%s), but stopping it "
		        "failed: %s; "
		        "stop it by hand: docker stop %s",
		        ct->name, ct->image, desc, err, ct->name);
		goto out;
	}
	stopped = 1;
	log_err("stopped container %s (%s, created before the metadb was fenced: %s): an ODC of a "
	        "newer release "
	        "than the metadb's version %s would migrate it forward under the deployment's "
	        "other nodes. The "
	        "host is DOWN (ODC stopped, metadb untouched). To bring this node to the "
	        "deployment's release: "
	        "`odc-agent run rollback --to TAG --backup DIR` with the tag of version %s (the "
	        "metadb is at it: "
	        "it is not restored again); to run this container anyway, migrating the metadb "
	        "forward: "
	        "`odc-agent guard lift-fence %s && docker start %s`",
	        ct->name, ct->image, desc, hv, f.version, f.job, ct->name);
out:
	metadb_close(m);
	agent_secret_free(pw);
	return stopped;
}
