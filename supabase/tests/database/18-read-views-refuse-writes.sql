-- V013: every write to a read view is refused with 42501 (permission denied), as anon, a signed-in
-- mentor, the service role and the views' owner alike; nothing reaches 55000 ("cannot insert into
-- view"), which PostgREST answers with HTTP 500.
begin;
\ir ../helpers/session.psql
select plan(17);

select has_trigger('public', 'peer_mentor_stats', 'peer_mentor_stats_refuse_writes',
    'peer_mentor_stats has its INSTEAD OF trigger');
select has_trigger('public', 'activity_time_series', 'activity_time_series_refuse_writes',
    'activity_time_series has its INSTEAD OF trigger');
select has_trigger('public', 'stats_freshness', 'stats_freshness_refuse_writes',
    'stats_freshness has its INSTEAD OF trigger (V015)');
select is(
    (select array_agg(p.oid::regprocedure::text) from pg_proc p
     where p.oid = 'private.refuse_read_view_write()'::regprocedure
       and (has_function_privilege('anon', p.oid, 'EXECUTE')
            or has_function_privilege('authenticated', p.oid, 'EXECUTE')
            or has_function_privilege('service_role', p.oid, 'EXECUTE'))),
    null,
    'no API role may execute the trigger function');

select tests.authenticate_as_email('mentor.a@example.org');
select throws_ok(
    $$insert into public.peer_mentor_stats (chapter_id) values ('c0000000-0000-4000-8000-00000000000a')$$,
    '42501', 'permission denied for view peer_mentor_stats', 'a mentor cannot insert into peer_mentor_stats');
select throws_ok(
    $$update public.peer_mentor_stats set activity_count = 0$$,
    '42501', 'permission denied for view peer_mentor_stats', 'a mentor cannot update peer_mentor_stats');
select throws_ok(
    $$delete from public.peer_mentor_stats where true$$,
    '42501', 'permission denied for view peer_mentor_stats', 'a mentor cannot delete from peer_mentor_stats');
select throws_ok(
    $$insert into public.activity_time_series (chapter_id) values ('c0000000-0000-4000-8000-00000000000a')$$,
    '42501', 'permission denied for view activity_time_series',
    'a mentor cannot insert into activity_time_series');
select throws_ok(
    $$update public.activity_time_series set activity_count = 0$$,
    '42501', 'permission denied for view activity_time_series',
    'a mentor cannot update activity_time_series');
select throws_ok(
    $$delete from public.activity_time_series where true$$,
    '42501', 'permission denied for view activity_time_series',
    'a mentor cannot delete from activity_time_series');

select throws_ok(
    $$update public.stats_freshness set changes_pending = false$$,
    '42501', 'permission denied for view stats_freshness', 'a mentor cannot update stats_freshness');

select tests.authenticate_as_anon();
select throws_ok(
    $$insert into public.peer_mentor_stats (chapter_id) values ('c0000000-0000-4000-8000-00000000000a')$$,
    '42501', 'permission denied for view peer_mentor_stats', 'anon cannot insert into a read view');

select tests.authenticate_as_service_role();
select throws_ok(
    $$delete from public.activity_time_series where true$$,
    '42501', 'permission denied for view activity_time_series',
    'the service role cannot delete from a read view');

-- the views' owner holds every privilege: the trigger refuses it all the same (with mentor_a's
-- claims, so that the views have rows for an UPDATE or DELETE to reach)
select tests.clear_authentication();
select set_config('request.jwt.claims',
    '{"sub": "a0000000-0000-4000-8000-000000000001", "role": "authenticated"}', true);
select cmp_ok((select count(*) from public.activity_time_series), '>', 0::bigint,
    'the owner sees rows of the read views with mentor_a''s claims');
select throws_ok(
    $$insert into public.peer_mentor_stats (chapter_id) values ('c0000000-0000-4000-8000-00000000000a')$$,
    '42501', 'permission denied for view peer_mentor_stats', 'the owner''s insert is refused too');
select throws_ok(
    $$update public.activity_time_series set activity_count = 0$$,
    '42501', 'permission denied for view activity_time_series',
    'the owner''s update is refused too');
select throws_ok(
    $$delete from public.peer_mentor_stats where true$$,
    '42501', 'permission denied for view peer_mentor_stats', 'the owner''s delete is refused too');

select * from finish();
rollback;
