/* Field decoding of PROTOCOL.md sections 3-4: after proto_scan() has bounded
 * the body, msgpack-c unpacks it and each message's fields are checked in
 * order and copied into the message's arena. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "proto/internal.h"

struct dc {
	struct proto_arena *a;
	struct proto_error *err;
	const char *type; /* for messages: "JOB" */
};

typedef bool (*charset_fn)(const char *s, size_t n);

static const char *
otype(const msgpack_object *o)
{
	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		return "nil";
	case MSGPACK_OBJECT_BOOLEAN:
		return "bool";
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		return "uint";
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		return "negative int";
	case MSGPACK_OBJECT_STR:
		return "str";
	case MSGPACK_OBJECT_BIN:
		return "bin";
	case MSGPACK_OBJECT_ARRAY:
		return "array";
	case MSGPACK_OBJECT_MAP:
		return "map";
	default:
		return "unsupported type";
	}
}

/* Report a failure for field f (with index idx when >= 0). */
static enum proto_err __attribute__((format(printf, 5, 6)))
bad(struct dc *c, enum proto_err code, const char *f, long idx, const char *fmt, ...)
{
	char what[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (idx >= 0)
		return proto_fail(c->err, code, "%s.%s[%ld]: %s", c->type, f, idx, what);
	return proto_fail(c->err, code, "%s.%s: %s", c->type, f, what);
}

static enum proto_err
oom(struct dc *c)
{
	return proto_fail(c->err, PROTO_E_INTERNAL, "%s: out of memory", c->type);
}

/* Charsets of section 3-4. */
static bool
cs_id(const char *s, size_t n)
{
	return n == strlen(s) && proto_valid_id(s);
}

static bool
cs_lower_us(const char *s, size_t n) /* step, action: [a-z_] */
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_'))
			return false;
	return n > 0;
}

static bool
cs_command(const char *s, size_t n) /* [a-z_-] */
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_' || s[i] == '-'))
			return false;
	return n > 0;
}

static bool
cs_label_key(const char *s, size_t n) /* [A-Za-z0-9._/-] */
{
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '/' || ch == '-'))
			return false;
	}
	return n > 0;
}

static bool
cs_param_key(const char *s, size_t n) /* [a-z0-9_] */
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return n > 0;
}

static bool
cs_data_key(const char *s, size_t n) /* [a-z0-9_.-] */
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
		      s[i] == '.' || s[i] == '-'))
			return false;
	return n > 0;
}

/* An array with exactly n elements (a row of fields). */
static enum proto_err
get_row(struct dc *c, const msgpack_object *o, const char *f, long idx, uint32_t n,
        const msgpack_object **items)
{
	if (o->type != MSGPACK_OBJECT_ARRAY)
		return bad(c, PROTO_E_SCHEMA, f, idx, "expected an array of %u fields, got %s", n,
		           otype(o));
	if (o->via.array.size != n)
		return bad(c, PROTO_E_SCHEMA, f, idx, "expected %u fields, got %u", n,
		           o->via.array.size);
	*items = o->via.array.ptr;
	return PROTO_OK;
}

/* A list of min..max elements. */
static enum proto_err
get_list(struct dc *c, const msgpack_object *o, const char *f, uint32_t min, uint32_t max,
         const msgpack_object **items, size_t *n)
{
	if (o->type != MSGPACK_OBJECT_ARRAY)
		return bad(c, PROTO_E_SCHEMA, f, -1, "expected an array, got %s", otype(o));
	if (o->via.array.size > max)
		return bad(c, PROTO_E_LIMIT, f, -1, "%u elements, at most %u allowed",
		           o->via.array.size, max);
	if (o->via.array.size < min)
		return bad(c, PROTO_E_VALUE, f, -1, "%u elements, at least %u required",
		           o->via.array.size, min);
	*items = o->via.array.ptr;
	*n = o->via.array.size;
	return PROTO_OK;
}

/* A str of min..max bytes, valid UTF-8 without NUL, and in the charset. */
static enum proto_err
get_str(struct dc *c, const msgpack_object *o, const char *f, long idx, uint32_t min, uint32_t max,
        charset_fn cs, const char **out)
{
	if (o->type != MSGPACK_OBJECT_STR)
		return bad(c, PROTO_E_SCHEMA, f, idx, "expected str, got %s", otype(o));
	uint32_t n = o->via.str.size;
	if (n > max)
		return bad(c, PROTO_E_LIMIT, f, idx, "%u bytes, at most %u allowed", n, max);
	if (!proto_utf8_valid(o->via.str.ptr, n))
		return bad(c, PROTO_E_VALUE, f, idx, "not valid UTF-8 or contains NUL");
	if (n < min)
		return bad(c, PROTO_E_VALUE, f, idx, "%u bytes, at least %u required", n, min);
	char *s = arena_strndup(c->a, o->via.str.ptr, n);
	if (s == NULL)
		return oom(c);
	if (cs != NULL && n > 0 && !cs(s, n))
		return bad(c, PROTO_E_VALUE, f, idx,
		           "'%.64s' has characters or a form not allowed here", s);
	*out = s;
	return PROTO_OK;
}

