-- V017: a reader of the dashboard never waits for VACUUM.
--
-- VACUUM (autovacuum included) ends by truncating a relation's empty trailing pages, and for that
-- it takes the relation's ACCESS EXCLUSIVE lock: brief, but every reader queues behind it. The
-- relations the read path reads are the ones the refresh churns: both materialized views (REFRESH
-- CONCURRENTLY deletes and inserts rows), the per-month summary (a group's rows are replaced on
-- every change), the change log (each write adds rows, each refresh takes them out) and the
-- refresh log (updated by every cycle). Under sustained writes autovacuum found empty trailing
-- pages in the summary and two dashboard reads waited for it. With vacuum_truncate off, VACUUM
-- leaves those pages in place for later rows to reuse: the files keep their high-water size, which
-- the soak measures, and never shrink on their own. An operator who wants the space back runs
-- `vacuum (truncate) <relation>` at a quiet time (docs/runbook.md).
--
-- Setting the option takes SHARE UPDATE EXCLUSIVE, which neither readers nor writers wait for,
-- only a refresh in progress (REFRESH CONCURRENTLY holds EXCLUSIVE on a view).
--
-- Every statement can run again without error.
-- Rollback: supabase/rollbacks/20261201000017_rollback_read_path_never_waits_for_vacuum.sql.

set local lock_timeout = '5s';

alter materialized view stats.mv_peer_mentor_stats set (vacuum_truncate = false);
alter materialized view stats.mv_activity_time_series set (vacuum_truncate = false);
alter table stats.activity_month_summary set (vacuum_truncate = false);
alter table stats.activity_summary_changes set (vacuum_truncate = false);
alter table stats.stats_refresh_log set (vacuum_truncate = false);
