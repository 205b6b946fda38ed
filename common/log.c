/* Logging: timestamped single-line events on stderr, or syslog; see log.h. */
#include "common/log.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

/* Longer than a line so that truncation by vsnprintf is noticed. */
#define LOG_MSG_MAX (2 * LOG_LINE_MAX)

/* openlog() keeps the ident pointer, so the name must live in static storage. */
static char log_ident[64] = "odc";
static atomic_int log_min = LOG_LVL_INFO;
static int log_syslog;

void
log_init(const char *ident, enum log_level min, int use_syslog)
{
	size_t n;

	if (ident != NULL && ident[0] != '\0') {
		n = strnlen(ident, sizeof(log_ident) - 1);
		memcpy(log_ident, ident, n);
		log_ident[n] = '\0';
	}
	atomic_store(&log_min, (int)min);
	if (log_syslog)
		closelog();
	log_syslog = use_syslog != 0;
	if (log_syslog)
		openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_set_level(enum log_level min)
{
	atomic_store(&log_min, (int)min);
}

int
log_level_parse(const char *s, enum log_level *out)
{
	static const struct {
		const char *name;
		enum log_level lvl;
	} names[] = {
	    {"debug", LOG_LVL_DEBUG},
	    {"info", LOG_LVL_INFO},
	    {"warn", LOG_LVL_WARN},
	    {"error", LOG_LVL_ERR},
	};
	size_t i;

	if (s == NULL)
		return -1;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcasecmp(s, names[i].name) == 0) {
			*out = names[i].lvl;
			return 0;
		}
	}
	return -1;
}

const char *
log_level_name(enum log_level lvl)
{
	switch (lvl) {
	case LOG_LVL_DEBUG:
		return "DEBUG";
	case LOG_LVL_INFO:
		return "INFO";
	case LOG_LVL_WARN:
		return "WARN";
	case LOG_LVL_ERR:
		return "ERROR";
	}
	return "?";
}

/* Writes the escaped form of byte c into piece (at least 5 bytes) and returns
 * its length, so that one event can never become two lines. */
static size_t
log_escape_byte(unsigned char c, char *piece)
{
	static const char digits[] = "0123456789abcdef";

	switch (c) {
	case '\n':
		memcpy(piece, "\\n", 2);
		return 2;
	case '\r':
		memcpy(piece, "\\r", 2);
		return 2;
	case '\t':
		memcpy(piece, "\\t", 2);
		return 2;
	default:
		break;
	}
	if (c < 0x20 || c == 0x7f) {
		piece[0] = '\\';
		piece[1] = 'x';
		piece[2] = digits[c >> 4];
		piece[3] = digits[c & 0x0f];
		return 4;
	}
	piece[0] = (char)c;
	return 1;
}

/* Escapes msg into out (room for cap bytes, no NUL written) and returns the
 * length. When the escaped text is longer than cap, or the message was already
 * cut (cut != 0), it is shortened on an escape boundary and ends in "...". */
static size_t
log_escape(const char *msg, size_t len, int cut, char *out, size_t cap)
{
	char piece[8];
	size_t i, n, total = 0, pos = 0, budget;

	for (i = 0; i < len && total <= cap; i++)
		total += log_escape_byte((unsigned char)msg[i], piece);
	if (cap < 3)
		return 0;
	budget = (total > cap || cut) ? cap - 3 : cap;
	for (i = 0; i < len; i++) {
		n = log_escape_byte((unsigned char)msg[i], piece);
		if (pos + n > budget)
			break;
		memcpy(out + pos, piece, n);
		pos += n;
	}
	if (total > cap || cut) {
		memcpy(out + pos, "...", 3);
		pos += 3;
	}
	return pos;
}

static int
log_syslog_priority(enum log_level lvl)
{
	switch (lvl) {
	case LOG_LVL_DEBUG:
		return LOG_DEBUG;
	case LOG_LVL_INFO:
		return LOG_INFO;
	case LOG_LVL_WARN:
		return LOG_WARNING;
	case LOG_LVL_ERR:
		return LOG_ERR;
	}
	return LOG_ERR;
}

/* Loops over short writes; a logger has nowhere to report its own failure. */
static void
log_write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

