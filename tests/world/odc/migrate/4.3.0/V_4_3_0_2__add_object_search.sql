-- ODC stand-in (odc-fleet test world): the statements of ODC's migration script of this
-- name that the stand-in's metadb subset needs, copied verbatim, in file order.
-- github.com/oceanbase/odc @ d517c0f27971642fb0cd7565fd61ab2309875ec3
-- server/odc-migrate/src/main/resources/migrate/common/V_4_3_0_2__add_object_search.sql

-- from server/odc-migrate/src/main/resources/migrate/common/V_4_3_0_2__add_object_search.sql:2-12
CREATE TABLE IF NOT EXISTS `database_schema_object` (
  `id` bigint(20) NOT NULL AUTO_INCREMENT COMMENT 'ID of the database object',
  `name` varchar(128) NOT NULL COMMENT 'Name of the database object',
  `type` varchar(32) NOT NULL COMMENT 'Type of the database object, optional values: TABLE, VIEW, FUNCTION, PROCEDURE, PACKAGE, TRIGGER, TYPE, SEQUENCE, SYNONYM, PUBLIC_SYNONYM',
  `database_id` bigint(20) NOT NULL COMMENT 'ID of the related database, refer to connect_database.id',
  `organization_id` bigint(20) NOT NULL COMMENT 'ID of the related organization, refer to iam_organization.id',
  `create_time` datetime NOT NULL DEFAULT CURRENT_TIMESTAMP COMMENT 'Record insertion time',
  `update_time` datetime DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP COMMENT 'Record modification time',
  CONSTRAINT `pk_database_schema_object_id` PRIMARY KEY (`id`),
  INDEX `idx_database_schema_object_database_id_type_name` (`database_id`, `type`, `name`)
) COMMENT = 'Record all database objects such as table, view, function, procedure, package,  package_body, trigger, type, sequence, synonym and public synonym';

-- from server/odc-migrate/src/main/resources/migrate/common/V_4_3_0_2__add_object_search.sql:28-29
ALTER TABLE `connect_database` ADD COLUMN `object_sync_status` varchar ( 32 ) NOT NULL DEFAULT 'INITIALIZED' COMMENT 'Database object synchronizing status, optional values: INITIALIZED, PENDING, SYNCING, FAILED, SYNCED';
ALTER TABLE `connect_database` ADD COLUMN `object_last_sync_time` datetime DEFAULT NULL COMMENT 'Database object last synchronizing time';
