"""``/api/v1/report-schedules/``: analysts and admins edit, every member reads.

Also "send now", the delivery history and the report's content for a period (what the
e-mail's table, PDF and CSV hold).
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from kpiplatform.accounts.models import Role, User
from kpiplatform.accounts.permissions import role_permission
from kpiplatform.kpis.registry import registered_kpis
from kpiplatform.reports import delivery as deliveries
from kpiplatform.reports.content import build_report, exact, report_period
from kpiplatform.reports.models import ReportDelivery, ReportSchedule
from kpiplatform.reports.periods import last_complete_period


def validate_kpis(keys: list[str]) -> list[str]:
    """Known KPI keys, each once, at least one and at most ``MAX_KPIS``."""
    if not keys:
        raise serializers.ValidationError("Choose at least one KPI.")
    if len(keys) > ReportSchedule.MAX_KPIS:
        raise serializers.ValidationError(f"At most {ReportSchedule.MAX_KPIS} KPIs.")
    known = registered_kpis()
    unknown = [key for key in keys if key not in known]
    if unknown:
        raise serializers.ValidationError(f"Unknown KPI: {', '.join(unknown)}.")
    if len(set(keys)) != len(keys):
        raise serializers.ValidationError("A KPI is listed twice.")
    return keys


class ReportScheduleSerializer(serializers.ModelSerializer):
    kpis = serializers.ListField(
        child=serializers.CharField(max_length=100),
        validators=[validate_kpis],
        help_text="KPI keys (see /api/v1/kpis/), in the order the report shows them.",
    )
    recipient_users = serializers.PrimaryKeyRelatedField(
        many=True,
        required=False,
        queryset=User.objects.filter(is_active=True),
        help_text="Ids of members of this company (see /api/v1/users/).",
    )
    recipient_addresses = serializers.ListField(
        child=serializers.EmailField(),
        required=False,
        max_length=ReportSchedule.MAX_ADDRESSES,
        help_text="Further e-mail addresses.",
    )
    next_period = serializers.SerializerMethodField()

    class Meta:
        model = ReportSchedule
        fields = [
            "id",
            "name",
            "frequency",
            "kpis",
            "recipient_users",
            "recipient_addresses",
            "enabled",
            "next_period",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]

    def get_next_period(self, obj: ReportSchedule) -> str:
        """The period the next report (or a "send now") covers."""
        return last_complete_period(obj.frequency).label

    def validate_name(self, value: str) -> str:
        if "\x00" in value or not value.strip():
            raise serializers.ValidationError("Give the report a name.")
        return value.strip()

    def validate_recipient_addresses(self, value: list[str]) -> list[str]:
        return list(dict.fromkeys(address.lower() for address in value))

    def validate(self, attrs):
        users = attrs.get(
            "recipient_users", self.instance.recipient_users.all() if self.instance else []
        )
        addresses = attrs.get(
            "recipient_addresses", self.instance.recipient_addresses if self.instance else []
        )
        if not list(users) and not addresses:
            raise serializers.ValidationError(
                {"recipient_users": ["Choose at least one recipient: a member or an address."]}
            )
        return attrs

    def create(self, validated_data):
        validated_data["created_by"] = self.context["request"].user
        return super().create(validated_data)


class ReportDeliverySerializer(serializers.ModelSerializer):
    period = serializers.SerializerMethodField()

    class Meta:
        model = ReportDelivery
        fields = [
            "id",
            "schedule",
            "trigger",
            "period",
            "period_start",
            "period_end",
            "state",
            "recipients",
            "subject",
            "message_id",
            "attempts",
            "error",
            "queued_at",
            "handed_over_at",
            "sent_at",
        ]

    def get_period(self, obj: ReportDelivery) -> str:
        return report_period(obj.schedule, obj.period_start).label


class ReportScheduleList(generics.ListCreateAPIView):
    """The company's report schedules; analysts and admins add one."""

    permission_classes = [role_permission(Role.ANALYST)]
    serializer_class = ReportScheduleSerializer
    queryset = ReportSchedule.objects.prefetch_related("recipient_users")
    pagination_class = None  # a handful per company


class ReportScheduleDetail(generics.RetrieveUpdateDestroyAPIView):
    """One schedule. ``DELETE`` removes it with its delivery history."""

    permission_classes = [role_permission(Role.ANALYST)]
    serializer_class = ReportScheduleSerializer
    queryset = ReportSchedule.objects.prefetch_related("recipient_users")


class SendStartedSerializer(serializers.Serializer):
    joined = serializers.BooleanField()
    detail = serializers.CharField()
    delivery = ReportDeliverySerializer()


