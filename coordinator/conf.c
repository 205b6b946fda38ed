/* odc-coordinator's configuration file (coordinator/README.md): every key
 * known, typed and checked at load, every problem as file:line: section.key. */
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <netinet/in.h>
#include <stddef.h>
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
    "coordinator.id",    "coordinator.state_dir", "coordinator.log_level",
    "keys.secret_key",   "agents.bind",           "agents.heartbeat",
    "agents.lost_after", "agents.ack_timeout",    "control.socket",
    "control.group",     "control.tcp",           "trust.operators",
    "trust.skew",        "metrics.listen",        NULL,
};

/* The keys of each [webhook.NAME] section, written "webhook.KEY" here; they are
 * checked as "webhook.NAME.KEY" (known_list). */
static const char *const webhook_keys[] = {
    "webhook.url",         "webhook.format",   "webhook.events",
    "webhook.timeout",     "webhook.attempts", "webhook.backoff",
    "webhook.backoff_max", "webhook.secret",   NULL,
};

/* metrics.listen: "A.B.C.D:PORT" or "[IPv6]:PORT" with PORT 1..65535, numeric
 * only: no name is resolved, so what is checked here is what is bound.
 * Returns NULL with the address in *ss and *len, or what is wrong. */
static const char *
listen_addr_parse(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[INET6_ADDRSTRLEN];
	const char *h = s, *colon;
	unsigned port = 0;
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
	if (config_parse_port(colon + 1, &port) != 0)
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
static void
load_operators(struct coord_conf *c)
{
	struct config_label labels[COORD_MAX_OPERATORS];
	char kerr[160];
	size_t n = 0, good = 0;

	/* A line holds at most CONFIG_MAX_LINE bytes, so the whole list fits. */
	if (config_get_labels(c->cfg, "trust", "operators", NULL, labels, COORD_MAX_OPERATORS, &n,
	                      c->store, sizeof(c->store), NULL, 0) != 0)
		return; /* absent (required, reported) or bad */
	if (n == 0) {
		config_problem(c->cfg, "trust", "operators",
		               "at least one operator (name=key) is required");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct coord_operator *op = &c->operators[good];
		bool dup = false;

		op->name = labels[i].key;
		if (keys_parse_public(labels[i].value, op->pk, kerr, sizeof(kerr)) != 0) {
			config_problem(c->cfg, "trust", "operators", "operator %s: %s", op->name,
			               kerr);
			continue;
		}
		for (size_t j = 0; j < good && !dup; j++) {
			if (memcmp(c->operators[j].pk, op->pk, PROTO_PK_LEN) == 0) {
				config_problem(
				    c->cfg, "trust", "operators",
				    "operators %s and %s have the same key; each operator "
				    "needs a key of their own",
				    c->operators[j].name, op->name);
				dup = true;
			}
		}
		if (!dup)
			good++;
	}
	c->n_operators = good;
}

/* ---- [webhook.NAME] ---- */

#define WEBHOOK_PREFIX     "webhook."
#define WEBHOOK_URL_MAX    2048
#define WEBHOOK_SECRET_MAX 256

/* The [webhook.NAME] sections in file order (strings owned by c->cfg). A
 * webhook needs a name: each key in a bare [webhook] or in [webhook.] is a
 * problem here (known_list lets them by the unknown-key check, which would
 * say less), and so is each key of a webhook past the last allowed. */
static void
webhook_sections(const struct coord_conf *c, const char **names, size_t *n)
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
			config_problem(c->cfg, section, key,
			               "a webhook needs a name: [webhook.NAME]");
			continue;
		}
		if (strncmp(section, WEBHOOK_PREFIX, strlen(WEBHOOK_PREFIX)) != 0)
			continue;
		for (size_t k = 0; k < *n && !seen; k++)
			seen = strcmp(names[k], section) == 0;
		if (seen)
			continue;
		if (*n == COORD_MAX_WEBHOOKS) {
			config_problem(c->cfg, section, key, "more than %d webhooks",
			               COORD_MAX_WEBHOOKS);
			continue;
		}
		names[(*n)++] = section;
	}
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
	list = malloc((nbase + 2 + n * nkeys + 1) * sizeof(*list) + text);
	if (list == NULL)
		return NULL;
	p = (char *)(list + nbase + 2 + n * nkeys + 1);
	for (size_t i = 0; i < nbase; i++)
		list[at++] = known_keys[i];
	/* Reported by webhook_sections. */
	list[at++] = "webhook.*";
	list[at++] = "webhook..*";
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

