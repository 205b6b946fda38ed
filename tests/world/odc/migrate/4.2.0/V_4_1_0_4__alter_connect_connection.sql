-- ODC stand-in (odc-fleet test world): the statements of ODC's migration script of this
-- name that the stand-in's metadb subset needs, copied verbatim, in file order.
-- github.com/oceanbase/odc @ d517c0f27971642fb0cd7565fd61ab2309875ec3
-- server/odc-migrate/src/main/resources/migrate/common/V_4_1_0_4__alter_connect_connection.sql

-- from server/odc-migrate/src/main/resources/migrate/common/V_4_1_0_4__alter_connect_connection.sql:2-3
alter table `connect_connection` add column is_ssl_enabled tinyint not null default 0 comment 'Flag bit used to indicate if ssl
connection enabled';

-- from server/odc-migrate/src/main/resources/migrate/common/V_4_1_0_4__alter_connect_connection.sql:5-6
alter table `connect_connection` add column ssl_client_cert_object_id VARCHAR(64) default null comment 'ssl client certificate object id,
 references objectstorage_object_metadata.object_id';

-- from server/odc-migrate/src/main/resources/migrate/common/V_4_1_0_4__alter_connect_connection.sql:8-9
alter table `connect_connection` add column ssl_client_key_object_id VARCHAR(64) default null comment 'ssl client private key object id,
references objectstorage_object_metadata.object_id';

-- from server/odc-migrate/src/main/resources/migrate/common/V_4_1_0_4__alter_connect_connection.sql:11-12
alter table `connect_connection` add column ssl_ca_cert_object_id VARCHAR(64) default null comment 'ssl CA certificate object id,
references objectstorage_object_metadata.object_id';
