-- Rollback of V016 (20261201000016_read_path_privacy.sql).
--
-- Puts back the time series' row source as V006 wrote it (a peer mentor reads their chapters'
-- totals again), the foreign key activities_peer_mentor_id_fkey, and the descriptions V001, V002
-- and V006 wrote (by re-running V001's and V002's own statements, which can all run again). The
-- foreign key comes back checked after the membership key, so an unknown mentor is now reported
-- by the membership key first. No data is involved.
--
-- Run it with `just rollback 20261201000016` (psql, as postgres, in one transaction); later
-- migrations are rolled back first. The function is spelled out as it was (re-running V006 whole
-- would also undo V012 and V015). No CASCADE: an unexpected dependent fails the rollback instead
-- of disappearing with it.

set local lock_timeout = '5s';

\ir ../migrations/20261125000001_chapters_profiles_memberships.sql
\ir ../migrations/20261125000002_activity_types_activities.sql

do $$
begin
    if not exists (
        select from pg_catalog.pg_constraint
        where conrelid = 'public.activities'::regclass and conname = 'activities_peer_mentor_id_fkey'
    ) then
        -- NOT VALID first: the check of every existing row runs under a lock writers pass.
        alter table public.activities
            add constraint activities_peer_mentor_id_fkey
            foreign key (peer_mentor_id) references public.profiles (id) not valid;
    end if;
end
$$;
alter table public.activities validate constraint activities_peer_mentor_id_fkey;

-- V006's
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

comment on view public.peer_mentor_stats is
    'Per chapter and peer mentor: counted activities, minutes, last date and the current month''s '
    'count, as of the last refresh. A coordinator sees their chapters, a mentor their own rows.';
comment on view public.activity_time_series is
    'Per chapter, month and activity kind: counted activities, minutes and distinct active '
    'mentors, as of the last refresh, for the chapters the caller belongs to.';
