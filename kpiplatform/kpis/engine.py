"""The KPI engine: computes KPIs in the current company's schema and stores their values.

Each KPI computes every period of a grain in one call (SQL inside PostgreSQL), one call per
run of consecutive periods: the periods are those the data reaches, not every period of the
calendar (see ``DATA_REACH_DAYS``). The engine replaces the stored values of the computed
span with one COPY per KPI and grain, so values that are no longer produced are removed. A
KPI that fails (a time limit of its transaction included) is logged and recorded against it;
the others carry on. KPIs that do not depend on each other are computed on two database
connections at once (``KPI_COMPUTE_CONNECTIONS``). Pages and the API read the stored values
only.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
import time
import traceback
import zoneinfo
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from decimal import Decimal

import psycopg
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from kpiplatform import plugins
from kpiplatform.data.models import DATASETS
from kpiplatform.facts import refresh
from kpiplatform.kpis import signals
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


def company_today(context: SqlKPIContext | CompanySettings) -> dt.date:
    """Today in the company's time zone (of a context, or of the settings themselves)."""
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


# Periods follow the data, not the calendar: a record keeps its KPIs' periods going from its
# day (or, for a record that lasts, its span) to this many days after. Gaps in the data
# shorter than that show as periods of zero (no revenue for a quarter is a fact); longer
# ones get no periods, so a stray record dated decades away costs a year of periods, not
# decades of them. A year, so that no period straddles two stretches of data by much.
DATA_REACH_DAYS = 366
# Datasets whose records last from their date field to another column (NULL: still going).
_SPAN_ENDS = {"mrr_segments": "ends_on", "subscriptions": "ended_at"}

DayRange = tuple[dt.date, dt.date]


def _dated_column(context: SqlKPIContext, model, name: str) -> tuple[str, str]:
    """SQL for the local day of a column of ``model``, and the column itself."""
    column = model._meta.get_field(name)
    if column.get_internal_type() == "DateTimeField":
        return context.local_date_sql(column.column), column.column
    return column.column, column.column


def _dated_datasets(datasets: Iterable[str]) -> list[str]:
    """Those of ``datasets`` that place their records in time."""
    return [
        name
        for name in sorted(set(datasets) - _TIMELESS_DATASETS)
        if DATASETS.get(name) is not None and DATASETS[name].date_field
    ]


def data_reaches(context: SqlKPIContext, dataset: str, first_day: dt.date) -> bool:
    """Whether a record of ``dataset`` keeps every day from ``first_day`` to ``as_of`` in its
    reach: one that starts by ``first_day`` and lasts until ``DATA_REACH_DAYS`` before
    ``as_of``. Cheap (the first such record answers): the usual case of a recompute."""
    model = DATASETS[dataset]
    day, column = _dated_column(context, model, model.date_field)
    reach_from = context.as_of - dt.timedelta(days=DATA_REACH_DAYS)
    if dataset in _SPAN_ENDS:
        end, _ = _dated_column(context, model, _SPAN_ENDS[dataset])
        condition = f"{day} <= %(first)s AND ({end} IS NULL OR {end} >= %(reach_from)s)"
    elif day == column:
        condition = f"{column} BETWEEN %(reach_from)s AND %(first)s"
    else:  # a timestamp: compared as such, so that an index on it serves
        condition = (
            f"{column} >= (%(reach_from)s::timestamp AT TIME ZONE %(zone)s) "
            f"AND {column} < ((%(first)s + 1)::timestamp AT TIME ZONE %(zone)s)"
        )
    rows = context.query(
        f"SELECT EXISTS (SELECT 1 FROM {model._meta.db_table} WHERE deleted_at IS NULL "
        f"AND {condition})",
        {"first": first_day, "reach_from": reach_from, "zone": context.time_zone},
    )
    return rows[0][0]


