"""Subscription-revenue KPIs (KPI-DEFINITIONS.md, "Subscription revenue").

Every KPI here is read from the MRR movements ledger. One SQL query per grain turns the ledger
into per-period facts (movements, MRR and active customers at the start and the end, and the
retention of the cohort active at the start), for the whole company and by customer country and
acquisition channel; each KPI is a formula over those facts. The facts of one grain are shared
by the KPIs of one computation run through ``context.memo``.
"""

# Descriptions are shown to users and use the multiplication, division and minus signs of
# KPI-DEFINITIONS.md.
# ruff: noqa: RUF001, RUF002

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from kpiplatform.sdk import (
    CUSTOMER_FACTS_TABLE,
    FIRST_PAID_DAYS,
    KPI,
    MRR_MOVEMENTS_TABLE,
    MRR_PLAN_MOVEMENTS_TABLE,
    Direction,
    Grain,
    KPIContext,
    KPIResult,
    KPIValue,
    Period,
    Unit,
)

# Customer attributes the movement KPIs break down by (from the customers dataset).
SEGMENT_KINDS = ("country", "channel")
# The plan breakdown (from the plan ledger), for the KPIs where it means something.
PLAN = "plan"
PLAN_SEGMENT_KINDS = (*SEGMENT_KINDS, PLAN)
# Day values are not broken down: one row per day and segment would dwarf everything else.
SEGMENTED_GRAINS = (Grain.WEEK, Grain.MONTH, Grain.QUARTER, Grain.YEAR)
UNKNOWN_SEGMENT = "unknown"

NO_CUSTOMERS_AT_START = "no active customers at the start of the period"
NO_CUSTOMERS_AT_END = "no active customers at the end of the period"
NO_MRR_AT_START = "no MRR at the start of the period"
NO_CHURN = "no churn observed"

SegmentKey = tuple[str, str]  # (segment_kind, segment); ("", "") is the whole company


@dataclass(frozen=True)
class PeriodFacts:
    """What the ledger says about one period (and segment); money in reporting currency."""

    new: Decimal = Decimal(0)
    reactivation: Decimal = Decimal(0)
    expansion: Decimal = Decimal(0)
    contraction: Decimal = Decimal(0)  # negative
    churn: Decimal = Decimal(0)  # negative
    churned_customers: Decimal = Decimal(0)
    mrr_start: Decimal = Decimal(0)
    mrr_end: Decimal = Decimal(0)
    active_start: Decimal = Decimal(0)
    active_end: Decimal = Decimal(0)
    cohort_mrr_end: Decimal = Decimal(0)  # sum over the start cohort of MRR at the end
    cohort_mrr_floor: Decimal = Decimal(0)  # sum over the start cohort of min(end, start)
    cohort_retained: Decimal = Decimal(0)  # start cohort members still active at the end

    @property
    def net_new(self) -> Decimal:
        return self.new + self.reactivation + self.expansion + self.contraction + self.churn


def _segment_sets(
    grain: Grain, extra: str, kinds: Sequence[str] = SEGMENT_KINDS, total: bool = True
) -> tuple[str, str, str]:
    """GROUPING SETS over the period column ``extra`` (or none) and each of ``kinds`` (day
    values are not broken down), with the company total or not; and the kind/segment exprs."""
    segmented = grain in SEGMENTED_GRAINS
    sets = ["(" + extra + ")" if extra else "()"] if total else []
    if segmented:
        sets += [f"({kind}{', ' + extra if extra else ''})" for kind in kinds]
    kind_cases = " ".join(f"WHEN GROUPING({k}) = 0 THEN '{k}'" for k in kinds)
    value_cases = " ".join(f"WHEN GROUPING({k}) = 0 THEN {k}" for k in kinds)
    if not segmented:
        return f"GROUPING SETS ({', '.join(sets)})", "''", "''"
    return (
        f"GROUPING SETS ({', '.join(sets)})",
        f"(CASE {kind_cases} ELSE '' END)",
        f"(CASE {value_cases} ELSE '' END)",
    )


def _customer_segments_join(alias: str) -> str:
    return (
        f"LEFT JOIN data_customers cu ON cu.source = {alias}.source "
        f"AND cu.external_id = {alias}.customer_ref AND cu.deleted_at IS NULL"
    )


def _segment_columns() -> str:
    return ", ".join(
        f"coalesce(nullif(cu.{kind}, ''), '{UNKNOWN_SEGMENT}') AS {kind}" for kind in SEGMENT_KINDS
    )


