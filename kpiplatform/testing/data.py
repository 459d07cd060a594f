"""Loading canonical records in tests, the way an import would.

One function, so that tests switch to the import API by changing it alone.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from typing import Any

from django.db import connection
from django.utils import timezone

from kpiplatform.data.models import DATASETS
from kpiplatform.data.signals import data_changed
from kpiplatform.sdk import DatasetChanges


def load_records(
    dataset: str, records: Iterable[dict[str, Any]], source: str = "import"
) -> DatasetChanges:
    """Write ``records`` of ``dataset`` into the current company's schema and announce the
    change (``data_changed``) as the import does. Records without ``external_id`` get one."""
    model = DATASETS[dataset]
    now = timezone.now()
    rows = []
    for record in records:
        fields = {"source": source, "updated_at": now, **record}
        fields.setdefault("external_id", uuid.uuid4().hex)
        rows.append(model(**fields))
    model.objects.bulk_create(rows)
    changes = DatasetChanges()
    days = [_day(getattr(row, model.date_field)) for row in rows if model.date_field]
    days = [day for day in days if day is not None]
    if days:
        changes.add(dataset, min(days), max(days))
    elif rows:
        today = timezone.now().date()
        changes.add(dataset, today, today)
    if rows:
        data_changed.send(sender=model, changes=changes, schema_name=connection.schema_name)
    return changes


def _day(value) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return value
