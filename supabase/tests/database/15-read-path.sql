-- The read path of the dashboard: public.peer_mentor_stats and public.activity_time_series return
-- each caller exactly their rows (decided from auth.uid()), filters naming another chapter return
-- nothing rather than an error, and no API role reaches the statistics any other way.
begin;
\ir ../helpers/session.psql
\ir ../helpers/reference.psql
\ir ../helpers/refresh.psql
select plan(36);

-- The views show what the last refresh stored: refresh as their owner before reading.
select tests.refresh_stats();

create function tests.read_path(p_persona text)
returns setof text
language plpgsql
as $$
declare
    v_expected tests.expected_visibility;
begin
    select * into v_expected from tests.expected_visibility where persona = p_persona;
    perform tests.authenticate_as(v_expected.user_id);
    return next is(
        (select coalesce(array_agg(chapter_id || '/' || peer_mentor_id
                                   order by chapter_id || '/' || peer_mentor_id), '{}')
         from public.peer_mentor_stats),
        (select coalesce(array_agg(k order by k), '{}')
         from unnest(v_expected.peer_mentor_stats_keys) k),
        format('%s reads exactly their rows of public.peer_mentor_stats', p_persona));
    return next is(
        (select coalesce(array_agg(distinct chapter_id), '{}') from public.activity_time_series),
        v_expected.time_series_chapter_ids,
        format('%s reads the time series of exactly their chapters', p_persona));
    perform tests.clear_authentication();
end
$$;

-- ---------------------------------------------------------------------------------------------
-- each persona's rows: every persona of the reference dataset, in the order it lists them
-- ---------------------------------------------------------------------------------------------
select tests.read_path(key) from tests.ref_people;

select tests.authenticate_as_email('coordinator.five@example.org');
select set_eq(
    $$select chapter_id, peer_mentor_id, activity_count, total_minutes, last_activity_date,
             current_month_count from public.peer_mentor_stats$$,
    $$select * from tests.expected_peer_mentor_stats
      where chapter_id in (select chapter_id from tests.ref_chapters
                           where letter in ('B', 'C', 'D', 'E', 'F'))$$,
    'the coordinator of five chapters reads their mentors'' statistics as expected.json has them');
select set_eq(
    $$select chapter_id, month, activity_type_id, activity_count, total_minutes, active_mentors
      from public.activity_time_series$$,
    $$select * from tests.expected_activity_time_series
      where chapter_id in (select chapter_id from tests.ref_chapters
                           where letter in ('B', 'C', 'D', 'E', 'F'))$$,
    'and the time series of their chapters');
select is((select full_name from public.peer_mentor_stats
           where peer_mentor_id = 'a0000000-0000-4000-8000-000000000006'),
    'Mentor of C', 'rows carry the mentor''s name for the dashboard');
select tests.clear_authentication();

-- ---------------------------------------------------------------------------------------------
-- filters naming what the caller may not see return nothing
-- ---------------------------------------------------------------------------------------------
select tests.authenticate_as_email('coordinator.ab@example.org');
select is((select count(*) from public.peer_mentor_stats
           where chapter_id = 'c0000000-0000-4000-8000-00000000000c'),
    0::bigint, 'the coordinator of A and B naming chapter C in peer_mentor_stats gets nothing');
select is((select count(*) from public.activity_time_series
           where chapter_id = 'c0000000-0000-4000-8000-00000000000c'),
    0::bigint, 'nor in activity_time_series');
select is((select count(*) from public.peer_mentor_stats
           where peer_mentor_id = 'a0000000-0000-4000-8000-000000000002'),
    1::bigint, 'naming the mentor of B and C gives only their row in B');
select is((select count(*) from private.peer_mentor_stats_rows()), 3::bigint,
    'calling the row source directly gives no more than the view');
select tests.clear_authentication();

select tests.authenticate_as_email('mentor.a@example.org');
select is((select count(*) from public.peer_mentor_stats
           where peer_mentor_id = 'a0000000-0000-4000-8000-000000000005'),
    0::bigint, 'a mentor naming another mentor of their chapter gets nothing');
select is((select count(*) from public.activity_time_series
           where chapter_id = 'c0000000-0000-4000-8000-00000000000b'),
    0::bigint, 'a mentor naming another chapter''s time series gets nothing');
select tests.clear_authentication();

-- A coordinator who also mentors: their own rows elsewhere and their chapters' rows together.
insert into public.chapter_memberships (user_id, chapter_id, member_role)
values ('a0000000-0000-4000-8000-000000000003', 'c0000000-0000-4000-8000-00000000000d',
        'peer_mentor');
insert into public.activities (peer_mentor_id, chapter_id, activity_type_id, activity_date,
                               duration_minutes)
values ('a0000000-0000-4000-8000-000000000003', 'c0000000-0000-4000-8000-00000000000d', 2,
        tests.ref_date(1, 2), 15);
select tests.refresh_stats();
select tests.authenticate_as_email('coordinator.ab@example.org');
select is((select count(*) from public.peer_mentor_stats
           where chapter_id = 'c0000000-0000-4000-8000-00000000000d'),
    1::bigint, 'a coordinator who mentors in D reads their own row there and no one else''s');
select is((select count(*) from public.peer_mentor_stats), 4::bigint,
    'besides the three rows of their chapters');
select tests.clear_authentication();

-- ---------------------------------------------------------------------------------------------
-- the boundary comes from auth.uid(), never from the caller
-- ---------------------------------------------------------------------------------------------
select is(
    (select array_agg(p.oid::regprocedure::text order by p.oid::regprocedure::text) from pg_proc p
     where p.oid in ('private.peer_mentor_stats_rows()'::regprocedure,
                     'private.activity_time_series_rows()'::regprocedure)
       and p.pronargs = 0),
    array['private.activity_time_series_rows()', 'private.peer_mentor_stats_rows()'],
    'the row sources take no argument: the caller cannot name whose rows to get');
set local role authenticated;
select is((select count(*) from public.peer_mentor_stats), 0::bigint,
    'authenticated without a user id reads nothing');
reset role;

-- ---------------------------------------------------------------------------------------------
-- refusals
-- ---------------------------------------------------------------------------------------------
select tests.authenticate_as_anon();
select throws_ok('select * from public.peer_mentor_stats', '42501',
    'permission denied for view peer_mentor_stats', 'anon cannot read peer_mentor_stats');
select throws_ok('select * from public.activity_time_series', '42501',
    'permission denied for view activity_time_series', 'anon cannot read activity_time_series');
select throws_ok('select * from private.peer_mentor_stats_rows()', '42501',
    'permission denied for schema private', 'anon cannot call the row sources');
select tests.clear_authentication();

select tests.authenticate_as_service_role();
select throws_ok('select * from public.peer_mentor_stats', '42501',
    'permission denied for view peer_mentor_stats',
    'service_role has no read path: it has no chapters');
select tests.clear_authentication();

select tests.authenticate_as_email('coordinator.ab@example.org');
select throws_ok($$insert into public.peer_mentor_stats (chapter_id) values (null)$$, '42501',
    'permission denied for view peer_mentor_stats',
    'the read path cannot be written (a privilege refusal since V013, not 55000)');
select tests.clear_authentication();

select * from finish();
rollback;
