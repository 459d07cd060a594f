"""Celery tasks of reports: thin wrappers around ``reports.delivery``, in the company schema."""

from __future__ import annotations

from kpiplatform.celery import tenant_task
from kpiplatform.reports import delivery

# Retries while the mail server is unreachable, 1, 2, 4, 8, 16 minutes apart.
MAX_RETRIES = 5


@tenant_task(name="kpiplatform.reports.tasks.send_due_reports", fan_out_minutes=5)
def send_due_reports() -> int:
    """Every five minutes, from the tick: claim the company's due reports and send them."""
    return len(delivery.claim_due_reports())


@tenant_task(
    bind=True,
    name="kpiplatform.reports.tasks.deliver_report",
    # Acknowledged when done: a worker killed mid-send has the task redelivered, and the
    # delivery's state decides what the new attempt may redo.
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=MAX_RETRIES,
)
def deliver_report(self, delivery_id: int) -> str:
    try:
        return delivery.deliver(delivery_id)
    except delivery.MailServerUnavailable as exc:
        if self.request.retries >= MAX_RETRIES:
            delivery.give_up(delivery_id, f"The mail server stayed unreachable: {exc}")
            return "failed"
        raise self.retry(countdown=60 * 2**self.request.retries) from exc
