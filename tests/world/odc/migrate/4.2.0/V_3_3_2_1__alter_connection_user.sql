-- ODC stand-in (odc-fleet test world): the statements of ODC's migration script of this
-- name that the stand-in's metadb subset needs, copied verbatim, in file order.
-- github.com/oceanbase/odc @ d517c0f27971642fb0cd7565fd61ab2309875ec3
-- server/odc-migrate/src/main/resources/migrate/common/V_3_3_2_1__alter_connection_user.sql

-- from server/odc-migrate/src/main/resources/migrate/common/V_3_3_2_1__alter_connection_user.sql:8-9
ALTER TABLE `connect_connection` ADD COLUMN `is_temp` BOOL NOT NULL default 0
  COMMENT '是否临时连接，1 是，0 否';

-- from server/odc-migrate/src/main/resources/migrate/common/V_3_3_2_1__alter_connection_user.sql:14-15
ALTER TABLE `iam_user` ADD COLUMN `type` VARCHAR(16) NOT NULL default 'USER'
  COMMENT '账号类型，可选值 SYSTEM/USER/SERVICE';
