"""Requests over HTTP with supabase-py, as the app makes them, against a stack's ``API_URL``.

Each persona gets its own supabase-py client: anon keeps the anon key; a user signs in with their
password through the auth server (the client then sends the session's token), where the stack has
one (`supabase start`; users are ensured with the service role's admin API first). Where it has
none (the embedded stack, whose users come from the seed), the transport signs the user's session
itself with the auth server's claims (``tokens.Issuer``) and hands it to supabase-py as its
Authorization header, the way supabase-py takes a token from another issuer. supabase-py's
``APIError`` carries no HTTP status, so each client runs on an httpx session of its own whose
response hook records the status of the last PostgREST response: results carry the real status
(401 versus 403) without a second code path.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import httpx
from postgrest import APIError
from postgrest.types import CountMethod, ReturnMethod
from supabase import Client as SupabaseClient
from supabase import ClientOptions, create_client
from supabase.lib.client_options import DEFAULT_HEADERS
from supabase_auth.errors import AuthApiError

from harness.versions import POSTGREST

from .base import Client, Filter, Returning, Transport, check_filters, jsonable, split_order
from .differences import Version, parse_version
from .personas import Persona
from .result import ApiError, Result
from .tokens import Issuer

TIMEOUT = httpx.Timeout(10.0)


class HttpTransport(Transport):
    """supabase-py against ``api_url``; users signed in with ``password``."""

    name = "http"

    def __init__(
        self,
        api_url: str,
        anon_key: str,
        service_role_key: str,
        password: str,
        *,
        issuer: Issuer | None = None,
    ) -> None:
        """``issuer`` signs the users' sessions where no auth server runs; None: sign in."""
        super().__init__()
        self.api_url = api_url
        self.anon_key = anon_key
        self.service_role_key = service_role_key
        self.password = password
        self.issuer = issuer
        self._server: str | None = None

    def ensure_users(self, personas: Iterable[Persona]) -> None:
        """Create each user that is missing, with the persona's id, e-mail and password.

        The seed inserts them on a stack it ran on; this covers a stack whose users were removed.
        """
        with httpx.Client(timeout=TIMEOUT) as session:
            admin = _supabase(self.api_url, self.service_role_key, session).auth.admin
            for persona in personas:
                if not persona.is_user:
                    continue
                try:
                    admin.get_user_by_id(persona.user_id)
                except AuthApiError as exc:
                    if exc.status != 404:
                        raise
                    admin.create_user({
                        "id": persona.user_id,
                        "email": persona.email,
                        "password": self.password,
                        "email_confirm": True,
                        "user_metadata": {"full_name": persona.full_name},
                    })  # fmt: skip

    def open_client(self, persona: Persona, token: str | None = None) -> HttpClient:
        """A client of its own; ``token`` is sent as its Authorization instead of a session."""
        key = self.service_role_key if persona.role == "service_role" else self.anon_key
        if token is None and persona.is_user and self.issuer is not None:
            token = self.issuer.token_for(persona)
        client = HttpClient(self.api_url, key, persona, token)
        if token is None and persona.is_user:
            client.sign_in(self.password)
        return client

    def describe(self) -> str:
        sessions = "real sign-ins" if self.issuer is None else "sessions signed by the suite"
        return f"http (supabase-py against {self.api_url}, {sessions})"

    def server(self) -> str:
        """PostgREST's ``Server`` header (``postgrest/<version>``), which the gateway passes on."""
        if self._server is None:
            response = httpx.get(
                f"{self.api_url}/rest/v1/", headers={"apikey": self.anon_key}, timeout=TIMEOUT
            )
            self._server = response.headers.get("server", "")
        return self._server

    def postgrest_version(self) -> Version | None:
        """The version PostgREST's Server header names; where a gateway hides it, the version
        the pinned CLI runs (harness/versions.py)."""
        server = self.server()
        return parse_version(server if server.startswith("postgrest/") else POSTGREST)


