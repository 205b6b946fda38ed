-- ODC stand-in (odc-fleet test world): the statements of ODC's migration script of this
-- name that the stand-in's metadb subset needs, copied verbatim, in file order.
-- github.com/oceanbase/odc @ d517c0f27971642fb0cd7565fd61ab2309875ec3
-- server/odc-migrate/src/main/resources/migrate/common/V_3_2_0__enterprise_console_schema.sql

-- from server/odc-migrate/src/main/resources/migrate/common/V_3_2_0__enterprise_console_schema.sql:4-35
CREATE TABLE IF NOT EXISTS `connect_connection` (
  `id` bigint(20) NOT NULL AUTO_INCREMENT COMMENT 'Id for database connection',
  `create_time` datetime NOT NULL DEFAULT CURRENT_TIMESTAMP COMMENT 'Record insertion time',
  `update_time` datetime DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP COMMENT 'Record modification time',
  `visible_scope` varchar(64) NOT NULL DEFAULT 'PRIVATE' COMMENT 'Visible scope, enum: PRIVATE, ORGANIZATION',
  `owner_id` bigint(20) NOT NULL COMMENT 'Owner id',
  `name` varchar(64) NOT NULL COMMENT 'Name for database connection',
  `organization_id` bigint(20) NOT NULL COMMENT 'Organization id',
  `creator_id` bigint(20) NOT NULL COMMENT 'Creator id, references odc_user_info(id)',
  `last_modifier_id` bigint(20) DEFAULT NULL COMMENT 'Last modifier id, references odc_user_info(id)',
  `dialect_type` varchar(64) NOT NULL COMMENT 'Dialect type of ob, enumeration values:OB_MYSQL,OB_ORACLE,ORACLE,MYSQL,OB_SHARDING',
  `host` varchar(64) NOT NULL COMMENT 'Database connection address',
  `port` int(11) DEFAULT NULL COMMENT 'Database connection port, not required for public cloud connection',
  `cluster_name` varchar(256) DEFAULT NULL COMMENT 'Cluster name of OceanBase, not required for public cloud connection',
  `tenant_name` varchar(256) DEFAULT NULL COMMENT 'Tenant name of OceanBase, not required for public cloud connection',
  `username` varchar(128) NOT NULL COMMENT 'Database username',
  `password` varchar(256) DEFAULT NULL COMMENT 'Database password',
  `default_schema` varchar(1024) DEFAULT NULL COMMENT 'Schema name of the default connection',
  `sys_tenant_username` varchar(32) DEFAULT NULL COMMENT 'Username under the sys tenant',
  `sys_tenant_password` varchar(256) DEFAULT NULL COMMENT 'Password of the user under the sys tenant',
  `readonly_username` varchar(32) DEFAULT NULL COMMENT 'Username of read only account for readonly db session',
  `readonly_password` varchar(256) DEFAULT NULL COMMENT 'Password of read only account for readonly db session',
  `config_url` varchar(256) DEFAULT NULL COMMENT '[Deprecated], for OCJ connection type',
  `query_timeout_seconds` int(11) DEFAULT NULL COMMENT 'Query timeout',
  `properties_json` varchar(1024) DEFAULT NULL COMMENT 'Extension field, no specific purpose',
  `is_enabled` tinyint(1) NOT NULL DEFAULT 1 COMMENT 'Flag bit, mark whether the connection is enabled',
  `is_password_saved` tinyint(1) NOT NULL DEFAULT 1 COMMENT 'Save password or not, 1 save, 0 not save',
  `cipher` varchar(16) NOT NULL DEFAULT 'RAW' COMMENT 'The algorithm used for encryption and decryption of the connection password field, optional value RAW/AES256SALT',
  `salt` varchar(32) NOT NULL COMMENT 'Used to connect the random value used by the encryption and decryption algorithm of the password field',
  CONSTRAINT pk_connect_connection PRIMARY KEY (`id`),
  CONSTRAINT uk_connect_connection_visible_scope_owner_id_name UNIQUE KEY (visible_scope, owner_id, name)
);

