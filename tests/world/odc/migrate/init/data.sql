-- ODC stand-in (odc-fleet test world): rows of Spring sql-init's data script, run on every
-- start after schema.sql and before the migrations (bootstrap.yml:26-30, mode: always), not
-- recorded in migrate_schema_history; ON DUPLICATE KEY keeps what is already there.
-- 8 of its 312 INSERTs, verbatim: a ';' value, empty values, a value with a newline and
-- doubled quotes, Chinese descriptions, a 700-character SQL template.
-- github.com/oceanbase/odc @ d517c0f27971642fb0cd7565fd61ab2309875ec3

-- from server/odc-server/src/main/resources/data.sql:8-9
INSERT INTO `config_system_configuration` (`key`, `value`, `application`, `profile`, `label`, `description`)
VALUES ('sqlexecute.defaultDelimiter', ';', 'odc', 'default', 'master', 'Delimiter for sql-execute') ON DUPLICATE KEY UPDATE `id`=`id`;

-- from server/odc-server/src/main/resources/data.sql:233-234
INSERT INTO config_system_configuration(`key`, `value`, `description`) VALUES('odc.system.info.support-email',
'', '用户支持反馈邮箱，为空表示使用默认值，设置后会覆盖默认值') ON DUPLICATE KEY UPDATE `id`=`id`;

-- from server/odc-server/src/main/resources/data.sql:295-297
INSERT INTO `config_system_configuration` (`key`, `value`, `application`, `profile`, `label`, `description`)
VALUES ('odc.objectstorage.local.dir', '#{systemProperties[''user.home''].concat(T(java.io.File).separator).concat(''data'').concat(T(java
.io.File).separator).concat(''files'')}', 'odc', 'default', 'master','本地文件存储根目录') ON DUPLICATE KEY UPDATE `id`=`id`;

-- from server/odc-server/src/main/resources/data.sql:330-332
INSERT INTO `config_system_configuration` (`key`, `value`, `application`, `profile`, `label`, `description`)
VALUES ('odc.flow.async.max-upload-file-count', '500', 'odc', 'default', 'master', '异步任务最大上传文件数量，默认 500 个') ON
DUPLICATE KEY UPDATE `id`=`id`;

-- from server/odc-server/src/main/resources/data.sql:340-341
INSERT INTO config_system_configuration(`key`, `value`, `description`) VALUES('odc.connect.host-white-list',
 '', 'ODC 数据库连接主机白名单，只允许用户连接在白名单内的主机，防止 SSRF 安全漏洞。默认为空，表示允许所有访问所有主机') ON DUPLICATE KEY UPDATE `id`=`id`;

-- from server/odc-server/src/main/resources/data.sql:437-439
INSERT INTO config_system_configuration(`key`, `value`, `description`) VALUES('odc.integration.bastion.account.query.response-body-username-extract-expression',
   '[''data''][''username'']', '堡垒机账号集成 账号查询 API response body 账户名称提取表达式，默认值 [''data''][''username'']')
   ON DUPLICATE KEY UPDATE `id`=`id`;

-- from server/odc-server/src/main/resources/data.sql:586-587
insert into `config_system_configuration` (`key`, `value`, `application`, `profile`, `label`, `description`)
VALUES ('odc.notification.host-black-list', '', 'odc', 'default', 'master', 'The Hosts in this black list are NOT allowed to prevent SSRF security vulnerabilities. The black list is empty by default, allowing access to all Hosts.') ON DUPLICATE KEY update `id`=`id`;

-- from server/odc-server/src/main/resources/data.sql:591-594
INSERT INTO config_system_configuration(`key`, `value`, `description`) VALUES('odc.lab.resource.mysql-init-script-template',
'create user if not exists {{dbUsername}}@''%'' identified by {{password}};  create database if not exists {{dbName}};  grant all privileges on {{dbName}}.* to {{dbUsername}}@''%'';  grant select on oceanbase.gv$tenant to {{dbUsername}}@''%'';  grant select on oceanbase.gv$unit to {{dbUsername}}@''%'';  grant select on oceanbase.gv$table to {{dbUsername}}@''%'';  grant select on oceanbase.gv$sysstat to {{dbUsername}}@''%'';  grant select on oceanbase.gv$memory to {{dbUsername}}@''%'';  grant select on oceanbase.gv$memstore to {{dbUsername}}@''%'';  grant select on oceanbase.gv$sql_audit to {{dbUsername}}@''%'';  grant select on oceanbase.gv$plan_cache_plan_stat to {{dbUsername}}@''%'';  grant select on oceanbase.gv$plan_cache_plan_explain to {{dbUsername}}@''%'';'
, '实验室体验资源创建脚本模板，MySQL 模式，包含 create database/create user/grant privilege 过程，支持的变量包括 {{dbName}}, {{dbUsername}}, {{password}}'
) ON DUPLICATE KEY UPDATE `id`=`id`;
