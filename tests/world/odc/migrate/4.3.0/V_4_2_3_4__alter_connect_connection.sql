-- ODC stand-in (odc-fleet test world): the statements of ODC's migration script of this
-- name that the stand-in's metadb subset needs, copied verbatim, in file order.
-- github.com/oceanbase/odc @ d517c0f27971642fb0cd7565fd61ab2309875ec3
-- server/odc-migrate/src/main/resources/migrate/common/V_4_2_3_4__alter_connect_connection.sql

-- from server/odc-migrate/src/main/resources/migrate/common/V_4_2_3_4__alter_connect_connection.sql:4
alter table `connect_connection` add column `project_id` bigint(20) DEFAULT NULL COMMENT 'reference to collaboration_project.id, null means this connection does not belong to any project';
