"""Platform-wide periodic work."""

from __future__ import annotations

import time

from django_tenants.utils import schema_context

from kpiplatform.celery import fan_out_tasks, platform_task
from kpiplatform.tenants import provisioning
from kpiplatform.tenants.models import Company


@platform_task(name="kpiplatform.tenants.tasks.refill_signup_pool")
def refill_signup_pool() -> int:
    return provisioning.fill_pool()


@platform_task(name="kpiplatform.tenants.tasks.tick")
def tick(minute: int | None = None) -> int:
    """Find due work across companies and fan it out; return how many company tasks were sent.

    ``minute`` counts minutes since the epoch (now by default). A company task declared with
    ``fan_out_minutes=N`` is due when ``minute`` is a multiple of N (and then sent to the
    companies its ``fan_out_to`` picks, or to every active one); beat ticks once a minute,
    so a drifting tick may occasionally skip one run, which only delays housekeeping.
    """
    refill_signup_pool.delay()
    if minute is None:
        minute = int(time.time() // 60)
    due = [task for task in fan_out_tasks() if minute % task.fan_out_minutes == 0]
    if not due:
        return 0
    sent = 0
    companies = list(
        Company.objects.filter(state=Company.State.ACTIVE)
        .exclude(schema_name="public")
        .order_by("schema_name")
        .values_list("schema_name", flat=True)
    )
    for task in due:
        targets = task.fan_out_to(companies) if task.fan_out_to else companies
        for schema_name in targets:
            # Enqueued inside the company's schema: tenant-schemas-celery puts it in the
            # header, and the worker runs the task there.
            with schema_context(schema_name):
                task.apply_async()
            sent += 1
    return sent
