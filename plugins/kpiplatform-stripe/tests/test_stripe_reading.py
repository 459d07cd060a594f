"""How the connector reads Stripe's lists: ahead of its writes, across the end of one list,
every page once and in order, errors in their turn; and the sandbox's added latency."""

from __future__ import annotations

import copy
import threading
import time

import pytest
from kpiplatform_stripe import client as api
from kpiplatform_stripe.client import MalformedAnswer
from kpiplatform_stripe.sandbox import Sandbox
from stripe_helpers import API_KEY


def lists_of(sandbox, *resources: str):
    """api.lists over these resources, as a backfill asks for them."""
    client = api.client_for({"api_key": API_KEY})
    return api.lists(
        client,
        [
            (r, f"/v1/{r}", r, None, {"status": "all"} if r == "subscriptions" else {})
            for r in resources
        ],
    )


def test_every_page_of_each_list_comes_once_in_order_across_lists(sandbox, monkeypatch):
    monkeypatch.setattr(api, "PAGE_SIZE", 7)  # several pages per list
    keys, got = [], {}
    for key, objects, last, _more in lists_of(sandbox, "customers", "subscriptions", "invoices"):
        keys.append(key)
        got.setdefault(key, []).extend(o["id"] for o in objects)
        assert last == objects[-1]["id"]
    # One list after the other, each whole, newest first, no page twice.
    assert [k for i, k in enumerate(keys) if i == 0 or keys[i - 1] != k] == list(got)
    assert list(got) == ["customers", "subscriptions", "invoices"]
    for resource, ids in got.items():
        assert ids == [o["id"] for o in sandbox.store.listing(resource)]


def test_the_next_list_is_read_while_the_caller_is_still_on_the_previous_one(sandbox):
    stall = sandbox.stall("/v1/subscriptions")
    reader = lists_of(sandbox, "customers", "subscriptions")
    key, *_ = next(reader)  # the caller holds the customers' only page...
    assert key == "customers"
    # ...and the subscriptions are already asked for.
    assert stall.waiting.wait(5)
    stall.release()
    assert next(reader)[0] == "subscriptions"
    reader.close()


def test_an_error_comes_after_the_pages_before_it(sandbox):
    sandbox.malformed_page(path="/v1/subscriptions")
    reader = lists_of(sandbox, "customers", "subscriptions")
    key, objects, _last, _more = next(reader)
    assert key == "customers" and len(objects) == len(sandbox.store.listing("customers"))
    with pytest.raises(MalformedAnswer, match="subscriptions"):
        next(reader)


def test_closing_the_reader_stops_its_thread(sandbox, monkeypatch):
    monkeypatch.setattr(api, "PAGE_SIZE", 1)  # far more pages than are read ahead
    reader = lists_of(sandbox, "invoices")
    next(reader)
    reader.close()
    deadline = time.monotonic() + 5
    while any(t.name == "stripe-list" for t in threading.enumerate()):
        assert time.monotonic() < deadline, "the reader thread is still running"
        time.sleep(0.05)
    served = len(sandbox.requests)
    time.sleep(0.3)
    assert len(sandbox.requests) == served  # nothing more is asked of Stripe
    assert served <= api.READ_AHEAD_PAGES + 2


def test_the_sandbox_adds_its_latency_to_every_answer(catalogue, monkeypatch):
    with Sandbox(copy.deepcopy(catalogue), keys=(API_KEY,), latency_ms=80) as slow:
        monkeypatch.setenv("KPI_STRIPE_API_BASE", slow.url)
        client = api.client_for({"api_key": API_KEY})
        for _ in range(2):
            began = time.perf_counter()
            api.call(client, "/v1/prices", "prices", limit=1)
            assert time.perf_counter() - began >= 0.08
