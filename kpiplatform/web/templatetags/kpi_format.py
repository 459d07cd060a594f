"""Template tags of KPI values; the rounding itself is ``kpiplatform.kpis.formatting``."""

from __future__ import annotations

from decimal import Decimal

from django import template
from django.utils.html import format_html, format_html_join

from kpiplatform.kpis import formatting

register = template.Library()

UNDEFINED = formatting.UNDEFINED
kpi_value = register.simple_tag(formatting.kpi_value)
kpi_change = register.simple_tag(formatting.kpi_change)
kpi_number = register.simple_tag(formatting.kpi_number)


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
