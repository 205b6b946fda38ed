/* Error messages into a caller's buffer (see err.h). */
#include "common/err.h"

#include <stdio.h>

void
err_vset(char *err, size_t errlen, const char *prefix, const char *fmt, va_list ap)
{
	int n = 0;

	if (err == NULL || errlen == 0)
		return;
	if (prefix != NULL) {
		n = snprintf(err, errlen, "%s: ", prefix);
		if (n < 0)
			n = 0;
		/* The prefix alone filled err: there is no room for the message. */
		if ((size_t)n >= errlen)
			return;
	}
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
}

void
err_set(char *err, size_t errlen, const char *prefix, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_vset(err, errlen, prefix, fmt, ap);
	va_end(ap);
}
