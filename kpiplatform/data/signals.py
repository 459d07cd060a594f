"""Signals of the data app. Apps above it (kpis) listen; data never imports them."""

from django.dispatch import Signal

# Sent after canonical records were written, with ``changes`` (kpiplatform.sdk.DatasetChanges)
# and ``schema_name``. The KPI engine schedules a recompute of what the changes touch.
data_changed = Signal()
