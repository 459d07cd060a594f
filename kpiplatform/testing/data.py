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


def empty_company_tables() -> None:
    """Empty the current company's datasets, derived facts and KPI tables (its settings
    stay): tests that commit data clean up after themselves with it."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT string_agg(quote_ident(tablename), ', ') FROM pg_tables "
            "WHERE schemaname = current_schema() "
            "AND (tablename LIKE 'data\\_%%' OR tablename LIKE 'kpis\\_%%') "
            "AND tablename <> 'kpis_companysettings'"
        )
        cursor.execute(f"TRUNCATE {cursor.fetchone()[0]}")
