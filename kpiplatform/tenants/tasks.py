"""Platform-wide periodic work."""

from kpiplatform.celery import platform_task
from kpiplatform.tenants import provisioning


@platform_task(name="kpiplatform.tenants.tasks.refill_signup_pool")
def refill_signup_pool() -> int:
    return provisioning.fill_pool()


@platform_task(name="kpiplatform.tenants.tasks.tick")
def tick() -> None:
    """Find due work across companies and fan it out. Later features add their due work here."""
    refill_signup_pool.delay()
