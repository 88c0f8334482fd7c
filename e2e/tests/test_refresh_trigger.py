"""The refresh trigger (V007) with real commits, concurrent sessions and pg_stat_user_tables.

The pgTAP files 20-24 drive the same machinery inside one transaction; what needs separate
transactions lives here: the debounce across commits, isolation levels, a commit that finds the log
row taken (D6), a refresh racing a skipped writer's commit, the trailing flush and its job. A
refresh cut by lock_timeout (D12) or statement_timeout, at commit or in the flush, is a fault of
e2e/tests/test_reliability_faults.py. Every test runs with the flusher paused and ends the
debounce window through the operator helper instead of waiting for it (fixture ``refresh``).
"""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta

import psycopg
import pytest

from fix_refresh import DEADLINE, RefreshProbe, commit_within
from refresh_control import COMMIT_BUDGET, FLUSH_JOB, FLUSHER_START_DEADLINE, poll, xact_id


def _delta(
    after: dict[str, tuple[int, ...]], before: dict[str, tuple[int, ...]], name: str
) -> tuple[int, ...]:
    return tuple(a - b for a, b in zip(after[name], before[name], strict=True))


# ---------------------------------------------------------------------------------------------
# The ticket's cases with real commits
# ---------------------------------------------------------------------------------------------


def test_single_insert_runs_one_refresh_cycle(
    refresh: RefreshProbe, recorded_failures: int
) -> None:
    """One insert committed outside the window refreshes both views once and logs it."""
    refresh.commit_insert()  # the mentor's rows exist in both views: later cycles update them
    refresh.expire_window()
    before_log = refresh.log()
    before_stats = refresh.table_stats()

    with refresh.connect() as writer:
        refresh.insert(writer)
        writer.execute("select pg_stat_force_next_flush()")
        commit_within(writer, DEADLINE)

    after_stats = poll(
        refresh.table_stats,
        lambda s: s["stats_refresh_log"] != before_stats["stats_refresh_log"],
        deadline=DEADLINE,
        what="the writer's statistics to be published",
    )
    after_log = refresh.log()
    assert after_log["refresh_count"] == before_log["refresh_count"] + 1
    assert after_log["refreshed_at"] > before_log["refreshed_at"]
    assert after_log["last_refresh_source"] == "commit"
    # pg_stat_user_tables: the log row written once, each view scanned by its refresh
    log_delta = _delta(after_stats, before_stats, "stats_refresh_log")
    assert log_delta[2] == 1, f"log row updates: {log_delta}"
    for view in ("mv_peer_mentor_stats", "mv_activity_time_series"):
        assert _delta(after_stats, before_stats, view)[0] >= 1, f"{view} was not refreshed"
    assert refresh.view_count() == 2
    assert refresh.series_count() == 2
    assert refresh.pending() == {}
    assert refresh.failures_since(recorded_failures) == []


def test_two_rapid_inserts_refresh_once_and_the_flush_catches_up(refresh: RefreshProbe) -> None:
    """A second commit inside the window does not refresh; the flush then brings the views up."""
    refresh.expire_window()
    count = refresh.refresh_count()

    refresh.commit_insert()
    with refresh.connect() as second:
        refresh.insert(second)
        second_xact = xact_id(second)
        commit_within(second, DEADLINE)

    assert refresh.refresh_count() == count + 1, "two commits in the window: one refresh"
    assert refresh.view_count() == 1, "the second insert is not in the view yet"
    assert refresh.pending() == {second_xact: "debounced"}

    assert refresh.flush() == "refreshed"
    assert refresh.view_count() == 2
    assert refresh.log()["last_refresh_source"] == "flush"
    assert refresh.pending() == {}
    assert refresh.flush() == "idle"


