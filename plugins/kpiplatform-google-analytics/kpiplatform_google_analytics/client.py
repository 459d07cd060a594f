"""The official Data API client, built from a connection's config, and its errors in words.

The API address is a server setting (``KPI_GA4_API_BASE``, unset: Google), never a field a
company edits. Credentials are always given explicitly, from the service-account key: with
none, google-auth would look for default credentials and probe the cloud metadata server.
The client signs its own JWT with the key (no token exchange); when the address is a sandbox,
the key's token address is pointed at it too, so nothing ever reaches Google from a sandbox.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import google.auth.exceptions
import requests
from google.analytics.data_v1beta import BetaAnalyticsDataClient
from google.analytics.data_v1beta.types import RunReportRequest, RunReportResponse
from google.api_core import exceptions
from google.api_core.client_options import ClientOptions
from google.oauth2 import service_account

from kpiplatform.sdk import CredentialsRejected, RetryLater

from .mapping import ConfigError

API_BASE_ENV = "KPI_GA4_API_BASE"
SCOPES = ["https://www.googleapis.com/auth/analytics.readonly"]
PROPERTY_ID = re.compile(r"^[0-9]{1,20}$")
TIMEOUT_S = 60.0


def property_id(config: dict[str, Any]) -> str:
    value = str(config.get("property_id", "")).strip()
    if value.startswith("properties/"):
        value = value[len("properties/") :]
    if not PROPERTY_ID.match(value):
        raise ConfigError(
            "The property id is the number in Google Analytics under Admin > Property "
            "details (digits only, such as 123456789)."
        )
    return value


def service_account_info(config: dict[str, Any]) -> dict[str, Any]:
    """The key file's content. A key that cannot work is refused as credentials are (the
    connection needs a new one); the message never quotes it (it holds the private key)."""
    try:
        info = json.loads(config.get("service_account_json") or "")
    except (TypeError, ValueError):
        info = None
    if not isinstance(info, dict) or info.get("type") != "service_account":
        raise CredentialsRejected(
            "The service-account key is not a Google service-account key file: paste the "
            'whole JSON file (it has "type": "service_account").'
        )
    missing = [k for k in ("client_email", "private_key") if not info.get(k)]
    if missing:
        raise CredentialsRejected(
            f"The service-account key file has no {' or '.join(missing)}: paste the whole file."
        )
    return info


def api_base() -> str | None:
    base = os.environ.get(API_BASE_ENV, "").strip().rstrip("/")
    if not base:
        return None
    if not base.startswith(("http://", "https://")):
        raise ConfigError(f"{API_BASE_ENV} must start with http:// or https:// (got {base!r}).")
    return base


def make_client(config: dict[str, Any]) -> BetaAnalyticsDataClient:
    info = service_account_info(config)
    base = api_base()
    if base:
        info = {**info, "token_uri": f"{base}/token"}
    try:
        credentials = service_account.Credentials.from_service_account_info(info, scopes=SCOPES)
    except (ValueError, TypeError, KeyError):
        # The library's message may quote the key material: say what is wrong instead.
        raise CredentialsRejected(
            "The service-account key file's private key cannot be read: download a new key "
            "file for the service account."
        ) from None
    options = ClientOptions(api_endpoint=base) if base else None
    return BetaAnalyticsDataClient(
        credentials=credentials, transport="rest", client_options=options
    )


def _said(exc: exceptions.GoogleAPICallError) -> str:
    """The API's own message, without the request line the REST client puts before it."""
    message = str(exc.message or "")
    if message.startswith(("POST ", "GET ")) and ": " in message:
        message = message.split(": ", 1)[1]
    return message


def _retry_after(exc: exceptions.GoogleAPICallError) -> str | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or {}
    return headers.get("Retry-After")


def run_report(client: BetaAnalyticsDataClient, request: RunReportRequest) -> RunReportResponse:
    """One ``runReport`` call; quota and server errors become :class:`RetryLater` (give this
    function to ``with_retries``), refused credentials :class:`CredentialsRejected`."""
    try:
        return client.run_report(request=request, timeout=TIMEOUT_S)
    except exceptions.TooManyRequests as exc:
        raise RetryLater(
            f"Google Analytics quota exhausted (429 RESOURCE_EXHAUSTED): {_said(exc)}",
            retry_after=_retry_after(exc),
        ) from None
    except exceptions.ServerError as exc:
        raise RetryLater(
            f"Google Analytics answered {exc.code} ({_said(exc)})", retry_after=_retry_after(exc)
        ) from None
    except (exceptions.Unauthorized, exceptions.Forbidden) as exc:
        raise CredentialsRejected(
            f"Google Analytics refused the service account ({exc.code}: {_said(exc)}). Give "
            "the service account's e-mail the Viewer role on the property (Admin > Property "
            "access management), or paste a new key file."
        ) from None
    except exceptions.GoogleAPICallError as exc:
        raise RuntimeError(
            f"Google Analytics refused the report ({exc.code}: {_said(exc)})"
        ) from None
    except google.auth.exceptions.RefreshError:
        raise CredentialsRejected(
            "Google refused the service-account key (it was deleted or disabled): create a "
            "new key file for the service account and paste it."
        ) from None
    except (requests.ConnectionError, requests.Timeout, google.auth.exceptions.TransportError):
        raise RetryLater("Google Analytics could not be reached") from None
