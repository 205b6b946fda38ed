/* The registry of enrolled hosts: keys (accepted or revoked, one state per
 * host id), what each agent last said (HELLO, heartbeats), the lost
 * window, and the selectors operators target hosts with. Every message
 * costs O(1) (hash lookups); only the periodic sweep walks the fleet. */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "coordinator/coord.h"

static struct host *
host_new(const char *id)
{
	struct host *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return NULL;
	snprintf(h->id, sizeof(h->id), "%s", id);
	h->labels = json_object();
	if (h->labels == NULL) {
		free(h);
		return NULL;
	}
	return h;
}

static void
host_free(struct host *h)
{
	if (h == NULL)
		return;
	json_decref(h->labels);
	json_decref(h->backup);
	free(h->beat);
	free(h);
}

static int
host_set_key(struct coord *co, struct host *h, const uint8_t pk[PROTO_PK_LEN])
{
	uint8_t curve[32];

	if (crypto_sign_ed25519_pk_to_curve25519(curve, pk) != 0)
		return -1;
	if (map_get(co->curves, h->curve, 32) == h)
		map_del(co->curves, h->curve, 32);
	memcpy(h->pk, pk, PROTO_PK_LEN);
	memcpy(h->curve, curve, 32);
	keys_fingerprint(pk, h->fingerprint, sizeof(h->fingerprint));
	return map_put(co->curves, curve, 32, h);
}

struct load_ctx {
	struct coord *co;
	char *err;
	size_t errlen;
};

static int
load_one(void *ctx, const struct store_host *sh)
{
	struct load_ctx *lc = ctx;
	struct host *h = host_new(sh->host_id);
	json_error_t je;

	if (h == NULL) {
		snprintf(lc->err, lc->errlen, "out of memory");
		return -1;
	}
	h->revoked = strcmp(sh->state, "revoked") == 0;
	h->accepted_ms = sh->accepted_ms;
	h->revoked_ms = sh->revoked_ms;
	h->seen_before = sh->last_seen_ms != 0;
	h->status = h->seen_before ? HOST_LOST : HOST_NEVER;
	h->last_beat_ms = sh->last_seen_ms;
	snprintf(h->agent_version, sizeof(h->agent_version), "%s", sh->agent_version);
	snprintf(h->address, sizeof(h->address), "%s", sh->address);
	json_t *labels = json_loads(sh->labels_json, 0, &je);
	if (json_is_object(labels)) {
		json_decref(h->labels);
		h->labels = labels;
	} else {
		json_decref(labels);
	}
	if (host_set_key(lc->co, h, sh->pk) != 0 || map_put_str(lc->co->hosts, h->id, h) != 0) {
		snprintf(lc->err, lc->errlen, "host %s: cannot index its key", h->id);
		host_free(h);
		return -1;
	}
	if (deploy_load_host(lc->co, h, sh->metadb_json, sh->backup_json) != 0) {
		snprintf(lc->err, lc->errlen, "host %s: out of memory for its deployment", h->id);
		return -1;
	}
	return 0;
}

int
registry_load(struct coord *co, char *err, size_t errlen)
{
	struct load_ctx lc = {co, err, errlen};

	return store_hosts_each(co->store, load_one, &lc, err, errlen) == 0 ? 0 : -1;
}

static int
free_one(void *ctx, const void *key, size_t len, void *value)
{
	(void)ctx;
	(void)key;
	(void)len;
	host_free(value);
	return 0;
}

void
registry_free(struct coord *co)
{
	if (co->hosts != NULL)
		map_each(co->hosts, free_one, NULL);
}

struct host *
registry_host(struct coord *co, const char *id)
{
	return map_get_str(co->hosts, id);
}

int
registry_accept(struct coord *co, const char *id, const uint8_t pk[PROTO_PK_LEN], bool *changed,
                char *err, size_t errlen)
{
	struct host *h = map_get_str(co->hosts, id);
	uint64_t now = proto_now_ms();
	int rc;

	coord_tx(co);
	rc = store_host_accept(co->store, id, pk, now, changed, err, errlen);
	if (rc == STORE_CONFLICT)
		return PROTO_E_CONFLICT;
	if (rc != 0)
		return PROTO_E_INTERNAL;
	if (!*changed)
		return 0;
	if (h == NULL) {
		h = host_new(id);
		if (h == NULL || map_put_str(co->hosts, h->id, h) != 0) {
			host_free(h);
			snprintf(err, errlen, "out of memory");
			return PROTO_E_INTERNAL;
		}
	}
	if (host_set_key(co, h, pk) != 0) {
		snprintf(err, errlen, "host %s: the key has no CURVE form", id);
		return PROTO_E_INTERNAL;
	}
	h->revoked = false;
	h->revoked_ms = 0;
	h->accepted_ms = now;
	return 0;
}

