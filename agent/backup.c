/* Inspecting an obdumper backup of the metadb without trusting it: the
 * layout (nested or flat), each object's files, each table's columns from
 * its DDL, the CSV dialect of the data files (found by reading them), row
 * counts and the ODC version from the migrate_schema_history data. Nothing
 * inside the backup is followed through a symbolic link and every read is
 * bounded. The CSV reader is in backup_csv.c, the names and the opening of
 * folders and files in backup_fs.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "agent/backup.h"
#include "agent/backup_int.h"
#include "agent/guard.h"
#include "agent/ddl.h"
#include "common/version.h"

#define HISTORY_TABLE  "migrate_schema_history"
#define OBJDIR_ENTRIES 1000 /* entries of data/<db> or data/ we look at */

/* ------------------------------------------------------------------ */
/* Layout */

static int
object_cmp(const void *a, const void *b)
{
	const struct backup_object *x = a, *y = b;
	int c = strcmp(x->kind, y->kind);

	return c != 0 ? c : strcmp(x->name, y->name);
}

/* Appends to out the folders that data/ does hold, to make "wrong
 * database" obvious; names that are not plain are shown as '?'. */
static void
describe_found(int datafd, char *out, size_t outlen)
{
	char **v = NULL;
	size_t n = 0, i, used, shown = 0;
	struct stat st;

	out[0] = '\0';
	if (datafd < 0 || backup_list_dir(datafd, &v, &n, 1000) != 0) {
		str_array_free(v, n);
		return;
	}
	snprintf(out, outlen, " (data/ holds:");
	for (i = 0; i < n && shown < 8; i++) {
		if (fstatat(datafd, v[i], &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode))
			continue;
		used = strlen(out);
		snprintf(out + used, outlen - used, " %s", backup_db_name_ok(v[i]) ? v[i] : "?");
		shown++;
	}
	used = strlen(out);
	snprintf(out + used, outlen - used, "%s)", shown == 0 ? " no folder" : i < n ? " ..." : "");
	str_array_free(v, n);
}

/* A MANIFEST.bin in dirfd: absent is fine, a link or not a regular file is
 * an error. */
static int
check_manifest(int dirfd, const char *label, bool *found, char *err, size_t errlen)
{
	struct stat st;

	if (fstatat(dirfd, "MANIFEST.bin", &st, AT_SYMLINK_NOFOLLOW) != 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", label, strerror(errno));
		return -1;
	}
	if (S_ISLNK(st.st_mode) || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: %s", label,
		         S_ISLNK(st.st_mode) ? "is a symbolic link (not followed)"
		                             : "not a regular file");
		return -1;
	}
	*found = true;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Reading the data files */

struct table_cols {
	char **cols;
	size_t ncols;
};

/* One data file of TABLE/. */
struct dfile {
	size_t file;  /* index in the folder's names */
	size_t table; /* index in the tables */
	uint64_t size;
	long long records;
	bool first_header; /* its first record is the column names */
};

/* The history table's columns, and the best version a reading found. */
struct history {
	size_t table, vcol, scol;
	char best[sizeof(((struct backup_info *)0)->version)];
};

/* One reading of every data file in one dialect. */
struct pass {
	char escape;
	char quote;  /* found (0: no quoted field seen) */
	bool failed; /* a fault of the data: another dialect may read it */
	bool fatal;  /* anything else: no point in another reading */
	size_t fail_file;
	unsigned long long fail_line;
	char msg[1536];
	struct history h;
};

/* The callback's view of one file. */
struct rows {
	const char *label;
	const char *table;
	const struct table_cols *tc;
	struct history *h; /* NULL unless this is the history table */
	unsigned long long rec;
	bool first_header;
	bool failed;
	unsigned long long fail_line;
	char *msg;
	size_t msglen;
};

static int
row_fail(struct rows *r, unsigned long long line)
{
	r->failed = true;
	r->fail_line = line;
	return 1;
}

