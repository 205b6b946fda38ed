/* Unit tests for agent/spec: the create body of a rollback is the stopped
 * container's own spec with only the image changed, and the seed's flags
 * where no container exists. The data in tests/unit/data/ was captured from
 * a real engine (Docker 20.10) after the seed's docker run, with its paths
 * and hostname made generic. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/spec.h"

#define NEW_IMAGE "oceanbase/odc-server:4.2.0"

/* Loads tests/unit/data/name from the source tree: the working directory
 * (make runs tests from the top) or up from the test binary
 * (BUILD/tests/test_spec). */
static json_t *
load(const char *name)
{
	char exe[PATH_MAX], path[PATH_MAX + 64], *slash;
	json_error_t jerr;
	json_t *j;
	ssize_t n;
	int up;

	snprintf(path, sizeof(path), "tests/unit/data/%s", name);
	if (access(path, R_OK) != 0) {
		n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		if (n <= 0)
			fail_msg("cannot find %s", path);
		exe[n] = '\0';
		for (up = 0; up < 4; up++) {
			slash = strrchr(exe, '/');
			if (slash == NULL)
				break;
			*slash = '\0';
			snprintf(path, sizeof(path), "%s/tests/unit/data/%s", exe, name);
			if (access(path, R_OK) == 0)
				break;
		}
	}
	j = json_load_file(path, 0, &jerr);
	if (j == NULL)
		fail_msg("%s: %s", path, jerr.text);
	return j;
}

struct fixture {
	json_t *container;
	json_t *image;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	f->container = load("odc-container-inspect.json");
	f->image = load("odc-image-inspect.json");
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	json_decref(f->container);
	json_decref(f->image);
	free(f);
	return 0;
}

/* Builds the body or fails the test with spec's message. */
static json_t *
build(json_t *container, json_t *image)
{
	char err[256] = "";
	json_t *body = spec_from_container(container, image, NEW_IMAGE, err, sizeof(err));

	if (body == NULL)
		fail_msg("spec_from_container: %s", err);
	return body;
}

static json_t *
host_config(json_t *body)
{
	json_t *h = json_object_get(body, "HostConfig");

	assert_true(json_is_object(h));
	return h;
}

static int
has_string(json_t *arr, const char *s)
{
	json_t *v;
	size_t i;

	json_array_foreach(arr, i, v)
	{
		if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
			return 1;
	}
	return 0;
}

static void
test_env_operator_kept_image_dropped(void **state)
{
	struct fixture *f = *state;
	const char *want[] = {
	    "ODC_PROFILE_MODE=alipay",  "DATABASE_HOST=10.0.0.5",
	    "DATABASE_PORT=2881",       "DATABASE_USERNAME=odc@odc_meta#obcluster",
	    "DATABASE_PASSWORD=s3cret", "DATABASE_NAME=odc_metadb",
	};
	json_t *body = build(f->container, f->image);
	json_t *env = json_object_get(body, "Env");
	size_t i;

	/* Exactly the operator's -e flags, in order: PATH and JAVA_HOME were
	 * the failed image's and must not shadow the rollback image's own. */
	assert_true(json_is_array(env));
	assert_int_equal(json_array_size(env), sizeof(want) / sizeof(want[0]));
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_string_equal(json_string_value(json_array_get(env, i)), want[i]);
	assert_false(has_string(env, "JAVA_HOME=/usr/lib/jvm/java-17"));
	json_decref(body);
}

static void
test_image_replaced_and_spec_carried_over(void **state)
{
	struct fixture *f = *state;
	json_t *body = build(f->container, f->image);
	json_t *h = host_config(body);
	json_t *binds = json_object_get(h, "Binds");
	json_t *rp = json_object_get(h, "RestartPolicy");

	assert_string_equal(json_string_value(json_object_get(body, "Image")), NEW_IMAGE);
	assert_true(json_is_true(json_object_get(body, "OpenStdin")));
	assert_string_equal(json_string_value(json_object_get(h, "NetworkMode")), "host");
	assert_int_equal(json_integer_value(json_object_get(h, "CpuPeriod")), 100000);
	assert_int_equal(json_integer_value(json_object_get(h, "CpuQuota")), 400000);
	assert_int_equal(json_integer_value(json_object_get(h, "Memory")), 8LL << 30);
	assert_int_equal(json_integer_value(json_object_get(h, "MemorySwap")), 16LL << 30);
	assert_string_equal(json_string_value(json_object_get(rp, "Name")), "unless-stopped");
	assert_int_equal(json_array_size(binds), 2);
	assert_string_equal(json_string_value(json_array_get(binds, 0)),
	                    "/var/log/odc:/opt/odc/log");
	assert_string_equal(json_string_value(json_array_get(binds, 1)),
	                    "/var/data/odc:/opt/odc/data");
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(h, "LogConfig"), "Type")),
	    "json-file");
	json_decref(body);
}

