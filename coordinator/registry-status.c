/* A host's status as the registry shows it, read from the host's fields
 * alone: below the registry (registry.c) so that the deployments (deploy.c),
 * which the registry feeds, can show their nodes' status too. */
#include <stdbool.h>

#include "coordinator/coord.h"

bool
registry_online(const struct host *h)
{
	return !h->revoked && h->status == HOST_ONLINE && h->rid_len > 0;
}

const char *
registry_status_name(const struct host *h)
{
	if (h->revoked)
		return "revoked";
	switch (h->status) {
	case HOST_ONLINE:
		return "online";
	case HOST_LOST:
		return "lost";
	default:
		return "never";
	}
}
