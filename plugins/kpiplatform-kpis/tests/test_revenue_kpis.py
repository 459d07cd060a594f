"""Revenue and orders against a hand-worked example (docs/kpis.md, "Revenue and orders")."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from kpiplatform_kpis.revenue import (
    AverageOrderValue,
    AverageRevenuePerUser,
    GrossRevenue,
    Orders,
    Revenue,
)

from kpiplatform.data.models import Customer, ExchangeRate, Payment
from kpiplatform.kpis.context import SqlKPIContext
from kpiplatform.sdk import Grain

PARIS = ZoneInfo("Europe/Paris")
JAN_1, APR_30 = dt.date(2026, 1, 1), dt.date(2026, 4, 30)


def paris(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=PARIS)


def eur_company() -> SqlKPIContext:
    return SqlKPIContext(
        reporting_currency="EUR", time_zone="Europe/Paris", gross_margin=Decimal("1")
    )


@pytest.fixture
def shop(canonical):
    """A shop reporting in EUR, January to April 2026.

    Rates: 1 USD = 0.90 EUR from 1 Dec 2025, 0.80 EUR from 15 Feb 2026; no GBP rate at all.

    | payment | customer | when | amount | counts |
    | p1 | fr | 10 Jan | 100.00 EUR invoice (+20.00 tax) | Jan charge 100 |
    | p2 | fr | 20 Jan | 50.00 EUR order | Jan charge 50, order |
    | p3 | us | 25 Jan | 201.10 USD order | Jan charge 201.10 x 0.90 = 180.99, order |
    | r1 | us | 20 Feb | 50.00 USD refund of p3 | Feb refund 50 x 0.80 = 40 (rate of 20 Feb) |
    | p4 | fr | 15 Jan | 999.99 EUR failed | never |
    | p5 | us | 5 Feb | 300.00 GBP order | left out: no GBP rate |
    | p6 | fr | 10 Feb | 30.00 EUR order | Feb charge 30, order |
    | p7 | fr | 12 Jan | 77.00 EUR, deleted upstream | never |
    | p8 | ghost (no customer row) | 5 Mar | 10.00 EUR invoice | Mar charge 10 |
    """
    canonical(Customer, external_id="fr", country="FR", channel="ads")
    canonical(Customer, external_id="us", country="US", channel="seo")
    canonical(ExchangeRate, day=dt.date(2025, 12, 1), currency="USD", rate=Decimal("0.9"))
    canonical(ExchangeRate, day=dt.date(2026, 2, 15), currency="USD", rate=Decimal("0.8"))

    def pay(customer, when, amount_minor, currency="EUR", **fields):
        canonical(
            Payment,
            customer_ref=customer,
            occurred_at=when,
            amount_minor=amount_minor,
            currency=currency,
            **fields,
        )

    pay("fr", paris(2026, 1, 10, 10), 10000, tax_minor=2000)
    pay("fr", paris(2026, 1, 20, 12), 5000, is_order=True)
    pay("us", paris(2026, 1, 25, 9), 20110, "USD", is_order=True)
    pay("us", paris(2026, 2, 20, 9), 5000, "USD", kind="refund")
    pay("fr", paris(2026, 1, 15, 9), 99999, status="failed")
    pay("us", paris(2026, 2, 5, 9), 30000, "GBP", is_order=True)
    pay("fr", paris(2026, 2, 10, 9), 3000, is_order=True)
    pay("fr", paris(2026, 1, 12, 9), 7700, deleted_at=paris(2026, 1, 13))
    pay("ghost", paris(2026, 3, 5, 9), 1000)


def test_revenue_subtracts_refunds_on_the_refund_day_at_that_days_rate(shop, compute):
    revenue = compute(Revenue(), eur_company(), Grain.MONTH, JAN_1, APR_30)
    # Jan: 100 + 50 + 180.99 = 330.99 (tax, the failed and the deleted payment left out),
    # exact to the cent: no binary floating point on the way.
    assert revenue.total("2026-01").value == Decimal("330.99")
    # Feb: the 30.00 order minus the refund of 50 USD at 0.80 = 40; the GBP order has no rate.
    assert revenue.total("2026-02").value == Decimal("-10")
    assert revenue.total("2026-03").value == Decimal("10")
    assert revenue.total("2026-04").value == Decimal("0")
    # Segments follow the customer's country and channel; segments add up to the total.
    assert set(revenue.segments("2026-01", "country")) == {"FR", "US"}
    assert revenue.segment("2026-01", "country", "FR").value == Decimal("150")
    assert revenue.segment("2026-01", "country", "US").value == Decimal("180.99")
    assert revenue.segment("2026-02", "country", "US").value == Decimal("-40")
    assert revenue.segment("2026-01", "channel", "ads").value == Decimal("150")
    assert revenue.segment("2026-01", "channel", "seo").value == Decimal("180.99")
    # A payment whose customer is unknown is grouped under "unknown".
    assert revenue.segment("2026-03", "country", "unknown").value == Decimal("10")


def test_gross_revenue_leaves_refunds_out(shop, compute):
    gross = compute(GrossRevenue(), eur_company(), Grain.MONTH, JAN_1, APR_30)
    assert gross.total("2026-01").value == Decimal("330.99")
    assert gross.total("2026-02").value == Decimal("30")  # the refund of 40 is not subtracted
    assert gross.total("2026-03").value == Decimal("10")


def test_arpu_divides_revenue_by_distinct_paying_customers(shop, compute):
    arpu = compute(AverageRevenuePerUser(), eur_company(), Grain.MONTH, JAN_1, APR_30)
    jan = arpu.total("2026-01")
    # Jan: 330.99 over 2 paying customers (fr, us) = 165.495.
    assert (jan.value, jan.numerator, jan.denominator) == (
        Decimal("165.495"),
        Decimal("330.99"),
        2,
    )
    # Feb: -10 over 1 paying customer (fr); us only had a refund and a payment with no rate.
    assert arpu.total("2026-02").value == Decimal("-10")
    assert arpu.segment("2026-01", "country", "US").value == Decimal("180.99")
    april = arpu.total("2026-04")
    assert april.value is None
    assert april.reason == "no customer made a successful payment in this period"


def test_orders_and_average_order_value_ignore_refunds_and_unconvertible_orders(shop, compute):
    orders = compute(Orders(), eur_company(), Grain.MONTH, JAN_1, APR_30)
    aov = compute(AverageOrderValue(), eur_company(), Grain.MONTH, JAN_1, APR_30)
    # Jan: orders p2 (50) and p3 (180.99): 2 orders, (50 + 180.99) / 2 = 115.495.
    assert orders.total("2026-01").value == 2
    assert aov.total("2026-01").value == Decimal("115.495")
    # Feb: only p6 (30); the GBP order has no rate and the refund of p3 changes nothing.
    assert orders.total("2026-02").value == 1
    assert aov.total("2026-02").value == Decimal("30")
    # Mar: p8 is a subscription invoice, not an order.
    assert orders.total("2026-03").value == 0
    march = aov.total("2026-03")
    assert march.value is None
    assert march.reason == "no orders in this period"
    assert aov.segment("2026-01", "channel", "seo").value == Decimal("180.99")


def test_quarter_grain_sums_the_months_in_one_query(shop, compute):
    with CaptureQueriesContext(connection) as queries:
        revenue = compute(Revenue(), eur_company(), Grain.QUARTER, JAN_1, APR_30)
    # Both quarters and every segment come from one query over the revenue days (the other
    # queries build the payment and revenue days, as the engine does once per run).
    kpi_queries = [q for q in queries.captured_queries if "GROUPING SETS" in q["sql"]]
    assert len(kpi_queries) == 1
    assert "kpis_revenue_day" in kpi_queries[0]["sql"]
    # Q1: 330.99 - 10 + 10 = 330.99; Q2: nothing yet.
    assert revenue.total("2026-Q1").value == Decimal("330.99")
    assert revenue.total("2026-Q2").value == Decimal("0")


# The same three instants seen by companies in two time zones (January: Paris is UTC+1,
# Los Angeles UTC-8):
#   A = 2026-01-31T22:30Z: 31 Jan 23:30 in Paris, 31 Jan 14:30 in Los Angeles.
#   B = 2026-02-01T07:30Z:  1 Feb 08:30 in Paris, 31 Jan 23:30 in Los Angeles.
#   C = 2026-02-01T08:30Z:  1 Feb 09:30 in Paris,  1 Feb 00:30 in Los Angeles.
# Payments of 1.00 (A), 2.00 (B) and 4.00 (C) EUR make each month's total name its payments.
INSTANTS = [
    (dt.datetime(2026, 1, 31, 22, 30, tzinfo=dt.UTC), 100),
    (dt.datetime(2026, 2, 1, 7, 30, tzinfo=dt.UTC), 200),
    (dt.datetime(2026, 2, 1, 8, 30, tzinfo=dt.UTC), 400),
]


@pytest.mark.parametrize(
    ("time_zone", "january", "february"),
    [
        # A at 23:30 local on 31 Jan stays in January; B is already 1 Feb: February.
        ("Europe/Paris", Decimal("1"), Decimal("6")),
        # B at 23:30 local on 31 Jan stays in January for Los Angeles, where Paris has
        # February; C, half past midnight local on 1 Feb, is February.
        ("America/Los_Angeles", Decimal("3"), Decimal("4")),
    ],
)
def test_a_payment_counts_in_the_month_of_its_local_day(
    time_zone, january, february, canonical, compute
):
    for when, amount_minor in INSTANTS:
        canonical(
            Payment, customer_ref="c", occurred_at=when, amount_minor=amount_minor, currency="EUR"
        )
    company = SqlKPIContext(reporting_currency="EUR", time_zone=time_zone, gross_margin=Decimal(1))
    revenue = compute(Revenue(), company, Grain.MONTH, JAN_1, dt.date(2026, 2, 28))
    assert revenue.total("2026-01").value == january
    assert revenue.total("2026-02").value == february


def test_weeks_are_iso_weeks_starting_on_monday(shop, compute):
    revenue = compute(Revenue(), eur_company(), Grain.WEEK, JAN_1, dt.date(2026, 1, 31))
    # p1 on Saturday 10 Jan is in the week of Monday 5 Jan (W02): 100.
    assert revenue.total("2026-W02").value == Decimal("100")
    # p2 on Tuesday 20 Jan and p3 on Sunday 25 Jan share the week of Monday 19 Jan (W04):
    # 50 + 180.99 = 230.99.
    assert revenue.total("2026-W04").value == Decimal("230.99")
    assert revenue.total("2026-W03").value == Decimal("0")
