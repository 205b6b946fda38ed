-- ODC stand-in (odc-fleet test world): the statements of ODC's migration script of this
-- name that the stand-in's metadb subset needs, copied verbatim, in file order.
-- github.com/oceanbase/odc @ d517c0f27971642fb0cd7565fd61ab2309875ec3
-- server/odc-migrate/src/main/resources/migrate/oceanbase/R_3_3_1__initialize_flowable.sql

-- from server/odc-migrate/src/main/resources/migrate/oceanbase/R_3_3_1__initialize_flowable.sql:4-9
create table if not exists ACT_GE_PROPERTY (
    NAME_ varchar(64),
    VALUE_ varchar(300),
    REV_ integer,
    primary key (NAME_)
) DEFAULT CHARSET=utf8 COLLATE utf8_bin;

-- from server/odc-migrate/src/main/resources/migrate/oceanbase/R_3_3_1__initialize_flowable.sql:11-23
create table if not exists ACT_RE_DEPLOYMENT (
    ID_ varchar(64),
    NAME_ varchar(255),
    CATEGORY_ varchar(255),
    KEY_ varchar(255),
    TENANT_ID_ varchar(255) default '',
    DEPLOY_TIME_ timestamp(3) NULL,
    DERIVED_FROM_ varchar(64),
    DERIVED_FROM_ROOT_ varchar(64),
    PARENT_DEPLOYMENT_ID_ varchar(255),
    ENGINE_VERSION_ varchar(255),
    primary key (ID_)
) DEFAULT CHARSET=utf8 COLLATE utf8_bin;

-- from server/odc-migrate/src/main/resources/migrate/oceanbase/R_3_3_1__initialize_flowable.sql:25-34
create table if not exists ACT_GE_BYTEARRAY (
    ID_ varchar(64),
    REV_ integer,
    NAME_ varchar(255),
    DEPLOYMENT_ID_ varchar(64),
    BYTES_ LONGBLOB,
    GENERATED_ TINYINT,
    primary key (ID_),
    CONSTRAINT `ACT_FK_BYTEARR_DEPL` FOREIGN KEY (`DEPLOYMENT_ID_`) REFERENCES `ACT_RE_DEPLOYMENT`(`ID_`) ON UPDATE RESTRICT ON DELETE RESTRICT
) DEFAULT CHARSET=utf8 COLLATE utf8_bin;

-- from server/odc-migrate/src/main/resources/migrate/oceanbase/R_3_3_1__initialize_flowable.sql:36-38
insert into ACT_GE_PROPERTY values ('common.schema.version', '6.3.1.0', 1) on duplicate key update `NAME_`=`NAME_`;
insert into ACT_GE_PROPERTY values ('next.dbid', '1', 1) on duplicate key update `NAME_`=`NAME_`;
insert into ACT_GE_PROPERTY values ('identitylink.schema.version', '6.3.1.0', 1) on duplicate key update `NAME_`=`NAME_`;

-- from server/odc-migrate/src/main/resources/migrate/oceanbase/R_3_3_1__initialize_flowable.sql:58
insert into ACT_GE_PROPERTY values ('task.schema.version', '6.3.1.0', 1) on duplicate key update `NAME_`=`NAME_`;

-- from server/odc-migrate/src/main/resources/migrate/oceanbase/R_3_3_1__initialize_flowable.sql:95
insert into ACT_GE_PROPERTY values ('variable.schema.version', '6.3.1.0', 1) on duplicate key update `NAME_`=`NAME_`;

-- from server/odc-migrate/src/main/resources/migrate/oceanbase/R_3_3_1__initialize_flowable.sql:140
insert into ACT_GE_PROPERTY values ('job.schema.version', '6.3.1.0', 1) on duplicate key update `NAME_`=`NAME_`;

