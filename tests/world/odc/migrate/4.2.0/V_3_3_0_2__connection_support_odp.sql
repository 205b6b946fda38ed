-- ODC stand-in (odc-fleet test world): the statements of ODC's migration script of this
-- name that the stand-in's metadb subset needs, copied verbatim, in file order.
-- github.com/oceanbase/odc @ d517c0f27971642fb0cd7565fd61ab2309875ec3
-- server/odc-migrate/src/main/resources/migrate/common/V_3_3_0_2__connection_support_odp.sql

-- from server/odc-migrate/src/main/resources/migrate/common/V_3_3_0_2__connection_support_odp.sql:8-10
ALTER TABLE `connect_connection` ADD COLUMN `type` VARCHAR(64) NOT NULL default 'UNKNOWN'
  COMMENT '连接类型，可选值 OB_MYSQL/OB_ORACLE/CLOUD_OB_MYSQL/CLOUD_OB_ORACLE/ODP_SHARDING_OB_MYSQL'
  AFTER last_modifier_id;
