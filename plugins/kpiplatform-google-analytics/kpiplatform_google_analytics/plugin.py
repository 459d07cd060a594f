"""The Google Analytics 4 connector (``google_analytics``): daily web traffic and ad cost.

``sync`` reads one report per window of days (date, default channel group, campaign), pages
of ``PAGE_ROWS`` rows, through the official ``google-analytics-data`` client, and yields
``web_traffic`` records and ``spend`` records (the advertiser ad cost, by campaign). GA4 has
no change feed and revises recent days, so every sync starts again a few days (the look-back,
3 by default) before the last complete day it stored: the cursor. Records are upserts keyed
on the row, so reading a day twice changes only what GA4 changed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kpiplatform.sdk import ConfigField, Connector, DemoSandbox, SyncPage, hookimpl, with_retries

from .mapping import DIMENSIONS, METRICS, ConfigError, MalformedRow, RowReader

if TYPE_CHECKING:
    from google.analytics.data_v1beta.types import RunReportRequest, RunReportResponse
# The Data API client (and grpc, protobuf) is imported when a check or sync runs, not when
# the platform loads its plugins: every process would pay for it at start-up.

SDK_SUPPORTS = ">=1.4,<2"  # the demo sandbox declaration (1.4)

KEY = "google_analytics"
PAGE_ROWS = 5_000  # each row may bring a spend record too: pages of a few thousand
WINDOW_DAYS = 92
DEFAULT_LOOKBACK_DAYS = 3
DEFAULT_HISTORY_DAYS = 730  # the first sync reads two years, unless told a first day
RETRY_ATTEMPTS = 5


def report_request(
    property_id: str, first: dt.date, last: dt.date, offset: int
) -> RunReportRequest:
    from google.analytics.data_v1beta.types import (
        DateRange,
        Dimension,
        Metric,
        OrderBy,
        RunReportRequest,
    )

    return RunReportRequest(
        property=f"properties/{property_id}",
        dimensions=[Dimension(name=name) for name in DIMENSIONS],
        metrics=[Metric(name=name) for name in METRICS],
        date_ranges=[DateRange(start_date=first.isoformat(), end_date=last.isoformat())],
        # A stable order, so offsets page through the same sequence of rows.
        order_bys=[
            OrderBy(dimension=OrderBy.DimensionOrderBy(dimension_name=name)) for name in DIMENSIONS
        ],
        limit=PAGE_ROWS,
        offset=offset,
    )


def _day_setting(config: dict[str, Any], name: str, label: str) -> dt.date | None:
    text = str(config.get(name) or "").strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{label} must be a date as YYYY-MM-DD (got {text!r}).") from None


def lookback_days(config: dict[str, Any]) -> int:
    text = str(config.get("lookback_days") or "").strip()
    if not text:
        return DEFAULT_LOOKBACK_DAYS
    if not text.isdigit() or int(text) > 90:
        raise ConfigError(f"The look-back must be a number of days from 0 to 90 (got {text!r}).")
    return int(text)


def first_day_to_read(config: dict[str, Any], state: dict[str, Any], today: dt.date) -> dt.date:
    """The cursor minus the look-back; on the first sync, the configured first day or two
    years ago. An unreadable cursor starts again from the beginning (upserts make it safe)."""
    configured = _day_setting(config, "first_day", "The first day")
    earliest = configured or today - dt.timedelta(days=DEFAULT_HISTORY_DAYS)
    try:
        synced_through = dt.date.fromisoformat(state["synced_through"])
    except (KeyError, TypeError, ValueError):
        return earliest
    return max(earliest, synced_through - dt.timedelta(days=lookback_days(config) - 1))


def windows(first: dt.date, last: dt.date) -> Iterator[tuple[dt.date, dt.date]]:
    start = first
    while start <= last:
        end = min(last, start + dt.timedelta(days=WINDOW_DAYS - 1))
        yield start, end
        start = end + dt.timedelta(days=1)


class GoogleAnalytics(Connector):
    def today(self) -> dt.date:
        """Today in UTC; GA4 answers in the property's time zone, and the day or so of
        difference is re-read with the look-back."""
        return dt.datetime.now(dt.UTC).date()

    def check(self, config: dict[str, Any]) -> None:
        from google.analytics.data_v1beta.types import DateRange, Metric, RunReportRequest

        from . import client as ga

        property_id = ga.property_id(config)
        lookback_days(config)
        _day_setting(config, "first_day", "The first day")
        client = ga.make_client(config)
        yesterday = self.today() - dt.timedelta(days=1)
        request = RunReportRequest(
            property=f"properties/{property_id}",
            metrics=[Metric(name="sessions")],
            date_ranges=[
                DateRange(start_date=yesterday.isoformat(), end_date=yesterday.isoformat())
            ],
            limit=1,
        )
        ga.run_report(client, request)

    def sync(self, config: dict[str, Any], state: dict[str, Any]) -> Iterator[SyncPage]:
        from . import client as ga

        property_id = ga.property_id(config)
        client = ga.make_client(config)
        lookback = lookback_days(config)
        today = self.today()
        last_complete = today - dt.timedelta(days=1)
        first = first_day_to_read(config, state, today)
        cursor = dict(state)
        # The rows the last sync stored on the days read again now: one GA4 no longer
        # reports was removed upstream, and is tombstoned once the first window is read.
        stored_before = {i for i in state.get("recent", []) if i[:10] >= first.isoformat()}
        tail: dict[str, list[str]] = {}  # ids read per day, for the next sync's cursor
        for number, (start, end) in enumerate(windows(first, today)):
            offset, seen = 0, set()
            while True:
                answer = with_retries(
                    ga.run_report,
                    client,
                    report_request(property_id, start, end, offset),
                    attempts=RETRY_ATTEMPTS,
                )
                traffic, spend, no_spend = read_rows(answer)
                for record in traffic:
                    seen.add(record["external_id"])
                    tail.setdefault(record["day"], []).append(record["external_id"])
                offset += len(answer.rows)
                window_done = not answer.rows or offset >= answer.row_count
                vanished: list[str] = []
                if window_done:
                    # The cursor moves once the whole window is stored: a sync stopped inside
                    # a window reads it again, and the upserts leave its rows as they were.
                    through = min(end, last_complete)
                    read_again_from = (through - dt.timedelta(days=lookback - 1)).isoformat()
                    tail = {day: ids for day, ids in tail.items() if day >= read_again_from}
                    cursor = {
                        "synced_through": through.isoformat(),
                        "recent": sorted(i for ids in tail.values() for i in ids),
                    }
                    if number == 0:
                        vanished = sorted(
                            i for i in stored_before - seen if i[:10] <= end.isoformat()
                        )
                yield SyncPage(
                    records={"web_traffic": traffic, "spend": spend},
                    deleted={"web_traffic": vanished, "spend": no_spend + vanished},
                    state=cursor,
                    progress=f"days {start} to {end}: {offset} of {answer.row_count} rows",
                )
                if window_done:
                    break


def read_rows(answer: RunReportResponse) -> tuple[list[dict], list[dict], list[str]]:
    """(web_traffic records, spend records, ids of rows without ad cost) of one report."""
    from google.analytics.data_v1beta.types import RunReportResponse

    reader = RowReader(answer.metadata.currency_code.upper())
    traffic, spend, no_spend = [], [], []
    # The raw protobuf rows: proto-plus wraps every value on access, which cost more than
    # the request itself on a page of thousands of rows.
    for row in RunReportResponse.pb(answer).rows:
        try:
            record, cost = reader.read(
                [v.value for v in row.dimension_values], [v.value for v in row.metric_values]
            )
        except MalformedRow as exc:
            raise MalformedRow(
                f"Google Analytics sent a report that cannot be read: {exc}"
            ) from None
        traffic.append(record)
        if cost:
            spend.append(cost)
        else:  # a row without cost, or whose cost GA4 revised to nothing: no spend record
            no_spend.append(record["external_id"])
    return traffic, spend, no_spend


def _demo_config(seed_dir: Path) -> dict:
    """The demo connection: the generator's property and the key file it wrote."""
    key_file = seed_dir / f"{KEY}-key.json"
    return {"property_id": "123456789", "service_account_json": key_file.read_text()}


