"""Derived facts: what the KPIs read instead of the canonical data (tenant schema).

Each table is rebuilt or refreshed from the canonical data by :mod:`kpiplatform.facts.refresh`
and never written by anything else. Their database names keep the ``kpis_`` prefix: the
KPI SDK publishes them to plugin authors (``kpiplatform.sdk.MRR_MOVEMENTS_TABLE`` and the
others), and plugins' SQL names them.
"""

from __future__ import annotations

from django.db import models


class MrrMovement(models.Model):
    """One change of one customer's MRR on one day, in reporting-currency major units.

    Materialised from the MRR segments by :mod:`kpiplatform.facts.ledger`; every movement KPI
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

    Materialised from the payments by :mod:`kpiplatform.facts.payment_days`: each payment is
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


class CustomerLabel(models.Model):
    """A customer's labels as every fact uses them: its own country, and its own channel and
    campaign, or those of the lead it came from when its channel is empty
    (:mod:`kpiplatform.facts.identity`). A view (migration 0002) over the customers and the
    leads, so always current; changing a column type of either table means recreating it."""

    pk = models.CompositePrimaryKey("source", "customer_ref")
    source = models.CharField(max_length=64)
    customer_ref = models.CharField(max_length=255)
    country = models.CharField(max_length=2)
    channel = models.CharField(max_length=100)
    campaign = models.CharField(max_length=255)
    lead_source = models.CharField(max_length=64)  # "" when none
    lead_ref = models.CharField(max_length=255)

    class Meta:
        managed = False
        db_table = "kpis_customer_label"

    def __str__(self) -> str:
        return f"{self.source}:{self.customer_ref} {self.channel}"


class LeadCustomer(models.Model):
    """A lead and the customer it became, in any source (:mod:`kpiplatform.facts.identity`):
    a view (migration 0002), always current."""

    pk = models.CompositePrimaryKey("source", "lead_ref")
    source = models.CharField(max_length=64)
    lead_ref = models.CharField(max_length=255)
    created_at = models.DateTimeField()
    channel = models.CharField(max_length=100)
    campaign = models.CharField(max_length=255)
    customer_source = models.CharField(max_length=64)  # "" when none
    customer_ref = models.CharField(max_length=255)
    customer_at = models.DateTimeField(null=True)

    class Meta:
        managed = False
        db_table = "kpis_lead_customer"

    def __str__(self) -> str:
        return f"{self.source}:{self.lead_ref} -> {self.customer_source}:{self.customer_ref}"


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
