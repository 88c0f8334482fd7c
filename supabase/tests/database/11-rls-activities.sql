-- The policies of public.activities from each persona's side (fixtures/reference): what each reads,
-- registers, corrects and deletes, and every refusal, with nothing written by a refused statement.
begin;
\ir ../helpers/session.psql
\ir ../helpers/reference.psql
select plan(44);

-- An activity row for the inserts below: today, 30 minutes, no contact.
create function tests.insert_activity(p_mentor text, p_chapter text, p_type text default 'visit')
returns void
language sql
as $$
    insert into public.activities (peer_mentor_id, chapter_id, activity_type_id, activity_date,
                                   duration_minutes)
    values ((select user_id from tests.ref_people where key = p_mentor),
            (select chapter_id from tests.ref_chapters where letter = p_chapter),
            (select id from public.activity_types where code = p_type),
            (now() at time zone 'Europe/Oslo')::date, 30)
$$;

-- How many activities exist, counted as postgres (no row level security).
create function tests.all_activities_count()
returns bigint
language sql
security definer
set search_path = ''
as $$ select count(*) from public.activities $$;

-- How many activities this test added.
create function tests.activities_added()
returns bigint
language sql
security definer
set search_path = ''
as $$ select count(*) - (select activities from tests.start_state) from public.activities $$;
grant execute on all functions in schema tests to anon, authenticated, service_role;

-- ---------------------------------------------------------------------------------------------
-- anon: refused outright
-- ---------------------------------------------------------------------------------------------
select tests.authenticate_as_anon();
select throws_ok('select * from public.activities', '42501',
    'permission denied for table activities', 'anon cannot read activities');
select throws_ok($$select tests.insert_activity('mentor_a', 'A')$$, '42501',
    'permission denied for table activities', 'anon cannot register an activity');
select throws_ok('delete from public.activities', '42501',
    'permission denied for table activities', 'anon cannot delete activities');
select tests.clear_authentication();
select is(tests.activities_added(), 0::bigint, 'anon wrote nothing');

-- ---------------------------------------------------------------------------------------------
-- reading: each persona sees exactly the activities expected.json lists
-- ---------------------------------------------------------------------------------------------
create function tests.visible_activities(p_persona text)
returns setof text
language plpgsql
as $$
declare
    v_user uuid := (select user_id from tests.ref_people where key = p_persona);
begin
    perform tests.authenticate_as(v_user);
    return next is(
        (select coalesce(array_agg(id order by id), '{}') from public.activities),
        (select activity_ids from tests.expected_visibility where persona = p_persona),
        format('%s reads exactly the activities of expected.json', p_persona));
    perform tests.clear_authentication();
end
$$;

-- every persona of the reference dataset, in the order it lists them
select tests.visible_activities(key) from tests.ref_people;

select tests.authenticate_as_email('coordinator.ab@example.org');
select is((select count(*) from public.activities
           where chapter_id = (select chapter_id from tests.ref_chapters where letter = 'C')),
    0::bigint, 'the coordinator of A and B gets no row of C by naming it in a filter');
select is((select count(*) from public.activities where id in (13, 19, 21)),
    0::bigint, 'nor by naming C''s activity ids');
select tests.clear_authentication();

-- ---------------------------------------------------------------------------------------------
-- registering as a peer mentor
-- ---------------------------------------------------------------------------------------------
select tests.authenticate_as_email('mentor.a@example.org');
select lives_ok($$select tests.insert_activity('mentor_a', 'A')$$,
    'a mentor registers their own activity in their chapter');
select is((select created_by from public.activities order by id desc limit 1),
    (select user_id from tests.ref_people where key = 'mentor_a'),
    'created_by is the mentor, set by the database');
select throws_ok($$select tests.insert_activity('mentor_a2', 'A')$$, '42501',
    'new row violates row-level security policy for table "activities"',
    'a mentor cannot register for another mentor of their chapter');
select throws_ok($$select tests.insert_activity('mentor_a', 'B')$$, '42501',
    'new row violates row-level security policy for table "activities"',
    'a mentor cannot register in a chapter they are not a mentor of');
select throws_ok(
    $$insert into public.activities (peer_mentor_id, chapter_id, activity_type_id, activity_date,
                                     duration_minutes, created_by)
      select user_id, 'c0000000-0000-4000-8000-00000000000a', 1, current_date - 1, 30, user_id
      from tests.ref_people where key = 'mentor_a2'$$,
    '42501', 'permission denied for table activities',
    'a client cannot choose created_by');
select tests.clear_authentication();
select is(tests.activities_added(), 1::bigint,
    'of the mentor''s four attempts only the allowed one was written');

select tests.authenticate_as_email('mentor.bc@example.org');
select lives_ok($$select tests.insert_activity('mentor_bc', 'C')$$,
    'a mentor of two chapters registers in the second one');
select tests.clear_authentication();

select tests.authenticate_as_email('no.chapters@example.org');
select throws_ok($$select tests.insert_activity('mentor_a', 'A')$$, '42501',
    'new row violates row-level security policy for table "activities"',
    'a signed-in user without chapters registers nothing');
select tests.clear_authentication();

