-- ODC stand-in (odc-fleet test world): the statements of ODC's migration script of this
-- name that the stand-in's metadb subset needs, copied verbatim, in file order.
-- github.com/oceanbase/odc @ d517c0f27971642fb0cd7565fd61ab2309875ec3
-- server/odc-migrate/src/main/resources/migrate/common/V_4_2_1_6__alter_connect_database.sql

-- from server/odc-migrate/src/main/resources/migrate/common/V_4_2_1_6__alter_connect_database.sql:1-4
alter table `connect_database` modify `charset_name` varchar(128) default null comment 'database charset name';
alter table `connect_database` modify `collation_name` varchar(128) default null comment 'database collation name';
alter table `connect_database` modify `table_count` bigint(20) default null comment 'table count which belongs to the database';
alter table `connect_database` modify `last_sync_time` datetime not null default CURRENT_TIMESTAMP comment 'last synchronizing time';
