-- V003: who may read and write which rows of the public tables.
--
-- Each signed-in user acts in the chapters they belong to: a peer mentor on their own activities,
-- a coordinator on every activity of the chapters they coordinate. `anon` has no privilege on any
-- table (V001, V002), so it is refused before a policy is consulted; `service_role` bypasses row
-- level security. Policies call the membership helper as `(select ...)`, which PostgreSQL
-- evaluates once per statement, not once per row. One permissive policy per role and command, so
-- no row pays for several (Supabase linter 0006). Every statement can run again without error.

-- ---------------------------------------------------------------------------------------------
-- The membership lookup
-- ---------------------------------------------------------------------------------------------

grant usage on schema private to authenticated;

-- SECURITY DEFINER because the policies of chapter_memberships themselves call it: run with the
-- caller's rights, it would recurse into those policies. It only ever answers for auth.uid().
create or replace function private.member_chapter_ids(p_member_role text default null)
returns uuid[]
language sql
stable
security definer
set search_path = ''
as $$
    select coalesce(array_agg(m.chapter_id), '{}')
    from public.chapter_memberships m
    where m.user_id = (select auth.uid())
      and (p_member_role is null or m.member_role = p_member_role)
$$;
comment on function private.member_chapter_ids(text) is
    'Chapters the signed-in user (auth.uid()) belongs to with the given role, or with any role '
    'when NULL; an empty array for anon and for users without memberships. The one membership '
    'lookup of the policies and the read path.';
revoke all on function private.member_chapter_ids(text) from public, anon, authenticated,
    service_role;
grant execute on function private.member_chapter_ids(text) to authenticated;

-- ---------------------------------------------------------------------------------------------
-- chapters, profiles, chapter_memberships, activity_types: read-only for users
-- ---------------------------------------------------------------------------------------------

drop policy if exists chapters_select_members on public.chapters;
create policy chapters_select_members on public.chapters
    for select to authenticated
    using (id = any ((select private.member_chapter_ids())::uuid[]));
comment on policy chapters_select_members on public.chapters is
    'A user sees the chapters they belong to, in any role.';

drop policy if exists profiles_select_self_or_coordinated on public.profiles;
create policy profiles_select_self_or_coordinated on public.profiles
    for select to authenticated
    using (
        id = (select auth.uid())
        or id in (
            select m.user_id
            from public.chapter_memberships m
            where m.chapter_id = any ((select private.member_chapter_ids('coordinator'))::uuid[])
        )
    );
comment on policy profiles_select_self_or_coordinated on public.profiles is
    'A user sees their own profile; a coordinator also sees the members of their chapters.';

drop policy if exists chapter_memberships_select_self_or_coordinated on public.chapter_memberships;
create policy chapter_memberships_select_self_or_coordinated on public.chapter_memberships
    for select to authenticated
    using (
        user_id = (select auth.uid())
        or chapter_id = any ((select private.member_chapter_ids('coordinator'))::uuid[])
    );
comment on policy chapter_memberships_select_self_or_coordinated on public.chapter_memberships is
    'A user sees their own memberships; a coordinator also sees every membership of their '
    'chapters.';

drop policy if exists activity_types_select_all on public.activity_types;
create policy activity_types_select_all on public.activity_types
    for select to authenticated
    using (true);
comment on policy activity_types_select_all on public.activity_types is
    'The catalogue of activity kinds is the same for every signed-in user.';

-- ---------------------------------------------------------------------------------------------
-- activities
-- ---------------------------------------------------------------------------------------------

-- The same boundary for reading, registering, correcting and deleting: the user's own activities
-- in chapters where they are a peer mentor, and every activity of a chapter they coordinate.
-- Whether the mentor of a coordinator's registration is a peer mentor of that chapter is the
-- foreign key activities_peer_mentor_membership_fkey's job.

drop policy if exists activities_select_own_or_coordinated on public.activities;
create policy activities_select_own_or_coordinated on public.activities
    for select to authenticated
    using (
        chapter_id = any ((select private.member_chapter_ids('coordinator'))::uuid[])
        or (
            peer_mentor_id = (select auth.uid())
            and chapter_id = any ((select private.member_chapter_ids('peer_mentor'))::uuid[])
        )
    );
comment on policy activities_select_own_or_coordinated on public.activities is
    'A peer mentor reads their own activities in their chapters; a coordinator reads every '
    'activity of the chapters they coordinate.';

drop policy if exists activities_insert_own_or_coordinated on public.activities;
create policy activities_insert_own_or_coordinated on public.activities
    for insert to authenticated
    with check (
        created_by = (select auth.uid())
        and (
            chapter_id = any ((select private.member_chapter_ids('coordinator'))::uuid[])
            or (
                peer_mentor_id = (select auth.uid())
                and chapter_id = any ((select private.member_chapter_ids('peer_mentor'))::uuid[])
            )
        )
    );
comment on policy activities_insert_own_or_coordinated on public.activities is
    'A peer mentor registers their own activities in their chapters; a coordinator registers one '
    'on behalf of a peer mentor of a chapter they coordinate. created_by is always the caller.';

drop policy if exists activities_update_own_or_coordinated on public.activities;
create policy activities_update_own_or_coordinated on public.activities
    for update to authenticated
    using (
        chapter_id = any ((select private.member_chapter_ids('coordinator'))::uuid[])
        or (
            peer_mentor_id = (select auth.uid())
            and chapter_id = any ((select private.member_chapter_ids('peer_mentor'))::uuid[])
        )
    )
    with check (
        chapter_id = any ((select private.member_chapter_ids('coordinator'))::uuid[])
        or (
            peer_mentor_id = (select auth.uid())
            and chapter_id = any ((select private.member_chapter_ids('peer_mentor'))::uuid[])
        )
    );
comment on policy activities_update_own_or_coordinated on public.activities is
    'Corrections (kind, date, duration, contact, status; see the column grants) within the same '
    'boundary as reading.';

drop policy if exists activities_delete_own_or_coordinated on public.activities;
create policy activities_delete_own_or_coordinated on public.activities
    for delete to authenticated
    using (
        chapter_id = any ((select private.member_chapter_ids('coordinator'))::uuid[])
        or (
            peer_mentor_id = (select auth.uid())
            and chapter_id = any ((select private.member_chapter_ids('peer_mentor'))::uuid[])
        )
    );
comment on policy activities_delete_own_or_coordinated on public.activities is
    'Deletions within the same boundary as reading.';
