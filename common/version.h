/* Dotted numeric versions ("4.2.0", "4.2.0.3"): ODC image tags and
 * migrate_schema_history versions; the agent and the coordinator compare
 * them alike. */
#ifndef ODC_COMMON_VERSION_H
#define ODC_COMMON_VERSION_H

#include <stdbool.h>

/* Numeric, component by component; a missing component counts as 0, so
 * "4.2" == "4.2.0". A component that is not a number compares as text
 * after every number. Returns <0, 0, >0. */
int version_cmp(const char *a, const char *b);

/* True when version hv (a migrate_schema_history version, or ODC's
 * /api/v1/info data.version) belongs to ODC release tag: the first three
 * components of their releases are equal ("4.2.0.3" belongs to "4.2.0";
 * "4.3.0.1" does not). A release is the leading digits and dots: a build
 * suffix ("4.3.2-20241120") or a tag suffix ("4.2.2_bp1") is not part of it.
 * Compared as version_cmp compares components (missing ones count as 0);
 * false when either is NULL or has no release. */
bool version_belongs_to(const char *hv, const char *tag);

/* Compares the releases of two versions or tags (their first three
 * components, as version_belongs_to takes them): *cmp <0, 0 or >0 ("4.3.2-1"
 * is newer than "4.2.5.3", equal to "4.3.2.7"). False, *cmp untouched, when
 * either is NULL or has no release. */
bool version_release_cmp(const char *a, const char *b, int *cmp);

/* Added: the longest version string accepted anywhere (migrate_schema_history
 * declares version VARCHAR(64)). */
#define VERSION_MAX 64

/* Added: true when v is a well-formed dotted numeric version: 1..VERSION_MAX
 * bytes, digits in non-empty components separated by single dots ("4.2.0.3";
 * not "", "4..2", "4.2.", "v4.2"). For checking parameters before use;
 * version_cmp itself accepts any string. */
bool version_valid(const char *v);

/* The tag of an image reference ("repo:5000/x:4.3.0" -> "4.3.0"), "" when
 * it names none (no tag, or a digest). */
void version_image_tag(const char *ref, char *out, size_t outlen);

#endif
