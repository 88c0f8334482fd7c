-- The reference dataset, loaded by `supabase db reset` and `just reset`: six chapters,
-- the personas the suites sign in as, and activities that exercise every counting rule.
-- Expected results: fixtures/reference/expected.json.
-- Rendered by `python -m fixtures.dataset` from fixtures/reference/personas.json and dataset.json.
-- Do not edit: change the JSON and render again (e2e/tests/test_reference_dataset.py fails when
-- this file is stale).

insert into public.chapters (id, name) values
    ('c0000000-0000-4000-8000-00000000000a', 'Chapter A (Oslo)'),
    ('c0000000-0000-4000-8000-00000000000b', 'Chapter B (Bergen)'),
    ('c0000000-0000-4000-8000-00000000000c', 'Chapter C (Trondheim)'),
    ('c0000000-0000-4000-8000-00000000000d', 'Chapter D (Stavanger)'),
    ('c0000000-0000-4000-8000-00000000000e', 'Chapter E (Tromsø)'),
    ('c0000000-0000-4000-8000-00000000000f', 'Chapter F (Bodø)');

-- Users as the auth server stores them (bcrypt password, '' in the token columns), so a
-- real auth server signs them in with the password of personas.json.
insert into auth.users (
    instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
    confirmation_token, recovery_token, email_change_token_new, email_change,
    raw_app_meta_data, raw_user_meta_data, created_at, updated_at
)
select '00000000-0000-0000-0000-000000000000'::uuid, u.id::uuid, 'authenticated', 'authenticated',
       u.email, extensions.crypt('local-dev-password-not-secret', extensions.gen_salt('bf')),
       now(), '', '', '', '',
       '{"provider": "email", "providers": ["email"]}', '{}', now(), now()
from (values
    ('a0000000-0000-4000-8000-000000000001', 'mentor.a@example.org'),
    ('a0000000-0000-4000-8000-000000000002', 'mentor.bc@example.org'),
    ('a0000000-0000-4000-8000-000000000003', 'coordinator.ab@example.org'),
    ('a0000000-0000-4000-8000-000000000004', 'coordinator.five@example.org'),
    ('a0000000-0000-4000-8000-000000000005', 'mentor.a2@example.org'),
    ('a0000000-0000-4000-8000-000000000006', 'mentor.c@example.org'),
    ('a0000000-0000-4000-8000-000000000007', 'mentor.df@example.org'),
    ('a0000000-0000-4000-8000-000000000008', 'mentor.e@example.org'),
    ('a0000000-0000-4000-8000-000000000009', 'no.chapters@example.org')
) as u (id, email);

insert into public.profiles (id, full_name) values
    ('a0000000-0000-4000-8000-000000000001', 'Mentor of A'),
    ('a0000000-0000-4000-8000-000000000002', 'Mentor of B and C'),
    ('a0000000-0000-4000-8000-000000000003', 'Coordinator of A and B'),
    ('a0000000-0000-4000-8000-000000000004', 'Coordinator of B to F'),
    ('a0000000-0000-4000-8000-000000000005', 'Second mentor of A'),
    ('a0000000-0000-4000-8000-000000000006', 'Mentor of C'),
    ('a0000000-0000-4000-8000-000000000007', 'Mentor of D and F'),
    ('a0000000-0000-4000-8000-000000000008', 'Mentor of E'),
    ('a0000000-0000-4000-8000-000000000009', 'Signed-up user without chapters');

insert into public.chapter_memberships (user_id, chapter_id, member_role) values
    ('a0000000-0000-4000-8000-000000000001', 'c0000000-0000-4000-8000-00000000000a', 'peer_mentor'),
    ('a0000000-0000-4000-8000-000000000002', 'c0000000-0000-4000-8000-00000000000b', 'peer_mentor'),
    ('a0000000-0000-4000-8000-000000000002', 'c0000000-0000-4000-8000-00000000000c', 'peer_mentor'),
    ('a0000000-0000-4000-8000-000000000003', 'c0000000-0000-4000-8000-00000000000a', 'coordinator'),
    ('a0000000-0000-4000-8000-000000000003', 'c0000000-0000-4000-8000-00000000000b', 'coordinator'),
    ('a0000000-0000-4000-8000-000000000004', 'c0000000-0000-4000-8000-00000000000b', 'coordinator'),
    ('a0000000-0000-4000-8000-000000000004', 'c0000000-0000-4000-8000-00000000000c', 'coordinator'),
    ('a0000000-0000-4000-8000-000000000004', 'c0000000-0000-4000-8000-00000000000d', 'coordinator'),
    ('a0000000-0000-4000-8000-000000000004', 'c0000000-0000-4000-8000-00000000000e', 'coordinator'),
    ('a0000000-0000-4000-8000-000000000004', 'c0000000-0000-4000-8000-00000000000f', 'coordinator'),
    ('a0000000-0000-4000-8000-000000000005', 'c0000000-0000-4000-8000-00000000000a', 'peer_mentor'),
    ('a0000000-0000-4000-8000-000000000006', 'c0000000-0000-4000-8000-00000000000c', 'peer_mentor'),
    ('a0000000-0000-4000-8000-000000000007', 'c0000000-0000-4000-8000-00000000000d', 'peer_mentor'),
    ('a0000000-0000-4000-8000-000000000007', 'c0000000-0000-4000-8000-00000000000f', 'peer_mentor'),
    ('a0000000-0000-4000-8000-000000000008', 'c0000000-0000-4000-8000-00000000000e', 'peer_mentor');

