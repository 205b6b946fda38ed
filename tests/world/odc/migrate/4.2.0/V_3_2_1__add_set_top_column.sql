-- ODC stand-in (odc-fleet test world): the statements of ODC's migration script of this
-- name that the stand-in's metadb subset needs, copied verbatim, in file order.
-- github.com/oceanbase/odc @ d517c0f27971642fb0cd7565fd61ab2309875ec3
-- server/odc-migrate/src/main/resources/migrate/common/V_3_2_1__add_set_top_column.sql

-- from server/odc-migrate/src/main/resources/migrate/common/V_3_2_1__add_set_top_column.sql:4
alter table `connect_connection` add column is_set_top tinyint not null default 0 comment 'Flag bit, used to indicate whether the connection is on top'
