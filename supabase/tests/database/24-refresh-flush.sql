-- The trailing flush (D6) and the settings: the flush does nothing when nothing is pending,
-- picks up a change the debounce skipped, records its own failures; mode flush_only leaves every
-- commit to it; the operator helpers validate what they set; the pg_cron job's command runs as
-- its user.
begin;
\ir ../helpers/session.psql
\ir ../helpers/refresh.psql
select plan(30);

select tests.hold_refresh_log();
-- Changes other transactions left pending are not this test's business.
delete from stats.stats_refresh_pending;

select tests.create_test_mentor(
    'c2400000-0000-4000-8000-000000000001', 'a2400000-0000-4000-8000-000000000001',
    'Refresh flush');

create function tests.mentor_count()
returns bigint
language sql
as $$
    select activity_count from stats.mv_peer_mentor_stats
    where chapter_id = 'c2400000-0000-4000-8000-000000000001'
      and peer_mentor_id = 'a2400000-0000-4000-8000-000000000001'
$$;

-- Scans of both views in this transaction so far (pg_stat_xact_user_tables).
create function tests.view_scans()
returns bigint
language sql
as $$
    select sum(s.seq_scan + coalesce(s.idx_scan, 0))::bigint
    from pg_stat_xact_user_tables s
    where s.relid in ('stats.mv_peer_mentor_stats'::regclass,
                      'stats.mv_activity_time_series'::regclass)
$$;

-- Runs a flusher round and says whether its wait ends on a tick: a multiple of p_interval after
-- the minute the run started in, within 20 ms, and no more than an interval away.
create function tests.round_waits_for_tick(p_interval interval)
returns boolean
language plpgsql
as $$
declare
    v_start timestamptz := clock_timestamp();
    v_wait interval;
    v_at timestamptz;
begin
    v_wait := stats.run_stats_refresh_flusher_round(v_start, false, v_start + interval '1 minute');
    v_at := clock_timestamp() + v_wait;
    return v_wait <= p_interval
       and (extract(epoch from v_at - date_trunc('minute', v_start)) * 1000)::numeric
           % (extract(epoch from p_interval) * 1000)::numeric < 20;
end
$$;

set constraints all immediate;
set local client_min_messages = error;

-- ---------------------------------------------------------------------------------------------
-- nothing pending: nothing done
-- ---------------------------------------------------------------------------------------------
select refresh_count as count0 from stats.stats_refresh_log \gset
select coalesce(tests.view_scans(), 0) as scans0 \gset
select is(stats.flush_stats_refresh(), 'idle', 'with nothing pending the flush reports idle');
select is((select refresh_count from stats.stats_refresh_log), :count0::bigint,
    'and refreshes nothing');
select is(coalesce(tests.view_scans(), 0), :scans0::bigint, 'it did not even read the views');

-- ---------------------------------------------------------------------------------------------
-- a change the debounce skipped
-- ---------------------------------------------------------------------------------------------
update stats.stats_refresh_log set refreshed_at = clock_timestamp() where id;
select tests.add_activities();
select is((select refresh_count from stats.stats_refresh_log), :count0::bigint,
    'an insert inside the window does not refresh');
select is(tests.mentor_count(), null, 'so the view does not have it');
select is(stats.flush_stats_refresh(), 'refreshed', 'the flush refreshes the skipped change');
select is((select (refresh_count, last_refresh_source)::text from stats.stats_refresh_log),
    format('(%s,flush)', :count0::bigint + 1), 'the log counts the flush''s cycle');
select is(tests.mentor_count(), 1::bigint, 'the view now has the change');
select is((select count(*)::int from stats.stats_refresh_pending), 0,
    'the flush forgot the pending change it covered');
select is(stats.flush_stats_refresh(), 'idle', 'a second flush has nothing to do');

-- ---------------------------------------------------------------------------------------------
-- mode flush_only
-- ---------------------------------------------------------------------------------------------
select is(stats.configure_stats_refresh(p_mode => 'flush_only') ->> 'mode', 'flush_only',
    'configure_stats_refresh switches the mode');
select tests.next_transaction();
update stats.stats_refresh_log set refreshed_at = null where id;
select tests.add_activities();
select is((select refresh_count from stats.stats_refresh_log), :count0::bigint + 1,
    'in flush_only mode a commit outside the window does not refresh');
select is(
    (select reason from stats.stats_refresh_pending where xact_id = pg_current_xact_id()),
    'flush_only', 'the change is pending, marked flush_only');