-- from server/odc-migrate/src/main/resources/migrate/oceanbase/R_3_3_1__initialize_flowable.sql:162-183
create table if not exists ACT_RE_PROCDEF (
    ID_ varchar(64) not null,
    REV_ integer,
    CATEGORY_ varchar(255),
    NAME_ varchar(255),
    KEY_ varchar(255) not null,
    VERSION_ integer not null,
    DEPLOYMENT_ID_ varchar(64),
    RESOURCE_NAME_ varchar(4000),
    DGRM_RESOURCE_NAME_ varchar(4000),
    DESCRIPTION_ varchar(4000),
    HAS_START_FORM_KEY_ TINYINT,
    HAS_GRAPHICAL_NOTATION_ TINYINT,
    SUSPENSION_STATE_ integer,
    TENANT_ID_ varchar(255) default '',
    ENGINE_VERSION_ varchar(255),
    DERIVED_FROM_ varchar(64),
    DERIVED_FROM_ROOT_ varchar(64),
    DERIVED_VERSION_ integer not null default 0,
    primary key (ID_),
    UNIQUE KEY `ACT_UNIQ_PROCDEF` (`KEY_`, `VERSION_`, `DERIVED_VERSION_`, `TENANT_ID_`)
) DEFAULT CHARSET=utf8 COLLATE utf8_bin;

-- from server/odc-migrate/src/main/resources/migrate/oceanbase/R_3_3_1__initialize_flowable.sql:185-224
create table if not exists ACT_RU_EXECUTION (
    ID_ varchar(64),
    REV_ integer,
    PROC_INST_ID_ varchar(64),
    BUSINESS_KEY_ varchar(255),
    PARENT_ID_ varchar(64),
    PROC_DEF_ID_ varchar(64),
    SUPER_EXEC_ varchar(64),
    ROOT_PROC_INST_ID_ varchar(64),
    ACT_ID_ varchar(255),
    IS_ACTIVE_ TINYINT,
    IS_CONCURRENT_ TINYINT,
    IS_SCOPE_ TINYINT,
    IS_EVENT_SCOPE_ TINYINT,
    IS_MI_ROOT_ TINYINT,
    SUSPENSION_STATE_ integer,
    CACHED_ENT_STATE_ integer,
    TENANT_ID_ varchar(255) default '',
    NAME_ varchar(255),
    START_ACT_ID_ varchar(255),
    START_TIME_ datetime(3),
    START_USER_ID_ varchar(255),
    LOCK_TIME_ timestamp(3) NULL,
    IS_COUNT_ENABLED_ TINYINT,
    EVT_SUBSCR_COUNT_ integer,
    TASK_COUNT_ integer,
    JOB_COUNT_ integer,
    TIMER_JOB_COUNT_ integer,
    SUSP_JOB_COUNT_ integer,
    DEADLETTER_JOB_COUNT_ integer,
    VAR_COUNT_ integer,
    ID_LINK_COUNT_ integer,
    CALLBACK_ID_ varchar(255),
    CALLBACK_TYPE_ varchar(255),
    primary key (ID_),
    CONSTRAINT `ACT_FK_EXE_PROCDEF` FOREIGN KEY (`PROC_DEF_ID_`) REFERENCES `ACT_RE_PROCDEF`(`ID_`) ON UPDATE RESTRICT ON DELETE RESTRICT ,
    CONSTRAINT `ACT_FK_EXE_SUPER` FOREIGN KEY (`SUPER_EXEC_`) REFERENCES `ACT_RU_EXECUTION`(`ID_`) ON UPDATE RESTRICT ON DELETE CASCADE ,
    CONSTRAINT `ACT_FK_EXE_PARENT` FOREIGN KEY (`PARENT_ID_`) REFERENCES `ACT_RU_EXECUTION`(`ID_`) ON UPDATE RESTRICT ON DELETE CASCADE ,
    CONSTRAINT `ACT_FK_EXE_PROCINST` FOREIGN KEY (`PROC_INST_ID_`) REFERENCES `ACT_RU_EXECUTION`(`ID_`) ON UPDATE CASCADE ON DELETE CASCADE
) DEFAULT CHARSET=utf8 COLLATE utf8_bin;

