"""Acquisition and marketing: spend, CAC, LTV:CAC, CAC payback, leads, CPL, lead conversion,
marketing ROI and deal win rate."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kpiplatform.sdk import (
    CUSTOMER_FACTS_TABLE,
    FIRST_PAID_DAYS,
    KPI,
    LEAD_CUSTOMERS,
    LEAD_CUSTOMERS_TABLE,
    REVENUE_TO_DATE,
    Direction,
    KPIContext,
    KPIResult,
    KPIValue,
    Period,
    Unit,
)

from .grouping import dependency_values, grouped_values, in_range_sql, segment_sql
from .shared_facts import shared_table

SPEND_DATASETS = ("spend", "web_traffic", "exchange_rates")
MARKETING_SEGMENTS = ("channel", "campaign")


def spend_days_sql(context: KPIContext) -> str:
    """Spend dated in the span, plus the ad cost that web traffic sources report, summed per
    day, channel and campaign, each entry converted at the rate of its day; entries with no
    exchange rate for their day are left out."""
    spend = context.money_sql("s.amount_minor", "s.currency", "s.spent_on")
    ad_cost = context.money_sql("w.ad_cost_minor", "w.currency", "w.day")
    return f"""
        SELECT day, channel, campaign, sum(spend) AS spend FROM (
            SELECT s.spent_on AS day, {segment_sql("s.channel")} AS channel,
                   {segment_sql("s.campaign")} AS campaign, {spend} AS spend
            FROM data_spend s
            WHERE s.deleted_at IS NULL
              AND s.spent_on >= %(first_day)s AND s.spent_on < %(end_day)s
            UNION ALL
            SELECT w.day, {segment_sql("w.channel")}, {segment_sql("w.campaign")}, {ad_cost}
            FROM data_web_traffic w
            WHERE w.deleted_at IS NULL AND w.ad_cost_minor <> 0
              AND w.day >= %(first_day)s AND w.day < %(end_day)s
        ) converted
        WHERE spend IS NOT NULL
        GROUP BY day, channel, campaign
    """


def spend_facts(context: KPIContext, periods: Sequence[Period]) -> str:
    """Spend in the periods' span per day, channel and campaign (:func:`spend_days_sql`, built
    once per run). Columns: day, channel, campaign, spend, leads (0), revenue (0), so it unions
    with lead and revenue facts."""
    table = shared_table(context, "kpi_spend_days", spend_days_sql(context), periods)
    return f"""
        SELECT day, channel, campaign, spend, 0 AS leads, 0::numeric AS revenue
        FROM {table} WHERE day >= %(first_day)s AND day < %(end_day)s
    """


def lead_days_sql(context: KPIContext) -> str:
    """Leads created in the span per local day, channel and campaign, with how many of them
    have become customers (by the time the run builds the table): by their own CRM stage,
    or through the customer of any source they are matched to (the platform's lead
    customers: same e-mail, or their customer_ref)."""
    day = context.local_date_sql("l.created_at")
    return f"""
        SELECT {day} AS day, {segment_sql("l.channel")} AS channel,
               {segment_sql("l.campaign")} AS campaign, count(*) AS leads,
               count(*) FILTER (WHERE l.customer_at IS NOT NULL AND l.customer_at <= now())
                   AS converted
        FROM {LEAD_CUSTOMERS_TABLE} l
        WHERE {in_range_sql("l.created_at")}
        GROUP BY 1, 2, 3
    """


def lead_facts(context: KPIContext, periods: Sequence[Period]) -> str:
    """Leads created in the periods' span per day, channel and campaign
    (:func:`lead_days_sql`, built once per run). Columns: day, channel, campaign, spend (0),
    leads, converted."""
    table = shared_table(context, "kpi_lead_days", lead_days_sql(context), periods)
    return f"""
        SELECT day, channel, campaign, 0::numeric AS spend, leads, converted
        FROM {table} WHERE day >= %(first_day)s AND day < %(end_day)s
    """


ACQUIRED_DAYS_SQL = f"""
    SELECT f.first_paid_day AS day, f.channel, f.campaign, sum(f.revenue_to_date) AS revenue
    FROM {CUSTOMER_FACTS_TABLE} f
    WHERE f.first_paid_day >= %(first_day)s AND f.first_paid_day < %(end_day)s
    GROUP BY 1, 2, 3
