/* Unit tests for common/multipart against real ZeroMQ sockets: an inproc
 * PAIR, and an ipc ROUTER fed by a DEALER as the coordinator's agents are.
 * Every message over a limit must be consumed whole, so that the next one
 * arrives intact. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>
#include <zmq.h>

#include "common/multipart.h"

struct pair {
	void *ctx, *in, *out; /* in receives what out sends */
	char dir[64];         /* the ipc socket's folder, or "" */
};

static int
setup_inproc(void **state)
{
	static struct pair p;

	memset(&p, 0, sizeof(p));
	p.ctx = zmq_ctx_new();
	p.in = zmq_socket(p.ctx, ZMQ_PAIR);
	p.out = zmq_socket(p.ctx, ZMQ_PAIR);
	if (p.in == NULL || p.out == NULL || zmq_bind(p.in, "inproc://test-multipart") != 0 ||
	    zmq_connect(p.out, "inproc://test-multipart") != 0)
		return -1;
	*state = &p;
	return 0;
}

static int
setup_ipc(void **state)
{
	static struct pair p;
	char ep[128];
	int zero = 0;

	memset(&p, 0, sizeof(p));
	snprintf(p.dir, sizeof(p.dir), "/tmp/odc-test-multipart-XXXXXX");
	if (mkdtemp(p.dir) == NULL)
		return -1;
	snprintf(ep, sizeof(ep), "ipc://%s/s", p.dir);
	p.ctx = zmq_ctx_new();
	p.in = zmq_socket(p.ctx, ZMQ_ROUTER);
	p.out = zmq_socket(p.ctx, ZMQ_DEALER);
	if (p.in == NULL || p.out == NULL)
		return -1;
	zmq_setsockopt(p.in, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(p.out, ZMQ_LINGER, &zero, sizeof(zero));
	if (zmq_bind(p.in, ep) != 0 || zmq_connect(p.out, ep) != 0)
		return -1;
	*state = &p;
	return 0;
}

static int
teardown(void **state)
{
	struct pair *p = *state;
	char path[128];

	zmq_close(p->in);
	zmq_close(p->out);
	zmq_ctx_term(p->ctx);
	if (p->dir[0] != '\0') {
		snprintf(path, sizeof(path), "%s/s", p->dir);
		unlink(path);
		rmdir(p->dir);
	}
	return 0;
}

/* Sends the NULL-terminated list of strings as one message. */
static void
send_strs(void *sock, const char *const *f)
{
	for (size_t i = 0; f[i] != NULL; i++)
		assert_int_equal(
		    zmq_send(sock, f[i], strlen(f[i]), f[i + 1] != NULL ? ZMQ_SNDMORE : 0),
		    (int)strlen(f[i]));
}

/* Receives with a wait of up to 5 s for the message to arrive (ipc). */
static int
recv_wait(void *sock, zmq_msg_t *parts, const struct multipart_limits *lim,
          enum multipart_over *over)
{
	zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};

	assert_int_equal(zmq_poll(&it, 1, 5000), 1);
	return multipart_recv(sock, ZMQ_DONTWAIT, parts, lim, over);
}

static void
assert_frame(zmq_msg_t *m, const char *s)
{
	assert_int_equal(zmq_msg_size(m), strlen(s));
	assert_memory_equal(zmq_msg_data(m), s, strlen(s));
}

/* The message after a refused one is received whole: the refused one was
 * drained to its last frame. */
static void
assert_next_intact(struct pair *p)
{
	static const struct multipart_limits lim = {.parts = 4};
	static const char *const good[] = {"next", "", "message", NULL};
	zmq_msg_t parts[4];
	enum multipart_over over = MULTIPART_FRAME;

	send_strs(p->out, good);
	int n = recv_wait(p->in, parts, &lim, &over);
	int off = p->dir[0] != '\0'; /* the ROUTER's routing id first */
	assert_int_equal(n, 3 + off);
	assert_int_equal(over, MULTIPART_WHOLE);
	assert_frame(&parts[off], "next");
	assert_frame(&parts[off + 1], "");
	assert_frame(&parts[off + 2], "message");
	multipart_close(parts, n);
	/* Nothing else is left on the socket. */
	errno = 0;
	assert_int_equal(multipart_recv(p->in, ZMQ_DONTWAIT, parts, &lim, &over), -1);
	assert_int_equal(errno, EAGAIN);
}

