"""The dashboard's Vega-Lite specifications, drawn in the browser by vega-embed
(kpiplatform/web/static/kpiplatform/kpi_chart.js). Floats only for drawing: the tables and
cards show the exact stored values."""

from __future__ import annotations

from urllib.parse import urlencode

from kpiplatform.sdk import Period
from kpiplatform.web.cohorts import CohortCell
from kpiplatform.web.dashboard import MOVEMENT_KPIS
from kpiplatform.web.kpi_page import VEGA_LITE_SCHEMA

# The drill-down page of one kind of MRR movement in one period (the ledger's rows behind it).
DRILL_PATH = "/kpis/mrr_movements/drill/"
MOVEMENT_COLOURS = {
    "new": "#2e7d32",
    "expansion": "#66bb6a",
    "reactivation": "#29b6f6",
    "contraction": "#ffa726",
    "churn": "#e53935",
}
MOVEMENT_TITLES = {
    "new": "New business",
    "expansion": "Expansion",
    "reactivation": "Reactivation",
    "contraction": "Contraction",
    "churn": "Churn",
}


def _number(value) -> float | None:
    return None if value is None else float(value)


def drill_url(period: Period, kind: str) -> str:
    query = urlencode({"period": period.label, "grain": period.grain.value, "kind": kind})
    return f"{DRILL_PATH}?{query}"


def trend_spec(mrr: list[dict], arr: list[dict], currency: str) -> dict:
    """MRR (left axis) and ARR (right axis) by period, a point per period."""
    values = [
        {"period": row["period"], "series": name, "value": _number(row["value"])}
        for name, rows in (("MRR", mrr), ("ARR", arr))
        for row in rows
    ]
    line = {"type": "line", "point": True, "tooltip": True}

    def layer(name: str, orient: str) -> dict:
        return {
            "transform": [{"filter": {"field": "series", "equal": name}}],
            "mark": {**line, "color": "#1565c0" if name == "MRR" else "#8e24aa"},
            "encoding": {
                "y": {
                    "field": "value",
                    "type": "quantitative",
                    "title": f"{name} ({currency})",
                    "axis": {"format": ",.0f", "orient": orient},
                },
                "tooltip": [
                    {"field": "period", "title": "Period"},
                    {"field": "series", "title": "KPI"},
                    {"field": "value", "type": "quantitative", "format": ",.2f", "title": "Value"},
                ],
            },
        }

    return {
        "$schema": VEGA_LITE_SCHEMA,
        "description": "MRR and ARR by period",
        "width": "container",
        "height": 240,
        "data": {"name": "trend", "values": values},
        "encoding": {"x": {"field": "period", "type": "ordinal", "sort": None, "title": None}},
        "layer": [layer("MRR", "left"), layer("ARR", "right")],
        "resolve": {"scale": {"y": "independent"}},
    }


def movements_spec(
    movements: dict[str, list[dict]], net: list[dict], grain_periods: dict[str, Period]
) -> dict:
    """The MRR movements of each period as stacked bars (gains up, losses down), each bar a
    link to its drill-down, with net new MRR as a line."""
    bars = [
        {
            "period": row["period"],
            "kind": MOVEMENT_TITLES[kind],
            "amount": _number(row["value"]),
            "url": drill_url(grain_periods[row["period"]], kind),
        }
        for kind, rows in movements.items()
        for row in rows
        if row["value"]
    ]
    lines = [{"period": row["period"], "net": _number(row["value"])} for row in net]
    order = list(MOVEMENT_TITLES.values())
    return {
        "$schema": VEGA_LITE_SCHEMA,
        "description": "MRR movements by period, with net new MRR",
        "width": "container",
        "height": 260,
        "encoding": {"x": {"field": "period", "type": "ordinal", "sort": None, "title": None}},
        "layer": [
            {
                "data": {"name": "movements", "values": bars},
                "mark": {"type": "bar", "tooltip": True, "cursor": "pointer"},
                "encoding": {
                    "y": {"field": "amount", "type": "quantitative", "stack": True, "title": None},
                    "color": {
                        "field": "kind",
                        "type": "nominal",
                        "sort": order,
                        "scale": {
                            "domain": order,
                            "range": [MOVEMENT_COLOURS[kind] for kind in MOVEMENT_TITLES],
                        },
                        "legend": {"orient": "bottom", "title": None},
                    },
                    "order": {"field": "kind", "sort": "ascending"},
                    "href": {"field": "url"},
                    "tooltip": [
                        {"field": "period", "title": "Period"},
                        {"field": "kind", "title": "Movement"},
                        {"field": "amount", "type": "quantitative", "format": ",.2f"},
                    ],
                },
            },
            {
                "data": {"name": "net", "values": lines},
                "mark": {"type": "line", "point": True, "color": "#212121", "tooltip": True},
                "encoding": {
                    "y": {"field": "net", "type": "quantitative", "title": None},
                    "tooltip": [
                        {"field": "period", "title": "Period"},
                        {"field": "net", "type": "quantitative", "format": ",.2f", "title": "Net"},
                    ],
                },
            },
        ],
    }


