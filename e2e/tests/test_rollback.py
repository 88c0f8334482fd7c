"""V007's rollback, round trip: roll back, check, re-apply, check (the ticket: test it in CI).

The rollback runs as operators run it (`python -m harness rollback <version>`, which `just rollback`
calls): the migrations applied after V007 are undone first, newest first (some change V007's
objects), then V007; each script as postgres in one transaction, then `supabase migration repair
--status reverted`; `python -m harness migrate` (`supabase db push`) re-applies them all. On a
database with 50 000 more activities, the round trip must keep every row of activities and both
views, and leave the access boundary and every policy exactly as they were (D4): with V007, after
its rollback (the state before V007) and after re-applying it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

import harness
from catalog import ACCESS_BOUNDARY, fingerprint
from fix_refresh import DEADLINE, V007_VERSION, RefreshProbe, commit_within
from fixtures import generate
from refresh_control import FLUSH_JOB

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS = PROJECT_ROOT / "supabase" / "migrations"
PERSONAS = json.loads((PROJECT_ROOT / "fixtures" / "reference" / "personas.json").read_text())
POPULATED = 50_000

V007_OBJECTS_SQL = """
select 'trigger ' || tgname from pg_trigger
where tgrelid = 'public.activities'::regclass and tgname = 'trg_refresh_stats_views'
union all
select 'function ' || p.oid::regprocedure::text from pg_proc p
where p.pronamespace = 'stats'::regnamespace
  and p.proname in ('trg_refresh_stats_views', 'flush_stats_refresh', 'run_stats_refresh',
                    'configure_stats_refresh', 'expire_stats_refresh_window')
union all
select 'table ' || c.oid::regclass::text from pg_class c
where c.relnamespace = 'stats'::regnamespace
  and c.relname in ('stats_refresh_log', 'stats_refresh_failures', 'stats_refresh_pending')
union all
select 'job ' || jobname from cron.job where jobname = %s
order by 1
"""
V007_OBJECTS = sorted(
    [
        "trigger trg_refresh_stats_views",
        "function stats.trg_refresh_stats_views()",
        "function stats.flush_stats_refresh()",
        "function stats.run_stats_refresh(text)",
        "function stats.configure_stats_refresh(interval,text)",
        "function stats.expire_stats_refresh_window()",
        "table stats.stats_refresh_log",
        "table stats.stats_refresh_failures",
        "table stats.stats_refresh_pending",
        f"job {FLUSH_JOB}",
    ]
)

# What a caller reads through the API's paths, as (row count, digest of the rows).
READS = {
    "activities": "public.activities",
    "peer_mentor_stats": "public.peer_mentor_stats",
    "activity_time_series": "public.activity_time_series",
}
# mv_peer_mentor_stats gained counted_month in V015, both views no_duplicate_check in V018 (rolled
# back on the way): the columns common to every version are compared here.
DATA = {
    "activities": "public.activities",
    "mv_peer_mentor_stats": (
        "(select chapter_id, peer_mentor_id, activity_count, total_minutes, last_activity_date, "
        "current_month_count from stats.mv_peer_mentor_stats)"
    ),
    "mv_activity_time_series": (
        "(select chapter_id, month, activity_type_id, activity_count, total_minutes, "
        "active_mentors from stats.mv_activity_time_series)"
    ),
}


def _digest_sql(relation: str) -> str:
    return (
        "select count(*), md5(coalesce(string_agg(x::text, '|' order by x::text), '')) "
        f"from {relation} x"
    )


def run_harness(*args: str) -> None:
    """Run the harness's command line as the Justfile's recipes do; fail with its output."""
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT / "e2e")}
    result = subprocess.run(
        [sys.executable, "-m", "harness", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=300,
    )
    assert result.returncode == 0, f"harness {' '.join(args)}: {result.stdout}{result.stderr}"


def v007_objects(conn: psycopg.Connection) -> list[str]:
    return [row[0] for row in conn.execute(V007_OBJECTS_SQL, (FLUSH_JOB,)).fetchall()]


def data(conn: psycopg.Connection) -> dict[str, tuple[Any, ...]]:
    """Every row of activities and of both views, as (count, digest)."""
    return {name: conn.execute(_digest_sql(rel)).fetchone() for name, rel in DATA.items()}


def callers(conn: psycopg.Connection, probe: RefreshProbe) -> dict[str, dict[str, Any] | None]:
    """The JWT claims of each caller to compare: anon, service_role, the reference personas that
    exist in this database, and the tests' own mentor and coordinator."""
    world = probe.world
    found: dict[str, dict[str, Any] | None] = {
        "anon": {"role": "anon"},
        "service_role": {"role": "service_role"},
        "test mentor": world.claims(world.mentor_id, world.mentor_email),
        "test coordinator": world.claims(world.coordinator_id, world.coordinator_email),
    }
    for name, persona in PERSONAS["personas"].items():
        row = conn.execute(
            "select id::text from auth.users where email = %s", (persona["email"],)
        ).fetchone()
        if row is not None:
            found[name] = world.claims(row[0], persona["email"])
    return found


