/* The target list's Merkle tree of PROTOCOL.md section 2 (RFC 9162, 2.1, with
 * SHA-256): leaves, roots, whole trees for inclusion proofs, and verification. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "proto/internal.h"

/* Levels of a tree of at most SIZE_MAX leaves: one per bit, plus the root. */
#define MERKLE_LEVELS_MAX (sizeof(size_t) * 8 + 1)

/* Every level, leaves first, stored one after the other in one array. A
 * level's odd last node is carried up unchanged; pairing the nodes of each
 * level from the left that way builds exactly RFC 9162's left-balanced tree
 * (the split at the largest power of two below n). */
struct proto_merkle {
	size_t n;
	size_t nlevels;
	size_t off[MERKLE_LEVELS_MAX]; /* first node of each level in h */
	size_t len[MERKLE_LEVELS_MAX]; /* nodes in each level */
	uint8_t (*h)[PROTO_HASH_LEN];
};

void
proto_merkle_leaf(const char *id, uint8_t out[PROTO_HASH_LEN])
{
	crypto_hash_sha256_state st;
	const uint8_t prefix = 0x00;

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, &prefix, 1);
	crypto_hash_sha256_update(&st, (const uint8_t *)id, strlen(id));
	crypto_hash_sha256_final(&st, out);
}

/* NODE(l, r) = SHA-256(0x01 || l || r); out may alias l or r. */
static void
merkle_node(const uint8_t l[PROTO_HASH_LEN], const uint8_t r[PROTO_HASH_LEN],
            uint8_t out[PROTO_HASH_LEN])
{
	uint8_t buf[1 + 2 * PROTO_HASH_LEN];

	buf[0] = 0x01;
	memcpy(buf + 1, l, PROTO_HASH_LEN);
	memcpy(buf + 1 + PROTO_HASH_LEN, r, PROTO_HASH_LEN);
	crypto_hash_sha256(out, buf, sizeof(buf));
}

/* One level up from src[0..n) into dst (which may be src itself: node i
 * reads 2i and 2i+1 only after writing nodes below i). Returns its size. */
static size_t
merkle_level_up(const uint8_t (*src)[PROTO_HASH_LEN], size_t n, uint8_t (*dst)[PROTO_HASH_LEN])
{
	size_t k = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		merkle_node(src[i], src[i + 1], dst[k++]);
	if (n % 2 == 1)
		memmove(dst[k++], src[n - 1], PROTO_HASH_LEN);
	return k;
}

int
proto_merkle_root(const char *const *ids, size_t n, uint8_t root[PROTO_HASH_LEN])
{
	uint8_t(*h)[PROTO_HASH_LEN];

	if (n == 0 || n > SIZE_MAX / PROTO_HASH_LEN)
		return -1;
	/* Only one level is kept: each is folded into the one below it. */
	h = malloc(n * PROTO_HASH_LEN);
	if (h == NULL)
		return -1;
	for (size_t i = 0; i < n; i++)
		proto_merkle_leaf(ids[i], h[i]);
	while (n > 1)
		n = merkle_level_up((const uint8_t(*)[PROTO_HASH_LEN])h, n, h);
	memcpy(root, h[0], PROTO_HASH_LEN);
	free(h);
	return 0;
}

struct proto_merkle *
proto_merkle_new(const char *const *ids, size_t n)
{
	struct proto_merkle *t = NULL;
	size_t total = 0, len = n;

	if (n == 0)
		return NULL;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->n = n;
	/* Sizes first, so the whole tree is one allocation (fewer than 2n nodes). */
	for (;;) {
		t->off[t->nlevels] = total;
		t->len[t->nlevels] = len;
		t->nlevels++;
		if (total > SIZE_MAX / PROTO_HASH_LEN - len)
			goto fail;
		total += len;
		if (len == 1)
			break;
		len = (len + 1) / 2;
	}
	t->h = malloc(total * PROTO_HASH_LEN);
	if (t->h == NULL)
		goto fail;
	for (size_t i = 0; i < n; i++)
		proto_merkle_leaf(ids[i], t->h[i]);
	for (size_t l = 1; l < t->nlevels; l++)
		merkle_level_up((const uint8_t(*)[PROTO_HASH_LEN])(t->h + t->off[l - 1]),
		                t->len[l - 1], t->h + t->off[l]);
	return t;
fail:
	proto_merkle_free(t);
	return NULL;
}

void
proto_merkle_free(struct proto_merkle *t)
{
	if (t == NULL)
		return;
	free(t->h);
	free(t);
}

void
proto_merkle_root_of(const struct proto_merkle *t, uint8_t root[PROTO_HASH_LEN])
{
	memcpy(root, t->h[t->off[t->nlevels - 1]], PROTO_HASH_LEN);
}

/* PATH(index): at each level the sibling of the node on the way up, when it
 * has one; a promoted odd last node has none at that level. */
size_t
proto_merkle_proof(const struct proto_merkle *t, size_t index,
                   uint8_t path[PROTO_PROOF_MAX][PROTO_HASH_LEN])
{
	size_t m = 0;

	if (index >= t->n)
		return 0;
	for (size_t l = 0; l + 1 < t->nlevels && m < PROTO_PROOF_MAX; l++) {
		size_t sib = index ^ 1;
		if (sib < t->len[l])
			memcpy(path[m++], t->h[t->off[l] + sib], PROTO_HASH_LEN);
		index >>= 1;
	}
	return m;
}

/* Section 2's verification, step for step (RFC 9162, 2.1.3.2). */
bool
proto_merkle_verify(const char *id, uint64_t index, uint64_t count,
                    const uint8_t (*path)[PROTO_HASH_LEN], size_t len,
                    const uint8_t root[PROTO_HASH_LEN])
{
	uint8_t r[PROTO_HASH_LEN];
	uint64_t fn, sn;

	if (id == NULL || index >= count)
		return false;
	fn = index;
	sn = count - 1;
	proto_merkle_leaf(id, r);
	for (size_t k = 0; k < len; k++) {
		if (sn == 0)
			return false;
		if (fn % 2 == 1 || fn == sn) {
			merkle_node(path[k], r, r);
			while (fn % 2 == 0 && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		} else {
			merkle_node(r, path[k], r);
		}
		fn >>= 1;
		sn >>= 1;
	}
	return sn == 0 && sodium_memcmp(r, root, PROTO_HASH_LEN) == 0;
}
