"""After the backfill, the sandbox's company changes (a new customer, an upgrade, a coupon, a
cancellation at period end, a refund): the next sync reads them from /v1/events, applies
exactly those, and the KPIs move as the definitions say (worked out by hand below)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from stripe_helpers import connect, stored, sync_now

from kpiplatform.data.models import Customer, MrrSegment, Payment, Subscription
from kpiplatform.facts.models import MrrMovement
from kpiplatform.sdk import Period
from kpiplatform.testing.kpis import configure_company, recompute_all, stored_values

IGNORED = {"id", "updated_at"}


def snapshot(company) -> dict[str, dict[str, dict]]:
    return {
        name: {
            key: {k: v for k, v in row.items() if k not in IGNORED}
            for key, row in stored(company, model).items()
        }
        for name, model in (
            ("customers", Customer),
            ("subscriptions", Subscription),
            ("payments", Payment),
            ("mrr_segments", MrrSegment),
        )
    }


def changed(before: dict, after: dict) -> set[str]:
    return {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}


def plain_subscription(store, price_id: str, exclude=()) -> dict:
    """An active USD subscription on one price, with nothing else going on, whose customer has
    only it (so the customer's movements are this subscription's)."""
    per_customer: dict[str, int] = {}
    for sub in store.listing("subscriptions"):
        per_customer[sub["customer"]] = per_customer.get(sub["customer"], 0) + 1
    for sub in store.listing("subscriptions"):
        item = sub["items"]["data"][0]
        if (
            sub["status"] == "active"
            and item["price"]["id"] == price_id
            and item["quantity"] == 1
            and not sub["discounts"]
            and not sub["cancel_at_period_end"]
            and not sub["pause_collection"]
            and per_customer[sub["customer"]] == 1
            and sub["id"] not in exclude
        ):
            return sub
    raise AssertionError(f"the generated company has no plain subscription on {price_id}")


def test_the_events_sync_applies_exactly_the_changes_and_the_kpis_move(acme, sandbox):
    connection_id = connect(acme)
    with acme.activate():
        configure_company(reporting_currency="USD", time_zone="UTC")
    assert sync_now(acme, connection_id).startswith("succeeded")
    with acme.activate():
        recompute_all()
        today = dt.datetime.now(dt.UTC).date()
        month = Period.containing("month", today).start
        mrr_before = stored_values("mrr")[month].value
    before = snapshot(acme)

    store = sandbox.store
    upgraded = plain_subscription(store, "price_starter_monthly_usd")
    discounted = plain_subscription(store, "price_pro_monthly_usd")
    leaving = plain_subscription(store, "price_pro_monthly_usd", exclude={discounted["id"]})
    charge = next(
        c
        for c in store.listing("charges")
        if c["status"] == "succeeded"
        and c["currency"] == "usd"
        and not c["amount_refunded"]
        and c["amount"] > 1000
        and store.get("customers", c["customer"])["address"]["country"] == "US"
    )
    requests_before = len(sandbox.requests)

    customer, new_sub = sandbox.add_customer(
        email="newcomer@fresh.example", price_id="price_pro_monthly_usd", country="US"
    )
    proration = sandbox.upgrade(upgraded["id"], "price_pro_monthly_usd")
    sandbox.apply_coupon(discounted["id"], "FOREVER10")
    sandbox.cancel_at_period_end(leaving["id"])
    refund = sandbox.refund(charge["id"], 1000)

    assert sync_now(acme, connection_id).startswith("succeeded")
    after = snapshot(acme)
    # Exactly those changes, read through the events and objects fetched by id: no list
    # endpoint but the feed was read again.
    lists = {path for path in sandbox.requests[requests_before:] if path.count("/") == 2}
    assert lists == {"/v1/events"}
    assert changed(before["customers"], after["customers"]) == {customer["id"]}
    assert changed(before["subscriptions"], after["subscriptions"]) == {
        new_sub["id"],
        upgraded["id"],
        leaving["id"],
    }
    new_charges = {c["id"] for c in store.listing("charges") if c["customer"] == customer["id"]}
    proration_charge = next(
        p["payment"]["charge"]
        for p in store.listing("invoice_payments")
        if p["invoice"] == proration["id"]
    )
    assert changed(before["payments"], after["payments"]) == (
        new_charges | {proration_charge, refund["id"]}
    )
    assert after["payments"][refund["id"]]["kind"] == "refund"
    assert after["payments"][refund["id"]]["amount_minor"] == 1000
    touched_subs = {
        s["subscription_ref"]
        for k in changed(before["mrr_segments"], after["mrr_segments"])
        for s in (before["mrr_segments"].get(k), after["mrr_segments"].get(k))
        if s
    }
    assert touched_subs == {new_sub["id"], upgraded["id"], discounted["id"], leaving["id"]}
    assert after["subscriptions"][leaving["id"]]["cancel_requested_at"] is not None

    with acme.activate():
        recompute_all()
        mrr_after = stored_values("mrr")[month].value

        def today_moves(customer_ref):
            return [
                (m.day, m.kind, m.amount)
                for m in MrrMovement.objects.filter(customer_ref=customer_ref, day__gte=today)
            ]

        assert today_moves(customer["id"]) == [(today, "new", Decimal("99"))]
        assert today_moves(upgraded["customer"]) == [(today, "expansion", Decimal("70"))]
        assert today_moves(discounted["customer"]) == [(today, "contraction", Decimal("-9.9"))]
        # The cancellation at period end churns on the last paid period's end, not today.
        period_end = dt.datetime.fromtimestamp(
            leaving["items"]["data"][0]["current_period_end"], dt.UTC
        ).date()
        assert today_moves(leaving["customer"]) == [(period_end, "churn", Decimal("-99"))]
    # MRR today: + 99 (new) + 70 (upgrade) - 9.90 (10 % coupon) = + 159.10.
    assert mrr_after - mrr_before == Decimal("159.10")
