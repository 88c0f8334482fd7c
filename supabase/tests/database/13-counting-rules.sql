-- The Bufdir counting rules (decision D10): stats.counted_activities on the reference dataset
-- equals expected.json, each rule holds when the data changes, and it is the one definition both
-- materialized views and the export read.
begin;
\ir ../helpers/session.psql
\ir ../helpers/reference.psql
select plan(20);

create function tests.counts(p_id bigint)
returns boolean
language sql
stable
as $$ select exists (select from stats.counted_activities c where c.id = p_id) $$;

-- ---------------------------------------------------------------------------------------------
-- the reference dataset
-- ---------------------------------------------------------------------------------------------
select set_eq(
    'select id from stats.counted_activities where id <= 33',
    $$select id from public.activities where id <= 33
      except select activity_id from tests.expected_not_counted$$,
    'of the reference activities (ids 1-33), exactly those expected.json does not exclude count');
select is((select count(*) from stats.counted_activities where id <= 33), 21::bigint,
    '21 of the 33 reference activities count');

-- ---------------------------------------------------------------------------------------------
-- each rule, shown by changing the data
-- ---------------------------------------------------------------------------------------------
select ok(tests.counts(4) and tests.counts(5),
    'two identical calls without a contact_ref both count: no contact, no duplicate');
select ok(tests.counts(13) and not tests.counts(14),
    'a duplicate registered later under another chapter does not count; the first does');

update public.activities set status = 'cancelled' where id = 1;
select ok(not tests.counts(1) and tests.counts(2),
    'cancelling the first of two duplicates makes the second count');
update public.activities set status = 'registered' where id = 1;
select ok(tests.counts(1) and not tests.counts(2), 'registering it again restores the first');

delete from public.activities where id = 22;
select ok(tests.counts(23) and not tests.counts(24),
    'deleting the first of three duplicates makes the second count, not the third');

update public.activity_types set counts_for_bufdir = true where code = 'training';
select ok(tests.counts(18), 'an activity counts as soon as its kind counts for Bufdir');
update public.activity_types set counts_for_bufdir = false where code = 'visit';
select is((select count(*) from stats.counted_activities c
           join public.activity_types t on t.id = c.activity_type_id where t.code = 'visit'),
    0::bigint, 'and no activity counts once its kind does not');
update public.activity_types set counts_for_bufdir = true where code = 'visit';
update public.activity_types set counts_for_bufdir = false where code = 'training';

insert into public.activities (peer_mentor_id, chapter_id, activity_type_id, activity_date,
                               duration_minutes, contact_ref)
select a.peer_mentor_id, 'c0000000-0000-4000-8000-00000000000b', a.activity_type_id,
       a.activity_date, 10, a.contact_ref
from public.activities a where a.id = 13;
select ok(not tests.counts((select max(id) from public.activities)),
    'a later duplicate never counts, whichever chapter it is registered under');

insert into public.activities (peer_mentor_id, chapter_id, activity_type_id, activity_date,
                               duration_minutes, contact_ref)
select a.peer_mentor_id, a.chapter_id, a.activity_type_id, a.activity_date, 10,
       lower(a.contact_ref)
from public.activities a where a.id = 1;
select ok(tests.counts((select max(id) from public.activities)),
    'contact references are compared exactly: k-101 is another contact than K-101');

insert into public.activities (peer_mentor_id, chapter_id, activity_type_id, activity_date,
                               duration_minutes, contact_ref)
select a.peer_mentor_id, a.chapter_id, a.activity_type_id, a.activity_date - 1, 10, a.contact_ref
from public.activities a where a.id = 1;
select ok(tests.counts((select max(id) from public.activities)),
    'the same contact on another day is another activity');

-- ---------------------------------------------------------------------------------------------
-- one definition for the statistics and the export
-- ---------------------------------------------------------------------------------------------
-- A view counts with the definition when its query names it, or calls a function of stats that
-- does (a later migration may move a view's query into such a function), or that reads what one
-- that does keeps (V009: the views' functions read stats.activity_month_summary, which only
-- stats.apply_activity_summary_changes() writes, from the definition).
create function tests.counts_with_definition(p_view regclass)
returns boolean
language sql
stable
as $$
    select pg_get_viewdef(p_view) ~ 'stats\.counted_activities'
        or exists (
            select from pg_proc p
            where p.pronamespace = 'stats'::regnamespace
              and pg_get_viewdef(p_view) ~ ('stats\.' || p.proname || '\(')
              and (p.prosrc ~ 'stats\.counted_activities'
                   or exists (
                       select from pg_proc q
                       where q.pronamespace = 'stats'::regnamespace
                         and p.prosrc ~ ('stats\.' || q.proname || '\(')
                         and q.prosrc ~ 'stats\.counted_activities'))
        )
$$;
select ok(tests.counts_with_definition('stats.mv_peer_mentor_stats'),
    'mv_peer_mentor_stats counts with stats.counted_activities');
select doesnt_match(pg_get_viewdef('stats.mv_peer_mentor_stats'),
    'public\.activities|activity_types|counts_for_bufdir|status|contact_ref',
    'and repeats none of its rules');
select ok(tests.counts_with_definition('stats.mv_activity_time_series'),
    'mv_activity_time_series counts with stats.counted_activities');
select doesnt_match(pg_get_viewdef('stats.mv_activity_time_series'),
    'public\.activities|activity_types|counts_for_bufdir|status|contact_ref',
    'and repeats none of its rules');
select matches(
    (select prosrc from pg_proc
     where oid = 'public.bufdir_export(date, date, uuid[])'::regprocedure),
    'from private\.bufdir_export_rows\(',
    'the Bufdir export returns the rows of private.bufdir_export_rows()');
select matches(
    (select prosrc from pg_proc
     where oid = 'private.bufdir_export_rows(date, date, uuid[])'::regprocedure),
    'from stats\.counted_activities',
    'which reads stats.counted_activities');
select doesnt_match(
    (select prosrc from pg_proc
     where oid = 'private.bufdir_export_rows(date, date, uuid[])'::regprocedure),
    'public\.activities|counts_for_bufdir|status|contact_ref',
    'and repeats none of its rules');
select is(
    (select array_agg(distinct d.refobjid::regclass::text)
     from pg_depend d join pg_rewrite r on r.oid = d.objid
     where r.ev_class = 'stats.counted_activities'::regclass and d.refobjid <> r.ev_class
       and d.classid = 'pg_rewrite'::regclass and d.refclassid = 'pg_class'::regclass),
    array['activities', 'activity_types'],
    'the definition reads only activities and activity_types');

select * from finish();
rollback;
