"""Talking to Stripe through the official SDK, with our own back-off.

The SDK's ``StripeClient`` retries nothing by default, never reads ``Retry-After`` and
retries a plain 429 zero times; so every call goes through :func:`call`, which turns 429 and
5xx into ``RetryLater`` (with Stripe's Retry-After) under ``with_retries``, a refused key
into ``CredentialsRejected`` and an unreadable answer into :class:`MalformedAnswer`.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Any

import stripe

from kpiplatform.sdk import CredentialsRejected, RetryLater, with_retries

API_BASE_ENV = "KPI_STRIPE_API_BASE"
REAL_API = "https://api.stripe.com"
ATTEMPTS = 5
PAGE_SIZE = 100


class MalformedAnswer(Exception):
    """Stripe answered something that is not a Stripe object: the sync fails in words."""


class Missing(Exception):
    """The object does not exist (any more) at Stripe."""


def api_base() -> str:
    """Where the Stripe API is: a server setting (never a company's), the real one by default."""
    return os.environ.get(API_BASE_ENV, "").strip() or REAL_API


def client_for(config: dict) -> stripe.StripeClient:
    return stripe.StripeClient(
        config["api_key"], base_addresses={"api": api_base()}, max_network_retries=0
    )


def _once(client: stripe.StripeClient, path: str, what: str, params: dict) -> dict:
    # The SDK's raw requests: its transport, authentication, parameter encoding and error
    # classes, without building typed objects (which costs ten times the request: the
    # connector only reads the JSON). Errors are raised "from None": the SDK's carry the
    # request, headers included.
    try:
        return client.raw_request("get", path, **params).data
    except stripe.AuthenticationError:
        raise CredentialsRejected(
            "Stripe refused the API key (401 Unauthorized): it was revoked, rolled or mistyped. "
            "Enter a new secret or restricted key with read access."
        ) from None
    except stripe.PermissionError:
        raise CredentialsRejected(
            "Stripe refused access with this key (403 Forbidden): a restricted key needs read "
            f"access to {what}."
        ) from None
    except stripe.RateLimitError as exc:
        raise RetryLater(
            f"Stripe is rate limiting {what} (429)", retry_after=_retry_after(exc)
        ) from None
    except stripe.InvalidRequestError as exc:
        if exc.http_status == 404:
            raise Missing(what) from None
        raise MalformedAnswer(
            f"Stripe refused the request for {what} ({exc.http_status}): {exc.user_message}"
        ) from None
    except stripe.APIConnectionError:
        raise RetryLater(f"Stripe could not be reached for {what}") from None
    except stripe.APIError as exc:
        status = exc.http_status or 0
        if status >= 500:
            raise RetryLater(
                f"Stripe answered {status} for {what}", retry_after=_retry_after(exc)
            ) from None
        raise MalformedAnswer(
            f"Stripe's answer for {what} is not readable (HTTP {status}): not a Stripe object."
        ) from None


def _retry_after(exc: stripe.StripeError) -> str | None:
    headers = exc.headers or {}
    for name, value in headers.items():
        if name.lower() == "retry-after":
            return value
    return None


def call(client: stripe.StripeClient, path: str, what: str, **params: Any) -> dict:
    """One GET of the API (``/v1/...``) with the connector's back-off (Retry-After
    honoured): the JSON Stripe answered."""
    return with_retries(_once, client, path, what, params, attempts=ATTEMPTS)


def _page(
    client: stripe.StripeClient, path: str, what: str, after: str | None, params: dict
) -> tuple[list[dict], str | None, bool]:
    query = {"limit": PAGE_SIZE, **params}
    if after:
        query["starting_after"] = after
    page = call(client, path, what, **query)
    data = page.get("data")
    if not isinstance(data, list):
        raise MalformedAnswer(f"Stripe's answer for {what} is not a list of objects.")
    return data, (data[-1]["id"] if data else after), bool(page.get("has_more"))


def pages(
    client: stripe.StripeClient, path: str, what: str, after: str | None = None, **params: Any
) -> Iterator[tuple[list[dict], str | None, bool]]:
    """Pages of a list endpoint, newest first, from after ``after``: (objects, last id,
    whether more follow), read ahead as :func:`lists` reads them."""
    for _key, data, last, more in lists(client, [(path, path, what, after, params)]):
        yield data, last, more


# Pages read ahead of the caller: one page's HTTP wait and decoding then overlap the caller's
# work on the pages before it, however long that takes (a batch of 20 pages, for a sync).
READ_AHEAD_PAGES = 20
_END = object()


def lists(
    client: stripe.StripeClient,
    wanted: Iterable[tuple[str, str, str, str | None, dict]],
    ahead: int = READ_AHEAD_PAGES,
) -> Iterator[tuple[str, list[dict], str | None, bool]]:
    """The pages of several list endpoints, one after the other: ``wanted`` holds (key, path,
    what, after, params) per list; yields (key, objects, last id, whether more follow).

    One thread of its own (which only talks HTTP) requests the pages in order, one request
    in flight, and keeps up to ``ahead`` of them waiting for the caller, across the end of
    one list and the start of the next. Its errors are raised to the caller in their turn;
    closing the iterator stops it."""
    waiting: queue.Queue = queue.Queue(maxsize=ahead)
    stop = threading.Event()

    def hand_over(item) -> bool:
        while not stop.is_set():
            try:
                waiting.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for key, path, what, after, params in wanted:
                while not stop.is_set():
                    data, after, more = _page(client, path, what, after, params)
                    if not hand_over((key, data, after, more)) or not more or not data:
                        break
        except BaseException as exc:  # raised in the caller's thread, in its turn
            hand_over(exc)
        else:
            hand_over(_END)

    reader = threading.Thread(target=read, name="stripe-list", daemon=True)
    reader.start()
    try:
        while (item := waiting.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
