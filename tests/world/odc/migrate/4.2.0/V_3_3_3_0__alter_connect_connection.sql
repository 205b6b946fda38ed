-- ODC stand-in (odc-fleet test world): the statements of ODC's migration script of this
-- name that the stand-in's metadb subset needs, copied verbatim, in file order.
-- github.com/oceanbase/odc @ d517c0f27971642fb0cd7565fd61ab2309875ec3
-- server/odc-migrate/src/main/resources/migrate/oceanbase/V_3_3_3_0__alter_connect_connection.sql

-- from server/odc-migrate/src/main/resources/migrate/oceanbase/V_3_3_3_0__alter_connect_connection.sql:10-11
alter table `connect_connection` modify column `name` varchar(128) not null comment 'Database connection address';
alter table `connect_connection` modify column `host` varchar(256) not null comment 'Database connection address';
