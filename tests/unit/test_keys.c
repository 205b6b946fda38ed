/* Unit tests for common/keys: key files, their permission checks, signatures
 * and the CURVE (X25519, Z85) forms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "common/buf.h"
#include "common/keys.h"

static char tmpdir[64];

static int
setup_dir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/odc-test-keys-XXXXXX");
	if (mkdtemp(tmpdir) == NULL || keys_init() != 0)
		return -1;
	return 0;
}

static int
teardown_dir(void **state)
{
	char path[512];
	struct dirent *de;
	DIR *d;

	(void)state;
	d = opendir(tmpdir);
	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", tmpdir, de->d_name);
		if (unlink(path) != 0)
			rmdir(path);
	}
	closedir(d);
	return rmdir(tmpdir);
}

static void
tmp_path(char *out, size_t outlen, const char *name)
{
	snprintf(out, outlen, "%s/%s", tmpdir, name);
}

static void
write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static char *
read_file(const char *path)
{
	static char text[1024];
	ssize_t n;
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	n = read(fd, text, sizeof(text) - 1);
	assert_true(n >= 0);
	text[n] = '\0';
	close(fd);
	return text;
}

/* Generates a pair and saves it as <name>.sec / <name>.pub. */
static struct keys_pair *
make_saved(const char *name, char *sec, char *pub, size_t len)
{
	char err[256], file[64];
	struct keys_pair *kp = keys_generate(err, sizeof(err));

	assert_non_null(kp);
	snprintf(file, sizeof(file), "%s.sec", name);
	tmp_path(sec, len, file);
	snprintf(file, sizeof(file), "%s.pub", name);
	tmp_path(pub, len, file);
	assert_int_equal(keys_save(kp, sec, pub, err, sizeof(err)), 0);
	return kp;
}

