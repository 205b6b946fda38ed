-- ODC stand-in (odc-fleet test world): sample data, run once, right after migration 4.3.2.12 (the
-- last one of the stand-in's release 4.3.0) was applied in the same start; not recorded in
-- migrate_schema_history. What users did after the upgrade to 4.3.0: the object sync ran, a
-- logical database (no data source: connection_id NULL, V_4_3_1_4), its tables, and permissions of
-- the 4.2.4+/4.3.1+ shapes (DatabasePermissionService.java:192-205, TablePermissionService.java:
-- 213-228: expire time, ticket, resource type/id). Synthetic values; see after-4.2.0.41.sql.
-- The 4.2.0 permission 10000 got its resource_type/resource_id from V_4_3_1_1's UPDATE.
UPDATE `connect_database` SET `object_sync_status`='SYNCED', `object_last_sync_time`='2024-06-01 10:00:05' WHERE `id` IN (1, 2);
INSERT INTO `connect_database` (`id`,`database_id`,`is_existed`,`name`,`organization_id`,`project_id`,`connection_id`,`environment_id`,`sync_status`,`last_sync_time`,`charset_name`,`collation_name`,`table_count`,`object_sync_status`,`object_last_sync_time`,`type`,`alias`,`dialect_type`,`connect_type`) VALUES
 (3,'orders_logical',1,'orders_logical',1,1,NULL,3,'SUCCEEDED',NULL,NULL,NULL,NULL,'INITIALIZED',NULL,'LOGICAL','订单库, "core" (all shards)','OB_MYSQL',NULL);
INSERT INTO `database_schema_object` (`id`,`name`,`type`,`database_id`,`organization_id`) VALUES
 (1,'t_order','TABLE',1,1),(2,'t_order_item','TABLE',1,1),(3,'v_order_daily','VIEW',1,1),(4,'users','TABLE',2,1),(5,'t_order','TABLE',3,1);
INSERT INTO `iam_permission` (`id`,`organization_id`,`action`,`resource_identifier`,`type`,`creator_id`,`is_builtin`,`description`,`expire_time`,`authorization_type`,`ticket_id`,`resource_type`,`resource_id`) VALUES
 (10001,1,'change','ODC_DATABASE:1','PUBLIC_RESOURCE',10000,0,NULL,'2024-12-31 23:59:59','TICKET_APPLICATION',2,'ODC_DATABASE',1),
 (10002,1,'export','ODC_DATABASE:3','PUBLIC_RESOURCE',1,0,NULL,'9999-12-31 23:59:59','USER_AUTHORIZATION',NULL,'ODC_DATABASE',3),
 (10003,1,'query','ODC_DATABASE:1/ODC_TABLE:1','PUBLIC_RESOURCE',1,0,NULL,'9999-12-31 23:59:59','USER_AUTHORIZATION',NULL,'ODC_TABLE',1),
 (10004,1,'query','ODC_DATABASE:3/ODC_TABLE:5','PUBLIC_RESOURCE',1,0,NULL,'9999-12-31 23:59:59','USER_AUTHORIZATION',NULL,'ODC_TABLE',5);
INSERT INTO `iam_user_permission` (`id`,`user_id`,`permission_id`,`creator_id`,`organization_id`) VALUES
 (2,10000,10001,10000,1),(3,10001,10002,1,1),(4,10001,10003,1,1),(5,10001,10004,1,1);
