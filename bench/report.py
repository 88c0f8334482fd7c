"""The run's report: figures per size, the ticket's budgets, JSON, a Markdown table and a plot."""

from __future__ import annotations

import json
import math
from pathlib import Path

from . import freshness
from .summary import summarize

# The ticket's budgets, checked at this many activities.
CHECK_SIZE = 50_000
INSERT_BUDGET_MS = 200.0  # single-row INSERT with the trigger enabled, p95
OVERHEAD_BUDGET_MS = 50.0  # trigger overhead on a single INSERT, p99 on the skip path
DEBOUNCE_BUDGET_MS = 5.0  # the debounce check, p99
# The engineering target of the refresh: the whole cycle within the overhead budget, p95.
CYCLE_TARGET_MS = 50.0
# The freshness goal's cost on the writer: its skip path's p99 within this of a trigger-less
# INSERT's p99. A target (--strict), not a budget: 200 samples' p99 moves by more than that with
# the machine's load.
SKIP_P99_TARGET_MS = 0.5

MIN_SAMPLES = {"fast": 200, "refresh": 30}


def figures(measurements: dict) -> dict[str, dict]:
    """Each measurement's summary, with its ratio to the baseline measured beside it."""
    out: dict[str, dict] = {}
    for key, m in measurements.items():
        entry = {
            "label": m.label,
            "kind": m.kind,
            "baseline": m.baseline,
            **summarize(m.samples),
            "blocked": m.blocked,
            "off_path": m.off_path,
            "reader": key.startswith("read_"),
            "min_samples": MIN_SAMPLES[m.kind],
            "raw_ms": [round(v, 4) for v in m.samples],
        }
        out[key] = entry
    for entry in out.values():
        base = out.get(entry["baseline"]) if entry["baseline"] else None
        entry["ratio_p50"] = entry["p50"] / base["p50"] if base else 1.0
        entry["ratio_p95"] = entry["p95"] / base["p95"] if base else 1.0
    return out


def derived(fig: dict[str, dict]) -> dict[str, float]:
    """What the trigger adds to a write, against the baseline's median."""
    base = fig["insert_baseline"]["p50"]
    base100 = fig["insert100_baseline"]["p50"]
    return {
        "skip_overhead_p99_ms": fig["insert_skip"]["p99"] - base,
        "refresh_overhead_p95_ms": fig["insert_refresh"]["p95"] - base,
        "insert100_refresh_overhead_p95_ms": fig["insert100_refresh"]["p95"] - base100,
        "flush_only_overhead_p99_ms": fig["insert_flush_only"]["p99"] - base,
    }


def check(size: dict, strict: bool) -> list[dict]:
    """The ticket's budgets at one size, and the freshness goal when it was measured; `strict`
    also enforces the refresh-cycle target."""
    fig, der = size["figures"], size["derived"]
    blocked = fig["read_during_refresh"]["blocked"] + fig["read_baseline"]["blocked"]
    rows = [
        (
            "Single-row INSERT that refreshes, p95",
            fig["insert_refresh"]["p95"],
            INSERT_BUDGET_MS,
            True,
        ),
        (
            "Trigger overhead on the skip path, p99",
            der["skip_overhead_p99_ms"],
            OVERHEAD_BUDGET_MS,
            True,
        ),
        ("Debounce check, p99", fig["debounce_check"]["p99"], DEBOUNCE_BUDGET_MS, True),
        ("Readers blocked by a refresh (count)", blocked, 0, True),
        (
            "Refresh cycle, both views, p95 (target)",
            fig["refresh_cycle"]["p95"],
            CYCLE_TARGET_MS,
            strict,
        ),
        (
            "Skip path p99 over the trigger-less INSERT's p99 (target)",
            fig["insert_skip"]["p99"] - fig["insert_baseline"]["p99"],
            SKIP_P99_TARGET_MS,
            strict,
        ),
        (
            "Overhead of the INSERT that refreshes, p95 (target)",
            der["refresh_overhead_p95_ms"],
            CYCLE_TARGET_MS,
            strict,
        ),
    ]
    off_path = sum(f["off_path"] for f in fig.values())
    rows.append(("Samples off their path (count)", off_path, 0, True))
    if not size["lock_seen"]:
        rows.append(("Reads without the refresh's lock held (count)", 1, 0, True))
    # counts must be zero; times must stay under their budget
    verdict = [
        {
            "budget": name,
            "value": value,
            "limit": limit,
            "enforced": enforced,
            "ok": value == 0 if isinstance(value, int) else value < limit,
        }
        for name, value, limit, enforced in rows
    ]
    if size.get("freshness"):
        verdict += freshness.check(size["activities_requested"], size["freshness"])
    return verdict


