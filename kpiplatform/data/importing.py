"""CSV and JSON import of any dataset: strict row-by-row validation, then the bulk writer.

A file is all or nothing: every row is checked (types, required columns, allowed values,
currencies, time zones...) and, if any row is wrong, nothing is written and the first
``MAX_ERRORS`` errors are reported with their line (CSV, header = line 1) or item number
(JSON, first item = 1). Rows are validated and written page by page inside one transaction,
so a large CSV is streamed, never held in memory whole.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import IO, Any

from django.db import connection, transaction

from kpiplatform import strictjson
from kpiplatform.data import columns as cols
from kpiplatform.data.codes import ISO_3166_CODES, ISO_4217_CODES
from kpiplatform.data.writer import BulkWriter, WriteCounts, WriteError

IMPORT_SOURCE = "import"
MAX_ERRORS = 100
INTEGER_RE = re.compile(r"[+-]?\d+")
TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0"})


@dataclass(frozen=True)
class RowError:
    """One problem in an imported file: where, which column, what is wrong."""

    line: int
    column: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "column": self.column, "message": self.message}


class ImportRefused(Exception):
    """The file was refused whole; nothing was written.

    ``truncated``: there were more than MAX_ERRORS errors and only the first are listed.
    """

    def __init__(self, errors: list[RowError], truncated: bool = False) -> None:
        super().__init__(errors)
        self.errors = errors
        self.truncated = truncated

    def __str__(self) -> str:
        more = " or more" if self.truncated else ""
        noun = "error" if len(self.errors) == 1 and not self.truncated else "errors"
        return f"The file has {len(self.errors)}{more} {noun}; nothing was imported."


class FileTooLarge(Exception):
    """The upload is larger than the import limit."""

    def __init__(self, limit_bytes: int) -> None:
        super().__init__(
            f"The file is larger than the import limit of {limit_bytes // 1_000_000} MB; "
            "split it into smaller files."
        )


class _LimitedReader(io.RawIOBase):
    """A byte stream that fails with FileTooLarge once more than ``limit`` bytes were read."""

    def __init__(self, source: Any, limit_bytes: int) -> None:
        self._source = source
        self._limit = limit_bytes
        self._read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._source.read(len(buffer))
        self._read += len(data)
        if self._read > self._limit:
            raise FileTooLarge(self._limit)
        buffer[: len(data)] = data
        return len(data)


def _text(stream: Any, limit_bytes: int) -> IO[str]:
    raw = io.BufferedReader(_LimitedReader(stream, limit_bytes), buffer_size=256 * 1024)
    # utf-8-sig: spreadsheets often start UTF-8 files with a byte-order mark.
    return io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")


# --- parsing one value -----------------------------------------------------------------------
# Each parser takes a non-empty value (a string from CSV, any JSON value) and returns the
# stored value or raises ValueError with a message for the user.


def _parse_text(column: cols.Column) -> Callable[[Any], Any]:
    def parse(value: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise ValueError("must be text")
        text = str(value).strip()
        if column.choices and text not in column.choices:
            raise ValueError(f"{text!r} is not one of: {', '.join(column.choices)}")
        if column.is_currency and text not in ISO_4217_CODES:
            raise ValueError(f"{text!r} is not an ISO 4217 currency code (3 upper-case letters)")
        if column.is_country and text not in ISO_3166_CODES:
            raise ValueError(f"{text!r} is not an ISO 3166 country code (2 upper-case letters)")
        if column.max_length and len(text) > column.max_length:
            raise ValueError(f"at most {column.max_length} characters")
        return text

    return parse


def _parse_integer(column: cols.Column) -> Callable[[Any], Any]:
    hint = " in minor units, e.g. 1999 for 19.99" if column.name.endswith("_minor") else ""

    def parse(value: Any) -> int:
        if isinstance(value, str) and INTEGER_RE.fullmatch(value.strip()):
            number = int(value)
        elif isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            raise ValueError(f"{value!r} is not an integer{hint}")
        if column.min_value is not None and number < column.min_value:
            raise ValueError(f"must be at least {column.min_value}")
        if column.max_value is not None and number > column.max_value:
            raise ValueError(f"must be at most {column.max_value}")
        return number

    return parse


def _parse_boolean(column: cols.Column) -> Callable[[Any], Any]:
    def parse(value: Any) -> bool:
        if isinstance(value, bool):
            return value
        word = str(value).strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise ValueError(f"{value!r} is not true or false")

    return parse


def _parse_date(column: cols.Column, days: cols.DataDays) -> Callable[[Any], Any]:
    def parse(value: Any) -> dt.date:
        text = value.strip() if isinstance(value, str) else None
        if text is None or len(text) != 10:
            raise ValueError(f"{value!r} is not a date (YYYY-MM-DD)")
        try:
            day = dt.date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{value!r} is not a date (YYYY-MM-DD)") from None
        if problem := days.problem(day):
            raise ValueError(problem)
        return day

    return parse


def _parse_datetime(column: cols.Column, days: cols.DataDays) -> Callable[[Any], Any]:
    def parse(value: Any) -> dt.datetime:
        if not isinstance(value, str):
            raise ValueError(f"{value!r} is not an ISO 8601 date and time")
        try:
            moment = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(
                f"{value!r} is not an ISO 8601 date and time, e.g. 2025-03-01T09:30:00Z"
            ) from None
        if moment.utcoffset() is None:
            raise ValueError(
                f"{value!r} has no time zone: add an offset or Z, e.g. 2025-03-01T09:30:00+01:00"
            )
        # Its own calendar day: never converted, so year 1 or 9999 with an offset cannot
        # overflow on the way.
        if problem := days.problem(moment.date()):
            raise ValueError(problem)
        return moment

    return parse


def _parse_decimal(column: cols.Column) -> Callable[[Any], Any]:
    places = column.decimal_places or 0
    max_integer_digits = (column.max_digits or 38) - places

    def parse(value: Any) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ValueError(f"{value!r} is not a number")
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a number") from None
        if not number.is_finite():
            raise ValueError(f"{value!r} is not a number")
        if number.as_tuple().exponent < -places:  # type: ignore[operator]
            raise ValueError(f"at most {places} decimal places")
        if abs(number) >= Decimal(10) ** max_integer_digits:
            raise ValueError(f"at most {max_integer_digits} digits before the decimal point")
        return number

    return parse


_PARSERS = {
    cols.TEXT: _parse_text,
    cols.INTEGER: _parse_integer,
    cols.BOOLEAN: _parse_boolean,
    cols.DECIMAL: _parse_decimal,
}
_DAY_PARSERS = {cols.DATE: _parse_date, cols.DATETIME: _parse_datetime}


def _parser(column: cols.Column, days: cols.DataDays) -> Callable[[Any], Any]:
    if column.kind in _DAY_PARSERS:
        return _DAY_PARSERS[column.kind](column, days)
    return _PARSERS[column.kind](column)


# --- rules across columns --------------------------------------------------------------------


def _non_negative(*names: str, why: str = "") -> Callable[[dict], list[tuple[str, str]]]:
    message = f"must not be negative{why}"

    def check(record: dict) -> list[tuple[str, str]]:
        return [(name, message) for name in names if (record.get(name) or 0) < 0]

    return check


def _segment_dates(record: dict) -> list[tuple[str, str]]:
    starts, ends = record.get("starts_on"), record.get("ends_on")
    if starts and ends and ends <= starts:
        return [("ends_on", "must be after starts_on (ends_on is exclusive)")]
    return []


def _survey_scale(record: dict) -> list[tuple[str, str]]:
    low, high, score = record.get("scale_min"), record.get("scale_max"), record.get("score")
    if low is None or high is None:
        return []
    if low >= high:
        return [("scale_max", "must be greater than scale_min")]
    if score is not None and not low <= score <= high:
        return [("score", f"must be between scale_min ({low}) and scale_max ({high})")]
    return []


def _positive_rate(record: dict) -> list[tuple[str, str]]:
    rate = record.get("rate")
    return [("rate", "must be greater than 0")] if rate is not None and rate <= 0 else []


RECORD_RULES: dict[str, tuple[Callable[[dict], list[tuple[str, str]]], ...]] = {
    "payments": (
        _non_negative(
            "amount_minor",
            "tax_minor",
            "discount_minor",
            why=" (refunds are positive amounts with kind refund)",
        ),
    ),
    "plans": (_non_negative("amount_minor"),),
    "mrr_segments": (_segment_dates, _non_negative("mrr_minor")),
    "deals": (_non_negative("amount_minor"),),
    "spend": (_non_negative("amount_minor"),),
    "web_traffic": (
        _non_negative(
            "sessions",
            "engaged_sessions",
            "key_events",
            "key_event_sessions",
            "users",
            "revenue_minor",
            "ad_cost_minor",
        ),
    ),
    "survey_responses": (_survey_scale,),
    "exchange_rates": (_positive_rate,),
}


# --- the import --------------------------------------------------------------------------------


class _Validator:
    """Turns raw rows into records, collecting errors; stops yielding at the first error."""

    def __init__(self, dataset: str) -> None:
        self.dataset = dataset
        self.columns = {c.name: c for c in cols.columns_of(dataset)}
        days = cols.data_days()
        self.parsers = {c.name: _parser(c, days) for c in self.columns.values()}
        self.required = [c.name for c in self.columns.values() if c.required]
        self.rules = RECORD_RULES.get(dataset, ())
        self.errors: list[RowError] = []
        self.truncated = False
        self.seen_ids: dict[str, int] = {}

    @property
    def full(self) -> bool:
        return len(self.errors) >= MAX_ERRORS

    def error(self, line: int, column: str, message: str) -> None:
        if self.full:
            self.truncated = True
        else:
            self.errors.append(RowError(line, column, message))

    def unknown_columns(self, names: list[str]) -> list[str]:
        return [name for name in names if name not in self.columns]

    def records(self, rows: Iterator[tuple[int, dict[str, Any]]]) -> Iterator[dict[str, Any]]:
        for line, raw in rows:
            record = self.record(line, raw)
            if self.truncated:
                break
            if record is not None and not self.errors:
                yield record
        if self.errors:
            raise ImportRefused(self.errors, self.truncated)

    def record(self, line: int, raw: dict[str, Any]) -> dict[str, Any] | None:
        errors_before = len(self.errors)
        for name in self.unknown_columns(list(raw)):
            self.error(line, name, f"unknown column; {self.dataset} has: {', '.join(self.columns)}")
        record: dict[str, Any] = {}
        for name, value in raw.items():
            if name not in self.parsers or value is None or value == "":
                continue
            try:
                record[name] = self.parsers[name](value)
            except ValueError as exc:
                self.error(line, name, str(exc))
        for name in self.required:
            if name not in record and name not in self._failed(errors_before):
                self.error(line, name, "required")
        if len(self.errors) > errors_before:
            return None
        for rule in self.rules:
            for name, message in rule(record):
                self.error(line, name, message)
        external_id = record["external_id"]
        if external_id in self.seen_ids:
            self.error(
                line, "external_id", f"{external_id!r} already on line {self.seen_ids[external_id]}"
            )
        else:
            self.seen_ids[external_id] = line
        return record if len(self.errors) == errors_before else None

    def _failed(self, since: int) -> set[str]:
        return {error.column for error in self.errors[since:]}


def csv_rows(
    stream: Any, limit_bytes: int, validator: _Validator
) -> Iterator[tuple[int, dict[str, str]]]:
    """Rows of a CSV byte stream as (line number, {column: value}); header is line 1."""
    reader = csv.reader(_text(stream, limit_bytes))
    try:
        header = [name.strip() for name in next(reader, [])]
        if not header:
            raise ImportRefused([RowError(1, "", "the file is empty: expected a header row")])
        problems = [
            RowError(1, name, "unknown column") for name in validator.unknown_columns(header)
        ]
        problems += [
            RowError(1, name, "column appears more than once")
            for name in sorted({n for n in header if header.count(n) > 1})
        ]
        problems += [
            RowError(1, name, "required column missing")
            for name in validator.required
            if name not in header
        ]
        if problems:
            known = ", ".join(validator.columns)
            problems[0] = RowError(
                1, problems[0].column, f"{problems[0].message}; {validator.dataset} has: {known}"
            )
            raise ImportRefused(problems)
        for values in reader:
            if not any(value.strip() for value in values):
                continue  # blank line
            if len(values) != len(header):
                validator.error(
                    reader.line_num, "", f"{len(values)} values, the header has {len(header)}"
                )
                continue
            yield reader.line_num, dict(zip(header, values, strict=True))
    except csv.Error as exc:
        raise ImportRefused([*validator.errors, RowError(reader.line_num, "", str(exc))]) from exc
    except UnicodeDecodeError as exc:
        raise ImportRefused(
            [*validator.errors, RowError(reader.line_num + 1, "", "the file is not UTF-8 text")]
        ) from exc


def json_rows(stream: Any, limit_bytes: int) -> Iterator[tuple[int, dict[str, Any]]]:
    """Items of a JSON array of objects as (item number from 1, object)."""
    try:
        items = strictjson.loads(_text(stream, limit_bytes).read())
    except UnicodeDecodeError as exc:
        raise ImportRefused([RowError(0, "", "the file is not UTF-8 text")]) from exc
    except strictjson.InvalidJSON as exc:
        raise ImportRefused([RowError(0, "", str(exc))]) from exc
    if not isinstance(items, list):
        raise ImportRefused([RowError(0, "", "expected a JSON array of objects")])
    not_objects = [
        RowError(number, "", "expected an object")
        for number, item in enumerate(items, start=1)
        if not isinstance(item, dict)
    ]
    if not_objects:
        raise ImportRefused(not_objects[:MAX_ERRORS], len(not_objects) > MAX_ERRORS)
    yield from enumerate(items, start=1)


def _take_turn(dataset: str) -> None:
    """Wait for any other import of ``dataset`` in this company, until this transaction ends.

    An import holds the rows of every page it wrote until it commits. The writer locks each
    page in key order, but two files with the same records in different orders would still
    lock pages of each other's: imports of one dataset take turns instead of deadlocking.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
            [f"kpiplatform.import:{connection.schema_name}.{dataset}"],
        )


