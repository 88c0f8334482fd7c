"""Through the API, each persona reads exactly the hand-written expected results of the reference
dataset (``fixtures/reference/expected.json``): their rows, their statistics, their export."""

from __future__ import annotations

import pytest

from fixtures import dataset
from transport import Client, load_reference

PERSONAS = [name for name, p in load_reference().personas.items() if p.is_user]


def ids(rows: list[dict], *key: str) -> list:
    return sorted(tuple(str(r[k]) for k in key) if len(key) > 1 else str(r[key[0]]) for r in rows)


@pytest.mark.parametrize("persona", PERSONAS)
def test_persona_reads_the_expected_rows(as_persona, persona: str) -> None:
    """Activities, chapters, profiles, memberships and both read views hold the expected rows."""
    client: Client = as_persona(persona)
    expected = dataset.expected_visibility()[persona]
    read = {path: client.select(path).expect_ok() for path in (
        "activities", "chapters", "profiles", "chapter_memberships", "peer_mentor_stats",
        "activity_time_series",
    )}  # fmt: skip
    assert sorted(r["id"] for r in read["activities"]) == expected["activities"]
    assert ids(read["chapters"], "id") == sorted(str(c) for c in expected["chapters"])
    assert ids(read["profiles"], "id") == sorted(str(p) for p in expected["profiles"])
    assert len(read["chapter_memberships"]) == expected["memberships"]
    assert ids(read["peer_mentor_stats"], "chapter_id", "peer_mentor_id") == sorted(
        (str(c), str(m)) for c, m in expected["peer_mentor_stats"]
    )
    assert sorted({r["chapter_id"] for r in read["activity_time_series"]}) == sorted(
        str(c) for c in expected["activity_time_series"]
    )


def test_read_views_hold_the_expected_statistics(as_persona, oslo_today) -> None:
    """Together the two coordinators see chapters A to F: every statistic is as expected."""
    clients = [as_persona("coordinator_ab"), as_persona("coordinator_five")]
    type_ids = {t["code"]: t["id"] for t in clients[0].select("activity_types").expect_ok()}

    def merged(path: str, *key: str) -> dict[tuple, dict]:
        rows = {}
        for client in clients:
            for row in client.select(path).expect_ok():
                rows[tuple(row[k] for k in key)] = row
        return rows

    stats_key = ("chapter_id", "peer_mentor_id")
    expected_stats = {
        (str(r["chapter_id"]), str(r["peer_mentor_id"])): {
            **{k: str(v) for k, v in r.items() if k in stats_key},
            "activity_count": r["activity_count"],
            "total_minutes": r["total_minutes"],
            "last_activity_date": r["last_activity_date"].isoformat(),
            "current_month_count": r["current_month_count"],
        }
        for r in dataset.expected_peer_mentor_stats(oslo_today)
    }
    seen_stats = {
        k: {c: row[c] for c in next(iter(expected_stats.values()))}
        for k, row in merged("peer_mentor_stats", *stats_key).items()
    }
    assert seen_stats == expected_stats

    series_key = ("chapter_id", "month", "activity_type_id")
    expected_series = {
        (str(r["chapter_id"]), r["month"].isoformat(), type_ids[r["activity_type"]]): (
            r["activity_count"], r["total_minutes"], r["active_mentors"]
        )
        for r in dataset.expected_activity_time_series(oslo_today)
    }  # fmt: skip
    seen_series = {
        k: (row["activity_count"], row["total_minutes"], row["active_mentors"])
        for k, row in merged("activity_time_series", *series_key).items()
    }
    assert seen_series == expected_series


EXPORT_CASES = [case for case in dataset.expected_exports() if case.persona in PERSONAS]


@pytest.mark.parametrize("case", EXPORT_CASES, ids=[case.description for case in EXPORT_CASES])
def test_export_returns_the_expected_rows(as_persona, case: dataset.ExportCase) -> None:
    """Each export case of the reference dataset returns exactly its expected rows."""
    params = {"p_from": case.p_from, "p_to": case.p_to}
    if case.p_chapter_ids is not None:
        params["p_chapter_ids"] = case.p_chapter_ids
    rows = as_persona(case.persona).rpc("bufdir_export", params).expect_ok()
    seen = sorted(
        (r["chapter_id"], r["activity_type_code"], r["activity_count"], r["total_minutes"])
        for r in rows
    )
    expected = sorted(
        (str(r["chapter_id"]), r["activity_type"], r["activity_count"], r["total_minutes"])
        for r in case.rows
    )
    assert seen == expected
