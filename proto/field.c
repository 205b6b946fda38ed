/* The bounded field readers of PROTOCOL.md sections 3-4: each checks one
 * msgpack-c object's type, bounds and charset, copies what it keeps into
 * the message's arena, and on failure names the field in the error. Used
 * by decode.c's per-type decoders and by targets.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/field.h"

const char *
field_type_name(const msgpack_object *o)
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
enum proto_err
field_bad(struct field_ctx *c, enum proto_err code, const char *f, long idx, const char *fmt, ...)
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

enum proto_err
field_oom(struct field_ctx *c)
{
	return proto_fail(c->err, PROTO_E_INTERNAL, "%s: out of memory", c->type);
}

/* Charsets of section 3-4. */
bool
field_cs_id(const char *s, size_t n)
{
	return n == strlen(s) && proto_valid_id(s);
}

bool
field_cs_lower_us(const char *s, size_t n) /* step, action: [a-z_] */
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_'))
			return false;
	return n > 0;
}

bool
field_cs_command(const char *s, size_t n) /* [a-z_-] */
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_' || s[i] == '-'))
			return false;
	return n > 0;
}

bool
field_cs_label_key(const char *s, size_t n) /* [A-Za-z0-9._/-] */
{
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '/' || ch == '-'))
			return false;
	}
	return n > 0;
}

bool
field_cs_param_key(const char *s, size_t n) /* [a-z0-9_] */
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return n > 0;
}

bool
field_cs_data_key(const char *s, size_t n) /* [a-z0-9_.-] */
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
		      s[i] == '.' || s[i] == '-'))
			return false;
	return n > 0;
}

/* An array with exactly n elements (a row of fields). */
enum proto_err
field_row(struct field_ctx *c, const msgpack_object *o, const char *f, long idx, uint32_t n,
          const msgpack_object **items)
{
	if (o->type != MSGPACK_OBJECT_ARRAY)
		return field_bad(c, PROTO_E_SCHEMA, f, idx,
		                 "expected an array of %u fields, got %s", n, field_type_name(o));
	if (o->via.array.size != n)
		return field_bad(c, PROTO_E_SCHEMA, f, idx, "expected %u fields, got %u", n,
		                 o->via.array.size);
	*items = o->via.array.ptr;
	return PROTO_OK;
}

/* A list of min..max elements. */
enum proto_err
field_list(struct field_ctx *c, const msgpack_object *o, const char *f, uint32_t min, uint32_t max,
           const msgpack_object **items, size_t *n)
{
	if (o->type != MSGPACK_OBJECT_ARRAY)
		return field_bad(c, PROTO_E_SCHEMA, f, -1, "expected an array, got %s",
		                 field_type_name(o));
	if (o->via.array.size > max)
		return field_bad(c, PROTO_E_LIMIT, f, -1, "%u elements, at most %u allowed",
		                 o->via.array.size, max);
	if (o->via.array.size < min)
		return field_bad(c, PROTO_E_VALUE, f, -1, "%u elements, at least %u required",
		                 o->via.array.size, min);
	*items = o->via.array.ptr;
	*n = o->via.array.size;
	return PROTO_OK;
}

/* A str of min..max bytes, valid UTF-8 without NUL, and in the charset. */
enum proto_err
field_str(struct field_ctx *c, const msgpack_object *o, const char *f, long idx, uint32_t min,
          uint32_t max, field_charset_fn cs, const char **out)
{
	if (o->type != MSGPACK_OBJECT_STR)
		return field_bad(c, PROTO_E_SCHEMA, f, idx, "expected str, got %s",
		                 field_type_name(o));
	uint32_t n = o->via.str.size;
	if (n > max)
		return field_bad(c, PROTO_E_LIMIT, f, idx, "%u bytes, at most %u allowed", n, max);
	if (!proto_utf8_valid(o->via.str.ptr, n))
		return field_bad(c, PROTO_E_VALUE, f, idx, "not valid UTF-8 or contains NUL");
	if (n < min)
		return field_bad(c, PROTO_E_VALUE, f, idx, "%u bytes, at least %u required", n,
		                 min);
	char *s = arena_strndup(c->a, o->via.str.ptr, n);
	if (s == NULL)
		return field_oom(c);
	if (cs != NULL && n > 0 && !cs(s, n))
		return field_bad(c, PROTO_E_VALUE, f, idx,
		                 "'%.64s' has characters or a form not allowed here", s);
	*out = s;
	return PROTO_OK;
}

