/* Bounded byte buffers, the output tail ring and hex helpers (see buf.h). */
#include "common/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#define BUF_MIN_CAP 64

void
buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

/* Makes room for need more bytes plus the trailing NUL. Growth doubles so that
 * appends are amortised O(1), but never allocates past max+1. */
static int
buf_reserve(struct buf *b, size_t need)
{
	size_t want, ncap;
	uint8_t *p;

	if (need > b->max || b->len > b->max - need)
		return -1;
	want = b->len + need + 1;
	if (want <= b->cap)
		return 0;
	ncap = b->cap ? b->cap : BUF_MIN_CAP;
	while (ncap < want) {
		if (ncap > SIZE_MAX / 2) {
			ncap = want;
			break;
		}
		ncap *= 2;
	}
	if (ncap > b->max + 1)
		ncap = b->max + 1;
	p = realloc(b->data, ncap);
	if (p == NULL)
		return -1;
	b->data = p;
	b->cap = ncap;
	return 0;
}

int
buf_append(struct buf *b, const void *p, size_t n)
{
	if (n == 0)
		return 0;
	if (buf_reserve(b, n) != 0)
		return -1;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int
buf_appendf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if (buf_reserve(b, (size_t)n) != 0)
		return -1;
	/* buf_reserve left room for n bytes and the NUL, so this cannot truncate. */
	va_start(ap, fmt);
	n = vsnprintf((char *)b->data + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->data[b->len] = '\0';
		return -1;
	}
	b->len += (size_t)n;
	return 0;
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

void
buf_free(struct buf *b)
{
	if (b == NULL)
		return;
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

int
tail_init(struct tail *t, size_t cap)
{
	memset(t, 0, sizeof(*t));
	if (cap == 0)
		return 0;
	t->data = malloc(cap);
	if (t->data == NULL)
		return -1;
	t->cap = cap;
	return 0;
}

void
tail_push(struct tail *t, const void *p, size_t n)
{
	const char *s = p;
	size_t end, first, over;

	if (n == 0)
		return;
	if (n >= t->cap) {
		/* The new bytes alone fill the ring: keep their last cap bytes. */
		t->dropped += t->len + (n - t->cap);
		if (t->cap > 0)
			memcpy(t->data, s + (n - t->cap), t->cap);
		t->start = 0;
		t->len = t->cap;
		return;
	}
	over = t->len + n > t->cap ? t->len + n - t->cap : 0;
	if (over > 0) {
		t->start = (t->start + over) % t->cap;
		t->len -= over;
		t->dropped += over;
	}
	end = (t->start + t->len) % t->cap;
	first = t->cap - end < n ? t->cap - end : n;
	memcpy(t->data + end, s, first);
	memcpy(t->data, s + first, n - first);
	t->len += n;
}

size_t
tail_copy(const struct tail *t, char *out, size_t outlen)
{
	size_t n, skip, pos, first;

	if (outlen == 0)
		return 0;
	n = t->len < outlen - 1 ? t->len : outlen - 1;
	skip = t->len - n;
	if (n > 0) {
		pos = (t->start + skip) % t->cap;
		first = t->cap - pos < n ? t->cap - pos : n;
		memcpy(out, t->data + pos, first);
		memcpy(out + first, t->data, n - first);
	}
	out[n] = '\0';
	return n;
}

void
tail_free(struct tail *t)
{
	if (t == NULL)
		return;
	free(t->data);
	memset(t, 0, sizeof(*t));
}

/* libsodium's hex functions run in constant time for the digits, so the same
 * helpers serve for secret keys and for ids. */
int
hex_encode(const uint8_t *in, size_t n, char *out, size_t outlen)
{
	if (outlen == 0)
		return -1;
	/* sodium_bin2hex aborts when out is too small: check first. */
	if (n > (outlen - 1) / 2) {
		out[0] = '\0';
		return -1;
	}
	sodium_bin2hex(out, outlen, in, n);
	return 0;
}

int
hex_decode(const char *in, uint8_t *out, size_t outlen, size_t *outn)
{
	size_t len = strlen(in), got = 0;
	const char *end = NULL;

	*outn = 0;
	if (len % 2 != 0 || len / 2 > outlen)
		return -1;
	/* With end given, sodium_hex2bin stops at the first non-hex character
	 * and still succeeds: only a string read to its end is hex. */
	if (sodium_hex2bin(out, outlen, in, len, NULL, &got, &end) != 0 || end != in + len ||
	    got != len / 2)
		return -1;
	*outn = got;
	return 0;
}

void
str_array_free(char **v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void
msg_init(struct msgbuf *m, char *s, size_t cap, unsigned limit)
{
	m->s = s;
	m->cap = cap;
	m->used = cap > 0 ? strnlen(s, cap - 1) : 0;
	if (cap > 0)
		s[m->used] = '\0';
	m->n = m->used > 0 ? 1 : 0;
	m->limit = limit;
}

static void
msg_vput(struct msgbuf *m, const char *fmt, va_list ap)
{
	int w;

	if (m->used + 1 >= m->cap)
		return;
	w = vsnprintf(m->s + m->used, m->cap - m->used, fmt, ap);
	if (w > 0)
		m->used = m->used + (size_t)w < m->cap ? m->used + (size_t)w : m->cap - 1;
}

static void
msg_put(struct msgbuf *m, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	msg_vput(m, fmt, ap);
	va_end(ap);
}

void
msg_add(struct msgbuf *m, const char *fmt, ...)
{
	va_list ap;

	m->n++;
	if (m->limit > 0 && m->n > m->limit)
		return;
	if (m->n > 1)
		msg_put(m, "; ");
	va_start(ap, fmt);
	msg_vput(m, fmt, ap);
	va_end(ap);
}

void
msg_more(struct msgbuf *m, const char *what)
{
	if (m->limit > 0 && m->n > m->limit)
		msg_put(m, "; and %u more %s", m->n - m->limit, what);
}
