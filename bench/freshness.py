"""Freshness: how long after its COMMIT each write shows on the dashboard, and what that costs.

Writers insert at a steady total rate, as four peer mentors of one coordinator's chapters, each
write a request as PostgREST runs it (a login as ``authenticator``, one transaction, the role and
the token's claims set for it, the INSERT, COMMIT). A poller reads those mentors' rows of
``public.peer_mentor_stats`` as their coordinator, the way the dashboard does, every 50 ms. Every
write is a counted activity without a contact, so it raises its mentor's ``activity_count`` by one:
the n-th write of a mentor is visible at the first poll that shows the mentor's count at the
starting count + n. Its delay is that poll's start minus the moment its COMMIT returned (so it
includes up to one poll interval of waiting to be seen).

After the writers stop, the poller goes on until every write is visible (or a deadline passes:
an invisible write counts with an infinite delay), then the machine is left idle for a few seconds
to check that nothing refreshes while nothing changes. The same run reports the refresh cycles,
their source (commit or flusher), the share of one core they took (the flusher backend's CPU from
/proc, plus the commit-time cycles' duration), the readers' lock waits, and the sizes a high
refresh rate could grow: the catalog tables REFRESH ... CONCURRENTLY writes its temporary tables
into, the job's run history, the summary, its change log and the pending table. The check bounds
those sizes: no row left behind, bytes within a quarter (plus 512 KiB) of the start.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta

import psycopg
from psycopg.conninfo import make_conninfo

import harness
from refresh_control import (
    FLUSH_JOB,
    FLUSHER_PID_SQL,
    FLUSHER_START_DEADLINE,
    RefreshControl,
    poll,
)
from transport import Persona
from transport.tokens import access_token_claims

from .progress import Progress
from .summary import summarize

WRITERS = 4
POLL_INTERVAL = 0.05
TAIL_SECONDS = 10.0  # the last writes of the load: only the flusher can make them visible
IDLE_SECONDS = 5.0
PROGRESS_EVERY = 60.0  # a line while a long load runs (the soak writes for ten minutes)
VISIBILITY_DEADLINE = 180.0  # after the writers stop; past it, a write counts as never visible
READER_LOCK_TIMEOUT = "50ms"  # a read that would wait longer counts as blocked
AUTHENTICATOR_PASSWORD = "postgres"  # the public local-development default of `supabase start`

# The goal: p99 and the maximum of every write's delay, and the refresh's share of one core.
P99_BUDGET_S = 2.0
MAX_BUDGET_S = 3.0
# What a run may grow: bytes (autovacuum keeps the catalogs and tables from growing without
# limit), and rows (none may be left in the change log and pending table; the run history gets
# one row a minute).
SIZE_GROWTH_FACTOR = 1.25
SIZE_GROWTH_SLACK = 512 * 1024
LEFT_BEHIND = ("stats.activity_summary_changes", "stats.stats_refresh_pending")
CPU_BUDGET = {50_000: 0.05, 1_000_000: 0.10}  # at these sizes, at 20 writes/s

# Bytes on disk and exact row counts (pg_stat's live/dead figures lag other backends by seconds).
SIZES_SQL = """
select c.oid::regclass::text, pg_total_relation_size(c.oid),
       (xpath('/row/n/text()',
              query_to_xml(format('select count(*) as n from %s', c.oid::regclass), false, true,
                           '')))[1]::text::bigint
from pg_class c
where c.oid = any(array['pg_catalog.pg_class', 'pg_catalog.pg_attribute', 'pg_catalog.pg_type',
                        'pg_catalog.pg_depend', 'cron.job_run_details',
                        'stats.activity_month_summary', 'stats.activity_summary_changes',
                        'stats.stats_refresh_pending', 'stats.stats_refresh_failures']::regclass[])
