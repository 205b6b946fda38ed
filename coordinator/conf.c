/* odc-coordinator's configuration file (coordinator/README.md): every key
 * known, typed and checked at load, every problem as file:line: section.key. */
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include <curl/curl.h>

#include "common/keys.h"
#include "coordinator/conf.h"

static const char *const known_keys[] = {
    "coordinator.id",
    "coordinator.state_dir",
    "coordinator.log_level",
    "keys.secret_key",
    "agents.bind",
    "agents.heartbeat",
    "agents.lost_after",
    "agents.ack_timeout",
    "control.socket",
    "control.group",
    "control.tcp",
    "trust.operators",
    "trust.skew",
    "metrics.listen",
    NULL,
};

/* The keys of each [webhook.NAME] section, written "webhook.KEY" here; they are
 * checked as "webhook.NAME.KEY" (known_list). */
static const char *const webhook_keys[] = {
    "webhook.url",         "webhook.format",   "webhook.events",
    "webhook.timeout",     "webhook.attempts", "webhook.backoff",
    "webhook.backoff_max", "webhook.secret",   NULL,
};

/* Each getter reports its own file:line error; r < 0 stops. */
#define GET(call)                                                                                  \
	do {                                                                                       \
		if ((call) < 0)                                                                    \
			goto fail;                                                                 \
	} while (0)

#define REQUIRE(section, key)                                                                      \
	do {                                                                                       \
		if (config_require(c->cfg, section, key, err, errlen) != 0)                        \
			goto fail;                                                                 \
	} while (0)

