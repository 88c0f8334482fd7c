-- The per-month summary the stats views read (V009): after every kind of change, applying the
-- change log leaves stats.activity_month_summary equal to a fresh aggregate of
-- stats.counted_activities (inserts, an update into another month, the earliest duplicate deleted,
-- a cancellation, a kind that stops counting, a TRUNCATE); writers only append to the change log;
-- no API role reads either table; both views computed from the summary equal the counting
-- definition's aggregate.
begin;
\ir ../helpers/session.psql
\ir ../helpers/refresh.psql
select plan(34);

select tests.create_test_mentor(
    'c2500000-0000-4000-8000-000000000001', 'a2500000-0000-4000-8000-000000000001',
    'Summary');

-- Rows of the summary that a fresh aggregate of the counting definition does not have, and the
-- other way round.
create function tests.summary_diff()
returns bigint
language sql
as $$
    with fresh as (
        select c.chapter_id, c.peer_mentor_id, c.activity_type_id,
               date_trunc('month', c.activity_date::timestamp)::date as month,
               count(*)::integer as activity_count, sum(c.duration_minutes)::integer as minutes,
               max(c.activity_date) as last_date
        from stats.counted_activities c
        group by 1, 2, 3, 4
    ), summary as (
        select s.chapter_id, s.peer_mentor_id, s.activity_type_id, s.month, s.activity_count,
               s.total_minutes, s.last_activity_date
        from stats.activity_month_summary s
    )
    select (select count(*) from (select * from fresh except all select * from summary) d)
         + (select count(*) from (select * from summary except all select * from fresh) d)
$$;

-- The test mentor's counted activities according to the summary.
create function tests.mentor_summary_count()
returns bigint
language sql
as $$
    select coalesce(sum(activity_count), 0)::bigint
    from stats.activity_month_summary
    where peer_mentor_id = 'a2500000-0000-4000-8000-000000000001'
$$;

create function tests.summary_rows()
returns text
language sql
as $$
    select coalesce(string_agg(s::text, ';' order by s::text), '')
    from stats.activity_month_summary s
$$;

-- ---------------------------------------------------------------------------------------------
-- Shape and privileges
-- ---------------------------------------------------------------------------------------------

select has_table('stats', 'activity_month_summary', 'the summary exists');
select has_table('stats', 'activity_summary_changes', 'the change log exists');
select col_is_pk('stats', 'activity_month_summary',
    array['peer_mentor_id', 'activity_type_id', 'month', 'chapter_id'],
    'the summary''s key leads with mentor, kind and month');
select is_empty(
    $$select conname from pg_constraint
      where conrelid = 'stats.activity_summary_changes'::regclass and contype in ('p', 'u')$$,
    'the change log has no unique key: writers never wait on each other');
select is(
    (select string_agg(relname || ':' || relowner::regrole::text || ':' || relrowsecurity::text,
                       ',' order by relname)
     from pg_class
     where oid in ('stats.activity_month_summary'::regclass,
                   'stats.activity_summary_changes'::regclass)),
    'activity_month_summary:stats_owner:true,activity_summary_changes:stats_owner:true',
    'both tables belong to stats_owner and have row-level security enabled');
select is(
    (select count(*)
     from pg_class c
     cross join lateral aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a
     where c.oid in ('stats.activity_month_summary'::regclass,
                     'stats.activity_summary_changes'::regclass)
       and (a.grantee = 0
            or a.grantee in (select oid from pg_roles
                             where rolname in ('anon', 'authenticated', 'service_role')))),
    0::bigint,
    'no API role (nor PUBLIC) holds any privilege on the summary or its change log');
select is(
    (select count(*)
     from pg_proc p
     cross join (values ('anon'), ('authenticated'), ('service_role')) r(role)
     where p.oid in ('stats.apply_activity_summary_changes()'::regprocedure,
                     'stats.trg_log_activity_summary_changes()'::regprocedure,
                     'stats.trg_log_activity_type_summary_changes()'::regprocedure,
                     'stats.trg_truncate_activity_summary()'::regprocedure)
       and has_function_privilege(r.role, p.oid, 'EXECUTE')),
    0::bigint,
    'no API role may execute V009''s functions');
select is(
    (select string_agg(p.proname || ':' || p.proowner::regrole::text || ':'
                       || array_to_string(p.proconfig, '|'), ',' order by p.proname)
     from pg_proc p
     where p.oid in ('stats.apply_activity_summary_changes()'::regprocedure,
                     'stats.trg_log_activity_summary_changes()'::regprocedure,
                     'stats.trg_truncate_activity_summary()'::regprocedure)),
    'apply_activity_summary_changes:stats_owner:search_path=""|jit=off|work_mem=64MB,'
    || 'trg_log_activity_summary_changes:stats_owner:search_path="",'
    || 'trg_truncate_activity_summary:stats_owner:search_path=""',
    'the functions belong to stats_owner and pin search_path');

select tests.authenticate_as('a2500000-0000-4000-8000-000000000001');
select throws_ok($$select count(*) from stats.activity_month_summary$$, '42501', null,
    'a signed-in user cannot read the summary');
select throws_ok($$select count(*) from stats.activity_summary_changes$$, '42501', null,
    'a signed-in user cannot read the change log');
select tests.authenticate_as_anon();
select throws_ok($$select count(*) from stats.activity_month_summary$$, '42501', null,
    'anon cannot read the summary');
select tests.authenticate_as_service_role();
select throws_ok($$select count(*) from stats.activity_month_summary$$, '42501', null,
    'service_role cannot read the summary');
