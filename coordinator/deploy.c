/* Deployments: the hosts whose ODC containers use one metadb. ODC's high
 * availability runs several nodes on one metadb, and a metadb is restored
 * for all of them at once, so the deployment, not the host, is what a
 * rollback touches. A host's deployment is what its heartbeats say its
 * container uses (PROTOCOL.md 4, HEARTBEAT `metadb`), kept in the store so
 * that a node that is down is still counted. A beat costs field compares;
 * only a change of metadb moves a host. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/version.h"
#include "coordinator/coord.h"

/* The map key of an identity: its fields with NUL separators (none of the
 * strings holds a NUL: the protocol refuses them). */
static size_t
identity_key(const struct proto_metadb *md, char *out, size_t outlen)
{
	int n =
	    snprintf(out, outlen, "%s%c%llu%c%s%c%s%c%s", md->host, 0, (unsigned long long)md->port,
	             0, md->tenant, 0, md->cluster, 0, md->database);

	return n < 0 || (size_t)n >= outlen ? 0 : (size_t)n;
}

static bool
same_identity(const struct deployment *d, const struct proto_metadb *md)
{
	return d->port == md->port && strcmp(d->host, md->host) == 0 &&
	       strcmp(d->database, md->database) == 0 && strcmp(d->tenant, md->tenant) == 0 &&
	       strcmp(d->cluster, md->cluster) == 0;
}

static void
deployment_free(struct deployment *d)
{
	if (d == NULL)
		return;
	free(d->host);
	free(d->tenant);
	free(d->cluster);
	free(d->database);
	free(d->nodes);
	free(d);
}

static struct deployment *
deployment_new(const struct proto_metadb *md, const char *key, size_t klen)
{
	struct deployment *d = calloc(1, sizeof(*d));
	uint8_t hash[6];

	if (d == NULL)
		return NULL;
	d->host = strdup(md->host);
	d->tenant = strdup(md->tenant);
	d->cluster = strdup(md->cluster);
	d->database = strdup(md->database);
	d->port = md->port;
	if (d->host == NULL || d->tenant == NULL || d->cluster == NULL || d->database == NULL) {
		deployment_free(d);
		return NULL;
	}
	/* A short handle for operators: 48 bits of the identity's hash (10,000
	 * deployments collide with a chance of about 2 in 10 million; the
	 * identity is always shown next to it). */
	crypto_generichash(hash, sizeof(hash), (const uint8_t *)key, klen, NULL, 0);
	snprintf(d->id, sizeof(d->id), "d-");
	hex_encode(hash, sizeof(hash), d->id + 2, sizeof(d->id) - 2);
	return d;
}

/* Host ids in order, so that listings and the node that restores are stable. */
static int
node_cmp(const void *a, const void *b)
{
	const struct host *const *x = a, *const *y = b;

	return strcmp((*x)->id, (*y)->id);
}

static void
leave(struct coord *co, struct host *h)
{
	struct deployment *d = h->dep;
	char key[1024];

	if (d == NULL)
		return;
	for (size_t i = 0; i < d->n; i++) {
		if (d->nodes[i] == h) {
			memmove(&d->nodes[i], &d->nodes[i + 1], (d->n - i - 1) * sizeof(*d->nodes));
			d->n--;
			break;
		}
	}
	h->dep = NULL;
	if (d->n == 0) {
		struct proto_metadb md = {d->host, d->port, d->tenant, d->cluster, d->database};
		size_t klen = identity_key(&md, key, sizeof(key));
		map_del(co->deployments, key, klen);
		deployment_free(d);
	}
}

/* Puts h in the deployment of md, creating it. 0, or -1 out of memory. */
static int
join(struct coord *co, struct host *h, const struct proto_metadb *md)
{
	char key[1024];
	size_t klen = identity_key(md, key, sizeof(key));
	struct deployment *d;

	if (klen == 0)
		return -1;
	d = map_get(co->deployments, key, klen);
	if (d == NULL) {
		d = deployment_new(md, key, klen);
		if (d == NULL || map_put(co->deployments, key, klen, d) != 0) {
			deployment_free(d);
			return -1;
		}
	}
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 4;
		struct host **nodes = realloc(d->nodes, cap * sizeof(*nodes));
		if (nodes == NULL) {
			if (d->n == 0) {
				map_del(co->deployments, key, klen);
				deployment_free(d);
			}
			return -1;
		}
		d->nodes = nodes;
		d->cap = cap;
	}
	d->nodes[d->n++] = h;
	qsort(d->nodes, d->n, sizeof(*d->nodes), node_cmp);
	h->dep = d;
	return 0;
}

