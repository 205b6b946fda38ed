/* A hash map from byte strings to pointers: open addressing with linear
 * probing and backward-shift deletion (no tombstones), doubled at 70% load.
 *
 * Keys come from the network (host ids, job ids, CURVE keys), so the hash is
 * SipHash-2-4 with a random key per map: nobody outside can aim keys at one
 * probe run and turn each lookup into a walk over the fleet. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "coordinator/map.h"

#define MAP_MIN_CAP 16 /* a power of two */

/* An empty slot has value == NULL (values are never NULL). */
struct map_slot {
	void *value;
	void *key; /* our copy, len bytes (at least one byte allocated) */
	size_t len;
	uint64_t hash;
};

struct map {
	struct map_slot *slots;
	size_t cap; /* a power of two */
	size_t count;
	uint8_t seed[crypto_shorthash_siphash24_KEYBYTES];
};

static uint64_t
map_hash(const struct map *m, const void *key, size_t len)
{
	static const unsigned char none;
	unsigned char out[crypto_shorthash_siphash24_BYTES];
	uint64_t h;

	crypto_shorthash_siphash24(out, len > 0 ? key : &none, len, m->seed);
	memcpy(&h, out, sizeof(h));
	return h;
}

/* The slot holding key, or the empty slot that ends its probe run. */
static size_t
map_find(const struct map *m, const void *key, size_t len, uint64_t h)
{
	size_t mask = m->cap - 1, i = (size_t)h & mask;

	while (m->slots[i].value != NULL) {
		const struct map_slot *s = &m->slots[i];
		if (s->hash == h && s->len == len && (len == 0 || memcmp(s->key, key, len) == 0))
			break;
		i = (i + 1) & mask;
	}
	return i;
}

struct map *
map_new(void)
{
	struct map *m;

	/* Idempotent; randombytes needs it. */
	if (sodium_init() < 0)
		return NULL;
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return NULL;
	m->slots = calloc(MAP_MIN_CAP, sizeof(*m->slots));
	if (m->slots == NULL) {
		free(m);
		return NULL;
	}
	m->cap = MAP_MIN_CAP;
	randombytes_buf(m->seed, sizeof(m->seed));
	return m;
}

void
map_free(struct map *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].value != NULL)
			free(m->slots[i].key);
	free(m->slots);
	free(m);
}

/* Doubles the table. Returns 0, or -1 when out of memory (m unchanged). */
static int
map_grow(struct map *m)
{
	struct map_slot *old = m->slots, *slots;
	size_t old_cap = m->cap, cap = m->cap * 2;

	if (cap < old_cap || cap > SIZE_MAX / sizeof(*slots))
		return -1;
	slots = calloc(cap, sizeof(*slots));
	if (slots == NULL)
		return -1;
	m->slots = slots;
	m->cap = cap;
	for (size_t i = 0; i < old_cap; i++) {
		if (old[i].value != NULL) {
			size_t j = (size_t)old[i].hash & (cap - 1);
			while (slots[j].value != NULL)
				j = (j + 1) & (cap - 1);
			slots[j] = old[i];
		}
	}
	free(old);
	return 0;
}

int
map_put(struct map *m, const void *key, size_t len, void *value)
{
	uint64_t h;
	size_t i;
	void *copy;

	if (value == NULL)
		return -1;
	h = map_hash(m, key, len);
	i = map_find(m, key, len, h);
	if (m->slots[i].value != NULL) {
		m->slots[i].value = value;
		return 0;
	}
	/* A new key: copy it first so that a failure leaves the map as it was. */
	copy = malloc(len > 0 ? len : 1);
	if (copy == NULL)
		return -1;
	if (len > 0)
		memcpy(copy, key, len);
	/* Keep the load at or below 70%. */
	if ((m->count + 1) * 10 > m->cap * 7) {
		if (map_grow(m) != 0) {
			free(copy);
			return -1;
		}
		i = map_find(m, key, len, h);
	}
	m->slots[i] = (struct map_slot){.value = value, .key = copy, .len = len, .hash = h};
	m->count++;
	return 0;
}

void *
map_get(const struct map *m, const void *key, size_t len)
{
	size_t i = map_find(m, key, len, map_hash(m, key, len));

	return m->slots[i].value;
}

void *
map_del(struct map *m, const void *key, size_t len)
{
	size_t mask = m->cap - 1, i = map_find(m, key, len, map_hash(m, key, len)), j;
	void *value = m->slots[i].value;

	if (value == NULL)
		return NULL;
	free(m->slots[i].key);
	m->count--;
	/* Backward shift: pull later members of the run into the hole unless
	 * their home slot lies cyclically in (hole, j], where they already are
	 * reachable without passing the hole. */
	for (j = i;;) {
		size_t home;

		j = (j + 1) & mask;
		if (m->slots[j].value == NULL)
			break;
		home = (size_t)m->slots[j].hash & mask;
		if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		m->slots[i] = m->slots[j];
		i = j;
	}
	m->slots[i] = (struct map_slot){0};
	return value;
}

size_t
map_count(const struct map *m)
{
	return m->count;
}

int
map_put_str(struct map *m, const char *s, void *value)
{
	return map_put(m, s, strlen(s), value);
}

void *
map_get_str(const struct map *m, const char *s)
{
	return map_get(m, s, strlen(s));
}

void *
map_del_str(struct map *m, const char *s)
{
	return map_del(m, s, strlen(s));
}

int
map_each(const struct map *m, int (*fn)(void *ctx, const void *key, size_t len, void *value),
         void *ctx)
{
	for (size_t i = 0; i < m->cap; i++) {
		const struct map_slot *s = &m->slots[i];
		int r;

		if (s->value == NULL)
			continue;
		r = fn(ctx, s->key, s->len, s->value);
		if (r != 0)
			return r;
	}
	return 0;
}
