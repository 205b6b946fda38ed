/* The memory a bare libzmq CURVE ROUTER needs for N connected peers, as the
 * coordinator's agent socket is set up, with none of the coordinator's own
 * state: the floor under the coordinator's RSS at fleet scale (BENCHMARKS.md).
 *
 *   zmq_floor --endpoint tcp://127.0.0.1:PORT --secret-key FILE --peers N
 *             [--settle-ms MS] [--timeout-ms MS]
 *
 * Binds the ROUTER (CURVE server with the coordinator's key, so that the
 * load generator's agents connect to it unchanged), reads and drops every
 * message, counts peers by routing id, and once N peers have spoken waits
 * --settle-ms and prints one JSON line: {"peers":N,"rss_kb":..,
 * "rss_per_peer_kb":..,"rss_before_kb":..}. Exits 1 when N peers did not
 * speak within --timeout-ms. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <sodium.h>
#include <zmq.h>

#include "common/clock.h"
#include "common/keys.h"
#include "common/multipart.h"
#include "coordinator/map.h"

static long
rss_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmRSS:", 6) == 0)
			kb = strtol(line + 6, NULL, 10);
	fclose(f);
	return kb;
}

static void
usage(void)
{
	fprintf(stderr,
	        "usage: zmq_floor --endpoint EP --secret-key FILE --peers N [--settle-ms MS] "
	        "[--timeout-ms MS]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	const char *ep = NULL, *keyfile = NULL;
	unsigned long peers = 0, settle_ms = 5000, timeout_ms = 300000;
	char err[256];

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--endpoint") == 0)
			ep = argv[i + 1];
		else if (strcmp(argv[i], "--secret-key") == 0)
			keyfile = argv[i + 1];
		else if (strcmp(argv[i], "--peers") == 0)
			peers = strtoul(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--settle-ms") == 0)
			settle_ms = strtoul(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--timeout-ms") == 0)
			timeout_ms = strtoul(argv[i + 1], NULL, 10);
		else
			usage();
	}
	if (ep == NULL || keyfile == NULL || peers == 0 || sodium_init() < 0)
		usage();
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	struct keys_pair *kp = keys_load_secret(keyfile, err, sizeof(err));
	uint8_t csk[32];
	if (kp == NULL || crypto_sign_ed25519_sk_to_curve25519(csk, kp->sk) != 0) {
		fprintf(stderr, "zmq_floor: %s\n", kp ? "cannot derive the CURVE key" : err);
		return 2;
	}
	long before = rss_kb();
	void *ctx = zmq_ctx_new(), *r = zmq_socket(ctx, ZMQ_ROUTER);
	int one = 1, zero = 0, hwm = 100000, backlog = 4096;
	/* The coordinator's options (coordinator/transport.c), no ZAP handler:
	 * every CURVE client is let in. */
	zmq_setsockopt(r, ZMQ_CURVE_SERVER, &one, sizeof(one));
	zmq_setsockopt(r, ZMQ_CURVE_SECRETKEY, csk, sizeof(csk));
	zmq_setsockopt(r, ZMQ_ROUTER_MANDATORY, &one, sizeof(one));
	zmq_setsockopt(r, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(r, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(r, ZMQ_RCVHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(r, ZMQ_BACKLOG, &backlog, sizeof(backlog));
	zmq_setsockopt(r, ZMQ_TCP_KEEPALIVE, &one, sizeof(one));
	if (zmq_bind(r, ep) != 0) {
		fprintf(stderr, "zmq_floor: %s: %s\n", ep, zmq_strerror(errno));
		return 2;
	}
	struct map *seen = map_new();
	uint64_t deadline = clock_mono_ms() + timeout_ms, settled = 0;
	while (clock_mono_ms() < deadline && (settled == 0 || clock_mono_ms() < settled)) {
		zmq_pollitem_t it = {r, 0, ZMQ_POLLIN, 0};
		if (zmq_poll(&it, 1, 200) < 0 && errno != EINTR)
			break;
		for (int k = 0; k < 10000; k++) {
			/* The routing id alone is kept; the message is dropped. */
			static const struct multipart_limits lim = {.parts = 1};
			zmq_msg_t id;
			enum multipart_over over;
			if (multipart_recv(r, ZMQ_DONTWAIT, &id, &lim, &over) < 1)
				break;
			if (map_get(seen, zmq_msg_data(&id), zmq_msg_size(&id)) == NULL)
				map_put(seen, zmq_msg_data(&id), zmq_msg_size(&id), seen);
			multipart_close(&id, 1);
		}
		if (settled == 0 && map_count(seen) >= peers)
			settled = clock_mono_ms() + settle_ms;
	}
	long kb = rss_kb();
	size_t n = map_count(seen);
	printf("{\"peers\":%zu,\"rss_kb\":%ld,\"rss_before_kb\":%ld,\"rss_per_peer_kb\":%.1f}\n", n,
	       kb, before, n ? (double)(kb - before) / (double)n : 0.0);
	fflush(stdout);
	zmq_close(r);
	zmq_ctx_term(ctx);
	map_free(seen);
	keys_pair_free(kp);
	return n >= peers ? 0 : 1;
}