static void
test_image_things_and_defaults_left_out(void **state)
{
	struct fixture *f = *state;
	json_t *body, *h, *labels;

	/* The image's entrypoint too, even when the container shows one. */
	json_object_set_new(json_object_get(f->container, "Config"), "Entrypoint",
	                    json_pack("[s]", "/docker-entrypoint.sh"));
	body = build(f->container, f->image);
	h = host_config(body);
	assert_null(json_object_get(body, "Cmd"));
	assert_null(json_object_get(body, "Entrypoint"));
	/* Same as the image's: the rollback image's own applies. */
	assert_null(json_object_get(body, "WorkingDir"));
	/* The image's label goes, the operator's stays. */
	labels = json_object_get(body, "Labels");
	assert_int_equal(json_object_size(labels), 1);
	assert_string_equal(json_string_value(json_object_get(labels, "com.example.owner")), "dba");
	/* Host network: Docker refuses a hostname there. */
	assert_null(json_object_get(body, "Hostname"));
	/* Docker's defaults and what the engine fills in itself are not sent. */
	assert_null(json_object_get(body, "Tty"));
	assert_null(json_object_get(body, "AttachStdout"));
	assert_null(json_object_get(body, "Volumes"));
	assert_null(json_object_get(h, "Dns"));
	assert_null(json_object_get(h, "CapAdd"));
	assert_null(json_object_get(h, "Privileged"));
	assert_null(json_object_get(h, "PortBindings"));
	assert_null(json_object_get(h, "MaskedPaths"));
	assert_null(json_object_get(h, "CgroupnsMode"));
	assert_null(json_object_get(h, "Runtime"));
	assert_null(json_object_get(body, "NetworkSettings"));
	json_decref(body);
}

static void
test_operator_overrides_of_image_values_kept(void **state)
{
	struct fixture *f = *state;
	json_t *config = json_object_get(f->container, "Config");
	json_t *body;

	json_object_set_new(config, "WorkingDir", json_string("/srv/odc"));
	json_object_set_new(json_object_get(config, "Labels"), "vendor", json_string("acme"));
	/* A value the operator changed is not the image's default any more. */
	json_array_append_new(json_object_get(config, "Env"),
	                      json_string("JAVA_HOME=/opt/jdk-custom"));
	body = build(f->container, f->image);
	assert_string_equal(json_string_value(json_object_get(body, "WorkingDir")), "/srv/odc");
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(body, "Labels"), "vendor")), "acme");
	assert_true(has_string(json_object_get(body, "Env"), "JAVA_HOME=/opt/jdk-custom"));
	json_decref(body);
}

/* Issue 14: everything the operator gave `docker run` survives, not only a
 * list of known flags: -p with ODC_SERVER_PORT moved, a healthcheck, a stop
 * timeout, a ulimit; --cidfile is not carried (its file exists). */
