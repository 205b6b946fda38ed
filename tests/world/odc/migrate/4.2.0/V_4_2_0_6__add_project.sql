-- ODC stand-in (odc-fleet test world): the statements of ODC's migration script of this
-- name that the stand-in's metadb subset needs, copied verbatim, in file order.
-- github.com/oceanbase/odc @ d517c0f27971642fb0cd7565fd61ab2309875ec3
-- server/odc-migrate/src/main/resources/migrate/common/V_4_2_0_6__add_project.sql

-- from server/odc-migrate/src/main/resources/migrate/common/V_4_2_0_6__add_project.sql:33-51
CREATE TABLE IF NOT EXISTS `connect_database` (
  `id` bigint(20) NOT NULL AUTO_INCREMENT,
  `database_id` varchar(256) NOT NULL,
  `is_existed` tinyint(1) NOT NULL DEFAULT '1',
  `create_time` datetime NOT NULL DEFAULT CURRENT_TIMESTAMP,
  `update_time` datetime DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  `name` varchar(256) NOT NULL,
  `organization_id` bigint(20) NOT NULL,
  `project_id` bigint(20) DEFAULT NULL COMMENT 'refernce to collaboration_project.id, null means this database does not belong to any project',
  `connection_id` bigint(20) NOT NULL COMMENT 'refernce to connect_connection.id',
  `environment_id` bigint(20) NOT NULL COMMENT 'refernce to collaboration_environment.id',
  `sync_status` varchar(64) NOT NULL COMMENT 'synchronizing status, enum values: PENDING, SUCCEEDED, FAILED',
  `last_sync_time` datetime NOT NULL COMMENT 'last synchronizing time',
  `charset_name` varchar(128) NOT NULL COMMENT 'database charset name',
  `collation_name` varchar(128) NOT NULL COMMENT 'database collation name',
  `table_count` bigint(20) COMMENT 'table count which belongs to the database',
  CONSTRAINT `pk_connect_database_id` PRIMARY KEY (`id`),
  CONSTRAINT `uk_connect_database_connection_id_db_id` UNIQUE KEY (`connection_id`, `database_id`)
);

-- from server/odc-migrate/src/main/resources/migrate/common/V_4_2_0_6__add_project.sql:54
alter table `connect_connection` modify `visible_scope` varchar(64) DEFAULT 'ORGANIZATION' COMMENT '[deprecated since ODC 4.2.0] Visible scope, enum: PRIVATE, ORGANIZATION';

-- from server/odc-migrate/src/main/resources/migrate/common/V_4_2_0_6__add_project.sql:57
alter table `connect_connection` modify `owner_id` bigint(20) COMMENT '[deprecated since ODC 4.2.0] Owner id';

-- from server/odc-migrate/src/main/resources/migrate/common/V_4_2_0_6__add_project.sql:60
alter table `connect_connection` add column `environment_id` bigint(20) NOT NULL DEFAULT -1 COMMENT 'refernce to collaboration_environment, default value is -1 which means not belongs to any env and needs to migrate';

-- from server/odc-migrate/src/main/resources/migrate/common/V_4_2_0_6__add_project.sql:64
alter table `connect_connection` drop index uk_connect_connection_visible_scope_owner_id_name;
