-- V019: V017's protection covers every relation a dashboard read reads.
--
-- V017 kept VACUUM from truncating the relations the refresh churns, but a dashboard read reads two
-- more: public.profiles (the mentors' names in peer_mentor_stats) and public.chapter_memberships
-- (private.member_chapter_ids(), the read path's one membership lookup, and stats_freshness's
-- scope). Once rows are deleted from either (users removed, memberships ended), autovacuum
-- truncates their empty trailing pages under ACCESS EXCLUSIVE, and every dashboard read queues
-- behind it: the reliability soak's readers (lock_timeout 1 ms) met exactly that on profiles after
-- earlier tests had removed users. Both tables are small, so keeping their high-water size costs
-- little; `vacuum (truncate)` gives the space back at a quiet time (docs/runbook.md).
--
-- e2e/tests/test_reliability_concurrency.py reads the dashboard as a coordinator and as a mentor
-- and checks this option on every table and view whose lock the read took, so a relation added
-- to the read path later is not missed again.
--
-- Setting the option takes SHARE UPDATE EXCLUSIVE: readers and writers do not wait for it.
--
-- Every statement can run again without error.
-- Rollback: supabase/rollbacks/20261202000019_rollback_every_dashboard_read_never_waits_for_vacuum.sql.

set local lock_timeout = '5s';

alter table public.profiles set (vacuum_truncate = false);
alter table public.chapter_memberships set (vacuum_truncate = false);
