"""Recomputing after data changes, coalesced per company.

Every write of canonical data sends ``data_changed``; the receiver records the change as a
pending row in the company's schema and, when it is the first pending one, schedules one
recompute task a few seconds later. The task takes all pending changes at once, so a sync
that writes a hundred pages triggers one recompute, not a hundred.
"""

from __future__ import annotations

import contextlib
import datetime as dt

from django.db import connection, transaction
from django.dispatch import receiver
from django_tenants.utils import schema_context

from kpiplatform.data.signals import data_changed
from kpiplatform.kpis import engine
from kpiplatform.kpis.models import PendingChange
from kpiplatform.sdk import DatasetChanges

# Seconds between the first pending change and the recompute: writes arriving meanwhile join.
COALESCE_DELAY_S = 5


@receiver(data_changed, dispatch_uid="kpis.schedule_recompute")
def schedule_recompute(sender, changes: DatasetChanges, schema_name: str, **kwargs) -> None:
    """Record ``changes`` and make sure a recompute of this company is scheduled."""
    with schema_context(schema_name):
        first = record_changes(changes)
    if first:
        transaction.on_commit(lambda: enqueue_recompute(schema_name))


def record_changes(changes: DatasetChanges) -> bool:
    """Add ``changes`` to the pending ones; True when nothing was pending before."""
    first = not PendingChange.objects.exists()
    PendingChange.objects.bulk_create(
        PendingChange(dataset=dataset, first_day=lo, last_day=hi)
        for dataset, (lo, hi) in changes.ranges.items()
    )
    return first


def enqueue_recompute(schema_name: str) -> None:
    from kpiplatform.kpis.tasks import recompute_pending_changes

    with schema_context(schema_name):
        recompute_pending_changes.apply_async(countdown=COALESCE_DELAY_S)


def take_pending_changes() -> DatasetChanges:
    """Remove and return every pending change of the current company, merged."""
    changes = DatasetChanges()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM kpis_pending_change RETURNING dataset, first_day, last_day")
        for dataset, first_day, last_day in cursor.fetchall():
            changes.add(dataset, first_day, last_day)
    return changes


@contextlib.contextmanager
def company_recompute_lock():
    """One recompute at a time per company (a session-level advisory lock)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(hashtext(current_schema() || ':kpi-recompute'))")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_unlock(hashtext(current_schema() || ':kpi-recompute'))"
            )


def recompute_pending() -> engine.ComputationReport:
    """Recompute what the pending changes of the current company touch."""
    with company_recompute_lock():
        with transaction.atomic():
            changes = take_pending_changes()
        return engine.recompute_after_changes(changes)


def pending_since() -> dt.datetime | None:
    """When the oldest pending change was recorded (None: nothing pending)."""
    oldest = PendingChange.objects.order_by("created_at").first()
    return oldest.created_at if oldest else None
