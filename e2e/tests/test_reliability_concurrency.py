"""Concurrent writers and readers: one refresh cycle however commits meet, no write lost, readers
never blocked, and the views exact once the trailing flush has run.

Sessions are connections as PostgREST opens them (``authenticator``, one transaction per request,
the persona's role and claims set for it), each driven from its own thread. Tests order them with
advisory locks and ``pg_blocking_pids()``; a watchdog stops any step that overruns.
"""

from __future__ import annotations

import math
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import date, timedelta

import psycopg
import pytest
from psycopg.pq import TransactionStatus

import harness
from fix_reliability import (
    SOAK_TOTALS,
    STEP_TIMEOUT,
    Barrier,
    Monitor,
    Sessions,
    authenticator_dsn,
    begin_request,
    format_soak_totals,
    insert_activity,
)
from refresh_control import BOTH_VIEWS_FRESH, RefreshControl, poll, xact_id
from transport import Persona, Reference

pytestmark = pytest.mark.usefixtures("as_found", "recorded_failures", "new_activities")


@dataclass(frozen=True)
class Author:
    """Who writes (a persona) and where (a chapter where they are a peer mentor)."""

    persona: Persona
    chapter_id: str


def write(
    conn: psycopg.Connection,
    author: Author,
    type_id: int,
    contact_ref: str,
    isolation: str = "read committed",
) -> int:
    """Begin a request as the author and insert one of their activities; the transaction's id."""
    begin_request(conn, author.persona, isolation=isolation)
    insert_activity(
        conn,
        mentor_id=author.persona.user_id,
        chapter_id=author.chapter_id,
        type_id=type_id,
        contact_ref=contact_ref,
    )
    return xact_id(conn)


def commit(conn: psycopg.Connection) -> None:
    conn.execute("commit")


def wait_then_commit(conn: psycopg.Connection, barrier: Barrier) -> None:
    barrier.wait(conn)
    conn.execute("commit")


@pytest.fixture
def authors(reference: Reference) -> dict[str, Author]:
    return {
        "A": Author(reference["mentor_a"], reference.chapter("A")),
        "B": Author(reference["mentor_bc"], reference.chapter("B")),
        "C": Author(reference["mentor_bc"], reference.chapter("C")),
    }


def test_commit_during_another_commits_refresh_skips_at_once_and_one_cycle_runs(
    sessions: Sessions,
    monitor: Monitor,
    refresh_control: RefreshControl,
    authors: dict[str, Author],
    counted_type: int,
    recorded_failures: int,
    flush_paused: None,
    trigger_waits_for_locks: None,
) -> None:
    """A commit landing while another commit's refresh is under way neither waits nor refreshes."""
    holder = sessions.open("holder", login="superuser")
    first, second = sessions.open_api("first"), sessions.open_api("second")
    refresh_control.expire_window()
    cycles = refresh_control.refresh_count()

    # An operator's refresh, left open, keeps the view's EXCLUSIVE lock: the first commit's refresh
    # waits for it while holding the log row, i.e. it is "a refresh under way".
    holder.sql("refresh materialized view concurrently stats.mv_peer_mentor_stats")
    first_xact = first.run(write, authors["A"], counted_type, "reliability:held:first")
    first_commit = first.start(commit)
    monitor.wait_until_blocked(first, by=holder, step=first_commit)

    second_xact = second.run(write, authors["B"], counted_type, "reliability:held:second")
    second.run(commit)
    # The first commit is still inside its refresh, so the second did not wait for it.
    assert holder.pid in monitor.blocking_pids(first.pid)
    assert refresh_control.refresh_count() == cycles

    holder.commit()
    first.finish(first_commit)
    assert refresh_control.refresh_count() == cycles + 1
    assert refresh_control.log()["last_refresh_source"] == "commit"
    # The second change waits for the flush, marked without touching the log row.
    assert refresh_control.pending([first_xact, second_xact]) == {second_xact: "concurrent"}
    assert refresh_control.failures_since(recorded_failures) == []
    assert refresh_control.flush() == "refreshed"
    assert refresh_control.views_differ_from_definitions() == BOTH_VIEWS_FRESH


