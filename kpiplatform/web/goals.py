"""The dashboard's goal progress, from the goals app (``kpiplatform.goals.progress``)."""

from __future__ import annotations

from decimal import Decimal

from kpiplatform.goals.models import Goal
from kpiplatform.goals.progress import goal_for, progress
from kpiplatform.sdk import KPI, Grain, Period


def company_goals(keys: list[str], grain: Grain) -> list[tuple]:
    """One query: the company-wide goals of ``keys`` at this grain (dated or standing), as
    (kpi key, period start, target) rows: which KPIs ask :func:`goal_for`, and what the
    dashboard's cache key changes with."""
    return list(
        Goal.objects.filter(kpi_key__in=keys, grain=grain.value, segment_kind="", segment_value="")
        .order_by("kpi_key", "period_start", "pk")
        .values_list("kpi_key", "period_start", "target")
    )


def goal_progress(kpi: KPI, grain: Grain, period: Period, value: Decimal | None) -> dict | None:
    """``{"target", "ratio", "met"}`` of the KPI's goal for the period (the dated goal, else
    the standing one of the grain), or None without a goal."""
    goal = goal_for(kpi.key, grain.value, period.start)
    if goal is None:
        return None
    return progress(goal, value, kpi.direction)
