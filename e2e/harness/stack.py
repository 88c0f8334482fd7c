"""Which stack the suite runs on, and the operations every stack offers.

Two kinds (decision D1): ``supabase`` is a running `supabase start` stack (Docker), ``embedded`` is
the throwaway cluster of ``embedded.py`` with a real PostgREST behind a gateway (``api.py``,
decision D23). ``E2E_STACK=embedded|supabase`` forces one; by default a running Supabase CLI stack
wins. Either way, migrations are applied by the real Supabase CLI.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

from . import keys
from .api import EmbeddedApi
from .embedded import PROJECT_ROOT, SUPERUSER, EmbeddedCluster
from .errors import StackError
from .keys import LOCAL_JWT_SECRET

KINDS = ("embedded", "supabase")
# The project's schemas: every function, table and view the migrations make lives in one of them.
PROJECT_SCHEMAS = ("public", "private", "stats")


@dataclass(frozen=True)
class Stack:
    """What a client needs to reach a stack. ``api_url`` is None where no HTTP API runs.

    ``auth_server`` says whether ``/auth/v1`` answers (password sign-in, the admin API).
    ``session_key`` is the key the suite signs user sessions with where no auth server issues
    them (the embedded stack); ``jwks`` is the key set PostgREST verifies tokens with, as far as
    the suite knows it (the JWT secret's ``oct`` key, and the session key's public half).
    """

    kind: str
    db_url: str
    superuser_db_url: str
    jwt_secret: str
    api_url: str | None = None
    anon_key: str | None = None
    service_role_key: str | None = None
    publishable_key: str | None = None
    secret_key: str | None = None
    auth_server: bool = False
    session_key: keys.SessionKey | None = None

    @property
    def rest_url(self) -> str | None:
        return f"{self.api_url}/rest/v1" if self.api_url else None

    @property
    def jwks(self) -> dict:
        return keys.jwks(self.jwt_secret, self.session_key)

    def env(self) -> dict[str, str]:
        """``KEY=value`` pairs as `supabase status -o env` prints them (sorted), and the stack's
        kind and superuser URL, which only the harness adds."""
        values = {
            "STACK": self.kind,
            "DB_URL": self.db_url,
            "SUPERUSER_DB_URL": self.superuser_db_url,
            "JWT_SECRET": self.jwt_secret,
            "API_URL": self.api_url,
            "REST_URL": self.rest_url,
            "ANON_KEY": self.anon_key,
            "SERVICE_ROLE_KEY": self.service_role_key,
            "PUBLISHABLE_KEY": self.publishable_key,
            "SECRET_KEY": self.secret_key,
        }
        return {k: v for k, v in sorted(values.items()) if v}


def log(message: str) -> None:
    print(f"stack: {message}", file=sys.stderr, flush=True)


# -- the Supabase CLI ---------------------------------------------------------------------------


def supabase_cli() -> str:
    local = PROJECT_ROOT / "node_modules" / ".bin" / "supabase"
    if local.exists():
        return str(local)
    raise StackError(
        "the Supabase CLI is not installed in this project: run `npm ci` (package.json pins it)"
    )


def run_cli(*args: str, check: bool = True, quiet: bool = False) -> subprocess.CompletedProcess:
    cmd = [supabase_cli(), *args]
    result = subprocess.run(
        cmd,
        cwd=PROJECT_ROOT,
        stdin=subprocess.DEVNULL,
        text=True,
        capture_output=quiet,
    )
    if check and result.returncode != 0:
        shown = " ".join(a if "://" not in a else "<db-url>" for a in args)
        detail = f": {result.stderr.strip()}" if quiet and result.stderr else ""
        raise StackError(f"`supabase {shown}` failed with exit code {result.returncode}{detail}")
    return result


def supabase_status() -> dict[str, str] | None:
    """The variables of a running `supabase start` stack, or None when none answers."""
    try:
        result = subprocess.run(
            [supabase_cli(), "status", "-o", "env"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=60,
        )
    except (StackError, subprocess.TimeoutExpired):
        return None
    if result.returncode != 0:
        return None
    values = {}
    for line in result.stdout.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.isupper():
            values[key] = value.strip().strip('"')
    return values if "DB_URL" in values else None


# -- selection ----------------------------------------------------------------------------------


def selected_kind() -> str:
    forced = os.environ.get("E2E_STACK", "auto")
    if forced in KINDS:
        return forced
    if forced != "auto":
        raise StackError(f"E2E_STACK must be one of auto, {', '.join(KINDS)}; got {forced!r}")
    return "supabase" if supabase_status() else "embedded"


def _with_user(url: str, user: str) -> str:
    parts = urlsplit(url)
    password = parts.password or ""
    host = parts.hostname or "127.0.0.1"
    netloc = f"{user}:{password}@{host}:{parts.port}" if parts.port else f"{user}:{password}@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


def current(kind: str | None = None) -> Stack:
    kind = kind or selected_kind()
    if kind == "embedded":
        cluster = EmbeddedCluster.from_env()
        api = EmbeddedApi.from_env(cluster)
        return Stack(
            "embedded",
            cluster.db_url,
            cluster.superuser_db_url,
            LOCAL_JWT_SECRET,
            api_url=api.api_url,
            anon_key=keys.api_key("anon", LOCAL_JWT_SECRET),
            service_role_key=keys.api_key("service_role", LOCAL_JWT_SECRET),
            publishable_key=keys.PUBLISHABLE_KEY,
            secret_key=keys.SECRET_KEY,
            auth_server=False,
            session_key=api.session_key(),
        )
    status = supabase_status()
    if status is None:
        raise StackError("no Supabase CLI stack answers `supabase status`: run `supabase start`")
    return Stack(
        "supabase",
        db_url=status["DB_URL"],
        superuser_db_url=_with_user(status["DB_URL"], SUPERUSER),
        jwt_secret=status.get("JWT_SECRET", LOCAL_JWT_SECRET),
        api_url=status.get("API_URL"),
        anon_key=status.get("ANON_KEY"),
        service_role_key=status.get("SERVICE_ROLE_KEY"),
        publishable_key=status.get("PUBLISHABLE_KEY"),
        secret_key=status.get("SECRET_KEY"),
        auth_server=True,
    )


# -- operations ---------------------------------------------------------------------------------


def push_migrations(cluster: EmbeddedCluster) -> None:
    """Apply every migration and the seed as `postgres`, recorded in the CLI's history table."""
    log("applying migrations and seed with `supabase db push`")
    run_cli(
        "db", "push", "--db-url", f"{cluster.db_url}?sslmode=disable", "--include-seed", "--yes"
    )