static void bad_value(const struct coord_conf *c, const char *section, const char *key, char *err,
                      size_t errlen, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void
bad_value(const struct coord_conf *c, const char *section, const char *key, char *err,
          size_t errlen, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(err, errlen, "%s:%d: %s.%s: %s", c->path, config_line(c->cfg, section, key),
	         section, key, what);
}

/* A ZeroMQ TCP endpoint we can bind: "tcp://HOST:PORT" where HOST is not
 * empty and PORT is 1..65535 or '*' (any free port). Anything else would only
 * fail later, inside zmq_bind, with a vaguer message. */
static bool
tcp_endpoint_ok(const char *s)
{
	const char *host, *colon, *p;
	unsigned long port = 0;

	if (strncmp(s, "tcp://", 6) != 0)
		return false;
	host = s + 6;
	colon = strrchr(host, ':');
	if (colon == NULL || colon == host)
		return false;
	for (p = host; p < colon; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || *p == '/')
			return false;
	if (strcmp(colon + 1, "*") == 0)
		return true;
	for (p = colon + 1; *p != '\0'; p++) {
		if (*p < '0' || *p > '9' || p - colon > 5)
			return false;
		port = port * 10 + (unsigned long)(*p - '0');
	}
	return p > colon + 1 && port >= 1 && port <= 65535;
}

/* metrics.listen: "A.B.C.D:PORT" or "[IPv6]:PORT" with PORT 1..65535, numeric
 * only: no name is resolved, so what is checked here is what is bound.
 * Returns NULL with the address in *ss and *len, or what is wrong. */
static const char *
listen_addr_parse(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[INET6_ADDRSTRLEN];
	const char *h = s, *colon, *p;
	unsigned long port = 0;
	bool v6 = *s == '[';
	size_t n;

	memset(ss, 0, sizeof(*ss));
	if (v6) {
		const char *close = strchr(s, ']');
		if (close == NULL || close[1] != ':')
			return "an IPv6 address needs brackets and a port: [::1]:9477";
		h = s + 1;
		colon = close + 1;
		n = (size_t)(close - h);
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			return "no port: expected A.B.C.D:PORT or [IPv6]:PORT";
		n = (size_t)(colon - s);
		if (memchr(s, ':', n) != NULL)
			return "an IPv6 address needs brackets: [::1]:9477";
	}
	for (p = colon + 1; *p != '\0'; p++) {
		if (*p < '0' || *p > '9' || p - colon > 5)
			return "the port is not a number from 1 to 65535";
		port = port * 10 + (unsigned long)(*p - '0');
	}
	if (p == colon + 1 || port < 1 || port > 65535)
		return "the port is not a number from 1 to 65535";
	if (n == 0 || n >= sizeof(host))
		return "not an IP address (host names are not resolved)";
	memcpy(host, h, n);
	host[n] = '\0';
	if (v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
		if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
			return "not an IPv6 address";
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		*len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;
		if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
			return "not an IPv4 address A.B.C.D (host names are not resolved)";
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		*len = sizeof(*a);
	}
	return NULL;
}

/* 1 when the group exists, 0 when it does not, -1 (with errno's text in why)
 * when the lookup itself failed. */
static int
group_exists(const char *name, char *why, size_t whylen)
{
	struct group gr, *res = NULL;
	long max = sysconf(_SC_GETGR_R_SIZE_MAX);
	size_t len = max > 0 ? (size_t)max : 16384;
	char *buf = NULL;
	int rc, ret = -1;

	/* Groups with many members need more than the suggested size. */
	for (;;) {
		char *nbuf = realloc(buf, len);
		if (nbuf == NULL) {
			snprintf(why, whylen, "out of memory");
			goto out;
		}
		buf = nbuf;
		rc = getgrnam_r(name, &gr, buf, len, &res);
		if (rc != ERANGE || len >= (1u << 24))
			break;
		len *= 2;
	}
	if (rc != 0 && rc != ENOENT && rc != ESRCH && rc != EBADF && rc != EPERM) {
		snprintf(why, whylen, "cannot look up group '%s': %s", name, strerror(rc));
		goto out;
	}
	ret = res != NULL ? 1 : 0;
out:
	free(buf);
	return ret;
}

/* trust.operators: name=key pairs; names are label keys (checked by
 * config_get_labels), keys are odc public keys, each key at most once. */
static int
load_operators(struct coord_conf *c, char *err, size_t errlen)
{
	struct config_label labels[COORD_MAX_OPERATORS];
	char kerr[160];
	size_t n = 0;

	/* A line holds at most CONFIG_MAX_LINE bytes, so the whole list fits. */
	if (config_get_labels(c->cfg, "trust", "operators", NULL, labels, COORD_MAX_OPERATORS, &n,
	                      c->store, sizeof(c->store), err, errlen) < 0)
		return -1;
	if (n == 0) {
		bad_value(c, "trust", "operators", err, errlen,
		          "at least one operator (name=key) is required");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		struct coord_operator *op = &c->operators[i];

		op->name = labels[i].key;
		if (keys_parse_public(labels[i].value, op->pk, kerr, sizeof(kerr)) != 0) {
			bad_value(c, "trust", "operators", err, errlen, "operator %s: %s", op->name,
			          kerr);
			return -1;
		}
		for (size_t j = 0; j < i; j++) {
			if (memcmp(c->operators[j].pk, op->pk, PROTO_PK_LEN) == 0) {
				bad_value(c, "trust", "operators", err, errlen,
				          "operators %s and %s have the same key; each operator "
				          "needs a key of their own",
				          c->operators[j].name, op->name);
				return -1;
			}
		}
	}
	c->n_operators = n;
	return 0;
}

/* ---- [webhook.NAME] ---- */

#define WEBHOOK_PREFIX     "webhook."
#define WEBHOOK_URL_MAX    2048
#define WEBHOOK_SECRET_MAX 256

/* The [webhook.NAME] sections in file order (strings owned by c->cfg). A
 * webhook needs a name: keys in a bare [webhook] or in [webhook.] are refused
 * here, before the unknown-key check would call them unknown. */
static int
webhook_sections(const struct coord_conf *c, const char **names, size_t *n, char *err,
                 size_t errlen)
{
	size_t count = config_count(c->cfg);

	*n = 0;
	for (size_t i = 0; i < count; i++) {
		const char *section, *key, *value;
		bool seen = false;
		int line;

		if (config_entry(c->cfg, i, &section, &key, &value, &line) != 0)
			break;
		if (strcmp(section, "webhook") == 0 || strcmp(section, WEBHOOK_PREFIX) == 0) {
			snprintf(err, errlen,
			         "%s:%d: %s.%s: a webhook needs a name: [webhook.NAME]", c->path,
			         line, section, key);
			return -1;
		}
		if (strncmp(section, WEBHOOK_PREFIX, strlen(WEBHOOK_PREFIX)) != 0)
			continue;
		for (size_t k = 0; k < *n && !seen; k++)
			seen = strcmp(names[k], section) == 0;
		if (seen)
			continue;
		if (*n == COORD_MAX_WEBHOOKS) {
			snprintf(err, errlen, "%s:%d: %s.%s: more than %d webhooks", c->path, line,
			         section, key, COORD_MAX_WEBHOOKS);
			return -1;
		}
		names[(*n)++] = section;
	}
	return 0;
}

/* known_keys, then "SECTION.KEY" for each webhook section and webhook key: a
 * malloc'd NULL-terminated list whose strings follow it in the same block
 * (one free), or NULL when memory runs out. */
static const char **
known_list(const char *const *sections, size_t n)
{
	size_t nbase = 0, nkeys = 0, text = 0, at = 0;
	const char **list;
	char *p;

	while (known_keys[nbase] != NULL)
		nbase++;
	while (webhook_keys[nkeys] != NULL)
		nkeys++;
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < nkeys; k++)
			text +=
			    strlen(sections[i]) + strlen(webhook_keys[k]) - strlen("webhook") + 1;
	list = malloc((nbase + n * nkeys + 1) * sizeof(*list) + text);
	if (list == NULL)
		return NULL;
	p = (char *)(list + nbase + n * nkeys + 1);
	for (size_t i = 0; i < nbase; i++)
		list[at++] = known_keys[i];
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < nkeys; k++) {
			/* "webhook.url" -> SECTION + ".url" */
			size_t len =
			    strlen(sections[i]) + strlen(webhook_keys[k]) - strlen("webhook") + 1;
			snprintf(p, len, "%s%s", sections[i], webhook_keys[k] + strlen("webhook"));
			list[at++] = p;
			p += len;
		}
	}
	list[at] = NULL;
	return list;
}

