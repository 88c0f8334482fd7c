-- The platform layer every other test stands on, seen from each role's side: the auth helpers read
-- the claims as PostgREST sets them, RLS binds the API roles and not service_role, `authenticator`
-- holds no data rights of its own, and `postgres` is no superuser. The same file runs on a
-- `supabase start` stack, where it checks that the embedded stack's assumptions are Supabase's.
begin;
\ir ../helpers/session.psql
select plan(26);

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
select isnt((select name from pg_available_extensions where name = 'pg_cron'), null,
    'pg_cron is available');

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

select * from finish();
rollback;