def crossing(
    sizes: list[dict],
    key: str = "insert_refresh",
    stat: str = "p95",
    limit: float = INSERT_BUDGET_MS,
) -> dict:
    """Where a figure crosses `limit`: log-log interpolation between the measured sizes only."""
    points = sorted((s["activities"], s["figures"][key][stat]) for s in sizes if s["figures"])
    result: dict = {
        "figure": f"{key} {stat}",
        "limit_ms": limit,
        "activities": None,
        "how": "not reached",
    }
    if not points:
        return result
    if points[0][1] >= limit:
        return {**result, "activities": points[0][0], "how": "already at the smallest size"}
    for (n0, y0), (n1, y1) in zip(points, points[1:], strict=False):
        if y0 < limit <= y1:
            return {
                **result,
                "activities": _loglog(n0, y0, n1, y1, limit),
                "how": f"interpolated between {n0:,} and {n1:,}",
            }
    # No extrapolation: past the largest size measured the curve's shape is unknown.
    return result


def _loglog(n0: float, y0: float, n1: float, y1: float, y: float) -> int:
    slope = (math.log(y1) - math.log(y0)) / (math.log(n1) - math.log(n0))
    return round(math.exp(math.log(n0) + (math.log(y) - math.log(y0)) / slope))


# -- rendering ----------------------------------------------------------------------------------


def _ms(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    if value is None or math.isnan(value):
        return "–"
    return f"{value:.2f}" if value < 100 else f"{value:.0f}"


def size_label(n: int) -> str:
    if n >= 1_000_000 and n % 100_000 == 0:
        return f"{n / 1_000_000:g}M"
    if n >= 1000 and n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)


