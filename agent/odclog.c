/* ODC's own log as a failed health gate reports it (odclog.h). */
#include <stdio.h>
#include <string.h>

#include "agent/odclog.h"

/* Where the last n bytes of text begin, moved on to a line's start (the
 * line cut by n is left out, unless it is the only one). */
static const char *
text_end(const char *text, size_t n)
{
	size_t len = strlen(text);
	const char *p = len > n ? text + len - n : text, *nl;

	if (p > text && p[-1] != '\n' && (nl = strchr(p, '\n')) != NULL && nl[1] != '\0')
		p = nl + 1;
	return p;
}

/* The last line with ERROR in it that ends at or before *end (a position
 * in text): its start and length (without its newline), and *end moved
 * before it for the next call. false when there is none. */
static bool
error_line_before(const char *text, const char **end, const char **start_out, size_t *len_out)
{
	const char *e = *end;

	while (e > text) {
		const char *start = e;
		while (start > text && start[-1] != '\n')
			start--;
		size_t len = (size_t)(e - start);
		const char *next = start > text ? start - 1 : text;
		if (len > 0 && memmem(start, len, "ERROR", 5) != NULL) {
			*start_out = start;
			*len_out = len;
			*end = next;
			return true;
		}
		e = next;
	}
	*end = text;
	return false;
}

/* What an ERROR line says, without the time and process id that differ
 * from one run of a crash-looping ODC to the next: from log4j2's " --- "
 * on (ODC's pattern), else from "ERROR". */
static const char *
error_words(const char *line, size_t len, size_t *words_len)
{
	const char *p = memmem(line, len, " --- ", 5);

	if (p == NULL)
		p = memmem(line, len, "ERROR", 5);
	*words_len = len - (size_t)(p - line);
	return p;
}

bool
odclog_errors(const char *log, char *out, size_t outlen)
{
	const char *found[3], *line, *end = log + strlen(log);
	size_t lens[3], n = 0, len;

	while (n < 3 && error_line_before(log, &end, &line, &len)) {
		size_t wl, fl;
		const char *w = error_words(line, len, &wl);
		bool seen = false;
		for (size_t i = 0; i < n && !seen; i++) {
			const char *f = error_words(found[i], lens[i], &fl);
			seen = fl == wl && memcmp(f, w, wl) == 0;
		}
		if (!seen) {
			found[n] = line;
			lens[n++] = len;
		}
	}
	out[0] = '\0';
	for (size_t i = n; i > 0; i--) {
		size_t used = strlen(out);
		snprintf(out + used, outlen - used, "%s%.*s", i < n ? " | " : "", (int)lens[i - 1],
		         found[i - 1]);
	}
	return n > 0;
}

void
odclog_report(const char *supervisor, const char *path, const char *log, char *tail, size_t taillen)
{
	char earlier[ODCLOG_ERROR_SHOWN + 256] = "";
	const char *shown = log != NULL ? text_end(log, ODCLOG_END_SHOWN) : NULL, *err_at,
	           *end = log != NULL ? log + strlen(log) : NULL;
	size_t err_len;

	/* The ERROR that ended the last run, when ODC went on logging past the
	 * end shown (restarted and booting again): it and what followed it
	 * (a stack trace's head says why), cut at a line's end. */
	if (log != NULL && error_line_before(log, &end, &err_at, &err_len) && err_at < shown) {
		size_t n =
		    strlen(err_at) < ODCLOG_ERROR_SHOWN ? strlen(err_at) : ODCLOG_ERROR_SHOWN;
		while (n > err_len && err_at[n - 1] != '\n')
			n--;
		if (n < err_len)
			n = err_len;
		snprintf(earlier, sizeof(earlier),
		         "--- %s, its last ERROR and what followed (it went on after) ---\n%.*s%s",
		         path, (int)n, err_at, err_at[n - 1] == '\n' ? "" : "\n");
	}
	snprintf(tail, taillen,
	         "--- docker logs (the supervisor) ---\n%s\n%s--- %s, its end ---\n%s",
	         supervisor != NULL ? supervisor : "(cannot be read)", earlier, path,
	         shown != NULL ? shown : "(cannot be read)");
}
