"""The Stripe connector: backfill through the list endpoints, then the change feed of
``/v1/events``; MRR segments derived by ``segments`` under ``mrr_rules``.

The cursor (``state``), stored by the platform with each page:

- ``mode``: ``"backfill"`` (``stage`` and ``after``, the last id read in that list) or
  ``"events"``;
- ``time_zone``: the company's time zone the segments' days were cut in; when the company
  changes it, the next sync derives every subscription's segments again first;
- ``cursor``: the newest event applied (at the start of a backfill: the newest event then,
  so the feed resumes exactly after what the lists showed), ``cursor_at`` when the feed was
  known complete up to it (the event's time, or when the feed was last read to its end) and
  ``since`` when the backfill began. Stripe keeps events 30 days: a ``cursor_at`` older than
  that starts a full resync.

Every object segments and payments are derived from is kept by the platform as a source
object (SDK 1.4), so a change re-derives a subscription's segments without listing its
invoices again, and a new definition choice can derive everything again without a resync.
"""

from __future__ import annotations

import datetime as dt
import functools
import time
import zoneinfo
from collections.abc import Generator, Iterator

import stripe

from kpiplatform.sdk import (
    ConfigField,
    Connector,
    CredentialsRejected,
    DemoSandbox,
    SourceObject,
    SyncPage,
    WebhookRejected,
    company_time_zone,
    hookimpl,
    stored_source_objects,
)
from kpiplatform_stripe import client as api
from kpiplatform_stripe import mapping, segments
from kpiplatform_stripe.client import MalformedAnswer, Missing

SDK_SUPPORTS = ">=1.6,<2"

EVENT_RETENTION_S = 30 * 86400
# A cursor this old is treated as lost: the feed might already have dropped what follows it.
RESYNC_AFTER_S = EVENT_RETENTION_S - 86400

# At most 20 types per request (Stripe's limit).
EVENT_TYPES = [
    "customer.created",
    "customer.updated",
    "customer.deleted",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "customer.subscription.paused",
    "customer.subscription.resumed",
    "invoice.created",
    "invoice.paid",
    "invoice.updated",
    "invoice.voided",
    "invoice.marked_uncollectible",
    "invoice.payment_failed",
    "invoice_payment.paid",
    "charge.succeeded",
    "charge.refunded",
    "refund.created",
    "credit_note.created",
    "price.updated",
]
# The lists a backfill reads, in order; then the segments derived from what they stored, and
# (a full resync only) the sweep of what Stripe no longer lists.
LIST_STAGES = (
    "customers",
    "products",
    "prices",
    "coupons",
    "subscriptions",
    "invoices",
    "invoice_payments",
    "charges",
    "refunds",
    "credit_notes",
)
STAGES = (*LIST_STAGES, "segments", "sweep")
# What the sweep of a full resync removes when Stripe no longer lists an object the
# connection stored (deleted upstream while the events saying so expired), kind by kind:
# the source object, and the records of it in this dataset (None: records of it are
# derived again instead: a gone invoice re-derives its subscription's segments).
SWEPT = (
    ("customer", "customers"),
    ("product", None),
    ("price", "plans"),
    ("coupon", None),
    ("subscription", "subscriptions"),
    ("invoice", None),
    ("invoice_payment", None),
    ("charge", "payments"),
    ("refund", "payments"),
    ("credit_note", None),
)
# Objects stored this long before the resync began and not since count as gone: the margin
# covers a clock difference between the worker and the database.
SWEEP_MARGIN_S = 3600
# The cursor's keys that only a backfill uses (dropped once it is done).
BACKFILL_KEYS = (
    "stage",
    "after",
    "read",
    "derived_after",
    "derived",
    "derived_all",
    "resync",
    "sweep_kind",
    "sweep_after",
    "swept",
)
LIST_PARAMS = {
    "subscriptions": {"status": "all", "expand": ["data.discounts"]},
    "invoices": {"expand": ["data.discounts"]},
}
# Objects per SyncPage: upstream list pages (100 objects) are gathered so that each write
# and its transaction carry a few thousand rows; the cursor is the last id of the batch.
PAGE_OBJECTS = 2000
# Subscriptions whose segments one page derives (source objects are read 1,000 at a time).
DERIVE_BATCH = 1000
# The list stages after the invoices: each of their pages also derives the segments of a
# batch of subscriptions (everything segments come from is stored by then), so the
# derivation runs while the next upstream page is on its way instead of after the lists.
DERIVE_DURING = ("invoice_payments", "charges", "refunds", "credit_notes")
# The demo company of `make run`: its sandbox key and size (the generator makes two years).
DEMO_KEY = "sk_test_sandbox"
DEMO_CUSTOMERS = 400