enum proto_err
field_id(struct field_ctx *c, const msgpack_object *o, const char *f, long idx, const char **out)
{
	return field_str(c, o, f, idx, 1, PROTO_ID_MAX, field_cs_id, out);
}

enum proto_err
field_enum(struct field_ctx *c, const msgpack_object *o, const char *f, const char *const *allowed,
           const char **out)
{
	/* Any str that is not listed is VALUE, whatever its length. */
	enum proto_err e = field_str(c, o, f, -1, 0, PROTO_SCAN_MAX_STR, NULL, out);

	if (e != PROTO_OK)
		return e;
	for (size_t i = 0; allowed[i] != NULL; i++)
		if (strcmp(allowed[i], *out) == 0)
			return PROTO_OK;
	return field_bad(c, PROTO_E_VALUE, f, -1, "'%s' is not one of the allowed values", *out);
}

enum proto_err
field_uint(struct field_ctx *c, const msgpack_object *o, const char *f, long idx, uint64_t min,
           uint64_t max, uint64_t *out)
{
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return field_bad(c, PROTO_E_SCHEMA, f, idx, "expected uint, got %s",
		                 field_type_name(o));
	if (o->via.u64 < min || o->via.u64 > max)
		return field_bad(c, PROTO_E_VALUE, f, idx, "%llu is outside %llu..%llu",
		                 (unsigned long long)o->via.u64, (unsigned long long)min,
		                 (unsigned long long)max);
	*out = o->via.u64;
	return PROTO_OK;
}

enum proto_err
field_int(struct field_ctx *c, const msgpack_object *o, const char *f, int64_t *out)
{
	if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
		*out = o->via.i64;
		return PROTO_OK;
	}
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return field_bad(c, PROTO_E_SCHEMA, f, -1, "expected int, got %s",
		                 field_type_name(o));
	if (o->via.u64 > (uint64_t)INT64_MAX)
		return field_bad(c, PROTO_E_VALUE, f, -1, "%llu does not fit in int64",
		                 (unsigned long long)o->via.u64);
	*out = (int64_t)o->via.u64;
	return PROTO_OK;
}

enum proto_err
field_bool(struct field_ctx *c, const msgpack_object *o, const char *f, bool *out)
{
	if (o->type != MSGPACK_OBJECT_BOOLEAN)
		return field_bad(c, PROTO_E_SCHEMA, f, -1, "expected bool, got %s",
		                 field_type_name(o));
	*out = o->via.boolean;
	return PROTO_OK;
}

/* A bin of min..max bytes (element idx of f when idx >= 0); not copied
 * (callers copy what they keep). */
enum proto_err
field_bin_at(struct field_ctx *c, const msgpack_object *o, const char *f, long idx, uint32_t min,
             uint32_t max, const uint8_t **p, size_t *n)
{
	if (o->type != MSGPACK_OBJECT_BIN)
		return field_bad(c, PROTO_E_SCHEMA, f, idx, "expected bin, got %s",
		                 field_type_name(o));
	if (o->via.bin.size > max)
		return field_bad(c, PROTO_E_LIMIT, f, idx, "%u bytes, at most %u allowed",
		                 o->via.bin.size, max);
	if (o->via.bin.size < min)
		return field_bad(c, PROTO_E_VALUE, f, idx, "%u bytes, at least %u required",
		                 o->via.bin.size, min);
	*p = (const uint8_t *)o->via.bin.ptr;
	*n = o->via.bin.size;
	return PROTO_OK;
}

enum proto_err
field_bin(struct field_ctx *c, const msgpack_object *o, const char *f, uint32_t min, uint32_t max,
          const uint8_t **p, size_t *n)
{
	return field_bin_at(c, o, f, -1, min, max, p, n);
}

enum proto_err
field_bin_exact(struct field_ctx *c, const msgpack_object *o, const char *f, uint32_t len,
                uint8_t *out)
{
	const uint8_t *p = NULL;
	size_t n = 0;
	enum proto_err e = field_bin(c, o, f, len, len, &p, &n);

	if (e == PROTO_OK)
		memcpy(out, p, len);
	return e;
}

