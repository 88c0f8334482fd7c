-- The Supabase platform layer for the embedded stack.
--
-- On a real Supabase database the supabase/postgres image and the auth server create all of this;
-- it is never applied there. Here it is run once, by the bootstrap superuser `supabase_admin`, on a
-- fresh cluster, before the Supabase CLI pushes the project's migrations as `postgres`.
-- Each part follows the image the pinned CLI runs (supabase/postgres 15.8.1.x; the migration files
-- named below are that repository's) and the auth server's migrations; what it leaves out is listed
-- in docs/platform-fidelity.md. supabase/tests/database/00-platform.sql
-- checks every part from the side of the role concerned, on both stacks.

-- ---------------------------------------------------------------------------------------------
-- Roles
-- ---------------------------------------------------------------------------------------------

-- `postgres` is demoted on Supabase (10000000000000_demote-postgres.sql): migrations run as a
-- non-superuser that bypasses RLS. The password is the public local-development default of
-- `supabase start`.
create role postgres login nosuperuser createdb createrole replication bypassrls password 'postgres';

-- Created NOINHERIT, switched to INHERIT by 20230529180330_alter_api_roles_for_inherit.sql.
create role anon nologin inherit;
create role authenticated nologin inherit;
create role service_role nologin inherit bypassrls;
alter role anon set statement_timeout = '3s';
alter role authenticated set statement_timeout = '8s';

-- PostgREST logs in as `authenticator` and switches to the JWT's role for each request. Its own
-- timeouts come from 20221028101028 (statement) and 20231130133139 (lock).
create role authenticator login noinherit password 'postgres';
grant anon, authenticated, service_role to authenticator;
alter role authenticator set statement_timeout = '8s';
alter role authenticator set lock_timeout = '8s';

-- Supabase preloads safeupdate into authenticator's sessions (20220118070449): an UPDATE or
-- DELETE without a WHERE clause fails there with 21000, also inside functions and triggers.
-- Debian does not package the library; where it has been installed, the embedded stack loads it
-- too. Where it has not, e2e/guards/safeupdate.py stands in for it (docs/platform-fidelity.md).
do $$
begin
    if exists (
        select from pg_ls_dir((select setting from pg_config where name = 'PKGLIBDIR')) f
        where f = 'safeupdate.so'
    ) then
        alter role authenticator set session_preload_libraries = 'safeupdate';
    end if;
end
$$;

-- The auth server's own role; owns the `auth` schema.
create role supabase_auth_admin login noinherit createrole password 'postgres';

grant anon, authenticated, service_role, supabase_auth_admin to postgres;

-- The image's migrate.sh hands the database to postgres.
alter database postgres owner to postgres;

-- As on Supabase, unqualified names find extension functions (pgTAP's plan(), crypt(), ...).
alter role postgres set search_path = "$user", public, extensions;
alter role supabase_admin set search_path = "$user", public, extensions;

-- ---------------------------------------------------------------------------------------------
-- Schemas
-- ---------------------------------------------------------------------------------------------

grant all on schema public to postgres;
grant usage on schema public to anon, authenticated, service_role;

create schema extensions;
grant usage on schema extensions to postgres, anon, authenticated, service_role;

create schema graphql_public;
grant usage on schema graphql_public to postgres, anon, authenticated, service_role;

-- Supabase's default privileges: what `postgres` creates in `public` is granted to the API roles
-- directly, functions included (which is why migrations must revoke from them by name).
alter default privileges for role postgres in schema public
    grant all on tables to anon, authenticated, service_role;
alter default privileges for role postgres in schema public
    grant all on sequences to anon, authenticated, service_role;
alter default privileges for role postgres in schema public
    grant execute on functions to anon, authenticated, service_role;

-- ---------------------------------------------------------------------------------------------
-- Extensions Supabase lets `postgres` use; created here because only a superuser can create them
-- on a plain cluster.
-- ---------------------------------------------------------------------------------------------

create extension pgtap with schema extensions;
-- installed by default on every Supabase project
create extension pgcrypto with schema extensions;
create extension "uuid-ossp" with schema extensions;
grant execute on all functions in schema extensions to postgres, anon, authenticated, service_role;
-- `supabase db lint` runs `create extension if not exists plpgsql_check` as postgres in a
-- transaction it rolls back; supautils lets postgres create it on Supabase, so here it exists
-- beforehand (after the grant above: the API roles have no use for it).
create extension plpgsql_check with schema extensions;

-- supautils puts pg_cron in pg_catalog (extensions_parameter_overrides); its objects live in
-- schema cron. pg_cron's after-create script lets postgres schedule and read jobs, and keep its
-- run history, but not write cron.job directly (cron.schedule() and cron.alter_job() do that).
create extension pg_cron with schema pg_catalog;
grant usage on schema cron to postgres with grant option;
grant execute on all functions in schema cron to postgres with grant option;
grant all on all tables in schema cron to postgres with grant option;
revoke all on table cron.job from postgres;
grant select on table cron.job to postgres with grant option;

-- ---------------------------------------------------------------------------------------------
-- The auth schema, as the auth server's migrations leave it (the parts this project uses)
-- ---------------------------------------------------------------------------------------------

create schema auth authorization supabase_auth_admin;
grant usage on schema auth to postgres, anon, authenticated, service_role;

create table auth.users (
    instance_id uuid,
    id uuid not null primary key,
    aud varchar(255),
    role varchar(255),
    email varchar(255),
    encrypted_password varchar(255),
    email_confirmed_at timestamptz,
    invited_at timestamptz,
    confirmation_token varchar(255),
    confirmation_sent_at timestamptz,
    recovery_token varchar(255),
    recovery_sent_at timestamptz,
    email_change_token_new varchar(255),
    email_change varchar(255),
    email_change_sent_at timestamptz,
    last_sign_in_at timestamptz,
    raw_app_meta_data jsonb,
    raw_user_meta_data jsonb,
    is_super_admin boolean,
    created_at timestamptz,
    updated_at timestamptz,
    phone text unique default null,
    phone_confirmed_at timestamptz,
    banned_until timestamptz,
    deleted_at timestamptz,
    is_sso_user boolean not null default false,
    is_anonymous boolean not null default false
);
alter table auth.users owner to supabase_auth_admin;
create index users_instance_id_idx on auth.users (instance_id);
create unique index users_email_partial_key on auth.users (email) where is_sso_user = false;
grant all on auth.users to postgres;

-- The helpers read the claims PostgREST sets per request. The legacy per-claim setting wins when set,
-- exactly as in the auth server's migrations.
create function auth.uid() returns uuid
    language sql stable
as $$
    select coalesce(
        nullif(current_setting('request.jwt.claim.sub', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
    )::uuid
$$;

create function auth.role() returns text
    language sql stable
as $$
    select coalesce(
        nullif(current_setting('request.jwt.claim.role', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
    )::text
$$;

create function auth.email() returns text
    language sql stable
as $$
    select coalesce(
        nullif(current_setting('request.jwt.claim.email', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email')
    )::text
$$;

create function auth.jwt() returns jsonb
    language sql stable
as $$
    select coalesce(
        nullif(current_setting('request.jwt.claim', true), ''),
        nullif(current_setting('request.jwt.claims', true), '')
    )::jsonb
$$;

alter function auth.uid() owner to supabase_auth_admin;
alter function auth.role() owner to supabase_auth_admin;
alter function auth.email() owner to supabase_auth_admin;
alter function auth.jwt() owner to supabase_auth_admin;
grant execute on all functions in schema auth to postgres, anon, authenticated, service_role;

-- ---------------------------------------------------------------------------------------------
-- PostgREST's schema cache follows DDL (20220126121436_finer-postgrest-triggers.sql)
-- ---------------------------------------------------------------------------------------------

-- A migration applied while PostgREST runs reaches the API without a restart: the image's event
-- triggers send `NOTIFY pgrst, 'reload schema'` after DDL on objects outside pg_temp.
create function extensions.pgrst_ddl_watch() returns event_trigger
    language plpgsql
as $$
begin
    if exists (
        select from pg_event_trigger_ddl_commands() c
        where c.command_tag in (
                'CREATE SCHEMA', 'ALTER SCHEMA', 'CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO',
                'ALTER TABLE', 'CREATE FOREIGN TABLE', 'ALTER FOREIGN TABLE', 'CREATE VIEW',
                'ALTER VIEW', 'CREATE MATERIALIZED VIEW', 'ALTER MATERIALIZED VIEW',
                'CREATE FUNCTION', 'ALTER FUNCTION', 'CREATE TRIGGER', 'CREATE TYPE',
                'ALTER TYPE', 'CREATE RULE', 'COMMENT')
          and c.schema_name is distinct from 'pg_temp'
    ) then
        notify pgrst, 'reload schema';
    end if;
end
$$;

create function extensions.pgrst_drop_watch() returns event_trigger
    language plpgsql
as $$
begin
    if exists (
        select from pg_event_trigger_dropped_objects() o
        where o.object_type in ('schema', 'table', 'foreign table', 'view', 'materialized view',
                                'function', 'trigger', 'type', 'rule')
          and not o.is_temporary
    ) then
        notify pgrst, 'reload schema';
    end if;
end
$$;

create event trigger pgrst_ddl_watch on ddl_command_end
    execute function extensions.pgrst_ddl_watch();
create event trigger pgrst_drop_watch on sql_drop
    execute function extensions.pgrst_drop_watch();
