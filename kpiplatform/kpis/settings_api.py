"""``/api/v1/settings/``: the company settings KPIs are computed with (admins change them)."""

from __future__ import annotations

import zoneinfo
from functools import cache

from django.db import connection, transaction
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from kpiplatform.accounts.permissions import role_permission
from kpiplatform.data.codes import ISO_4217_CODES
from kpiplatform.kpis.models import CompanySettings
from kpiplatform.kpis.signals import settings_changed


@cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def validate_currency(value: str) -> str:
    code = value.strip().upper()
    if code not in ISO_4217_CODES:
        raise serializers.ValidationError(f"{value!r} is not an ISO 4217 currency code.")
    return code


def validate_time_zone(value: str) -> str:
    if value not in _time_zones():
        raise serializers.ValidationError(
            f"{value!r} is not an IANA time zone (e.g. Europe/Paris)."
        )
    return value


class CompanySettingsSerializer(serializers.ModelSerializer):
    reporting_currency = serializers.CharField(max_length=3)
    time_zone = serializers.CharField(max_length=64, validators=[validate_time_zone])
    gross_margin = serializers.DecimalField(
        max_digits=5, decimal_places=4, min_value=0, max_value=1
    )

    class Meta:
        model = CompanySettings
        fields = ["reporting_currency", "time_zone", "gross_margin", "updated_at"]
        read_only_fields = ["updated_at"]

    def validate_reporting_currency(self, value: str) -> str:
        return validate_currency(value)


def save_settings(settings: CompanySettings, changed: set[str]) -> None:
    """Save and, when a computing setting changed, schedule a full recompute (a pending
    change saved with the settings, so that it cannot be lost)."""
    from kpiplatform.kpis import recompute

    with transaction.atomic():
        settings.save()
        if changed:
            recompute.record_full_recompute()
            schema_name = connection.schema_name
            transaction.on_commit(lambda: recompute.enqueue_recompute(schema_name))
            settings_changed.send(sender=CompanySettings, changed=frozenset(changed))


class CompanySettingsView(APIView):
    """Read (members) or change (admins) the reporting currency, time zone and gross margin.

    A change recomputes every KPI in the background.
    """

    permission_classes = [role_permission("admin")]

    @extend_schema(responses=CompanySettingsSerializer)
    def get(self, request):
        return Response(CompanySettingsSerializer(CompanySettings.current()).data)

    @extend_schema(request=CompanySettingsSerializer, responses=CompanySettingsSerializer)
    def patch(self, request):
        settings = CompanySettings.current()
        serializer = CompanySettingsSerializer(settings, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        changed = {
            name
            for name, value in serializer.validated_data.items()
            if getattr(settings, name) != value
        }
        for name, value in serializer.validated_data.items():
            setattr(settings, name, value)
        save_settings(settings, changed)
        return Response(CompanySettingsSerializer(settings).data)
