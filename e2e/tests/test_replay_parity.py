"""The SQL replay answers as the real PostgREST does: every persona's reads and writes, refusals,
malformed writes and forged tokens, sent once through the replay and once through the gateway and
PostgREST, get the same HTTP status, error code and rows, unless ``transport/differences.py`` lists
the difference between the PostgREST that answers (12.0.2 on the embedded stack) and v16.2, which
the replay follows."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import jwt
import psycopg
import pytest

import harness
from transport import Client, HttpTransport, Reference, Result, SqlReplayTransport
from transport.differences import as_served
from transport.tokens import Issuer, access_token_claims

pytestmark = pytest.mark.usefixtures("new_activities")

PERSONAS = ("anon", "mentor_a", "mentor_bc", "coordinator_ab", "coordinator_five")
EPOCH = "2000-01-01"
NOBODY = "00000000-0000-0000-0000-000000000000"
# Columns a write's answer carries that differ between two rows written alike.
VOLATILE = ("id", "created_at")


@dataclass(frozen=True)
class Both:
    replay: SqlReplayTransport
    http: HttpTransport


@pytest.fixture(scope="module")
def both(stack: harness.Stack, reference: Reference) -> Iterator[Both]:
    """The replay and the HTTP transport side by side, each signed in as every persona."""
    if not stack.api_url:
        pytest.skip(f"the {stack.kind} stack serves no HTTP API to compare the replay with")
    issuer = None if stack.auth_server else Issuer(stack.jwt_secret, stack.session_key)
    http = HttpTransport(stack.api_url, stack.anon_key, stack.service_role_key,
                         reference.password, issuer=issuer)  # fmt: skip
    replay = SqlReplayTransport(stack.db_url, stack.jwt_secret, session_key=stack.session_key)
    yield Both(replay, http)
    replay.close()
    http.close()


@dataclass(frozen=True)
class World:
    """What the requests name: the persona's own payload, a row to change per transport."""

    payload: dict[str, Any]
    target: int  # an activity of mentor_a in A, for this transport's update or delete
    today: date


def payload_for(reference: Reference, persona: str, today: date, type_id: int) -> dict[str, Any]:
    """An activity the persona may register (anon: mentor_a's, which anon may not)."""
    mentor, chapter = {
        "mentor_bc": ("mentor_bc", "B"),
        "coordinator_five": ("mentor_bc", "B"),
    }.get(persona, ("mentor_a", "A"))
    return {
        "peer_mentor_id": reference[mentor].user_id,
        "chapter_id": reference.chapter(chapter),
        "activity_type_id": type_id,
        "activity_date": today.isoformat(),
        "duration_minutes": 25,
        "contact_ref": "parity",
    }


Request = Callable[[Client, World], Result]

