-- ODC stand-in (odc-fleet test world): the statements of ODC's migration script of this
-- name that the stand-in's metadb subset needs, copied verbatim, in file order.
-- github.com/oceanbase/odc @ d517c0f27971642fb0cd7565fd61ab2309875ec3
-- server/odc-migrate/src/main/resources/migrate/common/V_4_2_4_5__add_oracle_config_connect_connection.sql

-- from server/odc-migrate/src/main/resources/migrate/common/V_4_2_4_5__add_oracle_config_connect_connection.sql:2
alter table `connect_connection` add column `service_name` varchar(256) DEFAULT NULL COMMENT 'Parameters specific to Oracle mode, which represent a database';

-- from server/odc-migrate/src/main/resources/migrate/common/V_4_2_4_5__add_oracle_config_connect_connection.sql:5
alter table `connect_connection` add column `sid` varchar(256) DEFAULT NULL COMMENT 'Parameters specific to Oracle mode, which represent an instance of a database';

-- from server/odc-migrate/src/main/resources/migrate/common/V_4_2_4_5__add_oracle_config_connect_connection.sql:8
alter table `connect_connection` add column `user_role` varchar(256) DEFAULT NULL COMMENT 'Parameters specific to Oracle mode, which represent the role of a user, enumeration values: normal、sysdba、sysoper';
