"""The choices that turn Stripe billing into MRR, one named function each.

Revenue-metrics products disagree on these; ours are the defaults of the KPI definitions
(docs/kpis.md, "From billing data to MRR segments"). Each is decided here and nowhere else,
so that each can become a company setting: the segment builder (segments.py) only calls
these functions.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

# Months in one billing interval, per Stripe's ``recurring.interval`` (``interval_count``
# multiplies it): yearly ÷ 12, quarterly (3 months) ÷ 3, weekly x 52 ÷ 12, daily x 365 ÷ 12.
MONTHS_PER_INTERVAL = {
    "month": Decimal(1),
    "year": Decimal(12),
    "week": Decimal(12) / Decimal(52),
    "day": Decimal(12) / Decimal(365),
}


def monthly(amount_minor: Decimal | int, interval: str, interval_count: int) -> Decimal:
    """An amount billed every ``interval_count`` ``interval``s, per month (not rounded)."""
    months = MONTHS_PER_INTERVAL[interval] * max(1, interval_count)
    return Decimal(amount_minor) / months


def to_minor(value: Decimal) -> int:
    """MRR in whole minor units, half up (the segment's stored amount)."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def discount_lowers_mrr(coupon: dict) -> bool:
    """Recurring discounts (``forever``, and ``repeating`` while they last) lower MRR;
    a one-time discount (``once``) does not: it is a one-off price cut, not a new price."""
    return coupon.get("duration") in ("forever", "repeating")


def price_is_recurring_revenue(price: dict) -> bool:
    """Only licensed recurring prices make MRR: one-off prices and metered usage never do."""
    recurring = price.get("recurring") or {}
    return bool(recurring) and recurring.get("usage_type", "licensed") == "licensed"


def trial_counts() -> bool:
    """A free trial is not MRR: the subscription starts contributing when the trial ends."""
    return False


def zero_mrr_counts() -> bool:
    """A $0 plan, or one discounted by 100 %, is not MRR: a customer moving to it churns."""
    return False


def invoice_is_service(invoice: dict, subscription: dict) -> bool:
    """Whether the periods an invoice bills count as service paid for.

    Paid invoices do. Open and uncollectible ones do while the subscription is alive (past
    due keeps MRR until Stripe ends the subscription: its end date then cuts the MRR); for a
    subscription Stripe left ``unpaid`` they do not. Void invoices (a paused subscription's,
    or cancelled ones) and drafts never do.
    """
    if subscription.get("status") in ("incomplete", "incomplete_expired"):
        return False  # the first payment never went through: never a paying customer
    status = invoice.get("status")
    if status == "paid":
        return True
    if status in ("open", "uncollectible"):
        return subscription.get("status") != "unpaid"
    return False


def paused(subscription: dict) -> bool:
    """A paused subscription has no MRR while paused: Stripe's ``paused`` status, or
    ``pause_collection`` set (its invoices are voided; MRR stops at the end of the last paid
    period and comes back with the first paid one)."""
    return subscription.get("status") == "paused" or bool(subscription.get("pause_collection"))


def keeps_running(subscription: dict) -> bool:
    """Whether a subscription's current state carries on past its last invoice (the open
    segment): alive and not paused. Incomplete subscriptions (first payment never made) and
    ended ones do not."""
    if subscription.get("status") not in ("active", "past_due", "trialing"):
        return False
    return not paused(subscription)


def service_end(subscription: dict) -> int | None:
    """When the service ends, if Stripe says so: the end of a canceled subscription, or, for a
    cancellation requested at period end (or for a date), that date: it churns then, not on
    the day it was requested."""
    if subscription.get("ended_at"):
        return subscription["ended_at"]
    if subscription.get("cancel_at"):
        return subscription["cancel_at"]
    return None


def proration_starts_new_rate() -> bool:
    """A mid-period change (upgrade, downgrade, quantity) moves MRR on the day of the change,
    to the new price's full monthly rate: the prorated amounts themselves are not MRR."""
    return True


def segment_currency(invoice_or_subscription: dict) -> str:
    """A segment is in the currency it is billed in; the platform converts it at its first
    day's rate, so exchange-rate moves never make MRR movements."""
    return (invoice_or_subscription.get("currency") or "").upper()
