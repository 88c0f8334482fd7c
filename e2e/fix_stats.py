"""Fixtures around the stats machinery: the refresh log, the debounce window, and test data cleanup.

A scenario that needs a refresh opens the debounce window through the service connection first
(never by waiting out the 10 s). Activities a scenario writes are deleted after it, with the window
open so that the deleting commit refreshes the views: the next scenario starts from the reference
dataset, whatever the order.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

import psycopg
import pytest
from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_fixed

from transport import Reference

T = TypeVar("T")

# The dashboard's promise after a write: the read views show it within this many seconds.
VIEW_DEADLINE = 2.0
POLL_INTERVAL = 0.05
# pg_cron starts the flusher's run at the next minute (a minute at most, after a reset).
FLUSHER_START_DEADLINE = 75.0


def poll(read: Callable[[], T], until: Callable[[T], bool], *, deadline: float = VIEW_DEADLINE,
         what: str) -> tuple[T, float]:  # fmt: skip
    """Read until ``until(value)`` holds: the value and the seconds it took, else fail."""
    started = time.monotonic()
    retrying = Retrying(
        stop=stop_after_delay(deadline),
        wait=wait_fixed(POLL_INTERVAL),
        retry=retry_if_result(lambda value: not until(value)),
    )
    try:
        value = retrying(read)
    except RetryError as exc:
        last = exc.last_attempt.result()
        raise AssertionError(f"not within {deadline} s: {what}; last read: {last!r}") from None
    return value, time.monotonic() - started


@dataclass
class StatsControl:
    """Reads and steers the refresh machinery as an operator does, with V007's helpers.

    ``postgres`` (the service connection) is a member of ``stats_owner`` and may run the operator
    functions and read the log; no API role can do either.
    """

    service: psycopg.Connection

    def refresh_count(self) -> int:
        row = self.service.execute("select refresh_count from stats.stats_refresh_log").fetchone()
        assert row is not None, "stats.stats_refresh_log has no row"
        return row[0]

    def last_refresh_source(self) -> str | None:
        """Who ran the last refresh cycle: ``commit`` (the trigger) or ``flush``."""
        return self.service.execute(
            "select last_refresh_source from stats.stats_refresh_log"
        ).fetchone()[0]

    def open_window(self) -> None:
        """End the debounce window, so that the next commit that changes activities refreshes."""
        self.service.execute("select stats.expire_stats_refresh_window()")

    def flush(self) -> str:
        """Run the trailing flush as its pg_cron job does: idle, busy, refreshed or failed."""
        return self.service.execute("select stats.flush_stats_refresh()").fetchone()[0]

    def flusher_running(self) -> bool:
        """A flusher run holds its lock (pg_cron starts one every minute) and is not paused."""
        return self.service.execute(
            "select exists (select from pg_locks where locktype = 'advisory' and granted "
            "and objsubid = 1 and (classid::bigint << 32 | objid::bigint) = 20261201000014) "
            "and not (select flush_paused from stats.stats_refresh_log)"
        ).fetchone()[0]

    def pause_flusher(self, paused: bool) -> None:
        """Pause or resume the flusher; once a pause returns, none of its refreshes runs."""
        self.service.execute("select stats.configure_stats_flusher(p_paused => %s)", [paused])

    def activities_high_water(self) -> int:
        row = self.service.execute("select coalesce(max(id), 0) from public.activities").fetchone()
        return row[0]

    def delete_activities_after(self, high_water: int) -> int:
        """Delete rows inserted after ``high_water``; the deleting commit refreshes the views."""
        self.open_window()
        cur = self.service.execute("delete from public.activities where id > %s", [high_water])
        return cur.rowcount


@pytest.fixture(scope="session")
def stats_control(service_conn: psycopg.Connection) -> StatsControl:
    """The operator's handle on the refresh log, the debounce window and the flush."""
    return StatsControl(service_conn)


@pytest.fixture
def flusher(stats_control: StatsControl) -> StatsControl:
    """The flusher is at work: a run of its pg_cron job holds its lock and it is not paused. A
    run starts every minute, so right after a reset this can wait up to a minute."""
    poll(
        stats_control.flusher_running,
        until=bool,
        deadline=FLUSHER_START_DEADLINE,
        what="a run of the flusher (pg_cron starts one every minute), not paused",
    )
    return stats_control


@pytest.fixture
def new_activities(stats_control: StatsControl) -> Iterator[StatsControl]:
    """Every activity inserted during the test is deleted after it, and the views refreshed.

    Scenarios change only rows they inserted; teardown checks that the reference rows are all
    still there, so a test that touched one fails rather than the next one.
    """
    count = "select count(*) from public.activities"
    before = stats_control.service.execute(count).fetchone()[0]
    high_water = stats_control.activities_high_water()
    yield stats_control
    stats_control.delete_activities_after(high_water)
    after = stats_control.service.execute(count).fetchone()[0]
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
    return {
        "peer_mentor_id": reference["mentor_a"].user_id,
        "chapter_id": reference.chapter("A"),
        "activity_type_id": counted_type,
        "activity_date": oslo_today.isoformat(),
        "duration_minutes": 30,
    }
