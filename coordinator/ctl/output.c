/* odcctl's output: aligned tables, ages and times, JSON, the progress bar and
 * the job header. Everything from the coordinator is cleaned of control
 * characters before it reaches the terminal. */
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "coordinator/ctl/ctl.h"

struct out_table {
	size_t ncols;
	size_t nrows; /* rows[0] is the header */
	size_t cap;
	char **cells; /* nrows * ncols, row-major */
	bool failed;
};

char *
out_clean(const char *in, char *out, size_t outlen)
{
	size_t n = 0, len = in != NULL ? strlen(in) : 0;

	if (outlen == 0)
		return out;
	for (size_t i = 0; i < len && n + 1 < outlen; i++) {
		unsigned char ch = (unsigned char)in[i];
		if (ch == '\n' || ch == '\t' || ch == '\r')
			out[n++] = ' ';
		else if (ch < 0x20 || ch == 0x7f)
			out[n++] = '?';
		else
			out[n++] = (char)ch;
	}
	out[n] = '\0';
	if (n < len && outlen >= 4) {
		/* Cut at a UTF-8 boundary, then mark the cut. */
		size_t end = outlen - 4;
		while (end > 0 && ((unsigned char)out[end] & 0xc0) == 0x80)
			end--;
		memcpy(out + end, "...", 4);
	}
	return out;
}

size_t
out_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

struct out_table *
out_table_new(size_t ncols, const char *const *headers)
{
	struct out_table *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->ncols = ncols;
	if (out_table_row(t, headers) != 0) {
		out_table_free(t);
		return NULL;
	}
	return t;
}

int
out_table_row(struct out_table *t, const char *const *cells)
{
	char buf[OUT_CELL_MAX];

	if (t == NULL)
		return -1;
	if (t->nrows >= OUT_TABLE_MAX_ROW)
		goto fail;
	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		char **p = realloc(t->cells, cap * t->ncols * sizeof(*p));
		if (p == NULL)
			goto fail;
		t->cells = p;
		t->cap = cap;
	}
	for (size_t i = 0; i < t->ncols; i++) {
		const char *v = cells[i] != NULL && cells[i][0] != '\0' ? cells[i] : "-";
		char *copy = strdup(out_clean(v, buf, sizeof(buf)));
		if (copy == NULL) {
			while (i-- > 0)
				free(t->cells[t->nrows * t->ncols + i]);
			goto fail;
		}
		t->cells[t->nrows * t->ncols + i] = copy;
	}
	t->nrows++;
	return 0;
fail:
	t->failed = true;
	return -1;
}

int
out_table_print(const struct out_table *t, FILE *f, const char *indent)
{
	size_t *w;

	if (t == NULL)
		return -1;
	w = calloc(t->ncols, sizeof(*w));
	if (w == NULL)
		return -1;
	for (size_t r = 0; r < t->nrows; r++)
		for (size_t i = 0; i < t->ncols; i++) {
			size_t cw = out_width(t->cells[r * t->ncols + i]);
			if (cw > w[i])
				w[i] = cw;
		}
	for (size_t r = 0; r < t->nrows; r++) {
		fputs(indent != NULL ? indent : "", f);
		for (size_t i = 0; i < t->ncols; i++) {
			const char *cell = t->cells[r * t->ncols + i];
			if (i + 1 == t->ncols) {
				fprintf(f, "%s\n", cell);
			} else {
				fputs(cell, f);
				for (size_t pad = out_width(cell); pad < w[i] + 2; pad++)
					fputc(' ', f);
			}
		}
	}
	free(w);
	if (t->failed) {
		fprintf(stderr, "odcctl: out of memory: the table above is incomplete\n");
		return -1;
	}
	return 0;
}

void
out_table_free(struct out_table *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}

char *
out_age(uint64_t ms, char *out, size_t outlen)
{
	uint64_t s = ms / 1000;

	if (s < 60)
		snprintf(out, outlen, "%llus", (unsigned long long)s);
	else if (s < 3600)
		snprintf(out, outlen, "%llum", (unsigned long long)(s / 60));
	else if (s < 2 * 86400)
		snprintf(out, outlen, "%lluh", (unsigned long long)(s / 3600));
	else
		snprintf(out, outlen, "%llud", (unsigned long long)(s / 86400));
	return out;
}

