/* libFuzzer harness for backup_inspect(), the reader of an obdumper backup
 * directory: what it makes of the files' contents together (the columns of
 * each table from its schema file, the dialect tried with '\' then with
 * doubled quotes, a header line in every file or none, the highest
 * successful migrate_schema_history version). The CSV reader and the DDL
 * parser alone have their own harnesses (fuzz_csv, fuzz_ddl); this one
 * writes the few files of one backup into a directory of its own, made once
 * per process under FUZZ_TMPDIR (run.sh: build-fuzz/tmp), else TMPDIR, else
 * /tmp, and removed at exit, and reads it.
 *
 * Input: a flag byte, then the files' contents separated by "\n%%\n", in
 * this order (a missing part: no such file; an empty one: an empty file):
 *   0 TABLE/migrate_schema_history-schema.sql   1 .. .1.0.csv   2 .. .1.1.csv
 *   3 TABLE/iam_user-schema.sql                 4 iam_user.1.0.csv
 *   5 VIEW/list_view-schema.sql
 * Flags: bit 0 the flat layout (data/TABLE, else data/odc_metadb/TABLE),
 * bit 1 a MANIFEST.bin in data/.
 *
 * Invariants: a refusal names the backup's path and leaves *out zeroed. A
 * backup read must agree with the files read again on their own in the
 * dialect it reports (backup_csv_read): each table's rows are the records
 * (header excluded), its bytes the files' sizes, rows never more than bytes;
 * the version is the highest (version_cmp) non-empty version of a row whose
 * success is 1 or true, in 1..32 bytes; the quote, the escape, the manifest
 * flag, the objdir and the objects are what the files say; the schema file
 * reads back as written. FUZZ_VERBOSE=1 in the environment prints what
 * became of each input. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/backup.h"
#include "agent/ddl.h"
#include "common/buf.h"
#include "common/version.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DB      "odc_metadb"
#define HISTORY "migrate_schema_history"
#define SEP     "\n%%\n"
#define NPARTS  6

static const char *const part_file[NPARTS] = {
    "TABLE/" HISTORY "-schema.sql", "TABLE/" HISTORY ".1.0.csv", "TABLE/" HISTORY ".1.1.csv",
    "TABLE/iam_user-schema.sql",    "TABLE/iam_user.1.0.csv",    "VIEW/list_view-schema.sql",
};

static char root[256]; /* the backup directory */

static void
fail(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_backup: %s%s%s\n", what, detail != NULL ? ": " : "",
	        detail != NULL ? detail : "");
	abort();
}

static void
rm_tree(void)
{
	static const char *const dirs[] = {"data/" DB "/TABLE", "data/" DB "/VIEW", ("data/" DB),
	                                   "data/TABLE",        "data/VIEW",        "data"};
	char p[512];
	size_t i, d;

	for (d = 0; d < 2; d++)
		for (i = 0; i < NPARTS; i++) {
			snprintf(p, sizeof(p), "%s/data/%s%s", root, d ? DB "/" : "", part_file[i]);
			(void)unlink(p);
		}
	snprintf(p, sizeof(p), "%s/data/MANIFEST.bin", root);
	(void)unlink(p);
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", root, dirs[i]);
		if (rmdir(p) != 0 && errno != ENOENT)
			fail("cannot empty the backup directory", p);
	}
}

static void
put(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	const char *c = p;
	ssize_t w;

	if (fd < 0)
		fail("cannot write", path);
	while (n > 0) {
		w = write(fd, c, n);
		if (w <= 0)
			fail("cannot write", path);
		c += w;
		n -= (size_t)w;
	}
	close(fd);
}

static void
mkdir_or_die(const char *p)
{
	if (mkdir(p, 0700) != 0 && errno != EEXIST)
		fail("cannot make", p);
}

static void
remove_root(void)
{
	rm_tree();
	(void)rmdir(root);
}

static void
setup_root(void)
{
	const char *base = getenv("FUZZ_TMPDIR");

	if (root[0] != '\0')
		return;
	if (base == NULL)
		base = getenv("TMPDIR");
	snprintf(root, sizeof(root), "%s/fuzz_backup.XXXXXX", base != NULL ? base : "/tmp");
	if (mkdtemp(root) == NULL)
		fail("mkdtemp", root);
	atexit(remove_root);
}

