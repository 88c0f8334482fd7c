-- What a signed-in user can learn of others (V016, docs/threat-model.md): a peer mentor's time
-- series holds only their own figures, so no colleague's activity can be read off it; coordinators
-- keep their chapters' totals; registering an activity for someone who is not a peer mentor of the
-- chapter is refused alike whether the id is a user or not; and the descriptions PostgREST
-- publishes name none of the internals.
begin;
\ir ../helpers/session.psql
\ir ../helpers/reference.psql
\ir ../helpers/refresh.psql
select plan(15);

select tests.refresh_stats();

-- A caller's own counted activities per chapter, month and kind, as the time series shows them.
create function tests.own_series(p_user uuid)
returns table (chapter_id uuid, month date, activity_type_id smallint, activity_count bigint,
               total_minutes bigint, active_mentors bigint)
language sql
as $$
    select c.chapter_id, date_trunc('month', c.activity_date::timestamp)::date,
           c.activity_type_id, count(*), sum(c.duration_minutes)::bigint, 1::bigint
    from stats.counted_activities c
    where c.peer_mentor_id = p_user
    group by 1, 2, 3
$$;

-- ---------------------------------------------------------------------------------------------
-- a peer mentor's series is their own
-- ---------------------------------------------------------------------------------------------
select tests.authenticate_as_email('mentor.a@example.org');
create temporary table seen_by_mentor_a as select * from public.activity_time_series;
select tests.clear_authentication();
select set_eq('select * from seen_by_mentor_a',
    $$select * from tests.own_series('a0000000-0000-4000-8000-000000000001')$$,
    'mentor_a''s time series is exactly their own counted activities');
select is(
    (select count(*)::int from seen_by_mentor_a s
     where not exists (select from tests.own_series('a0000000-0000-4000-8000-000000000001') o
                       where o.month = s.month and o.activity_type_id = s.activity_type_id)),
    0, 'no month or kind appears in which they had no counted activity (a colleague''s)');
select ok(
    (select count(*) > 0 from tests.own_series('a0000000-0000-4000-8000-000000000005')),
    'while their colleague in chapter A, mentor_a2, has counted activities of their own');
select ok(
    (select bool_and(s.activity_count = o.activity_count)
     from seen_by_mentor_a s
     join stats.mv_activity_time_series t using (chapter_id, month, activity_type_id)
     join tests.own_series('a0000000-0000-4000-8000-000000000001') o
         using (chapter_id, month, activity_type_id))
    and exists (
        select from stats.mv_activity_time_series t
        where t.chapter_id = 'c0000000-0000-4000-8000-00000000000a' and t.active_mentors = 2),
    'a month both mentors were active shows mentor_a only their own count, so nothing is left '
    'to subtract');

select tests.authenticate_as_email('mentor.bc@example.org');
create temporary table seen_by_mentor_bc as select * from public.activity_time_series;
select tests.clear_authentication();
select set_eq('select * from seen_by_mentor_bc',
    $$select * from tests.own_series('a0000000-0000-4000-8000-000000000002')$$,
    'a peer mentor of two chapters reads their own figures in each');

-- ---------------------------------------------------------------------------------------------
-- coordinators keep their chapters' series
-- ---------------------------------------------------------------------------------------------
select tests.authenticate_as_email('coordinator.ab@example.org');
create temporary table seen_by_coordinator_ab as select * from public.activity_time_series;
select tests.clear_authentication();
select set_eq('select * from seen_by_coordinator_ab',
    $$select chapter_id, month, activity_type_id, activity_count, total_minutes, active_mentors
      from stats.mv_activity_time_series
      where chapter_id in ('c0000000-0000-4000-8000-00000000000a',
                           'c0000000-0000-4000-8000-00000000000b')$$,
    'the coordinator of A and B reads both chapters'' totals, every mentor''s included');

-- A user who coordinates one chapter and is a peer mentor of another: the totals of the one, their
-- own figures in the other. And where they are both, the chapter's totals.
insert into public.chapter_memberships (user_id, chapter_id, member_role)
values ('a0000000-0000-4000-8000-000000000001', 'c0000000-0000-4000-8000-00000000000d',
        'coordinator');