"""


def acquired_customer_facts(context: KPIContext, periods: Sequence[Period]) -> str:
    """Customers whose first paid day (first day with MRR > 0 or first successful payment,
    whichever is earlier) falls in the span, with their revenue to date (successful payments
    minus refunds, before tax, each at the rate of its day), from the platform's customer
    facts, summed per first paid day and the customers' acquisition channel and campaign (the
    facts carry the labels; built once per run); in the columns of the spend facts."""
    table = shared_table(context, "kpi_acquired_days", ACQUIRED_DAYS_SQL, periods)
    return f"""
        SELECT day, channel, campaign, 0::numeric AS spend, 0 AS leads, revenue
        FROM {table} WHERE day >= %(first_day)s AND day < %(end_day)s
    """


SPEND_SQL = "COALESCE(SUM(f.spend), 0)"
LEADS_SQL = "COALESCE(SUM(f.leads), 0)"


@dataclass
class Spend(KPI):
    """Marketing and sales spend dated in the period."""

    key: str = "spend"
    name: str = "Spend"
    description: str = (
        "Marketing and sales spend dated in the period (manual entries, CSV imports and ad-cost "
        "data from sources), in the reporting currency."
    )
    unit: Unit = Unit.CURRENCY
    # Spend is a cost: at equal results, less is better.
    direction: Direction = Direction.LOWER_IS_BETTER
    requires: tuple[str, ...] = SPEND_DATASETS
    segments: tuple[str, ...] = MARKETING_SEGMENTS

    def compute(self, context: KPIContext, periods: Sequence[Period]) -> list[KPIValue]:
        return grouped_values(
            context,
            periods,
            facts=spend_facts(context, periods),
            measures=[SPEND_SQL],
            result=KPIResult.amount,
            segments=self.segments,
        )


@dataclass
class CustomerAcquisitionCost(KPI):
    """Spend per new customer."""

    key: str = "cac"
    name: str = "CAC"
    description: str = (
        "Customer acquisition cost: spend in the period divided by new customers in the period "
        "(customers whose first paid day falls in the period)."
    )
    unit: Unit = Unit.CURRENCY
    direction: Direction = Direction.LOWER_IS_BETTER
    requires: tuple[str, ...] = SPEND_DATASETS
    depends_on: tuple[str, ...] = ("new_customers",)

    def compute(self, context: KPIContext, periods: Sequence[Period]) -> list[KPIValue]:
        totals = grouped_values(
            context,
            periods,
            facts=spend_facts(context, periods),
            measures=[SPEND_SQL],
            result=KPIResult.amount,
        )
        spend = {value.period: value.result.value for value in totals}
        new_customers = dependency_values(context, "new_customers", periods, "New customers")
        values = []
        for period in periods:
            customers = new_customers[period]
            if customers.value is None:
                result = KPIResult(None, spend[period], None, customers.reason)
            else:
                result = KPIResult.ratio(
                    spend[period], customers.value, "no new customers in this period"
                )
            values.append(KPIValue(period, result))
        return values


@dataclass
class LifetimeValueToCac(KPI):
    """CLV divided by CAC."""

    key: str = "ltv_to_cac"
    name: str = "LTV:CAC"
    description: str = (
        "Customer lifetime value divided by customer acquisition cost, both for the period."
    )
    unit: Unit = Unit.RATIO
    requires: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ("clv", "cac")

    def compute(self, context: KPIContext, periods: Sequence[Period]) -> list[KPIValue]:
        clv = dependency_values(context, "clv", periods, "CLV")
        cac = dependency_values(context, "cac", periods, "CAC")
        values = []
        for period in periods:
            if clv[period].value is None:
                result = KPIResult(None, reason=f"no CLV: {clv[period].reason}")
            elif cac[period].value is None:
                result = KPIResult(None, reason=f"no CAC: {cac[period].reason}")
            else:
                result = KPIResult.ratio(
                    clv[period].value, cac[period].value, "CAC is zero (no spend in this period)"
                )
            values.append(KPIValue(period, result))
        return values


@dataclass
class CacPaybackMonths(KPI):
    """Months of gross-margin ARPA needed to recover CAC."""

    key: str = "cac_payback_months"
    name: str = "CAC payback"
    description: str = (
        "CAC payback in months: customer acquisition cost divided by the gross-margin "
        "contribution of an account per month (ARPA multiplied by the gross margin)."
    )
    unit: Unit = Unit.MONTHS
    direction: Direction = Direction.LOWER_IS_BETTER
    requires: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ("cac", "arpa")

    def compute(self, context: KPIContext, periods: Sequence[Period]) -> list[KPIValue]:
        cac = dependency_values(context, "cac", periods, "CAC")
        arpa = dependency_values(context, "arpa", periods, "ARPA")
        values = []
        for period in periods:
            if cac[period].value is None:
                result = KPIResult(None, reason=f"no CAC: {cac[period].reason}")
            elif arpa[period].value is None:
                result = KPIResult(None, reason=f"no ARPA: {arpa[period].reason}")
            else:
                result = KPIResult.ratio(
                    cac[period].value,
                    arpa[period].value * context.gross_margin,
                    "ARPA multiplied by the gross margin is zero",
                )
            values.append(KPIValue(period, result))
        return values


@dataclass
class NewLeads(KPI):
    """Leads created in the period."""

    key: str = "new_leads"
    name: str = "New leads"
    description: str = "Leads (CRM contacts that reached the lead stage) created in the period."
    unit: Unit = Unit.COUNT
    requires: tuple[str, ...] = ("leads",)
    segments: tuple[str, ...] = MARKETING_SEGMENTS

    def compute(self, context: KPIContext, periods: Sequence[Period]) -> list[KPIValue]:
        return grouped_values(
            context,
            periods,
            facts=lead_facts(context, periods),
            measures=[LEADS_SQL],
            result=KPIResult.amount,
            segments=self.segments,
        )


@dataclass
class CostPerLead(KPI):
    """Spend per new lead, matched by channel and campaign."""

    key: str = "cost_per_lead"
    name: str = "Cost per lead"
    description: str = (
        "Cost per lead (CPL): spend in the period divided by new leads in the period."
    )
    unit: Unit = Unit.CURRENCY
    direction: Direction = Direction.LOWER_IS_BETTER
    requires: tuple[str, ...] = (*SPEND_DATASETS, "leads")
    segments: tuple[str, ...] = MARKETING_SEGMENTS

    def compute(self, context: KPIContext, periods: Sequence[Period]) -> list[KPIValue]:
        def result(spend, leads) -> KPIResult:
            return KPIResult.ratio(spend, leads, "no new leads in this period")

        facts = (
            f"SELECT day, channel, campaign, spend, leads FROM ({spend_facts(context, periods)}) s "
            f"UNION ALL "
            f"SELECT day, channel, campaign, spend, leads FROM ({lead_facts(context, periods)}) l"
        )
        return grouped_values(
            context,
            periods,
            facts=facts,
            measures=[SPEND_SQL, LEADS_SQL],
            result=result,
            segments=self.segments,
        )


@dataclass
class LeadConversionRate(KPI):
    """Share of the period's leads that have become customers."""

    key: str = "lead_conversion_rate"
    name: str = "Lead-to-customer conversion rate"
    description: str = (
        "Leads created in the period that have become customers (by the time of computation) "
        "divided by leads created in the period. Recent periods are still maturing; the value "
        "is recomputed."
    )
    unit: Unit = Unit.PERCENT
    # A customer's first payment converts the leads it matches, whenever they were created.
    requires: tuple[str, ...] = ("leads", LEAD_CUSTOMERS)
    segments: tuple[str, ...] = MARKETING_SEGMENTS

    def compute(self, context: KPIContext, periods: Sequence[Period]) -> list[KPIValue]:
        def result(converted, leads) -> KPIResult:
            return KPIResult.ratio(converted, leads, "no new leads in this period")

        return grouped_values(
            context,
            periods,
            facts=lead_facts(context, periods),
            measures=["COALESCE(SUM(f.converted), 0)", LEADS_SQL],
            result=result,
            segments=self.segments,
        )


