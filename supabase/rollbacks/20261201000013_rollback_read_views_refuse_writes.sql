-- Rollback of V013 (20261201000013_read_views_refuse_writes.sql).
--
-- Drops the INSTEAD OF triggers of the two read views and their function. Nothing else changes and
-- no data is touched; a write to a read view is then refused by PostgreSQL's rewriter again, with
-- 55000 (HTTP 500 through PostgREST) instead of 42501.
--
-- Run it with `just rollback 20261201000013` (psql, as postgres, in one transaction).

drop trigger if exists peer_mentor_stats_refuse_writes on public.peer_mentor_stats;
drop trigger if exists activity_time_series_refuse_writes on public.activity_time_series;
drop function if exists private.refuse_read_view_write();
