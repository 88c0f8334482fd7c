-- V009: both stats views read an incrementally maintained per-month summary instead of every
-- activity, so that a refresh cycle stays short (the ticket's 50 ms trigger budget at 50 000
-- activities; docs/design-refresh.md). V010 redefines the applier and the TRUNCATE trigger below
-- (their deletes get a WHERE clause, D18), V015 the peer-mentor view's function; the current
-- definitions are in supabase/schema.sql.
--
-- Nothing a reader sees changes: both materialized views keep their names, columns, types, owner,
-- privileges, unique indexes and rows. What changes is what their queries (V008's functions) read:
-- * stats.activity_month_summary holds, per chapter, peer mentor, activity kind and month, the
--   counted activities (stats.counted_activities, still the one counting definition, D10): how
--   many, their minutes, the last date. About 21 000 rows at 50 000 activities;
-- * writers only append the (mentor, kind, month) keys they touched to an insert-only change log,
--   stats.activity_summary_changes, once per statement from its transition tables: no unique key,
--   no update, so no writer ever waits on another (D6);
-- * each view's query first brings the summary up to date, stats.apply_activity_summary_changes():
--   the groups named in the log are recomputed from stats.counted_activities. A set of duplicates
--   shares mentor, kind and date, so it lies within one month: recomputing whole (mentor, kind,
--   month) groups applies the duplicate rule exactly;
-- * a change of a kind's counts_for_bufdir logs every group of that kind; TRUNCATE of activities
--   empties summary and log.
-- The query of a materialized view may write: REFRESH (CONCURRENTLY too) runs it as the views'
-- owner, stats_owner, as a security-restricted operation, which refuses temporary tables (none are
-- used) but not writes to ordinary tables.
--
-- Every statement can run again without error; a second run recomputes the summary (same rows).
-- Rollback: supabase/rollbacks/20261125000009_rollback_incremental_stats_summary.sql.

-- ---------------------------------------------------------------------------------------------
-- The summary and the change log
-- ---------------------------------------------------------------------------------------------

-- The key leads with mentor, kind and month: the groups a change names are one index range each.
create table if not exists stats.activity_month_summary (
    chapter_id uuid not null,
    peer_mentor_id uuid not null,
    activity_type_id smallint not null,
    month date not null,
    activity_count integer not null,
    total_minutes integer not null,
    last_activity_date date not null,
    constraint activity_month_summary_pkey
        primary key (peer_mentor_id, activity_type_id, month, chapter_id),
    constraint activity_month_summary_month_first_day
        check (month = date_trunc('month', month::timestamp)::date),
    constraint activity_month_summary_activity_count_positive check (activity_count > 0)
);
comment on table stats.activity_month_summary is
    'The counted activities (stats.counted_activities) per chapter, peer mentor, activity kind and '
    'month: what both stats views are computed from. Written only by '
    'stats.apply_activity_summary_changes() (and emptied by a TRUNCATE of activities); current as '
    'of the last refresh, plus the changes still listed in stats.activity_summary_changes.';
comment on column stats.activity_month_summary.chapter_id is
    'The chapter the counted activities belong to (a duplicate counts in the earliest one''s).';
comment on column stats.activity_month_summary.peer_mentor_id is 'The peer mentor.';
comment on column stats.activity_month_summary.activity_type_id is 'The activity kind.';
comment on column stats.activity_month_summary.month is 'The month, as its first day.';
comment on column stats.activity_month_summary.activity_count is
    'How many activities of the group count for Bufdir (never 0: an empty group has no row).';
comment on column stats.activity_month_summary.total_minutes is
    'The minutes of those activities.';
comment on column stats.activity_month_summary.last_activity_date is
    'The latest date among those activities.';
comment on constraint activity_month_summary_month_first_day on stats.activity_month_summary is
    'A month is stored as its first day.';
comment on constraint activity_month_summary_activity_count_positive
    on stats.activity_month_summary is
    'A group without counted activities has no row, so counting rows counts active mentors.';
comment on constraint activity_month_summary_pkey on stats.activity_month_summary is
    'One row per chapter, mentor, kind and month.';
comment on index stats.activity_month_summary_pkey is
    'One row per group; the changed (mentor, kind, month) groups are one range each.';

create table if not exists stats.activity_summary_changes (
    peer_mentor_id uuid not null,
    activity_type_id smallint not null,
    month date not null
);
comment on table stats.activity_summary_changes is
    'Insert-only log of the (peer mentor, kind, month) groups whose activities changed since the '
    'summary last took them in. Written by the triggers on public.activities and '
    'public.activity_types; emptied by stats.apply_activity_summary_changes(). No unique key: '
    'writers never wait on each other. Rows of uncommitted transactions stay for the next apply.';
comment on column stats.activity_summary_changes.peer_mentor_id is 'The peer mentor of the group.';
comment on column stats.activity_summary_changes.activity_type_id is 'The kind of the group.';
comment on column stats.activity_summary_changes.month is 'The month of the group (first day).';

alter table stats.activity_month_summary owner to stats_owner;
alter table stats.activity_summary_changes owner to stats_owner;
alter table stats.activity_month_summary enable row level security;
alter table stats.activity_summary_changes enable row level security;
revoke all on table stats.activity_month_summary, stats.activity_summary_changes
    from public, anon, authenticated, service_role;

-- ---------------------------------------------------------------------------------------------
-- Logging the changed groups
-- ---------------------------------------------------------------------------------------------

-- When the log is written matters. V007's refresh trigger is a constraint trigger FOR EACH ROW; at
-- COMMIT it fires after everything a statement logged. But a transaction that fires it early
-- (SET CONSTRAINTS ... IMMEDIATE) runs it at the end of each statement, among the statement's AFTER
-- ROW events and before any AFTER STATEMENT trigger: a statement-level log would come too late, and
-- that cycle would miss the statement's own change. So the log is written by an AFTER ROW trigger
-- with transition tables: the row events of a statement fire once it has finished, each row's in
-- trigger-name order, so the first row's logging event ("trg_activity_summary_..." sorts before
-- "trg_refresh_stats_views") sees every changed row of the statement and runs before any refresh.
-- The other rows' events return at once: a BEFORE STATEMENT trigger arms one flag per operation
-- (an INSERT ... ON CONFLICT DO UPDATE arms both INSERT and UPDATE), and the first row event of the
-- statement disarms it.
create or replace function stats.trg_arm_activity_summary_log()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    perform pg_catalog.set_config('stats.summary_log_' || pg_catalog.lower(tg_op), 'armed', true);
    return null;