static enum proto_err
get_id(struct dc *c, const msgpack_object *o, const char *f, long idx, const char **out)
{
	return get_str(c, o, f, idx, 1, PROTO_ID_MAX, cs_id, out);
}

static enum proto_err
get_enum(struct dc *c, const msgpack_object *o, const char *f, const char *const *allowed,
         const char **out)
{
	/* Any str that is not listed is VALUE, whatever its length. */
	enum proto_err e = get_str(c, o, f, -1, 0, PROTO_SCAN_MAX_STR, NULL, out);

	if (e != PROTO_OK)
		return e;
	for (size_t i = 0; allowed[i] != NULL; i++)
		if (strcmp(allowed[i], *out) == 0)
			return PROTO_OK;
	return bad(c, PROTO_E_VALUE, f, -1, "'%s' is not one of the allowed values", *out);
}

static enum proto_err
get_uint(struct dc *c, const msgpack_object *o, const char *f, long idx, uint64_t min, uint64_t max,
         uint64_t *out)
{
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return bad(c, PROTO_E_SCHEMA, f, idx, "expected uint, got %s", otype(o));
	if (o->via.u64 < min || o->via.u64 > max)
		return bad(c, PROTO_E_VALUE, f, idx, "%llu is outside %llu..%llu",
		           (unsigned long long)o->via.u64, (unsigned long long)min,
		           (unsigned long long)max);
	*out = o->via.u64;
	return PROTO_OK;
}

static enum proto_err
get_int(struct dc *c, const msgpack_object *o, const char *f, int64_t *out)
{
	if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
		*out = o->via.i64;
		return PROTO_OK;
	}
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return bad(c, PROTO_E_SCHEMA, f, -1, "expected int, got %s", otype(o));
	if (o->via.u64 > (uint64_t)INT64_MAX)
		return bad(c, PROTO_E_VALUE, f, -1, "%llu does not fit in int64",
		           (unsigned long long)o->via.u64);
	*out = (int64_t)o->via.u64;
	return PROTO_OK;
}

static enum proto_err
get_bool(struct dc *c, const msgpack_object *o, const char *f, bool *out)
{
	if (o->type != MSGPACK_OBJECT_BOOLEAN)
		return bad(c, PROTO_E_SCHEMA, f, -1, "expected bool, got %s", otype(o));
	*out = o->via.boolean;
	return PROTO_OK;
}

/* A bin of min..max bytes (element idx of f when idx >= 0); not copied
 * (callers copy what they keep). */
static enum proto_err
get_bin_at(struct dc *c, const msgpack_object *o, const char *f, long idx, uint32_t min,
           uint32_t max, const uint8_t **p, size_t *n)
{
	if (o->type != MSGPACK_OBJECT_BIN)
		return bad(c, PROTO_E_SCHEMA, f, idx, "expected bin, got %s", otype(o));
	if (o->via.bin.size > max)
		return bad(c, PROTO_E_LIMIT, f, idx, "%u bytes, at most %u allowed",
		           o->via.bin.size, max);
	if (o->via.bin.size < min)
		return bad(c, PROTO_E_VALUE, f, idx, "%u bytes, at least %u required",
		           o->via.bin.size, min);
	*p = (const uint8_t *)o->via.bin.ptr;
	*n = o->via.bin.size;
	return PROTO_OK;
}

static enum proto_err
get_bin(struct dc *c, const msgpack_object *o, const char *f, uint32_t min, uint32_t max,
        const uint8_t **p, size_t *n)
{
	return get_bin_at(c, o, f, -1, min, max, p, n);
}

static enum proto_err
get_bin_exact(struct dc *c, const msgpack_object *o, const char *f, uint32_t len, uint8_t *out)
{
	const uint8_t *p = NULL;
	size_t n = 0;
	enum proto_err e = get_bin(c, o, f, len, len, &p, &n);

	if (e == PROTO_OK)
		memcpy(out, p, len);
	return e;
}