-- from server/odc-migrate/src/main/resources/migrate/oceanbase/R_3_3_1__initialize_flowable.sql:335-365
create table if not exists ACT_RU_JOB (
    ID_ varchar(64) NOT NULL,
    REV_ integer,
    TYPE_ varchar(255) NOT NULL,
    LOCK_EXP_TIME_ timestamp(3) NULL,
    LOCK_OWNER_ varchar(255),
    EXCLUSIVE_ boolean,
    EXECUTION_ID_ varchar(64),
    PROCESS_INSTANCE_ID_ varchar(64),
    PROC_DEF_ID_ varchar(64),
    SCOPE_ID_ varchar(255),
    SUB_SCOPE_ID_ varchar(255),
    SCOPE_TYPE_ varchar(255),
    SCOPE_DEFINITION_ID_ varchar(255),
    RETRIES_ integer,
    EXCEPTION_STACK_ID_ varchar(64),
    EXCEPTION_MSG_ varchar(4000),
    DUEDATE_ timestamp(3) NULL,
    REPEAT_ varchar(255),
    HANDLER_TYPE_ varchar(255),
    HANDLER_CFG_ varchar(4000),
    CUSTOM_VALUES_ID_ varchar(64),
    CREATE_TIME_ timestamp(3) NULL,
    TENANT_ID_ varchar(255) default '',
    primary key (ID_),
    CONSTRAINT `ACT_FK_JOB_PROC_DEF` FOREIGN KEY (`PROC_DEF_ID_`) REFERENCES `ACT_RE_PROCDEF`(`ID_`) ON UPDATE RESTRICT ON DELETE RESTRICT ,
    CONSTRAINT `ACT_FK_JOB_PROCESS_INSTANCE` FOREIGN KEY (`PROCESS_INSTANCE_ID_`) REFERENCES `ACT_RU_EXECUTION`(`ID_`) ON UPDATE RESTRICT ON DELETE RESTRICT ,
    CONSTRAINT `ACT_FK_JOB_EXECUTION` FOREIGN KEY (`EXECUTION_ID_`) REFERENCES `ACT_RU_EXECUTION`(`ID_`) ON UPDATE RESTRICT ON DELETE RESTRICT ,
    CONSTRAINT `ACT_FK_JOB_CUSTOM_VALUES` FOREIGN KEY (`CUSTOM_VALUES_ID_`) REFERENCES `ACT_GE_BYTEARRAY`(`ID_`) ON UPDATE RESTRICT ON DELETE RESTRICT ,
    CONSTRAINT `ACT_FK_JOB_EXCEPTION` FOREIGN KEY (`EXCEPTION_STACK_ID_`) REFERENCES `ACT_GE_BYTEARRAY`(`ID_`) ON UPDATE RESTRICT ON DELETE RESTRICT
) DEFAULT CHARSET=utf8 COLLATE utf8_bin;

-- from server/odc-migrate/src/main/resources/migrate/oceanbase/R_3_3_1__initialize_flowable.sql:367-371
create index if not exists ACT_IDX_JOB_EXCEPTION_STACK_ID on ACT_RU_JOB(EXCEPTION_STACK_ID_);
create index if not exists ACT_IDX_JOB_CUSTOM_VALUES_ID on ACT_RU_JOB(CUSTOM_VALUES_ID_);
create index if not exists ACT_IDX_JOB_SCOPE on ACT_RU_JOB(SCOPE_ID_, SCOPE_TYPE_);
create index if not exists ACT_IDX_JOB_SUB_SCOPE on ACT_RU_JOB(SUB_SCOPE_ID_, SCOPE_TYPE_);
create index if not exists ACT_IDX_JOB_SCOPE_DEF on ACT_RU_JOB(SCOPE_DEFINITION_ID_, SCOPE_TYPE_);

