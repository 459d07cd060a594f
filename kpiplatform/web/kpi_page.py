"""What a KPI page shows: one KPI's stored series at one grain, its latest breakdowns and the
reasons it has no value, read from the stored values (a page view never computes)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from kpiplatform.goals.progress import goals_for_periods, progress
from kpiplatform.kpis.models import StoredKPIValue
from kpiplatform.kpis.summary import VALUE_FIELDS
from kpiplatform.sdk import KPI, Grain, Period, Unit

VEGA_LITE_SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"
# d3-format strings for the chart's axis and tooltips, by unit (the table rounds in
# kpiplatform/web/templatetags/kpi_format.py).
AXIS_FORMATS = {Unit.CURRENCY: ",.2f", Unit.PERCENT: ".1%", Unit.COUNT: ",d", Unit.RATIO: ",.2f"}


@dataclass
class Breakdown:
    kind: str
    rows: list[dict] = field(default_factory=list)  # stored rows with "segment", oldest name first


@dataclass
class KPIPage:
    kpi: KPI
    grain: Grain
    rows: list[dict]  # the totals, oldest period first, each with its "period" label
    breakdown_period: Period | None
    breakdowns: list[Breakdown]
    undefined_reasons: list[tuple[str, int]]  # (reason, number of periods), most frequent first
    has_goals: bool = False  # some row has a "goal": progress() of its period's goal

    @property
    def rows_newest_first(self) -> list[dict]:
        return self.rows[::-1]


def kpi_page(kpi: KPI, grain: Grain) -> KPIPage:
    """Two queries on the (kpi, grain, period_start, ...) unique index: the company totals of
    every period, then every segment of the last period that has totals (none for days)."""
    rows = list(
        StoredKPIValue.objects.filter(kpi=kpi.key, grain=grain.value, segment_kind="", segment="")
        .order_by("period_start")
        .values(*VALUE_FIELDS)
    )
    for row in rows:
        row["period"] = Period(grain, row["period_start"], row["period_end"]).label
    reasons = Counter(row["reason"] for row in rows if row["value"] is None and row["reason"])
    goals = goals_for_periods(kpi.key, grain.value, [row["period_start"] for row in rows])
    for row in rows:
        goal = goals.get(row["period_start"])
        row["goal"] = progress(goal, row["value"], kpi.direction) if goal else None
    breakdown_period = None
    breakdowns = [Breakdown(kind) for kind in kpi.segments]
    # Daily values are company totals (the engine stores no daily breakdown).
    if rows and kpi.segments and grain != Grain.DAY:
        last = rows[-1]
        breakdown_period = Period(grain, last["period_start"], last["period_end"])
        by_kind = {breakdown.kind: breakdown for breakdown in breakdowns}
        segments = (
            StoredKPIValue.objects.filter(
                kpi=kpi.key, grain=grain.value, period_start=last["period_start"]
            )
            .exclude(segment_kind="")
            .order_by("segment_kind", "segment")
            .values("segment_kind", "segment", "value", "numerator", "denominator", "reason")
        )
        for segment in segments:
            if segment["segment_kind"] in by_kind:
                by_kind[segment["segment_kind"]].rows.append(segment)
    return KPIPage(
        kpi, grain, rows, breakdown_period, breakdowns, reasons.most_common(), bool(goals)
    )


def chart_spec(page: KPIPage, drill: str = "") -> dict:
    """The Vega-Lite specification of the series: a line with a point per period; periods
    without a value leave a gap. With ``drill`` (the drill page's address up to its period),
    a click on a point opens the records behind it (kpi_chart.js reads ``usermeta``)."""
    unit = Unit(page.kpi.unit)
    number_format = AXIS_FORMATS.get(unit, ",.1f")
    spec = {
        "$schema": VEGA_LITE_SCHEMA,
        "description": f"{page.kpi.name} by {page.grain.value}",
        "width": "container",
        "height": 260,
        "data": {
            "values": [
                {
                    "period": row["period"],
                    "start": row["period_start"].isoformat(),
                    # Floats only for drawing: the table shows the exact stored values.
                    "value": None if row["value"] is None else float(row["value"]),
                }
                for row in page.rows
            ]
        },
        "mark": {"type": "line", "point": True, "tooltip": True},
        "encoding": {
            "x": {"field": "period", "type": "ordinal", "sort": None, "title": None},
            "y": {
                "field": "value",
                "type": "quantitative",
                "title": page.kpi.name,
                "axis": {"format": number_format},
            },
            "tooltip": [
                {"field": "period", "type": "ordinal", "title": "Period"},
                {
                    "field": "value",
                    "type": "quantitative",
                    "title": "Value",
                    "format": number_format,
                },
            ],
        },
    }
    if drill:
        spec["usermeta"] = {"drill": drill}
        spec["mark"]["cursor"] = "pointer"
    return spec
