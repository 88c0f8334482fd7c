-- The two materialized views: refreshed concurrently by their owner, equal to expected.json on the
-- reference dataset (so row level security hides nothing from the owner), following the data, and
-- closed to every API role.
begin;
\ir ../helpers/session.psql
\ir ../helpers/reference.psql
\ir ../helpers/refresh.psql
select plan(18);

-- ---------------------------------------------------------------------------------------------
-- the reference dataset
-- ---------------------------------------------------------------------------------------------
select lives_ok('select tests.refresh_stats()',
    'stats_owner refreshes both views concurrently (their unique indexes allow it)');
select set_eq(
    $$select chapter_id, peer_mentor_id, activity_count, total_minutes, last_activity_date,
             current_month_count
      from stats.mv_peer_mentor_stats
      where chapter_id in (select chapter_id from tests.ref_chapters)$$,
    'select * from tests.expected_peer_mentor_stats',
    'mv_peer_mentor_stats equals expected.json');
select set_eq(
    $$select chapter_id, month, activity_type_id, activity_count, total_minutes, active_mentors
      from stats.mv_activity_time_series
      where chapter_id in (select chapter_id from tests.ref_chapters)$$,
    'select * from tests.expected_activity_time_series',
    'mv_activity_time_series equals expected.json');
select is((select count(distinct chapter_id) from stats.mv_activity_time_series
           where chapter_id in (select chapter_id from tests.ref_chapters)), 6::bigint,
    'the owner''s refresh sees every chapter: row level security hides nothing from it');

savepoint without_owner_policy;
drop policy activities_select_stats_owner on public.activities;
-- V009: the views read a summary the refresh keeps from the activities; have it recompute every
-- group, as it would after changes to all of them.
insert into stats.activity_summary_changes (peer_mentor_id, activity_type_id, month)
select distinct peer_mentor_id, activity_type_id, date_trunc('month', activity_date::timestamp)::date
from public.activities;
select tests.refresh_stats();
select is((select count(*) from stats.mv_peer_mentor_stats), 0::bigint,
    'without its own policy, the owner''s refresh would see no activity at all');
rollback to savepoint without_owner_policy;

-- ---------------------------------------------------------------------------------------------
-- the views follow the data
-- ---------------------------------------------------------------------------------------------
insert into public.activities (peer_mentor_id, chapter_id, activity_type_id, activity_date,
                               duration_minutes, contact_ref)
values ('a0000000-0000-4000-8000-000000000008', 'c0000000-0000-4000-8000-00000000000e', 1,
        (now() at time zone 'Europe/Oslo')::date, 50, 'K-603'),
       ('a0000000-0000-4000-8000-000000000008', 'c0000000-0000-4000-8000-00000000000e', 1,
        tests.ref_month_end(1), 20, null);
update public.activities set status = 'cancelled' where id = 30;
select tests.refresh_stats();

select is(
    (select (activity_count, total_minutes, last_activity_date, current_month_count,
             counted_month)
     from stats.mv_peer_mentor_stats
     where peer_mentor_id = 'a0000000-0000-4000-8000-000000000008'),
    (3::bigint, 115::bigint, (now() at time zone 'Europe/Oslo')::date, 1::bigint,
     date_trunc('month', now() at time zone 'Europe/Oslo')::date),
    'a new activity today counts in the current month, the month the view says it counted; one '
    'on last month''s last day does not; a cancelled one leaves the totals');
select is(
    (select (activity_count, total_minutes, active_mentors) from stats.mv_activity_time_series
     where chapter_id = 'c0000000-0000-4000-8000-00000000000e' and month = tests.ref_date(0, 1)),
    (1::bigint, 50::bigint, 1::bigint),
    'this month gets a row in the time series');
select is(
    (select (activity_count, total_minutes) from stats.mv_activity_time_series
     where chapter_id = 'c0000000-0000-4000-8000-00000000000e' and month = tests.ref_date(1, 1)),
    (2::bigint, 65::bigint),
    'last month''s last day falls in last month');
select is(
    (select count(*) from stats.mv_activity_time_series
     where chapter_id = 'c0000000-0000-4000-8000-00000000000e' and month = tests.ref_date(2, 1)),
    0::bigint,
    'a month whose only activity was cancelled leaves the time series');

insert into public.activities (peer_mentor_id, chapter_id, activity_type_id, activity_date,
                               duration_minutes)
values ('a0000000-0000-4000-8000-000000000002', 'c0000000-0000-4000-8000-00000000000c', 1,
        tests.ref_date(1, 20), 30);
select tests.refresh_stats();
select is(
    (select (activity_count, active_mentors) from stats.mv_activity_time_series
     where chapter_id = 'c0000000-0000-4000-8000-00000000000c' and month = tests.ref_date(1, 1)
       and activity_type_id = 1),
    (3::bigint, 2::bigint),
    'a second visit of the same mentor in the month counts, but not as a second mentor');

delete from public.activities where peer_mentor_id = 'a0000000-0000-4000-8000-000000000007';
select tests.refresh_stats();
select is((select count(*) from stats.mv_peer_mentor_stats
           where peer_mentor_id = 'a0000000-0000-4000-8000-000000000007'),
    0::bigint, 'a mentor without counted activities has no row');

-- ---------------------------------------------------------------------------------------------
-- closed to the API roles
-- ---------------------------------------------------------------------------------------------
select tests.authenticate_as_email('coordinator.five@example.org');
select throws_ok('select * from stats.mv_peer_mentor_stats', '42501',
    'permission denied for schema stats', 'a coordinator cannot read mv_peer_mentor_stats');
select throws_ok('select * from stats.mv_activity_time_series', '42501',
    'permission denied for schema stats', 'nor mv_activity_time_series');
select throws_ok('select * from stats.counted_activities', '42501',
    'permission denied for schema stats', 'nor the counting definition');
select throws_ok('refresh materialized view stats.mv_peer_mentor_stats', '42501',
    'permission denied for schema stats', 'nor refresh a view');
select tests.clear_authentication();
select tests.authenticate_as_anon();
select throws_ok('select * from stats.mv_peer_mentor_stats', '42501',
    'permission denied for schema stats', 'anon cannot read the views');
select tests.clear_authentication();
select tests.authenticate_as_service_role();
select throws_ok('select * from stats.mv_activity_time_series', '42501',
    'permission denied for schema stats', 'service_role cannot read the views either');
select tests.clear_authentication();

set local role authenticated;
select throws_ok('select * from stats.mv_peer_mentor_stats', '42501',
    'permission denied for schema stats', 'authenticated cannot read them without claims either');
reset role;

select * from finish();
rollback;
