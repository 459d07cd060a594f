"""Running a connection's sync: one at a time, page by page, resumable from its cursor.

A sync is a :class:`SyncRun`, created queued by "sync now" or the schedule; the company task
``sync_connection`` (given the connection's id only, never its secrets) runs it:

- **One at a time.** The task holds a PostgreSQL advisory lock of the connection for the
  whole run, in its database session: a second task for the same connection finds it taken
  and leaves, and a worker that dies gives it back with its session. At most one run per
  connection is queued or running (a partial unique index), so a second "sync now" joins it.
- **Page by page.** The connector's ``sync`` yields :class:`~kpiplatform.sdk.SyncPage`
  objects; its code runs through the plugin manager, under the company's read-only role.
  Each page is then written by the platform (the bulk writer, as the platform's own database
  user) in one transaction with the cursor after it and the run's counts, so a worker killed
  anywhere resumes, on redelivery, from the last stored page: nothing lost, nothing twice.
- **Not while disconnecting.** A connection being disconnected with its data (a
  :class:`Disconnection`, ``disconnect.py``) starts no sync: "sync now", webhooks and the API
  are refused with :class:`Disconnecting`, the schedule skips it, and a run queued before it
  was asked for is canceled.
- **Failures in words.** An exception of the connector or a record the writer refuses fails
  the run with the reason and leaves the pages before it stored; ``CredentialsRejected``
  marks the connection "needs new credentials" (no scheduled sync until they change).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Iterator

from celery.exceptions import SoftTimeLimitExceeded
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from psycopg import sql

from kpiplatform.connectors import source_objects
from kpiplatform.connectors.models import Connection, Disconnection, SyncRun
from kpiplatform.connectors.secrets import SecretsUnreadable
from kpiplatform.data.signals import writes_finished
from kpiplatform.data.writer import BulkWriter, WriteError
from kpiplatform.kpis.models import CompanySettings
from kpiplatform.plugins import registry
from kpiplatform.plugins.manager import describe
from kpiplatform.sdk import Connector, CredentialsRejected, SyncPage

logger = logging.getLogger(__name__)

# A queued or running run not heard from for this long lost its task (a message lost with a
# broker, a worker killed past redelivery): the schedule sends the task again.
STALE_RUN = dt.timedelta(minutes=10)
# A sync refreshes the statistics of the source objects after storing this many of them
# (source_objects.analyze): about ten times in a backfill of 640,000 objects.
ANALYZE_EVERY = 50_000


class UnknownConnector(LookupError):
    """No enabled plugin of the company provides this connector."""


class Disconnecting(RuntimeError):
    """The connection is being disconnected, with its data: no sync of it starts, and it is
    no longer edited or tested (``refused``: what is refused, in words)."""

    def __init__(self, refused: str = "no sync of it starts") -> None:
        super().__init__(
            f"This connection is being disconnected and the records it brought deleted: {refused}."
        )


def refuse_while_disconnecting(connection: Connection, action: str) -> None:
    """Raise :class:`Disconnecting` when the connection is being disconnected (``action``:
    "edited", "tested")."""
    if disconnecting(connection.pk):
        raise Disconnecting(f"it can no longer be {action}")


CANCELED_BY_DISCONNECT = "Canceled: the connection is being disconnected."


def disconnecting(connection_id: int) -> bool:
    return Disconnection.objects.filter(connection_id=connection_id).exists()


def connector_for(key: str) -> tuple[str, Connector]:
    """(plugin name, connector) of ``key`` among the company's enabled plugins."""
    entry = registry.connectors().get(key)
    if entry is None:
        raise UnknownConnector(
            f"No enabled plugin provides the connector {key!r}; "
            f"available: {', '.join(sorted(registry.connectors())) or 'none'}."
        )
    return entry


def check(connection: Connection) -> tuple[bool, str]:
    """Test the connection's credentials with the connector's ``check``: (ok, what is wrong).

    A refusal of the credentials marks the connection so; a success clears that mark.
    """
    plugin, connector = connector_for(connection.connector)
    call = registry.call_plugin(
        plugin, connector.check, connection.full_config(), hook=f"check:{connection.connector}"
    )
    if call.ok:
        if connection.health == Connection.Health.NEEDS_CREDENTIALS:
            _set_health(connection, Connection.Health.OK, "")
        return True, ""
    if isinstance(call.exception, CredentialsRejected):
        _set_health(connection, Connection.Health.NEEDS_CREDENTIALS, str(call.exception))
        return False, str(call.exception)
    return False, call.error