/* A map of str keys (kmin..kmax bytes in charset kcs) to str values. */
static enum proto_err
get_kv(struct dc *c, const msgpack_object *o, const char *f, uint32_t max, uint32_t kmin,
       uint32_t kmax, charset_fn kcs, uint32_t vmax, struct proto_kv **out, size_t *n)
{
	if (o->type != MSGPACK_OBJECT_MAP)
		return bad(c, PROTO_E_SCHEMA, f, -1, "expected a map, got %s", otype(o));
	uint32_t size = o->via.map.size;
	if (size > max)
		return bad(c, PROTO_E_LIMIT, f, -1, "%u entries, at most %u allowed", size, max);
	struct proto_kv *kv = arena_alloc(c->a, (size ? size : 1) * sizeof(*kv));
	if (kv == NULL)
		return oom(c);
	for (uint32_t i = 0; i < size; i++) {
		const msgpack_object_kv *p = &o->via.map.ptr[i];
		enum proto_err e = get_str(c, &p->key, f, (long)i, kmin, kmax, kcs, &kv[i].key);
		if (e != PROTO_OK)
			return e;
		for (uint32_t j = 0; j < i; j++)
			if (strcmp(kv[j].key, kv[i].key) == 0)
				return bad(c, PROTO_E_VALUE, f, (long)i, "duplicate key '%s'",
				           kv[i].key);
		e = get_str(c, &p->val, f, (long)i, 0, vmax, NULL, &kv[i].value);
		if (e != PROTO_OK)
			return e;
	}
	*out = kv;
	*n = size;
	return PROTO_OK;
}

#define TRY(expr)                                                                                  \
	do {                                                                                       \
		enum proto_err e_ = (expr);                                                        \
		if (e_ != PROTO_OK)                                                                \
			return e_;                                                                 \
	} while (0)

static enum proto_err
dec_hello(struct dc *c, const msgpack_object *f, struct proto_hello *m)
{
	const msgpack_object *caps;
	size_t n = 0;

	TRY(get_id(c, &f[0], "host_id", -1, &m->host_id));
	TRY(get_str(c, &f[1], "agent_version", -1, 1, 32, NULL, &m->agent_version));
	TRY(get_bin_exact(c, &f[2], "incarnation", PROTO_INCARN_LEN, m->incarnation));
	TRY(get_kv(c, &f[3], "labels", 32, 1, 64, cs_label_key, 128, &m->labels, &m->n_labels));
	TRY(get_list(c, &f[4], "capabilities", 0, 32, &caps, &n));
	m->capabilities = arena_alloc(c->a, (n ? n : 1) * sizeof(char *));
	if (m->capabilities == NULL)
		return oom(c);
	for (size_t i = 0; i < n; i++)
		TRY(get_str(c, &caps[i], "capabilities", (long)i, 1, 32, NULL,
		            &m->capabilities[i]));
	m->n_capabilities = n;
	TRY(get_uint(c, &f[5], "sent_ms", -1, 0, PROTO_UINT_MAX, &m->sent_ms));
	return PROTO_OK;
}

static enum proto_err
dec_welcome(struct dc *c, const msgpack_object *f, struct proto_welcome *m)
{
	TRY(get_id(c, &f[0], "coordinator_id", -1, &m->coordinator_id));
	TRY(get_uint(c, &f[1], "heartbeat_ms", -1, 1000, 600000, &m->heartbeat_ms));
	TRY(get_uint(c, &f[2], "lost_after", -1, 1, 100, &m->lost_after));
	TRY(get_uint(c, &f[3], "now_ms", -1, 0, PROTO_UINT_MAX, &m->now_ms));
	return PROTO_OK;
}

static const char *const container_states[] = {"created", "restarting", "running", "removing",
                                               "paused",  "exited",     "dead",    "absent",
                                               "unknown", NULL};
static const char *const health_states[] = {"healthy", "unhealthy", "starting", "unknown", NULL};
static const char *const progress_states[] = {"running", "ok", "failed", "skipped", NULL};
static const char *const result_states[] = {"ok", "failed", "skipped", "interrupted", NULL};

