"""``/api/v1/connectors/`` and ``/api/v1/connections/``: an admin's, as the pages.

Secret fields are write-only: a request may set them, no answer ever carries them (an answer
says only which ones are set).
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from kpiplatform.accounts.permissions import role_permission
from kpiplatform.connectors import configuration, sync
from kpiplatform.connectors.disconnect import (
    AlreadyDisconnecting,
    SyncRunning,
    disconnect_deleting_data,
    disconnect_keeping_data,
)
from kpiplatform.connectors.models import Connection, Disconnection, SyncRun
from kpiplatform.connectors.secrets import SecretsUnreadable
from kpiplatform.plugins import registry
from kpiplatform.sdk import ConfigField

# Connections are an admin's, reads included: the same rule as the connection pages.
ADMINS = role_permission("admin", to_read=True)


class FieldSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    kind = serializers.CharField()
    required = serializers.BooleanField()
    help_text = serializers.CharField()
    choices = serializers.ListField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="For kind choice: [value, label] pairs.",
    )


class ConnectorSerializer(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField()
    plugin = serializers.CharField()
    config_fields = FieldSerializer(many=True)


class ConnectorList(APIView):
    """The connectors the company's enabled plugins provide, with their forms."""

    permission_classes = [ADMINS]

    @extend_schema(responses=ConnectorSerializer(many=True))
    def get(self, request):
        items = [
            {
                "key": key,
                "name": connector.name,
                "plugin": plugin,
                "config_fields": connector.config_fields,
            }
            for key, (plugin, connector) in sorted(registry.connectors().items())
        ]
        return Response(ConnectorSerializer(items, many=True).data)


def _fields(connector_key: str) -> tuple[ConfigField, ...]:
    try:
        return configuration.fields_of(connector_key)
    except sync.UnknownConnector as exc:
        raise ValidationError({"connector": [str(exc)]}) from exc


class DisconnectionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Disconnection
        fields = [
            "status",
            "asked_at",
            "datasets_done",
            "datasets_total",
            "deleted",
            "error",
        ]
        extra_kwargs = {
            "status": {"help_text": "removing (under way) or failed (see error; retry)."},
            "datasets_done": {"help_text": "Datasets whose records of the source are all gone."},
            "deleted": {"help_text": "Live records deleted so far, per dataset."},
        }


