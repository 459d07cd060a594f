"""API of the drill-downs and the customer page: ``/api/v1/kpis/<key>/drill/`` (JSON, one
page of a list), ``/api/v1/kpis/<key>/drill.csv`` (the whole list) and
``/api/v1/customers/<source>/<external_id>/``. Members of every role read them."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import APIView

from kpiplatform.kpis.api import decimal_text
from kpiplatform.kpis.customer_profile import CustomerNotFound, customer_profile
from kpiplatform.kpis.drill import (
    KIND_LABELS,
    MOVEMENT_KINDS,
    DrillError,
    DrillResult,
    UnknownDrill,
    open_drill,
    parse_request,
)
from kpiplatform.sdk import Grain


def plain(value):
    """A value as JSON and CSV carry it: exact decimals as text, days and moments in ISO."""
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value


def customer_path(source: str, external_id: str) -> str:
    """The customer page of a customer (the lists link every row to it)."""
    return reverse("customer", args=[source, external_id])


def drill_rows(result: DrillResult) -> list[dict]:
    rows = []
    for row in result.rows:
        out = {name: plain(value) for name, value in row.items()}
        if row.get("customer_ref"):
            out["customer_url"] = customer_path(row["source"], row["customer_ref"])
        rows.append(out)
    return rows


def request_or_400(key: str, query):
    try:
        return parse_request(key, query)
    except UnknownDrill as error:
        raise exceptions.NotFound(str(error)) from None
    except DrillError as error:
        raise exceptions.ValidationError({error.field: [error.message]}) from None


def describe(result: DrillResult) -> dict:
    """The drill as JSON, without its rows."""
    request, period = result.request, result.request.period
    body = {
        "kpi": request.key,
        "grain": request.grain.value,
        "period": {
            "label": period.label,
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
        },
        "as_of": result.as_of.isoformat(),
        "currency": result.currency,
        "list": request.list_name,
        "lists": list(result.drill.lists),
        "kind": request.kind,
        "segment_kind": request.segment_kind,
        "segment": request.segment,
        "stored": None,
        "totals": {name: plain(value) for name, value in result.totals.items()},
        "reconciliation": None,
    }
    if result.stored:
        body["stored"] = {
            name: plain(result.stored[name])
            for name in ("value", "numerator", "denominator", "reason")
        }
    if result.reconciliation:
        rec = result.reconciliation
        body["reconciliation"] = {
            "mrr_start": plain(rec.mrr_start),
            "movements": {
                kind: {
                    "label": KIND_LABELS[kind],
                    "amount": plain(rec.movements[kind]),
                    "count": rec.customers[kind],
                }
                for kind in MOVEMENT_KINDS
            },
            "net": plain(rec.net),
            "mrr_end": plain(rec.mrr_end),
            "stored": {name: plain(value) for name, value in rec.stored.items()},
            "matches_stored": rec.matches_stored,
        }
    return body


class PeriodSerializer(serializers.Serializer):
    label = serializers.CharField()
    start = serializers.DateField()
    end = serializers.DateField()


class StoredSerializer(serializers.Serializer):
    value = serializers.CharField(allow_null=True)
    numerator = serializers.CharField(allow_null=True)
    denominator = serializers.CharField(allow_null=True)
    reason = serializers.CharField()


class KindSerializer(serializers.Serializer):
    label = serializers.CharField()
    amount = serializers.CharField(help_text="The kind's movements summed (exact).")
    count = serializers.IntegerField(help_text="How many movements of the kind.")


class ReconciliationSerializer(serializers.Serializer):
    mrr_start = serializers.CharField()
    movements = serializers.DictField(child=KindSerializer(), help_text="By kind.")
    net = serializers.CharField()
    mrr_end = serializers.CharField(help_text="mrr_start + every kind's amount.")
    stored = serializers.DictField(
        child=serializers.CharField(allow_null=True),
        help_text="The stored values of mrr_start, mrr_end and each kind (null: not stored).",
    )
    matches_stored = serializers.BooleanField()


class DrillSerializer(serializers.Serializer):
    kpi = serializers.CharField()
    grain = serializers.CharField()
    period = PeriodSerializer()
    as_of = serializers.DateField(help_text="The day the numbers run to.")
    currency = serializers.CharField()
    list = serializers.CharField()
    lists = serializers.ListField(child=serializers.CharField())
    kind = serializers.CharField()
    segment_kind = serializers.CharField()
    segment = serializers.CharField()
    stored = StoredSerializer(allow_null=True, help_text="The KPI's stored value.")
    totals = serializers.DictField(help_text="The list's totals (count and sums).")
    reconciliation = ReconciliationSerializer(allow_null=True)
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = serializers.ListField(
        child=serializers.DictField(), help_text="The list's rows (columns per list)."
    )


DRILL_PARAMETERS = [
    OpenApiParameter(
        "period", dt.date, required=True, description="a day of the period (e.g. its first)"
    ),
    OpenApiParameter("grain", enum=[grain.value for grain in Grain], default="month"),
    OpenApiParameter("list", str, description="one of the drill's lists (default: its first)"),
    OpenApiParameter("kind", enum=list(MOVEMENT_KINDS), description="movement lists only"),
    OpenApiParameter("segment_kind", str, description="e.g. country, channel, plan, campaign"),
    OpenApiParameter("segment", str, description="the segment value, e.g. FR"),
]


class KPIDrillView(APIView):
    """The records behind one KPI's number in one period: one page of a list, its totals,
    the KPI's stored value and, for MRR movements, the reconciliation."""

    @extend_schema(
        parameters=[
            *DRILL_PARAMETERS,
            OpenApiParameter("page", int),
            OpenApiParameter("page_size", int, description="at most 1000"),
        ],
        responses=DrillSerializer,
    )
    def get(self, request, key: str):
        result = open_drill(request_or_400(key, request.query_params))
        url = request.build_absolute_uri()
        page = result.request.page
        body = describe(result)
        body["count"] = result.count
        body["next"] = replace_query_param(url, "page", page + 1) if page < result.pages else None
        body["previous"] = (
            None
            if page == 1
            else remove_query_param(url, "page")
            if page == 2
            else replace_query_param(url, "page", page - 1)
        )
        body["results"] = drill_rows(result)
        return Response(body)


