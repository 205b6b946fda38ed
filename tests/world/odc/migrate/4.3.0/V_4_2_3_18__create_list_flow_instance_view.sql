-- ODC stand-in (odc-fleet test world): the statements of ODC's migration script of this
-- name that the stand-in's metadb subset needs, copied verbatim, in file order.
-- github.com/oceanbase/odc @ d517c0f27971642fb0cd7565fd61ab2309875ec3
-- server/odc-migrate/src/main/resources/migrate/common/V_4_2_3_18__create_list_flow_instance_view.sql

-- from server/odc-migrate/src/main/resources/migrate/common/V_4_2_3_18__create_list_flow_instance_view.sql:1-20
CREATE OR REPLACE  VIEW `list_flow_instance_view` AS select /*+use_merge(flow_instance flow_instance_node_task)*/
    `flow_instance`.`id` AS `id`,
    `flow_instance`.`create_time` AS `create_time`,
    `flow_instance`.`update_time` AS `update_time`,
    `flow_instance`.`name` AS `name`,
    `flow_instance`.`flow_config_id` AS `flow_config_id`,
    `flow_instance`.`creator_id` AS `creator_id`,
    `flow_instance`.`organization_id` AS `organization_id`,
    `flow_instance`.`process_definition_id` AS `process_definition_id`,
    `flow_instance`.`process_instance_id` AS `process_instance_id`,
    `flow_instance`.`status` AS `status`,
    `flow_instance`.`flow_config_snapshot_xml` AS `flow_config_snapshot_xml`,
    `flow_instance`.`description` AS `description`,
    `flow_instance`.`parent_instance_id` AS `parent_instance_id`,
    `flow_instance`.`project_id` AS `project_id`,
    `flow_instance_node_task`.`task_type` AS `task_type`
from
    (
        `flow_instance` join `flow_instance_node_task` on  ( `flow_instance`.`id` = `flow_instance_node_task`.`flow_instance_id`)
    );
