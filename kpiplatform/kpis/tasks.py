"""Celery tasks of the KPI engine: thin wrappers, each in the enqueuing company's schema."""

from kpiplatform.celery import tenant_task
from kpiplatform.kpis import engine, recompute


@tenant_task(name="kpiplatform.kpis.tasks.recompute_pending_changes")
def recompute_pending_changes() -> int:
    """Recompute the KPIs and periods that the company's pending data changes touch."""
    return recompute.recompute_pending().values_stored


@tenant_task(name="kpiplatform.kpis.tasks.recompute_all_kpis")
def recompute_all_kpis() -> int:
    """Rebuild the ledger and recompute every KPI (after a settings change)."""
    with recompute.company_recompute_lock():
        return engine.recompute_everything().values_stored
