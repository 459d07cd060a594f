"""``python -m kpiplatform_stripe.sandbox.generate --out FILE [--seed-number 7]
[--customers 3000] [--months 24] [--end YYYY-MM-DD]``: a realistic SaaS company's Stripe
account as a sandbox seed file.

Monthly, quarterly, weekly and yearly plans in USD and EUR (and a free plan), per-seat
quantities, trials (some never convert), coupons (once, repeating, forever, 100 %), upgrades
and downgrades with proration, cancellations at period end, pauses, failed payments (past due,
then paid or canceled), reactivations, refunds with credit notes, and VAT for European
customers. Deterministic for a seed number and end day (default: today, UTC). Customers'
e-mails are ``<first>.<last><n>@<company>.example``, usable by other sandboxes' generators.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
from pathlib import Path

from kpiplatform_stripe.sandbox import shapes
from kpiplatform_stripe.sandbox.billing import Billing
from kpiplatform_stripe.sandbox.shapes import advance
from kpiplatform_stripe.sandbox.store import RESOURCES, Store

DAY = 86400
FIRST = ["ada", "alan", "grace", "linus", "margaret", "ken", "barbara", "dennis", "radia", "tim"]
LAST = ["lovelace", "turing", "hopper", "torvalds", "hamilton", "thompson", "liskov", "ritchie"]
COMPANIES = ["initech", "umbrella", "hooli", "globex", "acme", "stark", "wayne", "wonka", "tyrell"]
COUNTRIES_USD = ["US", "US", "US", "CA", "GB", "AU"]
COUNTRIES_EUR = ["DE", "FR", "NL", "ES", "IT"]

# (price id, product id, product name, amount, currency, interval, interval count, nickname)
CATALOGUE = [
    ("price_starter_monthly_usd", "prod_starter", "Starter", 2900, "usd", "month", 1, "Starter"),
    ("price_pro_monthly_usd", "prod_pro", "Pro", 9900, "usd", "month", 1, "Pro"),
    ("price_pro_yearly_usd", "prod_pro", "Pro", 99000, "usd", "year", 1, "Pro (yearly)"),
    ("price_team_seat_monthly_usd", "prod_team", "Team", 1500, "usd", "month", 1, "Team seat"),
    (
        "price_business_quarterly_usd",
        "prod_business",
        "Business",
        45000,
        "usd",
        "month",
        3,
        "Business (quarterly)",
    ),
    ("price_sprint_weekly_usd", "prod_sprint", "Sprint", 1200, "usd", "week", 1, "Sprint"),
    ("price_free_monthly_usd", "prod_free", "Free", 0, "usd", "month", 1, "Free"),
    ("price_starter_monthly_eur", "prod_starter", "Starter", 2700, "eur", "month", 1, "Starter"),
    ("price_pro_monthly_eur", "prod_pro", "Pro", 8900, "eur", "month", 1, "Pro"),
    ("price_pro_yearly_eur", "prod_pro", "Pro", 89000, "eur", "year", 1, "Pro (yearly)"),
]
COUPONS = [
    ("LAUNCH20", {"duration": "repeating", "percent_off": 20.0, "duration_in_months": 3}),
    ("FOREVER10", {"duration": "forever", "percent_off": 10.0}),
    ("FIRST50", {"duration": "once", "percent_off": 50.0}),
    ("PARTNER100", {"duration": "forever", "percent_off": 100.0}),
]
USD_PLANS = [
    ("price_starter_monthly_usd", 40),
    ("price_pro_monthly_usd", 25),
    ("price_pro_yearly_usd", 10),
    ("price_team_seat_monthly_usd", 12),
    ("price_business_quarterly_usd", 5),
    ("price_sprint_weekly_usd", 3),
    ("price_free_monthly_usd", 5),
]
EUR_PLANS = [
    ("price_starter_monthly_eur", 50),
    ("price_pro_monthly_eur", 35),
    ("price_pro_yearly_eur", 15),
]


class _GenStore(Store):
    """Appends (each list is sorted newest first once at the end): inserting at the front of
    hundreds of thousands of objects one by one would be quadratic."""

    def add(self, resource: str, obj: dict) -> dict:
        self.lists[resource].append(obj)
        self.index[resource][obj["id"]] = obj
        self._looked_up(resource, obj)
        return obj


def _catalogue(store: Store, t0: int) -> None:
    for pid, product_id, product_name, amount, currency, interval, count, nickname in CATALOGUE:
        if store.get("products", product_id) is None:
            store.add("products", shapes.product(product_id, name=product_name, created=t0))
        store.add(
            "prices",
            shapes.price(
                pid,
                product_id=product_id,
                unit_amount=amount,
                currency=currency,
                interval=interval,
                interval_count=count,
                nickname=nickname,
                created=t0,
            ),
        )
    for cid, options in COUPONS:
        store.add("coupons", shapes.coupon(cid, created=t0, **options))


def _pick(rng: random.Random, weighted: list[tuple[str, int]]) -> str:
    return rng.choices([w[0] for w in weighted], weights=[w[1] for w in weighted])[0]


class _Life:
    """One customer's history, simulated from signup to the end day."""

    def __init__(self, billing: Billing, rng: random.Random, end: int) -> None:
        self.b, self.rng, self.end = billing, rng, end
        self.store = billing.store

    def price(self, pid: str) -> dict:
        return self.store.get("prices", pid)

    def run(self, n: int, t: int) -> None:
        rng = self.rng
        eur = rng.random() < 0.25
        country = rng.choice(COUNTRIES_EUR if eur else COUNTRIES_USD)
        first, last, company = rng.choice(FIRST), rng.choice(LAST), rng.choice(COMPANIES)
        customer = self.b.customer(
            t,
            email=f"{first}.{last}{n}@{company}.example",
            name=f"{first.title()} {last.title()} ({company.title()} {n})",
            country=country,
            currency="eur" if eur else "usd",
        )
        plans = EUR_PLANS if eur else USD_PLANS
        while t < self.end:
            t = self.subscription(customer, _pick(rng, plans), t)
            if t is None or rng.random() > 0.3:  # 30 % come back after churning
                return
            t += rng.randint(30, 180) * DAY

    def subscription(self, customer: dict, pid: str, t: int) -> int | None:
        """Live one subscription; the time it ended (None: still running at the end day)."""
        rng, b = self.rng, self.b
        price = self.price(pid)
        quantity = rng.randint(2, 15) if "seat" in pid else 1
        trial = 14 if rng.random() < 0.3 else 0
        coupon = None
        if rng.random() < 0.15:
            coupon = self.store.get("coupons", rng.choice(COUPONS)[0])
        sub = b.subscribe(t, customer, price, quantity, trial_days=trial, coupon=coupon)
        if trial and rng.random() < 0.25:  # the trial never converts
            end = sub["trial_end"]
            if end >= self.end:
                return None
            b.end(end, sub)
            return end
        paused_until = None
        while True:
            item = sub["items"]["data"][0]
            period_end = item["current_period_end"]
            if period_end >= self.end:
                self.maybe_change_mid_period(sub, item, min(self.end, period_end))
                return None
            if sub["cancel_at_period_end"]:
                b.end(period_end, sub)
                return period_end
            self.maybe_change_mid_period(sub, item, period_end)
            roll = rng.random()
            if paused_until is not None and period_end >= paused_until:
                b.resume(period_end, sub)
                paused_until = None
            if roll < 0.03:  # asks to cancel a few days before the renewal
                b.cancel_at_period_end(max(item["current_period_start"], period_end - 5 * DAY), sub)
                continue
            if roll < 0.035 and paused_until is None and sub["status"] == "active":
                b.pause(period_end - DAY, sub)
                paused_until = advance(period_end, "month", rng.randint(1, 2))
            failing = rng.random() < 0.015 and sub["pause_collection"] is None
            invoice = b.renew(sub, period_end, pay=not failing)
            if failing and invoice is not None:
                later = period_end + rng.randint(3, 10) * DAY
                if later >= self.end:
                    return None
                if rng.random() < 0.7:
                    b.pay_open(later, sub)
                else:
                    b.end(later, sub)
                    return later
            elif invoice is not None and invoice["status"] == "paid" and rng.random() < 0.02:
                when = period_end + rng.randint(1, 20) * DAY
                charges = [
                    c
                    for c in self.store.lists["charges"][-3:]
                    if c["customer"] == sub["customer"] and c["status"] == "succeeded"
                ]
                if charges and when < self.end:
                    charge = charges[-1]
                    amount = charge["amount"] if rng.random() < 0.5 else charge["amount"] // 2
                    b.refund(when, charge, amount)

    def maybe_change_mid_period(self, sub: dict, item: dict, before: int) -> None:
        rng, b = self.rng, self.b
        start = item["current_period_start"]
        if before - start < 4 * DAY or sub["status"] not in ("active", "past_due"):
            return
        if sub["pause_collection"] is not None or sub["cancel_at_period_end"]:
            return
        roll = rng.random()
        pid = item["price"]["id"]
        if roll < 0.02:  # upgrade: more seats, or Starter -> Pro
            if "seat" in pid:
                target, quantity = pid, item["quantity"] + rng.randint(1, 5)
            elif pid.startswith("price_starter_monthly"):
                target, quantity = pid.replace("starter", "pro"), 1
            else:
                return
        elif roll < 0.03:  # downgrade
            if "seat" in pid and item["quantity"] > 2:
                target, quantity = pid, item["quantity"] - 1
            elif pid.startswith("price_pro_monthly"):
                target, quantity = pid.replace("pro", "starter"), 1
            else:
                return
        else:
            return
        at = start + rng.randint(2, max(2, (before - start) // DAY - 1)) * DAY
        b.change(at, sub, self.price(target), quantity)


def generate(
    *, seed_number: int = 7, customers: int = 3000, months: int = 24, end: dt.date | None = None
) -> dict:
    end_day = end or dt.datetime.now(dt.UTC).date()
    end_ts = int(dt.datetime.combine(end_day, dt.time(), dt.UTC).timestamp())
    start_ts = advance(end_ts, "month", -months) if months else end_ts
    store = _GenStore({}, tag=f"s{seed_number}x")
    billing = Billing(store, tag=f"s{seed_number}", emit_since=end_ts - 30 * DAY)
    rng = random.Random(seed_number)
    _catalogue(store, start_ts - 30 * DAY)
    # Signups grow over time (more customers later), as a growing company's do.
    span = end_ts - start_ts
    signups = sorted(int(start_ts + span * (rng.random() ** 0.7)) for _ in range(customers))
    for n, t in enumerate(signups, 1):
        _Life(billing, rng, end_ts).run(n, t)
    seed = {}
    for resource in RESOURCES:
        objects = store.lists[resource]
        order = {id(o): i for i, o in enumerate(objects)}
        seed[resource] = sorted(objects, key=lambda o: (o["created"], order[id(o)]), reverse=True)
    return seed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kpiplatform_stripe.sandbox.generate")
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed-number", type=int, default=7)
    parser.add_argument("--customers", type=int, default=3000)
    parser.add_argument("--months", type=int, default=24, help="months of history")
    parser.add_argument("--end", type=dt.date.fromisoformat, help="last day (default today)")
    args = parser.parse_args(argv)
    seed = generate(
        seed_number=args.seed_number, customers=args.customers, months=args.months, end=args.end
    )
    Path(args.out).write_text(json.dumps(seed, separators=(",", ":")))
    counts = ", ".join(f"{len(v)} {k}" for k, v in seed.items())
    print(f"wrote {args.out}: {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
