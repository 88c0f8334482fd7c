"""The refresh machinery as its operator reads and steers it: one toolkit for the end-to-end suite,
the reliability suite and the benchmark.

``RefreshControl`` wraps one autocommit connection as ``postgres`` (a member of ``stats_owner``) or
a superuser: no API role may run the operator functions or read the log. It reads the log row, the
pending changes and the failures recorded since a high-water mark, ends the debounce window, sets
the window, the mode and the flusher, runs the flush, tells whether a flusher run is at work and
whether both views equal their own definitions. ``flusher_paused()`` is the one way to keep the
flusher out of a block of work. ``poll`` is the one wait of the suites: it reads until a condition
holds and fails at a deadline, so that no test sleeps for a state it can ask for.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, NamedTuple, TypeVar

import psycopg
from psycopg.rows import dict_row

T = TypeVar("T")

FLUSH_JOB = "stats-refresh-flush"
# The session-level advisory lock a flusher run holds while it runs (V014), and its holder as a
# scalar subquery (NULL while no run is at work), for queries that read it beside other things.
FLUSHER_LOCK = 20261201000014
FLUSHER_PID_SQL = (
    "(select pid from pg_locks where locktype = 'advisory' and granted and objsubid = 1 "
    f"and (classid::bigint << 32 | objid::bigint) = {FLUSHER_LOCK})"
)
# pg_cron starts a flusher run at the next minute: up to a minute after a reset.
FLUSHER_START_DEADLINE = 75.0

VIEWS = ("stats.mv_peer_mentor_stats", "stats.mv_activity_time_series")
BOTH_VIEWS_FRESH = dict.fromkeys(VIEWS, 0)
NO_LOG_ROW = "stats.stats_refresh_log has no row"

# A commit whose refresh waits for a lock gives up after the trigger function's lock_timeout
# (250 ms); allow for the refresh of the other view and a slow machine, and still far below any
# client timeout.
COMMIT_BUDGET = 2.0
# How long the flush may take to work through what is pending (``settle``).
SETTLE_DEADLINE = 10.0
POLL_INTERVAL = 0.02


class DeadlinePassed(AssertionError):
    """A poll's condition did not hold within its deadline."""


def poll(read: Callable[[], T], until: Callable[[T], bool], *, deadline: float, what: str) -> T:
    """Read until ``until(value)`` holds and return that value; fail after ``deadline`` seconds."""
    stop = time.monotonic() + deadline
    while True:
        value = read()
        if until(value):
            return value
        if time.monotonic() >= stop:
            raise DeadlinePassed(f"not within {deadline:g} s: {what}; last read: {value!r}")
        time.sleep(POLL_INTERVAL)  # the poll's interval, bounded by the deadline


def xact_id(conn: psycopg.Connection) -> int:
    """The id of the transaction open on ``conn``, as the pending table keys its changes."""
    return conn.execute("select pg_current_xact_id()::text::bigint").fetchone()[0]


class Failure(NamedTuple):
    """A row of stats.stats_refresh_failures, as the tests compare it (equal to a plain tuple)."""

    source: str
    sqlstate: str
    message: str


class FlusherBackend(NamedTuple):
    """The backend of a flusher run: pg_cron's, unless someone ran the job's command by hand."""

    pid: int
    application_name: str


