"""``/api/v1/plugins/``: installed plugins, their state, and this company's on/off switch."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from kpiplatform.accounts.permissions import role_permission
from kpiplatform.plugins import registry


class ProblemSerializer(serializers.Serializer):
    hook = serializers.CharField()
    message = serializers.CharField()
    fix = serializers.CharField()


class RecordedErrorSerializer(serializers.Serializer):
    hook = serializers.CharField()
    message = serializers.CharField()
    occurred_at = serializers.DateTimeField()


class PluginSerializer(serializers.Serializer):
    """One installed plugin as the current company sees it."""

    name = serializers.CharField(read_only=True)
    version = serializers.CharField(source="plugin.version", read_only=True)
    tier = serializers.CharField(source="plugin.tier", read_only=True)
    enabled = serializers.BooleanField()
    can_disable = serializers.BooleanField(read_only=True)
    state = serializers.CharField(source="plugin.state", read_only=True)
    error = serializers.CharField(source="plugin.error", read_only=True)
    fix = serializers.CharField(source="plugin.fix", read_only=True)
    sdk_supports = serializers.CharField(source="plugin.sdk_supports", read_only=True)
    modules = serializers.ListField(source="plugin.modules", read_only=True)
    kpis = serializers.ListField(source="plugin.kpi_keys", read_only=True)
    connectors = serializers.ListField(source="plugin.connector_keys", read_only=True)
    notification_channels = serializers.ListField(source="plugin.channel_keys", read_only=True)
    problems = ProblemSerializer(source="startup_problems", many=True, read_only=True)
    recent_errors = RecordedErrorSerializer(many=True, read_only=True)


class PluginList(APIView):
    """Every installed plugin, whatever its state. Members read; admins switch plugins."""

    permission_classes = [role_permission("admin")]

    # A handful of plugins: one unpaginated list, in load order.
    @extend_schema(responses=PluginSerializer(many=True))
    def get(self, request):
        return Response(PluginSerializer(registry.all_plugins(), many=True).data)


class PluginDetail(APIView):
    """One plugin; ``PATCH {"enabled": false}`` switches it off for this company (admins)."""

    permission_classes = [role_permission("admin")]

    def get_object(self):
        try:
            return registry.plugin_status(self.kwargs["name"])
        except registry.UnknownPlugin as exc:
            raise NotFound(str(exc)) from exc

    @extend_schema(responses=PluginSerializer)
    def get(self, request, name: str):
        return Response(PluginSerializer(self.get_object()).data)

    @extend_schema(request=PluginSerializer, responses=PluginSerializer)
    def patch(self, request, name: str):
        self.get_object()
        serializer = PluginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            status = registry.set_enabled(name, serializer.validated_data["enabled"], request.user)
        except registry.EssentialPlugin as exc:
            raise ValidationError(str(exc)) from exc
        return Response(PluginSerializer(status).data)