static int
data_row(void *ctx, char **f, size_t n, unsigned long long line)
{
	struct rows *r = ctx;
	struct history *h = r->h;
	const char *v, *s;
	size_t i;

	r->rec++;
	if (n != r->tc->ncols) {
		snprintf(r->msg, r->msglen, "%s:%llu: %zu fields, table %s has %zu columns",
		         r->label, line, n, r->table, r->tc->ncols);
		return row_fail(r, line);
	}
	if (r->rec == 1) {
		for (i = 0; i < n; i++)
			if (f[i] == NULL || strcasecmp(f[i], r->tc->cols[i]) != 0)
				break;
		r->first_header = i == n;
		if (r->first_header)
			return 0;
	}
	if (h == NULL)
		return 0;
	s = f[h->scol];
	v = f[h->vcol];
	if (s == NULL || (strcmp(s, "1") != 0 && strcasecmp(s, "true") != 0))
		return 0;
	if (v == NULL || *v == '\0')
		return 0;
	if (strlen(v) >= sizeof(h->best)) {
		snprintf(r->msg, r->msglen, "%s:%llu: version longer than %zu bytes", r->label,
		         line, sizeof(h->best) - 1);
		return row_fail(r, line);
	}
	if (h->best[0] == '\0' || version_cmp(v, h->best) > 0)
		memcpy(h->best, v, strlen(v) + 1);
	return 0;
}

/* Reads every data file in ps->escape; the quote is found on the way. */
static void
read_pass(int tfd, const char *tpath, char **files, struct dfile *df, size_t ndf,
          const struct backup_table *tabs, const struct table_cols *tc, struct pass *ps)
{
	char label[4400];
	struct csv_opts o = {0, ps->escape, false};
	struct rows r;
	struct stat st;
	long long cnt;
	size_t i;
	int fd;

	ps->h.best[0] = '\0';
	for (i = 0; i < ndf; i++) {
		snprintf(label, sizeof(label), "%s/%s", tpath, files[df[i].file]);
		fd = backup_open_regular(tfd, files[df[i].file], label, &st, ps->msg,
		                         sizeof(ps->msg));
		if (fd < 0) {
			ps->fatal = true;
			return;
		}
		memset(&r, 0, sizeof(r));
		r.label = label;
		r.table = tabs[df[i].table].name;
		r.tc = &tc[df[i].table];
		r.h = df[i].table == ps->h.table ? &ps->h : NULL;
		r.msg = ps->msg;
		r.msglen = sizeof(ps->msg);
		cnt = backup_csv_run(fd, label, BACKUP_FIELD_MAX, &o, data_row, &r, &ps->fail_line,
		                     ps->msg, sizeof(ps->msg));
		close(fd);
		if (cnt == -2) {
			ps->fatal = true;
			return;
		}
		if (cnt < 0 || r.failed) {
			if (r.failed)
				ps->fail_line = r.fail_line;
			ps->failed = true;
			ps->fail_file = i;
			return;
		}
		df[i].size = (uint64_t)st.st_size;
		df[i].records = cnt;
		df[i].first_header = r.first_header;
	}
	ps->quote = o.quote;
}

/* The message when neither reading worked: the same fault, or the one
 * found later (the reading that got further is likelier right) with the
 * other's. */
static void
both_failed(const struct pass *a, const struct pass *b, char *err, size_t errlen)
{
	bool b_later;

	if (a->fail_file == b->fail_file && a->fail_line == b->fail_line &&
	    strcmp(a->msg, b->msg) == 0) {
		snprintf(err, errlen, "%s (read with escape \\ and with doubled quotes)", a->msg);
		return;
	}
	b_later = b->fail_file > a->fail_file ||
	          (b->fail_file == a->fail_file && b->fail_line > a->fail_line);
	if (b_later)
		snprintf(err, errlen, "%s (read with doubled quotes; with escape \\: %s)", b->msg,
		         a->msg);
	else
		snprintf(err, errlen, "%s (read with escape \\; with doubled quotes: %s)", a->msg,
		         b->msg);
}

/* ------------------------------------------------------------------ */
/* Objects other than tables */

struct objects {
	struct backup_object *v;
	size_t n, cap;
};

/* The kind folder `kind` (not TABLE): only <name>-schema.sql regular files;
 * each VIEW must parse. */