/* An absolute http(s) URL libcurl parses, with a host, at most
 * WEBHOOK_URL_MAX bytes of printable ASCII (anything else percent-encoded). */
static bool
webhook_url_ok(const char *url, char *why, size_t whylen)
{
	CURLU *u = NULL;
	CURLUcode rc;
	char *host = NULL;
	bool ok = false;

	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
		snprintf(why, whylen, "expected an http:// or https:// URL");
		goto out;
	}
	if (strlen(url) > WEBHOOK_URL_MAX) {
		snprintf(why, whylen, "longer than %d bytes", WEBHOOK_URL_MAX);
		goto out;
	}
	for (const char *p = url; *p != '\0'; p++) {
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
			snprintf(why, whylen,
			         "blanks, control or non-ASCII bytes must be percent-encoded");
			goto out;
		}
	}
	u = curl_url();
	if (u == NULL) {
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	rc = curl_url_set(u, CURLUPART_URL, url, 0);
	if (rc == CURLUE_OK)
		rc = curl_url_get(u, CURLUPART_HOST, &host, 0);
	if (rc != CURLUE_OK || host == NULL || *host == '\0') {
		snprintf(why, whylen, "not a valid URL: %s",
		         rc != CURLUE_OK ? curl_url_strerror(rc) : "no host");
		goto out;
	}
	ok = true;
out:
	curl_free(host);
	curl_url_cleanup(u);
	return ok;
}

