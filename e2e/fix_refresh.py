"""Fixtures for the tests of the refresh trigger (V007) and its rollback.

They bring their own chapter, peer mentor and coordinator, so they depend on no seed data, and
they steer the machinery the way an operator does: the debounce window is ended with
``stats.expire_stats_refresh_window()`` (never by waiting it out), the flusher is paused
while a test counts refreshes, and what a test changed (activities, failure records, settings) is
put back afterwards, with the views refreshed to match.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import pytest
from psycopg.rows import dict_row

import harness

T = TypeVar("T")

PROJECT_ROOT = Path(__file__).resolve().parents[1]
FLUSH_JOB = "stats-refresh-flush"
# The session-level advisory lock a flusher run holds (V014's version).
FLUSHER_LOCK = 20261201000014
V007_MIGRATION = next(
    (PROJECT_ROOT / "supabase" / "migrations").glob("*_add_stats_refresh_trigger.sql")
)
V007_VERSION = V007_MIGRATION.name.split("_", 1)[0]

# Bounds for waits that must end; a test that reaches one fails instead of hanging the suite.
DEADLINE = 10.0
POLL_INTERVAL = 0.02


def wait_until(read: Callable[[], T], until: Callable[[T], bool], *, what: str,
               deadline: float = DEADLINE) -> T:  # fmt: skip
    """Read until ``until(value)`` holds and return the value; fail after ``deadline`` seconds."""
    stop = time.monotonic() + deadline
    while True:
        value = read()
        if until(value):
            return value
        if time.monotonic() > stop:
            raise AssertionError(f"not within {deadline} s: {what}; last read: {value!r}")
        time.sleep(POLL_INTERVAL)  # polling interval, bounded by the deadline above


def commit_within(conn: psycopg.Connection, limit: float) -> float:
    """Commit and return the seconds it took; a commit still running after ``limit`` s is
    cancelled (and the test fails with QueryCanceled) rather than hanging the suite."""
    watchdog = threading.Timer(limit, conn.cancel)
    started = time.monotonic()
    watchdog.start()
    try:
        conn.commit()
    finally:
        watchdog.cancel()
    return time.monotonic() - started


@dataclass(frozen=True)
class RefreshWorld:
    """A chapter of the tests' own, with one peer mentor and one coordinator."""

    chapter_id: str
    mentor_id: str
    mentor_email: str
    coordinator_id: str
    coordinator_email: str
    activity_type_id: int

    def claims(self, user_id: str, email: str) -> dict[str, Any]:
        """The claims GoTrue puts in a signed-in user's access token (the ones policies read)."""
        now = int(time.time())
        return {
            "sub": user_id,
            "role": "authenticated",
            "aud": "authenticated",
            "email": email,
            "iat": now,
            "exp": now + 3600,
            "aal": "aal1",
            "is_anonymous": False,
        }


_USER_SQL = """
insert into auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
                        confirmation_token, recovery_token, email_change_token_new, email_change,
                        raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
values ('00000000-0000-0000-0000-000000000000', %(id)s, 'authenticated', 'authenticated',
        %(email)s, '', now(), '', '', '', '', '{"provider": "email", "providers": ["email"]}',
        '{}', now(), now())
"""


@pytest.fixture(scope="module")
def refresh_world(service_conn: psycopg.Connection) -> Iterator[RefreshWorld]:
    """A chapter, mentor and coordinator for a test module; removed with their activities."""
    tag = uuid.uuid4().hex[:8]
    world = RefreshWorld(
        chapter_id=str(uuid.uuid4()),
        mentor_id=str(uuid.uuid4()),
        mentor_email=f"refresh.mentor.{tag}@example.org",
        coordinator_id=str(uuid.uuid4()),
        coordinator_email=f"refresh.coordinator.{tag}@example.org",
        activity_type_id=service_conn.execute(
            "select min(id) from public.activity_types where counts_for_bufdir"
        ).fetchone()[0],
    )
    with service_conn.transaction():
        service_conn.execute(
            "insert into public.chapters (id, name) values (%s, %s)",
            (world.chapter_id, f"Refresh trigger tests {tag}"),
        )
        for user_id, email, role in (
            (world.mentor_id, world.mentor_email, "peer_mentor"),
            (world.coordinator_id, world.coordinator_email, "coordinator"),
        ):
            service_conn.execute(_USER_SQL, {"id": user_id, "email": email})
            service_conn.execute(
                "insert into public.profiles (id, full_name) values (%s, %s)",
                (user_id, f"Refresh {role} {tag}"),
            )
            service_conn.execute(
                "insert into public.chapter_memberships (user_id, chapter_id, member_role) "
                "values (%s, %s, %s)",
                (user_id, world.chapter_id, role),
            )
    yield world
    with service_conn.transaction():
        service_conn.execute(
            "delete from public.activities where chapter_id = %s", (world.chapter_id,)
        )
        # profiles and memberships go with the users (on delete cascade)
        service_conn.execute(
            "delete from auth.users where id in (%s, %s)", (world.mentor_id, world.coordinator_id)
        )
        service_conn.execute("delete from public.chapters where id = %s", (world.chapter_id,))
    if _v007_applied(service_conn):
        service_conn.execute("select stats.expire_stats_refresh_window()")
        service_conn.execute("select stats.flush_stats_refresh()")