order by 1
"""


@dataclass
class Write:
    mentor: int
    number: int  # the n-th write of its mentor, from 1
    committed: float  # monotonic seconds when COMMIT returned
    visible: float = math.inf


@dataclass
class Actors:
    coordinator: dict
    mentors: list[dict]  # claims of each mentor, with chapter_id beside
    activity_type_id: int


@dataclass
class Observed:
    writes: list[Write] = field(default_factory=list)
    polls: int = 0
    blocked_reads: int = 0
    errors: list[str] = field(default_factory=list)
    cycles: dict[str, int] = field(default_factory=lambda: {"commit": 0, "flush": 0})
    # the refreshes' own duration (wall time on the server), by source
    refresh_seconds: dict[str, float] = field(default_factory=lambda: {"commit": 0.0, "flush": 0.0})


def _claims(user_id: str, email: str) -> dict:
    """The claims of the access token the auth server gives the user after signing in."""
    return access_token_claims(Persona(email, "authenticated", user_id=user_id, email=email))


def pick_actors(admin: psycopg.Connection) -> Actors:
    """The coordinator with the most chapters, and four peer mentors of those chapters."""
    coordinator = admin.execute(
        "select m.user_id::text, u.email from public.chapter_memberships m "
        "join auth.users u on u.id = m.user_id where m.member_role = 'coordinator' "
        "group by m.user_id, u.email order by count(*) desc, m.user_id limit 1"
    ).fetchone()
    mentors = admin.execute(
        "select distinct on (p.user_id) p.user_id::text, u.email, p.chapter_id::text "
        "from public.chapter_memberships p join auth.users u on u.id = p.user_id "
        "where p.member_role = 'peer_mentor' and p.chapter_id in ("
        "  select c.chapter_id from public.chapter_memberships c "
        "  where c.user_id = %s and c.member_role = 'coordinator') "
        "order by p.user_id, p.chapter_id limit %s",
        [coordinator[0], WRITERS],
    ).fetchall()
    if len(mentors) < WRITERS:
        raise RuntimeError(f"the coordinator's chapters have fewer than {WRITERS} peer mentors")
    type_id = admin.execute(
        "select id from public.activity_types where counts_for_bufdir order by id limit 1"
    ).fetchone()[0]
    return Actors(
        coordinator=_claims(*coordinator),
        mentors=[{**_claims(u, e), "chapter_id": c} for u, e, c in mentors],
        activity_type_id=type_id,
    )


def _request(conn: psycopg.Connection, claims: dict, *, read_only: bool) -> None:
    access = "read only" if read_only else "read write"
    conn.execute(f"begin isolation level read committed {access}")
    conn.execute(
        "select set_config('search_path', 'public, public, extensions', true), "
        "set_config('role', 'authenticated', true), set_config('request.jwt.claims', %s, true)",
        [json.dumps({k: v for k, v in claims.items() if k != "chapter_id"})],
    )


def wait_for_flusher(control: RefreshControl, progress: Progress) -> bool:
    """pg_cron starts the flusher's run at the next minute; after a reset that can be a minute.
    An alternative schedule (``--apply`` of a file in bench/alternatives/) has no run to wait
    for. Whether the flush job runs the flusher."""
    command = control.conn.execute(
        "select command from cron.job where jobname = %s", [FLUSH_JOB]
    ).fetchone()
    if command is None or "run_stats_refresh_flusher_round" not in command[0]:
        progress.note("the flush job runs no flusher: measuring the schedule as it is")
        return False
    if control.flusher_backend() is None:
        progress.note("waiting for the flusher's run (pg_cron starts one every minute)")
        poll(control.flusher_backend, bool, deadline=FLUSHER_START_DEADLINE,
             what="a run of the flusher")  # fmt: skip
    return True


def _server_cpu_seconds(superuser_db_url: str) -> float | None:
    """CPU the cluster's processes have used (user + system), where /proc shows them: the
    postmaster's own and its exited children's (which it has waited for), and its live children's.
    None when the server runs elsewhere (a Docker stack)."""
    try:
        with psycopg.connect(superuser_db_url) as conn:
            data_dir = conn.execute("show data_directory").fetchone()[0]
        with open(os.path.join(data_dir, "postmaster.pid")) as f:
            postmaster = int(f.readline())
        tick = os.sysconf("SC_CLK_TCK")
        total = sum(_stat(postmaster)[11:15])  # utime, stime, cutime, cstime
        for pid in os.listdir("/proc"):
            if pid.isdigit() and int(pid) != postmaster:
                fields = _stat(int(pid))
                if fields and int(fields[1]) == postmaster:  # ppid
                    total += fields[11] + fields[12]
        return total / tick
    except (OSError, ValueError, psycopg.Error):
        return None


def _stat(pid: int) -> list[int]:
    """The fields of /proc/<pid>/stat from the state on, numbers where they are (empty when the
    process is gone): index 1 is the parent, 11-14 utime, stime, cutime, cstime, 19 starttime."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return []
    return [0] + [int(v) for v in fields[1:20]]


