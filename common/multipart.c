/* One multipart message off a ZeroMQ socket within limits, the rest of an
 * oversized one drained: the receive of every daemon, odcctl and the load
 * generator. */
#include "common/multipart.h"

#include <errno.h>
#include <stdint.h>

/* zmq_msg_recv, again after a signal when it cannot wait anyway. */
static int
recv_frame(void *sock, zmq_msg_t *m, int flags)
{
	int rc;

	do
		rc = zmq_msg_recv(m, sock, flags);
	while (rc < 0 && errno == EINTR && (flags & ZMQ_DONTWAIT));
	return rc;
}

int
multipart_recv(void *sock, int flags, zmq_msg_t *parts, const struct multipart_limits *lim,
               enum multipart_over *over)
{
	size_t n = 0, seen = 0, total = 0;
	int more = 1;

	*over = MULTIPART_WHOLE;
	while (more) {
		/* Once a limit is broken nothing more is kept: the rest is
		 * read into spare and closed, so that it is not taken for the
		 * next message. */
		zmq_msg_t spare,
		    *m = *over == MULTIPART_WHOLE && n < lim->parts ? &parts[n] : &spare;
		size_t len;

		zmq_msg_init(m);
		if (recv_frame(sock, m, seen++ == 0 ? flags : ZMQ_DONTWAIT) < 0) {
			int saved = errno;

			zmq_msg_close(m);
			multipart_close(parts, (int)n);
			*over = MULTIPART_WHOLE;
			errno = saved;
			return -1;
		}
		more = zmq_msg_more(m);
		len = zmq_msg_size(m);
		total = len > SIZE_MAX - total ? SIZE_MAX : total + len;
		if (*over == MULTIPART_WHOLE) {
			if (n == lim->parts)
				*over = MULTIPART_PARTS;
			else if (lim->frame != 0 && len > lim->frame)
				*over = MULTIPART_FRAME;
			else if (lim->total != 0 && total > lim->total)
				*over = MULTIPART_TOTAL;
		}
		if (*over == MULTIPART_WHOLE)
			n++;
		else
			zmq_msg_close(m);
	}
	return (int)n;
}

void
multipart_close(zmq_msg_t *parts, int n)
{
	for (int i = 0; i < n; i++)
		zmq_msg_close(&parts[i]);
}
