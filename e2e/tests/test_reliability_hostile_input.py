"""Hostile and malformed requests, sent as the app sends them, on every transport the stack offers.

Each is refused with the status and error PostgREST gives, writes nothing, and reveals nothing of
another chapter; SQL meta-characters in free text are stored as the text they are and run nothing.
Forged tokens are refused by PostgREST over HTTP, and by the replay's check of a token, which
follows PostgREST v16.2's.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from typing import Any

import jwt
import psycopg
import pytest

import harness
from transport import ApiError, Client, Reference, Result, Transport
from transport.tokens import Issuer, access_token_claims

pytestmark = pytest.mark.usefixtures("new_activities")

# A very long value (100 000 characters of SQL), sent in every field in turn.
LONG = ("'; drop table public.activities; -- " * 3000)[:100_000]
INJECTION = "'; drop table public.activities; --"

FREE_TEXT = {
    "quote and comment": "x'); delete from public.activities; --",
    "stacked statement": "1; update public.activities set duration_minutes = 1440",
    "dollar quoting": "$$; drop table public.activities; $$",
    "like wildcards": "%_%\\",
    "boolean tautology": "' or '1'='1",
    "markup": "<script>alert('x')</script>",
    "unicode": "Ærlig Ødegård 🙂 \u202eoverride",
    "backslash escapes": "\\x00\\n\\'",
}


def check_violation(constraint: str) -> str:
    return f'new row for relation "activities" violates check constraint "{constraint}"'


@dataclass(frozen=True)
class Refusal:
    """What PostgREST answers: HTTP status, SQLSTATE or PGRST code, message (and detail)."""

    status: int
    code: str
    message: str
    details: str | None = None


# Column privileges: clients never choose id, created_by, created_at, nor move a row.
PERMISSION_DENIED = Refusal(403, "42501", "permission denied for table activities")


def syntax(type_name: str, value: str, code: str = "22P02") -> Refusal:
    return Refusal(400, code, f'invalid input syntax for type {type_name}: "{value}"')


# (field, value) -> refusal. Fields with a type refuse what does not parse; the two text fields
# refuse by their check constraints.
TYPED_FIELDS = {
    "peer_mentor_id": lambda v: syntax("uuid", v),
    "chapter_id": lambda v: syntax("uuid", v),
    "activity_type_id": lambda v: syntax("smallint", v),
    "activity_date": lambda v: syntax("date", v, "22007"),
    "duration_minutes": lambda v: syntax("integer", v),
    "status": lambda v: Refusal(400, "23514", check_violation("activities_status_valid")),
}

WRONG_TYPES = {
    "boolean as uuid": ("chapter_id", True, syntax("uuid", "true")),
    "object as uuid": ("peer_mentor_id", {}, syntax("uuid", "{}")),
    "boolean as smallint": ("activity_type_id", False, syntax("smallint", "false")),
    "fraction as integer": ("duration_minutes", 1.5, syntax("integer", "1.5")),
    "array as integer": ("duration_minutes", [30], syntax("integer", "[30]")),
    "object as integer": ("duration_minutes", {}, syntax("integer", "{}")),
    "array as date": ("activity_date", [], syntax("date", "[]", "22007")),
    "number as status": (
        "status", 1, Refusal(400, "23514", check_violation("activities_status_valid")),
    ),
    "NUL in text": (
        "contact_ref", "before\u0000after",
        Refusal(400, "22P05", "unsupported Unicode escape sequence",
                "\\u0000 cannot be converted to text."),
    ),
}  # fmt: skip

COLUMNS = {
    "unknown column": (
        {"is_admin": True},
        Refusal(400, "PGRST204", "Could not find the 'is_admin' column of 'activities' in the "
                "schema cache"),
    ),
    "column name with SQL": (
        {INJECTION: "x"},
        Refusal(400, "PGRST204", f"Could not find the '{INJECTION}' column of 'activities' in "
                "the schema cache"),
    ),
    "chosen id": (
        {"id": 1},
        Refusal(400, "428C9", 'cannot insert a non-DEFAULT value into column "id"',
                'Column "id" is an identity column defined as GENERATED ALWAYS.'),
    ),
    "generated column": (
        {"mentor_role": "coordinator"},
        Refusal(400, "428C9", 'cannot insert a non-DEFAULT value into column "mentor_role"',
                'Column "mentor_role" is a generated column.'),
    ),
    "registered by another user": (  # coordinator_five's id (fixtures/reference/personas.json)
        {"created_by": "a0000000-0000-4000-8000-000000000004"}, PERMISSION_DENIED,
    ),
    "backdated creation": ({"created_at": "2001-01-01T00:00:00Z"}, PERMISSION_DENIED),
}  # fmt: skip


# -- helpers --------------------------------------------------------------------------------------


def activity_count(service_conn: psycopg.Connection) -> int:
    return service_conn.execute("select count(*) from public.activities").fetchone()[0]


@dataclass(frozen=True)
class OtherChapter:
    """A row of chapter C, which neither mentor_a nor the coordinator of A and B may see, and
    every string that would betray another chapter if an answer carried it."""

    row_id: int
    row: tuple
    secrets: frozenset[str]


def row_of(service_conn: psycopg.Connection, row_id: int) -> tuple | None:
    return service_conn.execute(
        "select * from public.activities where id = %s", [row_id]
    ).fetchone()


@pytest.fixture
def other_chapter(
    service_conn: psycopg.Connection, reference: Reference, oslo_today, counted_type
) -> OtherChapter:
    """An activity of mentor_bc in chapter C (deleted after the test, like every new row)."""
    row_id = service_conn.execute(
        "insert into public.activities (peer_mentor_id, chapter_id, activity_type_id, "
        "activity_date, duration_minutes, contact_ref) values (%s, %s, %s, %s, 77, %s) "
        "returning id",
        [
            reference["mentor_bc"].user_id,
            reference.chapter("C"),
            counted_type,
            oslo_today,
            "secret-contact-of-chapter-c",
        ],
    ).fetchone()[0]
    visible = set(reference["mentor_a"].chapter_ids()) | set(
        reference["coordinator_ab"].chapter_ids()
    )
    secrets = set()
    for chapter_id, name in service_conn.execute("select id::text, name from public.chapters"):
        if chapter_id not in visible:
            secrets |= {chapter_id, name}
    for (contact,) in service_conn.execute(
        "select contact_ref from public.activities where contact_ref is not null "
        "and not chapter_id = any(%s::uuid[])",
        [list(visible)],
    ):
        secrets.add(contact)
    for user_id, email in service_conn.execute("select id::text, email from auth.users"):
        if user_id not in (reference["mentor_a"].user_id, reference["coordinator_ab"].user_id):
            secrets |= {user_id, email}
    return OtherChapter(row_id, row_of(service_conn, row_id), frozenset(secrets))


def reveals(result: Result, secrets: frozenset[str], sent: Any = None) -> list[str]:
    """The secrets an answer carries (except what the request itself sent)."""
    error = result.error.__dict__ if result.error else None
    answer = json.dumps([result.rows, error], ensure_ascii=False)
    echoed = json.dumps(sent, ensure_ascii=False) if sent is not None else ""
    return sorted(s for s in secrets if s in answer and s not in echoed)


def refused(api: Transport, method: str, result: Result, expected: Refusal) -> None:
    """``result`` is ``expected`` (PostgREST v16.2's answer), as the transport's PostgREST gives
    it (differences.py)."""
    assert result.error is not None, f"accepted: {result.rows}"
    served = api.as_served(method, Result(expected.status, error=ApiError(
        expected.code, expected.message, expected.details
    )))  # fmt: skip
    assert served.error is not None
    expected = Refusal(served.status, served.error.code, served.error.message, expected.details)
    got = Refusal(result.status, result.error.code, result.error.message, result.error.details)
    if expected.details is None:
        got = Refusal(got.status, got.code, got.message)
    assert got == expected
    assert result.rows == []


# -- free text ------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", FREE_TEXT.values(), ids=FREE_TEXT.keys())
def test_sql_in_free_text_is_stored_verbatim_and_runs_nothing(
    as_persona, service_conn, valid, text: str
) -> None:
    """SQL meta-characters in contact_ref are data: stored and filtered on as sent, one row more."""
    client: Client = as_persona("mentor_a")
    before = activity_count(service_conn)

    created = client.insert("activities", {**valid, "contact_ref": text})

    assert created.status == 201, created.error
    assert [row["contact_ref"] for row in created.rows] == [text]
    assert activity_count(service_conn) == before + 1
    # the same text as a filter value is a value too: it finds exactly that row
    found = client.select("activities", "id,contact_ref", filters=[("contact_ref", "eq", text)])
    assert found.expect_ok() == [{"id": created.rows[0]["id"], "contact_ref": text}]


# -- refused payloads -----------------------------------------------------------------------------


@pytest.mark.parametrize("field", TYPED_FIELDS)
@pytest.mark.parametrize("value", [INJECTION, LONG], ids=["sql", "100k-long"])
def test_sql_and_very_long_values_in_every_field_are_refused(
    api: Transport,
    as_persona,
    service_conn,
    valid,
    other_chapter: OtherChapter,
    field: str,
    value: str,
) -> None:
    """SQL, or 100 000 characters, in any field fails on the field's type or check: nothing kept."""
    before = activity_count(service_conn)
    payload = {**valid, field: value}
    result = as_persona("mentor_a").insert("activities", payload)
    refused(api, "POST", result, TYPED_FIELDS[field](value))
    assert activity_count(service_conn) == before
    assert reveals(result, other_chapter.secrets, payload) == []


def test_very_long_free_text_is_refused_by_its_length_check(
    api: Transport, as_persona, service_conn, valid
) -> None:
    """contact_ref of 100 000 characters (and of 101) fails on its length constraint."""
    client = as_persona("mentor_a")
    before = activity_count(service_conn)
    for text in (LONG, "x" * 101):
        result = client.insert("activities", {**valid, "contact_ref": text})
        refused(
            api,
            "POST",
            result,
            Refusal(400, "23514", check_violation("activities_contact_ref_length")),
        )
    assert activity_count(service_conn) == before


@pytest.mark.parametrize(("field", "value", "expected"), WRONG_TYPES.values(), ids=WRONG_TYPES)
def test_wrong_json_types_are_refused(
    api: Transport, as_persona, service_conn, valid, field: str, value: Any, expected: Refusal
) -> None:
    """Booleans, fractions, arrays, objects and NUL where the column wants otherwise: refused."""
    before = activity_count(service_conn)
    refused(
        api, "POST", as_persona("mentor_a").insert("activities", {**valid, field: value}), expected
    )
    assert activity_count(service_conn) == before


@pytest.mark.parametrize(
    ("chapter_ids", "expected"),
    [({}, Refusal(400, "22P02", "expected JSON array")),
     ("c0000000-0000-4000-8000-00000000000c",
      Refusal(400, "22P02", 'malformed array literal: "c0000000-0000-4000-8000-00000000000c"',
              'Array value must start with "{" or dimension information.'))],
    ids=["object for array", "string for array"],
)  # fmt: skip
def test_export_parameters_of_the_wrong_shape_are_refused(
    api: Transport,
    as_persona,
    other_chapter: OtherChapter,
    oslo_today,
    chapter_ids: Any,
    expected: Refusal,
) -> None:
    """The export refuses an object or a bare string where it takes an array of chapter ids."""
    params = {"p_from": "2000-01-01", "p_to": oslo_today.isoformat(), "p_chapter_ids": chapter_ids}
    result = as_persona("coordinator_ab").rpc("bufdir_export", params)
    refused(api, "POST", result, expected)
    assert reveals(result, other_chapter.secrets, params) == []


@pytest.mark.parametrize(("extra", "expected"), COLUMNS.values(), ids=COLUMNS)
def test_unknown_and_protected_columns_are_refused(
    api: Transport,
    as_persona,
    service_conn,
    valid,
    other_chapter: OtherChapter,
    extra: dict,
    expected: Refusal,
) -> None:
    """A column that does not exist, or that no client may set, fails the whole insert."""
    before = activity_count(service_conn)
    payload = {**valid, **extra}
    result = as_persona("mentor_a").insert("activities", payload)
    refused(api, "POST", result, expected)
    assert activity_count(service_conn) == before
    assert reveals(result, other_chapter.secrets, payload) == []


# -- other users' rows ----------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["mentor_a", "coordinator_ab"])
def test_another_chapters_row_cannot_be_read_changed_or_deleted_by_its_id(
    as_persona, service_conn, other_chapter: OtherChapter, persona: str
) -> None:
    """Naming a row of chapter C by id finds nothing to read, change or delete, and says nothing."""
    client = as_persona(persona)
    by_id = [("id", "eq", other_chapter.row_id)]

    answers = [
        client.select("activities", filters=by_id),
        client.update(
            "activities", {"duration_minutes": 1, "contact_ref": INJECTION}, filters=by_id
        ),
        client.delete("activities", filters=by_id),
    ]

    assert [(a.status, a.rows, a.error) for a in answers] == [(200, [], None)] * 3
    assert row_of(service_conn, other_chapter.row_id) == other_chapter.row
    for answer in answers:
        assert reveals(answer, other_chapter.secrets) == []


@pytest.mark.parametrize("column", ["chapter_id", "peer_mentor_id"])
def test_own_row_cannot_be_moved_to_another_chapter_or_mentor(
    api: Transport, as_persona, service_conn, valid, reference: Reference, column: str
) -> None:
    """Changing whose or which chapter's activity a row is, is not granted: 403, row unchanged."""
    client = as_persona("mentor_a")
    own = client.insert("activities", valid).expect_ok()[0]
    target = {
        "chapter_id": reference.chapter("C"),
        "peer_mentor_id": reference["mentor_bc"].user_id,
    }
    before = row_of(service_conn, own["id"])

    result = client.update(
        "activities", {column: target[column]}, filters=[("id", "eq", own["id"])]
    )

    refused(api, "PATCH", result, PERMISSION_DENIED)
    assert row_of(service_conn, own["id"]) == before


# -- forged tokens --------------------------------------------------------------------------------

WRONG_SECRET = "not-the-secret-of-this-stack-but-32-characters-or-more"


def _b64(data: dict) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def forged_token(kind: str, stack: harness.Stack, reference: Reference, api: Transport) -> str:
    now = int(time.time())
    issuer = Issuer(stack.jwt_secret, stack.session_key)
    if kind == "service_role signed with a wrong secret":
        claims = {"iss": "supabase-demo", "role": "service_role", "exp": now + 3600}
        return jwt.encode(claims, WRONG_SECRET, algorithm="HS256")
    if kind == "expired":
        claims = access_token_claims(reference["mentor_a"], now=now - 7200)
        return issuer.sign_session(claims)
    if kind == "another user's sub on a real signature":
        # a real session token of mentor_a with coordinator_five's sub swapped in
        token = api.client(reference["mentor_a"]).access_token
        header, payload, signature = token.split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        claims["sub"] = reference["coordinator_five"].user_id
        return f"{header}.{_b64(claims)}.{signature}"
    if kind == "unsigned (alg none)":
        claims = {"iss": "supabase-demo", "role": "service_role", "exp": now + 3600}
        return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    if kind == "a role the database lacks":
        claims = {**access_token_claims(reference["mentor_a"]), "role": "superuser"}
        return issuer.sign_session(claims)
    raise ValueError(kind)


# What PostgREST v16.2 answers (status, code, message; None: the library's wording is not part of
# the contract); a PostgREST of another version answers as differences.py says.
FORGED = {
    "service_role signed with a wrong secret": (401, "PGRST301", None),
    "expired": (401, "PGRST303", "JWT expired"),
    "another user's sub on a real signature": (401, "PGRST301", None),
    "unsigned (alg none)": (401, "PGRST301", None),
    "a role the database lacks": (401, "22023", 'role "superuser" does not exist'),
}


@pytest.mark.parametrize("kind", FORGED)
def test_forged_tokens_are_refused(
    api: Transport, stack: harness.Stack, reference: Reference, kind: str
) -> None:
    """A forged, tampered or expired token, or one naming a role the database lacks, is refused
    with PostgREST's status and code and no row; the genuine token on the same request reads."""
    genuine = api.client(reference["mentor_a"]).select("activities", "id")
    assert genuine.status == 200 and genuine.rows, genuine.error

    forged = api.open_client(reference["mentor_a"], token=forged_token(kind, stack, reference, api))
    try:
        result = forged.select("activities", "id")
    finally:
        forged.close()

    status, code, message = FORGED[kind]
    expected = api.as_served("GET", Result(status, error=ApiError(code, message or "")))
    assert result.error is not None, f"accepted: {result.rows}"
    assert (result.status, result.error.code) == (expected.status, expected.error.code)
    if message is not None:
        assert result.error.message == expected.error.message
    assert result.rows == []


def test_a_validly_signed_token_of_another_user_is_that_user(
    api: Transport, stack: harness.Stack, reference: Reference
) -> None:
    """A token the stack's key signs for coordinator_five's sub is coordinator_five, nobody else:
    it reads exactly their activities, none of mentor_a's."""
    claims = {**access_token_claims(reference["mentor_a"]),
              "sub": reference["coordinator_five"].user_id}  # fmt: skip
    token = Issuer(stack.jwt_secret, stack.session_key).sign_session(claims)
    other = api.open_client(reference["mentor_a"], token=token)
    try:
        seen = {r["id"] for r in other.select("activities", "id").expect_ok()}
    finally:
        other.close()
    theirs = {r["id"] for r in api.client(reference["coordinator_five"]).select(
        "activities", "id").expect_ok()}  # fmt: skip
    mentors = {r["id"] for r in api.client(reference["mentor_a"]).select(
        "activities", "id").expect_ok()}  # fmt: skip
    assert seen == theirs and seen
    assert not seen & (mentors - theirs)