@dataclass
class MarketingRoi(KPI):
    """Return on the period's spend from the customers it acquired."""

    key: str = "marketing_roi"
    name: str = "Marketing ROI"
    description: str = (
        "(Revenue to date from customers acquired in the period - spend in the period) divided "
        "by spend in the period. Customers acquired in the period are those whose first paid "
        "day falls in it. Broken down by acquisition channel and campaign, matching spend by "
        "the same keys."
    )
    unit: Unit = Unit.PERCENT
    # Revenue to date of an old cohort moves with every new payment of its customers.
    requires: tuple[str, ...] = (
        *SPEND_DATASETS,
        "payments",
        "mrr_segments",
        "customers",
        FIRST_PAID_DAYS,
        REVENUE_TO_DATE,
    )
    segments: tuple[str, ...] = MARKETING_SEGMENTS

    def compute(self, context: KPIContext, periods: Sequence[Period]) -> list[KPIValue]:
        def result(revenue, spend) -> KPIResult:
            revenue, spend = revenue or 0, spend or 0
            return KPIResult.ratio(revenue - spend, spend, "no spend in this period")

        facts = (
            f"SELECT day, channel, campaign, spend, revenue "
            f"FROM ({spend_facts(context, periods)}) s "
            f"UNION ALL "
            f"SELECT day, channel, campaign, spend, revenue "
            f"FROM ({acquired_customer_facts(context, periods)}) a"
        )
        return grouped_values(
            context,
            periods,
            facts=facts,
            measures=["COALESCE(SUM(f.revenue), 0)", SPEND_SQL],
            result=result,
            segments=self.segments,
        )


