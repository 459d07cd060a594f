"""Stripe objects -> kpiplatform's canonical records (docs/canonical-data.md).

Raises :class:`Malformed` for an object missing what a record needs, so a bad page fails the
sync in words instead of storing half a record.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

STATUSES = {
    "trialing": "trialing",
    "active": "active",
    "past_due": "past_due",
    "paused": "paused",
    "canceled": "canceled",
    "unpaid": "unpaid",
    "incomplete": "unpaid",  # never paid yet
    "incomplete_expired": "canceled",
}
INTERVALS = {"day", "week", "month", "year"}


class Malformed(ValueError):
    pass


def _ts(value: Any, what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise Malformed(f"{what} is {value!r}, not a Unix time")
    return dt.datetime.fromtimestamp(value, dt.UTC).isoformat().replace("+00:00", "Z")


def _id(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("id")
    return value or ""


def _need(obj: dict, key: str, kind: str) -> Any:
    if not isinstance(obj, dict) or obj.get(key) is None:
        raise Malformed(f"a {kind} without {key}: {str(obj)[:80]}")
    return obj[key]


def parent_subscription(invoice: dict) -> str:
    details = ((invoice.get("parent") or {}).get("subscription_details")) or {}
    return _id(details.get("subscription"))


def customer(obj: dict) -> dict:
    cid = _need(obj, "id", "customer")
    country = ((obj.get("address") or {}).get("country") or "").upper()
    return {
        "external_id": cid,
        "name": (obj.get("name") or "")[:255],
        "email": (obj.get("email") or "")[:255],
        "country": country if len(country) == 2 else None,
        "created_at": _ts(_need(obj, "created", "customer"), f"customer {cid} created"),
    }


def plan(price: dict, product_name: str) -> dict:
    pid = _need(price, "id", "price")
    recurring = price.get("recurring") or {}
    interval = recurring.get("interval") or "month"
    name = product_name
    if price.get("nickname") and price["nickname"] != product_name:
        name = f"{product_name} ({price['nickname']})" if product_name else price["nickname"]
    return {
        "external_id": pid,
        "name": (name or pid)[:255],
        "interval": interval if interval in INTERVALS else "month",
        "interval_count": recurring.get("interval_count") or 1,
        "amount_minor": price.get("unit_amount") or 0,
        "currency": _need(price, "currency", "price").upper(),
    }


def subscription(obj: dict) -> dict:
    sid = _need(obj, "id", "subscription")
    items = (obj.get("items") or {}).get("data") or []
    first = items[0] if items else {}
    status = _need(obj, "status", "subscription")
    return {
        "external_id": sid,
        "customer_ref": _id(_need(obj, "customer", "subscription")),
        "plan_ref": _id(first.get("price")),
        "status": STATUSES.get(status, "active"),
        "quantity": sum(i.get("quantity") or 0 for i in items) if items else 1,
        "trial_start": _ts(obj.get("trial_start"), f"subscription {sid} trial_start"),
        "trial_end": _ts(obj.get("trial_end"), f"subscription {sid} trial_end"),
        "started_at": _ts(obj.get("start_date"), f"subscription {sid} start_date"),
        "cancel_requested_at": _ts(obj.get("canceled_at"), f"subscription {sid} canceled_at"),
        "ended_at": _ts(obj.get("ended_at"), f"subscription {sid} ended_at"),
    }


# The fields of an invoice its payments read (parent_subscription, invoice_tax,
# invoice_discount): what the connector reads back of a stored invoice for them.
INVOICE_FIELDS_OF_PAYMENTS = ("id", "parent", "total", "total_taxes", "total_discount_amounts")


def invoice_tax(invoice: dict | None) -> tuple[int, int]:
    """(tax, total) of an invoice: what its payments are split by."""
    if not invoice:
        return 0, 0
    tax = sum((t.get("amount") or 0) for t in invoice.get("total_taxes") or [])
    return tax, invoice.get("total") or 0


def invoice_discount(invoice: dict | None) -> int:
    if not invoice:
        return 0
    return sum((d.get("amount") or 0) for d in invoice.get("total_discount_amounts") or [])


def _tax_share(amount: int, invoice: dict | None) -> int:
    tax, total = invoice_tax(invoice)
    if not total or not tax:
        return 0
    return min(amount, round(amount * tax / total))


PAYMENT_STATUS = {"succeeded": "succeeded", "failed": "failed", "pending": "pending"}


def charge_payment(charge: dict, invoice: dict | None) -> dict:
    """A charge as a payment, net of its invoice's tax (in proportion when partial)."""
    cid = _need(charge, "id", "charge")
    amount = _need(charge, "amount", "charge")
    tax = _tax_share(amount, invoice)
    return {
        "external_id": cid,
        "customer_ref": _id(charge.get("customer")),
        "kind": "charge",
        "status": PAYMENT_STATUS.get(charge.get("status"), "pending"),
        "occurred_at": _ts(_need(charge, "created", "charge"), f"charge {cid} created"),
        "amount_minor": amount - tax,
        "tax_minor": tax,
        "discount_minor": invoice_discount(invoice),
        "currency": _need(charge, "currency", "charge").upper(),
        # A payment of no subscription invoice is a one-off order.
        "is_order": not (invoice and parent_subscription(invoice)),
        "invoice_ref": (invoice or {}).get("id") or "",
        "order_ref": "" if invoice and parent_subscription(invoice) else cid,
    }


def refund_payment(refund: dict, charge: dict | None, invoice: dict | None) -> dict:
    """A refund as a payment of kind refund, net of the refunded tax."""
    rid = _need(refund, "id", "refund")
    amount = _need(refund, "amount", "refund")
    tax = _tax_share(amount, invoice)
    status = refund.get("status")
    return {
        "external_id": rid,
        "customer_ref": _id((charge or {}).get("customer") or refund.get("customer")),
        "kind": "refund",
        "status": "succeeded"
        if status == "succeeded"
        else "failed"
        if status in ("failed", "canceled")
        else "pending",
        "occurred_at": _ts(_need(refund, "created", "refund"), f"refund {rid} created"),
        "amount_minor": amount - tax,
        "tax_minor": tax,
        "discount_minor": 0,
        "currency": _need(refund, "currency", "refund").upper(),
        "is_order": False,
        "invoice_ref": (invoice or {}).get("id") or "",
        "order_ref": "",
    }