void
log_vmsg(enum log_level lvl, const char *fmt, va_list ap)
{
	char msg[LOG_MSG_MAX];
	char line[LOG_LINE_MAX];
	struct timespec ts;
	struct tm tm;
	size_t mlen, pos;
	int saved = errno, n, cut = 0;

	if ((int)lvl < atomic_load(&log_min))
		goto out;
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n < 0) {
		mlen = 0;
		cut = 1;
	} else if ((size_t)n >= sizeof(msg)) {
		mlen = sizeof(msg) - 1;
		cut = 1;
	} else {
		mlen = (size_t)n;
	}

	if (log_syslog) {
		pos = log_escape(msg, mlen, cut, line, sizeof(line) - 1);
		line[pos] = '\0';
		syslog(log_syslog_priority(lvl), "%s", line);
		goto out;
	}

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	pos = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line + pos, sizeof(line) - pos, ".%03ldZ %s[%ld] %s ", ts.tv_nsec / 1000000L,
	             log_ident, (long)getpid(), log_level_name(lvl));
	if (n < 0 || (size_t)n >= sizeof(line) - pos)
		goto out;
	pos += (size_t)n;
	/* Room for the message is what is left after the prefix and the newline. */
	pos += log_escape(msg, mlen, cut, line + pos, sizeof(line) - pos - 1);
	line[pos++] = '\n';
	log_write_all(STDERR_FILENO, line, pos);
out:
	errno = saved;
}

void
log_msg(enum log_level lvl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(lvl, fmt, ap);
	va_end(ap);
}

/* Output state for log_redact_argv: text beyond the room is counted, not kept. */
struct log_out {
	char *p;
	size_t cap;
	size_t pos;
	int over;
};

static void
log_out_put(struct log_out *o, const char *s, size_t n)
{
	size_t room = o->cap - 1 - o->pos;

	if (n > room) {
		memcpy(o->p + o->pos, s, room);
		o->pos += room;
		o->over = 1;
		return;
	}
	memcpy(o->p + o->pos, s, n);
	o->pos += n;
}

static void
log_out_str(struct log_out *o, const char *s)
{
	log_out_put(o, s, strlen(s));
}

static int
log_arg_plain(const char *a)
{
	const unsigned char *s = (const unsigned char *)a;

	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++) {
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || strchr("_@%+=:,./-", *s) != NULL)
			continue;
		return 0;
	}
	return 1;
}

/* Shows one argument the way a shell user would type it (single quotes). */
static void
log_out_arg(struct log_out *o, const char *a)
{
	char piece[8];
	size_t n;

	if (log_arg_plain(a)) {
		log_out_str(o, a);
		return;
	}
	log_out_put(o, "'", 1);
	for (; *a != '\0'; a++) {
		if (*a == '\'') {
			log_out_put(o, "'\\''", 4);
			continue;
		}
		n = log_escape_byte((unsigned char)*a, piece);
		log_out_put(o, piece, n);
	}
	log_out_put(o, "'", 1);
}

/* Returns the secret option that arg carries its value in ("--opt=VALUE" or,
 * for one-letter options, "-oVALUE"), setting *sep to the text that goes
 * between option and mask; NULL when arg is not such a form. */
static const char *
log_secret_attached(const char *arg, const char *const *secret_opts, const char **sep)
{
	size_t i, n;

	for (i = 0; secret_opts[i] != NULL; i++) {
		n = strlen(secret_opts[i]);
		if (n == 0 || strncmp(arg, secret_opts[i], n) != 0)
			continue;
		if (arg[n] == '=') {
			*sep = "=";
			return secret_opts[i];
		}
		if (n == 2 && secret_opts[i][0] == '-' && secret_opts[i][1] != '-' &&
		    arg[n] != '\0') {
			*sep = "";
			return secret_opts[i];
		}
	}
	return NULL;
}

static int
log_secret_exact(const char *arg, const char *const *secret_opts)
{
	size_t i;

	for (i = 0; secret_opts[i] != NULL; i++) {
		if (strcmp(arg, secret_opts[i]) == 0)
			return 1;
	}
	return 0;
}

void
log_redact_argv(const char *const *argv, const char *const *secret_opts, char *out, size_t outlen)
{
	static const char *const none[] = {NULL};
	struct log_out o = {out, outlen, 0, 0};
	const char *opt, *sep;
	int mask_next = 0;
	size_t i;

	if (outlen == 0)
		return;
	if (secret_opts == NULL)
		secret_opts = none;
	for (i = 0; argv != NULL && argv[i] != NULL && !o.over; i++) {
		if (i > 0)
			log_out_put(&o, " ", 1);
		if (mask_next) {
			log_out_str(&o, "******");
			mask_next = 0;
		} else if (log_secret_exact(argv[i], secret_opts)) {
			log_out_arg(&o, argv[i]);
			mask_next = 1;
		} else if ((opt = log_secret_attached(argv[i], secret_opts, &sep)) != NULL) {
			log_out_arg(&o, opt);
			log_out_str(&o, sep);
			log_out_str(&o, "******");
		} else {
			log_out_arg(&o, argv[i]);
		}
	}
	if (o.over) {
		/* Cutting is safe anywhere: only masks, never secrets, were written. */
		if (o.pos >= 3)
			memcpy(out + o.pos - 3, "...", 3);
	}
	out[o.pos] = '\0';
}
