"""Fixtures around the refresh machinery (its toolkit is e2e/refresh_control.py): the operator's
handle on it, the flusher at work or paused, the failures a test records, and test data cleanup.

A scenario that needs a refresh ends the debounce window through the service connection first
(never by waiting out the 10 s). Activities a scenario writes are deleted after it, with the window
ended so that the deleting commit refreshes the views: the next scenario starts from the reference
dataset, whatever the order.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import psycopg
import pytest

from refresh_control import FLUSHER_START_DEADLINE, RefreshControl, poll
from transport import Reference

# The dashboard's promise after a write: the read views show it within this many seconds.
VIEW_DEADLINE = 2.0


def activity_payload(
    mentor_id: str, chapter_id: str, type_id: int, day: date, **extra: Any
) -> dict[str, Any]:
    """An activity as the app posts it, 45 minutes unless ``extra`` says otherwise (id,
    created_by and created_at are the database's)."""
    return {
        "peer_mentor_id": mentor_id,
        "chapter_id": chapter_id,
        "activity_type_id": type_id,
        "activity_date": day.isoformat(),
        "duration_minutes": 45,
        **extra,
    }


@pytest.fixture(scope="session")
def refresh_control(service_conn: psycopg.Connection) -> RefreshControl:
    """The operator's handle on the refresh log, the debounce window, the flush and the flusher."""
    return RefreshControl(service_conn)


@pytest.fixture
def flusher(refresh_control: RefreshControl) -> RefreshControl:
    """The flusher is at work: a run of its pg_cron job holds its lock and it is not paused. A
    run starts every minute, so right after a reset this can wait up to a minute."""
    poll(
        refresh_control.flusher_running,
        until=bool,
        deadline=FLUSHER_START_DEADLINE,
        what="a run of the flusher (pg_cron starts one every minute), not paused",
    )
    return refresh_control


@pytest.fixture
def flush_paused(refresh_control: RefreshControl) -> Iterator[None]:
    """The flusher refreshes nothing during the test, so the test alone decides every cycle."""
    with refresh_control.flusher_paused():
        yield


@pytest.fixture
def recorded_failures(refresh_control: RefreshControl) -> Iterator[int]:
    """The failure table's high-water mark; the failures recorded during the test are removed after.

    The test asserts them itself; removing them leaves the table as the next test expects it.
    """
    high_water = refresh_control.failure_high_water()
    yield high_water
    refresh_control.forget_failures_since(high_water)


@pytest.fixture
def new_activities(refresh_control: RefreshControl) -> Iterator[int]:
    """The activities' high-water mark; every activity inserted during the test is deleted after
    it, and the views refreshed.

    Scenarios change only rows they inserted; teardown checks that the reference rows are all
    still there, so a test that touched one fails rather than the next one.
    """
    count = "select count(*) from public.activities"
    before = refresh_control.conn.execute(count).fetchone()[0]
    high_water = refresh_control.activities_high_water()
    yield high_water
    refresh_control.conn.execute("delete from public.activities where id > %s", [high_water])
    # whether or not the deleting commit refreshed, the next test starts from current views
    refresh_control.settle()
    after = refresh_control.conn.execute(count).fetchone()[0]
    assert after == before, f"the test left {after - before:+d} activities behind"


@pytest.fixture(scope="session")
def oslo_today(service_conn: psycopg.Connection) -> date:
    """Today in the organisation's time zone: the latest date an activity may have."""
    return service_conn.execute("select (now() at time zone 'Europe/Oslo')::date").fetchone()[0]


@pytest.fixture(scope="session")
def counted_type(service_conn: psycopg.Connection) -> int:
    """An activity type that counts for Bufdir."""
    row = service_conn.execute(
        "select id from public.activity_types where counts_for_bufdir order by id limit 1"
    ).fetchone()
    assert row, "the catalogue has no activity type that counts for Bufdir"
    return row[0]


@pytest.fixture
def valid(reference: Reference, oslo_today: date, counted_type: int) -> dict[str, Any]:
    """A payload mentor_a may post: their own activity in chapter A, dated today."""
    return activity_payload(
        reference["mentor_a"].user_id, reference.chapter("A"), counted_type, oslo_today,
        duration_minutes=30,
    )  # fmt: skip
