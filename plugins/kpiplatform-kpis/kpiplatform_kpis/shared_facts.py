"""Facts shared by several KPIs and grains of one engine run, built once into temporary tables.

Deriving facts such as payments converted to the reporting currency costs seconds on a large
company; each grain of each KPI deriving them again multiplied that cost. A shared fact is
built once per run (``context.memo`` is per run) into a session temporary table covering
every grain's periods, and each grain then aggregates the table.

The engine runs each KPI in its own transaction: a table created by a KPI that then fails is
rolled back with it, so every use checks that the table still exists. The engine drops the
tables listed under :data:`TEMPORARY_TABLES` at the end of the run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from kpiplatform.sdk import KPIContext, Period

# The memo key under which the names of the run's temporary tables are listed.
TEMPORARY_TABLES = "temporary_tables"


def covering_span(periods: Sequence[Period]) -> tuple[dt.date, dt.date]:
    """Days [first, end) covering the periods of every grain that the engine computes for
    the same run as ``periods`` (whichever grain they are of): every grain's first period
    contains the run's first day, its last period the run's last day, and no period reaches
    past the year or ISO week containing that day."""
    first, last = periods[0].start, periods[-1].end - dt.timedelta(days=1)
    first = min(dt.date(first.year, 1, 1), first - dt.timedelta(days=first.weekday()))
    end = max(
        dt.date(last.year + 1, 1, 1), last - dt.timedelta(days=last.weekday()) + dt.timedelta(7)
    )
    return first, end


def params_for(context: KPIContext, first: dt.date, end: dt.date) -> dict[str, Any]:
    """The span parameters a shared table's select reads (as :func:`grouping.base_params`)."""
    return {"first_day": first, "end_day": end, "time_zone": context.time_zone}


def shared_table(
    context: KPIContext,
    name: str,
    select_sql: str,
    periods: Sequence[Period],
    params: dict[str, Any] | None = None,
) -> str:
    """The name of temporary table ``name`` holding ``select_sql`` over a span covering
    ``periods`` (parameters ``first_day``, ``end_day``, ``time_zone`` and ``params``),
    created on first use in the run and again when a later grain needs a wider span or
    other ``params``."""
    first, end = covering_span(periods)
    params = params or {}
    key = (TEMPORARY_TABLES, name)
    built = context.memo.get(key)
    table = f"pg_temp.{name}"
    covered = (
        built is not None
        and built[0] <= periods[0].start
        and periods[-1].end <= built[1]
        and built[2] == params
    )
    if covered and context.query("SELECT to_regclass(%s) IS NOT NULL", [table])[0][0]:
        return table
    if built is not None:
        first, end = min(first, built[0]), max(end, built[1])
    # The leading SELECT gives the statements a result to fetch; all of them run.
    context.query(
        f"SELECT 1; DROP TABLE IF EXISTS {table}; "
        f"CREATE TEMPORARY TABLE {name} AS {select_sql}; ANALYZE {table}",
        {**params_for(context, first, end), **params},
    )
    context.memo[key] = (first, end, params)
    context.memo.setdefault(TEMPORARY_TABLES, set()).add(table)
    return table
