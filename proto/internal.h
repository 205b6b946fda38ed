/* Internal to proto/: the arena that owns a decoded message, the error
 * helper, the type table's field counts, UTF-8 and hex helpers shared by
 * the files of proto/ (field.h adds the decoders' field readers). */
#ifndef ODC_PROTO_INTERNAL_H
#define ODC_PROTO_INTERNAL_H

#include <stdarg.h>

#include "proto/proto.h"

/* Generic bounds of section 3. */
#define PROTO_SCAN_MAX_STR   65536u
#define PROTO_SCAN_MAX_BIN   1052672u
#define PROTO_SCAN_MAX_ARRAY 100000u
#define PROTO_SCAN_MAX_MAP   10000u

/* Arena: every allocation of one decoded message, freed at once. */
struct proto_arena *arena_new(void);
void *arena_alloc(struct proto_arena *a, size_t n);
char *arena_strndup(struct proto_arena *a, const char *s, size_t n);
void arena_free(struct proto_arena *a);
/* JSON values held by the message, released with the arena. */
int arena_hold_json(struct proto_arena *a, json_t *j);

enum proto_err proto_fail(struct proto_error *err, enum proto_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

bool proto_utf8_valid(const char *s, size_t n);

/* Lower-case hex of p's n bytes into out, which holds 2n + 1 bytes (NUL
 * included); returns out. */
char *proto_hex(const uint8_t *p, size_t n, char *out);

/* How many fields a body of type has (the array of section 4); 0 for an
 * unknown type. */
uint32_t proto_type_fields(int type);

#endif
