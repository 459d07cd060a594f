"""The bulk writer: how connectors and the import store canonical records.

Per page of records, in one transaction: COPY into a temporary staging table, then one
``INSERT ... SELECT ... ON CONFLICT (source, external_id) DO UPDATE ... WHERE ... IS DISTINCT
FROM ...``. Rows identical to what is stored are left alone (``updated_at`` unchanged), so
re-syncing or re-importing the same data changes nothing and triggers no recompute.

Validation here is deliberately cheap (a few checks per row in Python, the rest by PostgreSQL's
types and constraints): it is the hot path of every sync. The import validates strictly,
row by row, before it calls the writer.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from operator import itemgetter
from typing import Any

import psycopg
from django.db import connection, transaction
from django_tenants.utils import get_public_schema_name
from psycopg import sql

from kpiplatform.data import columns as cols
from kpiplatform.data.codes import ISO_3166_CODES, ISO_4217_CODES
from kpiplatform.data.models import DATASETS
from kpiplatform.data.signals import data_changed
from kpiplatform.sdk import DatasetChanges

PAGE_SIZE = 10_000
ONE_DAY = dt.timedelta(days=1)


class WriteError(ValueError):
    """A record the writer refuses; the message names the dataset, the record and the column."""


class UnknownDataset(WriteError):
    """The dataset name is not one of ``DATASETS``."""


@dataclass
class WriteCounts:
    """What a write did: rows inserted, updated, left unchanged, and tombstoned."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0

    def add(self, other: WriteCounts) -> None:
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.deleted += other.deleted

    @property
    def written(self) -> int:
        return self.inserted + self.updated

    def as_dict(self) -> dict[str, int]:
        return {
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
        }


@dataclass(frozen=True)
class Purged:
    """What one purge call removed: ``live`` records (tombstones not counted), ``rows`` in all
    (fewer than the call's limit: none of the source is left), and the ``last`` external id."""

    live: int
    rows: int
    last: str


@dataclass(frozen=True)
class _DatasetPlan:
    """Everything about one dataset the writer needs per row and per page, computed once."""

    dataset: str
    table: str
    columns: tuple[cols.Column, ...]
    template: dict[str, None]
    row_of: Any  # itemgetter over the column names
    required: tuple[int, ...]
    datetimes: tuple[int, ...]
    dates: tuple[int, ...]
    choices: tuple[tuple[int, frozenset], ...]
    codes: tuple[tuple[int, frozenset[str], str], ...]  # (column, allowed codes, what they are)
    date_field: str
    date_is_timestamp: bool
    staging_table: str
    create_staging_sql: str
    truncate_staging_sql: str
    copy_sql: str
    upsert_sql: str
    delete_sql: str = field(default="")
    purge_sql: str = field(default="")
    purge_batch_sql: str = field(default="")


