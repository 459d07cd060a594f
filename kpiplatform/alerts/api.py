"""``/api/v1/alerts/``: channel types, channels, rules and the event history.

Analysts and admins change channels and rules; every member reads. Secret channel fields are
write-only: answers only say which ones are set.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from kpiplatform.accounts.permissions import role_permission
from kpiplatform.alerts import services
from kpiplatform.alerts.models import Channel, Delivery, DeliveryAttempt, Event, Rule

WRITE_ROLE = "analyst"


def _raise(invalid: services.Invalid):
    raise serializers.ValidationError({k: [v] for k, v in invalid.errors.items()})


class ChannelFieldSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    kind = serializers.CharField()
    required = serializers.BooleanField()
    help_text = serializers.CharField()


class ChannelTypeSerializer(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField()
    plugin = serializers.CharField()
    config_fields = ChannelFieldSerializer(many=True)


class ChannelTypeList(APIView):
    """The channel types the company's plugins provide (e-mail, webhook, slack, ...)."""

    permission_classes = [role_permission(WRITE_ROLE)]

    @extend_schema(responses=ChannelTypeSerializer(many=True))
    def get(self, request):
        items = [
            {"key": key, "name": c.name, "plugin": plugin, "config_fields": c.config_fields}
            for key, (plugin, c) in services.channel_types().items()
        ]
        return Response(ChannelTypeSerializer(items, many=True).data)


class ChannelSerializer(serializers.ModelSerializer):
    config = serializers.DictField(required=False, default=dict, help_text="Plain fields.")
    secrets = serializers.DictField(
        write_only=True, required=False, default=dict, help_text="Secret fields; never returned."
    )
    secrets_set = serializers.SerializerMethodField()
    created_by = serializers.SlugRelatedField(slug_field="email", read_only=True)

    class Meta:
        model = Channel
        fields = [
            "id",
            "name",
            "kind",
            "config",
            "secrets",
            "secrets_set",
            "created_by",
            "created_at",
        ]
        read_only_fields = ["id", "created_by", "created_at"]

    def get_secrets_set(self, obj: Channel) -> list[str]:
        try:
            return sorted(obj.secret_values())
        except Exception:
            return []

    def save(self, **kwargs):
        data = self.validated_data
        instance = self.instance
        try:
            self.instance = services.save_channel(
                instance,
                data.get("name", instance.name if instance else ""),
                data.get("kind", instance.kind if instance else ""),
                {**(instance.config if instance else {}), **data.get("config", {})},
                data.get("secrets", {}),
                user=kwargs.get("created_by"),
            )
        except services.Invalid as invalid:
            _raise(invalid)
        return self.instance


class ChannelList(generics.ListCreateAPIView):
    permission_classes = [role_permission(WRITE_ROLE)]
    serializer_class = ChannelSerializer
    queryset = Channel.objects.select_related("created_by")
    pagination_class = None

    def perform_create(self, serializer):
        serializer.save(created_by=self.request.user)


class ChannelDetail(generics.RetrieveUpdateDestroyAPIView):
    permission_classes = [role_permission(WRITE_ROLE)]
    serializer_class = ChannelSerializer
    queryset = Channel.objects.select_related("created_by")


class RuleSerializer(serializers.ModelSerializer):
    threshold = serializers.DecimalField(
        max_digits=38,
        decimal_places=12,
        required=False,
        allow_null=True,
        coerce_to_string=True,
        normalize_output=True,
        help_text="In the unit pages show (a percent KPI: 5 for 5 %); not for behind_goal.",
    )
    grain = serializers.CharField(help_text="day, week, month, quarter or year")
    condition = serializers.CharField(help_text="; ".join(Rule.Condition.values))
    segment_kind = serializers.CharField(required=False, allow_blank=True)
    segment_value = serializers.CharField(required=False, allow_blank=True)
    channels = serializers.PrimaryKeyRelatedField(
        many=True, queryset=Channel.objects.all(), required=False
    )
    created_by = serializers.SlugRelatedField(slug_field="email", read_only=True)

    class Meta:
        model = Rule
        fields = [
            "id",
            "name",
            "kpi_key",
            "grain",
            "segment_kind",
            "segment_value",
            "condition",
            "threshold",
            "channels",
            "muted",
            "snoozed_until",
            "firing",
            "changed_at",
            "created_by",
            "created_at",
        ]
        read_only_fields = ["id", "firing", "changed_at", "created_by", "created_at"]

    def save(self, **kwargs):
        values = dict(self.validated_data)
        channels = values.pop("channels", None)
        try:
            self.instance = services.save_rule(
                self.instance, values, channels, user=kwargs.get("created_by")
            )
        except services.Invalid as invalid:
            _raise(invalid)
        return self.instance


class RuleList(generics.ListCreateAPIView):
    """The company's alert rules; analysts add them. ``muted`` and ``snoozed_until`` (a
    time) silence a rule: muted is not evaluated, snoozed records events without sending."""

    permission_classes = [role_permission(WRITE_ROLE)]
    serializer_class = RuleSerializer
    queryset = Rule.objects.select_related("created_by").prefetch_related("channels")
    pagination_class = None

    def perform_create(self, serializer):
        serializer.save(created_by=self.request.user)


class RuleDetail(generics.RetrieveUpdateDestroyAPIView):
    permission_classes = [role_permission(WRITE_ROLE)]
    serializer_class = RuleSerializer
    queryset = Rule.objects.select_related("created_by").prefetch_related("channels")


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = ["number", "started_at", "milliseconds", "ok", "error"]


class DeliverySerializer(serializers.ModelSerializer):
    log = AttemptSerializer(many=True, read_only=True)

    class Meta:
        model = Delivery
        fields = [
            "id",
            "channel",
            "channel_name",
            "key",
            "status",
            "attempts",
            "next_attempt_at",
            "sent_at",
            "error",
            "log",
        ]


class EventSerializer(serializers.ModelSerializer):
    rule_name = serializers.CharField(source="rule.name", read_only=True)
    kpi_key = serializers.CharField(source="rule.kpi_key", read_only=True)
    value = serializers.DecimalField(38, 12, coerce_to_string=True, normalize_output=True)
    previous_value = serializers.DecimalField(38, 12, coerce_to_string=True, normalize_output=True)
    target = serializers.DecimalField(38, 12, coerce_to_string=True, normalize_output=True)
    deliveries = DeliverySerializer(many=True, read_only=True)

    class Meta:
        model = Event
        fields = [
            "id",
            "rule",
            "rule_name",
            "kpi_key",
            "kind",
            "period_start",
            "period_end",
            "value",
            "previous_value",
            "target",
            "subject",
            "body",
            "silenced",
            "created_at",
            "deliveries",
        ]


def _events():
    return Event.objects.select_related("rule").prefetch_related("deliveries__log")


class EventList(generics.ListAPIView):
    """What rules did, newest first (``?rule=`` filters), each with its deliveries and their
    log."""

    serializer_class = EventSerializer

    def get_queryset(self):
        events = _events()
        rule = self.request.query_params.get("rule")
        if rule:
            if not rule.isdigit():
                raise serializers.ValidationError({"rule": ["Give a rule id."]})
            events = events.filter(rule_id=int(rule))
        return events


class EventDetail(generics.RetrieveAPIView):
    serializer_class = EventSerializer

    def get_queryset(self):
        return _events()