static void
test_whole_message_is_kept(void **state)
{
	struct pair *p = *state;
	static const struct multipart_limits lim = {.parts = 3, .frame = 5, .total = 9};
	static const char *const msg[] = {"abcde", "fghi", NULL}; /* both limits exactly reached */
	zmq_msg_t parts[3];
	enum multipart_over over = MULTIPART_PARTS;

	send_strs(p->out, msg);
	assert_int_equal(recv_wait(p->in, parts, &lim, &over), 2);
	assert_int_equal(over, MULTIPART_WHOLE);
	assert_frame(&parts[0], "abcde");
	assert_frame(&parts[1], "fghi");
	multipart_close(parts, 2);
	assert_next_intact(p);
}

static void
test_too_many_frames_keeps_the_first_and_drains(void **state)
{
	struct pair *p = *state;
	static const struct multipart_limits lim = {.parts = 3};
	static const char *const msg[] = {"h", "b", "s", "t", "x", "y", NULL};
	zmq_msg_t parts[3];
	enum multipart_over over;

	send_strs(p->out, msg);
	assert_int_equal(recv_wait(p->in, parts, &lim, &over), 3);
	assert_int_equal(over, MULTIPART_PARTS);
	assert_frame(&parts[0], "h");
	assert_frame(&parts[1], "b");
	assert_frame(&parts[2], "s");
	multipart_close(parts, 3);
	assert_next_intact(p);
}

static void
test_frame_too_big_keeps_those_before_and_drains(void **state)
{
	struct pair *p = *state;
	static const struct multipart_limits lim = {.parts = 4, .frame = 8};
	static const char *const msg[] = {"header", "a body of 17 byte", "sig", "more", NULL};
	zmq_msg_t parts[4];
	enum multipart_over over;

	send_strs(p->out, msg);
	assert_int_equal(recv_wait(p->in, parts, &lim, &over), 1);
	assert_int_equal(over, MULTIPART_FRAME);
	assert_frame(&parts[0], "header");
	multipart_close(parts, 1);
	assert_next_intact(p);
}

static void
test_first_frame_too_big_keeps_nothing(void **state)
{
	struct pair *p = *state;
	static const struct multipart_limits lim = {.parts = 4, .frame = 3};
	static const char *const msg[] = {"four", "ok", NULL};
	zmq_msg_t parts[4];
	enum multipart_over over;

	send_strs(p->out, msg);
	assert_int_equal(recv_wait(p->in, parts, &lim, &over), 0);
	assert_int_equal(over, MULTIPART_FRAME);
	assert_next_intact(p);
}

static void
test_total_too_big_keeps_those_before_and_drains(void **state)
{
	struct pair *p = *state;
	static const struct multipart_limits lim = {.parts = 4, .frame = 4, .total = 10};
	/* 4 + 4 = 8 fits; with the third frame 12 > 10. */
	static const char *const msg[] = {"abcd", "efgh", "ijkl", "mn", NULL};
	zmq_msg_t parts[4];
	enum multipart_over over;

	send_strs(p->out, msg);
	assert_int_equal(recv_wait(p->in, parts, &lim, &over), 2);
	assert_int_equal(over, MULTIPART_TOTAL);
	assert_frame(&parts[0], "abcd");
	assert_frame(&parts[1], "efgh");
	multipart_close(parts, 2);
	assert_next_intact(p);
}

/* Frames past the count limit still count towards the total, but the first
 * limit broken is the one reported. */
static void
test_first_limit_broken_is_reported(void **state)
{
	struct pair *p = *state;
	static const struct multipart_limits lim = {.parts = 1, .frame = 2, .total = 3};
	static const char *const msg[] = {"ab", "cdefgh", "ijklmn", NULL};
	zmq_msg_t parts[1];
	enum multipart_over over;

	send_strs(p->out, msg);
	assert_int_equal(recv_wait(p->in, parts, &lim, &over), 1);
	assert_int_equal(over, MULTIPART_PARTS);
	assert_frame(&parts[0], "ab");
	multipart_close(parts, 1);
	assert_next_intact(p);
}

static void
test_empty_frames_are_frames(void **state)
{
	struct pair *p = *state;
	static const struct multipart_limits lim = {.parts = 3, .frame = 1, .total = 1};
	zmq_msg_t parts[3];
	enum multipart_over over;

	/* A message of one empty frame. */
	assert_int_equal(zmq_send(p->in, "", 0, 0), 0);
	assert_int_equal(recv_wait(p->out, parts, &lim, &over), 1);
	assert_int_equal(over, MULTIPART_WHOLE);
	assert_int_equal(zmq_msg_size(&parts[0]), 0);
	multipart_close(parts, 1);
	/* Empty frames around one byte. */
	assert_int_equal(zmq_send(p->in, "", 0, ZMQ_SNDMORE), 0);
	assert_int_equal(zmq_send(p->in, "x", 1, ZMQ_SNDMORE), 1);
	assert_int_equal(zmq_send(p->in, "", 0, 0), 0);
	assert_int_equal(recv_wait(p->out, parts, &lim, &over), 3);
	assert_int_equal(over, MULTIPART_WHOLE);
	assert_int_equal(zmq_msg_size(&parts[0]), 0);
	assert_frame(&parts[1], "x");
	assert_int_equal(zmq_msg_size(&parts[2]), 0);
	multipart_close(parts, 3);
	/* A fourth empty frame is one too many, bytes or not. */
	for (int i = 0; i < 3; i++)
		assert_int_equal(zmq_send(p->in, "", 0, ZMQ_SNDMORE), 0);
	assert_int_equal(zmq_send(p->in, "", 0, 0), 0);
	assert_int_equal(recv_wait(p->out, parts, &lim, &over), 3);
	assert_int_equal(over, MULTIPART_PARTS);
	multipart_close(parts, 3);
}