static json_t *
identity_json(const struct deployment *d)
{
	return json_pack("{s:s, s:I, s:s, s:s, s:s}", "host", d->host, "port", (json_int_t)d->port,
	                 "tenant", d->tenant, "cluster", d->cluster, "database", d->database);
}

void
deploy_note(struct coord *co, struct host *h, const struct proto_metadb *md)
{
	char err[256], *text, old[sizeof(h->dep->id)] = "";
	json_t *o;

	if (h->dep != NULL && same_identity(h->dep, md))
		return;
	if (h->dep != NULL)
		snprintf(old, sizeof(old), "%s", h->dep->id);
	leave(co, h);
	if (join(co, h, md) != 0) {
		log_err("host %s: out of memory for its deployment", h->id);
		return;
	}
	if (*old)
		log_warn("host %s now uses the metadb %s:%llu/%s: it left deployment %s for %s "
		         "(%zu node%s)",
		         h->id, md->host, (unsigned long long)md->port, md->database, old,
		         h->dep->id, h->dep->n, h->dep->n == 1 ? "" : "s");
	else
		log_info("host %s uses the metadb %s:%llu/%s: deployment %s (%zu node%s)", h->id,
		         md->host, (unsigned long long)md->port, md->database, h->dep->id,
		         h->dep->n, h->dep->n == 1 ? "" : "s");
	o = identity_json(h->dep);
	text = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(o);
	coord_tx(co);
	if (text == NULL || store_host_metadb(co->store, h->id, text, err, sizeof(err)) != 0)
		log_err("host %s: its metadb is not stored: %s", h->id,
		        text == NULL ? "out of memory" : err);
	free(text);
}

int
deploy_load_host(struct coord *co, struct host *h, const char *metadb_json, const char *backup_json)
{
	json_error_t je;
	json_t *o;
	json_int_t port = 0;
	struct proto_metadb md = {0};
	int rc = 0;

	if (backup_json != NULL && *backup_json != '\0') {
		const char *path, *version, *job;
		json_int_t at;
		int here;
		o = json_loads(backup_json, 0, &je);
		if (json_unpack(o, "{s:s, s:b, s:s, s:s, s:I}", "path", &path, "here", &here,
		                "version", &version, "job", &job, "at_ms", &at) == 0)
			h->backup = json_incref(o);
		else
			log_warn("host %s: its stored backup finding is not readable; dropped",
			         h->id);
		json_decref(o);
	}
	if (metadb_json == NULL || *metadb_json == '\0')
		return 0;
	o = json_loads(metadb_json, 0, &je);
	if (json_unpack(o, "{s:s, s:I, s:s, s:s, s:s}", "host", &md.host, "port", &port, "tenant",
	                &md.tenant, "cluster", &md.cluster, "database", &md.database) != 0 ||
	    port < 1 || port > 65535) {
		log_warn("host %s: its stored metadb is not readable; its deployment is unknown "
		         "until it beats",
		         h->id);
	} else {
		md.port = (uint64_t)port;
		rc = join(co, h, &md);
	}
	json_decref(o);
	return rc;
}

void
deploy_note_backup(struct coord *co, struct host *h, const char *job_id, const char *path,
                   bool here, const char *version)
{
	char err[256], *text;
	json_t *o = json_pack("{s:s, s:b, s:s, s:s, s:I}", "path", path, "here", here, "version",
	                      version, "job", job_id, "at_ms", (json_int_t)proto_now_ms());

	if (o == NULL) {
		log_err("host %s: out of memory for its backup finding", h->id);
		return;
	}
	json_decref(h->backup);
	h->backup = o;
	text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	coord_tx(co);
	if (text == NULL || store_host_backup(co->store, h->id, text, err, sizeof(err)) != 0)
		log_err("host %s: its backup finding is not stored: %s", h->id,
		        text == NULL ? "out of memory" : err);
	free(text);
}

int
deploy_backup_said(const struct host *h, const char *job_id)
{
	if (h == NULL || h->backup == NULL ||
	    strcmp(json_string_value(json_object_get(h->backup, "job")), job_id) != 0)
		return -1;
	return json_is_true(json_object_get(h->backup, "here")) ? 1 : 0;
}

static int
free_one(void *ctx, const void *key, size_t len, void *value)
{
	(void)ctx;
	(void)key;
	(void)len;
	deployment_free(value);
	return 0;
}

void
deploy_free(struct coord *co)
{
	if (co->deployments != NULL)
		map_each(co->deployments, free_one, NULL);
	map_free(co->deployments);
	co->deployments = NULL;
}

const char *
deploy_name(const struct deployment *d, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s:%llu/%s%s%s%s%s", d->host, (unsigned long long)d->port,
	         d->database, *d->tenant ? " tenant " : "", d->tenant,
	         *d->cluster ? " cluster " : "", d->cluster);
	return out;
}

