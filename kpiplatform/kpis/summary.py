"""Every KPI's stored values for the current and the previous period (API and home page)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from kpiplatform.kpis.engine import build_context, company_today
from kpiplatform.kpis.models import StoredKPIValue
from kpiplatform.kpis.registry import registered_kpis_by_plugin
from kpiplatform.sdk import KPI, Grain, Period

VALUE_FIELDS = (
    "period_start",
    "period_end",
    "value",
    "numerator",
    "denominator",
    "reason",
    "computed_at",
)


@dataclass(frozen=True)
class SummaryRow:
    kpi: KPI
    plugin: str
    current: dict | None  # the stored row (VALUE_FIELDS), or None if never computed
    previous: dict | None


@dataclass(frozen=True)
class PeriodSummary:
    grain: Grain
    current: Period
    previous: Period
    rows: list[SummaryRow]

    @property
    def has_values(self) -> bool:
        return any(row.current and row.current["value"] is not None for row in self.rows)


def period_summary(grain: Grain) -> PeriodSummary:
    """One query for all KPIs: the period containing today (company time zone) and the one
    before, totals only (no segments)."""
    current = Period.containing(grain, company_today(build_context()))
    previous = current.previous()
    stored = StoredKPIValue.objects.filter(
        grain=grain.value,
        period_start__in=[current.start, previous.start],
        segment_kind="",
        segment="",
    ).values("kpi", *VALUE_FIELDS)
    by_kpi: dict[tuple[str, dt.date], dict] = {
        (row["kpi"], row["period_start"]): row for row in stored
    }
    rows = [
        SummaryRow(
            kpi,
            plugin,
            by_kpi.get((kpi.key, current.start)),
            by_kpi.get((kpi.key, previous.start)),
        )
        for kpi, plugin in registered_kpis_by_plugin().values()
    ]
    return PeriodSummary(grain, current, previous, rows)
