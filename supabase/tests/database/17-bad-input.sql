-- Bad input fails on the named constraint and leaves no row behind: wrong types, out-of-range
-- durations, dates after today, unknown chapters, kinds and mentors, a mentor outside the chapter,
-- and the same through a signed-in mentor's insert. As postgres (no row level security) unless
-- said otherwise, so the constraints and not the policies speak.
begin;
\ir ../helpers/session.psql
\ir ../helpers/reference.psql
select plan(35);

-- Insert one activity of mentor_a in A, with one field replaced by a bad value (SQL text).
create function tests.try_activity(
    p_duration text default '30',
    p_date text default $$(now() at time zone 'Europe/Oslo')::date$$,
    p_chapter text default $$'c0000000-0000-4000-8000-00000000000a'$$,
    p_type text default '1',
    p_mentor text default $$'a0000000-0000-4000-8000-000000000001'$$,
    p_contact text default 'null',
    p_status text default $$'registered'$$
)
returns text
language sql
as $$
    select format(
        'insert into public.activities (peer_mentor_id, chapter_id, activity_type_id, '
        'activity_date, duration_minutes, contact_ref, status) values (%s, %s, %s, %s, %s, %s, %s)',
        p_mentor, p_chapter, p_type, p_date, p_duration, p_contact, p_status)
$$;

create function tests.check_message(p_constraint text)
returns text
language sql
as $$
    select format('new row for relation "activities" violates check constraint "%s"', p_constraint)
$$;

create function tests.fk_message(p_constraint text)
returns text
language sql
as $$
    select format('insert or update on table "activities" violates foreign key constraint "%s"',
                  p_constraint)
$$;

-- ---------------------------------------------------------------------------------------------
-- durations
-- ---------------------------------------------------------------------------------------------
select throws_ok(tests.try_activity(p_duration => '0'), '23514',
    tests.check_message('activities_duration_minutes_range'), 'a duration of 0 minutes is refused');
select throws_ok(tests.try_activity(p_duration => '-5'), '23514',
    tests.check_message('activities_duration_minutes_range'), 'a negative duration is refused');
select throws_ok(tests.try_activity(p_duration => '1441'), '23514',
    tests.check_message('activities_duration_minutes_range'),
    'more than a day (1441 minutes) is refused');
select lives_ok(tests.try_activity(p_duration => '1'), 'one minute is accepted');
select lives_ok(tests.try_activity(p_duration => '1440'), 'a whole day (1440 minutes) is accepted');
select throws_ok(tests.try_activity(p_duration => $$'half an hour'$$), '22P02',
    'invalid input syntax for type integer: "half an hour"', 'a duration must be a number');
select throws_ok(tests.try_activity(p_duration => $$'30.5'$$), '22P02',
    'invalid input syntax for type integer: "30.5"', 'a duration is a whole number of minutes');
select throws_ok(tests.try_activity(p_duration => 'null'), '23502',
    'null value in column "duration_minutes" of relation "activities" violates not-null constraint',
    'a duration is required');

-- ---------------------------------------------------------------------------------------------
-- dates
-- ---------------------------------------------------------------------------------------------
select throws_ok(tests.try_activity(p_date => $$(now() at time zone 'Europe/Oslo')::date + 1$$),
    '23514', tests.check_message('activities_activity_date_not_in_future'),
    'tomorrow in Oslo is refused');
select throws_ok(tests.try_activity(p_date => $$'infinity'$$),
    '23514', tests.check_message('activities_activity_date_not_in_future'),
    'an infinite date is refused');
select throws_ok(tests.try_activity(p_date => $$'1999-12-31'$$),
    '23514', tests.check_message('activities_activity_date_plausible'),
    'a date before 2000 is refused');
select throws_ok(tests.try_activity(p_date => $$'-infinity'$$),
    '23514', tests.check_message('activities_activity_date_plausible'),
    'minus infinity is refused');
select throws_ok(tests.try_activity(p_date => $$'2026-02-30'$$), '22008',
    'date/time field value out of range: "2026-02-30"', 'a date that does not exist is refused');
select throws_ok(tests.try_activity(p_date => $$'yesterday-ish'$$), '22007',
    'invalid input syntax for type date: "yesterday-ish"', 'a date must be a date');
select lives_ok(tests.try_activity(p_date => $$(now() at time zone 'Europe/Oslo')::date$$),
    'today in Oslo is accepted');

-- ---------------------------------------------------------------------------------------------
-- what the activity refers to
-- ---------------------------------------------------------------------------------------------
select throws_ok(tests.try_activity(p_chapter => $$'c0000000-0000-4000-8000-000000000099'$$),
    '23503', tests.fk_message('activities_chapter_id_fkey'), 'an unknown chapter is refused');