end
$$;
comment on function stats.trg_arm_activity_summary_log() is
    'Trigger function of trg_activity_summary_arm_{insert,update,delete}: at the start of each '
    'statement on public.activities, marks its operation as not logged yet, so that the first row '
    'event of stats.trg_log_activity_summary_changes() logs the whole statement.';
alter function stats.trg_arm_activity_summary_log() owner to stats_owner;
revoke all on function stats.trg_arm_activity_summary_log()
    from public, anon, authenticated, service_role;

-- SECURITY DEFINER: it runs for any writer (a signed-in user, service_role) and appends to a table
-- only stats_owner may write. One INSERT per statement, whatever the number of rows, from the
-- transition tables; an UPDATE logs the groups of the old and the new rows. Every later row event
-- of the statement returns before doing anything (D7, D14: no exception block here at all).
create or replace function stats.trg_log_activity_summary_changes()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_flag text := 'stats.summary_log_' || pg_catalog.lower(tg_op);
begin
    if pg_catalog.current_setting(v_flag, true) is distinct from 'armed' then
        return null;
    end if;
    perform pg_catalog.set_config(v_flag, 'done', true);

    if tg_op = 'INSERT' then
        insert into stats.activity_summary_changes (peer_mentor_id, activity_type_id, month)
        select distinct n.peer_mentor_id, n.activity_type_id,
               pg_catalog.date_trunc('month', n.activity_date::timestamp)::date
        from new_rows n;
    elsif tg_op = 'UPDATE' then
        insert into stats.activity_summary_changes (peer_mentor_id, activity_type_id, month)
        select distinct r.peer_mentor_id, r.activity_type_id,
               pg_catalog.date_trunc('month', r.activity_date::timestamp)::date
        from (
            select o.peer_mentor_id, o.activity_type_id, o.activity_date from old_rows o
            union all
            select n.peer_mentor_id, n.activity_type_id, n.activity_date from new_rows n
        ) r;
    elsif tg_op = 'DELETE' then
        insert into stats.activity_summary_changes (peer_mentor_id, activity_type_id, month)
        select distinct o.peer_mentor_id, o.activity_type_id,
               pg_catalog.date_trunc('month', o.activity_date::timestamp)::date
        from old_rows o;
    end if;
    return null;
