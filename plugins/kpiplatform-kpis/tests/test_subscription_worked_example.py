"""The MRR worked example (customers A to E): imported through the API as a user would, computed
by the recompute the import schedules, read back as stored."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from kpiplatform.testing.kpis import (
    WORKED_EXAMPLE_SEGMENTS,
    configure_company,
    recompute_pending,
    stored_values,
)
from kpiplatform.testing.shared import committed_writes, shared_company

JAN, FEB, MAR = dt.date(2025, 1, 1), dt.date(2025, 2, 1), dt.date(2025, 3, 1)
Q1 = JAN


def as_json(segment: dict, number: int) -> dict:
    return {
        **segment,
        "external_id": f"seg-{number}",
        "starts_on": segment["starts_on"].isoformat(),
        "ends_on": segment["ends_on"].isoformat() if segment["ends_on"] else None,
    }


# One worker runs the module, so the example is imported and computed once.
pytestmark = pytest.mark.xdist_group("subscription-worked-example")


@pytest.fixture(scope="module")
def worked_example_company(standing_companies, django_db_blocker):
    """A company of its own, committed, with the worked example imported and computed, once
    for the module's tests, which only read it."""
    with shared_company(django_db_blocker, "Worked Example Co") as company:
        with committed_writes(django_db_blocker):
            with company.activate():
                configure_company("EUR", "Europe/Paris", "1")
            records = [as_json(segment, n) for n, segment in enumerate(WORKED_EXAMPLE_SEGMENTS, 1)]
            response = company.client("admin").post(
                "/api/v1/data/mrr_segments/", records, content_type="application/json"
            )
            assert response.status_code in (200, 201), response.json()
            with company.activate():
                # What the recompute task, scheduled by the import, runs on the worker.
                report = recompute_pending()
                assert not report.failed, report.failed
        yield company


@pytest.fixture
def worked_example(worked_example_company, db):
    with worked_example_company.activate():
        yield worked_example_company


def values(key: str, grain: str = "month") -> dict[dt.date, Decimal | None]:
    return {start: stored.value for start, stored in stored_values(key, grain).items()}


EXPECTED_MONTHS = {
    "new_business_mrr": (410, 80, 0),
    "reactivation_mrr": (0, 0, 60),
    "expansion_mrr": (0, 50, 0),
    "contraction_mrr": (0, 0, -20),
    "churned_mrr": (-60, -200, 0),
    "mrr": (350, 280, 320),
    "arr": (4200, 3360, 3840),
    "active_customers": (3, 3, 4),
    "customer_churn_rate": (None, "0.3333", "0.0000"),
    "gross_mrr_churn_rate": (None, "0.5714", "0.0714"),
    "nrr": (None, "0.5714", "0.9286"),
    "arpa": ("116.67", "93.33", "80.00"),
    "net_new_mrr": (350, -70, 40),
    "new_customers": (4, 1, 0),
    "churned_customers": (1, 1, 0),
    "net_mrr_churn_rate": (None, "0.4286", "-0.1429"),
    "customer_retention_rate": (None, "0.6667", "1.0000"),
    "grr": (None, "0.4286", "0.9286"),
    "clv": (None, "280.00", "480.00"),
}


def _matches(got: Decimal | None, expected) -> bool:
    if expected is None:
        return got is None
    if got is None:
        return False
    if isinstance(expected, str):
        places = len(expected.split(".")[1])
        return got.quantize(Decimal(1).scaleb(-places)) == Decimal(expected)
    return got == Decimal(expected)


def test_worked_example_gives_every_number_of_the_table_at_month_grain(worked_example):
    mismatches = []
    with worked_example.activate():
        for key, expected_months in EXPECTED_MONTHS.items():
            stored = values(key)
            for month, expected in zip((JAN, FEB, MAR), expected_months, strict=True):
                if not _matches(stored.get(month), expected):
                    mismatches.append((key, month.isoformat(), stored.get(month), expected))
    assert mismatches == []


def test_undefined_values_keep_their_reason(worked_example):
    with worked_example.activate():
        churn_rate = stored_values("customer_churn_rate")[JAN]
        nrr = stored_values("nrr")[JAN]
        clv = stored_values("clv")[JAN]
    assert churn_rate.value is None
    assert churn_rate.reason == "no active customers at the start of the period"
    assert churn_rate.denominator == 0
    assert nrr.reason == "no MRR at the start of the period"
    assert clv.reason == "no churn observed"


def test_rates_keep_exact_numerator_and_denominator(worked_example):
    with worked_example.activate():
        feb = stored_values("gross_mrr_churn_rate")[FEB]
    assert (feb.numerator, feb.denominator) == (Decimal(200), Decimal(350))


def test_quarter_movements_are_the_sum_of_the_months(worked_example):
    with worked_example.activate():
        for key in (
            "new_business_mrr",
            "reactivation_mrr",
            "expansion_mrr",
            "contraction_mrr",
            "churned_mrr",
            "net_new_mrr",
            "churned_customers",
            "new_customers",
        ):
            months = values(key)
            quarter = values(key, "quarter")[Q1]
            assert quarter == months[JAN] + months[FEB] + months[MAR], key
        assert values("mrr", "quarter")[Q1] == 320


def test_movements_are_placed_on_their_day(worked_example):
    with worked_example.activate():
        churn_by_day = values("churned_mrr", "day")
        expansion_by_week = values("expansion_mrr", "week")
    assert churn_by_day[dt.date(2025, 1, 31)] == -60
    assert churn_by_day[dt.date(2025, 1, 30)] == 0
    assert churn_by_day[dt.date(2025, 2, 15)] == -200
    # 10 Feb 2025 is a Monday: the ISO week starting that day holds A's upgrade.
    assert expansion_by_week[dt.date(2025, 2, 10)] == 50
