"""Revenue and orders: revenue, gross revenue, ARPU, orders and average order value.

All read successful payments (charges and refunds) in the reporting currency, before tax,
each converted at the rate of its own day and placed on its day in the company's time zone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kpiplatform.sdk import KPI, KPIContext, KPIResult, KPIValue, Period, Unit

from .grouping import grouped_values, in_range_sql, period_start_sql, segment_sql
from .shared_facts import shared_table

PAYMENT_DATASETS = ("payments", "customers", "exchange_rates")
CUSTOMER_SEGMENTS = ("country", "channel")


def payment_days_sql(context: KPIContext) -> str:
    """Successful payments in the span, summed per customer, local day, kind and order flag,
    each converted at the rate of its own day. ``amount`` and ``converted`` cover the payments
    with a known rate; ``payments`` counts them all."""
    day = context.local_date_sql("pay.occurred_at")
    amount = context.money_sql("pay.amount_minor", "pay.currency", day)
    return f"""
        SELECT source, customer_ref, day, kind, is_order, sum(amount) AS amount,
               count(amount) AS converted, count(*) AS payments
        FROM (
            SELECT pay.source, pay.customer_ref, {day} AS day, pay.kind, pay.is_order,
                   {amount} AS amount
            FROM data_payments pay
            WHERE pay.deleted_at IS NULL AND pay.status = 'succeeded'
              AND {in_range_sql("pay.occurred_at")}
            -- OFFSET 0 keeps the subquery apart, so the conversion runs once per payment.
            OFFSET 0
        ) converted
        GROUP BY source, customer_ref, day, kind, is_order
    """


def payment_days(context: KPIContext, periods: Sequence[Period]) -> str:
    """The run's temporary table of :func:`payment_days_sql`, covering ``periods``."""
    return shared_table(context, "kpi_payment_days", payment_days_sql(context), periods)


def payment_facts(context: KPIContext, periods: Sequence[Period]) -> str:
    """Successful charges and refunds in the periods' span, converted to the reporting
    currency, per customer, day, kind and order flag; payments with no exchange rate for
    their day are left out."""
    return f"""
        SELECT d.day, d.amount, d.converted, d.kind, d.is_order,
               CASE WHEN d.customer_ref <> ''
                    THEN d.source || '/' || d.customer_ref END AS customer,
               {segment_sql("c.country")} AS country,
               {segment_sql("c.channel")} AS channel
        FROM {payment_days(context, periods)} d
        LEFT JOIN data_customers c
               ON c.source = d.source AND c.external_id = d.customer_ref
              AND c.deleted_at IS NULL
        WHERE d.converted > 0 AND d.day >= %(first_day)s AND d.day < %(end_day)s
    """


# Every revenue KPI aggregates the same payment facts: one query per grain computes all their
# measures (shared through ``context.memo``), instead of one scan of the payments per KPI.
# The facts are first summed per customer and period, so distinct paying customers are a
# plain count (hash aggregation) instead of COUNT(DISTINCT) sorts per grouping set.
ORDER = "f.kind = 'charge' AND f.is_order"
PER_CUSTOMER_FACTS = f"""
    SELECT min(f.day) AS day, f.customer, f.country, f.channel,
           -- Refunds count on the day of the refund, with a negative sign.
           sum(CASE WHEN f.kind = 'refund' THEN -f.amount ELSE f.amount END) AS net,
           sum(f.amount) FILTER (WHERE f.kind = 'charge') AS charged,
           sum(f.converted) AS payments,
           COALESCE(sum(f.converted) FILTER (WHERE f.kind = 'charge'), 0) AS charges,
           COALESCE(sum(f.converted) FILTER (WHERE {ORDER}), 0) AS orders,
           sum(f.amount) FILTER (WHERE {ORDER}) AS order_amount
    FROM ({{facts}}) f
    GROUP BY {{period}}, f.customer, f.country, f.channel
"""
SHARED_MEASURES = {
    "net": "COALESCE(SUM(f.net), 0)",
    "charged": "COALESCE(SUM(f.charged), 0)",
    # Payments without a customer are one group with a NULL customer: not counted.
    "paying_customers": "COUNT(f.customer) FILTER (WHERE f.charges > 0)",
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
            facts=PER_CUSTOMER_FACTS.format(
                facts=payment_facts(context, periods), period=period_start_sql(grain, "f.day")
            ),
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
