-- ODC stand-in (odc-fleet test world): the statements of ODC's migration script of this
-- name that the stand-in's metadb subset needs, copied verbatim, in file order.
-- github.com/oceanbase/odc @ d517c0f27971642fb0cd7565fd61ab2309875ec3
-- server/odc-migrate/src/main/resources/migrate/common/V_4_2_0_41__add_list_flow_instance_view.sql

-- from server/odc-migrate/src/main/resources/migrate/common/V_4_2_0_41__add_list_flow_instance_view.sql:1-15
create or replace view `list_flow_instance_view` as
select
	flow_instance.*,
 	task_info.task_type
from (
  select
  	nt.flow_instance_id,
  	nt.task_type
	from `flow_instance_node_task` nt
	where nt.task_type in ('EXPORT', 'IMPORT', 'MOCKDATA', 'ASYNC', 'SHADOWTABLE_SYNC', 'PARTITION_PLAN', 'ONLINE_SCHEMA_CHANGE', 'ALTER_SCHEDULE', 'EXPORT_RESULT_SET')
    group by nt.flow_instance_id
)
as task_info
inner join `flow_instance`
on flow_instance.id = task_info.flow_instance_id;
