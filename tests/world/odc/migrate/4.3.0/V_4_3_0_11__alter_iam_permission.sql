-- odc-fleet stand-in: real script V_4_3_1_1__alter_iam_permission.sql renumbered V_4_3_0_11 so that the stand-in's
-- 4.3.0 release holds only 4.3.0.x versions, as a real release does (tests/world/README.md).
-- ODC stand-in (odc-fleet test world): the statements of ODC's migration script of this
-- name that the stand-in's metadb subset needs, copied verbatim, in file order.
-- github.com/oceanbase/odc @ d517c0f27971642fb0cd7565fd61ab2309875ec3
-- server/odc-migrate/src/main/resources/migrate/common/V_4_3_1_1__alter_iam_permission.sql

-- from server/odc-migrate/src/main/resources/migrate/common/V_4_3_1_1__alter_iam_permission.sql:4-7
alter table `iam_permission` add column `resource_type` varchar(64) default null comment 'Refer to ResourceType, optional values: ODC_DATABASE, ODC_TABLE, ODC_COLUMN, etc.';
alter table `iam_permission` add column `resource_id` bigint(20) default null comment 'ID of the resource';
alter table `iam_permission` add key `idx_iam_permission_resource_type_id` (resource_type, resource_id);
update `iam_permission` set `resource_type` = 'ODC_DATABASE', `resource_id` = substring( `resource_identifier` from 14 ) where `resource_identifier` like 'ODC_DATABASE:%'  and `action` in ('query', 'change', 'export');
