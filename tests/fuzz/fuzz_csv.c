/* libFuzzer harness for backup_csv_read_fd(), the CSV reader of agent/backup:
 * the first byte picks the dialect and the bounds, the rest is the file,
 * written to a memfd and read from it.
 *   bit 0: quote '"' (else '\'')     bit 1: no escape (else '\\')
 *   bit 2: header                    bit 3: also read stopping early
 *   bits 4-5: max_field 4096, 64, 8 or 2
 *   bits 6-7: stop after 1-4 records (with bit 3)
 * Every field passed must be NULL or NUL-terminated and at most max_field
 * bytes, in 1..1024 fields. The same file read without a callback, or with
 * the header flag flipped, must give the same outcome (the header is one
 * record fewer); a read stopped by the callback after K records must count
 * K (or fewer, or fail as the whole read does). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <unistd.h>

#include "agent/backup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define LABEL      "fuzz.csv"
#define MAX_FIELDS 1024 /* backup.h: at most 1024 fields */

static const size_t max_fields[] = {4096, 64, 8, 2};

struct reading {
	size_t max_field;
	bool callback; /* false: fn NULL, counting only */
	long long calls;
	long long stop_after; /* 0: never stop */
};

static int memfd = -1;

static void
fail(const char *what, long long a, long long b, const char *err)
{
	fprintf(stderr, "fuzz_csv: %s (%lld, %lld)%s%s\n", what, a, b, err != NULL ? ": " : "",
	        err != NULL ? err : "");
	abort();
}

static int
on_record(void *ctx, char **fields, size_t n)
{
	struct reading *r = ctx;
	size_t i;

	if (n == 0 || n > MAX_FIELDS || fields == NULL)
		fail("record with a bad field count", (long long)n, r->calls, NULL);
	for (i = 0; i < n; i++) {
		/* strlen reads up to the NUL: past the buffer, ASan says so. */
		if (fields[i] != NULL && strlen(fields[i]) > r->max_field)
			fail("field longer than max_field", (long long)strlen(fields[i]),
			     (long long)r->max_field, NULL);
	}
	r->calls++;
	return r->stop_after != 0 && r->calls >= r->stop_after;
}

/* The file: data at offset 0 of the one memfd, rewound for each read. */
static void
file_put(const uint8_t *data, size_t size)
{
	size_t off = 0;
	ssize_t n;

	if (memfd < 0) {
		memfd = memfd_create("fuzz_csv", MFD_CLOEXEC);
		if (memfd < 0)
			abort();
	}
	if (ftruncate(memfd, 0) != 0)
		abort();
	while (off < size) {
		n = pwrite(memfd, data + off, size - off, (off_t)off);
		if (n <= 0)
			abort();
		off += (size_t)n;
	}
}

static long long
read_csv(const struct backup_dialect *d, struct reading *r, char *err, size_t errlen)
{
	long long rc;

	if (lseek(memfd, 0, SEEK_SET) != 0)
		abort();
	err[0] = '\0';
	rc = backup_csv_read_fd(memfd, LABEL, d, r->max_field, r->callback ? on_record : NULL, r,
	                        err, errlen);
	if (rc < -1)
		fail("return below -1", rc, 0, err);
	if (rc == -1 && strncmp(err, LABEL ":", sizeof(LABEL)) != 0)
		fail("failure without \"" LABEL ":line: what\"", rc, 0, err);
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct backup_dialect d, flipped;
	struct reading full, count, flip, stop;
	char err[512], err2[512];
	long long rc, rc2, k, want;
	uint8_t flags;

	if (size < 1)
		return 0;
	flags = data[0];
	d.quote = flags & 0x01 ? '"' : '\'';
	d.escape = flags & 0x02 ? 0 : '\\';
	d.header = (flags & 0x04) != 0;
	file_put(data + 1, size - 1);

	memset(&full, 0, sizeof(full));
	full.max_field = max_fields[(flags >> 4) & 3];
	full.callback = true;
	rc = read_csv(&d, &full, err, sizeof(err));
	if (rc >= 0 && full.calls != rc)
		fail("the count differs from the records passed", rc, full.calls, NULL);

	/* Without a callback: only counting, the same outcome. */
	count = full;
	count.callback = false;
	rc2 = read_csv(&d, &count, err2, sizeof(err2));
	if (rc2 != rc || (rc < 0 && strcmp(err, err2) != 0))
		fail("counting differs from reading", rc, rc2, err2);

	/* The header is the first record, nothing else. */
	flipped = d;
	flipped.header = !d.header;
	flip = count;
	rc2 = read_csv(&flipped, &flip, err2, sizeof(err2));
	if ((rc < 0) != (rc2 < 0) || (rc < 0 && strcmp(err, err2) != 0))
		fail("the header flag changed how the file reads", rc, rc2, err2);
	if (rc >= 0) {
		long long without = d.header ? rc2 : rc, with = d.header ? rc : rc2;

		if (with != (without > 0 ? without - 1 : 0))
			fail("a header is not one record", without, with, NULL);
	}

	if (flags & 0x08) {
		k = 1 + (flags >> 6);
		stop = full;
		stop.calls = 0;
		stop.callback = true;
		stop.stop_after = k;
		rc2 = read_csv(&d, &stop, err2, sizeof(err2));
		if (rc2 < 0) {
			/* The error came before the K-th record: the whole read meets it. */
			if (rc >= 0 || strcmp(err, err2) != 0)
				fail("a stopped read failed where the whole one did not", rc, rc2,
				     err2);
		} else {
			want = rc >= 0 && rc < k ? rc : k;
			if (rc2 != want || stop.calls != rc2)
				fail("a stopped read counts wrong", want, rc2, NULL);
		}
	}
	return 0;
}