def data_spans(context: SqlKPIContext, dataset: str) -> list[DayRange]:
    """The stretches of days (first, last) that hold records of ``dataset`` up to ``as_of``,
    apart by more than ``DATA_REACH_DAYS``, in order. One scan of the dataset."""
    model = DATASETS[dataset]
    first, column = _dated_column(context, model, model.date_field)
    last = first
    if dataset in _SPAN_ENDS:
        end, _ = _dated_column(context, model, _SPAN_ENDS[dataset])
        last = f"coalesce({end}, %(as_of)s)"
    rows = context.query(
        "SELECT min(first), max(last) FROM ("
        "  SELECT first, last, count(*) FILTER (WHERE gap) OVER (ORDER BY first, last) AS n"
        "  FROM ("
        "    SELECT first, last, first - max(last) OVER (ORDER BY first, last ROWS BETWEEN"
        "           UNBOUNDED PRECEDING AND 1 PRECEDING) > %(reach)s AS gap"
        f"    FROM (SELECT DISTINCT {first} AS first, least({last}, %(as_of)s) AS last"
        f"          FROM {model._meta.db_table}"
        f"          WHERE deleted_at IS NULL AND {column} IS NOT NULL"
        f"            AND {first} <= %(as_of)s) records"
        "  ) gaps"
        ") spans GROUP BY n ORDER BY 1",
        {"as_of": context.as_of, "reach": DATA_REACH_DAYS},
    )
    return [(lo, hi) for lo, hi in rows]


def days_with_data(
    context: SqlKPIContext,
    datasets: Iterable[str],
    first_day: dt.date | None = None,
    memo: dict | None = None,
) -> list[DayRange]:
    """The days up to ``as_of`` within the reach of a record of ``datasets``, as ordered,
    disjoint ranges: the days whose periods a KPI reading ``datasets`` computes. With
    ``first_day``, only the days from it on are wanted (the ranges may start earlier: a
    caller cuts them at the start of its periods). A KPI reading no dataset placed in time,
    or no data at all, computes the period of ``as_of`` alone. ``memo`` keeps the queries'
    answers for the other KPIs of a run."""
    memo = {} if memo is None else memo
    last_day = context.as_of
    dated = _dated_datasets(datasets)
    if first_day is not None:
        first_day = min(first_day, last_day)
        for name in dated:
            if ("reaches", name, first_day) not in memo:
                memo["reaches", name, first_day] = data_reaches(context, name, first_day)
            if memo["reaches", name, first_day]:
                return [(first_day, last_day)]
    spans: list[DayRange] = []
    for name in dated:
        if ("spans", name) not in memo:
            memo["spans", name] = data_spans(context, name)
        spans.extend(memo["spans", name])
    reach = dt.timedelta(days=DATA_REACH_DAYS)
    merged: list[list[dt.date]] = []
    for lo, hi in sorted(spans):
        end = min(_add_days(hi, reach), last_day)
        if merged and lo <= _add_days(merged[-1][1], dt.timedelta(days=1)):
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([lo, end])
    return [(lo, hi) for lo, hi in merged] or [(last_day, last_day)]


def _add_days(day: dt.date, days: dt.timedelta) -> dt.date:
    return dt.date.max if day >= dt.date.max - days else day + days


def period_runs(
    grain: Grain, ranges: Sequence[DayRange], first_start: dt.date | None = None
) -> list[list[Period]]:
    """The periods of ``grain`` that overlap ``ranges`` (and start on or after
    ``first_start``), in runs of consecutive periods: a KPI computes each run in one call."""
    starts: dict[dt.date, Period] = {}
    for lo, hi in ranges:
        if first_start is not None:
            if hi < first_start:
                continue
            lo = max(lo, first_start)
        for period in Period.between(grain, lo, hi):
            starts[period.start] = period
    runs: list[list[Period]] = []
    for start in sorted(starts):
        period = starts[start]
        if runs and runs[-1][-1].end == period.start:
            runs[-1].append(period)
        else:
            runs.append([period])
    return runs


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
    zone), and only where the data the KPI reads reaches (:func:`days_with_data`). Stored
    values of those periods that a KPI no longer produces are removed; with no
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
        _announce_stored(sorted(report.computed))
    return report


def _announce_stored(keys: list[str]) -> None:
    """Tell the apps above (alerts) which KPIs have new values; a failing receiver is
    logged and never fails the recompute, whose values are stored already."""
    for receiver, outcome in signals.kpi_values_stored.send_robust(sender=None, keys=keys):
        if isinstance(outcome, Exception):
            logger.error(
                "after the recompute of %s, %r failed",
                connection.schema_name,
                receiver,
                exc_info=outcome,
            )


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
    # Set when the run stops (the task's time limit): the other connections' KPIs stop too.
    stopped: threading.Event = field(default_factory=threading.Event)
    # The answers of days_with_data's queries, shared by the run's connections.
    data_memo: dict = field(default_factory=dict)
    data_lock: threading.Lock = field(default_factory=threading.Lock)