# (method, request): each sent as every persona through both transports.
CASES: dict[str, tuple[str, Request]] = {
    # reads of every table and read view
    **{
        f"select {name}": ("GET", lambda c, w, name=name: c.select(name))
        for name in (
            "activities",
            "chapters",
            "profiles",
            "chapter_memberships",
            "activity_types",
            "peer_mentor_stats",
            "activity_time_series",
        )
    },  # fmt: skip
    "select with exact count": ("GET", lambda c, w: c.select("activities", "id", count=True)),
    "select naming chapter C": (
        "GET",
        lambda c, w: c.select(
            "peer_mentor_stats",
            filters=[("chapter_id", "eq", "c0000000-0000-4000-8000-00000000000c")],
        ),
    ),  # fmt: skip
    "select an unknown column": ("GET", lambda c, w: c.select("activities", "nope")),
    "select an unknown relation": ("GET", lambda c, w: c.select("no_such_table")),
    # the export
    "export": ("POST", lambda c, w: c.rpc("bufdir_export", {"p_from": EPOCH, "p_to": w.today})),
    "export of named chapters": (
        "POST",
        lambda c, w: c.rpc(
            "bufdir_export",
            {
                "p_from": EPOCH,
                "p_to": w.today,
                "p_chapter_ids": [
                    "c0000000-0000-4000-8000-00000000000b",
                    "c0000000-0000-4000-8000-00000000000c",
                ],
            },
        ),
    ),  # fmt: skip
    "export with an object for an array": (
        "POST",
        lambda c, w: c.rpc(
            "bufdir_export", {"p_from": EPOCH, "p_to": w.today, "p_chapter_ids": {}}
        ),
    ),  # fmt: skip
    "export with an unknown parameter": ("POST", lambda c, w: c.rpc("bufdir_export", {"x": 1})),
    "unknown function": ("POST", lambda c, w: c.rpc("no_such_function", {})),
    # writes of activities
    "insert": ("POST", lambda c, w: c.insert("activities", w.payload)),
    "insert, minimal": (
        "POST",
        lambda c, w: c.insert("activities", w.payload, returning="minimal"),
    ),  # fmt: skip
    "insert of two rows": ("POST", lambda c, w: c.insert("activities", [w.payload] * 2)),
    "insert for another mentor": (
        "POST",
        lambda c, w: c.insert(
            "activities", {**w.payload, "peer_mentor_id": "a0000000-0000-4000-8000-000000000003"}
        ),
    ),  # fmt: skip
    "insert of a wrong type": (
        "POST",
        lambda c, w: c.insert("activities", {**w.payload, "duration_minutes": "ninety"}),
    ),
    "insert of an unknown column": (
        "POST",
        lambda c, w: c.insert("activities", {**w.payload, "is_admin": True}),
    ),
    "insert breaking a check": (
        "POST",
        lambda c, w: c.insert("activities", {**w.payload, "duration_minutes": 0}),
    ),
    "insert breaking a foreign key": (
        "POST",
        lambda c, w: c.insert("activities", {**w.payload, "activity_type_id": 999}),
    ),
    "insert without a required field": (
        "POST",
        lambda c, w: c.insert(
            "activities", {k: v for k, v in w.payload.items() if k != "duration_minutes"}
        ),
    ),  # fmt: skip
    "insert of a column no client sets": (
        "POST",
        lambda c, w: c.insert("activities", {**w.payload, "created_by": NOBODY}),
    ),
    "update": (
        "PATCH",
        lambda c, w: c.update(
            "activities",
            {"duration_minutes": 95},
            filters=[("id", "eq", w.target)],
        ),
    ),  # fmt: skip
    "update of a wrong type": (
        "PATCH",
        lambda c, w: c.update(
            "activities",
            {"activity_date": "soon"},
            filters=[("id", "eq", w.target)],
        ),
    ),  # fmt: skip
    "delete": (
        "DELETE",
        lambda c, w: c.delete("activities", filters=[("id", "eq", w.target)]),
    ),
    # relations no client may write, and relations that do not exist
    "insert into a read view": (
        "POST",
        lambda c, w: c.insert("peer_mentor_stats", {"activity_count": 1}),
    ),
    "update of a read view": (
        "PATCH",
        lambda c, w: c.update(
            "activity_time_series", {"activity_count": 1}, filters=[("chapter_id", "neq", NOBODY)]
        ),
    ),  # fmt: skip
    "delete from a read view": (
        "DELETE",
        lambda c, w: c.delete("peer_mentor_stats", filters=[("chapter_id", "neq", NOBODY)]),
    ),
    "insert into a read-only table": ("POST", lambda c, w: c.insert("chapters", {"name": "x"})),
    "delete from a read-only table": (
        "DELETE",
        lambda c, w: c.delete("activity_types", filters=[("id", "gt", 0)]),
    ),
    "insert into an unknown relation": ("POST", lambda c, w: c.insert("no_such_table", {"a": 1})),
    "update of an unknown relation": (
        "PATCH",
        lambda c, w: c.update("no_such_table", {"a": 1}, filters=[("id", "eq", 1)]),
    ),
    "delete from an unknown relation": (
        "DELETE",
        lambda c, w: c.delete("no_such_table", filters=[("id", "eq", 1)]),
    ),
}


