/* The container spec of a rollback: the new container is the stopped one's
 * own spec (env, mounts, network, resources, restart policy, interactive
 * flag) with only the image changed; where there is no container, the
 * documented defaults. Pure functions over JSON, testable without Docker. */
#ifndef ODC_AGENT_SPEC_H
#define ODC_AGENT_SPEC_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* The seed's docker run flags: --memory 8G --cpu-period 100000
 * --cpu-quota 400000 --net host, and the upgrade guide's two mounts. */
#define SPEC_DEFAULT_MEMORY     (8LL << 30)
#define SPEC_DEFAULT_CPU_PERIOD 100000LL
#define SPEC_DEFAULT_CPU_QUOTA  400000LL
#define SPEC_DEFAULT_NETWORK    "host"
#define SPEC_DEFAULT_PROFILE    "ODC_PROFILE_MODE=alipay"
/* At most this many env entries or binds in struct spec_defaults. */
#define SPEC_MAX_ENTRIES 1024

/* Defaults when no container exists (the seed's docker run flags). */
struct spec_defaults {
	long long memory;         /* bytes; 8G */
	long long cpu_period;     /* 100000 */
	long long cpu_quota;      /* 400000 */
	const char *network;      /* "host" */
	const char *const *env;   /* NULL-terminated "K=V": DATABASE_*, ODC_PROFILE_MODE=alipay */
	const char *const *binds; /* NULL-terminated "host:container" */
};

/* A create body for image from a container's inspect JSON. image_inspect
 * is the OLD container's image (may be NULL): its Config.Env entries are
 * image defaults, not the operator's, and are left out so the new image's
 * own defaults apply. Cmd and Entrypoint are not copied either (they belong
 * to the image). Returns a new reference, or NULL with a message in err.
 *
 * Carried over: Env (minus the image's), OpenStdin, StdinOnce, Tty,
 * Attach*, User, WorkingDir (when not the image's), Labels (minus the
 * image's), ExposedPorts, Hostname (only when the network is neither host
 * nor another container's, and not Docker's generated one: the first 12
 * characters of the container id); HostConfig NetworkMode, Binds, Mounts,
 * PortBindings, RestartPolicy, CpuPeriod, CpuQuota, CpuShares, NanoCpus,
 * Memory, MemoryReservation, MemorySwap, LogConfig, ExtraHosts, Dns,
 * Privileged, CapAdd, CapDrop, ShmSize, Ulimits. Values that are Docker's
 * defaults (null, "", [], {}, 0, false, an object of only those) are left
 * out. The result shares nothing with the inputs. A missing Config or
 * HostConfig, or an Env or Labels of the wrong type, is an error. */
json_t *spec_from_container(json_t *container_inspect, json_t *image_inspect, const char *image,
                            char *err, size_t errlen);

/* Whether key is one of the n strings of list. */
bool spec_listed(const char *const *list, size_t n, const char *key);

/* Whether v is one of Docker's defaults: null, "", 0, false, [], {}, or an
 * object of only such scalars (RestartPolicy {"Name": ""}); Docker shows an
 * unset field as any of them. */
bool spec_is_default(json_t *v);

/* Whether HostConfig member key is one the engine fills in by itself (and
 * a rollback's create leaves to it): not the operator's. */
bool spec_engine_field(const char *key);

/* Fills *def with the seed's values (SPEC_DEFAULT_*), no env, and the
 * upgrade guide's binds /var/log/odc:/opt/odc/log and
 * /var/data/odc:/opt/odc/data (static storage). The caller adds env. */
void spec_defaults_init(struct spec_defaults *def);

/* A create body for image from the defaults: OpenStdin (-i), NetworkMode,
 * CpuPeriod, CpuQuota, Memory (each left out when 0 or NULL), Env and
 * Binds. SPEC_DEFAULT_PROFILE is added when env has no ODC_PROFILE_MODE.
 * An env entry without "NAME=", a name given twice, a bind without
 * "source:/target", a negative number or more than SPEC_MAX_ENTRIES
 * entries is an error. Returns a new reference, or NULL with a message. */
json_t *spec_from_defaults(const struct spec_defaults *def, const char *image, char *err,
                           size_t errlen);

/* Secrets at rest. An env variable whose name says it is one (PASSWORD,
 * PASSWD, SECRET, TOKEN, CREDENTIAL, _KEY, APIKEY anywhere, or KEY at the
 * end; any case: DATABASE_PASSWORD, ODC_ADMIN_INITIAL_PASSWORD,
 * ODC_PROPERTY_ENCRYPTION_PASSWORD, AWS_ACCESS_KEY_ID) never leaves the
 * host's Docker engine in clear: the journal keeps the spec with such values
 * replaced by SPEC_KEPT_MASK, and the create takes them back from the kept
 * container (this job's own, which prune never removes while the job is
 * unfinished or the latest rollback) just before it is made. */
#define SPEC_KEPT_MASK "<in the kept container>"
bool spec_secret_name(const char *name, size_t len);
/* Replaces the value of every secret env entry of body by mask, in place. */
void spec_redact(json_t *body, const char *mask);
/* Puts back every env entry of body whose value is SPEC_KEPT_MASK from the
 * same variable of source (a container inspect). Returns 0, or -1 naming
 * the variable source lacks. */
int spec_unredact(json_t *body, json_t *source, char *err, size_t errlen);

/* "repository:tag" ("repository@sha256:..." when tag is a digest).
 * Returns 0, -1 when it does not fit, a part is empty, the repository
 * already names a tag or digest, or the tag is not a Docker tag
 * ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}). */
int spec_image_ref(const char *repository, const char *tag, char *out, size_t outlen);

/* The value of NAME in a container inspect's Config.Env, or NULL. */
const char *spec_container_env(json_t *inspect, const char *name);

/* The metadb an ODC container uses, from its DATABASE_* env (ODC's required
 * settings), normalized so that nodes of one deployment agree: the host in
 * lower case without a trailing dot or IPv6 brackets, the port as a number,
 * the tenant and cluster out of the login (user@tenant#cluster, or
 * cluster:tenant:user), the database as given. The user and the password
 * are not part of it. Names are compared as text: two nodes that spell one
 * server differently (a name and its address) are not seen as one. */
struct spec_metadb {
	char host[256];
	unsigned port;
	char tenant[129];
	char cluster[129];
	char database[129];
};
/* 0 with *out filled, or -1 naming the variable that is missing or bad. */
int spec_metadb_identity(json_t *inspect, struct spec_metadb *out, char *err, size_t errlen);
/* out <- the tenant and cluster of an OceanBase login: "user@tenant#cluster",
 * "user@tenant", "cluster:tenant:user"; both empty for a plain user. */
void spec_login_parts(const char *login, char *tenant, size_t tlen, char *cluster, size_t clen);

#endif
