-- The stand-in's own script, not ODC's (tests/world/README.md, "Broken releases"): release
-- 4.3.1-unhealthy migrates the metadb cleanly (so 4.3.0 then refuses to start over it:
-- "Software degrade is not allowed") and then fails to start (its image's FAULT file).
alter table `iam_user` add column `last_login_time` datetime default null comment 'last login time';
alter table `iam_user` add column `last_login_ip` varchar(64) default null comment 'last login ip';