-- ---------------------------------------------------------------------------------------------
-- registering as a coordinator, on a mentor's behalf
-- ---------------------------------------------------------------------------------------------
select tests.authenticate_as_email('coordinator.ab@example.org');
select lives_ok($$select tests.insert_activity('mentor_a', 'A')$$,
    'a coordinator registers for a peer mentor of a chapter they coordinate');
select lives_ok($$select tests.insert_activity('mentor_bc', 'B')$$,
    'the coordinator of A and B registers for the mentor of B and C in B');
select is((select created_by from public.activities order by id desc limit 1),
    (select user_id from tests.ref_people where key = 'coordinator_ab'),
    'created_by is the coordinator who registered it');
select throws_ok($$select tests.insert_activity('mentor_bc', 'C')$$, '42501',
    'new row violates row-level security policy for table "activities"',
    'the coordinator of A and B cannot register in C, even for a mentor of B');
select throws_ok($$select tests.insert_activity('mentor_c', 'A')$$, '23503',
    'insert or update on table "activities" violates foreign key constraint '
    '"activities_peer_mentor_membership_fkey"',
    'a coordinator cannot register for someone who is not a peer mentor of that chapter');
select throws_ok($$select tests.insert_activity('coordinator_ab', 'A')$$, '23503',
    'insert or update on table "activities" violates foreign key constraint '
    '"activities_peer_mentor_membership_fkey"',
    'a coordinator is no peer mentor of their chapter: they register only for mentors');
select tests.clear_authentication();
select is(tests.activities_added(), 4::bigint,
    'the refused registrations left nothing behind');

select tests.authenticate_as_email('coordinator.five@example.org');
select lives_ok($$select tests.insert_activity('mentor_e', 'E')$$,
    'the coordinator of five chapters registers in the fifth');
select tests.clear_authentication();

-- ---------------------------------------------------------------------------------------------
-- corrections and deletions
-- ---------------------------------------------------------------------------------------------
select tests.authenticate_as_email('mentor.a@example.org');
select results_eq(
    $$with u as (update public.activities set duration_minutes = 35 where id = 1 returning id)
      select count(*) from u$$,
    array[1::bigint], 'a mentor corrects their own activity');
select results_eq(
    $$with u as (update public.activities set status = 'cancelled' where id = 9 returning id)
      select count(*) from u$$,
    array[0::bigint], 'a mentor''s update of another mentor''s activity touches nothing');
select throws_ok($$update public.activities set chapter_id = 'c0000000-0000-4000-8000-00000000000b'
                   where id = 1$$, '42501', 'permission denied for table activities',
    'a correction cannot move an activity to another chapter');
select throws_ok($$update public.activities
                   set peer_mentor_id = 'a0000000-0000-4000-8000-000000000005' where id = 1$$,
    '42501', 'permission denied for table activities',
    'nor give it to another mentor');
select results_eq(
    $$with d as (delete from public.activities where id in (2, 9, 13) returning id)
      select array_agg(id order by id) from d$$,
    $$values (array[2::bigint])$$, 'a mentor deletes only their own activity of the three named');
select tests.clear_authentication();

select tests.authenticate_as_email('coordinator.ab@example.org');
select results_eq(
    $$with u as (update public.activities set status = 'cancelled' where id in (14, 13)
                 returning id)
      select array_agg(id order by id) from u$$,
    $$values (array[14::bigint])$$,
    'a coordinator corrects activities of their chapters, not of C');
select results_eq(
    $$with d as (delete from public.activities where id in (20, 21) returning id)
      select array_agg(id order by id) from d$$,
    $$values (array[20::bigint])$$, 'a coordinator deletes in B but not in C');
select tests.clear_authentication();

select is((select (status, duration_minutes) from public.activities where id = 9),
    ('registered'::text, 120), 'the refused correction left activity 9 as it was');
select is((select status from public.activities where id = 13), 'registered',
    'activity 13 (chapter C) is untouched');
select is((select array_agg(id order by id) from public.activities where id in (2, 9, 13, 20, 21)),
    array[9, 13, 21]::bigint[], 'exactly the two allowed deletions happened');

select tests.authenticate_as_email('mentor.a@example.org');
select throws_ok(
    $$update public.activities set activity_date = (now() at time zone 'Europe/Oslo')::date + 1
      where id = 1$$,
    '23514',
    'new row for relation "activities" violates check constraint '
    '"activities_activity_date_not_in_future"',
    'a correction is checked like a registration: no date after today');
select tests.clear_authentication();

-- ---------------------------------------------------------------------------------------------
-- service_role bypasses row level security
-- ---------------------------------------------------------------------------------------------
select tests.authenticate_as_service_role();
select is((select count(*) from public.activities), tests.all_activities_count(),
    'service_role reads every activity');
select lives_ok(
    $$insert into public.activities (peer_mentor_id, chapter_id, activity_type_id, activity_date,
                                     duration_minutes)
      values ('a0000000-0000-4000-8000-000000000006', 'c0000000-0000-4000-8000-00000000000c', 1,
              current_date - 1, 30)$$,
    'service_role registers for any mentor of any chapter');
select tests.clear_authentication();

select * from finish();
rollback;
