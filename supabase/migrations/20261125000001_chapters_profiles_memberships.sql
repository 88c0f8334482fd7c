-- V001: chapters, the people in them (profiles) and who belongs where (chapter_memberships).
--
-- Row-level security is switched on as each table is created, with no policy yet: until V003 adds
-- the policies, the API roles see no row. Every statement can run again without error.

-- ---------------------------------------------------------------------------------------------
-- A schema for internals: helpers the policies and the read path call, never exposed by the API
-- ---------------------------------------------------------------------------------------------

create schema if not exists private;
comment on schema private is
    'Internal helpers (trigger functions, the membership lookup of the policies, the read path''s '
    'row sources). Not an API schema: PostgREST does not expose it.';
revoke all on schema private from public, anon;

-- ---------------------------------------------------------------------------------------------
-- chapters
-- ---------------------------------------------------------------------------------------------

create table if not exists public.chapters (
    id uuid primary key default gen_random_uuid(),
    name text not null,
    constraint chapters_name_key unique (name),
    constraint chapters_name_length check (char_length(name) between 1 and 200)
);
comment on table public.chapters is
    'Local chapters of the organisation. Members see the chapters they belong to.';
comment on column public.chapters.name is 'Display name, unique across the organisation.';

alter table public.chapters enable row level security;
-- Supabase's default privileges grant ALL on new tables to the API roles: take them back by name.
revoke all on table public.chapters from anon, authenticated, service_role;
grant select on table public.chapters to authenticated;
grant select, insert, update, delete on table public.chapters to service_role;

-- ---------------------------------------------------------------------------------------------
-- profiles
-- ---------------------------------------------------------------------------------------------

create table if not exists public.profiles (
    id uuid primary key,
    full_name text not null,
    constraint profiles_id_fkey foreign key (id) references auth.users (id) on delete cascade,
    constraint profiles_full_name_length check (char_length(full_name) between 1 and 200)
);
comment on table public.profiles is
    'One row per user of the app (peer mentors and coordinators), keyed by the auth user id.';
comment on column public.profiles.full_name is 'The name coordinators see on the dashboard.';

alter table public.profiles enable row level security;
revoke all on table public.profiles from anon, authenticated, service_role;
grant select on table public.profiles to authenticated;
grant select, insert, update, delete on table public.profiles to service_role;

-- ---------------------------------------------------------------------------------------------
-- chapter_memberships
-- ---------------------------------------------------------------------------------------------

create table if not exists public.chapter_memberships (
    user_id uuid not null,
    chapter_id uuid not null,
    member_role text not null,
    constraint chapter_memberships_pkey primary key (user_id, chapter_id, member_role),
    constraint chapter_memberships_user_id_fkey
        foreign key (user_id) references public.profiles (id) on delete cascade,
    constraint chapter_memberships_chapter_id_fkey
        foreign key (chapter_id) references public.chapters (id) on delete cascade,
    constraint chapter_memberships_member_role_valid
        check (member_role in ('peer_mentor', 'coordinator'))
);
comment on table public.chapter_memberships is
    'Who belongs to which chapter, and as what: a peer mentor registers activities there, a '
    'coordinator sees the chapter''s activities and statistics. A coordinator has at most five '
    'chapters (trigger chapter_memberships_coordinator_limit).';
comment on column public.chapter_memberships.member_role is 'peer_mentor or coordinator.';

-- The primary key serves lookups by user; this one serves "members of a chapter" (policies, FKs).
create index if not exists chapter_memberships_chapter_id_idx
    on public.chapter_memberships (chapter_id, member_role);
comment on index public.chapter_memberships_chapter_id_idx is
    'Members of a chapter by role; also covers the foreign key to chapters.';

alter table public.chapter_memberships enable row level security;
revoke all on table public.chapter_memberships from anon, authenticated, service_role;
grant select on table public.chapter_memberships to authenticated;
grant select, insert, update, delete on table public.chapter_memberships to service_role;

-- ---------------------------------------------------------------------------------------------
-- At most five chapters per coordinator
-- ---------------------------------------------------------------------------------------------

-- SECURITY INVOKER: only roles that bypass row-level security (postgres, service_role) may write
-- memberships, so the count below sees every row of the user.
create or replace function private.enforce_coordinator_chapter_limit()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
    v_other_chapters integer;
begin
    if new.member_role <> 'coordinator' then
        return new;
    end if;
    -- Two transactions adding chapters for the same coordinator would both count four and both
    -- insert; a per-user lock held to the end of the transaction makes the second count again.
    perform pg_catalog.pg_advisory_xact_lock(
        pg_catalog.hashtextextended('public.chapter_memberships/coordinator/' || new.user_id, 0));
    select count(*) into v_other_chapters
    from public.chapter_memberships m
    where m.user_id = new.user_id
      and m.member_role = 'coordinator'
      and m.chapter_id <> new.chapter_id
      -- on UPDATE, the row being changed is not another chapter
      and (m.user_id, m.chapter_id, m.member_role)
          is distinct from (old.user_id, old.chapter_id, old.member_role);
    if v_other_chapters >= 5 then
        raise exception 'coordinator % already has five chapters, the most a coordinator may have',
            new.user_id
            using errcode = 'check_violation',
                  schema = 'public',
                  table = 'chapter_memberships',
                  constraint = 'chapter_memberships_coordinator_max_five_chapters',
                  hint = 'Remove one of the coordinator''s chapters before adding another.';
    end if;
    return new;
end
$$;
comment on function private.enforce_coordinator_chapter_limit() is
    'Trigger function: refuses a sixth coordinator membership of a user with SQLSTATE 23514 and '
    'constraint name chapter_memberships_coordinator_max_five_chapters.';
revoke all on function private.enforce_coordinator_chapter_limit() from public, anon, authenticated,
    service_role;

drop trigger if exists chapter_memberships_coordinator_limit on public.chapter_memberships;
create trigger chapter_memberships_coordinator_limit
    before insert or update of user_id, chapter_id, member_role on public.chapter_memberships
    for each row execute function private.enforce_coordinator_chapter_limit();
comment on trigger chapter_memberships_coordinator_limit on public.chapter_memberships is
    'A coordinator belongs to at most five chapters.';
