/* The odc-fleet manifest of a backup: written signed after a backup or a
 * safety snapshot was verified, checked before a restore (manifest.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "agent/manifest.h"
#include "common/buf.h"
#include "common/file.h"
#include "common/keys.h"

#define FORMAT       "odc-fleet-backup/1"
#define SIG_PREFIX   "odc-ed25519-sig:"
#define SIG_FILE_MAX 512
#define STATE_KEY    "backup-signing.key"
#define MAX_FILES    200000
#define DIFFS_SHOWN  3

struct mfile {
	char *path; /* relative to the backup */
	uint64_t bytes;
	char sha256[2 * crypto_hash_sha256_BYTES + 1];
};

struct mfiles {
	struct mfile *v;
	size_t n, cap;
};

static void
mfiles_free(struct mfiles *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->v[i].path);
	free(f->v);
	memset(f, 0, sizeof(*f));
}

static int
mfile_cmp(const void *a, const void *b)
{
	return strcmp(((const struct mfile *)a)->path, ((const struct mfile *)b)->path);
}

/* SHA-256 and size of an open regular file. */
static int
hash_fd(int fd, struct mfile *f, char *err, size_t errlen)
{
	crypto_hash_sha256_state st;
	unsigned char buf[65536], out[crypto_hash_sha256_BYTES];
	ssize_t n;

	crypto_hash_sha256_init(&st);
	f->bytes = 0;
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "%s: %s", f->path, strerror(errno));
			return -1;
		}
		crypto_hash_sha256_update(&st, buf, (unsigned long long)n);
		f->bytes += (uint64_t)n;
	}
	crypto_hash_sha256_final(&st, out);
	sodium_bin2hex(f->sha256, sizeof(f->sha256), out, sizeof(out));
	return 0;
}

/* Every regular file under rel (a folder of the backup, two levels: the
 * kind folders and their files), hashed; nothing followed through a link. */