def cohort_spec(cells: list[CohortCell], measure: str, title: str) -> dict:
    """A heatmap: first-paid month down, months since across, the retention as colour."""
    values = [
        {
            "cohort": cell.cohort.strftime("%Y-%m"),
            "age": cell.age,
            "retention": _number(getattr(cell, measure)),
            "customers": cell.customers,
        }
        for cell in cells
        if getattr(cell, measure) is not None
    ]
    return {
        "$schema": VEGA_LITE_SCHEMA,
        "description": title,
        "width": "container",
        "height": {"step": 22},
        "data": {"name": measure, "values": values},
        "encoding": {
            "x": {"field": "age", "type": "ordinal", "title": "Months since first paid"},
            "y": {"field": "cohort", "type": "ordinal", "title": "First paid in"},
        },
        "layer": [
            {
                "mark": {"type": "rect", "tooltip": True},
                "encoding": {
                    "color": {
                        "field": "retention",
                        "type": "quantitative",
                        "scale": {"scheme": "blues", "domain": [0, 1]},
                        "legend": {"format": ".0%", "title": None},
                    },
                    "tooltip": [
                        {"field": "cohort", "title": "Cohort"},
                        {"field": "age", "title": "Month"},
                        {"field": "customers", "title": "Customers"},
                        {"field": "retention", "format": ".1%", "title": title},
                    ],
                },
            },
            {
                "mark": {"type": "text", "fontSize": 10},
                "encoding": {
                    "text": {"field": "retention", "format": ".0%"},
                    "color": {
                        "condition": {"test": "datum.retention > 0.6", "value": "white"},
                        "value": "black",
                    },
                },
            },
        ],
    }


def funnel_spec(steps: list[dict]) -> dict:
    """Sessions, leads and new customers of the period as horizontal bars."""
    return {
        "$schema": VEGA_LITE_SCHEMA,
        "description": "Funnel: sessions, leads, new customers",
        "width": "container",
        "height": {"step": 30},
        "data": {
            "name": "funnel",
            "values": [
                {"step": step["kpi"].name, "value": _number(step["value"]) or 0} for step in steps
            ],
        },
        "mark": {"type": "bar", "tooltip": True, "color": "#1565c0"},
        "encoding": {
            "y": {"field": "step", "type": "nominal", "sort": None, "title": None},
            "x": {
                "field": "value",
                "type": "quantitative",
                "scale": {"type": "symlog"},
                "title": None,
            },
        },
    }


def dashboard_charts(dashboard, currency: str) -> dict:
    """The specifications of the dashboard's charts, by template variable."""
    series = dashboard.series
    periods = {
        row["period"]: Period(dashboard.grain, row["period_start"], row["period_end"])
        for rows in series.values()
        for row in rows
    }
    movements = {kind: series.get(key, []) for kind, key in MOVEMENT_KPIS.items()}
    return {
        "trend_spec": trend_spec(series.get("mrr", []), series.get("arr", []), currency),
        "movements_spec": movements_spec(movements, series.get("net_new_mrr", []), periods),
        "funnel_spec": funnel_spec(dashboard.funnel),
    }
