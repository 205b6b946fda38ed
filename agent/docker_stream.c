/* Decoding the engine's streamed answers (see docker_int.h): the
 * multiplexed log stream (8-byte frame headers) and the archive API's tar
 * stream, each kept as the newest bytes in a tail. */
#include "agent/docker_int.h"

#include <string.h>

/* A tar header's size field: octal digits (space or NUL ended), or GNU's
 * base-256 for large files. */
static uint64_t
docker_tar_size(const uint8_t *f)
{
	uint64_t v = 0;

	if (f[0] & 0x80) {
		for (int i = 1; i < 12; i++)
			v = v << 8 | f[i];
		return v;
	}
	for (int i = 0; i < 12 && f[i] >= '0' && f[i] <= '7'; i++)
		v = v * 8 + (uint64_t)(f[i] - '0');
	return v;
}

/* Feeds n bytes of a tar stream: headers read block by block, pax and other
 * non-file entries passed over, the first regular file's bytes to the tail,
 * the rest ignored. */
static void
docker_tar_push(struct docker_logs *l, const uint8_t *p, size_t n)
{
	while (n > 0 && !l->tar_done) {
		size_t k;
		if (l->in_content) {
			k = l->content_left < n ? (size_t)l->content_left : n;
			tail_push(&l->t, p, k);
			l->content_left -= k;
			if (l->content_left == 0)
				l->tar_done = 1;
		} else if (l->skip > 0) {
			k = l->skip < n ? (size_t)l->skip : n;
			l->skip -= k;
		} else {
			k = sizeof(l->block) - l->block_len < n ? sizeof(l->block) - l->block_len
			                                        : n;
			memcpy(l->block + l->block_len, p, k);
			l->block_len += k;
			if (l->block_len == sizeof(l->block)) {
				uint64_t size = docker_tar_size(l->block + 124);
				char type = (char)l->block[156];
				l->block_len = 0;
				if (l->block[0] == '\0') {
					l->tar_done = 1; /* the end-of-archive blocks */
				} else if (type == '0' || type == '\0') {
					l->found = 1;
					l->in_content = size > 0;
					l->content_left = size;
					l->tar_done = size == 0;
				} else {
					l->skip = (size + 511) / 512 * 512;
				}
			}
		}
		p += k;
		n -= k;
	}
}

/* Feeds n bytes of a log stream into l. -1 on a malformed frame header. */
int
docker_stream_push(struct docker_logs *l, const uint8_t *p, size_t n)
{
	size_t k;

	if (l->tar) {
		docker_tar_push(l, p, n);
		return 0;
	}
	if (l->raw) {
		tail_push(&l->t, p, n);
		return 0;
	}
	while (n > 0) {
		if (l->left == 0) {
			k = DOCKER_FRAME_HDR - l->hdr_len;
			if (k > n)
				k = n;
			memcpy(l->hdr + l->hdr_len, p, k);
			l->hdr_len += k;
			p += k;
			n -= k;
			if (l->hdr_len < DOCKER_FRAME_HDR)
				break;
			/* stdin, stdout or stderr, then three zero bytes. */
			if (l->hdr[0] > 2 || l->hdr[1] != 0 || l->hdr[2] != 0 || l->hdr[3] != 0)
				return -1;
			l->left = (uint32_t)l->hdr[4] << 24 | (uint32_t)l->hdr[5] << 16 |
			          (uint32_t)l->hdr[6] << 8 | (uint32_t)l->hdr[7];
			l->hdr_len = 0;
			continue;
		}
		k = l->left < n ? l->left : n;
		tail_push(&l->t, p, k);
		p += k;
		n -= k;
		l->left -= (uint32_t)k;
	}
	return 0;
}
