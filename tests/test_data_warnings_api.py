"""Admins read the data-quality warnings through GET /api/v1/data-warnings/."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from kpiplatform.facts.models import DataWarning


@pytest.fixture
def warnings(acme):
    now = timezone.now()
    with acme.activate():
        DataWarning.objects.bulk_create(
            [
                DataWarning(
                    kind="segment_without_rate",
                    dataset="mrr_segments",
                    source="import",
                    external_id="m1",
                    customer_ref="c1",
                    day=dt.date(2025, 3, 1),
                    message="no GBP exchange rate on or before 2025-03-01",
                    created_at=now - dt.timedelta(hours=1),
                ),
                DataWarning(
                    kind="payment_without_rate",
                    dataset="payments",
                    source="import",
                    external_id="p1",
                    day=dt.date(2025, 3, 2),
                    message="no JPY exchange rate on or before 2025-03-02",
                    created_at=now,
                ),
            ]
        )
    return acme


def test_admins_list_the_warnings_newest_first(warnings):
    response = warnings.client("admin").get("/api/v1/data-warnings/")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [w["external_id"] for w in body["results"]] == ["p1", "m1"]
    oldest = body["results"][1]
    assert oldest["kind"] == "segment_without_rate"
    assert oldest["dataset"] == "mrr_segments"
    assert oldest["customer_ref"] == "c1"
    assert oldest["day"] == "2025-03-01"
    assert oldest["message"] == "no GBP exchange rate on or before 2025-03-01"


def test_warnings_filter_by_kind_and_dataset(warnings):
    client = warnings.client("admin")
    by_kind = client.get("/api/v1/data-warnings/?kind=payment_without_rate").json()
    assert [w["external_id"] for w in by_kind["results"]] == ["p1"]
    by_dataset = client.get("/api/v1/data-warnings/?dataset=mrr_segments").json()
    assert [w["external_id"] for w in by_dataset["results"]] == ["m1"]


@pytest.mark.parametrize("role", ["viewer", "analyst", None])
def test_only_admins_read_the_warnings(warnings, role):
    response = warnings.client(role).get("/api/v1/data-warnings/")
    assert response.status_code == (401 if role is None else 403)


def test_warnings_are_read_only(warnings):
    response = warnings.client("admin").post("/api/v1/data-warnings/", {}, "application/json")
    assert response.status_code == 405


def test_another_company_sees_none_of_them(warnings, globex):
    response = globex.client("admin").get("/api/v1/data-warnings/")
    assert response.json()["count"] == 0
