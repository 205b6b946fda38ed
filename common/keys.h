/* Ed25519 identities: generation, the on-disk key file format, loading with
 * permission checks, signing, and the X25519/Z85 forms used for ZeroMQ CURVE. */
#ifndef ODC_COMMON_KEYS_H
#define ODC_COMMON_KEYS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define KEYS_PUBLIC_LEN 32
#define KEYS_SECRET_LEN 64
#define KEYS_SIG_LEN    64
#define KEYS_CURVE_LEN  32

/* Line prefixes of the key files; each file is the prefix, hex, and "\n". */
#define KEYS_PUBLIC_PREFIX "odc-ed25519-pub:"
#define KEYS_SECRET_PREFIX "odc-ed25519-sec:"

/* Sizes (NUL included) of keys_format_public(), keys_fingerprint() and keys_z85()
 * output. */
#define KEYS_PUBLIC_TEXT_SIZE (sizeof(KEYS_PUBLIC_PREFIX) + 2 * KEYS_PUBLIC_LEN)
#define KEYS_FINGERPRINT_SIZE 40
#define KEYS_Z85_SIZE         41

/* One identity. sk is libsodium's 64-byte secret key (seed || pk) in guarded,
 * locked memory from sodium_malloc(); it is wiped when freed. */
struct keys_pair {
	uint8_t pk[KEYS_PUBLIC_LEN];
	uint8_t *sk;
};

/* Initialises libsodium; safe to call many times and from several threads.
 * Every other function calls it too. Returns 0, or -1 if libsodium is unusable. */
int keys_init(void);

/* Makes a new random key pair. Returns it (the caller owns it and frees it with
 * keys_pair_free), or NULL with a message in err. */
struct keys_pair *keys_generate(char *err, size_t errlen);

/* Wipes and frees a key pair; NULL is fine. */
void keys_pair_free(struct keys_pair *kp);

/* Writes the secret key file (mode 0600) and the public key file (mode 0644).
 * Neither may exist already: an existing file or a symlink at either path is
 * refused and named in err. Both files are fsync'd, and so are their
 * directories. On failure, files this call created are removed. Returns 0 or -1. */
int keys_save(const struct keys_pair *kp, const char *secret_path, const char *public_path,
              char *err, size_t errlen);

/* Loads a secret key file. Refused: a symlink, anything but a regular file, a
 * file readable or writable by group or others, a malformed file, and a file
 * whose public half does not match its seed. Returns a pair the caller owns
 * (free with keys_pair_free), or NULL with a message in err naming the path. */
struct keys_pair *keys_load_secret(const char *path, char *err, size_t errlen);

/* Loads a public key file (symlinks are followed; a file writable by group or
 * others is refused, since public keys decide whom we trust). Returns 0 with
 * the key in pk, or -1 with a message in err. */
int keys_load_public(const char *path, uint8_t pk[KEYS_PUBLIC_LEN], char *err, size_t errlen);

/* Parses "odc-ed25519-pub:<64 hex>", with or without one trailing newline, or
 * the 64 hex digits alone. Returns 0, or -1 with a message in err. */
int keys_parse_public(const char *text, uint8_t pk[KEYS_PUBLIC_LEN], char *err, size_t errlen);

/* Writes "odc-ed25519-pub:<hex>" (no newline) into out; out becomes "" when
 * outlen < KEYS_PUBLIC_TEXT_SIZE. */
void keys_format_public(const uint8_t pk[KEYS_PUBLIC_LEN], char *out, size_t outlen);

/* Writes a short printable id, "SHA256:" and the first 16 bytes of SHA-256(pk)
 * in hex (39 characters). Returns 0, or -1 when outlen < KEYS_FINGERPRINT_SIZE. */
int keys_fingerprint(const uint8_t pk[KEYS_PUBLIC_LEN], char *out, size_t outlen);

/* The fingerprint (same format) of the key's X25519 form: what a CURVE
 * server sees of a client, so what a coordinator lists for a refused key.
 * Returns 0, or -1 (small out, or a key with no X25519 form). */
int keys_curve_fingerprint(const uint8_t pk[KEYS_PUBLIC_LEN], char *out, size_t outlen);

/* What a keygen prints of the pair it wrote, the same for odc-agent,
 * odc-coordinator and odcctl: the public key text (the .pub file's line),
 * the fingerprint, "curve" and the CURVE fingerprint (how `odcctl keys`
 * lists a pending key), the files written. To f. */
void keys_print_new(FILE *f, const struct keys_pair *kp, const char *secret_path,
                    const char *public_path);

/* Converts the pair to X25519 (for CURVE). The caller owns curve_sk and should
 * wipe it with sodium_memzero when done. Returns 0, or -1 (e.g. a low-order key). */
int keys_curve(const struct keys_pair *kp, uint8_t curve_pk[KEYS_CURVE_LEN],
               uint8_t curve_sk[KEYS_CURVE_LEN]);

/* Converts a peer's Ed25519 public key to X25519. Returns 0 or -1. */
int keys_curve_public(const uint8_t ed_pk[KEYS_PUBLIC_LEN], uint8_t curve_pk[KEYS_CURVE_LEN]);

/* Encodes a 32-byte key as the 40-character Z85 text ZeroMQ wants. Returns 0 or -1. */
int keys_z85(const uint8_t key[32], char out[KEYS_Z85_SIZE]);

/* Makes a detached signature of msg. Returns 0 or -1. */
int keys_sign(const struct keys_pair *kp, const uint8_t *msg, size_t n, uint8_t sig[KEYS_SIG_LEN]);

/* Checks a detached signature. Returns 0 when it is valid for pk, else -1. */
int keys_verify(const uint8_t pk[KEYS_PUBLIC_LEN], const uint8_t *msg, size_t n,
                const uint8_t sig[KEYS_SIG_LEN]);

#endif
