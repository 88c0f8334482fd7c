-- Nothing in the refresh machinery fails a write (the ticket's test case (4) in docs/ticket.md;
-- D5): a renamed or dropped view, a missing log row, a failure table that cannot be written, and
-- -infinity, NULL or +infinity in the log. Each failure is recorded with its SQLSTATE and leaves
-- the change pending; a failed cycle leaves both views as they were. A failed cycle holds off the
-- next attempts for a window, as a successful one does (D19), and the log says since when the
-- refresh has been failing. The lock_timeout case needs two sessions: see
-- e2e/tests/test_reliability_faults.py.
begin;
\ir ../helpers/session.psql
\ir ../helpers/refresh.psql
select plan(36);

select tests.hold_refresh_log();

select tests.create_test_mentor(
    'c2300000-0000-4000-8000-000000000001', 'a2300000-0000-4000-8000-000000000001',
    'Refresh failure');

-- This transaction's failure records, oldest first, as 'SQLSTATE: message'.
create function tests.failures()
returns text[]
language sql
as $$
    select coalesce(array_agg(f.sqlstate || ': ' || f.message order by f.id), '{}')
    from stats.stats_refresh_failures f
    where f.xact_id = pg_current_xact_id()
$$;

set constraints all immediate;
-- Each failure below also raises a WARNING (the pytest suite asserts it): keep pg_prove's output
-- clean.
set local client_min_messages = error;
select refresh_count as count0 from stats.stats_refresh_log \gset

-- ---------------------------------------------------------------------------------------------
-- a renamed view
-- ---------------------------------------------------------------------------------------------
select tests.next_transaction_outside_window();
alter materialized view stats.mv_activity_time_series rename to mv_activity_time_series_away;
select lives_ok($$select tests.add_activities()$$,
    'an insert succeeds while a stats view is missing (renamed)');
select is(tests.test_mentor_activity_count(), 1::bigint, 'the activity was written');
select is(tests.failures(),
    array['42P01: relation "stats.mv_activity_time_series" does not exist'],
    'the failure is recorded with its SQLSTATE and message');
select is((select refresh_count from stats.stats_refresh_log), :count0::bigint,
    'the failed cycle is not counted as a refresh');
select is(
    (select count(*)::int from stats.mv_peer_mentor_stats
     where chapter_id = 'c2300000-0000-4000-8000-000000000001'),
    0, 'the view refreshed before the failure is rolled back with the cycle');
select is(
    (select reason from stats.stats_refresh_pending where xact_id = pg_current_xact_id()),
    'failed', 'the change is left pending for the flush');
select ok(
    (select failing_since is not null and failing_since = last_failure_at and failed_cycles = 1
     from stats.stats_refresh_log),
    'the log says the refresh is failing, since when, and how often');

-- The fault persists: the next writers inside the window do not try again.
select tests.next_transaction_nothing_pending();
select lives_ok($$select tests.add_activities()$$, 'an insert succeeds while the refresh backs off');
select is(
    (select reason from stats.stats_refresh_pending where xact_id = pg_current_xact_id()),
    'backoff', 'a commit inside the window after a failed cycle leaves its change to the flush');
select is(array_length(tests.failures(), 1), 1, 'and records no second failure');
select is(stats.flush_stats_refresh(), 'backoff',
    'the flush does not try again inside the window either');
select is((select failed_cycles from stats.stats_refresh_log), 1, 'one failed cycle in all');
alter materialized view stats.mv_activity_time_series_away rename to mv_activity_time_series;

-- ---------------------------------------------------------------------------------------------
-- -infinity, NULL and +infinity in the log
-- ---------------------------------------------------------------------------------------------
select tests.next_transaction_outside_window();
update stats.stats_refresh_log set refreshed_at = '-infinity' where id;
select lives_ok($$select tests.add_activities()$$, 'an insert succeeds with -infinity in the log');
select is((select refresh_count from stats.stats_refresh_log), :count0::bigint + 1,
    '-infinity means never refreshed: the insert refreshes');
select is(
    (select activity_count from stats.mv_peer_mentor_stats
     where chapter_id = 'c2300000-0000-4000-8000-000000000001'),
    3::bigint, 'the refresh counts every activity, those of the failed and backed-off cycles too');
select ok(
    (select failing_since is null and failed_cycles = 0 and views_as_of <= refreshed_at
     from stats.stats_refresh_log),
    'a successful cycle clears the failure state and records as of when the views are current');

select tests.next_transaction_outside_window();
select lives_ok($$select tests.add_activities()$$, 'an insert succeeds with NULL in the log');
select is((select refresh_count from stats.stats_refresh_log), :count0::bigint + 2,
    'NULL means never refreshed: the insert refreshes');