char *
out_duration(uint64_t ms, char *out, size_t outlen)
{
	uint64_t s = ms / 1000;

	if (ms < 1000)
		snprintf(out, outlen, "%llums", (unsigned long long)ms);
	else if (s < 60)
		snprintf(out, outlen, "%llu.%llus", (unsigned long long)s,
		         (unsigned long long)(ms % 1000 / 100));
	else if (s < 3600)
		snprintf(out, outlen, "%llum%02llus", (unsigned long long)(s / 60),
		         (unsigned long long)(s % 60));
	else
		snprintf(out, outlen, "%lluh%02llum", (unsigned long long)(s / 3600),
		         (unsigned long long)(s % 3600 / 60));
	return out;
}

char *
out_seconds(uint64_t s, char *out, size_t outlen)
{
	if (s != 0 && s % 86400 == 0)
		snprintf(out, outlen, "%llud", (unsigned long long)(s / 86400));
	else if (s != 0 && s % 3600 == 0)
		snprintf(out, outlen, "%lluh", (unsigned long long)(s / 3600));
	else if (s != 0 && s % 60 == 0)
		snprintf(out, outlen, "%llum", (unsigned long long)(s / 60));
	else
		snprintf(out, outlen, "%llus", (unsigned long long)s);
	return out;
}

/* Local time of ms, with or without the date; "-" when it cannot be shown. */
static char *
out_strftime(int64_t ms, bool date, char *out, size_t outlen)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	size_t n = 0;

	if (ms >= 0 && localtime_r(&t, &tm) != NULL)
		n = date ? strftime(out, outlen, "%Y-%m-%d %H:%M:%S", &tm)
		         : strftime(out, outlen, "%H:%M:%S", &tm);
	if (n == 0)
		snprintf(out, outlen, "-");
	return out;
}

char *
out_time(int64_t ms, char *out, size_t outlen)
{
	return out_strftime(ms, true, out, outlen);
}

char *
out_clock(int64_t ms, char *out, size_t outlen)
{
	return out_strftime(ms, false, out, outlen);
}

char *
out_bar(uint64_t done, uint64_t total, size_t width, char *out, size_t outlen)
{
	size_t fill, n = 0;

	if (outlen < width + 3) {
		if (outlen > 0)
			out[0] = '\0';
		return out;
	}
	fill = total == 0 ? 0 : (size_t)((done > total ? total : done) * width / total);
	out[n++] = '[';
	for (size_t i = 0; i < width; i++)
		out[n++] = i < fill ? '#' : '.';
	out[n++] = ']';
	out[n] = '\0';
	return out;
}

int
out_json(const json_t *v)
{
	if (json_dumpf(v, stdout, JSON_INDENT(2) | JSON_ENCODE_ANY) != 0)
		return -1;
	fputc('\n', stdout);
	return 0;
}

void
out_text(FILE *f, const char *text)
{
	size_t n = 0;

	for (const char *p = text; *p; p++, n++) {
		unsigned char ch = (unsigned char)*p;
		fputc(ch == '\n' || ch == '\t' || (ch >= 0x20 && ch != 0x7f) ? ch : '?', f);
	}
	if (n > 0 && text[n - 1] != '\n')
		fputc('\n', f);
}

int
out_json_line(const json_t *v)
{
	if (json_dumpf(v, stdout, JSON_COMPACT | JSON_ENCODE_ANY) != 0)
		return -1;
	fputc('\n', stdout);
	return fflush(stdout) == 0 ? 0 : -1;
}

void
out_term_size(int *rows, int *cols)
{
	struct winsize ws;

	*rows = 24;
	*cols = 80;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0) {
		*rows = ws.ws_row;
		*cols = ws.ws_col;
	}
}

const char *
js(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s != NULL ? s : "";
}

long long
ji(const json_t *o, const char *key, long long def)
{
	const json_t *v = json_object_get(o, key);
	return json_is_integer(v) ? (long long)json_integer_value(v) : def;
}

bool
jnull(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	return v == NULL || json_is_null(v);
}

bool
out_job_final(const char *state)
{
	return proto_job_state_final(proto_job_state_from_name(state));
}

void
out_done_failed(const json_t *job, long long *done, long long *failed)
{
	const json_t *counts = json_object_get(job, "counts");

	*done = 0;
	*failed = 0;
	for (int s = 0; s < PROTO_HOST_STATES; s++) {
		long long k = ji(counts, proto_host_state_name(s), 0);
		if (proto_host_state_final(s))
			*done += k;
		if (proto_host_state_failed(s))
			*failed += k;
	}
}