@hookimpl
def register_connectors() -> list[Connector]:
    return [
        GoogleAnalytics(
            key=KEY,
            name="Google Analytics 4",
            demo=DemoSandbox(
                sandbox="kpiplatform_google_analytics.sandbox",
                generator="kpiplatform_google_analytics.sandbox.generate",
                address_variable="KPI_GA4_API_BASE",
                connection_config=_demo_config,
                # Traffic that matches the HubSpot demo's leads, and a key the sandbox accepts.
                generator_args=("--service-account-out", f"{{seed_dir}}/{KEY}-key.json"),
                seed_inputs=(("--hubspot-seed", "hubspot"),),
            ),
            config_fields=(
                ConfigField(
                    "property_id",
                    "Property id",
                    help_text="The number under Admin > Property details, such as 123456789.",
                ),
                ConfigField(
                    "service_account_json",
                    "Service-account key (JSON)",
                    kind="secret",
                    help_text="The whole key file of a service account with the Viewer role "
                    "on the property.",
                ),
                ConfigField(
                    "first_day",
                    "First day",
                    required=False,
                    help_text="YYYY-MM-DD: the first sync starts there (empty: two years ago).",
                ),
                ConfigField(
                    "lookback_days",
                    "Look-back (days)",
                    required=False,
                    help_text="Days before the last synced day read again, as GA4 revises "
                    "recent days (empty: 3).",
                ),
            ),
        )
    ]
