/* odc-coordinator's configuration file (coordinator/README.md): every key
 * known, typed and checked at load, every problem as file:line: section.key. */
#ifndef ODC_COORDINATOR_CONF_H
#define ODC_COORDINATOR_CONF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/config.h"
#include "proto/proto.h"

#define COORD_MAX_OPERATORS 64
#define COORD_MAX_WEBHOOKS  16

struct coord_operator {
	const char *name; /* 1..64 of [A-Za-z0-9._-] */
	uint8_t pk[PROTO_PK_LEN];
};

/* [webhook.NAME] sections (notify.c; coordinator/README.md, "Notifications"). */
enum coord_webhook_format { COORD_WEBHOOK_JSON, COORD_WEBHOOK_DINGTALK, COORD_WEBHOOK_SLACK };
enum coord_event { COORD_EVENT_START, COORD_EVENT_HALT, COORD_EVENT_FINISH };
#define COORD_EVENT_BIT(ev) (1u << (ev))

struct coord_webhook {
	const char *name; /* NAME of [webhook.NAME] */
	const char *url;  /* http:// or https:// */
	enum coord_webhook_format format;
	unsigned events;     /* COORD_EVENT_BIT()s, at least one */
	uint64_t timeout_ms; /* per attempt */
	uint64_t attempts;   /* in all, the first included */
	uint64_t backoff_ms, backoff_max_ms;
	const char *secret; /* DingTalk signing secret, "" when unset */
};

struct coord_conf {
	struct config *cfg; /* owns every string below */
	const char *path;

	/* [coordinator] */
	const char *id;        /* a protocol id */
	const char *state_dir; /* default /var/lib/odc-coordinator */
	const char *log_level; /* debug info warn error; default info */

	/* [keys] */
	const char *secret_key; /* required */

	/* [agents] */
	const char *agents_bind; /* required, tcp:// */
	uint64_t heartbeat_ms;   /* 1000..600000, default 5000 */
	uint64_t lost_after;     /* 1..100, default 3 */
	uint64_t ack_timeout_ms; /* 1000..600000, default 10000 */

	/* [control] */
	const char *control_socket; /* absolute path, default /run/odc-coordinator/control.sock */
	const char *control_group;  /* "" when unset */
	const char *control_tcp;    /* "" when unset, else tcp:// */

	/* [trust] */
	struct coord_operator operators[COORD_MAX_OPERATORS]; /* at least one */
	size_t n_operators;
	uint64_t skew_ms; /* 0..600000, default 30000 */

	/* [metrics] */
	const char *metrics_listen;           /* "" when off, else as written */
	struct sockaddr_storage metrics_addr; /* metrics_listen, parsed */
	socklen_t metrics_addr_len;           /* 0 when off */
	/* [webhook.NAME], in file order */
	struct coord_webhook webhooks[COORD_MAX_WEBHOOKS];
	size_t n_webhooks;

	char store[8192]; /* list items */
};

/* Loads path into c and checks its values, recording every problem in
 * c->cfg as "file:line: section.key: what is wrong" (common/config.h,
 * "Problems"). Returns 0, or -1 with the first problem in err; either way c
 * is the caller's to free with coord_conf_free(), and after a -1
 * config_report(stderr, c->cfg, path, err) shows them all (c->cfg is NULL
 * when the file could not be parsed). */
int coord_conf_load(const char *path, struct coord_conf *c, char *err, size_t errlen);
/* After a load, checks what the values name, as the user running it: the
 * secret key file (present, a valid key, mode 0600 or stricter), the hosts of
 * agents.bind and control.tcp (resolve, or name an interface), state_dir (a
 * directory this user can write, or can make in an existing one) and the
 * control socket's directory (exists, writable). Problems are recorded as
 * coord_conf_load's are; returns 0, or -1 with the first problem in err. */
int coord_conf_check(struct coord_conf *c, char *err, size_t errlen);
/* Frees what coord_conf_load allocated; safe on a zeroed struct. */
void coord_conf_free(struct coord_conf *c);
/* The configured operator whose key is pk, or NULL. */
const struct coord_operator *coord_conf_operator(const struct coord_conf *c,
                                                 const uint8_t pk[PROTO_PK_LEN]);

#endif
