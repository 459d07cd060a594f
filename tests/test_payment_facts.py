"""Payment days and customer facts: refreshed after writes exactly as a full rebuild builds
them, and every KPI they feed recomputed where it moved."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from kpiplatform.data.writer import BulkWriter
from kpiplatform.facts.models import (
    CustomerFact,
    DataWarning,
    MrrDay,
    MrrMovement,
    MrrPlanDay,
    PaymentDay,
    RevenueDay,
)
from kpiplatform.kpis.models import PendingChange, StoredKPIValue
from kpiplatform.testing.data import load_records
from kpiplatform.testing.kpis import (
    configure_company,
    mrr_segment,
    recompute_all,
    recompute_pending,
    stored_values,
)
from kpiplatform.testing.shared import shared_company


def paris(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.timezone(dt.timedelta(hours=1)))


def payment(ref: str, customer: str, at: dt.datetime, amount: int, **fields) -> dict:
    return {
        "external_id": ref,
        "customer_ref": customer,
        "occurred_at": at,
        "amount_minor": amount * 100,
        "currency": "EUR",
        **fields,
    }


def _history() -> None:
    configure_company("EUR", "Europe/Paris", "1")
    load_records("customers", [{"external_id": c, "channel": "ads"} for c in ("A", "B")])
    load_records("mrr_segments", [mrr_segment("A", "2025-01-10", None, 100)])
    load_records(
        "payments",
        [
            payment("p1", "A", paris(2025, 1, 10, 9), 100),
            payment("p2", "A", paris(2025, 2, 10, 9), 100),
            payment("p3", "B", paris(2025, 3, 5, 9), 40, is_order=True),
            payment("p4", "", paris(2025, 3, 6, 9), 10),
            payment("r1", "A", paris(2025, 2, 20, 9), 30, kind="refund"),
        ],
    )
    load_records(
        "spend",
        [{"spent_on": dt.date(2025, 1, 5), "amount_minor": 10000, "currency": "EUR"}],
    )
    recompute_all()
    PendingChange.objects.all().delete()


# One worker runs the module, so the history is computed once.
pytestmark = pytest.mark.xdist_group("payment-facts")


@pytest.fixture(scope="module")
def history_company(standing_companies, django_db_blocker):
    """Two customers and their payments in Paris time, computed once in full, in a company of
    its own for the module's tests."""
    with shared_company(django_db_blocker, "Payments Co", _history) as company:
        yield company


@pytest.fixture
def history(history_company, db):
    """The history's company, active; a test's writes and recomputes are rolled back."""
    with history_company.activate():
        yield history_company


def derived_facts() -> tuple[list, list]:
    days = list(
        PaymentDay.objects.order_by("source", "customer_ref", "day").values_list(
            "customer_ref", "day", "net", "charged", "order_amount", "payments", "charges",
            "orders", "paid", "unconverted", "previous_charge_day",
        )
    )  # fmt: skip
    facts = list(
        CustomerFact.objects.order_by("customer_ref").values_list(
            "customer_ref", "first_paid_day", "revenue_to_date"
        )
    )
    return days, facts


def revenue_days() -> list:
    return list(
        RevenueDay.objects.order_by("day", "country", "channel").values_list(
            "day", "country", "channel", "net", "charged", "order_amount", "payments",
            "charges", "orders", "paying_day", "paying_week", "paying_month",
            "paying_quarter", "paying_year",
        )
    )  # fmt: skip


def mrr_days() -> list:
    return list(
        MrrDay.objects.order_by("day", "country", "channel").values_list(
            "day", "country", "channel", "new", "reactivation", "expansion", "contraction",
            "churn", "net", "starts", "churns", "cohort_change", "cohort_loss", "cohort_lost",
        )
    )  # fmt: skip


def mrr_plan_days() -> list:
    return list(
        MrrPlanDay.objects.order_by("day", "plan_ref").values_list(
            "day", "plan_ref", "new", "expansion", "contraction", "net", "starts", "churns"
        )
    )


def customer_labels() -> list:
    return list(
        CustomerFact.objects.order_by("customer_ref").values_list(
            "customer_ref", "country", "channel", "campaign"
        )
    )


def left_out_payments() -> list:
    return list(
        DataWarning.objects.filter(kind="payment_without_rate").values_list("external_id", "day")
    )


def every_stored_value() -> dict:
    return {
        (v.kpi, v.grain, v.period_start, v.segment_kind, v.segment): (v.value, v.reason)
        for v in StoredKPIValue.objects.all()
    }