def code(result: Result) -> str | None:
    return result.error.code if result.error else None


def canonical(rows: list[dict], *, drop: tuple[str, ...] = ()) -> list[str]:
    """Rows as sorted JSON texts (the order of an unordered read is no part of the answer)."""
    return sorted(
        json.dumps({k: v for k, v in row.items() if k not in drop}, sort_keys=True) for row in rows
    )


def assert_same(method: str, replay: Result, http: Result, version) -> list[str]:
    """``http`` is ``replay`` as PostgREST ``version`` answers it; the differences applied."""
    expected, applied = as_served(method, replay, version)
    drop = VOLATILE if method != "GET" else ()
    assert (http.status, code(http)) == (expected.status, code(expected)), (
        f"replay (as served): {expected}; http: {http}"
    )
    assert canonical(http.rows, drop=drop) == canonical(expected.rows, drop=drop)
    assert http.count == expected.count
    return applied


@pytest.fixture
def world(
    reference: Reference, service_conn: psycopg.Connection, oslo_today: date, counted_type: int,
    request: pytest.FixtureRequest,
) -> dict[str, World]:  # fmt: skip
    """Per transport: the persona's payload and an activity of mentor_a in A of its own, for the
    update and delete cases."""
    persona = request.node.callspec.params["persona"]
    targets = {}
    for name in ("sql-replay", "http"):
        targets[name] = service_conn.execute(
            "insert into public.activities (peer_mentor_id, chapter_id, activity_type_id, "
            "activity_date, duration_minutes, contact_ref) values (%s, %s, %s, %s, 40, 'parity') "
            "returning id",
            [reference["mentor_a"].user_id, reference.chapter("A"), counted_type, oslo_today],
        ).fetchone()[0]
    payload = payload_for(reference, persona, oslo_today, counted_type)
    return {name: World(payload, target, oslo_today) for name, target in targets.items()}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("persona", PERSONAS)
def test_replay_and_postgrest_answer_alike(
    both: Both, reference: Reference, world: dict[str, World], persona: str, case: str
) -> None:
    """One request, through the replay and through PostgREST: same status, code and rows."""
    method, send = CASES[case]
    answers = {}
    for transport in (both.replay, both.http):
        client = transport.client(reference[persona])
        answers[transport.name] = send(client, world[transport.name])
    assert_same(method, answers["sql-replay"], answers["http"], both.http.postgrest_version())


def _forged(kind: str, stack: harness.Stack, reference: Reference) -> str:
    issuer = Issuer(stack.jwt_secret, stack.session_key)
    claims = access_token_claims(reference["mentor_a"])
    if kind == "expired":
        return issuer.sign_session(access_token_claims(reference["mentor_a"], now=1_000_000))
    if kind == "wrong secret":
        return jwt.encode(claims, "not-the-secret-of-this-stack-but-32-characters-or-more")
    if kind == "alg none":
        header, payload, _ = issuer.api_key("service_role").split(".")
        return f"eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}."
    if kind == "role the database lacks":
        return issuer.sign_session({**claims, "role": "superuser"})
    if kind == "no role claim":
        return issuer.sign_session({k: v for k, v in claims.items() if k != "role"})
    raise ValueError(kind)


@pytest.mark.parametrize(
    "kind", ["expired", "wrong secret", "alg none", "role the database lacks", "no role claim"]
)
def test_forged_tokens_get_the_same_refusal(
    both: Both, stack: harness.Stack, reference: Reference, kind: str
) -> None:
    """A forged or odd token gets the same answer from the replay's check and from PostgREST."""
    token = _forged(kind, stack, reference)
    answers = {}
    for transport in (both.replay, both.http):
        client = transport.open_client(reference["mentor_a"], token=token)
        try:
            answers[transport.name] = client.select("activities", "id")
        finally:
            client.close()
    assert_same("GET", answers["sql-replay"], answers["http"], both.http.postgrest_version())
