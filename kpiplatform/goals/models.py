"""Targets for KPIs (tenant schema)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Goal(models.Model):
    """A target value of one KPI for the periods of one grain.

    ``period_start`` null means every period of that grain (a standing target, e.g. "MRR
    growth of 5 % every month"); a dated goal for one period takes precedence over it.
    ``segment_kind``/``segment_value`` empty means all customers together.
    """

    kpi_key = models.CharField(max_length=100)
    grain = models.CharField(max_length=8)
    period_start = models.DateField(null=True, blank=True)
    segment_kind = models.CharField(max_length=32, blank=True, default="")
    segment_value = models.CharField(max_length=255, blank=True, default="")
    target = models.DecimalField(max_digits=38, decimal_places=12)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "goals_goal"
        ordering = ["kpi_key", "grain", "segment_kind", "segment_value", "period_start"]
        constraints = [
            # One goal per KPI, grain, period and segment; NULLS NOT DISTINCT makes the standing
            # goal (period_start NULL) unique too (PostgreSQL 15+).
            models.UniqueConstraint(
                fields=["kpi_key", "grain", "period_start", "segment_kind", "segment_value"],
                name="goal_unique",
                nulls_distinct=False,
            )
        ]

    def __str__(self) -> str:
        period = self.period_start.isoformat() if self.period_start else f"every {self.grain}"
        return f"{self.kpi_key} {period}: {self.target}"