def up(kind: str | None = None) -> Stack:
    """Start the stack and reset its database."""
    kind = kind or selected_kind()
    if kind == "supabase" and supabase_status() is None:
        log("starting the Supabase CLI stack")
        run_cli("start")
    return reset(kind)


def reset(kind: str | None = None) -> Stack:
    """A fresh database with every migration and the seed applied."""
    kind = kind or selected_kind()
    if kind == "supabase":
        log("resetting the Supabase CLI stack with `supabase db reset`")
        run_cli("db", "reset")
        return current("supabase")
    cluster = EmbeddedCluster.from_env()
    api = EmbeddedApi.from_env(cluster)
    api.check_prerequisites()
    # PostgREST's schema cache and connection pool belong to the old database: it goes first and
    # starts again once the new one is migrated
    api.postgrest.stop()
    log(f"creating a fresh embedded cluster on 127.0.0.1:{cluster.port} in {cluster.data_dir}")
    cluster.recreate()
    push_migrations(cluster)
    start_api(api)
    return current("embedded")


def start_api(api: EmbeddedApi) -> None:
    log(
        f"starting PostgREST {api.postgrest_version()} on 127.0.0.1:{api.rest_port} and the "
        f"gateway on {api.api_url}"
    )
    api.start()


def down(kind: str | None = None) -> None:
    kind = kind or selected_kind()
    if kind == "supabase":
        run_cli("stop")
        return
    cluster = EmbeddedCluster.from_env()
    EmbeddedApi.from_env(cluster).stop()
    cluster.stop()
    log("embedded stack stopped (gateway, PostgREST, cluster)")


def ensure_running(kind: str | None = None) -> Stack:
    """The current stack, starting what is down of the embedded one (without a reset)."""
    kind = kind or selected_kind()
    if kind == "embedded":
        cluster = EmbeddedCluster.from_env()
        if not cluster.is_running():
            if not (cluster.data_dir / "PG_VERSION").exists():
                raise StackError("the embedded stack has never been set up: run `just up`")
            cluster.start()
        api = EmbeddedApi.from_env(cluster)
        if not api.is_running():
            start_api(api)
    return current(kind)


def test_db(files: list[str]) -> int:
    """Run the pgTAP files: `supabase test db` in Docker, pg_prove on the embedded stack."""
    kind = selected_kind()
    if kind == "supabase":
        return run_cli("test", "db", check=False).returncode
    stack = ensure_running(kind)
    if shutil.which("pg_prove") is None:
        raise StackError(
            "pg_prove is not installed: `apt-get install libtap-parser-sourcehandler-pgtap-perl`"
        )
    targets = files or [str(PROJECT_ROOT / "supabase" / "tests")]
    cmd = ["pg_prove", "--ext", ".pg", "--ext", ".sql", "-r", "-d", stack.db_url, *targets]
    return subprocess.run(cmd, cwd=PROJECT_ROOT, stdin=subprocess.DEVNULL).returncode