/* ---- the view (PROTOCOL.md 9.2, `deployments`) ---- */

/* What a node's latest beat says of its ODC, or NULLs. */
struct node_view {
	char version[33], image[257], state[16], health[16];
};

static void
node_view(const struct host *h, struct node_view *v)
{
	struct proto_msg *m = NULL;
	struct proto_error e;

	memset(v, 0, sizeof(*v));
	if (h->beat_len > 0 &&
	    proto_decode_body(PROTO_HEARTBEAT, h->beat, h->beat_len, &m, &e) == PROTO_OK &&
	    m->u.heartbeat.has_odc) {
		const struct proto_container *c = &m->u.heartbeat.odc;
		snprintf(v->version, sizeof(v->version), "%s", c->version);
		snprintf(v->image, sizeof(v->image), "%s", c->image);
		snprintf(v->state, sizeof(v->state), "%s", c->state);
		snprintf(v->health, sizeof(v->health), "%s", c->health);
	}
	proto_msg_free(m);
}

size_t
deploy_releases_of(struct host *const *hosts, size_t n_hosts, struct deploy_release *out,
                   size_t max, size_t *unknown)
{
	struct node_view v;
	char tag[sizeof(out->tag)];
	size_t n = 0, k;
	int cmp;

	if (unknown != NULL)
		*unknown = 0;
	for (size_t i = 0; i < n_hosts; i++) {
		node_view(hosts[i], &v);
		version_image_tag(v.image, tag, sizeof(tag));
		if (!version_release_cmp(tag, tag, &cmp)) {
			if (unknown != NULL)
				(*unknown)++;
			continue;
		}
		for (k = 0; k < n; k++)
			if (version_release_cmp(tag, out[k].tag, &cmp) && cmp == 0)
				break;
		if (k < n) {
			out[k].nodes++;
		} else if (n < max) {
			snprintf(out[n].tag, sizeof(out[n].tag), "%s", tag);
			out[n].first = hosts[i]->id;
			out[n++].nodes = 1;
		}
	}
	return n;
}

size_t
deploy_releases(const struct deployment *d, struct deploy_release *out, size_t max)
{
	return deploy_releases_of(d->nodes, d->n, out, max, NULL);
}

/* Which node holds the backup, as the latest rollback check of any node
 * found it: the deployment's `backup` {path, version, job, at_ms, on}, and
 * each node's `backup` ("here" or "none" when that job checked it, else
 * null). Both null when no node was checked. */
static int
backup_json(const struct deployment *d, json_t *o, json_t *nodes)
{
	const json_t *latest = NULL, *b, *version = NULL;
	json_t *on = json_array(), *out;

	if (on == NULL)
		return -1;
	for (size_t i = 0; i < d->n; i++)
		if ((b = d->nodes[i]->backup) != NULL &&
		    (latest == NULL || json_integer_value(json_object_get(b, "at_ms")) >
		                           json_integer_value(json_object_get(latest, "at_ms"))))
			latest = b;
	const char *job = latest ? json_string_value(json_object_get(latest, "job")) : NULL;
	for (size_t i = 0; i < d->n; i++) {
		const char *said = NULL;
		b = d->nodes[i]->backup;
		if (b != NULL && job != NULL &&
		    strcmp(json_string_value(json_object_get(b, "job")), job) == 0) {
			said = json_is_true(json_object_get(b, "here")) ? "here" : "none";
			if (*said == 'h' &&
			    json_array_append_new(on, json_string(d->nodes[i]->id)) != 0)
				goto oom;
			if (*said == 'h' && version == NULL)
				version = json_object_get(b, "version");
		}
		if (json_object_set_new(json_array_get(nodes, i), "backup",
		                        said ? json_string(said) : json_null()) != 0)
			goto oom;
	}
	if (latest == NULL) {
		json_decref(on);
		return json_object_set_new(o, "backup", json_null());
	}
	out = json_pack("{s:O, s:s, s:O, s:O, s:o}", "path", json_object_get(latest, "path"),
	                "version", version ? json_string_value(version) : "", "job",
	                json_object_get(latest, "job"), "at_ms", json_object_get(latest, "at_ms"),
	                "on", on);
	return out == NULL ? -1 : json_object_set_new(o, "backup", out);
oom:
	json_decref(on);
	return -1;
}