-- from server/odc-migrate/src/main/resources/migrate/common/V_3_2_0__enterprise_console_schema.sql:77-96
CREATE TABLE IF NOT EXISTS `iam_user`(
 `id` bigint NOT NULL AUTO_INCREMENT,
 `name` varchar(128) NOT NULL,
 `account_name` varchar(128) NOT NULL,
 `organization_id` bigint NOT NULL,
 `email_address` varchar(320) DEFAULT NULL,
 `password` varchar(256) NOT NULL,
 `cipher` varchar(16) NOT NULL DEFAULT 'RAW',
 `is_active` tinyint(1) NOT NULL DEFAULT '0',
 `is_enabled` tinyint(1) NOT NULL DEFAULT '1',
 `creator_id` bigint NOT NULL,
 `is_builtin` tinyint(1) NOT NULL DEFAULT '0',
 `user_create_time` datetime DEFAULT NULL,
 `user_update_time` datetime DEFAULT NULL,
 `create_time` datetime NOT NULL DEFAULT CURRENT_TIMESTAMP COMMENT 'Record insertion time',
 `update_time` datetime DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP COMMENT 'Record modification time',
 `description` varchar(512) DEFAULT NULL,
 CONSTRAINT pk_iam_user_id PRIMARY KEY(`id`),
 CONSTRAINT uk_iam_user_organization_id_account_name UNIQUE KEY(`organization_id`, `account_name`)
 ) AUTO_INCREMENT = 10000;

-- from server/odc-migrate/src/main/resources/migrate/common/V_3_2_0__enterprise_console_schema.sql:98-111
CREATE TABLE IF NOT EXISTS `iam_organization`(
 `id` BIGINT NOT NULL AUTO_INCREMENT,
 `create_time` DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP COMMENT 'Record insertion time',
 `update_time` DATETIME DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP COMMENT 'Record modification time',
 `unique_identifier` VARCHAR(128) NOT NULL COMMENT 'Unique identifier, may from external system (e.g. a GUID of main account in public aliyun), or UUID generated by ODC',
 `secret` VARCHAR(256) NOT NULL COMMENT 'Secret for public connection encryption',
 `name` VARCHAR(256) NOT NULL COMMENT 'Name',
 `creator_id` BIGINT NULL DEFAULT NULL COMMENT 'UserID of creator, may NULL',
 `is_builtin` tinyint(1) NOT NULL DEFAULT '0',
 `description` VARCHAR(512) NULL DEFAULT NULL COMMENT 'Description',
 CONSTRAINT pk_iam_organization_id PRIMARY KEY (`id`),
 CONSTRAINT uk_iam_organization_unique_identifier UNIQUE KEY (`unique_identifier`),
 CONSTRAINT uk_iam_organization_name UNIQUE KEY (`name`)
) AUTO_INCREMENT = 10000;

-- from server/odc-migrate/src/main/resources/migrate/common/V_3_2_0__enterprise_console_schema.sql:154-166
CREATE TABLE IF NOT EXISTS `iam_permission`(
 `id` bigint NOT NULL AUTO_INCREMENT,
 `organization_id` bigint NOT NULL,
 `action` varchar(64) NOT NULL COMMENT 'query / create / update / delete / read / readandwrite',
 `resource_identifier` varchar(128) NOT NULL COMMENT 'key value expression like resource_group:10',
 `type`  varchar(64) NOT NULL COMMENT 'system / public_resource',
 `creator_id` bigint NOT NULL,
 `is_builtin` tinyint(1) NOT NULL DEFAULT '0',
 `create_time` datetime NOT NULL DEFAULT CURRENT_TIMESTAMP COMMENT 'Record insertion time',
 `update_time` datetime DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP COMMENT 'Record modification time',
 `description` varchar(512) DEFAULT NULL,
 CONSTRAINT pk_iam_permission_id PRIMARY KEY (`id`)
) AUTO_INCREMENT = 10000;
