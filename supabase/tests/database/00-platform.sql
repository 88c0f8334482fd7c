-- The platform layer every other test stands on, seen from each role's side: the auth helpers read
-- the claims as PostgREST sets them, RLS binds the API roles and not service_role, `authenticator`
-- holds no data rights of its own, and `postgres` is no superuser. Then each point where the
-- embedded stack follows the supabase/postgres image (e2e/harness/platform.sql): the API roles
-- inherit, authenticator's timeouts, the database's owner, pg_cron in pg_catalog with postgres
-- unable to write cron.job, the DDL watch that reloads PostgREST's schema cache. The same file runs
-- on a `supabase start` stack, where it checks that the embedded stack's assumptions are
-- Supabase's. What needs a login of its own (authenticator's session, safeupdate, the NOTIFY) is
-- checked in e2e/tests/test_platform_parity.py.
begin;
\ir ../helpers/session.psql
select plan(39);

-- ---------------------------------------------------------------------------------------------
-- roles
-- ---------------------------------------------------------------------------------------------
select is((select rolsuper from pg_roles where rolname = 'postgres'), false,
    'postgres is not a superuser');
select is((select rolbypassrls from pg_roles where rolname = 'postgres'), true,
    'postgres bypasses RLS, as on Supabase');
select ok(pg_has_role('postgres', 'anon', 'MEMBER') and pg_has_role('postgres', 'authenticated', 'MEMBER')
          and pg_has_role('postgres', 'service_role', 'MEMBER'),
    'postgres is a member of the API roles');
select is((select array_agg(rolname::text order by rolname) from pg_roles
           where rolname in ('anon', 'authenticated', 'service_role') and not rolcanlogin),
    array['anon', 'authenticated', 'service_role'],
    'the API roles cannot log in');
select is((select rolbypassrls from pg_roles where rolname = 'service_role'), true,
    'service_role bypasses RLS');
select ok((select not rolbypassrls from pg_roles where rolname = 'anon')
          and (select not rolbypassrls from pg_roles where rolname = 'authenticated'),
    'anon and authenticated do not bypass RLS');
select is((select (rolcanlogin, rolinherit) from pg_roles where rolname = 'authenticator'),
    (true, false), 'authenticator logs in and does not inherit');
select ok(pg_has_role('authenticator', 'anon', 'MEMBER')
          and pg_has_role('authenticator', 'authenticated', 'MEMBER')
          and pg_has_role('authenticator', 'service_role', 'MEMBER'),
    'authenticator may switch to each API role');
select ok(not pg_has_role('authenticator', 'service_role', 'USAGE'),
    'authenticator holds none of service_role''s rights without switching');
select is(
    (select array_agg(r.rolname || ':' || s.setconfig[1] order by r.rolname)
     from pg_db_role_setting s join pg_roles r on r.oid = s.setrole
     where r.rolname in ('anon', 'authenticated') and s.setconfig[1] like 'statement_timeout=%'),
    array['anon:statement_timeout=3s', 'authenticated:statement_timeout=8s'],
    'the API roles carry Supabase''s statement timeouts');

-- ---------------------------------------------------------------------------------------------
-- schemas and extensions
-- ---------------------------------------------------------------------------------------------
select has_schema('auth', 'auth schema exists');
select has_schema('extensions', 'extensions schema exists');
select ok(has_schema_privilege('anon', 'extensions', 'USAGE')
          and has_schema_privilege('authenticated', 'auth', 'USAGE'),
    'API roles may use the extensions and auth schemas');
select is((select n.nspname::text from pg_extension e join pg_namespace n on n.oid = e.extnamespace
           where e.extname = 'pgtap'), 'extensions', 'pgTAP lives in the extensions schema');
select is((select e.extnamespace::regnamespace::text from pg_extension e
           where e.extname = 'pg_cron'),
    'pg_catalog', 'pg_cron is installed in pg_catalog, as supautils places it');

-- ---------------------------------------------------------------------------------------------
-- auth helpers read the claims as PostgREST sets them
-- ---------------------------------------------------------------------------------------------
select tests.create_user('platform.probe@example.org', '0f000000-0000-4000-8000-0000000000f1');
select tests.authenticate_as('0f000000-0000-4000-8000-0000000000f1');
select is(auth.uid(), '0f000000-0000-4000-8000-0000000000f1'::uuid,
    'auth.uid() is the sub claim of request.jwt.claims');
select is(auth.role(), 'authenticated', 'auth.role() is the role claim');
select is(auth.email(), 'platform.probe@example.org', 'auth.email() is the email claim');
select is(auth.jwt() ->> 'aud', 'authenticated', 'auth.jwt() is the whole claim set');
select is(current_user::text, 'authenticated', 'the request runs as the role of the token');
select tests.clear_authentication();

