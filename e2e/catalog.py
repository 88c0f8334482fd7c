"""One fingerprint of the database, in named parts, for the tests that compare two of its states.

Each part is a query whose rows, read before and after, show a change of one kind; none shows an
OID, so an object dropped and made again with the same definition compares equal. A test takes the
parts it needs:

- ``AS_FOUND``: what a fault or a tuned setting could leave changed (the reliability suite checks
  that every test leaves them as it found them);
- ``MIGRATION``: everything a migration defines, and the refresh's state (a migration applied a
  second time must change none of it);
- ``ACCESS_BOUNDARY``: what the API roles may reach, and every policy (V007's rollback round trip
  must leave it as it was).
"""

from __future__ import annotations

import psycopg

# The schemas the project's migrations define objects in.
PROJECT = "('public', 'private', 'stats')"

PARTS = {
    "schemas": """
        select nspname, nspowner::regrole::text, nspacl::text from pg_namespace
        where nspname in ('public', 'stats', 'private', 'cron') order by 1""",
    # A privilege revoked and granted again comes back at the end of its ACL: "relations" and
    # "functions" sort the entries, "acl order" keeps them as PostgreSQL lists them.
    "relations": f"""
        select c.oid::regclass::text, c.relkind, c.relowner::regrole::text,
               array(select a::text from unnest(c.relacl) a order by 1),
               c.relrowsecurity, c.relforcerowsecurity, obj_description(c.oid, 'pg_class')
        from pg_class c where c.relnamespace::regnamespace::text in {PROJECT} order by 1""",
    "functions": f"""
        select p.oid::regprocedure::text, pg_get_functiondef(p.oid), p.proowner::regrole::text,
               array(select a::text from unnest(p.proacl) a order by 1), p.prosecdef,
               p.proconfig, md5(p.prosrc), obj_description(p.oid, 'pg_proc')
        from pg_proc p where p.pronamespace::regnamespace::text in {PROJECT} order by 1""",
    "acl order": f"""
        select c.oid::regclass::text, c.relacl::text from pg_class c
        where c.relnamespace::regnamespace::text in {PROJECT}
        union all
        select p.oid::regprocedure::text, p.proacl::text from pg_proc p
        where p.pronamespace::regnamespace::text in {PROJECT}
        order by 1""",
    "columns": f"""
        select c.oid::regclass::text, a.attname, format_type(a.atttypid, a.atttypmod),
               a.attnotnull, pg_get_expr(d.adbin, d.adrelid), a.attacl::text,
               col_description(c.oid, a.attnum)
        from pg_class c join pg_attribute a on a.attrelid = c.oid and a.attnum > 0
        left join pg_attrdef d on d.adrelid = c.oid and d.adnum = a.attnum
        where c.relnamespace::regnamespace::text in {PROJECT} and not a.attisdropped
        order by 1, 2""",
    "constraints": f"""
        select conrelid::regclass::text, conname, pg_get_constraintdef(oid),
               obj_description(oid, 'pg_constraint')
        from pg_constraint where connamespace::regnamespace::text in {PROJECT} order by 1, 2""",
    "indexes": f"""
        select indexrelid::regclass::text, pg_get_indexdef(indexrelid) from pg_index
        where indrelid in (select oid from pg_class
                           where relnamespace::regnamespace::text in {PROJECT})
        order by 1""",
    "triggers": """
        select tgrelid::regclass::text, tgname, pg_get_triggerdef(oid), tgenabled, tgdeferrable,
               tginitdeferred, obj_description(oid, 'pg_trigger')
        from pg_trigger where not tgisinternal order by 1, 2""",
    "policies": """
        select schemaname, tablename, policyname, permissive, roles::text, cmd, qual, with_check
        from pg_policies order by 1, 2, 3""",
    "row security": """
        select c.oid::regclass::text, c.relrowsecurity, c.relforcerowsecurity from pg_class c
        where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p') order by 1""",
    # Every privilege the API roles (and PUBLIC) hold on schemas, relations, columns and functions
    # of the schemas the project uses; NULL ACLs are expanded to the built-in defaults they stand
    # for. A privilege granted by two grantors counts once.
    "api grants": """
        with objects as (
            select 'schema' as kind, n.nspname::text as name, n.nspacl as acl,
                   acldefault('n', n.nspowner) as default_acl
            from pg_namespace n
            where n.nspname in ('public', 'stats', 'private', 'auth', 'extensions')
            union all
            select 'relation', c.oid::regclass::text, c.relacl,
                   acldefault(case c.relkind when 'S' then 's' else 'r' end::"char", c.relowner)
            from pg_class c
            where c.relnamespace::regnamespace::text in ('public', 'stats', 'private', 'auth')
              and c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')
            union all
            select 'column', c.oid::regclass::text || '.' || a.attname, a.attacl, null
            from pg_class c join pg_attribute a on a.attrelid = c.oid and a.attnum > 0
            where c.relnamespace::regnamespace::text in ('public', 'stats', 'private', 'auth')
              and a.attacl is not null
            union all
            select 'function', p.oid::regprocedure::text, p.proacl, acldefault('f', p.proowner)
            from pg_proc p
            where p.pronamespace::regnamespace::text in ('public', 'stats', 'private', 'auth')
        )
        select distinct o.kind, o.name,
               case a.grantee when 0 then 'PUBLIC' else a.grantee::regrole::text end,
               a.privilege_type
        from objects o, aclexplode(coalesce(o.acl, o.default_acl)) a
        where a.grantee = 0
           or a.grantee in (select oid from pg_roles
                            where rolname in ('anon', 'authenticated', 'service_role',
                                              'authenticator'))
        order by 1, 2, 3, 4""",
    "cron jobs": """
        select jobname, schedule, command, database, username, active from cron.job
        order by jobname""",
    "extensions": "select extname, extversion from pg_extension order by 1",
    # the operator's settings of the refresh, then the whole log row
    "refresh settings": """
        select debounce_window::text, mode, flush_interval::text, flush_paused
        from stats.stats_refresh_log""",
    "refresh state": "select to_jsonb(l)::text from stats.stats_refresh_log l",
    "activities": "select count(*) from public.activities",
}
# Parts that read a table a migration makes: left out while it does not exist.
NEEDS = {"refresh settings": "stats.stats_refresh_log", "refresh state": "stats.stats_refresh_log"}

AS_FOUND = ("relations", "functions", "triggers", "policies", "refresh settings", "cron jobs",
            "activities")  # fmt: skip
MIGRATION = ("schemas", "relations", "acl order", "columns", "constraints", "indexes", "functions",
             "triggers", "policies", "cron jobs", "extensions", "refresh state")  # fmt: skip
ACCESS_BOUNDARY = ("api grants", "policies", "row security")


def fingerprint(conn: psycopg.Connection, parts: tuple[str, ...]) -> dict[str, list[tuple]]:
    """The rows of each named part, read on ``conn``."""
    shown = {}
    for name in parts:
        needed = NEEDS.get(name)
        if needed and conn.execute("select to_regclass(%s)", (needed,)).fetchone()[0] is None:
            continue
        shown[name] = conn.execute(PARTS[name]).fetchall()
    return shown