def _set_health(connection: Connection, health: str, reason: str) -> None:
    Connection.objects.filter(pk=connection.pk).update(health=health, health_reason=reason)
    connection.health, connection.health_reason = health, reason


def start(connection: Connection, trigger: str = "manual") -> tuple[SyncRun, bool]:
    """Queue a sync of ``connection``: (the run, True when it joined one already on its way).

    The task is sent once the transaction commits, with the connection's id alone. Raises
    :class:`Disconnecting` when the connection is being disconnected.
    """
    from kpiplatform.connectors.tasks import sync_connection

    with transaction.atomic():
        # Locked as a disconnect locks it to mark it: one of the two comes first.
        Connection.objects.select_for_update().get(pk=connection.pk)
        if disconnecting(connection.pk):
            raise Disconnecting()
        active = connection.runs.filter(status__in=SyncRun.ACTIVE).first()
        if active is not None:
            return active, True
        run = SyncRun.objects.create(connection=connection, trigger=trigger)
        connection_id = connection.pk
        transaction.on_commit(lambda: sync_connection.delay(connection_id))
    return run, False


def time_zone_changed(sender, changed: frozenset[str], **kwargs) -> None:
    """The company's time zone changed: every connection syncs, so that connectors whose
    records hold days (MRR segments) make them again in the new zone (sdk.company_time_zone).
    Connections being disconnected or waiting for new credentials are left alone."""
    if "time_zone" not in changed:
        return
    for connection in Connection.objects.filter(disconnection__isnull=True).exclude(
        health=Connection.Health.NEEDS_CREDENTIALS
    ):
        start(connection, trigger="settings")


def start_due() -> int:
    """Queue the scheduled syncs that are due; send again the task of runs, and of disconnects,
    that lost theirs. Returns how many tasks were sent."""
    from kpiplatform.connectors.tasks import remove_connection, sync_connection

    now = timezone.now()
    sent = 0
    stale = Disconnection.objects.filter(status=Disconnection.Status.REMOVING).filter(
        Q(heartbeat_at__lt=now - STALE_RUN)
        | Q(heartbeat_at__isnull=True, asked_at__lt=now - STALE_RUN)
    )
    for removal in stale:
        Disconnection.objects.filter(pk=removal.pk).update(heartbeat_at=now)
        remove_connection.delay(removal.connection_id)
        sent += 1
    for connection in (
        Connection.objects.filter(schedule_minutes__gt=0, disconnection__isnull=True)
        .exclude(health=Connection.Health.NEEDS_CREDENTIALS)
        .select_related("disconnection")
    ):
        last = connection.runs.first()
        if last is not None and last.status in SyncRun.ACTIVE:
            if (last.heartbeat_at or last.queued_at) < now - STALE_RUN:
                SyncRun.objects.filter(pk=last.pk).update(heartbeat_at=now)
                sync_connection.delay(connection.pk)
                sent += 1
            continue
        due = next_sync_at(connection, last)
        if due is not None and due <= now:
            _run, joined = start(connection, trigger="schedule")
            sent += not joined
    return sent


def next_sync_at(connection: Connection, last: SyncRun | None) -> dt.datetime | None:
    """When the schedule next starts a sync of ``connection`` (``last``: its newest run):
    ``schedule_minutes`` after the last run began, or at once if it never ran; ``None`` when the
    schedule starts none (only when asked, credentials refused, being disconnected) or one
    is on its way. The minute's tick starts it, so it begins within a minute of this moment."""
    if connection.schedule_minutes == 0 or connection.health == Connection.Health.NEEDS_CREDENTIALS:
        return None
    if hasattr(connection, "disconnection"):
        return None
    if last is None:
        return connection.created_at  # never synced: due since it exists
    if last.status in SyncRun.ACTIVE:
        return None
    return (last.started_at or last.queued_at) + dt.timedelta(minutes=connection.schedule_minutes)


