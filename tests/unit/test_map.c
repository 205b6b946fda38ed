/* The coordinator's hash map: the basic operations, a long random run checked
 * against a plain array, deletions inside crowded probe runs, and keys that
 * hold NUL bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "coordinator/map.h"

/* A fixed-seed generator so that a failure can be replayed. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t
rng(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rng_state = x;
	return x;
}

static void
test_basic(void **state)
{
	struct map *m = map_new();
	int a = 1, b = 2, c = 3;

	(void)state;
	assert_non_null(m);
	assert_int_equal(map_count(m), 0);
	assert_null(map_get_str(m, "h1"));
	assert_null(map_del_str(m, "h1"));

	assert_int_equal(map_put_str(m, "h1", &a), 0);
	assert_int_equal(map_put_str(m, "h2", &b), 0);
	assert_int_equal(map_count(m), 2);
	assert_ptr_equal(map_get_str(m, "h1"), &a);
	assert_ptr_equal(map_get_str(m, "h2"), &b);
	assert_null(map_get_str(m, "h"));
	assert_null(map_get_str(m, "h10"));

	/* Overwrite: same count, new value. */
	assert_int_equal(map_put_str(m, "h1", &c), 0);
	assert_int_equal(map_count(m), 2);
	assert_ptr_equal(map_get_str(m, "h1"), &c);

	/* NULL values are refused and change nothing. */
	assert_int_equal(map_put_str(m, "h3", NULL), -1);
	assert_int_equal(map_count(m), 2);
	assert_null(map_get_str(m, "h3"));

	/* The empty key is a key like any other. */
	assert_int_equal(map_put_str(m, "", &a), 0);
	assert_ptr_equal(map_get(m, "", 0), &a);
	assert_int_equal(map_count(m), 3);

	assert_ptr_equal(map_del_str(m, "h1"), &c);
	assert_null(map_get_str(m, "h1"));
	assert_null(map_del_str(m, "h1"));
	assert_ptr_equal(map_del(m, "", 0), &a);
	assert_int_equal(map_count(m), 1);
	assert_ptr_equal(map_get_str(m, "h2"), &b);
	map_free(m);
	map_free(NULL);
}

static void
test_key_is_copied(void **state)
{
	struct map *m = map_new();
	char key[16];
	int a = 1;

	(void)state;
	assert_non_null(m);
	snprintf(key, sizeof(key), "%s", "job-1");
	assert_int_equal(map_put_str(m, key, &a), 0);
	memset(key, 'x', 5);
	assert_ptr_equal(map_get_str(m, "job-1"), &a);
	assert_null(map_get_str(m, "xxxxx"));
	map_free(m);
}

static void
test_binary_keys(void **state)
{
	struct map *m = map_new();
	const char k1[] = {'a', '\0', 'b'}, k2[] = {'a', '\0', 'c'}, k3[] = {'a'};
	const char k4[] = {'\0'}, k5[] = {'\0', '\0'};
	int v[5];

	(void)state;
	assert_non_null(m);
	assert_int_equal(map_put(m, k1, sizeof(k1), &v[0]), 0);
	assert_int_equal(map_put(m, k2, sizeof(k2), &v[1]), 0);
	assert_int_equal(map_put(m, k3, sizeof(k3), &v[2]), 0);
	assert_int_equal(map_put(m, k4, sizeof(k4), &v[3]), 0);
	assert_int_equal(map_put(m, k5, sizeof(k5), &v[4]), 0);
	assert_int_equal(map_count(m), 5);
	/* Keys that agree up to the NUL are still different keys. */
	assert_ptr_equal(map_get(m, k1, sizeof(k1)), &v[0]);
	assert_ptr_equal(map_get(m, k2, sizeof(k2)), &v[1]);
	assert_ptr_equal(map_get(m, k3, sizeof(k3)), &v[2]);
	assert_ptr_equal(map_get_str(m, "a"), &v[2]);
	assert_ptr_equal(map_get(m, k4, sizeof(k4)), &v[3]);
	assert_ptr_equal(map_get(m, k5, sizeof(k5)), &v[4]);
	assert_null(map_get(m, k1, 2));
	assert_null(map_get_str(m, ""));
	assert_ptr_equal(map_del(m, k1, sizeof(k1)), &v[0]);
	assert_null(map_get(m, k1, sizeof(k1)));
	assert_ptr_equal(map_get(m, k2, sizeof(k2)), &v[1]);
	map_free(m);
}

