"""Recomputing after data changes: at least once, coalesced, one at a time per company.

Every write of canonical data sends ``data_changed``; the receiver records the change as a
pending row in the company's schema, inside the write's transaction, and once the write
commits makes sure a recompute task is on its way (``KPI_RECOMPUTE_DELAY_S`` later, so that
the pages of one sync join one recompute).

- **At least once.** A recompute reads the pending rows when it starts and deletes exactly
  those rows once the values they touch are stored. A recompute that dies on the way (its
  worker process killed, a time limit) leaves them behind, and the redelivered task or the
  periodic tick finds them again. The derived facts it may have refreshed before dying no
  longer say which days moved, so changes that an unfinished recompute took are recomputed
  in full.
- **Coalesced.** A company has at most one recompute task sent and not yet started (its
  schedule row); writes meanwhile join it. A schedule older than ``SCHEDULE_LOST_S`` counts
  as lost and is sent again.
- **One at a time, never waiting.** A recompute that finds its company's recompute running
  does not wait for it: it is sent again ``KPI_RECOMPUTE_DELAY_S`` later. A company thus
  holds at most one worker process and has at most one recompute in the queue, so the other
  companies' recomputes run beside it, in the order they were sent.
- **The tick** (every minute) sends the recompute of companies whose oldest pending change is
  older than ``STALE_CHANGE_S``: a lost message, a failed send, a recompute that died.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

import psycopg
from django.conf import settings
from django.db import connection, transaction
from django.dispatch import receiver
from django.utils import timezone
from django_tenants.utils import schema_context
from psycopg import sql

from kpiplatform.data.signals import data_changed, writes_finished
from kpiplatform.kpis import engine
from kpiplatform.kpis.models import PendingChange, RecomputeSchedule
from kpiplatform.sdk import DatasetChanges

logger = logging.getLogger(__name__)

# The dataset of a pending change that recomputes everything (a settings change).
EVERYTHING = "*"
# A recompute sent this long ago and not started yet counts as lost: the next write sends one.
SCHEDULE_LOST_S = 60
# The tick sends the recompute of a company whose oldest pending change is this old.
STALE_CHANGE_S = 60
_LOCK_KEY = "hashtext(current_schema() || ':kpi-recompute')"


@receiver(data_changed, dispatch_uid="kpis.schedule_recompute")
def schedule_recompute(sender, changes: DatasetChanges, schema_name: str, **kwargs) -> None:
    """Record ``changes`` and make sure a recompute of this company is on its way."""
    with schema_context(schema_name):
        record_changes(changes)
    transaction.on_commit(lambda: enqueue_recompute(schema_name))


@receiver(writes_finished, dispatch_uid="kpis.recompute_finished_writes")
def recompute_finished_writes(sender, schema_name: str, **kwargs) -> None:
    """A run of writes is complete: recompute now rather than ``KPI_RECOMPUTE_DELAY_S`` later.

    The delayed recompute already on its way still comes and finds nothing left (or what
    was written since): at least once either way."""
    transaction.on_commit(lambda: recompute_now(schema_name))


def recompute_now(schema_name: str) -> None:
    from kpiplatform.kpis.tasks import recompute_pending_changes

    with schema_context(schema_name):
        if not PendingChange.objects.exists():
            return
        try:
            recompute_pending_changes.apply_async()
        except Exception:
            logger.exception(
                "could not send the recompute of %s; the delayed one will", schema_name
            )


def record_changes(changes: DatasetChanges) -> None:
    """Add ``changes`` to the current company's pending ones (in the caller's transaction)."""
    PendingChange.objects.bulk_create(
        PendingChange(dataset=dataset, first_day=lo, last_day=hi)
        for dataset, (lo, hi) in changes.ranges.items()
    )


def record_full_recompute() -> None:
    """Add a pending change that recomputes every KPI of the current company."""
    today = timezone.now().date()
    PendingChange.objects.create(dataset=EVERYTHING, first_day=today, last_day=today)


def enqueue_recompute(schema_name: str) -> bool:
    """Send a recompute task of the company (``KPI_RECOMPUTE_DELAY_S`` later), unless one is
    already on its way; True when sent. A failed send is logged and left to the tick (the
    changes stay pending)."""
    from kpiplatform.kpis.tasks import recompute_pending_changes

    with schema_context(schema_name):
        if not _claim_schedule():
            return False
        try:
            recompute_pending_changes.apply_async(countdown=settings.KPI_RECOMPUTE_DELAY_S)
        except Exception:
            _clear_schedule()
            logger.exception("could not send the recompute of %s; the tick will", schema_name)
            return False
    return True


def _claim_schedule() -> bool:
    """Mark a recompute as sent, unless one was sent (recently) and has not started."""
    table = RecomputeSchedule._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (id, enqueued_at) VALUES (1, now()) ON CONFLICT (id) DO "
            f"UPDATE SET enqueued_at = EXCLUDED.enqueued_at WHERE {table}.enqueued_at IS NULL "
            f"OR {table}.enqueued_at < now() - make_interval(secs => %s) RETURNING id",
            [SCHEDULE_LOST_S],
        )
        return cursor.fetchone() is not None


def _clear_schedule() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {RecomputeSchedule._meta.db_table} SET enqueued_at = NULL")


@dataclass
class TakenChanges:
    """The pending changes one recompute covers."""

    ids: list[int] = field(default_factory=list)
    changes: DatasetChanges = field(default_factory=DatasetChanges)
    # Some were taken by an earlier recompute that did not finish.
    interrupted: bool = False


def take_pending_changes() -> TakenChanges:
    """Mark every pending change of the current company as taken (committed at once, so that
    a recompute that dies is seen by the next) and return them, merged."""
    taken = TakenChanges()
    table = PendingChange._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"WITH pending AS (SELECT id, taken_at FROM {table} FOR UPDATE) "
            f"UPDATE {table} p SET taken_at = now() FROM pending WHERE p.id = pending.id "
            "RETURNING p.id, p.dataset, p.first_day, p.last_day, pending.taken_at IS NOT NULL"
        )
        for change_id, dataset, first_day, last_day, taken_before in cursor.fetchall():
            taken.ids.append(change_id)
            taken.changes.add(dataset, first_day, last_day)
            taken.interrupted |= taken_before
    return taken


def delete_pending_changes(ids: Iterable[int]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {PendingChange._meta.db_table} WHERE id = ANY(%s)", [list(ids)]
        )


@contextlib.contextmanager
def company_recompute_lock():
    """Hold the current company's recompute lock for the block, without waiting: yields
    False (and holds nothing) when another recompute of the company holds it.

    The lock is a session-level advisory lock (a recompute spans many transactions). A block
    that raises ends the database session, cancelling a query left running (a time limit
    interrupts the task while it waits for one): the lock goes with the session, as it does
    when the worker process is killed (the session checks, while a query runs, that its
    worker is still there).
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT pg_try_advisory_lock({_LOCK_KEY}), "
            "set_config('client_connection_check_interval', %s, false)",
            [engine.CLIENT_CHECK_INTERVAL],
        )
        locked = cursor.fetchone()[0]
    if not locked:
        yield False
        return
    try:
        yield True
    except BaseException:
        _end_session()
        raise
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT pg_advisory_unlock({_LOCK_KEY})")


