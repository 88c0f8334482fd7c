"""The reference dataset: its rendered files are fresh, its hand-written expectations agree with
each other, and the database (seeded by `just reset`) holds exactly what they say."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

import psycopg
import pytest

import harness
from fixtures import dataset


def test_rendered_files_are_fresh() -> None:
    """supabase/seed.sql and the pgTAP include are what `python -m fixtures.dataset` renders now."""
    stale = [str(p.relative_to(dataset.PROJECT_ROOT)) for p in dataset.stale_files()]
    assert not stale, f"stale, run `python -m fixtures.dataset`: {stale}"


def test_expected_results_agree_with_each_other() -> None:
    """Per chapter, the hand-written time series and per-mentor statistics give the same totals."""
    by_mentor: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in dataset.load().expected["peer_mentor_stats"]:
        by_mentor[r["chapter"]][0] += r["activity_count"]
        by_mentor[r["chapter"]][1] += r["total_minutes"]
    by_month: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in dataset.load().expected["activity_time_series"]:
        by_month[r["chapter"]][0] += r["activity_count"]
        by_month[r["chapter"]][1] += r["total_minutes"]
    assert by_mentor == by_month
    counted = len(dataset.load().activities) - len(dataset.expected_not_counted())
    assert sum(n for n, _ in by_mentor.values()) == counted


def test_every_rule_is_exercised() -> None:
    """The dataset has cancelled, non-counting, cross-chapter duplicate and contact-less rows."""
    ref = dataset.load()
    reasons = " ".join(dataset.expected_not_counted().values())
    for rule in ("cancelled", "does not count", "duplicate of"):
        assert rule in reasons, f"no activity of the dataset shows the rule: {rule}"
    chapters_of_key = defaultdict(set)
    for a in ref.activities:
        if a.contact_ref and a.status == "registered":
            chapters_of_key[(a.mentor, a.type, a.months_ago, a.day, a.contact_ref)].add(a.chapter)
    assert any(len(c) > 1 for c in chapters_of_key.values()), "no duplicate across chapters"
    assert any(a.contact_ref is None and a.status == "registered" for a in ref.activities)
    assert any(a.created_by != a.mentor for a in ref.activities), "nothing registered on behalf"
    coordinators = [
        p for p in ref.people.values()
        if sum(role == "coordinator" for _, role in p.memberships) == 5
    ]  # fmt: skip
    assert coordinators, "no coordinator of five chapters"


@pytest.fixture
def refreshed(stack: harness.Stack) -> Iterator[psycopg.Connection]:
    """A connection as postgres with both stats views refreshed; everything rolls back after."""
    with psycopg.connect(stack.db_url) as conn:
        # Refreshed as their owner (postgres is a member of stats_owner), like the trigger does.
        conn.execute("refresh materialized view stats.mv_peer_mentor_stats")
        conn.execute("refresh materialized view stats.mv_activity_time_series")
        yield conn
        conn.rollback()


def test_seeded_users_are_the_personas(service_conn: psycopg.Connection) -> None:
    """Every user of the dataset exists as the auth server stores one, with its memberships."""
    ref = dataset.load()
    rows = service_conn.execute(
        """
        select u.id, u.email, u.encrypted_password = extensions.crypt(%s, u.encrypted_password),
               u.aud, u.role, u.instance_id::text, u.confirmation_token, u.recovery_token,
               u.email_change_token_new, u.email_change, u.email_confirmed_at is not null,
               p.full_name,
               coalesce((select array_agg(array[c.name, m.member_role]
                                          order by c.name, m.member_role)
                         from public.chapter_memberships m
                         join public.chapters c on c.id = m.chapter_id
                         where m.user_id = u.id), '{}')
        from auth.users u join public.profiles p on p.id = u.id
        where u.id = any(%s)
        """,
        [ref.password, [p.id for p in ref.people.values()]],
    ).fetchall()
    chapter_name = {letter: name for letter, (_id, name) in ref.chapters.items()}
    seen = {r[0]: r[1:] for r in rows}
    for person in ref.people.values():
        assert seen[person.id] == (
            person.email, True, "authenticated", "authenticated",
            dataset.INSTANCE_ID, "", "", "", "", True, person.full_name,
            sorted([chapter_name[c], role] for c, role in person.memberships),
        ), person.key  # fmt: skip


def test_counted_activities_are_the_expected(refreshed: psycopg.Connection) -> None:
    """Of the 33 reference activities, exactly those expected.json does not exclude count."""
    counted = {
        r[0] for r in refreshed.execute("select id from stats.counted_activities where id <= 33")
    }
    all_ids = {a.id for a in dataset.load().activities}
    assert counted == all_ids - set(dataset.expected_not_counted())


def test_peer_mentor_stats_are_the_expected(refreshed: psycopg.Connection) -> None:
    """stats.mv_peer_mentor_stats holds exactly expected.json's rows in the reference chapters."""
    ref = dataset.load()
    today = refreshed.execute("select (now() at time zone 'Europe/Oslo')::date").fetchone()[0]
    cur = refreshed.cursor(row_factory=psycopg.rows.dict_row)
    seen = cur.execute(
        """
        select chapter_id, peer_mentor_id, activity_count, total_minutes, last_activity_date,
               current_month_count
        from stats.mv_peer_mentor_stats where chapter_id = any(%s)
        """,
        [[c for c, _ in ref.chapters.values()]],
    ).fetchall()
    key = lambda r: (r["chapter_id"], r["peer_mentor_id"])  # noqa: E731
    assert sorted(seen, key=key) == sorted(dataset.expected_peer_mentor_stats(today), key=key)


def test_activity_time_series_is_the_expected(refreshed: psycopg.Connection) -> None:
    """stats.mv_activity_time_series holds exactly expected.json's rows in reference chapters."""
    ref = dataset.load()
    today = refreshed.execute("select (now() at time zone 'Europe/Oslo')::date").fetchone()[0]
    cur = refreshed.cursor(row_factory=psycopg.rows.dict_row)
    seen = cur.execute(
        """
        select s.chapter_id, s.month, t.code as activity_type, s.activity_count, s.total_minutes,
               s.active_mentors
        from stats.mv_activity_time_series s
        join public.activity_types t on t.id = s.activity_type_id
        where s.chapter_id = any(%s)
        """,
        [[c for c, _ in ref.chapters.values()]],
    ).fetchall()
    key = lambda r: (r["chapter_id"], r["month"], r["activity_type"])  # noqa: E731
    assert sorted(seen, key=key) == sorted(dataset.expected_activity_time_series(today), key=key)
