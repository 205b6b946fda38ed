/* The clean restore of the metadb, object by object. What the backup
 * defines (its tables, their foreign keys, its views) is parsed before
 * anything is touched; then the database is emptied of every object it
 * holds, the tables are created without their foreign keys, the caller
 * loads the data (obloader), the foreign keys are added (which checks every
 * row against its parent: a backup that lost parent rows fails here) and
 * the views are created. Neither the order in which obloader loads tables
 * nor whether it turns foreign-key checks off matters: there is no foreign
 * key while it loads. */
#ifndef ODC_AGENT_RESTORE_H
#define ODC_AGENT_RESTORE_H

#include <stddef.h>

#include "agent/backup.h"
#include "agent/ddl.h"
#include "agent/metadb.h"
#include "common/buf.h"

struct restore_defs {
	struct ddl_table *tables; /* in the backup's (name) order */
	size_t n_tables;
	struct ddl_view *views;
	size_t n_views;
	size_t n_foreign_keys; /* over all tables */
};

/* Parse every schema file of b. Errors (naming the file): a schema file
 * that does not parse or is about another object, an object kind other than
 * TABLE and VIEW ("the backup holds a SEQUENCE s: ..."), a foreign key whose
 * parent table is not in the backup. On error *out is zeroed. */
int restore_defs_load(const struct backup_info *b, struct restore_defs *out, char *err,
                      size_t errlen);
void restore_defs_free(struct restore_defs *d);

/* Drop every object of the database (views, triggers, routines, tables,
 * sequences), with foreign-key checks off on this connection (a parent
 * table cannot be dropped otherwise), then check that no table or view is
 * left. *dropped counts the objects dropped. */
int restore_empty(struct metadb *m, size_t *dropped, char *err, size_t errlen);

/* Create every table of d without its foreign keys, then the table's other
 * statements (indexes added by ALTER TABLE or CREATE INDEX). */
int restore_create_tables(struct metadb *m, const struct restore_defs *d, char *err, size_t errlen);

/* Add every foreign key (checks on: each row is checked against its
 * parent), then create the views, in as many passes as views that use
 * views need. The error names the table or view and the server's answer. */
int restore_finish(struct metadb *m, const struct restore_defs *d, char *err, size_t errlen);

/* Adds to why each difference between the metadb's views and foreign keys
 * (per table) and d's. Returns 0 when equal, 1 when not, -1 when they could
 * not be listed (why says so). */
int restore_compare_objects(struct metadb *m, const struct restore_defs *d, struct msgbuf *why);

#endif