static void
test_save_and_load_round_trip(void **state)
{
	char sec[256], pub[256], err[256], want[256], hex[65];
	struct keys_pair *kp, *back;
	uint8_t pk[KEYS_PUBLIC_LEN];
	struct stat st;

	(void)state;
	kp = make_saved("rt", sec, pub, sizeof(sec));
	assert_int_equal(stat(sec, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(stat(pub, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);

	hex_encode(kp->pk, KEYS_PUBLIC_LEN, hex, sizeof(hex));
	snprintf(want, sizeof(want), "odc-ed25519-pub:%s\n", hex);
	assert_string_equal(read_file(pub), want);
	assert_int_equal(strncmp(read_file(sec), "odc-ed25519-sec:", 16), 0);
	assert_int_equal(strlen(read_file(sec)), 16 + 128 + 1);

	back = keys_load_secret(sec, err, sizeof(err));
	assert_non_null(back);
	assert_memory_equal(back->pk, kp->pk, KEYS_PUBLIC_LEN);
	assert_memory_equal(back->sk, kp->sk, KEYS_SECRET_LEN);
	assert_int_equal(keys_load_public(pub, pk, err, sizeof(err)), 0);
	assert_memory_equal(pk, kp->pk, KEYS_PUBLIC_LEN);
	keys_pair_free(back);
	keys_pair_free(kp);
	keys_pair_free(NULL);
}

static void
test_group_readable_secret_is_refused(void **state)
{
	char sec[256], pub[256], err[256], want[512];
	struct keys_pair *kp, *back;

	(void)state;
	kp = make_saved("mode", sec, pub, sizeof(sec));
	assert_int_equal(chmod(sec, 0644), 0);
	back = keys_load_secret(sec, err, sizeof(err));
	assert_null(back);
	snprintf(want, sizeof(want),
	         "%s: secret key file is group/world accessible (mode 0644); chmod 600 it", sec);
	assert_string_equal(err, want);

	assert_int_equal(chmod(sec, 0640), 0);
	assert_null(keys_load_secret(sec, err, sizeof(err)));
	assert_non_null(strstr(err, "(mode 0640)"));

	assert_int_equal(chmod(sec, 0600), 0);
	back = keys_load_secret(sec, err, sizeof(err));
	assert_non_null(back);
	assert_memory_equal(back->pk, kp->pk, KEYS_PUBLIC_LEN);
	keys_pair_free(back);
	keys_pair_free(kp);
}

static void
test_symlinked_secret_is_refused(void **state)
{
	char sec[256], pub[256], link[256], err[256];
	struct keys_pair *kp;

	(void)state;
	kp = make_saved("link", sec, pub, sizeof(sec));
	tmp_path(link, sizeof(link), "link-to.sec");
	assert_int_equal(symlink(sec, link), 0);
	assert_null(keys_load_secret(link, err, sizeof(err)));
	assert_non_null(strstr(err, link));
	assert_non_null(strstr(err, "symlink"));
	keys_pair_free(kp);
}

static void
test_non_regular_secret_is_refused(void **state)
{
	char dir[256], err[256];

	(void)state;
	tmp_path(dir, sizeof(dir), "adir");
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_null(keys_load_secret(dir, err, sizeof(err)));
	assert_non_null(strstr(err, "not a regular file"));
	assert_null(keys_load_secret("/nonexistent/odc.sec", err, sizeof(err)));
	assert_string_equal(err, "/nonexistent/odc.sec: No such file or directory");
}

static void
test_save_refuses_to_overwrite(void **state)
{
	char sec[256], pub[256], err[256], want[512], other_sec[256];
	struct keys_pair *kp, *kp2, *back;

	(void)state;
	kp = make_saved("ow", sec, pub, sizeof(sec));
	kp2 = keys_generate(err, sizeof(err));
	assert_non_null(kp2);
	assert_int_equal(keys_save(kp2, sec, pub, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: already exists; refusing to overwrite", sec);
	assert_string_equal(err, want);
	back = keys_load_secret(sec, err, sizeof(err));
	assert_non_null(back);
	assert_memory_equal(back->pk, kp->pk, KEYS_PUBLIC_LEN);
	keys_pair_free(back);

	/* The public file exists: the new secret file must not be left behind. */
	tmp_path(other_sec, sizeof(other_sec), "ow-new.sec");
	assert_int_equal(keys_save(kp2, other_sec, pub, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: already exists; refusing to overwrite", pub);
	assert_string_equal(err, want);
	assert_int_equal(access(other_sec, F_OK), -1);
	keys_pair_free(kp);
	keys_pair_free(kp2);
}

static void
test_corrupt_secret_files_are_refused(void **state)
{
	char sec[256], pub[256], path[256], err[256], text[512], hex[129];
	struct keys_pair *a, *b, *back;
	uint8_t mixed[64];

	(void)state;
	a = make_saved("ca", sec, pub, sizeof(sec));
	b = make_saved("cb", sec, pub, sizeof(sec));

	/* A's seed with B's public half. */
	memcpy(mixed, a->sk, 32);
	memcpy(mixed + 32, b->pk, 32);
	hex_encode(mixed, 64, hex, sizeof(hex));
	snprintf(text, sizeof(text), "odc-ed25519-sec:%s\n", hex);
	tmp_path(path, sizeof(path), "mixed.sec");
	write_file(path, text, 0600);
	assert_null(keys_load_secret(path, err, sizeof(err)));
	assert_non_null(strstr(err, "does not match"));

	/* Without the final newline it is still accepted... */
	hex_encode(a->sk, 64, hex, sizeof(hex));
	snprintf(text, sizeof(text), "odc-ed25519-sec:%s", hex);
	tmp_path(path, sizeof(path), "nonl.sec");
	write_file(path, text, 0600);
	back = keys_load_secret(path, err, sizeof(err));
	assert_non_null(back);
	assert_memory_equal(back->pk, a->pk, KEYS_PUBLIC_LEN);
	keys_pair_free(back);

	/* ...but nothing else is. */
	snprintf(text, sizeof(text), "odc-ed25519-sec:%s\n\n", hex);
	tmp_path(path, sizeof(path), "extra.sec");
	write_file(path, text, 0600);
	assert_null(keys_load_secret(path, err, sizeof(err)));
	assert_non_null(strstr(err, "not an odc secret key file"));

	snprintf(text, sizeof(text), "odc-ed25519-pub:%s\n", hex);
	tmp_path(path, sizeof(path), "wrongprefix.sec");
	write_file(path, text, 0600);
	assert_null(keys_load_secret(path, err, sizeof(err)));

	hex[5] = 'g';
	snprintf(text, sizeof(text), "odc-ed25519-sec:%s\n", hex);
	tmp_path(path, sizeof(path), "nonhex.sec");
	write_file(path, text, 0600);
	assert_null(keys_load_secret(path, err, sizeof(err)));
	assert_non_null(strstr(err, "non-hex"));
	keys_pair_free(a);
	keys_pair_free(b);
}

static void
test_sign_and_verify(void **state)
{
	const uint8_t msg[] = "job 42: rollback obodc to 4.2.0 on host-a";
	uint8_t sig[KEYS_SIG_LEN], bad[sizeof(msg)];
	struct keys_pair *a, *b;
	char err[256];

	(void)state;
	a = keys_generate(err, sizeof(err));
	b = keys_generate(err, sizeof(err));
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(keys_sign(a, msg, sizeof(msg), sig), 0);
	assert_int_equal(keys_verify(a->pk, msg, sizeof(msg), sig), 0);
	assert_int_equal(keys_verify(b->pk, msg, sizeof(msg), sig), -1);
	memcpy(bad, msg, sizeof(msg));
	bad[4] ^= 1;
	assert_int_equal(keys_verify(a->pk, bad, sizeof(bad), sig), -1);
	sig[0] ^= 0x80;
	assert_int_equal(keys_verify(a->pk, msg, sizeof(msg), sig), -1);
	keys_pair_free(a);
	keys_pair_free(b);
}

static void
test_curve_forms(void **state)
{
	uint8_t cpk[32], csk[32], want_pk[32], want_sk[32], derived[32], peer[32], back[32];
	struct keys_pair *kp;
	char err[256], z85[KEYS_Z85_SIZE];

	(void)state;
	kp = keys_generate(err, sizeof(err));
	assert_non_null(kp);
	assert_int_equal(keys_curve(kp, cpk, csk), 0);
	assert_int_equal(crypto_sign_ed25519_pk_to_curve25519(want_pk, kp->pk), 0);
	assert_int_equal(crypto_sign_ed25519_sk_to_curve25519(want_sk, kp->sk), 0);
	assert_memory_equal(cpk, want_pk, 32);
	assert_memory_equal(csk, want_sk, 32);
	/* The converted pair is a real X25519 pair. */
	assert_int_equal(crypto_scalarmult_base(derived, csk), 0);
	assert_memory_equal(derived, cpk, 32);
	assert_int_equal(keys_curve_public(kp->pk, peer), 0);
	assert_memory_equal(peer, cpk, 32);

	assert_int_equal(keys_z85(cpk, z85), 0);
	assert_int_equal(strlen(z85), 40);
	assert_non_null(zmq_z85_decode(back, z85));
	assert_memory_equal(back, cpk, 32);
	sodium_memzero(csk, sizeof(csk));
	keys_pair_free(kp);
}

static void
test_parse_public_forms(void **state)
{
	uint8_t pk[32], want[32];
	char hex[65], text[128], err[256];

	(void)state;
	randombytes_buf(want, sizeof(want));
	hex_encode(want, 32, hex, sizeof(hex));

	snprintf(text, sizeof(text), "odc-ed25519-pub:%s\n", hex);
	assert_int_equal(keys_parse_public(text, pk, err, sizeof(err)), 0);
	assert_memory_equal(pk, want, 32);
	snprintf(text, sizeof(text), "odc-ed25519-pub:%s", hex);
	memset(pk, 0, sizeof(pk));
	assert_int_equal(keys_parse_public(text, pk, err, sizeof(err)), 0);
	assert_memory_equal(pk, want, 32);
	memset(pk, 0, sizeof(pk));
	assert_int_equal(keys_parse_public(hex, pk, err, sizeof(err)), 0);
	assert_memory_equal(pk, want, 32);

	keys_format_public(want, text, sizeof(text));
	snprintf(err, sizeof(err), "odc-ed25519-pub:%s", hex);
	assert_string_equal(text, err);
	keys_format_public(want, text, 10);
	assert_string_equal(text, "");

	snprintf(text, sizeof(text), "odc-ed25519-pub:%s ", hex);
	assert_int_equal(keys_parse_public(text, pk, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not an odc public key"));
	snprintf(text, sizeof(text), "odc-ed25519-pub:%s\n\n", hex);
	assert_int_equal(keys_parse_public(text, pk, err, sizeof(err)), -1);
	snprintf(text, sizeof(text), "odc-ed25519-sec:%s", hex);
	assert_int_equal(keys_parse_public(text, pk, err, sizeof(err)), -1);
	assert_int_equal(keys_parse_public(hex + 1, pk, err, sizeof(err)), -1);
	hex[10] = 'x';
	assert_int_equal(keys_parse_public(hex, pk, err, sizeof(err)), -1);
	assert_int_equal(keys_parse_public("", pk, err, sizeof(err)), -1);
}

static void
test_public_file_checks(void **state)
{
	char sec[256], pub[256], err[256];
	struct keys_pair *kp;
	uint8_t pk[32];

	(void)state;
	kp = make_saved("pubchk", sec, pub, sizeof(sec));
	assert_int_equal(chmod(pub, 0666), 0);
	assert_int_equal(keys_load_public(pub, pk, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "writable by group/others (mode 0666)"));
	assert_int_equal(chmod(pub, 0644), 0);
	assert_int_equal(keys_load_public(pub, pk, err, sizeof(err)), 0);
	write_file(pub, "garbage\n", 0644);
	assert_int_equal(keys_load_public(pub, pk, err, sizeof(err)), -1);
	assert_int_equal(strncmp(err, pub, strlen(pub)), 0);
	keys_pair_free(kp);
}

static void
test_fingerprint(void **state)
{
	uint8_t pk[32], h[32];
	char fp[KEYS_FINGERPRINT_SIZE], hex[33], want[64];

	(void)state;
	randombytes_buf(pk, sizeof(pk));
	assert_int_equal(keys_fingerprint(pk, fp, sizeof(fp)), 0);
	assert_int_equal(strlen(fp), 39);
	crypto_hash_sha256(h, pk, 32);
	hex_encode(h, 16, hex, sizeof(hex));
	snprintf(want, sizeof(want), "SHA256:%s", hex);
	assert_string_equal(fp, want);
	assert_int_equal(keys_fingerprint(pk, fp, 20), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_save_and_load_round_trip),
	    cmocka_unit_test(test_group_readable_secret_is_refused),
	    cmocka_unit_test(test_symlinked_secret_is_refused),
	    cmocka_unit_test(test_non_regular_secret_is_refused),
	    cmocka_unit_test(test_save_refuses_to_overwrite),
	    cmocka_unit_test(test_corrupt_secret_files_are_refused),
	    cmocka_unit_test(test_sign_and_verify),
	    cmocka_unit_test(test_curve_forms),
	    cmocka_unit_test(test_parse_public_forms),
	    cmocka_unit_test(test_public_file_checks),
	    cmocka_unit_test(test_fingerprint),
	};

	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
