"""What is measured at one size, in which order, and how each sample is proved to be on its path.

The samples of every measurement are spread over several rounds, and each round measures a path
and its baseline one after the other, so that a change of load on a shared machine falls on both.
Each block starts from the same state: the rows the previous block wrote are deleted and the
trailing flush brings both views and the pending queue back in line, so the table stays at the
loaded size and every refresh applies the same small difference. After each sample of a path that
must (or must not) refresh, the log row's refresh_count proves that it did (or did not).
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from .http_paths import HttpWrites
from .paths import VIEWS, Paths
from .progress import Progress

# A debounce window no block outlasts: inserts in the "skip" block all land inside it.
LONG_WINDOW = timedelta(hours=1)
# The window during refresh blocks; it is reset before every sample anyway.
SHORT_WINDOW = timedelta(seconds=10)


@dataclass
class Measurement:
    """One figure of the report: what it is, its samples, and what it is compared with."""

    key: str
    label: str
    kind: str  # "fast" (at least 200 samples) or "refresh" (at least 30)
    baseline: str | None
    samples: list[float] = field(default_factory=list)
    blocked: int = 0
    off_path: int = 0  # samples that did not take the path they were meant to (must stay 0)


MEASUREMENTS = (
    ("insert_baseline", "INSERT 1 row, trigger disabled (baseline)", "fast", None),
    (
        "insert_skip",
        "INSERT 1 row inside the debounce window (skip path)",
        "fast",
        "insert_baseline",
    ),
    ("insert_refresh", "INSERT 1 row that runs the refresh cycle", "refresh", "insert_baseline"),
    ("debounce_check", "Debounce check alone (read of the log row)", "fast", "insert_baseline"),
    ("insert100_baseline", "INSERT 100 rows in one transaction, trigger disabled", "fast", None),
    (
        "insert100_skip",
        "INSERT 100 rows in one transaction, skip path",
        "fast",
        "insert100_baseline",
    ),
    (
        "insert100_refresh",
        "INSERT 100 rows in one transaction, one refresh cycle",
        "refresh",
        "insert100_baseline",
    ),
    (
        "refresh_peer_mentor_stats",
        "REFRESH CONCURRENTLY stats.mv_peer_mentor_stats alone",
        "refresh",
        "insert_baseline",
    ),
    (
        "refresh_activity_time_series",
        "REFRESH CONCURRENTLY stats.mv_activity_time_series alone",
        "refresh",
        "insert_baseline",
    ),
    (
        "refresh_cycle",
        "Refresh cycle: both views and the log row (trailing flush)",
        "refresh",
        "insert_baseline",
    ),
    (
        "cycle_at_commit",
        "Both REFRESHes inside the refreshing INSERT's commit (server side)",
        "refresh",
        "insert_baseline",
    ),
    ("read_baseline", "Reader: both read views, no refresh running", "fast", None),
    (
        "read_during_refresh",
        "Reader: both read views while a refresh holds its lock",
        "refresh",
        "read_baseline",
    ),
    (
        "insert_flush_only",
        "INSERT 1 row, flush-only mode (no refresh at commit)",
        "fast",
        "insert_baseline",
    ),
    # the app's write, end to end (bench/http_paths.py), beside the same path at the SQL level
    (
        "http_insert_skip",
        "HTTP: POST 1 row through the gateway and PostgREST, inside the window (skip path)",
        "fast",
        "insert_skip",
    ),
    (
        "http_insert_refresh",
        "HTTP: POST 1 row through the gateway and PostgREST that runs the refresh cycle",
        "refresh",
        "insert_refresh",
    ),
)
HTTP_MEASUREMENTS = ("http_insert_skip", "http_insert_refresh")


def _share(total: int, rounds: int, index: int) -> int:
    return total // rounds + (1 if index < total % rounds else 0)


class Plan:
    """Runs every measurement at the size currently loaded."""

    def __init__(
        self,
        paths: Paths,
        progress: Progress,
        *,
        fast: int,
        refresh: int,
        rounds: int,
        warmup: int,
        http: HttpWrites | None = None,
    ) -> None:
        self.paths = paths
        self.http = http  # None: the stack serves no HTTP API, and the HTTP figures stay empty
        self.progress = progress
        self.fast = fast
        self.refresh = refresh
        self.rounds = rounds
        self.warmup = warmup
        self.results = {
            key: Measurement(key, label, kind, base) for key, label, kind, base in MEASUREMENTS
        }
        self.watermark = paths.control.activities_high_water()
        self.lock_seen = True

    # -- helpers --------------------------------------------------------------------------------

    def _count(self, key: str, round_index: int) -> int:
        kind = self.results[key].kind
        return _share(self.fast if kind == "fast" else self.refresh, self.rounds, round_index)

    def _collect(
        self,
        key: str,
        round_index: int,
        timed: Callable[[], float],
        before: Callable[[], None] | None = None,
        expect_refreshes: int | None = None,
        after: Callable[[], None] | None = None,
    ) -> None:
        """Take this round's samples of one measurement; `expect_refreshes` checks the path."""
        m = self.results[key]
        count = self._count(key, round_index)
        for _ in range(self.warmup if m.kind == "fast" else 1):
            if before:
                before()
            timed()
        self.progress.start(key, count)
        for _ in range(count):
            if before:
                before()
            counted = self.paths.control.refresh_count() if expect_refreshes is not None else 0
            gc.disable()
            try:
                took = timed()
            finally:
                gc.enable()
            if (
                expect_refreshes is not None
                and self.paths.control.refresh_count() - counted != expect_refreshes
            ):
                m.off_path += 1
            m.samples.append(took)
            if after:
                after()
            self.progress.tick()

    @contextmanager
    def _block(
        self, *, trigger: bool = True, window: timedelta | None = None, mode: str = "commit"
    ):
        p = self.paths
        p.set_trigger(trigger)
        p.control.configure(window=window or SHORT_WINDOW, mode=mode)
        if trigger and mode == "commit" and window == LONG_WINDOW:
            p.control.expire_window()
            p.insert(1)  # one refresh now, so that every insert of the block lands in the window
        try:
            yield
        finally:
            p.resync(self.watermark)

    # -- the run --------------------------------------------------------------------------------

    def run(self) -> dict[str, Measurement]:
        p = self.paths
        for r in range(self.rounds):
            self.progress.note(f"round {r + 1}/{self.rounds}")
            with self._block(trigger=False):
                self._collect("insert_baseline", r, lambda: p.insert(1))
                self._collect("insert100_baseline", r, lambda: p.insert(100))
                self._collect("read_baseline", r, self._read_unblocked)
            with self._block(window=LONG_WINDOW):
                self._collect("insert_skip", r, lambda: p.insert(1), expect_refreshes=0)
                self._collect("insert100_skip", r, lambda: p.insert(100), expect_refreshes=0)
                self._collect("debounce_check", r, p.debounce_check)
                if self.http:
                    self._collect("http_insert_skip", r, self.http.insert, expect_refreshes=0)
            with self._block():
                self._collect(
                    "insert_refresh",
                    r,
                    lambda: p.insert(1),
                    before=p.control.expire_window,
                    expect_refreshes=1,
                    after=self._record_commit_cycle,
                )
                self._collect(
                    "insert100_refresh",
                    r,
                    lambda: p.insert(100),
                    before=p.control.expire_window,
                    expect_refreshes=1,
                )
                if self.http:
                    self._collect(
                        "http_insert_refresh",
                        r,
                        self.http.insert,
                        before=p.control.expire_window,
                        expect_refreshes=1,
                    )
            with self._block(window=LONG_WINDOW):
                # each refresh applies the difference of one new row, as after a user's insert
                for key, view in zip(
                    ("refresh_peer_mentor_stats", "refresh_activity_time_series"),
                    VIEWS,
                    strict=True,
                ):
                    self._collect(
                        key, r, lambda view=view: p.refresh_view(view), before=lambda: p.insert(1)
                    )
                self._collect(
                    "refresh_cycle", r, p.flush, before=lambda: p.insert(1), expect_refreshes=1
                )
                self._collect("read_during_refresh", r, self._read_during_refresh)
            with self._block(mode="flush_only"):
                self._collect("insert_flush_only", r, lambda: p.insert(1), expect_refreshes=0)
        return self.results

    def _record_commit_cycle(self) -> None:
        self.results["cycle_at_commit"].samples.append(self.paths.last_cycle_ms())

    def _read_unblocked(self) -> float:
        took, blocked = self.paths.read_views()
        self.results["read_baseline"].blocked += blocked
        return took

    def _read_during_refresh(self) -> float:
        self.lock_seen &= self.paths.hold_refresh()
        try:
            took, blocked = self.paths.read_views()
        finally:
            self.paths.release_refresh()
        self.results["read_during_refresh"].blocked += blocked
        return took
