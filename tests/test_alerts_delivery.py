"""Alert deliveries on a real Celery worker to receivers on loopback: a signed webhook whose
signature the receiver verifies, a receiver answering 500 retried and then marked failed
while the other channel is delivered at once; and e-mail to a real SMTP server."""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import socket
import threading
import time
import uuid
from decimal import Decimal

import pytest
from django.db import connection

from kpiplatform.testing.companies import create_test_company
from kpiplatform.testing.data import load_records
from kpiplatform.testing.kpis import (
    WORKED_EXAMPLE_SEGMENTS,
    configure_company,
    mrr_segment,
    recompute_all,
    recompute_pending,
)
from kpiplatform.testing.processes import start_celery_worker, wait_until

SECRET = "whsec-" + uuid.uuid4().hex


def verify(secret: str, headers, body: bytes, tolerance_s: int = 300) -> bool:
    """What a receiver does: recompute the HMAC over timestamp "." body, compare in constant
    time, and refuse a timestamp too old (a replay)."""
    timestamp = headers.get("X-KPI-Timestamp", "")
    given = headers.get("X-KPI-Signature", "")
    expected = (
        "sha256="
        + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    )
    fresh = timestamp.isdigit() and abs(time.time() - int(timestamp)) <= tolerance_s
    return fresh and hmac.compare_digest(given, expected)


class Receiver:
    """An HTTP server on loopback that records each POST and answers ``status`` after
    ``delay_s``."""

    def __init__(self, status: int = 200, delay_s: float = 0) -> None:
        self.requests: list[tuple[float, dict, bytes]] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((time.monotonic(), dict(self.headers), body))
                time.sleep(delay_s)
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok" if status < 300 else b"boom")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.worker
def test_signed_webhook_is_verified_and_a_failing_receiver_is_retried_without_delaying_it(
    standing_companies, django_db_blocker, task_queue, tmp_path, settings
):
    from kpiplatform.alerts.models import Delivery

    settings.KPI_ALERTS_ALLOW_PRIVATE_TARGETS = True
    good, failing = Receiver(200), Receiver(500, delay_s=1.5)
    slug = f"al{uuid.uuid4().hex[:10]}"
    with django_db_blocker.unblock():
        company = create_test_company(slug)
        connection.set_schema_to_public()
        worker = start_celery_worker(
            task_queue,
            tmp_path / "worker.log",
            env={
                "CELERY_TASK_DEFAULT_QUEUE": task_queue,
                "KPI_ALERTS_ALLOW_PRIVATE_TARGETS": "1",
                "KPI_ALERTS_DELIVERY_ATTEMPTS": "3",
                "KPI_ALERTS_RETRY_BASE_S": "0.2",
            },
            pool="prefork",
            concurrency=2,
        )
        try:
            with company.activate():
                configure_company("EUR", "UTC", "1")
                load_records("mrr_segments", WORKED_EXAMPLE_SEGMENTS)
                recompute_all()
            client = company.client("analyst")
            channels = []
            for name, url in (("good", good.url), ("failing", failing.url)):
                body = {
                    "name": name,
                    "kind": "webhook",
                    "config": {"url": url},
                    "secrets": {"secret": SECRET},
                }
                response = client.post(
                    "/api/v1/alerts/channels/", body, content_type="application/json"
                )
                assert response.status_code == 201, response.content
                channels.append(response.json()["id"])
            rule = client.post(
                "/api/v1/alerts/rules/",
                {
                    "name": "MRR over 400",
                    "kpi_key": "mrr",
                    "grain": "month",
                    "condition": "above",
                    "threshold": "400",
                    "channels": channels,
                },
                content_type="application/json",
            ).json()
            assert rule["firing"] is False  # 320

            # An import takes MRR to 420: the recompute fires the rule.
            began = time.monotonic()
            with company.activate():
                load_records(
                    "mrr_segments",
                    [{**mrr_segment("F", "2025-04-01", None, 100), "external_id": "f"}],
                )
                recompute_pending()
            wait_until(lambda: good.requests, worker, "the good receiver")
            delivered_after = good.requests[0][0] - began

            def failed():
                with company.activate():
                    d = Delivery.objects.get(channel_id=channels[1])
                    return d if d.status == "failed" else None

            failed_delivery = wait_until(failed, worker, "the failing delivery to give up")
            with company.activate():
                log = list(failed_delivery.log.values_list("number", "ok", "error"))
                sent = Delivery.objects.get(channel_id=channels[0])

            # MRR back to 320: the resolved notice reaches the good receiver too.
            with company.activate():
                load_records(
                    "mrr_segments",
                    [{**mrr_segment("F", "2025-04-01", "2025-05-01", 100), "external_id": "f"}],
                )
                recompute_pending()
            wait_until(lambda: len(good.requests) == 2, worker, "the resolved notice")
        finally:
            worker.stop()
            good.close()
            failing.close()
            connection.set_schema_to_public()
            company.company.delete(force_drop=True)

    # The good receiver had it before the failing one even answered its first try (measured
    # from the failing receiver's first request, not from the import: a loaded machine may
    # take long to pick up the tasks at all).
    failing_answered = failing.requests[0][0] + 1.5
    assert good.requests[0][0] < failing_answered, (delivered_after, failing.requests[0][0])
    (_, headers, body), (_, _, resolved_body) = good.requests
    assert verify(SECRET, headers, body)
    assert not verify(SECRET, headers, body.replace(b"420", b"999"))  # tampered
    assert not verify("another-secret", headers, body)
    payload = json.loads(body)
    assert (payload["event"], payload["kpi"], payload["value"], payload["threshold"]) == (
        "fired",
        "mrr",
        "420",
        "400",
    )
    assert payload["id"] == headers["X-KPI-Delivery"] == str(sent.key)
    assert json.loads(resolved_body)["event"] == "resolved"
    assert (sent.status, sent.attempts) == ("sent", 1)
    # Three tries in all, the same delivery key each time, then failed with the reason.
    assert [n for n, ok, _ in log] == [1, 2, 3] and not any(ok for _, ok, _ in log)
    assert all("HTTP 500" in error for _, _, error in log)
    # The fired notice's tries (the resolved notice, a delivery of its own with its own key,
    # may reach the failing receiver too before the test stops it).
    tries = [r for r in failing.requests if r[1]["X-KPI-Delivery"] == str(failed_delivery.key)]
    assert len(tries) == 3 and tries == failing.requests[:3]
    assert failed_delivery.error.endswith("The receiver answered HTTP 500.")
    # Backoff: the tries are spread out (0.2 s, then 0.4 s, after each 1.5 s answer).
    times = [t for t, _, _ in tries]
    assert times[1] - times[0] >= 1.5 + 0.2 and times[2] - times[1] >= 1.5 + 0.4