# The statements of every dataset, templated once per dataset by _plan with psycopg.sql:
# identifiers are sql.Identifier, default values sql.Literal, the source a parameter.
#
# The subquery in RETURNING reads the snapshot taken before this statement, so for an updated
# row it sees the old version: its old date (a payment moved from March to May touches both
# months). It runs only for updated rows, by primary key. Rows are written (and so locked) in
# external_id order: two writers of the same records in opposite orders take turns instead of
# deadlocking.
UPSERT_SQL = sql.SQL("""
    WITH written AS (
        INSERT INTO {table} AS t (source, external_id, {data_columns}, updated_at)
        SELECT %(source)s::varchar, s.external_id, {staged_row}, now() FROM {staging} s
        ORDER BY s.external_id
        ON CONFLICT (source, external_id) DO UPDATE SET
            {assignments}, deleted_at = NULL, updated_at = EXCLUDED.updated_at
        WHERE t.deleted_at IS NOT NULL
           OR ROW({current_row}) IS DISTINCT FROM ROW({excluded_row})
        RETURNING (t.xmax = 0) AS inserted, {day} AS day,
            CASE WHEN NOT (t.xmax = 0)
                 THEN (SELECT {old_day} FROM {table} o WHERE o.id = t.id) END AS old_day
    )
    SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted),
           least(min({new_date}), min({old_date})), greatest(max({new_date}), max({old_date}))
    FROM written
""")
DELETE_SQL = sql.SQL("""
    WITH gone AS (
        UPDATE {table} t SET deleted_at = now(), updated_at = now()
        WHERE t.source = %(source)s AND t.external_id = ANY(%(ids)s::text[])
          AND t.deleted_at IS NULL
        RETURNING {day} AS day
    )
    SELECT count(*), min({date}), max({date}) FROM gone
""")
# Every record of a source, tombstones too: what a disconnected source brought, removed.
PURGE_SQL = sql.SQL("""
    WITH gone AS (
        DELETE FROM {table} t WHERE t.source = %(source)s
        RETURNING t.external_id, {day} AS day, t.deleted_at IS NULL AS live
    )
    SELECT count(*) FILTER (WHERE live), count(*), min({date}), max({date}), max(external_id)
    FROM gone
""")
# The same, in bounded batches: at most ``limit`` rows in external_id order from just after
# ``after``, each batch resuming where the last stopped through the (source, external_id)
# index, without walking the rows already deleted. Rows are locked in key order, as upserts
# lock them.
PURGE_BATCH_SQL = sql.SQL("""
    WITH doomed AS (
        SELECT id FROM {table} WHERE source = %(source)s AND external_id > %(after)s
        ORDER BY external_id LIMIT %(limit)s
    ), gone AS (
        DELETE FROM {table} t USING doomed d WHERE t.id = d.id
        RETURNING t.external_id, {day} AS day, t.deleted_at IS NULL AS live
    )
    SELECT count(*) FILTER (WHERE live), count(*), min({date}), max({date}), max(external_id)
    FROM gone
""")
CREATE_STAGING_SQL = sql.SQL("CREATE TEMPORARY TABLE IF NOT EXISTS {staging} ({column_defs})")
COPY_SQL = sql.SQL("COPY {staging} ({columns}) FROM STDIN")
TRUNCATE_SQL = sql.SQL("TRUNCATE {staging}")


def _staged_value(column: cols.Column) -> sql.Composable:
    """The staged value as it will be stored: omitted optional values become the default."""
    staged = sql.Identifier("s", column.name)
    if column.nullable or column.default is None:
        return staged
    return sql.SQL("COALESCE({}, {})").format(staged, sql.Literal(column.default))


def _columns(alias: str, names: list[str]) -> sql.Composed:
    return sql.SQL(", ").join(sql.Identifier(alias, name) for name in names)


