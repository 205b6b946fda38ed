-- ODC stand-in (odc-fleet test world): the statements of ODC's migration script of this
-- name that the stand-in's metadb subset needs, copied verbatim, in file order.
-- github.com/oceanbase/odc @ d517c0f27971642fb0cd7565fd61ab2309875ec3
-- server/odc-migrate/src/main/resources/migrate/common/V_4_1_2_2__flow_instance_add_index.sql

-- from server/odc-migrate/src/main/resources/migrate/common/V_4_1_2_2__flow_instance_add_index.sql:2
create index if not exists flow_instance_idx_organization_id_creator_id on flow_instance(organization_id,creator_id);