def lint_db() -> int:
    """`supabase db lint` over the project's schemas: plpgsql_check reads every PL/pgSQL function
    (but trigger functions, which the CLI leaves out); then `supabase db advisors`, Supabase's
    database linter (the dashboard's Security and Performance Advisors), over the whole database.
    A warning of either fails. The advisors' INFO findings are left out of the output (`--level
    info` lists them); docs/platform-fidelity.md says why each stays."""
    kind = selected_kind()
    ensure_running(kind)
    log(f"linting the functions of {', '.join(PROJECT_SCHEMAS)} with `supabase db lint`")
    args = ["db", "lint", *_cli_db_target(kind), "--schema", ",".join(PROJECT_SCHEMAS)]
    args += ["--level", "warning", "--fail-on", "warning"]
    linted = run_cli(*args, check=False).returncode
    log("checking the database with Supabase's linter (`supabase db advisors`)")
    args = ["db", "advisors", *_cli_db_target(kind), "--type", "all"]
    args += ["--level", "warn", "--fail-on", "warn"]
    advised = run_cli(*args, check=False).returncode
    return linted or advised


def apply_sql_file(path: Path) -> None:
    """Run one SQL file as `postgres` in a single transaction (rollback scripts)."""
    stack = ensure_running()
    if shutil.which("psql") is None:
        raise StackError("psql is not installed: `apt-get install postgresql-client-15`")
    cmd = [
        "psql",
        "-X",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "--single-transaction",
        "-d",
        stack.db_url,
        "-f",
        str(path),
    ]
    result = subprocess.run(cmd, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        raise StackError(f"{path} failed; nothing of it was applied")


# -- rollbacks ----------------------------------------------------------------------------------

ROLLBACKS_DIR = PROJECT_ROOT / "supabase" / "rollbacks"


def _cli_db_target(kind: str) -> list[str]:
    """How the CLI reaches the stack's database: `--local` on `supabase start`, a URL otherwise."""
    if kind == "supabase":
        return ["--local"]
    return ["--db-url", f"{EmbeddedCluster.from_env().db_url}?sslmode=disable"]


def applied_versions() -> list[str]:
    """The versions in the CLI's migration history table, oldest first."""
    stack = ensure_running()
    with psycopg.connect(stack.db_url, connect_timeout=5) as conn:
        rows = conn.execute(
            "select version from supabase_migrations.schema_migrations order by version"
        ).fetchall()
    return [row[0] for row in rows]


def rollback_script(version: str) -> Path:
    """The one file supabase/rollbacks/<version>_*.sql (decision D3)."""
    if not version.isdigit():
        raise StackError(f"a migration version is digits, like 20261125000007; got {version!r}")
    matches = sorted(ROLLBACKS_DIR.glob(f"{version}_*.sql"))
    if len(matches) != 1:
        found = ", ".join(m.name for m in matches) or "none"
        raise StackError(f"expected exactly one supabase/rollbacks/{version}_*.sql, found {found}")
    return matches[0]


def rollback(version: str) -> None:
    """Undo an applied migration, and every migration applied after it, newest first.

    Later migrations may change what an earlier one created (V011 alters V007's tables and
    functions), so undoing one alone could leave a later one recorded as applied with its objects
    gone. Each script runs as `postgres` in a transaction of its own and its version is then
    marked reverted by the CLI, so a failure part-way leaves the history true to the database;
    `migrate` applies them all again. A later migration without a rollback script stops the whole
    rollback before anything is undone.
    """
    kind = selected_kind()
    applied = applied_versions()
    if version not in applied:
        raise StackError(f"migration {version} is not applied: there is nothing to roll back")
    undo = sorted((v for v in applied if int(v) >= int(version)), key=int, reverse=True)
    scripts = [(v, rollback_script(v)) for v in undo]
    if len(undo) > 1:
        log(f"later migrations are rolled back first: {', '.join(undo[:-1])}")
    for each, script in scripts:
        log(f"rolling back {each} with supabase/rollbacks/{script.name}")
        apply_sql_file(script)
        log(f"marking {each} reverted in the migration history")
        run_cli("migration", "repair", "--status", "reverted", each, *_cli_db_target(kind), "--yes")


def migrate(kind: str | None = None) -> None:
    """Apply the migrations missing from the history (after a rollback), without the seed.

    `--include-all`: a reverted migration older than the newest applied one is applied too.
    """
    kind = kind or selected_kind()
    ensure_running(kind)
    log("applying pending migrations with `supabase db push --include-all`")
    run_cli("db", "push", *_cli_db_target(kind), "--include-all", "--yes")