struct each_ctx {
	size_t seen;
	uintptr_t sum;
	size_t stop_after;
};

static int
each_sum(void *ctx, const void *key, size_t len, void *value)
{
	struct each_ctx *e = ctx;

	assert_non_null(key);
	assert_int_equal(len, strlen(value));
	assert_memory_equal(key, value, len);
	e->seen++;
	e->sum += (uintptr_t)len;
	if (e->stop_after != 0 && e->seen == e->stop_after)
		return 7;
	return 0;
}

static void
test_each(void **state)
{
	static char *const keys[] = {"alpha", "beta", "gamma", "delta", "epsilon", "zeta"};
	struct map *m = map_new();
	struct each_ctx e = {0};
	uintptr_t total = 0;

	(void)state;
	assert_non_null(m);
	assert_int_equal(map_each(m, each_sum, &e), 0);
	assert_int_equal(e.seen, 0);
	/* Each value is its key, so the callback can check the pairing. */
	for (size_t i = 0; i < 6; i++) {
		assert_int_equal(map_put_str(m, keys[i], keys[i]), 0);
		total += strlen(keys[i]);
	}
	assert_int_equal(map_each(m, each_sum, &e), 0);
	assert_int_equal(e.seen, 6);
	assert_int_equal(e.sum, total);
	/* A non-zero return stops the walk and comes back. */
	e = (struct each_ctx){.stop_after = 2};
	assert_int_equal(map_each(m, each_sum, &e), 7);
	assert_int_equal(e.seen, 2);
	map_free(m);
}

#define N_RANDOM 100000
#define KEY_MAX  24

struct ref {
	unsigned char key[KEY_MAX];
	size_t len;
	int present;
	int value;
};

static int
each_check_ref(void *ctx, const void *key, size_t len, void *value)
{
	struct ref *refs = ctx;
	uint32_t i;

	/* The first four bytes hold the index into refs. */
	assert_true(len >= sizeof(i));
	memcpy(&i, key, sizeof(i));
	assert_true(i < N_RANDOM);
	assert_ptr_equal(value, &refs[i].value);
	assert_true(refs[i].present);
	assert_int_equal(len, refs[i].len);
	assert_memory_equal(key, refs[i].key, len);
	refs[i].present = 2; /* seen */
	return 0;
}

