"""Stripe objects in the pinned API version's shapes (2026-10-28), as the sandbox serves them.

Only what Stripe returns is here, with the fields that matter to a revenue connector filled
in and the others at their usual defaults. Times are Unix seconds; amounts minor units.
"""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Any


def advance(t: int, interval: str, count: int = 1) -> int:
    """``t`` moved by ``count`` billing intervals (calendar months, as Stripe bills)."""
    when = dt.datetime.fromtimestamp(t, dt.UTC)
    if interval == "day":
        return t + 86400 * count
    if interval == "week":
        return t + 7 * 86400 * count
    months = count * (12 if interval == "year" else 1)
    index = when.year * 12 + when.month - 1 + months
    year, month = divmod(index, 12)
    day = min(when.day, calendar.monthrange(year, month + 1)[1])
    return int(when.replace(year=year, month=month + 1, day=day).timestamp())


def _list(data: list[dict], url: str) -> dict:
    return {"object": "list", "data": data, "has_more": False, "total_count": len(data), "url": url}


def customer(cid: str, *, email: str, name: str, country: str, created: int, currency: str) -> dict:
    return {
        "id": cid,
        "object": "customer",
        "address": {
            "city": None,
            "country": country,
            "line1": None,
            "line2": None,
            "postal_code": None,
            "state": None,
        },
        "balance": 0,
        "created": created,
        "currency": currency,
        "default_source": None,
        "delinquent": False,
        "description": None,
        "email": email,
        "invoice_prefix": cid[-8:].upper(),
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": False,
        "metadata": {},
        "name": name,
        "phone": None,
        "preferred_locales": [],
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
    }


def product(pid: str, *, name: str, created: int) -> dict:
    return {
        "id": pid,
        "object": "product",
        "active": True,
        "created": created,
        "default_price": None,
        "description": None,
        "images": [],
        "livemode": False,
        "marketing_features": [],
        "metadata": {},
        "name": name,
        "package_dimensions": None,
        "shippable": None,
        "statement_descriptor": None,
        "tax_code": None,
        "type": "service",
        "unit_label": None,
        "updated": created,
        "url": None,
    }


def price(
    pid: str,
    *,
    product_id: str,
    unit_amount: int,
    currency: str,
    interval: str | None,
    interval_count: int = 1,
    nickname: str | None = None,
    created: int,
) -> dict:
    recurring = (
        {
            "interval": interval,
            "interval_count": interval_count,
            "meter": None,
            "trial_period_days": None,
            "usage_type": "licensed",
        }
        if interval
        else None
    )
    return {
        "id": pid,
        "object": "price",
        "active": True,
        "billing_scheme": "per_unit",
        "created": created,
        "currency": currency,
        "custom_unit_amount": None,
        "livemode": False,
        "lookup_key": None,
        "metadata": {},
        "nickname": nickname,
        "product": product_id,
        "recurring": recurring,
        "tax_behavior": "exclusive",
        "tiers_mode": None,
        "transform_quantity": None,
        "type": "recurring" if interval else "one_time",
        "unit_amount": unit_amount,
        "unit_amount_decimal": str(unit_amount),
    }


def coupon(
    cid: str,
    *,
    duration: str,
    percent_off: float | None = None,
    amount_off: int | None = None,
    currency: str | None = None,
    duration_in_months: int | None = None,
    created: int,
    name: str | None = None,
) -> dict:
    return {
        "id": cid,
        "object": "coupon",
        "amount_off": amount_off,
        "created": created,
        "currency": currency,
        "duration": duration,
        "duration_in_months": duration_in_months,
        "livemode": False,
        "max_redemptions": None,
        "metadata": {},
        "name": name or cid,
        "percent_off": percent_off,
        "redeem_by": None,
        "times_redeemed": 1,
        "valid": True,
    }


def tax_rate(tid: str, *, percentage: float, country: str, created: int) -> dict:
    return {
        "id": tid,
        "object": "tax_rate",
        "active": True,
        "country": country,
        "created": created,
        "description": f"VAT {country}",
        "display_name": "VAT",
        "effective_percentage": percentage,
        "inclusive": False,
        "jurisdiction": country,
        "livemode": False,
        "metadata": {},
        "percentage": percentage,
        "state": None,
        "tax_type": "vat",
    }


def discount(
    did: str, *, coupon_obj: dict, customer_id: str, subscription_id: str | None, start: int
) -> dict:
    end = None
    if coupon_obj["duration"] == "repeating":
        end = advance(start, "month", coupon_obj["duration_in_months"])
    return {
        "id": did,
        "object": "discount",
        "checkout_session": None,
        "customer": customer_id,
        "end": end,
        "invoice": None,
        "invoice_item": None,
        "promotion_code": None,
        "source": {"coupon": coupon_obj, "type": "coupon"},
        "start": start,
        "subscription": subscription_id,
        "subscription_item": None,
    }