class FlusherCpu:
    """The CPU the flusher's runs use, read from /proc: a run is one backend for up to a minute,
    then pg_cron starts the next. Sampled with every poll; a run that started during the
    measurement counts from zero, one already running from its first sample."""

    def __init__(self) -> None:
        self.tick = os.sysconf("SC_CLK_TCK")
        with open("/proc/uptime") as f:
            self.started_ticks = float(f.read().split()[0]) * self.tick
        self.used: dict[int, tuple[int, int]] = {}  # pid -> (first, last) CPU in ticks
        self.available = True

    def sample(self, pid: int | None) -> None:
        if pid is None or not self.available:
            return
        fields = _stat(pid)
        if not fields:
            self.available = pid in self.used  # a run that ended; a pid never readable: no /proc
            return
        cpu = fields[11] + fields[12]
        if pid not in self.used:
            first = 0 if fields[19] >= self.started_ticks else cpu
            self.used[pid] = (first, cpu)
        else:
            self.used[pid] = (self.used[pid][0], cpu)

    def seconds(self) -> float | None:
        if not self.available or not self.used:
            return None
        return sum(last - first for first, last in self.used.values()) / self.tick


def measure(
    stack: harness.Stack,
    progress: Progress,
    *,
    rate: float = 20.0,
    seconds: float = 60.0,
    flush_interval: float | None = None,
) -> dict:
    """One freshness run on the stack's current data; the figures as a dict. ``flush_interval``
    (seconds) sets the flusher's interval for the run and puts the previous one back after it."""
    api_dsn = make_conninfo(stack.db_url, user="authenticator", password=AUTHENTICATOR_PASSWORD)
    with psycopg.connect(stack.db_url, autocommit=True) as admin:
        control = RefreshControl(admin)
        actors = pick_actors(admin)
        previous_interval = control.log()["flush_interval"]
        if flush_interval is not None:
            control.configure_flusher(interval=timedelta(seconds=flush_interval))
        try:
            return _measure(stack, progress, admin, control, actors, api_dsn, rate, seconds)
        finally:
            control.configure_flusher(interval=previous_interval)


