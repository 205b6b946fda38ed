-- ODC stand-in (odc-fleet test world): the statements of ODC's migration script of this
-- name that the stand-in's metadb subset needs, copied verbatim, in file order.
-- github.com/oceanbase/odc @ d517c0f27971642fb0cd7565fd61ab2309875ec3
-- server/odc-migrate/src/main/resources/migrate/common/V_4_3_0_7__alter_flow_instance_node_add_index.sql

-- from server/odc-migrate/src/main/resources/migrate/common/V_4_3_0_7__alter_flow_instance_node_add_index.sql:1
alter table `flow_instance_node_task` add index `idx_flow_instance_node_task_instance_id` (`flow_instance_id`);