/* A map of str keys (kmin..kmax bytes in charset kcs) to str values. */
enum proto_err
field_kv(struct field_ctx *c, const msgpack_object *o, const char *f, uint32_t max, uint32_t kmin,
         uint32_t kmax, field_charset_fn kcs, uint32_t vmax, struct proto_kv **out, size_t *n)
{
	if (o->type != MSGPACK_OBJECT_MAP)
		return field_bad(c, PROTO_E_SCHEMA, f, -1, "expected a map, got %s",
		                 field_type_name(o));
	uint32_t size = o->via.map.size;
	if (size > max)
		return field_bad(c, PROTO_E_LIMIT, f, -1, "%u entries, at most %u allowed", size,
		                 max);
	struct proto_kv *kv = arena_alloc(c->a, (size ? size : 1) * sizeof(*kv));
	if (kv == NULL)
		return field_oom(c);
	for (uint32_t i = 0; i < size; i++) {
		const msgpack_object_kv *p = &o->via.map.ptr[i];
		enum proto_err e = field_str(c, &p->key, f, (long)i, kmin, kmax, kcs, &kv[i].key);
		if (e != PROTO_OK)
			return e;
		for (uint32_t j = 0; j < i; j++)
			if (strcmp(kv[j].key, kv[i].key) == 0)
				return field_bad(c, PROTO_E_VALUE, f, (long)i, "duplicate key '%s'",
				                 kv[i].key);
		e = field_str(c, &p->val, f, (long)i, 0, vmax, NULL, &kv[i].value);
		if (e != PROTO_OK)
			return e;
	}
	*out = kv;
	*n = size;
	return PROTO_OK;
}

/* msgpack -> JSON for REQUEST args and REPLY bodies; depth is already
 * bounded by the scan, so the recursion is too. */
enum proto_err
field_json(struct field_ctx *c, const msgpack_object *o, const char *f, json_t **out)
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
			return field_bad(c, PROTO_E_VALUE, f, -1, "%llu does not fit in int64",
			                 (unsigned long long)o->via.u64);
		j = json_integer((json_int_t)o->via.u64);
		break;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		j = json_integer((json_int_t)o->via.i64);
		break;
	case MSGPACK_OBJECT_STR:
		if (!proto_utf8_valid(o->via.str.ptr, o->via.str.size))
			return field_bad(c, PROTO_E_VALUE, f, -1,
			                 "not valid UTF-8 or contains NUL");
		/* msgpack-c may give NULL for an empty str; jansson refuses NULL. */
		j = json_stringn(o->via.str.size ? o->via.str.ptr : "", o->via.str.size);
		break;
	case MSGPACK_OBJECT_ARRAY:
		j = json_array();
		for (uint32_t i = 0; j != NULL && i < o->via.array.size; i++) {
			json_t *v;
			enum proto_err e = field_json(c, &o->via.array.ptr[i], f, &v);
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
				return field_bad(c, PROTO_E_SCHEMA, f, -1, "map key is %s, not str",
				                 field_type_name(&kv->key));
			}
			if (kv->key.via.str.size >= sizeof(key)) {
				json_decref(j);
				return field_bad(c, PROTO_E_LIMIT, f, -1,
				                 "map key longer than %zu bytes", sizeof(key) - 1);
			}
			if (!proto_utf8_valid(kv->key.via.str.ptr, kv->key.via.str.size)) {
				json_decref(j);
				return field_bad(c, PROTO_E_VALUE, f, -1,
				                 "map key not valid UTF-8 or contains NUL");
			}
			if (kv->key.via.str.size > 0)
				memcpy(key, kv->key.via.str.ptr, kv->key.via.str.size);
			key[kv->key.via.str.size] = '\0';
			if (json_object_get(j, key) != NULL) {
				json_decref(j);
				return field_bad(c, PROTO_E_VALUE, f, -1, "duplicate key '%.64s'",
				                 key);
			}
			e = field_json(c, &kv->val, f, &v);
			if (e != PROTO_OK) {
				json_decref(j);
				return e;
			}
			json_object_set_new(j, key, v);
		}
		break;
	default:
		return field_bad(c, PROTO_E_SCHEMA, f, -1, "%s is not allowed here",
		                 field_type_name(o));
	}
	if (j == NULL)
		return field_oom(c);
	*out = j;
	return PROTO_OK;
}

enum proto_err
field_hold_json(struct field_ctx *c, json_t *j)
{
	if (arena_hold_json(c->a, j) != 0) {
		json_decref(j);
		return field_oom(c);
	}
	return PROTO_OK;
}
