"""One customer, as the numbers see it: its labels (the segments KPIs break down by), its MRR
movements, its payments converted to the reporting currency, its leads, and every canonical
record that references it with the day each last changed.

A customer is named as every record names it: the source and its external id there. It
exists for this page when any dataset or fact references it, with or without a customer
record of its own (payments may arrive before the customer).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection

from kpiplatform.data.models import Customer, Lead, MrrSegment, Payment, Subscription
from kpiplatform.data.models import SurveyResponse as Survey
from kpiplatform.facts.labels import UNKNOWN_LABEL
from kpiplatform.facts.models import CustomerFact, MrrMovement, MrrPlanMovement
from kpiplatform.facts.money import literal, major_sql, rate_on_sql, to_reporting_sql
from kpiplatform.kpis.engine import company_today
from kpiplatform.kpis.models import CompanySettings

# The most recent records of each kind shown; the data pages and the read API list the rest.
RECENT = 200
# The datasets that reference a customer, and the columns that summarise each record.
REFERENCING = {
    "subscriptions": (Subscription, ("status", "plan_ref", "started_at", "ended_at")),
    "mrr_segments": (MrrSegment, ("plan_ref", "starts_on", "ends_on", "mrr_minor", "currency")),
    "payments": (Payment, ("kind", "status", "occurred_at", "amount_minor", "currency")),
    "leads": (Lead, ("email", "created_at", "customer_at", "channel", "campaign")),
    "survey_responses": (Survey, ("kind", "score", "responded_at")),
}


class CustomerNotFound(LookupError):
    pass


@dataclass
class SourceRecords:
    dataset: str
    count: int
    columns: tuple[str, ...]
    rows: list[dict]  # the newest RECENT, each with external_id, updated_at, deleted_at


@dataclass
class CustomerProfile:
    source: str
    external_id: str
    currency: str
    record: dict | None  # the customer record (None: none yet)
    segments: dict[str, str]  # country, channel, campaign
    plans: list[str]  # the plans it has MRR on now
    first_paid_day: dt.date | None
    revenue_to_date: Decimal | None
    mrr_now: Decimal
    movements: list[dict]
    payments: list[dict]
    leads: list[dict]
    records: list[SourceRecords] = field(default_factory=list)

    @property
    def name(self) -> str:
        return (self.record or {}).get("name") or self.external_id


def _payments(source: str, ref: str, settings: CompanySettings) -> list[dict]:
    # Each payment on its day in the company's time zone, converted at the rate of that day
    # (the rule the revenue KPIs follow); only successful ones count.
    day = f"(p.occurred_at AT TIME ZONE {literal(settings.time_zone)})::date"
    amount = to_reporting_sql(
        "p.amount_minor", "p.currency", settings.reporting_currency, rate_on_sql("p.currency", day)
    )
    sql = f"""
        SELECT p.external_id, p.occurred_at, {day} AS day, p.kind, p.status, p.is_order,
               p.amount_minor, p.currency,
               {major_sql("p.amount_minor", "p.currency", settings.reporting_currency)}
                   AS original, {amount} AS amount,
               p.status = 'succeeded' AS counted
        FROM data_payments p
        WHERE p.deleted_at IS NULL AND p.source = %s AND p.customer_ref = %s
        ORDER BY p.occurred_at DESC, p.external_id
        LIMIT {RECENT}
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [source, ref])
        columns = [column.name for column in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def customer_profile(source: str, external_id: str) -> CustomerProfile:
    """Everything known of one customer, or :class:`CustomerNotFound`."""
    settings = CompanySettings.current()
    record = (
        Customer.objects.filter(source=source, external_id=external_id, deleted_at__isnull=True)
        .values("name", "email", "country", "channel", "campaign", "created_at", "updated_at")
        .first()
    )
    fact = CustomerFact.objects.filter(source=source, customer_ref=external_id).first()
    as_of = company_today(settings)
    movements = list(
        MrrMovement.objects.filter(source=source, customer_ref=external_id)
        .order_by("-day")
        .values("day", "kind", "amount", "mrr_before", "mrr_after")
    )
    past = [movement for movement in movements if movement["day"] <= as_of]
    mrr_now = past[0]["mrr_after"] if past else Decimal(0)
    plans = _current_plans(source, external_id, as_of)
    records = []
    for dataset, (model, columns) in REFERENCING.items():
        rows = model.objects.filter(source=source, customer_ref=external_id)
        count = rows.count()
        if count:
            newest = rows.order_by("-updated_at", "external_id")[:RECENT]
            values = newest.values("external_id", "updated_at", "deleted_at", *columns)
            records.append(SourceRecords(dataset, count, columns, list(values)))
    if record is None and not movements and not records:
        raise CustomerNotFound(f"No customer {external_id!r} in source {source!r}.")
    labels = {}
    for label in ("country", "channel", "campaign"):
        value = getattr(fact, label, "") if fact else (record or {}).get(label, "")
        labels[label] = value or UNKNOWN_LABEL
    return CustomerProfile(
        source=source,
        external_id=external_id,
        currency=settings.reporting_currency,
        record=record,
        segments=labels,
        plans=plans,
        first_paid_day=fact.first_paid_day if fact else None,
        revenue_to_date=fact.revenue_to_date if fact else None,
        mrr_now=mrr_now,
        movements=movements,
        payments=_payments(source, external_id, settings),
        leads=_leads(source, external_id, (record or {}).get("email", "")),
        records=records,
    )


def _current_plans(source: str, ref: str, as_of: dt.date) -> list[str]:
    # Each plan's last movement up to today: the plans with MRR after it.
    last: dict[str, Decimal] = {}
    rows = (
        MrrPlanMovement.objects.filter(source=source, customer_ref=ref, day__lte=as_of)
        .order_by("plan_ref", "day")
        .values_list("plan_ref", "mrr_after")
    )
    for plan, mrr in rows:
        last[plan] = mrr
    return sorted(plan or UNKNOWN_LABEL for plan, mrr in last.items() if mrr > 0)


def _leads(source: str, ref: str, email: str) -> list[dict]:
    """The leads that became this customer: by reference in the same source, or (from a
    CRM that does not know the billing system's ids) by the customer's e-mail."""
    leads = Lead.objects.filter(deleted_at__isnull=True, source=source, customer_ref=ref)
    if email:
        leads = leads | Lead.objects.filter(deleted_at__isnull=True, email__iexact=email)
    return list(
        leads.order_by("created_at", "external_id").values(
            "source",
            "external_id",
            "email",
            "created_at",
            "lifecycle_stage",
            "customer_at",
            "channel",
            "campaign",
            "updated_at",
        )[:RECENT]
    )
