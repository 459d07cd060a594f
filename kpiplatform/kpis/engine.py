"""The KPI engine: computes KPIs in the current company's schema and stores their values.

Each KPI computes every period of a grain in one call (SQL inside PostgreSQL); the engine
replaces the stored values of the computed periods with one COPY per KPI and grain, so values
that are no longer produced are removed. A KPI that fails is logged and recorded against it;
the others carry on. KPIs that do not depend on each other are computed on two database
connections at once (``KPI_COMPUTE_CONNECTIONS``). Pages and the API read the stored values
only.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import traceback
import zoneinfo
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from decimal import Decimal

from django.conf import settings
from django.db import connection, connections, transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from kpiplatform import plugins
from kpiplatform.data.models import DATASETS
from kpiplatform.facts import refresh
from kpiplatform.kpis.context import SqlKPIContext
from kpiplatform.kpis.models import CompanySettings, KPIComputation
from kpiplatform.kpis.registry import registered_kpis, registered_kpis_by_plugin
from kpiplatform.sdk import (
    KPI,
    DatasetChanges,
    Grain,
    KPIValue,
    Period,
)
from kpiplatform.tenants.roles import company_role

logger = logging.getLogger(__name__)

ALL_GRAINS: tuple[Grain, ...] = tuple(Grain)
# Reference data that does not place anything in time; it never widens the computed range.
_TIMELESS_DATASETS = {"exchange_rates", "plans"}


class KPIDependencyCycle(ValueError):
    """KPIs depend on each other in a circle; none of them can be computed first."""


@dataclass
class ComputationReport:
    """What one engine run did."""

    computed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    values_stored: int = 0
    # Wall-clock seconds per KPI (every grain, storing included): where a run's time goes.
    seconds: dict[str, float] = field(default_factory=dict)
    # The database connections the KPIs were computed on at once.
    connections: int = 1


def build_context() -> SqlKPIContext:
    """The context KPIs of the current company compute with."""
    settings = CompanySettings.current()
    context = SqlKPIContext(
        reporting_currency=settings.reporting_currency,
        time_zone=settings.time_zone,
        gross_margin=settings.gross_margin,
    )
    context.as_of = company_today(context)
    return context


def company_today(context: SqlKPIContext) -> dt.date:
    """Today in the company's time zone."""
    return timezone.now().astimezone(zoneinfo.ZoneInfo(context.time_zone)).date()


def ordered_by_dependencies(kpis: dict[str, KPI], keys: Iterable[str]) -> list[KPI]:
    """``keys`` ordered so that every KPI comes after the KPIs it depends on (those among
    ``keys``; the others are read from their stored values)."""
    wanted = set(keys)
    ordered: list[KPI] = []
    state: dict[str, str] = {}

    def visit(key: str, path: tuple[str, ...]) -> None:
        if state.get(key) == "done":
            return
        if state.get(key) == "visiting":
            raise KPIDependencyCycle(" -> ".join((*path, key)))
        state[key] = "visiting"
        for dependency in kpis[key].depends_on:
            if dependency in wanted and dependency in kpis:
                visit(dependency, (*path, key))
        state[key] = "done"
        ordered.append(kpis[key])

    for key in sorted(wanted):
        visit(key, ())
    return ordered


def dependents_of(kpis: dict[str, KPI], keys: Iterable[str]) -> set[str]:
    """``keys`` and every KPI that depends on one of them, directly or not."""
    result = set(keys)
    grew = True
    while grew:
        grew = False
        for key, kpi in kpis.items():
            if key not in result and result.intersection(kpi.depends_on):
                result.add(key)
                grew = True
    return result