@pytest.mark.parametrize("round_", range(3), ids=lambda r: f"round{r}")
def test_two_commits_at_the_same_moment_give_exactly_one_refresh_cycle(
    sessions: Sessions,
    monitor: Monitor,
    refresh_control: RefreshControl,
    authors: dict[str, Author],
    counted_type: int,
    recorded_failures: int,
    flush_paused: None,
    round_: int,
) -> None:
    """Two writers released from one barrier into COMMIT together: both commit, one cycle runs."""
    left, right = sessions.open_api("left"), sessions.open_api("right")
    barrier = Barrier(monitor)
    refresh_control.expire_window()
    cycles = refresh_control.refresh_count()

    left_xact = left.run(write, authors["A"], counted_type, f"reliability:barrier:{round_}")
    right_xact = right.run(write, authors["C"], counted_type, f"reliability:barrier:{round_}")
    commits = [left.start(wait_then_commit, barrier), right.start(wait_then_commit, barrier)]
    barrier.release_when_waiting(left, right)
    left.finish(commits[0])
    right.finish(commits[1])

    assert refresh_control.refresh_count() == cycles + 1
    # Exactly one of the two refreshed; the other left its change to the flush.
    pending = refresh_control.pending([left_xact, right_xact])
    assert len(pending) == 1, pending
    assert set(pending.values()) <= {"concurrent", "debounced"}
    assert refresh_control.failures_since(recorded_failures) == []
    assert refresh_control.flush() == "refreshed"
    assert refresh_control.views_differ_from_definitions() == BOTH_VIEWS_FRESH


def test_readers_of_both_views_are_not_blocked_by_a_refresh_in_progress(
    sessions: Sessions,
    monitor: Monitor,
    refresh_control: RefreshControl,
    reference: Reference,
    authors: dict[str, Author],
    counted_type: int,
    recorded_failures: int,
    flush_paused: None,
    trigger_waits_for_locks: None,
) -> None:
    """With one view mid-refresh in a commit and the other in an operator's refresh, a reader with
    a 100 ms lock_timeout reads both read views."""
    holder = sessions.open("holder", login="superuser")
    writer, reader = sessions.open_api("writer"), sessions.open_api("reader")
    refresh_control.expire_window()
    cycles = refresh_control.refresh_count()

    # The commit refreshes mv_peer_mentor_stats, then waits for mv_activity_time_series, which the
    # operator's open refresh holds: both views are locked by a refresh in progress.
    holder.sql("refresh materialized view concurrently stats.mv_activity_time_series")
    writer.run(write, authors["A"], counted_type, "reliability:reader")
    writer_commit = writer.start(commit)
    monitor.wait_until_blocked(writer, by=holder, step=writer_commit)
    assert "ExclusiveLock" in monitor.relation_locks(writer.pid)["stats.mv_peer_mentor_stats"]
    assert "ExclusiveLock" in monitor.relation_locks(holder.pid)["stats.mv_activity_time_series"]

    def read_both(conn: psycopg.Connection) -> tuple[int, int]:
        begin_request(conn, reference["coordinator_ab"], read_only=True)
        conn.execute("set local lock_timeout = '100ms'")
        stats = conn.execute("select count(*) from public.peer_mentor_stats").fetchone()[0]
        series = conn.execute("select count(*) from public.activity_time_series").fetchone()[0]
        conn.execute("commit")
        return stats, series

    stats_rows, series_rows = reader.run(read_both)
    assert stats_rows > 0 and series_rows > 0, "the reference dataset gives coordinator_ab rows"

    holder.commit()
    writer.finish(writer_commit)
    assert refresh_control.refresh_count() == cycles + 1
    assert refresh_control.failures_since(recorded_failures) == []


