"""Every command the documentation shows works as shown: a `just` line by a dry run (the recipe
exists and takes those arguments), the pytest and benchmark options it leads to by pytest's
collection and the benchmark's own parser, the shell session against a running stack by running
it, and the runbook's SQL against the current schema in a transaction that is rolled back. The
README stays a map of at most 10 KiB, and every link and project path the documentation names
leads to a file."""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pglast
import psycopg
import pytest
from pglast.ast import VacuumStmt

from bench import __main__ as bench_cli
from bench import figures

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
RUNBOOK = ROOT / "docs" / "runbook.md"
DOCS = [
    README,
    *sorted((ROOT / "docs").glob("*.md")),
    ROOT / "e2e" / "README.md",
    ROOT / "bench" / "README.md",
]
JUST = Path(sys.executable).with_name("just")

README_LIMIT = 10_240
QUICKSTART = (
    "./e2e/bootstrap.sh && .venv/bin/just e2e",
    "./e2e/bootstrap.sh && .venv/bin/just test",
)
# the markers `just render-figures` writes between
FIGURES = (figures.BEGIN, figures.END)

# Commands the documentation shows that a test must not run, and why. Each must still be shown.
NOT_RUNNABLE = {
    "./e2e/bootstrap.sh": "installs system packages (apt-get), the npm packages and the venv",
    "supabase start": "starts the Docker stack",
    "supabase migration repair": "rewrites a project's migration history",
    # the same scripts in the same order run in test_rollback.py, through `just rollback`
    "psql '$DB_URL' -X -v ON_ERROR_STOP=1 --single-transaction -f supabase/rollbacks/": (
        "rolls back a hosted project's schema"
    ),
}
# The shell session docs/embedded-stack.md shows against a running stack: run as a block, in a
# shell, by test_the_hand_session_runs_against_the_stack (`just up` and `just down` around it are
# dry-run like every recipe).
HAND_SESSION = ROOT / "docs" / "embedded-stack.md"
HAND_SESSION_FIRST = 'eval "$(.venv/bin/just env)"'
HAND_SESSION_COMMANDS = {"eval", "psql '$DB_URL'", "curl"}
STACK_VARIABLES = {"API_URL", "REST_URL", "DB_URL", "SUPERUSER_DB_URL", "ANON_KEY", "SECRET_KEY",
                   "SERVICE_ROLE_KEY", "PUBLISHABLE_KEY", "JWT_SECRET", "STACK"}  # fmt: skip
# just's options that only read the Justfile, run as they are shown
JUST_READ_ONLY = ("--list", "--show", "--summary")

FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
HTML_COMMENT = re.compile(r"<!--.*?-->", re.S)
INLINE_COMMAND = re.compile(r"`((?:\.venv/bin/)?(?:just|python -m (?:bench|pytest))\b[^`]*)`")
SUBSTITUTION = re.compile(r"\$\(([^)]*)\)")
LINK = re.compile(r"\]\(([^)\s]+)\)")
PROJECT_PATH = re.compile(r"`((?:supabase|e2e|bench|fixtures|docs|\.ci|\.github)/[^`\s<>*]*)`")


def _text(doc: Path) -> str:
    """A document without its HTML comments: they are notes for tools, not shown to a reader."""
    return HTML_COMMENT.sub("", doc.read_text())


def _split(line: str) -> list[str]:
    """The commands of one shell line: split at && || ; |, without leading VAR=value words, plus
    each command substitution."""
    words = shlex.split(line, comments=True)
    commands, current = [], []
    for word in [*words, "&&"]:
        if word in ("&&", "||", ";", "|"):
            while current and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", current[0]):
                current.pop(0)
            if current:
                commands.append(shlex.join(current))
            current = []
        else:
            current.append(word)
    inner = [c for word in words for s in SUBSTITUTION.findall(word) for c in _split(s)]
    return commands + inner


def shown_commands() -> dict[str, str]:
    """Each command of a ```sh block or an inline `just ...` span, and the first file to show it."""
    shown: dict[str, str] = {}
    for doc in DOCS:
        text, where = _text(doc), str(doc.relative_to(ROOT))
        for language, body in FENCE.findall(text):
            if language in ("sh", "bash"):
                for line in body.replace("\\\n", " ").splitlines():
                    for command in _split(line):
                        shown.setdefault(command, where)
        for span in INLINE_COMMAND.findall(FENCE.sub("", text)):
            shown.setdefault(" ".join(span.split()), where)
    return shown


