-- V002: the kinds of activity and the activities peer mentors register.
--
-- Bad input fails on a named constraint (duration, date, status, length, each foreign key), so a
-- client's error says what was wrong. Every statement can run again without error.

-- ---------------------------------------------------------------------------------------------
-- activity_types
-- ---------------------------------------------------------------------------------------------

create table if not exists public.activity_types (
    id smallint primary key,
    code text not null,
    name text not null,
    counts_for_bufdir boolean not null,
    constraint activity_types_code_key unique (code),
    constraint activity_types_code_format check (code ~ '^[a-z][a-z0-9_]{0,39}$'),
    constraint activity_types_name_length check (char_length(name) between 1 and 200)
);
comment on table public.activity_types is
    'Kinds of activity. counts_for_bufdir says whether the kind is reported to Bufdir.';
comment on column public.activity_types.code is 'Stable machine name (lower case, a-z0-9_).';
comment on column public.activity_types.counts_for_bufdir is
    'Activities of this kind count in the statistics and the Bufdir export '
    '(stats.counted_activities).';

alter table public.activity_types enable row level security;
revoke all on table public.activity_types from anon, authenticated, service_role;
grant select on table public.activity_types to authenticated;
grant select, insert, update, delete on table public.activity_types to service_role;

-- The organisation's catalogue. Existing rows are left alone, so re-applying never undoes an edit.
insert into public.activity_types (id, code, name, counts_for_bufdir) values
    (1, 'visit', 'Home visit', true),
    (2, 'phone_call', 'Phone call', true),
    (3, 'group_session', 'Group session', true),
    (4, 'internal_meeting', 'Internal meeting', false),
    (5, 'training', 'Training course', false)
on conflict (id) do nothing;

-- ---------------------------------------------------------------------------------------------
-- activities
-- ---------------------------------------------------------------------------------------------

create table if not exists public.activities (
    id bigint generated always as identity primary key,
    peer_mentor_id uuid not null,
    chapter_id uuid not null,
    activity_type_id smallint not null,
    activity_date date not null,
    duration_minutes integer not null,
    contact_ref text,
    status text not null default 'registered',
    created_by uuid default auth.uid(),
    created_at timestamptz not null default now(),
    -- A constant, so that a foreign key can say "a peer mentor of this chapter" (see below).
    mentor_role text not null generated always as ('peer_mentor') stored,
    -- Declared in this order on purpose: the checks fire in it, so an unknown chapter is reported
    -- as such and not as a missing membership.
    constraint activities_peer_mentor_id_fkey
        foreign key (peer_mentor_id) references public.profiles (id),
    constraint activities_chapter_id_fkey
        foreign key (chapter_id) references public.chapters (id),
    constraint activities_activity_type_id_fkey
        foreign key (activity_type_id) references public.activity_types (id),
    constraint activities_peer_mentor_membership_fkey
        foreign key (peer_mentor_id, chapter_id, mentor_role)
        references public.chapter_memberships (user_id, chapter_id, member_role),
    constraint activities_duration_minutes_range check (duration_minutes between 1 and 1440),
    -- now() makes this check depend on the clock, which is safe here: a date that passes today
    -- passes on every later day, so re-checking old rows (dump and restore) never fails.
    constraint activities_activity_date_not_in_future
        check (activity_date <= (now() at time zone 'Europe/Oslo')::date),
    constraint activities_activity_date_plausible check (activity_date >= date '2000-01-01'),
    constraint activities_status_valid check (status in ('registered', 'cancelled')),
    constraint activities_contact_ref_length check (char_length(contact_ref) between 1 and 100)
);
comment on table public.activities is
    'Activities registered by or for peer mentors. Which of them count for Bufdir is decided in '
    'one place: stats.counted_activities.';
comment on column public.activities.activity_date is
    'The day the activity took place, in the organisation''s time zone (Europe/Oslo).';
comment on column public.activities.duration_minutes is 'Between 1 and 1440 minutes.';
comment on column public.activities.contact_ref is
    'Reference to the person met, if any. Registrations of the same mentor, type, date and '
    'contact_ref are duplicates; without a contact_ref an activity is never a duplicate.';
comment on column public.activities.status is 'registered, or cancelled (never counted).';
comment on column public.activities.created_by is
    'Who registered the activity: the mentor, or a coordinator on their behalf.';
comment on column public.activities.mentor_role is
    'Always peer_mentor: the third column of the foreign key to chapter_memberships, which makes '
    'the database refuse an activity whose mentor is not a peer mentor of its chapter.';
comment on constraint activities_activity_date_not_in_future on public.activities is
    'An activity cannot take place after today in Europe/Oslo.';
comment on constraint activities_peer_mentor_membership_fkey on public.activities is
    'The mentor must be a peer mentor of the activity''s chapter.';

-- Coordinators read by chapter, the export reads by chapter and period.
create index if not exists activities_chapter_id_activity_date_idx
    on public.activities (chapter_id, activity_date);
comment on index public.activities_chapter_id_activity_date_idx is
    'Activities of a chapter by date: coordinators'' reads, the Bufdir export, the chapter FK.';
-- Mentors read their own; the whole key of the foreign key to the membership, which is checked
-- when a membership is removed (the constant third column costs little).
create index if not exists activities_peer_mentor_membership_idx
    on public.activities (peer_mentor_id, chapter_id, mentor_role);
comment on index public.activities_peer_mentor_membership_idx is
    'A mentor''s activities; covers the foreign keys to profiles and chapter_memberships.';
create index if not exists activities_activity_type_id_idx
    on public.activities (activity_type_id);
comment on index public.activities_activity_type_id_idx is
    'Covers the foreign key to activity_types.';
-- The duplicate check of stats.counted_activities runs as a hash join when the planner knows the
-- table. When it does not (a bulk load refreshed at its own commit, before any ANALYZE), it picks
-- a nested loop, and without this index each probe read thousands of rows: 13 s at 50 000
-- activities instead of 0.13 s.
create index if not exists activities_contact_ref_idx
    on public.activities (contact_ref)
    where status = 'registered' and contact_ref is not null;
comment on index public.activities_contact_ref_idx is
    'Registered activities by contact: bounds the duplicate check of stats.counted_activities.';

alter table public.activities enable row level security;
revoke all on table public.activities from anon, authenticated, service_role;
revoke all on sequence public.activities_id_seq from anon, authenticated, service_role;
grant select, delete on table public.activities to authenticated;
-- Column grants: clients never choose id, created_by or created_at.
grant insert (peer_mentor_id, chapter_id, activity_type_id, activity_date, duration_minutes,
              contact_ref, status)
    on table public.activities to authenticated;
-- A correction changes what happened, never whose or which chapter's activity it is.
grant update (activity_type_id, activity_date, duration_minutes, contact_ref, status)
    on table public.activities to authenticated;
grant select, insert, update, delete on table public.activities to service_role;
