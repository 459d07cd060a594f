"""The KPI series and summary of ``kpiplatform.kpis.api`` with each value's goal and progress.

The KPI engine's app sits below goals, so the goal is added here, one layer up: same URLs,
same answers, plus ``goal`` (null when the period has none).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers

from kpiplatform.goals.models import Goal
from kpiplatform.goals.progress import goals_for_periods, progress
from kpiplatform.kpis import api as kpi_api
from kpiplatform.kpis.registry import registered_kpis
from kpiplatform.sdk import Grain

GRAIN = OpenApiParameter("grain", enum=[grain.value for grain in Grain], default="month")


class GoalProgressSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    target = serializers.CharField()
    ratio = serializers.CharField(
        allow_null=True, help_text="Share of the goal reached (1 or more: met)."
    )
    met = serializers.BooleanField(allow_null=True)
    standing = serializers.BooleanField(help_text="The goal of every period of the grain.")


class SeriesPointWithGoalSerializer(kpi_api.SeriesPointSerializer):
    goal = GoalProgressSerializer(allow_null=True)


class KPISummaryWithGoalSerializer(kpi_api.KPISummarySerializer):
    goal = GoalProgressSerializer(allow_null=True, help_text="The current period's goal.")


class KPISummaryWithGoalsResponse(kpi_api.KPISummaryResponseSerializer):
    kpis = KPISummaryWithGoalSerializer(many=True)


def goal_json(goal: Goal | None, value: str | None, direction) -> dict | None:
    if goal is None:
        return None
    reached = progress(goal, None if value is None else Decimal(value), direction)
    return {
        "id": goal.id,
        "target": kpi_api.decimal_text(reached["target"]),
        "ratio": kpi_api.decimal_text(reached["ratio"]),
        "met": reached["met"],
        "standing": goal.period_start is None,
    }


class KPISeriesWithGoalsView(kpi_api.KPISeriesView):
    __doc__ = kpi_api.KPISeriesView.__doc__

    @extend_schema(
        parameters=[
            GRAIN,
            OpenApiParameter("start", dt.date, description="first period overlapping this day"),
            OpenApiParameter("end", dt.date, description="last period overlapping this day"),
            OpenApiParameter("segment_kind", str, description="e.g. country, channel"),
            OpenApiParameter("segment", str),
        ],
        responses=SeriesPointWithGoalSerializer(many=True),
    )
    def get(self, request, key: str, format: str | None = None):
        response = super().get(request, key, format)
        if getattr(request.accepted_renderer, "format", None) == "csv":
            return response
        kpi = registered_kpis()[key]
        grain = request.query_params.get("grain", Grain.MONTH.value)
        starts = [dt.date.fromisoformat(row["start"]) for row in response.data]
        goals = goals_for_periods(
            key,
            grain,
            starts,
            request.query_params.get("segment_kind", ""),
            request.query_params.get("segment", ""),
        )
        for row, start in zip(response.data, starts, strict=True):
            row["goal"] = goal_json(goals.get(start), row["value"], kpi.direction)
        return response


class KPISummaryWithGoalsView(kpi_api.KPISummaryView):
    __doc__ = kpi_api.KPISummaryView.__doc__

    @extend_schema(parameters=[GRAIN], responses=KPISummaryWithGoalsResponse)
    def get(self, request):
        response = super().get(request)
        kpis = registered_kpis()
        goals = list(
            Goal.objects.filter(grain=response.data["grain"], segment_kind="", segment_value="")
        )
        for row in response.data["kpis"]:
            current = row["current"]
            start = dt.date.fromisoformat(current["start"]) if current else None
            mine = [g for g in goals if g.kpi_key == row["key"]]
            goal = next((g for g in mine if start and g.period_start == start), None) or next(
                (g for g in mine if g.period_start is None), None
            )
            direction = kpis[row["key"]].direction if row["key"] in kpis else "higher"
            row["goal"] = goal_json(goal, current["value"] if current else None, direction)
        return response
