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

    def __str__(self) -> str:
        return f"{self.kpi} {self.grain} {self.period_start}: {self.value}"


class MrrMovement(models.Model):
    """One change of one customer's MRR on one day, in reporting-currency major units.

    Materialised from the MRR segments by :mod:`kpiplatform.kpis.ledger`; every movement KPI
    is a sum over this table, and a user can open any number down to these rows. A customer
    has at most one movement a day, hence the key. The table is UNLOGGED (migration 0002):
    it is derived data, rebuilt from the segments, and a full rebuild writes it twice as fast
    without WAL; after a crash PostgreSQL empties it and the next computation rebuilds it.
    """

    pk = models.CompositePrimaryKey("source", "customer_ref", "day")

    class Kind(models.TextChoices):
        NEW = "new", "New business"
        EXPANSION = "expansion", "Expansion"
        CONTRACTION = "contraction", "Contraction"
        CHURN = "churn", "Churn"
        REACTIVATION = "reactivation", "Reactivation"

    source = models.CharField(max_length=64)
    customer_ref = models.CharField(max_length=255)
    day = models.DateField()
    kind = models.CharField(max_length=12, choices=Kind.choices)
    amount = models.DecimalField(max_digits=30, decimal_places=12)
    mrr_before = models.DecimalField(max_digits=30, decimal_places=12)
    mrr_after = models.DecimalField(max_digits=30, decimal_places=12)
    # The customer's movements before and after this one (None: none): whether a customer
    # moves more than once in a period is a comparison of days, not a window over the ledger.
    previous_day = models.DateField(null=True)
    next_day = models.DateField(null=True)

    class Meta:
        db_table = "kpis_mrr_movement"

    def __str__(self) -> str:
        return f"{self.customer_ref} {self.day} {self.kind} {self.amount}"


class MrrPlanMovement(models.Model):
    """One change of one customer's MRR on one plan on one day: the plan ledger.

    Like :class:`MrrMovement`, classified per customer *and plan* (moving to another plan
    churns the old one); the plan breakdowns of MRR-type KPIs read it. UNLOGGED too.
    """

    pk = models.CompositePrimaryKey("source", "customer_ref", "plan_ref", "day")

    source = models.CharField(max_length=64)
    customer_ref = models.CharField(max_length=255)
    plan_ref = models.CharField(max_length=255)
    day = models.DateField()
    kind = models.CharField(max_length=12, choices=MrrMovement.Kind.choices)
    amount = models.DecimalField(max_digits=30, decimal_places=12)
    mrr_before = models.DecimalField(max_digits=30, decimal_places=12)
    mrr_after = models.DecimalField(max_digits=30, decimal_places=12)

    class Meta:
        db_table = "kpis_mrr_plan_movement"

    def __str__(self) -> str:
        return f"{self.customer_ref} {self.plan_ref} {self.day} {self.kind} {self.amount}"


class PaymentDay(models.Model):
    """A customer's successful payments of one day, summed, in the reporting currency.

    Materialised from the payments by :mod:`kpiplatform.kpis.payment_facts`: each payment is
    placed on its day in the company's time zone and converted at the rate of that day, once,
    instead of by every KPI and grain. Refreshed for the days a write touched; rebuilt entirely
    when settings or exchange rates change. UNLOGGED, like the ledger (migration 0004).
    """

    pk = models.CompositePrimaryKey("source", "customer_ref", "day")

    source = models.CharField(max_length=64)
    customer_ref = models.CharField(max_length=255)  # "" for payments of no customer
    day = models.DateField()
    net = models.DecimalField(max_digits=30, decimal_places=12)  # charges minus refunds
    charged = models.DecimalField(max_digits=30, decimal_places=12)  # charges only
    order_amount = models.DecimalField(max_digits=30, decimal_places=12)  # one-off charges
    payments = models.IntegerField()  # charges and refunds with a rate (counted in net)
    charges = models.IntegerField()  # charges with a rate
    orders = models.IntegerField()  # one-off charges with a rate
    paid = models.IntegerField()  # successful charges, with a rate or not: a paid day
    unconverted = models.IntegerField()  # payments left out: no rate on or before the day
    # On a day with charges: the customer's previous day with charges. A customer is counted
    # once in a period's paying customers, on its first charge day in the period (one whose
    # previous charge day is before the period): a plain count, for every grain.
    previous_charge_day = models.DateField(null=True)

    class Meta:
        db_table = "kpis_payment_day"
        indexes = [models.Index(fields=["day"], name="payment_day_day")]

    def __str__(self) -> str:
        return f"{self.customer_ref} {self.day} {self.net}"


