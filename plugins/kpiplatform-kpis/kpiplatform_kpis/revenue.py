"""Revenue and orders: revenue, gross revenue, ARPU, orders and average order value.

All read successful payments (charges and refunds) in the reporting currency, before tax,
each converted at the rate of its own day and placed on its day in the company's time zone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kpiplatform.sdk import KPI, KPIContext, KPIResult, KPIValue, Period, Unit

from .grouping import grouped_values, in_range_sql, segment_sql

PAYMENT_DATASETS = ("payments", "customers", "exchange_rates")
CUSTOMER_SEGMENTS = ("country", "channel")


def payment_facts(context: KPIContext, where: str = "TRUE") -> str:
    """One row per successful charge or refund in the periods' span, converted to the
    reporting currency; payments with no exchange rate for their day are left out."""
    day = context.local_date_sql("pay.occurred_at")
    amount = context.money_sql("pay.amount_minor", "pay.currency", day)
    return f"""
        SELECT * FROM (
            SELECT {day} AS day, {amount} AS amount, pay.kind, pay.is_order,
                   CASE WHEN pay.customer_ref <> ''
                        THEN pay.source || '/' || pay.customer_ref END AS customer,
                   {segment_sql("c.country")} AS country,
                   {segment_sql("c.channel")} AS channel
            FROM data_payments pay
            LEFT JOIN data_customers c
                   ON c.source = pay.source AND c.external_id = pay.customer_ref
                  AND c.deleted_at IS NULL
            WHERE pay.deleted_at IS NULL AND pay.status = 'succeeded'
              AND {in_range_sql("pay.occurred_at")} AND ({where})
        ) converted
        WHERE amount IS NOT NULL
    """


# Refunds count on the day of the refund, with a negative sign.
NET_AMOUNT_SQL = "COALESCE(SUM(CASE WHEN f.kind = 'refund' THEN -f.amount ELSE f.amount END), 0)"
CHARGED_SQL = "COALESCE(SUM(f.amount) FILTER (WHERE f.kind = 'charge'), 0)"
PAYING_CUSTOMERS_SQL = "COUNT(DISTINCT f.customer) FILTER (WHERE f.kind = 'charge')"
ORDERS_WHERE = "pay.kind = 'charge' AND pay.is_order"


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
        return grouped_values(
            context,
            periods,
            facts=payment_facts(context),
            measures=[NET_AMOUNT_SQL],
            result=KPIResult.amount,
            segments=self.segments,
        )


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
        return grouped_values(
            context,
            periods,
            facts=payment_facts(context, "pay.kind = 'charge'"),
            measures=[CHARGED_SQL],
            result=KPIResult.amount,
            segments=self.segments,
        )


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

        return grouped_values(
            context,
            periods,
            facts=payment_facts(context),
            measures=[NET_AMOUNT_SQL, PAYING_CUSTOMERS_SQL],
            result=result,
            segments=self.segments,
        )


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
        return grouped_values(
            context,
            periods,
            facts=payment_facts(context, ORDERS_WHERE),
            measures=["COUNT(*)"],
            result=KPIResult.amount,
            segments=self.segments,
        )


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

        return grouped_values(
            context,
            periods,
            facts=payment_facts(context, ORDERS_WHERE),
            measures=["SUM(f.amount)", "COUNT(*)"],
            result=result,
            segments=self.segments,
        )


KPIS = [Revenue(), GrossRevenue(), AverageRevenuePerUser(), Orders(), AverageOrderValue()]
