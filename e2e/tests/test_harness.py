"""The harness: an embedded stack starts, resets and stops cleanly, and says what is wrong."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import psycopg
import pytest

from harness import keys, versions
from harness.api import EmbeddedApi
from harness.embedded import PROJECT_ROOT, EmbeddedCluster
from harness.errors import StackError
from harness.keys import LOCAL_JWT_SECRET
from transport import load_reference
from transport.tokens import Issuer

JUST = str(Path(sys.executable).parent / "just")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _free_ports(n: int) -> list[int]:
    """``n`` distinct free ports (each held until all are chosen)."""
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def second_stack(tmp_path: Path):
    """Variables that point the harness at a second embedded stack of this test's own."""
    port, api_port, rest_port, admin_port = _free_ports(4)
    env = {
        **os.environ,
        "E2E_STACK": "embedded",
        "E2E_DB_PORT": str(port),
        "E2E_API_PORT": str(api_port),
        "E2E_REST_PORT": str(rest_port),
        "E2E_REST_ADMIN_PORT": str(admin_port),
        "E2E_STACK_DIR": str(tmp_path / "stack"),
    }
    cluster = EmbeddedCluster(base_dir=tmp_path / "stack", port=port)
    api = EmbeddedApi(
        cluster,
        api_port=int(env["E2E_API_PORT"]),
        rest_port=int(env["E2E_REST_PORT"]),
        admin_port=int(env["E2E_REST_ADMIN_PORT"]),
    )
    yield env, cluster, api
    api.stop()
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


def _api_insert_status(api: EmbeddedApi) -> int:
    """The status of a mentor's insert through the gateway and PostgREST of the test's own stack
    (a write is what a schema cache of an earlier database refuses)."""
    mentor = load_reference()["mentor_a"]
    token = Issuer(LOCAL_JWT_SECRET, api.session_key()).token_for(mentor)
    response = httpx.post(
        f"{api.rest_url}/activities",
        headers={
            "apikey": keys.PUBLISHABLE_KEY,
            "Authorization": f"Bearer {token}",
            "Prefer": "return=minimal",
        },
        json={"peer_mentor_id": mentor.user_id, "chapter_id": mentor.memberships[0][0],
              "activity_type_id": 1, "activity_date": "2026-01-01", "duration_minutes": 5},
        timeout=10,
    )  # fmt: skip
    return response.status_code


def _pids(pattern: str) -> bytes:
    return subprocess.run(["pgrep", "-f", pattern], capture_output=True).stdout


@pytest.mark.stack_lifecycle
@pytest.mark.embedded_cluster
def test_embedded_stack_starts_resets_and_stops_without_leftovers(second_stack):
    """`up` twice is harmless and serves the API, `reset` gives a fresh migrated database and a
    PostgREST that writes to it, `down` leaves no process and frees every port."""
    env, cluster, api = second_stack
    first = _harness(env, "up")
    assert first.returncode == 0, first.stderr
    again = _harness(env, "up")
    assert again.returncode == 0, again.stderr
    assert _api_insert_status(api) == 201
    postgrest_pid = api.postgrest.pid()

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
    # a new database needs a new PostgREST: the old one's schema cache and pool are the old one's
    assert api.postgrest.pid() not in (None, postgrest_pid)
    assert _api_insert_status(api) == 201

    down = _harness(env, "down")
    assert down.returncode == 0, down.stderr
    for port in (cluster.port, api.api_port, api.rest_port, api.admin_port):
        assert not _port_open(port), f"port {port} is still open"
    assert not cluster.is_running()
    assert _pids(f"-D {cluster.data_dir}") == b""
    assert _pids(str(api.postgrest_conf)) == b""
    assert _pids(str(api.nginx_conf)) == b""


def test_just_env_prints_the_api_as_supabase_status_does(stack):
    """`just env` prints API_URL, REST_URL and the API keys, sorted; through API_URL's gateway the
    keys map to roles as the CLI's Kong maps them, and an unrouted path gets Kong's 404."""
    result = subprocess.run(
        [JUST, "env"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    values = {k: v.strip('"') for k, v in (line.split("=", 1) for line in result.stdout.split())}
    assert {"API_URL", "REST_URL", "ANON_KEY", "SERVICE_ROLE_KEY"} <= values.keys()
    assert values["REST_URL"] == values["API_URL"] + "/rest/v1"
    assert list(values) == sorted(values), "supabase status -o env prints its keys sorted"
    anon = httpx.get(f"{values['REST_URL']}/activities", headers={"apikey": values["ANON_KEY"]})
    assert (anon.status_code, anon.json()["code"]) == (401, "42501")
    # the secret key maps to the service role's token; a JWT as apikey with no Authorization
    # header is passed on without `Bearer`, so PostgREST reads the request as anon (the CLI's Kong)
    types = f"{values['REST_URL']}/activity_types?select=id"
    service = httpx.get(types, headers={"apikey": values["SECRET_KEY"]})
    assert service.status_code == 200 and service.json()
    assert httpx.get(types, headers={"apikey": values["SERVICE_ROLE_KEY"]}).status_code == 401
    bearer = {"apikey": values["ANON_KEY"], "Authorization": f"Bearer {values['SERVICE_ROLE_KEY']}"}
    assert httpx.get(types, headers=bearer).status_code == 200
    nowhere = httpx.get(f"{values['API_URL']}/nowhere")
    assert (nowhere.status_code, nowhere.json()) == (
        404, {"message": "no Route matched with those values"}
    )  # fmt: skip


def test_a_run_ends_with_the_stack_and_the_postgrest_that_answered(stack):
    """The last line of `pytest -q` names the stack and each transport's PostgREST, so a run's
    tail says what the scenarios were proven against."""
    scenario = "e2e/tests/test_chapter_isolation.py::test_coordinator_sees_exactly_their_chapters"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", scenario],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith(f"e2e on the {stack.kind} stack; sql-replay (against PostgREST v"), last
    if stack.api_url:
        assert re.search(r"; http \(against PostgREST \d+\.\d+\.\d+ behind the gateway", last), last


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


def test_the_embedded_postgrest_is_pinned_once_everywhere() -> None:
    """package.json pins the PostgREST package exactly, its lock file records the same version with
    an integrity hash, and the binary it installs is the release harness/versions.py names."""
    package = json.loads((PROJECT_ROOT / "package.json").read_text())
    lock = json.loads((PROJECT_ROOT / "package-lock.json").read_text())
    name, _, pinned = versions.POSTGREST_EMBEDDED_PACKAGE.rpartition("@")
    assert package["devDependencies"][name] == pinned
    locked = lock["packages"][f"node_modules/{name}"]
    assert locked["version"] == pinned and locked["integrity"].startswith("sha512-")
    assert pinned.startswith(versions.POSTGREST_EMBEDDED + "-")
    api = EmbeddedApi.from_env()
    assert api.postgrest_version() == versions.POSTGREST_EMBEDDED
