-- Rollback of V010 (20261201000010_safeupdate_safe_statements.sql).
--
-- Puts back V009's applier and TRUNCATE trigger function by re-running V009's own statements
-- (every one of them can run again; the summary is recomputed, the same rows), then drops the two
-- helpers V010 added. No data is lost. Note what this brings back: on Supabase, V009's unqualified
-- deletes make every commit-time refresh of a write made through the API fail (safeupdate).
--
-- Run it with `just rollback 20261201000010` (psql, as postgres, in one transaction). Roll later
-- migrations back first. No CASCADE: an unexpected dependent fails the rollback instead of
-- disappearing with it.

\ir ../migrations/20261125000009_incremental_stats_summary.sql

drop function if exists stats.recompute_activity_month_summary();
drop function if exists stats.lock_activity_month_summary();