static int
load_webhook(struct coord_conf *c, const char *s, struct coord_webhook *w, char *err, size_t errlen)
{
	static const char *const event_names[] = {"start", "halt", "finish"};
	const char *format, *items[8];
	char store[256], why[256];

	w->name = s + strlen(WEBHOOK_PREFIX);
	if (config_require(c->cfg, s, "url", err, errlen) != 0)
		return -1;
	if (config_get_str(c->cfg, s, "url", NULL, &w->url, err, errlen) < 0)
		return -1;
	if (!webhook_url_ok(w->url, why, sizeof(why))) {
		bad_value(c, s, "url", err, errlen, "%s", why);
		return -1;
	}

	if (config_get_str(c->cfg, s, "format", "json", &format, err, errlen) < 0)
		return -1;
	if (strcmp(format, "json") == 0) {
		w->format = COORD_WEBHOOK_JSON;
	} else if (strcmp(format, "dingtalk") == 0) {
		w->format = COORD_WEBHOOK_DINGTALK;
	} else if (strcmp(format, "slack") == 0) {
		w->format = COORD_WEBHOOK_SLACK;
	} else {
		bad_value(c, s, "format", err, errlen, "expected json, dingtalk or slack");
		return -1;
	}

	size_t n = 0;
	if (config_get_list(c->cfg, s, "events", "start, halt, finish", items, 8, &n, store,
	                    sizeof(store), err, errlen) < 0)
		return -1;
	w->events = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned bit = 0;
		for (int e = 0; e < 3; e++)
			if (strcmp(items[i], event_names[e]) == 0)
				bit = COORD_EVENT_BIT(e);
		if (bit == 0) {
			bad_value(c, s, "events", err, errlen,
			          "unknown event '%s' (start, halt or finish)", items[i]);
			return -1;
		}
		w->events |= bit;
	}
	if (w->events == 0) {
		bad_value(c, s, "events", err, errlen, "at least one of start, halt, finish");
		return -1;
	}

	if (config_get_duration_ms(c->cfg, s, "timeout", 5000, 100, 300000, &w->timeout_ms, err,
	                           errlen) < 0 ||
	    config_get_uint(c->cfg, s, "attempts", 5, 1, 20, &w->attempts, err, errlen) < 0 ||
	    config_get_duration_ms(c->cfg, s, "backoff", 1000, 10, 600000, &w->backoff_ms, err,
	                           errlen) < 0)
		return -1;
	/* The cap is at least the first delay; its default too. */
	if (config_get_duration_ms(c->cfg, s, "backoff_max",
	                           w->backoff_ms > 60000 ? w->backoff_ms : 60000, w->backoff_ms,
	                           3600000, &w->backoff_max_ms, err, errlen) < 0)
		return -1;

	if (config_get_str(c->cfg, s, "secret", "", &w->secret, err, errlen) < 0)
		return -1;
	if (*w->secret != '\0') {
		if (w->format != COORD_WEBHOOK_DINGTALK) {
			bad_value(c, s, "secret", err, errlen,
			          "only DingTalk signs its webhooks (format = dingtalk)");
			return -1;
		}
		if (strlen(w->secret) > WEBHOOK_SECRET_MAX) {
			bad_value(c, s, "secret", err, errlen, "longer than %d bytes",
			          WEBHOOK_SECRET_MAX);
			return -1;
		}
	}
	return 0;
}

