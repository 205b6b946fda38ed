-- ODC stand-in (odc-fleet test world): the statements of ODC's migration script of this
-- name that the stand-in's metadb subset needs, copied verbatim, in file order.
-- github.com/oceanbase/odc @ d517c0f27971642fb0cd7565fd61ab2309875ec3
-- server/odc-migrate/src/main/resources/migrate/common/V_4_2_3_1__alter_list_flow_instance_view.sql

-- from server/odc-migrate/src/main/resources/migrate/common/V_4_2_3_1__alter_list_flow_instance_view.sql:4-18
create or replace view list_flow_instance_view as
select
  flow_instance.*,
  task_info.task_type
from
  (
    select
      nt.flow_instance_id,
      nt.task_type
    from
      flow_instance_node_task nt
    group by
      nt.flow_instance_id, nt.task_type
  ) as task_info
  inner join flow_instance on flow_instance.id = task_info.flow_instance_id;
