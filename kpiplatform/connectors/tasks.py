"""Celery tasks of connections: given a connection's id, never its secrets."""

from kpiplatform.celery import tenant_task
from kpiplatform.connectors import disconnect, sync


@tenant_task(name="kpiplatform.connectors.tasks.sync_connection")
def sync_connection(connection_id: int) -> str:
    """Run the waiting sync of a connection (acks late: a killed worker's run is redelivered
    and resumes from its last stored page)."""
    return sync.run(connection_id)


@tenant_task(name="kpiplatform.connectors.tasks.remove_connection", acks_late=True)
def remove_connection(connection_id: int) -> str:
    """Delete what a connection being disconnected brought, then the connection (acks late:
    a killed worker's task is redelivered and carries on from the last committed batch).
    A slice that ran out of time, or found the connection's lease taken, sends it again."""
    step = disconnect.remove(connection_id)
    if step.again_in_s is not None:
        remove_connection.apply_async((connection_id,), countdown=step.again_in_s)
    return step.said


@tenant_task(
    name="kpiplatform.connectors.tasks.start_due_syncs",
    # Every minute, to the companies with a scheduled connection; each decides what is due.
    fan_out_minutes=1,
    fan_out_to=sync.companies_with_schedules,
)
def start_due_syncs() -> int:
    return sync.start_due()
