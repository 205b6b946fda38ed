/* A JOB's target list (the JOB message's frame 3, PROTOCOL.md sections 2
 * and 4): its ids read with section 3's rules, duplicates found in
 * n log n, and the list matched against the body's signed count and
 * Merkle root. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/field.h"

struct idx_str {
	const char *s;
	size_t i;
};

static int
cmp_idx_str(const void *a, const void *b)
{
	const struct idx_str *x = a, *y = b;
	int r = strcmp(x->s, y->s);

	if (r != 0)
		return r;
	return x->i < y->i ? -1 : x->i > y->i;
}

/* The index of the earliest second occurrence of any string in v[0..n),
 * or n when all differ. Sorting (string, index) pairs makes it n log n,
 * which matters for 10,000 targets; without memory for that it falls back
 * to the quadratic scan rather than fail. */
static size_t
find_dup(const char *const *v, size_t n)
{
	struct idx_str *p = n ? malloc(n * sizeof(*p)) : NULL;
	size_t best = n;

	if (p == NULL) {
		for (size_t i = 1; i < n && best == n; i++)
			for (size_t k = 0; k < i; k++)
				if (strcmp(v[k], v[i]) == 0) {
					best = i;
					break;
				}
		return best;
	}
	for (size_t i = 0; i < n; i++)
		p[i] = (struct idx_str){v[i], i};
	qsort(p, n, sizeof(*p), cmp_idx_str);
	for (size_t i = 1; i < n; i++)
		if (strcmp(p[i - 1].s, p[i].s) == 0 && p[i].i < best)
			best = p[i].i; /* p[i] follows an equal, earlier-indexed entry */
	free(p);
	return best;
}

/* A list of host ids, 1..PROTO_MAX_TARGETS, no duplicates, into the arena.
 * Elements are checked in order; a duplicate counts as a failure at its
 * second occurrence (PROTOCOL.md section 3), so the first failing element E
 * is found, then the earliest second occurrence among ids[0..E). */
static enum proto_err
get_id_list(struct field_ctx *c, const msgpack_object *o, const char *f, const char ***out,
            size_t *nout)
{
	const msgpack_object *list;
	const char **ids;
	size_t n = 0, bad_at, dup_at;
	struct proto_error first_err;
	enum proto_err first_e = PROTO_OK;

	FIELD_TRY(field_list(c, o, f, 1, PROTO_MAX_TARGETS, &list, &n));
	ids = arena_alloc(c->a, n * sizeof(char *));
	if (ids == NULL)
		return field_oom(c);
	bad_at = n;
	for (size_t i = 0; i < n; i++) {
		first_e = field_id(c, &list[i], f, (long)i, &ids[i]);
		if (first_e != PROTO_OK) {
			bad_at = i;
			first_err = *c->err;
			break;
		}
	}
	dup_at = find_dup(ids, bad_at);
	if (dup_at < bad_at)
		return field_bad(c, PROTO_E_VALUE, f, (long)dup_at, "duplicate host id '%s'",
		                 ids[dup_at]);
	if (first_e != PROTO_OK) {
		*c->err = first_err;
		return first_e;
	}
	*out = ids;
	*nout = n;
	return PROTO_OK;
}

/* The JOB message's frame 3 (PROTOCOL.md section 4, JOB): read with section
 * 3's rules like a body, then matched against the decoded body's signed
 * count and root. On success the ids are in m's arena and m->u.job lists them. */
static enum proto_err
dec_target_list(struct proto_msg *m, const uint8_t *list, size_t llen, struct proto_error *err)
{
	struct proto_job *j = &m->u.job;
	struct field_ctx c = {m->arena, err, "JOB"};
	msgpack_unpacked up;
	size_t off = 0, n = 0;
	const char **ids = NULL;
	uint8_t root[PROTO_HASH_LEN];
	char h1[17], h2[17];
	enum proto_err e;

	msgpack_unpacked_init(&up);
	if (llen > PROTO_TARGETS_MAX_BYTES) {
		e = proto_fail(err, PROTO_E_TOO_BIG, "JOB target list of %zu bytes exceeds %d",
		               llen, PROTO_TARGETS_MAX_BYTES);
		goto out;
	}
	e = proto_scan(list, llen, err);
	if (e != PROTO_OK) {
		char why[sizeof(err->msg)];
		snprintf(why, sizeof(why), "%s", err->msg);
		proto_fail(err, e, "JOB target list: %s", why);
		goto out;
	}
	if (msgpack_unpack_next(&up, (const char *)list, llen, &off) != MSGPACK_UNPACK_SUCCESS) {
		e = proto_fail(err, PROTO_E_MALFORMED, "JOB target list: msgpack-c refused it");
		goto out;
	}
	e = get_id_list(&c, &up.data, "target_list", &ids, &n);
	if (e != PROTO_OK)
		goto out;
	if (n != j->target_count) {
		e = field_bad(&c, PROTO_E_VALUE, "target_list", -1,
		              "%zu ids, but the signed targets.count is %llu", n,
		              (unsigned long long)j->target_count);
		goto out;
	}
	if (proto_merkle_root(ids, n, root) != 0) {
		e = field_oom(&c);
		goto out;
	}
	if (memcmp(root, j->target_root, PROTO_HASH_LEN) != 0) {
		e = field_bad(&c, PROTO_E_VALUE, "target_list", -1,
		              "its Merkle root %s... is not the signed targets.root %s...",
		              proto_hex(root, 8, h1), proto_hex(j->target_root, 8, h2));
		goto out;
	}
	j->targets = ids;
	j->n_targets = n;
out:
	msgpack_unpacked_destroy(&up);
	return e;
}

enum proto_err
proto_decode_job(const uint8_t *body, size_t blen, const uint8_t *list, size_t llen,
                 struct proto_msg **out, struct proto_error *err)
{
	struct proto_msg *m = NULL;
	enum proto_err e;

	*out = NULL;
	e = proto_decode_body(PROTO_JOB, body, blen, &m, err);
	if (e != PROTO_OK)
		return e;
	e = dec_target_list(m, list, llen, err);
	if (e != PROTO_OK) {
		proto_msg_free(m);
		return e;
	}
	*out = m;
	return PROTO_OK;
}
