/* libFuzzer harness for common/config: arbitrary bytes as a configuration file,
 * then every getter on the keys it holds and on a few fixed names. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every failure must say why: an empty message would reach users as nothing. */
static void
check_err(int rc, const char *err)
{
	if (rc < 0 && err[0] == '\0')
		abort();
}

static void
exercise(const struct config *c, const char *section, const char *key)
{
	static const char *const known[] = {"agent.id", "agent.*", "s.k", NULL};
	struct config_label labels[8];
	const char *items[8], *s = NULL;
	char err[512], store[256];
	uint64_t u = 0;
	size_t n = 0;
	int b = 0;

	err[0] = '\0';
	check_err(config_get_str(c, section, key, "def", &s, err, sizeof(err)), err);
	check_err(config_get_uint(c, section, key, 1, 0, UINT64_MAX, &u, err, sizeof(err)), err);
	check_err(config_get_uint(c, section, key, 1, 1, 65535, &u, err, sizeof(err)), err);
	check_err(config_get_bool(c, section, key, 1, &b, err, sizeof(err)), err);
	check_err(
	    config_get_duration_ms(c, section, key, 1000, 0, UINT64_MAX, &u, err, sizeof(err)),
	    err);
	check_err(config_get_duration_ms(c, section, key, 1000, 100, 3600000, &u, err, sizeof(err)),
	          err);
	check_err(config_get_size(c, section, key, 1024, 0, UINT64_MAX, &u, err, sizeof(err)), err);
	check_err(config_get_size(c, section, key, 1024, 1024, 1ULL << 40, &u, err, sizeof(err)),
	          err);
	check_err(config_get_path(c, section, key, "/def", &s, err, sizeof(err)), err);
	check_err(config_get_list(c, section, key, "a, b", items, 8, &n, store, sizeof(store), err,
	                          sizeof(err)),
	          err);
	check_err(config_get_list(c, section, key, NULL, items, 2, &n, store, 16, err, sizeof(err)),
	          err);
	check_err(config_get_labels(c, section, key, "k=v", labels, 8, &n, store, sizeof(store),
	                            err, sizeof(err)),
	          err);
	check_err(
	    config_get_labels(c, section, key, NULL, labels, 1, &n, store, 8, err, sizeof(err)),
	    err);
	check_err(config_require(c, section, key, err, sizeof(err)), err);
	check_err(config_check_known(c, known, err, sizeof(err)), err);
	(void)config_line(c, section, key);
	(void)config_path(c);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *section, *key, *value;
	struct config *c;
	char err[512];
	char *text;
	size_t i;
	int line;

	text = malloc(size + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	err[0] = '\0';
	c = config_load_string("fuzz.ini", text, err, sizeof(err));
	if (c == NULL) {
		if (err[0] == '\0')
			abort();
		goto out;
	}
	for (i = 0; i < config_count(c) && i < 32; i++) {
		if (config_entry(c, i, &section, &key, &value, &line) != 0 || line <= 0)
			abort();
		exercise(c, section, key);
	}
	exercise(c, "agent", "id");
	exercise(c, "s", "k");
	exercise(c, "", "");
	config_free(c);
out:
	free(text);
	return 0;
}
