-- The policies of chapters, profiles, chapter_memberships and activity_types from each persona's
-- side, the refusals of every write by a user, and the limit of five chapters per coordinator.
begin;
\ir ../helpers/session.psql
\ir ../helpers/reference.psql
select plan(45);

-- ---------------------------------------------------------------------------------------------
-- anon: refused outright
-- ---------------------------------------------------------------------------------------------
select tests.authenticate_as_anon();
select throws_ok('select * from public.chapters', '42501', 'permission denied for table chapters',
    'anon cannot read chapters');
select throws_ok('select * from public.profiles', '42501', 'permission denied for table profiles',
    'anon cannot read profiles');
select throws_ok('select * from public.chapter_memberships', '42501',
    'permission denied for table chapter_memberships', 'anon cannot read memberships');
select throws_ok('select * from public.activity_types', '42501',
    'permission denied for table activity_types', 'anon cannot read activity kinds');
select tests.clear_authentication();

-- ---------------------------------------------------------------------------------------------
-- reading: chapters, profiles and memberships per persona (expected.json)
-- ---------------------------------------------------------------------------------------------
create function tests.visible_reference_rows(p_persona text)
returns setof text
language plpgsql
as $$
declare
    v_expected tests.expected_visibility;
begin
    select * into v_expected from tests.expected_visibility where persona = p_persona;
    perform tests.authenticate_as(v_expected.user_id);
    return next is(
        (select coalesce(array_agg(id order by id), '{}') from public.chapters),
        v_expected.chapter_ids,
        format('%s reads exactly their chapters', p_persona));
    return next is(
        (select coalesce(array_agg(id order by id), '{}') from public.profiles),
        v_expected.profile_ids,
        format('%s reads exactly their own profile and, as coordinator, their members''',
               p_persona));
    return next is(
        (select count(*)::integer from public.chapter_memberships),
        v_expected.membership_count,
        format('%s reads exactly their memberships and those of chapters they coordinate',
               p_persona));
    perform tests.clear_authentication();
end
$$;
select tests.visible_reference_rows(persona)
from unnest(array['mentor_a', 'mentor_bc', 'mentor_df', 'coordinator_ab', 'coordinator_five',
                  'no_chapters']) persona;

select tests.authenticate_as_email('coordinator.ab@example.org');
select is((select count(*) from public.chapters
           where id = (select chapter_id from tests.ref_chapters where letter = 'C')),
    0::bigint, 'the coordinator of A and B cannot read chapter C by naming it');
select is((select count(*) from public.chapter_memberships
           where chapter_id = (select chapter_id from tests.ref_chapters where letter = 'C')),
    0::bigint, 'nor the memberships of C');
select is((select count(*) from public.profiles
           where id = (select user_id from tests.ref_people where key = 'mentor_c')),
    0::bigint, 'nor the profile of a mentor of C only');
select is((select count(*) from public.activity_types), 5::bigint,
    'every signed-in user reads the catalogue of activity kinds');
select tests.clear_authentication();

select tests.authenticate_as_email('mentor.a@example.org');
select is((select count(*) from public.chapter_memberships
           where user_id = (select user_id from tests.ref_people where key = 'mentor_a2')),
    0::bigint, 'a peer mentor does not read the memberships of the other mentors of their chapter');
select tests.clear_authentication();

select tests.authenticate_as_service_role();
select is((select count(*) from public.chapter_memberships),
    (select memberships from tests.start_state), 'service_role reads every membership');
select tests.clear_authentication();

-- ---------------------------------------------------------------------------------------------
-- users write none of these tables
-- ---------------------------------------------------------------------------------------------
select tests.authenticate_as_email('coordinator.five@example.org');
select throws_ok($$insert into public.chapters (name) values ('Chapter G')$$, '42501',
    'permission denied for table chapters', 'a coordinator cannot create a chapter');
select throws_ok($$update public.profiles set full_name = 'x'$$, '42501',
    'permission denied for table profiles', 'a user cannot rename profiles');
select throws_ok(
    $$insert into public.chapter_memberships (user_id, chapter_id, member_role)
      values ('a0000000-0000-4000-8000-000000000004', 'c0000000-0000-4000-8000-00000000000a',
              'coordinator')$$,
    '42501', 'permission denied for table chapter_memberships',
    'a coordinator cannot give themselves another chapter');