def seen_by(conn: psycopg.Connection, claims: dict[str, Any]) -> dict[str, Any]:
    """What a caller reads, replayed as PostgREST runs a request: role and claims for one
    transaction, then the query; a refusal is recorded by its SQLSTATE."""
    seen: dict[str, Any] = {}
    for name, relation in READS.items():
        try:
            with conn.transaction():
                conn.execute(
                    "select set_config('role', %s, true), "
                    "set_config('request.jwt.claims', %s, true)",
                    (claims["role"], json.dumps(claims)),
                )
                seen[name] = conn.execute(_digest_sql(relation)).fetchone()
        except psycopg.Error as exc:
            seen[name] = f"refused: {exc.sqlstate}"
    return seen


def access_boundary(conn: psycopg.Connection, probe: RefreshProbe) -> dict[str, Any]:
    """The grants of the API roles (by object), every policy, RLS flags, and what each caller
    sees."""
    with psycopg.connect(probe.stack.db_url, autocommit=True) as replay:
        seen = {who: seen_by(replay, claims) for who, claims in callers(conn, probe).items()}
    return {**fingerprint(conn, ACCESS_BOUNDARY), "seen": seen}


@pytest.fixture
def populated(refresh: RefreshProbe) -> Iterator[int]:
    """The project's 50 000 synthetic activities (fixtures.generate), loaded with the window open,
    so that the loading commit refreshes; removed afterwards, with the synthetic population if
    this fixture created it."""
    population = generate.population()
    existed = refresh.conn.execute(
        "select exists (select from public.chapters where id = %s)", (population.chapter_ids[0],)
    ).fetchone()[0]
    refresh.expire_window()
    with refresh.connect() as conn:
        generate.load(conn, POPULATED, refresh=False, progress=False)
    try:
        yield POPULATED
    finally:
        with refresh.connect() as conn:
            generate.load(conn, 0, refresh=False, progress=False)
            if not existed:
                people = [m[0] for m in population.mentors] + [
                    c[0] for c in population.coordinators
                ]
                with conn.transaction():
                    # profiles and memberships go with users and chapters (on delete cascade)
                    conn.execute("delete from auth.users where id = any(%s)", (people,))
                    conn.execute(
                        "delete from public.chapters where id = any(%s)", (population.chapter_ids,)
                    )


def test_rollback_round_trip_keeps_data_and_access_boundary(
    refresh: RefreshProbe, populated: int
) -> None:
    """Rolling V007 back removes exactly its objects and no data, and leaves the access boundary
    and every policy as they were with V007 (the later migrations, which `just rollback` undoes
    first, are rolled back before the comparison starts); re-applying everything restores the
    state the test found."""
    service = refresh.conn
    # Nothing pending: rolling back V008 on the way rebuilds both views from the activities, which
    # would take a pending change in and make the views' rows differ for a good reason.
    assert refresh.pending() == {}, "the loading commit refreshed both views"

    local = sorted(f.name.split("_", 1)[0] for f in MIGRATIONS.glob("*.sql"))
    assert harness.stack.applied_versions() == local, (
        "the database is not at the repository's migrations (run `just reset`): re-applying V007 "
        "would apply the others too"
    )
    with_all = access_boundary(service, refresh)
    data_with_all = data(service)
    assert data_with_all["activities"][0] >= populated
    after_v007 = [v for v in local if v > V007_VERSION]

    try:
        if after_v007:
            run_harness("rollback", after_v007[0])  # down to V007: the state it is judged in
        assert harness.stack.applied_versions() == [v for v in local if v <= V007_VERSION]
        assert v007_objects(service) == V007_OBJECTS
        with_v007 = access_boundary(service, refresh)
        data_with_v007 = data(service)
        assert data_with_v007 == data_with_all, "rolling back the later ones changed data"

        run_harness("rollback", V007_VERSION)
        assert v007_objects(service) == [], "the rollback left some of V007 behind"
        assert V007_VERSION not in harness.stack.applied_versions()
        assert data(service) == data_with_v007, "the rollback changed activities or a view"
        assert access_boundary(service, refresh) == with_v007, "the boundary changed (rollback)"
        assert service.execute(
            "select count(*) from pg_extension where extname = 'pg_cron'"
        ).fetchone() == (1,), "pg_cron stays: other jobs may use it"

        # writes work without the trigger and leave the views alone
        with refresh.connect() as writer:
            refresh.insert(writer)
            commit_within(writer, DEADLINE)
        service.execute(
            "delete from public.activities where id = (select max(id) from public.activities)"
        )
        assert data(service) == data_with_v007
    finally:
        if harness.stack.applied_versions() != local:
            run_harness("migrate")

    assert v007_objects(service) == V007_OBJECTS
    assert harness.stack.applied_versions() == local
    assert data(service) == data_with_all, "re-applying the migrations changed activities or a view"
    assert access_boundary(service, refresh) == with_all, "the boundary changed (re-apply)"
    log = refresh.log()
    assert (log["refresh_count"], log["refreshed_at"], log["mode"]) == (0, None, "commit")

    # the trigger works again: the first commit refreshes (the log says never)
    refresh.configure_flusher(paused=True)  # a new log row: the flusher runs again
    refresh.commit_insert()
    assert refresh.refresh_count() == 1
    assert refresh.failures_since(0) == [], "a new failure table, and nothing in it"
