-- The refresh cycle, driven inside one transaction: the ticket's test cases (docs/ticket.md) (1) a
-- single insert runs one cycle and updates the log, (2) a second insert inside the window does not
-- refresh, (3) a 100-row insert runs exactly one cycle; and updates and deletes refresh too (D11).
--
-- `set constraints all immediate` fires the deferred trigger at the end of each statement instead
-- of at commit; clearing the trigger's marker stands for "a new transaction". The pytest suite
-- (e2e/tests/test_refresh_trigger.py) drives the same cases with real commits.
begin;
\ir ../helpers/session.psql
\ir ../helpers/refresh.psql
select plan(22);

select tests.hold_refresh_log();

select tests.create_test_mentor(
    'c2200000-0000-4000-8000-000000000001', 'a2200000-0000-4000-8000-000000000001',
    'Refresh cycle');

-- What the view says of the test mentor: (activity_count, total_minutes), NULL when no row.
create function tests.mentor_stats()
returns text
language sql
as $$
    select (activity_count, total_minutes)::text from stats.mv_peer_mentor_stats
    where chapter_id = 'c2200000-0000-4000-8000-000000000001'
      and peer_mentor_id = 'a2200000-0000-4000-8000-000000000001'
$$;

-- This transaction's work on both views so far (scans, inserted, updated, deleted tuples of each),
-- from pg_stat_xact_user_tables; tests.minus() turns two readings into the work in between.
create function tests.refresh_work()
returns bigint[]
language sql
as $$
    select array_agg(v order by s.relname, k)
    from pg_stat_xact_user_tables s,
         unnest(array[s.seq_scan + coalesce(s.idx_scan, 0), s.n_tup_ins, s.n_tup_upd, s.n_tup_del])
             with ordinality as c(v, k)
    where s.schemaname = 'stats'
      and s.relname in ('mv_activity_time_series', 'mv_peer_mentor_stats')
$$;

create function tests.minus(p_after bigint[], p_before bigint[])
returns bigint[]
language sql
as $$
    select array_agg(a.v - b.v order by a.k)
    from unnest(p_after) with ordinality a(v, k)
    join unnest(p_before) with ordinality b(v, k) using (k)
$$;

set constraints all immediate;

-- ---------------------------------------------------------------------------------------------
-- (1) a single insert, outside the window (NULL: never refreshed)
-- ---------------------------------------------------------------------------------------------
update stats.stats_refresh_log set refreshed_at = null where id;
select refresh_count as count0 from stats.stats_refresh_log \gset
select n_tup_upd as log_updates0 from pg_stat_xact_user_tables
where relid = 'stats.stats_refresh_log'::regclass \gset

select lives_ok($$select tests.add_activities(1)$$, 'a single insert succeeds');
select is((select refresh_count from stats.stats_refresh_log), :count0::bigint + 1,
    'a single insert runs one refresh cycle');
select ok(
    (select refreshed_at between now() and clock_timestamp() and last_refresh_source = 'commit'
     from stats.stats_refresh_log),
    'the log records when the cycle finished, and that a commit ran it');
select is(
    (select n_tup_upd from pg_stat_xact_user_tables
     where relid = 'stats.stats_refresh_log'::regclass),
    :log_updates0::bigint + 1, 'the cycle wrote the log row once');
select is(tests.mentor_stats(), '(1,30)', 'the view counts the new activity');

-- ---------------------------------------------------------------------------------------------
-- (2) a second insert, in another transaction, inside the window
-- ---------------------------------------------------------------------------------------------
select tests.next_transaction();
select lives_ok($$select tests.add_activities(1)$$, 'a second insert inside the window succeeds');
select is((select refresh_count from stats.stats_refresh_log), :count0::bigint + 1,
    'the second insert, inside the debounce window, does not refresh');
select is(tests.mentor_stats(), '(1,30)', 'so the view does not count it yet');
select is(
    (select reason from stats.stats_refresh_pending where xact_id = pg_current_xact_id()),
    'debounced', 'the skipped change is left pending for the flush');

-- ---------------------------------------------------------------------------------------------
-- (3) 100 rows in one statement: one cycle, the same work on the views as one row
-- ---------------------------------------------------------------------------------------------
-- With a zero window every row would be outside it: only "one cycle per transaction" keeps the
-- 100 rows to one refresh.
update stats.stats_refresh_log set debounce_window = interval '0' where id;

-- First the work of a one-row cycle, for comparison (both change one row of each view).
select tests.next_transaction();
update stats.stats_refresh_log set refreshed_at = null where id;
select tests.refresh_work() as work0 \gset
select tests.add_activities(1);
select tests.refresh_work() as work1 \gset
select refresh_count as count1 from stats.stats_refresh_log \gset

select tests.next_transaction();
update stats.stats_refresh_log set refreshed_at = null where id;
select lives_ok($$select tests.add_activities(100)$$, 'a 100-row insert succeeds');
select tests.refresh_work() as work2 \gset
select is((select refresh_count from stats.stats_refresh_log), :count1::bigint + 1,
    'a 100-row insert runs exactly one refresh cycle');
select ok((select bool_and(v >= 1) from unnest(tests.minus(:'work1', :'work0')) with ordinality
           as w(v, k) where k in (1, 5)),
    'a cycle scans each view (pg_stat_xact_user_tables)');
select is(tests.minus(:'work2', :'work1'), tests.minus(:'work1', :'work0'),
    'the 100-row insert did the work of one refresh of each view, as a one-row insert does');
select is(tests.mentor_stats(), '(103,3090)', 'the view counts all of them');

-- ---------------------------------------------------------------------------------------------
-- fired early, the events of each later command run a cycle of their own: nothing is left out
-- (at COMMIT, all of a transaction's events fire together: one cycle; see the pytest suite)
-- ---------------------------------------------------------------------------------------------
select tests.next_transaction();
update stats.stats_refresh_log set refreshed_at = null where id;
select refresh_count as count2 from stats.stats_refresh_log \gset
select tests.add_activities(1);
select tests.add_activities(1);
select is((select refresh_count from stats.stats_refresh_log), :count2::bigint + 2,
    'with the constraint IMMEDIATE, a later command of the transaction runs its own cycle');
select is(tests.mentor_stats(), '(105,3150)', 'so the view has the rows of both commands');

update stats.stats_refresh_log set debounce_window = interval '10 seconds' where id;

-- ---------------------------------------------------------------------------------------------
-- corrections count too (D11)
-- ---------------------------------------------------------------------------------------------
select tests.next_transaction();
update stats.stats_refresh_log set refreshed_at = null where id;
select lives_ok(
    $$update public.activities set duration_minutes = 60
      where chapter_id = 'c2200000-0000-4000-8000-000000000001'$$,
    'an update of activities succeeds');
select is((select refresh_count from stats.stats_refresh_log), :count2::bigint + 3,
    'an update runs a refresh cycle');
select is(tests.mentor_stats(), '(105,6300)', 'the view shows the corrected minutes');

select tests.next_transaction();
update stats.stats_refresh_log set refreshed_at = null where id;
select lives_ok(
    $$delete from public.activities where chapter_id = 'c2200000-0000-4000-8000-000000000001'$$,
    'a delete of activities succeeds');
select is((select refresh_count from stats.stats_refresh_log), :count2::bigint + 4,
    'a delete runs a refresh cycle');
select is(tests.mentor_stats(), null, 'the view no longer has a row for the mentor');

select * from finish();
rollback;