-- from server/odc-migrate/src/main/resources/migrate/oceanbase/R_3_3_1__initialize_flowable.sql:373-407
create table if not exists ACT_RU_TASK (
    ID_ varchar(64),
    REV_ integer,
    EXECUTION_ID_ varchar(64),
    PROC_INST_ID_ varchar(64),
    PROC_DEF_ID_ varchar(64),
    TASK_DEF_ID_ varchar(64),
    SCOPE_ID_ varchar(255),
    SUB_SCOPE_ID_ varchar(255),
    SCOPE_TYPE_ varchar(255),
    SCOPE_DEFINITION_ID_ varchar(255),
    NAME_ varchar(255),
    PARENT_TASK_ID_ varchar(64),
    DESCRIPTION_ varchar(4000),
    TASK_DEF_KEY_ varchar(255),
    OWNER_ varchar(255),
    ASSIGNEE_ varchar(255),
    DELEGATION_ varchar(64),
    PRIORITY_ integer,
    CREATE_TIME_ timestamp(3) NULL,
    DUE_DATE_ datetime(3),
    CATEGORY_ varchar(255),
    SUSPENSION_STATE_ integer,
    TENANT_ID_ varchar(255) default '',
    FORM_KEY_ varchar(255),
    CLAIM_TIME_ datetime(3),
    IS_COUNT_ENABLED_ TINYINT,
    VAR_COUNT_ integer,
    ID_LINK_COUNT_ integer,
    SUB_TASK_COUNT_ integer,
    primary key (ID_),
    CONSTRAINT `ACT_FK_TASK_PROCDEF` FOREIGN KEY (`PROC_DEF_ID_`) REFERENCES `ACT_RE_PROCDEF`(`ID_`) ON UPDATE RESTRICT ON DELETE RESTRICT ,
    CONSTRAINT `ACT_FK_TASK_PROCINST` FOREIGN KEY (`PROC_INST_ID_`) REFERENCES `ACT_RU_EXECUTION`(`ID_`) ON UPDATE RESTRICT ON DELETE RESTRICT ,
    CONSTRAINT `ACT_FK_TASK_EXE` FOREIGN KEY (`EXECUTION_ID_`) REFERENCES `ACT_RU_EXECUTION`(`ID_`) ON UPDATE RESTRICT ON DELETE RESTRICT
) DEFAULT CHARSET=utf8 COLLATE utf8_bin;

-- from server/odc-migrate/src/main/resources/migrate/oceanbase/R_3_3_1__initialize_flowable.sql:409-412
create index if not exists ACT_IDX_TASK_CREATE on ACT_RU_TASK(CREATE_TIME_);
create index if not exists ACT_IDX_TASK_SCOPE on ACT_RU_TASK(SCOPE_ID_, SCOPE_TYPE_);
create index if not exists ACT_IDX_TASK_SUB_SCOPE on ACT_RU_TASK(SUB_SCOPE_ID_, SCOPE_TYPE_);
create index if not exists ACT_IDX_TASK_SCOPE_DEF on ACT_RU_TASK(SCOPE_DEFINITION_ID_, SCOPE_TYPE_);

-- from server/odc-migrate/src/main/resources/migrate/oceanbase/R_3_3_1__initialize_flowable.sql:414-430
create table if not exists ACT_RU_IDENTITYLINK (
    ID_ varchar(64),
    REV_ integer,
    GROUP_ID_ varchar(255),
    TYPE_ varchar(255),
    USER_ID_ varchar(255),
    TASK_ID_ varchar(64),
    PROC_INST_ID_ varchar(64),
    PROC_DEF_ID_ varchar(64),
    SCOPE_ID_ varchar(255),
    SCOPE_TYPE_ varchar(255),
    SCOPE_DEFINITION_ID_ varchar(255),
    primary key (ID_),
    CONSTRAINT `ACT_FK_IDL_PROCINST` FOREIGN KEY (`PROC_INST_ID_`) REFERENCES `ACT_RU_EXECUTION`(`ID_`) ON UPDATE RESTRICT ON DELETE RESTRICT ,
    CONSTRAINT `ACT_FK_ATHRZ_PROCEDEF` FOREIGN KEY (`PROC_DEF_ID_`) REFERENCES `ACT_RE_PROCDEF`(`ID_`) ON UPDATE RESTRICT ON DELETE RESTRICT ,
    CONSTRAINT `ACT_FK_TSKASS_TASK` FOREIGN KEY (`TASK_ID_`) REFERENCES `ACT_RU_TASK`(`ID_`) ON UPDATE RESTRICT ON DELETE RESTRICT
) DEFAULT CHARSET=utf8 COLLATE utf8_bin;