def test_payment_days_sum_each_customers_day_in_the_company_time_zone(history):
    with history.activate():
        days, facts = derived_facts()
    assert days == [
        ("", dt.date(2025, 3, 6), 10, 10, 0, 1, 1, 0, 1, 0, None),
        ("A", dt.date(2025, 1, 10), 100, 100, 0, 1, 1, 0, 1, 0, None),
        ("A", dt.date(2025, 2, 10), 100, 100, 0, 1, 1, 0, 1, 0, dt.date(2025, 1, 10)),
        ("A", dt.date(2025, 2, 20), -30, 0, 0, 1, 0, 0, 0, 0, None),
        ("B", dt.date(2025, 3, 5), 40, 40, 40, 1, 1, 1, 1, 0, None),
    ]
    # A: first paid on its first MRR day; revenue 100 + 100 - 30.
    assert facts == [
        ("A", dt.date(2025, 1, 10), 170),
        ("B", dt.date(2025, 3, 5), 40),
    ]


def test_after_writes_the_refreshed_facts_and_values_equal_a_full_recompute(history):
    with history.activate():
        load_records(
            "payments",
            [
                # Moved from 10 Feb to 31 Jan, 23:30 in Paris (22:30 UTC): January.
                payment("p2", "A", paris(2025, 1, 31, 23, 30), 100),
                # A new customer's first payment, and a payment of B in USD with no rate.
                payment("p5", "C", paris(2025, 4, 1, 9), 70),
                payment("p6", "B", paris(2025, 4, 2, 9), 15, currency="USD"),
                payment("p7", "A", paris(2025, 3, 10, 9), 100),
            ],
        )
        # B's first payment disappears upstream: B is now first paid in April.
        BulkWriter("import").delete("payments", ["p3"])
        recompute_pending()
        incremental = derived_facts(), every_stored_value(), left_out_payments(), revenue_days()
        recompute_all()
        full = derived_facts(), every_stored_value(), left_out_payments(), revenue_days()
    assert incremental[0] == full[0]
    assert incremental[1] == full[1]
    assert incremental[3] == full[3]
    # The USD payment with no rate is left out, and said so.
    assert incremental[2] == full[2] == [("p6", dt.date(2025, 4, 2))]
    days, facts = full[0]
    assert ("B", dt.date(2025, 4, 2), 0, 0, 0, 0, 0, 0, 1, 1, None) in days  # no USD rate
    assert dict((c, day) for c, day, _ in facts) == {
        "A": dt.date(2025, 1, 10),
        "B": dt.date(2025, 4, 2),
        "C": dt.date(2025, 4, 1),
    }


def test_a_sale_today_moves_the_roi_of_the_period_its_customer_was_acquired_in(history):
    with history.activate():
        jan = dt.date(2025, 1, 1)
        # January: spend 100, A acquired with 170 to date: (170 - 100) / 100.
        assert stored_values("marketing_roi")[jan].value == Decimal("0.7")
        load_records("payments", [payment("p9", "A", paris(2025, 6, 1, 9), 50)])
        recompute_pending()
        assert stored_values("marketing_roi")[jan].value == Decimal("1.2")
        assert stored_values("revenue")[dt.date(2025, 6, 1)].value == 50
        # A was already a customer: January's new customers did not move.
        assert stored_values("new_customers")[jan].value == 1


def test_daily_values_are_company_totals_and_longer_periods_break_down(history):
    with history.activate():
        daily = StoredKPIValue.objects.filter(kpi="revenue", grain="day")
        assert set(daily.values_list("segment_kind", flat=True)) == {""}
        assert daily.get(period_start=dt.date(2025, 2, 20)).value == -30
        march = stored_values("revenue", "month", "channel", "ads")[dt.date(2025, 3, 1)]
        assert march.value == 40  # B; the payment of no customer is "unknown"


def test_revenue_days_sum_each_day_by_label_with_the_paying_customers_of_each_grain(history):
    with history.activate():
        days = revenue_days()
    # (day, country, channel, net, charged, order amount, payments, charges, orders, paying
    # day, week, month, quarter, year): A pays on 10 Jan and 10 Feb, so on 10 Feb it is a
    # paying customer of the day, week and month, not of the quarter or year already counted.
    assert days == [
        (dt.date(2025, 1, 10), "unknown", "ads", 100, 100, 0, 1, 1, 0, 1, 1, 1, 1, 1),
        (dt.date(2025, 2, 10), "unknown", "ads", 100, 100, 0, 1, 1, 0, 1, 1, 1, 0, 0),
        (dt.date(2025, 2, 20), "unknown", "ads", -30, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0),
        (dt.date(2025, 3, 5), "unknown", "ads", 40, 40, 40, 1, 1, 1, 1, 1, 1, 1, 1),
        # The payment of no customer counts in revenue, not among paying customers.
        (dt.date(2025, 3, 6), "unknown", "unknown", 10, 10, 0, 1, 1, 0, 0, 0, 0, 0, 0),
    ]


