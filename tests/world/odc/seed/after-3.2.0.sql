-- ODC stand-in (odc-fleet test world): sample data, run once, right after migration 3.2.0
-- (V_3_2_0__enterprise_console_schema.sql) was applied in the same start; not recorded in
-- migrate_schema_history. These are the rows ODC's RESOURCE migrations write next, which the
-- stand-in does not model: the default organization (migrate/web/V_3_2_0_8__iam_organization.yaml;
-- unique_identifier is a generated UUID, secret a generated AlphaNumeric_32) and the built-in admin
-- (migrate/web/V_3_2_0_9__iam_user.yaml, values copied from it), github.com/oceanbase/odc @ d517c0f.
-- V_4_2_0_9 later sets the organization's display_name and description to its i18n placeholders.
INSERT INTO `iam_organization` (`id`,`unique_identifier`,`secret`,`name`,`creator_id`,`is_builtin`,`description`) VALUES
 (1,'6f1c2e4a-93b7-4d0e-8a5f-2c7d9e0b1a34','kQ7vX2mN9pL4sT8wR1yZ5bC3dF6gH0jA','ODC_DEFAULT',1,1,'Default organization description, change me');
INSERT INTO `iam_user` (`id`,`name`,`account_name`,`organization_id`,`email_address`,`password`,`cipher`,`is_active`,`is_enabled`,`creator_id`,`is_builtin`,`description`) VALUES
 (1,'admin','admin',1,NULL,'$2a$10$6aIZNafRdrOROzn2VBIbU.kbQVFBZK29PyegUakZ9NiHVD2k8CiTK','BCRYPT',0,1,1,1,'system admin');