def datasets_read(kpis: dict[str, KPI], key: str) -> set[str]:
    """The datasets a KPI reads, itself or through the KPIs it is built from (LTV:CAC reads
    nothing directly, but has values wherever CLV and CAC have)."""
    seen: set[str] = set()
    datasets: set[str] = set()
    pending = [key]
    while pending:
        current = pending.pop()
        if current in seen or current not in kpis:
            continue
        seen.add(current)
        datasets.update(kpis[current].requires)
        pending.extend(kpis[current].depends_on)
    return datasets


def first_data_day(context: SqlKPIContext, datasets: Iterable[str]) -> dt.date | None:
    """The earliest day any record of ``datasets`` is placed on (in the company's time zone)."""
    parts = []
    for name in sorted(set(datasets) - _TIMELESS_DATASETS):
        model = DATASETS.get(name)
        if model is None or not model.date_field:
            continue
        column = model._meta.get_field(model.date_field)
        day = (
            context.local_date_sql(column.column)
            if column.get_internal_type() == "DateTimeField"
            else column.column
        )
        parts.append(f"(SELECT min({day}) FROM {model._meta.db_table} WHERE deleted_at IS NULL)")
    if not parts:
        return None
    rows = context.query(f"SELECT least({', '.join(parts)})")
    return rows[0][0]


def compute_kpis(
    keys: Iterable[str] | None = None,
    grains: Sequence[Grain | str] = ALL_GRAINS,
    first_day: dt.date | None = None,
    last_day: dt.date | None = None,
    context: SqlKPIContext | None = None,
    kpis: dict[str, KPI] | None = None,
    changed_since: dict[str, dt.date | None] | None = None,
) -> ComputationReport:
    """Compute and store ``keys`` (all KPIs by default) in the current company's schema.

    Periods run from the period containing ``first_day`` (default: the first day of the data
    the KPI reads) to the one containing ``last_day`` (default: today in the company's time
    zone). Values of those periods that a KPI no longer produces are removed; with no
    ``first_day``, every other stored value of the KPI is removed too. ``changed_since``
    gives each KPI its own first day instead: the earliest changed day of the datasets it
    reads (a dataset mapped to None changed on every day). ``kpis`` replaces the registered
    definitions (a caller that holds its own).
    """
    if connection.schema_name == "public":
        raise RuntimeError("KPIs are computed inside a company schema, not in public")
    if kpis is None:
        by_plugin = registered_kpis_by_plugin()
        kpis = {key: kpi for key, (kpi, _) in by_plugin.items()}
        plugin_of = {key: plugin_name for key, (_, plugin_name) in by_plugin.items()}
    else:
        plugin_of = {}
    grains = [Grain(grain) for grain in grains]
    selected = list(kpis) if keys is None else [key for key in keys if key in kpis]
    context = context or build_context()
    last_day = last_day or company_today(context)
    context.as_of = last_day
    computed_at = timezone.now()
    report = ComputationReport()
    try:
        ordered = ordered_by_dependencies(kpis, selected)
    except KPIDependencyCycle as cycle:
        for key in selected:
            _record_failure(key, f"dependency cycle: {cycle}", computed_at)
            report.failed[key] = str(cycle)
        return report
    run = _Run(kpis, plugin_of, grains, first_day, last_day, changed_since, computed_at)
    groups = _independent_groups(ordered, _connections_for(len(ordered)))
    if len(groups) == 1:
        _compute_group(run, groups[0], context, report)
    else:
        _compute_groups_in_parallel(run, groups, context, report)
        report.connections = len(groups)
    if report.computed:
        plugins.notify_kpi_values_updated(report.computed)
    return report


@dataclass(frozen=True)
class _Run:
    """What every KPI of one engine run computes with, apart from its connection."""

    kpis: dict[str, KPI]
    plugin_of: dict[str, str]
    grains: list[Grain]
    first_day: dt.date | None
    last_day: dt.date
    changed_since: dict[str, dt.date | None] | None
    computed_at: dt.datetime


