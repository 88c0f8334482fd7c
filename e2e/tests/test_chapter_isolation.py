"""Each persona sees exactly the rows of their own chapters on every read path, and anon none.

What a persona should see is computed from the same tables by the service connection (which
bypasses row-level security); the read views are compared with the materialized views behind them.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from transport import Client, Reference
from transport.base import jsonable

# The earliest date an activity may have (constraint activities_activity_date_plausible).
EPOCH = "2000-01-01"
# What the app lists of an activity (created_at's JSON form differs from psycopg's; not compared).
ACTIVITY_COLUMNS = (
    "id,peer_mentor_id,chapter_id,activity_type_id,activity_date,duration_minutes,contact_ref,"
    "status,created_by"
)


def truth(service: psycopg.Connection, query: str, params: list[Any]) -> list[dict]:
    """Rows as the service connection reads them, in the JSON form the API returns."""
    with service.cursor(row_factory=dict_row) as cur:
        return jsonable(cur.execute(query, params).fetchall())


def keyed(rows: list[dict], *key: str) -> dict[tuple, dict]:
    result = {tuple(r[k] for k in key): r for r in rows}
    assert len(result) == len(rows), f"rows repeat a key {key}"
    return result


def visible(client: Client, path: str, today: date, filters=()) -> list[dict]:
    """What ``client`` reads on one read path; the export covers all time."""
    if path == "bufdir_export":
        params: dict[str, Any] = {"p_from": EPOCH, "p_to": today}
        params.update(dict(filters))
        return client.rpc("bufdir_export", params).expect_ok()
    columns = ACTIVITY_COLUMNS if path == "activities" else "*"
    return client.select(path, columns, filters=list(filters)).expect_ok()


def expected_rows(service: psycopg.Connection, path: str, chapters: list[str], today: date,
                  mentor: str | None = None) -> list[dict]:  # fmt: skip
    """What a reader of ``chapters`` (only ``mentor``'s rows, when given) sees on a read path."""
    mentor_clause = " and peer_mentor_id = %s" if mentor else ""
    extra = [mentor] if mentor else []
    if path == "activities":
        query = (
            f"select {ACTIVITY_COLUMNS} from public.activities "
            f"where chapter_id = any(%s::uuid[]){mentor_clause}"
        )
    elif path == "peer_mentor_stats":
        # the current month's count as the read path decides it (V015): the view's count while
        # the month it counted is the current one in Oslo, else 0
        query = (
            "select s.chapter_id, s.peer_mentor_id, p.full_name, s.activity_count, "
            "s.total_minutes, s.last_activity_date, case when s.counted_month = "
            "date_trunc('month', now() at time zone 'Europe/Oslo')::date "
            "then s.current_month_count else 0 end as current_month_count "
            "from stats.mv_peer_mentor_stats s "
            "join public.profiles p on p.id = s.peer_mentor_id where chapter_id = any(%s::uuid[])"
            f"{mentor_clause}"
        )
    elif path == "activity_time_series":
        query = (
            "select chapter_id, month, activity_type_id, activity_count, total_minutes, "
            "active_mentors from stats.mv_activity_time_series where chapter_id = any(%s::uuid[])"
        )
        extra = []
    else:
        query = (
            "select chapter_id, activity_type_id, t.code as activity_type_code, "
            "count(*) as activity_count, sum(duration_minutes) as total_minutes "
            "from stats.counted_activities c join public.activity_types t "
            "on t.id = c.activity_type_id "
            "where chapter_id = any(%s::uuid[]) and activity_date <= %s "
            "group by 1, 2, 3"
        )
        extra = [today]
    return truth(service, query, [chapters, *extra])


KEYS = {
    "activities": ("id",),
    "peer_mentor_stats": ("chapter_id", "peer_mentor_id"),
    "activity_time_series": ("chapter_id", "month", "activity_type_id"),
    "bufdir_export": ("chapter_id", "activity_type_id"),
}
READ_PATHS = tuple(KEYS)


def seen_and_expected(client: Client, service: psycopg.Connection, path: str,
                      chapters: list[str], today: date, mentor: str | None = None,
                      ) -> tuple[dict[tuple, dict], dict[tuple, dict]]:  # fmt: skip
    """What ``client`` reads on ``path``, and what a reader of ``chapters`` (only ``mentor``'s
    rows, when given) should read there, both keyed by the path's key."""
    seen = keyed(visible(client, path, today), *KEYS[path])
    expected = keyed(expected_rows(service, path, chapters, today, mentor), *KEYS[path])
    return seen, expected


@pytest.mark.parametrize("path", READ_PATHS)
@pytest.mark.parametrize("coordinator", ["coordinator_ab", "coordinator_five"])
def test_coordinator_sees_exactly_their_chapters(
    as_persona, reference: Reference, service_conn, oslo_today, coordinator: str, path: str
) -> None:
    """A coordinator reads every row of the chapters they coordinate and no row of any other."""
    chapters = sorted(reference[coordinator].chapter_ids("coordinator"))
    seen, expected = seen_and_expected(
        as_persona(coordinator), service_conn, path, chapters, oslo_today
    )
    assert expected, f"the reference dataset has no {path} rows in {coordinator}'s chapters"
    assert {r["chapter_id"] for r in seen.values()} <= set(chapters)
    assert seen == expected


@pytest.mark.parametrize("path", READ_PATHS)
def test_naming_another_chapter_in_a_filter_returns_nothing(
    as_persona, reference: Reference, service_conn, oslo_today, path: str
) -> None:
    """A filter or export parameter naming chapter C gives the coordinator of A and B no rows."""
    chapter_c = reference.chapter("C")
    assert expected_rows(service_conn, path, [chapter_c], oslo_today), "C has no rows to leak"
    name = "p_chapter_ids" if path == "bufdir_export" else "chapter_id"
    filters = [(name, [chapter_c])] if path == "bufdir_export" else [(name, "eq", chapter_c)]
    assert visible(as_persona("coordinator_ab"), path, oslo_today, filters) == []


def test_coordinator_of_five_chapters_reads_exactly_those_chapters(
    as_persona, reference: Reference
) -> None:
    """The five-chapter coordinator's chapter list is exactly their five, no sixth."""
    persona = reference["coordinator_five"]
    rows = as_persona("coordinator_five").select("chapters", "id").expect_ok()
    assert len(persona.chapter_ids()) == 5
    assert {r["id"] for r in rows} == persona.chapter_ids()


@pytest.mark.parametrize("path", ["activities", "peer_mentor_stats"])
@pytest.mark.parametrize("mentor", ["mentor_a", "mentor_bc"])
def test_mentor_sees_only_their_own_rows(
    as_persona, reference: Reference, service_conn, oslo_today, mentor: str, path: str
) -> None:
    """A mentor reads their own activities and statistics, in their chapters, and nobody else's."""
    persona = reference[mentor]
    chapters = sorted(persona.chapter_ids("peer_mentor"))
    seen, expected = seen_and_expected(
        as_persona(mentor), service_conn, path, chapters, oslo_today, persona.user_id
    )
    assert expected, f"the reference dataset has no {path} rows of {mentor}"
    assert {r["peer_mentor_id"] for r in seen.values()} == {persona.user_id}
    assert seen == expected


@pytest.mark.parametrize("mentor", ["mentor_a", "mentor_bc"])
def test_mentor_sees_only_their_own_time_series(
    as_persona, reference: Reference, service_conn, oslo_today, mentor: str
) -> None:
    """A peer mentor's time series is their own counted activities per chapter, month and kind:
    no month of a colleague's, no total to subtract their own from (V016)."""
    persona = reference[mentor]
    seen = keyed(visible(as_persona(mentor), "activity_time_series", oslo_today),
                 *KEYS["activity_time_series"])  # fmt: skip
    own = truth(
        service_conn,
        "select chapter_id, date_trunc('month', activity_date::timestamp)::date as month, "
        "activity_type_id, count(*) as activity_count, sum(duration_minutes) as total_minutes, "
        "1 as active_mentors from stats.counted_activities where peer_mentor_id = %s "
        "group by 1, 2, 3",
        [persona.user_id],
    )
    chapters = expected_rows(
        service_conn, "activity_time_series", sorted(persona.chapter_ids()), oslo_today
    )
    assert seen == keyed(own, *KEYS["activity_time_series"])
    hidden = [
        row for row in chapters
        if row["active_mentors"] > 1
        or (row["chapter_id"], row["month"], row["activity_type_id"]) not in seen
    ]  # fmt: skip
    assert hidden, "the chapters' totals hold a colleague's activities, which stay hidden"


def test_mentor_export_is_empty(as_persona, oslo_today) -> None:
    """The Bufdir export is a coordinator's report: a mentor who coordinates nothing gets no row."""
    assert visible(as_persona("mentor_a"), "bufdir_export", oslo_today) == []


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("activities", "permission denied for table activities"),
        ("chapters", "permission denied for table chapters"),
        ("peer_mentor_stats", "permission denied for view peer_mentor_stats"),
        ("activity_time_series", "permission denied for view activity_time_series"),
    ],
)
def test_anon_is_refused_every_table_and_view(as_persona, path: str, message: str) -> None:
    """Without a session, reading a table or read view is refused with 401 and nothing is shown."""
    result = as_persona("anon").select(path)
    assert (result.status, result.error.code, result.error.message) == (401, "42501", message)
    assert result.rows == []


def test_anon_is_refused_the_export(as_persona, oslo_today) -> None:
    """Without a session, the Bufdir export is refused with 401."""
    result = as_persona("anon").rpc("bufdir_export", {"p_from": EPOCH, "p_to": oslo_today})
    assert (result.status, result.error.code, result.error.message) == (
        401, "42501", "permission denied for function bufdir_export"
    )  # fmt: skip
