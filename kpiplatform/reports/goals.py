"""The goal column of a report: the company's target for a KPI and period, when goals exist.

Goals are their own app (``kpiplatform.goals``); until it is installed, reports have no goal
column at all rather than an empty one.
"""

from __future__ import annotations

from decimal import Decimal

from kpiplatform.sdk import Period

GOALS_INSTALLED = False


def goal_target(kpi_key: str, period: Period) -> Decimal | None:
    """The target set for ``kpi_key`` in ``period`` (company total), or None."""
    return None
