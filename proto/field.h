/* Internal to proto/: the bounded field readers of PROTOCOL.md sections 3-4
 * (field.c), shared by the per-type decoders (decode.c) and the target list
 * (targets.c). */
#ifndef ODC_PROTO_FIELD_H
#define ODC_PROTO_FIELD_H

#include <msgpack.h>

#include "proto/internal.h"

/* One decoding: the arena that receives what the readers keep, where a
 * failure is written, and the message type's name for errors ("JOB"). The
 * caller owns all three. */
struct field_ctx {
	struct proto_arena *a;
	struct proto_error *err;
	const char *type;
};

/* A charset check over s's n bytes (s is NUL-terminated). */
typedef bool (*field_charset_fn)(const char *s, size_t n);

/* Every reader below returns PROTO_OK, or writes "TYPE.f[idx]: why" to
 * c->err and returns its code (an idx < 0 is left out). Strings, lists and
 * maps they return live in c->a; a bin is not copied (field_bin's caller
 * copies what it keeps). */

/* The name of o's msgpack type for messages ("str", "uint"). */
const char *field_type_name(const msgpack_object *o);
/* Writes a failure of field f and returns code. */
enum proto_err field_bad(struct field_ctx *c, enum proto_err code, const char *f, long idx,
                         const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* INTERNAL "TYPE: out of memory". */
enum proto_err field_oom(struct field_ctx *c);

/* Charsets of sections 3-4: an id, a step or action [a-z_], a command
 * [a-z_-], a label key [A-Za-z0-9._/-], a parameter key [a-z0-9_], a data
 * key [a-z0-9_.-]; all false for an empty string. */
bool field_cs_id(const char *s, size_t n);
bool field_cs_lower_us(const char *s, size_t n);
bool field_cs_command(const char *s, size_t n);
bool field_cs_label_key(const char *s, size_t n);
bool field_cs_param_key(const char *s, size_t n);
bool field_cs_data_key(const char *s, size_t n);

/* An array of exactly n fields: *items points into o. */
enum proto_err field_row(struct field_ctx *c, const msgpack_object *o, const char *f, long idx,
                         uint32_t n, const msgpack_object **items);
/* A list of min..max elements: *items points into o. */
enum proto_err field_list(struct field_ctx *c, const msgpack_object *o, const char *f, uint32_t min,
                          uint32_t max, const msgpack_object **items, size_t *n);
/* A str of min..max bytes, valid UTF-8 without NUL, in charset cs (NULL:
 * any), copied to the arena. */
enum proto_err field_str(struct field_ctx *c, const msgpack_object *o, const char *f, long idx,
                         uint32_t min, uint32_t max, field_charset_fn cs, const char **out);
/* An id (section 3): 1..PROTO_ID_MAX bytes of field_cs_id. */
enum proto_err field_id(struct field_ctx *c, const msgpack_object *o, const char *f, long idx,
                        const char **out);
/* A str that is one of allowed (NULL-terminated); *out is the arena's copy. */
enum proto_err field_enum(struct field_ctx *c, const msgpack_object *o, const char *f,
                          const char *const *allowed, const char **out);
enum proto_err field_uint(struct field_ctx *c, const msgpack_object *o, const char *f, long idx,
                          uint64_t min, uint64_t max, uint64_t *out);
/* An int that fits int64. */
enum proto_err field_int(struct field_ctx *c, const msgpack_object *o, const char *f, int64_t *out);
enum proto_err field_bool(struct field_ctx *c, const msgpack_object *o, const char *f, bool *out);
/* A bin of min..max bytes (element idx of f when idx >= 0); *p points into o. */
enum proto_err field_bin_at(struct field_ctx *c, const msgpack_object *o, const char *f, long idx,
                            uint32_t min, uint32_t max, const uint8_t **p, size_t *n);
enum proto_err field_bin(struct field_ctx *c, const msgpack_object *o, const char *f, uint32_t min,
                         uint32_t max, const uint8_t **p, size_t *n);
/* A bin of exactly len bytes, copied to out. */
enum proto_err field_bin_exact(struct field_ctx *c, const msgpack_object *o, const char *f,
                               uint32_t len, uint8_t *out);
/* A map of at most max entries: str keys (kmin..kmax bytes in charset
 * kcs, no duplicate) to str values of at most vmax bytes; *out in the arena. */
enum proto_err field_kv(struct field_ctx *c, const msgpack_object *o, const char *f, uint32_t max,
                        uint32_t kmin, uint32_t kmax, field_charset_fn kcs, uint32_t vmax,
                        struct proto_kv **out, size_t *n);
/* msgpack -> JSON (REQUEST args, REPLY bodies): no bin, no float, str map
 * keys without duplicates. *out is a new reference the caller owns (see
 * field_hold_json). Recursion is bounded by the scan's depth limit. */
enum proto_err field_json(struct field_ctx *c, const msgpack_object *o, const char *f,
                          json_t **out);
/* Hands j's reference to the arena; on failure j is released. */
enum proto_err field_hold_json(struct field_ctx *c, json_t *j);

/* Returns from the calling function when expr is not PROTO_OK. */
#define FIELD_TRY(expr)                                                                            \
	do {                                                                                       \
		enum proto_err e_ = (expr);                                                        \
		if (e_ != PROTO_OK)                                                                \
			return e_;                                                                 \
	} while (0)

#endif