@dataclass
class DealWinRate(KPI):
    """Won deals among the deals closed in the period."""

    key: str = "deal_win_rate"
    name: str = "Deal win rate"
    description: str = (
        "Deals won in the period divided by deals closed (won or lost) in the period."
    )
    unit: Unit = Unit.PERCENT
    requires: tuple[str, ...] = ("deals",)

    def compute(self, context: KPIContext, periods: Sequence[Period]) -> list[KPIValue]:
        def result(won, closed) -> KPIResult:
            return KPIResult.ratio(won, closed, "no deals closed in this period")

        day = context.local_date_sql("d.closed_at")
        facts = f"""
            SELECT {day} AS day, d.status
            FROM data_deals d
            WHERE d.deleted_at IS NULL AND d.status IN ('won', 'lost')
              AND d.closed_at IS NOT NULL AND {in_range_sql("d.closed_at")}
        """
        return grouped_values(
            context,
            periods,
            facts=facts,
            measures=["COUNT(*) FILTER (WHERE f.status = 'won')", "COUNT(*)"],
            result=result,
        )


KPIS = [
    Spend(),
    CustomerAcquisitionCost(),
    LifetimeValueToCac(),
    CacPaybackMonths(),
    NewLeads(),
    CostPerLead(),
    LeadConversionRate(),
    MarketingRoi(),
    DealWinRate(),
]