static int
walk(int dfd, const char *rel, struct mfiles *out, int depth, char *err, size_t errlen)
{
	int fd = openat(dfd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d;
	struct dirent *de;
	int rc = -1;

	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", rel, strerror(errno));
		return -1;
	}
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		snprintf(err, errlen, "%s: %s", rel, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		char path[4096];
		struct stat st;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", rel, de->d_name) >= (int)sizeof(path)) {
			snprintf(err, errlen, "%s/%.40s...: path too long", rel, de->d_name);
			goto out;
		}
		if (fstatat(dfd, path, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (S_ISDIR(st.st_mode) && depth > 0) {
			if (walk(dfd, path, out, depth - 1, err, errlen) != 0)
				goto out;
			continue;
		}
		if (!S_ISREG(st.st_mode)) {
			snprintf(err, errlen, "%s: %s", path,
			         S_ISLNK(st.st_mode) ? "is a symbolic link (not followed)"
			                             : "not a regular file");
			goto out;
		}
		if (out->n >= MAX_FILES) {
			snprintf(err, errlen, "%s: more than %d files", rel, MAX_FILES);
			goto out;
		}
		if (out->n == out->cap) {
			size_t ncap = out->cap ? out->cap * 2 : 256;
			struct mfile *nv = realloc(out->v, ncap * sizeof(*nv));
			if (nv == NULL) {
				snprintf(err, errlen, "out of memory");
				goto out;
			}
			out->v = nv;
			out->cap = ncap;
		}
		struct mfile *f = &out->v[out->n];
		memset(f, 0, sizeof(*f));
		f->path = strdup(path);
		if (f->path == NULL) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		out->n++;
		int ffd = openat(dfd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (ffd < 0) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			goto out;
		}
		int hrc = hash_fd(ffd, f, err, errlen);
		close(ffd);
		if (hrc != 0)
			goto out;
	}
	rc = 0;
out:
	closedir(d);
	return rc;
}

/* The backup's object folder relative to dir ("data/<db>" or "data"). */
static int
objdir_rel(const char *dir, const struct backup_info *b, char *out, size_t outlen, char *err,
           size_t errlen)
{
	size_t n = strlen(dir);

	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (strncmp(b->objdir, dir, n) != 0 || b->objdir[n] != '/' || b->objdir[n + 1] == '\0') {
		snprintf(err, errlen, "%s: the backup's folders (%s) are not inside it", dir,
		         b->objdir);
		return -1;
	}
	snprintf(out, outlen, "%s", b->objdir + n + 1);
	return 0;
}

static int
list_files(const char *dir, const struct backup_info *b, struct mfiles *files, char *err,
           size_t errlen)
{
	char rel[4096];
	int dfd, rc;

	memset(files, 0, sizeof(*files));
	if (objdir_rel(dir, b, rel, sizeof(rel), err, errlen) != 0)
		return -1;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	rc = walk(dfd, rel, files, 1, err, errlen);
	close(dfd);
	if (rc != 0) {
		mfiles_free(files);
		return -1;
	}
	if (files->n > 0)
		qsort(files->v, files->n, sizeof(*files->v), mfile_cmp);
	return 0;
}

/* The agent's signing keys: [keys] secret_key, and STATE_DIR/STATE_KEY
 * (made when create and there is no configured key). Either may be NULL. */
static int
signing_keys(const struct agent_conf *c, bool create, struct keys_pair **configured,
             struct keys_pair **state, char *err, size_t errlen)
{
	char path[4200], pub[4300];

	*configured = *state = NULL;
	if (c->secret_key != NULL && *c->secret_key != '\0') {
		*configured = keys_load_secret(c->secret_key, err, errlen);
		if (*configured == NULL)
			return -1;
	}
	snprintf(path, sizeof(path), "%s/" STATE_KEY, c->state_dir);
	if (access(path, F_OK) == 0) {
		*state = keys_load_secret(path, err, errlen);
		if (*state == NULL)
			goto fail;
	} else if (create && *configured == NULL) {
		snprintf(pub, sizeof(pub), "%s.pub", path);
		*state = keys_generate(err, errlen);
		if (*state == NULL || keys_save(*state, path, pub, err, errlen) != 0)
			goto fail;
	}
	return 0;
fail:
	keys_pair_free(*configured);
	keys_pair_free(*state);
	*configured = *state = NULL;
	return -1;
}

static int
write_file(int dfd, const char *name, const char *data, size_t len, char *err, size_t errlen)
{
	char tmp[256];
	int fd;
	size_t off = 0;

	snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
	(void)unlinkat(dfd, tmp, 0);
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", name, strerror(errno));
		return -1;
	}
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "%s: %s", name,
			         n < 0 ? strerror(errno) : "short write");
			close(fd);
			(void)unlinkat(dfd, tmp, 0);
			return -1;
		}
		off += (size_t)n;
	}
	if (fsync(fd) != 0 || close(fd) != 0 || renameat(dfd, tmp, dfd, name) != 0) {
		snprintf(err, errlen, "%s: %s", name, strerror(errno));
		(void)unlinkat(dfd, tmp, 0);
		return -1;
	}
	return 0;
}

