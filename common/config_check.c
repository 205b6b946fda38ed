/* Endpoints in configuration values (syntax) and the checks of what values
 * name on this host: hosts that resolve, usable directories, executables. */
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <netdb.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/config.h"
#include "common/config_impl.h"

/* ---- endpoints ---- */

int
config_parse_port(const char *s, unsigned *port)
{
	unsigned v = 0;
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9' || i == 5)
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (i == 0 || v < 1 || v > 65535)
		return -1;
	*port = v;
	return 0;
}

/* Splits a "tcp://HOST:PORT" (HOST may be "[IPv6]") into host and port.
 * Returns NULL, or what is wrong. */
static const char *
config_tcp_split(const char *s, unsigned flags, char *host, size_t hostlen, char *port,
                 size_t portlen)
{
	const char *h = s + 6, *colon, *p, *end;
	unsigned v = 0;
	size_t n;

	/* ZeroMQ's "tcp://SOURCE;HOST:PORT" for a connect: HOST is the peer. */
	if (!(flags & CONFIG_ENDPOINT_BIND) && (p = strchr(h, ';')) != NULL)
		h = p + 1;
	if (*h == '[') {
		end = strchr(h, ']');
		if (end == NULL || end[1] != ':')
			return "an IPv6 address needs brackets and a port: tcp://[::1]:7701";
		colon = end + 1;
		h++;
	} else {
		colon = strrchr(h, ':');
		if (colon == NULL)
			return "no port";
		end = colon;
	}
	n = (size_t)(end - h);
	if (n == 0 || n >= hostlen)
		return "no host";
	for (p = h; p < end; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || *p == '/')
			return "blanks, '/' or non-ASCII bytes in the host";
	memcpy(host, h, n);
	host[n] = '\0';
	if (strcmp(colon + 1, "*") == 0 && (flags & CONFIG_ENDPOINT_BIND)) {
		snprintf(port, portlen, "0");
		return NULL;
	}
	if (config_parse_port(colon + 1, &v) != 0)
		return "the port is not a number from 1 to 65535";
	snprintf(port, portlen, "%u", v);
	return NULL;
}

int
config_get_endpoint(const struct config *c, const char *section, const char *key, const char *def,
                    unsigned flags, const char **out, char *err, size_t errlen)
{
	const struct config_entry *e = config_find(c, section, key);
	struct sockaddr_un sun;
	char host[256], port[8], shown[300];
	const char *why = NULL;

	if (e == NULL) {
		*out = def;
		return 1;
	}
	if (strncmp(e->value, "tcp://", 6) == 0) {
		why = config_tcp_split(e->value, flags, host, sizeof(host), port, sizeof(port));
	} else if (strncmp(e->value, "ipc://", 6) == 0 && !(flags & CONFIG_ENDPOINT_TCP)) {
		if (e->value[6] == '\0')
			why = "no path";
		else if (strlen(e->value + 6) >= sizeof(sun.sun_path))
			why = "the path is longer than a unix socket path may be";
	} else {
		why = "";
	}
	if (why != NULL) {
		config_quote(e->value, shown, sizeof(shown));
		config_fail(c, section, key, e->line, err, errlen, "expected %s%s%s, got '%s'",
		            flags & CONFIG_ENDPOINT_TCP ? "tcp://HOST:PORT"
		                                        : "tcp://HOST:PORT or ipc://PATH",
		            *why ? ": " : "", why, shown);
		return -1;
	}
	*out = e->value;
	return 0;
}

/* ---- what values name: files, directories, hosts ---- */

/* The name of the user these checks run as, for messages. */
static void
config_user(char *out, size_t outlen)
{
	struct passwd pw, *res = NULL;
	char buf[2048];

	if (getpwuid_r(geteuid(), &pw, buf, sizeof(buf), &res) == 0 && res != NULL)
		snprintf(out, outlen, "user %s", res->pw_name);
	else
		snprintf(out, outlen, "uid %u", (unsigned)geteuid());
}

