"""What the dashboard (the company home) shows for one grain and one selected period, read
from the stored KPI values in a handful of queries on the totals-by-period index.

A complete period is compared with the period before it. The current, unfinished period
(stored "to date") is compared like for like with the same days of the previous period,
re-aggregated from the stored daily values (see :mod:`kpiplatform.web.partial`).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Max, Min

from kpiplatform.facts.models import DataWarning
from kpiplatform.kpis.engine import company_today
from kpiplatform.kpis.models import CompanySettings, KPIComputation, StoredKPIValue
from kpiplatform.kpis.summary import VALUE_FIELDS
from kpiplatform.sdk import KPI, Grain, Period
from kpiplatform.web import partial
from kpiplatform.web.goals import goal_progress

CARD_KPIS = (
    "mrr",
    "arr",
    "net_new_mrr",
    "active_customers",
    "new_customers",
    "customer_churn_rate",
    "nrr",
    "arpa",
    "revenue",
    "spend",
    "cac",
    "new_leads",
)
# The MRR movement KPIs, by the ledger kind their drill-down opens (MRR movements kinds).
MOVEMENT_KPIS = {
    "new": "new_business_mrr",
    "expansion": "expansion_mrr",
    "contraction": "contraction_mrr",
    "churn": "churned_mrr",
    "reactivation": "reactivation_mrr",
}
FUNNEL_KPIS = ("sessions", "new_leads", "new_customers")
CHANNEL_KPIS = ("spend", "new_leads", "cost_per_lead", "new_customers", "marketing_roi")
SERIES_KPIS = (*CARD_KPIS, *MOVEMENT_KPIS.values(), *FUNNEL_KPIS, "lead_conversion_rate")
SPARKLINE_PERIODS = 12
TREND_PERIODS = 24
PICKER_PERIODS = 36
# Which datasets' warnings change which card (records left out for want of a rate).
WARNINGS_BY_KPI_DATASET = {"mrr_segments": "mrr", "payments": "revenue"}


class PeriodChoiceError(ValueError):
    """The period asked for is not one the picker offers."""


@dataclass
class Card:
    kpi: KPI
    current: dict | None
    previous: dict | None  # the comparable previous value (like for like when partial)
    no_comparison: str  # why there is no comparable previous value, if so
    sparkline: list[Decimal | None]
    goal: dict | None
    warnings: int = 0


@dataclass
class ChannelRow:
    kind: str  # "channel" or "campaign"
    segment: str
    values: dict[str, dict | None]  # by KPI key
    cac: Decimal | None  # spend ÷ new customers of the channel or campaign (None: undefined)


@dataclass
class Dashboard:
    grain: Grain
    period: Period
    previous: Period  # the period compared with (its first days only when partial)
    partial_days: int | None  # days of the current period measured so far, when partial
    periods: list[tuple[Period, bool]]  # the picker: (period, is partial), newest first
    cards: list[Card]
    others: list[Card]  # every other KPI, for the table below the charts (no sparkline)
    series: dict[str, list[dict]]  # stored totals of the trend periods, by KPI, oldest first
    funnel: list[dict]
    channels: list[ChannelRow]
    warnings: list[dict]  # {"dataset", "kind", "count"}
    stale_since: dt.datetime | None  # settings changed after the last computation
    kpis: dict[str, KPI] = field(default_factory=dict)

    @property
    def has_values(self) -> bool:
        return any(rows for rows in self.series.values())


def choose_period(
    grain: Grain, period_text: str | None, today: dt.date
) -> tuple[Period, list[Period]]:
    """The selected period (by default the last complete one) and the picker's choices,
    newest first: the current unfinished period and the complete ones before it (the last
    PICKER_PERIODS that have stored values, and the selected one). Any period of the grain
    from the first stored one to the current one can be asked for."""
    current = Period.containing(grain, today)
    earliest = _earliest_stored(grain)
    choices = [current]
    while len(choices) < PICKER_PERIODS and (earliest is None or choices[-1].start > earliest):
        choices.append(choices[-1].previous())
    if not period_text:
        return (choices[1] if len(choices) > 1 else current), choices
    try:
        start = dt.date.fromisoformat(period_text)
    except ValueError:
        raise PeriodChoiceError(f"Unknown period {period_text!r}: pick one of the list.") from None
    period = Period.containing(grain, start)
    if (
        period.start != start
        or period.start > current.start
        or (period != current and (earliest is None or period.end <= earliest))
    ):
        raise PeriodChoiceError(
            f"No {grain.value} starts on {start.isoformat()} among the periods with values."
        )
    if period not in choices:
        choices.append(period)
    return period, choices


def _earliest_stored(grain: Grain) -> dt.date | None:
    return StoredKPIValue.objects.filter(grain=grain.value, segment_kind="", segment="").aggregate(
        first=Min("period_start")
    )["first"]


def build_dashboard(
    kpis: dict[str, KPI],
    settings: CompanySettings,
    grain: Grain,
    period_text: str | None,
    goal_keys: set[str] = frozenset(),
) -> Dashboard:
    """Everything the dashboard shows; ``goal_keys``: the KPIs with a goal at this grain."""
    today = company_today(settings)
    period, choices = choose_period(grain, period_text, today)
    is_partial = period.start <= today < period.end
    wanted = [key for key in SERIES_KPIS if key in kpis]
    first = period
    for _ in range(TREND_PERIODS - 1):
        first = first.previous()
    series = _stored_series(wanted, grain, first.start, period.start)
    by_period = {key: {row["period_start"]: row for row in rows} for key, rows in series.items()}
    previous = period.previous()
    partial_days = None
    comparable: dict[str, tuple[dict | None, str]] = {}
    if is_partial:
        measured_to = min(_local_day(settings, by_period, period) or today, period.last_day)
        partial_days = (measured_to - period.start).days + 1
        comparable = partial.same_days_of(list(kpis), previous, partial_days)
    cards = []
    for key in CARD_KPIS:
        if key not in kpis:
            continue
        stored = by_period.get(key, {})
        current = stored.get(period.start)
        if is_partial:
            before, no_comparison = comparable[key]
        else:
            before, no_comparison = stored.get(previous.start), ""
        spark_start = period
        for _ in range(SPARKLINE_PERIODS - 1):
            spark_start = spark_start.previous()
        sparkline = [
            row["value"] for start, row in sorted(stored.items()) if start >= spark_start.start
        ]
        value = current["value"] if current else None
        goal = goal_progress(kpis[key], grain, period, value) if key in goal_keys else None
        cards.append(Card(kpis[key], current, before, no_comparison, sparkline, goal))
    others = _other_kpis(kpis, grain, period, previous, comparable if is_partial else None)
    warnings = _warnings()
    for card in cards:
        for warning in warnings:
            if WARNINGS_BY_KPI_DATASET.get(warning["dataset"]) == card.kpi.key:
                card.warnings += warning["count"]
    funnel = _funnel(kpis, by_period, period)
    channels = _channels(kpis, grain, period)
    return Dashboard(
        grain=grain,
        period=period,
        previous=previous,
        partial_days=partial_days,
        periods=[(choice, choice.start <= today < choice.end) for choice in choices],
        cards=cards,
        others=others,
        series=series,
        funnel=funnel,
        channels=channels,
        warnings=warnings,
        stale_since=_stale_since(settings),
        kpis=kpis,
    )


def _stored_series(keys: list[str], grain: Grain, first: dt.date, last: dt.date) -> dict:
    """One query: the company totals of ``keys`` for the periods starting in [first, last]."""
    rows = (
        StoredKPIValue.objects.filter(
            kpi__in=keys,
            grain=grain.value,
            segment_kind="",
            segment="",
            period_start__gte=first,
            period_start__lte=last,
        )
        .order_by("period_start")
        .values("kpi", *VALUE_FIELDS)
    )
    series: dict[str, list[dict]] = {key: [] for key in keys}
    for row in rows:
        row["period"] = Period(grain, row["period_start"], row["period_end"]).label
        series[row["kpi"]].append(row)
    return series


def _other_kpis(
    kpis: dict[str, KPI],
    grain: Grain,
    period: Period,
    previous: Period,
    comparable: dict[str, tuple[dict | None, str]] | None,
) -> list[Card]:
    """One query: the KPIs without a card, in the period and the period before (or, when
    the period is partial, against the like-for-like values already re-aggregated)."""
    keys = [key for key in kpis if key not in CARD_KPIS]
    starts = [period.start] if comparable is not None else [period.start, previous.start]
    rows = StoredKPIValue.objects.filter(
        kpi__in=keys, grain=grain.value, segment_kind="", segment="", period_start__in=starts
    ).values("kpi", *VALUE_FIELDS)
    stored = {(row["kpi"], row["period_start"]): row for row in rows}
    others = []
    for key in keys:
        if comparable is not None:
            before, no_comparison = comparable[key]
        else:
            before, no_comparison = stored.get((key, previous.start)), ""
        current = stored.get((key, period.start))
        others.append(Card(kpis[key], current, before, no_comparison, [], None))
    return others


def _local_day(settings: CompanySettings, by_period: dict, period: Period) -> dt.date | None:
    """The day the current period was last measured to: when MRR was computed, in the
    company's time zone (the values of one computation share it)."""
    for key in ("mrr", *CARD_KPIS):
        row = by_period.get(key, {}).get(period.start)
        if row:
            return row["computed_at"].astimezone(zoneinfo.ZoneInfo(settings.time_zone)).date()
    return None