static int
scan_kind(int objfd, const char *objdir, const char *kind, struct objects *ob, char *err,
          size_t errlen)
{
	char path[4200], label[4500], why[512], **files = NULL;
	size_t nfiles = 0, i, nlen, text_len;
	struct backup_object *nv;
	struct ddl_view view;
	struct stat st;
	char *text;
	int kfd, vrc, rc = -1;

	snprintf(path, sizeof(path), "%s/%s", objdir, kind);
	kfd = backup_open_dir(objfd, kind);
	if (kfd < 0) {
		snprintf(err, errlen, "%s: %s", path,
		         errno == ELOOP ? "is a symbolic link (not followed)" : strerror(errno));
		return -1;
	}
	if (backup_list_dir(kfd, &files, &nfiles, BACKUP_MAX_OBJECTS + 1) != 0) {
		if (errno == E2BIG)
			snprintf(err, errlen, "%s: more than %d files", path, BACKUP_MAX_OBJECTS);
		else
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	for (i = 0; i < nfiles; i++) {
		snprintf(label, sizeof(label), "%s/%s", path, files[i]);
		if (fstatat(kfd, files[i], &st, AT_SYMLINK_NOFOLLOW) != 0) {
			snprintf(err, errlen, "%s: %s", label, strerror(errno));
			goto out;
		}
		if (S_ISLNK(st.st_mode)) {
			snprintf(err, errlen, "%s: is a symbolic link (not followed)", label);
			goto out;
		}
		switch (backup_classify(files[i], &nlen)) {
		case BACKUP_FILE_DATA:
			snprintf(err, errlen, "%s: a data file in %s/ (only TABLE/ holds data)",
			         label, kind);
			goto out;
		case BACKUP_FILE_UNKNOWN:
			snprintf(err, errlen, "%s: unknown file (expected <name>" SCHEMA_SUFFIX ")",
			         label);
			goto out;
		case BACKUP_FILE_SCHEMA:
			break;
		}
		if (!S_ISREG(st.st_mode)) {
			snprintf(err, errlen, "%s: not a regular file", label);
			goto out;
		}
		if (ob->n >= BACKUP_MAX_OBJECTS) {
			snprintf(err, errlen, "%s: more than %d objects that are not tables",
			         objdir, BACKUP_MAX_OBJECTS);
			goto out;
		}
		if (ob->n == ob->cap) {
			ob->cap = ob->cap != 0 ? ob->cap * 2 : 16;
			nv = realloc(ob->v, ob->cap * sizeof(*nv));
			if (nv == NULL) {
				snprintf(err, errlen, "%s: out of memory", path);
				goto out;
			}
			ob->v = nv;
		}
		memset(&ob->v[ob->n], 0, sizeof(ob->v[ob->n]));
		memcpy(ob->v[ob->n].kind, kind, strlen(kind));
		memcpy(ob->v[ob->n].name, files[i], nlen);
		ob->n++;
		/* A view that cannot be parsed now would stop a restore halfway. */
		if (strcmp(kind, "VIEW") == 0) {
			if (backup_read_schema(kfd, files[i], label, &text, &text_len, err,
			                       errlen) != 0)
				goto out;
			vrc = ddl_view_parse(text, text_len, ob->v[ob->n - 1].name, &view, why,
			                     sizeof(why));
			free(text);
			ddl_view_free(&view);
			if (vrc != 0) {
				snprintf(err, errlen, "%s: %s", label, why);
				goto out;
			}
		}
	}
	rc = 0;
out:
	str_array_free(files, nfiles);
	close(kfd);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Inspection */

/* The layout: the folder with the kind folders (fd and path) and whether it
 * is nested. */
static int
find_objdir(const char *dir, const char *db, int datafd, struct backup_info *out, int *objfd,
            char *err, size_t errlen)
{
	char found[600];
	int fd, tfd, e;
	bool nested;

	fd = backup_open_dir(datafd, db);
	if (fd >= 0) {
		nested = true;
	} else if (errno == ENOENT) {
		nested = false;
		fd = dup(datafd);
		if (fd < 0) {
			snprintf(err, errlen, "%s/data: %s", dir, strerror(errno));
			return -1;
		}
	} else {
		e = errno;
		snprintf(err, errlen, "%s/data/%s: %s", dir, db,
		         e == ELOOP ? "is a symbolic link (not followed)" : strerror(e));
		return -1;
	}
	/* Room is left for "/<KIND>/<name>-schema.sql" after it. */
	if ((size_t)snprintf(out->objdir, sizeof(out->objdir), "%s/data%s%s", dir,
	                     nested ? "/" : "", nested ? db : "") >= sizeof(out->objdir) - 128) {
		snprintf(err, errlen, "%s: path too long", dir);
		close(fd);
		return -1;
	}
	tfd = backup_open_dir(fd, "TABLE");
	if (tfd < 0) {
		e = errno;
		if (e == ENOENT && nested) {
			snprintf(
			    err, errlen,
			    "%s: not a backup of database %s: no data/%s/TABLE (data/%s exists: "
			    "nested layout data/<db>/<KIND>/)",
			    dir, db, db, db);
		} else if (e == ENOENT) {
			describe_found(datafd, found, sizeof(found));
			snprintf(
			    err, errlen,
			    "%s: not a backup of database %s: no data/%s/TABLE (nested layout) nor "
			    "data/TABLE (flat layout)%s",
			    dir, db, db, found);
		} else if (e == ELOOP) {
			snprintf(err, errlen, "%s/TABLE: is a symbolic link (not followed)",
			         out->objdir);
		} else {
			snprintf(err, errlen, "%s/TABLE: %s", out->objdir, strerror(e));
		}
		out->objdir[0] = '\0';
		close(fd);
		return -1;
	}
	close(tfd);
	*objfd = fd;
	return 0;
}

/* Whether file f (a data or schema file) is one of table's. */
static bool
ours(const char *f, const char *table)
{
	size_t n = strlen(table);

	return strncmp(f, table, n) == 0 && (strcmp(f + n, SCHEMA_SUFFIX) == 0 || f[n] == '.');
}

/* One inspection in progress: what backup_inspect's phases share. Every
 * pointer and descriptor is owned here until inspect_summarise hands the
 * tables and objects to the caller's backup_info; inspect_free releases
 * what is left. */
struct inspect {
	const char *dir, *db;
	struct backup_info *out;
	char *err;
	size_t errlen;
	int dfd, datafd, objfd, tfd; /* DIR, DIR/data, objdir, objdir/TABLE */
	bool manifest;
	struct objects ob; /* the objects that are not tables */
	char path[4200];   /* objdir/TABLE, for messages */
	char **files;      /* the names in TABLE/, sorted */
	size_t nfiles;
	enum backup_file_kind *fk; /* of each file */
	struct backup_table *tabs; /* one per schema file, sorted */
	struct table_cols *tc;     /* the columns of each table */
	size_t ntab;
	struct dfile *df; /* the data files */
	size_t ndata;
	struct pass *pa, *pb; /* the readings with '\' and with doubled quotes */
};

/* Opens DIR and DIR/data, checks the manifests and finds the folder with the
 * kind folders (ins->objfd, out->objdir). Returns 0 or -1 with err set. */
static int
inspect_open(struct inspect *ins)
{
	char label[4400];
	const char *dir = ins->dir, *db = ins->db;

	if (dir == NULL || *dir == '\0' || db == NULL || !backup_db_name_ok(db)) {
		snprintf(ins->err, ins->errlen,
		         "backup: a directory and a database name [A-Za-z0-9_$-]{1,%d} "
		         "are required",
		         BACKUP_NAME_MAX);
		return -1;
	}
	/* The directory we are given may itself be reached through a link (the
	 * operator chose it); nothing inside it is. */
	ins->dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ins->dfd < 0) {
		snprintf(ins->err, ins->errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	ins->datafd = backup_open_dir(ins->dfd, "data");
	if (ins->datafd < 0) {
		if (errno == ENOENT)
			snprintf(
			    ins->err, ins->errlen,
			    "%s: not a backup of database %s: no data/%s/TABLE (nested layout) "
			    "nor data/TABLE (flat layout): there is no data/ folder",
			    dir, db, db);
		else
			snprintf(ins->err, ins->errlen, "%s/data: %s", dir,
			         errno == ELOOP ? "is a symbolic link (not followed)"
			                        : strerror(errno));
		return -1;
	}
	/* MANIFEST.bin proves nothing (obdumper writes it first, 4.1.0 and
	 * later may not at all), but a strange one is not ignored. */
	snprintf(label, sizeof(label), "%s/data/MANIFEST.bin", dir);
	if (check_manifest(ins->datafd, label, &ins->manifest, ins->err, ins->errlen) != 0)
		return -1;
	snprintf(label, sizeof(label), "%s/MANIFEST.bin", dir);
	if (check_manifest(ins->dfd, label, &ins->manifest, ins->err, ins->errlen) != 0)
		return -1;
	return find_objdir(dir, db, ins->datafd, ins->out, &ins->objfd, ins->err, ins->errlen);
}

/* The kind folders beside TABLE/: each a plain folder with a kind's name;
 * those other than TABLE/ are scanned into ins->ob (sorted). Regular files
 * beside them are ignored. Returns 0 or -1 with err set. */
static int
inspect_kinds(struct inspect *ins)
{
	char label[4400], **kinds = NULL, *err = ins->err;
	const char *objdir = ins->out->objdir;
	size_t nkinds = 0, i, k, errlen = ins->errlen;
	struct stat st;
	int rc = -1;

	if (backup_list_dir(ins->objfd, &kinds, &nkinds, OBJDIR_ENTRIES) != 0) {
		snprintf(err, errlen, "%s: %s", objdir,
		         errno == E2BIG ? "more than 1000 entries" : strerror(errno));
		return -1;
	}
	for (i = 0, k = 0; i < nkinds; i++) {
		snprintf(label, sizeof(label), "%s/%s", objdir, kinds[i]);
		if (fstatat(ins->objfd, kinds[i], &st, AT_SYMLINK_NOFOLLOW) != 0) {
			snprintf(err, errlen, "%s: %s", label, strerror(errno));
			goto out;
		}
		if (S_ISLNK(st.st_mode)) {
			snprintf(err, errlen, "%s: is a symbolic link (not followed)", label);
			goto out;
		}
		if (S_ISREG(st.st_mode))
			continue; /* MANIFEST.bin, CHECKPOINT.bin in the flat layout */
		if (!S_ISDIR(st.st_mode)) {
			snprintf(err, errlen, "%s: not a regular file or a folder", label);
			goto out;
		}
		if (!backup_kind_name_ok(kinds[i])) {
			snprintf(
			    err, errlen,
			    "%s: not an object folder (expected an object kind such as TABLE or "
			    "VIEW: [A-Z_]{1,%d})",
			    label, KIND_MAX);
			goto out;
		}
		if (++k > BACKUP_MAX_KINDS) {
			snprintf(err, errlen, "%s: more than %d object folders", objdir,
			         BACKUP_MAX_KINDS);
			goto out;
		}
		if (strcmp(kinds[i], "TABLE") != 0 &&
		    scan_kind(ins->objfd, objdir, kinds[i], &ins->ob, err, errlen) != 0)
			goto out;
	}
	if (ins->ob.n > 0)
		qsort(ins->ob.v, ins->ob.n, sizeof(*ins->ob.v), object_cmp);
	rc = 0;
out:
	str_array_free(kinds, nkinds);
	return rc;
}

/* Opens and lists TABLE/ into ins->files, without the files of our own
 * tables. Returns 0 or -1 with err set. */
static int
inspect_list_tables(struct inspect *ins)
{
	size_t i;

	snprintf(ins->path, sizeof(ins->path), "%s/TABLE", ins->out->objdir);
	ins->tfd = backup_open_dir(ins->objfd, "TABLE");
	if (ins->tfd < 0) {
		snprintf(ins->err, ins->errlen, "%s: %s", ins->path, strerror(errno));
		return -1;
	}
	if (backup_list_dir(ins->tfd, &ins->files, &ins->nfiles,
	                    BACKUP_MAX_FILES + BACKUP_MAX_TABLES) != 0) {
		if (errno == E2BIG)
			snprintf(ins->err, ins->errlen, "%s: more than %d files", ins->path,
			         BACKUP_MAX_FILES + BACKUP_MAX_TABLES);
		else
			snprintf(ins->err, ins->errlen, "%s: %s", ins->path, strerror(errno));
		return -1;
	}
	/* The restore guard and the fence (guard.h) are in a dump taken while
	 * they stood (a safety snapshot, an operator's obdumper run after a
	 * rollback): empty tables of ours, not ODC's. Left out. */
	for (i = 0; i < ins->nfiles;) {
		const char *f = ins->files[i];
		if (ours(f, GUARD_TABLE) || ours(f, FENCE_TABLE)) {
			free(ins->files[i]);
			memmove(&ins->files[i], &ins->files[i + 1],
			        (ins->nfiles - i - 1) * sizeof(*ins->files));
			ins->nfiles--;
			continue;
		}
		i++;
	}
	return 0;
}

/* Classifies each file of TABLE/ into ins->fk and counts the tables and the
 * data files (ins->ntab, ins->ndata): every file must be a regular file we
 * know. Returns 0, -1 with err set, -2 when out of memory. */
static int
inspect_classify(struct inspect *ins)
{
	char label[4400];
	struct stat st;
	size_t i, tlen;

	ins->fk = calloc(ins->nfiles + 1, sizeof(*ins->fk));
	if (ins->fk == NULL)
		return -2;
	/* In name order, so the same backup always gets the same message. */
	for (i = 0; i < ins->nfiles; i++) {
		snprintf(label, sizeof(label), "%s/%s", ins->path, ins->files[i]);
		if (fstatat(ins->tfd, ins->files[i], &st, AT_SYMLINK_NOFOLLOW) != 0) {
			snprintf(ins->err, ins->errlen, "%s: %s", label, strerror(errno));
			return -1;
		}
		if (S_ISLNK(st.st_mode)) {
			snprintf(ins->err, ins->errlen, "%s: is a symbolic link (not followed)",
			         label);
			return -1;
		}
		ins->fk[i] = backup_classify(ins->files[i], &tlen);
		if (ins->fk[i] == BACKUP_FILE_UNKNOWN) {
			snprintf(ins->err, ins->errlen,
			         "%s: unknown file (expected <table>-schema.sql or "
			         "<table>[.N[.M]].csv)",
			         label);
			return -1;
		}
		if (!S_ISREG(st.st_mode)) {
			snprintf(ins->err, ins->errlen, "%s: not a regular file", label);
			return -1;
		}
		if (ins->fk[i] == BACKUP_FILE_SCHEMA)
			ins->ntab++;
		else
			ins->ndata++;
	}
	if (ins->ntab > BACKUP_MAX_TABLES || ins->ndata > BACKUP_MAX_FILES) {
		snprintf(ins->err, ins->errlen, "%s: more than %d tables or %d data files",
		         ins->path, BACKUP_MAX_TABLES, BACKUP_MAX_FILES);
		return -1;
	}
	return 0;
}

/* The table named name in ins->tabs (sorted), or NULL. */
static struct backup_table *
inspect_table(const struct inspect *ins, const char *name, size_t len)
{
	struct backup_table key;

	memset(&key, 0, sizeof(key));
	memcpy(key.name, name, len);
	return bsearch(&key, ins->tabs, ins->ntab, sizeof(*ins->tabs), backup_table_cmp);
}

/* The tables (one per schema file, sorted) and the table of each data file,
 * which must have a schema file; the history table must be among them.
 * Returns 0, -1 with err set, -2 when out of memory. */
static int
inspect_tables(struct inspect *ins)
{
	struct backup_table *t;
	size_t i, tlen;

	ins->tabs = calloc(ins->ntab + 1, sizeof(*ins->tabs));
	ins->tc = calloc(ins->ntab + 1, sizeof(*ins->tc));
	ins->df = calloc(ins->ndata + 1, sizeof(*ins->df));
	ins->pa = calloc(1, sizeof(*ins->pa));
	ins->pb = calloc(1, sizeof(*ins->pb));
	if (ins->tabs == NULL || ins->tc == NULL || ins->df == NULL || ins->pa == NULL ||
	    ins->pb == NULL)
		return -2;
	ins->ntab = 0;
	for (i = 0; i < ins->nfiles; i++) {
		if (ins->fk[i] != BACKUP_FILE_SCHEMA)
			continue;
		tlen = strlen(ins->files[i]) - strlen(SCHEMA_SUFFIX);
		memcpy(ins->tabs[ins->ntab].name, ins->files[i], tlen);
		ins->tabs[ins->ntab].name[tlen] = '\0';
		ins->ntab++;
	}
	qsort(ins->tabs, ins->ntab, sizeof(*ins->tabs), backup_table_cmp);
	ins->ndata = 0;
	for (i = 0; i < ins->nfiles; i++) {
		if (ins->fk[i] != BACKUP_FILE_DATA)
			continue;
		(void)backup_classify(ins->files[i], &tlen);
		t = inspect_table(ins, ins->files[i], tlen);
		if (t == NULL) {
			snprintf(ins->err, ins->errlen,
			         "%s/%s: data file without %.*s" SCHEMA_SUFFIX, ins->path,
			         ins->files[i], (int)tlen, ins->files[i]);
			return -1;
		}
		ins->df[ins->ndata].file = i;
		ins->df[ins->ndata].table = (size_t)(t - ins->tabs);
		ins->ndata++;
	}
	t = inspect_table(ins, HISTORY_TABLE, sizeof(HISTORY_TABLE));
	if (t == NULL) {
		snprintf(ins->err, ins->errlen,
		         "%s: not an ODC metadb backup: no " HISTORY_TABLE " table in %s", ins->dir,
		         ins->path);
		return -1;
	}
	ins->pa->h.table = (size_t)(t - ins->tabs);
	return 0;
}

/* Each table's columns from its schema file (ddl_table_parse), then the
 * history table's `version` and `success` columns. Returns 0 or -1 with
 * err set. */
static int
inspect_columns(struct inspect *ins)
{
	char label[4400], why[512], lbl2[BACKUP_NAME_MAX + 16], *text;
	const struct table_cols *h;
	struct ddl_table dt;
	size_t i, k, text_len;
	int prc;

	for (i = 0; i < ins->ntab; i++) {
		snprintf(lbl2, sizeof(lbl2), "%s" SCHEMA_SUFFIX, ins->tabs[i].name);
		snprintf(label, sizeof(label), "%s/%s", ins->path, lbl2);
		if (backup_read_schema(ins->tfd, lbl2, label, &text, &text_len, ins->err,
		                       ins->errlen) != 0)
			return -1;
		prc = ddl_table_parse(text, text_len, ins->tabs[i].name, &dt, why, sizeof(why));
		free(text);
		if (prc != 0) {
			snprintf(ins->err, ins->errlen, "%s: %s", label, why);
			return -1;
		}
		ins->tc[i].cols = dt.columns;
		ins->tc[i].ncols = dt.n_columns;
		dt.columns = NULL;
		dt.n_columns = 0;
		ddl_table_free(&dt);
	}
	h = &ins->tc[ins->pa->h.table];
	for (k = 0; k < h->ncols; k++) {
		if (strcasecmp(h->cols[k], "version") == 0)
			ins->pa->h.vcol = k + 1;
		if (strcasecmp(h->cols[k], "success") == 0)
			ins->pa->h.scol = k + 1;
	}
	if (ins->pa->h.vcol == 0 || ins->pa->h.scol == 0) {
		snprintf(ins->err, ins->errlen,
		         "%s/" HISTORY_TABLE SCHEMA_SUFFIX ": no `%s` column among %zu columns",
		         ins->path, ins->pa->h.vcol == 0 ? "version" : "success", h->ncols);
		return -1;
	}
	ins->pa->h.vcol--;
	ins->pa->h.scol--;
	ins->pb->h = ins->pa->h;
	return 0;
}

/* The dialect: every data file read with escape '\' first, every record the
 * right width; else with doubled quotes. Returns the reading that worked,
 * or NULL with err set. */
static const struct pass *
inspect_dialect(struct inspect *ins)
{
	struct pass *pa = ins->pa, *pb = ins->pb;

	pa->escape = '\\';
	read_pass(ins->tfd, ins->path, ins->files, ins->df, ins->ndata, ins->tabs, ins->tc, pa);
	if (pa->fatal) {
		snprintf(ins->err, ins->errlen, "%s", pa->msg);
		return NULL;
	}
	if (!pa->failed)
		return pa;
	pb->escape = 0;
	read_pass(ins->tfd, ins->path, ins->files, ins->df, ins->ndata, ins->tabs, ins->tc, pb);
	if (pb->fatal) {
		snprintf(ins->err, ins->errlen, "%s", pb->msg);
		return NULL;
	}
	if (pb->failed) {
		both_failed(pa, pb, ins->err, ins->errlen);
		return NULL;
	}
	return pb;
}

/* The summary into ins->out from the reading ok: a header line in every
 * data file that has a record or in none, the rows and bytes of each table,
 * the version. On success the tables and objects move to out. Returns 0 or
 * -1 with err set. */
static int
inspect_summarise(struct inspect *ins, const struct pass *ok)
{
	struct backup_info *out = ins->out;
	const struct dfile *df = ins->df;
	struct backup_table *t;
	size_t i, hdr_yes = SIZE_MAX, hdr_no = SIZE_MAX;

	for (i = 0; i < ins->ndata; i++) {
		if (df[i].records == 0)
			continue;
		if (df[i].first_header && hdr_yes == SIZE_MAX)
			hdr_yes = i;
		if (!df[i].first_header && hdr_no == SIZE_MAX)
			hdr_no = i;
	}
	if (hdr_yes != SIZE_MAX && hdr_no != SIZE_MAX) {
		snprintf(ins->err, ins->errlen,
		         "%s/%s starts with a header line (the column names) but %s/%s does not: "
		         "the data files must agree",
		         ins->path, ins->files[df[hdr_yes].file], ins->path,
		         ins->files[df[hdr_no].file]);
		return -1;
	}
	out->header = hdr_yes != SIZE_MAX;
	for (i = 0; i < ins->ndata; i++) {
		t = &ins->tabs[df[i].table];
		if (df[i].records > 0)
			t->rows += (uint64_t)df[i].records - (out->header ? 1 : 0);
		t->bytes += df[i].size;
		t->n_files++;
		out->bytes += df[i].size;
	}
	if (ok->h.best[0] == '\0') {
		snprintf(ins->err, ins->errlen,
		         "%s/" HISTORY_TABLE ": no successful migration recorded (no version)",
		         ins->path);
		return -1;
	}
	memcpy(out->version, ok->h.best, sizeof(out->version));
	out->quote = ok->quote != 0 ? ok->quote : '\'';
	out->escape = ok->escape;
	out->manifest = ins->manifest;
	out->tables = ins->tabs;
	out->n_tables = ins->ntab;
	out->objects = ins->ob.v;
	out->n_objects = ins->ob.n;
	ins->tabs = NULL;
	ins->ob.v = NULL;
	return 0;
}

/* Releases what ins still owns; NULL members and -1 descriptors are
 * fine. */
static void
inspect_free(struct inspect *ins)
{
	size_t i;

	if (ins->tc != NULL)
		for (i = 0; i < ins->ntab; i++)
			str_array_free(ins->tc[i].cols, ins->tc[i].ncols);
	free(ins->tc);
	free(ins->df);
	free(ins->pa);
	free(ins->pb);
	free(ins->ob.v);
	free(ins->tabs);
	free(ins->fk);
	str_array_free(ins->files, ins->nfiles);
	if (ins->tfd >= 0)
		close(ins->tfd);
	if (ins->objfd >= 0)
		close(ins->objfd);
	if (ins->datafd >= 0)
		close(ins->datafd);
	if (ins->dfd >= 0)
		close(ins->dfd);
}

/* The phases, in order: the layout (inspect_open, inspect_kinds), TABLE/'s
 * files (inspect_list_tables, inspect_classify), the tables and their
 * columns (inspect_tables, inspect_columns), the data (inspect_dialect),
 * the summary (inspect_summarise). */
int
backup_inspect(const char *dir, const char *db, struct backup_info *out, char *err, size_t errlen)
{
	struct inspect ins;
	const struct pass *ok;
	int rc = -1, prc;

	memset(out, 0, sizeof(*out));
	memset(&ins, 0, sizeof(ins));
	ins.dir = dir;
	ins.db = db;
	ins.out = out;
	ins.err = err;
	ins.errlen = errlen;
	ins.dfd = ins.datafd = ins.objfd = ins.tfd = -1;
	if (inspect_open(&ins) != 0 || inspect_kinds(&ins) != 0 || inspect_list_tables(&ins) != 0)
		goto out;
	prc = inspect_classify(&ins);
	if (prc == 0)
		prc = inspect_tables(&ins);
	if (prc == -2)
		snprintf(err, errlen, "%s: out of memory", ins.path);
	if (prc != 0 || inspect_columns(&ins) != 0)
		goto out;
	ok = inspect_dialect(&ins);
	if (ok == NULL || inspect_summarise(&ins, ok) != 0)
		goto out;
	rc = 0;
out:
	if (rc != 0)
		memset(out, 0, sizeof(*out));
	inspect_free(&ins);
	return rc;
}

void
backup_info_free(struct backup_info *b)
{
	if (b == NULL)
		return;
	free(b->tables);
	free(b->objects);
	memset(b, 0, sizeof(*b));
}

const struct backup_table *
backup_table_find(const struct backup_info *b, const char *name)
{
	struct backup_table key;
	size_t len;

	if (b == NULL || name == NULL || b->tables == NULL)
		return NULL;
	len = strlen(name);
	if (len > BACKUP_NAME_MAX)
		return NULL;
	memset(&key, 0, sizeof(key));
	memcpy(key.name, name, len);
	return bsearch(&key, b->tables, b->n_tables, sizeof(*b->tables), backup_table_cmp);
}
