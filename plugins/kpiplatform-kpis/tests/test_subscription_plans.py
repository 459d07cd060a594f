"""Plan breakdowns of the MRR-type KPIs, against numbers worked out by hand.

Month grain, January to March 2025, EUR. Plans ``basic`` ("Basic") and ``pro`` ("Pro") are in
the plans dataset; ``team`` is not, so it is labelled with its reference.

| customer | segments |
| --- | --- |
| A | basic 100 from 1 Jan; pro 150 from 10 Feb (moves plan) |
| B | basic 50 from 1 Jan, 70 from 10 Mar; and pro 200 from 15 Jan to 1 Mar (two plans) |
| C | team 80 from 5 Feb |
| D | basic 40 from 1 Jan to 20 Jan; basic 40 again from 1 Mar |

By plan (each customer's MRR on each plan classified on its own):

| | Basic Jan | Feb | Mar | Pro Jan | Feb | Mar | team Jan | Feb | Mar |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
| new business | 190 (A, B, D) | 0 | 0 | 200 (B) | 150 (A) | 0 | none | 80 | 0 |
| reactivation | 0 | 0 | 40 (D) | 0 | 0 | 0 | none | 0 | 0 |
| expansion | 0 | 0 | 20 (B) | 0 | 0 | 0 | none | 0 | 0 |
| churn | −40 (D) | −100 (A) | 0 | 0 | 0 | −200 (B) | none | 0 | 0 |
| MRR at end | 150 | 50 | 110 | 200 | 350 | 150 | none | 80 | 80 |
| active at end | 2 (A, B) | 1 (B) | 2 (B, D) | 1 (B) | 2 (A, B) | 1 (A) | none | 1 | 1 |
| ARPA | 75 | 50 | 55 | 200 | 175 | 150 | none | 80 | 80 |

A plan has values from the first period it has MRR movements in: team has none in January.

The company: MRR 350, 480, 340 (the plans' MRR add up to it); active customers 2, 3, 4, while
the plans' active customers add up to 3, 4, 4 (B counts in Basic and in Pro in Jan and Feb).
"""

# The table uses the minus sign of docs/kpis.md.
# ruff: noqa: RUF002

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from kpiplatform.testing.data import load_records
from kpiplatform.testing.kpis import (
    configure_company,
    mrr_segment,
    recompute_all,
    recompute_pending,
    stored_values,
)
from kpiplatform.testing.shared import shared_company

JAN, FEB, MAR = dt.date(2025, 1, 1), dt.date(2025, 2, 1), dt.date(2025, 3, 1)


def on_plan(plan: str, external_id: str, segment: dict) -> dict:
    return {**segment, "plan_ref": plan, "external_id": external_id}


SEGMENTS = [
    on_plan("basic", "a1", mrr_segment("A", "2025-01-01", "2025-02-10", 100)),
    on_plan("pro", "a2", mrr_segment("A", "2025-02-10", None, 150)),
    on_plan("basic", "b1", mrr_segment("B", "2025-01-01", "2025-03-10", 50)),
    on_plan("basic", "b2", mrr_segment("B", "2025-03-10", None, 70)),
    on_plan("pro", "b3", mrr_segment("B", "2025-01-15", "2025-03-01", 200)),
    on_plan("team", "c1", mrr_segment("C", "2025-02-05", None, 80)),
    on_plan("basic", "d1", mrr_segment("D", "2025-01-01", "2025-01-20", 40)),
    on_plan("basic", "d2", mrr_segment("D", "2025-03-01", None, 40)),
]


def _plans_example() -> None:
    configure_company("EUR", "Europe/Paris", "1")
    load_records(
        "plans",
        [
            {"external_id": "basic", "name": "Basic", "currency": "EUR"},
            {"external_id": "pro", "name": "Pro", "currency": "EUR"},
        ],
    )
    load_records("mrr_segments", SEGMENTS)
    report = recompute_all()
    assert not report.failed, report.failed


# One worker runs the module, so the example is computed once.
pytestmark = pytest.mark.xdist_group("subscription-plans")


@pytest.fixture(scope="module")
def plans_company(standing_companies, django_db_blocker):
    """The plans example computed once, in a company of its own, for the module's tests."""
    with shared_company(django_db_blocker, "Plans Co", _plans_example) as company:
        yield company


@pytest.fixture
def plans_example(plans_company, db):
    """The example's company; a test's writes and recomputes are rolled back."""
    return plans_company


