"""Signals of the KPI engine, for the apps above it to react to: stored values (alerts),
changed settings (connections)."""

from django.dispatch import Signal

# Sent by ``engine.compute_kpis`` in the company's schema once values are stored, with
# ``keys``: the KPIs computed (sorted). Receivers run in the recompute task: keep them cheap.
kpi_values_stored = Signal()

# Sent by ``settings_api.save_settings`` in the company's schema when company settings
# changed, with ``changed``: the names of the fields that did. Receivers run in the request,
# inside the saving transaction.
settings_changed = Signal()