SHOWN = shown_commands()


def _starts(command: str, prefix: str) -> bool:
    """``command`` is ``prefix`` or begins with it as whole words (or as a folder, for a path)."""
    return command == prefix or command.startswith(prefix if prefix.endswith("/") else prefix + " ")


def _not_runnable(command: str) -> str | None:
    return next((why for prefix, why in NOT_RUNNABLE.items() if _starts(command, prefix)), None)


def _in_hand_session(command: str) -> bool:
    return any(_starts(command, c) for c in HAND_SESSION_COMMANDS)


def hand_session() -> list[str]:
    """The lines of the hand session's block that use the running stack (no `just up`/`down`)."""
    for language, body in FENCE.findall(_text(HAND_SESSION)):
        lines = body.splitlines()
        if language == "sh" and any(line.startswith(HAND_SESSION_FIRST) for line in lines):
            kept = [line for line in lines if not line.startswith(".venv/bin/just ")]
            outside = [
                c for line in kept for c in _split(line)
                if not (_in_hand_session(c) or c.startswith(".venv/bin/just "))
            ]  # fmt: skip
            assert outside == [], f"{HAND_SESSION.name}: add these to HAND_SESSION_COMMANDS first"
            return kept
    raise AssertionError(f"{HAND_SESSION.name} no longer shows {HAND_SESSION_FIRST}")


def _project_paths_exist(words: list[str]) -> None:
    for word in words:
        if re.fullmatch(r"(supabase|e2e|bench|fixtures|docs)/[\w./-]+", word):
            assert (ROOT / word).exists(), f"{word} does not exist"


