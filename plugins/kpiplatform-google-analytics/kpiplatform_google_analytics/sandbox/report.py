"""The sandbox's report data: rows per day, channel group and campaign, and ``runReport``.

The seed is what the Data API itself returns (``docs/connectors.md``, "Google Analytics 4"):

    {"properties": {"<property id>": {
        "metadata": {"currencyCode": "USD", "timeZone": "Etc/UTC"},
        "dimensionHeaders": [{"name": "date"}, {"name": "sessionDefaultChannelGroup"},
                             {"name": "sessionCampaignName"}],
        "metricHeaders": [{"name": "sessions", "type": "TYPE_INTEGER"}, ...],
        "rows": [{"dimensionValues": [{"value": "20250114"}, ...],
                  "metricValues": [{"value": "1200"}, ...]}]}}}

Rows are kept at that grain; a report asking for fewer dimensions gets them summed (rates
weighted by sessions), as GA4 does for additive metrics.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal

DIMENSIONS = ("date", "sessionDefaultChannelGroup", "sessionCampaignName")
METRIC_TYPES = {
    "sessions": "TYPE_INTEGER",
    "engagedSessions": "TYPE_INTEGER",
    "totalUsers": "TYPE_INTEGER",
    "keyEvents": "TYPE_INTEGER",
    "sessionKeyEventRate": "TYPE_FLOAT",
    "purchaseRevenue": "TYPE_CURRENCY",
    "advertiserAdCost": "TYPE_CURRENCY",
}
MAX_LIMIT = 250_000
DEFAULT_LIMIT = 10_000
_DAYS_AGO = re.compile(r"^(\d+)daysAgo$")


class ReportError(Exception):
    """A request the Data API refuses: HTTP status, gRPC status name and message."""

    def __init__(self, code: int, status: str, message: str) -> None:
        super().__init__(message)
        self.code, self.status, self.message = code, status, message


def invalid(message: str) -> ReportError:
    return ReportError(400, "INVALID_ARGUMENT", message)


@dataclass
class Property:
    """One GA4 property: its metadata and rows keyed by (day, channel group, campaign)."""

    currency: str = "USD"
    time_zone: str = "Etc/UTC"
    rows: dict[tuple[dt.date, str, str], dict[str, str]] = field(default_factory=dict)

    @classmethod
    def from_seed(cls, seed: dict) -> Property:
        metadata = seed.get("metadata", {})
        prop = cls(metadata.get("currencyCode", "USD"), metadata.get("timeZone", "Etc/UTC"))
        dims = [h["name"] for h in seed.get("dimensionHeaders", [])]
        metrics = [h["name"] for h in seed.get("metricHeaders", [])]
        if dims != list(DIMENSIONS):
            raise ValueError(f"seed rows must have the dimensions {list(DIMENSIONS)}")
        for row in seed.get("rows", []):
            day, group, campaign = (v["value"] for v in row["dimensionValues"])
            values = {m: v["value"] for m, v in zip(metrics, row["metricValues"], strict=True)}
            prop.set_row(parse_ga_date(day), group, campaign, **values)
        return prop

    def set_row(self, day: dt.date, group: str, campaign: str, **metrics: object) -> None:
        """Add or revise the row of one day, channel group and campaign (metrics not given
        keep their value, or are 0 on a new row)."""
        row = self.rows.setdefault((day, group, campaign), dict.fromkeys(METRIC_TYPES, "0"))
        for name, value in metrics.items():
            if name not in METRIC_TYPES:
                raise ValueError(f"unknown metric {name}")
            row[name] = str(value)

    def to_seed(self) -> dict:
        return {
            "metadata": {"currencyCode": self.currency, "timeZone": self.time_zone},
            "dimensionHeaders": [{"name": d} for d in DIMENSIONS],
            "metricHeaders": [{"name": m, "type": t} for m, t in METRIC_TYPES.items()],
            "rows": [
                {
                    "dimensionValues": [
                        {"value": day.strftime("%Y%m%d")},
                        {"value": group},
                        {"value": campaign},
                    ],
                    "metricValues": [{"value": values[m]} for m in METRIC_TYPES],
                }
                for (day, group, campaign), values in sorted(self.rows.items())
            ],
        }


def parse_ga_date(value: str) -> dt.date:
    return dt.datetime.strptime(value, "%Y%m%d").date()


def request_day(value: str, today: dt.date) -> dt.date:
    """A date of a request's date range: YYYY-MM-DD, ``today``, ``yesterday`` or ``NdaysAgo``."""
    if value == "today":
        return today
    if value == "yesterday":
        return today - dt.timedelta(days=1)
    if match := _DAYS_AGO.match(value or ""):
        return today - dt.timedelta(days=int(match.group(1)))
    try:
        return dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        raise invalid(f"Invalid date '{value}'. Dates must be YYYY-MM-DD or NdaysAgo.") from None


