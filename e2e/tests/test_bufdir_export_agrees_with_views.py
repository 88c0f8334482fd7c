"""The Bufdir export and the dashboard's read views give every coordinator the same numbers.

One counting definition feeds both (decision D10); these tests reconcile them through the API, as
a coordinator would at reporting time, on the reference dataset.
"""

from __future__ import annotations

import calendar
from collections import Counter
from datetime import date

import pytest

from transport import Client

COORDINATORS = ["coordinator_ab", "coordinator_five"]
EPOCH = "2000-01-01"


def totals(rows: list[dict], *key: str) -> dict[tuple, tuple[int, int]]:
    """(activity_count, total_minutes) summed by ``key``."""
    counts: Counter = Counter()
    minutes: Counter = Counter()
    for row in rows:
        k = tuple(row[c] for c in key)
        counts[k] += row["activity_count"]
        minutes[k] += row["total_minutes"]
    return {k: (counts[k], minutes[k]) for k in counts}


def export(client: Client, first: date | str, last: date | str) -> list[dict]:
    return client.rpc("bufdir_export", {"p_from": first, "p_to": last}).expect_ok()


@pytest.mark.parametrize("coordinator", COORDINATORS)
def test_export_equals_the_time_series_by_chapter_and_type(
    as_persona, coordinator: str, oslo_today
) -> None:
    """All-time export totals per chapter and type equal the time series summed over months."""
    client = as_persona(coordinator)
    exported = totals(export(client, EPOCH, oslo_today), "chapter_id", "activity_type_id")
    series = client.select("activity_time_series").expect_ok()
    assert exported, f"the export of {coordinator} is empty"
    assert exported == totals(series, "chapter_id", "activity_type_id")


@pytest.mark.parametrize("coordinator", COORDINATORS)
def test_export_equals_the_mentor_statistics_by_chapter(
    as_persona, coordinator: str, oslo_today
) -> None:
    """All-time export totals per chapter equal the sum over that chapter's mentors."""
    client = as_persona(coordinator)
    exported = totals(export(client, EPOCH, oslo_today), "chapter_id")
    mentors = client.select("peer_mentor_stats").expect_ok()
    assert exported == totals(mentors, "chapter_id")


@pytest.mark.parametrize("coordinator", COORDINATORS)
def test_export_of_each_month_equals_that_months_time_series(as_persona, coordinator: str) -> None:
    """For every month with activity, the export of that month equals its time-series rows."""
    client = as_persona(coordinator)
    series = client.select("activity_time_series").expect_ok()
    months = sorted({row["month"] for row in series})
    assert months, f"{coordinator} has no time series"
    for month in months:
        first = date.fromisoformat(month)
        last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
        in_month = [row for row in series if row["month"] == month]
        assert totals(export(client, first, last), "chapter_id", "activity_type_id") == totals(
            in_month, "chapter_id", "activity_type_id"
        ), f"export and time series differ in {month}"
