"""Drill-downs: from a KPI's number in one period to the records that make it.

A drill is named by a KPI key (or ``mrr_movements``, the movements of every kind together)
and opens one or more lists (:mod:`kpiplatform.kpis.drill_lists`). The MRR movement drills
also carry the reconciliation: MRR at the start + each kind of movement = MRR at the end,
from the same day sums the KPIs read, beside the stored values of those KPIs. Everything is
aggregated and paginated in SQL; nothing here computes or stores a KPI value.

The URL contract, shared by the pages and the API:
``?period=YYYY-MM-DD`` (any day of the period; the period containing it), ``grain`` (default
month), ``list`` (one of the drill's lists, default its first), ``kind`` (a movement kind, on
movement lists), ``segment_kind`` and ``segment``, ``page`` and ``page_size``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from decimal import Decimal

from django.db import connection

from kpiplatform.kpis.drill_lists import LISTS, MOVEMENT_KINDS, PLAN, DrillList, Scope
from kpiplatform.kpis.engine import company_today
from kpiplatform.kpis.models import CompanySettings, StoredKPIValue
from kpiplatform.kpis.registry import registered_kpis_by_plugin
from kpiplatform.sdk import MRR_DAYS_TABLE, MRR_PLAN_DAYS_TABLE, Grain, Period

MOVEMENTS_KEY = "mrr_movements"
# The KPI whose stored values give each part of the reconciliation.
KIND_KPIS = {
    "new": "new_business_mrr",
    "reactivation": "reactivation_mrr",
    "expansion": "expansion_mrr",
    "contraction": "contraction_mrr",
    "churn": "churned_mrr",
}
KIND_LABELS = {
    "new": "New business",
    "reactivation": "Reactivation",
    "expansion": "Expansion",
    "contraction": "Contraction",
    "churn": "Churn",
}
# Other names of the kinds (the KPIs' words): a link may use either.
KIND_ALIASES = {"new_business": "new", "churned": "churn"}
MAX_PAGE_SIZE = 1000
PAGE_SIZE = 50


@dataclass(frozen=True)
class Drill:
    """What a KPI opens: its lists (the first is the default), the movement kind it is made
    of, and whether it shows the MRR reconciliation."""

    lists: tuple[str, ...]
    kind: str = ""
    reconciles_mrr: bool = False


_MOVEMENTS = Drill(("movements",), reconciles_mrr=True)
DRILLS: dict[str, Drill] = {
    MOVEMENTS_KEY: _MOVEMENTS,
    **{key: Drill(("movements",), kind, True) for kind, key in KIND_KPIS.items()},
    "net_new_mrr": _MOVEMENTS,
    "mrr": Drill(("active_customers", "movements"), reconciles_mrr=True),
    "arr": Drill(("active_customers", "movements"), reconciles_mrr=True),
    "arpa": Drill(("active_customers", "movements"), reconciles_mrr=True),
    "gross_mrr_churn_rate": _MOVEMENTS,
    "net_mrr_churn_rate": _MOVEMENTS,
    "nrr": Drill(("start_customers", "movements"), reconciles_mrr=True),
    "grr": Drill(("start_customers", "movements"), reconciles_mrr=True),
    "clv": Drill(("active_customers", "movements"), reconciles_mrr=True),
    "active_customers": Drill(("active_customers", "start_customers", "movements")),
    "new_customers": Drill(("new_customers",)),
    "churned_customers": Drill(("movements",), "churn"),
    "customer_churn_rate": Drill(("movements", "start_customers"), "churn"),
    "customer_retention_rate": Drill(("start_customers", "active_customers", "movements")),
    "revenue": Drill(("payments",)),
    "gross_revenue": Drill(("payments",)),
    "arpu": Drill(("payments",)),
    "orders": Drill(("orders",)),
    "average_order_value": Drill(("orders",)),
    "spend": Drill(("spend",)),
    "cac": Drill(("spend", "new_customers")),
    "ltv_to_cac": Drill(("spend", "new_customers")),
    "cac_payback_months": Drill(("spend", "new_customers")),
    "new_leads": Drill(("leads",)),
    "cost_per_lead": Drill(("spend", "leads")),
    "lead_conversion_rate": Drill(("leads",)),
    "marketing_roi": Drill(("spend", "acquired_customers")),
}


class DrillError(ValueError):
    """A drill request that cannot be answered, with the parameter at fault."""

    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.field = field_name
        self.message = message


class UnknownDrill(LookupError):
    pass


@dataclass(frozen=True)
class DrillRequest:
    key: str
    grain: Grain
    period: Period
    list_name: str
    kind: str = ""
    segment_kind: str = ""
    segment: str = ""
    page: int = 1
    page_size: int = PAGE_SIZE


def drill_for(key: str) -> Drill:
    """The drill of ``key``, or :class:`UnknownDrill` (a KPI without one, or no KPI)."""
    kpis = registered_kpis_by_plugin()
    if key in DRILLS and (key == MOVEMENTS_KEY or key in kpis):
        return DRILLS[key]
    raise UnknownDrill(f"No drill-down for {key!r}.")


def parse_request(key: str, query) -> DrillRequest:
    """A :class:`DrillRequest` from query parameters (a QueryDict or a dict of strings)."""
    drill = drill_for(key)

    def text(name: str) -> str:
        value = query.get(name) or ""
        if "\x00" in value:
            raise DrillError(name, "Null characters are not allowed.")
        return value

    try:
        grain = Grain(text("grain") or Grain.MONTH.value)
    except ValueError:
        raise DrillError("grain", f"Use one of {', '.join(g.value for g in Grain)}.") from None
    day_text = text("period")
    if not day_text:
        raise DrillError("period", "Give the period as a day, YYYY-MM-DD (e.g. its first day).")
    try:
        day = dt.date.fromisoformat(day_text)
    except ValueError:
        raise DrillError("period", "Use a date as YYYY-MM-DD.") from None
    if not dt.date(1970, 1, 1) <= day <= dt.date(2100, 12, 31):
        raise DrillError("period", "Give a day between 1970-01-01 and 2100-12-31.")
    list_name = text("list") or drill.lists[0]
    if list_name not in drill.lists:
        raise DrillError("list", f"{key} opens these lists: {', '.join(drill.lists)}.")
    drill_list = LISTS[list_name]
    kind = text("kind") if "kind" in query else drill.kind
    kind = KIND_ALIASES.get(kind, kind)
    if kind and not drill_list.takes_kind:
        kind = ""
    if kind and kind not in MOVEMENT_KINDS:
        raise DrillError("kind", f"Use one of {', '.join(MOVEMENT_KINDS)}.")
    segment_kind, segment = text("segment_kind"), text("segment")
    if segment_kind and segment_kind not in drill_list.segment_kinds:
        raise DrillError(
            "segment_kind",
            f"The {list_name} list is broken down by {', '.join(drill_list.segment_kinds)}.",
        )
    if segment_kind and not segment:
        raise DrillError("segment", "Give the segment value (e.g. FR), or no segment kind.")
    if segment and not segment_kind:
        raise DrillError("segment_kind", "Give the kind of the segment (e.g. country).")
    page = _positive(text("page") or "1", "page")
    page_size = min(_positive(text("page_size") or str(PAGE_SIZE), "page_size"), MAX_PAGE_SIZE)
    return DrillRequest(
        key,
        grain,
        Period.containing(grain, day),
        list_name,
        kind,
        segment_kind,
        segment,
        page,
        page_size,
    )


def _positive(value: str, name: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise DrillError(name, "Use a whole number from 1.")
    return int(value)


@dataclass
class Reconciliation:
    """MRR at the start + each kind of movement = MRR at the end (computed from the MRR day
    sums), beside the stored values of the same numbers (None: not stored)."""

    mrr_start: Decimal
    movements: dict[str, Decimal]
    customers: dict[str, int]  # movements of each kind
    stored: dict[str, Decimal | None]  # "mrr_start", "mrr_end" and each kind

    @property
    def mrr_end(self) -> Decimal:
        return self.mrr_start + sum(self.movements.values(), Decimal(0))

    @property
    def net(self) -> Decimal:
        return self.mrr_end - self.mrr_start

    @property
    def matches_stored(self) -> bool:
        computed = {"mrr_start": self.mrr_start, "mrr_end": self.mrr_end, **self.movements}
        return all(
            self.stored.get(name) is None or self.stored[name] == value
            for name, value in computed.items()
        )


@dataclass
class DrillResult:
    request: DrillRequest
    drill: Drill
    drill_list: DrillList
    currency: str
    as_of: dt.date
    count: int
    totals: dict[str, Decimal | int]
    rows: list[dict]
    stored: dict | None  # the drilled KPI's stored value of the period and segment
    reconciliation: Reconciliation | None = None
    segments: dict[str, list[str]] = field(default_factory=dict)  # kind -> values stored

    @property
    def pages(self) -> int:
        return max(1, -(-self.count // self.request.page_size))


def _scope(request: DrillRequest, settings: CompanySettings, as_of: dt.date) -> Scope:
    return Scope(
        start=request.period.start,
        end=request.period.end,
        as_of=as_of,
        reporting_currency=settings.reporting_currency,
        time_zone=settings.time_zone,
        kind=request.kind,
        segment_kind=request.segment_kind,
        segment=request.segment,
    )


def _query(sql: str, params: dict) -> tuple[list[str], list[tuple]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [column.name for column in cursor.description], cursor.fetchall()


def company_as_of(settings: CompanySettings) -> dt.date:
    """The day the KPIs are computed up to: today in the company's time zone."""
    return company_today(settings)