select throws_ok(tests.try_activity(p_type => '99'), '23503',
    tests.fk_message('activities_activity_type_id_fkey'), 'an unknown kind is refused');
select throws_ok(tests.try_activity(p_type => '40000'), '22003', 'smallint out of range',
    'a kind id beyond smallint is refused');
select throws_ok(tests.try_activity(p_mentor => $$'a0000000-0000-4000-8000-000000000099'$$),
    '23503', tests.fk_message('activities_peer_mentor_membership_fkey'),
    'an unknown mentor is refused as a mentor who is not a peer mentor of the chapter (V016)');
select throws_ok(tests.try_activity(p_chapter => $$'c0000000-0000-4000-8000-00000000000b'$$),
    '23503', tests.fk_message('activities_peer_mentor_membership_fkey'),
    'a mentor who is not a peer mentor of the chapter is refused');
select throws_ok(tests.try_activity(p_chapter => $$'not-a-uuid'$$), '22P02',
    'invalid input syntax for type uuid: "not-a-uuid"', 'a chapter id must be a uuid');

-- ---------------------------------------------------------------------------------------------
-- status and contact
-- ---------------------------------------------------------------------------------------------
select throws_ok(tests.try_activity(p_status => $$'deleted'$$), '23514',
    tests.check_message('activities_status_valid'), 'an unknown status is refused');
select throws_ok(tests.try_activity(p_contact => $$''$$), '23514',
    tests.check_message('activities_contact_ref_length'), 'an empty contact reference is refused');
select throws_ok(tests.try_activity(p_contact => $$repeat('x', 101)$$), '23514',
    tests.check_message('activities_contact_ref_length'),
    'a contact reference longer than 100 characters is refused');
select lives_ok(tests.try_activity(p_contact => $$'O''Brien; drop table x; --'$$),
    'a contact reference with SQL meta-characters is stored as text');

-- ---------------------------------------------------------------------------------------------
-- the same through a signed-in mentor: the row passes the policy, the constraint refuses it
-- ---------------------------------------------------------------------------------------------
select tests.authenticate_as_email('mentor.a@example.org');
select throws_ok(tests.try_activity(p_duration => '0'), '23514',
    tests.check_message('activities_duration_minutes_range'),
    'a mentor''s registration of 0 minutes fails on the duration constraint');
select throws_ok(tests.try_activity(p_date => $$(now() at time zone 'Europe/Oslo')::date + 7$$),
    '23514', tests.check_message('activities_activity_date_not_in_future'),
    'a mentor''s registration next week fails on the date constraint');
select throws_ok(tests.try_activity(p_type => '99'), '23503',
    tests.fk_message('activities_activity_type_id_fkey'),
    'a mentor''s registration of an unknown kind fails on its foreign key');
select tests.clear_authentication();

-- ---------------------------------------------------------------------------------------------
-- the other tables
-- ---------------------------------------------------------------------------------------------
select throws_ok(
    $$insert into public.chapter_memberships (user_id, chapter_id, member_role)
      values ('a0000000-0000-4000-8000-000000000009', 'c0000000-0000-4000-8000-00000000000a',
              'admin')$$,
    '23514', 'new row for relation "chapter_memberships" violates check constraint '
             '"chapter_memberships_member_role_valid"',
    'a membership is as peer_mentor or coordinator, nothing else');
select throws_ok($$insert into public.chapters (name) values ('')$$, '23514',
    'new row for relation "chapters" violates check constraint "chapters_name_length"',
    'a chapter needs a name');
select throws_ok($$insert into public.chapters (name) values ('Chapter A (Oslo)')$$, '23505',
    'duplicate key value violates unique constraint "chapters_name_key"',
    'two chapters cannot share a name');
select throws_ok(
    $$insert into public.activity_types (id, code, name, counts_for_bufdir)
      values (6, 'Home Visit', 'Home visit again', true)$$,
    '23514', 'new row for relation "activity_types" violates check constraint '
             '"activity_types_code_format"',
    'a kind''s code is a lower-case machine name');

-- ---------------------------------------------------------------------------------------------
-- nothing was left behind
-- ---------------------------------------------------------------------------------------------
select is((select count(*) from public.activities
           where id > (select max_activity_id from tests.start_state)), 4::bigint,
    'only the four accepted rows were written (1 and 1440 minutes, today, the odd contact)');
select is((select count(*) from public.activities where id <= 33), 33::bigint,
    'the reference dataset is untouched');
select is((select count(*) from public.chapters), (select chapters from tests.start_state),
    'no chapter was added');

select * from finish();
rollback;
