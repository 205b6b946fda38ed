/* Ed25519 key pairs with libsodium, their text files, and their CURVE forms
 * (see keys.h). Secret material is kept in sodium_malloc'd memory or wiped. */
#include "common/keys.h"

#include "common/buf.h"
#include "common/file.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#define KEYS_PREFIX_LEN     (sizeof(KEYS_PUBLIC_PREFIX) - 1)
#define KEYS_SECRET_HEXLEN  (2 * KEYS_SECRET_LEN)
#define KEYS_PUBLIC_HEXLEN  (2 * KEYS_PUBLIC_LEN)
#define KEYS_SECRET_FILELEN (KEYS_PREFIX_LEN + KEYS_SECRET_HEXLEN + 1)
_Static_assert(sizeof(KEYS_PUBLIC_PREFIX) == sizeof(KEYS_SECRET_PREFIX),
               "KEYS_PREFIX_LEN serves both prefixes");
/* Key files are one short line; anything much longer is not a key file. */
#define KEYS_FILE_MAX 512

int
keys_init(void)
{
	/* sodium_init() is idempotent and thread-safe; 1 means "already done". */
	return sodium_init() < 0 ? -1 : 0;
}

static struct keys_pair *
keys_pair_alloc(char *err, size_t errlen)
{
	struct keys_pair *kp = NULL;

	if (keys_init() != 0) {
		snprintf(err, errlen, "libsodium failed to initialise");
		goto out;
	}
	kp = calloc(1, sizeof(*kp));
	if (kp == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	kp->sk = sodium_malloc(KEYS_SECRET_LEN);
	if (kp->sk == NULL) {
		snprintf(err, errlen, "cannot allocate guarded memory for a secret key");
		free(kp);
		kp = NULL;
	}
out:
	return kp;
}

struct keys_pair *
keys_generate(char *err, size_t errlen)
{
	struct keys_pair *kp = keys_pair_alloc(err, errlen);

	if (kp != NULL && crypto_sign_keypair(kp->pk, kp->sk) != 0) {
		snprintf(err, errlen, "key generation failed");
		keys_pair_free(kp);
		kp = NULL;
	}
	return kp;
}

void
keys_pair_free(struct keys_pair *kp)
{
	if (kp == NULL)
		return;
	/* sodium_free() wipes the guarded region before unmapping it. */
	sodium_free(kp->sk);
	sodium_memzero(kp, sizeof(*kp));
	free(kp);
}

static int
keys_write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Creates path exclusively; O_EXCL also refuses a symlink at path, dangling or
 * not, so a planted link cannot redirect where a secret is written. */
static int
keys_create(const char *path, mode_t mode, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);

	if (fd < 0) {
		if (errno == EEXIST)
			snprintf(err, errlen, "%s: already exists; refusing to overwrite", path);
		else
			snprintf(err, errlen, "%s: cannot create: %s", path, strerror(errno));
		return -1;
	}
	/* The umask may have removed bits the reader needs (e.g. 0644 -> 0600). */
	if (fchmod(fd, mode) != 0) {
		snprintf(err, errlen, "%s: chmod: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Makes a new directory entry durable. EINVAL means the file system does not
 * support syncing directories, which is not an error worth failing over. */
static int
keys_sync_dir(const char *path, char *err, size_t errlen)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	size_t n;
	int fd, ret = -1;

	if (slash == NULL) {
		memcpy(dir, ".", 2);
	} else {
		n = slash == path ? 1 : (size_t)(slash - path);
		if (n >= sizeof(dir)) {
			snprintf(err, errlen, "%s: path too long", path);
			goto out;
		}
		memcpy(dir, path, n);
		dir[n] = '\0';
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot open directory: %s", dir, strerror(errno));
		goto out;
	}
	if (fsync(fd) != 0 && errno != EINVAL) {
		snprintf(err, errlen, "%s: fsync: %s", dir, strerror(errno));
		close(fd);
		goto out;
	}
	close(fd);
	ret = 0;
out:
	return ret;
}

/* Writes text to a freshly created fd, syncs and closes it (fd is consumed). */
static int
keys_finish_file(int fd, const char *path, const char *text, size_t n, char *err, size_t errlen)
{
	int ret = -1;

	if (keys_write_all(fd, text, n) != 0) {
		snprintf(err, errlen, "%s: write: %s", path, strerror(errno));
		goto out;
	}
	if (fsync(fd) != 0) {
		snprintf(err, errlen, "%s: fsync: %s", path, strerror(errno));
		goto out;
	}
	ret = 0;
out:
	if (close(fd) != 0 && ret == 0) {
		snprintf(err, errlen, "%s: close: %s", path, strerror(errno));
		ret = -1;
	}
	return ret;
}

int
keys_save(const struct keys_pair *kp, const char *secret_path, const char *public_path, char *err,
          size_t errlen)
{
	char sec[KEYS_SECRET_FILELEN + 1];
	char pub[KEYS_PUBLIC_TEXT_SIZE + 1];
	size_t publen;
	int sfd = -1, pfd = -1, made_sec = 0, made_pub = 0, ret = -1;

	memcpy(sec, KEYS_SECRET_PREFIX, KEYS_PREFIX_LEN);
	if (hex_encode(kp->sk, KEYS_SECRET_LEN, sec + KEYS_PREFIX_LEN,
	               sizeof(sec) - KEYS_PREFIX_LEN) != 0) {
		snprintf(err, errlen, "internal error: key text does not fit");
		goto out;
	}
	sec[KEYS_SECRET_FILELEN - 1] = '\n';
	keys_format_public(kp->pk, pub, sizeof(pub));
	publen = strlen(pub);
	pub[publen++] = '\n';

	sfd = keys_create(secret_path, 0600, err, errlen);
	if (sfd < 0)
		goto out;
	made_sec = 1;
	pfd = keys_create(public_path, 0644, err, errlen);
	if (pfd < 0)
		goto out;
	made_pub = 1;

	ret = keys_finish_file(sfd, secret_path, sec, KEYS_SECRET_FILELEN, err, errlen);
	sfd = -1;
	if (ret == 0)
		ret = keys_finish_file(pfd, public_path, pub, publen, err, errlen);
	pfd = -1;
	if (ret == 0)
		ret = keys_sync_dir(secret_path, err, errlen);
	if (ret == 0)
		ret = keys_sync_dir(public_path, err, errlen);
out:
	if (sfd >= 0)
		close(sfd);
	if (pfd >= 0)
		close(pfd);
	if (ret != 0) {
		if (made_sec)
			unlink(secret_path);
		if (made_pub)
			unlink(public_path);
	}
	sodium_memzero(sec, sizeof(sec));
	return ret;
}

/* Reads a small key file into buf (NUL-terminated) after the checks that do not
 * depend on its contents. */
static int
keys_read_file(const char *path, int secret, char *buf, size_t bufsize, size_t *len, char *err,
               size_t errlen)
{
	struct stat st;
	int fd, ret = -1, rc;

	fd = file_open_regular(AT_FDCWD, path, NULL, secret ? FILE_NOFOLLOW : 0, &st, err, errlen);
	if (fd == FILE_E_OPEN && secret && errno == ELOOP)
		snprintf(err, errlen, "%s: secret key file is a symlink; refusing it", path);
	if (fd < 0)
		return -1;
	if (secret && (st.st_mode & 077) != 0) {
		snprintf(err, errlen,
		         "%s: secret key file is group/world accessible (mode %04o); chmod 600 it",
		         path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	if (!secret && (st.st_mode & 022) != 0) {
		snprintf(
		    err, errlen,
		    "%s: public key file is writable by group/others (mode %04o); chmod 644 it",
		    path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	/* Contents of bufsize-2 bytes are the most that fit; one more is too many. */
	rc = file_read_fd(fd, path, buf, bufsize - 2, len, err, errlen);
	if (rc == FILE_E_BIG)
		snprintf(err, errlen, "%s: too large for a key file", path);
	if (rc == FILE_OK)
		ret = 0;
out:
	close(fd);
	return ret;
}

struct keys_pair *
keys_load_secret(const char *path, char *err, size_t errlen)
{
	char text[KEYS_FILE_MAX];
	char hex[KEYS_SECRET_HEXLEN + 1];
	uint8_t pk[KEYS_PUBLIC_LEN];
	uint8_t sk[KEYS_SECRET_LEN];
	struct keys_pair *kp = NULL;
	size_t len = 0, n = 0;
	int ok = 0;

	kp = keys_pair_alloc(err, errlen);
	if (kp == NULL)
		goto out;
	if (keys_read_file(path, 1, text, sizeof(text), &len, err, errlen) != 0)
		goto out;
	/* Exactly the prefix, 128 hex digits, and an optional final newline. */
	if ((len != KEYS_SECRET_FILELEN - 1 &&
	     !(len == KEYS_SECRET_FILELEN && text[len - 1] == '\n')) ||
	    memcmp(text, KEYS_SECRET_PREFIX, KEYS_PREFIX_LEN) != 0) {
		snprintf(err, errlen,
		         "%s: not an odc secret key file (expected '" KEYS_SECRET_PREFIX
		         "' and %d hex digits)",
		         path, KEYS_SECRET_HEXLEN);
		goto out;
	}
	memcpy(hex, text + KEYS_PREFIX_LEN, KEYS_SECRET_HEXLEN);
	hex[KEYS_SECRET_HEXLEN] = '\0';
	if (hex_decode(hex, kp->sk, KEYS_SECRET_LEN, &n) != 0 || n != KEYS_SECRET_LEN) {
		snprintf(err, errlen, "%s: secret key file holds a non-hex digit", path);
		goto out;
	}
	/* libsodium's sk is seed || pk; a file whose halves disagree would sign
	 * with one identity while claiming another. */
	if (crypto_sign_seed_keypair(pk, sk, kp->sk) != 0 ||
	    sodium_memcmp(pk, kp->sk + 32, KEYS_PUBLIC_LEN) != 0) {
		snprintf(err, errlen,
		         "%s: secret key is corrupt (its public half does not match its seed)",
		         path);
		goto out;
	}
	memcpy(kp->pk, pk, KEYS_PUBLIC_LEN);
	ok = 1;
out:
	sodium_memzero(text, sizeof(text));
	sodium_memzero(hex, sizeof(hex));
	sodium_memzero(sk, sizeof(sk));
	if (!ok) {
		keys_pair_free(kp);
		kp = NULL;
	}
	return kp;
}

int
keys_parse_public(const char *text, uint8_t pk[KEYS_PUBLIC_LEN], char *err, size_t errlen)
{
	char hex[KEYS_PUBLIC_HEXLEN + 1];
	size_t len, n = 0;
	int ret = -1;

	if (strncmp(text, KEYS_PUBLIC_PREFIX, KEYS_PREFIX_LEN) == 0)
		text += KEYS_PREFIX_LEN;
	len = strlen(text);
	if (len == KEYS_PUBLIC_HEXLEN + 1 && text[len - 1] == '\n')
		len--;
	if (len != KEYS_PUBLIC_HEXLEN)
		goto bad;
	memcpy(hex, text, KEYS_PUBLIC_HEXLEN);
	hex[KEYS_PUBLIC_HEXLEN] = '\0';
	if (hex_decode(hex, pk, KEYS_PUBLIC_LEN, &n) != 0 || n != KEYS_PUBLIC_LEN)
		goto bad;
	ret = 0;
	goto out;
bad:
	snprintf(err, errlen,
	         "not an odc public key (expected '" KEYS_PUBLIC_PREFIX "' and %d hex digits)",
	         KEYS_PUBLIC_HEXLEN);
out:
	return ret;
}

int
keys_load_public(const char *path, uint8_t pk[KEYS_PUBLIC_LEN], char *err, size_t errlen)
{
	char text[KEYS_FILE_MAX];
	char why[160];
	size_t len = 0;

	if (keys_read_file(path, 0, text, sizeof(text), &len, err, errlen) != 0)
		return -1;
	if (strlen(text) != len || keys_parse_public(text, pk, why, sizeof(why)) != 0) {
		if (strlen(text) != len)
			snprintf(why, sizeof(why), "NUL byte in key file");
		snprintf(err, errlen, "%s: %s", path, why);
		return -1;
	}
	return 0;
}

void
keys_format_public(const uint8_t pk[KEYS_PUBLIC_LEN], char *out, size_t outlen)
{
	if (outlen < KEYS_PUBLIC_TEXT_SIZE) {
		if (outlen > 0)
			out[0] = '\0';
		return;
	}
	memcpy(out, KEYS_PUBLIC_PREFIX, KEYS_PREFIX_LEN);
	hex_encode(pk, KEYS_PUBLIC_LEN, out + KEYS_PREFIX_LEN, outlen - KEYS_PREFIX_LEN);
}

int
keys_fingerprint(const uint8_t pk[KEYS_PUBLIC_LEN], char *out, size_t outlen)
{
	uint8_t h[crypto_hash_sha256_BYTES];

	if (outlen < KEYS_FINGERPRINT_SIZE || keys_init() != 0) {
		if (outlen > 0)
			out[0] = '\0';
		return -1;
	}
	crypto_hash_sha256(h, pk, KEYS_PUBLIC_LEN);
	memcpy(out, "SHA256:", 7);
	return hex_encode(h, 16, out + 7, outlen - 7);
}

void
keys_print_new(FILE *f, const struct keys_pair *kp, const char *secret_path,
               const char *public_path)
{
	char text[KEYS_PUBLIC_TEXT_SIZE], fp[KEYS_FINGERPRINT_SIZE],
	    cfp[KEYS_FINGERPRINT_SIZE] = "?";

	keys_format_public(kp->pk, text, sizeof(text));
	keys_fingerprint(kp->pk, fp, sizeof(fp));
	(void)keys_curve_fingerprint(kp->pk, cfp, sizeof(cfp));
	fprintf(f, "%s\n%s\ncurve %s (how odcctl keys lists this key while it is pending)\n", text,
	        fp, cfp);
	fprintf(f, "wrote %s (secret, mode 0600) and %s\n", secret_path, public_path);
}

int
keys_curve_fingerprint(const uint8_t pk[KEYS_PUBLIC_LEN], char *out, size_t outlen)
{
	uint8_t c[KEYS_CURVE_LEN];

	if (keys_curve_public(pk, c) != 0) {
		if (outlen > 0)
			out[0] = '\0';
		return -1;
	}
	return keys_fingerprint(c, out, outlen);
}

int
keys_curve(const struct keys_pair *kp, uint8_t curve_pk[KEYS_CURVE_LEN],
           uint8_t curve_sk[KEYS_CURVE_LEN])
{
	if (keys_init() != 0 || crypto_sign_ed25519_pk_to_curve25519(curve_pk, kp->pk) != 0)
		return -1;
	if (crypto_sign_ed25519_sk_to_curve25519(curve_sk, kp->sk) != 0) {
		sodium_memzero(curve_sk, KEYS_CURVE_LEN);
		return -1;
	}
	return 0;
}

int
keys_curve_public(const uint8_t ed_pk[KEYS_PUBLIC_LEN], uint8_t curve_pk[KEYS_CURVE_LEN])
{
	if (keys_init() != 0)
		return -1;
	return crypto_sign_ed25519_pk_to_curve25519(curve_pk, ed_pk) == 0 ? 0 : -1;
}

int
keys_z85(const uint8_t key[32], char out[KEYS_Z85_SIZE])
{
	return zmq_z85_encode(out, key, 32) == NULL ? -1 : 0;
}

int
keys_sign(const struct keys_pair *kp, const uint8_t *msg, size_t n, uint8_t sig[KEYS_SIG_LEN])
{
	if (keys_init() != 0)
		return -1;
	return crypto_sign_detached(sig, NULL, msg, n, kp->sk) == 0 ? 0 : -1;
}

int
keys_verify(const uint8_t pk[KEYS_PUBLIC_LEN], const uint8_t *msg, size_t n,
            const uint8_t sig[KEYS_SIG_LEN])
{
	if (keys_init() != 0)
		return -1;
	return crypto_sign_verify_detached(sig, msg, n, pk) == 0 ? 0 : -1;
}
