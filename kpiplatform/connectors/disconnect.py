"""Disconnecting a source: the connection and its runs go; what it brought stays or goes.

- **Keep** (:func:`disconnect_keeping_data`): the records stay in their datasets, still
  under the connection's source, and the KPIs keep counting them. Immediate: only the
  connection's own rows go.
- **Delete** (:func:`disconnect_deleting_data`): every record of the connection's source is
  removed from every dataset (tombstones too), then the connection. A large source holds
  millions of rows, more than a web request may take, so the request only marks the
  connection (a :class:`Disconnection`: from then on no sync of it starts, see ``sync.py``)
  and sends the company task ``remove_connection``, whose body is :func:`remove`:

  - **Bounded transactions.** Each dataset is purged in batches of ``PURGE_BATCH`` rows
    (``BulkWriter.purge``), each committed with the progress it made (datasets done, records
    deleted), so no transaction grows with the source and the pages show the progress live.
    The writer records each batch's changes, so the KPIs they touched are recomputed, as for
    any write; the last step asks for that recompute at once.
  - **At least once.** The task acks late: a worker killed anywhere leaves the committed
    batches done, and the redelivered task carries on from there (purging what is left is
    the same purge). A task that finds the work done, or the connection gone, does nothing.
    A slice of ``SLICE_S`` seconds (one batch at least) ends by sending the task again, so a
    huge source never meets the task's time limit; the tick sends again the task of a
    removal not heard from for ``sync.STALE_RUN``.
  - **Failures in words.** An error stops the removal with its reason on the
    :class:`Disconnection` (the pages and the API show it) and what was deleted stays
    deleted; asking to delete again resumes it.

Both take the connection's sync lease first, so no sync writes while the connection goes and
none starts after: a disconnect while a sync runs is refused, with a message.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass, field

import psycopg
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import OperationalError, transaction
from django.db import connection as db_connection
from django.utils import timezone

from kpiplatform.connectors import sync
from kpiplatform.connectors.models import (
    Connection,
    Disconnection,
    SourceObject,
    SyncRun,
    WebhookEvent,
)
from kpiplatform.data.models import DATASETS
from kpiplatform.data.signals import writes_finished
from kpiplatform.data.writer import BulkWriter
from kpiplatform.plugins.manager import describe

logger = logging.getLogger(__name__)

# Rows deleted per transaction: the writer's page size, a fraction of a second of work.
PURGE_BATCH = 10_000
# A task removes for this long, then sends itself again to carry on (well within the task's
# time limit, and other companies' tasks get the worker in between).
SLICE_S = 300
# The next batch of a connection's source objects, in id order after the last batch's.
PURGE_SOURCE_OBJECTS_SQL = f"""
    WITH gone AS (
        DELETE FROM {SourceObject._meta.db_table} WHERE id IN (
            SELECT id FROM {SourceObject._meta.db_table}
            WHERE connection_id = %s AND id > %s ORDER BY id LIMIT %s
        ) RETURNING id
    )
    SELECT count(*), max(id) FROM gone
