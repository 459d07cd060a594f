"""The goal column of a report: the company's target for a KPI and period (company total),
and whether the value met it, as ``kpiplatform.goals.progress`` decides for every page."""

from __future__ import annotations

from decimal import Decimal

from kpiplatform.goals.progress import goal_for, progress
from kpiplatform.sdk import Period


def goal_and_progress(
    kpi_key: str, period: Period, value: Decimal | None, direction: str
) -> tuple[Decimal | None, bool | None]:
    """The target of ``kpi_key`` for ``period`` and whether ``value`` met it (None when there
    is no goal, or no value to compare)."""
    goal = goal_for(kpi_key, period.grain.value, period.start)
    if goal is None:
        return None, None
    return Decimal(goal.target), progress(goal, value, direction)["met"]
