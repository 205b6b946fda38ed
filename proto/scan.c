/* The bounded structural scan of PROTOCOL.md section 3: walks raw msgpack
 * bytes once, before anything is allocated, so that a hostile length or
 * nesting can never reach the decoder. No recursion; a fixed stack. */
#include "proto/internal.h"

static uint64_t
be(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

enum scan_kind { K_SCALAR, K_STR, K_BIN, K_ARRAY, K_MAP, K_FLOAT, K_EXT, K_BAD };

/* Classify the first byte: its kind, how many length bytes follow (lenlen),
 * or the inline length/count, or the fixed payload size of a scalar. */
static enum scan_kind
classify(uint8_t b, size_t *lenlen, uint64_t *inline_len, size_t *payload)
{
	*lenlen = 0;
	*inline_len = 0;
	*payload = 0;
	if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
		return K_SCALAR;
	if (b >= 0x80 && b <= 0x8f)
		return *inline_len = b & 0x0f, K_MAP;
	if (b >= 0x90 && b <= 0x9f)
		return *inline_len = b & 0x0f, K_ARRAY;
	if (b >= 0xa0 && b <= 0xbf)
		return *inline_len = b & 0x1f, K_STR;
	switch (b) {
	case 0xc4:
		return *lenlen = 1, K_BIN;
	case 0xc5:
		return *lenlen = 2, K_BIN;
	case 0xc6:
		return *lenlen = 4, K_BIN;
	case 0xc7:
	case 0xc8:
	case 0xc9:
	case 0xd4:
	case 0xd5:
	case 0xd6:
	case 0xd7:
	case 0xd8:
		return K_EXT;
	case 0xca:
	case 0xcb:
		return K_FLOAT;
	case 0xcc:
	case 0xd0:
		return *payload = 1, K_SCALAR;
	case 0xcd:
	case 0xd1:
		return *payload = 2, K_SCALAR;
	case 0xce:
	case 0xd2:
		return *payload = 4, K_SCALAR;
	case 0xcf:
	case 0xd3:
		return *payload = 8, K_SCALAR;
	case 0xd9:
		return *lenlen = 1, K_STR;
	case 0xda:
		return *lenlen = 2, K_STR;
	case 0xdb:
		return *lenlen = 4, K_STR;
	case 0xdc:
		return *lenlen = 2, K_ARRAY;
	case 0xdd:
		return *lenlen = 4, K_ARRAY;
	case 0xde:
		return *lenlen = 2, K_MAP;
	case 0xdf:
		return *lenlen = 4, K_MAP;
	default:
		return K_BAD; /* 0xc1 */
	}
}

enum proto_err
proto_scan(const uint8_t *p, size_t n, struct proto_error *err)
{
	/* rem[d]: objects still to read at depth d; depth 0 is the body itself. */
	uint64_t rem[PROTO_MAX_DEPTH + 1];
	int d = 0;
	size_t pos = 0;

	rem[0] = 1;
	while (d >= 0) {
		if (rem[d] == 0) {
			d--;
			continue;
		}
		rem[d]--;
		if (pos >= n)
			return proto_fail(err, PROTO_E_MALFORMED,
			                  "body ends at byte %zu inside an object", pos);
		uint8_t b = p[pos];
		size_t lenlen, payload;
		uint64_t len;
		enum scan_kind k = classify(b, &lenlen, &len, &payload);

		if (k == K_BAD)
			return proto_fail(err, PROTO_E_MALFORMED,
			                  "byte 0x%02x at offset %zu starts no msgpack object", b,
			                  pos);
		if (k == K_FLOAT || k == K_EXT)
			return proto_fail(err, PROTO_E_SCHEMA,
			                  "%s at offset %zu: not used by this protocol",
			                  k == K_FLOAT ? "float" : "ext type", pos);
		pos++;
		if (n - pos < lenlen + payload)
			return proto_fail(err, PROTO_E_MALFORMED,
			                  "body ends at byte %zu inside an object header", n);
		if (lenlen > 0)
			len = be(p + pos, lenlen);
		pos += lenlen + payload;
		switch (k) {
		case K_STR:
		case K_BIN: {
			uint64_t max = k == K_STR ? PROTO_SCAN_MAX_STR : PROTO_SCAN_MAX_BIN;
			if (len > max)
				return proto_fail(err, PROTO_E_LIMIT,
				                  "%s of %llu bytes at offset %zu exceeds %llu",
				                  k == K_STR ? "str" : "bin",
				                  (unsigned long long)len, pos - lenlen - 1,
				                  (unsigned long long)max);
			if (len > n - pos)
				return proto_fail(
				    err, PROTO_E_MALFORMED,
				    "%s of %llu bytes at offset %zu runs past the body",
				    k == K_STR ? "str" : "bin", (unsigned long long)len,
				    pos - lenlen - 1);
			pos += len;
			break;
		}
		case K_ARRAY:
		case K_MAP: {
			uint64_t max = k == K_ARRAY ? PROTO_SCAN_MAX_ARRAY : PROTO_SCAN_MAX_MAP;
			uint64_t items = k == K_ARRAY ? len : 2 * len;
			if (d + 1 > PROTO_MAX_DEPTH)
				return proto_fail(err, PROTO_E_DEPTH,
				                  "containers nested deeper than %d at offset %zu",
				                  PROTO_MAX_DEPTH, pos - lenlen - 1);
			if (len > max)
				return proto_fail(err, PROTO_E_LIMIT,
				                  "%s of %llu entries at offset %zu exceeds %llu",
				                  k == K_ARRAY ? "array" : "map",
				                  (unsigned long long)len, pos - lenlen - 1,
				                  (unsigned long long)max);
			if (items > n - pos)
				return proto_fail(
				    err, PROTO_E_MALFORMED,
				    "%s of %llu entries at offset %zu runs past the body",
				    k == K_ARRAY ? "array" : "map", (unsigned long long)len,
				    pos - lenlen - 1);
			rem[++d] = items;
			break;
		}
		default:
			break;
		}
	}
	if (pos != n)
		return proto_fail(err, PROTO_E_TRAILING, "%zu bytes after the body's object",
		                  n - pos);
	return PROTO_OK;
}
