/* libFuzzer harness for the path from Docker's inspect JSON to a container
 * create spec (agent/spec.c) and the dry run's view of it (agent/specdiff.c).
 * The first byte holds flags (bits 0-1: specdiff_text's maxlen 4096, 512,
 * 200 or 80), the rest is a container inspect, then optionally a NUL byte
 * and the image inspect (JSON text never holds a raw NUL).
 *
 * Invariants checked:
 *  - spec_from_container fails exactly when the documented errors apply
 *    (Config or HostConfig not an object, Env not an array of strings,
 *    Labels not an object, the image inspect not an object), with "spec: ";
 *  - the body shares nothing with the inputs (every node's refcount is 1),
 *    carries the image, no Cmd/Entrypoint/Config.Image, no engine-filled
 *    HostConfig member, no member that is a Docker default, Env a subset of
 *    the container's in order without an image's entry;
 *  - the body dumps to JSON that loads back equal, no longer than the
 *    container inspect's own compact dump plus the image member;
 *  - spec_redact masks every secret and nothing else; spec_unredact from the
 *    container gives back the body (when env names are unique);
 *  - specdiff_created shares nothing with its inputs; comparing it with
 *    itself gives no difference; comparing the container with it gives
 *    {field, from, to} strings-or-null, secrets masked; specdiff_text never
 *    fails for lack of room and stays under maxlen;
 *  - spec_metadb_identity: a lower-case host of 1..255 bytes, a port in
 *    1..65535. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "agent/spec.h"
#include "agent/specdiff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define IMAGE "oceanbase/odc:4.2.0"
#define NAME  "obodc"

static const size_t maxlens[] = {4096, 512, 200, 80};

static void
fail(const char *what, json_t *show)
{
	char *s = show != NULL ? json_dumps(show, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;

	fprintf(stderr, "fuzz_spec: %s%s%s\n", what, s != NULL ? ": " : "", s != NULL ? s : "");
	free(s);
	abort();
}

/* Every node of v is held by v alone: nothing shared with an input (true,
 * false and null are jansson's shared constants). */
static void
check_unshared(json_t *v, const char *what)
{
	const char *key;
	json_t *m;
	size_t i;

	if (json_is_boolean(v) || json_is_null(v))
		return;
	if (v->refcount != 1)
		fail(what, v);
	if (json_is_object(v)) {
		json_object_foreach(v, key, m) check_unshared(m, what);
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, m) check_unshared(m, what);
	}
}

/* What spec_from_container must refuse, read from the inputs directly. */
static bool
must_refuse(json_t *c, json_t *img)
{
	json_t *config = json_object_get(c, "Config"), *env, *labels, *e;
	size_t i;

	if (!json_is_object(config) || !json_is_object(json_object_get(c, "HostConfig")))
		return true;
	if (img != NULL && !json_is_object(img))
		return true;
	env = json_object_get(config, "Env");
	if (env != NULL && !json_is_null(env)) {
		if (!json_is_array(env))
			return true;
		json_array_foreach(env, i, e) if (!json_is_string(e)) return true;
	}
	labels = json_object_get(config, "Labels");
	return labels != NULL && !json_is_null(labels) && !json_is_object(labels);
}

static bool
in_strings(json_t *arr, const char *s)
{
	json_t *e;
	size_t i;

	json_array_foreach(arr, i, e) if (json_is_string(e) &&
	                                  strcmp(json_string_value(e), s) == 0) return true;
	return false;
}

/* Whether the env names of arr are unique (spec_unredact takes the first). */
static bool
names_unique(json_t *arr)
{
	json_t *a, *b;
	size_t i, j;

	json_array_foreach(arr, i, a)
	{
		const char *x = json_string_value(a), *xe = x ? strchr(x, '=') : NULL;
		if (xe == NULL)
			continue;
		for (j = i + 1; j < json_array_size(arr); j++) {
			const char *y = json_string_value(b = json_array_get(arr, j));
			if (y != NULL && strncmp(x, y, (size_t)(xe - x + 1)) == 0)
				return false;
		}
	}
	return true;
}