int
manifest_write(const struct agent_conf *c, const char *dir, const struct backup_info *b,
               const char *taken_at, char *err, size_t errlen)
{
	struct keys_pair *configured = NULL, *state = NULL, *kp;
	struct mfiles files = {0};
	json_t *root = NULL, *tables, *views, *arr;
	char *text = NULL, pubtext[KEYS_PUBLIC_TEXT_SIZE], sigtext[256];
	char sighex[2 * KEYS_SIG_LEN + 1];
	uint8_t sig[KEYS_SIG_LEN];
	int dfd = -1, rc = -1;

	if (signing_keys(c, true, &configured, &state, err, errlen) != 0)
		return -1;
	kp = configured != NULL ? configured : state;
	if (list_files(dir, b, &files, err, errlen) != 0)
		goto out;
	root = json_object();
	tables = json_object();
	views = json_array();
	arr = json_array();
	if (root == NULL || tables == NULL || views == NULL || arr == NULL) {
		json_decref(tables);
		json_decref(views);
		json_decref(arr);
		goto oom;
	}
	json_object_set_new(root, "tables", tables);
	json_object_set_new(root, "views", views);
	json_object_set_new(root, "files", arr);
	json_object_set_new(root, "format", json_string(FORMAT));
	json_object_set_new(root, "database", json_string(c->db_name));
	json_object_set_new(root, "host_id", json_string(c->host_id));
	json_object_set_new(root, "taken_at", json_string(taken_at));
	json_object_set_new(root, "version", json_string(b->version));
	for (size_t i = 0; i < b->n_tables; i++)
		json_object_set_new(tables, b->tables[i].name,
		                    json_integer((json_int_t)b->tables[i].rows));
	for (size_t i = 0; i < b->n_objects; i++)
		if (strcmp(b->objects[i].kind, "VIEW") == 0)
			json_array_append_new(views, json_string(b->objects[i].name));
	for (size_t i = 0; i < files.n; i++) {
		json_t *f = json_pack("{s:s, s:I, s:s}", "path", files.v[i].path, "bytes",
		                      (json_int_t)files.v[i].bytes, "sha256", files.v[i].sha256);
		if (f == NULL || json_array_append_new(arr, f) != 0)
			goto oom;
	}
	text = json_dumps(root, JSON_SORT_KEYS | JSON_INDENT(1));
	if (text == NULL)
		goto oom;
	if (keys_sign(kp, (const uint8_t *)text, strlen(text), sig) != 0) {
		snprintf(err, errlen, "signing the manifest failed");
		goto out;
	}
	keys_format_public(kp->pk, pubtext, sizeof(pubtext));
	sodium_bin2hex(sighex, sizeof(sighex), sig, sizeof(sig));
	snprintf(sigtext, sizeof(sigtext), "%s\n" SIG_PREFIX "%s\n", pubtext, sighex);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		goto out;
	}
	/* The signature last: a manifest without one is refused as damaged. */
	(void)unlinkat(dfd, MANIFEST_SIG, 0);
	if (write_file(dfd, MANIFEST_JSON, text, strlen(text), err, errlen) != 0 ||
	    write_file(dfd, MANIFEST_SIG, sigtext, strlen(sigtext), err, errlen) != 0 ||
	    fsync(dfd) != 0) {
		if (errno != 0 && err[0] == '\0')
			snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		goto out;
	}
	rc = 0;
	goto out;
oom:
	snprintf(err, errlen, "out of memory");
out:
	if (dfd >= 0)
		close(dfd);
	free(text);
	json_decref(root);
	mfiles_free(&files);
	keys_pair_free(configured);
	keys_pair_free(state);
	return rc;
}

/* Reads a small regular file of dfd; *out malloc'd, NUL-terminated. 1 when
 * it does not exist. */
static int
read_small(int dfd, const char *name, size_t max, char **out, size_t *len, char *err, size_t errlen)
{
	int rc = file_read_bounded(dfd, name, NULL, max, FILE_NOFOLLOW, out, len, err, errlen);

	if (rc == FILE_E_OPEN && errno == ENOENT)
		return 1;
	if (rc == FILE_E_BIG)
		snprintf(err, errlen, "%s: too large", name);
	else if (rc == FILE_E_READ)
		snprintf(err, errlen, "%s: short read", name);
	else if (rc == FILE_E_NOMEM)
		snprintf(err, errlen, "out of memory");
	return rc == FILE_OK ? 0 : -1;
}

