/* Docker Engine API operations (see docker.h): inspect, list, stop, start,
 * rename, remove, create, logs and file tails, each one request through the
 * transport (docker_http.c), and the parsing of inspect answers. */
#include "agent/docker_int.h"

#include "common/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Copies the string obj[key] into dst. A missing or null value gives "" (or
 * an error when required); a value too long for dst is an error. */
static int
docker_field(json_t *obj, const char *key, const char *name, int required, char *dst, size_t dstlen,
             const char *path, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);
	size_t len;

	dst[0] = '\0';
	if (v == NULL || json_is_null(v)) {
		if (!required)
			return 0;
		err_set(err, errlen, "docker", "GET %s: no %s in the answer", path, name);
		return -1;
	}
	if (!json_is_string(v)) {
		err_set(err, errlen, "docker", "GET %s: %s is not a string", path, name);
		return -1;
	}
	len = json_string_length(v);
	if (len >= dstlen || strlen(json_string_value(v)) != len) {
		err_set(err, errlen, "docker", "GET %s: %s too long (%zu bytes, at most %zu)", path,
		        name, len, dstlen - 1);
		return -1;
	}
	memcpy(dst, json_string_value(v), len + 1);
	return 0;
}

/* Fills c from a container's inspect JSON. */
static int
docker_container_parse(json_t *j, const char *path, struct docker_container *c, char *err,
                       size_t errlen)
{
	json_t *state = json_object_get(j, "State");
	json_t *config = json_object_get(j, "Config");
	json_t *code;
	const char *name;
	size_t len;

	memset(c, 0, sizeof(*c));
	if (!json_is_object(state)) {
		err_set(err, errlen, "docker", "GET %s: no State in the answer", path);
		return -1;
	}
	if (docker_field(j, "Id", "Id", 1, c->id, sizeof(c->id), path, err, errlen) != 0 ||
	    docker_field(config, "Image", "Config.Image", 0, c->image, sizeof(c->image), path, err,
	                 errlen) != 0 ||
	    docker_field(j, "Image", "Image", 0, c->image_id, sizeof(c->image_id), path, err,
	                 errlen) != 0 ||
	    docker_field(state, "Status", "State.Status", 1, c->state, sizeof(c->state), path, err,
	                 errlen) != 0 ||
	    docker_field(state, "StartedAt", "State.StartedAt", 0, c->started_at,
	                 sizeof(c->started_at), path, err, errlen) != 0)
		return -1;
	/* Docker keeps names as "/name"; the field holds it without the '/'. */
	name = json_string_value(json_object_get(j, "Name"));
	if (name == NULL) {
		err_set(err, errlen, "docker", "GET %s: no Name in the answer", path);
		return -1;
	}
	if (name[0] == '/')
		name++;
	len = strlen(name);
	if (len >= sizeof(c->name)) {
		err_set(err, errlen, "docker", "GET %s: Name too long (%zu bytes, at most %zu)",
		        path, len, sizeof(c->name) - 1);
		return -1;
	}
	memcpy(c->name, name, len + 1);
	code = json_object_get(state, "ExitCode");
	if (json_is_integer(code)) {
		if (json_integer_value(code) < -2147483647 - 1 ||
		    json_integer_value(code) > 2147483647) {
			err_set(err, errlen, "docker", "GET %s: State.ExitCode out of range", path);
			return -1;
		}
		c->exit_code = (int)json_integer_value(code);
	}
	return 0;
}

int
docker_container_inspect(struct docker *d, const char *id_or_name, struct docker_container *out,
                         json_t **raw, char *err, size_t errlen)
{
	char path[DOCKER_PATH_MAX];
	struct docker_container c;
	json_t *j = NULL;
	int r;

	if (raw != NULL)
		*raw = NULL;
	if (docker_path(d, path, sizeof(path), "/containers/", "container", id_or_name, "/json",
	                err, errlen) != 0)
		return -1;
	r = docker_get_json(d, path, NULL, &j, err, errlen);
	if (r != 0)
		return r;
	if (docker_container_parse(j, path, &c, err, errlen) != 0) {
		json_decref(j);
		return -1;
	}
	if (out != NULL)
		*out = c;
	if (raw != NULL)
		*raw = j;
	else
		json_decref(j);
	return 0;
}

int
docker_container_list(struct docker *d, json_t **out, char *err, size_t errlen)
{
	json_t *j = NULL;

	*out = NULL;
	if (docker_get_json(d, "/containers/json", "all=1", &j, err, errlen) != 0)
		return -1;
	if (!json_is_array(j)) {
		err_set(err, errlen, "docker", "GET /containers/json: the answer is not an array");
		json_decref(j);
		return -1;
	}
	*out = j;
	return 0;
}