static void
test_every_operator_choice_carried(void **state)
{
	struct fixture *f = *state;
	json_t *config = json_object_get(f->container, "Config");
	json_t *hc = json_object_get(f->container, "HostConfig");
	json_t *body, *h, *ports, *hcheck;

	json_object_set_new(config, "ExposedPorts",
	                    json_pack("{s:{}, s:{}}", "8989/tcp", "18990/tcp"));
	json_object_set_new(json_object_get(f->image, "Config"), "ExposedPorts",
	                    json_pack("{s:{}}", "8989/tcp"));
	json_object_set_new(hc, "NetworkMode", json_string("bridge"));
	json_object_set_new(
	    hc, "PortBindings",
	    json_pack("{s:[{s:s, s:s}]}", "18990/tcp", "HostIp", "", "HostPort", "18990"));
	json_object_set_new(config, "Healthcheck",
	                    json_pack("{s:[s,s], s:I, s:I}", "Test", "CMD-SHELL",
	                              "wget -qO- localhost:18990/api/v1/status", "Interval",
	                              (json_int_t)30000000000, "Retries", (json_int_t)3));
	json_object_set_new(config, "StopTimeout", json_integer(60));
	json_object_set_new(hc, "ContainerIDFile", json_string("/run/odc.cid"));
	json_object_set_new(hc, "PidsLimit", json_integer(4096));
	body = build(f->container, f->image);
	h = host_config(body);
	ports = json_object_get(body, "ExposedPorts");
	assert_non_null(json_object_get(ports, "18990/tcp"));
	assert_string_equal(
	    json_string_value(json_object_get(
	        json_array_get(json_object_get(json_object_get(h, "PortBindings"), "18990/tcp"), 0),
	        "HostPort")),
	    "18990");
	hcheck = json_object_get(body, "Healthcheck");
	assert_true(json_equal(hcheck, json_object_get(config, "Healthcheck")));
	assert_int_equal(json_integer_value(json_object_get(body, "StopTimeout")), 60);
	assert_int_equal(json_integer_value(json_object_get(h, "PidsLimit")), 4096);
	assert_null(json_object_get(h, "ContainerIDFile"));
	json_decref(body);

	/* The failed image's own EXPOSE and HEALTHCHECK are its defaults: left to
	 * the rollback image. */
	json_object_set(json_object_get(f->image, "Config"), "Healthcheck",
	                json_object_get(config, "Healthcheck"));
	json_object_set_new(config, "ExposedPorts", json_pack("{s:{}}", "8989/tcp"));
	body = build(f->container, f->image);
	assert_null(json_object_get(body, "Healthcheck"));
	assert_null(json_object_get(body, "ExposedPorts"));
	json_decref(body);
}

/* Secrets at rest (issue 14): the journal's copy has no secret value, and
 * the create takes it back from the kept container. */
static void
test_secrets_redacted_and_restored(void **state)
{
	struct fixture *f = *state;
	char err[256] = "";
	json_t *body, *env;

	json_array_append_new(json_object_get(json_object_get(f->container, "Config"), "Env"),
	                      json_string("ODC_PROPERTY_ENCRYPTION_PASSWORD=k3y!"));
	body = build(f->container, f->image);
	spec_redact(body, SPEC_KEPT_MASK);
	env = json_object_get(body, "Env");
	assert_true(has_string(env, "DATABASE_PASSWORD=" SPEC_KEPT_MASK));
	assert_true(has_string(env, "ODC_PROPERTY_ENCRYPTION_PASSWORD=" SPEC_KEPT_MASK));
	assert_true(has_string(env, "DATABASE_USERNAME=odc@odc_meta#obcluster"));
	char *text = json_dumps(body, 0);
	assert_null(strstr(text, "s3cret"));
	assert_null(strstr(text, "k3y!"));
	free(text);
	assert_int_equal(spec_unredact(body, f->container, err, sizeof(err)), 0);
	assert_true(has_string(env, "DATABASE_PASSWORD=s3cret"));
	assert_true(has_string(env, "ODC_PROPERTY_ENCRYPTION_PASSWORD=k3y!"));
	assert_true(spec_secret_name("db_passwd", 9));
	assert_false(spec_secret_name("DATABASE_NAME", 13));
	/* A kept container without the variable: refused, naming it. */
	spec_redact(body, SPEC_KEPT_MASK);
	json_object_set_new(json_object_get(f->container, "Config"), "Env", json_array());
	assert_int_equal(spec_unredact(body, f->container, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "DATABASE_PASSWORD"));
	json_decref(body);
}

static void
test_without_image_inspect_everything_is_kept(void **state)
{
	struct fixture *f = *state;
	json_t *body = build(f->container, NULL);
	json_t *env = json_object_get(body, "Env");

	assert_int_equal(json_array_size(env), 8);
	assert_true(has_string(env, "JAVA_HOME=/usr/lib/jvm/java-17"));
	assert_string_equal(json_string_value(json_object_get(body, "WorkingDir")), "/opt/odc");
	assert_int_equal(json_object_size(json_object_get(body, "Labels")), 2);
	json_decref(body);
}

