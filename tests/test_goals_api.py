"""Goals through the API: analysts and admins set them, viewers read, bad targets get a 400
with a message, and the KPI series and summary carry each period's goal and progress."""

from __future__ import annotations

import pytest

from kpiplatform.testing.data import load_records
from kpiplatform.testing.kpis import WORKED_EXAMPLE_SEGMENTS, configure_company, recompute_all


@pytest.fixture
def computed(acme):
    with acme.activate():
        configure_company("EUR", "UTC", "1")
        load_records("mrr_segments", WORKED_EXAMPLE_SEGMENTS)
        recompute_all()
    return acme


def test_analysts_and_admins_set_goals_and_viewers_only_read(acme):
    body = {"kpi_key": "mrr", "grain": "month", "target": "400"}
    viewer = acme.client("viewer")
    refused = viewer.post("/api/v1/goals/", body, content_type="application/json")
    assert refused.status_code == 403
    assert refused.json()["error"]["message"] == "This needs the Analyst role."
    created = acme.client("analyst").post("/api/v1/goals/", body, content_type="application/json")
    assert created.status_code == 201, created.content
    goal = created.json()
    assert (goal["target"], goal["period_start"], goal["created_by"]) == (
        "400",
        None,
        acme.email("analyst"),
    )
    listed = viewer.get("/api/v1/goals/").json()["results"]
    assert [g["id"] for g in listed] == [goal["id"]]
    changed = acme.client("admin").patch(
        f"/api/v1/goals/{goal['id']}/", {"target": "450"}, content_type="application/json"
    )
    assert changed.status_code == 200 and changed.json()["target"] == "450"
    assert viewer.delete(f"/api/v1/goals/{goal['id']}/").status_code == 403


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"kpi_key": "nope", "grain": "month"}, "kpi_key", "No KPI with key 'nope'"),
        ({"kpi_key": "mrr", "grain": "fortnight"}, "grain", "Use one of day, week"),
        (
            {"kpi_key": "mrr", "grain": "month", "segment_kind": "planet", "segment_value": "x"},
            "segment_kind",
            "mrr is not broken down by 'planet'",
        ),
        (
            {"kpi_key": "mrr", "grain": "month", "period_start": "2025-03-15"},
            "period_start",
            "2025-03-15 does not start a month",
        ),
        ({"kpi_key": "mrr", "grain": "month", "target": "lots"}, "target", "valid number"),
    ],
)
def test_a_goal_of_an_unknown_kpi_grain_or_segment_is_refused_with_a_message(
    acme, body, field, message
):
    response = acme.client("analyst").post(
        "/api/v1/goals/", {"target": "1", **body}, content_type="application/json"
    )
    assert response.status_code == 400
    assert message in " ".join(response.json()["error"]["fields"][field])


def test_a_second_goal_for_the_same_period_is_refused(acme):
    client = acme.client("analyst")
    body = {"kpi_key": "mrr", "grain": "month", "target": "1"}
    assert client.post("/api/v1/goals/", body, content_type="application/json").status_code == 201
    again = client.post("/api/v1/goals/", body, content_type="application/json")
    assert again.status_code == 400
    assert "already has a goal" in again.json()["error"]["fields"]["period_start"][0]


def test_series_and_summary_carry_the_goal_and_the_progress(computed):
    client = computed.client("analyst")
    for body in (
        {"kpi_key": "mrr", "grain": "month", "target": "400"},
        {"kpi_key": "mrr", "grain": "month", "target": "280", "period_start": "2025-02-01"},
    ):
        assert (
            client.post("/api/v1/goals/", body, content_type="application/json").status_code == 201
        )
    rows = (
        computed.client("viewer")
        .get("/api/v1/kpis/mrr/series/?grain=month&start=2025-01-01&end=2025-03-31")
        .json()
    )
    # January 350 of the standing 400; February 280 of its own 280 (met); March 320 of 400.
    assert [
        (r["period"], r["goal"]["target"], r["goal"]["ratio"], r["goal"]["met"]) for r in rows
    ] == [
        ("2025-01", "400", "0.875", False),
        ("2025-02", "280", "1", True),
        ("2025-03", "400", "0.8", False),
    ]
    assert rows[1]["goal"]["standing"] is False
    summary = computed.client("viewer").get("/api/v1/kpis/summary/?grain=month").json()
    by_key = {row["key"]: row for row in summary["kpis"]}
    # The current month's MRR is 320 (the worked example's customers all still pay).
    assert by_key["mrr"]["goal"] == {
        "id": by_key["mrr"]["goal"]["id"],
        "target": "400",
        "ratio": "0.8",
        "met": False,
        "standing": True,
    }
    assert by_key["arr"]["goal"] is None