end
$$;
comment on function stats.trg_log_activity_summary_changes() is
    'Trigger function of trg_activity_summary_{insert,update,delete}: once per statement (its first '
    'row event), appends the distinct (peer mentor, kind, month) groups of the changed activities '
    '(old and new rows of an UPDATE) to stats.activity_summary_changes. Never touches the summary '
    'itself.';
alter function stats.trg_log_activity_summary_changes() owner to stats_owner;
revoke all on function stats.trg_log_activity_summary_changes()
    from public, anon, authenticated, service_role;

drop trigger if exists trg_activity_summary_arm_insert on public.activities;
create trigger trg_activity_summary_arm_insert
    before insert on public.activities
    for each statement execute function stats.trg_arm_activity_summary_log();
comment on trigger trg_activity_summary_arm_insert on public.activities is
    'Marks each INSERT statement as not yet logged for stats.activity_month_summary.';

drop trigger if exists trg_activity_summary_arm_update on public.activities;
create trigger trg_activity_summary_arm_update
    before update on public.activities
    for each statement execute function stats.trg_arm_activity_summary_log();
comment on trigger trg_activity_summary_arm_update on public.activities is
    'Marks each UPDATE statement as not yet logged for stats.activity_month_summary.';

drop trigger if exists trg_activity_summary_arm_delete on public.activities;
create trigger trg_activity_summary_arm_delete
    before delete on public.activities
    for each statement execute function stats.trg_arm_activity_summary_log();
comment on trigger trg_activity_summary_arm_delete on public.activities is
    'Marks each DELETE statement as not yet logged for stats.activity_month_summary.';

drop trigger if exists trg_activity_summary_insert on public.activities;
create trigger trg_activity_summary_insert
    after insert on public.activities
    referencing new table as new_rows
    for each row execute function stats.trg_log_activity_summary_changes();
comment on trigger trg_activity_summary_insert on public.activities is
    'Logs the groups of an INSERT statement''s rows for stats.activity_month_summary (at its first '
    'row event; named to fire before trg_refresh_stats_views).';

drop trigger if exists trg_activity_summary_update on public.activities;
create trigger trg_activity_summary_update
    after update on public.activities
    referencing old table as old_rows new table as new_rows
    for each row execute function stats.trg_log_activity_summary_changes();
comment on trigger trg_activity_summary_update on public.activities is
    'Logs the groups of an UPDATE statement''s rows, before and after, for '
    'stats.activity_month_summary (at its first row event; fires before trg_refresh_stats_views).';

drop trigger if exists trg_activity_summary_delete on public.activities;
create trigger trg_activity_summary_delete
    after delete on public.activities
    referencing old table as old_rows
    for each row execute function stats.trg_log_activity_summary_changes();
comment on trigger trg_activity_summary_delete on public.activities is
    'Logs the groups of a DELETE statement''s rows for stats.activity_month_summary (at its first '
    'row event; named to fire before trg_refresh_stats_views).';