static void
test_hostname_only_off_host_network(void **state)
{
	struct fixture *f = *state;
	json_t *config = json_object_get(f->container, "Config");
	json_t *hc = json_object_get(f->container, "HostConfig");
	json_t *body;
	char shortid[13];

	json_object_set_new(hc, "NetworkMode", json_string("bridge"));
	json_object_set_new(
	    hc, "PortBindings",
	    json_pack("{s[{s:s,s:s}]}", "8989/tcp", "HostIp", "", "HostPort", "8989"));
	body = build(f->container, f->image);
	assert_string_equal(json_string_value(json_object_get(body, "Hostname")), "odc-host-01");
	assert_string_equal(json_string_value(json_object_get(host_config(body), "NetworkMode")),
	                    "bridge");
	assert_string_equal(
	    json_string_value(json_object_get(
	        json_array_get(
	            json_object_get(json_object_get(host_config(body), "PortBindings"), "8989/tcp"),
	            0),
	        "HostPort")),
	    "8989");
	json_decref(body);

	/* Docker's generated hostname (the short id) is not the operator's. */
	snprintf(shortid, sizeof(shortid), "%.12s",
	         json_string_value(json_object_get(f->container, "Id")));
	json_object_set_new(config, "Hostname", json_string(shortid));
	body = build(f->container, f->image);
	assert_null(json_object_get(body, "Hostname"));
	json_decref(body);

	json_object_set_new(config, "Hostname", json_string("odc-host-01"));
	json_object_set_new(hc, "NetworkMode", json_string("container:abc"));
	body = build(f->container, f->image);
	assert_null(json_object_get(body, "Hostname"));
	json_decref(body);
}

static void
test_result_shares_nothing_with_input(void **state)
{
	struct fixture *f = *state;
	json_t *before = json_deep_copy(f->container);
	json_t *body = build(f->container, f->image);

	json_array_clear(json_object_get(host_config(body), "Binds"));
	json_object_set_new(json_object_get(host_config(body), "RestartPolicy"), "Name",
	                    json_string("no"));
	assert_true(json_equal(before, f->container));
	json_decref(body);
	json_decref(before);
}

static void
test_bad_inspect_refused(void **state)
{
	struct fixture *f = *state;
	char err[256];
	json_t *c;

	c = json_deep_copy(f->container);
	json_object_del(c, "Config");
	err[0] = '\0';
	assert_null(spec_from_container(c, f->image, NEW_IMAGE, err, sizeof(err)));
	assert_non_null(strstr(err, "Config"));
	json_decref(c);

	c = json_deep_copy(f->container);
	json_object_del(c, "HostConfig");
	assert_null(spec_from_container(c, f->image, NEW_IMAGE, err, sizeof(err)));
	assert_non_null(strstr(err, "HostConfig"));
	json_decref(c);

	c = json_deep_copy(f->container);
	json_object_set_new(json_object_get(c, "Config"), "Env", json_string("A=1"));
	assert_null(spec_from_container(c, f->image, NEW_IMAGE, err, sizeof(err)));
	assert_non_null(strstr(err, "Env"));
	json_decref(c);

	assert_null(spec_from_container(f->container, f->image, "", err, sizeof(err)));
	assert_null(spec_from_container(json_null(), NULL, NEW_IMAGE, err, sizeof(err)));
	c = json_string("x");
	assert_null(spec_from_container(f->container, c, NEW_IMAGE, err, sizeof(err)));
	json_decref(c);
}

static const char *const db_env[] = {
    "DATABASE_HOST=10.0.0.5",
    "DATABASE_PORT=2881",
    "DATABASE_USERNAME=odc@odc_meta#obcluster",
    "DATABASE_PASSWORD=s3cret",
    "DATABASE_NAME=odc_metadb",
    NULL,
};

static void
test_defaults_are_the_seed(void **state)
{
	struct fixture *f = *state;
	struct spec_defaults def;
	char err[256] = "";
	json_t *body, *h, *seed_h, *env, *binds;
	const char *keys[] = {"NetworkMode", "CpuPeriod", "CpuQuota", "Memory"};
	size_t i;

	spec_defaults_init(&def);
	def.env = db_env;
	body = spec_from_defaults(&def, NEW_IMAGE, err, sizeof(err));
	if (body == NULL)
		fail_msg("spec_from_defaults: %s", err);
	h = host_config(body);
	/* The engine's own record of the seed's docker run flags. */
	seed_h = json_object_get(f->container, "HostConfig");
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (!json_equal(json_object_get(h, keys[i]), json_object_get(seed_h, keys[i])))
			fail_msg("%s differs from docker run's", keys[i]);
	}
	assert_int_equal(json_integer_value(json_object_get(h, "Memory")), 8589934592LL);
	assert_true(json_is_true(json_object_get(body, "OpenStdin")));
	assert_string_equal(json_string_value(json_object_get(body, "Image")), NEW_IMAGE);
	env = json_object_get(body, "Env");
	assert_int_equal(json_array_size(env), 6);
	for (i = 0; db_env[i] != NULL; i++)
		assert_true(has_string(env, db_env[i]));
	assert_true(has_string(env, "ODC_PROFILE_MODE=alipay"));
	binds = json_object_get(h, "Binds");
	assert_int_equal(json_array_size(binds), 2);
	assert_true(has_string(binds, "/var/log/odc:/opt/odc/log"));
	assert_true(has_string(binds, "/var/data/odc:/opt/odc/data"));
	assert_null(json_object_get(body, "Cmd"));
	json_decref(body);
}