def test_bulk_insert_of_100_rows_is_one_cycle(refresh: RefreshProbe) -> None:
    """100 rows in one transaction do the work of one refresh, even with a zero window (D7)."""
    refresh.configure(window=timedelta(0))
    refresh.commit_insert()

    def cycle(rows: int) -> tuple[int, dict[str, tuple[int, ...]]]:
        count = refresh.refresh_count()
        before = refresh.table_stats()
        with refresh.connect() as writer:
            refresh.insert(writer, rows)
            writer.execute("select pg_stat_force_next_flush()")
            commit_within(writer, DEADLINE)
        after = poll(
            refresh.table_stats,
            lambda s: s["stats_refresh_log"] != before["stats_refresh_log"],
            deadline=DEADLINE,
            what="the writer's statistics to be published",
        )
        work = {name: _delta(after, before, name) for name in after}
        return refresh.refresh_count() - count, work

    one_cycles, one_work = cycle(1)
    bulk_cycles, bulk_work = cycle(100)
    assert (one_cycles, bulk_cycles) == (1, 1)
    assert bulk_work == one_work, "pg_stat_user_tables: the 100-row commit did one refresh's work"
    assert refresh.view_count() == 102


def test_several_statements_in_one_transaction_are_one_cycle(refresh: RefreshProbe) -> None:
    """Inserts, an update and a delete in one transaction run one cycle at its COMMIT."""
    refresh.configure(window=timedelta(0))  # every commit is outside the window
    refresh.commit_insert()
    count = refresh.refresh_count()
    with refresh.connect() as writer:
        refresh.insert(writer)
        refresh.insert(writer, rows=2)
        writer.execute(
            "update public.activities set duration_minutes = 45 where chapter_id = %s",
            (refresh.world.chapter_id,),
        )
        writer.execute(
            "delete from public.activities where id = "
            "(select min(id) from public.activities where chapter_id = %s)",
            (refresh.world.chapter_id,),
        )
        commit_within(writer, DEADLINE)
    assert refresh.refresh_count() == count + 1
    assert refresh.view_count() == 3


def test_signed_in_mentor_write_refreshes_with_the_owners_rights(
    refresh: RefreshProbe, recorded_failures: int
) -> None:
    """A write made as PostgREST makes it (role authenticated, JWT claims) runs the refresh."""
    world = refresh.world
    refresh.expire_window()
    count = refresh.refresh_count()
    with refresh.connect() as api:
        api.execute(
            "select set_config('role', 'authenticated', true), "
            "set_config('request.jwt.claims', %s, true)",
            (json.dumps(world.claims(world.mentor_id, world.mentor_email)),),
        )
        api.execute(
            "insert into public.activities (peer_mentor_id, chapter_id, activity_type_id, "
            "activity_date, duration_minutes) "
            "values (%s, %s, %s, (now() at time zone 'Europe/Oslo')::date - 1, 20)",
            (world.mentor_id, world.chapter_id, world.activity_type_id),
        )
        commit_within(api, DEADLINE)
    assert refresh.refresh_count() == count + 1
    assert refresh.view_count() == 1
    assert refresh.failures_since(recorded_failures) == []


def test_transaction_open_past_the_window_refreshes_at_its_commit(refresh: RefreshProbe) -> None:
    """The window is measured at commit (clock_timestamp), not at the transaction's start (D5)."""
    with refresh.connect() as long_writer:
        refresh.insert(long_writer)  # its now() is from before the refresh below
        refresh.expire_window()
        refresh.commit_insert()  # refreshes; the window starts now
        count = refresh.refresh_count()
        refresh.expire_window()  # ... and has ended by the time the long transaction commits
        commit_within(long_writer, DEADLINE)

    assert refresh.refresh_count() == count + 1, "the long transaction refreshed at its commit"
    assert refresh.view_count() == 2
    assert refresh.pending() == {}


# ---------------------------------------------------------------------------------------------
# Isolation levels (D13)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("isolation", ["read committed", "repeatable read", "serializable"])
def test_writer_at_each_isolation_level_commits(
    refresh: RefreshProbe, recorded_failures: int, isolation: str
) -> None:
    """A writer commits at every isolation level; only READ COMMITTED refreshes at commit."""
    refresh.expire_window()
    count = refresh.refresh_count()
    with refresh.connect(isolation=isolation) as writer:
        refresh.insert(writer)
        xact = xact_id(writer)
        commit_within(writer, DEADLINE)

    assert refresh.activities() == 1
    assert refresh.failures_since(recorded_failures) == []
    if isolation == "read committed":
        assert refresh.refresh_count() == count + 1
        assert refresh.pending() == {}
    else:
        # its REFRESH would read with the transaction's first snapshot: the flush does it instead
        assert refresh.refresh_count() == count
        assert refresh.pending() == {xact: "isolation"}
        assert refresh.flush() == "refreshed"
    assert refresh.view_count() == 1