-- Whether a kind counts decides for every activity of that kind: log all their groups.
create or replace function stats.trg_log_activity_type_summary_changes()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    insert into stats.activity_summary_changes (peer_mentor_id, activity_type_id, month)
    select distinct a.peer_mentor_id, a.activity_type_id,
           pg_catalog.date_trunc('month', a.activity_date::timestamp)::date
    from public.activities a
    where a.activity_type_id in (
        select o.id
        from old_rows o
        join new_rows n on n.id = o.id
        where n.counts_for_bufdir is distinct from o.counts_for_bufdir
    );
    return null;
end
$$;
comment on function stats.trg_log_activity_type_summary_changes() is
    'Trigger function of trg_activity_type_summary_update: when a kind''s counts_for_bufdir '
    'changes, appends every (peer mentor, kind, month) group of that kind to '
    'stats.activity_summary_changes.';
alter function stats.trg_log_activity_type_summary_changes() owner to stats_owner;
revoke all on function stats.trg_log_activity_type_summary_changes()
    from public, anon, authenticated, service_role;

drop trigger if exists trg_activity_type_summary_update on public.activity_types;
create trigger trg_activity_type_summary_update
    after update on public.activity_types
    referencing old table as old_rows new table as new_rows
    for each statement execute function stats.trg_log_activity_type_summary_changes();
comment on trigger trg_activity_type_summary_update on public.activity_types is
    'Logs every group of a kind whose counts_for_bufdir changed, for stats.activity_month_summary.';

-- TRUNCATE fires no row or transition-table trigger: empty summary and log together. The lock on
-- activities is already held (ACCESS EXCLUSIVE); the applier takes its lock on activities before
-- the advisory lock too, so the two never wait on each other in opposite order.
create or replace function stats.trg_truncate_activity_summary()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    perform pg_catalog.pg_advisory_xact_lock(20261125000009);
    delete from stats.activity_summary_changes;
    delete from stats.activity_month_summary;
    return null;
end
$$;
comment on function stats.trg_truncate_activity_summary() is
    'Trigger function of trg_activity_summary_truncate: a TRUNCATE of activities empties '
    'stats.activity_month_summary and stats.activity_summary_changes.';
alter function stats.trg_truncate_activity_summary() owner to stats_owner;
revoke all on function stats.trg_truncate_activity_summary()
    from public, anon, authenticated, service_role;

drop trigger if exists trg_activity_summary_truncate on public.activities;
create trigger trg_activity_summary_truncate
    after truncate on public.activities
    for each statement execute function stats.trg_truncate_activity_summary();
comment on trigger trg_activity_summary_truncate on public.activities is
    'Empties stats.activity_month_summary and its change log after a TRUNCATE of activities.';

-- ---------------------------------------------------------------------------------------------
-- Bringing the summary up to date
-- ---------------------------------------------------------------------------------------------

-- SECURITY INVOKER: called from the views' queries, which REFRESH runs as stats_owner (postgres,
-- a member, may call it too). One applier at a time (a transaction-level advisory lock), so two
-- never recompute a group in opposite order. It forgets only the log rows it can see, and reads
-- the activities afterwards with a newer snapshot: a change committed meanwhile is either in the
-- recomputed rows or still logged; an uncommitted one stays logged for the next apply.
-- Many changed groups at once (a bulk load): recomputing everything is cheaper than one lookup
-- per group.
create or replace function stats.apply_activity_summary_changes()
returns integer
language plpgsql
set search_path = ''
set jit = off
set work_mem = '64MB'
as $$
declare
    v_mentors uuid[];
    v_kinds smallint[];
    v_months date[];
    v_groups integer;
