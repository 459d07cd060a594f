"""The sandbox's objects: the seed's list resources, newest first, with an index by id.

Mutations (what a test or the demo does to the "company" while a connector syncs) change the
objects and append the events Stripe would send, so the change feed and the objects agree.
"""

from __future__ import annotations

import copy
import itertools
import json
import threading
import time
from pathlib import Path
from typing import Any

RESOURCES = (
    "customers",
    "products",
    "prices",
    "coupons",
    "tax_rates",
    "subscriptions",
    "invoices",
    "invoice_payments",
    "invoiceitems",
    "charges",
    "refunds",
    "credit_notes",
    "events",
)
OBJECT_NAMES = {
    "customers": "customer",
    "products": "product",
    "prices": "price",
    "coupons": "coupon",
    "tax_rates": "tax_rate",
    "subscriptions": "subscription",
    "invoices": "invoice",
    "invoice_payments": "invoice_payment",
    "invoiceitems": "invoiceitem",
    "charges": "charge",
    "refunds": "refund",
    "credit_notes": "credit_note",
    "events": "event",
}
API_VERSION = "2026-10-28.endive"


def _subscription_of(invoice: dict) -> str | None:
    return ((invoice.get("parent") or {}).get("subscription_details") or {}).get("subscription")


# What the billing simulation looks up (name: the list, the key of an object): without an
# index each lookup would scan a list of hundreds of thousands of objects.
LOOKUPS = {
    "payments_of_charge": ("invoice_payments", lambda o: (o.get("payment") or {}).get("charge")),
    "invoices_of_subscription": ("invoices", _subscription_of),
}


class Store:
    """Every object of the sandbox, thread-safe (the server is threaded)."""

    def __init__(self, seed: dict[str, list[dict]], tag: str = "live") -> None:
        self.lock = threading.RLock()
        self.tag = tag
        self.lists: dict[str, list[dict]] = {r: list(seed.get(r, [])) for r in RESOURCES}
        self.index: dict[str, dict[str, dict]] = {
            r: {o["id"]: o for o in objects} for r, objects in self.lists.items()
        }
        self._ids = itertools.count(1)
        # Each list's positions by id, built when a page asks and dropped when the list
        # changes: a page costs what it holds, not the whole list, as Stripe's do.
        self._positions: dict[str, dict[str, int] | None] = dict.fromkeys(RESOURCES)
        self._lookups: dict[str, dict[str, list[dict]]] = {}  # built on first use

    @classmethod
    def from_file(cls, path: str | Path) -> Store:
        return cls(json.loads(Path(path).read_text()))

    # --- reading -------------------------------------------------------------------------

    def get(self, resource: str, object_id: str) -> dict | None:
        with self.lock:
            return self.index[resource].get(object_id)

    def listing(self, resource: str) -> list[dict]:
        with self.lock:
            return list(self.lists[resource])

    def related(self, lookup: str, key: str) -> list[dict]:
        """The objects a LOOKUPS entry finds for ``key`` (e.g. the invoices of a
        subscription), in list order."""
        with self.lock:
            if lookup not in self._lookups:
                resource, _ = LOOKUPS[lookup]
                self._lookups[lookup] = {}
                for obj in self.lists[resource]:
                    self._looked_up(resource, obj)
            return list(self._lookups[lookup].get(key, ()))

    def _looked_up(self, resource: str, obj: dict) -> None:
        for lookup, (of, key_of) in LOOKUPS.items():
            if of == resource and lookup in self._lookups and (key := key_of(obj)):
                self._lookups[lookup].setdefault(key, []).append(obj)

    def positions(self, resource: str) -> dict[str, int]:
        """Where each object of the list is (call with the lock held)."""
        found = self._positions[resource]
        if found is None:
            found = {o["id"]: i for i, o in enumerate(self.lists[resource])}
            self._positions[resource] = found
        return found

    # --- writing -------------------------------------------------------------------------

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_{self.tag}{next(self._ids):010d}"

    def add(self, resource: str, obj: dict) -> dict:
        with self.lock:
            self.lists[resource].insert(0, obj)  # newest first
            self.index[resource][obj["id"]] = obj
            self._positions[resource] = None
            self._looked_up(resource, obj)
        return obj

    def emit(self, event_type: str, obj: dict, previous: dict | None = None) -> dict:
        """Append the event of a change (a snapshot of the object, as Stripe renders it)."""
        with self.lock:
            event = {
                "id": self.new_id("evt"),
                "object": "event",
                "api_version": API_VERSION,
                "created": int(time.time()),
                "data": {"object": copy.deepcopy(obj)},
                "livemode": False,
                "pending_webhooks": 1,
                "request": {"id": None, "idempotency_key": None},
                "type": event_type,
            }
            if previous:
                event["data"]["previous_attributes"] = previous
            return self.add("events", event)

    def remove(self, resource: str, object_id: str) -> dict | None:
        with self.lock:
            obj = self.index[resource].pop(object_id, None)
            if obj is not None:
                self.lists[resource] = [o for o in self.lists[resource] if o["id"] != object_id]
                self._positions[resource] = None
                for lookup, (of, _) in LOOKUPS.items():
                    if of == resource:
                        self._lookups.pop(lookup, None)
            return obj


def page(
    objects: list[dict], query: dict[str, Any], url: str, positions: dict[str, int] | None = None
) -> dict:
    """A Stripe list object of ``objects`` (newest first) for limit, starting_after and
    ending_before, as Stripe pages: ending_before gives the objects just newer than it.
    ``positions``: where each object is in ``objects``, when known (Store.positions)."""
    limit = max(1, min(int(query.get("limit") or 10), 100))
    if positions is None:
        positions = {o["id"]: i for i, o in enumerate(objects)}
    after, before = query.get("starting_after"), query.get("ending_before")
    if before:
        end = positions.get(before, 0)
        start = max(0, end - limit)
        data, has_more = objects[start:end], start > 0
    else:
        start = positions[after] + 1 if after and after in positions else 0
        data = objects[start : start + limit]
        has_more = start + limit < len(objects)
    return {"object": "list", "data": data, "has_more": has_more, "url": url}
