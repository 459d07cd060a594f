"""How far a KPI value is from its goal: the one place pages, API, alerts and reports ask.

A goal for one dated period wins over the standing goal of its grain (``period_start`` null).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal

from django.db.models import Q

from kpiplatform.goals.models import Goal
from kpiplatform.sdk import Direction


def goal_for(
    kpi_key: str,
    grain: str,
    period_start: dt.date | None,
    segment_kind: str = "",
    segment_value: str = "",
) -> Goal | None:
    """The goal of that KPI for the period starting ``period_start``: the dated one if any,
    else the standing one of the grain, else None."""
    dated = Q(period_start=period_start) if period_start is not None else Q(pk__in=[])
    candidates = Goal.objects.filter(
        dated | Q(period_start__isnull=True),
        kpi_key=kpi_key,
        grain=str(grain),
        segment_kind=segment_kind,
        segment_value=segment_value,
    )
    # NULLS LAST: the dated goal first.
    return candidates.order_by("period_start").first()


def goals_for_periods(
    kpi_key: str,
    grain: str,
    period_starts: Iterable[dt.date],
    segment_kind: str = "",
    segment_value: str = "",
) -> dict[dt.date, Goal]:
    """``goal_for`` for many periods at once (one query), keyed by period start; periods
    without a goal are left out."""
    starts = list(period_starts)
    goals = list(
        Goal.objects.filter(
            Q(period_start__in=starts) | Q(period_start__isnull=True),
            kpi_key=kpi_key,
            grain=str(grain),
            segment_kind=segment_kind,
            segment_value=segment_value,
        )
    )
    standing = next((g for g in goals if g.period_start is None), None)
    dated = {g.period_start: g for g in goals if g.period_start is not None}
    found = {}
    for start in starts:
        goal = dated.get(start, standing)
        if goal is not None:
            found[start] = goal
    return found


def progress(goal: Goal, value: Decimal | None, direction: Direction | str) -> dict:
    """``{"target", "ratio", "met"}`` for ``value`` against ``goal``.

    ``ratio`` is the share of the goal reached, so 1 or more means met whatever the KPI's
    direction: value / target when higher is better, target / value when lower is better
    (a churn of 1 % against a goal of 2 % is 2.0). It is None when undefined (no value, a
    zero divisor, or signs that make a share meaningless). ``met`` compares directly, so it is
    known even when the ratio is not (None only without a value).
    """
    target = Decimal(goal.target)
    lower_is_better = str(direction) == Direction.LOWER_IS_BETTER.value
    if value is None:
        return {"target": target, "ratio": None, "met": None}
    value = Decimal(value)
    met = value <= target if lower_is_better else value >= target
    numerator, denominator = (target, value) if lower_is_better else (value, target)
    ratio = None
    if denominator > 0 and numerator >= 0:
        ratio = numerator / denominator
    return {"target": target, "ratio": ratio, "met": met}