select tests.authenticate_as_email('mentor.a@example.org');
create temporary table seen_by_mixed as select * from public.activity_time_series;
select tests.clear_authentication();
select bag_eq('select * from seen_by_mixed',
    $$select chapter_id, month, activity_type_id, activity_count, total_minutes, active_mentors
      from stats.mv_activity_time_series
      where chapter_id = 'c0000000-0000-4000-8000-00000000000d'
      union all
      select * from tests.own_series('a0000000-0000-4000-8000-000000000001')$$,
    'mentor_a made coordinator of D reads D''s totals and still only their own figures in A');
insert into public.chapter_memberships (user_id, chapter_id, member_role)
values ('a0000000-0000-4000-8000-000000000001', 'c0000000-0000-4000-8000-00000000000a',
        'coordinator');
select tests.authenticate_as_email('mentor.a@example.org');
create temporary table seen_by_both as select * from public.activity_time_series;
select tests.clear_authentication();
select bag_eq('select * from seen_by_both',
    $$select chapter_id, month, activity_type_id, activity_count, total_minutes, active_mentors
      from stats.mv_activity_time_series
      where chapter_id in ('c0000000-0000-4000-8000-00000000000a',
                           'c0000000-0000-4000-8000-00000000000d')$$,
    'and made coordinator of A as well, A''s totals, each month once');
delete from public.chapter_memberships
where user_id = 'a0000000-0000-4000-8000-000000000001' and member_role = 'coordinator';

-- ---------------------------------------------------------------------------------------------
-- no user-existence oracle
-- ---------------------------------------------------------------------------------------------
create function tests.register_in_a_for(p_mentor uuid)
returns text
language sql
as $$
    select format(
        'insert into public.activities (peer_mentor_id, chapter_id, activity_type_id, '
        'activity_date, duration_minutes) values (%L, ''c0000000-0000-4000-8000-00000000000a'', '
        '1, (now() at time zone ''Europe/Oslo'')::date, 30)', p_mentor)
$$;

select tests.authenticate_as_email('coordinator.ab@example.org');
select throws_ok(tests.register_in_a_for('a0000000-0000-4000-8000-0000000000ee'), '23503',
    'insert or update on table "activities" violates foreign key constraint '
    '"activities_peer_mentor_membership_fkey"',
    'a coordinator registering for an id that is no user is refused by the membership key');
select throws_ok(tests.register_in_a_for('a0000000-0000-4000-8000-000000000006'), '23503',
    'insert or update on table "activities" violates foreign key constraint '
    '"activities_peer_mentor_membership_fkey"',
    'so is one for a peer mentor of another chapter');
select throws_ok(tests.register_in_a_for('a0000000-0000-4000-8000-000000000009'), '23503',
    'insert or update on table "activities" violates foreign key constraint '
    '"activities_peer_mentor_membership_fkey"',
    'and one for a user of no chapter');
select throws_ok(tests.register_in_a_for('a0000000-0000-4000-8000-000000000003'), '23503',
    'insert or update on table "activities" violates foreign key constraint '
    '"activities_peer_mentor_membership_fkey"',
    'and one for themselves, a coordinator but no peer mentor');

select tests.authenticate_as_email('mentor.a@example.org');
select throws_ok(tests.register_in_a_for('a0000000-0000-4000-8000-0000000000ee'), '42501',
    'new row violates row-level security policy for table "activities"',
    'a peer mentor registering for an id that is no user is refused by the policy');
select throws_ok(tests.register_in_a_for('a0000000-0000-4000-8000-000000000005'), '42501',
    'new row violates row-level security policy for table "activities"',
    'exactly as for their colleague');
select tests.clear_authentication();

-- ---------------------------------------------------------------------------------------------
-- what the API's OpenAPI document says
-- ---------------------------------------------------------------------------------------------
select is(
    (select array_agg(x.what order by x.what) from (
        select c.oid::regclass::text as what, obj_description(c.oid, 'pg_class') as text
        from pg_class c
        where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'v', 'm')
        union all
        select c.oid::regclass::text || '.' || a.attname, col_description(c.oid, a.attnum)
        from pg_class c join pg_attribute a on a.attrelid = c.oid and a.attnum > 0
        where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'v', 'm')
        union all
        select p.oid::regprocedure::text, obj_description(p.oid, 'pg_proc')
        from pg_proc p where p.pronamespace = 'public'::regnamespace
    ) x
    where x.text ~* '(stats|private|cron|auth|extensions)\.|trigger|materiali[sz]ed|security definer'),
    null,
    'no description PostgREST publishes names an internal schema, a trigger or a materialized view');

select * from finish();
rollback;