class ConnectionSerializer(serializers.ModelSerializer):
    secrets = serializers.DictField(
        write_only=True,
        required=False,
        help_text="Secret fields; never returned. Left out: kept; empty or null: cleared.",
    )
    secrets_set = serializers.SerializerMethodField()
    last_run = serializers.SerializerMethodField()
    next_sync_at = serializers.SerializerMethodField(
        help_text="When the schedule starts the next sync (within a minute); null when it "
        "starts none: only when asked, credentials refused, being disconnected, or a sync "
        "on its way."
    )
    disconnect = serializers.SerializerMethodField(
        help_text="null, or the disconnect deleting the connection's records: under way "
        "(no sync starts) or stopped on an error."
    )

    class Meta:
        model = Connection
        fields = [
            "id",
            "connector",
            "name",
            "config",
            "secrets",
            "secrets_set",
            "schedule_minutes",
            "next_sync_at",
            "health",
            "health_reason",
            "state",
            "last_run",
            "disconnect",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["health", "health_reason", "state", "created_at", "updated_at"]

    def _last_run(self, obj: Connection) -> SyncRun | None:
        if not hasattr(obj, "_last_run"):
            obj._last_run = obj.runs.first()
        return obj._last_run

    def get_secrets_set(self, obj: Connection) -> list[str]:
        return sorted(configuration.readable_secrets(obj))

    def get_last_run(self, obj: Connection) -> dict | None:
        last = self._last_run(obj)
        return SyncRunSerializer(last).data if last is not None else None

    @extend_schema_field(DisconnectionSerializer(allow_null=True))
    def get_disconnect(self, obj: Connection) -> dict | None:
        removal = getattr(obj, "disconnection", None)
        return DisconnectionSerializer(removal).data if removal is not None else None

    def get_next_sync_at(self, obj: Connection) -> str | None:
        due = sync.next_sync_at(obj, self._last_run(obj))
        return serializers.DateTimeField().to_representation(due) if due else None

    def validate_schedule_minutes(self, value: int) -> int:
        if problem := configuration.schedule_problem(value):
            raise ValidationError(problem)
        return value

    def validate(self, attrs):
        instance: Connection | None = self.instance
        if instance is not None and attrs.get("connector", instance.connector) != (
            instance.connector
        ):
            raise ValidationError({"connector": ["A connection's connector cannot change."]})
        key = attrs.get("connector") or instance.connector
        checked = configuration.check_values(
            _fields(key), attrs.get("config", {}), attrs.get("secrets", {}), instance
        )
        if checked.problems:
            errors: dict[str, list[str]] = {}
            for problem in checked.problems:
                errors.setdefault(problem.target, []).append(str(problem))
            raise ValidationError(errors)
        attrs["checked"] = checked
        attrs.pop("config", None)
        attrs.pop("secrets", None)
        return attrs

    def create(self, validated_data):
        checked = validated_data.pop("checked")
        try:
            return configuration.create(checked=checked, **validated_data)
        except configuration.AlreadyConnected as exc:
            raise ValidationError({"connector": [str(exc)]}) from exc

    def update(self, instance, validated_data):
        checked = validated_data.pop("checked")
        validated_data.pop("connector", None)
        return configuration.update(instance, checked, **validated_data)


class SyncRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = SyncRun
        fields = [
            "id",
            "status",
            "trigger",
            "queued_at",
            "started_at",
            "ended_at",
            "pages",
            "counts",
            "progress",
            "error",
        ]


class ConnectionList(generics.ListCreateAPIView):
    """The company's connections (admins only, as the pages); ``POST`` adds one."""

    permission_classes = [ADMINS]
    serializer_class = ConnectionSerializer
    queryset = Connection.objects.select_related("disconnection")
    pagination_class = None  # a handful per company


class SyncRunningConflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "sync_running"


class DisconnectingConflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "disconnecting"


class DisconnectedSerializer(serializers.Serializer):
    source = serializers.CharField()
    keep_data = serializers.BooleanField()
    deleted = serializers.DictField(
        child=serializers.IntegerField(), help_text="Records removed per dataset."
    )


class DisconnectingSerializer(serializers.Serializer):
    source = serializers.CharField()
    keep_data = serializers.BooleanField()
    disconnect = DisconnectionSerializer()


KEEP_DATA = OpenApiParameter(
    "keep_data",
    bool,
    required=True,
    description="true: the records the connection brought stay (under its source); false: "
    "they are deleted from every dataset in the background (202), the KPIs recomputed, "
    "then the connection goes.",
)


class ConnectionDetail(generics.RetrieveUpdateDestroyAPIView):
    """One connection. ``DELETE ?keep_data=true|false`` disconnects it: the connection and
    its run history go; the records it brought stay (200, done) or are deleted in the
    background (202 with the disconnect's state; ``GET`` follows it until the connection is
    gone, a 404)."""

    permission_classes = [ADMINS]
    serializer_class = ConnectionSerializer
    queryset = Connection.objects.select_related("disconnection")

    def perform_update(self, serializer):
        try:
            sync.refuse_while_disconnecting(serializer.instance, "edited")
        except sync.Disconnecting as exc:
            raise DisconnectingConflict(str(exc)) from exc
        serializer.save()

    @extend_schema(
        parameters=[KEEP_DATA],
        responses={200: DisconnectedSerializer, 202: DisconnectingSerializer, 409: None},
    )
    def delete(self, request, *args, **kwargs):
        connection = self.get_object()
        choice = request.query_params.get("keep_data", "").lower()
        if choice not in ("true", "false"):
            raise ValidationError(
                {
                    "keep_data": [
                        "Say whether to keep the records this connection brought: "
                        "keep_data=true (they stay) or keep_data=false (they are removed)."
                    ]
                }
            )
        try:
            if choice == "true":
                result = disconnect_keeping_data(connection)
                return Response(DisconnectedSerializer(result).data)
            removal = disconnect_deleting_data(connection)
        except SyncRunning as exc:
            raise SyncRunningConflict(str(exc)) from exc
        except AlreadyDisconnecting as exc:
            raise DisconnectingConflict(str(exc)) from exc
        return Response(
            {
                "source": connection.source,
                "keep_data": False,
                "disconnect": DisconnectionSerializer(removal).data,
            },
            status=status.HTTP_202_ACCEPTED,
        )


class CheckResultSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    error = serializers.CharField()
    health = serializers.CharField()


class ConnectionCheck(APIView):
    """``POST``: test the credentials with the connector; the answer says what is wrong."""

    permission_classes = [ADMINS]

    @extend_schema(request=None, responses={200: CheckResultSerializer, 409: None})
    def post(self, request, pk: int):
        connection = get_object_or_404(Connection, pk=pk)
        try:
            sync.refuse_while_disconnecting(connection, "tested")
        except sync.Disconnecting as exc:
            raise DisconnectingConflict(str(exc)) from exc
        try:
            ok, error = sync.check(connection)
        except (sync.UnknownConnector, SecretsUnreadable) as exc:
            ok, error = False, str(exc)
        return Response({"ok": ok, "error": error, "health": connection.health})


class SyncStartedSerializer(serializers.Serializer):
    joined = serializers.BooleanField()
    detail = serializers.CharField()
    run = SyncRunSerializer()


class ConnectionSync(APIView):
    """``POST``: sync now. 202 with the queued run, or, when a sync of this connection is
    already queued or running, 409 with that run (the request joins it); while the
    connection is being disconnected, 409 ``disconnecting``."""

    permission_classes = [ADMINS]

    @extend_schema(request=None, responses={202: SyncStartedSerializer, 409: SyncStartedSerializer})
    def post(self, request, pk: int):
        connection = get_object_or_404(Connection, pk=pk)
        try:
            run, joined = sync.start(connection)
        except sync.Disconnecting as exc:
            raise DisconnectingConflict(str(exc)) from exc
        detail = (
            f"A sync of this connection is already {run.status} (run {run.pk}); "
            "this request joins it."
            if joined
            else "Sync queued."
        )
        return Response(
            {"joined": joined, "detail": detail, "run": SyncRunSerializer(run).data},
            status=status.HTTP_409_CONFLICT if joined else status.HTTP_202_ACCEPTED,
        )


class SyncRunList(generics.ListAPIView):
    """The connection's sync runs, newest first (paginated)."""

    permission_classes = [ADMINS]
    serializer_class = SyncRunSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator, no request
            return SyncRun.objects.none()
        connection = get_object_or_404(Connection, pk=self.kwargs["pk"])
        return connection.runs.all()


class WebhookAddressSerializer(serializers.Serializer):
    url = serializers.CharField()


class ConnectionWebhook(APIView):
    """``GET``: the connection's webhook address (made on first request), to paste into the
    upstream's webhook settings. Admins only: whoever knows it can trigger syncs."""

    permission_classes = [role_permission("admin", to_read=True)]

    @extend_schema(responses=WebhookAddressSerializer)
    def get(self, request, pk: int):
        from kpiplatform.connectors import webhooks

        connection = get_object_or_404(Connection, pk=pk)
        _plugin, connector = sync.connector_for(connection.connector)
        if not connector.accepts_webhooks:
            return Response(
                {"error": {"code": "no_webhooks", "message": "This connector has no webhooks."}},
                status=status.HTTP_404_NOT_FOUND,
            )
        path = webhooks.path_of(webhooks.endpoint_for(connection))
        return Response({"url": request.build_absolute_uri(path)})


class SyncRunDetail(generics.RetrieveAPIView):
    """One sync run: poll it for the live progress (pages, counts per dataset, progress)."""

    permission_classes = [ADMINS]
    serializer_class = SyncRunSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return SyncRun.objects.none()
        return SyncRun.objects.filter(connection_id=self.kwargs["connection_pk"])
