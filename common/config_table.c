/* Table-driven loading of a configuration section by section: one walk over
 * a loader's struct config_field rows (config.h). */
#include <stdio.h>
#include <string.h>

#include "common/config.h"

/* Calls the getter of f's kind for section s; stores the value into obj
 * (unless CONFIG_UNSTORED) and a string kind's value in *str. Returns the
 * getter's 0, 1 or -1; a CONFIG_CUSTOM row returns 0. */
static int
config_field_get(const struct config *c, const char *s, const struct config_field *f, void *obj,
                 const char **str)
{
	char *at = f->offset != CONFIG_UNSTORED ? (char *)obj + f->offset : NULL;
	unsigned ep = f->flags & (CONFIG_ENDPOINT_TCP | CONFIG_ENDPOINT_BIND);
	const char *sv = NULL;
	uint64_t v = 0;
	int r = 0;

	*str = NULL;
	switch (f->kind) {
	case CONFIG_STR:
		r = config_get_str(c, s, f->key, f->def_str, &sv, NULL, 0);
		break;
	case CONFIG_PATH:
		r = config_get_path(c, s, f->key, f->def_str, &sv, NULL, 0);
		break;
	case CONFIG_ENDPOINT:
		r = config_get_endpoint(c, s, f->key, f->def_str, ep, &sv, NULL, 0);
		break;
	case CONFIG_UINT:
		r = config_get_uint(c, s, f->key, f->def, f->min, f->max, &v, NULL, 0);
		break;
	case CONFIG_DURATION:
		r = config_get_duration_ms(c, s, f->key, f->def, f->min, f->max, &v, NULL, 0);
		break;
	case CONFIG_SIZE:
		r = config_get_size(c, s, f->key, f->def, f->min, f->max, &v, NULL, 0);
		break;
	case CONFIG_CUSTOM:
		return 0;
	}
	if (r >= 0 && at != NULL) {
		if (f->kind == CONFIG_STR || f->kind == CONFIG_PATH || f->kind == CONFIG_ENDPOINT)
			memcpy(at, &sv, sizeof(sv));
		else
			memcpy(at, &v, sizeof(v));
	}
	*str = sv;
	return r;
}

/* Is value one of words? If not, records "expected a, b or c". */
static int
config_field_word(const struct config *c, const char *s, const char *key, const char *value,
                  const char *const *words)
{
	char list[512];
	size_t i, n, used = 0;

	for (n = 0; words[n] != NULL; n++)
		if (value != NULL && strcmp(value, words[n]) == 0)
			return 0;
	list[0] = '\0';
	for (i = 0; i < n && used < sizeof(list); i++)
		used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s",
		                         i == 0       ? ""
		                         : i + 1 == n ? " or "
		                                      : ", ",
		                         words[i]);
	config_problem(c, s, key, "expected %s", list);
	return -1;
}

void
config_load_fields(const struct config *c, const char *section, const struct config_field *fields,
                   size_t n, void *obj)
{
	const struct config_field *f;
	const char *s, *str;
	int r;

	for (f = fields; f < fields + n; f++) {
		s = f->section != NULL ? f->section : section;
		if ((f->flags & CONFIG_REQUIRED) && config_require(c, s, f->key, NULL, 0) != 0)
			continue;
		r = config_field_get(c, s, f, obj, &str);
		if (r < 0 || (r == 1 && !(f->flags & CONFIG_CHECK_DEFAULT)))
			continue;
		if (f->words != NULL && config_field_word(c, s, f->key, str, f->words) != 0)
			continue;
		if (f->check != NULL)
			f->check(c, s, f->key, str, obj);
	}
}
