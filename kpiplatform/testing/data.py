"""Loading canonical records in tests through the real bulk writer, as connectors do."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from kpiplatform.data.writer import BulkWriter
from kpiplatform.sdk import DatasetChanges


def load_records(
    dataset: str, records: Iterable[dict[str, Any]], source: str = "import"
) -> DatasetChanges:
    """Write ``records`` of ``dataset`` into the current company's schema with the bulk writer
    (which announces the change with ``data_changed``). Records without ``external_id`` get
    one."""
    writer = BulkWriter(source)
    writer.upsert(
        dataset,
        ({"external_id": uuid.uuid4().hex, **record} for record in records),
    )
    return writer.changes
