-- V004: the private `stats` schema, its owner role, and the one definition of what counts for
-- Bufdir (decision D10), used by both materialized views (V005) and the export (V006).
--
-- Every statement can run again without error.

-- ---------------------------------------------------------------------------------------------
-- The owner of the statistics
-- ---------------------------------------------------------------------------------------------

-- Roles are cluster-wide and outlive a database reset: create it only when it is missing.
do $$
begin
    if not exists (select 1 from pg_catalog.pg_roles where rolname = 'stats_owner') then
        create role stats_owner nologin noinherit;
    end if;
end
$$;
comment on role stats_owner is
    'Owns the statistics in schema stats and nothing of the API. A materialized view is refreshed '
    'with its owner''s rights, so this role reads the base tables through its own policies.';
-- Handing an object to a role needs membership in it (postgres is not a superuser on Supabase).
grant stats_owner to postgres;

create schema if not exists stats;
comment on schema stats is
    'Private statistics: the counting definition, the materialized views and their refresh '
    'machinery. No API role has USAGE; users read public.peer_mentor_stats and '
    'public.activity_time_series.';
revoke all on schema stats from public, anon, authenticated, service_role;
-- CREATE too: on Supabase, handing a view to a role without it fails (permission denied).
grant usage, create on schema stats to stats_owner;

-- What the counting definition reads. Row-level security stays on for stats_owner (creating a
-- BYPASSRLS role needs a superuser): these policies let it see every row, and only it.
-- USAGE on public comes with PUBLIC's on Supabase; granted only where it is missing, because
-- postgres may not grant on a schema it does not own (it would only warn).
do $$
begin
    if not has_schema_privilege('stats_owner', 'public', 'USAGE') then
        grant usage on schema public to stats_owner;
    end if;
end
$$;
-- Revoked first, so that a re-run leaves the grants in the same order (V002 re-grants its own).
revoke all on table public.activities, public.activity_types from stats_owner;
grant select on table public.activities, public.activity_types to stats_owner;

drop policy if exists activities_select_stats_owner on public.activities;
create policy activities_select_stats_owner on public.activities
    for select to stats_owner
    using (true);
comment on policy activities_select_stats_owner on public.activities is
    'The statistics count every activity of every chapter: the counting definition and the '
    'materialized views read as stats_owner.';

drop policy if exists activity_types_select_stats_owner on public.activity_types;
create policy activity_types_select_stats_owner on public.activity_types
    for select to stats_owner
    using (true);
comment on policy activity_types_select_stats_owner on public.activity_types is
    'The counting definition reads counts_for_bufdir of every activity kind as stats_owner.';

-- ---------------------------------------------------------------------------------------------
-- The counting definition
-- ---------------------------------------------------------------------------------------------

-- An activity counts when it is registered (not cancelled), its kind counts for Bufdir, and no
-- registered activity with the same mentor, kind, date and contact_ref has a lower id, in any
-- chapter. So of a set of duplicates only the earliest registration counts, in its own chapter; a
-- cancelled registration never hides a later one; without a contact_ref nothing is a duplicate.
--
-- Superseded: V008 computes the same rows differently (DISTINCT ON over covering indexes); the
-- notes below describe this first version, which no longer runs. The current definition is in
-- supabase/schema.sql.
-- Written for the refresh of both views at commit time (decision D8), measured at 50 000 rows:
-- * the duplicate check is an anti-join, which the planner runs as one hash join over the rows
--   that have a contact_ref; a window over the same rows, with or without a covering index, cost
--   more, and an index on the duplicate key made the planner pick a slower merge join;
-- * the kinds that count are read once into an array (an InitPlan), not joined per row; with the
--   join, a table without statistics (a bulk load refreshed at its own commit) was planned as a
--   nested loop that took 27 s instead of 30 ms;
-- * filters on activity_date reach the base table before the duplicate check, so the export of
--   a short period does not read every row; filters on chapter_id cannot (duplicates cross
--   chapters).
create or replace view stats.counted_activities as
select
    a.id,
    a.chapter_id,
    a.peer_mentor_id,
    a.activity_type_id,
    a.activity_date,
    a.duration_minutes
from public.activities a
where a.status = 'registered'
  and a.activity_type_id = any (array(
      select t.id from public.activity_types t where t.counts_for_bufdir
  ))
  and not exists (
      select
      from public.activities earlier
      where earlier.peer_mentor_id = a.peer_mentor_id
        and earlier.activity_type_id = a.activity_type_id
        and earlier.activity_date = a.activity_date
        and earlier.contact_ref = a.contact_ref
        and earlier.status = 'registered'
        and earlier.id < a.id
  );
alter view stats.counted_activities owner to stats_owner;
comment on view stats.counted_activities is
    'The Bufdir counting rules, the single definition used by stats.mv_peer_mentor_stats, '
    'stats.mv_activity_time_series and public.bufdir_export: registered, of a kind that counts, '
    'and not a later duplicate (same mentor, kind, date and non-null contact_ref; the lowest id '
    'counts, in its own chapter).';
revoke all on table stats.counted_activities from public, anon, authenticated, service_role;
