"""Writes through the API reach both read views within 2 s, with one refresh cycle per request."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from fix_stats import VIEW_DEADLINE, activity_payload
from refresh_control import RefreshControl, poll
from transport import Client, Reference

pytestmark = pytest.mark.usefixtures("new_activities")


def mentor_totals(client: Client, chapter_id: str, mentor_id: str) -> tuple[int, int]:
    """(activity_count, total_minutes) of one mentor in one chapter, as ``client`` reads them."""
    rows = client.select(
        "peer_mentor_stats",
        "activity_count,total_minutes",
        filters=[("chapter_id", "eq", chapter_id), ("peer_mentor_id", "eq", mentor_id)],
    ).expect_ok()
    assert len(rows) <= 1, rows
    return (rows[0]["activity_count"], rows[0]["total_minutes"]) if rows else (0, 0)


def month_totals(client: Client, chapter_id: str, day: date, type_id: int) -> tuple[int, int]:
    """(activity_count, total_minutes) of one chapter, month and type, as ``client`` reads them."""
    rows = client.select(
        "activity_time_series",
        "activity_count,total_minutes",
        filters=[
            ("chapter_id", "eq", chapter_id),
            ("month", "eq", day.replace(day=1)),
            ("activity_type_id", "eq", type_id),
        ],
    ).expect_ok()
    assert len(rows) <= 1, rows
    return (rows[0]["activity_count"], rows[0]["total_minutes"]) if rows else (0, 0)


def plus(totals: tuple[int, int], count: int, minutes: int) -> tuple[int, int]:
    return totals[0] + count, totals[1] + minutes


def shown_within_deadline(read: Callable[[], Any], expected: Any, what: str) -> None:
    """``read()`` returns ``expected`` within the dashboard's promise (VIEW_DEADLINE)."""
    poll(read, lambda seen: seen == expected, deadline=VIEW_DEADLINE, what=f"{what} {expected}")


@pytest.mark.parametrize("writer", ["mentor_a", "coordinator_ab"])
def test_registration_shows_in_both_views_within_2s(
    as_persona, reference: Reference, refresh_control: RefreshControl, oslo_today, counted_type,
    writer: str,
) -> None:  # fmt: skip
    """An activity mentor_a registers, or their coordinator registers for them, is counted for
    mentor_a in both read views, as the writer and the mentor read them, within 2 s."""
    mentor, chapter = reference["mentor_a"], reference.chapter("A")
    readers = {name: as_persona(name) for name in dict.fromkeys([writer, "mentor_a"])}

    def figures() -> dict[str, tuple[tuple[int, int], tuple[int, int]]]:
        return {
            name: (
                mentor_totals(client, chapter, mentor.user_id),
                month_totals(client, chapter, oslo_today, counted_type),
            )
            for name, client in readers.items()
        }

    before = figures()
    refresh_control.expire_window()

    result = as_persona(writer).insert(
        "activities", activity_payload(mentor.user_id, chapter, counted_type, oslo_today)
    )

    assert result.status == 201, result.error
    # the registration is the mentor's activity, recorded as made by whoever registered it
    assert [(r["peer_mentor_id"], r["created_by"]) for r in result.rows] == [
        (mentor.user_id, reference[writer].user_id)
    ]
    expected = {
        name: (plus(stats, 1, 45), plus(series, 1, 45)) for name, (stats, series) in before.items()
    }
    shown_within_deadline(
        figures, expected, "peer_mentor_stats and activity_time_series count the registration"
    )


def test_hundred_rows_in_one_request_give_one_refresh_cycle(
    as_persona, reference: Reference, refresh_control: RefreshControl, oslo_today, counted_type
) -> None:
    """A 100-row insert in one request refreshes the views exactly once, with all 100 rows."""
    mentor, chapter = reference["mentor_bc"], reference.chapter("B")
    client = as_persona("mentor_bc")
    stats_before = mentor_totals(client, chapter, mentor.user_id)
    refresh_control.expire_window()
    cycles_before = refresh_control.refresh_count()

    rows = [
        activity_payload(mentor.user_id, chapter, counted_type, oslo_today, duration_minutes=10 + i)
        for i in range(100)
    ]
    result = client.insert("activities", rows, returning="minimal")

    assert (result.status, result.rows) == (201, []), result.error
    assert refresh_control.refresh_count() == cycles_before + 1
    minutes = sum(10 + i for i in range(100))
    shown_within_deadline(
        lambda: mentor_totals(client, chapter, mentor.user_id),
        plus(stats_before, 100, minutes),
        "peer_mentor_stats counts all 100 rows",
    )


def test_correction_and_deletion_show_in_the_views(
    as_persona, reference: Reference, refresh_control: RefreshControl, oslo_today, counted_type
) -> None:
    """An update refreshes at its commit; a delete inside the debounce window shows after the flush.

    The second half is the documented staleness bound (window + flush period): the flush is run as
    its pg_cron job runs it, instead of waiting for the schedule.
    """
    mentor, chapter = reference["mentor_a"], reference.chapter("A")
    client = as_persona("mentor_a")

    def totals() -> tuple[int, int]:
        return mentor_totals(client, chapter, mentor.user_id)

    before = totals()
    refresh_control.expire_window()
    inserted = client.insert(
        "activities", activity_payload(mentor.user_id, chapter, counted_type, oslo_today)
    ).expect_ok()
    shown_within_deadline(totals, plus(before, 1, 45), "the new activity is counted")
    by_id = [("id", "eq", inserted[0]["id"])]

    refresh_control.expire_window()
    updated = client.update("activities", {"duration_minutes": 90}, filters=by_id)
    assert (updated.status, [r["duration_minutes"] for r in updated.rows]) == (200, [90])
    shown_within_deadline(totals, plus(before, 1, 90), "the corrected duration is counted")

    # The update has just refreshed: this delete lands inside the window and is left to the flush.
    deleted = client.delete("activities", filters=by_id, returning="minimal")
    assert deleted.status == 204, deleted.error
    # idle when the stack's own schedule (every 5 s on pg_cron >= 1.5) got there first
    assert refresh_control.flush() in ("refreshed", "idle")
    shown_within_deadline(totals, before, "the deletion is no longer counted")
    assert refresh_control.log()["last_refresh_source"] == "flush"