# A plan is labelled with its name when the plans dataset knows it, else with its reference.
_PLAN_JOIN = (
    "LEFT JOIN data_plans pl ON pl.source = m.source AND pl.external_id = m.plan_ref "
    "AND pl.deleted_at IS NULL"
)
_PLAN_COLUMN = (
    f"coalesce(nullif(pl.name, ''), nullif(m.plan_ref, ''), '{UNKNOWN_SEGMENT}') AS {PLAN}"
)


FACTS_SQL = """
WITH moved AS (
    SELECT {key_columns}, m.day, m.kind, m.amount, m.mrr_before, m.mrr_after,
           {segment_columns}
    FROM {ledger} m {customers_join}
    WHERE m.day < %(last_end)s AND m.day <= %(as_of)s
),
per_customer AS (
    -- One row per customer and period with movements: its MRR at the start and the end.
    SELECT {key}, {segment_kinds},
           date_trunc(%(unit)s, day::timestamp)::date AS pstart,
           sum(amount) FILTER (WHERE kind = 'new') AS new,
           sum(amount) FILTER (WHERE kind = 'reactivation') AS reactivation,
           sum(amount) FILTER (WHERE kind = 'expansion') AS expansion,
           sum(amount) FILTER (WHERE kind = 'contraction') AS contraction,
           sum(amount) FILTER (WHERE kind = 'churn') AS churn,
           sum(amount) AS net,
           count(*) FILTER (WHERE kind IN ('new', 'reactivation')) AS starts,
           count(*) FILTER (WHERE kind = 'churn') AS churns,
           (array_agg(mrr_before ORDER BY day))[1] AS c_start,
           (array_agg(mrr_after ORDER BY day DESC))[1] AS c_end
    FROM moved
    WHERE day >= %(first_start)s
    GROUP BY {key}, {segment_kinds}, pstart
),
per_period AS (
    SELECT {kind_expr} AS segment_kind, {segment_expr} AS segment, pstart,
           sum(new) AS new, sum(reactivation) AS reactivation, sum(expansion) AS expansion,
           sum(contraction) AS contraction, sum(churn) AS churn, sum(net) AS net,
           sum(starts) AS starts, sum(churns) AS churns,
           sum(c_end - c_start) FILTER (WHERE c_start > 0) AS cohort_change,
           sum(least(c_end - c_start, 0)) FILTER (WHERE c_start > 0) AS cohort_loss,
           count(*) FILTER (WHERE c_start > 0 AND c_end = 0) AS cohort_lost
    FROM per_customer
    GROUP BY {period_sets}
),
before_first AS (
    -- Everything before the first period: MRR and active customers it starts with.
    SELECT {kind_expr} AS segment_kind, {segment_expr} AS segment,
           sum(amount) AS mrr,
           sum(CASE WHEN kind IN ('new', 'reactivation') THEN 1
                    WHEN kind = 'churn' THEN -1 ELSE 0 END) AS active
    FROM moved
    WHERE day < %(first_start)s
    GROUP BY {base_sets}
),
segment_keys AS (
    {total_key}
    SELECT segment_kind, segment FROM per_period
    UNION SELECT segment_kind, segment FROM before_first
),
grid AS (
    SELECT k.segment_kind, k.segment, p.start
    FROM segment_keys k CROSS JOIN unnest(%(starts)s::date[]) AS p(start)
),
series AS (
    SELECT g.segment_kind, g.segment, g.start,
           coalesce(a.new, 0) AS new, coalesce(a.reactivation, 0) AS reactivation,
           coalesce(a.expansion, 0) AS expansion, coalesce(a.contraction, 0) AS contraction,
           coalesce(a.churn, 0) AS churn, coalesce(a.churns, 0) AS churns,
           coalesce(a.net, 0) AS net,
           coalesce(a.starts, 0) - coalesce(a.churns, 0) AS active_change,
           coalesce(a.cohort_change, 0) AS cohort_change,
           coalesce(a.cohort_loss, 0) AS cohort_loss,
           coalesce(a.cohort_lost, 0) AS cohort_lost,
           coalesce(b.mrr, 0) + sum(coalesce(a.net, 0)) OVER w AS mrr_end,
           coalesce(b.active, 0)
               + sum(coalesce(a.starts, 0) - coalesce(a.churns, 0)) OVER w AS active_end
    FROM grid g
    LEFT JOIN per_period a
      ON a.segment_kind = g.segment_kind AND a.segment = g.segment AND a.pstart = g.start
    LEFT JOIN before_first b ON b.segment_kind = g.segment_kind AND b.segment = g.segment
    WINDOW w AS (PARTITION BY g.segment_kind, g.segment ORDER BY g.start)
)
SELECT segment_kind, segment, start, new, reactivation, expansion, contraction, churn, churns,
       mrr_end - net AS mrr_start, mrr_end,
       active_end - active_change AS active_start, active_end,
       mrr_end - net + cohort_change AS cohort_mrr_end,
       mrr_end - net + cohort_loss AS cohort_mrr_floor,
       active_end - active_change - cohort_lost AS cohort_retained
FROM series
"""