select is(stats.flush_stats_refresh(), 'refreshed', 'the flush refreshes in flush_only mode');
select is(tests.mentor_count(), 2::bigint, 'the view has the change');
select is(stats.configure_stats_refresh(p_mode => 'commit') ->> 'mode', 'commit',
    'and back to commit mode');

-- ---------------------------------------------------------------------------------------------
-- the operator helpers
-- ---------------------------------------------------------------------------------------------
select throws_ok($$select stats.configure_stats_refresh(p_mode => 'sometimes')$$, '23514',
    'new row for relation "stats_refresh_log" violates check constraint '
    || '"stats_refresh_log_mode_valid"',
    'an unknown mode is refused');
select throws_ok($$select stats.configure_stats_refresh(p_debounce_window => '-1 second')$$,
    '23514',
    'new row for relation "stats_refresh_log" violates check constraint '
    || '"stats_refresh_log_debounce_window_not_negative"',
    'a negative window is refused');
select is(
    (select (l.debounce_window, l.mode)::text
     from jsonb_populate_record(
              null::stats.stats_refresh_log,
              stats.configure_stats_refresh(p_debounce_window => '30 seconds')) l),
    '(00:00:30,commit)', 'the window changes and the mode, not given, stays');

update stats.stats_refresh_log set refreshed_at = clock_timestamp() where id;
select ok(
    (select l.refreshed_at <= clock_timestamp() - interval '30 seconds'
            and l.refreshed_at > clock_timestamp() - interval '31 seconds'
     from jsonb_populate_record(null::stats.stats_refresh_log,
                                stats.expire_stats_refresh_window()) l),
    'expire_stats_refresh_window moves a recent refreshed_at back to the window''s edge');
update stats.stats_refresh_log set refreshed_at = '2020-01-01 00:00+00' where id;
select is((stats.expire_stats_refresh_window() ->> 'refreshed_at')::timestamptz,
    '2020-01-01 00:00+00'::timestamptz, 'and leaves an older one alone');
update stats.stats_refresh_log set refreshed_at = null where id;
select is((stats.expire_stats_refresh_window() ->> 'refreshed_at')::timestamptz, null,
    'and NULL too');

-- ---------------------------------------------------------------------------------------------
-- the pg_cron job's command, and a failing flush
-- ---------------------------------------------------------------------------------------------
-- A round as the job's command runs it (as postgres, the job's user), not the run's first: the
-- first takes the flusher's advisory lock, which the pg_cron job's run holds.
select tests.next_transaction();
update stats.stats_refresh_log set refreshed_at = clock_timestamp() where id;
select tests.add_activities();
select stats.configure_stats_flusher(p_paused => true);
select ok(stats.run_stats_refresh_flusher_round(clock_timestamp(), false,
                                                clock_timestamp() + interval '1 minute')
          between interval '0' and interval '1.5 seconds',
    'a round of a paused flusher goes on, waiting at most an interval for its next tick');
select is(tests.mentor_count(), 2::bigint, 'but refreshes nothing');
select stats.configure_stats_flusher(p_flush_interval => '200 milliseconds', p_paused => false);
select ok(tests.round_waits_for_tick(interval '200 milliseconds'),
    'a running flusher''s round returns the wait until its next tick, ticks counted from the '
    'minute');
select is(tests.mentor_count(), 3::bigint, 'and flushed the pending change');
select is(stats.run_stats_refresh_flusher_round(clock_timestamp() - interval '1 second', false,
                                                clock_timestamp() - interval '1 millisecond'),
    null, 'a round past its run''s end ends the run');
select is(stats.run_stats_refresh_flusher_round(clock_timestamp() - interval '2 minutes', false),
    null, 'by default a run ends just after the minute after its start');
select stats.configure_stats_flusher(p_flush_interval => '1.5 seconds');

select tests.next_transaction();
update stats.stats_refresh_log set refreshed_at = clock_timestamp() where id;
select tests.add_activities();
alter materialized view stats.mv_activity_time_series rename to mv_activity_time_series_away;
select is(stats.flush_stats_refresh(), 'failed', 'a flush that cannot refresh reports failed');
alter materialized view stats.mv_activity_time_series_away rename to mv_activity_time_series;
select is(
    (select array_agg(f.source || ' ' || f.sqlstate) from stats.stats_refresh_failures f
     where f.xact_id = pg_current_xact_id()),
    array['flush 42P01'], 'and records the failure');

select * from finish();
rollback;
