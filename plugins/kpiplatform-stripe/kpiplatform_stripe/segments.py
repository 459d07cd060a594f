"""MRR segments of one Stripe subscription, from its invoices' line items and its current
state. Every choice of what counts is a function of ``mrr_rules``; this module only puts
the pieces in order.

How: each subscription item gets timed *rates*: one per line item of an invoice that counts
as service (its billing period at its monthly rate, after recurring discounts), one per
proration line (the new rate from the day of the change; a credit line alone stops the old
one), and, while the subscription keeps running, its current state from the current period
on (and from each later change Stripe already knows of: a coupon starting or ending). On any
day the rate in force is the latest-starting one covering it; the subscription's service
end cuts everything. Consecutive days at one rate make one segment.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from kpiplatform_stripe import mrr_rules

# The fields of an invoice derive reads (here and in mrr_rules): what the connector reads
# back of a stored invoice to derive segments. A rule that reads another field adds it here.
INVOICE_FIELDS = ("id", "parent", "status", "currency", "discounts", "lines")

# Rates starting at the same moment: a later rank wins.
TAIL, CREDIT, LINE, STATE_CHANGE, PRORATION = -1, 0, 1, 2, 3


@dataclass(frozen=True)
class Rate:
    start: int
    end: int | None
    rank: int
    mrr: Decimal
    price_id: str
    currency: str


def day(ts: int, zone: dt.tzinfo = dt.UTC) -> dt.date:
    """The calendar day of a Stripe timestamp in the company's time zone."""
    return dt.datetime.fromtimestamp(ts, zone).date()


def _coupon(discount) -> dict | None:
    if isinstance(discount, dict):
        return (discount.get("source") or {}).get("coupon") or discount.get("coupon")
    return None


def _recurring_discount(line: dict, discounts: dict[str, dict]) -> int:
    """The part of the line's discounts that lowers MRR (an unknown discount does)."""
    total = 0
    for entry in line.get("discount_amounts") or []:
        discount = entry.get("discount")
        coupon = _coupon(discounts.get(discount) if isinstance(discount, str) else discount)
        if coupon is None or mrr_rules.discount_lowers_mrr(coupon):
            total += entry.get("amount") or 0
    return total


def _line_rates(sub: dict, invoice: dict, prices: dict[str, dict]) -> list[tuple[str, Rate]]:
    discounts = {d["id"]: d for d in invoice.get("discounts") or [] if isinstance(d, dict)}
    for d in sub.get("discounts") or []:
        if isinstance(d, dict):
            discounts.setdefault(d["id"], d)
    currency = mrr_rules.segment_currency(invoice)
    rates = []
    for line in (invoice.get("lines") or {}).get("data") or []:
        details = (line.get("parent") or {}).get("subscription_item_details")
        price_id = ((line.get("pricing") or {}).get("price_details") or {}).get("price")
        if isinstance(price_id, dict):
            price_id = price_id.get("id")
        price = prices.get(price_id or "")
        if not details or price is None or not mrr_rules.price_is_recurring_revenue(price):
            continue
        recurring = price["recurring"]
        amount = line.get("amount") or 0
        period = line.get("period") or {}
        start, end = period.get("start"), period.get("end")
        if start is None or end is None:
            continue
        item = details.get("subscription_item") or price_id
        net = amount - _recurring_discount(line, discounts)
        if not details.get("proration"):
            mrr = mrr_rules.monthly(max(net, 0), recurring["interval"], recurring["interval_count"])
            rates.append((item, Rate(start, end, LINE, mrr, price_id, currency)))
        elif amount > 0 and mrr_rules.proration_starts_new_rate():
            full = Decimal(price.get("unit_amount") or 0) * (line.get("quantity") or 1)
            rate = full * Decimal(max(net, 0)) / Decimal(amount)
            mrr = mrr_rules.monthly(rate, recurring["interval"], recurring["interval_count"])
            rates.append((item, Rate(start, end, PRORATION, mrr, price_id, currency)))
        elif amount < 0:
            rates.append((item, Rate(start, end, CREDIT, Decimal(0), price_id, currency)))
    return rates