"""  # noqa: S608 (the table's name is ours; the values are parameters)
# A task that finds the connection's lease taken (a sync refusing to start, a killed
# worker's session not yet closed) tries again this much later.
BUSY_RETRY_S = 2


class SyncRunning(RuntimeError):
    """A sync of the connection is running: it cannot be disconnected now."""

    def __init__(self) -> None:
        super().__init__(
            "A sync of this connection is running: wait for it to finish, then disconnect."
        )


class AlreadyDisconnecting(RuntimeError):
    """The connection is being disconnected with its data: keeping the data is too late."""

    def __init__(self, removal: Disconnection) -> None:
        if removal.status == Disconnection.Status.FAILED:
            message = (
                "Deleting the records of this connection stopped part way: retry deleting "
                "them (its records cannot be kept any more)."
            )
        else:
            message = "This connection is already being disconnected and its records deleted."
        super().__init__(message)


@dataclass
class Disconnected:
    source: str
    keep_data: bool
    deleted: dict[str, int] = field(default_factory=dict)  # dataset -> live records removed


def disconnect_keeping_data(connection: Connection) -> Disconnected:
    """Delete the connection, its secrets, runs, source objects and webhook address; the
    records it brought stay."""
    with sync.lease(connection.pk) as taken:
        if not taken:
            raise SyncRunning()
        with transaction.atomic():
            Connection.objects.select_for_update().get(pk=connection.pk)
            removal = Disconnection.objects.filter(connection_id=connection.pk).first()
            if removal is not None:
                raise AlreadyDisconnecting(removal)
            _delete_connection(connection.pk)
    return Disconnected(source=connection.source, keep_data=True)


def disconnect_deleting_data(connection: Connection) -> Disconnection:
    """Mark the connection as being disconnected and send the task that deletes the records
    it brought, then the connection; return its :class:`Disconnection`. Asked again while it
    runs, the same one; after it failed, it resumes."""
    from kpiplatform.connectors.tasks import remove_connection

    with sync.lease(connection.pk) as taken:
        if not taken:
            raise SyncRunning()
        with transaction.atomic():
            # The row lock sync.start takes: a sync asked for now waits, then is refused.
            Connection.objects.select_for_update().get(pk=connection.pk)
            removal, created = Disconnection.objects.get_or_create(
                connection=connection, defaults={"datasets_total": len(DATASETS)}
            )
            if not created and removal.status == Disconnection.Status.REMOVING:
                return removal  # on its way already
            if not created:  # failed: resumed
                removal.status = Disconnection.Status.REMOVING
                removal.error = ""
            removal.heartbeat_at = timezone.now()
            removal.save()
            # None runs (the lease is ours): those queued or left "running" by a dead worker
            # will not, now.
            connection.runs.filter(status__in=SyncRun.ACTIVE).update(
                status=SyncRun.Status.FAILED,
                ended_at=timezone.now(),
                error=sync.CANCELED_BY_DISCONNECT,
            )
            connection_id = connection.pk
            transaction.on_commit(lambda: remove_connection.delay(connection_id))
    logger.info("connection %s: disconnecting, its records to be deleted", connection.pk)
    return removal


@dataclass(frozen=True)
class Step:
    """What one task of a removal did, and when the task should run again (None: never)."""

    said: str
    again_in_s: float | None = None


def remove(connection_id: int) -> Step:
    """The task's body: delete what the connection brought, then the connection, for at most
    ``SLICE_S`` seconds; say what happened."""
    started = time.monotonic()
    with sync.lease(connection_id) as taken:
        if not taken:
            return Step("busy: the connection's lease is taken", again_in_s=BUSY_RETRY_S)
        removal = (
            Disconnection.objects.select_related("connection")
            .filter(connection_id=connection_id)
            .first()
        )
        if removal is None:
            return Step("nothing to do: the connection is gone or not being disconnected")
        if removal.status != Disconnection.Status.REMOVING:
            return Step("nothing to do: the removal stopped on an error; waiting for a retry")
        try:
            return _remove(removal, started)
        except SoftTimeLimitExceeded:
            _fail(removal, "Stopped at the task's time limit: retry to carry on from there.")
            raise
        except OperationalError as exc:
            if not isinstance(exc.__cause__, psycopg.errors.LockNotAvailable):
                _fail_if_possible(removal, exc)
                raise
            reason = (
                f"Deleting {_where(removal)} waited more than "
                f"{settings.KPI_DISCONNECT_LOCK_TIMEOUT_S:g} s for another write of them (an "
                "import under the same source name?) and stopped. Retry once it has finished."
            )
            _fail(removal, reason)
            return Step(f"failed: {reason}")
        except Exception as exc:
            # Ours, not expected: the removal says so rather than staying "removing".
            _fail_if_possible(removal, exc)
            raise


def _remove(removal: Disconnection, started: float) -> Step:
    connection = removal.connection
    writer = BulkWriter(connection.source)
    names = list(DATASETS)
    for index in range(removal.datasets_done, len(names)):
        dataset = names[index]
        after = ""
        while True:
            with transaction.atomic():
                _bounded_waits()
                batch = writer.purge(dataset, limit=PURGE_BATCH, after=after)
                deleted = dict(removal.deleted)
                if batch.live:
                    deleted[dataset] = deleted.get(dataset, 0) + batch.live
                complete = batch.rows < PURGE_BATCH
                done = index + 1 if complete else index
                # Committed with the batch: the counts stay exact across a killed worker.
                Disconnection.objects.filter(pk=removal.pk).update(
                    deleted=deleted, datasets_done=done, heartbeat_at=timezone.now()
                )
            removal.deleted, removal.datasets_done = deleted, done
            if time.monotonic() - started > SLICE_S:
                return Step("continuing: the slice's time is up", again_in_s=0)
            if complete:
                break
            after = batch.last
    # The connection's stored upstream objects: as many as its records, in batches too.
    after_id = 0
    while True:
        with transaction.atomic(), db_connection.cursor() as cursor:
            _bounded_waits()
            cursor.execute(PURGE_SOURCE_OBJECTS_SQL, [connection.pk, after_id, PURGE_BATCH])
            removed, last_id = cursor.fetchone()
        if removed < PURGE_BATCH:
            break
        after_id = last_id
    with transaction.atomic():
        _bounded_waits()
        _delete_connection(connection.pk)  # the Disconnection row goes with it
    # Nothing more is deleted: what was is recomputed now, not after the recompute's delay.
    writes_finished.send(sender=BulkWriter, schema_name=db_connection.schema_name)
    deleted = sum(removal.deleted.values())
    logger.info("connection %s disconnected: %s records deleted", connection.pk, deleted)
    return Step(f"done: {deleted} records deleted")


def _delete_connection(connection_id: int) -> None:
    """Delete the connection with its source objects, runs, webhook address and events.

    The tables that grow with the connection's age (a Stripe account's hundreds of
    thousands of source objects, a run every few minutes, an event per webhook) are emptied
    with one statement each: the ORM's cascade would load every row into memory first (a
    project-wide ``post_delete`` receiver, django-tenants', rules out its fast delete)."""
    with db_connection.cursor() as cursor:
        for model in (SourceObject, WebhookEvent, SyncRun):
            # The table's name is ours; the id a parameter.
            query = f"DELETE FROM {model._meta.db_table} WHERE connection_id = %s"  # noqa: S608
            cursor.execute(query, [connection_id])
    Connection.objects.filter(pk=connection_id).delete()


def _bounded_waits() -> None:
    """In the current transaction, wait at most ``KPI_DISCONNECT_LOCK_TIMEOUT_S`` for a lock."""
    milliseconds = max(1, round(settings.KPI_DISCONNECT_LOCK_TIMEOUT_S * 1000))
    with db_connection.cursor() as cursor:
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [f"{milliseconds}ms"])


def _where(removal: Disconnection) -> str:
    names = list(DATASETS)
    if removal.datasets_done < len(names):
        return f"the {names[removal.datasets_done]} records"
    return "the connection itself"


def _fail_if_possible(removal: Disconnection, exc: Exception) -> None:
    """Record the error as the reason, if the database still answers (if not, the removal
    stays "removing" and the tick sends its task again)."""
    with contextlib.suppress(Exception):
        _fail(removal, f"Deleting {_where(removal)} stopped on an error: {describe(exc)}")


def _fail(removal: Disconnection, reason: str) -> None:
    Disconnection.objects.filter(pk=removal.pk).update(
        status=Disconnection.Status.FAILED, error=reason, heartbeat_at=timezone.now()
    )
    removal.status, removal.error = Disconnection.Status.FAILED, reason
    logger.warning("disconnect of connection %s failed: %s", removal.connection_id, reason)
