/* Logging for the daemons and the CLI: one event per line on stderr or syslog,
 * control characters escaped, lines bounded, and a helper to show argv safely. */
#ifndef ODC_COMMON_LOG_H
#define ODC_COMMON_LOG_H

#include <stdarg.h>
#include <stddef.h>

enum log_level {
	LOG_LVL_DEBUG,
	LOG_LVL_INFO,
	LOG_LVL_WARN,
	LOG_LVL_ERR,
};

/* Longest line written to stderr, newline included; longer events end in "...". */
#define LOG_LINE_MAX 2048

/* Sets the program name shown on each line (copied; at most 63 bytes kept), the
 * lowest level that is written, and whether events go to syslog (facility
 * LOG_DAEMON) instead of stderr. Until it is called, ident is "odc", the level is
 * info and events go to stderr. Call it before starting threads. */
void log_init(const char *ident, enum log_level min, int use_syslog);

/* Changes the lowest level written (for instance on SIGHUP). */
void log_set_level(enum log_level min);

/* Parses "debug", "info", "warn" or "error" (case-insensitive). Returns 0, or
 * -1 with *out untouched. */
int log_level_parse(const char *s, enum log_level *out);

/* "DEBUG", "INFO", "WARN" or "ERROR"; a static string. */
const char *log_level_name(enum log_level lvl);

/* Writes one event. Safe from several threads: each line is one write(2).
 * errno is preserved, so a caller may log and then inspect errno. */
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level lvl, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_err(...)   log_msg(LOG_LVL_ERR, __VA_ARGS__)

/* Renders argv (NULL-terminated) as one display string in out, for logs and
 * results. Arguments that are empty or hold anything but [A-Za-z0-9_@%+=:,./-]
 * are single-quoted; control bytes are shown escaped (\n, \xNN). The value of every option
 * named in secret_opts (NULL-terminated, may be NULL) is shown as ******, in each
 * of the forms "-p VALUE", "--password=VALUE" and, for one-letter options,
 * "-pVALUE". The secret never reaches out, even partly. When out is too small the
 * text is cut and ends with "..."; argv may be NULL (out becomes ""). */
void log_redact_argv(const char *const *argv, const char *const *secret_opts, char *out,
                     size_t outlen);

#endif
