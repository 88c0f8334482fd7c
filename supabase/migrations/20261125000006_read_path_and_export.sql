-- V006: what the dashboard and the Bufdir export read, each limited to the caller's chapters.
--
-- The materialized views sit in `stats`, which no API role may use (decision D4). The public
-- views run with the caller's rights (security_invoker, so Supabase's linter 0010 has nothing to
-- flag) and take their rows from SECURITY DEFINER functions in `private`, which pick the caller's
-- rows from auth.uid(), never from an argument. A filter the caller adds (chapter_id=eq.<x>)
-- applies on top, so naming another chapter returns nothing rather than an error.
-- Supabase's linter lists these SECURITY DEFINER functions (and V003's membership helper) under
-- 0029, "executable by authenticated": deliberately so. Each answers only for auth.uid(), pins
-- search_path, and, but for the export, lives in `private`, which PostgREST does not expose.
-- Every statement can run again without error. Later migrations redefine parts of this one: V012
-- the export (an invoker function over private.bufdir_export_rows), V015 the peer-mentor rows
-- (the current month decided when read), V016 the time series' rows (a peer mentor's own); the
-- current definitions are in supabase/schema.sql.

-- ---------------------------------------------------------------------------------------------
-- public.peer_mentor_stats
-- ---------------------------------------------------------------------------------------------

-- SECURITY DEFINER: the caller has no access to schema stats; the WHERE clause is the boundary.
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
revoke all on function private.peer_mentor_stats_rows() from public, anon, authenticated,
    service_role;
grant execute on function private.peer_mentor_stats_rows() to authenticated;

create or replace view public.peer_mentor_stats
with (security_invoker = true)
as
select
    r.chapter_id,
    r.peer_mentor_id,
    r.full_name,
    r.activity_count,
    r.total_minutes,
    r.last_activity_date,
    r.current_month_count
from private.peer_mentor_stats_rows() r;
comment on view public.peer_mentor_stats is
    'Per chapter and peer mentor: counted activities, minutes, last date and the current month''s '
    'count, as of the last refresh. A coordinator sees their chapters, a mentor their own rows.';
revoke all on table public.peer_mentor_stats from anon, authenticated, service_role;
grant select on table public.peer_mentor_stats to authenticated;

-- ---------------------------------------------------------------------------------------------
-- public.activity_time_series
-- ---------------------------------------------------------------------------------------------

-- SECURITY DEFINER: the caller has no access to schema stats; the WHERE clause is the boundary.
create or replace function private.activity_time_series_rows()
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
security definer
set search_path = ''
rows 500
as $$
    select
        s.chapter_id,
        s.month,
        s.activity_type_id,
        s.activity_count,
        s.total_minutes,
        s.active_mentors
    from stats.mv_activity_time_series s
    where s.chapter_id = any ((select private.member_chapter_ids())::uuid[])
$$;
comment on function private.activity_time_series_rows() is
    'Rows of stats.mv_activity_time_series of the chapters the caller belongs to, in any role.';
revoke all on function private.activity_time_series_rows() from public, anon, authenticated,
    service_role;
grant execute on function private.activity_time_series_rows() to authenticated;

create or replace view public.activity_time_series
with (security_invoker = true)
as
select
    r.chapter_id,
    r.month,
    r.activity_type_id,
    r.activity_count,
    r.total_minutes,
    r.active_mentors
from private.activity_time_series_rows() r;
comment on view public.activity_time_series is
    'Per chapter, month and activity kind: counted activities, minutes and distinct active '
    'mentors, as of the last refresh, for the chapters the caller belongs to.';
revoke all on table public.activity_time_series from anon, authenticated, service_role;
grant select on table public.activity_time_series to authenticated;

-- ---------------------------------------------------------------------------------------------
-- public.bufdir_export
-- ---------------------------------------------------------------------------------------------

-- SECURITY DEFINER: duplicates are found across all chapters, including ones the caller cannot
-- read, exactly as the statistics find them; only the totals of the caller's chapters leave.
create or replace function public.bufdir_export(
    p_from date,
    p_to date,
    p_chapter_ids uuid[] default null
)
returns table (
    chapter_id uuid,
    activity_type_id smallint,
    activity_type_code text,
    activity_count bigint,
    total_minutes bigint
)
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
    if p_from is null or p_to is null then
        raise exception 'bufdir_export needs both p_from and p_to'
            using errcode = 'invalid_parameter_value';
    end if;
    if p_from > p_to then
        raise exception 'bufdir_export: p_from (%) is after p_to (%)', p_from, p_to
            using errcode = 'invalid_parameter_value';
    end if;
    return query
        select
            c.chapter_id,
            c.activity_type_id,
            t.code,
            count(*),
            sum(c.duration_minutes)::bigint
        from stats.counted_activities c
        join public.activity_types t on t.id = c.activity_type_id
        where c.activity_date between p_from and p_to
          -- a sub-select: the lookup runs once per call, not once per counted row (that cost
          -- 250 ms at 50 000 activities)
          and c.chapter_id = any ((select private.member_chapter_ids('coordinator'))::uuid[])
          and (p_chapter_ids is null or c.chapter_id = any (p_chapter_ids))
        group by c.chapter_id, c.activity_type_id, t.code
        order by c.chapter_id, c.activity_type_id;
end
$$;
comment on function public.bufdir_export(date, date, uuid[]) is
    'The Bufdir report (RPC): per chapter and activity kind, the counted activities and minutes '
    'dated p_from..p_to (inclusive), for the chapters the caller coordinates, narrowed to '
    'p_chapter_ids when given (other chapters are silently left out). Counts with '
    'stats.counted_activities, like the statistics.';
revoke all on function public.bufdir_export(date, date, uuid[]) from public, anon, authenticated,
    service_role;
grant execute on function public.bufdir_export(date, date, uuid[]) to authenticated;
