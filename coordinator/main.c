/* odc-coordinator: command line, start-up and the one event loop that
 * serves the agents' ROUTER, the ZAP handler, the control sockets and the
 * timers. Results are committed to the store once per loop turn (group
 * commit) and only then acknowledged. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>
#include <zmq.h>

#include "common/cli.h"
#include "common/clock.h"
#include "common/keys.h"
#include "common/log.h"
#include "common/sdnotify.h"
#include "coordinator/coord.h"

#define DEFAULT_CONF "/etc/odc-fleet/coordinator.conf"
#define EXIT_OK      0
#define EXIT_FAIL    1
#define EXIT_USAGE   2

static volatile sig_atomic_t stop_signal;

struct host_count {
	size_t enrolled, online;
};

static int
count_host(void *ctx, const void *key, size_t len, void *value)
{
	struct host_count *hc = ctx;
	const struct host *h = value;

	(void)key;
	(void)len;
	if (!h->revoked) {
		hc->enrolled++;
		hc->online += registry_online(h);
	}
	return 0;
}

/* systemd's status line: what `systemctl status odc-coordinator` shows. */
static void
systemd_status(struct coord *co, struct sdnotify *sn, bool ready)
{
	struct host_count hc = {0, 0};

	map_each(co->hosts, count_host, &hc);
	if (ready)
		sdnotify_ready(sn, "%zu of %zu hosts online, %zu active jobs", hc.online,
		               hc.enrolled, map_count(co->job_map));
	else
		sdnotify_status(sn, "%zu of %zu hosts online, %zu active jobs", hc.online,
		                hc.enrolled, map_count(co->job_map));
}

static void
on_signal(int sig)
{
	stop_signal = sig;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: odc-coordinator [-c FILE] [-v] run\n"
	           "       odc-coordinator [-c FILE] check-config\n"
	           "       odc-coordinator keygen SECRET_KEY_FILE PUBLIC_KEY_FILE\n"
	           "       odc-coordinator --help | --version\n"
	           "\n"
	           "  -c FILE   configuration (default " DEFAULT_CONF ")\n"
	           "  -v        log debug events\n");
}

static int
cmd_keygen(const char *sec, const char *pub)
{
	char err[512];
	struct keys_pair *kp = keys_generate(err, sizeof(err));

	if (kp == NULL || keys_save(kp, sec, pub, err, sizeof(err)) != 0) {
		fprintf(stderr, "odc-coordinator: keygen: %s\n", err);
		keys_pair_free(kp);
		return EXIT_USAGE;
	}
	keys_print_new(stdout, kp, sec, pub);
	keys_pair_free(kp);
	return EXIT_OK;
}

static int
open_state(struct coord *co, char *err, size_t errlen)
{
	char path[4200];

	if (mkdir(co->conf->state_dir, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", co->conf->state_dir, strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "%s/store.db", co->conf->state_dir);
	co->store = store_open(path, err, errlen);
	return co->store != NULL ? 0 : -1;
}

/* Drains what is waiting on each socket; bounded per turn so that no socket
 * starves the others or the timers. */
static void
serve(struct coord *co, long timeout_ms)
{
	zmq_pollitem_t items[6] = {
	    {co->zap, 0, ZMQ_POLLIN, 0},     {co->router, 0, ZMQ_POLLIN, 0},
	    {co->ctl_ipc, 0, ZMQ_POLLIN, 0}, {co->mon, 0, ZMQ_POLLIN, 0},
	    {co->ctl_tcp, 0, ZMQ_POLLIN, 0},
	};
	int n = co->ctl_tcp != NULL ? 5 : 4, rc;
	/* The metrics endpoint, last: a plain descriptor after the sockets. */
	int mfd = metrics_poll_fd(co, &timeout_ms);

	if (mfd >= 0)
		items[n] = (zmq_pollitem_t){NULL, mfd, ZMQ_POLLIN, 0};
	rc = zmq_poll(items, n + (mfd >= 0), timeout_ms);
	/* Every turn, not only when its descriptor is ready: at its connection
	 * limit MHD takes the listening socket out of its epoll set and puts it
	 * back only inside a later MHD_run. */
	if (mfd >= 0)
		metrics_run(co);
	if (rc <= 0)
		return;
	for (int k = 0; k < 100 && (items[3].revents & ZMQ_POLLIN); k++) {
		transport_on_monitor(co);
		if (zmq_poll(&items[3], 1, 0) <= 0)
			break;
	}
	for (int k = 0; k < 1000 && (items[0].revents & ZMQ_POLLIN); k++) {
		transport_on_zap(co);
		if (zmq_poll(&items[0], 1, 0) <= 0)
			break;
	}
	for (int k = 0; k < 2000; k++) {
		int ev = 0;
		size_t sz = sizeof(ev);
		if (zmq_getsockopt(co->router, ZMQ_EVENTS, &ev, &sz) != 0 || !(ev & ZMQ_POLLIN))
			break;
		transport_on_router(co);
	}
	rollout_poked(co);
	coord_flush_turn(co);
	control_waiters(co);
	for (int s = 2; s < n; s++) {
		void *sock = items[s].socket;
		if (s == 3)
			continue; /* the monitor, served above */
		for (int k = 0; k < 100; k++) {
			int ev = 0;
			size_t sz = sizeof(ev);
			if (zmq_getsockopt(sock, ZMQ_EVENTS, &ev, &sz) != 0 || !(ev & ZMQ_POLLIN))
				break;
			control_on_socket(co, sock, s == 4);
			coord_flush_turn(co);
		}
	}
	control_waiters(co); /* a pause or an abort changes a job too */
}

/* One descriptor per agent connection: take what the system allows, and
 * warn when that is few. */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < 4096)
		log_warn(
		    "open files limited to %llu: fewer agents than that can connect (LimitNOFILE)",
		    (unsigned long long)rl.rlim_cur);
}

