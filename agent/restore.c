/* The clean restore of the metadb, object by object (see restore.h). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent/restore.h"
#include "common/buf.h"
#include "common/log.h"

#define SCHEMA_TEXT_MAX (1u << 20)

void
restore_defs_free(struct restore_defs *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < d->n_tables; i++)
		ddl_table_free(&d->tables[i]);
	for (size_t i = 0; i < d->n_views; i++)
		ddl_view_free(&d->views[i]);
	free(d->tables);
	free(d->views);
	memset(d, 0, sizeof(*d));
}

/* Case-insensitively: REFERENCES may spell a name otherwise than its schema
 * file does, and OceanBase's MySQL mode folds table names to lower case by
 * default (lower_case_table_names = 1). */
static bool
has_table(const struct restore_defs *d, const char *name)
{
	for (size_t i = 0; i < d->n_tables; i++)
		if (strcasecmp(d->tables[i].name, name) == 0)
			return true;
	return false;
}

int
restore_defs_load(const struct backup_info *b, struct restore_defs *out, char *err, size_t errlen)
{
	char *text = NULL, why[512];
	size_t len = 0, nviews = 0;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < b->n_objects; i++) {
		if (strcmp(b->objects[i].kind, "VIEW") != 0) {
			snprintf(err, errlen,
			         "the backup holds %s %s (%s/%s/%s-schema.sql): odc-fleet restores "
			         "tables and "
			         "views, the only objects ODC's metadb has",
			         b->objects[i].kind, b->objects[i].name, b->objdir,
			         b->objects[i].kind, b->objects[i].name);
			return -1;
		}
		nviews++;
	}
	out->tables = calloc(b->n_tables + 1, sizeof(*out->tables));
	out->views = calloc(nviews + 1, sizeof(*out->views));
	if (out->tables == NULL || out->views == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < b->n_tables; i++) {
		if (backup_schema_read(b, "TABLE", b->tables[i].name, &text, &len, err, errlen) !=
		    0)
			goto fail;
		if (ddl_table_parse(text, len, b->tables[i].name, &out->tables[out->n_tables], why,
		                    sizeof(why)) != 0) {
			snprintf(err, errlen, "%s/TABLE/%s-schema.sql: %s", b->objdir,
			         b->tables[i].name, why);
			goto fail;
		}
		out->n_foreign_keys += out->tables[out->n_tables].n_foreign_keys;
		out->n_tables++;
		free(text);
		text = NULL;
	}
	for (size_t i = 0; i < b->n_objects; i++) {
		if (backup_schema_read(b, "VIEW", b->objects[i].name, &text, &len, err, errlen) !=
		    0)
			goto fail;
		if (ddl_view_parse(text, len, b->objects[i].name, &out->views[out->n_views], why,
		                   sizeof(why)) != 0) {
			snprintf(err, errlen, "%s/VIEW/%s-schema.sql: %s", b->objdir,
			         b->objects[i].name, why);
			goto fail;
		}
		out->n_views++;
		free(text);
		text = NULL;
	}
	/* A foreign key whose parent is not in the backup: the backup lost a
	 * table (and the keys could never be added). */
	for (size_t i = 0; i < out->n_tables; i++)
		for (size_t k = 0; k < out->tables[i].n_foreign_keys; k++)
			if (!has_table(out, out->tables[i].fk_parents[k])) {
				snprintf(
				    err, errlen,
				    "table %s has a foreign key to table %s, which is not in the "
				    "backup "
				    "(%s/TABLE/%s-schema.sql is missing: the backup is incomplete)",
				    out->tables[i].name, out->tables[i].fk_parents[k], b->objdir,
				    out->tables[i].fk_parents[k]);
				goto fail;
			}
	return 0;
fail:
	free(text);
	restore_defs_free(out);
	return -1;
}

int
restore_empty(struct metadb *m, size_t *dropped, char *err, size_t errlen)
{
	/* Views first (they name tables), tables before sequences they use. */
	static const char *const order[] = {"VIEW",     "TRIGGER", "PROCEDURE",
	                                    "FUNCTION", "TABLE",   "SEQUENCE"};
	char **names = NULL;
	size_t n = 0;
	int rc = -1;

	*dropped = 0;
	if (metadb_foreign_key_checks(m, false, err, errlen) != 0)
		return -1;
	for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
		if (metadb_list(m, order[k], &names, &n, err, errlen) != 0)
			goto out;
		for (size_t i = 0; i < n; i++) {
			if (metadb_drop(m, order[k], names[i], err, errlen) != 0)
				goto out;
			(*dropped)++;
		}
		metadb_names_free(names, n);
		names = NULL;
		n = 0;
	}
	for (size_t k = 0; k < 2; k++) {
		const char *kind = k == 0 ? "TABLE" : "VIEW";
		if (metadb_list(m, kind, &names, &n, err, errlen) != 0)
			goto out;
		if (n > 0) {
			snprintf(err, errlen, "the metadb still holds %s %s after it was emptied",
			         kind, names[0]);
			goto out;
		}
		metadb_names_free(names, n);
		names = NULL;
		n = 0;
	}
	rc = 0;