def test_vacuum_leaves_the_summary_pages_so_readers_never_wait_for_it(
    monitor: Monitor,
    refresh_control: RefreshControl,
    reference: Reference,
    flush_paused: None,
) -> None:
    """VACUUM keeps the summary's emptied trailing pages (V017): truncating them would take the
    ACCESS EXCLUSIVE lock every dashboard read queues behind. VACUUM (TRUNCATE) then shows the
    pages were there to truncate."""
    mentor, chapter = reference["mentor_a"].user_id, reference.chapter("A")
    high_water = refresh_control.activities_high_water()
    size = "select pg_relation_size('stats.activity_month_summary')"
    # Compacted first, so that earlier tests' rows sit in the first pages and not among the new.
    monitor.query("vacuum full stats.activity_month_summary")
    # One activity per month and kind of 2000-2019, months the reference data does not touch:
    # 1 200 new groups, appended to the summary as pages of their own.
    monitor.query(
        "insert into public.activities (peer_mentor_id, chapter_id, activity_type_id,"
        " activity_date, duration_minutes, contact_ref)"
        " select %s, %s, t.id, m::date, 30, 'vacuum:' || t.id || ':' || m::date"
        " from public.activity_types t,"
        "   generate_series(date '2000-01-01', date '2019-12-01', interval '1 month') m",
        [mentor, chapter],
    )
    refresh_control.settle()
    grown = monitor.value(size)
    monitor.query("delete from public.activities where id > %s", [high_water])
    refresh_control.settle()
    # VACUUM removes the deleted rows only once no snapshot older than their deletion remains.
    deleted_by = monitor.value("select pg_current_xact_id()::text::bigint")
    poll(
        lambda: monitor.value(
            "select count(*) from pg_stat_activity where pid <> pg_backend_pid()"
            " and backend_xmin::text::bigint < %s",
            [deleted_by],
        ),
        lambda older: older == 0,
        deadline=10,
        what="every snapshot older than the deletion to end",
    )

    monitor.query("vacuum stats.activity_month_summary")
    assert monitor.value(size) == grown, "VACUUM truncated the summary"
    monitor.query("vacuum (truncate) stats.activity_month_summary")
    assert monitor.value(size) < grown, "the test left no empty trailing pages to truncate"


# Everything a dashboard reads, as the app reads it.
DASHBOARD_READS = (
    "select count(*) from public.peer_mentor_stats",
    "select count(*) from public.activity_time_series",
    "select count(*) from public.stats_freshness",
)
# Of the relations a session holds a lock on (Monitor.relation_locks), the tables and materialized
# views, each with whether VACUUM keeps its trailing pages; views, indexes and the system catalogs
# (which cannot take storage options) are left out.
TRAILING_PAGES_KEPT_SQL = """
    select format('%%I.%%I', n.nspname, c.relname),
           'vacuum_truncate=false' = any (coalesce(c.reloptions, '{}'))
    from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
    where c.oid = any (%s::regclass[]) and c.relkind in ('r', 'm')
      and n.nspname not in ('pg_catalog', 'information_schema')
"""


@pytest.mark.parametrize("persona", ["coordinator_ab", "mentor_a"])
def test_vacuum_truncates_nothing_a_dashboard_read_reads(
    sessions: Sessions, monitor: Monitor, reference: Reference, persona: str
) -> None:
    """Every table and view a dashboard read reads, found from the locks the read holds (inside
    the definer functions too), keeps its trailing pages (V017, V019): VACUUM's truncation would
    take the ACCESS EXCLUSIVE lock the read then queues behind."""
    reader = sessions.open_api("reader")

    def read_dashboard(conn: psycopg.Connection) -> None:
        begin_request(conn, reference[persona], read_only=True)
        for statement in DASHBOARD_READS:
            conn.execute(statement)

    reader.run(read_dashboard)  # its transaction stays open, and so its locks held
    try:
        locked = sorted(monitor.relation_locks(reader.pid))
        read = dict(monitor.query(TRAILING_PAGES_KEPT_SQL, [locked]))
    finally:
        reader.run(commit)
    # the walk reaches inside the definer functions: the views' data and the joined tables
    assert {"stats.mv_peer_mentor_stats", "public.profiles", "public.chapter_memberships"} <= set(
        read
    ), read
    assert [name for name, kept in read.items() if not kept] == []