static void
test_nothing_there_is_eagain(void **state)
{
	struct pair *p = *state;
	static const struct multipart_limits lim = {.parts = 2};
	zmq_msg_t parts[2];
	enum multipart_over over = MULTIPART_TOTAL;

	errno = 0;
	assert_int_equal(multipart_recv(p->in, ZMQ_DONTWAIT, parts, &lim, &over), -1);
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(over, MULTIPART_WHOLE);
	/* The socket is still usable: a message sent now is read. */
	assert_next_intact(p);
}

static void
on_alarm(int sig)
{
	(void)sig;
}

/* A blocking wait for the first frame ends with EINTR on a signal, so that
 * a daemon's stop is not held up; no message was taken. */
static void
test_signal_ends_a_blocking_wait(void **state)
{
	struct pair *p = *state;
	static const struct multipart_limits lim = {.parts = 2};
	struct sigaction sa = {.sa_handler = on_alarm}, old;
	struct itimerval it = {.it_value = {0, 100 * 1000}};
	zmq_msg_t parts[2];
	enum multipart_over over;

	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGALRM, &sa, &old), 0); /* no SA_RESTART */
	assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);
	errno = 0;
	assert_int_equal(multipart_recv(p->in, 0, parts, &lim, &over), -1);
	assert_int_equal(errno, EINTR);
	assert_int_equal(over, MULTIPART_WHOLE);
	sigaction(SIGALRM, &old, NULL);
	assert_next_intact(p);
}

/* As the coordinator reads its agents: the ROUTER's routing id is a frame
 * too, and over ipc an oversized message is drained the same way. */
static void
test_router_over_ipc(void **state)
{
	struct pair *p = *state;
	static const struct multipart_limits lim = {.parts = 5, .frame = 64};
	static const char *const six[] = {"1", "2", "3", "4", "5", NULL}; /* + routing id */
	char big[100];
	zmq_msg_t parts[5];
	enum multipart_over over;

	send_strs(p->out, six);
	assert_int_equal(recv_wait(p->in, parts, &lim, &over), 5);
	assert_int_equal(over, MULTIPART_PARTS);
	assert_frame(&parts[1], "1");
	assert_frame(&parts[4], "4");
	multipart_close(parts, 5);
	assert_next_intact(p);
	memset(big, 'b', sizeof(big));
	assert_int_equal(zmq_send(p->out, "h", 1, ZMQ_SNDMORE), 1);
	assert_int_equal(zmq_send(p->out, big, sizeof(big), ZMQ_SNDMORE), (int)sizeof(big));
	assert_int_equal(zmq_send(p->out, "s", 1, 0), 1);
	assert_int_equal(recv_wait(p->in, parts, &lim, &over), 2);
	assert_int_equal(over, MULTIPART_FRAME);
	assert_frame(&parts[1], "h");
	multipart_close(parts, 2);
	assert_next_intact(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_whole_message_is_kept, setup_inproc, teardown),
	    cmocka_unit_test_setup_teardown(test_too_many_frames_keeps_the_first_and_drains,
	                                    setup_inproc, teardown),
	    cmocka_unit_test_setup_teardown(test_frame_too_big_keeps_those_before_and_drains,
	                                    setup_inproc, teardown),
	    cmocka_unit_test_setup_teardown(test_first_frame_too_big_keeps_nothing, setup_inproc,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_total_too_big_keeps_those_before_and_drains,
	                                    setup_inproc, teardown),
	    cmocka_unit_test_setup_teardown(test_first_limit_broken_is_reported, setup_inproc,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_empty_frames_are_frames, setup_inproc, teardown),
	    cmocka_unit_test_setup_teardown(test_nothing_there_is_eagain, setup_inproc, teardown),
	    cmocka_unit_test_setup_teardown(test_signal_ends_a_blocking_wait, setup_inproc,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_router_over_ipc, setup_ipc, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