/* The backup's one table: its columns and its files' records. */
struct table_check {
	const char *name;
	char **cols;
	size_t ncols;
	long vcol, scol; /* the history's version and success columns, or -1 */
	char best[64];
};

static int
on_row(void *ctx, char **f, size_t n)
{
	struct table_check *t = ctx;
	const char *v, *s;

	if (n != t->ncols)
		fail("a record of another width than its table read back", t->name);
	if (t->vcol < 0)
		return 0;
	v = f[t->vcol];
	s = f[t->scol];
	if (s == NULL || (strcmp(s, "1") != 0 && strcasecmp(s, "true") != 0) || v == NULL ||
	    *v == '\0')
		return 0;
	if (strlen(v) >= sizeof(t->best))
		fail("a successful version too long, yet the backup was read", v);
	if (t->best[0] == '\0' || version_cmp(v, t->best) > 0)
		snprintf(t->best, sizeof(t->best), "%s", v);
	return 0;
}

/* Columns of a schema file as written (it parsed for backup_inspect). */
static void
table_columns(const uint8_t *text, size_t len, struct table_check *t)
{
	struct ddl_table dt;
	char err[256];
	size_t i;

	if (ddl_table_parse((const char *)text, len, t->name, &dt, err, sizeof(err)) != 0)
		fail("a schema file of a backup read does not parse", err);
	t->cols = dt.columns;
	t->ncols = dt.n_columns;
	dt.columns = NULL;
	dt.n_columns = 0;
	ddl_table_free(&dt);
	t->vcol = t->scol = -1;
	if (strcmp(t->name, HISTORY) != 0)
		return;
	for (i = 0; i < t->ncols; i++) {
		if (strcasecmp(t->cols[i], "version") == 0)
			t->vcol = (long)i;
		if (strcasecmp(t->cols[i], "success") == 0)
			t->scol = (long)i;
	}
	if (t->vcol < 0 || t->scol < 0)
		fail("a history table without version or success, yet the backup was read", NULL);
}

