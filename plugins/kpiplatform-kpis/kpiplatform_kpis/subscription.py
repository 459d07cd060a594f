"""Subscription-revenue KPIs (docs/kpis.md, "Subscription revenue").

Every KPI here is read from the MRR movements ledger. The platform keeps its movements summed
by day and customer label (the MRR days); those, plus the movements of the customers that move
more than once in a period, are gathered once per computation run into a temporary table, and
one SQL query per grain turns that table into per-period facts (movements, MRR and active
customers at the start and the end, and the retention of the cohort active at the start), for
the whole company and by customer country and acquisition channel; each KPI is a formula over
those facts. The facts of one grain are shared by the KPIs of one computation run through
``context.memo``.
"""

# Descriptions are shown to users and use the multiplication, division and minus signs of
# docs/kpis.md.
# ruff: noqa: RUF001, RUF002

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from kpiplatform.sdk import (
    CUSTOMER_FACTS_TABLE,
    FIRST_PAID_DAYS,
    KPI,
    MRR_DAYS_TABLE,
    MRR_MOVEMENTS_TABLE,
    MRR_PLAN_DAYS_TABLE,
    Direction,
    Grain,
    KPIContext,
    KPIResult,
    KPIValue,
    Period,
    Unit,
)

from .shared_facts import covering_span, shared_table

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
    # The cohort active at the start (None in the plan breakdown, which has no retention facts).
    cohort_mrr_end: Decimal | None = Decimal(0)  # sum over the start cohort of MRR at the end
    cohort_mrr_floor: Decimal | None = Decimal(0)  # sum over the cohort of min(end, start)
    cohort_retained: Decimal | None = Decimal(0)  # start cohort members still active at the end

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


# The run's movements, read by every grain, are built once per run into a temporary table (see
# shared_facts) of two kinds of rows, up to as_of:
#
# - flow rows (no customer): the platform's MRR days, the movements summed by segment and day
#   with the retention figures of each movement as if it were its customer's only one in its
#   period. Before the table's span, where no period of the run starts, they are summed by
#   month and only count the MRR and the customers starting and churning: what the MRR and the
#   active customers at the start of a period, and the CLV's monthly churn rates, need;
# - the ledger's movements of the span that share an ISO week or a year with the customer's
#   previous or next movement (so any period but a day where a customer moves more than once),
#   with the days of those movements. In each grain, the first movement of such a customer in
#   a period carries its MRR at the start (opening), the last its MRR at the end (closing):
#   the customer's retention figures replace those its movements count in the flow rows.
#
# Movements after as_of are left out, so that none of them counts as a "next" movement.
_NO_CUSTOMER = """
       NULL::numeric AS mrr_before, NULL::numeric AS mrr_after,
       NULL::date AS previous_day, NULL::date AS next_day"""

MOVEMENTS_SQL = f"""
SELECT NULL::varchar AS source, NULL::varchar AS customer_ref, d.day, d.country, d.channel,
       d.new, d.reactivation, d.expansion, d.contraction, d.churn, d.net,
       d.starts::bigint AS starts, d.churns::bigint AS churns, d.cohort_change,
       d.cohort_loss, d.cohort_lost::bigint AS cohort_lost, {_NO_CUSTOMER}
FROM {MRR_DAYS_TABLE} d
WHERE d.day >= %(first_day)s AND d.day < %(end_day)s AND d.day <= %(as_of)s
UNION ALL
SELECT NULL, NULL, date_trunc('month', d.day::timestamp)::date, d.country, d.channel,
       NULL, NULL, NULL, NULL, NULL, sum(d.net), sum(d.starts), sum(d.churns),
       NULL, NULL, NULL, {_NO_CUSTOMER}
FROM {MRR_DAYS_TABLE} d
WHERE d.day < %(first_day)s AND d.day <= %(as_of)s
GROUP BY 3, 4, 5
UNION ALL
SELECT m.source, m.customer_ref, m.day, {{segment_columns}},
       NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       m.mrr_before, m.mrr_after, m.previous_day, m.next_day
FROM (
    SELECT m.source, m.customer_ref, m.day, m.mrr_before, m.mrr_after, m.previous_day,
           CASE WHEN m.next_day <= %(as_of)s THEN m.next_day END AS next_day
    FROM {MRR_MOVEMENTS_TABLE} m
    WHERE m.day >= %(first_day)s AND m.day < %(end_day)s AND m.day <= %(as_of)s
) m {{customers_join}}
WHERE date_trunc('year', m.day::timestamp) IN (date_trunc('year', m.previous_day::timestamp),
                                               date_trunc('year', m.next_day::timestamp))
   OR date_trunc('week', m.day::timestamp) IN (date_trunc('week', m.previous_day::timestamp),
                                               date_trunc('week', m.next_day::timestamp))
"""