static enum proto_err
dec_heartbeat(struct dc *c, const msgpack_object *f, struct proto_heartbeat *m)
{
	const msgpack_object *row, *list;
	size_t n = 0;

	TRY(get_id(c, &f[0], "host_id", -1, &m->host_id));
	TRY(get_bin_exact(c, &f[1], "incarnation", PROTO_INCARN_LEN, m->incarnation));
	TRY(get_uint(c, &f[2], "seq", -1, 0, PROTO_UINT_MAX, &m->seq));
	TRY(get_uint(c, &f[3], "sent_ms", -1, 0, PROTO_UINT_MAX, &m->sent_ms));
	if (f[4].type != MSGPACK_OBJECT_NIL) {
		struct proto_container *o = &m->odc;
		TRY(get_row(c, &f[4], "odc", -1, 6, &row));
		TRY(get_str(c, &row[0], "odc.container_id", -1, 0, 64, NULL, &o->container_id));
		TRY(get_str(c, &row[1], "odc.name", -1, 0, 128, NULL, &o->name));
		TRY(get_str(c, &row[2], "odc.image", -1, 0, 256, NULL, &o->image));
		TRY(get_enum(c, &row[3], "odc.state", container_states, &o->state));
		TRY(get_enum(c, &row[4], "odc.health", health_states, &o->health));
		TRY(get_str(c, &row[5], "odc.version", -1, 0, 32, NULL, &o->version));
		m->has_odc = true;
	}
	if (f[5].type != MSGPACK_OBJECT_NIL) {
		TRY(get_row(c, &f[5], "job", -1, 2, &row));
		TRY(get_id(c, &row[0], "job.job_id", -1, &m->job_id));
		TRY(get_str(c, &row[1], "job.step", -1, 1, 32, cs_lower_us, &m->job_step));
		m->has_job = true;
	}
	TRY(get_list(c, &f[6], "disks", 0, 16, &list, &n));
	m->disks = arena_alloc(c->a, (n ? n : 1) * sizeof(*m->disks));
	if (m->disks == NULL)
		return oom(c);
	for (size_t i = 0; i < n; i++) {
		TRY(get_row(c, &list[i], "disks", (long)i, 3, &row));
		TRY(get_str(c, &row[0], "disks.path", (long)i, 1, 4096, NULL, &m->disks[i].path));
		TRY(get_uint(c, &row[1], "disks.free_bytes", (long)i, 0, PROTO_UINT_MAX,
		             &m->disks[i].free_bytes));
		TRY(get_uint(c, &row[2], "disks.total_bytes", (long)i, 0, PROTO_UINT_MAX,
		             &m->disks[i].total_bytes));
	}
	m->n_disks = n;
	if (f[7].type != MSGPACK_OBJECT_NIL) {
		struct proto_metadb *d = &m->metadb;
		TRY(get_row(c, &f[7], "metadb", -1, 5, &row));
		TRY(get_str(c, &row[0], "metadb.host", -1, 1, 255, NULL, &d->host));
		TRY(get_uint(c, &row[1], "metadb.port", -1, 1, 65535, &d->port));
		TRY(get_str(c, &row[2], "metadb.tenant", -1, 0, 128, NULL, &d->tenant));
		TRY(get_str(c, &row[3], "metadb.cluster", -1, 0, 128, NULL, &d->cluster));
		TRY(get_str(c, &row[4], "metadb.database", -1, 1, 128, NULL, &d->database));
		m->has_metadb = true;
	}
	return PROTO_OK;
}

static enum proto_err
dec_progress(struct dc *c, const msgpack_object *f, struct proto_progress *m)
{
	TRY(get_id(c, &f[0], "job_id", -1, &m->job_id));
	TRY(get_id(c, &f[1], "host_id", -1, &m->host_id));
	TRY(get_str(c, &f[2], "step", -1, 1, 32, cs_lower_us, &m->step));
	TRY(get_enum(c, &f[3], "status", progress_states, &m->status));
	TRY(get_uint(c, &f[4], "at_ms", -1, 0, PROTO_UINT_MAX, &m->at_ms));
	TRY(get_uint(c, &f[5], "percent", -1, 0, 100, &m->percent));
	TRY(get_str(c, &f[6], "message", -1, 0, 512, NULL, &m->message));
	return PROTO_OK;
}

static enum proto_err
dec_result(struct dc *c, const msgpack_object *f, struct proto_result *m)
{
	TRY(get_id(c, &f[0], "job_id", -1, &m->job_id));
	TRY(get_id(c, &f[1], "host_id", -1, &m->host_id));
	TRY(get_str(c, &f[2], "step", -1, 1, 32, cs_lower_us, &m->step));
	TRY(get_enum(c, &f[3], "status", result_states, &m->status));
	TRY(get_int(c, &f[4], "exit_code", &m->exit_code));
	TRY(get_uint(c, &f[5], "started_ms", -1, 0, PROTO_UINT_MAX, &m->started_ms));
	TRY(get_uint(c, &f[6], "duration_ms", -1, 0, PROTO_UINT_MAX, &m->duration_ms));
	TRY(get_str(c, &f[7], "message", -1, 0, 1024, NULL, &m->message));
	TRY(get_str(c, &f[8], "output_tail", -1, 0, 16384, NULL, &m->output_tail));
	TRY(get_kv(c, &f[9], "data", 32, 1, 64, cs_data_key, 1024, &m->data, &m->n_data));
	TRY(get_bool(c, &f[10], "final", &m->final));
	TRY(get_bin_exact(c, &f[11], "incarnation", PROTO_INCARN_LEN, m->incarnation));
	return PROTO_OK;
}