begin
    -- activities first, then the advisory lock: the order the TRUNCATE trigger holds them in
    lock table public.activities in access share mode;
    perform pg_catalog.pg_advisory_xact_lock(20261125000009);

    with taken as (
        delete from stats.activity_summary_changes c
        returning c.peer_mentor_id, c.activity_type_id, c.month
    ), keys as (
        select distinct t.peer_mentor_id, t.activity_type_id, t.month from taken t
    )
    select pg_catalog.array_agg(k.peer_mentor_id), pg_catalog.array_agg(k.activity_type_id),
           pg_catalog.array_agg(k.month)
    into v_mentors, v_kinds, v_months
    from keys k;

    v_groups := coalesce(pg_catalog.cardinality(v_mentors), 0);
    if v_groups = 0 then
        return 0;
    end if;

    if v_groups > 2000 then
        delete from stats.activity_month_summary;
        insert into stats.activity_month_summary (chapter_id, peer_mentor_id, activity_type_id,
                                                  month, activity_count, total_minutes,
                                                  last_activity_date)
        select c.chapter_id, c.peer_mentor_id, c.activity_type_id,
               pg_catalog.date_trunc('month', c.activity_date::timestamp)::date,
               count(*)::integer, sum(c.duration_minutes)::integer, max(c.activity_date)
        from stats.counted_activities c
        group by 1, 2, 3, 4;
        return v_groups;
    end if;

    delete from stats.activity_month_summary s
    using rows from (pg_catalog.unnest(v_mentors), pg_catalog.unnest(v_kinds),
                     pg_catalog.unnest(v_months)) as k (peer_mentor_id, activity_type_id, month)
    where s.peer_mentor_id = k.peer_mentor_id
      and s.activity_type_id = k.activity_type_id
      and s.month = k.month;

    insert into stats.activity_month_summary (chapter_id, peer_mentor_id, activity_type_id, month,
                                              activity_count, total_minutes, last_activity_date)
    select c.chapter_id, k.peer_mentor_id, k.activity_type_id, k.month,
           count(*)::integer, sum(c.duration_minutes)::integer, max(c.activity_date)
    from rows from (pg_catalog.unnest(v_mentors), pg_catalog.unnest(v_kinds),
                    pg_catalog.unnest(v_months)) as k (peer_mentor_id, activity_type_id, month)
    cross join lateral (
        select a.chapter_id, a.duration_minutes, a.activity_date
        from stats.counted_activities a
        where a.peer_mentor_id = k.peer_mentor_id
          and a.activity_type_id = k.activity_type_id
          and a.activity_date >= k.month
          and a.activity_date < (k.month + interval '1 month')::date
        -- keeps the planner from flattening this into one join over every counted activity: each
        -- group is then read from the activities_counting_* indexes with its own key
        offset 0
    ) c
    group by c.chapter_id, k.peer_mentor_id, k.activity_type_id, k.month;

    return v_groups;
end
$$;
comment on function stats.apply_activity_summary_changes() is
    'Brings stats.activity_month_summary up to date: takes the logged groups it can see out of '
    'stats.activity_summary_changes and recomputes them from stats.counted_activities (everything '
    'when more than 2 000 groups changed). One caller at a time (advisory lock 20261125000009, '
    'held to the end of the transaction). Returns how many groups it recomputed.';
alter function stats.apply_activity_summary_changes() owner to stats_owner;
revoke all on function stats.apply_activity_summary_changes()
    from public, anon, authenticated, service_role;

-- Filled completely here. The triggers above already hold activities (SHARE ROW EXCLUSIVE), so no
-- write lands between this and the commit; a re-run recomputes the same rows.
do $$
begin
    perform pg_catalog.pg_advisory_xact_lock(20261125000009);
    delete from stats.activity_summary_changes;
    delete from stats.activity_month_summary;
    insert into stats.activity_month_summary (chapter_id, peer_mentor_id, activity_type_id, month,
                                              activity_count, total_minutes, last_activity_date)
    select c.chapter_id, c.peer_mentor_id, c.activity_type_id,
           date_trunc('month', c.activity_date::timestamp)::date,
           count(*)::integer, sum(c.duration_minutes)::integer, max(c.activity_date)
    from stats.counted_activities c
    group by 1, 2, 3, 4;
