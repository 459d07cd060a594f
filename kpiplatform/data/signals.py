"""Signals of the data app. Apps above it (kpis) listen; data never imports them."""

from django.dispatch import Signal

# Sent after canonical records were written, with ``changes`` (kpiplatform.sdk.DatasetChanges)
# and ``schema_name``. The KPI engine schedules a recompute of what the changes touch.
data_changed = Signal()

# Sent with ``schema_name`` when a run of writes is complete (a sync that wrote its last
# page): nothing more joins it, so the recompute of its changes need not wait to coalesce.
writes_finished = Signal()
