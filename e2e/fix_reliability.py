"""Fixtures of the reliability suite, and the small toolkit its concurrency tests are built from.

Sessions run one connection each on a thread of their own, the way PostgreSQL's isolation tester
drives them. Tests order them with advisory locks and with what ``pg_locks`` and
``pg_blocking_pids()`` say, never with sleeps; every wait has a deadline, and a step that overruns
its deadline gets its backend cancelled (then terminated), so a COMMIT stuck on a lock fails its
test instead of hanging the suite. The refresh machinery is read and steered with
e2e/refresh_control.py (the ``refresh_control`` fixture), and ``as_found`` compares the parts
``AS_FOUND`` of e2e/catalog.py before and after each test.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any, TypeVar

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

import harness
from catalog import AS_FOUND, fingerprint
from refresh_control import poll
from transport import Persona
from transport.replay import AUTHENTICATOR_PASSWORD
from transport.tokens import access_token_claims

T = TypeVar("T")

# The longest one step of a session may take before the watchdog cancels its backend. Generous:
# the machines that run the suite are shared and slow; a healthy step takes milliseconds.
STEP_TIMEOUT = 30.0
# How long a poll of the lock graph waits for a state before the test fails.
POLL_TIMEOUT = 15.0
# Advisory lock keys of this suite: (class, object) pairs with this class.
ADVISORY_CLASS = 7007

SOAK_TOTALS = pytest.StashKey[dict[str, Any]]()


# -- pytest wiring --------------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("reliability")
    group.addoption(
        "--soak-seconds",
        type=float,
        default=30.0,
        help="how long the reliability soak writes and reads (default 30; its count of "
        "transactions per writer is bounded too)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "restarts_database: restarts the embedded cluster, which breaks every open connection; "
        "such tests run after all others",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Move tests that restart the database to the end: connections held for the session break."""
    items.sort(key=lambda item: item.get_closest_marker("restarts_database") is not None)


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    """The soak's totals, printed whether or not output capture is on."""
    totals = config.stash.get(SOAK_TOTALS, None)
    if totals is None:
        return
    terminalreporter.section("reliability soak")
    terminalreporter.write_line(format_soak_totals(totals))


def format_soak_totals(totals: dict[str, Any]) -> str:
    return ", ".join(f"{key}={value}" for key, value in totals.items())


# -- the monitor: a superuser's view of the lock graph --------------------------------------------


class Monitor:
    """An autocommit superuser connection that watches, cancels and terminates other backends."""

    def __init__(self, dsn: str) -> None:
        self.conn = psycopg.connect(dsn, autocommit=True, application_name="reliability:monitor")
        self._lock = threading.Lock()  # the watchdog may call in from another thread

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def query(self, statement: str, params: Any = None) -> list[tuple]:
        with self._lock:
            cur = self.conn.execute(statement, params)
            return cur.fetchall() if cur.description else []

    def value(self, statement: str, params: Any = None) -> Any:
        rows = self.query(statement, params)
        return rows[0][0] if rows else None

    def blocking_pids(self, pid: int) -> list[int]:
        return self.value("select pg_blocking_pids(%s)", [pid]) or []

    def wait_until_blocked(
        self,
        session: Session,
        *,
        by: Session | int | None = None,
        step: Future | None = None,
        timeout: float = POLL_TIMEOUT,
    ) -> list[int]:
        """Wait until ``session``'s backend waits for a lock (held by ``by``, when given).

        ``step`` is the future of the statement expected to block: if it finishes instead, the
        test fails at once with what it returned, rather than waiting for the deadline.
        """
        blocker = by.pid if isinstance(by, Session) else by

        def blocked() -> list[int]:
            if step is not None and step.done():
                outcome = step.exception() or step.result()
                raise AssertionError(
                    f"session {session.name} was expected to wait for a lock but finished: "
                    f"{outcome!r}"
                )
            pids = self.blocking_pids(session.pid)
            return pids if pids and (blocker is None or blocker in pids) else []

        holder = f" held by backend {blocker}" if blocker else ""
        return poll(blocked, bool, deadline=timeout,
                    what=f"session {session.name} waits for a lock{holder}")  # fmt: skip

    def waiting_on_advisory(self, key: int) -> set[int]:
        """The backends that wait, ungranted, for this suite's advisory lock ``key``."""
        rows = self.query(
            "select pid from pg_locks where locktype = 'advisory' and not granted "
            "and classid = %s and objid = %s and objsubid = 2",
            [ADVISORY_CLASS, key],
        )
        return {pid for (pid,) in rows}

    def relation_locks(self, pid: int) -> dict[str, set[str]]:
        """The lock modes ``pid`` holds, by relation (schema-qualified name)."""
        rows = self.query(
            "select l.relation::regclass::text, l.mode from pg_locks l "
            "where l.pid = %s and l.granted and l.locktype = 'relation'",
            [pid],
        )
        held: dict[str, set[str]] = {}
        for relation, mode in rows:
            held.setdefault(relation, set()).add(mode)
        return held

    def cancel(self, pid: int) -> None:
        self.query("select pg_cancel_backend(%s)", [pid])

    def terminate(self, pid: int) -> None:
        self.query("select pg_terminate_backend(%s)", [pid])