out:
	metadb_names_free(names, n);
	if (metadb_foreign_key_checks(m, true, rc == 0 ? err : NULL, rc == 0 ? errlen : 0) != 0 &&
	    rc == 0)
		rc = -1;
	return rc;
}

int
restore_create_tables(struct metadb *m, const struct restore_defs *d, char *err, size_t errlen)
{
	char what[128];

	for (size_t i = 0; i < d->n_tables; i++) {
		const struct ddl_table *t = &d->tables[i];
		snprintf(what, sizeof(what), "creating table %s", t->name);
		if (metadb_exec(m, t->create, what, err, errlen) != 0)
			return -1;
		for (size_t k = 0; k < t->n_after; k++) {
			snprintf(what, sizeof(what), "statement %zu after creating table %s", k + 1,
			         t->name);
			if (metadb_exec(m, t->after[k], what, err, errlen) != 0)
				return -1;
		}
	}
	return 0;
}

int
restore_finish(struct metadb *m, const struct restore_defs *d, char *err, size_t errlen)
{
	char what[160];
	bool *made = NULL;
	size_t left = d->n_views;
	int rc = -1;

	if (metadb_foreign_key_checks(m, true, err, errlen) != 0)
		return -1;
	for (size_t i = 0; i < d->n_tables; i++) {
		const struct ddl_table *t = &d->tables[i];
		for (size_t k = 0; k < t->n_foreign_keys; k++) {
			snprintf(what, sizeof(what),
			         "adding foreign key %zu of table %s (to %s; every row of %s is "
			         "checked against %s)",
			         k + 1, t->name, t->fk_parents[k], t->name, t->fk_parents[k]);
			if (metadb_exec(m, t->foreign_keys[k], what, err, errlen) != 0)
				return -1;
		}
	}
	made = calloc(d->n_views + 1, sizeof(*made));
	if (made == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	/* A view may use another view: as many passes as make progress. */
	while (left > 0) {
		size_t before = left;
		for (size_t i = 0; i < d->n_views; i++) {
			if (made[i])
				continue;
			snprintf(what, sizeof(what), "creating view %s", d->views[i].name);
			if (metadb_exec(m, d->views[i].create, what, err, errlen) == 0) {
				made[i] = true;
				left--;
			}
		}
		if (left == before)
			goto out; /* err holds the last failure */
	}
	rc = 0;
out:
	free(made);
	return rc;
}

static int
count_in(char **names, size_t n, const char *name)
{
	int c = 0;

	for (size_t i = 0; i < n; i++)
		c += strcmp(names[i], name) == 0;
	return c;
}

int
restore_compare_objects(struct metadb *m, const struct restore_defs *d, struct msgbuf *why)
{
	char **views = NULL, **fks = NULL, err[512];
	size_t nv = 0, nf = 0;
	unsigned before = why->n;
	int rc;

	if (metadb_list(m, "VIEW", &views, &nv, err, sizeof(err)) != 0 ||
	    metadb_list(m, "FOREIGN KEY", &fks, &nf, err, sizeof(err)) != 0) {
		msg_add(why, "cannot list views and foreign keys: %s", err);
		rc = -1;
		goto out;
	}
	for (size_t i = 0; i < nv; i++) {
		bool found = false;
		for (size_t k = 0; k < d->n_views && !found; k++)
			found = strcmp(views[i], d->views[k].name) == 0;
		if (!found)
			msg_add(why, "view %s is in the metadb but not in the backup", views[i]);
	}
	for (size_t k = 0; k < d->n_views; k++)
		if (count_in(views, nv, d->views[k].name) == 0)
			msg_add(why, "view %s of the backup is missing", d->views[k].name);
	for (size_t i = 0; i < d->n_tables; i++) {
		int have = count_in(fks, nf, d->tables[i].name);
		if ((size_t)have != d->tables[i].n_foreign_keys)
			msg_add(why, "table %s has %d foreign keys, the backup %zu",
			        d->tables[i].name, have, d->tables[i].n_foreign_keys);
	}
	for (size_t i = 0; i < nf; i++)
		if ((i == 0 || strcmp(fks[i], fks[i - 1]) != 0) && !has_table(d, fks[i]))
			msg_add(why, "table %s has foreign keys but is not in the backup", fks[i]);
	rc = why->n > before;
out:
	metadb_names_free(views, nv);
	metadb_names_free(fks, nf);
	return rc;
}