@cache
def _plan(dataset: str) -> _DatasetPlan:
    if dataset not in DATASETS:
        raise UnknownDataset(f"Unknown dataset {dataset!r}; known: {', '.join(sorted(DATASETS))}.")
    model = DATASETS[dataset]
    columns = cols.columns_of(dataset)
    names = [c.name for c in columns]
    table = sql.Identifier(model._meta.db_table)
    date_field = model.date_field
    date_is_timestamp = bool(date_field) and (
        next(c for c in columns if c.name == date_field).kind == cols.DATETIME
    )
    column_defs = ", ".join(f"{c.name} {c.db_type}" for c in columns)
    # The name carries a digest of the column definitions: a long-lived connection that still
    # holds the staging table of an older schema version never reuses it.
    digest = hashlib.sha1(column_defs.encode(), usedforsecurity=False).hexdigest()[:10]
    staging_table = f"kpi_stage_{dataset}_{digest}"
    staging = sql.Identifier(staging_table)
    data_names = [n for n in names if n != "external_id"]

    def record_day(alias: str) -> sql.Composable:
        return sql.Identifier(alias, date_field) if date_field else sql.SQL("NULL::date")

    def calendar_day(name: str) -> sql.Composable:
        column = sql.Identifier(name)
        if date_is_timestamp:
            return sql.SQL("({} AT TIME ZONE 'UTC')::date").format(column)
        return column

    upsert_sql = UPSERT_SQL.format(
        table=table,
        staging=staging,
        data_columns=sql.SQL(", ").join(map(sql.Identifier, data_names)),
        staged_row=sql.SQL(", ").join(_staged_value(c) for c in columns if c.name != "external_id"),
        assignments=sql.SQL(", ").join(
            sql.SQL("{} = {}").format(sql.Identifier(n), sql.Identifier("excluded", n))
            for n in data_names
        ),
        current_row=_columns("t", data_names),
        excluded_row=_columns("excluded", data_names),
        day=record_day("t"),
        old_day=record_day("o"),
        new_date=calendar_day("day"),
        old_date=calendar_day("old_day"),
    )
    delete_sql = DELETE_SQL.format(table=table, day=record_day("t"), date=calendar_day("day"))
    purge_sql = PURGE_SQL.format(table=table, day=record_day("t"), date=calendar_day("day"))
    purge_batch_sql = PURGE_BATCH_SQL.format(
        table=table, day=record_day("t"), date=calendar_day("day")
    )
    # Django field types ("varchar(255)", "numeric(20, 10)"...) are SQL, not identifiers.
    staging_columns = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(c.db_type)) for c in columns
    )
    return _DatasetPlan(
        dataset=dataset,
        table=table,
        columns=columns,
        template=dict.fromkeys(names),
        row_of=itemgetter(*names),
        required=tuple(i for i, c in enumerate(columns) if c.required),
        datetimes=tuple(i for i, c in enumerate(columns) if c.kind == cols.DATETIME),
        dates=tuple(i for i, c in enumerate(columns) if c.kind == cols.DATE),
        choices=tuple(
            (i, frozenset(c.choices) | ({None} if c.nullable or c.default is not None else set()))
            for i, c in enumerate(columns)
            if c.choices
        ),
        codes=tuple(
            (i, ISO_4217_CODES, "ISO 4217 currency code (3 upper-case letters)")
            if c.is_currency
            else (i, ISO_3166_CODES, "ISO 3166 country code (2 upper-case letters)")
            for i, c in enumerate(columns)
            if c.is_currency or c.is_country
        ),
        date_field=date_field,
        date_is_timestamp=date_is_timestamp,
        staging_table=staging_table,
        create_staging_sql=CREATE_STAGING_SQL.format(
            staging=staging, column_defs=staging_columns
        ).as_string(),
        truncate_staging_sql=TRUNCATE_SQL.format(staging=staging).as_string(),
        copy_sql=COPY_SQL.format(
            staging=staging, columns=sql.SQL(", ").join(map(sql.Identifier, names))
        ).as_string(),
        upsert_sql=upsert_sql.as_string(),
        delete_sql=delete_sql.as_string(),
        purge_sql=purge_sql.as_string(),
        purge_batch_sql=purge_batch_sql.as_string(),
    )


def _refuse(plan: _DatasetPlan, number: int, column: str, message: str) -> WriteError:
    return WriteError(f"{plan.dataset} record {number}, {column}: {message}")


