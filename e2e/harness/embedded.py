"""A throwaway PostgreSQL 15 cluster that behaves like a Supabase database.

The cluster lives in a git-ignored folder of the project (``.stack/`` by default), listens on
127.0.0.1 only, preloads pg_cron, and gets the Supabase platform layer (``platform.sql``) applied by
its bootstrap superuser ``supabase_admin``. Migrations are then pushed by the real Supabase CLI as
``postgres``, which is not a superuser here either.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pwd
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from .errors import StackError

PROJECT_ROOT = Path(__file__).resolve().parents[2]

# The public local-development defaults of `supabase start`; nothing here is a secret.
LOCAL_PASSWORD = "postgres"
SUPERUSER = "supabase_admin"

REQUIRED_EXTENSIONS = {
    "pgtap": "postgresql-15-pgtap",
    "pg_cron": "postgresql-15-cron",
    # `supabase db lint`
    "plpgsql_check": "postgresql-15-plpgsql-check",
}


def _pg_bindir() -> Path:
    return Path(os.environ.get("E2E_PG_BINDIR", "/usr/lib/postgresql/15/bin"))


def _pg_sharedir() -> Path:
    return Path(os.environ.get("E2E_PG_SHAREDIR", "/usr/share/postgresql/15"))


@dataclass
class EmbeddedCluster:
    """One cluster: its folder, its port, and how to start, reset and stop it."""

    base_dir: Path
    port: int = 54322

    @classmethod
    def from_env(cls) -> EmbeddedCluster:
        base = Path(os.environ.get("E2E_STACK_DIR", PROJECT_ROOT / ".stack"))
        return cls(base_dir=base, port=int(os.environ.get("E2E_DB_PORT", "54322")))

    # -- paths ----------------------------------------------------------------------------------

    @property
    def data_dir(self) -> Path:
        return self.runtime_dir / "pgdata"

    @property
    def socket_dir(self) -> Path:
        return self.runtime_dir / "run"

    @property
    def log_file(self) -> Path:
        return self.runtime_dir / "postgres.log"

    @functools.cached_property
    def runtime_dir(self) -> Path:
        """Where the server's files go: the stack folder, unless the server's user cannot reach it.

        PostgreSQL refuses to run as root, so as root the cluster runs as the `postgres` system
        user, which may not be able to enter a clone under /root. Then the data moves to /var/tmp,
        keyed by the stack folder so two clones never share a cluster.
        """
        if os.geteuid() != 0 or _user_can_enter("postgres", self.base_dir):
            return self.base_dir
        key = hashlib.sha256(str(self.base_dir.resolve()).encode()).hexdigest()[:12]
        return Path("/var/tmp") / f"peer-mentor-stats-{key}"

    # -- URLs -----------------------------------------------------------------------------------

    def url(self, user: str = "postgres", password: str = LOCAL_PASSWORD) -> str:
        return f"postgresql://{user}:{password}@127.0.0.1:{self.port}/postgres"

    @property
    def db_url(self) -> str:
        return self.url()

    @property
    def superuser_db_url(self) -> str:
        return self.url(SUPERUSER)

    # -- lifecycle ------------------------------------------------------------------------------

    def check_prerequisites(self) -> None:
        bindir = _pg_bindir()
        for tool in ("initdb", "pg_ctl", "postgres"):
            if not (bindir / tool).exists():
                raise StackError(
                    f"PostgreSQL 15 server binaries not found in {bindir}: "
                    "install them with `apt-get install postgresql-15` (or set E2E_PG_BINDIR)"
                )
        for ext, package in REQUIRED_EXTENSIONS.items():
            if not (_pg_sharedir() / "extension" / f"{ext}.control").exists():
                raise StackError(
                    f"the {ext} extension is not installed: `apt-get install {package}`"
                )
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                raise StackError(
                    "running as root needs the `postgres` system user to own the cluster: "
                    "`apt-get install postgresql-15` creates it"
                ) from None

    def is_running(self) -> bool:
        if not (self.data_dir / "postmaster.pid").exists():
            return False
        result = self._run([_pg_bindir() / "pg_ctl", "status", "-D", self.data_dir], check=False)
        return result.returncode == 0

    def start(self) -> None:
        """Start the cluster, creating it first if needed; a running cluster is left alone."""
        if self.is_running():
            self._wait_ready()
            return
        # before the prerequisites: a port another program holds is the answer whatever else
        if _port_in_use(self.port):
            raise StackError(
                f"port {self.port} on 127.0.0.1 is in use by another program: "
                "stop it (`supabase stop` if it is a Supabase stack) or set E2E_DB_PORT"
            )
        self.check_prerequisites()
        fresh = not (self.data_dir / "PG_VERSION").exists()
        if fresh:
            self._initdb()
        self._prepare_dirs()
        result = self._run(
            [
                _pg_bindir() / "pg_ctl",
                "start",
                "-w",
                "-t",
                "60",
                "-D",
                self.data_dir,
                "-l",
                self.log_file,
            ],
            check=False,
        )
        if result.returncode != 0:
            tail = (
                self.log_file.read_text(errors="replace").splitlines()[-5:]
                if self.log_file.exists()
                else []
            )
            raise StackError(f"PostgreSQL did not start (see {self.log_file}): " + " | ".join(tail))
        self._wait_ready()
        if fresh:
            self.apply_platform_layer()

    def stop(self) -> None:
        if self.is_running():
            self._run([_pg_bindir() / "pg_ctl", "stop", "-w", "-m", "fast", "-D", self.data_dir])

    def restart(self) -> None:
        """Restart the server, keeping its data (the debounce state must survive this)."""
        self.stop()
        self.start()

    def recreate(self) -> None:
        """Throw the cluster away and start a new one with only the platform layer.

        A whole new cluster rather than a dropped database: dropping the database pg_cron watches
        stops its scheduler until the server restarts.
        """
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)
        self.start()

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.runtime_dir, ignore_errors=True)
        shutil.rmtree(self.base_dir, ignore_errors=True)

    def apply_platform_layer(self) -> None:
        sql = (Path(__file__).parent / "platform.sql").read_text()
        with psycopg.connect(self.superuser_db_url, autocommit=True) as conn:
            conn.execute(sql)

    # -- internals ------------------------------------------------------------------------------

    def _initdb(self) -> None:
        self._prepare_dirs()
        pwfile = self.runtime_dir / "pwfile"
        pwfile.write_text(LOCAL_PASSWORD + "\n")
        self._chown(pwfile)
        try:
            self._run(
                [
                    _pg_bindir() / "initdb",
                    "-D",
                    self.data_dir,
                    "-U",
                    SUPERUSER,
                    f"--pwfile={pwfile}",
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                    "--no-instructions",
                ]
            )
        finally:
            pwfile.unlink(missing_ok=True)
        with open(self.data_dir / "postgresql.conf", "a") as conf:
            conf.write(
                "\n# embedded Supabase-compatible stack\n"
                "listen_addresses = '127.0.0.1'\n"
                f"port = {self.port}\n"
                f"unix_socket_directories = '{self.socket_dir}'\n"
                "shared_preload_libraries = 'pg_cron'\n"
                "cron.database_name = 'postgres'\n"
                # As on Supabase, jobs run over libpq connections back into the server (pg_cron's
                # default), as the job's owner; the socket's `trust` stands in for the image's
                # trust of 127.0.0.1, so no password is stored for them.
                f"cron.host = '{self.socket_dir}'\n"
                "timezone = 'UTC'\n"
                "log_min_messages = warning\n"
            )

    def _prepare_dirs(self) -> None:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        for d in (self.runtime_dir, self.data_dir, self.socket_dir):
            d.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._chown(d)
        self.log_file.touch()
        self._chown(self.log_file)
        if os.geteuid() == 0:
            # the server process (user postgres) writes its log here
            os.chmod(self.base_dir, 0o755)

    def _chown(self, path: Path) -> None:
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(path, pw.pw_uid, pw.pw_gid)

    def _run(self, cmd, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [str(c) for c in cmd]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        result = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if check and result.returncode != 0:
            raise StackError(f"`{' '.join(cmd)}` failed: {result.stderr.strip()}")
        return result

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                with psycopg.connect(self.superuser_db_url, connect_timeout=2) as conn:
                    conn.execute("select 1")
                return
            except psycopg.OperationalError as exc:
                last = exc
                time.sleep(0.1)  # polling the server's readiness; bounded by the deadline
        raise StackError(f"PostgreSQL on port {self.port} did not accept connections: {last}")


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _user_can_enter(user: str, path: Path) -> bool:
    probe = path
    while not probe.exists():
        probe = probe.parent
    result = subprocess.run(
        ["runuser", "-u", user, "--", "test", "-x", str(probe)],
        capture_output=True,
        stdin=subprocess.DEVNULL,
    )
    return result.returncode == 0
