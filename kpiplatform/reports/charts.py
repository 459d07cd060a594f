"""Charts of a report as PNG images, drawn on the server from a Vega-Lite spec.

vl-convert renders Vega-Lite without a browser or system library; the image goes into the
e-mail (inline, by Content-ID), the PDF and the preview.
"""

from __future__ import annotations

import vl_convert

from kpiplatform.reports.content import ReportRow
from kpiplatform.sdk import Unit

VEGA_LITE_SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"
AXIS_FORMATS = {Unit.CURRENCY: ",.2f", Unit.PERCENT: ".1%", Unit.COUNT: ",d", Unit.RATIO: ",.2f"}
WIDTH, HEIGHT = 520, 160


def chart_spec(row: ReportRow) -> dict:
    """Bars of the last periods, the reported period (the last one) darker."""
    last = len(row.series) - 1
    return {
        "$schema": VEGA_LITE_SCHEMA,
        "width": WIDTH,
        "height": HEIGHT,
        "background": "white",
        "title": {"text": row.name, "anchor": "start", "fontSize": 13},
        "data": {
            "values": [
                {
                    "period": label,
                    # Floats only for drawing: the table holds the exact values.
                    "value": None if value is None else float(value),
                    "reported": index == last,
                }
                for index, (label, value) in enumerate(row.series)
            ]
        },
        "mark": {"type": "bar"},
        "encoding": {
            "x": {"field": "period", "type": "ordinal", "sort": None, "title": None},
            "y": {
                "field": "value",
                "type": "quantitative",
                "title": None,
                "axis": {"format": AXIS_FORMATS.get(Unit(row.unit), ",.1f")},
            },
            "color": {
                "field": "reported",
                "type": "nominal",
                "scale": {"domain": [False, True], "range": ["#9bb7d4", "#1f4e79"]},
                "legend": None,
            },
        },
    }


def chart_png(row: ReportRow) -> bytes:
    return vl_convert.vegalite_to_png(chart_spec(row), scale=2)