class SyncFailed(Exception):
    """A readable reason the sync stops (the platform fails the run with it)."""


class _Sync:
    """One call of ``sync``: the client, and what it read that it may need again."""

    def __init__(self, config: dict) -> None:
        self.client = api.client_for(config)
        self._prices: dict[str, dict] | None = None

    @functools.cached_property
    def zone(self) -> zoneinfo.ZoneInfo:
        """The company's time zone, which segments' days are cut in."""
        return company_time_zone()

    # --- reading stored objects -----------------------------------------------------------

    def prices(self) -> dict[str, dict]:
        if self._prices is None:
            self._prices, after = {}, None
            while batch := stored_source_objects("price", after=after, limit=1000):
                self._prices.update((o["external_id"], o["payload"]) for o in batch)
                after = batch[-1]["external_id"]
        return self._prices

    @staticmethod
    def stored(kind: str, ids, fields=None) -> dict[str, dict]:
        """The stored objects of these ids (``fields``: only those top-level keys)."""
        ids = sorted({i for i in ids if i})
        if not ids:
            return {}
        found = stored_source_objects(kind, external_ids=ids, fields=fields)
        return {o["external_id"]: o["payload"] for o in found}

    @staticmethod
    def stored_by_parent(kind: str, parents, fields=None) -> list[dict]:
        parents = sorted({p for p in parents if p})
        if not parents:
            return []
        return stored_source_objects(kind, parents=parents, fields=fields)

    # --- list stages (backfill) -----------------------------------------------------------

    def list_path(self, stage: str) -> str:
        return f"/v1/{stage}"

    def stage_page(self, stage: str, objects: list[dict]) -> SyncPage:
        """Records and source objects of one page of a list."""
        handler = getattr(self, f"_page_{stage}")
        return handler(objects)

    def _page_customers(self, objects):
        return SyncPage(
            records={"customers": [mapping.customer(o) for o in objects]},
            # The id alone: what a full resync's sweep looks for.
            source_objects={"customer": [SourceObject(o["id"], {"id": o["id"]}) for o in objects]},
        )

    def _page_products(self, objects):
        return SyncPage(source_objects={"product": [SourceObject(o["id"], o) for o in objects]})

    def _page_prices(self, objects):
        names = self.stored("product", (mapping._id(o.get("product")) for o in objects))
        if self._prices is not None:
            self._prices.update((o["id"], o) for o in objects)
        plans = [
            mapping.plan(o, (names.get(mapping._id(o.get("product"))) or {}).get("name", ""))
            for o in objects
            if o.get("type") == "recurring" or o.get("recurring")
        ]
        return SyncPage(
            records={"plans": plans},
            source_objects={"price": [SourceObject(o["id"], o) for o in objects]},
        )

    def _page_coupons(self, objects):
        return SyncPage(source_objects={"coupon": [SourceObject(o["id"], o) for o in objects]})

    def _page_subscriptions(self, objects):
        return SyncPage(
            records={"subscriptions": [mapping.subscription(o) for o in objects]},
            source_objects={
                "subscription": [
                    SourceObject(o["id"], o, mapping._id(o.get("customer"))) for o in objects
                ]
            },
        )

    def _page_invoices(self, objects):
        return SyncPage(
            source_objects={
                "invoice": [
                    SourceObject(o["id"], o, mapping.parent_subscription(o)) for o in objects
                ]
            }
        )

    def _page_invoice_payments(self, objects):
        return SyncPage(
            source_objects={
                "invoice_payment": [
                    SourceObject(o["id"], o, mapping._id((o.get("payment") or {}).get("charge")))
                    for o in objects
                ]
            }
        )

    def payments_of_charges(self, charges: list[dict], fresh: dict | None = None) -> list[dict]:
        """Payments of charges: each with the invoice it paid (through invoice payments)."""
        fresh = fresh or {}
        paid_by = {
            mapping._id((p.get("payment") or {}).get("charge")): mapping._id(p.get("invoice"))
            for p in [
                o["payload"]
                for o in self.stored_by_parent("invoice_payment", (c["id"] for c in charges))
            ]
            + list(fresh.get("invoice_payment", {}).values())
        }
        invoices = self.stored("invoice", paid_by.values(), mapping.INVOICE_FIELDS_OF_PAYMENTS)
        invoices.update(fresh.get("invoice", {}))
        return [mapping.charge_payment(c, invoices.get(paid_by.get(c["id"], ""))) for c in charges]

    def _page_charges(self, objects):
        return SyncPage(
            records={"payments": self.payments_of_charges(objects)},
            source_objects={"charge": [SourceObject(o["id"], o) for o in objects]},
        )

    def payments_of_refunds(self, refunds: list[dict], fresh: dict | None = None) -> list[dict]:
        fresh = fresh or {}
        charges = self.stored("charge", (mapping._id(r.get("charge")) for r in refunds))
        charges.update(fresh.get("charge", {}))
        paid_by = {
            mapping._id((p["payload"].get("payment") or {}).get("charge")): mapping._id(
                p["payload"].get("invoice")
            )
            for p in self.stored_by_parent("invoice_payment", charges)
        }
        for p in fresh.get("invoice_payment", {}).values():
            paid_by[mapping._id((p.get("payment") or {}).get("charge"))] = mapping._id(
                p.get("invoice")
            )
        invoices = self.stored("invoice", paid_by.values(), mapping.INVOICE_FIELDS_OF_PAYMENTS)
        invoices.update(fresh.get("invoice", {}))
        out = []
        for r in refunds:
            charge = charges.get(mapping._id(r.get("charge")))
            invoice = invoices.get(paid_by.get(mapping._id(r.get("charge")), ""))
            out.append(mapping.refund_payment(r, charge, invoice))
        return out

    def _page_refunds(self, objects):
        return SyncPage(
            records={"payments": self.payments_of_refunds(objects)},
            source_objects={
                "refund": [SourceObject(o["id"], o, mapping._id(o.get("charge"))) for o in objects]
            },
        )

    def _page_credit_notes(self, objects):
        # Money returned by a credit note reaches the payments as its refund; one credited to
        # the customer's balance is not a payment. Kept for a later choice.
        return SyncPage(
            source_objects={
                "credit_note": [
                    SourceObject(o["id"], o, mapping._id(o.get("invoice"))) for o in objects
                ]
            }
        )

    # --- segments -------------------------------------------------------------------------

    def segments_page(
        self,
        subs: dict[str, dict],
        fresh_invoices: dict[str, dict] | None = None,
        gone_invoices: frozenset[str] = frozenset(),
    ) -> SyncPage:
        """The segments of these subscriptions, derived again from everything known of them
        (but ``gone_invoices``); the segments they had before and no longer have are
        tombstoned."""
        fresh_invoices = fresh_invoices or {}
        invoices: dict[str, dict[str, dict]] = {sid: {} for sid in subs}
        for o in self.stored_by_parent("invoice", subs, segments.INVOICE_FIELDS):
            if o["external_id"] not in gone_invoices:
                invoices[o["parent"]][o["external_id"]] = o["payload"]
        for iid, inv in fresh_invoices.items():
            sid = mapping.parent_subscription(inv)
            if sid in invoices:
                invoices[sid][iid] = inv
        previous = self.stored("segment_ids", subs)
        prices = self.prices()
        records, gone, kept = [], [], []
        for sid, sub in sorted(subs.items()):
            derived = segments.derive(sub, list(invoices[sid].values()), prices, self.zone)
            ids = [r["external_id"] for r in derived]
            records.extend(derived)
            old = set((previous.get(sid) or {}).get("ids", []))
            gone.extend(sorted(old - set(ids)))
            kept.append(SourceObject(sid, {"ids": ids}))
        return SyncPage(
            records={"mrr_segments": records},
            deleted={"mrr_segments": gone} if gone else {},
            source_objects={"segment_ids": kept},
        )


