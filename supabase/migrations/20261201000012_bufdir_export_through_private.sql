-- V012: the Bufdir export reached the way the read views are: an invoker function in `public`
-- over a SECURITY DEFINER function in `private`.
--
-- public.bufdir_export ran with its owner's rights in an API schema, which Supabase's linter flags
-- (0029, a SECURITY DEFINER function executable by authenticated). The rights it needs (schema
-- stats, duplicates across chapters the caller cannot read) now belong to
-- private.bufdir_export_rows(), which PostgREST does not expose; the RPC keeps its name, arguments,
-- result, volatility and errors, and answers, as before, only for the chapters the caller
-- coordinates (decided from auth.uid(), never from an argument).
--
-- Every statement can run again without error.
-- Rollback: supabase/rollbacks/20261201000012_rollback_bufdir_export_through_private.sql.

-- Replacing functions takes no lock that users' statements wait for; every migration bounds its
-- lock waits all the same (D22), so one that later needs a strong lock is bounded too.
set local lock_timeout = '5s';

-- SECURITY DEFINER: duplicates are found across all chapters, including ones the caller cannot
-- read, exactly as the statistics find them; only the totals of the caller's chapters leave.
create or replace function private.bufdir_export_rows(
    p_from date,
    p_to date,
    p_chapter_ids uuid[]
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
          -- a sub-select: the lookup runs once per call, not once per counted row
          and c.chapter_id = any ((select private.member_chapter_ids('coordinator'))::uuid[])
          and (p_chapter_ids is null or c.chapter_id = any (p_chapter_ids))
        group by c.chapter_id, c.activity_type_id, t.code
        order by c.chapter_id, c.activity_type_id;
end
$$;
comment on function private.bufdir_export_rows(date, date, uuid[]) is
    'The rows of public.bufdir_export: per chapter the caller (auth.uid()) coordinates and '
    'activity kind, the activities counted by stats.counted_activities and their minutes, dated '
    'p_from..p_to, narrowed to p_chapter_ids when given.';
revoke all on function private.bufdir_export_rows(date, date, uuid[])
    from public, anon, authenticated, service_role;
grant execute on function private.bufdir_export_rows(date, date, uuid[]) to authenticated;

-- SECURITY INVOKER: the caller's own rights reach private.bufdir_export_rows(), which decides.
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
language sql
stable
security invoker
set search_path = ''
as $$
    select r.chapter_id, r.activity_type_id, r.activity_type_code, r.activity_count,
           r.total_minutes
    from private.bufdir_export_rows(p_from, p_to, p_chapter_ids) r
    order by r.chapter_id, r.activity_type_id
$$;
comment on function public.bufdir_export(date, date, uuid[]) is
    'The Bufdir report (RPC): per chapter and activity kind, the counted activities and minutes '
    'dated p_from..p_to (inclusive), for the chapters the caller coordinates, narrowed to '
    'p_chapter_ids when given (other chapters are silently left out).';
revoke all on function public.bufdir_export(date, date, uuid[])
    from public, anon, authenticated, service_role;
grant execute on function public.bufdir_export(date, date, uuid[]) to authenticated;
