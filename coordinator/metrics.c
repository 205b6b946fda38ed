/* The Prometheus endpoint ([metrics] listen): GET /metrics served by
 * libmicrohttpd on the event loop's own thread, from a listening socket of
 * its own and with a bound on connections. What it answers is rendered by
 * metrics-text.c; the counters are metrics-count.c's. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <netinet/in.h>
#include <microhttpd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "coordinator/coord.h"

#define METRICS_PATH         "/metrics"
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
/* 10,000 hosts render to about 3.5 MB; a job in memory to about 1 KiB. */
#define METRICS_MAX_BYTES (32u * 1024 * 1024)

/* Connections: a scraper must get in however many others are held open
 * (idle, or sending a byte now and then), so the endpoint accepts them
 * itself and makes room for each newcomer by closing the connection that
 * has waited longest without a whole request. At most METRICS_CONNS_MAX, and
 * no more than a sixteenth of the open files limit: the agents come first. */
#define METRICS_CONNS_MAX     64
#define METRICS_CONNS_MIN     8
#define METRICS_PER_ADDRESS   4  /* one client address holds at most limit / this */
#define METRICS_ACCEPT_BURST  16 /* accepted per loop turn */
#define METRICS_BACKLOG       128
#define METRICS_IDLE_S        5     /* libmicrohttpd closes a connection silent this long */
#define METRICS_REQUEST_MS    10000 /* a request must arrive whole within this */
#define METRICS_ANSWER_MS     30000 /* and its answer must be taken within this */
#define METRICS_BUSY_GRACE_MS 1000  /* an answer this young is never cut short */
#define METRICS_PAUSE_MS      1000  /* no accept for this long when out of descriptors */
#define METRICS_WARN_MS       60000 /* at most one warning a minute about closed connections */
#define METRICS_PEEK          2048  /* bytes looked at for a whole request header */

/* One client connection, from libmicrohttpd's STARTED notice to its CLOSED
 * one: its descriptor stays open until after CLOSED, so fd is always ours
 * to shut down while the record lives. */
struct mconn {
	struct mconn *prev, *next;
	int fd;
	sa_family_t family;
	uint8_t ip[16];
	uint64_t since; /* clock_mono_ms: accepted, or its current request began or ended */
	bool busy;      /* has a whole request, being answered */
	bool evicted;   /* shut down; libmicrohttpd has yet to see it close */
};

struct metrics {
	struct MHD_Daemon *d;
	int listen_fd;
	int epoll_fd;          /* the loop polls this one: listen_fd and libmicrohttpd's epoll */
	unsigned int limit;    /* connections held, not counting the evicted */
	unsigned int per_addr; /* of them, from one client address */
	unsigned int live;     /* connections not evicted */
	unsigned int total;    /* every one libmicrohttpd holds, the evicted too */
	struct mconn *conns;
	bool adding_busy; /* what accept_some saw of the connection being added */
	uint64_t adding_since;
	uint64_t paused_until;          /* clock_mono_ms; 0 when accepting */
	uint64_t closed_early, refused; /* connections closed, refused since the last warning */
	uint64_t last_warn, last_pause_warn;
	bool started;
	char start_err[256]; /* libmicrohttpd's first complaint while starting */
};

/* ---- the HTTP server ---- */

static char not_found[] = "404 not found: the metrics are at " METRICS_PATH "\n";
static char not_allowed[] = "405 method not allowed: GET or HEAD\n";
static char too_big[] = "500 the metrics cannot be rendered (see the coordinator's log)\n";

static struct mconn *
conn_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *info =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return info != NULL ? info->socket_context : NULL;
}

static enum MHD_Result
answer_static(struct MHD_Connection *conn, unsigned int status, char *text)
{
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_PERSISTENT);
	enum MHD_Result rc;

	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	rc = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return rc;
}

/* Called by MHD_run, so on the loop's thread between two turns: the state
 * it renders is consistent. Answers at the first call (no request body is
 * read). */
