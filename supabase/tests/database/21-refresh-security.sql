-- The refresh machinery from the side of each API role: none of them reaches the log, the helper
-- tables or the functions, yet a signed-in mentor's write runs the refresh with the owner's rights.
begin;
\ir ../helpers/session.psql
\ir ../helpers/refresh.psql
select plan(14);

select tests.hold_refresh_log();

-- A chapter and a peer mentor of it, made for this test only.
select tests.create_test_mentor(
    'c2100000-0000-4000-8000-000000000001', 'a2100000-0000-4000-8000-000000000001',
    'Refresh security');

-- ---------------------------------------------------------------------------------------------
-- anon
-- ---------------------------------------------------------------------------------------------
select tests.authenticate_as_anon();
select throws_ok($$select * from stats.stats_refresh_log$$, '42501',
    'permission denied for schema stats', 'anon cannot read the refresh log');
select throws_ok($$select stats.flush_stats_refresh()$$, '42501',
    'permission denied for schema stats', 'anon cannot run the flush');
select throws_ok($$select stats.expire_stats_refresh_window()$$, '42501',
    'permission denied for schema stats', 'anon cannot end the debounce window');
select tests.clear_authentication();

-- ---------------------------------------------------------------------------------------------
-- a signed-in mentor
-- ---------------------------------------------------------------------------------------------
select tests.authenticate_as('a2100000-0000-4000-8000-000000000001');
select throws_ok($$update stats.stats_refresh_log set refreshed_at = null$$, '42501',
    'permission denied for schema stats', 'a signed-in user cannot touch the refresh log');
select throws_ok($$insert into stats.stats_refresh_pending (reason) values ('debounced')$$, '42501',
    'permission denied for schema stats', 'a signed-in user cannot queue a refresh');
select throws_ok($$select * from stats.stats_refresh_failures$$, '42501',
    'permission denied for schema stats', 'a signed-in user cannot read the failures');
select throws_ok($$select stats.configure_stats_refresh(p_mode => 'flush_only')$$, '42501',
    'permission denied for schema stats', 'a signed-in user cannot change the refresh mode');
select throws_ok($$select stats.trg_refresh_stats_views()$$, '42501',
    'permission denied for schema stats', 'a signed-in user cannot call the trigger function');
select tests.clear_authentication();

-- ---------------------------------------------------------------------------------------------
-- service_role (bypasses RLS, but has no rights in stats)
-- ---------------------------------------------------------------------------------------------
select tests.authenticate_as_service_role();
select throws_ok($$select * from stats.stats_refresh_log$$, '42501',
    'permission denied for schema stats', 'service_role cannot read the refresh log');
select throws_ok($$select stats.flush_stats_refresh()$$, '42501',
    'permission denied for schema stats', 'service_role cannot run the flush');
select tests.clear_authentication();

-- ---------------------------------------------------------------------------------------------
-- the mentor's own write runs a refresh cycle with the owner's rights
-- ---------------------------------------------------------------------------------------------
update stats.stats_refresh_log set refreshed_at = null where id;
select refresh_count as count_before from stats.stats_refresh_log \gset
set constraints all immediate;

select tests.authenticate_as('a2100000-0000-4000-8000-000000000001');
select lives_ok(
    $$insert into public.activities (peer_mentor_id, chapter_id, activity_type_id, activity_date,
                                     duration_minutes)
      values ('a2100000-0000-4000-8000-000000000001', 'c2100000-0000-4000-8000-000000000001',
              (select min(id) from public.activity_types where counts_for_bufdir),
              (now() at time zone 'Europe/Oslo')::date - 1, 45)$$,
    'a mentor registers an activity; the trigger refreshes at the (immediate) constraint check');
select tests.clear_authentication();

select is((select refresh_count from stats.stats_refresh_log), :count_before::bigint + 1,
    'the mentor''s write ran one refresh cycle');
select is(
    (select (activity_count, total_minutes)::text from stats.mv_peer_mentor_stats
     where chapter_id = 'c2100000-0000-4000-8000-000000000001'
       and peer_mentor_id = 'a2100000-0000-4000-8000-000000000001'),
    '(1,45)', 'the view, which the mentor may not refresh, now counts the activity');
select is(
    (select count(*)::int from stats.stats_refresh_failures
     where xact_id = pg_current_xact_id()),
    0, 'no failure was recorded');

select * from finish();
rollback;