static void
test_defaults_profile_not_doubled(void **state)
{
	const char *const env[] = {"DATABASE_HOST=h", "ODC_PROFILE_MODE=private", NULL};
	struct spec_defaults def;
	char err[256] = "";
	json_t *body, *e;

	(void)state;
	memset(&def, 0, sizeof(def));
	def.env = env;
	body = spec_from_defaults(&def, NEW_IMAGE, err, sizeof(err));
	assert_non_null(body);
	e = json_object_get(body, "Env");
	assert_int_equal(json_array_size(e), 2);
	assert_true(has_string(e, "ODC_PROFILE_MODE=private"));
	/* Nothing set, nothing sent: Docker's own defaults apply. */
	assert_null(json_object_get(json_object_get(body, "HostConfig"), "Memory"));
	assert_null(json_object_get(json_object_get(body, "HostConfig"), "NetworkMode"));
	assert_null(json_object_get(json_object_get(body, "HostConfig"), "Binds"));
	json_decref(body);
}

static void
test_defaults_bad_values_refused(void **state)
{
	const char *const no_eq[] = {"DATABASE_HOST", NULL};
	const char *const no_name[] = {"=x", NULL};
	const char *const twice[] = {"DATABASE_HOST=a", "DATABASE_PORT=1", "DATABASE_HOST=b", NULL};
	const char *const bad_bind[] = {"/var/log/odc", NULL};
	const char *const rel_bind[] = {"/var/log/odc:opt", NULL};
	struct spec_defaults def;
	char err[256];

	(void)state;
	spec_defaults_init(&def);
	def.env = no_eq;
	assert_null(spec_from_defaults(&def, NEW_IMAGE, err, sizeof(err)));
	assert_non_null(strstr(err, "NAME=value"));
	def.env = no_name;
	assert_null(spec_from_defaults(&def, NEW_IMAGE, err, sizeof(err)));
	def.env = twice;
	assert_null(spec_from_defaults(&def, NEW_IMAGE, err, sizeof(err)));
	assert_non_null(strstr(err, "DATABASE_HOST given twice"));
	def.env = db_env;
	def.binds = bad_bind;
	assert_null(spec_from_defaults(&def, NEW_IMAGE, err, sizeof(err)));
	assert_non_null(strstr(err, "/var/log/odc"));
	def.binds = rel_bind;
	assert_null(spec_from_defaults(&def, NEW_IMAGE, err, sizeof(err)));
	spec_defaults_init(&def);
	def.memory = -1;
	assert_null(spec_from_defaults(&def, NEW_IMAGE, err, sizeof(err)));
	assert_non_null(strstr(err, "Memory"));
	spec_defaults_init(&def);
	assert_null(spec_from_defaults(&def, "", err, sizeof(err)));
	assert_null(spec_from_defaults(NULL, NEW_IMAGE, err, sizeof(err)));
}

static void
test_image_ref(void **state)
{
	char out[64], small[8], big[96];
	char digest[80];

	(void)state;
	assert_int_equal(spec_image_ref("oceanbase/odc-server", "4.2.0", out, sizeof(out)), 0);
	assert_string_equal(out, "oceanbase/odc-server:4.2.0");
	assert_int_equal(
	    spec_image_ref("reg.local:5000/oceanbase/odc-server", "4.2.0", out, sizeof(out)), 0);
	assert_string_equal(out, "reg.local:5000/oceanbase/odc-server:4.2.0");
	/* Does not fit: nothing half-written. */
	assert_int_equal(spec_image_ref("oceanbase/odc-server", "4.2.0", small, sizeof(small)), -1);
	assert_string_equal(small, "");
	assert_int_equal(spec_image_ref("a/b", "4.2.0", out, 10), 0);
	assert_int_equal(spec_image_ref("a/b", "4.2.0", out, 9), -1);
	assert_int_equal(spec_image_ref("", "4.2.0", out, sizeof(out)), -1);
	assert_int_equal(spec_image_ref("oceanbase/odc-server", "", out, sizeof(out)), -1);
	assert_int_equal(spec_image_ref("oceanbase/odc-server:4.2.2", "4.2.0", out, sizeof(out)),
	                 -1);
	assert_int_equal(spec_image_ref("odc", "4.2 0", out, sizeof(out)), -1);
	assert_int_equal(spec_image_ref("odc", ".4", out, sizeof(out)), -1);
	snprintf(digest, sizeof(digest), "sha256:%064d", 0);
	assert_int_equal(spec_image_ref("odc", digest, out, sizeof(out)), -1); /* too long */
	assert_int_equal(spec_image_ref("odc", digest, big, sizeof(big)), 0);
	assert_int_equal(big[3], '@');
	assert_string_equal(big + 4, digest);
	assert_int_equal(spec_image_ref("odc", "sha256:00", big, sizeof(big)), -1);
}

