-- The structure V001-V006 leave behind: tables and columns, named constraints and indexes, row
-- level security on every public table, who may use what, the private stats schema and its owner,
-- and the security properties of every function an API role can reach.
begin;
\ir ../helpers/session.psql
select plan(63);

-- ---------------------------------------------------------------------------------------------
-- tables and columns
-- ---------------------------------------------------------------------------------------------
select tables_are('public',
    array['activities', 'activity_types', 'chapter_memberships', 'chapters', 'profiles'],
    'public holds exactly the five tables of the data model');
select columns_are('public', 'chapters', array['id', 'name'], 'chapters has its columns');
select columns_are('public', 'profiles', array['id', 'full_name'], 'profiles has its columns');
select columns_are('public', 'chapter_memberships', array['user_id', 'chapter_id', 'member_role'],
    'chapter_memberships has its columns');
select columns_are('public', 'activity_types', array['id', 'code', 'name', 'counts_for_bufdir'],
    'activity_types has its columns');
select columns_are('public', 'activities',
    array['id', 'peer_mentor_id', 'chapter_id', 'activity_type_id', 'activity_date',
          'duration_minutes', 'contact_ref', 'status', 'created_by', 'created_at', 'mentor_role'],
    'activities has its columns');
select col_type_is('public', 'activities', 'id', 'bigint', 'activities.id is a bigint');
select is((select attidentity from pg_attribute
           where attrelid = 'public.activities'::regclass and attname = 'id'), 'a'::"char",
    'activities.id is generated always as identity');
select col_type_is('public', 'activity_types', 'id', 'smallint', 'activity_types.id is a smallint');
select col_type_is('public', 'activities', 'activity_date', 'date', 'activity_date is a date');
select col_default_is('public', 'activities', 'status', 'registered'::text,
    'an activity is registered unless said otherwise');
select col_default_is('public', 'activities', 'created_by', 'auth.uid()',
    'created_by defaults to the caller');
select is((select attgenerated from pg_attribute
           where attrelid = 'public.activities'::regclass and attname = 'mentor_role'), 's'::"char",
    'mentor_role is a stored generated column (clients cannot write it)');
select col_is_pk('public', 'chapter_memberships', array['user_id', 'chapter_id', 'member_role'],
    'a membership is keyed by user, chapter and role');

-- ---------------------------------------------------------------------------------------------
-- constraints
-- ---------------------------------------------------------------------------------------------
select set_eq(
    $$select conname::text from pg_constraint
      where conrelid = 'public.activities'::regclass and contype in ('p', 'u', 'f', 'c')$$,
    array['activities_pkey', 'activities_chapter_id_fkey',
          'activities_activity_type_id_fkey', 'activities_peer_mentor_membership_fkey',
          'activities_duration_minutes_range', 'activities_activity_date_not_in_future',
          'activities_activity_date_plausible', 'activities_status_valid',
          'activities_contact_ref_length'],
    'activities has exactly its named constraints');
select set_eq(
    $$select conrelid::regclass::text || '.' || conname from pg_constraint
      where conrelid in ('public.chapters'::regclass, 'public.profiles'::regclass,
                         'public.chapter_memberships'::regclass, 'public.activity_types'::regclass)
        and contype in ('p', 'u', 'f', 'c')$$,
    array['chapters.chapters_pkey', 'chapters.chapters_name_key', 'chapters.chapters_name_length',
          'profiles.profiles_pkey', 'profiles.profiles_id_fkey',
          'profiles.profiles_full_name_length',
          'chapter_memberships.chapter_memberships_pkey',
          'chapter_memberships.chapter_memberships_user_id_fkey',
          'chapter_memberships.chapter_memberships_chapter_id_fkey',
          'chapter_memberships.chapter_memberships_member_role_valid',
          'activity_types.activity_types_pkey', 'activity_types.activity_types_code_key',
          'activity_types.activity_types_code_format', 'activity_types.activity_types_name_length'],
    'the other tables have exactly their named constraints');
select fk_ok('public', 'activities', array['peer_mentor_id', 'chapter_id', 'mentor_role'],
             'public', 'chapter_memberships', array['user_id', 'chapter_id', 'member_role'],
    'an activity''s mentor must be a peer mentor of its chapter (composite foreign key)');
