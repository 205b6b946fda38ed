/* Docker Engine API v1.41 over the engine's unix socket, through libcurl.
 * Every response body is bounded; every failure says the method, the path,
 * the HTTP status and Docker's own message. The client and its transport
 * are in docker_http.c, the streamed bodies' decoders in docker_stream.c,
 * the operations below in docker.c (docker_int.h joins them). */
#ifndef ODC_AGENT_DOCKER_H
#define ODC_AGENT_DOCKER_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define DOCKER_API      "v1.41"
#define DOCKER_BODY_MAX (8u << 20) /* largest response body read */
/* The request timeout when docker_new() is given 0. */
#define DOCKER_TIMEOUT_DEFAULT_MS 30000u
/* Longest id, name or image reference accepted as an argument. */
#define DOCKER_ARG_MAX 512

struct docker;

/* A client for the engine at socket_path (e.g. /var/run/docker.sock).
 * timeout_ms bounds each request (not stop, which adds its own timeout);
 * 0 means DOCKER_TIMEOUT_DEFAULT_MS. Nothing is connected yet: a missing
 * engine shows at the first request, with the socket path in the message.
 * Returns NULL with a message in err (a path longer than a unix socket
 * address holds is one). Free with docker_free() (NULL is fine).
 *
 * A client holds one libcurl handle, reused (and its connection kept) from
 * request to request: it is not thread-safe; use one per thread.
 *
 * Every function below returns -1 with a message in err on failure, e.g.
 * "docker: POST /containers/obodc/stop: 404 No such container: obodc", or
 * "docker: GET /_ping: cannot connect to the engine at /run/x.sock: ...".
 * Where a function returns 1 for "no such ...", err holds Docker's message
 * too. Ids, names and image references are URL-escaped; an empty one, one
 * with control characters, a "." or ".." segment, a '/' in a container id
 * or name, or one longer than DOCKER_ARG_MAX is refused before any request
 * (the engine decodes and cleans paths, so escaping alone would not keep
 * "../x" in its place). */
struct docker *docker_new(const char *socket_path, uint64_t timeout_ms, char *err, size_t errlen);
void docker_free(struct docker *d);

/* GET /_ping. 0 when the engine answers, -1 otherwise. */
int docker_ping(struct docker *d, char *err, size_t errlen);

/* The summary of one container, from inspect. A value too long for its
 * field is an error, never cut. */
struct docker_container {
	char id[65];
	char name[129];    /* without the leading '/' */
	char image[257];   /* Config.Image, as the user named it */
	char image_id[72]; /* "sha256:..." */
	char state[17];    /* State.Status: created, running, exited, ... */
	char started_at[40];
	int exit_code;
};

/* Inspect a container by id or name. Returns 0 and fills *out (and *raw,
 * a new reference the caller releases, when raw is not NULL), 1 when there
 * is no such container, -1 on error. */
int docker_container_inspect(struct docker *d, const char *id_or_name, struct docker_container *out,
                             json_t **raw, char *err, size_t errlen);

/* Every container, running or not (GET /containers/json?all=1): a new JSON
 * array reference in *out. 0 or -1. */
int docker_container_list(struct docker *d, json_t **out, char *err, size_t errlen);

/* Inspect an image by reference or id: 0 (and *raw when not NULL), 1 when
 * the engine does not have it, -1 on error. */
int docker_image_inspect(struct docker *d, const char *ref, json_t **raw, char *err, size_t errlen);

/* POST /containers/{id}/stop?t=timeout_s. Already stopped (304) is success. */
int docker_container_stop(struct docker *d, const char *id, unsigned timeout_s, char *err,
                          size_t errlen);

/* POST /containers/{id}/start. Already running (304) is success. */
int docker_container_start(struct docker *d, const char *id, char *err, size_t errlen);

/* POST /containers/{id}/rename?name=new_name. */
int docker_container_rename(struct docker *d, const char *id, const char *new_name, char *err,
                            size_t errlen);

/* DELETE /containers/{id}, not forced: the engine refuses a running
 * container (409) and keeps its volumes. 0 removed, 1 no such container,
 * -1 on error. */
int docker_container_remove(struct docker *d, const char *id, char *err, size_t errlen);

/* POST /containers/create?name=name with body (a Docker create body, see
 * spec.h). The new id goes to id_out. A name already in use is an error
 * that says so (409). name NULL lets Docker choose one. */
int docker_container_create(struct docker *d, const char *name, json_t *body, char id_out[65],
                            char *err, size_t errlen);

/* The last tail_lines lines of stdout and stderr, demultiplexed, at most
 * max_bytes (the newest bytes win). *out is malloc'd and NUL-terminated.
 * tail_lines 0 means all lines; max_bytes is capped at DOCKER_BODY_MAX.
 * The container is inspected first: without a TTY the stream is Docker's
 * multiplexed one (8-byte frame headers, removed here), with one it is raw.
 * A malformed or cut frame is an error. *outlen may be NULL. */
int docker_container_logs(struct docker *d, const char *id, unsigned tail_lines, size_t max_bytes,
                          char **out, size_t *outlen, char *err, size_t errlen);

/* The newest max_bytes (at most DOCKER_BODY_MAX) of file in the container's
 * file system, its mounts included, through the archive API (a tar stream,
 * read as it comes: a large log costs no memory), which works on a stopped
 * container too. *out is malloc'd and NUL-terminated. Returns 0, 1 when the
 * file does not exist (or is not a regular file), -1 on error. */
int docker_container_file_tail(struct docker *d, const char *id, const char *file, size_t max_bytes,
                               char **out, char *err, size_t errlen);

/* Milliseconds this client has spent waiting inside requests (for the
 * agent's own-overhead figures). NULL gives 0. */
uint64_t docker_waited_ms(const struct docker *d);

/* Poll inspect (every 100 ms) until the container's State.Status is one of
 * states (NULL-terminated, e.g. {"exited", "created", NULL}) or timeout_ms
 * passes. Returns 0 when reached, 1 at the timeout (err says the state it
 * is in), -1 on error or when the container disappeared. state_out, when
 * not NULL, receives the last state seen. */
int docker_container_wait_state(struct docker *d, const char *id, const char *const *states,
                                uint64_t timeout_ms, char state_out[17], char *err, size_t errlen);

#endif
