-- V007's objects as the catalog records them: the constraint trigger and its events, the function's
-- security (definer, owner, pinned search_path, lock_timeout, no dynamic SQL, no EXECUTE for API
-- roles), the log table's single row, RLS, grants and index, the helper tables, the flush job;
-- V017's and V019's storage option on what the read path reads; V018's always-NULL column.
begin;
\ir ../helpers/session.psql
select plan(41);

-- ---------------------------------------------------------------------------------------------
-- the trigger
-- ---------------------------------------------------------------------------------------------
select has_trigger('public', 'activities', 'trg_refresh_stats_views',
    'activities has the trigger trg_refresh_stats_views');
select trigger_is('public', 'activities', 'trg_refresh_stats_views',
    'stats', 'trg_refresh_stats_views',
    'the trigger calls stats.trg_refresh_stats_views()');
select is(
    (select pg_get_triggerdef(t.oid) from pg_trigger t
     where t.tgrelid = 'public.activities'::regclass and t.tgname = 'trg_refresh_stats_views'),
    'CREATE CONSTRAINT TRIGGER trg_refresh_stats_views AFTER INSERT OR DELETE OR UPDATE '
    || 'ON public.activities DEFERRABLE INITIALLY DEFERRED FOR EACH ROW '
    || 'EXECUTE FUNCTION stats.trg_refresh_stats_views()',
    'a constraint trigger after insert, update and delete, deferrable, initially deferred, per row'
);
select is(
    (select (c.contype, c.condeferrable, c.condeferred)::text from pg_constraint c
     where c.conrelid = 'public.activities'::regclass and c.conname = 'trg_refresh_stats_views'),
    '(t,t,t)',
    'the catalog records it as a deferrable, initially deferred constraint trigger');
select is(
    (select t.tgenabled::text from pg_trigger t
     where t.tgrelid = 'public.activities'::regclass and t.tgname = 'trg_refresh_stats_views'),
    'O', 'the trigger is enabled');

-- ---------------------------------------------------------------------------------------------
-- the functions
-- ---------------------------------------------------------------------------------------------
select is_definer('stats', 'trg_refresh_stats_views', '{}'::name[],
    'the trigger function runs with its owner''s rights');
select function_owner_is('stats', 'trg_refresh_stats_views', '{}'::name[], 'stats_owner',
    'the trigger function is owned by stats_owner, not by postgres or an API role');
select is((select rolcanlogin from pg_roles where rolname = 'stats_owner'), false,
    'its owner stats_owner cannot log in');
select function_lang_is('stats', 'trg_refresh_stats_views', '{}'::name[], 'plpgsql',
    'the trigger function is PL/pgSQL');
select is(
    (select proconfig from pg_proc where oid = 'stats.trg_refresh_stats_views()'::regprocedure),
    array['search_path=""', 'lock_timeout=250ms'],
    'the trigger function pins an empty search_path and a short lock_timeout (D12)');
select is(
    (select array_agg(p.proname::text order by p.proname) from pg_proc p
     where p.pronamespace = 'stats'::regnamespace
       and p.proname in ('trg_refresh_stats_views', 'flush_stats_refresh', 'run_stats_refresh',
                         'configure_stats_refresh', 'expire_stats_refresh_window')
       and ('search_path=""' = any (p.proconfig))),
    array['configure_stats_refresh', 'expire_stats_refresh_window', 'flush_stats_refresh',
          'run_stats_refresh', 'trg_refresh_stats_views'],
    'every V007 function pins an empty search_path');
select is(
    (select array_agg(p.proname::text order by p.proname) from pg_proc p
     where p.pronamespace = 'stats'::regnamespace and p.prosecdef),
    array['configure_stats_flusher', 'configure_stats_refresh', 'expire_stats_refresh_window',
          'flush_stats_refresh', 'trg_log_activity_summary_changes',
          'trg_log_activity_type_summary_changes', 'trg_refresh_stats_views',
          'trg_truncate_activity_summary'],
    'only the triggers (V007''s, and V009''s that log for the summary), the flush and the operator '
    'helpers run with definer rights');
select is(
    (select count(*)::int from pg_proc p
     where p.pronamespace = 'stats'::regnamespace
       and p.proname in ('trg_refresh_stats_views', 'flush_stats_refresh', 'run_stats_refresh')
       and p.prosrc ~* '\mexecute\M|format\s*\(|quote_'),
    0, 'no V007 function builds or runs dynamic SQL');
select is(
    (select count(*)::int from pg_proc p
     where p.oid = 'stats.trg_refresh_stats_views()'::regprocedure
       and p.prosrc ~* '\m(new|old|tg_argv)\M'),
    0, 'the trigger function reads nothing of the changed row');

