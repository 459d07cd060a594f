"""``/api/v1/connectors/`` and ``/api/v1/connections/``: admins manage, members read.

Secret fields are write-only: a request may set them, no answer ever carries them (an answer
says only which ones are set).
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from kpiplatform.accounts.permissions import role_permission
from kpiplatform.connectors import sync
from kpiplatform.connectors.models import Connection, SyncRun
from kpiplatform.connectors.secrets import SecretsUnreadable
from kpiplatform.plugins import registry
from kpiplatform.sdk import ConfigField


class FieldSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    kind = serializers.CharField()
    required = serializers.BooleanField()
    help_text = serializers.CharField()


class ConnectorSerializer(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField()
    plugin = serializers.CharField()
    config_fields = FieldSerializer(many=True)


class ConnectorList(APIView):
    """The connectors the company's enabled plugins provide, with their forms."""

    permission_classes = [role_permission("admin")]

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
        return sync.connector_for(connector_key)[1].config_fields
    except sync.UnknownConnector as exc:
        raise ValidationError({"connector": [str(exc)]}) from exc


def _readable_secrets(connection: Connection) -> dict:
    """The stored secrets, or none when no key decrypts them (lost key): the admin sets them
    again, the required ones being asked for."""
    try:
        return connection.secret_values()
    except SecretsUnreadable:
        return {}


class ConnectionSerializer(serializers.ModelSerializer):
    secrets = serializers.DictField(
        write_only=True, required=False, help_text="Secret fields; never returned."
    )
    secrets_set = serializers.SerializerMethodField()
    last_run = serializers.SerializerMethodField()

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
            "health",
            "health_reason",
            "state",
            "last_run",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["health", "health_reason", "state", "created_at", "updated_at"]

    def get_secrets_set(self, obj: Connection) -> list[str]:
        return sorted(_readable_secrets(obj))

    def get_last_run(self, obj: Connection) -> dict | None:
        last = obj.runs.first()
        return SyncRunSerializer(last).data if last is not None else None

    def validate(self, attrs):
        instance: Connection | None = self.instance
        if instance is not None and attrs.get("connector", instance.connector) != (
            instance.connector
        ):
            raise ValidationError({"connector": ["A connection's connector cannot change."]})
        key = attrs.get("connector") or instance.connector
        fields = {f.name: f for f in _fields(key)}
        secret_names = {n for n, f in fields.items() if f.kind == "secret"}
        config = {**(instance.config if instance else {}), **attrs.get("config", {})}
        secrets = {**(_readable_secrets(instance) if instance else {}), **attrs.get("secrets", {})}
        errors = {}
        for name in set(attrs.get("config", {})) - (set(fields) - secret_names):
            where = "it is a secret: send it in secrets" if name in secret_names else "unknown"
            errors.setdefault("config", []).append(f"{name}: {where}.")
        for name in set(attrs.get("secrets", {})) - secret_names:
            errors.setdefault("secrets", []).append(f"{name}: not a secret field of {key}.")
        for name, field in fields.items():
            given = secrets.get(name) if name in secret_names else config.get(name)
            if field.required and given in (None, ""):
                target = "secrets" if name in secret_names else "config"
                errors.setdefault(target, []).append(f"{name}: required ({field.label}).")
        if errors:
            raise ValidationError(errors)
        attrs["config"] = config
        attrs["secrets"] = secrets
        return attrs

    def create(self, validated_data):
        secrets = validated_data.pop("secrets")
        if Connection.objects.filter(connector=validated_data["connector"]).exists():
            raise ValidationError(
                {"connector": ["This company already has a connection to this connector."]}
            )
        connection = Connection(**validated_data)
        connection.set_secrets(secrets)
        connection.save()
        return connection

    def update(self, instance, validated_data):
        secrets = validated_data.pop("secrets")
        new_secrets = secrets != _readable_secrets(instance)
        for attr, value in validated_data.items():
            setattr(instance, attr, value)
        instance.set_secrets(secrets)
        if new_secrets and instance.health == Connection.Health.NEEDS_CREDENTIALS:
            # New credentials: the schedule tries them again.
            instance.health, instance.health_reason = Connection.Health.OK, ""
        # Only what the request changes: a sync running meanwhile stores the cursor (state)
        # and the health, which a full save would put back to what this request read.
        fields = [*validated_data, "secrets_encrypted", "updated_at"]
        if new_secrets:
            fields += ["health", "health_reason"]
        instance.save(update_fields=fields)
        return instance


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
    """The company's connections; admins add one (``POST``)."""

    permission_classes = [role_permission("admin")]
    serializer_class = ConnectionSerializer
    queryset = Connection.objects.all()
    pagination_class = None  # a handful per company


class ConnectionDetail(generics.RetrieveUpdateDestroyAPIView):
    """One connection. ``DELETE`` removes it and its run history; the records it brought stay."""

    permission_classes = [role_permission("admin")]
    serializer_class = ConnectionSerializer
    queryset = Connection.objects.all()


class CheckResultSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    error = serializers.CharField()
    health = serializers.CharField()


class ConnectionCheck(APIView):
    """``POST``: test the credentials with the connector; the answer says what is wrong."""

    permission_classes = [role_permission("admin", to_read=True)]

    @extend_schema(request=None, responses=CheckResultSerializer)
    def post(self, request, pk: int):
        connection = get_object_or_404(Connection, pk=pk)
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
    already queued or running, 409 with that run (the request joins it)."""

    permission_classes = [role_permission("admin", to_read=True)]

    @extend_schema(request=None, responses={202: SyncStartedSerializer, 409: SyncStartedSerializer})
    def post(self, request, pk: int):
        connection = get_object_or_404(Connection, pk=pk)
        run, joined = sync.start(connection)
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

    permission_classes = [role_permission("admin")]
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