static void
load_webhook_events(const struct config *f, const char *s, const char *k, const char *v, void *obj)
{
	static const char *const event_names[] = {"start", "halt", "finish"};
	struct coord_webhook *w = obj;
	const char *items[8];
	char store[256];
	size_t n = 0;

	(void)v;
	if (config_get_list(f, s, k, "start, halt, finish", items, 8, &n, store, sizeof(store),
	                    NULL, 0) < 0)
		return;
	w->events = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned bit = 0;
		for (int e = 0; e < 3; e++)
			if (strcmp(items[i], event_names[e]) == 0)
				bit = COORD_EVENT_BIT(e);
		if (bit == 0)
			config_problem(f, s, k, "unknown event '%s' (start, halt or finish)",
			               items[i]);
		w->events |= bit;
	}
	if (n == 0)
		config_problem(f, s, k, "at least one of start, halt, finish");
}

static void
check_webhook_url(const struct config *f, const char *s, const char *k, const char *v, void *obj)
{
	char why[256];

	(void)obj;
	if (!webhook_url_ok(v, why, sizeof(why)))
		config_problem(f, s, k, "%s", why);
}

/* format, one of webhook_formats (checked by the table), as an enum. */
static const char *const webhook_formats[] = {"json", "dingtalk", "slack", NULL};

static void
load_webhook_format(const struct config *f, const char *s, const char *k, const char *v, void *obj)
{
	static const enum coord_webhook_format formats[] = {
	    COORD_WEBHOOK_JSON, COORD_WEBHOOK_DINGTALK, COORD_WEBHOOK_SLACK};
	struct coord_webhook *w = obj;

	(void)f;
	(void)s;
	(void)k;
	for (size_t i = 0; webhook_formats[i] != NULL; i++)
		if (strcmp(v, webhook_formats[i]) == 0)
			w->format = formats[i];
}

/* The cap is at least the first delay; its default too. */
static void
load_webhook_backoff_max(const struct config *f, const char *s, const char *k, const char *v,
                         void *obj)
{
	struct coord_webhook *w = obj;

	(void)k;
	(void)v;
	config_get_duration_ms(f, s, "backoff_max", w->backoff_ms > 60000 ? w->backoff_ms : 60000,
	                       w->backoff_ms, 3600000, &w->backoff_max_ms, NULL, 0);
}

static void
check_webhook_secret(const struct config *f, const char *s, const char *k, const char *v, void *obj)
{
	const struct coord_webhook *w = obj;

	if (*v == '\0')
		return;
	if (w->format != COORD_WEBHOOK_DINGTALK)
		config_problem(f, s, k, "only DingTalk signs its webhooks (format = dingtalk)");
	else if (strlen(v) > WEBHOOK_SECRET_MAX)
		config_problem(f, s, k, "longer than %d bytes", WEBHOOK_SECRET_MAX);
}

#define WH(member) offsetof(struct coord_webhook, member)

/* The keys of every [webhook.NAME] (the section is the walk's). */
static const struct config_field webhook_fields[] = {
    {NULL, "url", CONFIG_STR, CONFIG_REQUIRED, WH(url), NULL, 0, 0, 0, NULL, check_webhook_url},
    {NULL, "format", CONFIG_STR, CONFIG_CHECK_DEFAULT, CONFIG_UNSTORED, "json", 0, 0, 0,
     webhook_formats, load_webhook_format},
    {NULL, "events", CONFIG_CUSTOM, 0, CONFIG_UNSTORED, NULL, 0, 0, 0, NULL, load_webhook_events},
    {NULL, "timeout", CONFIG_DURATION, 0, WH(timeout_ms), NULL, 5000, 100, 300000, NULL, NULL},
    {NULL, "attempts", CONFIG_UINT, 0, WH(attempts), NULL, 5, 1, 20, NULL, NULL},
    {NULL, "backoff", CONFIG_DURATION, CONFIG_CHECK_DEFAULT, WH(backoff_ms), NULL, 1000, 10, 600000,
     NULL, load_webhook_backoff_max},
    {NULL, "secret", CONFIG_STR, 0, WH(secret), "", 0, 0, 0, NULL, check_webhook_secret},
};

