"""The canonical data model: what every source is turned into (docs/canonical-data.md).

One table per dataset in each company's schema. ``(source, external_id)`` is unique, so
re-syncing upserts instead of duplicating. References between datasets use the referenced
record's external id in the same source (``customer_ref``...), so records may arrive in any
order. Money is an integer in minor units plus an ISO 4217 currency.
"""

from __future__ import annotations

from django.db import models


class CanonicalRecord(models.Model):
    """Columns shared by every dataset."""

    source = models.CharField(max_length=64)
    external_id = models.CharField(max_length=255)
    deleted_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField()

    # The dataset name used by the writer, the import API and KPI ``requires``.
    dataset: str = ""
    # The column that places a record in time: what a change "touches" for KPI recompute.
    date_field: str = ""

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.dataset} {self.source}:{self.external_id}"


def _unique(name: str) -> list:
    return [models.UniqueConstraint(fields=["source", "external_id"], name=f"{name}_source_ext")]


class Customer(CanonicalRecord):
    dataset = "customers"
    date_field = "created_at"

    name = models.CharField(max_length=255, blank=True, default="")
    email = models.CharField(max_length=255, blank=True, default="")
    country = models.CharField(max_length=2, blank=True, default="")
    created_at = models.DateTimeField(null=True, blank=True)
    channel = models.CharField(max_length=100, blank=True, default="")
    campaign = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        db_table = "data_customers"
        constraints = _unique("customers")


class Plan(CanonicalRecord):
    dataset = "plans"
    date_field = ""

    class Interval(models.TextChoices):
        DAY = "day"
        WEEK = "week"
        MONTH = "month"
        YEAR = "year"

    name = models.CharField(max_length=255, blank=True, default="")
    interval = models.CharField(max_length=8, choices=Interval.choices, default=Interval.MONTH)
    interval_count = models.PositiveIntegerField(default=1)
    amount_minor = models.BigIntegerField(default=0)
    currency = models.CharField(max_length=3)

    class Meta:
        db_table = "data_plans"
        constraints = _unique("plans")


class Subscription(CanonicalRecord):
    dataset = "subscriptions"
    date_field = "started_at"

    class Status(models.TextChoices):
        TRIALING = "trialing"
        ACTIVE = "active"
        PAST_DUE = "past_due"
        PAUSED = "paused"
        CANCELED = "canceled"
        UNPAID = "unpaid"

    customer_ref = models.CharField(max_length=255)
    plan_ref = models.CharField(max_length=255, blank=True, default="")
    status = models.CharField(max_length=16, choices=Status.choices)
    quantity = models.PositiveIntegerField(default=1)
    trial_start = models.DateTimeField(null=True, blank=True)
    trial_end = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "data_subscriptions"
        constraints = _unique("subscriptions")
        indexes = [models.Index(fields=["source", "customer_ref"], name="subs_customer")]


class MrrSegment(CanonicalRecord):
    """Piecewise-constant monthly recurring revenue of a subscription, ``[starts_on, ends_on)``."""

    dataset = "mrr_segments"
    date_field = "starts_on"

    customer_ref = models.CharField(max_length=255)
    subscription_ref = models.CharField(max_length=255, blank=True, default="")
    plan_ref = models.CharField(max_length=255, blank=True, default="")
    starts_on = models.DateField()
    ends_on = models.DateField(null=True, blank=True)  # exclusive; null = still running
    mrr_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)

    class Meta:
        db_table = "data_mrr_segments"
        constraints = [
            *_unique("mrr_segments"),
            models.CheckConstraint(
                condition=models.Q(ends_on__isnull=True)
                | models.Q(ends_on__gt=models.F("starts_on")),
                name="mrr_segment_ends_after_start",
            ),
        ]
        indexes = [models.Index(fields=["source", "customer_ref"], name="mrr_customer")]


