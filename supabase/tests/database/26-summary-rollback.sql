-- V009's rollback, inside this test's transaction (undone at its end), as `just rollback
-- 20261125000009` runs it: the migrations applied after V009 first, newest first. Then V009's
-- objects go, both views read V008's functions again (computed from the activities, SQL,
-- STABLE), and they keep the rows they had before V009's script; a refresh afterwards gives the
-- counting definition's aggregate. The CLI round trip (`just rollback`, `just migrate`) runs the
-- same scripts.
begin;
\ir ../helpers/session.psql
\ir ../helpers/refresh.psql
select plan(7);

set local client_min_messages = warning;  -- the scripts' "does not exist, skipping"
\ir ../../rollbacks/20261201000016_rollback_read_path_privacy.sql
\ir ../../rollbacks/20261201000015_rollback_current_month_and_freshness_read_path.sql
\ir ../../rollbacks/20261201000014_rollback_stats_refresh_flusher.sql
\ir ../../rollbacks/20261201000013_rollback_read_views_refuse_writes.sql
\ir ../../rollbacks/20261201000012_rollback_bufdir_export_through_private.sql
\ir ../../rollbacks/20261201000011_rollback_refresh_failure_backoff.sql
\ir ../../rollbacks/20261201000010_rollback_safeupdate_safe_statements.sql
reset client_min_messages;

create temporary table views_before as
select (select string_agg(t::text, ',' order by t::text) from stats.mv_peer_mentor_stats t) as peer,
       (select string_agg(t::text, ',' order by t::text) from stats.mv_activity_time_series t)
           as series;

set local client_min_messages = warning;  -- V008's "already exists, skipping"
\ir ../../rollbacks/20261125000009_rollback_incremental_stats_summary.sql
reset client_min_messages;

select is(
    (select array_agg(coalesce(to_regclass(n)::text, '-') order by n)
     from unnest(array['stats.activity_month_summary', 'stats.activity_summary_changes']) n),
    array['-', '-'],
    'the summary and its change log are gone');
select is(
    (select array_agg(tgname::text order by tgname) from pg_trigger
     where tgrelid in ('public.activities'::regclass, 'public.activity_types'::regclass)
       and not tgisinternal),
    array['trg_refresh_stats_views'],
    'only V007''s trigger is left on activities and activity_types');
select is(
    (select count(*)::int from pg_proc
     where pronamespace = 'stats'::regnamespace
       and proname in ('apply_activity_summary_changes', 'trg_arm_activity_summary_log',
                       'trg_log_activity_summary_changes', 'trg_log_activity_type_summary_changes',
                       'trg_truncate_activity_summary')),
    0,
    'V009''s functions are gone');
select is(
    (select array_agg(l.lanname || ':' || p.provolatile::text || ':'
                      || (p.prosrc ~ 'stats\.counted_activities')::text
                      order by p.proname)
     from pg_proc p join pg_language l on l.oid = p.prolang
     where p.oid in ('stats.compute_peer_mentor_stats()'::regprocedure,
                     'stats.compute_activity_time_series()'::regprocedure)),
    array['sql:s:true', 'sql:s:true'],
    'both views'' functions are V008''s again: SQL, STABLE, reading stats.counted_activities');
select is(
    (select (select string_agg(t::text, ',' order by t::text) from stats.mv_peer_mentor_stats t)
            = peer
        and (select string_agg(t::text, ',' order by t::text) from stats.mv_activity_time_series t)
            = series
     from views_before),
    true,
    'both views keep their rows');

select tests.refresh_stats();
select * from tests.stats_views_equal_definition('refreshed after the rollback');

select * from finish();
rollback;
