"""A small billing engine over the sandbox's store: it does to subscriptions what Stripe does
(trials, invoices each period, proration on a change, coupons, cancellation at period end,
pauses, failed payments, refunds), creating the objects in Stripe's shapes and, when asked,
the events Stripe would send. The generator drives it through two years of a company; tests
drive it through the sandbox's mutation helpers, at the present time.
"""

from __future__ import annotations

import itertools

from kpiplatform_stripe.sandbox import shapes
from kpiplatform_stripe.sandbox.shapes import advance
from kpiplatform_stripe.sandbox.store import Store

VAT_COUNTRIES = {"DE": 19.0, "FR": 20.0, "NL": 21.0, "ES": 21.0, "IT": 22.0, "GB": 20.0}


class Billing:
    def __init__(self, store: Store, *, tag: str = "live", emit_since: int = 0) -> None:
        self.store = store
        self.tag = tag
        self._n = itertools.count(1)
        # Events are appended only for changes at or after this time (Stripe keeps 30 days).
        self.emit_since = emit_since

    def id(self, prefix: str) -> str:
        return f"{prefix}_{self.tag}{next(self._n):09d}"

    def emit(self, t: int, kind: str, obj: dict, previous: dict | None = None) -> None:
        if t >= self.emit_since:
            event = self.store.emit(kind, obj, previous)
            event["created"] = t

    # --- catalogue -----------------------------------------------------------------------

    def tax_rate_for(self, country: str, t: int) -> dict | None:
        if country not in VAT_COUNTRIES:
            return None
        rid = f"txr_vat_{country.lower()}"
        found = self.store.get("tax_rates", rid)
        if found is None:
            found = self.store.add(
                "tax_rates",
                shapes.tax_rate(rid, percentage=VAT_COUNTRIES[country], country=country, created=t),
            )
        return found

    # --- customers and subscriptions -----------------------------------------------------

    def customer(self, t: int, *, email: str, name: str, country: str, currency: str) -> dict:
        obj = shapes.customer(
            self.id("cus"), email=email, name=name, country=country, created=t, currency=currency
        )
        self.store.add("customers", obj)
        self.emit(t, "customer.created", obj)
        return obj

    def subscribe(
        self,
        t: int,
        customer: dict,
        price: dict,
        quantity: int = 1,
        *,
        trial_days: int = 0,
        coupon: dict | None = None,
    ) -> dict:
        sid = self.id("sub")
        interval = price["recurring"]
        trial = (t, t + trial_days * 86400) if trial_days else None
        period_end = (
            trial[1] if trial else advance(t, interval["interval"], interval["interval_count"])
        )
        item = shapes.subscription_item(
            self.id("si"),
            sub_id=sid,
            price_obj=price,
            quantity=quantity,
            period=(t, period_end),
            created=t,
        )
        sub = shapes.subscription(
            sid,
            customer_id=customer["id"],
            currency=price["currency"],
            items=[item],
            status="trialing" if trial else "active",
            created=t,
            trial=trial,
        )
        self.store.add("subscriptions", sub)
        if coupon is not None:
            self._add_discount(sub, coupon, t)
        self.emit(t, "customer.subscription.created", sub)
        if trial:
            self._invoice(
                sub, t, [(item, (t, period_end), False, 1)], "subscription_create", zero=True
            )
        else:
            self._invoice(sub, t, [(item, (t, period_end), False, 1)], "subscription_create")
        return sub

    def _add_discount(self, sub: dict, coupon: dict, t: int) -> dict:
        obj = shapes.discount(
            self.id("di"),
            coupon_obj=coupon,
            customer_id=sub["customer"],
            subscription_id=sub["id"],
            start=t,
        )
        sub["discounts"].append(obj)
        return obj

    def apply_coupon(self, t: int, sub: dict, coupon: dict) -> dict:
        obj = self._add_discount(sub, coupon, t)
        self.emit(t, "customer.subscription.updated", sub, {"discounts": []})
        return obj

    def renew(self, sub: dict, t: int, *, pay: bool = True) -> dict | None:
        """Bill the next period of every item (at its period end ``t``)."""
        if sub["status"] in ("canceled", "incomplete_expired"):
            return None
        if sub["status"] == "trialing" and sub["trial_end"] and t >= sub["trial_end"]:
            sub["status"] = "active"
        items = sub["items"]["data"]
        parts = []
        for item in items:
            rec = item["price"]["recurring"]
            start = item["current_period_end"]
            end = advance(start, rec["interval"], rec["interval_count"])
            item["current_period_start"], item["current_period_end"] = start, end
            parts.append((item, (start, end), False, 1))
        paused = sub["pause_collection"] is not None
        invoice = self._invoice(
            sub, t, parts, "subscription_cycle", status="void" if paused else None, pay=pay
        )
        self.emit(t, "customer.subscription.updated", sub)
        return invoice

    def change(self, t: int, sub: dict, price: dict, quantity: int | None = None) -> dict:
        """Upgrade, downgrade or change quantity now, prorated and invoiced at once."""
        item = sub["items"]["data"][0]
        old_price, old_quantity = item["price"], item["quantity"]
        start, end = item["current_period_start"], item["current_period_end"]
        left = (end - t) / (end - start) if end > start else 0
        quantity = old_quantity if quantity is None else quantity
        credit = -round(old_price["unit_amount"] * old_quantity * left)
        item["price"], item["quantity"] = price, quantity
        parts = [
            (item, (t, end), True, left, old_price, old_quantity, credit),
            (item, (t, end), True, left),
        ]
        self.emit(t, "customer.subscription.updated", sub, {"items": {}})
        return self._invoice(sub, t, parts, "subscription_update")

    def cancel_at_period_end(self, t: int, sub: dict) -> None:
        end = sub["items"]["data"][0]["current_period_end"]
        sub.update(cancel_at_period_end=True, cancel_at=end, canceled_at=t)
        self.emit(t, "customer.subscription.updated", sub, {"cancel_at_period_end": False})

    def end(self, t: int, sub: dict) -> None:
        sub.update(status="canceled", ended_at=t, canceled_at=sub["canceled_at"] or t)
        self.emit(t, "customer.subscription.deleted", sub)

    def pause(self, t: int, sub: dict, resumes_at: int | None = None) -> None:
        sub["pause_collection"] = {"behavior": "void", "resumes_at": resumes_at}
        self.emit(t, "customer.subscription.updated", sub, {"pause_collection": None})

    def resume(self, t: int, sub: dict) -> None:
        sub["pause_collection"] = None
        self.emit(t, "customer.subscription.updated", sub, {"pause_collection": {}})

    # --- invoices, payments, refunds -----------------------------------------------------

    def _invoice(
        self,
        sub: dict,
        t: int,
        parts: list[tuple],
        reason: str,
        *,
        zero: bool = False,
        status: str | None = None,
        pay: bool = True,
    ) -> dict:
        iid = self.id("in")
        customer = self.store.get("customers", sub["customer"])
        rate = self.tax_rate_for((customer or {}).get("address", {}).get("country") or "", t)
        active = [
            d for d in sub["discounts"] if d["start"] <= t and (d["end"] is None or d["end"] > t)
        ]
        lines = []
        used: list[dict] = []
        for part in parts:
            item, period, proration, share = part[:4]
            price, quantity = item["price"], item["quantity"]
            if len(part) > 4:  # the credit for the unused time of the old price
                price, quantity, amount = part[4], part[5], part[6]
            else:
                amount = round(price["unit_amount"] * quantity * share)
            if zero:
                amount = 0
            discounts = []
            if amount > 0:
                for d in active:
                    c = d["source"]["coupon"]
                    off = (
                        round(amount * c["percent_off"] / 100)
                        if c["percent_off"]
                        else min(amount, c["amount_off"] or 0)
                    )
                    discounts.append({"amount": min(off, amount), "discount": d["id"]})
                    used.append(d)
            net = amount - sum(d["amount"] for d in discounts)
            tax = round(net * rate["percentage"] / 100) if rate and net > 0 else 0
            lines.append(
                shapes.line(
                    self.id("il"),
                    invoice_id=iid,
                    price_obj=price,
                    quantity=quantity,
                    amount=amount,
                    period=period,
                    currency=sub["currency"],
                    sub_id=sub["id"],
                    item_id=item["id"],
                    proration=proration,
                    discount_amounts=discounts,
                    tax=tax,
                    tax_rate_id=rate["id"] if rate and amount != 0 else None,
                    description=("Unused time" if amount < 0 else "Remaining time")
                    if proration
                    else f"{quantity} x {price.get('nickname') or price['id']}",
                )
            )
        inv = shapes.invoice(
            iid,
            customer_id=sub["customer"],
            currency=sub["currency"],
            lines=lines,
            created=t,
            status="draft",
            sub_id=sub["id"],
            discounts=[dict(d) for d in {d["id"]: d for d in used}.values()],
            billing_reason=reason,
            paid_at=None,
        )
        # A once-only coupon is spent by its first invoice.
        sub["discounts"] = [
            d
            for d in sub["discounts"]
            if not (d in used and d["source"]["coupon"]["duration"] == "once")
        ]
        total = inv["total"]
        if status == "void":
            final = "void"
        elif total <= 0:
            final = "paid"
        else:
            final = "paid" if pay else "open"
        inv = shapes.invoice(
            iid,
            customer_id=sub["customer"],
            currency=sub["currency"],
            lines=lines,
            created=t,
            status=final,
            sub_id=sub["id"],
            discounts=inv["discounts"],
            billing_reason=reason,
            paid_at=t if final == "paid" else None,
        )
        self.store.add("invoices", inv)
        sub["latest_invoice"] = iid
        self.emit(t, "invoice.created", inv)
        if final == "paid" and total > 0:
            self._pay(inv, t)
        elif final == "open":
            ch = shapes.charge(
                self.id("ch"),
                customer_id=inv["customer"],
                amount=total,
                currency=inv["currency"],
                created=t,
                status="failed",
            )
            self.store.add("charges", ch)
            self.emit(t, "invoice.payment_failed", inv)
            if sub["status"] == "active":
                sub["status"] = "past_due"
                self.emit(t, "customer.subscription.updated", sub, {"status": "active"})
        elif final == "paid":
            self.emit(t, "invoice.paid", inv)
        return inv

    def _pay(self, inv: dict, t: int) -> dict:
        ch = shapes.charge(
            self.id("ch"),
            customer_id=inv["customer"],
            amount=inv["total"],
            currency=inv["currency"],
            created=t,
            status="succeeded",
        )
        self.store.add("charges", ch)
        ip = shapes.invoice_payment(
            self.id("inpay"),
            invoice_id=inv["id"],
            charge_id=ch["id"],
            amount=inv["total"],
            currency=inv["currency"],
            created=t,
        )
        self.store.add("invoice_payments", ip)
        self.emit(t, "charge.succeeded", ch)
        self.emit(t, "invoice_payment.paid", ip)
        self.emit(t, "invoice.paid", inv)
        return ch

    def pay_open(self, t: int, sub: dict) -> None:
        """The customer's card works again: the open invoices are paid, the subscription is
        active again."""
        for inv in self.store.related("invoices_of_subscription", sub["id"]):
            if inv["status"] == "open":
                inv.update(status="paid", amount_paid=inv["total"], amount_remaining=0)
                inv["status_transitions"]["paid_at"] = t
                self._pay(inv, t)
        if sub["status"] == "past_due":
            sub["status"] = "active"
            self.emit(t, "customer.subscription.updated", sub, {"status": "past_due"})

    def refund(self, t: int, charge: dict, amount: int | None = None) -> dict:
        amount = charge["amount"] - charge["amount_refunded"] if amount is None else amount
        re = shapes.refund(
            self.id("re"),
            charge_id=charge["id"],
            customer_id=charge["customer"],
            amount=amount,
            currency=charge["currency"],
            created=t,
        )
        self.store.add("refunds", re)
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
        charge["refunds"]["data"].insert(0, re)
        payment = next(iter(self.store.related("payments_of_charge", charge["id"])), None)
        if payment is not None:
            inv = self.store.get("invoices", payment["invoice"])
            tax = sum(x["amount"] for x in inv["total_taxes"])
            share = round(tax * amount / inv["total"]) if inv["total"] else 0
            cn = shapes.credit_note(
                self.id("cn"),
                invoice_obj=inv,
                amount=amount,
                tax=share,
                refund_id=re["id"],
                created=t,
            )
            inv["post_payment_credit_notes_amount"] += amount
            self.store.add("credit_notes", cn)
            self.emit(t, "credit_note.created", cn)
        self.emit(t, "refund.created", re)
        self.emit(
            t, "charge.refunded", charge, {"amount_refunded": charge["amount_refunded"] - amount}
        )
        return re