def test_repeatable_read_writer_older_than_a_refresh_commits(
    refresh: RefreshProbe, recorded_failures: int
) -> None:
    """A REPEATABLE READ writer whose snapshot predates another refresh commits cleanly (D13)."""
    refresh.expire_window()
    with refresh.connect(isolation="repeatable read") as writer:
        refresh.insert(writer)  # the snapshot is taken here
        refresh.commit_insert()  # another transaction refreshes and updates the log row
        refresh.expire_window()
        commit_within(writer, DEADLINE)
    assert refresh.activities() == 2
    assert refresh.failures_since(recorded_failures) == [], (
        "no serialization failure, caught or not"
    )
    assert refresh.flush() == "refreshed"
    assert refresh.view_count() == 2


def test_interleaved_serializable_writers_both_commit(
    refresh: RefreshProbe, recorded_failures: int
) -> None:
    """Two SERIALIZABLE writers whose transactions overlap both commit (no refresh reads)."""
    refresh.expire_window()
    first = refresh.connect(isolation="serializable")
    second = refresh.connect(isolation="serializable")
    refresh.insert(first)
    refresh.insert(second)
    commit_within(first, DEADLINE)
    commit_within(second, DEADLINE)
    assert refresh.activities() == 2
    assert refresh.failures_since(recorded_failures) == []
    assert set(refresh.pending().values()) == {"isolation"}
    assert refresh.flush() == "refreshed"
    assert refresh.view_count() == 2


# ---------------------------------------------------------------------------------------------
# Locks: never a hung COMMIT (D12), never a queue on the log row (D6)
# ---------------------------------------------------------------------------------------------


def test_commit_skips_when_another_refresh_holds_the_log_row(
    refresh: RefreshProbe, recorded_failures: int
) -> None:
    """With the log row taken, a commit skips at once (SKIP LOCKED) and the flush reports busy."""
    refresh.expire_window()
    count = refresh.refresh_count()
    holder = refresh.connect()
    holder.execute("select from stats.stats_refresh_log where id for update")

    with refresh.connect() as writer:
        refresh.insert(writer)
        xact = xact_id(writer)
        elapsed = commit_within(writer, DEADLINE)
    assert elapsed < COMMIT_BUDGET
    assert refresh.pending() == {xact: "concurrent"}
    assert refresh.failures_since(recorded_failures) == [], (
        "skipping is not a failure: nobody waited for the lock"
    )
    assert refresh.flush() == "busy", "the flush waits for the row only up to its lock_timeout"
    assert refresh.failures_since(recorded_failures) == []

    holder.rollback()
    assert refresh.refresh_count() == count
    assert refresh.flush() == "refreshed"
    assert refresh.view_count() == 1


def test_refresh_started_before_a_skipped_writer_commits_keeps_it_pending(
    refresh: RefreshProbe,
) -> None:
    """A refresh whose snapshot missed a skipped writer leaves that writer pending, for the flush.

    The writer's change is marked pending before it commits; a refresh takes its snapshot, the
    writer commits, and only then does the refresh clear what it covered. A counter of skipped
    writes would be cleared here and the change lost until the next write.
    """
    refresh.expire_window()
    refresh.commit_insert()  # refreshes: the window is open from here on
    refresh.commit_insert()  # skipped and committed: gives the flush below something to do

    writer = refresh.connect()
    refresh.insert(writer)
    writer.execute("set constraints all immediate")  # its cycle runs now: skipped, pending
    writer_xact = xact_id(writer)

    holder = refresh.connect()
    holder.execute("refresh materialized view concurrently stats.mv_activity_time_series")

    flusher = refresh.connect(autocommit=True)
    flusher_pid = flusher.info.backend_pid
    outcome: list[str] = []
    thread = threading.Thread(
        target=lambda: outcome.append(
            flusher.execute("select stats.flush_stats_refresh()").fetchone()[0]
        )
    )
    thread.start()
    try:
        # the flush has taken its snapshot and waits for the second view
        poll(
            lambda: refresh.conn.execute(
                "select %s = any (pg_blocking_pids(%s))", (holder.info.backend_pid, flusher_pid)
            ).fetchone()[0],
            bool,
            deadline=0.8,  # the flush's lock_timeout is 1 s
            what="the flush to wait for the view lock",
        )
        commit_within(writer, DEADLINE)
    finally:
        holder.rollback()
        thread.join(DEADLINE)
    assert outcome == ["refreshed"]
    assert refresh.pending() == {writer_xact: "debounced"}, "the writer's change is still pending"
    # Since V009 each view's query first brings the summary up to date, with a snapshot of its own
    # taken once its locks are granted (here after the holder's rollback), so the view may already
    # count the writer's row; the writer's change must stay pending either way.
    assert refresh.view_count() in (2, 3), "the refresh counted a row that does not exist"

    assert refresh.flush() == "refreshed"
    assert refresh.view_count() == 3
    assert refresh.pending() == {}


