"""The sandbox speaks Stripe to the official SDK: pagination both ways, status=all, event
filters, error bodies the SDK turns into the right exceptions; its command line serves a
seed file; its generator is deterministic."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

import pytest
import stripe
from kpiplatform_stripe.sandbox import Sandbox
from kpiplatform_stripe.sandbox.generate import generate
from stripe_helpers import API_KEY


def client(sandbox) -> stripe.StripeClient:
    return stripe.StripeClient(API_KEY, base_addresses={"api": sandbox.url}, max_network_retries=0)


def test_lists_page_both_ways_and_filter_as_stripe_does(sandbox):
    c = client(sandbox)
    every = [s["id"] for s in sandbox.store.listing("subscriptions")]
    canceled = {
        s["id"] for s in sandbox.store.listing("subscriptions") if s["status"] == "canceled"
    }
    assert canceled  # the generated company has churned
    default = [s.id for s in c.v1.subscriptions.list(params={"limit": 100}).auto_paging_iter()]
    assert set(default) == set(every) - canceled  # canceled ones only with status=all
    all_ids = [
        s.id
        for s in c.v1.subscriptions.list(params={"limit": 7, "status": "all"}).auto_paging_iter()
    ]
    assert all_ids == every  # newest first, every page once
    # ending_before walks towards the newest: the SDK then goes oldest -> newest.
    events = sandbox.store.listing("events")
    oldest = events[-1]["id"]
    newer = [
        e.id
        for e in c.v1.events.list(params={"limit": 5, "ending_before": oldest}).auto_paging_iter()
    ]
    assert newer == [e["id"] for e in reversed(events[:-1])]
    paid = c.v1.events.list(params={"types": ["invoice.paid"], "limit": 100})
    assert paid.data and {e.type for e in paid.data} == {"invoice.paid"}
    since = events[len(events) // 2]["created"]
    recent = c.v1.events.list(params={"created": {"gte": since}, "limit": 100})
    assert all(e.created >= since for e in recent.data)


def test_errors_have_stripes_bodies_and_the_sdk_raises_the_right_class(sandbox):
    c = client(sandbox)
    with pytest.raises(stripe.InvalidRequestError, match="No such customer"):
        c.v1.customers.retrieve("cus_missing")
    sandbox.rate_limit(times=1, retry_after="3")
    with pytest.raises(stripe.RateLimitError) as limited:
        c.v1.customers.list()
    assert limited.value.headers["Retry-After"] == "3"
    sandbox.server_error(times=1, status=502)
    with pytest.raises(stripe.APIError) as failed:
        c.v1.customers.list()
    assert failed.value.http_status == 502
    sandbox.revoke()
    with pytest.raises(stripe.AuthenticationError):
        c.v1.customers.list()


def test_the_command_line_serves_a_seed_file(tmp_path, catalogue):
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps(catalogue))
    with Sandbox(catalogue) as probe:  # a free port, then given back
        port = probe.port
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kpiplatform_stripe.sandbox",
            "--port",
            str(port),
            "--seed",
            str(seed),
            "--key",
            API_KEY,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout.readline().strip() == f"listening on http://127.0.0.1:{port}"
        c = stripe.StripeClient(
            API_KEY, base_addresses={"api": f"http://127.0.0.1:{port}"}, max_network_retries=0
        )
        prices = c.v1.prices.list(params={"limit": 100})
        assert {p.id for p in prices.data} == {p["id"] for p in catalogue["prices"]}
    finally:
        process.terminate()
        process.wait(10)


def test_the_generator_is_deterministic_and_realistic():
    end = dt.date(2026, 6, 1)
    first = generate(seed_number=5, customers=150, months=24, end=end)
    assert generate(seed_number=5, customers=150, months=24, end=end) == first
    assert generate(seed_number=6, customers=150, months=24, end=end) != first
    subs = first["subscriptions"]
    statuses = {s["status"] for s in subs}
    assert {"active", "canceled"} <= statuses
    assert any(s["trial_end"] for s in subs)
    assert any(s["discounts"] for s in subs)
    intervals = {s["items"]["data"][0]["price"]["recurring"]["interval"] for s in subs}
    assert {"month", "year"} <= intervals
    assert {s["currency"] for s in subs} == {"usd", "eur"}
    assert first["refunds"] and first["credit_notes"]
    lines = [li for inv in first["invoices"] for li in inv["lines"]["data"]]
    assert any(li["parent"]["subscription_item_details"]["proration"] for li in lines)
    # More customers than subscriptions' first owners: some came back (reactivations).
    owners = [s["customer"] for s in subs]
    assert len(owners) > len(set(owners))
    # Newest first, e-mails other generators can match on.
    created = [c["created"] for c in first["customers"]]
    assert created == sorted(created, reverse=True)
    assert all(c["email"].endswith(".example") and "@" in c["email"] for c in first["customers"])
    assert len({c["email"] for c in first["customers"]}) == 150