def open_drill(request: DrillRequest, *, paginate: bool = True) -> DrillResult:
    """The rows of the requested list (one page of them, or all), their totals, the stored
    value they reconcile with and, for MRR movement drills, the reconciliation."""
    drill = drill_for(request.key)
    drill_list = LISTS[request.list_name]
    settings = CompanySettings.current()
    as_of = company_as_of(settings)
    scope = _scope(request, settings, as_of)
    params = scope.params()
    _, (totals_row,) = _query(drill_list.totals_sql(scope), params)
    totals = dict(zip(drill_list.totals, totals_row, strict=True))
    sql = drill_list.rows_sql(scope)
    if paginate:
        sql += " LIMIT %(limit)s OFFSET %(offset)s"
        params = {
            **params,
            "limit": request.page_size,
            "offset": (request.page - 1) * request.page_size,
        }
    columns, rows = _query(sql, params)
    return DrillResult(
        request=request,
        drill=drill,
        drill_list=drill_list,
        currency=settings.reporting_currency,
        as_of=as_of,
        count=totals["count"],
        totals=totals,
        rows=[dict(zip(columns, row, strict=True)) for row in rows],
        stored=_stored(request.key, request),
        reconciliation=_reconciliation(scope, request) if drill.reconciles_mrr else None,
        segments=_stored_segments(request, drill_list),
    )