def _end_session() -> None:
    """Release what the current database session holds, whatever state it is in."""
    if connection.in_atomic_block:
        # The caller's transaction (a test's) owns the connection: release just the lock.
        with contextlib.suppress(Exception), connection.cursor() as cursor:
            cursor.execute(f"SELECT pg_advisory_unlock({_LOCK_KEY})")
        return
    raw = connection.connection
    if raw is not None and raw.info.transaction_status == psycopg.pq.TransactionStatus.ACTIVE:
        with contextlib.suppress(Exception):
            raw.cancel_safe(timeout=5)
    connection.close()


def recompute_pending() -> engine.ComputationReport:
    """Recompute what the pending changes of the current company touch. When the company's
    recompute is already running, compute nothing and come back ``KPI_RECOMPUTE_DELAY_S``
    later (the running one covers only the changes it took)."""
    _clear_schedule()  # writes from now on send a new recompute
    with company_recompute_lock() as locked:
        if not locked:
            logger.info("recompute of %s already running: retried later", connection.schema_name)
            if PendingChange.objects.exists():
                schema_name = connection.schema_name
                transaction.on_commit(lambda: enqueue_recompute(schema_name))
            return engine.ComputationReport()
        taken = take_pending_changes()
        if not taken.ids:
            return engine.ComputationReport()
        if taken.interrupted or EVERYTHING in taken.changes.ranges:
            if taken.interrupted:
                logger.warning(
                    "a recompute of %s did not finish: recomputing everything",
                    connection.schema_name,
                )
            report = engine.recompute_everything()
        else:
            report = engine.recompute_after_changes(taken.changes)
        delete_pending_changes(taken.ids)
    return report


def pending_since() -> dt.datetime | None:
    """When the oldest pending change was recorded (None: nothing pending)."""
    oldest = PendingChange.objects.order_by("created_at").first()
    return oldest.created_at if oldest else None


def companies_with_stale_changes(schema_names: list[str]) -> list[str]:
    """Those of ``schema_names`` whose oldest pending change is older than
    ``STALE_CHANGE_S`` and whose recompute is not on its way (sent in the last
    ``SCHEDULE_LOST_S``): each one's recompute is marked as sent, for the caller to send."""
    stale: list[str] = []
    for start in range(0, len(schema_names), 200):
        chunk = schema_names[start : start + 200]
        query = sql.SQL(" UNION ALL ").join(
            sql.SQL(
                "SELECT {name} WHERE EXISTS (SELECT 1 FROM {schema}.{pending} WHERE "
                "created_at < now() - make_interval(secs => {stale_s})) AND NOT EXISTS ("
                "SELECT 1 FROM {schema}.{schedule} WHERE enqueued_at >= now() - "
                "make_interval(secs => {lost_s}))"
            ).format(
                name=sql.Literal(name),
                schema=sql.Identifier(name),
                pending=sql.Identifier(PendingChange._meta.db_table),
                schedule=sql.Identifier(RecomputeSchedule._meta.db_table),
                stale_s=sql.Literal(STALE_CHANGE_S),
                lost_s=sql.Literal(SCHEDULE_LOST_S),
            )
            for name in chunk
        )
        with connection.cursor() as cursor:
            cursor.execute(query.as_string(cursor.connection))
            stale.extend(row[0] for row in cursor.fetchall())
    claimed = []
    for name in stale:
        with schema_context(name):
            if _claim_schedule():
                claimed.append(name)
    return claimed