set local request.jwt.claim.sub = '0f000000-0000-4000-8000-0000000000f2';
set local request.jwt.claims = '{"sub": "0f000000-0000-4000-8000-0000000000f1", "role": "anon"}';
select is(auth.uid(), '0f000000-0000-4000-8000-0000000000f2'::uuid,
    'the legacy request.jwt.claim.sub wins when it is set, as in the auth server');
set local request.jwt.claim.sub = '';
set local request.jwt.claims = '{"role": "anon"}';
select is(auth.uid(), null, 'auth.uid() is null for a request without a user');

-- ---------------------------------------------------------------------------------------------
-- RLS binds anon and authenticated, not service_role
-- ---------------------------------------------------------------------------------------------
create table tests.rls_probe (id int);
insert into tests.rls_probe values (1), (2);
alter table tests.rls_probe enable row level security;
grant select on tests.rls_probe to anon, authenticated, service_role;

select tests.authenticate_as_anon();
select is((select count(*)::int from tests.rls_probe), 0, 'anon sees no row of an RLS table without a policy');
select tests.authenticate_as('0f000000-0000-4000-8000-0000000000f1');
select is((select count(*)::int from tests.rls_probe), 0,
    'authenticated sees no row of an RLS table without a policy');
select tests.authenticate_as_service_role();
select is((select count(*)::int from tests.rls_probe), 2, 'service_role sees every row');
select tests.clear_authentication();

select ok(not has_table_privilege('authenticator', 'tests.rls_probe', 'SELECT'),
    'authenticator cannot read a table the API roles may read, without switching role');

-- ---------------------------------------------------------------------------------------------
-- parity with the supabase/postgres image
-- ---------------------------------------------------------------------------------------------

-- The API roles inherit (20230529180330): a role granted to them gives them its rights.
create table tests.inherit_probe (id int);
insert into tests.inherit_probe values (1);
create role tests_inherit_probe nologin;
grant usage on schema tests to tests_inherit_probe;
grant select on tests.inherit_probe to tests_inherit_probe;
grant tests_inherit_probe to anon, authenticated, service_role;
select tests.authenticate_as_anon();
select lives_ok('select count(*) from tests.inherit_probe',
    'anon uses the rights of a role granted to it (INHERIT)');
select tests.authenticate_as('0f000000-0000-4000-8000-0000000000f1');
select lives_ok('select count(*) from tests.inherit_probe',
    'authenticated uses the rights of a role granted to it (INHERIT)');
select tests.authenticate_as_service_role();
select lives_ok('select count(*) from tests.inherit_probe',
    'service_role uses the rights of a role granted to it (INHERIT)');
select tests.clear_authentication();

select is(
    (select array_agg(c order by c) from pg_db_role_setting s, unnest(s.setconfig) c
     where s.setrole = 'authenticator'::regrole and s.setdatabase = 0
       and c ~ '^(statement|lock)_timeout='),
    array['lock_timeout=8s', 'statement_timeout=8s'],
    'authenticator logs in with the image''s statement and lock timeouts (8 s each)');

-- The image's migrate.sh hands the database to postgres: only its owner may comment on it.
select is((select datdba::regrole::text from pg_database where datname = current_database()),
    'postgres', 'the database is owned by postgres');
select lives_ok($$comment on database postgres is 'platform probe'$$,
    'postgres acts as the database''s owner');

-- pg_cron as supautils and its after-create script leave it: postgres schedules through the
-- functions, reads cron.job, keeps cron.job_run_details, and cannot write cron.job itself.
select lives_ok($$select cron.schedule('platform-probe', '* * * * *', 'select 1')$$,
    'postgres schedules a job through cron.schedule()');
select is((select username::text from cron.job where jobname = 'platform-probe'), 'postgres',
    'the job runs as the role that scheduled it');
select lives_ok($$select cron.unschedule('platform-probe')$$,
    'postgres unschedules its job through cron.unschedule()');
select throws_ok($$update cron.job set active = false where jobname = 'stats-refresh-flush'$$,
    '42501', null, 'postgres may not update cron.job directly');
select throws_ok($$delete from cron.job where jobname = 'stats-refresh-flush'$$,
    '42501', null, 'postgres may not delete from cron.job directly');
select lives_ok($$delete from cron.job_run_details where end_time < now() - interval '1 year'$$,
    'postgres may prune cron.job_run_details');

select is(
    (select array_agg(evtname || ':' || evtevent || ':' || evtenabled::text order by evtname)
     from pg_event_trigger where evtname in ('pgrst_ddl_watch', 'pgrst_drop_watch')),
    array['pgrst_ddl_watch:ddl_command_end:O', 'pgrst_drop_watch:sql_drop:O'],
    'DDL sends PostgREST a schema reload, as the image''s event triggers do');

select * from finish();
rollback;
