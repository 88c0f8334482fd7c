-- public.stats_freshness (V015), from each persona's side: a signed-in caller learns whether a
-- change to the figures they read waits for a refresh, and as of when their figures are current;
-- a change outside their scope tells them nothing; anon gets nothing. Nothing of the refresh
-- machinery is granted on the way.
begin;
\ir ../helpers/session.psql
\ir ../helpers/reference.psql
\ir ../helpers/refresh.psql
select plan(15);

select tests.hold_refresh_log();

-- Nothing waits at the start: the change log is applied by a refresh.
select tests.refresh_stats();
select coalesce(views_as_of, refreshed_at) as last_refresh_began from stats.stats_refresh_log
\gset

create function tests.freshness()
returns table (stats_as_of timestamptz, changes_pending boolean)
language sql
as $$
    select f.stats_as_of, f.changes_pending from public.stats_freshness f
$$;

select tests.authenticate_as_email('mentor.a@example.org');
select is((select count(*)::int from tests.freshness()), 1, 'a signed-in caller reads one row');
select is((select (changes_pending, stats_as_of = now()) from tests.freshness()), (false, true),
    'with nothing of theirs waiting, their figures are current now');

-- mentor_bc registers an activity in chapter B (in this transaction: its change log row is
-- visible here, as a committed one is to everyone).
select tests.authenticate_as_email('mentor.bc@example.org');
insert into public.activities (peer_mentor_id, chapter_id, activity_type_id, activity_date,
                               duration_minutes)
values ('a0000000-0000-4000-8000-000000000002', 'c0000000-0000-4000-8000-00000000000b', 1,
        (now() at time zone 'Europe/Oslo')::date, 30);
select is((select changes_pending from tests.freshness()), true,
    'the writer''s own change waits for a refresh');
select is((select stats_as_of from tests.freshness()), :'last_refresh_began'::timestamptz,
    'and their figures are as of the last refresh''s start');

select tests.authenticate_as_email('coordinator.ab@example.org');
select is((select changes_pending from tests.freshness()), true,
    'the coordinator of B sees that a change of their chapters waits');
select tests.authenticate_as_email('coordinator.five@example.org');
select is((select changes_pending from tests.freshness()), true,
    'so does the coordinator of B to F');
select tests.authenticate_as_email('mentor.a@example.org');
select is((select changes_pending from tests.freshness()), false,
    'a peer mentor of another chapter learns nothing of it');
select tests.authenticate_as_email('mentor.c@example.org');
select is((select changes_pending from tests.freshness()), false,
    'nor does a colleague of another chapter');
select tests.authenticate_as_email('no.chapters@example.org');
select is((select changes_pending from tests.freshness()), false,
    'nor a user of no chapter');

select tests.clear_authentication();
select tests.refresh_stats();
select tests.authenticate_as_email('coordinator.ab@example.org');
select is((select changes_pending from tests.freshness()), false,
    'once a refresh took the change in, nothing waits');

-- Accepted (docs/threat-model.md): the change log knows the mentor, not the chapter, so a change
-- of a shared mentor in a chapter the caller does not coordinate shows as waiting, and nothing
-- more: the figures the caller reads stay as they were.
select tests.authenticate_as_email('mentor.bc@example.org');
insert into public.activities (peer_mentor_id, chapter_id, activity_type_id, activity_date,
                               duration_minutes)
values ('a0000000-0000-4000-8000-000000000002', 'c0000000-0000-4000-8000-00000000000c', 1,
        (now() at time zone 'Europe/Oslo')::date, 30);
select tests.authenticate_as_email('coordinator.ab@example.org');
create temporary table ab_before as select * from public.peer_mentor_stats;
select is((select changes_pending from tests.freshness()), true,
    'accepted: mentor_bc''s change in C shows as waiting to the coordinator of A and B');
select tests.clear_authentication();
select tests.refresh_stats();
select tests.authenticate_as_email('coordinator.ab@example.org');
select set_eq('select * from public.peer_mentor_stats', 'select * from ab_before',
    'and once refreshed, nothing they read changed');
select tests.clear_authentication();

select tests.authenticate_as_anon();
select throws_ok('select * from public.stats_freshness', '42501', null,
    'anon cannot read it');
select tests.clear_authentication();

select is(
    (select array_agg(privilege_type::text order by privilege_type)
     from information_schema.role_table_grants
     where table_schema = 'public' and table_name = 'stats_freshness'
       and grantee = 'authenticated'),
    array['SELECT'], 'authenticated may only read it');
select ok(
    not has_schema_privilege('authenticated', 'stats', 'USAGE')
    and not has_function_privilege('authenticated', 'stats.flush_stats_refresh()', 'EXECUTE'),
    'and still reaches nothing of the refresh machinery');

select * from finish();
rollback;