int
coord_conf_load(const char *path, struct coord_conf *c, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	const char *webhooks[COORD_MAX_WEBHOOKS], **known = NULL;
	size_t n_webhooks = 0;
	char why[256];

	memset(c, 0, sizeof(*c));
	c->cfg = config_load(path, err, errlen);
	if (c->cfg == NULL)
		return -1;
	c->path = config_path(c->cfg);
	if (webhook_sections(c, webhooks, &n_webhooks, err, errlen) != 0)
		goto fail;
	known = known_list(webhooks, n_webhooks);
	if (known == NULL) {
		snprintf(err, errlen, "%s: out of memory", c->path);
		goto fail;
	}
	if (config_check_known(c->cfg, known, err, errlen) != 0)
		goto fail;

	/* [coordinator] */
	REQUIRE("coordinator", "id");
	GET(config_get_str(c->cfg, "coordinator", "id", NULL, &c->id, err, errlen));
	if (!proto_valid_id(c->id)) {
		bad_value(c, "coordinator", "id", err, errlen,
		          "not a valid id (1-64 of [A-Za-z0-9._-], starting alphanumeric)");
		goto fail;
	}
	GET(config_get_path(c->cfg, "coordinator", "state_dir", "/var/lib/odc-coordinator",
	                    &c->state_dir, err, errlen));
	GET(config_get_str(c->cfg, "coordinator", "log_level", "info", &c->log_level, err, errlen));
	if (strcmp(c->log_level, "debug") != 0 && strcmp(c->log_level, "info") != 0 &&
	    strcmp(c->log_level, "warn") != 0 && strcmp(c->log_level, "error") != 0) {
		bad_value(c, "coordinator", "log_level", err, errlen,
		          "expected debug, info, warn or error");
		goto fail;
	}

	/* [keys] */
	REQUIRE("keys", "secret_key");
	GET(config_get_path(c->cfg, "keys", "secret_key", NULL, &c->secret_key, err, errlen));

	/* [agents] */
	REQUIRE("agents", "bind");
	GET(config_get_str(c->cfg, "agents", "bind", NULL, &c->agents_bind, err, errlen));
	if (!tcp_endpoint_ok(c->agents_bind)) {
		bad_value(c, "agents", "bind", err, errlen,
		          "expected tcp://HOST:PORT (agents connect over CURVE on TCP)");
		goto fail;
	}
	GET(config_get_duration_ms(c->cfg, "agents", "heartbeat", 5000, 1000, 600000,
	                           &c->heartbeat_ms, err, errlen));
	GET(config_get_uint(c->cfg, "agents", "lost_after", 3, 1, 100, &c->lost_after, err,
	                    errlen));
	GET(config_get_duration_ms(c->cfg, "agents", "ack_timeout", 10000, 1000, 600000,
	                           &c->ack_timeout_ms, err, errlen));

	/* [control] */
	GET(config_get_path(c->cfg, "control", "socket", "/run/odc-coordinator/control.sock",
	                    &c->control_socket, err, errlen));
	if (strlen(c->control_socket) >= sizeof(sun.sun_path)) {
		bad_value(c, "control", "socket", err, errlen,
		          "longer than the %zu bytes a unix socket path may have",
		          sizeof(sun.sun_path) - 1);
		goto fail;
	}
	GET(config_get_str(c->cfg, "control", "group", "", &c->control_group, err, errlen));
	if (*c->control_group != '\0') {
		int r = group_exists(c->control_group, why, sizeof(why));
		if (r <= 0) {
			if (r == 0)
				snprintf(why, sizeof(why), "no group named '%s' on this host",
				         c->control_group);
			bad_value(c, "control", "group", err, errlen, "%s", why);
			goto fail;
		}
	}
	GET(config_get_str(c->cfg, "control", "tcp", "", &c->control_tcp, err, errlen));
	if (*c->control_tcp != '\0') {
		if (!tcp_endpoint_ok(c->control_tcp)) {
			bad_value(c, "control", "tcp", err, errlen,
			          "expected tcp://HOST:PORT, or nothing for no remote operators");
			goto fail;
		}
		if (strcmp(c->control_tcp, c->agents_bind) == 0) {
			bad_value(c, "control", "tcp", err, errlen,
			          "the same endpoint as agents.bind");
			goto fail;
		}
	}

	/* [trust] */
	REQUIRE("trust", "operators");
	if (load_operators(c, err, errlen) != 0)
		goto fail;
	GET(config_get_duration_ms(c->cfg, "trust", "skew", 30000, 0, 600000, &c->skew_ms, err,
	                           errlen));

	/* [metrics] */
	GET(config_get_str(c->cfg, "metrics", "listen", "", &c->metrics_listen, err, errlen));
	if (*c->metrics_listen != '\0') {
		const char *bad =
		    listen_addr_parse(c->metrics_listen, &c->metrics_addr, &c->metrics_addr_len);
		if (bad != NULL) {
			bad_value(c, "metrics", "listen", err, errlen, "%s", bad);
			goto fail;
		}
	}

	/* [webhook.NAME] */
	for (size_t i = 0; i < n_webhooks; i++)
		if (load_webhook(c, webhooks[i], &c->webhooks[i], err, errlen) != 0)
			goto fail;
	c->n_webhooks = n_webhooks;
	free(known);
	return 0;
fail:
	free(known);
	coord_conf_free(c);
	return -1;
}

void
coord_conf_free(struct coord_conf *c)
{
	if (c == NULL)
		return;
	config_free(c->cfg);
	memset(c, 0, sizeof(*c));
}

const struct coord_operator *
coord_conf_operator(const struct coord_conf *c, const uint8_t pk[PROTO_PK_LEN])
{
	/* Keys are public: a plain comparison leaks nothing. */
	for (size_t i = 0; i < c->n_operators; i++)
		if (memcmp(c->operators[i].pk, pk, PROTO_PK_LEN) == 0)
			return &c->operators[i];
	return NULL;
}
