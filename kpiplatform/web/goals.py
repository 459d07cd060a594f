"""The dashboard's goal progress, from the goals app (``kpiplatform.goals.progress``)."""

from __future__ import annotations

from decimal import Decimal

from kpiplatform.goals.progress import goal_for, progress
from kpiplatform.sdk import KPI, Grain, Period


def goal_progress(kpi: KPI, grain: Grain, period: Period, value: Decimal | None) -> dict | None:
    """``{"target", "ratio", "met"}`` of the KPI's goal for the period (the dated goal, else
    the standing one of the grain), or None without a goal."""
    goal = goal_for(kpi.key, grain.value, period.start)
    if goal is None:
        return None
    return progress(goal, value, kpi.direction)
