/* The metadb migration lock of the ODC stand-in, as ODC takes it: Spring Integration 5.5.18's
 * JdbcLockRegistry over DefaultLockRepository, one row of DISTRIBUTED_LOCK per held lock
 * (tests/world/ODC-UPGRADE-FACTS.md §2; oceanbase/odc LockConfiguration.java and
 * AbstractMetaDBMigrate.java at v4.2.x/v4.3.x, BaseLockConfiguration.java at HEAD). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <mysqld_error.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "standin.h"

#define LOCK_TABLE      "DISTRIBUTED_LOCK"
#define LOCK_REGION     "DEFAULT"
#define LOCK_TTL_S      60  /* LOCK_TIME_TO_LIVE_SECONDS */
#define LOCK_TRY_S      60  /* AbstractMigrate TRY_LOCK_TIMEOUT_SECONDS */
#define LOCK_POLL_MS    100 /* JdbcLockRegistry's idle between attempts */
#define LOCK_SQL_MAX    512
#define LOCK_CFG_LOGGER "c.o.odc.config.LockConfiguration"
#define LOCK_MIG_LOGGER "c.o.o.migrate.AbstractMetaDBMigrate"

/* JdbcLockRegistry stores UUIDConverter.getUUID("ODC_METADB_MIGRATE"), which is Java's
 * UUID.nameUUIDFromBytes (an MD5 name-based UUID) of the key's UTF-8 bytes. */
#define LOCK_KEY_UUID "5cd72562-5ff7-3ae1-8d2a-b93c5e7446d6"

/* LockConfiguration.CREATE_LOCK_TABLE_SQL, verbatim. */
static const char lock_table_sql[] =
    "CREATE TABLE IF NOT EXISTS DISTRIBUTED_LOCK (\n"
    "  LOCK_KEY CHAR(36) NOT NULL,\n"
    "  REGION VARCHAR(100) NOT NULL,\n"
    "  CLIENT_ID CHAR(36),\n"
    "  CREATED_DATE DATETIME(6) NOT NULL,\n"
    "  constraint DISTRIBUTED_LOCK_PK primary key (LOCK_KEY, REGION)\n"
    ")";

/* SystemUtils.getLocalIpAddress(): InetAddress.getLocalHost() (the host name resolved),
 * otherwise the first non-loopback IPv4 address of any interface; "127.0.0.1" when there is
 * none. Writes a dotted quad into out. */
static void
local_ip(char *out, size_t cap)
{
	struct addrinfo hints, *res = NULL;
	struct ifaddrs *ifs = NULL, *i;
	char host[256];

	snprintf(out, cap, "127.0.0.1");
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET;
	if (gethostname(host, sizeof(host)) == 0 && getaddrinfo(host, NULL, &hints, &res) == 0 &&
	    res != NULL) {
		inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, out,
		          (socklen_t)cap);
		freeaddrinfo(res);
		return;
	}
	if (getifaddrs(&ifs) != 0)
		return;
	for (i = ifs; i != NULL; i = i->ifa_next) {
		struct in_addr a;

		if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET)
			continue;
		a = ((struct sockaddr_in *)i->ifa_addr)->sin_addr;
		if ((ntohl(a.s_addr) >> 24) == 127)
			continue;
		inet_ntop(AF_INET, &a, out, (socklen_t)cap);
		break;
	}
	freeifaddrs(ifs);
}

/* The JVM's clock as JDBC writes a java.util.Date into DATETIME(6): the container's UTC,
 * shifted by offset_s seconds. */