def test_a_target_that_turns_private_is_refused_at_send_time(acme, settings):
    """A host checked when the channel was saved may resolve elsewhere later (DNS
    rebinding): the address is checked again at send time and the delivery fails, unretried."""
    from kpiplatform.alerts.delivery import deliver
    from kpiplatform.alerts.models import Channel, Delivery, Event, Rule

    with acme.activate():
        channel = Channel(name="hook", kind="webhook", config={"url": "http://127.0.0.1:9/h"})
        channel.set_secret_values({"secret": "s"})
        channel.save()
        rule = Rule.objects.create(name="r", kpi_key="mrr", condition="above", threshold=Decimal(1))
        event = Event.objects.create(
            rule=rule,
            kind="fired",
            period_start="2025-01-01",
            period_end="2025-02-01",
            subject="s",
            body="b",
        )
        delivery = Delivery.objects.create(event=event, channel=channel, channel_name="hook")
        settings.KPI_ALERTS_ALLOW_PRIVATE_TARGETS = False
        assert deliver(delivery.id, 1) == "failed"
        delivery.refresh_from_db()
        assert "127.0.0.1, a loopback address" in delivery.error
        assert delivery.attempts == 1 and delivery.next_attempt_at is None


def test_email_channel_sends_through_a_real_smtp_server_on_loopback(acme, settings):
    from aiosmtpd.controller import Controller

    from kpiplatform.alerts.delivery import deliver
    from kpiplatform.alerts.models import Channel, Delivery, Event, Rule

    received = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            received.append((envelope.rcpt_tos, envelope.content.decode()))
            return "250 OK"

    with socket.socket() as probe:  # a free port on loopback
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    smtp = Controller(Handler(), hostname="127.0.0.1", port=port)
    smtp.start()
    try:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = (
            "127.0.0.1",
            smtp.server.sockets[0].getsockname()[1],
        )
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        with acme.activate():
            response = acme.client("analyst").post(
                "/api/v1/alerts/channels/",
                {
                    "name": "Ops",
                    "kind": "email",
                    "config": {"recipients": "ops@acme.test, cfo@acme.test"},
                },
                content_type="application/json",
            )
            assert response.status_code == 201, response.content
            channel = Channel.objects.get(pk=response.json()["id"])
            rule = Rule.objects.create(
                name="MRR low", kpi_key="mrr", condition="below", threshold=Decimal(500)
            )
            event = Event.objects.create(
                rule=rule,
                kind="fired",
                period_start="2025-03-01",
                period_end="2025-04-01",
                value=Decimal(320),
                subject="MRR low: MRR is below 500",
                body="MRR is 320 for 2025-03: it is below 500.",
            )
            delivery = Delivery.objects.create(event=event, channel=channel, channel_name="Ops")
            assert deliver(delivery.id, 1) == "sent"
            assert deliver(delivery.id, 1) == "skipped"
    finally:
        smtp.stop()
    ((recipients, content),) = received
    assert recipients == ["ops@acme.test", "cfo@acme.test"]
    assert "Subject: MRR low: MRR is below 500" in content
    assert "MRR is 320 for 2025-03: it is below 500." in content
    assert f"http://{acme.host}" in content or f"https://{acme.host}" in content