int
registry_revoke(struct coord *co, const char *id, bool *changed, char *err, size_t errlen)
{
	struct host *h = map_get_str(co->hosts, id);
	int rc;

	coord_tx(co);
	rc = store_host_revoke(co->store, id, proto_now_ms(), changed, err, errlen);
	if (rc == STORE_NOT_FOUND || h == NULL) {
		snprintf(err, errlen, "host %s is not enrolled", id);
		return PROTO_E_NOT_FOUND;
	}
	if (rc != 0)
		return PROTO_E_INTERNAL;
	h->revoked = true;
	h->revoked_ms = proto_now_ms();
	h->rid_len = 0; /* nothing is sent to it any more */
	h->welcomed = false;
	return 0;
}

uint64_t
registry_lost_window_ms(const struct coord *co)
{
	return co->conf->heartbeat_ms * co->conf->lost_after;
}

static void
persist_seen(struct coord *co, struct host *h)
{
	char err[256];
	char *labels = json_dumps(h->labels, JSON_COMPACT | JSON_SORT_KEYS);

	coord_tx(co);
	if (store_host_seen(co->store, h->id, h->last_beat_ms, labels ? labels : "{}",
	                    h->agent_version, h->address, err, sizeof(err)) != 0)
		log_err("%s", err);
	free(labels);
}

static void
beat(struct host *h)
{
	h->last_beat_ms = proto_now_ms();
	h->last_beat_mono = clock_mono_ms();
}

void
registry_on_hello(struct coord *co, struct host *h, const struct proto_msg *m, const char *address)
{
	const struct proto_hello *hl = &m->u.hello;
	bool restarted =
	    h->has_incarnation && memcmp(h->incarnation, hl->incarnation, PROTO_INCARN_LEN) != 0;
	char inc[2 * PROTO_INCARN_LEN + 1];
	json_t *labels = json_object();

	for (size_t i = 0; labels != NULL && i < hl->n_labels; i++)
		json_object_set_new(labels, hl->labels[i].key, json_string(hl->labels[i].value));
	if (labels != NULL) {
		json_decref(h->labels);
		h->labels = labels;
	}
	if (restarted)
		h->restarts++;
	memcpy(h->incarnation, hl->incarnation, PROTO_INCARN_LEN);
	h->has_incarnation = true;
	snprintf(h->agent_version, sizeof(h->agent_version), "%s", hl->agent_version);
	snprintf(h->address, sizeof(h->address), "%s", address);
	hex_encode(hl->incarnation, PROTO_INCARN_LEN, inc, sizeof(inc));
	log_info("host %s %s from %s (agent %s, incarnation %s)", h->id,
	         restarted                  ? "restarted"
	         : h->status == HOST_ONLINE ? "reconnected"
	                                    : "online",
	         address, hl->agent_version, inc);
	h->status = HOST_ONLINE;
	h->welcomed = true;
	beat(h);
	persist_seen(co, h);
}

void
registry_on_heartbeat(struct coord *co, struct host *h, const struct proto_msg *m,
                      const uint8_t *body, size_t len)
{
	const struct proto_heartbeat *hb = &m->u.heartbeat;

	if (h->has_incarnation && memcmp(h->incarnation, hb->incarnation, PROTO_INCARN_LEN) != 0) {
		/* A new life that skipped its HELLO (it cannot, by the protocol,
		 * but the beat is still news): count the restart. */
		h->restarts++;
		memcpy(h->incarnation, hb->incarnation, PROTO_INCARN_LEN);
	} else if (!h->has_incarnation) {
		memcpy(h->incarnation, hb->incarnation, PROTO_INCARN_LEN);
		h->has_incarnation = true;
	}
	if (h->status != HOST_ONLINE) {
		log_info("host %s is back online", h->id);
		h->status = HOST_ONLINE;
		beat(h);
		persist_seen(co, h);
	}
	beat(h);
	if (len > h->beat_cap) {
		uint8_t *nb = realloc(h->beat, len);
		if (nb == NULL) {
			h->beat_len = 0; /* shown as unknown until a beat fits */
			return;
		}
		h->beat = nb;
		h->beat_cap = len;
	}
	memcpy(h->beat, body, len);
	h->beat_len = len;
	if (hb->has_metadb)
		deploy_note(co, h, &hb->metadb);
}

