-- The current month's figures at the turn of a month (V015): public.peer_mentor_stats decides the
-- current month when it is read, from one clock (private.current_month_start()), so the figures are
-- right on the first of a month without any write or refresh. The clock is moved by replacing that
-- function inside this test's transaction; the views and their last refresh stay as they are.
begin;
\ir ../helpers/session.psql
\ir ../helpers/reference.psql
\ir ../helpers/refresh.psql
select plan(8);

select tests.refresh_stats();

-- Europe/Oslo's calendar: UTC+1 in winter, UTC+2 in summer.
select is(private.oslo_month_start('2027-01-31 22:59:59+00'), '2027-01-01'::date,
    '23:59:59 on 31 January in Oslo is still January');
select is(private.oslo_month_start('2027-01-31 23:00:00+00'), '2027-02-01'::date,
    'midnight in Oslo (23:00 UTC in winter) starts February');
select is(private.oslo_month_start('2027-06-30 22:00:00+00'), '2027-07-01'::date,
    'midnight in Oslo (22:00 UTC in summer) starts July');
select is(private.current_month_start(), private.oslo_month_start(now()),
    'the read path''s clock is now, in Oslo');

-- The clock the read path sees, moved to the given instant (for the rest of the transaction).
create function tests.move_clock_to(p_at timestamptz)
returns void
language plpgsql
as $$
begin
    execute format(
        'create or replace function private.current_month_start() returns date language sql '
        'stable set search_path = '''' as $f$ select private.oslo_month_start(%L) $f$', p_at);
end
$$;

-- The current-month counts in p_rows by chapter letter (only the letters p_letters, when given):
-- the caller's rows of public.peer_mentor_stats, or expected.json's (its tests. table).
create function tests.current_month_counts(
    p_rows regclass default 'public.peer_mentor_stats', p_letters text[] default null)
returns text
language plpgsql
as $$
declare
    v_counts text;
begin
    execute format(
        'select string_agg(l.letter || '':'' || s.current_month_count, '','' '
        '                  order by l.letter, s.current_month_count) '
        'from %s s join tests.ref_chapters l on l.chapter_id = s.chapter_id '
        'where $1 is null or l.letter = any($1)', p_rows)
    into v_counts using p_letters;
    return v_counts;
end
$$;

select tests.authenticate_as_email('coordinator.ab@example.org');
select is(tests.current_month_counts(),
    tests.current_month_counts('tests.expected_peer_mentor_stats', array['A', 'B']),
    'today, the coordinator of A and B reads expected.json''s current-month counts');

select tests.clear_authentication();
select tests.move_clock_to(
    ((date_trunc('month', now() at time zone 'Europe/Oslo') + interval '1 month')::timestamp
     at time zone 'Europe/Oslo'));
select tests.authenticate_as_email('coordinator.ab@example.org');
select is(tests.current_month_counts(), 'A:0,A:0,B:0',
    'at midnight on the first of next month (Oslo) every current-month count is 0, with no '
    'write and no refresh');
select is(
    (select sum(activity_count)::int from public.peer_mentor_stats),
    (select sum(activity_count)::int from tests.expected_peer_mentor_stats e
     join tests.ref_chapters l on l.chapter_id = e.chapter_id where l.letter in ('A', 'B')),
    'and the totals stay what they were');

select tests.clear_authentication();
select tests.move_clock_to(
    ((date_trunc('month', now() at time zone 'Europe/Oslo') + interval '1 month')::timestamp
     at time zone 'Europe/Oslo') - interval '1 second');
select tests.authenticate_as_email('coordinator.ab@example.org');
select is(tests.current_month_counts(),
    tests.current_month_counts('tests.expected_peer_mentor_stats', array['A', 'B']),
    'one second before that midnight the counts are this month''s');

select * from finish();
rollback;