#undef WH

/* 0 when nothing is wrong, else -1 with the first problem found in err. */
static int
coord_conf_result(const struct coord_conf *c, char *err, size_t errlen)
{
	const char *first;

	if (config_problem_count(c->cfg) == 0)
		return 0;
	first = config_problem_text(c->cfg, 0);
	snprintf(err, errlen, "%s", first != NULL ? first : "out of memory");
	return -1;
}

/* The checks of config_field rows (config.h): each records its own problems
 * about section.key; obj is the struct coord_conf being loaded. */

static void
check_id(const struct config *f, const char *s, const char *k, const char *v, void *obj)
{
	(void)obj;
	if (!proto_valid_id(v))
		config_problem(f, s, k,
		               "not a valid id (1-64 of [A-Za-z0-9._-], starting alphanumeric)");
}

static void
check_control_socket(const struct config *f, const char *s, const char *k, const char *v, void *obj)
{
	struct sockaddr_un sun;

	(void)obj;
	if (strlen(v) >= sizeof(sun.sun_path))
		config_problem(f, s, k, "longer than the %zu bytes a unix socket path may have",
		               sizeof(sun.sun_path) - 1);
}

static void
check_control_group(const struct config *f, const char *s, const char *k, const char *v, void *obj)
{
	char why[256];
	int r;

	(void)obj;
	if (*v == '\0')
		return;
	r = group_exists(v, why, sizeof(why));
	if (r == 0)
		config_problem(f, s, k, "no group named '%s' on this host", v);
	else if (r < 0)
		config_problem(f, s, k, "%s", why);
}

static void
check_control_tcp(const struct config *f, const char *s, const char *k, const char *v, void *obj)
{
	const struct coord_conf *c = obj;
	const char *tcp = NULL;

	if (*v == '\0')
		return;
	if (config_get_endpoint(f, s, k, NULL, CONFIG_ENDPOINT_TCP | CONFIG_ENDPOINT_BIND, &tcp,
	                        NULL, 0) == 0 &&
	    c->agents_bind != NULL && strcmp(v, c->agents_bind) == 0)
		config_problem(f, s, k, "the same endpoint as agents.bind");
}

static void
load_operators_row(const struct config *f, const char *s, const char *k, const char *v, void *obj)
{
	(void)f;
	(void)s;
	(void)k;
	(void)v;
	load_operators(obj);
}

static void
load_metrics_listen(const struct config *f, const char *s, const char *k, const char *v, void *obj)
{
	struct coord_conf *c = obj;
	const char *bad;

	if (*v == '\0')
		return;
	bad = listen_addr_parse(v, &c->metrics_addr, &c->metrics_addr_len);
	if (bad != NULL)
		config_problem(f, s, k, "%s", bad);
}

static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};

#define CC(member) offsetof(struct coord_conf, member)

/* Every key of known_keys, in the order they are checked (problems are
 * found in this order); agents connect over CURVE on TCP. */
