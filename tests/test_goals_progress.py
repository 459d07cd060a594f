"""Goals: which goal applies to a period, and the progress of a value against it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from kpiplatform.sdk import Direction


def test_dated_goal_wins_over_the_standing_goal_of_its_grain(acme):
    from kpiplatform.goals.models import Goal
    from kpiplatform.goals.progress import goal_for, goals_for_periods

    with acme.activate():
        standing = Goal.objects.create(kpi_key="mrr", grain="month", target=Decimal("1000"))
        march = Goal.objects.create(
            kpi_key="mrr", grain="month", period_start=dt.date(2025, 3, 1), target=Decimal("1500")
        )
        Goal.objects.create(
            kpi_key="mrr", grain="month", segment_kind="plan", segment_value="pro", target=9
        )
        assert goal_for("mrr", "month", dt.date(2025, 3, 1)) == march
        assert goal_for("mrr", "month", dt.date(2025, 4, 1)) == standing
        assert goal_for("mrr", "month", None) == standing
        assert goal_for("mrr", "week", dt.date(2025, 3, 3)) is None
        assert goal_for("mrr", "month", dt.date(2025, 3, 1), "plan", "pro").target == 9
        found = goals_for_periods("mrr", "month", [dt.date(2025, 3, 1), dt.date(2025, 4, 1)])
        assert found == {dt.date(2025, 3, 1): march, dt.date(2025, 4, 1): standing}


def test_progress_counts_in_the_direction_of_the_kpi(acme):
    from kpiplatform.goals.models import Goal
    from kpiplatform.goals.progress import progress

    goal = Goal(kpi_key="mrr", grain="month", target=Decimal("400"))
    assert progress(goal, Decimal("300"), Direction.HIGHER_IS_BETTER) == {
        "target": Decimal("400"),
        "ratio": Decimal("0.75"),
        "met": False,
    }
    assert progress(goal, Decimal("400"), "higher")["met"] is True
    churn = Goal(kpi_key="customer_churn_rate", grain="month", target=Decimal("0.02"))
    lower = progress(churn, Decimal("0.01"), Direction.LOWER_IS_BETTER)
    assert lower["ratio"] == Decimal("2") and lower["met"] is True
    assert progress(churn, Decimal("0.04"), "lower") == {
        "target": Decimal("0.02"),
        "ratio": Decimal("0.5"),
        "met": False,
    }
    # Nothing to compare: no ratio, and met unknown.
    assert progress(goal, None, "higher") == {"target": Decimal("400"), "ratio": None, "met": None}
    # A zero divisor leaves the ratio undefined but still says whether the goal is met.
    assert progress(churn, Decimal("0"), "lower") == {
        "target": Decimal("0.02"),
        "ratio": None,
        "met": True,
    }
