/* sd_notify(3) for the daemons; see sdnotify.h. */
#include "common/sdnotify.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <systemd/sd-daemon.h>

#include "common/clock.h"
#include "common/log.h"

void
sdnotify_init(struct sdnotify *sn)
{
	uint64_t usec = 0;

	memset(sn, 0, sizeof(*sn));
	/* > 0 only when WATCHDOG_USEC is set and WATCHDOG_PID, if set, is us. */
	if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
		sn->watchdog_ms = usec / 2000;
		if (sn->watchdog_ms == 0)
			sn->watchdog_ms = 1;
		log_info("systemd watchdog: %llu ms, kept alive every %llu ms",
		         (unsigned long long)(usec / 1000), (unsigned long long)sn->watchdog_ms);
	}
}

static void
send_line(const char *what, const char *line)
{
	int rc = sd_notify(0, line);

	if (rc < 0)
		log_warn("sd_notify %s: %s", what, strerror(-rc));
}

/* Sends "what=1" and a new status line. */
static void
send_state(struct sdnotify *sn, const char *what, const char *fmt, va_list ap)
{
	char line[300];

	vsnprintf(sn->status, sizeof(sn->status), fmt, ap);
	snprintf(line, sizeof(line), "%s=1\nSTATUS=%s", what, sn->status);
	send_line(what, line);
}

void
sdnotify_ready(struct sdnotify *sn, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	send_state(sn, "READY", fmt, ap);
	va_end(ap);
	sn->next_status = clock_mono_ms() + 1000;
	sn->next_ping = 0; /* a first keep-alive at once */
}

void
sdnotify_status(struct sdnotify *sn, const char *fmt, ...)
{
	char text[sizeof(sn->status)], line[300];
	uint64_t now = clock_mono_ms();
	va_list ap;

	if (now < sn->next_status)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (strcmp(text, sn->status) == 0)
		return;
	memcpy(sn->status, text, sizeof(text));
	snprintf(line, sizeof(line), "STATUS=%s", text);
	send_line("STATUS", line);
	sn->next_status = now + 1000;
}

uint64_t
sdnotify_watchdog(struct sdnotify *sn)
{
	uint64_t now;

	if (sn->watchdog_ms == 0)
		return UINT64_MAX;
	now = clock_mono_ms();
	if (now >= sn->next_ping) {
		send_line("WATCHDOG", "WATCHDOG=1");
		sn->next_ping = now + sn->watchdog_ms;
	}
	return sn->next_ping - now;
}

void
sdnotify_stopping(struct sdnotify *sn, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	send_state(sn, "STOPPING", fmt, ap);
	va_end(ap);
}
