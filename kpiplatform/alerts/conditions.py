"""Whether a rule's condition holds for a value, and how to say so in words."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from kpiplatform.goals.progress import progress
from kpiplatform.sdk import KPI, Unit


def scale_of(kpi: KPI | None) -> Decimal:
    """Rule numbers are in the unit pages show: a percent KPI stores 0.05 for 5 %."""
    return Decimal(100) if kpi is not None and kpi.unit == Unit.PERCENT else Decimal(1)


def shown(value: Decimal | None, kpi: KPI | None) -> str:
    if value is None:
        return "no value"
    number = (Decimal(value) * scale_of(kpi)).quantize(Decimal("0.01")).normalize()
    text = format(number, "f")
    return text + (" %" if kpi is not None and kpi.unit == Unit.PERCENT else "")


@dataclass(frozen=True)
class Observation:
    """What a rule looks at: the latest stored period of its KPI, grain and segment."""

    value: Decimal | None
    previous: Decimal | None = None
    target: Decimal | None = None


def holds(
    condition: str, threshold: Decimal | None, kpi: KPI | None, seen: Observation
) -> bool | None:
    """True or False; None when it cannot be told (no value, no previous value, no goal):
    then the rule keeps its state rather than fire or resolve on missing data."""
    if seen.value is None:
        return None
    scale = scale_of(kpi)
    value = Decimal(seen.value) * scale
    if condition == "behind_goal":
        if seen.target is None or kpi is None:
            return None
        from kpiplatform.goals.models import Goal

        met = progress(Goal(target=seen.target), seen.value, kpi.direction)["met"]
        return None if met is None else not met
    if threshold is None:
        return None
    if condition == "above":
        return value > threshold
    if condition == "below":
        return value < threshold
    if seen.previous is None:
        return None
    previous = Decimal(seen.previous) * scale
    if condition == "change_points":
        return abs(value - previous) > threshold
    if condition == "change_percent":
        if previous == 0:
            return None
        return abs(value - previous) / abs(previous) * 100 > threshold
    return None


def describe(condition: str, threshold: Decimal | None, kpi: KPI | None) -> str:
    """The condition in words, e.g. "is above 400" or "changes by more than 10 %"."""
    unit = " %" if kpi is not None and kpi.unit == Unit.PERCENT else ""
    number = "" if threshold is None else format(Decimal(threshold).normalize(), "f")
    if condition == "above":
        return f"is above {number}{unit}"
    if condition == "below":
        return f"is below {number}{unit}"
    if condition == "change_percent":
        return f"changes against the previous period by more than {number} %"
    if condition == "change_points":
        points = " points" if unit else ""
        return f"changes against the previous period by more than {number}{points}"
    return "is behind its goal"
