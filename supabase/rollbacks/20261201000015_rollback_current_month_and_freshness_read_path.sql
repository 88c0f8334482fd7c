-- Rollback of V015 (20261201000015_current_month_and_freshness_read_path.sql).
--
-- Puts back stats.mv_peer_mentor_stats with current_month_count computed at each refresh, its
-- function as V009 wrote it, and the read path's row source as V006 wrote it; drops
-- public.stats_freshness, its row source and the read path's clock. The view is rebuilt with its
-- data (every counted activity, the pending ones included). What this brings back: on the first
-- of a month without a write, the dashboard shows last month's count as this month's.
--
-- Run it with `just rollback 20261201000015` (psql, as postgres, in one transaction); later
-- migrations are rolled back first. The two functions are spelled out as they were (re-running
-- V006 or V009 whole would also undo V010 and V012). No CASCADE: an unexpected dependent fails the
-- rollback instead of disappearing with it.

set local lock_timeout = '5s';

drop view if exists public.stats_freshness;
drop function if exists private.stats_freshness_row();

drop materialized view if exists stats.mv_peer_mentor_stats;
drop function if exists stats.compute_peer_mentor_stats();

-- V009's
create function stats.compute_peer_mentor_stats()
returns table (
    chapter_id uuid,
    peer_mentor_id uuid,
    activity_count bigint,
    total_minutes bigint,
    last_activity_date date,
    current_month_count bigint
)
language plpgsql
volatile
set search_path = ''
set jit = off
set work_mem = '64MB'
as $$
begin
    perform stats.apply_activity_summary_changes();
    return query
    select
        s.chapter_id,
        s.peer_mentor_id,
        sum(s.activity_count)::bigint,
        sum(s.total_minutes)::bigint,
        max(s.last_activity_date),
        coalesce(sum(s.activity_count) filter (
            where s.month >= (
                select pg_catalog.date_trunc('month', pg_catalog.now() at time zone 'Europe/Oslo')::date
            )
        ), 0)::bigint
    from stats.activity_month_summary s
    group by s.chapter_id, s.peer_mentor_id;
end
$$;
comment on function stats.compute_peer_mentor_stats() is
    'The query of stats.mv_peer_mentor_stats: per chapter and peer mentor with counted '
    'activities, how many, total minutes, the last date and how many in the current month '
    '(Europe/Oslo). Applies the logged changes to stats.activity_month_summary first, then reads '
    'it. A function so that the query carries its settings (jit, work_mem).';
alter function stats.compute_peer_mentor_stats() owner to stats_owner;
revoke all on function stats.compute_peer_mentor_stats()
    from public, anon, authenticated, service_role;

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
alter materialized view stats.mv_peer_mentor_stats owner to stats_owner;
revoke all on table stats.mv_peer_mentor_stats from public, anon, authenticated, service_role;
comment on materialized view stats.mv_peer_mentor_stats is
    'Per chapter and peer mentor with counted activities: how many, total minutes, the last date, '
    'and how many in the current month (Europe/Oslo) as of the last refresh. Computed by '
    'stats.compute_peer_mentor_stats().';
comment on index stats.mv_peer_mentor_stats_key is
    'One row per chapter and mentor; lets REFRESH ... CONCURRENTLY match old and new rows.';

-- V006's
create or replace function private.peer_mentor_stats_rows()
returns table (
    chapter_id uuid,
    peer_mentor_id uuid,
    full_name text,
    activity_count bigint,
    total_minutes bigint,
    last_activity_date date,
    current_month_count bigint
)
language sql
stable
security definer
set search_path = ''
rows 100
as $$
    select
        s.chapter_id,
        s.peer_mentor_id,
        p.full_name,
        s.activity_count,
        s.total_minutes,
        s.last_activity_date,
        s.current_month_count
    from stats.mv_peer_mentor_stats s
    join public.profiles p on p.id = s.peer_mentor_id
    -- Sub-selects: evaluated once per call, not once per row.
    where s.chapter_id = any ((select private.member_chapter_ids('coordinator'))::uuid[])
       or (
           s.peer_mentor_id = (select auth.uid())
           and s.chapter_id = any ((select private.member_chapter_ids('peer_mentor'))::uuid[])
       )
$$;
comment on function private.peer_mentor_stats_rows() is
    'Rows of stats.mv_peer_mentor_stats the caller may see: every mentor of the chapters they '
    'coordinate, and their own rows in chapters where they are a peer mentor.';

drop function if exists private.current_month_start();
drop function if exists private.oslo_month_start(timestamptz);