int
config_check_endpoint(const struct config *c, const char *section, const char *key,
                      const char *endpoint, unsigned flags)
{
	struct addrinfo hints, *res = NULL;
	char host[256], port[8];
	int rc;

	if (strncmp(endpoint, "tcp://", 6) != 0 ||
	    config_tcp_split(endpoint, flags, host, sizeof(host), port, sizeof(port)) != NULL)
		return 0; /* ipc://, or a syntax the getter has reported */
	if ((flags & CONFIG_ENDPOINT_BIND) && strcmp(host, "*") == 0)
		return 0;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = (flags & CONFIG_ENDPOINT_BIND) ? AI_PASSIVE : 0;
	rc = getaddrinfo(host, port, &hints, &res);
	if (res != NULL)
		freeaddrinfo(res);
	/* ZeroMQ binds to an interface by its name too ("tcp://eth0:7701"). */
	if (rc == 0 || ((flags & CONFIG_ENDPOINT_BIND) && if_nametoindex(host) != 0))
		return 0;
	/* A resolver that cannot answer now (no network yet at boot) says
	 * nothing about the name: only a definite "no such host" is a problem,
	 * since a problem stops the daemon for good (exit status 2). */
	if (rc == EAI_AGAIN)
		return 0;
	config_problem(c, section, key, "%s: cannot resolve '%s': %s%s", endpoint, host,
	               rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc),
	               (flags & CONFIG_ENDPOINT_BIND) ? " (nor is it a network interface)" : "");
	return -1;
}

/* Can the user running this create entries in directory path? */
static int
config_dir_usable(const struct config *c, const char *section, const char *key, const char *what,
                  const char *path)
{
	struct stat st;
	char user[96];

	if (stat(path, &st) != 0) {
		config_problem(c, section, key, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		config_problem(c, section, key, "%s%s: not a directory", what, path);
		return -1;
	}
	if (access(path, W_OK | X_OK) != 0) {
		config_user(user, sizeof(user));
		config_problem(c, section, key, "%s%s: not writable by %s (%s)", what, path, user,
		               strerror(errno));
		return -1;
	}
	return 0;
}

int
config_check_dir(const struct config *c, const char *section, const char *key, const char *path,
                 unsigned flags)
{
	char parent[PATH_MAX], what[PATH_MAX + 64];
	struct stat st;
	char *slash;

	/* ENOTDIR: a file where a parent should be, reported at that parent. */
	if (stat(path, &st) == 0 || (errno != ENOENT && errno != ENOTDIR))
		return config_dir_usable(c, section, key, "", path);
	if (strlen(path) >= sizeof(parent)) {
		config_problem(c, section, key, "%s: path too long", path);
		return -1;
	}
	/* Missing: it is made at start, so what matters is its parent (or, when
	 * the daemon makes the whole chain, the nearest ancestor that exists). */
	snprintf(parent, sizeof(parent), "%s", path);
	for (;;) {
		slash = strrchr(parent, '/');
		if (slash == NULL)
			return 0;
		if (slash == parent)
			slash[1] = '\0';
		else
			*slash = '\0';
		if (stat(parent, &st) == 0 || (errno != ENOENT && errno != ENOTDIR) ||
		    !(flags & CONFIG_DIR_PARENTS) || strcmp(parent, "/") == 0)
			break;
	}
	if (!(flags & CONFIG_DIR_PARENTS) && stat(parent, &st) != 0 && errno == ENOENT) {
		config_problem(c, section, key,
		               "%s: cannot be created: its parent %s does not exist", path, parent);
		return -1;
	}
	snprintf(what, sizeof(what), "%s: cannot be created: ", path);
	return config_dir_usable(c, section, key, what, parent);
}

int
config_check_exec(const struct config *c, const char *section, const char *key, const char *path)
{
	struct stat st;
	char user[96];

	if (stat(path, &st) != 0) {
		config_problem(c, section, key, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		config_problem(c, section, key, "%s: not a regular file", path);
		return -1;
	}
	if (access(path, X_OK) != 0) {
		config_user(user, sizeof(user));
		config_problem(c, section, key, "%s: not executable by %s (mode %04o)", path, user,
		               (unsigned)(st.st_mode & 07777));
		return -1;
	}
	return 0;
}