static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_data_size, void **req_cls)
{
	const struct coord *co = cls;
	struct mconn *c = conn_of(conn);
	struct MHD_Response *r;
	struct buf b;
	enum MHD_Result rc;

	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)req_cls;
	if (c != NULL && !c->busy) {
		c->busy = true;
		c->since = clock_mono_ms();
	}
	if (strcmp(url, METRICS_PATH) != 0)
		return answer_static(conn, MHD_HTTP_NOT_FOUND, not_found);
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return answer_static(conn, MHD_HTTP_METHOD_NOT_ALLOWED, not_allowed);
	buf_init(&b, METRICS_MAX_BYTES);
	if (metrics_render(co, proto_now_ms(), clock_mono_ms(), &b) != 0 || b.data == NULL) {
		log_err("metrics: cannot render the metrics (more than %u bytes, or out of memory)",
		        METRICS_MAX_BYTES);
		buf_free(&b);
		return answer_static(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, too_big);
	}
	/* The response owns b.data from here (freed with free()). */
	r = MHD_create_response_from_buffer(b.len, b.data, MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		buf_free(&b);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, METRICS_CONTENT_TYPE);
	rc = MHD_queue_response(conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return rc;
}

/* A request answered (or given up): the connection waits for its next one. */
static void
on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
             enum MHD_RequestTerminationCode toe)
{
	struct mconn *c = conn_of(conn);

	(void)cls;
	(void)req_cls;
	(void)toe;
	if (c != NULL) {
		c->busy = false;
		c->since = clock_mono_ms();
	}
}

/* Who a client is for its share of connections: its IPv4 address, or its
 * IPv6 /64 (one host commonly has a whole /64 to pick addresses from). */
static void
addr_key(const struct sockaddr *sa, sa_family_t *family, uint8_t ip[16])
{
	memset(ip, 0, 16);
	*family = sa->sa_family;
	if (sa->sa_family == AF_INET)
		memcpy(ip, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	else if (sa->sa_family == AF_INET6)
		memcpy(ip, &((const struct sockaddr_in6 *)sa)->sin6_addr, 8);
}

/* libmicrohttpd took a connection (inside MHD_add_connection), or closed
 * one: the record of it lives in between. Without a record (out of memory)
 * a connection is only libmicrohttpd's: never evicted, not counted. */
static void
on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
              enum MHD_ConnectionNotificationCode toe)
{
	struct metrics *mt = cls;
	struct mconn *c = *socket_context;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *info;

		*socket_context = NULL;
		if ((c = calloc(1, sizeof(*c))) == NULL)
			return;
		/* Each answer is read at once: a later libmicrohttpd may give
		 * them all in one buffer of its own. */
		info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		if (info != NULL)
			c->fd = info->connect_fd;
		if (info != NULL &&
		    (info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS)) !=
		        NULL &&
		    info->client_addr != NULL) {
			addr_key(info->client_addr, &c->family, c->ip);
		} else {
			free(c);
			return;
		}
		c->since = mt->adding_since;
		c->busy = mt->adding_busy;
		c->next = mt->conns;
		if (mt->conns != NULL)
			mt->conns->prev = c;
		mt->conns = c;
		mt->live++;
		mt->total++;
		*socket_context = c;
		return;
	}
	if (c == NULL)
		return;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		mt->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	if (!c->evicted)
		mt->live--;
	mt->total--;
	free(c);
	*socket_context = NULL;
}

static uint64_t
age(uint64_t now, uint64_t since)
{
	return now > since ? now - since : 0;
}

/* Closes c for libmicrohttpd to notice at its next run: a shutdown, not a
 * close, as the descriptor is libmicrohttpd's. Counted, not logged one by
 * one: under attack that would be thousands of lines a second. */
static void
evict(struct metrics *mt, struct mconn *c)
{
	shutdown(c->fd, SHUT_RDWR);
	c->evicted = true;
	mt->live--;
	mt->closed_early++;
}

/* The connection to close for a newcomer: of those from family/ip (any when
 * ip is NULL), the one that has waited longest, except an answer under way
 * for less than METRICS_BUSY_GRACE_MS; NULL when there is none. */
static bool has_request(int fd);