def _compute_group(
    run: _Run, group: Sequence[KPI], context: SqlKPIContext, report: ComputationReport
) -> None:
    """Compute and store ``group`` (ordered by dependencies) on the current connection, each
    KPI in its own transaction; then drop the group's shared temporary tables."""
    data_start: dict[tuple[str, ...], dt.date | None] = {}
    for kpi in group:
        requires = tuple(sorted(datasets_read(run.kpis, kpi.key)))
        kpi_first_day = run.first_day
        if run.changed_since is not None:
            kpi_first_day = _changed_since(requires, run.changed_since)
        # The first data day scans whole datasets: only needed when no first day is given.
        if kpi_first_day is None and requires not in data_start:
            data_start[requires] = first_data_day(context, requires)
        start = kpi_first_day or data_start.get(requires) or run.last_day
        start = min(start, run.last_day)
        started = time.perf_counter()
        try:
            with transaction.atomic():
                _begin_kpi(kpi.key)
                for grain in run.grains:
                    periods = Period.between(grain, start, run.last_day)
                    values = _compute(kpi, run.plugin_of.get(kpi.key), context, periods)
                    report.values_stored += _store(
                        kpi.key,
                        grain,
                        periods,
                        values,
                        run.computed_at,
                        full=kpi_first_day is None,
                    )
                    context.computed.setdefault(kpi.key, {}).update(
                        (value.period, value.result)
                        for value in values
                        if not value.segment_kind and not value.segment
                    )
                _record_success(kpi.key, run.computed_at)
            report.computed.append(kpi.key)
            report.seconds[kpi.key] = time.perf_counter() - started
            logger.debug("KPI %s computed in %.3f s", kpi.key, report.seconds[kpi.key])
        except Exception:
            error = traceback.format_exc()
            logger.exception("KPI %s failed", kpi.key)
            _record_failure(kpi.key, error, run.computed_at)
            report.failed[kpi.key] = error.strip().splitlines()[-1]
    _drop_temporary_tables(context)


def _connections_for(kpi_count: int) -> int:
    """How many database connections a run may compute on at once: one inside a caller's
    transaction, whose uncommitted data other connections cannot see."""
    if connection.in_atomic_block or kpi_count < 2:
        return 1
    return max(1, settings.KPI_COMPUTE_CONNECTIONS)


def _independent_groups(ordered: list[KPI], count: int) -> list[list[KPI]]:
    """``ordered`` split into at most ``count`` groups that share no dependency (a KPI and
    those it is built from stay together, in order, as do the instances of one class), the
    largest parts spread first."""
    if count == 1:
        return [ordered]
    keys = {kpi.key for kpi in ordered}
    parent = {key: key for key in keys}

    def root(key: str) -> str:
        while parent[key] != key:
            key = parent[key]
        return key

    first_of_class: dict[type, str] = {}
    for kpi in ordered:
        for dependency in kpi.depends_on:
            if dependency in keys:
                parent[root(dependency)] = root(kpi.key)
        # Instances of one KPI class (a family defined by formulas) share the facts they
        # compute from within a run (``context.memo``, per connection): keep them together.
        same_class = first_of_class.setdefault(type(kpi), kpi.key)
        parent[root(same_class)] = root(kpi.key)
    parts: dict[str, list[KPI]] = {}
    for kpi in ordered:  # keeps the dependency order within each part
        parts.setdefault(root(kpi.key), []).append(kpi)
    groups: list[list[KPI]] = [[] for _ in range(count)]
    for part in sorted(parts.values(), key=len, reverse=True):
        smallest = min(groups, key=len)
        smallest.extend(part)
    return [group for group in groups if group]