static enum proto_err
dec_ack(struct dc *c, const msgpack_object *f, struct proto_ack *m, bool nack)
{
	const uint8_t *p = NULL;
	size_t n = 0;

	TRY(get_uint(c, &f[0], "ref_type", -1, 0, PROTO_UINT_MAX, &m->ref_type));
	if (proto_type_name((int)(m->ref_type & 0xff)) == NULL || m->ref_type > 0xff)
		return bad(c, PROTO_E_VALUE, "ref_type", -1, "%llu is not a message type",
		           (unsigned long long)m->ref_type);
	TRY(get_str(c, &f[1], "job_id", -1, 0, PROTO_ID_MAX, cs_id, &m->job_id));
	TRY(get_str(c, &f[2], "host_id", -1, 0, PROTO_ID_MAX, cs_id, &m->host_id));
	TRY(get_str(c, &f[3], "step", -1, 0, 32, cs_lower_us, &m->step));
	TRY(get_bin(c, &f[4], "nonce", 0, PROTO_NONCE_LEN, &p, &n));
	if (n != 0 && n != PROTO_NONCE_LEN)
		return bad(c, PROTO_E_VALUE, "nonce", -1, "%zu bytes, must be 0 or %d", n,
		           PROTO_NONCE_LEN);
	if (n > 0)
		memcpy(m->nonce, p, n);
	m->nonce_len = n;
	if (nack) {
		TRY(get_uint(c, &f[5], "code", -1, 1, PROTO_E_MAX, &m->code));
		TRY(get_str(c, &f[6], "message", -1, 0, 256, NULL, &m->message));
	} else {
		m->message = "";
	}
	return PROTO_OK;
}

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
get_id_list(struct dc *c, const msgpack_object *o, const char *f, const char ***out, size_t *nout)
{
	const msgpack_object *list;
	const char **ids;
	size_t n = 0, bad_at, dup_at;
	struct proto_error first_err;
	enum proto_err first_e = PROTO_OK;

	TRY(get_list(c, o, f, 1, PROTO_MAX_TARGETS, &list, &n));
	ids = arena_alloc(c->a, n * sizeof(char *));
	if (ids == NULL)
		return oom(c);
	bad_at = n;
	for (size_t i = 0; i < n; i++) {
		first_e = get_id(c, &list[i], f, (long)i, &ids[i]);
		if (first_e != PROTO_OK) {
			bad_at = i;
			first_err = *c->err;
			break;
		}
	}
	dup_at = find_dup(ids, bad_at);
	if (dup_at < bad_at)
		return bad(c, PROTO_E_VALUE, f, (long)dup_at, "duplicate host id '%s'",
		           ids[dup_at]);
	if (first_e != PROTO_OK) {
		*c->err = first_err;
		return first_e;
	}
	*out = ids;
	*nout = n;
	return PROTO_OK;
}

static enum proto_err
dec_job(struct dc *c, const msgpack_object *f, struct proto_job *m)
{
	const msgpack_object *row, *pol;
	struct proto_policy *p = &m->policy;

	TRY(get_id(c, &f[0], "job_id", -1, &m->job_id));
	TRY(get_str(c, &f[1], "action", -1, 1, 32, cs_lower_us, &m->action));
	TRY(get_kv(c, &f[2], "params", 32, 1, 32, cs_param_key, 4096, &m->params, &m->n_params));
	/* The targets are committed to, not listed (section 2): the list comes
	 * with the JOB message only, see proto_decode_job(). */
	TRY(get_row(c, &f[3], "targets", -1, 2, &row));
	TRY(get_uint(c, &row[0], "targets.count", -1, 1, PROTO_MAX_TARGETS, &m->target_count));
	TRY(get_bin_exact(c, &row[1], "targets.root", PROTO_HASH_LEN, m->target_root));
	m->targets = NULL;
	m->n_targets = 0;

	TRY(get_row(c, &f[4], "policy", -1, 8, &pol));
	TRY(get_uint(c, &pol[0], "policy.canary", -1, 0, m->target_count, &p->canary));
	TRY(get_uint(c, &pol[1], "policy.batch", -1, 1, PROTO_UINT_MAX, &p->batch));
	TRY(get_bool(c, &pol[2], "policy.batch_pct", &p->batch_pct));
	if (p->batch_pct && p->batch > 100)
		return bad(c, PROTO_E_VALUE, "policy.batch", -1, "%llu%% is more than 100%%",
		           (unsigned long long)p->batch);
	TRY(get_uint(c, &pol[3], "policy.budget", -1, 0, PROTO_UINT_MAX, &p->budget));
	TRY(get_bool(c, &pol[4], "policy.budget_pct", &p->budget_pct));
	if (p->budget_pct && p->budget > 100)
		return bad(c, PROTO_E_VALUE, "policy.budget", -1, "%llu%% is more than 100%%",
		           (unsigned long long)p->budget);
	TRY(get_uint(c, &pol[5], "policy.quorum_pct", -1, 0, 100, &p->quorum_pct));
	TRY(get_uint(c, &pol[6], "policy.step_deadline_s", -1, 1, 86400, &p->step_deadline_s));
	TRY(get_uint(c, &pol[7], "policy.job_deadline_s", -1, 1, 604800, &p->job_deadline_s));

	TRY(get_uint(c, &f[5], "created_ms", -1, 0, PROTO_UINT_MAX, &m->created_ms));
	TRY(get_uint(c, &f[6], "expires_ms", -1, 0, PROTO_UINT_MAX, &m->expires_ms));
	if (m->expires_ms <= m->created_ms || m->expires_ms - m->created_ms > 604800000u)
		return bad(c, PROTO_E_VALUE, "expires_ms", -1,
		           "must be after created_ms and at most 7 days later");
	TRY(get_str(c, &f[7], "operator", -1, 1, 64, NULL, &m->operator_name));
	TRY(get_str(c, &f[8], "reason", -1, 0, 256, NULL, &m->reason));
	return PROTO_OK;
}

