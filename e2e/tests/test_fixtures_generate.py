"""The synthetic-activity generator: deterministic, within the data model's limits, and loadable
beside the reference dataset without changing its results."""

from __future__ import annotations

from collections import Counter
from datetime import date

import psycopg
import pytest

import harness
from fixtures import dataset, generate

TODAY = date(2026, 3, 15)


def test_same_seed_same_rows() -> None:
    """The same seed and day give the same rows; another seed gives others."""
    first = list(generate.activity_rows(2_000, seed=7, today=TODAY))
    assert first == list(generate.activity_rows(2_000, seed=7, today=TODAY))
    assert first != list(generate.activity_rows(2_000, seed=8, today=TODAY))


def test_a_larger_load_starts_with_a_smaller_one() -> None:
    """The first N rows of a larger load are the rows of a load of N."""
    small = list(generate.activity_rows(1_000, seed=7, today=TODAY))
    assert list(generate.activity_rows(3_000, seed=7, today=TODAY))[:1_000] == small


def test_rows_respect_the_data_model() -> None:
    """Dates in the two years up to today, durations in range, kinds known, mentors in chapter."""
    pop = generate.population()
    chapters_of = {m[0]: {pop.chapters[c][0] for c in m[2]} for m in pop.mentors}
    rows = list(generate.activity_rows(20_000, seed=3, today=TODAY, pop=pop))
    for mentor, chapter, kind, day, minutes, contact, status, _by, _at in rows:
        assert chapter in chapters_of[mentor]
        assert kind in {1, 2, 3, 4, 5}
        assert (TODAY - day).days in range(generate.DAYS)
        assert 1 <= minutes <= 1440
        assert contact is None or 1 <= len(contact) <= 100
        assert status in {"registered", "cancelled"}
    kinds = Counter(r[2] for r in rows)
    assert kinds[1] > kinds[2] > kinds[3] > 0 and kinds[5] > 0, "every kind, visits most"
    keys = Counter((r[0], r[2], r[3], r[5]) for r in rows if r[5] and r[6] == "registered")
    assert sum(n - 1 for n in keys.values()) > 100, "double registrations are part of the data"


def test_population_respects_the_limits() -> None:
    """No coordinator has more than five chapters; no synthetic id is a reference id."""
    pop = generate.population()
    assert max(len(c[2]) for c in pop.coordinators) == 5
    ref = dataset.load()
    reference_ids = {c for c, _ in ref.chapters.values()} | {p.id for p in ref.people.values()}
    synthetic_ids = set(pop.chapter_ids) | {m[0] for m in pop.mentors}
    synthetic_ids |= {c[0] for c in pop.coordinators}
    assert not reference_ids & synthetic_ids


@pytest.fixture
def rolled_back(stack: harness.Stack):
    """A connection as postgres inside a transaction that is rolled back after the test."""
    with psycopg.connect(stack.db_url) as conn:
        conn.execute("select 1")  # opens the transaction the load then runs inside
        yield conn
        conn.rollback()


def _reference_stats(conn: psycopg.Connection) -> list[tuple]:
    conn.execute("refresh materialized view stats.mv_peer_mentor_stats")
    conn.execute("refresh materialized view stats.mv_activity_time_series")
    chapters = [c for c, _ in dataset.load().chapters.values()]
    return conn.execute(
        """
        select 'p', chapter_id::text, peer_mentor_id::text, activity_count, total_minutes
        from stats.mv_peer_mentor_stats where chapter_id = any(%(c)s)
        union all
        select 't', chapter_id::text, month::text || '/' || activity_type_id, activity_count,
               total_minutes
        from stats.mv_activity_time_series where chapter_id = any(%(c)s)
        order by 1, 2, 3
        """,
        {"c": chapters},
    ).fetchall()


def test_load_replaces_and_leaves_the_reference_alone(rolled_back: psycopg.Connection) -> None:
    """Loading N rows twice leaves N synthetic rows, and the reference chapters' statistics as
    they were; the same seed gives the same statistics."""
    conn = rolled_back
    before = _reference_stats(conn)
    synthetic = [c[0] for c in generate.population().chapters]
    count = "select count(*) from public.activities where chapter_id = any(%s)"

    generate.load(conn, 3_000, seed=11, refresh=False, progress=False)
    assert conn.execute(count, [synthetic]).fetchone()[0] == 3_000
    generate.load(conn, 2_000, seed=11, refresh=False, progress=False)
    assert conn.execute(count, [synthetic]).fetchone()[0] == 2_000

    after = _reference_stats(conn)
    assert after == before
    totals = "select sum(activity_count), sum(total_minutes) from stats.mv_peer_mentor_stats"
    first = conn.execute(totals).fetchone()
    generate.load(conn, 2_000, seed=11, refresh=False, progress=False)
    _reference_stats(conn)
    assert conn.execute(totals).fetchone() == first
    assert first[0] > 1_000, "most synthetic activities count"