static void
check_body(json_t *body, json_t *c, json_t *img)
{
	json_t *config = json_object_get(c, "Config"), *env = json_object_get(body, "Env");
	json_t *img_env = json_object_get(json_object_get(img, "Config"), "Env");
	json_t *host = json_object_get(body, "HostConfig"), *v, *e;
	const char *key;
	size_t i, at = 0;

	if (!json_is_object(body) || !json_is_string(json_object_get(body, "Image")) ||
	    strcmp(json_string_value(json_object_get(body, "Image")), IMAGE) != 0)
		fail("body without the image", body);
	if (json_object_get(body, "Cmd") != NULL || json_object_get(body, "Entrypoint") != NULL)
		fail("body carries the image's Cmd or Entrypoint", body);
	json_object_foreach(body, key, v)
	{
		if (strcmp(key, "Image") != 0 && spec_is_default(v))
			fail("body member that is a Docker default", body);
	}
	if (host != NULL) {
		if (!json_is_object(host) || json_object_size(host) == 0)
			fail("HostConfig not a non-empty object", body);
		json_object_foreach(host, key, v)
		{
			if (spec_engine_field(key) || spec_is_default(v))
				fail("HostConfig member the engine fills in or a default", body);
		}
	}
	if (env != NULL) {
		/* A subsequence of the container's Env, without the image's. */
		json_t *cenv = json_object_get(config, "Env");
		if (!json_is_array(env) || json_array_size(env) == 0)
			fail("Env not a non-empty array", body);
		json_array_foreach(env, i, e)
		{
			const char *s = json_string_value(e);
			if (s == NULL || (json_is_array(img_env) && in_strings(img_env, s)))
				fail("Env entry not a string or the image's", body);
			while (at < json_array_size(cenv) &&
			       strcmp(json_string_value(json_array_get(cenv, at)), s) != 0)
				at++;
			if (at++ >= json_array_size(cenv))
				fail("Env entry not in the container's Env, in order", body);
		}
	}
}

/* The body as JSON text: loads back equal, and within the container's size. */
static void
check_dump(json_t *body, json_t *c)
{
	char *s = json_dumps(body, JSON_COMPACT), *cs = json_dumps(c, JSON_COMPACT);
	json_t *again;
	json_error_t je;

	if (s == NULL || cs == NULL)
		fail("body or container does not dump", body);
	again = json_loads(s, 0, &je);
	if (again == NULL || !json_equal(again, body))
		fail("body does not load back as itself", body);
	/* Members move out of Config (its key goes), Config.Image is replaced
	 * by the body's "Image":"...": nothing else is added. */
	if (strlen(s) > strlen(cs) + sizeof("{\"Image\":\"" IMAGE "\",}"))
		fail("body longer than the container inspect it came from", body);
	json_decref(again);
	free(s);
	free(cs);
}

static void
check_redact(json_t *body, json_t *c)
{
	json_t *r = json_deep_copy(body), *env = json_object_get(body, "Env"), *e;
	char err[256];
	size_t i;

	if (r == NULL)
		abort();
	spec_redact(r, SPEC_KEPT_MASK);
	json_array_foreach(env, i, e)
	{
		const char *kv = json_string_value(e), *eq = strchr(kv, '=');
		const char *rv = json_string_value(json_array_get(json_object_get(r, "Env"), i));
		bool secret = eq != NULL && spec_secret_name(kv, (size_t)(eq - kv));

		if (rv == NULL)
			fail("redacted Env entry lost", r);
		if (secret && (strncmp(rv, kv, (size_t)(eq - kv + 1)) != 0 ||
		               strcmp(rv + (eq - kv + 1), SPEC_KEPT_MASK) != 0))
			fail("a secret env value not masked", r);
		if (!secret && strcmp(rv, kv) != 0)
			fail("a value that is not a secret masked", r);
	}
	if (names_unique(json_object_get(json_object_get(c, "Config"), "Env"))) {
		if (spec_unredact(r, c, err, sizeof(err)) != 0)
			fail(err, r);
		if (!json_equal(r, body))
			fail("unredacted body differs from the body", r);
	}
	json_decref(r);
}