@pytest.mark.parametrize(
    ("isolation", "reason"),
    [("read committed", "debounced"), ("repeatable read", "isolation"),
     ("serializable", "isolation")],
)  # fmt: skip
def test_writer_whose_snapshot_predates_a_refresh_commits_at_every_isolation_level(
    sessions: Sessions,
    refresh_control: RefreshControl,
    authors: dict[str, Author],
    counted_type: int,
    recorded_failures: int,
    flush_paused: None,
    isolation: str,
    reason: str,
) -> None:
    """A writer whose snapshot is older than another commit's refresh commits without error (D13)
    and leaves its change to the flush."""
    late, other = sessions.open_api("late"), sessions.open_api("other")
    refresh_control.expire_window()
    cycles = refresh_control.refresh_count()

    # The late writer's first statement fixes its snapshot (for the whole transaction under
    # REPEATABLE READ and SERIALIZABLE) before the other commit refreshes and updates the log row.
    late_xact = late.run(write, authors["A"], counted_type, "reliability:isolation", isolation)
    other.run(write, authors["B"], counted_type, "reliability:isolation")
    other.run(commit)
    assert refresh_control.refresh_count() == cycles + 1

    late.run(commit)
    assert refresh_control.refresh_count() == cycles + 1
    assert refresh_control.pending([late_xact]) == {late_xact: reason}
    assert refresh_control.failures_since(recorded_failures) == []
    assert refresh_control.flush() == "refreshed"
    assert refresh_control.views_differ_from_definitions() == BOTH_VIEWS_FRESH


# -- the soak -------------------------------------------------------------------------------------

SOAK_WINDOW_SECONDS = 2
SOAK_MAX_TRANSACTIONS = 20_000  # per writer: the soak is bounded by count as well as by time
READER_LOCK_TIMEOUT = "1ms"  # any wait for a lock is a failure
SOAK_PERSONAS = ("mentor_a", "mentor_bc", "coordinator_ab", "coordinator_five")
# (acting persona, mentor of the rows, chapter letter): mentors for themselves, coordinators on a
# mentor's behalf; several writers per chapter, so that rows of one chapter change together.
WRITER_PLANS = [
    ("mentor_a", "mentor_a", "A"),
    ("mentor_a", "mentor_a", "A"),
    ("mentor_bc", "mentor_bc", "B"),
    ("mentor_bc", "mentor_bc", "C"),
    ("coordinator_ab", "mentor_a", "A"),
    ("coordinator_ab", "mentor_bc", "B"),
    ("coordinator_five", "mentor_bc", "C"),
    ("coordinator_five", "mentor_bc", "B"),
]
RETURNING = "returning id, activity_type_id, activity_date, duration_minutes, status"
INSERT = (
    "insert into public.activities (peer_mentor_id, chapter_id, activity_type_id, activity_date, "
    "duration_minutes, contact_ref) values (%s, %s, %s, "
    f"(now() at time zone 'Europe/Oslo')::date - %s, %s, %s) {RETURNING}"
)
UPDATE = (
    "update public.activities set activity_type_id = %s, "
    "activity_date = (now() at time zone 'Europe/Oslo')::date - %s, duration_minutes = %s, "
    f"status = %s where id = %s {RETURNING}"
)
DELETE = "delete from public.activities where id = %s returning id"


@dataclass
class Row:
    type_id: int
    activity_date: date
    duration: int
    status: str