def _compute_groups_in_parallel(
    run: _Run, groups: list[list[KPI]], context: SqlKPIContext, report: ComputationReport
) -> None:
    """Each group on its own thread and database connection (SQL runs on as many cores),
    with its own copy of the context; the reports are merged into ``report``."""
    schema_name = connection.schema_name

    def compute(group: list[KPI]) -> ComputationReport:
        group_report = ComputationReport()
        own_context = replace(context, computed={}, memo={})
        try:
            with schema_context(schema_name):
                _compute_group(run, group, own_context, group_report)
        finally:
            connections.close_all()  # this thread's connections
        return group_report

    with ThreadPoolExecutor(max_workers=len(groups), thread_name_prefix="kpis") as pool:
        for group_report in pool.map(compute, groups):
            report.computed.extend(group_report.computed)
            report.failed.update(group_report.failed)
            report.values_stored += group_report.values_stored
            report.seconds.update(group_report.seconds)


def _changed_since(requires: Iterable[str], changed: dict[str, dt.date | None]) -> dt.date | None:
    """The first day to recompute a KPI reading ``requires`` from (None: every day)."""
    days = [changed[name] for name in requires if name in changed]
    if any(day is None for day in days):
        return None
    return min(days) if days else None


# The memo key under which KPIs list the temporary tables they built to share facts within
# the run (schema-qualified names, ``pg_temp.*``).
TEMPORARY_TABLES = "temporary_tables"


def _drop_temporary_tables(context: SqlKPIContext) -> None:
    """Drop the run's shared temporary tables: they would otherwise live as long as the
    database connection (a worker's), holding a copy of the company's facts."""
    tables = sorted(context.memo.pop(TEMPORARY_TABLES, ()))
    if tables:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {', '.join(tables)}")


class KPIComputeFailed(RuntimeError):
    """A plugin's KPI raised; the error is recorded against the plugin for admins."""


def _compute(kpi: KPI, plugin_name: str | None, context, periods) -> list[KPIValue]:
    """Run a KPI's compute under the company's database role (which reads this company's
    data only); a plugin's failure is recorded against the plugin and re-raised here so that
    this KPI alone is marked failed while the others carry on."""
    if plugin_name is None:  # definitions passed in by the caller, not from a plugin
        with company_role():
            return list(kpi.compute(context, periods))
    # Plugin code runs under the company's role in call_plugin.
    call = plugins.call_plugin(
        plugin_name, lambda: list(kpi.compute(context, periods)), hook=f"compute:{kpi.key}"
    )
    if not call.ok:
        raise KPIComputeFailed(call.error)
    return call.value


# Memory for the sorts and hashes of one KPI query: whole-history aggregates spill to disk
# with PostgreSQL's 4 MB default.
KPI_WORK_MEM = "64MB"
# Two runs storing the same KPI (a recompute after changes beside ``manage.py
# recompute_kpis``) take turns, for the whole KPI transaction: the second deletes what the
# first stored, instead of failing on the unique key when both insert the same value.
_LOCK_VALUES = "SELECT pg_advisory_xact_lock(hashtext(current_schema() || ':kpi-values:' || %s))"


def _begin_kpi(key: str) -> None:
    """In a KPI's transaction, before it computes: its query settings, and its turn to store
    (one statement: a recompute runs hundreds of KPI transactions)."""
    with connection.cursor() as cursor:
        # JIT compiles every costly KPI query anew (about 0.4 s each) and wins less than
        # that on these scans: hundreds of queries per full recompute.
        cursor.execute(
            "SELECT set_config('work_mem', %s, true), set_config('jit', 'off', true), "
            f"({_LOCK_VALUES})",
            [KPI_WORK_MEM, key],
        )


# A KPI's values are replaced, not upserted: the engine deletes the computed range (or
# every value of the KPI and grain, for a full run) and copies the new values in, all in the
# KPI's transaction, so readers see the old values or the new ones. An upsert of unnested
# arrays took twice the CPU: a conflict check and an update (new index entries) per row, and
# Python adapting every Decimal of the arrays.
_VALUE_COLUMNS = (
    "kpi, grain, period_start, period_end, segment_kind, segment, value, numerator, "
    "denominator, reason, computed_at"
)
_COPY_VALUES = f"COPY kpis_value ({_VALUE_COLUMNS}) FROM STDIN (FORMAT BINARY)"
_COPY_TYPES = (
    "text", "text", "date", "date", "text", "text", "numeric", "numeric", "numeric", "text",
    "timestamptz",
)  # fmt: skip


