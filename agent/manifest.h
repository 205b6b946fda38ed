/* The odc-fleet manifest of a backup: what a backup taken by odc-fleet (an
 * `odc-agent run backup`, a rollback's safety snapshot) held when it was
 * taken, signed by the agent, so that a damaged backup (a data file cut at
 * a record boundary, a file or a whole table missing, a file added) is
 * refused before a restore instead of being restored and "verified"
 * against itself. A backup taken by hand with obdumper has none: obdumper's
 * own MANIFEST.bin is a serialized Java object of no public format,
 * written when the dump starts and rewritten by every obloader run, so it
 * proves nothing; such a backup's completeness cannot be verified.
 *
 * In the backup's top directory:
 *   odc-fleet-manifest.json  {"format": "odc-fleet-backup/1", "database",
 *                            "host_id", "taken_at" (UTC,
 *                            20261206T235959Z), "version"
 *                            (the metadb's migration version), "tables":
 *                            {name: rows}, "views": [names], "files":
 *                            [{"path", "bytes", "sha256"}]}: every file under
 *                            the backup's object folder (data/<db>/TABLE/...,
 *                            VIEW/...), paths relative to the backup, sorted
 *   odc-fleet-manifest.sig   "odc-ed25519-pub:<hex>\nodc-ed25519-sig:<hex>\n":
 *                            the signer and an Ed25519 signature of the exact
 *                            bytes of the .json file
 * The signing key is the agent's [keys] secret_key when it has one, else
 * STATE_DIR/backup-signing.key (made on first use, 0600; its public half in
 * backup-signing.key.pub). Both are trusted when a manifest is verified, and
 * so are the keys of [trust] backups (other agents, whose backups this one
 * restores: an HA node's, a shared backup's). */
#ifndef ODC_AGENT_MANIFEST_H
#define ODC_AGENT_MANIFEST_H

#include <stddef.h>

#include "agent/agent.h"
#include "agent/backup.h"

#define MANIFEST_JSON "odc-fleet-manifest.json"
#define MANIFEST_SIG  "odc-fleet-manifest.sig"
#define MANIFEST_MAX  (16u << 20) /* bytes of the .json we read */

/* Write the manifest of the backup in dir, which b describes (from
 * backup_inspect), signed with the agent's key. Returns 0, or -1 with err. */
int manifest_write(const struct agent_conf *c, const char *dir, const struct backup_info *b,
                   const char *taken_at, char *err, size_t errlen);

/* Check the backup in dir (described by b) against its manifest.
 * Returns 0: intact, signed by one of this agent's keys (its fingerprint
 * in signer); 1: no manifest (taken by hand); 2: intact, but signed by a
 * key this agent neither has nor trusts (signer names it); -1: damaged or not what
 * the manifest says (err names the file, table or field and what differs:
 * "data/db/TABLE/t.1.0.csv: 1024 bytes, the manifest says 2048"), or the
 * manifest itself is damaged (a bad signature, a .json without .sig). */
int manifest_verify(const struct agent_conf *c, const char *dir, const struct backup_info *b,
                    char *signer, size_t signerlen, char *err, size_t errlen);

#endif