# ---------------------------------------------------------------------------------------------
# The trailing flush and the mode setting
# ---------------------------------------------------------------------------------------------


def test_flush_does_nothing_when_nothing_changed(refresh: RefreshProbe) -> None:
    """With nothing pending, the flush neither refreshes nor reads the views nor writes the log."""
    count = refresh.refresh_count()
    with refresh.connect() as conn:
        assert conn.execute("select stats.flush_stats_refresh()").fetchone()[0] == "idle"
        work = conn.execute(
            "select coalesce(sum(seq_scan + coalesce(idx_scan, 0) + n_tup_upd), 0) "
            "from pg_stat_xact_user_tables where schemaname = 'stats' and relname in "
            "('mv_peer_mentor_stats', 'mv_activity_time_series', 'stats_refresh_log')"
        ).fetchone()[0]
    assert work == 0
    assert refresh.refresh_count() == count


def test_flush_only_mode_leaves_every_commit_to_the_flush(refresh: RefreshProbe) -> None:
    """mode = flush_only is a setting: commits never refresh, the flush does."""
    refresh.configure(mode="flush_only")
    refresh.expire_window()
    count = refresh.refresh_count()
    refresh.commit_insert()
    refresh.commit_insert(rows=3)
    assert refresh.refresh_count() == count
    assert sorted(refresh.pending().values()) == ["flush_only", "flush_only"]
    assert refresh.view_count() is None
    assert refresh.flush() == "refreshed"
    assert refresh.view_count() == 4
    assert refresh.refresh_count() == count + 1


def test_flusher_job_refreshes_a_skipped_change_within_its_interval(refresh: RefreshProbe) -> None:
    """The pg_cron job runs the flusher as postgres, one run at a time; resumed, it takes a change
    the debounce left pending into both views within about one flush interval."""
    job = refresh.conn.execute(
        "select schedule, command, username from cron.job where jobname = %s", (FLUSH_JOB,)
    ).fetchall()
    assert len(job) == 1
    schedule, command, username = job[0]
    assert (schedule, username) == ("* * * * *", "postgres")
    # a run starts every minute and fills it; the first one after a reset may be a minute away
    run = poll(refresh.flusher_backend, bool, deadline=FLUSHER_START_DEADLINE, what="a flusher run")
    assert run.application_name == "pg_cron"

    # the same command started by hand finds the job's run and ends at once
    with psycopg.connect(refresh.stack.db_url, autocommit=True) as as_job_user:
        assert as_job_user.execute("select current_user").fetchone()[0] == username
        started = time.monotonic()
        as_job_user.execute(command)
        assert time.monotonic() - started < 1.0, "a second flusher ran instead of ending"

    refresh.expire_window()
    refresh.commit_insert()
    refresh.commit_insert()  # inside the window: pending
    assert refresh.view_count() == 1
    interval = refresh.log()["flush_interval"].total_seconds()
    refresh.configure_flusher(paused=False)
    poll(refresh.view_count, lambda n: n == 2, deadline=interval + 2.0,
         what="the flusher's refresh")  # fmt: skip
    assert refresh.log()["last_refresh_source"] == "flush"
    assert refresh.pending() == {}
