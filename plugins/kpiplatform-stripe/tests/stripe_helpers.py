"""What the Stripe tests do through the platform: connect, sync, read what was stored."""

from __future__ import annotations

from kpiplatform_stripe.sandbox.store import Store

from kpiplatform.connectors import sync
from kpiplatform.connectors.models import Connection, SyncRun
from kpiplatform.data.models import Customer, MrrSegment, Payment, Plan, Subscription

API_KEY = "sk_test_" + "4eC39HqLyjWDarjtT1zdp7dc"
WEBHOOK_SECRET = "whsec_" + "k9Qm2VtW8xLpZr4sN7yB"


def connect(company, *, api_key: str = API_KEY) -> int:
    response = company.client("admin").post(
        "/api/v1/connections/",
        {
            "connector": "stripe",
            "name": "Stripe",
            "config": {},
            "secrets": {"api_key": api_key, "webhook_secret": WEBHOOK_SECRET},
            "schedule_minutes": 0,
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    return response.json()["id"]


def sync_now(company, connection_id: int) -> str:
    """Queue a sync and run it as the worker's task does."""
    with company.activate():
        sync.start(Connection.objects.get(pk=connection_id))
        return sync.run(connection_id)


def last_run(company) -> SyncRun:
    with company.activate():
        return SyncRun.objects.order_by("-id").first()


def stored(company, model, **filters) -> dict[str, dict]:
    """Live (not tombstoned) records by external id."""
    with company.activate():
        return {
            row["external_id"]: row
            for row in model.objects.filter(source="stripe", deleted_at=None, **filters).values()
        }


def segments_of(company, subscription_id: str) -> list[tuple]:
    """(starts_on, ends_on, mrr_minor, currency, plan) of one subscription, in order."""
    with company.activate():
        return [
            (
                s.starts_on.isoformat(),
                s.ends_on.isoformat() if s.ends_on else None,
                s.mrr_minor,
                s.currency,
                s.plan_ref,
            )
            for s in MrrSegment.objects.filter(
                source="stripe", subscription_ref=subscription_id, deleted_at=None
            ).order_by("starts_on")
        ]


def counts(company) -> dict[str, int]:
    return {
        name: len(stored(company, model))
        for name, model in (
            ("customers", Customer),
            ("plans", Plan),
            ("subscriptions", Subscription),
            ("payments", Payment),
            ("mrr_segments", MrrSegment),
        )
    }


def expected_counts(store: Store) -> dict[str, int]:
    """What the sandbox holds, counted as the canonical datasets count it."""
    return {
        "customers": len(store.listing("customers")),
        "plans": sum(1 for p in store.listing("prices") if p["recurring"]),
        "subscriptions": len(store.listing("subscriptions")),
        "payments": len(store.listing("charges")) + len(store.listing("refunds")),
    }
