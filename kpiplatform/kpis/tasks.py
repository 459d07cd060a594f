"""Celery tasks of the KPI engine: thin wrappers, each in the enqueuing company's schema."""

from kpiplatform.celery import tenant_task
from kpiplatform.kpis import recompute


@tenant_task(
    name="kpiplatform.kpis.tasks.recompute_pending_changes",
    # Every minute, the tick sends it again to companies whose changes wait too long.
    fan_out_minutes=1,
    fan_out_to=recompute.companies_with_stale_changes,
)
def recompute_pending_changes() -> int:
    """Recompute the KPIs and periods that the company's pending data changes touch."""
    return recompute.recompute_pending().values_stored