static void
lock_stamp(char *out, size_t cap, long offset_s)
{
	struct timespec ts;
	struct tm tm;
	time_t t;
	char base[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	t = ts.tv_sec + offset_s;
	gmtime_r(&t, &tm);
	strftime(base, sizeof(base), "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(out, cap, "%.19s.%06u", base, (unsigned)(ts.tv_nsec / 1000L) % 1000000u);
}

int
lock_init(MYSQL *db, const struct config *c, struct lock *l)
{
	char ip[INET_ADDRSTRLEN];

	memset(l, 0, sizeof(*l));
	local_ip(ip, sizeof(ip));
	snprintf(l->client_id, sizeof(l->client_id), "%s:%u", ip, c->server_port);
	log_event("INFO", LOCK_CFG_LOGGER,
	          "create odc lock repository..., localIpAddress=%s, listenPort=%u", ip,
	          c->server_port);
	if (db_exec(db, lock_table_sql, sizeof(lock_table_sql) - 1, LOCK_TABLE, 1) != 0)
		return -1;
	log_event("INFO", LOCK_CFG_LOGGER, "lock table created, table=" LOCK_TABLE);
	return 0;
}

/* One attempt of DefaultLockRepository.acquire(): take the row when it is ours or expired,
 * else insert it. Returns 1 when we hold it, 0 when another client does, -1 on error. The
 * client id has only digits, dots and a colon, so it needs no escaping. */
static int
lock_try(MYSQL *db, const struct lock *l)
{
	char sql[LOCK_SQL_MAX], now[64], expired[64];
	int n;

	lock_stamp(now, sizeof(now), 0);
	lock_stamp(expired, sizeof(expired), -LOCK_TTL_S);
	n = snprintf(sql, sizeof(sql),
	             "UPDATE " LOCK_TABLE " SET CLIENT_ID='%s', CREATED_DATE='%s' WHERE "
	             "REGION='" LOCK_REGION "' AND LOCK_KEY='" LOCK_KEY_UUID "' AND "
	             "(CLIENT_ID='%s' OR CREATED_DATE<'%s')",
	             l->client_id, now, l->client_id, expired);
	if (n < 0 || n >= (int)sizeof(sql) || mysql_real_query(db, sql, (unsigned long)n) != 0)
		goto fail;
	if (mysql_affected_rows(db) > 0)
		return 1;
	n = snprintf(sql, sizeof(sql),
	             "INSERT INTO " LOCK_TABLE " (REGION, LOCK_KEY, CLIENT_ID, CREATED_DATE) "
	             "VALUES ('" LOCK_REGION "', '" LOCK_KEY_UUID "', '%s', '%s')",
	             l->client_id, now);
	if (n < 0 || n >= (int)sizeof(sql))
		goto fail;
	if (mysql_real_query(db, sql, (unsigned long)n) == 0)
		return 1;
	if (mysql_errno(db) == ER_DUP_ENTRY)
		return 0;
fail:
	log_event("ERROR", LOCK_MIG_LOGGER, "lock " LOCK_TABLE ": (%u) %s", mysql_errno(db),
	          mysql_error(db));
	return -1;
}

int
lock_acquire(MYSQL *db, struct lock *l)
{
	struct timespec t0, t;
	int got;

	log_event("INFO", LOCK_MIG_LOGGER, "try lock...");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		got = lock_try(db, l);
		if (got < 0)
			return -1;
		if (got > 0)
			break;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec >= LOCK_TRY_S) {
			log_event("WARN", LOCK_MIG_LOGGER,
			          "failed to start migrate due try lock timeout, "
			          "TRY_LOCK_TIMEOUT_SECONDS=%d",
			          LOCK_TRY_S);
			log_event(
			    "ERROR", LOCK_MIG_LOGGER,
			    "java.lang.RuntimeException: failed to start migrate due try lock "
			    "timeout");
			return -1;
		}
		sleep_ms(LOCK_POLL_MS);
	}
	l->held = 1;
	log_event("INFO", LOCK_MIG_LOGGER, "get lock success");
	return 0;
}

void
lock_release(MYSQL *db, struct lock *l)
{
	char sql[LOCK_SQL_MAX];
	int n;

	if (!l->held)
		return;
	l->held = 0;
	n = snprintf(sql, sizeof(sql),
	             "DELETE FROM " LOCK_TABLE " WHERE REGION='" LOCK_REGION
	             "' AND LOCK_KEY='" LOCK_KEY_UUID "' AND CLIENT_ID='%s'",
	             l->client_id);
	if (n > 0 && n < (int)sizeof(sql))
		db_exec(db, sql, (size_t)n, LOCK_TABLE, 1);
}
