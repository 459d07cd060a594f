"""Celery tasks of alerts: one per delivery attempt, in the company's schema."""

from kpiplatform.alerts import delivery
from kpiplatform.celery import tenant_task


@tenant_task(name="kpiplatform.alerts.tasks.deliver_notification")
def deliver_notification(delivery_id: int, attempt: int) -> str:
    """Send one alert event through one channel (attempt ``attempt``), retrying with backoff."""
    return delivery.deliver(delivery_id, attempt)
