-- V015: the current month's figures are right at the turn of a month without any write or refresh,
-- and the dashboard can ask how fresh the statistics it reads are.
--
-- * stats.mv_peer_mentor_stats held current_month_count as of its last refresh: on the first of a
--   month with no write, the dashboard showed last month's count as this month's. The view now
--   also says which month that count is for (counted_month, the current month in Europe/Oslo when
--   it was computed), and public.peer_mentor_stats shows the count only while that month is still
--   the current one, else 0. That is exact: an activity of a later month can only be counted by a
--   refresh that ran in that month, so a view whose counted_month has passed holds none. The
--   month is taken from the clock when the view's query runs, after its snapshot, not from the
--   refreshing transaction's start, which may lie before midnight. The read path's clock is
--   private.current_month_start().
-- * public.stats_freshness tells a signed-in caller whether changes to the figures they read are
--   still waiting for a refresh, and as of when those figures are current (the ticket's fallback
--   banner). Only the caller's own scope is looked at: the peer mentors whose figures they read.
--   When nothing of theirs is waiting, their figures are current now; when something is, they are
--   as of the start of the last refresh. Anon gets nothing.
--
-- Every statement can run again without error; the view is rebuilt only while it lacks
-- counted_month.
-- Rollback: supabase/rollbacks/20261201000015_rollback_current_month_and_freshness_read_path.sql.

-- Rebuilding the view takes its ACCESS EXCLUSIVE lock, which a refresh in progress holds back:
-- wait briefly rather than queue readers behind this migration (D22).
set local lock_timeout = '5s';

-- ---------------------------------------------------------------------------------------------
-- The read path's clock
-- ---------------------------------------------------------------------------------------------

create or replace function private.oslo_month_start(p_at timestamptz)
returns date
language sql
immutable
set search_path = ''
as $$
    select pg_catalog.date_trunc('month', p_at at time zone 'Europe/Oslo')::date
$$;
comment on function private.oslo_month_start(timestamptz) is
    'The first day of the month p_at falls in, in Europe/Oslo (the organisation''s calendar).';
revoke all on function private.oslo_month_start(timestamptz) from public, anon, authenticated,
    service_role;

create or replace function private.current_month_start()
returns date
language sql
stable
set search_path = ''
as $$
    select private.oslo_month_start(pg_catalog.now())
$$;
comment on function private.current_month_start() is
    'The first day of the current month in Europe/Oslo: the one clock of the read path.';
revoke all on function private.current_month_start() from public, anon, authenticated,
    service_role;

-- ---------------------------------------------------------------------------------------------
-- stats.mv_peer_mentor_stats without a clock
-- ---------------------------------------------------------------------------------------------

do $$
begin
    if not exists (
        select from pg_catalog.pg_attribute a
        where a.attrelid = pg_catalog.to_regclass('stats.mv_peer_mentor_stats')
          and a.attname = 'counted_month' and not a.attisdropped
    ) then
        drop materialized view if exists stats.mv_peer_mentor_stats;
        drop function if exists stats.compute_peer_mentor_stats();
    end if;
end
$$;

-- As V009's, and it says which month current_month_count counts. One hash aggregate over the
-- summary: the current month is a constant of the query (an InitPlan), read from the clock after
-- the query's snapshot was taken.
create or replace function stats.compute_peer_mentor_stats()
returns table (
    chapter_id uuid,
    peer_mentor_id uuid,
    activity_count bigint,
    total_minutes bigint,
    last_activity_date date,
    current_month_count bigint,
    counted_month date
)
language plpgsql
volatile
set search_path = ''
set jit = off
set work_mem = '64MB'
as $$
declare
    -- Taken once: every row's count is for the same month.
    v_month date := pg_catalog.date_trunc(
        'month', pg_catalog.clock_timestamp() at time zone 'Europe/Oslo')::date;
begin
    perform stats.apply_activity_summary_changes();
    return query
    select
        s.chapter_id,
        s.peer_mentor_id,
        sum(s.activity_count)::bigint,
        sum(s.total_minutes)::bigint,
        max(s.last_activity_date),
        coalesce(sum(s.activity_count) filter (where s.month >= v_month), 0)::bigint,
        v_month
    from stats.activity_month_summary s
    group by s.chapter_id, s.peer_mentor_id;
