"""Display of KPI values: rounding happens here, and only here (values are stored exact).

Pages use it through the ``kpi_format`` template tags; e-mailed reports and their PDF call it
directly, so every format shows a value the same way.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from kpiplatform.sdk import Direction, Unit

UNDEFINED = "—"


def _grouped(value: Decimal, places: int) -> str:
    quantum = Decimal(1).scaleb(-places)
    return f"{value.quantize(quantum, rounding=ROUND_HALF_UP):,.{places}f}"


def kpi_value(value: Decimal | None, unit: str, currency: str = "") -> str:
    if value is None or value == "":  # "" is what a template gives for a missing row
        return UNDEFINED
    unit = Unit(unit)
    if unit == Unit.CURRENCY:
        return f"{currency} {_grouped(value, 2)}".strip()
    if unit == Unit.PERCENT:
        return f"{_grouped(value * 100, 1)} %"
    if unit == Unit.COUNT:
        return _grouped(value, 0)
    if unit == Unit.MONTHS:
        return f"{_grouped(value, 1)} months"
    return _grouped(value, 2 if unit == Unit.RATIO else 1)


def kpi_change(current: dict | None, previous: dict | None, unit: str, direction: str) -> dict:
    """The change against the previous period, and whether it is good news."""
    if not current or not previous or current["value"] is None or previous["value"] is None:
        return {"text": "", "tone": ""}
    change = current["value"] - previous["value"]
    if change == 0:
        return {"text": "no change", "tone": ""}
    if Unit(unit) == Unit.PERCENT:
        text = f"{_grouped(change * 100, 1)} pts"
    elif previous["value"]:
        text = f"{_grouped(change / abs(previous['value']) * 100, 1)} %"
    else:
        text = kpi_value(change, unit)
    better = (change > 0) == (Direction(direction) == Direction.HIGHER_IS_BETTER)
    return {"text": ("+" if change > 0 else "") + text, "tone": "good" if better else "bad"}


def kpi_number(value: Decimal | None) -> str:
    """A numerator or denominator: grouped, at most two decimals, no trailing zeros."""
    if value is None or value == "":
        return UNDEFINED
    text = _grouped(value, 2)
    return text.rstrip("0").rstrip(".") if "." in text else text
