"""Webhooks of connections: ``POST /webhooks/<token>/`` on the company host.

The token is the connection's unguessable address (:class:`WebhookEndpoint`); no session and
no CSRF token, since the upstream posts it. The connector's ``verify_webhook`` checks the
signature with the connection's secret and names the event; an event already received is
answered 200 and changes nothing (deliveries are at least once); a new one is recorded and
starts an incremental sync, or joins the one queued or running; a connection being
disconnected answers 409 and records nothing. Webhooks are a trigger: the sync reads the
upstream's API, which stays the truth.
"""

from __future__ import annotations

import logging
import secrets

from django.db import IntegrityError, transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from kpiplatform.connectors import sync
from kpiplatform.connectors.models import Connection, WebhookEndpoint, WebhookEvent
from kpiplatform.connectors.secrets import SecretsUnreadable
from kpiplatform.plugins import registry
from kpiplatform.sdk import WebhookRejected

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024


def endpoint_for(connection: Connection) -> WebhookEndpoint:
    """The connection's webhook address, made on first use."""
    endpoint, _created = WebhookEndpoint.objects.get_or_create(
        connection=connection, defaults={"token": secrets.token_urlsafe(32)}
    )
    return endpoint


def path_of(endpoint: WebhookEndpoint) -> str:
    return f"/webhooks/{endpoint.token}/"


def _error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": "webhook_refused", "message": message}}, status=status)


@csrf_exempt
@require_POST
def receive(request: HttpRequest, token: str) -> JsonResponse:
    endpoint = WebhookEndpoint.objects.select_related("connection").filter(token=token).first()
    if endpoint is None:
        return _error(404, "No connection receives webhooks at this address.")
    connection = endpoint.connection
    if len(request.body) > MAX_BODY_BYTES:
        return _error(413, "The webhook body is larger than 1 MB.")
    try:
        plugin, connector = sync.connector_for(connection.connector)
        config = connection.full_config()
    except (sync.UnknownConnector, SecretsUnreadable) as exc:
        return _error(409, str(exc))
    if not connector.accepts_webhooks:
        return _error(404, "This connection's connector does not accept webhooks.")
    headers = {name.lower(): value for name, value in request.headers.items()}
    call = registry.call_plugin(
        plugin,
        connector.verify_webhook,
        config,
        request.body,
        headers,
        hook=f"webhook:{connection.connector}",
        record=False,
    )
    if not call.ok:
        if isinstance(call.exception, WebhookRejected):
            return _error(400, str(call.exception) or "The webhook's signature is not valid.")
        registry.record_failure(call)
        return _error(400, "The webhook could not be verified.")
    event_id = call.value
    if not isinstance(event_id, str) or not event_id or len(event_id) > 255:
        return _error(400, "The webhook names no event.")
    try:
        with transaction.atomic():
            WebhookEvent.objects.create(connection=connection, event_id=event_id)
            # In the event's transaction: refused, the event is not recorded either.
            run, _joined = sync.start(connection, trigger="webhook")
    except IntegrityError:
        return JsonResponse({"received": event_id, "duplicate": True})
    except sync.Disconnecting as exc:
        return _error(409, str(exc))
    logger.info("webhook event of connection %s: sync %s", connection.pk, run.pk)
    return JsonResponse({"received": event_id, "duplicate": False, "run": run.pk})