def _compute_group(
    run: _Run, group: Sequence[KPI], context: SqlKPIContext, report: ComputationReport
) -> None:
    """Compute and store ``group`` (ordered by dependencies) on the current connection, each
    KPI in its own transaction; then drop the group's shared temporary tables."""
    try:
        for kpi in group:
            if run.stopped.is_set():
                break
            requires = datasets_read(run.kpis, kpi.key)
            kpi_first_day = run.first_day
            if run.changed_since is not None:
                kpi_first_day = _changed_since(requires, run.changed_since)
            if kpi_first_day is not None:
                kpi_first_day = min(kpi_first_day, run.last_day)
            started = time.perf_counter()
            try:
                with transaction.atomic():
                    _begin_kpi(kpi.key)
                    with run.data_lock:
                        days = days_with_data(context, requires, kpi_first_day, run.data_memo)
                    for grain in run.grains:
                        report.values_stored += _compute_grain(
                            run, kpi, grain, days, kpi_first_day, context
                        )
                    _record_success(kpi.key, run.computed_at)
                report.computed.append(kpi.key)
                report.seconds[kpi.key] = time.perf_counter() - started
                logger.debug("KPI %s computed in %.3f s", kpi.key, report.seconds[kpi.key])
            except SoftTimeLimitExceeded:
                run.stopped.set()
                raise
            except Exception as exc:
                reason = failure_reason(exc)
                logger.exception("KPI %s failed: %s", kpi.key, reason)
                if isinstance(exc, KPIComputeFailed):  # the KPI's transaction has rolled back
                    plugins.record_failure(exc.call)
                _record_failure(kpi.key, f"{reason}\n\n{traceback.format_exc()}", run.computed_at)
                report.failed[kpi.key] = reason
    finally:
        # Also when the task is interrupted: a table left on a reused connection would
        # hold a copy of this company's facts (and fail the next company's KPIs under their
        # roles, which do not own it).
        _drop_temporary_tables(context)


def _compute_grain(
    run: _Run,
    kpi: KPI,
    grain: Grain,
    days: Sequence[DayRange],
    first_day: dt.date | None,
    context: SqlKPIContext,
) -> int:
    """Compute one KPI at one grain (each run of consecutive periods in one call) and store
    its values; return how many were stored."""
    # A run from a first day replaces the values from that day's period on.
    span_start = Period.containing(grain, first_day).start if first_day else None
    periods: list[Period] = []
    values: list[KPIValue] = []
    for periods_run in period_runs(grain, days, span_start):
        periods.extend(periods_run)
        values.extend(_compute(kpi, run.plugin_of.get(kpi.key), context, periods_run))
    span = None
    if span_start is not None:
        span = (span_start, Period.containing(grain, run.last_day).start)
    stored = _store(kpi.key, grain, span, periods, values, run.computed_at)
    context.computed.setdefault(kpi.key, {}).update(
        (value.period, value.result)
        for value in values
        if not value.segment_kind and not value.segment
    )
    return stored


def failure_reason(error: BaseException) -> str:
    """Why a KPI failed, in words: a time limit of its computation, or the error itself."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, psycopg.errors.LockNotAvailable):
            return (
                "timed out: waited longer than the lock timeout "
                f"({settings.KPI_LOCK_TIMEOUT_S:g} s, KPI_LOCK_TIMEOUT_S) for a lock that "
                "another transaction holds"
            )
        if isinstance(cause, psycopg.errors.QueryCanceled):
            if "statement timeout" in str(cause):
                return (
                    "timed out: a query ran longer than the statement timeout "
                    f"({settings.KPI_STATEMENT_TIMEOUT_S:g} s, KPI_STATEMENT_TIMEOUT_S) and "
                    "was cancelled"
                )
            return f"cancelled: {str(cause).strip()}"
        cause = cause.__cause__ or cause.__context__
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


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

    sessions = []  # the threads' connections

    def compute(group: list[KPI]) -> ComputationReport:
        group_report = ComputationReport()
        own_context = replace(context, computed={}, memo={})
        sessions.append(connections[DEFAULT_DB_ALIAS])  # this thread's (not a proxy)
        try:
            with schema_context(schema_name):
                _compute_group(run, group, own_context, group_report)
        finally:
            connections.close_all()  # this thread's connections
        return group_report

    with ThreadPoolExecutor(max_workers=len(groups), thread_name_prefix="kpis") as pool:
        try:
            for group_report in pool.map(compute, groups):
                report.computed.extend(group_report.computed)
                report.failed.update(group_report.failed)
                report.values_stored += group_report.values_stored
                report.seconds.update(group_report.seconds)
        except BaseException:
            # The task's time limit interrupts this thread alone: stop the other threads'
            # KPIs, and their queries now rather than when they end.
            run.stopped.set()
            for session in sessions:
                if session.connection is not None:
                    with contextlib.suppress(Exception):
                        session.connection.cancel_safe(timeout=5)
            raise


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
    if not tables:
        return
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {', '.join(tables)}")
    except Exception:  # an interrupted run's connection: its tables go with its session
        logger.warning("temporary tables %s not dropped", ", ".join(tables), exc_info=True)


class KPIComputeFailed(RuntimeError):
    """A plugin's KPI raised; the error is recorded against the plugin for admins once the
    KPI's transaction has rolled back."""

    def __init__(self, call: plugins.PluginCall) -> None:
        super().__init__(call.error)
        self.call = call