def period_facts(
    context: KPIContext, periods: Sequence[Period], by_plan: bool = False
) -> dict[SegmentKey, dict[Period, PeriodFacts]]:
    """The facts of every period in ``periods`` (contiguous, one grain), by segment: the
    company and its country and channel breakdowns, or (``by_plan``) the plan breakdown from
    the plan ledger, where a customer counts once in each of its plans."""
    if not periods:
        return {}
    grain = periods[0].grain
    segmented = grain in SEGMENTED_GRAINS
    if by_plan and not segmented:
        return {}
    memo_key = (
        "subscription.period_facts",
        by_plan,
        grain,
        periods[0].start,
        periods[-1].end,
        context.as_of,
    )
    if memo_key in context.memo:
        return context.memo[memo_key]
    if by_plan:
        kinds: Sequence[str] = (PLAN,)
        key = "source, customer_ref, plan_ref"
        ledger, join, columns = MRR_PLAN_MOVEMENTS_TABLE, _PLAN_JOIN, _PLAN_COLUMN
    else:
        kinds = SEGMENT_KINDS
        key = "source, customer_ref"
        ledger = MRR_MOVEMENTS_TABLE
        join = _customer_segments_join("m") if segmented else ""
        columns = _segment_columns() if segmented else "'' AS country, '' AS channel"
    period_sets, kind_expr, segment_expr = _segment_sets(grain, "pstart", kinds, not by_plan)
    base_sets, _, _ = _segment_sets(grain, "", kinds, not by_plan)
    sql = FACTS_SQL.format(
        ledger=ledger,
        key=key,
        key_columns=", ".join(f"m.{column}" for column in key.split(", ")),
        segment_columns=columns,
        customers_join=join,
        segment_kinds=", ".join(kinds),
        period_sets=period_sets,
        base_sets=base_sets,
        kind_expr=kind_expr,
        segment_expr=segment_expr,
        total_key="" if by_plan else "SELECT '' AS segment_kind, '' AS segment UNION",
    )
    rows = context.query(
        sql,
        {
            "unit": _trunc_unit(grain),
            "first_start": periods[0].start,
            "last_end": periods[-1].end,
            "as_of": context.as_of,
            "starts": [period.start for period in periods],
        },
    )
    by_start = {period.start: period for period in periods}
    facts: dict[SegmentKey, dict[Period, PeriodFacts]] = {}
    for kind, segment, start, *numbers in rows:
        facts.setdefault((kind, segment), {})[by_start[start]] = PeriodFacts(
            *(Decimal(number) for number in numbers)
        )
    context.memo[memo_key] = facts
    return facts


def _trunc_unit(grain: Grain) -> str:
    # PostgreSQL's date_trunc('week') is the ISO week, starting on Monday.
    return grain.value


@dataclass
class MovementKPI(KPI):
    """A subscription KPI that is a formula over the period facts of the ledger."""

    formula: Callable[[PeriodFacts], KPIResult] = field(default=lambda facts: KPIResult(None))
    requires: tuple[str, ...] = ("mrr_segments", "customers", "exchange_rates")
    segments: tuple[str, ...] = SEGMENT_KINDS

    def compute(self, context: KPIContext, periods: Sequence[Period]) -> Iterable[KPIValue]:
        facts = dict(period_facts(context, periods))
        if PLAN in self.segments:
            facts.update(period_facts(context, periods, by_plan=True))
        for (kind, segment), series in facts.items():
            for period, period_facts_ in series.items():
                yield KPIValue(period, self.formula(period_facts_), kind, segment)