class ReportSendNow(APIView):
    """``POST``: send the report of the last complete period now (202), or 409 with the
    "send now" still on its way, which the request joins."""

    permission_classes = [role_permission(Role.ANALYST, to_read=True)]

    @extend_schema(request=None, responses={202: SendStartedSerializer, 409: SendStartedSerializer})
    def post(self, request, pk: int):
        schedule = get_object_or_404(ReportSchedule, pk=pk)
        if not schedule.recipients():
            raise exceptions.ValidationError(
                {
                    "recipient_users": [
                        "The schedule has no recipients (active members or addresses)."
                    ]
                }
            )
        delivery, joined = deliveries.send_now(schedule, request.user)
        detail = (
            f"A send of this report is already {delivery.state}; this request joins it."
            if joined
            else "Report queued."
        )
        return Response(
            {
                "joined": joined,
                "detail": detail,
                "delivery": ReportDeliverySerializer(delivery).data,
            },
            status=status.HTTP_409_CONFLICT if joined else status.HTTP_202_ACCEPTED,
        )


class ReportDeliveryList(generics.ListAPIView):
    """The schedule's deliveries, newest first: state, recipients, Message-ID, error."""

    permission_classes = [role_permission(Role.ANALYST)]
    serializer_class = ReportDeliverySerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ReportDelivery.objects.none()
        schedule = get_object_or_404(ReportSchedule, pk=self.kwargs["pk"])
        return schedule.deliveries.select_related("schedule")


class ReportRowSerializer(serializers.Serializer):
    kpi = serializers.CharField()
    name = serializers.CharField()
    unit = serializers.CharField()
    value = serializers.CharField(allow_null=True)
    previous_value = serializers.CharField(allow_null=True)
    change = serializers.CharField(allow_null=True)
    change_ratio = serializers.CharField(allow_null=True)
    goal = serializers.CharField(allow_null=True, help_text="The period's target, if any.")
    goal_met = serializers.BooleanField(allow_null=True)
    reason = serializers.CharField()


class ReportContentSerializer(serializers.Serializer):
    company = serializers.CharField()
    report = serializers.CharField()
    period = serializers.CharField()
    period_start = serializers.DateField()
    period_end = serializers.DateField()
    previous_period = serializers.CharField()
    has_goals = serializers.BooleanField()
    rows = ReportRowSerializer(many=True)
    missing_kpis = serializers.ListField(child=serializers.CharField())


class ReportContent(APIView):
    """What the report holds for a period (the last complete one by default): the numbers
    of its e-mail table, PDF and CSV, exact."""

    permission_classes = [role_permission(Role.ANALYST)]

    @extend_schema(
        parameters=[OpenApiParameter("period_start", dt.date, description="a day of the period")],
        responses=ReportContentSerializer,
    )
    def get(self, request, pk: int):
        schedule = get_object_or_404(ReportSchedule, pk=pk)
        period = period_of(schedule, request.query_params.get("period_start"))
        report = build_report(schedule, period)
        return Response(
            {
                "company": report.company_name,
                "report": report.schedule_name,
                "period": period.label,
                "period_start": period.start,
                "period_end": period.end,
                "previous_period": report.previous.label,
                "has_goals": report.has_goals,
                "rows": [
                    {
                        "kpi": row.key,
                        "name": row.name,
                        "unit": row.unit,
                        "value": exact(row.value) or None,
                        "previous_value": exact(row.previous) or None,
                        "change": exact(row.change) or None,
                        "change_ratio": exact(row.change_ratio) or None,
                        "goal": exact(row.goal) or None,
                        "goal_met": row.goal_met,
                        "reason": row.reason,
                    }
                    for row in report.rows
                ],
                "missing_kpis": report.missing_kpis,
            }
        )


def period_of(schedule: ReportSchedule, day_text: str | None):
    """The schedule's period containing ``day_text`` (YYYY-MM-DD), or its last complete one."""
    if not day_text:
        return last_complete_period(schedule.frequency)
    try:
        day = dt.date.fromisoformat(day_text)
    except ValueError:
        raise exceptions.ValidationError({"period_start": ["Use a date as YYYY-MM-DD."]}) from None
    first = dt.date(settings.KPI_DATA_FIRST_YEAR, 1, 1)
    last = dt.date(timezone.now().year + settings.KPI_DATA_MAX_YEARS_AHEAD, 12, 31)
    if not first <= day <= last:
        raise exceptions.ValidationError(
            {"period_start": [f"Use a day from {first.isoformat()} to {last.isoformat()}."]}
        )
    return report_period(schedule, day)
