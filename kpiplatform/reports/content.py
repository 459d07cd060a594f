"""What a report says: the KPI table and the series its charts draw, from stored values.

Every format (HTML e-mail, PDF, CSV, the browser preview) is made from one ``Report``, so
they cannot disagree. Nothing here computes a KPI: it reads ``kpis_value``, as pages do.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection
from django.utils import timezone

from kpiplatform.kpis.api import decimal_text
from kpiplatform.kpis.formatting import kpi_change, kpi_value
from kpiplatform.kpis.models import CompanySettings, StoredKPIValue
from kpiplatform.kpis.registry import registered_kpis
from kpiplatform.reports.goals import goal_and_progress
from kpiplatform.reports.models import ReportSchedule
from kpiplatform.reports.periods import GRAINS
from kpiplatform.sdk import Period, Unit
from kpiplatform.tenants.models import Company

# Periods each chart shows, the reported one last.
CHART_PERIODS = 12
_RATIO_PLACES = Decimal("1e-12")


@dataclass
class ReportRow:
    """One KPI of the report: exact values (for CSV) and their display text (HTML, PDF)."""

    key: str
    name: str
    unit: str
    direction: str
    value: Decimal | None
    previous: Decimal | None
    change: Decimal | None
    change_ratio: Decimal | None
    goal: Decimal | None
    goal_met: bool | None
    reason: str
    value_text: str
    previous_text: str
    change_text: str
    change_tone: str
    goal_text: str
    series: list[tuple[str, Decimal | None]] = field(default_factory=list)


@dataclass
class Report:
    company_name: str
    schedule_name: str
    period: Period
    currency: str
    rows: list[ReportRow]
    missing_kpis: list[str]  # chosen KPIs that no enabled plugin defines any more
    has_goals: bool  # some KPI has a goal for the period: the HTML and PDF show the column
    generated_at: dt.datetime

    @property
    def previous(self) -> Period:
        return self.period.previous()


def company_name() -> str:
    return Company.objects.get(schema_name=connection.schema_name).name


def build_report(schedule: ReportSchedule, period: Period) -> Report:
    """The report of ``schedule`` for ``period``: one query for every KPI and period."""
    kpis = registered_kpis()
    keys = [key for key in schedule.kpis if key in kpis]
    first = period
    for _ in range(CHART_PERIODS - 1):
        first = first.previous()
    stored = StoredKPIValue.objects.filter(
        kpi__in=keys,
        grain=period.grain.value,
        segment_kind="",
        segment="",
        period_start__gte=first.start,
        period_start__lte=period.start,
    ).values("kpi", "period_start", "value", "reason")
    by_key: dict[tuple[str, dt.date], dict] = {(r["kpi"], r["period_start"]): r for r in stored}
    periods = [first]
    while periods[-1].start < period.start:
        periods.append(periods[-1].next())
    currency = CompanySettings.current().reporting_currency
    rows = []
    for key in keys:
        kpi = kpis[key]
        now = by_key.get((key, period.start))
        before = by_key.get((key, period.previous().start))
        value = now["value"] if now else None
        previous = before["value"] if before else None
        change = ratio = None
        if value is not None and previous is not None:
            change = value - previous
            ratio = (change / abs(previous)).quantize(_RATIO_PLACES) if previous else None
        goal, met = goal_and_progress(key, period, value, kpi.direction)
        tone = kpi_change(now, before, kpi.unit, kpi.direction)
        rows.append(
            ReportRow(
                key=key,
                name=kpi.name,
                unit=str(kpi.unit),
                direction=str(kpi.direction),
                value=value,
                previous=previous,
                change=change,
                change_ratio=ratio,
                goal=goal,
                goal_met=met,
                reason=(now or {}).get("reason", "") if value is None else "",
                value_text=kpi_value(value, kpi.unit, currency),
                previous_text=kpi_value(previous, kpi.unit, currency),
                change_text=tone["text"],
                change_tone=tone["tone"],
                goal_text=_goal_text(goal, met, kpi.unit, currency),
                series=[
                    (p.label, (by_key.get((key, p.start)) or {}).get("value")) for p in periods
                ],
            )
        )
    return Report(
        company_name=company_name(),
        schedule_name=schedule.name,
        period=period,
        currency=currency,
        rows=rows,
        missing_kpis=[key for key in schedule.kpis if key not in kpis],
        # The goal column shows when some KPI of the report has a goal for the period.
        has_goals=any(row.goal is not None for row in rows),
        generated_at=timezone.now(),
    )


def _goal_text(goal: Decimal | None, met: bool | None, unit: str, currency: str) -> str:
    if goal is None:
        return ""
    verdict = {True: " (met)", False: " (not met)"}.get(met, "")
    return kpi_value(goal, unit, currency) + verdict


def report_period(schedule: ReportSchedule, start: dt.date) -> Period:
    """The period of the schedule's grain that starts on ``start`` (or contains it)."""
    return Period.containing(GRAINS[schedule.frequency], start)


def exact(value: Decimal | None) -> str:
    """A value as the API writes it: exact decimal text, empty when undefined."""
    return decimal_text(value) or ""


def is_percent(row: ReportRow) -> bool:
    return Unit(row.unit) == Unit.PERCENT
