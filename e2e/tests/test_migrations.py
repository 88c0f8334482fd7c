"""Every migration applies cleanly to an empty database, and applying it a second time, at its
place in the sequence, leaves the catalog and the refresh's state exactly as the first time left
them: what the Supabase CLI does when it re-runs a migration whose recording failed.

It builds an embedded cluster of its own (the platform layer, no seed) and applies each file with
psql as `postgres` in one transaction, as `supabase db push` does. Re-running a whole sequence at
its end is not the same property: a later migration may change what an earlier one defines (V015
changes a function's result), so an earlier file run again there would fail for a good reason.
"""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import psycopg
import pytest

from harness.embedded import EmbeddedCluster

MIGRATIONS = sorted((Path(__file__).resolve().parents[2] / "supabase" / "migrations").glob("*.sql"))

CATALOG_QUERIES = {
    "functions": """
        select p.oid::regprocedure::text, pg_get_functiondef(p.oid), p.proowner::regrole::text,
               p.proacl::text, p.prosecdef, p.proconfig, obj_description(p.oid, 'pg_proc')
        from pg_proc p where p.pronamespace::regnamespace::text in ('public', 'private', 'stats')
        order by 1""",
    "relations": """
        select c.oid::regclass::text, c.relkind, c.relowner::regrole::text, c.relacl::text,
               c.relrowsecurity, c.relforcerowsecurity, obj_description(c.oid, 'pg_class')
        from pg_class c
        where c.relnamespace::regnamespace::text in ('public', 'private', 'stats') order by 1""",
    "columns": """
        select c.oid::regclass::text, a.attname, format_type(a.atttypid, a.atttypmod),
               a.attnotnull, pg_get_expr(d.adbin, d.adrelid), a.attacl::text,
               col_description(c.oid, a.attnum)
        from pg_class c join pg_attribute a on a.attrelid = c.oid and a.attnum > 0
        left join pg_attrdef d on d.adrelid = c.oid and d.adnum = a.attnum
        where c.relnamespace::regnamespace::text in ('public', 'private', 'stats')
          and not a.attisdropped
        order by 1, 2""",
    "constraints": """
        select conrelid::regclass::text, conname, pg_get_constraintdef(oid),
               obj_description(oid, 'pg_constraint')
        from pg_constraint
        where connamespace::regnamespace::text in ('public', 'private', 'stats') order by 1, 2""",
    "indexes": """
        select indexrelid::regclass::text, pg_get_indexdef(indexrelid) from pg_index
        where indrelid in (select oid from pg_class
                           where relnamespace::regnamespace::text in ('public', 'private', 'stats'))
        order by 1""",
    "triggers": """
        select tgrelid::regclass::text, tgname, pg_get_triggerdef(oid), tgenabled,
               obj_description(oid, 'pg_trigger')
        from pg_trigger where not tgisinternal order by 1, 2""",
    "policies": """
        select schemaname, tablename, policyname, permissive, roles::text, cmd, qual, with_check
        from pg_policies order by 1, 2, 3""",
    "schemas": """
        select nspname, nspowner::regrole::text, nspacl::text from pg_namespace
        where nspname in ('public', 'stats', 'private', 'cron') order by 1""",
    "cron": """
        select jobname, schedule, command, database, username, active from cron.job
        order by jobname""",
    "extensions": "select extname, extversion from pg_extension order by 1",
}


def catalog(conn: psycopg.Connection) -> dict[str, list[tuple]]:
    """The project's objects as the catalog shows them (no OIDs), and the refresh's state."""
    shown = {name: conn.execute(sql).fetchall() for name, sql in CATALOG_QUERIES.items()}
    if conn.execute("select to_regclass('stats.stats_refresh_log')").fetchone()[0]:
        shown["refresh state"] = conn.execute(
            "select to_jsonb(l)::text from stats.stats_refresh_log l"
        ).fetchall()
    return shown


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _apply(db_url: str, migration: Path) -> None:
    result = subprocess.run(
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction", "-d", db_url,
         "-f", str(migration)],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, f"{migration.name}: {result.stderr.strip()}"


@pytest.mark.stack_lifecycle
@pytest.mark.embedded_cluster
def test_each_migration_applies_to_an_empty_database_and_again_without_change(
    tmp_path: Path,
) -> None:
    """On an empty database each migration applies, and applying it again right away changes
    nothing: not the catalog of public, private and stats, not the flush job, not the log row."""
    cluster = EmbeddedCluster(base_dir=tmp_path / "stack", port=_free_port())
    try:
        cluster.start()
        with psycopg.connect(cluster.db_url, autocommit=True) as conn:
            for migration in MIGRATIONS:
                _apply(cluster.db_url, migration)
                first = catalog(conn)
                _apply(cluster.db_url, migration)
                second = catalog(conn)
                changed = [name for name in first if second.get(name) != first[name]]
                assert not changed, f"{migration.name} changed {changed} when it ran again"
    finally:
        cluster.destroy()