def _rows(
    validator: _Validator, stream: Any, file_format: str, limit_bytes: int
) -> Iterator[tuple[int, dict[str, Any]]]:
    if file_format == "csv":
        return csv_rows(stream, limit_bytes, validator)
    return json_rows(stream, limit_bytes)


@dataclass(frozen=True)
class CheckedFile:
    """What ``check_file`` found: the first valid records, the number of rows and the errors."""

    first_records: list[dict[str, Any]]
    rows: int  # valid rows read (all of them when there is no error)
    errors: list[RowError]
    truncated: bool

    @property
    def ok(self) -> bool:
        return not self.errors


def check_file(
    dataset: str, stream: Any, file_format: str, limit_bytes: int, keep: int = 10
) -> CheckedFile:
    """Parse and validate a whole file exactly as ``import_file`` does, writing nothing: the
    preview of the upload page. Raises FileTooLarge."""
    validator = _Validator(dataset)
    first: list[dict[str, Any]] = []
    count = 0
    try:
        for record in validator.records(_rows(validator, stream, file_format, limit_bytes)):
            count += 1
            if len(first) < keep:
                first.append(record)
    except ImportRefused as refused:
        return CheckedFile(first, count, refused.errors, refused.truncated)
    return CheckedFile(first, count, [], False)


def import_file(dataset: str, stream: Any, file_format: str, limit_bytes: int) -> WriteCounts:
    """Validate and write a whole CSV or JSON file (``file_format`` "csv" or "json").

    Raises ImportRefused (nothing written) or FileTooLarge.
    """
    validator = _Validator(dataset)
    rows = _rows(validator, stream, file_format, limit_bytes)
    writer = BulkWriter(IMPORT_SOURCE)
    try:
        # Pages are written as rows stream in; a bad row later in the file rolls them back.
        with transaction.atomic():
            _take_turn(dataset)
            writer.upsert(dataset, validator.records(rows))
    except WriteError as exc:
        raise ImportRefused([RowError(0, "", str(exc))]) from exc
    return writer.counts
