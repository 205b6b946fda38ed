-- The stand-in's own script, not ODC's (tests/world/README.md, "Broken releases"): release
-- 4.3.1-badmigrate fails half-way, as a real script can (tests/world/ODC-UPGRADE-FACTS.md §3):
-- the first statement is applied and stays (autocommit, DDL commits anyway), the second fails
-- (no such table); every later start re-runs the script from its first statement, which then
-- fails on the column the first run left.
alter table `iam_user` add column `login_policy` varchar(64) default null comment 'login policy name';
alter table `iam_user_login_policy` add column `policy_id` bigint(20) default null comment 'policy id';
