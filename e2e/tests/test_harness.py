"""The harness: an embedded stack starts, resets and stops cleanly, and says what is wrong."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from harness import versions
from harness.embedded import PROJECT_ROOT, EmbeddedCluster
from harness.errors import StackError

JUST = str(Path(sys.executable).parent / "just")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def second_stack(tmp_path: Path):
    """Variables that point the harness at a second embedded cluster of this test's own."""
    port = _free_port()
    env = {
        **os.environ,
        "E2E_STACK": "embedded",
        "E2E_DB_PORT": str(port),
        "E2E_STACK_DIR": str(tmp_path / "stack"),
    }
    cluster = EmbeddedCluster(base_dir=tmp_path / "stack", port=port)
    yield env, cluster
    cluster.destroy()


def _harness(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "harness", *args],
        env=env,
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=300,
    )


@pytest.mark.stack_lifecycle
@pytest.mark.embedded_cluster
def test_embedded_stack_starts_resets_and_stops_without_leftovers(second_stack):
    """`up` twice is harmless, `reset` gives a fresh migrated database, `down` frees the port."""
    env, cluster = second_stack
    first = _harness(env, "up")
    assert first.returncode == 0, first.stderr
    again = _harness(env, "up")
    assert again.returncode == 0, again.stderr

    with psycopg.connect(cluster.db_url, autocommit=True) as conn:
        conn.execute("create table public.leftover (id int)")
        applied = conn.execute(
            "select count(*) from supabase_migrations.schema_migrations"
        ).fetchone()[0]
    migrations = len(list((PROJECT_ROOT / "supabase" / "migrations").glob("*.sql")))
    assert applied == migrations

    reset = _harness(env, "reset")
    assert reset.returncode == 0, reset.stderr
    with psycopg.connect(cluster.db_url) as conn:
        assert conn.execute("select to_regclass('public.leftover')").fetchone()[0] is None
        assert conn.execute("select current_user").fetchone()[0] == "postgres"

    down = _harness(env, "down")
    assert down.returncode == 0, down.stderr
    assert not _port_open(cluster.port)
    assert not cluster.is_running()
    pids = subprocess.run(["pgrep", "-f", f"-D {cluster.data_dir}"], capture_output=True)
    assert pids.stdout == b""


def test_just_env_prints_a_db_url_a_client_can_use(stack):
    """`just env` prints DB_URL (as postgres), SUPERUSER_DB_URL and JWT_SECRET as `KEY="value"`."""
    result = subprocess.run(
        [JUST, "env"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    values = dict(line.split("=", 1) for line in result.stdout.splitlines())
    values = {k: v.strip('"') for k, v in values.items()}
    assert {"DB_URL", "SUPERUSER_DB_URL", "JWT_SECRET"} <= values.keys()
    with psycopg.connect(values["DB_URL"]) as conn:
        user, superuser = conn.execute(
            "select current_user, rolsuper from pg_roles where rolname = current_user"
        ).fetchone()
    assert (user, superuser) == ("postgres", False)
    with psycopg.connect(values["SUPERUSER_DB_URL"]) as conn:
        assert conn.execute(
            "select rolsuper from pg_roles where rolname = current_user"
        ).fetchone()[0]


def test_a_port_in_use_is_named_in_one_line(tmp_path):
    """Starting on a port another program holds fails with a sentence naming the port."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        cluster = EmbeddedCluster(base_dir=tmp_path / "stack", port=port)
        with pytest.raises(StackError, match=rf"port {port} on 127.0.0.1 is in use"):
            cluster.start()


def test_missing_server_binaries_say_what_to_install(tmp_path, monkeypatch):
    """Without the PostgreSQL 15 server the error names the package to install."""
    monkeypatch.setenv("E2E_PG_BINDIR", str(tmp_path / "no-bin"))
    with pytest.raises(StackError, match=r"apt-get install postgresql-15"):
        EmbeddedCluster(base_dir=tmp_path / "stack", port=_free_port()).start()


def test_a_missing_extension_says_what_to_install(tmp_path, monkeypatch):
    """Without pgTAP's files the error names the package that brings them."""
    bindir = tmp_path / "bin"  # the server's programs, as far as the check looks
    bindir.mkdir()
    for tool in ("initdb", "pg_ctl", "postgres"):
        (bindir / tool).touch(mode=0o755)
    (tmp_path / "share" / "extension").mkdir(parents=True)
    monkeypatch.setenv("E2E_PG_BINDIR", str(bindir))
    monkeypatch.setenv("E2E_PG_SHAREDIR", str(tmp_path / "share"))
    with pytest.raises(StackError, match=r"apt-get install postgresql-15-pgtap"):
        EmbeddedCluster(base_dir=tmp_path / "stack", port=_free_port()).start()


def test_the_cli_reports_a_stack_error_as_one_line(tmp_path):
    """`python -m harness` turns a StackError into one `error:` line and exit code 1."""
    env = {
        **os.environ,
        "E2E_STACK": "embedded",
        "E2E_PG_BINDIR": str(tmp_path),
        "E2E_STACK_DIR": str(tmp_path / "stack"),
        "E2E_DB_PORT": str(_free_port()),
    }
    result = _harness(env, "up")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("error: PostgreSQL 15 server binaries")
    assert "Traceback" not in result.stderr


def test_the_cli_version_is_pinned_once_everywhere() -> None:
    """package.json, its lock file and the release gate install the CLI harness/versions.py
    names, so both stacks run the same migrations tool."""
    package = json.loads((PROJECT_ROOT / "package.json").read_text())
    lock = json.loads((PROJECT_ROOT / "package-lock.json").read_text())
    workflow = (PROJECT_ROOT / ".github" / "workflows" / "release-gate.yml").read_text()
    assert package["devDependencies"]["supabase"] == versions.SUPABASE_CLI
    assert lock["packages"]["node_modules/supabase"]["version"] == versions.SUPABASE_CLI
    assert re.findall(r"supabase/setup-cli@\S+\s+with:\s+version: (\S+)", workflow) == [
        versions.SUPABASE_CLI
    ]


def test_the_docker_stack_needs_no_postgresql_server_here(tmp_path):
    """With the `supabase start` stack selected and no PostgreSQL 15 server on the machine (as on
    the release gate's runner), the tests that would build a cluster skip with that reason and
    the harness's own checks pass: nothing fails for want of the server."""
    empty = tmp_path / "nothing"
    empty.mkdir()
    env = {
        **os.environ,
        "E2E_STACK": "supabase",
        "E2E_PG_BINDIR": str(empty),
        "E2E_PG_SHAREDIR": str(empty),
    }
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rs",
         "e2e/tests/test_harness.py", "e2e/tests/test_migrations.py",
         "e2e/tests/test_reliability_restart.py",
         # the embedded_cluster tests, and those of the harness that need no stack at all
         "-k", "embedded_stack_starts or each_migration_applies or debounce_window_survives "
               "or port_in_use or missing_server or missing_extension or stack_error "
               "or pinned_once"],
        env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    summary = result.stdout.strip().splitlines()[-1]
    assert result.returncode == 0, result.stdout[-3000:]
    assert "failed" not in summary and "error" not in summary, summary
    reason = "needs an embedded cluster of its own; the supabase stack's database runs in Docker"
    skipped = [line for line in result.stdout.splitlines() if line.startswith("SKIPPED")]
    assert skipped and all(reason in line for line in skipped), skipped
