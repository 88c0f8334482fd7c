"""Two ways to talk to the database as the app does, with one result type (decision D2).

- ``HttpTransport``: supabase-py against a stack's HTTP API (``API_URL``), real password sign-ins.
- ``SqlReplayTransport``: what PostgREST does per request, replayed on a connection as
  ``authenticator`` with tokens signed by the stack's JWT secret; for stacks without an HTTP API.

Both hand out one ``Client`` per ``Persona`` (``transport.client(persona)``), whose ``select``,
``insert``, ``update``, ``delete`` and ``rpc`` return a ``Result``: the HTTP status and either the
rows or an ``ApiError`` (SQLSTATE or PostgREST code, message, details, hint).
"""

from .base import Client, Filter, Transport
from .http import HttpTransport
from .personas import ANON, SERVICE_ROLE, Persona, Reference, load_reference
from .replay import SqlReplayTransport
from .result import ApiError, Result, http_status

__all__ = [
    "ANON",
    "SERVICE_ROLE",
    "ApiError",
    "Client",
    "Filter",
    "HttpTransport",
    "Persona",
    "Reference",
    "Result",
    "SqlReplayTransport",
    "Transport",
    "http_status",
    "load_reference",
]