def _v007_applied(conn: psycopg.Connection) -> bool:
    return conn.execute("select to_regclass('stats.stats_refresh_log') is not null").fetchone()[0]


@dataclass
class RefreshProbe:
    """Reads and steers the refresh machinery for one test, as postgres (in stats_owner)."""

    stack: harness.Stack
    service: psycopg.Connection
    world: RefreshWorld
    failures_high_water: int = 0
    _connections: list[psycopg.Connection] = field(default_factory=list)

    # -- connections ----------------------------------------------------------------------------

    def connect(
        self, *, autocommit: bool = False, isolation: str | None = None
    ) -> psycopg.Connection:
        """A new connection as postgres, closed after the test; ``isolation`` names a level."""
        conn = psycopg.connect(self.stack.db_url, autocommit=autocommit)
        if isolation is not None:
            conn.isolation_level = psycopg.IsolationLevel[isolation.upper().replace(" ", "_")]
        self._connections.append(conn)
        return conn

    def close_connections(self) -> None:
        for conn in self._connections:
            if not conn.closed:
                conn.rollback()
                conn.close()
        self._connections.clear()

    # -- the machinery --------------------------------------------------------------------------

    def log(self) -> dict[str, Any]:
        with self.service.cursor(row_factory=dict_row) as cur:
            row = cur.execute("select * from stats.stats_refresh_log").fetchone()
        assert row is not None, "stats.stats_refresh_log has no row"
        return row

    def refresh_count(self) -> int:
        return self.log()["refresh_count"]

    def expire(self) -> None:
        """End the debounce window: the next commit that changes activities refreshes."""
        self.service.execute("select stats.expire_stats_refresh_window()")

    def flush(self) -> str:
        return self.service.execute("select stats.flush_stats_refresh()").fetchone()[0]

    def configure(self, *, window: timedelta | None = None, mode: str | None = None) -> None:
        """Set the debounce window and/or the mode with the operator helper."""
        self.service.execute(
            "select stats.configure_stats_refresh(%s::interval, %s)", (window, mode)
        )

    def pending(self) -> dict[int, str]:
        """Pending changes: {transaction id: reason}."""
        rows = self.service.execute(
            "select xact_id::text::bigint, reason from stats.stats_refresh_pending"
        ).fetchall()
        return dict(rows)

    def failures(self) -> list[tuple[str, str, str]]:
        """Failures recorded since the test began: (source, sqlstate, message)."""
        return self.service.execute(
            "select source, sqlstate, message from stats.stats_refresh_failures "
            "where id > %s order by id",
            (self.failures_high_water,),
        ).fetchall()

    # -- the test's data ------------------------------------------------------------------------

    def insert(self, conn: psycopg.Connection, rows: int = 1, minutes: int = 30) -> None:
        """Insert ``rows`` activities of the world's mentor in ``conn`` (not committed)."""
        conn.execute(
            "insert into public.activities (peer_mentor_id, chapter_id, activity_type_id, "
            "activity_date, duration_minutes) "
            "select %s, %s, %s, (now() at time zone 'Europe/Oslo')::date - 1, %s "
            "from generate_series(1, %s)",
            (
                self.world.mentor_id,
                self.world.chapter_id,
                self.world.activity_type_id,
                minutes,
                rows,
            ),
        )

    def commit_insert(self, rows: int = 1) -> None:
        """Insert and commit in a transaction of its own (its statistics published at once)."""
        with self.connect() as conn:
            self.insert(conn, rows)
            conn.execute("select pg_stat_force_next_flush()")
            commit_within(conn, DEADLINE)

    def activities(self) -> int:
        return self.service.execute(
            "select count(*) from public.activities where chapter_id = %s", (self.world.chapter_id,)
        ).fetchone()[0]

    def view_count(self) -> int | None:
        """The mentor's activity_count in stats.mv_peer_mentor_stats (None: no row)."""
        row = self.service.execute(
            "select activity_count from stats.mv_peer_mentor_stats "
            "where chapter_id = %s and peer_mentor_id = %s",
            (self.world.chapter_id, self.world.mentor_id),
        ).fetchone()
        return None if row is None else row[0]

    def series_count(self) -> int | None:
        """The chapter's activity_count summed over stats.mv_activity_time_series (None: no row)."""
        return self.service.execute(
            "select sum(activity_count)::bigint from stats.mv_activity_time_series "
            "where chapter_id = %s",
            (self.world.chapter_id,),
        ).fetchone()[0]

    # -- pg_stat_user_tables --------------------------------------------------------------------

    def table_stats(self) -> dict[str, tuple[int, ...]]:
        """Per V007 table and view: (scans, inserted, updated, deleted tuples), as published.

        Every backend publishes its counters when it goes idle; the callers force that with
        pg_stat_force_next_flush() in the sessions whose work they measure.
        """
        self.service.execute("select pg_stat_force_next_flush()")
        rows = self.service.execute(
            "select relname, seq_scan + coalesce(idx_scan, 0), n_tup_ins, n_tup_upd, n_tup_del "
            "from pg_stat_user_tables where schemaname = 'stats' and relname in "
            "('stats_refresh_log', 'mv_peer_mentor_stats', 'mv_activity_time_series')"
        ).fetchall()
        return {name: tuple(counts) for name, *counts in rows}

    # -- the flush job --------------------------------------------------------------------------

    def pause_flusher(self, paused: bool) -> bool:
        """Pause or resume the flusher (V014); returns whether it was paused. Once a pause
        returns, no refresh of the flusher is under way and none starts."""
        was = self.log()["flush_paused"]
        self.service.execute("select stats.configure_stats_flusher(p_paused => %s)", (paused,))
        return was

    def flusher_backend(self) -> str | None:
        """The application name of the backend running the flusher (pg_cron's), None if none."""
        row = self.service.execute(
            "select a.application_name from pg_locks l join pg_stat_activity a using (pid) "
            "where l.locktype = 'advisory' and l.granted and l.objsubid = 1 "
            "and (l.classid::bigint << 32 | l.objid::bigint) = %s",
            (FLUSHER_LOCK,),
        ).fetchone()
        return None if row is None else row[0]

    def settle(self) -> None:
        """Refresh until nothing is pending: the views then match activities."""
        self.expire()
        wait_until(self.flush, lambda outcome: outcome == "idle", what="the flush to go idle")
        assert self.pending() == {}, "changes are still pending after the flush went idle"


@pytest.fixture
def refresh(
    stack: harness.Stack, service_conn: psycopg.Connection, refresh_world: RefreshWorld
) -> Iterator[RefreshProbe]:
    """The refresh machinery, quiet and settled; put back as it was after the test."""
    probe = RefreshProbe(stack=stack, service=service_conn, world=refresh_world)
    was_paused = probe.pause_flusher(True)
    probe.settle()
    settings = probe.log()
    probe.failures_high_water = service_conn.execute(
        "select coalesce(max(id), 0) from stats.stats_refresh_failures"
    ).fetchone()[0]
    try:
        yield probe
    finally:
        probe.close_connections()
        if _v007_applied(service_conn):
            service_conn.execute(
                "delete from public.activities where chapter_id = %s", (refresh_world.chapter_id,)
            )
            probe.configure(window=settings["debounce_window"], mode=settings["mode"])
            probe.settle()
            service_conn.execute(
                "delete from stats.stats_refresh_failures where id > %s",
                (probe.failures_high_water,),
            )
            probe.pause_flusher(was_paused)