def _compute(kpi: KPI, plugin_name: str | None, context, periods) -> list[KPIValue]:
    """Run a KPI's compute under the company's database role (which reads this company's
    data only); a plugin's failure is recorded against the plugin and re-raised here so that
    this KPI alone is marked failed while the others carry on."""
    if plugin_name is None:  # definitions passed in by the caller, not from a plugin
        with company_role():
            return list(kpi.compute(context, periods))
    # Plugin code runs under the company's role in call_plugin.
    call = plugins.call_plugin(
        plugin_name,
        lambda: list(kpi.compute(context, periods)),
        hook=f"compute:{kpi.key}",
        record=False,
    )
    if not call.ok:
        raise KPIComputeFailed(call) from call.exception
    return call.value


# Memory for the sorts and hashes of one KPI query: whole-history aggregates spill to disk
# with PostgreSQL's 4 MB default.
KPI_WORK_MEM = "64MB"
# Two runs storing the same KPI (a recompute after changes beside ``manage.py
# recompute_kpis``) take turns, for the whole KPI transaction: the second deletes what the
# first stored, instead of failing on the unique key when both insert the same value.
_LOCK_VALUES = "SELECT pg_advisory_xact_lock(hashtext(current_schema() || ':kpi-values:' || %s))"


def _begin_kpi(key: str) -> None:
    """In a KPI's transaction, before it computes: its query settings and time limits, and
    its turn to store (one statement: a recompute runs hundreds of KPI transactions)."""
    with connection.cursor() as cursor:
        # JIT compiles every costly KPI query anew (about 0.4 s each) and wins less than
        # that on these scans: hundreds of queries per full recompute. The statement timeout
        # bounds each later statement of the KPI; the lock timeout also the wait for its turn
        # here (the select list is evaluated in order, settings first). The query of a
        # worker that was killed stops within the client check interval.
        cursor.execute(
            "SELECT set_config('work_mem', %s, true), set_config('jit', 'off', true), "
            "set_config('statement_timeout', %s, true), set_config('lock_timeout', %s, true), "
            f"set_config('client_connection_check_interval', %s, true), ({_LOCK_VALUES})",
            [
                KPI_WORK_MEM,
                _milliseconds(settings.KPI_STATEMENT_TIMEOUT_S),
                _milliseconds(settings.KPI_LOCK_TIMEOUT_S),
                CLIENT_CHECK_INTERVAL,
                key,
            ],
        )


# How often the database checks, while a KPI's query runs, that the worker is still there.
CLIENT_CHECK_INTERVAL = "5s"


def _milliseconds(seconds: float) -> str:
    """A PostgreSQL duration setting in milliseconds; 0 turns the limit off."""
    return str(max(0, round(seconds * 1000)))


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
    span: tuple[dt.date, dt.date] | None,
    periods: Sequence[Period],
    values: Sequence[KPIValue],
    computed_at: dt.datetime,
) -> int:
    """Replace the stored values of ``key`` at ``grain`` whose periods start in ``span``
    (every stored value of the KPI and grain when None) with ``values`` of ``periods``: the
    values of the span that are no longer produced (a segment or period that no longer has
    data) are removed."""
    wanted = {period.start for period in periods}
    values = [value for value in values if value.period.start in wanted]
    # In the KPI's transaction, which holds the KPI's lock (no savepoint: nothing to undo
    # apart from the whole KPI).
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        stale = "DELETE FROM kpis_value WHERE kpi = %s AND grain = %s"
        params: list = [key, grain.value]
        if span is not None:
            stale += " AND period_start >= %s AND period_start <= %s"
            params += list(span)
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