def companies_with_schedules(schema_names: list[str]) -> list[str]:
    """Those of ``schema_names`` with a connection that syncs on a schedule, or one being
    disconnected (whose task the tick may have to send again): one query."""
    found: list[str] = []
    table = sql.Identifier(Connection._meta.db_table)
    removals = sql.Identifier(Disconnection._meta.db_table)
    for start_at in range(0, len(schema_names), 200):
        query = sql.SQL(" UNION ALL ").join(
            sql.SQL(
                "SELECT {name} WHERE EXISTS (SELECT 1 FROM {schema}.{table} "
                "WHERE schedule_minutes > 0) OR EXISTS (SELECT 1 FROM {schema}.{removals} "
                "WHERE status = {removing})"
            ).format(
                name=sql.Literal(name),
                schema=sql.Identifier(name),
                table=table,
                removals=removals,
                removing=sql.Literal(Disconnection.Status.REMOVING.value),
            )
            for name in schema_names[start_at : start_at + 200]
        )
        with db_connection.cursor() as cursor:
            cursor.execute(query.as_string(cursor.connection))
            found.extend(row[0] for row in cursor.fetchall())
    return found


@contextlib.contextmanager
def lease(connection_id: int) -> Iterator[bool]:
    """The connection's advisory lock in this database session, if free (True)."""
    key = f"kpiplatform.connectors.sync:{db_connection.schema_name}:{connection_id}"
    with db_connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(hashtext(%s))", [key])
        (taken,) = cursor.fetchone()
    try:
        yield taken
    finally:
        if taken:
            with db_connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(hashtext(%s))", [key])


def run(connection_id: int) -> str:
    """Run the queued or running sync of the connection (the task's body); say what happened."""
    with lease(connection_id) as taken:
        if not taken:
            return "busy: another task is running this connection's sync"
        with transaction.atomic():
            connection = Connection.objects.select_for_update().filter(pk=connection_id).first()
            if connection is None:
                return "gone: the connection was deleted"
            sync_run = connection.runs.filter(status__in=SyncRun.ACTIVE).first()
            if sync_run is None:
                return "nothing to do: no sync of this connection is waiting"
            if disconnecting(connection_id):
                SyncRun.objects.filter(pk=sync_run.pk).update(
                    status=SyncRun.Status.FAILED,
                    ended_at=timezone.now(),
                    error=CANCELED_BY_DISCONNECT,
                )
                return "canceled: the connection is being disconnected"
            now = timezone.now()
            sync_run.status = SyncRun.Status.RUNNING
            sync_run.started_at = sync_run.started_at or now
            sync_run.heartbeat_at = now
            sync_run.save(update_fields=["status", "started_at", "heartbeat_at"])
        try:
            return _sync(connection, sync_run)
        except SoftTimeLimitExceeded:
            _fail(
                connection,
                sync_run,
                "Stopped at the task's time limit; the next sync continues from the last "
                "stored page.",
            )
            raise
        except Exception as exc:
            # Ours, not the connector's (it would have been caught as a plugin failure): the
            # run says so rather than staying "running" until the schedule sends it again.
            with contextlib.suppress(Exception):
                _fail(connection, sync_run, f"The sync stopped on an error: {describe(exc)}")
            raise


def _sync(connection: Connection, sync_run: SyncRun) -> str:
    try:
        plugin, connector = connector_for(connection.connector)
        config = connection.full_config()
    except (UnknownConnector, SecretsUnreadable) as exc:
        return _fail(connection, sync_run, str(exc))
    hook = f"sync:{connection.connector}"
    # Wrapped in a list so the manager keeps the generator instead of consuming it.
    call = registry.call_plugin(
        plugin, lambda: [iter(connector.sync(config, dict(connection.state)))], hook=hook
    )
    if not call.ok:
        return _failed_call(connection, sync_run, call)
    pages = call.value[0]
    writer = BulkWriter(connection.source)
    time_zone = CompanySettings.current().time_zone
    stored_since_analyze = 0
    while True:
        with source_objects.reading_for(connection.pk, time_zone):
            call = registry.call_plugin(plugin, next, pages, None, hook=hook)
        if not call.ok:
            return _failed_call(connection, sync_run, call)
        page = call.value
        if page is None:
            break
        if not isinstance(page, SyncPage):
            return _fail(
                connection,
                sync_run,
                f"The connector yielded {type(page).__name__}, not a SyncPage.",
            )
        if problem := _malformed(page):
            return _fail(connection, sync_run, f"Page {sync_run.pages + 1}: {problem}")
        try:
            stored_since_analyze += _store(connection, sync_run, writer, page)
        except WriteError as exc:
            return _fail(
                connection,
                sync_run,
                f"Page {sync_run.pages + 1} was refused, nothing of it stored: {exc}",
            )
        if stored_since_analyze >= ANALYZE_EVERY:
            source_objects.analyze()
            stored_since_analyze = 0
    SyncRun.objects.filter(pk=sync_run.pk).update(
        status=SyncRun.Status.SUCCEEDED, ended_at=timezone.now(), error=""
    )
    _set_health(connection, Connection.Health.OK, "")
    if sync_run.pages:
        # No page follows: what the sync wrote is recomputed now, not after the delay.
        writes_finished.send(sender=BulkWriter, schema_name=db_connection.schema_name)
    # A webhook that joined this run may have come after it read the upstream's changes, and
    # the time zone may have changed after the run read it: one more sync picks them up.
    if connection.webhook_events.filter(received_at__gte=sync_run.started_at).exists():
        start(connection, trigger="webhook")
    elif CompanySettings.current().time_zone != time_zone:
        start(connection, trigger="settings")
    return f"succeeded: {sync_run.pages} pages"


