/* Docker create bodies for a rollback: the stopped container's own spec with
 * only the image changed, or the seed's docker run flags (see spec.h). */
#include "agent/spec.h"
#include "common/err.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every member of the container's Config and HostConfig is the operator's
 * choice and goes to the new container (issue 14: a published port, a
 * healthcheck, a stop timeout an operator gave must survive a rollback), but
 * for these. Config: the image (replaced), what is compared member by member
 * with the image's own (Env, Labels), the hostname (spec_hostname), and Cmd
 * and Entrypoint, which belong to the image: the rollback image may start
 * differently. Any other Config member equal to the failed image's is that
 * image's default and is left to the rollback image. */
static const char *const spec_config_skip[] = {
    "Image", "Env", "Labels", "Hostname", "Cmd", "Entrypoint",
};

/* HostConfig members the engine fills in by itself (with its own defaults,
 * which a new container gets anyway), and one that would stop the create:
 * --cidfile's file exists already. */
static const char *const spec_host_skip[] = {
    "ContainerIDFile", "MaskedPaths", "ReadonlyPaths", "CgroupnsMode",
    "Runtime",         "ConsoleSize", "Isolation",
};

bool
spec_listed(const char *const *list, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], key) == 0)
			return true;
	return false;
}

/* Docker's generated hostname is this many characters of the container id. */
#define SPEC_SHORT_ID 12

static const char *const spec_default_binds[] = {
    "/var/log/odc:/opt/odc/log",
    "/var/data/odc:/opt/odc/data",
    NULL,
};

/* Is v one of Docker's defaults (null, "", [], {}, 0, false, or an object
 * holding only such scalar values, like RestartPolicy {"Name": "", ...})?
 * Leaving those out keeps the body to what the operator chose. An object
 * member that is itself an object or an array is content: ExposedPorts
 * {"18990/tcp": {}} is a set of one port, not nothing. */
bool
spec_is_default(json_t *v)
{
	const char *key;
	json_t *m;

	if (v == NULL)
		return true;
	switch (json_typeof(v)) {
	case JSON_NULL:
	case JSON_FALSE:
		return true;
	case JSON_STRING:
		return json_string_length(v) == 0;
	case JSON_INTEGER:
		return json_integer_value(v) == 0;
	case JSON_REAL:
		return json_real_value(v) == 0.0;
	case JSON_ARRAY:
		return json_array_size(v) == 0;
	case JSON_OBJECT:
		json_object_foreach(v, key, m)
		{
			if (json_is_object(m) || json_is_array(m) || !spec_is_default(m))
				return false;
		}
		return true;
	case JSON_TRUE:
		return false;
	}
	return false;
}

bool
spec_engine_field(const char *key)
{
	return spec_listed(spec_host_skip, sizeof(spec_host_skip) / sizeof(spec_host_skip[0]), key);
}

/* Sets dst[key] to a deep copy of v unless v is a default. 0 or -1. */
static int
spec_put(json_t *dst, const char *key, json_t *v, char *err, size_t errlen)
{
	json_t *c;

	if (spec_is_default(v))
		return 0;
	c = json_deep_copy(v);
	if (c == NULL || json_object_set_new(dst, key, c) != 0) {
		err_set(err, errlen, "spec", "out of memory copying %s", key);
		return -1;
	}
	return 0;
}

static const char *
spec_str(json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s != NULL ? s : "";
}

/* The container's Env without the entries its image set: those are the
 * image's defaults, and the rollback image brings its own. */
static int
spec_env(json_t *body, json_t *config, json_t *image_config, char *err, size_t errlen)
{
	json_t *env, *img_env, *out, *v, *iv;
	size_t i, j;
	int skip;

	env = json_object_get(config, "Env");
	if (env == NULL || json_is_null(env))
		return 0;
	if (!json_is_array(env)) {
		err_set(err, errlen, "spec", "Config.Env is not an array");
		return -1;
	}
	img_env = json_object_get(image_config, "Env");
	if (!json_is_array(img_env))
		img_env = NULL;
	out = json_array();
	if (out == NULL)
		goto oom;
	json_array_foreach(env, i, v)
	{
		if (!json_is_string(v)) {
			err_set(err, errlen, "spec", "Config.Env[%zu] is not a string", i);
			json_decref(out);
			return -1;
		}
		skip = 0;
		json_array_foreach(img_env, j, iv)
		{
			if (json_is_string(iv) &&
			    strcmp(json_string_value(iv), json_string_value(v)) == 0) {
				skip = 1;
				break;
			}
		}
		if (!skip && json_array_append_new(out, json_string(json_string_value(v))) != 0) {
			json_decref(out);
			goto oom;
		}
	}
	if (json_array_size(out) == 0) {
		json_decref(out);
		return 0;
	}
	if (json_object_set_new(body, "Env", out) != 0)
		goto oom;
	return 0;
oom:
	err_set(err, errlen, "spec", "out of memory copying Env");
	return -1;
}

