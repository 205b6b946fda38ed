-- odc-fleet stand-in: real script V_4_3_2_2__alter_connect_connection.sql renumbered V_4_3_0_22 so that the stand-in's
-- 4.3.0 release holds only 4.3.0.x versions, as a real release does (tests/world/README.md).
-- ODC stand-in (odc-fleet test world): the statements of ODC's migration script of this
-- name that the stand-in's metadb subset needs, copied verbatim, in file order.
-- github.com/oceanbase/odc @ d517c0f27971642fb0cd7565fd61ab2309875ec3
-- server/odc-migrate/src/main/resources/migrate/common/V_4_3_2_2__alter_connect_connection.sql

-- from server/odc-migrate/src/main/resources/migrate/common/V_4_3_2_2__alter_connect_connection.sql:4
alter table `connect_connection` add column `catalog_name` varchar(255) DEFAULT NULL COMMENT 'Parameters specific to PostgreSql mode, which represent an instance of a database';

-- from server/odc-migrate/src/main/resources/migrate/common/V_4_3_2_2__alter_connect_connection.sql:5
alter table `connect_database` add column `connect_type` varchar(128) DEFAULT NULL COMMENT 'database connect type, enum values: OB_MYSQL, OB_ORACLE, CLOUD_OB_MYSQL, CLOUD_OB_ORACLE, etc.';
