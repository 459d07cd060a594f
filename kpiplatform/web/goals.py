"""The dashboard's goal progress, from the goals app (``kpiplatform.goals.progress``) when it
is installed.

The goals app is built on its own; until it is part of the project, no KPI has a goal and the
cards' goal slot stays empty. Once it is, the cards show ``progress(goal, value, direction)``
for the goal of the KPI, grain and period (``goal_for``), with no change here.
"""

from __future__ import annotations

from decimal import Decimal

from kpiplatform.sdk import KPI, Grain, Period

try:  # the goals app may not be installed yet
    from kpiplatform.goals.progress import goal_for, progress
except ImportError:  # pragma: no cover - depends on the installed apps
    goal_for = progress = None


def goal_progress(kpi: KPI, grain: Grain, period: Period, value: Decimal | None) -> dict | None:
    """``{"target", "ratio", "met"}`` of the KPI's goal for the period, or None (no goal, or
    no goals app, or no value to measure)."""
    if goal_for is None or value is None:
        return None
    goal = goal_for(kpi.key, grain.value, period.start)
    if goal is None:
        return None
    return progress(goal, value, kpi.direction)