/* The container's Labels without those its image set with the same value. */
static int
spec_labels(json_t *body, json_t *config, json_t *image_config, char *err, size_t errlen)
{
	json_t *labels, *img_labels, *out, *v;
	const char *key;

	labels = json_object_get(config, "Labels");
	if (labels == NULL || json_is_null(labels))
		return 0;
	if (!json_is_object(labels)) {
		err_set(err, errlen, "spec", "Config.Labels is not an object");
		return -1;
	}
	img_labels = json_object_get(image_config, "Labels");
	out = json_object();
	if (out == NULL)
		goto oom;
	json_object_foreach(labels, key, v)
	{
		if (json_is_object(img_labels) && json_equal(json_object_get(img_labels, key), v))
			continue;
		if (json_object_set_new(out, key, json_deep_copy(v)) != 0) {
			json_decref(out);
			goto oom;
		}
	}
	if (json_object_size(out) == 0) {
		json_decref(out);
		return 0;
	}
	if (json_object_set_new(body, "Labels", out) != 0)
		goto oom;
	return 0;
oom:
	err_set(err, errlen, "spec", "out of memory copying Labels");
	return -1;
}

/* Hostname only where Docker accepts one and the operator chose it: host
 * and container:<id> networks refuse it, and the first 12 characters of the
 * container id are Docker's own choice, which a new container makes anew. */
static int
spec_hostname(json_t *body, json_t *inspect, json_t *config, const char *netmode, char *err,
              size_t errlen)
{
	const char *host = spec_str(config, "Hostname");
	const char *id = spec_str(inspect, "Id");

	if (strcmp(netmode, "host") == 0 || strncmp(netmode, "container:", 10) == 0)
		return 0;
	if (strlen(host) == SPEC_SHORT_ID && strncmp(host, id, SPEC_SHORT_ID) == 0)
		return 0;
	return spec_put(body, "Hostname", json_object_get(config, "Hostname"), err, errlen);
}

json_t *
spec_from_container(json_t *container_inspect, json_t *image_inspect, const char *image, char *err,
                    size_t errlen)
{
	json_t *body = NULL, *host = NULL, *result = NULL;
	json_t *config, *hostconfig, *image_config = NULL, *v;
	const char *key;

	if (image == NULL || image[0] == '\0') {
		err_set(err, errlen, "spec", "no image given");
		goto out;
	}
	config = json_object_get(container_inspect, "Config");
	hostconfig = json_object_get(container_inspect, "HostConfig");
	if (!json_is_object(config) || !json_is_object(hostconfig)) {
		err_set(err, errlen, "spec", "container inspect has no %s object",
		        json_is_object(config) ? "HostConfig" : "Config");
		goto out;
	}
	if (image_inspect != NULL) {
		if (!json_is_object(image_inspect)) {
			err_set(err, errlen, "spec", "image inspect is not an object");
			goto out;
		}
		image_config = json_object_get(image_inspect, "Config");
		if (!json_is_object(image_config))
			image_config = NULL;
	}

	body = json_object();
	host = json_object();
	if (body == NULL || host == NULL ||
	    json_object_set_new(body, "Image", json_string(image)) != 0) {
		err_set(err, errlen, "spec", "out of memory");
		goto out;
	}
	if (spec_env(body, config, image_config, err, errlen) != 0)
		goto out;
	json_object_foreach(config, key, v)
	{
		if (spec_listed(spec_config_skip,
		                sizeof(spec_config_skip) / sizeof(spec_config_skip[0]), key))
			continue;
		/* The failed image's default: the rollback image brings its own. */
		if (image_config != NULL && json_equal(v, json_object_get(image_config, key)))
			continue;
		if (spec_put(body, key, v, err, errlen) != 0)
			goto out;
	}
	if (spec_labels(body, config, image_config, err, errlen) != 0)
		goto out;
	if (spec_hostname(body, container_inspect, config, spec_str(hostconfig, "NetworkMode"), err,
	                  errlen) != 0)
		goto out;

	json_object_foreach(hostconfig, key, v)
	{
		if (spec_listed(spec_host_skip, sizeof(spec_host_skip) / sizeof(spec_host_skip[0]),
		                key))
			continue;
		if (spec_put(host, key, v, err, errlen) != 0)
			goto out;
	}
	if (json_object_size(host) > 0) {
		if (json_object_set(body, "HostConfig", host) != 0) {
			err_set(err, errlen, "spec", "out of memory");
			goto out;
		}
	}
	result = body;
	body = NULL;
out:
	json_decref(host);
	json_decref(body);
	return result;
}