static enum proto_err
dec_dispatch(struct dc *c, const msgpack_object *f, struct proto_dispatch *m)
{
	const msgpack_object *row, *path;
	const uint8_t *p = NULL;
	size_t n = 0;

	TRY(get_bin(c, &f[0], "job", 1, 1048576, &p, &n));
	uint8_t *copy = arena_alloc(c->a, n);
	if (copy == NULL)
		return oom(c);
	memcpy(copy, p, n);
	m->job_bytes = copy;
	m->job_len = n;
	TRY(get_bin_exact(c, &f[1], "job_sig", PROTO_SIGFRAME_LEN, m->job_sig));
	TRY(get_id(c, &f[2], "host_id", -1, &m->host_id));
	TRY(get_str(c, &f[3], "phase", -1, 1, 32, cs_lower_us, &m->phase));
	TRY(get_uint(c, &f[4], "not_before_ms", -1, 0, PROTO_UINT_MAX, &m->not_before_ms));
	TRY(get_uint(c, &f[5], "expires_ms", -1, 0, PROTO_UINT_MAX, &m->expires_ms));
	if (m->expires_ms <= m->not_before_ms || m->expires_ms - m->not_before_ms > 86400000u)
		return bad(c, PROTO_E_VALUE, "expires_ms", -1,
		           "must be after not_before_ms and at most 24 hours later");
	TRY(get_bin_exact(c, &f[6], "nonce", PROTO_NONCE_LEN, m->nonce));
	/* Only the proof's types and bounds: whether it holds is the agent's
	 * step 9 (NOT_TARGET), which knows its own id. */
	TRY(get_row(c, &f[7], "target_proof", -1, 2, &row));
	TRY(get_uint(c, &row[0], "target_proof.index", -1, 0, PROTO_UINT_MAX, &m->proof_index));
	TRY(get_list(c, &row[1], "target_proof.path", 0, PROTO_PROOF_MAX, &path, &n));
	for (size_t i = 0; i < n; i++) {
		const uint8_t *h = NULL;
		size_t hl = 0;
		TRY(get_bin_at(c, &path[i], "target_proof.path", (long)i, PROTO_HASH_LEN,
		               PROTO_HASH_LEN, &h, &hl));
		memcpy(m->proof[i], h, PROTO_HASH_LEN);
	}
	m->proof_len = n;
	return PROTO_OK;
}

/* msgpack -> JSON for REQUEST args and REPLY bodies; depth is already
 * bounded by the scan, so the recursion is too. */
static enum proto_err
to_json(struct dc *c, const msgpack_object *o, const char *f, json_t **out)
{
	json_t *j = NULL;

	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		j = json_null();
		break;
	case MSGPACK_OBJECT_BOOLEAN:
		j = json_boolean(o->via.boolean);
		break;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		if (o->via.u64 > (uint64_t)INT64_MAX)
			return bad(c, PROTO_E_VALUE, f, -1, "%llu does not fit in int64",
			           (unsigned long long)o->via.u64);
		j = json_integer((json_int_t)o->via.u64);
		break;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		j = json_integer((json_int_t)o->via.i64);
		break;
	case MSGPACK_OBJECT_STR:
		if (!proto_utf8_valid(o->via.str.ptr, o->via.str.size))
			return bad(c, PROTO_E_VALUE, f, -1, "not valid UTF-8 or contains NUL");
		/* msgpack-c may give NULL for an empty str; jansson refuses NULL. */
		j = json_stringn(o->via.str.size ? o->via.str.ptr : "", o->via.str.size);
		break;
	case MSGPACK_OBJECT_ARRAY:
		j = json_array();
		for (uint32_t i = 0; j != NULL && i < o->via.array.size; i++) {
			json_t *v;
			enum proto_err e = to_json(c, &o->via.array.ptr[i], f, &v);
			if (e != PROTO_OK) {
				json_decref(j);
				return e;
			}
			json_array_append_new(j, v);
		}
		break;
	case MSGPACK_OBJECT_MAP:
		j = json_object();
		for (uint32_t i = 0; j != NULL && i < o->via.map.size; i++) {
			const msgpack_object_kv *kv = &o->via.map.ptr[i];
			json_t *v;
			enum proto_err e;
			char key[256];
			if (kv->key.type != MSGPACK_OBJECT_STR) {
				json_decref(j);
				return bad(c, PROTO_E_SCHEMA, f, -1, "map key is %s, not str",
				           otype(&kv->key));
			}
			if (kv->key.via.str.size >= sizeof(key)) {
				json_decref(j);
				return bad(c, PROTO_E_LIMIT, f, -1, "map key longer than %zu bytes",
				           sizeof(key) - 1);
			}
			if (!proto_utf8_valid(kv->key.via.str.ptr, kv->key.via.str.size)) {
				json_decref(j);
				return bad(c, PROTO_E_VALUE, f, -1,
				           "map key not valid UTF-8 or contains NUL");
			}
			if (kv->key.via.str.size > 0)
				memcpy(key, kv->key.via.str.ptr, kv->key.via.str.size);
			key[kv->key.via.str.size] = '\0';
			if (json_object_get(j, key) != NULL) {
				json_decref(j);
				return bad(c, PROTO_E_VALUE, f, -1, "duplicate key '%.64s'", key);
			}
			e = to_json(c, &kv->val, f, &v);
			if (e != PROTO_OK) {
				json_decref(j);
				return e;
			}
			json_object_set_new(j, key, v);
		}
		break;
	default:
		return bad(c, PROTO_E_SCHEMA, f, -1, "%s is not allowed here", otype(o));
	}
	if (j == NULL)
		return oom(c);
	*out = j;
	return PROTO_OK;
}

