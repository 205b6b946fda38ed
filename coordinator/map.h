/* A hash map from byte-string keys to pointers (open addressing, linear
 * probing, grows at 70% load): host ids, job ids and CURVE keys, so that no
 * message costs O(fleet). Not thread-safe. */
#ifndef ODC_COORDINATOR_MAP_H
#define ODC_COORDINATOR_MAP_H

#include <stddef.h>

struct map;

/* A new empty map, or NULL when out of memory. */
struct map *map_new(void);
/* Frees the map and its copies of the keys (not the values); NULL is fine. */
void map_free(struct map *m);
/* Sets key (len bytes, copied) to value (not NULL). Returns 0, or -1 when
 * out of memory (the map is unchanged). */
int map_put(struct map *m, const void *key, size_t len, void *value);
/* The value for key, or NULL. */
void *map_get(const struct map *m, const void *key, size_t len);
/* Removes key; returns its value, or NULL when absent. */
void *map_del(struct map *m, const void *key, size_t len);
/* Number of entries. */
size_t map_count(const struct map *m);
/* String conveniences: the key is the NUL-terminated s without its NUL. */
int map_put_str(struct map *m, const char *s, void *value);
void *map_get_str(const struct map *m, const char *s);
void *map_del_str(struct map *m, const char *s);
/* Calls fn for every entry in no particular order; fn must not change the
 * map. A non-zero return stops the walk and is returned. */
int map_each(const struct map *m, int (*fn)(void *ctx, const void *key, size_t len, void *value),
             void *ctx);

#endif
