-- ODC stand-in (odc-fleet test world): the statements of ODC's migration script of this
-- name that the stand-in's metadb subset needs, copied verbatim, in file order.
-- github.com/oceanbase/odc @ d517c0f27971642fb0cd7565fd61ab2309875ec3
-- server/odc-migrate/src/main/resources/migrate/common/V_3_3_0_1__add_flow.sql

-- from server/odc-migrate/src/main/resources/migrate/common/V_3_3_0_1__add_flow.sql:4-18
create table if not exists `flow_instance` (
    `id` bigint(20) NOT NULL AUTO_INCREMENT COMMENT 'Id for a process instance',
    `create_time` datetime NOT NULL DEFAULT CURRENT_TIMESTAMP COMMENT 'Record insertion time',
    `update_time` datetime DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP COMMENT 'Record modification time',
    `name` varchar(1024) NOT NULL COMMENT 'Name for this flow instance',
    `flow_config_id` bigint(20) not null comment 'Process config id, references flow_config(id)',
    `creator_id` bigint(20) NOT NULL COMMENT 'Creator id, references iam_user(id)',
    `organization_id` bigint(20) NOT NULL COMMENT 'Organization id, references iam_organization(id)',
    `process_definition_id` varchar(128) DEFAULT NULL COMMENT 'External framework auxiliary field, flowable process definition id',
    `process_instance_id`varchar(128) DEFAULT NULL COMMENT 'External framework auxiliary field, flowable process instance id',
    `status` varchar(32) NOT NULL COMMENT 'Status for a instance, optional values: CREATED,EXECUTING,KILLED,COMPLETED,EXPIRED,FAILED',
    `flow_config_snapshot_xml` mediumtext DEFAULT NULL COMMENT 'Process snapshots to record instant information about the process',
    `description` varchar(1024) DEFAULT NULL COMMENT 'Description of a flow instance',
    constraint pk_flow_instance primary key (`id`)
);

-- from server/odc-migrate/src/main/resources/migrate/common/V_3_3_0_1__add_flow.sql:156-170
CREATE TABLE IF NOT EXISTS `flow_instance_node_task` (
  `id` bigint NOT NULL AUTO_INCREMENT,
  `create_time` datetime NOT NULL DEFAULT CURRENT_TIMESTAMP COMMENT '创建时间',
  `update_time` datetime DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP COMMENT '修改时间',
  `organization_id` bigint NOT NULL COMMENT '所属组织 ID, references iam_organization(id)',
  `status` varchar(32) NOT NULL COMMENT 'Status for a instance, optional values: CREATED,EXECUTING,KILLED,COMPLETED,EXPIRED,FAILED',
  `flow_instance_id` bigint NOT NULL COMMENT '关联流程实例 ID, references flow_instance(id)',
  `task_task_id` bigint DEFAULT NULL COMMENT '关联任务实例 ID, references task_task(id)',
  `task_type` varchar(32) NOT NULL COMMENT 'The task type that marks the task instance node, optional values: ASYNC,IMPORT,EXPORT,MOCKDATA',
  `wait_execution_expire_interval_seconds` int NOT NULL COMMENT 'Execute waiting for expiration',
  `task_execution_strategy` varchar(16) NOT NULL COMMENT 'Task execution execution mode, optional values: AUTO, MANUAL, TIMER',
  `is_start_endpoint` tinyint NOT NULL COMMENT 'Describes whether this endpoint is the starting endpoint of the process',
  `is_end_endpoint` tinyint NOT NULL COMMENT 'Describes whether this endpoint is the end endpoint of the process',
  CONSTRAINT pk_flow_instance_node_task_id PRIMARY KEY (`id`)
) COMMENT = '任务实例表';