def _number(value: str) -> Decimal:
    return Decimal(value)


def _format(metric: str, value: Decimal) -> str:
    if METRIC_TYPES[metric] == "TYPE_INTEGER":
        return str(int(value))
    return format(value.normalize(), "f") if value else "0"


def run_report(prop: Property, body: dict, today: dt.date) -> dict:
    """The JSON answer of ``runReport`` for ``body`` (the REST request) over ``prop``."""
    dims = [d.get("name") for d in body.get("dimensions", [])]
    metrics = [m.get("name") for m in body.get("metrics", [])]
    for name in dims:
        if name not in DIMENSIONS:
            raise invalid(f"Field {name} is not a valid dimension.")
    for name in metrics:
        if name not in METRIC_TYPES:
            raise invalid(f"Field {name} is not a valid metric.")
    if not metrics:
        raise invalid("At least one metric is required.")
    ranges = body.get("dateRanges") or []
    if len(ranges) != 1:
        raise invalid("The sandbox answers reports with exactly one date range.")
    first = request_day(ranges[0].get("startDate"), today)
    last = request_day(ranges[0].get("endDate"), today)
    if last < first:
        raise invalid("The date range's endDate is before its startDate.")
    limit = int(body.get("limit") or DEFAULT_LIMIT)
    offset = int(body.get("offset") or 0)
    if limit < 0 or limit > MAX_LIMIT or offset < 0:
        raise invalid(f"limit must be between 1 and {MAX_LIMIT}, offset positive.")

    grouped: dict[tuple[str, ...], dict[str, Decimal]] = {}
    for (day, group, campaign), values in prop.rows.items():
        if not first <= day <= last:
            continue
        full = {"date": day.strftime("%Y%m%d"), DIMENSIONS[1]: group, DIMENSIONS[2]: campaign}
        key = tuple(full[d] for d in dims)
        sums = grouped.setdefault(key, {})
        sessions = _number(values["sessions"])
        for name in METRIC_TYPES:
            value = _number(values[name])
            if name == "sessionKeyEventRate":  # summed weighted, divided below
                value *= sessions
            sums[name] = sums.get(name, Decimal(0)) + value
    keys = sorted(grouped)
    page = keys[offset : offset + limit]
    answer: dict = {
        "dimensionHeaders": [{"name": d} for d in dims],
        "metricHeaders": [{"name": m, "type": METRIC_TYPES[m]} for m in metrics],
        "metadata": {"currencyCode": prop.currency, "timeZone": prop.time_zone},
        "kind": "analyticsData#runReport",
    }
    if keys:  # proto3 JSON leaves empty lists and zero counts out, as the API does
        answer["rowCount"] = len(keys)
    rows = []
    for key in page:
        sums = grouped[key]
        values = []
        for name in metrics:
            value = sums[name]
            if name == "sessionKeyEventRate":
                value = value / sums["sessions"] if sums["sessions"] else Decimal(0)
                values.append({"value": repr(float(value))})
            else:
                values.append({"value": _format(name, value)})
        rows.append({"dimensionValues": [{"value": v} for v in key], "metricValues": values})
    if rows:
        answer["rows"] = rows
    return answer
