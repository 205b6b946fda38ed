-- ODC stand-in (odc-fleet test world): the statements of ODC's migration script of this
-- name that the stand-in's metadb subset needs, copied verbatim, in file order.
-- github.com/oceanbase/odc @ d517c0f27971642fb0cd7565fd61ab2309875ec3
-- server/odc-migrate/src/main/resources/migrate/common/V_4_2_0_32__alter_flow_instance_node_approval_candidate.sql

-- from server/odc-migrate/src/main/resources/migrate/common/V_4_2_0_32__alter_flow_instance_node_approval_candidate.sql:3
alter table `flow_instance` modify column `flow_config_id` bigint(20) default null comment '[Deprecated from ODC 4.2.0]Process config id, references flow_config(id)';
