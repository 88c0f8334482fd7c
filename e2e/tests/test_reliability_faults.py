"""Faults injected into the refresh: the user's write commits within its budget, the failure is
recorded and raised as a WARNING, and the next eligible write or the flush recovers.

Every lock_timeout (D12) and statement_timeout case of the refresh lives here: at COMMIT, in a
refresh fired early, and in the flush. Each fault is undone by the test itself (the view renamed
back, the lock released, the privilege granted again, the log row put back), and ``as_found``
checks the catalog, the settings and the data after every test against what it found.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg
import pytest

from fix_reliability import Monitor, Session, Sessions, begin_request
from fix_reliability import insert_activity as insert
from refresh_control import (
    BOTH_VIEWS_FRESH,
    COMMIT_BUDGET,
    NO_LOG_ROW,
    VIEWS,
    Failure,
    RefreshControl,
    xact_id,
)
from transport import Persona, Reference

pytestmark = pytest.mark.usefixtures(
    "as_found", "recorded_failures", "new_activities", "flush_paused"
)

LOCK_TIMEOUT = "canceling statement due to lock timeout"
STATEMENT_TIMEOUT = "canceling statement due to statement timeout"
# The app's own short statement_timeout, and what fires the deferred trigger before COMMIT.
SHORT_TIMEOUT = "set local statement_timeout = '50ms'"
FIRE_EARLY = "set constraints all immediate"
# lock not available, query canceled, deadlock, serialization failure (V011)
TRANSIENT = {"55P03", "57014", "40P01", "40001"}


@dataclass
class Scene:
    """What a fault needs: the monitor (a superuser) and a way to open more sessions."""

    monitor: Monitor
    sessions: Sessions
    held: list[Session] = field(default_factory=list)


@dataclass(frozen=True)
class Fault:
    """How to break the refresh, how to undo it, and the failure the trigger must record."""

    name: str
    inject: Callable[[Scene], None]
    restore: Callable[[Scene], None]
    failure: Failure
    # what the writer runs before and after its INSERT (its settings, an early firing)
    before_insert: tuple[str, ...] = ()
    after_insert: tuple[str, ...] = ()
    # whether the failed cycle could start the backoff: not when the log row itself was missing
    backs_off: bool = True

    @property
    def transient(self) -> bool:
        """A failure that says nothing of the next attempt: the flush does not back off."""
        return self.failure.sqlstate in TRANSIENT


def hold_view_lock(view: str) -> Callable[[Scene], None]:
    """An operator's refresh left open keeps the view's EXCLUSIVE lock past any lock_timeout."""

    def hold(scene: Scene) -> None:
        holder = scene.sessions.open(f"holder of {view}", login="superuser")
        holder.sql(f"refresh materialized view concurrently {view}")
        scene.held.append(holder)

    return hold


def release_view_lock(scene: Scene) -> None:
    for holder in scene.held:
        holder.commit()


def save_log_row(scene: Scene) -> None:
    scene.monitor.query("create temporary table saved_log as select * from stats.stats_refresh_log")


def restore_log_row(scene: Scene) -> None:
    scene.monitor.query("insert into stats.stats_refresh_log select * from pg_temp.saved_log")
    scene.monitor.query("drop table pg_temp.saved_log")


def delete_log_row(scene: Scene) -> None:
    save_log_row(scene)
    scene.monitor.query("delete from stats.stats_refresh_log")


def truncate_log(scene: Scene) -> None:
    save_log_row(scene)
    scene.monitor.query("truncate stats.stats_refresh_log")


def altered(name: str, inject: str, restore: str, failure: Failure) -> Fault:
    """A fault made and undone by one statement each, run by the monitor."""
    return Fault(
        name, lambda s: s.monitor.query(inject), lambda s: s.monitor.query(restore), failure
    )


def view_locked(name: str, view: str, failure: Failure, **writer_steps: tuple[str, ...]) -> Fault:
    """``view`` locked by an operator's refresh left open, past any lock_timeout."""
    return Fault(name, hold_view_lock(view), release_view_lock, failure, **writer_steps)


