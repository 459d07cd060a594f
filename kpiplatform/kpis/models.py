"""Stored KPI values and the company settings they are computed with (tenant schema)."""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models


class CompanySettings(models.Model):
    """One row per company: how its numbers are computed. Changing it recomputes everything."""

    reporting_currency = models.CharField(max_length=3, default="USD")
    time_zone = models.CharField(max_length=64, default="UTC")
    gross_margin = models.DecimalField(
        max_digits=5,
        decimal_places=4,
        default=Decimal("1"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))],
        help_text="Share of revenue kept after cost of goods sold, 0 to 1 (used by CLV).",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "company settings"

    def __str__(self) -> str:
        return f"{self.reporting_currency}, {self.time_zone}"

    @classmethod
    def current(cls) -> CompanySettings:
        settings, _ = cls.objects.get_or_create(pk=1)
        return settings


class StoredKPIValue(models.Model):
    """The value of one KPI for one period and segment, as last computed.

    Pages and the API read these; they never compute on read.
    """

    kpi = models.CharField(max_length=100)
    grain = models.CharField(max_length=8)
    period_start = models.DateField()
    period_end = models.DateField()
    segment_kind = models.CharField(max_length=32, blank=True, default="")
    segment = models.CharField(max_length=255, blank=True, default="")
    value = models.DecimalField(max_digits=38, decimal_places=12, null=True)
    numerator = models.DecimalField(max_digits=38, decimal_places=12, null=True)
    denominator = models.DecimalField(max_digits=38, decimal_places=12, null=True)
    reason = models.CharField(max_length=255, blank=True, default="")
    computed_at = models.DateTimeField()

    class Meta:
        db_table = "kpis_value"
        constraints = [
            models.UniqueConstraint(
                fields=["kpi", "grain", "period_start", "segment_kind", "segment"],
                name="kpi_value_unique",
            )
        ]
        indexes = [
            # The company totals of given periods of one grain, for every KPI at once (the
            # summary API and the dashboard): the unique index above leads with the KPI.
            models.Index(
                fields=["grain", "period_start", "kpi"],
                condition=models.Q(segment_kind="", segment=""),
                name="kpi_value_totals_by_period",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kpi} {self.grain} {self.period_start}: {self.value}"


class KPIComputation(models.Model):
    """The outcome of the last computation of one KPI: when, and the error if it failed."""

    kpi = models.CharField(max_length=100, unique=True)
    computed_at = models.DateTimeField(null=True)
    failed_at = models.DateTimeField(null=True)
    error = models.TextField(blank=True, default="")

    class Meta:
        db_table = "kpis_computation"

    def __str__(self) -> str:
        return f"{self.kpi}: {'failed' if self.error else 'ok'}"


class PendingChange(models.Model):
    """Canonical data written since the last recompute; a recompute takes them all at once
    and deletes them once the values they touch are stored (kpis/recompute.py)."""

    dataset = models.CharField(max_length=64)
    first_day = models.DateField()
    last_day = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)
    # When a recompute took the change. A taken change that is still pending when the next
    # recompute starts belongs to one that did not finish.
    taken_at = models.DateTimeField(null=True)

    class Meta:
        db_table = "kpis_pending_change"

    def __str__(self) -> str:
        return f"{self.dataset} {self.first_day}..{self.last_day}"


class RecomputeSchedule(models.Model):
    """One row: when a recompute task of the company was sent and has not started yet, so
    that writes meanwhile join it instead of sending another (kpis/recompute.py)."""

    enqueued_at = models.DateTimeField(null=True)

    class Meta:
        db_table = "kpis_recompute_schedule"

    def __str__(self) -> str:
        return f"recompute scheduled at {self.enqueued_at}" if self.enqueued_at else "idle"
