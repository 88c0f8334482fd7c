"""Freshness as the dashboard meets it, on every transport: a burst of writes is visible to the
coordinator within 2 s of each COMMIT with nobody ending the debounce window by hand; the current
month's figures turn with the calendar, not with a refresh; and the read path says whether changes
are still being counted."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date

import psycopg
import pytest
from psycopg import sql

from fix_stats import VIEW_DEADLINE, activity_payload
from refresh_control import RefreshControl, poll
from transport import Client, Reference, Transport

pytestmark = pytest.mark.usefixtures("new_activities")

BURST = 8  # writes of each of the two mentors
READ_EVERY = 0.05


def counts(client: Client, mentors: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """activity_count of each (chapter, mentor) as ``client`` reads peer_mentor_stats."""
    rows = client.select(
        "peer_mentor_stats",
        "chapter_id,peer_mentor_id,activity_count",
        filters=[("peer_mentor_id", "in", sorted({m for _, m in mentors}))],
    ).expect_ok()
    seen = {(r["chapter_id"], r["peer_mentor_id"]): r["activity_count"] for r in rows}
    return {key: seen.get(key, 0) for key in mentors}


@dataclass
class Reader:
    """Reads the coordinator's dashboard on a thread of its own until stopped."""

    client: Client
    mentors: list[tuple[str, str]]
    seen: list[tuple[float, dict[tuple[str, str], int]]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                started = time.monotonic()
                self.seen.append((started, counts(self.client, self.mentors)))
                self.stop.wait(max(0.0, started + READ_EVERY - time.monotonic()))
        except BaseException as exc:  # reported by the test, not lost with the thread
            self.error = exc

    def visible_at(self, key: tuple[str, str], count: int) -> float | None:
        """When a read started that showed ``key``'s count at ``count`` or more."""
        return next((t for t, c in self.seen if c[key] >= count), None)


def test_a_burst_of_two_mentors_is_visible_to_their_coordinator_within_2s(
    api: Transport,
    as_persona,
    reference: Reference,
    flusher: RefreshControl,
    oslo_today: date,
    counted_type: int,
) -> None:
    """Two mentors write a burst, then stop; their coordinator's dashboard shows each write within
    2 s of its COMMIT, whether it refreshed at commit or was left to the flusher."""
    writers = [("mentor_a", "A"), ("mentor_bc", "B")]
    keys = [(reference.chapter(ch), reference[name].user_id) for name, ch in writers]
    reader = Reader(api.open_client(reference["coordinator_ab"]), keys)
    base = counts(reader.client, keys)
    thread = threading.Thread(target=reader.run, name="dashboard")
    thread.start()
    committed: list[tuple[tuple[str, str], int, float]] = []
    try:
        for number in range(1, BURST + 1):
            for (name, _), key in zip(writers, keys, strict=True):
                result = as_persona(name).insert(
                    "activities",
                    activity_payload(key[1], key[0], counted_type, oslo_today, duration_minutes=20),
                    returning="minimal",
                )
                assert result.status == 201, result.error
                committed.append((key, base[key] + number, time.monotonic()))
        poll(
            lambda: reader.seen[-1][1] if reader.seen else None,
            until=lambda last: last is not None and all(last[k] >= base[k] + BURST for k in keys),
            deadline=VIEW_DEADLINE + 1.0,
            what="the coordinator's dashboard shows the whole burst",
        )
    finally:
        reader.stop.set()
        thread.join()
        reader.client.close()
    assert reader.error is None, reader.error
    delays = [reader.visible_at(key, count) - at for key, count, at in committed]
    assert max(delays) <= VIEW_DEADLINE, f"delays after COMMIT: {sorted(delays)}"


@pytest.fixture
def moved_clock(service_conn: psycopg.Connection) -> Iterator:
    """Moves the clock the read path sees (private.current_month_start()) to a given instant;
    puts the function back as it was afterwards."""
    original = service_conn.execute(
        "select pg_get_functiondef('private.current_month_start()'::regprocedure)"
    ).fetchone()[0]

    def move(at: str) -> None:
        service_conn.execute(
            sql.SQL(
                "create or replace function private.current_month_start() returns date "
                "language sql stable set search_path = '' "
                "as $f$ select private.oslo_month_start({}::timestamptz) $f$"
            ).format(sql.Literal(at))
        )

    yield move
    service_conn.execute(original)


def test_current_month_figures_turn_with_the_calendar_not_a_refresh(
    as_persona, reference: Reference, refresh_control: RefreshControl, moved_clock, service_conn
) -> None:
    """At midnight on the first of a month (Oslo) every current-month count reads 0 and the
    totals stay, with no write and no refresh; a second earlier the counts are this month's."""
    client = as_persona("coordinator_five")

    def figures() -> list[tuple]:
        rows = client.select(
            "peer_mentor_stats", "chapter_id,peer_mentor_id,activity_count,current_month_count"
        ).expect_ok()
        return sorted(
            (r["chapter_id"], r["peer_mentor_id"], r["activity_count"], r["current_month_count"])
            for r in rows
        )

    today = figures()
    assert any(row[3] > 0 for row in today), "the reference data has activities this month"
    cycles = refresh_control.refresh_count()
    midnight, second_before = service_conn.execute(
        "select m::text, (m - interval '1 second')::text from (select "
        "(date_trunc('month', now() at time zone 'Europe/Oslo') + interval '1 month')"
        "::timestamp at time zone 'Europe/Oslo' as m) x"
    ).fetchone()

    moved_clock(midnight)
    assert figures() == [(c, m, n, 0) for c, m, n, _ in today]
    moved_clock(second_before)
    assert figures() == today
    assert refresh_control.refresh_count() == cycles, "nothing refreshed meanwhile"


def test_the_read_path_says_whether_changes_are_still_being_counted(
    as_persona, reference: Reference, flusher: RefreshControl, oslo_today: date, counted_type: int
) -> None:
    """A change waiting for a refresh shows as changes_pending to the writer and its coordinator,
    not to a peer mentor of another chapter; once counted, nothing waits; anon reads nothing."""

    def pending(name: str) -> bool:
        rows = as_persona(name).select("stats_freshness").expect_ok()
        assert len(rows) == 1, rows
        return rows[0]["changes_pending"]

    anon = as_persona("anon").select("stats_freshness")
    assert (anon.status, anon.error and anon.error.code) == (401, "42501")

    with flusher.flusher_paused():
        mentor = reference["mentor_bc"]
        # the first write may refresh at its commit; the second then lands inside the debounce
        # window and is left to the (paused) flusher
        for _ in range(2):
            payload = activity_payload(
                mentor.user_id, reference.chapter("B"), counted_type, oslo_today,
                duration_minutes=15,
            )  # fmt: skip
            result = as_persona("mentor_bc").insert("activities", payload, returning="minimal")
            assert result.status == 201, result.error
        assert (pending("mentor_bc"), pending("coordinator_ab"), pending("mentor_a")) == (
            True,
            True,
            False,
        )
    poll(
        lambda: (pending("mentor_bc"), pending("coordinator_ab")),
        until=lambda seen: seen == (False, False),
        deadline=VIEW_DEADLINE,
        what="the flusher counted the change",
    )