static struct mconn *
oldest(struct metrics *mt, sa_family_t family, const uint8_t *ip, uint64_t now)
{
	/* A candidate whose whole request has arrived since it was accepted
	 * (libmicrohttpd reads it at its next run) is a scraper about to be
	 * answered, not an idle one: it counts as busy from now on, and the
	 * next oldest is looked at. */
	for (unsigned int tries = 0; tries <= mt->live; tries++) {
		struct mconn *best = NULL;
		for (struct mconn *c = mt->conns; c != NULL; c = c->next) {
			if (c->evicted ||
			    (ip != NULL && (c->family != family || memcmp(c->ip, ip, 16) != 0)))
				continue;
			if (c->busy && age(now, c->since) < METRICS_BUSY_GRACE_MS)
				continue;
			if (best == NULL || c->since < best->since)
				best = c;
		}
		if (best == NULL || best->busy || !has_request(best->fd))
			return best;
		best->busy = true;
		best->since = now;
	}
	return NULL;
}

/* Room for a connection from sa: within its address's share, then within the
 * limit, closing the oldest in the way. false: none may go (every one in the
 * way has just begun an answer); the newcomer is refused. */
static bool
make_room(struct metrics *mt, const struct sockaddr *sa, uint64_t now)
{
	sa_family_t family;
	uint8_t ip[16];
	unsigned int same = 0;
	struct mconn *victim;

	addr_key(sa, &family, ip);
	for (struct mconn *c = mt->conns; c != NULL; c = c->next)
		same += !c->evicted && c->family == family && memcmp(c->ip, ip, 16) == 0;
	if (same >= mt->per_addr)
		victim = oldest(mt, family, ip, now);
	else if (mt->live >= mt->limit)
		victim = oldest(mt, 0, NULL, now);
	else
		return true;
	if (victim == NULL)
		return false;
	evict(mt, victim);
	return true;
}

/* Whether a whole request header already waits on fd (a scraper sends its
 * request at once): such a newcomer is not the next to go. */
static bool
has_request(int fd)
{
	char b[METRICS_PEEK];
	ssize_t n = recv(fd, b, sizeof(b), MSG_PEEK | MSG_DONTWAIT);

	return n > 0 && (memmem(b, (size_t)n, "\r\n\r\n", 4) != NULL ||
	                 memmem(b, (size_t)n, "\n\n", 2) != NULL);
}

static void
pause_accept(struct metrics *mt, uint64_t now, int why)
{
	epoll_ctl(mt->epoll_fd, EPOLL_CTL_DEL, mt->listen_fd, NULL);
	mt->paused_until = now + METRICS_PAUSE_MS;
	if (mt->last_pause_warn == 0 || now - mt->last_pause_warn >= METRICS_WARN_MS) {
		log_warn("metrics: cannot accept a connection: %s; trying again in %d ms",
		         strerror(why), METRICS_PAUSE_MS);
		mt->last_pause_warn = now;
	}
}

static void
accept_some(struct metrics *mt, uint64_t now)
{
	for (int k = 0; k < METRICS_ACCEPT_BURST; k++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int fd;

		/* At libmicrohttpd's own limit, room comes only once one it holds
		 * has closed, at its next run: make sure one will. */
		if (mt->total >= mt->limit + METRICS_ACCEPT_BURST) {
			struct mconn *victim =
			    mt->total == mt->live ? oldest(mt, 0, NULL, now) : NULL;
			if (victim != NULL)
				evict(mt, victim);
			break;
		}
		fd = accept4(mt->listen_fd, (struct sockaddr *)&ss, &len,
		             SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM)
				pause_accept(mt, now, errno);
			else if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_debug("metrics: accept: %s", strerror(errno));
			break;
		}
		/* A newcomer whose whole request is there (a scraper sends it at
		 * once) is let in even when nothing can make room for it, up to
		 * libmicrohttpd's limit; any other is refused then. */
		mt->adding_busy = has_request(fd);
		if (!make_room(mt, (struct sockaddr *)&ss, now) && !mt->adding_busy) {
			mt->refused++;
			close(fd);
			continue;
		}
		mt->adding_since = now;
		/* On failure libmicrohttpd has closed fd. */
		if (MHD_add_connection(mt->d, fd, (struct sockaddr *)&ss, len) != MHD_YES)
			log_debug("metrics: libmicrohttpd refused a connection: %s",
			          strerror(errno));
	}
}