static void
check_table(const struct backup_info *b, const char *objdir, struct table_check *t,
            const uint8_t *schema, size_t schema_len, const int *files, size_t nfiles,
            const size_t *sizes)
{
	const struct backup_table *bt = backup_table_find(b, t->name);
	struct backup_dialect d = {b->quote, b->escape, b->header};
	uint64_t rows = 0, bytes = 0;
	char path[512], err[512];
	size_t i, n = 0;
	long long cnt;
	char *text = NULL;
	size_t len = 0;

	if (bt == NULL)
		fail("a table with a schema file is missing", t->name);
	table_columns(schema, schema_len, t);
	for (i = 0; i < nfiles; i++) {
		snprintf(path, sizeof(path), "%s/%s", objdir, part_file[files[i]]);
		err[0] = '\0';
		cnt = backup_csv_read(path, &d, BACKUP_FIELD_MAX, on_row, t, err, sizeof(err));
		if (cnt < 0)
			fail("a data file of a backup read does not read in its dialect", err);
		rows += (uint64_t)cnt;
		bytes += sizes[files[i]];
		n++;
	}
	if (bt->rows != rows || bt->bytes != bytes || bt->n_files != n)
		fail("a table's rows, bytes or files differ from its files read again", t->name);
	if (bt->rows > bt->bytes)
		fail("more rows than bytes", t->name);
	if (backup_schema_read(b, "TABLE", t->name, &text, &len, err, sizeof(err)) != 0)
		fail("the schema file does not read back", err);
	if (len != schema_len || memcmp(text, schema, len) != 0)
		fail("the schema file reads back otherwise", t->name);
	free(text);
	str_array_free(t->cols, t->ncols);
	t->cols = NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *part[NPARTS], *p, *end, *sep;
	size_t len[NPARTS], sizes[NPARTS] = {0}, nparts = 0, i;
	bool flat, manifest;
	char objdir[512], path[600], err[1024];
	struct backup_info b, zero;
	int rc;

	if (size < 1)
		return 0;
	setup_root();
	flat = data[0] & 1;
	manifest = (data[0] & 2) != 0;
	p = data + 1;
	end = data + size;
	while (nparts < NPARTS) {
		sep = memmem(p, (size_t)(end - p), SEP, sizeof(SEP) - 1);
		part[nparts] = p;
		len[nparts] = sep != NULL ? (size_t)(sep - p) : (size_t)(end - p);
		nparts++;
		if (sep == NULL)
			break;
		p = sep + sizeof(SEP) - 1;
	}

	rm_tree();
	snprintf(objdir, sizeof(objdir), "%s/data%s", root, flat ? "" : "/" DB);
	snprintf(path, sizeof(path), "%s/data", root);
	mkdir_or_die(path);
	mkdir_or_die(objdir);
	snprintf(path, sizeof(path), "%s/TABLE", objdir);
	mkdir_or_die(path);
	if (manifest) {
		snprintf(path, sizeof(path), "%s/data/MANIFEST.bin", root);
		put(path, "\1\2", 2);
	}
	for (i = 0; i < nparts; i++) {
		if (i == 5) {
			snprintf(path, sizeof(path), "%s/VIEW", objdir);
			mkdir_or_die(path);
		}
		snprintf(path, sizeof(path), "%s/%s", objdir, part_file[i]);
		put(path, part[i], len[i]);
		sizes[i] = len[i];
	}

	memset(err, 0, sizeof(err));
	memset(&b, 0x55, sizeof(b));
	rc = backup_inspect(root, DB, &b, err, sizeof(err));
	/* FUZZ_VERBOSE=1: what became of each input (to see the seeds read). */
	if (getenv("FUZZ_VERBOSE") != NULL)
		fprintf(stderr, "fuzz_backup: %s%s\n",
		        rc == 0 ? "read, version " : "refused: ", rc == 0 ? b.version : err);
	if (rc != 0) {
		memset(&zero, 0, sizeof(zero));
		if (rc != -1 || memcmp(&b, &zero, sizeof(b)) != 0)
			fail("a refusal left a result behind", err);
		if (strncmp(err, root, strlen(root)) != 0)
			fail("a refusal that does not name the backup's path", err);
		backup_info_free(&b);
		return 0;
	}

	/* Read: everything it says must be what the files say. */
	if (strcmp(b.objdir, objdir) != 0)
		fail("objdir is not where the tables are", b.objdir);
	if (b.manifest != manifest)
		fail("manifest flag differs from the MANIFEST.bin written", NULL);
	if ((b.quote != '\'' && b.quote != '"') || (b.escape != '\\' && b.escape != 0))
		fail("a dialect that is none of the two", NULL);
	if (strnlen(b.version, sizeof(b.version)) == 0 ||
	    strnlen(b.version, sizeof(b.version)) >= sizeof(b.version))
		fail("version empty or not NUL-terminated", NULL);
	if (b.n_tables != (nparts > 3 ? 2u : 1u))
		fail("a table count other than the schema files'", NULL);
	if (b.n_objects != (nparts > 5 ? 1u : 0u) ||
	    (b.n_objects == 1 && (strcmp(b.objects[0].kind, "VIEW") != 0 ||
	                          strcmp(b.objects[0].name, "list_view") != 0)))
		fail("objects other than the VIEW written", NULL);
	{
		struct table_check h = {.name = HISTORY}, u = {.name = "iam_user"};
		static const int hfiles[] = {1, 2}, ufiles[] = {4};

		check_table(&b, objdir, &h, part[0], len[0], hfiles, nparts > 2 ? 2 : nparts - 1,
		            sizes);
		if (strcmp(h.best, b.version) != 0)
			fail("the version is not the highest successful one of the files",
			     b.version);
		if (nparts > 3)
			check_table(&b, objdir, &u, part[3], len[3], ufiles, nparts > 4 ? 1 : 0,
			            sizes);
	}
	if (b.bytes != (uint64_t)sizes[1] * (nparts > 1) + (uint64_t)sizes[2] * (nparts > 2) +
	                   (uint64_t)sizes[4] * (nparts > 4))
		fail("bytes other than the data files'", NULL);
	backup_info_free(&b);
	return 0;
}
