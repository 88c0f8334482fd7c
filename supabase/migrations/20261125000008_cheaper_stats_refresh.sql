-- V008: the same two stats views for less, so that the refresh cycle a commit runs (V007) stays
-- short, and a refresh at a million activities takes under a second instead of four.
--
-- Nothing a reader sees changes: stats.counted_activities returns the same rows (decision D10:
-- still the one counting definition, used by the export too), and both materialized views keep
-- their names, columns, types, owner, privileges and unique indexes. What changes is how they are
-- computed; `just bench` measures it (README, "Benchmarks", has before and after):
-- * duplicates are found by reading a covering index in (mentor, kind, date, contact, id) order
--   and keeping the first row of each group (DISTINCT ON), instead of hashing every registered
--   activity for an anti-join; with no join left, a table without statistics cannot be planned
--   into a nested loop either;
-- * activities without a contact, which are never duplicates, skip that step and are read from a
--   second covering index;
-- * the time series' per-mentor step sums into integers, so the per-cell sums stay in bigint
--   arithmetic instead of numeric (V005's two-step count of distinct mentors, its once-per-query
--   month boundary and its months without time zone are kept);
-- * each view's query lives in a function that carries its own settings: REFRESH plans a view's
--   query with whatever settings the refreshing session has; at a million activities JIT
--   compilation doubled the refresh, and the time series' hash table (10 MB there) is about to
--   outgrow what the default work_mem (4 MB, times hash_mem_multiplier) allows before spilling.
--
-- Every statement can run again without error, and a second run changes nothing (the views are
-- rebuilt only when they do not read their functions yet). V009 and V015 redefine both views'
-- functions; the current definitions are in supabase/schema.sql.

-- ---------------------------------------------------------------------------------------------
-- Indexes the counting definition reads instead of the table
-- ---------------------------------------------------------------------------------------------

create index if not exists activities_counting_with_contact_idx
    on public.activities (peer_mentor_id, activity_type_id, activity_date, contact_ref, id)
    include (chapter_id, duration_minutes)
    where status = 'registered' and contact_ref is not null;
comment on index public.activities_counting_with_contact_idx is
    'Registered activities with a contact, in duplicate order: stats.counted_activities keeps the '
    'lowest id of each mentor, kind, date and contact by reading this index (index-only).';

create index if not exists activities_counting_without_contact_idx
    on public.activities (peer_mentor_id, activity_type_id, activity_date)
    include (chapter_id, duration_minutes, id)
    where status = 'registered' and contact_ref is null;
comment on index public.activities_counting_without_contact_idx is
    'Registered activities without a contact (never duplicates): stats.counted_activities reads '
    'them index-only.';

-- ---------------------------------------------------------------------------------------------
-- The counting definition: the same rows as V004's, computed differently
-- ---------------------------------------------------------------------------------------------

-- V004: counted = registered, of a kind that counts, and no registered activity with the same
-- mentor, kind, date and contact_ref has a lower id. Split by contact_ref: without one, nothing is
-- a duplicate; with one, the lowest id of each (mentor, kind, date, contact_ref) is the row that
-- counts. Filtering the kind before picking the lowest id changes nothing: the kind is part of the
-- group. A filter on activity_date still reaches the index (it is one of the DISTINCT ON keys).
create or replace view stats.counted_activities as
select
    a.id,
    a.chapter_id,
    a.peer_mentor_id,
    a.activity_type_id,
    a.activity_date,
    a.duration_minutes
from public.activities a
where a.status = 'registered'
  and a.contact_ref is null
  and a.activity_type_id = any (array(
      select t.id from public.activity_types t where t.counts_for_bufdir
  ))
union all
(
    select distinct on (f.peer_mentor_id, f.activity_type_id, f.activity_date, f.contact_ref)
        f.id,
        f.chapter_id,
        f.peer_mentor_id,
        f.activity_type_id,
        f.activity_date,
        f.duration_minutes
    from public.activities f
    where f.status = 'registered'
      and f.contact_ref is not null
      and f.activity_type_id = any (array(
          select t.id from public.activity_types t where t.counts_for_bufdir
      ))
    order by f.peer_mentor_id, f.activity_type_id, f.activity_date, f.contact_ref, f.id
);
alter view stats.counted_activities owner to stats_owner;
comment on view stats.counted_activities is
    'The Bufdir counting rules, the single definition used by stats.mv_peer_mentor_stats, '
    'stats.mv_activity_time_series and public.bufdir_export: registered, of a kind that counts, '
    'and not a later duplicate (same mentor, kind, date and non-null contact_ref; the lowest id '
    'counts, in its own chapter). Reads the activities_counting_* indexes (V008).';
revoke all on table stats.counted_activities from public, anon, authenticated, service_role;

-- ---------------------------------------------------------------------------------------------
-- The views' queries, with the settings they run under
-- ---------------------------------------------------------------------------------------------

-- SECURITY INVOKER: REFRESH runs a materialized view's query as the view's owner, stats_owner,
-- which also owns these functions and the counting definition. jit off: at the sizes this runs at
-- compiling costs more than it saves. work_mem: the aggregation's hash tables stay in memory up to
-- several million activities; the memory is taken only while a refresh runs.
create or replace function stats.compute_peer_mentor_stats()
returns table (
    chapter_id uuid,
    peer_mentor_id uuid,
    activity_count bigint,
    total_minutes bigint,
    last_activity_date date,
    current_month_count bigint
)
language sql
stable
set search_path = ''
set jit = off
set work_mem = '64MB'
as $$
    select
        c.chapter_id,
        c.peer_mentor_id,
        count(*),
        sum(c.duration_minutes),
        max(c.activity_date),
        -- a subquery, so that the month's first day (Europe/Oslo) is computed once, not per row
        count(*) filter (
            where c.activity_date >= (
                select date_trunc('month', now() at time zone 'Europe/Oslo')::date
            )
        )
    from stats.counted_activities c
    group by c.chapter_id, c.peer_mentor_id
