"""Celery tasks of connections: given a connection's id, never its secrets."""

from kpiplatform.celery import tenant_task
from kpiplatform.connectors import sync


@tenant_task(name="kpiplatform.connectors.tasks.sync_connection")
def sync_connection(connection_id: int) -> str:
    """Run the waiting sync of a connection (acks late: a killed worker's run is redelivered
    and resumes from its last stored page)."""
    return sync.run(connection_id)


@tenant_task(
    name="kpiplatform.connectors.tasks.start_due_syncs",
    # Every minute, to the companies with a scheduled connection; each decides what is due.
    fan_out_minutes=1,
    fan_out_to=sync.companies_with_schedules,
)
def start_due_syncs() -> int:
    return sync.start_due()
