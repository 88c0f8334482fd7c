"""A persistent fault costs one failed cycle per debounce window, not one per write: with the
refresh broken, a storm of writes commits in full and adds at most two failure rows (a commit's and
the flusher's), and once the fault is repaired the flusher brings both views up to date without
another write."""

from __future__ import annotations

import time

import pytest

from fix_reliability import Monitor, Sessions, begin_request
from fix_reliability import insert_activity as insert
from refresh_control import BOTH_VIEWS_FRESH, RefreshControl, poll
from transport import Reference

pytestmark = pytest.mark.usefixtures("as_found")

WRITES = 200
WITHIN = 5.0  # seconds the storm may take
SESSIONS = 4


def test_a_storm_of_writes_against_a_broken_refresh_adds_at_most_two_failures(
    sessions: Sessions,
    monitor: Monitor,
    refresh_control: RefreshControl,
    reference: Reference,
    counted_type: int,
    recorded_failures: int,
    new_activities: int,
    flusher: RefreshControl,
) -> None:
    """200 writes within 5 s while a view is missing: every write commits, at most two failure
    rows, the log says since when it fails; repaired, the flusher catches up on its own."""
    mentor = reference["mentor_a"]
    writers = [sessions.open_api(f"writer{i}") for i in range(SESSIONS)]
    window = refresh_control.log()["debounce_window"].total_seconds()
    interval = refresh_control.log()["flush_interval"].total_seconds()

    def storm(conn, count: int) -> None:
        for _ in range(count):
            begin_request(conn, mentor)
            insert(conn, mentor_id=mentor.user_id, chapter_id=reference.chapter("A"),
                   type_id=counted_type, contact_ref="reliability:storm")  # fmt: skip
            conn.execute("commit")

    refresh_control.expire_window()  # the first commit of the storm attempts a refresh
    away = "alter materialized view stats.{} rename to {}"
    monitor.query(away.format("mv_activity_time_series", "mv_storm_away"))
    try:
        started = time.monotonic()
        running = [w.start(storm, WRITES // SESSIONS) for w in writers]
        for writer, step in zip(writers, running, strict=True):
            writer.finish(step)
        took = time.monotonic() - started
        failures = refresh_control.failures_since(recorded_failures)
        log = refresh_control.log()
    finally:
        monitor.query(
            "alter materialized view stats.mv_storm_away rename to mv_activity_time_series"
        )
    repaired = time.monotonic()

    assert took <= WITHIN, f"the storm took {took:.1f} s"
    assert (
        monitor.value("select count(*) from public.activities where id > %s", [new_activities])
        == WRITES
    ), "every write committed"
    assert 1 <= len(failures) <= 2, failures
    assert {f.sqlstate for f in failures} == {"42P01"}
    assert log["failing_since"] is not None and log["failed_cycles"] == len(failures)

    # No write from here on: the flusher retries a window after the last failure, and succeeds.
    poll(
        refresh_control.views_differ_from_definitions,
        until=lambda differ: differ == BOTH_VIEWS_FRESH,
        deadline=window + 2 * interval + 2.0,
        what="the flusher brings both views up to date after the repair",
    )
    waited = time.monotonic() - repaired
    assert refresh_control.failures_since(recorded_failures) == failures, "no further failure"
    log = refresh_control.log()
    assert (log["failing_since"], log["failed_cycles"], log["last_refresh_source"]) == (
        None,
        0,
        "flush",
    ), f"after {waited:.1f} s"