def _newest_event(run: _Sync) -> dict | None:
    events = api.call(run.client, "/v1/events", "events", limit=1).get("data") or []
    return events[0] if events else None


def _backfill(run: _Sync, state: dict) -> Iterator[SyncPage]:
    if "since" not in state:
        newest = _newest_event(run)
        now = int(time.time())
        state = {
            "mode": "backfill",
            "stage": 0,
            "after": None,
            "since": now,
            "cursor": newest["id"] if newest else None,
            "cursor_at": newest["created"] if newest else now,
            "resync": bool(state.get("resync")),
            "time_zone": run.zone.key,
        }
    reader = None  # the lists still to read, from this stage on, read ahead (api.lists)
    try:
        while state["stage"] < len(STAGES):
            stage = STAGES[state["stage"]]
            if stage == "segments":
                yield from _derive_rest(run, state)
            elif stage == "sweep":
                if state.get("resync"):
                    yield from _sweep(run, state)
            else:
                if reader is None:
                    reader = _read_lists(run, LIST_STAGES.index(stage), state["after"])
                state = yield from _list_stage(run, stage, state, _one_list(reader))
            state = {**state, "stage": state["stage"] + 1, "after": None, "read": 0}
    finally:
        if reader is not None:
            reader.close()
    state = {**state, "mode": "events"}
    for key in BACKFILL_KEYS:
        state.pop(key, None)
    yield SyncPage(state=state, progress="backfill done: following Stripe's events")


