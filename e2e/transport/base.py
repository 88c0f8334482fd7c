"""The interface both transports implement: one client per persona, five kinds of request.

A filter is a ``(column, operator, value)`` tuple with PostgREST's operator names: ``eq``, ``neq``,
``gt``, ``gte``, ``lt``, ``lte``, ``in`` (value: a list) and ``is`` (value: None, True or False).
``order`` is a column name, ``"column.desc"`` for descending.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from .differences import Version, as_served
from .personas import Persona
from .result import Result

Filter = tuple[str, str, Any]
Returning = Literal["representation", "minimal"]
OPERATORS = ("eq", "neq", "gt", "gte", "lt", "lte", "in", "is")


def jsonable(value: Any) -> Any:
    """``value`` with dates, uuids and decimals as the strings a JSON body carries."""
    return json.loads(json.dumps(value, default=str))


def check_filters(filters: Iterable[Filter]) -> list[Filter]:
    checked = []
    for column, op, value in filters:
        if op not in OPERATORS:
            raise ValueError(f"unsupported filter operator {op!r}; use one of {OPERATORS}")
        if op == "is" and value not in (None, True, False):
            raise ValueError("the `is` filter takes None, True or False")
        if op == "in" and isinstance(value, str):
            raise ValueError("the `in` filter takes a list of values")
        checked.append((column, op, value))
    return checked


def split_order(order: str) -> tuple[str, bool]:
    """``"col"`` or ``"col.desc"`` / ``"col.asc"`` as (column, descending)."""
    column, _, direction = order.partition(".")
    if direction not in ("", "asc", "desc"):
        raise ValueError(f"order must be 'column', 'column.asc' or 'column.desc', not {order!r}")
    return column, direction == "desc"


class Client(ABC):
    """Requests as one persona, answered as PostgREST answers them."""

    persona: Persona

    @abstractmethod
    def select(
        self,
        relation: str,
        columns: str = "*",
        *,
        filters: Sequence[Filter] = (),
        order: str | None = None,
        count: bool = False,
    ) -> Result:
        """GET /relation?select=columns&filters (count: ``Prefer: count=exact``)."""

    @abstractmethod
    def insert(
        self,
        table: str,
        rows: Mapping[str, Any] | Sequence[Mapping[str, Any]],
        *,
        returning: Returning = "representation",
    ) -> Result:
        """POST /table with one object or an array (``returning`` as supabase-py's default)."""

    @abstractmethod
    def update(
        self,
        table: str,
        values: Mapping[str, Any],
        *,
        filters: Sequence[Filter],
        returning: Returning = "representation",
    ) -> Result:
        """PATCH /table?filters."""

    @abstractmethod
    def delete(
        self, table: str, *, filters: Sequence[Filter], returning: Returning = "representation"
    ) -> Result:
        """DELETE /table?filters."""

    @abstractmethod
    def rpc(self, function: str, params: Mapping[str, Any] | None = None) -> Result:
        """POST /rpc/function with the parameters as a JSON object."""

    def close(self) -> None:  # noqa: B027 - optional for clients that hold nothing
        """Release what the client holds (a connection, an HTTP session)."""


class Transport(ABC):
    """A way to reach the database as PostgREST's clients do; one cached client per persona.

    A client is used by one thread at a time: concurrent callers take one ``open_client`` each.
    """

    name: str

    def __init__(self) -> None:
        self._clients: dict[str, Client] = {}

    def client(self, persona: Persona) -> Client:
        """The persona's client, signed in once and reused for the whole run."""
        if persona.name not in self._clients:
            self._clients[persona.name] = self.open_client(persona)
        return self._clients[persona.name]

    @abstractmethod
    def open_client(self, persona: Persona) -> Client:
        """A new client of its own (its own connection or HTTP session); the caller closes it."""

    @abstractmethod
    def describe(self) -> str:
        """One line for the test report: what this transport talks to."""

    def postgrest_version(self) -> Version | None:
        """The PostgREST release that answers, None where that is v16.2's protocol (the replay)."""
        return None

    def as_served(self, method: str, expected: Result) -> Result:
        """``expected``, v16.2's answer to a ``method`` request, as this transport's PostgREST
        gives it: changed only by a documented difference (``differences.py``)."""
        return as_served(method, expected, self.postgrest_version())[0]

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()