def _funnel(kpis: dict[str, KPI], by_period: dict, period: Period) -> list[dict]:
    """Sessions -> leads -> customers of the period, each step's rate from the one before."""
    steps = []
    for key in FUNNEL_KPIS:
        if key not in kpis:
            continue
        row = by_period.get(key, {}).get(period.start)
        value = row["value"] if row else None
        before = steps[-1]["value"] if steps else None
        rate = value / before if value is not None and before else None
        steps.append({"kpi": kpis[key], "value": value, "rate": rate})
    return steps


def _channels(kpis: dict[str, KPI], grain: Grain, period: Period) -> list[ChannelRow]:
    """One query: the channel and campaign segments of the acquisition KPIs in the period."""
    if grain == Grain.DAY:  # the engine stores no daily breakdown
        return []
    keys = [key for key in CHANNEL_KPIS if key in kpis]
    rows = StoredKPIValue.objects.filter(
        kpi__in=keys,
        grain=grain.value,
        period_start=period.start,
        segment_kind__in=["channel", "campaign"],
    ).values("kpi", "segment_kind", "segment", "value", "numerator", "denominator", "reason")
    table: dict[tuple[str, str], dict[str, dict]] = {}
    for row in rows:
        table.setdefault((row["segment_kind"], row["segment"]), {})[row["kpi"]] = row
    channels = []
    for (kind, segment), values in sorted(table.items()):
        spend, customers = values.get("spend"), values.get("new_customers")
        cac = None
        # CAC is spend ÷ new customers; new customers are broken down by channel only.
        if spend and customers and customers["value"]:
            cac = spend["value"] / customers["value"]
        channels.append(ChannelRow(kind, segment, values, cac))
    return channels


def _warnings() -> list[dict]:
    return list(
        DataWarning.objects.values("dataset", "kind")
        .annotate(count=Count("id"))
        .order_by("dataset", "kind")
    )


def _stale_since(settings: CompanySettings) -> dt.datetime | None:
    """When the settings changed, if after every stored computation (a recompute is due:
    e.g. a new reporting currency, whose numbers are not converted yet)."""
    last = KPIComputation.objects.aggregate(last=Max("computed_at"))["last"]
    if last is not None and settings.updated_at > last:
        return settings.updated_at
    return None
