"""Report schedules and their deliveries (one company's schema).

A delivery is one e-mail of one schedule for one period. Scheduled deliveries are unique per
(schedule, period): the row is the claim that makes a period's report go out once
(docs/reports.md, "Exactly once").
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Frequency(models.TextChoices):
    WEEKLY = "weekly", "Weekly (Mondays, for the week before)"
    MONTHLY = "monthly", "Monthly (on the 1st, for the month before)"


class ReportSchedule(models.Model):
    """Which KPIs go to whom, weekly or monthly, in the company's time zone."""

    MAX_KPIS = 20
    MAX_ADDRESSES = 50

    name = models.CharField(max_length=200)
    frequency = models.CharField(max_length=10, choices=Frequency.choices)
    kpis = models.JSONField(default=list, help_text="KPI keys, in the order the report shows.")
    recipient_users = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="report_schedules"
    )
    recipient_addresses = models.JSONField(default=list, blank=True)
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.frequency})"

    def recipients(self) -> list[str]:
        """Every address the report goes to: active member users, then the extra addresses."""
        users = self.recipient_users.filter(is_active=True).order_by("email")
        addresses = [user.email for user in users]
        for address in self.recipient_addresses:
            if address.lower() not in addresses:
                addresses.append(address.lower())
        return addresses


class ReportDelivery(models.Model):
    """One report e-mail: claimed (queued), rendered and sent by ``reports.delivery``.

    ``queued`` → ``sending`` (committed just before the mail server is handed the message) →
    ``sent``; ``failed`` when it could not be handed over (with the reason); ``unconfirmed``
    when an attempt died while handing it over, so that whether the server took it is unknown
    (it is not sent again on its own: "send now" does it).
    """

    class State(models.TextChoices):
        QUEUED = "queued"
        SENDING = "sending"
        SENT = "sent"
        FAILED = "failed"
        UNCONFIRMED = "unconfirmed", "unconfirmed (the worker died while handing it over)"

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule"
        MANUAL = "manual", "send now"

    FINAL = (State.SENT, State.FAILED, State.UNCONFIRMED)

    schedule = models.ForeignKey(
        ReportSchedule, on_delete=models.CASCADE, related_name="deliveries"
    )
    trigger = models.CharField(max_length=10, choices=Trigger.choices)
    grain = models.CharField(max_length=8)
    period_start = models.DateField()
    period_end = models.DateField()
    state = models.CharField(max_length=12, choices=State.choices, default=State.QUEUED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    recipients = models.JSONField(default=list, blank=True)
    subject = models.CharField(max_length=300, blank=True, default="")
    message_id = models.CharField(max_length=300, blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    queued_at = models.DateTimeField(auto_now_add=True)
    handed_over_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-queued_at", "-id"]
        constraints = [
            # The claim: one scheduled report per schedule and period, whoever ticks.
            models.UniqueConstraint(
                fields=["schedule", "period_start"],
                condition=models.Q(trigger="schedule"),
                name="one_scheduled_report_per_period",
            )
        ]

    def __str__(self) -> str:
        return f"report {self.schedule_id} {self.period_start}: {self.state}"
