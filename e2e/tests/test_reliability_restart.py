"""The debounce state lives in the database: a restart between two writes keeps the window shut.

Restarting breaks every open connection, so this test opens its own after the restart, uses none of
the per-test connection fixtures, and runs after every other test (``restarts_database``).
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import psycopg
import pytest

import harness
from catalog import AS_FOUND, fingerprint
from fix_reliability import Monitor, Sessions, begin_request, insert_activity
from harness.embedded import EmbeddedCluster
from refresh_control import RefreshControl, xact_id
from transport import Persona, Reference

# Longer than any restart takes, so that the second write is still inside the window.
RESTART_WINDOW = timedelta(minutes=10)


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
    xact = xact_id(conn)
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
    refresh_control = RefreshControl(monitor.conn)
    found = fingerprint(monitor.conn, AS_FOUND)
    activities_high_water = refresh_control.activities_high_water()
    failures_high_water = refresh_control.failure_high_water()
    settings = refresh_control.log()
    # The flusher must not refresh behind the test's back while it counts cycles. The pause is a
    # setting of the log row, so it holds across the restart; the connection of a
    # ``flusher_paused()`` block would not, so the test puts the setting back itself.
    refresh_control.configure_flusher(paused=True)
    sessions = Sessions(stack, monitor)
    try:
        refresh_control.configure(window=RESTART_WINDOW)
        refresh_control.expire_window()
        cycles = refresh_control.refresh_count()

        sessions.open_api("before restart").run(write, mentor, chapter, counted_type)
        before_restart = refresh_control.log()
        assert before_restart["refresh_count"] == cycles + 1

        sessions.close()
        monitor.close()
        cluster.restart()
        monitor = Monitor(stack.superuser_db_url)
        refresh_control = RefreshControl(monitor.conn)
        sessions = Sessions(stack, monitor)

        assert refresh_control.log() == before_restart
        xact = sessions.open_api("inside window").run(write, mentor, chapter, counted_type)
        assert refresh_control.refresh_count() == cycles + 1
        assert refresh_control.pending([xact]) == {xact: "debounced"}

        refresh_control.expire_window()
        sessions.open_api("window over").run(write, mentor, chapter, counted_type)
        assert refresh_control.refresh_count() == cycles + 2
        assert refresh_control.pending([xact]) == {}
        assert refresh_control.failures_since(failures_high_water) == []
    finally:
        sessions.close()
        monitor.close()
        # after a failed restart assertion the old connection is gone: restore on a new one
        with Monitor(stack.superuser_db_url) as restorer:
            control = RefreshControl(restorer.conn)
            control.configure(window=settings["debounce_window"])
            control.expire_window()
            # the deleting commit refreshes both views back to what the test found
            restorer.query("delete from public.activities where id > %s", [activities_high_water])
            control.forget_failures_since(failures_high_water)
            control.configure_flusher(paused=settings["flush_paused"])
            assert fingerprint(restorer.conn, AS_FOUND) == found
