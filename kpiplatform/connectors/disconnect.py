"""Disconnecting a source: the connection and its runs go; what it brought stays or goes.

- **Keep** (``keep_data=True``): the records stay in their datasets, still under the
  connection's source, and the KPIs keep counting them.
- **Delete** (``keep_data=False``): every record of the connection's source is removed from
  every dataset (tombstones too), in the same transaction as the connection, and the KPIs
  those records touched are recomputed (the writer records the changes, as for any write).

Both take the connection's sync lease first, so no sync writes while the connection goes and
none starts after: a disconnect while a sync runs is refused, with a message.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction

from kpiplatform.connectors import sync
from kpiplatform.connectors.models import Connection
from kpiplatform.data.models import DATASETS
from kpiplatform.data.writer import BulkWriter


class SyncRunning(RuntimeError):
    """A sync of the connection is running: it cannot be disconnected now."""


@dataclass
class Disconnected:
    source: str
    keep_data: bool
    deleted: dict[str, int] = field(default_factory=dict)  # dataset -> live records removed


def disconnect(connection: Connection, *, keep_data: bool) -> Disconnected:
    with sync.lease(connection.pk) as taken:
        if not taken:
            raise SyncRunning(
                "A sync of this connection is running: wait for it to finish, then disconnect."
            )
        result = Disconnected(source=connection.source, keep_data=keep_data)
        with transaction.atomic():
            if not keep_data:
                writer = BulkWriter(connection.source)
                for dataset in DATASETS:
                    if removed := writer.purge(dataset).live:
                        result.deleted[dataset] = removed
            Connection.objects.filter(pk=connection.pk).delete()
    return result
