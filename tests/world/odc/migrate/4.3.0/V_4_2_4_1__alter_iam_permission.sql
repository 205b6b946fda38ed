-- ODC stand-in (odc-fleet test world): the statements of ODC's migration script of this
-- name that the stand-in's metadb subset needs, copied verbatim, in file order.
-- github.com/oceanbase/odc @ d517c0f27971642fb0cd7565fd61ab2309875ec3
-- server/odc-migrate/src/main/resources/migrate/common/V_4_2_4_1__alter_iam_permission.sql

-- from server/odc-migrate/src/main/resources/migrate/common/V_4_2_4_1__alter_iam_permission.sql:4-6
ALTER TABLE `iam_permission` ADD COLUMN `expire_time` DATETIME NOT NULL DEFAULT '9999-12-31 23:59:59' COMMENT 'Expiration time of the permission, the default value is 9999-12-31 23:59:59 which means it will never expire';
ALTER TABLE `iam_permission` ADD COLUMN `authorization_type` VARCHAR ( 32 ) NOT NULL DEFAULT 'USER_AUTHORIZATION' COMMENT 'Type of authorization, optional value: USER_AUTHORIZATION ｜ TICKET_APPLICATION';
ALTER TABLE `iam_permission` ADD COLUMN `ticket_id` BIGINT ( 20 ) DEFAULT NULL COMMENT 'ID of the ticket associated with the permission, refer to flow_instance.id, valid only if the source_type is TICKET_APPLICATION';
