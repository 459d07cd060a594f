"""Drill-downs: the records behind each number, reconciling exactly with the stored values.

The data and the expected numbers are in kpiplatform/testing/drill_example.py, worked out by
hand from the definitions (docs/kpis.md).
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection

from kpiplatform.kpis.drill import DrillError, UnknownDrill, open_drill, parse_request
from kpiplatform.testing.drill_example import (
    FEBRUARY_CHURN,
    FEBRUARY_LEADS,
    FEBRUARY_MOVEMENTS,
    FEBRUARY_ORDERS,
    FEBRUARY_REVENUE,
    FEBRUARY_SPEND,
)

# The modules reading the drill example run on one worker, which computes it once.
pytestmark = pytest.mark.xdist_group("drill-example")


@pytest.fixture
def example(drill_example_company, db):
    """The example's company (tests/conftest.py), active for the test."""
    with drill_example_company.activate():
        yield drill_example_company
    connection.set_schema_to_public()


def drill(key: str, **query):
    return open_drill(parse_request(key, {"period": "2025-02-01", **query}))


def test_february_churn_lists_exactly_the_customers_whose_movements_sum_to_it(example):
    result = drill("mrr_movements", kind="churn")
    assert {row["customer_ref"]: row["amount"] for row in result.rows} == FEBRUARY_CHURN
    assert {row["kind"] for row in result.rows} == {"churn"}
    assert result.totals == {"count": 2, "amount": Decimal(-240)}
    # The KPIs' word for the kind opens the same list.
    assert drill("mrr_movements", kind="churned").rows == result.rows
    # The churned MRR drill is the same list, with the KPI's stored value beside it.
    churned = drill("churned_mrr")
    assert churned.rows == result.rows
    assert churned.stored["value"] == Decimal(-240)


def test_mrr_at_the_start_plus_each_kind_is_mrr_at_the_end_and_matches_stored(example):
    reconciliation = drill("mrr_movements").reconciliation
    computed = {
        "mrr_start": reconciliation.mrr_start,
        **reconciliation.movements,
        "mrr_end": reconciliation.mrr_end,
    }
    assert computed == FEBRUARY_MOVEMENTS
    assert reconciliation.stored == FEBRUARY_MOVEMENTS
    assert reconciliation.matches_stored
    assert reconciliation.customers == {
        "new": 1,
        "reactivation": 0,
        "expansion": 1,
        "contraction": 0,
        "churn": 2,
    }


def test_a_country_segment_narrows_the_list_and_the_reconciliation(example):
    result = drill("churned_mrr", segment_kind="country", segment="DE")
    assert [(row["customer_ref"], row["amount"]) for row in result.rows] == [("F", Decimal(-40))]
    assert result.stored["value"] == Decimal(-40)
    reconciliation = result.reconciliation
    # At the start of February DE had C (50) and F (40); D arrived (80), F left (-40).
    assert reconciliation.mrr_start == Decimal(90)
    assert reconciliation.mrr_end == Decimal(130)
    assert reconciliation.matches_stored


def test_active_new_and_start_customers(example):
    active = drill("active_customers")
    assert {row["customer_ref"]: row["mrr"] for row in active.rows} == {
        "A": Decimal(150),
        "C": Decimal(50),
        "D": Decimal(80),
    }
    assert active.totals == {"count": 3, "mrr": Decimal(280)}
    assert active.stored["value"] == 3
    start = drill("active_customers", list="start_customers")
    assert {row["customer_ref"] for row in start.rows} == {"A", "B", "C", "F"}
    new = drill("new_customers")
    assert [row["customer_ref"] for row in new.rows] == ["D"]
    assert new.stored["value"] == 1


def test_revenue_and_orders_open_the_payments_converted_at_the_rule(example):
    payments = drill("revenue")
    assert {row["external_id"] for row in payments.rows} == {
        "pay-a-1",
        "pay-d-1",
        "order-a-1",
        "refund-a-1",
        "order-c-1",
    }
    assert {row["external_id"]: row["amount"] for row in payments.rows}["order-c-1"] == Decimal(
        "27.00"
    )
    assert payments.totals["net"] == FEBRUARY_REVENUE == payments.stored["value"]
    orders = drill("average_order_value")
    assert {row["external_id"] for row in orders.rows} == {"order-a-1", "order-c-1"}
    count, amount = FEBRUARY_ORDERS
    assert (orders.totals["orders"], orders.totals["order_amount"]) == (count, amount)
    assert (orders.stored["numerator"], orders.stored["denominator"]) == (amount, count)


def test_cac_and_cost_per_lead_open_spend_leads_and_customers(example):
    spend = drill("cac")
    assert spend.totals["amount"] == FEBRUARY_SPEND
    assert spend.stored["value"] == FEBRUARY_SPEND  # one new customer
    assert [row["customer_ref"] for row in drill("cac", list="new_customers").rows] == ["D"]
    leads = drill("cost_per_lead", list="leads")
    assert (leads.totals["count"], leads.totals["converted"]) == FEBRUARY_LEADS
    assert leads.stored["value"] == FEBRUARY_SPEND / 3
    google = drill("cost_per_lead", list="spend", segment_kind="channel", segment="google")
    assert google.totals["amount"] == Decimal("300.00")
    roi = drill("marketing_roi", list="acquired_customers")
    assert [row["customer_ref"] for row in roi.rows] == ["D"]


def test_pages_split_the_list_in_sql(example):
    first = drill("revenue", page="1", page_size="2")
    second = drill("revenue", page="3", page_size="2")
    assert first.count == 5 and first.pages == 3
    assert len(first.rows) == 2 and len(second.rows) == 1


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"period": ""}, "period"),
        ({"period": "2025-02-30"}, "period"),
        ({"grain": "fortnight"}, "grain"),
        ({"kind": "upgrade"}, "kind"),
        ({"list": "payments"}, "list"),
        ({"segment_kind": "campaign", "segment": "x"}, "segment_kind"),
        ({"segment_kind": "country"}, "segment"),
        ({"page": "0"}, "page"),
        ({"segment_kind": "country", "segment": "F\x00R"}, "segment"),
    ],
)
def test_bad_drill_parameters_name_the_parameter(example, query, field):
    with pytest.raises(DrillError) as error:
        parse_request("churned_mrr", {"period": "2025-02-01", **query})
    assert error.value.field == field


def test_kpis_without_a_drill_and_unknown_keys_are_unknown(example):
    for key in ("nps", "no_such_kpi"):
        with pytest.raises(UnknownDrill):
            parse_request(key, {"period": "2025-02-01"})
