"""The filters of the dataset read API (``GET /api/v1/data/<dataset>/``), as django-filter sets.

One FilterSet per dataset, built from its columns: equality on ``source``, ``external_id``,
``customer_ref``, ``channel`` and ``campaign`` where the dataset has them, ``from``/``to`` on its
date column, and ``include_deleted``. Values are checked by the filters' form fields (a NUL
byte, a date that is not one, a day outside the days data may have): a bad value is a 400 with
the parameter's name, never a database error. A filter the dataset does not have is refused
rather than ignored, so a typo never silently returns everything.
"""

from __future__ import annotations

import datetime as dt
from functools import cache

import django_filters
from django import forms
from django_filters import rest_framework as drf_filters

from kpiplatform.data import columns as cols
from kpiplatform.data.models import DATASETS

EQUALITY_FILTERS = ("source", "external_id", "customer_ref", "channel", "campaign")
ONE_DAY = dt.timedelta(days=1)


class DayOrMomentField(forms.CharField):
    """A date (``YYYY-MM-DD``) or a date and time with an offset, inside the accepted days."""

    def to_python(self, value) -> dt.date | dt.datetime | None:
        text = super().to_python(value)
        if not text:
            return None
        try:
            bound = (
                dt.date.fromisoformat(text) if len(text) == 10 else dt.datetime.fromisoformat(text)
            )
        except ValueError:
            # The value goes in params, never in the message: django-filter formats the
            # message with %, so a "%s" sent by the client would break it.
            raise forms.ValidationError(
                "%(value)r is not a date (YYYY-MM-DD)", params={"value": text}
            ) from None
        if isinstance(bound, dt.datetime) and bound.utcoffset() is None:
            raise forms.ValidationError("a date and time needs an offset or Z")
        # Bounds outside the days data may have are refused: there is nothing there, and a
        # day like 9999-12-31 would overflow once widened to the end of its UTC day.
        day = bound.date() if isinstance(bound, dt.datetime) else bound
        if problem := cols.data_days().problem(day):
            raise forms.ValidationError(problem)
        return bound


class DayBoundFilter(django_filters.CharFilter):
    """``from`` (``upper=False``) or ``to`` (``upper=True``, inclusive) on a dataset's date.

    A date means the whole day, in UTC for timestamp columns; a date and time is exact (and
    only its day counts on date columns).
    """

    field_class = DayOrMomentField

    def __init__(self, *args, upper: bool, is_timestamp: bool, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.upper = upper
        self.is_timestamp = is_timestamp

    def filter(self, qs, value):
        if value is None:
            return qs
        lookup = "lte" if self.upper else "gte"
        if not self.is_timestamp:
            day = value.date() if isinstance(value, dt.datetime) else value
            return qs.filter(**{f"{self.field_name}__{lookup}": day})
        if not isinstance(value, dt.datetime):
            moment = dt.datetime.combine(value, dt.time(), tzinfo=dt.UTC)
            if self.upper:
                return qs.filter(**{f"{self.field_name}__lt": moment + ONE_DAY})
            value = moment
        return qs.filter(**{f"{self.field_name}__{lookup}": value})


class _RefusedField(forms.CharField):
    def __init__(self, *, reason: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.reason = reason

    def validate(self, value) -> None:
        super().validate(value)
        if value:
            raise forms.ValidationError(self.reason)


class RefusedFilter(django_filters.CharFilter):
    """A filter of another dataset: given a value, answers 400 with ``reason``."""

    field_class = _RefusedField

    def filter(self, qs, value):
        return qs


class DatasetFilterSet(drf_filters.FilterSet):
    """Live records only, unless ``include_deleted=true``."""

    include_deleted = drf_filters.BooleanFilter(
        method="keep_tombstones", help_text="also list tombstoned (deleted) records"
    )

    def keep_tombstones(self, queryset, name, value):
        return queryset  # applied in filter_queryset: leaving it out must filter too

    def filter_queryset(self, queryset):
        if not self.form.cleaned_data.get("include_deleted"):
            queryset = queryset.filter(deleted_at__isnull=True)
        return super().filter_queryset(queryset)


@cache
def filterset_for(dataset: str | None) -> type[DatasetFilterSet]:
    """The FilterSet of ``dataset``; ``None``: every filter of any dataset, for the API schema."""
    model = DATASETS[dataset] if dataset else None
    field_names = {f.name for f in model._meta.concrete_fields} if model else set(EQUALITY_FILTERS)
    attrs: dict[str, object] = {}
    for name in EQUALITY_FILTERS:
        if name in field_names:
            attrs[name] = drf_filters.CharFilter(
                help_text=f"only records with this {name} (datasets that have the column)"
            )
        else:
            attrs[name] = RefusedFilter(reason=f"{dataset} has no {name} column")
    date_field = model.date_field if model else "date"
    if date_field:
        is_timestamp = (
            bool(model)
            and next(c for c in cols.columns_of(dataset) if c.name == date_field).kind
            == cols.DATETIME
        )
        attrs["from"] = DayBoundFilter(
            field_name=date_field,
            upper=False,
            is_timestamp=is_timestamp,
            help_text="first day (YYYY-MM-DD, a whole UTC day) or moment (with an offset) "
            "of the dataset's date",
        )
        attrs["to"] = DayBoundFilter(
            field_name=date_field,
            upper=True,
            is_timestamp=is_timestamp,
            help_text="last day, inclusive, or moment of the dataset's date",
        )
    else:
        reason = f"{dataset} has no date to filter on"
        attrs["from"] = RefusedFilter(reason=reason)
        attrs["to"] = RefusedFilter(reason=reason)
    attrs["Meta"] = type("Meta", (), {"model": model, "fields": []})
    name = f"{model.__name__ if model else 'Dataset'}Filter"
    return type(name, (DatasetFilterSet,), attrs)
