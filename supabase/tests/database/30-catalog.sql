-- Catalog-wide rules over every function and trigger of public, private and stats, so that an
-- object a later migration adds is held to them without a test of its own: each function pins its
-- search_path; EXECUTE reaches PUBLIC, anon and authenticated only where the allow-list below says
-- so; the triggers on public.activities fire in the order the summary and the refresh rely on.
begin;
\ir ../helpers/session.psql
select plan(10);

-- ---------------------------------------------------------------------------------------------
-- every function pins its search_path
-- ---------------------------------------------------------------------------------------------
-- A function that resolves names through the caller's search_path runs whatever the caller's
-- schemas put first, with the function's rights when it is SECURITY DEFINER. No exception today.
select cmp_ok(
    (select count(*)::int from pg_proc p
     where p.pronamespace::regnamespace::text in ('public', 'private', 'stats')
       and p.prokind in ('f', 'p')),
    '>', 0, 'the project''s schemas hold functions to check');
select is_empty(
    $$select p.oid::regprocedure::text from pg_proc p
      where p.pronamespace::regnamespace::text in ('public', 'private', 'stats')
        and p.prokind in ('f', 'p')
        and not exists (select from unnest(p.proconfig) c where c like 'search\_path=%')$$,
    'every function and procedure of public, private and stats pins its search_path');

-- ---------------------------------------------------------------------------------------------
-- EXECUTE for the API roles only where allowed
-- ---------------------------------------------------------------------------------------------
-- PostgreSQL grants EXECUTE to PUBLIC on every new function, and Supabase's default privileges
-- grant it to anon and authenticated in public; each migration revokes it by name. What a
-- signed-in user may call: the read path's row sources and the Bufdir export (each answers only
-- for auth.uid()), and the membership lookup the policies call.
select set_eq(
    $$select p.oid::regprocedure from pg_proc p
      where p.pronamespace::regnamespace::text in ('public', 'private', 'stats')
        and has_function_privilege('authenticated', p.oid, 'EXECUTE')$$,
    $$values ('private.member_chapter_ids(text)'::regprocedure),
             ('private.peer_mentor_stats_rows()'::regprocedure),
             ('private.activity_time_series_rows()'::regprocedure),
             ('private.bufdir_export_rows(date, date, uuid[])'::regprocedure),
             ('private.stats_freshness_row()'::regprocedure),
             ('public.bufdir_export(date, date, uuid[])'::regprocedure)$$,
    'authenticated may execute the allow-listed functions of public, private and stats, no other');
select is_empty(
    $$select p.oid::regprocedure::text from pg_proc p
      where p.pronamespace::regnamespace::text in ('public', 'private', 'stats')
        and has_function_privilege('anon', p.oid, 'EXECUTE')$$,
    'anon may execute no function of public, private and stats');
-- A NULL proacl means the default ACL, which includes EXECUTE for PUBLIC.
select is_empty(
    $$select p.oid::regprocedure::text from pg_proc p
      cross join lateral aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
      where p.pronamespace::regnamespace::text in ('public', 'private', 'stats')
        and a.grantee = 0 and a.privilege_type = 'EXECUTE'$$,
    'PUBLIC holds EXECUTE on no function of public, private and stats');

-- ---------------------------------------------------------------------------------------------
-- the order in which the triggers on public.activities fire
-- ---------------------------------------------------------------------------------------------
-- PostgreSQL fires the triggers of one event and timing in the order of their names (byte order,
-- as collation "C" sorts). V009's logging triggers (trg_activity_summary_*) write the statement's
-- changed groups to stats.activity_summary_changes at its first AFTER ROW event. V007's
-- trg_refresh_stats_views is a constraint trigger, an AFTER ROW trigger too: deferred, it runs at
-- COMMIT; but a transaction that sets it IMMEDIATE runs it among the statement's own row events.
-- Only because "trg_activity_summary_" sorts before "trg_refresh_stats_views" is the log written
-- before that refresh reads it; renamed, the refresh would miss the statement's own change.
-- Internal triggers (the foreign keys' "RI_ConstraintTrigger_..." checks, named by OID) sort
-- before every name in lower case and are left out.
create function tests.after_row_triggers(p_event_bit integer)
returns setof text
language sql
as $$
    -- tgtype bits: 1 row, 2 before, 64 instead of; 4 insert, 8 delete, 16 update
    select t.tgname::text
    from pg_trigger t
    where t.tgrelid = 'public.activities'::regclass
      and not t.tgisinternal
      and t.tgenabled in ('O', 'A')
      and t.tgtype & 1 = 1
      and t.tgtype & (2 | 64) = 0
      and t.tgtype & p_event_bit <> 0
    order by t.tgname collate "C"
$$;

select results_eq(
    $$select * from tests.after_row_triggers(4)$$,
    $$values ('trg_activity_summary_insert'), ('trg_refresh_stats_views')$$,
    'after each inserted row: the summary''s log, then the refresh');
select results_eq(
    $$select * from tests.after_row_triggers(16)$$,
    $$values ('trg_activity_summary_update'), ('trg_refresh_stats_views')$$,
    'after each updated row: the summary''s log, then the refresh');
select results_eq(
    $$select * from tests.after_row_triggers(8)$$,
    $$values ('trg_activity_summary_delete'), ('trg_refresh_stats_views')$$,
    'after each deleted row: the summary''s log, then the refresh');
select results_eq(
    $$select t.tgname::text collate "default", t.tgdeferrable, t.tginitdeferred
      from pg_trigger t
      where t.tgrelid = 'public.activities'::regclass and not t.tgisinternal
        and t.tgconstraint <> 0
      order by t.tgname collate "C"$$,
    $$values ('trg_refresh_stats_views', true, true)$$,
    'the one constraint trigger on activities is the refresh, deferrable and initially deferred');
-- The same rule by what the triggers run rather than by their names, so that it holds whatever a
-- later migration renames.
select is_empty(
    $$select format('%s does not sort before %s', l.tgname, r.tgname)
      from pg_trigger l
      join pg_trigger r on r.tgrelid = l.tgrelid
      where l.tgrelid = 'public.activities'::regclass
        and l.tgfoid = 'stats.trg_log_activity_summary_changes()'::regprocedure
        and r.tgfoid = 'stats.trg_refresh_stats_views()'::regprocedure
        and not l.tgname < r.tgname collate "C"$$,
    'every trigger that logs the summary''s changes sorts before every trigger that refreshes');

select * from finish();
rollback;
