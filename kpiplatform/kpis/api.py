"""KPI API: the catalogue, a KPI's stored series (JSON or CSV) and the period summary.

Everything here reads stored values; nothing computes on read.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, renderers, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from kpiplatform.kpis.models import StoredKPIValue
from kpiplatform.kpis.registry import registered_kpis_by_plugin
from kpiplatform.kpis.summary import VALUE_FIELDS, period_summary
from kpiplatform.sdk import KPI, Grain, Period

SERIES_COLUMNS = (
    "period",
    "start",
    "end",
    "value",
    "numerator",
    "denominator",
    "reason",
    "computed_at",
)


class CSVRenderer(renderers.BaseRenderer):
    """Lets ``?format=csv`` through content negotiation; the view writes the CSV itself."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        # Reached only for error bodies of a CSV request: render them as JSON text.
        return renderers.JSONRenderer().render(data)


def decimal_text(value: Decimal | None) -> str | None:
    """Exact decimal as text without trailing zeros (money is never a float)."""
    if value is None:
        return None
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


def _kpi_or_404(key: str) -> tuple[KPI, str]:
    kpis = registered_kpis_by_plugin()
    if key not in kpis:
        raise exceptions.NotFound(f"No KPI with key {key!r}.")
    return kpis[key]


def _grain(request) -> Grain:
    value = request.query_params.get("grain", Grain.MONTH.value)
    try:
        return Grain(value)
    except ValueError:
        choices = ", ".join(grain.value for grain in Grain)
        raise exceptions.ValidationError({"grain": [f"Use one of {choices}."]}) from None


def _date(request, name: str) -> dt.date | None:
    value = request.query_params.get(name)
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise exceptions.ValidationError({name: ["Use a date as YYYY-MM-DD."]}) from None


def _text(request, name: str) -> str:
    value = request.query_params.get(name, "")
    if "\x00" in value:  # PostgreSQL text cannot hold it: refuse rather than fail
        raise exceptions.ValidationError({name: ["Null characters are not allowed."]})
    return value


def _period_row(row: dict, grain: Grain) -> dict:
    period = Period(grain, row["period_start"], row["period_end"])
    return {
        "period": period.label,
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
        "value": decimal_text(row["value"]),
        "numerator": decimal_text(row["numerator"]),
        "denominator": decimal_text(row["denominator"]),
        "reason": row["reason"],
        "computed_at": row["computed_at"].isoformat(),
    }