# How the plan breakdowns count, appended to the descriptions users read.
BY_PLAN_MRR = " By plan: the MRR of the customers' segments on each plan."
BY_PLAN_MOVEMENTS = (
    " By plan, each customer's MRR on each plan is classified on its own: moving to another "
    "plan is churn on the old plan and new business (or reactivation) on the new one."
)
BY_PLAN_ACTIVE = (
    " By plan, a customer counts in the active customers of every plan it has MRR on, so a "
    "customer on two plans counts in each."
)


def _amount(value: Decimal) -> KPIResult:
    return KPIResult.amount(value)


MRR = MovementKPI(
    key="mrr",
    name="MRR",
    description=("Monthly recurring revenue: total MRR at the end of the period." + BY_PLAN_MRR),
    unit=Unit.CURRENCY,
    formula=lambda f: _amount(f.mrr_end),
    segments=PLAN_SEGMENT_KINDS,
)
ARR = MovementKPI(
    key="arr",
    name="ARR",
    description=("Annual recurring revenue: 12 × MRR at the end of the period." + BY_PLAN_MRR),
    unit=Unit.CURRENCY,
    formula=lambda f: _amount(12 * f.mrr_end),
    segments=PLAN_SEGMENT_KINDS,
)
NEW_BUSINESS_MRR = MovementKPI(
    key="new_business_mrr",
    name="New business MRR",
    description=(
        "Sum of new-business movements in the period: a customer who never had MRR before "
        "goes from 0 to b > 0 (amount b)." + BY_PLAN_MOVEMENTS
    ),
    unit=Unit.CURRENCY,
    formula=lambda f: _amount(f.new),
    segments=PLAN_SEGMENT_KINDS,
)
EXPANSION_MRR = MovementKPI(
    key="expansion_mrr",
    name="Expansion MRR",
    description=(
        "Sum of expansion movements in the period: MRR rises from a > 0 to b (b − a)."
        + BY_PLAN_MOVEMENTS
    ),
    unit=Unit.CURRENCY,
    formula=lambda f: _amount(f.expansion),
    segments=PLAN_SEGMENT_KINDS,
)
CONTRACTION_MRR = MovementKPI(
    key="contraction_mrr",
    name="Contraction MRR",
    description=(
        "Sum of contraction movements in the period: MRR falls from a to b with 0 < b < a "
        "(b − a, negative)." + BY_PLAN_MOVEMENTS
    ),
    unit=Unit.CURRENCY,
    formula=lambda f: _amount(f.contraction),
    segments=PLAN_SEGMENT_KINDS,
)
CHURNED_MRR = MovementKPI(
    key="churned_mrr",
    name="Churned MRR",
    description=(
        "Sum of churn movements in the period: MRR falls from a > 0 to 0 (−a)." + BY_PLAN_MOVEMENTS
    ),
    unit=Unit.CURRENCY,
    formula=lambda f: _amount(f.churn),
    segments=PLAN_SEGMENT_KINDS,
)
REACTIVATION_MRR = MovementKPI(
    key="reactivation_mrr",
    name="Reactivation MRR",
    description=(
        "Sum of reactivation movements in the period: a customer who had MRR before goes "
        "from 0 to b > 0 (amount b). Reactivation has no time limit." + BY_PLAN_MOVEMENTS
    ),
    unit=Unit.CURRENCY,
    formula=lambda f: _amount(f.reactivation),
    segments=PLAN_SEGMENT_KINDS,
)
NET_NEW_MRR = MovementKPI(
    key="net_new_mrr",
    name="Net new MRR",
    description=(
        "Sum of all MRR movements in the period = MRR(end) − MRR(start)."
        " By plan: the change of the plan's MRR."
    ),
    unit=Unit.CURRENCY,
    formula=lambda f: _amount(f.net_new),
    segments=PLAN_SEGMENT_KINDS,
)
ACTIVE_CUSTOMERS = MovementKPI(
    key="active_customers",
    name="Active customers",
    description="Customers with MRR > 0 at the end of the period." + BY_PLAN_ACTIVE,
    unit=Unit.COUNT,
    formula=lambda f: _amount(f.active_end),
    segments=PLAN_SEGMENT_KINDS,
)
CHURNED_CUSTOMERS = MovementKPI(
    key="churned_customers",
    name="Churned customers",
    description="The number of churn movements in the period.",
    unit=Unit.COUNT,
    direction=Direction.LOWER_IS_BETTER,
    formula=lambda f: _amount(f.churned_customers),
)
CUSTOMER_CHURN_RATE = MovementKPI(
    key="customer_churn_rate",
    name="Customer churn rate",
    description="Churned customers in the period ÷ active customers at the start of the period.",
    unit=Unit.PERCENT,
    direction=Direction.LOWER_IS_BETTER,
    formula=lambda f: KPIResult.ratio(f.churned_customers, f.active_start, NO_CUSTOMERS_AT_START),
)
GROSS_MRR_CHURN_RATE = MovementKPI(
    key="gross_mrr_churn_rate",
    name="Gross MRR churn rate",
    description="−(churn + contraction movements in the period) ÷ MRR at the start of the period.",
    unit=Unit.PERCENT,
    direction=Direction.LOWER_IS_BETTER,
    formula=lambda f: KPIResult.ratio(-(f.churn + f.contraction), f.mrr_start, NO_MRR_AT_START),
)
NET_MRR_CHURN_RATE = MovementKPI(
    key="net_mrr_churn_rate",
    name="Net MRR churn rate",
    description=(
        "−(churn + contraction + expansion + reactivation movements in the period) ÷ MRR at "
        "the start of the period (negative when expansion outweighs losses)."
    ),
    unit=Unit.PERCENT,
    direction=Direction.LOWER_IS_BETTER,
    formula=lambda f: KPIResult.ratio(
        -(f.churn + f.contraction + f.expansion + f.reactivation), f.mrr_start, NO_MRR_AT_START
    ),
)
NRR = MovementKPI(
    key="nrr",
    name="Net revenue retention",
    description=(
        "For the customers active at the start of the period: their MRR at the end ÷ their "
        "MRR at the start."
    ),
    unit=Unit.PERCENT,
    formula=lambda f: KPIResult.ratio(f.cohort_mrr_end, f.mrr_start, NO_MRR_AT_START),
)
GRR = MovementKPI(
    key="grr",
    name="Gross revenue retention",
    description=(
        "For the customers active at the start of the period: the sum of min(MRR at the end, "
        "MRR at the start) ÷ their MRR at the start."
    ),
    unit=Unit.PERCENT,
    formula=lambda f: KPIResult.ratio(f.cohort_mrr_floor, f.mrr_start, NO_MRR_AT_START),
)
CUSTOMER_RETENTION_RATE = MovementKPI(
    key="customer_retention_rate",
    name="Customer retention rate",
    description=(
        "Of the customers active at the start of the period, the share still active at the "
        "end. Measured on the cohort (churn is measured on events), so it is not the exact "
        "complement of the churn rate when a customer churns and returns within the period."
    ),
    unit=Unit.PERCENT,
    formula=lambda f: KPIResult.ratio(f.cohort_retained, f.active_start, NO_CUSTOMERS_AT_START),
)
ARPA = MovementKPI(
    key="arpa",
    name="ARPA",
    description=(
        "Average revenue per account: MRR at the end of the period ÷ active customers at the "
        "end of the period." + BY_PLAN_ACTIVE
    ),
    unit=Unit.CURRENCY,
    formula=lambda f: KPIResult.ratio(f.mrr_end, f.active_end, NO_CUSTOMERS_AT_END),
    segments=PLAN_SEGMENT_KINDS,
)