-- EXECUTE: nobody but the owner and, for the flush and the operator helpers, postgres.
select is(
    (select array_agg(distinct p.proname || ':'
                      || case a.grantee when 0 then 'public' else a.grantee::regrole::text end)
     from pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
     where p.pronamespace = 'stats'::regnamespace
       and p.proname in ('trg_refresh_stats_views', 'flush_stats_refresh', 'run_stats_refresh',
                         'configure_stats_refresh', 'expire_stats_refresh_window')
       and a.grantee <> p.proowner),
    array['configure_stats_refresh:postgres', 'expire_stats_refresh_window:postgres',
          'flush_stats_refresh:postgres'],
    'EXECUTE is granted to postgres on the flush and the operator helpers, to nobody else');
select ok(
    not exists (
        select from pg_proc p, unnest(array['anon', 'authenticated', 'service_role']) r(role)
        where p.pronamespace = 'stats'::regnamespace
          and p.proname in ('trg_refresh_stats_views', 'flush_stats_refresh', 'run_stats_refresh',
                            'configure_stats_refresh', 'expire_stats_refresh_window')
          and has_function_privilege(r.role, p.oid, 'EXECUTE')),
    'anon, authenticated and service_role may execute none of them (D15)');
select is(
    (select array_agg(p.proname::text order by p.proname) from pg_proc p
     where p.pronamespace = 'stats'::regnamespace
       and p.proname in ('trg_refresh_stats_views', 'flush_stats_refresh', 'run_stats_refresh',
                         'configure_stats_refresh', 'expire_stats_refresh_window')
       and p.proowner = 'stats_owner'::regrole),
    array['configure_stats_refresh', 'expire_stats_refresh_window', 'flush_stats_refresh',
          'run_stats_refresh', 'trg_refresh_stats_views'],
    'stats_owner owns every V007 function');

-- ---------------------------------------------------------------------------------------------
-- the log table
-- ---------------------------------------------------------------------------------------------
select has_table('stats', 'stats_refresh_log', 'stats.stats_refresh_log exists');
select columns_are('stats', 'stats_refresh_log',
    array['id', 'refreshed_at', 'refresh_count', 'debounce_window', 'mode',
          'last_refresh_source', 'last_refresh_duration', 'last_failure_at', 'failing_since',
          'failed_cycles', 'views_as_of', 'last_failure_transient', 'flush_interval',
          'flush_paused'],
    'stats_refresh_log has the debounce state''s columns (V011: the failure state, the views'' age; '
    'V014: the flusher''s settings)');
select is(
    (select count(*)::int from stats.stats_refresh_log), 1, 'the log has exactly one row');
select is(
    (select (debounce_window, mode)::text from stats.stats_refresh_log),
    '(00:00:10,commit)', 'the debounce window is 10 seconds and the mode commit');
select throws_ok(
    $$insert into stats.stats_refresh_log (id) values (false)$$,
    '23514',
    'new row for relation "stats_refresh_log" violates check constraint '
    || '"stats_refresh_log_single_row"',
    'a second row is refused by a check constraint');
select throws_ok(
    $$insert into stats.stats_refresh_log (id) values (true)$$,
    '23505',
    'duplicate key value violates unique constraint "stats_refresh_log_pkey"',
    'the one row cannot be inserted twice');
select is(
    (select pg_get_indexdef('stats.stats_refresh_log_refreshed_at_idx'::regclass)),
    'CREATE INDEX stats_refresh_log_refreshed_at_idx ON stats.stats_refresh_log '
    || 'USING btree (refreshed_at DESC)',
    'stats_refresh_log is indexed on refreshed_at DESC');

-- ---------------------------------------------------------------------------------------------
-- the three tables: owner, RLS, no privilege for any API role
-- ---------------------------------------------------------------------------------------------
select has_table('stats', 'stats_refresh_failures', 'stats.stats_refresh_failures exists');
select columns_are('stats', 'stats_refresh_failures',
    array['id', 'occurred_at', 'source', 'sqlstate', 'message', 'detail', 'context', 'xact_id'],
    'stats_refresh_failures records time, SQLSTATE and message of each failure');
select has_table('stats', 'stats_refresh_pending', 'stats.stats_refresh_pending exists');
select columns_are('stats', 'stats_refresh_pending', array['xact_id', 'marked_at', 'reason'],
    'stats_refresh_pending records the transaction and why it did not refresh');
select is(
    (select array_agg(c.relname::text order by c.relname) from pg_class c
     where c.relnamespace = 'stats'::regnamespace and c.relkind = 'r'
       and c.relname like 'stats_refresh_%'
       and c.relowner = 'stats_owner'::regrole and c.relrowsecurity),
    array['stats_refresh_failures', 'stats_refresh_log', 'stats_refresh_pending'],
    'the three tables are owned by stats_owner and have RLS enabled');
select is(
    (select count(*)::int from pg_policies
     where schemaname = 'stats' and tablename like 'stats_refresh_%'),
    0, 'no policy opens them: only the owner (and roles that bypass RLS) reach their rows');