class CustomerFact(models.Model):
    """Per customer: the first paid day and revenue to date, from the ledger and payment days.

    First paid day: the first day with MRR > 0 or the first successful charge, whichever is
    earlier (new customers, CAC, marketing ROI). Revenue to date: successful payments minus
    refunds, before tax (marketing ROI). Refreshed for the customers a write touched.
    """

    pk = models.CompositePrimaryKey("source", "customer_ref")

    source = models.CharField(max_length=64)
    customer_ref = models.CharField(max_length=255)
    first_paid_day = models.DateField()
    revenue_to_date = models.DecimalField(max_digits=30, decimal_places=12)
    # The customer's labels ("unknown" when empty or without a customer record), refreshed
    # when they change: acquisition KPIs break down without joining the customers.
    country = models.CharField(max_length=64, default="unknown")
    channel = models.CharField(max_length=255, default="unknown")
    campaign = models.CharField(max_length=255, default="unknown")

    class Meta:
        db_table = "kpis_customer_fact"
        indexes = [models.Index(fields=["first_paid_day"], name="customer_fact_first_paid")]

    def __str__(self) -> str:
        return f"{self.customer_ref} first paid {self.first_paid_day}"


class MrrMovementSums(models.Model):
    """A day's movements of one kind summed (None: none of that kind), all of them (net), and
    the customers starting (new business and reactivations) and churning."""

    new = models.DecimalField(max_digits=30, decimal_places=12, null=True)
    reactivation = models.DecimalField(max_digits=30, decimal_places=12, null=True)
    expansion = models.DecimalField(max_digits=30, decimal_places=12, null=True)
    contraction = models.DecimalField(max_digits=30, decimal_places=12, null=True)
    churn = models.DecimalField(max_digits=30, decimal_places=12, null=True)
    net = models.DecimalField(max_digits=30, decimal_places=12)
    starts = models.IntegerField()
    churns = models.IntegerField()

    class Meta:
        abstract = True


class MrrDay(MrrMovementSums):
    """The MRR movements of one day summed per customer country and channel.

    What the movement KPIs aggregate instead of the ledger itself: the sums of each kind,
    the customers starting and churning, and each movement's retention figures as if it were
    its customer's only one in its period (the KPIs correct the customers that move more
    than once, from the ledger). Rebuilt for the days whose movements changed and the days of
    customers whose labels changed; UNLOGGED (migration 0005).
    """

    pk = models.CompositePrimaryKey("day", "country", "channel")

    day = models.DateField()
    country = models.CharField(max_length=64)  # "unknown" when the customer has none
    channel = models.CharField(max_length=255)
    # Over the movements of customers with MRR before them: the change, the loss (the
    # change, or 0 when MRR rose) and how many left.
    cohort_change = models.DecimalField(max_digits=30, decimal_places=12, null=True)
    cohort_loss = models.DecimalField(max_digits=30, decimal_places=12, null=True)
    cohort_lost = models.IntegerField()

    class Meta:
        db_table = "kpis_mrr_day"

    def __str__(self) -> str:
        return f"{self.day} {self.country} {self.channel} {self.net}"


