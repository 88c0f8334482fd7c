"""The debounce state lives in the database: a restart between two writes keeps the window shut.

Restarting breaks every open connection, so this test opens its own after the restart, uses none of
the per-test connection fixtures, and runs after every other test (``restarts_database``).
"""

from __future__ import annotations

from urllib.parse import urlsplit

import psycopg
import pytest

import harness
from fix_reliability import (
    Machinery,
    Monitor,
    Sessions,
    begin_request,
    fingerprint,
    insert_activity,
)
from harness.embedded import EmbeddedCluster
from transport import Persona, Reference

# Longer than any restart takes, so that the second write is still inside the window.
RESTART_WINDOW = "10 minutes"


def write(conn: psycopg.Connection, persona: Persona, chapter_id: str, type_id: int) -> int:
    """One request as ``persona`` that inserts an activity and commits; its transaction id."""
    begin_request(conn, persona)
    insert_activity(
        conn,
        mentor_id=persona.user_id,
        chapter_id=chapter_id,
        type_id=type_id,
        contact_ref="reliability:restart",
    )
    xact = conn.execute("select pg_current_xact_id()::text::bigint").fetchone()[0]
    conn.execute("commit")
    return xact


@pytest.mark.restarts_database
@pytest.mark.embedded_cluster
def test_debounce_window_survives_a_database_restart(
    stack: harness.Stack, reference: Reference, counted_type: int
) -> None:
    """A write refreshes, the database restarts, and a write inside the window still skips; the
    next write after the window ends refreshes."""
    cluster = EmbeddedCluster.from_env()
    assert urlsplit(stack.db_url).port == cluster.port, "the suite's stack is not this cluster"
    mentor, chapter = reference["mentor_a"], reference.chapter("A")

    monitor = Monitor(stack.superuser_db_url)
    machinery = Machinery(monitor)
    found = fingerprint(monitor)
    activities_high_water = monitor.value("select coalesce(max(id), 0) from public.activities")
    failures_high_water = machinery.failure_high_water()
    window = machinery.log()["debounce_window"]
    # the flusher must not refresh behind the test's back while it counts cycles; the pause is a
    # setting of the log row, so it holds across the restart
    flusher_paused = machinery.pause_flusher(True)
    sessions = Sessions(stack, monitor)
    try:
        machinery.configure(window=RESTART_WINDOW)
        machinery.open_window()
        cycles = machinery.refresh_count()

        sessions.open_api("before restart").run(write, mentor, chapter, counted_type)
        before_restart = machinery.log()
        assert before_restart["refresh_count"] == cycles + 1

        sessions.close()
        monitor.close()
        cluster.restart()
        monitor = Monitor(stack.superuser_db_url)
        machinery = Machinery(monitor)
        sessions = Sessions(stack, monitor)

        assert machinery.log() == before_restart
        xact = sessions.open_api("inside window").run(write, mentor, chapter, counted_type)
        assert machinery.refresh_count() == cycles + 1
        assert machinery.pending_reasons([xact]) == {xact: "debounced"}

        machinery.open_window()
        sessions.open_api("window over").run(write, mentor, chapter, counted_type)
        assert machinery.refresh_count() == cycles + 2
        assert machinery.pending_reasons([xact]) == {}
        assert machinery.failures_after(failures_high_water) == []
    finally:
        sessions.close()
        monitor.close()
        # after a failed restart assertion the old connection is gone: restore on a new one
        with Monitor(stack.superuser_db_url) as restorer:
            _restore(restorer, flusher_paused, window, activities_high_water, failures_high_water)
            assert fingerprint(restorer) == found


def _restore(
    monitor: Monitor,
    flusher_paused: bool,
    window,
    activities_high_water: int,
    failures_high_water: int,
) -> None:
    machinery = Machinery(monitor)
    machinery.configure(window=f"{window.total_seconds()} seconds")
    machinery.open_window()
    # the deleting commit refreshes both views back to what the test found
    monitor.query("delete from public.activities where id > %s", [activities_high_water])
    monitor.query("delete from stats.stats_refresh_failures where id > %s", [failures_high_water])
    machinery.pause_flusher(flusher_paused)
