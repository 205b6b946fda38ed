/* Dotted numeric versions: ODC image tags and migrate_schema_history
 * versions, compared component by component as numbers. */
#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "common/version.h"

/* One component of a version: the bytes between two dots (or the ends). */
struct comp {
	const char *p;
	size_t len;
	bool present; /* false past the last component: counts as 0 */
	bool numeric; /* all digits and not empty */
};

/* Reads the component at *s and advances *s past it and its dot. Once the
 * string is used up, every further component is absent. */
static struct comp
comp_next(const char **s, bool *more)
{
	struct comp c = {"0", 1, false, true};
	const char *p = *s;
	size_t i;

	if (!*more)
		return c;
	c.p = p;
	c.present = true;
	for (i = 0; p[i] != '\0' && p[i] != '.'; i++)
		;
	c.len = i;
	c.numeric = i > 0;
	for (i = 0; i < c.len; i++)
		if (p[i] < '0' || p[i] > '9')
			c.numeric = false;
	if (p[c.len] == '.') {
		*s = p + c.len + 1;
	} else {
		*s = p + c.len;
		*more = false;
	}
	return c;
}

/* Compares two digit strings of any length as numbers, without converting
 * them (a component may be longer than any integer type). */
static int
num_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int r;

	while (alen > 1 && *a == '0') {
		a++;
		alen--;
	}
	while (blen > 1 && *b == '0') {
		b++;
		blen--;
	}
	if (alen != blen)
		return alen < blen ? -1 : 1;
	r = memcmp(a, b, alen);
	return (r > 0) - (r < 0);
}

/* Numbers order before text; text compares bytewise, a prefix first. */
static int
comp_cmp(const struct comp *a, const struct comp *b)
{
	size_t n;
	int r;

	if (a->numeric && b->numeric)
		return num_cmp(a->p, a->len, b->p, b->len);
	if (a->numeric != b->numeric)
		return a->numeric ? -1 : 1;
	n = a->len < b->len ? a->len : b->len;
	r = memcmp(a->p, b->p, n);
	if (r != 0)
		return (r > 0) - (r < 0);
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	return 0;
}

int
version_cmp(const char *a, const char *b)
{
	bool amore, bmore;
	struct comp ca, cb;
	int r;

	assert(a != NULL && b != NULL);
	/* An empty string has no components at all, so it equals "0". */
	amore = *a != '\0';
	bmore = *b != '\0';
	while (amore || bmore) {
		ca = comp_next(&a, &amore);
		cb = comp_next(&b, &bmore);
		r = comp_cmp(&ca, &cb);
		if (r != 0)
			return r;
	}
	return 0;
}

/* The release a version or tag names: its leading digits and dots, so that
 * a build suffix ("4.3.2-20241120", what release builds report as
 * data.version) or a tag suffix ("4.2.2_bp1") is not a component. Empty when
 * v does not start with a digit. */
static void
release_of(const char *v, char out[VERSION_MAX + 1])
{
	size_t n = 0;

	while (n < VERSION_MAX && ((v[n] >= '0' && v[n] <= '9') || v[n] == '.'))
		n++;
	memcpy(out, v, n);
	out[n] = '\0';
}

bool
version_release_cmp(const char *a_in, const char *b_in, int *cmp)
{
	char arel[VERSION_MAX + 1], brel[VERSION_MAX + 1];
	const char *a = arel, *b = brel;
	bool amore, bmore;
	struct comp ca, cb;

	if (a_in == NULL || b_in == NULL)
		return false;
	release_of(a_in, arel);
	release_of(b_in, brel);
	if (*a == '\0' || *b == '\0')
		return false;
	amore = bmore = true;
	*cmp = 0;
	for (int i = 0; i < 3 && *cmp == 0; i++) {
		ca = comp_next(&a, &amore);
		cb = comp_next(&b, &bmore);
		*cmp = comp_cmp(&ca, &cb);
	}
	return true;
}

bool
version_belongs_to(const char *hv, const char *tag)
{
	int c;

	return version_release_cmp(hv, tag, &c) && c == 0;
}

bool
version_valid(const char *v)
{
	size_t i, comp_len = 0;

	if (v == NULL || *v == '\0')
		return false;
	for (i = 0; v[i] != '\0'; i++) {
		if (i >= VERSION_MAX)
			return false;
		if (v[i] == '.') {
			if (comp_len == 0)
				return false;
			comp_len = 0;
		} else if (v[i] >= '0' && v[i] <= '9') {
			comp_len++;
		} else {
			return false;
		}
	}
	return comp_len > 0;
}

void
version_image_tag(const char *ref, char *out, size_t outlen)
{
	size_t n = strcspn(ref, "@"); /* a digest is no tag */
	const char *colon = memrchr(ref, ':', n);

	out[0] = '\0';
	if (colon != NULL && memchr(colon, '/', n - (size_t)(colon - ref)) == NULL)
		snprintf(out, outlen, "%.*s", (int)(n - (size_t)(colon - ref) - 1), colon + 1);
}
