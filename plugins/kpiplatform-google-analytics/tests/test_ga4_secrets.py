"""The service-account key's private key never leaves the connection's encrypted secrets: not
in an API answer, a log line, a task message, a run's error, a stored plugin error or
anything sent to the API (the client sends a JWT signed with it, never the key)."""

from __future__ import annotations

import json
import logging

from ga4_testing import create, run_sync

from kpiplatform.celery import app
from kpiplatform.connectors.models import Connection, SyncRun
from kpiplatform.plugins.models import PluginError
from kpiplatform.testing.queues import own_task_queue


def key_fragments(info: dict) -> list[str]:
    """The private key's base64 lines: any one of them showing would be a leak."""
    lines = info["private_key"].strip().splitlines()[1:-1]
    assert len(lines) > 10
    return lines


def test_the_private_key_appears_in_no_answer_log_message_or_request(
    acme, sandbox, key_file, service_account, caplog, django_capture_on_commit_callbacks
):
    info = service_account[0]
    fragments = key_fragments(info)
    broken = json.dumps({**info, "private_key": info["private_key"].replace("M", "!", 3)})
    seen: list[str] = []
    caplog.set_level(logging.DEBUG)
    with own_task_queue() as queue_name:
        created = create(acme, key_file)
        seen.append(created.content.decode())
        connection_id = created.json()["id"]
        client = acme.client("admin")
        url = f"/api/v1/connections/{connection_id}/"
        seen.append(client.post(url + "check/").content.decode())
        with django_capture_on_commit_callbacks(execute=True):
            seen.append(client.post(url + "sync/").content.decode())
        with app.connection_for_write() as broker:
            message = broker.default_channel.basic_get(queue=queue_name, no_ack=True)
        with acme.activate():
            from kpiplatform.connectors import sync

            sync.run(connection_id)  # the queued run, as the worker would
        sandbox.malform_report()
        run_sync(acme, connection_id)  # fails: logged with its reason
        patched = client.patch(
            url, {"secrets": {"service_account_json": broken}}, content_type="application/json"
        )
        seen.append(patched.content.decode())
        seen.append(client.post(url + "check/").content.decode())  # the key cannot be read
        run_sync(acme, connection_id)
        for path in ("", "runs/"):
            seen.append(client.get(url + path).content.decode())
        seen.append(client.get("/api/v1/connections/").content.decode())
        seen.append(client.get("/api/v1/plugins/").content.decode())

    assert message is not None
    body = message.body.decode() if isinstance(message.body, bytes) else str(message.body)
    assert json.loads(body)[0] == [connection_id]  # the id, and nothing else
    seen += [body, json.dumps(message.headers, default=str), caplog.text]
    seen += [f"{s.path} {json.dumps(s.body)} {s.answer}" for s in sandbox.served]
    with acme.activate():
        seen += [f"{r.error} {r.progress}" for r in SyncRun.objects.all()]
        seen += [Connection.objects.get(pk=connection_id).health_reason]
        seen += [f"{e.message} {e.traceback}" for e in PluginError.objects.all()]
        assert Connection.objects.get(pk=connection_id).secret_values() == {
            "service_account_json": broken
        }
    everything = "\n".join(seen)
    assert "failed" in caplog.text  # the failures were logged...
    assert "private key cannot be read" in everything  # ...and said in words
    for fragment in fragments:
        assert fragment not in everything
    assert info["private_key"] not in everything