struct sweep_ctx {
	struct coord *co;
	uint64_t now, window;
};

static int
sweep_one(void *ctx, const void *key, size_t len, void *value)
{
	struct sweep_ctx *sc = ctx;
	struct host *h = value;

	(void)key;
	(void)len;
	if (h->status == HOST_ONLINE && sc->now - h->last_beat_mono > sc->window) {
		h->status = HOST_LOST;
		log_warn("host %s is lost: no beat for %llu ms", h->id,
		         (unsigned long long)(sc->now - h->last_beat_mono));
		persist_seen(sc->co, h);
	}
	return 0;
}

void
registry_sweep(struct coord *co)
{
	struct sweep_ctx sc = {co, clock_mono_ms(), registry_lost_window_ms(co)};

	map_each(co->hosts, sweep_one, &sc);
}

json_t *
registry_host_json(const struct coord *co, const struct host *h, uint64_t now_ms)
{
	char inc[2 * PROTO_INCARN_LEN + 1];
	json_t *o;
	bool beat_known = h->last_beat_ms != 0;

	(void)co;
	hex_encode(h->incarnation, PROTO_INCARN_LEN, inc, sizeof(inc));
	o = json_pack("{s:s, s:s, s:s, s:s, s:O, s:s?, s:s?, s:s?, s:I}", "host", h->id,
	              "key_state", h->revoked ? "revoked" : "accepted", "fingerprint",
	              h->fingerprint, "status", registry_status_name(h), "labels", h->labels,
	              "address", *h->address ? h->address : NULL, "agent_version",
	              *h->agent_version ? h->agent_version : NULL, "incarnation",
	              h->has_incarnation ? inc : NULL, "restarts", (json_int_t)h->restarts);
	if (o == NULL)
		return NULL;
	json_object_set_new(o, "last_beat_ms",
	                    beat_known ? json_integer((json_int_t)h->last_beat_ms) : json_null());
	json_object_set_new(
	    o, "beat_age_ms",
	    beat_known ? json_integer(
	                     (json_int_t)(now_ms > h->last_beat_ms ? now_ms - h->last_beat_ms : 0))
	               : json_null());
	json_t *odc = NULL, *job = NULL, *disks = json_array();
	struct proto_msg *m = NULL;
	struct proto_error e;
	if (h->beat_len > 0 &&
	    proto_decode_body(PROTO_HEARTBEAT, h->beat, h->beat_len, &m, &e) == PROTO_OK) {
		const struct proto_heartbeat *hb = &m->u.heartbeat;
		const struct proto_container *c = &hb->odc;
		if (hb->has_odc)
			odc =
			    json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "container_id",
			              c->container_id, "name", c->name, "image", c->image, "state",
			              c->state, "health", c->health, "version", c->version);
		if (hb->has_job)
			job = json_pack("{s:s, s:s}", "job_id", hb->job_id, "step", hb->job_step);
		for (size_t i = 0; disks != NULL && i < hb->n_disks; i++)
			json_array_append_new(
			    disks, json_pack("{s:s, s:I, s:I}", "path", hb->disks[i].path,
			                     "free_bytes", (json_int_t)hb->disks[i].free_bytes,
			                     "total_bytes", (json_int_t)hb->disks[i].total_bytes));
	}
	proto_msg_free(m);
	json_object_set_new(o, "deployment",
	                    h->dep != NULL ? json_string(h->dep->id) : json_null());
	json_object_set_new(o, "odc", odc ? odc : json_null());
	json_object_set_new(o, "job", job ? job : json_null());
	json_object_set_new(o, "disks", disks ? disks : json_array());
	return o;
}

/* ---- selectors ---- */

struct select_ctx {
	struct host **out;
	size_t n, cap;
	json_t *ids, *labels;
	const char *glob;
	bool accepted_only, fail;
};

static bool
host_matches(const struct select_ctx *sc, const struct host *h)
{
	size_t i;
	json_t *v;

	if (sc->accepted_only && h->revoked)
		return false;
	if (sc->ids != NULL) {
		bool found = false;
		json_array_foreach(sc->ids, i, v)
		{
			if (strcmp(json_string_value(v), h->id) == 0) {
				found = true;
				break;
			}
		}
		if (!found)
			return false;
	}
	if (sc->glob != NULL && fnmatch(sc->glob, h->id, 0) != 0)
		return false;
	json_array_foreach(sc->labels, i, v)
	{
		const char *kv = json_string_value(v), *eq = strchr(kv, '=');
		char key[65];
		snprintf(key, sizeof(key), "%.*s", (int)(eq - kv), kv);
		json_t *have = json_object_get(h->labels, key);
		if (!json_is_string(have) || strcmp(json_string_value(have), eq + 1) != 0)
			return false;
	}
	return true;
}