def _store(
    key: str,
    grain: Grain,
    periods: Sequence[Period],
    values: Sequence[KPIValue],
    computed_at: dt.datetime,
    full: bool,
) -> int:
    """Replace the stored values of ``key`` at ``grain`` in the span of ``periods`` (every
    stored value of the KPI and grain when ``full``) with ``values``: values of the span that
    are no longer produced (a segment or period that no longer has data) are removed."""
    wanted = {period.start for period in periods}
    values = [value for value in values if value.period.start in wanted]
    # In the KPI's transaction, which holds the KPI's lock (no savepoint: nothing to undo
    # apart from the whole KPI).
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        stale = "DELETE FROM kpis_value WHERE kpi = %s AND grain = %s"
        params: list = [key, grain.value]
        if not full:
            stale += " AND period_start >= %s AND period_start <= %s"
            params += [periods[0].start, periods[-1].start]
        cursor.execute(stale, params)
        if values:
            # COPY in binary: no text rendering and parsing of every date and number.
            with cursor.cursor.copy(_COPY_VALUES) as copy:
                copy.set_types(_COPY_TYPES)
                grain_name = grain.value
                for value in values:
                    result = value.result
                    copy.write_row(
                        (
                            key,
                            grain_name,
                            value.period.start,
                            value.period.end,
                            value.segment_kind,
                            value.segment,
                            _number(result.value),
                            _number(result.numerator),
                            _number(result.denominator),
                            result.reason[:255],
                            computed_at,
                        )
                    )
    return len(values)


def _number(number):
    """A KPI's number as the binary COPY takes it (Decimal, int or None); a float, which the
    SDK does not promise but a plugin may return, as PostgreSQL converts a float8."""
    if type(number) is Decimal:
        return number
    if isinstance(number, float):
        return Decimal(f"{number:.15g}")
    return number


def _record_success(key: str, computed_at: dt.datetime) -> None:
    # One upsert (update_or_create takes a savepoint, a locking read and a write).
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {KPIComputation._meta.db_table} (kpi, computed_at, error, failed_at) "
            "VALUES (%s, %s, '', NULL) ON CONFLICT (kpi) DO UPDATE SET "
            "computed_at = EXCLUDED.computed_at, error = '', failed_at = NULL",
            [key, computed_at],
        )


def _record_failure(key: str, error: str, failed_at: dt.datetime) -> None:
    KPIComputation.objects.update_or_create(
        kpi=key, defaults={"error": error, "failed_at": failed_at}
    )


def recompute_everything(context: SqlKPIContext | None = None) -> ComputationReport:
    """Rebuild the derived facts and recompute every KPI at every grain (settings changed, a
    new deployment, ``manage.py recompute_kpis``)."""
    context = context or build_context()
    refresh.rebuild_all(context)
    return compute_kpis(context=context)


def recompute_after_changes(changes: DatasetChanges) -> ComputationReport:
    """Recompute what ``changes`` touch: the derived facts of the changed days and customers
    (:mod:`kpiplatform.facts.refresh`), then each KPI reading a changed dataset or fact, from
    its first changed day to today (MRR-type values are cumulative, so every later period
    moves too)."""
    if not changes.ranges:
        return ComputationReport()
    context = build_context()
    changed = refresh.refresh(context, changes)
    if changed is None:  # rebuilt entirely: any period of any KPI may have moved
        return compute_kpis(context=context)
    kpis = registered_kpis()
    keys = dependents_of(kpis, [k for k, kpi in kpis.items() if set(changed) & set(kpi.requires)])
    return compute_kpis(keys=sorted(keys), context=context, changed_since=changed)