static void
test_random_against_reference(void **state)
{
	struct ref *refs = calloc(N_RANDOM, sizeof(*refs));
	struct map *m = map_new();
	size_t count = 0;

	(void)state;
	assert_non_null(refs);
	assert_non_null(m);
	/* Keys: a 4-byte index (so all differ, NUL bytes included) and 0 to 20
	 * random bytes. */
	for (uint32_t i = 0; i < N_RANDOM; i++) {
		struct ref *r = &refs[i];
		r->len = 4 + (size_t)(rng() % (KEY_MAX - 3));
		memcpy(r->key, &i, 4);
		for (size_t j = 4; j < r->len; j++)
			r->key[j] = (unsigned char)rng();
		r->value = (int)i;
	}
	for (size_t i = 0; i < N_RANDOM; i++) {
		assert_int_equal(map_put(m, refs[i].key, refs[i].len, &refs[i].value), 0);
		refs[i].present = 1;
		count++;
	}
	assert_int_equal(map_count(m), count);
	for (size_t i = 0; i < N_RANDOM; i++)
		assert_ptr_equal(map_get(m, refs[i].key, refs[i].len), &refs[i].value);

	/* Mixed operations: delete, re-insert, overwrite, look up. */
	for (size_t round = 0; round < 4 * N_RANDOM; round++) {
		size_t i = (size_t)(rng() % N_RANDOM);
		struct ref *r = &refs[i];
		switch (rng() % 4) {
		case 0:
			assert_ptr_equal(map_del(m, r->key, r->len), r->present ? &r->value : NULL);
			if (r->present)
				count--;
			r->present = 0;
			break;
		case 1:
			assert_int_equal(map_put(m, r->key, r->len, &r->value), 0);
			if (!r->present)
				count++;
			r->present = 1;
			break;
		default:
			assert_ptr_equal(map_get(m, r->key, r->len), r->present ? &r->value : NULL);
			break;
		}
	}
	assert_int_equal(map_count(m), count);
	for (size_t i = 0; i < N_RANDOM; i++) {
		void *want = refs[i].present ? &refs[i].value : NULL;
		assert_ptr_equal(map_get(m, refs[i].key, refs[i].len), want);
		/* A prefix of a key is a different key (and never present: the
		 * shortest keys are 4 bytes and prefixes are shorter). */
		assert_null(map_get(m, refs[i].key, 3));
	}
	/* map_each visits exactly the present entries, once each. */
	assert_int_equal(map_each(m, each_check_ref, refs), 0);
	for (size_t i = 0; i < N_RANDOM; i++)
		assert_int_not_equal(refs[i].present, 1);

	/* Delete everything; the map is empty and still usable. */
	for (size_t i = 0; i < N_RANDOM; i++)
		map_del(m, refs[i].key, refs[i].len);
	assert_int_equal(map_count(m), 0);
	assert_int_equal(map_put_str(m, "after", &refs[0].value), 0);
	assert_ptr_equal(map_get_str(m, "after"), &refs[0].value);
	map_free(m);
	free(refs);
}

/* 11 keys in the initial 16 slots (the 70% limit) make long probe runs, many
 * of them wrapping around the table's end. Deleting each key in turn must
 * leave every other key reachable; many maps (each with its own hash seed)
 * cover many layouts. */
static void
test_delete_in_collisions(void **state)
{
	char keys[11][8];
	int vals[11];

	(void)state;
	for (int i = 0; i < 11; i++)
		snprintf(keys[i], sizeof(keys[i]), "k%d", i);
	for (int round = 0; round < 500; round++) {
		struct map *m = map_new();
		assert_non_null(m);
		for (int i = 0; i < 11; i++)
			assert_int_equal(map_put_str(m, keys[i], &vals[i]), 0);
		/* Delete one, check the rest, put it back. */
		for (int d = 0; d < 11; d++) {
			assert_ptr_equal(map_del_str(m, keys[d]), &vals[d]);
			for (int i = 0; i < 11; i++)
				assert_ptr_equal(map_get_str(m, keys[i]), i == d ? NULL : &vals[i]);
			assert_int_equal(map_put_str(m, keys[d], &vals[d]), 0);
		}
		/* Delete them all in a random order, checking after each. */
		int order[11];
		for (int i = 0; i < 11; i++)
			order[i] = i;
		for (int i = 10; i > 0; i--) {
			int j = (int)(rng() % (uint64_t)(i + 1)), t = order[i];
			order[i] = order[j];
			order[j] = t;
		}
		for (int n = 0; n < 11; n++) {
			assert_ptr_equal(map_del_str(m, keys[order[n]]), &vals[order[n]]);
			for (int k = n + 1; k < 11; k++)
				assert_ptr_equal(map_get_str(m, keys[order[k]]), &vals[order[k]]);
			assert_int_equal(map_count(m), (size_t)(10 - n));
		}
		map_free(m);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_basic),
	    cmocka_unit_test(test_key_is_copied),
	    cmocka_unit_test(test_binary_keys),
	    cmocka_unit_test(test_each),
	    cmocka_unit_test(test_random_against_reference),
	    cmocka_unit_test(test_delete_in_collisions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