static void
compare_files(struct msgbuf *d, json_t *mf, const struct mfiles *have)
{
	size_t i = 0, k = 0, n = json_array_size(mf);

	while (i < n || k < have->n) {
		json_t *e = i < n ? json_array_get(mf, i) : NULL;
		const char *path = e ? json_string_value(json_object_get(e, "path")) : NULL;
		int c;
		if (e != NULL && path == NULL) {
			msg_add(d, "the manifest's file %zu has no path", i + 1);
			i++;
			continue;
		}
		c = path == NULL ? 1 : k >= have->n ? -1 : strcmp(path, have->v[k].path);
		if (c < 0) {
			msg_add(d,
			        "%s: missing (the manifest lists it, %" JSON_INTEGER_FORMAT
			        " bytes)",
			        path, json_integer_value(json_object_get(e, "bytes")));
			i++;
		} else if (c > 0) {
			msg_add(d, "%s: not in the manifest (added after the backup was taken)",
			        have->v[k].path);
			k++;
		} else {
			json_int_t bytes = json_integer_value(json_object_get(e, "bytes"));
			const char *sum = json_string_value(json_object_get(e, "sha256"));
			if ((uint64_t)bytes != have->v[k].bytes)
				msg_add(d,
				        "%s: %llu bytes, the manifest says %" JSON_INTEGER_FORMAT,
				        path, (unsigned long long)have->v[k].bytes, bytes);
			else if (sum == NULL || strcmp(sum, have->v[k].sha256) != 0)
				msg_add(d,
				        "%s: its content differs from when the backup was taken "
				        "(SHA-256)",
				        path);
			i++;
			k++;
		}
	}
}

static void
compare_tables(struct msgbuf *d, json_t *mt, json_t *mv, const struct backup_info *b)
{
	const char *name;
	json_t *v;
	size_t i;

	json_object_foreach(mt, name, v)
	{
		const struct backup_table *t = backup_table_find(b, name);
		if (t == NULL)
			msg_add(d,
			        "table %s: missing (the manifest says %" JSON_INTEGER_FORMAT
			        " rows)",
			        name, json_integer_value(v));
		else if ((uint64_t)json_integer_value(v) != t->rows)
			msg_add(d, "table %s: %llu rows, the manifest says %" JSON_INTEGER_FORMAT,
			        name, (unsigned long long)t->rows, json_integer_value(v));
	}
	for (i = 0; i < b->n_tables; i++)
		if (json_object_get(mt, b->tables[i].name) == NULL)
			msg_add(d, "table %s: not in the manifest", b->tables[i].name);
	json_array_foreach(mv, i, v)
	{
		bool found = false;
		for (size_t k = 0; k < b->n_objects && !found; k++)
			found = strcmp(b->objects[k].kind, "VIEW") == 0 &&
			        json_string_value(v) != NULL &&
			        strcmp(b->objects[k].name, json_string_value(v)) == 0;
		if (!found)
			msg_add(d, "view %s: missing",
			        json_string_value(v) ? json_string_value(v) : "(bad name)");
	}
	for (i = 0; i < b->n_objects; i++) {
		bool found = false;
		if (strcmp(b->objects[i].kind, "VIEW") != 0) {
			msg_add(d, "%s %s: not in the manifest", b->objects[i].kind,
			        b->objects[i].name);
			continue;
		}
		for (size_t k = 0; k < json_array_size(mv) && !found; k++) {
			const char *s = json_string_value(json_array_get(mv, k));
			found = s != NULL && strcmp(s, b->objects[i].name) == 0;
		}
		if (!found)
			msg_add(d, "view %s: not in the manifest", b->objects[i].name);
	}
}