/* "to=4.2.0 backup=/var/backups/odc/x" */
static void
out_params(const json_t *params, char *out, size_t outlen)
{
	const char *k;
	json_t *v;
	size_t n = 0;

	out[0] = '\0';
	json_object_foreach((json_t *)(uintptr_t)params, k, v)
	{
		int w = snprintf(out + n, outlen - n, "%s%s=%s", n ? " " : "", k,
		                 json_is_string(v) ? json_string_value(v) : "?");
		if (w < 0 || (size_t)w >= outlen - n)
			break;
		n += (size_t)w;
	}
}

static void
out_kv(const char *label, const char *value)
{
	char buf[2048];

	printf("%-10s %s\n", label, out_clean(value, buf, sizeof(buf)));
}

char *
out_counts(const json_t *job, char *out, size_t outlen)
{
	const json_t *counts = json_object_get(job, "counts");
	size_t n = 0;

	if (outlen == 0)
		return out;
	out[0] = '\0';
	for (int s = 0; s < PROTO_HOST_STATES; s++) {
		const char *name = proto_host_state_name(s);
		long long k = ji(counts, name, 0);
		int w;
		if (k <= 0)
			continue;
		w = snprintf(out + n, outlen - n, "%s%lld %s", n ? ", " : "", k, name);
		if (w < 0 || (size_t)w >= outlen - n)
			break;
		n += (size_t)w;
	}
	return out;
}

void
out_job_header(const json_t *job)
{
	const json_t *pol = json_object_get(job, "policy");
	char line[2048], a[64], b[64], c[64], d[32], e[32];
	size_t n = 0;
	uint64_t now = proto_now_ms();
	long long t;

	out_kv("job", js(job, "job_id"));
	out_params(json_object_get(job, "params"), line, sizeof(line));
	snprintf(a, sizeof(a), "%s", js(job, "action"));
	{
		char both[2200];
		snprintf(both, sizeof(both), "%s%s%s", a, line[0] ? "  " : "", line);
		out_kv("action", both);
	}
	snprintf(line, sizeof(line), "%s (key %s)", js(job, "operator"), js(job, "signer"));
	out_kv("operator", line);
	if (js(job, "reason")[0] != '\0')
		out_kv("reason", js(job, "reason"));
	n = (size_t)snprintf(line, sizeof(line), "%s, stage %s", js(job, "state"),
	                     js(job, "stage"));
	if (ji(job, "batch", 0) > 0 && n < sizeof(line))
		snprintf(line + n, sizeof(line) - n, " (batch %lld)", ji(job, "batch", 0));
	out_kv("state", line);
	if (js(job, "message")[0] != '\0')
		out_kv("message", js(job, "message"));
	t = ji(job, "submitted_ms", -1);
	snprintf(line, sizeof(line), "%s (%s ago)", out_time(t, a, sizeof(a)),
	         out_age(t >= 0 && (uint64_t)t < now ? now - (uint64_t)t : 0, d, sizeof(d)));
	out_kv("submitted", line);
	if (!jnull(job, "ended_ms")) {
		t = ji(job, "ended_ms", -1);
		snprintf(line, sizeof(line), "%s (after %s)", out_time(t, a, sizeof(a)),
		         out_duration(t >= ji(job, "submitted_ms", 0)
		                          ? (uint64_t)(t - ji(job, "submitted_ms", 0))
		                          : 0,
		                      e, sizeof(e)));
		out_kv("ended", line);
	} else {
		out_kv("deadline", out_time(ji(job, "deadline_ms", -1), a, sizeof(a)));
	}
	if (json_is_object(pol)) {
		snprintf(
		    line, sizeof(line),
		    "canary %lld, batch %lld%s, budget %lld%s, quorum %lld%%, step deadline %s, "
		    "job deadline %s",
		    ji(pol, "canary", 0), ji(pol, "batch", 0),
		    json_is_true(json_object_get(pol, "batch_pct")) ? "%" : "",
		    ji(pol, "budget", 0),
		    json_is_true(json_object_get(pol, "budget_pct")) ? "%" : "",
		    ji(pol, "quorum_pct", 0),
		    out_seconds((uint64_t)ji(pol, "step_deadline_s", 0), b, sizeof(b)),
		    out_seconds((uint64_t)ji(pol, "job_deadline_s", 0), c, sizeof(c)));
		out_kv("policy", line);
	}
	{
		char cnt[512];
		snprintf(line, sizeof(line), "%lld: %s", ji(job, "targets", 0),
		         out_counts(job, cnt, sizeof(cnt)));
	}
	out_kv("hosts", line);
}
