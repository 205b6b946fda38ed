/* The agent's own check of the fence (guard.h) on every start of its ODC
 * container: a node of a deployment that was away while the deployment was
 * rolled back, coming back with the container of the newer release it ran
 * (Docker's restart policy starts it at boot), is stopped before ODC
 * migrates the restored metadb forward again. */
#ifndef ODC_AGENT_FENCEWATCH_H
#define ODC_AGENT_FENCEWATCH_H

#include <stdint.h>

#include <jansson.h>

#include "agent/agent.h"
#include "agent/docker.h"

struct fence_watch {
	char checked[128]; /* "id@StartedAt" of the start checked last */
	uint64_t retry_ms; /* monotonic: when an unreachable metadb is tried again */
	bool warned;       /* the unreachable metadb was logged for this start */
};

/* Whether the running container ct is due a check: a start of it (its id
 * and StartedAt) not checked yet, and no unreachable metadb to wait for. */
bool fence_watch_due(const struct fence_watch *w, const struct docker_container *ct);

/* The check of a due start of ct (its inspect raw), never while a plan runs
 * (the plan starts what it means to): reads the fence of the metadb and,
 * when the container's image is of a newer release than the fence's and
 * the metadb's and was created before the fence, stops it and logs why and
 * the ways on. Returns 1 when it stopped the container, else 0. */
int fence_watch_check(struct fence_watch *w, const struct agent_conf *c, struct docker *d,
                      const struct docker_container *ct, json_t *raw);

#endif