select fk_ok('public', 'profiles', 'id', 'auth', 'users', 'id',
    'a profile belongs to an auth user');
select has_trigger('public', 'chapter_memberships', 'chapter_memberships_coordinator_limit',
    'a trigger limits coordinators to five chapters');

-- ---------------------------------------------------------------------------------------------
-- indexes
-- ---------------------------------------------------------------------------------------------
select has_index('public', 'activities', 'activities_contact_ref_idx', array['contact_ref'],
    'registered activities with a contact are found by contact (bounds the duplicate check)');
select has_index('public', 'activities', 'activities_activity_type_id_idx',
    array['activity_type_id'], 'the foreign key to activity_types is indexed');
select has_index('public', 'activities', 'activities_chapter_id_activity_date_idx',
    array['chapter_id', 'activity_date'], 'coordinators and the export read by chapter and date');
select has_index('public', 'activities', 'activities_peer_mentor_membership_idx',
    array['peer_mentor_id', 'chapter_id', 'mentor_role'],
    'mentors read their own; the membership key is indexed whole');
select has_index('public', 'chapter_memberships', 'chapter_memberships_chapter_id_idx',
    array['chapter_id', 'member_role'], 'the members of a chapter are found by index');
select is(
    (select array_agg(format('%s.%s', c.conrelid::regclass, c.conname))
     from pg_constraint c
     where c.contype = 'f'
       and c.connamespace = 'public'::regnamespace
       and not exists (
           select from pg_index i
           where i.indrelid = c.conrelid
             and (i.indkey::int2[])[0:cardinality(c.conkey) - 1] @> c.conkey
       )),
    null,
    'every foreign key of public is the leading part of an index');

-- ---------------------------------------------------------------------------------------------
-- row level security and the policies
-- ---------------------------------------------------------------------------------------------
select is(
    (select array_agg(relname::text order by relname) from pg_class
     where relnamespace = 'public'::regnamespace and relkind in ('r', 'p') and not relrowsecurity),
    null,
    'row level security is enabled on every table of public');
select policies_are('public', 'activities',
    array['activities_select_own_or_coordinated', 'activities_insert_own_or_coordinated',
          'activities_update_own_or_coordinated', 'activities_delete_own_or_coordinated',
          'activities_select_stats_owner'],
    'activities has one policy per command for users, and the statistics owner''s');
select policies_are('public', 'chapters', array['chapters_select_members'],
    'chapters: members read their chapters');
select policies_are('public', 'profiles', array['profiles_select_self_or_coordinated'],
    'profiles: own, and coordinators'' members');
select policies_are('public', 'chapter_memberships',
    array['chapter_memberships_select_self_or_coordinated'],
    'chapter_memberships: own, and coordinators'' chapters');
select policies_are('public', 'activity_types',
    array['activity_types_select_all', 'activity_types_select_stats_owner'],
    'activity_types: readable by users and the statistics owner');
select is(
    (select array_agg(format('%s.%s', tablename, policyname)) from pg_policies
     where schemaname = 'public'
       and (coalesce(qual, '') || coalesce(with_check, ''))
           ~ '(?<!SELECT )(auth\.uid\(\)|private\.member_chapter_ids\()'),
    null,
    'policies call auth.uid() and the membership helper through a sub-select (linter 0003)');
select is(
    (select array_agg(format('%s.%s', tablename, policyname)) from pg_policies
     where schemaname = 'public' and not (roles <@ array['authenticated', 'stats_owner']::name[])),
    null,
    'no policy applies to anon or PUBLIC');

-- ---------------------------------------------------------------------------------------------
-- privileges of the API roles on public
-- ---------------------------------------------------------------------------------------------
select is(
    (select array_agg(c.relname::text order by c.relname) from pg_class c
     where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'v', 'm', 'S')
       and (has_table_privilege('anon', c.oid,
                                'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
            or has_any_column_privilege('anon', c.oid, 'SELECT, INSERT, UPDATE, REFERENCES'))),
    null,
    'anon has no privilege on any table, view or sequence of public');
select table_privs_are('public', 'activities', 'authenticated', array['SELECT', 'DELETE'],
    'authenticated reads and deletes activities (insert and update by column, below)');
