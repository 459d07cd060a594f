"""Display of KPI values: rounding happens here, and only here (values are stored exact)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django import template
from django.utils.html import format_html, format_html_join

from kpiplatform.sdk import Direction, Unit

register = template.Library()

UNDEFINED = "—"


def _grouped(value: Decimal, places: int) -> str:
    quantum = Decimal(1).scaleb(-places)
    return f"{value.quantize(quantum, rounding=ROUND_HALF_UP):,.{places}f}"


@register.simple_tag
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


@register.simple_tag
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


@register.simple_tag
def kpi_number(value: Decimal | None) -> str:
    """A numerator or denominator: grouped, at most two decimals, no trailing zeros."""
    if value is None or value == "":
        return UNDEFINED
    text = _grouped(value, 2)
    return text.rstrip("0").rstrip(".") if "." in text else text


SPARKLINE_WIDTH, SPARKLINE_HEIGHT = 120, 28


@register.simple_tag
def sparkline(values: list[Decimal | None]) -> str:
    """The series as a small inline SVG line (no script): periods without a value break it."""
    known = [value for value in values if value is not None]
    if len(known) < 2:
        return ""
    low, high = min(known), max(known)
    span = (high - low) or Decimal(1)
    step = Decimal(SPARKLINE_WIDTH) / (len(values) - 1)
    runs: list[list[str]] = [[]]
    for index, value in enumerate(values):
        if value is None:
            runs.append([])
            continue
        y = SPARKLINE_HEIGHT - 2 - (value - low) / span * (SPARKLINE_HEIGHT - 4)
        runs[-1].append(f"{float(step * index):.1f},{float(y):.1f}")
    lines = format_html_join(
        "",
        '<polyline points="{}" fill="none" stroke="currentColor"/>',
        ((" ".join(run),) for run in runs if run),
    )
    return format_html(
        '<svg class="sparkline" width="{}" height="{}" viewBox="0 0 {} {}" role="img" '
        'aria-label="Trend of the last {} periods">{}</svg>',
        SPARKLINE_WIDTH,
        SPARKLINE_HEIGHT,
        SPARKLINE_WIDTH,
        SPARKLINE_HEIGHT,
        len(values),
        lines,
    )