/* A container inspect whose Config.Env is the given entries. */
static json_t *
with_env(const char *const *env)
{
	json_t *arr = json_array();

	for (size_t i = 0; env[i] != NULL; i++)
		json_array_append_new(arr, json_string(env[i]));
	return json_pack("{s:{s:o}}", "Config", "Env", arr);
}

/* The deployment identity: normalized so that nodes of one HA deployment
 * agree, never the user or the password; a missing or bad variable names
 * itself. */
static void
test_metadb_identity(void **state)
{
	static const char *const ob[] = {"DATABASE_HOST=OBProxy.Example.",
	                                 "DATABASE_PORT=02883",
	                                 "DATABASE_USERNAME=odc@odc_meta#obcluster",
	                                 "DATABASE_PASSWORD=s3cret",
	                                 "DATABASE_NAME=odc_metadb",
	                                 NULL};
	static const char *const colon[] = {"DATABASE_HOST=[fd00::7]", "DATABASE_PORT=2881",
	                                    "DATABASE_USERNAME=obcluster:odc_meta:odc",
	                                    "DATABASE_NAME=Odc", NULL};
	static const char *const plain[] = {"DATABASE_HOST=10.0.0.7", "DATABASE_PORT=3306",
	                                    "DATABASE_USERNAME=odc", "DATABASE_NAME=odc", NULL};
	static const char *const noport[] = {"DATABASE_HOST=db", "DATABASE_USERNAME=odc",
	                                     "DATABASE_NAME=odc", NULL};
	static const char *const badport[] = {"DATABASE_HOST=db", "DATABASE_PORT=65536",
	                                      "DATABASE_USERNAME=u", "DATABASE_NAME=odc", NULL};
	struct spec_metadb id;
	char err[256];
	json_t *c;

	(void)state;
	c = with_env(ob);
	assert_int_equal(spec_metadb_identity(c, &id, err, sizeof(err)), 0);
	assert_string_equal(id.host, "obproxy.example");
	assert_int_equal(id.port, 2883);
	assert_string_equal(id.tenant, "odc_meta");
	assert_string_equal(id.cluster, "obcluster");
	assert_string_equal(id.database, "odc_metadb");
	json_decref(c);
	c = with_env(colon);
	assert_int_equal(spec_metadb_identity(c, &id, err, sizeof(err)), 0);
	assert_string_equal(id.host, "fd00::7");
	assert_string_equal(id.tenant, "odc_meta");
	assert_string_equal(id.cluster, "obcluster");
	assert_string_equal(id.database, "Odc"); /* as given */
	json_decref(c);
	c = with_env(plain);
	assert_int_equal(spec_metadb_identity(c, &id, err, sizeof(err)), 0);
	assert_string_equal(id.tenant, "");
	assert_string_equal(id.cluster, "");
	json_decref(c);
	c = with_env(noport);
	assert_int_equal(spec_metadb_identity(c, &id, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "DATABASE_PORT"));
	json_decref(c);
	c = with_env(badport);
	assert_int_equal(spec_metadb_identity(c, &id, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "'65536' is not a port"));
	json_decref(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_env_operator_kept_image_dropped, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_image_replaced_and_spec_carried_over, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_image_things_and_defaults_left_out, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_operator_overrides_of_image_values_kept, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_without_image_inspect_everything_is_kept, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_every_operator_choice_carried, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_secrets_redacted_and_restored, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hostname_only_off_host_network, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_result_shares_nothing_with_input, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_inspect_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_defaults_are_the_seed, setup, teardown),
	    cmocka_unit_test(test_defaults_profile_not_doubled),
	    cmocka_unit_test(test_defaults_bad_values_refused),
	    cmocka_unit_test(test_image_ref),
	    cmocka_unit_test(test_metadb_identity),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
