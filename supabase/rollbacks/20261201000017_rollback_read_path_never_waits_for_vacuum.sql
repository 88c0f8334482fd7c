-- Rollback of V017 (20261201000017_read_path_never_waits_for_vacuum.sql).
--
-- VACUUM may truncate the read path's relations again, and readers then wait for its brief
-- ACCESS EXCLUSIVE lock. No data is touched.
--
-- Run it with `just rollback 20261201000017` (psql, as postgres, in one transaction).

set local lock_timeout = '5s';

alter materialized view stats.mv_peer_mentor_stats reset (vacuum_truncate);
alter materialized view stats.mv_activity_time_series reset (vacuum_truncate);
alter table stats.activity_month_summary reset (vacuum_truncate);
alter table stats.activity_summary_changes reset (vacuum_truncate);
alter table stats.stats_refresh_log reset (vacuum_truncate);
