"""The lint gates can fail. The migration linter (`just lint-static` runs squawk with .squawk.toml,
and the landed migrations with supabase/squawk-landed.toml) holds what decision D22 asks of a new
migration, and every exclusion says why: a config that quietly excused everything would pass
`just lint` too. `just lint-db` fails on what plpgsql_check or Supabase's linter finds."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS = ROOT / "supabase" / "migrations"
CONFIG = ROOT / ".squawk.toml"
LANDED_CONFIG = ROOT / "supabase" / "squawk-landed.toml"
# V001-V009, the migrations on production databases; the Justfile lints them with LANDED_CONFIG.
LANDED_PREFIX = "20261125"
SQUAWK = Path(sys.executable).with_name("squawk")


def squawk(path: Path) -> subprocess.CompletedProcess:
    if not SQUAWK.exists():
        pytest.fail(f"{SQUAWK} is missing: run ./e2e/bootstrap.sh (squawk-cli, pyproject.toml)")
    return subprocess.run(
        [str(SQUAWK), "--config", str(CONFIG), "--reporter", "gcc", str(path)],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60,
    )  # fmt: skip


def test_a_new_migration_must_bound_its_lock_wait_before_a_strong_lock(tmp_path: Path) -> None:
    """D22: a new migration that alters activities without a lock_timeout fails the gate, and
    passes once it sets one first."""
    migration = tmp_path / "supabase" / "migrations" / "20270101000017_activity_note.sql"
    migration.parent.mkdir(parents=True)
    alter = "alter table public.activities add column if not exists note text;\n"

    migration.write_text(alter)
    refused = squawk(migration)
    assert refused.returncode != 0, refused.stdout
    assert "require-lock-timeout" in refused.stdout

    migration.write_text("set local lock_timeout = '5s';\n" + alter)
    passed = squawk(migration)
    assert passed.returncode == 0, passed.stdout + passed.stderr


def test_only_the_landed_migrations_are_left_out_of_the_project_config() -> None:
    """.squawk.toml leaves out exactly V001-V009, file by file; every later migration is linted
    with every rule it does not exclude."""
    excluded = tomllib.loads(CONFIG.read_text())["excluded_paths"]
    assert all(p.startswith("*/") for p in excluded), excluded
    landed = sorted(f.name for f in MIGRATIONS.glob(f"{LANDED_PREFIX}*.sql"))
    assert sorted(p.removeprefix("*/") for p in excluded) == landed
    assert len(landed) == 9


@pytest.mark.parametrize("config", [CONFIG, LANDED_CONFIG], ids=lambda p: p.name)
def test_every_excluded_rule_says_why(config: Path) -> None:
    """Each rule a configuration excludes has a comment right above it: its reason."""
    excluded = tomllib.loads(config.read_text())["excluded_rules"]
    lines = config.read_text().splitlines()
    for rule in excluded:
        (at,) = [i for i, line in enumerate(lines) if line.strip() == f'"{rule}",']
        assert lines[at - 1].strip().startswith("#"), f"{config.name}: {rule} has no reason"


def _has_reason_above(lines: list[str], at: int) -> bool:
    """A comment other than a squawk-ignore above line ``at``, in its block (no blank between)."""
    for line in reversed(lines[:at]):
        text = line.strip()
        if not text:
            return False
        if text.startswith("--") and "squawk-ignore" not in text:
            return True
    return False


def test_every_statement_excused_in_a_migration_says_why() -> None:
    """A `squawk-ignore` comment excuses one statement, below a comment with the reason in the
    same block of lines; no file is excused as a whole."""
    for migration in sorted(MIGRATIONS.glob("*.sql")):
        lines = migration.read_text().splitlines()
        assert not any("squawk-ignore-file" in line for line in lines), migration.name
        for i, line in enumerate(lines):
            if re.match(r"\s*-- squawk-ignore ", line):
                assert _has_reason_above(lines, i), (
                    f"{migration.name}:{i + 1}: a squawk-ignore without a reason above it"
                )


# Objects that each database linter of `just lint-db` must refuse, created as postgres (as a
# migration would) and dropped again; a run cut short leaves none behind for the next.
LINT_PROBES = {
    "plpgsql_check": (
        "create function public.lint_probe() returns int language plpgsql as $$"
        " begin return (select no_such_column from public.activities limit 1); end $$",
        "drop function if exists public.lint_probe()",
        "no_such_column",
    ),
    "advisors": (
        "create view public.lint_probe as select 1 as one",
        "drop view if exists public.lint_probe",
        "security_definer_view",
    ),
}


@pytest.mark.parametrize("linter", LINT_PROBES)
def test_the_database_lint_fails_on_what_its_linters_find(linter: str, service_conn, stack) -> None:
    """`just lint-db` fails, naming the finding, on a PL/pgSQL function that reads a column that
    does not exist (plpgsql_check) and on a view of public that runs with its owner's rights
    (Supabase's linter, lint 0010): the gate `just test` relies on can fail."""
    create, drop, finding = LINT_PROBES[linter]
    service_conn.execute(drop)
    service_conn.execute(create)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "harness", "lint-db"], cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT / "e2e")},
            capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300,
        )  # fmt: skip
    finally:
        service_conn.execute(drop)
    assert result.returncode != 0, result.stdout + result.stderr
    assert finding in result.stdout + result.stderr