end
$$;
comment on function stats.compute_peer_mentor_stats() is
    'The query of stats.mv_peer_mentor_stats: per chapter and peer mentor with counted '
    'activities, how many, total minutes, the last date, and how many in the current month '
    '(Europe/Oslo) when it runs, with that month. Applies the logged changes to '
    'stats.activity_month_summary first, then reads it.';
alter function stats.compute_peer_mentor_stats() owner to stats_owner;
revoke all on function stats.compute_peer_mentor_stats()
    from public, anon, authenticated, service_role;

create materialized view if not exists stats.mv_peer_mentor_stats as
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
-- The view is new in this transaction (or the index exists already): no one waits for the build.
-- squawk-ignore require-concurrent-index-creation
create unique index if not exists mv_peer_mentor_stats_key
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

-- ---------------------------------------------------------------------------------------------
-- public.peer_mentor_stats: the current month decided when it is read
-- ---------------------------------------------------------------------------------------------

-- SECURITY DEFINER, as V006's: the caller has no access to schema stats; the WHERE clause is the
-- boundary.
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
        case when s.counted_month = (select private.current_month_start())
             then s.current_month_count else 0 end
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
    'coordinate, and their own rows in chapters where they are a peer mentor; the current '
    'month''s count decided now.';
revoke all on function private.peer_mentor_stats_rows() from public, anon, authenticated,
    service_role;
grant execute on function private.peer_mentor_stats_rows() to authenticated;

-- ---------------------------------------------------------------------------------------------
-- public.stats_freshness
-- ---------------------------------------------------------------------------------------------

-- SECURITY DEFINER: the caller may read neither the change log nor the refresh log; only two
-- answers about their own scope leave. The scope is the peer_mentor_stats boundary: themselves,
-- and every peer mentor of the chapters they coordinate.
create or replace function private.stats_freshness_row()
returns table (
    stats_as_of timestamptz,
    changes_pending boolean
)
language sql
stable
security definer
set search_path = ''
as $$
    with scope as (
        select (select auth.uid()) as peer_mentor_id
        union
        select m.user_id
        from public.chapter_memberships m
        where m.member_role = 'peer_mentor'
          and m.chapter_id = any ((select private.member_chapter_ids('coordinator'))::uuid[])
    ), waiting as (
        select exists (
            select from stats.activity_summary_changes c
            where c.peer_mentor_id in (select s.peer_mentor_id from scope s)
        ) as pending
    )
    select
        case when w.pending then coalesce(l.views_as_of, l.refreshed_at) else pg_catalog.now() end,
        w.pending
    from waiting w
    left join stats.stats_refresh_log l on l.id
    where (select auth.uid()) is not null
$$;
comment on function private.stats_freshness_row() is
    'For the signed-in caller: whether changes to the figures they read wait for a refresh (in '
    'stats.activity_summary_changes), and as of when their figures are current: now when nothing '
    'waits, else when the last refresh began.';
revoke all on function private.stats_freshness_row() from public, anon, authenticated,
    service_role;
grant execute on function private.stats_freshness_row() to authenticated;

create or replace view public.stats_freshness
with (security_invoker = true)
as
select r.stats_as_of, r.changes_pending
from private.stats_freshness_row() r;
comment on view public.stats_freshness is
    'How fresh the figures of peer_mentor_stats and activity_time_series are for you: '
    'changes_pending is true while a registration or correction you can see is not counted yet '
    '(usually for about a second); stats_as_of is the time your figures are current as of.';
comment on column public.stats_freshness.stats_as_of is
    'Your figures include every change committed before this time.';
comment on column public.stats_freshness.changes_pending is
    'true while a change to figures you can see is still being counted.';
revoke all on table public.stats_freshness from anon, authenticated, service_role;
grant select on table public.stats_freshness to authenticated;

-- Read-only as V013 makes the other read views: a write gets 42501, not the rewriter's 55000.
drop trigger if exists stats_freshness_refuse_writes on public.stats_freshness;
create trigger stats_freshness_refuse_writes
    instead of insert or update or delete on public.stats_freshness
    for each row execute function private.refuse_read_view_write();
comment on trigger stats_freshness_refuse_writes on public.stats_freshness is
    'Read-only view: a write is refused with 42501 (permission denied), not 55000.';