select throws_ok($$delete from public.chapter_memberships$$, '42501',
    'permission denied for table chapter_memberships', 'a coordinator cannot remove memberships');
select throws_ok($$update public.activity_types set counts_for_bufdir = true$$, '42501',
    'permission denied for table activity_types', 'a user cannot change which kinds count');
select tests.clear_authentication();
select is((select count(*) from public.chapters), (select chapters from tests.start_state),
    'no chapter was created');
select is((select count(*) from public.chapter_memberships),
    (select memberships from tests.start_state), 'no membership was added or removed');
select is((select count(*) from public.activity_types where counts_for_bufdir), 3::bigint,
    'the kinds that count are unchanged');

-- ---------------------------------------------------------------------------------------------
-- at most five chapters per coordinator
-- ---------------------------------------------------------------------------------------------
select throws_ok(
    $$insert into public.chapter_memberships (user_id, chapter_id, member_role)
      values ('a0000000-0000-4000-8000-000000000004', 'c0000000-0000-4000-8000-00000000000a',
              'coordinator')$$,
    '23514',
    'coordinator a0000000-0000-4000-8000-000000000004 already has five chapters, the most a '
    'coordinator may have',
    'a sixth chapter for a coordinator is refused, even to postgres');
select is((select count(*) from public.chapter_memberships
           where user_id = 'a0000000-0000-4000-8000-000000000004'),
    5::bigint, 'the refused sixth chapter was not written');

create function tests.sixth_chapter_error()
returns text
language plpgsql
as $$
declare
    v_constraint text;
begin
    insert into public.chapter_memberships (user_id, chapter_id, member_role)
    values ('a0000000-0000-4000-8000-000000000004', 'c0000000-0000-4000-8000-00000000000a',
            'coordinator');
    return null;
exception when check_violation then
    get stacked diagnostics v_constraint = constraint_name;
    return v_constraint;
end
$$;
select is(tests.sixth_chapter_error(), 'chapter_memberships_coordinator_max_five_chapters',
    'the error names the rule, as a constraint would');

select tests.authenticate_as_service_role();
select throws_ok(
    $$insert into public.chapter_memberships (user_id, chapter_id, member_role)
      values ('a0000000-0000-4000-8000-000000000004', 'c0000000-0000-4000-8000-00000000000a',
              'coordinator')$$,
    '23514', null, 'the API''s admin role is refused the sixth chapter too');
select tests.clear_authentication();

select lives_ok(
    $$insert into public.chapter_memberships (user_id, chapter_id, member_role)
      values ('a0000000-0000-4000-8000-000000000004', 'c0000000-0000-4000-8000-00000000000a',
              'peer_mentor')$$,
    'the limit is on coordinating: the same user may be a peer mentor of a sixth chapter');
select throws_ok(
    $$update public.chapter_memberships set member_role = 'coordinator'
      where user_id = 'a0000000-0000-4000-8000-000000000004' and member_role = 'peer_mentor'$$,
    '23514', null, 'turning a membership into a sixth coordinated chapter is refused');
select lives_ok(
    $$update public.chapter_memberships set chapter_id = 'c0000000-0000-4000-8000-00000000000a'
      where user_id = 'a0000000-0000-4000-8000-000000000004' and member_role = 'coordinator'
        and chapter_id = 'c0000000-0000-4000-8000-00000000000f'$$,
    'a coordinator of five may swap one chapter for another');
select lives_ok(
    $$insert into public.chapter_memberships (user_id, chapter_id, member_role)
      select 'a0000000-0000-4000-8000-000000000009', chapter_id, 'coordinator'
      from tests.ref_chapters where letter in ('A', 'B', 'C', 'D', 'E')$$,
    'five chapters at once are allowed');
select throws_ok(
    $$insert into public.chapter_memberships (user_id, chapter_id, member_role)
      values ('a0000000-0000-4000-8000-000000000009', 'c0000000-0000-4000-8000-00000000000f',
              'coordinator')$$,
    '23514', null, 'and the sixth is refused');

select * from finish();
rollback;
