"""Revenue and orders: revenue, gross revenue, ARPU, orders and average order value.

All read successful payments (charges and refunds) in the reporting currency, before tax,
each converted at the rate of its own day and placed on its day in the company's time zone:
the platform's revenue days (``REVENUE_DAYS_TABLE``), where that is done once per payment
and summed per day and customer label.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kpiplatform.sdk import (
    KPI,
    REVENUE_DAYS_TABLE,
    Grain,
    KPIContext,
    KPIResult,
    KPIValue,
    Period,
    Unit,
)

from .grouping import grouped_values, period_start_sql

PAYMENT_DATASETS = ("payments", "customers", "exchange_rates")
CUSTOMER_SEGMENTS = ("country", "channel")


# Every revenue KPI aggregates the same facts: one query per grain computes all their
# measures (shared through ``context.memo``). The platform's revenue days already hold the
# payments converted, placed on local days and summed per day and customer country and
# channel, with the customers to count among a period's distinct paying customers on each
# day (each on its first charge day of the period): every measure is a sum of a few rows.
REVENUE_DAY_FACTS = f"""
    SELECT {{period}} AS day, {{labels}},
           sum(r.net) AS net, sum(r.charged) AS charged, sum(r.payments) AS payments,
           sum(r.charges) AS charges, sum(r.orders) AS orders,
           sum(r.order_amount) FILTER (WHERE r.orders > 0) AS order_amount,
           sum(r.paying_{{grain}}) AS paying
    FROM {REVENUE_DAYS_TABLE} r
    WHERE r.day >= %(first_day)s AND r.day < %(end_day)s
    GROUP BY 1, 2, 3
"""


def revenue_day_facts(grain: Grain) -> str:
    """The revenue days of the span summed per period and customer label (no labels at day
    grain, whose values are company totals)."""
    labelled = grain != Grain.DAY
    return REVENUE_DAY_FACTS.format(
        period=period_start_sql(grain, "r.day"),
        labels="r.country, r.channel" if labelled else "'' AS country, '' AS channel",
        grain=grain.value,
    )


SHARED_MEASURES = {
    "net": "COALESCE(SUM(f.net), 0)",
    "charged": "COALESCE(SUM(f.charged), 0)",
    # Payments without a customer are not counted.
    "paying_customers": "COALESCE(SUM(f.paying), 0)",
    "payments": "SUM(f.payments)",
    "charges": "SUM(f.charges)",
    "orders": "COALESCE(SUM(f.orders), 0)",
    "order_amount": "SUM(f.order_amount)",
}


def shared_values(
    context: KPIContext,
    periods: Sequence[Period],
    measures: Sequence[str],
    result: Callable[..., KPIResult],
    present: str,
) -> list[KPIValue]:
    """``result`` over ``measures`` (names of :data:`SHARED_MEASURES`) for every period and
    segment; a segment appears only where the KPI's own facts exist (its ``present`` count
    is not zero), as if the KPI had queried its facts alone."""
    grain = periods[0].grain
    memo_key = ("revenue.shared", grain, periods[0].start, periods[-1].end)
    if memo_key not in context.memo:
        context.memo[memo_key] = grouped_values(
            context,
            periods,
            facts=revenue_day_facts(grain),
            measures=list(SHARED_MEASURES.values()),
            result=lambda *values: dict(zip(SHARED_MEASURES, values, strict=True)),
            segments=CUSTOMER_SEGMENTS,
        )
    return [
        KPIValue(value.period, result(*(value.result[m] for m in measures)), *segment)
        for value in context.memo[memo_key]
        if not (segment := (value.segment_kind, value.segment))[0] or value.result[present]
    ]


@dataclass
class Revenue(KPI):
    """Successful payments minus refunds, by the day each happened."""

    key: str = "revenue"
    name: str = "Revenue"
    description: str = (
        "Successful payments in the period minus refunds made in the period (refunds count on "
        "the day of the refund), before tax, in the reporting currency."
    )
    unit: Unit = Unit.CURRENCY
    requires: tuple[str, ...] = PAYMENT_DATASETS
    segments: tuple[str, ...] = CUSTOMER_SEGMENTS

    def compute(self, context: KPIContext, periods: Sequence[Period]) -> list[KPIValue]:
        return shared_values(context, periods, ["net"], KPIResult.amount, "payments")


@dataclass
class GrossRevenue(KPI):
    """Successful payments, refunds left out."""

    key: str = "gross_revenue"
    name: str = "Gross revenue"
    description: str = (
        "Successful payments in the period, before tax, in the reporting currency. Unlike "
        "revenue, refunds are left out."
    )
    unit: Unit = Unit.CURRENCY
    requires: tuple[str, ...] = PAYMENT_DATASETS
    segments: tuple[str, ...] = CUSTOMER_SEGMENTS

    def compute(self, context: KPIContext, periods: Sequence[Period]) -> list[KPIValue]:
        return shared_values(context, periods, ["charged"], KPIResult.amount, "charges")


@dataclass
class AverageRevenuePerUser(KPI):
    """Revenue per distinct paying customer."""

    key: str = "arpu"
    name: str = "ARPU"
    description: str = (
        "Average revenue per user: revenue in the period divided by the number of distinct "
        "customers with a successful payment in the period."
    )
    unit: Unit = Unit.CURRENCY
    requires: tuple[str, ...] = PAYMENT_DATASETS
    segments: tuple[str, ...] = CUSTOMER_SEGMENTS

    def compute(self, context: KPIContext, periods: Sequence[Period]) -> list[KPIValue]:
        def result(revenue, customers) -> KPIResult:
            return KPIResult.ratio(
                revenue, customers, "no customer made a successful payment in this period"
            )

        return shared_values(context, periods, ["net", "paying_customers"], result, "payments")


@dataclass
class Orders(KPI):
    """Successful one-off payments."""

    key: str = "orders"
    name: str = "Orders"
    description: str = (
        "The number of orders in the period: successful one-off payments, not subscription "
        "invoices."
    )
    unit: Unit = Unit.COUNT
    requires: tuple[str, ...] = PAYMENT_DATASETS
    segments: tuple[str, ...] = CUSTOMER_SEGMENTS

    def compute(self, context: KPIContext, periods: Sequence[Period]) -> list[KPIValue]:
        return shared_values(context, periods, ["orders"], KPIResult.amount, "orders")


@dataclass
class AverageOrderValue(KPI):
    """Order amounts per order; refunds do not change it."""

    key: str = "average_order_value"
    name: str = "Average order value"
    description: str = (
        "Average order value (average basket): the sum of order amounts in the period divided "
        "by the number of orders in the period, before tax. Refunds do not change it."
    )
    unit: Unit = Unit.CURRENCY
    requires: tuple[str, ...] = PAYMENT_DATASETS
    segments: tuple[str, ...] = CUSTOMER_SEGMENTS

    def compute(self, context: KPIContext, periods: Sequence[Period]) -> list[KPIValue]:
        def result(amount, orders) -> KPIResult:
            return KPIResult.ratio(amount, orders, "no orders in this period")

        return shared_values(context, periods, ["order_amount", "orders"], result, "orders")


KPIS = [Revenue(), GrossRevenue(), AverageRevenuePerUser(), Orders(), AverageOrderValue()]
