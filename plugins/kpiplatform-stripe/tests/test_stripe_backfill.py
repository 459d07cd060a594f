"""A first sync of a generated company through the real SDK: every object counted and
mapped exactly, the objects kept for re-deriving, and the feed followed from there."""

from __future__ import annotations

import datetime as dt

from django.db import connection as db_connection
from kpiplatform_stripe import segments
from stripe_helpers import connect, counts, expected_counts, last_run, stored, sync_now

from kpiplatform.connectors import sync
from kpiplatform.connectors.models import Connection, SourceObject
from kpiplatform.data.models import Customer, Payment, Plan, Subscription


def iso(ts: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.UTC)


def test_a_backfill_brings_every_object_mapped_exactly(acme, sandbox):
    connection_id = connect(acme)
    assert sync_now(acme, connection_id).startswith("succeeded")
    run = last_run(acme)
    assert run.status == "succeeded", run.error
    got = counts(acme)
    want = expected_counts(sandbox.store)
    assert {k: got[k] for k in want} == want

    customers = stored(acme, Customer)
    for obj in sandbox.store.listing("customers"):
        row = customers[obj["id"]]
        assert (row["name"], row["email"], row["country"], row["created_at"]) == (
            obj["name"],
            obj["email"],
            obj["address"]["country"],
            iso(obj["created"]),
        )
    plans = stored(acme, Plan)
    yearly = plans["price_pro_yearly_eur"]
    assert (yearly["name"], yearly["interval"], yearly["amount_minor"], yearly["currency"]) == (
        "Pro (Pro (yearly))",
        "year",
        89000,
        "EUR",
    )
    assert plans["price_business_quarterly_usd"]["interval_count"] == 3

    subs = stored(acme, Subscription)
    for obj in sandbox.store.listing("subscriptions"):
        row = subs[obj["id"]]
        assert row["customer_ref"] == obj["customer"]
        assert row["plan_ref"] == obj["items"]["data"][0]["price"]["id"]
        assert row["quantity"] == obj["items"]["data"][0]["quantity"]
        assert row["status"] == obj["status"]
        assert row["ended_at"] == (iso(obj["ended_at"]) if obj["ended_at"] else None)

    # Payments are net of tax: a European customer's charge includes VAT, the payment not.
    payments = stored(acme, Payment)
    by_charge = {
        p["payment"]["charge"]: p["invoice"] for p in sandbox.store.listing("invoice_payments")
    }
    taxed = 0
    for charge in sandbox.store.listing("charges"):
        row = payments[charge["id"]]
        invoice = sandbox.store.get("invoices", by_charge.get(charge["id"], "")) or {}
        tax = sum(t["amount"] for t in invoice.get("total_taxes") or [])
        taxed += tax > 0
        assert (row["kind"], row["amount_minor"], row["tax_minor"]) == (
            "charge",
            charge["amount"] - tax,
            tax,
        )
        assert row["status"] == charge["status"]
        assert row["currency"] == charge["currency"].upper()
    assert taxed > 0
    for refund in sandbox.store.listing("refunds"):
        row = payments[refund["id"]]
        assert row["kind"] == "refund"
        assert 0 < row["amount_minor"] <= refund["amount"]

    # The objects segments and payments come from are kept, once each.
    with acme.activate():
        kept = dict(
            (kind, SourceObject.objects.filter(kind=kind).count())
            for kind in ("subscription", "invoice", "charge", "refund", "price", "credit_note")
        )
        state = Connection.objects.get(pk=connection_id).state
    assert kept == {
        "subscription": len(sandbox.store.listing("subscriptions")),
        "invoice": len(sandbox.store.listing("invoices")),
        "charge": len(sandbox.store.listing("charges")),
        "refund": len(sandbox.store.listing("refunds")),
        "price": len(sandbox.store.listing("prices")),
        "credit_note": len(sandbox.store.listing("credit_notes")),
    }
    assert state["mode"] == "events"
    assert state["cursor"] == sandbox.latest_event()["id"]


def test_the_segments_are_those_of_every_subscription_with_no_duplicate(acme, sandbox):
    sync_now(acme, connect(acme))
    prices = {p["id"]: p for p in sandbox.store.listing("prices")}
    invoices: dict[str, list] = {}
    for inv in sandbox.store.listing("invoices"):
        invoices.setdefault(inv["parent"]["subscription_details"]["subscription"], []).append(inv)
    expected = {}
    for sub in sandbox.store.listing("subscriptions"):
        for record in segments.derive(sub, invoices.get(sub["id"], []), prices):
            expected[record["external_id"]] = record
    got = stored(acme, __import__("kpiplatform.data.models", fromlist=["MrrSegment"]).MrrSegment)
    assert set(got) == set(expected)
    for key, record in expected.items():
        row = got[key]
        assert (row["customer_ref"], row["mrr_minor"], row["currency"]) == (
            record["customer_ref"],
            record["mrr_minor"],
            record["currency"],
        )


def test_a_backfill_keeps_the_planners_count_of_stored_objects_current(acme, sandbox, monkeypatch):
    # Refreshed every ANALYZE_EVERY objects stored: lowered so this small company crosses it.
    monkeypatch.setattr(sync, "ANALYZE_EVERY", 500)
    connection_id = connect(acme)
    assert sync_now(acme, connection_id).startswith("succeeded")
    with acme.activate(), db_connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples FROM pg_class WHERE oid = 'connectors_sourceobject'::regclass"
        )
        (estimated,) = cursor.fetchone()
        stored_now = SourceObject.objects.count()
        # Reads by id are planned on the unique index, not by scanning a kind.
        ids = list(
            SourceObject.objects.filter(kind="invoice").values_list("external_id", flat=True)[:50]
        )
        cursor.execute(
            "EXPLAIN SELECT payload FROM connectors_sourceobject WHERE connection_id = %s "
            "AND kind = 'invoice' AND external_id = ANY(%s)",
            [connection_id, ids],
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert stored_now - 500 <= estimated <= stored_now, (estimated, stored_now)
    assert "one_source_object_per_id" in plan and "external_id" in plan.split("Index Cond")[1], plan