def _state_mrr(item: dict, sub: dict, at: int) -> Decimal:
    """The item's monthly rate in the subscription's current state at time ``at``."""
    price = item.get("price") or {}
    recurring = price.get("recurring") or {}
    amount = Decimal(price.get("unit_amount") or 0) * (item.get("quantity") or 1)
    off = Decimal(0)
    for discount in sub.get("discounts") or []:
        coupon = _coupon(discount)
        if coupon is None or not mrr_rules.discount_lowers_mrr(coupon):
            continue
        if discount.get("start", 0) > at or (discount.get("end") and discount["end"] <= at):
            continue
        if coupon.get("percent_off"):
            off += amount * Decimal(str(coupon["percent_off"])) / 100
        elif coupon.get("amount_off"):
            off += Decimal(coupon["amount_off"])
    amount = max(Decimal(0), amount - off)
    return mrr_rules.monthly(amount, recurring["interval"], recurring.get("interval_count") or 1)


def _tail_rates(sub: dict, prices: dict[str, dict]) -> list[tuple[str, Rate]]:
    if not mrr_rules.keeps_running(sub):
        return []
    rates = []
    currency = mrr_rules.segment_currency(sub)
    for item in (sub.get("items") or {}).get("data") or []:
        price = item.get("price") or {}
        if not mrr_rules.price_is_recurring_revenue(price):
            continue
        start = item.get("current_period_start") or sub.get("start_date")
        if sub.get("status") == "trialing" and sub.get("trial_end"):
            start = max(start, sub["trial_end"])
        changes = {start}
        for discount in sub.get("discounts") or []:
            if isinstance(discount, dict):
                changes.update(
                    t for t in (discount.get("start"), discount.get("end")) if t and t > start
                )
        for at in sorted(changes):
            rates.append(
                (
                    item["id"],
                    Rate(
                        at,
                        None,
                        TAIL if at == start else STATE_CHANGE,
                        _state_mrr(item, sub, at),
                        price["id"],
                        currency,
                    ),
                )
            )
    return rates


def _pieces(rates: list[Rate], cut: int | None) -> list[tuple[int, int | None, Rate]]:
    """The item's timeline: (from, to, the rate in force), to None = open."""
    bounds = sorted({r.start for r in rates} | {r.end for r in rates if r.end is not None})
    if cut is not None:
        bounds = sorted({b for b in bounds if b < cut} | {cut})
    pieces = []
    for i, at in enumerate(bounds):
        if cut is not None and at >= cut:
            break
        covering = [r for r in rates if r.start <= at and (r.end is None or r.end > at)]
        if not covering:
            continue
        rate = max(covering, key=lambda r: (r.start, r.rank))
        until = bounds[i + 1] if i + 1 < len(bounds) else None
        pieces.append((at, until, rate))
    return pieces


def derive(
    sub: dict, invoices: list[dict], prices: dict[str, dict], zone: dt.tzinfo = dt.UTC
) -> list[dict]:
    """The subscription's ``mrr_segments`` records (canonical), in order, their days cut in
    ``zone`` (the company's time zone)."""
    by_item: dict[str, list[Rate]] = {}
    for invoice in invoices:
        if mrr_rules.invoice_is_service(invoice, sub):
            for item, rate in _line_rates(sub, invoice, prices):
                by_item.setdefault(item, []).append(rate)
    for item, rate in _tail_rates(sub, prices):
        by_item.setdefault(item, []).append(rate)
    cut = mrr_rules.service_end(sub)
    records = []
    for item, rates in sorted(by_item.items()):
        merged: list[list] = []  # [from day, to day, mrr minor, price, currency]
        for start, end, rate in _pieces(rates, cut):
            mrr = mrr_rules.to_minor(rate.mrr)
            first, last = day(start, zone), None if end is None else day(end, zone)
            if last is not None and last <= first:
                continue
            if mrr <= 0 and not mrr_rules.zero_mrr_counts():
                continue
            if (
                merged
                and merged[-1][1] == first
                and merged[-1][2:] == [mrr, rate.price_id, rate.currency]
            ):
                merged[-1][1] = last
            elif merged and merged[-1][1] is not None and merged[-1][1] > first:
                merged[-1][1] = first  # a change on the day a rate started: the new one
                merged.append([first, last, mrr, rate.price_id, rate.currency])
            else:
                merged.append([first, last, mrr, rate.price_id, rate.currency])
        for first, last, mrr, price_id, currency in merged:
            if last is not None and last <= first:
                continue
            records.append(
                {
                    "external_id": f"{item}:{first.isoformat()}",
                    "customer_ref": sub["customer"]
                    if isinstance(sub["customer"], str)
                    else sub["customer"]["id"],
                    "subscription_ref": sub["id"],
                    "plan_ref": price_id,
                    "starts_on": first.isoformat(),
                    "ends_on": None if last is None else last.isoformat(),
                    "mrr_minor": mrr,
                    "currency": currency,
                }
            )
    return records