/* Everything before the loop, co->kp loaded: the store and what it holds,
 * the webhooks' thread, the ZeroMQ context and every socket. Returns 0, or
 * -1 with a message in err; shut_down undoes what was done either way. */
static int
start_up(struct coord *co, char *err, size_t errlen)
{
	if (crypto_sign_ed25519_pk_to_curve25519(co->curve_pk, co->kp->pk) != 0) {
		snprintf(err, errlen, "%s: cannot derive the CURVE key", co->conf->secret_key);
		return -1;
	}
	if (open_state(co, err, errlen) != 0)
		return -1;
	co->hosts = map_new();
	co->curves = map_new();
	co->job_map = map_new();
	co->deployments = map_new();
	if (co->hosts == NULL || co->curves == NULL || co->job_map == NULL ||
	    co->deployments == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	co->version_clock = proto_now_ms() * 1000;
	raise_nofile();
	if (registry_load(co, err, errlen) != 0 || jobs_load(co, err, errlen) != 0)
		return -1;
	if (notify_start(co, err, errlen) != 0)
		return -1;
	co->started_mono = clock_mono_ms();
	co->stats.started_ms = proto_now_ms();
	co->zctx = zmq_ctx_new();
	if (co->zctx == NULL) {
		snprintf(err, errlen, "zmq: %s", zmq_strerror(errno));
		return -1;
	}
	if (transport_open(co, err, errlen) != 0 || control_open(co, err, errlen) != 0 ||
	    metrics_open(co, err, errlen) != 0)
		return -1;
	return 0;
}

/* The loop, from ready to the stop signal: serves and ticks, with the start
 * and the stop audited and told to systemd (sn). */
static void
serve_until_signal(struct coord *co, struct sdnotify *sn)
{
	struct sigaction sa;
	uint64_t next_tick = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	log_info("odc-coordinator %s: %s, agents on %s, control on ipc://%s%s%s; %zu hosts, %zu "
	         "active jobs",
	         COORD_VERSION, co->conf->id, co->conf->agents_bind, co->conf->control_socket,
	         *co->conf->control_tcp ? " and " : "", co->conf->control_tcp, map_count(co->hosts),
	         map_count(co->job_map));
	coord_audit(co, "coordinator", "start", NULL, NULL, "ok", "odc-coordinator %s",
	            COORD_VERSION);
	coord_flush_turn(co);
	/* Ready: the store is loaded and every socket is bound. */
	systemd_status(co, sn, true);
	while (!stop_signal) {
		uint64_t now = clock_mono_ms(), ping = sdnotify_watchdog(sn);
		long wait = next_tick > now ? (long)(next_tick - now) : 0;
		if (ping < (uint64_t)wait)
			wait = (long)ping;
		serve(co, wait);
		now = clock_mono_ms();
		if (now >= next_tick) {
			registry_sweep(co);
			rollout_tick(co);
			coord_flush_turn(co);
			control_waiters(co);
			/* Counting the hosts costs a walk of the registry: only when a
			 * status line may go (sdnotify_status sends at most one a second). */
			if (now >= sn->next_status)
				systemd_status(co, sn, false);
			next_tick = now + COORD_TICK_MS;
		}
	}
	log_info("stopping on signal %d", (int)stop_signal);
	sdnotify_stopping(sn, "stopping on signal %d", (int)stop_signal);
	coord_audit(co, "coordinator", "stop", NULL, NULL, "ok", "signal %d", (int)stop_signal);
	coord_flush_turn(co);
}

/* Undoes start_up, whatever part of it was done: each module closes what it
 * opened, then the context, the registry, the jobs and the store go. */
static void
shut_down(struct coord *co)
{
	metrics_close(co);
	notify_stop(&co->notify, COORD_NOTIFY_GRACE_MS);
	transport_close(co);
	control_close(co);
	if (co->zctx)
		zmq_ctx_term(co->zctx);
	control_free(co);
	jobs_free(co);
	registry_free(co);
	deploy_free(co);
	map_free(co->hosts);
	map_free(co->curves);
	map_free(co->job_map);
	coord_turn_free(co);
	store_close(co->store);
	keys_pair_free(co->kp);
}

/* odc-coordinator run: 0 after a stop signal, or -1 with a message in err
 * when it could not start. */
static int
run(struct coord *co, char *err, size_t errlen)
{
	struct sdnotify sn;
	int ret = -1;

	sdnotify_init(&sn);
	co->kp = keys_load_secret(co->conf->secret_key, err, errlen);
	if (co->kp == NULL)
		return -1;
	if (start_up(co, err, errlen) == 0) {
		serve_until_signal(co, &sn);
		ret = 0;
	}
	shut_down(co);
	return ret;
}

int
main(int argc, char **argv)
{
	const char *conf_path = DEFAULT_CONF;
	struct coord_conf conf;
	struct coord co = {0};
	char err[1024];
	int verbose = 0, ret;
	enum log_level lvl;

	if ((ret = cli_daemon_options(argc, argv, "odc-coordinator", COORD_VERSION, PROTO_VERSION,
	                              usage, &conf_path, &verbose)) >= 0)
		return ret;
	const char *cmd = argv[optind];
	if (keys_init() != 0) {
		fprintf(stderr, "odc-coordinator: cannot initialise libsodium\n");
		return EXIT_FAIL;
	}
	if (strcmp(cmd, "keygen") == 0) {
		if (optind + 3 != argc) {
			fprintf(stderr,
			        "usage: odc-coordinator keygen SECRET_KEY_FILE PUBLIC_KEY_FILE\n");
			return EXIT_USAGE;
		}
		return cmd_keygen(argv[optind + 1], argv[optind + 2]);
	}
	if (strcmp(cmd, "run") != 0 && strcmp(cmd, "check-config") != 0) {
		fprintf(stderr, "odc-coordinator: unknown command '%s'\n", cmd);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (optind + 1 != argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	/* run and check-config check the same, and print every problem the
	 * same way. */
	ret = coord_conf_load(conf_path, &conf, err, sizeof(err));
	if (conf.cfg != NULL)
		ret = coord_conf_check(&conf, err, sizeof(err));
	if (ret != 0) {
		config_report(stderr, conf.cfg, conf_path, err);
		coord_conf_free(&conf);
		return EXIT_USAGE;
	}
	if (strcmp(cmd, "check-config") == 0) {
		coord_conf_free(&conf);
		return EXIT_OK;
	}
	if (log_level_parse(conf.log_level, &lvl) != 0)
		lvl = LOG_LVL_INFO;
	log_init("odc-coordinator", verbose ? LOG_LVL_DEBUG : lvl, 0);
	co.conf = &conf;
	if (run(&co, err, sizeof(err)) != 0) {
		fprintf(stderr, "odc-coordinator: %s\n", err);
		ret = EXIT_FAIL;
	} else {
		ret = EXIT_OK;
	}
	coord_conf_free(&conf);
	return ret;
}