void
spec_defaults_init(struct spec_defaults *def)
{
	memset(def, 0, sizeof(*def));
	def->memory = SPEC_DEFAULT_MEMORY;
	def->cpu_period = SPEC_DEFAULT_CPU_PERIOD;
	def->cpu_quota = SPEC_DEFAULT_CPU_QUOTA;
	def->network = SPEC_DEFAULT_NETWORK;
	def->env = NULL;
	def->binds = spec_default_binds;
}

/* Adds "NAME=value" entries to arr after checking each has a name and no
 * name comes twice. Sets *has_profile when ODC_PROFILE_MODE is among them. */
static int
spec_add_env(json_t *arr, const char *const *env, int *has_profile, char *err, size_t errlen)
{
	const char *eq, *prev;
	size_t i, j, n;

	for (i = 0; env != NULL && env[i] != NULL; i++) {
		if (i >= SPEC_MAX_ENTRIES) {
			err_set(err, errlen, "spec", "more than %d env entries", SPEC_MAX_ENTRIES);
			return -1;
		}
		eq = strchr(env[i], '=');
		if (eq == NULL || eq == env[i]) {
			err_set(err, errlen, "spec", "env entry %zu is not NAME=value", i);
			return -1;
		}
		n = (size_t)(eq - env[i]);
		for (j = 0; j < i; j++) {
			prev = env[j];
			if (strncmp(prev, env[i], n) == 0 && prev[n] == '=') {
				err_set(err, errlen, "spec", "env %.*s given twice", (int)n,
				        env[i]);
				return -1;
			}
		}
		if (n == 16 && strncmp(env[i], "ODC_PROFILE_MODE", n) == 0)
			*has_profile = 1;
		if (json_array_append_new(arr, json_string(env[i])) != 0) {
			err_set(err, errlen, "spec", "out of memory");
			return -1;
		}
	}
	return 0;
}

/* Adds "source:/target[:options]" binds to arr. */
static int
spec_add_binds(json_t *arr, const char *const *binds, char *err, size_t errlen)
{
	const char *colon;
	size_t i;

	for (i = 0; binds != NULL && binds[i] != NULL; i++) {
		if (i >= SPEC_MAX_ENTRIES) {
			err_set(err, errlen, "spec", "more than %d binds", SPEC_MAX_ENTRIES);
			return -1;
		}
		colon = strchr(binds[i], ':');
		if (colon == NULL || colon == binds[i] || colon[1] != '/') {
			err_set(err, errlen, "spec", "bind '%s' is not source:/target", binds[i]);
			return -1;
		}
		if (json_array_append_new(arr, json_string(binds[i])) != 0) {
			err_set(err, errlen, "spec", "out of memory");
			return -1;
		}
	}
	return 0;
}

/* Sets obj[key] to n unless n is 0; a negative n is an error. */
static int
spec_put_num(json_t *obj, const char *key, long long n, char *err, size_t errlen)
{
	if (n < 0) {
		err_set(err, errlen, "spec", "%s is negative (%lld)", key, n);
		return -1;
	}
	if (n == 0)
		return 0;
	if (json_object_set_new(obj, key, json_integer((json_int_t)n)) != 0) {
		err_set(err, errlen, "spec", "out of memory");
		return -1;
	}
	return 0;
}

