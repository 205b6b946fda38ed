/* Replay guard front end and the in-memory nonce store (open addressing,
 * rebuilt without expired entries when it fills). */
#include <stdlib.h>
#include <string.h>

#include "proto/replay.h"

enum proto_err
replay_check(struct replay_guard *g, const uint8_t nonce[PROTO_NONCE_LEN], uint64_t keep_until_ms,
             uint64_t now_ms)
{
	int rc;

	if (g == NULL || g->ops == NULL)
		return PROTO_E_INTERNAL;
	rc = g->ops->insert(g->ctx, nonce, keep_until_ms, now_ms);
	if (rc == 0)
		return PROTO_OK;
	return rc == 1 ? PROTO_E_REPLAYED : PROTO_E_INTERNAL;
}

void
replay_close(struct replay_guard *g)
{
	if (g == NULL || g->ops == NULL)
		return;
	if (g->ops->close != NULL)
		g->ops->close(g->ctx);
	g->ops = NULL;
	g->ctx = NULL;
}

struct slot {
	uint8_t nonce[PROTO_NONCE_LEN];
	uint64_t until;
	bool used;
};

struct mem {
	struct slot *slots;
	size_t cap; /* a power of two, at least 2 * max */
	size_t count;
	size_t max;
};

static size_t
slot_of(const struct mem *m, const uint8_t *nonce)
{
	uint64_t h;

	/* Nonces are random; their first bytes are a fine hash. */
	memcpy(&h, nonce, sizeof(h));
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ull;
	return (size_t)(h ^ (h >> 32)) & (m->cap - 1);
}

static struct slot *
find(struct mem *m, const uint8_t *nonce)
{
	for (size_t i = slot_of(m, nonce);; i = (i + 1) & (m->cap - 1)) {
		struct slot *s = &m->slots[i];
		if (!s->used || memcmp(s->nonce, nonce, PROTO_NONCE_LEN) == 0)
			return s;
	}
}

static int
mem_purge(void *ctx, uint64_t now_ms)
{
	struct mem *m = ctx;
	struct slot *old = m->slots;
	struct slot *fresh = calloc(m->cap, sizeof(*fresh));

	if (fresh == NULL)
		return -1;
	m->slots = fresh;
	m->count = 0;
	for (size_t i = 0; i < m->cap; i++) {
		if (old[i].used && old[i].until >= now_ms) {
			*find(m, old[i].nonce) = old[i];
			m->count++;
		}
	}
	free(old);
	return 0;
}

static int
mem_insert(void *ctx, const uint8_t nonce[PROTO_NONCE_LEN], uint64_t keep_until_ms, uint64_t now_ms)
{
	struct mem *m = ctx;
	struct slot *s = find(m, nonce);

	if (s->used) {
		if (s->until >= now_ms)
			return 1;
		s->until = keep_until_ms; /* expired entry: its dispatch is expired too */
		return 0;
	}
	if (m->count >= m->max) {
		if (mem_purge(m, now_ms) != 0 || m->count >= m->max)
			return -1; /* full of live nonces: refuse rather than forget */
		s = find(m, nonce);
	}
	memcpy(s->nonce, nonce, PROTO_NONCE_LEN);
	s->until = keep_until_ms;
	s->used = true;
	m->count++;
	return 0;
}

static void
mem_close(void *ctx)
{
	struct mem *m = ctx;

	if (m == NULL)
		return;
	free(m->slots);
	free(m);
}

static const struct replay_store_ops mem_ops = {mem_insert, mem_purge, mem_close};

int
replay_memory_open(struct replay_guard *g, size_t max)
{
	struct mem *m = calloc(1, sizeof(*m));

	if (m == NULL || max == 0)
		goto fail;
	m->max = max;
	m->cap = 16;
	while (m->cap < 2 * max)
		m->cap *= 2;
	m->slots = calloc(m->cap, sizeof(*m->slots));
	if (m->slots == NULL)
		goto fail;
	g->ops = &mem_ops;
	g->ctx = m;
	return 0;
fail:
	mem_close(m);
	return -1;
}
