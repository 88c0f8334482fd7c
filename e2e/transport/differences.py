"""Where PostgREST 12.0.2 (the embedded stack's) answers otherwise than v16.2 (the replay's): the
one list.

The SQL replay follows PostgREST v16.2, the version the pinned CLI runs on `supabase start`. The
embedded stack serves the latest PostgREST on npm, 12.0.2. For a request both answer, the parity
suite (``test_replay_parity.py``) compares status, error code and rows; a mismatch fails unless one
``Difference`` below turns the replay's (v16.2's) answer into exactly what the older version sent.
Tests that assert v16.2's answer over HTTP go through ``as_served`` too, so the list is the only
place a version difference is allowed.

Each entry names the PostgREST release that changed the behaviour and the source it was read from
(PostgREST's repository at the tags v12.0.2 and v16.2, and its CHANGELOG). The status mappings of
21000, 42P17, 53400 and 54xxx are listed although no request of the suite provokes them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from .result import ApiError, Result

Version = tuple[int, ...]


def parse_version(text: str) -> Version:
    """``"12.0.2"``, ``"v16.2"``, ``"postgrest/12.0.2"`` as a comparable tuple."""
    match = re.search(r"(\d+(?:\.\d+)*)", text)
    if not match:
        raise ValueError(f"not a PostgREST version: {text!r}")
    return tuple(int(p) for p in match.group(1).split("."))


# A request as the differences need it: the HTTP method, and the answer v16.2 gives.
Translate = Callable[[str, Result], Result | None]


@dataclass(frozen=True)
class Difference:
    """What older versions answer where v16.2 answers otherwise, since when, and the source."""

    key: str
    what: str
    before: str  # what versions older than ``since`` answer
    since: str  # the first PostgREST release that answers as v16.2 does
    source: str
    translate: Translate  # v16.2's answer -> the older answer, or None where it does not apply

    def applies_to(self, version: Version) -> bool:
        return version < parse_version(self.since)


def _error(result: Result) -> ApiError | None:
    return result.error


def _unknown_relation(method: str, result: Result) -> Result | None:
    error = _error(result)
    if not (error and error.code == "PGRST205" and result.status == 404):
        return None
    match = re.fullmatch(r"Could not find the table '(.+)' in the schema cache", error.message)
    if not match:
        return None
    if method in ("POST", "PATCH"):
        # the plan finds no table to take the body's columns from: 404 with an empty body
        return Result(404, error=ApiError("", ""))
    return Result(404, error=ApiError("42P01", f'relation "{match.group(1)}" does not exist'))


def _unknown_column_message(method: str, result: Result) -> Result | None:
    error = _error(result)
    if not (error and error.code == "PGRST204"):
        return None
    match = re.fullmatch(r"Could not find the '(.+)' column of '(.+)' in the schema cache",
                         error.message, flags=re.DOTALL)  # fmt: skip
    if not match:
        return None
    column, table = match.groups()
    message = f"Column '{column}' of relation '{table}' does not exist"
    return replace(result, error=replace(error, message=message))


def _expired_code(method: str, result: Result) -> Result | None:
    error = _error(result)
    if not (error and error.code == "PGRST303" and error.message == "JWT expired"):
        return None
    return replace(result, error=ApiError("PGRST301", "JWT expired"))


# jose-jwt's refusals (v16.2) and what hs-jose (12.0.2) says for the same token
_JOSE_MESSAGES = {
    "No suitable key or wrong key type": "JWSError JWSInvalidSignature",
    "Wrong or unsupported encoding algorithm": "JWSError JWSNoSignatures",
}


def _jwt_messages(method: str, result: Result) -> Result | None:
    error = _error(result)
    if not (error and error.code == "PGRST301" and error.message in _JOSE_MESSAGES):
        return None
    return replace(result, error=ApiError("PGRST301", _JOSE_MESSAGES[error.message]))


def _missing_role_status(method: str, result: Result) -> Result | None:
    error = _error(result)
    if not (error and error.code == "22023" and result.status == 401):
        return None
    return replace(result, status=400)


def _status_change(code: str | Callable[[str], bool], old: int) -> Translate:
    def translate(method: str, result: Result) -> Result | None:
        error = _error(result)
        if error is None:
            return None
        matches = code(error.code) if callable(code) else error.code == code
        return replace(result, status=old) if matches and result.status != old else None

    return translate


DIFFERENCES: tuple[Difference, ...] = (
    Difference(
        "unknown-relation",
        "a table or view that is not in the schema cache",
        '404 with 42P01 `relation "public.x" does not exist` from PostgreSQL for GET and DELETE; '
        "404 with an empty JSON object for POST and PATCH (the plan has no columns to read the "
        "body with)",
        "13.0.0",
        "v16.2 src/library/PostgREST/Plan.hs findTable (PGRST205); v12.0.2 src/PostgREST/Plan.hs "
        "resolveOrError (NotFound); CHANGELOG 13.0.0",
        _unknown_relation,
    ),
    Difference(
        "unknown-column-message",
        "the message of PGRST204, a column of the body the table does not have",
        "\"Column 'c' of relation 't' does not exist\" (same code and status)",
        "12.0.3",
        "v12.0.2 src/PostgREST/Error.hs ColumnNotFound; CHANGELOG 12.0.3",
        _unknown_column_message,
    ),
    Difference(
        "expired-jwt-code",
        "an expired token",
        "PGRST301 `JWT expired` (v13 and later: PGRST303, the code of a claims error)",
        "13.0.0",
        "v12.0.2 src/PostgREST/Auth.hs jwtClaimsError; v16.2 src/library/PostgREST/Auth/Jwt.hs",
        _expired_code,
    ),
    Difference(
        "jwt-library-messages",
        "the message of PGRST301 for a bad signature or an unsigned token (`alg: none`)",
        "hs-jose's words: `JWSError JWSInvalidSignature`, `JWSError JWSNoSignatures` (v16.2, with "
        "jose-jwt: `No suitable key or wrong key type`, `Wrong or unsupported encoding algorithm`)",
        "13.0.0",
        "v12.0.2 src/PostgREST/Auth.hs (jose 0.10); v16.2 src/library/PostgREST/Auth/Jwt.hs "
        "(jose-jwt)",
        _jwt_messages,
    ),
    Difference(
        "missing-role-status",
        "a token whose role claim names a role the database does not have (22023)",
        "HTTP 400 (v13 and later: 401)",
        "13.0.0",
        "v16.2 src/library/PostgREST/Error.hs mapSQLtoHTTP; v12.0.2 src/PostgREST/Error.hs "
        "pgErrorStatus",
        _missing_role_status,
    ),
    Difference(
        "21000-status",
        "21000 other than safeupdate's `... requires a WHERE clause` (e.g. a scalar subquery "
        "that returns more than one row)",
        "HTTP 400 (the default) where v16.2 answers 500",
        "12.0.3",
        "v16.2 src/library/PostgREST/Error.hs mapSQLtoHTTP; CHANGELOG 12.0.3",
        _status_change("21000", 400),
    ),
    Difference(
        "42P17-status",
        "42P17, infinite recursion (of row-level security policies)",
        "HTTP 400 where v16.2 answers 500",
        "12.0.3",
        "v16.2 src/library/PostgREST/Error.hs mapSQLtoHTTP; CHANGELOG 12.0.3",
        _status_change("42P17", 400),
    ),
    Difference(
        "53400-status",
        "53400, configuration limit exceeded",
        "HTTP 503 (its class, 53) where v16.2 answers 500",
        "12.2.0",
        "v16.2 src/library/PostgREST/Error.hs mapSQLtoHTTP; CHANGELOG 12.2.0",
        _status_change("53400", 503),
    ),
    Difference(
        "54xxx-status",
        "class 54, program limit exceeded (e.g. a statement too complex)",
        "HTTP 413 where v16.2 answers 500",
        "12.2.0",
        "v16.2 src/library/PostgREST/Error.hs mapSQLtoHTTP; CHANGELOG 12.2.0",
        _status_change(lambda code: code.startswith("54"), 413),
    ),
)


def as_served(method: str, result: Result, version: Version | None) -> tuple[Result, list[str]]:
    """v16.2's answer ``result`` as PostgREST ``version`` gives it (None: v16.2, the replay), and
    the keys of the differences that changed it."""
    applied: list[str] = []
    if version is None:
        return result, applied
    for difference in DIFFERENCES:
        if not difference.applies_to(version):
            continue
        changed = difference.translate(method, result)
        if changed is not None:
            result = changed
            applied.append(difference.key)
    return result, applied