int
manifest_verify(const struct agent_conf *c, const char *dir, const struct backup_info *b,
                char *signer, size_t signerlen, char *err, size_t errlen)
{
	struct keys_pair *configured = NULL, *state = NULL;
	struct mfiles have = {0};
	char *text = NULL, *sigtext = NULL, *nl, e2[512];
	size_t len = 0, slen = 0;
	uint8_t pk[KEYS_PUBLIC_LEN], sig[KEYS_SIG_LEN];
	json_t *root = NULL;
	json_error_t je;
	struct msgbuf d;
	int dfd, r1, r2, rc = -1;
	bool trusted = false;
	const char *s;

	signer[0] = '\0';
	err[0] = '\0';
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	r1 = read_small(dfd, MANIFEST_JSON, MANIFEST_MAX, &text, &len, err, errlen);
	r2 =
	    r1 < 0 ? -1 : read_small(dfd, MANIFEST_SIG, SIG_FILE_MAX, &sigtext, &slen, err, errlen);
	close(dfd);
	if (r1 < 0 || r2 < 0)
		goto out;
	if (r1 == 1 && r2 == 1) {
		rc = 1;
		goto out;
	}
	if (r1 == 1 || r2 == 1) {
		snprintf(err, errlen, "%s without %s: the manifest is damaged",
		         r1 == 1 ? MANIFEST_SIG : MANIFEST_JSON,
		         r1 == 1 ? MANIFEST_JSON : MANIFEST_SIG);
		goto out;
	}
	/* The signature first: nothing of a manifest it does not cover is read. */
	nl = strchr(sigtext, '\n');
	if (nl == NULL || strncmp(nl + 1, SIG_PREFIX, strlen(SIG_PREFIX)) != 0) {
		snprintf(err, errlen, MANIFEST_SIG ": not a signature file");
		goto out;
	}
	*nl = '\0';
	s = nl + 1 + strlen(SIG_PREFIX);
	if (keys_parse_public(sigtext, pk, e2, sizeof(e2)) != 0 ||
	    sodium_hex2bin(sig, sizeof(sig), s, strcspn(s, "\n"), NULL, NULL, NULL) != 0 ||
	    strcspn(s, "\n") != 2 * KEYS_SIG_LEN) {
		snprintf(err, errlen, MANIFEST_SIG ": not a signature file");
		goto out;
	}
	keys_fingerprint(pk, signer, signerlen);
	if (keys_verify(pk, (const uint8_t *)text, len, sig) != 0) {
		snprintf(err, errlen,
		         MANIFEST_JSON ": its signature (by %s) does not match: the manifest was "
		                       "changed or damaged",
		         signer);
		goto out;
	}
	if (signing_keys(c, false, &configured, &state, e2, sizeof(e2)) == 0)
		trusted =
		    (configured != NULL && sodium_memcmp(configured->pk, pk, sizeof(pk)) == 0) ||
		    (state != NULL && sodium_memcmp(state->pk, pk, sizeof(pk)) == 0);
	for (size_t i = 0; i < c->n_backup_signers && !trusted; i++)
		trusted = sodium_memcmp(c->backup_signers[i], pk, sizeof(pk)) == 0;
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL || !json_is_object(root) ||
	    (s = json_string_value(json_object_get(root, "format"))) == NULL ||
	    strcmp(s, FORMAT) != 0 || !json_is_object(json_object_get(root, "tables")) ||
	    !json_is_array(json_object_get(root, "views")) ||
	    !json_is_array(json_object_get(root, "files"))) {
		snprintf(err, errlen, MANIFEST_JSON ": not an odc-fleet manifest (%s)", FORMAT);
		goto out;
	}
	s = json_string_value(json_object_get(root, "database"));
	if (s == NULL || strcmp(s, c->db_name) != 0) {
		snprintf(err, errlen, MANIFEST_JSON ": a backup of database %s, not %s",
		         s ? s : "(none)", c->db_name);
		goto out;
	}
	if (list_files(dir, b, &have, err, errlen) != 0)
		goto out;
	msg_init(&d, err, errlen, DIFFS_SHOWN);
	compare_files(&d, json_object_get(root, "files"), &have);
	compare_tables(&d, json_object_get(root, "tables"), json_object_get(root, "views"), b);
	s = json_string_value(json_object_get(root, "version"));
	if (s == NULL || strcmp(s, b->version) != 0)
		msg_add(&d, "version %s, the manifest says %s", b->version, s ? s : "(none)");
	msg_more(&d, "differences");
	if (d.n > 0)
		goto out;
	rc = trusted ? 0 : 2;
out:
	json_decref(root);
	mfiles_free(&have);
	free(text);
	free(sigtext);
	keys_pair_free(configured);
	keys_pair_free(state);
	return rc;
}