static const struct config_field coord_fields[] = {
    {"coordinator", "id", CONFIG_STR, CONFIG_REQUIRED, CC(id), NULL, 0, 0, 0, NULL, check_id},
    {"coordinator", "state_dir", CONFIG_PATH, 0, CC(state_dir), "/var/lib/odc-coordinator", 0, 0, 0,
     NULL, NULL},
    {"coordinator", "log_level", CONFIG_STR, 0, CC(log_level), "info", 0, 0, 0, log_levels, NULL},
    {"keys", "secret_key", CONFIG_PATH, CONFIG_REQUIRED, CC(secret_key), NULL, 0, 0, 0, NULL, NULL},
    {"agents", "bind", CONFIG_ENDPOINT,
     CONFIG_REQUIRED | CONFIG_ENDPOINT_TCP | CONFIG_ENDPOINT_BIND, CC(agents_bind), NULL, 0, 0, 0,
     NULL, NULL},
    {"agents", "heartbeat", CONFIG_DURATION, 0, CC(heartbeat_ms), NULL, 5000, 1000, 600000, NULL,
     NULL},
    {"agents", "lost_after", CONFIG_UINT, 0, CC(lost_after), NULL, 3, 1, 100, NULL, NULL},
    {"agents", "ack_timeout", CONFIG_DURATION, 0, CC(ack_timeout_ms), NULL, 10000, 1000, 600000,
     NULL, NULL},
    {"control", "socket", CONFIG_PATH, CONFIG_CHECK_DEFAULT, CC(control_socket),
     "/run/odc-coordinator/control.sock", 0, 0, 0, NULL, check_control_socket},
    {"control", "group", CONFIG_STR, 0, CC(control_group), "", 0, 0, 0, NULL, check_control_group},
    {"control", "tcp", CONFIG_STR, 0, CC(control_tcp), "", 0, 0, 0, NULL, check_control_tcp},
    {"trust", "operators", CONFIG_CUSTOM, CONFIG_REQUIRED, CONFIG_UNSTORED, NULL, 0, 0, 0, NULL,
     load_operators_row},
    {"trust", "skew", CONFIG_DURATION, 0, CC(skew_ms), NULL, 30000, 0, 600000, NULL, NULL},
    {"metrics", "listen", CONFIG_STR, 0, CC(metrics_listen), "", 0, 0, 0, NULL,
     load_metrics_listen},
};

#undef CC

int
coord_conf_load(const char *path, struct coord_conf *c, char *err, size_t errlen)
{
	const char *webhooks[COORD_MAX_WEBHOOKS], **known = NULL;
	size_t n_webhooks = 0;
	struct config *f;

	memset(c, 0, sizeof(*c));
	c->cfg = f = config_load(path, err, errlen);
	if (f == NULL)
		return -1;
	c->path = config_path(f);
	/* Each getter records its own problem (file:line: section.key: what)
	 * and leaves its output untouched on one, so a check that needs the
	 * value runs only when the getter returned 0 or 1. */
	webhook_sections(c, webhooks, &n_webhooks);
	known = known_list(webhooks, n_webhooks);
	if (known == NULL) {
		snprintf(err, errlen, "%s: out of memory", c->path);
		return -1;
	}
	config_check_known(f, known, NULL, 0);
	free(known);

	config_load_fields(f, NULL, coord_fields, sizeof(coord_fields) / sizeof(coord_fields[0]),
	                   c);
	for (size_t i = 0; i < n_webhooks; i++) {
		c->webhooks[i].name = webhooks[i] + strlen(WEBHOOK_PREFIX);
		config_load_fields(f, webhooks[i], webhook_fields,
		                   sizeof(webhook_fields) / sizeof(webhook_fields[0]),
		                   &c->webhooks[i]);
	}
	c->n_webhooks = n_webhooks;
	return coord_conf_result(c, err, errlen);
}

int
coord_conf_check(struct coord_conf *c, char *err, size_t errlen)
{
	struct config *f = c->cfg;
	char why[512], dir[PATH_MAX];

	if (c->secret_key != NULL) {
		struct keys_pair *kp = keys_load_secret(c->secret_key, why, sizeof(why));
		if (kp == NULL)
			config_problem(f, "keys", "secret_key", "%s", why);
		keys_pair_free(kp);
	}
	if (c->agents_bind != NULL)
		config_check_endpoint(f, "agents", "bind", c->agents_bind,
		                      CONFIG_ENDPOINT_TCP | CONFIG_ENDPOINT_BIND);
	if (c->control_tcp != NULL && *c->control_tcp != '\0')
		config_check_endpoint(f, "control", "tcp", c->control_tcp,
		                      CONFIG_ENDPOINT_TCP | CONFIG_ENDPOINT_BIND);
	/* run makes state_dir (one level) and binds the control socket in a
	 * directory that must exist (systemd's RuntimeDirectory). */
	if (c->state_dir != NULL)
		config_check_dir(f, "coordinator", "state_dir", c->state_dir, 0);
	if (c->control_socket != NULL && strlen(c->control_socket) < sizeof(dir)) {
		char *slash;
		snprintf(dir, sizeof(dir), "%s", c->control_socket);
		slash = strrchr(dir, '/');
		if (slash != NULL) {
			slash[slash == dir ? 1 : 0] = '\0';
			config_check_dir(f, "control", "socket", dir, 0);
		}
	}
	return coord_conf_result(c, err, errlen);
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