# -- sessions on their own threads ----------------------------------------------------------------


class Session:
    """One connection, driven from a thread of its own so that the test can watch it wait."""

    def __init__(self, name: str, dsn: str, monitor: Monitor, *, autocommit: bool) -> None:
        self.name = name
        self.monitor = monitor
        self.conn = psycopg.connect(
            dsn, autocommit=autocommit, application_name=f"reliability:{name}"
        )
        self.pid: int = self.conn.info.backend_pid
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"session-{name}")
        self._pending: Future | None = None

    def start(self, step: Callable[..., T], *args: Any) -> Future[T]:
        """Run ``step(conn, *args)`` on the session's thread; the test goes on at once."""
        if self._pending is not None and not self._pending.done():
            raise RuntimeError(f"session {self.name} is still running its previous step")
        self._pending = self._thread.submit(step, self.conn, *args)
        return self._pending

    def finish(self, future: Future[T], timeout: float = STEP_TIMEOUT) -> T:
        """The step's result; past ``timeout`` the watchdog stops the backend, the test fails."""
        try:
            return future.result(timeout)
        except FutureTimeout:
            blockers = self._blockers_or_gone()
            self._stop_backend(future)
            raise AssertionError(
                f"session {self.name} (backend {self.pid}) did not finish its step within "
                f"{timeout:.0f} s, waiting for backends {blockers}; the watchdog stopped it"
            ) from None

    def run(self, step: Callable[..., T], *args: Any, timeout: float = STEP_TIMEOUT) -> T:
        return self.finish(self.start(step, *args), timeout)

    def sql(self, statement: str, params: Any = None, timeout: float = STEP_TIMEOUT) -> list[tuple]:
        return self.run(_execute, statement, params, timeout=timeout)

    def commit(self, timeout: float = STEP_TIMEOUT) -> None:
        self.run(lambda conn: conn.commit(), timeout=timeout)

    def close(self) -> None:
        """Stop whatever the session still runs, then close its connection."""
        if self._pending is not None and not self._pending.done():
            self._stop_backend(self._pending)
        self._thread.shutdown(wait=True)
        self.conn.close()

    def _blockers_or_gone(self) -> str:
        try:
            return str(self.monitor.blocking_pids(self.pid))
        except psycopg.Error as exc:
            return f"unknown ({exc})"

    def _stop_backend(self, future: Future) -> None:
        """Cancel the backend's statement; terminate it if cancelling does not free the thread."""
        for stop in (self.monitor.cancel, self.monitor.terminate):
            try:
                stop(self.pid)
            except psycopg.Error:
                return
            try:
                future.exception(timeout=5.0)
                return
            except FutureTimeout:
                continue


def _execute(conn: psycopg.Connection, statement: str, params: Any) -> list[tuple]:
    cur = conn.execute(statement, params)
    return cur.fetchall() if cur.description else []


@dataclass
class Sessions:
    """Opens sessions for one test and closes them all after it, blocked or not."""

    stack: harness.Stack
    monitor: Monitor
    opened: list[Session] = field(default_factory=list)

    def open(self, name: str, *, login: str = "postgres", autocommit: bool = False) -> Session:
        """A session logged in as ``postgres``, ``authenticator`` (PostgREST) or ``superuser``."""
        dsn = {
            "postgres": self.stack.db_url,
            "superuser": self.stack.superuser_db_url,
            "authenticator": authenticator_dsn(self.stack),
        }[login]
        session = Session(name, dsn, self.monitor, autocommit=autocommit)
        self.opened.append(session)
        return session

    def open_api(self, name: str) -> Session:
        """A session as PostgREST's connections are: ``authenticator``, transactions spelled out."""
        return self.open(name, login="authenticator", autocommit=True)

    def close(self) -> None:
        for session in reversed(self.opened):
            session.close()
        self.opened.clear()


# -- barriers -------------------------------------------------------------------------------------


