-- ODC stand-in (odc-fleet test world): the statements of ODC's migration script of this
-- name that the stand-in's metadb subset needs, copied verbatim, in file order.
-- github.com/oceanbase/odc @ d517c0f27971642fb0cd7565fd61ab2309875ec3
-- server/odc-migrate/src/main/resources/migrate/oceanbase/V_3_2_3_3__alter_config_system_configuration.sql

-- from server/odc-migrate/src/main/resources/migrate/oceanbase/V_3_2_3_3__alter_config_system_configuration.sql:3-4
ALTER TABLE `config_system_configuration` CHANGE COLUMN `value` `value_deprecated` varchar(1024);
ALTER TABLE `config_system_configuration` ADD COLUMN `value` TEXT DEFAULT NULL COMMENT 'system config value';
