/* What the files of the ODC stand-in share: its configuration, its log, one statement run
 * against the metadb, and the migration lock (lock.c). Everything else is static to the
 * file that owns it: odc-server.c (start-up, migrations, HTTP), lock.c (DISTRIBUTED_LOCK). */
#ifndef ODC_STANDIN_H
#define ODC_STANDIN_H

#include <stddef.h>
#include <mysql.h>

#define VERSION_MAX 32
#define FAULT_MAX   32

/* The environment as read at start (config_load); the strings point into the environment. */
struct config {
	const char *db_host, *db_user, *db_password, *db_name, *profile;
	const char *dir; /* ODC_STANDIN_DIR: VERSION, FAULT, migrate/, init/, seed/ */
	unsigned db_port, server_port;
	long start_delay_ms, migrate_delay_ms, migration_ms, connect_timeout_s;
	char version[VERSION_MAX]; /* the release, "4.2.0": what migrations compare with */
	char build[VERSION_MAX];   /* what /api/v1/info reports, "4.2.0-20230916" */
	char fault[FAULT_MAX];     /* the image's FAULT file: "" or "after-migrate" */
};

/* One line in ODC's log ($ODC_HOME/log/odc.log, else stdout), flushed at once. */
void log_event(const char *level, const char *logger, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Runs one statement and discards any result; logs a failure as Spring's ScriptUtils does
 * ("statement #stmt_no of what"). Returns 0, or -1 (mysql_errno(db) says why). */
int db_exec(MYSQL *db, const char *sql, size_t len, const char *what, int stmt_no);

/* Sleeps ms milliseconds, resuming after signals. */
void sleep_ms(long ms);

/* The migration lock as ODC holds it (lock.c). */
struct lock {
	char client_id[64]; /* "<local ip>:<server port>", CLIENT_ID of our row */
	int held;
};

/* LockConfiguration: CREATE TABLE IF NOT EXISTS DISTRIBUTED_LOCK, and our client id. On every
 * start, before the migration. Returns 0, or -1 (logged). */
int lock_init(MYSQL *db, const struct config *c, struct lock *l);

/* AbstractMigrate.doMigrate's tryLock(60 s) of ODC_METADB_MIGRATE: polls every 100 ms; takes
 * the row when it is ours or older than the TTL (60 s). Returns 0 with l->held set, or -1
 * after logging ODC's timeout warning (or a database error). */
int lock_acquire(MYSQL *db, struct lock *l);

/* lock.unlock() in doMigrate's finally: deletes our row. Harmless when not held. */
void lock_release(MYSQL *db, struct lock *l);

#endif
