"""One SQL query per KPI for every period of a grain, with its segment breakdowns.

A KPI module describes its *facts*: a SQL select with one row per record, a ``day`` column
(the calendar day in the company's time zone), one text column per segment kind and the
columns its measures read. :func:`grouped_values` joins the facts to the requested periods
(passed as two date arrays) and aggregates them with ``GROUPING SETS``: the total of each
period and each segment breakdown come back from the same query.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from kpiplatform.sdk import Grain, KPIContext, KPIResult, KPIValue, Period

# Records without a value for a segment kind are grouped under this label, so the segments
# of a period always add up to its total.
UNKNOWN_SEGMENT = "unknown"

PERIODS_SQL = "unnest(%(period_starts)s::date[], %(period_ends)s::date[]) AS p(starts_on, ends_on)"


def segment_sql(expression: str) -> str:
    """SQL for a segment label: the text of ``expression``, or ``unknown`` when empty."""
    return f"COALESCE(NULLIF({expression}, ''), '{UNKNOWN_SEGMENT}')"


def in_range_sql(timestamp: str) -> str:
    """SQL keeping timestamps between local midnight of ``first_day`` and of ``end_day``.

    Only narrows the scan (the index on the timestamp can serve it); the exact cut is the
    join of the local ``day`` to the periods.
    """
    return (
        f"{timestamp} >= (%(first_day)s::timestamp AT TIME ZONE %(time_zone)s) "
        f"AND {timestamp} < (%(end_day)s::timestamp AT TIME ZONE %(time_zone)s)"
    )


def period_start_sql(grain: Grain, day: str) -> str:
    """SQL for the first day of the ``grain`` period containing the date ``day``.

    PostgreSQL's ``date_trunc`` fields match the grains (``week`` is the ISO week, starting
    Monday), so facts join their period on equality (a hash join) instead of a range.
    """
    return f"date_trunc('{Grain(grain).value}', ({day})::timestamp)::date"


def base_params(context: KPIContext, periods: Sequence[Period]) -> dict[str, Any]:
    """Query parameters every facts query may use: the periods, their span, the time zone."""
    return {
        "period_starts": [period.start for period in periods],
        "period_ends": [period.end for period in periods],
        "first_day": min(period.start for period in periods),
        "end_day": max(period.end for period in periods),
        "time_zone": context.time_zone,
    }


def grouped_values(
    context: KPIContext,
    periods: Sequence[Period],
    *,
    facts: str,
    measures: Sequence[str],
    result: Callable[..., KPIResult],
    segments: Sequence[str] = (),
    params: dict[str, Any] | None = None,
) -> list[KPIValue]:
    """Aggregate ``facts`` over every period and segment in one query.

    ``measures`` are SQL aggregates over the facts (aliased ``f``); ``result`` turns their
    values into a :class:`KPIResult` and is called with ``None`` for each measure when a
    period has no facts at all, so every period gets a value (zero or undefined).
    """
    if not periods:
        return []
    grain = periods[0].grain
    if any(period.grain != grain for period in periods):
        raise ValueError("compute the periods of one grain at a time")
    if grain == Grain.DAY:
        # Daily values are company totals: one value per day and segment would dwarf the
        # rest (as for the subscription KPIs); weeks and longer periods carry breakdowns.
        segments = ()
    by_start = {period.start: period for period in periods}
    grouping_sets = ", ".join(["(p.starts_on)", *(f"(p.starts_on, f.{kind})" for kind in segments)])
    if segments:
        kind_sql = (
            "CASE "
            + " ".join(f"WHEN GROUPING(f.{kind}) = 0 THEN '{kind}'" for kind in segments)
            + " ELSE '' END"
        )
        segment_value_sql = (
            "CASE "
            + " ".join(f"WHEN GROUPING(f.{kind}) = 0 THEN f.{kind}" for kind in segments)
            + " ELSE '' END"
        )
    else:
        kind_sql = segment_value_sql = "''"
    sql = (
        f"WITH f AS ({facts}) "
        f"SELECT p.starts_on, {kind_sql}, {segment_value_sql}, {', '.join(measures)} "
        f"FROM {PERIODS_SQL} JOIN f ON p.starts_on = {period_start_sql(grain, 'f.day')} "
        f"GROUP BY GROUPING SETS ({grouping_sets})"
    )
    rows = context.query(sql, {**base_params(context, periods), **(params or {})})

    totals: dict[Period, KPIResult] = {}
    breakdown: list[KPIValue] = []
    for starts_on, kind, segment, *values in rows:
        period = by_start[starts_on]
        if kind:
            breakdown.append(KPIValue(period, result(*values), kind, segment))
        else:
            totals[period] = result(*values)
    nothing = [None] * len(measures)
    values = [KPIValue(period, totals.get(period) or result(*nothing)) for period in periods]
    breakdown.sort(key=lambda value: (value.period, value.segment_kind, value.segment))
    return values + breakdown


def dependency_values(
    context: KPIContext, key: str, periods: Sequence[Period], name: str
) -> dict[Period, KPIResult]:
    """Values of the KPI ``key`` for ``periods``; missing periods get an undefined result."""
    known = context.values_of(key, periods)
    missing = KPIResult(None, reason=f"{name} is not available for this period")
    return {period: known.get(period, missing) for period in periods}