def _read_lists(run: _Sync, first: int, after: str | None):
    """The pages of the list stages from ``first`` on (the first one after ``after``), in
    order, read ahead while the pages before them are handled and written."""
    return api.lists(
        run.client,
        [
            (
                stage,
                run.list_path(stage),
                stage,
                after if i == first else None,
                LIST_PARAMS.get(stage, {}),
            )
            for i, stage in enumerate(LIST_STAGES)
            if i >= first
        ],
    )


def _one_list(reader) -> Iterator[tuple[list[dict], str | None, bool]]:
    """The pages of the list ``reader`` is at, up to its last."""
    for _stage, objects, after, more in reader:
        yield objects, after, more
        if not more or not objects:
            return


def _list_stage(run: _Sync, stage: str, state: dict, pages) -> Generator[SyncPage, None, dict]:
    """The pages of one list stage; returns the state after the last of them."""
    read = state.get("read", 0)
    for objects, after in _batches(pages):
        try:
            page = run.stage_page(stage, objects)
        except mapping.Malformed as exc:
            raise SyncFailed(f"Stripe sent a malformed {stage} page: {exc}.") from None
        read += len(objects)
        state = {**state, "after": after, "read": read}
        progress = f"backfill: {stage} ({read} read)"
        if stage in DERIVE_DURING and not state.get("derived_all"):
            state = _derive_next(run, state, page)
            progress += f", MRR segments of {state.get('derived', 0)} subscriptions"
        page.state = dict(state)
        page.progress = progress
        yield page
    return state


def _batches(pages) -> Iterator[tuple[list[dict], str | None]]:
    """Upstream pages gathered into batches of about ``PAGE_OBJECTS``: (objects, last id)."""
    batch: list[dict] = []
    after = None
    for objects, page_after, _more in pages:
        batch.extend(objects)
        after = page_after
        if len(batch) >= PAGE_OBJECTS:
            yield batch, after
            batch = []
    if batch:
        yield batch, after


def _derive_next(run: _Sync, state: dict, page: SyncPage | None = None) -> dict:
    """Derive the segments of the next DERIVE_BATCH stored subscriptions (after
    ``derived_after``) into ``page``; the state after them (``derived_all`` once none is
    left)."""
    after = state.get("derived_after")
    batch = stored_source_objects("subscription", after=after, limit=DERIVE_BATCH)
    if not batch:
        return {**state, "derived_all": True}
    derived = run.segments_page({o["external_id"]: o["payload"] for o in batch})
    if page is not None:
        page.records.update(derived.records)
        page.deleted.update(derived.deleted)
        page.source_objects.update(derived.source_objects)
    return {
        **state,
        "derived_after": batch[-1]["external_id"],
        "derived": state.get("derived", 0) + len(batch),
    }


def _derive_rest(
    run: _Sync, state: dict, progress: str = "backfill: MRR segments of {derived} subscriptions"
) -> Generator[SyncPage, None, dict]:
    """The segments of the stored subscriptions after ``derived_after`` (those the list
    stages left underived), a page a batch; returns the state once none is left."""
    while not state.get("derived_all"):
        page = SyncPage()
        state = _derive_next(run, state, page)
        if state.get("derived_all"):
            break
        page.state = dict(state)
        page.progress = progress.format(derived=state["derived"])
        yield page
    return state


