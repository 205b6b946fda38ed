/* A durable replay store for proto/replay.h backed by SQLite, so that a
 * restarted agent still refuses a DISPATCH it accepted before. */
#ifndef ODC_COMMON_REPLAY_SQLITE_H
#define ODC_COMMON_REPLAY_SQLITE_H

#include <stddef.h>

#include "proto/replay.h"

/* Open (creating if needed) the nonce database at path and attach it to g.
 * Every accepted nonce is committed with synchronous=FULL before insert
 * returns. Returns 0, or -1 with a message in err. Close with replay_close(). */
int replay_sqlite_open(struct replay_guard *g, const char *path, char *err, size_t errlen);

#endif
