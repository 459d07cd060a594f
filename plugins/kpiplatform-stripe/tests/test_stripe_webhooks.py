"""Stripe webhooks: a per-connection address on the company host, the signature checked with
the connection's signing secret, each event applied once, and nothing of one company
reachable from another."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import stripe
from django.test import Client
from stripe_helpers import WEBHOOK_SECRET, connect, stored, sync_now

from kpiplatform.connectors import disconnect, sync
from kpiplatform.connectors.models import SourceObject, SyncRun, WebhookEvent
from kpiplatform.data.models import DATASETS, Payment


def address(company, connection_id: int) -> str:
    answer = company.client("admin").get(f"/api/v1/connections/{connection_id}/webhook/")
    assert answer.status_code == 200, answer.content
    url = answer.json()["url"]
    assert urlsplit(url).hostname == company.host
    return urlsplit(url).path


def post(company, path: str, body: str, signature: str, host: str | None = None):
    # A client that enforces CSRF, as a browser's would be checked: the webhook is exempt.
    client = Client(HTTP_HOST=host or company.host, enforce_csrf_checks=True)
    return client.post(path, body, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature)


def signed(body: str, secret: str = WEBHOOK_SECRET) -> str:
    return stripe.WebhookSignature.generate_signature_header(body, secret)


def runs(company) -> list[tuple]:
    with company.activate():
        return list(SyncRun.objects.values_list("status", "trigger"))


def test_a_bad_signature_gets_400_and_changes_nothing(acme, sandbox):
    connection_id = connect(acme)
    sync_now(acme, connection_id)
    path = address(acme, connection_id)
    charge = next(c for c in sandbox.store.listing("charges") if c["status"] == "succeeded")
    sandbox.refund(charge["id"], 500)
    body = json.dumps(sandbox.latest_event())
    for signature in ("", "t=1,v1=00", signed(body, "whsec_someone_else")):
        answer = post(acme, path, body, signature)
        assert answer.status_code == 400, answer.content
        assert "signature" in answer.json()["error"]["message"].lower()
    tampered = signed(body)
    answer = post(acme, path, body.replace('"amount"', '"amount" '), tampered)
    assert answer.status_code == 400
    with acme.activate():
        assert not WebhookEvent.objects.exists()
    assert runs(acme) == [("succeeded", "manual")]  # no sync started
    assert post(acme, "/webhooks/not-a-token/", body, signed(body)).status_code == 404


def test_the_same_event_delivered_twice_is_applied_once(acme, sandbox):
    connection_id = connect(acme)
    sync_now(acme, connection_id)
    path = address(acme, connection_id)
    charge = next(c for c in sandbox.store.listing("charges") if c["status"] == "succeeded")
    refund = sandbox.refund(charge["id"], 700)
    event = sandbox.latest_event()
    body = json.dumps(event)
    first = post(acme, path, body, signed(body))
    assert first.status_code == 200, first.content
    assert first.json()["duplicate"] is False
    again = post(acme, path, body, signed(body))
    assert again.status_code == 200
    assert again.json() == {"received": event["id"], "duplicate": True}
    with acme.activate():
        assert WebhookEvent.objects.filter(event_id=event["id"]).count() == 1
    assert sorted(runs(acme)) == [("queued", "webhook"), ("succeeded", "manual")]
    with acme.activate():
        assert sync.run(connection_id).startswith("succeeded")
    refunds = stored(acme, Payment, kind="refund")
    assert [r for r in refunds if r == refund["id"]] == [refund["id"]]
    assert refunds[refund["id"]]["amount_minor"] <= 700
    assert len(refunds) == len(sandbox.store.listing("refunds"))  # none twice


def test_another_company_sees_no_webhook_address_run_or_connection(acme, globex, sandbox):
    connection_id = connect(acme)
    path = address(acme, connection_id)
    body = json.dumps({"id": "evt_x", "object": "event", "type": "customer.updated"})
    # Acme's address posted to Globex's host is no address at all.
    assert post(globex, path, body, signed(body)).status_code == 404
    intruder = globex.client("admin")
    base = f"/api/v1/connections/{connection_id}/"
    for url in (base, base + "webhook/", base + "runs/"):
        assert intruder.get(url).status_code == 404
    assert acme.client("viewer").get(base + "webhook/").status_code == 403
    with globex.activate():
        assert not WebhookEvent.objects.exists()


def test_the_connection_page_shows_admins_the_webhook_address(acme, sandbox):
    connection_id = connect(acme)
    path = address(acme, connection_id)
    page = acme.client("admin").get(f"/connections/{connection_id}/")
    assert page.status_code == 200
    assert f'value="http://{acme.host}{path}"' in page.content.decode()
    # Whoever knows the address can start syncs: only admins see the page.
    assert acme.client("analyst").get(f"/connections/{connection_id}/").status_code == 403


def test_a_connection_being_disconnected_takes_no_webhook_and_then_leaves_nothing(acme, sandbox):
    connection_id = connect(acme)
    sync_now(acme, connection_id)
    path = address(acme, connection_id)
    with acme.activate():
        assert SourceObject.objects.filter(connection_id=connection_id).exists()
    answer = acme.client("admin").delete(f"/api/v1/connections/{connection_id}/?keep_data=false")
    assert answer.status_code == 202, answer.content
    charge = next(c for c in sandbox.store.listing("charges") if c["status"] == "succeeded")
    sandbox.refund(charge["id"], 500)
    body = json.dumps(sandbox.latest_event())
    refused = post(acme, path, body, signed(body))
    assert refused.status_code == 409
    assert refused.json()["error"]["message"] == (
        "This connection is being disconnected and the records it brought deleted: "
        "no sync of it starts."
    )
    with acme.activate():
        assert not WebhookEvent.objects.exists()  # not recorded: a later delivery is new
    assert runs(acme) == [("succeeded", "manual")]

    with acme.activate():  # the removal task's body, as the worker runs it
        assert disconnect.remove(connection_id).said.startswith("done: ")
        assert not SourceObject.objects.exists()
        for model in DATASETS.values():
            assert not model.objects.filter(source="stripe").exists(), model
    assert post(acme, path, body, signed(body)).status_code == 404  # the address went with it