# The plan ledger's movements as flow rows alone, by plan (the platform's MRR plan days, by
# plan name): the plan breakdowns are sums of movements and have no retention figures.
_PLAN_FLOW_SUMS = """
       sum(m.new) AS new, sum(m.reactivation) AS reactivation, sum(m.expansion) AS expansion,
       sum(m.contraction) AS contraction, sum(m.churn) AS churn, sum(m.net) AS net,
       sum(m.starts) AS starts, sum(m.churns) AS churns"""
PLAN_MOVEMENTS_SQL = f"""
SELECT m.day, {_PLAN_COLUMN}, {_PLAN_FLOW_SUMS}
FROM {MRR_PLAN_DAYS_TABLE} m {_PLAN_JOIN}
WHERE m.day >= %(first_day)s AND m.day < %(end_day)s AND m.day <= %(as_of)s
GROUP BY 1, 2
UNION ALL
SELECT date_trunc('month', m.day::timestamp)::date, {_PLAN_COLUMN},
       NULL::numeric, NULL::numeric, NULL::numeric, NULL::numeric, NULL::numeric,
       sum(m.net), sum(m.starts), sum(m.churns)
FROM {MRR_PLAN_DAYS_TABLE} m {_PLAN_JOIN}
WHERE m.day < %(first_day)s AND m.day <= %(as_of)s
GROUP BY 1, 2
"""

FACTS_SQL = """
WITH per_group AS (
    SELECT {segments} pstart,
           sum(new) AS new, sum(reactivation) AS reactivation, sum(expansion) AS expansion,
           sum(contraction) AS contraction, sum(churn) AS churn, sum(net) AS net,
           sum(starts) AS starts, sum(churns) AS churns,
           {retention_sums}
    FROM (
        -- The period of each flow row; NULL before the first period.
        SELECT f.*, CASE WHEN f.day >= %(first_start)s
                         THEN date_trunc(%(unit)s, f.day::timestamp)::date END AS pstart
        FROM {movements} f
        WHERE {flow_rows} AND f.day < %(last_end)s
    ) flows
    GROUP BY {segments} pstart
    {several}
),
per_period AS (
    -- pstart -infinity: everything before the first period, the MRR and active customers
    -- it starts with.
    SELECT {kind_expr} AS segment_kind, {segment_expr} AS segment,
           coalesce(pstart, '-infinity') AS pstart,
           sum(new) AS new, sum(reactivation) AS reactivation, sum(expansion) AS expansion,
           sum(contraction) AS contraction, sum(churn) AS churn, sum(net) AS net,
           sum(starts) AS starts, sum(churns) AS churns,
           sum(cohort_change) AS cohort_change, sum(cohort_loss) AS cohort_loss,
           sum(cohort_lost) AS cohort_lost
    FROM per_group
    GROUP BY {period_sets}
),
segment_keys AS (
    -- Each segment from its first period (-infinity: it had movements before the first
    -- period of the run), the company from the first.
    SELECT segment_kind, segment, min(pstart) AS first FROM (
        {total_key}
        SELECT segment_kind, segment, pstart FROM per_period
    ) keys
    GROUP BY segment_kind, segment
),
series AS (
    -- Every segment has every period from its first one on (zero rows fill the gaps), and
    -- none before: a run from any first day stores what a run over all history stores.
    SELECT segment_kind, segment, pstart,
           coalesce(sum(new), 0) AS new, coalesce(sum(reactivation), 0) AS reactivation,
           coalesce(sum(expansion), 0) AS expansion,
           coalesce(sum(contraction), 0) AS contraction,
           coalesce(sum(churn), 0) AS churn, coalesce(sum(churns), 0) AS churns,
           coalesce(sum(net), 0) AS net,
           coalesce(sum(starts), 0) - coalesce(sum(churns), 0) AS active_change,
           coalesce(sum(cohort_change), 0) AS cohort_change,
           coalesce(sum(cohort_loss), 0) AS cohort_loss,
           coalesce(sum(cohort_lost), 0) AS cohort_lost,
           sum(coalesce(sum(net), 0)) OVER w AS mrr_end,
           sum(coalesce(sum(starts), 0) - coalesce(sum(churns), 0)) OVER w AS active_end
    FROM (
        SELECT * FROM per_period
        UNION ALL
        SELECT k.segment_kind, k.segment, p.start, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
        FROM segment_keys k JOIN unnest(%(starts)s::date[]) AS p(start) ON p.start >= k.first
    ) filled
    GROUP BY segment_kind, segment, pstart
    WINDOW w AS (PARTITION BY segment_kind, segment ORDER BY pstart)
)
SELECT segment_kind, segment, pstart, new, reactivation, expansion, contraction, churn, churns,
       mrr_end - net AS mrr_start, mrr_end,
       active_end - active_change AS active_start, active_end,
       mrr_end - net + cohort_change AS cohort_mrr_end,
       mrr_end - net + cohort_loss AS cohort_mrr_floor,
       active_end - active_change - cohort_lost AS cohort_retained
FROM series
WHERE pstart > '-infinity'
"""

