-- ODC stand-in (odc-fleet test world): the statements of ODC's migration script of this
-- name that the stand-in's metadb subset needs, copied verbatim, in file order.
-- github.com/oceanbase/odc @ d517c0f27971642fb0cd7565fd61ab2309875ec3
-- server/odc-migrate/src/main/resources/migrate/common/V_4_2_0_12__add_extra_info_to_iam_user.sql

-- from server/odc-migrate/src/main/resources/migrate/common/V_4_2_0_12__add_extra_info_to_iam_user.sql:1-2
ALTER TABLE `iam_user`
    ADD COLUMN `extra_properties_json` TEXT DEFAULT NULL COMMENT '用户自定义的账户额外信息';
