/* The metadb over the MySQL protocol (MariaDB Connector/C): reachability,
 * the migration history, tables and row counts, and the few statements the
 * clean restore needs. OceanBase's MySQL mode and MariaDB both answer. */
#ifndef ODC_AGENT_METADB_H
#define ODC_AGENT_METADB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct metadb_conf {
	const char *host;
	unsigned port;
	const char *user; /* login name as the server knows it (user@tenant#cluster on OceanBase) */
	const char *password; /* may be empty */
	const char *database;
	unsigned timeout_s; /* connect, read and write timeouts; 0 = METADB_TIMEOUT_DEFAULT */
};

/* Added: the timeout used when timeout_s is 0, and the most tables
 * metadb_tables returns before it refuses. */
#define METADB_TIMEOUT_DEFAULT 30
#define METADB_MAX_TABLES      100000

struct metadb;

/* Connect; NULL with a message naming host:port, user and the server's
 * error (e.g. "Access denied") in err. Always over TCP (also for
 * "localhost"), LOAD DATA LOCAL disabled, character set utf8mb4; the
 * database name is at most 64 bytes. The password is not kept by us and
 * never appears in err. Free with metadb_close (NULL is fine). */
struct metadb *metadb_connect(const struct metadb_conf *c, char *err, size_t errlen);
void metadb_close(struct metadb *m);

/* The highest version among successful rows of migrate_schema_history
 * (versions compared numerically, see version.h). Returns 0, 1 when the
 * table is absent or empty (out = ""), -1 on error. Reads at most 100000
 * successful rows (more is an error), each version at most VERSION_MAX
 * bytes; NULL and empty versions are skipped. 1 also when no row is
 * successful. */
int metadb_history_version(struct metadb *m, char *out, size_t outlen, char *err, size_t errlen);

/* The objects of one kind in the database, sorted by name: *names is a
 * malloc'd array of malloc'd strings; free with metadb_names_free. Kinds:
 * "TABLE" (base and system-versioned tables), "VIEW", "SEQUENCE",
 * "TRIGGER", "PROCEDURE", "FUNCTION" (the folder names obdumper uses), and
 * "FOREIGN KEY" (one entry per foreign key: the name of its table, so a
 * table with two has two entries). Sorted bytewise (strcmp), not by the
 * server's collation; more than METADB_MAX_TABLES names, or a name over 256
 * bytes, is an error. On error *names is NULL and *n 0. */
int metadb_list(struct metadb *m, const char *kind, char ***names, size_t *n, char *err,
                size_t errlen);

/* metadb_list(m, "TABLE", ...). */
int metadb_tables(struct metadb *m, char ***names, size_t *n, char *err, size_t errlen);
void metadb_names_free(char **names, size_t n);

/* SELECT COUNT(*) of one table (name checked against [A-Za-z0-9_$]{1,64}
 * before anything is sent; a bad name is -1 with "refusing table name"). */
int metadb_count(struct metadb *m, const char *table, uint64_t *rows, char *err, size_t errlen);

/* DROP <kind> IF EXISTS of one object (kinds of metadb_list but "FOREIGN
 * KEY"; same name rule); metadb_drop_table is metadb_drop(m, "TABLE", ..). */
int metadb_drop(struct metadb *m, const char *kind, const char *name, char *err, size_t errlen);
int metadb_drop_table(struct metadb *m, const char *table, char *err, size_t errlen);

/* One statement, as given (the clean restore's DDL, parsed from the backup
 * by ddl.h and checked to be about the object it restores); rows it might
 * return are discarded. Errors name what (e.g. "creating table t"). */
int metadb_exec(struct metadb *m, const char *sql, const char *what, char *err, size_t errlen);

/* SET SESSION foreign_key_checks = 1 or 0 (this connection only). */
int metadb_foreign_key_checks(struct metadb *m, bool on, char *err, size_t errlen);

/* The "user@tenant#cluster" login name OceanBase proxies expect, or user
 * alone when tenant and cluster are empty (NULL counts as empty), or
 * "user@tenant" when only cluster is empty. Returns 0, or -1 (out = "")
 * when user is empty, cluster is given without tenant, a part of a composed
 * name contains '@' or '#', or the name does not fit in outlen. */
int metadb_login_name(const char *user, const char *tenant, const char *cluster, char *out,
                      size_t outlen);

/* Runs q and calls fn for every row it returns, at most max_rows of them
 * (more is an error); cols[i] is NULL for SQL NULL, lens[i] its length.
 * fn returning non-zero stops the walk (the rest is read and dropped) and
 * that value is returned. Errors name what. 0, or -1 with err. */
int metadb_query(struct metadb *m, const char *q, const char *what, size_t max_rows,
                 int (*fn)(void *ctx, char **cols, const unsigned long *lens, unsigned ncols),
                 void *ctx, char *err, size_t errlen);
/* s as an SQL string literal with its quotes, escaped for this connection:
 * 0, or -1 when it does not fit in outlen. */
int metadb_literal(struct metadb *m, const char *s, char *out, size_t outlen);
/* This connection's id (CONNECTION_ID()) and its database name. */
unsigned long metadb_connection_id(struct metadb *m);
const char *metadb_database(const struct metadb *m);
/* The server's error number of the last statement (ER_TABLE_EXISTS_ERROR ...). */
unsigned metadb_errno(struct metadb *m);

#endif