def test_new_labels_move_every_past_day_of_the_customer(history):
    with history.activate():
        # A moves to another channel; C, who paid before its record existed, arrives with
        # one: their days move out of "ads" and "unknown", before the days the customers
        # dataset reports (their creation, today) too.
        load_records("payments", [payment("p8", "C", paris(2025, 1, 12, 9), 25)])
        recompute_pending()
        assert (
            stored_values("revenue", "month", "channel", "unknown")[dt.date(2025, 1, 1)].value == 25
        )
        load_records(
            "customers",
            [
                {"external_id": "A", "channel": "seo", "country": "FR"},
                {"external_id": "C", "channel": "partner"},
            ],
        )
        recompute_pending()
        incremental = every_stored_value(), revenue_days(), mrr_days(), customer_labels()
        by_channel = {
            channel: stored_values("revenue", "month", "channel", channel).get(dt.date(2025, 1, 1))
            for channel in ("ads", "seo", "partner", "unknown")
        }
        arpu_fr = stored_values("arpu", "quarter", "country", "FR")[dt.date(2025, 1, 1)]
        recompute_all()
        full = every_stored_value(), revenue_days(), mrr_days(), customer_labels()
    assert by_channel["seo"].value == 100
    assert by_channel["partner"].value == 25
    assert by_channel["ads"] is None and by_channel["unknown"] is None
    # A, in France now: 170 in the quarter from one paying customer.
    assert arpu_fr.value == 170
    # A's MRR moved with it (its movement of 10 January).
    assert [(day, country, channel, new) for day, country, channel, new, *_ in full[2]] == [
        (dt.date(2025, 1, 10), "FR", "seo", 100)
    ]
    assert full[3] == [
        ("A", "FR", "seo", "unknown"),
        ("B", "unknown", "ads", "unknown"),
        ("C", "unknown", "partner", "unknown"),
    ]
    assert incremental == full


def test_mrr_days_and_neighbouring_movements_follow_segment_changes(history):
    with history.activate():
        load_records(
            "mrr_segments",
            [
                # A adds a seat on a new plan from March to May; B starts on it in April:
                # the new plan's breakdown starts in March, in both runs.
                mrr_segment("A", "2025-03-01", "2025-05-01", 50),
                mrr_segment("B", "2025-04-01", None, 50),
            ],
        )
        recompute_pending()
        incremental = every_stored_value(), mrr_days(), mrr_plan_days()
        neighbours = list(
            MrrMovement.objects.filter(customer_ref="A")
            .order_by("day")
            .values_list("day", "kind", "previous_day", "next_day")
        )
        recompute_all()
        full = every_stored_value(), mrr_days(), mrr_plan_days()
    assert neighbours == [
        (dt.date(2025, 1, 10), "new", None, dt.date(2025, 3, 1)),
        (dt.date(2025, 3, 1), "expansion", dt.date(2025, 1, 10), dt.date(2025, 5, 1)),
        (dt.date(2025, 5, 1), "contraction", dt.date(2025, 3, 1), None),
    ]
    # (new, expansion, contraction, starts, cohort change) per day.
    days = {row[0]: (row[3], row[5], row[6], row[9], row[11]) for row in full[1]}
    assert days == {
        dt.date(2025, 1, 10): (100, None, None, 1, None),
        dt.date(2025, 3, 1): (None, 50, None, 0, 50),
        dt.date(2025, 4, 1): (50, None, None, 1, None),
        dt.date(2025, 5, 1): (None, None, -50, 0, -50),
    }
    # By plan, the new plan's MRR is new business on it (A's own MRR expands).
    assert [row[:6] for row in full[2]] == [
        (dt.date(2025, 1, 10), "plan-100", 100, None, None, 100),
        (dt.date(2025, 3, 1), "plan-50", 50, None, None, 50),
        (dt.date(2025, 4, 1), "plan-50", 50, None, None, 50),
        (dt.date(2025, 5, 1), "plan-50", None, None, None, -50),
    ]
    assert ("mrr", "month", dt.date(2025, 2, 1), "plan", "plan-50") not in full[0]
    assert full[0][("mrr", "month", dt.date(2025, 3, 1), "plan", "plan-50")][0] == 50
    assert incremental == full
