"""Server processes the harness starts and stops itself: PostgREST and the gateway's nginx.

Each runs in a session of its own (so it outlives `just up`, and its workers share its process
group), writes its output to a log file, and is remembered by a pid file in the stack folder. It is
stopped as PostgREST's own test suite stops its server: terminate, wait with a timeout, then kill.
A pid is only ever signalled when its command line names this stack's configuration file, so a
reused pid or another stack's process is never touched.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .errors import StackError

STOP_TIMEOUT = 10.0
POLL_INTERVAL = 0.05


def wait_for(check: Callable[[], bool], deadline: float) -> bool:
    """Poll ``check`` until it holds or ``deadline`` (a monotonic time) passes."""
    while True:
        if check():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL_INTERVAL)  # polling a process or a port; bounded by the deadline


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie child is reaped and counts as gone)."""
    try:
        reaped, _ = os.waitpid(pid, os.WNOHANG)
        if reaped == pid:
            return False
    except ChildProcessError:
        pass  # not our child: it was started by an earlier harness command
    try:
        with open(f"/proc/{pid}/stat") as stat:
            state = stat.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


@dataclass
class Daemon:
    """One server process: its name, pid file, log file and the file its command line must name."""

    name: str
    pid_file: Path
    log_file: Path
    marker: Path  # the configuration file: part of the command line of this stack's process only
    # the process this object started, while the harness command that started it runs
    _process: subprocess.Popen | None = field(default=None, init=False, repr=False)

    def pid(self) -> int | None:
        """The running process's pid, or None (a stale pid file is removed)."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        # a server may be rewriting its command line (nginx sets its process title): look again
        # before calling a live process someone else's
        for _ in range(3):
            if not _alive(pid):
                break
            if str(self.marker) in _cmdline(pid):
                return pid
            time.sleep(POLL_INTERVAL)  # a process title being rewritten; a few tries at most
        self.pid_file.unlink(missing_ok=True)
        return None

    def start(self, cmd: list[str], env: dict[str, str] | None = None) -> int:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as log:
            process = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        self.pid_file.write_text(f"{process.pid}\n")
        self._process = process
        return process.pid

    def exited(self) -> bool:
        """Whether the process is gone: asked of the child itself when this object started it."""
        if self._process is not None:
            return self._process.poll() is not None
        return self.pid() is None

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Terminate the process group, wait up to ``timeout`` s, then kill what is left."""
        pid = self.pid()
        if pid is None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(pid, sig)
            except ProcessLookupError:
                break
            if wait_for(lambda: not _alive(pid), time.monotonic() + timeout):
                break
        else:
            raise StackError(f"{self.name} (pid {pid}) did not stop, even when killed")
        # signals go to the process group: a master's workers (nginx) go with it, even when killed
        self.pid_file.unlink(missing_ok=True)

    def log_tail(self, lines: int = 8) -> str:
        if not self.log_file.exists():
            return "(no log)"
        return " | ".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return ""