int
docker_image_inspect(struct docker *d, const char *ref, json_t **raw, char *err, size_t errlen)
{
	char path[DOCKER_PATH_MAX];
	json_t *j = NULL;
	int r;

	if (raw != NULL)
		*raw = NULL;
	if (docker_path(d, path, sizeof(path), "/images/", "image", ref, "/json", err, errlen) != 0)
		return -1;
	r = docker_get_json(d, path, NULL, &j, err, errlen);
	if (r != 0)
		return r;
	if (!json_is_object(j)) {
		err_set(err, errlen, "docker", "GET %s: the answer is not an object", path);
		json_decref(j);
		return -1;
	}
	if (raw != NULL)
		*raw = j;
	else
		json_decref(j);
	return 0;
}

int
docker_container_stop(struct docker *d, const char *id, unsigned timeout_s, char *err,
                      size_t errlen)
{
	char path[DOCKER_PATH_MAX], query[32];

	if (docker_path(d, path, sizeof(path), "/containers/", "container", id, "/stop", err,
	                errlen) != 0)
		return -1;
	snprintf(query, sizeof(query), "t=%u", timeout_s);
	/* The engine waits up to timeout_s for the container before it kills
	 * it, and only then answers. */
	return docker_simple(d, "POST", path, query, (uint64_t)timeout_s * 1000u, 204, 304, err,
	                     errlen);
}

int
docker_container_start(struct docker *d, const char *id, char *err, size_t errlen)
{
	char path[DOCKER_PATH_MAX];

	if (docker_path(d, path, sizeof(path), "/containers/", "container", id, "/start", err,
	                errlen) != 0)
		return -1;
	return docker_simple(d, "POST", path, NULL, 0, 204, 304, err, errlen);
}

int
docker_container_rename(struct docker *d, const char *id, const char *new_name, char *err,
                        size_t errlen)
{
	char path[DOCKER_PATH_MAX], esc[DOCKER_PATH_MAX], query[DOCKER_PATH_MAX + 8];

	if (docker_path(d, path, sizeof(path), "/containers/", "container", id, "/rename", err,
	                errlen) != 0 ||
	    docker_escape(d, "new name", new_name, 0, esc, sizeof(esc), err, errlen) != 0)
		return -1;
	snprintf(query, sizeof(query), "name=%s", esc);
	return docker_simple(d, "POST", path, query, 0, 204, 204, err, errlen);
}

int
docker_container_remove(struct docker *d, const char *id, char *err, size_t errlen)
{
	char path[DOCKER_PATH_MAX];
	struct docker_sink s;
	int result = -1;

	if (docker_path(d, path, sizeof(path), "/containers/", "container", id, "", err, errlen) !=
	    0)
		return -1;
	memset(&s, 0, sizeof(s));
	if (docker_call(d, "DELETE", path, NULL, NULL, 0, &s, err, errlen) != 0)
		return -1;
	if (s.status == 204) {
		result = 0;
	} else {
		docker_status_fail("DELETE", path, &s, err, errlen);
		result = s.status == 404 ? 1 : -1;
	}
	buf_free(&s.body);
	return result;
}

/* Is s 1 to 64 lowercase hex digits? */
static int
docker_is_id(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		if (i >= 64 || !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	}
	return i > 0;
}

int
docker_container_create(struct docker *d, const char *name, json_t *body, char id_out[65],
                        char *err, size_t errlen)
{
	const char *path = "/containers/create";
	char esc[DOCKER_PATH_MAX], query[DOCKER_PATH_MAX + 8];
	struct docker_sink s;
	json_t *j = NULL;
	const char *id;
	int result = -1;

	id_out[0] = '\0';
	memset(&s, 0, sizeof(s));
	if (!json_is_object(body)) {
		err_set(err, errlen, "docker", "POST %s: the create body is not a JSON object",
		        path);
		return -1;
	}
	if (name != NULL) {
		if (docker_escape(d, "container name", name, 0, esc, sizeof(esc), err, errlen) != 0)
			return -1;
		snprintf(query, sizeof(query), "name=%s", esc);
	}
	if (docker_call(d, "POST", path, name != NULL ? query : NULL, body, 0, &s, err, errlen) !=
	    0)
		return -1;
	if (s.status != 201) {
		docker_status_fail("POST", path, &s, err, errlen);
		goto out;
	}
	j = docker_json("POST", path, &s, err, errlen);
	if (j == NULL)
		goto out;
	id = json_string_value(json_object_get(j, "Id"));
	if (id == NULL || !docker_is_id(id)) {
		err_set(err, errlen, "docker", "POST %s: 201 but no valid Id in the answer", path);
		goto out;
	}
	memcpy(id_out, id, strlen(id) + 1);
	result = 0;
out:
	json_decref(j);
	buf_free(&s.body);
	return result;
}

