/* odc-agent's daemon mode: the link to the coordinator (PROTOCOL.md). */
#ifndef ODC_AGENT_DAEMON_H
#define ODC_AGENT_DAEMON_H

#include <stddef.h>

#include "agent/agent.h"

/* Run until SIGTERM/SIGINT; c has passed agent_conf_check(c,
 * AGENT_CHECK_DAEMON). Returns 0 on a clean stop, -1 with a message
 * when it cannot start (keys, journal, socket). */
int daemon_run(const struct agent_conf *c, char *err, size_t errlen);

#endif
