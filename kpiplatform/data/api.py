"""The data API: import (CSV/JSON), read and tombstone canonical records of any dataset.

``/api/v1/data/<dataset>/``: GET lists records (every member), POST imports a file (admins).
``/api/v1/data/<dataset>/<external_id>/``: DELETE tombstones an imported record (admins).

Reads use ``.values()`` rather than model serializers: listing is the hot path of the data
explorer and serializers cost an order of magnitude here (FIELD-NOTES.md, "Web").
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Model, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from kpiplatform.accounts.permissions import role_permission
from kpiplatform.data import columns as cols
from kpiplatform.data.importing import IMPORT_SOURCE, FileTooLarge, ImportRefused, import_file
from kpiplatform.data.models import DATASETS
from kpiplatform.data.writer import BulkWriter

ONE_DAY = dt.timedelta(days=1)
TRUE_WORDS = {"1", "true", "yes"}
# Filters by equality, offered on the datasets that have the column.
EQUALITY_FILTERS = ("source", "external_id", "customer_ref", "channel", "campaign")


def import_limit_bytes() -> int:
    return settings.KPI_IMPORT_MAX_BYTES


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"
    default_detail = "The file is too large."


def model_for(dataset: str) -> type[Model]:
    if dataset not in DATASETS:
        raise exceptions.NotFound(
            f"Unknown dataset {dataset!r}; the datasets are: {', '.join(DATASETS)}."
        )
    return DATASETS[dataset]


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    # Rates are exact decimals: send them as strings, never as floats.
    for key, value in row.items():
        if isinstance(value, Decimal):
            row[key] = str(value)
    return row


def _bound(name: str, value: str, is_timestamp: bool, upper: bool) -> dt.date | dt.datetime:
    """A ``from``/``to`` bound: a date (whole UTC day, inclusive) or a datetime with offset."""
    text = value.strip()
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            if not is_timestamp:
                return day
            moment = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
            return moment + ONE_DAY if upper else moment
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise exceptions.ValidationError({name: f"{value!r} is not a date (YYYY-MM-DD)"}) from None
    if moment.utcoffset() is None:
        raise exceptions.ValidationError({name: "a date and time needs an offset or Z"})
    return moment if is_timestamp else moment.date()


class DatasetView(GenericAPIView):
    """List the records of a dataset, or import a CSV/JSON file into it."""

    permission_classes = [role_permission("admin")]

    def initial(self, request, *args, **kwargs) -> None:
        # Refuse an oversized upload before anything reads or parses the body.
        length = request.META.get("CONTENT_LENGTH") or "0"
        if request.method == "POST" and length.isdigit() and int(length) > import_limit_bytes():
            raise PayloadTooLarge(str(FileTooLarge(import_limit_bytes())))
        super().initial(request, *args, **kwargs)

    def filtered(self, dataset: str) -> QuerySet:
        model = model_for(dataset)
        params = self.request.query_params
        field_names = {f.name for f in model._meta.concrete_fields}
        records = model.objects.all()
        if params.get("include_deleted", "").lower() not in TRUE_WORDS:
            records = records.filter(deleted_at__isnull=True)
        for name in EQUALITY_FILTERS:
            if name not in params:
                continue
            if name not in field_names:
                raise exceptions.ValidationError({name: f"{dataset} has no {name} column"})
            records = records.filter(**{name: params[name]})
        for name, upper in (("from", False), ("to", True)):
            if name not in params:
                continue
            if not model.date_field:
                raise exceptions.ValidationError({name: f"{dataset} has no date to filter on"})
            date_column = next(c for c in cols.columns_of(dataset) if c.name == model.date_field)
            is_timestamp = date_column.kind == cols.DATETIME
            bound = _bound(name, params[name], is_timestamp, upper)
            exclusive_end = upper and is_timestamp and len(params[name].strip()) == 10
            lookup = "gte" if not upper else ("lt" if exclusive_end else "lte")
            records = records.filter(**{f"{model.date_field}__{lookup}": bound})
        return records

    @extend_schema(
        parameters=[
            OpenApiParameter(name, OpenApiTypes.STR, description=f"only records with this {name}")
            for name in EQUALITY_FILTERS
        ]
        + [
            OpenApiParameter("from", OpenApiTypes.STR, description="first day (date field)"),
            OpenApiParameter("to", OpenApiTypes.STR, description="last day, inclusive"),
            OpenApiParameter("include_deleted", OpenApiTypes.BOOL),
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request, dataset: str) -> Response:
        records = self.filtered(dataset)
        names = [f.name for f in records.model._meta.concrete_fields]
        page = self.paginate_queryset(records.order_by("id").values(*names))
        return self.get_paginated_response([_jsonable(row) for row in page])

    @extend_schema(
        request={
            "text/csv": OpenApiTypes.BINARY,
            "application/json": OpenApiTypes.OBJECT,
            "multipart/form-data": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}},
            },
        },
        responses={200: OpenApiTypes.OBJECT, 201: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT},
        description="Import a CSV or JSON file (docs/canonical-data.md, 'Import').",
    )
    def post(self, request, dataset: str) -> Response:
        model_for(dataset)
        stream, file_format = self._upload(request)
        try:
            counts = import_file(dataset, stream, file_format, import_limit_bytes())
        except FileTooLarge as exc:
            raise PayloadTooLarge(str(exc)) from exc
        except ImportRefused as refused:
            body = {
                "error": {
                    "code": "invalid_file",
                    "message": str(refused),
                    "errors": [error.as_dict() for error in refused.errors],
                    "truncated": refused.truncated,
                }
            }
            return Response(body, status=status.HTTP_400_BAD_REQUEST)
        body = {
            "dataset": dataset,
            "inserted": counts.inserted,
            "updated": counts.updated,
            "unchanged": counts.unchanged,
        }
        created = status.HTTP_201_CREATED if counts.inserted else status.HTTP_200_OK
        return Response(body, status=created)

    def _upload(self, request) -> tuple[Any, str]:
        content_type = (request.content_type or "").split(";")[0].strip().lower()
        if content_type == "multipart/form-data":
            upload = request.FILES.get("file")
            if upload is None:
                raise exceptions.ValidationError({"file": "send the file in the field 'file'"})
            if upload.size > import_limit_bytes():
                raise PayloadTooLarge(str(FileTooLarge(import_limit_bytes())))
            is_json = upload.name.lower().endswith(".json") or upload.content_type == (
                "application/json"
            )
            return upload, "json" if is_json else "csv"
        if content_type in ("text/csv", "application/csv"):
            return request.stream or _Empty(), "csv"
        if content_type == "application/json":
            return request.stream or _Empty(), "json"
        raise exceptions.UnsupportedMediaType(
            content_type or "none",
            detail="Send text/csv, application/json, or multipart/form-data with a 'file' field.",
        )


class _Empty:
    def read(self, size: int = -1) -> bytes:
        return b""


class RecordView(GenericAPIView):
    """Tombstone one imported record (``deleted_at`` is set; re-importing it revives it)."""

    permission_classes = [role_permission("admin")]

    @extend_schema(responses={204: None})
    def delete(self, request, dataset: str, external_id: str) -> Response:
        model_for(dataset)
        if not BulkWriter(IMPORT_SOURCE).delete(dataset, [external_id]):
            raise exceptions.NotFound(
                f"No imported {dataset} record with external_id {external_id!r}."
            )
        return Response(status=status.HTTP_204_NO_CONTENT)
