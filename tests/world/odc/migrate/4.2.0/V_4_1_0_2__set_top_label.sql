-- ODC stand-in (odc-fleet test world): the statements of ODC's migration script of this
-- name that the stand-in's metadb subset needs, copied verbatim, in file order.
-- github.com/oceanbase/odc @ d517c0f27971642fb0cd7565fd61ab2309875ec3
-- server/odc-migrate/src/main/resources/migrate/common/V_4_1_0_2__set_top_label.sql

-- from server/odc-migrate/src/main/resources/migrate/common/V_4_1_0_2__set_top_label.sql:14
alter table `connect_connection` drop column `is_set_top`;
