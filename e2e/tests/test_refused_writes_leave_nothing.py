"""Writes outside a persona's rights, and malformed payloads, fail clearly and write nothing.

Each refusal is checked from the refused client's side (HTTP status, SQLSTATE, the message naming
the policy or constraint) and on the table itself (the row count is unchanged).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from transport import Result

# Every scenario here is refused; the fixture is a guard that deletes any row that slips through.
pytestmark = pytest.mark.usefixtures("new_activities")

RLS_REFUSAL = 'new row violates row-level security policy for table "activities"'


def check_violation(constraint: str) -> str:
    return f'new row for relation "activities" violates check constraint "{constraint}"'


def activity_count(service_conn) -> int:
    return service_conn.execute("select count(*) from public.activities").fetchone()[0]


def refused(result: Result, status: int, code: str, message: str) -> None:
    assert result.error is not None, f"the write was accepted: {result.rows}"
    assert (result.status, result.error.code, result.error.message) == (status, code, message)
    assert result.rows == []


def test_mentor_cannot_register_for_another_mentor(as_persona, reference, service_conn, valid):
    """A mentor posting an activity of another mentor is refused by the insert policy (403)."""
    before = activity_count(service_conn)
    result = as_persona("mentor_a").insert(
        "activities", {**valid, "peer_mentor_id": reference["mentor_bc"].user_id}
    )
    refused(result, 403, "42501", RLS_REFUSAL)
    assert activity_count(service_conn) == before


def test_mentor_cannot_register_in_another_chapter(as_persona, reference, service_conn, valid):
    """A mentor posting an activity in a chapter where they are no peer mentor is refused (403)."""
    before = activity_count(service_conn)
    result = as_persona("mentor_a").insert(
        "activities", {**valid, "chapter_id": reference.chapter("B")}
    )
    refused(result, 403, "42501", RLS_REFUSAL)
    assert activity_count(service_conn) == before


def test_coordinator_cannot_register_outside_their_chapters(
    as_persona, reference, service_conn, valid
):
    """The coordinator of A and B registering for a mentor in chapter C is refused (403)."""
    before = activity_count(service_conn)
    result = as_persona("coordinator_ab").insert(
        "activities",
        {**valid, "peer_mentor_id": reference["mentor_bc"].user_id,
         "chapter_id": reference.chapter("C")},
    )  # fmt: skip
    refused(result, 403, "42501", RLS_REFUSAL)
    assert activity_count(service_conn) == before


# Who a coordinator of A and B might name as the mentor of an activity in A: none is a peer mentor
# of A, and the refusal must not tell which of them is a user at all (V016).
NOT_PEER_MENTORS_OF_A = {
    "a peer mentor of other chapters": lambda ref: ref["mentor_bc"].user_id,
    "a user of no chapter": lambda ref: "a0000000-0000-4000-8000-000000000009",
    "no user at all": lambda ref: "a0000000-0000-4000-8000-0000000000ee",
    "the coordinator themselves": lambda ref: ref["coordinator_ab"].user_id,
}


@pytest.mark.parametrize("who", NOT_PEER_MENTORS_OF_A.values(), ids=NOT_PEER_MENTORS_OF_A.keys())
def test_coordinator_cannot_register_a_non_member_as_mentor(
    as_persona, reference, service_conn, valid, who
):
    """A coordinator naming anyone who is not a peer mentor of the chapter gets the same refusal,
    the membership key, whether or not the id belongs to a user."""
    before = activity_count(service_conn)
    result = as_persona("coordinator_ab").insert(
        "activities", {**valid, "peer_mentor_id": who(reference)}
    )
    refused(
        result, 409, "23503",
        'insert or update on table "activities" violates foreign key constraint '
        '"activities_peer_mentor_membership_fkey"',
    )  # fmt: skip
    assert activity_count(service_conn) == before


def test_anon_can_insert_nothing(as_persona, service_conn, valid):
    """Without a session an insert is refused with 401, before any policy is consulted."""
    before = activity_count(service_conn)
    result = as_persona("anon").insert("activities", valid)
    refused(result, 401, "42501", "permission denied for table activities")
    assert activity_count(service_conn) == before


MALFORMED = {
    "missing duration": (
        {"duration_minutes": None}, 400, "23502",
        'null value in column "duration_minutes" of relation "activities" violates not-null '
        "constraint",
    ),
    "duration as text": (
        {"duration_minutes": "ninety"}, 400, "22P02",
        'invalid input syntax for type integer: "ninety"',
    ),
    "duration beyond integer": (
        {"duration_minutes": 99999999999}, 400, "22003",
        'value "99999999999" is out of range for type integer',
    ),
    "date that is no date": (
        {"activity_date": "not-a-date"}, 400, "22007",
        'invalid input syntax for type date: "not-a-date"',
    ),
    "chapter that is no uuid": (
        {"chapter_id": "A"}, 400, "22P02", 'invalid input syntax for type uuid: "A"',
    ),
    "zero minutes": (
        {"duration_minutes": 0}, 400, "23514",
        check_violation("activities_duration_minutes_range"),
    ),
    "more than a day": (
        {"duration_minutes": 1441}, 400, "23514",
        check_violation("activities_duration_minutes_range"),
    ),
    "date before 2000": (
        {"activity_date": "1999-12-31"}, 400, "23514",
        check_violation("activities_activity_date_plausible"),
    ),
    "unknown status": (
        {"status": "done"}, 400, "23514", check_violation("activities_status_valid"),
    ),
    "empty contact": (
        {"contact_ref": ""}, 400, "23514", check_violation("activities_contact_ref_length"),
    ),
    "unknown activity type": (
        {"activity_type_id": 999}, 409, "23503",
        'insert or update on table "activities" violates foreign key constraint '
        '"activities_activity_type_id_fkey"',
    ),
}  # fmt: skip


@pytest.mark.parametrize(("change", "status", "code", "message"), MALFORMED.values(),
                         ids=MALFORMED.keys())  # fmt: skip
def test_malformed_payload_is_refused_naming_the_violation(
    as_persona, service_conn, valid, change, status, code, message
):
    """A payload with a missing, mistyped or out-of-range field fails naming what it violates."""
    payload = {k: v for k, v in {**valid, **change}.items() if v is not None}
    before = activity_count(service_conn)
    refused(as_persona("mentor_a").insert("activities", payload), status, code, message)
    assert activity_count(service_conn) == before


def test_future_date_is_refused(as_persona, service_conn, valid, oslo_today):
    """An activity dated after today in Europe/Oslo fails on its date constraint."""
    tomorrow = (oslo_today + timedelta(days=1)).isoformat()
    before = activity_count(service_conn)
    result = as_persona("mentor_a").insert("activities", {**valid, "activity_date": tomorrow})
    refused(result, 400, "23514", check_violation("activities_activity_date_not_in_future"))
    assert activity_count(service_conn) == before


def test_one_bad_row_refuses_the_whole_request(as_persona, service_conn, valid):
    """A bulk insert with one bad row writes none of its rows."""
    before = activity_count(service_conn)
    rows = [valid] * 5 + [{**valid, "duration_minutes": 0}]
    result = as_persona("mentor_a").insert("activities", rows)
    refused(result, 400, "23514", check_violation("activities_duration_minutes_range"))
    assert activity_count(service_conn) == before


# -- relations no client may write ----------------------------------------------------------------

# Read views and the tables API roles may only read: every write is refused by the privilege check
# (42501: 401 for anon, 403 for a signed-in user), never by PostgreSQL's rewriter (55000, a 500).
# Per relation: what it is, values to write, and a filter every row passes (so an update or delete
# would reach rows, were it allowed).
NOBODY = "00000000-0000-0000-0000-000000000000"
READ_ONLY = {
    "peer_mentor_stats": ("view", {"activity_count": 1}, ("chapter_id", "neq", NOBODY)),
    "activity_time_series": ("view", {"activity_count": 1}, ("chapter_id", "neq", NOBODY)),
    "stats_freshness": ("view", {"changes_pending": True}, ("changes_pending", "is", False)),
    "chapters": ("table", {"name": "A chapter of one's own"}, ("id", "neq", NOBODY)),
    "profiles": ("table", {"full_name": "Someone else"}, ("id", "neq", NOBODY)),
    "chapter_memberships": ("table", {"member_role": "coordinator"}, ("chapter_id", "neq", NOBODY)),
    "activity_types": ("table", {"counts_for_bufdir": True}, ("id", "gt", 0)),
}


def relation_rows(service_conn) -> dict[str, int]:
    """Rows of each read-only table, and of both materialized views behind the read views."""
    names = [f"public.{n}" for n, (kind, *_) in READ_ONLY.items() if kind == "table"]
    names += ["stats.mv_peer_mentor_stats", "stats.mv_activity_time_series"]
    return {n: service_conn.execute(f"select count(*) from {n}").fetchone()[0] for n in names}


@pytest.mark.parametrize("method", ["insert", "update", "delete"])
@pytest.mark.parametrize("relation", READ_ONLY)
@pytest.mark.parametrize("persona", ["anon", "mentor_a", "coordinator_ab"])
def test_relations_no_client_may_write_refuse_every_write(
    as_persona, service_conn, persona: str, relation: str, method: str
) -> None:
    """A write to a read view or a read-only table is refused with 42501 (401 anon, 403 signed in)
    and changes nothing: a client's mistake is never a server error."""
    kind, values, every_row = READ_ONLY[relation]
    client = as_persona(persona)
    before = relation_rows(service_conn)
    if method == "insert":
        result = client.insert(relation, values)
    elif method == "update":
        result = client.update(relation, values, filters=[every_row])
    else:
        result = client.delete(relation, filters=[every_row])
    status = 401 if persona == "anon" else 403
    refused(result, status, "42501", f"permission denied for {kind} {relation}")
    assert relation_rows(service_conn) == before
