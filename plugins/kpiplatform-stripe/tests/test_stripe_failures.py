"""Upstream trouble: Retry-After honoured, 5xx retried, a revoked key marks the connection,
a malformed page fails the run and leaves what came before it, an old cursor resyncs."""

from __future__ import annotations

import datetime as dt
import time

from django.utils import timezone
from kpiplatform_stripe.plugin import STAGES
from stripe_helpers import connect, counts, expected_counts, last_run, stored, sync_now

from kpiplatform.connectors.models import Connection, SourceObject
from kpiplatform.data.models import Customer


def test_a_429_waits_the_retry_after_then_the_sync_goes_on(acme, sandbox):
    connection_id = connect(acme)
    sandbox.rate_limit(times=2, retry_after="1", path="/v1/customers")
    sandbox.server_error(times=1, status=503, path="/v1/products")
    began = time.monotonic()
    assert sync_now(acme, connection_id).startswith("succeeded")
    waited = time.monotonic() - began
    assert waited >= 2  # twice the Retry-After of one second
    paths = sandbox.requests
    assert paths.count("/v1/customers") == 3 + 0  # two refused, then the first page
    assert paths.count("/v1/products") == 2  # one 503, then the page
    want = expected_counts(sandbox.store)
    assert {k: counts(acme)[k] for k in want} == want


def test_a_revoked_key_marks_the_connection_as_needing_new_credentials(acme, sandbox):
    connection_id = connect(acme)
    sandbox.revoke()
    assert sync_now(acme, connection_id).startswith("failed")
    client = acme.client("admin")
    answer = client.get(f"/api/v1/connections/{connection_id}/").json()
    assert answer["health"] == "needs_credentials"
    assert answer["health_reason"].startswith("Stripe refused the API key (401 Unauthorized)")
    check = client.post(f"/api/v1/connections/{connection_id}/check/").json()
    assert check["ok"] is False and "401" in check["error"]
    assert stored(acme, Customer) == {}


def test_a_malformed_page_fails_the_run_and_keeps_the_earlier_pages(acme, sandbox):
    connection_id = connect(acme)
    sandbox.malformed_page(path="/v1/subscriptions")
    assert sync_now(acme, connection_id).startswith("failed")
    run = last_run(acme)
    assert run.status == "failed"
    assert "subscriptions" in run.error and "not readable" in run.error
    # The customers listed before it are stored, and the cursor is where they ended.
    assert len(stored(acme, Customer)) == len(sandbox.store.listing("customers"))
    with acme.activate():
        state = Connection.objects.get(pk=connection_id).state
    # The last page stored is the coupons' (the list before the subscriptions).
    assert state["mode"] == "backfill" and STAGES[state["stage"]] == "coupons"
    # The next sync resumes there and completes.
    assert sync_now(acme, connection_id).startswith("succeeded")
    want = expected_counts(sandbox.store)
    assert {k: counts(acme)[k] for k in want} == want


def test_a_cursor_older_than_the_events_retention_starts_a_full_resync(acme, sandbox):
    connection_id = connect(acme)
    assert sync_now(acme, connection_id).startswith("succeeded")
    # Deleted at Stripe while no sync ran: the event saying so is older than the new cursor.
    gone = sandbox.store.listing("customers")[-1]["id"]
    sandbox.delete_customer(gone, at=int(time.time()) - 20 * 86400)
    kept = sandbox.store.listing("customers")[0]["id"]
    assert gone in stored(acme, Customer)
    with acme.activate():
        # As if that sync ran 31 days ago: its cursor and what it stored.
        connection = Connection.objects.get(pk=connection_id)
        connection.state = {**connection.state, "cursor_at": int(time.time()) - 31 * 86400}
        connection.save(update_fields=["state"])
        SourceObject.objects.filter(connection_id=connection_id).update(
            updated_at=timezone.now() - dt.timedelta(days=31)
        )
    listed = len(sandbox.requests)
    assert sync_now(acme, connection_id).startswith("succeeded")
    assert "/v1/customers" in sandbox.requests[listed:]  # listed again
    assert last_run(acme).progress == "backfill done: following Stripe's events"
    want = expected_counts(sandbox.store)
    assert {k: counts(acme)[k] for k in want} == want
    # The sweep tombstoned the customer Stripe no longer lists, and only it.
    live = stored(acme, Customer)
    assert gone not in live and kept in live
    with acme.activate():
        assert Customer.objects.get(source="stripe", external_id=gone).deleted_at is not None
    assert last_run(acme).counts["customers"]["deleted"] == 1