@dataclass
class Worker:
    """One thread with one connection: what it did, and what went wrong."""

    name: str
    persona: Persona
    mentor_id: str | None = None
    chapter_id: str | None = None
    pid: int | None = None
    transactions: int = 0
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    reads: int = 0
    errors: list[str] = field(default_factory=list)
    leaks: list[str] = field(default_factory=list)
    rows: dict[int, Row] = field(default_factory=dict)  # its rows, as it last committed them

    def failed(self, what: str, exc: Exception, conn: psycopg.Connection) -> bool:
        """Record an error and roll back; False when the connection is gone for good."""
        self.errors.append(f"{self.name} {what}: {getattr(exc, 'sqlstate', '') or ''} {exc}")
        if conn.broken:
            return False
        if conn.info.transaction_status != TransactionStatus.IDLE:
            conn.execute("rollback")
        return True


def run_writer(
    worker: Worker, dsn: str, type_ids: list[int], stop: threading.Event, seed: int
) -> None:
    """Insert, correct and delete the worker's own activities until told to stop.

    Contact references come from a small pool shared by all writers, and a fifth of the rows have
    none: duplicates (same mentor, kind, date and contact) keep arising and vanishing, within a
    chapter and across two, which is what the counting rules are hardest on.
    """
    rng = random.Random(seed)
    with psycopg.connect(dsn, autocommit=True, application_name=f"soak:{worker.name}") as conn:
        worker.pid = conn.info.backend_pid
        while not stop.is_set() and worker.transactions < SOAK_MAX_TRANSACTIONS:
            op = "insert"
            if worker.rows:
                op = rng.choices(("insert", "update", "delete"), (5, 3, 2))[0]
            changed: dict[int, Row | None] = {}
            try:
                begin_request(conn, worker.persona)
                if op == "insert":
                    for _ in range(rng.randint(1, 3)):
                        contact = f"soak:{rng.randint(1, 30)}" if rng.random() < 0.8 else None
                        values = [
                            worker.mentor_id,
                            worker.chapter_id,
                            rng.choice(type_ids),
                            rng.randint(0, 90),
                            rng.randint(1, 240),
                            contact,
                        ]
                        row_id, *row = conn.execute(INSERT, values).fetchone()
                        changed[row_id] = Row(*row)
                else:
                    target = rng.choice(list(worker.rows))
                    if op == "update":
                        status = rng.choice(("registered", "registered", "cancelled"))
                        values = [
                            rng.choice(type_ids),
                            rng.randint(0, 90),
                            rng.randint(1, 1440),
                            status,
                            target,
                        ]
                        found = conn.execute(UPDATE, values).fetchone()
                        changed[target] = Row(*found[1:]) if found else None
                    else:
                        found = conn.execute(DELETE, [target]).fetchone()
                        changed[target] = None
                    if found is None:
                        raise AssertionError(f"{op} of the writer's own row {target} hit no row")
                conn.execute("commit")
            except (psycopg.Error, AssertionError) as exc:
                if worker.failed(op, exc, conn):
                    continue
                return
            # Only a committed transaction changes what the writer expects to find.
            worker.transactions += 1
            counter = {"insert": "inserted", "update": "updated", "delete": "deleted"}[op]
            setattr(worker, counter, getattr(worker, counter) + len(changed))
            for row_id, row in changed.items():
                if row is None:
                    del worker.rows[row_id]
                else:
                    worker.rows[row_id] = row


def run_reader(worker: Worker, dsn: str, stop: threading.Event) -> None:
    """Poll both read views as the persona, checking that every row is one of their chapters'."""
    persona = worker.persona
    allowed = persona.chapter_ids()
    only_own = not persona.chapter_ids("coordinator")
    with psycopg.connect(dsn, autocommit=True, application_name=f"soak:{worker.name}") as conn:
        worker.pid = conn.info.backend_pid
        while not stop.is_set():
            try:
                begin_request(conn, persona, read_only=True)
                # a reader that had to wait for a lock would fail here
                conn.execute(f"set local lock_timeout = '{READER_LOCK_TIMEOUT}'")
                stats = conn.execute(
                    "select chapter_id::text, peer_mentor_id::text from public.peer_mentor_stats"
                ).fetchall()
                series = conn.execute(
                    "select chapter_id::text from public.activity_time_series"
                ).fetchall()
                conn.execute("commit")
            except psycopg.Error as exc:
                if worker.failed("read", exc, conn):
                    continue
                return
            worker.reads += 1
            for chapter_id, mentor_id in stats:
                if chapter_id not in allowed or (only_own and mentor_id != persona.user_id):
                    worker.leaks.append(f"peer_mentor_stats ({chapter_id}, {mentor_id})")
            worker.leaks.extend(
                f"activity_time_series ({chapter_id})"
                for (chapter_id,) in series
                if chapter_id not in allowed
            )