-- Explicit ids: of a set of duplicates, the lowest id counts.
insert into public.activities (
    id, peer_mentor_id, chapter_id, activity_type_id, activity_date, duration_minutes,
    contact_ref, status, created_by
)
overriding system value
select v.id, v.peer_mentor_id::uuid, v.chapter_id::uuid, t.id,
       (m.first_day - make_interval(months => v.months_ago))::date + (v.day - 1),
       v.minutes, v.contact_ref, v.status, v.created_by::uuid
from (values
    (1, 'a0000000-0000-4000-8000-000000000001', 'c0000000-0000-4000-8000-00000000000a', 'visit', 1, 3, 60, 'K-101', 'registered', 'a0000000-0000-4000-8000-000000000001'),
    (2, 'a0000000-0000-4000-8000-000000000001', 'c0000000-0000-4000-8000-00000000000a', 'visit', 1, 3, 45, 'K-101', 'registered', 'a0000000-0000-4000-8000-000000000001'),
    (3, 'a0000000-0000-4000-8000-000000000001', 'c0000000-0000-4000-8000-00000000000a', 'visit', 1, 3, 30, 'K-102', 'registered', 'a0000000-0000-4000-8000-000000000001'),
    (4, 'a0000000-0000-4000-8000-000000000001', 'c0000000-0000-4000-8000-00000000000a', 'phone_call', 1, 10, 15, null, 'registered', 'a0000000-0000-4000-8000-000000000001'),
    (5, 'a0000000-0000-4000-8000-000000000001', 'c0000000-0000-4000-8000-00000000000a', 'phone_call', 1, 10, 20, null, 'registered', 'a0000000-0000-4000-8000-000000000001'),
    (6, 'a0000000-0000-4000-8000-000000000001', 'c0000000-0000-4000-8000-00000000000a', 'internal_meeting', 1, 12, 90, null, 'registered', 'a0000000-0000-4000-8000-000000000001'),
    (7, 'a0000000-0000-4000-8000-000000000001', 'c0000000-0000-4000-8000-00000000000a', 'visit', 2, 5, 50, 'K-103', 'cancelled', 'a0000000-0000-4000-8000-000000000001'),
    (8, 'a0000000-0000-4000-8000-000000000001', 'c0000000-0000-4000-8000-00000000000a', 'visit', 0, 1, 40, 'K-104', 'registered', 'a0000000-0000-4000-8000-000000000001'),
    (9, 'a0000000-0000-4000-8000-000000000005', 'c0000000-0000-4000-8000-00000000000a', 'group_session', 2, 20, 120, null, 'registered', 'a0000000-0000-4000-8000-000000000003'),
    (10, 'a0000000-0000-4000-8000-000000000005', 'c0000000-0000-4000-8000-00000000000a', 'visit', 2, 20, 60, 'K-201', 'cancelled', 'a0000000-0000-4000-8000-000000000005'),
    (11, 'a0000000-0000-4000-8000-000000000005', 'c0000000-0000-4000-8000-00000000000a', 'visit', 2, 20, 55, 'K-201', 'registered', 'a0000000-0000-4000-8000-000000000005'),
    (12, 'a0000000-0000-4000-8000-000000000005', 'c0000000-0000-4000-8000-00000000000a', 'visit', 13, 15, 30, 'K-202', 'registered', 'a0000000-0000-4000-8000-000000000005'),
    (13, 'a0000000-0000-4000-8000-000000000002', 'c0000000-0000-4000-8000-00000000000c', 'visit', 1, 7, 60, 'K-301', 'registered', 'a0000000-0000-4000-8000-000000000002'),
    (14, 'a0000000-0000-4000-8000-000000000002', 'c0000000-0000-4000-8000-00000000000b', 'visit', 1, 7, 60, 'K-301', 'registered', 'a0000000-0000-4000-8000-000000000002'),
    (15, 'a0000000-0000-4000-8000-000000000002', 'c0000000-0000-4000-8000-00000000000b', 'phone_call', 1, 7, 10, 'K-301', 'registered', 'a0000000-0000-4000-8000-000000000002'),
    (16, 'a0000000-0000-4000-8000-000000000002', 'c0000000-0000-4000-8000-00000000000b', 'visit', 1, 8, 45, 'K-301', 'registered', 'a0000000-0000-4000-8000-000000000002'),
    (17, 'a0000000-0000-4000-8000-000000000002', 'c0000000-0000-4000-8000-00000000000b', 'group_session', 0, 1, 90, null, 'registered', 'a0000000-0000-4000-8000-000000000002'),
    (18, 'a0000000-0000-4000-8000-000000000002', 'c0000000-0000-4000-8000-00000000000b', 'training', 0, 1, 180, null, 'registered', 'a0000000-0000-4000-8000-000000000002'),
    (19, 'a0000000-0000-4000-8000-000000000002', 'c0000000-0000-4000-8000-00000000000c', 'phone_call', 2, 2, 25, null, 'cancelled', 'a0000000-0000-4000-8000-000000000002'),
    (20, 'a0000000-0000-4000-8000-000000000002', 'c0000000-0000-4000-8000-00000000000b', 'visit', 2, 14, 30, 'K-302', 'registered', 'a0000000-0000-4000-8000-000000000002'),
    (21, 'a0000000-0000-4000-8000-000000000002', 'c0000000-0000-4000-8000-00000000000c', 'visit', 2, 14, 30, 'K-302', 'registered', 'a0000000-0000-4000-8000-000000000002'),
    (22, 'a0000000-0000-4000-8000-000000000006', 'c0000000-0000-4000-8000-00000000000c', 'visit', 1, 21, 75, 'K-401', 'registered', 'a0000000-0000-4000-8000-000000000006'),
    (23, 'a0000000-0000-4000-8000-000000000006', 'c0000000-0000-4000-8000-00000000000c', 'visit', 1, 21, 75, 'K-401', 'registered', 'a0000000-0000-4000-8000-000000000006'),
    (24, 'a0000000-0000-4000-8000-000000000006', 'c0000000-0000-4000-8000-00000000000c', 'visit', 1, 21, 75, 'K-401', 'registered', 'a0000000-0000-4000-8000-000000000006'),
    (25, 'a0000000-0000-4000-8000-000000000006', 'c0000000-0000-4000-8000-00000000000c', 'phone_call', 0, 1, 20, null, 'registered', 'a0000000-0000-4000-8000-000000000004'),
    (26, 'a0000000-0000-4000-8000-000000000007', 'c0000000-0000-4000-8000-00000000000d', 'visit', 1, 4, 60, 'K-501', 'registered', 'a0000000-0000-4000-8000-000000000007'),
    (27, 'a0000000-0000-4000-8000-000000000007', 'c0000000-0000-4000-8000-00000000000f', 'group_session', 1, 4, 100, null, 'registered', 'a0000000-0000-4000-8000-000000000007'),
    (28, 'a0000000-0000-4000-8000-000000000007', 'c0000000-0000-4000-8000-00000000000f', 'visit', 13, 28, 35, 'K-502', 'registered', 'a0000000-0000-4000-8000-000000000007'),
    (29, 'a0000000-0000-4000-8000-000000000007', 'c0000000-0000-4000-8000-00000000000d', 'internal_meeting', 0, 1, 30, null, 'registered', 'a0000000-0000-4000-8000-000000000007'),
    (30, 'a0000000-0000-4000-8000-000000000008', 'c0000000-0000-4000-8000-00000000000e', 'phone_call', 2, 9, 15, 'K-601', 'registered', 'a0000000-0000-4000-8000-000000000008'),
    (31, 'a0000000-0000-4000-8000-000000000008', 'c0000000-0000-4000-8000-00000000000e', 'visit', 1, 16, 60, null, 'cancelled', 'a0000000-0000-4000-8000-000000000008'),
    (32, 'a0000000-0000-4000-8000-000000000008', 'c0000000-0000-4000-8000-00000000000e', 'visit', 1, 17, 45, 'K-602', 'registered', 'a0000000-0000-4000-8000-000000000008'),
    (33, 'a0000000-0000-4000-8000-000000000005', 'c0000000-0000-4000-8000-00000000000a', 'visit', 1, 9, 25, 'K-203', 'registered', 'a0000000-0000-4000-8000-000000000005')
) as v (id, peer_mentor_id, chapter_id, type_code, months_ago, day, minutes, contact_ref,
        status, created_by)
cross join (select date_trunc('month', now() at time zone 'Europe/Oslo')::date as first_day) m
join public.activity_types t on t.code = v.type_code
order by v.id;

select setval(pg_get_serial_sequence('public.activities', 'id'), max(id))
from public.activities;

-- Whatever a refresh trigger did at this commit, the views show the dataset from here.
refresh materialized view stats.mv_peer_mentor_stats;
refresh materialized view stats.mv_activity_time_series;