def markdown(report: dict) -> str:
    lines = [f"# Write-path benchmark, {report['started_at']}", ""]
    m, server = report["machine"], report["server"]
    lines += [
        f"PostgreSQL {server.get('server_version', '?')} on {m['cpus']} cores "
        f"(load average {m['loadavg_start']} at the start, {m['loadavg_end']} at the end); "
        f"jit {server.get('jit', '?')}, work_mem {server.get('work_mem', '?')}; "
        f"stack `{report['stack']}`; commit `{report['git']}`. Times in milliseconds; "
        "ratio = p50 / the baseline's p50, both measured in the same rounds.",
        "",
        "## Summary",
        "",
        "| activities | baseline INSERT p50 | skip-path INSERT p99 | refreshing INSERT p95 "
        "| refresh cycle p95 | mv_peer_mentor_stats p95 | mv_activity_time_series p95 "
        "| 100-row refreshing INSERT p95 | flush-only INSERT p99 | reader during refresh max "
        "(blocked) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in report["sizes"]:
        f = s["figures"]
        if not f:
            continue
        lines.append(
            f"| {s['activities']:,} | {_ms(f['insert_baseline']['p50'])} "
            f"| {_ms(f['insert_skip']['p99'])} | {_ms(f['insert_refresh']['p95'])} "
            f"| {_ms(f['refresh_cycle']['p95'])} | {_ms(f['refresh_peer_mentor_stats']['p95'])} "
            f"| {_ms(f['refresh_activity_time_series']['p95'])} "
            f"| {_ms(f['insert100_refresh']['p95'])} | {_ms(f['insert_flush_only']['p99'])} "
            f"| {_ms(f['read_during_refresh']['max'])} ({f['read_during_refresh']['blocked']}) |"
        )
    lines.append("")
    lines += _http_table(report)
    for key in ("crossing_p50", "crossing"):
        cross = report.get(key)
        if not cross:
            continue
        stat = cross["figure"].split()[-1]
        if cross["activities"]:
            where = (
                f"reaches {cross['limit_ms']:.0f} ms at about {cross['activities']:,} activities"
            )
            where += f" ({cross['how']})"
        else:
            where = f"stays under {cross['limit_ms']:.0f} ms at every measured size"
        lines.append(f"The refreshing INSERT's {stat} {where}.")
    lines.append("")
    lines += freshness_markdown(report)
    for s in report["sizes"]:
        if not s["figures"]:
            continue
        lines += [
            f"## {s['activities']:,} activities",
            "",
            f"Measured in {s['measure_s']:.0f} s; 1-minute load average {s['loadavg'][0]} at the "
            f"start, {s['loadavg'][1]} at the end.",
            "",
            "| measurement | samples | p50 | p95 | p99 | max | ratio |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for f in s["figures"].values():
            short = " (below the minimum)" if f["samples"] < f["min_samples"] else ""
            extra = f", {f['blocked']} blocked" if f["reader"] else ""
            lines.append(
                f"| {f['label']}{extra} | {f['samples']}{short} | {_ms(f['p50'])} "
                f"| {_ms(f['p95'])} | {_ms(f['p99'])} | {_ms(f['max'])} | {f['ratio_p50']:.1f}× |"
            )
        lines.append("")
    if report.get("check"):
        heading = (
            "## The freshness goal and size bounds, by size"
            if report["options"].get("freshness_only")
            else "## Budgets at 50,000 activities"
        )
        lines += [heading, ""]
        if report.get("check_first_attempt"):
            missed = ", ".join(
                row["budget"]
                for row in report["check_first_attempt"]
                if row["enforced"] and not row["ok"]
            )
            lines += [
                f"The first measurement broke: {missed}. The verdict below is a second, "
                "independent measurement's.",
                "",
            ]
        lines += [
            "| budget | measured | limit | result |",
            "|---|---:|---:|---|",
        ]
        for row in report["check"]:
            verdict = "pass" if row["ok"] else ("FAIL" if row["enforced"] else "missed (target)")
            lines.append(
                f"| {row['budget']} | {_ms(row['value'])} | {_ms(row['limit'])} | {verdict} |"
            )
        lines.append("")
    return "\n".join(lines)


def _s(value: float) -> str:
    return "never" if value == math.inf else f"{value:.2f}"


def freshness_markdown(report: dict) -> list[str]:
    """The freshness table: each write's delay from COMMIT to the dashboard, and the cost."""
    runs = [s for s in report["sizes"] if s.get("freshness")]
    if not runs:
        return []
    first = runs[0]["freshness"]
    lines = [
        "## Freshness",
        "",
        f"{first['rate_per_s']:g} writes/s for {first['seconds']:g} s from four peer mentors, "
        f"the dashboard read every {freshness.POLL_INTERVAL * 1000:.0f} ms by their coordinator; "
        f"debounce window {first['debounce_window_s']:g} s, flush interval "
        f"{first['flush_interval_s']:g} s. Delay: from the write's COMMIT returning to the first "
        'read that shows it, in seconds. "last 10 s": the writes of the load\'s last '
        f"{freshness.TAIL_SECONDS:.0f} s, which only the flusher can make visible. Refresh share: "
        "the CPU of the flusher's backend (from /proc) plus the commit-time cycles' duration, "
        "over the run, as a share of one core; server CPU: every process of the cluster, "
        "the writers' and readers' backends included.",
        "",
        "| activities | writes | during load p50 / p99 / max | last 10 s p50 / p99 / max "
        "| all p99 / max | within 2 s | refresh cycles (commit + flusher) | refresh share "
        "| server CPU | readers blocked | refreshes while idle |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in runs:
        r = s["freshness"]
        d, t, a = r["during_load"], r["tail"], r["all"]
        cpu = "–" if r["server_cpu_share"] is None else f"{r['server_cpu_share']:.1%}"
        lines.append(
            f"| {s['activities']:,} | {r['writes']:,} "
            f"| {_s(d['p50'])} / {_s(d['p99'])} / {_s(d['max'])} "
            f"| {_s(t['p50'])} / {_s(t['p99'])} / {_s(t['max'])} "
            f"| {_s(a['p99'])} / {_s(a['max'])} | {a['within_2s']:.1%} "
            f"| {r['cycles']['commit']} + {r['cycles']['flush']} | {r['refresh_share']:.1%} "
            f"| {cpu} | {r['blocked_reads']} | {r['idle_cycles']} |"
        )
    lines += [
        "",
        "Sizes before and after each run: total bytes (rows), after every write was visible and "
        "nothing was pending:",
        "",
        "| activities | table | before | after |",
        "|---:|---|---:|---:|",
    ]
    for s in runs:
        for table, v in s["freshness"]["sizes"].items():
            (b, b_rows), (e, e_rows) = v["before"], v["after"]
            lines.append(
                f"| {s['activities']:,} | `{table}` | {b:,} ({b_rows:,}) | {e:,} ({e_rows:,}) |"
            )
    lines.append("")
    return lines


def plot_freshness(report: dict, path: Path) -> bool:
    """The cumulative share of writes visible after a given delay, one curve per size."""
    runs = [s for s in report["sizes"] if s.get("freshness")]
    if not runs:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 5.5))
    for s in runs:
        r = s["freshness"]
        delays = r["delays_s"]
        n = r["writes"]
        ys = [(i + 1) / n for i in range(len(delays))]
        ax.step(delays, ys, where="post", label=f"{size_label(s['activities_requested'])} "
                f"activities ({n:,} writes)")  # fmt: skip
    for budget, text, color in ((freshness.P99_BUDGET_S, "2 s: p99 goal", "tab:orange"),
                                (freshness.MAX_BUDGET_S, "3 s: max goal", "tab:red")):  # fmt: skip
        ax.axvline(budget, color=color, linestyle="--", linewidth=1)
        # along the line, where neither the legend nor a curve's foot covers it
        ax.text(budget, 0.5, f" {text}", fontsize=8, color=color, rotation=90, va="center")
    ax.axhline(0.99, color="grey", linestyle=":", linewidth=1)
    ax.set_xlim(0, max(freshness.MAX_BUDGET_S * 1.2, max(max(s["freshness"]["delays_s"] or [0])
                                                          for s in runs) * 1.05))  # fmt: skip
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("seconds from COMMIT until the dashboard shows the write")
    ax.set_ylabel("share of writes visible")
    first = runs[0]["freshness"]
    # reports older than the "flusher" key: the flusher's CPU was sampled only where one ran
    flusher = first.get("flusher", first.get("refresh_share_from") == "cpu")
    rhythm = f"flush interval {first['flush_interval_s']:g} s" if flusher else "no flusher"
    ax.set_title(
        f"Freshness at {first['rate_per_s']:g} writes/s (window {first['debounce_window_s']:g} s, "
        f"{rhythm})"
    )
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def _http_table(report: dict) -> list[str]:
    """The app's write through the gateway and PostgREST beside the same path at the SQL level."""
    sizes = [s for s in report["sizes"] if s["figures"].get("http_insert_skip", {}).get("samples")]
    if not sizes:
        return []
    lines = [
        "Through the API (the app's write: POST through the gateway and PostgREST, keep-alive "
        "HTTP, `Prefer: return=minimal`), beside the same path timed at the SQL level:",
        "",
        "| activities | skip path, SQL p50 / p99 | skip path, HTTP p50 / p99 "
        "| refreshing, SQL p50 / p95 | refreshing, HTTP p50 / p95 |",
        "|---:|---:|---:|---:|---:|",
    ]
    for s in sizes:
        f = s["figures"]

        def pair(key: str, a: str, b: str, f: dict = f) -> str:
            return f"{_ms(f[key][a])} / {_ms(f[key][b])}"

        lines.append(
            f"| {s['activities']:,} | {pair('insert_skip', 'p50', 'p99')} "
            f"| {pair('http_insert_skip', 'p50', 'p99')} "
            f"| {pair('insert_refresh', 'p50', 'p95')} "
            f"| {pair('http_insert_refresh', 'p50', 'p95')} |"
        )
    return [*lines, ""]


def plot(report: dict, path: Path) -> bool:
    """The write paths by size; False (and no file) for a run that measured none."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    sizes = sorted((s for s in report["sizes"] if s["figures"]), key=lambda s: s["activities"])
    if not sizes:
        return False
    xs = [s["activities"] for s in sizes]
    series = (
        ("insert_refresh", "p95", "INSERT that refreshes (p95)", "o-"),
        ("insert_refresh", "p50", "INSERT that refreshes (p50)", "o:"),
        ("refresh_cycle", "p95", "refresh cycle, both views (p95)", "s-"),
        ("insert_skip", "p99", "INSERT inside the window (p99)", "^-"),
        ("insert_flush_only", "p99", "INSERT, flush-only mode (p99)", "v--"),
        ("insert_baseline", "p50", "INSERT, trigger disabled (p50)", "x:"),
    )
    if all(s["figures"].get("http_insert_skip", {}).get("samples") for s in sizes):
        series += (
            ("http_insert_refresh", "p95", "HTTP POST that refreshes (p95)", "D-"),
            ("http_insert_skip", "p99", "HTTP POST inside the window (p99)", "d--"),
        )
    fig, ax = plt.subplots(figsize=(9, 5.5))
    for key, stat, label, style in series:
        ax.plot(xs, [s["figures"][key][stat] for s in sizes], style, label=label)
    budgets = (
        (OVERHEAD_BUDGET_MS, "50 ms: trigger overhead budget", "tab:orange"),
        (INSERT_BUDGET_MS, "200 ms: INSERT budget", "tab:red"),
    )
    for budget, text, color in budgets:
        ax.axhline(budget, color=color, linestyle="--", linewidth=1)
        ax.text(xs[0], budget * 1.07, text, fontsize=8, ha="left", color=color)
    cross = report.get("crossing_p50") or {}
    if cross.get("activities") and xs[0] <= cross["activities"] <= xs[-1]:
        ax.axvline(cross["activities"], color="grey", linestyle=":", linewidth=1)
        ax.text(
            cross["activities"] * 1.03,
            INSERT_BUDGET_MS * 0.55,
            f"INSERT p50 = 200 ms\nat ~{size_label(round(cross['activities'], -3))}",
            fontsize=8,
            color="grey",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(xs, [size_label(s["activities_requested"]) for s in sizes])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("activities in the table (log scale)")
    ax.set_ylabel("milliseconds (log scale)")
    version = str(report["server"].get("server_version", "?")).split()[0]
    ax.set_title(
        f"Write paths and refresh cost, PostgreSQL {version}, {report['machine']['cpus']} cores"
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="center left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def write(report: dict, folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": folder / "report.json",
        "markdown": folder / "report.md",
        "plot": folder / "plot.png",
        "freshness": folder / "freshness.png",
    }
    paths["json"].write_text(json.dumps(report, indent=1, default=str) + "\n")
    paths["markdown"].write_text(markdown(report) + "\n")
    if not plot(report, paths["plot"]):
        del paths["plot"]
    if not plot_freshness(report, paths["freshness"]):
        del paths["freshness"]
    return paths