$$;
comment on function stats.compute_peer_mentor_stats() is
    'The query of stats.mv_peer_mentor_stats: per chapter and peer mentor with counted '
    'activities, how many, total minutes, the last date and how many in the current month '
    '(Europe/Oslo). A function so that the query carries its settings (jit, work_mem).';
alter function stats.compute_peer_mentor_stats() owner to stats_owner;
revoke all on function stats.compute_peer_mentor_stats()
    from public, anon, authenticated, service_role;

-- As stats.compute_peer_mentor_stats(). The per-mentor step sums into integers: a single mentor
-- would need over a million activities of one kind in one month to overflow them, and then the
-- refresh fails (and V007 records it) rather than count wrong.
create or replace function stats.compute_activity_time_series()
returns table (
    chapter_id uuid,
    month date,
    activity_type_id smallint,
    activity_count bigint,
    total_minutes bigint,
    active_mentors bigint
)
language sql
stable
set search_path = ''
set jit = off
set work_mem = '64MB'
as $$
    select
        m.chapter_id,
        m.month,
        m.activity_type_id,
        sum(m.activities),
        sum(m.minutes),
        -- one row per mentor active in the cell: the count is the distinct mentors
        count(*)
    from (
        select
            c.chapter_id,
            date_trunc('month', c.activity_date::timestamp)::date as month,
            c.activity_type_id,
            c.peer_mentor_id,
            count(*)::integer as activities,
            sum(c.duration_minutes)::integer as minutes
        from stats.counted_activities c
        group by 1, 2, 3, 4
    ) m
    group by m.chapter_id, m.month, m.activity_type_id
$$;
comment on function stats.compute_activity_time_series() is
    'The query of stats.mv_activity_time_series: per chapter, month (its first day) and activity '
    'kind with counted activities, how many, total minutes and distinct mentors. A function so '
    'that the query carries its settings (jit, work_mem).';
alter function stats.compute_activity_time_series() owner to stats_owner;
revoke all on function stats.compute_activity_time_series()
    from public, anon, authenticated, service_role;

-- ---------------------------------------------------------------------------------------------
-- The materialized views, reading those functions
-- ---------------------------------------------------------------------------------------------

-- A materialized view's query cannot be replaced in place: rebuild each one (with its data and
-- its unique index) unless it already reads its function. Later changes to a query only need
-- `create or replace function`.
do $$
begin
    if not exists (
        select
        from pg_catalog.pg_depend d
        join pg_catalog.pg_rewrite r on r.oid = d.objid
        where d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass
          and r.ev_class = pg_catalog.to_regclass('stats.mv_peer_mentor_stats')
          and d.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass
          and d.refobjid = 'stats.compute_peer_mentor_stats()'::pg_catalog.regprocedure
    ) then
        drop materialized view if exists stats.mv_peer_mentor_stats;
        create materialized view stats.mv_peer_mentor_stats as
        select
            s.chapter_id,
            s.peer_mentor_id,
            s.activity_count,
            s.total_minutes,
            s.last_activity_date,
            s.current_month_count
        from stats.compute_peer_mentor_stats() s
        with data;
        create unique index mv_peer_mentor_stats_key
            on stats.mv_peer_mentor_stats (chapter_id, peer_mentor_id);
    end if;

    if not exists (
        select
        from pg_catalog.pg_depend d
        join pg_catalog.pg_rewrite r on r.oid = d.objid
        where d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass
          and r.ev_class = pg_catalog.to_regclass('stats.mv_activity_time_series')
          and d.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass
          and d.refobjid = 'stats.compute_activity_time_series()'::pg_catalog.regprocedure
    ) then
        drop materialized view if exists stats.mv_activity_time_series;
        create materialized view stats.mv_activity_time_series as
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
    end if;
end
$$;

alter materialized view stats.mv_peer_mentor_stats owner to stats_owner;
comment on materialized view stats.mv_peer_mentor_stats is
    'Per chapter and peer mentor with counted activities: how many, total minutes, the last date, '
    'and how many in the current month (Europe/Oslo) as of the last refresh. Computed by '
    'stats.compute_peer_mentor_stats().';
revoke all on table stats.mv_peer_mentor_stats from public, anon, authenticated, service_role;
comment on index stats.mv_peer_mentor_stats_key is
    'One row per chapter and mentor; lets REFRESH ... CONCURRENTLY match old and new rows.';

alter materialized view stats.mv_activity_time_series owner to stats_owner;
comment on materialized view stats.mv_activity_time_series is
    'Per chapter, month (its first day) and activity kind with counted activities: how many, '
    'total minutes, and how many distinct mentors. Computed by '
    'stats.compute_activity_time_series().';
revoke all on table stats.mv_activity_time_series from public, anon, authenticated, service_role;
comment on index stats.mv_activity_time_series_key is
    'One row per chapter, month and kind; lets REFRESH ... CONCURRENTLY match old and new rows.';