NEW_CUSTOMERS_SQL = """
WITH tagged AS (
    SELECT date_trunc(%(unit)s, f.first_paid_day::timestamp)::date AS pstart, {segment_columns}
    FROM {customer_facts} f {customers_join}
    WHERE f.first_paid_day >= %(first_start)s AND f.first_paid_day < %(last_end)s
      AND f.first_paid_day <= %(as_of)s
)
SELECT {kind_expr}, {segment_expr}, pstart, count(*)
FROM tagged
GROUP BY {period_sets}
"""


@dataclass
class NewCustomersKPI(KPI):
    """Customers whose first paid day (first day with MRR > 0, or first successful payment,
    whichever is earlier) falls in the period."""

    def compute(self, context: KPIContext, periods: Sequence[Period]) -> Iterable[KPIValue]:
        grain = periods[0].grain
        segmented = grain in SEGMENTED_GRAINS
        period_sets, kind_expr, segment_expr = _segment_sets(grain, "pstart")
        sql = NEW_CUSTOMERS_SQL.format(
            customer_facts=CUSTOMER_FACTS_TABLE,
            segment_columns=_segment_columns() if segmented else "'' AS country, '' AS channel",
            customers_join=_customer_segments_join("f") if segmented else "",
            kind_expr=kind_expr,
            segment_expr=segment_expr,
            period_sets=period_sets,
        )
        rows = context.query(
            sql,
            {
                "unit": _trunc_unit(grain),
                "first_start": periods[0].start,
                "last_end": periods[-1].end,
                "as_of": context.as_of,
            },
        )
        # The company total for every period; a segment where it acquired customers (as
        # the other breakdowns, so a partial recompute stores what a full one does).
        totals = {start: count for kind, _, start, count in rows if not kind}
        for period in periods:
            yield KPIValue(period, KPIResult.amount(totals.get(period.start, 0)))
        by_start = {period.start: period for period in periods}
        for kind, segment, start, count in rows:
            if kind:
                yield KPIValue(by_start[start], KPIResult.amount(count), kind, segment)