json_t *
spec_from_defaults(const struct spec_defaults *def, const char *image, char *err, size_t errlen)
{
	json_t *body = NULL, *host = NULL, *env = NULL, *binds = NULL, *result = NULL;
	int has_profile = 0;

	if (def == NULL) {
		err_set(err, errlen, "spec", "no defaults given");
		goto out;
	}
	if (image == NULL || image[0] == '\0') {
		err_set(err, errlen, "spec", "no image given");
		goto out;
	}
	body = json_object();
	host = json_object();
	env = json_array();
	binds = json_array();
	if (body == NULL || host == NULL || env == NULL || binds == NULL ||
	    json_object_set_new(body, "Image", json_string(image)) != 0 ||
	    json_object_set_new(body, "OpenStdin", json_true()) != 0) {
		err_set(err, errlen, "spec", "out of memory");
		goto out;
	}
	if (spec_add_env(env, def->env, &has_profile, err, errlen) != 0)
		goto out;
	if (!has_profile && json_array_append_new(env, json_string(SPEC_DEFAULT_PROFILE)) != 0) {
		err_set(err, errlen, "spec", "out of memory");
		goto out;
	}
	if (spec_add_binds(binds, def->binds, err, errlen) != 0)
		goto out;
	if (spec_put_num(host, "Memory", def->memory, err, errlen) != 0 ||
	    spec_put_num(host, "CpuPeriod", def->cpu_period, err, errlen) != 0 ||
	    spec_put_num(host, "CpuQuota", def->cpu_quota, err, errlen) != 0)
		goto out;
	if (def->network != NULL && def->network[0] != '\0' &&
	    json_object_set_new(host, "NetworkMode", json_string(def->network)) != 0) {
		err_set(err, errlen, "spec", "out of memory");
		goto out;
	}
	if (json_object_set(body, "Env", env) != 0 ||
	    (json_array_size(binds) > 0 && json_object_set(host, "Binds", binds) != 0) ||
	    json_object_set(body, "HostConfig", host) != 0) {
		err_set(err, errlen, "spec", "out of memory");
		goto out;
	}
	result = body;
	body = NULL;
out:
	json_decref(binds);
	json_decref(env);
	json_decref(host);
	json_decref(body);
	return result;
}

static int
spec_tag_char(char c, int first)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')
		return 1;
	return !first && (c == '.' || c == '-');
}

int
spec_image_ref(const char *repository, const char *tag, char *out, size_t outlen)
{
	const char *last, *sep = ":";
	size_t i;
	int n;

	if (out != NULL && outlen > 0)
		out[0] = '\0';
	if (repository == NULL || tag == NULL || out == NULL || repository[0] == '\0' ||
	    tag[0] == '\0')
		return -1;
	/* A registry may carry a port ("host:5000/repo"); only the last path
	 * component must be free of a tag or digest. */
	last = strrchr(repository, '/');
	last = last != NULL ? last + 1 : repository;
	if (last[0] == '\0' || strchr(last, ':') != NULL || strchr(repository, '@') != NULL)
		return -1;
	if (strncmp(tag, "sha256:", 7) == 0) {
		for (i = 7; tag[i] != '\0'; i++) {
			if (!((tag[i] >= '0' && tag[i] <= '9') || (tag[i] >= 'a' && tag[i] <= 'f')))
				return -1;
		}
		if (i != 7 + 64)
			return -1;
		sep = "@";
	} else {
		for (i = 0; tag[i] != '\0'; i++) {
			if (i >= 128 || !spec_tag_char(tag[i], i == 0))
				return -1;
		}
	}
	n = snprintf(out, outlen, "%s%s%s", repository, sep, tag);
	if (n < 0 || (size_t)n >= outlen) {
		out[0] = '\0';
		return -1;
	}
	return 0;
}

bool
spec_secret_name(const char *name, size_t len)
{
	static const char *const marks[] = {"PASSWORD",   "PASSWD", "SECRET", "TOKEN",
	                                    "CREDENTIAL", "_KEY",   "APIKEY"};
	char up[256];

	if (len >= sizeof(up))
		len = sizeof(up) - 1;
	for (size_t i = 0; i < len; i++)
		up[i] = (char)(name[i] >= 'a' && name[i] <= 'z' ? name[i] - 'a' + 'A' : name[i]);
	up[len] = '\0';
	for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++)
		if (strstr(up, marks[i]) != NULL)
			return true;
	/* A name ending in KEY (ODC_AESKEY, ENCRYPTION_KEY above) holds one. */
	return len >= 3 && strcmp(up + len - 3, "KEY") == 0;
}

void
spec_redact(json_t *body, const char *mask)
{
	json_t *env = json_object_get(body, "Env"), *e;
	size_t i;

	json_array_foreach(env, i, e)
	{
		const char *kv = json_string_value(e), *eq = kv ? strchr(kv, '=') : NULL;
		if (eq == NULL || !spec_secret_name(kv, (size_t)(eq - kv)))
			continue;
		size_t n = (size_t)(eq - kv) + 1 + strlen(mask) + 1;
		char *red = malloc(n);
		if (red == NULL)
			continue;
		snprintf(red, n, "%.*s=%s", (int)(eq - kv), kv, mask);
		json_array_set_new(env, i, json_string(red));
		free(red);
	}
}