/* No phase of a connection may last forever: a request that never ends
 * (a byte now and then keeps libmicrohttpd's idle timeout away), or an answer
 * that is never read. */
static void
sweep(struct metrics *mt, uint64_t now)
{
	for (struct mconn *c = mt->conns; c != NULL; c = c->next) {
		if (c->evicted)
			continue;
		if (age(now, c->since) >= (c->busy ? METRICS_ANSWER_MS : METRICS_REQUEST_MS))
			evict(mt, c);
	}
	if ((mt->closed_early > 0 || mt->refused > 0) &&
	    (mt->last_warn == 0 || now - mt->last_warn >= METRICS_WARN_MS)) {
		log_warn("metrics: closed %llu connections early and refused %llu since the last "
		         "such warning (too "
		         "slow with a request or its answer, or the oldest in a newcomer's way; at "
		         "most %u "
		         "connections, %u per address): is something holding connections open?",
		         (unsigned long long)mt->closed_early, (unsigned long long)mt->refused,
		         mt->limit, mt->per_addr);
		mt->closed_early = mt->refused = 0;
		mt->last_warn = now;
	}
}

static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* While starting, libmicrohttpd's first complaint becomes the start error;
 * afterwards its messages (a client that misbehaved) are debug events: a
 * scraper notices a failed scrape by itself. */
static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct metrics *mt = cls;
	char msg[256];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	if (!mt->started && *mt->start_err == '\0')
		snprintf(mt->start_err, sizeof(mt->start_err), "%s", msg);
	else if (mt->started)
		log_debug("metrics: %s", msg);
}

static unsigned int
conn_limit(void)
{
	struct rlimit rl;
	rlim_t n = METRICS_CONNS_MAX;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur / 16 < n)
		n = rl.rlim_cur / 16;
	return n < METRICS_CONNS_MIN ? METRICS_CONNS_MIN : (unsigned int)n;
}

/* The listening socket, ours rather than libmicrohttpd's so that the
 * endpoint decides who gets in. Returns the descriptor, or -1 with errno. */
static int
listen_on(const struct coord_conf *c)
{
	int fd = socket(c->metrics_addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0),
	    one = 1, e;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (c->metrics_addr.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&c->metrics_addr, c->metrics_addr_len) != 0 ||
	    listen(fd, METRICS_BACKLOG) != 0) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static void
metrics_free(struct metrics *mt)
{
	if (mt == NULL)
		return;
	/* Stopping closes every connection (CLOSED frees its record). */
	if (mt->d != NULL)
		MHD_stop_daemon(mt->d);
	while (mt->conns != NULL) {
		struct mconn *c = mt->conns;
		mt->conns = c->next;
		free(c);
	}
	if (mt->listen_fd >= 0)
		close(mt->listen_fd);
	if (mt->epoll_fd >= 0)
		close(mt->epoll_fd);
	free(mt);
}