class RefreshControl:
    """The log row, the operator functions, the pending and failure tables, and the flusher."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def _value(self, statement: str, params: Any = None) -> Any:
        row = self.conn.execute(statement, params).fetchone()
        return None if row is None else row[0]

    # -- the log row and the operator functions ---------------------------------------------------

    def log(self) -> dict[str, Any]:
        """Every column of the log row."""
        with self.conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute("select * from stats.stats_refresh_log").fetchone()
        assert row is not None, NO_LOG_ROW
        return row

    def refresh_count(self) -> int:
        return self.log()["refresh_count"]

    def expire_window(self) -> None:
        """End the debounce window and any backoff: the next commit that changes activities
        refreshes (the operator's "refresh now")."""
        self.conn.execute("select stats.expire_stats_refresh_window()")

    def configure(self, *, window: timedelta | None = None, mode: str | None = None) -> None:
        """Set the debounce window and/or the mode (commit or flush_only); None keeps a setting."""
        self.conn.execute(
            "select stats.configure_stats_refresh(p_debounce_window => %s::interval, "
            "p_mode => %s::text)",
            (window, mode),
        )

    def configure_flusher(
        self, *, paused: bool | None = None, interval: timedelta | None = None
    ) -> None:
        """Pause or resume the flusher and/or set how often it looks; None keeps a setting. Once a
        pause returns, no refresh of the flusher is under way and none starts."""
        self.conn.execute(
            "select stats.configure_stats_flusher(p_flush_interval => %s::interval, "
            "p_paused => %s::boolean)",
            (interval, paused),
        )

    @contextmanager
    def flusher_paused(self) -> Iterator[None]:
        """The flusher refreshes nothing inside the block, and is as it was after it."""
        was_paused = self.log()["flush_paused"]
        self.configure_flusher(paused=True)
        try:
            yield
        finally:
            self.configure_flusher(paused=was_paused)

    def flush(self) -> str:
        """Run the trailing flush as the flusher does: idle, busy, backoff, refreshed or failed."""
        return self._value("select stats.flush_stats_refresh()")

    def settle(self) -> None:
        """Refresh until nothing is pending: the views then match activities."""
        self.expire_window()
        poll(self.flush, lambda outcome: outcome == "idle", deadline=SETTLE_DEADLINE,
             what="the flush to go idle")  # fmt: skip
        assert self.pending() == {}, "changes are still pending after the flush went idle"

    # -- what is pending, what failed ------------------------------------------------------------

    def pending(self, xact_ids: Iterable[int] | None = None) -> dict[int, str]:
        """Pending changes, {transaction id: why it was left to the flush}; all of them, or those
        of ``xact_ids`` (absent: none left)."""
        query = "select xact_id::text::bigint, reason from stats.stats_refresh_pending"
        if xact_ids is None:
            return dict(self.conn.execute(query).fetchall())
        where = " where xact_id::text::bigint = any(%s::bigint[])"
        return dict(self.conn.execute(query + where, (list(xact_ids),)).fetchall())

    def failure_high_water(self) -> int:
        return self._value("select coalesce(max(id), 0) from stats.stats_refresh_failures")

    def failures_since(self, high_water: int) -> list[Failure]:
        """The failures recorded after ``high_water``, oldest first."""
        rows = self.conn.execute(
            "select source, sqlstate, message from stats.stats_refresh_failures "
            "where id > %s order by id",
            (high_water,),
        ).fetchall()
        return [Failure(*row) for row in rows]

    def forget_failures_since(self, high_water: int) -> None:
        self.conn.execute("delete from stats.stats_refresh_failures where id > %s", (high_water,))

    # -- the flusher ------------------------------------------------------------------------------

    def flusher_backend(self) -> FlusherBackend | None:
        """The backend whose flusher run holds the flusher's lock; None while no run is at work."""
        row = self.conn.execute(
            f"select pid, application_name from pg_stat_activity where pid = {FLUSHER_PID_SQL}"
        ).fetchone()
        return None if row is None else FlusherBackend(*row)

    def flusher_running(self) -> bool:
        """A flusher run is at work (pg_cron starts one every minute) and it is not paused."""
        return self.flusher_backend() is not None and not self.log()["flush_paused"]

    # -- the data ---------------------------------------------------------------------------------

    def activities_high_water(self) -> int:
        return self._value("select coalesce(max(id), 0) from public.activities")

    def views_differ_from_definitions(self) -> dict[str, int]:
        """Rows by which each materialized view differs from its own query run now (0: none)."""
        differences = {}
        for view in VIEWS:
            query = self._value("select pg_get_viewdef(%s::regclass)", (view,)).rstrip().rstrip(";")
            differences[view] = self._value(
                f"with fresh as ({query}) select count(*) from ("
                f"(select * from {view} except all select * from fresh) union all "
                f"(select * from fresh except all select * from {view})) d"
            )
        return differences
