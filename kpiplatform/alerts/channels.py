"""The built-in notification channels: e-mail, signed webhook and Slack incoming webhook.

This module is a plugin like any other (entry point ``channels`` of the kpiplatform
distribution): the platform gets these channels through ``register_notification_channels``
exactly as it gets a plugin's. ``send`` raises with a readable message when delivery fails;
the platform retries and keeps the delivery log.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any

from django.core import mail
from django.core.validators import validate_email

from kpiplatform.alerts import addresses
from kpiplatform.sdk import ConfigField, Notification, NotificationChannel, Tier, hookimpl

SDK_SUPPORTS = ">=1.4,<2"
TIER = Tier.ESSENTIAL  # alerts need at least these; a company cannot switch them off

SIGNATURE_HEADER = "X-KPI-Signature"
TIMESTAMP_HEADER = "X-KPI-Timestamp"
DELIVERY_HEADER = "X-KPI-Delivery"


class DeliveryFailed(Exception):
    """The receiver refused or could not be reached; the message says how."""


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 of ``timestamp`` + ``"."`` + body with the channel's secret, in hex.

    Signing the timestamp with the body lets a receiver refuse old messages replayed."""
    signed = timestamp.encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def _post(url: str, body: bytes, headers: dict[str, str]) -> None:
    try:
        response = addresses.post(url, body, headers)
    except addresses.TargetRefused:
        raise
    except OSError as exc:
        raise DeliveryFailed(f"Could not reach the receiver: {exc}") from None
    if not 200 <= response.status < 300:
        raise DeliveryFailed(f"The receiver answered HTTP {response.status}.")


def _payload(message: Notification) -> dict[str, Any]:
    return {
        "id": message.key,
        "subject": message.subject,
        "body": message.body,
        "link": message.link,
        **message.data,
    }


@dataclass
class EmailChannel(NotificationChannel):
    key: str = "email"
    name: str = "E-mail"
    config_fields: tuple[ConfigField, ...] = (
        ConfigField(
            "recipients",
            "Recipients",
            help_text="E-mail addresses, separated by commas.",
        ),
    )

    def validate(self, config: dict[str, Any]) -> None:
        recipients = recipients_of(config)
        if not recipients:
            raise ValueError("Give at least one e-mail address.")
        for address in recipients:
            try:
                validate_email(address)
            except Exception:
                raise ValueError(f"{address!r} is not an e-mail address.") from None

    def send(self, config: dict[str, Any], message: Notification) -> None:
        body = message.body + (f"\n\n{message.link}" if message.link else "")
        mail.send_mail(message.subject, body, None, recipients_of(config))


def recipients_of(config: dict[str, Any]) -> list[str]:
    return [part.strip() for part in str(config.get("recipients", "")).split(",") if part.strip()]


@dataclass
class WebhookChannel(NotificationChannel):
    key: str = "webhook"
    name: str = "Signed webhook"
    config_fields: tuple[ConfigField, ...] = (
        ConfigField("url", "URL", help_text="An http(s) URL of a public address."),
        ConfigField(
            "secret",
            "Signing secret",
            kind="secret",
            help_text="Shared with the receiver, which checks the X-KPI-Signature header.",
        ),
    )

    def validate(self, config: dict[str, Any]) -> None:
        addresses.check_url(str(config.get("url", "")))

    def send(self, config: dict[str, Any], message: Notification) -> None:
        body = json.dumps(_payload(message), sort_keys=True).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: "sha256=" + signature(str(config["secret"]), timestamp, body),
            DELIVERY_HEADER: message.key,
            "User-Agent": "kpiplatform-webhooks",
        }
        _post(str(config["url"]), body, headers)


@dataclass
class SlackChannel(NotificationChannel):
    key: str = "slack"
    name: str = "Slack (incoming webhook)"
    config_fields: tuple[ConfigField, ...] = (
        ConfigField(
            "url",
            "Incoming webhook URL",
            kind="secret",
            help_text="From Slack: Apps > Incoming Webhooks (https://hooks.slack.com/...).",
        ),
    )

    def validate(self, config: dict[str, Any]) -> None:
        addresses.check_url(str(config.get("url", "")))

    def send(self, config: dict[str, Any], message: Notification) -> None:
        text = f"*{message.subject}*\n{message.body}"
        if message.link:
            text += f"\n<{message.link}|Open in kpiplatform>"
        body = json.dumps({"text": text}).encode()
        _post(str(config["url"]), body, {"Content-Type": "application/json"})


@hookimpl
def register_notification_channels() -> list[NotificationChannel]:
    return [EmailChannel(), WebhookChannel(), SlackChannel()]
