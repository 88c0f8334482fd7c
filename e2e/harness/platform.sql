-- The Supabase platform layer for the embedded stack.
--
-- On a real Supabase database the supabase/postgres image and the auth server create all of this;
-- it is never applied there. Here it is run once, by the bootstrap superuser `supabase_admin`, on a
-- fresh cluster, before the Supabase CLI pushes the project's migrations as `postgres`.
-- Written from the documented behaviour (see README, "The embedded stack").

-- ---------------------------------------------------------------------------------------------
-- Roles
-- ---------------------------------------------------------------------------------------------

-- `postgres` is demoted on Supabase: migrations run as a non-superuser that bypasses RLS.
-- The password is the public local-development default of `supabase start`.
create role postgres login nosuperuser createdb createrole replication bypassrls password 'postgres';

create role anon nologin noinherit;
create role authenticated nologin noinherit;
create role service_role nologin noinherit bypassrls;
alter role anon set statement_timeout = '3s';
alter role authenticated set statement_timeout = '8s';

-- PostgREST logs in as `authenticator` and switches to the JWT's role for each request.
create role authenticator login noinherit password 'postgres';
grant anon, authenticated, service_role to authenticator;

-- The auth server's own role; owns the `auth` schema.
create role supabase_auth_admin login noinherit createrole password 'postgres';

grant anon, authenticated, service_role, supabase_auth_admin to postgres;

grant all on database postgres to postgres;

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

create extension pg_cron;
grant usage on schema cron to postgres;
grant all on all tables in schema cron to postgres;
grant all on all sequences in schema cron to postgres;
grant execute on all functions in schema cron to postgres;

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