static int
select_one(void *ctx, const void *key, size_t len, void *value)
{
	struct select_ctx *sc = ctx;
	struct host *h = value;

	(void)key;
	(void)len;
	if (!host_matches(sc, h))
		return 0;
	if (sc->n == sc->cap) {
		size_t cap = sc->cap ? sc->cap * 2 : 64;
		struct host **p = realloc(sc->out, cap * sizeof(*p));
		if (p == NULL) {
			sc->fail = true;
			return 1;
		}
		sc->out = p;
		sc->cap = cap;
	}
	sc->out[sc->n++] = h;
	return 0;
}

static int
cmp_host(const void *a, const void *b)
{
	return strcmp((*(struct host *const *)a)->id, (*(struct host *const *)b)->id);
}

struct host **
registry_select(struct coord *co, json_t *args, bool require_selector, bool accepted_only,
                size_t *n_out, int *code, char *err, size_t errlen)
{
	struct select_ctx sc = {.accepted_only = accepted_only};
	json_t *empty = json_array(), *v;
	const char *k;
	bool all = false, any = false;
	size_t i;

	*n_out = 0;
	*code = PROTO_E_VALUE;
	sc.labels = empty;
	json_object_foreach(args, k, v)
	{
		if (strcmp(k, "host") == 0 && json_is_array(v)) {
			json_array_foreach(v, i, v)
			{
				if (!proto_valid_id(json_string_value(v))) {
					snprintf(err, errlen, "host: '%s' is not a host id",
					         json_string_value(v));
					goto fail;
				}
			}
			sc.ids = json_object_get(args, "host");
			any = true;
		} else if (strcmp(k, "glob") == 0 && json_is_string(v)) {
			sc.glob = json_string_value(v);
			any = true;
		} else if (strcmp(k, "label") == 0 && json_is_array(v)) {
			json_array_foreach(v, i, v)
			{
				const char *kv = json_string_value(v), *eq = strchr(kv, '=');
				if (eq == NULL || eq == kv || eq - kv > 64) {
					snprintf(err, errlen, "label: '%s' is not key=value", kv);
					goto fail;
				}
			}
			sc.labels = json_object_get(args, "label");
			any = true;
		} else if (strcmp(k, "all") == 0 && json_is_boolean(v)) {
			all = json_is_true(v);
			any = any || all;
		} else if (strcmp(k, "host") == 0 || strcmp(k, "glob") == 0 ||
		           strcmp(k, "label") == 0 || strcmp(k, "all") == 0) {
			*code = PROTO_E_SCHEMA;
			snprintf(err, errlen, "argument %s has the wrong type", k);
			goto fail;
		} else {
			snprintf(err, errlen, "unknown argument %s", k);
			goto fail;
		}
	}
	if (require_selector && !any) {
		snprintf(err, errlen, "no selector: give host, glob, label or all");
		goto fail;
	}
	/* Named hosts must exist: a typo is an error, not an empty match. */
	if (sc.ids != NULL) {
		json_array_foreach(sc.ids, i, v)
		{
			struct host *h = map_get_str(co->hosts, json_string_value(v));
			if (h == NULL || (accepted_only && h->revoked)) {
				*code = PROTO_E_NOT_FOUND;
				snprintf(err, errlen, "host %s is not %s", json_string_value(v),
				         h == NULL ? "enrolled" : "accepted (revoked)");
				goto fail;
			}
		}
	}
	map_each(co->hosts, select_one, &sc);
	if (sc.fail) {
		*code = PROTO_E_INTERNAL;
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (sc.n > 1)
		qsort(sc.out, sc.n, sizeof(*sc.out), cmp_host);
	if (sc.n == 0 && require_selector) {
		char *desc = json_dumps(args, JSON_COMPACT | JSON_SORT_KEYS);
		*code = PROTO_E_NOT_FOUND;
		snprintf(err, errlen, "no enrolled host matches %s", desc ? desc : "the selectors");
		free(desc);
		goto fail;
	}
	json_decref(empty);
	*n_out = sc.n;
	*code = 0;
	return sc.out != NULL ? sc.out : calloc(1, sizeof(struct host *));
fail:
	json_decref(empty);
	free(sc.out);
	return NULL;
}