def _measure(
    stack: harness.Stack,
    progress: Progress,
    admin: psycopg.Connection,
    control: RefreshControl,
    actors: Actors,
    api_dsn: str,
    rate: float,
    seconds: float,
) -> dict:
    flusher = wait_for_flusher(control, progress)
    # what loading or an earlier run left pending would show later as these writes' changes
    control.settle()
    log = control.log()
    if log["flush_paused"]:
        raise RuntimeError("the flusher is paused: resume it to measure freshness")
    sizes_before = admin.execute(SIZES_SQL).fetchall()
    observed = Observed()
    by_mentor: list[list[Write]] = [[] for _ in range(WRITERS)]
    stop_writing = threading.Event()
    stop_polling = threading.Event()
    base: dict[int, int] = {}
    per_writer = rate / WRITERS

    def counts(conn: psycopg.Connection) -> dict[int, int]:
        _request(conn, actors.coordinator, read_only=True)
        rows = dict(
            conn.execute(
                "select peer_mentor_id::text || '/' || chapter_id::text, activity_count "
                "from public.peer_mentor_stats where peer_mentor_id = any(%s::uuid[])",
                [[m["sub"] for m in actors.mentors]],
            ).fetchall()
        )
        conn.execute("commit")
        return {
            i: rows.get(f"{m['sub']}/{m['chapter_id']}", 0) for i, m in enumerate(actors.mentors)
        }

    def writer(index: int) -> None:
        claims = actors.mentors[index]
        number = 0
        try:
            with psycopg.connect(api_dsn, autocommit=True) as conn:
                start = time.monotonic() + index / rate  # the writers take turns
                while not stop_writing.is_set():
                    due = start + number / per_writer
                    pause = due - time.monotonic()
                    if pause > 0 and stop_writing.wait(pause):
                        break
                    _request(conn, claims, read_only=False)
                    conn.execute(
                        "insert into public.activities (peer_mentor_id, chapter_id, "
                        "activity_type_id, activity_date, duration_minutes) values "
                        "(%s, %s, %s, (now() at time zone 'Europe/Oslo')::date, 30)",
                        [claims["sub"], claims["chapter_id"], actors.activity_type_id],
                    )
                    conn.execute("commit")
                    number += 1
                    by_mentor[index].append(Write(index, number, time.monotonic()))
        except psycopg.Error as exc:
            observed.errors.append(f"writer {index}: {exc.sqlstate} {exc}")

    flusher_cpu = FlusherCpu()

    def poller() -> None:
        last_count = None
        seen_up_to = [0] * WRITERS  # writes of a mentor show in order: count only goes up
        try:
            with (
                psycopg.connect(api_dsn, autocommit=True) as conn,
                psycopg.connect(stack.db_url, autocommit=True) as watch,
            ):
                conn.execute(f"set lock_timeout = '{READER_LOCK_TIMEOUT}'")
                while not stop_polling.is_set():
                    started = time.monotonic()
                    try:
                        seen = counts(conn)
                    except psycopg.errors.LockNotAvailable:
                        conn.execute("rollback")
                        observed.blocked_reads += 1
                        continue
                    observed.polls += 1
                    for i, own in enumerate(by_mentor):
                        while (
                            seen_up_to[i] < len(own)
                            and seen[i] >= base[i] + own[seen_up_to[i]].number
                        ):
                            own[seen_up_to[i]].visible = started
                            seen_up_to[i] += 1
                    count, source, took, flusher = watch.execute(
                        "select refresh_count, last_refresh_source, last_refresh_duration, "
                        f"{FLUSHER_PID_SQL} from stats.stats_refresh_log"
                    ).fetchone()
                    flusher_cpu.sample(flusher)
                    if last_count is not None and count > last_count:
                        # a second cycle between two polls is rare; it is counted with the
                        # duration and source of the last one
                        observed.cycles[source] += count - last_count
                        observed.refresh_seconds[source] += (
                            count - last_count
                        ) * took.total_seconds()
                    last_count = count
                    stop_polling.wait(max(0.0, started + POLL_INTERVAL - time.monotonic()))
        except psycopg.Error as exc:
            observed.errors.append(f"poller: {exc.sqlstate} {exc}")

    with psycopg.connect(api_dsn, autocommit=True) as conn:
        base = counts(conn)
    poll_thread = threading.Thread(target=poller, name="freshness-poller")
    writers = [
        threading.Thread(target=writer, args=(i,), name=f"freshness-writer{i}")
        for i in range(WRITERS)
    ]
    cpu_start, wall_start = _server_cpu_seconds(stack.superuser_db_url), time.monotonic()
    poll_thread.start()
    for t in writers:
        t.start()
    progress.note(f"writing {rate:g}/s for {seconds:g} s, polling every {POLL_INTERVAL} s")
    writes_due = time.monotonic() + seconds
    while (left := writes_due - time.monotonic()) > 0:
        stop_writing.wait(min(left, PROGRESS_EVERY))  # the load being measured runs meanwhile
        if writes_due - time.monotonic() > 1:
            written = [w for own in by_mentor for w in list(own)]
            shown = sum(w.visible != math.inf for w in written)
            progress.note(
                f"{seconds - (writes_due - time.monotonic()):.0f} of {seconds:g} s: "
                f"{len(written)} writes, {shown} visible, {len(observed.errors)} errors"
            )
    stop_writing.set()
    for t in writers:
        t.join()
    writes_end = time.monotonic()
    observed.writes = sorted((w for own in by_mentor for w in own), key=lambda w: w.committed)
    progress.note(f"{len(observed.writes)} writes; waiting until each is visible")
    deadline = writes_end + VISIBILITY_DEADLINE
    while any(w.visible == math.inf for w in observed.writes):
        if time.monotonic() > deadline or observed.errors:
            break
        time.sleep(POLL_INTERVAL)  # the poller marks them; bounded by the deadline
    visible_end = time.monotonic()
    cpu_end = _server_cpu_seconds(stack.superuser_db_url)
    busy_wall = visible_end - wall_start
    cycles_busy = dict(observed.cycles)
    refresh_busy = dict(observed.refresh_seconds)
    flusher_seconds = flusher_cpu.seconds()

    # Idle: no write, so no refresh may run. A change can stay pending after it became
    # visible (its writer committed after the covering refresh's snapshot was taken); the
    # flusher's next round takes it in, which is not an idle refresh.
    poll(control.pending, lambda pending: not pending, deadline=VISIBILITY_DEADLINE,
         what="nothing pending after the writes")  # fmt: skip
    idle_from = control.refresh_count()
    time.sleep(IDLE_SECONDS)  # the idle period being measured, not a synchronisation
    idle_cycles = control.refresh_count() - idle_from
    stop_polling.set()
    poll_thread.join()
    sizes_after = admin.execute(SIZES_SQL).fetchall()

    writes = observed.writes
    tail_from = writes_end - TAIL_SECONDS
    delays = [w.visible - w.committed for w in writes]
    during = [w.visible - w.committed for w in writes if w.committed < tail_from]
    tail = [w.visible - w.committed for w in writes if w.committed >= tail_from]
    return {
        "rate_per_s": rate,
        "seconds": seconds,
        "achieved_rate_per_s": len(writes) / seconds if seconds else 0.0,
        "debounce_window_s": log["debounce_window"].total_seconds(),
        "flush_interval_s": log["flush_interval"].total_seconds(),
        "flusher": flusher,
        "writes": len(writes),
        "invisible": sum(d == math.inf for d in delays),
        "all": _delay_summary(delays),
        "during_load": _delay_summary(during),
        "tail": _delay_summary(tail),
        "delays_s": sorted(round(d, 4) for d in delays if d != math.inf),
        "polls": observed.polls,
        "blocked_reads": observed.blocked_reads,
        "errors": observed.errors,
        "cycles": cycles_busy,
        # Refresh CPU: the flusher's runs (which do nothing else but sleep) from /proc, plus the
        # commit-time cycles' duration (a writer's backend does other work too); where /proc
        # does not show the server, both cycles' duration (an upper bound).
        "refresh_share": (
            (flusher_seconds + refresh_busy["commit"]) / busy_wall
            if flusher_seconds is not None
            else sum(refresh_busy.values()) / busy_wall
        ),
        "refresh_share_from": "cpu" if flusher_seconds is not None else "duration",
        "refresh_wall_share": sum(refresh_busy.values()) / busy_wall,
        "server_cpu_share": (
            (cpu_end - cpu_start) / busy_wall if cpu_start is not None and cpu_end else None
        ),
        "idle_seconds": IDLE_SECONDS,
        "idle_cycles": idle_cycles,
        "sizes": {
            name: {"before": [b_size, b_rows], "after": [a_size, a_rows]}
            for (name, b_size, b_rows), (_n, a_size, a_rows) in zip(
                sizes_before, sizes_after, strict=True
            )
        },
    }