select tests.next_transaction_outside_window();
update stats.stats_refresh_log set refreshed_at = 'infinity' where id;
select lives_ok($$select tests.add_activities()$$, 'an insert succeeds with +infinity in the log');
select is((select refresh_count from stats.stats_refresh_log), :count0::bigint + 2,
    '+infinity is always inside the window: no refresh at commit');
select is(tests.failures(),
    array['42P01: relation "stats.mv_activity_time_series" does not exist'],
    'none of the three values was recorded as a failure');

-- ---------------------------------------------------------------------------------------------
-- no log row
-- ---------------------------------------------------------------------------------------------
select tests.next_transaction_outside_window();
delete from stats.stats_refresh_log;
select lives_ok($$select tests.add_activities()$$, 'an insert succeeds when the log row is missing');
select is((tests.failures())[2], 'P0001: stats.stats_refresh_log has no row',
    'the missing row is recorded as a failure');
insert into stats.stats_refresh_log (id, refresh_count) values (true, :count0::bigint + 2);

-- ---------------------------------------------------------------------------------------------
-- the failure cannot even be recorded
-- ---------------------------------------------------------------------------------------------
select tests.next_transaction_outside_window();
alter materialized view stats.mv_peer_mentor_stats rename to mv_peer_mentor_stats_away;
alter table stats.stats_refresh_failures rename to stats_refresh_failures_away;
select lives_ok($$select tests.add_activities()$$,
    'an insert succeeds when the view and the failure table are both missing');
alter table stats.stats_refresh_failures_away rename to stats_refresh_failures;
alter materialized view stats.mv_peer_mentor_stats_away rename to mv_peer_mentor_stats;
select is(array_length(tests.failures(), 1), 2, 'nothing more could be recorded');
select is(tests.test_mentor_activity_count(), 7::bigint, 'every activity was written');

-- ---------------------------------------------------------------------------------------------
-- transient failures: the flush tries again at once, and the record does not grow with it
-- ---------------------------------------------------------------------------------------------
-- The lock and cancel cases themselves need two sessions (e2e/tests/test_reliability_faults.py);
-- here the record they leave.
select tests.next_transaction_outside_window();
update stats.stats_refresh_log set refreshed_at = clock_timestamp() where id;
select tests.add_activities();
select stats.record_refresh_failure('flush', '55P03', 'canceling statement due to lock timeout',
                                    null, null)
from generate_series(1, 3);
select is(
    (select count(*)::int from stats.stats_refresh_failures
     where xact_id = pg_current_xact_id() and sqlstate = '55P03'),
    1, 'three lock timeouts of the flush in one window leave one failure row');
select is((select (failed_cycles, last_failure_transient)::text from stats.stats_refresh_log),
    '(3,t)', 'the log counts all three and marks the last failure transient');
select is(stats.flush_stats_refresh(), 'refreshed',
    'the flush does not back off after a transient failure');
select stats.record_refresh_failure('commit', '55P03', 'canceling statement due to lock timeout',
                                    null, null);
select is(
    (select count(*)::int from stats.stats_refresh_failures
     where xact_id = pg_current_xact_id() and sqlstate = '55P03'),
    2, 'a commit''s failure is recorded beside the flush''s (another source)');
select tests.next_transaction_nothing_pending();
update stats.stats_refresh_log set refreshed_at = null where id;
select tests.add_activities();
select is(
    (select reason from stats.stats_refresh_pending where xact_id = pg_current_xact_id()),
    'backoff', 'commits back off after a transient failure too: no writer waits twice a window');
select stats.record_refresh_failure('flush', '42P01', 'relation does not exist', null, null);
select is(stats.flush_stats_refresh(), 'backoff', 'but after a lasting one the flush backs off');

-- ---------------------------------------------------------------------------------------------
-- a dropped view (last: it stays dropped until the rollback)
-- ---------------------------------------------------------------------------------------------
select tests.next_transaction_outside_window();
drop materialized view stats.mv_peer_mentor_stats;
select lives_ok($$select tests.add_activities()$$,
    'an insert succeeds after a stats view was dropped');
select is((tests.failures())[array_length(tests.failures(), 1)],
    '42P01: relation "stats.mv_peer_mentor_stats" does not exist',
    'the dropped view is recorded as a failure');
select is(
    (select reason from stats.stats_refresh_pending where xact_id = pg_current_xact_id()),
    'failed', 'the change is still pending');
select is(tests.test_mentor_activity_count(), 10::bigint, 'the activity was written');

select * from finish();
rollback;