class KPIDrillCSVView(APIView):
    """The whole list of a drill as a CSV file."""

    @extend_schema(parameters=DRILL_PARAMETERS, responses={(200, "text/csv"): OpenApiTypes.STR})
    def get(self, request, key: str):
        result = open_drill(request_or_400(key, request.query_params), paginate=False)
        return drill_csv(result)


def drill_csv(result: DrillResult) -> HttpResponse:
    buffer = io.StringIO()
    rows = drill_rows(result)
    columns = list(rows[0]) if rows else ["source"]
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    request = result.request
    parts = [request.key, request.list_name, request.grain.value, request.period.label]
    if request.kind:
        parts.append(request.kind)
    if request.segment_kind:
        parts += [request.segment_kind, request.segment]
    name = "_".join("".join(c if c.isalnum() or c in "-." else "-" for c in p) for p in parts)
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return response


def profile_json(profile) -> dict:
    def rows(items):
        return [{name: plain(value) for name, value in item.items()} for item in items]

    return {
        "source": profile.source,
        "external_id": profile.external_id,
        "name": profile.name,
        "currency": profile.currency,
        "record": None if profile.record is None else rows([profile.record])[0],
        "segments": profile.segments,
        "plans": profile.plans,
        "first_paid_day": plain(profile.first_paid_day),
        "revenue_to_date": plain(profile.revenue_to_date),
        "mrr_now": plain(profile.mrr_now),
        "movements": rows(profile.movements),
        "payments": rows(profile.payments),
        "leads": rows(profile.leads),
        "records": [
            {"dataset": group.dataset, "count": group.count, "recent": rows(group.rows)}
            for group in profile.records
        ],
    }


class CustomerView(APIView):
    """One customer: its segments, MRR movements, payments, leads and source records."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, source: str, external_id: str):
        try:
            profile = customer_profile(source, external_id)
        except CustomerNotFound as error:
            raise exceptions.NotFound(str(error)) from None
        return Response(profile_json(profile))
