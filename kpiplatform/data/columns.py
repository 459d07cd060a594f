"""The writable columns of each dataset, derived once from the models.

The writer, the import and the read API all speak in these terms: which columns a record
may carry, their kind, which are required, their allowed values and their SQL defaults.
``id``, ``source``, ``deleted_at`` and ``updated_at`` are managed by the writer and are not
writable columns.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache

from django.conf import settings
from django.db import connection, models

from kpiplatform.data.models import DATASETS, CanonicalRecord

MANAGED = ("id", "source", "deleted_at", "updated_at")

# Column kinds, as users see them in the import documentation.
TEXT = "text"
INTEGER = "integer"
BOOLEAN = "boolean"
DATE = "date"
DATETIME = "datetime"
DECIMAL = "decimal"

_KINDS: dict[type[models.Field], str] = {
    models.CharField: TEXT,
    models.BigIntegerField: INTEGER,
    models.PositiveIntegerField: INTEGER,
    models.IntegerField: INTEGER,
    models.BooleanField: BOOLEAN,
    models.DateTimeField: DATETIME,
    models.DateField: DATE,
    models.DecimalField: DECIMAL,
}

# Integer ranges of the PostgreSQL column types.
_INT_RANGES = {
    "bigint": (-(2**63), 2**63 - 1),
    "integer": (-(2**31), 2**31 - 1),
}


@dataclass(frozen=True)
class Column:
    """One writable column of a dataset."""

    name: str
    kind: str
    db_type: str  # e.g. "varchar(255)", "bigint", "timestamp with time zone"
    required: bool  # must be given and not empty
    nullable: bool  # may be stored as NULL
    default: object  # what an omitted optional value becomes (None: NULL)
    max_length: int | None = None
    choices: tuple[str, ...] = ()
    min_value: int | None = None
    max_value: int | None = None
    max_digits: int | None = None
    decimal_places: int | None = None

    @property
    def is_currency(self) -> bool:
        return self.name == "currency"

    @property
    def is_country(self) -> bool:
        return self.name == "country"


@dataclass(frozen=True)
class DataDays:
    """The days canonical data may fall on, both included (settings ``KPI_DATA_FIRST_YEAR``,
    ``KPI_DATA_MAX_YEARS_AHEAD``). A timestamp counts by its own calendar day."""

    first: dt.date
    last: dt.date

    def problem(self, day: dt.date) -> str | None:
        """Why ``day`` is refused, or None when it is inside."""
        if day < self.first:
            return (
                f"{day.isoformat()} is before {self.first.isoformat()}, the earliest day accepted"
            )
        if day > self.last:
            return f"{day.isoformat()} is after {self.last.isoformat()}, the latest day accepted"
        return None


def data_days() -> DataDays:
    """The accepted days as of now (the last one moves with the calendar)."""
    this_year = dt.datetime.now(dt.UTC).year
    return DataDays(
        first=dt.date(settings.KPI_DATA_FIRST_YEAR, 1, 1),
        last=dt.date(this_year + settings.KPI_DATA_MAX_YEARS_AHEAD, 12, 31),
    )


def _kind_of(field: models.Field) -> str:
    for field_class in type(field).__mro__:
        if field_class in _KINDS:
            return _KINDS[field_class]
    raise TypeError(f"No column kind for {type(field).__name__} ({field.name})")


def _column(field: models.Field) -> Column:
    kind = _kind_of(field)
    db_type = field.db_type(connection)
    has_default = field.has_default()
    required = field.name == "external_id" or (not field.null and not has_default)
    min_value = max_value = None
    if kind == INTEGER:
        min_value, max_value = _INT_RANGES["bigint" if db_type == "bigint" else "integer"]
        if isinstance(field, models.PositiveIntegerField):
            min_value = 0
    return Column(
        name=field.name,
        kind=kind,
        db_type=db_type,
        required=required,
        nullable=field.null,
        default=field.get_default() if has_default else None,
        max_length=getattr(field, "max_length", None) if kind == TEXT else None,
        choices=tuple(value for value, _ in field.choices or ()),
        min_value=min_value,
        max_value=max_value,
        max_digits=getattr(field, "max_digits", None),
        decimal_places=getattr(field, "decimal_places", None),
    )


@cache
def columns_of(dataset: str) -> tuple[Column, ...]:
    """The writable columns of ``dataset``, ``external_id`` first, then in model order."""
    model = DATASETS[dataset]
    fields = [f for f in model._meta.concrete_fields if f.name not in MANAGED]
    fields.sort(key=lambda f: f.name != "external_id")
    return tuple(_column(f) for f in fields)


def model_of(dataset: str) -> type[CanonicalRecord]:
    return DATASETS[dataset]
