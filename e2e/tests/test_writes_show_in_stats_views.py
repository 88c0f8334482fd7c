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


def test_mentor_registration_shows_in_both_views_within_2s(
    as_persona, reference: Reference, refresh_control: RefreshControl, oslo_today, counted_type
) -> None:
    """A mentor's new activity is counted in both read views, as the mentor reads them, in 2 s."""
    mentor, chapter = reference["mentor_a"], reference.chapter("A")
    client = as_persona("mentor_a")
    stats_before = mentor_totals(client, chapter, mentor.user_id)
    series_before = month_totals(client, chapter, oslo_today, counted_type)
    refresh_control.expire_window()

    result = client.insert(
        "activities", activity_payload(mentor.user_id, chapter, counted_type, oslo_today)
    )

    assert result.status == 201, result.error
    assert [row["created_by"] for row in result.rows] == [mentor.user_id]
    expected = (plus(stats_before, 1, 45), plus(series_before, 1, 45))
    shown_within_deadline(
        lambda: (
            mentor_totals(client, chapter, mentor.user_id),
            month_totals(client, chapter, oslo_today, counted_type),
        ),
        expected,
        "peer_mentor_stats and activity_time_series show the new activity",
    )


def test_coordinator_registration_for_a_mentor_shows_within_2s(
    as_persona, reference: Reference, refresh_control: RefreshControl, oslo_today, counted_type
) -> None:
    """An activity a coordinator registers for a mentor is counted for that mentor within 2 s."""
    mentor, coordinator = reference["mentor_a"], reference["coordinator_ab"]
    chapter = reference.chapter("A")
    as_coordinator, as_mentor = as_persona("coordinator_ab"), as_persona("mentor_a")
    coordinator_before = mentor_totals(as_coordinator, chapter, mentor.user_id)
    mentor_before = mentor_totals(as_mentor, chapter, mentor.user_id)
    series_before = month_totals(as_coordinator, chapter, oslo_today, counted_type)
    refresh_control.expire_window()

    result = as_coordinator.insert(
        "activities", activity_payload(mentor.user_id, chapter, counted_type, oslo_today)
    )

    assert result.status == 201, result.error
    # the registration is the mentor's activity, recorded as made by the coordinator
    assert [(r["peer_mentor_id"], r["created_by"]) for r in result.rows] == [
        (mentor.user_id, coordinator.user_id)
    ]
    expected = (plus(coordinator_before, 1, 45), plus(mentor_before, 1, 45),
                plus(series_before, 1, 45))  # fmt: skip
    shown_within_deadline(
        lambda: (
            mentor_totals(as_coordinator, chapter, mentor.user_id),
            mentor_totals(as_mentor, chapter, mentor.user_id),
            month_totals(as_coordinator, chapter, oslo_today, counted_type),
        ),
        expected,
        "coordinator's and mentor's views count the registration",
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