def log_row_gone(name: str, remove: Callable[[Scene], None]) -> Fault:
    """The log row removed (and put back after the write); the failed cycle cannot back off."""
    return Fault(name, remove, restore_log_row, Failure("commit", "P0001", NO_LOG_ROW),
                 backs_off=False)  # fmt: skip


PEER_MENTOR_STATS, TIME_SERIES = VIEWS
LOCKED = Failure("commit", "55P03", LOCK_TIMEOUT)
CANCELED = Failure("commit", "57014", STATEMENT_TIMEOUT)
FAULTS = [
    altered(
        "view renamed away",
        "alter materialized view stats.mv_activity_time_series rename to mv_renamed_away",
        "alter materialized view stats.mv_renamed_away rename to mv_activity_time_series",
        Failure("commit", "42P01", 'relation "stats.mv_activity_time_series" does not exist'),
    ),
    view_locked("first view locked past lock_timeout", PEER_MENTOR_STATS, LOCKED),
    # the first view refreshed, then the wait for the second: the cycle is undone whole
    view_locked("second view locked past lock_timeout", TIME_SERIES, LOCKED),
    # The app's path: the writer's own short statement_timeout does not apply at COMMIT; the
    # trigger's lock_timeout ends the wait, so the commit is bounded and the write kept.
    view_locked(
        "statement_timeout at commit", PEER_MENTOR_STATS, LOCKED, after_insert=(SHORT_TIMEOUT,)
    ),  # fmt: skip
    # A statement_timeout can fire inside the refresh only when something runs the deferred
    # trigger before COMMIT. It cancels the refresh (57014, which PL/pgSQL's WHEN OTHERS does not
    # catch by itself); the trigger must still keep the write. Here SET CONSTRAINTS runs it after
    # the INSERT, and then the INSERT itself, constraints being IMMEDIATE already: the timeout
    # stops the refresh, not the statement.
    view_locked(
        "statement_timeout in a refresh fired early",
        PEER_MENTOR_STATS,
        CANCELED,
        after_insert=(SHORT_TIMEOUT, FIRE_EARLY),
    ),  # fmt: skip
    view_locked(
        "statement_timeout in a refresh fired by the insert",
        TIME_SERIES,
        CANCELED,
        before_insert=(SHORT_TIMEOUT, FIRE_EARLY),
    ),  # fmt: skip
    altered(
        "refresh role lost a privilege",
        "revoke select on public.activities from stats_owner",
        "grant select on public.activities to stats_owner",
        Failure("commit", "42501", "permission denied for table activities"),
    ),
    log_row_gone("log row deleted", delete_log_row),
    log_row_gone("log table truncated", truncate_log),
]


@dataclass(frozen=True)
class Request:
    """What one request left: its row and transaction, how long it took, the warnings it got."""

    row_id: int
    xact: int
    seconds: float
    warnings: list[tuple[str | None, str | None]]


def write_and_commit(
    conn: psycopg.Connection,
    persona: Persona,
    chapter_id: str,
    type_id: int,
    before_insert: tuple[str, ...] = (),
    after_insert: tuple[str, ...] = (),
) -> Request:
    """One request as ``persona``: run ``before_insert``, insert an activity, run
    ``after_insert``, commit; timed from its first statement to the end of COMMIT."""
    warnings: list[tuple[str | None, str | None]] = []

    def keep(diagnostic: psycopg.errors.Diagnostic) -> None:
        # a Diagnostic is valid only inside the handler: keep its fields
        warnings.append((diagnostic.severity_nonlocalized, diagnostic.message_primary))

    conn.add_notice_handler(keep)
    try:
        begin_request(conn, persona)
        started = time.monotonic()
        for step in before_insert:
            conn.execute(step)
        row_id = insert(
            conn,
            mentor_id=persona.user_id,
            chapter_id=chapter_id,
            type_id=type_id,
            contact_ref=None,  # no contact: no write is a duplicate of another, each counts
        )
        xact = xact_id(conn)
        for step in after_insert:
            conn.execute(step)
        conn.execute("commit")
        return Request(row_id, xact, time.monotonic() - started, warnings)
    finally:
        conn.remove_notice_handler(keep)