def _stored_rows(keys, request: DrillRequest, periods) -> dict:
    rows = StoredKPIValue.objects.filter(
        kpi__in=list(keys),
        grain=request.grain.value,
        period_start__in=[period.start for period in periods],
        segment_kind=request.segment_kind,
        segment=request.segment,
    ).values("kpi", "period_start", "value", "numerator", "denominator", "reason")
    return {(row["kpi"], row["period_start"]): row for row in rows}


def _stored(key: str, request: DrillRequest) -> dict | None:
    if key == MOVEMENTS_KEY:
        key = "net_new_mrr"
    return _stored_rows([key], request, [request.period]).get((key, request.period.start))


# One query over the day sums the movement KPIs read: MRR before the period, and each
# kind's movements and count in it, up to the day of computation.
_RECONCILIATION_SQL = """
    SELECT coalesce(sum(net) FILTER (WHERE day < %(start)s), 0),
           {sums}
    FROM {table} d
    WHERE d.day < %(end)s AND d.day <= %(as_of)s {segment}
"""


def _reconciliation(scope: Scope, request: DrillRequest) -> Reconciliation:
    if request.segment_kind == PLAN:
        # The plan days are keyed by plan reference; the segment is the plan's label.
        table = (
            f"(SELECT d.*, coalesce(nullif(pl.name, ''), nullif(d.plan_ref, ''), 'unknown') "
            f"AS plan FROM {MRR_PLAN_DAYS_TABLE} d LEFT JOIN data_plans pl "
            "ON pl.source = d.source AND pl.external_id = d.plan_ref AND pl.deleted_at IS NULL)"
        )
    else:
        table = MRR_DAYS_TABLE
    segment = f"AND d.{request.segment_kind} = %(segment)s" if request.segment_kind else ""
    sums = ", ".join(
        f"coalesce(sum({kind}) FILTER (WHERE day >= %(start)s), 0)" for kind in MOVEMENT_KINDS
    )
    sql = _RECONCILIATION_SQL.format(sums=sums, table=table, segment=segment)
    _, ((mrr_start, *movements),) = _query(sql, scope.params())
    _, counts = _query(
        LISTS["movements"].counts_by_kind_sql(replace(scope, kind="")), scope.params()
    )
    previous = request.period.previous()
    stored = _stored_rows(["mrr", *KIND_KPIS.values()], request, [request.period, previous])

    def value(key: str, period: Period) -> Decimal | None:
        row = stored.get((key, period.start))
        return None if row is None else row["value"]

    return Reconciliation(
        mrr_start=mrr_start,
        movements=dict(zip(MOVEMENT_KINDS, movements, strict=True)),
        customers={kind: dict(counts).get(kind, 0) for kind in MOVEMENT_KINDS},
        stored={
            "mrr_start": value("mrr", previous),
            "mrr_end": value("mrr", request.period),
            **{kind: value(key, request.period) for kind, key in KIND_KPIS.items()},
        },
    )


def _stored_segments(request: DrillRequest, drill_list: DrillList) -> dict[str, list[str]]:
    """The segment values stored for the drilled KPI in the period, by kind: what the
    segment filter offers."""
    key = "net_new_mrr" if request.key == MOVEMENTS_KEY else request.key
    pairs = (
        StoredKPIValue.objects.filter(
            kpi=key,
            grain=request.grain.value,
            period_start=request.period.start,
            segment_kind__in=drill_list.segment_kinds,
        )
        .order_by("segment_kind", "segment")
        .values_list("segment_kind", "segment")
    )
    segments: dict[str, list[str]] = {}
    for kind, segment in pairs:
        segments.setdefault(kind, []).append(segment)
    return segments