@functools.cache
def _collects(options: tuple[str, ...]) -> None:
    """pytest accepts these options and selects at least one test (collection only)."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
         *options],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT / "e2e")},
        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, (
        f"pytest {shlex.join(options)}: exit {result.returncode}\n"
        f"{result.stdout[-1500:]}{result.stderr[-1500:]}"
    )


def _bench_accepts(args: list[str]) -> None:
    """`python -m bench` accepts these arguments (its parser, which measures nothing)."""
    said = io.StringIO()
    try:
        with contextlib.redirect_stderr(said), contextlib.redirect_stdout(said):
            bench_cli.parse_args(args)
    except SystemExit as exc:
        assert exc.code in (0, None), f"python -m bench {shlex.join(args)}: {said.getvalue()}"


def _just_accepts(args: list[str]) -> None:
    """The recipe exists and takes these arguments; what it would run is checked in turn."""
    if not JUST.exists():
        pytest.fail(f"{JUST} is missing: run ./e2e/bootstrap.sh (rust-just, pyproject.toml)")
    read_only = bool(args) and args[0] in JUST_READ_ONLY
    shown = [str(JUST), *args] if read_only else [str(JUST), "--dry-run", "--color", "never", *args]
    result = subprocess.run(
        shown, cwd=ROOT, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60
    )
    assert result.returncode == 0, f"just {shlex.join(args)}: {result.stderr}"
    for line in [] if read_only else result.stderr.splitlines():
        # a [positional-arguments] recipe shows "$@": the recipe's own arguments, word for word
        words = [w for word in shlex.split(line) for w in (args[1:] if word == "$@" else [word])]
        if "-m" in words[:3]:
            module, rest = words[words.index("-m") + 1], words[words.index("-m") + 2 :]
            if module == "pytest":
                _collects(tuple(rest))
            elif module == "bench":
                _bench_accepts(rest)


@pytest.mark.parametrize("command", sorted(SHOWN))
def test_documented_command_works_as_shown(command: str) -> None:
    """Each command shown works as shown; one that cannot run here is in NOT_RUNNABLE, and
    skipped with its reason."""
    words = shlex.split(command)
    _project_paths_exist(words)
    why = _not_runnable(command)
    if why:
        program = ROOT / words[0]
        if words[0].startswith("./"):
            assert program.is_file() and os.access(program, os.X_OK), f"{words[0]} is missing"
        pytest.skip(f"not run: {why}")
    name = Path(words[0]).name
    if _in_hand_session(command):
        assert SHOWN[command] == str(HAND_SESSION.relative_to(ROOT)), "run only from that block"
        assert command in {c for line in hand_session() for c in _split(line)}
    elif name == "just":
        _just_accepts(words[1:])
    elif name.startswith("python") and words[1:3] == ["-m", "bench"]:
        _bench_accepts(words[3:])
    elif name.startswith("python") and words[1:3] == ["-m", "pytest"]:
        _collects(tuple(words[3:]))
    else:
        pytest.fail(
            f"{command!r} ({SHOWN[command]}): no check for it here; add one, or list it in "
            "NOT_RUNNABLE with the reason"
        )


def test_the_hand_session_runs_against_the_stack(stack) -> None:
    """The hand session, as a reader pastes it into bash: `just env`'s variables load, psql
    connects as DB_URL's user (its standard input empty, so it runs nothing and exits), and curl
    gets the activity types with the secret key."""
    script = "set -euo pipefail\n" + "\n".join(hand_session())
    # only `just env` may set the stack's variables: none may come from the test's environment
    env = {k: v for k, v in os.environ.items() if k not in STACK_VARIABLES}
    result = subprocess.run(
        ["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
        stdin=subprocess.DEVNULL, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    types = json.loads(result.stdout)
    assert isinstance(types, list) and types, result.stdout
    assert {"id", "code"} <= types[0].keys(), result.stdout


def test_every_command_left_unrun_is_still_shown() -> None:
    """NOT_RUNNABLE names only commands the documentation still shows, so it cannot go stale."""
    shown = [p for p in NOT_RUNNABLE if any(_starts(c, p) for c in SHOWN)]
    assert sorted(shown) == sorted(NOT_RUNNABLE)


def test_readme_is_a_map_of_at_most_10_kib() -> None:
    """README.md is at most 10 240 bytes, shows both quickstart lines verbatim (CI runs the second,
    .ci/run), and holds the block the measured figures are generated into."""
    size = len(README.read_bytes())
    assert size <= README_LIMIT, f"README.md is {size} bytes; move detail into docs/"
    lines = README.read_text().splitlines()
    assert all(line in lines for line in QUICKSTART)
    assert QUICKSTART[1] in (ROOT / ".ci" / "run").read_text().splitlines()
    begin, end = (lines.index(marker) for marker in FIGURES)
    assert begin < end


@pytest.mark.parametrize("doc", DOCS, ids=lambda doc: str(doc.relative_to(ROOT)))
def test_every_relative_link_leads_to_a_file(doc: Path) -> None:
    """A relative link in the documentation points at a file or folder that exists."""
    targets = LINK.findall(FENCE.sub("", _text(doc)))
    relative = [t.partition("#")[0] for t in targets if not re.match(r"[a-z]+:|#", t)]
    assert [t for t in relative if not (doc.parent / t).exists()] == []


@pytest.mark.parametrize("doc", DOCS, ids=lambda doc: str(doc.relative_to(ROOT)))
def test_every_project_path_named_exists(doc: Path) -> None:
    """A path of the project written in backticks (from the project's root, as the documentation
    writes them) exists; a placeholder (`<version>`, `*`) or the git-ignored results are skipped."""
    named = {p.partition("::")[0] for p in PROJECT_PATH.findall(_text(doc))}
    missing = [p for p in named if not p.startswith("bench/results") and not (ROOT / p).exists()]
    assert sorted(missing) == []


def runbook_sql() -> list[str]:
    return [body for language, body in FENCE.findall(RUNBOOK.read_text()) if language == "sql"]


@pytest.mark.parametrize("block", runbook_sql(), ids=lambda block: block.splitlines()[0][:50])
def test_runbook_sql_runs_against_the_current_schema(
    block: str, superuser_conn: psycopg.Connection
) -> None:
    """Each SQL block of the runbook runs, as the superuser, in a transaction that is rolled back.
    VACUUM cannot run in a transaction: each relation it names must exist and be one V017 or
    V019 keeps VACUUM from truncating, which is why the runbook shows it."""
    statements = pglast.split(block)
    vacuums = [s for s in statements if isinstance(pglast.parse_sql(s)[0].stmt, VacuumStmt)]
    with superuser_conn.transaction(force_rollback=True):
        for statement in statements:
            if statement not in vacuums:
                superuser_conn.execute(statement)
    for statement in vacuums:
        for rel in pglast.parse_sql(statement)[0].stmt.rels:
            name = f"{rel.relation.schemaname}.{rel.relation.relname}"
            (kept,) = superuser_conn.execute(
                "select 'vacuum_truncate=false' = any(coalesce(reloptions, '{}')) "
                "from pg_class where oid = %s::regclass",
                [name],
            ).fetchone()
            assert kept, f"{statement}: {name} does not have vacuum_truncate = false"
