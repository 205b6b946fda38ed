/* odcctl deployments: the hosts grouped by the metadb their ODC uses, with
 * what needs attention (a node lost, versions that differ). */
#include <string.h>

#include "coordinator/ctl/ctl.h"

static int cmd_deployments_exec(struct ctl *, int, char **);

const struct ctl_cmd cmd_deployments_entry = {
    "deployments",
    "[DEPLOYMENT]",
    "the deployments: nodes sharing one metadb, their versions and health",
    "A deployment is every host whose ODC container uses one metadb (the DATABASE_*\n"
    "env of the container, as its agent reports it): one host for a single-node ODC,\n"
    "several for high availability. A rollback restores a deployment's metadb once,\n"
    "for all of its nodes. Columns: DEPLOYMENT METADB NODES (online/all) VERSIONS\n"
    "HEALTHY, then one line per node (BACKUP: `here` or `none`, what the latest\n"
    "rollback check of the deployment found at its backup path), the line `backup\n"
    "PATH (checked by JOB): on NODES` (the node that holds it restores for all), and\n"
    "one line per thing that needs attention.\n"
    "Hosts whose metadb is not known yet (no heartbeat with a container) are listed\n"
    "last.\n",
    cmd_deployments_exec,
};

static int
cmd_deployments_print(const json_t *body)
{
	static const char *const head[] = {"DEPLOYMENT", "METADB", "NODES", "VERSIONS", "HEALTHY"};
	const json_t *list = json_object_get(body, "deployments"), *d,
	             *unplaced = json_object_get(body, "unplaced");
	size_t i;
	int ret = 0;

	json_array_foreach(list, i, d)
	{
		struct out_table *t = out_table_new(5, head), *nt;
		static const char *const nhead[] = {"NODE",      "STATUS", "ODC",   "IMAGE",
		                                    "CONTAINER", "HEALTH", "BACKUP"};
		char nodes[32], healthy[32], versions[256] = "", buf[1024];
		const char *cells[7];
		const json_t *v, *n;
		size_t k, off = 0;

		snprintf(nodes, sizeof(nodes), "%lld/%lld", ji(d, "online", 0), ji(d, "size", 0));
		snprintf(healthy, sizeof(healthy), "%lld", ji(d, "healthy", 0));
		json_array_foreach(json_object_get(d, "versions"), k, v)
		{
			int w = snprintf(versions + off, sizeof(versions) - off, "%s%s",
			                 k ? "," : "", json_string_value(v));
			if (w > 0 && (size_t)w < sizeof(versions) - off)
				off += (size_t)w;
		}
		cells[0] = js(d, "deployment");
		cells[1] = js(d, "name");
		cells[2] = nodes;
		cells[3] = versions;
		cells[4] = healthy;
		if (i > 0)
			printf("\n");
		out_table_row(t, cells);
		ret |= out_table_print(t, stdout, NULL);
		out_table_free(t);
		nt = out_table_new(7, nhead);
		json_array_foreach(json_object_get(d, "nodes"), k, n)
		{
			cells[0] = js(n, "host");
			cells[1] = js(n, "status");
			cells[2] = js(n, "version");
			cells[3] = js(n, "image");
			cells[4] = js(n, "state");
			cells[5] = js(n, "health");
			cells[6] = js(n, "backup");
			out_table_row(nt, cells);
		}
		ret |= out_table_print(nt, stdout, "  ");
		out_table_free(nt);
		/* Which node holds the backup, as the latest rollback check saw it. */
		const json_t *b = json_object_get(d, "backup");
		if (json_is_object(b)) {
			char on[512] = "", path[300];
			size_t o = 0;
			json_array_foreach(json_object_get(b, "on"), k, v)
			{
				int w = snprintf(on + o, sizeof(on) - o, "%s%s", o ? ", " : "",
				                 json_string_value(v));
				if (w > 0 && (size_t)w < sizeof(on) - o)
					o += (size_t)w;
			}
			printf("  backup %s (checked by %s): %s%s\n",
			       out_clean(js(b, "path"), path, sizeof(path)), js(b, "job"),
			       o ? "on " : "on no node", on);
		}
		json_array_foreach(json_object_get(d, "attention"), k, v)
		    printf("  ! %s\n", out_clean(json_string_value(v), buf, sizeof(buf)));
	}
	if (json_array_size(unplaced) > 0) {
		char buf[256];
		printf("%sno metadb known yet:", json_array_size(list) ? "\n" : "");
		json_array_foreach(unplaced, i, d)
		    printf(" %s", out_clean(json_string_value(d), buf, sizeof(buf)));
		printf("\n");
	}
	return ret == 0 ? CTL_EXIT_OK : CTL_EXIT_FAILED;
}

static int
cmd_deployments_exec(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {CTL_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
	json_t *args = NULL, *body = NULL;
	int ch, ret;

	while ((ch = ctl_getopt(c, &cmd_deployments_entry, argc, argv, opts)) != CTL_OPT_END)
		return ch == CTL_OPT_HELP ? CTL_EXIT_OK : CTL_EXIT_USAGE;
	if ((ret = ctl_operands(c, argc, argv, 0, 1, "DEPLOYMENT")) != 0)
		return ret;
	if (optind < argc && (args = json_pack("{s:s}", "deployment", argv[optind])) == NULL) {
		ctl_error(c, "out of memory");
		return CTL_EXIT_FAILED;
	}
	if ((ret = ctl_request(c, "deployments", args, false, &body)) != 0)
		return ret;
	if (c->output == CTL_OUT_JSON)
		ret = out_json(body) == 0 ? CTL_EXIT_OK : CTL_EXIT_FAILED;
	else
		ret = cmd_deployments_print(body);
	json_decref(body);
	return ret;
}
