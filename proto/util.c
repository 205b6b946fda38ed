/* Shared pieces of proto/: type and error names, the decode arena, format
 * checks for ids, tags and paths, UTF-8 validation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "proto/internal.h"

/* Each type's name, largest body and number of body fields (the array of
 * section 4 its body is; the encoder writes it, the decoder requires it). */
static const struct {
	int type;
	const char *name;
	size_t max_body;
	uint32_t fields;
} types[] = {
    {PROTO_HELLO, "HELLO", 8192, 6},
    {PROTO_WELCOME, "WELCOME", 1024, 4},
    {PROTO_HEARTBEAT, "HEARTBEAT", 8192, 8},
    {PROTO_PROGRESS, "PROGRESS", 4096, 7},
    {PROTO_RESULT, "RESULT", 65536, 12},
    {PROTO_ACK, "ACK", 1024, 5},
    {PROTO_NACK, "NACK", 2048, 7},
    {PROTO_JOB, "JOB", 1048576, 9},
    {PROTO_DISPATCH, "DISPATCH", 1052672, 8},
    {PROTO_REQUEST, "REQUEST", 1052672, 3},
    {PROTO_REPLY, "REPLY", 16777216, 4},
};

static const char *const err_names[] = {
    "OK",       "FRAMES",     "HEADER",         "VERSION",       "TYPE",
    "TOO_BIG",  "MALFORMED",  "TRAILING",       "DEPTH",         "LIMIT",
    "SCHEMA",   "VALUE",      "UNKNOWN_KEY",    "BAD_SIGNATURE", "EXPIRED",
    "REPLAYED", "NOT_TARGET", "UNKNOWN_ACTION", "INVALID_PARAM", "BUSY",
    "DENIED",   "INTERNAL",   "NOT_FOUND",      "CONFLICT",
};

/* Index of type's row in types[], or -1 when the type is unknown. */
static int
type_row(int type)
{
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (types[i].type == type)
			return (int)i;
	return -1;
}

const char *
proto_type_name(int type)
{
	int r = type_row(type);

	return r >= 0 ? types[r].name : NULL;
}

int
proto_type_from_name(const char *name)
{
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(types[i].name, name) == 0)
			return types[i].type;
	return -1;
}

size_t
proto_type_max_body(int type)
{
	int r = type_row(type);

	return r >= 0 ? types[r].max_body : 0;
}

uint32_t
proto_type_fields(int type)
{
	int r = type_row(type);

	return r >= 0 ? types[r].fields : 0;
}

bool
proto_type_signed(int type)
{
	return type == PROTO_JOB || type == PROTO_DISPATCH || type == PROTO_RESULT;
}

const char *
proto_err_name(int code)
{
	if (code < 0 || code > PROTO_E_MAX)
		return NULL;
	return err_names[code];
}

int
proto_err_from_name(const char *name)
{
	for (int i = 0; i <= PROTO_E_MAX; i++)
		if (strcmp(err_names[i], name) == 0)
			return i;
	return -1;
}

enum proto_err
proto_fail(struct proto_error *err, enum proto_err code, const char *fmt, ...)
{
	if (err != NULL) {
		va_list ap;
		err->code = code;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return code;
}

char *
proto_hex(const uint8_t *p, size_t n, char *out)
{
	/* libsodium's constant-time encoder (hex of keys and signatures must not
	 * leak through timing); the caller's out has room for 2 * n + 1. */
	return sodium_bin2hex(out, 2 * n + 1, p, n);
}

uint64_t
proto_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* RFC 3629 UTF-8, and no NUL (a NUL would cut every C string short). */
bool
proto_utf8_valid(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		size_t extra;
		uint32_t cp, min;

		if (c == 0)
			return false;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			extra = 1, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			extra = 2, cp = c & 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			extra = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return false;
		}
		if (n - i <= extra)
			return false;
		for (size_t k = 1; k <= extra; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += extra + 1;
	}
	return true;
}

static bool
is_alnum(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool
proto_valid_id(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > PROTO_ID_MAX || !is_alnum(s[0]))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!is_alnum(s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-')
			return false;
	return true;
}

bool
proto_valid_step(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 32)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_'))
			return false;
	return true;
}

bool
proto_valid_tag(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 128 || !(is_alnum(s[0]) || s[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!is_alnum(s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-')
			return false;
	return true;
}

const char *
proto_path_problem(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 4096)
		return "a path is 1..4096 bytes";
	/* Spaces and any UTF-8 text are a real directory's name; control
	 * characters are not (the str itself is valid UTF-8 already). */
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7f)
			return "a path has no control character";
	if (s[0] != '/')
		return "a path is absolute: it starts with /";
	if (strstr(s, "//") != NULL)
		return "a path has no //";
	if (n > 1 && s[n - 1] == '/')
		return "a path has no trailing /";
	/* Walk the components between slashes. */
	for (const char *p = s + 1; n > 1;) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);

		if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
			return "a path has no . or .. component";
		if (slash == NULL)
			break;
		p = slash + 1;
	}
	return NULL;
}

bool
proto_valid_path(const char *s)
{
	return proto_path_problem(s) == NULL;
}

/* Arena: a chain of blocks; big requests get a block of their own. */
struct arena_block {
	struct arena_block *next;
	size_t used, cap;
	max_align_t data[];
};

struct proto_arena {
	struct arena_block *head;
	json_t **json;
	size_t n_json, cap_json;
};

#define ARENA_BLOCK 4096u

struct proto_arena *
arena_new(void)
{
	return calloc(1, sizeof(struct proto_arena));
}

void *
arena_alloc(struct proto_arena *a, size_t n)
{
	struct arena_block *b = a->head;
	size_t align = sizeof(max_align_t);

	n = (n + align - 1) / align * align;
	if (n == 0)
		n = align;
	if (b == NULL || b->cap - b->used < n) {
		size_t cap = n > ARENA_BLOCK ? n : ARENA_BLOCK;
		b = malloc(sizeof(*b) + cap);
		if (b == NULL)
			return NULL;
		b->used = 0;
		b->cap = cap;
		b->next = a->head;
		a->head = b;
	}
	void *p = (char *)b->data + b->used;
	b->used += n;
	memset(p, 0, n);
	return p;
}

char *
arena_strndup(struct proto_arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);

	if (p == NULL)
		return NULL;
	if (n > 0) /* msgpack-c gives a NULL pointer for an empty str */
		memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

int
arena_hold_json(struct proto_arena *a, json_t *j)
{
	if (a->n_json == a->cap_json) {
		size_t cap = a->cap_json ? a->cap_json * 2 : 4;
		json_t **nj = realloc(a->json, cap * sizeof(*nj));
		if (nj == NULL)
			return -1;
		a->json = nj;
		a->cap_json = cap;
	}
	a->json[a->n_json++] = j;
	return 0;
}

void
arena_free(struct proto_arena *a)
{
	if (a == NULL)
		return;
	for (struct arena_block *b = a->head, *next; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	for (size_t i = 0; i < a->n_json; i++)
		json_decref(a->json[i]);
	free(a->json);
	free(a);
}

void
proto_msg_free(struct proto_msg *m)
{
	if (m == NULL)
		return;
	proto_msg_free(m->inner);
	arena_free(m->arena);
	free(m);
}

void
proto_frames_free(struct proto_frames *f)
{
	if (f == NULL)
		return;
	free(f->body);
	f->body = NULL;
	f->body_len = 0;
	free(f->targets);
	f->targets = NULL;
	f->targets_len = 0;
}
