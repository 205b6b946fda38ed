-- ODC stand-in (odc-fleet test world): the statements of ODC's migration script of this
-- name that the stand-in's metadb subset needs, copied verbatim, in file order.
-- github.com/oceanbase/odc @ d517c0f27971642fb0cd7565fd61ab2309875ec3
-- server/odc-migrate/src/main/resources/migrate/common/V_3_5_0_8__partition_plan.sql

-- from server/odc-migrate/src/main/resources/migrate/common/V_3_5_0_8__partition_plan.sql:43
ALTER TABLE `flow_instance` ADD COLUMN `parent_instance_id` bigint DEFAULT NULL COMMENT '父流程实例 ID';