def _derive_again(run: _Sync, state: dict) -> Generator[SyncPage, None, dict]:
    """The company's time zone is not the one the segments' days were cut in: derive every
    stored subscription's segments again in it (resumable: the cursor keeps the last
    subscription derived, and the old zone until the last batch); returns the state after,
    with the new zone."""
    zone = run.zone.key
    state = yield from _derive_rest(
        run, state, f"time zone now {zone}: MRR segments of {{derived}} subscriptions derived again"
    )
    state = {k: v for k, v in state.items() if k not in BACKFILL_KEYS}
    state["time_zone"] = zone
    yield SyncPage(state=state, progress=f"MRR segments now in {zone}")
    return state


def _sweep(run: _Sync, state: dict) -> Iterator[SyncPage]:
    """After a full resync stored everything Stripe lists: remove what it stored before and
    Stripe no longer lists (SWEPT), a page per kind and thousand objects; the cursor holds
    the kind and the last id swept."""
    cutoff = dt.datetime.fromtimestamp(state["since"] - SWEEP_MARGIN_S, dt.UTC)
    swept = state.get("swept", 0)
    while state.get("sweep_kind", 0) < len(SWEPT):
        kind, dataset = SWEPT[state.get("sweep_kind", 0)]
        gone = stored_source_objects(
            kind, after=state.get("sweep_after"), limit=1000, written_before=cutoff
        )
        if not gone:
            state = {**state, "sweep_kind": state.get("sweep_kind", 0) + 1, "sweep_after": None}
            continue
        ids = [o["external_id"] for o in gone]
        page = SyncPage(source_objects={kind: [SourceObject(i, None) for i in ids]})
        if dataset:
            page.deleted[dataset] = ids
        if kind == "subscription":
            vanished = {i: {"id": i, "customer": "", "status": "canceled"} for i in ids}
            derived = run.segments_page(vanished)
        elif kind == "invoice":
            parents = run.stored("subscription", (o["parent"] for o in gone))
            derived = run.segments_page(parents, gone_invoices=frozenset(ids))
        else:
            derived = None
        if derived is not None:
            page.records.update(derived.records)
            page.deleted.update(derived.deleted)
            page.source_objects.update(derived.source_objects)
        swept += len(ids)
        state = {**state, "sweep_after": ids[-1], "swept": swept}
        page.state = dict(state)
        page.progress = f"full resync: {swept} objects Stripe no longer has removed"
        yield page


def _retrieve(run: _Sync, resource: str, object_id: str) -> dict | None:
    params = {"expand": ["discounts"]} if resource in ("subscriptions", "invoices") else {}
    try:
        return api.call(
            run.client, f"/v1/{resource}/{object_id}", f"{resource} {object_id}", **params
        )
    except Missing:
        return None


def _oldest_event_since(run: _Sync, since: int) -> dict | None:
    oldest = None
    for events, _after, _more in api.pages(
        run.client, "/v1/events", "events", None, types=EVENT_TYPES, created={"gte": since}
    ):
        if events:
            oldest = events[-1]
    return oldest


def _events(run: _Sync, state: dict) -> Iterator[SyncPage]:
    while True:
        if state.get("cursor"):
            page = api.call(
                run.client,
                "/v1/events",
                "events",
                limit=api.PAGE_SIZE,
                ending_before=state["cursor"],
                types=EVENT_TYPES,
            )
            events, more = list(reversed(page.get("data") or [])), bool(page.get("has_more"))
        else:
            first = _oldest_event_since(run, state["since"])
            events, more = ([first], True) if first else ([], False)
        if not events:
            # The feed read to its end: nothing after the cursor can have expired unseen.
            yield SyncPage(state={**state, "cursor_at": int(time.time())}, progress="no change")
            return
        page = _apply(run, events)
        read_to_end = int(time.time()) if not more else events[-1]["created"]
        state = {**state, "cursor": events[-1]["id"], "cursor_at": read_to_end}
        page.state = state
        page.progress = f"events: {len(events)} applied, up to {events[-1]['id']}"
        yield page
        if not more:
            return


