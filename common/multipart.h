/* Receiving one ZeroMQ multipart message within limits: every frame of it is
 * consumed, kept or not, so that the next receive starts a new message. */
#ifndef ODC_COMMON_MULTIPART_H
#define ODC_COMMON_MULTIPART_H

#include <stddef.h>

#include <zmq.h>

/* What one message may be. A byte limit of 0 is no limit: right for a socket
 * whose ZMQ_MAXMSGSIZE already bounds each frame as it arrives (libzmq drops
 * the connection unread), or an inproc socket only this process writes to. */
struct multipart_limits {
	size_t parts; /* frames kept, at least 1: the length of the caller's array */
	size_t frame; /* bytes in one frame */
	size_t total; /* bytes in all the frames of the message, kept or not */
};

/* Which limit a message broke, the first it broke. */
enum multipart_over {
	MULTIPART_WHOLE = 0, /* none: the whole message is in parts */
	MULTIPART_PARTS,     /* more than parts frames */
	MULTIPART_FRAME,     /* a frame of more than frame bytes */
	MULTIPART_TOTAL,     /* more than total bytes in all */
};

/* Receives one message from sock into parts[0 .. lim->parts). flags is for
 * the first frame (0 or ZMQ_DONTWAIT). The later frames are read without
 * waiting, as libzmq hands a message over only once all of it is there.
 *
 * Returns the number of frames kept, which the caller owns and closes with
 * multipart_close(parts, n), and sets *over. Within the limits, that is the
 * whole message. Past one, the frames before the one that broke it are kept
 * (at most lim->parts: the routing id and the header, say, for an answer),
 * it and all the rest are received and closed unread, and *over says which
 * limit; so 0 frames may be kept when the first frame is too long.
 *
 * Returns -1 with errno set, nothing kept and *over MULTIPART_WHOLE when no
 * message was taken: EAGAIN with ZMQ_DONTWAIT when none is there; EINTR when
 * a signal ended a wait for the first frame (with ZMQ_DONTWAIT it is tried
 * again, as that costs no wait); ETERM when the context is ending. A later
 * frame that cannot be read (ETERM) also returns -1: what was read of that
 * message is then dropped, never handed over as if it were all of it. */
int multipart_recv(void *sock, int flags, zmq_msg_t *parts, const struct multipart_limits *lim,
                   enum multipart_over *over);

/* Closes parts[0 .. n); n <= 0 closes nothing. */
void multipart_close(zmq_msg_t *parts, int n);

#endif