def subscription_item(
    si: str, *, sub_id: str, price_obj: dict, quantity: int, period: tuple[int, int], created: int
) -> dict:
    return {
        "id": si,
        "object": "subscription_item",
        "billing_thresholds": None,
        "created": created,
        "current_period_end": period[1],
        "current_period_start": period[0],
        "discounts": [],
        "metadata": {},
        "plan": None,
        "price": price_obj,
        "quantity": quantity,
        "subscription": sub_id,
        "tax_rates": [],
    }


def subscription(
    sid: str,
    *,
    customer_id: str,
    currency: str,
    items: list[dict],
    status: str,
    created: int,
    trial: tuple[int, int] | None = None,
) -> dict:
    return {
        "id": sid,
        "object": "subscription",
        "application": None,
        "billing_cycle_anchor": items[0]["current_period_start"] if items else created,
        "cancel_at": None,
        "cancel_at_period_end": False,
        "canceled_at": None,
        "cancellation_details": {"comment": None, "feedback": None, "reason": None},
        "collection_method": "charge_automatically",
        "created": created,
        "currency": currency,
        "customer": customer_id,
        "days_until_due": None,
        "default_payment_method": None,
        "description": None,
        "discounts": [],
        "ended_at": None,
        "items": _list(items, f"/v1/subscription_items?subscription={sid}"),
        "latest_invoice": None,
        "livemode": False,
        "metadata": {},
        "pause_collection": None,
        "start_date": created,
        "status": status,
        "test_clock": None,
        "trial_end": trial[1] if trial else None,
        "trial_start": trial[0] if trial else None,
    }


def line(
    lid: str,
    *,
    invoice_id: str,
    price_obj: dict,
    quantity: int,
    amount: int,
    period: tuple[int, int],
    currency: str,
    sub_id: str | None,
    item_id: str | None,
    proration: bool = False,
    discount_amounts: list[dict] | None = None,
    tax: int = 0,
    tax_rate_id: str | None = None,
    description: str = "",
) -> dict:
    parent: dict[str, Any]
    if sub_id:
        parent = {
            "invoice_item_details": None,
            "subscription_item_details": {
                "invoice_item": None,
                "proration": proration,
                "proration_details": {"credited_items": None},
                "subscription": sub_id,
                "subscription_item": item_id,
            },
            "type": "subscription_item_details",
        }
    else:
        parent = {
            "invoice_item_details": {
                "invoice_item": f"ii_{lid[3:]}",
                "proration": False,
                "proration_details": {"credited_items": None},
                "subscription": None,
            },
            "subscription_item_details": None,
            "type": "invoice_item_details",
        }
    return {
        "id": lid,
        "object": "line_item",
        "amount": amount,
        "currency": currency,
        "description": description,
        "discount_amounts": discount_amounts or [],
        "discountable": True,
        "discounts": [d["discount"] for d in discount_amounts or []],
        "invoice": invoice_id,
        "livemode": False,
        "metadata": {},
        "parent": parent,
        "period": {"end": period[1], "start": period[0]},
        "pretax_credit_amounts": [
            {
                "amount": d["amount"],
                "credit_balance_transaction": None,
                "discount": d["discount"],
                "type": "discount",
            }
            for d in discount_amounts or []
        ],
        "pricing": {
            "price_details": {"price": price_obj["id"], "product": price_obj["product"]},
            "type": "price_details",
            "unit_amount_decimal": str(price_obj["unit_amount"]),
        },
        "quantity": quantity,
        "taxes": [
            {
                "amount": tax,
                "tax_behavior": "exclusive",
                "tax_rate_details": {"tax_rate": tax_rate_id},
                "taxability_reason": "standard_rated",
                "taxable_amount": amount - sum(d["amount"] for d in discount_amounts or []),
                "type": "tax_rate_details",
            }
        ]
        if tax_rate_id
        else [],
    }


