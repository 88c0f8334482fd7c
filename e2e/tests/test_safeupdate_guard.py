"""The stand-in for safeupdate (e2e/guards/safeupdate.py): it reads function bodies with
PostgreSQL's parser and finds every UPDATE or DELETE that Supabase's PostgREST sessions would
refuse."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from guards.safeupdate import check_database, check_function, check_migration

MIGRATIONS = Path(__file__).resolve().parents[2] / "supabase" / "migrations"
# The project's schemas: every function an API session can reach, directly or through a trigger,
# a policy, a read view or a commit-time refresh, lives in one of them.
PROJECT_SCHEMAS = ("public", "private", "stats")


def plpgsql(body: str, returns: str = "void") -> tuple[str, str, str, str]:
    """(name, language, source, definition) of a PL/pgSQL function with ``body``."""
    definition = f"create function t.f() returns {returns} language plpgsql as $fn$\n{body}\n$fn$"
    return ("t.f()", "plpgsql", body, definition)


def sql_function(body: str) -> tuple[str, str, str, str]:
    definition = f"create function t.f() returns void language sql as $fn$\n{body}\n$fn$"
    return ("t.f()", "sql", body, definition)


REFUSED = {
    "plain delete": plpgsql("begin delete from s.t; end"),
    "update": plpgsql("begin update s.t set a = 1; end"),
    "update with FROM but no WHERE": plpgsql("begin update s.t set a = u.a from s.u; end"),
    "delete with USING but no WHERE": plpgsql("begin delete from s.t using s.u; end"),
    "data-modifying CTE": plpgsql(
        "declare n int; begin with d as (delete from s.t returning 1) select count(*) into n "
        "from d; end"
    ),
    "inside IF, loop and exception handler": plpgsql(
        "begin if true then for i in 1..2 loop begin perform 1; exception when others then "
        "update s.t set a = 2; end; end loop; end if; end"
    ),
    "a trigger function": plpgsql("begin delete from s.log; return null; end", "trigger"),
    "a SQL function": sql_function("select 1; delete from s.t"),
}

ALLOWED = {
    "where true": plpgsql("begin delete from s.t where true; update s.t set a = 1 where true; end"),
    "a filtered CTE": plpgsql(
        "declare n int; begin with d as (delete from s.t where a > 1 returning 1) "
        "select count(*) into n from d; end"
    ),
    "assignments, defaults, PERFORM and RETURN": plpgsql(
        "declare x text := 'delete from s.t'; y int; begin y := 1; y = y + 1; "
        "perform pg_catalog.now(); return; end"
    ),
    "an INSERT ... ON CONFLICT DO UPDATE": sql_function(
        "insert into s.t (id) values (1) on conflict (id) do update set a = 1"
    ),
    "a SQL function that filters": sql_function("update s.t set a = 1 where s.t.id = 1"),
}


@pytest.mark.parametrize("function", REFUSED.values(), ids=REFUSED.keys())
def test_unqualified_writes_are_found(function: tuple[str, str, str, str]) -> None:
    """Each form of UPDATE or DELETE that safeupdate refuses is reported, with its table."""
    findings = check_function(*function)
    assert findings, "the guard found nothing"
    assert all("without a WHERE clause" in f.problem and "s." in f.problem for f in findings)


@pytest.mark.parametrize("function", ALLOWED.values(), ids=ALLOWED.keys())
def test_qualified_writes_and_other_statements_pass(function: tuple[str, str, str, str]) -> None:
    """What safeupdate lets through (``where true`` included) is not reported."""
    assert check_function(*function) == []


def test_what_cannot_be_read_is_reported_not_passed() -> None:
    """Dynamic SQL and other languages are findings: the guard cannot vouch for them."""
    dynamic = check_function(*plpgsql("begin execute 'delete from s.t'; end"))
    assert [f.problem for f in dynamic] == ["dynamic SQL (EXECUTE) cannot be checked"]
    other = check_function("t.f()", "plpython3u", "plpy.execute('delete from s.t')", "")
    assert [f.problem for f in other] == ["functions in plpython3u cannot be checked"]


def test_the_guard_finds_the_unqualified_deletes_v009_landed_with() -> None:
    """V009 as it landed holds the deletes that made every commit-time refresh through the API
    fail on Supabase; the guard names each of them."""
    (v009,) = MIGRATIONS.glob("*_incremental_stats_summary.sql")
    findings = check_migration(v009.read_text())
    found = {(f.function, f.problem.split(" without")[0]) for f in findings}
    assert found == {
        ("stats.apply_activity_summary_changes", "DELETE FROM stats.activity_summary_changes"),
        ("stats.apply_activity_summary_changes", "DELETE FROM stats.activity_month_summary"),
        ("stats.trg_truncate_activity_summary", "DELETE FROM stats.activity_summary_changes"),
        ("stats.trg_truncate_activity_summary", "DELETE FROM stats.activity_month_summary"),
    }


def test_no_function_of_the_project_updates_or_deletes_without_where(
    service_conn: psycopg.Connection,
) -> None:
    """Every function in public, private and stats of the migrated database would pass
    safeupdate: the embedded stack cannot load it, so this is the check that stands in for it."""
    findings = check_database(service_conn, PROJECT_SCHEMAS)
    assert findings == [], "safeupdate would refuse:\n" + "\n".join(map(str, findings))
