/* Error messages into a caller's buffer: the one way a module writes
 * "prefix: message" into (err, errlen). */
#ifndef ODC_COMMON_ERR_H
#define ODC_COMMON_ERR_H

#include <stdarg.h>
#include <stddef.h>

/* Writes "prefix: message" (just the message when prefix is NULL) into
 * err[errlen], cut to fit and always NUL-terminated; does nothing when err is
 * NULL or errlen 0. The arguments must not point into err. */
void err_set(char *err, size_t errlen, const char *prefix, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* err_set() with a va_list, for wrappers that add their own prefix (a
 * location, say). ap is consumed. */
void err_vset(char *err, size_t errlen, const char *prefix, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

#endif
