/* What a rollback or an undo would change of the host's ODC container, for
 * --dry-run: the container that runs against the one that would run in its
 * place, field by field, secret env values masked. Pure functions over
 * Docker's inspect JSON, testable without Docker. */
#ifndef ODC_AGENT_SPECDIFF_H
#define ODC_AGENT_SPECDIFF_H

#include <stddef.h>

#include <jansson.h>

/* What a difference shows for the value of a secret env variable
 * (spec_secret_name), on either side. */
#define SPECDIFF_MASK "******"

/* The container a create body would make from its image, in the shape of a
 * container inspect ({Name, Config, HostConfig}), merged as the engine
 * merges them: the image's Config (image_inspect NULL: none) overlaid by
 * the body's members, Env by variable name and Labels by key; HostConfig is
 * the body's; Name is "/" name. Returns a new reference (sharing nothing
 * with the inputs), NULL when out of memory. */
json_t *specdiff_created(json_t *body, json_t *image_inspect, const char *name);

/* The differences from container cur to container next (inspects; cur may
 * be NULL: no container runs): a new array of {"field", "from", "to"}
 * objects of strings, null for a side that has no such value, in this
 * order: Name, Image, Image.version (the tags), Cmd, Entrypoint, Env.NAME,
 * Labels.KEY, Binds (one entry per bind added or removed), Mounts (alike),
 * Ports.PORT ("ip:port, ..."), NetworkMode, Memory, RestartPolicy ("no",
 * "on-failure:3"), then every other member of Config and HostConfig as
 * Config.X and HostConfig.X (compact JSON unless a string or a number).
 * Docker's defaults (spec_is_default) are alike, and absent. Hostname (the
 * engine's or the host's) and the HostConfig members the engine fills in
 * (spec_engine_field) are not compared. A secret env value is SPECDIFF_MASK
 * on both sides, whatever it is. When same is not NULL it gets what is
 * alike, for a person: "name obodc, env (7), binds (2), network host,
 * memory 8G, ...". NULL when out of memory. */
json_t *specdiff_compare(json_t *cur, json_t *next, char *same, size_t samelen);

/* A person's view of diff: "NAME: IMAGE -> IMAGE", then one line per
 * difference ("    env      ODC_X  a -> b"), then "    unchanged: SAME".
 * Values are shown whole, control characters as '?'; a difference that
 * would take the text past maxlen bytes is left out with the rest, and a
 * last line counts them ("    ... and 3 more differences"). The text is
 * always under maxlen bytes: a first or last line too long for what is
 * left is cut short ("...") or, with no room at all, left out. malloc'd,
 * caller frees; NULL only when out of memory. */
char *specdiff_text(const char *name, json_t *cur, json_t *next, json_t *diff, const char *same,
                    size_t maxlen);

#endif
