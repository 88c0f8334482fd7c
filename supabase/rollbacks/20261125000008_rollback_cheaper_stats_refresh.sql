-- Rollback of V008 (20261125000008_cheaper_stats_refresh.sql).
--
-- Puts back the counting definition and both materialized views exactly as V004 and V005 define
-- them, by re-running those two migrations' own statements (every one of them can run again), and
-- drops V008's functions and indexes. No data is lost: activities are untouched and both views
-- are rebuilt with their data, the same rows as before.
--
-- Run it with `just rollback 20261125000008` (psql, as postgres, in one transaction). No CASCADE:
-- an unexpected dependent fails the rollback instead of disappearing with it.

-- The views read V008's functions: they go first, then V005 recreates them from its own queries.
drop materialized view if exists stats.mv_peer_mentor_stats;
drop materialized view if exists stats.mv_activity_time_series;
drop function if exists stats.compute_peer_mentor_stats();
drop function if exists stats.compute_activity_time_series();

\ir ../migrations/20261125000004_bufdir_counting_rules.sql
\ir ../migrations/20261125000005_stats_materialized_views.sql

drop index if exists public.activities_counting_with_contact_idx;
drop index if exists public.activities_counting_without_contact_idx;
