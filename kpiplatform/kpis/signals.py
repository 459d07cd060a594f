"""Signals of the KPI engine, for the apps above it (alerts) to react to stored values."""

from django.dispatch import Signal

# Sent by ``engine.compute_kpis`` in the company's schema once values are stored, with
# ``keys``: the KPIs computed (sorted). Receivers run in the recompute task: keep them cheap.
kpi_values_stored = Signal()