class MrrPlanDay(MrrMovementSums):
    """The plan ledger's movements of one day summed per plan (the plan breakdowns' MRR
    days): no customer labels, so only changed days are ever rebuilt; plan names are joined
    when read. UNLOGGED (migration 0005)."""

    pk = models.CompositePrimaryKey("day", "source", "plan_ref")

    day = models.DateField()
    source = models.CharField(max_length=64)
    plan_ref = models.CharField(max_length=255)

    class Meta:
        db_table = "kpis_mrr_plan_day"

    def __str__(self) -> str:
        return f"{self.day} {self.plan_ref} {self.net}"


class RevenueDay(models.Model):
    """The payment days of one local day summed per customer country and channel.

    What every revenue KPI and grain aggregates: a year is about 4,000 of these rows instead
    of 600,000 payment days joined to their customers. ``paying_<grain>`` counts the customers
    whose first charge day in the period of that grain containing the day is this day, so a
    period's distinct paying customers are a sum too. Refreshed with the payment days (and for
    the days of customers whose labels changed); UNLOGGED (migration 0005).
    """

    pk = models.CompositePrimaryKey("day", "country", "channel")

    day = models.DateField()
    country = models.CharField(max_length=64)  # "unknown" when the customer has none
    channel = models.CharField(max_length=255)
    net = models.DecimalField(max_digits=30, decimal_places=12)
    charged = models.DecimalField(max_digits=30, decimal_places=12)
    order_amount = models.DecimalField(max_digits=30, decimal_places=12)
    payments = models.IntegerField()
    charges = models.IntegerField()
    orders = models.IntegerField()
    paying_day = models.IntegerField()
    paying_week = models.IntegerField()
    paying_month = models.IntegerField()
    paying_quarter = models.IntegerField()
    paying_year = models.IntegerField()

    class Meta:
        db_table = "kpis_revenue_day"

    def __str__(self) -> str:
        return f"{self.day} {self.country} {self.channel} {self.net}"


class RelabelledCustomer(models.Model):
    """A customer whose labels (country, channel, campaign) or existence changed since the
    derived facts last consumed them: facts summed per label move for its days.

    Filled by statement-level triggers on ``data_customers`` (migration 0005), like
    :class:`LedgerDirtyCustomer`, and taken by the payment facts refresh.
    """

    pk = models.CompositePrimaryKey("source", "customer_ref")
    source = models.CharField(max_length=64)
    customer_ref = models.CharField(max_length=255)

    class Meta:
        db_table = "kpis_relabelled_customer"

    def __str__(self) -> str:
        return f"{self.source}:{self.customer_ref}"


class LedgerState(models.Model):
    """Single row: when the ledger was last built (none: never, the next build is full)."""

    built_at = models.DateTimeField(null=True)

    class Meta:
        db_table = "kpis_ledger_state"

    def __str__(self) -> str:
        return f"ledger built at {self.built_at}"


class LedgerDirtyCustomer(models.Model):
    """A customer whose MRR segments were written since the ledger last consumed them.

    Filled by statement-level triggers on ``data_mrr_segments`` (migration 0003), so a row
    appears exactly when the write commits, whatever the writing transaction's timestamps; the
    ledger build takes the rows in its own transaction (``DELETE ... RETURNING``), so a failed
    build gives them back.
    """

    pk = models.CompositePrimaryKey("source", "customer_ref")
    source = models.CharField(max_length=64)
    customer_ref = models.CharField(max_length=255)

    class Meta:
        db_table = "kpis_ledger_dirty_customer"

    def __str__(self) -> str:
        return f"{self.source}:{self.customer_ref}"


class DataWarning(models.Model):
    """A data-quality problem found while computing (e.g. a segment with no exchange rate)."""

    kind = models.CharField(max_length=64)
    dataset = models.CharField(max_length=64)
    source = models.CharField(max_length=64)
    external_id = models.CharField(max_length=255)
    customer_ref = models.CharField(max_length=255, blank=True, default="")
    day = models.DateField(null=True)
    message = models.CharField(max_length=500)
    created_at = models.DateTimeField()

    class Meta:
        db_table = "kpis_data_warning"
        indexes = [models.Index(fields=["kind", "source", "customer_ref"], name="warning_customer")]

    def __str__(self) -> str:
        return self.message


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