def mentor_a_count(monitor: Monitor, reference: Reference) -> int | None:
    """mentor_a's activity count in chapter A as the materialized view holds it."""
    return monitor.value(
        "select activity_count from stats.mv_peer_mentor_stats "
        "where chapter_id = %s and peer_mentor_id = %s",
        [reference.chapter("A"), reference["mentor_a"].user_id],
    )


@pytest.mark.parametrize("recovery", ["next write", "flush"])
@pytest.mark.parametrize("fault", [pytest.param(f, id=f.name) for f in FAULTS])
def test_fault_keeps_the_write_records_the_failure_and_recovers(
    sessions: Sessions,
    monitor: Monitor,
    refresh_control: RefreshControl,
    reference: Reference,
    counted_type: int,
    recorded_failures: int,
    fault: Fault,
    recovery: str,
) -> None:
    """A broken refresh neither fails, delays nor loses the write that fired it; the failure is
    recorded once, raised as a WARNING, and holds off further commit-time attempts for a window
    (and the flush's too, unless the failure was transient: a lock or a cancel); once repaired, the
    flush (or, the window ended, the next write) brings the views up to date."""
    mentor_a, chapter_a = reference["mentor_a"], reference.chapter("A")
    mentor_bc, chapter_b = reference["mentor_bc"], reference.chapter("B")
    writer = sessions.open_api("writer")
    scene = Scene(monitor, sessions)
    refresh_control.expire_window()
    cycles = refresh_control.refresh_count()
    counted_before = mentor_a_count(monitor, reference)

    fault.inject(scene)
    try:
        # the watchdog turns a COMMIT stuck on the fault into this test's failure
        request = writer.run(
            write_and_commit, mentor_a, chapter_a, counted_type,
            fault.before_insert, fault.after_insert,
        )  # fmt: skip
    finally:
        fault.restore(scene)

    assert request.seconds < COMMIT_BUDGET, f"the request took {request.seconds:.2f} s"
    assert [
        (severity, f"(SQLSTATE {fault.failure.sqlstate})" in (message or ""))
        for severity, message in request.warnings
    ] == [("WARNING", True)], request.warnings
    assert (
        monitor.value("select count(*) from public.activities where id = %s", [request.row_id]) == 1
    ), "the write committed"
    assert refresh_control.failures_since(recorded_failures) == [fault.failure]
    assert refresh_control.pending([request.xact]) == {request.xact: "failed"}
    assert refresh_control.refresh_count() == cycles, "the failed cycle is not a refresh"
    # the failed cycle is rolled back whole: not even the view refreshed before the failure moved
    assert mentor_a_count(monitor, reference) == counted_before

    other = sessions.open_api("next")
    if fault.backs_off:
        log = refresh_control.log()
        assert log["failed_cycles"] == 1 and log["failing_since"] is not None
        assert log["last_failure_transient"] is fault.transient
        # inside the window after the failure, no commit tries again
        backed_off = other.run(write_and_commit, mentor_bc, chapter_b, counted_type).xact
        assert refresh_control.pending([backed_off]) == {backed_off: "backoff"}
        if not fault.transient:
            assert refresh_control.flush() == "backoff", "a lasting failure holds the flush off"
            assert refresh_control.failures_since(recorded_failures) == [fault.failure]
        if recovery == "next write" or not fault.transient:
            refresh_control.expire_window()  # the operator's "refresh now" ends the backoff too

    if recovery == "next write":
        other.run(write_and_commit, mentor_bc, chapter_b, counted_type)
        source = "commit"
    else:
        assert refresh_control.flush() == "refreshed"
        source = "flush"

    assert refresh_control.refresh_count() == cycles + 1
    assert refresh_control.log()["last_refresh_source"] == source
    assert refresh_control.pending([request.xact]) == {}
    assert refresh_control.failures_since(recorded_failures) == [fault.failure]
    assert mentor_a_count(monitor, reference) == (counted_before or 0) + 1
    assert refresh_control.views_differ_from_definitions() == BOTH_VIEWS_FRESH