def join_or_stop(threads: list[threading.Thread], workers: list[Worker], monitor: Monitor) -> None:
    """Join every thread; the watchdog terminates the backend of any that is stuck."""
    deadline = time.monotonic() + STEP_TIMEOUT
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    stuck = [w for t, w in zip(threads, workers, strict=True) if t.is_alive()]
    for worker in stuck:
        if worker.pid is not None:
            monitor.terminate(worker.pid)
    for thread in threads:
        thread.join(STEP_TIMEOUT)
    assert not stuck, f"the watchdog stopped {[w.name for w in stuck]}: stuck past the soak's end"


# The counting rules written again from their description (registered, of a kind that counts, not
# a later duplicate: same mentor, kind, date and non-null contact_ref, lowest id counts), so that
# the views are checked against an aggregate that shares no SQL with them.
COUNTED = """
    with ranked as (
        select a.*, row_number() over (
            partition by a.peer_mentor_id, a.activity_type_id, a.activity_date, a.contact_ref
            order by a.id) as nth
        from public.activities a
        join public.activity_types t on t.id = a.activity_type_id
        where a.status = 'registered' and t.counts_for_bufdir
    ),
    counted as (select * from ranked where contact_ref is null or nth = 1)
"""
INDEPENDENT_AGGREGATES = {
    "stats.mv_peer_mentor_stats": (
        "select chapter_id, peer_mentor_id, count(*), sum(duration_minutes), max(activity_date) "
        "from counted group by 1, 2",
        "select chapter_id, peer_mentor_id, activity_count, total_minutes, last_activity_date "
        "from stats.mv_peer_mentor_stats",
    ),
    "stats.mv_activity_time_series": (
        "select chapter_id, date_trunc('month', activity_date)::date, activity_type_id, count(*), "
        "sum(duration_minutes), count(distinct peer_mentor_id) from counted group by 1, 2, 3",
        "select chapter_id, month, activity_type_id, activity_count, total_minutes, "
        "active_mentors from stats.mv_activity_time_series",
    ),
}


def independent_differences(monitor: Monitor) -> dict[str, int]:
    """Rows by which each view differs from the test's own aggregate of the base tables."""
    return {
        view: monitor.value(
            f"{COUNTED}, fresh as ({fresh}), stored as ({stored}) select count(*) from ("
            "(select * from stored except all select * from fresh) union all "
            "(select * from fresh except all select * from stored)) d"
        )
        for view, (fresh, stored) in INDEPENDENT_AGGREGATES.items()
    }


@pytest.fixture
def soak_window(refresh_control: RefreshControl):
    """A 2 s debounce window for the soak, so that it runs many refresh cycles; restored after."""
    original = refresh_control.log()["debounce_window"]
    refresh_control.configure(window=timedelta(seconds=SOAK_WINDOW_SECONDS))
    yield SOAK_WINDOW_SECONDS
    refresh_control.configure(window=original)


def trailing_flush(refresh_control: RefreshControl) -> str:
    """The flush as the flusher runs it; "busy" only while another refresh holds the log row."""
    return poll(refresh_control.flush, lambda outcome: outcome != "busy", deadline=STEP_TIMEOUT,
                what="a flush that finds the log row free")  # fmt: skip