static enum proto_err
hold(struct dc *c, json_t *j)
{
	if (arena_hold_json(c->a, j) != 0) {
		json_decref(j);
		return oom(c);
	}
	return PROTO_OK;
}

static enum proto_err
dec_request(struct dc *c, const msgpack_object *f, struct proto_request *m)
{
	json_t *args;

	TRY(get_uint(c, &f[0], "request_id", -1, 0, PROTO_UINT_MAX, &m->request_id));
	TRY(get_str(c, &f[1], "command", -1, 1, 32, cs_command, &m->command));
	if (f[2].type != MSGPACK_OBJECT_MAP)
		return bad(c, PROTO_E_SCHEMA, "args", -1, "expected a map, got %s", otype(&f[2]));
	if (f[2].via.map.size > 64)
		return bad(c, PROTO_E_LIMIT, "args", -1, "%u entries, at most 64 allowed",
		           f[2].via.map.size);
	for (uint32_t i = 0; i < f[2].via.map.size; i++) {
		const msgpack_object_kv *kv = &f[2].via.map.ptr[i];
		const char *key;
		TRY(get_str(c, &kv->key, "args", (long)i, 1, 64, NULL, &key));
		for (uint32_t k = 0; k < i; k++) {
			const msgpack_object *pk = &f[2].via.map.ptr[k].key;
			if (pk->via.str.size == kv->key.via.str.size &&
			    memcmp(pk->via.str.ptr, key, pk->via.str.size) == 0)
				return bad(c, PROTO_E_VALUE, "args", (long)i, "duplicate key '%s'",
				           key);
		}
		switch (kv->val.type) {
		case MSGPACK_OBJECT_NIL:
		case MSGPACK_OBJECT_BOOLEAN:
		case MSGPACK_OBJECT_NEGATIVE_INTEGER:
			break;
		case MSGPACK_OBJECT_POSITIVE_INTEGER: {
			int64_t v;
			TRY(get_int(c, &kv->val, "args", &v));
			break;
		}
		case MSGPACK_OBJECT_STR: {
			const char *s;
			TRY(get_str(c, &kv->val, "args", (long)i, 0, 65536, NULL, &s));
			break;
		}
		case MSGPACK_OBJECT_ARRAY: {
			const msgpack_object *items;
			size_t n;
			const char *s;
			TRY(get_list(c, &kv->val, "args", 0, 10000, &items, &n));
			for (size_t k = 0; k < n; k++)
				TRY(get_str(c, &items[k], "args", (long)i, 0, 256, NULL, &s));
			break;
		}
		default:
			return bad(c, PROTO_E_SCHEMA, "args", (long)i,
			           "%s is not allowed as an argument", otype(&kv->val));
		}
	}
	/* Every entry is valid now; only memory can fail the conversion. */
	TRY(to_json(c, &f[2], "args", &args));
	TRY(hold(c, args));
	m->args = args;
	return PROTO_OK;
}

static enum proto_err
dec_reply(struct dc *c, const msgpack_object *f, struct proto_reply *m)
{
	json_t *body;

	TRY(get_uint(c, &f[0], "request_id", -1, 0, PROTO_UINT_MAX, &m->request_id));
	TRY(get_uint(c, &f[1], "code", -1, 0, PROTO_E_MAX, &m->code));
	TRY(get_str(c, &f[2], "message", -1, 0, 1024, NULL, &m->message));
	TRY(to_json(c, &f[3], "body", &body));
	TRY(hold(c, body));
	m->body = json_is_null(body) ? NULL : body;
	return PROTO_OK;
}