/* The "NAME=value" entry of name (len bytes) in an Env array, or NULL. */
static const char *
env_entry(json_t *env, const char *name, size_t len)
{
	json_t *e;
	size_t i;

	json_array_foreach(env, i, e)
	{
		const char *kv = json_string_value(e);
		if (kv != NULL && strncmp(kv, name, len) == 0 && kv[len] == '=')
			return kv;
	}
	return NULL;
}

const char *
spec_container_env(json_t *inspect, const char *name)
{
	size_t n = strlen(name);
	const char *kv =
	    env_entry(json_object_get(json_object_get(inspect, "Config"), "Env"), name, n);

	return kv != NULL ? kv + n + 1 : NULL;
}

int
spec_unredact(json_t *body, json_t *source, char *err, size_t errlen)
{
	json_t *env = json_object_get(body, "Env"),
	       *src = json_object_get(json_object_get(source, "Config"), "Env");
	json_t *e;
	size_t i;

	json_array_foreach(env, i, e)
	{
		const char *kv = json_string_value(e), *eq = kv ? strchr(kv, '=') : NULL;
		if (eq == NULL || strcmp(eq + 1, SPEC_KEPT_MASK) != 0)
			continue;
		const char *skv = env_entry(src, kv, (size_t)(eq - kv));
		if (skv == NULL) {
			err_set(
			    err, errlen, "spec",
			    "the kept container has no %.*s, whose value the journal does not keep",
			    (int)(eq - kv), kv);
			return -1;
		}
		json_array_set_new(env, i, json_string(skv));
	}
	return 0;
}

void
spec_login_parts(const char *login, char *tenant, size_t tlen, char *cluster, size_t clen)
{
	const char *at = strchr(login, '@'), *c1 = strchr(login, ':'),
	           *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

	*tenant = *cluster = '\0';
	if (at != NULL) {
		const char *hash = strchr(at + 1, '#');
		snprintf(tenant, tlen, "%.*s",
		         (int)(hash ? (size_t)(hash - at - 1) : strlen(at + 1)), at + 1);
		if (hash != NULL)
			snprintf(cluster, clen, "%s", hash + 1);
	} else if (c2 != NULL) {
		/* cluster:tenant:user, the other form OceanBase takes */
		snprintf(cluster, clen, "%.*s", (int)(c1 - login), login);
		snprintf(tenant, tlen, "%.*s", (int)(c2 - c1 - 1), c1 + 1);
	}
}

int
spec_metadb_identity(json_t *inspect, struct spec_metadb *out, char *err, size_t errlen)
{
	static const char *const names[] = {"DATABASE_HOST", "DATABASE_PORT", "DATABASE_USERNAME",
	                                    "DATABASE_NAME"};
	const char *v[4];
	char *end;
	size_t n;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < 4; i++) {
		v[i] = spec_container_env(inspect, names[i]);
		if (v[i] == NULL || *v[i] == '\0') {
			err_set(err, errlen, "spec", "the container has no %s in its env",
			        names[i]);
			return -1;
		}
	}
	const char *host = v[0];
	n = strlen(host);
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
		host++;
		n -= 2;
	}
	if (n > 1 && host[n - 1] == '.')
		n--;
	if (n == 0 || n >= sizeof(out->host)) {
		err_set(err, errlen, "spec", "DATABASE_HOST is %s",
		        n == 0 ? "empty" : "longer than 255 bytes");
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		out->host[i] = (char)tolower((unsigned char)host[i]);
	errno = 0;
	unsigned long port = strtoul(v[1], &end, 10);
	if (errno != 0 || *end != '\0' || !isdigit((unsigned char)*v[1]) || port < 1 ||
	    port > 65535) {
		err_set(err, errlen, "spec", "DATABASE_PORT '%.32s' is not a port (1..65535)",
		        v[1]);
		return -1;
	}
	out->port = (unsigned)port;
	spec_login_parts(v[2], out->tenant, sizeof(out->tenant), out->cluster,
	                 sizeof(out->cluster));
	if (strlen(v[3]) >= sizeof(out->database)) {
		err_set(err, errlen, "spec", "DATABASE_NAME is longer than 128 bytes");
		return -1;
	}
	snprintf(out->database, sizeof(out->database), "%s", v[3]);
	return 0;
}
