"""Sending one delivery (an event through one channel): claimed, sent, logged, retried.

Each delivery has its own task, so a slow or failing receiver delays nobody else. A task
names the attempt it makes; it first claims that attempt in the database, so a task Celery
delivers twice (a worker lost after sending, a duplicate message) finds the attempt taken and
sends nothing. Only an attempt whose worker died mid-send (claimed longer ago than
``CLAIM_LEASE_S``) is made again; receivers drop the duplicate by the delivery key.
"""

from __future__ import annotations

import datetime as dt
import logging
import time

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from kpiplatform import plugins
from kpiplatform.alerts.addresses import TargetRefused
from kpiplatform.alerts.evaluate import link_for
from kpiplatform.alerts.models import Delivery, DeliveryAttempt
from kpiplatform.kpis.api import decimal_text
from kpiplatform.sdk import Notification

logger = logging.getLogger(__name__)

CLAIM_LEASE_S = 600

_CLAIM = """
UPDATE alerts_delivery SET status = 'sending', attempts = %(attempt)s, claimed_at = now()
WHERE id = %(id)s AND (
    (status IN ('pending', 'retrying') AND attempts = %(attempt)s - 1)
    OR (status = 'sending' AND attempts = %(attempt)s
        AND claimed_at < now() - make_interval(secs => %(lease)s))
) RETURNING id
"""


def max_attempts() -> int:
    return settings.KPI_ALERTS_DELIVERY_ATTEMPTS


def backoff_seconds(attempt: int) -> float:
    """Wait before the attempt after ``attempt``: doubling from KPI_ALERTS_RETRY_BASE_S."""
    return settings.KPI_ALERTS_RETRY_BASE_S * 2 ** (attempt - 1)


def _claim(delivery_id: int, attempt: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(_CLAIM, {"id": delivery_id, "attempt": attempt, "lease": CLAIM_LEASE_S})
        return cursor.fetchone() is not None


def message_for(delivery: Delivery) -> Notification:
    event = delivery.event
    rule = event.rule
    return Notification(
        subject=event.subject,
        body=event.body,
        link=link_for(rule),
        key=str(delivery.key),
        data={
            "event": event.kind,
            "rule": {"id": rule.id, "name": rule.name, "condition": rule.condition},
            "threshold": decimal_text(rule.threshold),
            "kpi": rule.kpi_key,
            "grain": rule.grain,
            "segment_kind": rule.segment_kind,
            "segment": rule.segment_value,
            "period_start": event.period_start.isoformat(),
            "period_end": event.period_end.isoformat(),
            "value": decimal_text(event.value),
            "previous_value": decimal_text(event.previous_value),
            "target": decimal_text(event.target),
            "occurred_at": event.created_at.isoformat(),
        },
    )


def deliver(delivery_id: int, attempt: int) -> str:
    """Make attempt ``attempt`` of the delivery; return its status afterwards ("skipped" when
    the attempt was made already or the delivery is not this company's)."""
    if not _claim(delivery_id, attempt):
        return "skipped"
    delivery = Delivery.objects.select_related("event__rule", "channel").get(pk=delivery_id)
    started_at = timezone.now()
    began = time.monotonic()
    error, final = _send(delivery)
    milliseconds = int((time.monotonic() - began) * 1000)
    with transaction.atomic():
        DeliveryAttempt.objects.create(
            delivery=delivery,
            number=attempt,
            started_at=started_at,
            milliseconds=milliseconds,
            ok=not error,
            error=error,
        )
        delivery.error = error
        delivery.next_attempt_at = None
        if not error:
            delivery.status = Delivery.Status.SENT
            delivery.sent_at = timezone.now()
        elif final or attempt >= max_attempts():
            delivery.status = Delivery.Status.FAILED
        else:
            wait = backoff_seconds(attempt)
            delivery.status = Delivery.Status.RETRYING
            delivery.next_attempt_at = timezone.now() + dt.timedelta(seconds=wait)
            transaction.on_commit(lambda: _retry(delivery_id, attempt + 1, wait))
        delivery.save(update_fields=["status", "sent_at", "error", "next_attempt_at"])
    if error:
        logger.warning(
            "alert delivery %s (%s) attempt %s failed: %s",
            delivery_id,
            connection.schema_name,
            attempt,
            error,
        )
    return delivery.status


def _send(delivery: Delivery) -> tuple[str, bool]:
    """("", _) when sent, else (the error in words, whether retrying is pointless)."""
    channel = delivery.channel
    if channel is None:
        return "The channel was deleted.", True
    entry = plugins.notification_channels().get(channel.kind)
    if entry is None:
        return f"No installed plugin provides the channel type {channel.kind!r}.", True
    plugin_name, kind = entry
    try:
        config = channel.full_config()
    except Exception:
        return "The channel's secrets cannot be decrypted; enter them again.", True
    call = plugins.call_plugin(
        plugin_name,
        kind.send,
        config,
        message_for(delivery),
        hook=f"send:{channel.kind}",
        record=False,  # a receiver's failure is in the delivery log, not a plugin bug
    )
    if call.ok:
        return "", False
    return (call.error or "Delivery failed.")[:2000], isinstance(call.exception, TargetRefused)


def _retry(delivery_id: int, attempt: int, wait: float) -> None:
    from kpiplatform.alerts.tasks import deliver_notification

    deliver_notification.apply_async((delivery_id, attempt), countdown=wait)
