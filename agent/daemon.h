/* odc-agent's daemon mode: the link to the coordinator (PROTOCOL.md). */
#ifndef ODC_AGENT_DAEMON_H
#define ODC_AGENT_DAEMON_H

#include <stddef.h>

#include "agent/agent.h"

/* The keys daemon mode needs beyond local mode ([keys] secret_key, [trust]
 * operators and coordinators, [coordinator] endpoint and public_key):
 * 0, or -1 with "file: section.key: required for daemon mode". */
int daemon_check_conf(const struct agent_conf *c, char *err, size_t errlen);

/* Run until SIGTERM/SIGINT. Returns 0 on a clean stop, -1 with a message
 * when it cannot start (keys, journal, socket). */
int daemon_run(const struct agent_conf *c, char *err, size_t errlen);

#endif
