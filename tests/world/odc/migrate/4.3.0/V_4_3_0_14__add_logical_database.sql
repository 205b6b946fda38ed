-- odc-fleet stand-in: real script V_4_3_1_4__add_logical_database.sql renumbered V_4_3_0_14 so that the stand-in's
-- 4.3.0 release holds only 4.3.0.x versions, as a real release does (tests/world/README.md).
-- ODC stand-in (odc-fleet test world): the statements of ODC's migration script of this
-- name that the stand-in's metadb subset needs, copied verbatim, in file order.
-- github.com/oceanbase/odc @ d517c0f27971642fb0cd7565fd61ab2309875ec3
-- server/odc-migrate/src/main/resources/migrate/common/V_4_3_1_4__add_logical_database.sql

-- from server/odc-migrate/src/main/resources/migrate/common/V_4_3_1_4__add_logical_database.sql:1-5
alter table connect_database modify column connection_id bigint(20) DEFAULT NULL COMMENT 'refernce to connect_connection.id';
alter table connect_database add column `type` varchar(32)  NOT NULL DEFAULT 'PHYSICAL' COMMENT 'optional value: PHYSICAL, LOGICAL';
alter table connect_database add column `alias` varchar(256) DEFAULT NULL COMMENT 'alias name for database';
alter table `connect_database` modify `last_sync_time` datetime default null comment 'last synchronizing time';
alter table `connect_database` add column `dialect_type` varchar(64) DEFAULT NULL COMMENT 'database dialect type';