class KPISerializer(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField()
    unit = serializers.CharField()
    direction = serializers.CharField()
    description = serializers.CharField()
    plugin = serializers.CharField()
    requires = serializers.ListField(child=serializers.CharField())
    segments = serializers.ListField(child=serializers.CharField())


def describe(kpi: KPI, plugin: str) -> dict:
    return {
        "key": kpi.key,
        "name": kpi.name,
        "unit": str(kpi.unit),
        "direction": str(kpi.direction),
        "description": kpi.description,
        "plugin": plugin,
        "requires": list(kpi.requires),
        "segments": list(kpi.segments),
    }


class KPICatalogueView(APIView):
    """Every KPI the installed plugins define, with its definition."""

    @extend_schema(responses=KPISerializer(many=True))
    def get(self, request):
        kpis = registered_kpis_by_plugin()
        return Response([describe(kpi, plugin) for kpi, plugin in kpis.values()])


class SeriesPointSerializer(serializers.Serializer):
    period = serializers.CharField()
    start = serializers.DateField()
    end = serializers.DateField()
    value = serializers.CharField(allow_null=True)
    numerator = serializers.CharField(allow_null=True)
    denominator = serializers.CharField(allow_null=True)
    reason = serializers.CharField()
    computed_at = serializers.DateTimeField()


class KPISeriesView(APIView):
    """The stored values of one KPI at one grain, oldest first; ``?format=csv`` downloads."""

    renderer_classes = [renderers.JSONRenderer, renderers.BrowsableAPIRenderer, CSVRenderer]

    @extend_schema(
        parameters=[
            OpenApiParameter("grain", enum=[grain.value for grain in Grain], default="month"),
            OpenApiParameter("start", dt.date, description="first period overlapping this day"),
            OpenApiParameter("end", dt.date, description="last period overlapping this day"),
            OpenApiParameter("segment_kind", str, description="e.g. country, channel"),
            OpenApiParameter("segment", str),
        ],
        responses=SeriesPointSerializer(many=True),
    )
    def get(self, request, key: str, format: str | None = None):
        kpi, _ = _kpi_or_404(key)
        grain = _grain(request)
        start, end = _date(request, "start"), _date(request, "end")
        if start and end and start > end:
            raise exceptions.ValidationError({"end": ["The end is before the start."]})
        segment_kind, segment = _text(request, "segment_kind"), _text(request, "segment")
        if segment_kind and segment_kind not in kpi.segments:
            raise exceptions.ValidationError(
                {"segment_kind": [f"{key} is not broken down by {segment_kind!r}."]}
            )
        values = StoredKPIValue.objects.filter(
            kpi=key, grain=grain.value, segment_kind=segment_kind, segment=segment
        )
        if start:
            values = values.filter(period_end__gt=start)
        if end:
            values = values.filter(period_start__lte=end)
        rows = [
            _period_row(row, grain) for row in values.order_by("period_start").values(*VALUE_FIELDS)
        ]
        if getattr(request.accepted_renderer, "format", None) == "csv":
            return _csv_response(rows, key, grain, segment_kind, segment)
        return Response(rows)


def _csv_response(
    rows: list[dict], key: str, grain: Grain, segment_kind: str, segment: str
) -> HttpResponse:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=SERIES_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    parts = [key, grain.value]
    if segment_kind:
        parts += [segment_kind, segment or "all"]
    if rows:
        parts += [rows[0]["start"], rows[-1]["end"]]
    filename = "_".join(_filename_safe(part) for part in parts) + ".csv"
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _filename_safe(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-._" else "-" for ch in text)


class KPISummarySerializer(KPISerializer):
    current = SeriesPointSerializer(allow_null=True, help_text="This period, as stored.")
    previous = SeriesPointSerializer(allow_null=True, help_text="The period before.")
    change = serializers.CharField(allow_null=True, help_text="current - previous (exact).")
    change_ratio = serializers.CharField(
        allow_null=True, help_text="change ÷ |previous|; null when previous is 0 or undefined."
    )


class KPISummaryResponseSerializer(serializers.Serializer):
    grain = serializers.CharField()
    current_period = serializers.CharField(help_text="Label of the current period, e.g. 2026-11.")
    previous_period = serializers.CharField()
    kpis = KPISummarySerializer(many=True)


class KPISummaryView(APIView):
    """For every KPI: the current and the previous period's values and the change."""

    @extend_schema(
        parameters=[
            OpenApiParameter("grain", enum=[grain.value for grain in Grain], default="month")
        ],
        responses=KPISummaryResponseSerializer,
    )
    def get(self, request):
        grain = _grain(request)
        summary = period_summary(grain)
        kpis = [
            {
                **describe(row.kpi, row.plugin),
                "current": _period_row(row.current, grain) if row.current else None,
                "previous": _period_row(row.previous, grain) if row.previous else None,
                **_change(row.current, row.previous),
            }
            for row in summary.rows
        ]
        return Response(
            {
                "grain": grain.value,
                "current_period": summary.current.label,
                "previous_period": summary.previous.label,
                "kpis": kpis,
            }
        )


_RATIO_PLACES = Decimal("1e-12")


def _change(now: dict | None, before: dict | None) -> dict:
    """The change between two values, absolute and relative (None when undefined)."""
    if not now or not before or now["value"] is None or before["value"] is None:
        return {"change": None, "change_ratio": None}
    change = now["value"] - before["value"]
    ratio = (change / abs(before["value"])).quantize(_RATIO_PLACES) if before["value"] else None
    return {"change": decimal_text(change), "change_ratio": decimal_text(ratio)}
