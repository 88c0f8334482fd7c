-- V016: what a signed-in user can learn of others through the API, narrowed to what their role
-- needs (docs/threat-model.md has the rules, the inferences that remain and why they are accepted).
--
-- * A peer mentor reads only their own time series. public.activity_time_series gave a peer mentor
--   their chapters' monthly totals, from which a colleague's activities could be read off (a month
--   with one active mentor who is not them; a month's total minus their own). Coordinators keep
--   their chapters' series; a peer mentor's rows are their own figures per chapter, month and kind
--   (active_mentors 1), taken from the per-month summary the views are computed from, so they are
--   as fresh as the views. A user who coordinates a chapter and mentors in it sees the chapter's.
-- * No user-existence oracle. A coordinator registering an activity for an unknown id was refused
--   by activities_peer_mentor_id_fkey ("not present in table profiles"), for a user of another
--   chapter by activities_peer_mentor_membership_fkey: the difference told whether an id is a
--   user. The first key added nothing the second does not enforce (a membership needs a profile),
--   so it goes: whoever the id, the refusal is the membership's.
-- * The descriptions PostgREST publishes (table, column and function comments in its OpenAPI
--   document) speak to the API's readers; the internals they named are described in docs/ and on
--   the internal objects.
--
-- Every statement can run again without error.
-- Rollback: supabase/rollbacks/20261201000016_rollback_read_path_privacy.sql.

-- Dropping a foreign key of activities takes a strong lock on it (and on profiles): wait briefly
-- rather than queue every writer behind this migration (D22).
set local lock_timeout = '5s';

-- ---------------------------------------------------------------------------------------------
-- public.activity_time_series: a peer mentor's own series
-- ---------------------------------------------------------------------------------------------

-- SECURITY DEFINER: the caller has no access to schema stats; the WHERE clauses are the boundary.
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
    with coordinated as (
        select (select private.member_chapter_ids('coordinator')) as chapter_ids
    )
    select s.chapter_id, s.month, s.activity_type_id, s.activity_count, s.total_minutes,
           s.active_mentors
    from stats.mv_activity_time_series s, coordinated c
    where s.chapter_id = any (c.chapter_ids)
    union all
    select m.chapter_id, m.month, m.activity_type_id, sum(m.activity_count)::bigint,
           sum(m.total_minutes)::bigint, 1::bigint
    from stats.activity_month_summary m, coordinated c
    where m.peer_mentor_id = (select auth.uid())
      and m.chapter_id = any ((select private.member_chapter_ids('peer_mentor'))::uuid[])
      and not m.chapter_id = any (c.chapter_ids)
    group by m.chapter_id, m.month, m.activity_type_id
$$;
comment on function private.activity_time_series_rows() is
    'Rows of public.activity_time_series for the caller: the chapters they coordinate, from '
    'stats.mv_activity_time_series; in chapters where they are only a peer mentor, their own '
    'figures, from stats.activity_month_summary (as of the same refresh).';
revoke all on function private.activity_time_series_rows() from public, anon, authenticated,
    service_role;
grant execute on function private.activity_time_series_rows() to authenticated;

-- ---------------------------------------------------------------------------------------------
-- One refusal for any peer_mentor_id that is not a peer mentor of the chapter
-- ---------------------------------------------------------------------------------------------

-- On purpose (see the top of this file); the membership key below enforces all it did.
-- squawk-ignore ban-drop-constraint
alter table public.activities drop constraint if exists activities_peer_mentor_id_fkey;
comment on constraint activities_peer_mentor_membership_fkey on public.activities is
    'The mentor must be a peer mentor of the activity''s chapter (and so a user with a profile). '
    'The only check of peer_mentor_id: an unknown id and another chapter''s user are refused '
    'alike.';

-- ---------------------------------------------------------------------------------------------
-- Descriptions PostgREST publishes
-- ---------------------------------------------------------------------------------------------

comment on table public.chapters is
    'Local chapters of the organisation. You see the chapters you belong to.';
comment on table public.profiles is
    'The app''s users (peer mentors and coordinators). You see your own profile; a coordinator '
    'also sees the members of their chapters.';
comment on table public.chapter_memberships is
    'Who belongs to which chapter, and as what: a peer mentor registers activities there, a '
    'coordinator sees the chapter''s activities and statistics. A coordinator has at most five '
    'chapters. You see your own memberships; a coordinator also sees those of their chapters.';
comment on table public.activity_types is
    'Kinds of activity. counts_for_bufdir says whether the kind is reported to Bufdir.';
comment on column public.activity_types.counts_for_bufdir is
    'Activities of this kind count in the statistics and the Bufdir export.';
comment on table public.activities is
    'Activities registered by or for peer mentors. A peer mentor reads and registers their own '
    'in their chapters; a coordinator reads, registers and corrects those of the chapters they '
    'coordinate.';
comment on column public.activities.mentor_role is
    'Always peer_mentor: an activity is refused (activities_peer_mentor_membership_fkey) unless '
    'its mentor is a peer mentor of its chapter.';
comment on view public.peer_mentor_stats is
    'Per chapter and peer mentor: counted activities, minutes, last date and the current month''s '
    'count (Europe/Oslo). A coordinator sees their chapters, a peer mentor their own rows.';
comment on view public.activity_time_series is
    'Per chapter, month and activity kind: counted activities, minutes and active mentors. A '
    'coordinator sees their chapters; a peer mentor sees only their own figures.';
