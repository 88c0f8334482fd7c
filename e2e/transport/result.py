"""What every transport returns: the rows of a success, or an error shaped as PostgREST sends it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ApiError:
    """PostgREST's error body: ``code`` is the SQLSTATE (or a ``PGRSTnnn`` code of PostgREST)."""

    code: str
    message: str
    details: str | None = None
    hint: str | None = None


@dataclass(frozen=True)
class Result:
    """One request's outcome: the HTTP status, and either the rows or the error.

    ``rows`` is the JSON body as a list of objects (empty for ``Prefer: return=minimal``);
    ``count`` is the exact count when it was asked for.
    """

    status: int
    rows: list[dict[str, Any]] = field(default_factory=list)
    count: int | None = None
    error: ApiError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and 200 <= self.status < 300

    def expect_ok(self) -> list[dict[str, Any]]:
        """The rows, or an AssertionError that shows the error the request got instead."""
        if not self.ok:
            raise AssertionError(f"request failed with HTTP {self.status}: {self.error}")
        return self.rows


def http_status(sqlstate: str, message: str, *, authenticated: bool) -> int:
    """The HTTP status PostgREST answers a PostgreSQL error with (its ``mapSQLtoHTTP``).

    ``authenticated`` is false for a request that runs as the anon role: then an insufficient
    privilege (42501) is 401, otherwise 403.
    """
    exact = {
        "23503": 409,  # foreign_key_violation
        "23505": 409,  # unique_violation
        "25006": 405,  # read_only_sql_transaction
        "53400": 500,
        "57P01": 503,
        "P0001": 400,  # plain RAISE
        "42P01": 404,  # undefined table
        "42P17": 500,  # infinite recursion (of policies)
    }
    if sqlstate in exact:
        return exact[sqlstate]
    if sqlstate == "42501":
        return 403 if authenticated else 401
    if sqlstate == "42883":
        return 406 if message.startswith("function xmlagg(") else 404
    if sqlstate == "21000":
        return 400 if message.endswith("requires a WHERE clause") else 500
    if sqlstate == "22023":
        # a JWT naming a role that does not exist
        return 401 if message.startswith("role") and message.endswith("does not exist") else 400
    if sqlstate.startswith("PT") and sqlstate[2:].isdigit():
        return int(sqlstate[2:])
    by_class = {
        "08": 503, "09": 500, "0L": 403, "0P": 403, "25": 500, "28": 403, "2D": 500,
        "38": 500, "39": 500, "3B": 500, "40": 500, "53": 503, "54": 500, "55": 500,
        "57": 500, "58": 500, "F0": 500, "HV": 500, "P0": 500, "XX": 500,
    }  # fmt: skip
    return by_class.get(sqlstate[:2], 400)
