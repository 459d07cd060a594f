"""Calls to HubSpot through the official ``hubspot-api-client``, with its errors in words.

The API address is a server setting (``KPI_HUBSPOT_API_BASE``, the real API when unset),
never a company's field. The SDK's own retries are off (urllib3 would not retry a search,
which is a POST, anyway): 429 and 5xx answers become :class:`~kpiplatform.sdk.RetryLater`
for :func:`~kpiplatform.sdk.with_retries`, 401 and 403 :class:`CredentialsRejected`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import hubspot
import urllib3
from hubspot.crm.contacts.exceptions import ApiException as ContactsApiException
from hubspot.crm.deals.exceptions import ApiException as DealsApiException
from hubspot.crm.objects.exceptions import ApiException as ObjectsApiException
from hubspot.crm.objects.feedback_submissions.exceptions import (
    ApiException as FeedbackApiException,
)
from urllib3.util.retry import Retry

from kpiplatform.sdk import CredentialsRejected, RetryLater, with_retries

API_BASE_ENV = "KPI_HUBSPOT_API_BASE"
DEFAULT_API_BASE = "https://api.hubapi.com"
# Each API package of the SDK has its own exception classes.
API_ERRORS = (ContactsApiException, DealsApiException, FeedbackApiException, ObjectsApiException)
# HubSpot's search allows about 4 requests a second per token and answers 429 without a
# Retry-After: exponential back-off from one second, five attempts.
ATTEMPTS = 5


class HubSpotError(Exception):
    """An answer of HubSpot that fails the sync (in words, never with the token)."""


class FeatureUnavailable(HubSpotError):
    """The account or token has no access to this object type (403 on an optional one)."""


def api_base() -> str:
    return os.environ.get(API_BASE_ENV) or DEFAULT_API_BASE


def client(access_token: str) -> hubspot.Client:
    return hubspot.Client.create(access_token=access_token, host=api_base(), retry=Retry(total=0))


def api_for(hs: hubspot.Client, object_type: str):
    """The SDK's discovery object of ``object_type`` (``basic_api``, ``search_api``)."""
    if object_type == "contacts":
        return hs.crm.contacts
    if object_type == "deals":
        return hs.crm.deals
    return getattr(hs.crm.objects, object_type)


def call(what: str, fn: Callable[..., Any], *args: Any, optional: bool = False, **kwargs: Any):
    """``fn(*args, **kwargs)`` with retries of 429 and 5xx; ``what`` names the call in
    messages ("the contacts list"). ``optional``: a 403 means the account lacks the feature
    (:class:`FeatureUnavailable`) rather than refused credentials."""
    return with_retries(_once, what, fn, args, kwargs, optional, attempts=ATTEMPTS)


def _once(what, fn, args, kwargs, optional):
    try:
        return fn(*args, **kwargs)
    except API_ERRORS as exc:
        raise _translated(what, exc, optional) from None
    except urllib3.exceptions.HTTPError as exc:
        # Unreachable, reset, timed out: worth another try, like a 5xx.
        raise RetryLater(
            f"HubSpot could not be reached for {what} ({type(exc).__name__})."
        ) from None
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        # The SDK refuses an answer missing required fields while parsing it.
        raise HubSpotError(f"HubSpot answered a malformed page for {what}: {exc}") from None


def _translated(what: str, exc, optional: bool) -> Exception:
    status = exc.status or 0
    message = _message(exc.body) or exc.reason or "no message"
    said = f"HubSpot answered {status} for {what}: {message}"
    if status in (401, 403) and not (optional and status == 403):
        return CredentialsRejected(
            f"HubSpot refused the access token ({status}): {message.rstrip('.')}. Create a "
            "new private-app access token in HubSpot (Settings, Integrations, Private "
            "apps) and save it here."
        )
    if status == 403:
        return FeatureUnavailable(said)
    if status == 429 or status >= 500:
        headers = exc.headers or {}
        return RetryLater(said, retry_after=headers.get("Retry-After"))
    return HubSpotError(said)


def _message(body: Any) -> str:
    # HubSpot's error body: {"status": "error", "message": ..., "category": ...}.
    try:
        parsed = json.loads(body)
    except (TypeError, ValueError):
        return ""
    if isinstance(parsed, dict):
        return str(parsed.get("message") or "")[:300]
    return ""