static void
check_diff_entries(json_t *diff)
{
	json_t *e;
	size_t i;

	if (!json_is_array(diff))
		fail("specdiff_compare gave no array", NULL);
	json_array_foreach(diff, i, e)
	{
		json_t *f = json_object_get(e, "field"), *from = json_object_get(e, "from"),
		       *to = json_object_get(e, "to");
		const char *fs = json_string_value(f);

		if (fs == NULL || (!json_is_string(from) && !json_is_null(from)) ||
		    (!json_is_string(to) && !json_is_null(to)))
			fail("difference not {field, from, to} of strings or null", e);
		if (strncmp(fs, "Env.", 4) == 0 && spec_secret_name(fs + 4, strlen(fs + 4)) &&
		    ((json_is_string(from) &&
		      strcmp(json_string_value(from), SPECDIFF_MASK) != 0) ||
		     (json_is_string(to) && strcmp(json_string_value(to), SPECDIFF_MASK) != 0)))
			fail("a secret env value shown", e);
	}
}

static void
check_specdiff(json_t *body, json_t *c, json_t *img, size_t maxlen)
{
	json_t *next = specdiff_created(body, img, NAME), *none, *diff;
	char same[1024];
	char *text;

	if (next == NULL)
		fail("specdiff_created failed", body);
	check_unshared(next, "specdiff_created shares a value with its inputs");
	none = specdiff_compare(next, next, same, sizeof(same));
	if (!json_is_array(none) || json_array_size(none) != 0)
		fail("a container differs from itself", none);
	json_decref(none);

	diff = specdiff_compare(c, next, same, sizeof(same));
	check_diff_entries(diff);
	if (strnlen(same, sizeof(same)) >= sizeof(same))
		fail("same not NUL-terminated", NULL);
	text = specdiff_text(NAME, c, next, diff, same, maxlen);
	if (text == NULL)
		fail("specdiff_text failed (not out of memory)", diff);
	if (strlen(text) >= maxlen)
		fail("specdiff_text longer than maxlen", diff);
	free(text);
	json_decref(diff);
	json_decref(next);
}

static void
check_metadb(json_t *c)
{
	struct spec_metadb m;
	char err[256];
	size_t n, i;

	err[0] = '\0';
	if (spec_metadb_identity(c, &m, err, sizeof(err)) != 0) {
		if (strncmp(err, "spec: ", 6) != 0)
			fail("metadb identity refused without \"spec: what\"", NULL);
		return;
	}
	n = strnlen(m.host, sizeof(m.host));
	if (n == 0 || n >= sizeof(m.host) || m.port < 1 || m.port > 65535 ||
	    strnlen(m.tenant, sizeof(m.tenant)) >= sizeof(m.tenant) ||
	    strnlen(m.cluster, sizeof(m.cluster)) >= sizeof(m.cluster) ||
	    strnlen(m.database, sizeof(m.database)) >= sizeof(m.database) || m.database[0] == '\0')
		fail("metadb identity out of its bounds", NULL);
	for (i = 0; i < n; i++)
		if (m.host[i] >= 'A' && m.host[i] <= 'Z')
			fail("metadb host not in lower case", NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text, *nul;
	json_t *c, *img = NULL, *body;
	size_t len, maxlen;
	char err[256];

	if (size < 1)
		return 0;
	maxlen = maxlens[data[0] & 3];
	text = (const char *)data + 1;
	len = size - 1;
	nul = memchr(text, '\0', len);
	c = json_loadb(text, nul != NULL ? (size_t)(nul - text) : len, 0, NULL);
	if (c == NULL)
		return 0;
	if (nul != NULL) {
		img = json_loadb(nul + 1, len - (size_t)(nul + 1 - text), 0, NULL);
		if (img == NULL) {
			json_decref(c);
			return 0;
		}
	}
	check_metadb(c);

	err[0] = '\0';
	body = spec_from_container(c, img, IMAGE, err, sizeof(err));
	if (body == NULL) {
		if (!must_refuse(c, img) || strncmp(err, "spec: ", 6) != 0)
			fail(err[0] ? err : "refused without a message", c);
	} else {
		if (must_refuse(c, img))
			fail("accepted what must be refused", c);
		check_unshared(body, "spec_from_container shares a value with the inspect");
		check_body(body, c, img);
		check_dump(body, c);
		check_redact(body, c);
		check_specdiff(body, c, img, maxlen);
		json_decref(body);
	}
	json_decref(img);
	json_decref(c);
	return 0;
}