# Event type prefix -> the resource whose object is re-fetched.
RESOURCE_OF = {
    "customer.subscription.": "subscriptions",
    "customer.": "customers",
    "invoice_payment.": "invoice_payments",
    "invoice.": "invoices",
    "charge.": "charges",
    "refund.": "refunds",
    "credit_note.": "credit_notes",
    "price.": "prices",
}
KIND_OF = {
    "subscriptions": "subscription",
    "invoices": "invoice",
    "invoice_payments": "invoice_payment",
    "charges": "charge",
    "refunds": "refund",
    "credit_notes": "credit_note",
    "prices": "price",
}


def _apply(run: _Sync, events: list[dict]) -> SyncPage:
    """One page of events: the objects they name fetched again (payloads are rendered in the
    API version of their time), and the records derived from them."""
    wanted: dict[str, set[str]] = {}
    deleted_customers = []
    for event in events:
        obj = (event.get("data") or {}).get("object") or {}
        if event["type"] == "customer.deleted":
            deleted_customers.append(obj.get("id"))
            continue
        resource = next((r for p, r in RESOURCE_OF.items() if event["type"].startswith(p)), None)
        if resource and obj.get("id"):
            wanted.setdefault(resource, set()).add(obj["id"])
            if resource == "charges" and event["type"] == "charge.refunded":
                for refund in (obj.get("refunds") or {}).get("data") or []:
                    wanted.setdefault("refunds", set()).add(refund["id"])
    fetched: dict[str, dict[str, dict]] = {}
    for resource, ids in wanted.items():
        fetched[resource] = {}
        for object_id in sorted(ids):
            found = _retrieve(run, resource, object_id)
            if found is not None:
                fetched[resource][object_id] = found
    fresh = {KIND_OF[r]: objs for r, objs in fetched.items() if r in KIND_OF}
    page = SyncPage(records={}, deleted={}, source_objects={})
    try:
        _records_of(run, page, wanted, fetched, fresh, deleted_customers)
    except mapping.Malformed as exc:
        raise SyncFailed(f"Stripe sent a malformed object: {exc}.") from None
    return page


def _records_of(run, page: SyncPage, wanted, fetched, fresh, deleted_customers) -> None:
    customers = fetched.get("customers", {})
    missing = wanted.get("customers", set()) - set(customers)
    if customers:
        page.records["customers"] = [mapping.customer(c) for c in customers.values()]
        page.source_objects["customer"] = [SourceObject(c, {"id": c}) for c in customers]
    if deleted_customers or missing:
        page.deleted["customers"] = sorted({*deleted_customers, *missing} - {None})
        page.source_objects["customer"] = [
            *page.source_objects.get("customer", []),
            *(SourceObject(c, None) for c in page.deleted["customers"]),
        ]
    if prices := fetched.get("prices"):
        if run._prices is not None:
            run._prices.update(prices)
        names = run.stored("product", (mapping._id(p.get("product")) for p in prices.values()))
        page.records["plans"] = [
            mapping.plan(p, (names.get(mapping._id(p.get("product"))) or {}).get("name", ""))
            for p in prices.values()
            if p.get("recurring")
        ]
        page.source_objects["price"] = [SourceObject(i, p) for i, p in prices.items()]
        run.prices().update(prices)
    for kind, parent_of in (
        ("invoice", mapping.parent_subscription),
        ("invoice_payment", lambda o: mapping._id((o.get("payment") or {}).get("charge"))),
        ("charge", lambda o: ""),
        ("refund", lambda o: mapping._id(o.get("charge"))),
        ("credit_note", lambda o: mapping._id(o.get("invoice"))),
    ):
        if objs := fresh.get(kind):
            page.source_objects[kind] = [SourceObject(i, o, parent_of(o)) for i, o in objs.items()]
    payments = []
    charges = dict(fresh.get("charge", {}))
    # A new invoice payment names the charge it was made with: that payment's record changes.
    paid_charges = {
        mapping._id((p.get("payment") or {}).get("charge"))
        for p in fresh.get("invoice_payment", {}).values()
    } - set(charges)
    charges.update(run.stored("charge", paid_charges))
    for cid in paid_charges - set(charges):
        found = _retrieve(run, "charges", cid)
        if found is not None:
            charges[cid] = found
            page.source_objects.setdefault("charge", []).append(SourceObject(cid, found))
    if charges:
        payments += run.payments_of_charges(list(charges.values()), fresh)
    if refunds := fresh.get("refund"):
        payments += run.payments_of_refunds(list(refunds.values()), fresh)
    if payments:
        page.records["payments"] = payments
    subs = dict(fetched.get("subscriptions", {}))
    gone_subs = wanted.get("subscriptions", set()) - set(subs)
    if subs:
        page.records["subscriptions"] = [mapping.subscription(s) for s in subs.values()]
        page.source_objects["subscription"] = [
            SourceObject(i, s, mapping._id(s.get("customer"))) for i, s in subs.items()
        ]
    if gone_subs:
        page.deleted["subscriptions"] = sorted(gone_subs)
    touched = {mapping.parent_subscription(i) for i in fresh.get("invoice", {}).values()}
    touched -= set(subs) | {""}
    subs.update(run.stored("subscription", touched))
    if subs or gone_subs:
        # A subscription gone from Stripe keeps no segment: derived from nothing.
        vanished = {s: {"id": s, "customer": "", "status": "canceled"} for s in gone_subs}
        derived = run.segments_page({**subs, **vanished}, fresh.get("invoice"))
        page.records["mrr_segments"] = derived.records["mrr_segments"]
        page.deleted.update(derived.deleted)
        page.source_objects["segment_ids"] = derived.source_objects["segment_ids"]


