"""Every migration applies cleanly to an empty database, and applying it a second time, at its
place in the sequence, leaves the catalog and the refresh's state exactly as the first time left
them: what the Supabase CLI does when it re-runs a migration whose recording failed.

It builds an embedded cluster of its own (the platform layer, no seed) and applies each file with
psql as `postgres` in one transaction, as `supabase db push` does. Re-running a whole sequence at
its end is not the same property: a later migration may change what an earlier one defines (V015
changes a function's result), so an earlier file run again there would fail for a good reason.
"""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import psycopg
import pytest

from catalog import MIGRATION, fingerprint
from harness.embedded import EmbeddedCluster

MIGRATIONS = sorted((Path(__file__).resolve().parents[2] / "supabase" / "migrations").glob("*.sql"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _apply(db_url: str, migration: Path) -> None:
    result = subprocess.run(
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction", "-d", db_url,
         "-f", str(migration)],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, f"{migration.name}: {result.stderr.strip()}"


@pytest.mark.stack_lifecycle
@pytest.mark.embedded_cluster
def test_each_migration_applies_to_an_empty_database_and_again_without_change(
    tmp_path: Path,
) -> None:
    """On an empty database each migration applies, and applying it again right away changes
    nothing: not the catalog of public, private and stats, not the flush job, not the log row."""
    cluster = EmbeddedCluster(base_dir=tmp_path / "stack", port=_free_port())
    try:
        cluster.start()
        with psycopg.connect(cluster.db_url, autocommit=True) as conn:
            for migration in MIGRATIONS:
                _apply(cluster.db_url, migration)
                first = fingerprint(conn, MIGRATION)
                _apply(cluster.db_url, migration)
                second = fingerprint(conn, MIGRATION)
                changed = [name for name in first if second.get(name) != first[name]]
                assert not changed, f"{migration.name} changed {changed} when it ran again"
    finally:
        cluster.destroy()
