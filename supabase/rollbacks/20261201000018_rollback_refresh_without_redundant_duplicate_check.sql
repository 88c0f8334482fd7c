-- Rollback of V018 (20261201000018_refresh_without_redundant_duplicate_check.sql).
--
-- Rebuilds both stats views without their always-NULL column, as V015 and V017 left them: the
-- same rows, and REFRESH ... CONCURRENTLY runs its duplicate check again (about twice the cost).
-- The views are recomputed from the summary; readers wait for the rebuild's lock.
--
-- Run it with `just rollback 20261201000018` (psql, as postgres, in one transaction).

set local lock_timeout = '5s';

drop materialized view if exists stats.mv_peer_mentor_stats;
drop materialized view if exists stats.mv_activity_time_series;

create materialized view stats.mv_peer_mentor_stats
with (vacuum_truncate = false) as
select
    s.chapter_id,
    s.peer_mentor_id,
    s.activity_count,
    s.total_minutes,
    s.last_activity_date,
    s.current_month_count,
    s.counted_month
from stats.compute_peer_mentor_stats() s
with data;
create unique index mv_peer_mentor_stats_key
    on stats.mv_peer_mentor_stats (chapter_id, peer_mentor_id);
alter materialized view stats.mv_peer_mentor_stats owner to stats_owner;
revoke all on table stats.mv_peer_mentor_stats from public, anon, authenticated, service_role;
comment on materialized view stats.mv_peer_mentor_stats is
    'Per chapter and peer mentor with counted activities: how many, total minutes, the last date, '
    'and how many in counted_month, the current month (Europe/Oslo) when it was last refreshed. '
    'Computed by stats.compute_peer_mentor_stats().';
comment on index stats.mv_peer_mentor_stats_key is
    'One row per chapter and mentor; lets REFRESH ... CONCURRENTLY match old and new rows.';
comment on column stats.mv_peer_mentor_stats.counted_month is
    'The month current_month_count counts. The read path shows that count while this month is '
    'the current one, and 0 after.';

create materialized view stats.mv_activity_time_series
with (vacuum_truncate = false) as
select
    s.chapter_id,
    s.month,
    s.activity_type_id,
    s.activity_count,
    s.total_minutes,
    s.active_mentors
from stats.compute_activity_time_series() s
with data;
create unique index mv_activity_time_series_key
    on stats.mv_activity_time_series (chapter_id, month, activity_type_id);
alter materialized view stats.mv_activity_time_series owner to stats_owner;
revoke all on table stats.mv_activity_time_series from public, anon, authenticated, service_role;
comment on materialized view stats.mv_activity_time_series is
    'Per chapter, month (its first day) and activity kind with counted activities: how many, '
    'total minutes, and how many distinct mentors. Computed by '
    'stats.compute_activity_time_series().';
comment on index stats.mv_activity_time_series_key is
    'One row per chapter, month and kind; lets REFRESH ... CONCURRENTLY match old and new rows.';