# The customers that move more than once in a period of the grain: each one's retention
# figures, less those its movements count in the flow rows.
SEVERAL_MOVES_SQL = """
    UNION ALL
    SELECT {segments} pstart, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
           CASE WHEN opening > 0 THEN closing - opening ELSE 0 END
               - coalesce(counted_change, 0),
           CASE WHEN opening > 0 THEN least(closing - opening, 0) ELSE 0 END
               - coalesce(counted_loss, 0),
           CASE WHEN opening > 0 AND closing = 0 THEN 1 ELSE 0 END - counted_lost
    FROM (
        SELECT {segments} pstart, sum(opening) AS opening, sum(closing) AS closing,
               sum(mrr_after - mrr_before) FILTER (WHERE mrr_before > 0) AS counted_change,
               sum(least(mrr_after - mrr_before, 0)) FILTER (WHERE mrr_before > 0)
                   AS counted_loss,
               count(*) FILTER (WHERE mrr_before > 0 AND mrr_after = 0) AS counted_lost
        FROM (
            SELECT m.*,
                   CASE WHEN coalesce(m.previous_day, '-infinity') < m.pstart
                        THEN m.mrr_before END AS opening,
                   CASE WHEN coalesce(date_trunc(%(unit)s, m.next_day::timestamp)::date,
                                      'infinity') > m.pstart
                        THEN m.mrr_after END AS closing
            FROM (
                SELECT m.*, date_trunc(%(unit)s, m.day::timestamp)::date AS pstart
                FROM {movements} m
                WHERE m.customer_ref IS NOT NULL
                  AND m.day >= %(first_start)s AND m.day < %(last_end)s
            ) m
        ) m
        WHERE opening IS NULL OR closing IS NULL
        GROUP BY source, customer_ref, {segments} pstart
    ) customers
"""


def period_facts(
    context: KPIContext, periods: Sequence[Period], by_plan: bool = False
) -> dict[SegmentKey, dict[Period, PeriodFacts]]:
    """The facts of every period in ``periods`` (contiguous, one grain), by segment: the
    company and its country and channel breakdowns, or (``by_plan``) the plan breakdown from
    the plan ledger, where a customer counts once in each of its plans. The plan breakdown
    has no retention facts (``None``): no KPI breaks retention down by plan."""
    if not periods:
        return {}
    if by_plan and periods[0].grain not in SEGMENTED_GRAINS:
        return {}
    return _facts(context, periods, periods, by_plan=by_plan, retention=not by_plan)


def monthly_churn_rates(
    context: KPIContext, periods: Sequence[Period]
) -> dict[SegmentKey, dict[dt.date, Decimal]]:
    """The defined monthly customer churn rates (churned customers ÷ active customers at the
    start of the month) by segment and month start, for at least every month that the CLV
    of ``periods`` looks back on (the 12 months ending with each period). The months run
    from 11 months before the span of the run's movements table, so that one query usually
    serves every grain of the run."""
    needed_first = Period.containing(Grain.MONTH, periods[0].last_day).start
    needed_last = Period.containing(Grain.MONTH, periods[-1].last_day).start
    needed_first = _months_before(needed_first, 11)
    key = ("subscription.monthly_churn_rates", context.as_of)
    known = context.memo.get(key)
    if known is not None and known[0] <= needed_first and needed_last <= known[1]:
        return known[2]
    first, end = covering_span(periods)
    first_month = _months_before(Period.containing(Grain.MONTH, first).start, 11)
    last_month = Period.containing(Grain.MONTH, end - dt.timedelta(days=1)).start
    if known is not None:
        first_month, last_month = min(first_month, known[0]), max(last_month, known[1])
    months = Period.between(Grain.MONTH, first_month, last_month)
    facts = _facts(context, months, periods, by_plan=False, retention=False)
    rates = {
        segment: {
            month.start: f.churned_customers / f.active_start
            for month, f in series.items()
            if f.active_start > 0
        }
        for segment, series in facts.items()
    }
    context.memo[key] = (first_month, last_month, rates)
    return rates


def _months_before(month_start: dt.date, months: int) -> dt.date:
    period = Period.containing(Grain.MONTH, month_start)
    for _ in range(months):
        period = period.previous()
    return period.start


