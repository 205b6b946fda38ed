/* The retention of what rollbacks and undos leave behind: the kept
 * containers (<name>-rolledback-<time>), the safety snapshots
 * (snapshot_root/<job>) and the containers undos set aside
 * (<name>-undone-<time>) go oldest first beyond [retention]; what the latest
 * rollback's undo or an unfinished job needs never goes. */
#ifndef ODC_AGENT_PRUNE_H
#define ODC_AGENT_PRUNE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/agent.h"
#include "agent/docker.h"
#include "agent/journal.h"
#include "common/buf.h"

/* Most bytes of the per-item list: it travels as a RESULT's output_tail. */
#define PRUNE_LIST_MAX 15000

struct prune_report {
	size_t removed;               /* items removed (dry run: that would be) */
	size_t kept;                  /* items left, each with its reason */
	size_t failed;                /* removals tried that failed */
	size_t containers, snapshots; /* of removed: how many of each */
	size_t kept_containers, kept_snapshots;
	uint64_t freed_bytes; /* the removed snapshots' file bytes */
	char summary[512];    /* one sentence for people */
	struct buf list;      /* one line an item: what, whose, done or why not */
	bool list_cut;
};

/* Applies c's [retention] to the rollbacks j records (run phase), then to
 * its undos (the same rule; nothing needs their containers), per
 * container name, newest first: the leftovers of the newest `keep`
 * rollbacks stay unless older than max_age; those of the latest rollback
 * that can be undone (it kept a container and did not put it back) and of
 * every unfinished job (a rollback, or the rollback an undo walks back,
 * whose plan is still running or was interrupted) always stay. A container
 * goes only when it still has the name and id its rollback recorded and is
 * not running; a snapshot only when it is a directory right under the
 * configured snapshot_root (with the partial ones set aside next to it).
 * dry_run decides and lists, and removes nothing. Returns 0 when every
 * removal decided on was done, 1 when some failed (the list says which and
 * why; the rest went on), -1 when nothing could be decided (the journal;
 * message in err): then nothing was removed. The caller frees rep with
 * prune_report_free(). */
int prune_apply(const struct agent_conf *c, struct journal *j, struct docker *d, bool dry_run,
                struct prune_report *rep, char *err, size_t errlen);
void prune_report_free(struct prune_report *rep);

#endif