select ok(
    not exists (
        select
        from pg_class c, unnest(array['anon', 'authenticated', 'service_role']) r(role),
             unnest(array['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) p(priv)
        where c.relnamespace = 'stats'::regnamespace and c.relname like 'stats_refresh_%'
          and has_table_privilege(r.role, c.oid, p.priv)),
    'no API role holds any privilege on them or their sequence');
select ok(
    not exists (
        select from pg_class c, aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a
        where c.relnamespace = 'stats'::regnamespace and c.relname like 'stats_refresh_%'
          and a.grantee = 0),
    'PUBLIC holds no privilege on them');

-- ---------------------------------------------------------------------------------------------
-- the flush job and the comments
-- ---------------------------------------------------------------------------------------------
select is(
    (select array_agg((j.username, j.active)::text) from cron.job j
     where j.jobname = 'stats-refresh-flush'
       and j.command ~ ('v_wait := stats\.run_stats_refresh_flusher_round\(v_started, v_first\);'
                        '\s+commit;\s+exit when v_wait is null;\s+perform pg_catalog\.pg_sleep')),
    array['(postgres,t)'],
    'one pg_cron job runs the flusher''s rounds as postgres, committing after each and sleeping '
    'after the commit (V014)');
select is(
    (select j.schedule from cron.job j where j.jobname = 'stats-refresh-flush'), '* * * * *',
    'it starts every minute on every pg_cron version: each run fills its minute (V014)');
select is(
    (select array_agg(x.what order by x.what) from (
        select c.relname::text as what from pg_class c
        where c.relnamespace = 'stats'::regnamespace
          and c.relname in ('stats_refresh_log', 'stats_refresh_failures', 'stats_refresh_pending',
                            'stats_refresh_log_refreshed_at_idx')
          and obj_description(c.oid, 'pg_class') is null
        union all
        select p.proname::text from pg_proc p
        where p.pronamespace = 'stats'::regnamespace
          and p.proname in ('trg_refresh_stats_views', 'flush_stats_refresh', 'run_stats_refresh',
                            'configure_stats_refresh', 'expire_stats_refresh_window')
          and obj_description(p.oid, 'pg_proc') is null
        union all
        select t.tgname::text from pg_trigger t
        where t.tgname = 'trg_refresh_stats_views' and obj_description(t.oid, 'pg_trigger') is null
    ) x),
    null, 'every V007 table, index, function and the trigger carry a comment');
select is(
    (select array_agg(p.oid::regprocedure::text order by p.proname) from pg_proc p
     where p.pronamespace = 'stats'::regnamespace
       and (p.proname like '%stats_refresh%' or p.proname like '%refresh_stats%')),
    array['stats.configure_stats_refresh(interval,text)', 'stats.expire_stats_refresh_window()',
          'stats.flush_stats_refresh()', 'stats.run_stats_refresh(text)',
          'stats.run_stats_refresh_flusher_round(timestamp with time zone,boolean,timestamp with time zone)',
          'stats.trg_refresh_stats_views()'],
    'V007''s functions and V014''s round, each once: no stray overload');

-- V017: VACUUM never takes the ACCESS EXCLUSIVE lock of a relation of stats the read path reads
select is(
    (select array_agg(c.oid::regclass::text order by c.relname) from pg_class c
     where c.relnamespace = 'stats'::regnamespace and c.relkind in ('r', 'm')
       and 'vacuum_truncate=false' = any (c.reloptions)),
    array['stats.activity_month_summary', 'stats.activity_summary_changes',
          'stats.mv_activity_time_series', 'stats.mv_peer_mentor_stats',
          'stats.stats_refresh_log'],
    'VACUUM leaves the trailing pages of the views and of the tables the read path reads');
-- V019: and of the two tables of public it reads (the reliability suite finds them from the locks
-- a dashboard read takes)
select is(
    (select array_agg(format('%I.%I', n.nspname, c.relname) order by c.relname)
     from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = 'public' and c.relkind in ('r', 'm')
       and 'vacuum_truncate=false' = any (c.reloptions)),
    array['public.chapter_memberships', 'public.profiles'],
    'VACUUM leaves the trailing pages of profiles and chapter_memberships');

-- V018: every row of each view has a NULL, so REFRESH ... CONCURRENTLY's duplicate check, which
-- the unique key makes redundant, has no row to sort
select is(
    (select array_agg(a.attrelid::regclass::text || ':' || format_type(a.atttypid, a.atttypmod)
                      order by a.attrelid::regclass::text)
     from pg_attribute a
     where a.attname = 'no_duplicate_check' and not a.attisdropped
       and a.attrelid in ('stats.mv_peer_mentor_stats'::regclass,
                          'stats.mv_activity_time_series'::regclass)),
    array['stats.mv_activity_time_series:boolean', 'stats.mv_peer_mentor_stats:boolean'],
    'both views carry the column no_duplicate_check');
select is(
    (select count(*) from stats.mv_peer_mentor_stats where no_duplicate_check is not null)
    + (select count(*) from stats.mv_activity_time_series where no_duplicate_check is not null),
    0::bigint, 'no_duplicate_check is NULL in every row of both views');
select is(
    (select count(*) from information_schema.columns
     where table_schema = 'public' and column_name = 'no_duplicate_check'),
    0::bigint, 'and no read view shows it');

select * from finish();
rollback;