class StripeConnector(Connector):
    def check(self, config: dict) -> None:
        run = _Sync(config)
        try:
            api.call(run.client, "/v1/customers", "customers", limit=1)
        except MalformedAnswer as exc:
            raise SyncFailed(str(exc)) from None

    def sync(self, config: dict, state: dict) -> Iterator[SyncPage]:
        run = _Sync(config)
        try:
            if state.get("mode") == "events":
                if state.get("cursor_at", 0) < time.time() - RESYNC_AFTER_S:
                    # Stripe no longer has every event after the cursor: list everything again.
                    state = {"resync": True}
                    yield SyncPage(state=state, progress="cursor older than 30 days: full resync")
                else:
                    if state.get("time_zone", "UTC") != run.zone.key:
                        state = yield from _derive_again(run, state)
                    yield from _events(run, state)
                    return
            yield from _backfill(run, state)
        except (MalformedAnswer, CredentialsRejected) as exc:
            if isinstance(exc, CredentialsRejected):
                raise
            raise SyncFailed(str(exc)) from None

    def verify_webhook(self, config: dict, body: bytes, headers: dict[str, str]) -> str:
        secret = config.get("webhook_secret")
        if not secret:
            raise WebhookRejected("This connection has no webhook signing secret set.")
        signature = headers.get("stripe-signature", "")
        try:
            event = stripe.Webhook.construct_event(body, signature, secret, tolerance=300)
        except stripe.SignatureVerificationError:
            raise WebhookRejected(
                "The Stripe-Signature header does not match this connection's signing secret."
            ) from None
        except ValueError:
            raise WebhookRejected("The webhook body is not a Stripe event.") from None
        return event.id


@hookimpl
def register_connectors() -> list[Connector]:
    return [
        StripeConnector(
            key="stripe",
            name="Stripe",
            accepts_webhooks=True,
            # The demo company's billing: the generator's company, served by the sandbox with
            # its default key.
            demo=DemoSandbox(
                sandbox="kpiplatform_stripe.sandbox",
                generator="kpiplatform_stripe.sandbox.generate",
                address_variable="KPI_STRIPE_API_BASE",
                connection_config=lambda seed_dir: {
                    "api_key": DEMO_KEY,
                    "webhook_secret": "whsec_demo_sandbox",
                },
                generator_args=("--customers", str(DEMO_CUSTOMERS)),
            ),
            config_fields=(
                ConfigField(
                    "api_key",
                    "Secret API key",
                    kind="secret",
                    help_text="A secret key (sk_live_...) or a restricted key with read access.",
                ),
                ConfigField(
                    "webhook_secret",
                    "Webhook signing secret",
                    kind="secret",
                    required=False,
                    help_text="whsec_... of the endpoint you add in Stripe for this connection's "
                    "webhook address: changes then arrive within seconds.",
                ),
            ),
        )
    ]