class Barrier:
    """Holds any number of sessions at one point and lets them all go at once.

    The monitor holds an exclusive advisory lock; each session asks for the same lock in shared mode
    inside its transaction (released at its end) and waits. Once the monitor sees every expected
    backend waiting in ``pg_locks`` it unlocks, and they all run on together.
    """

    _next_key = 1
    _key_lock = threading.Lock()

    def __init__(self, monitor: Monitor) -> None:
        with Barrier._key_lock:
            self.key = Barrier._next_key
            Barrier._next_key += 1
        self.monitor = monitor
        # A session-level lock on the monitor's connection, so the lock outlives any statement.
        self.monitor.query("select pg_advisory_lock(%s, %s)", [ADVISORY_CLASS, self.key])
        self.held = True

    def wait(self, conn: psycopg.Connection) -> None:
        """Called on a session's thread: block until the barrier opens."""
        conn.execute("select pg_advisory_xact_lock_shared(%s, %s)", [ADVISORY_CLASS, self.key])

    def release_when_waiting(self, *sessions: Session, timeout: float = POLL_TIMEOUT) -> None:
        expected = {s.pid for s in sessions}
        poll(
            lambda: self.monitor.waiting_on_advisory(self.key),
            lambda waiting: expected <= waiting,
            deadline=timeout,
            what=f"sessions {[s.name for s in sessions]} wait at the barrier",
        )
        self.release()

    def release(self) -> None:
        if self.held:
            self.monitor.query("select pg_advisory_unlock(%s, %s)", [ADVISORY_CLASS, self.key])
            self.held = False


# -- requests as PostgREST makes them --------------------------------------------------------------


def authenticator_dsn(stack: harness.Stack) -> str:
    """The login PostgREST uses; each request then switches to its token's role."""
    return make_conninfo(stack.db_url, user="authenticator", password=AUTHENTICATOR_PASSWORD)


def begin_request(
    conn: psycopg.Connection,
    persona: Persona,
    *,
    read_only: bool = False,
    isolation: str = "read committed",
) -> None:
    """Open a transaction as PostgREST does for a request with ``persona``'s token.

    The role and the claims are set for this transaction only (``set_config(..., true)``), so the
    connection is back to ``authenticator`` after COMMIT. ``conn`` must be in autocommit mode.
    """
    access = "read only" if read_only else "read write"
    conn.execute(f"begin isolation level {isolation} {access}")
    conn.execute(
        "select set_config('role', %s, true), set_config('request.jwt.claims', %s, true)",
        [persona.role, json.dumps(access_token_claims(persona))],
    )


def insert_activity(
    conn: psycopg.Connection,
    *,
    mentor_id: str,
    chapter_id: str,
    type_id: int,
    contact_ref: str | None,
    duration: int = 30,
    days_ago: int = 0,
) -> int:
    """Insert one activity in the open transaction; its id."""
    return conn.execute(
        "insert into public.activities (peer_mentor_id, chapter_id, activity_type_id, "
        "activity_date, duration_minutes, contact_ref) "
        "values (%s, %s, %s, (now() at time zone 'Europe/Oslo')::date - %s, %s, %s) returning id",
        [mentor_id, chapter_id, type_id, days_ago, duration, contact_ref],
    ).fetchone()[0]


# The trigger function whose lock_timeout ``trigger_waits_for_locks`` raises.
TRIGGER_FUNCTION = "stats.trg_refresh_stats_views()"


# -- fixtures -------------------------------------------------------------------------------------


@pytest.fixture
def monitor(stack: harness.Stack) -> Iterator[Monitor]:
    """A superuser connection of this test's own that watches and, if need be, stops sessions."""
    watcher = Monitor(stack.superuser_db_url)
    yield watcher
    watcher.close()


@pytest.fixture
def sessions(stack: harness.Stack, monitor: Monitor) -> Iterator[Sessions]:
    """Opens sessions for this test; after it, stops any still running and closes them all."""
    pool = Sessions(stack, monitor)
    yield pool
    pool.close()


@pytest.fixture
def soak_seconds(request: pytest.FixtureRequest) -> float:
    """How long the soak runs (``--soak-seconds``)."""
    seconds = request.config.getoption("--soak-seconds")
    if seconds <= 0:
        raise pytest.UsageError("--soak-seconds must be positive")
    return seconds


@pytest.fixture
def trigger_waits_for_locks(monitor: Monitor) -> Iterator[None]:
    """The trigger waits for a lock as long as the test holds it, not just its own short while.

    The trigger function's own ``lock_timeout`` ends any wait quickly (D12): long enough for a
    commit, too short for a test to look at a refresh it holds. Raised for the test, then restored.
    """
    original = monitor.value(
        "select option_value from pg_options_to_table("
        "(select proconfig from pg_proc where oid = %s::regprocedure)) "
        "where option_name = 'lock_timeout'",
        [TRIGGER_FUNCTION],
    )
    assert original, f"{TRIGGER_FUNCTION} sets no lock_timeout of its own"
    monitor.query(f"alter function {TRIGGER_FUNCTION} set lock_timeout = '60s'")
    yield
    monitor.query(
        sql.SQL("alter function {} set lock_timeout = {}").format(
            sql.SQL(TRIGGER_FUNCTION), sql.Literal(original)
        )
    )


@pytest.fixture
def as_found(monitor: Monitor) -> Iterator[None]:
    """After the test and every other fixture's cleanup, the database is as the test found it."""
    before = fingerprint(monitor.conn, AS_FOUND)
    yield
    after = fingerprint(monitor.conn, AS_FOUND)
    changed = {name: (before[name], after[name]) for name in before if before[name] != after[name]}
    assert not changed, f"the test left the database changed: {changed}"
