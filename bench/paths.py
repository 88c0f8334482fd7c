"""The database operations the benchmark times, and the untimed ones that set each path up.

Writes go the way the app's do through PostgREST (decision D2): one transaction, the role switched
to ``authenticated`` and the JWT claims set for it, then the INSERT, then COMMIT, so row-level
security and the deferred trigger run exactly as for a user. Operator actions (switching the trigger
off, ending the debounce window, the flush-only mode, refreshing a view) go through V007's operator
functions as `postgres` (``Paths.control``, e2e/refresh_control.py), outside the timed part;
`postgres` is a member of the views' owner.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from time import perf_counter_ns

import psycopg
from psycopg import errors, sql

import harness
from refresh_control import VIEWS, RefreshControl

# The objects of V001-V007 the benchmark drives beside the refresh machinery (refresh_control).
ACTIVITIES = "public.activities"
TRIGGER = "trg_refresh_stats_views"
READ_VIEWS = ("public.peer_mentor_stats", "public.activity_time_series")

# A reader's lock wait longer than this counts as blocked; it would wait for the whole refresh.
READER_LOCK_TIMEOUT = "50ms"


def elapsed_ms(start_ns: int) -> float:
    return (perf_counter_ns() - start_ns) / 1e6


@dataclass(frozen=True)
class Actors:
    """Who writes and who reads: chosen from the loaded data, the same on every run."""

    mentor_id: str
    chapter_id: str
    activity_type_id: int
    coordinator_id: str


class Paths:
    """Connections to one stack and every operation of the benchmark."""

    def __init__(self, stack: harness.Stack) -> None:
        self.stack = stack
        # the user's connection (postgres, switching to `authenticated` per transaction)
        self.writer = psycopg.connect(stack.db_url)
        self.reader = psycopg.connect(stack.db_url)
        # operator actions, and refreshes with the rights of the views' owner
        self.admin = psycopg.connect(stack.db_url, autocommit=True)
        self.control = RefreshControl(self.admin)
        # a second operator connection that holds a refresh's lock while the reader reads
        self.holder = psycopg.connect(stack.db_url)
        self.actors = self._pick_actors()
        self._sequence = 0
        self._settings = self.control.log()

    def close(self) -> None:
        for conn in (self.writer, self.reader, self.admin, self.holder):
            conn.close()

    # -- setup ----------------------------------------------------------------------------------

    def _pick_actors(self) -> Actors:
        one = self.admin.execute
        mentor = one(
            "select m.user_id::text, m.chapter_id::text from public.chapter_memberships m"
            " where m.member_role = 'peer_mentor'"
            " order by (select count(*) from public.chapter_memberships c"
            "           where c.user_id = m.user_id) desc, m.user_id, m.chapter_id limit 1"
        ).fetchone()
        activity_type = one(
            "select id from public.activity_types where counts_for_bufdir order by id limit 1"
        ).fetchone()
        coordinator = one(
            "select user_id::text from public.chapter_memberships"
            " where member_role = 'coordinator'"
            " group by user_id order by count(*) desc, user_id limit 1"
        ).fetchone()
        if not (mentor and activity_type and coordinator):
            raise RuntimeError("the database has no peer mentor, counted type or coordinator")
        return Actors(mentor[0], mentor[1], activity_type[0], coordinator[0])

    def activity_count(self) -> int:
        return self.admin.execute(f"select count(*) from {ACTIVITIES}").fetchone()[0]

    def server_facts(self) -> dict:
        names = (
            "server_version",
            "jit",
            "work_mem",
            "shared_buffers",
            "synchronous_commit",
            "max_parallel_workers_per_gather",
            "effective_cache_size",
            "random_page_cost",
        )
        rows = self.admin.execute(
            "select name, setting, unit from pg_settings where name = any(%s)", (list(names),)
        ).fetchall()
        return {
            name: f"{setting}{unit or ''}" if unit not in ("8kB",) else f"{int(setting) * 8}kB"
            for name, setting, unit in rows
        }

    def vacuum_analyze(self) -> None:
        self.admin.execute(f"vacuum (analyze) {ACTIVITIES}")
        for view in VIEWS:
            self.admin.execute(f"vacuum (analyze) {view}")

    # -- the stats machinery's switches (operator actions, untimed) --------------------------------

    def set_trigger(self, enabled: bool) -> None:
        action = "enable" if enabled else "disable"
        self.admin.execute(f"alter table {ACTIVITIES} {action} trigger {TRIGGER}")

    def last_cycle_ms(self) -> float:
        """Both REFRESHes of the last cycle, as the cycle itself measured them (server side)."""
        return self.control.log()["last_refresh_duration"].total_seconds() * 1000

    def resync(self, watermark: int) -> None:
        """Remove the rows the benchmark wrote, and let the flush bring both views in line.

        The delete runs with the trigger on, in flush-only mode, so it is recorded as pending like
        any write; the flush then refreshes and forgets every pending change (skipped inserts'
        too), and the next block starts with an empty queue.
        """
        self.set_trigger(True)
        self.control.configure(mode="flush_only")
        self.admin.execute(f"delete from {ACTIVITIES} where id > %s", (watermark,))
        self.control.flush()
        self.control.configure(
            window=self._settings["debounce_window"], mode=self._settings["mode"]
        )

    # -- timed operations -----------------------------------------------------------------------

    def _as_user(self, conn: psycopg.Connection, user_id: str, lock_timeout: str | None = None):
        claims = json.dumps({"sub": user_id, "role": "authenticated", "aud": "authenticated"})
        settings = (
            "set_config('role', 'authenticated', true), set_config('request.jwt.claims', %s, true)"
        )
        params: list = [claims]
        if lock_timeout:
            settings += ", set_config('lock_timeout', %s, true)"
            params.append(lock_timeout)
        conn.execute(f"select {settings}", params)

    def insert(self, rows: int = 1) -> float:
        """One transaction inserting `rows` activities as their peer mentor; milliseconds."""
        a = self.actors
        self._sequence += 1
        start = perf_counter_ns()
        self._as_user(self.writer, a.mentor_id)
        self.writer.execute(
            f"insert into {ACTIVITIES}"
            " (peer_mentor_id, chapter_id, activity_type_id, activity_date, duration_minutes)"
            " select %s, %s, %s, (now() at time zone 'Europe/Oslo')::date - ((%s + g) %% 20),"
            " 15 + (g %% 4) * 15 from generate_series(1, %s) g",
            (a.mentor_id, a.chapter_id, a.activity_type_id, self._sequence, rows),
        )
        self.writer.commit()
        return elapsed_ms(start)

    def debounce_check(self) -> float:
        """The trigger's debounce check alone: one read of the log row; milliseconds."""
        start = perf_counter_ns()
        # the trigger's own read and comparison (stats.trg_refresh_stats_views)
        self.admin.execute(
            "select l.refreshed_at > clock_timestamp() - l.debounce_window, l.mode"
            " from stats.stats_refresh_log l where l.id"
        ).fetchone()
        return elapsed_ms(start)

    def refresh_view(self, view: str) -> float:
        start = perf_counter_ns()
        self.admin.execute(
            sql.SQL("refresh materialized view concurrently {}").format(
                sql.Identifier(*view.split("."))
            )
        )
        return elapsed_ms(start)

    def flush(self) -> float:
        """The trailing flush, as pg_cron runs it, with a change pending; milliseconds."""
        start = perf_counter_ns()
        outcome = self.control.flush()
        took = elapsed_ms(start)
        if outcome != "refreshed":
            raise RuntimeError(f"the flush did not refresh: {outcome}")
        return took

    def read_views(self, lock_timeout: str | None = READER_LOCK_TIMEOUT) -> tuple[float, bool]:
        """The dashboard's reads of both views as a coordinator: (milliseconds, blocked)."""
        start = perf_counter_ns()
        try:
            self._as_user(self.reader, self.actors.coordinator_id, lock_timeout)
            for view in READ_VIEWS:
                self.reader.execute(f"select * from {view}").fetchall()
            self.reader.commit()
            return elapsed_ms(start), False
        except errors.LockNotAvailable:
            took = elapsed_ms(start)
            self.reader.rollback()
            return took, True

    # -- a refresh holding its lock on another connection ---------------------------------------

    def hold_refresh(self) -> bool:
        """Refresh both views in an open transaction; True when it holds their EXCLUSIVE locks."""
        for view in VIEWS:
            self.holder.execute(f"refresh materialized view concurrently {view}")
        held = self.admin.execute(
            "select count(*) from pg_locks l where l.pid = %s and l.granted"
            " and l.mode = 'ExclusiveLock' and l.relation = any(%s::regclass[])",
            (self.holder.info.backend_pid, list(VIEWS)),
        ).fetchone()[0]
        return held == len(VIEWS)

    def release_refresh(self) -> None:
        self.holder.commit()