def _facts(
    context: KPIContext,
    periods: Sequence[Period],
    run_periods: Sequence[Period],
    by_plan: bool,
    retention: bool,
) -> dict[SegmentKey, dict[Period, PeriodFacts]]:
    """The facts of ``periods`` from the run's movements table (``run_periods``, periods of
    the run, tell the span it covers); without ``retention``, the movements alone."""
    grain = periods[0].grain
    memo_key = (
        "subscription.period_facts",
        by_plan,
        retention,
        grain,
        periods[0].start,
        periods[-1].end,
        context.as_of,
    )
    if memo_key in context.memo:
        return context.memo[memo_key]
    kinds: Sequence[str] = (PLAN,) if by_plan else SEGMENT_KINDS
    segments = "".join(f"{kind}, " for kind in kinds) if grain in SEGMENTED_GRAINS else ""
    period_sets, kind_expr, segment_expr = _segment_sets(grain, "pstart", kinds, not by_plan)
    movements = _movements_table(context, run_periods, by_plan)
    # A customer moves at most once a day (the ledger has a row per customer and day).
    several = retention and grain != Grain.DAY
    sql = FACTS_SQL.format(
        segments=segments,
        retention_sums=(
            "sum(cohort_change) AS cohort_change, sum(cohort_loss) AS cohort_loss, "
            "sum(cohort_lost) AS cohort_lost"
            if retention
            else "NULL::numeric AS cohort_change, NULL::numeric AS cohort_loss, "
            "NULL::numeric AS cohort_lost"
        ),
        movements=movements,
        flow_rows="TRUE" if by_plan else "f.customer_ref IS NULL",
        several=SEVERAL_MOVES_SQL.format(segments=segments, movements=movements) if several else "",
        period_sets=period_sets,
        kind_expr=kind_expr,
        segment_expr=segment_expr,
        total_key=(
            ""
            if by_plan
            else "SELECT '' AS segment_kind, '' AS segment, '-infinity'::date AS pstart UNION ALL"
        ),
    )
    rows = context.query(
        sql,
        {
            "unit": _trunc_unit(grain),
            "first_start": periods[0].start,
            "last_end": periods[-1].end,
            "starts": [period.start for period in periods],
        },
    )
    by_start = {period.start: period for period in periods}
    facts: dict[SegmentKey, dict[Period, PeriodFacts]] = {}
    for kind, segment, start, *numbers in rows:
        flows = [Decimal(number) for number in numbers[:10]]
        cohort = [Decimal(number) for number in numbers[10:]] if retention else [None] * 3
        facts.setdefault((kind, segment), {})[by_start[start]] = PeriodFacts(*flows, *cohort)
    context.memo[memo_key] = facts
    return facts


def _movements_table(context: KPIContext, periods: Sequence[Period], by_plan: bool) -> str:
    """The run's temporary table of the ledger's movements up to as_of, covering ``periods``:
    :data:`MOVEMENTS_SQL` or, ``by_plan``, :data:`PLAN_MOVEMENTS_SQL`."""
    if by_plan:
        name, sql = "kpi_mrr_plan_movements", PLAN_MOVEMENTS_SQL
    else:
        name = "kpi_mrr_movements"
        sql = MOVEMENTS_SQL.format(
            segment_columns=_segment_columns(), customers_join=_customer_segments_join("m")
        )
    return shared_table(context, name, sql, periods, {"as_of": context.as_of})


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


# New customers also break down by campaign (the customers' own, or their lead's): with the
# campaign's spend, that is its customer acquisition cost.
NEW_CUSTOMER_SEGMENT_KINDS = (*SEGMENT_KINDS, "campaign")

NEW_CUSTOMERS_SQL = """
WITH tagged AS (
    SELECT date_trunc(%(unit)s, f.first_paid_day::timestamp)::date AS pstart, {segment_columns}
    FROM {customer_facts} f
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
        period_sets, kind_expr, segment_expr = _segment_sets(
            grain, "pstart", NEW_CUSTOMER_SEGMENT_KINDS
        )
        sql = NEW_CUSTOMERS_SQL.format(
            customer_facts=CUSTOMER_FACTS_TABLE,
            # The customer facts carry the customers' labels.
            segment_columns=", ".join(
                f"f.{kind}" if segmented else f"'' AS {kind}" for kind in NEW_CUSTOMER_SEGMENT_KINDS
            ),
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
    segments=NEW_CUSTOMER_SEGMENT_KINDS,
)


@dataclass
class CustomerLifetimeValueKPI(KPI):
    """ARPA × gross margin ÷ the mean of the defined monthly customer churn rates of the 12
    months ending with the period."""

    def compute(self, context: KPIContext, periods: Sequence[Period]) -> Iterable[KPIValue]:
        facts = period_facts(context, periods)
        rates = monthly_churn_rates(context, periods)
        margin = Decimal(context.gross_margin)
        for key, series in facts.items():
            monthly_rates = rates.get(key, {})
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
