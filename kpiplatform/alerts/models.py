"""Alert rules, the channels they notify, what fired and every delivery (tenant schema)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from kpiplatform.connectors import secrets


class Channel(models.Model):
    """Where notifications go: one configured instance of a notification channel type
    (``kind`` is the key a plugin registered, e.g. ``webhook``). Fields of kind ``secret``
    are stored encrypted and never shown again."""

    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=100)
    config = models.JSONField(default=dict, blank=True)
    secrets = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "alerts_channel"
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"

    def secret_values(self) -> dict:
        return secrets.decrypt(self.secrets)

    def set_secret_values(self, values: dict) -> None:
        self.secrets = secrets.encrypt({k: v for k, v in values.items() if v not in ("", None)})

    def full_config(self) -> dict:
        """What the channel's ``send`` receives: the plain fields and the decrypted ones."""
        return {**self.config, **self.secret_values()}


class Rule(models.Model):
    class Condition(models.TextChoices):
        ABOVE = "above", "is above"
        BELOW = "below", "is below"
        CHANGE_PERCENT = "change_percent", "changes against the previous period by more than N %"
        CHANGE_POINTS = "change_points", "changes against the previous period by more than N"
        BEHIND_GOAL = "behind_goal", "is behind its goal"

    name = models.CharField(max_length=200)
    kpi_key = models.CharField(max_length=100)
    grain = models.CharField(max_length=8, default="month")
    segment_kind = models.CharField(max_length=32, blank=True, default="")
    segment_value = models.CharField(max_length=255, blank=True, default="")
    condition = models.CharField(max_length=20, choices=Condition.choices)
    # In the unit the pages show: percent KPIs in percent (5 means 5 %), and for
    # change_points in percentage points; unused by behind_goal.
    threshold = models.DecimalField(max_digits=38, decimal_places=12, null=True, blank=True)
    channels = models.ManyToManyField(Channel, blank=True, related_name="rules")
    muted = models.BooleanField(default=False)
    snoozed_until = models.DateTimeField(null=True, blank=True)
    # Whether the condition held at the last evaluation: a rule fires when it starts to hold.
    firing = models.BooleanField(default=False)
    changed_at = models.DateTimeField(null=True, blank=True)  # when firing last flipped
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "alerts_rule"
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["kpi_key"], name="alerts_rule_kpi")]

    def __str__(self) -> str:
        return self.name

    def is_snoozed(self, now=None) -> bool:
        return self.snoozed_until is not None and self.snoozed_until > (now or timezone.now())


class Event(models.Model):
    """A rule started (``fired``) or stopped (``resolved``) holding."""

    class Kind(models.TextChoices):
        FIRED = "fired", "fired"
        RESOLVED = "resolved", "resolved"

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    period_start = models.DateField()
    period_end = models.DateField()
    value = models.DecimalField(max_digits=38, decimal_places=12, null=True)
    previous_value = models.DecimalField(max_digits=38, decimal_places=12, null=True)
    target = models.DecimalField(max_digits=38, decimal_places=12, null=True)
    subject = models.CharField(max_length=300)
    body = models.TextField()
    # Snoozed or muted at that moment: recorded, not delivered.
    silenced = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "alerts_event"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.subject


class Delivery(models.Model):
    """One event sent through one channel; ``key`` goes to the receiver to drop duplicates."""

    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        SENDING = "sending", "sending"
        RETRYING = "retrying", "waiting to retry"
        SENT = "sent", "sent"
        FAILED = "failed", "failed"

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.ForeignKey(Channel, on_delete=models.SET_NULL, null=True, related_name="+")
    channel_name = models.CharField(max_length=200)
    key = models.UUIDField(default=uuid.uuid4, unique=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True)
    next_attempt_at = models.DateTimeField(null=True)
    sent_at = models.DateTimeField(null=True)
    error = models.TextField(blank=True, default="")

    class Meta:
        db_table = "alerts_delivery"
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["event", "channel"], name="alerts_delivery_once")
        ]

    def __str__(self) -> str:
        return f"{self.event} -> {self.channel_name}: {self.status}"


class DeliveryAttempt(models.Model):
    """The delivery log: every try, its outcome and how long it took."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="log")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    milliseconds = models.PositiveIntegerField()
    ok = models.BooleanField()
    error = models.TextField(blank=True, default="")

    class Meta:
        db_table = "alerts_delivery_attempt"
        ordering = ["delivery", "number"]

    def __str__(self) -> str:
        return f"attempt {self.number}: {'ok' if self.ok else self.error}"
