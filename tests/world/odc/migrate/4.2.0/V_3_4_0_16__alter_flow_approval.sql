-- ODC stand-in (odc-fleet test world): the statements of ODC's migration script of this
-- name that the stand-in's metadb subset needs, copied verbatim, in file order.
-- github.com/oceanbase/odc @ d517c0f27971642fb0cd7565fd61ab2309875ec3
-- server/odc-migrate/src/main/resources/migrate/common/V_3_4_0_16__alter_flow_approval.sql

-- from server/odc-migrate/src/main/resources/migrate/common/V_3_4_0_16__alter_flow_approval.sql:20-21
ALTER TABLE `flow_instance_node_task` ADD COLUMN `execution_time` datetime DEFAULT NULL
  COMMENT '定时执行时间'