def _delay_summary(delays: list[float]) -> dict:
    finite = [d for d in delays if d != math.inf]
    out = summarize(finite)
    out["writes"] = len(delays)
    if len(finite) < len(delays):
        out["max"] = math.inf
    out["within_2s"] = (sum(d <= 2.0 for d in delays) / len(delays)) if delays else math.nan
    return out


def size_bounds(result: dict) -> list[tuple[str, int | float, int | float]]:
    """The sizes the run may grow, each as (budget, value, limit)."""
    sizes = result["sizes"]
    rows: list[tuple[str, int | float, int | float]] = [
        ("Freshness: rows left in the change log and pending table (count)",
         sum(sizes[t]["after"][1] for t in LEFT_BEHIND), 0),
        ("Freshness: tables left behind in pg_class (count)",
         max(0, sizes["pg_class"]["after"][1] - sizes["pg_class"]["before"][1]), 0),
    ]  # fmt: skip
    minutes = math.ceil((result["seconds"] + VISIBILITY_DEADLINE) / 60)
    history = sizes["cron.job_run_details"]
    rows.append((
        "Freshness: run history rows added (at most one a minute)",
        float(history["after"][1] - history["before"][1]), float(minutes),
    ))  # fmt: skip
    grown = [
        table
        for table, v in sizes.items()
        if v["after"][0] > v["before"][0] * SIZE_GROWTH_FACTOR + SIZE_GROWTH_SLACK
    ]
    rows.append((
        f"Freshness: relations grown past their start x {SIZE_GROWTH_FACTOR:g} + 512 KiB (count)",
        len(grown), 0,
    ))  # fmt: skip
    return rows


def check(activities: int, result: dict) -> list[dict]:
    """The freshness goal at one size: every write within budget, readers never blocked, no
    refresh while idle, and the refresh's CPU share within its budget at 20 writes/s."""
    rows = [
        ("Freshness: p99 delay of every write (s)", result["all"]["p99"], P99_BUDGET_S),
        ("Freshness: max delay of every write (s)", result["all"]["max"], MAX_BUDGET_S),
        ("Freshness: writes never visible (count)", result["invisible"], 0),
        ("Freshness: reads blocked by a refresh (count)", result["blocked_reads"], 0),
        ("Freshness: refreshes while nothing changed (count)", result["idle_cycles"], 0),
        ("Freshness: errors (count)", len(result["errors"]), 0),
    ]
    budget = CPU_BUDGET.get(activities)
    if budget is not None and result["rate_per_s"] == 20.0:
        rows.append(("Freshness: refresh share of one core", result["refresh_share"], budget))
    rows += size_bounds(result)
    return [
        {
            "budget": name,
            "value": value,
            "limit": limit,
            "enforced": True,
            "ok": value == 0 if isinstance(value, int) else value <= limit,
        }
        for name, value, limit in rows
    ]
