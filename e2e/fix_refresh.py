"""Fixtures for the tests of the refresh trigger (V007) and its rollback.

They bring their own chapter, peer mentor and coordinator, so they depend on no seed data, and
they steer the machinery the way an operator does (e2e/refresh_control.py): the debounce window is
ended with ``stats.expire_stats_refresh_window()`` (never by waiting it out), the flusher is paused
while a test counts refreshes, and what a test changed (activities, failure records, settings) is
put back afterwards, with the views refreshed to match.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

import harness
from refresh_control import RefreshControl
from transport import Persona
from transport.tokens import access_token_claims

PROJECT_ROOT = Path(__file__).resolve().parents[1]
V007_MIGRATION = next(
    (PROJECT_ROOT / "supabase" / "migrations").glob("*_add_stats_refresh_trigger.sql")
)
V007_VERSION = V007_MIGRATION.name.split("_", 1)[0]

# Bounds for waits that must end; a test that reaches one fails instead of hanging the suite.
DEADLINE = 10.0


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
        """The claims the auth server puts in a signed-in user's access token."""
        return access_token_claims(Persona(email, "authenticated", user_id=user_id, email=email))


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
        control = RefreshControl(service_conn)
        control.expire_window()
        control.flush()


def _v007_applied(conn: psycopg.Connection) -> bool:
    return conn.execute("select to_regclass('stats.stats_refresh_log') is not null").fetchone()[0]


class RefreshProbe(RefreshControl):
    """The refresh machinery for one test, as postgres (in stats_owner), with the tests' own
    chapter (``world``) and connections of the test's own."""

    def __init__(
        self, stack: harness.Stack, service: psycopg.Connection, world: RefreshWorld
    ) -> None:
        super().__init__(service)
        self.stack = stack
        self.world = world
        self._connections: list[psycopg.Connection] = []

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
        return self.conn.execute(
            "select count(*) from public.activities where chapter_id = %s", (self.world.chapter_id,)
        ).fetchone()[0]

    def view_count(self) -> int | None:
        """The mentor's activity_count in stats.mv_peer_mentor_stats (None: no row)."""
        row = self.conn.execute(
            "select activity_count from stats.mv_peer_mentor_stats "
            "where chapter_id = %s and peer_mentor_id = %s",
            (self.world.chapter_id, self.world.mentor_id),
        ).fetchone()
        return None if row is None else row[0]

    def series_count(self) -> int | None:
        """The chapter's activity_count summed over stats.mv_activity_time_series (None: no row)."""
        return self.conn.execute(
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
        self.conn.execute("select pg_stat_force_next_flush()")
        rows = self.conn.execute(
            "select relname, seq_scan + coalesce(idx_scan, 0), n_tup_ins, n_tup_upd, n_tup_del "
            "from pg_stat_user_tables where schemaname = 'stats' and relname in "
            "('stats_refresh_log', 'mv_peer_mentor_stats', 'mv_activity_time_series')"
        ).fetchall()
        return {name: tuple(counts) for name, *counts in rows}


@pytest.fixture
def refresh(
    stack: harness.Stack,
    service_conn: psycopg.Connection,
    refresh_world: RefreshWorld,
    recorded_failures: int,
    flush_paused: None,
) -> Iterator[RefreshProbe]:
    """The refresh machinery, quiet and settled; put back as it was after the test (the flusher
    resumed and the failures it recorded removed by the fixtures it builds on)."""
    probe = RefreshProbe(stack, service_conn, refresh_world)
    probe.settle()
    settings = probe.log()
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
