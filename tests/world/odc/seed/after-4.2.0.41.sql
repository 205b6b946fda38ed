-- ODC stand-in (odc-fleet test world): sample data, run once, right after migration 4.2.0.41 (the
-- last one of the stand-in's release 4.2.0) was applied in the same start; not recorded in
-- migrate_schema_history. What users of ODC 4.2.0 wrote: users, data sources and their databases,
-- a granted database permission, and two tickets with the Flowable process of the second.
-- Synthetic values in the shapes ODC writes (sources in tests/world/README.md); only the columns
-- that exist at 4.2.0. Awkward on purpose: NULLs, empty strings, ' and ", commas, ';', newlines,
-- backslashes, a literal \N, Chinese, JSON, binary bytes. Parent rows first: consistent with the
-- Flowable foreign keys (checked: this runs with foreign_key_checks on).

-- iam_user: users created later get ids from AUTO_INCREMENT = 10000 (V_3_2_0...:96).
INSERT INTO `iam_user` (`id`,`name`,`account_name`,`organization_id`,`email_address`,`password`,`cipher`,`is_active`,`is_enabled`,`creator_id`,`is_builtin`,`description`,`type`,`extra_properties_json`) VALUES
 (10000,'张三','zhangsan',1,'zhangsan@example.com','$2a$10$Vb3pYJq2m0sJ0m2q4a1x5eQzS8l7F0d1kC9pX2yT6uR4wN8hL0aGe','BCRYPT',1,1,1,0,'DBA, 数据库团队\n"on-call" this week','USER','{"department":"数据平台","employeeId":"E-1024","home":"C:\\\\Users\\\\zhangsan"}'),
 (10001,'O''Brien, Pat','pat.obrien',1,NULL,'$2a$10$Q8mZr4Yb7tC1nV6xK2pL9eW3sD5fG0hJ4kL7zX1cV9bN3mQ5wE2rT','BCRYPT',0,1,10000,0,'\\N','USER',NULL);

INSERT INTO `connect_connection` (`id`,`visible_scope`,`owner_id`,`name`,`organization_id`,`creator_id`,`last_modifier_id`,`type`,`dialect_type`,`host`,`port`,`cluster_name`,`tenant_name`,`username`,`password`,`default_schema`,`sys_tenant_username`,`sys_tenant_password`,`query_timeout_seconds`,`properties_json`,`is_enabled`,`is_password_saved`,`cipher`,`salt`,`is_temp`,`environment_id`) VALUES
 (1,'ORGANIZATION',NULL,'prod-oceanbase',1,1,1,'OB_MYSQL','OB_MYSQL','10.0.0.1',2881,'obcluster','odc_tenant','odc_rw','q0pXw3T9bq1mZsFj6yGx+Q==',NULL,NULL,NULL,60,'{"jdbcUrlParameters":{"useSSL":"false"}}',1,1,'AES256SALT','y8Zk3Pq0Lw9RfT2vXc6BnM1aS4dH7jKe',0,3),
 (2,'ORGANIZATION',NULL,'dev, "test" 集群',1,10000,10000,'MYSQL','MYSQL','mysql-dev.example.com',3306,NULL,NULL,'root',NULL,'app_db',NULL,NULL,60,NULL,1,0,'RAW','',0,1);

INSERT INTO `connect_database` (`id`,`database_id`,`is_existed`,`name`,`organization_id`,`project_id`,`connection_id`,`environment_id`,`sync_status`,`last_sync_time`,`charset_name`,`collation_name`,`table_count`) VALUES
 (1,'orders',1,'orders',1,1,1,3,'SUCCEEDED','2023-10-09 10:00:00','utf8mb4','utf8mb4_general_ci',12),
 (2,'app_db',1,'app_db',1,1,2,1,'SUCCEEDED','2023-10-09 10:00:00','utf8mb4','utf8mb4_bin',3);

-- A built-in permission (shape of migrate/common/V_3_2_0_6__iam_permission.yaml) and one granted
-- database permission (DatabasePermissionService.java:192-205).
INSERT INTO `iam_permission` (`id`,`organization_id`,`action`,`resource_identifier`,`type`,`creator_id`,`is_builtin`,`description`) VALUES
 (1,1,'read','ODC_USER:*','SYSTEM',1,1,'system user permission'),
 (10000,1,'query','ODC_DATABASE:1','PUBLIC_RESOURCE',1,0,NULL);
INSERT INTO `iam_user_permission` (`id`,`user_id`,`permission_id`,`creator_id`,`organization_id`) VALUES
 (1,10000,10000,1,1);

-- Flowable. Ids come from Flowable's DbIdGenerator (ACT_GE_PROPERTY 'next.dbid', blocks of 2500): a
-- restart between two steps of one process gives a child execution id ('10002') that sorts BEFORE
-- its parent ('7505') as a string, i.e. a dump in primary-key order writes the child first.
-- Process keys/activity ids have ODC's shape "flow" + 32 hex (UniqueStringIdGenerator.java:32).
UPDATE `ACT_GE_PROPERTY` SET `VALUE_`='12501', `REV_`=6 WHERE `NAME_`='next.dbid';
INSERT INTO `ACT_RE_DEPLOYMENT` (`ID_`,`NAME_`,`CATEGORY_`,`KEY_`,`TENANT_ID_`,`DEPLOY_TIME_`) VALUES
 ('7501',NULL,NULL,NULL,'','2023-10-10 09:15:02.117');
INSERT INTO `ACT_GE_BYTEARRAY` (`ID_`,`REV_`,`NAME_`,`DEPLOYMENT_ID_`,`BYTES_`,`GENERATED_`) VALUES
 ('7502',1,'flow1f0c6a7be4d94e8c9a3f5b2d7e1c0a44.bpmn','7501','<?xml version="1.0" encoding="UTF-8"?>\n<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="flow1f0c6a7be4d94e8c9a3f5b2d7e1c0a44" name="申请数据库权限"></process></definitions>',0),
 ('7508',1,'var-riskLevelDescriber',NULL,X'ACED0005740009272C5C0A00E4BDA0',NULL);
INSERT INTO `ACT_RE_PROCDEF` (`ID_`,`REV_`,`NAME_`,`KEY_`,`VERSION_`,`DEPLOYMENT_ID_`,`RESOURCE_NAME_`,`HAS_START_FORM_KEY_`,`HAS_GRAPHICAL_NOTATION_`,`SUSPENSION_STATE_`,`TENANT_ID_`,`DERIVED_VERSION_`) VALUES
 ('flow1f0c6a7be4d94e8c9a3f5b2d7e1c0a44:1:7504',1,'申请数据库权限','flow1f0c6a7be4d94e8c9a3f5b2d7e1c0a44',1,'7501','flow1f0c6a7be4d94e8c9a3f5b2d7e1c0a44.bpmn',0,0,1,'',0);
-- The process instance: PROC_INST_ID_ and ROOT_PROC_INST_ID_ point at the row itself (ACT_FK_EXE_PROCINST).
INSERT INTO `ACT_RU_EXECUTION` (`ID_`,`REV_`,`PROC_INST_ID_`,`PARENT_ID_`,`PROC_DEF_ID_`,`SUPER_EXEC_`,`ROOT_PROC_INST_ID_`,`ACT_ID_`,`IS_ACTIVE_`,`IS_CONCURRENT_`,`IS_SCOPE_`,`IS_EVENT_SCOPE_`,`IS_MI_ROOT_`,`SUSPENSION_STATE_`,`CACHED_ENT_STATE_`,`TENANT_ID_`,`START_TIME_`,`IS_COUNT_ENABLED_`,`EVT_SUBSCR_COUNT_`,`TASK_COUNT_`,`JOB_COUNT_`,`TIMER_JOB_COUNT_`,`SUSP_JOB_COUNT_`,`DEADLETTER_JOB_COUNT_`,`VAR_COUNT_`,`ID_LINK_COUNT_`) VALUES
 ('7505',2,'7505',NULL,'flow1f0c6a7be4d94e8c9a3f5b2d7e1c0a44:1:7504',NULL,'7505',NULL,1,0,1,0,0,1,NULL,'','2023-10-10 09:15:02.301',0,0,0,0,0,0,0,0,0);
-- Its child execution, created after a restart (next id block).
INSERT INTO `ACT_RU_EXECUTION` (`ID_`,`REV_`,`PROC_INST_ID_`,`PARENT_ID_`,`PROC_DEF_ID_`,`SUPER_EXEC_`,`ROOT_PROC_INST_ID_`,`ACT_ID_`,`IS_ACTIVE_`,`IS_CONCURRENT_`,`IS_SCOPE_`,`IS_EVENT_SCOPE_`,`IS_MI_ROOT_`,`SUSPENSION_STATE_`,`TENANT_ID_`,`START_TIME_`,`IS_COUNT_ENABLED_`) VALUES
 ('10002',1,'7505','7505','flow1f0c6a7be4d94e8c9a3f5b2d7e1c0a44:1:7504',NULL,'7505','flow9b2e4c1d7a8f4e3b9c0d1e2f3a4b5c6d',1,0,0,0,0,1,'','2023-10-10 11:40:18.552',0);
INSERT INTO `ACT_RU_TASK` (`ID_`,`REV_`,`EXECUTION_ID_`,`PROC_INST_ID_`,`PROC_DEF_ID_`,`NAME_`,`TASK_DEF_KEY_`,`PRIORITY_`,`CREATE_TIME_`,`SUSPENSION_STATE_`,`TENANT_ID_`,`IS_COUNT_ENABLED_`) VALUES
 ('10006',1,'10002','7505','flow1f0c6a7be4d94e8c9a3f5b2d7e1c0a44:1:7504','审批节点, "DBA"','flow9b2e4c1d7a8f4e3b9c0d1e2f3a4b5c6d',50,'2023-10-10 11:40:18.600',1,'',0);
INSERT INTO `ACT_RU_IDENTITYLINK` (`ID_`,`REV_`,`GROUP_ID_`,`TYPE_`,`USER_ID_`,`TASK_ID_`,`PROC_INST_ID_`) VALUES
 ('10007',1,'1:3','candidate',NULL,'10006',NULL);
INSERT INTO `ACT_RU_VARIABLE` (`ID_`,`REV_`,`TYPE_`,`NAME_`,`EXECUTION_ID_`,`PROC_INST_ID_`,`TASK_ID_`,`BYTEARRAY_ID_`,`DOUBLE_`,`LONG_`,`TEXT_`,`TEXT2_`) VALUES
 ('7506',1,'long','flowInstanceId','7505','7505',NULL,NULL,NULL,2,'2',NULL),
 ('7509',1,'serializable','riskLevelDescriber','7505','7505',NULL,'7508',NULL,NULL,NULL,NULL);
INSERT INTO `ACT_RU_JOB` (`ID_`,`REV_`,`TYPE_`,`EXCLUSIVE_`,`EXECUTION_ID_`,`PROCESS_INSTANCE_ID_`,`PROC_DEF_ID_`,`RETRIES_`,`HANDLER_TYPE_`,`CREATE_TIME_`,`TENANT_ID_`) VALUES
 ('10009',1,'message',1,'10002','7505','flow1f0c6a7be4d94e8c9a3f5b2d7e1c0a44:1:7504',0,'async-continuation','2023-10-10 11:40:18.700','');

-- ODC's side of the tickets: flow_instance.process_instance_id / process_definition_id hold the
-- Flowable ids (ticket 1 finished long ago, its process is gone from the ACT_RU_* tables).
INSERT INTO `flow_instance` (`id`,`name`,`flow_config_id`,`creator_id`,`organization_id`,`process_definition_id`,`process_instance_id`,`status`,`flow_config_snapshot_xml`,`description`,`parent_instance_id`,`project_id`) VALUES
 (1,'flowf1e2d3c4b5a6978877665544332211aa',NULL,1,1,'flowaa00bb11cc22dd33ee44ff5566778899:1:5004','5005','EXECUTION_SUCCEEDED',NULL,'清理过期数据; "orders" 库\nsecond line',NULL,1),
 (2,'flow1f0c6a7be4d94e8c9a3f5b2d7e1c0a44',NULL,10000,1,'flow1f0c6a7be4d94e8c9a3f5b2d7e1c0a44:1:7504','7505','APPROVING',NULL,'申请 orders 的变更权限, for release 2023-10',NULL,1);
INSERT INTO `flow_instance_node_task` (`id`,`organization_id`,`status`,`flow_instance_id`,`task_task_id`,`task_type`,`wait_execution_expire_interval_seconds`,`task_execution_strategy`,`is_start_endpoint`,`is_end_endpoint`,`execution_time`) VALUES
 (1,1,'COMPLETED',1,NULL,'PRE_CHECK',0,'AUTO',0,0,NULL),
 (2,1,'COMPLETED',1,1,'ASYNC',86400,'AUTO',0,0,NULL),
 (3,1,'COMPLETED',2,NULL,'PRE_CHECK',0,'AUTO',0,0,NULL),
 (4,1,'CREATED',2,NULL,'APPLY_DATABASE_PERMISSION',86400,'AUTO',0,0,NULL);
