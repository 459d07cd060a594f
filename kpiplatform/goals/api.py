"""``/api/v1/goals/``: analysts and admins set goals, every member reads them."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from rest_framework import generics, serializers

from kpiplatform.accounts.permissions import role_permission
from kpiplatform.goals.models import Goal
from kpiplatform.goals.validation import period_start_error, target_errors


class GoalSerializer(serializers.ModelSerializer):
    period_start = serializers.DateField(
        required=False,
        allow_null=True,
        help_text="First day of the period; null: every period of the grain.",
    )
    grain = serializers.CharField(help_text="day, week, month, quarter or year")
    segment_kind = serializers.CharField(required=False, allow_blank=True, default="")
    segment_value = serializers.CharField(required=False, allow_blank=True, default="")
    target = serializers.DecimalField(
        max_digits=38,
        decimal_places=12,
        coerce_to_string=True,
        normalize_output=True,
        help_text="In the KPI's stored unit (a percent KPI: 0.05 for 5 %).",
    )
    created_by = serializers.SlugRelatedField(slug_field="email", read_only=True)

    class Meta:
        model = Goal
        fields = [
            "id",
            "kpi_key",
            "grain",
            "period_start",
            "segment_kind",
            "segment_value",
            "target",
            "created_by",
            "created_at",
        ]
        read_only_fields = ["id", "created_by", "created_at"]
        validators = []  # the unique constraint answers with a message of ours (below)

    def validate(self, attrs):
        merged = {**self._current(), **attrs}
        _, errors = target_errors(
            merged["kpi_key"], merged["grain"], merged["segment_kind"], merged["segment_value"]
        )
        error = period_start_error(merged["grain"], merged.get("period_start"))
        if error:
            errors["period_start"] = error
        if errors:
            raise serializers.ValidationError({k: [v] for k, v in errors.items()})
        return attrs

    def _current(self) -> dict:
        if self.instance is None:
            return {"segment_kind": "", "segment_value": "", "period_start": None}
        return {
            name: getattr(self.instance, name)
            for name in ("kpi_key", "grain", "period_start", "segment_kind", "segment_value")
        }

    def save(self, **kwargs):
        try:
            with transaction.atomic():
                return super().save(**kwargs)
        except IntegrityError:
            raise serializers.ValidationError(
                {"period_start": ["This KPI already has a goal for that period and segment."]}
            ) from None


class GoalList(generics.ListCreateAPIView):
    """Every goal of the company (``?kpi=`` and ``?grain=`` filter); analysts add them."""

    serializer_class = GoalSerializer
    permission_classes = [role_permission("analyst")]

    def get_queryset(self):
        goals = Goal.objects.select_related("created_by")
        for param, field in (("kpi", "kpi_key"), ("grain", "grain")):
            value = self.request.query_params.get(param)
            if value:
                goals = goals.filter(**{field: value})
        return goals

    def perform_create(self, serializer):
        serializer.save(created_by=self.request.user)


class GoalDetail(generics.RetrieveUpdateDestroyAPIView):
    serializer_class = GoalSerializer
    permission_classes = [role_permission("analyst")]
    queryset = Goal.objects.select_related("created_by")
