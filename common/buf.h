/* Bounded byte buffers: a growable buffer with a hard maximum, a ring that keeps
 * only the last N bytes of a stream (child output), and hex helpers. */
#ifndef ODC_COMMON_BUF_H
#define ODC_COMMON_BUF_H

#include <stddef.h>
#include <stdint.h>

/* A growable buffer that never holds more than max bytes. When data is non-NULL,
 * data[len] is always a NUL byte (not counted in len), so text can be used as a
 * C string directly. A zeroed struct is a valid empty buffer with max 0. */
struct buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	size_t max;
};

/* Empties *b and sets its limit; allocates nothing. max 0 makes every non-empty
 * append fail. */
void buf_init(struct buf *b, size_t max);

/* Appends n bytes from p. Returns 0, or -1 with nothing appended when len+n
 * would exceed max or memory runs out. */
int buf_append(struct buf *b, const void *p, size_t n);

/* Appends printf-style text. Returns 0, or -1 with nothing appended when the
 * text would not fit under max (or on a formatting/allocation failure). */
int buf_appendf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Forgets the contents but keeps the allocation and the limit. */
void buf_reset(struct buf *b);

/* Frees the contents; safe on NULL and on a zeroed buffer. Leaves *b empty
 * with its limit unchanged, so it can be reused. */
void buf_free(struct buf *b);

/* A ring that keeps the last cap bytes pushed into it and counts the rest. */
struct tail {
	char *data;
	size_t cap;
	size_t len;
	size_t start;
	uint64_t dropped;
};

/* Prepares an empty ring holding at most cap bytes (cap 0 keeps nothing).
 * Returns 0, or -1 when the allocation fails. Free with tail_free(). */
int tail_init(struct tail *t, size_t cap);

/* Adds n bytes; the oldest bytes beyond cap are discarded and counted in dropped. */
void tail_push(struct tail *t, const void *p, size_t n);

/* Copies the kept bytes oldest-first into out and NUL-terminates it. When out is
 * too small, the newest outlen-1 bytes are copied. Returns the number of bytes
 * copied, not counting the NUL. */
size_t tail_copy(const struct tail *t, char *out, size_t outlen);

/* Frees the ring; safe on NULL and on a zeroed struct. */
void tail_free(struct tail *t);

/* Frees n malloc'd strings and the malloc'd array holding them; NULL is fine. */
void str_array_free(char **v, size_t n);

/* A message built in a caller's fixed array from "; "-separated parts, each
 * cut to what room is left: the differences a check found, say. n counts
 * every part added, written or not; with limit > 0 only the first limit are
 * written (msg_more then says how many more there were). */
struct msgbuf {
	char *s;
	size_t cap, used;
	unsigned n, limit;
};

/* Starts a message in s[cap] after what s already holds (s must be a C
 * string, or cap 0). */
void msg_init(struct msgbuf *m, char *s, size_t cap, unsigned limit);

/* Adds one part, after "; " unless it is the first. */
void msg_add(struct msgbuf *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Adds "; and N more" when more than limit parts were added. */
void msg_more(struct msgbuf *m, const char *what);

/* Hex through libsodium's constant-time sodium_bin2hex / sodium_hex2bin. */

/* Writes 2*n lowercase hex digits and a NUL into out. Returns 0, or -1 (out
 * set to "" when outlen > 0) when outlen < 2*n+1. */
int hex_encode(const uint8_t *in, size_t n, char *out, size_t outlen);

/* Decodes the NUL-terminated hex string in (either case) into out and stores
 * the byte count in *outn. Returns 0, or -1 on an odd length, a non-hex digit,
 * or more than outlen bytes of output; out may then be partly written. */
int hex_decode(const char *in, uint8_t *out, size_t outlen, size_t *outn);

#endif
