"""The Stripe API key and webhook secret never appear in an API answer, a page, a log line,
a run's error, a stored object or a task message: everything is captured and searched."""

from __future__ import annotations

import json
import logging

from stripe_helpers import API_KEY, WEBHOOK_SECRET, connect, sync_now

from kpiplatform.celery import app
from kpiplatform.connectors.models import SourceObject, SyncRun


def test_the_secrets_appear_nowhere(
    acme, sandbox, caplog, task_queue, django_capture_on_commit_callbacks
):
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    connection_id = connect(acme)
    admin = acme.client("admin")
    base = f"/api/v1/connections/{connection_id}/"
    with django_capture_on_commit_callbacks(execute=True):
        started = admin.post(base + "sync/")  # sends the task to this test's queue
    seen.append(started.content.decode())
    with app.connection_for_write() as broker:
        message = broker.default_channel.basic_get(queue=task_queue, no_ack=True)
    assert message is not None
    body = message.body.decode() if isinstance(message.body, bytes) else str(message.body)
    assert json.loads(body)[0] == [connection_id]  # the id, nothing else
    seen += [body, json.dumps(message.headers, default=str)]

    sync_now(acme, connection_id)  # succeeds (the queued run)
    sandbox.rate_limit(times=1, retry_after="0")
    sandbox.revoke()
    sync_now(acme, connection_id)  # fails: the key was revoked
    for url in (
        "/api/v1/connections/",
        base,
        base + "runs/",
        base + "webhook/",
        "/api/v1/connectors/",
    ):
        answer = admin.get(url)
        assert answer.status_code == 200, url
        seen.append(answer.content.decode())
    seen.append(admin.post(base + "check/").content.decode())
    for page in ("/", "/data/", "/data/payments/", "/data/customers/", "/plugins/"):
        answer = admin.get(page)
        assert answer.status_code == 200, page
        seen.append(answer.content.decode())
    with acme.activate():
        seen += [r.error + r.progress for r in SyncRun.objects.all()]
        seen += [json.dumps(o.payload) for o in SourceObject.objects.all()[:2000]]
    seen.append(caplog.text)
    assert "401" in caplog.text  # the refusal was logged...
    everything = "\n".join(seen)
    for secret in (API_KEY, WEBHOOK_SECRET, API_KEY[-12:]):
        assert secret not in everything  # ...without the secret
