-- V005: the two materialized views of the dashboard, in the private schema `stats` (decision D4:
-- a materialized view cannot have row-level security, so no API role may read these; users read
-- them through V006's read path). Both are owned by stats_owner and carry the unique index
-- REFRESH MATERIALIZED VIEW CONCURRENTLY needs. Both read only stats.counted_activities.
--
-- Superseded: V008 rebuilds both views over functions, V009 computes those from a summary, V015
-- adds the month a count is for; the current definitions are in supabase/schema.sql.
-- `if not exists` keeps a re-run from throwing the data away; a later change of a definition
-- belongs in a new migration that drops and recreates the view.

create materialized view if not exists stats.mv_peer_mentor_stats as
select
    c.chapter_id,
    c.peer_mentor_id,
    count(*) as activity_count,
    sum(c.duration_minutes) as total_minutes,
    max(c.activity_date) as last_activity_date,
    -- a sub-select, so the first day of this month is computed once, not once per row (11 ms)
    count(*) filter (
        where c.activity_date
              >= (select date_trunc('month', now() at time zone 'Europe/Oslo')::date)
    ) as current_month_count
from stats.counted_activities c
group by c.chapter_id, c.peer_mentor_id
with data;
alter materialized view stats.mv_peer_mentor_stats owner to stats_owner;
comment on materialized view stats.mv_peer_mentor_stats is
    'Per chapter and peer mentor with counted activities: how many, total minutes, the last date, '
    'and how many in the current month (Europe/Oslo) as of the last refresh.';
revoke all on table stats.mv_peer_mentor_stats from public, anon, authenticated, service_role;

create unique index if not exists mv_peer_mentor_stats_key
    on stats.mv_peer_mentor_stats (chapter_id, peer_mentor_id);
comment on index stats.mv_peer_mentor_stats_key is
    'One row per chapter and mentor; lets REFRESH ... CONCURRENTLY match old and new rows.';

-- Distinct mentors by counting the rows of a first grouping that includes the mentor: two hash
-- aggregations in memory, where count(distinct) sorts every group (and spills beyond work_mem).
-- The month comes from a date cast to timestamp: date_trunc on a bare date would convert it to
-- timestamptz, in the session's time zone, row by row.
create materialized view if not exists stats.mv_activity_time_series as
select
    m.chapter_id,
    m.month,
    m.activity_type_id,
    sum(m.activity_count)::bigint as activity_count,
    sum(m.total_minutes)::bigint as total_minutes,
    count(*) as active_mentors
from (
    select
        c.chapter_id,
        date_trunc('month', c.activity_date::timestamp)::date as month,
        c.activity_type_id,
        c.peer_mentor_id,
        count(*) as activity_count,
        sum(c.duration_minutes) as total_minutes
    from stats.counted_activities c
    group by 1, 2, 3, 4
) m
group by m.chapter_id, m.month, m.activity_type_id
with data;
alter materialized view stats.mv_activity_time_series owner to stats_owner;
comment on materialized view stats.mv_activity_time_series is
    'Per chapter, month (its first day) and activity kind with counted activities: how many, '
    'total minutes, and how many distinct mentors.';
revoke all on table stats.mv_activity_time_series from public, anon, authenticated, service_role;

create unique index if not exists mv_activity_time_series_key
    on stats.mv_activity_time_series (chapter_id, month, activity_type_id);
comment on index stats.mv_activity_time_series_key is
    'One row per chapter, month and kind; lets REFRESH ... CONCURRENTLY match old and new rows.';
