"""The KPI API reads stored values: catalogue, series (JSON and CSV) and summary."""

from __future__ import annotations

import pytest

from kpiplatform.testing.data import load_records
from kpiplatform.testing.kpis import (
    WORKED_EXAMPLE_SEGMENTS,
    configure_company,
    recompute_all,
)
from kpiplatform.testing.shared import shared_company


def _computed_worked_example() -> None:
    configure_company("EUR", "Europe/Paris", "1")
    load_records("mrr_segments", WORKED_EXAMPLE_SEGMENTS)
    recompute_all()


# One worker runs the module, so the worked example is computed once.
pytestmark = pytest.mark.xdist_group("kpi-api")


@pytest.fixture(scope="module")
def computed_company(standing_companies, django_db_blocker):
    """A company of its own with the worked example computed, once for the module's tests."""
    with shared_company(django_db_blocker, "KPI API Co", _computed_worked_example) as company:
        yield company


@pytest.fixture
def computed(computed_company, db):
    return computed_company


def test_catalogue_lists_every_subscription_kpi_with_its_definition(acme):
    response = acme.client("viewer").get("/api/v1/kpis/")
    assert response.status_code == 200
    by_key = {kpi["key"]: kpi for kpi in response.json()}
    assert {"mrr", "arr", "nrr", "clv", "expansion_mrr", "new_customers"} <= set(by_key)
    mrr = by_key["mrr"]
    assert mrr["unit"] == "currency"
    assert mrr["plugin"] == "kpiplatform-kpis"
    assert "mrr_segments" in mrr["requires"]
    assert mrr["description"].startswith("Monthly recurring revenue")


def test_series_gives_the_worked_example_months(computed):
    response = computed.client("viewer").get(
        "/api/v1/kpis/mrr/series/?grain=month&start=2025-01-01&end=2025-03-31"
    )
    assert response.status_code == 200
    rows = response.json()
    assert [(row["period"], row["value"]) for row in rows] == [
        ("2025-01", "350"),
        ("2025-02", "280"),
        ("2025-03", "320"),
    ]
    assert rows[0]["start"] == "2025-01-01" and rows[0]["end"] == "2025-02-01"
    assert rows[0]["computed_at"]


def test_series_of_an_undefined_value_has_no_value_and_a_reason(computed):
    rows = (
        computed.client("viewer")
        .get("/api/v1/kpis/customer_churn_rate/series/?start=2025-01-01&end=2025-02-28")
        .json()
    )
    assert rows[0]["value"] is None
    assert rows[0]["reason"] == "no active customers at the start of the period"
    assert (rows[1]["numerator"], rows[1]["denominator"]) == ("1", "3")


def test_series_by_segment(computed):
    rows = (
        computed.client("viewer")
        .get(
            "/api/v1/kpis/mrr/series/?grain=quarter&start=2025-01-01&end=2025-03-31"
            "&segment_kind=country&segment=unknown"
        )
        .json()
    )
    # The example has no customer records, so every customer's country is unknown.
    assert [row["value"] for row in rows] == ["320"]


def test_series_csv_export_is_a_named_attachment(computed):
    client = computed.client("viewer")
    for url in (
        "/api/v1/kpis/net_new_mrr/series/?grain=month&start=2025-01-01&end=2025-03-31&format=csv",
        "/api/v1/kpis/net_new_mrr/series.csv?grain=month&start=2025-01-01&end=2025-03-31",
    ):
        response = client.get(url)
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/csv")
        assert response["Content-Disposition"] == (
            'attachment; filename="net_new_mrr_month_2025-01-01_2025-04-01.csv"'
        )
        lines = response.content.decode().splitlines()
        assert lines[0] == "period,start,end,value,numerator,denominator,reason,computed_at"
        assert [line.split(",")[3] for line in lines[1:]] == ["350", "-70", "40"]


@pytest.mark.parametrize(
    ("url", "status", "code"),
    [
        ("/api/v1/kpis/no_such_kpi/series/", 404, "not_found"),
        ("/api/v1/kpis/mrr/series/?grain=fortnight", 400, "invalid"),
        ("/api/v1/kpis/mrr/series/?start=2025-13-01", 400, "invalid"),
        ("/api/v1/kpis/mrr/series/?start=2025-03-01&end=2025-01-01", 400, "invalid"),
        ("/api/v1/kpis/mrr/series/?segment_kind=planet", 400, "invalid"),
        ("/api/v1/kpis/summary/?grain=decade", 400, "invalid"),
    ],
)
def test_bad_requests_get_the_error_body(acme, url, status, code):
    response = acme.client("viewer").get(url)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]


def test_series_needs_a_member(acme):
    assert acme.client(None).get("/api/v1/kpis/mrr/series/").status_code in (401, 403)


def test_summary_gives_current_and_previous_period_with_the_change(computed):
    response = computed.client("viewer").get("/api/v1/kpis/summary/?grain=year")
    assert response.status_code == 200
    body = response.json()
    assert body["grain"] == "year"
    mrr = next(kpi for kpi in body["kpis"] if kpi["key"] == "mrr")
    # Nothing changes after March 2025: MRR stays 320 into the current year.
    assert mrr["current"]["value"] == "320"
    assert mrr["previous"]["value"] == "320"
    assert mrr["change"] == "0"
    assert mrr["change_ratio"] == "0"