class Payment(CanonicalRecord):
    """A charge or a refund. Amounts are positive and before tax; refunds subtract."""

    dataset = "payments"
    date_field = "occurred_at"

    class Kind(models.TextChoices):
        CHARGE = "charge"
        REFUND = "refund"

    class Status(models.TextChoices):
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        PENDING = "pending"

    customer_ref = models.CharField(max_length=255, blank=True, default="")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.CHARGE)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SUCCEEDED)
    occurred_at = models.DateTimeField()
    amount_minor = models.BigIntegerField()
    tax_minor = models.BigIntegerField(default=0)
    discount_minor = models.BigIntegerField(default=0)
    currency = models.CharField(max_length=3)
    is_order = models.BooleanField(default=False)
    invoice_ref = models.CharField(max_length=255, blank=True, default="")
    order_ref = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        db_table = "data_payments"
        constraints = _unique("payments")
        indexes = [
            models.Index(fields=["occurred_at"], name="payments_occurred"),
            models.Index(fields=["source", "customer_ref"], name="payments_customer"),
        ]


class Lead(CanonicalRecord):
    dataset = "leads"
    date_field = "created_at"

    email = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField()
    lifecycle_stage = models.CharField(max_length=64, blank=True, default="")
    customer_at = models.DateTimeField(null=True, blank=True)
    customer_ref = models.CharField(max_length=255, blank=True, default="")
    channel = models.CharField(max_length=100, blank=True, default="")
    campaign = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        db_table = "data_leads"
        constraints = _unique("leads")


class Deal(CanonicalRecord):
    dataset = "deals"
    date_field = "closed_at"

    class Status(models.TextChoices):
        OPEN = "open"
        WON = "won"
        LOST = "lost"

    name = models.CharField(max_length=255, blank=True, default="")
    amount_minor = models.BigIntegerField(default=0)
    currency = models.CharField(max_length=3, blank=True, default="")
    stage = models.CharField(max_length=64, blank=True, default="")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "data_deals"
        constraints = _unique("deals")


class Spend(CanonicalRecord):
    dataset = "spend"
    date_field = "spent_on"

    spent_on = models.DateField()
    channel = models.CharField(max_length=100, blank=True, default="")
    campaign = models.CharField(max_length=255, blank=True, default="")
    amount_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)

    class Meta:
        db_table = "data_spend"
        constraints = _unique("spend")


class WebTraffic(CanonicalRecord):
    """Daily, additive web counts per channel and campaign. ``users`` is never summed across
    rows."""

    dataset = "web_traffic"
    date_field = "day"

    day = models.DateField()
    channel = models.CharField(max_length=100, blank=True, default="")
    campaign = models.CharField(max_length=255, blank=True, default="")
    sessions = models.BigIntegerField(default=0)
    engaged_sessions = models.BigIntegerField(default=0)
    key_events = models.BigIntegerField(default=0)
    key_event_sessions = models.BigIntegerField(default=0)
    users = models.BigIntegerField(default=0)
    revenue_minor = models.BigIntegerField(default=0)
    ad_cost_minor = models.BigIntegerField(default=0)
    currency = models.CharField(max_length=3, blank=True, default="")

    class Meta:
        db_table = "data_web_traffic"
        constraints = _unique("web_traffic")


class SurveyResponse(CanonicalRecord):
    dataset = "survey_responses"
    date_field = "responded_at"

    class Kind(models.TextChoices):
        CSAT = "csat"
        NPS = "nps"

    customer_ref = models.CharField(max_length=255, blank=True, default="")
    kind = models.CharField(max_length=4, choices=Kind.choices)
    score = models.IntegerField()
    scale_min = models.IntegerField()
    scale_max = models.IntegerField()
    responded_at = models.DateTimeField()

    class Meta:
        db_table = "data_survey_responses"
        constraints = _unique("survey_responses")


class ExchangeRate(CanonicalRecord):
    """1 unit of ``currency`` = ``rate`` units of the company's reporting currency, from ``day``."""

    dataset = "exchange_rates"
    date_field = "day"

    day = models.DateField()
    currency = models.CharField(max_length=3)
    rate = models.DecimalField(max_digits=20, decimal_places=10)

    class Meta:
        db_table = "data_exchange_rates"
        constraints = _unique("exchange_rates")
        indexes = [models.Index(fields=["currency", "day"], name="rates_currency_day")]


DATASETS: dict[str, type[CanonicalRecord]] = {
    model.dataset: model
    for model in (
        Customer,
        Plan,
        Subscription,
        MrrSegment,
        Payment,
        Lead,
        Deal,
        Spend,
        WebTraffic,
        SurveyResponse,
        ExchangeRate,
    )
}
