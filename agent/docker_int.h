/* The Docker client's internals, shared by its three files and by nobody
 * else: docker_http.c (the client object and one HTTP request over the
 * engine's unix socket), docker_stream.c (decoding streamed bodies: the
 * multiplexed log stream, the archive API's tar) and docker.c (the Engine
 * API operations and the parsing of their answers). */
#ifndef ODC_AGENT_DOCKER_INT_H
#define ODC_AGENT_DOCKER_INT_H

#include "agent/docker.h"
#include "common/buf.h"
#include "common/err.h"

#include <curl/curl.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

/* A request path with its query, escaped. */
#define DOCKER_PATH_MAX (4 * DOCKER_ARG_MAX)
/* How much of Docker's message goes into an error. */
#define DOCKER_MSG_MAX 400
/* The multiplexed log stream's frame header: stream, 0, 0, 0, size (BE32). */
#define DOCKER_FRAME_HDR 8

struct docker {
	CURL *curl;
	struct curl_slist *hdr_json; /* a JSON body follows */
	struct curl_slist *hdr_none; /* no body */
	uint64_t timeout_ms;
	uint64_t waited_ms; /* time spent inside requests, for the overhead figures */
	char sock[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char curl_err[CURL_ERROR_SIZE];
};

/* Demultiplexes Docker's log stream into a ring of the newest bytes; or,
 * with tar set, keeps the newest bytes of the first regular file of a tar
 * stream (the archive API's answer). */
struct docker_logs {
	int raw; /* a TTY: no frames */
	struct tail t;
	uint8_t hdr[DOCKER_FRAME_HDR];
	size_t hdr_len;
	uint32_t left; /* payload bytes still due in the current frame */
	int bad;
	/* tar */
	int tar;
	uint8_t block[512];
	size_t block_len;
	uint64_t content_left, skip; /* the file's bytes still due; bytes to pass over */
	int in_content, tar_done, found;
};

/* Where one response goes. */
struct docker_sink {
	CURL *curl;
	struct buf body;
	int toobig;
	int oom;
	struct docker_logs *logs; /* a 2xx body goes here instead, when set */
	long status;
};

/* Feeds n bytes of a 2xx streamed body into l (a log stream, or a tar
 * stream when l->tar is set). Returns 0, or -1 on a malformed frame header
 * of a log stream. docker_stream.c. */
int docker_stream_push(struct docker_logs *l, const uint8_t *p, size_t n);

/*
 * One HTTP request to the engine. path starts with '/' and is already
 * escaped; query (without '?') may be NULL; body, when not NULL, is sent as
 * JSON; extra_ms is added to the client's timeout. s->logs, when set,
 * receives a 2xx body instead of s->body. Returns 0 with the status and
 * body in *s (the caller frees s->body), whatever the status; -1 with a
 * message when no complete response came (s->body is then freed).
 */
int docker_call(struct docker *d, const char *method, const char *path, const char *query,
                json_t *body, uint64_t extra_ms, struct docker_sink *s, char *err, size_t errlen);

/* The error for a response with an unexpected status: Docker's "message",
 * else the start of the body. */
void docker_status_fail(const char *method, const char *path, const struct docker_sink *s,
                        char *err, size_t errlen);

/* Parses a 2xx body as JSON: a new reference the caller releases, or NULL
 * with a message when it is not JSON. */
json_t *docker_json(const char *method, const char *path, const struct docker_sink *s, char *err,
                    size_t errlen);

/* Escapes one id, name or image reference (what names it in messages) into
 * out; slash_ok allows '/' (image references). 0, or -1 with a message
 * (see docker.h for what is refused). */
int docker_escape(struct docker *d, const char *what, const char *in, int slash_ok, char *out,
                  size_t outlen, char *err, size_t errlen);

/* Formats "key=<value, URL-escaped>" into out, value taken as it is (a
 * path in a container may hold anything the engine accepts). 0, or -1 when
 * out of memory or when it does not fit. */
int docker_query(struct docker *d, const char *key, const char *value, char *out, size_t outlen);

/* Builds "<prefix><escaped arg><suffix>" into out. 0 or -1 with a message. */
int docker_path(struct docker *d, char *out, size_t outlen, const char *prefix, const char *what,
                const char *arg, const char *suffix, char *err, size_t errlen);

/* Runs a request with a body-less answer expected: 0 for a status in ok1 or
 * ok2, -1 otherwise. */
int docker_simple(struct docker *d, const char *method, const char *path, const char *query,
                  uint64_t extra_ms, long ok1, long ok2, char *err, size_t errlen);

/* GETs path and parses the JSON answer into *out (a new reference the
 * caller releases). Returns 0, 1 when the engine says 404 (err holds its
 * message), -1 on error. */
int docker_get_json(struct docker *d, const char *path, const char *query, json_t **out, char *err,
                    size_t errlen);

#endif