class HttpClient(Client):
    def __init__(self, api_url: str, key: str, persona: Persona, token: str | None = None) -> None:
        self.persona = persona
        self.last_status: int | None = None
        self.session = httpx.Client(timeout=TIMEOUT, event_hooks={"response": [self._record]})
        self.supabase = _supabase(api_url, key, self.session, token)
        self._token = token

    @property
    def access_token(self) -> str | None:
        """The bearer token this client's requests carry (None: only the API key)."""
        if self._token is not None:
            return self._token
        session = self.supabase.auth.get_session()
        return session.access_token if session else None

    def _record(self, response: httpx.Response) -> None:
        if "/rest/v1/" in response.request.url.path:
            self.last_status = response.status_code

    def sign_in(self, password: str) -> None:
        """A real password sign-in; supabase-py then sends the session's access token."""
        self.supabase.auth.sign_in_with_password(
            {"email": self.persona.email, "password": password}
        )

    def close(self) -> None:
        self.session.close()

    def select(
        self,
        relation: str,
        columns: str = "*",
        *,
        filters: Sequence[Filter] = (),
        order: str | None = None,
        count: bool = False,
    ) -> Result:
        query = self.supabase.table(relation).select(
            columns, count=CountMethod.exact if count else None
        )
        query = _filtered(query, filters)
        if order:
            column, descending = split_order(order)
            query = query.order(column, desc=descending)
        return self._execute(query)

    def insert(
        self,
        table: str,
        rows: Mapping[str, Any] | Sequence[Mapping[str, Any]],
        *,
        returning: Returning = "representation",
    ) -> Result:
        query = self.supabase.table(table).insert(jsonable(rows), returning=ReturnMethod(returning))
        return self._execute(query)

    def update(
        self,
        table: str,
        values: Mapping[str, Any],
        *,
        filters: Sequence[Filter],
        returning: Returning = "representation",
    ) -> Result:
        query = self.supabase.table(table).update(
            jsonable(values), returning=ReturnMethod(returning)
        )
        return self._execute(_filtered(query, filters))

    def delete(
        self, table: str, *, filters: Sequence[Filter], returning: Returning = "representation"
    ) -> Result:
        query = self.supabase.table(table).delete(returning=ReturnMethod(returning))
        return self._execute(_filtered(query, filters))

    def rpc(self, function: str, params: Mapping[str, Any] | None = None) -> Result:
        return self._execute(self.supabase.rpc(function, jsonable(dict(params or {}))))

    def _execute(self, query: Any) -> Result:
        self.last_status = None
        try:
            response = query.execute()
        except APIError as exc:
            error = ApiError(exc.code or "", exc.message or "", exc.details, exc.hint)
            return Result(self._status(), error=error)
        data = response.data
        rows = data if isinstance(data, list) else ([] if data in (None, "") else [data])
        return Result(self._status(), rows=rows, count=response.count)

    def _status(self) -> int:
        if self.last_status is None:
            raise AssertionError("supabase-py returned without a PostgREST response")
        return self.last_status


def _supabase(
    api_url: str, key: str, session: httpx.Client, token: str | None = None
) -> SupabaseClient:
    headers = dict(DEFAULT_HEADERS)
    if token:
        # supabase-py keeps an Authorization header given here (a token of another issuer)
        headers["Authorization"] = f"Bearer {token}"
    options = ClientOptions(
        httpx_client=session,
        auto_refresh_token=False,  # sessions outlive no test run; no refresh timer threads
        postgrest_client_retry=False,  # a retried request would hide the first answer
        headers=headers,
    )
    return create_client(api_url, key, options)


def _filtered(query: Any, filters: Sequence[Filter]) -> Any:
    for column, op, value in check_filters(filters):
        if op == "in":
            query = query.in_(column, [str(v) for v in value])
        elif op == "is":
            query = query.is_(column, "null" if value is None else str(value).lower())
        else:
            query = getattr(query, op)(column, jsonable(value))
    return query