select is(
    (select array_agg(a.attname::text order by a.attnum) from pg_attribute a
     where a.attrelid = 'public.activities'::regclass and a.attnum > 0
       and has_column_privilege('authenticated', a.attrelid, a.attnum, 'INSERT')),
    array['peer_mentor_id', 'chapter_id', 'activity_type_id', 'activity_date', 'duration_minutes',
          'contact_ref', 'status']::text[],
    'authenticated inserts only the columns a registration has (not id, created_by, created_at)');
select is(
    (select array_agg(a.attname::text order by a.attnum) from pg_attribute a
     where a.attrelid = 'public.activities'::regclass and a.attnum > 0
       and has_column_privilege('authenticated', a.attrelid, a.attnum, 'UPDATE')),
    array['activity_type_id', 'activity_date', 'duration_minutes', 'contact_ref', 'status']::text[],
    'a correction cannot move an activity to another mentor or chapter');
select is(
    (select array_agg(format('%s:%s', t, p) order by t, p)
     from unnest(array['chapters', 'profiles', 'chapter_memberships', 'activity_types']) t,
          unnest(array['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) p
     where has_table_privilege('authenticated', 'public.' || t, p)),
    null,
    'users cannot write chapters, profiles, memberships or activity kinds');
select table_privs_are('public', 'peer_mentor_stats', 'authenticated', array['SELECT'],
    'authenticated only reads public.peer_mentor_stats');
select table_privs_are('public', 'activity_time_series', 'authenticated', array['SELECT'],
    'authenticated only reads public.activity_time_series');
select is(
    (select array_agg(relname::text order by relname) from pg_class
     where relnamespace = 'public'::regnamespace and relkind = 'v'
       and not coalesce(reloptions @> array['security_invoker=true'], false)),
    null,
    'every view of public runs with the caller''s rights (Supabase linter 0010)');

-- ---------------------------------------------------------------------------------------------
-- the private statistics
-- ---------------------------------------------------------------------------------------------
select schema_privs_are('stats', 'anon', array[]::text[], 'anon cannot use schema stats');
select schema_privs_are('stats', 'authenticated', array[]::text[],
    'authenticated cannot use schema stats');
select schema_privs_are('stats', 'service_role', array[]::text[],
    'service_role cannot use schema stats');
select schema_privs_are('stats', 'stats_owner', array['CREATE', 'USAGE'],
    'stats_owner may create in stats (Supabase refuses to hand it a view otherwise)');
select schema_privs_are('private', 'anon', array[]::text[], 'anon cannot use schema private');
select is((select (rolcanlogin, rolsuper, rolbypassrls, rolcreaterole, rolcreatedb)
           from pg_roles where rolname = 'stats_owner'),
    (false, false, false, false, false),
    'stats_owner cannot log in and holds no special power');
select ok(pg_has_role('postgres', 'stats_owner', 'MEMBER'),
    'postgres is a member of stats_owner, so it can hand objects to it');
select materialized_view_owner_is('stats', 'mv_peer_mentor_stats', 'stats_owner',
    'stats_owner owns mv_peer_mentor_stats');
select materialized_view_owner_is('stats', 'mv_activity_time_series', 'stats_owner',
    'stats_owner owns mv_activity_time_series');
select view_owner_is('stats', 'counted_activities', 'stats_owner',
    'stats_owner owns the counting definition');
select is(
    (select array_agg(c.oid::regclass::text) from pg_class c
     where c.relowner = 'stats_owner'::regrole
       and c.relnamespace in ('public'::regnamespace, 'private'::regnamespace)),
    null,
    'stats_owner owns nothing of the API schemas');
select has_index('stats', 'mv_peer_mentor_stats', 'mv_peer_mentor_stats_key',
    array['chapter_id', 'peer_mentor_id'], 'mv_peer_mentor_stats is keyed by chapter and mentor');
select has_index('stats', 'mv_activity_time_series', 'mv_activity_time_series_key',
    array['chapter_id', 'month', 'activity_type_id'],
    'mv_activity_time_series is keyed by chapter, month and kind');
select is(
    (select array_agg(i.indexrelid::regclass::text order by i.indexrelid::regclass::text)
     from pg_index i
     where i.indrelid in ('stats.mv_peer_mentor_stats'::regclass,
                          'stats.mv_activity_time_series'::regclass)
       and i.indisunique and i.indpred is null and i.indexprs is null),
    array['stats.mv_activity_time_series_key', 'stats.mv_peer_mentor_stats_key'],
    'both keys are unique, on plain columns, without WHERE: REFRESH ... CONCURRENTLY can use them');
select col_type_is('stats', 'mv_activity_time_series', 'month', 'date',
    'a month is a date (its first day)');

-- ---------------------------------------------------------------------------------------------
-- functions an API role can reach
-- ---------------------------------------------------------------------------------------------
select is(
    (select array_agg(p.oid::regprocedure::text) from pg_proc p
     where p.pronamespace in ('public'::regnamespace, 'private'::regnamespace)
       and has_function_privilege('anon', p.oid, 'EXECUTE')),
    null,
    'anon can execute no function of public or private (revoked by name, D15)');
select set_eq(
    $$select p.oid::regprocedure::text from pg_proc p
      where p.pronamespace in ('public'::regnamespace, 'private'::regnamespace)
        and has_function_privilege('authenticated', p.oid, 'EXECUTE')$$,
    array['private.member_chapter_ids(text)', 'private.peer_mentor_stats_rows()',
          'private.activity_time_series_rows()', 'private.bufdir_export_rows(date,date,uuid[])',
          'private.stats_freshness_row()', 'bufdir_export(date,date,uuid[])'],
    'authenticated executes exactly the membership helper, the four row sources and the export');
select is(
    (select array_agg(p.oid::regprocedure::text) from pg_proc p
     where p.pronamespace in ('public'::regnamespace, 'private'::regnamespace)
       and p.prosecdef
       and not coalesce(p.proconfig @> array['search_path=""'], false)),
    null,
    'every SECURITY DEFINER function pins search_path to empty');
select set_eq(
    $$select p.oid::regprocedure::text from pg_proc p
      where p.pronamespace in ('public'::regnamespace, 'private'::regnamespace) and p.prosecdef$$,
    array['private.member_chapter_ids(text)', 'private.peer_mentor_stats_rows()',
          'private.activity_time_series_rows()', 'private.bufdir_export_rows(date,date,uuid[])',
          'private.stats_freshness_row()'],
    'only these five, all in private, run with their owner''s rights (Supabase lint 0029)');
select is(
    (select array_agg(p.oid::regprocedure::text) from pg_proc p
     where p.pronamespace in ('public'::regnamespace, 'private'::regnamespace)
       and p.prosrc ~* '(?<!select )(private\.member_chapter_ids|auth\.uid)\('),
    null,
    'the read path and the export look up the caller''s chapters once per call (a sub-select), '
    'not once per row');
select is(
    (select array_agg(p.oid::regprocedure::text) from pg_proc p
     where p.pronamespace in ('public'::regnamespace, 'private'::regnamespace)
       and p.prosecdef and p.provolatile <> 's'),
    null,
    'the SECURITY DEFINER functions are STABLE (they only read)');
select is(
    (select array_agg(x.what) from (
        select c.oid::regclass::text as what from pg_class c
        where c.relnamespace in ('public'::regnamespace, 'private'::regnamespace)
          and c.relkind in ('r', 'v', 'm') and obj_description(c.oid, 'pg_class') is null
        union all
        select c.oid::regclass::text from pg_class c
        where c.oid in ('stats.counted_activities'::regclass,
                        'stats.mv_peer_mentor_stats'::regclass,
                        'stats.mv_activity_time_series'::regclass)
          and obj_description(c.oid, 'pg_class') is null
        union all
        select p.oid::regprocedure::text from pg_proc p
        where p.pronamespace in ('public'::regnamespace, 'private'::regnamespace)
          and obj_description(p.oid, 'pg_proc') is null
        union all
        select format('policy %s on %s', pol.polname, pol.polrelid::regclass) from pg_policy pol
        where pol.polrelid in (select oid from pg_class where relnamespace = 'public'::regnamespace)
          and obj_description(pol.oid, 'pg_policy') is null
    ) x),
    null,
    'every table, view, function and policy of V001-V006 carries a comment');

select * from finish();
rollback;