def by_plan(key: str, plan: str, grain: str = "month") -> list[Decimal | None]:
    stored = stored_values(key, grain, segment_kind="plan", segment=plan)
    return [stored[month].value if month in stored else "missing" for month in (JAN, FEB, MAR)]


def summed_over_plans(key: str) -> list[Decimal]:
    """The plans' values added up per month (a plan with no value yet adds nothing)."""
    months = zip(*(by_plan(key, plan) for plan in EXPECTED), strict=True)
    return [sum(v for v in values if v != "missing") for values in months]


def total(key: str) -> list[Decimal | None]:
    stored = stored_values(key)
    return [stored[month].value for month in (JAN, FEB, MAR)]


EXPECTED = {
    "Basic": {
        "new_business_mrr": [190, 0, 0],
        "reactivation_mrr": [0, 0, 40],
        "expansion_mrr": [0, 0, 20],
        "contraction_mrr": [0, 0, 0],
        "churned_mrr": [-40, -100, 0],
        "net_new_mrr": [150, -100, 60],
        "mrr": [150, 50, 110],
        "arr": [1800, 600, 1320],
        "active_customers": [2, 1, 2],
        "arpa": [75, 50, 55],
    },
    "Pro": {
        "new_business_mrr": [200, 150, 0],
        "reactivation_mrr": [0, 0, 0],
        "expansion_mrr": [0, 0, 0],
        "contraction_mrr": [0, 0, 0],
        "churned_mrr": [0, 0, -200],
        "net_new_mrr": [200, 150, -200],
        "mrr": [200, 350, 150],
        "arr": [2400, 4200, 1800],
        "active_customers": [1, 2, 1],
        "arpa": [200, 175, 150],
    },
    "team": {
        "new_business_mrr": ["missing", 80, 0],
        "churned_mrr": ["missing", 0, 0],
        "mrr": ["missing", 80, 80],
        "active_customers": ["missing", 1, 1],
        "arpa": ["missing", 80, 80],
    },
}


def test_plan_breakdowns_match_the_hand_worked_table(plans_example):
    with plans_example.activate():
        got = {
            plan: {key: by_plan(key, plan) for key in expected}
            for plan, expected in EXPECTED.items()
        }
    assert got == EXPECTED


def test_plans_mrr_adds_up_to_the_company_while_a_customer_on_two_plans_counts_in_each(
    plans_example,
):
    with plans_example.activate():
        assert total("mrr") == [350, 480, 340]
        assert summed_over_plans("mrr") == total("mrr")
        assert total("active_customers") == [2, 3, 4]
        assert summed_over_plans("active_customers") == [3, 4, 4]
        # The company's movements are classified per customer: A's move is an expansion.
        assert total("expansion_mrr") == [200, 50, 20]


def test_an_undefined_plan_value_keeps_its_reason(plans_example):
    with plans_example.activate():
        # C leaves team on 1 March: team has no active customer at the end of March.
        load_records(
            "mrr_segments",
            [on_plan("team", "c1", mrr_segment("C", "2025-02-05", "2025-03-01", 80))],
        )
        recompute_pending()
        team_mar = stored_values("arpa", segment_kind="plan", segment="team")[MAR]
    assert team_mar.value is None
    assert team_mar.reason == "no active customers at the end of the period"


def test_only_the_kpis_where_a_plan_means_something_break_down_by_plan(plans_example):
    with plans_example.activate():
        for key in ("customer_churn_rate", "nrr", "grr", "clv", "new_customers"):
            assert stored_values(key, segment_kind="plan", segment="Pro") == {}, key
        # Day values are not broken down.
        assert stored_values("mrr", "day", segment_kind="plan", segment="Pro") == {}
        assert by_plan("mrr", "Pro", "quarter")[0] == 150


def test_a_plan_switch_at_the_same_price_moves_the_plan_breakdown_after_a_sync(plans_example):
    with plans_example.activate():
        # C moves from team to Pro on 1 March at the same price: no movement for C at all.
        load_records(
            "mrr_segments",
            [
                on_plan("team", "c1", mrr_segment("C", "2025-02-05", "2025-03-01", 80)),
                on_plan("pro", "c2", mrr_segment("C", "2025-03-01", None, 80)),
            ],
        )
        recompute_pending()
        assert total("mrr") == [350, 480, 340]
        assert by_plan("mrr", "team") == ["missing", 80, 0]
        assert by_plan("churned_mrr", "team") == ["missing", 0, -80]
        assert by_plan("mrr", "Pro") == [200, 350, 230]
        assert by_plan("new_business_mrr", "Pro") == [200, 150, 80]
        assert by_plan("active_customers", "Pro") == [1, 2, 2]