end
$$;

-- ---------------------------------------------------------------------------------------------
-- The views' queries, now over the summary
-- ---------------------------------------------------------------------------------------------

-- Same names, arguments and result columns as V008's, so both materialized views (which read
-- these functions since V008) need no rebuild. VOLATILE now: each applies the logged changes
-- first and must read the summary after its own writes.
create or replace function stats.compute_peer_mentor_stats()
returns table (
    chapter_id uuid,
    peer_mentor_id uuid,
    activity_count bigint,
    total_minutes bigint,
    last_activity_date date,
    current_month_count bigint
)
language plpgsql
volatile
set search_path = ''
set jit = off
set work_mem = '64MB'
as $$
begin
    perform stats.apply_activity_summary_changes();
    return query
    select
        s.chapter_id,
        s.peer_mentor_id,
        sum(s.activity_count)::bigint,
        sum(s.total_minutes)::bigint,
        max(s.last_activity_date),
        coalesce(sum(s.activity_count) filter (
            where s.month >= (
                select pg_catalog.date_trunc('month', pg_catalog.now() at time zone 'Europe/Oslo')::date
            )
        ), 0)::bigint
    from stats.activity_month_summary s
    group by s.chapter_id, s.peer_mentor_id;
end
$$;
comment on function stats.compute_peer_mentor_stats() is
    'The query of stats.mv_peer_mentor_stats: per chapter and peer mentor with counted '
    'activities, how many, total minutes, the last date and how many in the current month '
    '(Europe/Oslo). Applies the logged changes to stats.activity_month_summary first, then reads '
    'it. A function so that the query carries its settings (jit, work_mem).';
alter function stats.compute_peer_mentor_stats() owner to stats_owner;
revoke all on function stats.compute_peer_mentor_stats()
    from public, anon, authenticated, service_role;

-- One summary row per mentor active in a cell (rows have activity_count > 0): counting them gives
-- the distinct mentors.
create or replace function stats.compute_activity_time_series()
returns table (
    chapter_id uuid,
    month date,
    activity_type_id smallint,
    activity_count bigint,
    total_minutes bigint,
    active_mentors bigint
)
language plpgsql
volatile
set search_path = ''
set jit = off
set work_mem = '64MB'
as $$
begin
    perform stats.apply_activity_summary_changes();
    return query
    select
        s.chapter_id,
        s.month,
        s.activity_type_id,
        sum(s.activity_count)::bigint,
        sum(s.total_minutes)::bigint,
        count(*) filter (where s.activity_count > 0)
    from stats.activity_month_summary s
    group by s.chapter_id, s.month, s.activity_type_id;
end
$$;
comment on function stats.compute_activity_time_series() is
    'The query of stats.mv_activity_time_series: per chapter, month (its first day) and activity '
    'kind with counted activities, how many, total minutes and distinct mentors. Applies the '
    'logged changes to stats.activity_month_summary first, then reads it. A function so that the '
    'query carries its settings (jit, work_mem).';
alter function stats.compute_activity_time_series() owner to stats_owner;
revoke all on function stats.compute_activity_time_series()
    from public, anon, authenticated, service_role;

-- Both views must read these functions (V008 built them so); otherwise they would not see the
-- summary, and nothing would empty the change log.
do $$
begin
    if (
        select count(*)
        from pg_catalog.pg_depend d
        join pg_catalog.pg_rewrite r on r.oid = d.objid
        where d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass
          and d.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass
          and (r.ev_class, d.refobjid) in (
              (pg_catalog.to_regclass('stats.mv_peer_mentor_stats'),
               'stats.compute_peer_mentor_stats()'::pg_catalog.regprocedure),
              (pg_catalog.to_regclass('stats.mv_activity_time_series'),
               'stats.compute_activity_time_series()'::pg_catalog.regprocedure))
    ) <> 2 then
        raise exception 'the stats views do not read stats.compute_*() (apply V008 first)';
    end if;
end
$$;
