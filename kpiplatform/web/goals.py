"""The dashboard's goal progress, from the goals app (``kpiplatform.goals.progress``)."""

from __future__ import annotations

from decimal import Decimal

from kpiplatform.goals.models import Goal
from kpiplatform.goals.progress import goal_for, progress
from kpiplatform.sdk import KPI, Grain, Period


def kpis_with_goals(keys: list[str], grain: Grain) -> set[str]:
    """One query: which of ``keys`` have a company-wide goal at this grain (dated or
    standing), so that only those ask :func:`goal_for`."""
    return set(
        Goal.objects.filter(kpi_key__in=keys, grain=grain.value, segment_kind="", segment_value="")
        .values_list("kpi_key", flat=True)
        .distinct()
    )


def goal_progress(kpi: KPI, grain: Grain, period: Period, value: Decimal | None) -> dict | None:
    """``{"target", "ratio", "met"}`` of the KPI's goal for the period (the dated goal, else
    the standing one of the grain), or None without a goal."""
    goal = goal_for(kpi.key, grain.value, period.start)
    if goal is None:
        return None
    return progress(goal, value, kpi.direction)