select tests.clear_authentication();

-- ---------------------------------------------------------------------------------------------
-- TRUNCATE
-- ---------------------------------------------------------------------------------------------

-- First, while no deferred trigger event of this transaction is pending (TRUNCATE refuses
-- then); undone at once.
savepoint before_truncate;
insert into stats.activity_summary_changes values
    ('a2500000-0000-4000-8000-000000000001', 1, date_trunc('month', now())::date);
truncate public.activities;
select is(
    (select count(*) from stats.activity_month_summary)
    + (select count(*) from stats.activity_summary_changes),
    0::bigint,
    'a TRUNCATE of activities empties the summary and its change log');
rollback to savepoint before_truncate;

-- ---------------------------------------------------------------------------------------------
-- Writers append to the log and never write the summary
-- ---------------------------------------------------------------------------------------------

select stats.apply_activity_summary_changes();
select is(tests.summary_diff(), 0::bigint, 'the summary starts equal to a fresh aggregate');
select is((select count(*) from stats.activity_summary_changes), 0::bigint,
    'applying empties the change log');

create temporary table summary_before as
select tests.summary_rows() as rows,
       (select n_tup_ins + n_tup_upd + n_tup_del from pg_stat_xact_user_tables
        where relid = 'stats.activity_month_summary'::regclass) as writes;
select tests.authenticate_as('a2500000-0000-4000-8000-000000000001');
select tests.add_activities(3);
select tests.clear_authentication();
select is(tests.summary_rows(), (select rows from summary_before),
    'a mentor''s insert leaves the summary untouched');
select is(
    (select count(*) from stats.activity_summary_changes
     where peer_mentor_id = 'a2500000-0000-4000-8000-000000000001'),
    1::bigint,
    'a 3-row insert logs its one (mentor, kind, month) group once');
select is(
    (select n_tup_ins + n_tup_upd + n_tup_del from pg_stat_xact_user_tables
     where relid = 'stats.activity_month_summary'::regclass),
    (select writes from summary_before),
    'the insert wrote no row of the summary');

select stats.apply_activity_summary_changes();
select is(tests.summary_diff(), 0::bigint, 'after inserts the summary equals a fresh aggregate');
select is(tests.mentor_summary_count(), 3::bigint, 'the three activities count');

-- ---------------------------------------------------------------------------------------------
-- Corrections
-- ---------------------------------------------------------------------------------------------

-- 40 days earlier is always another month.
update public.activities set activity_date = activity_date - 40
where id = (select max(id) from public.activities
            where peer_mentor_id = 'a2500000-0000-4000-8000-000000000001');
select is(
    (select count(*) from stats.activity_summary_changes
     where peer_mentor_id = 'a2500000-0000-4000-8000-000000000001'),
    2::bigint,
    'an update into another month logs the old and the new group');
select stats.apply_activity_summary_changes();
select is(tests.summary_diff(), 0::bigint,
    'after an update into another month the summary equals a fresh aggregate');
select is(
    (select count(*) from stats.activity_month_summary
     where peer_mentor_id = 'a2500000-0000-4000-8000-000000000001'),
    2::bigint,
    'the mentor now has two months');

-- Two registrations of the same contact on the same day: only the earliest counts.
insert into public.activities (peer_mentor_id, chapter_id, activity_type_id, activity_date,
                               duration_minutes, contact_ref)
select 'a2500000-0000-4000-8000-000000000001', 'c2500000-0000-4000-8000-000000000001',
       (select min(id) from public.activity_types where counts_for_bufdir),
       (now() at time zone 'Europe/Oslo')::date - 2, m, 'summary-dup'
from (values (10), (20)) v(m);
select stats.apply_activity_summary_changes();
select is(tests.summary_diff(), 0::bigint,
    'after inserting duplicates the summary equals a fresh aggregate');
select is(tests.mentor_summary_count(), 4::bigint, 'of the two duplicates one counts');

delete from public.activities
where id = (select min(id) from public.activities where contact_ref = 'summary-dup');
select stats.apply_activity_summary_changes();
select is(tests.summary_diff(), 0::bigint,
    'after deleting the earliest duplicate the summary equals a fresh aggregate');
select is(tests.mentor_summary_count(), 4::bigint, 'the next duplicate counts instead');
select is(
    (select sum(total_minutes) from stats.activity_month_summary
     where peer_mentor_id = 'a2500000-0000-4000-8000-000000000001')::bigint,
    3 * 30 + 20::bigint,
    'with its own minutes');

update public.activities set status = 'cancelled'
where id = (select min(id) from public.activities
            where peer_mentor_id = 'a2500000-0000-4000-8000-000000000001');
select stats.apply_activity_summary_changes();
select is(tests.summary_diff(), 0::bigint,
    'after a cancellation the summary equals a fresh aggregate');
select is(tests.mentor_summary_count(), 3::bigint, 'the cancelled activity no longer counts');

-- A kind that stops counting takes every group of that kind out.
update public.activity_types set counts_for_bufdir = false
where id = (select min(id) from public.activity_types where counts_for_bufdir);
select stats.apply_activity_summary_changes();
select is(tests.summary_diff(), 0::bigint,
    'after a kind stops counting the summary equals a fresh aggregate');
select is(tests.mentor_summary_count(), 0::bigint, 'the mentor''s kind no longer counts');

-- ---------------------------------------------------------------------------------------------
-- The views, computed from the summary
-- ---------------------------------------------------------------------------------------------

select tests.refresh_stats();
select * from tests.stats_views_equal_definition('computed from the summary');

select * from finish();
rollback;
