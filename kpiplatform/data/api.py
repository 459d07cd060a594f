"""The data API: import (CSV/JSON), read and tombstone canonical records of any dataset.

``/api/v1/data/<dataset>/``: GET lists records (every member), POST imports a file (admins).
``/api/v1/data/<dataset>/<external_id>/``: DELETE tombstones an imported record (admins).

Reads use ``.values()`` rather than model serializers: listing is the hot path of the data
explorer, and a model serializer of 100 rows measured an order of magnitude slower. Filters are
django-filter sets (``kpiplatform.data.filters``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Model, QuerySet
from django_filters.rest_framework import FilterSet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import BaseParser, MultiPartParser
from rest_framework.response import Response

from kpiplatform.accounts.permissions import role_permission
from kpiplatform.data.filters import filterset_for
from kpiplatform.data.importing import IMPORT_SOURCE, FileTooLarge, ImportRefused, import_file
from kpiplatform.data.models import DATASETS
from kpiplatform.data.writer import BulkWriter


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


class RecordSerializer(serializers.Serializer):
    """A canonical record as listed (for the schema): these columns and the dataset's own."""

    id = serializers.IntegerField()
    source = serializers.CharField()
    external_id = serializers.CharField()
    updated_at = serializers.DateTimeField()
    deleted_at = serializers.DateTimeField(allow_null=True)


RAW_FORMATS = {"text/csv": "csv", "application/csv": "csv", "application/json": "json"}


@dataclass(frozen=True)
class RawUpload:
    """A CSV or JSON file sent as the request body, left unread: the import streams it."""

    stream: Any


class RawUploadParser(BaseParser):
    """Parses nothing. The import reads the body itself (size limit, row errors); and when
    something asks for ``request.data`` first (the CSRF check of a logged-in browser reads
    ``request.POST``), the body must still be there for it."""

    def parse(self, stream, media_type=None, parser_context=None) -> RawUpload:
        return RawUpload(stream)


class CSVUploadParser(RawUploadParser):
    media_type = "text/csv"


class ApplicationCSVUploadParser(RawUploadParser):
    media_type = "application/csv"


class JSONUploadParser(RawUploadParser):
    media_type = "application/json"


class ImportFileSerializer(serializers.Serializer):
    """The upload form of the browsable API and of ``OPTIONS`` (the body may also be raw)."""

    file = serializers.FileField(help_text="A CSV file, or a .json file (a JSON array of objects).")


class DatasetView(GenericAPIView):
    """List the records of a dataset, or import a CSV/JSON file into it."""

    permission_classes = [role_permission("admin")]
    serializer_class = ImportFileSerializer
    parser_classes = [
        CSVUploadParser,
        ApplicationCSVUploadParser,
        JSONUploadParser,
        MultiPartParser,
    ]

    def initial(self, request, *args, **kwargs) -> None:
        # Refuse an oversized upload before anything reads or parses the body.
        length = request.META.get("CONTENT_LENGTH") or "0"
        if request.method == "POST" and length.isdigit() and int(length) > import_limit_bytes():
            raise PayloadTooLarge(str(FileTooLarge(import_limit_bytes())))
        super().initial(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):  # the API schema: no dataset in the URL
            return DATASETS["customers"].objects.none()
        return model_for(self.kwargs["dataset"]).objects.order_by("id")

    @property
    def filterset_class(self) -> type[FilterSet]:
        """The dataset's filters (django-filter); every filter of any dataset in the schema."""
        if getattr(self, "swagger_fake_view", False):
            return filterset_for(None)
        return filterset_for(self.kwargs["dataset"])

    @extend_schema(
        responses=RecordSerializer(many=True),
        description="Records of the dataset in id order, with every column of the dataset "
        "(docs/canonical-data.md).",
    )
    def get(self, request, dataset: str) -> Response:
        records = self.filter_queryset(self.get_queryset())
        names = [f.name for f in records.model._meta.concrete_fields]
        page = self.paginate_queryset(records.values(*names))
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
        if content_type in RAW_FORMATS:
            data = request.data  # a RawUpload, or {} when the body is empty
            return (data.stream if isinstance(data, RawUpload) else _Empty()), RAW_FORMATS[
                content_type
            ]
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
