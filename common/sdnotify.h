/* systemd's service notifications (sd_notify(3)) for the daemons: readiness,
 * a status line, the watchdog keep-alive and stopping. Every call is a no-op
 * when the process was not started by systemd with NOTIFY_SOCKET (a daemon
 * run by hand, or by a unit with Type=exec), so the daemons call them
 * unconditionally. Only the event loop's thread calls them: a watchdog kept
 * alive by another thread would hide a stuck loop. */
#ifndef ODC_COMMON_SDNOTIFY_H
#define ODC_COMMON_SDNOTIFY_H

#include <stdint.h>

struct sdnotify {
	uint64_t watchdog_ms; /* ping interval: half of WATCHDOG_USEC; 0 = no watchdog */
	uint64_t next_ping;   /* clock_mono_ms() of the next WATCHDOG=1 */
	uint64_t next_status; /* status lines are rate-limited to one a second */
	char status[256];     /* the last STATUS= sent */
};

/* Reads WATCHDOG_USEC/WATCHDOG_PID (sd_watchdog_enabled(3)) and logs the
 * watchdog interval when there is one. */
void sdnotify_init(struct sdnotify *sn);
/* READY=1 with a first status line. */
void sdnotify_ready(struct sdnotify *sn, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* STATUS=..., sent only when the text changed and at most once a second
 * (a changed text waits for the next call after that second). */
void sdnotify_status(struct sdnotify *sn, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Sends WATCHDOG=1 when it is due. Returns the milliseconds until the next
 * one is due (UINT64_MAX without a watchdog), to bound a poll timeout. */
uint64_t sdnotify_watchdog(struct sdnotify *sn);
/* STOPPING=1 with a status line. */
void sdnotify_stopping(struct sdnotify *sn, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
