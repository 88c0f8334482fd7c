-- Rollback of V009 (20261125000009_incremental_stats_summary.sql).
--
-- Puts back V008's state exactly: both views' queries compute from stats.counted_activities again
-- (V008's own statements, re-run; every one of them can run again and the views, which read those
-- functions, are not rebuilt), then the triggers, functions, summary and change log of V009 go.
-- No data is lost: activities are untouched and the views keep their rows; a change not yet in
-- them is still listed in stats.stats_refresh_pending (V007), and the next refresh, now computed
-- from the activities, takes it in.
--
-- Run it with `just rollback 20261125000009` (psql, as postgres, in one transaction). No CASCADE:
-- an unexpected dependent fails the rollback instead of disappearing with it.

-- Writers stop logging first.
drop trigger if exists trg_activity_summary_arm_insert on public.activities;
drop trigger if exists trg_activity_summary_arm_update on public.activities;
drop trigger if exists trg_activity_summary_arm_delete on public.activities;
drop trigger if exists trg_activity_summary_insert on public.activities;
drop trigger if exists trg_activity_summary_update on public.activities;
drop trigger if exists trg_activity_summary_delete on public.activities;
drop trigger if exists trg_activity_summary_truncate on public.activities;
drop trigger if exists trg_activity_type_summary_update on public.activity_types;

\ir ../migrations/20261125000008_cheaper_stats_refresh.sql

drop function if exists stats.apply_activity_summary_changes();
drop function if exists stats.trg_arm_activity_summary_log();
drop function if exists stats.trg_log_activity_summary_changes();
drop function if exists stats.trg_log_activity_type_summary_changes();
drop function if exists stats.trg_truncate_activity_summary();

drop table if exists stats.activity_summary_changes;
drop table if exists stats.activity_month_summary;