int
metrics_open(struct coord *co, char *err, size_t errlen)
{
	const struct coord_conf *c = co->conf;
	const union MHD_DaemonInfo *info;
	struct epoll_event ev = {.events = EPOLLIN};
	struct metrics *mt;

	if (c->metrics_addr_len == 0)
		return 0;
	mt = calloc(1, sizeof(*mt));
	if (mt == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	mt->listen_fd = mt->epoll_fd = -1;
	mt->limit = conn_limit();
	mt->per_addr = mt->limit / METRICS_PER_ADDRESS;
	mt->listen_fd = listen_on(c);
	if (mt->listen_fd < 0) {
		snprintf(err, errlen, "%s: metrics.listen %s: %s", c->path, c->metrics_listen,
		         strerror(errno));
		goto fail;
	}
	errno = 0;
	/* The logger first: libmicrohttpd wants it before anything it may log.
	 * Its limit leaves room for the evicted it has yet to close. */
	mt->d = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_USE_NO_LISTEN_SOCKET, 0,
	                         NULL, NULL, on_request, co, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
	                         mt, MHD_OPTION_CONNECTION_LIMIT, mt->limit + METRICS_ACCEPT_BURST,
	                         MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)METRICS_IDLE_S,
	                         MHD_OPTION_NOTIFY_CONNECTION, on_connection, mt,
	                         MHD_OPTION_NOTIFY_COMPLETED, on_completed, mt, MHD_OPTION_END);
	if (mt->d == NULL) {
		snprintf(err, errlen, "%s: metrics.listen %s: %s", c->path, c->metrics_listen,
		         *mt->start_err ? mt->start_err
		         : errno        ? strerror(errno)
		                        : "cannot start the HTTP server");
		goto fail;
	}
	info = MHD_get_daemon_info(mt->d, MHD_DAEMON_INFO_EPOLL_FD);
	if (info == NULL || info->epoll_fd < 0) {
		snprintf(err, errlen, "metrics.listen: libmicrohttpd has no epoll descriptor");
		goto fail;
	}
	/* One descriptor for the loop: ours, holding the listening socket and
	 * libmicrohttpd's epoll (ready when one of its connections is). */
	mt->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	ev.data.fd = mt->listen_fd;
	if (mt->epoll_fd < 0 || epoll_ctl(mt->epoll_fd, EPOLL_CTL_ADD, mt->listen_fd, &ev) != 0) {
		snprintf(err, errlen, "metrics.listen: epoll: %s", strerror(errno));
		goto fail;
	}
	ev.data.fd = info->epoll_fd;
	if (epoll_ctl(mt->epoll_fd, EPOLL_CTL_ADD, info->epoll_fd, &ev) != 0) {
		snprintf(err, errlen, "metrics.listen: epoll: %s", strerror(errno));
		goto fail;
	}
	mt->started = true;
	co->metrics = mt;
	log_info("metrics: serving http://%s%s", c->metrics_listen, METRICS_PATH);
	return 0;
fail:
	metrics_free(mt);
	return -1;
}

int
metrics_poll_fd(struct coord *co, long *timeout_ms)
{
	struct metrics *mt = co->metrics;
	MHD_UNSIGNED_LONG_LONG t;
	uint64_t now, next = UINT64_MAX;

	if (mt == NULL)
		return -1;
	/* A deadline: an idle connection to close, or data MHD has already
	 * read (its epoll is edge-triggered); ours: a connection too slow,
	 * the end of a pause. */
	if (MHD_get_timeout(mt->d, &t) == MHD_YES)
		next = t;
	now = clock_mono_ms();
	for (struct mconn *c = mt->conns; c != NULL; c = c->next) {
		uint64_t end = c->since + (c->busy ? METRICS_ANSWER_MS : METRICS_REQUEST_MS);
		if (!c->evicted && (end > now ? end - now : 0) < next)
			next = end > now ? end - now : 0;
	}
	if (mt->paused_until != 0 && (mt->paused_until > now ? mt->paused_until - now : 0) < next)
		next = mt->paused_until > now ? mt->paused_until - now : 0;
	if (next != UINT64_MAX && (*timeout_ms < 0 || next < (uint64_t)*timeout_ms))
		*timeout_ms = (long)next;
	return mt->epoll_fd;
}

void
metrics_run(struct coord *co)
{
	struct metrics *mt = co->metrics;
	struct epoll_event ev[2];
	uint64_t now;
	int n;

	if (mt == NULL)
		return;
	now = clock_mono_ms();
	if (mt->paused_until != 0 && now >= mt->paused_until) {
		struct epoll_event add = {.events = EPOLLIN, .data.fd = mt->listen_fd};
		if (epoll_ctl(mt->epoll_fd, EPOLL_CTL_ADD, mt->listen_fd, &add) == 0 ||
		    errno == EEXIST)
			mt->paused_until = 0;
		else
			mt->paused_until = now + METRICS_PAUSE_MS;
	}
	sweep(mt, now);
	n = epoll_wait(mt->epoll_fd, ev, 2, 0);
	for (int i = 0; i < n; i++)
		if (ev[i].data.fd == mt->listen_fd)
			accept_some(mt, now);
	if (MHD_run(mt->d) != MHD_YES)
		log_debug("metrics: MHD_run failed");
}

void
metrics_close(struct coord *co)
{
	metrics_free(co->metrics);
	co->metrics = NULL;
}
