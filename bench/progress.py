"""Progress lines on standard error: one updating line on a terminal, a line per step otherwise."""

from __future__ import annotations

import sys
import time


class Progress:
    """Shows which size, round and measurement is running, and how far it is."""

    def __init__(self, stream=sys.stderr) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.prefix = ""
        self.label = ""
        self.total = 0
        self.done = 0
        self._last = 0.0
        self._started = time.monotonic()

    def context(self, prefix: str) -> None:
        self.prefix = prefix

    def note(self, message: str) -> None:
        """A line that stays: a phase starting or ending."""
        self._clear()
        elapsed = time.monotonic() - self._started
        print(f"bench [{elapsed:6.0f}s] {self.prefix}{message}", file=self.stream, flush=True)

    def start(self, label: str, total: int) -> None:
        self.label, self.total, self.done = label, total, 0
        self._show(force=True)

    def tick(self) -> None:
        self.done += 1
        self._show(force=self.done == self.total)

    def _show(self, force: bool) -> None:
        now = time.monotonic()
        if self.tty:
            if force or now - self._last > 0.2:
                line = f"bench {self.prefix}{self.label} {self.done}/{self.total}"
                print(f"\r\x1b[K{line}", end="", file=self.stream, flush=True)
                self._last = now
        elif self.done == self.total and self.total:
            self.note(f"{self.label} {self.done}/{self.total}")

    def _clear(self) -> None:
        if self.tty:
            print("\r\x1b[K", end="", file=self.stream, flush=True)