enum proto_err
proto_decode_body(int type, const uint8_t *body, size_t len, struct proto_msg **out,
                  struct proto_error *err)
{
	struct proto_msg *m = NULL;
	msgpack_unpacked up;
	size_t off = 0;
	enum proto_err e;
	const char *tname = proto_type_name(type);
	struct dc c;

	*out = NULL;
	msgpack_unpacked_init(&up);
	if (tname == NULL) {
		e = proto_fail(err, PROTO_E_TYPE, "unknown message type 0x%02x", type & 0xff);
		goto out;
	}
	if (len > proto_type_max_body(type)) {
		e = proto_fail(err, PROTO_E_TOO_BIG, "%s body of %zu bytes exceeds %zu", tname, len,
		               proto_type_max_body(type));
		goto out;
	}
	e = proto_scan(body, len, err);
	if (e != PROTO_OK)
		goto out;
	if (msgpack_unpack_next(&up, (const char *)body, len, &off) != MSGPACK_UNPACK_SUCCESS) {
		e = proto_fail(err, PROTO_E_MALFORMED, "%s body: msgpack-c refused it", tname);
		goto out;
	}
	m = calloc(1, sizeof(*m));
	if (m == NULL || (m->arena = arena_new()) == NULL) {
		e = proto_fail(err, PROTO_E_INTERNAL, "out of memory");
		goto out;
	}
	m->type = (enum proto_type)type;
	c.a = m->arena;
	c.err = err;
	c.type = tname;
	const msgpack_object *f;
	const msgpack_object *root = &up.data;
	if (root->type != MSGPACK_OBJECT_ARRAY) {
		e = proto_fail(err, PROTO_E_SCHEMA, "%s body is %s, not an array", tname,
		               otype(root));
		goto out;
	}
	if (root->via.array.size != proto_type_fields(type)) {
		e = proto_fail(err, PROTO_E_SCHEMA, "%s body has %u fields, not %u", tname,
		               root->via.array.size, proto_type_fields(type));
		goto out;
	}
	f = root->via.array.ptr;
	switch (type) {
	case PROTO_HELLO:
		e = dec_hello(&c, f, &m->u.hello);
		break;
	case PROTO_WELCOME:
		e = dec_welcome(&c, f, &m->u.welcome);
		break;
	case PROTO_HEARTBEAT:
		e = dec_heartbeat(&c, f, &m->u.heartbeat);
		break;
	case PROTO_PROGRESS:
		e = dec_progress(&c, f, &m->u.progress);
		break;
	case PROTO_RESULT:
		e = dec_result(&c, f, &m->u.result);
		break;
	case PROTO_ACK:
		e = dec_ack(&c, f, &m->u.ack, false);
		break;
	case PROTO_NACK:
		e = dec_ack(&c, f, &m->u.ack, true);
		break;
	case PROTO_JOB:
		e = dec_job(&c, f, &m->u.job);
		break;
	case PROTO_DISPATCH:
		e = dec_dispatch(&c, f, &m->u.dispatch);
		break;
	case PROTO_REQUEST:
		e = dec_request(&c, f, &m->u.request);
		break;
	case PROTO_REPLY:
		e = dec_reply(&c, f, &m->u.reply);
		break;
	default:
		e = proto_fail(err, PROTO_E_TYPE, "unknown message type");
		break;
	}
out:
	msgpack_unpacked_destroy(&up);
	if (e != PROTO_OK) {
		proto_msg_free(m);
		return e;
	}
	*out = m;
	return PROTO_OK;
}

/* First 8 bytes of a hash as hex, for messages. */
static const char *
hash_prefix(const uint8_t h[PROTO_HASH_LEN], char out[17])
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 0; i < 8; i++) {
		out[2 * i] = digits[h[i] >> 4];
		out[2 * i + 1] = digits[h[i] & 15];
	}
	out[16] = '\0';
	return out;
}

/* The JOB message's frame 3 (PROTOCOL.md section 4, JOB): read with section
 * 3's rules like a body, then matched against the decoded body's signed
 * count and root. On success the ids are in m's arena and m->u.job lists them. */
static enum proto_err
dec_target_list(struct proto_msg *m, const uint8_t *list, size_t llen, struct proto_error *err)
{
	struct proto_job *j = &m->u.job;
	struct dc c = {m->arena, err, "JOB"};
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
		e = bad(&c, PROTO_E_VALUE, "target_list", -1,
		        "%zu ids, but the signed targets.count is %llu", n,
		        (unsigned long long)j->target_count);
		goto out;
	}
	if (proto_merkle_root(ids, n, root) != 0) {
		e = oom(&c);
		goto out;
	}
	if (memcmp(root, j->target_root, PROTO_HASH_LEN) != 0) {
		e = bad(&c, PROTO_E_VALUE, "target_list", -1,
		        "its Merkle root %s... is not the signed targets.root %s...",
		        hash_prefix(root, h1), hash_prefix(j->target_root, h2));
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