def _checked_rows(plan: _DatasetPlan, records: Iterable[dict[str, Any]]) -> Iterator[tuple]:
    """Records as tuples in column order, with the checks PostgreSQL cannot do for us."""
    template = plan.template
    width = len(template)
    row_of = plan.row_of
    columns = plan.columns
    days = cols.data_days()
    for number, record in enumerate(records, start=1):
        merged = {**template, **record}
        if len(merged) != width:
            unknown = sorted(set(record) - set(template))
            raise _refuse(plan, number, ", ".join(unknown), "unknown column")
        row = row_of(merged)
        for i in plan.required:
            if row[i] is None or row[i] == "":
                raise _refuse(plan, number, columns[i].name, "required")
        for i in plan.datetimes:
            value = row[i]
            if value is None:
                continue
            if isinstance(value, str):
                try:
                    parsed = dt.datetime.fromisoformat(value)
                except ValueError:
                    raise _refuse(plan, number, columns[i].name, "not an ISO datetime") from None
                if parsed.tzinfo is None:
                    raise _refuse(plan, number, columns[i].name, "needs a time zone offset")
                row = (*row[:i], parsed, *row[i + 1 :])
                value = parsed
            elif not isinstance(value, dt.datetime) or value.utcoffset() is None:
                raise _refuse(plan, number, columns[i].name, "needs a timezone-aware datetime")
            # Its own calendar day, so year 1 or 9999 with an offset never overflows here.
            if problem := days.problem(value.date()):
                raise _refuse(plan, number, columns[i].name, problem)
        for i in plan.dates:
            value = row[i]
            if value is None:
                continue
            if isinstance(value, str):
                try:
                    value = dt.date.fromisoformat(value)
                except ValueError:
                    raise _refuse(plan, number, columns[i].name, "not an ISO date") from None
                row = (*row[:i], value, *row[i + 1 :])
            elif isinstance(value, dt.datetime) or not isinstance(value, dt.date):
                raise _refuse(plan, number, columns[i].name, "a date, not a datetime")
            if problem := days.problem(value):
                raise _refuse(plan, number, columns[i].name, problem)
        for i, allowed in plan.choices:
            if row[i] not in allowed:
                raise _refuse(
                    plan,
                    number,
                    columns[i].name,
                    f"{row[i]!r} is not one of {sorted(allowed - {None})}",
                )
        for i, allowed, what in plan.codes:
            code = row[i]
            if code and (not isinstance(code, str) or code not in allowed):
                raise _refuse(plan, number, columns[i].name, f"{code!r} is not an {what}")
        yield row


def _pages(rows: Iterator[tuple], page_size: int) -> Iterator[dict[str, tuple]]:
    """Pages of rows keyed by external id: within a page, the last record of an id wins."""
    page: dict[str, tuple] = {}
    for row in rows:
        page[row[0]] = row
        if len(page) >= page_size:
            yield page
            page = {}
    if page:
        yield page


def _widen(
    plan: _DatasetPlan, low: dt.date | None, high: dt.date | None
) -> tuple[dt.date, dt.date]:
    """The calendar days a change may fall on, whatever the company's time zone."""
    if low is None or high is None:
        # No date to place the records (plans, or records without one): say "today".
        today = dt.datetime.now(dt.UTC).date()
        return today - ONE_DAY, today + ONE_DAY
    if plan.date_is_timestamp:
        return low - ONE_DAY, high + ONE_DAY
    return low, high