def _malformed(page: SyncPage) -> str:
    """What is wrong with the shape of a page the connector yielded ("" if nothing)."""
    if not isinstance(page.records, dict) or not all(
        isinstance(records, list) and all(isinstance(r, dict) for r in records)
        for records in page.records.values()
    ):
        return "the connector's records are not {dataset: [record, ...]}."
    if not isinstance(page.deleted, dict) or not all(
        isinstance(ids, list) for ids in page.deleted.values()
    ):
        return "the connector's deleted ids are not {dataset: [external id, ...]}."
    if not isinstance(page.state, dict):
        return "the connector's cursor (state) is not a dict."
    return source_objects.problem(page)


def _store(connection: Connection, sync_run: SyncRun, writer: BulkWriter, page: SyncPage) -> int:
    """Write one page, its cursor and the run's counts in one transaction; returns how many
    source objects it stored.

    The commit does not wait for its WAL to reach the disk (``synchronous_commit`` off for
    this transaction alone): a database crash may then lose the last pages committed, but
    always with their cursor, so the sync writes them again, and any later commit that waits
    (a recompute storing KPI values) flushes them first. A backfill commits hundreds of
    pages."""
    counts = sync_run.counts
    stored = 0
    with transaction.atomic():
        with db_connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO off")
        for dataset, records in page.records.items():
            entry = counts.setdefault(dataset, {"read": 0, "written": 0, "deleted": 0})
            entry["read"] += len(records)
            entry["written"] += writer.upsert(dataset, records)
        for dataset, external_ids in page.deleted.items():
            entry = counts.setdefault(dataset, {"read": 0, "written": 0, "deleted": 0})
            entry["deleted"] += writer.delete(dataset, external_ids)
        if page.source_objects:
            stored = source_objects.store(connection.pk, page.source_objects)
        Connection.objects.filter(pk=connection.pk).update(state=page.state)
        sync_run.pages += 1
        sync_run.progress = page.progress[:500]
        sync_run.heartbeat_at = timezone.now()
        SyncRun.objects.filter(pk=sync_run.pk).update(
            pages=F("pages") + 1,
            counts=counts,
            progress=sync_run.progress,
            heartbeat_at=sync_run.heartbeat_at,
        )
    connection.state = page.state
    return stored


def _failed_call(connection: Connection, sync_run: SyncRun, call: registry.PluginCall) -> str:
    if isinstance(call.exception, CredentialsRejected):
        reason = str(call.exception) or "The upstream refused the credentials."
        return _fail(connection, sync_run, reason, Connection.Health.NEEDS_CREDENTIALS)
    return _fail(connection, sync_run, call.error)


def _fail(
    connection: Connection,
    sync_run: SyncRun,
    reason: str,
    health: str = Connection.Health.FAILING,
) -> str:
    SyncRun.objects.filter(pk=sync_run.pk).update(
        status=SyncRun.Status.FAILED, ended_at=timezone.now(), error=reason
    )
    _set_health(connection, health, reason)
    logger.warning("sync of connection %s failed: %s", connection.pk, reason)
    return f"failed: {reason}"