@pytest.mark.slow
def test_soak_eight_writers_and_four_readers_lose_nothing(
    request: pytest.FixtureRequest,
    stack: harness.Stack,
    monitor: Monitor,
    refresh_control: RefreshControl,
    reference: Reference,
    recorded_failures: int,
    soak_seconds: float,
    soak_window: int,
    flush_paused: None,
) -> None:
    """Eight writers insert, correct and delete while four readers poll both read views: no error,
    no leak, commit-time cycles within the window's bound, every write present, the views exact
    after the trailing flush."""
    dsn = authenticator_dsn(stack)
    type_ids = [type_id for (type_id,) in monitor.query("select id from public.activity_types")]
    writers = [
        Worker(f"writer{i}", reference[acting], reference[mentor].user_id, reference.chapter(ch))
        for i, (acting, mentor, ch) in enumerate(WRITER_PLANS)
    ]
    readers = [Worker(f"reader:{name}", reference[name]) for name in SOAK_PERSONAS]
    stop = threading.Event()
    threads = [
        threading.Thread(target=run_writer, name=w.name, args=(w, dsn, type_ids, stop, seed))
        for seed, w in enumerate(writers)
    ] + [threading.Thread(target=run_reader, name=r.name, args=(r, dsn, stop)) for r in readers]

    high_water = refresh_control.activities_high_water()
    refresh_control.expire_window()
    cycles_before = refresh_control.refresh_count()
    started = time.monotonic()
    for thread in threads:
        thread.start()
    # The main thread is only the soak's clock: nothing is ordered by this wait.
    stop.wait(soak_seconds)
    stop.set()
    join_or_stop(threads, writers + readers, monitor)
    elapsed = time.monotonic() - started

    flush = trailing_flush(refresh_control)
    cycles = refresh_control.refresh_count() - cycles_before
    expected = {row_id: row for w in writers for row_id, row in w.rows.items()}
    found = {
        row_id: Row(*values)
        for row_id, *values in monitor.query(
            "select id, activity_type_id, activity_date, duration_minutes, status "
            "from public.activities where id > %s",
            [high_water],
        )
    }
    lost = sum(found.get(row_id) != row for row_id, row in expected.items())
    lost += sum(row_id not in expected for row_id in found)
    errors = [e for w in writers + readers for e in w.errors]
    leaks = [leak for r in readers for leak in r.leaks]
    failures = refresh_control.failures_since(recorded_failures)
    # The flusher is paused, so every cycle but the trailing flush's is a commit's. A commit starts
    # a cycle only when the last one ended a window ago or more, so cycles start at least a window
    # apart and at most floor(elapsed / window) + 1 fit in the soak. Eight busy writers reach that
    # bound whenever the cycles are short: reaching it is the design working, passing it a bug.
    bound = math.floor(elapsed / soak_window) + 1 + (flush == "refreshed")
    stale = refresh_control.views_differ_from_definitions()
    independent = independent_differences(monitor)
    totals = {
        "seconds": round(elapsed, 1),
        "writers": len(writers),
        "readers": len(readers),
        "write_transactions": sum(w.transactions for w in writers),
        "rows_inserted": sum(w.inserted for w in writers),
        "rows_updated": sum(w.updated for w in writers),
        "rows_deleted": sum(w.deleted for w in writers),
        "reads": sum(r.reads for r in readers),
        "refresh_cycles": cycles,
        "cycle_bound": bound,
        "trailing_flush": flush,
        "errors": len(errors),
        "refresh_failures": len(failures),
        "leaks": len(leaks),
        "lost": lost,
        "stale_view_rows": sum(stale.values()) + sum(independent.values()),
    }
    request.config.stash[SOAK_TOTALS] = totals
    summary = format_soak_totals(totals)

    assert errors == [], f"{summary}; first errors: {errors[:5]}"
    assert leaks == [], f"{summary}; first leaks: {leaks[:5]}"
    assert failures == [], summary
    assert lost == 0, summary
    assert flush in ("refreshed", "idle"), summary
    assert 1 <= cycles <= bound, summary
    assert all(w.transactions > 0 for w in writers), summary
    assert all(r.reads > 0 for r in readers), summary
    assert stale == BOTH_VIEWS_FRESH, summary
    assert independent == BOTH_VIEWS_FRESH, summary
