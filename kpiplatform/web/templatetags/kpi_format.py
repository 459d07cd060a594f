"""Template tags of KPI values; the rounding itself is ``kpiplatform.kpis.formatting``."""

from __future__ import annotations

from django import template

from kpiplatform.kpis import formatting

register = template.Library()

UNDEFINED = formatting.UNDEFINED
kpi_value = register.simple_tag(formatting.kpi_value)
kpi_change = register.simple_tag(formatting.kpi_change)
kpi_number = register.simple_tag(formatting.kpi_number)
