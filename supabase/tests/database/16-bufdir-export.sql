-- The Bufdir export: the cases of expected.json, the alignment check (for every coordinator and
-- period, the export equals the statistics the dashboard shows, also when duplicates cross into
-- chapters the coordinator cannot see), bad periods, and the refusals.
begin;
\ir ../helpers/session.psql
\ir ../helpers/reference.psql
\ir ../helpers/refresh.psql
select plan(24);

select tests.refresh_stats();

-- ---------------------------------------------------------------------------------------------
-- the cases of expected.json
-- ---------------------------------------------------------------------------------------------
create function tests.export_case(p_case integer)
returns setof text
language plpgsql
as $$
declare
    v_case tests.export_cases;
begin
    select * into v_case from tests.export_cases where case_no = p_case;
    perform tests.authenticate_as(
        (select user_id from tests.ref_people where key = v_case.persona));
    return next is(
        (select coalesce(array_agg(format('%s/%s/%s/%s', e.chapter_id, e.activity_type_id,
                                          e.activity_count, e.total_minutes)
                                   order by e.chapter_id, e.activity_type_id), '{}')
         from public.bufdir_export(v_case.p_from, v_case.p_to, v_case.p_chapter_ids) e),
        (select coalesce(array_agg(format('%s/%s/%s/%s', x.chapter_id, x.activity_type_id,
                                          x.activity_count, x.total_minutes)
                                   order by x.chapter_id, x.activity_type_id), '{}')
         from tests.expected_export_rows x where x.case_no = p_case),
        format('export: %s', v_case.description));
    perform tests.clear_authentication();
end
$$;
select tests.export_case(case_no) from tests.export_cases order by case_no;

-- ---------------------------------------------------------------------------------------------
-- alignment: the export equals the statistics, for every coordinator and period
-- ---------------------------------------------------------------------------------------------
create function tests.export_alignment(p_persona text, p_data text)
returns setof text
language plpgsql
as $$
begin
    perform tests.authenticate_as((select user_id from tests.ref_people where key = p_persona));
    -- Every month the time series has, exported month by month, gives the same rows.
    return next is_empty($q$
        with exported as (
            select m.month, e.chapter_id, e.activity_type_id, e.activity_count, e.total_minutes
            from (select distinct month from public.activity_time_series) m
            cross join lateral public.bufdir_export(
                m.month, (m.month + interval '1 month' - interval '1 day')::date) e
        ),
        viewed as (
            select month, chapter_id, activity_type_id, activity_count, total_minutes
            from public.activity_time_series
        )
        (select * from exported except all select * from viewed)
        union all
        (select * from viewed except all select * from exported)
    $q$, format('%s (%s): the export of each month equals the time series', p_persona, p_data));
    -- Everything so far, per chapter, gives the totals of peer_mentor_stats.
    return next is_empty($q$
        with exported as (
            select chapter_id, sum(activity_count) as n, sum(total_minutes) as minutes
            from public.bufdir_export(date '2000-01-01', (now() at time zone 'Europe/Oslo')::date)
            group by chapter_id
        ),
        viewed as (
            select chapter_id, sum(activity_count) as n, sum(total_minutes) as minutes
            from public.peer_mentor_stats group by chapter_id
        )
        (select * from exported except all select * from viewed)
        union all
        (select * from viewed except all select * from exported)
    $q$, format('%s (%s): the export of everything so far equals peer_mentor_stats per chapter',
                p_persona, p_data));
    perform tests.clear_authentication();
end
$$;
select * from tests.export_alignment('coordinator_ab', 'reference dataset');
select * from tests.export_alignment('coordinator_five', 'reference dataset');

-- 3 000 random activities over 90 days from a few contacts: many duplicates, some across the
-- chapters of the mentors of two chapters, some cancelled, every kind.
select setseed(0.25);
insert into public.activities (peer_mentor_id, chapter_id, activity_type_id, activity_date,
                               duration_minutes, contact_ref, status)
select m.user_id, m.chapter_id, (1 + floor(random() * 5))::smallint,
       (now() at time zone 'Europe/Oslo')::date - floor(random() * 90)::integer,
       1 + floor(random() * 120)::integer,
       case when random() < 0.6 then 'R-' || floor(random() * 3)::integer end,
       case when random() < 0.1 then 'cancelled' else 'registered' end
from generate_series(1, 3000) g
cross join lateral (
    select user_id, chapter_id from public.chapter_memberships
    where member_role = 'peer_mentor' and g > 0
      and chapter_id in (select chapter_id from tests.ref_chapters)
    order by random() limit 1
) m;
select tests.refresh_stats();
-- Later duplicates whose first registration is in another chapter, found with a window: an
-- independent formulation of the rule, so it also checks that none of them counts.
create temporary view later_duplicates_elsewhere as
select d.id
from (
    select a.id, a.chapter_id,
           first_value(a.chapter_id) over w as first_chapter,
           row_number() over w as position
    from public.activities a
    where a.status = 'registered' and a.contact_ref is not null
      and a.activity_type_id in (select id from public.activity_types where counts_for_bufdir)
    window w as (partition by a.peer_mentor_id, a.activity_type_id, a.activity_date, a.contact_ref
                 order by a.id)
) d
where d.position > 1 and d.chapter_id <> d.first_chapter;
select cmp_ok((select count(*) from later_duplicates_elsewhere), '>', 10::bigint,
    'the random activities include duplicates whose first registration is in another chapter');
select is_empty(
    'select id from later_duplicates_elsewhere intersect select id from stats.counted_activities',
    'none of them counts');
select * from tests.export_alignment('coordinator_ab', 'random activities');
select * from tests.export_alignment('coordinator_five', 'random activities');

-- ---------------------------------------------------------------------------------------------
-- bad periods and refusals
-- ---------------------------------------------------------------------------------------------
select tests.authenticate_as_email('coordinator.ab@example.org');
select throws_ok($$select * from public.bufdir_export('2026-02-01', '2026-01-01')$$, '22023',
    'bufdir_export: p_from (2026-02-01) is after p_to (2026-01-01)',
    'a period that ends before it starts is refused');
select throws_ok($$select * from public.bufdir_export(null, '2026-01-01')$$, '22023',
    'bufdir_export needs both p_from and p_to', 'a period without a start is refused');
select is((select count(*) from public.bufdir_export('2000-01-01', '2100-01-01', '{}')),
    0::bigint, 'an empty list of chapters exports nothing');
select tests.clear_authentication();

select tests.authenticate_as_anon();
select throws_ok($$select * from public.bufdir_export('2000-01-01', '2100-01-01')$$, '42501',
    'permission denied for function bufdir_export', 'anon cannot export');
select tests.clear_authentication();

select tests.authenticate_as_service_role();
select throws_ok($$select * from public.bufdir_export('2000-01-01', '2100-01-01')$$, '42501',
    'permission denied for function bufdir_export',
    'service_role cannot export: it coordinates nothing');
select tests.clear_authentication();

select * from finish();
rollback;