json_t *
deploy_json(const struct deployment *d)
{
	json_t *o = json_object(), *nodes = json_array(), *versions = json_array(),
	       *attention = json_array();
	char name[1024];
	size_t online = 0, healthy = 0;
	struct node_view v;

	if (o == NULL || nodes == NULL || versions == NULL || attention == NULL)
		goto oom;
	for (size_t i = 0; i < d->n; i++) {
		const struct host *h = d->nodes[i];
		bool up = registry_online(h);
		node_view(h, &v);
		online += up;
		healthy += up && strcmp(v.health, "healthy") == 0;
		json_t *n = json_pack("{s:s, s:s, s:s?, s:s?, s:s?, s:s?}", "host", h->id, "status",
		                      registry_status_name(h), "version",
		                      up && *v.version ? v.version : NULL, "image",
		                      *v.image ? v.image : NULL, "state", *v.state ? v.state : NULL,
		                      "health", up && *v.health ? v.health : NULL);
		if (n == NULL || json_array_append_new(nodes, n) != 0)
			goto oom;
		/* The versions the nodes answer at: more than one is a mismatch. */
		if (up && *v.version) {
			bool seen = false;
			size_t k;
			json_t *x;
			json_array_foreach(versions, k, x) seen |=
			    strcmp(json_string_value(x), v.version) == 0;
			if (!seen)
				json_array_append_new(versions, json_string(v.version));
		}
		if (!up)
			json_array_append_new(attention, json_sprintf("node %s is %s", h->id,
			                                              registry_status_name(h)));
		else if (*v.state && strcmp(v.state, "running") != 0)
			json_array_append_new(
			    attention, json_sprintf("node %s: ODC container %s", h->id, v.state));
		else if (*v.health && strcmp(v.health, "unhealthy") == 0)
			json_array_append_new(attention,
			                      json_sprintf("node %s: ODC unhealthy", h->id));
	}
	if (json_array_size(versions) > 1) {
		char list[512] = "";
		size_t k, off = 0;
		json_t *x;
		json_array_foreach(versions, k, x)
		{
			int w = snprintf(list + off, sizeof(list) - off, "%s%s", k ? ", " : "",
			                 json_string_value(x));
			if (w > 0 && (size_t)w < sizeof(list) - off)
				off += (size_t)w;
		}
		json_array_insert_new(attention, 0,
		                      json_sprintf("nodes answer at different versions: %s", list));
	}
	/* Containers of different releases on one metadb, running or not: a
	 * node that was away came back with the release the deployment was
	 * rolled back from (its agent stops it; fencewatch.h), or an upgrade
	 * is half done. */
	struct deploy_release rel[8];
	size_t nrel = deploy_releases(d, rel, sizeof(rel) / sizeof(rel[0]));
	if (nrel > 1) {
		char list[512] = "";
		size_t off = 0;
		for (size_t k = 0; k < nrel; k++) {
			int w = snprintf(list + off, sizeof(list) - off, "%s%s (%s%s)",
			                 k ? ", " : "", rel[k].tag, rel[k].first,
			                 rel[k].nodes > 1 ? " and others" : "");
			if (w > 0 && (size_t)w < sizeof(list) - off)
				off += (size_t)w;
		}
		json_array_insert_new(
		    attention, 0,
		    json_sprintf("nodes have containers of different releases: %s", list));
	}
	if (backup_json(d, o, nodes) != 0)
		goto oom;
	json_object_set_new(o, "deployment", json_string(d->id));
	json_object_set_new(o, "name", json_string(deploy_name(d, name, sizeof(name))));
	json_object_set_new(o, "metadb", identity_json(d));
	json_object_set_new(o, "size", json_integer((json_int_t)d->n));
	json_object_set_new(o, "online", json_integer((json_int_t)online));
	json_object_set_new(o, "healthy", json_integer((json_int_t)healthy));
	json_object_set_new(o, "versions", versions);
	json_object_set_new(o, "nodes", nodes);
	json_object_set_new(o, "attention", attention);
	return o;
oom:
	json_decref(o);
	json_decref(nodes);
	json_decref(versions);
	json_decref(attention);
	return NULL;
}

struct collect_ctx {
	struct deployment **v;
	size_t n;
};

static int
collect_one(void *ctx, const void *key, size_t len, void *value)
{
	struct collect_ctx *cc = ctx;

	(void)key;
	(void)len;
	cc->v[cc->n++] = value;
	return 0;
}

static int
dep_cmp(const void *a, const void *b)
{
	const struct deployment *const *x = a, *const *y = b;

	return strcmp((*x)->nodes[0]->id, (*y)->nodes[0]->id);
}

struct deployment **
deploy_all(const struct coord *co, size_t *n)
{
	struct collect_ctx cc = {NULL, 0};
	size_t count = map_count(co->deployments);

	*n = 0;
	cc.v = malloc((count ? count : 1) * sizeof(*cc.v));
	if (cc.v == NULL)
		return NULL;
	map_each(co->deployments, collect_one, &cc);
	/* Ordered by their first node's id, as hosts are listed. */
	qsort(cc.v, cc.n, sizeof(*cc.v), dep_cmp);
	*n = cc.n;
	return cc.v;
}