-- from server/odc-migrate/src/main/resources/migrate/oceanbase/R_3_3_1__initialize_flowable.sql:432-435
create index if not exists ACT_IDX_IDENT_LNK_USER on ACT_RU_IDENTITYLINK(USER_ID_);
create index if not exists ACT_IDX_IDENT_LNK_GROUP on ACT_RU_IDENTITYLINK(GROUP_ID_);
create index if not exists ACT_IDX_IDENT_LNK_SCOPE on ACT_RU_IDENTITYLINK(SCOPE_ID_, SCOPE_TYPE_);
create index if not exists ACT_IDX_IDENT_LNK_SCOPE_DEF on ACT_RU_IDENTITYLINK(SCOPE_DEFINITION_ID_, SCOPE_TYPE_);

-- from server/odc-migrate/src/main/resources/migrate/oceanbase/R_3_3_1__initialize_flowable.sql:437-457
create table if not exists ACT_RU_VARIABLE (
    ID_ varchar(64) not null,
    REV_ integer,
    TYPE_ varchar(255) not null,
    NAME_ varchar(255) not null,
    EXECUTION_ID_ varchar(64),
    PROC_INST_ID_ varchar(64),
    TASK_ID_ varchar(64),
    SCOPE_ID_ varchar(255),
    SUB_SCOPE_ID_ varchar(255),
    SCOPE_TYPE_ varchar(255),
    BYTEARRAY_ID_ varchar(64),
    DOUBLE_ double,
    LONG_ bigint,
    TEXT_ varchar(4000),
    TEXT2_ varchar(4000),
    primary key (ID_),
    CONSTRAINT `ACT_FK_VAR_PROCINST` FOREIGN KEY (`PROC_INST_ID_`) REFERENCES `ACT_RU_EXECUTION`(`ID_`) ON UPDATE RESTRICT ON DELETE RESTRICT ,
    CONSTRAINT `ACT_FK_VAR_EXE` FOREIGN KEY (`EXECUTION_ID_`) REFERENCES `ACT_RU_EXECUTION`(`ID_`) ON UPDATE RESTRICT ON DELETE RESTRICT ,
    CONSTRAINT `ACT_FK_VAR_BYTEARRAY` FOREIGN KEY (`BYTEARRAY_ID_`) REFERENCES `ACT_GE_BYTEARRAY`(`ID_`) ON UPDATE RESTRICT ON DELETE RESTRICT
) DEFAULT CHARSET=utf8 COLLATE utf8_bin;

-- from server/odc-migrate/src/main/resources/migrate/oceanbase/R_3_3_1__initialize_flowable.sql:459-460
create index if not exists ACT_IDX_RU_VAR_SCOPE_ID_TYPE on ACT_RU_VARIABLE(SCOPE_ID_, SCOPE_TYPE_);
create index if not exists ACT_IDX_RU_VAR_SUB_ID_TYPE on ACT_RU_VARIABLE(SUB_SCOPE_ID_, SCOPE_TYPE_);

-- from server/odc-migrate/src/main/resources/migrate/oceanbase/R_3_3_1__initialize_flowable.sql:505-506
create index if not exists ACT_IDX_EXEC_BUSKEY on ACT_RU_EXECUTION(BUSINESS_KEY_);
create index if not exists ACT_IDC_EXEC_ROOT on ACT_RU_EXECUTION(ROOT_PROC_INST_ID_);

-- from server/odc-migrate/src/main/resources/migrate/oceanbase/R_3_3_1__initialize_flowable.sql:508-509
create index if not exists ACT_IDX_VARIABLE_TASK_ID on ACT_RU_VARIABLE(TASK_ID_);
create index if not exists ACT_IDX_ATHRZ_PROCEDEF on ACT_RU_IDENTITYLINK(PROC_DEF_ID_);

-- from server/odc-migrate/src/main/resources/migrate/oceanbase/R_3_3_1__initialize_flowable.sql:512-513
insert into ACT_GE_PROPERTY values ('schema.version', '6.3.1.0', 1) on duplicate key update `NAME_`=`NAME_`;
insert into ACT_GE_PROPERTY values ('schema.history', 'create(6.3.1.0)', 1) on duplicate key update `NAME_`=`NAME_`;