int
docker_container_logs(struct docker *d, const char *id, unsigned tail_lines, size_t max_bytes,
                      char **out, size_t *outlen, char *err, size_t errlen)
{
	char path[DOCKER_PATH_MAX], query[64];
	struct docker_logs logs;
	struct docker_sink s;
	json_t *raw = NULL;
	char *text = NULL;
	size_t n;
	int r, result = -1;

	*out = NULL;
	if (outlen != NULL)
		*outlen = 0;
	memset(&logs, 0, sizeof(logs));
	memset(&s, 0, sizeof(s));
	if (max_bytes > DOCKER_BODY_MAX)
		max_bytes = DOCKER_BODY_MAX;
	/* The stream is framed unless the container has a TTY; only its
	 * config says which (API 1.41 sends the same content type). */
	r = docker_container_inspect(d, id, NULL, &raw, err, errlen);
	if (r != 0)
		return -1;
	logs.raw = json_is_true(json_object_get(json_object_get(raw, "Config"), "Tty"));
	json_decref(raw);

	if (docker_path(d, path, sizeof(path), "/containers/", "container", id, "/logs", err,
	                errlen) != 0)
		return -1;
	if (tail_lines == 0)
		snprintf(query, sizeof(query), "stdout=1&stderr=1&tail=all");
	else
		snprintf(query, sizeof(query), "stdout=1&stderr=1&tail=%u", tail_lines);
	if (tail_init(&logs.t, max_bytes) != 0) {
		err_set(err, errlen, "docker", "GET %s: out of memory for %zu bytes of logs", path,
		        max_bytes);
		return -1;
	}
	s.logs = &logs;
	if (docker_call(d, "GET", path, query, NULL, 0, &s, err, errlen) != 0)
		goto out;
	if (s.status != 200) {
		docker_status_fail("GET", path, &s, err, errlen);
		goto out;
	}
	if (logs.hdr_len != 0 || logs.left != 0) {
		err_set(err, errlen, "docker",
		        "GET %s: 200: log stream cut in the middle of a frame", path);
		goto out;
	}
	text = malloc(logs.t.len + 1);
	if (text == NULL) {
		err_set(err, errlen, "docker", "GET %s: out of memory", path);
		goto out;
	}
	n = tail_copy(&logs.t, text, logs.t.len + 1);
	*out = text;
	if (outlen != NULL)
		*outlen = n;
	result = 0;
out:
	tail_free(&logs.t);
	buf_free(&s.body);
	return result;
}

int
docker_container_file_tail(struct docker *d, const char *id, const char *file, size_t max_bytes,
                           char **out, char *err, size_t errlen)
{
	char path[DOCKER_PATH_MAX], query[DOCKER_PATH_MAX];
	struct docker_logs logs;
	struct docker_sink s;
	char *text = NULL;
	int result = -1;

	*out = NULL;
	memset(&logs, 0, sizeof(logs));
	memset(&s, 0, sizeof(s));
	logs.tar = 1;
	if (max_bytes > DOCKER_BODY_MAX)
		max_bytes = DOCKER_BODY_MAX;
	if (docker_path(d, path, sizeof(path), "/containers/", "container", id, "/archive", err,
	                errlen) != 0)
		return -1;
	if (docker_query(d, "path", file, query, sizeof(query)) != 0) {
		err_set(err, errlen, "docker", "GET %s: path %s cannot be sent", path, file);
		goto out;
	}
	if (tail_init(&logs.t, max_bytes) != 0) {
		err_set(err, errlen, "docker", "GET %s: out of memory for %zu bytes", path,
		        max_bytes);
		goto out;
	}
	s.logs = &logs;
	if (docker_call(d, "GET", path, query, NULL, 0, &s, err, errlen) != 0)
		goto out;
	if (s.status == 404) {
		err_set(err, errlen, "docker", "%s: no such file in container %s", file, id);
		result = 1;
		goto out;
	}
	if (s.status != 200) {
		docker_status_fail("GET", path, &s, err, errlen);
		goto out;
	}
	if (!logs.found) {
		err_set(err, errlen, "docker", "%s in container %s is not a regular file", file,
		        id);
		result = 1;
		goto out;
	}
	if ((text = malloc(logs.t.len + 1)) == NULL) {
		err_set(err, errlen, "docker", "GET %s: out of memory", path);
		goto out;
	}
	tail_copy(&logs.t, text, logs.t.len + 1);
	*out = text;
	result = 0;
out:
	tail_free(&logs.t);
	buf_free(&s.body);
	return result;
}

int
docker_container_wait_state(struct docker *d, const char *id, const char *const *states,
                            uint64_t timeout_ms, char state_out[17], char *err, size_t errlen)
{
	uint64_t end = clock_mono_ms() + timeout_ms;
	struct docker_container ct;

	for (;;) {
		int rc = docker_container_inspect(d, id, &ct, NULL, err, errlen);
		if (rc != 0) {
			if (rc == 1)
				err_set(err, errlen, "docker", "container %s disappeared", id);
			return -1;
		}
		if (state_out != NULL)
			snprintf(state_out, 17, "%s", ct.state);
		for (size_t i = 0; states[i] != NULL; i++)
			if (strcmp(states[i], ct.state) == 0)
				return 0;
		if (clock_mono_ms() >= end) {
			err_set(err, errlen, "docker", "container %s is %s, not %s, after %llu ms",
			        id, ct.state, states[0], (unsigned long long)timeout_ms);
			return 1;
		}
		struct timespec ts = {0, 100 * 1000000L};
		nanosleep(&ts, NULL);
	}
}