class BulkWriter:
    """Writes canonical records of one ``source`` in the active company schema (sdk.Writer).

    ``counts`` adds up what every call did; ``changes`` holds the datasets and days touched.
    After each call that changed something, ``data_changed`` is sent with that call's changes.
    Listeners that start work elsewhere should defer it with ``transaction.on_commit``: the
    caller may hold the written pages in a larger transaction.
    """

    def __init__(self, source: str, page_size: int = PAGE_SIZE) -> None:
        if not source:
            raise ValueError("A writer needs a source.")
        self.source = source
        self.page_size = page_size
        self.counts = WriteCounts()
        self.counts_by_dataset: dict[str, WriteCounts] = {}
        self._changes = DatasetChanges()

    @property
    def changes(self) -> DatasetChanges:
        return self._changes

    def upsert(self, dataset: str, records: Iterable[dict[str, Any]]) -> int:
        """Insert or update ``records``; return how many rows were inserted or updated."""
        plan = self._prepare(dataset)
        counts = WriteCounts()
        low: dt.date | None = None
        high: dt.date | None = None
        for page in _pages(_checked_rows(plan, records), self.page_size):
            page_counts, page_low, page_high = self._write_page(plan, page)
            counts.add(page_counts)
            low = page_low if low is None else min(low, page_low or low)
            high = page_high if high is None else max(high, page_high or high)
        self._finish(plan, counts, low, high)
        return counts.written

    def delete(self, dataset: str, external_ids: Iterable[str]) -> int:
        """Tombstone the records (set ``deleted_at``); return how many were live."""
        plan = self._prepare(dataset)
        counts = WriteCounts()
        low: dt.date | None = None
        high: dt.date | None = None
        ids = sorted({str(i) for i in external_ids})  # locked in key order, like upserts
        for start in range(0, len(ids), self.page_size):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    plan.delete_sql,
                    {"source": self.source, "ids": ids[start : start + self.page_size]},
                )
                deleted, page_low, page_high = cursor.fetchone()
            counts.deleted += deleted
            if deleted:
                low = page_low if low is None else min(low, page_low or low)
                high = page_high if high is None else max(high, page_high or high)
        self._finish(plan, counts, low, high)
        return counts.deleted

    def purge(self, dataset: str, *, limit: int | None = None, after: str = "") -> Purged:
        """Delete the records of this source in ``dataset``, tombstones too (the data of a
        source disconnected with its data): every one, or with ``limit`` the next ``limit``
        of them in external id order after ``after`` (give the batch's ``last`` to the next
        call). The days they fell on are recomputed like any other change."""
        plan = self._prepare(dataset)
        with transaction.atomic(), connection.cursor() as cursor:
            if limit is None:
                cursor.execute(plan.purge_sql, {"source": self.source})
            else:
                cursor.execute(
                    plan.purge_batch_sql, {"source": self.source, "limit": limit, "after": after}
                )
            live, removed, low, high, last = cursor.fetchone()
        counts = WriteCounts(deleted=live)
        self._finish(plan, counts, low if removed else None, high if removed else None)
        return Purged(live=live, rows=removed, last=last or after)

    def _prepare(self, dataset: str) -> _DatasetPlan:
        # Canonical tables exist only in company schemas; say so rather than fail on SQL.
        if connection.schema_name == get_public_schema_name():
            raise WriteError("No company schema is active: canonical data belongs to a company.")
        return _plan(dataset)

    def _write_page(
        self, plan: _DatasetPlan, page: dict[str, tuple]
    ) -> tuple[WriteCounts, dt.date | None, dt.date | None]:
        with transaction.atomic(), connection.cursor() as django_cursor:
            # The Django cursor has set the company's search_path on this session; COPY goes
            # through its psycopg cursor, so the staging and target tables resolve there too.
            cursor: psycopg.Cursor = django_cursor.cursor
            cursor.execute(plan.create_staging_sql)
            cursor.execute(plan.truncate_staging_sql)
            try:
                with cursor.copy(plan.copy_sql) as copy:
                    for row in page.values():
                        copy.write_row(row)
                cursor.execute(plan.upsert_sql, {"source": self.source})
            except psycopg.DataError as exc:
                raise WriteError(f"{plan.dataset}: {exc}") from exc
            except psycopg.IntegrityError as exc:
                raise WriteError(f"{plan.dataset}: {exc}") from exc
            inserted, updated, low, high = cursor.fetchone()
        counts = WriteCounts(
            inserted=inserted, updated=updated, unchanged=len(page) - inserted - updated
        )
        return counts, low, high

    def _finish(
        self, plan: _DatasetPlan, counts: WriteCounts, low: dt.date | None, high: dt.date | None
    ) -> None:
        self.counts.add(counts)
        self.counts_by_dataset.setdefault(plan.dataset, WriteCounts()).add(counts)
        if not (counts.written or counts.deleted):
            return
        first_day, last_day = _widen(plan, low, high)
        call_changes = DatasetChanges()
        call_changes.add(plan.dataset, first_day, last_day)
        self._changes.merge(call_changes)
        data_changed.send(
            sender=BulkWriter, changes=call_changes, schema_name=connection.schema_name
        )