def test_flush_records_a_failure_and_the_next_flush_recovers(
    sessions: Sessions,
    monitor: Monitor,
    refresh_control: RefreshControl,
    reference: Reference,
    counted_type: int,
    recorded_failures: int,
) -> None:
    """A change left to the flush survives a flush that fails: the failure is recorded with source
    flush, the change stays pending, and the next flush refreshes it in."""
    writer = sessions.open_api("writer")
    refresh_control.expire_window()
    mentor_a, chapter_a = reference["mentor_a"], reference.chapter("A")
    writer.run(write_and_commit, mentor_a, chapter_a, counted_type)
    cycles = refresh_control.refresh_count()
    # inside the window now: this change is left to the flush
    xact = writer.run(write_and_commit, mentor_a, chapter_a, counted_type).xact
    assert refresh_control.pending([xact]) == {xact: "debounced"}

    monitor.query("revoke select on public.activities from stats_owner")
    try:
        assert refresh_control.flush() == "failed"
    finally:
        monitor.query("grant select on public.activities to stats_owner")

    assert refresh_control.failures_since(recorded_failures) == [
        Failure("flush", "42501", "permission denied for table activities")
    ]
    assert refresh_control.pending([xact]) == {xact: "debounced"}
    assert refresh_control.refresh_count() == cycles
    assert refresh_control.flush() == "backoff", (
        "a failed flush holds the next one off for a window"
    )
    refresh_control.expire_window()
    assert refresh_control.flush() == "refreshed"
    assert refresh_control.refresh_count() == cycles + 1
    assert refresh_control.pending([xact]) == {}
    assert refresh_control.views_differ_from_definitions() == BOTH_VIEWS_FRESH


@pytest.mark.parametrize("view", VIEWS)
def test_flush_cut_by_statement_timeout_records_the_failure(
    sessions: Sessions,
    monitor: Monitor,
    refresh_control: RefreshControl,
    reference: Reference,
    counted_type: int,
    recorded_failures: int,
    view: str,
) -> None:
    """A flush whose refresh runs into the caller's statement_timeout, waiting for either view,
    reports failed, records the failure and keeps the change pending; a transient failure, it is
    recorded once however often the flush meets it within a window, and the flush does not back
    off: the next one, the lock gone, refreshes the change in."""
    writer = sessions.open_api("writer")
    # autocommit: a failure the flush records must not be rolled back with the caller's statement
    flusher = sessions.open("flusher", autocommit=True)
    scene = Scene(monitor, sessions)
    refresh_control.settle()  # nothing pending but what this test leaves
    refresh_control.expire_window()
    mentor_a, chapter_a = reference["mentor_a"], reference.chapter("A")
    counted_before = mentor_a_count(monitor, reference) or 0
    writer.run(write_and_commit, mentor_a, chapter_a, counted_type)
    # inside the window now: this change is left to the flush
    xact = writer.run(write_and_commit, mentor_a, chapter_a, counted_type).xact
    assert refresh_control.pending() == {xact: "debounced"}

    hold_view_lock(view)(scene)
    try:
        flusher.sql("set statement_timeout = '50ms'")
        outcomes = [flusher.sql("select stats.flush_stats_refresh()")[0][0] for _ in range(2)]
    finally:
        release_view_lock(scene)

    assert outcomes == ["failed", "failed"], "the second flush did not back off"
    assert refresh_control.failures_since(recorded_failures) == [
        Failure("flush", "57014", STATEMENT_TIMEOUT)
    ], "one row for the same transient failure within a window"
    log = refresh_control.log()
    assert (log["failed_cycles"], log["last_failure_transient"]) == (2, True)
    assert refresh_control.pending() == {xact: "debounced"}
    assert refresh_control.flush() == "refreshed"
    assert refresh_control.pending() == {}
    assert mentor_a_count(monitor, reference) == counted_before + 2
    assert refresh_control.views_differ_from_definitions() == BOTH_VIEWS_FRESH