def invoice(
    iid: str,
    *,
    customer_id: str,
    currency: str,
    lines: list[dict],
    created: int,
    status: str,
    sub_id: str | None,
    discounts: list[dict],
    billing_reason: str,
    paid_at: int | None,
) -> dict:
    subtotal = sum(li["amount"] for li in lines)
    discount_total = sum(d["amount"] for li in lines for d in li["discount_amounts"])
    tax = sum(t["amount"] for li in lines for t in li["taxes"])
    total = subtotal - discount_total + tax
    paid = status == "paid"
    by_discount: dict[str, int] = {}
    for li in lines:
        for d in li["discount_amounts"]:
            by_discount[d["discount"]] = by_discount.get(d["discount"], 0) + d["amount"]
    taxes: dict[str, int] = {}
    for li in lines:
        for t in li["taxes"]:
            rate = t["tax_rate_details"]["tax_rate"]
            taxes[rate] = taxes.get(rate, 0) + t["amount"]
    return {
        "id": iid,
        "object": "invoice",
        "amount_due": total,
        "amount_overpaid": 0,
        "amount_paid": total if paid else 0,
        "amount_remaining": 0 if paid or status == "void" else total,
        "amount_shipping": 0,
        "attempt_count": 1,
        "attempted": status != "draft",
        "auto_advance": False,
        "billing_reason": billing_reason,
        "collection_method": "charge_automatically",
        "created": created,
        "currency": currency,
        "customer": customer_id,
        "description": None,
        "discounts": discounts,
        "due_date": None,
        "effective_at": created,
        "ending_balance": 0,
        "lines": _list(lines, f"/v1/invoices/{iid}/lines"),
        "livemode": False,
        "metadata": {},
        "number": f"{iid[-8:].upper()}-0001",
        "parent": {
            "quote_details": None,
            "subscription_details": {"metadata": {}, "subscription": sub_id},
            "type": "subscription_details",
        }
        if sub_id
        else None,
        "period_end": created,
        "period_start": created,
        "post_payment_credit_notes_amount": 0,
        "pre_payment_credit_notes_amount": 0,
        "starting_balance": 0,
        "status": status,
        "status_transitions": {
            "finalized_at": created,
            "marked_uncollectible_at": created if status == "uncollectible" else None,
            "paid_at": paid_at,
            "voided_at": created if status == "void" else None,
        },
        "subtotal": subtotal,
        "subtotal_excluding_tax": subtotal,
        "total": total,
        "total_discount_amounts": [
            {"amount": amount, "discount": did} for did, amount in by_discount.items()
        ],
        "total_excluding_tax": subtotal - discount_total,
        "total_pretax_credit_amounts": [
            {
                "amount": amount,
                "credit_balance_transaction": None,
                "discount": did,
                "type": "discount",
            }
            for did, amount in by_discount.items()
        ],
        "total_taxes": [
            {
                "amount": amount,
                "tax_behavior": "exclusive",
                "tax_rate_details": {"tax_rate": rate},
                "taxability_reason": "standard_rated",
                "taxable_amount": subtotal - discount_total,
                "type": "tax_rate_details",
            }
            for rate, amount in taxes.items()
        ],
    }


def charge(
    cid: str, *, customer_id: str, amount: int, currency: str, created: int, status: str
) -> dict:
    return {
        "id": cid,
        "object": "charge",
        "amount": amount,
        "amount_captured": amount if status == "succeeded" else 0,
        "amount_refunded": 0,
        "balance_transaction": None,
        "billing_details": {"address": None, "email": None, "name": None, "phone": None},
        "captured": status == "succeeded",
        "created": created,
        "currency": currency,
        "customer": customer_id,
        "description": None,
        "disputed": False,
        "failure_code": None if status == "succeeded" else "card_declined",
        "failure_message": None if status == "succeeded" else "Your card was declined.",
        "livemode": False,
        "metadata": {},
        "outcome": {"network_status": "approved_by_network", "type": "authorized"}
        if status == "succeeded"
        else {"network_status": "declined_by_network", "type": "issuer_declined"},
        "paid": status == "succeeded",
        "payment_intent": None,
        "payment_method": None,
        "receipt_email": None,
        "refunded": False,
        "refunds": _list([], f"/v1/charges/{cid}/refunds"),
        "status": status,
    }


def invoice_payment(
    ipid: str, *, invoice_id: str, charge_id: str, amount: int, currency: str, created: int
) -> dict:
    return {
        "id": ipid,
        "object": "invoice_payment",
        "amount_paid": amount,
        "amount_requested": amount,
        "created": created,
        "currency": currency,
        "invoice": invoice_id,
        "is_default": True,
        "livemode": False,
        "payment": {"charge": charge_id, "type": "charge"},
        "status": "paid",
        "status_transitions": {"canceled_at": None, "paid_at": created},
    }


def refund(
    rid: str, *, charge_id: str, customer_id: str, amount: int, currency: str, created: int
) -> dict:
    return {
        "id": rid,
        "object": "refund",
        "amount": amount,
        "balance_transaction": None,
        "charge": charge_id,
        "created": created,
        "currency": currency,
        "metadata": {},
        "payment_intent": None,
        "reason": "requested_by_customer",
        "status": "succeeded",
    }


def credit_note(
    cnid: str,
    *,
    invoice_obj: dict,
    amount: int,
    tax: int,
    refund_id: str | None,
    created: int,
) -> dict:
    return {
        "id": cnid,
        "object": "credit_note",
        "amount": amount,
        "amount_shipping": 0,
        "created": created,
        "currency": invoice_obj["currency"],
        "customer": invoice_obj["customer"],
        "discount_amount": 0,
        "discount_amounts": [],
        "effective_at": created,
        "invoice": invoice_obj["id"],
        "lines": _list([], f"/v1/credit_notes/{cnid}/lines"),
        "livemode": False,
        "memo": None,
        "metadata": {},
        "number": f"{cnid[-8:].upper()}-CN-01",
        "out_of_band_amount": None,
        "post_payment_amount": amount,
        "pre_payment_amount": 0,
        "reason": "requested_by_customer",
        "refunds": [{"amount_refunded": amount, "refund": refund_id}] if refund_id else [],
        "status": "issued",
        "subtotal": amount - tax,
        "subtotal_excluding_tax": amount - tax,
        "total": amount,
        "total_excluding_tax": amount - tax,
        "total_taxes": [],
        "type": "post_payment",
        "voided_at": None,
    }
