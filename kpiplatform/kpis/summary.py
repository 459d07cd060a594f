"""Every KPI's stored values for the current and the previous period (API and home page)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from kpiplatform.kpis.engine import company_today
from kpiplatform.kpis.models import CompanySettings, StoredKPIValue
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


def period_summary(grain: Grain, settings: CompanySettings | None = None) -> PeriodSummary:
    """One query for all KPIs: the period containing today (company time zone) and the one
    before, totals only (no segments), on the totals-by-period index (the two periods'
    rows, not the company's whole history). ``settings``: the company settings, when the
    caller has read them already (one read per request)."""
    settings = settings or CompanySettings.current()
    current = Period.containing(grain, company_today(settings))
    previous = current.previous()
    kpis = registered_kpis_by_plugin()
    stored = StoredKPIValue.objects.filter(
        kpi__in=list(kpis),
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
        for kpi, plugin in kpis.values()
    ]
    return PeriodSummary(grain, current, previous, rows)