NEW_CUSTOMERS = NewCustomersKPI(
    key="new_customers",
    name="New customers",
    description=(
        "Customers whose first paid day (first day with MRR > 0, or first successful payment, "
        "whichever is earlier) falls in the period."
    ),
    unit=Unit.COUNT,
    # The platform's customer facts hold each customer's first paid day.
    requires=("mrr_segments", "payments", "customers", FIRST_PAID_DAYS),
    segments=SEGMENT_KINDS,
)


@dataclass
class CustomerLifetimeValueKPI(KPI):
    """ARPA × gross margin ÷ the mean of the defined monthly customer churn rates of the 12
    months ending with the period."""

    def compute(self, context: KPIContext, periods: Sequence[Period]) -> Iterable[KPIValue]:
        facts = period_facts(context, periods)
        first_month = Period.containing(Grain.MONTH, periods[0].last_day)
        for _ in range(11):
            first_month = first_month.previous()
        months = Period.between(Grain.MONTH, first_month.start, periods[-1].last_day)
        month_facts = period_facts(context, months)
        margin = Decimal(context.gross_margin)
        for key, series in facts.items():
            monthly_rates = {
                month.start: f.churned_customers / f.active_start
                for month, f in month_facts.get(key, {}).items()
                if f.active_start > 0
            }
            for period, f in series.items():
                yield KPIValue(period, _clv(f, period, monthly_rates, margin), *key)


def _clv(facts: PeriodFacts, period: Period, monthly_rates: dict, margin: Decimal) -> KPIResult:
    last_month = Period.containing(Grain.MONTH, period.last_day)
    window = [last_month]
    for _ in range(11):
        window.append(window[-1].previous())
    rates = [monthly_rates[month.start] for month in window if month.start in monthly_rates]
    if facts.active_end == 0:
        return KPIResult(None, None, None, NO_CUSTOMERS_AT_END)
    value_per_month = facts.mrr_end / facts.active_end * margin
    mean_rate = sum(rates, Decimal(0)) / len(rates) if rates else Decimal(0)
    if mean_rate == 0:
        return KPIResult(None, value_per_month, mean_rate, NO_CHURN)
    return KPIResult(value_per_month / mean_rate, value_per_month, mean_rate)


CLV = CustomerLifetimeValueKPI(
    key="clv",
    name="Customer lifetime value",
    description=(
        "ARPA × gross margin ÷ average monthly customer churn rate, where the gross margin is "
        "a company setting (default 100 %) and the churn rate is the mean of the defined "
        "monthly customer churn rates of the 12 months ending with the period (fewer if less "
        'history exists). No churn in that window gives no value ("no churn observed").'
    ),
    unit=Unit.CURRENCY,
    requires=("mrr_segments", "customers", "exchange_rates"),
    segments=SEGMENT_KINDS,
)

KPIS: list[KPI] = [
    MRR,
    ARR,
    NEW_BUSINESS_MRR,
    EXPANSION_MRR,
    CONTRACTION_MRR,
    CHURNED_MRR,
    REACTIVATION_MRR,
    NET_NEW_MRR,
    ACTIVE_CUSTOMERS,
    NEW_CUSTOMERS,
    CHURNED_CUSTOMERS,
    CUSTOMER_CHURN_RATE,
    GROSS_MRR_CHURN_RATE,
    NET_MRR_CHURN_RATE,
    NRR,
    GRR,
    CUSTOMER_RETENTION_RATE,
    ARPA,
    CLV,
]
